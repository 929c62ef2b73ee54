"""X25519 recipients and identities of age (``age1...``, ``AGE-SECRET-KEY-1...``).

Private to :mod:`vault.age`, which exports both classes.
"""

from __future__ import annotations

from vault import _age_format as _fmt
from vault import _crypto
from vault._age_format import HeaderError, Stanza
from vault._age_keys import ZERO_NONCE, check_file_key

_X25519_LABEL = b"age-encryption.org/v1/X25519"
_SECRET_HRP = "age-secret-key-"
_PUBLIC_HRP = "age"


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
        file_key = check_file_key(file_key)
        ephemeral = _crypto.x25519_generate()
        share = _crypto.x25519_public(ephemeral)
        shared = _crypto.x25519_shared(ephemeral, self._public)
        key = _crypto.hkdf_sha256(shared, share + self._public, _X25519_LABEL)
        body = _crypto.chacha20poly1305_encrypt(key, ZERO_NONCE, file_key)
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
                return _crypto.chacha20poly1305_decrypt(key, ZERO_NONCE, bytes(stanza.body))
            except _crypto.InvalidTag:
                continue
        return None


X25519Recipient.__module__ = X25519Identity.__module__ = "vault.age"
