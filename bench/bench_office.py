#!/usr/bin/env python3
"""Benchmark: converting and rendering a 50-page .docx, next to LibreOffice run directly.

    bench/bench_office.py                 # 50 pages, best of 3
    bench/bench_office.py --pages 10 --runs 1

The document is made with python-docx: 50 pages of paragraphs (a heading, body text and a
table on each page). Timed, as a subprocess each (``python bench/bench_office.py --inner DOCX``):
what refuge does with it for a packet: the keyless worker (a fresh interpreter, its limits,
no network) writes it to a private folder in memory, reads its comments and tracked changes,
runs LibreOffice with a fresh private profile that forbids macros, and the rendition is then
rendered into packet pages (packets.render: every page placed on the profile's page size).
Side by side, in the same run: ``soffice --headless --convert-to pdf`` on the same file, with
a fresh profile folder too (``-env:UserInstallation``): what LibreOffice costs on its own.
Peak RSS is the measured process's own and that of the children it waited for (LibreOffice).

Target (issue #17): refuge's wall time at most 1.2 x soffice's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from common import (
    OUT,
    BenchError,
    Result,
    best,
    measure,
    need_tool,
    peak_mib,
    run_script,
    scratch_dir,
    settle,
    write_json,
)

TARGET = 1.2
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_docx(path: Path, pages: int) -> None:
    """A report of ``pages`` pages: a heading, three paragraphs and a small table on each."""
    import docx
    from docx.enum.text import WD_BREAK

    d = docx.Document()
    body = ("The applicant described the events of that week in detail, the people present, "
            "the places where she stayed and the threats she received by telephone and in person. ") * 4
    for n in range(1, pages + 1):
        d.add_heading(f"Section {n}", level=1)
        for _ in range(3):
            d.add_paragraph(body)
        table = d.add_table(rows=3, cols=3)
        for r in range(3):
            for c in range(3):
                table.cell(r, c).text = f"cell {n}.{r}.{c}"
        if n < pages:
            d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    d.save(path)


def inner(path: str) -> int:
    """What is timed for refuge: the rendition in the keyless worker, then rendering into packet pages."""
    from packets.model import Item
    from packets.profiles import get_profile
    from packets.render import render_item
    from vault import renditions

    data = Path(path).read_bytes()
    made = renditions.convert(data, DOCX, "the benchmark document")
    rendered = render_item(Item(doc_id="bench", title="", type="other", date="2026-01-01", mime=made.mime,
                                data=made.data), get_profile("irb-rpd-disclosure"))
    print(rendered.page_count)
    return 0


def run(pages: int, runs: int) -> Result:
    soffice = need_tool("soffice")
    work = scratch_dir("office-")
    try:
        doc = work / "report.docx"
        make_docx(doc, pages)
        ours, ref = [], []
        for i in range(runs):
            print(f"  office round {i + 1}/{runs} ({pages} pages)", file=sys.stderr, flush=True)
            profile = work / f"profile-{i}"
            settle()
            ref.append(measure([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                                "pdf", "--outdir", str(work / "direct"), str(doc)]))
            shutil.rmtree(profile, ignore_errors=True)
            settle()
            out = work / "pages.txt"
            env = dict(os.environ, PYTHONPATH=str(BENCH.parent))
            ours.append(measure([sys.executable, "-P", str(Path(__file__).resolve()), "--inner", str(doc)], env,
                                stdout=out))
        got = int(out.read_text().strip() or 0)
        direct = _pages(work / "direct" / "report.pdf")
        if got < direct or direct < pages:
            raise BenchError(f"refuge rendered {got} pages, LibreOffice alone made {direct} (asked for {pages})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t_ours, t_ref = best(ours).wall, best(ref).wall
    ratio = t_ours / t_ref
    return Result(
        "office", f"{t_ours:.2f} s ({pages} pages)", f"soffice --convert-to pdf {t_ref:.2f} s", ratio,
        f"<= {TARGET} x", peak_mib(ours), ratio <= TARGET,
        details={"pages": pages, "rendered_pages": got, "runs": runs, "refuge_s": [round(r.wall, 3) for r in ours],
                 "soffice_s": [round(r.wall, 3) for r in ref], "soffice_peak_mib": round(peak_mib(ref), 1)},
        notes=["refuge: the keyless worker's conversion (markup scan, private profile, LibreOffice) and packet "
               "rendering; soffice: the same file with a fresh profile"],
    )


def _pages(pdf: Path) -> int:
    import pikepdf

    with pikepdf.open(pdf) as p:
        return len(p.pages)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--inner", metavar="DOCX", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args.inner)
    res = run(args.pages, args.runs)
    write_json(OUT / "results-office.json", res.as_dict())
    print(f"{res.name}: refuge {res.ours}  |  {res.reference}  |  ratio {res.ratio:.2f} x  |  peak RSS "
          f"{res.rss_mib:.1f} MiB (soffice alone {res.details['soffice_peak_mib']} MiB)  |  target {res.target}  |  "
          f"{'PASS' if res.passed else 'FAIL'}")
    print(json.dumps(res.details))
    return 0 if res.passed else 3


if __name__ == "__main__":
    run_script("bench_office", main, 1)
