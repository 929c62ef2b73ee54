"""Where a region rule lies on a page: the geometry that maps a box drawn on a page's preview to the rule's
coordinates, and the check that a rule's box lies on the page.

A region rule's box is in PDF points with the origin at the bottom-left of the unrotated source page (for
an image, one point per pixel of the upright image; for plain text, the packet page): what
:meth:`packets.redact.Redactor._apply_regions` places. A page's preview (packets._isolated.page_image) is the
page as the render stage draws it, fitted onto a letter page. :func:`page_geometry` reads, in the keyless
worker, the same placement the redaction stage reads (the rendered page's matrix and form or image), so a box
drawn on the preview and mapped back here lands where the redactor will burn it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vault import worker
from vault.errors import InvalidInput

from ._pdf import Box, Matrix, mul, transform_box

__all__ = ["Geometry", "box_from_fractions", "check_box", "fractions_of_box", "page_geometry", "parse_box"]

GEOMETRY_LIMITS = worker.Limits(memory=768 * 1024**2, cpu_seconds=60, wall_seconds=120)


@dataclass(frozen=True)
class Geometry:
    """A page of a document as a region rule sees it.

    ``pages``: the document's page count; ``size``: the drawn page (width, height) in points;
    ``matrix``: rule coordinates to drawn-page points; ``bounds``: the page in rule coordinates.
    """

    pages: int
    size: tuple[float, float]
    matrix: Matrix
    bounds: Box


def _numbers(value, n: int) -> tuple[float, ...]:
    """``n`` finite numbers from the worker's answer, or WorkerFailed (the document may be crafted)."""
    if not isinstance(value, list) or len(value) != n or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise worker.WorkerFailed("the worker measuring a page answered malformed data; the document may be crafted")
    return tuple(float(v) for v in value)


def page_geometry(data: bytes, mime: str, page: int, doc_id: str) -> Geometry:
    """The geometry of page ``page`` (from 1) of a document, read in a keyless worker.

    Raises:
        InvalidInput: the document has no such page (naming its page count).
        RenderError: the document cannot be drawn.
    """
    answer = worker.run("packets._regions:_geometry_task", {"mime": mime, "page": page, "doc_id": doc_id}, [data],
                        limits=GEOMETRY_LIMITS, label=doc_id)
    value = answer.value if isinstance(answer.value, dict) else {}
    pages = value.get("pages")
    if not isinstance(pages, int) or isinstance(pages, bool) or pages < 1:
        raise worker.WorkerFailed("the worker measuring a page answered malformed data; the document may be crafted")
    if not value.get("found"):
        raise InvalidInput(f"{doc_id} has {pages} page{'s' if pages != 1 else ''}; give a page from 1 to {pages}")
    size = _numbers(value.get("size"), 2)
    matrix = _numbers(value.get("matrix"), 6)
    bounds = _numbers(value.get("bounds"), 4)
    if min(size) <= 0 or abs(matrix[0] * matrix[3] - matrix[1] * matrix[2]) < 1e-12:
        raise worker.WorkerFailed("the worker measuring a page answered malformed data; the document may be crafted")
    return Geometry(pages, (size[0], size[1]), matrix, bounds)  # type: ignore[arg-type]


def parse_box(text: str) -> Box:
    """Four numbers X0,Y0,X1,Y1 (PDF points) typed by a person."""
    try:
        x0, y0, x1, y1 = (float(v) for v in str(text).split(","))
    except ValueError:
        raise InvalidInput("a box is four numbers X0,Y0,X1,Y1 in PDF points, e.g. 72,600,300,640") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidInput("a box is four numbers X0,Y0,X1,Y1 in PDF points, e.g. 72,600,300,640")
    return (x0, y0, x1, y1)


def check_box(box: Box, geometry: Geometry, doc_id: str, page: int) -> Box:
    """``box`` if it has a size and lies on the page (half a point of slack), else InvalidInput naming the page."""
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise InvalidInput("a region needs a size: X1 > X0 and Y1 > Y0", hint="redact-region-box")
    b = geometry.bounds
    if x0 < b[0] - 0.5 or y0 < b[1] - 0.5 or x1 > b[2] + 0.5 or y1 > b[3] + 0.5:
        raise InvalidInput(f"the region {_fmt(box)} lies outside page {page} of {doc_id}, which spans {_fmt(b)} "
                           f"in PDF points", hint="redact-region-box")
    return (max(x0, b[0]), max(y0, b[1]), min(x1, b[2]), min(y1, b[3]))


def _fmt(box: Box) -> str:
    return ",".join(f"{v:.0f}" if abs(v - round(v)) < 0.05 else f"{v:.1f}" for v in box)


def _inverse(m: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(e * ia + f * ic), -(e * ib + f * id_))


def box_from_fractions(fractions: Box, geometry: Geometry) -> Box:
    """A box drawn on the preview (fractions of its width and height, origin top-left) in rule coordinates,
    clipped to the page where it overlaps it (a drag that strays into the margin around the document keeps
    what is on the document; one wholly in the margin stays off the page, for :func:`check_box` to refuse)."""
    fx0, fy0, fx1, fy1 = fractions
    w, h = geometry.size
    drawn = (min(fx0, fx1) * w, (1 - max(fy0, fy1)) * h, max(fx0, fx1) * w, (1 - min(fy0, fy1)) * h)
    x0, y0, x1, y1 = transform_box(_inverse(geometry.matrix), drawn)
    b = geometry.bounds
    clipped = (max(x0, b[0]), max(y0, b[1]), min(x1, b[2]), min(y1, b[3]))
    if x1 > x0 and y1 > y0 and clipped[2] > clipped[0] and clipped[3] > clipped[1]:
        x0, y0, x1, y1 = clipped
    return (round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2))


def fractions_of_box(box: Box, geometry: Geometry) -> Box:
    """Where a rule's box shows on the preview: fractions of its width and height, origin top-left."""
    x0, y0, x1, y1 = transform_box(geometry.matrix, box)
    w, h = geometry.size
    return (x0 / w, 1 - y1 / h, x1 / w, 1 - y0 / h)


# --- in the keyless worker ----------------------------------------------------------------------


def _geometry_task(request: dict, blobs: list[bytes], report) -> tuple[dict, list]:
    import io

    import pikepdf
    from pikepdf import Name

    from . import _pdf
    from .model import Item
    from .render import render_item

    mime = str(request["mime"]).split(";")[0].strip().lower()
    item = Item(doc_id=str(request["doc_id"]), title="", type="other", date="", mime=mime, data=blobs[0])
    rendered = render_item(item, None)
    count, n = len(rendered.pdf.pages), int(request["page"])
    if not 1 <= n <= count:
        return {"pages": count, "found": False}, []
    page = rendered.pdf.pages[n - 1]
    mb = [float(v) for v in page.mediabox]
    size = [mb[2] - mb[0], mb[3] - mb[1]]
    m, target = _pdf.placement(page)
    if mime == "text/plain":
        matrix, bounds = _pdf.IDENTITY, (0.0, 0.0, size[0], size[1])
    elif isinstance(target, pikepdf.Stream) and target.get(Name.Subtype) == Name.Image:
        iw, ih = float(target.Width), float(target.Height)
        matrix, bounds = mul((1 / iw, 0.0, 0.0, 1 / ih, 0.0, 0.0), m), (0.0, 0.0, iw, ih)
    elif isinstance(target, pikepdf.Stream) and target.get(Name.Subtype) == Name.Form:
        with pikepdf.open(io.BytesIO(bytes(blobs[0]))) as src:  # the origin the redactor adds (its MediaBox)
            media = _pdf.rect(_pdf.inherited(src.pages[n - 1].obj, Name.MediaBox)) or (0.0, 0.0, 0.0, 0.0)
        ox, oy = min(media[0], media[2]), min(media[1], media[3])
        fm = target.get(Name.Matrix)
        if isinstance(fm, pikepdf.Array) and len(fm) == 6:
            m = mul(tuple(float(v) for v in fm), m)
        matrix = mul((1.0, 0.0, 0.0, 1.0, ox, oy), m)
        bbox = [float(v) for v in target.BBox]
        bounds = (min(bbox[0], bbox[2]) - ox, min(bbox[1], bbox[3]) - oy, max(bbox[0], bbox[2]) - ox,
                  max(bbox[1], bbox[3]) - oy)
    else:
        raise InvalidInput(f"{item.doc_id}: page {n} cannot take a region rule")
    return {"pages": count, "found": True, "size": size, "matrix": list(matrix), "bounds": list(bounds)}, []


def _geometry_prepare() -> None:
    import pikepdf  # noqa: F401  libraries map their code before the memory bound is set

    from . import render  # noqa: F401


_geometry_task.prepare = _geometry_prepare
