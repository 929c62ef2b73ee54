"""Case details: what a recipient needs to know the case by, in the case's encrypted state.

A case holds named fields (``Case.fields``): the client's name as the recipient should see
it (or initials), the UCI, the IRB file number, the UNHCR case number, the hearing date,
the other party, and any field a recipient profile names. They are set by a signed
``case.fields`` event (``{"set": {name: value}, "unset": [name]}``), encrypted to the case
like every case event; every reader accepts it only from a case lead who is a member at
its position (``AUTHORITY`` in vault/cases.py). Values are never written to object names,
logs or the audit log (the audit entry names the fields, not their values).

The library checks the shape of the fields it knows (:data:`KNOWN`); a name it does not
know is accepted only when the caller passes it in ``extra`` (the application passes the
fields that some recipient profile names, since vault/ never reads profiles).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Iterable, Mapping

from .cases import Case, append_case, before_write
from .casekeys import require_member
from .errors import InvalidInput
from .people import require_role

__all__ = ["KNOWN", "normalise_name", "check_value", "set_fields", "display"]

#: The fields refuge knows, and what each holds (shown by the application's help).
KNOWN: dict[str, str] = {
    "client_name": "the client's name as the recipient should see it, or initials",
    "uci": "IRCC's unique client identifier: 8 or 10 digits",
    "irb_file_number": "the IRB file number, e.g. TB1-12345",
    "unhcr_case_number": "the UNHCR case number, e.g. 123-21C01234",
    "hearing_date": "the date of the hearing, YYYY-MM-DD",
    "other_party": "the other party to the proceeding, e.g. the Minister's counsel",
}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_IRB = re.compile(r"[A-Z]{2}[0-9]-[0-9]{5}")  # registry letters, division digit, five digits: TB1-12345
_UNHCR = re.compile(r"[A-Z0-9]{2,4}-[0-9]{2}[A-Z][0-9]{3,8}")  # office - year, letter, number
MAX_TEXT = 200


def normalise_name(name: str) -> str:
    """A field name as stored: lower case, hyphens as underscores (``irb-file-number`` -> ``irb_file_number``)."""
    n = name.strip().lower().replace("-", "_")
    if not _NAME.fullmatch(n):
        raise InvalidInput(f"{name!r} is not a field name; use letters, digits and underscores, e.g. uci")
    return n


def _text(name: str, value: str) -> str:
    value = " ".join(value.split())
    if len(value) > MAX_TEXT or any(not ch.isprintable() for ch in value):
        raise InvalidInput(f"{name}: at most {MAX_TEXT} printable characters")
    return value


def check_value(name: str, value: str) -> str:
    """The value of a field as stored, checked by the field's shape (InvalidInput otherwise)."""
    value = value.strip()
    if name == "uci":
        digits = re.sub(r"[\s-]", "", value)
        if not digits.isascii() or not digits.isdigit() or len(digits) not in (8, 10):
            raise InvalidInput("uci: a UCI is 8 or 10 digits (e.g. 1234-5678 or 12-3456-7890)")
        return digits
    if name == "irb_file_number":
        if not _IRB.fullmatch(value.upper()):
            raise InvalidInput("irb_file_number: an IRB file number has the shape TB1-12345 "
                               "(two letters, a digit, a hyphen, five digits)")
        return value.upper()
    if name == "unhcr_case_number":
        if not _UNHCR.fullmatch(value.upper()):
            raise InvalidInput("unhcr_case_number: a UNHCR case number has the shape 123-21C01234")
        return value.upper()
    if name == "hearing_date":
        try:
            return _dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidInput("hearing_date: write the date as YYYY-MM-DD") from None
    return _text(name, value)


def display(name: str, value: str) -> str:
    """A field's value as a letter shows it (a UCI grouped as IRCC prints it)."""
    if name == "uci" and value.isdigit():
        return f"{value[:4]}-{value[4:]}" if len(value) == 8 else f"{value[:2]}-{value[2:6]}-{value[6:]}"
    return value


def set_fields(v, case: Case, values: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """Set (or, with an empty value, clear) fields of a case (case leads who are members).

    ``extra`` names the fields besides :data:`KNOWN` that may be set (those some
    recipient profile names). Returns the case's fields after the change.

    Raises:
        InvalidInput: an unknown field name or a value of the wrong shape (nothing is written).
        NotPermitted: not a case lead who is a member, or the case is closed.
    """
    require_role(v, "case-lead", doing="setting case details")
    require_member(v, case.id)
    allowed = set(KNOWN) | set(extra)
    set_, unset = {}, []
    for raw, value in values.items():
        name = normalise_name(raw)
        if name not in allowed:
            raise InvalidInput(f"unknown field {name}; use one of {', '.join(sorted(allowed))}")
        if value.strip():
            set_[name] = check_value(name, value)
        else:
            unset.append(name)
    if not set_ and not unset:
        raise InvalidInput("nothing to set; give FIELD=VALUE (an empty VALUE clears the field)")
    before_write(v, case)
    append_case(v, case, "case.fields", {"set": set_, "unset": sorted(set(unset))})
    return dict(case.fields)
