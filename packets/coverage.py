"""Coverage: for each category a profile promises, what covers it, and the gaps that stop a build.

A profile promises categories (``redaction_categories``). A category is covered by the
case's register (people and places, vault/register.py, each with its variants:
packets/variants.py), by redaction terms, and by detectors (``contact``, ``id-number``);
recognition (OCR) brings scans within their reach. The gaps :func:`assess` finds:

* a promised category that nothing covers (nothing registered, no term, no detector);
* names and places found in the documents that nothing covers and nobody dismissed
  (packets/candidates.py), in a promised category, when the profile sets
  ``block_candidates``;
* pages with no text that nobody recognised, or recognised below the confidence
  threshold and nobody reviewed (gap ``pages``), when the profile does not already hold
  the build for their review (``require_review``);
* documents whose faces the profile promises to blur (``blur_faces``) where no face detector
  is installed (gap ``faces``).

:func:`check_gaps` refuses a build (NotPermitted, exit 4) listing every gap, unless each
is accepted by name with a reason; the accepted gaps go into the disclosure record (with
the reason) and the audit log (the category only).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Iterable

from vault import worker
from vault.categories import CATEGORIES, canonical
from vault.errors import InvalidInput, NotPermitted

from .candidates import Candidate, find_candidates, uncovered
from .detectors import DETECTOR_CATEGORIES, Needle
from .profiles import Profile
from .variants import register_rules

__all__ = ["PAGES", "CategoryCoverage", "Coverage", "assess", "case_rules", "check_gaps", "document_candidates"]

#: The gap of pages whose text nobody could read (not a category).
PAGES = "pages"
#: The gap of photos whose faces cannot be blurred here (no face detector installed).
FACES = "faces"
_MAX_CANDIDATES = 10_000  # names one build may list: a worker cannot flood the case lead's terminal
#: The category a candidate of each kind falls in.
KIND_CATEGORY = {"person": "third-party", "place": "location"}


@dataclass
class CategoryCoverage:
    """What covers one promised category."""

    category: str
    register: int = 0  # register entries in the category
    terms: int = 0  # redaction terms in the category
    detectors: list[str] = field(default_factory=list)
    candidates: int = 0  # names found that nothing covers, in this category
    gaps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Coverage:
    """A profile's promises for a case, what covers each, and the gaps."""

    profile: str
    ocr: bool
    categories: list[CategoryCoverage]
    candidates: list[Candidate] = field(default_factory=list)
    pages: list[dict] = field(default_factory=list)  # pages without text: doc, page, recognised, confidence
    page_gaps: list[str] = field(default_factory=list)
    face_gaps: list[str] = field(default_factory=list)

    def gaps(self) -> dict[str, list[str]]:
        """Gap name (a category, or ``pages``) -> what is missing, in words."""
        out = {c.category: list(c.gaps) for c in self.categories if c.gaps}
        if self.page_gaps:
            out[PAGES] = list(self.page_gaps)
        if self.face_gaps:
            out[FACES] = list(self.face_gaps)
        return out

    def as_dict(self) -> dict:
        return {"profile": self.profile, "ocr": self.ocr, "categories": [c.as_dict() for c in self.categories],
                "candidates": [c.as_dict() for c in self.candidates], "pages_without_text": self.pages,
                "gaps": self.gaps()}


def case_rules(case, profile: Profile | None = None) -> list[dict]:
    """The case's people and places as term rules (with initials when the profile asks)."""
    return register_rules(getattr(case, "people", []), getattr(case, "places", []),
                          initials=bool(profile and profile.redact_initials))


def assess(case, profile: Profile, pages: Iterable, candidates: Iterable[Candidate], ocr: bool,
           reviews: Iterable[dict] = (), photos: Iterable[str] = ()) -> Coverage:
    """The coverage of ``profile``'s promises for ``case``.

    ``pages`` are the rendered pages as redaction sees them (:class:`packets.redact.PageInfo`),
    ``candidates`` the names found in the documents (already without covered or dismissed ones),
    ``photos`` the ids of the included documents whose pages may show a face (faces to blur
    when the profile asks).
    """
    promised = [canonical(c) for c in profile.redaction_categories]
    entries = [*getattr(case, "people", []), *getattr(case, "places", [])]
    rows = []
    candidates = list(candidates)
    for cat in dict.fromkeys(promised):
        row = CategoryCoverage(cat)
        row.register = sum(1 for e in entries if canonical(e.get("category", "")) == cat)
        if cat == "id-number":
            row.register += sum(1 for p in getattr(case, "people", []) if p.get("doc_numbers") or p.get("dob"))
        row.terms = sum(1 for r in case.redactions if r.get("kind") == "term" and canonical(r.get("category", "")) == cat)
        row.detectors = sorted(name for name, c in DETECTOR_CATEGORIES.items() if c == cat)
        row.candidates = sum(1 for c in candidates if _candidate_category(c, promised) == cat)
        if not (row.register or row.terms or row.detectors):
            row.gaps.append(f"nothing covers it: no {'person or place' if cat in ('third-party', 'location', 'applicant-name') else 'entry'}"
                            " registered and no redaction term")
        if row.candidates and profile.block_candidates:
            row.gaps.append(f"{row.candidates} name{'s' if row.candidates != 1 else ''} found that nobody registered, "
                            "added as a term or dismissed")
        rows.append(row)
    done = {(r["doc"], r["version"], r["page"]) for r in reviews}
    listed, page_gaps = [], []
    for p in pages:
        if p.searchable:
            continue
        reviewed = (p.doc_id, p.version, p.page) in done
        listed.append({"doc": p.doc_id, "page": p.page, "ocr_confidence": p.ocr_confidence,
                       "needs_review": p.needs_review, "reviewed": p.needs_review and reviewed})
        if p.needs_review and not reviewed and not profile.require_review:
            page_gaps.append(f"{p.doc_id} page {p.page}: " + ("not recognised" if p.ocr_confidence is None
                                                             else f"recognised at {p.ocr_confidence:.0f}% only"))
    faces = []
    if profile.blur_faces and list(photos):
        from .faces import detector_available

        if not detector_available():
            faces = [f"{d}: no face detector here (OpenCV's Haar cascades are missing)" for d in photos]
    return Coverage(profile.id, ocr, rows, candidates, listed, page_gaps, faces)


def _candidate_category(c: Candidate, promised: list[str]) -> str | None:
    cat = KIND_CATEGORY.get(c.kind)
    if cat == "third-party" and cat not in promised and "applicant-name" in promised:
        return "applicant-name"
    return cat if cat in promised else None


def check_gaps(coverage: Coverage, accepted: dict[str, str]) -> list[dict]:
    """Refuse a build with gaps nobody accepted; return the accepted gaps as records.

    ``accepted`` maps a gap name (a category, or ``pages``) to the reason given.

    Raises:
        InvalidInput: an accepted name is neither a category nor ``pages``, or has no reason.
        NotPermitted: a gap is not accepted (every gap is listed).
    """
    for name, reason in accepted.items():
        if canonical(name) not in CATEGORIES and name not in (PAGES, FACES):
            raise InvalidInput(f"unknown gap {name[:40]!r}; accept a category "
                               f"({', '.join(c for c in CATEGORIES if c != 'always')}), {PAGES} or {FACES}")
        if not str(reason or "").strip():
            raise InvalidInput("an accepted gap needs a reason", hint="coverage-reason")
    accepted = {canonical(k) if k not in (PAGES, FACES) else k: v for k, v in accepted.items()}
    gaps = coverage.gaps()
    left = {k: v for k, v in gaps.items() if k not in accepted}
    if left:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in left.items())
        raise NotPermitted(f"the packet for {coverage.profile} does not cover what the profile promises: {listed}",
                           hint="coverage-gap")
    return [{"gap": k, "reason": accepted[k], "missing": v} for k, v in gaps.items()]


# --- candidates, read in the keyless worker -------------------------------------------------


def document_candidates(items: list, ocr_by_doc: dict[str, dict], rules: list[dict], dismissed: list[str],
                        limits: worker.Limits = worker.RENDER_LIMITS) -> list[Candidate]:
    """Names and places in ``items``' text (layer, or words recognised before) that no rule covers.

    ``ocr_by_doc`` maps a document id to its recognised pages ({page index: PageText dict});
    ``rules`` are the term rules (case terms and register rules) whose matches cover a name.
    Read in a keyless worker: document bytes are parsed only there. (A build finds them in the
    worker that reviews its pages instead: :func:`coverage_of`.)
    """
    if not items:
        return []
    request = {"docs": [{"doc_id": i.doc_id, "mime": i.mime, "ocr": dict(ocr_by_doc.get(i.doc_id) or {})}
                        for i in items], **candidate_rules(rules, dismissed)}
    answer = worker.run("packets.coverage:_candidates_task", None, [pickle.dumps(request), *(i.data for i in items)],
                        limits=limits, label="the packet's documents")
    return checked_candidates(answer.value)


def candidate_rules(rules: list[dict], dismissed: list[str]) -> dict:
    """What the worker finding names needs besides the documents: the term rules' texts and the dismissed names."""
    return {"rules": [{"text": str(r["text"])} for r in rules if r.get("kind") == "term"],
            "dismissed": list(dismissed)}


def checked_candidates(value) -> list[Candidate]:
    """A worker's answer of names found, checked field by field (WorkerFailed when malformed)."""
    out: list[Candidate] = []
    for c in (value if isinstance(value, list) else [])[:_MAX_CANDIDATES]:
        if not isinstance(c, dict) or not all(isinstance(c.get(k), str) for k in ("text", "kind", "cue", "doc")):
            raise worker.WorkerFailed("the worker finding names answered malformed data")
        if c["kind"] not in KIND_CATEGORY or not isinstance(c.get("page"), int):
            raise worker.WorkerFailed("the worker finding names answered malformed data")
        out.append(Candidate(c["text"][:200], c["kind"], c["cue"][:20], c["doc"][:64], c["page"]))
    return out


def _candidates_task(_value, blobs: list[bytes], report) -> tuple[list, list]:
    request = pickle.loads(blobs[0])  # from the parent, which the worker trusts
    return find_uncovered(request["docs"], blobs[1:], request, report), []


def find_uncovered(docs: list[dict], datas: list[bytes], request: dict, report,
                   texts: dict[str, list] | None = None) -> list[dict]:
    """(In the keyless worker.) The names and places in ``docs`` (doc_id, mime, ocr; their bytes
    ``datas``) that no rule of ``request`` (:func:`candidate_rules`) covers, each once. The
    [page, text] pages read of the documents whose ids ``texts`` holds are put in it."""
    from ._isolated import _document_text

    needles = [Needle("rule", "x", "term", r["text"]) for r in request["rules"]]
    needles = [n for n in needles if n.pattern is not None]
    out: list[dict] = []
    seen: set[str] = set()
    for doc, data in zip(docs, datas):
        report({"doc": doc["doc_id"]})
        pages = _document_text(doc["mime"], data, doc["ocr"])
        if texts is not None and doc["doc_id"] in texts:
            texts[doc["doc_id"]] = pages
        for page, text in pages:
            for c in uncovered(find_candidates(text, doc["doc_id"], page), needles, request["dismissed"]):
                if c.text.casefold() not in seen:
                    seen.add(c.text.casefold())
                    out.append(c.as_dict())
    return out


# --- for a case of a vault ---------------------------------------------------------------------


def coverage_of(vault, case, profile: Profile, plan, ocr: bool, count_pages: bool = False) -> Coverage:
    """The coverage of ``profile``'s promises for a case of ``vault`` and its ``plan``.

    Renders the included documents in the keyless worker (recognising pages without
    text when ``ocr``, and keeping the results in the case), then, in the same worker,
    looks for names and places nothing covers in their text and recognised words.
    With ``count_pages`` the same worker counts each included document's pages too, and
    they are set on the plan's entries (what ``plan_packet(pages=True)`` does in a worker
    of its own).
    """
    from . import _isolated
    from .build import _items, case_source, keep_recognition

    source = case_source(vault, case, profile, ocr=ocr)
    pages, found = [], []
    # the worker that reviews the pages then finds the names, from each document's latest recognition
    wanted = {"latest": {entry.get("doc"): key for key, entry in case.ocr.items()},
              **candidate_rules([r for r in source.redactions if r.get("kind") == "term"],
                                [d["text"] for d in getattr(case, "dismissed", [])])}
    extract = None
    try:
        if plan.included:
            items = _items(source, plan)
            pages, named, texts, counts = _isolated.review_and_find(
                items, profile, redactions=source.redactions, ocr=ocr,
                ocr_cache=source.ocr_cache if ocr else {}, candidates=wanted, recognised=source.recognised,
                recognised_docs=source.recognised_docs, count_pages=count_pages)
            found = checked_candidates(named)
            for entry, n in zip(plan.included, counts or ()):
                entry.pages = n
            extract = _read_texts(items, texts, wanted["latest"], {**source.ocr_cache, **source.recognised},
                                  source.recognised_docs)
    finally:
        keep_recognition(vault, case, source, extract)
    photos = [e.doc.id for e in plan.included]  # every page is rebuilt from pixels: a PDF may hold a photo too
    return assess(case, profile, pages, found, ocr, case.reviews, photos)


def _read_texts(items: list, texts: dict[str, list], latest: dict[str, str], results: dict[str, dict],
                recognised_docs: dict[str, str]):
    """The search index's extractor (packets/_text.py extract_texts) for what the review worker
    already read: a document's pages from ``texts`` when the index asks for the very bytes, type
    and recognition the worker read them from; any other from a text worker, as before."""
    from ._text import extract_texts

    latest = {**latest, **{doc: key for key, doc in recognised_docs.items()}}
    known = {i.doc_id: (i.mime, i.data, dict(results[latest[i.doc_id]] or {}) if latest.get(i.doc_id) in results
                        else {}, texts[i.doc_id]) for i in items if i.doc_id in texts}

    def same(s) -> bool:
        k = known.get(s.doc_id)
        return k is not None and (s.mime, s.data, dict(s.ocr or {})) == k[:3]

    def extract(sources: list) -> list[list[tuple[int, str]]]:
        read = [same(s) for s in sources]
        rest = iter(extract_texts([s for s, r in zip(sources, read) if not r]) if not all(read) else [])
        return [known[s.doc_id][3] if r else next(rest) for s, r in zip(sources, read)]

    return extract
