"""Uploads streamed from the browser to a private folder, then added through the vault's own path.

A multipart body is parsed as it arrives (python-multipart's push parser):
each file part goes straight into a file of mode 600 inside a folder of mode
700 made for this upload, a chunk at a time, so the server's memory stays
bounded whatever the file's size; the fields (type, tags, person, language,
title, translation-of, supersedes, translator, dialect, and the last four per
file as NAME.N for the Nth file sent) are small and bounded. The files are then added with
``Vault.add_documents``, exactly as ``doc add`` adds them (the same intake in
the keyless worker, the same refusals per file), and the folder is removed
whatever happens.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from vault import intake
from vault.errors import InvalidInput

from ._i18n import refuse

FIELDS = ("type", "tags", "person", "lang", "title", "translation_of", "date", "allow_duplicate", "supersedes",
          "translator", "dialect")
PER_FILE = ("supersedes", "translation_of", "translator", "dialect")  # also sent as NAME.N, for the Nth file (from 0)
MAX_PER_FILE = 512  # a per-file field's bytes (a document id, a translator's name)
MAX_FIELD = 4096  # a metadata field's bytes
MAX_FILES = 1000  # files in one upload


@dataclass
class Received:
    """One upload's metadata fields and the files it streamed into its private folder."""

    folder: str
    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # paths, in the order sent
    too_large: set[str] = field(default_factory=set)

    def remove(self) -> None:
        """Remove the folder and every file in it."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _safe_name(raw: str) -> str:
    """A file name with no folder part and no control characters (the vault keeps it, encrypted)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "upload"


class _Parts:
    """The callbacks of the push parser: headers, then data into a field buffer or a private file."""

    def __init__(self, received: Received, limit: int) -> None:
        self.received = received
        self.limit = limit
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.value = bytearray()
        self.fd: int | None = None
        self.path = ""
        self.written = 0
        self.ended = False  # the closing boundary arrived: a body cut short never adds anything

    def callbacks(self) -> dict:
        return {"on_part_begin": self.part_begin, "on_header_field": self.on_field, "on_header_value": self.on_value,
                "on_header_end": self.header_end, "on_headers_finished": self.headers_done,
                "on_part_data": self.data, "on_part_end": self.part_end, "on_end": self.end}

    def end(self) -> None:
        self.ended = True

    def part_begin(self) -> None:
        self.headers, self.value, self.fd, self.written = {}, bytearray(), None, 0

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
        own = os.path.join(self.received.folder, str(len(self.received.files)))
        os.mkdir(own, 0o700)
        self.path = os.path.join(own, _safe_name(filename.decode("utf-8", "replace")))
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        self.received.files.append(self.path)

    def data(self, data: bytes, start: int, end: int) -> None:
        if self.fd is None:
            if len(self.value) + end - start > MAX_FIELD:
                raise refuse(InvalidInput, "the field {name} is too long", name=self.name[:40])
            self.value += data[start:end]
            return
        self.written += end - start
        if self.written > self.limit:  # stop writing; intake refuses it with its own words
            self.received.too_large.add(self.path)
            return
        view = memoryview(data)[start:end]
        while view:
            view = view[os.write(self.fd, view):]

    def part_end(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        elif self.name in FIELDS or per_file_field(self.name):
            if self.name not in FIELDS and len(self.value) > MAX_PER_FILE:
                raise refuse(InvalidInput, "the field {name} is too long", name=self.name[:40])
            self.received.fields[self.name] = self.value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def per_file_field(name: str) -> bool:
    """Whether ``name`` is a field of one file of the upload: supersedes.0, translation_of.3..."""
    field, dot, n = name.rpartition(".")
    return bool(dot) and field in PER_FILE and n.isascii() and n.isdigit() and int(n) < MAX_FILES and n == str(int(n))


async def receive(request, limit: int = intake.DEFAULT_LIMIT) -> Received:
    """Stream a multipart upload into a new private folder; the caller removes it (:meth:`Received.remove`)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise refuse(InvalidInput, "an upload is a multipart form; use the page's upload form")
    received = Received(tempfile.mkdtemp(prefix="refuge-upload-"))  # mode 700, only this user
    parts = _Parts(received, limit)
    parser = MultipartParser(options[b"boundary"], parts.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not parts.ended:
            raise refuse(InvalidInput, "the upload was cut short; nothing was added; try again")
    except BaseException:
        parts.close()
        received.remove()
        raise
    finally:
        parts.close()
    for path in received.too_large:  # the part was cut short: make it what intake refuses, by size
        os.truncate(path, limit + 1)
    return received
