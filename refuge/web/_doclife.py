"""A document's life in the page: edit its metadata, remove it with a reason, move it to another case.

Each route makes the same library calls, inside the same audit entry, as the
command named in its docstring; who may do what is the library's to say (a
lawyer's remove or move is refused with the CLI's own line).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vault.doclife import EDITABLE
from vault.errors import InvalidInput

from .. import indexing
from .._context import find_document, find_target_case
from ._i18n import refuse
from .app import Pages, form_route, wants_json


def routes(pages: Pages) -> list[Route]:
    """The routes that change a document's life."""
    p = pages
    return [
        Route("/doc/{doc}/edit", form_route(p, lambda r, f: edit(p, r, f)), methods=["POST"]),
        Route("/doc/{doc}/remove", form_route(p, lambda r, f: remove(p, r, f)), methods=["POST"]),
        Route("/doc/{doc}/move", form_route(p, lambda r, f: move(p, r, f)), methods=["POST"]),
    ]


def edit(p: Pages, request: Request, form: dict) -> Response:
    """Correct a document's title, type, person, language or date (``doc edit``).

    The form shows every field; only those the person changed are given, as
    ``doc edit`` is given only the options typed (nothing changed: the CLI's refusal).
    """
    with p.acting("doc.edit") as (vault, targets):
        found_case, found = find_document(vault, request.path_params["doc"], targets)
        changes = {k: form[k].strip() for k in EDITABLE
                   if k in form and form[k].strip() != (getattr(found, k, None) or "")}
        _, edited = vault.edit_document(found.id, changes, [], [])
        targets["fields"] = sorted(changes)
    indexing.update(vault, found_case, [edited.id], fields_only=True)
    if wants_json(request):
        return JSONResponse(edited.as_dict())
    return RedirectResponse(p.url(f"/doc/{quote(edited.id)}"), status_code=303)


def remove(p: Pages, request: Request, form: dict) -> Response:
    """Remove a document with a reason (``doc remove``: case leads; the reason stays in the case's events)."""
    with p.acting("doc.remove") as (vault, targets):
        _found_case, found = find_document(vault, request.path_params["doc"], targets)
        case, gone, kept = vault.remove_document(found.id, form.get("reason", ""))
    indexing.forget(vault, case, [gone.id])
    if wants_json(request):
        return JSONResponse({"id": gone.id, "kept": kept})
    return RedirectResponse(p.url(f"/case/{quote(case.id)}"), status_code=303)


def move(p: Pages, request: Request, form: dict) -> Response:
    """Move a document, every version, to another case (``doc move --to``: case leads of both cases)."""
    to_ref = form.get("to", "").strip()
    if not to_ref:
        raise refuse(InvalidInput, "choose the case to move it to")
    with p.acting("doc.move") as (vault, targets):
        vault.require_role("case-lead", doing="moving documents")
        _found_case, found = find_document(vault, request.path_params["doc"], targets)
        target = find_target_case(vault, to_ref, targets)
        source, gone, moved = vault.move_document(found.id, target)
        targets["new_doc"] = moved.id
    indexing.forget(vault, source, [gone.id])
    indexing.update(vault, target, [moved.id], target.ref)
    if wants_json(request):
        return JSONResponse({"id": moved.id, "from": gone.id})
    return RedirectResponse(p.url(f"/doc/{quote(moved.id)}"), status_code=303)
