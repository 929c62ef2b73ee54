#!/usr/bin/env python3
"""Benchmark: fit a 100-page 300 dpi scan under a 4 MB limit, next to Ghostscript.

    bench/bench_fit.py                  # 100 pages, best of 3
    bench/bench_fit.py --pages 20 --runs 1

The input, made by code (tests/fit_scans.py, cached in bench/out/data): a 100-page
black-and-white document scanned at 300 dpi in grey levels, letter pages of typed text on
grainy paper, each page a JPEG, about 80 MB. refuge's side is packets._fit.fit_to (the
assembler's fitting: every image brought to 150 dpi, the recipient's resolution, and
recompressed, 1-bit CCITT G4 or Flate for black-and-white pages, JPEG otherwise, step by
step until the file is under the limit), run in a child process that reads the file and
writes the result. Side by side, in the same run: ``gs -sDEVICE=pdfwrite
-dPDFSETTINGS=/ebook`` (150 dpi images) on the same file. Both are timed as subprocesses
(wall time, peak RSS through GNU time), best of ``--runs``.

Targets (issue #18): refuge's wall time at most 1.5 x Ghostscript's, and its output no
larger than Ghostscript's (and under the 4 MB limit).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import DATA, best, measure, need_tool, peak_mib, run_script, scratch, settle  # noqa: E402

TARGET = 1.5
LIMIT = 4_000_000  # "4 MB", read as IRCC's 4 MB portals are (templates/ircc-resettlement.toml)
DPI = 150

_FIT = """
import sys
from packets._fit import fit_to
data = open(sys.argv[1], "rb").read()
out, step = fit_to(data, int(sys.argv[3]), float(sys.argv[4]))
open(sys.argv[2], "wb").write(out)
print(step.describe() if step else "untouched")
"""


def make_input(pages: int) -> Path:
    """The scan (cached in bench/out/data)."""
    import fit_scans

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"fit-scan-{pages}.pdf"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(fit_scans.text_scan(pages))
        tmp.rename(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gs = need_tool("gs")
    pdfimages = need_tool("pdfimages")
    source = make_input(args.pages)
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "OMP_THREAD_LIMIT": "1"}
    ours, theirs = [], []
    with scratch("fit") as tmp:
        out_ours, out_gs = tmp / "refuge.pdf", tmp / "gs.pdf"
        for _ in range(args.runs):
            settle()
            ours.append(measure([sys.executable, "-P", "-c", _FIT, source, out_ours, LIMIT, DPI], env=env, cwd=root))
            settle()
            theirs.append(measure([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
                                   "-dPDFSETTINGS=/ebook", f"-sOutputFile={out_gs}", source]))
        size_ours, size_gs = out_ours.stat().st_size, out_gs.stat().st_size
        import subprocess

        def max_ppi(path: Path) -> int:
            rows = subprocess.run([pdfimages, "-list", str(path)], capture_output=True, text=True).stdout.splitlines()[2:]
            return max((max(int(r.split()[12]), int(r.split()[13])) for r in rows), default=0)

        ppi_ours, ppi_gs = max_ppi(out_ours), max_ppi(out_gs)
    a, b = best(ours), best(theirs)
    ratio = a.wall / b.wall
    ok = ratio <= TARGET and size_ours <= size_gs and size_ours <= LIMIT
    print(f"fitting a {args.pages}-page 300 dpi scan ({source.stat().st_size / 1e6:.1f} MB) to {LIMIT} bytes, "
          f"best of {args.runs}")
    print(f"{'':22}{'wall s':>9}{'peak MiB':>10}{'output bytes':>14}{'max ppi':>9}")
    print(f"{'refuge (packets._fit)':22}{a.wall:9.2f}{peak_mib(ours):10.0f}{size_ours:14d}{ppi_ours:9d}")
    print(f"{'gs /ebook':22}{b.wall:9.2f}{peak_mib(theirs):10.0f}{size_gs:14d}{ppi_gs:9d}")
    print(f"ratio {ratio:.2f} (target <= {TARGET}); output {size_ours / size_gs:.2f} x gs's (target <= 1); "
          f"{'PASS' if ok else 'FAIL'}")
    print(json.dumps({"name": "fit", "refuge_s": a.wall, "gs_s": b.wall, "ratio": ratio, "refuge_bytes": size_ours,
                      "gs_bytes": size_gs, "refuge_peak_mib": peak_mib(ours), "gs_peak_mib": peak_mib(theirs),
                      "pass": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    run_script("bench_fit", main)
