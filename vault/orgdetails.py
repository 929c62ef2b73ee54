"""The organisation's details: its name, address, contact and counsel of record.

Cover letters name the sender and say how to reach them; these details are set once by an
admin and kept in the vault as an ``org.details`` directory event (``{"fields": {...}}``,
the whole set each time: the newest event is in force). Like every directory event it is
signed, hash-chained, encrypted to the directory identity (every enrolled person reads
it, the storage holder does not) and checked by every reader as it folds the directory:
an ``org.details`` event not signed by an admin enrolled at its position stops every
command (vault/people.py, ``Directory._signer``), so nobody but an admin can change what
letters say about the sender, even by writing to the storage directly.
"""

from __future__ import annotations

from typing import Mapping

from .errors import InvalidInput
from .people import append_directory, require_role

__all__ = ["KNOWN", "details", "set_details"]

#: The details refuge knows; letters use name, address, contact and counsel.
KNOWN: dict[str, str] = {
    "name": "the organisation's name, as recipients should see it",
    "address": "its postal address (one line; commas between parts)",
    "contact": "how a recipient reaches it: telephone, e-mail",
    "counsel": "the counsel of record who signs letters (a lawyer's name and title)",
}
MAX_TEXT = 300


def details(v) -> dict[str, str]:
    """The organisation's details in force, as the directory fold verified them."""
    return dict(v.directory.org)


def set_details(v, values: Mapping[str, str]) -> dict[str, str]:
    """Set (or, with an empty value, clear) organisation details (admins); returns them all.

    Raises:
        InvalidInput: an unknown detail or a value that is not one line of printable text.
        NotPermitted: not an admin.
    """
    require_role(v, "admin", doing="setting the organisation's details")
    new = details(v)
    for raw, value in values.items():
        name = raw.strip().lower()
        if name not in KNOWN:
            raise InvalidInput(f"unknown detail {name}; use one of {', '.join(KNOWN)}")
        value = " ".join(value.split())
        if len(value) > MAX_TEXT or any(not ch.isprintable() for ch in value):
            raise InvalidInput(f"{name}: at most {MAX_TEXT} printable characters")
        if value:
            new[name] = value
        else:
            new.pop(name, None)
    if not values:
        raise InvalidInput("nothing to set; give FIELD=VALUE (an empty VALUE clears the detail)")
    append_directory(v, "org.details", {"fields": new})
    return new
