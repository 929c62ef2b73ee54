"""KMS escrow: every case key version is also encrypted with KMS under its case's context,
and an admin can recover a case after its members' keys are gone (audited).

KMS is moto's, over HTTP (tests/moto_s3.py); each test runs on a local and an S3 vault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import PASSPHRASE

kms = pytest.mark.vault_options(kms=True)


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


def _kms(w):
    import boto3

    from moto_s3 import REGION

    return boto3.session.Session().client("kms", endpoint_url=w.s3_url, region_name=REGION)


def _context(w, case_id, version):
    return {"refuge:vault": w.open("alice").id, "refuge:case": case_id, "refuge:version": str(version)}


@kms
def test_every_key_version_is_escrowed_under_its_case_context(case_world, tmp_path):
    w = case_world
    cid = _case_id(w)
    w.ok("case", "export-key", "MX-0001", "-o", str(tmp_path / "k1"), user="erin")
    identity = [ln for ln in (tmp_path / "k1").read_text().splitlines() if ln.startswith("AGE-SECRET-KEY-")]
    blob = w.read_object(f"cases/{cid}/escrow/0001")
    assert identity[0].encode() not in blob
    plain = _kms(w).decrypt(CiphertextBlob=blob, EncryptionContext=_context(w, cid, 1))["Plaintext"]
    assert plain.decode() == identity[0]
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="InvalidCiphertext"):
        _kms(w).decrypt(CiphertextBlob=blob, EncryptionContext=_context(w, cid, 2))
    # a new key version (revoking a member) is escrowed too
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    assert [n for n in w.object_names() if "/escrow/" in n] == [f"cases/{cid}/escrow/0001", f"cases/{cid}/escrow/0002"]
    settings = json.loads(w.read_object("vault"))
    assert settings["kms"]["key_id"].startswith("arn:aws:kms:") and settings["kms"]["region"] == "us-east-1"
    p = w.run("fsck", "--deep", "--json", user="erin")
    assert p.returncode == 0, p.stdout


@kms
def test_a_case_is_recovered_after_its_members_keys_are_deleted(case_world, tmp_path):
    w = case_world
    cid = _case_id(w)
    for name in w.object_names():
        if name.startswith(f"cases/{cid}/keys/"):
            w.delete_object(name)
    assert w.run("doc", "list", "MX-0001", user="erin").returncode in (1, 4)
    assert w.run("doc", "get", w.decl, "-o", str(tmp_path / "x"), user="bob").returncode == 4

    out = w.ok("case", "recover", cid, "--to", "carol", user="alice")
    assert f"recovered 1 key version of case {cid}" in out
    w.ok("doc", "get", w.decl, "-o", str(tmp_path / "carol.pdf"), user="carol")
    assert (tmp_path / "carol.pdf").read_bytes() == w.docs["declaration"].read_bytes()
    # an existing member gets their keys back the same way
    w.ok("case", "recover", cid, "--to", "erin", user="alice")
    w.ok("doc", "get", w.decl, "-o", str(tmp_path / "erin.pdf"), user="erin")
    assert (tmp_path / "erin.pdf").read_bytes() == w.docs["declaration"].read_bytes()

    carol = w.open("carol")
    case = carol.load_case(cid)
    alice = carol.directory.by_name("alice").user_id
    events = list(carol._case_log(cid).events(carol._case_identities(cid).values()))
    [grant] = [e for e in events if e.type == "member.granted" and e.data.get("recovered")]
    assert grant.author == alice and grant.data["users"] == [carol.me.user_id]
    assert carol.me.user_id in case.members and "MX-0001" == case.ref
    # recorded in the audit log, with the case id and who received the keys
    rows = json.loads(w.ok("audit", "log", "--action", "case.recover", "--json", user="dave"))
    assert [(r["name"], r["result"], r["case"]) for r in rows] == [("alice", "ok", cid)] * 2
    assert rows[0]["users"] == [carol.me.user_id]
    p = w.run("fsck", "--deep", "--json", user="carol")
    assert p.returncode == 0, p.stdout
    # the admin still reads nothing of the case
    assert w.run("doc", "get", w.decl, "-o", str(tmp_path / "a"), user="alice").returncode == 4


@pytest.mark.s3_in_stress("a rule of rotation after recovery; escrow and recovery on S3 are in the tests above")
@kms
def test_after_recovery_the_next_write_rotates_away_from_a_removed_member(case_world, tmp_path):
    w = case_world
    cid = _case_id(w)
    w.ok("user", "remove", "bob", user="alice")
    w.ok("case", "recover", cid, "--to", "carol", user="alice")
    new = w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="carol").strip()
    carol = w.open("carol")
    case, doc = carol.find_document(new)
    assert doc.key_version == 2 and carol.directory.by_name("bob").user_id not in case.members
    assert f"cases/{cid}/escrow/0002" in w.object_names()  # the new version is escrowed as well
    w.ok("case", "recover", cid, "--to", "erin", user="alice")  # and recovers like the first
    w.ok("doc", "get", new, "-o", str(tmp_path / "m.pdf"), user="erin")
    assert (tmp_path / "m.pdf").read_bytes() == w.docs["medical"].read_bytes()


@pytest.mark.s3_in_stress("a refusal before KMS or storage is used")
@kms
def test_only_admins_recover_and_refusals_are_recorded(case_world):
    w = case_world
    cid = _case_id(w)
    for name in ("erin", "dave", "bob"):
        p = w.run("case", "recover", cid, "--to", "carol", user=name)
        assert p.returncode == 4 and b"admin" in p.stderr, name
    rows = json.loads(w.ok("audit", "log", "--action", "case.recover", "--json", user="dave"))
    assert [(r["name"], r["result"], r["case"]) for r in rows] == [("erin", "denied", cid), ("dave", "denied", cid),
                                                                    ("bob", "denied", cid)]


@pytest.mark.s3_in_stress("a refusal before KMS or storage is used")
@kms
def test_recover_wants_the_case_id_and_a_member_role(case_world):
    w = case_world
    p = w.run("case", "recover", "MX-0001", "--to", "carol", user="alice")
    assert p.returncode == 1 and b"case id" in p.stderr and b"audit log" in p.stderr
    rows = json.loads(w.ok("audit", "log", "--action", "case.recover", "--json", user="dave"))
    assert rows[0]["result"] == "error" and "case" not in rows[0]  # a reference is never logged
    p = w.run("case", "recover", _case_id(w), "--to", "dave", user="alice")
    assert p.returncode == 1 and b"auditor" in p.stderr


@kms
def test_an_escrow_blob_moved_from_another_case_does_not_open(case_world):
    w = case_world
    cid = _case_id(w)
    other = json.loads(w.ok("case", "create", "MX-0002", "--json", user="erin"))["id"]
    w.replace_object(f"cases/{cid}/escrow/0001", w.read_object(f"cases/{other}/escrow/0001"))
    p = w.run("case", "recover", cid, "--to", "carol", user="alice")
    assert p.returncode == 3 and b"does not decrypt under its encryption context" in p.stderr


@pytest.mark.s3_in_stress("a refusal before KMS or storage is used")
def test_a_vault_without_kms_has_nothing_to_recover(case_world):
    p = case_world.run("case", "recover", _case_id(case_world), "--to", "carol", user="alice")
    assert p.returncode == 1 and b"--kms-key" in p.stderr
    assert not [n for n in case_world.object_names() if "/escrow/" in n]


def test_init_with_an_unknown_kms_key_fails_before_writing_anything(s3_server, monkeypatch, tmp_path):
    from moto_s3 import AWS_LEAKS, make_bucket, s3_env

    for var in AWS_LEAKS:
        monkeypatch.delenv(var, raising=False)
    env = dict(os.environ, **s3_env(s3_server.url), REFUGE_HOME=str(tmp_path / "h"),
               REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_TEST_WORK_FACTOR="10")
    bucket = make_bucket(s3_server.url)
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "init", f"s3://{bucket}/v", "--admin", "alice", "--kms-key",
                        "alias/no-such-key"], env=env, capture_output=True)
    assert p.returncode == 1 and b"KMS key alias/no-such-key does not exist" in p.stderr, p.stderr
    from moto_s3 import s3_client

    assert s3_client(s3_server.url).list_objects_v2(Bucket=bucket).get("KeyCount") == 0
