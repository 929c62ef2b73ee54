"""A case's people and places, dismissed names, redaction terms and case details, in the page.

Each form makes the same library calls, inside the same audit entry, as the
command named in its docstring (refuge/commands/register.py, ``redact``,
``case set``/``case show``); who may do what is the library's to say (a
lawyer adds people and places, a case lead also edits, removes and dismisses).
Names, aliases, numbers, terms and values never reach the audit log: the
entries name register ids, rule ids and field names, as the CLI's do.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vault import casefields, register
from vault.categories import CATEGORIES
from vault.errors import InvalidInput

from .._context import find_case
from ._i18n import refuse
from .app import Pages, form_route, page_route, wants_json


def routes(pages: Pages) -> list[Route]:
    """The routes of the register, the redaction terms and the case details."""
    p = pages
    return [
        Route("/case/{case}/register", page_route(p, lambda r: register_page(p, r))),
        Route("/case/{case}/register", form_route(p, lambda r, f: change_register(p, r, f)), methods=["POST"]),
        Route("/case/{case}/redactions", page_route(p, lambda r: redactions_page(p, r))),
        Route("/case/{case}/redactions", form_route(p, lambda r, f: change_redactions(p, r, f)), methods=["POST"]),
        Route("/case/{case}/fields", page_route(p, lambda r: fields_page(p, r))),
        Route("/case/{case}/fields", form_route(p, lambda r, f: change_fields(p, r, f)), methods=["POST"]),
    ]


def _lines(value: str) -> list[str]:
    """The non-empty lines of a text area (aliases, document numbers, terms: one a line)."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def _done(p: Pages, request: Request, case, page: str, answer: dict) -> Response:
    if wants_json(request):
        return JSONResponse(answer)
    return RedirectResponse(p.url(f"/case/{quote(case.id)}/{page}"), status_code=303)


# --- people and places ----------------------------------------------------------------------


def register_page(p: Pages, request: Request) -> Response:
    """The case's people, places and dismissed names (``person list``, ``place list``, ``candidate list``)."""
    with p.acting("person.list") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        people = [dict(e, by=vault.directory.name(e.get("by", ""))) for e in case.people]
        places = [dict(e, by=vault.directory.name(e.get("by", ""))) for e in case.places]
        dismissed = [dict(d, by=vault.directory.name(d.get("by", ""))) for d in case.dismissed]
    return p.render(request, "register.html", case=case, people=people, places=places, dismissed=dismissed,
                    roles=register.PERSON_ROLES, kinds=register.PLACE_KINDS, categories=list(CATEGORIES))


def _person_add(vault, case, form: dict, targets: dict) -> dict:
    entry = register.add_person(vault, case, form.get("name", ""), form.get("role", ""),
                                _lines(form.get("aliases", "")), form.get("dob") or None,
                                _lines(form.get("doc_numbers", "")), form.get("category") or None)
    targets["entry"] = entry["id"]
    return {"id": entry["id"]}


def _place_add(vault, case, form: dict, targets: dict) -> dict:
    entry = register.add_place(vault, case, form.get("text", ""), form.get("kind", ""), form.get("category") or None)
    targets["entry"] = entry["id"]
    return {"id": entry["id"]}


def _entry(case, form: dict, targets: dict) -> str:
    """The register entry the form names (by id); the audit entry gets the id, never a name."""
    entry = register.find_entry(case, form.get("entry", ""))
    targets["entry"] = entry["id"]
    return entry["id"]


def _person_edit(vault, case, form: dict, targets: dict) -> dict:
    """Only the fields filled in change, as only the options typed change in ``person edit``."""
    entry_id = _entry(case, form, targets)
    entry = register.edit_entry(vault, case, entry_id, name=form.get("name") or None, role=form.get("role") or None,
                                aliases=_lines(form.get("aliases", "")) or None, dob=form.get("dob") or None,
                                doc_numbers=_lines(form.get("doc_numbers", "")) or None,
                                category=form.get("category") or None)
    return {"id": entry["id"]}


def _place_edit(vault, case, form: dict, targets: dict) -> dict:
    entry_id = _entry(case, form, targets)
    entry = register.edit_entry(vault, case, entry_id, text=form.get("text") or None, kind=form.get("kind") or None,
                                category=form.get("category") or None)
    return {"id": entry["id"]}


def _entry_remove(vault, case, form: dict, targets: dict) -> dict:
    entry_id = _entry(case, form, targets)
    register.remove_entry(vault, case, entry_id)
    return {"id": entry_id}


def _dismiss(vault, case, form: dict, targets: dict) -> dict:
    texts = _lines(form.get("text", ""))
    for text in texts or [""]:  # nothing typed: the library's own refusal
        register.dismiss_candidate(vault, case, text, form.get("reason", ""))
    targets["count"] = len(texts)
    return {"count": len(texts)}


REGISTER_ACTIONS = {"person.add": _person_add, "person.edit": _person_edit, "person.remove": _entry_remove,
                    "place.add": _place_add, "place.edit": _place_edit, "place.remove": _entry_remove,
                    "candidate.dismiss": _dismiss}


def change_register(p: Pages, request: Request, form: dict) -> Response:
    """Add, change or remove a person or place; dismiss a detected name (``person|place add|edit|remove``,
    ``candidate dismiss``)."""
    action = form.get("action", "")
    if action not in REGISTER_ACTIONS:
        raise refuse(InvalidInput, "choose what to do")
    if action.endswith(".remove"):  # the audit entry names what the id is (people's ids start with p)
        action = "person.remove" if form.get("entry", "").startswith("p") else "place.remove"
    with p.acting(action) as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        answer = REGISTER_ACTIONS[action](vault, case, form, targets)
    return _done(p, request, case, "register", answer)


# --- redaction terms -------------------------------------------------------------------------


def redactions_page(p: Pages, request: Request) -> Response:
    """The case's redaction rules (``redact list``: members only, the rules are secret)."""
    with p.acting("redact.list") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        rules = [dict(r, by=vault.directory.name(r["by"])) for r in case.redactions]
    return p.render(request, "redactions.html", case=case, rules=rules, categories=list(CATEGORIES))


def change_redactions(p: Pages, request: Request, form: dict) -> Response:
    """Add terms, one a line, with a category (``redact term --from-file``), or remove a rule (``redact remove``)."""
    from vault.categories import check_category

    if form.get("action") == "remove":
        with p.acting("redact.remove") as (vault, targets):
            case = find_case(vault, request.path_params["case"], targets)
            vault.remove_redaction(case, form.get("rule", ""))
        return _done(p, request, case, "redactions", {"removed": form.get("rule", "")})
    terms = _lines(form.get("terms", "")) or [""]  # nothing typed: the library's own refusal
    category = check_category(form.get("category", ""))
    with p.acting("redact.term") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        rules = [vault.add_redaction(case, {"kind": "term", "text": t, "category": category}) for t in terms]
    return _done(p, request, case, "redactions", {"ids": [r["id"] for r in rules]})


# --- case details ----------------------------------------------------------------------------


def _field_names() -> list[str]:
    from ..commands.cases import profile_field_names

    return sorted(set(casefields.KNOWN) | profile_field_names())


def fields_page(p: Pages, request: Request) -> Response:
    """The case's details that letters and file names use (``case show``)."""
    with p.acting("case.show") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        state = vault.case_status(case.id).state
    return p.render(request, "fields.html", case=case, state=state, names=_field_names(), fields=dict(case.fields),
                    known=casefields.KNOWN)


def change_fields(p: Pages, request: Request, form: dict) -> Response:
    """Set or clear case details (``case set FIELD=VALUE``): only the fields changed on the form are given."""
    from ..commands.cases import profile_field_names

    extra = profile_field_names()
    with p.acting("case.set") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        values = {k.removeprefix("field_"): v for k, v in form.items()
                  if k.startswith("field_") and isinstance(v, str) and v.strip() != case.fields.get(k[6:], "")}
        casefields.set_fields(vault, case, values, extra)
        targets["fields"] = sorted(casefields.normalise_name(k) for k in values)
    return _done(p, request, case, "fields", {"fields": targets["fields"]})
