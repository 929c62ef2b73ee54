#!/usr/bin/env python3
"""Run refuge's benchmarks and print a summary table (make bench).

    bench/run.py                      # all of them, full size (1 GiB files, 10,000 documents, 100,000 entries)
    bench/run.py doc-add doc-get      # some of them
    bench/run.py --size-mib 64 --docs 1000 --entries 10000   # a quick check
    bench/run.py doc-list --profile   # also profile the refuge subprocess (cProfile) and print the top functions

Every benchmark times refuge as a subprocess next to a standard tool in the
same run, best of --runs (3) for each side, and prints the ratio, refuge's peak
RSS and PASS or FAIL against its target. Scratch files go under bench/out/
(same disk as the vaults) and are removed; the vaults that are slow to build
are cached in bench/out/cache/ (--rebuild makes them again). Results are also
written to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, BenchError, Result, cli_env, machine, refuge_python, write_json  # noqa: E402

NAMES = ["doc-add", "doc-get", "doc-list", "audit-verify", "s3-doc-add", "ocr", "search", "scale"]
GROUPS = {"vault": ["doc-add", "doc-get", "doc-list"], "audit": ["audit-verify"]}


def profile(name: str, args: list[str], env: dict, top: int = 15, setup=None) -> str:
    """Run ``refuge ARGS`` once under cProfile; returns the top functions by own time and by cumulative time."""
    prof_dir = OUT / "profiles"
    prof_dir.mkdir(parents=True, exist_ok=True)
    prof = prof_dir / f"{name}.prof"
    if setup:
        setup()
    cmd = [refuge_python(), "-m", "cProfile", "-o", str(prof), "-m", "refuge", *args]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return f"(profiling {name} failed: {p.stderr.decode().strip()[-300:]})"
    text = Path(prof_dir / f"{name}.txt")
    import io

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    text.write_text(buf.getvalue())
    return f"profile of {name} ({wall:.2f} s under cProfile): {prof} ; top functions in {text}\n" + _short(buf.getvalue(), top)


def _short(report: str, top: int) -> str:
    lines = [ln for ln in report.splitlines() if ln.strip()]
    keep, grab = [], 0
    for ln in lines:
        if "ncalls" in ln:
            keep.append(ln)
            grab = top
            continue
        if grab:
            keep.append(ln)
            grab -= 1
    return "\n".join(keep)


def run_one(name: str, args, state: dict) -> Result:
    import bench_audit
    import bench_vault

    if name in ("doc-add", "doc-get"):
        big = state.get("big")
        if big is None:
            big = state["big"] = bench_vault.BigFile(args.size_mib)
        res = bench_vault.doc_add(big, args.runs) if name == "doc-add" else bench_vault.doc_get(big, args.runs)
        if args.profile:
            if name == "doc-add":
                res.notes.append(profile("doc-add", ["doc", "add", big.REF, str(big.input), "--type", "other",
                                                     "--allow-duplicate"], big.env))
            else:
                out = big.dir / "profiled-get.txt"
                res.notes.append(profile("doc-get", ["doc", "get", big.doc_id, "-o", str(out)], big.env))
                out.unlink(missing_ok=True)
        return res
    if name == "doc-list":
        res = bench_vault.doc_list(args.docs, args.runs, args.rebuild)
        if args.profile:
            meta = bench_vault.list_vault(args.docs)
            env = cli_env(Path(meta["home"]), Path(meta["vault"]), meta["user"])
            cmd = ["doc", "list", meta["ref"], "--json"]
            res.notes.append(profile("doc-list-cold", cmd, env, setup=lambda: bench_vault._restore_home(meta)))
            res.notes.append(profile("doc-list-warm", cmd, env))
        return res
    if name == "s3-doc-add":  # bench/bench_s3.py: moto's server in its own process
        import bench_s3

        return bench_s3.run(args.size_mib, 8, args.runs)
    if name == "ocr":  # bench/bench_ocr.py: 20 scanned pages
        import bench_ocr

        return bench_ocr.run(20, args.runs)
    if name == "search":  # bench/bench_search.py: in this process, --docs documents in 100 cases
        import bench_search

        return bench_search.run(args.docs, args.runs)
    if name == "scale":  # bench/bench_scale.py: commands with 10 and with 5,000 cases in the vault
        import bench_scale

        return bench_scale.run(5000, max(args.runs, 5), args.rebuild)
    if name == "audit-verify":
        res = bench_audit.audit_verify(args.entries, args.runs, args.rebuild)
        if args.profile:
            meta = bench_audit.audit_vault(args.entries)
            env = cli_env(Path(meta["home"]), Path(meta["vault"]), meta["auditor"])
            try:
                res.notes.append(profile("audit-verify", ["audit", "verify"], env))
            finally:
                bench_audit._trim(meta)
            res.notes.append(profile_scan(meta))
        return res
    raise SystemExit(f"unknown benchmark {name}; pick from {', '.join(NAMES)}")


def profile_scan(meta: dict, count: int = 20_000) -> str:
    """The workers' share of audit verify, profiled in this process: audit._scan over ``count`` entries."""
    import base64
    import cProfile
    import io

    from vault import audit
    from vault.storage import LocalBackend

    log = audit.AuditLog(LocalBackend(meta["vault"]), None)
    keys = audit._keys_of(log)[:count]
    pubs = {k: base64.b64decode(v) for k, v in meta["pubs"].items()}
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(audit._scan, (meta["vault"], keys, pubs))
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime").print_stats(12)
    (OUT / "profiles").mkdir(parents=True, exist_ok=True)
    (OUT / "profiles" / "audit-scan.txt").write_text(buf.getvalue())
    return (f"profile of audit._scan (a worker's loop) over {len(keys)} entries in one process: "
            f"{wall:.2f} s under cProfile, {wall / len(keys) * 1e6:.0f} us/entry\n" + _short(buf.getvalue(), 12))


def table(results: list[Result]) -> str:
    head = ["benchmark", "refuge", "standard tool (same run)", "ratio", "target", "peak RSS", "result"]
    rows = [[r.name, r.ours, r.reference, f"{r.ratio:.2f}", r.target,
             f"{r.rss_mib:.1f} MiB" if r.rss_mib is not None else "-", "PASS" if r.passed else "FAIL"] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def main() -> int:
    ap = argparse.ArgumentParser(description="refuge benchmarks: ratios against standard tools, peak RSS, PASS/FAIL.")
    ap.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(NAMES)} (or vault, audit); default all")
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the doc add/get file in MiB (default 1024)")
    ap.add_argument("--docs", type=int, default=10_000, help="documents in the large doc-list case (default 10000)")
    ap.add_argument("--entries", type=int, default=100_000, help="audit entries for audit-verify (default 100000)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side; the best counts (default 3)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached doc-list and audit vaults")
    ap.add_argument("--profile", action="store_true", help="also profile the refuge subprocess once with cProfile")
    ap.add_argument("--json", dest="json_out", default=str(OUT / "results.json"), help="where to write the results")
    args = ap.parse_args()
    if not 1 <= args.size_mib <= 2048:
        ap.error("--size-mib must be 1 to 2048 (intake refuses files over 2 GiB)")
    if args.docs <= 10:
        ap.error("--docs must be more than 10 (the small case)")
    names = []
    for n in args.names or NAMES:
        for m in GROUPS.get(n, [n]):
            if m not in NAMES:
                ap.error(f"unknown benchmark {m}; pick from {', '.join(NAMES)}")
            if m not in names:
                names.append(m)
    names.sort(key=NAMES.index)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM, disk {info['disk']}, "
          f"Python {info['python']}, {info['date']}, refuge {info['commit']}, load {info['load']}")
    state: dict = {}
    results: list[Result] = []
    failed: list[str] = []
    try:
        for name in names:
            print(f"== {name}", flush=True)
            try:
                r = run_one(name, args, state)
            except BenchError as e:
                print(f"bench: error: {name}: {e}", file=sys.stderr)
                failed.append(name)
                continue
            results.append(r)
            print(f"{r.name}: refuge {r.ours}; {r.reference}; ratio {r.ratio:.2f}; "
                  f"peak RSS {r.rss_mib:.1f} MiB; target {r.target}: {'PASS' if r.passed else 'FAIL'}")
            for note in r.notes:
                print("  " + note.replace("\n", "\n    "))
    finally:
        if state.get("big"):
            state["big"].cleanup()
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    if results:
        print(table(results))
    write_json(Path(args.json_out), {"machine": info, "args": vars(args), "results": [r.as_dict() for r in results],
                                     "errors": failed})
    print(f"\nload average before {info['load']}, after {info['load_after']}; results in {args.json_out}")
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0 if all(r.passed for r in results) else 3


if __name__ == "__main__":
    sys.exit(main())
