"""`refuge search`: planted phrases are found in PDFs, plain text and recognised scans, only by members,
with nothing in plaintext on disk, on both backends."""

from __future__ import annotations

import json
import unicodedata

import pytest
import scans
from conftest import PASSPHRASE, derived_world

# The planted phrases: a name with accents and a double surname in a text PDF, one in a plain-text
# file, and one in the recognised words of a scan.
PDF_NAME = "Zuleyma Quintanilla-Barragán"
TXT_NAME = "Críspulo Echeverría Oñate"
OCR_NAME = "Wenceslao Irízar Buendía"


def _strip(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _pdf(path, lines):
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter, invariant=1)
    for page in lines:
        c.setFont("Helvetica", 11)
        c.drawString(72, 700, page)
        c.showPage()
    c.save()
    return path


def _png(path):
    from PIL import Image

    Image.new("RGB", (600, 400), (250, 250, 250)).save(path)
    return path


def _search(w, *args, user="bob"):
    p = w.run("search", *args, "--json", user=user)
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


def _found(w, query, user="bob", *args):
    return [(r["doc"], r["page"]) for r in _search(w, query, *args, user=user)]


def _plant_ocr(w, doc_id, words, user="bob"):
    """Keep recognition results for a scan in the case, as packet plan --ocr keeps them."""
    from packets.ocr import PageText, Word

    vault = w.open(user)
    case, _ = vault.find_document(doc_id)
    page = PageText(600, 400, [Word(t, (10 + 60 * i, 10, 60 + 60 * i, 30), 91.0, (1, 1, 1))
                               for i, t in enumerate(words.split())])
    vault.save_ocr(case, {"k" * 64: {"0": page.to_dict()}}, {"k" * 64: doc_id})


@pytest.fixture
def searched(case_world, request):
    """MX-0001 holding a text PDF (page 2 names PDF_NAME), a plain-text note and a scan with cached OCR."""
    # Made once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, case_world, "test_search_cli", _add_searched_documents)


def _add_searched_documents(w) -> dict:
    inbox = w.root / "inbox"
    inbox.mkdir()
    pdf = _pdf(inbox / "statement.pdf", ["An ordinary first page.", f"The witness {PDF_NAME} saw the convoy."])
    txt = inbox / "note.txt"
    txt.write_text(f"Call notes: {TXT_NAME} will bring the birth certificate.\n", encoding="utf-8")
    ids = {"pdf": w.ok("doc", "add", "MX-0001", str(pdf), "--type", "legal-declaration", "--title", "Statement",
                       user="bob").strip()}
    ids["txt"] = w.ok("doc", "add", "MX-0001", str(txt), "--type", "correspondence", "--title", "Call notes",
                      "--tag", "phone", user="bob").strip()
    ids["scan"] = w.ok("doc", "add", "MX-0001", str(_png(inbox / "scan.png")), "--type", "identity", "--title", "Scan",
                       user="bob").strip()
    _plant_ocr(w, ids["scan"], f"Certificate issued to {OCR_NAME} in 2019")
    w.ok("search", "--reindex", "MX-0001", user="bob")  # the OCR cache came after the add
    return ids


@pytest.mark.s3_in_stress("a rule of the application")
def test_planted_phrases_are_found_with_accents_case_and_one_surname(searched):
    w = searched
    for query in ("barragan", "QUINTANILLA", "Quintanilla-Barragán", _strip(PDF_NAME).lower(), '"zuleyma quintanilla"'):
        assert _found(w, query) == [(w.pdf, 2)], query
    for query in ("echeverria", "ONATE", "críspulo", "crispulo onate"):
        assert _found(w, query) == [(w.txt, 1)], query
    for query in ("buendia", "IRIZAR", "wenceslao buendía"):
        assert _found(w, query) == [(w.scan, 1)], query
    [hit] = _search(w, "barragan")
    assert set(hit) == {"case", "ref", "doc", "version", "title", "type", "page", "snippet", "score"}
    assert (hit["ref"], hit["title"], hit["type"], hit["version"]) == ("MX-0001", "Statement", "legal-declaration", 1)
    assert "Quintanilla-[Barragán] saw the convoy" in hit["snippet"]
    table = w.ok("search", "barragan", user="bob")  # not a terminal: the match in brackets
    assert table.splitlines()[0].split() == ["CASE", "DOC", "TITLE", "PAGE", "SNIPPET"]
    assert "MX-0001" in table and w.pdf in table and "[Barragán]" in table
    assert _found(w, "convoy", "bob", "--case", "MX-0001") == [(w.pdf, 2)]
    assert _found(w, "certificate", "bob", "--type", "identity") == [(w.scan, 1)]
    assert _found(w, "certificate", "bob", "--tag", "phone") == [(w.txt, 1)]


@pytest.mark.s3_in_stress("a rule of the application")
def test_nothing_in_plaintext_on_disk_and_the_audit_keeps_no_query(searched):
    w = searched
    _found(w, "quintanilla")
    _found(w, "echeverria", "carol")
    found = [p for p in w.home.rglob("*") if p.is_file()]
    blobs = w.vault_bytes() + b"".join(p.read_bytes() for p in found)
    for name in (PDF_NAME, TXT_NAME, OCR_NAME):
        for word in {*name.replace("-", " ").split(), *_strip(name).replace("-", " ").split()}:
            for form in {word, word.lower(), _strip(word).lower()}:
                assert form.encode() not in blobs, form
    rows = [r for r in json.loads(w.ok("audit", "log", "--action", "search", "--json", user="dave"))
            if r["action"] == "search"]
    case_id = _search(w, "quintanilla")[0]["case"]
    # carol is a member of no case: no cases (an empty list is left out), and 0 hits
    assert [(r["name"], r.get("cases"), r.get("hits")) for r in rows] == [("bob", [case_id], 1), ("carol", None, 0)]
    assert "quintanilla" not in json.dumps(rows).lower() and "echeverria" not in json.dumps(rows).lower()


@pytest.mark.s3_in_stress("an access rule of the application")
def test_non_members_and_revoked_members_find_nothing(searched):
    w = searched
    assert _found(w, "quintanilla", "carol") == []
    p = w.run("search", "quintanilla", "--case", "MX-0001", user="carol")
    assert p.returncode == 1 and p.stderr.decode().startswith("refuge: error: no case MX-0001 among your cases")
    w.ok("case", "grant", "MX-0001", "carol", user="erin")
    assert _found(w, "quintanilla", "carol") == [(w.pdf, 2)]  # carol's REFUGE_HOME now caches the case
    w.ok("case", "revoke", "MX-0001", "carol", user="erin")
    assert _found(w, "quintanilla", "carol") == []
    assert _found(w, "echeverria", "carol") == []
    p = w.run("search", "quintanilla", user="dave")
    assert p.returncode == 4 and p.stderr.decode().count("\n") == 1
    assert "needs the lawyer or case-lead role" in p.stderr.decode()


@pytest.mark.s3_in_stress("a rule of the application")
def test_tags_and_new_versions_update_results(searched, tmp_path):
    w = searched
    assert _found(w, "convoy", "bob", "--tag", "urgent") == []
    w.ok("doc", "tag", w.pdf, "--add", "urgent", user="bob")
    assert _found(w, "convoy", "bob", "--tag", "urgent") == [(w.pdf, 2)]
    w.ok("doc", "tag", w.pdf, "--remove", "urgent", user="bob")
    assert _found(w, "convoy", "bob", "--tag", "urgent") == []
    newer = _pdf(tmp_path / "statement-v2.pdf", [f"Corrected: the witness is {TXT_NAME.split()[0]} Altamirano."])
    w.ok("doc", "add", "MX-0001", str(newer), "--type", "legal-declaration", "--supersedes", w.pdf, user="bob")
    assert _found(w, "quintanilla") == []  # version 1's text is gone from the results
    [hit] = _search(w, "altamirano")
    assert (hit["doc"], hit["version"], hit["page"]) == (w.pdf, 2, 1)


@pytest.mark.local_only("deletes segment objects by name on disk")
def test_a_lost_segment_is_reported_and_reindex_rebuilds(searched):
    w = searched
    case_id = _search(w, "quintanilla")[0]["case"]
    for p in sorted((w.vault / "cases" / case_id / "search").iterdir()):
        p.unlink()
    p = w.run("search", "quintanilla", user="bob")
    assert p.returncode == 0 and p.stdout.decode().strip() == "(none)"
    assert "4 documents of case MX-0001 are not in the search index; rebuild it with refuge search --reindex MX-0001" \
        in p.stderr.decode()
    assert w.ok("search", "--reindex", "MX-0001", user="bob").strip() == "indexed 4 documents of MX-0001"
    assert _found(w, "quintanilla") == [(w.pdf, 2)]
    assert _found(w, "buendia") == [(w.scan, 1)]


@pytest.mark.s3_in_stress("a rule of the application")
def test_bad_input_is_one_line_with_its_exit_code(searched):
    w = searched
    for args, code, text in [
        ((), 2, "give a QUERY, or --reindex REF; see refuge search --help"),
        (("!!!",), 1, "search query has no words"),
        (("quintanilla", "--reindex", "MX-0001"), 2, "--reindex takes a case only, without a query or filters"),
        (("quintanilla", "--limit", "0"), 2, None),
        (("--reindex", "NOPE"), 1, "no case NOPE among your cases"),
        (("quintanilla", "--case", "NOPE"), 1, "no case NOPE among your cases"),
    ]:
        p = w.run("search", *args, user="bob")
        err = p.stderr.decode()
        assert p.returncode == code and err.startswith("refuge: error: ") and err.count("\n") == 1, (args, err)
        if text:
            assert text in err, (args, err)
    p = w.run("search", "--reindex", "MX-0001", user="dave")
    assert p.returncode == 4
    # FTS5 syntax is only words
    for query in ('quintanilla OR', 'NEAR(quintanilla', '"quintanilla', 'quintanilla*', '-quintanilla', 'col:quintanilla'):
        p = w.run("search", query, "--json", user="bob") if not query.startswith("-") else \
            w.run("search", "--json", "--", query, user="bob")
        assert p.returncode == 0, (query, p.stderr.decode())
    assert _found(w, "quintanilla*") == [(w.pdf, 2)]
    assert _found(w, "quintanilla OR") == []  # "or" is a word no document holds


@pytest.mark.s3_in_stress("a rule of the application")
def test_the_query_can_come_from_a_file_or_stdin(searched, tmp_path):
    w = searched
    q = tmp_path / "query.txt"
    q.write_text("Quintanilla Barragán\n", encoding="utf-8")
    assert _found(w, f"@{q}") == [(w.pdf, 2)]
    p = w.run("search", "@-", "--json", user="bob", input=b"echeverria")
    assert p.returncode == 0 and [r["doc"] for r in json.loads(p.stdout)] == [w.txt]


@pytest.mark.local_only("one backend is enough for the vault API")
def test_compaction_and_unsigned_segments(searched, monkeypatch):
    """Writers never compact; a search that folded 16 segments or more stores its index as a compaction,
    and readers then fold from it. A segment signed by someone who may not hold case keys (the
    auditor) is skipped, and a rebuild says so (exit 3)."""
    from vault import age, searching
    from vault.events import canonical, now, sign_record
    from vault.identity import Home
    from vault.search import Segment

    w = searched
    vault = w.open("bob")
    case = vault.find_case("MX-0001")
    extract = lambda sources: [[(1, f"filler words for {s.doc_id}")] for s in sources]
    start = max(searching._numbers(vault, case.id))
    while max(searching._numbers(vault, case.id)) < 2 * searching.COMPACT_EVERY + 1:
        searching.index_documents(vault, case, [w.txt], extract)
    loaded = searching.load_index(vault, case.id)
    assert loaded.since >= searching.COMPACT_EVERY and not loaded.problems and start < loaded.last_seq
    loaded.index.close()
    assert _found(w, "filler") == [(w.txt, 1)]  # this search compacts, after answering
    assert searching.load_index(vault, case.id).folded == 1
    assert _found(w, "filler", "bob", "--case", "MX-0001") == [(w.txt, 1)] and _found(w, "quintanilla") == [(w.pdf, 2)]
    while max(searching._numbers(vault, case.id)) < 3 * searching.COMPACT_EVERY + 2:
        searching.index_documents(vault, case, [w.txt], extract)
    assert _found(w, "filler", "bob", "--case", "MX-0001") == [(w.txt, 1)]  # one case alone compacts too
    assert searching.load_index(vault, case.id).folded == 1
    # a segment made by the auditor, encrypted to the case (its recipient leaked), adding a fake document text
    dave = Home(w.home).unlock("dave", PASSPHRASE)
    with Segment() as seg:
        seg.add(w.pdf, 1, 1, "planted by someone else zanzibar", {"title": "x"})
        data = seg.to_bytes()
    _, recipient = vault._current_version(case.id), vault._case_identities(case.id)[vault._current_version(case.id)].recipient
    seq = max(searching._numbers(vault, case.id)) + 1
    import hashlib

    header = sign_record(dave, {"format": searching.FORMAT, "case": case.id, "seq": seq, "covers": 0,
                                "sha256": hashlib.sha256(data).hexdigest(), "time": now()})
    vault.backend.put(searching.segment_key(case.id, seq), age.encrypt_bytes([recipient], canonical(header) + b"\n" + data))
    p = w.run("search", "zanzibar", user="bob")
    assert p.returncode == 0 and p.stdout.decode().strip() == "(none)"
    assert f"search segment {seq} of case {case.id} is not signed by an enrolled lawyer or case lead" in p.stderr.decode()
    p = w.run("search", "--reindex", "MX-0001", user="bob")
    assert p.returncode == 3 and "1 search segment of case MX-0001 did not verify" in p.stderr.decode()
    assert _found(w, "quintanilla") == [(w.pdf, 2)]


@pytest.mark.local_only("Tesseract once is enough; the cache it fills is the same on both backends")
@pytest.mark.s3_in_stress("a rule of the application")
def test_a_scan_recognised_by_packet_plan_is_found_without_a_reindex(case_world, tmp_path):
    """The real path: Tesseract recognises the scan in the keyless worker (packet plan --ocr), the case
    keeps the result encrypted and its words enter the index at once; a rebuilt index holds them too."""
    w = case_world
    scan = tmp_path / "scan.png"
    scan.write_bytes(scans.upright()[0])
    doc = w.ok("doc", "add", "MX-0001", str(scan), "--type", "identity", "--title", "Form", user="bob").strip()
    assert _found(w, "lanterns orchard") == []  # nothing recognised at doc add (Tesseract is slow)
    w.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--doc", doc, user="erin")
    p = w.run("packet", "plan", "MX-0001", "--for", "unhcr-resettlement", "--ocr", "--json", user="erin")
    assert p.returncode == 0, p.stderr.decode()
    assert _found(w, "lanterns orchard") == [(doc, 1)]
    w.ok("search", "--reindex", "MX-0001", user="bob")
    assert _found(w, "lanterns orchard") == [(doc, 1)]
    assert _found(w, _strip(scans.NAME).split()[0].upper()) == [(doc, 1)]


@pytest.mark.local_only("Tesseract once is enough; the index it fills is the same on both backends")
def test_the_worker_that_recognises_a_scan_gives_the_index_its_words(case_world, tmp_path, monkeypatch):
    """A plan or build reviews the pages in one keyless worker; the text of what it recognised
    reaches the index from that worker, not from a second one reading the document again, and
    the index holds what a rebuilt index (read by the text worker) holds."""
    from packets import coverage
    from packets.build import plan_packet
    from packets.profiles import get_profile
    from vault import worker

    w = case_world
    scan = tmp_path / "scan.png"
    scan.write_bytes(scans.upright()[0])
    doc = w.ok("doc", "add", "MX-0001", str(scan), "--type", "identity", "--title", "Form", user="bob").strip()
    w.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--doc", doc, user="erin")
    vault = w.open("erin")
    case, profile = vault.find_case("MX-0001"), get_profile("unhcr-resettlement")
    plan = plan_packet(vault, case, profile, "2026-01-01", pages=False)
    started, run = [], worker.run
    monkeypatch.setattr(worker, "run", lambda target, *a, **k: started.append(target) or run(target, *a, **k))
    coverage.coverage_of(vault, case, profile, plan, ocr=True)
    assert started == ["packets._isolated:_review_task"]
    name = _strip(scans.NAME).split()[0].upper()
    found = [_found(w, "lanterns orchard"), _found(w, name)]
    assert found == [[(doc, 1)], [(doc, 1)]]
    w.ok("search", "--reindex", "MX-0001", user="bob")
    assert [_found(w, "lanterns orchard"), _found(w, name)] == found


def test_concurrent_writers_never_lose_a_segment(searched, monkeypatch):
    """Two writers that both saw the same last number: the second one's put fails create-only and it
    takes the next number; both batches are in the index."""
    from vault import searching

    w = searched
    vault = w.open("bob")
    case = vault.find_case("MX-0001")
    seen = searching._numbers(vault, case.id)
    with monkeypatch.context() as m:
        m.setattr(searching, "_numbers", lambda v, case_id: list(seen))  # both writers list before either writes
        a = searching.index_documents(vault, case, [w.txt], lambda s: [[(1, "first writer alborada")]])
        b = searching.index_documents(vault, case, [w.pdf], lambda s: [[(1, "second writer madrugada")]])
    assert b == a + 1 == seen[-1] + 2
    assert _found(w, "alborada") == [(w.txt, 1)] and _found(w, "madrugada") == [(w.pdf, 1)]


@pytest.mark.s3_in_stress("a rule of the application")
def test_a_photo_not_recognised_yet_is_found_by_its_title(case_world, tmp_path):
    w = case_world
    photo = w.ok("doc", "add", "MX-0001", str(_png(tmp_path / "p.png")), "--type", "photo", "--title",
                 "Fotografía del muelle", user="bob").strip()
    assert [(r["doc"], r["page"]) for r in _search(w, "fotografia muelle")] == [(photo, None)]


@pytest.mark.local_only("an in-process check of the warning")
@pytest.mark.s3_in_stress("a rule of the application")
def test_a_failed_index_update_warns_in_one_line_and_keeps_the_document(searched, monkeypatch, capsys):
    from refuge import indexing
    from vault.worker import WorkerFailed

    def broken(sources):
        raise WorkerFailed("the worker handling the documents being indexed answered malformed data")

    monkeypatch.setattr(indexing, "extract", broken)
    vault = searched.open("bob")
    case = vault.find_case("MX-0001")
    assert indexing.update(vault, case, [searched.pdf], "MX-0001") is False
    err = capsys.readouterr().err
    assert err == ("refuge: warning: search will miss this document (the worker handling the documents being indexed "
                   "answered malformed data); rebuild the index with refuge search --reindex MX-0001\n")
    assert searched.pdf in vault.find_case("MX-0001").documents


@pytest.mark.s3_in_stress("a planted segment is refused by its signature; raw writes to S3 are in tests/test_insider.py")
def test_a_revoked_member_cannot_plant_a_search_segment(searched):
    """bob keeps the key versions he held, is revoked, and (still an enrolled lawyer, with write access
    to the storage) signs and stores a segment that hides the statement, encrypted to the old version
    the members still read. The members' search ignores it, names it, and still finds the statement."""
    import hashlib

    from vault import age, casekeys, searching
    from vault.events import canonical, now, sign_record
    from vault.search import Segment

    w = searched
    bob = w.open("bob")
    case = bob.find_case("MX-0001")
    kept = casekeys.case_identities(bob, case.id)  # what a member can keep: his unwrapped key versions
    assert _found(w, "quintanilla", "erin") == [(w.pdf, 2)]
    w.ok("case", "revoke", "MX-0001", "bob", user="erin")
    segment = Segment(case.id)
    segment.remove(w.pdf)
    data = segment.to_bytes()
    seq = max(searching._numbers(bob, case.id)) + 1
    header = sign_record(w.open("bob").me, {"format": searching.FORMAT, "case": case.id, "seq": seq, "covers": 0,
                                            "sha256": hashlib.sha256(data).hexdigest(), "time": now()})
    blob = age.encrypt_bytes([kept[max(kept)].recipient], canonical(header) + b"\n" + data)
    w.open("carol").backend.put(searching.segment_key(case.id, seq), blob)  # a raw write to the storage
    p = w.run("search", "quintanilla", "--case", "MX-0001", "--json", user="erin")
    assert p.returncode == 0 and [(r["doc"], r["page"]) for r in json.loads(p.stdout)] == [(w.pdf, 2)]
    assert f"search segment {seq} of case" in p.stderr.decode() and "not a member" in p.stderr.decode()
    assert _found(w, "quintanilla", "erin") == [(w.pdf, 2)]  # the index of all her cases too
