"""Documents of a case, and what the case records about them.

Adding, reading and tagging documents; the disclosure records of packets sent;
the cache of recognised text; redaction rules, consent and page reviews. Every
original is an age file encrypted to the case's current key version, stored
byte-exact (``cases/<case>/blobs/<blob>``), and described by signed events.
Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterable

from . import _pipe, age, casekeys, intake
from ._ids import random_id
from .cases import (
    DOC_TYPES,
    Case,
    Document,
    append_case,
    before_write,
    case_ids,
    load_case,
    require_open,
)
from .errors import InvalidInput, NotFound, RefugeError, VerificationFailed
from .events import canonical
from .people import require_role

__all__ = ["AddResult", "Ambiguous", "MIN_PREFIX", "find_document", "add_documents", "read_document", "document_bytes", "tag",
           "record_packet", "find_packet", "packet_bytes", "review_bytes", "add_redaction", "remove_redaction",
           "record_consent", "mark_reviewed", "ocr_results", "save_ocr"]


@dataclass
class AddResult:
    """The outcome of adding one file of a batch."""

    path: str
    document: Document | None = None
    error: RefugeError | None = None


#: The shortest prefix of a document id accepted in place of the whole id (as git does).
MIN_PREFIX = 4


class Ambiguous(InvalidInput):
    """A typed document id that more than one document of my cases starts with."""

    def __init__(self, message: str, candidates: list[Document], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.candidates = candidates


def find_document(v, doc_id: str) -> tuple[Case, Document]:
    """A document of one of my cases, with its case: by its id, or by a unique prefix.

    A prefix (at least :data:`MIN_PREFIX` characters) may start the whole id or
    the document's own part (its short id, after the case id). A full id of a
    case I am in is read from that case alone; a shorter one searches my cases.
    Raises NotFound (none, or removed), Ambiguous (several), NotPermitted.
    """
    typed = doc_id.strip().lower()
    case_id, sep, rest = typed.partition("-")
    if sep and case_id in case_ids(v):
        case = load_case(v, case_id)
        doc = case.documents.get(typed)
        if doc is not None:
            return case, doc
        if typed in case.removed:
            raise NotFound(f"document {typed} was {_gone(case.removed[typed])}", hint="doc-list-removed")
        found = [(case, d) for d in case.documents.values() if rest and d.id.startswith(typed)]
    elif len(typed) < MIN_PREFIX or sep:
        raise NotFound(f"no document {doc_id}", hint="doc-list")
    else:
        found = [(c, d) for c in v.cases() for d in c.documents.values()
                 if d.id.startswith(typed) or d.short_id.startswith(typed)]
    if not found:
        raise NotFound(f"no document {doc_id}", hint="doc-list")
    if len(found) > 1:
        shown = ", ".join(d.short_id for _, d in found[:10]) + (", ..." if len(found) > 10 else "")
        raise Ambiguous(f"{len(found)} documents start with {typed}: {shown}", [d for _, d in found],
                        hint="doc-prefix")
    return found[0]


def _gone(doc: Document) -> str:
    return "moved to another case" if (doc.removal or {}).get("moved_to") else "removed"


# --- adding ------------------------------------------------------------------------------


def add_documents(
    v,
    case: Case,
    paths: list[str],
    type: str,
    tags: Iterable[str] = (),
    person: str | None = None,
    lang: str | None = None,
    title: str | None = None,
    translation_of: str | None = None,
    supersedes: str | None = None,
    limit: int = intake.DEFAULT_LIMIT,
    translator: str | None = None,
    dialect: str | None = None,
    attached_to: str | None = None,
    labels: list[str] | None = None,
    date: str | None = None,
    check: Callable[[str, str], None] | None = None,
    stored: dict | None = None,
) -> list[AddResult]:
    """Add files to a case; each succeeds or fails alone and a failure leaves no trace.

    ``attached_to`` names the message (a document of the case) the files were attached to;
    ``labels`` names each file in errors instead of "file N" (never a secret: a caller's choice);
    ``date`` is the date the documents bear (YYYY-MM-DD), kept apart from when they were added;
    ``check(path, sha256)``, called once the file is stored and before anything is committed, may
    refuse it by raising (a duplicate: doclife.watch_duplicates), and the stored copy is deleted;
    ``stored`` maps a path to the :class:`vault.receiving.Stored` of a file received as a stream
    (an upload: already encrypted, hashed and checked by intake), recorded instead of reading the path.
    """
    require_role(v, "lawyer", "case-lead", doing="adding documents")
    casekeys.require_member(v, case.id)
    require_open(v, case.id)
    if type not in DOC_TYPES:
        raise InvalidInput(f"unknown document type {type}; use one of {', '.join(DOC_TYPES)}")
    if translation_of and translation_of not in case.documents:
        raise InvalidInput(f"the document it translates, {translation_of}, is not a document of this case",
                           hint="translation-of")
    if supersedes and supersedes not in case.documents:
        raise InvalidInput(f"the document it replaces, {supersedes}, is not a document of this case",
                           hint="supersedes")
    if supersedes and len(paths) != 1:
        raise InvalidInput("a new version of a document takes exactly one file", hint="supersedes-one")
    if (translator or dialect) and not translation_of:
        raise InvalidInput("a translator and a dialect describe a translation; name the document it translates too",
                           hint="translation-of")
    if attached_to and attached_to not in case.documents:
        raise InvalidInput(f"the message {attached_to} is not a document of this case", hint="doc-list")
    before_write(v, case)
    results = []
    for i, path in enumerate(paths, 1):
        label = f"file {i}" if len(paths) > 1 else "the file"
        label = labels[i - 1] if labels else label
        try:
            results.append(AddResult(path, _add_one(v, case, path, label, type, list(tags), person, lang, title,
                                                    translation_of, supersedes, limit, translator, dialect,
                                                    attached_to, date=date, check=check,
                                                    stored=(stored or {}).get(path))))
        except RefugeError as e:
            results.append(AddResult(path, error=e))
    return results


def _add_one(v, case, path, label, type, tags, person, lang, title, translation_of, supersedes, limit,
             translator=None, dialect=None, attached_to=None, date=None, check=None, stored=None) -> Document:
    if stored is not None:  # received as a stream (vault.receiving): stored and checked as it arrived
        if stored.error is not None:
            raise stored.error
        version, blob, found, digest, size = (stored.key_version, stored.blob, stored.inspection, stored.sha256,
                                              stored.size)
    else:
        version, recipient = casekeys.current_recipient(v, case.id)
        blob = random_id(15)
        found, digest, size = _inspect_and_store(v, f"cases/{case.id}/blobs/{blob}", path, recipient, limit, label)
    if size != found.size:
        v.backend.delete(f"cases/{case.id}/blobs/{blob}")  # never committed: leave no trace
        raise InvalidInput(f"{label} changed while it was being added; add it again")
    if check is not None:
        try:
            check(path, digest)
        except BaseException:
            v.backend.delete(f"cases/{case.id}/blobs/{blob}")  # refused before the commit: leave no trace
            raise
    filename = os.path.basename(path)
    if supersedes:
        old = case.documents[supersedes]
        doc_id, number = old.id, old.version + 1
        meta = {"type": type or old.type, "title": title or old.title, "tags": sorted(set(old.tags) | set(tags)),
                "person": person or old.person, "lang": lang or old.lang,
                "translation_of": translation_of or old.translation_of}
    else:
        doc_id, number = f"{case.id}-{random_id(5)}", 1
        meta = {"type": type, "title": title or os.path.splitext(filename)[0], "tags": sorted(set(tags)),
                "person": person, "lang": lang, "translation_of": translation_of}
    if translator:
        meta.update(translator=translator, dialect=dialect)
    if attached_to:
        meta.update(attached_to=attached_to)
    if date:
        meta["date"] = date
    data = {"id": doc_id, "version": number, "blob": blob, "key_version": version, "filename": filename,
            "size": size, "sha256": digest, "mime": found.mime, "flags": list(found.flags), **meta}

    def rewrap(new_version: int) -> dict:
        # A member was revoked during the upload: never commit under the old version. The blob's
        # header is rewritten to wrap the same file key to the new version; the payload is copied.
        identities = casekeys.case_identities(v, case.id)
        data["blob"] = casekeys.rewrap_blob(v, case.id, data["blob"], identities.values(),
                                            identities[new_version].recipient)
        data["key_version"] = new_version
        return data

    if stored is not None and not v.backend.exists(f"cases/{case.id}/blobs/{blob}"):
        raise NotFound(f"{label} was removed from the vault while the upload went on (a repair of leftovers?); "
                       "add it again")
    try:
        append_case(v, case, "doc.added", data, key_version=version, rewrap=rewrap)
    except BaseException:
        v.backend.delete(f"cases/{case.id}/blobs/{data['blob']}")  # never committed: leave no trace
        raise
    if stored is not None:
        stored.blob = None  # recorded: the document's now, never discarded with the upload's leftovers
    return case.documents[doc_id]


def _inspect_and_store(v, key: str, path: str, recipient, limit: int, label: str) -> tuple[intake.Inspection, str, int]:
    """Intake's check (in the keyless worker) and the encrypted store of the same file, side by side.

    The worker starts first and inspects the file while this process encrypts
    it into ``key``; a refusal deletes the stored copy before it is raised, so
    nothing is left behind. Only a regular file within ``limit`` is stored
    alongside (opened without following a link, and read no further than
    ``limit``); anything else is inspected first, alone, and refused there.
    Returns (inspection, SHA-256, size); a size of -1 means the file changed.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        fd = None
    if fd is not None:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit or v.backend.parallel_upload:
            os.close(fd)
            fd = None
    if fd is None:  # not a plain file (intake refuses it), too large, or stored in parts (S3): check first
        found = intake.inspect_isolated(path, limit, label)
        digest, size = _store_blob(v, key, path, recipient, label)
        return found, digest, size
    import concurrent.futures  # here, not at the top: it brings logging, a cost of every command (vault._pipe)

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="refuge-intake") as pool:
        checking = pool.submit(intake.inspect_isolated, path, limit, label)
        found = []
        try:
            with open(fd, "rb", buffering=0) as src:  # intake's verdict before the writer commits: a refusal
                digest, size = _store_from(v, key, _bounded(_readable(src.readinto, label), limit + 1), recipient,  # or a kill
                                           before_commit=lambda: found.append(checking.result()))  # stores nothing
        except BaseException:  # a writer that fails stores nothing; the worker is waited for (its limits bound it)
            with contextlib.suppress(Exception):
                checking.result()
            raise
    return found[0], digest, size


def _bounded(read_into: Callable[[memoryview], int], most: int) -> Callable[[memoryview], int]:
    """``read_into`` that stops after ``most`` bytes (a file that grows while read is not read forever)."""
    left = [most]

    def read(view: memoryview) -> int:
        if left[0] <= 0:
            return 0
        n = read_into(view[:left[0]] if len(view) > left[0] else view)
        left[0] -= n
        return n

    return read


def _readable(read_into: Callable[[memoryview], int], label: str) -> Callable[[memoryview], int]:
    """``read_into`` whose failure (a failing disk or USB stick: EIO) is one line naming the file by
    ``label`` and the system's reason, never its path; nothing is stored."""
    def read(view: memoryview) -> int:
        try:
            return read_into(view)
        except OSError as e:
            raise InvalidInput(f"{label} could not be read ({(e.strerror or type(e).__name__).lower()}): nothing was "
                               "stored; check the disk or device it is on and add it again") from None

    return read


def _store_from(v, key: str, read_into: Callable[[memoryview], int], recipient,
                before_commit: Callable[[], None] | None = None) -> tuple[str, int]:
    """Encrypt what ``read_into`` gives into ``key``, hashing it on another thread; returns (SHA-256, size).

    ``before_commit`` runs once the encrypted copy is complete and before the writer commits it:
    if it raises, nothing is stored."""
    sha = hashlib.sha256()
    # before_commit runs once the copy is on disk (the fsync overlaps intake's check) and before it appears
    with v.backend.writer(key, before_commit) if before_commit else v.backend.writer(key) as dst:
        enc = age.Encryptor([recipient], dst)
        size = _pipe.hashed(read_into, sha.update, enc.write)  # hashed on a 2nd core, encrypted here
        enc.close()  # only after a complete read: the final chunk marks the end
    return sha.hexdigest(), size


def _store_blob(v, key: str, path: str, recipient, label: str) -> tuple[str, int]:
    """Encrypt a file into the vault, hashing it on another thread; returns (SHA-256, size).

    A size of -1 means the file changed while it was read.
    """
    if v.backend.parallel_upload:
        return _store_blob_in_parts(v, key, path, recipient)
    with open(path, "rb", buffering=0) as src:
        return _store_from(v, key, _readable(src.readinto, label), recipient)


def _store_blob_in_parts(v, key: str, path: str, recipient) -> tuple[str, int]:
    """S3: parts encrypted as they are sent, several at once and none held in memory
    (age.EncryptedFile); the file is hashed alongside and must not change meanwhile."""
    with open(path, "rb", buffering=0) as src:
        fd = src.fileno()
        before = os.fstat(fd)
        encrypted = age.EncryptedFile([recipient], fd, before.st_size)
        sha = hashlib.sha256()

        def hash_all() -> int:
            pos = 0
            while chunk := os.pread(fd, 256 * 1024, pos):
                sha.update(chunk)
                pos += len(chunk)
            return pos

        import concurrent.futures  # see above

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            hashed = pool.submit(hash_all)
            try:
                v.backend.put_ranges(key, encrypted.size, encrypted.reader)
            except age.PayloadError:  # a chunk came back short: the file shrank
                return sha.hexdigest(), -1
            size = hashed.result()
        after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != before.st_size:
        v.backend.delete(key)  # never committed: leave no trace
        return sha.hexdigest(), -1
    return sha.hexdigest(), size


# --- reading and tagging -----------------------------------------------------------------


def read_document(v, doc: Document, dst: BinaryIO, version: int | None = None) -> None:
    """Decrypt a document into ``dst``, checking its SHA-256 as it streams."""
    identities = casekeys.require_member(v, doc.case_id)
    entry = doc.versions[-1] if version is None else next(
        (e for e in doc.versions if e["version"] == version), None)
    if entry is None:
        raise NotFound(f"document {doc.id} has no version {version}; it has {len(doc.versions)}")
    sha = hashlib.sha256()
    v.audit_log.before_plaintext()  # a read is recorded before any plaintext leaves
    with v.backend.get(f"cases/{doc.case_id}/blobs/{entry['blob']}") as src:
        try:
            with age.Decryptor(list(identities.values()), src) as dec:
                _pipe.tee(dec.readinto, [sha.update, dst.write])
        except age.AgeError:
            raise VerificationFailed(f"document {doc.id} does not decrypt: its stored copy was damaged or altered") from None
    if sha.hexdigest() != entry["sha256"]:
        raise VerificationFailed(f"document {doc.id} does not match its recorded SHA-256: it was altered")


def document_bytes(v, doc: Document) -> bytes:
    """A document's latest version, decrypted in memory (never on disk)."""
    buf = io.BytesIO()
    read_document(v, doc, buf)
    return buf.getvalue()


def tag(v, doc_id: str, add: Iterable[str], remove: Iterable[str]) -> Document:
    """Add and remove tags of a document (lawyers and case leads who are members)."""
    require_role(v, "lawyer", "case-lead", doing="tagging documents")
    case, doc = find_document(v, doc_id)
    add, remove = sorted(set(add)), sorted(set(remove))
    if not add and not remove:
        raise InvalidInput("nothing to change", hint="tag-change")
    before_write(v, case)
    append_case(v, case, "doc.tagged", {"id": doc.id, "add": add, "remove": remove})
    return case.documents[doc.id]


# --- disclosure records --------------------------------------------------------------------


def record_packet(v, case: Case, volumes: list[bytes], record: dict, review: bytes | None = None) -> dict:
    """Store a built packet's exact bytes (encrypted) and its manifest in the case.

    ``review``, the build's review report (packets/review.py), is stored beside the volumes, encrypted
    the same way, so that the case lead can read it again from the packet history (:func:`review_bytes`).
    """
    casekeys.require_member(v, case.id)
    require_open(v, case.id)
    before_write(v, case)
    stored = []
    kept = {}
    try:
        for n, data in enumerate(volumes, 1):
            blob, version = casekeys.store_bytes(v, case.id, data)
            stored.append({"volume": n, "blob": blob, "key_version": version, "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()})
        if review is not None:
            blob, version = casekeys.store_bytes(v, case.id, review)
            kept = {"review": {"blob": blob, "key_version": version, "size": len(review),
                               "sha256": hashlib.sha256(review).hexdigest()}}
        packet_id = f"{case.id}-p{random_id(5)}"
        append_case(v, case, "packet.built", dict(record, id=packet_id, volumes=stored, **kept),
                    key_version=stored[0]["key_version"] if stored else None)
    except BaseException:
        for entry in stored + list(kept.values()):  # never committed (e.g. a revocation meanwhile): leave no trace
            v.backend.delete(f"cases/{case.id}/blobs/{entry['blob']}")
        raise
    return case.packets[-1]


def find_packet(v, packet_id: str) -> tuple[Case, dict]:
    """A recorded packet of one of my cases, by id, with its case."""
    case_id = packet_id.partition("-")[0]
    if case_id not in case_ids(v):
        raise NotFound(f"no packet {packet_id}", hint="packet-history")
    case = load_case(v, case_id)
    for p in case.packets:
        if p["id"] == packet_id:
            return case, p
    raise NotFound(f"no packet {packet_id}", hint="packet-history")


def packet_bytes(v, case: Case, packet: dict, volume: int = 1) -> bytes:
    """The exact bytes of one volume of a recorded packet."""
    identities = casekeys.require_member(v, case.id)
    entry = next((e for e in packet["volumes"] if e["volume"] == volume), None)
    if entry is None:
        raise NotFound(f"packet {packet['id']} has no volume {volume}; it has {len(packet['volumes'])}")
    return _recorded_blob(v, case, identities, entry, f"packet {packet['id']}")


def _recorded_blob(v, case: Case, identities, entry: dict, what: str) -> bytes:
    """A blob a packet record names, decrypted in memory and checked against its recorded SHA-256."""
    with v.backend.get(f"cases/{case.id}/blobs/{entry['blob']}") as src:
        try:
            data = age.decrypt_bytes(list(identities.values()), src.read())
        except age.AgeError:
            raise VerificationFailed(f"{what} does not decrypt: it was altered") from None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise VerificationFailed(f"{what} does not match its recorded SHA-256")
    v.audit_log.before_plaintext()
    return data


def review_bytes(v, case: Case, packet: dict) -> bytes:
    """The review report kept with a recorded packet (for the case lead, never sent), decrypted in memory.

    Raises:
        NotFound: the packet was recorded without one (built before reports were kept).
        VerificationFailed: the stored report was altered.
    """
    identities = casekeys.require_member(v, case.id)
    entry = packet.get("review")
    if not isinstance(entry, dict) or not isinstance(entry.get("blob"), str):
        raise NotFound(f"packet {packet['id']} was recorded without its review report")
    return _recorded_blob(v, case, identities, entry, f"the review report of packet {packet['id']}")


# --- redaction rules, consent, reviews -------------------------------------------------------


def add_redaction(v, case: Case, rule: dict) -> dict:
    """Record a redaction rule: a term with a category, or a region of a document page.

    The rules are secret (they name what must not leak), so they live only in
    the case's encrypted events.
    """
    require_role(v, "lawyer", "case-lead", doing="adding redaction rules")
    casekeys.require_member(v, case.id)
    if rule["kind"] == "term" and len(str(rule.get("text", "")).strip()) < 2:
        raise InvalidInput("a redaction term needs at least 2 characters")
    if rule["kind"] == "region" and rule["doc"] not in case.documents:
        raise InvalidInput(f"{rule['doc']} is not a document of this case", hint="doc-list")
    before_write(v, case)
    append_case(v, case, "redaction.added", dict(rule, id=f"r{random_id(5)}"))
    return case.redactions[-1]


def remove_redaction(v, case: Case, rule_id: str) -> None:
    """Remove a redaction rule by id."""
    require_role(v, "lawyer", "case-lead", doing="removing redaction rules")
    if not any(r["id"] == rule_id for r in case.redactions):
        raise NotFound(f"no redaction rule {rule_id}", hint="redact-list")
    before_write(v, case)
    append_case(v, case, "redaction.removed", {"id": rule_id})


def record_consent(v, case: Case, action: str, recipient: str, docs: Iterable[str] = (),
                   expires: str | None = None, note: str = "") -> dict:
    """Record that the person gave (``granted``) or took back (``withdrawn``) consent."""
    require_role(v, "case-lead", doing="recording consent")
    casekeys.require_member(v, case.id)
    docs = sorted(set(docs))
    for d in docs:
        if d not in case.documents:
            raise InvalidInput(f"the consent names {d}, which is not a document of this case", hint="consent-doc")
    before_write(v, case)
    data = {"recipient": recipient, "docs": docs}
    if action == "granted":
        data.update(expires=expires, note=note)
    append_case(v, case, f"consent.{action}", data)
    return case.consents[-1]


def mark_reviewed(v, doc_id: str, pages: Iterable[int], count_pages: Callable[[Document], int] | None = None,
                  version: int | None = None) -> tuple[Case, Document, list[int]]:
    """Record that I looked at these pages of a document's latest version (case leads).

    ``count_pages(doc)``, when given, says how many pages the document has; ``version``, when given,
    is the version the person looked at: a newer one added meanwhile is refused, never marked unseen.
    """
    require_role(v, "case-lead", doing="marking pages reviewed")
    case, doc = find_document(v, doc_id)
    if version is not None and version != doc.version:
        raise InvalidInput(f"{doc.id} has a newer version ({doc.version}) than the one reviewed ({version}); "
                       "review its pages again", hint="review-page")
    pages = sorted(set(pages))
    if not pages or any(p < 1 for p in pages):
        raise InvalidInput("give the pages reviewed (1 or more)", hint="review-page")
    if count_pages is not None and pages[-1] > (n := count_pages(doc)):
        raise InvalidInput(f"{doc.id} has {n} page{'s' if n != 1 else ''}; give pages 1 to {n}", hint="review-page")
    before_write(v, case)
    for page in pages:
        append_case(v, case, "redaction.reviewed", {"doc": doc.id, "version": doc.version, "page": page})
    return case, doc, pages


# --- recognised text -----------------------------------------------------------------------


def ocr_results(v, case: Case) -> dict[str, dict]:
    """Recognition results kept in the case: key -> {page index: words}, decrypted in memory."""
    identities = casekeys.require_member(v, case.id)
    out = {}
    for key, entry in case.ocr.items():
        try:
            with v.backend.get(f"cases/{case.id}/blobs/{entry['blob']}") as f:
                data = age.decrypt_bytes(list(identities.values()), f.read())
        except (NotFound, age.AgeError):
            continue  # a damaged cache entry is recognised again
        casekeys.check_blob(entry, data, f"the recognised text of document {entry.get('doc')}")
        try:
            out[key] = json.loads(data)
        except (ValueError, RecursionError):
            continue
    return out


def save_ocr(v, case: Case, results: dict[str, dict], docs: dict[str, str]) -> None:
    """Keep new recognition results in the case, encrypted like documents (``docs``: key -> doc id)."""
    if not results or v.directory.status(case.id).closed_at:
        return  # a closed case takes no new events; plans of it recognise again
    casekeys.require_member(v, case.id)
    before_write(v, case)
    for key, pages in results.items():
        if key in case.ocr:
            continue
        data = canonical(pages)
        blob, version = casekeys.store_bytes(v, case.id, data)
        try:
            append_case(v, case, "ocr.cached", {"key": key, "doc": docs.get(key, ""), "blob": blob,
                                                "blob_sha256": hashlib.sha256(data).hexdigest()},
                        key_version=version)
        except BaseException:
            v.backend.delete(f"cases/{case.id}/blobs/{blob}")
            raise
