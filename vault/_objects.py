"""What every storage backend shares: object keys and the create-only conflict.

The lowest module of the storage layer: vault/storage.py (the Backend protocol,
the local folder) and vault/s3.py both import it, and it imports neither.
"""

from __future__ import annotations

from .errors import RefugeError

__all__ = ["ObjectExists", "check_key"]


class ObjectExists(RefugeError):
    """A create-only write found its key already taken."""


def check_key(key: str) -> None:
    """Refuse an object key that is empty, has empty parts, ``.``/``..`` or hidden parts (ValueError)."""
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise ValueError(f"invalid object key {key!r}")
