"""The STREAM payload of age files: 64 KiB chunks sealed with ChaCha20-Poly1305.

Private to :mod:`vault.age`. Chunk *i* is sealed under the payload key with the
nonce ``i`` (11 bytes, big-endian) followed by 1 for the last chunk, 0 otherwise.
"""

from __future__ import annotations

from typing import Any

from vault import _crypto
from vault._age_format import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    TAG_SIZE,
    DecryptError,
    PayloadError,
    Source,
)


def chunk_nonce(counter: int, last: bool) -> bytes:
    """The nonce of chunk ``counter`` (``last`` for the final chunk)."""
    if counter >= 1 << 88:
        raise PayloadError("payload is too long")
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """``HKDF-SHA-256(ikm=file key, salt=nonce, info="payload")``."""
    return _crypto.hkdf_sha256(file_key, nonce, b"payload")


BATCH = 16  # sealed chunks written at once (about 1 MiB): one write call, not sixteen


class StreamWriter:
    """Seals plaintext chunks and writes them, ``BATCH`` at a time; the caller decides which is last.

    Sealed chunks are written when ``BATCH`` have gathered, with the last one,
    and on :meth:`flush` (the encryptor flushes at the end of each write).
    """

    def __init__(self, key: bytes, write: Any) -> None:
        self._aead = _crypto.chacha20poly1305(key)
        self._write = write
        self._counter = 0
        self._out = bytearray(ENC_CHUNK_SIZE * BATCH)
        self._view = memoryview(self._out)
        self._used = 0
        self.finished = False

    def seal(self, chunk: bytes | bytearray | memoryview, last: bool) -> None:
        """Encrypt one chunk (full unless ``last``; empty only if the only one)."""
        size = len(chunk) + TAG_SIZE
        start = self._used
        self._aead.encrypt_into(chunk_nonce(self._counter, last), chunk, None, self._view[start:start + size])
        self._counter += 1
        self._used = start + size
        if last or self._used + ENC_CHUNK_SIZE > len(self._out):
            self.flush()
        if last:
            self.finished = True

    def flush(self) -> None:
        """Write the chunks sealed so far."""
        if self._used:
            self._write(self._view[:self._used])
            self._used = 0


class StreamReader:
    """Reads, authenticates and decrypts STREAM chunks one at a time.

    A chunk's plaintext is returned only after its tag verified. A full-size
    chunk is final only when nothing follows it, so one byte of read-ahead
    decides; data after a final chunk, a missing final chunk, an empty final
    chunk (unless the whole payload is empty) and any forgery raise
    :class:`PayloadError`.
    """

    def __init__(self, key: bytes, src: Source) -> None:
        self._aead = _crypto.chacha20poly1305(key)
        self._src = src
        self._in = bytearray(ENC_CHUNK_SIZE + 1)
        self._in_view = memoryview(self._in)
        self._have = 0
        self._out = bytearray(CHUNK_SIZE)
        self._out_view = memoryview(self._out)
        self._counter = 0
        self._done = False
        self._error: DecryptError | None = None

    def next_chunk(self) -> memoryview | None:
        """The next authenticated plaintext chunk, or None after the last one.

        The view is valid until the next call.

        Raises:
            PayloadError: On truncation, trailing data or a failed tag.
        """
        if self._error is not None:
            raise self._error
        if self._done:
            return None
        try:
            return self._next()
        except DecryptError as exc:
            self._error = exc
            raise

    def _next(self) -> memoryview:
        self._have += self._src.readinto_full(self._in_view[self._have :])
        more = self._have > ENC_CHUNK_SIZE
        size = ENC_CHUNK_SIZE if more else self._have
        if size < TAG_SIZE:
            raise PayloadError("payload is truncated")
        if not more and size == TAG_SIZE and self._counter:
            raise PayloadError("payload has an empty final chunk")
        n = size - TAG_SIZE
        try:
            self._aead.decrypt_into(
                chunk_nonce(self._counter, not more), self._in_view[:size], None, self._out_view[:n]
            )
        except _crypto.InvalidTag:
            raise PayloadError("payload chunk failed authentication") from None
        self._counter += 1
        if more:
            self._in[0] = self._in[ENC_CHUNK_SIZE]
            self._have = 1
        else:
            self._have = 0
            self._done = True
        return self._out_view[:n]
