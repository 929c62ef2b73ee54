"""What a lawyer, a case lead and an auditor do in the web desk, over HTTP, checked against the vault itself."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile

import pytest

from conftest import require_tool
from test_web_support import WebWorld, client_for


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = WebWorld(tmp_path_factory.mktemp("web"))
    assert w.cli("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice").returncode == 0
    return w


@pytest.fixture
def bob(world):
    return client_for(world.desk("bob"))


@pytest.fixture
def erin(world):
    return client_for(world.desk("erin"))


def _ids(html: str) -> list[str]:
    return re.findall(r'<tr data-doc="([^"]+)"', html)


def test_upload_several_files_with_a_refusal_per_file_and_no_leftover(world, bob, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the private upload folder goes
    files = [("file", ("note.txt", b"Notes of the interview with the applicant.\n", "text/plain")),
             ("file", ("empty.pdf", b"", "application/pdf")),
             ("file", ("run.exe", b"MZ\x90\x00" + b"\x00" * 200, "application/octet-stream"))]
    data = {"type": "correspondence", "tags": "interview, 2026", "person": "Ana", "lang": "en", "title": ""}
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data=data, files=files,
                 headers={"accept": "application/json"})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["name"] for x in results] == ["note.txt", "empty.pdf", "run.exe"]
    assert r.json()["notes"]  # "Ana" names nobody of the case's register: the page says so, as doc add warns
    assert results[0]["id"] and results[0]["error"] is None
    assert results[1]["id"] is None and results[1]["error"].startswith("empty.pdf: the file is empty")
    assert results[2]["id"] is None and results[2]["error"].startswith("run.exe: the file is ")
    # the same refusals the CLI prints for the same files added together, named as typed
    # (--allow-duplicate: the case holds note.txt now, and the CLI refuses duplicates first)
    for _field, (name, content, _mime) in files:
        (tmp_path / name).write_bytes(content)
    p = world.cli("doc", "add", "MX-0001", *(name for _f, (name, _c, _m) in files), "--type", "other",
                  "--allow-duplicate", user="bob", cwd=tmp_path)
    lines = [x.removeprefix("refuge: error: ") for x in p.stderr.decode().splitlines() if x.startswith("refuge: error")]
    assert lines == [x["error"] for x in results[1:]]
    _case, doc = world.open("bob").find_document(results[0]["id"])
    assert (doc.title, doc.type, doc.tags, doc.person, doc.lang, doc.filename) == (
        "note", "correspondence", ["2026", "interview"], "Ana", "en", "note.txt")
    assert not list(tmp_path.glob("refuge-upload-*"))  # the private folder is gone
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.add"][-1]
    assert entry["result"] == "ok" and "note" not in str(entry) and "empty.pdf" not in str(entry)


def test_a_batch_that_all_fails_is_refused_per_file_and_audited_as_an_error(world, bob):
    files = [("file", ("a.pdf", b"", "application/pdf")), ("file", ("b.pdf", b"", "application/pdf"))]
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"}, files=files,
                 headers={"accept": "application/json"})
    assert r.status_code == 400
    assert [x["error"] for x in r.json()["results"]] == [
        "a.pdf: the file is empty; check that the download or scan finished",
        "b.pdf: the file is empty; check that the download or scan finished"]  # intake's refusal first, as doc add
    # (a duplicate is found from the SHA-256 computed while the file is stored, so after intake's check)
    assert r.json()["error"] == "none of the 2 files was added"
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.add"][-1]
    assert entry["result"] == "error"


def test_a_duplicate_is_refused_as_doc_add_refuses_it_unless_allowed(world, bob):
    content = b"The same scan, uploaded twice.\n"
    first = _upload_one(world, bob, "scan.txt", content)
    again = {"file": ("scan-again.txt", content, "text/plain")}
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"}, files=again,
                 headers={"accept": "application/json"})
    assert r.status_code == 400
    short = world.open("bob").find_document(first)[1].short_id
    assert r.json()["error"] == f"the case already holds this file as document {short}; " \
                                "add it anyway with --allow-duplicate"
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other", "allow_duplicate": "1"},
                 files=again, headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["id"] not in (None, first)


def test_upload_without_script_shows_the_case_page_with_results(world, bob):
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"},
                 files={"file": ("plain.txt", b"plain\n", "text/plain")})
    assert r.status_code == 200 and 'id="upload-results"' in r.text and "added as" in r.text


def test_an_upload_cut_short_stores_nothing(world, bob, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = len(world.open("bob").find_case(world.case).documents)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nother\r\n--XyZ\r\n"
            b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhalf a file")
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", content=body,
                 headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400
    assert len(world.open("bob").find_case(world.case).documents) == before
    assert not list(tmp_path.glob("refuge-upload-*"))


def test_filters_and_sorting(world, bob):
    page = bob.get(f"/case/{world.case}").text
    assert world.decl in page and world.photo in page
    assert _ids(bob.get(f"/case/{world.case}", params={"type": "identity"}).text) == [world.photo]
    assert _ids(bob.get(f"/case/{world.case}", params={"tag": "intake"}).text) == [world.decl]
    assert set(_ids(bob.get(f"/case/{world.case}", params={"person": "Ana", "lang": "es"}).text)) == {
        world.decl, world.photo}
    assert _ids(bob.get(f"/case/{world.case}", params={"lang": "xx"}).text) == []
    by_size = _ids(bob.get(f"/case/{world.case}", params={"sort": "size"}).text)
    docs = world.open("bob").find_case(world.case).documents
    assert by_size == sorted(by_size, key=lambda d: (docs[d].size, d))
    assert _ids(bob.get(f"/case/{world.case}", params={"sort": "size", "order": "desc"}).text) == by_size[::-1]


def test_tags_are_added_and_removed(world, bob):
    r = bob.post(f"/doc/{world.photo}/tags", data={"csrf": bob.csrf, "add": "urgent, checked", "remove": "id"})
    assert r.status_code == 303
    assert world.open("bob").find_document(world.photo)[1].tags == ["checked", "urgent"]
    r = bob.post(f"/doc/{world.photo}/tags", data={"csrf": bob.csrf, "add": ""})
    assert r.status_code == 400 and "nothing to change" in r.text


def test_preview_is_a_png_of_the_page_drawn_from_the_document(world, bob):
    page = bob.get(f"/doc/{world.decl}")
    assert page.status_code == 200 and "Page 1 / 2" in page.text
    r = bob.get(f"/doc/{world.decl}/page/2")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    with tempfile.NamedTemporaryFile(suffix=".png") as f:  # read back by tesseract, a tool we did not write
        f.write(r.content)
        f.flush()
        text = subprocess.run([require_tool("tesseract"), f.name, "-"], capture_output=True, text=True).stdout
    assert "protection" in text and "page 2 of 2" in text
    assert bob.get(f"/doc/{world.decl}/page/3").status_code == 404
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.preview"][-1]
    assert entry["doc"] == world.decl


def test_search_finds_words_and_marks_them(world, bob):
    from refuge import indexing

    v = world.open("bob")
    case = v.find_case(world.case)
    indexing.reindex(v, case)
    r = bob.get("/search", params={"q": "protection"})
    assert r.status_code == 200 and f"/doc/{world.decl}" in r.text and "<mark>protection</mark>" in r.text
    assert "Nothing found" in bob.get("/search", params={"q": "zebra"}).text
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "search"][-1]
    assert "protection" not in str(entry)


def test_members_grant_and_revoke(world, erin):
    assert "carol" in erin.get(f"/case/{world.case}/members").text
    r = erin.post(f"/case/{world.case}/members", data={"csrf": erin.csrf, "action": "grant", "name": "carol"})
    assert r.status_code == 303
    assert world.open("carol").find_case("MX-0001").id == world.case
    r = erin.post(f"/case/{world.case}/members", data={"csrf": erin.csrf, "action": "revoke", "name": "carol"})
    assert r.status_code == 303
    carol = client_for(world.desk("carol"))
    assert carol.get(f"/case/{world.case}").status_code in (403, 404)


def test_a_lawyer_cannot_grant(world, bob):
    r = bob.post(f"/case/{world.case}/members", data={"csrf": bob.csrf, "action": "grant", "name": "carol"})
    assert r.status_code == 403


def test_consent_plan_build_history_and_download(world, erin):
    r = erin.post(f"/case/{world.case}/consent", data={"csrf": erin.csrf, "action": "grant",
                                                      "recipient": "unhcr-resettlement", "expires": "2099-12-31",
                                                      "note": "form signed"})
    assert r.status_code == 303
    consents = world.open("erin").find_case(world.case).consents
    assert consents[-1]["recipient"] == "unhcr-resettlement" and consents[-1]["expires"] == "2099-12-31"
    plan = erin.get(f"/case/{world.case}/packets", params={"profile": "unhcr-resettlement"})
    assert plan.status_code == 200 and 'id="plan"' in plan.text
    r = erin.post(f"/case/{world.case}/packets", data={"csrf": erin.csrf, "profile": "unhcr-resettlement",
                                                       "allow_incomplete": "1",
                                                       "accept_gaps": "location, third-party, network, legal-strategy, faces",
                                                       "gap_reason": "fictional case: nobody of these kinds"},
                  headers={"accept": "application/json"})
    job = r.json()["job"]
    import time

    for _ in range(600):
        state = erin.get(f"/job/{job}", headers={"accept": "application/json"}).json()
        if state["state"] != "running":
            break
        time.sleep(0.5)
    assert state["state"] == "done", state
    assert state["steps"]  # progress was reported
    pdf = erin.get(f"/packet/{state['packet']}/download")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf.content)
        f.flush()
        info = subprocess.run([require_tool("pdfinfo"), f.name], capture_output=True, text=True)
    assert info.returncode == 0
    history = erin.get(f"/case/{world.case}/packets").text
    assert state["packet"] in history


def test_the_auditor_reads_filters_and_verifies_against_a_checkpoint(world):
    client_for(world.desk("bob")).get(f"/case/{world.case}")
    dave = client_for(world.desk("dave"))
    page = dave.get("/audit", params={"action": "doc.list"})
    assert page.status_code == 200
    actions = re.findall(r"<td>(doc\.[a-z]+|case\.[a-z]+|audit\.[a-z]+|search)</td><td>(ok|denied|error)", page.text)
    assert actions and all(a == "doc.list" for a, _ in actions)
    r = dave.post(f"/audit/verify?csrf={dave.csrf}", data={"save": "1"},
                  files={"checkpoint": ("", b"", "application/octet-stream")})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    checkpoint = r.content
    client_for(world.desk("bob")).get("/")  # the log grows
    r = dave.post(f"/audit/verify?csrf={dave.csrf}", data={"save": "0"},
                  files={"checkpoint": ("checkpoint.txt", checkpoint, "text/plain")})
    assert r.status_code == 200 and 'id="verified"' in r.text and "consistent with the checkpoint" in r.text
    r = dave.post(f"/audit/verify?csrf={dave.csrf}", data={"save": "0"},
                  files={"checkpoint": ("checkpoint.txt", io.BytesIO(checkpoint[:-40] + b"x" * 40), "text/plain")})
    assert r.status_code in (400, 409) and "refuge: error:" in r.text


def test_language_from_the_browser_and_switched(world, bob):
    assert "Sus casos" in bob.get("/", headers={"accept-language": "es-MX,es;q=0.9,en;q=0.5"}).text
    assert "Vos dossiers" in bob.get("/", headers={"accept-language": "fr-CA,fr;q=0.8"}).text
    assert "Your cases" in bob.get("/", headers={"accept-language": "de"}).text
    r = bob.post("/lang", data={"csrf": bob.csrf, "lang": "fr", "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == bob.desk_prefix + "/"
    assert "Vos dossiers" in bob.get("/", headers={"accept-language": "es"}).text


def test_every_word_of_the_templates_is_in_spanish_and_french():
    from pathlib import Path

    from refuge.web import _i18n

    folder = Path(_i18n.__file__).parent / "templates"
    words = {m for f in folder.glob("*.html") for m in re.findall(r"""(?<![\w.])t\((?:"([^"]+)"|'([^']+)')\)""", f.read_text())}
    words = {a or b for a, b in words}
    assert len(words) > 50
    for lang in ("es", "fr"):
        missing = sorted(w for w in words if w not in _i18n.CATALOGUE[lang])
        assert missing == [], (lang, missing)


def test_the_uploaded_copy_has_no_name_while_it_is_checked(world, bob, monkeypatch, tmp_path):
    """Watch (not replace) intake: the plaintext copy it checks is a file of mode 600 with no name (no link)
    in the temporary folder, which stays empty; the vault's add is given what was stored, not a path."""
    import os
    import stat

    from vault import intake
    from vault.core import Vault

    seen, given = [], []
    real_check, real_add = intake.inspect_descriptor, Vault.add_documents

    def watching(fd, *args, **kwargs):
        st = os.fstat(fd)
        seen.append((stat.S_IMODE(st.st_mode), st.st_nlink, sorted(os.listdir(tmp_path))))
        return real_check(fd, *args, **kwargs)

    def adding(self, case, paths, *args, **kwargs):
        given.extend(kwargs["stored"][p].blob is not None and not os.path.exists(p) for p in paths)
        return real_add(self, case, paths, *args, **kwargs)

    monkeypatch.setattr(intake, "inspect_descriptor", watching)
    monkeypatch.setattr(Vault, "add_documents", adding)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"},
                 files=[("file", ("x.txt", b"x\n", "text/plain")), ("file", ("y.txt", b"y\n", "text/plain"))],
                 headers={"accept": "application/json"})
    assert r.status_code == 200 and all(row["id"] for row in r.json()["results"]), r.text
    assert seen == [(0o600, 0, [])] * 2
    assert given == [True, True]
    assert not list(tmp_path.iterdir())


# --- a document's life, the register, redaction terms, case details (the CLI's calls, its refusals) ---


def _upload_one(world, client, name: str, content: bytes) -> str:
    r = client.post(f"/case/{world.case}/upload?csrf={client.csrf}", data={"type": "correspondence"},
                    files={"file": (name, content, "text/plain")}, headers={"accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()["results"][0]["id"]


def _cli_error(p: subprocess.CompletedProcess) -> str:
    lines = [x for x in p.stderr.decode().splitlines() if x.startswith("refuge: error: ")]
    assert len(lines) == 1, p.stderr
    return lines[0].removeprefix("refuge: error: ")


def _json(p: subprocess.CompletedProcess):
    import json

    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_a_lawyer_edits_a_title_seen_in_the_case_list_and_doc_list(world, bob):
    doc = _upload_one(world, bob, "letter.txt", b"A letter from the shelter, to edit.\n")
    page = bob.get(f"/doc/{doc}").text
    form = {k: re.search(rf'name="{k}"[^>]* value="([^"]*)"', page).group(1) for k in ("title", "person", "lang")}
    r = bob.post(f"/doc/{doc}/edit", data=dict(form, csrf=bob.csrf, type="correspondence", date="2026-01-15",
                                                title="Letter from the shelter"))
    assert r.status_code == 303
    assert "Letter from the shelter" in bob.get(f"/case/{world.case}").text
    listed = {d["id"]: d for d in _json(world.cli("doc", "list", "MX-0001", "--json", user="bob"))}
    assert (listed[doc]["title"], listed[doc]["date"]) == ("Letter from the shelter", "2026-01-15")
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.edit"][-1]
    assert entry["result"] == "ok" and entry["fields"] == ["date", "title"] and "shelter" not in str(entry)
    # the form sent again unchanged: the CLI's own refusal of an edit that changes nothing
    r = bob.post(f"/doc/{doc}/edit", data={"csrf": bob.csrf, "title": "Letter from the shelter", "type": "correspondence",
                                          "date": "2026-01-15"}, headers={"accept": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == _cli_error(world.cli("doc", "edit", doc, user="bob"))


def test_a_case_lead_removes_with_a_reason_and_moves_a_document(world, bob, erin):
    gone = _upload_one(world, bob, "copy.txt", b"A stray copy of another client's note.\n")
    moving = _upload_one(world, bob, "other.txt", b"This belongs to the other case.\n")
    r = erin.post(f"/doc/{gone}/remove", data={"csrf": erin.csrf, "reason": ""}, headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == _cli_error(world.cli("doc", "remove", gone, "--reason", " ",
                                                                              user="erin"))
    r = erin.post(f"/doc/{gone}/remove", data={"csrf": erin.csrf, "reason": "another client's document"})
    assert r.status_code == 303
    assert gone not in _ids(erin.get(f"/case/{world.case}").text)
    assert gone not in {d["id"] for d in _json(world.cli("doc", "list", "MX-0001", "--json", user="erin"))}
    removed = {d["id"]: d for d in _json(world.cli("doc", "list", "MX-0001", "--removed", "--json", user="erin"))}
    assert removed[gone]["reason"] == "another client's document"
    entry = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "doc.remove"][-1]
    assert entry["result"] == "ok" and entry["doc"] == gone and "client" not in str(entry)
    # move: a case lead of both cases
    other = world.open("erin").create_case("MX-0002", "Another referral")
    assert other.id in erin.get(f"/doc/{moving}").text  # offered as a place to move it to
    r = erin.post(f"/doc/{moving}/move", data={"csrf": erin.csrf, "to": other.id})
    assert r.status_code == 303
    moved = r.headers["location"].rsplit("/", 1)[-1]
    assert [d["id"] for d in _json(world.cli("doc", "list", "MX-0002", "--json", user="erin"))] == [moved]
    assert moving not in _ids(erin.get(f"/case/{world.case}").text)


def test_a_lawyers_remove_and_move_are_refused_as_the_cli_refuses_them(world, bob):
    doc = world.decl
    page = bob.get(f"/doc/{doc}").text
    assert 'id="remove-form"' not in page and 'id="move-form"' not in page and 'id="edit-form"' in page
    r = bob.post(f"/doc/{doc}/remove", data={"csrf": bob.csrf, "reason": "mine to remove"},
                 headers={"accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"] == _cli_error(world.cli("doc", "remove", doc, "--reason", "mine to remove", user="bob"))
    r = bob.post(f"/doc/{doc}/move", data={"csrf": bob.csrf, "to": "MX-0001"}, headers={"accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"] == _cli_error(world.cli("doc", "move", doc, "--to", "MX-0001", user="bob"))
    assert doc in world.open("bob").find_case(world.case).documents
    denied = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] in ("doc.remove", "doc.move")]
    assert [e["result"] for e in denied][-2:] == ["denied", "denied"]


def test_the_register_people_places_and_dismissed_names(world, bob, erin):
    r = bob.post(f"/case/{world.case}/register", data={"csrf": bob.csrf, "action": "person.add", "name": "Rosa Méndez",
                                                       "role": "family", "aliases": "Rosita\nR. Méndez",
                                                       "dob": "1990-03-12", "doc_numbers": "", "category": ""})
    assert r.status_code == 303
    people = {p["name"]: p for p in _json(world.cli("person", "list", "MX-0001", "--json", user="bob"))}
    rosa = people["Rosa Méndez"]
    assert (rosa["role"], rosa["aliases"], rosa["dob"], rosa["category"]) == (
        "family", ["Rosita", "R. Méndez"], "1990-03-12", "third-party")
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "person.add"][-1]
    assert entry["entry"] == rosa["id"] and "Rosa" not in str(entry)
    assert "Rosa Méndez" in erin.get(f"/case/{world.case}/register").text
    # editing and removing lower redaction: a case lead's, refused to the lawyer with the CLI's line
    r = bob.post(f"/case/{world.case}/register", data={"csrf": bob.csrf, "action": "person.remove", "entry": rosa["id"]},
                 headers={"accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"] == _cli_error(world.cli("person", "remove", "MX-0001", rosa["id"], user="bob"))
    r = erin.post(f"/case/{world.case}/register", data={"csrf": erin.csrf, "action": "person.edit", "entry": rosa["id"],
                                                        "name": "", "role": "witness", "aliases": ""})
    assert r.status_code == 303
    r = erin.post(f"/case/{world.case}/register", data={"csrf": erin.csrf, "action": "place.add",
                                                        "text": "Calle Falsa 123, Tapachula", "kind": "address"})
    assert r.status_code == 303
    r = erin.post(f"/case/{world.case}/register", data={"csrf": erin.csrf, "action": "candidate.dismiss",
                                                        "text": "Ciudad de México", "reason": "public place"})
    assert r.status_code == 303
    case = world.open("erin").find_case(world.case)
    edited = next(p for p in case.people if p["id"] == rosa["id"])
    assert (edited["name"], edited["role"], edited["aliases"]) == ("Rosa Méndez", "witness", ["Rosita", "R. Méndez"])
    place = next(p for p in case.places if p["text"] == "Calle Falsa 123, Tapachula")
    assert place["category"] == "location" and case.dismissed[-1]["text"] == "Ciudad de México"
    r = erin.post(f"/case/{world.case}/register", data={"csrf": erin.csrf, "action": "place.remove", "entry": place["id"]})
    assert r.status_code == 303
    assert all(p["id"] != place["id"] for p in _json(world.cli("place", "list", "MX-0001", "--json", user="erin")))
    r = erin.post(f"/case/{world.case}/register", data={"csrf": erin.csrf, "action": "person.add", "name": "Ana",
                                                        "role": "chief"}, headers={"accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"].startswith("unknown role 'chief'; use one of: principal")


def test_redaction_terms_and_case_details(world, erin, bob):
    r = erin.post(f"/case/{world.case}/redactions", data={"csrf": erin.csrf, "action": "term",
                                                          "terms": "Colonia Obrera\n+52 55 1234 5678", "category": "contact"})
    assert r.status_code == 303
    rules = _json(world.cli("redact", "list", "MX-0001", "--json", user="erin"))
    assert {(x["text"], x["category"]) for x in rules} >= {("Colonia Obrera", "contact"), ("+52 55 1234 5678", "contact")}
    r = erin.post(f"/case/{world.case}/redactions", data={"csrf": erin.csrf, "action": "term", "terms": "x",
                                                          "category": "contact"}, headers={"accept": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == _cli_error(world.cli("redact", "term", "MX-0001", "x", "--category", "contact", user="erin"))
    rule = next(x["id"] for x in rules if x["text"] == "Colonia Obrera")
    assert erin.post(f"/case/{world.case}/redactions", data={"csrf": erin.csrf, "action": "remove",
                                                              "rule": rule}).status_code == 303
    assert rule not in {x["id"] for x in _json(world.cli("redact", "list", "MX-0001", "--json", user="erin"))}
    # case details: only what changed is given; a malformed UCI is the CLI's refusal; a lawyer is refused
    page = erin.get(f"/case/{world.case}/fields").text
    assert 'name="field_uci"' in page and 'name="field_hearing_date"' in page
    r = erin.post(f"/case/{world.case}/fields", data={"csrf": erin.csrf, "field_uci": "1234-5678", "field_client_name": "A. M."})
    assert r.status_code == 303
    assert _json(world.cli("case", "show", "MX-0001", "--json", user="erin"))["fields"] == {"uci": "12345678",
                                                                                          "client_name": "A. M."}
    entry = [e for e in world.open("dave").audit_entries(user="erin") if e["action"] == "case.set"][-1]
    assert entry["fields"] == ["client_name", "uci"] and "12345678" not in str(entry)
    r = erin.post(f"/case/{world.case}/fields", data={"csrf": erin.csrf, "field_uci": "12"},
                  headers={"accept": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"] == _cli_error(world.cli("case", "set", "MX-0001", "uci=12", user="erin"))
    r = bob.post(f"/case/{world.case}/fields", data={"csrf": bob.csrf, "field_uci": "87654321"},
                 headers={"accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"] == _cli_error(world.cli("case", "set", "MX-0001", "uci=87654321", user="bob"))


def test_forged_changes_without_the_form_token_change_nothing(world, erin):
    """A page of another tab or a script that knows the routes but not the session's token: every new form."""
    before = world.open("erin").find_case(world.case)
    state = lambda c: (sorted((d.id, d.title) for d in c.documents.values()), c.people, c.places, c.redactions,  # noqa: E731
                       dict(c.fields), c.dismissed)
    doc = world.decl
    forged = [(f"/doc/{doc}/edit", {"title": "forged"}), (f"/doc/{doc}/remove", {"reason": "forged"}),
              (f"/doc/{doc}/move", {"to": "MX-0002"}),
              (f"/case/{world.case}/register", {"action": "person.add", "name": "Forged Name", "role": "other"}),
              (f"/case/{world.case}/redactions", {"action": "term", "terms": "forged", "category": "always"}),
              (f"/case/{world.case}/fields", {"field_other_party": "forged"})]
    for path, data in forged:
        for token in (None, "not-the-token"):
            r = erin.post(path, data=data if token is None else dict(data, csrf=token))
            assert r.status_code == 403 and "form token is missing or wrong" in r.text, path
    assert state(world.open("erin").find_case(world.case)) == state(before)


def test_the_web_layers_own_refusals_are_in_the_pages_language(world, erin):
    r = erin.post(f"/doc/{world.decl}/move", data={"csrf": erin.csrf, "to": ""},
                  headers={"accept": "application/json", "accept-language": "es"})
    assert r.status_code == 400 and r.json()["error"] == "elija el caso al que moverlo"
    r = erin.post(f"/doc/{world.decl}/edit", data={"title": "x"}, headers={"accept-language": "fr"})
    assert r.status_code == 403 and "le jeton du formulaire manque ou est faux" in r.text
    # the library's refusals stay the CLI's English lines
    r = erin.post(f"/doc/{world.decl}/remove", data={"csrf": erin.csrf, "reason": " "},
                  headers={"accept": "application/json", "accept-language": "es"})
    assert r.json()["error"].startswith("a removal needs a reason")


def test_every_refusal_of_the_web_layer_is_in_the_catalogue():
    from pathlib import Path

    from refuge.web import _i18n

    folder = Path(_i18n.__file__).parent
    source = "\n".join(f.read_text() for f in folder.glob("*.py"))
    made = set(re.findall(r'refuse\(\w+, "([^"]+)"', source))
    guarded = set(re.findall(r'return \(?\d{3}, "([^"]+)"', (folder / "_security.py").read_text()))
    assert len(made) > 10 and len(guarded) > 5
    assert not re.search(r"raise (InvalidInput|NotFound|NotPermitted)\(\"", source)  # every own refusal goes through refuse()
    for text in made | guarded:
        assert text in _i18n.REFUSALS, text
        for lang in ("es", "fr"):
            assert text in _i18n.CATALOGUE[lang], (lang, text)
