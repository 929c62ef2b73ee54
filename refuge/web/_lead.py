"""A case lead's pages (members, consent, packets) and an auditor's (the audit log, verification).

Each route makes the same library call, inside the same audit entry, as the
command named in its docstring. A packet is built in a thread of the server
(the page follows its progress); it is written to a private folder that is
removed at once, and downloaded from the vault's own record (``packet get``).
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
import threading
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vault.errors import InvalidInput, RefugeError, VerificationFailed

from .._context import find_case, parse_date, parse_time, resolving
from ..errors import describe
from ._cases import build_outcome, signature_of
from ._i18n import refuse
from .app import Pages, form_route, page_route, wants_json

MAX_CHECKPOINT = 1024 * 1024


def routes(pages: Pages) -> list[Route]:
    """The case lead's and the auditor's routes."""
    p = pages
    return [
        Route("/case/{case}/members", page_route(p, lambda r: members(p, r))),
        Route("/case/{case}/members", form_route(p, lambda r, f: change_members(p, r, f)), methods=["POST"]),
        Route("/case/{case}/consent", page_route(p, lambda r: consents(p, r))),
        Route("/case/{case}/consent", form_route(p, lambda r, f: change_consent(p, r, f)), methods=["POST"]),
        Route("/case/{case}/packets", page_route(p, lambda r: packets(p, r))),
        Route("/case/{case}/packets", form_route(p, lambda r, f: build(p, r, f)), methods=["POST"]),
        Route("/job/{job}", page_route(p, lambda r: job(p, r))),
        Route("/packet/{packet}/download", page_route(p, lambda r: packet_download(p, r))),
        Route("/audit", page_route(p, lambda r: audit_log(p, r))),
        Route("/audit/verify", functools.partial(audit_verify, p), methods=["POST"]),
    ]


def _profiles() -> dict:
    from packets.profiles import ProfileError, load_profiles

    try:
        return load_profiles()
    except ProfileError as e:
        raise InvalidInput(str(e)) from None


def _profile(profile_id: str):
    from ..commands.documents import recipient_profile

    return recipient_profile(profile_id)


# --- members ------------------------------------------------------------------------------


def members(p: Pages, request: Request) -> Response:
    """The case's members and who could be granted (``case list``, ``user list``)."""
    with p.acting("case.list") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        now = sorted(vault.directory.name(m) for m in case.members)
        others = [u.name for u in vault.users() if u.user_id not in case.members and u.role in ("lawyer", "case-lead")
                  and not getattr(u, "removed", False)]
    return p.render(request, "members.html", case=case, members=now, others=others)


def change_members(p: Pages, request: Request, form: dict) -> Response:
    """Grant or revoke (``case grant``, ``case revoke``)."""
    names = [n for n in form["_multi"].get("name", []) if n]
    if not names:
        raise refuse(InvalidInput, "choose a person")
    action = "case.revoke" if form.get("action") == "revoke" else "case.grant"
    with p.acting(action) as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        done = vault.revoke(case, names) if action == "case.revoke" else vault.grant(case, names)
        targets["users"] = [u.user_id for u in done]
    return RedirectResponse(p.url(f"/case/{quote(case.id)}/members"), status_code=303)


# --- consent --------------------------------------------------------------------------------


def consents(p: Pages, request: Request) -> Response:
    """Consent given and withdrawn, per recipient and document (``consent list``)."""
    with p.acting("consent.list") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        rows = [dict(r, by=vault.directory.name(r["by"])) for r in case.consents]
    return p.render(request, "consent.html", case=case, consents=rows, profiles=sorted(_profiles()),
                    docs=sorted(case.documents.values(), key=lambda d: d.title))


def change_consent(p: Pages, request: Request, form: dict) -> Response:
    """Record consent or its withdrawal (``consent grant``, ``consent withdraw``)."""
    recipient = form.get("recipient", "")
    _profile(recipient)
    docs = [d for d in form["_multi"].get("doc", []) if d]
    withdraw = form.get("action") == "withdraw"
    expires = None if withdraw else parse_date(form.get("expires") or None, "expires")
    with p.acting("consent.withdraw" if withdraw else "consent.grant") as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        if withdraw:
            vault.record_consent(case, "withdrawn", recipient, docs)
        else:
            vault.record_consent(case, "granted", recipient, docs, expires, form.get("note", ""))
    return RedirectResponse(p.url(f"/case/{quote(case.id)}/consent"), status_code=303)


# --- packets --------------------------------------------------------------------------------


def _today() -> str:
    from ..commands.packets import _today as today

    return today()


def packets(p: Pages, request: Request) -> Response:
    """The plan for a profile with its gaps (``packet plan``) and the packets sent (``packet history``)."""
    from packets.build import plan_packet

    profile_id = request.query_params.get("profile", "")
    plan = None
    action = "packet.plan" if profile_id else "packet.history"
    with p.acting(action) as (vault, targets):
        case = find_case(vault, request.path_params["case"], targets)
        if profile_id:
            plan = plan_packet(vault, case, _profile(profile_id), _today())
        history = [dict(r, built_by=vault.directory.name(r["built_by"]), **signature_of(r)) for r in case.packets]
    return p.render(request, "packets.html", case=case, profiles=sorted(_profiles()), profile=profile_id, plan=plan,
                    history=list(reversed(history)))


def build(p: Pages, request: Request, form: dict) -> Response:
    """Start a build (``packet build``) in a thread; the page follows its progress."""
    profile = _profile(form.get("profile", ""))
    ref = request.path_params["case"]
    job_id = secrets.token_urlsafe(12)
    p.desk.jobs[job_id] = job = {"state": "running", "steps": [], "case": ref, "error": None, "packet": None}
    options = {"only_consented": bool(form.get("only_consented")), "allow_incomplete": bool(form.get("allow_incomplete")),
               "sender": form.get("sender") or os.environ.get("REFUGE_ORG") or "",
               "gaps": {g.strip(): form.get("gap_reason", "").strip() for g in form.get("accept_gaps", "").split(",")
                        if g.strip()}}
    if options["gaps"] and not all(options["gaps"].values()):
        raise refuse(InvalidInput, "accepting a coverage gap needs the reason it is accepted")
    threading.Thread(target=_build, args=(p, ref, profile, options, job), daemon=True).start()
    if wants_json(request):
        return JSONResponse({"job": job_id})
    return RedirectResponse(p.url(f"/job/{job_id}"), status_code=303)


def _build(p: Pages, ref: str, profile, options: dict, job: dict) -> None:
    from packets.build import build_packet

    # mode 700; removed whatever happens, and with the desk's work folder if the desk stops first (serve.py)
    folder = tempfile.mkdtemp(prefix="refuge-packet-", dir=p.desk.workdir)
    try:
        with p.acting("packet.build") as (vault, targets):
            case = find_case(vault, ref, targets)
            job["case"] = case.id
            built = build_packet(vault, case, profile, _today(), os.path.join(folder, "packet.pdf"), options["sender"],
                                 None, options["only_consented"], options["allow_incomplete"],
                                 lambda stage, n=0, total=0: job["steps"].append(str(stage)[:200]),
                                 accepted_gaps=options["gaps"])
            if options["gaps"]:
                targets["accepted_gaps"] = sorted(options["gaps"])  # the names only: the reason may name people
            targets["packet"] = built.record["id"]
        job.update(state="done", packet=built.record["id"], volumes=len(built.paths), **build_outcome(built))
    except RefugeError as e:
        job.update(state="failed", error=describe(e))
    except Exception as e:  # noqa: BLE001  the page must learn that it stopped
        job.update(state="failed", error=f"internal error ({type(e).__name__})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def job(p: Pages, request: Request) -> Response:
    """A build's progress: JSON for the page's script, else a page that refreshes itself."""
    found = p.desk.jobs.get(request.path_params["job"])
    if found is None:
        raise refuse(InvalidInput, "no such build")
    if wants_json(request):
        return JSONResponse({k: found.get(k) for k in ("state", "steps", "error", "packet", "case", "warnings", "level",
                                                       "level_note", "signed_for")})
    return p.render(request, "job.html", job=found, job_id=request.path_params["job"])


def packet_download(p: Pages, request: Request) -> Response:
    """The exact bytes of a recorded packet (``packet get``)."""
    typed = request.path_params["packet"]
    volume = int(request.query_params.get("volume", "1")) if request.query_params.get("volume", "1").isdigit() else 1
    with p.acting("packet.get", intent=True) as (vault, targets):
        with resolving(vault, typed, targets, key="packet"):
            case, record = vault.find_packet(typed)
        targets.update(case=case.id, packet=record["id"])
        data = vault.packet_bytes(case, record, volume)
    return Response(data, media_type="application/octet-stream",
                    headers={"content-disposition": f"attachment; filename=\"{record['id']}-vol{volume}.pdf\""})


# --- the audit log ------------------------------------------------------------------------------

AUDIT_FILTERS = ("case", "user", "action", "result", "since", "until")


def audit_log(p: Pages, request: Request) -> Response:
    """Who did what, when, with what result, filtered (``audit log``)."""
    q = {k: request.query_params.get(k, "").strip() or None for k in AUDIT_FILTERS}
    if q["result"] not in (None, "ok", "denied", "error", "started"):
        raise refuse(InvalidInput, "result is one of ok, denied, error, started")
    with p.acting("audit.log") as (vault, _targets):
        rows = vault.audit_entries(q["case"], q["user"], q["action"], q["result"], parse_time(q["since"], "since"),
                                   parse_time(q["until"], "until", end=True))
    return p.render(request, "audit.html", rows=list(reversed(rows))[:2000], total=len(rows), query=q, report=None)


async def audit_verify(p: Pages, request: Request) -> Response:
    """Verify the whole log, against an uploaded checkpoint if given; optionally save a new one (``audit verify``)."""
    from starlette.concurrency import run_in_threadpool

    if int(request.headers.get("content-length") or 0) > MAX_CHECKPOINT:
        return p.error(request, refuse(InvalidInput, "a checkpoint is a small text file; this one is too large"))
    form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_CHECKPOINT)
    upload = form.get("checkpoint")
    text = None
    if upload is not None and not isinstance(upload, str) and upload.filename:
        raw = await upload.read(MAX_CHECKPOINT + 1)
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return p.error(request, refuse(InvalidInput, "the checkpoint cannot be read as text"))
    save = form.get("save") == "1"
    try:
        return await run_in_threadpool(_verify, p, request, text, save)
    except RefugeError as e:
        return p.error(request, e)


def _verify(p: Pages, request: Request, text: str | None, save: bool) -> Response:
    with p.acting("audit.verify") as (vault, targets):
        report = vault.verify_audit(text)
        targets["verified"] = report.entries
        if not report.ok:
            raise VerificationFailed(f"audit log: {report.problem.message} ({report.entries} entries checked)")
    if save:
        signed = vault.save_checkpoint(report)
        return Response(signed.encode(), media_type="application/octet-stream",
                        headers={"content-disposition": "attachment; filename=\"audit-checkpoint.txt\""})
    return p.render(request, "audit.html", rows=[], total=None, query={}, report=report)
