"""A document's life after it is added: duplicates, editing, removing, moving.

    doc.edited   {"id", "set": {title|type|person|lang|date: value}, "add": [tag], "remove": [tag]}
    doc.removed  {"id", "reason"}           a tombstone, by a case lead who is a member
    doc.moved    {"id", "to", "as"}         the tombstone a move leaves in the source case; the
                                            target case holds a doc.added with "moved_from" and
                                            "history" (every earlier version), written first

A removed or moved-away document leaves the case's documents (and so
listings, consent, packets and search) for ``case.removed``. Its blobs (every
version, and its recognised text) are then destroyed: deleted from storage,
after which nothing the vault holds opens them. While the case is on legal
hold they are kept; :func:`shred_removed` destroys them once the hold is
released (the next removal or move in the case runs it, and fsck reports
them as leftovers that its repair removes). Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from typing import Iterable

from . import _pipe, age, casekeys
from ._ids import random_id
from .cases import VERSION_FIELDS, DOC_TYPES, Case, Document, append_case, before_write, require_open
from .documents import find_document
from .errors import InvalidInput, NotFound, VerificationFailed
from .people import refresh_directory, require_role

__all__ = ["Duplicates", "find_duplicates", "watch_duplicates", "file_sha256", "edit", "remove", "move", "shred_removed",
           "removed_blobs", "kept_blobs"]

EDITABLE = ("title", "type", "person", "lang", "date")


# --- duplicates ------------------------------------------------------------------------------


@dataclass
class Duplicates:
    """What a batch of files repeats, found before anything is stored."""

    digests: dict[str, str] = field(default_factory=dict)  # path -> SHA-256 (readable files only)
    in_case: dict[str, Document] = field(default_factory=dict)  # path -> the document of the case it repeats
    in_batch: dict[str, str] = field(default_factory=dict)  # path -> the earlier path of the batch it repeats
    elsewhere: dict[str, list[tuple[Case, Document]]] = field(default_factory=dict)  # path -> my other cases'
    # what watch_duplicates knows before any file is read: SHA-256 -> the case's, my other cases', the batch's
    _known: dict[str, Document] = field(default_factory=dict, repr=False)
    _others: dict[str, list[tuple[Case, Document]]] = field(default_factory=dict, repr=False)
    _seen: dict[str, str] = field(default_factory=dict, repr=False)

    def refused(self, path: str) -> bool:
        """Whether adding ``path`` would add a file the case (or the batch) already holds."""
        return path in self.in_case or path in self.in_batch

    def see(self, path: str, digest: str) -> None:
        """Record a file's SHA-256 as it is stored (:func:`watch_duplicates`): what it repeats, if anything."""
        if path in self.digests:
            return
        self.digests[path] = digest
        if digest in self._known:
            self.in_case[path] = self._known[digest]
        elif digest in self._seen:
            self.in_batch[path] = self._seen[digest]
        self._seen.setdefault(digest, path)
        if digest in self._others:
            self.elsewhere[path] = self._others[digest]


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a file, or None if it cannot be read or intake will refuse it anyway (a symbolic
    link or anything but a regular file, a name with control characters: never followed or read here)."""
    import stat
    import unicodedata

    name = os.path.basename(path)
    if any(unicodedata.category(c) == "Cc" for c in name):
        return None
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def find_duplicates(v, case: Case, paths: Iterable[str], other_cases: bool = False) -> Duplicates:
    """Which files are already in the case (any version of a document it holds), repeat an earlier
    file of the batch, or (with ``other_cases``) are in another of my cases. Nothing is stored.

    ``other_cases`` reads every case of mine: its cost grows with them.
    """
    casekeys.require_member(v, case.id)
    known = {e["sha256"]: d for d in case.documents.values() for e in d.versions}
    others: dict[str, list[tuple[Case, Document]]] = {}
    if other_cases:
        for c in v.cases():
            if c.id != case.id:
                for d in c.documents.values():
                    others.setdefault(d.sha256, []).append((c, d))
    out, seen = Duplicates(), {}
    for path in paths:
        digest = file_sha256(path)
        if digest is None:
            continue
        out.digests[path] = digest
        if digest in known:
            out.in_case[path] = known[digest]
        elif digest in seen:
            out.in_batch[path] = seen[digest]
        seen.setdefault(digest, path)
        if digest in others:
            out.elsewhere[path] = others[digest]
    return out


def watch_duplicates(v, case: Case, other_cases: bool = False) -> Duplicates:
    """:func:`find_duplicates` without reading any file first: each file's SHA-256, computed as it is
    stored, is given to :meth:`Duplicates.see` (``add_documents(check=...)``), which a caller may then
    refuse before anything is committed. One pass over each file instead of two.
    """
    casekeys.require_member(v, case.id)
    out = Duplicates()
    out._known = {e["sha256"]: d for d in case.documents.values() for e in d.versions}
    if other_cases:
        for c in v.cases():
            if c.id != case.id:
                for d in c.documents.values():
                    out._others.setdefault(d.sha256, []).append((c, d))
    return out


# --- editing ---------------------------------------------------------------------------------


def edit(v, doc_id: str, changes: dict, add: Iterable[str] = (), remove: Iterable[str] = ()) -> tuple[Case, Document]:
    """Change a document's title, type, person, language, date and tags (lawyers and case leads who are members).

    ``changes`` maps fields of :data:`EDITABLE` to new values; ``""`` clears the
    person, the language or the date. Unchanged values are left out of the event.
    """
    require_role(v, "lawyer", "case-lead", doing="editing documents")
    case, doc = find_document(v, doc_id)
    casekeys.require_member(v, case.id)
    require_open(v, case.id)
    new = {}
    for k, value in changes.items():
        if k not in EDITABLE or value is None:
            continue
        value = " ".join(value.split()) if k != "date" else value.strip()
        if k in ("title", "type") and not value:
            raise InvalidInput(f"a document's {k} cannot be empty")
        if k == "type" and value not in DOC_TYPES:
            raise InvalidInput(f"unknown document type {value}; use one of {', '.join(DOC_TYPES)}")
        if k == "date" and value:
            value = check_date(value)
        if (value or None) != getattr(doc, k):
            new[k] = value or None
    add, remove = sorted(set(add) - set(doc.tags)), sorted(set(remove) & set(doc.tags))
    if not new and not add and not remove:
        raise InvalidInput("nothing to change", hint="edit-change")
    before_write(v, case)
    append_case(v, case, "doc.edited", {"id": doc.id, "set": new, "add": add, "remove": remove})
    return case, case.documents[doc.id]


def check_date(value: str) -> str:
    """A document's date, YYYY-MM-DD (what the document bears: not after today, and not before 1900)."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value} is not a date; write it YYYY-MM-DD") from None
    if not dt.date(1900, 1, 1) <= day <= dt.date.today() + dt.timedelta(days=1):
        raise InvalidInput(f"{value} is not a date a document can bear; write the date on the document")
    return day.isoformat()


# --- removing ----------------------------------------------------------------------------------


def remove(v, doc_id: str, reason: str) -> tuple[Case, Document, bool]:
    """Remove a document (case leads who are members): a tombstone with the reason, in the case's
    encrypted events; then its blobs are destroyed unless the case is on legal hold.

    Returns the case, the removed document and whether its blobs were kept (a hold).
    """
    require_role(v, "case-lead", doing="removing documents")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("a removal needs a reason", hint="remove-reason")
    case, doc = find_document(v, doc_id)
    casekeys.require_member(v, case.id)
    require_open(v, case.id)
    before_write(v, case)
    append_case(v, case, "doc.removed", {"id": doc.id, "reason": reason})
    shred_removed(v, case)
    return case, case.removed[doc.id], held(v, case.id)


def held(v, case_id: str) -> bool:
    """Whether a legal hold stands on the case now (the directory is read again first)."""
    refresh_directory(v)
    return bool(v.directory.status(case_id).hold)


def removed_blobs(case: Case) -> list[str]:
    """The blobs of every removed or moved-away document of the case: versions and recognised text."""
    return [e["blob"] for d in case.removed.values() for e in d.versions] + \
           [b for d in case.removed.values() for b in (d.removal or {}).get("ocr", [])]


def kept_blobs(v, case: Case) -> set[str]:
    """The blobs of removed documents still in storage (kept under a hold, or not destroyed yet)."""
    present = set(v.backend.children(f"cases/{case.id}/blobs/"))
    return {b for b in removed_blobs(case) if b in present}


def shred_removed(v, case: Case) -> int:
    """Destroy the blobs of the case's removed documents, unless a legal hold stands; returns how many."""
    if held(v, case.id):
        return 0
    kept = kept_blobs(v, case)
    for blob in sorted(kept):
        v.backend.delete(f"cases/{case.id}/blobs/{blob}")
    return len(kept)


# --- moving ------------------------------------------------------------------------------------


def move(v, doc_id: str, target: Case) -> tuple[Case, Document, Document]:
    """Move a document, every version, to another case (case leads who are members of both).

    Each version is decrypted and encrypted again, with a new file key, to the
    target's current key version (the source's keys open nothing of the copy),
    and recorded in the target under a new id, in one event that names where it
    came from. Only then does the source record the move (a tombstone) and
    destroy its copies (unless on legal hold). A move interrupted between the
    two is finished by running it again: the copy already made is found by its
    origin and not made twice. Returns the source case, the tombstone and the moved document.
    """
    require_role(v, "case-lead", doing="moving documents")
    source, doc = find_document(v, doc_id)
    if target.id == source.id:
        raise InvalidInput(f"{doc.short_id} is already in that case")
    for c in (source, target):
        casekeys.require_member(v, c.id)
        require_open(v, c.id)
    before_write(v, source)
    before_write(v, target)
    origin = {"case": source.id, "id": doc.id}
    moved = next((d for d in target.documents.values() if d.moved_from == origin), None)
    if moved is None:
        moved = _copy_in(v, source, doc, target)
    append_case(v, source, "doc.moved", {"id": doc.id, "to": target.id, "as": moved.id})
    shred_removed(v, source)
    return source, source.removed[doc.id], moved


def _copy_in(v, source: Case, doc: Document, target: Case) -> Document:
    """Every version of ``doc`` encrypted anew to ``target``, then one doc.added event there."""
    identities = list(casekeys.require_member(v, source.id).values())
    version, recipient = casekeys.current_recipient(v, target.id)
    entries: list[dict] = []
    try:
        for e in doc.versions:
            blob = random_id(15)
            _reencrypt(v, f"cases/{source.id}/blobs/{e['blob']}", f"cases/{target.id}/blobs/{blob}",
                       identities, recipient, e["sha256"], doc)
            entries.append(dict({k: e[k] for k in VERSION_FIELDS}, blob=blob, key_version=version))
        data = dict(entries[-1], id=f"{target.id}-{random_id(5)}", flags=list(doc.flags), type=doc.type,
                    title=doc.title, tags=list(doc.tags), person=doc.person, lang=doc.lang, date=doc.date,
                    moved_from={"case": source.id, "id": doc.id}, history=entries[:-1])
        if doc.translator:
            data.update(translator=doc.translator, dialect=doc.dialect)

        def rewrap(new_version: int) -> dict:
            # A member of the target was revoked meanwhile: wrap every copy's file key to the new version.
            ids = casekeys.case_identities(v, target.id)
            for entry in entries:
                entry["blob"] = casekeys.rewrap_blob(v, target.id, entry["blob"], ids.values(),
                                                     ids[new_version].recipient)
                entry["key_version"] = new_version
            data.update(entries[-1], history=entries[:-1])
            return data

        append_case(v, target, "doc.added", data, key_version=version, rewrap=rewrap)
    except BaseException:
        for entry in entries:  # never committed: leave no trace in the target
            v.backend.delete(f"cases/{target.id}/blobs/{entry['blob']}")
        raise
    return target.documents[data["id"]]


def _reencrypt(v, src: str, dst: str, identities, recipient, sha256: str, doc: Document) -> None:
    """Decrypt one stored version and encrypt it to ``recipient`` with a new file key, checking its SHA-256."""
    sha = hashlib.sha256()
    try:
        with v.backend.get(src) as f, v.backend.writer(dst) as out:
            with age.Decryptor(identities, f) as dec:
                enc = age.Encryptor([recipient], out)
                _pipe.tee(dec.readinto, [sha.update, enc.write])
                if sha.hexdigest() != sha256:
                    raise VerificationFailed(f"document {doc.id} does not match its recorded SHA-256: it was altered")
                enc.close()
    except age.AgeError:
        raise VerificationFailed(f"document {doc.id} does not decrypt: its stored copy was damaged or altered") from None
    except NotFound:
        raise NotFound(f"a stored version of document {doc.id} is missing", hint="fsck") from None
