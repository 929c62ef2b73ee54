#!/usr/bin/env python3
"""Benchmark: coverage of people and places in declarations (en, es, fr), text PDFs, scans, phone photos.

    bench/bench_coverage.py              # 3 declarations per language, every kind of page
    bench/bench_coverage.py --per-lang 1 --json

Each declaration (tests/declarations.py: a principal with a passport number, a sister, a
brother, two perpetrators, a town, an address, a clinic, a hiding place, two control
lines) is made as a text PDF, a scan (PNG, 200 dpi) and a phone photo (JPEG q60, turned
1 degree, blurred). For each:

* **registered recall**: the case's people and places registered, the document goes
  through the redaction stage as a frontline-defenders packet would (recognition on,
  every page flattened); the output is rendered (pdftoppm) and read back by tesseract
  (eng+spa+fra); every word (3+ letters) of every registered name (a name part is a
  variant redacted alone), every registered place as a whole, and the passport number
  must be gone. Recall = gone / planted. Words of a place read elsewhere as ordinary
  words ("casa" of "Casa Alianza") are listed, not counted.
* **candidate recall**: with nothing registered, the names and places found
  (packets/candidates.py) in the text layer, or in what tesseract reads from the page;
  a person or place counts as flagged when a candidate holds its last word. Target 95%.
* **over-redaction**: words of 4+ letters of the control lines that tesseract reads in
  the input but no longer in the redacted output. Target under 2%.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import need_tool, run_script  # noqa: E402

KINDS = ("text-pdf", "scan", "phone-photo")


def _skel(text: str) -> str:
    d = unicodedata.normalize("NFKD", text)
    return "".join(c for c in d if not unicodedata.combining(c)).casefold()


def _words(text: str, least: int) -> list[str]:
    return [w for w in re.findall(r"\w+", _skel(text)) if len(w) >= least and not w.isdigit()]


def _document(decl, kind: str):
    import declarations

    from packets.model import Item

    if kind == "text-pdf":
        return Item("d1", "Declaration", "legal-declaration", "2026-01-01", "application/pdf",
                    declarations.text_pdf(decl))
    if kind == "scan":
        return Item("d1", "Declaration", "legal-declaration", "2026-01-01", "image/png", declarations.scan(decl))
    return Item("d1", "Declaration", "legal-declaration", "2026-01-01", "image/jpeg", declarations.phone_photo(decl))


def _read(item) -> str:
    """What a recipient's OCR reads from the document (every kind rendered first)."""
    from scans import ocr, rasterise

    if item.mime == "application/pdf":
        return " ".join(ocr(png, lang="eng+spa+fra") for png in rasterise(item.data))
    return ocr(item.data, lang="eng+spa+fra")


def _redacted(item, decl) -> bytes:
    import dataclasses

    from packets.assemble import build
    from packets.model import PacketRequest
    from packets.profiles import get_profile
    from packets.redact import Redactor
    from packets.variants import register_rules

    people = [dict(p, id=f"p{i}", aliases=[], doc_numbers=p.get("doc_numbers", []), dob=None,
                   category="third-party") for i, p in enumerate(decl.people)]
    places = [dict(pl, id=f"l{i}", category="location") for i, pl in enumerate(decl.places)]
    profile = dataclasses.replace(get_profile("frontline-defenders"), excluded_types=())
    redactor = Redactor(register_rules(people, places), profile, ocr=True)
    items = redactor.prepare([item])
    volumes = build(PacketRequest(profile, items, "Fictional Legal Clinic", "2026-01-02", redact=redactor))
    return volumes[0].data


def _candidate_text(item) -> str:
    from packets._isolated import _document_text

    if item.mime == "application/pdf":
        return "\n".join(t for _n, t in _document_text(item.mime, item.data, {}))
    from scans import ocr

    return ocr(item.data, lang="eng+spa+fra")


def measure_one(decl, kind: str) -> dict:
    from scans import ocr, rasterise

    from packets.candidates import find_candidates

    item = _document(decl, kind)
    started = time.monotonic()
    # candidates, nothing registered
    found = [_words(c.text, 1) for c in find_candidates(_candidate_text(item))]
    targets = [p["name"] for p in decl.people[1:]] + [pl["text"] for pl in decl.places]
    flagged = sum(1 for t in targets if any(_words(t, 3)[-1] in f for f in found))
    # registered, redacted, read back
    before = set(_words(_read(item), 4))
    out = _redacted(item, decl)
    after_text = " ".join(ocr(png, lang="eng+spa+fra") for png in rasterise(out))
    after = _skel(after_text)
    # a person's name parts are variants the register redacts alone; a place is redacted as a whole
    # (its words alone are not variants: "casa" of "Casa Alianza" is an ordinary Spanish word)
    planted = [w for p in decl.people for w in _words(p["name"], 3)] + [" ".join(_words(pl["text"], 1))
                                                                       for pl in decl.places]
    after_words = " ".join(_words(after_text, 1))
    survived = [w for w in planted if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", after_words)]
    elsewhere = [w for pl in decl.places for w in _words(pl["text"], 3)
                 if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", after_words)]
    number = decl.people[0]["doc_numbers"][0].lower()
    control = [w for line in decl.control for w in _words(line, 4) if w in before]
    lost = [w for w in control if w not in set(_words(after_text, 4))]
    return {"lang": decl.lang, "kind": kind, "targets": len(targets), "flagged": flagged, "planted": len(planted),
            "survived": len(survived), "survivors": survived, "place_words_elsewhere": elsewhere,
            "number_survived": number in after.replace(" ", ""),
            "control": len(control), "control_lost": len(lost), "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-lang", type=int, default=3, help="declarations per language (default 3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    need_tool("tesseract")
    need_tool("pdftoppm")
    import declarations

    rows = [measure_one(declarations.declaration(lang, n), kind)
            for lang in ("en", "es", "fr") for n in range(args.per_lang) for kind in KINDS]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'lang':4} {'kind':12} {'registered recall':>18} {'candidate recall':>17} {'control lost':>13} {'number':>7}")
    for lang in ("en", "es", "fr"):
        for kind in KINDS:
            sel = [r for r in rows if r["lang"] == lang and r["kind"] == kind]
            planted, survived = sum(r["planted"] for r in sel), sum(r["survived"] for r in sel)
            targets, flagged = sum(r["targets"] for r in sel), sum(r["flagged"] for r in sel)
            control, lost = sum(r["control"] for r in sel), sum(r["control_lost"] for r in sel)
            print(f"{lang:4} {kind:12} {100 * (planted - survived) / planted:17.1f}% {100 * flagged / targets:16.1f}% "
                  f"{100 * lost / max(control, 1):12.1f}% {'kept' if any(r['number_survived'] for r in sel) else 'gone':>7}")
    leaks = [(r["lang"], r["kind"], r["survivors"]) for r in rows if r["survivors"]]
    if leaks:
        print("names or places that survived:", leaks)
    common = sorted({w for r in rows for w in r["place_words_elsewhere"]})
    if common:
        print("words of registered places read elsewhere in the text (not variants):", common)
    return 0


if __name__ == "__main__":
    run_script("bench_coverage", main)
