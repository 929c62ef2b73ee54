"""Large scans made by code, for the size-limit tests and the fitting benchmark.

:func:`text_scan` is a black-and-white document scanned at 300 dpi in grey levels (a
letter page of typed text on slightly grainy paper, as a JPEG: what an office scanner
makes); :func:`noise_scan` is a colour "photograph" of pure noise, which no encoder can
make small. Both return an image-only PDF (pages letter size, no text layer); the same
arguments give the same bytes.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LETTER = (8.5, 11.0)  # inches
_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
_WORDS = ("the applicant declares that her family left the village after the attack and travelled "
          "for eleven days before reaching the border where they were registered by the authorities "
          "of the receiving country and given temporary shelter in the camp").split()


def _text_page(rng: random.Random, dpi: int) -> Image.Image:
    w, h = int(LETTER[0] * dpi), int(LETTER[1] * dpi)
    grain = Image.frombytes("L", (w // 4, h // 4), rng.randbytes((w // 4) * (h // 4)))
    im = grain.resize((w, h), Image.Resampling.NEAREST).point(lambda v: 236 + v * 4 // 255)
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(str(_FONT), int(11 * dpi / 72))
    y, step = int(dpi * 1.0), int(11 * dpi / 72 * 1.6)
    while y < h - dpi:
        line = " ".join(rng.choice(_WORDS) for _ in range(12))
        d.text((dpi, y), line, font=font, fill=rng.randrange(20, 50))
        y += step
    return im


def _pdf(pages: list[bytes], dpi: int) -> bytes:
    pics = [Image.open(io.BytesIO(b)) for b in pages]
    buf = io.BytesIO()
    pics[0].save(buf, "PDF", save_all=True, append_images=pics[1:], resolution=float(dpi))
    return buf.getvalue()


def text_scan(pages: int, dpi: int = 300, seed: int = 0, quality: int = 50) -> bytes:
    """An image-only PDF of ``pages`` grey text pages scanned at ``dpi`` (JPEG)."""
    rng = random.Random(seed)
    out = []
    for _ in range(pages):
        buf = io.BytesIO()
        _text_page(rng, dpi).save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return _pdf(out, dpi)


def noise_scan(pages: int, size: tuple[int, int] = (900, 1165), seed: int = 0, quality: int = 92) -> bytes:
    """An image-only PDF of ``pages`` colour noise pages (each ``size`` pixels): incompressible."""
    rng = random.Random(seed)
    out = []
    for _ in range(pages):
        im = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return _pdf(out, int(size[0] / LETTER[0]))
