"""fsck: check every object a person can check, and repair what interrupted writes left.

A problem is ``{"object", "kind", "message"}`` (and ``"hint"``, a code for
the way out, where there is one). Kinds: ``damaged``, ``bad signature``,
``missing``, ``interrupted move``, ``broken`` (an event refused: its signature, or its author's
authority at its position), ``altered``, ``purge incomplete``, ``unverified key
version`` (a marker no verified event made), ``forged actor`` (audit), and ``leftover``:
something an interrupted write left that was never committed, which
:func:`repair` may remove. Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from . import age, audit, casekeys
from .cases import Case, fold
from .documents import read_document
from .errors import NotFound, NotPermitted, VerificationFailed
from .events import verify_record
from .people import signers
from .storage import read_small

__all__ = ["fsck", "repair", "link_in"]


class _Problems(list):
    def add(self, obj: str, kind: str, message: str, hint: str | None = None) -> None:
        self.append({"object": obj, "kind": kind, "message": message, **({"hint": hint} if hint else {})})


def fsck(v, deep: bool = False) -> list[dict]:
    """Check every object this person can check; returns the problems found.

    Without case keys (admins, auditors) it checks age headers, key-version
    markers and the audit log; for each case the person is a member of it
    also folds every event from the first (ignoring the cache) and checks
    that every document's blob is there, and with ``deep`` that it decrypts
    to its recorded SHA-256. Leftovers of interrupted writes are reported
    with kind ``leftover``: they were never committed and ``repair`` may
    remove them.
    """
    problems = _Problems()
    pubs = signers(v)
    _check_objects(v, problems)
    _check_directory_keys(v, problems)
    _check_purges(v, problems)
    _check_org_copies(v, problems)
    for cid in v.case_ids():
        unmarked = _check_key_versions(v, cid, pubs, problems)
        _judge_unmarked(cid, _check_case(v, cid, deep, problems), unmarked, problems)
    report = audit.verify(v.audit_log, pubs)
    if not report.ok:
        problems.add("audit/", report.problem.kind, report.problem.message)
    return _links_not_leftovers(v, problems)


def link_in(v, obj: str) -> str | None:
    """The part of ``obj`` (a key, a ``prefix/``, ``.tmp/NAME``) that is a symbolic link in a local vault's
    folder, or None. refuge makes no links: one was planted by someone who can write to the folder, and
    deleting through it would delete the files of whoever runs the repair, wherever it points."""
    root = getattr(v.backend, "root", None)
    if not isinstance(root, Path):
        return None  # (S3 has no links)
    path = root
    for part in obj.strip("/").split("/"):
        path = path / part
        if path.is_symlink():
            return str(path.relative_to(root))
    return None


def _links_not_leftovers(v, problems: _Problems) -> list[dict]:
    """Leftovers reached through a planted link become one ``link`` problem per link, which repair never removes."""
    out, links = [], set()
    for p in problems:
        link = link_in(v, p["object"]) if p["kind"] == "leftover" else None
        if link is None:
            out.append(p)
        elif link not in links:
            links.add(link)
            out.append({"object": link, "kind": "link", "message": "a symbolic link in the vault folder, which refuge "
                        "never makes: someone who can write to the folder planted it; nothing was deleted through "
                        "it, remove the link by hand"})
    return out


def _check_org_copies(v, problems: _Problems) -> None:
    """Copies of the organisation signing key held by someone removed (a removal cut off before it deleted
    them, or a copy written back): leftovers, which repair deletes; a copy to someone never enrolled is
    reported, never removed (refuge makes none: it was written outside refuge)."""
    from . import orgkey  # here: vault.core imports this module, and orgkey brings cryptography's x509 and PEM code

    for version in v.backend.children(orgkey.PREFIX):
        for uid in v.backend.children(f"{orgkey.PREFIX}{version}/key/"):
            obj, user = f"{orgkey.PREFIX}{version}/key/{uid}", v.directory.users.get(uid)
            if user is None:
                problems.add(obj, "altered", "a copy of the organisation signing key for someone never enrolled")
            elif user.removed or user.role not in orgkey.HOLDER_ROLES:
                problems.add(obj, "leftover", "a copy of the organisation signing key left for someone removed "
                                              "(a removal cut off before it deleted it)")


def _check_objects(v, problems: _Problems) -> None:
    """Leftover temporary files, and objects that are not age files."""
    for name in v.backend.leftovers():
        problems.add(f".tmp/{name}", "leftover", "a temporary file of an interrupted write")
    for key in list(v.backend.list("directory/")) + list(v.backend.list("cases/")):
        if "/versions/" in key or "/escrow/" in key:  # signed JSON markers; KMS ciphertext blobs
            continue
        with v.backend.get(key) as f:
            try:
                age.read_header(f)
            except age.AgeError:
                problems.add(key, "damaged", "not a valid age file")


def _check_directory_keys(v, problems: _Problems) -> None:
    """Copies of the directory key for someone not enrolled, or removed: an enrolment cut off before its
    event, or a removal before it deleted the copy. Repair deletes them."""
    for uid in v.backend.children("directory/keys/"):
        user = v.directory.users.get(uid)
        if user is None or user.removed:
            who = "someone who is not enrolled" if user is None else f"{user.name}, who was removed"
            problems.add(f"directory/keys/{uid}", "leftover",
                         f"a copy of the directory key for {who} (an enrolment or removal cut off)")


def _check_purges(v, problems: _Problems) -> None:
    for cid, st in sorted(v.directory.cases.items()):
        prefix = casekeys.case_prefix(cid)
        if st.purged_at and any(True for _ in v.backend.list(prefix)):
            problems.add(prefix, "purge incomplete", f"a purge of case {cid} was interrupted; an admin finishes it",
                         hint="case-purge")


def _check_key_versions(v, cid: str, pubs: dict[str, bytes], problems: _Problems) -> list[tuple[str, int]]:
    """Key-version markers signed, and escrow copies where KMS is on; returns the key folders and escrow
    copies with no marker at all, (object, version) (:func:`_judge_unmarked` says whether they are leftovers)."""
    committed = set(casekeys.versions(v, cid))
    for n in v.backend.children(f"cases/{cid}/versions/"):
        try:
            marker = json.loads(read_small(v.backend, f"cases/{cid}/versions/{n}"))
            ok = verify_record(marker, pubs.get(marker.get("author"), b"")) and marker.get("version") == int(n)
        except (ValueError, RecursionError, AttributeError, TypeError, VerificationFailed):  # (planted: too large)
            ok = False
        if not ok:
            problems.add(f"cases/{cid}/versions/{n}", "bad signature", "a key-version marker does not verify")
    marked = set(casekeys.marker_numbers(v, cid))  # (one present but not signed is reported above, never removed)
    unmarked = [(f"cases/{cid}/keys/{n}/", int(n)) for n in v.backend.children(f"cases/{cid}/keys/")
                if n.isdigit() and int(n) not in marked and v.backend.children(f"cases/{cid}/keys/{n}/")]  # (an
    # emptied folder of a local vault is nothing: repair deletes the copies, the folder stays)
    escrowed = {int(n) for n in v.backend.children(f"cases/{cid}/escrow/") if n.isdigit()}
    unmarked += [(f"cases/{cid}/escrow/{n:04d}", n) for n in sorted(escrowed - marked)]
    if v.settings.get("kms"):
        for n in sorted(committed - escrowed):
            problems.add(f"cases/{cid}/escrow/{n:04d}", "missing", "a key version has no KMS escrow copy")
    return unmarked


def _judge_unmarked(cid: str, case: Case | None, unmarked: list[tuple[str, int]], problems: _Problems) -> None:
    """Key folders and escrow copies with no marker: a leftover (which repair removes) only when a member
    folded the case and no verified event made the version; otherwise the marker may have been deleted
    under a version in use, and removing its copies would destroy the case key."""
    for obj, n in unmarked:
        if case is not None and n > case.key_version:
            problems.add(obj, "leftover", "a key version that was never committed")
        else:
            problems.add(obj, "unverified key version",
                         "a key version without its marker: an interrupted rotation, or a marker deleted; "
                         "only a member of the case can tell which")


def _check_case(v, cid: str, deep: bool, problems: _Problems) -> Case | None:
    """A case I am a member of: its events from the first, its blobs, and with ``deep`` their contents.

    Returns the case as folded, or None when I cannot fold it (not mine, broken, or its events gone).
    """
    if cid in v.directory.members and not v.backend.exists(f"cases/{cid}/events/00000001"):
        problems.add(f"cases/{cid}/events/", "missing", f"case {cid}, which the directory lists, has lost its "
                     "events: restore them from a backup (its documents and keys are kept)")
        return None
    try:
        identities = casekeys.case_identities(v, cid)
    except (NotPermitted, NotFound):
        return None
    except VerificationFailed as e:  # my copy of a case key is damaged or was replaced
        problems.add(f"cases/{cid}/keys/", "altered", str(e))
        return None
    if not identities:
        return None  # not mine
    try:
        case = fold(v, cid, identities.values())
    except VerificationFailed as e:
        problems.add(f"cases/{cid}/events/", "broken", str(e))
        return None
    if not case.last_seq:
        problems.add(f"cases/{cid}/", "leftover", "a case whose creation was interrupted before its first event")
        return None
    _check_unverified_versions(v, case, problems)
    if v.me.user_id not in case.members:
        return case
    _check_holders(v, case, problems)
    referenced = {e["blob"] for d in case.documents.values() for e in d.versions}
    referenced |= {e["blob"] for p in case.packets for e in p["volumes"]}
    referenced |= {p["review"]["blob"] for p in case.packets  # review reports
                   if isinstance(p.get("review"), dict) and isinstance(p["review"].get("blob"), str)}
    referenced |= {e["blob"] for e in case.ocr.values()}
    referenced |= {e["blob"] for e in case.renditions.values()}  # office and e-mail renditions (renditions.py)
    present = set(v.backend.children(f"cases/{cid}/blobs/"))
    for blob in sorted(referenced - present):
        problems.add(f"cases/{cid}/blobs/{blob}", "missing", "a recorded document or packet is missing")
    present -= _check_removed(v, case, present, problems)
    for blob in sorted(present - referenced):
        problems.add(f"cases/{cid}/blobs/{blob}", "leftover", "a blob no event records (an interrupted add)")
    if deep:
        _check_contents(v, case, present, problems)
        _check_derived(v, case, present, problems)
    return case


def _check_removed(v, case: Case, present: set[str], problems: _Problems) -> set[str]:
    """Removed documents' blobs (kept under a legal hold; otherwise leftovers repair destroys), and
    moves interrupted after the copy: returns the removed documents' blobs present."""
    from .doclife import removed_blobs

    kept = present & set(removed_blobs(case))
    if kept and not v.directory.status(case.id).hold:
        for blob in sorted(kept):
            problems.add(f"cases/{case.id}/blobs/{blob}", "leftover",
                         "a copy of a removed or moved document, not destroyed yet (an interrupted removal)")
    for d in case.documents.values():
        origin = d.moved_from or {}
        if origin.get("case") not in v.case_ids():
            continue
        with contextlib.suppress(VerificationFailed, NotFound, NotPermitted):  # not mine, or reported on its own
            if casekeys.case_identities(v, origin["case"]):
                source = v.load_case(origin["case"])
                if origin.get("id") in source.documents:
                    problems.add(f"cases/{source.id}/events/", "interrupted move",
                                 f"document {origin.get('id')} was copied to case {case.id} as {d.id}, but its "
                                 "case has not recorded the move; run the move again to finish it", hint="doc-move")
    return kept


def _check_holders(v, case: Case, problems: _Problems) -> None:
    """Copies of a key version in force held by someone who is no member: a grant cut off before its
    event, a revocation before it destroyed them, or a key a member gave outside refuge. No event
    gives it, so no revocation would take it back; repair deletes it."""
    for n in case.key_versions:
        for uid in v.backend.children(f"cases/{case.id}/keys/{n:04d}/"):
            if uid not in case.members:
                problems.add(f"cases/{case.id}/keys/{n:04d}/{uid}", "leftover",
                             f"a copy of key version {n} for {v.directory.name(uid)}, who is not a member of "
                             "the case (a grant or revocation cut off, or a key given outside refuge)")


def _check_unverified_versions(v, case: Case, problems: _Problems) -> None:
    """Key-version markers no verified event made: never used by readers or writers, reported here."""
    for n in casekeys.marker_numbers(v, case.id):
        if n in case.key_versions:
            continue
        marker = casekeys.read_marker(v, case.id, n) or {}
        signer = v.directory.acting(marker.get("author", ""), v.directory.last_seq)
        if signer is not None and signer.user_id in case.members and n > case.key_version:
            # A member's rotation that never reached its event (a revoke killed after its marker): nothing was
            # ever encrypted to it; its copies, escrow copy and marker (last) are leftovers, which repair deletes
            # once a minute old (a rotation in progress takes far less).
            why = "a key version a member began and never committed (a rotation interrupted); never used"
            for obj in (f"cases/{case.id}/keys/{n:04d}/", f"cases/{case.id}/escrow/{n:04d}"):
                if v.backend.children(obj) if obj.endswith("/") else v.backend.exists(obj):
                    problems.add(obj, "leftover", why)
            problems.add(f"cases/{case.id}/versions/{n:04d}", "leftover", why)
        else:
            problems.add(f"cases/{case.id}/versions/{n:04d}", "unverified key version",
                         "signed by someone who is not a member of the case: a key slipped in outside refuge; never used")


def _check_contents(v, case: Case, present: set[str], problems: _Problems) -> None:
    for d in case.documents.values():
        for e in d.versions:
            if e["blob"] not in present:
                continue
            try:
                read_document(v, d, _Discard(), e["version"])
            except VerificationFailed as err:
                problems.add(f"cases/{case.id}/blobs/{e['blob']}", "altered", str(err))


def _check_derived(v, case: Case, present: set[str], problems: _Problems) -> None:
    """Renditions and recognised text: each blob holds what its event recorded (``blob_sha256``)."""
    identities = list(casekeys.case_identities(v, case.id).values())
    entries = [(e, f"the rendition of document {doc}") for doc, e in case.renditions.items()]
    entries += [(e, f"the recognised text of document {e.get('doc')}") for e in case.ocr.values()]
    for entry, what in entries:
        if entry.get("blob_sha256") is None or entry.get("blob") not in present:
            continue
        key = f"cases/{case.id}/blobs/{entry['blob']}"
        try:
            with v.backend.get(key) as f:
                casekeys.check_blob(entry, age.decrypt_bytes(identities, f.read()), what)
        except (VerificationFailed, age.AgeError) as err:
            problems.add(key, "altered", str(err) if isinstance(err, VerificationFailed) else f"{what} does not decrypt")


def repair(v, problems: list[dict]) -> list[str]:
    """Remove the leftovers of interrupted writes that fsck found; returns what was removed.

    Only leftovers older than a minute are touched, so a write still in
    progress in another process is never removed under it; a document's
    blob, only after :data:`BLOB_GRACE` (a web upload stores each file's blob
    as its part ends and records it when the whole body has arrived).
    """
    removed = []
    for p in problems:
        grace = BLOB_GRACE if "/blobs/" in p["object"] else 60
        if p["kind"] != "leftover" or link_in(v, p["object"]) or not old_enough(v, p["object"], grace):
            continue
        obj = p["object"]
        if obj.startswith(".tmp/"):
            v.backend.remove_leftover(obj[5:])
        elif obj.endswith("/"):
            for key in list(v.backend.list(obj)):
                v.backend.delete(key)
        else:
            v.backend.delete(obj)
        removed.append(obj)
    return removed


BLOB_GRACE = 6 * 3600  # seconds: longer than an upload may last (refuge/web/_upload.py UPLOAD_SECONDS)


def old_enough(v, obj: str, seconds: float = 60) -> bool:
    """Whether ``obj`` (a key, a ``prefix/`` or a ``.tmp/`` leftover) was last written over ``seconds`` ago."""
    written = v.backend.modified(obj)
    return written is not None and time.time() - written > seconds


class _Discard:
    """A sink that drops what it is given (fsck --deep reads documents only to check them)."""

    def write(self, data) -> int:
        return len(data)
