"""The keyless worker's side of the search index's text (packets._isolated.extract_texts).

Kept apart from packets/_isolated.py so that the worker a `doc add` starts to
read a new document's text imports only this (and pdfium's text layer for a
PDF, OCR's page text for a cached recognition), not the packet pipeline.
"""

from __future__ import annotations

import pickle

__all__ = ["MAX_TEXT_PAGES", "text_task", "document_text", "recognised_text"]

MAX_TEXT_PAGES = 100_000  # pages of text one document may give the index
PLAIN_PAGE = 1 << 20  # characters of a plain-text page: a longer text is cut into several


def text_task(_value, blobs: list[bytes], report) -> tuple[list, list]:
    """The worker's task: each document's [page, text] pages (blobs: the pickled request, then the documents)."""
    request = pickle.loads(blobs[0])  # from the parent, which the worker trusts
    out = []
    for doc, data in zip(request["docs"], blobs[1:]):
        report({"doc": doc["doc_id"]})
        out.append(document_text(doc["mime"], data, doc["ocr"]))
    return out, []


def document_text(mime: str, data: bytes, ocr: dict) -> list[list]:
    """[page, text] of one document: its text layer, else the recognised words of the OCR cache."""
    mime = (mime or "").split(";")[0].strip().lower()
    if mime == "text/plain":
        text = bytes(data).decode("utf-8", errors="replace")
        parts = [p[i:i + PLAIN_PAGE] for p in text.split("\f") for i in range(0, max(len(p), 1), PLAIN_PAGE)]
        return [[n, t] for n, t in enumerate(parts[:MAX_TEXT_PAGES], 1) if t.strip()]
    texts = []
    if mime == "application/pdf":  # the packet pipeline's reader (pikepdf, pdfium), only for a PDF
        from types import SimpleNamespace

        from .redact import _source_texts

        texts = _source_texts(SimpleNamespace(mime=mime, data=data))
    recognised = recognised_text(ocr)
    pages = {n: t for n, t in enumerate(texts, 1) if t.strip()}
    for n, t in recognised.items():  # pages without a text layer: scans, photos
        if n not in pages and (not texts or n <= len(texts)):
            pages[n] = t
    return [[n, pages[n]] for n in sorted(pages)[:MAX_TEXT_PAGES]]


def recognised_text(ocr: dict) -> dict[int, str]:
    """Page number (from 1) -> the words of an OCR cache entry ({page index: PageText dict})."""
    from .ocr import PageText

    out = {}
    for key, found in (ocr or {}).items():
        try:
            n = int(key) + 1
            text = PageText.from_dict(found).text_and_boxes()[0]
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if 1 <= n <= MAX_TEXT_PAGES and text.strip():
            out[n] = text
    return out
