#!/usr/bin/env python3
"""Benchmark: a 200-page packet's pages rebuilt from pixels and recognised, next to
``pdftoppm`` plus ``tesseract`` run directly on the same pages with the same parallelism.

    bench/bench_flatten.py                  # 200 pages, best of 2
    bench/bench_flatten.py --pages 20 --runs 1

The input is a 200-page PDF made by code (typed pages of text, every tenth page a scan-like
image), at the flatten resolution of the shipped profiles (150 dpi). Timed, each as a
subprocess through GNU time (wall, peak RSS):

* refuge: ``packets._flatten.flatten_pdf`` over every page with ``text_layer=True``: each
  page rendered by pdfium, encoded (Flate or JPEG), decoded again and recognised by one
  Tesseract process per page (eng+spa+fra, psm 1, one thread), the words written back as
  the invisible text layer; a process pool on every core;
* reference: ``pdftoppm -r 150 -gray -f N -l N`` then ``tesseract PAGE stdout -l
  eng+spa+fra --psm 1 tsv`` for each page, as many pages at once as refuge uses cores
  (OMP_THREAD_LIMIT=1 each), the way ``xargs -P`` would.

Target (issue #22): refuge's wall time at most 1.2 x the reference's.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from common import OUT, Result, best, measure, need_tool, peak_mib, run_script, scratch_dir, settle, write_json  # noqa: E402

TARGET = 1.2
DPI = 150


def make_pdf(n_pages: int) -> bytes:
    """Typed pages of text, every tenth one a scan-like image of text."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(612, 792))
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    words = ("the claimant described the events of that year to the officer in detail and the "
             "clinic kept a record of each statement made").split()
    for k in range(n_pages):
        lines = [" ".join(words[(k + j) % len(words):] + words[:(k + j) % len(words)])[:80] for j in range(30)]
        if k % 10 == 9:
            im = Image.new("L", (1275, 1650), 250)
            d = ImageDraw.Draw(im)
            for j, line in enumerate(lines):
                d.text((100, 120 + j * 48), line[:60], fill=20, font=font)
            jpeg = io.BytesIO()
            im.save(jpeg, "JPEG", quality=75)
            c.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, 612, 792)
        else:
            c.setFont("Helvetica", 11)
            for j, line in enumerate(lines):
                c.drawString(60, 740 - j * 22, line)
        c.drawString(280, 30, f"Page {k + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def refuge_side(path: str, workers: int) -> None:
    """Flatten and recognise every page (run as the timed child)."""
    import pikepdf

    from packets._flatten import flatten_pdf

    data = Path(path).read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        found = flatten_pdf(pdf, data, {i: [] for i in range(len(pdf.pages))}, DPI, workers, text_layer=True)
        assert len(found) == len(pdf.pages)
        out = io.BytesIO()
        pdf.save(out)


def reference_side(path: str, workers: int) -> None:
    """pdftoppm then tesseract, page by page, ``workers`` pages at once (the timed child)."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        n = len(pdf.pages)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    work = Path(os.environ.get("BENCH_SCRATCH", "/tmp"))

    def one(k: int) -> None:
        stem = work / f"ref-{k}"
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-f", str(k), "-l", str(k), "-singlefile", path,
                        str(stem)], check=True, capture_output=True)
        subprocess.run(["tesseract", f"{stem}.pgm", "stdout", "-l", "eng+spa+fra", "--psm", "1", "tsv"], env=env,
                       check=True, capture_output=True)
        os.unlink(f"{stem}.pgm")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(1, n + 1)))


def run(n_pages: int, runs: int) -> Result:
    for tool in ("pdftoppm", "tesseract"):
        need_tool(tool)
    work = scratch_dir("flatten")
    pdf = work / "packet.pdf"
    pdf.write_bytes(make_pdf(n_pages))
    workers = len(os.sched_getaffinity(0))
    env = dict(os.environ, PYTHONPATH=str(BENCH.parent), BENCH_SCRATCH=str(work))
    me = [sys.executable, str(Path(__file__).resolve())]
    mine, ref = [], []
    for _ in range(runs):
        settle()
        mine.append(measure([*me, "--side", "refuge", str(pdf), "--workers", str(workers)], env=env))
        settle()
        ref.append(measure([*me, "--side", "reference", str(pdf), "--workers", str(workers)], env=env))
    a, b = best(mine), best(ref)
    ratio = a.wall / b.wall
    print(f"flatten + recognise, {n_pages} pages at {DPI} dpi, {workers} workers")
    print(f"  refuge (pdfium, encode, decode, tesseract, text layer): {a.wall:8.2f} s  peak {peak_mib(mine):7.1f} MiB")
    print(f"  pdftoppm + tesseract directly:                          {b.wall:8.2f} s  peak {peak_mib(ref):7.1f} MiB")
    print(f"  ratio {ratio:.2f} (target <= {TARGET}): {'PASS' if ratio <= TARGET else 'FAIL'}")
    result = Result("flatten", f"{a.wall:.2f} s", f"pdftoppm + tesseract, {workers} processes, {b.wall:.2f} s",
                    round(ratio, 2), f"<= {TARGET}", peak_mib(mine), ratio <= TARGET,
                    details={"pages": n_pages, "dpi": DPI, "workers": workers,
                             "reference_peak_mib": peak_mib(ref)})
    write_json(OUT / "flatten.json", result.as_dict())
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--side", choices=("refuge", "reference"))
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("file", nargs="?")
    args = ap.parse_args()
    if args.side:
        t0 = time.perf_counter()
        (refuge_side if args.side == "refuge" else reference_side)(args.file, args.workers or 1)
        print(f"{time.perf_counter() - t0:.2f}", file=sys.stderr)
        return 0
    return 0 if run(args.pages, args.runs).passed else 1


if __name__ == "__main__":
    run_script("bench_flatten", main)
