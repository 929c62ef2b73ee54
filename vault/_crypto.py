"""The one module that touches ``cryptography.hazmat``.

Everything else in refuge sees small functions over bytes. Failures caused by
bad or tampered input surface as :class:`cryptography.exceptions.InvalidTag` or
as a ``False`` from the verify functions; nothing here says more than that.
"""

from __future__ import annotations

import hashlib
import hmac as _hmac
import os
from typing import Protocol, Union

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "AEAD",
    "InvalidTag",
    "chacha20poly1305",
    "chacha20poly1305_decrypt",
    "chacha20poly1305_encrypt",
    "ed25519_generate",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verifier",
    "ed25519_verify",
    "hkdf_sha256",
    "hmac_sha256",
    "scrypt",
    "seal",
    "unseal",
    "x25519_generate",
    "x25519_public",
    "x25519_shared",
]


# --- Ed25519 signatures -----------------------------------------------------


def ed25519_generate() -> bytes:
    """Return a new 32-byte Ed25519 private key seed."""
    return os.urandom(32)


def ed25519_public(seed: bytes) -> bytes:
    """Return the 32-byte public key of an Ed25519 seed."""
    # public_bytes_raw, not public_bytes(Encoding.Raw, ...): the same 32 bytes without importing
    # cryptography's serialization package (its SSH and PEM code: 10 ms of every command's start)
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """Sign ``message`` with the Ed25519 seed; returns 64 bytes."""
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        return ed25519_verifier(public)(signature, message)
    except ValueError:
        return False


def ed25519_verifier(public: bytes):
    """A function ``(signature, message) -> bool`` for one public key (parsed once).

    Raises:
        ValueError: ``public`` is not an Ed25519 public key.
    """
    key = Ed25519PublicKey.from_public_bytes(public)

    def verify(signature: bytes, message: bytes) -> bool:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return verify


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
    view = memoryview(sealed)  # no copy of a large cache
    return ChaCha20Poly1305(key).decrypt(bytes(view[:_NONCE]), view[_NONCE:], aad)


# --- Primitives for the age file format (vault/age.py and its private modules) --


Buffer = Union[bytes, bytearray, memoryview]


class AEAD(Protocol):
    """What :func:`chacha20poly1305` returns: one keyed ChaCha20-Poly1305."""

    def encrypt(self, nonce: bytes, data: Buffer, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: Buffer, associated_data: bytes | None) -> bytes: ...

    def encrypt_into(
        self, nonce: bytes, data: Buffer, associated_data: bytes | None, buf: Buffer
    ) -> int: ...

    def decrypt_into(
        self, nonce: bytes, data: Buffer, associated_data: bytes | None, buf: Buffer
    ) -> int: ...


def x25519_generate() -> bytes:
    """Return a new 32-byte X25519 private scalar (CSPRNG output)."""
    return os.urandom(32)


def x25519_public(scalar: bytes) -> bytes:
    """Return ``X25519(scalar, basepoint)``, the 32-byte public key."""
    return X25519PrivateKey.from_private_bytes(scalar).public_key().public_bytes_raw()  # see ed25519_public


def x25519_shared(scalar: bytes, peer_public: bytes) -> bytes:
    """Return ``X25519(scalar, peer_public)``.

    Raises ValueError when the result is all zeros (a low-order or identity
    peer point), which callers must treat as an invalid peer key.
    """
    try:
        shared = X25519PrivateKey.from_private_bytes(scalar).exchange(
            X25519PublicKey.from_public_bytes(peer_public)
        )
    except ValueError:
        raise ValueError("X25519 produced the all-zero shared secret") from None
    if not any(shared):
        raise ValueError("X25519 produced the all-zero shared secret")
    return shared


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-Extract then HKDF-Expand with SHA-256 (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA-256 of ``message`` (32 bytes)."""
    return _hmac.new(key, message, hashlib.sha256).digest()


def scrypt(
    password: bytes, salt: bytes, log_n: int, r: int = 8, p: int = 1, length: int = 32
) -> bytes:
    """scrypt (RFC 7914) with ``N = 2**log_n``."""
    return Scrypt(salt=salt, length=length, n=1 << log_n, r=r, p=p).derive(password)


def chacha20poly1305(key: bytes) -> AEAD:
    """A reusable ChaCha20-Poly1305 keyed with ``key`` (nonces are the caller's job).

    ``decrypt``/``decrypt_into`` raise :class:`InvalidTag` on any forgery.
    """
    return ChaCha20Poly1305(key)


def chacha20poly1305_encrypt(key: bytes, nonce: bytes, plaintext: bytes) -> bytes:
    """ChaCha20-Poly1305 with the given 12-byte nonce: ``ciphertext || tag``."""
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, None)


def chacha20poly1305_decrypt(key: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    """Open :func:`chacha20poly1305_encrypt` output; raises InvalidTag on forgery."""
    return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, None)
