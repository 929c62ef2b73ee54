"""age v1 file encryption (https://c2sp.org/age), streaming and strict.

Recipients wrap a random 16-byte file key into header stanzas; identities
unwrap it. Native types here: X25519 (``age1...`` / ``AGE-SECRET-KEY-1...``)
and scrypt passphrases. Any object with a matching ``wrap``/``unwrap`` method
works too (see :class:`Recipient` and :class:`Identity`), e.g. an identity that
lives in an agent process.

Example:
    >>> identity = X25519Identity.generate()
    >>> blob = encrypt_bytes([identity.recipient], b"statement")
    >>> decrypt_bytes([identity], blob)
    b'statement'

Streaming keeps memory bounded by a few 64 KiB chunks whatever the file size;
decryption never returns plaintext before its chunk is authenticated. Every
decryption failure is a :class:`DecryptError` subclass whose message names what
was wrong, never key material.

This module is the public face; the parts live in private modules:
``_age_format`` (errors, header, Bech32, reading source), ``_armor`` (ASCII
armor), ``_stream`` (the STREAM payload), ``_age_keys`` (file key and header
MAC), ``_age_x25519`` and ``_age_scrypt`` (the recipient types) and
``_age_random`` (:class:`EncryptedFile`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, BinaryIO, Protocol, runtime_checkable

from vault import _age_format as _fmt
from vault import _age_keys, _armor, _stream
from vault._age_format import (
    AgeError,
    ArmorError,
    DecryptError,
    HeaderError,
    HMACError,
    NoIdentityMatch,
    PayloadError,
    Stanza,
)
from vault._age_random import EncryptedFile
from vault._age_scrypt import ScryptIdentity, ScryptRecipient
from vault._age_x25519 import X25519Identity, X25519Recipient

__all__ = [
    "AgeError",
    "ArmorError",
    "DecryptError",
    "Decryptor",
    "EncryptedFile",
    "Encryptor",
    "HMACError",
    "HeaderError",
    "Identity",
    "NoIdentityMatch",
    "PayloadError",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "read_header",
]


@runtime_checkable
class Recipient(Protocol):
    """Something a file can be encrypted to."""

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap the 16-byte file key into one or more header stanzas."""
        ...


@runtime_checkable
class Identity(Protocol):
    """Something that can decrypt files addressed to it."""

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key, or None if no stanza is addressed to this identity.

        Implementations must ignore stanzas of types they do not know and raise
        :class:`HeaderError` for a malformed stanza of their own type.
        """
        ...


# --- Encryption -----------------------------------------------------------------------


class Encryptor(io.BufferedIOBase):
    """A writable stream that encrypts to age.

    The header is written by the constructor; each full 64 KiB chunk is sealed
    and written as soon as more data follows it, so at most one chunk is
    buffered. :meth:`close` seals the final chunk and must be called: until
    then the output is an incomplete file that fails to decrypt. Leaving a
    ``with`` block by an exception, or garbage collection without ``close()``,
    deliberately leaves the output incomplete (never a valid truncated file).
    ``dst`` is not closed.
    """

    def __init__(self, recipients: Iterable[Recipient], dst: BinaryIO, armor: bool = False) -> None:
        """Start an age file on ``dst``.

        Args:
            recipients: Who can decrypt; any objects with ``wrap()``.
            dst: Binary writable stream.
            armor: Write the ASCII-armored ("-----BEGIN AGE ENCRYPTED FILE-----") form.

        Raises:
            TypeError: If recipients or ``dst`` have the wrong type.
            ValueError: If there are no recipients or a scrypt recipient is
                combined with others.
        """
        super().__init__()
        self._finished = True  # until the header is out, close() writes nothing
        if not callable(getattr(dst, "write", None)):
            raise TypeError("dst must be a binary file-like object with write()")
        header, key = _age_keys.new_header(recipients)
        self._armor = _armor.ArmorWriter(dst) if armor else None
        if self._armor is not None:
            write_out = self._armor.write
        else:
            def write_out(data: bytes | bytearray | memoryview) -> None:
                _fmt.write_all(dst, data)
        write_out(header)
        self._stream = _stream.StreamWriter(key, write_out)
        self._buf = bytearray()
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Encrypt ``data``; returns ``len(data)``.

        Raises:
            ValueError: If the stream is closed.
            TypeError: If ``data`` is not a bytes-like object.
        """
        if self.closed:
            raise ValueError("write to a closed Encryptor")
        if isinstance(data, str):
            raise TypeError("Encryptor.write() needs bytes, not str")
        view = memoryview(data).cast("B")
        size = len(view)
        buf = self._buf
        if len(buf) + size <= _fmt.CHUNK_SIZE:
            buf += view
            return size
        # More than one chunk is available, so the first one is not the last.
        pos = 0
        if buf:
            pos = _fmt.CHUNK_SIZE - len(buf)
            buf += view[:pos]
            self._stream.seal(buf, last=False)
            buf.clear()
        while size - pos > _fmt.CHUNK_SIZE:
            self._stream.seal(view[pos : pos + _fmt.CHUNK_SIZE], last=False)
            pos += _fmt.CHUNK_SIZE
        self._stream.flush()  # chunks sealed in one call are written together
        buf += view[pos:]
        return size

    def close(self) -> None:
        """Seal the final chunk (and close the armor). Idempotent."""
        if self.closed:
            return
        try:
            if not self._finished:
                self._finished = True
                self._stream.seal(self._buf, last=True)
                self._buf.clear()
                if self._armor is not None:
                    self._armor.close()
        finally:
            super().close()

    def _abandon(self) -> None:
        self._finished = True
        self._buf = bytearray()
        super().close()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._abandon()
        else:
            self.close()

    def __del__(self) -> None:
        if not getattr(self, "_finished", True):
            self._abandon()


# --- Decryption -----------------------------------------------------------------------


def _open_source(src: object) -> _fmt.Source:
    source = _fmt.Source(src)
    if _armor.is_armored(source.peek(1024)):
        source = _fmt.Source(_armor.ArmorReader(source))
    return source


class Decryptor(io.BufferedIOBase):
    """A readable stream of the plaintext of an age file (binary or armored).

    The constructor reads the header, unwraps the file key and checks the
    header MAC; reads then return only authenticated plaintext, chunk by chunk.
    An error from the payload is raised by the read that reaches it and again by
    any later read. ``src`` is not closed.
    """

    def __init__(self, identities: Iterable[Identity], src: BinaryIO) -> None:
        """Open an age file for reading.

        Args:
            identities: Tried in order; any objects with ``unwrap()``.
            src: Binary readable stream positioned at the start of the file.

        Raises:
            TypeError, ValueError: On caller mistakes (no identities, wrong
                types, an identity returning a bad key).
            ArmorError: If armored input is not strict PEM.
            HeaderError: If the header is malformed or unsupported.
            NoIdentityMatch: If no identity can unwrap the file key.
            HMACError: If the header MAC does not verify.
        """
        super().__init__()
        identities = _age_keys.as_list(
            identities,
            "identity",
            "identities",
            "unwrap",
            " (parse 'AGE-SECRET-KEY-1...' with X25519Identity.from_string)",
        )
        source = _open_source(src)
        key = _age_keys.open_header(identities, source)
        self._stream = _stream.StreamReader(key, source)
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _current(self) -> memoryview | None:
        """The unread part of the current chunk; None at the end of the payload."""
        if not self._chunk:
            chunk = self._stream.next_chunk()
            if chunk is None:
                return None
            self._chunk = chunk
        return self._chunk

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        """Fill ``buffer`` with plaintext; returns 0 only at the end.

        A read that reaches a bad chunk raises, even if it had gathered some
        plaintext before it: a short read would look like the end of the file.

        Raises:
            PayloadError: If the payload is truncated or was altered.
            ArmorError: If the armor breaks after the header.
        """
        self._checkClosed()
        view = memoryview(buffer).cast("B")
        got = 0
        while got < len(view):
            chunk = self._current()
            if chunk is None:
                break
            n = min(len(view) - got, len(chunk))
            view[got : got + n] = chunk[:n]
            self._chunk = chunk[n:]
            got += n
        return got

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes of plaintext (all that remains if negative/None).

        Like :meth:`readinto`, raises rather than return a short read.

        Raises:
            PayloadError: If the payload is truncated or was altered.
            ArmorError: If the armor breaks after the header.
        """
        self._checkClosed()
        remaining = -1 if size is None or size < 0 else size
        parts = []
        while remaining and (chunk := self._current()) is not None:
            n = len(chunk) if remaining < 0 else min(remaining, len(chunk))
            parts.append(bytes(chunk[:n]))
            self._chunk = chunk[n:]
            if remaining > 0:
                remaining -= n
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """Plaintext from at most one chunk."""
        self._checkClosed()
        chunk = self._current()
        if chunk is None:
            return b""
        n = len(chunk) if size is None or size < 0 else min(size, len(chunk))
        self._chunk = chunk[n:]
        return bytes(chunk[:n])

    def readinto1(self, buffer: Any) -> int:  # type: ignore[override]
        return self.readinto(buffer)

    def _chunks(self) -> Iterable[memoryview]:
        """Remaining plaintext as views, each valid until the next is produced."""
        if self._chunk:
            yield self._chunk
            self._chunk = memoryview(b"")
        while (chunk := self._stream.next_chunk()) is not None:
            yield chunk


# --- Convenience ------------------------------------------------------------------------

_COPY_BLOCK = 4 * _fmt.CHUNK_SIZE


def encrypt(
    recipients: Iterable[Recipient], src: BinaryIO, dst: BinaryIO, armor: bool = False
) -> None:
    """Encrypt everything readable from ``src`` to ``dst``.

    Raises:
        TypeError, ValueError: As for :class:`Encryptor`.
    """
    if not callable(getattr(src, "read", None)):
        raise TypeError("src must be a binary file-like object with read()")
    source = _fmt.Source(src)
    block = bytearray(_COPY_BLOCK)
    view = memoryview(block)
    encryptor = Encryptor(recipients, dst, armor=armor)
    with encryptor:
        while n := source.readinto_full(view):
            encryptor.write(view[:n])


def decrypt(identities: Iterable[Identity], src: BinaryIO, dst: BinaryIO) -> None:
    """Decrypt the age file in ``src`` (binary or armored) into ``dst``.

    Plaintext is written chunk by chunk as each is authenticated, so on a
    :class:`PayloadError` ``dst`` holds a verified prefix of the plaintext that
    must be discarded.

    Raises:
        DecryptError: A subclass naming the failure (see :class:`Decryptor`).
        TypeError, ValueError: On caller mistakes.
    """
    with Decryptor(identities, src) as decryptor:
        for chunk in decryptor._chunks():
            _fmt.write_all(dst, chunk)


def encrypt_bytes(recipients: Iterable[Recipient], data: bytes, armor: bool = False) -> bytes:
    """Encrypt ``data`` in memory.

    Raises:
        TypeError, ValueError: As for :class:`Encryptor`.
    """
    out = io.BytesIO()
    with Encryptor(recipients, out, armor=armor) as encryptor:
        encryptor.write(data)
    return out.getvalue()


def decrypt_bytes(identities: Iterable[Identity], data: bytes) -> bytes:
    """Decrypt an in-memory age file (binary or armored).

    Raises:
        DecryptError: A subclass naming the failure.
        TypeError, ValueError: On caller mistakes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("data must be bytes")
    with Decryptor(identities, io.BytesIO(data)) as decryptor:
        return decryptor.read()


def read_header(src: BinaryIO) -> list[Stanza]:
    """Parse the header of an age file (binary or armored) without decrypting.

    The MAC cannot be checked without the file key, so the stanzas are
    unauthenticated: use them for inspection (fsck, listing recipient types)
    only.

    Raises:
        ArmorError: If armored input is not strict PEM.
        HeaderError: If the header is malformed or unsupported.
    """
    return _fmt.parse_header(_open_source(src)).stanzas

