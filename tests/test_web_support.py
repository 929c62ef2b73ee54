"""Shared set-up of the web desk's tests (no tests here): a vault with people and a case, desks, clients.

The world: alice (admin), erin (case lead of MX-0001), bob (lawyer, member), carol (lawyer, not a member),
dave (auditor); MX-0001 holds the demo declaration and passport photo. Built once per module by the
library calls the CLI makes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import PASSPHRASE

PORT = 8123  # the port the TestClient's requests name; nothing listens on it


class WebWorld:
    """A vault, its REFUGE_HOME, the demo documents, and the ids of the case and its documents."""

    def __init__(self, root: Path) -> None:
        from refuge.demo import make_documents
        from vault.core import Vault
        from vault.identity import Home, SecretIdentity

        os.environ["REFUGE_TEST_WORK_FACTOR"] = "10"
        self.root = root
        self.home_path = root / "home"
        self.location = str(root / "vault")
        home = Home(self.home_path)
        people = {n: SecretIdentity.generate(n) for n in ("alice", "erin", "bob", "carol", "dave")}
        for secret in people.values():
            home.create(secret, PASSPHRASE)
        admin = Vault.init(self.location, home, people["alice"])
        for name, role in (("erin", "case-lead"), ("bob", "lawyer"), ("carol", "lawyer"), ("dave", "auditor")):
            admin.add_user(people[name].public, role)
        self.docs = make_documents(root / "incoming")
        erin = self.open("erin")
        case = erin.create_case("MX-0001", "Resettlement referral")
        erin.grant(case, ["bob"])
        self.case = case.id
        bob = self.open("bob")
        case = bob.find_case("MX-0001")
        added = bob.add_documents(case, [str(self.docs["declaration"])], "legal-declaration", ["intake"],
                                  "Ana", "es")
        added += bob.add_documents(case, [str(self.docs["passport"])], "identity", ["id"], "Ana", "es")
        assert all(r.document for r in added), [r.error for r in added]
        self.decl, self.photo = (r.document.id for r in added)
        erin = self.open("erin")  # the case lead looked at the photo (shipped profiles hold unread pages)
        with erin.audited("redact.reviewed", doc=self.photo):
            erin.mark_reviewed(self.photo, [1])

    def env(self, user: str | None = None) -> dict:
        env = dict(os.environ, REFUGE_HOME=str(self.home_path), REFUGE_VAULT=self.location,
                   REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_TEST_WORK_FACTOR="10")
        if user:
            env["REFUGE_USER"] = user
        return env

    def cli(self, *args: str, user: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-P", "-m", "refuge", *args], env=self.env(user), capture_output=True,
                              cwd=cwd or self.root, timeout=120)

    def open(self, name: str):
        from vault.core import Vault
        from vault.identity import Home

        home = Home(self.home_path)
        return Vault.open(self.location, home, lambda: home.unlock(name, PASSPHRASE))

    def desk(self, name: str, idle_seconds: float = 600, port: int = PORT):
        from refuge.web._desk import Desk

        desk = Desk(self.open(name), idle_seconds)
        desk.bind("127.0.0.1", port)
        return desk


def client_for(desk, port: int = PORT, sign_in: bool = True):
    """A TestClient that speaks to ``desk`` as the browser would (Host and Origin of the desk), signed in."""
    from starlette.testclient import TestClient

    from refuge.web.app import make_app

    client = TestClient(make_app(desk), base_url=f"http://127.0.0.1:{port}{desk.prefix}", follow_redirects=False)
    client.headers["origin"] = f"http://127.0.0.1:{port}"
    client.desk_prefix = desk.prefix
    if sign_in:
        r = client.get("/login", params={"token": desk.new_token()})
        assert r.status_code == 200, r.text
        page = client.get("/search")
        client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    return client


def start_serve(world: WebWorld, user: str = "bob", *args: str, env: dict | None = None, stderr=subprocess.DEVNULL):
    """The real `refuge serve --no-browser ARGS` as ``user``; returns (process, the login URL it printed)."""
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser", *args],
                            env=env or world.env(user), stdout=subprocess.PIPE, stderr=stderr, cwd=world.root)
    url = re.search(r"(https?://127\.0\.0\.1:\d+/\S+/login\?token=\S+)", proc.stdout.readline().decode()).group(1)
    return proc, url


def sign_in(client, url: str) -> str:
    """Follow the login URL with ``client`` (an httpx.Client sending the desk's Origin) once the server
    answers; returns the page's CSRF token. The desk's base URL is ``url.split("/login")[0]``."""
    import time

    import httpx

    for _ in range(200):
        try:
            if client.get(url).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    page = client.get(url.split("/login")[0] + "/search").text
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def origin_of(url: str) -> str:
    """scheme://host:port of a URL: what the desk's Origin check expects."""
    return "/".join(url.split("/", 3)[:3])
