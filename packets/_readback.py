"""The leak check's reading of pixels: what a recipient's OCR and barcode reader would see.

Flattening turns every page into an image, so a check that reads only text could be
blinded by it: a secret burned nowhere but drawn in pixels would pass. This module reads
the pixels of a volume the way a recipient could:

* every image drawn on a page is recognised (Tesseract) in its own decoded pixels, as a
  recipient who extracts it (pdfimages) would; an image flattening made in this process is
  not recognised twice: its words are recalled by the SHA-256 of its encoded bytes
  (:func:`packets.ocr.recall`), which is the same reading of the same pixels;
* a page of a document that draws anything but images and plain text (paths, shadings,
  patterns, inline images, Type3 or embedded fonts, whose glyphs may show what their
  text does not say) is rendered at :data:`RENDER_DPI` and recognised whole, and its
  QR codes and barcodes decoded;

and every needle is matched in what was read, as in text (and with OCR's O/0, l/1
confusions undone inside numbers). Pages refuge wrote itself (cover letter, index,
separators: ``skip``) are text the other channels read, and are not rendered.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf import Name

from ._reveal import hidden_views
from .detectors import Needle, fold, unconfuse

__all__ = ["RENDER_DPI", "page_reading_needs", "read_pixels"]

#: Resolution at which pages with vector content are rendered for recognition.
RENDER_DPI = 200
_PAINT = {"f", "F", "f*", "B", "B*", "b", "b*", "S", "s", "sh"}
_FILL = {"f", "F", "f*"}
_MIN_IMAGE_SIDE, _MAX_IMAGE_PIXELS = 16, 40_000_000


def _fonts_plain(resources) -> bool:
    """Whether every font of ``resources`` is a non-embedded, non-Type3 font (its glyphs are
    the viewer's own: what they show is what the text says)."""
    fonts = resources.get(Name.Font) if isinstance(resources, pikepdf.Dictionary) else None
    if not isinstance(fonts, pikepdf.Dictionary):
        return True
    for _name, font in fonts.items():
        if not isinstance(font, pikepdf.Dictionary) or font.get(Name.Subtype) == Name.Type3:
            return False
        for f in [font, *(font.get(Name.DescendantFonts) or [])]:
            desc = f.get(Name.FontDescriptor) if isinstance(f, pikepdf.Dictionary) else None
            if isinstance(desc, pikepdf.Dictionary) and any(k in desc for k in ("/FontFile", "/FontFile2",
                                                                                  "/FontFile3")):
                return False
    return True


def page_reading_needs(page: pikepdf.Page) -> tuple[list[pikepdf.Stream], bool]:
    """The images drawn on ``page`` (through its forms), and whether the page must be
    rendered to be read (it draws something else than images and plain text)."""
    images: list[pikepdf.Stream] = []
    seen: set = set()
    render = False

    def walk(content, resources, depth: int) -> None:
        nonlocal render
        if depth > 8:
            render = True
            return
        if not _fonts_plain(resources):
            render = True
        try:
            ops = pikepdf.parse_content_stream(content)
        except Exception:
            render = True
            return
        xobjects = resources.get(Name.XObject) if isinstance(resources, pikepdf.Dictionary) else None
        white, stack = False, []  # whether the fill colour is white (a blank box draws no ink)
        for operands, op in ops:
            name = str(op)
            if name == "q":
                stack.append(white)
            elif name == "Q":
                white = stack.pop() if stack else False
            elif name in ("g", "rg", "k", "sc", "scn", "cs"):
                values = [float(o) for o in operands if isinstance(o, (int, float, pikepdf.Object))
                          and not isinstance(o, pikepdf.Name)] if name != "cs" else []
                white = bool(values) and (values == [0.0] * 4 if name == "k" else all(v == 1.0 for v in values))
            if name in _FILL and white:
                continue
            if name in _PAINT or name == "INLINE IMAGE" or name == "BI":
                render = True
            elif name in ("scn", "SCN") and operands and isinstance(operands[-1], pikepdf.Name):
                render = True  # a pattern
            elif name == "Do" and operands and isinstance(xobjects, pikepdf.Dictionary):
                x = xobjects.get(operands[0])
                if not isinstance(x, pikepdf.Stream):
                    continue
                if x.get(Name.Subtype) == Name.Image:
                    if x.objgen not in seen or not x.is_indirect:
                        seen.add(x.objgen)
                        images.append(x)
                    if isinstance(x.get(Name.SMask), pikepdf.Stream) or Name.Mask in x:
                        render = True  # what shows is the image under its mask
                elif x.get(Name.Subtype) == Name.Form:
                    walk(x, x.get(Name.Resources, resources), depth + 1)

    walk(page, page.obj.get(Name.Resources, pikepdf.Dictionary()), 0)
    return images, render


def _image_pixels(stream: pikepdf.Stream):
    try:
        w, h = int(stream.get(Name.Width, 0)), int(stream.get(Name.Height, 0))
        if min(w, h) < _MIN_IMAGE_SIDE or w * h > _MAX_IMAGE_PIXELS:
            return None
        image = pikepdf.PdfImage(stream).as_pil_image()
        return image.convert("RGB" if image.mode not in ("L", "1") else "L")
    except Exception:  # an image that cannot be decoded shows nothing a reader could see
        return None


def read_pixels(data: bytes, needles: list[Needle], password: str | None = None,
                skip: set[int] | None = None, workers: int | None = None) -> list[tuple[Needle, int, str]]:
    """Every needle found in the pixels of ``data``: (needle, 0-based page, how), where how
    is "OCR of an image", "OCR of an image's hidden ink" (faint ink, a colour channel:
    packets/_reveal.py), "OCR of the page" or "a barcode on the page". An image flattening
    read is recalled with the words of its hidden-ink views."""
    import pypdfium2 as pdfium
    import zxingcpp

    from .ocr import recall, recognize

    if not needles:
        return []
    skip = skip or set()
    texts: dict[int, list[tuple[str, str]]] = {}
    pending: list[tuple[int, object, str]] = []  # page, pixels to recognise, what they are
    render_pages: list[int] = []
    with pikepdf.open(io.BytesIO(data), password=password or "") as pdf:
        for i, page in enumerate(pdf.pages):
            images, render = page_reading_needs(page)
            for stream in images:
                try:
                    raw = stream.read_raw_bytes()
                except Exception:
                    raw = b""
                found = recall(raw) if raw else None
                if found is not None:
                    texts.setdefault(i, []).append((found.text_and_boxes()[0], "OCR of an image"))
                    continue
                pixels = _image_pixels(stream)
                if pixels is not None:
                    pending.append((i, pixels.convert("L"), "OCR of an image"))
                    # ink a contrast tool or one colour channel shows (packets/_reveal.py)
                    pending.extend((i, view, "OCR of an image's hidden ink") for view in hidden_views(pixels))
            if render and i not in skip:
                render_pages.append(i)
    if render_pages:
        doc = pdfium.PdfDocument(data, password=password)
        try:
            for i in render_pages:
                page = doc[i]
                try:
                    image = page.render(scale=RENDER_DPI / 72, grayscale=True, draw_annots=False).to_pil()
                finally:
                    page.close()
                codes = [r.text for r in zxingcpp.read_barcodes(image) if r.text]
                if codes:
                    texts.setdefault(i, []).append(("\n".join(codes), "a barcode on the page"))
                pending.append((i, image, "OCR of the page"))
        finally:
            doc.close()
    batch = 8
    for start in range(0, len(pending), batch):
        chunk = pending[start:start + batch]
        for (i, _im, how), found in zip(chunk, recognize([im for _i, im, _h in chunk], workers)):
            texts.setdefault(i, []).append((found.text_and_boxes()[0], how))
        for k in range(start, min(start + batch, len(pending))):
            pending[k] = (pending[k][0], None, pending[k][2])  # free the pixels as we go
    out: list[tuple[Needle, int, str]] = []
    for i in sorted(texts):
        for text, how in texts[i]:
            if not text:
                continue
            folded = fold(text)[0]
            unconfused = unconfuse(folded)
            for n in needles:
                if n.search(folded) or any(True for _m in n.finditer_ocr(unconfused)):
                    out.append((n, i, how))
    return out
