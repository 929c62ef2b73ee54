"""Pages of a document as PNG images for the page: drawn in the keyless worker, held only in memory.

The server holds the case keys; the document's bytes are parsed only in a
fresh keyless worker (packets._isolated.page_image), which renders the
document the way a packet would and draws one page with pdfium. The PNG is
checked for its signature and size and handed to the browser as it is: the
process that holds the keys never parses it, and nothing is written to disk.
"""

from __future__ import annotations


def page_png(data: bytes, mime: str, page: int, doc_id: str) -> tuple[bytes, int]:
    """Page ``page`` (from 1) of a document as PNG bytes, and how many pages it has."""
    from packets._isolated import page_image

    return page_image(data, mime, page, doc_id)
