"""A plain text past the whole-document limit waits for a rebuild, then is indexed whole, chunk by chunk.

At `doc add` (index_documents, defer) such a text is indexed by its title only and marked as waiting,
so adding it costs what storing it costs; a search says so and names `refuge search --reindex`, which
reads it in chunks, never decrypted whole.

The shipped limit is 32 MiB (vault.searching.MAX_TEXT_BYTES); these tests lower it to a few
hundred kilobytes through the library's parameters so that one generated text crosses it in
seconds, and then search through the command line as a user would.
"""

from __future__ import annotations

import json
import random

import pytest

from vault import searching

LAST_WORDS = "Finally the interpreter Zacarías Quiñones-Arbeláez signed at Tapachula"
FIRST_WORDS = "Opening remarks by Wilfrido Echenique"


def _text(size: int) -> str:
    """About ``size`` bytes: planted first words, filler with page breaks and a long run with no space, planted last words."""
    rnd = random.Random(5)
    words = "asylum hearing familia amenaza menace témoin declaración refuge border shelter".split()
    body = []
    n = 0
    while n < size:
        line = " ".join(rnd.choices(words, k=12)) + ("\f" if rnd.random() < 0.01 else "\n")
        body.append(line)
        n += len(line.encode())
    mid = len(body) // 2
    body.insert(mid, "ñ" * 60_000 + "\n")  # 120 kB of two-byte characters and no white space
    return FIRST_WORDS + "\n" + "".join(body) + LAST_WORDS + "\n"


def test_chunks_cut_at_white_space_and_never_inside_a_character():
    pieces = []
    sink = searching._Chunks(1000, pieces.append)
    data = ("é" * 700 + " word " * 300 + "ñ" * 2000 + "\fend").encode()
    for i in range(0, len(data), 333):
        sink.write(data[i:i + 333])
    sink.close()
    assert b"".join(pieces) == data
    assert all(len(p) <= 1000 for p in pieces) and len(pieces) > 5
    for p in pieces:
        p.decode("utf-8")  # strict: a piece never splits a character
    assert any(p.endswith(b" ") for p in pieces)


@pytest.mark.parametrize("text", ["A" * 5000, "ñ" * 2500], ids=["ascii", "two-byte"])
def test_a_text_with_no_white_space_read_in_blocks_that_fill_a_piece_exactly(text):
    """A base64 dump read 256 bytes at a time into 1,024-byte pieces: the buffer is exactly a piece
    long at each cut (the case that once read past its end)."""
    pieces = []
    sink = searching._Chunks(1024, pieces.append)
    data = text.encode()
    for i in range(0, len(data), 256):
        sink.write(data[i:i + 256])
    sink.close()
    assert b"".join(pieces) == data and all(len(p) <= 1024 for p in pieces)
    for p in pieces:
        p.decode("utf-8")


def _added_text(w, path, size: int, title: str):
    """A generated text of about ``size`` bytes added by bob with ``doc add``: (its id, bob's vault, the case)."""
    path.write_text(_text(size), encoding="utf-8")
    doc_id = w.ok("doc", "add", "MX-0001", str(path), "--type", "correspondence", "--title", title, user="bob").strip()
    vault = w.open("bob")
    return doc_id, vault, vault.find_case("MX-0001")


def _search(w, query):
    p = w.run("search", query, "--json", user="bob")
    assert p.returncode == 0, p.stderr.decode()
    return [(r["doc"], r["page"]) for r in json.loads(p.stdout)]


@pytest.mark.local_only("the chunking is the library's; one backend is enough")
def test_a_text_over_the_limit_is_indexed_whole_in_chunks(case_world, tmp_path, monkeypatch):
    from refuge import indexing

    w = case_world
    doc_id, vault, case = _added_text(w, tmp_path / "transcript.txt", 450_000, "Transcript")
    limit, chunk = 200_000, 100_000
    assert case.documents[doc_id].size > limit

    real = searching.document_bytes

    def whole(v, doc):
        assert doc.id != doc_id, "a text over the limit was decrypted whole"
        return real(v, doc)

    monkeypatch.setattr(searching, "document_bytes", whole)
    before = searching._numbers(vault, case.id)
    last = searching.index_documents(vault, case, [doc_id, w.decl], indexing.extract, max_text=limit, chunk=chunk,
                                     defer=False)
    stored = [n for n in searching._numbers(vault, case.id) if n not in before]
    assert len(stored) >= 4 and last == stored[-1]  # one segment a chunk, the first with the declaration
    with searching.load_index(vault, case.id).index as index:
        assert doc_id in index.doc_ids() and w.decl in index.doc_ids()

    found_last = _search(w, "quinones arbelaez")
    assert [d for d, _ in found_last] == [doc_id] and found_last[0][1] > 3  # a late page, numbered on
    assert _search(w, "Wilfrido Echenique") == [(doc_id, 1)]
    assert [d for d, _ in _search(w, '"interpreter Zacarías"')] == [doc_id]

    # a rebuild reads it in chunks too, into one compaction
    count, problems = searching.reindex(vault, vault.find_case("MX-0001"), indexing.extract, max_text=limit, chunk=chunk)
    assert problems == [] and count == 2
    assert [d for d, _ in _search(w, "Quiñones-Arbeláez Tapachula")] == [doc_id]


def test_a_part_folds_onto_its_own_version_only():
    from vault.search import CaseIndex, Segment

    first = Segment("c")
    first.add("d", 1, 1, "first page alborada", {"title": "t"})
    part = Segment("c")
    part.add("d", 1, 2, "second page madrugada", {"title": "t"}, part=True)
    stale = Segment("c")
    stale.add("d", 0, 3, "an older version's part crepusculo", {"title": "t"}, part=True)
    orphan = Segment("c")
    orphan.add("e", 1, 2, "no first part anochecer", {"title": "t"}, part=True)
    index = CaseIndex.open([first.to_bytes(), part.to_bytes(), stale.to_bytes(), orphan.to_bytes()])
    assert [(h.doc_id, h.page) for h in index.search("alborada")] == [("d", 1)]
    assert [(h.doc_id, h.page) for h in index.search("madrugada")] == [("d", 2)]
    assert index.search("crepusculo") == [] and index.search("anochecer") == []
    assert index.doc_ids() == ["d"]
    again = CaseIndex.open([index.compact()])
    assert [(h.doc_id, h.page) for h in again.search("madrugada")] == [("d", 2)]


def _search_err(w, query):
    p = w.run("search", query, "--json", user="bob")
    assert p.returncode == 0, p.stderr.decode()
    return [(r["doc"], r["page"]) for r in json.loads(p.stdout)], p.stderr.decode()


@pytest.mark.local_only("the deferral is the library's; one backend is enough")
def test_a_text_over_the_limit_waits_for_a_reindex(case_world, tmp_path, monkeypatch, capsys):
    from refuge import indexing

    w = case_world
    doc_id, vault, case = _added_text(w, tmp_path / "hearing.txt", 300_000, "Hearing notes")
    limit, chunk = 200_000, 100_000

    def never(*args):
        raise AssertionError("the text of a deferred document was read")

    # what doc add runs, with the limit lowered: no text read, one title-only segment, one warning line
    monkeypatch.setattr(searching, "MAX_TEXT_BYTES", limit)
    monkeypatch.setattr(searching, "read_document", never)
    monkeypatch.setattr(searching, "document_bytes", never)
    before = searching._numbers(vault, case.id)
    assert searching.waiting_for_text(case, [doc_id, w.decl]) == [doc_id]
    capsys.readouterr()
    assert indexing.update(vault, case, [doc_id], "MX-0001")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refuge search --reindex MX-0001" in err and "hearing" not in err.lower()
    assert len(searching._numbers(vault, case.id)) == len(before) + 1
    monkeypatch.undo()

    found, err = _search_err(w, "quinones arbelaez")
    assert found == [] and "1 large text of case MX-0001" in err and "refuge search --reindex MX-0001" in err
    found, err = _search_err(w, "Hearing notes")
    assert [d for d, _ in found] == [doc_id]

    count, problems = searching.reindex(vault, vault.find_case("MX-0001"), indexing.extract, max_text=limit,
                                        chunk=chunk)
    assert problems == [] and count == 2
    found, err = _search_err(w, "quinones arbelaez")
    assert [d for d, _ in found] == [doc_id] and found[0][1] > 2 and "large text" not in err
    assert [d for d, _ in _search_err(w, "Wilfrido Echenique")[0]] == [doc_id]


@pytest.mark.local_only("the index's folding is the library's; one backend is enough")
def test_tagging_or_editing_a_large_text_keeps_its_indexed_body(case_world, tmp_path, monkeypatch):
    """`doc tag` and `doc edit` change fields only: the body --reindex indexed stays found, and a text
    still waiting stays waiting (and named by a search). The metadata change never reads the text."""
    from refuge import indexing

    w = case_world
    doc_id, vault, _ = _added_text(w, tmp_path / "interview.txt", 300_000, "Interview notes")
    waiting_id = _added_text(w, tmp_path / "later.txt", 310_000, "Later notes")[0]
    limit, chunk = 200_000, 100_000
    searching.reindex(vault, vault.find_case("MX-0001"), indexing.extract, max_text=limit, chunk=chunk)
    # the second text arrives after the rebuild: at add, by title only, waiting (what doc add runs, limit lowered)
    w.ok("doc", "edit", waiting_id, "--title", "Later hearing notes", user="bob")

    def never(*args):
        raise AssertionError("a metadata change read the document's text")

    def as_doc_add_then_tag():
        with monkeypatch.context() as m:
            m.setattr(searching, "MAX_TEXT_BYTES", limit)
            m.setattr(searching, "read_document", never)
            m.setattr(searching, "document_bytes", never)
            v = w.open("bob")
            c = v.find_case("MX-0001")
            assert indexing.update(v, c, [waiting_id], "MX-0001")  # what doc add stores for it
            v.tag(doc_id, ["urgent"], [])
            v.tag(waiting_id, ["urgent"], [])
            # what doc tag runs after the change, on the case as the command holds it
            assert indexing.update(v, c, [doc_id, waiting_id], "MX-0001", fields_only=True)

    as_doc_add_then_tag()
    found, err = _search_err(w, "quinones arbelaez")
    assert [d for d, _ in found] == [doc_id] and found[0][1] > 2  # deep in the body, still there
    assert "1 large text of case MX-0001" in err and "refuge search --reindex MX-0001" in err  # the other one
    p = w.run("search", "Later hearing", "--tag", "urgent", "--json", user="bob")
    assert p.returncode == 0 and [r["doc"] for r in json.loads(p.stdout)] == [waiting_id]

    # a new title through the command line: found by it (on every page of the body), not by the old one
    w.ok("doc", "edit", doc_id, "--title", "Testimony of Anselmo", user="bob")
    w.ok("doc", "tag", doc_id, "--add", "translated", user="bob")
    found, err = _search_err(w, "anselmo quinones")
    assert [d for d, _ in found] == [doc_id] and found[0][1] > 2
    assert [d for d, _ in _search_err(w, "Interview notes")[0]] == []
    p = w.run("search", "Wilfrido", "--tag", "urgent", "--tag", "translated", "--case", "MX-0001", "--json", user="bob")
    assert p.returncode == 0 and [r["doc"] for r in json.loads(p.stdout)] == [doc_id]
    assert "1 large text" in p.stderr.decode()


def test_a_fields_row_folds_onto_its_own_version_only():
    from vault.search import CaseIndex, Segment

    first = Segment("c")
    first.add("d", 2, 1, "first page alborada", {"title": "Old title", "tags": ["a"]})
    first.add("w", 1, 0, "", {"title": "Waiting one", "waiting": True})
    renamed = Segment("c")
    renamed.set_fields("d", 2, {"title": "Nuevo titulo", "tags": ["b"]})
    renamed.set_fields("w", 1, {"title": "Waiting two", "tags": ["b"]})
    stale = Segment("c")
    stale.set_fields("d", 1, {"title": "Stale crepusculo"})  # an older version's fields
    orphan = Segment("c")
    orphan.set_fields("e", 1, {"title": "Nothing held anochecer"})
    with pytest.raises(searching.InvalidInput):
        orphan.set_fields("e", 1, {"title": "twice"})
    segments = [first.to_bytes(), renamed.to_bytes(), stale.to_bytes(), orphan.to_bytes()]
    index = CaseIndex.open(segments)
    found = index.search("nuevo alborada", tags=["b"])
    assert [(h.doc_id, h.page, h.fields["tags"]) for h in found] == [("d", 1, ["b"])]
    assert index.search("old title") == [] and index.search("crepusculo") == [] and index.search("anochecer") == []
    assert [h.fields.get("waiting") for h in index.search("waiting two")] == [True]  # still waiting
    assert index.doc_ids() == ["d", "w"]
    again = CaseIndex.open([index.compact()])
    assert [h.doc_id for h in again.search("nuevo")] == ["d"] and again.search("old") == []
    # a fields row first in a fold (its compaction lost) applies to nothing, and the fold is format 2
    alone = CaseIndex.open(segments[1:])
    assert alone.doc_ids() == [] and alone._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone() == (
        "refuge-search-2",)
