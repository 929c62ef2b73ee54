"""A person's cases searched as one index, kept between searches in their sealed cache.

Building a :class:`vault.search.Combined` costs seconds for 100 MB of text, so
it is kept: in memory by a long-lived process (:class:`Held`, the web desk),
and on disk in the person's cache (vault/_cache.py: sealed with a key from
their own secret identity; never plaintext on disk), as cache
:data:`NAME`. The cache names exactly what it holds: per case, its rowid
tag, the numbers of the segments listed when it was filled, who signed the
segments folded, and the problems met. A search lists each case's segments
and compares:

- a case whose listing is the same, whose segment authors are still enrolled
  lawyers or case leads, is answered from the cached index as it is;
- a case whose listing changed (a document added, edited, removed, moved; a
  compaction; a segment deleted) is *refreshed*: its rows are deleted from
  the combined FTS5 table (FTS5 reads their stored text to delete their
  words) and its newly folded index's live rows inserted (FTS5 tokenizes
  them again); only that case's text is read;
- a case in the cache that is not among the person's cases now (revoked,
  purged) has its rows deleted before anything is searched;
- a cold cache is built as a Combined from every case at once.

Whatever the cache says, every case searched is first checked with
``require_member`` (NotPermitted for a non-member, as the case-by-case
path), and results are still checked against each case's state by the
caller. A case whose tag another cached case already uses (a collision of
the 22-bit tag) is searched on its own each time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from . import _cache, casekeys
from ._query import expression, query_terms
from .people import MEMBER_ROLES
from .search import (
    _COMBINED_DOCS,
    _MAX_NUM,
    _MAX_PAGE,
    _NUM_BITS,
    _PAGE_BITS,
    _SCHEMA,
    _TAG_SHIFT,
    Combined,
    Hit,
    _connect,
    _filters,
    search_many,
    tag_of,
)

NAME = "search.combined"
CASES = "search.combined.cases"  # the case ids it holds (sealed JSON), read by drop_if_left
FORMAT = 1
_EXTRA = (("CREATE TABLE cdocs(key INTEGER PRIMARY KEY, case_id TEXT NOT NULL, doc_id TEXT NOT NULL, "
           "version INTEGER NOT NULL, fields TEXT NOT NULL)"),
          "CREATE TABLE terms(t TEXT PRIMARY KEY) WITHOUT ROWID",
          "CREATE TABLE header(k TEXT PRIMARY KEY, v TEXT NOT NULL)")  # k 'header': what the cache holds (JSON)


@dataclass
class _State:
    conn: sqlite3.Connection
    cases: dict = field(default_factory=dict)  # case id -> {"tag", "segments", "authors", "problems"}


class Held:
    """A combined index kept in memory between searches (a long-lived process); ``drop`` forgets it."""

    def __init__(self) -> None:
        self.state: _State | None = None

    def drop(self) -> None:
        """Forget the index now (on lock)."""
        if self.state is not None:
            self.state.conn.close()
            self.state = None


@dataclass
class Answer:
    """What the combined search found, and what each case's index said about itself."""

    hits: list[Hit]
    problems: list[str]
    indexed: dict[str, dict[str, int]]  # case id -> doc id -> the version its index holds
    waiting: dict[str, list[tuple[str, int]]]  # case id -> (doc id, version) indexed by title, waiting for text
    refreshed: list[str]  # the case ids whose segments were read this time
    finish: Callable[[], None] | None = None  # with save_later: saves the refreshed cache (call once)


class _Cached(Combined):
    """A Combined over a database of this module (its words listed in table ``terms``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn, self._cases, self._alone, self._by_tag, self._terms = conn, [], [], {0: 0}, []

    def _exact(self, query: str) -> str | None:
        parts = query_terms(query)
        for phrase in parts:
            for n, (word, prefix) in enumerate(phrase):
                if not prefix:
                    continue
                found = [t for (t,) in self._conn.execute("SELECT t FROM terms WHERE t >= ? ORDER BY t LIMIT 2",
                                                          (word,))]
                if not found or not found[0].startswith(word):
                    return None
                if len(found) == 1 or not found[1].startswith(word):
                    phrase[n] = (found[0], False)
        return expression(parts)


def _fresh() -> sqlite3.Connection:
    conn = _connect()
    conn.execute(_SCHEMA[1])
    conn.execute(_COMBINED_DOCS)
    return conn


def _extend(conn: sqlite3.Connection, terms=()) -> None:
    for sql in _EXTRA:
        conn.execute(sql)
    conn.executemany("INSERT OR IGNORE INTO terms VALUES (?)", ((t,) for t in terms))


def _load(v) -> _State | None:
    data = _cache.load_bytes(v, NAME)
    if data is None:
        return None
    try:
        conn = _connect()
        conn.deserialize(data)  # one copy, into SQLite
        del data
        header = json.loads(conn.execute("SELECT v FROM header WHERE k = 'header'").fetchone()[0])
        if header.get("fmt") != FORMAT or header.get("vault") != v.id or not isinstance(header.get("cases"), dict):
            return None
    except (ValueError, TypeError, sqlite3.DatabaseError, AttributeError):
        return None
    return _State(conn, header["cases"])


def _save(v, state: _State) -> None:
    header = json.dumps({"fmt": FORMAT, "vault": v.id, "cases": state.cases}, separators=(",", ":"))
    state.conn.execute("INSERT OR REPLACE INTO header VALUES ('header', ?)", (header,))
    _cache.save_bytes(v, NAME, state.conn.serialize())
    _cache.save(v, CASES, sorted(state.cases))


def drop(v) -> None:
    """Remove this person's cached combined index from disk."""
    _cache.drop(v, NAME)
    _cache.drop(v, CASES)


def drop_if_left(v, mine) -> None:
    """Drop the cached index if it holds a case not among ``mine`` (revoked, purged): it holds that case's text.

    Cheap (a small sealed list of the cached cases is read), so that listing or resolving cases,
    which nearly every command does, removes it, not only the next search.
    """
    held = _cache.load(v, CASES)
    if isinstance(held, list) and set(held) - set(mine):
        drop(v)


def _delete(conn: sqlite3.Connection, tag: int) -> None:
    """Every row of the case with ``tag``: its pages (FTS5 deletes their words), documents and fields."""
    conn.execute("BEGIN")
    conn.execute("DELETE FROM pages WHERE rowid BETWEEN ? AND ?", (tag << _TAG_SHIFT, ((tag + 1) << _TAG_SHIFT) - 1))
    for table in ("docs", "cdocs"):
        conn.execute(f"DELETE FROM {table} WHERE key BETWEEN ? AND ?", (tag << _NUM_BITS, ((tag + 1) << _NUM_BITS) - 1))
    conn.execute("COMMIT")


def _insert(conn: sqlite3.Connection, case_id: str, tag: int, index) -> None:
    """The live rows of a case's folded index, put under ``tag`` (its text tokenized by FTS5 again)."""
    conn.execute("ATTACH ':memory:' AS seg")
    try:
        conn.deserialize(index.to_bytes(), name="seg")
        own = index._tag
        conn.execute("BEGIN")
        live = f"SELECT num FROM seg.docs WHERE removed = 0 AND num <= {_MAX_NUM}"
        conn.execute(f"INSERT INTO main.pages(rowid, body, title) SELECT ? | (rowid & ?), body, title FROM seg.pages "
                     f"WHERE (rowid >> {_TAG_SHIFT}) = ? AND ((rowid >> {_PAGE_BITS}) & {_MAX_NUM}) IN ({live})",
                     (tag << _TAG_SHIFT, (1 << _TAG_SHIFT) - 1, own))
        conn.execute(f"INSERT INTO main.docs SELECT (? << {_NUM_BITS}) | num, type, tags, person FROM seg.docs "
                     f"WHERE num IN ({live})", (tag,))
        conn.execute(f"INSERT INTO main.cdocs SELECT (? << {_NUM_BITS}) | num, ?, doc_id, version, fields FROM seg.docs "
                     f"WHERE num IN ({live})", (tag, case_id))
        conn.execute("CREATE VIRTUAL TABLE temp.segvocab USING fts5vocab(seg, pages, row)")
        conn.execute("INSERT OR IGNORE INTO main.terms SELECT term FROM temp.segvocab")
        conn.execute("DROP TABLE temp.segvocab")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("DETACH seg")


def _authorised(v, authors) -> bool:
    users = v.directory.users
    return all(a in users and users[a].role in MEMBER_ROLES for a in authors)  # what _read checks


def _entry(numbers, loaded, tag: int) -> dict:
    return {"tag": tag, "segments": numbers, "authors": sorted(loaded.authors), "problems": loaded.problems}


def _cold(v, scope: dict, listings: dict) -> tuple[_State, dict, dict]:
    """A state built from every case at once (a Combined); returns it, the indexes that could not join, and
    the indexes due for a compaction (left open)."""
    from .searching import compaction_due, load_index

    loaded = {cid: load_index(v, cid) for cid in scope}
    alone, due = {}, {}
    try:
        with Combined({cid: ld.index for cid, ld in loaded.items()}) as combined:
            conn, combined._conn = combined._conn, None
            joined = {combined._cases[order][0] for order in combined._by_tag.values()}
            terms = combined._terms
        if conn is None:
            conn = _fresh()
        _extend(conn, terms)
        state = _State(conn)
        taken = {tag_of(j) for j in joined}
        for cid, ld in loaded.items():
            tag = tag_of(cid)
            if cid in joined:
                _copy_docs(conn, cid, tag, ld.index)
            elif tag in taken:
                alone[cid] = ld
                continue
            else:
                _insert(conn, cid, tag, ld.index)
                taken.add(tag)
            state.cases[cid] = _entry(listings[cid], ld, tag)
        due = {cid: ld for cid, ld in loaded.items() if cid in state.cases and compaction_due(ld)}
    finally:
        for cid, ld in loaded.items():
            if cid not in alone and cid not in due:
                ld.index.close()
    return state, alone, due


def _copy_docs(conn: sqlite3.Connection, case_id: str, tag: int, index) -> None:
    """The fields of a joined case's live documents (the Combined holds its pages and filters)."""
    conn.executemany("INSERT INTO cdocs VALUES (?, ?, ?, ?, ?)",
                     (((tag << _NUM_BITS) | d.num, case_id, d.doc_id, d.version, d.fields)
                      for d in index._docs.values() if not d.removed))


def _refresh(v, state: _State, scope: dict, listings: dict) -> tuple[list[str], dict, dict]:
    """Bring the state to the cases of ``scope`` as listed now.

    Returns (case ids read, indexes searched alone, indexes due for a compaction, left open).
    """
    from .searching import compaction_due, load_index

    conn, read, alone, due = state.conn, [], {}, {}
    try:
        for cid in [c for c in state.cases if c not in scope]:  # no longer mine: never searched again
            _delete(conn, state.cases.pop(cid)["tag"])
        for cid in scope:
            entry = state.cases.get(cid)
            if entry is not None and entry["segments"] == listings[cid] and _authorised(v, entry["authors"]):
                continue
            tag = tag_of(cid)
            loaded = load_index(v, cid)
            read.append(cid)
            if entry is not None:
                _delete(conn, entry["tag"])
                del state.cases[cid]
            if any(e["tag"] == tag for e in state.cases.values()):
                alone[cid] = loaded
                continue
            if compaction_due(loaded):
                due[cid] = loaded
                _insert(conn, cid, tag, loaded.index)
            else:
                with loaded.index as index:
                    _insert(conn, cid, tag, index)
            state.cases[cid] = _entry(listings[cid], loaded, tag)
    except BaseException:
        for ld in [*alone.values(), *due.values()]:
            ld.index.close()
        raise
    return read, alone, due


def _compact(v, state: _State, due: dict) -> None:
    """Store each due case's folded index as a compaction (searching.compact_folded) and close it.

    The cached entry then lists the compaction too: a listing that shows it and nothing else new
    folds to the same index, so the next search reads nothing again.
    """
    from .searching import compact_folded

    for cid, loaded in due.items():
        with loaded.index:
            seq = compact_folded(v, cid, loaded)
        entry = state.cases.get(cid)
        if seq is not None and entry is not None and entry["segments"] and seq > entry["segments"][-1]:
            entry["segments"] = [*entry["segments"], seq]


def search(v, case_ids: list[str], query: str, *, types=None, tags=None, person=None, limit: int = 20,
           marks: tuple[str, str] = ("[", "]"), held: Held | None = None, save_later: bool = False) -> Answer:
    """Search cases ``case_ids`` (mine, verified by the caller) as one index, from the cache when it still fits.

    Raises:
        NotPermitted: I am not a member of one of the cases (before anything is read).
        InvalidInput: the query has no words.
    """
    from .searching import _numbers

    scope = {cid: casekeys.require_member(v, cid) for cid in case_ids}
    listings = {cid: _numbers(v, cid) for cid in scope}
    state = held.state if held is not None else None
    if held is not None:
        held.state = None  # until this search is through: a failure half way leaves nothing half done
    if state is None:
        state = _load(v)
    alone: dict = {}
    due: dict = {}
    try:
        if state is None:
            state, alone, due = _cold(v, scope, listings)
            read, changed = list(scope), True
        else:
            read, alone, due = _refresh(v, state, scope, listings)
            changed = bool(read) or set(state.cases) != set(scope)
        hits = _hits(state.conn, query, types, tags, person, limit, marks)
        damaged: list = []
        if alone:
            hits += search_many({cid: ld.index for cid, ld in alone.items()}, query, types=types, tags=tags,
                                person=person, limit=limit, marks=marks, damaged=damaged)
            hits = sorted(hits, key=lambda h: -h.score)[:limit]
        indexed, waiting = _versions(state.conn)
        for cid, ld in alone.items():
            docs = [d for d in ld.index._docs.values() if not d.removed]
            indexed[cid] = {d.doc_id: d.version for d in docs}
            waiting[cid] = [(d.doc_id, d.version) for d in docs if '"waiting": true' in d.fields]
    except BaseException:
        for ld in due.values():
            ld.index.close()
        if state is not None:
            state.conn.close()
        raise
    finally:
        for ld in alone.values():
            ld.index.close()
    problems = [p for cid in scope for p in state.cases.get(cid, {}).get("problems", [])]
    problems += [p for ld in alone.values() for p in ld.problems]
    problems += [f"the search index of case {cid} is malformed" for cid in damaged]
    if held is not None:
        held.state = state
    finish = None
    if changed and save_later:  # the caller answers first, then compacts and saves (a 100 MB cache takes a second)
        def finish() -> None:
            _compact(v, state, due)
            _save(v, state)
            if held is None:
                state.conn.close()
    elif changed:
        _compact(v, state, due)
        _save(v, state)
    if finish is None and held is None:
        state.conn.close()
    return Answer(hits, problems, indexed, waiting, read, finish)


def _hits(conn, query, types, tags, person, limit, marks) -> list[Hit]:
    pages = _Cached(conn)._combined_pages(query, _filters(types, tags, person), limit, marks)
    out = []
    for score, rowid, snippet in pages:
        row = conn.execute("SELECT case_id, doc_id, version, fields FROM cdocs WHERE key = ?",
                           (rowid >> _PAGE_BITS,)).fetchone()
        if row is not None:
            out.append(Hit(row[1], row[2], rowid & _MAX_PAGE, -score, snippet, json.loads(row[3]), row[0]))
    return out


def _versions(conn) -> tuple[dict, dict]:
    """(case id -> {doc id: version} indexed, case id -> [(doc id, version)] indexed by title only, waiting for text)."""
    versions: dict[str, dict[str, int]] = {}
    waiting: dict[str, list] = {}
    for case_id, doc_id, version, pending in conn.execute(
            "SELECT case_id, doc_id, version, instr(fields, '\"waiting\": true') > 0 FROM cdocs"):
        versions.setdefault(case_id, {})[doc_id] = version
        if pending:
            waiting.setdefault(case_id, []).append((doc_id, version))
    return versions, waiting
