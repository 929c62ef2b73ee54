"""Benchmark of verified authority: what checking every event's signer costs `refuge doc list`.

authority   `refuge doc list REF --json` on a case of 1,000 events with 20 membership
            changes (10 grants, 10 revocations, each revocation a new key version),
            with verification of authority on, against the same command on the same
            vault with it turned off through the test-only switch REFUGE_TEST_NO_AUTHORITY=1
            (signatures, hash chains and pins are still checked there: what refuge did
            before readers verified authority). Target: at most 1.3 x, both with a cold
            per-user cache (every event folded) and a warm one (the everyday case).

The vault is built once through the library and cached in bench/out/cache/authority-N/.
Run alone: python bench/bench_authority.py [--events N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE, BenchError, Result, best, cli_env, make_vault, measure, open_as, refuge_bin, settle

TARGET = 1.3
REF = "BENCH-AUTH"
LAWYERS = 10  # each granted, then revoked: 20 membership changes


def _log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def authority_vault(events: int = 1000, rebuild: bool = False) -> dict:
    """A vault whose case has ``events`` events, 20 of them membership changes (cached)."""
    d = CACHE / f"authority-{events}"
    meta_path = d / "meta.json"
    if meta_path.exists() and not rebuild:
        return json.loads(meta_path.read_text())
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    roles = {"alice": "admin", "erin": "case-lead", **{f"lawyer{i}": "lawyer" for i in range(LAWYERS)}}
    home, people, _ = make_vault(d / "vault", d / "home", roles)
    v = open_as(d / "vault", home, people["erin"])
    case = v.create_case(REF, "authority benchmark")
    doc_file = d / "note.txt"
    doc_file.write_text("a short statement, synthetic data only\n")
    [added] = v.add_documents(case, [str(doc_file)], "correspondence")
    doc = added.document.id
    for i in range(LAWYERS):
        v.grant(case, [f"lawyer{i}"])
    for i in range(LAWYERS):
        v.revoke(case, [f"lawyer{i}"])
    while case.last_seq < events:
        v.tag(doc, [f"t{case.last_seq % 7}"], [f"t{(case.last_seq + 3) % 7}"])
    os.sync()
    meta = {"vault": str(d / "vault"), "home": str(d / "home"), "events": case.last_seq,
            "key_versions": len(case.key_versions), "case": case.id}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _clear_cache(meta: dict) -> None:
    shutil.rmtree(Path(meta["home"]) / "cache", ignore_errors=True)


def authority(events: int = 1000, runs: int = 5, rebuild: bool = False) -> Result:
    meta = authority_vault(events, rebuild)
    on = cli_env(Path(meta["home"]), Path(meta["vault"]), "erin")
    off = dict(on, REFUGE_TEST_NO_AUTHORITY="1")
    cmd = [refuge_bin(), "doc", "list", REF, "--json"]
    times: dict[str, list] = {"cold-on": [], "cold-off": [], "warm-on": [], "warm-off": []}
    measure(cmd, on)  # once untimed: the library may have changed under the cached vault
    for i in range(runs):
        _log(f"authority round {i + 1}/{runs}")
        for mode, env in (("on", on), ("off", off)):
            _clear_cache(meta)
            settle()
            times[f"cold-{mode}"].append(measure(cmd, env))
            settle()
            times[f"warm-{mode}"].append(measure(cmd, env))
    wall = {k: best(r).wall for k, r in times.items()}
    cold, warm = wall["cold-on"] / wall["cold-off"], wall["warm-on"] / wall["warm-off"]
    ratio = max(cold, warm)
    return Result(
        "authority", f"doc list verified: cold {wall['cold-on']:.3f} s, warm {wall['warm-on']:.3f} s",
        f"unverified: cold {wall['cold-off']:.3f} s, warm {wall['warm-off']:.3f} s", ratio, f"<= {TARGET:.1f} x",
        max(r.rss_mib for rs in times.values() for r in rs), ratio <= TARGET,
        details={"events": meta["events"], "key_versions": meta["key_versions"], "runs": runs,
                 **{k: [round(r.wall, 4) for r in rs] for k, rs in times.items()}},
        notes=[f"cold cache (all {meta['events']} events folded): {wall['cold-on']:.3f} s verified vs "
               f"{wall['cold-off']:.3f} s unverified = {cold:.2f} x",
               f"warm cache: {wall['warm-on']:.3f} s verified vs {wall['warm-off']:.3f} s unverified = {warm:.2f} x"],
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    try:
        res = authority(args.events, args.runs, args.rebuild)
    except BenchError as e:
        print(f"bench_authority: {e}", file=sys.stderr)
        return 2
    print(f"{res.name}: {res.ours}  |  {res.reference}  |  ratio {res.ratio:.2f} (target {res.target})  "
          f"{'PASS' if res.passed else 'FAIL'}")
    for note in res.notes:
        print(f"  {note}")
    return 0 if res.passed else 1


if __name__ == "__main__":
    sys.exit(main())
