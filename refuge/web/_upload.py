"""Uploads encrypted into the vault as they arrive, through the vault's own add path.

A multipart body is parsed as it arrives (python-multipart's push parser, on
the event loop, a chunk at a time): each file part goes
straight into a :class:`vault.receiving.Receiver`, which hashes it, encrypts
it into the case's new blob and copies it into an unnamed spool (``O_TMPFILE``:
no name, so a server killed mid-upload leaves no plaintext behind) that intake
checks in the keyless worker when the part ends. The server's memory stays
bounded whatever the file's size; the fields (type, tags, person, language,
title, translation-of, supersedes, translator, dialect, and the last four per
file as NAME.N for the Nth file sent) are small and bounded, and may come
before or after the files. Once the body is complete the files are added with
``Vault.add_documents(stored=...)``, exactly as ``doc add`` adds them (the same
refusals per file, duplicates and new versions, audit entry); a body cut short
adds nothing and leaves nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable

from python_multipart.multipart import MultipartParser, parse_options_header

from vault.errors import InvalidInput, RefugeError
from vault.receiving import Receiver, Stored

from ._i18n import refuse

FIELDS = ("type", "tags", "person", "lang", "title", "translation_of", "date", "allow_duplicate", "supersedes",
          "translator", "dialect")
PER_FILE = ("supersedes", "translation_of", "translator", "dialect")  # also sent as NAME.N, for the Nth file (from 0)
MAX_PER_FILE = 512  # a per-file field's bytes (a document id, a translator's name)
MAX_FIELD = 4096  # a metadata field's bytes
MAX_FILES = 1000  # files in one upload
MAX_OPEN = 4  # files received but not yet judged by intake (each holds a spool, a blob writer, a thread)
UPLOAD_SECONDS = 4 * 3600  # an upload's longest time: a stored file waits for the body's end (vault.fsck.BLOB_GRACE)
STALL_SECONDS = 300  # an upload that sends nothing for this long is dropped (it held its spool and receiver for ever)


@dataclass
class Received:
    """One upload's metadata fields and its files, each stored as it arrived (or refused)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, Stored]] = field(default_factory=list)  # ("N/name" as the add names it, stored), as sent

    def close(self) -> None:
        """Close every file's spool (a message's is kept open for its attachments)."""
        for _, stored in self.files:
            stored.close()

    def discard(self, backend, case_id: str, keep: set[str] = frozenset()) -> None:
        """Delete the blobs of the files (by path) not in ``keep``: they did not become documents."""
        for path, stored in self.files:
            if path not in keep:
                stored.discard(backend, case_id)


def _safe_name(raw: str) -> str:
    """A file name with no folder part and no control characters (the vault keeps it, encrypted)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "upload"


class _Parts:
    """The callbacks of the push parser: headers, then data into a field buffer or a file's receiver."""

    def __init__(self, received: Received, start: Callable[[str], Receiver] | None,
                 refused: RefugeError | None) -> None:
        self.received = received
        self.start = start  # a receiver for a file's name; None when the add is refused whatever is sent
        self.refused = refused
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.value = bytearray()
        self.file: str | None = None  # the path the add names the current file by
        self.receiver: Receiver | None = None
        self.ending: list[tuple[int, Receiver]] = []  # files whose part ended, for :meth:`finish_first`
        self.ended = False  # the closing boundary arrived: a body cut short never adds anything

    def callbacks(self) -> dict:
        return {"on_part_begin": self.part_begin, "on_header_field": self.on_field, "on_header_value": self.on_value,
                "on_header_end": self.header_end, "on_headers_finished": self.headers_done,
                "on_part_data": self.data, "on_part_end": self.part_end, "on_end": self.end}

    def end(self) -> None:
        self.ended = True

    def part_begin(self) -> None:
        self.headers, self.value, self.file, self.receiver = {}, bytearray(), None, None

    def on_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def headers_done(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            return
        if len(self.received.files) >= MAX_FILES:
            raise refuse(InvalidInput, "at most {n} files at once", n=MAX_FILES)
        name = _safe_name(filename.decode("utf-8", "replace"))
        self.file = f"{len(self.received.files)}/{name}"
        if self.start is not None:
            while len(self.ending) >= MAX_OPEN:  # many small files in one read: finish some first, here
                self.finish_first()
            self.receiver = self.start(name)

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.file is None:
            if len(self.value) + end - start > MAX_FIELD:
                raise refuse(InvalidInput, "the field {name} is too long", name=self.name[:40])
            self.value += data[start:end]
        elif self.receiver is not None:
            self.receiver.write(memoryview(data)[start:end])  # data is the body's bytes: never changed

    def part_end(self) -> None:
        if self.file is not None:
            name = self.file.split("/", 1)[1]
            if self.receiver is not None:  # intake runs off the event loop: finish_first
                self.ending.append((len(self.received.files), self.receiver))
            self.received.files.append((self.file, Stored(name, error=self.refused)))
            self.file, self.receiver = None, None
        elif self.name in FIELDS or per_file_field(self.name):
            if self.name not in FIELDS and len(self.value) > MAX_PER_FILE:
                raise refuse(InvalidInput, "the field {name} is too long", name=self.name[:40])
            self.received.fields[self.name] = self.value.decode("utf-8", "replace").strip()

    def finish_first(self) -> None:
        """Intake's verdict on the first file whose part ended, and its blob committed or dropped."""
        i, receiver = self.ending.pop(0)
        self.received.files[i] = (self.received.files[i][0], receiver.finish())

    def close(self) -> None:
        for receiver in [r for _, r in self.ending] + [self.receiver]:
            if receiver is not None:
                receiver.abandon()
        self.ending, self.receiver = [], None


def per_file_field(name: str) -> bool:
    """Whether ``name`` is a field of one file of the upload: supersedes.0, translation_of.3..."""
    field, dot, n = name.rpartition(".")
    return bool(dot) and field in PER_FILE and n.isascii() and n.isdigit() and int(n) < MAX_FILES and n == str(int(n))


@dataclass
class Destination:
    """Where an upload's files go: the vault's backend, the case, and its current key version and recipient
    (``casekeys.current_recipient``, got once for the upload under the desk's lock)."""

    backend: object
    case_id: str
    key: tuple

    def receiver(self, name: str) -> Receiver:
        """A receiver for the next file (named "the file" in refusals, as ``doc add`` names one file)."""
        return Receiver(self.backend, self.case_id, self.key, name, "the file")


async def receive(request, to: Destination | None, refused: RefugeError | None = None) -> Received:
    """Stream a multipart upload into the vault's case ``to``, a file at a time.

    With ``to`` None (the add will be refused: ``refused`` says why), the files are read and
    dropped. The caller closes the result (:meth:`Received.close`) and discards the blobs of
    files that did not become documents (:meth:`Received.discard`); on any failure here
    nothing is left: no blob, no spool.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise refuse(InvalidInput, "an upload is a multipart form; use the page's upload form")
    received = Received()
    parts = _Parts(received, to.receiver if to is not None else None, refused)
    parser = MultipartParser(options[b"boundary"], parts.callbacks())

    def undo() -> None:  # on the finishing thread, after what it may still be doing
        parts.close()
        received.close()
        if to is not None:
            received.discard(to.backend, to.case_id)

    loop = asyncio.get_running_loop()
    # Parsing, hashing (on its own thread), encrypting and spooling run on the event loop, a chunk at a
    # time (a few ms), which measured cheaper than handing each chunk to a thread; intake runs on one.
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="refuge-upload")
    try:
        deadline = time.monotonic() + UPLOAD_SECONDS
        async for chunk in _arriving(request.stream(), deadline):
            if time.monotonic() > deadline:
                raise refuse(InvalidInput, "the upload took over {hours} hours; send fewer files at once",
                             hours=UPLOAD_SECONDS // 3600)
            parser.write(chunk)
            while parts.ending:
                await loop.run_in_executor(pool, parts.finish_first)
        parser.finalize()
        while parts.ending:
            await loop.run_in_executor(pool, parts.finish_first)
        if not parts.ended:
            raise refuse(InvalidInput, "the upload was cut short; nothing was added; try again")
    except BaseException:
        undone = loop.run_in_executor(pool, undo)
        with contextlib.suppress(BaseException):
            await asyncio.shield(undone)
        raise
    finally:
        pool.shutdown(wait=False)
    return received


async def _arriving(stream, deadline: float):
    """The body's chunks as they come, refused once none has come for :data:`STALL_SECONDS` (a client that
    stopped sending, a slow-loris body: it held its spool and receiver for as long as it liked) or, waiting,
    past ``deadline``. (asyncio.timeout around each wait: wait_for made a task a chunk, 16 us each.)"""
    while True:
        left = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(0.0, min(STALL_SECONDS, left))):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise refuse(InvalidInput, "the upload took over {hours} hours; send fewer files at once",
                             hours=UPLOAD_SECONDS // 3600) from None
            raise refuse(InvalidInput, "the upload stopped arriving; nothing was added; try again") from None
        yield chunk
