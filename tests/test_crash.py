"""Crash safety: refuge killed with SIGKILL at random points of doc add, tag, consent, packet
build and audit append, again and again on one vault.

After every kill: fsck reports nothing but leftovers of uncommitted writes (which --repair
removes once they are a minute old), everything a command reported done is still there and
reads back byte-exact, and nothing half-written shows: every listed document decrypts to
its recorded SHA-256, and a packet file is either absent or whole and signed.

In the default run each operation is killed at least once (a kill that lands after the command
finished does not count: that operation is tried again), 200 kills in `make stress` (REFUGE_KILLS
sets another number).
Also here: several refuge processes at once on one local vault lose nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest

from conftest import ACCEPT_GAPS

local = pytest.mark.parametrize("world", ["local"], indirect=True)

OPS = ("add", "tag", "consent", "build", "audit")


class Harness:
    def __init__(self, w, tmp: Path, seed: int):
        self.w, self.tmp = w, tmp
        self.rng = random.Random(seed)
        self.docs: dict[str, str] = {w.decl: hashlib.sha256(w.docs["declaration"].read_bytes()).hexdigest()}
        self.tags: dict[str, set[str]] = {}
        self.consents: set[str] = set()
        self.packets: list[Path] = []
        self.killed: dict[str, int] = {}  # operation -> kills that landed inside it
        self.durations: dict[str, float] = {}
        self.kills = self.finished = self.repaired = 0
        self.big = tmp / "scan.txt"  # a few MiB, so kills land inside the encryption too
        self.big.write_bytes(b"".join(b"line %08d of a long transcript\n" % i for i in range(150_000)))

    def command(self, op: str, i: int) -> tuple[list[str], Path | None]:
        if op == "add":
            src = self.tmp / f"note-{i}.txt"
            src.write_bytes(self.big.read_bytes()[: self.rng.randrange(1, 4_000_000)] + f"\nnote {i}\n".encode())
            return ["doc", "add", "MX-0001", str(src), "--type", "correspondence", "--json"], None
        if op == "tag":
            return ["doc", "tag", self.rng.choice(sorted(self.docs)), "--add", f"t{i}"], None
        if op == "consent":
            return ["consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--note", f"c{i}"], None
        if op == "build":
            out = self.tmp / "out" / f"packet-{i}.pdf"
            return ["packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "unhcr-resettlement", "-o", str(out),
                    "--only-consented", "--allow-incomplete"], out
        return ["case", "list"], None  # reads, and appends one audit entry

    def run_once(self, op: str, i: int, kill: bool) -> None:
        args, out = self.command(op, i)
        cmd = [sys.executable, "-P", "-m", "refuge", *args]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=self.w.env("erin"), cwd=self.w.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kill:
            time.sleep(self.rng.uniform(0.05, self.durations.get(op, 1.0)))
            p.send_signal(signal.SIGKILL)
        stdout, stderr = p.communicate(timeout=300)
        if p.returncode == -signal.SIGKILL:
            self.kills += 1
            self.killed[op] = self.killed.get(op, 0) + 1
            return
        assert p.returncode == 0, (op, stderr.decode())
        self.durations[op] = max(self.durations.get(op, 0), time.monotonic() - t0)
        self.finished += 1
        if op == "add":  # reported done: it must stay
            for d in json.loads(stdout):
                self.docs[d["id"]] = d["sha256"]
        elif op == "tag":
            self.tags.setdefault(args[2], set()).add(args[4])
        elif op == "consent":
            self.consents.add(args[-1])
        elif op == "build":
            self.packets.append(out)

    def check(self, deep: bool = False) -> None:
        w = self.w
        p = w.run("fsck", "--json", *(["--deep"] if deep else []), user="erin")
        problems = json.loads(p.stdout)["problems"] if p.stdout.strip() else []
        assert p.returncode in (0, 3) and all(x["kind"] == "leftover" for x in problems), p.stdout.decode()
        if problems:
            self.repaired += len(problems)
            self.age_leftovers(problems)
            p = w.run("fsck", "--repair", "--json", user="erin")
            assert p.returncode == 0, p.stdout.decode()
            p = w.run("fsck", "--json", user="erin")
            assert p.returncode == 0, p.stdout.decode()
        listed = {d["id"]: d for d in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="erin"))}
        assert set(self.docs) <= set(listed)  # nothing reported committed was lost
        for doc_id, tags in self.tags.items():
            assert tags <= set(listed[doc_id]["tags"]), doc_id
        notes = {c.get("note") for c in json.loads(w.ok("consent", "list", "MX-0001", "--json", user="erin"))}
        assert self.consents <= notes
        for doc_id, d in listed.items():  # nothing half-written is visible: every listed document is whole
            if deep or doc_id not in self.docs:
                got = w.run("doc", "get", doc_id, user="erin")
                assert got.returncode == 0 and hashlib.sha256(got.stdout).hexdigest() == d["sha256"], doc_id
        for f in (self.tmp / "out").iterdir():
            assert not f.name.startswith(".refuge-"), f  # no partial output, not even hidden
            with pikepdf.open(f) as pdf:  # a packet (and its review report) is there whole, or not at all
                assert len(pdf.pages) > 0
                assert f.name.endswith(".review.pdf") or "/AcroForm" in pdf.Root  # the packet is signed
        assert set(self.packets) <= set((self.tmp / "out").iterdir())
        p = w.run("audit", "verify", "--json", user="dave")
        assert p.returncode == 0, p.stdout.decode()

    def age_leftovers(self, problems: list[dict]) -> None:
        """Make the leftovers seven hours old (repair never touches younger blobs: they may be an upload's)."""
        old = time.time() - 7 * 3600
        for x in problems:
            path = Path(self.w.vault, *x["object"].rstrip("/").split("/"))
            targets = [path, *path.rglob("*")] if path.is_dir() else [path]
            for t in targets:
                os.utime(t, (old, old), follow_symlinks=False)


def _kills() -> int:
    """Kills in make test: one per operation, each inside it (REFUGE_KILLS sets more; make stress kills 200 times)."""
    return int(os.environ.get("REFUGE_KILLS", "0")) or len(OPS)


def _harness(w, tmp_path, kills: int, seed: int) -> Harness:
    w.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    w.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin")
    (tmp_path / "out").mkdir()
    h = Harness(w, tmp_path, seed)
    for op in OPS:  # each once uncut: how long it takes sets where kills land
        h.run_once(op, 0, kill=False)
    i = 0
    while h.kills < kills and i < 10 * kills:
        i += 1
        op = OPS[i % len(OPS)]
        h.run_once(op, i, kill=True)
        h.check(deep=(i % 25 == 0))
    for op in OPS:  # every operation cut at least once: one whose kill came after it finished is run again
        for _ in range(10):
            if h.killed.get(op):
                break
            i += 1
            h.run_once(op, i, kill=True)
            h.check()
    h.check(deep=True)
    print(f"{h.kills} kills, {h.finished} commands finished, {h.repaired} leftovers repaired")
    return h


@local
def test_sigkill_at_random_points_loses_and_exposes_nothing(case_world, tmp_path):
    h = _harness(case_world, tmp_path, _kills(), seed=20261124)
    assert h.kills >= _kills() and h.finished >= len(OPS) and all(h.killed.get(op) for op in OPS), h.killed


@local
@pytest.mark.slow
def test_two_hundred_kills(case_world, tmp_path):
    h = _harness(case_world, tmp_path, max(200, _kills()), seed=int(os.environ.get("REFUGE_KILL_SEED", "7")))
    assert h.kills >= 200


def _worker_script(n: int, seconds: float) -> str:
    """A shell loop of refuge commands (adds, tags, consents, audit appends) for one process."""
    return f"""
end=$(( $(date +%s) + {int(seconds)} )); i=0
while [ $(date +%s) -lt $end ]; do
  i=$((i+1))
  printf 'worker {n} note %s\\n' "$i" > in{n}-$i.txt
  refuge doc add MX-0001 in{n}-$i.txt --type correspondence --json > added{n}-$i.json || exit 1
  refuge doc tag "$DECL" --add w{n}-$i > /dev/null || exit 1
  if [ -n "$CONSENT" ]; then refuge consent grant MX-0001 --recipient unhcr-resettlement --note w{n}-$i > /dev/null || exit 1; fi
  refuge case list > /dev/null || exit 1
  echo "$i" > done{n}
done
"""


@local
@pytest.mark.parametrize("seconds", [8, pytest.param(30, marks=pytest.mark.slow)])  # make stress: longer
def test_processes_at_once_on_one_local_vault_lose_nothing(case_world, tmp_path, seconds):
    w = case_world
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "refuge").write_text(f"#!/bin/sh\nexec {sys.executable} -P -m refuge \"$@\"\n")
    (bindir / "refuge").chmod(0o755)
    before = len(json.loads(w.ok("audit", "log", "--json", user="dave")))
    workers = ("erin", "bob", "erin")  # case leads also record consent; one person in two terminals too
    procs = []
    for n, user in enumerate(workers):
        env = w.env(user, DECL=w.decl, PATH=f"{bindir}:{os.environ['PATH']}", CONSENT="1" if user == "erin" else "")
        procs.append(subprocess.Popen(["sh", "-c", _worker_script(n, seconds)], env=env, cwd=tmp_path,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    rounds = [int((tmp_path / f"done{n}").read_text()) for n in range(len(workers))]
    assert min(rounds) >= 2
    added = {d["id"]: d["sha256"] for f in tmp_path.glob("added*.json") for d in json.loads(f.read_text())}
    assert len(added) == sum(rounds)  # every add got its own document
    listed = {d["id"]: d for d in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="erin"))}
    assert {k: listed[k]["sha256"] for k in added} == added
    tags = set(listed[w.decl]["tags"])
    assert {f"w{n}-{i}" for n in range(len(workers)) for i in range(1, rounds[n] + 1)} <= tags
    notes = {c["note"] for c in json.loads(w.ok("consent", "list", "MX-0001", "--json", user="erin"))}
    assert {f"w{n}-{i}" for n, who in enumerate(workers) if who == "erin" for i in range(1, rounds[n] + 1)} <= notes
    entries = json.loads(w.ok("audit", "log", "--json", user="dave"))
    assert len(entries) >= before + 3 * sum(rounds)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    p = w.run("audit", "verify", "--json", user="dave")
    assert p.returncode == 0, p.stdout
    p = w.run("fsck", "--deep", "--json", user="erin")
    assert p.returncode == 0, p.stdout
