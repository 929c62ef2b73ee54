"""The stages that parse documents, run in the keyless worker (vault/worker.py).

Rendering, redaction (text extraction, OCR input, flattening), assembly and the
leak check all read bytes that came from strangers. They run here, in a fresh
process that holds no identity, no case key and no signing key, with memory,
CPU and file limits and no network. The process that holds the keys decrypts
the documents, sends them over a pipe, and gets back the unsigned volumes, the
review report and counts; it then signs and records.

The request to a worker is pickled (the worker trusts its parent); the answer
is JSON and raw bytes, checked field by field, because a worker subverted by a
crafted file must not be able to run code in the process that holds the keys.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable

from vault import worker

from ._text import document_text as _document_text  # noqa: F401  (packets/coverage.py, bench_coverage)
from ._text import extract_texts  # noqa: F401  (the parent side lives with the task: refuge/indexing.py imports it alone)
from .model import Item, PacketRequest, Volume
from .profiles import Profile

__all__ = ["Produced", "count_pages", "extract_texts", "page_image", "produce", "review_and_find", "review_pages"]


@dataclasses.dataclass
class Produced:
    """What the worker made of a packet's documents: unsigned volumes, the review report, counts."""

    volumes: list[Volume]
    review: bytes
    redactions: dict
    recognised: dict[str, dict]
    recognised_docs: dict[str, str]


class _Progress:
    """Passes the worker's progress on, remembers the document it is on and what it recognised."""

    def __init__(self, say: Callable[[str, int, int], None] | None) -> None:
        self.say = say
        self.doc: str | None = None
        self.recognised: dict[str, dict] = {}
        self.recognised_docs: dict[str, str] = {}

    def __call__(self, message) -> None:
        if not isinstance(message, dict):
            return
        if isinstance(message.get("doc"), str):
            self.doc = message["doc"][:64]
        stage, n, total = message.get("stage"), message.get("n", 0), message.get("total", 0)
        if isinstance(stage, str) and self.say is not None and type(n) is int and type(total) is int:
            self.say(stage[:80], max(0, min(n, 10**7)), max(0, min(total, 10**7)))
        if isinstance(message.get("recognised"), dict) and isinstance(message.get("recognised_docs"), dict):
            self.recognised.update(_recognised(message["recognised"]))
            self.recognised_docs.update({str(k): str(v) for k, v in message["recognised_docs"].items()})


def _run(task: str, request: dict, datas: list[bytes], progress: _Progress, limits: worker.Limits):
    try:
        return worker.run(f"packets._isolated:{task}", None, [pickle.dumps(request), *datas], limits=limits,
                          label="the packet's documents", progress=progress)
    except worker.WorkerDied:
        if not progress.doc:
            raise
        raise worker.WorkerDied(
            f"document {progress.doc} could not be rendered within {limits.memory // 1024**2} MiB of memory and "
            f"{limits.cpu_seconds} s of CPU (a rendering bomb, or a file that crashes readers)",
            hint="new-copy") from None


def produce(items: list[Item], profile: Profile, *, sender_org: str, today: str, redactions: list[dict],
            reviews: list[dict], ocr: bool, ocr_cache: dict, progress: Callable[[str, int, int], None] | None = None,
            limits: worker.Limits = worker.RENDER_LIMITS, letter: dict | None = None,
            coverage: dict | None = None, file_name: str | None = None) -> Produced:
    """Render, redact, assemble and leak-check ``items`` in a keyless worker.

    New recognition results are in the answer, and also when the build stops
    (they come back as progress, so that the caller can keep them anyway: see
    :attr:`Produced.recognised` and the ``recognised`` attribute of the raised
    error).
    """
    request = {"items": [dataclasses.replace(i, data=b"") for i in items], "profile": profile,
               "sender_org": sender_org, "today": today, "redactions": redactions, "reviews": reviews, "ocr": ocr,
               "ocr_cache": ocr_cache, "letter": letter,
               "coverage": coverage, "file_name": file_name}
    watch = _Progress(progress)
    try:
        answer = _run("_produce_task", request, [i.data for i in items], watch, limits)
    except Exception as e:
        e.recognised, e.recognised_docs = watch.recognised, watch.recognised_docs
        raise
    value = answer.value if isinstance(answer.value, dict) else {}
    metas = value.get("volumes")
    if not isinstance(metas, list) or len(answer.blobs) != len(metas) + 1:
        raise worker.WorkerFailed("the worker building the packet answered malformed data")
    try:
        volumes = [Volume(number=int(m["number"]), data=data, first_page=int(m["first_page"]),
                          last_page=int(m["last_page"]), items=[str(x) for x in m["items"]],
                          type=str(m["type"]) if m.get("type") is not None else None)
                   for m, data in zip(metas, answer.blobs)]
        counts = {str(k): v for k, v in dict(value.get("redactions") or {}).items()}
    except (KeyError, TypeError, ValueError):
        raise worker.WorkerFailed("the worker building the packet answered malformed data") from None
    recognised = {**watch.recognised, **_recognised(value.get("recognised") or {})}
    recognised_docs = {**watch.recognised_docs, **{str(k): str(v) for k, v in dict(value.get("recognised_docs") or {}).items()}}
    return Produced(volumes, answer.blobs[-1], counts, recognised, recognised_docs)


def _recognised(value) -> dict[str, dict]:
    return {str(k): v for k, v in value.items() if isinstance(v, dict)} if isinstance(value, dict) else {}


def count_pages(items: list[Item], profile: Profile | None = None,
                limits: worker.Limits = worker.RENDER_LIMITS) -> list[int]:
    """How many pages each item takes in a packet, counted in a keyless worker."""
    request = {"items": [dataclasses.replace(i, data=b"") for i in items], "profile": profile}
    answer = _run("_count_task", request, [i.data for i in items], _Progress(None), limits)
    counts = answer.value
    if not isinstance(counts, list) or len(counts) != len(items) or not all(isinstance(n, int) for n in counts):
        raise worker.WorkerFailed("the worker counting pages answered malformed data")
    return counts


def review_pages(items: list[Item], profile: Profile, *, redactions: list[dict], ocr: bool, ocr_cache: dict,
                 limits: worker.Limits = worker.RENDER_LIMITS):
    """Every page of ``items`` as redaction sees it (recognised with ``ocr``), from a keyless worker.

    Returns (pages, recognised, recognised_docs); pages are
    :class:`packets.redact.PageInfo` without marks.
    """
    recognised: dict[str, dict] = {}
    recognised_docs: dict[str, str] = {}
    value = _review(items, profile, redactions, ocr, ocr_cache, None, recognised, recognised_docs, limits)
    return _pages(value), recognised, recognised_docs


def review_and_find(items: list[Item], profile: Profile, *, redactions: list[dict], ocr: bool, ocr_cache: dict,
                    candidates: dict, recognised: dict, recognised_docs: dict, count_pages: bool = False,
                    limits: worker.Limits = worker.RENDER_LIMITS) -> tuple[list, object, dict, list[int] | None]:
    """:func:`review_pages`, then, in the same keyless worker, the names and places no rule covers
    (packets/coverage.py ``find_uncovered``) in each document's text and latest recognition.

    ``candidates`` is ``{"latest": {document id: OCR cache key}, **coverage.candidate_rules(...)}``;
    the worker adds what it recognises. New recognition results land in ``recognised`` and
    ``recognised_docs``, also when the worker fails after recognising. Returns (pages, the names
    as the worker answered them, for packets.coverage.checked_candidates to check, the text of
    each document recognised here as the search index takes it: {id: [(page, text)]}, checked,
    and with ``count_pages`` each item's pages in a packet, as :func:`count_pages` counts them).
    """
    from ._text import checked_pages

    value = _review(items, profile, redactions, ocr, ocr_cache, candidates, recognised, recognised_docs, limits,
                    count_pages)
    texts = value.get("texts") if isinstance(value.get("texts"), dict) else {}
    counts = value.get("counts") if count_pages else None
    if count_pages and (not isinstance(counts, list) or len(counts) != len(items)
                        or not all(isinstance(n, int) for n in counts)):
        raise worker.WorkerFailed("the worker counting pages answered malformed data")
    return _pages(value), value.get("candidates"), {str(k): checked_pages(v) for k, v in texts.items()}, counts


def _review(items, profile, redactions, ocr, ocr_cache, candidates, recognised, recognised_docs, limits,
            count: bool = False) -> dict:
    request = {"items": [dataclasses.replace(i, data=b"") for i in items], "profile": profile,
               "redactions": redactions, "ocr": ocr, "ocr_cache": ocr_cache, "candidates": candidates,
               "count": count}
    watch = _Progress(None)
    try:
        answer = _run("_review_task", request, [i.data for i in items], watch, limits)
    finally:
        recognised.update(watch.recognised)
        recognised_docs.update(watch.recognised_docs)
    value = answer.value if isinstance(answer.value, dict) else {}
    recognised.update(_recognised(value.get("recognised")))
    recognised_docs.update({str(k): str(v) for k, v in dict(value.get("recognised_docs") or {}).items()})
    return value


def _pages(value: dict) -> list:
    from .redact import PageInfo

    try:
        return [PageInfo(doc_id=str(p["doc_id"]), page=int(p["page"]), width=float(p["width"]),
                         height=float(p["height"]), searchable=bool(p["searchable"]),
                         ocr_confidence=None if p["ocr_confidence"] is None else float(p["ocr_confidence"]),
                         version=int(p["version"]))
                for p in value["pages"]]
    except (KeyError, TypeError, ValueError):
        raise worker.WorkerFailed("the worker reviewing pages answered malformed data") from None


# --- inside the worker ----------------------------------------------------------------------


def _load(blobs: list[bytes]) -> tuple[dict, list[Item]]:
    request = pickle.loads(blobs[0])  # from the parent, which the worker trusts
    items = [dataclasses.replace(i, data=d) for i, d in zip(request["items"], blobs[1:])]
    return request, items


def _redactor(request: dict):
    from .redact import Redactor

    ocr = request["ocr"]
    return Redactor(request["redactions"], request["profile"], ocr=ocr,
                    ocr_cache=dict(request["ocr_cache"]) if ocr else None)


def _produce_task(_value, blobs: list[bytes], report) -> tuple[dict, list[bytes]]:
    request, items = _load(blobs)
    return produce_here(request, items, report)


def produce_here(request: dict, items: list[Item], report) -> tuple[dict, list[bytes]]:
    """The worker's side of :func:`produce`, in the calling process (the worker, or a benchmark)."""
    from vault.errors import RefugeError

    from .assemble import assemble
    from .build import require_reviews
    from .leakcheck import verify_file, verify_volumes
    from .redact import redact_rendered
    from .render import page_count, render_item
    from .review import review_report

    profile: Profile = request["profile"]
    redactor = _redactor(request)
    try:
        report({"stage": "finding what to redact"})
        # titles and translator details: before they reach generated pages
        items = redactor.prepare(items, lambda item: report({"doc": item.doc_id}))
        items = _blur_faces(items, profile, report, redactor)
        stage = "rendering, redacting" + (", recognising" if request["ocr"] else "") + \
            (" and rebuilding pages from pixels" if profile.flatten == "all" else "")
        redactor.progress = lambda _stage, n, total: report({"stage": stage, "n": n, "total": total})
        redactor._total = sum(page_count(item, profile) for item in items)
        report({"stage": stage, "n": 0, "total": redactor._total})
        keep, pages = [], []
        for item in items:
            report({"doc": item.doc_id})
            rendered = render_item(item, profile)
            keep.append(rendered)  # the redacted pages are new files; the rendered ones stay open until assembled
            pages.append(redact_rendered(redactor, item, rendered, profile))
        report({"doc": None, "stage": "assembling"})
        volumes = assemble(PacketRequest(profile=profile, items=items, sender_org=request["sender_org"],
                                         date=request["today"], redactions=redactor.summary(),
                                         letter=request.get("letter"), file_name=request.get("file_name")), pages)
        if profile.require_review:
            require_reviews(request["reviews"], redactor.pages, request["ocr"])
        report({"stage": "checking the packet for redacted text (text, objects, pixels, barcodes)"})
        verify_volumes(volumes, redactor.needles())  # fail closed: VerificationFailed, nothing written
        review = review_report(redactor, profile.id, request["today"], request.get("coverage"))
        verify_file(review, redactor.needles(), label="the review report", structure=False)
    except RefugeError:
        report({"recognised": redactor.ocr_new, "recognised_docs": redactor.ocr_docs})
        raise
    metas = [{"number": v.number, "first_page": v.first_page, "last_page": v.last_page, "items": list(v.items),
              "type": v.type} for v in volumes]
    value = {"volumes": metas, "redactions": redactor.summary(), "recognised": redactor.ocr_new,
             "recognised_docs": redactor.ocr_docs}
    return value, [v.data for v in volumes] + [review]


def _blur_faces(items: list[Item], profile: Profile, report, redactor) -> list[Item]:
    """Faces in image documents pixelated, when the profile asks (packets/faces.py); how many
    goes into the redactor's counts (the rebuilt pages are searched again as they are flattened)."""
    if not profile.blur_faces:
        return items
    from .faces import blur_items

    report({"say": "blurring faces in photos"})
    items, redactor.faces_in_images = blur_items(items, profile)
    return items


def _count_task(_value, blobs: list[bytes], report) -> tuple[list[int], list]:
    request, items = _load(blobs)
    return _counts(items, request["profile"], report), []


def _counts(items: list[Item], profile: Profile, report) -> list[int]:
    from .render import page_count

    counts = []
    for item in items:
        report({"doc": item.doc_id})
        counts.append(page_count(item, profile))
    return counts


def _review_task(_value, blobs: list[bytes], report) -> tuple[dict, list]:
    from .render import render

    request, items = _load(blobs)
    counts = _counts(items, request["profile"], report) if request.get("count") else None  # what a plan shows
    redactor = _redactor(request)
    for item in redactor.prepare(items, lambda item: report({"doc": item.doc_id})):
        report({"doc": item.doc_id})
        redactor.analyse(item, render(item, request["profile"]))
    pages = [{"doc_id": p.doc_id, "page": p.page, "width": p.width, "height": p.height, "searchable": p.searchable,
              "ocr_confidence": p.ocr_confidence, "version": p.version} for p in redactor.pages]
    found = texts = None
    if request.get("candidates") is not None:
        if redactor.ocr_new:  # the parent keeps them even if what follows fails
            report({"recognised": redactor.ocr_new, "recognised_docs": redactor.ocr_docs})
        found, texts = _candidates_here(items, request, redactor, report)
    return {"pages": pages, "recognised": redactor.ocr_new, "recognised_docs": redactor.ocr_docs,
            "candidates": found, "texts": texts, "counts": counts}, []


def _candidates_here(items: list[Item], request: dict, redactor, report) -> tuple[list[dict], dict[str, list]]:
    """The names nobody covers (packets/coverage.py), from each document's latest recognition:
    the one the case held (``latest``) or the one just made, as the parent would hold them; and
    the [page, text] pages read of the documents recognised here (what the search index takes)."""
    import json

    from .coverage import find_uncovered

    wanted = request["candidates"]
    new = {k: v for k, v in redactor.ocr_new.items() if isinstance(v, dict)}
    results = json.loads(json.dumps({**dict(request["ocr_cache"] or {}), **new}))  # what crossing the pipe makes of them
    latest = dict(wanted["latest"])
    latest.update({str(doc): str(key) for key, doc in redactor.ocr_docs.items()})
    keys = [latest.get(i.doc_id) for i in items]
    docs = [{"doc_id": i.doc_id, "mime": i.mime, "ocr": dict(results[key] or {}) if key in results else {}}
            for i, key in zip(items, keys)]
    texts: dict[str, list | None] = {str(doc): None for doc in redactor.ocr_docs.values()}
    found = find_uncovered(docs, [i.data for i in items], wanted, report, texts)
    return found, {doc: pages for doc, pages in texts.items() if pages is not None}


# --- text for the search index ------------------------------------------------------------

# The worker's side is packets/_text.py: it imports nothing of the packet pipeline, so the text
# worker of a small doc add starts in a fraction of the time (tests/test_startup.py).


# --- a page drawn for a person to look at (the web desk's preview) ----------------------------

PREVIEW_LIMITS = worker.Limits(memory=768 * 1024**2, cpu_seconds=60, wall_seconds=120)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG = 32 * 1024**2


def page_image(data: bytes, mime: str, page: int, doc_id: str, scale: float = 1.5,
               limits: worker.Limits = PREVIEW_LIMITS) -> tuple[bytes, int]:
    """Page ``page`` (from 1) of a document, rendered as a packet would render it, as PNG bytes; and its page count.

    Drawn in a keyless worker; the answer is checked to be one PNG of bounded
    size and is never parsed here (the caller hands it on as it is). Nothing
    touches the disk. ``scale`` 1.5 is 108 dpi.
    """
    answer = worker.run("packets._isolated:_page_image_task", {"mime": mime, "page": page, "doc_id": doc_id,
                                                               "scale": scale}, [data], limits=limits, label=doc_id)
    value, blobs = answer.value, answer.blobs
    if (not isinstance(value, dict) or not isinstance(value.get("pages"), int) or isinstance(value["pages"], bool)
            or value["pages"] < 1 or len(blobs) != 1 or len(blobs[0]) > _MAX_PNG
            or not blobs[0].startswith(_PNG_SIGNATURE)):
        raise worker.WorkerFailed(f"the worker drawing {doc_id} answered malformed data; the document may be crafted")
    return blobs[0], value["pages"]


def _page_image_task(request: dict, blobs: list[bytes], report) -> tuple[dict, list[bytes]]:
    import io

    import pypdfium2 as pdfium

    from vault.errors import NotFound

    from .render import render_item

    item = Item(doc_id=str(request["doc_id"]), title="", type="other", date="", mime=str(request["mime"]),
                data=blobs[0])
    pdf = pdfium.PdfDocument(render_item(item, None).to_bytes())
    try:
        count = len(pdf)
        page = int(request["page"])
        if not 1 <= page <= count:
            raise NotFound(f"document {item.doc_id} has {count} page{'s' if count != 1 else ''}")
        out = io.BytesIO()
        pdf[page - 1].render(scale=float(request["scale"])).to_pil().save(out, "PNG")
    finally:
        pdf.close()
    return {"pages": count}, [out.getvalue()]


def _page_image_prepare() -> None:
    import pypdfium2  # noqa: F401  libraries map their code before the memory bound is set

    from . import render  # noqa: F401


_page_image_task.prepare = _page_image_prepare
