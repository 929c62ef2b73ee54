"""Names that font programs and ICC colour profiles carry, for the leak check: a font's
name records or an ICC profile's description can hold any text, but their makers'
copyright and licence notices are not searched (a surname such as Vera must not match
"Bitstream Vera")."""

from __future__ import annotations

import re

import pikepdf
from pikepdf import Name

__all__ = ["font_or_profile_texts"]


# Font name records that describe the font's makers and terms (copyright, trademark,
# manufacturer, designer, description, URLs, licence), not what a document says.
_NAME_IDS_SKIPPED = {0, 7, 8, 9, 10, 11, 12, 13, 14, 19}


def _u16(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 2], "big")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 4], "big")


def _sfnt_names(data: bytes) -> list[str] | None:
    if data[:4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true", b"typ1"):
        return None
    out: list[str] = []
    for t in range(_u16(data, 4)):
        rec = 12 + 16 * t
        if rec + 16 > len(data):
            return None
        if data[rec:rec + 4] != b"name":
            continue
        base = _u32(data, rec + 8)
        count, strings = _u16(data, base + 2), base + _u16(data, base + 4)
        for k in range(count):
            r = base + 6 + 12 * k
            if r + 12 > len(data):
                return None
            platform, name_id = _u16(data, r), _u16(data, r + 6)
            length, offset = _u16(data, r + 8), _u16(data, r + 10)
            if name_id in _NAME_IDS_SKIPPED:
                continue
            raw = data[strings + offset:strings + offset + length]
            out.append(raw.decode("utf-16-be", "replace") if platform in (0, 3) else raw.decode("latin-1"))
    return out


def _cff_names(data: bytes) -> list[str] | None:
    if len(data) < 4 or data[0] != 1:
        return None
    p = data[2]
    count = _u16(data, p)
    if count == 0 or count > 256:
        return [] if count == 0 else None
    size = data[p + 2]
    if not 1 <= size <= 4:
        return None
    offs = [int.from_bytes(data[p + 3 + i * size:p + 3 + (i + 1) * size], "big") for i in range(count + 1)]
    start = p + 3 + (count + 1) * size - 1
    return [data[start + a:start + b].decode("latin-1") for a, b in zip(offs, offs[1:])]


def _type1_names(data: bytes) -> list[str] | None:
    if not (data.startswith(b"%!PS-AdobeFont") or data.startswith(b"%!FontType1")):
        return None
    clear = data.split(b"eexec", 1)[0].decode("latin-1")
    return re.findall(r"/(?:FontName|FullName|FamilyName)\s*[(/]([^)\n]*)", clear)


def _icc_texts(data: bytes) -> list[str] | None:
    if len(data) < 132 or data[36:40] != b"acsp":
        return None
    from .leakcheck import texts_of_bytes

    out: list[str] = []
    for k in range(min(_u32(data, 128), 200)):
        e = 132 + 12 * k
        sig, offset, size = data[e:e + 4], _u32(data, e + 4), _u32(data, e + 8)
        if sig == b"cprt":
            continue
        body = data[offset:offset + size]
        if body[:4] in (b"desc", b"text", b"mluc", b"dmnd", b"dmdd"):
            texts, _binary = texts_of_bytes(body[8:])
            out.extend(texts)
    return out


def font_or_profile_texts(data: bytes, stream: pikepdf.Stream) -> list[str] | None:
    """The names a font program or ICC profile carries (not its makers' notices), or
    None if ``data`` is neither."""
    for parse in (_sfnt_names, _type1_names, _icc_texts):
        names = parse(data)
        if names is not None:
            return names
    if stream.get(Name.Subtype) in (Name("/Type1C"), Name("/CIDFontType0C")):
        return _cff_names(data)
    return None
