"""Only members read a case, and that is enforced by the keys themselves."""

import pytest

from vault import age
from vault.errors import NotPermitted


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_outsider_lawyer_is_refused_with_exit_4_and_no_file(case_world, tmp_path):
    p = case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "x.pdf"), user="carol")
    assert p.returncode == 4 and not (tmp_path / "x.pdf").exists()
    assert p.stderr.decode().startswith("refuge: error: ") and p.stderr.count(b"\n") == 1


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_auditor_is_refused_with_exit_4(case_world, tmp_path):
    p = case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "y.pdf"), user="dave")
    assert p.returncode == 4 and b"auditor" in p.stderr
    assert case_world.run("doc", "list", "MX-0001", user="dave").returncode == 4


@pytest.mark.local_only("reads blob and event files on disk")
def test_outsider_holds_no_key_that_opens_the_document(case_world):
    carol = case_world.open("carol")
    blobs = list(case_world.vault.glob("cases/*/blobs/*"))
    for blob in blobs:
        with pytest.raises(age.NoIdentityMatch):
            age.decrypt_bytes([carol.me.age_identity], blob.read_bytes())
    with pytest.raises(NotPermitted):
        carol._require_member(blobs[0].parts[-3])


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_granted_member_reads_older_documents(case_world, tmp_path):
    case_world.ok("case", "grant", "MX-0001", "carol", user="erin")
    case_world.ok("doc", "get", case_world.decl, "-o", str(tmp_path / "c.pdf"), user="carol")
    assert (tmp_path / "c.pdf").read_bytes() == case_world.docs["declaration"].read_bytes()


@pytest.mark.local_only("reads blob and event files on disk")
def test_revoked_member_cannot_read_new_documents_even_with_every_key_they_held(case_world, tmp_path):
    bob = case_world.open("bob")
    case_id = case_world.decl.partition("-")[0]
    held = dict(bob._case_identities(case_id))  # a copy of everything bob ever held
    case_world.ok("case", "revoke", "MX-0001", "bob", user="erin")
    new = case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical", user="erin").strip()
    p = case_world.run("doc", "get", new, "-o", str(tmp_path / "n.pdf"), user="bob")
    assert p.returncode == 4 and not (tmp_path / "n.pdf").exists()
    erin = case_world.open("erin")
    _, doc = erin.find_document(new)
    blob = case_world.vault / "cases" / case_id / "blobs" / doc.blob
    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([bob.me.age_identity, *held.values()], blob.read_bytes())
    # and the events written after the revocation are closed to bob's keys as well
    last = sorted((case_world.vault / "cases" / case_id / "events").iterdir())[-1]
    with pytest.raises(age.NoIdentityMatch):
        age.decrypt_bytes([bob.me.age_identity, *held.values()], last.read_bytes())


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_removed_person_loses_new_documents_after_the_next_write(case_world):
    case_world.ok("user", "remove", "bob", user="alice")
    assert case_world.run("doc", "list", "MX-0001", user="bob").returncode == 4
    new = case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical", user="erin").strip()
    erin = case_world.open("erin")
    case, doc = erin.find_document(new)
    assert doc.key_version == 2 and erin.directory.by_name("bob").user_id not in case.members


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_roles_are_checked(case_world):
    assert case_world.run("case", "create", "MX-0002", user="bob").returncode == 4
    assert case_world.run("case", "grant", "MX-0001", "carol", user="bob").returncode == 4
    assert case_world.run("user", "add", "zoe", "--role", "lawyer", user="erin").returncode == 4
    assert case_world.run("case", "create", "MX-0003", user="dave").returncode == 4


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_auditors_and_admins_cannot_be_made_members(case_world):
    p = case_world.run("case", "grant", "MX-0001", "dave", user="erin")
    assert p.returncode == 1 and b"auditor" in p.stderr


@pytest.mark.s3_in_stress("a membership rule of the application")
def test_refusals_are_recorded_in_the_audit_log(case_world, tmp_path):
    case_world.run("doc", "get", case_world.decl, "-o", str(tmp_path / "x"), user="carol")
    log = case_world.open("dave").audit_log
    entries = [e.body for e in log.entries()]
    assert any(e["name"] == "carol" and e["action"] == "doc.get" and e["result"] == "denied"
               and e["doc"] == case_world.decl for e in entries)
    assert any(e["name"] == "bob" and e["action"] == "doc.add" and e["result"] == "ok" for e in entries)
