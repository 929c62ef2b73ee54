"""Text matching for redaction: normalization, case terms and the built-in detectors.

Everything here works on *folded* text: each character decomposed (NFKD), combining marks
dropped, case-folded; runs of white space made one space; a hyphen at the end of a line
(and the soft hyphen, and pdfium's line-end hyphen marker) joined away; zero-width
characters dropped. :func:`fold` returns the folded string with, for every folded
character, the index of the source character it came from, so a match maps back to the
characters (and their boxes on the page) it covers.

A :class:`Needle` matches one secret in folded text whatever its case, accents, spacing,
line breaks and hyphenation: the term is cut into words at every character that is not a
letter or digit; words may be separated by any run of non-word characters or by nothing
("Ana Demo" matches "ANA-DEMO", "Ana\\nDemo" and "AnaDemo"); inside a word one stray
separator is allowed between letters (text split into pieces by kerning or a line break
that the extractor turned into a space); the match must start and end at a word boundary,
so "Ana" does not match inside "Canada" (in recognised text, a secret of GLUED_MIN or more
letters and digits need not: OCR glues letter-spaced words to their neighbours).

Detectors find secrets no one typed in as a term, each in a category
(:data:`DETECTOR_CATEGORIES`):

* ``phone`` (contact): Mexican, Central American, Canadian / North American and
  international (``+`` or ``00``) numbers, and any number of 7+ digits after a phone label;
* ``email`` (contact);
* ``curp`` (id-number): the Mexican CURP;
* ``id-label`` (id-number): passport and national identity numbers next to their labels
  (English, Spanish, French: passport, pasaporte, passeport, DUI, DPI, cédula, INE, ...);
* ``birth-date`` (id-number): dates of birth next to their labels (date of birth, DOB,
  fecha de nacimiento, nacido/a el, date de naissance, né(e) le, ...).

Only the secret itself is a hit: for labelled values the label stays readable.
Categories come from the one vocabulary (vault/categories.py). This module uses only the
standard library otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from vault.categories import ALIASES as CATEGORY_ALIASES

__all__ = [
    "DETECTOR_CATEGORIES",
    "Hit",
    "Needle",
    "unconfuse",
    "canonical_category",
    "detect",
    "fold",
    "fold_text",
    "needles_in",
    "redact_string",
]

#: The category each detector's hits belong to.
DETECTOR_CATEGORIES: dict[str, str] = {
    "phone": "contact",
    "email": "contact",
    "curp": "id-number",
    "id-label": "id-number",
    "birth-date": "id-number",
}

#: Category names that mean the same thing (the shipped profiles say identity-number): the
#: one vocabulary's aliases (vault/categories.py).
_ALIASES = dict(CATEGORY_ALIASES)


def canonical_category(name: str) -> str:
    """The category ``name`` stands for (``identity-number`` is ``id-number``)."""
    return _ALIASES.get(name, name)


# ------------------------------------------------------------------------ folding

_EXTRA = {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "æ": "ae", "Æ": "ae", "œ": "oe",
          "Œ": "oe", "ı": "i", "ħ": "h", "þ": "th", "ð": "d", "ŀ": "l"}


# Letters of other scripts that look like Latin ones (Unicode's confusables for Cyrillic,
# Greek and Armenian, TR39): mapped before case folding, each case by its own look, so that
# a Latin secret typed with a Cyrillic "а" or a Greek "Ο" still matches. Fullwidth and
# mathematical letters need no entry: NFKD makes them Latin.
_LOOKALIKES = str.maketrans({
    # Cyrillic capitals, then small letters
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M", "О": "O",
    "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "l", "Ѵ": "V",
    "Ԁ": "D", "Ꙅ": "S", "Һ": "H", "З": "3", "Ь": "b",
    "а": "a", "с": "c", "е": "e", "і": "i", "ј": "j", "о": "o", "р": "p", "ѕ": "s", "х": "x", "у": "y",
    "ү": "y", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ѵ": "v", "п": "n", "г": "r", "к": "k",
    "м": "m", "т": "t", "в": "b", "н": "h", "ѡ": "w", "ь": "b", "ԍ": "g", "ɡ": "g", "ɑ": "a",
    # Greek capitals, then small letters
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "ω": "w", "ϱ": "p",
    # Armenian
    "Օ": "O", "Տ": "S", "Ս": "U", "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "զ": "q",
})


def _fold_char(c: str) -> str:
    if c in _EXTRA:
        return _EXTRA[c]
    if c.isascii():
        return c.lower()
    d = unicodedata.normalize("NFKD", c)
    d = "".join(ch for ch in d if not unicodedata.combining(ch)).translate(_LOOKALIKES)
    return "".join(_EXTRA.get(ch, ch) for ch in d).casefold()


_SPECIAL = re.compile(
    r"(?P<join>(?<=\w)[\-\u2010\u2011][ \t]*[\n\r\x0b\x0c\u2028\u2029\x85]\s*(?=\w))"
    r"|(?P<mark>[\x02\ufffe]\s*)"
    r"|(?P<zero>[\u200b-\u200d\u2060\ufeff\u00ad]+)"
    r"|(?P<space>\s+)")
_FOLDED: dict[str, str] = {}


def fold(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` for matching.

    Returns the folded text and, for each of its characters, the index in ``text`` it
    came from. A hyphen (or pdfium's line-end hyphen mark) followed by a line break
    between two word characters is joined away; white space runs become one space;
    zero-width characters and soft hyphens are dropped; every other character is
    decomposed, stripped of combining marks and case-folded.
    """
    out: list[str] = []
    idx: list[int] = []
    last = ""

    def chunk(a: int, b: int) -> None:
        nonlocal last
        piece = text[a:b]
        if piece.isascii():
            out.append(piece.lower())
            idx.extend(range(a, b))
            last = piece[-1]
            return
        for k, c in enumerate(piece, a):
            f = _FOLDED.get(c)
            if f is None:
                f = _FOLDED[c] = _fold_char(c)
            for ch in f:
                if ch.isspace():
                    if last not in ("", " "):
                        out.append(" ")
                        idx.append(k)
                        last = " "
                    continue
                out.append(ch)
                idx.append(k)
                last = ch

    pos = 0
    for m in _SPECIAL.finditer(text):
        if m.start() > pos:
            chunk(pos, m.start())
        if m.lastgroup == "space" and last not in ("", " "):
            out.append(" ")
            idx.append(m.start())
            last = " "
        pos = m.end()
    if pos < len(text):
        chunk(pos, len(text))
    return "".join(out), idx


_ASCII_JOIN = re.compile(r"(?<=\w)-[ \t]*[\n\r\x0b\x0c]\s*(?=\w)|\x02\s*")
_ASCII_SPACE = re.compile(r"\s+")


def fold_text(text: str) -> str:
    """``text`` folded (see :func:`fold`), without the index."""
    if text.isascii():
        return _ASCII_SPACE.sub(" ", _ASCII_JOIN.sub("", text)).lower().lstrip(" ")
    return fold(text)[0]


# ------------------------------------------------------------------------- needles

_WORD_SPLIT = re.compile(r"[\W_]+")
#: Inside one word of a secret: up to three separators between two characters (a number
#: typed "G 4720-1938", a name split by kerning or a line break, an underscore in a handle).
_INNER = r"[\W_]{0,3}"
#: Between words: separators (or nothing: "AnaDemo"), or, for names of two to four words,
#: a few other words (a name wrapped inside a table cell whose row reads across it, or a
#: footer between the two halves of a name split by a page break).
_BETWEEN = r"[\W_]*"
_BETWEEN_WORDS = r"(?:[\W_]*|[\W_]+(?:[^\W_]+[\W_]+){1,8}?)"
_GAP_TOKENS = range(2, 5)
#: The left edge of a secret: no letter or digit before it, or an MRZ line's document
#: type and issuing state glued to it ("P<MEXLOPEZ<<ANA", "I<MEXG47201938").
_LEFT = r"(?:(?<![^\W_])|(?<=(?<![^\W_])[acipv]<[a-z]{3}))"
_RIGHT = r"(?![^\W_])"
#: After a number: also an MRZ check digit glued to it (before a filler or the holder's
#: nationality and date of birth: "G472019384MEX900101").
_RIGHT_NUMBER = r"(?:(?![^\W_])|(?=<*\d(?:<|[a-z]{3}\d)))"


#: Characters OCR mistakes for one another (in recognised text only).
_OCR_ALIKE = {c: group for group in ("il1|!", "o0", "s5", "b8", "z2", "g9", "e3") for c in group}


def _token_pattern(token: str, ocr: bool = False) -> str:
    if ocr:
        return _INNER.join(f"[{re.escape(_OCR_ALIKE[ch])}]" if ch in _OCR_ALIKE else re.escape(ch) for ch in token)
    return _INNER.join(re.escape(ch) for ch in token)


#: In recognised text, a secret of at least this many letters and digits matches even glued
#: to the words around it: OCR reads letter-spaced text ("C l i e n t  Y o l o t z i n")
#: as one word with its label ("ClientYolotzin"), which a word boundary would never match.
GLUED_MIN = 6


def _needle_pattern(tokens: list[str], ocr: bool = False) -> re.Pattern[str] | None:
    size = sum(len(t) for t in tokens)
    if size < 2:
        return None
    gap = _BETWEEN_WORDS if len(tokens) in _GAP_TOKENS and all(len(t) >= 2 for t in tokens) else _BETWEEN
    body = gap.join(f"(?P<t{k}>{_token_pattern(t, ocr)})" for k, t in enumerate(tokens))
    if ocr and size >= GLUED_MIN:
        return re.compile(body)
    right = _RIGHT_NUMBER if any(c.isdigit() for c in "".join(tokens)) else _RIGHT
    return re.compile(_LEFT + body + right)


_CONFUSABLE = str.maketrans({"o": "0", "l": "1", "i": "1"})
_TOKEN = re.compile(r"\w+")


def unconfuse(folded: str) -> str:
    """Folded text with OCR's usual confusions undone inside ID numbers: in a word that
    holds a digit, ``o`` reads as 0 and ``l`` or ``i`` as 1. Same length as the input."""
    return _TOKEN.sub(lambda m: m.group().translate(_CONFUSABLE) if any(c.isdigit() for c in m.group())
                      else m.group(), folded)


@dataclass(frozen=True)
class Needle:
    """One secret to find: a case term (``rule`` is its id) or a detector's find
    (``rule`` is ``detector:NAME``). ``text`` is secret and never shown.

    A match may include other words between the secret's words (a wrapped table cell);
    :meth:`spans` gives only the parts that are the secret, which is what is burned."""

    rule: str
    category: str
    kind: str  # "term" or "detector"
    text: str

    @property
    def tokens(self) -> list[str]:
        return [t for t in _WORD_SPLIT.split(fold_text(self.text)) if t]

    @property
    def pattern(self) -> re.Pattern[str] | None:
        cached = _PATTERNS.get(self.text)
        if cached is not None or self.text in _PATTERNS:
            return cached
        pat = _PATTERNS[self.text] = _needle_pattern(self.tokens)
        return pat

    @property
    def size(self) -> int:
        """Letters and digits in the secret."""
        return sum(len(t) for t in self.tokens)

    def finditer(self, folded: str):
        pat = self.pattern
        return pat.finditer(folded) if pat is not None else iter(())

    def _ocr_pattern(self) -> re.Pattern[str] | None:
        key = "\x00ocr\x00" + self.text
        if key not in _PATTERNS:
            _PATTERNS[key] = _needle_pattern([unconfuse(t) for t in self.tokens], ocr=True)
        return _PATTERNS[key]

    def finditer_ocr(self, unconfused: str):
        """Matches in recognised text passed through :func:`unconfuse` (so is the secret),
        reading letters OCR confuses (I, l, 1; O, 0; S, 5...) as one another."""
        pat = self._ocr_pattern()
        return pat.finditer(unconfused) if pat is not None else iter(())

    def spans(self, folded: str, ocr: bool = False) -> list[list[tuple[int, int]]]:
        """Each match in ``folded`` (or, with ``ocr``, in unconfused text) as the spans of
        the secret's words only, not of the words a match passes over."""
        out = []
        for m in (self.finditer_ocr(folded) if ocr else self.finditer(folded)):
            parts = [m.span(g) for g in sorted(m.groupdict(), key=lambda g: int(g[1:]))]
            merged: list[tuple[int, int]] = []
            for a, b in parts:
                if merged and a - merged[-1][1] <= 3 and not folded[merged[-1][1]:a].strip("<")[:1].isalnum():
                    merged[-1] = (merged[-1][0], b)
                else:
                    merged.append((a, b))
            out.append(merged)
        return out

    def search(self, folded: str) -> bool:
        pat = self.pattern
        return bool(pat is not None and pat.search(folded))

    def __repr__(self) -> str:  # never the secret
        return f"Needle({self.rule}, {self.category})"


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def redact_string(text: str, needles: list[Needle], placeholder: str = "[redacted]",
                  categories: set[str] | None = None) -> str:
    """``text`` with every match of ``needles`` and of the detectors of ``categories``
    (None: all) replaced by ``placeholder`` (titles, file names and other short strings
    that go onto generated pages)."""
    if not text:
        return text
    folded, idx = fold(text)
    spans: list[tuple[int, int]] = []
    for n in needles:
        for parts in n.spans(folded):
            spans.extend((idx[a], idx[b - 1] + 1) for a, b in parts)
    for h in detect(folded, categories) if categories is None or categories else []:
        spans.append((idx[h.start], idx[h.end - 1] + 1))
    if not spans:
        return text
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out.append(text[pos:a])
        out.append(placeholder)
        pos = b
    out.append(text[pos:])
    return "".join(out)


# ----------------------------------------------------------------------- detectors


@dataclass(frozen=True)
class Hit:
    """A detector's find in folded text: ``folded[start:end]``."""

    detector: str
    category: str
    start: int
    end: int
    value: str

    def __repr__(self) -> str:  # never the value
        return f"Hit({self.detector}, {self.start}:{self.end})"


_SEP = r"[ .\-]?"
# A number must not run on into more digits or letters on either side.
_L = r"(?<![\w+])"
_R = r"(?![\w])"

_PHONE_PATTERNS = [
    # Mexico: +52 (1) 55 1234 5678, (55) 1234-5678, 55-1234-5678, 222 123 4567.
    rf"(?:\+|00)52{_SEP}(?:1{_SEP})?\(?\d{{2,3}}\)?{_SEP}\d{{3,4}}{_SEP}\d{{4}}{_R}",
    rf"{_L}\(\d{{2,3}}\){_SEP}\d{{3,4}}{_SEP}\d{{4}}{_R}",
    rf"{_L}(?:044|045|01){_SEP}\d{{2,3}}{_SEP}\d{{3,4}}{_SEP}\d{{4}}{_R}",
    rf"{_L}\d{{2}}[ .\-]\d{{4}}[ .\-]\d{{4}}{_R}",
    rf"{_L}\d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}{_R}",
    # Central America: +502..+507 and Belize +501: 8 digits (4-4) or 7 (3-4).
    rf"(?:\+|00)50[1-7]{_SEP}\d{{3,4}}{_SEP}\d{{4}}{_R}",
    rf"{_L}[2-9]\d{{3}}[ \-]\d{{4}}{_R}",
    # Canada / North America: +1 (416) 555-0123, 1-800-555-0123, 416.555.0123.
    rf"(?:(?:\+|00)1{_SEP}|{_L}1[ .\-])?\(?[2-9]\d{{2}}\)?{_SEP}[2-9]\d{{2}}[ .\-]\d{{4}}{_R}",
    rf"{_L}\([2-9]\d{{2}}\){_SEP}[2-9]\d{{2}}{_SEP}\d{{4}}{_R}",
    # International: +CC then groups, 7 to 15 digits in all.
    r"(?:\+|(?<!\d)00)[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){2,7}(?!\w)",
]
_PHONE = re.compile("|".join(f"(?:{p})" for p in _PHONE_PATTERNS))
_PHONE_CANDIDATE = re.compile(r"[+(\d][\d ().\-+]{5,40}\d")
_PHONE_LABEL = re.compile(
    r"(?<!\w)(?:tel|tel[eé]fono|telefono|telephone|t[eé]l[eé]phone|phone|tel[eé]f|cel|celular|cell|mobile|m[oó]vil"
    r"|movil|portable|whatsapp|signal|telegram|fax|contacto|contact|numero de telefono|phone number)\b"
    r"[^\w\n]{0,4}(?:(?:no|n|num|number|numero)\b[^\w\n]{0,3})?(?::|\.|#)?\s?")
_LABELLED_NUMBER = re.compile(r"\+?\(?\d[\d ()./\-]{5,22}\d(?!\w)")

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-%]{1,64}\s?@\s?[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
                    r"(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*\.[a-z]{2,24}(?!\w)")

_STATES = ("as|bc|bs|cc|cl|cm|cs|ch|df|dg|gt|gr|hg|jc|mc|mn|ms|nt|nl|oc|pl|qt|qr|sp|sl|sr|tc|ts|tl|vz|yn|zs|ne")
_CURP = re.compile(rf"(?<![a-z0-9])[a-z][aeioux][a-z]{{2}}\d{{2}}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[hmx]"
                   rf"(?:{_STATES})[b-df-hj-np-tv-z]{{3}}[a-z0-9]\d(?![a-z0-9])")

_ID_LABEL = re.compile(
    r"(?<!\w)(?:"
    r"passport|pasaporte|passeport|travel document|documento de viaje|document de voyage"
    r"|national id(?:entity)?(?: card)?|identity card|id card|id no|id number|identification number"
    r"|identity number|personal id|carte d.identite|carte nationale d.identite|numero d.identite"
    r"|piece d.identite|cedula(?: de identidad)?(?: de ciudadania)?|documento (?:nacional )?de identidad"
    r"|tarjeta de identidad|dui|dpi|cui|nie|nif|dni|ine|ife|clave de elector|credencial para votar"
    r"|identidad|uci|client id|numero de identidad|no de identidad|numero de documento|document number"
    r"|n(?:o|um|umero)? de pasaporte|n(?:o|um|umero)? de passeport|passport number"
    r")\b"
    r"(?:[^\w\n]{0,3}(?:no|n|nr|num|number|numero|#|o)\b)?[^\w\n]{0,4}(?:\n|\s)?")
_ID_VALUE = re.compile(r"(?:[a-z]{1,6}|[a-z]{1,3}[\- ])?\d[\da-z]*(?:[\- ]?[a-z]{0,3}\d[\da-z]*){0,4}(?![\w])")

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
    r"|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
    r"|ene|abr|ago|dic"
    r"|janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"
    r"|janv|fevr|avr|juil|sept|oct|nov|dec")
_DATE_VALUE = re.compile(
    r"(?:"
    r"\d{1,2}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?(?:\d{4}|\d{2})"  # 12/03/1990, 12-03-90
    r"|\d{4}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?\d{1,2}"  # 1990-03-12
    rf"|(?:\d{{1,2}}|1er)(?:st|nd|rd|th)?\s?(?:de\s|of\s)?(?:{_MONTHS})\.?,?\s?(?:de\s|del\s)?\d{{4}}"  # 12 de marzo de 1990
    rf"|(?:{_MONTHS})\.?\s\d{{1,2}}(?:st|nd|rd|th)?,?\s\d{{4}}"  # March 12, 1990
    r")(?!\w)")
_DOB_LABEL = re.compile(
    r"(?<!\w)(?:date of birth|birth date|birthdate|date of birth \(dd/mm/yyyy\)|d\.?o\.?b|born on|born"
    r"|fecha de nacimiento|fecha nacimiento|f\.? de nac|fecha de nac|fec\.? nac|nacido el|nacida el|nacido\(a\) el"
    r"|nacid[oa] en \w+ el|nacimiento|date de naissance|date naissance|ne le|nee le|ne\(e\) le|nee? le"
    r"|naissance)\b[^\w\n]{0,4}(?:\(?(?:dd|jj)[/.\-]mm[/.\-](?:yyyy|aaaa|yy|aa)\)?[^\w\n]{0,3})?(?:\n|\s)?")


def _digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def _is_year_range(s: str) -> bool:
    m = re.fullmatch(r"((?:19|20)\d\d)[ \-](\d{4})", s)
    return bool(m and m.group(2)[:2] in ("19", "20"))


def detect(folded: str, only: set[str] | None = None) -> list[Hit]:
    """Every detector hit in ``folded`` (text from :func:`fold`), in order of position.

    ``only`` limits the detectors to those whose category is in it (None: all)."""
    want = {name for name, cat in DETECTOR_CATEGORIES.items() if only is None or cat in only}
    hits: list[Hit] = []

    def add(name: str, start: int, end: int) -> None:
        value = folded[start:end].strip()
        if not value:
            return
        start += len(folded[start:end]) - len(folded[start:end].lstrip())
        end = start + len(value)
        hits.append(Hit(name, DETECTOR_CATEGORIES[name], start, end, value))

    if "email" in want:
        for m in _EMAIL.finditer(folded):
            add("email", m.start(), m.end())
    if "phone" in want:
        # The full patterns only where a run of digits and separators is long enough.
        for c in _PHONE_CANDIDATE.finditer(folded):
            for m in _PHONE.finditer(folded, max(0, c.start() - 2), min(len(folded), c.end() + 1)):
                s = m.group(0)
                if 7 <= _digits(s) <= 15 and not _is_year_range(s):
                    add("phone", m.start(), m.end())
        for m in _PHONE_LABEL.finditer(folded):
            v = _LABELLED_NUMBER.match(folded, m.end())
            if v and 7 <= _digits(v.group(0)) <= 15:
                add("phone", v.start(), v.end())
    if "curp" in want:
        for m in _CURP.finditer(folded):
            add("curp", m.start(), m.end())
    if "id-label" in want:
        for m in _ID_LABEL.finditer(folded):
            v = _ID_VALUE.match(folded, m.end())
            if v and _digits(v.group(0)) >= 2 and len(v.group(0).replace(" ", "").replace("-", "")) >= 4:
                if not _DATE_VALUE.fullmatch(v.group(0).strip()):
                    add("id-label", v.start(), v.end())
    if "birth-date" in want:
        for m in _DOB_LABEL.finditer(folded):
            v = _DATE_VALUE.match(folded, m.end())
            if v:
                add("birth-date", v.start(), v.end())
    hits.sort(key=lambda h: (h.start, -h.end))
    # Drop hits inside another hit.
    out: list[Hit] = []
    for h in hits:
        if out and h.start >= out[-1].start and h.end <= out[-1].end:
            continue
        out.append(h)
    return out


def needles_in(hits: list[Hit]) -> list[Needle]:
    """The detector hits as needles (to find the same secret elsewhere and check it is gone)."""
    seen: dict[str, Needle] = {}
    for h in hits:
        if h.value not in seen:
            seen[h.value] = Needle(f"detector:{h.detector}", h.category, "detector", h.value)
    return list(seen.values())
