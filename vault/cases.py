"""Cases: their signed events, the fold of them into a case's state, and membership.

    cases/<case>/events/<seq>           case events, signed, age-encrypted to the case
    cases/<case>/blobs/<blob>           documents, packets, recognition results (vault/documents.py)

A case's state (:class:`Case`) is the fold of its events, each checked against
the directory: its author must be enrolled and sign it. Each person keeps the
folded state in a cache (age-encrypted to them, in REFUGE_HOME/cache), trusted
only while the event it ends at is still in the vault with the same digest.
Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import age, casekeys
from ._ids import random_id
from .errors import InvalidInput, NotFound, NotPermitted, VerificationFailed
from .events import Event, EventLog, verify_record
from .people import MEMBER_ROLES, Directory, User, require_role

__all__ = ["Case", "Document", "DOC_TYPES", "load_case", "case_ids", "cases", "find_case", "create_case",
           "grant", "revoke", "export_key", "recover_case", "require_open"]

DOC_TYPES = (
    "identity", "civil-status", "medical", "psychological", "legal-declaration",
    "country-evidence", "correspondence", "photo", "translation", "other",
)
# Case events that change what a case holds: refused once the case is closed.
CONTENT_EVENTS = ("doc.added", "doc.tagged", "consent.granted", "consent.withdrawn", "redaction.added",
                  "redaction.removed", "redaction.reviewed", "ocr.cached", "packet.built")


@dataclass
class Document:
    """A document of a case, at its latest version."""

    id: str
    case_id: str
    version: int
    blob: str
    key_version: int
    type: str
    title: str
    filename: str
    size: int
    sha256: str
    mime: str
    added_by: str
    added_at: str
    tags: list[str] = field(default_factory=list)
    person: str | None = None
    lang: str | None = None
    translation_of: str | None = None
    translator: str | None = None
    dialect: str | None = None
    flags: list[str] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "versions"}
        d["versions"] = len(self.versions)
        return d


@dataclass
class Case:
    """A case's state: the fold of its events."""

    id: str
    ref: str = ""
    title: str = ""
    created_by: str = ""
    created_at: str = ""
    members: set[str] = field(default_factory=set)
    documents: dict[str, Document] = field(default_factory=dict)
    consents: list[dict] = field(default_factory=list)
    packets: list[dict] = field(default_factory=list)
    redactions: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)  # pages a person looked at: doc, version, page, by, at
    ocr: dict[str, dict] = field(default_factory=dict)  # recognition results: key -> {doc, blob}
    last_seq: int = 0
    last_digest: str = ""

    def to_json(self) -> bytes:
        """The folded state, for the per-user cache."""
        d = dict(self.__dict__, members=sorted(self.members),
                 documents={k: dict(v.__dict__) for k, v in self.documents.items()})
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Case":
        d = json.loads(data)
        d["members"] = set(d["members"])
        d["documents"] = {k: Document(**v) for k, v in d["documents"].items()}
        return cls(**d)

    def as_dict(self, directory: "Directory | None" = None) -> dict:
        names = sorted(directory.name(u) for u in self.members) if directory else sorted(self.members)
        return {"id": self.id, "ref": self.ref, "title": self.title, "created_at": self.created_at,
                "members": names, "documents": len(self.documents)}


# --- the fold -------------------------------------------------------------------------------


def apply(directory: Directory, case: Case, event: Event) -> None:
    """Check one case event against the directory and fold it into ``case``."""
    pub = directory.sign_pub(event.author)
    if pub is None or not verify_record(event.record, pub):
        raise VerificationFailed(f"event {event.seq} of case {case.id} has a bad or unknown signature")
    if event.record.get("case") != case.id:
        raise VerificationFailed(f"event {event.seq} of case {case.id} belongs to another case")
    d = event.data
    t = event.type
    if event.seq == 1 and t != "case.created":
        raise VerificationFailed(f"case {case.id} does not start with its creation")
    if t == "case.created":
        case.ref, case.title, case.created_by, case.created_at = d["ref"], d.get("title", ""), event.author, event.time
        case.members = {event.author}
    elif t == "member.granted":
        case.members.update(d["users"])
    elif t == "member.revoked":
        case.members.difference_update(d["users"])
    elif t == "doc.added":
        _apply_doc_added(case, event)
    elif t == "doc.tagged":
        doc = case.documents[d["id"]]
        doc.tags = sorted((set(doc.tags) | set(d.get("add", []))) - set(d.get("remove", [])))
    elif t in ("consent.granted", "consent.withdrawn"):
        case.consents.append({"action": t.split(".")[1], "recipient": d["recipient"], "docs": d.get("docs", []),
                              "expires": d.get("expires"), "note": d.get("note", ""), "by": event.author,
                              "at": event.time, "seq": event.seq})
    elif t == "redaction.added":
        case.redactions.append(dict(d, by=event.author, at=event.time))
    elif t == "redaction.removed":
        case.redactions = [r for r in case.redactions if r["id"] != d["id"]]
    elif t == "packet.built":
        case.packets.append(dict(d, built_by=event.author, built_at=event.time))
    elif t == "redaction.reviewed":
        case.reviews.append({"doc": d["doc"], "version": d["version"], "page": d["page"], "by": event.author,
                             "at": event.time})
    elif t == "ocr.cached":
        case.ocr[d["key"]] = {"doc": d["doc"], "blob": d["blob"]}
    case.last_seq, case.last_digest = event.seq, event.digest


def _apply_doc_added(case: Case, event: Event) -> None:
    d = event.data
    doc = case.documents.get(d["id"])
    entry = {k: d[k] for k in ("version", "blob", "key_version", "size", "sha256", "mime", "filename")}
    entry.update(added_by=event.author, added_at=event.time)
    if doc is None:
        doc = Document(d["id"], case.id, d["version"], d["blob"], d["key_version"], d["type"], d["title"],
                       d["filename"], d["size"], d["sha256"], d["mime"], event.author, event.time,
                       list(d.get("tags", [])), d.get("person"), d.get("lang"), d.get("translation_of"),
                       d.get("translator"), d.get("dialect"), list(d.get("flags", [])))
        case.documents[doc.id] = doc
    else:
        for k in ("version", "blob", "key_version", "size", "sha256", "mime", "filename", "flags"):
            setattr(doc, k, d[k] if k != "flags" else list(d.get("flags", [])))
    doc.versions.append(entry)


def fold(v, case_id: str, identities) -> Case:
    """A case folded from its first event, ignoring the cache (fsck, recovery)."""
    case = Case(case_id)
    for event in case_log(v, case_id).events(identities):
        apply(v.directory, case, event)
    return case


# --- reading and writing events --------------------------------------------------------------


def case_log(v, case_id: str) -> EventLog:
    """The event sequence of a case."""
    return EventLog(v.backend, f"cases/{case_id}/events")


def load_case(v, case_id: str) -> Case:
    """The verified state of a case I am a member of."""
    identities = casekeys.require_member(v, case_id)
    case = v._cases.get(case_id) or _cached_case(v, case_id, identities) or Case(case_id)
    seen = case.last_seq
    for event in case_log(v, case_id).events(identities.values(), case.last_seq + 1, case.last_digest):
        apply(v.directory, case, event)
    v._cases[case_id] = case
    if case.last_seq != seen:
        _save_case_cache(v, case)
    return case


# The per-user state cache: each case's folded state, age-encrypted to its
# user, in REFUGE_HOME/cache. It is trusted only while the event it ends at
# is still in the vault with the same digest; otherwise the case is folded
# again from its first event. (fsck --deep always folds from the start.)

def cache_path(v, case_id: str) -> Path:
    """Where my cached state of a case is kept."""
    return v.home.path / "cache" / v.id / v.me.user_id / f"{case_id}.age"


def _cached_case(v, case_id: str, identities) -> Case | None:
    try:
        data = cache_path(v, case_id).read_bytes()
        case = Case.from_json(age.decrypt_bytes([v.me.age_identity], data))
    except (OSError, ValueError, TypeError, KeyError, age.AgeError):
        return None
    if case.id != case_id or case.last_seq < 1:
        return None
    try:
        same = case_log(v, case_id).read(case.last_seq, identities.values()).digest == case.last_digest
    except (NotFound, VerificationFailed, age.AgeError):
        same = False
    if not same:
        # Events are never deleted: the case was rolled back or rewritten under us.
        raise VerificationFailed(f"case {case_id} lost or changed events since you last read it: "
                                 "the vault was rolled back or tampered with; restore it from a backup and tell an admin")
    return case


def _save_case_cache(v, case: Case) -> None:
    path = cache_path(v, case.id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(age.encrypt_bytes([v.me.age_identity.recipient], case.to_json()))
        os.replace(tmp, path)
    except OSError:
        pass  # the cache is an optimisation; the vault stays the truth


def forget_case(v, case_id: str) -> None:
    """Drop what this process and this person's cache know of a purged case."""
    v._cases.pop(case_id, None)
    v._case_ids.pop(case_id, None)
    with contextlib.suppress(OSError):
        cache_path(v, case_id).unlink()


def require_open(v, case_id: str) -> None:
    """Refuse changes to a closed case (NotPermitted)."""
    if v.directory.status(case_id).closed_at:
        raise NotPermitted(f"case {case_id} is closed", hint="case-reopen")


def append_case(v, case: Case, type: str, data: dict) -> Event:
    """Sign and append one event to a case, encrypted to its current key version, and fold it in."""
    if type in CONTENT_EVENTS:
        require_open(v, case.id)
    version = casekeys.current_version(v, case.id)
    identities = casekeys.require_member(v, case.id)

    def tail():
        for ev in case_log(v, case.id).events(identities.values(), case.last_seq + 1, case.last_digest):
            apply(v.directory, case, ev)
        return case.last_seq, case.last_digest

    event = case_log(v, case.id).append(v.me, type, data, [identities[version].recipient], tail,
                                        extra={"case": case.id})
    apply(v.directory, case, event)
    return event


def before_write(v, case: Case) -> None:
    """Rotate the case key first if a member was removed from the vault."""
    removed = {u for u in case.members if v.directory.users.get(u) is None or v.directory.users[u].removed}
    if removed:
        casekeys.rotate(v, case.id, case.members - removed)
        append_case(v, case, "member.revoked", {"users": sorted(removed), "reason": "removed from the vault"})
        casekeys.destroy_wraps(v, case.id, removed)


# --- finding and creating cases ------------------------------------------------------------


def case_ids(v) -> list[str]:
    """The ids of every case in the vault, purged ones left out."""
    return [c for c in v.backend.children("cases/") if not v.directory.status(c).purged_at]


def cases(v) -> list[Case]:
    """Every case I am a member of."""
    for cid, st in v.directory.cases.items():
        if st.purged_at:
            forget_case(v, cid)  # a case purged since I last looked: drop my cached copy
    out = []
    for cid in case_ids(v):
        try:
            case = load_case(v, cid)
        except (NotPermitted, NotFound):
            continue
        if case.last_seq:  # a creation interrupted before its first event is no case (fsck reports it)
            out.append(case)
    return sorted(out, key=lambda c: (c.ref, c.id))


def find_case(v, ref: str) -> Case:
    """A case of mine by reference (or by id)."""
    if ref in case_ids(v):
        return load_case(v, ref)
    matches = [c for c in cases(v) if c.ref == ref]
    if not matches:
        if v.role == "auditor":
            raise NotPermitted("auditors cannot read case content; they read the audit log")
        raise NotFound(f"no case {ref} among your cases", hint="case-list")
    if len(matches) > 1:
        raise InvalidInput(f"{len(matches)} cases have the reference {ref}", hint="case-id")
    return matches[0]


def create_case(v, ref: str, title: str = "") -> Case:
    """Create a case with me as its first member (case leads)."""
    require_role(v, "case-lead", doing="creating cases")
    ref = ref.strip()
    if not ref or len(ref) > 100 or any(ord(c) < 32 for c in ref):
        raise InvalidInput("a case reference must be 1 to 100 printable characters")
    if any(c.ref == ref for c in cases(v)):
        raise InvalidInput(f"you already have a case {ref}; pick another reference")
    case = Case(random_id(10))
    casekeys.write_version(v, case.id, 1, age.X25519Identity.generate(), [v.me.user_id])
    append_case(v, case, "case.created", {"ref": ref, "title": title})
    return case


# --- membership ----------------------------------------------------------------------------


def _check_member_role(user: User) -> None:
    if user.removed:
        raise InvalidInput(f"{user.name} was removed from the vault")
    if user.role not in MEMBER_ROLES:
        raise InvalidInput(f"{user.name} is {user.role}; only lawyers and case leads can be case members")


def grant(v, case: Case, names: Iterable[str]) -> list[User]:
    """Wrap every key version I hold to new members (case leads who are members)."""
    require_role(v, "case-lead", doing="granting membership")
    identities = casekeys.require_member(v, case.id)
    users = [v.directory.by_name(n) for n in names]
    for u in users:
        _check_member_role(u)
    before_write(v, case)
    new = [u for u in users if u.user_id not in case.members]
    for u in new:
        casekeys.wrap_versions(v, case.id, identities, u)
    if new:
        append_case(v, case, "member.granted", {"users": [u.user_id for u in new]})
    return new


def revoke(v, case: Case, names: Iterable[str]) -> list[User]:
    """Remove members: a new key version for those who remain."""
    require_role(v, "case-lead", doing="revoking membership")
    casekeys.require_member(v, case.id)
    users = [v.directory.by_name(n) for n in names]
    gone = {u.user_id for u in users if u.user_id in case.members}
    if v.me.user_id in gone:
        raise InvalidInput("you cannot revoke yourself; ask another case lead of this case")
    if not gone:
        return []
    before_write(v, case)
    casekeys.rotate(v, case.id, case.members - gone)
    append_case(v, case, "member.revoked", {"users": sorted(gone)})
    casekeys.destroy_wraps(v, case.id, gone)
    return [u for u in users if u.user_id in gone]


def export_key(v, case: Case) -> str:
    """The case identities of every version I hold, as an age identity file."""
    require_role(v, "case-lead", doing="exporting a case key")
    identities = casekeys.require_member(v, case.id)
    lines = ["# refuge case key (every key version); keep it as safe as the documents"]
    lines += [f"# version {n}\n{identity}" for n, identity in sorted(identities.items())]
    return "\n".join(lines) + "\n"


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
    try:
        v._case_ids[case_id] = dict(recovered)
        case = fold(v, case_id, recovered.values())  # the recovered keys open the case, and its history verifies
        # No key rotation here even if members were removed: key versions are signed by
        # members, so the next member who writes rotates, as after any removal.
        casekeys.wrap_versions(v, case_id, recovered, user)
        if user.user_id not in case.members:
            append_case(v, case, "member.granted", {"users": [user.user_id], "recovered": "kms-escrow"})
    except age.AgeError:
        raise VerificationFailed(f"the escrowed keys of case {case_id} do not open its events: "
                                 "the escrow or the events were altered") from None
    finally:  # the admin is no member: forget the keys and the case now
        v._case_ids.pop(case_id, None)
        v._cases.pop(case_id, None)
    return user, found


def _unescrow(v, escrow, case_id: str, version: int) -> age.X25519Identity:
    from .kms import escrow_key

    try:
        with v.backend.get(escrow_key(case_id, version)) as f:
            blob = f.read()
    except NotFound:
        raise VerificationFailed(f"key version {version} of case {case_id} has no escrow copy: it was deleted, "
                                 "or written before KMS escrow was set up") from None
    try:
        return age.X25519Identity.from_string(escrow.decrypt(v.id, case_id, version, blob).strip())
    except ValueError:
        raise VerificationFailed(f"the escrow copy of key version {version} of case {case_id} is not a case key") from None

