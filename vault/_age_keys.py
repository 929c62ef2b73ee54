"""The file key of an age file: wrapped to recipients, unwrapped by identities.

Private to :mod:`vault.age`. Also makes the header that starts every age file
(stanzas, MAC, payload nonce) and the key its payload is sealed with.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable
from typing import Any

from vault import _age_format as _fmt
from vault import _crypto
from vault._age_format import HeaderError, HMACError, NoIdentityMatch, Stanza
from vault._stream import payload_key

#: The nonce of the ChaCha20-Poly1305 that wraps a file key (each key is used once).
ZERO_NONCE = bytes(12)


def check_file_key(file_key: object) -> bytes:
    """``file_key`` as bytes, if it is 16 bytes (TypeError, ValueError otherwise)."""
    if not isinstance(file_key, (bytes, bytearray)):
        raise TypeError("file key must be bytes")
    if len(file_key) != _fmt.FILE_KEY_SIZE:
        raise ValueError("file key must be 16 bytes")
    return bytes(file_key)


def check_scrypt_alone(stanzas: list[Stanza]) -> None:
    """Raise HeaderError if a scrypt stanza shares the header with another stanza."""
    if len(stanzas) > 1 and any(s.type == "scrypt" for s in stanzas):
        raise HeaderError("a scrypt stanza must be the only stanza in the header")


def as_list(items: object, kind: str, kinds: str, method: str, hint: str) -> list[Any]:
    """``items`` as a non-empty list of objects with ``method`` (caller mistakes raise)."""
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


def wrap_all(recipients: object) -> tuple[bytes, list[Stanza]]:
    """A new file key and its stanzas for every recipient."""
    recipients = as_list(
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


def unwrap(identities: list[Any], stanzas: list[Stanza]) -> bytes:
    """The file key from the first identity that opens a stanza (NoIdentityMatch if none)."""
    check_scrypt_alone(stanzas)
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is None:
            continue
        if not isinstance(file_key, bytes) or len(file_key) != _fmt.FILE_KEY_SIZE:
            raise ValueError(f"{type(identity).__name__}.unwrap() must return 16 bytes or None")
        return file_key
    raise NoIdentityMatch("no identity matched any of the file's recipients")


def _mac(file_key: bytes, mac_input: bytes) -> bytes:
    return _crypto.hmac_sha256(_crypto.hkdf_sha256(file_key, b"", b"header"), mac_input)


def new_header(recipients: object) -> tuple[bytes, bytes]:
    """A fresh file key wrapped to ``recipients``: ``(header and payload nonce, payload key)``.

    Raises:
        TypeError, ValueError: On caller mistakes (see :func:`wrap_all`).
    """
    file_key, stanzas = wrap_all(recipients)
    mac_input = _fmt.header_mac_input(stanzas)
    nonce = os.urandom(_fmt.NONCE_SIZE)
    header = _fmt.header_bytes(mac_input, _mac(file_key, mac_input)) + nonce
    return header, payload_key(file_key, nonce)


def open_header(identities: list[Any], source: _fmt.Source) -> bytes:
    """Read the header and payload nonce from ``source``; return the payload key.

    Raises:
        HeaderError, NoIdentityMatch, HMACError: As for :class:`vault.age.Decryptor`.
    """
    header = _fmt.parse_header(source)
    file_key = unwrap(identities, header.stanzas)
    if not hmac.compare_digest(_mac(file_key, header.mac_input), header.mac):
        raise HMACError("header MAC mismatch: the header was modified")
    nonce = source.read_exact(_fmt.NONCE_SIZE)
    if len(nonce) != _fmt.NONCE_SIZE:
        raise HeaderError("payload nonce is truncated")
    return payload_key(file_key, nonce)
