"""The case's people and places: who and where a case names, kept in its signed, encrypted events.

    person.added / person.edited / person.removed     a person of the case
    place.added / place.edited / place.removed        a place of the case
    candidate.dismissed                               a detected name a case lead judged not secret

A person has a name, a role (:data:`PERSON_ROLES`), the names they go by
(aliases), a date of birth, document numbers and a category of the vocabulary
(vault/categories.py; by default from the role: the principal applicant's
names are ``applicant-name``, everyone else's ``third-party``). A place has
its text, a kind (:data:`PLACE_KINDS`) and a category (``location``). Every
entry feeds redaction: the packet builder turns each into the strings to find
(packets/variants.py). Adding is a lawyer's or case lead's (members); editing,
removing and dismissing a candidate lower what is redacted, so they are a case
lead's (vault/cases.py AUTHORITY). Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import re

from . import casekeys
from ._ids import random_id
from .categories import check_category
from .errors import InvalidInput, NotFound
from .people import require_role

__all__ = ["PERSON_ROLES", "PLACE_KINDS", "REGISTER_EVENTS", "add_person", "add_place", "dismiss_candidate",
           "edit_entry", "fold_event", "find_entry", "remove_entry", "resolve_person"]

PERSON_ROLES = ("principal", "family", "perpetrator", "witness", "other")
PLACE_KINDS = ("address", "town", "shelter", "workplace", "clinic", "other")
REGISTER_EVENTS = ("person.added", "person.edited", "person.removed", "place.added", "place.edited",
                   "place.removed", "candidate.dismissed")
_MAX_TEXT = 300
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def default_category(role: str) -> str:
    """The category a person's names go in by default."""
    return "applicant-name" if role == "principal" else "third-party"


def _text(value, what: str) -> str:
    text = " ".join(str(value or "").split())
    if len(text) < 2 or len(text) > _MAX_TEXT or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{what} must be 2 to {_MAX_TEXT} printable characters")
    return text


def _texts(values, what: str) -> list[str]:
    out: list[str] = []
    for value in values or ():
        text = _text(value, what)
        if text not in out:
            out.append(text)
    return out


def _dob(value) -> str | None:
    if value in (None, ""):
        return None
    if not _DATE.fullmatch(str(value)):
        raise InvalidInput("a date of birth is YYYY-MM-DD, e.g. 1990-03-12")
    return str(value)


def _check_person(name, role, aliases, dob, doc_numbers, category) -> dict:
    if role not in PERSON_ROLES:
        raise InvalidInput(f"unknown role {str(role)[:40]!r}; use one of: {', '.join(PERSON_ROLES)}")
    return {"name": _text(name, "a name"), "role": role, "aliases": _texts(aliases, "an alias"), "dob": _dob(dob),
            "doc_numbers": _texts(doc_numbers, "a document number"),
            "category": check_category(category, allow_always=True) if category else default_category(role)}


def _check_place(text, kind, category) -> dict:
    if kind not in PLACE_KINDS:
        raise InvalidInput(f"unknown kind of place {str(kind)[:40]!r}; use one of: {', '.join(PLACE_KINDS)}")
    return {"text": _text(text, "a place"), "kind": kind,
            "category": check_category(category, allow_always=True) if category else "location"}


def _writer(v, case, lead: bool, doing: str) -> None:
    from .cases import before_write

    if lead:
        require_role(v, "case-lead", doing=doing)
    else:
        require_role(v, "lawyer", "case-lead", doing=doing)
    casekeys.require_member(v, case.id)
    before_write(v, case)


def add_person(v, case, name: str, role: str, aliases=(), dob: str | None = None, doc_numbers=(),
               category: str | None = None) -> dict:
    """Register a person of the case (lawyers and case leads who are members); returns the entry."""
    from .cases import append_case

    entry = _check_person(name, role, aliases, dob, doc_numbers, category)
    _writer(v, case, False, "adding people")
    append_case(v, case, "person.added", dict(entry, id=f"p{random_id(5)}"))
    return case.people[-1]


def add_place(v, case, text: str, kind: str, category: str | None = None) -> dict:
    """Register a place of the case (lawyers and case leads who are members); returns the entry."""
    from .cases import append_case

    entry = _check_place(text, kind, category)
    _writer(v, case, False, "adding places")
    append_case(v, case, "place.added", dict(entry, id=f"l{random_id(5)}"))
    return case.places[-1]


def _same_id(entry_id: str, typed: str) -> bool:
    # ids registered before this version end in base32 padding ("pigz7fweezm======"), which
    # nobody types; newer ones have none
    return entry_id.rstrip("=") == str(typed).strip().lower().rstrip("=")


def find_entry(case, ref: str) -> dict:
    """A person or place of the case by id (its padding optional), or a person by name or alias (folded)."""
    for entry in [*case.people, *case.places]:
        if _same_id(entry["id"], ref):
            return entry
    person = resolve_person(case, ref)
    if person is None:
        raise NotFound("no person or place with that id or name in this case", hint="register-list")
    return person


def resolve_person(case, name: str) -> dict | None:
    """The registered person whose id, name or alias is ``name`` (case and spacing ignored), or None."""
    key = " ".join(str(name).split()).casefold()
    for p in case.people:
        if _same_id(p["id"], name) or key in {p["name"].casefold(), *(a.casefold() for a in p.get("aliases", []))}:
            return p
    return None


def edit_entry(v, case, ref: str, **changes) -> dict:
    """Change a person or place (case leads who are members): only the fields given change."""
    from .cases import append_case

    entry = find_entry(case, ref)
    person = entry["id"].startswith("p")
    merged = dict(entry, **{k: val for k, val in changes.items() if val is not None})
    if person:
        checked = _check_person(merged["name"], merged["role"], merged.get("aliases"), merged.get("dob"),
                                merged.get("doc_numbers"), merged.get("category"))
    else:
        checked = _check_place(merged["text"], merged["kind"], merged.get("category"))
    _writer(v, case, True, "editing people and places")
    append_case(v, case, "person.edited" if person else "place.edited", dict(checked, id=entry["id"]))
    return find_entry(case, entry["id"])


def remove_entry(v, case, ref: str) -> dict:
    """Remove a person or place (case leads who are members); returns the removed entry."""
    from .cases import append_case

    entry = find_entry(case, ref)
    _writer(v, case, True, "removing people and places")
    append_case(v, case, "person.removed" if entry["id"].startswith("p") else "place.removed", {"id": entry["id"]})
    return entry


def dismiss_candidate(v, case, text: str, reason: str = "") -> dict:
    """Record that a case lead judged a detected name or place not secret (case leads who are members)."""
    from .cases import append_case

    _writer(v, case, True, "dismissing detected names")
    append_case(v, case, "candidate.dismissed", {"text": _text(text, "a candidate"), "reason": str(reason)[:_MAX_TEXT]})
    return case.dismissed[-1]


def fold_event(case, event) -> None:
    """Fold one register event (already checked by vault.cases.apply) into the case's state."""
    d, t = event.data, event.type
    if not isinstance(d, dict):
        return
    if t == "candidate.dismissed":
        case.dismissed.append({"text": str(d.get("text", "")), "reason": str(d.get("reason", "")),
                               "by": event.author, "at": event.time})
        return
    entries = case.people if t.startswith("person.") else case.places
    ident = d.get("id")
    if t.endswith(".added") and not any(e["id"] == ident for e in entries):
        entries.append(dict(d, by=event.author, at=event.time))
    elif t.endswith(".edited"):
        for i, e in enumerate(entries):
            if e["id"] == ident:
                entries[i] = dict(d, by=e.get("by"), at=e.get("at"), edited_by=event.author, edited_at=event.time)
    elif t.endswith(".removed"):
        entries[:] = [e for e in entries if e["id"] != ident]
