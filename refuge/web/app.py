"""The web desk's application: Starlette routes over the same library calls as the CLI.

Every page that touches the vault runs one library call inside
``Vault.audited`` with the same action name as the matching command (a page
listing a case's documents is ``doc.list``, a download ``doc.get``), holding
the desk's lock; every refusal is the CLI's one-line message (refuge.errors),
shown on the page with an HTTP status for its kind. The rules every request
meets first (Host, Origin, session cookie, CSRF, CSP, no-store) are in
_security.py.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vault.errors import InvalidInput, Locked, NotFound, NotPermitted, RefugeError, VerificationFailed

from ..errors import describe
from . import _i18n
from ._desk import Desk
from ._security import Guard, cookie_name

HERE = Path(__file__).resolve().parent
STATUS = [(Locked, 401), (NotPermitted, 403), (NotFound, 404), (VerificationFailed, 409), (InvalidInput, 400)]


def status_of(error: RefugeError) -> int:
    """The HTTP status for a library error: 403 not permitted, 404 not found, 400 bad input..."""
    return next((code for kind, code in STATUS if isinstance(error, kind)), 400)


class Pages:
    """Rendering pages and running library calls for the routes of one desk."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)

    def url(self, path: str) -> str:
        """The address of a page of this desk (under its secret prefix)."""
        return self.desk.prefix + path

    def lang(self, request: Request) -> str:
        """The page's language: the one chosen in this session, else the browser's."""
        session = request.scope.get("state", {}).get("session")
        if session is not None and session.lang:
            return session.lang
        return _i18n.negotiate(request.headers.get("accept-language", ""))

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        """A page from templates/, in the session's language, with its CSRF token and who acts."""
        lang = self.lang(request)
        session = request.scope.get("state", {}).get("session")
        vault = None if self.desk.locked else self.desk._vault
        html = self.env.get_template(name).render(
            t=_i18n.translator(lang), lang=lang, base=self.desk.prefix, languages=_i18n.LANGUAGES, csrf=session.csrf if session else "",
            me=vault.me.name if vault else "", role=vault.role if vault else "",
            path=request.url.path.removeprefix(self.desk.prefix), **context)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, error: RefugeError) -> Response:
        """A refusal: the CLI's one line, as JSON for scripts, else on a page."""
        message = _i18n.refusal(error, self.lang(request)) or describe(error)
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status_of(error))
        return self.render(request, "error.html", status_of(error), message=message)

    @contextlib.contextmanager
    def acting(self, action: str, intent: bool = False, **targets):
        """The vault, inside the desk's lock and one audit entry named like the CLI's."""
        from vault.people import refresh_directory

        with self.desk.lock:
            vault = self.desk.vault
            with vault.audited(action, intent=intent, **targets) as found:
                refresh_directory(vault)  # what was done elsewhere since (a case created, a grant) shows at once
                self.still_enrolled(vault)
                yield vault, found

    def still_enrolled(self, vault) -> None:
        """Refuse, and lock the desk, once an admin has removed the person it acts as (``user remove``), as
        the caught-up directory says.

        The terminal refuses a removed person from the start (their copy of the directory key is deleted);
        a desk opened before holds that key, so without this it went on serving their cases' documents."""
        from vault.people import not_enrolled

        user = vault.directory.users.get(vault.me.user_id)
        if user is None or user.removed:
            self.desk.lock_now()
            raise not_enrolled(vault)  # the terminal's line for them: their copy of the directory key is gone


def wants_json(request: Request) -> bool:
    """Whether the page's script asked (Accept: application/json)."""
    return "application/json" in request.headers.get("accept", "")


def make_app(desk: Desk) -> Starlette:
    """The desk's ASGI application: routes behind the Guard middleware."""
    from . import _cases, _doclife, _lawyer, _lead, _register, _review

    pages = Pages(desk)

    async def login(request: Request) -> Response:
        session = desk.exchange(request.query_params.get("token", ""))
        if session is None:
            words = _i18n.translator(pages.lang(request))(
                "this sign-in link was already used or is wrong; start refuge serve again for a new one")
            return PlainTextResponse(f"refuge: error: {words}\n", status_code=401)
        # A page that moves on by itself, not a redirect: the first page is then opened by the desk's own
        # page (same-origin), whatever opened the link (a terminal, or the launch file the command wrote).
        response = pages.render(request, "signed_in.html")
        response.set_cookie(cookie_name(desk), session.id, httponly=True, samesite="strict", secure=desk.tls,
                            path=desk.prefix)
        return response

    def choose_language(request: Request, form: dict) -> Response:
        chosen = form.get("lang", "")
        if chosen in _i18n.LANGUAGES:
            request.scope["state"]["session"].lang = chosen
        return RedirectResponse(pages.url(_local(form.get("next", "/"), desk.prefix)), status_code=303)

    def lock(request: Request, form: dict) -> Response:
        words = _i18n.translator(pages.lang(request))("the desk is locked; start it again in the terminal")
        desk.lock_now()
        return PlainTextResponse(f"refuge: {words}\n")

    routes = [
        Route("/login", login),
        Route("/lang", form_route(pages, choose_language), methods=["POST"]),
        Route("/lock", form_route(pages, lock), methods=["POST"]),
        *_lawyer.routes(pages),
        *_lead.routes(pages),
        *_cases.routes(pages),
        *_doclife.routes(pages),
        *_register.routes(pages),
        *_review.routes(pages),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=[Mount(desk.prefix, routes=routes)])
    app.add_middleware(Guard, desk=desk)
    return app


def form_route(pages: Pages, handler):
    """A POST route whose urlencoded form (checked for CSRF by the Guard) goes to ``handler(request, form)``;
    a library error becomes the refusal page."""

    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        multi = await request.form()
        form: dict = {k: v for k, v in multi.multi_items() if isinstance(v, str)}
        form["_multi"] = {k: multi.getlist(k) for k in multi.keys()}
        try:
            return await run_in_threadpool(handler, request, form)
        except RefugeError as e:
            return pages.error(request, e)

    return endpoint


def page_route(pages: Pages, handler):
    """A GET route run in a thread (library calls block); a library error becomes the refusal page."""

    async def endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(handler, request)
        except RefugeError as e:
            return pages.error(request, e)

    return endpoint


def _local(target: str, prefix: str) -> str:
    """A path on this desk only, without its prefix (never an address elsewhere: no open redirect)."""
    target = target.removeprefix(prefix)
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def as_json(value) -> str:
    """JSON for a data attribute."""
    return json.dumps(value, ensure_ascii=False)
