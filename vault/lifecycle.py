"""A case's life: closing, reopening, legal holds, purging (rules in vault/retention.py).

These are directory events (every enrolled person can read and verify them;
they hold only opaque case ids and dates). Every reader checks who signed
them: a case lead must be a member of the case as the directory's
``case.members`` mirror records it (readers without the case key can check
that), so before a case lead's event the mirror is brought up to date.
Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import datetime as dt

from . import casekeys, cases
from .cases import DOC_TYPES, Case
from .errors import InvalidInput, NotFound, NotPermitted, VerificationFailed
from .people import MEMBER_ROLES, append_directory, require_role
from .retention import CaseStatus, Policy, parse_period, purge_date

__all__ = ["case_status", "case_id_for", "set_retention", "close_case", "reopen_case", "hold_case",
           "retention_due", "purge_case"]


def case_status(v, case_id: str) -> CaseStatus:
    """A case's life as the directory records it: closed, on hold, purged."""
    return v.directory.status(case_id)


def case_id_for(v, ref: str) -> str:
    """A case id from a reference (members) or an id (anyone: admins cannot read references)."""
    if ref in cases.case_ids(v):
        return ref
    if v.role in MEMBER_ROLES:
        return cases.find_case(v, ref).id
    if v.directory.status(ref).purged_at:
        raise NotFound(f"case {ref} was purged")
    raise NotFound(f"no case with id {ref}", hint=f"case-id-{v.role}")


def set_retention(v, default: str | None = None, types: dict[str, str | None] | None = None) -> Policy:
    """Change the retention policy (admins): ``None`` for a period means keep until purged by hand."""
    require_role(v, "admin", doing="setting the retention policy")
    policy = Policy(v.directory.policy.default, dict(v.directory.policy.types))
    if default is not None:
        policy.default = None if default == "none" else parse_period(default)
    for t, period in (types or {}).items():
        if t not in DOC_TYPES:
            raise InvalidInput(f"unknown document type {t}; use one of {', '.join(DOC_TYPES)}")
        if period in (None, "none"):
            policy.types.pop(t, None)
        else:
            policy.types[t] = parse_period(period)
    append_directory(v, "retention.policy", policy.as_dict())
    return v.directory.policy


def close_case(v, case: Case, retain: str | None = None, today: str | None = None) -> CaseStatus:
    """Close a case (case leads who are members) and fix its purge date.

    The date is today plus the longest of ``retain`` (else the policy's
    default) and the policy's periods for the document types in the case.
    """
    require_role(v, "case-lead", doing="closing cases")
    casekeys.require_member(v, case.id)
    cases.mirror_members(v, case)
    period = parse_period(retain) if retain else None
    if case_status(v, case.id).closed_at:
        raise InvalidInput(f"case {case.id} is already closed", hint="case-list")
    day = dt.date.fromisoformat(today) if today else dt.datetime.now(dt.timezone.utc).date()
    due = purge_date(day, period, v.directory.policy, {d.type for d in case.documents.values()})
    append_directory(v, "case.closed", {"case": case.id, "retain": period,
                                        "purge_after": due.isoformat() if due else None})
    return case_status(v, case.id)


def reopen_case(v, case: Case) -> CaseStatus:
    """Reopen a closed case (case leads who are members); its purge date is dropped."""
    require_role(v, "case-lead", doing="reopening cases")
    casekeys.require_member(v, case.id)
    cases.mirror_members(v, case)
    if not case_status(v, case.id).closed_at:
        raise InvalidInput(f"case {case.id} is not closed")
    append_directory(v, "case.reopened", {"case": case.id})
    return case_status(v, case.id)


def hold_case(v, case_id: str, reason: str | None, release: bool = False) -> CaseStatus:
    """Place (or release) a legal hold: while it stands, nothing of the case may be destroyed.

    Admins and case leads who are members may do it. The reason is kept in
    the directory, which every enrolled person can read: write no names in it.
    """
    require_role(v, "admin", "case-lead", doing="placing legal holds")
    if v.role == "case-lead":
        cases.mirror_members(v, cases.load_case(v, case_id))
    held = case_status(v, case_id).hold
    if release:
        if not held:
            raise InvalidInput(f"case {case_id} is not on hold")
        append_directory(v, "case.released", {"case": case_id, "reason": reason or ""})
    else:
        if not reason or not reason.strip():
            raise InvalidInput("a legal hold needs a reason (a court order or file number, no names)",
                               hint="hold-reason")
        if held:
            raise InvalidInput(f"case {case_id} is already on hold (since {held['at']})")
        append_directory(v, "case.held", {"case": case_id, "reason": reason.strip()})
    return case_status(v, case_id)


def retention_due(v, on: str | None = None) -> list[CaseStatus]:
    """Closed cases whose purge date is ``on`` (default today, UTC) or earlier, holds left out."""
    day = on or dt.datetime.now(dt.timezone.utc).date().isoformat()
    return sorted((st for st in v.directory.cases.values()
                   if st.purge_after and st.purge_after <= day and not st.hold and not st.purged_at),
                  key=lambda st: (st.purge_after, st.case_id))


def purge_case(v, case_id: str) -> int:
    """Crypto-shred a closed case that is not on hold (admins); returns the objects destroyed.

    The purge is recorded in the directory first, then every wrapped copy of
    every key version and every KMS escrow copy is deleted (after which the
    rest is unreadable by anyone), then the case's events and documents. An
    interrupted purge is finished by running it again; fsck reports one.
    """
    from .fsck import link_in

    require_role(v, "admin", doing="purging cases")
    if (link := link_in(v, casekeys.case_prefix(case_id))) is not None:  # deleting through it deletes where it points
        raise VerificationFailed(f"{link} in the vault folder is a symbolic link, which refuge never makes: someone "
                                 "who can write to the folder planted it; nothing was deleted", hint="fsck")
    if not case_status(v, case_id).purged_at:
        if case_id not in cases.case_ids(v):
            raise NotFound(f"no case with id {case_id}", hint="retention-due")

        def check() -> None:
            st = case_status(v, case_id)
            if st.hold:
                raise NotPermitted(f"case {case_id} is on legal hold since {st.hold['at']}; nothing of it may be "
                                   "destroyed until the hold is released", hint="hold-release")
            if not st.closed_at:
                raise NotPermitted(f"case {case_id} is open", hint="case-close")

        check()
        append_directory(v, "case.purged", {"case": case_id}, check)
    prefix = casekeys.case_prefix(case_id)
    keys = list(v.backend.list(prefix))
    shred = [k for k in keys if k.startswith((prefix + "keys/", prefix + "escrow/"))]
    for key in shred + [k for k in keys if k not in shred]:
        v.backend.delete(key)
    cases.forget_case(v, case_id)
    return len(keys)
