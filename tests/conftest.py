"""Shared fixtures: real vaults, real files made by code, the real CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_identities(monkeypatch):
    # The documented test-only setting: identities made in tests use scrypt 2**10.
    monkeypatch.setenv("REFUGE_TEST_WORK_FACTOR", "10")
    for var in ("REFUGE_USER", "REFUGE_VAULT", "REFUGE_PASSPHRASE_FILE", "REFUGE_NEW_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed; run make test, which installs the Debian packages the tests use")
    return path


@dataclass
class World:
    """A vault with alice (admin), erin (case lead), bob and carol (lawyers), dave (auditor)."""

    root: Path
    home: Path
    vault: Path
    docs: dict

    def env(self, user: str | None = None, **extra) -> dict:
        env = dict(os.environ, REFUGE_HOME=str(self.home), REFUGE_VAULT=str(self.vault),
                   REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_TEST_WORK_FACTOR="10")
        env.pop("REFUGE_USER", None)
        if user:
            env["REFUGE_USER"] = user
        env.update(extra)
        return env

    def run(self, *args: str, user: str | None = None, input: bytes | None = None, **extra) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vault", *args], env=self.env(user, **extra),
                              input=input, capture_output=True, cwd=self.root, timeout=120)

    def ok(self, *args: str, user: str | None = None) -> str:
        p = self.run(*args, user=user)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout.decode()

    def open(self, name: str):
        from vault.core import Vault
        from vault.identity import Home

        home = Home(self.home)
        return Vault.open(str(self.vault), home, lambda: home.unlock(name, PASSPHRASE))

    def vault_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.vault.rglob("*") if p.is_file())

    def object_names(self) -> list[str]:
        return sorted(str(p.relative_to(self.vault)) for p in self.vault.rglob("*") if p.is_file())


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    from vault.core import Vault
    from vault.demo import make_documents
    from vault.identity import Home, SecretIdentity

    home = Home(tmp_path / "home")
    people = {}
    for name in ("alice", "erin", "bob", "carol", "dave"):
        people[name] = SecretIdentity.generate(name)
        home.create(people[name], PASSPHRASE)
    vault = Vault.init(str(tmp_path / "vault"), home, people["alice"])
    for name, role in (("erin", "case-lead"), ("bob", "lawyer"), ("carol", "lawyer"), ("dave", "auditor")):
        vault.add_user(people[name].public, role)
    docs = make_documents(tmp_path / "incoming")
    monkeypatch.chdir(tmp_path)
    return World(tmp_path, tmp_path / "home", tmp_path / "vault", docs)


@pytest.fixture
def case_world(world) -> World:
    """The world plus case MX-0001 (erin leads, bob member) holding the declaration."""
    world.ok("case", "create", "MX-0001", "--title", "Resettlement referral", user="erin")
    world.ok("case", "grant", "MX-0001", "bob", user="erin")
    world.decl = world.ok("doc", "add", "MX-0001", str(world.docs["declaration"]), "--type", "legal-declaration",
                          user="bob").strip()
    return world
