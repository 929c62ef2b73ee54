"""audit verify --checkpoint reads only what follows the checkpoint, and still catches what an insider does."""

from __future__ import annotations

import json

import pytest

from vault import _note, audit
from vault.errors import VerificationFailed
from vault.events import canonical

local = pytest.mark.parametrize("world", ["local"], indirect=True)


def _append(v, n: int) -> None:
    for _ in range(n):
        v.audit_log.append(v.me, {"actor": v.me.user_id, "name": v.me.name, "role": v.role, "action": "case.list",
                                  "result": "ok"})


def _checkpoint(world, tmp_path):
    _append(world.open("erin"), 2)  # (a checkpoint of an empty log carries no compact range)
    cp = tmp_path / "cp"
    world.ok("audit", "verify", "--save-checkpoint", str(cp), user="dave")
    text = cp.read_text()
    assert f"\n{audit.LAST} " in text and f"\n{audit.FRONTIER} " in text
    return cp, text


def test_only_the_entries_after_the_checkpoint_are_read(world, tmp_path, monkeypatch):
    _append(world.open("erin"), 30)
    cp, text = _checkpoint(world, tmp_path)
    dave = world.open("dave")
    size = audit.open_checkpoint(text, dave.id, audit_pubs(dave))[0].size
    _append(world.open("erin"), 7)
    read = []
    backend = dave.audit_log.backend
    real_get = backend.get

    def counting_get(key):
        read.append(key)
        return real_get(key)

    backend.get = counting_get
    real_scan = audit._scan

    def counting_scan(args):  # the reader of entries (locally it opens the files itself)
        read.extend(args[1])
        return real_scan(args)

    monkeypatch.setattr(audit, "_scan", counting_scan)
    full = dave.verify_audit()
    whole = sorted(k for k in read if k.startswith(audit.PREFIX))
    read.clear()
    report = dave.verify_audit(text)
    entries = sorted(k for k in read if k.startswith(audit.PREFIX))
    assert report.ok and report.checkpoint_size == size and report.entries == full.entries
    assert report.root == full.root  # the same tree, extended from the checkpoint's compact range
    assert len(whole) >= full.entries
    assert sorted(set(entries)) == [audit.entry_key(n) for n in range(size, full.entries + 1)]  # its last, then the new
    p = world.run("audit", "verify", "--checkpoint", str(cp), "--json", user="dave")
    assert p.returncode == 0 and json.loads(p.stdout)["checkpoint_size"] == size


def audit_pubs(v):
    from vault.people import signers

    return signers(v)


@local
def test_an_edited_entry_after_the_checkpoint_is_caught(world, tmp_path):
    cp, _ = _checkpoint(world, tmp_path)
    _append(world.open("erin"), 3)
    v = world.open("dave")
    last = v.audit_log.last()
    record = json.loads(v.audit_log.raw(last))
    record["time"] = "2020-01-01T00:00:00Z"  # backdated by the storage holder
    path = world.vault / audit.entry_key(last)
    path.unlink()
    path.write_bytes(canonical(record))
    p = world.run("audit", "verify", "--checkpoint", str(cp), "--json", user="dave")
    assert p.returncode == 3 and json.loads(p.stdout)["problem"]["entry"] == last


@local
def test_the_checkpoints_last_entry_replaced_is_a_fork(world, tmp_path):
    cp, text = _checkpoint(world, tmp_path)
    size = int(text.split("\n")[1])
    _append(world.open("erin"), 2)
    path = world.vault / audit.entry_key(size)
    path.unlink()
    path.write_bytes(world.read_object(audit.entry_key(size + 1)))
    p = world.run("audit", "verify", "--checkpoint", str(cp), "--json", user="dave")
    assert p.returncode == 3 and json.loads(p.stdout)["problem"]["kind"] == "forked"


@local
def test_a_log_cut_below_the_checkpoint_is_truncated(world, tmp_path):
    _append(world.open("erin"), 5)
    cp, text = _checkpoint(world, tmp_path)
    size = int(text.split("\n")[1])
    for n in range(size - 2, size + 1):
        (world.vault / audit.entry_key(n)).unlink()
    p = world.run("audit", "verify", "--checkpoint", str(cp), "--json", user="dave")
    assert p.returncode == 3 and json.loads(p.stdout)["problem"]["kind"] == "truncated"


@pytest.mark.s3_in_stress("a rule of checkpoints; what is read on S3 is in test_only_the_entries_after_the_checkpoint_are_read")
def test_a_compact_range_that_does_not_give_the_root_is_refused(world, tmp_path):
    _append(world.open("erin"), 4)
    _, text = _checkpoint(world, tmp_path)
    dave = world.open("dave")
    cp = audit.open_checkpoint(text, dave.id, audit_pubs(dave))[0]
    bogus = [bytes(32)] * len(audit.Frontier.of([bytes(32)] * cp.size).hashes)
    forged = audit.sign_checkpoint(dave.id, cp.size, cp.root, dave.me, bogus, "0" * 64)
    with pytest.raises(VerificationFailed, match="compact range"):
        dave.verify_audit(forged)


@pytest.mark.s3_in_stress("a rule of checkpoints; what is read on S3 is in test_only_the_entries_after_the_checkpoint_are_read")
def test_an_older_checkpoint_without_a_compact_range_verifies_everything(world, tmp_path):
    _append(world.open("erin"), 3)
    dave = world.open("dave")
    report = dave.verify_audit()
    old = _note.sign_note(_note.format_checkpoint(audit.origin(dave.id), report.entries, report.root),
                          dave.me.user_id, dave.me._seed)
    _append(world.open("erin"), 2)
    again = dave.verify_audit(old)
    assert again.ok and again.checkpoint_size == report.entries and again.entries == report.entries + 2


@local
def test_audit_log_since_reads_only_the_shards_that_can_hold_newer_entries(world, monkeypatch):
    monkeypatch.setattr(audit, "SHARD", 4)  # shards of four entries, so that a small log has many
    erin = world.open("erin")
    _append(erin, 13)
    dave = world.open("dave")
    every = dave.audit_entries()
    since = every[-1]["time"]
    expected = [e for e in every if e["time"] >= since]
    assert dave.audit_entries(since=since) == expected  # the first time, every shard is read (and noted)
    read = []
    real_raw = dave.audit_log.raw
    monkeypatch.setattr(dave.audit_log, "raw", lambda seq: read.append(seq) or real_raw(seq))
    future = "2999-01-01T00:00:00Z"
    assert dave.audit_entries(since=future) == []
    shards = dave.audit_log.backend.children(audit.PREFIX)
    assert read and all(audit.entry_key(n).split("/")[1] == shards[-1] for n in read)  # only the open shard
    # A forged note of the shards' times (encrypted to dave's public key) is not believed.
    from vault import _cache, age

    path = _cache.cache_dir(dave) / "audit.times"
    path.write_bytes(age.encrypt_bytes([dave.me.age_identity.recipient],
                                       json.dumps({s: ["0", "0"] for s in shards}).encode()))
    read.clear()
    assert dave.audit_entries(since=since) == expected
    assert len(read) >= len(every) - 1
