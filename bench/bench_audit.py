"""Benchmark of the audit trail: `refuge audit verify` over N entries (default 100,000).

Target: at least 80% of this machine's Ed25519 verification rate on both cores.
The reference is measured in the same run: the same N signatures (the entries'
own public keys, signatures and signed bytes) verified with `cryptography`,
split across 2 processes, keys loaded once per process.

The entries are made once through `AuditLog.append` itself, over an in-memory
backend (the per-entry fsync of the real backend would take hours), then
written as the files LocalBackend would hold; the bytes are exactly what
`AuditLog.append` produces. The vault is cached in bench/out/cache/audit-N/.
Each `refuge audit verify` appends its own entry; it is removed after each run
so every run verifies exactly N.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import multiprocessing
import os
import resource
import shutil
import sys
import time
from pathlib import Path

from common import (CACHE, BenchError, Result, best, cli_env, make_vault, measure, peak_mib, refuge_bin,
                    scratch_dir, settle)

TARGET = 0.80
ROLES = {"alice": "admin", "erin": "case-lead", "bob": "lawyer", "carol": "lawyer", "dave": "auditor"}
ACTIONS = {
    "admin": ["user.list", "user.add", "case.list"],
    "case-lead": ["case.create", "case.grant", "doc.add", "doc.list", "doc.get", "doc.tag", "case.list"],
    "lawyer": ["doc.add", "doc.list", "doc.get", "doc.get", "doc.tag", "case.list"],
    "auditor": ["audit.log", "audit.verify", "audit.prove"],
}


def _log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


class _MemoryAudit:
    """Just what AuditLog.append needs (children, get, put), in memory, in order."""

    def __init__(self, location: str) -> None:
        from vault.errors import NotFound
        from vault.storage import ObjectExists

        self.location = location
        self.objects: dict[str, bytes] = {}
        self.shards: dict[str, list[str]] = {}
        self._exists, self._missing = ObjectExists, NotFound

    def put(self, key: str, data: bytes) -> None:
        if key in self.objects:
            raise self._exists(key)
        self.objects[key] = data
        _, shard, name = key.split("/")
        self.shards.setdefault(shard, []).append(name)  # appends come in order: stays sorted

    def get(self, key: str):
        try:
            return io.BytesIO(self.objects[key])
        except KeyError:
            raise self._missing(key) from None

    def children(self, prefix: str) -> list[str]:
        parts = prefix.strip("/").split("/")
        if len(parts) == 1:
            return sorted(self.shards)
        return list(self.shards.get(parts[1], []))


def audit_vault(n: int, rebuild: bool = False) -> dict:
    d = CACHE / f"audit-{n}"
    meta_path = d / "meta.json"
    if meta_path.exists() and not rebuild:
        return json.loads(meta_path.read_text())
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    _log(f"building the audit vault of {n} entries through AuditLog.append (once; cached in {d})")
    t0 = time.perf_counter()
    home, people, vault = make_vault(d / "vault", d / "home", ROLES)
    if vault.audit_log.last() != 0:
        raise BenchError("the new vault already has audit entries; the builder expects none")
    mem = _MemoryAudit(str(d / "vault"))
    log = copy.copy(vault.audit_log)  # the vault's own sealing key, over the memory backend
    log.backend = mem
    # AuditLog.append finds the last number by listing the last shard (up to 10,000 names): 3 ms an
    # entry, 570 s for 200,000. This builder appends alone and in order, so it tells append the last
    # number; every entry is still sealed, chained and signed by AuditLog.append itself.
    log.last = lambda: len(mem.objects)
    import random

    rnd = random.Random(20261124)
    cases = [base64.b32encode(rnd.randbytes(10)).decode().lower() for _ in range(200)]
    names = list(ROLES)
    for i in range(n):
        name = names[i % len(names)]
        me, role = people[name], ROLES[name]
        action = rnd.choice(ACTIONS[role])
        body = {"actor": me.user_id, "name": name, "role": role, "action": action,
                "result": "ok" if rnd.random() > 0.03 else "denied"}
        if action.startswith(("doc.", "case.")) and action != "case.list":
            case = rnd.choice(cases)
            body["case"] = case
            if action in ("doc.get", "doc.tag"):
                body["doc"] = f"{case}-{base64.b32encode(rnd.randbytes(5)).decode().lower()}"
        if action == "audit.verify":
            body["verified"] = i
        seq = log.append(me, body)
        if seq != i + 1:
            raise BenchError(f"AuditLog.append numbered entry {i + 1} as {seq}")
        if (i + 1) % 20000 == 0:
            _log(f"  {i + 1}/{n} entries, {time.perf_counter() - t0:.0f} s")
    root = d / "vault"
    for key, data in mem.objects.items():
        path = root.joinpath(*key.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as f:
            f.write(data)
    os.sync()
    pubs = {p.user_id: base64.b64encode(p.public.sign_pub).decode() for p in people.values()}
    meta = {"n": n, "home": str(d / "home"), "vault": str(root), "auditor": "dave", "pubs": pubs,
            "built_s": round(time.perf_counter() - t0, 1), "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _trim(meta: dict) -> None:
    """Remove the entries verify runs appended, so the log holds exactly n again."""
    from vault.audit import SHARD

    n = meta["n"]
    audit_dir = Path(meta["vault"]) / "audit"
    for shard in sorted(os.listdir(audit_dir))[-2:]:
        if int(shard) < n // SHARD:
            continue
        for name in os.listdir(audit_dir / shard):
            if name.isdigit() and int(name) > n:
                os.unlink(audit_dir / shard / name)
        if not os.listdir(audit_dir / shard):
            os.rmdir(audit_dir / shard)


# --- the reference: Ed25519 verification on both cores --------------------------------------

_REF: list[tuple[bytes, bytes, bytes]] = []


def _reference_data(meta: dict) -> list[tuple[bytes, bytes, bytes]]:
    """(public key, signature, signed bytes) of every entry, read from the vault."""
    from vault.events import canonical

    pubs = {k: base64.b64decode(v) for k, v in meta["pubs"].items()}
    out = []
    audit_dir = Path(meta["vault"]) / "audit"
    for shard in sorted(os.listdir(audit_dir)):
        for name in sorted(os.listdir(audit_dir / shard)):
            record = json.loads((audit_dir / shard / name).read_bytes())
            sig = base64.b64decode(record.pop("sig"))
            out.append((pubs[record["author"]], sig, canonical(record)))
    return out


def _verify_part(lo: int, hi: int) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {}
    for pub, sig, msg in _REF[lo:hi]:
        key = keys.get(pub)
        if key is None:
            key = keys[pub] = Ed25519PublicKey.from_public_bytes(pub)
        key.verify(sig, msg)  # raises on a bad signature: the exit code says so
    os._exit(0)


def reference_rate(workers: int = 2) -> tuple[float, float]:
    """Verifications per second, _REF split across ``workers`` processes (fork); and their CPU seconds."""
    ctx = multiprocessing.get_context("fork")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    step = -(-len(_REF) // workers)
    procs = [ctx.Process(target=_verify_part, args=(i, min(len(_REF), i + step))) for i in range(0, len(_REF), step)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(p.exitcode != 0 for p in procs):
        raise BenchError("a reference verification failed")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return len(_REF) / elapsed, cpu


def _check_cached(meta: dict) -> None:
    """One untimed verify of the cached vault: the library may have changed under it."""
    env = cli_env(Path(meta["home"]), Path(meta["vault"]), meta["auditor"])
    try:
        measure([refuge_bin(), "audit", "verify"], env)
    finally:
        _trim(meta)


def audit_verify(n: int = 100_000, runs: int = 3, rebuild: bool = False) -> Result:
    global _REF
    meta = audit_vault(n, rebuild)
    _trim(meta)
    try:
        _check_cached(meta)
    except BenchError as e:
        if rebuild:
            raise
        _log(f"the cached audit vault failed ({e}); rebuilding it")
        meta = audit_vault(n, rebuild=True)
        _check_cached(meta)
    _REF = _reference_data(meta)
    if len(_REF) != n:
        raise BenchError(f"the cached audit vault holds {len(_REF)} entries, not {n}; run with --rebuild")
    refuge = refuge_bin()
    env = cli_env(Path(meta["home"]), Path(meta["vault"]), meta["auditor"])
    outdir = scratch_dir("audit-")
    rates, ref_cpu, ours = [], [], []
    try:
        out = outdir / "verify.json"
        for i in range(runs):
            _log(f"audit-verify round {i + 1}/{runs}")
            settle()
            rate, cpu = reference_rate(2)
            rates.append(rate)
            ref_cpu.append(cpu)
            settle()
            try:
                run = measure([refuge, "audit", "verify", "--json"], env, stdout=out)
            finally:
                _trim(meta)
            report = json.loads(out.read_text())
            if not report.get("ok") or report.get("entries") != n:
                raise BenchError(f"refuge audit verify reported {report}")
            ours.append(run)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
        _REF = []
    ref = max(rates)
    t = best(ours).wall
    rate = n / t
    ratio = rate / ref
    # Load-independent view: CPU seconds per entry, refuge (itself and its workers) against the reference.
    ref_cpu_us = min(ref_cpu) / n * 1e6
    our_cpu_us = min(r.user + r.system for r in ours) / n * 1e6
    return Result(
        "audit-verify", f"{rate:,.0f} entries/s ({t:.3f} s for {n:,})", f"Ed25519 x2 procs {ref:,.0f} verif/s",
        ratio, f">= {TARGET:.2f} x", peak_mib(ours), ratio >= TARGET,
        details={"n": n, "runs": runs, "refuge_s": [r.wall for r in ours], "reference_rates": rates,
                 "refuge_cpu_s": [round(r.user + r.system, 3) for r in ours],
                 "reference_cpu_s": [round(c, 3) for c in ref_cpu],
                 "refuge_cpu_us_per_entry": our_cpu_us, "reference_cpu_us_per_verification": ref_cpu_us,
                 "cpu_ratio": ref_cpu_us / our_cpu_us,
                 "refuge_rss_mib": [round(r.rss_mib, 1) for r in ours]},
        notes=[f"refuge runs {', '.join(f'{r.wall:.3f}' for r in ours)} s; reference rates "
               f"{', '.join(f'{r:,.0f}' for r in rates)} verif/s",
               f"refuge CPU (user+sys, itself and its workers) best run: "
               f"{best(ours).user + best(ours).system:.2f} s for {t:.2f} s wall on 2 cores",
               f"CPU per entry (less sensitive to other load): refuge {our_cpu_us:.0f} us, reference "
               f"{ref_cpu_us:.0f} us per verification; CPU ratio {ref_cpu_us / our_cpu_us:.2f}"],
    )
