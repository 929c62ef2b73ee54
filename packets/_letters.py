"""What a packet's letter and name need from the case and the sender, checked before a build.

A profile names the case fields it requires (``requires_fields``), whether a sender must be
named (``requires_sender``), the references its letter shows, how its file is named (the
IRB's e-filing rule: "[IRB file number] – RPD – [Type]") and how long before the hearing
documents must be received (RPD Rules r. 34(3)). These functions read only metadata (the
case's fields, the organisation's details), never a document.
"""

from __future__ import annotations

import datetime as _dt
import re

from vault.errors import InvalidInput, NotPermitted

from ._layout import SERVICE_METHODS
from .plan import missing_fields
from .profiles import FILE_NAME_FIELDS, Profile

__all__ = ["require_fields", "letter_details", "service_details", "named_output"]


def require_fields(profile: Profile, fields: dict) -> None:
    """NotPermitted (exit 4) naming every required field the case lacks."""
    missing = missing_fields(profile, fields)
    if missing:
        raise NotPermitted(f"{profile.id} needs the case's {', '.join(missing)}, which the case lacks",
                           hint="case-set-field")


def letter_details(profile: Profile, fields: dict, org: dict, sender: str, service: dict | None) -> dict:
    """What the letter shows besides the profile's text: the sender, the organisation's details,
    the case fields the profile uses (only those), and the service. Raises NotPermitted when a
    required field or a required sender is missing, InvalidInput when the profile has no
    statement of service to give."""
    require_fields(profile, fields)
    sender = sender.strip() or org.get("name", "")
    if profile.requires_sender and not sender:
        raise NotPermitted(f"{profile.id} needs a sender: the letter must name the referring organisation",
                           hint="org-set-name")
    if service and profile.service_statement is None:
        raise InvalidInput(f"{profile.id} has no statement of service; the packet is not served on another party")
    used = set(profile.requires_fields) | set(profile.references)
    return {"sender": sender, "org": {k: v for k, v in org.items() if k in ("address", "contact", "counsel")},
            "fields": {k: v for k, v in fields.items() if k in used}, "service": service}


def service_details(on: str | None, by: str | None, at: str | None) -> dict | None:
    """The service of a packet on another party (RPD Rules r. 34), checked; None when not served."""
    if on is None and by is None and at is None:
        return None
    if not (on and by and at):
        raise InvalidInput("a service needs the party served, the method and the date together", hint="served")
    on = " ".join(on.split())
    if len(on) > 120 or any(not ch.isprintable() for ch in on):
        raise InvalidInput("the party served: at most 120 printable characters (e.g. \"Minister's counsel\")")
    if by not in SERVICE_METHODS:
        raise InvalidInput(f"the service method {by!r} is not one of {', '.join(SERVICE_METHODS)}")
    try:
        at = _dt.date.fromisoformat(at).isoformat()
    except ValueError:
        raise InvalidInput("the date of service is not a date; write YYYY-MM-DD") from None
    return {"on": on, "by": by, "at": at}


def named_output(profile: Profile, folder: str, today: str, fields: dict) -> str:
    """The output path in ``folder`` named by the profile's file-name rule; NotPermitted when the
    rule uses a case field (an IRB file number) the case lacks."""
    import os
    import string

    used = {name for _lit, name, _spec, _conv in string.Formatter().parse(profile.file_name) if name}
    missing = [n for n in FILE_NAME_FIELDS if n in used and not fields.get(n)]
    if missing:
        raise NotPermitted(f"{profile.id} names its file by the case's {', '.join(missing)}, which the case lacks",
                           hint="case-set-field")
    name = profile.output_name(today, 1, **{n: fields[n] for n in FILE_NAME_FIELDS if n in used})
    if "/" in name or name.startswith(".") or not re.fullmatch(r"[^\x00-\x1f]+", name):
        raise InvalidInput(f"{profile.id}: the file name rule makes an unsafe name")
    return os.path.join(folder, name)
