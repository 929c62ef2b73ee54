"""A segment row that changes a document's fields only (tags, title, type, person), keeping its pages.

`doc tag` and `doc edit` change what is known about a document, not its text.
Indexing its pages again would read the whole document, and a large plain
text, whose pages only a rebuild reads (vault/searching.py), would lose them.
So such a change is stored as a *fields* row (``docs.removed`` = :data:`FIELDS`,
no pages) in a segment of format :data:`FORMAT`. Folded onto the same version
of the document, it replaces the fields and the title on its pages (the title
is a column of every page, so FTS5 indexes those pages again: a reader pays it
once, and a compaction holds the result); a document still waiting for its
text stays waiting. Onto anything else (another version, a removed document,
nothing) it is dropped: the index does not hold those pages, and a search
counts the document as not indexed.

Readers of format 2 (before this row) refuse a segment of format 3 as
damaged and name it, rather than read the row as a removal.
"""

from __future__ import annotations

import json
import sqlite3

FIELDS = 3
FORMAT = "refuge-search-3"


def record(seg, doc_id: str, version: int, fields) -> None:
    """Record ``fields`` of a document at a version in segment ``seg``, its pages left as they are.

    Raises:
        InvalidInput: wrong arguments, or the segment holds pages of that document too.
    """
    from .errors import InvalidInput
    from .search import _fields

    if not isinstance(doc_id, str) or not doc_id or not isinstance(version, int) or version < 0:
        raise InvalidInput("search fields need a document id and a version of 0 or more")
    if doc_id in seg._docs:
        raise InvalidInput("a search segment changes either the pages or the fields of a document")
    seg._set_doc(doc_id, version, FIELDS, _fields(fields))
    seg._write().execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))


def fold(index, doc_id: str, version: int, raw: str) -> None:
    """Apply a fields row (its fields as JSON) to a folded index, by the rules above."""
    from .search import _MAX_PAGE, _fields

    doc = index._docs.get(doc_id)
    if doc is None or doc.removed or doc.version != version:
        return
    held, new = json.loads(doc.fields), json.loads(raw)
    if held.get("waiting") is True:
        new["waiting"] = True  # indexed by title only still: its text waits for a rebuild
    title = str(new.get("title") or "")
    if title != str(held.get("title") or ""):
        base = index._base(doc.num)
        index._write().execute("UPDATE main.pages SET title = ? WHERE rowid BETWEEN ? AND ?",
                               (title, base, base | _MAX_PAGE))
    index._set_doc(doc_id, version, 0, _fields(new))


def settle(conn: sqlite3.Connection, current: str) -> None:
    """The first segment of a fold, deserialized as it is: its fields rows have nothing to apply to."""
    if conn.execute("SELECT 1 FROM docs WHERE removed = ? LIMIT 1", (FIELDS,)).fetchone() is None:
        return
    conn.execute("BEGIN")
    conn.execute("DELETE FROM docs WHERE removed = ?", (FIELDS,))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'format' AND value = ?", (current, FORMAT))
    conn.execute("COMMIT")
