"""Who acts: enrolled people, their roles, and the directory that records them.

The directory is a sequence of signed events (``directory/events/<seq>``),
rooted at the vault's founding admin, whose signing key every reader pins.
Every reader folds it with :class:`Directory` and accepts an event only if its
author held the needed role then (and, for a case lead acting on a case, was a
member of it: ``case.members`` events mirror each case's membership here, so
readers without the case key can check it). Each person's REFUGE_HOME pins the
directory head it last saw, so a directory cut short or rewritten is refused.
Functions here take the opened vault (vault/core.py) as ``v`` and use only its
shared state and this layer.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Callable

from . import _cache, age
from .errors import InvalidInput, NotFound, NotPermitted, VerificationFailed
from .events import Event, verify_record
from .identity import PublicIdentity
from .retention import CaseStatus, Policy
from .storage import read_small

__all__ = ["User", "Directory", "ROLES", "MEMBER_ROLES", "require_role", "add_user", "remove_user", "users",
           "authority_checked", "refresh_directory", "append_directory", "check_head"]

ROLES = ("admin", "lawyer", "case-lead", "auditor")
MEMBER_ROLES = ("lawyer", "case-lead")
# Directory events about a case's life that a case lead may sign (purging and the policy are admins').
CASE_LIFE = ("case.closed", "case.reopened", "case.held", "case.released")
# Test-only: REFUGE_TEST_NO_AUTHORITY=1 turns off the checks of who may do what (roles at a
# position, membership) when folding; signatures, chains and pins are still checked. The
# benchmark uses it to measure what verification of authority costs. Never set it otherwise.
NO_AUTHORITY_ENV = "REFUGE_TEST_NO_AUTHORITY"


def authority_checked() -> bool:
    """Whether readers check authority (always, except under the test-only switch)."""
    return os.environ.get(NO_AUTHORITY_ENV) != "1"


@dataclass
class User:
    """An enrolled person."""

    user_id: str
    name: str
    role: str
    public: PublicIdentity
    enrolled_by: str
    enrolled_at: str
    removed: bool = False
    enrolled_seq: int = 0  # the directory position of the enrolment
    removed_seq: int | None = None  # and of the removal

    def as_dict(self) -> dict:
        return {"id": self.user_id, "name": self.name, "role": self.role,
                "enrolled_at": self.enrolled_at, "removed": self.removed}


class Directory:
    """Who is enrolled: the verified fold of the directory events."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.policy = Policy()
        self.cases: dict[str, CaseStatus] = {}  # the life of each case: closed, on hold, purged
        self.members: dict[str, list[str]] = {}  # each case's members, as mirrored by case.members events
        self.org: dict[str, str] = {}  # the organisation's details (vault/orgdetails.py), signed by an admin
        self.last_seq = 0
        self.last_digest = ""
        self.digests: dict[int, str] = {}  # seq -> digest of every event folded (for the pinned head)

    def acting(self, user_id: str, position: int) -> User | None:
        """The person ``user_id`` if enrolled and not removed at directory position ``position``."""
        u = self.users.get(user_id)
        if u is None or u.enrolled_seq > position or (u.removed_seq is not None and u.removed_seq <= position):
            return None
        return u

    def status(self, case_id: str) -> CaseStatus:
        return self.cases.get(case_id) or CaseStatus(case_id)

    def by_name(self, name: str) -> User:
        for u in self.users.values():
            if u.name == name:
                return u
        raise NotFound(f"no user named {name} in this vault", hint="user-list")

    def name(self, user_id: str) -> str:
        u = self.users.get(user_id)
        return u.name if u else user_id

    def sign_pub(self, user_id: str) -> bytes | None:
        u = self.users.get(user_id)
        return u.public.sign_pub if u else None

    def apply(self, event: Event, anchor: bytes) -> None:
        """Check one directory event and fold it in."""
        if not verify_record(event.record, self._signer(event, anchor)):
            raise VerificationFailed(f"directory event {event.seq} has a bad signature")
        data = event.data
        if event.type in ("vault.created", "user.enrolled"):
            pub = PublicIdentity.from_fields(data["admin"] if event.seq == 1 else data["user"])
            role = "admin" if event.seq == 1 else data["role"]
            if pub.user_id in self.users or any(u.name == pub.name for u in self.users.values()):
                raise VerificationFailed(f"directory event {event.seq} enrolls a person twice")
            self.users[pub.user_id] = User(pub.user_id, pub.name, role, pub, event.author, event.time,
                                           enrolled_seq=event.seq)
        elif event.type == "user.removed":
            if data.get("user_id") not in self.users or self.users[data["user_id"]].removed:
                raise VerificationFailed(f"directory event {event.seq} removes someone not enrolled")
            self.users[data["user_id"]].removed = True
            self.users[data["user_id"]].removed_seq = event.seq
        elif event.type == "retention.policy":
            self.policy = Policy(data.get("default"), dict(data.get("types", {})))
        elif event.type == "case.members":
            self._apply_members(event)
        elif event.type == "org.details":  # an admin's, like every type _signer does not list
            fields = data.get("fields")
            if not isinstance(fields, dict) or not all(isinstance(x, str) for kv in fields.items() for x in kv):
                self._refuse(event, "it is malformed")
            self.org = dict(fields)
        elif event.type in CASE_LIFE or event.type == "case.purged":
            self._check_case_life(event)
            self._apply_case_life(event)
        else:
            raise VerificationFailed(f"directory event {event.seq} has an unknown type")
        self.last_seq, self.last_digest = event.seq, event.digest
        self.digests[event.seq] = event.digest

    def _refuse(self, event: Event, why: str) -> None:
        raise VerificationFailed(f"directory event {event.seq} ({event.type}) is refused: {why}", hint="fsck")

    def _apply_members(self, event: Event) -> None:
        """A case's membership, mirrored: signed by a case lead who is a member (or, when only people
        removed from the vault leave, by any member; or by an admin recovering from escrow)."""
        data = event.data
        case, members = data.get("case"), data.get("members")
        if not isinstance(case, str) or not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            self._refuse(event, "it is malformed")
        before = self.members.get(case)
        author = self.users[event.author]
        if authority_checked():
            for m in set(members) - set(before or ()):  # those already members may since have been removed
                u = self.acting(m, event.seq)
                if u is None or u.role not in MEMBER_ROLES:
                    self._refuse(event, f"{self.name(m)} cannot be a member of a case")
            if before is None:
                if author.role != "case-lead" or members != [event.author]:
                    self._refuse(event, "a case is created by a case lead, its only first member")
            elif author.role == "admin":
                if not data.get("recovered") or not set(before) <= set(members):
                    self._refuse(event, "an admin only adds a member, when recovering from escrow")
            elif event.author not in before:
                self._refuse(event, f"{author.name} is not a member of case {case}")
            elif author.role != "case-lead":
                gone = {m for m in before if self.acting(m, event.seq) is None}
                if set(members) != set(before) - gone:
                    self._refuse(event, f"{author.name} is a {author.role}; only case leads change membership")
        self.members[case] = sorted(members)

    def _check_case_life(self, event: Event) -> None:
        """Who may close, reopen, hold, release and purge, and in what state the case must be."""
        if not authority_checked():
            return
        data = event.data
        case = data.get("case")
        author = self.users[event.author]
        st = self.status(case) if isinstance(case, str) else None
        if st is None:
            self._refuse(event, "it names no case")
        if author.role == "case-lead" and event.author not in self.members.get(case, ()):
            self._refuse(event, f"{author.name} is not a member of case {case}")
        if event.type in ("case.closed", "case.reopened") and author.role != "case-lead":
            self._refuse(event, "only a case lead who is a member closes or reopens a case")
        ok = {"case.closed": not st.closed_at, "case.reopened": bool(st.closed_at), "case.held": not st.hold,
              "case.released": bool(st.hold),
              "case.purged": bool(st.closed_at) and not st.hold and not st.purged_at}[event.type]
        if not ok:
            self._refuse(event, f"case {case} is not in a state that allows it")

    def _signer(self, event: Event, anchor: bytes) -> bytes:
        """The signing key that must have signed ``event``: the anchor first, then an enrolled author's."""
        if event.seq == 1:
            if event.type != "vault.created":
                raise VerificationFailed("the directory does not start with the vault's creation")
            admin = PublicIdentity.from_fields(event.data["admin"])
            if admin.sign_pub != anchor or admin.user_id != event.author:
                raise VerificationFailed("the directory's founding admin does not match this vault's anchor key")
            return admin.sign_pub
        author = self.acting(event.author, event.seq)
        allowed = ("admin",)
        if event.type in CASE_LIFE:
            allowed = ("admin", "case-lead")
        elif event.type == "case.members":
            allowed = ("admin", "case-lead", "lawyer")
        if author is None or author.role not in allowed:
            raise VerificationFailed(f"directory event {event.seq} is not signed by an enrolled "
                                     + " or ".join(allowed))
        return author.public.sign_pub

    def _apply_case_life(self, event: Event) -> None:
        data = event.data
        st = self.cases.setdefault(data["case"], CaseStatus(data["case"]))
        if event.type == "case.closed":
            st.closed_at, st.purge_after = event.time, data.get("purge_after")
        elif event.type == "case.reopened":
            st.closed_at = st.purge_after = None
        elif event.type == "case.held":
            st.hold = {"reason": data.get("reason", ""), "by": event.author, "at": event.time}
        elif event.type == "case.released":
            st.hold = None
        else:
            st.purged_at = event.time


# --- the directory of an opened vault -----------------------------------------------------


def not_enrolled(v) -> NotPermitted:
    """The refusal of someone the directory does not list as enrolled (never, or no longer: a removed
    person's copy of the directory key is deleted, so the terminal meets this first)."""
    return NotPermitted(f"{v.me.name} is not enrolled in this vault", hint="user-add")


def unwrap_directory_key(v) -> age.X25519Identity:
    """My copy of the directory identity, decrypted."""
    try:
        data = read_small(v.backend, f"directory/keys/{v.me.user_id}")
    except NotFound:
        raise not_enrolled(v) from None
    try:
        return age.X25519Identity.from_string(age.decrypt_bytes([v.me.age_identity], data).decode().strip())
    except (age.AgeError, ValueError):
        raise VerificationFailed("your copy of the directory key does not decrypt; it was altered") from None


def load_directory(v) -> User:
    """Fold the directory (pinning the vault's anchor key on first use); returns the person acting."""
    anchor = base64.b64decode(v.settings["anchor"])
    pins = v.home.config().get("pins", {})
    pinned = pins.get(v.id)
    if pinned is None:
        v.home.update_config(pins={**pins, v.id: v.settings["anchor"]})
    elif pinned != v.settings["anchor"]:
        raise VerificationFailed("this vault's anchor key changed since you first used it: the vault was replaced or tampered with")
    cached = not v.directory.last_seq and _restore_directory(v)
    seen = v.directory.last_seq
    for event in v._directory_log.events([v._dir_identity], v.directory.last_seq + 1, v.directory.last_digest):
        v.directory.apply(event, anchor)
    check_head(v)
    if not cached or v.directory.last_seq != seen:
        _cache.save_directory(v, authority_checked())
    user = v.directory.users.get(v.me.user_id)
    if user is None:
        raise not_enrolled(v)
    if user.removed:
        raise NotPermitted(f"{v.me.name} was removed from this vault")
    return user


def _restore_directory(v) -> bool:
    """Start from my cached fold of the directory (vault/_cache.py) while its last event is unchanged."""
    def still_there(seq: int, digest: str) -> bool:
        try:
            return v._directory_log.read(seq, [v._dir_identity]).digest == digest
        except (NotFound, VerificationFailed, age.AgeError):
            return False

    return _cache.restore_directory(v, authority_checked(), still_there)


def check_head(v) -> None:
    """Refuse a directory shorter than, or different from, the head this REFUGE_HOME last saw; pin the new head.

    Deleting the end of the directory (a removal, a role change, a hold) is
    caught here by everyone who saw it.
    """
    d = v.directory
    heads = v.home.config().get("heads", {})
    pinned = heads.get(v.id)
    if pinned:
        seq, digest = pinned
        if d.last_seq < seq:  # another process of this home may have pinned a newer head meanwhile
            anchor = base64.b64decode(v.settings["anchor"])
            for ev in v._directory_log.events([v._dir_identity], d.last_seq + 1, d.last_digest):
                d.apply(ev, anchor)
        if d.last_seq < seq:
            raise VerificationFailed(f"the directory ends at event {d.last_seq}, but you saw event {seq}: "
                                     "the vault was rolled back or its newest events deleted", hint="fsck")
        if d.digests.get(seq) != digest:
            raise VerificationFailed(f"directory event {seq} changed since you saw it: the vault was rewritten",
                                     hint="fsck")
        if seq == d.last_seq:
            return
    v.home.update_config(heads={**heads, v.id: [d.last_seq, d.last_digest]})


def refresh_directory(v) -> None:
    """Fold directory events appended since the vault was opened (or last refreshed)."""
    anchor = base64.b64decode(v.settings["anchor"])
    for ev in v._directory_log.events([v._dir_identity], v.directory.last_seq + 1, v.directory.last_digest):
        v.directory.apply(ev, anchor)
    check_head(v)


def append_directory(v, type: str, data: dict, check: Callable[[], None] | None = None) -> None:
    """Append a directory event; ``check()`` runs on the caught-up directory before each attempt."""
    anchor = base64.b64decode(v.settings["anchor"])

    def tail():
        for ev in v._directory_log.events([v._dir_identity], v.directory.last_seq + 1, v.directory.last_digest):
            v.directory.apply(ev, anchor)
        if check:
            check()  # e.g. a hold placed at the same moment as a purge stops the purge
        return v.directory.last_seq, v.directory.last_digest

    event = v._directory_log.append(v.me, type, data, [v._dir_identity.recipient], tail)
    v.directory.apply(event, anchor)
    check_head(v)


def signers(v) -> dict[str, bytes]:
    """Every enrolled person's signing key, by user id."""
    return {uid: u.public.sign_pub for uid, u in v.directory.users.items()}


# --- roles and enrolment ----------------------------------------------------------------


def require_role(v, *roles: str, doing: str) -> None:
    """Refuse (NotPermitted) unless the person acting holds one of ``roles``; ``doing`` says what for."""
    if v.role not in roles:
        need = " or ".join(roles)
        raise NotPermitted(f"{doing} needs the {need} role; {v.me.name} is {v.role}", hint="role")


def add_user(v, public: PublicIdentity, role: str) -> User:
    """Enroll a person (admin only): a signed directory event and their directory key."""
    from . import (
        orgkey,  # the organisation key's layer sits beside this one; imported when enrolling
    )

    require_role(v, "admin", doing="enrolling people")
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role}; use one of {', '.join(ROLES)}")
    if public.user_id in v.directory.users or any(u.name == public.name for u in v.directory.users.values()):
        raise InvalidInput(f"{public.name} is already enrolled", hint="user-list")
    key = f"directory/keys/{public.user_id}"
    if not v.backend.exists(key):
        v.backend.put(key, age.encrypt_bytes([public.age_recipient], f"{v._dir_identity}\n".encode()))
    append_directory(v, "user.enrolled", {"user": public.fields(), "role": role})
    orgkey.wrap_to(v, v.directory.users[public.user_id])  # admins and case leads hold the org key
    return v.directory.users[public.user_id]


def remove_user(v, name: str) -> User:
    """Mark a person removed (admin only); their cases rotate keys on the next write."""
    from . import orgkey

    require_role(v, "admin", doing="removing people")
    user = v.directory.by_name(name)
    if user.removed:
        raise InvalidInput(f"{name} was already removed")
    if user.user_id == v.me.user_id:
        raise InvalidInput("you cannot remove yourself; ask another admin")
    append_directory(v, "user.removed", {"user_id": user.user_id})
    v.backend.delete(f"directory/keys/{user.user_id}")
    orgkey.forget(v, user.user_id)  # their copies of the organisation signing key
    return user


def users(v) -> list[User]:
    """Every enrolled person, by name."""
    return sorted(v.directory.users.values(), key=lambda u: u.name)
