"""Documents received as a stream of chunks (a web upload), stored as the bytes arrive.

A :class:`Receiver` takes one file's bytes in the order they arrive and, for
each chunk, at once: hashes it (SHA-256, on another thread), encrypts it into
the case's new blob through the backend's writer (uncommitted: on the local
backend an unnamed file) and copies it into an unnamed plaintext spool for
intake. When the file ends, intake checks the spool in the keyless worker,
which inherits a read-only descriptor of it (the spool has no path to give);
only after its verdict is the blob committed, as ``add_documents`` commits
after intake (the blob is made durable, its fsync, while intake checks). A
refusal, a failure or a killed process stores nothing, and the spool, having
no name, vanishes with its last descriptor (Linux ``O_TMPFILE``;
where a filesystem has none, the spool is created in a private folder and
unlinked at once, so only a process killed within that instant leaves an
empty file). The result, a :class:`Stored`, is then given to
``add_documents(stored=...)``, which records the document exactly as for a
file on disk: the same duplicate and new-version rules, the same event and
audit entry. Memory is a few chunks, whatever the file's size.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import age, intake
from ._ids import random_id
from .errors import RefugeError
from .storage import open_unnamed

__all__ = ["Receiver", "Stored", "open_spool"]

_HASH_DEPTH = 8  # chunks handed to the hashing thread and not yet hashed


@dataclass
class Stored:
    """One received file: its committed blob (none if refused), what intake found, or why it was refused.

    ``spool`` stays open (read-only) for a message, whose attachments are read after the
    document is added (:attr:`path`); :meth:`close` lets it vanish.
    """

    name: str
    blob: str | None = None
    key_version: int = 0
    sha256: str = ""
    size: int = 0
    inspection: intake.Inspection | None = None
    error: RefugeError | None = None
    spool: int | None = None

    @property
    def path(self) -> str:
        """Where this process reads the received bytes while the spool is open."""
        return f"/proc/self/fd/{self.spool}" if self.spool is not None else ""

    def close(self) -> None:
        """Close the spool: the plaintext is gone."""
        if self.spool is not None:
            os.close(self.spool)
            self.spool = None

    def discard(self, backend, case_id: str) -> None:
        """Delete the committed blob of a file that did not become a document (nothing refers to it)."""
        key = f"cases/{case_id}/blobs/{self.blob}"
        if self.blob is not None and backend.exists(key):
            backend.delete(key)
        self.blob = None


def open_spool(folder: str | None = None) -> int:
    """A writable file with no name in ``folder`` (default: the temporary folder), mode 600.

    ``O_TMPFILE`` where the filesystem has it; elsewhere a file created in a new private
    folder and unlinked at once (the folder too), so that it has no name either.
    """
    where = Path(folder or tempfile.gettempdir())
    fd = open_unnamed(where, linkable=False)  # the keyless worker reads it: it must never get a name
    if fd is not None:
        return fd
    private = tempfile.mkdtemp(prefix="refuge-spool-", dir=where)  # mode 700
    path = os.path.join(private, "spool")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.unlink(path)
    finally:
        os.rmdir(private)
    return fd


class Receiver:
    """One file of a case being received: see the module's docstring.

    ``backend`` is the vault's (``v.backend``: the receiver touches nothing else of the vault,
    so it may run beside requests that use it); ``key`` the case's current key version and
    recipient (``casekeys.current_recipient``).

    ``limit`` bounds what is kept: past it the blob is dropped and the spool is cut at
    ``limit + 1`` bytes, so intake refuses the file by its size, in its own words.
    """

    def __init__(self, backend, case_id: str, key: tuple[int, age.X25519Recipient], name: str, label: str,
                 limit: int = intake.DEFAULT_LIMIT, spool_folder: str | None = None) -> None:
        self.name, self.label, self.limit = name, label, limit
        self.key_version, recipient = key  # casekeys.current_recipient(v, case_id), got once for an upload
        self.blob = random_id(15)
        self._backend = backend
        self._key = f"cases/{case_id}/blobs/{self.blob}"
        self._spool = open_spool(spool_folder)
        self._sha = hashlib.sha256()
        self._hashing = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="refuge-hash")
        self._pending: collections.deque = collections.deque()
        self._written = 0
        # Intake reads only the head of a text or a recording (by name; its verdict is the same): the
        # spool keeps that and is made as long as the file (sparse), sparing the copy of the rest.
        self._keep = intake.MIME_HEAD if intake.reads_head_only(name) else None
        self._spooled = 0  # on the second thread
        self._checking: concurrent.futures.Future | None = None  # intake's check, on the second thread
        self._found: intake.Inspection | None = None
        self._refusal: RefugeError | None = None
        self._writing = self._backend.writer(self._key, self._verdict)  # intake's verdict before the commit
        try:
            self._enc = age.Encryptor([recipient], self._writing.__enter__())
        except BaseException:
            self._drop()
            raise

    def write(self, data: bytes | memoryview) -> None:
        """The next chunk of the file (kept by reference until hashed: pass immutable bytes or views of them)."""
        if self._enc is None:
            return
        self._written += len(data)
        if self._written > self.limit:  # too large: keep nothing more; intake refuses it by size
            self._discard_blob()
            while self._pending:
                self._pending.popleft().result()
            os.ftruncate(self._spool, self.limit + 1)
            return
        while len(self._pending) >= _HASH_DEPTH:
            self._pending.popleft().result()
        self._pending.append(self._hashing.submit(self._hash_and_spool, data))
        self._enc.write(data)

    def _hash_and_spool(self, data: bytes | memoryview) -> None:
        """On the second thread (both release the GIL): hash the chunk and copy it into the spool."""
        self._sha.update(data)
        view = memoryview(data)
        if self._keep is not None:
            view = view[:max(0, self._keep - self._spooled)]
            self._spooled += len(view)
        while view:
            view = view[os.write(self._spool, view):]

    def finish(self, keep_spool: bool = False) -> Stored:
        """The file ended: intake's verdict on the spool, then the blob committed (or dropped if refused).

        Intake checks the spool on the second thread while this one seals the last chunk and
        the backend's writer makes the blob durable (its fsync); the writer asks for the
        verdict (:meth:`_verdict`) before it commits, so a refusal still stores nothing.
        ``keep_spool`` keeps the spool open for a message's attachments (see :class:`Stored`)."""
        stored = Stored(self.name, key_version=self.key_version)
        try:
            while self._pending:
                self._pending.popleft().result()  # a failed write to the spool fails the file
            stored.sha256, stored.size = self._sha.hexdigest(), self._written
            if self._keep is not None and self._written <= self.limit:
                os.ftruncate(self._spool, self._written)  # the head, then a hole: the file's own size
            self._checking = self._hashing.submit(intake.inspect_descriptor, self._spool, self.name, self.limit,
                                                  self.label)
            if self._enc is None:  # too large, the blob already dropped: intake refuses it by its size
                self._verdict()
                raise RuntimeError("the blob was dropped but intake accepted the file")  # never: the size refuses it
            self._enc.close()
            self._enc = None
            writing, self._writing = self._writing, None
            writing.__exit__(None, None, None)  # durable, then committed if intake accepted it
            stored.inspection, stored.blob = self._found, self.blob
            if keep_spool or stored.inspection.mime in intake.MAIL:
                stored.spool, self._spool = self._spool, None
            return stored
        except _Abandoned:  # intake refused the file: nothing was committed
            stored.error = self._refusal
            return stored
        finally:
            self._drop()

    def _verdict(self) -> None:
        """Intake's verdict, awaited before the blob is committed; a refusal (kept) stores nothing."""
        try:
            found = self._checking.result()
        except RefugeError as e:
            self._refusal = e
            raise _Abandoned() from None
        if found.size != self._written:
            raise RuntimeError("intake checked another size than was received")  # never: the spool is the file
        self._found = found

    def abandon(self) -> None:
        """Stop: nothing is stored, the spool vanishes."""
        self._drop()

    def _discard_blob(self) -> None:
        if self._writing is not None:
            writing, self._writing, self._enc = self._writing, None, None
            with contextlib.suppress(_Abandoned):
                writing.__exit__(_Abandoned, _Abandoned(), None)  # the writer stores nothing on an exception

    def _drop(self) -> None:
        self._hashing.shutdown(wait=True, cancel_futures=True)
        self._discard_blob()
        if self._spool is not None:
            os.close(self._spool)
            self._spool = None


class _Abandoned(RefugeError):
    """Given to the backend's writer to make it store nothing."""
