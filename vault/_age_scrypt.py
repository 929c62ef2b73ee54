"""scrypt passphrase recipients and identities of age.

Private to :mod:`vault.age`, which exports both classes.
"""

from __future__ import annotations

import os

from vault import _age_format as _fmt
from vault import _crypto
from vault._age_format import HeaderError, Stanza
from vault._age_keys import ZERO_NONCE, check_file_key, check_scrypt_alone

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
        file_key = check_file_key(file_key)
        salt = os.urandom(16)
        key = _crypto.scrypt(self._passphrase, _SCRYPT_LABEL + salt, self._work_factor)
        body = _crypto.chacha20poly1305_encrypt(key, ZERO_NONCE, file_key)
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
        check_scrypt_alone(stanzas)
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
                return _crypto.chacha20poly1305_decrypt(key, ZERO_NONCE, bytes(stanza.body))
            except _crypto.InvalidTag:
                return None
        return None


ScryptRecipient.__module__ = ScryptIdentity.__module__ = "vault.age"
