"""Insiders: enrolled people who write to the storage directly, bypassing the refuge client.

Each test is an attack written the way an insider would write it: plain storage writes
(``World.storage()``), the library's low-level calls, and objects signed by hand with the
attacker's own key. Every one must end in refusal or detection, with the right exit code,
and no plaintext reaching the attacker. They run on the local folder and on S3 (moto).
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from conftest import PASSPHRASE
from vault import age, documents
from vault.errors import VerificationFailed
from vault.events import EventLog, canonical, now, sign_record
from vault.identity import Home, SecretIdentity


def _case_id(w) -> str:
    return w.decl.partition("-")[0]


def _add_medical(w, user="erin"):
    return w.run("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user=user)


def _plant_key_version(w, attacker, case_id: str, members: list[str], version: int) -> age.X25519Identity:
    """A key version of the attacker's own: wrapped to ``members`` and to himself, a marker he signs."""
    rogue = age.X25519Identity.generate()
    store = w.storage()
    users = attacker.directory.users
    for uid in sorted(set(members) | {attacker.me.user_id}):
        store.put(f"cases/{case_id}/keys/{version:04d}/{uid}",
                  age.encrypt_bytes([users[uid].public.age_recipient], f"{rogue}\n".encode()))
    marker = sign_record(attacker.me, {"case": case_id, "version": version, "members": sorted(members),
                                       "time": now()})
    store.put(f"cases/{case_id}/versions/{version:04d}", canonical(marker))
    return rogue


def _opens_anything(w, case_id: str, identities) -> bool:
    """Whether any blob or event of the case decrypts with ``identities``."""
    for key in w.object_names():
        if key.startswith((f"cases/{case_id}/blobs/", f"cases/{case_id}/events/")):
            try:
                age.decrypt_bytes(list(identities), w.read_object(key))
                return True
            except age.AgeError:
                continue
    return False


def _fsck_problems(w, user: str) -> list[dict]:
    p = w.run("fsck", "--json", user=user)
    assert p.returncode != 0, "fsck found nothing"
    return json.loads(p.stdout)["problems"] if p.stdout.strip() else []


# --- key versions ----------------------------------------------------------------------------------


def test_outsider_key_version_is_never_used(case_world):
    """carol, a lawyer who is no member, plants version 2 wrapped to the members and herself."""
    w = case_world
    carol, erin = w.open("carol"), w.open("erin")
    cid = _case_id(w)
    members = sorted(erin.load_case(cid).members)
    rogue = _plant_key_version(w, carol, cid, members, 2)
    p = _add_medical(w)
    assert p.returncode == 3 and b"not signed by a member" in p.stderr
    p = w.run("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--note", "form signed", user="erin")
    assert p.returncode == 3
    assert not _opens_anything(w, cid, [rogue, carol.me.age_identity])
    problems = _fsck_problems(w, "erin")
    assert any(pr["object"] == f"cases/{cid}/versions/0002" and pr["kind"] == "unverified key version"
               for pr in problems)


def test_removed_person_key_version_is_never_used(case_world):
    """bob is removed but kept his keys: he plants a version with the directory key he kept."""
    w = case_world
    bob = w.open("bob")  # what bob's laptop holds from before his removal
    cid = _case_id(w)
    members = sorted(bob.load_case(cid).members)
    held = dict(bob._case_identities(cid))
    w.ok("user", "remove", "bob", user="alice")
    rogue = _plant_key_version(w, bob, cid, members, 2)
    assert _add_medical(w).returncode == 3
    assert w.run("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin").returncode == 3
    assert not _opens_anything(w, cid, [rogue])  # nothing was ever encrypted to his key
    assert len([k for k in w.object_names() if k.startswith(f"cases/{cid}/blobs/")]) == 1  # no new document
    assert held  # (he still reads what he could read before: a member who held a key keeps it)
    assert any(pr["object"] == f"cases/{cid}/versions/0002" and "not a member" in pr["message"]
               for pr in _fsck_problems(w, "erin"))


def test_lawyer_member_cannot_rotate_or_grant(case_world):
    """bob, a lawyer member, signs a grant of carol with the case key he holds: every reader refuses it."""
    w = case_world
    bob = w.open("bob")
    cid = _case_id(w)
    case = bob.load_case(cid)
    identity = bob._case_identities(cid)[case.key_version]
    record = sign_record(bob.me, {"seq": case.last_seq + 1, "prev": case.last_digest, "type": "member.granted",
                                  "time": now(), "data": {"users": [w.open("carol").me.user_id]},
                                  "case": cid, "dir": bob.directory.last_seq})
    w.storage().put(f"cases/{cid}/events/{case.last_seq + 1:08d}", age.encrypt_bytes([identity.recipient], canonical(record)))
    p = w.run("doc", "list", "MX-0001", user="erin")
    assert p.returncode == 3 and b"is refused" in p.stderr and b"lawyer" in p.stderr
    p = w.run("doc", "list", "MX-0001", user="carol")
    assert p.returncode != 0 and not p.stdout  # carol holds no key: the forged grant gives her nothing
    assert any(pr["kind"] == "broken" for pr in _fsck_problems(w, "erin"))


def test_removed_person_event_is_refused(case_world):
    """bob, removed, still holds the case key and signs one more event at a directory position after his removal."""
    w = case_world
    bob = w.open("bob")
    cid = _case_id(w)
    case = bob.load_case(cid)
    identity = bob._case_identities(cid)[case.key_version]
    w.ok("user", "remove", "bob", user="alice")
    after = w.open("erin").directory.last_seq
    record = sign_record(bob.me, {"seq": case.last_seq + 1, "prev": case.last_digest, "type": "doc.tagged",
                                  "time": now(), "data": {"id": w.decl, "add": ["forged"], "remove": []},
                                  "case": cid, "dir": after})
    w.storage().put(f"cases/{cid}/events/{case.last_seq + 1:08d}", age.encrypt_bytes([identity.recipient], canonical(record)))
    p = w.run("doc", "list", "MX-0001", user="erin")
    assert p.returncode == 3 and b"removed" in p.stderr
    assert any(pr["kind"] == "broken" and f"event {case.last_seq + 1}" in pr["message"]
               for pr in _fsck_problems(w, "erin"))


# --- the directory ---------------------------------------------------------------------------------


def _enroll(w, name: str, role: str):
    home = Home(w.home)
    secret = SecretIdentity.generate(name)
    home.create(secret, PASSPHRASE)
    w.open("alice").add_user(secret.public, role)
    return w.open(name)


def test_case_lead_who_is_no_member_cannot_release_a_hold_and_close(case_world):
    """frank, a case lead but no member, appends case.released and case.closed (purge date past) himself."""
    w = case_world
    cid = _case_id(w)
    w.ok("case", "hold", "MX-0001", "--reason", "court order 2026-17", user="erin")
    frank = _enroll(w, "frank", "case-lead")
    d = frank.directory
    log = EventLog(w.storage(), "directory/events")
    to = [frank._dir_identity.recipient]
    released = log.append(frank.me, "case.released", {"case": cid, "reason": ""}, to, lambda: (d.last_seq, d.last_digest))
    log.append(frank.me, "case.closed", {"case": cid, "retain": None, "purge_after": "2000-01-01"}, to,
               lambda: (released.seq, released.digest))
    p = w.run("retention", "due", user="alice")
    assert p.returncode == 3 and b"is refused" in p.stderr and b"not a member" in p.stderr
    assert w.run("case", "purge", cid, "--yes", user="alice").returncode == 3
    assert any(k.startswith(f"cases/{cid}/blobs/") for k in w.object_names())  # nothing destroyed
    p = w.run("fsck", user="erin")
    assert p.returncode == 3 and f"event {released.seq}".encode() in p.stderr


@pytest.mark.s3_in_stress("a library call refused before anything is written")
def test_admin_cannot_close_a_case(case_world):
    """Closing is a case lead's (who is a member); an admin's hand-made case.closed is refused."""
    w = case_world
    alice = w.open("alice")
    from vault.people import append_directory

    with pytest.raises(VerificationFailed):
        append_directory(alice, "case.closed", {"case": _case_id(w), "retain": None, "purge_after": "2000-01-01"})
    assert w.run("retention", "due", user="alice").returncode == 3


def test_deleted_directory_tail_is_detected(case_world):
    """Someone deletes the newest directory event (bob's removal) to undo it."""
    w = case_world
    w.ok("user", "remove", "bob", user="alice")
    w.ok("user", "list", user="erin")  # this REFUGE_HOME saw the removal
    last = max(k for k in w.object_names() if k.startswith("directory/events/"))
    w.delete_object(last)
    p = w.run("user", "list", user="erin")
    assert p.returncode == 3 and b"rolled back" in p.stderr


# --- rollback of a revocation ---------------------------------------------------------------------


def test_revoked_member_undoing_his_revocation_is_detected(case_world, tmp_path):
    """bob deletes the rotation's marker, wraps and member.revoked, and re-wraps the old key to himself."""
    w = case_world
    bob = w.open("bob")
    cid = _case_id(w)
    held = dict(bob._case_identities(cid))
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    store = w.storage()
    for key in w.object_names():
        if key.startswith((f"cases/{cid}/versions/0002", f"cases/{cid}/keys/0002/")):
            store.delete(key)
    last = max(k for k in w.object_names() if k.startswith(f"cases/{cid}/events/"))
    store.delete(last)  # the member.revoked event
    store.put(f"cases/{cid}/keys/0001/{bob.me.user_id}",
              age.encrypt_bytes([bob.me.age_identity.recipient], f"{held[1]}\n".encode()))
    p = _add_medical(w)
    assert p.returncode == 3 and (b"missing" in p.stderr or b"rolled back" in p.stderr)
    assert len([k for k in w.object_names() if k.startswith(f"cases/{cid}/blobs/")]) == 1  # nothing new to read


def test_revocation_during_an_upload_rewraps_the_document(case_world, monkeypatch):
    """carol is revoked while bob's document is uploading: it is committed under the new version only."""
    w = case_world
    w.ok("case", "grant", "MX-0001", "carol", user="erin")
    carol = w.open("carol")
    cid = _case_id(w)
    held = dict(carol._case_identities(cid))
    real = documents._inspect_and_store  # the check and the encrypted store of the file, on every backend

    def store_then_revoke(v, key, path, recipient, *args):
        out = real(v, key, path, recipient, *args)
        erin = w.open("erin")
        erin.revoke(erin.load_case(cid), ["carol"])  # a second writer rotates the key meanwhile
        return out

    monkeypatch.setattr(documents, "_inspect_and_store", store_then_revoke)
    bob = w.open("bob")
    [result] = bob.add_documents(bob.load_case(cid), [str(w.docs["medical"])], "medical")
    assert result.error is None, result.error
    doc = result.document
    assert doc.key_version == 2
    blobs = [k for k in w.object_names() if k.startswith(f"cases/{cid}/blobs/")]
    assert len(blobs) == 2  # the first upload's blob was replaced, not left behind
    data = w.read_object(f"cases/{cid}/blobs/{doc.blob}")
    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([carol.me.age_identity, *held.values()], data)
    assert w.open("erin").document_bytes(doc) == w.docs["medical"].read_bytes()
    assert w.run("fsck", "--deep", user="erin").returncode == 0


# --- the audit log ---------------------------------------------------------------------------------


@pytest.mark.s3_in_stress("a rule of signed audit entries; edited entries in the bucket are in tests/test_s3.py")
def test_audit_entry_naming_another_actor_is_refused(case_world):
    """bob signs an entry that says erin exported the case key."""
    w = case_world
    bob, erin = w.open("bob"), w.open("erin")
    bob.audit_log.append(bob.me, {"actor": erin.me.user_id, "name": "erin", "role": "case-lead",
                                  "action": "case.export-key", "result": "ok", "case": _case_id(w)})
    p = w.run("audit", "verify", "--json", user="dave")
    assert p.returncode == 3
    assert json.loads(p.stdout)["problem"]["kind"] == "forged actor"
    assert any(pr["kind"] == "forged actor" for pr in _fsck_problems(w, "dave"))


def test_killed_doc_get_leaves_an_entry(case_world):
    """A doc get killed as soon as plaintext arrives has already recorded the read."""
    w = case_world
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "doc", "get", w.decl], env=w.env("bob"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=w.root)
    first = proc.stdout.read(1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert first  # plaintext arrived
    rows = json.loads(w.ok("audit", "log", "--json", user="dave"))
    assert any(r["name"] == "bob" and r["action"] == "doc.get" and r["result"] == "started"
               and r.get("doc") == w.decl for r in rows)


# --- storage honesty -------------------------------------------------------------------------------


class _StripIfNoneMatch(BaseHTTPRequestHandler):
    """Forward every request to the S3 server, without If-None-Match (as s3rver behaves)."""

    protocol_version = "HTTP/1.1"
    target = ("127.0.0.1", 0)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("if-none-match", "expect", "connection")}
        conn = http.client.HTTPConnection(*self.target, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", resp.getheader("Content-Length", str(len(data)))
                         if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def lying_s3(world):
    """An endpoint in front of the test's S3 server that ignores If-None-Match."""
    if world.backend != "s3":
        pytest.skip("S3 only")
    url = urlparse(world.s3_url)
    handler = type("Handler", (_StripIfNoneMatch,), {"target": (url.hostname, url.port)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_server_ignoring_if_none_match_is_refused(world, lying_s3, tmp_path):
    from moto_s3 import make_bucket

    bucket = make_bucket(world.s3_url)
    env = {"REFUGE_S3_ENDPOINT_URL": lying_s3, "REFUGE_HOME": str(tmp_path / "h2"), "REFUGE_VAULT": ""}
    p = world.run("init", f"s3://{bucket}/v", "--admin", "zed", "--endpoint-url", lying_s3, **env)
    assert p.returncode != 0 and b"If-None-Match" in p.stderr and p.stderr.count(b"\n") == 1
    assert not world.s3().list_objects_v2(Bucket=bucket).get("Contents")  # nothing was written
    p = world.run("vault", "connect", str(world.vault), "--endpoint-url", lying_s3, **env)
    assert p.returncode != 0 and b"If-None-Match" in p.stderr
    assert b"try again" not in p.stderr and b"again later" not in p.stderr


@pytest.mark.s3_in_stress("a library call refused before anything is written")
def test_case_lead_cannot_mirror_himself_into_a_case(case_world):
    """frank, a case lead but no member, appends a case.members that lists him, to close the case next."""
    w = case_world
    cid = _case_id(w)
    frank = _enroll(w, "frank", "case-lead")
    members = frank.directory.members[cid]
    from vault.people import append_directory

    with pytest.raises(VerificationFailed, match="not a member"):
        append_directory(frank, "case.members", {"case": cid, "members": sorted([*members, frank.me.user_id]),
                                                 "key_version": 1})
    p = w.run("case", "close", "MX-0001", user="erin")
    assert p.returncode == 3 and b"case.members" in p.stderr
