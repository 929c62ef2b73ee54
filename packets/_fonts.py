"""The fonts of a packet's pages: the PDF standard fonts when they can show the text,
DejaVu (when installed) otherwise, and words for a character neither can show."""

from __future__ import annotations

import functools
import os
import unicodedata
from dataclasses import dataclass, field

# ------------------------------------------------------------------------------- fonts

_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)
_FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}


@dataclass(frozen=True)
class Fonts:
    """The fonts the packet's own pages are set in (reportlab font names).

    DejaVu (embedded, subset) when it is installed, which covers Latin, Greek and
    Cyrillic; otherwise the standard Helvetica and Courier (WinAnsi characters only).
    Right-to-left and other scripts that need shaping are never shown: reportlab would
    draw them unjoined or reversed, which misstates a legal document.
    """

    regular: str
    bold: str
    mono: str
    embedded: bool
    coverage: frozenset[int] | None = field(default=None, repr=False, compare=False)

    def unsupported(self, text: str) -> str | None:
        """The first character of ``text`` these fonts cannot show properly, or ``None``."""
        for ch in dict.fromkeys(text):
            if ch in "\n\r\t\f":
                continue
            if _needs_shaping(ch):
                return ch
            if self.coverage is not None:
                if ord(ch) not in self.coverage:
                    return ch
            else:
                try:
                    ch.encode("cp1252")
                except UnicodeEncodeError:
                    return ch
        return None

    @property
    def replacement(self) -> str:
        """The character drawn for undecodable input: U+FFFD if the fonts have it."""
        if self.coverage is not None and 0xFFFD in self.coverage:
            return "\ufffd"
        return "?"


def _needs_shaping(ch: str) -> bool:
    cp = ord(ch)
    if unicodedata.bidirectional(ch) in ("R", "AL", "AN"):
        return True
    # Indic, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian: need a shaping engine.
    return 0x0900 <= cp <= 0x0DFF or 0x0E00 <= cp <= 0x0FFF or 0x1000 <= cp <= 0x109F or \
        0x1780 <= cp <= 0x18AF


def describe_char(ch: str) -> str:
    """A character for an error message: U+0627 (ARABIC LETTER ALEF)."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


#: The standard PDF fonts: nothing embedded, WinAnsi (Latin-1 and a few more) characters only.
STANDARD_FONTS = Fonts("Helvetica", "Helvetica-Bold", "Courier", False, None)


@functools.lru_cache(maxsize=1)
def _dejavu() -> Fonts | None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for folder in _FONT_DIRS:
        paths = {k: os.path.join(folder, f) for k, f in _FONT_FILES.items()}
        if not all(os.path.isfile(p) for p in paths.values()):
            continue
        try:
            names = {}
            coverage: set[int] | None = None
            for kind, path in paths.items():
                name = {"regular": "RefugeSans", "bold": "RefugeSans-Bold", "mono": "RefugeMono"}[kind]
                font = TTFont(name, path)
                pdfmetrics.registerFont(font)
                names[kind] = name
                cmap = set(font.face.charToGlyph)
                coverage = cmap if coverage is None else coverage & cmap
            return Fonts(names["regular"], names["bold"], names["mono"], True, frozenset(coverage or ()))
        except Exception:  # a damaged font file: try the next folder, else the standard fonts
            continue
    return None


def fonts() -> Fonts:
    """The widest font set available: DejaVu if installed, else the standard fonts."""
    return _dejavu() or STANDARD_FONTS


def fonts_for(*texts: str) -> Fonts:
    """The fonts to set ``texts`` in: the standard fonts when they can show every
    character (smaller, faster files), else DejaVu when installed. The choice depends only
    on the text, so the same input always gives the same output."""
    if all(STANDARD_FONTS.unsupported(t) is None for t in texts):
        return STANDARD_FONTS
    return _dejavu() or STANDARD_FONTS
