"""Random ids for vaults, cases, documents, blobs and packets (base32, lower case)."""

from __future__ import annotations

import base64
import secrets


def random_id(nbytes: int) -> str:
    """``nbytes`` random bytes as lower-case base32 (opaque: it names nothing)."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().lower()
