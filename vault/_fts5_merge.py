"""Several FTS5 indexes in one: their shadow tables copied side by side, no text tokenized again.

An FTS5 table keeps its index as *segments* in its ``%_data`` table (rows
numbered ``segid << 37 | ...``) with their first terms in ``%_idx``, a
*structure record* (``%_data`` row 10) that lists the segments of each level,
and an *averages record* (row 1: rows and tokens per column). SQLite's
``fts5_index.c`` documents both records; they are part of SQLite's file format.
An index whose rows never share a rowid with another's can join it by copying
its segments under new segment ids and listing them in one structure record:
a query then reads every segment, as it does before FTS5 merges them itself.
Nothing here parses a segment's pages (the doclists): FTS5 reads them.

Only the version 1 structure record (SQLite 3.40 and the versions before
3.45's "V2") is understood; ``merge_into`` answers False for anything else,
and the caller searches that index on its own. The merged database is only
ever read: it is never written to by FTS5, so its levels need no meaning for
merging (every segment is put on level 0, each index's oldest first, so that
within one index a newer segment still wins over an older one).
"""

from __future__ import annotations

import contextlib
import sqlite3

__all__ = ["MAX_SEGMENTS", "Merger"]

MAX_SEGMENTS = 2000  # FTS5_MAX_SEGMENT: a structure record listing more is refused as corrupt
_SEGID_SHIFT = 37  # FTS5_DATA_PAGE_B + FTS5_DATA_HEIGHT_B + FTS5_DATA_DLI_B
_AVERAGES, _STRUCTURE = 1, 10  # FTS5_AVERAGES_ROWID, FTS5_STRUCTURE_ROWID
_V2 = b"\xff\x00\x00\x01"  # FTS5_STRUCTURE_V2 (SQLite 3.45 and later), not understood here


def _get_varint(data: bytes, i: int) -> tuple[int, int]:
    """An SQLite varint at ``data[i]`` (big-endian, 7 bits a byte, the 9th byte whole); (value, next i)."""
    value = 0
    for n in range(9):
        if i >= len(data):
            raise ValueError("truncated varint")
        byte = data[i]
        i += 1
        if n == 8:
            return (value << 8) | byte, i
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i
    raise AssertionError("unreachable")


def _put_varint(value: int) -> bytes:
    """The SQLite varint of a value from 0 to 2**56 - 1 (all this module writes)."""
    if not 0 <= value < 1 << 56:
        raise ValueError("varint out of range")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _structure(block: bytes) -> tuple[bytes, list[tuple[int, int, int]]]:
    """(cookie, [(segid, first page, last page)] oldest first) of a V1 structure record; ValueError if not one."""
    if len(block) < 4 or block[4:8] == _V2:
        raise ValueError("not a version 1 structure record")
    levels, i = _get_varint(block, 4)
    total, i = _get_varint(block, i)
    _, i = _get_varint(block, i)  # the write counter
    per_level = []
    for _ in range(levels):
        _, i = _get_varint(block, i)  # segments of an ongoing merge: only writers care
        count, i = _get_varint(block, i)
        segs = []
        for _ in range(count):
            segid, i = _get_varint(block, i)
            first, i = _get_varint(block, i)
            last, i = _get_varint(block, i)
            if not 0 < segid < 1 << 16 or not 0 < first or last < first - 1:
                raise ValueError("segment out of range")
            segs.append((segid, first, last))
        per_level.append(segs)
    if i != len(block) or sum(map(len, per_level)) != total or total > MAX_SEGMENTS:
        raise ValueError("structure record does not add up")
    # level 0 holds the newest segments; within a level they are listed oldest first
    ordered = [s for segs in reversed(per_level) for s in segs]
    if len({s[0] for s in ordered}) != len(ordered):
        raise ValueError("a segment id is listed twice")
    return block[:4], ordered


def _averages(block: bytes, columns: int) -> list[int]:
    """[rows, tokens of each column] of an averages record."""
    values, i = [], 0
    for _ in range(columns + 1):
        value, i = _get_varint(block, i)
        values.append(value)
    return values


class Merger:
    """Copies FTS5 tables named ``table`` of attached databases into the empty one of ``main``.

    ``conn`` holds the target database, whose FTS5 table must not have been
    read or written on this connection yet (FTS5 would keep its empty
    structure in memory); ``finish`` writes the merged records. With
    ``content=False`` the text of the rows is not copied: the merged table then
    answers MATCH with rowids and bm25 (the index and the rows' sizes), but
    has no columns to show or snippets to make.
    """

    def __init__(self, conn: sqlite3.Connection, table: str, columns: int, content: bool = True) -> None:
        self._conn, self._t, self._columns, self._content = conn, table, columns, content
        self._segments: list[tuple[int, int, int]] = []
        self._totals = [0] * (columns + 1)
        self._cookie: bytes | None = None

    def merge_into(self, schema: str, rowids: tuple[int, int]) -> bool:
        """Copy the FTS5 index of ``schema`` (an attached database); False if it cannot join.

        Its rows (text and sizes) and every entry of its doclists (read once,
        through fts5vocab) must have rowids from ``rowids[0]`` to below
        ``rowids[1]``, a range no other index joined uses: an index crafted to
        list another index's rowids under its words never joins. Run it in a
        savepoint: rows copied before an SQLite error are the caller's to roll back.
        """
        c, t = self._conn, self._t
        for table in ("content", "docsize"):
            low, high = c.execute(f"SELECT min(id), max(id) FROM {schema}.{t}_{table}").fetchone()
            if low is not None and not rowids[0] <= low <= high < rowids[1]:
                return False
        rows = dict(c.execute(f"SELECT id, block FROM {schema}.{t}_data WHERE id IN (?, ?)", (_AVERAGES, _STRUCTURE)))
        try:
            cookie, segments = _structure(bytes(rows[_STRUCTURE]))
            averages = _averages(bytes(rows[_AVERAGES]), self._columns)
        except (KeyError, ValueError, TypeError):
            return False
        if not self._doclists_within(schema, rowids):
            return False
        if (self._cookie not in (None, cookie) or len(self._segments) + len(segments) > MAX_SEGMENTS
                or c.execute(f"SELECT v FROM {schema}.{t}_config WHERE k = 'version'").fetchone() != (4,)):
            return False
        base = len(self._segments)
        for n, (segid, first, last) in enumerate(segments, base + 1):
            lo, hi = segid << _SEGID_SHIFT, (segid + 1) << _SEGID_SHIFT
            c.execute(f"INSERT INTO main.{t}_data(id, block) SELECT id - ? + ?, block FROM {schema}.{t}_data "
                      "WHERE id >= ? AND id < ?", (lo, n << _SEGID_SHIFT, lo, hi))
            c.execute(f"INSERT INTO main.{t}_idx(segid, term, pgno) SELECT ?, term, pgno FROM {schema}.{t}_idx "
                      "WHERE segid = ?", (n, segid))
            self._segments.append((n, first, last))
        if self._content:
            c.execute(f"INSERT INTO main.{t}_content SELECT * FROM {schema}.{t}_content")
        c.execute(f"INSERT INTO main.{t}_docsize SELECT * FROM {schema}.{t}_docsize")
        self._cookie = cookie
        self._totals = [a + b for a, b in zip(self._totals, averages)]
        return True

    def _doclists_within(self, schema: str, rowids: tuple[int, int]) -> bool:
        """Whether every rowid the FTS5 index of ``schema`` lists under its words is in ``rowids`` (one pass)."""
        c = self._conn
        c.execute(f"CREATE VIRTUAL TABLE temp.doclists USING fts5vocab({schema}, {self._t}, instance)")
        try:
            low, high = c.execute("SELECT min(doc), max(doc) FROM temp.doclists").fetchone()
        except sqlite3.DatabaseError:
            return False
        finally:
            with contextlib.suppress(sqlite3.DatabaseError):
                c.execute("DROP TABLE temp.doclists")
        return low is None or rowids[0] <= low <= high < rowids[1]

    def finish(self) -> None:
        """Write the structure record (every segment on level 0) and the averages record."""
        segs = self._segments
        record = bytearray(self._cookie or b"\x00\x00\x00\x00")
        record += _put_varint(1 if segs else 0) + _put_varint(len(segs)) + _put_varint(len(segs))
        if segs:
            record += _put_varint(0) + _put_varint(len(segs))
            for segid, first, last in segs:
                record += _put_varint(segid) + _put_varint(first) + _put_varint(last)
        averages = b"".join(_put_varint(v) for v in self._totals)
        t = self._t
        self._conn.execute(f"INSERT OR REPLACE INTO main.{t}_data(id, block) VALUES (?, ?), (?, ?)",
                           (_STRUCTURE, bytes(record), _AVERAGES, averages))
