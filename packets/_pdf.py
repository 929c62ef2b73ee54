"""PDF helpers shared by the render, redact and verify stages: matrices, inherited page
attributes, page boxes, stream filters, and, re-exported, the build's clock (packets/_clock.py)."""

from __future__ import annotations

import math
from typing import Any

import pikepdf
from pikepdf import Dictionary, Name

from ._clock import source_date_epoch  # noqa: F401  (the build's clock lives in packets/_clock.py: no pikepdf)

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]

IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

#: Landscape content is turned a quarter turn only when that makes it at least 2% larger.
TURN_GAIN = 1.02


# ---------------------------------------------------------------------------- geometry


def mul(a: Matrix, b: Matrix) -> Matrix:
    """``a`` then ``b`` (PDF row-vector convention)."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    """The point (x, y) transformed by ``m``."""
    return (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])


def transform_box(m: Matrix, box: Box) -> Box:
    """The bounding box of ``box`` transformed by ``m``."""
    pts = [apply(m, x, y) for x in (box[0], box[2]) for y in (box[1], box[3])]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


def rotation(angle: int, w: float, h: float) -> Matrix:
    """Turn a ``w`` x ``h`` box at the origin clockwise by ``angle`` (0/90/180/270), keeping
    it in the positive quadrant."""
    return {
        0: (1.0, 0.0, 0.0, 1.0, 0.0, 0.0),
        90: (0.0, -1.0, 1.0, 0.0, 0.0, w),
        180: (-1.0, 0.0, 0.0, -1.0, w, h),
        270: (0.0, 1.0, -1.0, 0.0, h, 0.0),
    }[angle]


def fit(box: Box, rotate: int, area: Box) -> Matrix:
    """The matrix that puts ``box`` (x0, y0, x1, y1), shown turned clockwise by ``rotate``,
    as large as fits in ``area`` (x0, y0, x1, y1), centred; landscape content is turned a
    further quarter turn anticlockwise when that makes it larger."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    aw, ah = area[2] - area[0], area[3] - area[1]
    dw, dh = (h, w) if rotate in (90, 270) else (w, h)  # as displayed
    upright = min(aw / dw, ah / dh)
    turned = min(aw / dh, ah / dw)
    if dw > dh and turned > upright * TURN_GAIN:
        rotate = (rotate + 270) % 360
        scale = turned
    else:
        scale = upright
    rw, rh = (h, w) if rotate in (90, 270) else (w, h)
    m = mul((1.0, 0.0, 0.0, 1.0, -x0, -y0), rotation(rotate, w, h))
    ox = area[0] + (aw - rw * scale) / 2
    oy = area[1] + (ah - rh * scale) / 2
    return mul(m, (scale, 0.0, 0.0, scale, ox, oy))


def num(v: float) -> str:
    """A number for a content stream: short, deterministic, no exponent."""
    if abs(v) < 5e-6:
        return "0"
    return f"{v:.5f}".rstrip("0").rstrip(".")


def cm(m: Matrix) -> str:
    """The ``cm`` operator that applies ``m``."""
    return " ".join(num(v) for v in m) + " cm"


def placement(page: pikepdf.Page) -> tuple[Matrix, pikepdf.Object | None]:
    """The matrix and XObject of a rendered page that is ``q <cm> /Name Do Q`` (the form
    the render stage makes); ``None`` for the XObject when the page is anything else."""
    m = IDENTITY
    target = None
    try:
        ops = pikepdf.parse_content_stream(page)
    except Exception:
        return m, None
    xobjects = page.obj.get(Name.Resources, Dictionary()).get(Name.XObject, Dictionary())
    for operands, op in ops:
        s = str(op)
        if s == "cm" and target is None:
            m = mul(tuple(float(v) for v in operands), m)
        elif s == "Do":
            if target is not None:
                return m, None
            target = xobjects.get(operands[0])
    return m, target


# ------------------------------------------------------------------------------- pages


def inherited(page: pikepdf.Dictionary, key: Name) -> Any:
    """A page attribute, looked up through /Parent (at most 64 levels), or None."""
    node: Any = page
    for _ in range(64):
        if node is None or not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node[key]
        node = node.get(Name.Parent)
    return None


def rect(obj: Any) -> Box | None:
    """A PDF rectangle, normalised, or None when it is malformed, infinite or empty."""
    try:
        if not isinstance(obj, pikepdf.Array) or len(obj) != 4:
            return None
        a, b, c, d = (float(v) for v in obj)
    except (TypeError, ValueError, pikepdf.PdfError):
        return None
    x0, x1 = min(a, c), max(a, c)
    y0, y1 = min(b, d), max(b, d)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 - x0 < 1e-3 or y1 - y0 < 1e-3:
        return None
    return (x0, y0, x1, y1)


def page_box(page: pikepdf.Dictionary) -> Box:
    """The visible box of a page: its CropBox within its MediaBox (letter when neither reads)."""
    media = rect(inherited(page, Name.MediaBox)) or (0.0, 0.0, 612.0, 792.0)
    crop = rect(inherited(page, Name.CropBox))
    if crop is None:
        return media
    box = (max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3]))
    if box[2] - box[0] < 1e-3 or box[3] - box[1] < 1e-3:
        return media
    return box


def page_rotate(page: pikepdf.Dictionary) -> int:
    """A page's /Rotate as 0, 90, 180 or 270 (0 when malformed)."""
    try:
        r = int(inherited(page, Name.Rotate) or 0)
    except (TypeError, ValueError, pikepdf.PdfError):
        return 0
    return r % 360 if r % 90 == 0 else 0


def filters(stream: pikepdf.Stream) -> list[str] | None:
    """A stream's filter names, in order; ``[]`` for none, and ``None`` when /Filter is
    malformed (not a name or an array of names), which callers treat as unknown."""
    f = stream.get(Name.Filter)
    if f is None:
        return []
    if isinstance(f, pikepdf.Name):
        return [str(f)]
    if isinstance(f, pikepdf.Array):
        out = []
        for x in f:
            if not isinstance(x, pikepdf.Name):
                return None
            out.append(str(x))
        return out
    return None
