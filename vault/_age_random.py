"""Random access to the age encryption of a file: any byte range, any order.

Private to :mod:`vault.age`, which exports :class:`EncryptedFile`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from vault import _age_format as _fmt
from vault import _crypto
from vault._age_format import PayloadError
from vault._age_keys import new_header
from vault._stream import chunk_nonce


class EncryptedFile:
    """The age encryption of an open file of known size, readable at any offset.

    The header and payload nonce are fixed when it is made; chunk *i* of the
    payload depends only on the payload key and the plaintext of chunk *i*, so
    any byte range of the age file can be produced, and produced again, by
    encrypting the chunks it covers (read with ``os.pread``). This lets an
    upload send several parts at once, and resend one, without holding any of
    them. The caller must make sure the file does not change meanwhile.
    """

    def __init__(self, recipients: Iterable[Any], fd: int, size: int) -> None:
        """Fix the header of the encryption of ``size`` bytes read from ``fd``.

        Raises:
            TypeError, ValueError: As for :class:`vault.age.Encryptor`, or if
                ``size`` is negative.
        """
        if size < 0:
            raise ValueError("size must be >= 0")
        self.header, self._key = new_header(recipients)
        self._fd = fd
        self.plain_size = size
        self.chunks = max(1, -(-size // _fmt.CHUNK_SIZE))
        #: Size of the whole age file.
        self.size = len(self.header) + size + self.chunks * _fmt.TAG_SIZE

    def reader(self, start: int, length: int) -> _RangeReader:
        """A seekable stream of bytes ``start`` to ``start + length`` of the age file."""
        if start < 0 or length < 0 or start + length > self.size:
            raise ValueError("range outside the encrypted file")
        return _RangeReader(self, start, length)

    def _chunk(self, aead: Any, i: int) -> bytes:
        plain = os.pread(self._fd, _fmt.CHUNK_SIZE, i * _fmt.CHUNK_SIZE)
        want = min(_fmt.CHUNK_SIZE, self.plain_size - i * _fmt.CHUNK_SIZE)
        if len(plain) != want:
            raise PayloadError("the file being encrypted changed size")
        return aead.encrypt(chunk_nonce(i, i == self.chunks - 1), plain, None)


class _RangeReader(io.RawIOBase):
    """Bytes of an :class:`EncryptedFile`, encrypted as they are read (the last chunk is kept)."""

    def __init__(self, source: EncryptedFile, start: int, length: int) -> None:
        super().__init__()
        self._src = source
        self._start, self._len, self._pos = start, length, 0
        self._aead = _crypto.chacha20poly1305(source._key)
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return self._len

    def read(self, size: int = -1) -> bytes:
        # A sized read returns at most one chunk's worth (a short read, as raw streams may):
        # readers that ask for a MiB at a time then hold 64 KiB, not a MiB.
        left = self._len - self._pos
        n = left if size is None or size < 0 else min(size, left, _fmt.ENC_CHUNK_SIZE)
        out = bytearray()
        at = self._start + self._pos
        header = self._src.header
        while len(out) < n:
            if at < len(header):
                piece = header[at:at + n - len(out)]
            else:
                i, within = divmod(at - len(header), _fmt.ENC_CHUNK_SIZE)
                if self._cached is None or self._cached[0] != i:
                    self._cached = (i, self._src._chunk(self._aead, i))
                piece = self._cached[1][within:within + n - len(out)]
            if not piece:
                break
            out += piece
            at += len(piece)
        self._pos += len(out)
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


EncryptedFile.__module__ = "vault.age"
