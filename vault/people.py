"""Who acts: enrolled people, their roles, and the directory that records them.

The directory is a sequence of signed events (``directory/events/<seq>``),
rooted at the vault's founding admin, whose signing key every reader pins.
Every reader folds it with :class:`Directory` and accepts an event only if its
author held the needed role then. Functions here take the opened vault
(vault/core.py) as ``v`` and use only its shared state and this layer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable

from . import age
from .errors import InvalidInput, NotFound, NotPermitted, VerificationFailed
from .events import Event, verify_record
from .identity import PublicIdentity
from .retention import CaseStatus, Policy

__all__ = ["User", "Directory", "ROLES", "MEMBER_ROLES", "require_role", "add_user", "remove_user", "users"]

ROLES = ("admin", "lawyer", "case-lead", "auditor")
MEMBER_ROLES = ("lawyer", "case-lead")
# Directory events about a case's life that a case lead may sign (purging and the policy are admins').
CASE_LIFE = ("case.closed", "case.reopened", "case.held", "case.released")


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

    def as_dict(self) -> dict:
        return {"id": self.user_id, "name": self.name, "role": self.role,
                "enrolled_at": self.enrolled_at, "removed": self.removed}


class Directory:
    """Who is enrolled: the verified fold of the directory events."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.policy = Policy()
        self.cases: dict[str, CaseStatus] = {}  # the life of each case: closed, on hold, purged
        self.last_seq = 0
        self.last_digest = ""

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
            self.users[pub.user_id] = User(pub.user_id, pub.name, role, pub, event.author, event.time)
        elif event.type == "user.removed":
            if data.get("user_id") not in self.users:
                raise VerificationFailed(f"directory event {event.seq} removes someone never enrolled")
            self.users[data["user_id"]].removed = True
        elif event.type == "retention.policy":
            self.policy = Policy(data.get("default"), dict(data.get("types", {})))
        elif event.type in CASE_LIFE or event.type == "case.purged":
            self._apply_case_life(event)
        else:
            raise VerificationFailed(f"directory event {event.seq} has an unknown type")
        self.last_seq, self.last_digest = event.seq, event.digest

    def _signer(self, event: Event, anchor: bytes) -> bytes:
        """The signing key that must have signed ``event``: the anchor first, then an enrolled author's."""
        if event.seq == 1:
            if event.type != "vault.created":
                raise VerificationFailed("the directory does not start with the vault's creation")
            admin = PublicIdentity.from_fields(event.data["admin"])
            if admin.sign_pub != anchor or admin.user_id != event.author:
                raise VerificationFailed("the directory's founding admin does not match this vault's anchor key")
            return admin.sign_pub
        author = self.users.get(event.author)
        allowed = ("admin", "case-lead") if event.type in CASE_LIFE else ("admin",)
        if author is None or author.role not in allowed or author.removed:
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


def unwrap_directory_key(v) -> age.X25519Identity:
    """My copy of the directory identity, decrypted."""
    try:
        with v.backend.get(f"directory/keys/{v.me.user_id}") as f:
            data = f.read()
    except NotFound:
        raise NotPermitted(f"{v.me.name} is not enrolled in this vault", hint="user-add") from None
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
    for event in v._directory_log.events([v._dir_identity], v.directory.last_seq + 1, v.directory.last_digest):
        v.directory.apply(event, anchor)
    user = v.directory.users.get(v.me.user_id)
    if user is None:
        raise NotPermitted(f"{v.me.name} is not enrolled in this vault", hint="user-add")
    if user.removed:
        raise NotPermitted(f"{v.me.name} was removed from this vault")
    return user


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


def signers(v) -> dict[str, bytes]:
    """Every enrolled person's signing key, by user id."""
    return {uid: u.public.sign_pub for uid, u in v.directory.users.items()}


# --- roles and enrolment ----------------------------------------------------------------


def require_role(v, *roles: str, doing: str) -> None:
    """Refuse (NotPermitted) unless the person acting holds one of ``roles``; ``doing`` says what for."""
    if v.role not in roles:
        need = " or ".join(roles)
        raise NotPermitted(f"{doing} needs the {need} role; {v.me.name} is {v.role}")


def add_user(v, public: PublicIdentity, role: str) -> User:
    """Enroll a person (admin only): a signed directory event and their directory key."""
    from . import orgkey  # the organisation key's layer sits beside this one; imported when enrolling

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
