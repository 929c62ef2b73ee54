"""The layout of the pages assemble generates: cover letter, index, separators, the
translator's declaration. Text is laid out as drawing operations (:class:`Page`) before
anything is drawn, in the words of the packet's language (:data:`WORDS`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .profiles import CASE_FIELDS, DEFAULT_INDEX_TITLE, Profile

if TYPE_CHECKING:  # a name for annotations: the process that signs reads the letter's words, not fonts
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
        "file": "File {name}", "cover_file": "This letter and the index: file {name}",
    },
    "fr": {
        "number": "N°", "title": "Titre", "type": "Type", "section": "Section", "language": "Langue",
        "date": "Date", "pages": "Pages", "bates": "Numéros Bates", "volume": "Vol. {n} : {pages}",
        "other": "Autres documents", "packet": "dossier de recommandation", "of_volumes": "volume {n} de {k}",
        "file": "Fichier {name}", "cover_file": "Cette lettre et l'index : fichier {name}",
    },
    "es": {
        "number": "N.º", "title": "Título", "type": "Tipo", "section": "Sección", "language": "Idioma",
        "date": "Fecha", "pages": "Páginas", "bates": "Números Bates", "volume": "Vol. {n}: {pages}",
        "other": "Otros documentos", "packet": "expediente de remisión", "of_volumes": "volumen {n} de {k}",
        "file": "Archivo {name}", "cover_file": "Esta carta y el índice: archivo {name}",
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


# ------------------------------------------------------------------------------ letters

# The words of a lawyer's letter that are not the profile's: the parts made from the
# organisation's details (vault/orgdetails.py) and the case's (vault/casefields.py).
LETTER_WORDS = {
    "en": {"no_sender": "the referring legal team", "re": "Re:", "enclosures": "Enclosures ({n}): {list}.",
           "contact": "Please direct any question about this letter to {who}", "signoff": "Yours sincerely,",
           "counsel": "Counsel of record",
           "fields": {"client_name": "Client", "uci": "UCI", "irb_file_number": "IRB file number",
                      "unhcr_case_number": "UNHCR case number", "hearing_date": "Hearing date",
                      "other_party": "Other party"},
           "served_by": {"email": "e-mail", "mail": "regular mail", "registered-mail": "registered mail",
                         "courier": "courier", "fax": "fax", "hand": "hand delivery",
                         "portal": "the recipient's electronic filing portal"}},
    "fr": {"no_sender": "l'équipe juridique expéditrice", "re": "Objet :", "enclosures": "Pièces jointes ({n}) : {list}.",
           "contact": "Pour toute question concernant la présente lettre, veuillez communiquer avec {who}",
           "signoff": "Veuillez agréer l'expression de nos salutations distinguées.",
           "counsel": "Conseil inscrit au dossier",
           "fields": {"client_name": "Client(e)", "uci": "IUC", "irb_file_number": "Numéro de dossier de la CISR",
                      "unhcr_case_number": "Numéro de dossier du HCR", "hearing_date": "Date de l'audience",
                      "other_party": "Autre partie"},
           "served_by": {"email": "courriel", "mail": "courrier ordinaire", "registered-mail": "courrier recommandé",
                         "courier": "messagerie", "fax": "télécopieur", "hand": "remise en mains propres",
                         "portal": "le portail de dépôt électronique du destinataire"}},
    "es": {"no_sender": "el equipo jurídico remitente", "re": "Ref.:", "enclosures": "Anexos ({n}): {list}.",
           "contact": "Para cualquier consulta sobre esta carta, comuníquese con {who}", "signoff": "Atentamente,",
           "counsel": "Abogado/a a cargo del expediente",
           "fields": {"client_name": "Cliente", "uci": "UCI", "irb_file_number": "Número de expediente de la IRB",
                      "unhcr_case_number": "Número de caso del ACNUR", "hearing_date": "Fecha de la audiencia",
                      "other_party": "Otra parte"},
           "served_by": {"email": "correo electrónico", "mail": "correo ordinario", "registered-mail": "correo certificado",
                         "courier": "mensajería", "fax": "fax", "hand": "entrega en mano",
                         "portal": "el portal de presentación electrónica del destinatario"}},
}
#: How a packet may be served on the other party (RPD Rules r. 39: by hand, mail, courier,
#: fax, e-mail or another electronic means the Division allows).
SERVICE_METHODS = tuple(LETTER_WORDS["en"]["served_by"])
PAGE_BREAK = "\f"  # a paragraph of its own: the letter continues on a new page


def _show_field(name: str, value: str) -> str:
    if name == "uci" and value.isdigit() and len(value) in (8, 10):
        return f"{value[:4]}-{value[4:]}" if len(value) == 8 else f"{value[:2]}-{value[2:6]}-{value[6:]}"
    return value


def letter_values(profile: Profile, letter: dict | None, items, lang: str) -> dict[str, str]:
    """The cover letter's placeholders made from the sender's and the case's details, in ``lang``.

    ``letter`` holds ``sender`` (the sending organisation, or empty), ``org`` (its details:
    address, contact, counsel) and ``fields`` (the case's details); ``items`` are the
    packet's documents, for the list of enclosures. A part with nothing to say is empty.
    """
    letter = letter or {}
    w = LETTER_WORDS[lang]
    org, fields = dict(letter.get("org") or {}), dict(letter.get("fields") or {})
    sender = str(letter.get("sender") or "")
    counsel = org.get("counsel", "")
    head = [x for x in (sender, org.get("address", ""), org.get("contact", "")) if x]
    colon, semi = (" : ", " ; ") if lang == "fr" else (": ", "; ")  # French puts a space before both
    refs = [f"{w['fields'].get(n, n.replace('_', ' ').capitalize())}{colon}{_show_field(n, fields[n])}"
            for n in profile.references if fields.get(n)]
    counts: dict[str, int] = {}
    for it in items:
        counts[it.type] = counts.get(it.type, 0) + 1
    listed = semi.join(f"{TYPE_NAMES[lang].get(t, t)} ({n})" for t, n in counts.items())
    who = ", ".join(x for x in (counsel, sender) if x)
    contact = ""
    if who and org.get("contact"):
        contact = w["contact"].format(who=who) + f" ({org['contact']})."
    elif org.get("contact"):
        contact = w["contact"].format(who=org["contact"]) + "."
    sign = [x for x in (counsel, w["counsel"] if counsel else "", sender) if x] or [w["no_sender"]]
    values = {
        "recipient": (profile.addressee.get(lang) if profile.addressee else None) or profile.organisation,
        "sender_org": sender or w["no_sender"],
        "letterhead": "\n".join(head),
        "references": (w["re"] + " " + "\n".join(refs)) if refs else "",
        "enclosures": w["enclosures"].format(n=len(items), list=listed) if items else "",
        "contact": contact,
        "signoff": w["signoff"] + "\n\n" + "\n".join(sign),
    }
    values.update({n: _show_field(n, fields[n]) for n in profile.requires_fields if n in fields and n in CASE_FIELDS})
    return values


def _sentences(text: str, lang: str) -> str:
    """A line that a missing sender's words begin ("the referring legal team refers...") starts
    with a capital, as a sentence does; nothing else is changed (an e-mail address stays as is)."""
    phrase = LETTER_WORDS[lang]["no_sender"]
    return "\n".join(phrase[:1].upper() + line[1:] if line.startswith(phrase) else line for line in text.split("\n"))


def cover_text(profile: Profile, request, lang: str, **counts) -> str:
    """The cover letter of ``request`` in ``lang``: the profile's text with the sender's and the
    case's details, and, when the packet was served on another party, the statement of
    service on a page of its own. ``counts`` are document_count, page_count, volume_count
    and redactions."""
    letter = dict(getattr(request, "letter", None) or {})
    letter["sender"] = letter.get("sender") or request.sender_org  # a request made without the vault's details
    values = letter_values(profile, letter, request.items, lang)
    text = profile.cover_letter(lang, date=request.date, **values, **counts)
    service = letter.get("service")
    if service and profile.service_statement is not None:
        w = LETTER_WORDS[lang]
        statement = profile.service_statement.get(lang) or ""
        org = dict(letter.get("org") or {})
        text += "\n\n" + PAGE_BREAK + "\n\n" + statement.format(
            served_on=service["on"], served_by=w["served_by"].get(service["by"], service["by"]),
            served_at=service["at"], sender_org=values["sender_org"], counsel=org.get("counsel") or values["sender_org"],
            date=request.date, document_count=counts.get("document_count", 0), page_count=counts.get("page_count", 0))
    return _sentences(text, lang)


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
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n"))
            if p.strip() or p.strip("\n") == PAGE_BREAK]


def layout_letter(text: str, f: Fonts, area, first_bold: bool = False) -> list[Page]:
    flow = _Flow(area)
    for i, para in enumerate(_paragraphs(text)):
        if para == PAGE_BREAK:
            flow.new_page()
        elif i == 0 and first_bold:
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
