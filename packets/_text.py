"""The search index's text of documents, read in a keyless worker: both sides (extract_texts, text_task).

Kept apart from packets/_isolated.py so that a `doc add` (which indexes the new
document's text) and the worker it starts import only this (and, in the worker,
pdfium's text layer for a PDF, OCR's page text for a cached recognition), not
the packet pipeline.
"""

from __future__ import annotations

import pickle

from vault import worker

__all__ = ["MAX_TEXT_PAGES", "checked_pages", "extract_texts", "warm_up", "stop_ahead", "text_task",
           "document_text", "recognised_text"]

MAX_TEXT_PAGES = 100_000  # pages of text one document may give the index
PLAIN_PAGE = 1 << 20  # characters of a plain-text page: a longer text is cut into several


_TASK = "packets._text:text_task"
_ahead: list = []  # a worker started by warm_up, for the next extract_texts


def warm_up() -> None:
    """Start the next :func:`extract_texts`'s keyless worker now, to wait for its request.

    For a process that waits for a command before it runs it (the unlock agent's
    spare child): the interpreter's start is then not part of the command's time.
    A worker never used ends when this process exits (its request pipe closes).
    """
    if not _ahead:
        _ahead.append(worker.start(_TASK, limits=worker.RENDER_LIMITS))


def stop_ahead() -> None:
    """Stop the worker :func:`warm_up` started (a process whose limits changed since: the next
    extraction starts one that has them)."""
    while _ahead:
        _ahead.pop().close()


def extract_texts(sources: list, limits: worker.Limits = worker.RENDER_LIMITS) -> list[list[tuple[int, str]]]:
    """The text of each document, per page, for the search index, read in a keyless worker.

    ``sources`` are :class:`vault.searching.TextSource` (document id, version,
    mime type, bytes, and recognised pages from the case's OCR cache, if any).
    PDFs give their text layer (pdfium); plain text gives one page per form
    feed; a page with no text (a scan, a photo) gives the words recognised
    before, when the OCR cache has them. Nothing is recognised here.
    Returns, per source, a list of (page number from 1, text).
    """
    request = {"docs": [{"doc_id": s.doc_id, "mime": s.mime, "ocr": dict(s.ocr or {})} for s in sources]}
    started = _ahead.pop() if _ahead and limits == worker.RENDER_LIMITS else worker.start(_TASK, limits=limits)
    answer = started.run(None, [pickle.dumps(request), *(s.data for s in sources)], label="the documents being indexed")
    value = answer.value
    if not isinstance(value, list) or len(value) != len(sources):
        raise worker.WorkerFailed("the worker extracting text answered malformed data")
    return [checked_pages(pages) for pages in value]


def checked_pages(pages) -> list[tuple[int, str]]:
    """One document's [page, text] pages as a worker answered them, checked (WorkerFailed when malformed)."""
    if not isinstance(pages, list) or len(pages) > MAX_TEXT_PAGES or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) and not isinstance(p[0], bool)
            and 1 <= p[0] <= MAX_TEXT_PAGES and isinstance(p[1], str) for p in pages):
        raise worker.WorkerFailed("the worker extracting text answered malformed data")
    return [(n, text) for n, text in pages]


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
