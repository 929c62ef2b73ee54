"""A lawyer's pages: their cases, a case's documents, uploads, tags, previews, downloads, search.

Each route makes the same library call, inside the same audit entry, as the
command named in its docstring.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import threading
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from vault import searching
from vault.core import DOC_TYPES
from vault.documents import AddResult
from vault.errors import InvalidInput, RefugeError

from .. import formats, indexing
from .._context import doc_in_case, find_case, find_document
from ..errors import describe
from . import _i18n, _preview, _upload
from ._i18n import refuse
from .app import Pages, form_route, page_route, wants_json

SORTS = ("title", "type", "added_at", "lang", "person", "size")
FILTERS = ("type", "tag", "person", "lang")
MAX_PREVIEW = 48 * 1024**2  # drawing decrypts in memory: a larger document is downloaded, not drawn


def routes(pages: Pages) -> list[Route]:
    """The lawyer's routes."""
    p = pages
    return [
        Route("/", page_route(p, lambda r: home(p, r))),
        Route("/case/{case}", page_route(p, lambda r: case_page(p, r))),
        Route("/case/{case}/upload", functools.partial(upload, p), methods=["POST"]),
        Route("/doc/{doc}", page_route(p, lambda r: document_page(p, r))),
        Route("/doc/{doc}/tags", form_route(p, lambda r, f: tags(p, r, f)), methods=["POST"]),
        Route("/doc/{doc}/page/{n:int}", page_route(p, lambda r: page_image(p, r))),
        Route("/doc/{doc}/download", functools.partial(download, p)),
        Route("/search", page_route(p, lambda r: search(p, r))),
    ]


def home(p: Pages, request: Request) -> Response:
    """The cases I am a member of (``case list``); an auditor goes to the audit log."""
    if p.desk.vault.role == "auditor":
        return RedirectResponse(p.url("/audit"), status_code=303)
    with p.acting("case.list") as (vault, _targets):
        cases = [{"id": k.id, "ref": k.ref, "title": k.title, "documents": len(k.documents),
                  "members": sorted(vault.directory.name(m) for m in k.members),
                  "state": vault.case_status(k.id).state} for k in vault.cases()]
    return p.render(request, "cases.html", cases=sorted(cases, key=lambda c: c["ref"]))


def _documents(vault, case, query) -> list[dict]:
    """The case's documents, filtered and sorted as the query asks (``doc list``)."""
    docs = [d for d in case.documents.values()
            if (not query.get("type") or d.type == query["type"]) and (not query.get("tag") or query["tag"] in d.tags)
            and (not query.get("person") or (d.person or "") == query["person"])
            and (not query.get("lang") or (d.lang or "") == query["lang"])]
    key = query.get("sort") if query.get("sort") in SORTS else "title"
    docs.sort(key=lambda d: (str(getattr(d, key) or "") if key != "size" else d.size, d.id),
              reverse=query.get("order") == "desc")
    return [dict(d.as_dict(), added_by=vault.directory.name(d.added_by)) for d in docs]


def case_page(p: Pages, request: Request, outcome: dict | None = None, status: int = 200) -> Response:
    """A case's documents with filters and sorting, and the upload form (``doc list``)."""
    with p.acting("doc.list") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        docs = _documents(vault, case, request.query_params)
    everything = list(case.documents.values())
    choices = {"type": DOC_TYPES, "tag": sorted({t for d in everything for t in d.tags}),
               "person": sorted({d.person for d in everything if d.person}),
               "lang": sorted({d.lang for d in everything if d.lang})}
    return p.render(request, "case.html", status, case=case, docs=docs, choices=choices, query=request.query_params,
                    sorts=SORTS, doc_types=DOC_TYPES, outcome=outcome or {},
                    originals=sorted(everything, key=lambda d: d.title))


async def upload(p: Pages, request: Request) -> Response:
    """Files encrypted into the case as they arrive, then added as ``doc add`` adds them; a result per file."""
    to, refused = await run_in_threadpool(_destination, p, request.path_params["case"])
    try:
        received = await _upload.receive(request, to, refused)
    except Exception as e:  # noqa: BLE001  nothing was added: recorded as a failed doc add, as the CLI's would be
        if isinstance(e, OSError):  # the server's disk or the vault's storage, not the body
            e = _not_stored(e)
        elif not isinstance(e, RefugeError):  # a malformed or cut multipart body
            e = refuse(InvalidInput, "the upload was cut short or malformed; try again")
        return p.error(request, await run_in_threadpool(_failed, p, request.path_params["case"], e))
    try:
        outcome = await run_in_threadpool(_add, p, request.path_params["case"], received, to)
    except RefugeError as e:
        return p.error(request, e)
    except OSError as e:
        return p.error(request, _not_stored(e))
    finally:
        received.close()
    status = 400 if outcome["error"] else 200
    outcome["notes"] = [_i18n.translator(p.lang(request))(n) for n in outcome["notes"]]
    if wants_json(request):
        return JSONResponse(outcome, status_code=status)
    return await run_in_threadpool(case_page, p, request, outcome, status)


def _failed(p: Pages, ref: str, error: RefugeError) -> RefugeError:
    """``error`` recorded in the audit log as a failed ``doc.add`` of the case (nothing was stored)."""
    try:
        with p.acting("doc.add") as (vault, targets):
            find_case(vault, ref, targets)
            raise error
    except RefugeError as e:
        return e


def _not_stored(e: OSError) -> RefugeError:
    """A refusal naming the system's reason (never a path: OSError's own text may hold a file's name)."""
    return refuse(InvalidInput, "the vault could not store the upload ({problem}); check the disk, then try again",
                  problem=e.strerror or type(e).__name__)


def _destination(p: Pages, ref: str) -> tuple[_upload.Destination | None, RefugeError | None]:
    """Where the upload's files are encrypted to as they arrive: the case's current key version. If that
    is refused (no such case of mine, not a member, a closed case...), the body is dropped and the add
    below is refused by the same library call, in the same audit entry, as before anything was sent."""
    from vault import casekeys
    from vault.cases import require_open
    from vault.people import require_role

    try:
        with p.desk.lock:
            vault = p.desk.vault
            case = find_case(vault, ref, {})
            require_role(vault, "lawyer", "case-lead", doing="adding documents")
            require_open(vault, case.id)
            return _upload.Destination(vault.backend, case.id, casekeys.current_recipient(vault, case.id)), None
    except RefugeError as e:
        return None, e


def _add(p: Pages, ref: str, received: _upload.Received, to: _upload.Destination | None) -> dict:
    """The files added as ``doc add`` adds them (the same calls, duplicates refused first, the same line per
    refused file), each named by the name it was uploaded with: on this page only, never in a log.
    Each file's blob is already stored (``vault.receiving``); those that do not become documents are deleted."""
    added: set[str] = set()
    try:
        return _add_received(p, ref, received, added)
    finally:
        if to is not None:
            received.discard(to.backend, to.case_id, keep=added)


def _add_received(p: Pages, ref: str, received: _upload.Received, added: set[str]) -> dict:
    from vault.doclife import check_date
    from vault.register import resolve_person

    from .. import _bulk
    from ..commands.documents import _add_each, refusal_line

    fields = received.fields
    if not received.files:
        raise refuse(InvalidInput, "no file was sent; choose or drop files")
    incoming = [_bulk.Incoming(path, label=os.path.basename(path)) for path, _ in received.files]
    stored = dict(received.files)
    tag_list = [t.strip() for t in fields.get("tags", "").split(",") if t.strip()]
    options = dict(tags=tag_list, person=fields.get("person") or None, lang=fields.get("lang") or None,
                   title=fields.get("title") or None, translator=None, dialect=None,
                   date=check_date(fields["date"]) if fields.get("date") else None)
    outcome, attached, problems, notes, refused = None, [], [], [], None
    try:
        with p.acting("doc.add") as (vault, targets):
            case = find_case(vault, ref, targets)
            if options["person"]:
                entry = resolve_person(case, options["person"])
                options["person"] = entry["id"] if entry else options["person"]
                notes += [] if entry else ["Nobody of this name is in the case's register, so nothing redacts it; "
                                           "add them under People and places."]
            options["per_file"] = {f.path: _of_one_file(vault, case, fields, i, targets) for i, f in enumerate(incoming)}
            replaced = [o["supersedes"] for o in options["per_file"].values() if o.get("supersedes")]
            if len(replaced) != len(set(replaced)):  # as doc add --supersedes: one file per new version
                raise refuse(InvalidInput, "a new version of a document takes exactly one file")
            dups = vault.watch_duplicates(case)  # each file hashed as it is stored, as doc add does
            options["stored"] = stored
            outcome = _add_each(vault, case, incoming, fields.get("type") or None, None, dups,
                                fields.get("allow_duplicate") == "1", options, progress=False)
            added.update(f.path for f, _ in outcome.added)
            targets["docs"] = [d.id for _, d in outcome.added]
            if outcome.failed and not outcome.added:  # as doc add: the entry records the batch's failure
                raise outcome.failed[0][1] if len(incoming) == 1 else \
                    InvalidInput(f"none of the {len(incoming)} files was added")
            results = [AddResult(stored[f.path].path, d) for f, d in outcome.added]  # a message's spool, read here
            attached, problems = formats.after_add(vault, case, results, tag_list, options["person"], options["lang"])
            targets["docs"] += [d.id for d in attached]
    except RefugeError as e:
        if outcome is None or len(incoming) == 1:
            raise
        refused = " ".join(describe(e).split())
    else:
        indexing.update(vault, case, [d.id for _, d in outcome.added] + [d.id for d in attached], case.ref)
    done = {f.path: d for f, d in outcome.added}
    failed = {f.path: e for f, e in outcome.failed}
    rows = [{"name": f.label, "id": done[f.path].id if f.path in done else None,
             "error": " ".join(refusal_line(f, failed[f.path], len(incoming)).split()) if f.path in failed else None}
            for f in incoming]
    rows += [{"name": "", "id": d.id, "error": None} for d in attached]
    rows += [{"name": "", "id": None, "error": line} for line in problems]
    return {"results": rows, "error": refused, "notes": notes, "named": len(incoming) > 1}


def _of_one_file(vault, case, fields: dict, i: int, targets: dict) -> dict:
    """The Nth file's translation-of, translator, dialect and supersedes (``doc add --translation-of ...``):
    its own field NAME.N if sent, else the upload's NAME. Every document named is resolved before anything
    is added, as doc add resolves its options; a new version keeps the type of the one it replaces."""
    got = {k: fields[f"{k}.{i}"] if f"{k}.{i}" in fields else fields.get(k, "") for k in _upload.PER_FILE}
    own: dict = {"translator": got["translator"] or None, "dialect": got["dialect"] or None}
    if got["translation_of"]:
        own["translation_of"] = doc_in_case(vault, case, got["translation_of"], targets)
    if got["supersedes"]:
        own["supersedes"] = doc_in_case(vault, case, got["supersedes"], targets)
        own["type"] = case.documents[own["supersedes"]].type
    return own


def tags(p: Pages, request: Request, form: dict) -> Response:
    """Add and remove tags (``doc tag``)."""
    doc_id = request.path_params["doc"]
    add = [t.strip() for t in form.get("add", "").split(",") if t.strip()]
    remove = [t for t in form["_multi"].get("remove", []) if t]
    with p.acting("doc.tag") as (vault, targets):
        case, _doc = find_document(vault, doc_id, targets)
        found = vault.tag(doc_id, add, remove)
    indexing.update(vault, case, [found.id], fields_only=True)
    if wants_json(request):
        return JSONResponse({"id": found.id, "tags": found.tags})
    return RedirectResponse(p.url(f"/doc/{quote(found.id)}"), status_code=303)


def document_page(p: Pages, request: Request) -> Response:
    """One document: what the vault records of it, its pages drawn, a download (like ``doc list`` of one)."""
    from packets import page_count

    with p.acting("doc.show") as (vault, targets):
        case, doc = find_document(vault, request.path_params["doc"], targets)
        pages, problem = None, None
        if doc.size <= MAX_PREVIEW:
            try:
                pages = page_count(vault.document_bytes(doc), doc.mime, doc_id=doc.id)
            except RefugeError as e:  # the document stays downloadable; the page says why it cannot be drawn
                problem = describe(e)
        # where a case lead may move it (the library says who may: a lawyer's page shows no move form)
        elsewhere = sorted((k.ref, k.id) for k in vault.cases() if k.id != case.id) if vault.role == "case-lead" else []
    asked = request.query_params.get("page", "1")
    page = max(1, min(int(asked) if asked.isdigit() and len(asked) < 7 else 1, pages or 1))
    return p.render(request, "document.html", case=case, doc=doc, pages=pages, page=page, problem=problem,
                    added_by=vault.directory.name(doc.added_by), doc_types=DOC_TYPES, elsewhere=elsewhere,
                    translation=case.documents.get(doc.translation_of) if doc.translation_of else None)


def page_image(p: Pages, request: Request) -> Response:
    """One page as a PNG drawn in the keyless worker, in memory only (audited as a read)."""
    with p.acting("doc.preview", intent=True) as (vault, targets):
        _case, doc = find_document(vault, request.path_params["doc"], targets)
        if doc.size > MAX_PREVIEW:
            raise refuse(InvalidInput, "document {doc} is too large to draw; download it", doc=doc.id)
        targets["page"] = request.path_params["n"]
        png, _count = _preview.page_png(vault.document_bytes(doc), doc.mime, request.path_params["n"], doc.id)
    return Response(png, media_type="image/png")


async def download(p: Pages, request: Request) -> Response:
    """The original, byte-exact, as a download (``doc get``: audited before any byte leaves)."""
    chunks: queue.Queue = queue.Queue(maxsize=16)
    started = threading.Event()
    failure: list[RefugeError] = []
    meta: dict = {}
    gone = threading.Event()

    class Sink:
        def write(self, data) -> int:
            if not started.is_set():
                started.set()
            while not gone.is_set():
                try:
                    chunks.put(bytes(data), timeout=1)
                    return len(data)
                except queue.Full:
                    continue
            raise refuse(InvalidInput, "the download was cancelled")

    def read() -> None:
        try:
            with p.acting("doc.get", intent=True) as (vault, targets):
                _case, doc = find_document(vault, request.path_params["doc"], targets)
                meta.update(filename=doc.filename, size=doc.size)
                vault.read_document(doc, Sink())
        except RefugeError as e:
            failure.append(e)
        finally:
            started.set()
            while not gone.is_set():  # the end mark, unless the reader has gone (then nobody waits for it)
                try:
                    chunks.put(None, timeout=1)
                    break
                except queue.Full:
                    continue

    threading.Thread(target=read, daemon=True).start()
    await asyncio.get_running_loop().run_in_executor(None, started.wait)
    if failure:
        return p.error(request, failure[0])

    async def body():
        held = None  # the last chunk waits for the SHA-256 check: a damaged document never arrives whole
        try:
            while (chunk := await asyncio.get_running_loop().run_in_executor(None, chunks.get)) is not None:
                if held is not None:
                    yield held
                held = chunk
            if failure:
                raise RuntimeError("the document failed its check while it was sent")
            if held is not None:
                yield held
        finally:
            gone.set()

    name = meta.get("filename") or "document"
    headers = {"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}",
               "content-length": str(meta.get("size", 0))}
    return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)


def search(p: Pages, request: Request) -> Response:
    """Words in the documents of my cases (``search``); the query is never recorded."""
    query = request.query_params.get("q", "").strip()
    found, marks = [], ("\x02", "\x03")
    if query:
        with p.acting("search") as (vault, targets):
            ref = request.query_params.get("case")
            case_ids = [find_case(vault, ref, targets).id] if ref else None
            held = getattr(p.desk, "search_held", None)
            if held is None:  # my cases as one index, kept in memory while the desk is unlocked (lock drops it)
                held = p.desk.search_held = searching.Held()
            results = searching.search(vault, query, case_ids, limit=50, marks=marks, held=held)
            targets["cases"] = results.cases
            targets["hits"] = len(results.found)
        found = [{"case": f.case, "doc": f.doc, "page": f.page, "parts": _parts(f.snippet, marks)}
                 for f in results.found]
    return p.render(request, "search.html", query=query, found=found, searched=bool(query))


def _parts(snippet: str, marks: tuple[str, str]) -> list[tuple[bool, str]]:
    """The snippet as (matched, text) pieces, for the template to mark."""
    out, matched, text = [], False, ""
    for ch in " ".join(snippet.split()):
        if ch in marks:
            if text:
                out.append((matched, text))
            matched, text = ch == marks[0], ""
        elif ch.isprintable():
            text += ch
    if text:
        out.append((matched, text))
    return out
