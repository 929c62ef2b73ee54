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
"""

from __future__ import annotations

import hmac
import io
import os
from collections.abc import Iterable
from typing import Any, BinaryIO, Protocol, runtime_checkable

from vault import _age_format as _fmt
from vault import _crypto
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


# --- X25519 ---------------------------------------------------------------------

_X25519_LABEL = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_SECRET_HRP = "age-secret-key-"
_PUBLIC_HRP = "age"


def _check_file_key(file_key: object) -> bytes:
    if not isinstance(file_key, (bytes, bytearray)):
        raise TypeError("file key must be bytes")
    if len(file_key) != _fmt.FILE_KEY_SIZE:
        raise ValueError("file key must be 16 bytes")
    return bytes(file_key)


class X25519Recipient:
    """An X25519 public key, written ``age1...``."""

    __slots__ = ("_public",)

    def __init__(self, public_key: bytes) -> None:
        """Wrap a raw 32-byte X25519 public key.

        Raises:
            TypeError: If ``public_key`` is not bytes.
            ValueError: If it is not 32 bytes or is a low-order point.
        """
        if not isinstance(public_key, (bytes, bytearray)):
            raise TypeError("X25519 public key must be bytes")
        if len(public_key) != 32:
            raise ValueError("X25519 public key must be 32 bytes")
        try:
            _crypto.x25519_shared(_crypto.x25519_generate(), bytes(public_key))
        except ValueError:
            raise ValueError("X25519 public key is a low-order point") from None
        self._public = bytes(public_key)

    @classmethod
    def from_string(cls, text: str) -> X25519Recipient:
        """Parse an ``age1...`` recipient string.

        Raises:
            TypeError: If ``text`` is not a str.
            ValueError: If it is not a valid lowercase ``age1`` Bech32 key.
        """
        if not isinstance(text, str):
            raise TypeError("recipient must be a str like 'age1...'")
        try:
            hrp, data, upper = _fmt.bech32_decode(text.strip())
        except ValueError as exc:
            raise ValueError(f"invalid age recipient: {exc}") from None
        if hrp != _PUBLIC_HRP or upper:
            raise ValueError("invalid age recipient: expected a lowercase 'age1...' string")
        if len(data) != 32:
            raise ValueError("invalid age recipient: wrong key length")
        return cls(data)

    def __str__(self) -> str:
        return _fmt.bech32_encode(_PUBLIC_HRP, self._public)

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, X25519Recipient):
            return NotImplemented
        return self._public == other._public

    def __hash__(self) -> int:
        return hash(self._public)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` for this public key (fresh ephemeral key per call).

        Raises:
            TypeError, ValueError: If ``file_key`` is not 16 bytes.
        """
        file_key = _check_file_key(file_key)
        ephemeral = _crypto.x25519_generate()
        share = _crypto.x25519_public(ephemeral)
        shared = _crypto.x25519_shared(ephemeral, self._public)
        key = _crypto.hkdf_sha256(shared, share + self._public, _X25519_LABEL)
        body = _crypto.chacha20poly1305_encrypt(key, _ZERO_NONCE, file_key)
        return [Stanza("X25519", [_fmt.b64encode(share)], body)]


class X25519Identity:
    """An X25519 private key, written ``AGE-SECRET-KEY-1...``.

    ``str()`` returns the secret key string; ``repr()`` shows only the recipient.
    """

    __slots__ = ("_secret", "_public")

    def __init__(self, secret_key: bytes) -> None:
        """Wrap a raw 32-byte X25519 private key (prefer :meth:`generate`).

        Raises:
            TypeError: If ``secret_key`` is not bytes.
            ValueError: If it is not 32 bytes.
        """
        if not isinstance(secret_key, (bytes, bytearray)):
            raise TypeError("X25519 secret key must be bytes")
        if len(secret_key) != 32:
            raise ValueError("X25519 secret key must be 32 bytes")
        self._secret = bytes(secret_key)
        self._public = _crypto.x25519_public(self._secret)

    @classmethod
    def generate(cls) -> X25519Identity:
        """A new random identity."""
        return cls(_crypto.x25519_generate())

    @classmethod
    def from_string(cls, text: str) -> X25519Identity:
        """Parse an ``AGE-SECRET-KEY-1...`` string (uppercase Bech32).

        Raises:
            TypeError: If ``text`` is not a str.
            ValueError: If it is not a valid age X25519 secret key. The message
                never repeats the input.
        """
        if not isinstance(text, str):
            raise TypeError("identity must be a str like 'AGE-SECRET-KEY-1...'")
        try:
            hrp, data, upper = _fmt.bech32_decode(text.strip())
        except ValueError as exc:
            raise ValueError(f"invalid age secret key: {exc}") from None
        if hrp != _SECRET_HRP or not upper:
            raise ValueError("invalid age secret key: expected an uppercase 'AGE-SECRET-KEY-1...'")
        if len(data) != 32:
            raise ValueError("invalid age secret key: wrong key length")
        return cls(data)

    @property
    def recipient(self) -> X25519Recipient:
        """The matching public recipient."""
        return X25519Recipient(self._public)

    def __str__(self) -> str:
        return _fmt.bech32_encode(_SECRET_HRP, self._secret, upper=True)

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self.recipient)!r})"

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """The file key from the first X25519 stanza addressed to this key.

        Raises:
            HeaderError: For an X25519 stanza with the wrong number of
                arguments, a share that is not canonical base64 of 32 bytes, a
                body that is not 32 bytes, or a low-order share.
        """
        for stanza in stanzas:
            if stanza.type != "X25519":
                continue
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument")
            share = _fmt.b64decode(stanza.args[0], "X25519 share")
            if len(share) != 32:
                raise HeaderError("X25519 share must be 32 bytes")
            if len(stanza.body) != 32:
                raise HeaderError("X25519 stanza body must be 32 bytes")
            try:
                shared = _crypto.x25519_shared(self._secret, share)
            except ValueError:
                raise HeaderError("X25519 share is a low-order point") from None
            key = _crypto.hkdf_sha256(shared, share + self._public, _X25519_LABEL)
            try:
                return _crypto.chacha20poly1305_decrypt(key, _ZERO_NONCE, bytes(stanza.body))
            except _crypto.InvalidTag:
                continue
        return None


# --- scrypt -----------------------------------------------------------------------

_SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"


def _check_passphrase(passphrase: object) -> bytes:
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be a str")
    if not passphrase:
        raise ValueError("passphrase must not be empty")
    return passphrase.encode("utf-8")


def _check_work_factor(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if not 1 <= value <= 30:
        raise ValueError(f"{name} must be between 1 and 30")
    return value


class ScryptRecipient:
    """Encrypts to a passphrase. A file with a scrypt stanza has no other stanza."""

    __slots__ = ("_passphrase", "_work_factor")

    def __init__(self, passphrase: str, work_factor: int = 18) -> None:
        """Configure passphrase encryption.

        Args:
            passphrase: The passphrase (UTF-8 encoded for scrypt).
            work_factor: log2 of the scrypt N parameter. Decrypting needs
                128 * 8 * 2**work_factor bytes of memory (256 MiB at 18).

        Raises:
            TypeError: If an argument has the wrong type.
            ValueError: If the passphrase is empty or the work factor is
                outside 1..30.
        """
        self._passphrase = _check_passphrase(passphrase)
        self._work_factor = _check_work_factor(work_factor, "work_factor")

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self._work_factor})"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Wrap ``file_key`` under the passphrase with a fresh salt.

        Raises:
            TypeError, ValueError: If ``file_key`` is not 16 bytes.
        """
        file_key = _check_file_key(file_key)
        salt = os.urandom(16)
        key = _crypto.scrypt(self._passphrase, _SCRYPT_LABEL + salt, self._work_factor)
        body = _crypto.chacha20poly1305_encrypt(key, _ZERO_NONCE, file_key)
        return [Stanza("scrypt", [_fmt.b64encode(salt), str(self._work_factor)], body)]


class ScryptIdentity:
    """Decrypts passphrase-encrypted files."""

    __slots__ = ("_passphrase", "_max_work_factor")

    def __init__(self, passphrase: str, max_work_factor: int = 22) -> None:
        """Configure passphrase decryption.

        Args:
            passphrase: The passphrase.
            max_work_factor: Files asking for a larger scrypt work factor are
                rejected rather than burning CPU and memory (22 is about
                4 GiB and tens of seconds).

        Raises:
            TypeError: If an argument has the wrong type.
            ValueError: If the passphrase is empty or the limit is outside 1..30.
        """
        self._passphrase = _check_passphrase(passphrase)
        self._max_work_factor = _check_work_factor(max_work_factor, "max_work_factor")

    def __repr__(self) -> str:
        return f"ScryptIdentity(max_work_factor={self._max_work_factor})"

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """The file key if the header's scrypt stanza opens with this passphrase.

        Raises:
            HeaderError: If a scrypt stanza shares the header with any other
                stanza, is malformed (arguments, salt, work factor syntax, body
                length), or asks for more than ``max_work_factor``.
        """
        _check_scrypt_alone(stanzas)
        for stanza in stanzas:
            if stanza.type != "scrypt":
                continue
            if len(stanza.args) != 2:
                raise HeaderError("scrypt stanza must have exactly two arguments")
            salt = _fmt.b64decode(stanza.args[0], "scrypt salt")
            if len(salt) != 16:
                raise HeaderError("scrypt salt must be 16 bytes")
            work_factor = _fmt.parse_work_factor(stanza.args[1])
            if work_factor is None:
                raise HeaderError("scrypt work factor is not a plain decimal number")
            if work_factor > self._max_work_factor:
                raise HeaderError(
                    f"scrypt work factor exceeds the limit of {self._max_work_factor}"
                )
            if len(stanza.body) != 32:
                raise HeaderError("scrypt stanza body must be 32 bytes")
            key = _crypto.scrypt(self._passphrase, _SCRYPT_LABEL + salt, work_factor)
            try:
                return _crypto.chacha20poly1305_decrypt(key, _ZERO_NONCE, bytes(stanza.body))
            except _crypto.InvalidTag:
                return None
        return None


def _check_scrypt_alone(stanzas: list[Stanza]) -> None:
    if len(stanzas) > 1 and any(s.type == "scrypt" for s in stanzas):
        raise HeaderError("a scrypt stanza must be the only stanza in the header")


# --- Encryption -----------------------------------------------------------------------


def _as_list(items: object, kind: str, kinds: str, method: str, hint: str) -> list[Any]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{kinds} must be a list of {kind} objects{hint}")
    result = list(items)
    if not result:
        raise ValueError(f"at least one {kind} is required")
    for item in result:
        if isinstance(item, (str, bytes)):
            raise TypeError(f"{kinds} must be {kind} objects, not strings{hint}")
        if not callable(getattr(item, method, None)):
            raise TypeError(f"{type(item).__name__} is not a {kind}: it has no {method}()")
    return result


def _wrap_all(recipients: object) -> tuple[bytes, list[Stanza]]:
    recipients = _as_list(
        recipients,
        "recipient",
        "recipients",
        "wrap",
        " (parse 'age1...' with X25519Recipient.from_string)",
    )
    file_key = os.urandom(_fmt.FILE_KEY_SIZE)
    stanzas: list[Stanza] = []
    for recipient in recipients:
        wrapped = recipient.wrap(file_key)
        if not isinstance(wrapped, list) or not all(isinstance(s, Stanza) for s in wrapped):
            raise TypeError(f"{type(recipient).__name__}.wrap() must return a list of Stanza")
        stanzas.extend(wrapped)
    if not stanzas:
        raise ValueError("recipients produced no stanzas")
    if len(stanzas) > 1 and any(s.type == "scrypt" for s in stanzas):
        raise ValueError("a ScryptRecipient cannot be combined with other recipients")
    return file_key, stanzas


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
        file_key, stanzas = _wrap_all(recipients)
        mac_input = _fmt.header_mac_input(stanzas)
        mac = _crypto.hmac_sha256(_crypto.hkdf_sha256(file_key, b"", b"header"), mac_input)
        nonce = os.urandom(_fmt.NONCE_SIZE)
        self._armor = _fmt.ArmorWriter(dst) if armor else None
        if self._armor is not None:
            write_out = self._armor.write
        else:
            def write_out(data: bytes | bytearray | memoryview) -> None:
                _fmt.write_all(dst, data)
        write_out(_fmt.header_bytes(mac_input, mac) + nonce)
        self._stream = _fmt.StreamWriter(_fmt.payload_key(file_key, nonce), write_out)
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
    if _fmt.is_armored(source.peek(1024)):
        source = _fmt.Source(_fmt.ArmorReader(source))
    return source


class EncryptedFile:
    """The age encryption of an open file of known size, readable at any offset.

    The header and payload nonce are fixed when it is made; chunk *i* of the
    payload depends only on the payload key and the plaintext of chunk *i*, so
    any byte range of the age file can be produced, and produced again, by
    encrypting the chunks it covers (read with ``os.pread``). This lets an
    upload send several parts at once, and resend one, without holding any of
    them. The caller must make sure the file does not change meanwhile.
    """

    def __init__(self, recipients: Iterable[Recipient], fd: int, size: int) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        file_key, stanzas = _wrap_all(recipients)
        mac_input = _fmt.header_mac_input(stanzas)
        mac = _crypto.hmac_sha256(_crypto.hkdf_sha256(file_key, b"", b"header"), mac_input)
        nonce = os.urandom(_fmt.NONCE_SIZE)
        self.header = _fmt.header_bytes(mac_input, mac) + nonce
        self._key = _fmt.payload_key(file_key, nonce)
        self._fd = fd
        self.plain_size = size
        self.chunks = max(1, -(-size // _fmt.CHUNK_SIZE))
        #: Size of the whole age file.
        self.size = len(self.header) + size + self.chunks * _fmt.TAG_SIZE

    def reader(self, start: int, length: int) -> "_RangeReader":
        """A seekable stream of bytes ``start`` to ``start + length`` of the age file."""
        if start < 0 or length < 0 or start + length > self.size:
            raise ValueError("range outside the encrypted file")
        return _RangeReader(self, start, length)

    def _chunk(self, aead: Any, i: int) -> bytes:
        plain = os.pread(self._fd, _fmt.CHUNK_SIZE, i * _fmt.CHUNK_SIZE)
        want = min(_fmt.CHUNK_SIZE, self.plain_size - i * _fmt.CHUNK_SIZE)
        if len(plain) != want:
            raise PayloadError("the file being encrypted changed size")
        return aead.encrypt(_fmt._nonce(i, i == self.chunks - 1), plain, None)


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


def _unwrap(identities: list[Any], stanzas: list[Stanza]) -> bytes:
    _check_scrypt_alone(stanzas)
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is None:
            continue
        if not isinstance(file_key, bytes) or len(file_key) != _fmt.FILE_KEY_SIZE:
            raise ValueError(f"{type(identity).__name__}.unwrap() must return 16 bytes or None")
        return file_key
    raise NoIdentityMatch("no identity matched any of the file's recipients")


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
        identities = _as_list(
            identities,
            "identity",
            "identities",
            "unwrap",
            " (parse 'AGE-SECRET-KEY-1...' with X25519Identity.from_string)",
        )
        source = _open_source(src)
        header = _fmt.parse_header(source)
        file_key = _unwrap(identities, header.stanzas)
        mac_key = _crypto.hkdf_sha256(file_key, b"", b"header")
        if not hmac.compare_digest(_crypto.hmac_sha256(mac_key, header.mac_input), header.mac):
            raise HMACError("header MAC mismatch: the header was modified")
        nonce = source.read_exact(_fmt.NONCE_SIZE)
        if len(nonce) != _fmt.NONCE_SIZE:
            raise HeaderError("payload nonce is truncated")
        self._stream = _fmt.StreamReader(_fmt.payload_key(file_key, nonce), source)
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
