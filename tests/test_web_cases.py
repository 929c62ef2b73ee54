"""A case's life in the web desk (create, close, reopen, hold), its removed documents, new versions and
translations on upload, and a build's signer warnings and signature level: each over HTTP, as the person
who may and as those who may not, checked against the vault, the audit log and the CLI's own lines."""

from __future__ import annotations

import json
import re
import time

import pytest

from conftest import PASSPHRASE
from test_web_support import WebWorld, client_for

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from vault.identity import Home, SecretIdentity

    w = WebWorld(tmp_path_factory.mktemp("webcase"))
    frank = SecretIdentity.generate("frank")  # a case lead who is a member of nothing
    Home(w.home_path).create(frank, PASSPHRASE)
    w.open("alice").add_user(frank.public, "case-lead")
    assert w.cli("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice").returncode == 0
    return w


@pytest.fixture(scope="module")
def clients(world):
    return {name: client_for(world.desk(name)) for name in ("alice", "erin", "bob", "carol", "dave", "frank")}


def _stored(world) -> list:
    """Every object of the vault but the audit log's (a refusal is audited, and writes nothing else)."""
    root = world.root / "vault"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not str(p.relative_to(root)).startswith("audit"))


def _last(world, action: str) -> dict:
    return [e for e in world.open("dave").audit_entries() if e["action"] == action][-1]


def _cli_error(world, *args: str, user: str) -> str:
    p = world.cli(*args, user=user)
    assert p.returncode != 0
    return p.stderr.decode().strip().splitlines()[-1].removeprefix("refuge: error: ")


def _error(r) -> str:
    return r.json()["error"]


def test_a_case_lead_creates_a_case_with_the_cli_s_fields_and_refusals(world, clients):
    erin, bob = clients["erin"], clients["bob"]
    assert 'id="create-form"' in erin.get("/").text and 'id="create-form"' not in bob.get("/").text
    r = erin.post("/cases", data={"csrf": erin.csrf, "ref": "MX-0100", "title": "Family reunification"})
    assert r.status_code == 303
    case = world.open("erin").find_case("MX-0100")
    assert r.headers["location"] == f"{erin.desk_prefix}/case/{case.id}"
    assert case.title == "Family reunification" and set(case.members) == {world.open("erin").me.user_id}
    entry = _last(world, "case.create")
    assert entry["result"] == "ok" and entry["case"] == case.id and "reunification" not in str(entry)
    before = _stored(world)
    # the same refusals, word for word, as refuge case create
    for ref, status in (("mx-0100", 400), ("", 400)):
        r = erin.post("/cases", data={"csrf": erin.csrf, "ref": ref}, headers=JSON)
        assert r.status_code == status
        assert _error(r) == _cli_error(world, "case", "create", ref, user="erin")
    r = bob.post("/cases", data={"csrf": bob.csrf, "ref": "MX-0101"}, headers=JSON)
    assert r.status_code == 403 and _error(r) == _cli_error(world, "case", "create", "MX-0101", user="bob")
    assert _error(r) == ("creating cases needs the case-lead role; bob is lawyer; someone who holds it must do it "
                         "(refuge user list shows each person's role)")
    assert _last(world, "case.create")["result"] == "denied"
    r = erin.post("/cases", data={"ref": "MX-0102"})  # a forged form: no token
    assert r.status_code == 403 and "form token" in r.text
    assert _stored(world) == before  # nothing written but the audit entries of the refusals


def test_close_with_a_retention_period_then_a_closed_case_refuses_uploads_then_reopen(world, clients):
    erin, bob = clients["erin"], clients["bob"]
    lead = world.open("erin")
    case = lead.create_case("MX-0200", "")
    lead.grant(case, ["bob"])
    life = erin.get(f"/case/{case.id}/life").text
    assert 'id="close-form"' in life and 'id="reopen-form"' not in life
    r = erin.post(f"/case/{case.id}/close", data={"csrf": erin.csrf, "retain": "7y"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"/case/{case.id}/life")
    status = world.open("erin").case_status(case.id)
    assert status.state == "closed" and int(status.purge_after[:4]) - int(status.closed_at[:4]) == 7
    assert _last(world, "case.close")["result"] == "ok" and _last(world, "case.close")["case"] == case.id
    page = erin.get(f"/case/{case.id}/life").text
    assert status.purge_after in page and 'id="reopen-form"' in page
    # closed: an upload is refused with the CLI's line, and nothing is stored
    before = _stored(world)
    r = bob.post(f"/case/{case.id}/upload?csrf={bob.csrf}", data={"type": "other"},
                 files={"file": ("late.txt", b"A late note.\n", "text/plain")}, headers=JSON)
    (world.root / "late.txt").write_bytes(b"A late note.\n")
    assert r.status_code == 403
    assert _error(r) == _cli_error(world, "doc", "add", "MX-0200", "late.txt", "--type", "other", user="bob")
    assert _error(r).startswith(f"case {case.id} is closed")
    for who, data in ((erin, {"retain": "7y"}), (erin, {"retain": "seven years"})):  # already closed; checked first
        r = who.post(f"/case/{case.id}/close", data=dict(data, csrf=who.csrf), headers=JSON)
        assert r.status_code == 400
    assert _error(r) == _cli_error(world, "case", "close", "MX-0200", "--retain", "seven years", user="erin")
    assert _stored(world) == before
    r = erin.post(f"/case/{case.id}/reopen", data={"csrf": erin.csrf})
    assert r.status_code == 303 and world.open("erin").case_status(case.id).state == "open"
    assert _last(world, "case.reopen")["result"] == "ok"
    r = erin.post(f"/case/{case.id}/reopen", data={"csrf": erin.csrf}, headers=JSON)
    assert r.status_code == 400 and _error(r) == _cli_error(world, "case", "reopen", "MX-0200", user="erin")
    r = erin.post(f"/case/{case.id}/close", data={"csrf": erin.csrf, "retain": "seven years"}, headers=JSON)
    assert r.status_code == 400 and "seven years" in _error(r)
    assert _error(r) == _cli_error(world, "case", "close", "MX-0200", "--retain", "seven years", user="erin")
    assert world.open("erin").case_status(case.id).state == "open"


def test_only_a_case_lead_who_is_a_member_closes_and_holds(world, clients):
    case = world.open("erin").find_case("MX-0001")
    before = _stored(world)
    refusals = [("bob", "close", 403), ("bob", "hold", 403), ("frank", "close", 403), ("frank", "hold", 403),
                ("carol", "reopen", 403), ("carol", "hold", 403), ("dave", "hold", 403), ("dave", "close", 403)]
    for name, action, status in refusals:  # each the CLI's own line for the same person and case
        who = clients[name]
        r = who.post(f"/case/{case.id}/{action}", data={"csrf": who.csrf, "reason": "order 12/2026"}, headers=JSON)
        assert r.status_code == status, (action, r.text)
        cli = ("case", action, case.id) + (("--reason", "order 12/2026") if action == "hold" else ())
        assert _error(r) == _cli_error(world, *cli, user=name), (name, action)
        assert _last(world, f"case.{action}")["result"] == "denied"
        if name == "frank":  # a case lead, but not of this case
            assert _error(r).startswith("you are not a member of this case")
    for action in ("close", "hold", "reopen"):  # no token: refused before the vault is reached
        assert clients["erin"].post(f"/case/{case.id}/{action}", data={"reason": "x"}).status_code == 403
    assert _stored(world) == before
    assert world.open("erin").case_status(case.id).state == "open"
    assert 'id="close-form"' not in clients["bob"].get(f"/case/{case.id}/life").text


def test_a_legal_hold_by_the_case_lead_and_by_an_admin_with_the_case_id(world, clients):
    erin, alice = clients["erin"], clients["alice"]
    case = world.open("erin").create_case("MX-0300", "")
    r = erin.post(f"/case/{case.id}/hold", data={"csrf": erin.csrf, "action": "hold", "reason": " "}, headers=JSON)
    assert r.status_code == 400
    assert _error(r) == _cli_error(world, "case", "hold", "MX-0300", "--reason", " ", user="erin")
    r = erin.post(f"/case/{case.id}/hold", data={"csrf": erin.csrf, "action": "hold", "reason": "court order 4411"})
    assert r.status_code == 303
    status = world.open("erin").case_status(case.id)
    assert status.state == "held" and status.hold["reason"] == "court order 4411"
    assert _last(world, "case.hold")["result"] == "ok" and _last(world, "case.hold")["case"] == case.id
    page = erin.get(f"/case/{case.id}/life").text
    assert re.search(r'id="case-hold">court order 4411 · erin · \d{4}-', page) and 'id="release"' in page
    r = erin.post(f"/case/{case.id}/hold", data={"csrf": erin.csrf, "action": "release"})
    assert r.status_code == 303 and world.open("erin").case_status(case.id).state == "open"
    assert _last(world, "case.release")["result"] == "ok"
    # an admin reads no case, and gives its id (the CLI's refusal for a reference)
    assert 'id="hold-form"' in alice.get("/").text
    r = alice.post("/hold", data={"csrf": alice.csrf, "case": "MX-0300", "action": "hold", "reason": "order"},
                   headers=JSON)
    assert r.status_code == 404
    assert _error(r) == _cli_error(world, "case", "hold", "MX-0300", "--reason", "order", user="alice")
    r = alice.post("/hold", data={"csrf": alice.csrf, "case": case.id, "action": "hold", "reason": "order 9"})
    assert r.status_code == 303 and r.headers["location"] == alice.desk_prefix + "/"
    assert world.open("erin").case_status(case.id).hold["reason"] == "order 9"
    entry = _last(world, "case.hold")
    assert entry["result"] == "ok" and entry["case"] == case.id and entry["name"] == "alice"
    r = alice.post("/hold", data={"csrf": alice.csrf, "case": case.id, "action": "release"})
    assert r.status_code == 303 and world.open("erin").case_status(case.id).state == "open"
    r = alice.post("/hold", data={"csrf": alice.csrf, "case": "", "action": "hold"}, headers=JSON)
    assert r.status_code == 400 and _error(r) == "give the case id"


def test_the_removed_documents_with_date_and_reason_for_case_leads_only(world, clients, tmp_path):
    erin, bob = clients["erin"], clients["bob"]
    note = tmp_path / "misfiled.txt"
    note.write_text("A note filed in the wrong case.\n")
    lawyer = world.open("bob")
    doc = lawyer.add_documents(lawyer.find_case("MX-0001"), [str(note)], "other")[0].document.id
    assert erin.post(f"/doc/{doc}/remove", data={"csrf": erin.csrf, "reason": "wrong case"}).status_code == 303
    r = erin.get(f"/case/{world.case}/removed")
    assert r.status_code == 200
    row = re.search(rf'<tr data-doc="{doc}">(.*?)</tr>', r.text, re.S).group(1)
    assert "wrong case" in row and "misfiled" in row and "erin" in row
    cli = {d["id"]: d for d in json.loads(
        world.cli("doc", "list", "MX-0001", "--removed", "--json", user="erin").stdout)}
    assert {d["id"]: d for d in erin.get(f"/case/{world.case}/removed", headers=JSON).json()} == cli
    assert cli[doc]["removed_at"][:10] in row and cli[doc]["reason"] == "wrong case"
    entry = _last(world, "doc.list")
    assert entry["result"] == "ok" and entry.get("removed") is True and "wrong case" not in str(entry)
    r = bob.get(f"/case/{world.case}/removed", headers=JSON)
    assert r.status_code == 403 and _error(r) == _cli_error(world, "doc", "list", "MX-0001", "--removed", user="bob")
    assert _last(world, "doc.list")["result"] == "denied"
    assert "/removed" not in bob.get(f"/case/{world.case}").text


def _send(client, case_id: str, files: list, data: dict):
    return client.post(f"/case/{case_id}/upload?csrf={client.csrf}", data=data, files=files, headers=JSON)


def test_new_versions_and_translations_each_file_with_its_own_fields(world, clients):
    bob = clients["bob"]
    r = _send(bob, world.case, [("file", ("statement.txt", b"Statement, first draft.\n", "text/plain"))],
              {"type": "legal-declaration"})
    assert r.status_code == 200
    original = r.json()["results"][0]["id"]
    assert f'<option value="{original}">' in bob.get(f"/case/{world.case}").text  # offered as "new version of"
    # one upload, two files, each with its own fields (NAME.N): a new version of the statement, a translation of it
    files = [("file", ("statement-v2.txt", b"Statement, signed.\n", "text/plain")),
             ("file", ("statement-en.txt", b"Statement, in English.\n", "text/plain"))]
    r = _send(bob, world.case, files, {"type": "translation", "supersedes.0": original, "translation_of.1": original,
                                       "translator.1": "T. Ruiz", "dialect.1": "rioplatense"})
    assert r.status_code == 200, r.text
    version, translation = (x["id"] for x in r.json()["results"])
    assert version == original and translation != original
    case = world.open("bob").find_case(world.case)
    doc, tr = case.documents[original], case.documents[translation]
    assert (doc.version, doc.type, len(doc.versions)) == (2, "legal-declaration", 2)  # a new version keeps its type
    assert (tr.type, tr.translation_of, tr.translator) == ("translation", original, "T. Ruiz")
    assert "rioplatense" in str(tr.as_dict())
    entry = _last(world, "doc.add")
    assert entry["result"] == "ok" and entry["docs"] == [original, translation] and "Ruiz" not in str(entry)
    # refusals: the CLI's lines for the same options, and nothing stored
    before = _stored(world)
    (world.root / "x.txt").write_bytes(b"Another draft.\n")
    for data, cli in (({"supersedes": "nosuchdoc"}, ("--supersedes", "nosuchdoc")),
                      ({"translator": "T. Ruiz"}, ("--translator", "T. Ruiz"))):
        r = _send(bob, world.case, [("file", ("x.txt", b"Another draft.\n", "text/plain"))], dict(data, type="other"))
        assert r.status_code in (400, 404)
        line = _cli_error(world, "doc", "add", "MX-0001", "x.txt", "--type", "other", *cli, user="bob")
        assert (r.json()["error"] or r.json()["results"][0]["error"]) == line
    # two files as new versions of one document: refused whole, as doc add --supersedes with two files
    two = [("file", ("a.txt", b"A.\n", "text/plain")), ("file", ("b.txt", b"B.\n", "text/plain"))]
    r = _send(bob, world.case, two, {"type": "other", "supersedes": original})
    assert r.status_code == 400 and "exactly one file" in r.json()["error"]
    r = _send(bob, world.case, two, {"type": "other", "supersedes.0": original, "supersedes.1": original})
    assert r.status_code == 400 and "exactly one file" in r.json()["error"]
    assert _stored(world) == before
    r = _send(bob, world.case, [("file", ("y.txt", b"y\n", "text/plain"))], {"type": "other", "supersedes.0": "x" * 600})
    assert r.status_code == 400 and "too long" in r.json()["error"]


@pytest.mark.slow  # a whole build (about 20 s); test_web_browser.py checks the same lines on its own build
def test_a_build_shows_the_signer_warning_and_the_honest_signature_level(world, clients):
    erin = clients["erin"]
    r = erin.post(f"/case/{world.case}/consent", data={"csrf": erin.csrf, "recipient": "unhcr-resettlement",
                                                       "note": "form signed"})
    assert r.status_code == 303
    r = erin.post(f"/case/{world.case}/packets", headers=JSON, data={
        "csrf": erin.csrf, "profile": "unhcr-resettlement", "allow_incomplete": "1", "sender": "Another Clinic",
        "accept_gaps": "location, third-party, network, legal-strategy, faces", "gap_reason": "fictional case"})
    job = r.json()["job"]
    for _ in range(600):
        state = erin.get(f"/job/{job}", headers=JSON).json()
        if state["state"] != "running":
            break
        time.sleep(0.2)
    assert state["state"] == "done", state
    assert state["warnings"] == ["the letter names 'Another Clinic' as the sender, but the packet is signed by "
                                 "'Fictional Legal Clinic' (its certificate's organisation, the name the recipient "
                                 "validates)"]
    history = json.loads(world.cli("packet", "history", "MX-0001", "--json", user="erin").stdout)
    level = history[-1]["level"]
    assert (state["level"], state["signed_for"]) == (level, history[-1]["signed_for"]) and level.startswith("PAdES-")
    page = erin.get(f"/job/{job}").text
    assert "refuge: warning: the letter names" in page and f'id="job-level">{level}<' in page
    assert level != "PAdES-B-B" or "not long-term: the certificate names no OCSP responder or CRL" in page
    listed = erin.get(f"/case/{world.case}/packets").text
    assert f"Fictional Legal Clinic: {level}" in listed
    spanish = erin.get(f"/case/{world.case}/packets", headers={"accept-language": "es"}).text
    assert level != "PAdES-B-B" or "no es a largo plazo" in spanish
