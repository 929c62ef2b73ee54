"""Search inside a case (vault/search.py): matching, folding segments, compaction, no files."""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import unicodedata

import pytest

from vault import age
from vault.errors import InvalidInput, RefugeError
from vault.search import CaseIndex, Hit, Segment, parse_query, search_many

EN = ("The applicant, María González-Pérez, fled after repeated threats against her family. "
      "Police officers refused to register the complaint. She crossed the border at night with two children.")
ES = ("Los refugiados declararon ante el juez que la amenaza era constante. José Núñez Ibáñez, testigo, "
      "confirmó la persecución de la familia por motivos políticos.")
FR = ("Hélène Lefèvre-Côté a reçu des menaces de mort. La demande d'asile décrit la persécution subie "
      "et le refus de protection des autorités. Le témoin Zoé Benoît confirme les faits.")
LETTER = "Dear counsel, the hearing is set for Monday. The family asks for an interpreter."


def _index(*docs, segments: int = 1) -> CaseIndex:
    """An index of (doc_id, text, fields) documents, one page each, in ``segments`` segments."""
    segs = [Segment() for _ in range(segments)]
    for n, (doc_id, text, fields) in enumerate(docs):
        segs[n % segments].add(doc_id, 1, 1, text, fields)
    return CaseIndex.open([s.to_bytes() for s in segs])


@pytest.fixture
def case():
    return _index(
        ("doc-en", EN, {"title": "Statement of the applicant", "type": "statement", "tags": ["urgent", "en"],
                        "person": "María González-Pérez", "lang": "en"}),
        ("doc-es", ES, {"title": "Declaración", "type": "statement", "tags": ["es"],
                        "person": "José Núñez Ibáñez", "lang": "es"}),
        ("doc-fr", FR, {"title": "Demande d'asile", "type": "evidence", "tags": ["fr"],
                        "person": "Hélène Lefèvre-Côté", "lang": "fr"}),
        ("doc-letter", LETTER, {"title": "Letter from counsel", "type": "letter", "tags": []}),
    )


def ids(hits: list[Hit]) -> list[str]:
    return [h.doc_id for h in hits]


@pytest.mark.parametrize("query", [
    "gonzález", "GONZALEZ", "gonzalez", "perez", "Pérez", "gonzalez perez", "Maria Gonzalez", "maría pérez",
    '"gonzalez perez"', "González-Pérez", "Gonzá", "gonz", "MARIA GONZALEZ-PEREZ",
])
def test_names_with_accents_hyphens_and_double_surnames(case, query):
    assert ids(case.search(query)) == ["doc-en"]


@pytest.mark.parametrize("query, expected", [
    ("nunez", "doc-es"), ("ibanez", "doc-es"), ("jose nunez ibanez", "doc-es"), ("Núñez Ibá", "doc-es"),
    ("lefevre", "doc-fr"), ("cote", "doc-fr"), ("helene lefevre-cote", "doc-fr"), ("zoe benoit", "doc-fr"),
])
def test_one_surname_or_both(case, query, expected):
    assert ids(case.search(query)) == [expected]


@pytest.mark.parametrize("query, expected", [
    ("refugiado", "doc-es"), ("refugiados", "doc-es"), ("amenazas", "doc-es"),  # Spanish
    ("menace", "doc-fr"), ("menaces", "doc-fr"), ("persécutions", "doc-fr"),  # French (and doc-es: persecución)
    ("threat", "doc-en"), ("threats", "doc-en"), ("refuse", "doc-en"), ("refusing", "doc-en"),  # English
])
def test_stemming_finds_other_forms(case, query, expected):
    assert expected in ids(case.search(query))


def test_all_words_must_match_in_any_order(case):
    assert ids(case.search("children border")) == ["doc-en"]
    assert ids(case.search("border menaces")) == []


def test_phrases_match_words_in_order_only(case):
    assert ids(case.search('"threats against her family"')) == ["doc-en"]
    assert ids(case.search('"family her"')) == []  # both words are in doc-en, not in this order
    assert ids(case.search('"menaces de mort"')) == ["doc-fr"]
    assert ids(case.search('"MENACES DE MORT" helene')) == ["doc-fr"]


def test_snippet_marks_the_match_with_the_callers_marks(case):
    hit = case.search("lefevre")[0]
    assert "[Lefèvre]" in hit.snippet
    hit = case.search('"menaces de mort"', marks=("<b>", "</b>"))[0]
    assert "<b>menaces de mort</b>" in hit.snippet or "<b>menaces</b> <b>de</b> <b>mort</b>" in hit.snippet
    assert len(hit.snippet) < 200
    assert (hit.doc_id, hit.version, hit.page) == ("doc-fr", 1, 1)
    assert hit.fields["title"] == "Demande d'asile" and hit.score > 0


def test_filters_by_type_tag_and_person(case):
    assert sorted(ids(case.search("family"))) == ["doc-en", "doc-es", "doc-letter"]  # "familia" too
    assert ids(case.search("family", types=["letter"])) == ["doc-letter"]
    assert sorted(ids(case.search("family", types="statement"))) == ["doc-en", "doc-es"]
    assert ids(case.search("family", tags=["urgent"])) == ["doc-en"]
    assert ids(case.search("family", tags=["URGENT", "en"])) == ["doc-en"]
    assert ids(case.search("family", tags=["urgent", "fr"])) == []
    assert ids(case.search("family", person="gonzalez")) == ["doc-en"]
    assert ids(case.search("persecucion", person="Núñez")) == ["doc-es"]


def test_title_is_searched(case):
    assert ids(case.search("counsel")) == ["doc-letter"]
    assert ids(case.search("declaracion")) == ["doc-es"]


@pytest.mark.parametrize("query", [
    '"', '""', "'", "(", ")", "()", "*", "**", "-", "--", "^", ":", "NEAR", "NEAR(a b)", "AND", "OR", "NOT",
    "a AND", "OR b", "family OR", '"unclosed phrase', 'fam"ily', "family*", "-family", "family -border",
    "col:family", "{body title}: family", "NEAR(family border, 2)", "\x00family", "family\u200b", "+", "family + border",
])
def test_fts_syntax_in_queries_never_fails(case, query):
    try:
        case.search(query)
    except InvalidInput as e:
        assert str(e) == "search query has no words"


def test_syntax_words_are_only_words(case):
    assert ids(case.search("family AND")) == []  # "and" is a word here, and no document has it
    assert ids(case.search("family OR border")) == []  # "or" is a word too
    assert ids(case.search("NEAR(family border)")) == []  # "near" is a word: no document has it
    assert ids(case.search("(children) border*")) == ["doc-en"]


@pytest.mark.parametrize("query", ["", "   ", "!!!", '""', "()", "*-+", "\u200b"])
def test_a_query_with_no_words_is_refused_in_one_line(case, query):
    with pytest.raises(InvalidInput) as err:
        case.search(query)
    assert str(err.value) == "search query has no words"
    assert isinstance(err.value, RefugeError)


def test_parse_query_quotes_every_word():
    assert parse_query('Gonzá "threats against" OR "menaces de"') == '"gonza"* AND ("threats" + "against"*) AND "or" AND ("menaces" + "de")'


def test_removal_hides_a_document_and_a_later_add_restores_it(case):
    seg = Segment()
    seg.remove("doc-en")
    base = case.compact()
    after = CaseIndex.open([base, seg.to_bytes()])
    assert ids(after.search("gonzalez")) == []
    assert "doc-en" not in after.doc_ids() and len(after) == 3
    again = Segment()
    again.add("doc-en", 1, 1, EN, {"title": "back"})
    assert ids(CaseIndex.open([base, seg.to_bytes(), again.to_bytes()]).search("gonzalez")) == ["doc-en"]


def test_a_later_version_replaces_an_earlier_one():
    first = Segment()
    first.add("d", 1, 1, "the original statement mentions Amira", {"title": "v1"})
    first.add("d", 1, 2, "second page of the original", {"title": "v1"})
    second = Segment()
    second.add("d", 2, 1, "the corrected statement mentions Inés", {"title": "v2"})
    index = CaseIndex.open([first.to_bytes(), second.to_bytes()])
    assert ids(index.search("amira")) == [] and ids(index.search("original")) == []
    hit = index.search("ines")[0]
    assert (hit.version, hit.fields["title"]) == (2, "v2")
    # a stale add (a lower version stored later, by a concurrent writer) does not bring v1 back
    stale = Segment()
    stale.add("d", 1, 1, "the original statement mentions Amira", {"title": "v1"})
    index = CaseIndex.open([first.to_bytes(), second.to_bytes(), stale.to_bytes()])
    assert ids(index.search("amira")) == [] and index.search("ines")[0].version == 2


def test_within_a_segment_the_same_page_keeps_the_later_text_and_versions_replace():
    seg = Segment()
    seg.add("d", 1, 1, "draft text about Rubén", {})
    seg.add("d", 1, 1, "final text about Noé", {})
    seg.add("e", 1, 1, "old", {})
    seg.add("e", 3, 1, "new", {})
    seg.add("e", 2, 1, "stale", {})
    index = CaseIndex.open([seg.to_bytes()])
    assert ids(index.search("ruben")) == [] and ids(index.search("noe")) == ["d"]
    assert ids(index.search("old")) == [] and ids(index.search("stale")) == []
    assert index.search("new")[0].version == 3


def test_compaction_gives_the_same_results():
    rnd = random.Random(5)
    segs, texts = [], {}
    for s in range(6):
        seg = Segment()
        for _ in range(15):
            doc = f"d{rnd.randrange(40)}"
            text = " ".join(rnd.choice([EN, ES, FR, LETTER]).split()[rnd.randrange(10):][:20])
            seg.add(doc, s, 1, text, {"type": rnd.choice(["letter", "statement"])})
            texts[doc] = text
        for _ in range(3):
            seg.remove(f"d{rnd.randrange(40)}")
        segs.append(seg.to_bytes())
    index = CaseIndex.open(segs)
    compacted = CaseIndex.open([index.compact()])
    queries = ["family", "la", "menaces", "threats", '"de la"', "juez", "the", "persecution", "gonzalez perez"]
    for q in queries:
        for kw in ({}, {"types": ["letter"]}):
            assert index.search(q, **kw) == compacted.search(q, **kw), q
    assert index.doc_ids() == compacted.doc_ids()
    # and a compaction followed by later segments folds like the segments themselves
    later = Segment()
    later.remove("d1")
    later.add("d2", 99, 1, "Iñaki Castaño", {})
    a = CaseIndex.open([*segs, later.to_bytes()])
    b = CaseIndex.open([index.compact(), later.to_bytes()])
    for q in [*queries, "inaki castano"]:
        assert a.search(q) == b.search(q), q


def test_segments_round_trip_and_damaged_bytes_are_refused():
    seg = Segment()
    seg.add("d", 1, 1, EN, {"title": "t"})
    data = seg.to_bytes()
    assert Segment.from_bytes(data).to_bytes() == data
    again = Segment.from_bytes(data)
    again.add("e", 1, 1, FR, {})
    assert sorted(CaseIndex.open([again.to_bytes()]).doc_ids()) == ["d", "e"]
    for bad in (b"", b"not a database", data[:1000], b"\x00" * 4096):
        with pytest.raises(InvalidInput, match="^search segment is damaged or not a search segment$"):
            CaseIndex.open([bad])
    # an SQLite database with other tables is not a segment, nor is a segment with a trigger added
    other = sqlite3.connect(":memory:")
    other.execute("CREATE TABLE x(a)")
    with pytest.raises(InvalidInput):
        Segment.from_bytes(other.serialize())
    hostile = sqlite3.connect(":memory:")
    hostile.deserialize(data)
    hostile.execute("CREATE TRIGGER t AFTER INSERT ON docs BEGIN DELETE FROM docs; END")
    with pytest.raises(InvalidInput):
        CaseIndex.open([data, hostile.serialize()])


def test_encrypted_segments_decrypt_and_open():
    ident = age.X25519Identity.generate()
    seg = Segment()
    seg.add("d", 1, 1, EN, {"title": "t"})
    blob = age.encrypt_bytes([ident.recipient], seg.to_bytes())
    assert b"Gonz" not in blob and b"threats" not in blob
    assert ids(CaseIndex.open([age.decrypt_bytes([ident], blob)]).search("gonzalez")) == ["d"]


def test_search_many_merges_cases_by_rank():
    a = _index(("a1", "asylum asylum asylum hearing", {}), ("a2", "asylum once among many other words here", {}))
    b = _index(("b1", "asylum asylum hearing", {}), ("b2", "nothing relevant", {}))
    hits = search_many({"case-a": a, "case-b": b}, "asylum")
    assert hits[0].doc_id in ("a1", "b1")
    assert {(h.case, h.doc_id) for h in hits} == {("case-a", "a1"), ("case-a", "a2"), ("case-b", "b1")}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[-1].doc_id == "a2"
    assert len(search_many({"case-a": a, "case-b": b}, "asylum", limit=2)) == 2
    assert search_many({}, "asylum") == []
    with pytest.raises(InvalidInput):
        search_many({"case-a": a}, "asylum", limit=0)


def test_one_hit_per_document_at_its_best_page():
    seg = Segment()
    seg.add("d", 1, 1, "a page that mentions the border once among many other words of the page", {})
    seg.add("d", 1, 2, "border border border", {})
    seg.add("d", 1, 3, "no match here", {})
    hits = CaseIndex.open([seg.to_bytes()]).search("border")
    assert [(h.doc_id, h.page) for h in hits] == [("d", 2)]


def test_an_empty_index_finds_nothing():
    assert CaseIndex.open([]).search("anything") == []
    assert len(CaseIndex.open([])) == 0


def test_bad_arguments_are_refused():
    seg = Segment()
    with pytest.raises(InvalidInput):
        seg.add("", 1, 1, "text")
    with pytest.raises(InvalidInput):
        seg.add("d", -1, 1, "text")
    with pytest.raises(InvalidInput):
        seg.add("d", 1, 1 << 20, "text")
    with pytest.raises(InvalidInput):
        seg.add("d", 1, 1, "text", {"bad": object()})
    with pytest.raises(InvalidInput):
        CaseIndex.open(["not bytes"])


def test_nothing_touches_a_file(monkeypatch):
    """Every database is in memory: connect(":memory:") only, no file appears in the temporary folder."""
    seen = []
    real = sqlite3.connect

    def spy(database, *args, **kwargs):
        seen.append(database)
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", spy)
    tmp = tempfile.mkdtemp()
    monkeypatch.setenv("TMPDIR", tmp)
    monkeypatch.setenv("SQLITE_TMPDIR", tmp)
    monkeypatch.chdir(tmp)
    opened = []
    real_open = open

    def no_open(*args, **kwargs):
        opened.append(args[0] if args else kwargs)
        return real_open(*args, **kwargs)

    monkeypatch.setattr("builtins.open", no_open)
    seg = Segment()
    for i in range(200):
        seg.add(f"d{i}", 1, 1, (EN + ES + FR) * 3, {"title": f"t{i}", "type": "letter"})
    index = CaseIndex.open([seg.to_bytes(), seg.to_bytes()])
    index.search("gonzalez", types=["letter"])
    Segment.from_bytes(index.compact())
    assert seen and all(db == ":memory:" for db in seen)
    assert opened == []
    assert os.listdir(tmp) == []


# --- recall on planted names -----------------------------------------------------------------------

FIRST = ["María", "José", "Zoé", "Hélène", "Ángel", "Iñaki", "Amira", "Jean-Luc", "Anaïs", "Rubén", "Noé", "Inés",
         "Raphaël", "Agnès", "Jesús", "Begoña", "Éloïse", "Ramón", "Çelik", "Søren"]
LAST = ["González", "Pérez", "Núñez", "Lefèvre", "Sánchez", "Ibáñez", "Côté", "Gómez", "Fernández", "Dubois",
        "Rodríguez", "Martín", "Benoît", "Jiménez", "Castaño", "Peña", "Muñoz", "Gaëtan", "Bélanger", "Ordóñez"]


def _strip(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _planted(n: int = 200, seed: int = 19):
    """``n`` distinct people (first name, two surnames), each planted in one of ``n`` documents in 4 cases."""
    rnd = random.Random(seed)
    people: set[tuple[str, str, str]] = set()
    while len(people) < n:
        a, b = rnd.sample(LAST, 2)
        people.add((rnd.choice(FIRST), a, b))
    filler = (EN + " " + ES + " " + FR + " " + LETTER).replace("González-Pérez", "").split()
    segs: dict[str, Segment] = {f"case-{c}": Segment() for c in range(4)}
    where = {}
    for i, person in enumerate(sorted(people)):
        doc, case = f"doc-{i}", f"case-{i % 4}"
        first, a, b = person
        name = f"{first} {a}-{b}" if rnd.random() < 0.5 else f"{first} {a} {b}"
        words = rnd.sample(filler, 30)
        words.insert(rnd.randrange(30), name + ",")
        segs[case].add(doc, 1, 1 + i % 7, " ".join(words), {"title": doc})
        where[person] = (case, doc, 1 + i % 7)
    return where, {c: CaseIndex.open([s.to_bytes()]) for c, s in segs.items()}


def test_recall_on_200_planted_names_is_complete():
    where, indexes = _planted()
    missed = []
    for (first, a, b), (case, doc, page) in where.items():
        for query in (_strip(f"{first} {a} {b}").lower(), _strip(f"{first} {a}").upper(), _strip(f"{first} {b}"),
                      f"{first} {b}", _strip(f'"{a} {b}"').lower(), f"{first[:3]} {a[:4]}"):
            hits = search_many(indexes, query, limit=200)
            if not any((h.case, h.doc_id, h.page) == (case, doc, page) for h in hits):
                missed.append(query)
    assert missed == []
