"""Flattening: pages rebuilt from pixels with the redaction boxes burned in, in a process
pool on every core, and (when asked) an OCR text layer made from those pixels only.

:func:`flatten_pdf` is the redaction stage's removal step (see :mod:`packets.redact`).
"""

from __future__ import annotations

import io
import os
import threading
import zlib

import pikepdf
from pikepdf import Array, Dictionary, Name

from ._pdf import Box

#: Resolution of flattened pages.
FLATTEN_DPI = 150
#: Points added above and below every redaction box (ascenders, descenders, accents).
MARGIN = 2.0
#: Points added left and right: a character's box already spans its whole advance, so a
#: wide margin would clip the neighbouring letters ("Name:" right before a name); this
#: covers anti-aliasing only.
MARGIN_X = 0.5
JPEG_QUALITY = 80


# -------------------------------------------------------------------------- flatten

_WORKER_DOC = None


def _worker_init(data: bytes) -> None:
    global _WORKER_DOC
    import pypdfium2 as pdfium

    _WORKER_DOC = pdfium.PdfDocument(data)


def _worker_flatten(jobs: list[tuple[int, list[Box]]], dpi: float, recognise: frozenset = frozenset(),
                    faces: bool = False, reveal: bool = False) -> list[tuple]:
    """Flatten the pages of ``jobs`` (one chunk) and read those in ``recognise`` in one
    Tesseract run: only the chunk's grey pixels to read are held until then (read sooner
    when they pass :data:`packets.ocr.RUN_PIXELS`: a chunk of huge pages)."""
    from .ocr import RUN_PIXELS, recognize

    out: list[tuple] = []
    # position in out, grey pixels as a recipient decodes them (or a view of them that shows
    # hidden ink: packets/_reveal.py, whose words go to the leak check only), dpi
    held: list[tuple[int, object, int, bool]] = []

    def read() -> None:
        found = recognize([im for _k, im, _d, _v in held], 1, dpi=[d for _k, _im, d, _v in held])
        for (k, _im, _d, view), page in zip(held, found):
            if view:
                out[k] = out[k][:9] + (out[k][9] + [page.to_dict()["words"]],)
            else:
                out[k] = out[k][:7] + (page.to_dict(),) + out[k][8:]
        held.clear()

    for i, boxes in jobs:
        result, image, image_dpi, views = _flatten_one(_WORKER_DOC, i, boxes, dpi, i in recognise, faces, reveal)
        out.append(result + ([],))
        if image is not None:
            held.append((len(out) - 1, image, image_dpi, False))
        held.extend((len(out) - 1, v, image_dpi, True) for v in views)
        if held and sum(im.size[0] * im.size[1] for _k, im, _d, _v in held) >= RUN_PIXELS:
            read()
    if held:
        read()
    return out


def _is_gray(im) -> bool:
    from PIL import ImageChops

    r, g, b = im.split()
    return max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]) <= 12


_MAX_RENDER_PIXELS = 64_000_000  # an A0 page at 150 dpi is 27 megapixels


def _flatten_one(doc, index: int, boxes: list[Box], dpi: float, recognise: bool = False,
                 faces: bool = False, reveal: bool = False) -> tuple:
    """Render page ``index`` (its crop box: what is visible), with ``faces`` pixelate every
    face found in its pixels (packets/faces.py), burn ``boxes`` (page points) black, encode
    the pixels; with ``recognise``, read the encoded pixels back (decoded, as a recipient
    gets them) with Tesseract.

    Returns ((index, data, width, height, gray, filter, page box, words or None, faces
    pixelated), pixels to read or None, their resolution): with ``recognise``, the encoded
    pixels decoded in grey, which the caller recognises (words are None here). A page
    whose preview at 24 dpi has no colour is rendered in grey levels. The pixels are
    compressed losslessly (Flate) when that is small (text), else as a JPEG (photographs,
    scans).
    """
    from PIL import Image, ImageDraw

    from ._reveal import hidden_views
    from .render import strip_jpeg_metadata

    page = doc[index]
    photos = None
    try:
        x0, y0, x1, y1 = page.get_cropbox()
        area = max(abs(x1 - x0) * abs(y1 - y0), 1.0)
        scale = min(dpi / 72.0, (_MAX_RENDER_PIXELS / area) ** 0.5)  # a huge page never renders to gigabytes
        thumb = page.render(scale=min(scale, 1 / 3), draw_annots=False, may_draw_forms=False,
                            rev_byteorder=True).to_pil().convert("RGB")
        gray = _is_gray(thumb)
        bitmap = page.render(scale=scale, draw_annots=False, may_draw_forms=False, rev_byteorder=True,
                             grayscale=gray)
        im = bitmap.to_pil()
        im = im.convert("L" if gray else "RGB") if im.mode != ("L" if gray else "RGB") else im
        if faces:
            photos = _photo_boxes(page, (x0, y0, x1, y1), im.size)
    finally:
        page.close()
    w, h = im.size
    n_faces = 0
    if photos:
        from .faces import blur_page

        im, n_faces = blur_page(im, photos)
    if boxes:
        draw = ImageDraw.Draw(im)
        sx, sy = w / (x1 - x0), h / (y1 - y0)
        for b in boxes:
            left = (b[0] - MARGIN_X - x0) * sx
            right = (b[2] + MARGIN_X - x0) * sx
            top = (y1 - (b[3] + MARGIN)) * sy
            bottom = (y1 - (b[1] - MARGIN)) * sy
            draw.rectangle((int(left), int(top), int(right + 0.999), int(bottom + 0.999)), fill=0 if gray else (0, 0, 0))
    raw = im.tobytes()
    packed = zlib.compress(raw, 1)
    if len(packed) <= len(raw) * 0.15:
        data, filter_, seen = packed, "/FlateDecode", im if recognise or reveal else None
    else:
        clean = Image.frombytes(im.mode, im.size, raw)
        buf = io.BytesIO()
        clean.save(buf, "JPEG", quality=JPEG_QUALITY)
        data, filter_ = strip_jpeg_metadata(buf.getvalue()), "/DCTDecode"
        seen = Image.open(io.BytesIO(data)) if recognise or reveal else None
    views = hidden_views(seen) if reveal and seen is not None else []
    if seen is not None:  # grey, as recognition reads it: one byte a pixel held until the chunk is read
        seen = (seen.convert("L") if seen.mode != "L" else seen) if recognise else None
    result = index, data, w, h, gray, filter_, (x0, y0, x1, y1), None, n_faces
    return result, seen, round(w * 72 / (x1 - x0)), views


def _photo_boxes(page, crop: tuple, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Where ``page`` draws images (photos, scans), in the pixels of its crop box rendered at
    ``size``, as (x, y, w, h), overlapping ones merged (a scan cut in strips is one): where
    packets/faces.py looks for faces. Images inside forms are placed by their forms' matrices;
    a turned page is looked at whole."""
    import pypdfium2 as pdfium

    w, h = size
    x0, y0, x1, y1 = crop
    if page.get_rotation() % 360:
        return [(0, 0, w, h)]
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    forms: list = []  # the matrix from each open form's space to the page's
    boxes = []
    for obj in page.get_objects(max_depth=8):
        del forms[obj.level:]
        try:
            if obj.type == pdfium.raw.FPDF_PAGEOBJ_FORM:
                matrix = obj.get_matrix()
                forms.append(matrix.multiply(forms[-1]) if forms else matrix)
                continue
            if obj.type != pdfium.raw.FPDF_PAGEOBJ_IMAGE:
                continue
            left, bottom, right, top = obj.get_bounds()
        except Exception:  # an object pdfium cannot place: look at the whole page
            return [(0, 0, w, h)]
        if forms:
            left, bottom, right, top = forms[-1].on_rect(left, bottom, right, top)
        box = [max(0, int((left - x0) * sx) - 2), max(0, int((y1 - top) * sy) - 2),
               min(w, int((right - x0) * sx) + 3), min(h, int((y1 - bottom) * sy) + 3)]
        if box[2] - box[0] >= 20 and box[3] - box[1] >= 20:  # smaller than the smallest face window
            boxes.append(box)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return [(a, b, c - a, d - b) for a, b, c, d in boxes]


def _workers(n_pages: int, workers: int | None) -> int:
    if workers is not None:
        return max(1, min(workers, n_pages))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, n_pages // 2 or 1))


#: Pages a worker flattens and then reads in one Tesseract run: their grey pixels are held
#: until then (at 150 dpi an A4 page is 2.2 MB), and each run saves loading the language
#: models once a page (about 0.2 s of CPU).
_READ_CHUNK = 8


def _even_chunks(jobs: list, n: int) -> list[list]:
    """``jobs`` in chunks of at most :data:`_READ_CHUNK` consecutive pages, as many chunks as
    a multiple of the ``n`` workers and as even as can be: reading pages costs about the
    same each, and every chunk pays one start of Tesseract."""
    count = -(-len(jobs) // _READ_CHUNK)
    count = min(len(jobs), -(-count // n) * n)
    size, extra = divmod(len(jobs), count)
    chunks, start = [], 0
    for r in range(count):
        end = start + size + (1 if r < extra else 0)
        chunks.append(jobs[start:end])
        start = end
    return chunks


def _render_pages(data: bytes, jobs: list[tuple[int, list[Box]]], dpi: float, workers: int | None,
                  recognise: frozenset = frozenset(), progress=None, faces: bool = False, reveal: bool = False):
    n = _workers(len(jobs), workers)
    tick = progress or (lambda _k: None)
    if n <= 1 or len(jobs) < 4:
        _worker_init(data)
        try:
            out = []
            step = _READ_CHUNK if recognise else 1  # pages read share a Tesseract run
            for k in range(0, len(jobs), step):
                out.extend(_worker_flatten(jobs[k:k + step], dpi, recognise, faces, reveal))
                tick(len(out))
            return out
        finally:
            _close_worker()
    import concurrent.futures
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else "spawn"
    ctx = multiprocessing.get_context(method)
    if recognise:
        chunks = _even_chunks(jobs, n)
    else:
        chunk = max(1, min(8, len(jobs) // (n * 3) or 1))
        chunks = [jobs[k:k + chunk] for k in range(0, len(jobs), chunk)]
    out = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init,
                                                initargs=(data,)) as pool:
        for result in pool.map(_worker_flatten, chunks, [dpi] * len(chunks), [recognise] * len(chunks),
                               [faces] * len(chunks), [reveal] * len(chunks)):
            out.extend(result)
            tick(len(out))
    return out


def _close_worker() -> None:
    global _WORKER_DOC
    if _WORKER_DOC is not None:
        _WORKER_DOC.close()
        _WORKER_DOC = None


def flatten_pdf(pdf: pikepdf.Pdf, data: bytes, pages: dict[int, list[Box]], dpi: float = FLATTEN_DPI,
                workers: int | None = None, text_layer: bool = False, progress=None, faces: bool = False,
                faces_found: dict | None = None, recognised: dict | None = None) -> dict:
    """Rebuild ``pages`` (index -> boxes to burn) of ``pdf`` (whose bytes are ``data``)
    from pixels, in place, with ``faces`` pixelating the faces they show (how many on each
    page goes into ``faces_found``, index -> count). With ``text_layer``, each rebuilt page is recognised from its
    new (burned, encoded) pixels and gets an invisible text layer of those words; the
    recognition is remembered under the image's bytes (:func:`packets.ocr.remember`) so
    the leak check reads those very pixels without recognising them twice.
    ``recognised`` ({index: PageText}) holds what recognition read in a page's pixels before
    it was rebuilt (a scan, at its own resolution): a page with nothing to burn keeps that
    reading as its layer and as the leak check's, for its new pixels are the same page drawn
    at a lower resolution with nothing removed (a face pixelated there leaves that reading of more,
    never less, than the page shows); a page with boxes is always read again.
    ``progress(n)`` is called as pages are done. Returns {index: PageText} recognised."""
    if not pages:
        return {}
    from .ocr import PageText, remember

    reuse = {i: f for i, f in (recognised or {}).items() if i in pages and not pages[i]} if text_layer else {}
    read = frozenset(i for i in pages if i not in reuse) if text_layer else frozenset()
    results = _render_pages(data, sorted(pages.items()), dpi, workers, read, progress, faces, text_layer)
    found_pages = {}
    for index, encoded, w, h, gray, filter_, box, words, n_faces, hidden in results:
        if faces_found is not None and n_faces:
            faces_found[index] = n_faces
        found = PageText.from_dict(words) if words is not None else reuse.get(index)
        if found is not None:
            found_pages[index] = found
            remember(encoded, _with_hidden(found, hidden))
        page = pdf.pages[index]
        img = pikepdf.Stream(pdf, encoded)
        img.Type, img.Subtype, img.Width, img.Height = Name.XObject, Name.Image, w, h
        img.ColorSpace = Name.DeviceGray if gray else Name.DeviceRGB
        img.BitsPerComponent = 8
        img.Filter = Name(filter_)
        x0, y0, x1, y1 = box
        obj = page.obj
        rotate = obj.get(Name.Rotate)
        for key in list(obj.keys()):
            if key not in ("/Type", "/Parent"):
                del obj[key]
        obj.MediaBox = Array([x0, y0, x1, y1])
        if rotate is not None:
            obj.Rotate = rotate
        obj.Resources = Dictionary(XObject=Dictionary(Im0=img))
        cm = f"q {x1 - x0:.4f} 0 0 {y1 - y0:.4f} {x0:.4f} {y0:.4f} cm /Im0 Do Q".encode()
        obj.Contents = pikepdf.Stream(pdf, cm)
        if index in found_pages:
            _add_text_layer(pdf, page, found_pages[index])
    return found_pages


def _with_hidden(found, hidden: list[list]):
    """``found`` and the words read in views of the same pixels that show hidden ink
    (packets/_reveal.py): what the leak check recalls. The text layer keeps ``found`` only."""
    if not hidden:
        return found
    from .ocr import PageText, Word

    words = list(found.words)
    for v, view_words in enumerate(hidden, 1):
        for w in view_words:
            line = tuple(w["line"])
            words.append(Word(w["text"], tuple(w["box"]), float(w["conf"]), (-v, *line[1:])))
    return PageText(found.width, found.height, words)


def ocr_scale(page) -> float:
    """Pixels per point to recognise a page at: its scanned image's own resolution (no
    pixels invented, none thrown away), kept between 150 and 400 dpi; OCR_DPI without one."""
    import pypdfium2 as pdfium

    from .ocr import OCR_DPI

    best = 0.0
    for obj in page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        try:
            px_w, px_h = obj.get_px_size()
            x0, y0, x1, y1 = obj.get_bounds()
        except Exception:
            continue
        if x1 - x0 > 1 and y1 - y0 > 1:
            best = max(best, min(px_w / (x1 - x0), px_h / (y1 - y0)))
    return min(400 / 72, max(150 / 72, best)) if best else OCR_DPI / 72


def add_text_layers(pdf: pikepdf.Pdf, pages: list[int], workers: int | None) -> None:
    """Give ``pages`` an invisible text layer recognised from their pixels as they are now
    (redacted): words placed over their boxes in text render mode 3 (invisible), so a
    recipient can search and select what they may read. Never made from the source text."""
    if not pages:
        return
    import pypdfium2 as pdfium

    from .ocr import OCR_DPI, recognize
    from .render import save_pdf

    doc = pdfium.PdfDocument(save_pdf(pdf))
    found_pages = []
    try:
        batch = 2 * (workers or os.cpu_count() or 1)  # a few pages in memory at a time
        for start in range(0, len(pages), batch):
            images = []
            for i in pages[start:start + batch]:
                page = doc[i]
                try:
                    images.append(page.render(scale=OCR_DPI / 72.0, grayscale=True, draw_annots=False).to_pil())
                finally:
                    page.close()
            found_pages += recognize(images, workers)
    finally:
        doc.close()
    for i, found in zip(pages, found_pages):
        _add_text_layer(pdf, pdf.pages[i], found)


def _add_text_layer(pdf: pikepdf.Pdf, page, found) -> None:
    """Words of ``found`` (a PageText of the page's pixels) as invisible text over their boxes."""
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    sx, sy = (x1 - x0) / found.width, (y1 - y0) / found.height
    ops = []
    for w in found.words:
        bx0, by0, bx1, by1 = w.box
        ops.append(_invisible(w.text.strip(), "FOcr", max(1.0, (by1 - by0) * sy), (bx1 - bx0) * sx,
                              x0 + bx0 * sx, y1 - by1 * sy))
    _attach_invisible(pdf, page, "FOcr", ops)


def _invisible(text: str, font: str, size: float, width: float, x: float, y: float) -> str:
    """One run of invisible Helvetica text (WinAnsi) at (x, y), stretched to ``width`` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    encoded = text.encode("cp1252", "replace")
    if not encoded:
        return ""
    natural = stringWidth(encoded.decode("cp1252"), "Helvetica", size) or 1.0
    scale = max(1.0, min(1000.0, 100.0 * width / natural))
    escaped = encoded.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return f"/{font} {size:.2f} Tf {scale:.1f} Tz 1 0 0 1 {x:.2f} {y:.2f} Tm ({escaped.decode('latin-1')}) Tj"


def _attach_invisible(pdf: pikepdf.Pdf, page, font: str, runs: list[str]) -> None:
    """Add ``runs`` (from :func:`_invisible`) to ``page`` as one text object in render mode 3."""
    resources = page.obj.get(Name.Resources)
    if resources is None:
        page.obj.Resources = resources = Dictionary()
    fonts = resources.get(Name.Font)
    if fonts is None:
        resources.Font = fonts = Dictionary()
    fonts[Name("/" + font)] = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica,
                                                           Encoding=Name.WinAnsiEncoding))
    ops = "\n".join(["BT 3 Tr", *(r for r in runs if r), "ET"])
    page.contents_add(pikepdf.Stream(pdf, ops.encode("latin-1")), prepend=False)


# ------------------------------------------------------------- known text (issue #17)

#: A character is left out of a known-text layer when a burned box covers more than this
#: many points of its width and half its height (a neighbour touched only by the box's
#: margins stays; every character of a secret lies wholly inside its own box).
_KNOWN_OVERLAP = 0.75


def known_text_layers(pdf: pikepdf.Pdf, data: bytes, pages: dict[int, list[Box]]) -> None:
    """Give rebuilt ``pages`` (index -> boxes burned) of ``pdf`` an invisible text layer of
    the text that was drawn on them, less every character a burned box covers.

    Only for pages refuge drew itself from text it holds (``data``: those pages before they
    were rebuilt; plain text, a message's headers and body, a recording's page): there the
    text says exactly what the pixels show, so a recipient gets a SHA-256 or a file name as
    it was written, where OCR would misread it. The text is read by pdfium from ``data``,
    the same reading redaction matched, so a secret found there is under a burned box and
    left out; the leak check then reads the layer like any text."""
    import pypdfium2 as pdfium

    if not pages:
        return
    doc = pdfium.PdfDocument(data)
    try:
        for index, boxes in sorted(pages.items()):
            page = doc[index]
            tp = page.get_textpage()
            try:
                runs = _known_runs(tp, boxes)
            finally:
                tp.close()
                page.close()
            if runs:
                _add_known_layer(pdf, pdf.pages[index], runs)
    finally:
        doc.close()


def _covered(box, burned: list[Box]) -> bool:
    left, bottom, right, top = box
    for b in burned:
        x0, y0, x1, y1 = b[0] - MARGIN_X, b[1] - MARGIN, b[2] + MARGIN_X, b[3] + MARGIN
        if min(right, x1) - max(left, x0) > min(_KNOWN_OVERLAP, (right - left) / 2) \
                and min(top, y1) - max(bottom, y0) > (top - bottom) / 2:
            return True
    return False


def _known_runs(tp, burned: list[Box]) -> list[tuple[str, float, float, float, float]]:
    """(text, x, baseline, font size, right edge) of each run of kept characters of a text
    page: a run ends at a line end, a character pdfium made up, or a covered character."""
    import ctypes

    import pypdfium2.raw as raw

    runs: list[tuple[str, float, float, float, float]] = []
    chars: list[str] = []
    start = (0.0, 0.0, 0.0)
    right = 0.0

    def close() -> None:
        text = "".join(chars).rstrip()
        if text.strip():
            runs.append((text, start[0], start[1], start[2], right))
        chars.clear()

    x, y = ctypes.c_double(), ctypes.c_double()
    for k in range(tp.count_chars()):
        ch = chr(raw.FPDFText_GetUnicode(tp, k) or 0x20)
        box = _loose_box(tp, k)
        if ch in "\r\n" or raw.FPDFText_IsGenerated(tp, k) or box is None or _covered(box, burned):
            close()
            continue
        if not chars:
            if ch.isspace():
                continue
            raw.FPDFText_GetCharOrigin(tp, k, ctypes.byref(x), ctypes.byref(y))
            start = (x.value, y.value, raw.FPDFText_GetFontSize(tp, k) or 10.0)
        chars.append(ch)
        right = box[2]
    close()
    return runs


def _loose_box(tp, k: int):
    try:
        box = tp.get_charbox(k, loose=True)
    except Exception:
        return None
    return box if box[2] > box[0] and box[3] > box[1] else None


def _add_known_layer(pdf: pikepdf.Pdf, page, runs) -> None:
    """``runs`` as invisible text (render mode 3, Helvetica, WinAnsi), each stretched to the
    width it was drawn at, so a recipient's pdftotext reads the lines as they were drawn."""
    _attach_invisible(pdf, page, "FKnown", [_invisible(text, "FKnown", size, max(right - x, 1.0), x, y)
                                            for text, x, y, size, right in runs])
