"""refuge vault copy: a whole vault moves between a folder and S3, verified, resumable,
and the copy opens and verifies as the same vault."""

from __future__ import annotations

import hashlib
import json
import os

import pytest


@pytest.fixture
def other(case_world, request, tmp_path, monkeypatch):
    """Where to copy the world's vault: S3 for a local world, a folder for an S3 one."""
    if case_world.backend == "s3":
        return str(tmp_path / "copied")
    from conftest import use_s3_server
    from moto_s3 import make_bucket

    server = use_s3_server(request, monkeypatch)
    case_world.s3_url = server.url
    return f"s3://{make_bucket(server.url)}/moved"


def _objects(location: str) -> dict[str, str]:
    from vault.storage import open_backend

    b = open_backend(location)
    out = {}
    for key in b.list(""):
        with b.get(key) as f:
            out[key] = hashlib.sha256(f.read()).hexdigest()
    return out


def _copy(w, src, dst, *extra):
    p = w.run("vault", "copy", str(src), str(dst), "--json", *extra)
    return p.returncode, json.loads(p.stdout or b"null"), p.stderr.decode()


@pytest.mark.s3_in_stress("the local world's run copies to S3 and back: both directions")
def test_copy_there_and_back_keeps_every_object_and_the_vault_works(case_world, other, tmp_path):
    w = case_world
    w.ok("doc", "add", "MX-0001", str(w.docs["passport"]), "--type", "identity", user="bob")
    src = str(w.vault)
    want = _objects(src)
    code, report, err = _copy(w, src, other)
    assert code == 0, err
    assert report == {"objects": len(want), "copied": len(want), "present": 0, "verified": len(want),
                      "bytes_copied": report["bytes_copied"]} and report["bytes_copied"] > 0
    assert _objects(other) == want
    # the copy is the same vault: members read it, the audit log verifies, fsck is clean
    w.ok("doc", "get", w.decl, "-o", str(tmp_path / "d.pdf"), user="bob")
    assert w.run("doc", "list", "MX-0001", user="bob", REFUGE_VAULT=other).returncode == 0
    p = w.run("doc", "get", w.decl, "-o", str(tmp_path / "copy.pdf"), user="bob", REFUGE_VAULT=other)
    assert p.returncode == 0 and (tmp_path / "copy.pdf").read_bytes() == w.docs["declaration"].read_bytes()
    p = w.run("audit", "verify", "--json", user="dave", REFUGE_VAULT=other)
    assert p.returncode == 0 and json.loads(p.stdout)["ok"]
    assert w.run("fsck", "--deep", user="erin", REFUGE_VAULT=other).returncode == 0
    # and back again, to a third place of the first kind
    back = str(tmp_path / "back") if w.backend == "local" else f"s3://{w.bucket}/back"
    code, report, err = _copy(w, other, back)
    assert code == 0 and report["copied"] == len(_objects(other)), err
    assert _objects(back) == _objects(other)


def test_an_interrupted_copy_resumes_and_counts_what_was_there(case_world, other):
    from vault.storage import open_backend

    w = case_world
    src = open_backend(str(w.vault))
    dst = open_backend(other) if other.startswith("s3://") else None
    if dst is None:
        from vault.storage import LocalBackend

        os.makedirs(other)
        dst = LocalBackend(other)
    keys = [k for k in src.list("") if k != "vault"]
    for key in keys[: len(keys) // 2]:  # what a copy that was stopped half-way had written
        with src.get(key) as f:
            dst.put(key, f.read())
    code, report, err = _copy(w, w.vault, other)
    assert code == 0, err
    assert (report["present"], report["copied"]) == (len(keys) // 2, len(keys) - len(keys) // 2 + 1)
    code, report, _ = _copy(w, w.vault, other)  # nothing left to do
    assert code == 0 and report["copied"] == 0 and report["present"] == len(keys) + 1


def test_a_different_object_at_the_destination_stops_the_copy_with_exit_3(case_world, other):
    w = case_world
    assert _copy(w, w.vault, other)[0] == 0
    from vault.storage import open_backend

    dst = open_backend(other)
    [blob] = [k for k in dst.list("cases/") if "/blobs/" in k]
    dst.delete(blob)
    dst.put(blob, b"not the same bytes")
    p = w.run("vault", "copy", str(w.vault), other)
    assert p.returncode == 3 and b"different bytes" in p.stderr and p.stderr.count(b"\n") == 1


def test_copy_into_another_vault_is_refused_before_anything_is_written(case_world, other, tmp_path):
    w = case_world
    assert _copy(w, w.vault, other)[0] == 0
    from vault.storage import open_backend

    dst = open_backend(other)
    dst.delete("vault")
    dst.put("vault", b'{"format":"refuge-vault","version":1,"vault_id":"someoneelse"}')
    before = _objects(other)
    p = w.run("vault", "copy", str(w.vault), other)
    assert p.returncode == 3 and b"another vault" in p.stderr
    assert _objects(other) == before


@pytest.mark.s3_in_stress("the local world's run copies to S3 and back: both directions")
def test_copy_of_nothing_says_so(world, tmp_path):
    p = world.run("vault", "copy", str(tmp_path / "nowhere"), str(tmp_path / "dst"))
    assert p.returncode == 1 and b"no vault at" in p.stderr and not (tmp_path / "dst").exists()


@pytest.mark.parametrize("world", ["s3"], indirect=True)
@pytest.mark.vault_options(lock_days=1)
def test_object_lock_goes_with_the_vault(case_world, tmp_path):
    """An Object Lock vault copied to a folder and back to a locked bucket keeps write-once audit entries."""
    from moto_s3 import make_bucket

    w = case_world
    folder = str(tmp_path / "local-copy")
    assert _copy(w, w.vault, folder)[0] == 0
    bucket = make_bucket(w.s3_url, lock=True)
    assert _copy(w, folder, f"s3://{bucket}/v")[0] == 0
    c = w.s3()
    entry = next(o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="v/audit/")["Contents"])
    assert c.head_object(Bucket=bucket, Key=entry)["ObjectLockMode"] == "GOVERNANCE"
    blob = next(o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="v/cases/")["Contents"])
    assert "ObjectLockMode" not in c.head_object(Bucket=bucket, Key=blob)
