"""Render one document into packet pages: the profile's page size, inside its margins.

Every item becomes a small in-memory PDF whose pages are exactly the profile's page size:

* PDF: each source page is wrapped as a Form XObject (its content and resources only)
  and placed, scaled and if need be turned, on a new page. The source's /Rotate and
  CropBox are honoured. Nothing else of the source travels: no annotations (their
  printable appearances are burned into the page first, so filled-in form fields stay
  visible), no AcroForm, outlines, JavaScript, actions, embedded files, XMP metadata,
  page-piece data or thumbnails. Embedded JPEG images lose their EXIF/XMP/comment
  segments (losslessly: only the header segments are dropped).
* Images (JPEG, PNG, multi-page TIFF, HEIC/HEIF, WebP): EXIF orientation is applied, then a fresh image
  is built from the pixels alone (no EXIF, GPS, XMP, ICC or comments) and re-encoded:
  JPEG (quality 85) for photographs, Flate for line art (bilevel or at most 256 colours).
* Plain text: decoded as UTF-8 (invalid bytes replaced), typeset in a monospace font and
  wrapped to the page.

Pages are fitted inside the margins keeping their aspect ratio, enlarged or reduced, and
landscape content is turned a quarter turn anticlockwise onto portrait pages when that
makes it larger. Nothing is clipped except what the source's own CropBox hides.

Plaintext never touches the disk: everything is read from and written to memory. Errors
are :class:`RenderError` with one line naming the document id (never its title or file
name, which are secret) and the fix.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import warnings
import zlib
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

from vault.errors import InvalidInput

from . import _pdf
from ._fonts import STANDARD_FONTS, Fonts, describe_char, fonts, fonts_for  # noqa: F401 (public here)
from .model import Item
from .profiles import DEFAULT_MARGIN, PAGE_SIZES, Profile

__all__ = [
    "MIME_TYPES",
    "Fonts",
    "RenderError",
    "Rendered",
    "STANDARD_FONTS",
    "fonts",
    "fonts_for",
    "page_count",
    "render",
    "render_item",
    "describe_char",
    "save_pdf",
    "sanitize_rendered",
    "strip_jpeg_metadata",
]

#: The document types (MIME) render accepts.
MIME_TYPES: tuple[str, ...] = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "image/heic", "image/heif",
                               "image/webp", "text/plain")

_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF", "image/heic": "HEIF",
                  "image/heif": "HEIF", "image/webp": "WEBP"}
_IMAGE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF", "image/heic": "HEIC",
                "image/heif": "HEIF", "image/webp": "WebP"}
_PHOTOS = ("image/jpeg", "image/heic", "image/heif", "image/webp")  # re-encoded as JPEG (line art: Flate)

TEXT_SIZE = 12.0  # points; the IRB asks for type of at least 12 points (RPD Rules r. 31(2))
TEXT_LEADING = 14.4
JPEG_QUALITY = 85
# A turned page must come out at least this much larger than an upright one.


class RenderError(InvalidInput):
    """A document cannot be rendered. The message is one line naming the document id (exit 1)."""

    def __init__(self, doc_id: str, problem: str, fix: str | None = None, *, hint: str | None = None) -> None:
        self.doc_id = doc_id
        text = f"document {doc_id}: {problem}" + (f"; {fix}" if fix else "")
        super().__init__(" ".join(text.splitlines()), hint=hint)


# ---------------------------------------------------------------------------- geometry


def _content_area(profile: Profile | None) -> tuple[float, float, tuple[float, float, float, float]]:
    if profile is None:
        w, h = PAGE_SIZES["letter"]
        m = DEFAULT_MARGIN
        return w, h, (m, m, w - m, h - m)
    w, h, mg = profile.page_width, profile.page_height, profile.margins
    return w, h, (mg.left, mg.bottom, w - mg.right, h - mg.top)


# ------------------------------------------------------------------------------ output


@dataclass
class Rendered:
    """An item's pages, rendered: a pikepdf document whose pages all have the profile's
    page size and whose content leaves the graphics state as it found it (so overlays can
    be appended). ``pdf`` stays valid as long as this object lives (it may share data
    with the source it was made from)."""

    doc_id: str
    pdf: pikepdf.Pdf
    _keep: list = field(default_factory=list, repr=False)

    @property
    def page_count(self) -> int:
        """Number of pages."""
        return len(self.pdf.pages)

    def to_bytes(self) -> bytes:
        """The pages as a PDF file, in memory (deterministic)."""
        return save_pdf(self.pdf)


def save_pdf(pdf: pikepdf.Pdf) -> bytes:
    """Write ``pdf`` to bytes deterministically: one revision, object streams, an /ID
    derived from the content (the same input gives the same bytes)."""
    buf = io.BytesIO()
    pdf.save(
        buf,
        deterministic_id=True,
        compress_streams=True,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
        fix_metadata_version=False,
        preserve_pdfa=False,
        min_version="1.7",
    )
    return buf.getvalue()


# -------------------------------------------------------------------------- public API


def render_item(item: Item, profile: Profile) -> Rendered:
    """Render ``item`` into pages of ``profile``'s size, fitted inside its margins.

    Raises :class:`RenderError` (one line, naming ``item.doc_id``) if the document is of
    an unsupported type, cannot be read, is password-protected, has no pages, is a
    decompression bomb or has text the packet fonts cannot show.
    """
    if not isinstance(item.data, (bytes, bytearray, memoryview)):
        raise RenderError(item.doc_id, "its data is not bytes", "pass the decrypted document as bytes")
    data = bytes(item.data)
    mime = (item.mime or "").split(";")[0].strip().lower()
    width, height, area = _content_area(profile)
    if mime == "application/pdf":
        return _render_pdf(data, item.doc_id, width, height, area)
    if mime in _IMAGE_FORMATS:
        return _render_image(data, item.doc_id, mime, width, height, area)
    if mime == "text/plain":
        return _render_text(data, item.doc_id, width, height, area)
    raise RenderError(item.doc_id, f"unsupported type {_safe_mime(mime)}",
                      "convert it to PDF, JPEG, PNG, TIFF or plain text")


def render(item: Item, profile: Profile) -> bytes:
    """Render ``item`` (see :func:`render_item`) and return the pages as PDF bytes."""
    return render_item(item, profile).to_bytes()


def sanitize_rendered(data: bytes, doc_id: str, profile: Profile) -> Rendered:
    """Re-place pages that came back from the redaction stage onto clean pages.

    The pages are fitted to the full page (no margins added again: they already have
    the profile's size), and, as for any PDF, only their content and resources are kept.
    Raises :class:`RenderError` naming ``doc_id`` if ``data`` is not a usable PDF.
    """
    width, height, _area = _content_area(profile)
    return _render_pdf(bytes(data), doc_id, width, height, (0.0, 0.0, width, height))


def page_count(item: Item, profile: Profile | None = None) -> int:
    """How many pages ``item`` will take in a packet (for planning).

    PDFs keep their page count and images one page per frame. Plain text depends on the
    page size: pass ``profile``; without one, letter with 54-point margins is assumed.
    The translator's declaration page, if any, is not counted. Raises
    :class:`RenderError` like :func:`render_item`.
    """
    data = bytes(item.data)
    mime = (item.mime or "").split(";")[0].strip().lower()
    if mime == "application/pdf":
        pdf = _open_pdf(data, item.doc_id)
        try:
            n = len(pdf.pages)
        finally:
            pdf.close()
        if n == 0:
            raise RenderError(item.doc_id, "the PDF has no pages", "add a PDF with at least one page")
        return n
    if mime in _IMAGE_FORMATS:
        with _open_image(data, item.doc_id, mime) as im:
            return _frame_count(im, item.doc_id, mime)
    if mime == "text/plain":
        _w, _h, area = _content_area(profile)
        text, f = _decode_text(data, item.doc_id)
        return len(_text_pages(text, area, f))
    raise RenderError(item.doc_id, f"unsupported type {_safe_mime(mime)}",
                      "convert it to PDF, JPEG, PNG, TIFF or plain text")


def _safe_mime(mime: str) -> str:
    text = "".join(c for c in mime if c.isascii() and (c.isalnum() or c in "/.+-"))[:60]
    return text or "(none)"


# -------------------------------------------------------------------------------- PDF


def _open_pdf(data: bytes, doc_id: str) -> pikepdf.Pdf:
    try:
        return pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise RenderError(doc_id, "the PDF is password-protected",
                          "remove the password and add the document again") from None
    except (pikepdf.PdfError, ValueError, OSError, RuntimeError):
        raise RenderError(doc_id, "is not a readable PDF",
                          "check the file, or convert it to PDF again and add it") from None


_FLATE = {"/FlateDecode", "/Fl"}
_RESOURCE_KEYS = ("/ExtGState", "/ColorSpace", "/Pattern", "/Shading", "/XObject", "/Font", "/ProcSet",
                  "/Properties")


def _content_stream(src: pikepdf.Pdf, page: pikepdf.Dictionary, doc_id: str, n: int) -> pikepdf.Stream:
    """A new stream in ``src`` holding the page's content, reusing compressed data if it can."""
    contents = page.get(Name.Contents)
    try:
        if isinstance(contents, pikepdf.Stream):
            filters = _pdf.filters(contents)
            if filters is not None and set(filters) <= _FLATE and len(filters) <= 1 \
                    and contents.get(Name.DecodeParms) is None:
                out = pikepdf.Stream(src, b"")
                raw = contents.read_raw_bytes()
                out.write(raw, filter=Name.FlateDecode if filters else None)
                return out
            return pikepdf.Stream(src, contents.read_bytes())
        if isinstance(contents, pikepdf.Array):
            parts = [c.read_bytes() for c in contents if isinstance(c, pikepdf.Stream)]
            return pikepdf.Stream(src, b"\n".join(parts))
        return pikepdf.Stream(src, b"")
    except (pikepdf.PdfError, RuntimeError, ValueError):
        raise RenderError(doc_id, f"the content of page {n} cannot be read",
                          "print the document to a new PDF and add that") from None


def _flatten_annotations(src: pikepdf.Pdf) -> None:
    """Burn printable annotation appearances (filled-in fields, stamps) into the pages."""
    if not any(Name.Annots in p.obj for p in src.pages):
        return
    try:
        acro = src.Root.get(Name.AcroForm)
        if isinstance(acro, pikepdf.Dictionary) and bool(acro.get(Name.NeedAppearances, False)):
            src.generate_appearance_streams()
        src.flatten_annotations("print")
    except Exception:  # best effort: without it, annotations are simply not carried over
        pass


def _render_pdf(data: bytes, doc_id: str, width: float, height: float,
                area: tuple[float, float, float, float]) -> Rendered:
    src = _open_pdf(data, doc_id)
    if len(src.pages) == 0:
        raise RenderError(doc_id, "the PDF has no pages", "add a PDF with at least one page")
    _flatten_annotations(src)
    out = pikepdf.new()
    own: set[tuple[int, int]] = set()
    for n, spage in enumerate(src.pages, start=1):
        pobj = spage.obj
        box = _pdf.page_box(pobj)
        rotate = _pdf.page_rotate(pobj)
        form = _content_stream(src, pobj, doc_id, n)
        form.Type = Name.XObject
        form.Subtype = Name.Form
        form.BBox = Array(list(box))
        res = _pdf.inherited(pobj, Name.Resources)
        clean = Dictionary()
        if isinstance(res, pikepdf.Dictionary):
            for key in _RESOURCE_KEYS:
                if key in res:
                    clean[key] = res[key]
        form.Resources = clean
        group = pobj.get(Name.Group)
        if isinstance(group, pikepdf.Dictionary):
            form.Group = group
        try:
            xobj = out.copy_foreign(form)
        except (pikepdf.PdfError, RuntimeError):
            raise RenderError(doc_id, f"page {n} cannot be copied",
                              "print the document to a new PDF and add that") from None
        m = _pdf.fit(box, rotate, area)
        page = out.add_blank_page(page_size=(width, height))
        page.obj.Resources = Dictionary(XObject=Dictionary(Fx0=xobj))
        page.obj.Contents = pikepdf.Stream(out, f"q {_pdf.cm(m)} /Fx0 Do Q".encode())
        own.add(page.obj.objgen)
    _scrub(out, own, doc_id)
    return Rendered(doc_id, out, [src])


# Keys dropped from every object copied out of a source: metadata, private data,
# thumbnails, alternates, files, structure links and anything that can act.
_DROP_KEYS = ("/Metadata", "/PieceInfo", "/Thumb", "/Alternates", "/OPI", "/AF", "/StructParent",
              "/StructParents", "/AA", "/JS", "/JavaScript", "/OpenAction", "/EmbeddedFiles", "/URI",
              "/LastModified")
# Objects of these types have no business inside page content; if a crafted source
# reaches them through its resources, they are emptied.
_FORBIDDEN_TYPES = {"/Catalog", "/Pages", "/Page", "/Annot", "/Action", "/Filespec", "/EmbeddedFile",
                    "/Outlines", "/Sig", "/XRef", "/ObjStm"}


def _scrub(pdf: pikepdf.Pdf, own: set[tuple[int, int]], doc_id: str) -> None:
    own = own | {pdf.Root.objgen, pdf.Root.Pages.objgen}
    for obj in list(pdf.objects):
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)) or obj.objgen in own:
            continue
        try:
            typ = obj.get(Name.Type)
            if isinstance(typ, pikepdf.Name) and str(typ) in _FORBIDDEN_TYPES:
                for key in list(obj.keys()):
                    del obj[key]
                if isinstance(obj, pikepdf.Stream):
                    obj.write(b"")
                continue
            for key in _DROP_KEYS:
                if key in obj:
                    del obj[key]
            a = obj.get(Name.A)
            if isinstance(a, pikepdf.Dictionary) and Name.S in a:
                del obj[Name.A]
            if isinstance(obj, pikepdf.Stream) and obj.get(Name.Subtype) == Name.Image:
                filters = _pdf.filters(obj)
                if filters in (["/DCTDecode"], ["/DCT"]):
                    raw = obj.read_raw_bytes()
                    stripped = strip_jpeg_metadata(raw)
                    if stripped is not raw:
                        obj.write(stripped, filter=Name.DCTDecode, decode_parms=obj.get(Name.DecodeParms))
        except (pikepdf.PdfError, RuntimeError):
            raise RenderError(doc_id, "an object of the PDF cannot be read",
                              "print the document to a new PDF and add that") from None


# JPEG segments kept before the scan: tables, frame headers, restart interval and the
# Adobe APP14 segment (it says how colours are encoded). Everything else before the scan
# (JFIF/JFXX thumbnails, EXIF with GPS, XMP, ICC, Photoshop, comments) is dropped.
_JPEG_KEEP = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF,
              0xC4, 0xCC, 0xDB, 0xDD, 0xDC, 0xEE}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """``data`` (a JPEG file) without its metadata segments, losslessly.

    Returns ``data`` itself if it is not a JPEG this can parse or has nothing to drop.
    """
    if data[:2] != b"\xff\xd8":
        return data
    out = [b"\xff\xd8"]
    pos, n, dropped = 2, len(data), False
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return data
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out.append(data[pos:])
            return b"".join(out) if dropped else data
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos:pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > n:
            return data
        segment = data[pos:pos + 2 + length]
        if marker in _JPEG_KEEP:
            if marker == 0xEE and not segment[4:9] == b"Adobe":
                dropped = True
            else:
                out.append(segment)
        else:
            dropped = True
        pos += 2 + length
    return data


# ------------------------------------------------------------------------------ images


def _open_image(data: bytes, doc_id: str, mime: str):
    from PIL import Image

    kind = _IMAGE_NAMES[mime]
    if _IMAGE_FORMATS[mime] == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()  # iPhone photos (HEIC); the pixels only are kept, as for JPEG
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_IMAGE_FORMATS[mime]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(doc_id) from None
    except Exception:
        raise RenderError(doc_id, f"is not a readable {kind} image",
                          "check the file, or convert it to PDF and add that") from None
    _check_pixels(im.size, doc_id)
    return im


def _bomb(doc_id: str) -> RenderError:
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    return RenderError(doc_id, f"the image has more than {limit} pixels (a possible decompression bomb)",
                       "scale the image down and add it again")


def _check_pixels(size: tuple[int, int], doc_id: str) -> None:
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit and size[0] * size[1] > limit:
        raise _bomb(doc_id)


def _frame_count(im, doc_id: str, mime: str) -> int:
    n = int(getattr(im, "n_frames", 1) or 1)
    if n < 1:
        raise RenderError(doc_id, f"the {_IMAGE_NAMES[mime]} image has no pages", "check the file")
    return n


def _clean_pixels(im):
    """A fresh image built from the pixels alone, in a mode PDF can show (1, L or RGB).

    Transparency is flattened onto white; nothing of ``im.info`` (EXIF, GPS, XMP, ICC,
    comments, text chunks) survives.
    """
    from PIL import Image

    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode.startswith("I;16") or mode == "I":
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif mode == "F":
        im = im.convert("L")
    elif mode in ("La", "RGBa"):
        im = im.convert(mode.replace("a", "A"))
    elif mode not in ("1", "L", "RGB", "LA", "RGBA"):
        im = im.convert("RGB")
    if im.mode in ("LA", "RGBA"):
        base = Image.new(im.mode[:-1], im.size, 255 if im.mode == "LA" else (255, 255, 255))
        base.paste(im, mask=im.getchannel("A"))
        im = base
    return Image.frombytes(im.mode, im.size, im.tobytes())


def _encode_image(pdf: pikepdf.Pdf, im, photo: bool) -> pikepdf.Stream:
    """An image XObject for the clean image ``im`` (mode 1, L or RGB)."""
    w, h = im.size
    cs = Name.DeviceRGB if im.mode == "RGB" else Name.DeviceGray
    if im.mode == "1":
        bits, photo = 1, False
    else:
        bits = 8
        if not photo and im.getcolors(256) is None:
            photo = True
    stream = pikepdf.Stream(pdf, b"")
    if photo:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=JPEG_QUALITY)
        stream.write(strip_jpeg_metadata(buf.getvalue()), filter=Name.DCTDecode)
    else:
        stream.write(zlib.compress(im.tobytes(), 6), filter=Name.FlateDecode)
    stream.Type = Name.XObject
    stream.Subtype = Name.Image
    stream.Width = w
    stream.Height = h
    stream.ColorSpace = cs
    stream.BitsPerComponent = bits
    return stream


def _render_image(data: bytes, doc_id: str, mime: str, width: float, height: float,
                  area: tuple[float, float, float, float]) -> Rendered:
    from PIL import Image, ImageOps

    out = pikepdf.new()
    with _open_image(data, doc_id, mime) as im:
        frames = _frame_count(im, doc_id, mime)
        for i in range(frames):
            try:
                if i:
                    im.seek(i)
                _check_pixels(im.size, doc_id)
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im.load()
                    frame = ImageOps.exif_transpose(im)
                    clean = _clean_pixels(frame)
            except RenderError:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _bomb(doc_id) from None
            except Exception:
                kind = _IMAGE_NAMES[mime]
                where = f"page {i + 1} of the {kind} image" if frames > 1 else f"the {kind} image"
                raise RenderError(doc_id, f"{where} cannot be decoded",
                                  "check the file, or convert it to PDF and add that") from None
            xobj = _encode_image(out, clean, photo=(mime in _PHOTOS))
            iw, ih = clean.size
            m = _pdf.mul((float(iw), 0.0, 0.0, float(ih), 0.0, 0.0), _pdf.fit((0, 0, iw, ih), 0, area))
            page = out.add_blank_page(page_size=(width, height))
            page.obj.Resources = Dictionary(XObject=Dictionary(Im0=xobj))
            page.obj.Contents = pikepdf.Stream(out, f"q {_pdf.cm(m)} /Im0 Do Q".encode())
    return Rendered(doc_id, out)


# -------------------------------------------------------------------------------- text


def _decode_text(data: bytes, doc_id: str) -> tuple[str, Fonts]:
    """The text, cleaned, and the fonts that will show it."""
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    f = fonts_for(text.replace("\ufffd", "?"))
    rep = f.replacement
    chars = []
    for ch in text:
        if ch == "\ufffd":
            chars.append(rep)
        elif ch in "\n\f\t":
            chars.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            chars.append(" " if ch in "\u2028\u2029\x0b" else "")
        else:
            chars.append(ch)
    text = "".join(chars)
    bad = f.unsupported(text)
    if bad is not None:
        raise RenderError(doc_id, f"the text has characters the packet font cannot show ({describe_char(bad)})",
                          "convert it to PDF (e.g. print it to PDF) and add that")
    return text, f


def _mono_metrics(area: tuple[float, float, float, float], f: Fonts) -> tuple[int, int, float]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    char_w = stringWidth("M", f.mono, TEXT_SIZE)
    cols = max(1, int((area[2] - area[0]) // char_w))
    rows = max(1, int((area[3] - area[1] - TEXT_SIZE) // TEXT_LEADING) + 1)
    return cols, rows, char_w


def _text_pages(text: str, area: tuple[float, float, float, float], f: Fonts) -> list[list[str]]:
    """Lay plain text out in pages of lines (form feeds start a new page)."""
    cols, rows, _w = _mono_metrics(area, f)
    pages: list[list[str]] = []
    for chunk in text.split("\f"):
        lines: list[str] = []
        for raw in chunk.split("\n"):
            line = raw.expandtabs(8).rstrip()
            while len(line) > cols:
                cut = line.rfind(" ", 0, cols + 1)
                if cut <= cols // 2:
                    cut = cols
                lines.append(line[:cut].rstrip())
                line = line[cut:].lstrip(" ") if cut < len(line) and line[cut] == " " else line[cut:]
            lines.append(line)
        while lines and not lines[-1]:
            lines.pop()
        for i in range(0, max(len(lines), 1), rows):
            pages.append(lines[i:i + rows])
    while len(pages) > 1 and not any(pages[-1]):
        pages.pop()
    return pages or [[]]


def _render_text(data: bytes, doc_id: str, width: float, height: float,
                 area: tuple[float, float, float, float]) -> Rendered:
    from reportlab.pdfgen.canvas import Canvas

    text, f = _decode_text(data, doc_id)
    pages = _text_pages(text, area, f)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    top = area[3] - TEXT_SIZE
    for lines in pages:
        t = c.beginText(area[0], top)
        t.setFont(f.mono, TEXT_SIZE, TEXT_LEADING)
        for line in lines:
            t.textLine(line)
        c.drawText(t)
        c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    out = pikepdf.new()
    for p in pdf.pages:
        out.pages.append(p)
    q_open = pikepdf.Stream(out, b"q\n")
    q_close = pikepdf.Stream(out, b"\nQ\n")
    for p in out.pages:
        for key in ("/Annots", "/Metadata", "/PieceInfo", "/Thumb"):  # reportlab adds none; be sure
            if key in p.obj:
                del p.obj[key]
        # Like every rendered page, leave the graphics state as it was found, so that
        # what is drawn on top later (the page number) starts from the defaults.
        p.contents_add(q_open, prepend=True)
        p.contents_add(q_close)
    return Rendered(doc_id, out, [pdf])
