"""Secrets stay off the command line, and one person's passphrase never protects another's identity."""

from __future__ import annotations

import json

import pytest

from conftest import PASSPHRASE

local = pytest.mark.parametrize("world", ["local"], indirect=True)


@local
def test_user_add_never_protects_the_new_identity_with_the_admins_passphrase(world):
    # REFUGE_PASSPHRASE (alice's) is set, as it is in scripts; no terminal, no --passphrase-file
    p = world.run("user", "add", "gina", "--role", "lawyer", user="alice")
    assert p.returncode == 1
    err = p.stderr.decode()
    assert err.startswith("refuge: error: gina needs a passphrase of their own") and "--passphrase-file" in err
    assert err.count("\n") == 1
    assert not (world.home / "identities" / "gina.age").exists() and "gina" not in world.ok("user", "list", user="alice")


@local
def test_user_add_takes_the_new_persons_own_passphrase_from_a_file(world, tmp_path):
    from vault.errors import RefugeError
    from vault.identity import Home

    own = tmp_path / "gina-pass"
    own.write_text("gina's own long passphrase\n")
    world.ok("user", "add", "gina", "--role", "lawyer", "--passphrase-file", str(own), user="alice")
    home = Home(world.home)
    assert home.unlock("gina", "gina's own long passphrase").name == "gina"
    with pytest.raises(RefugeError):
        home.unlock("gina", PASSPHRASE)  # the admin's passphrase does not open it


@local
def test_user_add_refuses_a_short_passphrase_from_a_file(world, tmp_path):
    short = tmp_path / "short"
    short.write_text("tiny\n")
    p = world.run("user", "add", "gina", "--role", "lawyer", "--passphrase-file", str(short), user="alice")
    assert p.returncode == 1 and b"passphrase" in p.stderr
    assert "gina" not in world.ok("user", "list", user="alice")


@local
def test_redaction_terms_come_from_standard_input_one_per_line(case_world):
    terms = "Maria Lopez Hernandez\nCalle 5 #12, Tapachula\n\n+52 962 555 0199\n"
    p = case_world.run("redact", "term", "MX-0001", "--from-file", "-", "--category", "always", user="erin",
                       input=terms.encode())
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().count("added redaction rule") == 3
    rules = json.loads(case_world.ok("redact", "list", "MX-0001", "--json", user="erin"))
    assert sorted(r["text"] for r in rules) == sorted(t for t in terms.splitlines() if t)


@local
def test_redact_term_needs_exactly_one_source(case_world):
    p = case_world.run("redact", "term", "MX-0001", "--category", "always", user="erin")
    assert p.returncode == 2 and b"--from-file" in p.stderr
    p = case_world.run("redact", "term", "MX-0001", "x y", "--from-file", "-", "--category", "always", user="erin",
                       input=b"Maria\n")
    assert p.returncode == 2
    assert json.loads(case_world.ok("redact", "list", "MX-0001", "--json", user="erin")) == []


@local
def test_titles_notes_and_persons_can_come_from_files_or_stdin(case_world, tmp_path):
    title = tmp_path / "title.txt"
    title.write_text("Testimony of Maria Lopez\n")
    person = tmp_path / "person.txt"
    person.write_text("Maria Lopez\n")
    out = case_world.ok("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical",
                        "--title", f"@{title}", "--person", f"@{person}", "--json", user="bob")
    doc_id = json.loads(out)[0]["id"]
    docs = {d["id"]: d for d in json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))}
    assert docs[doc_id]["title"] == "Testimony of Maria Lopez" and docs[doc_id]["person"] == "Maria Lopez"
    p = case_world.run("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--note", "@-", user="erin",
                       input=b"signed by Maria Lopez at the shelter\n")
    assert p.returncode == 0, p.stderr
    consents = json.loads(case_world.ok("consent", "list", "MX-0001", "--json", user="erin"))
    assert consents[-1]["note"] == "signed by Maria Lopez at the shelter"
    literal = case_world.ok("case", "create", "MX-0002", "--title", "@@home", "--json", user="erin")
    assert json.loads(literal)["title"] == "@home"


@local
def test_a_missing_secret_file_is_one_line_and_nothing_stored(case_world, tmp_path):
    p = case_world.run("doc", "add", "MX-0001", str(case_world.docs["medical"]), "--type", "medical",
                       "--title", f"@{tmp_path / 'nope.txt'}", user="bob")
    assert p.returncode == 1
    assert p.stderr.decode().count("\n") == 1 and "cannot be read" in p.stderr.decode()
    assert len(json.loads(case_world.ok("doc", "list", "MX-0001", "--json", user="bob"))) == 1


@local
def test_what_people_type_never_reaches_the_audit_log(case_world, tmp_path):
    typed = "Maria Lopez rape testimony"
    attempts = [("doc", "get", typed, "-o", str(tmp_path / "out.pdf")), ("doc", "list", typed),
                ("doc", "tag", typed, "--add", "x"), ("packet", "get", typed, "-o", str(tmp_path / "p.pdf")),
                ("redact", "reviewed", typed, "--page", "1"), ("consent", "list", typed), ("case", "hold", typed)]
    for args in attempts:
        p = case_world.run(*args, user="erin")
        assert p.returncode in (1, 4), (args, p.stderr)
    assert not (tmp_path / "out.pdf").exists()
    entries = json.loads(case_world.ok("audit", "log", "--json", user="dave"))
    text = json.dumps(entries)
    assert "Maria" not in text and "testimony" not in text
    failed = [e for e in entries if e["result"] != "ok" and e["name"] == "erin"]
    assert len(failed) == len(attempts)
    assert all(e["unresolved"].startswith("hmac:") for e in failed)
    assert len({e["unresolved"] for e in failed}) == 1  # the same typed text, the same keyed hash
    case_world.ok("doc", "get", case_world.decl, "-o", str(tmp_path / "decl.pdf"), user="bob")
    got = json.loads(case_world.ok("audit", "log", "--action", "doc.get", "--result", "ok", "--json", user="dave"))[-1]
    assert got["doc"] == case_world.decl and got["case"] == case_world.decl.partition("-")[0]
