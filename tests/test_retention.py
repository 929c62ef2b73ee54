"""Retention: closing a case fixes its purge date, a legal hold stops destruction, and a
purge crypto-shreds the case so nobody can read it again, whatever files they keep.

Runs on a local and an S3 vault (moto over HTTP); the KMS test also destroys the escrow.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from vault import age
from vault.errors import InvalidInput
from vault.retention import Policy, add_period, parse_period, purge_date

kms = pytest.mark.vault_options(kms=True)


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def test_periods_add_calendar_years_months_and_days():
    assert add_period(dt.date(2024, 2, 29), "1y") == dt.date(2025, 2, 28)
    assert add_period(dt.date(2024, 1, 31), "1m") == dt.date(2024, 2, 29)
    assert add_period(dt.date(2024, 11, 30), "3m") == dt.date(2025, 2, 28)
    assert add_period(dt.date(2024, 1, 1), "90d") == dt.date(2024, 3, 31)
    assert parse_period(" 7Y ") == "7y"
    for bad in ("", "7", "y", "0y", "7w", "-1y", "12345y", "7y1m"):
        with pytest.raises(InvalidInput):
            parse_period(bad)


def test_the_longest_applicable_period_sets_the_purge_date():
    policy = Policy("5y", {"medical": "10y", "photo": "1y"})
    closed = dt.date(2026, 1, 15)
    assert purge_date(closed, None, policy, {"photo"}) == dt.date(2031, 1, 15)
    assert purge_date(closed, None, policy, {"medical", "photo"}) == dt.date(2036, 1, 15)
    assert purge_date(closed, "2y", policy, set()) == dt.date(2028, 1, 15)  # the case's own period wins over the default
    assert purge_date(closed, "2y", policy, {"medical"}) == dt.date(2036, 1, 15)  # a type minimum still applies
    assert purge_date(closed, None, Policy(), {"medical"}) is None  # no period anywhere: kept until purged by hand


@pytest.mark.s3_in_stress("a rule of the application; the purge on S3 is in the purged-case test")
def test_closing_fixes_the_purge_date_and_stops_changes(case_world, tmp_path):
    w = case_world
    cid = _case_id(w)
    w.ok("retention", "set", "--default", "3y", "--type", "legal-declaration=6y", user="alice")
    shown = json.loads(w.ok("retention", "show", "--json", user="dave"))
    assert shown == {"default": "3y", "types": {"legal-declaration": "6y"}}
    p = w.run("case", "close", "MX-0001", user="bob")  # lawyers do not close cases
    assert p.returncode == 4
    out = w.ok("case", "close", "MX-0001", user="erin")
    due = add_period(_today(), "6y").isoformat()
    assert due in out
    rows = json.loads(w.ok("case", "list", "--json", user="erin"))
    assert rows[0]["state"] == "closed" and rows[0]["purge_after"] == due
    # a closed case is read-only: adds, tags and consents are refused with exit 4 and nothing stored
    before = w.object_names()
    for args in (("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical"),
                 ("doc", "tag", w.decl, "--add", "x"),
                 ("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement")):
        p = w.run(*args, user="erin")
        assert p.returncode == 4 and b"closed" in p.stderr and b"reopen" in p.stderr, p.stderr
    assert [n for n in w.object_names() if not n.startswith("audit/")] == [n for n in before if not n.startswith("audit/")]
    w.ok("doc", "get", w.decl, "-o", str(tmp_path / "still.pdf"), user="bob")  # reading goes on
    # not due yet; due on the day
    assert json.loads(w.ok("retention", "due", "--json", user="alice")) == []
    rows = json.loads(w.ok("retention", "due", "--on", due, "--json", user="erin"))
    assert [(r["id"], r["ref"], r["purge_after"]) for r in rows] == [(cid, "MX-0001", due)]
    rows = json.loads(w.ok("retention", "due", "--on", due, "--json", user="alice"))
    assert [(r["id"], r["ref"]) for r in rows] == [(cid, "")]  # the admin sees only the opaque id
    # reopening drops the date and allows changes again
    w.ok("case", "reopen", "MX-0001", user="erin")
    assert json.loads(w.ok("retention", "due", "--on", "2999-01-01", "--json", user="alice")) == []
    w.ok("doc", "tag", w.decl, "--add", "x", user="bob")
    out = w.ok("case", "close", "MX-0001", "--retain", "10y", user="erin")
    assert add_period(_today(), "10y").isoformat() in out


@pytest.mark.s3_in_stress("a rule of the application; the purge on S3 is in the purged-case test")
def test_a_held_case_is_never_due_and_cannot_be_purged(case_world):
    w = case_world
    cid = _case_id(w)
    w.ok("case", "close", "MX-0001", "--retain", "1d", user="erin")
    assert w.run("case", "hold", cid, user="alice").returncode == 1  # a hold needs a reason
    w.ok("case", "hold", cid, "--reason", "court order 2026-117", user="alice")
    assert json.loads(w.ok("retention", "due", "--on", "2999-01-01", "--json", user="alice")) == []
    p = w.run("case", "purge", cid, "--yes", user="alice")
    assert p.returncode == 4 and b"legal hold" in p.stderr and b"--release" in p.stderr
    w.ok("doc", "list", "MX-0001", user="bob")  # nothing was destroyed
    rows = json.loads(w.ok("case", "list", "--json", user="erin"))
    assert rows[0]["state"] == "held"
    w.ok("case", "hold", "MX-0001", "--release", user="erin")  # a case lead who is a member may release it
    assert [r["id"] for r in json.loads(w.ok("retention", "due", "--on", "2999-01-01", "--json", user="alice"))] == [cid]
    entries = json.loads(w.ok("audit", "log", "--action", "case", "--json", user="dave"))
    assert [e["action"] for e in entries if e["action"] in ("case.hold", "case.release", "case.purge")] == \
        ["case.hold", "case.hold", "case.purge", "case.release"]
    assert [e["result"] for e in entries if e["action"] == "case.purge"] == ["denied"]


@pytest.mark.s3_in_stress("a rule of the application; the purge on S3 is in the purged-case test")
def test_only_an_admin_purges_and_only_a_closed_case(case_world):
    w = case_world
    cid = _case_id(w)
    p = w.run("case", "purge", cid, "--yes", user="alice")
    assert p.returncode == 4 and b"open" in p.stderr
    w.ok("case", "close", "MX-0001", user="erin")
    for who in ("erin", "dave"):
        assert w.run("case", "purge", cid, "--yes", user=who).returncode == 4
    p = w.run("case", "purge", cid, user="alice")  # no terminal and no --yes: refused, nothing destroyed
    assert p.returncode == 1 and b"--yes" in p.stderr
    p = w.run("case", "purge", "nosuchcase", "--yes", user="alice")
    assert p.returncode == 1 and b"no case" in p.stderr
    w.ok("doc", "list", "MX-0001", user="bob")


def _canaries(w) -> list[bytes]:
    return [b"MX-0001", b"Resettlement referral", w.docs["declaration"].read_bytes()[:4096],
            w.docs["declaration"].name.encode()]


@kms
def test_a_purged_case_cannot_be_read_with_every_remaining_file_and_every_key(case_world, tmp_path):
    w = case_world
    cid = _case_id(w)
    w.ok("doc", "list", "MX-0001", user="bob")  # bob's machine caches the case (encrypted to him)
    w.ok("case", "export-key", "MX-0001", "-o", str(tmp_path / "case.key"), user="erin")
    case_key = [ln for ln in (tmp_path / "case.key").read_text().splitlines() if ln.startswith("AGE-SECRET-KEY-")][0]
    w.ok("case", "close", "MX-0001", user="erin")
    out = w.ok("case", "purge", cid, "--yes", user="alice")
    assert f"purged case {cid}" in out
    assert not [n for n in w.object_names() if n.startswith(f"cases/{cid}/")]
    # Everyone's identities, the directory key, KMS: nothing left in the vault opens to the case.
    home_ids = []
    for name in ("alice", "erin", "bob", "carol", "dave"):
        v = w.open(name)
        home_ids.append(v.me.age_identity)
    home_ids.append(w.open("alice")._dir_identity)
    for name in w.object_names():
        data = w.read_object(name)
        assert case_key.encode() not in data, name
        if data.startswith(b"age-encryption.org/v1"):
            try:
                plain = age.decrypt_bytes(home_ids, data)
            except age.AgeError:
                continue
            for canary in _canaries(w):
                assert canary not in plain, name
            assert case_key.encode() not in plain, name
    # the members' own caches of the case go at their next listing
    for member in ("bob", "erin"):
        assert w.ok("case", "list", user=member).strip() == "(none)"
    assert not list((w.home / "cache").rglob(f"{cid}.age"))
    # KMS escrow is gone too, and every command says the case is no more
    p = w.run("case", "recover", cid, "--to", "carol", user="alice")
    assert p.returncode == 1 and b"purged" in p.stderr, p.stderr
    p = w.run("doc", "get", w.decl, "-o", str(tmp_path / "x"), user="erin")
    assert p.returncode in (1, 4) and not (tmp_path / "x").exists()
    assert w.run("case", "purge", cid, "--yes", user="alice").returncode == 0  # purging again is harmless
    p = w.run("fsck", "--json", user="alice")
    assert p.returncode == 0, p.stdout
    entries = json.loads(w.ok("audit", "log", "--action", "case.purge", "--json", user="dave"))
    assert [(e["case"], e["result"]) for e in entries] == [(cid, "ok"), (cid, "ok")]
    assert all(c.decode(errors="ignore") not in json.dumps(entries) for c in _canaries(w)[:2])
