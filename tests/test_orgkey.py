"""The organisation signing key in the vault: who holds it, how it is stored, rotated, imported."""

from __future__ import annotations

import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from conftest import PASSPHRASE, derived_world, passphrase_file, require_tool
from signing_fixtures import ca_issued, org_key

from vault import orgkey
from vault.errors import InvalidInput, NotPermitted, VerificationFailed


@pytest.fixture
def keyed(world, request):
    # Made once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, world, "test_orgkey", _generate)


def _generate(w) -> dict:
    w.ok("keys", "org", "generate", "--name", "Test Legal Clinic", user="alice")
    return {}


def _ids(world) -> dict:
    return {u["name"]: u["id"] for u in json.loads(world.ok("user", "list", "--json", user="alice"))}


@pytest.mark.s3_in_stress("a rule of the application")
def test_generate_is_for_admins_only(world):
    p = world.run("keys", "org", "generate", "--name", "Test Legal Clinic", user="erin")
    assert p.returncode == 4 and b"admin" in p.stderr
    assert not [k for k in world.object_names() if k.startswith("org/")]


def test_key_is_wrapped_to_admins_and_case_leads_only_and_never_in_plaintext(keyed):
    ids = _ids(keyed)
    names = [k for k in keyed.object_names() if k.startswith("org/")]
    assert sorted(names) == sorted(["org/0001/cert.pem", "org/0001/marker", f"org/0001/key/{ids['alice']}",
                                    f"org/0001/key/{ids['erin']}"])
    assert b"PRIVATE KEY" not in keyed.vault_bytes()
    for k in names:
        if "/key/" in k:
            assert keyed.read_object(k).startswith(b"age-encryption.org/v1\n")
    cert = x509.load_pem_x509_certificate(keyed.read_object("org/0001/cert.pem"))
    assert cert.subject.rfc4514_string() == "O=Test Legal Clinic,CN=Test Legal Clinic"


@pytest.mark.s3_in_stress("interop with the age CLI; the wrapped key's storage is checked on both backends above")
def test_the_age_cli_recovers_the_key(keyed, tmp_path):
    from vault.identity import Home

    age = require_tool("age")
    home_key = tmp_path / "alice.key"  # what `age -d identities/alice.age` gives (it asks the passphrase on a terminal)
    home_key.write_text(str(Home(keyed.home).unlock("alice", PASSPHRASE).age_identity) + "\n")
    wrapped = tmp_path / "wrapped.age"
    wrapped.write_bytes(keyed.read_object(f"org/0001/key/{_ids(keyed)['alice']}"))
    pem = subprocess.run([age, "-d", "-i", str(home_key), str(wrapped)], capture_output=True, check=True).stdout
    private = serialization.load_pem_private_key(pem, None)
    cert = x509.load_pem_x509_certificate(keyed.read_object("org/0001/cert.pem"))
    assert private.public_key().public_numbers() == cert.public_key().public_numbers()


def test_people_enrolled_later_get_a_copy_by_role_and_removal_deletes_it(keyed, tmp_path):
    keyed.ok("user", "add", "frank", "--role", "case-lead", "--passphrase-file", passphrase_file(tmp_path), user="alice")
    keyed.ok("user", "add", "gina", "--role", "admin", "--passphrase-file", passphrase_file(tmp_path), user="alice")
    keyed.ok("user", "add", "hugo", "--role", "lawyer", "--passphrase-file", passphrase_file(tmp_path), user="alice")
    ids = _ids(keyed)
    held = lambda: {k.rsplit("/", 1)[1] for k in keyed.object_names() if k.startswith("org/0001/key/")}  # noqa: E731
    assert ids["frank"] in held() and ids["gina"] in held() and ids["hugo"] not in held()
    keyed.ok("user", "remove", "frank", user="alice")
    assert ids["frank"] not in held()


def test_a_copy_left_for_a_removed_person_is_reported_and_repaired(keyed, tmp_path):
    """A removal cut off after its event and before the copies were deleted (simulated: frank's copy
    written back, as someone with the storage could also do) leaves frank able to sign as the
    organisation: fsck names the copy, and an admin's repair deletes it."""
    import os
    import time

    keyed.ok("user", "add", "frank", "--role", "case-lead", "--passphrase-file", passphrase_file(tmp_path), user="alice")
    copy = f"org/0001/key/{_ids(keyed)['frank']}"
    kept = keyed.read_object(copy)
    keyed.ok("user", "remove", "frank", user="alice")
    keyed.replace_object(copy, kept)
    report = json.loads(keyed.run("fsck", "--json", user="alice").stdout)
    assert [(p["object"], p["kind"]) for p in report["problems"]] == [(copy, "leftover")]
    if keyed.backend == "local":  # (repair waits a minute after the last write: the copy is dated back)
        old = time.time() - 3600
        os.utime(keyed.vault.joinpath(*copy.split("/")), (old, old))
        keyed.ok("fsck", "--repair", user="alice")
        assert copy not in keyed.object_names()
        assert json.loads(keyed.run("fsck", "--json", user="alice").stdout)["problems"] == []


@pytest.mark.s3_in_stress("a rule of the application")
def test_cert_show_and_rotation(keyed, tmp_path):
    out = keyed.ok("keys", "org", "cert", "-o", str(tmp_path / "org.pem"), user="bob")  # anyone enrolled
    cert = x509.load_pem_x509_certificate((tmp_path / "org.pem").read_bytes())
    shown = json.loads(keyed.ok("keys", "org", "show", "--json", user="dave"))
    assert shown["version"] == 1 and shown["sha256"] in out and shown["tsa"] is None
    keyed.ok("keys", "org", "generate", "--name", "Test Legal Clinic", user="alice")
    shown2 = json.loads(keyed.ok("keys", "org", "show", "--json", user="erin"))
    assert shown2["version"] == 2 and shown2["sha256"] != shown["sha256"]
    assert "org/0001/cert.pem" in keyed.object_names()  # the old certificate stays for old packets
    assert cert.serial_number != x509.load_pem_x509_certificate(keyed.ok("keys", "org", "cert", user="erin").encode()).serial_number


def test_unwrap_checks_the_certificate_and_marker(keyed):
    vault = keyed.open("erin")
    key = orgkey.unwrap(vault)
    assert key.version == 1 and key.cert_der
    other = org_key("Impostor")[1]
    keyed.replace_object("org/0001/cert.pem", other)
    with pytest.raises(VerificationFailed, match="replaced"):
        orgkey.unwrap(keyed.open("erin"))
    p = keyed.run("keys", "org", "show", user="erin")
    assert p.returncode == 3 and p.stderr.count(b"\n") == 1


@pytest.mark.s3_in_stress("a replaced object of org/ is refused on S3 in test_unwrap_checks_the_certificate_and_marker")
def test_a_marker_not_signed_by_an_admin_is_refused(keyed):
    data = json.loads(keyed.read_object("org/0001/marker"))
    data["holders"] = []
    keyed.replace_object("org/0001/marker", json.dumps(data).encode())
    with pytest.raises(VerificationFailed, match="not signed by an admin"):
        orgkey.current(keyed.open("alice"))


@pytest.mark.s3_in_stress("a rule of the application")
def test_no_key_and_not_wrapped_are_clear(world):
    with pytest.raises(InvalidInput, match="no organisation signing key") as raised:
        orgkey.unwrap(world.open("erin"))
    assert raised.value.hint == "org-generate"
    world.ok("keys", "org", "generate", "--name", "Test Legal Clinic", user="alice")
    with pytest.raises(NotPermitted, match="case-lead or admin"):
        orgkey.unwrap(world.open("bob"))
    # a case lead whose copy was lost gets it back from an admin
    erin = _ids(world)["erin"]
    world.delete_object(f"org/0001/key/{erin}")
    with pytest.raises(NotPermitted, match="not wrapped to erin") as raised:
        orgkey.unwrap(world.open("erin"))
    assert raised.value.hint == "org-rewrap"
    assert "erin" in world.ok("keys", "org", "rewrap", user="alice")
    assert orgkey.unwrap(world.open("erin")).version == 1


@pytest.mark.s3_in_stress("a rule of the application")
def test_import_p12_with_passphrase(world, tmp_path):
    _key, key_pem, cert_pem, ca_pem = ca_issued("Imported Clinic")
    private = serialization.load_pem_private_key(key_pem, None)
    p12 = pkcs12.serialize_key_and_certificates(
        b"org", private, x509.load_pem_x509_certificate(cert_pem), [x509.load_pem_x509_certificate(ca_pem)],
        serialization.BestAvailableEncryption(b"p12 passphrase"))
    (tmp_path / "org.p12").write_bytes(p12)
    (tmp_path / "pw").write_text("wrong passphrase\n")
    p = world.run("keys", "org", "import", str(tmp_path / "org.p12"), "--passphrase-file", str(tmp_path / "pw"),
                  user="alice")
    assert p.returncode == 1 and b"passphrase" in p.stderr
    (tmp_path / "pw").write_text("p12 passphrase\n")
    world.ok("keys", "org", "import", str(tmp_path / "org.p12"), "--passphrase-file", str(tmp_path / "pw"), user="alice")
    shown = json.loads(world.ok("keys", "org", "show", "--json", user="alice"))
    assert shown["chain"] == 2 and "Imported Clinic" in shown["subject"] and not shown["self_signed"]
    chain = world.ok("keys", "org", "cert", "--chain", user="alice")
    assert chain.count("BEGIN CERTIFICATE") == 2


@pytest.mark.s3_in_stress("a rule of the application")
def test_import_pem_and_refusals(world, tmp_path):
    _key, key_pem, cert_pem, ca_pem = ca_issued("PEM Clinic")
    (tmp_path / "k.pem").write_bytes(key_pem)
    (tmp_path / "c.pem").write_bytes(cert_pem)
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    (tmp_path / "other.pem").write_bytes(org_key("Other")[1])
    p = world.run("keys", "org", "import", "--key", str(tmp_path / "k.pem"), "--cert", str(tmp_path / "other.pem"),
                  user="alice")
    assert p.returncode == 1 and b"does not belong" in p.stderr
    p = world.run("keys", "org", "import", "--key", str(tmp_path / "k.pem"), user="alice")
    assert p.returncode == 2
    p = world.run("keys", "org", "import", "--key", str(tmp_path / "k.pem"), "--cert", str(tmp_path / "c.pem"), user="erin")
    assert p.returncode == 4
    world.ok("keys", "org", "import", "--key", str(tmp_path / "k.pem"), "--cert", str(tmp_path / "c.pem"),
             "--chain", str(tmp_path / "ca.pem"), user="alice")
    assert json.loads(world.ok("keys", "org", "show", "--json", user="alice"))["chain"] == 2


@pytest.mark.s3_in_stress("a rule of the application")
def test_timestamp_authority_setting_is_signed_and_admin_only(keyed):
    p = keyed.run("keys", "org", "tsa", "http://127.0.0.1:9/tsa", user="erin")
    assert p.returncode == 4
    p = keyed.run("keys", "org", "tsa", "ftp://example/tsa", user="alice")
    assert p.returncode == 1
    keyed.ok("keys", "org", "tsa", "http://127.0.0.1:9/tsa", user="alice")
    assert keyed.ok("keys", "org", "tsa", user="erin").strip() == "http://127.0.0.1:9/tsa"
    keyed.ok("keys", "org", "tsa", "--none", user="alice")
    assert keyed.ok("keys", "org", "tsa", user="erin").startswith("none")
    last = [k for k in keyed.object_names() if k.startswith("org/tsa/")][-1]
    data = json.loads(keyed.read_object(last))
    data["url"] = "http://attacker.example/tsa"
    keyed.replace_object(last, json.dumps(data).encode())
    assert keyed.run("keys", "org", "tsa", user="erin").returncode == 3


@pytest.mark.s3_in_stress("a rule of the application")
def test_keys_commands_are_audited(keyed):
    log = json.loads(keyed.ok("audit", "log", "--action", "keys", "--json", user="dave"))
    assert any(e["action"] == "keys.org.generate" and e["result"] == "ok" and e["name"] == "alice" for e in log)
