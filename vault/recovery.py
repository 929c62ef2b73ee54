"""Recovering a case from KMS escrow: an admin's audited way back into a case whose members are gone."""

from __future__ import annotations

from . import age, casekeys
from .cases import Case, _check_member_role, case_ids, case_log, apply, fold, mirror_members
from .errors import InvalidInput, NotFound, VerificationFailed
from .people import User, require_role
from .storage import read_small

__all__ = ["recover_case"]


def recover_case(v, case_id: str, name: str) -> tuple[User, list[int]]:
    """Recover a case's keys from KMS escrow and wrap them to ``name`` (admins only).

    The admin cannot read case references, so the case is given by its id
    (the case column of the audit log). Every key version is decrypted with
    KMS, the case's signed events are checked with the recovered keys, each
    version is wrapped to ``name`` as a normal member key, and a
    ``member.granted`` event signed by the admin records it. The admin holds
    the case keys only for the duration of this call; CloudTrail records each
    KMS Decrypt with the case's encryption context. Returns the new member
    and the key versions recovered.
    """
    require_role(v, "admin", doing="recovering a case from KMS escrow")
    escrow = casekeys.escrow(v)
    if escrow is None:
        raise InvalidInput("this vault was created without a KMS key, so no case key is escrowed", hint="no-escrow")
    if case_id not in case_ids(v):
        if v.directory.status(case_id).purged_at:
            raise NotFound(f"case {case_id} was purged")
        raise NotFound(f"no case with id {case_id}", hint="case-id-admin")
    user = v.directory.by_name(name)
    _check_member_role(user)
    found = casekeys.versions(v, case_id)
    if not found:
        raise NotFound(f"case {case_id} has no committed key version")
    recovered = {n: _unescrow(v, escrow, case_id, n) for n in found}
    for n, identity in recovered.items():  # anyone who may call kms:Encrypt can escrow a key of their own
        casekeys.check_recipient(v, case_id, n, identity, "the KMS escrow copy")
    try:
        v._case_ids[case_id] = dict(recovered)
        case = fold(v, case_id, recovered.values())  # the recovered keys open the case, and its history verifies
        # No key rotation here even if members were removed: key versions are signed by
        # members, so the next member who writes rotates, as after any removal.
        casekeys.wrap_versions(v, case_id, recovered, user)
        if user.user_id not in case.members:
            _append_recovery(v, case, user)
        mirror_members(v, case, recovered="kms-escrow")
    except age.AgeError:
        raise VerificationFailed(f"the escrowed keys of case {case_id} do not open its events: "
                                 "the escrow or the events were altered") from None
    finally:  # the admin is no member: forget the keys and the case now
        v._case_ids.pop(case_id, None)
        v._cases.pop(case_id, None)
    return user, found


def _append_recovery(v, case: Case, user: User) -> None:
    """The admin's member.granted of a recovery (the admin is no member: append_case's checks do not apply)."""
    identities = v._case_ids[case.id]
    event = case_log(v, case.id).append(
        v.me, "member.granted", {"users": [user.user_id], "recovered": "kms-escrow"},
        [identities[case.key_version].recipient], lambda: (case.last_seq, case.last_digest),
        extra={"case": case.id, "dir": max(v.directory.last_seq, case.dir_pos)})
    apply(v, case, event)


def _unescrow(v, escrow, case_id: str, version: int) -> age.X25519Identity:
    from .kms import escrow_key

    try:
        blob = read_small(v.backend, escrow_key(case_id, version))
    except NotFound:
        raise VerificationFailed(f"key version {version} of case {case_id} has no escrow copy: it was deleted, "
                                 "or written before KMS escrow was set up") from None
    try:
        return age.X25519Identity.from_string(escrow.decrypt(v.id, case_id, version, blob).strip())
    except ValueError:
        raise VerificationFailed(f"the escrow copy of key version {version} of case {case_id} is not a case key") from None

