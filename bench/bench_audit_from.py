#!/usr/bin/env python3
"""`refuge audit verify --checkpoint` costs what follows the checkpoint, not what precedes it.

    bench/bench_audit_from.py [--sizes 100000 200000] [--new 1000] [--runs 3]

For each size N: the cached audit vault of N entries (bench_audit.audit_vault),
a checkpoint of all N signed by the auditor (in this process, as
`audit verify --save-checkpoint` makes it), then --new entries appended through
AuditLog.append; then `refuge audit verify --checkpoint CP` is timed (best of
--runs) with its peak RSS. Target: the time at the largest size at most 1.2 x
the time at the smallest (the cost does not grow with the older entries), and
peak RSS under 100 MiB. Then `refuge audit log --since T` (T: just before the
new entries) is run --runs + 1 times: the first reads every shard this auditor's
cache does not yet date, the later ones only the shards that can hold an entry
after T. The appended entries are removed afterwards. The audit vault is built
by AuditLog.append in one process (1,000,000 entries in about 200 s here).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this checkout's vault/, as the CLI runs it

from bench_audit import _trim, audit_vault  # noqa: E402
from common import (PASSPHRASE, ROOT, BenchError, best, cli_env, machine, measure, open_as,  # noqa: E402
                    peak_mib, refuge_python, run_script, scratch_dir)

GROWTH = 1.2
RSS_MIB = 100


def _prepare(meta: dict, new: int, cp_path: Path) -> str:
    from vault import audit
    from vault.identity import Home

    home = Home(Path(meta["home"]))
    dave = home.unlock("dave", PASSPHRASE)
    v = open_as(Path(meta["vault"]), home, dave)
    pubs = {k: base64.b64decode(p) for k, p in meta["pubs"].items()}
    report = audit.verify(v.audit_log, pubs)
    if not report.ok or report.entries != meta["n"]:
        raise BenchError(f"the cached audit log does not verify: {report.problem}")
    cp_path.write_text(audit.sign_checkpoint(v.id, report.entries, report.root, dave, report.frontier,
                                             report.last_digest))
    erin = open_as(Path(meta["vault"]), home, home.unlock("erin", PASSPHRASE))
    time.sleep(1.1)  # the new entries come a second after every old one: --since tells them apart
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for _ in range(new):
        erin.audit_log.append(erin.me, {"actor": erin.me.user_id, "name": "erin", "role": "case-lead",
                                        "action": "case.list", "result": "ok"})
    return since


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000])
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load']}")
    out = scratch_dir("audit-from-")
    times, rss = {}, {}
    for n in args.sizes:
        meta = audit_vault(n)
        _trim(meta)
        cp = out / f"cp-{n}"
        since = _prepare(meta, args.new, cp)
        env = cli_env(Path(meta["home"]), Path(meta["vault"]), "dave")
        env["PYTHONPATH"] = str(ROOT)
        runs = []
        try:
            for _ in range(args.runs):
                runs.append(measure([refuge_python(), "-P", "-m", "refuge", "audit", "verify", "--checkpoint", str(cp),
                                     "--json"], env, stdout=out / "report.json", cwd=ROOT))
                report = json.loads((out / "report.json").read_text())
                if not report["ok"] or report["checkpoint_size"] != n:
                    raise BenchError(f"audit verify --checkpoint did not verify from {n}: {report}")
            logs = []  # audit log --since: the first run reads what this auditor's cache does not know
            for _ in range(args.runs + 1):
                logs.append(measure([refuge_python(), "-P", "-m", "refuge", "audit", "log", "--since", since, "--json"],
                                    env, stdout=out / "log.json", cwd=ROOT))
                shown = json.loads((out / "log.json").read_text())
                if not args.new <= len(shown) <= args.new + 2 * args.runs + 1:  # and the runs' own entries
                    raise BenchError(f"audit log --since {since} showed {len(shown)} entries, not {args.new}")
        finally:
            meta["n"] = n
            _trim(meta)
        times[n], rss[n] = best(runs).wall, peak_mib(runs)
        print(f"  N={n}: {args.new} new entries verified from the checkpoint in {times[n]:.3f} s "
              f"(runs {', '.join(f'{r.wall:.3f}' for r in runs)}; CPU {min(r.user + r.system for r in runs):.2f} s), "
              f"peak RSS {rss[n]:.1f} MiB")
        print(f"  N={n}: audit log --since (the {args.new} new entries): first run {logs[0].wall:.3f} s "
              f"(CPU {logs[0].user + logs[0].system:.2f} s, peak RSS {logs[0].rss_mib:.1f} MiB), then best "
              f"{best(logs[1:]).wall:.3f} s (runs {', '.join(f'{r.wall:.3f}' for r in logs[1:])}), "
              f"peak RSS {peak_mib(logs[1:]):.1f} MiB")
    lo, hi = min(args.sizes), max(args.sizes)
    growth = times[hi] / times[lo]
    passed = growth <= GROWTH and max(rss.values()) <= RSS_MIB
    print(f"audit-from: t({hi}) / t({lo}) = {growth:.2f} (target <= {GROWTH}); peak RSS {max(rss.values()):.1f} MiB "
          f"(target <= {RSS_MIB}): {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 3


if __name__ == "__main__":
    run_script("bench_audit_from", main)
