"""ASCII armor of age files: the strict PEM-like "AGE ENCRYPTED FILE" encoding.

Private to :mod:`vault.age`. Reading is incremental (:class:`ArmorReader` wraps
a :class:`~vault._age_format.Source` and is itself read like a file), so armored
input of any size decodes in bounded memory.
"""

from __future__ import annotations

import binascii
from typing import Any

from vault._age_format import B64_CHARS, MAGIC, ArmorError, Source, write_all

ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"
_WHITESPACE = b" \t\r\n"
_ARMOR_BLOCK = 128 * 1024


def is_armored(head: bytes) -> bool:
    """Whether input starting with ``head`` (its first 1 KiB) is to be read as armor.

    Binary age files start with the magic string. Anything else whose first
    non-blank byte is ``-`` or that mentions an armor begin line is parsed as
    armor, so malformed armor is reported as :class:`ArmorError`; the rest is
    parsed as binary and fails with :class:`HeaderError`.
    """
    if MAGIC.startswith(head[: len(MAGIC)]) or head.startswith(MAGIC):
        return False
    return head.lstrip(_WHITESPACE).startswith(b"-") or b"-----BEGIN" in head


class ArmorReader:
    """Strict RFC 7468 decoder for "AGE ENCRYPTED FILE" armor, incremental.

    Accepted: whitespace before the begin line and after the end line, LF or
    CRLF line endings (one style per file), 64-column lines, a non-empty last
    line of at most 64 columns, ``=`` padding and canonical base64. Everything
    else raises :class:`ArmorError` as soon as it is seen.
    """

    def __init__(self, src: Source) -> None:
        self._src = src
        self._text = bytearray()
        self._eof = False
        self._out = b""
        self._pos = 0
        self._done = False
        self._eol = self._read_begin()
        self._line = 64 + len(self._eol)

    def _more(self) -> bool:
        if self._eof:
            return False
        data = self._src.read_exact(_ARMOR_BLOCK)
        if not data:
            self._eof = True
            return False
        self._text += data
        return True

    def _read_begin(self) -> bytes:
        while True:
            stripped = self._text.lstrip(_WHITESPACE)
            if len(stripped) != len(self._text):
                self._text = bytearray(stripped)
            if len(self._text) >= len(ARMOR_BEGIN) + 2 or not self._more():
                break
        if not self._text.startswith(ARMOR_BEGIN):
            raise ArmorError("input is neither an age file nor age ASCII armor")
        rest = self._text[len(ARMOR_BEGIN) : len(ARMOR_BEGIN) + 2]
        if rest == b"\r\n":
            eol = b"\r\n"
        elif rest[:1] == b"\n":
            eol = b"\n"
        else:
            raise ArmorError("armor begin line is malformed")
        del self._text[: len(ARMOR_BEGIN) + len(eol)]
        return eol

    def _full_lines(self, region: bytes, count: int) -> bytes:
        """Strip the line endings of ``count`` 64-column lines; validate them."""
        size = count * self._line
        eol = self._eol
        for k, ch in enumerate(eol):
            if region[64 + k : size : self._line] != bytes([ch]) * count:
                raise ArmorError("armor line has the wrong length")
        joined = region[:size].replace(eol, b"")
        if len(joined) != 64 * count:
            raise ArmorError("armor line has the wrong length")
        return joined

    def _decode(self, encoded: bytes) -> bytes:
        try:
            return binascii.a2b_base64(encoded, strict_mode=True)
        except binascii.Error:
            raise ArmorError("armor contains invalid base64") from None

    def _step(self) -> bytes:
        """Decode the next batch of lines; b"" means the armor ended."""
        while True:
            dash = self._text.find(b"-")
            if dash >= 0:
                return self._finish(dash)
            count = len(self._text) // self._line - 1  # keep one line back
            if count > 0:
                joined = self._full_lines(bytes(self._text), count)
                if b"=" in joined:
                    raise ArmorError("armor padding before the last line")
                del self._text[: count * self._line]
                return self._decode(joined)
            if not self._more():
                raise ArmorError("armor end line is missing")

    def _finish(self, dash: int) -> bytes:
        region = bytes(self._text[:dash])
        count, rem = divmod(len(region), self._line)
        encoded = self._full_lines(region, count) if count else b""
        if rem:
            last = region[count * self._line :]
            if not last.endswith(self._eol) or len(last) == len(self._eol):
                raise ArmorError("armor last line is malformed")
            encoded += last[: -len(self._eol)]
        del self._text[:dash]
        while len(self._text) < len(ARMOR_END) and self._more():
            pass
        if not self._text.startswith(ARMOR_END):
            raise ArmorError("armor end line is malformed")
        del self._text[: len(ARMOR_END)]
        while True:
            if self._text.strip(_WHITESPACE):
                raise ArmorError("unexpected data after the armor end line")
            self._text.clear()
            if not self._more():
                break
        self._done = True
        if not encoded:
            return b""
        if encoded.translate(None, B64_CHARS + b"="):
            raise ArmorError("armor contains invalid base64")
        if len(encoded) % 4:
            raise ArmorError("armor base64 padding is missing")
        data = self._decode(encoded)
        tail = encoded[-4:]
        if binascii.b2a_base64(self._decode(tail), newline=False) != tail:
            raise ArmorError("armor base64 is not canonical")
        return data

    def read(self, n: int = -1) -> bytes:
        """Decoded bytes: up to ``n`` (all when negative); b"" at the end."""
        if n < 0:
            parts = []
            while part := self.read(1 << 20):
                parts.append(part)
            return b"".join(parts)
        while self._pos >= len(self._out):
            if self._done:
                return b""
            self._out, self._pos = self._step(), 0
        end = len(self._out) if n < 0 else min(len(self._out), self._pos + n)
        data = self._out[self._pos : end]
        self._pos = end
        return data


class ArmorWriter:
    """Encodes to "AGE ENCRYPTED FILE" armor: LF endings, 64 columns, padding."""

    _BATCH = 48 * 1024  # bytes per encode; a multiple of 48 (one 64-column line)

    def __init__(self, dst: Any) -> None:
        self._dst = dst
        self._pending = bytearray()
        write_all(dst, ARMOR_BEGIN + b"\n")

    @staticmethod
    def _lines(encoded: bytes) -> bytearray:
        """Insert an LF after every 64 columns (len(encoded) % 64 == 0)."""
        count = len(encoded) // 64
        out = bytearray(count * 65)
        for col in range(64):
            out[col::65] = encoded[col::64]
        out[64::65] = b"\n" * count
        return out

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._pending += data
        if len(self._pending) >= self._BATCH:
            size = len(self._pending) - len(self._pending) % 48
            encoded = binascii.b2a_base64(self._pending[:size], newline=False)
            del self._pending[:size]
            write_all(self._dst, self._lines(encoded))

    def close(self) -> None:
        encoded = binascii.b2a_base64(self._pending, newline=False)
        self._pending.clear()
        full = len(encoded) - len(encoded) % 64
        out = self._lines(encoded[:full])
        if full < len(encoded):
            out += encoded[full:] + b"\n"
        write_all(self._dst, bytes(out) + ARMOR_END + b"\n")
