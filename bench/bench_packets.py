#!/usr/bin/env python3
"""Benchmark: assemble a 200-page packet of 20 documents, next to qpdf merging the same inputs.

    bench/bench_packets.py                # 20 documents x 10 pages, best of 3
    bench/bench_packets.py --runs 1

Twenty reportlab PDFs of ten pages each (half letter, half A4) go through
:func:`packets.assemble.build` for the irb-rpd-disclosure profile with no redaction
and no flattening: rendering onto packet pages, cover letter, index with links,
bookmarks, page-number stamps, deterministic save. The marginal cost per page is
(t(20 documents) - t(1 document)) / (pages(20) - pages(1)), measured in this process
so that interpreter start-up does not count. Side by side, in the same run:
``qpdf --empty --pages <the same 20 files> -- out.pdf``, the floor for merely merging.

Target (issue #4): at most 5 ms per page.
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import need_tool, scratch  # noqa: E402

TARGET_MS = 5.0


def make_pdf(n: int, pages: int = 10) -> bytes:
    from reportlab.lib.pagesizes import A4, letter
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4 if n % 2 else letter, invariant=1)
    for p in range(pages):
        y = 760
        for line in range(40):
            c.drawString(60, y, f"Document {n}, page {p + 1}, line {line}: fictional text for the benchmark.")
            y -= 17
        c.showPage()
    c.save()
    return buf.getvalue()


def assemble(docs: list[bytes]) -> tuple[float, int]:
    from packets.assemble import build
    from packets.model import Item, PacketRequest
    from packets.profiles import get_profile

    items = [Item(doc_id=f"bench-d{i:02d}", title=f"Document {i}", type="country-evidence", date="2026-11-23",
                  mime="application/pdf", data=d) for i, d in enumerate(docs)]
    request = PacketRequest(profile=get_profile("irb-rpd-disclosure"), items=items, sender_org="Bench", date="2026-11-23")
    t = time.perf_counter()
    volumes = build(request)
    return time.perf_counter() - t, volumes[-1].last_page


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    qpdf = need_tool("qpdf")
    docs = [make_pdf(i) for i in range(20)]
    assemble(docs[:1])  # warm imports and fonts
    small = min(assemble(docs[:1])[0] for _ in range(args.runs))
    full_runs = [assemble(docs) for _ in range(args.runs)]
    full, pages = min(full_runs)
    small_pages = assemble(docs[:1])[1]
    per_page_ms = (full - small) / (pages - small_pages) * 1000
    with scratch("packets") as d:
        paths = []
        for i, data in enumerate(docs):
            p = Path(d) / f"d{i}.pdf"
            p.write_bytes(data)
            paths.append(str(p))
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([qpdf, "--empty", "--pages", *paths, "--", str(Path(d) / "out.pdf")], check=True)
            times.append(time.perf_counter() - t)
    qpdf_ms = min(times) / pages * 1000
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = per_page_ms <= TARGET_MS
    print(f"packet assembly: {pages} pages, {full:.3f} s; marginal {per_page_ms:.2f} ms/page "
          f"(target <= {TARGET_MS} ms); qpdf --empty --pages: {min(times):.3f} s = {qpdf_ms:.2f} ms/page; "
          f"ratio to qpdf {per_page_ms / qpdf_ms:.2f}x; peak RSS {rss:.0f} MiB; {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
