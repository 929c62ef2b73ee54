"""The one module that touches ``cryptography.hazmat``.

Everything else in refuge sees small functions over bytes. Failures caused by
bad or tampered input surface as :class:`cryptography.exceptions.InvalidTag` or
as a ``False`` from the verify functions; nothing here says more than that.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

__all__ = [
    "InvalidTag",
    "ed25519_generate",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "seal",
    "unseal",
]


# --- Ed25519 signatures -----------------------------------------------------


def ed25519_generate() -> bytes:
    """Return a new 32-byte Ed25519 private key seed."""
    return os.urandom(32)


def ed25519_public(seed: bytes) -> bytes:
    """Return the 32-byte public key of an Ed25519 seed."""
    from cryptography.hazmat.primitives import serialization

    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """Sign ``message`` with the Ed25519 seed; returns 64 bytes."""
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Symmetric sealing (audit entries) ---------------------------------------

_NONCE = 12


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """ChaCha20-Poly1305 with a random nonce: ``nonce || ciphertext || tag``."""
    nonce = os.urandom(_NONCE)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """Open what :func:`seal` made; raises InvalidTag on any tampering."""
    if len(sealed) < _NONCE + 16:
        raise InvalidTag()
    return ChaCha20Poly1305(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
