"""The audit log: every way of rewriting it is caught, named, and exits 3."""

import base64
import json
import multiprocessing
import shutil

import pytest
from conftest import holds

from vault import audit
from vault.events import canonical, sign_record


@pytest.fixture
def case_world(case_world):
    """The case world with a few more entries, written by members through the library."""
    for name in ("bob", "erin", "bob"):
        v = case_world.open(name)
        with v.audited("case.list"):
            v.cases()
    return case_world


def _entries(world):
    return sorted(p for p in (world.vault / "audit").rglob("*") if p.is_file())


def _verify(world, *extra):
    p = world.run("audit", "verify", "--json", *extra, user="dave")
    return p.returncode, json.loads(p.stdout or b"null"), p.stderr.decode()


def _rewrite(path, data: bytes):
    path.unlink()
    path.write_bytes(data)


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_honest_log_verifies_and_counts_every_entry(case_world):
    n = len(_entries(case_world))
    code, report, _ = _verify(case_world)
    assert code == 0 and report["ok"] and report["entries"] == n


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_every_command_appends_one_entry(case_world, tmp_path):
    before = len(_entries(case_world))
    case_world.ok("doc", "list", "MX-0001", user="bob")
    case_world.ok("doc", "get", case_world.decl, "-o", str(tmp_path / "x"), user="bob")
    case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "y"), user="carol")
    case_world.run("doc", "get", "nonexistent-id", user="bob")
    assert len(_entries(case_world)) == before + 5  # a read that succeeds: its intent entry, then the outcome
    rows = json.loads(case_world.ok("audit", "log", "--json", user="dave"))[-4:]
    assert [(r["name"], r["action"], r["result"]) for r in rows] == [
        ("bob", "doc.list", "ok"), ("bob", "doc.get", "ok"), ("carol", "doc.get", "denied"), ("bob", "doc.get", "error")]
    assert rows[1]["doc"] == case_world.decl and rows[1]["case"] == case_world.decl.split("-")[0] and rows[1]["host"]


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_entries_hold_no_plaintext_in_the_vault(case_world):
    data = b"".join(p.read_bytes() for p in _entries(case_world))
    for secret in (b"bob", b"carol", b"erin", b"doc.get", b"lawyer", b"MX-0001", b"denied"):
        assert not holds(data, secret), secret


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_edited_entry_is_named(case_world):
    path = _entries(case_world)[3]
    record = json.loads(path.read_bytes())
    record["time"] = "2020-01-01T00:00:00Z"
    _rewrite(path, canonical(record))
    code, report, err = _verify(case_world)
    assert code == 3 and report["problem"] == {"entry": 4, "kind": "edited", "message": report["problem"]["message"]}
    assert "entry 4" in err and "edited" in err and err.count("\n") == 1


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_edited_sealed_body_is_named(case_world):
    path = _entries(case_world)[2]
    record = json.loads(path.read_bytes())
    sealed = bytearray(base64.b64decode(record["sealed"]))
    sealed[20] ^= 1
    record["sealed"] = base64.b64encode(bytes(sealed)).decode()
    _rewrite(path, canonical(record))
    code, report, _ = _verify(case_world)
    assert code == 3 and (report["problem"]["entry"], report["problem"]["kind"]) == (3, "edited")


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_deleted_entry_is_named(case_world):
    _entries(case_world)[4].unlink()
    code, report, _ = _verify(case_world)
    assert code == 3 and (report["problem"]["entry"], report["problem"]["kind"]) == (5, "deleted")


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_reordered_entries_are_named(case_world):
    a, b = _entries(case_world)[2:4]
    da, db = a.read_bytes(), b.read_bytes()
    _rewrite(a, db), _rewrite(b, da)
    code, report, _ = _verify(case_world)
    assert code == 3 and (report["problem"]["entry"], report["problem"]["kind"]) == (3, "reordered")


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_deleted_entry_with_later_ones_renumbered_is_named(case_world):
    entries = _entries(case_world)
    data = [p.read_bytes() for p in entries]
    del data[2]
    entries[-1].unlink()
    for p, d in zip(entries[2:], data[2:]):
        _rewrite(p, d)
    code, report, _ = _verify(case_world)
    assert code == 3 and (report["problem"]["entry"], report["problem"]["kind"]) == (3, "deleted")


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_inserted_entry_is_named(case_world):
    """An enrolled insider signs a fake entry and shifts the later ones up to make room."""
    bob = case_world.open("bob")
    entries = _entries(case_world)
    data = [p.read_bytes() for p in entries]
    fake = sign_record(bob.me, {"v": 1, "seq": 3, "prev": json.loads(data[2])["prev"], "time": "2026-01-01T00:00:00Z",
                                "sealed": json.loads(data[2])["sealed"]})
    data.insert(2, canonical(fake))
    for i, d in enumerate(data, 1):
        path = case_world.vault / audit.entry_key(i)
        if path.exists():
            path.unlink()
        path.write_bytes(d)
    code, report, _ = _verify(case_world)
    assert code == 3 and (report["problem"]["entry"], report["problem"]["kind"]) == (4, "inserted")


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_unknown_signer_is_named(case_world):
    from vault.identity import SecretIdentity

    stranger = SecretIdentity.generate("stranger")
    last = _entries(case_world)[-1]
    record = json.loads(last.read_bytes())
    record.pop("sig")
    _rewrite(last, canonical(sign_record(stranger, record)))
    code, report, _ = _verify(case_world)
    assert code == 3 and report["problem"]["kind"] == "unknown signer"


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_truncated_tail_is_caught_against_a_checkpoint_held_elsewhere(case_world, tmp_path):
    cp = tmp_path / "cp"
    case_world.ok("audit", "verify", "--save-checkpoint", str(cp), user="dave")
    shutil.rmtree(case_world.vault / "audit-checkpoints")  # the insider removes the vault's copies too
    for p in _entries(case_world)[-3:]:
        p.unlink()
    assert _verify(case_world)[0] == 0  # without the checkpoint the shorter log looks whole
    code, report, _ = _verify(case_world, "--checkpoint", str(cp))
    assert code == 3 and report["problem"]["kind"] == "truncated"


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_rewritten_history_is_forked_against_a_checkpoint(case_world, tmp_path):
    cp = tmp_path / "cp"
    case_world.ok("audit", "verify", "--save-checkpoint", str(cp), user="dave")
    # an insider holding every key rebuilds the log from entry 2 on with their own entries
    entries = _entries(case_world)
    erin = case_world.open("erin")
    for p in entries[1:]:
        p.unlink()
    for _ in entries[1:]:
        erin.audit_log.append(erin.me, {"actor": erin.me.user_id, "name": "erin", "role": "case-lead",
                                        "action": "case.list", "result": "ok"})
    assert _verify(case_world)[0] == 3  # the vault's own stored checkpoint catches it
    shutil.rmtree(case_world.vault / "audit-checkpoints")
    code, report, _ = _verify(case_world, "--checkpoint", str(cp))
    assert code == 3 and report["problem"]["kind"] == "forked"


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_log_extends_an_earlier_checkpoint(case_world, tmp_path):
    cp = tmp_path / "cp"
    case_world.ok("audit", "verify", "--save-checkpoint", str(cp), user="dave")
    case_world.ok("doc", "list", "MX-0001", user="bob")
    code, report, _ = _verify(case_world, "--checkpoint", str(cp))
    assert code == 0 and report["checkpoint_size"] < report["entries"]
    assert cp.read_text().startswith("refuge.vault/")


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_checkpoint_from_a_stranger_is_refused(case_world, tmp_path):
    from vault import _note
    from vault.identity import SecretIdentity

    s = SecretIdentity.generate("stranger")
    text = _note.sign_note(_note.format_checkpoint("refuge.vault/x", 1, b"\0" * 32), s.user_id, s._seed)
    (tmp_path / "cp").write_text(text)
    p = case_world.run("audit", "verify", "--checkpoint", str(tmp_path / "cp"), user="dave")
    assert p.returncode == 3


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_inclusion_proof_checks_for_a_third_party(case_world):
    proof = json.loads(case_world.ok("audit", "prove", "2", user="dave"))
    assert audit.check_proof(proof)
    proof["entry_bytes"] = base64.b64encode(b"x" + base64.b64decode(proof["entry_bytes"])).decode()
    assert not audit.check_proof(proof)


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_auditor_reads_the_log_but_no_document(case_world, tmp_path):
    assert case_world.run("audit", "log", user="dave").returncode == 0
    assert case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "d"), user="dave").returncode == 4
    dave = case_world.open("dave")
    assert dave.cases() == []


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_lawyer_cannot_verify_or_prove(case_world):
    assert case_world.run("audit", "verify", user="bob").returncode == 4
    assert case_world.run("audit", "prove", "1", user="bob").returncode == 4


@pytest.mark.s3_in_stress("a rule of the audit log read through calls tests/test_s3.py covers on S3")
def test_log_filters(case_world, tmp_path):
    case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "y"), user="carol")
    case_id = case_world.decl.split("-")[0]
    rows = json.loads(case_world.ok("audit", "log", "--case", case_id, "--result", "denied", "--json", user="dave"))
    assert [r["name"] for r in rows] == ["carol"]
    rows = json.loads(case_world.ok("audit", "log", "--user", "bob", "--action", "doc", "--json", user="dave"))
    assert rows and {r["action"] for r in rows} <= {"doc.add", "doc.get", "doc.list"}
    assert json.loads(case_world.ok("audit", "log", "--until", "2000-01-01", "--json", user="dave")) == []
    # a member filters by the case reference and sees only entries of their cases
    rows = json.loads(case_world.ok("audit", "log", "--case", "MX-0001", "--json", user="bob"))
    assert rows and all(r["case"] == case_id for r in rows)
    csv = case_world.ok("audit", "log", "--csv", user="dave").splitlines()
    assert csv[0].startswith("seq,time,name,role,action,result") and len(csv) > 5


def _append_many(home, vault, n, name):
    from conftest import PASSPHRASE
    from vault.core import Vault
    from vault.identity import Home

    h = Home(home)
    v = Vault.open(vault, h, lambda: h.unlock(name, PASSPHRASE))
    for i in range(n):
        v.audit_log.append(v.me, {"actor": v.me.user_id, "name": name, "role": v.role, "action": "test", "result": "ok", "i": i})


@pytest.mark.local_only("reads and rewrites audit entry files on disk (tests/test_s3.py tampers through the bucket)")
def test_concurrent_appenders_lose_and_duplicate_nothing(case_world):
    before = len(_entries(case_world))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(case_world.home), str(case_world.vault), 40, n))
             for n in ("bob", "erin", "carol", "dave")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert len(_entries(case_world)) == before + 160
    code, report, _ = _verify(case_world)
    assert code == 0
    rows = json.loads(case_world.ok("audit", "log", "--action", "test", "--json", user="dave"))
    assert sorted((r["name"], r["i"]) for r in rows) == sorted((n, i) for n in ("bob", "erin", "carol", "dave") for i in range(40))
