"""Fitting a document's pages under a size limit: images downsampled and recompressed.

A recipient's upload portal takes files up to a size (IRCC's: 2 or 4 MB); a 300 dpi scan
of twenty pages does not fit. :func:`fit_pdf` rewrites the images of an assembled (or
rendered) document, in place, on pixels that were already rebuilt or sanitized by the
render and redact stages (it runs in the keyless worker, with them):

* every image drawn at more than ``dpi`` (its effective resolution on the page, through
  every transformation and form that draws it) is downsampled to ``dpi``;
* a black-and-white page (a grey or colour scan whose pixels are ink or paper, or a
  1-bit image) becomes a 1-bit image, CCITT Group 4 or Flate, whichever is smaller (never
  JBIG2: some readers still mishandle it, and its symbol matching can change digits);
* anything else (photographs, colour scans) becomes a JPEG at ``quality``, in grey levels
  when it has no colour.

A new encoding replaces an image only when it is smaller. Masks, stencils, images with
an unusual colour space or a /Decode array are left as they are. :data:`STEPS` is the
ladder the assembler climbs (first the recipient's resolution, then lower quality,
then a lower resolution) before it refuses a document.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import pikepdf
from pikepdf import Name

__all__ = ["DEFAULT_DPI", "FLOOR_DPI", "Step", "fit_pdf", "fit_to", "steps"]

#: Images are first brought down to this resolution when the recipient names none.
DEFAULT_DPI = 200
#: The lowest resolution fitting goes to: below it a scan's small print stops being legible.
FLOOR_DPI = 100

_SLACK = 1.08  # an image this close to the target resolution is not resampled
_MIDTONES = 0.12  # at most this share of mid-grey pixels: a black-and-white page (text edges are grey)
_TILE_MIDTONES = 0.35  # and no 1/16 x 1/16 tile with more: no photograph on the page
_MAX_PIXELS = 80_000_000  # an image larger than this is left alone (the render stage bounds pages)


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: the largest resolution and the JPEG quality."""

    dpi: float
    quality: int

    def describe(self) -> str:
        """What this step did, in words for an error message."""
        return f"{self.dpi:.0f} dpi, JPEG quality {self.quality}"


def steps(dpi: float | None) -> list[Step]:
    """The ladder for a recipient that asks for ``dpi`` (None: :data:`DEFAULT_DPI`)."""
    top = float(dpi or DEFAULT_DPI)
    floor = min(top, FLOOR_DPI)
    ladder = [Step(top, 75), Step(top, 50), Step(max(floor, top * 2 / 3), 40)]
    return [s for i, s in enumerate(ladder) if s not in ladder[:i]]


# ---------------------------------------------------------------------- where images are drawn


def _mul(a, b):
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3],
            a[4] * b[0] + a[5] * b[2] + b[4], a[4] * b[1] + a[5] * b[3] + b[5])


def _scale(m) -> tuple[float, float]:
    """The lengths, in points, of the unit square's sides under ``m``."""
    return (m[0] ** 2 + m[1] ** 2) ** 0.5, (m[2] ** 2 + m[3] ** 2) ** 0.5


def _walk(content, resources, ctm, found: dict, depth: int, seen_forms: set) -> None:
    """Record, for every image drawn by ``content``, the highest resolution it is drawn at."""
    if depth > 12 or not isinstance(resources, pikepdf.Dictionary):
        return
    xobjects = resources.get(Name.XObject)
    if not isinstance(xobjects, pikepdf.Dictionary):
        return
    stack = []
    try:
        ops = pikepdf.parse_content_stream(content, "q Q cm Do")
    except pikepdf.PdfError:
        return
    for operands, op in ops:
        name = str(op)
        if name == "q":
            stack.append(ctm)
        elif name == "Q":
            ctm = stack.pop() if stack else ctm
        elif name == "cm" and len(operands) == 6:
            try:
                ctm = _mul(tuple(float(v) for v in operands), ctm)
            except (TypeError, ValueError):
                continue
        elif name == "Do" and operands:
            xobj = xobjects.get(str(operands[0]))
            if not isinstance(xobj, pikepdf.Stream):
                continue
            subtype = xobj.get(Name.Subtype)
            if subtype == Name.Image:
                _found(xobj, ctm, found)
            elif subtype == Name.Form and xobj.objgen not in seen_forms:
                matrix = xobj.get(Name.Matrix)
                try:
                    fm = tuple(float(v) for v in matrix) if isinstance(matrix, pikepdf.Array) and len(matrix) == 6 \
                        else (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
                except (TypeError, ValueError):
                    fm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
                seen_forms.add(xobj.objgen)
                _walk(xobj, xobj.get(Name.Resources), _mul(fm, ctm), found, depth + 1, seen_forms)
                seen_forms.discard(xobj.objgen)


def _found(image: pikepdf.Stream, ctm, found: dict) -> None:
    try:
        w, h = int(image.Width), int(image.Height)
    except (AttributeError, TypeError, ValueError):
        return
    sx, sy = _scale(ctm)
    if sx <= 0 or sy <= 0 or w <= 0 or h <= 0:
        return
    dpi = max(w / (sx / 72.0), h / (sy / 72.0))
    key = image.objgen
    if key == (0, 0):
        return  # a direct object: cannot be one image drawn in several places; left alone
    if key not in found or found[key][1] < dpi:
        found[key] = (image, dpi)


def drawn_images(pdf: pikepdf.Pdf) -> dict:
    """Every image the pages draw: objgen -> (image stream, highest effective dpi)."""
    found: dict = {}
    for page in pdf.pages:
        _walk(page.obj, page.obj.get(Name.Resources), (1.0, 0.0, 0.0, 1.0, 0.0, 0.0), found, 0, set())
    return found


# ------------------------------------------------------------------------------- pixels


def _decode(image: pikepdf.Stream, target: tuple[int, int]):
    """The image's pixels as a Pillow image in mode 1, L or RGB, or None to leave it."""
    from PIL import Image

    if image.get(Name.ImageMask) or Name.SMask in image or Name.Mask in image or Name.Decode in image:
        return None
    filters = image.get(Name.Filter)
    if filters == Name.DCTDecode and image.get(Name.ColorSpace) in (Name.DeviceGray, Name.DeviceRGB):
        try:
            im = Image.open(io.BytesIO(image.read_raw_bytes()))
            if im.mode not in ("L", "RGB") or im.size != (int(image.Width), int(image.Height)):
                return None  # a JPEG that disagrees with its dictionary is left as it is
            im.draft(im.mode, target)  # decode at a reduced scale: much faster for a big scan
            im.load()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, pikepdf.PdfError):
            return None
        return im
    try:
        im = pikepdf.PdfImage(image).as_pil_image()
        im.load()
    except (pikepdf.PdfError, NotImplementedError, ValueError, TypeError, OSError, SyntaxError,
            Image.DecompressionBombError):
        return None
    if im.mode == "P":
        im = im.convert("RGB")
    return im if im.mode in ("1", "L", "RGB") else None


def _gray(im) -> bool:
    from PIL import ImageChops

    small = im.copy()
    small.thumbnail((256, 256))
    r, g, b = small.split()
    return max(ImageChops.difference(r, g).getextrema()[1], ImageChops.difference(g, b).getextrema()[1]) <= 16


def _otsu(histogram: list[int]) -> int:
    total = sum(histogram)
    weighted = sum(i * n for i, n in enumerate(histogram))
    best, threshold, w0, s0 = -1.0, 128, 0, 0.0
    for t in range(256):
        w0 += histogram[t]
        if w0 == 0 or w0 == total:
            continue
        s0 += t * histogram[t]
        m0, m1 = s0 / w0, (weighted - s0) / (total - w0)
        between = w0 * (total - w0) * (m0 - m1) ** 2
        if between > best:
            best, threshold = between, t
    return threshold


def _box():
    from PIL import Image

    return Image.Resampling.BOX


def _bilevel(im) -> bool:
    """Whether a grey image is a black-and-white page: ink and paper, few mid-greys."""
    histogram = im.histogram()
    total = sum(histogram) or 1
    if sum(histogram[64:192]) / total > _MIDTONES:
        return False
    mid = im.point(lambda v: 255 if 64 <= v < 192 else 0)
    tiles = mid.resize((16, 16), _box())
    return tiles.getextrema()[1] <= 255 * _TILE_MIDTONES


def _g4(im) -> bytes | None:
    """CCITT Group 4 data of a mode-1 image (one strip), or None if Pillow cannot make it."""
    from PIL import Image

    buf = io.BytesIO()
    try:
        im.save(buf, "TIFF", compression="group4", strip_size=1 << 40)
        tiff = Image.open(io.BytesIO(buf.getvalue()))
        offsets, counts = tiff.tag_v2.get(273), tiff.tag_v2.get(279)
    except (OSError, ValueError, TypeError):
        return None
    if not offsets or not counts or len(offsets) != 1 or len(counts) != 1:
        return None
    return buf.getvalue()[offsets[0]:offsets[0] + counts[0]]


def _encode(im, quality: int):
    """(data, filter, decode parameters, colour space, bits) of the smallest fitting encoding."""
    from PIL import Image

    if im.mode == "RGB" and _gray(im):
        im = im.convert("L")
    if im.mode == "L" and _bilevel(im):
        t = _otsu(im.histogram())
        im = im.point(lambda v: 255 if v > t else 0).convert("1", dither=Image.Dither.NONE)
    w, h = im.size
    if im.mode == "1":
        flate = zlib.compress(im.tobytes(), 6)
        g4 = _g4(im)
        if g4 is not None and len(g4) < len(flate):
            params = pikepdf.Dictionary(K=-1, Columns=w, Rows=h, BlackIs1=True)
            return g4, Name.CCITTFaxDecode, params, Name.DeviceGray, 1
        return flate, Name.FlateDecode, None, Name.DeviceGray, 1
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue(), Name.DCTDecode, None, (Name.DeviceRGB if im.mode == "RGB" else Name.DeviceGray), 8


def _refit(image: pikepdf.Stream, dpi_now: float, step: Step) -> int:
    """Downsample and recompress one image in place; returns the bytes saved (0: unchanged)."""
    from PIL import Image

    w, h = int(image.Width), int(image.Height)
    if w * h > _MAX_PIXELS:
        return 0
    factor = min(1.0, step.dpi / dpi_now) if dpi_now > step.dpi * _SLACK else 1.0
    target = (max(1, round(w * factor)), max(1, round(h * factor)))
    im = _decode(image, target)
    if im is None:
        return 0
    if im.size != target:
        if im.mode == "1":
            im = im.convert("L")
        im = im.resize(target, Image.Resampling.LANCZOS if factor > 0.34 else Image.Resampling.BOX)
    data, filt, params, colour_space, bits = _encode(im, step.quality)
    before = len(image.read_raw_bytes())
    if len(data) >= before:
        return 0
    image.write(data, filter=filt, decode_parms=params, type_check=False)
    image.Width, image.Height = target
    image.ColorSpace = colour_space
    image.BitsPerComponent = bits
    for key in (Name.DecodeParms, Name.Interpolate):
        if key in image and not (key == Name.DecodeParms and params is not None):
            del image[key]
    return before - len(data)


def fit_pdf(pdf: pikepdf.Pdf, step: Step) -> int:
    """Downsample and recompress every image ``pdf``'s pages draw, in place, to ``step``.

    Returns the number of bytes saved in image data (0 when nothing was worth changing).
    """
    saved = 0
    for image, dpi in drawn_images(pdf).values():
        saved += _refit(image, dpi, step)
    return saved


def fit_to(data: bytes, limit: int, dpi: float | None = None) -> tuple[bytes, Step | None]:
    """The PDF ``data`` at most ``limit`` bytes: as it is if it fits, else with its images
    fitted, one step of the ladder at a time (each from the original), until it does.

    Returns the bytes and the step that made them fit (None: untouched); the last step's
    bytes when none does (the caller compares them with the limit).
    """
    from .render import save_pdf

    if len(data) <= limit:
        return data, None
    out, used = data, None
    for step in steps(dpi):
        with pikepdf.open(io.BytesIO(data)) as pdf:
            fit_pdf(pdf, step)
            out, used = save_pdf(pdf), step
        if len(out) <= limit:
            break
    return out, used
