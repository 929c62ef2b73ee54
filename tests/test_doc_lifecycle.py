"""A document's life after it is added: remove, edit, move, duplicates, ids people type.

Written the way an attacker or a hurried user would work: events signed by hand and
planted in storage, a copy of the source case's key kept before a move, the same file
added twice, a move cut off half-way. Every test runs on a folder and on S3 (moto).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from conftest import ACCEPT_GAPS, holds, require_tool
from vault import age
from vault.events import canonical, now, sign_record


def _cid(w) -> str:
    return w.decl.partition("-")[0]


def _ids(w, ref="MX-0001", user="erin", *extra) -> list[str]:
    return [d["id"] for d in json.loads(w.ok("doc", "list", ref, "--json", *extra, user=user))]


def _blobs(w, case_id: str) -> set[str]:
    return {k.rsplit("/", 1)[1] for k in w.object_names() if k.startswith(f"cases/{case_id}/blobs/")}


def _plant(w, who: str, type: str, data: dict) -> None:
    """Sign an event as ``who`` with the case key they hold, and write it straight into storage."""
    attacker = w.open(who)
    cid = _cid(w)
    case = attacker.load_case(cid)
    identity = attacker._case_identities(cid)[case.key_version]
    record = sign_record(attacker.me, {"seq": case.last_seq + 1, "prev": case.last_digest, "type": type,
                                       "time": now(), "data": data, "case": cid, "dir": attacker.directory.last_seq})
    w.storage().put(f"cases/{cid}/events/{case.last_seq + 1:08d}", age.encrypt_bytes([identity.recipient], canonical(record)))


# --- remove ----------------------------------------------------------------------------------------


@pytest.mark.s3_in_stress("a planted event is refused by its signer's role; raw event writes to S3 are in tests/test_insider.py")
def test_lawyer_cannot_remove_and_a_removal_he_signs_himself_is_refused_on_read(case_world):
    w = case_world
    p = w.run("doc", "remove", w.decl, "--reason", "mistake", user="bob")
    assert p.returncode == 4 and w.decl in _ids(w)
    _plant(w, "bob", "doc.removed", {"id": w.decl, "reason": "hiding evidence"})
    for who in ("erin", "bob"):
        p = w.run("doc", "list", "MX-0001", user=who)
        assert p.returncode == 3 and b"is refused" in p.stderr and b"lawyer" in p.stderr
    assert w.run("doc", "get", w.decl, "-o", "x.pdf", user="erin").returncode == 3
    assert len(_blobs(w, _cid(w))) == 1  # nothing was destroyed


@pytest.mark.s3_in_stress("a rule of the application; removal on S3 is in the legal-hold and move tests")
def test_removed_document_leaves_listings_reads_packets_and_search(case_world, tmp_path):
    w = case_world
    medical = w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob").strip()
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    before = _blobs(w, _cid(w))
    assert w.decl in w.ok("search", "Ciudad Ficticia", "--json", user="bob")
    segments = [k for k in w.object_names() if k.startswith(f"cases/{_cid(w)}/search/")]
    out = w.ok("doc", "remove", w.decl[:20], "--reason", "uploaded to the wrong case by Zuleika", user="erin")
    assert "destroyed" in out
    after = [k for k in w.object_names() if k.startswith(f"cases/{_cid(w)}/search/")]
    assert len(after) == len(segments) + 1  # the removal is recorded in the index too
    assert _ids(w) == [medical]
    assert len(before - _blobs(w, _cid(w))) == 1  # the declaration's blob is gone from storage
    p = w.run("doc", "get", w.decl, "-o", str(tmp_path / "d.pdf"), user="bob")
    assert p.returncode == 1 and b"was removed" in p.stderr and not (tmp_path / "d.pdf").exists()
    plan = json.loads(w.ok("packet", "plan", "MX-0001", "--for", "irb-rpd-disclosure", "--json", user="erin"))
    assert w.decl not in json.dumps(plan) and medical in json.dumps(plan)
    w.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "--allow-incomplete", "-o",
         str(tmp_path / "p.pdf"), user="erin")
    sent = json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))[-1]["documents"]
    assert [d["id"] for d in sent] == [medical]
    p = w.run("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", "--doc", w.decl, user="erin")
    assert p.returncode == 1
    assert w.decl not in w.ok("search", "Ciudad Ficticia", "--json", user="bob")
    rows = json.loads(w.ok("doc", "list", "MX-0001", "--removed", "--json", user="erin"))
    assert [r["id"] for r in rows] == [w.decl] and rows[0]["reason"] == "uploaded to the wrong case by Zuleika"
    assert rows[0]["copies"] == "destroyed" and rows[0]["removed_by"] == "erin"
    assert w.run("doc", "list", "MX-0001", "--removed", user="bob").returncode == 4
    # the reason is in the case's encrypted events only: not in the audit log, not in the storage's bytes
    assert b"Zuleika" not in w.run("audit", "log", "--json", user="alice").stdout
    assert not holds(w.vault_bytes(), b"Zuleika")
    entries = json.loads(w.ok("audit", "log", "--action", "doc.remove", "--json", user="alice"))
    assert entries and entries[-1]["doc"] == w.decl and entries[-1]["result"] == "ok"


def test_removal_under_legal_hold_keeps_the_copies_until_the_hold_is_released(case_world):
    w = case_world
    medical = w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob").strip()
    w.ok("case", "hold", "MX-0001", "--reason", "court order 2026-17", user="erin")
    before = _blobs(w, _cid(w))
    assert "legal hold" in w.ok("doc", "remove", w.decl, "--reason", "duplicate scan", user="erin")
    assert _blobs(w, _cid(w)) == before
    rows = json.loads(w.ok("doc", "list", "MX-0001", "--removed", "--json", user="erin"))
    assert rows[0]["copies"] == "kept (legal hold)"
    assert w.run("fsck", user="erin").returncode == 0  # kept on purpose: nothing for repair to remove
    w.ok("case", "hold", "MX-0001", "--release", user="erin")
    p = w.run("fsck", "--json", user="erin")
    problems = json.loads(p.stdout)["problems"]
    assert any(pr["kind"] == "leftover" and "removed" in pr["message"] for pr in problems)
    w.ok("doc", "remove", medical, "--reason", "not needed", user="erin")
    assert _blobs(w, _cid(w)) == set()  # the next removal destroyed both


# --- edit and document dates ---------------------------------------------------------------------


@pytest.mark.s3_in_stress("a rule of the application")
def test_edit_changes_fields_and_tags_for_members_only(case_world):
    w = case_world
    short = w.decl.partition("-")[2]
    w.ok("doc", "edit", short[:5], "--title", "Declaration (signed)", "--type", "identity", "--date", "2019-03-04",
         "--tag", "urgent", "--lang", "es", user="bob")
    d = json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))[0]
    assert (d["title"], d["type"], d["date"], d["tags"], d["lang"]) == ("Declaration (signed)", "identity",
                                                                          "2019-03-04", ["urgent"], "es")
    w.ok("doc", "edit", w.decl, "--untag", "urgent", "--date", "", user="bob")
    d = json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))[0]
    assert d["tags"] == [] and d["date"] is None
    assert w.run("doc", "edit", w.decl, user="bob").returncode == 1  # nothing to change
    assert w.run("doc", "edit", w.decl, "--date", "2019-02-30", user="bob").returncode == 1
    assert w.run("doc", "edit", w.decl, "--title", "x", user="carol").returncode == 4  # not a member
    entries = json.loads(w.ok("audit", "log", "--action", "doc.edit", "--json", user="alice"))
    assert entries and "Declaration (signed)" not in json.dumps(entries)


@pytest.mark.packet_content("what the build makes of the documents")
def test_packet_index_shows_the_document_date(keyed_world, tmp_path):
    w = keyed_world  # with the organisation's key
    w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", "--date", "2018-11-23", user="bob")
    w.ok("consent", "grant", "MX-0001", "--recipient", "ccvt-intake", user="erin")
    out = tmp_path / "ccvt.pdf"
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ccvt-intake", "--allow-incomplete", "-o", str(out),
         user="erin")
    text = subprocess.run([require_tool("pdftotext"), "-layout", str(out), "-"], capture_output=True,
                          check=True).stdout.decode()
    assert "2018-11-23" in text  # the profile's index has a date column: the document's own date
    assert "date" in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))[1]


# --- move ----------------------------------------------------------------------------------------


def test_move_re_encrypts_to_the_target_and_the_source_key_opens_nothing(case_world, tmp_path):
    w = case_world
    original = w.docs["declaration"].read_bytes()
    w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--supersedes", w.decl, "--type", "legal-declaration",
         user="bob")  # two versions: both move
    w.ok("case", "create", "MX-0002", user="erin")
    w.ok("case", "grant", "MX-0002", "bob", user="erin")
    key = tmp_path / "source.key"
    w.ok("case", "export-key", "MX-0001", "-o", str(key), user="erin")  # what a source member kept
    assert w.run("doc", "move", w.decl, "--to", "MX-0002", user="bob").returncode == 4  # a lawyer of both cannot
    new = w.ok("doc", "move", w.decl, "--to", "MX-0002", user="erin").strip()
    target = new.partition("-")[0]
    assert new != w.decl and _ids(w, "MX-0002") == [new] and w.decl not in _ids(w)
    w.ok("doc", "get", new, "--version", "1", "-o", str(tmp_path / "v1.pdf"), user="erin")
    assert (tmp_path / "v1.pdf").read_bytes() == original
    w.ok("doc", "get", new, "-o", str(tmp_path / "v2.pdf"), user="erin")
    assert (tmp_path / "v2.pdf").read_bytes() == w.docs["medical"].read_bytes()
    assert _blobs(w, _cid(w)) == set()  # the source destroyed its copies
    found = w.ok("search", "assessment", "--json", user="erin")  # the latest version is the medical report's text
    assert new in found and w.decl not in found
    age_cli = require_tool("age")
    for blob in _blobs(w, target):
        (tmp_path / "blob").write_bytes(w.read_object(f"cases/{target}/blobs/{blob}"))
        p = subprocess.run([age_cli, "-d", "-i", str(key), str(tmp_path / "blob")], capture_output=True)
        assert p.returncode != 0 and not p.stdout
    rows = json.loads(w.ok("doc", "list", "MX-0001", "--removed", "--json", user="erin"))
    assert rows[0]["moved_to"] == f"MX-0002 as {new}"
    assert w.run("doc", "get", w.decl, "-o", str(tmp_path / "x"), user="erin").returncode == 1
    assert w.run("fsck", user="erin").returncode == 0


def test_a_move_cut_off_after_the_copy_is_explained_by_fsck_and_finished_by_running_it_again(case_world):
    from vault import doclife

    w = case_world
    w.ok("case", "create", "MX-0002", user="erin")
    erin = w.open("erin")
    source, doc = erin.find_document(w.decl)
    target = erin.find_case("MX-0002")
    copy = doclife._copy_in(erin, source, doc, target)  # the process dies here: the tombstone never written
    p = w.run("fsck", "--json", user="erin")
    problems = json.loads(p.stdout)["problems"]
    assert p.returncode != 0 and any(pr["kind"] == "interrupted move" for pr in problems)
    again = w.ok("doc", "move", w.decl, "--to", "MX-0002", user="erin").strip()
    assert again == copy.id and _ids(w, "MX-0002") == [copy.id] and _ids(w) == []
    assert w.run("fsck", user="erin").returncode == 0


@pytest.mark.s3_in_stress("a planted event is refused by its signer's role; raw event writes to S3 are in tests/test_insider.py")
def test_a_planted_move_in_by_a_lawyer_is_refused(case_world):
    """bob (lawyer, member) writes a doc.added claiming to be moved in: moving in is a case lead's."""
    w = case_world
    bob = w.open("bob")
    case = bob.load_case(_cid(w))
    d = case.documents[w.decl]
    data = {k: getattr(d, k) for k in ("version", "blob", "key_version", "filename", "size", "sha256", "mime",
                                       "type", "title", "tags", "flags")}
    _plant(w, "bob", "doc.added", dict(data, id=f"{_cid(w)}-aaaaaaaa", moved_from={"case": "x", "id": "y"}))
    p = w.run("doc", "list", "MX-0001", user="erin")
    assert p.returncode == 3 and b"case lead" in p.stderr


# --- duplicates --------------------------------------------------------------------------------


@pytest.mark.s3_in_stress("a rule of the application")
def test_the_same_file_twice_is_refused_unless_allowed(case_world):
    w = case_world
    before = set(w.object_names())
    p = w.run("doc", "add", "MX-0001", str(w.docs["declaration"]), "--type", "other", user="bob")
    assert p.returncode == 1 and w.decl.partition("-")[2].encode() in p.stderr and b"--allow-duplicate" in p.stderr
    assert b"declaration" not in p.stderr.lower().split(b"--allow")[0]  # no title off a terminal
    assert len(p.stderr.strip().splitlines()) == 1
    assert {k for k in set(w.object_names()) - before if not k.startswith("audit/")} == set()  # nothing stored
    w.ok("doc", "add", "MX-0001", str(w.docs["declaration"]), "--type", "other", "--allow-duplicate", user="bob")
    assert len(_ids(w)) == 2


def _on_terminal(w, *args, user):
    """Run the CLI with stderr on a pseudo-terminal (as a person at their desk); returns (code, stderr text)."""
    leader, follower = pty.openpty()
    p = subprocess.Popen([sys.executable, "-P", "-m", "refuge", *args], env=w.env(user), cwd=w.root,
                         stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    p.wait(timeout=120)
    os.close(leader)
    return p.returncode, b"".join(chunks).decode()


@pytest.mark.s3_in_stress("a rule of the application")
def test_on_a_terminal_the_title_is_named_and_another_case_holding_the_file_is_pointed_out(case_world):
    w = case_world
    code, err = _on_terminal(w, "doc", "add", "MX-0001", str(w.docs["declaration"]), "--type", "other", user="bob")
    assert code == 1 and "(declaration)" in err
    w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob")
    code, err = _on_terminal(w, "doc", "get", _cid(w)[:5], "-o", "x.pdf", user="bob")
    assert code == 1 and "(declaration)" in err and "(medical-report)" in err  # the candidates, by title
    w.ok("case", "create", "MX-0002", user="erin")
    code, err = _on_terminal(w, "doc", "add", "MX-0002", str(w.docs["declaration"]), "--type", "other", user="erin")
    assert code == 0 and "warning" in err and "MX-0001" in err and w.decl.partition("-")[2] in err


# --- ids people type --------------------------------------------------------------------------


@pytest.mark.s3_in_stress("a rule of the application")
def test_unique_prefixes_are_accepted_and_ambiguous_ones_list_the_candidates(case_world, tmp_path):
    w = case_world
    short = w.decl.partition("-")[2]
    w.ok("doc", "get", short[:4], "-o", str(tmp_path / "a.pdf"), user="bob")
    assert (tmp_path / "a.pdf").read_bytes() == w.docs["declaration"].read_bytes()
    w.ok("doc", "get", w.decl[:6], "-o", str(tmp_path / "b.pdf"), user="bob")  # a prefix of the whole id
    medical = w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob").strip()
    p = w.run("doc", "get", w.decl[:6], "-o", str(tmp_path / "c.pdf"), user="bob")
    assert p.returncode == 1 and b"2 documents" in p.stderr and not (tmp_path / "c.pdf").exists()
    assert short.encode() in p.stderr and medical.partition("-")[2].encode() in p.stderr
    assert w.run("doc", "get", short[:3], "-o", str(tmp_path / "d.pdf"), user="bob").returncode == 1  # too short
    assert w.run("doc", "get", short[:4], "-o", str(tmp_path / "d.pdf"), user="carol").returncode == 1  # not hers
    entries = json.loads(w.ok("audit", "log", "--user", "bob", "--action", "doc.get", "--json", user="alice"))
    failed = [e for e in entries if e["result"] != "ok"]
    assert failed and all("unresolved" in e and w.decl[:6] not in json.dumps(e) for e in failed)


@pytest.mark.local_only("watches the target's blob folder on disk to kill inside the move")
@pytest.mark.parametrize("moves", [6, pytest.param(20, marks=pytest.mark.slow)])  # make stress: more kills
def test_moves_killed_at_random_points_leave_only_what_fsck_explains_and_finish_when_run_again(case_world, tmp_path,
                                                                                               moves):
    """SIGKILL once the copy's first blob is in the target. Every other document has two versions and is killed
    at once, while the second version is still being copied (always inside the move, however fast the machine);
    the others a random few milliseconds later: before the target's event, between it and the source's
    tombstone, or after. fsck explains each state; running it again finishes."""
    import hashlib
    import random
    import signal
    import time

    w = case_world
    w.ok("case", "create", "MX-0002", user="erin")
    blobs = w.vault / "cases" / w.open("erin").find_case("MX-0002").id / "blobs"
    rng = random.Random(17)
    big = b"".join(b"line %08d of a long transcript\n" % i for i in range(100_000))
    seen = set()
    for i in range(moves):
        src = tmp_path / f"note-{i}.txt"
        src.write_bytes(big + f"\nnote {i}\n".encode())
        doc = w.ok("doc", "add", "MX-0001", str(src), "--type", "correspondence", user="erin").strip()
        if i % 2 == 0:  # a second version: the move copies it after the first blob appears
            src = tmp_path / f"note-{i}-v2.txt"
            src.write_bytes(big + f"\nnote {i}, second version\n".encode())
            w.ok("doc", "add", "MX-0001", str(src), "--supersedes", doc, "--type", "correspondence", user="erin")
        before = len(os.listdir(blobs)) if blobs.exists() else 0
        p = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "doc", "move", doc, "--to", "MX-0002"],
                             env=w.env("erin"), cwd=w.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while p.poll() is None and (len(os.listdir(blobs)) if blobs.exists() else 0) == before:
            pass  # no sleep: the kill must follow the first blob closely
        if i % 2:
            time.sleep(rng.uniform(0, 0.06))
        p.send_signal(signal.SIGKILL)
        p.wait()
        problems = json.loads(w.run("fsck", "--json", user="erin").stdout or b'{"problems": []}')["problems"]
        assert {pr["kind"] for pr in problems} <= {"leftover", "interrupted move"}, problems
        seen |= {pr["kind"] for pr in problems}
        again = w.run("doc", "move", doc, "--to", "MX-0002", user="erin")
        assert again.returncode == 0 or b"was moved" in again.stderr, again.stderr
        seen |= {"finished by running it again"} if again.returncode == 0 else set()
        assert i % 2 or again.returncode == 0  # killed while the second version was copied: the move had not happened
        assert doc not in _ids(w)
        target = json.loads(w.ok("doc", "list", "MX-0002", "--json", user="erin"))
        copies = [d for d in target if d["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()]
        assert len(copies) == 1
        w.ok("doc", "get", copies[0]["id"], "-o", str(tmp_path / f"back-{i}"), user="erin")
        assert (tmp_path / f"back-{i}").read_bytes() == src.read_bytes()
    assert "finished by running it again" in seen  # some kills landed inside the move
    problems = json.loads(w.run("fsck", "--json", user="erin").stdout or b'{"problems": []}')["problems"]
    assert {pr["kind"] for pr in problems} <= {"leftover"}, problems
