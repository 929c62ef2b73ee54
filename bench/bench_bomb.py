#!/usr/bin/env python3
"""Benchmark: `refuge packet build` of a case holding a rendering bomb, next to pdftoppm on it.

    bench/bench_bomb.py            # nested forms 8 deep, 10 draws a level
    bench/bench_bomb.py --depth 7

A 4 KB PDF whose page draws a Form XObject that draws the next ten times, eight
deep (tests/hostile_pdfs.py makes it), is stored in a case past intake (an insider
with the case key, or a vault written by an older refuge: intake refuses it
today), consented and built for a profile. refuge must stop with one line naming
the document, in bounded memory, because the pages are rendered only in the
keyless worker with its address-space limit. Side by side: `pdftoppm -r 150` on
the same file under the same 1 GiB address-space bound and a 60 s timeout (the
standard renderer, bounded the same way from outside).

Target (issue #15): refuge's peak RSS (itself and the worker) under 1 GiB, exit 1.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import BenchError, run_script, best, cli_env, fast_identities, make_vault, measure, need_tool, peak_mib, refuge_bin, scratch  # noqa: E402

LIMIT_MIB = 1024


def setup(root: Path, depth: int) -> tuple[dict, str]:
    """A vault whose case holds the bomb, stored past intake; returns the CLI environment and the doc id."""
    from hostile_pdfs import xobject_bomb

    from vault import intake
    from vault.orgkey import generate

    fast_identities()
    home, people, vault = make_vault(root / "vault", root / "home", {"alice": "admin", "erin": "case-lead"})
    generate(vault, "Benchmark Legal Clinic")
    bomb = root / "statement.pdf"
    bomb.write_bytes(xobject_bomb(depth=depth))
    from vault.core import Vault

    erin = Vault.open(str(root / "vault"), home, lambda: people["erin"])
    case = erin.create_case("BENCH-1")
    real = intake.inspect_isolated
    intake.inspect_isolated = lambda path, limit, label: intake.Inspection("application/pdf", bomb.stat().st_size)
    try:
        [added] = erin.add_documents(case, [str(bomb)], "legal-declaration")
    finally:
        intake.inspect_isolated = real
    erin.record_consent(case, "granted", "irb-rpd-disclosure")
    return cli_env(root / "home", root / "vault", "erin"), added.document.id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    pdftoppm = need_tool("pdftoppm")
    with scratch("bomb-") as tmp:
        env, doc_id = setup(tmp, args.depth)
        ours, ref = [], []
        for n in range(args.runs):
            out = tmp / f"packet-{n}.pdf"
            ours.append(measure([refuge_bin(), "packet", "build", "BENCH-1", "--for", "irb-rpd-disclosure", "-o",
                                 str(out), "--allow-incomplete"], env=env, stdout=tmp / "out.txt", check=False))
            script = (f"ulimit -v {LIMIT_MIB * 1024}; timeout 60 '{pdftoppm}' -r 150 '{tmp / 'statement.pdf'}' "
                      f"'{tmp / 'ppm'}'")
            ref.append(measure(["sh", "-c", script], check=False))
            shutil.rmtree(tmp / "ppm", ignore_errors=True)
            if out.exists():
                raise BenchError("refuge built a packet from the bomb")
        o, r = best(ours), best(ref)
        peak = peak_mib(ours)
        print(f"packet-bomb: nested forms {args.depth} deep (10**{args.depth} fills), document {doc_id}")
        print(f"  {'':34} {'wall s':>8} {'peak RSS MiB':>13} {'exit':>5}")
        print(f"  {'refuge packet build (and worker)':34} {o.wall:8.2f} {peak:13.1f} {o.returncode:>5}")
        print(f"  {'pdftoppm, ulimit -v 1 GiB, 60 s':34} {r.wall:8.2f} {peak_mib(ref):13.1f} {r.returncode:>5}")
        print(f"  time ratio {o.wall / r.wall:.2f}; peak memory {peak:.0f} MiB (target < {LIMIT_MIB})")
        ok = peak < LIMIT_MIB and o.returncode == 1
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    run_script("bench_bomb", main)
