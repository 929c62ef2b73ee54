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
        "b.pdf: it is the same file as a.pdf; add it anyway with --allow-duplicate"]  # duplicates first, as doc add
    assert r.json()["error"] == "none of the 2 files was added"
    entry = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.add"][-1]
    assert entry["result"] == "error"


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


def test_the_uploaded_copy_is_private_while_it_is_added(world, bob, monkeypatch, tmp_path):
    """Watch (not replace) the vault's add: the files it is given are mode 600 in a folder only we open."""
    import os
    import stat

    from vault.core import Vault

    seen = []
    real = Vault.add_documents

    def watching(self, case, paths, *args, **kwargs):
        for p in paths:
            seen.append((stat.S_IMODE(os.stat(p).st_mode), stat.S_IMODE(os.stat(os.path.dirname(p)).st_mode),
                         stat.S_IMODE(os.stat(os.path.dirname(os.path.dirname(p))).st_mode)))
        return real(self, case, paths, *args, **kwargs)

    monkeypatch.setattr(Vault, "add_documents", watching)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = bob.post(f"/case/{world.case}/upload?csrf={bob.csrf}", data={"type": "other"},
                 files=[("file", ("x.txt", b"x\n", "text/plain")), ("file", ("y.txt", b"y\n", "text/plain"))],
                 headers={"accept": "application/json"})
    assert r.status_code == 200
    assert seen == [(0o600, 0o700, 0o700)] * 2
    assert not list(tmp_path.iterdir())
