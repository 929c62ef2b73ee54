"""Wire format of age v1 files (https://c2sp.org/age), strict in every part.

Private to :mod:`vault.age`. This module knows bytes and structure: the
exceptions, the header (stanzas, 64-column base64 bodies, the ``---`` MAC line),
Bech32 key strings and the reading source. The ASCII armor is in
:mod:`vault._armor` and the STREAM payload in :mod:`vault._stream`. It holds no
policy about which recipients exist; that lives in :mod:`vault.age`.

Everything that reads is incremental over a file-like source, so memory stays
bounded by a few 64 KiB chunks (plus the header, capped at :data:`MAX_HEADER`)
whatever the size of the input.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from vault.errors import RefugeError

# --- Exceptions ----------------------------------------------------------------
# Defined here so the parsers can raise them; re-exported by vault.age, which is
# where callers should import them from. Messages never carry key material.


class AgeError(RefugeError):
    """Base class of every age error."""


class DecryptError(AgeError):
    """The input could not be decrypted (corrupt, forged, or not for us); exit code 3."""

    exit_code = 3


class HeaderError(DecryptError):
    """The header is malformed, unsupported, or breaks a rule of the spec."""


class HMACError(DecryptError):
    """The header MAC does not match: the header was altered."""


class PayloadError(DecryptError):
    """The payload is truncated, reordered, extended or altered."""


class NoIdentityMatch(DecryptError):
    """None of the supplied identities can unwrap the file key."""


class ArmorError(DecryptError):
    """The ASCII armor is not the strict PEM encoding age requires."""


for _cls in (AgeError, DecryptError, HeaderError, HMACError, PayloadError, NoIdentityMatch,
             ArmorError):
    _cls.__module__ = "vault.age"


@dataclass
class Stanza:
    """One recipient stanza of an age header.

    Attributes:
        type: The first argument of the ``->`` line, e.g. ``"X25519"``.
        args: The remaining arguments.
        body: The decoded body bytes.
    """

    type: str
    args: list[str] = field(default_factory=list)
    body: bytes = b""


Stanza.__module__ = "vault.age"


# --- Constants -------------------------------------------------------------------

MAGIC = b"age-encryption.org/"
VERSION_LINE = b"age-encryption.org/v1\n"
MAC_PREFIX = b"---"
STANZA_PREFIX = b"-> "

CHUNK_SIZE = 64 * 1024  # plaintext bytes per STREAM chunk
TAG_SIZE = 16
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16  # the payload nonce that follows the header
FILE_KEY_SIZE = 16

#: Largest header accepted when reading (about 9000 X25519 stanzas).
MAX_HEADER = 1 << 20

B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VCHAR = bytes(range(0x21, 0x7F))
_READ_BLOCK = 16 * 1024


# --- Strict unpadded base64 ------------------------------------------------------


def b64encode(data: bytes) -> str:
    """Canonical base64 without ``=`` padding."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").decode("ascii")


def b64decode(text: bytes | str, what: str) -> bytes:
    """Decode canonical unpadded base64; anything else raises HeaderError.

    Args:
        text: The encoded value.
        what: Names the field in the error message (never the value).

    Raises:
        HeaderError: On padding, characters outside the alphabet, or a
            non-canonical encoding (non-zero trailing bits).
    """
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise HeaderError(f"{what} is not base64") from None
    if text.translate(None, B64_CHARS) or len(text) % 4 == 1:
        raise HeaderError(f"{what} is not valid unpadded base64")
    try:
        data = binascii.a2b_base64(text + b"=" * (-len(text) % 4), strict_mode=True)
    except binascii.Error:
        raise HeaderError(f"{what} is not valid unpadded base64") from None
    if binascii.b2a_base64(data, newline=False).rstrip(b"=") != text:
        raise HeaderError(f"{what} is not canonical base64")
    return data


# --- Bech32 (BIP 173, no length limit) -------------------------------------------

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_REV = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i, g in enumerate(_BECH32_GEN):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: list[int] | bytes, frm: int, to: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to - bits)) & maxv)
    elif bits >= frm or (acc << (to - bits)) & maxv:
        return None
    return out


def bech32_encode(hrp: str, data: bytes, upper: bool = False) -> str:
    """Bech32-encode ``data`` under the lowercase ``hrp``."""
    words = _regroup(data, 8, 5, pad=True)
    assert words is not None
    poly = _bech32_polymod(_bech32_hrp_expand(hrp) + words + [0] * 6) ^ 1
    words += [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    text = hrp + "1" + "".join(_BECH32_CHARSET[w] for w in words)
    return text.upper() if upper else text


def bech32_decode(text: str) -> tuple[str, bytes, bool]:
    """Decode a Bech32 string.

    Returns:
        ``(hrp in lowercase, data, was_uppercase)``.

    Raises:
        ValueError: On a mixed-case string, bad characters or a bad checksum.
            The message never quotes the input.
    """
    if not text or any(not 33 <= ord(c) <= 126 for c in text):
        raise ValueError("invalid characters in Bech32 string")
    lower, upper = text.lower(), text.upper()
    if text not in (lower, upper):
        raise ValueError("Bech32 string mixes upper and lower case")
    sep = lower.rfind("1")
    if sep < 1 or len(lower) - sep - 1 < 6:
        raise ValueError("malformed Bech32 string")
    hrp = lower[:sep]
    try:
        words = [_BECH32_REV[c] for c in lower[sep + 1 :]]
    except KeyError:
        raise ValueError("invalid characters in Bech32 string") from None
    if _bech32_polymod(_bech32_hrp_expand(hrp) + words) != 1:
        raise ValueError("Bech32 checksum mismatch")
    data = _regroup(words[:-6], 5, 8, pad=False)
    if data is None:
        raise ValueError("invalid Bech32 padding")
    return hrp, bytes(data), text == upper and text != lower


# --- Reading sources ------------------------------------------------------------


class Source:
    """A reader over a binary file-like object, with peeking and line reads.

    Accepts anything with ``read(n)`` (``readinto`` used when present), so it
    works over files, pipes, sockets, BytesIO and :class:`ArmorReader`.
    """

    def __init__(self, raw: Any) -> None:
        if not callable(getattr(raw, "read", None)):
            raise TypeError("source must be a binary file-like object with read()")
        self._raw = raw
        self._readinto = getattr(raw, "readinto", None)
        self._buf = bytearray()
        self._eof = False

    def _raw_read(self, n: int) -> bytes:
        data = self._raw.read(n)
        if data is None:
            raise ValueError("non-blocking sources are not supported")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("source must be opened in binary mode")
        return bytes(data)

    def _fill(self, want: int) -> None:
        """Buffer at least ``want`` bytes, or everything up to EOF."""
        while len(self._buf) < want and not self._eof:
            data = self._raw_read(max(want - len(self._buf), _READ_BLOCK))
            if not data:
                self._eof = True
            self._buf += data

    def peek(self, n: int) -> bytes:
        """Up to ``n`` bytes without consuming them (fewer only at EOF)."""
        self._fill(n)
        return bytes(self._buf[:n])

    def readline(self, limit: int) -> bytes:
        """One line including its LF; returns what is left (no LF) at EOF.

        Raises:
            HeaderError: If no LF appears within ``limit`` bytes.
        """
        start = 0
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0:
                if i + 1 > limit:
                    break
                line = bytes(self._buf[: i + 1])
                del self._buf[: i + 1]
                return line
            if len(self._buf) > limit:
                break
            if self._eof:
                line = bytes(self._buf)
                self._buf.clear()
                return line
            start = len(self._buf)
            self._fill(len(self._buf) + _READ_BLOCK)
        raise HeaderError("header is too large")

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or fewer at EOF."""
        self._fill(n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def readinto_full(self, view: memoryview) -> int:
        """Fill ``view`` completely unless EOF comes first; returns the count."""
        got = 0
        total = len(view)
        if self._buf:
            got = min(total, len(self._buf))
            view[:got] = self._buf[:got]
            del self._buf[:got]
        while got < total and not self._eof:
            if self._readinto is not None:
                n = self._readinto(view[got:])
                if n is None:
                    raise ValueError("non-blocking sources are not supported")
            else:
                data = self._raw_read(total - got)
                n = len(data)
                view[got : got + n] = data
            if not n:
                self._eof = True
            got += n
        return got

    def at_eof(self) -> bool:
        """True when nothing is left to read."""
        self._fill(1)
        return not self._buf


# --- Header -----------------------------------------------------------------------


@dataclass
class Header:
    """A parsed header: stanzas, MAC and the bytes the MAC covers."""

    stanzas: list[Stanza]
    mac: bytes
    mac_input: bytes  # the header up to and including "---"


def _parse_args(line: bytes) -> list[str]:
    content = line[len(STANZA_PREFIX) : -1]
    args = content.split(b" ")
    for arg in args:
        if not arg:
            raise HeaderError("stanza has an empty argument")
        if arg.translate(None, _VCHAR):
            raise HeaderError("stanza argument has characters outside printable ASCII")
    return [a.decode("ascii") for a in args]


def parse_header(src: Source) -> Header:
    """Read and strictly parse a v1 header, leaving ``src`` at the payload.

    Raises:
        HeaderError: On any deviation from the v1 grammar, an unsupported
            version, or a header larger than :data:`MAX_HEADER`.
    """
    budget = MAX_HEADER
    seen: list[bytes] = []

    def line() -> bytes:
        nonlocal budget
        text = src.readline(budget)
        budget -= len(text)
        if not text.endswith(b"\n"):
            raise HeaderError("header is truncated")
        seen.append(text)
        return text

    first = src.readline(budget)
    if first != VERSION_LINE:
        if first.startswith(MAGIC) and first.endswith(b"\n") and b"\r" not in first:
            raise HeaderError("unsupported age format version")
        raise HeaderError("not an age v1 file: bad version line")
    budget -= len(first)
    seen.append(first)

    stanzas: list[Stanza] = []
    text = line()
    while True:
        if text.startswith(STANZA_PREFIX):
            args = _parse_args(text)
            body_lines: list[bytes] = []
            while True:
                body = line()[:-1]
                if len(body) > 64:
                    raise HeaderError("stanza body line is longer than 64 columns")
                if body.translate(None, B64_CHARS):
                    raise HeaderError("stanza body line is not base64")
                body_lines.append(body)
                if len(body) < 64:
                    break
            decoded = b64decode(b"".join(body_lines), "stanza body")
            stanzas.append(Stanza(args[0], args[1:], decoded))
            text = line()
        elif text.startswith(MAC_PREFIX):
            if not stanzas:
                raise HeaderError("header has no recipient stanzas")
            if len(text) != 4 + 43 + 1 or text[3:4] != b" ":
                raise HeaderError("malformed header MAC line")
            mac = b64decode(text[4:-1], "header MAC")
            mac_input = b"".join(seen)[: -len(text) + 3]
            return Header(stanzas, mac, mac_input)
        else:
            raise HeaderError("malformed header line")


def _check_arg(arg: object) -> bytes:
    if not isinstance(arg, str):
        raise TypeError("stanza type and arguments must be str")
    try:
        raw = arg.encode("ascii")
    except UnicodeEncodeError:
        raw = b"\x00"
    if not raw or raw.translate(None, _VCHAR):
        raise ValueError("stanza type and arguments must be non-empty printable ASCII")
    return raw


def header_mac_input(stanzas: list[Stanza]) -> bytes:
    """Serialize the header up to and including ``---`` (what the MAC covers).

    Raises:
        TypeError, ValueError: If a stanza cannot be represented.
    """
    out = [VERSION_LINE]
    for stanza in stanzas:
        if not isinstance(stanza, Stanza):
            raise TypeError("recipients must return a list of Stanza objects")
        args = [_check_arg(stanza.type)] + [_check_arg(a) for a in stanza.args]
        if not isinstance(stanza.body, (bytes, bytearray)):
            raise TypeError("stanza body must be bytes")
        out.append(STANZA_PREFIX + b" ".join(args) + b"\n")
        body = b64encode(bytes(stanza.body)).encode("ascii")
        for i in range(0, len(body) + 1, 64):  # always ends with a short line
            out.append(body[i : i + 64] + b"\n")
    out.append(MAC_PREFIX)
    return b"".join(out)


def header_bytes(mac_input: bytes, mac: bytes) -> bytes:
    """The complete header given what :func:`header_mac_input` made and the MAC."""
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"


def write_all(dst: Any, data: bytes | bytearray | memoryview) -> None:
    """``dst.write`` until everything is written (raw files may write less)."""
    view = memoryview(data)
    while view:
        n = dst.write(view)
        if n is None or n >= len(view):
            return
        view = view[n:]


_WORK_FACTOR_RE = re.compile(r"[1-9][0-9]*")


def parse_work_factor(text: str) -> int | None:
    """The scrypt log2 work factor if ``text`` is ``^[1-9][0-9]*$``, else None.

    Values of four digits or more come back as 1000 (rejected by any limit).
    """
    if not _WORK_FACTOR_RE.fullmatch(text):
        return None
    return int(text) if len(text) <= 3 else 1000
