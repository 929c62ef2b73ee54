"""The index of my cases: what resolving a reference and listing my cases need, without opening every case.

Which cases are mine is the verified directory's word (``case.members``
events, signed by case leads who are members): a case planted in storage,
however its keys are wrapped, is never one of mine unless a member granted it
to me there, and a case the directory no longer counts me a member of leaves
my index. For each of my cases the index keeps its reference (fixed at its
creation), what a listing shows (:meth:`Case.as_dict`) and the position of the
verified fold that was read from: the last event's number and digest, and the
SHA-256 of that event's stored object. It is sealed in my cache
(vault/_cache.py: only my own secret makes or opens it).

A reference found here is only a pointer: the case is then opened and verified
as any case is (vault/cases.py: load_case), and its own reference must match.
A listing row is shown while the case is unchanged (its last event's object is
the same, and no event follows it: one read and one look-up, no decryption);
otherwise the case is opened and verified, and its row rebuilt.
"""

from __future__ import annotations

import hashlib

from . import _cache, _searchcache
from .cases import Case, case_log, forget_case, load_case, my_case_ids
from .errors import NotFound, NotPermitted
from .people import authority_checked
from .storage import EVENT_MOST, read_small

REFS = "cases.index"  # case id -> reference: what resolving needs, small
ROWS = "cases.rows"  # case id -> listing row and the position it was read at
FORMAT = 1


def _load(v, name: str) -> dict:
    data = _cache.load(v, name)
    if isinstance(data, dict) and data.get("fmt") == FORMAT and data.get("authority") == authority_checked() \
            and isinstance(data.get("cases"), dict):
        return data["cases"]
    return {}


def _save(v, name: str, entries: dict) -> None:
    _cache.save(v, name, {"fmt": FORMAT, "authority": authority_checked(), "cases": entries})


def _object_digest(v, case_id: str, seq: int) -> str | None:
    """The SHA-256 of the stored (encrypted) event ``seq`` of a case, or None if it is gone."""
    try:
        return hashlib.sha256(read_small(v.backend, case_log(v, case_id).key(seq), EVENT_MOST)).hexdigest()
    except NotFound:
        return None


def _entry(v, case: Case) -> dict:
    return {"ref": case.ref, "seq": case.last_seq, "digest": case.last_digest,
            "object": _object_digest(v, case.id, case.last_seq), "row": case.as_dict()}


def _valid(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("ref"), str) and isinstance(entry.get("seq"), int) \
        and isinstance(entry.get("row"), dict)


def _opened(v, case_id: str) -> Case | None:
    """The case, opened and verified; None if it is not readable by me (or has no event yet)."""
    try:
        case = load_case(v, case_id)
    except (NotPermitted, NotFound):
        return None
    return case if case.last_seq else None


def _unchanged(v, case_id: str, entry: dict) -> bool:
    """Whether the case's last event is still the object the entry was built from, and nothing follows it."""
    log = case_log(v, case_id)
    return entry.get("object") is not None and not v.backend.exists(log.key(entry["seq"] + 1)) \
        and _object_digest(v, case_id, entry["seq"]) == entry["object"]


def _forget_purged(v) -> None:
    for cid, st in v.directory.cases.items():
        if st.purged_at:
            forget_case(v, cid)  # a case purged since I last looked: drop my cached copy


def _rows(v) -> dict:
    """Listing entries of my cases, rebuilt for a case new to me or changed since; saves them if any changed."""
    _forget_purged(v)
    entries = _load(v, ROWS)
    kept, changed = {}, False
    for cid in my_case_ids(v):
        entry = entries.get(cid)
        case = v._cases.get(cid)
        if case is not None and case.last_seq:
            if not (_valid(entry) and entry["seq"] == case.last_seq and entry["digest"] == case.last_digest):
                entry, changed = _entry(v, case), True
        elif not _valid(entry) or not _unchanged(v, cid, entry):
            case = _opened(v, cid)
            if case is None:
                continue
            entry, changed = _entry(v, case), True
        kept[cid] = entry
    if changed or len(kept) != len(entries):
        _save(v, ROWS, kept)
    _searchcache.drop_if_left(v, kept.keys())
    return kept


def references(v) -> dict[str, str]:
    """My cases' references by case id (a case new to me is opened and verified first)."""
    _forget_purged(v)
    refs = _load(v, REFS)
    mine = my_case_ids(v)
    changed = bool(refs.keys() - set(mine))
    _searchcache.drop_if_left(v, mine)
    for cid in [c for c in mine if not isinstance(refs.get(c), str)]:
        case = v._cases.get(cid)
        case = case if case is not None and case.last_seq else _opened(v, cid)
        if case is not None:
            refs[cid], changed = case.ref, True
    out = {cid: refs[cid] for cid in mine if isinstance(refs.get(cid), str)}
    if changed:
        _save(v, REFS, out)
    return out


def summaries(v) -> list[dict]:
    """A listing row (:meth:`Case.as_dict`, member names) of each of my cases, by reference."""
    rows = []
    for cid, e in _rows(v).items():
        row = dict(e["row"], id=cid)
        if isinstance(row.get("members"), list):
            row["members"] = sorted(v.directory.name(u) for u in row["members"])
        rows.append(row)
    return sorted(rows, key=lambda r: (str(r.get("ref")), r["id"]))
