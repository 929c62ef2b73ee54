"""The S3 backend, against moto's server over HTTP (tests/moto_s3.py): create-only writes,
multipart uploads, errors that name the fix, write-once audit entries, tampering
through the bucket, and many writers at once losing nothing.

The rest of the suite runs every `world` test on S3 as well (tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from conftest import PASSPHRASE, holds, passphrase_file
from vault import audit
from vault.errors import NotFound, VerificationFailed
from vault.events import canonical
from vault.storage import ObjectExists

MIB = 1024 * 1024
s3_only = pytest.mark.parametrize("world", ["s3"], indirect=True)  # these worlds only on S3


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The test server's URL with the environment pointing at it, and a fresh bucket."""
    from moto_s3 import AWS_LEAKS, make_bucket, s3_env

    for var in AWS_LEAKS:
        monkeypatch.delenv(var, raising=False)
    for var, value in s3_env(s3_server.url).items():
        monkeypatch.setenv(var, value)
    yield s3_server.url, make_bucket(s3_server.url)
    s3_server.reset()


def _backend(url, bucket, prefix="v", **kw):
    from vault.s3 import S3Backend

    return S3Backend(f"s3://{bucket}/{prefix}", url, **kw)


def _uploads(url, bucket):
    from moto_s3 import s3_client

    return s3_client(url).list_multipart_uploads(Bucket=bucket).get("Uploads", [])


# --- what this moto supports (checked, not assumed) --------------------------------------


def test_moto_enforces_if_none_match_on_put_and_on_complete_multipart(s3):
    from botocore.exceptions import ClientError
    from moto_s3 import s3_client

    url, bucket = s3
    c = s3_client(url)
    c.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    up = c.create_multipart_upload(Bucket=bucket, Key="k")
    etag = c.upload_part(Bucket=bucket, Key="k", UploadId=up["UploadId"], PartNumber=1, Body=b"x")["ETag"]
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=up["UploadId"], IfNoneMatch="*",
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert c.get_object(Bucket=bucket, Key="k")["Body"].read() == b"1"


# --- the backend ----------------------------------------------------------------------------


def test_put_is_create_only_and_listing_matches_the_local_backend(s3, tmp_path):
    from vault.storage import LocalBackend

    url, bucket = s3
    for b in (_backend(url, bucket), LocalBackend(tmp_path)):
        for key in ("cases/c1/events/00000001", "cases/c1/events/00000002", "cases/c2/keys/0001/u1", "vault"):
            b.put(key, key.encode())
        with pytest.raises(ObjectExists):
            b.put("cases/c1/events/00000001", b"other")
        assert b.get("cases/c1/events/00000001").read() == b"cases/c1/events/00000001"
        assert list(b.list("cases/c1/")) == ["cases/c1/events/00000001", "cases/c1/events/00000002"]
        assert list(b.list("cases/c1/events/0000000")) == ["cases/c1/events/00000001", "cases/c1/events/00000002"]
        assert b.children("") == ["cases", "vault"] and b.children("cases/") == ["c1", "c2"]
        assert b.children("cases/c2/keys") == ["0001"] and b.children("nothing/") == []
        assert b.exists("vault") and not b.exists("cases")
        b.delete("vault")
        assert not b.exists("vault")
        with pytest.raises(NotFound):
            b.get("vault")
        with pytest.raises(ValueError):
            b.put("../escape", b"")


def test_large_object_goes_up_in_parts_and_create_only(s3):
    url, bucket = s3
    b = _backend(url, bucket, part_size=5 * MIB)
    data = os.urandom(12 * MIB + 123)
    with b.writer("cases/c/blobs/big") as w:
        for i in range(0, len(data), 64 * 1024):
            w.write(data[i:i + 64 * 1024])
    from moto_s3 import s3_client

    head = s3_client(url).head_object(Bucket=bucket, Key="v/cases/c/blobs/big")
    assert head["ETag"].endswith('-3"'), "three parts: 5 + 5 + 2 MiB"
    with b.get("cases/c/blobs/big") as f:
        assert f.read() == data
    with pytest.raises(ObjectExists):
        with b.writer("cases/c/blobs/big") as w:
            w.write(os.urandom(11 * MIB))
    assert _uploads(url, bucket) == [], "a refused upload is aborted"
    with b.get("cases/c/blobs/big") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()


def test_an_encrypted_file_goes_up_in_parts_encrypted_as_they_are_read(s3, tmp_path):
    """put_ranges: parts are encrypted from the plaintext file as botocore reads them, several at
    once; the object is exactly an age file that the age CLI opens, and create-only."""
    from vault import age

    url, bucket = s3
    b = _backend(url, bucket, part_size=5 * MIB)
    plain = tmp_path / "big.bin"
    data = os.urandom(17 * MIB + 99)
    plain.write_bytes(data)
    key = age.X25519Identity.generate()
    with open(plain, "rb") as f:
        enc = age.EncryptedFile([key.recipient], f.fileno(), len(data))
        b.put_ranges("cases/c/blobs/big", enc.size, enc.reader)
        with pytest.raises(ObjectExists):
            b.put_ranges("cases/c/blobs/big", enc.size, enc.reader)
    from moto_s3 import s3_client

    head = s3_client(url).head_object(Bucket=bucket, Key="v/cases/c/blobs/big")
    assert head["ETag"].endswith('-4"') and head["ContentLength"] == enc.size, "four parts: 5 + 5 + 5 + 2 MiB"
    assert _uploads(url, bucket) == [], "the refused upload is aborted"
    stored = tmp_path / "big.age"
    with b.get("cases/c/blobs/big") as f:
        stored.write_bytes(f.read())
    (tmp_path / "key.txt").write_text(f"{key}\n")
    p = subprocess.run(["age", "-d", "-i", str(tmp_path / "key.txt"), str(stored)], capture_output=True)
    assert p.returncode == 0 and p.stdout == data, p.stderr


def test_parallel_parts_arrive_in_order_and_a_failure_aborts_them(s3):
    url, bucket = s3
    b = _backend(url, bucket, part_size=5 * MIB)
    b.parallel = 2  # REFUGE_S3_PARALLEL=2
    data = os.urandom(23 * MIB + 7)
    with b.writer("par") as w:
        for i in range(0, len(data), 100_000):
            w.write(data[i:i + 100_000])
    with b.get("par") as f:
        assert f.read() == data
    from moto_s3 import s3_client

    assert s3_client(url).head_object(Bucket=bucket, Key="v/par")["ETag"].endswith('-5"')  # 5+5+5+5+3 MiB
    with pytest.raises(RuntimeError):
        with b.writer("par2") as w:
            w.write(data)
            raise RuntimeError("the source broke")
    assert not b.exists("par2") and b.leftovers() == []


def test_failed_write_leaves_nothing_small_or_multipart(s3):
    url, bucket = s3
    b = _backend(url, bucket, part_size=5 * MIB)
    for size in (100, 7 * MIB):
        with pytest.raises(RuntimeError):
            with b.writer(f"cases/c/blobs/x{size}") as w:
                w.write(b"z" * size)
                raise RuntimeError("the source broke")
        assert not b.exists(f"cases/c/blobs/x{size}")
    assert _uploads(url, bucket) == [] and b.leftovers() == []


def test_a_broken_read_resumes_where_it_stopped(s3):
    url, bucket = s3
    b = _backend(url, bucket)
    data = os.urandom(3 * MIB)
    b.put("blob", data)
    with b.get("blob") as f:
        first = f.read(MIB + 5)
        f.raw._body.close()  # the connection drops mid-object
        rest = f.read()
    assert first + rest == data


def test_replaced_object_during_a_resumed_read_is_caught(s3):
    from moto_s3 import s3_client

    url, bucket = s3
    b = _backend(url, bucket)
    b.put("blob", os.urandom(3 * MIB))
    with b.get("blob") as f:
        f.read(MIB + 5)
        s3_client(url).put_object(Bucket=bucket, Key="v/blob", Body=os.urandom(3 * MIB))
        f.raw._body.close()
        with pytest.raises(VerificationFailed, match="replaced"):
            f.read()


def test_leftover_uploads_are_listed_dated_and_removed(s3):
    url, bucket = s3
    b = _backend(url, bucket)
    from moto_s3 import s3_client

    c = s3_client(url)
    c.create_multipart_upload(Bucket=bucket, Key="v/cases/c/blobs/half")
    [name] = b.leftovers()
    assert name.startswith("cases/c/blobs/half?uploadId=")
    [upload] = c.list_multipart_uploads(Bucket=bucket)["Uploads"]
    # the upload's own start time decides whether fsck --repair may abort it (this moto
    # reports a fixed Initiated date of 2010-11-10 for every upload)
    assert b.modified(".tmp/" + name) == upload["Initiated"].timestamp()
    assert b.modified(".tmp/cases/c/blobs/other?uploadId=x") is None
    b.remove_leftover(name)
    assert b.leftovers() == []


# --- errors name the fix ----------------------------------------------------------------------


def _refuge(tmp_path, *args, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("REFUGE_USER", "REFUGE_VAULT", "REFUGE_HOME")}
    base.update(REFUGE_HOME=str(tmp_path / "home"), REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_TEST_WORK_FACTOR="10")
    base.update(env)
    return subprocess.run([sys.executable, "-P", "-m", "refuge", *args], env={k: v for k, v in base.items() if v is not None},
                          capture_output=True, timeout=120)


def _one_line_error(p, code=1) -> str:
    err = p.stderr.decode()
    assert p.returncode == code, err
    assert err.startswith("refuge: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_bucket_says_to_create_it(s3, tmp_path):
    url, _ = s3
    err = _one_line_error(_refuge(tmp_path, "init", "s3://no-such-bucket-here/v", "--admin", "alice"))
    assert "no-such-bucket-here does not exist" in err and "aws s3 mb" in err


def test_unreachable_endpoint_says_which_and_how_to_fix(s3, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url, bucket = s3
    p = _refuge(tmp_path, "init", f"s3://{bucket}/v", "--admin", "alice", "--endpoint-url", f"http://127.0.0.1:{port}",
                AWS_MAX_ATTEMPTS="1", REFUGE_S3_ENDPOINT_URL=None)
    err = _one_line_error(p)
    assert f"cannot reach the S3 endpoint http://127.0.0.1:{port}" in err and "--endpoint-url" in err


def test_missing_credentials_are_named_and_never_stored(s3, tmp_path):
    url, bucket = s3
    p = _refuge(tmp_path, "init", f"s3://{bucket}/v", "--admin", "alice", AWS_ACCESS_KEY_ID=None,
                AWS_SECRET_ACCESS_KEY=None)
    assert "no usable AWS credentials" in _one_line_error(p)


def test_access_denied_and_wrong_region_messages():
    """moto accepts any credentials and any region, so these are checked on S3's own error responses."""
    from botocore.exceptions import ClientError

    from vault.s3 import StorageAccessDenied, StorageError, _Errors

    b = _backend("http://127.0.0.1:1", "team-vault", region="us-east-1")
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")
    e = _Errors(b).explain(denied, "put_object", "audit/x")
    assert isinstance(e, StorageAccessDenied) and e.exit_code == 4
    assert "s3:PutObject" in str(e) and "docs/kms.md" in str(e)
    moved = ClientError({"Error": {"Code": "PermanentRedirect", "Message": "...", "Region": "eu-west-3"},
                         "ResponseMetadata": {"HTTPStatusCode": 301, "HTTPHeaders": {}}}, "GetObject")
    e = _Errors(b).explain(moved, "get_object", "vault")
    assert isinstance(e, StorageError) and "region eu-west-3, not us-east-1" in str(e) and e.hint == "s3-region"
    head = ClientError({"Error": {"Code": "403", "Message": "Forbidden"},
                        "ResponseMetadata": {"HTTPStatusCode": 403}}, "HeadObject")
    assert isinstance(_Errors(b).explain(head, "head_object", "vault"), StorageAccessDenied)
    throttled = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    assert "throttling" in str(_Errors(b).explain(throttled, "put_object", "k"))


def test_bad_locations_are_refused(tmp_path):
    from vault.errors import InvalidInput
    from vault.s3 import parse_location

    assert parse_location("s3://my-bucket") == ("my-bucket", "")
    assert parse_location("s3://my-bucket/a/b/") == ("my-bucket", "a/b/")
    for bad in ("s3://", "s3://UPPER/x", "s3://ab/x", "s3://bucket/a//b", "s3://bucket/../x"):
        with pytest.raises((InvalidInput, ValueError)):
            parse_location(bad)


# --- connection settings are remembered, credentials never ------------------------------------


def test_init_remembers_endpoint_and_region_and_stores_no_credentials(s3, tmp_path):
    url, bucket = s3
    secret = "refuge-test-secret-5fd2e1"
    env = dict(REFUGE_S3_ENDPOINT_URL=None, AWS_SECRET_ACCESS_KEY=secret)
    p = _refuge(tmp_path, "init", f"s3://{bucket}/team/", "--admin", "alice", "--endpoint-url", url,
                "--region", "us-east-1", **env)
    assert p.returncode == 0, p.stderr
    config = json.loads((tmp_path / "home" / "config.json").read_text())
    assert config["vault"] == f"s3://{bucket}/team"
    assert config["s3"][f"s3://{bucket}/team"] == {"endpoint_url": url, "region": "us-east-1"}
    # later commands find the endpoint without being told
    p = _refuge(tmp_path, "user", "add", "erin", "--role", "case-lead", "--passphrase-file", passphrase_file(tmp_path), **env)
    assert p.returncode == 0, p.stderr
    assert "erin" in _refuge(tmp_path, "user", "list", **env).stdout.decode()
    home_bytes = b"".join(p.read_bytes() for p in (tmp_path / "home").rglob("*") if p.is_file())
    from moto_s3 import s3_client

    c = s3_client(url)
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(k.startswith("team/") for k in keys)
    bucket_bytes = b"".join(c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys)
    for leak in (secret.encode(), b"testing", url.encode()):
        assert leak not in bucket_bytes
    assert secret.encode() not in home_bytes and b"AWS_" not in home_bytes


def test_another_person_connects_once_then_needs_no_endpoint(s3, tmp_path):
    url, bucket = s3
    env = dict(REFUGE_S3_ENDPOINT_URL=None)
    assert _refuge(tmp_path, "init", f"s3://{bucket}/v", "--admin", "alice", "--endpoint-url", url, **env).returncode == 0
    other = tmp_path / "zoe"
    p = _refuge(other, "user", "keygen", "zoe", "-o", str(tmp_path / "zoe.pub"), **env)
    assert p.returncode == 0, p.stderr
    assert _refuge(tmp_path, "user", "add", "zoe", "--role", "lawyer", "--public", str(tmp_path / "zoe.pub"),
                   **env).returncode == 0
    p = _refuge(other, "case", "list", REFUGE_VAULT=f"s3://{bucket}/v", AWS_MAX_ATTEMPTS="1", **env)
    assert p.returncode == 1 and b"cannot reach" in p.stderr  # zoe's home knows no endpoint yet
    p = _refuge(other, "vault", "connect", f"s3://{bucket}/v/", "--endpoint-url", url, **env)
    assert p.returncode == 0 and b"connected to vault" in p.stdout, p.stderr
    assert _refuge(other, "case", "list", **env).returncode == 0  # the vault and its endpoint are remembered


def test_init_refuses_a_prefix_that_is_not_empty(s3, tmp_path):
    url, bucket = s3
    _backend(url, bucket, prefix="used").put("something", b"x")
    err = _one_line_error(_refuge(tmp_path, "init", f"s3://{bucket}/used", "--admin", "alice"))
    assert "not empty" in err


# --- write-once audit: Object Lock -----------------------------------------------------------


@s3_only
@pytest.mark.vault_options(lock_days=2, lock_mode="GOVERNANCE")
def test_audit_entries_and_checkpoints_are_written_with_object_lock(case_world):
    w = case_world
    w.ok("audit", "verify", "--save-checkpoint", str(w.root / "cp"), user="dave")
    c = w.s3()
    settings = json.loads(w.read_object("vault"))
    assert settings["object_lock"] == {"mode": "GOVERNANCE", "days": 2}
    names = w.object_names()
    locked = [n for n in names if n.startswith(("audit/", "audit-checkpoints/"))]
    assert any(n.startswith("audit-checkpoints/") for n in locked) and len(locked) >= 4
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    for name in names:
        head = c.head_object(Bucket=w.bucket, Key=f"vault/{name}")
        if name in locked:
            assert head["ObjectLockMode"] == "GOVERNANCE", name
            assert abs((head["ObjectLockRetainUntilDate"] - soon).total_seconds()) < 600, name
        else:
            assert "ObjectLockMode" not in head, name
    # the holder of the bucket cannot remove a locked entry: deleting it only hides it
    # behind a delete marker, and deleting the entry's version itself is refused
    from botocore.exceptions import ClientError

    key = f"vault/{audit.entry_key(2)}"
    [version] = [v for v in c.list_object_versions(Bucket=w.bucket, Prefix=key)["Versions"] if v["Key"] == key]
    with pytest.raises(ClientError) as e:
        c.delete_object(Bucket=w.bucket, Key=key, VersionId=version["VersionId"])
    assert e.value.response["Error"]["Code"] == "AccessDenied"


@s3_only
@pytest.mark.vault_options(lock_days=1)
def test_destroyed_keys_lose_every_version_in_a_versioned_bucket(case_world):
    """Object Lock buckets keep versions: crypto-shredding a key must remove all of them."""
    w = case_world
    bob = w.open("bob").me.user_id
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    c = w.s3()
    left = [v["Key"] for page in c.get_paginator("list_object_versions").paginate(Bucket=w.bucket, Prefix="vault/cases/")
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []) if v["Key"].endswith("/" + bob)]
    assert left == []


def test_lock_options_are_checked(s3, tmp_path):
    url, bucket = s3
    err = _one_line_error(_refuge(tmp_path, "init", f"s3://{bucket}/v", "--admin", "alice", "--lock-days", "3"))
    assert "does not have Object Lock enabled" in err
    p = _refuge(tmp_path, "init", str(tmp_path / "v"), "--admin", "alice", "--lock-days", "3")
    assert p.returncode == 2 and b"s3://" in p.stderr
    p = _refuge(tmp_path, "init", f"s3://{bucket}/v", "--admin", "alice", "--lock-mode", "COMPLIANCE")
    assert p.returncode == 2 and b"--lock-days" in p.stderr
    # a default retention rule would lock case keys too, which revoking must be able to destroy
    from moto_s3 import make_bucket, s3_client

    locked = make_bucket(url, lock=True)
    s3_client(url).put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    err = _one_line_error(_refuge(tmp_path, "init", f"s3://{locked}/v", "--admin", "alice", "--lock-days", "3"))
    assert "default Object Lock retention rule" in err


# --- tampering through the bucket is caught -----------------------------------------------------


@s3_only
def test_edited_audit_entry_in_the_bucket_is_named(case_world):
    w = case_world
    key = audit.entry_key(3)
    record = json.loads(w.read_object(key))
    record["time"] = "2020-01-01T00:00:00Z"
    w.replace_object(key, canonical(record))
    p = w.run("audit", "verify", "--json", user="dave")
    assert p.returncode == 3 and json.loads(p.stdout)["problem"]["entry"] == 3


@s3_only
def test_flipped_byte_in_a_stored_document_is_caught(case_world, tmp_path):
    w = case_world
    [blob] = [n for n in w.object_names() if "/blobs/" in n]
    data = bytearray(w.read_object(blob))
    data[-20] ^= 1
    w.replace_object(blob, bytes(data))
    p = w.run("doc", "get", w.decl, "-o", str(tmp_path / "x"), user="bob")
    assert p.returncode == 3 and not (tmp_path / "x").exists()
    code = w.run("fsck", "--deep", "--json", user="bob").returncode
    assert code == 3


@s3_only
def test_deleted_case_event_in_the_bucket_is_caught(case_world):
    w = case_world
    events = [n for n in w.object_names() if "/events/" in n and n.startswith("cases/")]
    w.delete_object(events[1])
    p = w.run("doc", "list", "MX-0001", user="bob")  # bob read the case before: "rolled back"
    assert p.returncode == 3 and (b"missing" in p.stderr or b"rolled back" in p.stderr)


@s3_only
def test_fsck_on_s3_is_clean_and_repairs_a_leftover_upload(case_world):
    w = case_world
    p = w.run("fsck", "--deep", "--json", user="bob")
    assert p.returncode == 0, p.stdout
    w.s3().create_multipart_upload(Bucket=w.bucket, Key="vault/cases/x/blobs/half")
    p = w.run("fsck", "--json", user="bob")
    report = json.loads(p.stdout)
    assert p.returncode == 3 and [x["kind"] for x in report["problems"]] == ["leftover"]
    # moto dates every upload 2010-11-10, so it is old enough to repair (a fresh one would be kept)
    p = w.run("fsck", "--repair", "--json", user="bob")
    assert p.returncode == 0 and len(json.loads(p.stdout)["removed"]) == 1
    assert w.s3().list_multipart_uploads(Bucket=w.bucket).get("Uploads", []) == []


@s3_only
def test_a_refused_file_leaves_nothing_in_the_bucket(case_world, tmp_path):
    w = case_world
    before = [n for n in w.object_names() if not n.startswith("audit/")]
    (tmp_path / "empty.pdf").write_bytes(b"")
    p = w.run("doc", "add", "MX-0001", str(tmp_path / "empty.pdf"), "--type", "medical", user="bob")
    assert p.returncode == 1
    assert [n for n in w.object_names() if not n.startswith("audit/")] == before
    assert w.s3().list_multipart_uploads(Bucket=w.bucket).get("Uploads", []) == []


@s3_only
def test_no_object_in_the_bucket_holds_plaintext_content_names_or_references(case_world, tmp_path):
    w = case_world
    statement = tmp_path / "statement.txt"
    statement.write_text("Statement of Ana Quetzal Demo: she left Ciudad Ficticia on 3 March. Marker zq8w7e.\n" * 50)
    w.ok("doc", "add", "MX-0001", str(statement), "--type", "legal-declaration", "--tag", "tagzq8w",
         "--person", "Ana Quetzal Demo", "--title", "Titlezq8w", user="bob")
    w.ok("case", "create", "REFzq8w-77", "--title", "Another titlezq8w", user="erin")
    data = w.vault_bytes()
    names = "\n".join(w.object_names()).encode()
    for secret in (b"zq8w", b"Quetzal", b"Ciudad Ficticia", b"MX-0001", b"REFzq8w", b"statement", b"Resettlement",
                   b"legal-declaration", b"alice", b"erin", b"bob", b"carol", b"dave"):
        assert not holds(data, secret), secret
        assert not holds(names, secret), secret
    # S3 object metadata carries nothing either
    for name in w.object_names():
        assert w.s3().head_object(Bucket=w.bucket, Key=f"vault/{name}").get("Metadata", {}) == {}


# --- many writers at once ----------------------------------------------------------------------


def _hammer(home, location, name, seconds, folder, out):
    """One process: add small documents and audit entries to MX-0001 until time is up."""
    from vault.core import Vault
    from vault.identity import Home

    h = Home(home)
    v = Vault.open(location, h, lambda: h.unlock(name, PASSPHRASE))
    case = v.find_case("MX-0001")
    added, entries = [], 0
    deadline = time.time() + seconds
    i = 0
    while time.time() < deadline:
        i += 1
        path = os.path.join(folder, f"{name}-{i}.txt")
        with open(path, "w") as f:
            f.write(f"note {i} written by {name} at {time.time()}\n")
        with v.audited("doc.add") as targets:
            [r] = v.add_documents(case, [path], "correspondence")
            assert r.error is None, r.error
            targets["docs"] = [r.document.id]
        entries += 1
        v.audit_log.append(v.me, {"actor": v.me.user_id, "name": name, "role": v.role, "action": "test",
                                  "result": "ok", "i": i})
        entries += 1
        added.append((r.document.id, r.document.sha256))
    with open(out, "w") as f:
        json.dump({"added": added, "entries": entries}, f)


@s3_only
def test_four_writers_for_six_seconds_lose_and_overwrite_nothing(case_world, tmp_path):
    _four_writers(case_world, tmp_path, 6)


@pytest.mark.slow  # make stress: the same contention, longer
@s3_only
def test_four_writers_for_twenty_seconds_lose_and_overwrite_nothing(case_world, tmp_path):
    _four_writers(case_world, tmp_path, 20)


def _four_writers(w, tmp_path, seconds: int) -> None:
    """bob (twice), erin and carol add documents and audit entries at once for ``seconds``: nothing lost."""
    w.ok("case", "grant", "MX-0001", "carol", user="erin")
    before = len(list(w.open("dave").audit_log.numbers()))
    ctx = multiprocessing.get_context("fork")
    writers = ("bob", "erin", "carol", "bob")
    procs = []
    for n, name in enumerate(writers):
        folder = tmp_path / f"in{n}"
        folder.mkdir()
        procs.append(ctx.Process(target=_hammer, args=(str(w.home), str(w.vault), name, seconds, str(folder),
                                                       str(tmp_path / f"out{n}.json"))))
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    results = [json.loads((tmp_path / f"out{n}.json").read_text()) for n in range(len(writers))]
    added = {doc: sha for r in results for doc, sha in r["added"]}
    assert sum(len(r["added"]) for r in results) == len(added) > 8  # no two writers got the same document
    erin = w.open("erin")
    case = erin.find_case("MX-0001")
    assert {d: case.documents[d].sha256 for d in added} == added  # every document recorded, none lost
    for doc, sha in list(added.items())[:: max(1, len(added) // 10)]:  # and their bytes are theirs
        assert hashlib.sha256(erin.document_bytes(case.documents[doc])).hexdigest() == sha
    numbers = list(erin.audit_log.numbers())
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) == before + sum(r["entries"] for r in results)
    p = w.run("audit", "verify", "--json", user="dave")
    assert p.returncode == 0 and json.loads(p.stdout)["ok"]
    rows = json.loads(w.ok("audit", "log", "--action", "test", "--json", user="dave"))
    assert len(rows) == sum(r["entries"] for r in results) // 2
    p = w.run("fsck", "--deep", "--json", user="erin")
    assert p.returncode == 0, p.stdout
