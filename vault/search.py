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

Folding rules, in segment order: a segment that adds a document at a version
replaces every page an earlier segment held for that document (so a segment
carries all the pages of each document version it adds); an add at a version
lower than the one already live is stale and ignored (a concurrent writer's
late edit); a removal hides every version of the document until a later add
brings it back. Segments are SQLite images: ``open`` checks that each holds
exactly this module's tables (no triggers or views), with ``trusted_schema``
off, but the bytes must come from the case's own authenticated objects.

Matching (all with the FTS5 ``unicode61 remove_diacritics 2`` tokenizer, at
index and at query time): case and accents are ignored, letters and digits make
words, and everything else separates them, so "González-Pérez" is indexed as
the two words "gonzalez" and "perez". A query is plain words, all of which must
match in any order, and "quoted phrases", whose words must follow each other
as written (the last one as a prefix if it has three letters or more). A plain word of three letters or more
is a *prefix*: "Gonzá" finds "González-Pérez" as the user types it (a word of
one or two letters matches only itself, which keeps "de" or "of" cheap).
Stemming is a light suffix stripper applied at query time only (the index
holds the words as written, so indexing costs what FTS5 costs): a plain query
word loses one common English, Spanish or French inflection ("refugiados" ->
"refugiad", "menaces" -> "menac", "threats" -> "threat", "families" -> "famil")
and the rest matches as a prefix, which finds the other forms of the word (and
some longer words that share the stem: "famil" also finds "familiar" and
"familia"). It does not reach forms that are longer than the stem
("threatened" finds "threatening", not "threat").

Ranking is bm25 (title words count double); one hit per document, at its best
page. Across cases, each case's scores come from its own statistics.

Query text never reaches FTS5 as syntax: it is cut into words, and each word
is sent as a quoted string, so quotes, parentheses, ``*``, ``-``, ``NEAR``,
``AND`` and ``OR`` are only words (or nothing).
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from . import _searchfields
from ._fts5_merge import Merger
from ._query import expression, filters as _filters, fold, parse_query, query_terms, stem
from .errors import InvalidInput

__all__ = ["CaseIndex", "Combined", "Hit", "Segment", "fold", "parse_query", "search_many", "stem", "tag_of"]

# refuge-search-2: rowids carry the case's tag (below); -1 (tag 0) still read; -3: fields rows (_searchfields.py)
FORMAT = "refuge-search-2"
_FORMATS = ("refuge-search-1", FORMAT, _searchfields.FORMAT)
_WEIGHTS = (1.0, 2.0)  # bm25 weight of a match in the body and in the title
_SNIPPET_TOKENS = 16  # words around the match in a snippet

# A page's row in the FTS5 table has rowid (tag << 40) | (doc number << 20) | page, so that
# every page of a document is one rowid range (FTS5 deletes and selects ranges quickly), and
# the rowids of two cases' indexes never meet (the tag comes from the case id, tag_of), so that
# their FTS5 indexes can be read as one (Combined). Indexes of format 1 have tag 0.
_PAGE_BITS = 20
_MAX_PAGE = (1 << _PAGE_BITS) - 1
_NUM_BITS = 20
_MAX_NUM = (1 << _NUM_BITS) - 1  # documents (and removals) an index of format 2 can number
_TAG_BITS = 22  # tag << 40 stays below 2**62: rowids are positive 64-bit integers
_TAG_SHIFT = _NUM_BITS + _PAGE_BITS


def tag_of(case: str) -> int:
    """The tag in the rowids of a case's index: from 1 to 2**22 - 1, derived from the case id."""
    if not isinstance(case, str) or not case:
        raise InvalidInput("a case's search index needs the case id")
    return 1 + int.from_bytes(hashlib.sha256(case.encode()).digest()[:8], "big") % ((1 << _TAG_BITS) - 1)

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE pages USING fts5(body, title, tokenize = 'unicode61 remove_diacritics 2')",
    # one row per document: its number, live version, whether it is removed, its fields as
    # JSON, and the folded values the filters compare with
    ("CREATE TABLE docs(num INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL, "
     "removed INTEGER NOT NULL, fields TEXT NOT NULL, type TEXT NOT NULL, tags TEXT NOT NULL, person TEXT NOT NULL)"),
)


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


# --- the in-memory databases ----------------------------------------------------------


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA temp_store = MEMORY")  # sorts and temporary tables never spill to a file
    conn.execute("PRAGMA trusted_schema = OFF")
    return conn


def _create(conn: sqlite3.Connection, tag: int = 0) -> None:
    conn.execute("BEGIN")
    for sql in _SCHEMA:
        conn.execute(sql)
    conn.execute("INSERT INTO meta VALUES ('format', ?), ('tag', ?)", (FORMAT, str(tag)))
    conn.execute("COMMIT")


def _schema_of(conn: sqlite3.Connection, schema: str) -> list[tuple]:
    return conn.execute(f"SELECT type, name, tbl_name, sql FROM {schema}.sqlite_master ORDER BY name").fetchall()


_EXPECTED: list[tuple] = []


def _load(conn: sqlite3.Connection, data: bytes, schema: str = "main") -> None:
    """Deserialize a segment into ``schema`` and check it is one (tables exactly ours, no triggers or views)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidInput("search segment must be bytes")
    if not _EXPECTED:
        fresh = _connect()
        _create(fresh)
        _EXPECTED.extend(_schema_of(fresh, "main"))
        fresh.close()
    data = bytes(data)
    try:
        if not data.startswith(b"SQLite format 3\x00") or len(data) < 512:
            raise sqlite3.DatabaseError("not a database")
        conn.deserialize(data, name=schema)
        ok = _schema_of(conn, schema) == _EXPECTED and _tag_in(conn, schema) is not None
    except (sqlite3.DatabaseError, MemoryError):
        ok = False
    if not ok:
        raise InvalidInput("search segment is damaged or not a search segment")


def _tag_in(conn: sqlite3.Connection, schema: str = "main") -> int | None:
    """The rowid tag of a loaded database (0 for format 1), or None if its meta table is not ours."""
    meta = dict(conn.execute(f"SELECT key, value FROM {schema}.meta"))
    if meta.get("format") == _FORMATS[0] and set(meta) == {"format"}:
        return 0
    tag = meta.get("tag")
    if meta.get("format") not in _FORMATS[1:] or set(meta) != {"format", "tag"} or not isinstance(tag, str) \
            or not tag.isdigit() or not 0 <= int(tag) < 1 << _TAG_BITS:
        return None
    return int(tag)


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


class _Doc:
    """What an index keeps in memory about one document (a row of ``docs``)."""

    __slots__ = ("doc_id", "fields", "num", "removed", "version")

    def __init__(self, num: int, doc_id: str, version: int, removed: int, fields: str) -> None:
        self.num, self.doc_id, self.version, self.removed, self.fields = num, doc_id, version, removed, fields


class _Index:
    """What a segment and a folded index share: one in-memory database of our schema.

    Changes run inside one open transaction (cheap in memory); it is committed
    before the database is serialized or searched.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._tag = _tag_in(conn) or 0
        self._docs: dict[str, _Doc] = {}
        self._by_num: dict[int, _Doc] = {}
        for row in conn.execute("SELECT num, doc_id, version, removed, fields FROM docs"):
            self._remember(_Doc(*row))

    def _base(self, num: int, tag: int | None = None) -> int:
        """The first rowid of a document's pages (its number in this index, or in one of ``tag``)."""
        return (((self._tag if tag is None else tag) << _NUM_BITS) | num) << _PAGE_BITS

    def _num(self, rowid: int) -> int:
        """The document number of a page's rowid."""
        return (rowid >> _PAGE_BITS) - (self._tag << _NUM_BITS)

    def _remember(self, doc: _Doc) -> None:
        self._docs[doc.doc_id] = doc
        self._by_num[doc.num] = doc

    def _write(self) -> sqlite3.Connection:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")
        return self._conn

    def _settle(self) -> sqlite3.Connection:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        return self._conn

    def to_bytes(self) -> bytes:
        """The database, serialized (SQLite's own format); the caller encrypts it before storing."""
        return self._settle().serialize()

    def close(self) -> None:
        """Free the memory now (the index is unusable afterwards)."""
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        """The number of live documents."""
        return sum(1 for d in self._docs.values() if not d.removed)

    def doc_ids(self) -> list[str]:
        """The live documents' ids, sorted."""
        return sorted(d.doc_id for d in self._docs.values() if not d.removed)

    def _set_doc(self, doc_id: str, version: int, removed: int, fields: tuple[str, str, str, str]) -> _Doc:
        """Insert or update a document's row; returns what is remembered of it."""
        c = self._write()
        doc = self._docs.get(doc_id)
        if doc is None:
            num = c.execute("INSERT INTO docs(doc_id, version, removed, fields, type, tags, person) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)", (doc_id, version, removed, *fields)).lastrowid
            if self._tag and num > _MAX_NUM:
                raise InvalidInput(f"a case's search index numbers at most {_MAX_NUM} documents")
            doc = _Doc(num, doc_id, version, removed, fields[0])
            self._remember(doc)
        elif (doc.version, doc.removed, doc.fields) != (version, removed, fields[0]):
            c.execute("UPDATE docs SET version = ?, removed = ?, fields = ?, type = ?, tags = ?, person = ? "
                      "WHERE num = ?", (version, removed, *fields, doc.num))
            doc.version, doc.removed, doc.fields = version, removed, fields[0]
        return doc

    def _drop_pages(self, doc: _Doc) -> None:
        base = self._base(doc.num)
        self._write().execute("DELETE FROM pages WHERE rowid BETWEEN ? AND ?", (base, base | _MAX_PAGE))


_TOMBSTONE = ("{}", "", "", "")
_PART = 2  # docs.removed of a segment's document whose pages continue that version's earlier ones


class Segment(_Index):
    """A batch of changes to one case's index: pages added, documents removed.

    Pages are indexed as they are added (one document at a time is enough in
    memory). Adding a higher version of a document in the same segment drops
    the lower one's pages; the same page added twice keeps the later text.
    """

    def __init__(self, case: str | None = None) -> None:
        """An empty segment; ``case`` (the case id) tags its rowids, so that it can be searched with other cases'."""
        conn = _connect()
        _create(conn, tag_of(case) if case is not None else 0)
        super().__init__(conn)
        self._last: tuple = ()

    @classmethod
    def from_bytes(cls, data: bytes) -> Segment:
        """A segment from ``to_bytes`` (after the caller decrypted it).

        Raises:
            InvalidInput: the bytes are not a search segment.
        """
        seg = cls.__new__(cls)
        conn = _connect()
        _load(conn, data)
        _Index.__init__(seg, conn)
        seg._last = ()
        return seg

    def add(self, doc_id: str, version: int, page: int, text: str, fields: Mapping | None = None, *,
            part: bool = False) -> None:
        """Index one page of a document at a version.

        ``fields`` are the document's metadata: ``type``, ``tags`` (list),
        ``person`` (a name or a list), ``lang``, ``title`` (indexed too); any
        other plain values are kept and returned with hits. ``part``: these
        pages continue that version's pages held by earlier segments (a text too
        large for one segment) instead of replacing them; folded onto any other
        version, or onto nothing, they are dropped.

        Raises:
            InvalidInput: an argument has the wrong type or is out of range.
        """
        if not isinstance(doc_id, str) or not doc_id or not isinstance(text, str):
            raise InvalidInput("search add needs a document id and text")
        if not isinstance(version, int) or not isinstance(page, int) or version < 0 or not 0 <= page <= _MAX_PAGE:
            raise InvalidInput(f"search add needs a version of 0 or more and a page number from 0 to {_MAX_PAGE}")
        doc = self._docs.get(doc_id)
        gone = doc is not None and doc.removed == 1
        if doc is not None and not gone and doc.version > version:
            return  # a lower version than this segment already holds: stale
        if doc is not None and (gone or doc.version < version):
            self._drop_pages(doc)
        same = (doc_id, version, fields) == self._last  # the pages of a document come with the same fields
        if doc is None or gone or not same:
            self._last = (doc_id, version, dict(fields or {}))
            removed = _PART if part and (doc is None or doc.removed == _PART) else 0
            doc = self._set_doc(doc_id, version, removed, _fields(fields))
        title = str((fields or {}).get("title") or "")
        row = (self._base(doc.num) | page, text, title)
        c = self._write()
        try:
            c.execute("INSERT INTO pages(rowid, body, title) VALUES (?, ?, ?)", row)
        except sqlite3.IntegrityError:  # the page was added before: the later text replaces it
            c.execute("INSERT OR REPLACE INTO pages(rowid, body, title) VALUES (?, ?, ?)", row)

    def set_fields(self, doc_id: str, version: int, fields: Mapping) -> None:
        """Record a document's new fields (tags, title...) at a version, keeping the pages earlier segments hold."""
        _searchfields.record(self, doc_id, version, fields)

    def remove(self, doc_id: str) -> None:
        """Record that a document is gone (removed, or moved to another case): its pages no longer match."""
        if not isinstance(doc_id, str) or not doc_id:
            raise InvalidInput("search remove needs a document id")
        doc = self._docs.get(doc_id)
        if doc is not None:
            self._drop_pages(doc)
        self._set_doc(doc_id, doc.version if doc else 0, 1, _TOMBSTONE)


class CaseIndex(_Index):
    """The search index of one case: its segments folded in order, in memory."""

    @classmethod
    def open(cls, segments: Iterable[bytes]) -> CaseIndex:
        """Fold ``segments`` (from ``to_bytes`` or ``compact``, oldest first) into one index.

        The first segment is used as it is (deserializing costs a copy); each
        later one is attached and merged.

        Raises:
            InvalidInput: a segment is not a search segment.
        """
        conn = _connect()
        segments = iter(segments)
        first = next(segments, None)
        if first is None:
            _create(conn)
        else:
            _load(conn, first)
            _searchfields.settle(conn, FORMAT)
        index = cls(conn)
        for data in segments:
            index._merge(data)
        index._settle()
        return index

    def _merge(self, data: bytes) -> None:
        c = self._settle()
        c.execute("ATTACH ':memory:' AS seg")
        try:
            _load(c, data, "seg")
            rows = c.execute("SELECT num, doc_id, version, removed, fields, type, tags, person FROM seg.docs").fetchall()
            tag = _tag_in(c, "seg")
            for num, doc_id, version, removed, *fields in rows:
                self._apply(self._base(num, tag), doc_id, version, removed, tuple(fields))
            self._settle()
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        finally:
            c.execute("DETACH seg")

    def _apply(self, seg_base: int, doc_id: str, version: int, removed: int, fields: tuple) -> None:
        """One document's change from the attached segment (its pages from rowid ``seg_base``), by the folding rules."""
        if removed == _searchfields.FIELDS:
            return _searchfields.fold(self, doc_id, version, fields[0])
        doc = self._docs.get(doc_id)
        if removed == _PART:  # more pages of the version already held; anything else, it is dropped
            if doc is not None and not doc.removed and doc.version == version:
                self._write().execute(
                    "INSERT OR REPLACE INTO main.pages(rowid, body, title) SELECT rowid + ?, body, title FROM seg.pages "
                    "WHERE rowid BETWEEN ? AND ?", (self._base(doc.num) - seg_base, seg_base, seg_base | _MAX_PAGE))
            return
        if removed:
            if doc is not None:
                self._drop_pages(doc)
            self._set_doc(doc_id, max(version, doc.version) if doc else version, 1, _TOMBSTONE)
            return
        if doc is not None and not doc.removed and doc.version > version:
            return  # stale: this index already holds a later version
        if doc is not None:
            self._drop_pages(doc)
        doc = self._set_doc(doc_id, version, 0, fields)
        self._write().execute(
            "INSERT INTO main.pages(rowid, body, title) SELECT rowid + ?, body, title FROM seg.pages "
            "WHERE rowid BETWEEN ? AND ?", (self._base(doc.num) - seg_base, seg_base, seg_base | _MAX_PAGE))

    def compact(self) -> bytes:
        """One segment equivalent to every segment folded so far (FTS5 index merged, free pages dropped)."""
        c = self._settle()
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
        return search_many({None: self}, query, types=types, tags=tags, person=person, limit=limit, marks=marks)

    def _ranked(self, expr: str, filters: tuple[str, list], limit: int, worst: float) -> Iterator[tuple[float, int]]:
        """(bm25, rowid) of the best page of each of the best ``limit`` documents, best first.

        Stops early at a score worse than ``worst`` (bm25: lower is better).
        """
        return _best_pages(self._settle(), f"d.num + {self._tag << _NUM_BITS}", expr, filters, limit, worst)

    def _hits(self, found: list[tuple[float, int]], expr: str, marks: tuple[str, str], case) -> dict[int, Hit]:
        """The hits for some pages (bm25, rowid): their documents and snippets (the words around the match, marked).

        A page this index does not find for ``expr`` is left out (from a Combined search: the page
        came from another case's data, which only a damaged or hostile segment could hold).
        """
        hits = {}
        for score, rowid in found:
            doc = self._by_num.get(self._num(rowid))
            # one statement a page: with "rowid IN (...)" FTS5 would run the whole query again
            row = self._conn.execute(_SNIPPET, (marks[0], marks[1], expr, rowid)).fetchone()
            if doc is None or row is None:
                continue
            hits[rowid] = Hit(doc.doc_id, doc.version, rowid & _MAX_PAGE, -score, row[0], json.loads(doc.fields), case)
        return hits


# bm25() ordered by SQLite's sorter: FTS5's own "ORDER BY rank" prepares a statement per query (slower here)
_BM25 = f"bm25(pages, {_WEIGHTS[0]}, {_WEIGHTS[1]})"
_RANKED = f"SELECT {_BM25}, rowid FROM pages WHERE pages MATCH ? ORDER BY 1"
_RANKED_FILTERED = (f"SELECT {_BM25}, p.rowid FROM pages p JOIN docs d ON {{key}} = (p.rowid >> {_PAGE_BITS}) "
                    "WHERE pages MATCH ? {where} ORDER BY 1")
_SNIPPET = f"SELECT snippet(pages, -1, ?, ?, '…', {_SNIPPET_TOKENS}) FROM pages WHERE pages MATCH ? AND rowid = ?"


def _best_pages(conn: sqlite3.Connection, key: str, expr: str, filters: tuple[str, list], limit: int,
                worst: float) -> Iterator[tuple[float, int]]:
    """(bm25, rowid) of the best page of each of the best ``limit`` documents of ``conn``'s index, best first.

    ``key`` is the SQL value of ``docs d`` that equals ``rowid >> 20`` for the filters' join.
    """
    where, args = filters
    sql = (_RANKED_FILTERED.format(key=key, where=where), (expr, *args)) if where else (_RANKED, (expr,))
    seen: set[int] = set()
    for score, rowid in conn.execute(*sql):
        if score > worst:
            return
        doc = rowid >> _PAGE_BITS
        if doc in seen:
            continue  # a lower-ranked page of a document already found
        seen.add(doc)
        yield score, rowid
        if len(seen) == limit:
            return


_COMBINED_DOCS = "CREATE TABLE docs(key INTEGER PRIMARY KEY, type TEXT NOT NULL, tags TEXT NOT NULL, person TEXT NOT NULL)"
_TEMPLATE: list[bytes] = []


class Combined:
    """Several cases' indexes searched as one: one FTS5 query, whatever the number of cases.

    Building it copies the FTS5 data of every index whose rowids carry its
    case's tag (format 2, keyed by its case id) into one in-memory database
    (vault/_fts5_merge.py: segments side by side, no text tokenized again);
    any other index (format 1, a tag that is not its case's, or one FTS5 data
    that cannot join) is searched on its own. The copied segments are then
    merged into one (FTS5 ``optimize``), so a query reads one segment, not one
    per case. Building costs seconds for 100 MB of text: it pays over many
    queries (``search_many``, one query, does not combine). Scores come from
    the combined cases' statistics together, as in one table; a query is one
    FTS5 statement, ranked by FTS5, snippets included. An index joins only if
    its rows' rowids all carry its tag, so the text a hit shows is its own
    case's. The case indexes must stay open (they name the documents).
    """

    def __init__(self, indexes: Mapping, combine: bool = True) -> None:
        """Combine ``indexes`` (case id -> CaseIndex); with ``combine=False`` each is searched on its own."""
        self._cases = list(indexes.items())
        self._alone: list[int] = []  # orders of the indexes searched on their own
        self._by_tag: dict[int, int] = {}  # tag -> order, for the combined ones
        self._conn: sqlite3.Connection | None = None
        self._terms: list[str] = []  # every word of the combined index, sorted
        self.damaged: list = []  # cases whose index SQLite found malformed while searching (no hits from them)
        if combine and len(self._cases) > 1:
            self._combine()
        self._alone += [n for n in range(len(self._cases)) if n not in self._by_tag.values() and n not in self._alone]

    def _combine(self) -> None:
        if not _TEMPLATE:
            fresh = _connect()
            fresh.execute(_SCHEMA[1])
            fresh.execute(_COMBINED_DOCS)
            _TEMPLATE.append(fresh.serialize())
            fresh.close()
        conn = _connect()
        conn.deserialize(_TEMPLATE[0])  # the FTS5 table not read yet on this connection (see Merger)
        merger = Merger(conn, "pages", 2)
        for order, (case, index) in enumerate(self._cases):
            tag = index._tag
            if not isinstance(case, str) or not tag or tag != tag_of(case) or tag in self._by_tag:
                continue
            conn.execute("ATTACH ':memory:' AS seg")
            conn.deserialize(index.to_bytes(), name="seg")
            conn.execute("SAVEPOINT one")
            try:
                joined = merger.merge_into("seg", (tag << _TAG_SHIFT, (tag + 1) << _TAG_SHIFT))
                if joined:
                    conn.execute(f"INSERT INTO main.docs SELECT (? << {_NUM_BITS}) | num, type, tags, person "
                                 "FROM seg.docs WHERE removed = 0", (tag,))
                    self._by_tag[tag] = order
            except sqlite3.DatabaseError:
                joined = False
            if not joined:  # nothing of it stays: it is searched on its own
                conn.execute("ROLLBACK TO one")
            conn.execute("RELEASE one")
            conn.execute("DETACH seg")
        merger.finish()
        if self._by_tag:
            conn.execute("INSERT INTO pages(pages) VALUES ('optimize')")
            conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, pages, row)")
            self._terms = [t for (t,) in conn.execute("SELECT term FROM temp.vocab")]  # sorted as str sorts
        self._conn = conn

    def _exact(self, query: str) -> str | None:
        """``query``'s expression with each prefix that one word of the combined index has made that word.

        None if a prefix has no word at all (nothing can match). Same matches, read faster: FTS5
        reads one doclist for a word, where a prefix makes it gather every word's.
        """
        parts = query_terms(query)
        for phrase in parts:
            for n, (word, prefix) in enumerate(phrase):
                i = bisect.bisect_left(self._terms, word)
                found = self._terms[i:i + 2]
                if not prefix:
                    continue
                if not found or not found[0].startswith(word):
                    return None
                if len(found) == 1 or not found[1].startswith(word):
                    phrase[n] = (found[0], False)
        return expression(parts)

    def _combined_pages(self, query: str, filters: tuple[str, list], limit: int, marks) -> list[tuple[float, int, str]]:
        """(bm25, rowid, snippet) of the best page of each of the best ``limit`` documents of the combined cases."""
        expr = self._exact(query)
        if expr is None:
            return []
        where, args = filters
        join = f"JOIN docs d ON d.key = (pages.rowid >> {_PAGE_BITS}) " if where else ""
        rows = self._conn.execute(
            f"SELECT pages.rank, pages.rowid, snippet(pages, -1, ?, ?, '…', {_SNIPPET_TOKENS}) FROM pages {join}"
            f"WHERE pages MATCH ? AND pages.rank MATCH ? {where} ORDER BY pages.rank",
            (marks[0], marks[1], expr, f"bm25({_WEIGHTS[0]}, {_WEIGHTS[1]})", *args))
        out, seen = [], set()
        for score, rowid, snippet in rows:
            if rowid >> _PAGE_BITS not in seen:
                seen.add(rowid >> _PAGE_BITS)
                out.append((score, rowid, snippet))
                if len(seen) == limit:
                    break
        return out

    def close(self) -> None:
        """Free the combined database (the case indexes stay open: they are the caller's)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def search(self, query: str, *, types: Sequence[str] | None = None, tags: Sequence[str] | None = None,
               person: str | None = None, limit: int = 50, marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
        """The documents matching ``query`` in every case, best first (see ``CaseIndex.search``).

        Raises:
            InvalidInput: the query has no words, or ``limit`` is not positive.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InvalidInput("search limit must be a positive number")
        expr = parse_query(query)
        filters = _filters(types, tags, person)
        best: list[tuple[float, int, int]] = []  # max-heap on bm25 (negated), the worst kept on top

        def keep(pages, order_of) -> None:
            for score, rowid in pages:
                item = (-score, -order_of(rowid), -rowid)
                if len(best) < limit:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)
                else:
                    break

        combined = self._combined_pages(query, filters, limit, marks) if self._by_tag else []
        snippets = {rowid: snippet for _, rowid, snippet in combined}
        keep(((score, rowid) for score, rowid, _ in combined), lambda rowid: self._by_tag[rowid >> _TAG_SHIFT])
        for order in self._alone:
            worst = -best[0][0] if len(best) == limit else float("inf")
            try:
                keep(self._cases[order][1]._ranked(expr, filters, limit, worst), lambda _rowid, o=order: o)
            except sqlite3.DatabaseError:  # a crafted or damaged index: that case answers nothing, and says so
                self.damaged.append(self._cases[order][0])
                best = [item for item in best if -item[1] != order]
                heapq.heapify(best)
        ranked = sorted(best, reverse=True)
        by_case: dict[int, list[tuple[float, int]]] = {}
        for neg, order, rowid in ranked:
            by_case.setdefault(-order, []).append((-neg, -rowid))
        hits: dict[tuple[int, int], Hit] = {}
        for order, found in by_case.items():
            case, index = self._cases[order]
            if order in self._alone:
                try:
                    hits.update(((order, r), h) for r, h in index._hits(found, expr, marks, case).items())
                except sqlite3.DatabaseError:
                    self.damaged.append(case)
                continue
            for score, rowid in found:
                doc = index._by_num.get(index._num(rowid))
                if doc is not None:
                    hits[(order, rowid)] = Hit(doc.doc_id, doc.version, rowid & _MAX_PAGE, -score, snippets[rowid],
                                               json.loads(doc.fields), case)
        return [hits[key] for _, order, rowid in ranked if (key := (-order, -rowid)) in hits]


def search_many(indexes: Mapping, query: str, *, types: Sequence[str] | None = None,
                tags: Sequence[str] | None = None, person: str | None = None, limit: int = 50,
                marks: tuple[str, str] = ("[", "]"), damaged: list | None = None) -> list[Hit]:
    """Search several cases' indexes (case -> CaseIndex) and merge the results, best first.

    Each hit names its case (the key). Scores come from each case's own
    statistics (bm25), so they compare well across cases of similar size. Each
    index is queried on its own: to run many queries, build a Combined once.
    Snippets are made only for the hits kept. A case whose index SQLite finds malformed answers
    nothing and is added to ``damaged``.

    Raises:
        InvalidInput: the query has no words, or ``limit`` is not positive.
    """
    with Combined(indexes, combine=False) as combined:
        hits = combined.search(query, types=types, tags=tags, person=person, limit=limit, marks=marks)
        if damaged is not None:
            damaged += combined.damaged
        return hits
