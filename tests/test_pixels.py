"""Issue #22: pages rebuilt from pixels and read back, a matcher that survives disguises,
glyph-fitted boxes, and progress."""

from __future__ import annotations

import io
import subprocess

import pikepdf
import pytest

import adversarial_corpus as corpus
import canaries
from conftest import ACCEPT_GAPS, require_tool
from packets.detectors import Needle, fold_text
from vault.errors import VerificationFailed


def _pdftotext(data: bytes) -> str:
    return subprocess.run([require_tool("pdftotext"), "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


# ----------------------------------------------------------------------------- matching


NAME = Needle("r1", "always", "term", "Ana María López Pérez")
NUMBER = Needle("r2", "always", "term", "G47201938")


@pytest.mark.parametrize("text", [
    "АNA MАRÍА LÓPEZ PÉREZ",  # Cyrillic A
    "Αna Μaría Lόpez Ρérez",  # Greek capitals and an accented omicron
    "ana_maria_lopez_perez.pdf",
    "A.n.a María López-Pérez",
    "Ana María | 1990-01-01 | Passport\nLópez Pérez",  # a table cell wrapped under its row
    "Ana María López\n- 3 -\nPérez",  # a page number between the halves
])
def test_a_name_matches_through_look_alikes_separators_and_wraps(text):
    assert NAME.search(fold_text(text)), text


@pytest.mark.parametrize("text", [
    "G472019384MEX9001011F3001012<<<<<<<<<<<<<<02",  # TD3 MRZ: the check digit glued on
    "I<MEXG472019384<<<<<<<<<<<<<<<",  # TD1: the state glued before
    "No. G 4720-1938", "g47201938_scan.pdf",
])
def test_a_number_matches_in_mrz_lines_and_with_separators(text):
    assert NUMBER.search(fold_text(text)), text


def test_an_mrz_name_line_matches_the_surname_first_variant():
    variant = Needle("r3", "always", "term", "López Pérez Ana María")
    assert variant.search(fold_text("P<MEXLOPEZ<PEREZ<<ANA<MARIA<<<<<<<<<<<<<<<<<<<<"))


@pytest.mark.parametrize("text", ["G472019385", "155 1234 56789 x", "Banana María", "Ana, then a long story about"
                                  " many other people and places far away, López"])
def test_what_is_not_the_secret_does_not_match(text):
    assert not NUMBER.search(fold_text(text)) and not NAME.search(fold_text(text))


def test_only_the_secrets_own_words_are_burned_not_the_words_between():
    text = fold_text("Ana María | 1990-01-01 | Passport López Pérez")
    [parts] = NAME.spans(text)
    assert [text[a:b] for a, b in parts] == ["ana maria", "lopez perez"]


# --------------------------------------------------------------------- rebuilt from pixels


def _build(data: bytes, rules=None, profile="irb-rpd-disclosure", **changes):
    from packets.model import Item

    item = Item("d-one", "Letter", "legal-declaration", "2026-01-01", "application/pdf", data)
    return canaries.build_packet([item], rules if rules is not None else corpus.RULES, profile, **changes)


def test_pixels_outside_the_crop_box_and_masked_pixels_do_not_survive():
    cases = {c.form: c for c in corpus.hidden_in_images()}
    for form in ("outside-crop-box", "smask-hidden", "bytes-after-pixels", "jpeg2000-xml-box"):
        [vol], _red = _build(cases[form].data)
        assert corpus.leaks(vol.data, ocr=False) == {}, form
        with pikepdf.open(io.BytesIO(vol.data)) as pdf:
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == "/Image":
                    assert "/SMask" not in obj and obj.get("/Filter") in ("/FlateDecode", "/DCTDecode"), form


def test_a_hidden_data_page_is_read_from_its_pixels_and_burned_before_flattening():
    """A name painted by a tiling pattern: no text extraction sees it, the object scan does;
    the page is recognised even with OCR off, and what shows is burned."""
    [case, _] = corpus.tiling_pattern()
    [vol], red = _build(case.data)
    [info] = red.pages
    assert "hidden data" in info.reasons and any(m.boxes for m in info.marks)
    assert corpus.leaks(vol.data) == {}


def test_the_leak_check_reads_the_pixels_of_an_unflattened_page():
    """A profile that keeps pages as they are still cannot send a name drawn as outlines: the
    final check renders the page, recognises it and refuses (exit 3)."""
    [case, _] = corpus.vector_outlines()
    with pytest.raises(VerificationFailed) as e:
        _build(case.data, flatten="hits")
    assert e.value.exit_code == 3 and "OCR of the page" in str(e.value)
    assert "yolotzin" not in str(e.value).lower()


def test_a_qr_code_holding_the_name_is_burned():
    [_photo, letter] = corpus.qr_codes()
    [vol], red = _build(letter.data, ocr=True)
    assert any(m.boxes for p in red.pages for m in p.marks)
    assert corpus.leaks(vol.data) == {}


# ------------------------------------------------------------------ boxes fitted to glyphs


def test_burned_boxes_spare_the_letters_next_to_the_name():
    """The name between words with no space to spare: after burning, the text layer
    recognised from the pixels still reads the words on both sides."""
    def draw(c, _k):
        c.setFont("Helvetica", 14)
        c.drawString(72, 700, f"Claimant:{corpus.NAME},born abroad.")
        c.drawString(72, 670, f"Passport({corpus.NUMBER})issued 2019.")
    data = corpus._reportlab(draw)
    [vol], _red = _build(data)
    text = " ".join(_pdftotext(vol.data).split())
    assert "Claimant" in text and "born" in text and "Passport" in text and "issued" in text
    assert corpus.leaks(vol.data, ocr=False) == {}


# ------------------------------------------------------------------------------- progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_on_a_terminal_is_one_bar_with_pages_and_time_left():
    from refuge.output import Progress

    out = io.StringIO()
    p = Progress(out, tty=True)
    p.clock = clock = _Clock()
    p("rebuilding pages", 0, 10)
    clock.now += 20
    p("rebuilding pages", 4, 10)
    p.end()
    last = out.getvalue().split("\r\x1b[2K")[-1]
    assert "rebuilding pages [" in last and "page 4 of 10" in last and "about 30 s left" in last


def test_progress_elsewhere_is_one_line_per_stage():
    from refuge.output import Progress

    out = io.StringIO()
    p = Progress(out, tty=False)
    for stage, n in (("decrypting 2 documents", 0), ("rebuilding pages", 1), ("rebuilding pages", 2), ("signing", 0)):
        p(stage, n, 2)
    assert out.getvalue() == "refuge: decrypting 2 documents...\nrefuge: rebuilding pages...\nrefuge: signing...\n"


def test_the_worker_reports_pages_as_they_are_rebuilt():
    from packets._isolated import produce_here
    from packets.model import Item
    from packets.profiles import get_profile

    [case] = corpus.wrapped_text()[1:]
    items = [Item("d-one", "Letter", "legal-declaration", "2026-01-01", "application/pdf", case.data)]
    seen = []
    request = {"items": items, "profile": get_profile("unhcr-resettlement"), "sender_org": "Clinic",
               "today": "2026-01-10", "redactions": corpus.RULES, "reviews": [], "ocr": False, "ocr_cache": {}}
    produce_here(request, items, lambda m: seen.append(m) if "stage" in m else None)
    pages = [(m["n"], m["total"]) for m in seen if "rebuilding pages from pixels" in m["stage"]]
    assert pages[0] == (0, 2) and pages[-1] == (2, 2)
    assert [m["stage"] for m in seen][-1].startswith("checking the packet")


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_packet_build_prints_a_line_per_stage_and_plan_says_how_pages_leave(packet_world, tmp_path, monkeypatch):
    w = packet_world
    w.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin")
    plan = w.ok("packet", "plan", "MX-0001", "--for", "unhcr-resettlement", user="erin")
    assert "flattening: off" not in plan
    out = tmp_path / "p.pdf"
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "unhcr-resettlement", "-o", str(out), "--allow-incomplete",
              user="erin")
    assert p.returncode == 0, p.stderr
    err = p.stderr.decode()
    assert "refuge: rendering, redacting, recognising and rebuilding pages from pixels...\n" in err  # shipped profiles recognise scans
    assert "refuge: signing...\n" in err and "\r" not in err
    # A team's copy of the profile that keeps the original files: the plan says so.
    import re
    import shutil

    from packets.profiles import default_templates_dir

    templates = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), templates)
    toml = templates / "unhcr-resettlement.toml"
    toml.write_text(re.sub(r'(?m)^flatten = "all".*$', 'flatten = "hits"', toml.read_text()))
    monkeypatch.setenv("REFUGE_TEMPLATES", str(templates))
    plan = w.ok("packet", "plan", "MX-0001", "--for", "unhcr-resettlement", user="erin")
    assert "flattening: off for unhcr-resettlement" in plan


@pytest.fixture
def packet_world(case_world):
    w = case_world
    w.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    w.ok("doc", "add", "MX-0001", str(w.docs["medical"]), "--type", "medical", user="bob")
    return w
