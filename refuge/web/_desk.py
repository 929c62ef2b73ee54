"""The desk's state: the one identity it acts as, the one-time login token, sessions, idle lock.

The server holds the identity of the person who started it (from the unlock
agent or the passphrase typed on the terminal); the page never asks for it.
The only credential the page has is a session cookie, got once by exchanging
the one-time token printed on the terminal. Every request that reaches the
vault holds :attr:`Desk.lock`: the vault object is not shared between threads.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from vault.core import Vault
from vault.errors import Locked


@dataclass
class Session:
    """One browser's session: its cookie value, its CSRF token, its language, when it was last used."""

    id: str
    csrf: str
    lang: str | None = None
    last_seen: float = field(default_factory=time.monotonic)


class Desk:
    """What the server acts as, and who may use it.

    ``idle_seconds`` without a request and the desk locks: sessions end and
    the vault (with the identity it holds) is dropped; ``on_lock`` is called
    once (the command stops the server). ``hosts`` are the Host header values
    accepted (DNS rebinding: a page of another site resolving its own name to
    127.0.0.1 sends its own name), ``origin`` the one Origin accepted.
    """

    def __init__(self, vault: Vault, idle_seconds: float, *, tls: bool = False,
                 on_lock: Callable[[], None] | None = None) -> None:
        self._vault: Vault | None = vault
        self.idle_seconds = idle_seconds
        self.tls = tls
        self.on_lock = on_lock
        self.lock = threading.RLock()  # around every use of the vault (a packet build holds it for minutes)
        self._sessions_lock = threading.Lock()  # around sessions only: a page waiting for the vault never blocks them
        self.hosts: set[str] = set()
        self.origins: set[str] = set()
        self._token: str | None = None
        self._sessions: dict[str, Session] = {}
        self._last = time.monotonic()
        self.locked = False
        self.jobs: dict[str, dict] = {}  # packet builds in progress, by job id
        self.exchanged = threading.Event()  # set when the one-time token has been used
        self.workdir: str | None = None  # the folder builds write in, removed when the server stops (serve.py)
        # Every page lives under this secret path, and so does the cookie (Path=prefix): a browser sends a
        # cookie to every port of 127.0.0.1, but never to a path another local user's server cannot know.
        self.prefix = "/" + secrets.token_urlsafe(18)

    def bind(self, host: str, port: int) -> None:
        """Accept requests addressed to ``host:port`` (and localhost, for loopback)."""
        scheme = "https" if self.tls else "http"
        names = {f"[{host}]" if ":" in host else host}
        if host in ("127.0.0.1", "localhost"):
            names |= {"localhost", "127.0.0.1"}
        for name in names:
            self.hosts.add(f"{name}:{port}")
            self.origins.add(f"{scheme}://{name}:{port}")

    # --- the one-time token and sessions ------------------------------------------------

    def new_token(self) -> str:
        """A fresh one-time login token (the previous one dies)."""
        self._token = secrets.token_urlsafe(32)
        return self._token

    def exchange(self, token: str) -> Session | None:
        """A new session for the one-time token, which then dies; None if it is not the token."""
        with self._sessions_lock:
            if self.locked or not self._token or not hmac.compare_digest(token.encode(), self._token.encode()):
                return None
            self._token = None
            self.exchanged.set()
            session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
            self._sessions[session.id] = session
            self._last = time.monotonic()
            return session

    def session(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, touched; None when there is none or the desk has locked."""
        if not cookie:
            return None
        self.check_idle()
        with self._sessions_lock:
            found = next((s for k, s in self._sessions.items() if hmac.compare_digest(k.encode(), cookie.encode())),
                         None)
            if found is not None:
                found.last_seen = self._last = time.monotonic()
            return found

    def end(self, session: Session) -> None:
        """End one session (sign out)."""
        with self._sessions_lock:
            self._sessions.pop(session.id, None)

    # --- the vault and the idle lock ---------------------------------------------------------

    @property
    def vault(self) -> Vault:
        """The vault, opened as the person who started the desk; Locked once the desk has locked."""
        self.check_idle()
        if self._vault is None:
            raise Locked("the desk has locked; start it again in the terminal")
        return self._vault

    def check_idle(self) -> None:
        """Lock the desk if it has gone unused for the idle timeout."""
        if not self.locked and time.monotonic() - self._last > self.idle_seconds:
            self.lock_now()

    def lock_now(self) -> None:
        """End every session and drop the vault and the identity it holds."""
        with self._sessions_lock:
            if self.locked:
                return
            self.locked = True
            self._sessions.clear()
            self._token = None
            self._vault = None
            held = getattr(self, "search_held", None)  # the combined search index (refuge/web/_lawyer.py)
            if held is not None:
                held.drop()
        if self.on_lock is not None:
            self.on_lock()
