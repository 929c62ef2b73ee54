"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints
(c2sp.org/tlog-checkpoint), with Ed25519 signatures only.

A signed note is a text ending in a newline, a blank line, then lines of the
form ``— <key name> base64(key ID || signature)``. Every malformed note is
refused with :class:`NoteError`; signatures are made and checked only through
:mod:`vault._crypto`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Iterable, Mapping, NamedTuple, Union

from vault._crypto import ed25519_public, ed25519_sign, ed25519_verify
from vault.errors import VerificationFailed

__all__ = [
    "Checkpoint",
    "MAX_SIGNATURES",
    "NoteError",
    "format_checkpoint",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_verifier_key",
    "sign_note",
    "verifier_key",
]

ED25519_TYPE = 0x01
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_TREE_SIZE = 2**64 - 1
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")

Verifiers = Union[Mapping[str, bytes], Iterable[Union[tuple[str, bytes], str]]]


class NoteError(VerificationFailed, ValueError):
    """A note, verifier key or checkpoint is malformed or does not verify."""


# --- encoding helpers -------------------------------------------------------


def _b64decode(s: str, what: str) -> bytes:
    """Strict standard base64: padded, canonical, nothing but the alphabet."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _check_chars(s: str, what: str) -> None:
    """Valid UTF-8 and no ASCII control character other than newline."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    for ch in s:
        if ch < " " and ch != "\n":
            raise NoteError(f"{what} contains control character {ch!r}")


def _check_name(name: str) -> None:
    """Key names: non-empty, no Unicode spaces, no '+', no control characters."""
    if not isinstance(name, str) or not name:
        raise NoteError("key name must be a non-empty string")
    _check_chars(name, "key name")
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} contains a space or '+'")


def _check_public(pub: bytes) -> bytes:
    if not isinstance(pub, (bytes, bytearray)) or len(pub) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    return bytes(pub)


# --- keys -------------------------------------------------------------------


def key_id(name: str, pub: bytes) -> bytes:
    """Return the 4-byte key ID of an Ed25519 key:
    SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_name(name)
    pub = _check_public(pub)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + pub).digest()[:4]


def verifier_key(name: str, pub: bytes) -> str:
    """Return the verifier key string ``name+<8 hex key ID>+base64(0x01 || pub)``."""
    return f"{name}+{key_id(name, pub).hex()}+{_b64encode(bytes([ED25519_TYPE]) + pub)}"


def parse_verifier_key(s: str) -> tuple[str, bytes]:
    """Parse a verifier key string into ``(name, 32-byte public key)``.

    The key ID in the string must be 8 hex digits and match the one computed
    from the name and key; only Ed25519 (type 0x01) keys are accepted.
    """
    if not isinstance(s, str):
        raise NoteError("a verifier key is a string")
    parts = s.split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteError("verifier key is not name+keyid+key")
    name, hex_id, b64 = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise NoteError("verifier key ID is not 8 hex digits")
    raw = _b64decode(b64, "verifier key")
    if len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise NoteError("verifier key is not an Ed25519 (type 0x01) key")
    pub = raw[1:]
    if key_id(name, pub) != bytes.fromhex(hex_id):
        raise NoteError("verifier key ID does not match its name and key")
    return name, pub


def _index_verifiers(verifiers: Verifiers) -> dict[tuple[str, bytes], bytes]:
    items = verifiers.items() if isinstance(verifiers, Mapping) else verifiers
    index: dict[tuple[str, bytes], bytes] = {}
    for item in items:
        name, pub = parse_verifier_key(item) if isinstance(item, str) else item
        pub = _check_public(pub)
        kid = key_id(name, pub)
        if index.setdefault((name, kid), pub) != pub:
            raise ValueError(f"two verifier keys for {name!r} share key ID {kid.hex()}")
    return index


# --- notes ------------------------------------------------------------------


def sign_note(text: str, name: str, seed: bytes) -> str:
    """Sign ``text`` with the Ed25519 ``seed`` under key ``name``; return the
    note: text, a blank line, and one ``— name base64(keyid || sig)`` line.

    ``text`` must be non-empty, end in a newline and hold no control
    characters other than newline.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("note text must be a string ending in a newline")
    _check_chars(text, "note text")
    _check_name(name)
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise NoteError("an Ed25519 seed is 32 bytes")
    kid = key_id(name, ed25519_public(bytes(seed)))
    sig = ed25519_sign(bytes(seed), text.encode("utf-8"))
    return f"{text}\n{_SIG_PREFIX}{name} {_b64encode(kid + sig)}\n"


def _parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """``— name base64`` into (name, key ID, signature)."""
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"signature line does not start with an em dash and space: {line!r}")
    name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not b64:
        raise NoteError(f"signature line has no signature: {line!r}")
    _check_name(name)
    blob = _b64decode(b64, "signature")
    if len(blob) < 5:
        raise NoteError("signature is shorter than a key ID and one byte")
    return name, blob[:4], blob[4:]


def open_note(note: str | bytes, verifiers: Verifiers) -> tuple[str, list[str]]:
    """Verify a signed note; return ``(text, names of known keys that signed)``.

    ``verifiers`` is a ``{name: public key}`` mapping, or an iterable of
    ``(name, public key)`` pairs and/or verifier key strings. Signatures from
    unknown keys are ignored; a bad signature from a known key, a malformed
    note, or a note with no valid signature from a known key raise NoteError.
    """
    if isinstance(note, (bytes, bytearray)):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteError("a note is a string")
    _check_chars(note, "note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block:
        raise NoteError("note has no signature lines")
    if not block.endswith("\n"):
        raise NoteError("note does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    parsed = [_parse_signature_line(line) for line in lines]
    known = _index_verifiers(verifiers)
    message = text.encode("utf-8")
    signers: list[str] = []
    for name, kid, sig in parsed:
        pub = known.get((name, kid))
        if pub is None:
            continue  # unknown key: ignored, as the spec requires
        if not ed25519_verify(pub, sig, message):
            raise NoteError(f"signature by known key {name!r} does not verify")
        if name not in signers:
            signers.append(name)
    if not signers:
        raise NoteError("note has no valid signature from a known key")
    return text, signers


# --- checkpoints ------------------------------------------------------------


class Checkpoint(NamedTuple):
    """The parsed text of a tlog checkpoint."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(
    origin: str, size: int, root: bytes, extensions: Iterable[str] = ()
) -> str:
    """Return checkpoint note text: origin, decimal size, base64 root hash,
    then any extension lines, each ending in a newline.

    The origin must also be a valid key name (no spaces or '+'), since the
    log's key name should match it.
    """
    _check_name(origin)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_TREE_SIZE:
        raise NoteError(f"tree size {size!r} is not an integer in [0, 2**64)")
    if not isinstance(root, (bytes, bytearray)) or len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    lines = [origin, str(size), _b64encode(bytes(root))]
    for ext in extensions:
        if not isinstance(ext, str) or not ext or "\n" in ext:
            raise NoteError(f"extension line {ext!r} is empty or not one line")
        _check_chars(ext, "extension line")
        lines.append(ext)
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (as returned by :func:`open_note`).

    Requires at least three non-empty lines: a non-empty origin, a decimal tree
    size with no leading zeros (below 2**64), a canonical base64 32-byte root
    hash; any further lines are non-empty extension lines.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError("checkpoint text must end in a newline")
    _check_chars(text, "checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs origin, size and root hash lines")
    if any(not line for line in lines):
        raise NoteError("checkpoint has an empty line")
    origin, size_line, root_line, *extensions = lines
    if len(size_line) > 20 or not _SIZE_RE.fullmatch(size_line):
        raise NoteError(f"tree size {size_line!r} is not a decimal without leading zeros")
    size = int(size_line)
    if size > _MAX_TREE_SIZE:
        raise NoteError("tree size does not fit in 64 bits")
    root = _b64decode(root_line, "root hash")
    if len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    return Checkpoint(origin, size, root, tuple(extensions))
