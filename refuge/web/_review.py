"""Region redactions drawn on a page, the pages a build holds for review, and a packet's review report.

Each route makes the same library call, inside the same audit entry, as the command named in its
docstring: a region drawn by dragging on a page's preview is ``redact region`` (checked against the page
in the keyless worker by refuge/_regions.py, the function the command calls, so a box of no size or off
the page is refused with the same line and nothing is written); removing it is ``redact remove``; the
pages no rule could search are those ``packet plan --ocr`` lists, each marked ``redact reviewed DOC
--page N``; the review report kept with a recorded packet is read as ``packet review`` reads it. Who may
do what is the library's to say (and every reader's, when it folds the case).
"""

from __future__ import annotations

import math
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vault.categories import CATEGORIES
from vault.errors import InvalidInput

from .. import _regions
from .._context import find_case, find_document, resolving
from . import _preview
from ._i18n import refuse
from .app import Pages, _local, form_route, page_route, wants_json


def routes(pages: Pages) -> list[Route]:
    """The routes of regions, page reviews and review reports."""
    p = pages
    return [
        Route("/doc/{doc}/regions", page_route(p, lambda r: regions_page(p, r))),
        Route("/doc/{doc}/regions", form_route(p, lambda r, f: change_regions(p, r, f)), methods=["POST"]),
        Route("/case/{case}/review", page_route(p, lambda r: review_page(p, r))),
        Route("/doc/{doc}/reviewed", form_route(p, lambda r, f: mark_reviewed(p, r, f)), methods=["POST"]),
        Route("/packet/{packet}/review", page_route(p, lambda r: report_page(p, r))),
        Route("/packet/{packet}/review/page/{n:int}", page_route(p, lambda r: report_image(p, r))),
        Route("/packet/{packet}/review.pdf", page_route(p, lambda r: report_download(p, r))),
    ]


def _page_of(value: str, pages: int | None = None) -> int:
    """A page number typed or sent by the page (from 1; at most ``pages`` when known)."""
    page = int(value) if value.isdigit() and len(value) < 7 else 0
    if page < 1 or (pages is not None and page > pages):
        raise refuse(InvalidInput, "give a page number from 1")
    return page


# --- regions ----------------------------------------------------------------------------------------


def regions_page(p: Pages, request: Request) -> Response:
    """One page of a document with its region rules drawn over it, and a rectangle to drag (``redact list``)."""
    from packets._regions import fractions_of_box

    from .._regions import geometry

    asked = request.query_params.get("page", "1")
    with p.acting("redact.list", intent=True) as (vault, targets):  # it reads the page it draws: like doc.preview
        case, doc = find_document(vault, request.path_params["doc"], targets)
        page = int(asked) if asked.isdigit() and 0 < len(asked) < 7 and int(asked) > 0 else 1
        measured = geometry(vault, case, doc, page) if doc.size <= _preview_limit() else None
        rules = [dict(r, by=vault.directory.name(r["by"])) for r in case.redactions
                 if r.get("kind") == "region" and r.get("doc") == doc.id]
    shown = []
    for r in rules:
        if measured is not None and r.get("page") == page:
            shown.append({"id": r["id"], "category": r["category"],
                          "frac": ",".join(f"{v:.5f}" for v in fractions_of_box(tuple(r["box"]), measured))})
    return p.render(request, "regions.html", case=case, doc=doc, page=page, pages=measured.pages if measured else None,
                    rules=rules, shown=shown, categories=list(CATEGORIES),
                    bounds=",".join(f"{v:.0f}" for v in measured.bounds) if measured else "")


def _preview_limit() -> int:
    from ._lawyer import MAX_PREVIEW

    return MAX_PREVIEW


def _small_enough(doc) -> None:
    """The desk measures pages in memory only for documents it may preview; larger ones are the terminal's."""
    if doc.size > _preview_limit():
        raise refuse(InvalidInput, "this document is too large to mark here; use refuge redact in a terminal")


def _fractions(text: str) -> tuple[float, float, float, float]:
    """The rectangle the page's script sends: four fractions of the preview, from its top-left."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) and -1 <= v <= 2 for v in values):
        raise refuse(InvalidInput, "draw the region on the page, or give its box in PDF points")
    return values  # type: ignore[return-value]


def change_regions(p: Pages, request: Request, form: dict) -> Response:
    """Add a region drawn on the page or typed as a box (``redact region DOC --page N --box ...``), or remove
    one (``redact remove``)."""
    from packets._regions import parse_box
    from vault.categories import check_category

    doc_id = request.path_params["doc"]
    if form.get("action") == "remove":
        with p.acting("redact.remove") as (vault, targets):
            case, doc = find_document(vault, doc_id, targets)
            rule = form.get("rule", "")
            if not any(r["id"] == rule and r.get("doc") == doc.id for r in case.redactions):
                raise refuse(InvalidInput, "no region rule {rule} on this document", rule=rule[:40])
            vault.remove_redaction(case, rule)
        return _back(p, request, doc.id, form.get("page", "1"), {"removed": rule})
    page = _page_of(form.get("page", ""))
    typed = form.get("box", "").strip()
    box = parse_box(typed) if typed else None
    fractions = None if typed else _fractions(form.get("frac", ""))
    category = check_category(form.get("category") or "always")
    with p.acting("redact.region") as (vault, targets):
        case, doc = find_document(vault, doc_id, targets)
        _small_enough(doc)
        rule = _regions.add_region(vault, case, doc, page, category, box=box, fractions=fractions, targets=targets)
    return _back(p, request, doc.id, str(page), {"id": rule["id"], "box": rule["box"]})


def _back(p: Pages, request: Request, doc_id: str, page: str, answer: dict) -> Response:
    if wants_json(request):
        return JSONResponse(answer)
    page = page if page.isdigit() and len(page) < 7 else "1"
    return RedirectResponse(p.url(f"/doc/{quote(doc_id)}/regions?page={page}"), status_code=303)


# --- pages held for review --------------------------------------------------------------------------


def _review_profile(request: Request):
    """The profile the review is for: the one asked, else the first (by id) whose builds hold pages for review."""
    from ._lead import _profile, _profiles

    asked = request.query_params.get("profile", "")
    if asked:
        return _profile(asked)
    profiles = _profiles()
    return next((profiles[k] for k in sorted(profiles) if profiles[k].require_review), profiles[min(profiles)])


def review_page(p: Pages, request: Request) -> Response:
    """The pages no rule could search, for one profile, with who reviewed them (``packet plan --ocr``)."""
    from packets.build import page_review, plan_packet

    from ._lead import _profiles, _today

    profile = _review_profile(request)
    ocr = request.query_params.get("ocr") == "1"
    with p.acting("packet.plan") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        # every document the profile admits, consent or not: pages are reviewed before a build, whoever consents
        plan = plan_packet(vault, case, profile, _today(), override=True, pages=False)
        pages = page_review(vault, case, profile, plan, ocr or profile.ocr) if plan.included else []
        done = {(r["doc"], r["version"], r["page"]): r for r in case.reviews}
        rows = []
        for info in pages:
            if info.searchable:
                continue
            review = done.get((info.doc_id, info.version, info.page))
            rows.append({"doc": case.documents[info.doc_id], "page": info.page, "confidence": info.ocr_confidence,
                         "needs": info.needs_review, "by": vault.directory.name(review["by"]) if review else "",
                         "at": review["at"] if review else ""})
    return p.render(request, "review.html", case=case, rows=rows, profile=profile.id, ocr=ocr or profile.ocr,
                    gate=profile.require_review, profiles=sorted(_profiles()),
                    here=f"/case/{quote(case.id)}/review?" + urlencode({"profile": profile.id, "ocr": int(ocr)}))


def mark_reviewed(p: Pages, request: Request, form: dict) -> Response:
    """Record that a person looked at a page no rule could search (``redact reviewed DOC --page N``)."""
    from ..commands.documents import _page_count

    page = _page_of(form.get("page", ""))
    seen = form.get("version", "")
    with p.acting("redact.reviewed") as (vault, targets):
        _case, named = find_document(vault, request.path_params["doc"], targets)
        _small_enough(named)
        case, found, done = vault.mark_reviewed(named.id, [page], lambda doc: _page_count(vault, doc),
                                                version=int(seen) if seen.isdigit() and len(seen) < 7 else None)
        targets["pages"] = done
    if wants_json(request):
        return JSONResponse({"doc": found.id, "version": found.version, "pages": done})
    back = _local(form.get("next", ""), p.desk.prefix)
    return RedirectResponse(p.url(back if back != "/" else f"/case/{quote(case.id)}/review"), status_code=303)


# --- a packet's review report -----------------------------------------------------------------------


def _report(p: Pages, request: Request, targets: dict, vault):
    typed = request.path_params["packet"]
    with resolving(vault, typed, targets, key="packet"):
        case, record = vault.find_packet(typed)
    targets.update(case=case.id, packet=record["id"])
    return case, record, vault.review_bytes(case, record)


def report_page(p: Pages, request: Request) -> Response:
    """The review report of a recorded build, a page at a time (``packet review``: what the build wrote beside
    the packet, kept in the vault with it)."""
    from packets import page_count

    with p.acting("packet.review", intent=True) as (vault, targets):
        case, record, data = _report(p, request, targets, vault)
        pages = page_count(data, "application/pdf", doc_id=record["id"])
        built_by = vault.directory.name(record["built_by"])
    asked = request.query_params.get("page", "1")
    page = max(1, min(int(asked) if asked.isdigit() and len(asked) < 7 else 1, pages))
    return p.render(request, "review_report.html", case=case, packet=record, built_by=built_by, page=page, total=pages)


def report_image(p: Pages, request: Request) -> Response:
    """One page of a review report as a PNG drawn in the keyless worker, in memory only."""
    n = request.path_params["n"]
    with p.acting("packet.review", intent=True) as (vault, targets):
        _case, record, data = _report(p, request, targets, vault)
        targets["page"] = n
        png, _count = _preview.page_png(data, "application/pdf", n, record["id"])
    return Response(png, media_type="image/png")


def report_download(p: Pages, request: Request) -> Response:
    """The review report's exact bytes, as the build wrote them (for the case lead; never to be sent)."""
    with p.acting("packet.review", intent=True) as (vault, targets):
        _case, record, data = _report(p, request, targets, vault)
    return Response(data, media_type="application/octet-stream",
                    headers={"content-disposition": f"attachment; filename=\"{record['id']}.review.pdf\""})
