#!/usr/bin/env python3
"""Costs that do not grow with the vault: commands on one case, with 10 and with N cases in the vault.

    bench/bench_scale.py [--cases 5000] [--runs 5] [--rebuild]

For each vault size, the same commands on the same small case (one document,
one consent): resolving its reference (`doc list REF`), `doc get DOC`,
`consent list REF`, `packet plan REF --for PROFILE`, and `case list` (which
lists every case, so it is measured per case listed). Every command runs
once untimed first (it builds the person's caches: the directory's fold and
the index of their cases), then --runs times; the best counts. Targets:

    marginal cost per other case, (t(N) - t(10)) / (N - 10):   at most 20 microseconds
    case list, the same marginal cost:                           at most 0.5 ms per case listed

Every case belongs to the person acting (the index's worst case). The
vaults are written through the library (not the CLI, to be built in
minutes), cached in bench/out/cache/scale-N/. The CLI runs from this
checkout (python -m refuge). Also printed: the storage requests each command
makes (a counting backend in this process, over the local backend), which
docs/scale.md turns into S3 costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this checkout's vault/, as the CLI runs it

from common import (CACHE, ROOT, BenchError, Result, best, cli_env, machine, make_vault,  # noqa: E402
                    measure, no_sync_backend, open_as, peak_mib, refuge_python, run_script, scratch_dir)

SMALL = 10
MARGINAL_BUDGET_US = 20.0
LIST_BUDGET_MS = 0.5
REF = "BENCH-SCALE-0000"
PROFILE = "unhcr-resettlement"


def _log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def refuge_cmd() -> list[str]:
    return [refuge_python(), "-P", "-m", "refuge"]


def _env(home: Path, vault: Path, user: str) -> dict:
    env = cli_env(home, vault, user)
    env["PYTHONPATH"] = str(ROOT)
    return env


def quick_case(v, ref: str, title: str = ""):
    """A case made through the library's own steps (create_case without its per-call checks)."""
    from vault import age, casekeys
    from vault._ids import random_id
    from vault.cases import Case, append_case, mirror_members

    case = Case(random_id(10))
    casekeys.write_version(v, case.id, 1, age.X25519Identity.generate(), [v.me.user_id])
    v._cases[case.id] = case
    append_case(v, case, "case.created", {"ref": ref, "title": title})
    mirror_members(v, case)
    return case


def scale_vault(n: int, rebuild: bool = False) -> dict:
    """A vault of ``n`` cases of erin's; the first has one document and one consent. Cached."""
    d = CACHE / f"scale-{n}"
    meta_path = d / "meta.json"
    if meta_path.exists() and not rebuild:
        return json.loads(meta_path.read_text())
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    _log(f"building a vault of {n} cases through the library (once; cached in {d})")
    t0 = time.perf_counter()
    home, people, _ = make_vault(d / "vault", d / "home", {"alice": "admin", "erin": "case-lead"})
    v = open_as(d / "vault", home, people["erin"], backend=no_sync_backend(d / "vault"))
    case = v.create_case(REF, "the case the commands read")
    note = d / "statement.txt"
    note.write_text("Synthetic benchmark statement, no real data.\n")
    [res] = v.add_documents(case, [str(note)], "legal-declaration", lang="en")
    if res.error:
        raise BenchError(f"adding the benchmark document failed: {res.error}")
    note.unlink()
    v.record_consent(case, "granted", PROFILE, note="benchmark")
    for i in range(1, n):
        quick_case(v, f"BENCH-SCALE-{i:04d}", f"other case {i}")
        v._cases.clear()
        v._case_ids.clear()
        if i % 1000 == 0:
            _log(f"  {i}/{n} cases, {time.perf_counter() - t0:.0f} s")
    os.sync()
    meta = {"n": n, "ref": REF, "doc": res.document.id, "home": str(d / "home"), "vault": str(d / "vault"),
            "user": "erin", "built_s": round(time.perf_counter() - t0, 1)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def commands(meta: dict, out: Path) -> dict[str, list[str]]:
    ref, doc = meta["ref"], meta["doc"]
    return {
        "resolve (doc list REF)": ["doc", "list", ref.lower() + " ", "--json"],
        "doc get DOC": ["doc", "get", doc, "-o", str(out)],
        "consent list REF": ["consent", "list", ref, "--json"],
        "packet plan REF": ["packet", "plan", ref, "--for", PROFILE, "--json"],
        "case list": ["case", "list", "--json"],
    }


def _run(meta: dict, args: list[str], out: Path):
    env = _env(Path(meta["home"]), Path(meta["vault"]), meta["user"])
    r = measure(refuge_cmd() + args, env, stdout=out.with_suffix(".stdout"), cwd=ROOT, check=False)
    out.unlink(missing_ok=True)
    if r.returncode not in (0, 4) or (r.returncode == 4 and "plan" not in args):
        raise BenchError(f"refuge {' '.join(args[:2])} exited {r.returncode}: {r.stderr.strip()[-300:]}")
    return r


def timings(metas: list[dict], runs: int, outdir: Path) -> dict:
    """Best-of-``runs`` of each command on each vault, sizes alternating run by run."""
    out = outdir / "got.bin"
    res = {m["n"]: {name: [] for name in commands(m, out)} for m in metas}
    for m in metas:  # untimed: builds the caches (directory fold, case index, case state)
        for args in commands(m, out).values():
            _run(m, args, out)
    for _ in range(runs):
        for m in metas:
            for name, args in commands(m, out).items():
                res[m["n"]][name].append(_run(m, args, out))
    return res


# --- storage requests per command (a counting backend, in this process) -------------------


def count_requests(meta: dict) -> dict:
    """Storage requests of the library calls each command makes, with warm caches."""
    from vault import documents
    from vault.identity import Home
    from vault.storage import LocalBackend

    counts: dict = {}

    class Counting(LocalBackend):
        def _n(self, op):
            counts[op] = counts.get(op, 0) + 1

        def get(self, key):
            self._n("get")
            return super().get(key)

        def exists(self, key):
            self._n("head")
            return super().exists(key)

        def list(self, prefix):
            self._n("list")
            keys = list(super().list(prefix))
            counts["listed"] = counts.get("listed", 0) + len(keys)
            return iter(keys)

        def children(self, prefix):
            self._n("list")
            names = super().children(prefix)
            counts["listed"] = counts.get("listed", 0) + len(names)
            return names

        def put(self, key, data):
            self._n("put")
            return super().put(key, data)

    from common import PASSPHRASE

    home = Home(Path(meta["home"]))
    secret = home.unlock("erin", PASSPHRASE)
    steps = {
        "open the vault": lambda v: None,
        "resolve REF (find_case)": lambda v: v.find_case(meta["ref"]),
        "doc get (find_document)": lambda v: documents.find_document(v, meta["doc"]),
        "case list (case_summaries)": lambda v: v.case_summaries(),
    }
    out = {}
    for name, step in steps.items():
        counts.clear()
        v = open_as(Path(meta["vault"]), home, secret, backend=Counting(Path(meta["vault"])))
        if name != "open the vault":
            counts.clear()
        step(v)
        out[name] = dict(counts)
    return out


def run(n: int = 5000, runs: int = 5, rebuild: bool = False) -> Result:
    small, large = scale_vault(SMALL, rebuild), scale_vault(n, rebuild)
    outdir = scratch_dir("scale-")
    try:
        _log(f"commands on a vault of {SMALL} and of {n} cases, {runs} runs each")
        res = timings([small, large], runs, outdir)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    span = n - SMALL
    rows, passed, details = [], True, {"n": n, "runs": runs}
    for name in res[n]:
        t_small, t_large = best(res[SMALL][name]).wall, best(res[n][name]).wall
        if name == "case list":  # it lists every case: its cost per case listed
            per = (t_large - t_small) / span * 1e3
            ok = per <= LIST_BUDGET_MS
            rows.append(f"{name}: t({SMALL}) {t_small:.3f} s, t({n}) {t_large:.3f} s: {per:.3f} ms per case listed "
                        f"(target <= {LIST_BUDGET_MS}) {'PASS' if ok else 'FAIL'}")
            details["case_list_ms_per_case"] = per
        else:
            us = (t_large - t_small) / span * 1e6
            ok = us <= MARGINAL_BUDGET_US
            rows.append(f"{name}: t({SMALL}) {t_small:.3f} s, t({n}) {t_large:.3f} s: {us:+.1f} us per other case "
                        f"(target <= {MARGINAL_BUDGET_US:.0f}) {'PASS' if ok else 'FAIL'}")
            details[f"{name}_us_per_case"] = us
        details[f"{name}_s"] = {SMALL: [r.wall for r in res[SMALL][name]], n: [r.wall for r in res[n][name]]}
        passed = passed and ok
    requests = {size: count_requests(m) for size, m in ((SMALL, small), (n, large))}
    details["requests"] = requests
    worst = max(v for k, v in details.items() if k.endswith("_us_per_case"))
    rss = max(peak_mib(res[n][name]) for name in res[n])
    notes = rows + [f"storage requests with {size} cases: " + "; ".join(
        f"{step}: {', '.join(f'{k} {c}' for k, c in sorted(cnt.items())) or 'none'}" for step, cnt in req.items())
        for size, req in requests.items()]
    return Result("scale", f"worst {worst:+.1f} us per other case; case list {details['case_list_ms_per_case']:.3f} ms/case",
                  f"{SMALL} vs {n} cases", worst / MARGINAL_BUDGET_US,
                  f"<= {MARGINAL_BUDGET_US:.0f} us/case, case list <= {LIST_BUDGET_MS} ms/case", rss, passed,
                  details=details, notes=notes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load']}")
    r = run(args.cases, args.runs, args.rebuild)
    print(f"{r.name}: {r.ours}; {r.reference}; peak RSS {r.rss_mib:.1f} MiB: {'PASS' if r.passed else 'FAIL'}")
    for note in r.notes:
        print("  " + note)
    return 0 if r.passed else 3


if __name__ == "__main__":
    run_script("bench_scale", main)
