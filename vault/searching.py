"""The search index of each case, kept in the vault: encrypted segments, signed by their authors.

    cases/<case>/search/<seq>       a segment of the case's index (vault/search.py), or a
                                    compaction of the segments before it; age-encrypted to the
                                    case's current key version, signed by its author

A segment is one writer's batch of changes (pages of documents added or
edited, documents removed): the writer takes the next free number, create-only,
and tries the next one when another writer took it, as events do, so no
writer loses an entry. A *compaction* is the whole index folded into one
segment, numbered like any other, that names the highest number it covers.
Readers fold the compaction that covers most and only the segments numbered
after what it covers; older objects are never deleted in the same step (a
reader may be folding them at that moment). Writers never compact (a
compaction folds the whole index in memory, and `doc add` must not grow with
the case): a reader that folded :data:`COMPACT_EVERY` segments or more after
the newest compaction stores the index it already holds as one
(:func:`compact_folded`, after a search). A rebuild from the documents is a
compaction too.

The plaintext of a segment object is one line of signed JSON (the header: its
case, number, what it covers and the SHA-256 of the segment), then the
segment's SQLite bytes. Readers accept a segment only if its header is signed
by an enrolled lawyer or case lead and names this case and this number; others
are skipped and reported. The index is decrypted in memory and never written
anywhere else. Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import age, casekeys, renditions
from ._searchcache import Held
from .cases import Case, Document, load_case, require_open
from .documents import document_bytes, read_document
from .errors import InvalidInput, NotFound, RefugeError, VerificationFailed
from .events import canonical, now, sign_record, verify_record
from .people import MEMBER_ROLES, require_role
from .search import CaseIndex, Hit, Segment, search_many
from .storage import ObjectExists

__all__ = [
    "COMPACT_EVERY",
    "Found",
    "Held",
    "Loaded",
    "Results",
    "TextSource",
    "compact_folded",
    "compaction_due",
    "forget_documents",
    "index_documents",
    "index_fields",
    "load_index",
    "reindex",
    "search",
    "segment_key",
    "store_segment",
]

FORMAT = "refuge-search-segment-1"
COMPACT_EVERY = 16  # a reader that folded this many segments after the newest compaction stores one
#: Documents larger than this are never decrypted whole: a plain text is read in chunks of
#: _CHUNK_BYTES (its whole text indexed), anything else by its title and fields only (see _segment_of).
MAX_TEXT_BYTES = 32 * 1024 * 1024
_CHUNK_BYTES = 4 * 1024 * 1024  # a large plain text: decrypted, sent to the worker and stored this much at a time
_BATCH_BYTES = 64 * 1024**2  # decrypted bytes sent to one text-extraction worker


@dataclass
class TextSource:
    """One document's latest version as text extraction needs it (decrypted, in memory only)."""

    doc_id: str
    version: int
    mime: str
    data: bytes = field(repr=False)
    ocr: dict = field(default_factory=dict, repr=False)  # page index -> recognised words (OCR cache)


# ``extract(sources)`` -> per source, [(page, text)]: packets' keyless worker, given by the application.
Extractor = Callable[[list[TextSource]], list[list[tuple[int, str]]]]


@dataclass
class Loaded:
    """A case's folded index, the segment numbers read, and what was skipped and why."""

    index: CaseIndex
    last_seq: int
    folded: int
    problems: list[str] = field(default_factory=list)
    authors: set[str] = field(default_factory=set)  # who signed the segments folded
    since: int = 0  # segments folded after the newest compaction


@dataclass
class Found:
    """One search result: a document of a case at its best page."""

    case: Case
    doc: Document
    page: int
    snippet: str
    score: float


@dataclass
class Results:
    """What a search found, which cases it searched, and what it could not rely on."""

    found: list[Found]
    cases: list[str]
    unindexed: dict[str, int] = field(default_factory=dict)  # case id -> documents the index lacks
    problems: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # case id -> large texts indexed by title only (reindex)
    finish: Callable[[], None] | None = None  # search(save_later=True): call after answering (compactions, the cache)


def segment_key(case_id: str, seq: int) -> str:
    """The object name of segment ``seq`` of a case's index."""
    return f"cases/{case_id}/search/{seq:08d}"


def _numbers(v, case_id: str) -> list[int]:
    return sorted(int(n) for n in v.backend.children(f"cases/{case_id}/search/") if n.isdigit() and len(n) == 8)


# --- writing ---------------------------------------------------------------------------------


def store_segment(v, case_id: str, data: bytes, covers: int = 0) -> int:
    """Encrypt and sign segment bytes as the next free segment of a case; returns its number.

    ``covers`` > 0 makes it a compaction of every segment numbered up to ``covers``
    (a compaction with nothing before it is a plain first segment).
    """
    require_role(v, "lawyer", "case-lead", doing="indexing documents")
    casekeys.require_member(v, case_id)
    _, recipient = casekeys.current_recipient(v, case_id)
    digest = hashlib.sha256(data).hexdigest()
    seq = (_numbers(v, case_id) or [0])[-1] + 1
    for _ in range(1000):
        header = sign_record(v.me, {"format": FORMAT, "case": case_id, "seq": seq, "covers": covers,
                                    "sha256": digest, "time": now()})
        try:
            with v.backend.writer(segment_key(case_id, seq)) as dst:  # encrypted as written: no copy of the segment
                enc = age.Encryptor([recipient], dst)
                enc.write(canonical(header) + b"\n")
                enc.write(data)
                enc.close()
        except ObjectExists:
            seq += 1
            continue
        return seq
    raise VerificationFailed("could not store a search segment after 1000 attempts; is another writer looping?")


def _sources(v, case: Case, docs: list[Document]) -> Iterable[list[TextSource]]:
    """The documents decrypted in batches of about _BATCH_BYTES, with their OCR cache pages."""
    wanted = {d.id for d in docs}
    last_key = {entry["doc"]: key for key, entry in case.ocr.items() if entry.get("doc") in wanted}
    recognised = v.ocr_results(case) if last_key else {}
    batch, size = [], 0
    for doc in docs:
        data, mime = document_bytes(v, doc), doc.mime
        shown = renditions.rendition_of(v, case, doc) if renditions.needs_rendition(mime) else None
        if shown is not None:  # office documents and e-mail: the text of their rendition (made at doc add)
            data, mime = shown.data, shown.mime
        batch.append(TextSource(doc.id, doc.version, mime, data, recognised.get(last_key.get(doc.id), {})))
        size += len(data)
        if size >= _BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _fields(doc: Document) -> dict:
    return {"title": doc.title, "type": doc.type, "tags": list(doc.tags), "person": doc.person or "",
            "lang": doc.lang or ""}


class _Chunks:
    """A sink for read_document: the text cut at white space into pieces of about ``size`` bytes, each given to ``emit``.

    A piece ends at the last space, tab, line or page break of its ``size`` bytes (in UTF-8 never
    inside a character), or, with none in its second half, at the last whole character.
    """

    def __init__(self, size: int, emit: Callable[[bytes], None]) -> None:
        self.size, self.emit, self.buf = size, emit, bytearray()

    def write(self, data) -> None:
        self.buf += data
        while len(self.buf) > self.size:  # the byte after a cut is there: a cut never splits a character
            end = max(self.buf.rfind(c, 0, self.size) for c in b" \n\t\r\f") + 1
            if end <= self.size // 2:
                end = self.size
                while end > 1 and self.buf[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte
                    end -= 1
            piece = bytes(self.buf[:end])
            del self.buf[:end]
            self.emit(piece)

    def close(self) -> None:
        if self.buf:
            self.emit(bytes(self.buf))
            self.buf = bytearray()


def _large_text(v, case: Case, doc: Document, extract: Extractor, seg: Segment, store, chunk: int) -> Segment:
    """Index a plain text past MAX_TEXT_BYTES chunk by chunk; returns the segment that holds its last pages.

    Pages are numbered on across chunks (a chunk's page breaks and the worker's cuts, so a
    "page" of a large text is one of its pieces). With ``store``, each chunk's segment is
    stored as it fills and the next chunk's pages go to a new segment as a ``part``: memory
    holds about one chunk, its text and its index at a time. The document's SHA-256 is
    checked at its end (read_document): parts stored before a mismatch stay, and the raise
    tells the caller its index is incomplete.
    """
    state = {"seg": seg, "page": 0, "part": False}

    def emit(piece: bytes) -> None:
        pages = extract([TextSource(doc.id, doc.version, "text/plain", piece)])[0]
        for n, text in pages:
            if state["page"] + n <= 0xFFFFF:  # the pages an index numbers (vault/search.py)
                state["seg"].add(doc.id, doc.version, state["page"] + n, text, _fields(doc), part=state["part"])
        state["page"] += max((n for n, _ in pages), default=0)
        if store is not None and pages:
            store(state["seg"])
            state["seg"], state["part"] = Segment(case.id), True

    sink = _Chunks(chunk, emit)
    read_document(v, doc, sink)
    sink.close()
    if not state["page"] and not state["part"]:  # no text at all: its title still matches
        state["seg"].add(doc.id, doc.version, 0, "", _fields(doc))
    return state["seg"]


def _plain(doc: Document) -> bool:
    return (doc.mime or "").split(";")[0].strip().lower() == "text/plain"


def _segment_of(v, case: Case, docs: list[Document], extract: Extractor, *, max_text: int = MAX_TEXT_BYTES,
                chunk: int = _CHUNK_BYTES, store=None, defer: bool = False) -> Segment:
    seg = Segment(case.id)
    if defer:  # large plain texts: by title and fields now, marked as waiting for their text (reindex reads it)
        for doc in [case.documents[d] for d in waiting_for_text(case, [d.id for d in docs], max_text)]:
            seg.add(doc.id, doc.version, 0, "", {**_fields(doc), "waiting": True})
        docs = [d for d in docs if d.id not in seg._docs]
    recognised = {entry.get("doc") for entry in case.ocr.values()}
    # an image nobody recognised yet has no text to read: no decryption, no worker, only its title;
    # a document past max_text is never decrypted whole: a plain text is read in chunks, anything
    # else (a PDF needs all its bytes at once) is indexed by its title
    large = [d for d in docs if d.size > max_text and _plain(d)]
    textless = [d for d in docs if ((d.mime or "").startswith("image/") and d.id not in recognised)
                or (d.size > max_text and not _plain(d))]
    for doc in textless:
        seg.add(doc.id, doc.version, 0, "", _fields(doc))
    skip = {d.id for d in textless + large}
    docs = [d for d in docs if d.id not in skip]
    for batch in _sources(v, case, docs):
        for source, pages in zip(batch, extract(batch)):
            doc = case.documents[source.doc_id]
            for page, text in pages:
                seg.add(doc.id, doc.version, page, text, _fields(doc))
            if not pages:  # no text at all (a photo not recognised yet): its title still matches
                seg.add(doc.id, doc.version, 0, "", _fields(doc))
    for doc in large:
        seg = _large_text(v, case, doc, extract, seg, store, chunk)
    return seg


def index_documents(v, case: Case, doc_ids: Iterable[str], extract: Extractor, *, max_text: int | None = None,
                    chunk: int = _CHUNK_BYTES, defer: bool = True) -> int:
    """Index the latest version of some documents of a case in one new segment; returns its number.

    A plain text past ``max_text`` bytes (MAX_TEXT_BYTES) is, with ``defer``, indexed by its title
    and fields only and marked as waiting for its text (:func:`waiting_for_text` names them, a
    search counts them, :func:`reindex` reads their text); without, it is stored in one segment
    per ``chunk`` (see _large_text). Nothing else of the index is read: no compaction here
    (a reader makes it, :func:`compact_folded`), so memory does not grow with the case's index.
    """
    docs = [case.documents[d] for d in dict.fromkeys(doc_ids) if d in case.documents]
    if not docs:
        raise InvalidInput("no documents to index")
    max_text = MAX_TEXT_BYTES if max_text is None else max_text
    stored: list[int] = []

    def store(seg: Segment) -> None:
        with seg:
            data = seg.to_bytes()
        stored.append(store_segment(v, case.id, data))  # the database closed first: its text is held once

    with _segment_of(v, case, docs, extract, max_text=max_text, chunk=chunk, store=store, defer=defer) as seg:
        data = seg.to_bytes() if len(seg._docs) or not stored else None
    if data is None:  # the last chunk was stored already
        return stored[-1]
    return store_segment(v, case.id, data)


def index_fields(v, case: Case, doc_ids: Iterable[str]) -> int:
    """Record the current fields of some documents (tags, title, type, person) in one new segment; returns its number.

    For a change of metadata only (`doc tag`, `doc edit`): nothing is decrypted, and the pages the
    index holds for each document's latest version stay (vault/_searchfields.py), a large text's
    whole body included; a text waiting for its text stays waiting.
    """
    docs = [case.documents[d] for d in dict.fromkeys(doc_ids) if d in case.documents]
    if not docs:
        raise InvalidInput("no documents to index")
    with Segment(case.id) as seg:
        for doc in docs:
            seg.set_fields(doc.id, doc.version, _fields(doc))
        return store_segment(v, case.id, seg.to_bytes())


def forget_documents(v, case_id: str, doc_ids: Iterable[str]) -> int:
    """Record in a new segment that documents left the case (removed, or moved away)."""
    with Segment(case_id) as seg:
        for d in doc_ids:
            seg.remove(d)
        return store_segment(v, case_id, seg.to_bytes())


def compaction_due(loaded: Loaded) -> bool:
    """Whether a reader's folded index should be stored as a compaction (see :func:`compact_folded`)."""
    return not loaded.problems and loaded.since >= COMPACT_EVERY


def _compactor(v, due: dict) -> Callable[[], None] | None:
    """A call that stores each due index (case id -> Loaded) as a compaction and closes it; None if none is due."""
    if not due:
        return None

    def run() -> None:
        for case_id, loaded in due.items():
            with loaded.index:
                compact_folded(v, case_id, loaded)
    return run


def compact_folded(v, case_id: str, loaded: Loaded) -> int | None:
    """Store an index a reader folded (:func:`load_index`) as a compaction, if due; returns its number or None.

    Due when :data:`COMPACT_EVERY` segments or more were folded after the newest compaction and
    every segment read verified (one that did not stays named until a rebuild). It covers the
    highest number listed before folding: segments are numbered in order, create-only, so a
    writer's later segment is numbered above and folded after it. The index is left merged,
    still usable. A failure to store (storage, permissions) stores nothing and raises nothing:
    the next reader compacts; a write killed half way leaves what any killed write leaves.
    """
    if not compaction_due(loaded):
        return None
    try:
        require_open(v, case_id)  # a closed case takes no new object, not even from a reader
        return store_segment(v, case_id, loaded.index.compact(), covers=loaded.last_seq)
    except (RefugeError, OSError):
        return None


def reindex(v, case: Case, extract: Extractor, *, max_text: int = MAX_TEXT_BYTES,
            chunk: int = _CHUNK_BYTES) -> tuple[int, list[str]]:
    """Rebuild a case's index from its documents as one compaction; returns (documents, problems).

    ``problems`` lists the segments that were skipped because they do not
    verify (their content is not in the rebuilt index, which needs none of them).
    """
    require_role(v, "lawyer", "case-lead", doing="indexing documents")
    casekeys.require_member(v, case.id)
    covers = (_numbers(v, case.id) or [0])[-1]
    problems = _check_all(v, case.id)
    docs = sorted(case.documents.values(), key=lambda d: d.id)
    with _segment_of(v, case, docs, extract, max_text=max_text, chunk=chunk) as seg, \
            CaseIndex.open([seg.to_bytes()]) as index:
        store_segment(v, case.id, index.compact(), covers=covers)
    return len(docs), problems


# --- reading ---------------------------------------------------------------------------------


def _read(v, case_id: str, seq: int, identities, case: Case) -> tuple[dict, bytes]:
    """A segment's verified header and its SQLite bytes (VerificationFailed when it does not verify)."""
    where = f"search segment {seq} of case {case_id}"
    with v.backend.get(segment_key(case_id, seq)) as f:
        blob = f.read()
    try:
        plain = age.decrypt_bytes(list(identities), blob)
    except age.AgeError:
        raise VerificationFailed(f"{where} does not decrypt: it was damaged or altered") from None
    line, _, data = plain.partition(b"\n")
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise VerificationFailed(f"{where} is malformed")
    signer = v.directory.users.get(header.get("author", "")) if isinstance(header.get("author"), str) else None
    if signer is None or signer.role not in MEMBER_ROLES or not verify_record(header, signer.public.sign_pub):
        raise VerificationFailed(f"{where} is not signed by an enrolled lawyer or case lead")
    if not wrote_as_member(case, signer.user_id, seq):
        raise VerificationFailed(f"{where} is signed by someone who was not a member of the case when it was written")
    covers = header.get("covers")
    if (header.get("format") != FORMAT or header.get("case") != case_id or header.get("seq") != seq
            or not isinstance(covers, int) or isinstance(covers, bool) or not 0 <= covers < seq
            or header.get("sha256") != hashlib.sha256(data).hexdigest()):
        raise VerificationFailed(f"{where} is out of place or altered")
    return header, data


def wrote_as_member(case: Case, user_id: str, seq: int) -> bool:
    """Whether search segment ``seq`` signed by ``user_id`` can have been written while they were a member.

    A member's always; a revoked member's only up to the highest segment number the case held when
    they were revoked (a revocation recorded before marks were kept: any of theirs); anyone else's never.
    A revoked member may keep an old key version and still encrypt to it: the mark stops them adding
    segments afterwards."""
    if user_id in case.members:
        return True
    if user_id not in case.former:
        return False
    mark = case.former[user_id]
    return mark is None or seq <= mark


def load_index(v, case_id: str) -> Loaded:
    """A case's index, folded in memory from its newest compaction and the segments after it.

    Segments are read from the newest down until the compaction that covers
    most is reached; one that does not verify is skipped and named in
    ``problems``. NotPermitted, before anything is decrypted, for a non-member.
    """
    identities = casekeys.require_member(v, case_id).values()
    case = load_case(v, case_id)
    numbers = _numbers(v, case_id)
    read: dict[int, tuple[int, bytes]] = {}  # seq -> (covers, data)
    signers: dict[int, str] = {}
    problems: list[str] = []
    best = 0  # the seq of the compaction that covers most, or 0
    for seq in reversed(numbers):
        if best and seq <= read[best][0]:
            break
        try:
            header, data = _read(v, case_id, seq, identities, case)
        except (VerificationFailed, NotFound) as e:
            problems.append(str(e))
            continue
        read[seq] = (header["covers"], data)
        signers[seq] = header["author"]
        if header["covers"] and (not best or header["covers"] > read[best][0]):
            best = seq
    floor = read[best][0] if best else 0
    order = ([best] if best else []) + [s for s in sorted(read) if s > floor and s != best and not read[s][0]]
    try:
        index = CaseIndex.open(read[s][1] for s in order)
    except InvalidInput:  # signed by a member, yet not a segment: a buggy or hostile writer
        problems.append(f"a search segment of case {case_id} is damaged")
        index = CaseIndex.open(read[s][1] for s in order if _opens(read[s][1]))
    return Loaded(index, numbers[-1] if numbers else 0, len(order), problems, {signers[s] for s in order},
                  len(order) - (1 if best else 0))


def _opens(data: bytes) -> bool:
    try:
        Segment.from_bytes(data).close()
    except InvalidInput:
        return False
    return True


def _check_all(v, case_id: str) -> list[str]:
    """Every segment of a case that does not verify (for a rebuild, which reads them all)."""
    identities = casekeys.require_member(v, case_id).values()
    case = load_case(v, case_id)
    problems = []
    for seq in _numbers(v, case_id):
        try:
            _, data = _read(v, case_id, seq, identities, case)
        except (VerificationFailed, NotFound) as e:
            problems.append(str(e))
            continue
        if not _opens(data):
            problems.append(f"search segment {seq} of case {case_id} is damaged")
    return problems


def _live_version(index: CaseIndex, doc_id: str) -> int | None:
    doc = index._docs.get(doc_id)  # same package: the folded version of a document
    return None if doc is None or doc.removed else doc.version


def search(v, query: str, case_ids: Iterable[str] | None = None, *, types: list[str] | None = None,
           tags: list[str] | None = None, person: str | None = None, limit: int = 20,
           marks: tuple[str, str] = ("[", "]"), combined: bool = True, held=None, save_later: bool = False) -> Results:
    """Search the cases I am a member of (or ``case_ids``), best first, checked against each case's state.

    A hit on a document no longer in its case, or at a version that is not its
    latest, is dropped; filters are checked again against the case's state.
    ``unindexed`` counts, per case, the documents whose latest version the
    index lacks (an index update that failed, or segments deleted);
    ``waiting``, the large texts indexed by their title only (see
    :func:`waiting_for_text`). Every case I am a member of (no ``case_ids``)
    is searched as one index kept in my sealed cache (vault/_searchcache.py;
    ``held``, a ``_searchcache.Held``, keeps it in memory too), refreshed for
    the cases whose segments changed; ``combined=False`` searches case by case.
    A case folded with a compaction due is stored as one (:func:`compact_folded`):
    with ``save_later`` by ``Results.finish``, after answering; otherwise before returning.
    """
    require_role(v, "lawyer", "case-lead", doing="searching documents")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise InvalidInput("search limit must be a positive number")
    from .search import parse_query

    parse_query(query)  # a query with no words fails before anything is decrypted
    if case_ids is None and combined:
        return _search_combined(v, query, types=types, tags=tags, person=person, limit=limit, marks=marks, held=held,
                                save_later=save_later)
    scope = [load_case(v, c) for c in case_ids] if case_ids is not None else v.cases()
    indexes, problems, unindexed, waiting, due, finish = {}, [], {}, {}, {}, None
    try:
        for case in scope:
            loaded = load_index(v, case.id)
            indexes[case.id] = loaded.index
            if compaction_due(loaded):
                due[case.id] = loaded
            problems += loaded.problems
            missing = sum(1 for d in case.documents.values() if _live_version(loaded.index, d.id) != d.version)
            if missing:
                unindexed[case.id] = missing
            pending = [(d.doc_id, d.version) for d in loaded.index._docs.values()
                       if not d.removed and _WAITING in d.fields]
            waiting.update(_still_waiting(case, pending))
        damaged: list = []
        hits = search_many(indexes, query, types=types, tags=tags, person=person, limit=limit * 2 + 10, marks=marks,
                           damaged=damaged)
        problems += [f"the search index of case {cid} is malformed" for cid in damaged]
        finish = _compactor(v, due)  # the due indexes stay open for it
    finally:
        for cid, index in indexes.items():
            if finish is None or cid not in due:
                index.close()
    by_id = {c.id: c for c in scope}
    found = [f for f in (_check(by_id[h.case], h, types, tags, person) for h in hits) if f is not None]
    if finish is not None and not save_later:
        finish()
        finish = None
    return Results(found[:limit], [c.id for c in scope], unindexed, problems, waiting, finish)


_WAITING = '"waiting": true'  # in a document's fields (JSON, sorted keys): indexed by title, its text deferred


def _still_waiting(case: Case, pending) -> dict[str, int]:
    n = sum(1 for doc_id, version in pending if (d := case.documents.get(doc_id)) is not None and d.version == version)
    return {case.id: n} if n else {}


def _search_combined(v, query, *, types, tags, person, limit, marks, held, save_later) -> Results:
    """Every case of mine searched as one cached index (vault/_searchcache.py), each hit checked against its case."""
    from . import _searchcache

    scope = v.cases()
    answer = _searchcache.search(v, [c.id for c in scope], query, types=types, tags=tags, person=person,
                                 limit=limit * 2 + 10, marks=marks, held=held, save_later=save_later)
    unindexed, waiting = {}, {}
    for case in scope:
        held_versions = answer.indexed.get(case.id, {})
        missing = sum(1 for d in case.documents.values() if held_versions.get(d.id) != d.version)
        if missing:
            unindexed[case.id] = missing
        waiting.update(_still_waiting(case, answer.waiting.get(case.id, [])))
    by_id = {c.id: c for c in scope}
    found = [f for f in (_check(by_id[h.case], h, types, tags, person) for h in answer.hits if h.case in by_id)
             if f is not None]
    return Results(found[:limit], [c.id for c in scope], unindexed, answer.problems, waiting, answer.finish)


def waiting_for_text(case: Case, doc_ids: Iterable[str], max_text: int | None = None) -> list[str]:
    """Which of these documents :func:`index_documents` indexes by title only, their text waiting for :func:`reindex`.

    A plain text over ``max_text`` (MAX_TEXT_BYTES) would take a minute a 512 MiB to index: adding it
    stays as fast as storing it, and a rebuild of the case indexes its whole text, in chunks.
    """
    limit = MAX_TEXT_BYTES if max_text is None else max_text
    return [d for d in dict.fromkeys(doc_ids) if d in case.documents
            and case.documents[d].size > limit and _plain(case.documents[d])]


def _check(case: Case, hit: Hit, types, tags, person) -> Found | None:
    """The hit as a result, if its document is still in the case at that version and matches the filters."""
    from .search import fold

    doc = case.documents.get(hit.doc_id)
    if doc is None or doc.version != hit.version:
        return None
    if types and doc.type not in types:
        return None
    if tags and not {fold(t) for t in tags} <= {fold(t) for t in doc.tags}:
        return None
    if person and fold(person) not in fold(doc.person or ""):
        return None
    return Found(case, doc, hit.page, hit.snippet, hit.score)

