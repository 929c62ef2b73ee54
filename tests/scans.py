"""Synthetic scanned documents, made by code, for the OCR tests.

Every page is a 1700 x 2200 pixel image (Letter/A4-ish at 200 dpi): dark ink on light
grey paper with a little seeded noise (the same seed gives the same bytes), text in
DejaVu Sans, Serif and Sans Mono, regular and bold, at 30 to 44 pixels. Each page plants
four secrets near the top:

* :data:`NAME`, an accented, clearly fictional person's name (the canaries' secret);
* :data:`PASSPORT`, a passport number after the label "Passport No." (full of 0/O and 1/l
  look-alikes), which the ``id-label`` detector finds;
* :data:`CURP`, a Mexican CURP (also 0/O, 1/l), which the ``curp`` detector finds;
* :data:`PHONE`, a Mexican phone number, which the ``phone`` detector finds;

then neutral filler, and far below them :data:`CONTROL` lines that no rule touches and
that must stay legible after redaction.

Variants (each returns ``(bytes, record)``): :func:`upright` (PNG or JPEG),
:func:`skewed` (a few degrees, white fill, expanded), :func:`rotated` (90/180/270: a photo
taken sideways or upside down), :func:`phone_photo` (JPEG at phone quality, slightly
blurred and unevenly lit), :func:`benchmark_pages` (20 varied pages) and
:func:`scanned_pdf` / :func:`image_pdf` (image-only PDF pages: no text layer).

The record is a dict: ``variant``, ``mime``, ``size`` (w, h), ``angle`` (degrees the
upright page was turned counter-clockwise), ``secrets`` ({key: string}), ``control``
(list of lines) and ``boxes`` ({key: (x0, y0, x1, y1)} in pixels, top-left origin, of
each planted *value* (the label is not included) and of each control line, computed with
Pillow's textbbox on the upright page and carried through any rotation).

Helpers for checking: :func:`ocr` (tesseract on image bytes), :func:`ocr_each` (the same
for several images in one tesseract process), :func:`rasterise`
(pdftoppm), :func:`skeleton` (fold case and accents, map 0/O and 1/l/I look-alikes, drop
everything but letters and digits), :func:`secrets_found` and :func:`control_found`.
"""

from __future__ import annotations

import io
import math
import os
import random
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

__all__ = [
    "CONTROL", "CURP", "FONT_DIR", "NAME", "PAGE_SIZE", "PASSPORT", "PHONE", "SECRETS",
    "benchmark_pages", "control_found", "image_pdf", "ocr", "ocr_each", "page", "phone_photo", "rasterise",
    "rotated", "scanned_pdf", "secrets_found", "skeleton", "skewed", "upright",
]

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PAGE_SIZE = (1700, 2200)
DPI = 200

NAME = "Quetzalina Marroquín"
PASSPORT = "G10203045"
CURP = "MAQZ850101MDFRRL09"
PHONE = "+52 962 555 0147"
#: key -> the planted secret value.
SECRETS = {"name": NAME, "passport": PASSPORT, "curp": CURP, "phone": PHONE}
#: Lines no rule touches, far below the secrets.
CONTROL = ["The applicant arrived in Tapachula in March.", "Seven lanterns hung above the orchard gate."]

# (key, label, value, font file, size): the planted lines, top of the page.
_PLANTED = [
    ("name", "Applicant: ", NAME, "DejaVuSerif.ttf", 42),
    ("passport", "Passport No. ", PASSPORT, "DejaVuSansMono.ttf", 40),
    ("curp", "CURP: ", CURP, "DejaVuSansMono-Bold.ttf", 38),
    ("phone", "Tel. ", PHONE, "DejaVuSans.ttf", 38),
]
_FILLER = [
    "This form was completed at the community office.",
    "The interview took place in a quiet room upstairs.",
    "Tea and bread were offered during the long wait.",
    "The river was high after three days of rain.",
    "A volunteer read every question aloud twice.",
    "The bus schedule changed at the start of the month.",
    "Copies of this page are kept in a locked cabinet.",
    "The garden behind the office grows beans and maize.",
]
_FILLER_FONTS = ["DejaVuSerif.ttf", "DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSerif-Bold.ttf"]
_CONTROL_FONTS = [("DejaVuSans-Bold.ttf", 42), ("DejaVuSerif.ttf", 42)]
_HEADING = ("FICTIONAL DECLARATION FORM", "DejaVuSans-Bold.ttf", 44)
INK = (28, 28, 38)
MARGIN = 140


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the DejaVu fonts are needed (apt-get install fonts-dejavu-core fonts-dejavu-extra)")
    return ImageFont.truetype(str(path), size)


def _paper(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Light grey paper: a smooth blotchy tone (232-246) plus fine grain, and a few specks."""
    w, h = size
    coarse = Image.frombytes("L", (w // 50, h // 50), rng.randbytes((w // 50) * (h // 50)))
    coarse = coarse.resize(size, Image.BILINEAR).point(lambda v: 232 + v * 14 // 255)
    grain = Image.frombytes("L", size, rng.randbytes(w * h)).point(lambda v: v * 10 // 255)
    paper = Image.merge("RGB", [coarse] * 3)
    tone = Image.merge("RGB", [grain] * 3)
    paper = ImageChops.subtract(paper, tone)
    d = ImageDraw.Draw(paper)
    for _ in range(60):  # dust
        x, y, r = rng.randrange(w), rng.randrange(h), rng.choice((1, 1, 2))
        d.ellipse((x, y, x + r, y + r), fill=(90, 90, 95))
    return paper


def page(seed: int = 0, *, vary: bool = False) -> tuple[Image.Image, dict]:
    """The upright page as a Pillow image and its record (boxes in pixels, top-left origin).

    ``vary`` picks fonts and filler by ``seed`` (for the benchmark set); the secrets and
    control lines are always planted, the control lines always at the bottom."""
    rng = random.Random(seed)
    im = _paper(rng, PAGE_SIZE)
    d = ImageDraw.Draw(im)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    heading, hfont, hsize = _HEADING
    d.text((MARGIN, 140), heading, font=_font(hfont, hsize), fill=INK)
    y = 280
    for key, label, value, font_name, size in _PLANTED:
        if vary:
            font_name = rng.choice(["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf",
                                    "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf"])
            size = rng.randrange(36, 45)
        font = _font(font_name, size)
        d.text((MARGIN, y), label, font=font, fill=INK)
        x = MARGIN + d.textlength(label, font=font)
        d.text((x, y), value, font=font, fill=INK)
        boxes[key] = tuple(int(round(v)) for v in d.textbbox((x, y), value, font=font))
        y += int(size * 2.0)
    y += 90
    filler = list(_FILLER)
    if vary:
        rng.shuffle(filler)
    for n, line in enumerate(filler):
        font = _font(rng.choice(_FILLER_FONTS) if vary else _FILLER_FONTS[n % len(_FILLER_FONTS)], 30 if not vary else rng.randrange(28, 34))
        d.text((MARGIN, y), line, font=font, fill=INK)
        y += 70
    y = 1780
    for n, (line, (font_name, size)) in enumerate(zip(CONTROL, _CONTROL_FONTS)):
        font = _font(font_name, size)
        d.text((MARGIN, y), line, font=font, fill=INK)
        boxes[f"control{n}"] = tuple(int(round(v)) for v in d.textbbox((MARGIN, y), line, font=font))
        y += 110
    d.text((MARGIN, 2060), f"page ref {seed:03d}", font=ImageFont.load_default(), fill=INK)
    record = {"variant": "upright", "size": im.size, "angle": 0, "secrets": dict(SECRETS), "control": list(CONTROL),
              "boxes": boxes, "seed": seed}
    return im, record


def _encode(im: Image.Image, fmt: str, quality: int = 90) -> tuple[bytes, str]:
    buf = io.BytesIO()
    fmt = fmt.upper()
    if fmt in ("JPG", "JPEG"):
        im.convert("RGB").save(buf, "JPEG", quality=quality, dpi=(DPI, DPI))
        return buf.getvalue(), "image/jpeg"
    if fmt == "PNG":
        im.save(buf, "PNG", dpi=(DPI, DPI))
        return buf.getvalue(), "image/png"
    raise ValueError(f"{fmt}: use PNG or JPEG")


def _rotate_point(x: float, y: float, angle: float, old: tuple[int, int], new: tuple[int, int]) -> tuple[float, float]:
    """Where (x, y) lands when Pillow rotates an ``old``-sized image ``angle`` degrees
    counter-clockwise with expand=True (giving ``new``)."""
    a = math.radians(angle)
    dx, dy = x - old[0] / 2, y - old[1] / 2
    x2 = new[0] / 2 + dx * math.cos(a) + dy * math.sin(a)
    y2 = new[1] / 2 - dx * math.sin(a) + dy * math.cos(a)
    return round(x2, 6), round(y2, 6)  # exact for quarter turns (cos 270 is not quite 0)


def _turn(im: Image.Image, record: dict, angle: float, variant: str) -> tuple[Image.Image, dict]:
    if angle % 90 == 0:
        turned = im.rotate(angle, expand=True)  # exact: no resampling, no fill
    else:
        turned = im.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    boxes = {}
    for key, (x0, y0, x1, y1) in record["boxes"].items():
        pts = [_rotate_point(x, y, angle, im.size, turned.size) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        boxes[key] = (int(math.floor(min(xs))), int(math.floor(min(ys))), int(math.ceil(max(xs))), int(math.ceil(max(ys))))
    return turned, dict(record, variant=variant, angle=angle, size=turned.size, boxes=boxes)


def upright(seed: int = 0, fmt: str = "PNG", quality: int = 90) -> tuple[bytes, dict]:
    """The upright page as PNG (default) or JPEG; the record's boxes are exact."""
    im, record = page(seed)
    data, mime = _encode(im, fmt, quality)
    return data, dict(record, mime=mime, variant=f"upright-{fmt.lower()}")


def skewed(degrees: float = 3.0, seed: int = 0, fmt: str = "PNG", quality: int = 90) -> tuple[bytes, dict]:
    """The page turned ``degrees`` counter-clockwise (negative: clockwise), white fill,
    expanded; boxes are the bounding boxes of the turned text boxes."""
    im, record = page(seed)
    turned, record = _turn(im, record, degrees, f"skewed{degrees:g}")
    data, mime = _encode(turned, fmt, quality)
    return data, dict(record, mime=mime)


def rotated(angle: int, seed: int = 0, fmt: str = "JPEG", quality: int = 85) -> tuple[bytes, dict]:
    """The page turned 90, 180 or 270 degrees counter-clockwise (a photo taken sideways)."""
    if angle not in (90, 180, 270):
        raise ValueError("angle must be 90, 180 or 270")
    im, record = page(seed)
    turned, record = _turn(im, record, angle, f"rotated{angle}")
    data, mime = _encode(turned, fmt, quality)
    return data, dict(record, mime=mime)


def phone_photo(seed: int = 0, quality: int = 50, blur: float = 0.8) -> tuple[bytes, dict]:
    """A phone snapshot: uneven light (darker toward one corner), a slight blur, JPEG at
    ``quality`` (45-60 is phone quality)."""
    im, record = page(seed)
    w, h = im.size
    shade = Image.linear_gradient("L").resize((w, h)).rotate(35, expand=False, fillcolor=255)
    shade = shade.point(lambda v: 255 - v * 28 // 255)  # 255 .. 227
    im = Image.composite(im, Image.new("RGB", im.size, (0, 0, 0)), shade.point(lambda v: v))
    im = im.filter(ImageFilter.GaussianBlur(blur))
    data, mime = _encode(im, "JPEG", quality)
    return data, dict(record, mime=mime, variant=f"phone-q{quality}")


def benchmark_pages(n: int = 20, fmt: str = "JPEG", quality: int = 80) -> list[tuple[bytes, dict]]:
    """``n`` varied pages (fonts, sizes and filler chosen by seed; every 5th page skewed
    2 degrees, every 7th turned 90) for a benchmark."""
    out = []
    for seed in range(n):
        im, record = page(seed, vary=True)
        if seed % 7 == 6:
            im, record = _turn(im, record, 90, "rotated90")
        elif seed % 5 == 4:
            im, record = _turn(im, record, 2.0 if seed % 2 else -2.0, "skewed2")
        data, mime = _encode(im, fmt, quality)
        out.append((data, dict(record, mime=mime, variant=f"bench-{record['variant']}")))
    return out


def image_pdf(images: list[bytes], dpi: int = DPI) -> bytes:
    """A PDF with one image-only page per image (no text layer, no fonts): a scanned PDF.
    JPEGs are embedded as they are (DCTDecode), other images losslessly."""
    if not images:
        raise ValueError("no images")
    pics = [Image.open(io.BytesIO(b)) for b in images]
    for p in pics:
        p.load()
    pics = [p if p.format == "JPEG" else p.convert("RGB") for p in pics]
    buf = io.BytesIO()
    pics[0].save(buf, "PDF", save_all=True, append_images=pics[1:], resolution=float(dpi))
    return buf.getvalue()


def scanned_pdf(variants: list[tuple[bytes, dict]] | None = None) -> tuple[bytes, dict]:
    """An image-only PDF of ``variants`` (default: the upright JPEG page, then the page
    skewed 3 degrees). The record lists each page's record under ``pages``."""
    if variants is None:
        variants = [upright(fmt="JPEG", quality=85), skewed(3.0, fmt="JPEG", quality=85)]
    data = image_pdf([b for b, _r in variants])
    return data, {"variant": "scanned-pdf", "mime": "application/pdf", "secrets": dict(SECRETS),
                  "control": list(CONTROL), "pages": [r for _b, r in variants]}


# --------------------------------------------------------------------------- checking


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise FileNotFoundError(f"{name} is not installed")
    return path


def ocr(image: bytes | str | os.PathLike, lang: str = "eng+spa", psm: int | None = None, timeout: float = 120,
        dpi: int | None = None) -> str:
    """What tesseract reads in ``image`` (bytes or a path); one thread, to share the CPU.

    ``dpi``: the image's resolution, for images that do not carry one (PPM from
    :func:`rasterise`); tesseract then reads them exactly as the same pixels in a PNG."""
    args = [_tool("tesseract"), "stdin" if isinstance(image, bytes) else os.fspath(image), "stdout", "-l", lang]
    if psm is not None:
        args += ["--psm", str(psm)]
    if dpi is not None:
        args += ["--dpi", str(dpi)]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    p = subprocess.run(args, input=image if isinstance(image, bytes) else None, capture_output=True, env=env,
                       timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"tesseract failed: {p.stderr.decode(errors='replace')[-500:]}")
    return p.stdout.decode("utf-8", errors="replace")


def ocr_each(images: list, lang: str = "eng+spa", psm: int | None = None, timeout: float = 120,
             dpi: int | None = None, strict: bool = True) -> list[str]:
    """What tesseract reads in each of ``images`` (bytes or paths), as :func:`ocr` reads each
    alone, with the same settings, but in one tesseract process: the images are listed in a
    file list, each read from its own file as it is, and the pages' texts come back separated
    by form feeds. That saves loading the language models once an image (about 0.2 s). If the
    run fails (an image it cannot read stops a file list), each image is read alone; with
    ``strict`` False, one that tesseract cannot read then reads as nothing."""

    def alone(im) -> str:
        try:
            return ocr(im, lang, psm, timeout, dpi)
        except RuntimeError:
            if strict:
                raise
            return ""

    if len(images) <= 1:
        return [alone(im) for im in images]
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for k, im in enumerate(images):
            if isinstance(im, bytes):
                path = Path(tmp) / f"image-{k}"
                path.write_bytes(im)
                im = path
            names.append(os.path.abspath(os.fspath(im)))
        if any("\n" in n for n in names):
            return [alone(im) for im in images]
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(n + "\n" for n in names))
        args = [_tool("tesseract"), str(listing), "stdout", "-l", lang]
        if psm is not None:
            args += ["--psm", str(psm)]
        if dpi is not None:
            args += ["--dpi", str(dpi)]
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        p = subprocess.run(args, capture_output=True, env=env, timeout=timeout * len(images))
        texts = p.stdout.decode("utf-8", errors="replace").split("\f")
        if p.returncode == 0 and len(texts) == len(images):
            return texts
        return [alone(im) for im in images]


def rasterise(pdf: bytes | str | os.PathLike, dpi: int = 200, fmt: str = "png") -> list[bytes]:
    """Every page of ``pdf`` as PNG bytes (pdftoppm -r DPI -png), in order.

    ``fmt="ppm"``: the same pixels as PPM, without pdftoppm's PNG compression, which
    takes seconds a page on a noisy scan (read them with ``ocr(..., dpi=DPI)``)."""
    ext = {"png": "png", "ppm": "ppm"}[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf if isinstance(pdf, bytes) else Path(pdf).read_bytes())
        flags = ["-png"] if fmt == "png" else []
        subprocess.run([_tool("pdftoppm"), "-r", str(dpi), *flags, str(src), str(Path(tmp) / "p")], check=True,
                       capture_output=True, timeout=300)
        pages = sorted(Path(tmp).glob(f"p-*.{ext}"), key=lambda p: int(re.search(r"-(\d+)\.\w+$", p.name).group(1)))
        return [p.read_bytes() for p in pages]


_LOOKALIKE = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1", "!": "1"})


def skeleton(text: str) -> str:
    """``text`` folded for tolerant comparison: accents dropped, lower case, O->0 and
    l/I/i/|->1, then only letters and digits kept (no spaces, no punctuation)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.translate(_LOOKALIKE)
    return re.sub(r"[^a-z0-9]", "", text)


def _secret_pieces(value: str) -> list[str]:
    """The skeletons to look for: the whole value, each of its long words (so
    'Marroquín' alone counts), the phone's last 7 digits and every run of 6+ digits (so a
    letter misread as a digit, G as 6, does not hide an id number)."""
    pieces = {skeleton(value)}
    for word in re.split(r"[\s\-]+", value):
        if len(skeleton(word)) >= 6:
            pieces.add(skeleton(word))
    digits = re.sub(r"\D", "", value)
    if value.startswith("+") and len(digits) >= 10:
        pieces.add(digits[-7:])
    for run in re.findall(r"\d{6,}", value):  # G10203045 read as 610203045 still counts
        pieces.add(run)
    return sorted(pieces)


def secrets_found(text: str, secrets: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Which secrets (key -> the pieces seen) appear in ``text`` after :func:`skeleton`."""
    flat = skeleton(text)
    found = {}
    for key, value in (secrets or SECRETS).items():
        seen = [p for p in _secret_pieces(value) if p in flat]
        if seen:
            found[key] = seen
    return found


def control_found(text: str, line: str, need: float = 0.75) -> bool:
    """Whether ``line`` is recognised in ``text``: at least ``need`` of its words (3+
    letters, compared as skeletons) are among the words read."""
    words = [skeleton(w) for w in line.split()]
    words = [w for w in words if len(w) >= 3]
    read = {skeleton(w) for w in text.split()}
    return sum(w in read for w in words) >= need * len(words)
