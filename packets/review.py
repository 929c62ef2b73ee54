"""The review report: what the redaction stage did, for the case lead (never sent).

A PDF with:

* the counts per category, and every redaction: document id, page, category, rule id
  (a case rule, ``detector:NAME`` for a detector find, or the region rule) and kind;
* the pages that were flattened and why;
* the pages that are **not searchable** (no text layer: scans and photographs), where
  rules could not apply and only a person (or OCR) can find what must go;
* a preview of every page with a redaction or without a text layer, as it leaves (after
  redaction), with each redaction box outlined in red and labelled with its rule.

The report shows the redacted pages, never the originals, and names documents by their
opaque ids, never their titles, so it holds nothing the packet does not hold except rule
ids and categories; the build runs the same leak check on it as on the packet.
"""

from __future__ import annotations

import io

from .redact import MARGIN, PageInfo, Redactor

__all__ = ["PREVIEW_DPI", "review_report"]

PREVIEW_DPI = 72
_PAGE = (612.0, 792.0)
_M = 48.0


def _previews(redactor: Redactor, wanted: list[PageInfo]):
    """(info, PIL image) for each page in ``wanted``, rendered from the redacted pages."""
    import pypdfium2 as pdfium

    by_doc: dict[str, list[PageInfo]] = {}
    for info in wanted:
        by_doc.setdefault(info.doc_id, []).append(info)
    out = {}
    for doc_id, infos in by_doc.items():
        data = redactor.outputs.get(doc_id)
        if data is None:
            continue
        doc = pdfium.PdfDocument(data)
        try:
            for info in infos:
                page = doc[info.page - 1]
                try:
                    im = page.render(scale=PREVIEW_DPI / 72.0, draw_annots=False, rev_byteorder=True).to_pil()
                finally:
                    page.close()
                out[(doc_id, info.page)] = im.convert("RGB")
        finally:
            doc.close()
    return [(info, out[(info.doc_id, info.page)]) for info in wanted if (info.doc_id, info.page) in out]


class _Lines:
    """Lines of text down the report's pages, starting a new page when one is full."""

    def __init__(self, c) -> None:
        self.c = c
        self.y = _PAGE[1] - _M

    def __call__(self, text: str, size: float = 10, bold: bool = False, gap: float = 4, mono: bool = False) -> None:
        if self.y < _M + size:
            self.c.showPage()
            self.y = _PAGE[1] - _M
        font = ("Courier-Bold" if bold else "Courier") if mono else ("Helvetica-Bold" if bold else "Helvetica")
        self.c.setFont(font, size)
        self.c.drawString(_M, self.y - size, text)
        self.y -= size + gap


def _summary(line: _Lines, redactor: Redactor, profile_id: str, date: str) -> None:
    pages = redactor.pages
    summary = redactor.summary()
    line("Redaction review - for the case lead; never send this file", 15, True, 8)
    line(f"Recipient profile: {profile_id}    Date: {date}    Flatten: {summary['flatten']}")
    line(f"Pages: {len(pages)}; flattened: {summary['pages_flattened']}; "
         f"not searchable: {summary['pages_not_searchable']}; titles redacted: {summary['titles_redacted']}")
    if "faces_pixelated" in summary:
        line(f"Face areas pixelated: {summary['faces_pixelated']} (where the face detector fired, false alarms "
             "included; a face it missed stays: look at every photo)")
    cats = ", ".join(f"{k}: {v}" for k, v in summary["categories"].items()) or "none"
    line(f"Redactions per category: {cats}", gap=10)
    line("Check every preview: the red outlines are what was removed; look for anything the rules missed.",
         9, gap=12)


def _tables(line: _Lines, pages: list[PageInfo]) -> None:
    line("Redactions", 12, True, 6)
    marks = [m for p in pages for m in p.marks]
    if not marks:
        line("No redaction was applied.")
    else:
        line("document            page  category          rule                   kind      boxes", 8, True, mono=True)
        for m in marks:  # the document's own part of its id (every one starts with the case's), as doc get takes it
            line(f"{(m.doc_id.partition('-')[2] or m.doc_id)[:18]:<18}  {m.page:>4}  {m.category[:16]:<16}  {m.rule[:21]:<21}  {m.kind:<8}  "
                 f"{len(m.boxes):>5}", 8, mono=True)
    line.y -= 8
    line("Flattened pages (rebuilt from pixels)", 12, True, 6)
    flat = [p for p in pages if p.flattened]
    if not flat:
        line("None.")
    for p in flat:
        why = ", ".join(p.reasons) if p.reasons else "redactions"
        line(f"document {p.doc_id}, page {p.page}: {why}", 9)
    line.y -= 8
    line("Pages without a text layer (scans, photographs)", 12, True, 6)
    blind = [p for p in pages if not p.searchable]
    if not blind:
        line("None: every page has a text layer.")
    for p in blind:
        line(f"document {p.doc_id}, page {p.page}: {_blind_status(p)}", 9)


def _legend(info: PageInfo) -> list[str]:
    """Each redaction's number, as tagged on its boxes, in lines of at most about 110 characters."""
    entries = []
    for n, m in enumerate(info.marks, 1):
        where = "" if m.boxes else ", in the page's data: page flattened"
        entries.append(f"{n}: {m.rule} ({m.category}, {m.kind}{where})")
    legend, current = [], ""
    for e in entries:
        if current and len(current) + len(e) > 110:
            legend.append(current)
            current = ""
        current = f"{current}   {e}" if current else e
    if current:
        legend.append(current)
    return legend


def _outline_marks(c, info: PageInfo, x0: float, y0: float, scale: float) -> None:
    """A red outline, tagged with its number, around every box that was burned out."""
    c.setStrokeColorRGB(0.9, 0.05, 0.05)
    c.setLineWidth(1.2)
    c.setFont("Helvetica-Bold", 6)
    for n, m in enumerate(info.marks, 1):
        for b in m.boxes:
            bx0, by0 = x0 + (b[0] - MARGIN) * scale, y0 + (b[1] - MARGIN) * scale
            bw, bh = (b[2] - b[0] + 2 * MARGIN) * scale, (b[3] - b[1] + 2 * MARGIN) * scale
            c.rect(bx0, by0, bw, bh, stroke=1, fill=0)
            tag = str(n)
            tw = c.stringWidth(tag, "Helvetica-Bold", 6) + 2
            c.setFillColorRGB(0.9, 0.05, 0.05)
            c.rect(bx0, by0 + bh, tw, 7, stroke=0, fill=1)
            c.setFillColorRGB(1, 1, 1)
            c.drawString(bx0 + 1, by0 + bh + 1.2, tag)
    c.setFillColorRGB(0, 0, 0)


def _preview(c, info: PageInfo, im) -> None:
    """One page of the report: a redacted page's image with its redactions outlined."""
    from reportlab.lib.utils import ImageReader

    w, h = _PAGE
    c.showPage()
    c.setFillColorRGB(0, 0, 0)
    c.setFont("Helvetica-Bold", 12)
    status = f"{_blind_status(info)}; {len(info.marks)} redaction(s)" if not info.searchable \
        else f"{len(info.marks)} redaction(s)"
    c.drawString(_M, h - _M - 12, f"Preview: document {info.doc_id}, page {info.page} ({status})")
    legend = _legend(info)
    c.setFont("Helvetica", 8)
    ly = h - _M - 26
    for text in legend[:8]:
        c.drawString(_M, ly, text)
        ly -= 10
    if len(legend) > 8:
        c.drawString(_M, ly, "... (the table on the first pages lists them all)")
        ly -= 10
    top = ly - 4
    avail_w, avail_h = w - 2 * _M, top - _M
    scale = min(avail_w / info.width, avail_h / info.height)
    pw, ph = info.width * scale, info.height * scale
    x0, y0 = _M + (avail_w - pw) / 2, _M
    c.drawImage(ImageReader(im), x0, y0, pw, ph)
    c.setStrokeColorRGB(0.6, 0.6, 0.6)
    c.setLineWidth(0.5)
    c.rect(x0, y0, pw, ph)
    _outline_marks(c, info, x0, y0, scale)


def review_report(redactor: Redactor, profile_id: str, date: str, coverage: dict | None = None) -> bytes:
    """The review report for a packet built with ``redactor``, as PDF bytes: a summary,
    the tables of redactions, flattened pages and pages without text, what covers each
    promised category and the names nobody registered (``coverage``, packets/coverage.py),
    then a preview of every page with a redaction or without text."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=_PAGE, invariant=1, pageCompression=1)
    c.setTitle("Redaction review")
    c.setAuthor("")
    c.setCreator("refuge")
    c.setProducer("refuge")
    line = _Lines(c)
    _summary(line, redactor, profile_id, date)
    _tables(line, redactor.pages)
    if coverage:
        _coverage(line, coverage)
    wanted = [p for p in redactor.pages if p.marks or not p.searchable]
    for info, im in _previews(redactor, wanted):
        _preview(c, info, im)
    c.showPage()
    c.save()
    return buf.getvalue()


def _coverage(line: _Lines, coverage: dict) -> None:
    """Per promised category, what covers it; the gaps accepted; the names found that nobody registered."""
    safe = lambda text: str(text).encode("cp1252", "replace").decode("cp1252")[:110]  # noqa: E731
    line.y -= 8
    line("Coverage of what the profile promises", 12, True, 6)
    for cat, row in dict(coverage.get("categories") or {}).items():
        line(safe(f"{cat}: {row.get('register', 0)} registered, {row.get('terms', 0)} terms, "
                  f"{row.get('detectors', 0)} detectors, {row.get('candidates', 0)} names unreviewed"), 9)
    for gap in coverage.get("accepted") or []:
        line(safe(f"gap accepted: {gap}"), 9)
    found = list(coverage.get("candidates") or [])
    line(f"Names and places found that nobody registered, added as a term or dismissed: {len(found) or 'none'}",
         9, True, 4)
    for c in found[:200]:
        line(safe(f"{c.get('kind', '')}: {c.get('text', '')} ({c.get('doc', '')} page {c.get('page', '')})"), 8,
             mono=True)


def _blind_status(p) -> str:
    """How rules reached a page with no text layer: through recognition, or not at all."""
    if p.ocr_confidence is None:
        return "not searchable: rules could not apply (no recognition), a person must check it"
    state = f"recognised by OCR at {p.ocr_confidence:.0f}% confidence"
    return state + ("; below the threshold: a person must check it" if p.needs_review else "; rules applied")
