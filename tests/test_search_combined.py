"""Many cases searched as one (vault/search.py's Combined over vault/_fts5_merge.py).

The combined index must find exactly what searching each case on its own finds,
name each hit's own case, keep removed documents out, and refuse to combine an
index whose rows claim another case's rowids (a crafted segment): such an index
is searched on its own, and no other case's hit ever shows its text.
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from vault import _fts5_merge
from vault.errors import InvalidInput
from vault.search import CaseIndex, Combined, Segment, search_many, tag_of

WORDS = ("asylum claim family police threat judge hearing border shelter Tapachula psychologist report "
         "PTSD menace famille policía amenaza refugiados déclaration témoin persecución").split()
NAMES = ["María González-Pérez", "José Núñez Ibáñez", "Hélène Lefèvre-Côté", "Zoé Benoît", "Gonzalo Ruiz",
         "Ángel Benoît-Lefèvre", "Iñaki Castaño", "Anaïs Dubois"]
TYPES = ["statement", "letter", "evidence"]


def _cases(n_cases: int = 6, docs: int = 20, segments: int = 3, seed: int = 7) -> dict[str, CaseIndex]:
    """``n_cases`` indexes, each folded from ``segments`` segments (a removal and an edit among them)."""
    rnd = random.Random(seed)
    out = {}
    for c in range(n_cases):
        case = f"case-{c}"
        segs = [Segment(case) for _ in range(segments)]
        for d in range(docs):
            name = rnd.choice(NAMES)
            fields = {"title": f"doc {c}-{d}", "type": rnd.choice(TYPES), "tags": [rnd.choice("ab")], "person": name}
            for page in (1, 2):
                text = " ".join(rnd.choices(WORDS, k=40)) + (f" {name}." if page == 2 else "")
                segs[d % segments].add(f"d{c}-{d}", 1, page, text, fields)
        segs[-1].remove(f"d{c}-0")  # removed: must not be found
        segs[-1].add(f"d{c}-1", 2, 1, "edited: only this text now, Tapachula", {"title": "edited", "type": "letter"})
        out[case] = CaseIndex.open([s.to_bytes() for s in segs])
    return out


@pytest.fixture(scope="module")
def cases():
    return _cases()


@pytest.fixture(scope="module")
def combined(cases):
    with Combined(cases) as c:
        yield c


QUERIES = ["Tapachula", "gonzalez", "Benoît-Lefèvre", "gonz", "police familia", '"family police"', "menaces",
           "PTSD psychologist", "zzzz", "edited", "asylum hearing border", '"Zoé Benoît"', "ibáñez nunez", "de"]


def _found(hits):
    return sorted((h.case, h.doc_id, h.version) for h in hits)


@pytest.mark.parametrize("query", QUERIES)
def test_combined_finds_what_each_case_finds_on_its_own(cases, combined, query):
    assert len(combined._by_tag) == len(cases) and combined._alone == []  # every case joined
    alone = search_many(cases, query, limit=1000)
    together = combined.search(query, limit=1000)
    assert _found(together) == _found(alone)
    assert [h.score for h in together] == sorted((h.score for h in together), reverse=True)
    for h in together:  # the snippet is the hit's own text, marked
        assert h.snippet and "[" in h.snippet


@pytest.mark.parametrize("filters", [{"types": ["letter"]}, {"tags": ["a"]}, {"person": "gonzalez"},
                                     {"types": ["statement", "evidence"], "tags": ["b"], "person": "Benoît"}])
def test_combined_filters_match_each_case_on_its_own(cases, combined, filters):
    for query in ("family", "Tapachula", "police threat"):
        assert _found(combined.search(query, limit=1000, **filters)) == _found(search_many(cases, query, limit=1000, **filters))


def test_removed_and_older_versions_are_not_found(combined):
    hits = combined.search("asylum", limit=1000)
    assert not any(h.doc_id.endswith("-0") for h in hits)
    assert {h.version for h in combined.search("edited", limit=1000)} == {2}
    assert len(combined.search("asylum", limit=3)) == 3


def test_a_prefix_with_several_words_still_finds_them_all(combined):
    # "gonz" is both González and Gonzalo: the exact-word shortcut must not narrow it
    people = {h.fields["person"] for h in combined.search("gonz", limit=1000)}
    assert {"María González-Pérez", "Gonzalo Ruiz"} <= people


def test_indexes_that_cannot_join_are_searched_on_their_own():
    good = _cases(2, docs=5, seed=1)
    old = Segment()  # no case: tag 0, as an index of format 1
    old.add("old-doc", 1, 1, "Tapachula shelter", {"title": "old"})
    elsewhere = Segment("case-x")  # a tag that is not its key's
    elsewhere.add("x-doc", 1, 1, "Tapachula shelter", {"title": "x"})
    indexes = {**good, "case-old": CaseIndex.open([old.to_bytes()]), "case-y": CaseIndex.open([elsewhere.to_bytes()])}
    with Combined(indexes) as c:
        assert sorted(c._alone) == [2, 3]
        assert _found(c.search("tapachula shelter", limit=100)) == _found(search_many(indexes, "tapachula shelter", limit=100))
        assert {("case-old", "old-doc"), ("case-y", "x-doc")} <= {(h.case, h.doc_id) for h in c.search("shelter")}


def test_a_crafted_index_claiming_another_cases_rows_does_not_join():
    """Rows written straight into a case's FTS5 table with another case's rowids: that case is searched alone."""
    indexes = _cases(2, docs=5, seed=2)
    victim = indexes["case-1"]
    hostile = Segment("case-0")
    hostile.add("h1", 1, 1, "harmless words", {"title": "h"})
    first = next(iter(victim._by_num))
    forged = victim._base(first) | 1  # the victim's first document, page 1
    hostile._write().execute("INSERT INTO pages(rowid, body, title) VALUES (?, ?, ?)",
                             (forged + 7, "forged Tapachula secret", ""))
    indexes["case-0"] = CaseIndex.open([hostile.to_bytes()])
    with Combined(indexes) as c:
        assert c._alone == [0]
        for h in c.search("forged secret", limit=100):
            assert h.case == "case-0" or "forged" not in h.snippet
        assert not any(h.case == "case-1" for h in c.search("forged", limit=100))


def test_a_damaged_structure_record_does_not_join():
    indexes = _cases(3, docs=4, seed=3)
    bad = indexes["case-2"]
    bad._write().execute("UPDATE pages_data SET block = ? WHERE id = 10", (b"\x00\x00\x00\x00\xff\x00\x00\x01junk",))
    bad._settle()
    with Combined({k: v for k, v in indexes.items() if k != "case-2"} | {"case-2": CaseIndex.open([bad.to_bytes()])}) as c:
        assert c._alone == [2] and len(c._by_tag) == 2


def test_varints_round_trip_as_sqlite_writes_them():
    for value in (0, 1, 127, 128, 240, 2287, 16383, 16384, 2**21, 2**35 + 5, 2**56 - 1):
        data = _fts5_merge._put_varint(value)
        assert _fts5_merge._get_varint(data + b"\x99", 0) == (value, len(data))
    with pytest.raises(ValueError):
        _fts5_merge._get_varint(b"\x81\x82", 0)


def test_tags_are_stable_and_in_range():
    assert tag_of("case-1") == tag_of("case-1") != tag_of("case-2")
    assert all(0 < tag_of(f"c{i}") < 1 << 22 for i in range(200))
    with pytest.raises(InvalidInput):
        tag_of("")


def test_format_1_segments_are_still_read():
    seg = Segment()
    seg.add("d", 1, 1, "Tapachula shelter", {"title": "t"})
    conn = seg._settle()
    conn.execute("UPDATE meta SET value = 'refuge-search-1' WHERE key = 'format'")
    conn.execute("DELETE FROM meta WHERE key = 'tag'")
    later = Segment("case-z")
    later.add("e", 1, 1, "another shelter", {"title": "e"})
    index = CaseIndex.open([seg.to_bytes(), later.to_bytes()])
    assert sorted(h.doc_id for h in index.search("shelter")) == ["d", "e"]
    conn.execute("UPDATE meta SET value = 'refuge-search-3' WHERE key = 'format'")
    with pytest.raises(InvalidInput):
        CaseIndex.open([seg.to_bytes()])


def test_combining_touches_no_file(monkeypatch, tmp_path):
    """The combined database, its attached copies and its word list live in memory only."""
    import os
    import sqlite3

    seen = []
    real = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda db, *a, **k: (seen.append(db), real(db, *a, **k))[1])
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    indexes = _cases(3, docs=30, seed=4)
    with Combined(indexes) as c:
        assert c.search("Tapachula family", types=["letter"]) is not None
    assert seen and set(seen) == {":memory:"}
    assert os.listdir(tmp_path) == []


def _doclist_only(case: str, foreign_rowid: int, word: str) -> bytes:
    """A case's segment whose FTS5 index lists ``foreign_rowid`` under ``word``, with no row of text or
    size for it: what a member who writes segments by hand can make."""
    seg = Segment(case)
    seg.add("a1", 1, 1, "harmless text of this case", {"title": "a1", "type": "letter"})
    conn = sqlite3.connect(":memory:")
    conn.deserialize(seg.to_bytes())
    conn.execute("INSERT INTO pages(rowid, body, title) VALUES (?, ?, '')", (foreign_rowid, word))
    conn.execute("DELETE FROM pages_content WHERE id = ?", (foreign_rowid,))
    conn.execute("DELETE FROM pages_docsize WHERE id = ?", (foreign_rowid,))
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


def test_an_index_whose_doclists_name_another_cases_rows_neither_joins_nor_plants_hits():
    """The rows of text and sizes are honest; only the word lists name the other case's page."""
    victim = Segment("case-b")
    victim.add("b1", 1, 1, "ordinary words of the other case", {"title": "b1", "type": "letter"})
    b = CaseIndex.open([victim.to_bytes()])
    [(rowid,)] = b._settle().execute("SELECT rowid FROM pages").fetchall()
    hostile = CaseIndex.open([_doclist_only("case-a", rowid, "planted")])
    with Combined({"case-b": b, "case-a": hostile}) as c:
        assert c._alone == [1] and not c.search("planted")


def test_an_index_sqlite_finds_malformed_answers_nothing_and_is_named_not_a_crash():
    own = (tag_of("case-a") << 40) | (1 << 20) | 7  # the case's own first document, a page with no row
    hostile = CaseIndex.open([_doclist_only("case-a", own, "boom")])
    other = Segment("case-b")
    other.add("b1", 1, 1, "boom in the other case", {"title": "b1", "type": "letter"})
    damaged: list = []
    hits = search_many({"case-a": hostile, "case-b": CaseIndex.open([other.to_bytes()])}, "boom", damaged=damaged)
    assert [(h.case, h.doc_id) for h in hits] == [("case-b", "b1")] and damaged == ["case-a"]
