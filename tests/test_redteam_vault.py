"""Red team: an insider with write access to the storage, a second local user, killed processes.

Each test is an attack the way the attacker works: raw writes to the vault's objects
(``World.replace_object``, on the folder and on S3 through moto), objects signed by hand with
the attacker's own enrolled key, a second REFUGE_HOME. What tests/test_insider.py,
test_tamper.py and test_crash.py already prove is not repeated here. Each attack must end in
a refusal (exit 3 or 4, one line naming the problem, nothing written) or a detection.
"""

from __future__ import annotations

import email.message
import json
import os
import shutil
import sys
import time

import pytest

from conftest import peak_rss_mib
from vault import age
from vault.events import canonical, sign_record


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


def _opens_anything(w, case_id: str, identities) -> list[str]:
    """The blobs and events of the case that decrypt with ``identities``."""
    opened = []
    for key in w.object_names():
        if key.startswith((f"cases/{case_id}/blobs/", f"cases/{case_id}/events/")):
            try:
                age.decrypt_bytes(list(identities), w.read_object(key))
                opened.append(key)
            except age.AgeError:
                continue
    return opened


# --- a planted wrap of the case key ----------------------------------------------------------------


@pytest.mark.parametrize("how", [pytest.param("his own key", marks=pytest.mark.slow), "the old version's copy"])
def test_a_wrap_replaced_by_a_revoked_member_is_never_encrypted_to(case_world, how):
    """bob, revoked from the case but still enrolled, replaces carol's copy of the new key version
    with a key of his own wrapped to carol's public recipient (anyone can encrypt to it), or just
    copies carol's copy of version 1, which he holds too, over it. carol must not encrypt her next
    document or event to it."""
    w = case_world
    cid = _case_id(w)
    w.ok("case", "grant", "MX-0001", "carol", user="erin")
    held = list(w.open("bob")._case_identities(cid).values())  # what bob keeps from before
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    opened = set(_opens_anything(w, cid, held))
    carol = w.open("carol")
    rogue = age.X25519Identity.generate()
    if how == "his own key":
        planted = age.encrypt_bytes([carol.me.age_identity.recipient], f"{rogue}\n".encode())
    else:
        planted = w.read_object(f"cases/{cid}/keys/0001/{carol.me.user_id}")
    w.replace_object(f"cases/{cid}/keys/0002/{carol.me.user_id}", planted)
    before = [k for k in w.object_names() if k.startswith("cases/")]
    p = w.run("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="carol")
    assert [k for k in w.object_names() if k.startswith("cases/")] == before  # nothing written, not even a blob
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1, p.stderr
    assert b"key version 2" in p.stderr and b"replaced" in p.stderr
    assert not _opens_anything(w, cid, [rogue]) and set(_opens_anything(w, cid, held)) == opened
    problems = json.loads(w.run("fsck", "--json", user="carol").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(f"cases/{cid}/keys/", "altered")]


# --- fsck --repair made to destroy what is real --------------------------------------------------


def _age(path, seconds: float = 7 * 3600) -> None:
    """Date ``path`` and everything below it ``seconds`` back (the attacker writes the folder too)."""
    old = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (old, old))


def _repair(w, user: str) -> tuple[int, dict]:
    p = w.run("fsck", "--repair", "--json", user=user)
    return p.returncode, json.loads(p.stdout)


@pytest.mark.local_only("dates the vault's folders back, as an old vault's are")
@pytest.mark.parametrize("how", ["signed", "junk", "deleted"])
def test_a_garbled_marker_does_not_make_repair_destroy_the_key_version(case_world, how):
    """carol, enrolled but no member, overwrites the marker of the case's only key version with her
    own signed one. Restoring that one small file would undo it; fsck --repair must not turn it
    into the loss of every wrapped copy of the case key."""
    w = case_world
    cid = _case_id(w)
    carol = w.open("carol")
    marker = json.loads(w.read_object(f"cases/{cid}/versions/0001"))
    if how == "deleted":
        w.delete_object(f"cases/{cid}/versions/0001")
    else:
        forged = sign_record(carol.me, dict(marker, members=[])) if how == "signed" else b"{"
        w.replace_object(f"cases/{cid}/versions/0001", canonical(forged) if how == "signed" else forged)
    _age(w.vault / "cases" / cid)
    wraps = sorted(k for k in w.object_names() if k.startswith(f"cases/{cid}/keys/"))
    assert _repair(w, "alice")[1]["removed"] == []  # an admin, who cannot fold the case
    code, report = _repair(w, "erin")
    assert code == 3 and report["removed"] == [], report
    assert sorted(k for k in w.object_names() if k.startswith(f"cases/{cid}/keys/")) == wraps
    w.replace_object(f"cases/{cid}/versions/0001", canonical(marker))  # the marker restored from a backup
    assert w.run("doc", "get", w.decl, "-o", str(w.root / "back.pdf"), user="bob").returncode == 0


@pytest.mark.local_only("dates the vault's folders back, as an old vault's are")
def test_a_case_whose_events_were_deleted_is_not_removed_by_repair(case_world):
    """carol deletes every event of the case: the documents are still age files the members' keys
    open (keys/README.md). fsck --repair must not take the case for an interrupted creation."""
    w = case_world
    cid = _case_id(w)
    for k in w.object_names():
        if k.startswith(f"cases/{cid}/events/"):
            w.delete_object(k)
    _age(w.vault / "cases" / cid)
    before = sorted(k for k in w.object_names() if k.startswith(f"cases/{cid}/"))
    for user in ("alice", "erin"):  # an admin sees the case in the directory; erin, a member, folds it
        code, report = _repair(w, user)
        assert code == 3 and report["removed"] == [], report
        assert [pr["kind"] for pr in report["problems"]] == ["missing"], report
    assert sorted(k for k in w.object_names() if k.startswith(f"cases/{cid}/")) == before


# --- objects in the clear, planted by whoever holds the storage ------------------------------------

NESTED = b"[" * 200_000 + b"]" * 200_000  # deeper than any JSON parser's recursion


def _next_audit_key(w) -> str:
    last = max(k for k in w.object_names() if k.startswith("audit/"))
    shard, seq = last.split("/")[1:]  # (the case world holds 3 entries: the next is 4)
    return f"audit/{shard}/{int(seq) + 1:012d}"


PLANTS = [pytest.param(where, body, id=f"{where}-{name}") for where in ("marker", "audit", "settings", "org")
          for name, body in (("nested", NESTED), ("list", b"[]"), ("wrong", b'{"version": 1, "case": 7}'))
          if (where, name) != ("settings", "wrong")]  # (a settings object of another shape: "not a refuge vault", exit 1)


@pytest.mark.s3_in_stress("parsing what is read; tests/test_s3.py covers raw writes to the bucket")
@pytest.mark.parametrize(("where", "body"), PLANTS)
def test_a_planted_clear_object_is_a_verification_failure(case_world, where, body):
    """Someone holding the storage (no key needed) writes a key-version marker, the next audit
    entry, the organisation key's marker or the vault's settings as JSON nested deeper than a parser recurses, a list, or an
    object of the wrong shape: a one-line refusal (exit 3) naming it, never an internal error."""
    w = case_world
    cid = _case_id(w)
    key = {"marker": f"cases/{cid}/versions/0002", "audit": _next_audit_key(w), "settings": "vault",
           "org": "org/0001/marker"}[where]
    w.replace_object(key, body)
    args = {"marker": ("doc", "list", "MX-0001"), "audit": ("audit", "verify"), "settings": ("doc", "list", "MX-0001"),
            "org": ("keys", "org", "show")}
    p = w.run(*args[where], user="dave" if where == "audit" else "erin")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1, (p.returncode, p.stderr)
    assert {"marker": b"key version 2", "audit": b"entry 4", "settings": b"settings",
            "org": b"organisation key"}[where] in p.stderr


# --- derived blobs swapped in the storage -----------------------------------------------------------


def _eml(path, subject: str, body: str):
    m = email.message.EmailMessage()
    m["From"], m["To"], m["Date"] = "a@example.org", "b@example.org", "Mon, 01 Jun 2026 10:00:00 +0000"
    m["Subject"] = subject
    m.set_content(body)
    path.write_bytes(m.as_bytes())
    return path


@pytest.mark.s3_in_stress("the check is the reader's; the raw write is the same on both backends")
def test_a_rendition_swapped_for_another_documents_is_refused(case_world, tmp_path):
    """Someone holding the storage (no key) copies the rendition of message B (not to be sent) over
    the rendition of message A: a search index rebuilt, or a packet built, from it would show B's
    words as A. Every reader must refuse it, and fsck --deep name it."""
    w = case_world
    a = w.ok("doc", "add", "MX-0001", str(_eml(tmp_path / "a.eml", "Hearing", "Meeting at the clinic on Monday.")),
             "--type", "correspondence", user="bob").strip()
    b = w.ok("doc", "add", "MX-0001", str(_eml(tmp_path / "b.eml", "Shelter", "Safe house on Marigold street.")),
             "--type", "correspondence", user="bob").strip()
    case = w.open("bob").find_case("MX-0001")
    blob_a, blob_b = (f"cases/{case.id}/blobs/{case.renditions[d]['blob']}" for d in (a, b))
    w.replace_object(blob_a, w.read_object(blob_b))
    p = w.run("search", "--reindex", "MX-0001", user="erin")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1 and a.encode() in p.stderr, p.stderr
    hits = w.run("search", "Marigold", "--json", user="erin")
    assert a not in {h["doc"] for h in json.loads(hits.stdout or b"[]")}
    problems = json.loads(w.run("fsck", "--deep", "--json", user="erin").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(blob_a, "altered")]


@pytest.mark.s3_in_stress("the check is the reader's; the raw write is the same on both backends")
def test_recognised_text_swapped_for_another_documents_is_refused(case_world):
    """Recognised text is what the build searches scanned pages with for the words to redact: the
    words of another page copied over it would leave a name on the scan unboxed."""
    from vault.errors import VerificationFailed

    w = case_world
    erin = w.open("erin")
    case = erin.find_case("MX-0001")
    page = {"width": 100, "height": 100, "words": [{"text": "Amina", "box": [1, 1, 9, 9], "conf": 90, "line": [1, 1, 1]}]}
    erin.save_ocr(case, {"k1": {"0": page}, "k2": {"0": dict(page, words=[])}}, {"k1": w.decl, "k2": w.decl})
    case = w.open("erin").find_case("MX-0001")
    one, two = (f"cases/{case.id}/blobs/{case.ocr[k]['blob']}" for k in ("k1", "k2"))
    w.replace_object(one, w.read_object(two))
    with pytest.raises(VerificationFailed, match="recognised text .* was altered"):
        w.open("erin").ocr_results(case)
    problems = json.loads(w.run("fsck", "--deep", "--json", user="erin").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(one, "altered")]


# --- a copy of the case key for someone who is no member ---------------------------------------------


@pytest.mark.s3_in_stress("fsck lists the same children on both backends (tests/test_s3.py covers its listing)")
@pytest.mark.parametrize("how", ["killed grant", "member gives"])
def test_a_copy_of_the_case_key_for_a_non_member_is_reported_and_repaired(case_world, how):
    """A grant killed after it wrapped the case key to carol but before its event, or bob (a lawyer
    member) wrapping the key he holds to carol with a raw write: carol holds a key no event gives
    her, which no revocation would ever take back (she is no member to revoke). fsck names it and
    --repair deletes it."""
    from vault import casekeys

    w = case_world
    cid = _case_id(w)
    carol = w.open("carol").directory.by_name("carol")
    key = f"cases/{cid}/keys/0001/{carol.user_id}"
    if how == "killed grant":  # the grant's own first step, and then nothing: the process was killed
        erin = w.open("erin")
        casekeys.wrap_versions(erin, cid, casekeys.case_identities(erin, cid), carol)
    else:
        bob = w.open("bob")
        identity = bob._case_identities(cid)[1]
        w.storage().put(key, age.encrypt_bytes([carol.public.age_recipient], f"{identity}\n".encode()))
    problems = json.loads(w.run("fsck", "--json", user="erin").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(key, "leftover")], problems
    assert "carol" in problems[0]["message"] and "not a member" in problems[0]["message"]
    if w.backend == "local":
        _age(w.vault / "cases" / cid / "keys")
        code, report = _repair(w, "erin")
        assert code == 0 and report["removed"] == [key]
        assert key not in w.object_names()


# --- an audit entry whose bytes say more than its parse ----------------------------------------------


@pytest.mark.s3_in_stress("how an entry's bytes are parsed; tests/test_s3.py covers entries written to the bucket")
def test_an_audit_entry_with_a_duplicate_key_is_refused_by_verify(case_world):
    """carol signs an entry whose stored bytes name alice as author first and herself second
    (Python's parser keeps the last, others the first): a reader that keeps the first would
    show alice's action. audit verify must refuse what audit log refuses: bytes that are not
    the canonical form of what they parse to."""
    import base64
    import hashlib

    from vault import _crypto
    from vault.audit import _aad, entry_key

    w = case_world
    carol = w.open("carol")
    alice_id = carol.directory.by_name("alice").user_id
    log = carol.audit_log
    seq = log.last() + 1
    body = canonical({"actor": carol.me.user_id, "action": "doc.get", "result": "ok", "host": "x"})
    sealed = base64.b64encode(_crypto.seal(log._key, body, _aad(seq))).decode()
    prev = hashlib.sha256(log.raw(seq - 1)).hexdigest()
    unsigned = (f'{{"author":"{alice_id}","author":"{carol.me.user_id}","prev":"{prev}","sealed":"{sealed}",'
                f'"seq":{seq},"time":"2026-12-01T00:00:00Z","v":1}}').encode()
    sig = base64.b64encode(carol.me.sign(unsigned)).decode()
    raw = unsigned.replace(b',"time"', f',"sig":"{sig}","time"'.encode())
    w.storage().put(entry_key(seq), raw)
    assert w.run("audit", "log", "--json", user="dave").returncode == 3
    p = w.run("audit", "verify", user="dave")
    assert p.returncode == 3 and f"entry {seq}".encode() in p.stderr, p.stderr


# --- a second local user ---------------------------------------------------------------------------


@pytest.mark.local_only("about REFUGE_HOME on this machine, whatever the vault's backend")
def test_a_home_others_can_write_to_is_refused_before_anything_follows_a_planted_link(world):
    """REFUGE_HOME was made by hand with a mode that lets another local user write to it (or that
    user made it). He links config.json.tmp to a file of the victim's: the next command that
    records the directory's head would truncate it (and he could swap config.json's pinned
    anchors). Refuse such a home, naming it, before reading or writing anything in it."""
    w = world
    other = w.root / "alice-laptop"  # alice on her own machine: the directory moves, erin's home records it next
    shutil.copytree(w.home, other)
    assert w.run("user", "remove", "carol", user="alice", REFUGE_HOME=str(other)).returncode == 0
    victim = w.root / "thesis.txt"
    victim.write_text("two years of work")
    os.chmod(w.home, 0o777)
    (w.home / "config.json.tmp").symlink_to(victim)
    p = w.run("user", "list", user="erin")
    assert victim.read_text() == "two years of work"
    assert p.returncode == 4 and len(p.stderr.splitlines()) == 1 and b"REFUGE_HOME" in p.stderr, p.stderr
    os.chmod(w.home, 0o700)
    (w.home / "config.json.tmp").unlink()
    assert w.run("user", "list", user="erin").returncode == 0


@pytest.mark.s3_in_stress("the check is the reader's; the raw write is the same on both backends")
def test_two_documents_blobs_swapped_are_refused_and_nothing_is_written(case_world):
    """The declaration's blob replaced by the medical report's (both valid age files to the case key):
    doc get refuses, and its -o file is never made."""
    w = case_world
    med = w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob").strip()
    case = w.open("bob").find_case("MX-0001")
    decl, medical = (f"cases/{case.id}/blobs/{case.documents[d].blob}" for d in (w.decl, med))
    w.replace_object(decl, w.read_object(medical))
    out = w.root / "declaration.pdf"
    p = w.run("doc", "get", w.decl, "-o", str(out), user="bob")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1 and not out.exists(), p.stderr
    p = w.run("search", "--reindex", "MX-0001", user="erin")
    assert p.returncode == 3, p.stderr


@pytest.mark.local_only("links in a vault folder others may write to")
@pytest.mark.parametrize("where", [".tmp", "keys/0009"])
def test_repair_never_deletes_through_a_link_planted_in_the_vault_folder(case_world, where):
    """A vault folder shared with other people (a group folder, a network share): one of them
    replaces .tmp, or adds a key folder, with a link to a folder of erin's own. fsck --repair, run
    by erin, must delete nothing of hers through it, and name the link."""
    w = case_world
    cid = _case_id(w)
    mine = w.root / "erin-documents"
    mine.mkdir()
    (mine / "thesis.txt").write_text("two years of work")
    (mine / ("0" * 24)).write_text("named like a temporary file")
    _age(mine)
    link = w.vault / ".tmp" if where == ".tmp" else w.vault / "cases" / cid / "keys" / "0009"
    shutil.rmtree(link, ignore_errors=True)
    link.symlink_to(mine)
    code, report = _repair(w, "erin")
    assert sorted(p.name for p in mine.iterdir()) == sorted(["thesis.txt", "0" * 24]), report
    assert code == 3 and report["removed"] == []
    assert any(pr["kind"] == "link" for pr in report["problems"]), report


@pytest.mark.local_only("links in a vault folder others may write to")
def test_a_purge_never_deletes_through_a_link_planted_for_the_case_folder(case_world):
    """The case is closed and an admin purges it; just before, someone who can write to the shared
    vault folder moves the case folder into a folder of alice's and leaves a link in its place:
    the purge would delete every file under alice's folder. Refused, nothing deleted, and the
    case is not recorded purged."""
    w = case_world
    cid = _case_id(w)
    w.ok("case", "close", "MX-0001", user="erin")
    mine = w.root / "alice-files"
    mine.mkdir()
    (mine / "payroll.ods").write_text("alice's")
    (w.vault / "cases" / cid).rename(mine / "case")
    (w.vault / "cases" / cid).symlink_to(mine)
    p = w.run("case", "purge", cid, "--yes", user="alice")
    assert (mine / "payroll.ods").exists() and any((mine / "case").rglob("*"))
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1 and b"link" in p.stderr, p.stderr
    assert not w.open("alice").directory.status(cid).purged_at


@pytest.mark.s3_in_stress("the check is the recovery's; KMS is the same server on both backends")
@pytest.mark.vault_options(kms=True)
def test_a_kms_escrow_copy_replaced_with_a_planted_key_is_refused_at_recovery(case_world):
    """Every writer of a KMS vault may call kms:Encrypt (each new key version is escrowed). bob,
    revoked, escrows a key of his own as version 2 under the right encryption context. An admin's
    recovery to carol must refuse it, not wrap it to her as the case key."""
    from vault import casekeys

    w = case_world
    cid = _case_id(w)
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    bob = w.open("bob")
    rogue = age.X25519Identity.generate()
    w.replace_object(f"cases/{cid}/escrow/0002", casekeys.escrow(bob).encrypt(bob.id, cid, 2, str(rogue)))
    p = w.run("case", "recover", cid, "--to", "carol", user="alice")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1 and b"escrow" in p.stderr, p.stderr
    assert not [k for k in w.object_names() if k.startswith(f"cases/{cid}/keys/") and k.endswith(
        w.open("carol").me.user_id)]


@pytest.mark.s3_in_stress("the check is the reader's; tests/test_s3.py covers raw writes to the bucket")
def test_a_directory_key_replaced_by_a_planted_one_stops_every_command_and_writes_nothing(case_world):
    """Anyone can encrypt to erin's public recipient: her copy of the directory key replaced by a
    key of the attacker's would seal her audit entries and her directory events to him. Every
    command of hers stops (exit 3, naming the directory key) before anything is written."""
    w = case_world
    erin = w.open("erin")
    rogue = age.X25519Identity.generate()
    w.replace_object(f"directory/keys/{erin.me.user_id}",
                     age.encrypt_bytes([erin.me.age_identity.recipient], f"{rogue}\n".encode()))
    before = w.object_names()
    p = w.run("case", "hold", "MX-0001", "--reason", "court order 12", user="erin")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1 and b"directory key" in p.stderr, p.stderr
    assert w.object_names() == before


# --- stored audit checkpoints ---------------------------------------------------------------------


@pytest.mark.s3_in_stress("the choice of checkpoint is the verifier's; tests/test_s3.py covers the bucket's checkpoints")
def test_a_checkpoint_planted_in_the_vault_neither_breaks_nor_masks_audit_verify(case_world):
    """carol, a lawyer, stores a checkpoint she signed claiming a log of 999,999,999,999 entries,
    and someone with no key a garbage one: they sort after the auditor's own, and under S3 Object
    Lock could never be removed. audit verify must not call the log truncated for them, and the
    auditor's stored checkpoint must still catch a real truncation."""
    from vault import audit

    w = case_world
    w.ok("audit", "verify", "--save-checkpoint", str(w.root / "cp"), user="dave")
    carol = w.open("carol")
    forged = audit.sign_checkpoint(carol.id, 999_999_999_999, b"\0" * 32, carol.me)
    w.storage().put(f"audit-checkpoints/999999999999-{carol.me.user_id}", forged.encode())
    w.storage().put("audit-checkpoints/999999999999-zzzzzzzzzzzzzzzzz", b"not a checkpoint")
    p = w.run("audit", "verify", user="dave")
    assert p.returncode == 0, p.stderr
    for key in sorted(k for k in w.object_names() if k.startswith("audit/"))[2:]:
        w.delete_object(key)  # the insider cuts the log below the auditor's checkpoint (3 entries)
    p = w.run("audit", "verify", "--json", user="dave")
    assert p.returncode == 3 and json.loads(p.stdout)["problem"]["kind"] == "truncated", p.stdout


@pytest.mark.s3_in_stress("fsck lists the same children on both backends (tests/test_s3.py covers its listing)")
@pytest.mark.parametrize("how", ["enrolment killed", "removal killed"])
def test_a_directory_key_left_to_someone_not_enrolled_is_reported_and_repaired(case_world, how):
    """user add wraps the directory key to the newcomer, then records the enrolment; user remove
    records the removal, then deletes the copy. Killed in between, someone not (or no longer)
    enrolled holds the directory key: every enrolment, membership and hold, and the audit log's
    sealing key. fsck names the copy and --repair deletes it."""
    from vault.identity import SecretIdentity
    from vault.people import append_directory

    w = case_world
    alice = w.open("alice")
    if how == "enrolment killed":  # add_user's first step, and then nothing
        newcomer = SecretIdentity.generate("frank").public
        uid = newcomer.user_id
        w.storage().put(f"directory/keys/{uid}",
                        age.encrypt_bytes([newcomer.age_recipient], f"{alice._dir_identity}\n".encode()))
    else:  # remove_user's first step, and then nothing
        uid = alice.directory.by_name("carol").user_id
        append_directory(alice, "user.removed", {"user_id": uid})
    problems = json.loads(w.run("fsck", "--json", user="dave").stdout)["problems"]
    assert [(pr["object"], pr["kind"]) for pr in problems] == [(f"directory/keys/{uid}", "leftover")], problems
    if w.backend == "local":
        _age(w.vault / "directory" / "keys")
        code, report = _repair(w, "dave")
        assert code == 0 and report["removed"] == [f"directory/keys/{uid}"], report


# --- an object planted too large to read --------------------------------------------------------


def test_an_event_planted_larger_than_refuge_writes_is_refused_unread(case_world):
    """An insider writes the case's next event as an object of 16 MiB and a byte, more than refuge
    ever writes in an event: every member's command would read it whole. It is refused by its size,
    named, on the folder and on S3."""
    from vault.storage import EVENT_MOST

    w = case_world
    cid = _case_id(w)
    events = sorted(k for k in w.object_names() if k.startswith(f"cases/{cid}/events/"))
    nxt = int(events[-1].rsplit("/", 1)[1]) + 1
    w.replace_object(f"cases/{cid}/events/{nxt:08d}", b"\0" * (EVENT_MOST + 1))
    p = w.run("doc", "list", "MX-0001", user="erin")
    assert p.returncode == 3 and len(p.stderr.splitlines()) == 1, p.stderr
    assert f"cases/{cid}/events/{nxt:08d}".encode() in p.stderr and b"planted" in p.stderr


@pytest.mark.local_only("sparse files: a gibibyte on disk that costs nothing to plant")
def test_objects_planted_a_gibibyte_large_cost_their_readers_no_memory(case_world):
    """The insider's gibibyte (a sparse file) as the case's next event, its key-version marker, the next
    audit entry and the vault's settings: each command that meets it stops with one line, and no
    process reads more than a few MiB of it (peak RSS far below the object's size)."""
    from vault.audit import entry_key

    w = case_world
    cid = _case_id(w)

    def last(prefix: str) -> int:
        return max(int(k.rsplit("/", 1)[1]) for k in w.object_names() if k.startswith(prefix))

    plants = [  # (where, what meets it), each read afresh: every command adds an audit entry
        (lambda: f"cases/{cid}/events/{last(f'cases/{cid}/events/') + 1:08d}", ("doc", "list", "MX-0001")),
        (lambda: f"cases/{cid}/versions/0001", ("doc", "list", "MX-0001")),
        (lambda: entry_key(last("audit/") + 1), ("audit", "verify")),
        (lambda: "vault", ("case", "list")),
    ]
    for where, command in plants:
        key = where()
        path = w.vault.joinpath(*key.split("/"))
        saved = path.read_bytes() if path.exists() else None
        path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.truncate(1 << 30)
        p, rss = peak_rss_mib([sys.executable, "-P", "-m", "refuge", *command],
                              w.env("dave" if command[0] == "audit" else "erin"), w.root)
        assert p.returncode == 3 and len(p.stderr.splitlines()) == 1, (key, p.stderr)
        assert rss < 150, (key, rss)  # MiB (about 72 here): reading it whole would be over 1,024
        path.unlink()
        if saved is not None:
            path.write_bytes(saved)


# --- a revoke killed after its marker ------------------------------------------------------------


@pytest.mark.local_only("repair waits a minute after the last write: the objects are dated back on disk")
def test_a_rotation_killed_after_its_marker_is_repaired_and_the_revoke_runs_again(case_world):
    """erin's revoke of bob is killed after the new key version's copies and marker are written and
    before its event (the state left, made through the library: the same objects). Nothing is ever
    encrypted to that version; fsck names its objects as leftovers and repair removes them, so the
    case is clean again and the revoke, run again, makes the version afresh."""
    from vault import casekeys

    w = case_world
    cid = _case_id(w)
    erin = w.open("erin")
    members = set(erin.load_case(cid).members)
    casekeys.rotate(erin, cid, members - {erin.directory.by_name("bob").user_id})
    w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="erin")  # not to version 2
    report = json.loads(w.run("fsck", "--json", user="erin").stdout)["problems"]
    assert [(p["object"], p["kind"]) for p in report] == [
        (f"cases/{cid}/keys/0002/", "leftover"), (f"cases/{cid}/versions/0002", "leftover")]
    _age(w.vault / "cases" / cid, 3600)
    w.ok("fsck", "--repair", user="erin")
    assert not [k for k in w.object_names() if "/0002" in k and k.startswith(f"cases/{cid}/")]
    assert json.loads(w.run("fsck", "--json", user="erin").stdout)["problems"] == []
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    assert w.open("erin").load_case(cid).key_version > 1
    assert w.run("fsck", "--json", user="erin").returncode == 0
