"""The redaction stage: find what must not leave, burn it out of the pixels, sanitize.

A :class:`Redactor` is built from the case's rules and the recipient profile; the
stage's entry point, :func:`redact_rendered`, passes each document's rendered pages
through it (``redactor(item, pdf_bytes) -> pdf_bytes``) and places the result on clean
pages again; :mod:`packets.build` runs it between render and assemble. What it applies:

* **case terms**: the ``always`` category in every packet, other categories when the
  profile lists them in ``redaction_categories`` (``identity-number`` and ``id-number``
  are one category);
* **detectors** (:mod:`packets.detectors`) of the categories the profile lists: phone
  numbers and e-mail addresses (``contact``), CURP, passport and national ID numbers
  and dates of birth next to their labels (``id-number``). What a detector finds in any
  source document is then searched for in every document, like a term;
* **regions** (region rules): a box on a page of one document, in PDF points
  with the origin at the bottom-left of the unrotated source page (for an image, one
  point per pixel of the upright image; for plain text, the packet page).

How text is matched: pdfium's text page of each rendered page gives its characters (text
in Form XObjects, TJ arrays, invisible text, rotated pages, every font encoding pdfium
can map to Unicode) with their boxes in page space; the text is folded (case, accents,
spacing, line breaks, hyphenation: :func:`packets.detectors.fold`) and matched, and each
match is mapped back to the boxes of the characters it covers. A page whose objects
hold a secret that the text page does not show (marked-content ``/ActualText``, say) is
flattened too. A page that uses optional content is always flattened, with the source's
hidden layers hidden: hidden content is removed, never made visible.

Removal: every page with a hit (or every page, when the profile says ``flatten = "all"``)
is rebuilt from pixels: rendered by pdfium at :data:`FLATTEN_DPI`, the boxes (plus
:data:`MARGIN` points) burned black into the pixels, the pixels re-encoded (grey levels
unless the page has colour; Flate when that is small, as for text, else a JPEG with no
metadata), and the page remade as that one image. Pages are flattened in a process
pool on every core. Pages with no text at all (scans, photographs) are reported as
"not searchable": rules could not apply there.

Document titles (and translator details) go onto generated pages (index, bookmarks,
declarations): :meth:`Redactor.prepare` replaces matches in them with ``[redacted]``
before assembly.

Nothing here writes to disk, and no error message holds a secret: messages name the
document id, the page and the rule id.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable

import pikepdf
from pikepdf import Name

from vault.errors import InvalidInput

from . import _pdf
from ._reveal import page_views
from ._flatten import (  # noqa: F401
    FLATTEN_DPI,
    JPEG_QUALITY,
    MARGIN,
    add_text_layers,
    flatten_pdf,
    known_text_layers,
    ocr_scale,
)
from ._barcodes import codes_in
from ._optional_content import prepare_optional_content as _prepare_optional_content
from ._pdf import Box
from ._pdf import placement as _placement  # the matrix and form of a rendered page
from .detectors import (
    Hit,
    Needle,
    canonical_category,
    detect,
    fold,
    needles_in,
    redact_string,
    unconfuse,
)
from .model import Item
from .profiles import Profile

if TYPE_CHECKING:
    from .render import Rendered

__all__ = ["FLATTEN_DPI", "MARGIN", "PLACEHOLDER", "Mark", "PageInfo", "RedactError", "Redactor",
           "flatten_pdf"]

#: What replaces a redacted part of a title.
PLACEHOLDER = "[redacted]"


class RedactError(InvalidInput):
    """A rule cannot be applied (e.g. a region on a page the document does not have)."""


@dataclass
class Mark:
    """One redaction on one page: the boxes (packet-page points) burned for one match."""

    doc_id: str
    page: int  # 1-based page of the document
    category: str
    rule: str  # the rule id, or "detector:NAME"
    kind: str  # "term", "detector", "region" or "data"
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass
class PageInfo:
    """What happened to one page of a document."""

    doc_id: str
    page: int  # 1-based
    width: float
    height: float
    searchable: bool  # has a text layer
    flattened: bool = False
    ocr_confidence: float | None = None  # set when the page was recognised (no text layer, recognition on)
    reasons: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    version: int = 0  # the document version the page belongs to
    faces: int = 0  # faces pixelated on the page as rebuilt (packets/faces.py)

    @property
    def needs_review(self) -> bool:
        """No text a rule could search: no text layer, and no recognition, or a poor one."""
        if self.searchable:
            return False
        from .ocr import LOW_CONFIDENCE

        return self.ocr_confidence is None or self.ocr_confidence < LOW_CONFIDENCE


# --------------------------------------------------------------------------- geometry



def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _near(a: Box, b: Box) -> bool:
    """Whether b continues a's run of characters (same line, or same column when turned)."""
    h = max(a[3] - a[1], b[3] - b[1], a[2] - a[0], b[2] - b[0], 1.0)
    return not (b[0] > a[2] + h or b[2] < a[0] - h or b[1] > a[3] + h or b[3] < a[1] - h)


def _group_boxes(boxes: list[Box]) -> list[Box]:
    out: list[Box] = []
    last: Box | None = None
    for b in boxes:
        if out and last is not None and _near(last, b):
            out[-1] = _union(out[-1], b)
        else:
            out.append(b)
        last = b
    return out


def _add_mark(info, mark: Mark) -> None:
    """Record ``mark`` on its page, unless another reading of the page (its text, then its
    pixels recognised) found the same rule at the same place: one redaction then, burned over
    the boxes of both readings (the report and the letter count what was removed, once)."""
    def overlaps(a: Box, b: Box) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for m in info.marks:
        if m.rule == mark.rule and m.category == mark.category and any(
                overlaps(a, b) for a in m.boxes for b in mark.boxes):
            m.boxes[:] = _group_boxes(m.boxes + mark.boxes)
            return
    info.marks.append(mark)


# --------------------------------------------------------------------------- redactor


def _source_texts(item: Item) -> list[str]:
    """The text of a source document, per page, for collecting detector finds."""
    mime = (item.mime or "").split(";")[0].strip().lower()
    if mime == "text/plain":
        return [bytes(item.data).decode("utf-8", errors="replace")]
    if mime != "application/pdf":
        return []
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(bytes(item.data))
    except Exception:
        return []
    out = []
    try:
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            out.append(tp.get_text_range() if tp.count_chars() else "")
            tp.close()
            page.close()
    finally:
        doc.close()
    return out


def _char_box(tp, k: int):
    try:
        return tp.get_charbox(k, loose=True)
    except Exception:
        return None


def _page_chars(tp) -> tuple[str, int]:
    n = tp.count_chars()
    if n <= 0:
        return "", 0
    text = tp.get_text_range()
    if len(text) != n:  # characters outside the BMP: go one by one
        import pypdfium2.raw as raw

        text = "".join(chr(raw.FPDFText_GetUnicode(tp, i) or 0x20) for i in range(n))
    return text, n


def redact_rendered(redact: Callable[[Item, bytes], bytes], item: Item, rendered: "Rendered",
                    profile: Profile) -> "Rendered":
    """The redaction stage for one document: its rendered pages through ``redact`` (a
    :class:`Redactor`), then placed again on clean pages (render's sanitizer).

    Raises:
        RedactError: ``redact`` returned no PDF bytes, or its pages cannot be redacted.
        RenderError: the redacted pages are not a usable PDF.
    """
    from .render import sanitize_rendered

    redacted = redact(item, rendered.to_bytes())
    if not isinstance(redacted, (bytes, bytearray)):
        raise RedactError(f"document {item.doc_id}: the redaction stage returned no PDF bytes;"
                          " it must return the redacted pages")
    return sanitize_rendered(bytes(redacted), item.doc_id, profile)


class Redactor:
    """The redaction stage for one packet: ``rules`` are the case's redaction rules
    (``Case.redactions``), ``profile`` the recipient's.

    Use: ``items = redactor.prepare(items)``, then :func:`redact_rendered` each item's
    rendered pages with it (or pass ``redact=redactor`` to
    :func:`packets.assemble.build`); afterwards :attr:`pages` says what happened on
    every page, :meth:`needles` is what the leak check must not find, :meth:`summary`
    the counts for the disclosure record, and :attr:`outputs` the redacted pages of each
    document (for the review report).
    """

    def __init__(self, rules: Iterable[dict], profile: Profile, *, dpi: float = FLATTEN_DPI,
                 workers: int | None = None, ocr: bool = False, ocr_cache: dict | None = None) -> None:
        self.profile = profile
        self.ocr = ocr
        #: Recognition results by rendered-document digest: {page index: PageText dict}; new
        #: results land in :attr:`ocr_new` for the caller to keep (encrypted, in the case).
        self.ocr_cache = dict(ocr_cache or {})
        self.ocr_new: dict[str, dict] = {}
        self.ocr_docs: dict[str, str] = {}  # key -> the document it was recognised from
        self.dpi = dpi
        self.workers = workers
        self.categories = {"always"} | {canonical_category(c) for c in profile.redaction_categories}
        self.flatten_all = profile.flatten == "all"
        self.terms: list[Needle] = []
        self.regions: dict[str, list[dict]] = {}
        for r in rules:
            cat = canonical_category(str(r.get("category", "always")))
            if cat not in self.categories:
                continue
            if r.get("kind") == "term" and str(r.get("text", "")).strip():
                n = Needle(str(r["id"]), cat, "term", str(r["text"]))
                if n.pattern is not None:
                    self.terms.append(n)
            elif r.get("kind") == "region":
                self.regions.setdefault(str(r.get("doc")), []).append(dict(r, category=cat))
        self.detector_categories = self.categories - {"always"}
        self.found: dict[str, Needle] = {}
        self.pages: list[PageInfo] = []
        self.outputs: dict[str, bytes] = {}
        self.titles_redacted = 0
        self.faces_in_images = 0  # faces pixelated in image documents before rendering
        self._memo: dict[str, tuple[str, list[int], list[Hit]]] = {}
        #: The first and last characters of each page's text (and recognised words), with
        #: their boxes: a secret split by a page break is matched across it.
        self._edges: dict[int, list[tuple[str, list, str, list]]] = {}
        self._page_text: dict = {}  # page index -> what recognition read in its pixels (the current document)
        #: ``progress(stage, n, total)``: pages flattened so far out of :attr:`_total`.
        self.progress: Callable[[str, int, int], None] | None = None
        self._done = 0
        self._total = 0

    # -- needles ---------------------------------------------------------------------

    def needles(self) -> list[Needle]:
        """Every secret the packet must not hold: the terms and every detector find."""
        return list(self.terms) + list(self.found.values())

    def _collect(self, hits: list[Hit]) -> None:
        for n in needles_in(hits):
            self.found.setdefault(n.text, n)

    def prepare(self, items: list[Item], each: Callable[[Item], None] | None = None) -> list[Item]:
        """Collect detector finds from every source, and return the items with titles and
        translator details redacted (matches replaced by ``[redacted]``). ``each(item)`` is
        called before an item's text is read (progress, and which document a failure is in)."""
        if self.detector_categories:
            for item in items:
                if each is not None:
                    each(item)
                for text in _source_texts(item):
                    if text:
                        folded, idx = fold(text)
                        hits = detect(folded, self.detector_categories)
                        self._collect(hits)
                        self._memo[text] = (folded, idx, hits)  # the rendered page's text is usually the same
        out = []
        for item in items:
            title = self._redact_string(item.title)
            translator = item.translator
            if isinstance(translator, dict):
                translator = {k: (self._redact_string(v) if isinstance(v, str) else v) for k, v in translator.items()}
            if title != item.title:
                self.titles_redacted += 1
            out.append(replace(item, title=title, translator=translator))
        return out

    def _redact_string(self, text: str) -> str:
        if not text:
            return text
        hits = detect(fold(text)[0], self.detector_categories) if self.detector_categories else []
        self._collect(hits)
        return redact_string(text, self.needles(), PLACEHOLDER, self.detector_categories)

    # -- the seam ----------------------------------------------------------------------

    def __call__(self, item: Item, pdf_bytes: bytes) -> bytes:
        try:
            return self._redact(item, pdf_bytes)
        except RedactError:
            raise
        except Exception as e:  # fail closed, in one line, naming the document only
            raise RedactError(f"document {item.doc_id}: its pages could not be redacted ({type(e).__name__});"
                              " print it to a new PDF, add that, and build again") from None

    def analyse(self, item: Item, pdf_bytes: bytes) -> list[PageInfo]:
        """What redaction would find on a document's rendered pages (recognising them when
        :attr:`ocr`), without changing them: for ``packet plan``."""
        with pikepdf.open(io.BytesIO(bytes(pdf_bytes))) as pdf:
            infos = self._analyse(item, pdf, bytes(pdf_bytes), set())
        self.pages.extend(infos)
        return infos

    def _redact(self, item: Item, pdf_bytes: bytes) -> bytes:
        doc_id = item.doc_id
        try:
            pdf = pikepdf.open(io.BytesIO(bytes(pdf_bytes)))
        except Exception:
            raise RedactError(f"document {doc_id}: the rendered pages cannot be read for redaction") from None
        with pdf:
            is_pdf = (item.mime or "").split(";")[0].strip().lower() == "application/pdf"
            oc_pages = _prepare_optional_content(pdf, bytes(item.data) if is_pdf else None)
            from .render import save_pdf

            work = save_pdf(pdf) if oc_pages else bytes(pdf_bytes)
            if oc_pages:
                pdf.close()
                pdf = pikepdf.open(io.BytesIO(work))
            infos = self._analyse(item, pdf, work, oc_pages)
            faces = bool(getattr(self.profile, "blur_faces", False))  # every page: a photo may be on any
            flatten = {i: [b for m in info.marks for b in m.boxes]
                       for i, info in enumerate(infos) if self.flatten_all or faces or info.marks or info.reasons}
            for i in flatten:
                infos[i].flattened = True
                if (self.flatten_all or faces) and not infos[i].reasons and not infos[i].marks:
                    infos[i].reasons.append("flatten all" if self.flatten_all else "faces")
            layer = self.profile.ocr_text_layer
            tick = (lambda k: self.progress("flattening", self._done + k, self._total)) if self.progress else None
            # Pages refuge drew from text it holds get that text (less what was burned) as their layer.
            known = (item.mime or "").split(";")[0].strip().lower() == "text/plain"
            found: dict[int, int] = {}
            flatten_pdf(pdf, work, flatten, self.dpi, self.workers, text_layer=layer and not known, progress=tick,
                        faces=faces, faces_found=found, recognised=self._page_text)
            for i, n in found.items():
                infos[i].faces = n
            if layer and known:
                known_text_layers(pdf, work, flatten)
            self._done += len(infos)
            if self.progress:
                self.progress("", self._done, self._total)
            if "/OCProperties" in pdf.Root:
                del pdf.Root["/OCProperties"]
            from .render import save_pdf

            if self.ocr and layer:
                add_text_layers(pdf, [i for i, info in enumerate(infos) if not info.searchable and i not in flatten],
                                self.workers)
            out = save_pdf(pdf)
        self.pages.extend(infos)
        self.outputs[doc_id] = out
        return out

    def _analyse(self, item: Item, pdf: pikepdf.Pdf, data: bytes, oc_pages: set[int]) -> list[PageInfo]:
        import pypdfium2 as pdfium

        doc_id = item.doc_id
        doc = pdfium.PdfDocument(data)
        infos: list[PageInfo] = []
        self._edges = {}
        self._page_text = {}  # page index -> what recognition read in its pixels (packets/_flatten.py reuses it)
        try:
            for i in range(len(doc)):
                page = doc[i]
                tp = page.get_textpage()
                try:
                    w, h = page.get_size()
                    text, n = _page_chars(tp)
                    searchable = any(not ch.isspace() for ch in text)
                    info = PageInfo(doc_id, i + 1, w, h, searchable, version=item.version or 0)
                    if searchable:
                        self._match(info, text, lambda k, tp=tp: _char_box(tp, k))
                finally:
                    tp.close()
                    page.close()
                if i in oc_pages:
                    info.reasons.append("optional content")
                infos.append(info)
            # Every page is read from its pixels too (not only pages without text: a stamp on a
            # scan, a misread OCR layer, a pasted ID card, a name drawn as outlines).
            read = list(range(len(infos))) if self.ocr else []
            if read:
                self._recognize(doc, data, infos, read)
            # A page whose objects hold a secret that its text does not show is read from its
            # pixels whatever the settings, so a visible secret is burned before flattening.
            hidden = [i for i in self._hidden_data(doc_id, pdf, infos) if i not in read]
            if hidden:
                self._recognize(doc, data, infos, hidden)
        finally:
            doc.close()
        self._apply_regions(item, pdf, infos)
        self._match_across(infos)
        return infos

    def _hidden_data(self, doc_id: str, pdf: pikepdf.Pdf, infos: list[PageInfo]) -> list[int]:
        """Mark pages whose objects hold a secret that their text does not show (an undrawn
        XObject, /ActualText over outlines, a font's name records); every page, flattened or
        not. Returns their indexes."""
        from .leakcheck import scan_objects

        needles = self.needles()
        out: list[int] = []
        if not needles:
            return out
        for f in scan_objects(pdf, needles, pages=set(range(len(infos)))):
            if f.page is None or f.page >= len(infos):
                continue
            info = infos[f.page]
            if not any(m.rule == f.needle.rule for m in info.marks):
                info.marks.append(Mark(doc_id, info.page, f.needle.category, f.needle.rule, "data"))
                if "hidden data" not in info.reasons:
                    info.reasons.append("hidden data")
                if f.page not in out:
                    out.append(f.page)
        return out

    def _match_across(self, infos: list[PageInfo]) -> None:
        """Secrets split by a page break: the end of each page's text (and recognised words)
        read with the start of the next; the parts on each page are burned there."""
        for i in range(len(infos) - 1):
            for _h, _hb, tail, tail_boxes in self._edges.get(i, []):
                for head, head_boxes, _t, _tb in self._edges.get(i + 1, []):
                    joined = tail + "\n" + head
                    folded, idx = fold(joined)
                    for n in self.needles():
                        for parts in n.spans(folded):
                            chars = [idx[k] for a, b in parts for k in range(a, b)]
                            if not chars or min(chars) > len(tail) or max(chars) < len(tail):
                                continue  # wholly on one page: found there already
                            for page, boxes, offset in ((i, tail_boxes, 0), (i + 1, head_boxes, len(tail) + 1)):
                                mine = [boxes[k - offset] for k in chars
                                        if 0 <= k - offset < len(boxes) and boxes[k - offset] is not None]
                                if mine:
                                    info = infos[page]
                                    info.marks.append(Mark(info.doc_id, info.page, n.category, n.rule, n.kind,
                                                           _group_boxes(mine)))

    def _recognize(self, doc, data: bytes, infos: list[PageInfo], todo: list[int]) -> None:
        """Recognise pages ``todo`` (cached by the rendered document's digest) and match the
        rules against their words."""
        import hashlib

        from .ocr import OCR_DPI, PageText, engine, recognize

        if not todo:
            return
        key = hashlib.sha256(f"{engine()} {OCR_DPI} faint\n".encode() + data).hexdigest()
        known = {int(k): v for k, v in (self.ocr_cache.get(key) or {}).items()}
        missing = [i for i in todo if i not in known]
        if missing:
            # A few pages at a time (pdfium renders on this thread only): memory stays a few pages.
            batch = 2 * (self.workers or os.cpu_count() or 1)
            for start in range(0, len(missing), batch):
                images, views = [], []
                for i in missing[start:start + batch]:
                    page = doc[i]
                    try:
                        images.append(page.render(scale=ocr_scale(page), grayscale=True, draw_annots=False,
                                                  may_draw_forms=False).to_pil())
                        views.append(page_views(page, images[-1]))
                    finally:
                        page.close()
                flat = [v for vs in views for v in vs]
                read = recognize(images + flat, self.workers)
                extra = iter(read[len(images):])
                for i, image, found, vs in zip(missing[start:start + batch], images, read, views):
                    known[i] = dict(found.to_dict(), codes=codes_in(image),
                                    hidden=[next(extra).to_dict()["words"] for _v in vs])
            self.ocr_new[key] = {str(i): v for i, v in sorted(known.items())}
            self.ocr_docs[key] = infos[0].doc_id
            self.ocr_cache[key] = self.ocr_new[key]
        for i in todo:
            found = self._page_text[i] = PageText.from_dict(known[i])
            info = infos[i]
            info.ocr_confidence = round(found.confidence, 1)
            self._match_codes(info, found, known[i].get("codes") or [])
            sx, sy = info.width / found.width, info.height / found.height  # pixels (top-left) to points
            # the page's words, then those of its views that show faint ink (packets/_reveal.py)
            readings = [found] + [PageText.from_dict({"width": found.width, "height": found.height, "words": w})
                                  for w in known[i].get("hidden") or []]
            for reading in readings:
                text, pixel_boxes = reading.text_and_boxes()
                if not text:
                    continue

                def box(k, pixel_boxes=pixel_boxes, sx=sx, sy=sy, h=info.height):
                    b = pixel_boxes[k]
                    return None if b is None else (b[0] * sx, h - b[3] * sy, b[2] * sx, h - b[1] * sy)

                self._match(info, text, box, ocr=True)

    def _match_codes(self, info: PageInfo, found, codes: list[dict]) -> None:
        """Burn each QR code or barcode on the page whose text holds a secret (a contact card's
        or a passport's code carries names no text extractor sees)."""
        sx, sy = info.width / found.width, info.height / found.height
        for code in codes:
            try:
                folded = fold(str(code["text"]))[0]
                x0, y0, x1, y1 = (float(v) for v in code["box"])
            except (KeyError, TypeError, ValueError):
                continue
            hits = detect(folded, self.detector_categories) if self.detector_categories else []
            self._collect(hits)
            for n in self.needles():
                if n.search(folded):
                    box = (x0 * sx, info.height - y1 * sy, x1 * sx, info.height - y0 * sy)
                    info.marks.append(Mark(info.doc_id, info.page, n.category, n.rule, n.kind, [box]))
                    break

    def _keep_edges(self, info: PageInfo, text: str, char_box, size: int = 300) -> None:
        def box(k: int):
            if text[k].isspace():
                return None
            b = char_box(k)
            return None if b is None or (b[2] - b[0] <= 0 and b[3] - b[1] <= 0) else tuple(float(v) for v in b)

        n = len(text)
        head, tail = text[:size], text[max(0, n - size):]
        self._edges.setdefault(info.page - 1, []).append(
            (head, [box(k) for k in range(len(head))], tail, [box(k) for k in range(n - len(tail), n)]))

    def _match(self, info: PageInfo, text: str, char_box, ocr: bool = False) -> None:
        """Match rules and detectors in a page's text; ``char_box(k)`` is character k's box in
        page points (None for none). Recognised text (``ocr``) is also read with OCR's usual
        O/0 and l/1 confusions undone inside ID numbers."""
        self._keep_edges(info, text, char_box)
        memo = self._memo.pop(text, None)
        if memo is not None:
            folded, idx, hits = memo
        else:
            folded, idx = fold(text)
            hits = detect(folded, self.detector_categories) if self.detector_categories else []
            self._collect(hits)
        unconfused = unconfuse(folded) if ocr else None
        if ocr and self.detector_categories:
            more = detect(unconfused, self.detector_categories)
            self._collect(more)
            hits = hits + more
        spans: list[tuple[int, int, str, str, str]] = []
        for h in hits:
            spans.append((h.start, h.end, h.category, f"detector:{h.detector}", "detector"))
        for n in self.needles():
            for parts in n.spans(folded) + (n.spans(unconfused, ocr=True) if ocr else []):
                spans.extend((a, b, n.category, n.rule, n.kind) for a, b in parts)
        merged: list[list] = []  # one match per rule and place (a detector find is also a needle)
        for start, end, cat, rule, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
            if end <= start:
                continue
            for m in merged:
                if m[3] == rule and start < m[1] and end > m[0]:
                    m[0], m[1] = min(m[0], start), max(m[1], end)
                    break
            else:
                merged.append([start, end, cat, rule, kind])
        for start, end, cat, rule, kind in merged:
            first, last = idx[start], idx[end - 1]
            boxes = []
            for k in range(first, last + 1):
                if text[k].isspace():
                    continue
                b = char_box(k)
                if b is None or (b[2] - b[0] <= 0 and b[3] - b[1] <= 0):
                    continue
                boxes.append(tuple(float(v) for v in b))
            if not boxes:
                # Matched text with no box at all: burn nothing, but flatten the page.
                info.reasons.append("unplaced text")
                info.marks.append(Mark(info.doc_id, info.page, cat, rule, kind))
                continue
            _add_mark(info, Mark(info.doc_id, info.page, cat, rule, kind, _group_boxes(boxes)))

    def _apply_regions(self, item: Item, pdf: pikepdf.Pdf, infos: list[PageInfo]) -> None:
        rules = self.regions.get(item.doc_id, [])
        if not rules:
            return
        mime = (item.mime or "").split(";")[0].strip().lower()
        origin: dict[int, tuple[float, float]] = {}
        if mime == "application/pdf":
            try:
                with pikepdf.open(io.BytesIO(bytes(item.data))) as src:
                    for i, p in enumerate(src.pages):
                        mb = _pdf.inherited(p.obj, Name.MediaBox)
                        try:
                            origin[i] = (min(float(mb[0]), float(mb[2])), min(float(mb[1]), float(mb[3])))
                        except Exception:
                            origin[i] = (0.0, 0.0)
            except Exception:
                pass
        for r in rules:
            try:
                n = int(r.get("page"))
                x0, y0, x1, y1 = (float(v) for v in r.get("box"))
            except (TypeError, ValueError):
                raise RedactError(f"document {item.doc_id}: region rule {r.get('id')} is malformed",
                                  hint="redact-region-readd") from None
            if not 1 <= n <= len(infos):
                raise RedactError(f"document {item.doc_id}: region rule {r.get('id')} is for page {n}, but the"
                                  f" document has {len(infos)} pages", hint="redact-region-readd")
            page = pdf.pages[n - 1]
            m, target = _placement(page)
            if mime == "text/plain":
                box = (x0, y0, x1, y1)
            elif isinstance(target, pikepdf.Stream) and target.get(Name.Subtype) == Name.Image:
                iw, ih = float(target.Width), float(target.Height)
                box = _pdf.transform_box(m, (x0 / iw, y0 / ih, x1 / iw, y1 / ih))
            elif isinstance(target, pikepdf.Stream) and target.get(Name.Subtype) == Name.Form:
                ox, oy = origin.get(n - 1, (0.0, 0.0))
                fm = target.get(Name.Matrix)
                if isinstance(fm, pikepdf.Array) and len(fm) == 6:
                    m = _pdf.mul(tuple(float(v) for v in fm), m)
                box = _pdf.transform_box(m, (x0 + ox, y0 + oy, x1 + ox, y1 + oy))
            else:
                raise RedactError(f"document {item.doc_id}: region rule {r.get('id')} cannot be placed on page {n};"
                                  " report this as a bug")
            info = infos[n - 1]
            info.marks.append(Mark(item.doc_id, n, r["category"], str(r.get("id")), "region", [box]))

    # -- results ---------------------------------------------------------------------

    def summary(self) -> dict:
        """Counts for the disclosure record and manifest: never terms or places."""
        per_category: dict[str, int] = {}
        for p in self.pages:
            for m in p.marks:
                per_category[m.category] = per_category.get(m.category, 0) + 1
        counts = {
            "categories": dict(sorted(per_category.items())),
            "pages_flattened": sum(1 for p in self.pages if p.flattened),
            "pages_not_searchable": sum(1 for p in self.pages if not p.searchable),
            "titles_redacted": self.titles_redacted,
            "flatten": self.profile.flatten,
        }
        if getattr(self.profile, "blur_faces", False):
            counts["faces_pixelated"] = self.faces_in_images + sum(p.faces for p in self.pages)
        return counts
