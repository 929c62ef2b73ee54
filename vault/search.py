"""Full-text search inside a case: an SQLite FTS5 index that lives only in memory.

The index of a case is a sequence of *segments*, each a batch of changes
(pages added, documents removed) made by one writer. A segment is an in-memory
SQLite database; ``Segment.to_bytes`` serializes it (``Connection.serialize``)
so that the caller can encrypt it to the case key and store it create-only.
``CaseIndex.open`` folds the segments in order into one in-memory database, and
``CaseIndex.compact`` serializes the result as one segment equivalent to all of
them, so the caller can store a compaction object and skip the old segments.
This module never opens a file: every database is ``sqlite3.connect(":memory:")``
or an attached ``:memory:`` schema, with temporary storage kept in memory.

Folding rules, in segment order: adding a page of a document at a version
replaces the rows of every earlier version of that document (and an earlier
copy of the same version); an add at a version lower than the one already live
is stale and ignored (a concurrent writer's late edit); a removal hides every
version of the document until a later add brings it back.

Matching (all with the FTS5 ``unicode61 remove_diacritics 2`` tokenizer, at
index and at query time): case and accents are ignored, letters and digits make
words, and everything else separates them, so "González-Pérez" is indexed as
the two words "gonzalez" and "perez". A query is plain words, all of which must
match in any order, and "quoted phrases", whose words must follow each other.
Every query word is a *prefix*: "Gonzá" finds "González-Pérez" as the user
types it. Stemming is a light suffix stripper applied at query time only (the
index holds the words as written, so indexing costs what FTS5 costs): a query
word loses one common English, Spanish or French inflection ("refugiados" ->
"refugiad", "menaces" -> "menac", "threats" -> "threat", "families" -> "famil")
and the rest matches as a prefix, which finds the other forms of the word (and
some longer words that share the stem: "famil" also finds "familiar").

Query text never reaches FTS5 as syntax: it is cut into words, and each word
is sent as a quoted string, so quotes, parentheses, ``*``, ``-``, ``NEAR``,
``AND`` and ``OR`` are only words (or nothing).
"""

from __future__ import annotations

import heapq
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from .errors import InvalidInput

__all__ = ["Segment", "CaseIndex", "Hit", "search_many", "parse_query"]

FORMAT = "refuge-search-1"
_FTS_COLUMNS = ("body", "title")
_WEIGHTS = (1.0, 2.0)  # bm25 weight of a match in the body and in the title
_SNIPPET_TOKENS = 16  # words around the match in a snippet

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE pages USING fts5(body, title, doc_id UNINDEXED, page UNINDEXED, "
    "tokenize = 'unicode61 remove_diacritics 2')",
    # one row per document: its live version, whether it is removed, its fields as JSON,
    # and the folded values the filters compare with
    "CREATE TABLE docs(doc_id TEXT PRIMARY KEY, version INTEGER NOT NULL, removed INTEGER NOT NULL, "
    "fields TEXT NOT NULL, type TEXT NOT NULL, tags TEXT NOT NULL, person TEXT NOT NULL) WITHOUT ROWID",
)

# Endings stripped from a folded query word, longest first. Plural endings go from
# words of five letters or more, leaving at least four; gender, participle and
# other endings only from words of six letters or more, leaving at least five, so
# that short words and names as typed ("Maria", "Gonza") stay whole.
_PLURAL = ("ies", "es", "s")
_OTHER = ("ing", "ees", "ed", "ee", "os", "as", "o", "a", "e", "y")
_SUFFIXES = tuple(sorted([(x, 5, 4) for x in _PLURAL] + [(x, 6, 5) for x in _OTHER], key=lambda t: -len(t[0])))

_WORD = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r'"([^"]*)"?')


@dataclass(frozen=True)
class Hit:
    """One document found: its best page, a score (higher is better) and a snippet.

    ``case`` is set by ``search_many`` (the key of the index the hit came from).
    """

    doc_id: str
    version: int
    page: int
    score: float
    snippet: str
    fields: dict = field(default_factory=dict)
    case: str | None = None


# --- the query language -------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents, as the index compares words ("Pérez" -> "perez")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stem(word: str) -> str:
    """The query-time stem of a folded word: one common inflection removed (see _SUFFIXES)."""
    for suffix, min_word, min_stem in _SUFFIXES:
        if len(word) >= min_word and word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            return word[: -len(suffix)]
    return word


def parse_query(query: str) -> str:
    """The FTS5 expression for a user's query: every word a quoted prefix, phrases joined with ``+``.

    Raises:
        InvalidInput: the query has no words once punctuation is removed.
    """
    if not isinstance(query, str):
        raise InvalidInput("search query must be text")
    parts: list[str] = []
    pos = 0
    for m in _QUOTED.finditer(query):
        parts.extend(_term(w) for w in _WORD.findall(fold(query[pos:m.start()])))
        words = _WORD.findall(fold(m.group(1)))
        if words:
            parts.append(" + ".join(_term(w) for w in words))
        pos = m.end()
    parts.extend(_term(w) for w in _WORD.findall(fold(query[pos:])))
    if not parts:
        raise InvalidInput("search query has no words")
    return " AND ".join(f"({p})" if "+" in p else p for p in parts)


def _term(word: str) -> str:
    # _WORD leaves only letters and digits: no quote can be inside
    return f'"{stem(word)}"*'


# --- the in-memory databases ----------------------------------------------------------


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA temp_store = MEMORY")  # sorts and temporary tables never spill to a file
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for sql in _SCHEMA:
        conn.execute(sql)
    conn.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
    conn.execute("COMMIT")


def _expected_schema() -> list[tuple]:
    conn = _connect()
    _create(conn)
    rows = _schema_of(conn, "main")
    conn.close()
    return rows


def _schema_of(conn: sqlite3.Connection, schema: str) -> list[tuple]:
    return conn.execute(f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master ORDER BY name").fetchall()


_EXPECTED: list[tuple] = []


def _load(conn: sqlite3.Connection, data: bytes, schema: str = "main") -> None:
    """Deserialize a segment into ``schema`` and check it is one (tables exactly ours, no triggers or views)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("search segment must be bytes")
    if not _EXPECTED:
        _EXPECTED.extend(_expected_schema())
    try:
        conn.deserialize(bytes(data), name=schema)
        ok = _schema_of(conn, schema) == _EXPECTED and conn.execute(
            f"SELECT value FROM {schema}.meta WHERE key = 'format'").fetchone() == (FORMAT,)
    except sqlite3.DatabaseError:
        ok = False
    if not ok:
        raise InvalidInput("search segment is damaged or not a search segment")


def _fields(fields: Mapping | None) -> tuple[str, str, str, str]:
    """JSON of the fields, and the folded type, tags and person the filters compare with."""
    fields = dict(fields or {})
    tags = fields.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    people = fields.get("person") or []
    if isinstance(people, str):
        people = [people]
    try:
        raw = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        raise InvalidInput("search fields must be plain values (text, numbers, lists)") from None
    # \x1f separates values so that a filter matches one whole tag, or within one person's name
    return (raw, fold(str(fields.get("type") or "")),
            "\x1f" + "\x1f".join(fold(str(t)) for t in tags) + "\x1f",
            "\x1f" + "\x1f".join(fold(str(p)) for p in people) + "\x1f")


class _Index:
    """What a segment and a folded index share: one in-memory database of our schema."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def to_bytes(self) -> bytes:
        """The database, serialized (SQLite's own format); the caller encrypts it before storing."""
        return self._conn.serialize()

    def close(self) -> None:
        """Free the memory now (the index is unusable afterwards)."""
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        """The number of live documents."""
        return self._conn.execute("SELECT count(*) FROM docs WHERE removed = 0").fetchone()[0]

    def doc_ids(self) -> list[str]:
        """The live documents' ids, sorted."""
        return [r[0] for r in self._conn.execute("SELECT doc_id FROM docs WHERE removed = 0 ORDER BY doc_id")]


class Segment(_Index):
    """A batch of changes to one case's index: pages added, documents removed.

    Pages are indexed as they are added (one document at a time is enough in
    memory). Adding a higher version of a document in the same segment drops
    the lower one's pages; the same page added twice keeps the later text.
    """

    def __init__(self) -> None:
        conn = _connect()
        _create(conn)
        super().__init__(conn)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Segment":
        """A segment from ``to_bytes`` (after the caller decrypted it).

        Raises:
            InvalidInput: the bytes are not a search segment.
        """
        seg = cls.__new__(cls)
        conn = _connect()
        _load(conn, data)
        _Index.__init__(seg, conn)
        return seg

    def add(self, doc_id: str, version: int, page: int, text: str, fields: Mapping | None = None) -> None:
        """Index one page of a document at a version.

        ``fields`` are the document's metadata: ``type``, ``tags`` (list),
        ``person`` (a name or a list), ``lang``, ``title`` (indexed too); any
        other plain values are kept and returned with hits.

        Raises:
            InvalidInput: an argument has the wrong type.
        """
        if not isinstance(doc_id, str) or not doc_id or not isinstance(text, str):
            raise InvalidInput("search add needs a document id and text")
        if not isinstance(version, int) or not isinstance(page, int) or version < 0 or page < 0:
            raise InvalidInput("search add needs a non-negative version and page number")
        raw, ftype, tags, person = _fields(fields)
        title = str((fields or {}).get("title") or "")
        c = self._conn
        c.execute("BEGIN")
        row = c.execute("SELECT version, removed FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is not None and not row[1] and row[0] > version:
            c.execute("COMMIT")  # a lower version than this segment already holds: stale
            return
        if row is not None and (row[1] or row[0] < version):
            c.execute("DELETE FROM pages WHERE doc_id = ?", (doc_id,))
        else:
            c.execute("DELETE FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page))
        c.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, 0, ?, ?, ?, ?)", (doc_id, version, raw, ftype, tags, person))
        c.execute("INSERT INTO pages(body, title, doc_id, page) VALUES (?, ?, ?, ?)", (text, title, doc_id, page))
        c.execute("COMMIT")

    def remove(self, doc_id: str) -> None:
        """Record that a document is gone (removed, or moved to another case): its pages no longer match."""
        if not isinstance(doc_id, str) or not doc_id:
            raise InvalidInput("search remove needs a document id")
        c = self._conn
        c.execute("BEGIN")
        c.execute("DELETE FROM pages WHERE doc_id = ?", (doc_id,))
        c.execute("INSERT INTO docs VALUES (?, 0, 1, '{}', '', '', '') ON CONFLICT(doc_id) DO UPDATE SET removed = 1",
                  (doc_id,))
        c.execute("COMMIT")


class CaseIndex(_Index):
    """The search index of one case: its segments folded in order, in memory."""

    @classmethod
    def open(cls, segments: Iterable[bytes]) -> "CaseIndex":
        """Fold ``segments`` (from ``to_bytes`` or ``compact``, oldest first) into one index.

        The first segment is used as it is (deserializing costs a copy); each
        later one is attached and merged.

        Raises:
            InvalidInput: a segment is not a search segment.
        """
        conn = _connect()
        index = cls(conn)
        first = True
        for data in segments:
            if first:
                _load(conn, data)
                first = False
            else:
                index._merge(data)
        if first:
            _create(conn)
        return index

    def _merge(self, data: bytes) -> None:
        c = self._conn
        c.execute("ATTACH ':memory:' AS seg")
        try:
            _load(c, data, "seg")
            c.execute("BEGIN")
            # documents of the segment whose change applies: removals, and adds not older than the live version
            c.execute("CREATE TEMP TABLE apply AS SELECT s.doc_id, s.removed FROM seg.docs s "
                      "LEFT JOIN main.docs m ON m.doc_id = s.doc_id "
                      "WHERE s.removed = 1 OR m.doc_id IS NULL OR m.removed = 1 OR m.version <= s.version")
            c.execute("DELETE FROM main.pages WHERE doc_id IN (SELECT doc_id FROM temp.apply)")
            c.execute("INSERT OR REPLACE INTO main.docs SELECT s.doc_id, CASE WHEN s.removed = 1 AND m.version IS NOT NULL "
                      "THEN max(m.version, s.version) ELSE s.version END, s.removed, s.fields, s.type, s.tags, s.person "
                      "FROM seg.docs s JOIN temp.apply a ON a.doc_id = s.doc_id LEFT JOIN main.docs m ON m.doc_id = s.doc_id")
            c.execute("INSERT INTO main.pages(body, title, doc_id, page) SELECT body, title, doc_id, page FROM seg.pages "
                      "WHERE doc_id IN (SELECT doc_id FROM temp.apply WHERE removed = 0)")
            c.execute("DROP TABLE temp.apply")
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        finally:
            c.execute("DETACH seg")

    def compact(self) -> bytes:
        """One segment equivalent to every segment folded so far (FTS5 index merged, free pages dropped)."""
        c = self._conn
        c.execute("INSERT INTO pages(pages) VALUES ('optimize')")
        c.execute("VACUUM")
        return c.serialize()

    def search(self, query: str, *, types: Sequence[str] | None = None, tags: Sequence[str] | None = None,
               person: str | None = None, limit: int = 50, marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
        """The documents matching ``query``, best first: each one's best page, with a snippet.

        ``types``: any of these document types; ``tags``: every one of these
        tags; ``person``: a person's name (or part of it, accents and case
        ignored). ``marks`` surround each matched word in the snippet.

        Raises:
            InvalidInput: the query has no words, or ``limit`` is not positive.
        """
        expr = parse_query(query)
        return [self._with_snippet(rowid, hit, expr, marks) for rowid, hit in self._ranked(expr, types, tags, person, limit)]

    def _ranked(self, expr: str, types, tags, person, limit: int) -> list[tuple[int, Hit]]:
        """The best ``limit`` documents for an FTS5 expression, without snippets (cheap)."""
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInput("search limit must be a positive number")
        where, args = ["pages MATCH ?"], [expr]
        if types:
            where.append(f"d.type IN ({','.join('?' * len(_list(types)))})")
            args.extend(fold(t) for t in _list(types))
        for tag in _list(tags or []):
            where.append("instr(d.tags, ?) > 0")
            args.append("\x1f" + fold(tag) + "\x1f")
        if person:
            where.append("instr(d.person, ?) > 0")
            args.append(fold(person))
        sql = (f"SELECT p.rowid, p.doc_id, p.page, d.version, d.fields, bm25(pages, {_WEIGHTS[0]}, {_WEIGHTS[1]}) "
               f"AS score FROM pages p JOIN docs d ON d.doc_id = p.doc_id WHERE {' AND '.join(where)} ORDER BY score")
        hits: dict[str, tuple[int, Hit]] = {}
        for rowid, doc_id, page, version, raw, score in self._conn.execute(sql, args):
            if doc_id in hits:
                continue  # a lower-ranked page of a document already found
            hits[doc_id] = (rowid, Hit(doc_id, version, page, -score, "", json.loads(raw)))
            if len(hits) == limit:
                break
        return list(hits.values())

    def _with_snippet(self, rowid: int, hit: Hit, expr: str, marks: tuple[str, str]) -> Hit:
        """The hit with its snippet: the words around the match in that page, matches marked."""
        row = self._conn.execute(
            f"SELECT snippet(pages, -1, ?, ?, '…', {_SNIPPET_TOKENS}) FROM pages WHERE pages MATCH ? AND rowid = ?",
            (marks[0], marks[1], expr, rowid)).fetchone()
        return replace(hit, snippet=row[0] if row else "")


def _list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def search_many(indexes: Mapping[str, CaseIndex], query: str, *, types: Sequence[str] | None = None,
                tags: Sequence[str] | None = None, person: str | None = None, limit: int = 50,
                marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
    """Search several cases' indexes and merge the results, best first; each hit names its case.

    Scores come from each case's own statistics (bm25), so they compare well
    across cases of similar size. Snippets are made only for the hits kept.

    Raises:
        InvalidInput: the query has no words, or ``limit`` is not positive.
    """
    expr = parse_query(query)
    found: list[tuple[float, str, str, int, Hit]] = []
    for case, index in indexes.items():
        for rowid, hit in index._ranked(expr, types, tags, person, limit):
            found.append((-hit.score, case, hit.doc_id, rowid, replace(hit, case=case)))
    best = heapq.nsmallest(limit, found, key=lambda t: t[:3])
    return [indexes[case]._with_snippet(rowid, hit, expr, marks) for _, case, _, rowid, hit in best]
