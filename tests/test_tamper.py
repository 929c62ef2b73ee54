"""Rewriting the vault's history is detected: exit 3, never a silent misread."""

import json

import pytest

from vault import age
from vault.errors import VerificationFailed
from vault.events import canonical, sign_record

pytestmark = pytest.mark.local_only("rewrites files on disk; tests/test_s3.py tampers through the bucket")


def _events(world):
    [case_dir] = list((world.vault / "cases").iterdir())
    return sorted((case_dir / "events").iterdir())


def test_deleted_case_event_is_detected(case_world):
    events = _events(case_world)
    events[1].unlink()
    p = case_world.run("doc", "list", "MX-0001", user="bob")
    assert p.returncode in (1, 3)
    with pytest.raises(VerificationFailed, match="missing"):
        case_world.open("erin").load_case(events[0].parent.parent.name)


def test_swapped_case_events_are_detected(case_world):
    a, b = _events(case_world)[1:3]
    da, db = a.read_bytes(), b.read_bytes()
    a.unlink(), b.unlink()
    a.write_bytes(db), b.write_bytes(da)
    p = case_world.run("case", "export-key", "MX-0001", "-o", "k", user="erin")
    assert p.returncode == 3 or p.returncode == 1
    with pytest.raises(VerificationFailed):
        case_world.open("erin").load_case(a.parent.parent.name)


def test_flipped_byte_in_a_document_is_detected(case_world, tmp_path):
    [blob] = list(case_world.vault.glob("cases/*/blobs/*"))
    data = bytearray(blob.read_bytes())
    data[-20] ^= 1
    blob.unlink()
    blob.write_bytes(bytes(data))
    p = case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "x"), user="bob")
    assert p.returncode == 3 and not (tmp_path / "x").exists()


def test_forged_event_by_a_member_with_a_wrong_author_is_refused(case_world):
    """bob holds the case key but cannot sign as erin: a forged grant is caught."""
    bob = case_world.open("bob")
    events = _events(case_world)
    case_id = events[0].parent.parent.name
    case = bob.load_case(case_id)
    record = sign_record(bob.me, {"seq": case.last_seq + 1, "prev": case.last_digest, "type": "member.granted",
                                  "time": "2026-01-01T00:00:00Z", "data": {"users": ["uevil"]}, "case": case_id})
    record["author"] = case.created_by  # claim erin wrote it
    identity = bob._case_identities(case_id)[1]
    (events[0].parent / f"{case.last_seq + 1:08d}").write_bytes(age.encrypt_bytes([identity.recipient], canonical(record)))
    with pytest.raises(VerificationFailed, match="signature"):
        case_world.open("erin").load_case(case_id)


def test_enrolment_forged_by_a_non_admin_is_detected(world):
    """bob has the directory key (everyone does) but is no admin: his enrolment of a key is refused."""
    bob = world.open("bob")
    from vault.identity import SecretIdentity

    mallory = SecretIdentity.generate("mallory")
    d = bob.directory
    record = sign_record(bob.me, {"seq": d.last_seq + 1, "prev": d.last_digest, "type": "user.enrolled",
                                  "time": "2026-01-01T00:00:00Z", "data": {"user": mallory.public.fields(), "role": "admin"}})
    (world.vault / "directory" / "events" / f"{d.last_seq + 1:08d}").write_bytes(
        age.encrypt_bytes([bob._dir_identity.recipient], canonical(record)))
    p = world.run("user", "list", user="alice")
    assert p.returncode == 3 and b"not signed by an enrolled admin" in p.stderr


def test_replaced_vault_anchor_is_detected(world):
    settings = json.loads((world.vault / "vault").read_text())
    from vault.identity import SecretIdentity

    settings["anchor"] = __import__("base64").b64encode(SecretIdentity.generate("x").public.sign_pub).decode()
    (world.vault / "vault").unlink()
    (world.vault / "vault").write_bytes(canonical(settings))
    p = world.run("user", "list", user="alice")
    assert p.returncode == 3


def test_deleted_old_event_is_detected_even_with_a_warm_cache(case_world):
    case_world.ok("doc", "list", "MX-0001", user="bob")  # bob's cache now ends at the last event
    _events(case_world)[1].unlink()
    p = case_world.run("doc", "list", "MX-0001", user="bob")
    assert p.returncode == 3 and b"missing" in p.stderr


def test_rolled_back_case_is_detected_by_a_member_who_saw_it_newer(case_world):
    case_world.ok("doc", "list", "MX-0001", user="bob")
    _events(case_world)[-1].unlink()  # the storage holder hides the newest event
    p = case_world.run("doc", "list", "MX-0001", user="bob")
    assert p.returncode == 3 and b"rolled back" in p.stderr


def test_key_version_slipped_in_by_an_auditor_is_refused(case_world):
    """dave can write to storage and sign, but no auditor may add a case key version."""
    from vault import age as agelib

    dave = case_world.open("dave")
    erin = case_world.open("erin")
    case_id = case_world.decl.partition("-")[0]
    case = erin.load_case(case_id)
    rogue = agelib.X25519Identity.generate()
    for uid in case.members:
        user = erin.directory.users[uid]
        (case_world.vault / "cases" / case_id / "keys" / "0002").mkdir(exist_ok=True)
        (case_world.vault / "cases" / case_id / "keys" / "0002" / uid).write_bytes(
            agelib.encrypt_bytes([user.public.age_recipient], f"{rogue}\n".encode()))
    marker = sign_record(dave.me, {"case": case_id, "version": 2, "members": sorted(case.members), "time": "2026-01-01T00:00:00Z"})
    (case_world.vault / "cases" / case_id / "versions" / "0002").write_bytes(canonical(marker))
    p = case_world.run("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical", user="bob")
    assert p.returncode == 3 and b"not signed by a member" in p.stderr
