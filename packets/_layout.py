"""The layout of the pages assemble generates: cover letter, index, separators, the
translator's declaration. Text is laid out as drawing operations (:class:`Page`) before
anything is drawn, in the words of the packet's language (:data:`WORDS`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .profiles import DEFAULT_INDEX_TITLE, Profile
from .render import Fonts

BODY_SIZE = 12.0
BODY_LEADING = 16.0
HEADING_SIZE = 16.0
SEPARATOR_SIZE = 20.0
CELL_PAD = 3.0
STAMP_SIZE = 12.0  # the IRB asks for type of at least 12 points; page numbers included
STAMP_FONT = "Helvetica"  # a standard font: no embedding, and labels are WinAnsi text

# ------------------------------------------------------------------------------ words

WORDS = {
    "en": {
        "number": "No.", "title": "Title", "type": "Type", "section": "Section", "language": "Language",
        "date": "Date", "pages": "Pages", "bates": "Bates numbers", "volume": "Vol. {n}: {pages}",
        "other": "Other documents", "packet": "referral packet", "of_volumes": "volume {n} of {k}",
    },
    "fr": {
        "number": "N°", "title": "Titre", "type": "Type", "section": "Section", "language": "Langue",
        "date": "Date", "pages": "Pages", "bates": "Numéros Bates", "volume": "Vol. {n} : {pages}",
        "other": "Autres documents", "packet": "dossier de recommandation", "of_volumes": "volume {n} de {k}",
    },
    "es": {
        "number": "N.º", "title": "Título", "type": "Tipo", "section": "Sección", "language": "Idioma",
        "date": "Fecha", "pages": "Páginas", "bates": "Números Bates", "volume": "Vol. {n}: {pages}",
        "other": "Otros documentos", "packet": "expediente de remisión", "of_volumes": "volumen {n} de {k}",
    },
}

TYPE_NAMES = {
    "en": {
        "identity": "Identity document", "civil-status": "Civil status", "medical": "Medical",
        "psychological": "Psychological", "legal-declaration": "Declaration",
        "country-evidence": "Country evidence", "correspondence": "Correspondence", "photo": "Photograph",
        "translation": "Translation", "other": "Other",
    },
    "fr": {
        "identity": "Pièce d'identité", "civil-status": "État civil", "medical": "Médical",
        "psychological": "Psychologique", "legal-declaration": "Déclaration",
        "country-evidence": "Preuve sur le pays", "correspondence": "Correspondance", "photo": "Photographie",
        "translation": "Traduction", "other": "Autre",
    },
    "es": {
        "identity": "Documento de identidad", "civil-status": "Estado civil", "medical": "Médico",
        "psychological": "Psicológico", "legal-declaration": "Declaración",
        "country-evidence": "Pruebas sobre el país", "correspondence": "Correspondencia", "photo": "Fotografía",
        "translation": "Traducción", "other": "Otro",
    },
}

LANGUAGE_NAMES = {
    "en": {"en": "English", "fr": "French", "es": "Spanish"},
    "fr": {"en": "anglais", "fr": "français", "es": "espagnol"},
    "es": {"en": "inglés", "fr": "francés", "es": "español"},
}


# What each redaction category's redactions are called in a cover letter (plural nouns).
CATEGORY_NAMES = {
    "en": {"contact": "contact details", "location": "places", "id-number": "identity numbers",
           "third-party": "names of other people", "network": "details of the support network",
           "legal-strategy": "notes on legal strategy", "health": "health details",
           "always": "other details marked by the legal team", "applicant-name": "the applicant's names"},
    "fr": {"contact": "coordonnées", "location": "lieux", "id-number": "numéros d'identité",
           "third-party": "noms d'autres personnes", "network": "éléments sur le réseau de soutien",
           "legal-strategy": "notes de stratégie juridique", "health": "éléments de santé",
           "always": "autres éléments signalés par l'équipe juridique", "applicant-name": "noms du demandeur"},
    "es": {"contact": "datos de contacto", "location": "lugares", "id-number": "números de identidad",
           "third-party": "nombres de otras personas", "network": "datos de la red de apoyo",
           "legal-strategy": "notas de estrategia jurídica", "health": "datos de salud",
           "always": "otros datos señalados por el equipo jurídico", "applicant-name": "nombres del solicitante"},
}
_REDACTED = {
    "en": ("What was redacted, by kind: {list}.", "No text was redacted from these documents."),
    "fr": ("Éléments caviardés, par nature : {list}.", "Aucun texte n'a été caviardé dans ces documents."),
    "es": ("Datos tachados, por tipo: {list}.", "No se tachó ningún texto de estos documentos."),
}


def redaction_statement(counts: dict | None, lang: str) -> str:
    """The cover letter's sentence on redaction, from what was applied (counts per category),
    never from what the profile intends: a category with nothing redacted is not named.
    ``counts`` is the redaction stage's summary; None (no redaction stage ran) says nothing."""
    if counts is None:
        return ""
    per = {k: v for k, v in dict(counts.get("categories") or {}).items() if v}
    some, none = _REDACTED[lang]
    if not per:
        return none
    names = CATEGORY_NAMES[lang]
    return some.format(list=", ".join(f"{names.get(c, c)} ({n})" for c, n in sorted(per.items())))


def language_name(code: str | None, lang: str) -> str:
    if not code:
        return ""
    return LANGUAGE_NAMES[lang].get(code, code)

# --------------------------------------------------------------------------- layout


@dataclass
class Page:
    """A generated page as drawing operations, laid out before anything is drawn."""

    ops: list = field(default_factory=list)  # ("t", font, size, x, y, text) | ("l", x0, y0, x1, y1)
    links: list = field(default_factory=list)  # (x0, y0, x1, y1, document index)


def text_width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; words longer than ``width`` are broken between characters."""
    width = max(width, size)
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, font, size) <= width:
            line = candidate
            continue
        if line:
            out.append(line)
            line = ""
        while text_width(word, font, size) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], font, size) > width:
                cut -= 1
            out.append(word[:cut])
            word = word[cut:]
        line = word
    out.append(line)
    return out


class _Flow:
    """Lays out lines top to bottom inside the content area, starting new pages."""

    def __init__(self, area: tuple[float, float, float, float]) -> None:
        self.area = area
        self.pages: list[Page] = []
        self.y = 0.0
        self.new_page()

    def new_page(self) -> None:
        self.pages.append(Page())
        self.y = self.area[3]

    @property
    def page(self) -> Page:
        return self.pages[-1]

    def room(self) -> float:
        return self.y - self.area[1]

    def paragraph(self, text: str, font: str, size: float, leading: float, gap: float,
                  align: str = "left") -> None:
        x0, _b, x1, _t = self.area
        for raw in text.split("\n"):
            for line in wrap(raw.strip(), font, size, x1 - x0):
                if self.room() < leading and self.y < self.area[3]:
                    self.new_page()
                self.y -= leading
                x = x0 if align == "left" else x0 + (x1 - x0 - text_width(line, font, size)) / 2
                if line:
                    self.page.ops.append(("t", font, size, x, self.y + (leading - size) * 0.5, line))
        self.y -= gap


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if p.strip()]


def layout_letter(text: str, f: Fonts, area, first_bold: bool = False) -> list[Page]:
    flow = _Flow(area)
    for i, para in enumerate(_paragraphs(text)):
        if i == 0 and first_bold:
            flow.paragraph(para, f.bold, HEADING_SIZE - 2, BODY_LEADING + 2, BODY_LEADING)
        else:
            flow.paragraph(para, f.regular, BODY_SIZE, BODY_LEADING, BODY_LEADING * 0.6)
    return flow.pages


def layout_separator(title: str, f: Fonts, area, page_height: float) -> Page:
    flow = _Flow(area)
    flow.y = min(area[3], page_height * 0.62)
    flow.paragraph(title, f.bold, SEPARATOR_SIZE, SEPARATOR_SIZE * 1.3, 0, align="center")
    return flow.pages[0]


@dataclass
class Entry:
    cells: dict[str, str]
    link: int | None  # document index to link to, or None (document in a later volume)
    heading: str | None = None  # a section heading row instead of an entry


def column_widths(columns: list[str], header: dict[str, str], rows: list[dict[str, str]],
                   f: Fonts, avail: float) -> list[float]:
    natural = []
    for c in columns:
        w = text_width(header[c], f.bold, BODY_SIZE)
        for r in rows:
            w = max(w, text_width(r[c], f.regular, BODY_SIZE))
        natural.append(w + 2 * CELL_PAD)
    total = sum(natural)
    flex = [i for i, c in enumerate(columns) if c in ("title", "type", "section")]
    if total <= avail:
        extra = avail - total
        if "title" in columns:
            natural[columns.index("title")] += extra
        return natural
    fixed = sum(w for i, w in enumerate(natural) if i not in flex)
    flex_total = sum(natural[i] for i in flex)
    remaining = avail - fixed
    if flex and remaining >= 48 * len(flex):
        return [natural[i] * remaining / flex_total if i in flex else natural[i] for i in range(len(columns))]
    return [w * avail / total for w in natural]


def _index_list(flow: _Flow, entries: list[Entry], columns: list[str], f: Fonts, words: dict, area) -> None:
    x0, _b, x1, _t = area
    for e in entries:
        if e.heading is not None:
            if flow.room() < 3 * BODY_LEADING:
                flow.new_page()
            flow.y -= BODY_LEADING * 0.4
            flow.paragraph(e.heading, f.bold, BODY_SIZE, BODY_LEADING, BODY_LEADING * 0.2)
            continue
        parts = []
        for c in columns:
            if c == "number":
                continue
            v = e.cells[c]
            if v and c in ("pages", "bates"):
                v = f"{words[c]} {v}"
            if v:
                parts.append(v)
        text = (f"{e.cells['number']}. " if "number" in columns else "") + " — ".join(parts)
        lines = wrap(text, f.regular, BODY_SIZE, x1 - x0 - 12)
        if flow.room() < len(lines) * BODY_LEADING and flow.y < area[3]:
            flow.new_page()
        top = flow.y
        for k, line in enumerate(lines):
            flow.y -= BODY_LEADING
            flow.page.ops.append(("t", f.regular, BODY_SIZE, x0 + (12 if k else 0),
                                  flow.y + (BODY_LEADING - BODY_SIZE) * 0.5, line))
        if e.link is not None:
            flow.page.links.append((x0, flow.y, x1, top, e.link))
        flow.y -= BODY_LEADING * 0.3


class _Table:
    """Draws the index as a table: a header row on every page, rows that never split."""

    def __init__(self, flow: _Flow, columns: list[str], words: dict, f: Fonts, rows: list[dict[str, str]], area):
        self.flow, self.columns, self.f, self.area = flow, columns, f, area
        self.header = {c: words[c] for c in columns}
        self.widths = column_widths(columns, self.header, rows, f, area[2] - area[0])
        self.header_lines = self.lines_of(self.header, f.bold)
        self.header_h = self.height(self.header_lines)

    def lines_of(self, cells: dict[str, str], font: str) -> list[list[str]]:
        return [wrap(cells[c], font, BODY_SIZE, w - 2 * CELL_PAD) for c, w in zip(self.columns, self.widths)]

    @staticmethod
    def height(cell_lines: list[list[str]]) -> float:
        return max(len(ls) for ls in cell_lines) * BODY_LEADING + 2 * CELL_PAD

    def row(self, cell_lines: list[list[str]], font: str, height: float) -> None:
        flow, x0, x1 = self.flow, self.area[0], self.area[2]
        top = flow.y
        x = x0
        for ls, w in zip(cell_lines, self.widths):
            for k, line in enumerate(ls):
                base = top - CELL_PAD - (k + 1) * BODY_LEADING + (BODY_LEADING - BODY_SIZE) * 0.5
                if line:
                    flow.page.ops.append(("t", font, BODY_SIZE, x + CELL_PAD, base, line))
            x += w
        flow.y -= height
        flow.page.ops.append(("l", x0, flow.y, x1, flow.y))

    def draw_header(self) -> None:
        self.row(self.header_lines, self.f.bold, self.header_h)

    def heading(self, text: str, following: Entry | None) -> None:
        flow, f, x0, x1 = self.flow, self.f, self.area[0], self.area[2]
        head = wrap(text, f.bold, BODY_SIZE, x1 - x0 - 2 * CELL_PAD)
        h = len(head) * BODY_LEADING + 2 * CELL_PAD + BODY_LEADING * 0.4
        need = h + (self.height(self.lines_of(following.cells, f.regular))
                    if following is not None and following.heading is None else 0)
        if flow.room() < need:
            flow.new_page()
            self.draw_header()
        flow.y -= BODY_LEADING * 0.4
        for k, line in enumerate(head):
            base = flow.y - CELL_PAD - (k + 1) * BODY_LEADING + (BODY_LEADING - BODY_SIZE) * 0.5
            flow.page.ops.append(("t", f.bold, BODY_SIZE, x0 + CELL_PAD, base, line))
        flow.y -= h - BODY_LEADING * 0.4

    def entry(self, e: Entry) -> None:
        flow = self.flow
        cell_lines = self.lines_of(e.cells, self.f.regular)
        h = self.height(cell_lines)
        if flow.room() < h:
            flow.new_page()
            self.draw_header()
        top = flow.y
        self.row(cell_lines, self.f.regular, h)
        if e.link is not None:
            flow.page.links.append((self.area[0], flow.y, self.area[2], top, e.link))


def layout_index(profile: Profile, f: Fonts, lang: str, entries: list[Entry], area) -> list[Page]:
    """The index pages: its title, then a list or a table of the entries."""
    words = WORDS[lang]
    title = profile.index.title.get(lang) or DEFAULT_INDEX_TITLE[lang]
    flow = _Flow(area)
    flow.paragraph(title, f.bold, HEADING_SIZE, HEADING_SIZE * 1.4, BODY_LEADING * 0.5)
    columns = list(profile.index.columns)
    if profile.index.style == "list":
        _index_list(flow, entries, columns, f, words, area)
        return flow.pages
    table = _Table(flow, columns, words, f, [e.cells for e in entries if e.heading is None], area)
    table.draw_header()
    for n, e in enumerate(entries):
        if e.heading is not None:
            table.heading(e.heading, entries[n + 1] if n + 1 < len(entries) else None)
        else:
            table.entry(e)
    return flow.pages


# --------------------------------------------------------------------------- stamps


def pdf_string(text: str) -> bytes:
    """``text`` as a PDF literal string in WinAnsi (cp1252)."""
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def stamp_box(text: str, position: str, profile: Profile) -> tuple[float, float, float, float]:
    """Where a page-number stamp of ``text`` goes: x, y, width, height."""
    w = text_width(text, STAMP_FONT, STAMP_SIZE) + 2 * CELL_PAD
    h = STAMP_SIZE + 2 * CELL_PAD
    pw, ph, m = profile.page_width, profile.page_height, profile.margins
    vert, horiz = position.split("-")
    if horiz == "left":
        x = m.left
    elif horiz == "right":
        x = pw - m.right - w
    else:
        x = (pw - w) / 2
    x = min(max(x, 2.0), pw - 2.0 - w)
    if vert == "bottom":
        y = max(2.0, (m.bottom - h) / 2)
    else:
        y = ph - max(2.0, (m.top - h) / 2) - h
    return x, y, w, h
