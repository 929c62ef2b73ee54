"""Storage backends: a flat namespace of objects with four operations.

* ``put`` is create-only: it fails with :class:`ObjectExists` if the key is taken,
  so appending to a sequence is "write N; if it exists, try N+1".
* ``get`` returns a readable stream.
* ``list`` yields keys under a prefix, sorted.
* ``delete`` is used only to destroy keys (crypto-shredding) and leftovers.

Keys are ``/``-separated opaque ids; no name, reference, title or file name is
ever part of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from .errors import NotFound, RefugeError

__all__ = ["Backend", "LocalBackend", "ObjectExists", "open_backend"]


class ObjectExists(RefugeError):
    """A create-only write found its key already taken."""


class Backend(Protocol):
    """What every storage backend provides."""

    location: str

    def writer(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A writable stream; the object appears, create-only, when the block exits cleanly."""

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
        """Remove ``key`` (destroying keys and leftovers only)."""


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise ValueError(f"invalid object key {key!r}")


class LocalBackend:
    """Objects as files under a directory, written crash-safely.

    A write goes to ``.tmp/`` in the vault, is fsynced, then hard-linked into
    place (``link`` never replaces), and the directory is fsynced. A crash leaves
    at most a file in ``.tmp/``, which ``fsck --repair`` removes.
    """

    TMP = ".tmp"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root.joinpath(*key.split("/"))

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        final = self._path(key)
        tmpdir = self.root / self.TMP
        tmpdir.mkdir(mode=0o700, exist_ok=True)
        tmp = tmpdir / secrets.token_hex(12)
        f = open(tmp, "xb")
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
            f.close()
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise ObjectExists(f"object {key} already exists") from None
            _fsync_dir(final.parent)
        finally:
            f.close()
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
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def leftovers(self) -> list[str]:
        """Temporary files of writes that never completed."""
        tmpdir = self.root / self.TMP
        return sorted(p.name for p in tmpdir.iterdir()) if tmpdir.is_dir() else []

    def remove_leftover(self, name: str) -> None:
        """Remove one file listed by :meth:`leftovers`."""
        (self.root / self.TMP / name).unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_backend(location: str, **options) -> Backend:
    """Open the backend for a location: a path, or ``s3://bucket/prefix``.

    Options for S3 (ignored for a path): ``endpoint_url`` and ``region`` (given
    on the command line), ``home`` (whose remembered connection settings are
    used for what is not given; see :func:`vault.s3.connection_settings`) and
    ``part_size``.
    """
    if str(location).startswith("s3://"):
        from .s3 import S3Backend, connection_settings

        conn = connection_settings(location, options.get("home"), options.get("endpoint_url"), options.get("region"))
        extra = {"part_size": options["part_size"]} if options.get("part_size") else {}
        return S3Backend(location, conn["endpoint_url"], conn["region"], **extra)
    return LocalBackend(location)
