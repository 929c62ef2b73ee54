"""Cases: their signed events, the fold of them into a case's state, and membership.

    cases/<case>/events/<seq>           case events, signed, age-encrypted to the case
    cases/<case>/blobs/<blob>           documents, packets, recognition results (vault/documents.py)

A case's state (:class:`Case`) is the fold of its events, each checked by
every reader, not by the writer's client: its author must sign it, and at its
position must hold the role and the membership its action needs (AUTHORITY
below). Each event carries, signed, the directory position it was written
against (``dir``); a reader requires that position never to go backwards along
the case, not to be beyond its own directory head, and judges the author's role
and removal there. Key versions are usable only when a verified event made
them (``case.created``, ``member.revoked``, ``key.rotated``) and their signed
marker lists exactly the members at that point (``Case.key_version``).

Each person keeps the folded state in a cache (age-encrypted to them, in
REFUGE_HOME/cache), trusted only while the event it ends at is still in the
vault with the same digest, and a record of their own newest write to each
case (``<case>.own``: its seq and digest): whatever was deleted or rolled back
of what they saw or wrote is caught on their next command. Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import _cache, age, casekeys
from ._ids import random_id
from .errors import (
    InvalidInput,
    NotFound,
    NotPermitted,
    RefugeError,
    VerificationFailed,
)
from ._docfold import apply_doc_change
from .events import Event, EventLog, verify_record
from .people import (
    MEMBER_ROLES,
    Directory,
    User,
    append_directory,
    authority_checked,
    refresh_directory,
    require_role,
)
from .register import REGISTER_EVENTS
from .register import fold_event as _fold_register
from .doctypes import DOC_TYPES

__all__ = ["Case", "Document", "DOC_TYPES", "load_case", "case_ids", "cases", "find_case", "create_case",
           "grant", "revoke", "export_key", "require_open", "my_case_ids", "case_index", "case_summaries", "norm_ref"]

# Case events that change what a case holds: refused once the case is closed.
CONTENT_EVENTS = ("doc.added", "doc.tagged", "doc.edited", "doc.removed", "doc.moved", "consent.granted",
                  "consent.withdrawn", "redaction.added", "redaction.removed", "redaction.reviewed", "ocr.cached",
                  "packet.built", "case.fields", "rendition.cached") + REGISTER_EVENTS
# Who may append each case event, as every reader checks it (the author must also be a member).
# Types not listed (added by later versions) need a lawyer or a case lead who is a member.
LEAD = ("case-lead",)
AUTHORITY = {
    "case.created": LEAD, "member.granted": LEAD, "member.revoked": LEAD, "key.rotated": LEAD,
    "consent.granted": LEAD, "consent.withdrawn": LEAD, "redaction.reviewed": LEAD, "packet.built": LEAD,
    "doc.removed": LEAD, "doc.moved": LEAD,  # (DESIGN.md: removing or moving a document is a case lead's)
    "case.fields": LEAD,  # case details for letters and file names (vault/casefields.py)
    "doc.added": MEMBER_ROLES, "doc.tagged": MEMBER_ROLES, "doc.edited": MEMBER_ROLES, "redaction.added": MEMBER_ROLES,
    "redaction.removed": MEMBER_ROLES, "ocr.cached": MEMBER_ROLES,
    # people and places (vault/register.py): members add; editing, removing, dismissing lower redaction
    "person.added": MEMBER_ROLES, "place.added": MEMBER_ROLES, "person.edited": LEAD, "place.edited": LEAD,
    "person.removed": LEAD, "place.removed": LEAD, "candidate.dismissed": LEAD,
    "rendition.cached": MEMBER_ROLES,
}
CACHE_FORMAT = 4  # the cache's layout (4: former members; 3: document dates, removed and moved documents); another is folded again


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
    attached_to: str | None = None  # the message (a document of the case) this file was attached to
    date: str | None = None  # the date the document bears (YYYY-MM-DD), distinct from added_at
    moved_from: dict | None = None  # {"case", "id"}: where a moved document came from
    removal: dict | None = None  # a removed document's tombstone: by, at, reason, moved_to, ocr blobs

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("versions", "removal", "moved_from")}
        d["versions"] = len(self.versions)
        return d

    @property
    def short_id(self) -> str:
        """The document's own part of its id (after the case id): what people type and read."""
        return self.id.partition("-")[2] or self.id


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
    fields: dict[str, str] = field(default_factory=dict)  # case details (vault/casefields.py): name -> value
    renditions: dict[str, dict] = field(default_factory=dict)  # doc id -> {version, sha256, blob, mime, markup}
    removed: dict[str, Document] = field(default_factory=dict)  # removed or moved away: tombstones
    people: list[dict] = field(default_factory=list)  # the case's people (vault/register.py)
    places: list[dict] = field(default_factory=list)  # the case's places
    dismissed: list[dict] = field(default_factory=list)  # detected names a case lead judged not secret
    former: dict[str, int | None] = field(default_factory=dict)  # revoked -> search mark (searching.wrote_as_member)
    last_seq: int = 0
    last_digest: str = ""
    dir_pos: int = 0  # the directory position the last event was written against
    key_version: int = 0  # the newest key version a verified event made: new content is encrypted to it
    key_versions: list[int] = field(default_factory=list)  # every verified key version
    fmt: int = CACHE_FORMAT

    def to_json(self) -> bytes:
        """The folded state, for the per-user cache."""
        d = dict(self.__dict__, members=sorted(self.members),
                 documents={k: dict(v.__dict__) for k, v in self.documents.items()},
                 removed={k: dict(v.__dict__) for k, v in self.removed.items()})
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Case":
        d = json.loads(data)
        if d.get("fmt") != CACHE_FORMAT:
            raise ValueError("a cache of another layout")
        d["members"] = set(d["members"])
        d["documents"] = {k: Document(**v) for k, v in d["documents"].items()}
        d["removed"] = {k: Document(**v) for k, v in d.get("removed", {}).items()}
        return cls(**d)

    def as_dict(self, directory: "Directory | None" = None) -> dict:
        names = sorted(directory.name(u) for u in self.members) if directory else sorted(self.members)
        return {"id": self.id, "ref": self.ref, "title": self.title, "created_at": self.created_at,
                "members": names, "documents": len(self.documents)}


# --- the fold -------------------------------------------------------------------------------


def apply(v, case: Case, event: Event) -> None:
    """Check one case event (signature, and the authority of its author at its position) and fold it in."""
    directory = v.directory
    pub = directory.sign_pub(event.author)
    if pub is None or not verify_record(event.record, pub):
        raise VerificationFailed(f"event {event.seq} of case {case.id} has a bad or unknown signature")
    if event.record.get("case") != case.id:
        raise VerificationFailed(f"event {event.seq} of case {case.id} belongs to another case")
    d = event.data
    t = event.type
    if event.seq == 1 and t != "case.created":
        raise VerificationFailed(f"case {case.id} does not start with its creation")
    if authority_checked():
        _check_authority(v, case, event)
    if t == "case.created":
        case.ref, case.title, case.created_by, case.created_at = d["ref"], d.get("title", ""), event.author, event.time
        case.members = {event.author}
        _bind_version(v, case, event, 1)
    elif t == "member.granted":
        case.members.update(d["users"])
    elif t == "member.revoked":
        case.members.difference_update(d["users"])
        mark = d.get("search_seq")
        case.former.update({u: mark if isinstance(mark, int) and not isinstance(mark, bool) else None
                            for u in d["users"]})
        _bind_version(v, case, event, d.get("key_version"))
    elif t == "key.rotated":
        _bind_version(v, case, event, d.get("key_version"))
    elif t == "doc.added":
        _apply_doc_added(case, event)
    elif t in ("doc.tagged", "doc.edited", "doc.removed", "doc.moved"):
        if not apply_doc_change(case, event):
            _refuse(case, event, "it names a document the case does not hold")
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
    elif t == "ocr.cached" and d.get("doc") in case.removed:  # recognised while it was being removed
        case.removed[d["doc"]].removal.setdefault("ocr", []).append(d["blob"])
    elif t == "ocr.cached":
        case.ocr[d["key"]] = {"doc": d["doc"], "blob": d["blob"], "blob_sha256": d.get("blob_sha256")}
    elif t == "case.fields":
        case.fields.update({k: val for k, val in dict(d.get("set") or {}).items() if isinstance(val, str)})
        for k in d.get("unset") or ():
            case.fields.pop(k, None)
    elif t == "rendition.cached":
        case.renditions[d["doc"]] = {k: d.get(k) for k in ("version", "sha256", "blob", "mime", "markup", "blob_sha256")}
    elif t in REGISTER_EVENTS:
        _fold_register(case, event)
    case.last_seq, case.last_digest = event.seq, event.digest
    case.dir_pos = max(case.dir_pos, event.record.get("dir", 0) if isinstance(event.record.get("dir"), int) else 0)


def _refuse(case: Case, event: Event, why: str) -> None:
    raise VerificationFailed(f"event {event.seq} of case {case.id} ({event.type}) is refused: {why}", hint="fsck")


def _check_authority(v, case: Case, event: Event) -> None:
    """The author held, at the event's position, the role and membership its action needs."""
    directory, d, t = v.directory, event.data, event.type
    pos = event.record.get("dir")
    if isinstance(pos, int) and pos > directory.last_seq:
        refresh_directory(v)  # written against directory events appended since I opened the vault
    if not isinstance(pos, int) or pos < case.dir_pos or pos > directory.last_seq:
        _refuse(case, event, f"it names directory position {pos}, but the case was at {case.dir_pos} "
                             f"and the directory ends at {directory.last_seq}")
    author = directory.acting(event.author, pos)
    if author is None:
        _refuse(case, event, f"{directory.name(event.author)} was not enrolled (or was removed) at directory event {pos}")
    recovery = t == "member.granted" and author.role == "admin" and d.get("recovered") == "kms-escrow"
    gone = d.get("users") or [None]
    removal = t == "member.revoked" and all(u and directory.acting(u, pos) is None for u in gone)
    roles = MEMBER_ROLES if removal else AUTHORITY.get(t, MEMBER_ROLES)
    if not recovery and author.role not in roles:
        _refuse(case, event, f"{author.name} is {author.role}; it needs {' or '.join(roles)}")
    if t != "case.created" and not recovery and event.author not in case.members:
        _refuse(case, event, f"{author.name} is not a member of the case at that point")
    if t == "member.granted":
        for uid in d.get("users", []):
            u = directory.acting(uid, pos)
            if u is None or u.role not in MEMBER_ROLES:
                _refuse(case, event, f"it grants {directory.name(uid)}, who cannot be a member")
    if t == "doc.added" and d.get("key_version") != case.key_version:
        _refuse(case, event, f"the document is under key version {d.get('key_version')}, "
                             f"but the current version was {case.key_version}")
    if t == "doc.added" and d.get("moved_from") is not None and author.role not in LEAD:
        _refuse(case, event, f"{author.name} is {author.role}; moving a document in needs a case lead")
    if t == "doc.added" and any(not isinstance(e, dict) or e.get("key_version") != case.key_version
                                for e in d.get("history") or []):
        _refuse(case, event, f"the moved document's versions are not under the current key version {case.key_version}")
    if t == "packet.built" and any(vol.get("key_version") != case.key_version for vol in d.get("volumes", [])):
        _refuse(case, event, f"the packet is not under the current key version {case.key_version}")


def _bind_version(v, case: Case, event: Event, version) -> None:
    """Make key version ``version`` current: its signed marker must list exactly the members now."""
    from .casekeys import read_marker

    if not authority_checked():  # the test-only switch: the highest version named wins, markers unread
        if isinstance(version, int) and version > case.key_version:
            case.key_version = version
            case.key_versions.append(version)
        return
    if not isinstance(version, int) or version <= case.key_version:
        _refuse(case, event, f"it names key version {version}, not one after {case.key_version}")
    marker = read_marker(v, case.id, version)
    if marker is None:
        _refuse(case, event, f"key version {version} has no marker")
    if marker.get("author") != event.author or sorted(marker.get("members", [])) != sorted(case.members):
        _refuse(case, event, f"the marker of key version {version} does not list the case's members, "
                             "or was not signed by the event's author")
    case.key_version = version
    case.key_versions.append(version)


VERSION_FIELDS = ("version", "blob", "key_version", "size", "sha256", "mime", "filename")


def _apply_doc_added(case: Case, event: Event) -> None:
    d = event.data
    if d["id"] in case.removed:  # a new version stored while the document was being removed: removed too
        case.removed[d["id"]].versions.append({k: d[k] for k in VERSION_FIELDS})
        return
    doc = case.documents.get(d["id"])
    entry = {k: d[k] for k in VERSION_FIELDS}
    entry.update(added_by=event.author, added_at=event.time)
    if doc is None and d.get("history"):  # moved in from another case: every earlier version at once
        earlier = [dict({k: e[k] for k in VERSION_FIELDS}, added_by=event.author, added_at=event.time)
                   for e in d["history"]]
    else:
        earlier = []
    if doc is None:
        doc = Document(d["id"], case.id, d["version"], d["blob"], d["key_version"], d["type"], d["title"],
                       d["filename"], d["size"], d["sha256"], d["mime"], event.author, event.time,
                       list(d.get("tags", [])), d.get("person"), d.get("lang"), d.get("translation_of"),
                       d.get("translator"), d.get("dialect"), list(d.get("flags", [])))
        doc.attached_to = d.get("attached_to")
        case.documents[doc.id] = doc
    else:
        for k in ("version", "blob", "key_version", "size", "sha256", "mime", "filename", "flags"):
            setattr(doc, k, d[k] if k != "flags" else list(d.get("flags", [])))
    doc.versions.extend(earlier + [entry])
    if d.get("date"):
        doc.date = d["date"]
    if isinstance(d.get("moved_from"), dict):
        doc.moved_from = {"case": d["moved_from"].get("case"), "id": d["moved_from"].get("id")}


def fold(v, case_id: str, identities) -> Case:
    """A case folded from its first event, ignoring the cache (fsck, recovery)."""
    case = Case(case_id)
    for event in case_log(v, case_id).events(identities):
        apply(v, case, event)
    return case


# --- reading and writing events --------------------------------------------------------------


def case_log(v, case_id: str) -> EventLog:
    """The event sequence of a case."""
    return EventLog(v.backend, f"cases/{case_id}/events")


def load_case(v, case_id: str) -> Case:
    """The verified state of a case I am a member of (NotPermitted otherwise)."""
    identities = casekeys.case_identities(v, case_id)
    if not identities:
        if not v.backend.exists(f"cases/{case_id}/versions/0001"):
            raise NotFound(f"case {case_id} not found", hint="case-list")
        casekeys.raise_not_member(v)
    case = v._cases.get(case_id) or _cached_case(v, case_id, identities) or Case(case_id)
    seen = case.last_seq
    own = _own_write(v, case_id) if case_id not in v._cases else None
    for event in case_log(v, case_id).events(identities.values(), case.last_seq + 1, case.last_digest):
        apply(v, case, event)
        if own and event.seq == own[0] and event.digest != own[1]:
            _rolled_back(case_id, own[0], "which you wrote, was replaced")
    if own and own[0] > case.last_seq:
        _rolled_back(case_id, own[0], "which you wrote, is missing")
    if authority_checked():
        casekeys.check_markers(v, case)
    if v.me.user_id not in case.members or case.key_version not in identities:
        v._cases.pop(case_id, None)
        casekeys.raise_not_member(v)
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


def _rolled_back(case_id: str, seq: int, what: str) -> None:
    raise VerificationFailed(f"event {seq} of case {case_id}, {what}: the vault was rolled back or tampered "
                             "with; restore it from a backup and tell an admin", hint="fsck")


def _own_path(v, case_id: str) -> Path:
    return cache_path(v, case_id).with_suffix(".own")


def _own_write(v, case_id: str) -> tuple[int, str] | None:
    """My newest write to a case, as I recorded it: (seq, digest)."""
    try:
        d = json.loads(_own_path(v, case_id).read_bytes())
        return int(d["seq"]), str(d["digest"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _save_own_write(v, case_id: str, event: Event) -> None:
    path = _own_path(v, case_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps({"seq": event.seq, "digest": event.digest}).encode())
        os.replace(tmp, path)
    except OSError:
        pass


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
    except NotFound:
        raise VerificationFailed(f"event {case.last_seq} of case {case_id}, which you saw or wrote, is missing: "
                                 "the vault was rolled back or tampered with; restore it from a backup and tell an admin",
                                 hint="fsck") from None
    except (VerificationFailed, age.AgeError):
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
    v._cases.pop(case_id, None)  # (its index entry goes when the directory says it is purged: case_index)
    v._case_ids.pop(case_id, None)
    with contextlib.suppress(OSError):
        cache_path(v, case_id).unlink()
    with contextlib.suppress(OSError):
        _own_path(v, case_id).unlink()
    _cache.drop(v, "search.combined")  # my cases' search index (vault/_searchcache.py) held its text too
    _cache.drop(v, "search.combined.cases")


def require_open(v, case_id: str) -> None:
    """Refuse changes to a closed case (NotPermitted)."""
    if v.directory.status(case_id).closed_at:
        raise NotPermitted(f"case {case_id} is closed", hint="case-reopen")


class KeyChanged(RefugeError):
    """The case's key version changed while something was being written to it."""


def append_case(v, case: Case, type: str, data: dict, key_version: int | None = None,
                rewrap: Callable[[int], dict] | None = None) -> Event:
    """Sign and append one event to a case, encrypted to its current key version, and fold it in.

    The event is encrypted to the version current after the tail is re-read
    (a rotation that happened meanwhile is seen). ``key_version`` is the version
    content the event describes (a document's blob) was encrypted to; if it is
    no longer current, ``rewrap(new version)`` returns the data for the new one,
    or without ``rewrap`` KeyChanged is raised: nothing is ever committed under
    a revoked version.
    """
    if type in CONTENT_EVENTS:
        require_open(v, case.id)
    creating = type == "case.created"  # the creator's first write: version 1, no member yet
    identities = dict(v._case_ids.get(case.id, {})) if creating else casekeys.require_member(v, case.id)
    state = {"data": data, "version": key_version}

    def tail():
        nonlocal identities
        for ev in case_log(v, case.id).events(identities.values(), case.last_seq + 1, case.last_digest):
            apply(v, case, ev)
        if creating:
            return case.last_seq, case.last_digest
        if case.key_version not in identities:
            identities = casekeys.case_identities(v, case.id)
        if v.me.user_id not in case.members or case.key_version not in identities:
            casekeys.raise_not_member(v)
        if state["version"] is not None and state["version"] != case.key_version:
            if rewrap is None:
                raise KeyChanged("the case's key changed while this was being written (a member was revoked); "
                                 "nothing was kept, run the command again")
            state["data"], state["version"] = rewrap(case.key_version), case.key_version
        if case.dir_pos > v.directory.last_seq:
            refresh_directory(v)
        return case.last_seq, case.last_digest

    event = case_log(v, case.id).append(
        v.me, type, lambda: state["data"], lambda: [identities[case.key_version or 1].recipient], tail,
        extra=lambda: {"case": case.id, "dir": v.directory.last_seq})
    apply(v, case, event)
    v._cases[case.id] = case
    _save_own_write(v, case.id, event)  # deleting or replacing it is caught on my next command
    return event


def mirror_members(v, case: Case, **extra) -> None:
    """Mirror the case's members in the directory (``case.members``), where readers without the case key check them."""
    if v.directory.members.get(case.id) != sorted(case.members):
        append_directory(v, "case.members", {"case": case.id, "members": sorted(case.members),
                                             "key_version": case.key_version, **extra})


def _search_mark(v, case_id: str) -> int:
    """The highest search segment number of a case now (vault/searching.py lists them; it imports this module)."""
    from .searching import _numbers
    return max(_numbers(v, case_id), default=0)


def before_write(v, case: Case) -> None:
    """Rotate the case key first if a member was removed from the vault."""
    removed = {u for u in case.members if v.directory.users.get(u) is None or v.directory.users[u].removed}
    if removed:
        version = casekeys.rotate(v, case.id, case.members - removed)
        append_case(v, case, "member.revoked", {"users": sorted(removed), "reason": "removed from the vault",
                                                "key_version": version, "search_seq": _search_mark(v, case.id)})
        casekeys.destroy_wraps(v, case.id, removed)
        mirror_members(v, case)


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
    for cid in my_case_ids(v):
        try:
            case = load_case(v, cid)
        except (NotPermitted, NotFound):
            continue
        if case.last_seq:  # a creation interrupted before its first event is no case (fsck reports it)
            out.append(case)
    return sorted(out, key=lambda c: (c.ref, c.id))


def find_case(v, ref: str) -> Case:
    """A case of mine by id, or by reference (case-insensitive, spaces around ignored) from my sealed
    index (:func:`case_index`); the case is then opened and verified, and its own reference must match."""
    if _is_case_id(v, ref):
        return load_case(v, ref)
    want = norm_ref(ref)
    matches = [cid for cid, r in case_index(v).items() if norm_ref(r) == want]
    if not matches:
        if v.role == "auditor":
            raise NotPermitted("auditors cannot read case content; they read the audit log")
        raise NotFound(f"no case {ref} among your cases", hint="case-list")
    if len(matches) > 1:
        raise InvalidInput(f"{len(matches)} cases have the reference {ref}", hint="case-id")
    case = load_case(v, matches[0])
    if norm_ref(case.ref) != want:  # never reached unless my index is wrong: drop it, and say so
        _cache.drop(v, "cases.index")  # (vault/_caseindex.py: REFS)
        raise VerificationFailed(f"your index of cases named case {case.id} for {ref}, but it is another case; "
                                 "the index was dropped, run the command again", hint="fsck")
    return case


def norm_ref(ref: str) -> str:
    """A case reference as references are compared: case-insensitive, surrounding spaces ignored."""
    return ref.strip().casefold()


def my_case_ids(v) -> list[str]:
    """The cases the verified directory counts me a member of, purged ones left out."""
    me, d = v.me.user_id, v.directory
    purged = {cid for cid, st in d.cases.items() if st.purged_at}
    return [cid for cid, members in d.members.items() if me in members and cid not in purged]


def case_index(v) -> dict[str, str]:
    """My cases' references by case id, from my sealed index (vault/_caseindex.py)."""
    from ._caseindex import references

    return references(v)


def case_summaries(v) -> list[dict]:
    """What a listing shows of each of my cases (:meth:`Case.as_dict`), without opening unchanged cases."""
    from ._caseindex import summaries

    return summaries(v)


def _is_case_id(v, text: str) -> bool:
    """Whether ``text`` is the id of a case in the vault (one look-up, not a listing)."""
    if text in v._cases or text in v.directory.members:
        return not v.directory.status(text).purged_at
    return (len(text) == 16 and text.isalnum() and text == text.lower() and not v.directory.status(text).purged_at
            and bool(v.backend.children(f"cases/{text}/")))


def create_case(v, ref: str, title: str = "") -> Case:
    """Create a case with me as its first member (case leads)."""
    require_role(v, "case-lead", doing="creating cases")
    ref = ref.strip()
    if not ref or len(ref) > 100 or any(ord(c) < 32 for c in ref):
        raise InvalidInput("a case reference must be 1 to 100 printable characters")
    same = [r for r in case_index(v).values() if norm_ref(r) == norm_ref(ref)]
    if same:
        raise InvalidInput(f"you already have a case {same[0]}; references differ by more than upper and lower case, "
                           "pick another reference")
    case = Case(random_id(10))
    casekeys.write_version(v, case.id, 1, age.X25519Identity.generate(), [v.me.user_id])
    v._cases[case.id] = case
    append_case(v, case, "case.created", {"ref": ref, "title": title})
    mirror_members(v, case)
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
    mirror_members(v, case)
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
    version = casekeys.rotate(v, case.id, case.members - gone)
    append_case(v, case, "member.revoked", {"users": sorted(gone), "key_version": version,
                                            "search_seq": _search_mark(v, case.id)})
    casekeys.destroy_wraps(v, case.id, gone)
    mirror_members(v, case)
    return [u for u in users if u.user_id in gone]


def export_key(v, case: Case) -> str:
    """The case identities of every version I hold, as an age identity file."""
    require_role(v, "case-lead", doing="exporting a case key")
    identities = casekeys.require_member(v, case.id)
    lines = ["# refuge case key (every key version); keep it as safe as the documents"]
    lines += [f"# version {n}\n{identity}" for n, identity in sorted(identities.items())]
    v.audit_log.before_plaintext()
    return "\n".join(lines) + "\n"
