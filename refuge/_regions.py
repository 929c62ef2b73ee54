"""Region rules as the CLI and the web desk add them: the box checked against the page it is drawn on.

``refuge redact region`` and the web desk's region drawing both come here, so a box of no size, a page the
document does not have, or a box off the page is refused with the same one line, before anything is written.
The page is measured in the keyless worker (packets._regions), from the bytes a packet would render: the
rendition of an office document or e-mail where one is kept, else the original.
"""

from __future__ import annotations

from packets._regions import Geometry, box_from_fractions, check_box, page_geometry


def shown(vault, case, doc) -> tuple[bytes, str]:
    """The bytes and type a packet renders of ``doc`` (its kept rendition, else the original), in memory."""
    from vault.renditions import needs_rendition, rendition_of

    if needs_rendition(doc.mime):
        made = rendition_of(vault, case, doc)
        if made is not None:
            return made.data, made.mime
    return vault.document_bytes(doc), doc.mime


def geometry(vault, case, doc, page: int) -> Geometry:
    """Page ``page`` of ``doc`` as a region rule sees it (InvalidInput when the document has no such page)."""
    data, mime = shown(vault, case, doc)
    return page_geometry(data, mime, page, doc.id)


def add_region(vault, case, doc, page: int, category: str, box=None, fractions=None, targets: dict | None = None) -> dict:
    """Record a region rule on page ``page`` of ``doc``: ``box`` in PDF points (as ``--box`` takes it), or
    ``fractions`` of the page's preview (x0, y0, x1, y1 from its top-left, as drawn in the web desk).

    Raises:
        InvalidInput: the box has no size or lies off the page, or the page does not exist; nothing is written.
    """
    if box is not None:  # a box of no size is refused before the document is read
        check_box(tuple(box), Geometry(1, (1.0, 1.0), (1.0, 0.0, 0.0, 1.0, 0.0, 0.0),
                                       (float("-inf"),) * 2 + (float("inf"),) * 2), doc.id, page)
    measured = geometry(vault, case, doc, page)
    if box is None:
        box = box_from_fractions(tuple(fractions), measured)
    x0, y0, x1, y1 = check_box(tuple(box), measured, doc.id, page)
    rule = vault.add_redaction(case, {"kind": "region", "doc": doc.id, "page": page, "box": [x0, y0, x1, y1],
                                      "category": category})
    if targets is not None:
        targets["rule"] = rule["id"]
    return rule
