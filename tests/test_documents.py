"""Documents go in byte-exact, come out byte-exact, and leave no plaintext in the vault."""

import hashlib
import json

import pytest
from conftest import holds

from vault import age


def test_document_comes_back_byte_exact(case_world, tmp_path):
    out = tmp_path / "got.pdf"
    case_world.ok("doc", "get", case_world.decl, "-o", str(out), user="bob")
    assert out.read_bytes() == case_world.docs["declaration"].read_bytes()


@pytest.mark.s3_in_stress("a rule of the application")
def test_doc_add_json_prints_ids_and_hashes(case_world):
    out = case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), str(case_world.docs["passport"]),
                        "--type", "medical", "--json", user="bob")
    added = json.loads(out)
    assert [a["sha256"] for a in added] == [hashlib.sha256(case_world.docs[k].read_bytes()).hexdigest()
                                            for k in ("medical", "passport")]
    listed = json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))
    assert {d["id"] for d in listed} == {case_world.decl, *(a["id"] for a in added)}


@pytest.mark.s3_in_stress("a rule of the application")
def test_doc_list_filters_by_type_and_tag(case_world):
    case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical", "--tag", "urgent", user="bob")
    by_type = json.loads(case_world.ok("doc", "list", "MX-0001", "--type", "medical", "--json", user="bob"))
    by_tag = json.loads(case_world.ok("doc", "list", "MX-0001", "--tag", "urgent", "--json", user="bob"))
    assert [d["type"] for d in by_type] == ["medical"] and [d["tags"] for d in by_tag] == [["urgent"]]


@pytest.mark.s3_in_stress("a rule of the application")
def test_metadata_is_recorded(case_world):
    tr = case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "translation", "--lang", "es",
                       "--person", "principal", "--title", "Traduccion", "--translation-of", case_world.decl, user="bob").strip()
    [d] = [d for d in json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob")) if d["id"] == tr]
    assert (d["lang"], d["person"], d["title"], d["translation_of"], d["filename"], d["mime"]) == \
        ("es", "principal", "Traduccion", case_world.decl, "medical-report.pdf", "application/pdf")
    assert d["size"] == case_world.docs["medical"].stat().st_size


@pytest.mark.s3_in_stress("a rule of the application")
def test_tags_are_added_and_removed(case_world):
    case_world.ok("doc", "tag", case_world.decl, "--add", "urgent", "--add", "court", user="bob")
    case_world.ok("doc", "tag", case_world.decl, "--remove", "court", user="bob")
    [d] = json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))
    assert d["tags"] == ["urgent"]


@pytest.mark.s3_in_stress("a rule of versions; put and get of each version are covered on S3 by the byte-exact test")
def test_new_version_supersedes_and_old_stays_readable(case_world, tmp_path):
    before = case_world.object_names()
    p = case_world.run("doc", "add", "MX-0001", str(case_world.docs["medical"]), str(case_world.docs["passport"]),
                       "--type", "legal-declaration", "--supersedes", case_world.decl, user="bob")
    assert p.returncode == 1 and b"a new version of a document takes exactly one file" in p.stderr
    assert case_world.object_names() == before  # neither file became version 2 (or 3)
    case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "legal-declaration",
                  "--supersedes", case_world.decl, user="bob")
    [d] = json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))
    assert d["version"] == 2 and d["versions"] == 2
    case_world.ok("doc", "get", case_world.decl, "-o", str(tmp_path / "v2"), user="bob")
    case_world.ok("doc", "get", case_world.decl, "--version", "1", "-o", str(tmp_path / "v1"), user="bob")
    assert (tmp_path / "v2").read_bytes() == case_world.docs["medical"].read_bytes()
    assert (tmp_path / "v1").read_bytes() == case_world.docs["declaration"].read_bytes()


@pytest.mark.s3_in_stress("tests/test_s3.py checks every object, name and metadata of the bucket for the same")
def test_vault_bytes_hold_no_plaintext_names_or_references(case_world):
    case_world.ok("doc", "add", "MX-0001", str(case_world.docs["passport"]), "--type", "identity", "--tag", "secret-tag-xq",
                  "--person", "Ana Demo Example", user="bob")
    data = case_world.vault_bytes()
    names = "\n".join(case_world.object_names()).encode()
    for secret in (b"MX-0001", b"Resettlement referral", b"declaration", b"passport", b"Ana Demo", b"secret-tag-xq",
                   b"Ciudad Ficticia", b"legal-declaration", b"alice", b"erin", b"bob", b"carol", b"dave"):
        assert not holds(data, secret), secret
        assert not holds(names, secret), secret


@pytest.mark.local_only("opens the vault's files on disk (with the age CLI)")
def test_every_vault_object_except_settings_and_audit_is_an_age_file(case_world):
    for name in case_world.object_names():
        if name == "vault" or name.startswith("audit/") or name.startswith("cases/") and "/versions/" in name:
            continue
        with open(case_world.vault / name, "rb") as f:
            assert age.read_header(f), name


@pytest.mark.local_only("opens the vault's files on disk (with the age CLI)")
def test_document_recovered_with_only_the_age_cli(case_world, tmp_path):
    import subprocess

    from conftest import require_tool

    require_tool("age")
    key = tmp_path / "case.key"
    case_world.ok("case", "export-key", "MX-0001", "-o", str(key), user="erin")
    assert key.stat().st_mode & 0o077 == 0
    want = case_world.docs["declaration"].read_bytes()
    blobs = list(case_world.vault.glob("cases/*/blobs/*"))
    outs = [subprocess.run(["age", "-d", "-i", str(key), str(b)], capture_output=True).stdout for b in blobs]
    assert want in outs


@pytest.mark.local_only("opens the vault's files on disk (with the age CLI)")
def test_person_identity_opens_case_key_then_document_with_age_cli(case_world, tmp_path):
    """The emergency path of keys/README.md: passphrase -> identity -> case identity -> document."""
    import subprocess

    from conftest import PASSPHRASE, require_tool
    from vault.identity import Home

    require_tool("age")
    # The identity file is scrypt-encrypted; age reads passphrases only from a terminal, so
    # decrypt it with our implementation (checked against the CLI in test_age_interop) and let
    # the age CLI do the two X25519 steps.
    ident = tmp_path / "bob.key"
    ident.write_text(Home(case_world.home).unlock("bob", PASSPHRASE).to_text())
    [wrap] = [p for p in case_world.vault.glob("cases/*/keys/*/*")
              if subprocess.run(["age", "-d", "-i", str(ident), str(p)], capture_output=True).returncode == 0]
    case_key = tmp_path / "case.key"
    case_key.write_bytes(subprocess.run(["age", "-d", "-i", str(ident), str(wrap)], capture_output=True, check=True).stdout)
    outs = [subprocess.run(["age", "-d", "-i", str(case_key), str(b)], capture_output=True).stdout
            for b in case_world.vault.glob("cases/*/blobs/*")]
    assert case_world.docs["declaration"].read_bytes() in outs
