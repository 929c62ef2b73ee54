"""The rules every request meets before it reaches a page, as one ASGI middleware.

- Over loopback, the client's socket must belong to the account that started the desk (_peer.py: a
  second local user is refused whatever leaked to them, the link or the cookie).
- Host must be the address the desk listens on (DNS rebinding: another site's
  page resolving its own name to 127.0.0.1 still sends its own name).
- Origin, when sent, must be the desk's own; a state change (POST) must send
  it; ``Sec-Fetch-Site`` cross-site or same-site is refused (cross-site requests).
- Every page is under the desk's secret path prefix (404 elsewhere), and
  everything but its /login and /static needs the session cookie, the only
  credential there is (another local user has no cookie, so gets 401).
- Every POST carries the session's CSRF token: in the ``X-CSRF-Token`` header
  (scripts), the ``csrf`` field of a urlencoded form, or, for a multipart
  upload (streamed, never buffered here), the ``csrf`` query parameter.
- Every response gets a strict Content-Security-Policy (no inline script or
  style, nothing from elsewhere), ``Cache-Control: no-store``, and the headers
  that keep it out of frames and referrers.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from . import _i18n, _peer
from ._desk import Desk

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would send a form's Origin as "null"
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SAFE_METHODS = {"GET", "HEAD"}
MAX_FORM = 1024 * 1024  # a urlencoded form (tags, consent, members) is small; a bigger one is refused


def cookie_name(desk: Desk) -> str:
    """The session cookie's name: with TLS, a __Secure- cookie (its Path is the desk's prefix, so not __Host-)."""
    return "__Secure-refuge_session" if desk.tls else "refuge_session"


class Guard:
    """The ASGI middleware in front of every route (see the module's docstring)."""

    def __init__(self, app, desk: Desk) -> None:
        self.app = app
        self.desk = desk

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message) -> None:
            if message["type"] == "http.response.start":
                names = {h[0].lower() for h in SECURITY_HEADERS}
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message = dict(message, headers=headers + SECURITY_HEADERS)
            await send(message)

        refusal = self._refusal(scope)
        if refusal is None and scope["method"] not in _SAFE_METHODS and not _is_open(scope["path"], self.desk.prefix):
            refusal, receive = await self._csrf(scope, receive)
        if refusal is not None:
            status, message = refusal
            await _plain(send_secured, status, _in_language(scope, message))
            return
        await self.app(scope, receive, send_secured)

    def _refusal(self, scope) -> tuple[int, str] | None:
        if _peer.another_account(scope):
            return 401, "this desk serves only the account that started it; run refuge serve as yourself"
        headers = _headers(scope)
        if headers.get("host") not in self.desk.hosts:
            return 421, "this desk answers only to its own address; open the link the terminal printed"
        origin = headers.get("origin")
        if origin is not None and origin not in self.desk.origins:
            return 403, "a request from another site was refused"
        login = scope["path"] == self.desk.prefix + "/login" and scope["method"] == "GET"
        if headers.get("sec-fetch-site") in ("cross-site", "same-site") and not login:  # the link may come from anywhere
            return 403, "a request from another site was refused"
        if scope["method"] not in _SAFE_METHODS and origin is None:
            return 403, "a change without the page's origin was refused; use the desk's own page"
        if not scope["path"].startswith(self.desk.prefix + "/"):
            return 404, "no such page; open the link the terminal printed"
        if _is_open(scope["path"], self.desk.prefix):
            return None
        session = self.desk.session(_cookie(headers.get("cookie", ""), cookie_name(self.desk)))
        if session is None:
            if self.desk.locked:
                return 401, "the desk has locked; start it again in the terminal (refuge serve)"
            return 401, "not signed in; open the link the terminal printed"
        scope.setdefault("state", {})["session"] = session
        return None

    async def _csrf(self, scope, receive):
        """Check the CSRF token of a state change; a urlencoded body is read (bounded) and replayed."""
        headers = _headers(scope)
        expected = scope["state"]["session"].csrf.encode()
        given = headers.get("x-csrf-token")
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if given is None and kind == "multipart/form-data":
            given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("csrf") or [None])[0]
        elif given is None and kind == "application/x-www-form-urlencoded":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if len(body) > MAX_FORM:
                    return (413, "the form is too large"), receive
                if not message.get("more_body"):
                    break
            given = (parse_qs(body.decode("latin-1")).get("csrf") or [None])[0]
            receive = _replay(body)
        if given is None or not hmac.compare_digest(given.encode("latin-1", "replace"), expected):
            return (403, "the page's form token is missing or wrong; reload the page and try again"), receive
        return None, receive


def _in_language(scope, message: str) -> str:
    """A refusal in the session's language, else the browser's (the English text is the catalogue's key)."""
    session = scope.get("state", {}).get("session")
    lang = session.lang if session is not None and session.lang else \
        _i18n.negotiate(_headers(scope).get("accept-language", ""))
    return _i18n.translator(lang)(message)


def _is_open(path: str, prefix: str) -> bool:
    return path == prefix + "/login" or path.startswith(prefix + "/static/")


def _headers(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _plain(send, status: int, message: str) -> None:
    body = f"refuge: error: {message}\n".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
