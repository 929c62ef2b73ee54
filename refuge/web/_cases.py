"""A case's life in the page: create, close, reopen, hold and release; its removed documents; signatures.

Each route makes the same library call, inside the same audit entry, as the
command named in its docstring (refuge/commands/cases.py, ``doc list
--removed``); who may do what is the library's to say, and a refusal is the
CLI's own line. The last section gives the packet pages what ``packet build``
and ``packet history`` print of a signature: the signer's warnings and the
honest PAdES level, with what that level is not.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vault.errors import InvalidInput

from .._context import find_case, resolving
from ._i18n import refuse
from .app import Pages, form_route, page_route, wants_json


def routes(pages: Pages) -> list[Route]:
    """The routes of a case's life."""
    p = pages
    return [
        Route("/cases", form_route(p, lambda r, f: create(p, r, f)), methods=["POST"]),
        Route("/case/{case}/life", page_route(p, lambda r: life(p, r))),
        Route("/case/{case}/close", form_route(p, lambda r, f: close(p, r, f)), methods=["POST"]),
        Route("/case/{case}/reopen", form_route(p, lambda r, f: reopen(p, r, f)), methods=["POST"]),
        Route("/case/{case}/hold", form_route(p, lambda r, f: hold(p, r, f, r.path_params["case"])), methods=["POST"]),
        Route("/hold", form_route(p, lambda r, f: hold(p, r, f, f.get("case", "").strip())), methods=["POST"]),
        Route("/case/{case}/removed", page_route(p, lambda r: removed(p, r))),
    ]


def _status(vault, case_id: str) -> dict:
    """A case's life as the directory records it, with the hold's author named."""
    status = vault.case_status(case_id).as_dict()
    if status["hold"]:
        status["hold"] = dict(status["hold"], by=vault.directory.name(status["hold"].get("by", "")))
    return status


def create(p: Pages, request: Request, form: dict) -> Response:
    """Create a case (``case create``: case leads); the person acting becomes its first member."""
    with p.acting("case.create") as (vault, targets):
        created = vault.create_case(form.get("ref", ""), form.get("title", "").strip())
        targets["case"] = created.id
    if wants_json(request):
        return JSONResponse(created.as_dict(vault.directory), status_code=201)
    return RedirectResponse(p.url(f"/case/{quote(created.id)}"), status_code=303)


def life(p: Pages, request: Request) -> Response:
    """A case's state, purge date and hold, with what a case lead may do next (``case show``)."""
    with p.acting("case.show") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        status = _status(vault, case.id)
    if wants_json(request):
        return JSONResponse(status)
    return p.render(request, "case_life.html", case=case, life=status)


def close(p: Pages, request: Request, form: dict) -> Response:
    """Close a case (``case close [--retain PERIOD]``): no more changes, and its purge date is fixed."""
    retain = form.get("retain", "").strip() or None
    with p.acting("case.close") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        vault.close_case(case, retain)
    return _after(p, request, vault, case.id)


def reopen(p: Pages, request: Request, form: dict) -> Response:
    """Reopen a closed case (``case reopen``); its purge date is dropped."""
    with p.acting("case.reopen") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        vault.reopen_case(case)
    return _after(p, request, vault, case.id)


def hold(p: Pages, request: Request, form: dict, typed: str) -> Response:
    """Place or release a legal hold (``case hold [--release]``: admins by case id, or case leads who are members)."""
    if not typed:
        raise refuse(InvalidInput, "give the case id")
    release = form.get("action") == "release"
    with p.acting("case.release" if release else "case.hold") as (vault, targets):
        with resolving(vault, typed, targets):
            targets["case"] = case_id = vault.case_id_for(typed)
        vault.hold_case(case_id, form.get("reason") or None, release)
        member = case_id in {k.id for k in vault.cases()} if vault.role in ("lawyer", "case-lead") else False
    if not member and not wants_json(request):  # an admin reads no case page: back to where the form was
        return RedirectResponse(p.url("/"), status_code=303)
    return _after(p, request, vault, case_id)


def _after(p: Pages, request: Request, vault, case_id: str) -> Response:
    if wants_json(request):
        return JSONResponse(_status(vault, case_id))
    return RedirectResponse(p.url(f"/case/{quote(case_id)}/life"), status_code=303)


def removed(p: Pages, request: Request) -> Response:
    """The removed and moved-away documents: who, when, why, and whether copies are kept (``doc list --removed``)."""
    from ..commands.documents import _removed_rows

    with p.acting("doc.list", removed=True) as (vault, targets):
        vault.require_role("case-lead", doing="listing removed documents")
        case = find_case(vault, request.path_params["case"], targets)
        rows = _removed_rows(vault, case, list(case.removed.values()))
    rows.sort(key=lambda r: (r["removed_at"], r["id"]), reverse=True)
    if wants_json(request):
        return JSONResponse(rows)
    return p.render(request, "removed.html", case=case, rows=rows)


# --- packets: the signer's warnings and the signature's level, as packet build and history print them ---


def signature_of(record: dict) -> dict:
    """Who a recorded packet is signed for and at which level, with what that level is not (``packet history``)."""
    from ..commands.packets import _level_note

    signature = (record.get("manifest") or {}).get("signature") or {}
    level = signature.get("level")
    return {"signed_for": signature.get("organisation"), "level": level,
            "level_note": _level_note(level).removeprefix("; ") or None}


def build_outcome(built) -> dict:
    """What ``packet build`` prints after a build besides the paths: the signer's warnings and the level."""
    return dict(signature_of(built.record), warnings=[str(w) for w in getattr(built, "warnings", ())])
