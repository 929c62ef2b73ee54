"""Storage backends: a flat namespace of objects with four operations.

* ``put`` is create-only: it fails with :class:`ObjectExists` if the key is taken,
  so appending to a sequence is "write N; if it exists, try N+1".
* ``get`` returns a readable stream.
* ``list`` yields keys under a prefix, sorted.
* ``delete`` is used only to destroy keys (crypto-shredding) and leftovers.

Keys are ``/``-separated opaque ids; no name, reference, title or file name is
ever part of one.

Backends declare what else they can do (``root``, ``region``,
``parallel_upload``...) in :class:`Backend`; callers never probe them.
:func:`open_backend` picks the backend for a location. The modules underneath:
vault/_objects.py (object keys, the create-only conflict), vault/_objectwrite.py
(how a local object's bytes reach the disk) and vault/s3.py.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Protocol

from ._objects import ObjectExists, check_key
from ._objectwrite import ObjectWrite, refusals
from .errors import InvalidInput, NotFound, VerificationFailed

__all__ = ["Backend", "LocalBackend", "ObjectExists", "check_key", "open_backend", "OutputExists", "PendingFile", "write_atomically"]


class Backend(Protocol):
    """What every storage backend provides."""

    location: str
    root: Path | None  # the folder of a local vault; None elsewhere
    region: str | None  # the cloud region (S3), None locally
    # {"mode", "days"}: S3 Object Lock retention for audit entries, set from the vault's settings; None for none
    object_lock: dict | None
    parallel_upload: bool  # whether put_ranges is there: large objects go up in parts, several at once

    def writer(self, key: str, before_commit: Callable[[], None] | None = None) -> contextlib.AbstractContextManager[BinaryIO]:
        """A writable stream; the object appears, create-only, when the block exits cleanly.

        ``before_commit()``, if given, runs after the block, once the bytes are written
        (locally: fsynced) and before the object appears; if it raises, nothing is stored.
        """

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``; raise ObjectExists if the key is taken."""

    def get(self, key: str) -> BinaryIO:
        """Open ``key`` for reading; raise NotFound if it does not exist."""

    def list(self, prefix: str) -> Iterator[str]:
        """Keys starting with ``prefix``, sorted."""

    def children(self, prefix: str) -> list[str]:
        """Names of the objects and folders directly under ``prefix`` (ending in /), sorted."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (destroying keys, leftovers and purged cases only)."""

    def put_ranges(self, key: str, size: int, reader: Callable[[int, int], BinaryIO]) -> None:
        """Create-only upload of ``size`` bytes that ``reader(start, length)`` reads again at will.

        Only where ``parallel_upload`` is true; elsewhere NotImplementedError.
        """

    def leftovers(self) -> list[str]:
        """Names of what interrupted writes left (temporary files, unfinished uploads)."""

    def remove_leftover(self, name: str) -> None:
        """Remove one leftover listed by :meth:`leftovers`."""

    def modified(self, key: str) -> float | None:
        """When ``key`` (a ``prefix/``: its newest object; ``.tmp/NAME``: a leftover) was written; None if absent."""


class LocalBackend:
    """Objects as files under a directory, written crash-safely.

    A write goes to an unnamed file (O_TMPFILE) in the object's folder (a large
    one around the page cache, as it is written: vault/_objectwrite.py), is
    fsynced, then linked into place (``link`` never replaces), and the folder is
    fsynced; a crash leaves nothing. A disk that refuses the write raises
    NotStored. Where O_TMPFILE is missing the temporary
    file is named, in ``.tmp/``, and a crash may leave it for ``fsck --repair``.
    """

    TMP = ".tmp"
    region = None
    parallel_upload = False

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        self.object_lock: dict | None = None  # S3's; a folder locks nothing

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root.joinpath(*key.split("/"))

    @contextlib.contextmanager
    def writer(self, key: str, before_commit: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
        final = self._path(key)
        tmp = None
        with refusals():
            final.parent.mkdir(parents=True, exist_ok=True)
            fd = open_unnamed(final.parent)  # Linux: a crash before the link leaves nothing at all
            if fd is None:
                tmpdir = self.root / self.TMP
                tmpdir.mkdir(mode=0o700, exist_ok=True)
                tmp = tmpdir / secrets.token_hex(12)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        out = ObjectWrite(fd)
        committed = False
        try:
            yield out
            out.finish()
            with refusals():
                os.fsync(fd)
            if before_commit is not None:  # e.g. intake's verdict, awaited while the data went to disk
                before_commit()
            with refusals():
                try:
                    if tmp:
                        os.link(tmp, final)  # link never replaces
                    else:
                        link_unnamed(fd, final)
                except FileExistsError:
                    raise ObjectExists(f"object {key} already exists") from None
            committed = True
            _fsync_dir(final.parent)  # (stored now: never "nothing was stored", whatever it says)
        finally:
            out.close(forget=committed)
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as f:
            f.write(data)

    def get(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"object {key} not found in the vault") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def children(self, prefix: str) -> list[str]:
        base = self.root.joinpath(*prefix.strip("/").split("/")) if prefix.strip("/") else self.root
        try:
            return sorted(n for n in os.listdir(base) if not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list(self, prefix: str) -> Iterator[str]:
        # Walk only the directory that can hold the prefix.
        head, _, _ = prefix.rpartition("/")
        base = self.root.joinpath(*head.split("/")) if head else self.root
        if not base.is_dir():
            return iter(())
        out = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                key = rel + name
                if not name.startswith(".") and key.startswith(prefix):
                    out.append(key)
        return iter(sorted(out))

    def delete(self, key: str) -> None:
        """Remove the file, never through a symbolic link planted for a folder of the key (see _unlink_inside)."""
        check_key(key)
        with contextlib.suppress(FileNotFoundError):
            _unlink_inside(self.root, key.split("/"))

    def put_ranges(self, key: str, size: int, reader: Callable[[int, int], BinaryIO]) -> None:
        """Not here: a local write is one stream (``parallel_upload`` is False)."""
        raise NotImplementedError("a local vault writes each object as one stream")

    def modified(self, key: str) -> float | None:
        """The file's (or folder's) modification time; None if it is not there."""
        head, _, name = key.partition("/")
        try:
            path = self.root / self.TMP / name if head == self.TMP else self._path(key.rstrip("/"))
            return os.stat(path).st_mtime
        except (OSError, ValueError):
            return None

    def leftovers(self) -> list[str]:
        """Temporary files of writes that never completed."""
        tmpdir = self.root / self.TMP
        return sorted(p.name for p in tmpdir.iterdir()) if tmpdir.is_dir() else []

    def remove_leftover(self, name: str) -> None:
        """Remove one file listed by :meth:`leftovers` (never through a link planted at ``.tmp``)."""
        _unlink_inside(self.root, [self.TMP, name])


def _unlink_inside(root: Path, parts: list[str]) -> None:
    """Unlink ``root/parts...`` with every folder below ``root`` opened from the one above it and
    never through a symbolic link (O_NOFOLLOW: no window between a check and the unlink). refuge
    makes no links; one in a vault folder was planted by someone who may write to it, and a delete
    through it would remove files of whoever runs it, wherever it points. A link as the last part
    is removed itself, which touches nothing it points to."""
    import errno

    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for k, part in enumerate(parts[:-1]):
            try:
                below = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR) or not os.path.islink(root.joinpath(*parts[:k + 1])):
                    raise
                raise VerificationFailed(f"{'/'.join(parts[:k + 1])} in the vault folder is a symbolic link, which refuge "
                                         "never makes: someone who can write to the folder planted it; nothing was "
                                         "deleted through it", hint="fsck") from None
            os.close(fd)
            fd = below
        os.unlink(parts[-1], dir_fd=fd)
    finally:
        os.close(fd)


def open_unnamed(folder: Path, *, linkable: bool = True) -> int | None:
    """A writable file with no name in ``folder`` (Linux O_TMPFILE), or None where there is none.

    Name it with :func:`link_unnamed`; if the process dies first, the file
    vanishes with it: no leftover to clean. Not ``linkable``: nothing, not even
    a process holding a descriptor of it, can ever give it a name (O_EXCL).
    """
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY | (0 if linkable else os.O_EXCL), 0o600)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):  # the filesystem has no O_TMPFILE
            return None
        raise


def link_unnamed(fd: int, path: Path | str) -> None:
    """Name a file from :func:`open_unnamed`; FileExistsError if ``path`` exists (never replaces)."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:  # a dir fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which links the open file itself
        os.link(str(fd), path, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SMALL_MOST = 1 << 20  # settings, markers, key copies, audit entries, checkpoints: refuge writes a few KiB
EVENT_MOST = 16 << 20  # an event: the largest refuge writes (a packet of hundreds of documents) are tens of KiB


def read_small(backend: Backend, key: str, most: int = SMALL_MOST) -> bytes:
    """The whole of an object that refuge writes small (an event, a marker, a key copy, an audit entry),
    read no further than ``most`` bytes: a larger one was planted by someone who writes to the storage,
    and reading it whole would let them exhaust the memory of everyone who reads the vault.

    Raises:
        NotFound: No such object.
        VerificationFailed: The object is larger than ``most`` bytes.
    """
    with backend.get(key) as f:
        data = f.read(most + 1)
    if len(data) > most:
        raise VerificationFailed(f"object {key} is larger than refuge ever writes it ({most >> 20} MiB): "
                                 "it was planted in the storage", hint="fsck")
    return data


def open_backend(location: str, **options) -> Backend:
    """Open the backend for a location: a path, or ``s3://bucket/prefix``.

    Options for S3 (ignored for a path): ``endpoint_url`` and ``region`` (given
    on the command line), ``home`` (whose remembered connection settings are
    used for what is not given; see :func:`vault.s3.connection_settings`) and
    ``part_size``.
    """
    if str(location).startswith("s3://"):
        from .s3 import S3Backend, connection_settings  # not loaded for a local vault

        conn = connection_settings(location, options.get("home"), options.get("endpoint_url"), options.get("region"))
        extra = {"part_size": options["part_size"]} if options.get("part_size") else {}
        return S3Backend(location, conn["endpoint_url"], conn["region"], **extra)
    return LocalBackend(location)


# --- files outside the vault (-o outputs) ------------------------------------------


class OutputExists(InvalidInput):
    """An output file is already there and was not to be replaced."""

    def __init__(self, message: str = "the output file already exists; nothing was written", **kw) -> None:
        kw.setdefault("hint", "force")
        super().__init__(message, **kw)


_OUTPUT = ("the output file's disk", "nothing was written", False)  # refusals() of a file outside the vault


class _Refusing:
    """A file whose writes the disk refuses raise NotStored (refusals); the rest is the file's."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def write(self, data) -> int:
        with refusals(*_OUTPUT):
            return self._f.write(data)

    def __getattr__(self, name: str):
        return getattr(self._f, name)


class PendingFile:
    """A complete, fsynced file that gets its name only at :meth:`commit`.

    On Linux it has no name at all until then (O_TMPFILE), so a process killed
    before the commit leaves nothing; a new ``path`` is then linked in one
    step. Elsewhere the ``.part`` file is named from the start and removed on
    failure.

    An existing ``path`` is never replaced unless ``replace`` is true: that is
    checked before any work (so a long build is not wasted) and again,
    atomically, by the link that names the file (so a file that appears
    meanwhile is not lost either). With ``replace`` it is replaced through a
    ``.refuge-*.part`` name that lives for an instant. ``private`` makes the
    file readable by its owner only (mode 600), as case keys must be.
    """

    def __init__(self, path: str | os.PathLike, fill, durable: bool = True, replace: bool = False,
                 private: bool = False) -> None:
        self.path = Path(path)
        self.replace = replace
        folder = self.path.parent if str(self.path.parent) else Path(".")
        if self.path.is_dir():
            raise InvalidInput("the output names a folder; give a file name")
        if not folder.is_dir():
            raise InvalidInput("the output folder does not exist; create it first")
        if not replace and os.path.lexists(self.path):
            raise OutputExists()
        self._tmp = folder / f".refuge-{secrets.token_hex(8)}.part"
        with refusals(*_OUTPUT):
            fd = open_unnamed(folder)
            self._named = fd is None
            if self._named:
                fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")
        try:
            if private:
                os.fchmod(fd, 0o600)
            fill(_Refusing(self._file))  # what the output's disk refuses, not what fill reads (the vault's)
            with refusals(*_OUTPUT):
                self._file.flush()
                if durable:
                    os.fsync(self._file.fileno())
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        """Give the file its name; OutputExists if one appeared meanwhile and ``replace`` is false.
        A close that reports a write lost (a network filesystem's deferred error) takes the name back."""
        try:
            with refusals(*_OUTPUT):
                self._name()
                try:
                    self._file.close()
                except OSError:
                    with contextlib.suppress(OSError):
                        os.unlink(self.path)
                    raise
        finally:
            self.discard()

    def _name(self) -> None:
        if not self._named:
            try:
                link_unnamed(self._file.fileno(), self.path)
                return
            except FileExistsError:
                if not self.replace:
                    raise OutputExists() from None
                link_unnamed(self._file.fileno(), self._tmp)
                self._named = True
        if self.replace:
            os.replace(self._tmp, self.path)
        else:
            try:
                os.link(self._tmp, self.path)  # never replaces
            except FileExistsError:
                raise OutputExists() from None

    def discard(self) -> None:
        """Forget the file: nothing is left."""
        with contextlib.suppress(OSError):  # bytes it could not flush (a full disk): it closes all the same
            self._file.close()
        if self._named:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._named = False


def write_atomically(path: str | os.PathLike, fill, durable: bool = True, replace: bool = False,
                     private: bool = False) -> None:
    """Write a file through ``fill(f)`` so that it appears whole or not at all, even after a SIGKILL.

    ``durable=False`` skips the fsync, for copies of what the vault keeps anyway;
    ``replace`` allows replacing an existing file (else OutputExists);
    ``private`` gives it mode 600.
    """
    PendingFile(path, fill, durable, replace, private).commit()
