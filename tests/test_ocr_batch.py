"""Several pages in one Tesseract process, and Tesseract in this process through its
library: the same words and boxes as one page a process of the ``tesseract`` command.

packets/ocr.py's ``recognize`` reads pages with libtesseract's engines (packets/_tesslib.py)
where the library loads, and otherwise hands each process of the command its share of the
pages as one multi-page TIFF and splits the TSV by its page numbers. These tests recognise
realistic pages made by code (tests/scans.py: a scan's top part upright, the same turned a
quarter, a small copy, a blank page) once a page a process, batched, and in this process,
run the real ``tesseract`` through a wrapper that counts its processes, and compare every
word, box and confidence exactly."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

import scans
from conftest import require_tool

DPI = 200  # tests/scans.py draws its pages at 200 dpi


def _pages() -> list:
    """An upright scan's top (name, passport, CURP, phone), a blank page, the same top turned
    90 degrees, and a small copy at half the size: in that order, the blank one between."""
    from PIL import Image

    data, _record = scans.upright()
    top = Image.open(io.BytesIO(data)).convert("L").crop((0, 0, scans.PAGE_SIZE[0], 660))
    turned_data, _ = scans.rotated(90)  # a quarter turn counter-clockwise: the page's top is on the left
    turned = Image.open(io.BytesIO(turned_data)).convert("L").crop((0, 0, 660, scans.PAGE_SIZE[0]))
    blank = Image.new("L", (700, 900), 235)
    small = top.resize((top.width // 2, top.height // 2))
    return [top, blank, turned, small]


def _counting_tesseract(tmp: Path) -> tuple[Path, Path]:
    """A directory holding a ``tesseract`` that logs one line a process and runs the real one."""
    real = require_tool("tesseract")
    log = tmp / "runs.log"
    bindir = tmp / "bin"
    bindir.mkdir()
    wrapper = bindir / "tesseract"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return bindir, log


@pytest.fixture(scope="module")
def readings(tmp_path_factory):
    """The pages read three ways, with the command lines of the Tesseract processes each way
    started: by the command one page a process (the turned one at 300 dpi, the others at 200);
    by the command in one call of ``recognize`` with one process at a time (the three 200 dpi
    pages in one run, the blank one between the others, the 300 dpi page in a run of its own);
    and in this process, through libtesseract, with no process of the command (the blank page
    too: Leptonica reported nothing while the engine read it, so its empty reading is the page's)."""
    from packets import ocr

    bindir, log = _counting_tesseract(tmp_path_factory.mktemp("tess"))
    pages = _pages()
    dpis = [DPI, DPI, 300, DPI]
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        for way, here, call in (("alone", False, lambda: [ocr.recognize([im], 1, dpi=d)[0] for im, d in zip(pages, dpis)]),
                                ("batched", False, lambda: ocr.recognize(pages, 1, dpi=dpis)),
                                ("here", True, lambda: ocr.recognize(pages, 2, dpi=dpis))):
            mp.setattr(ocr, "IN_PROCESS", here)
            log.write_text("")
            out[way] = [p.to_dict() for p in call()]
            out[way + " argv"] = log.read_text().splitlines()
    return pages, out


def test_pages_read_in_this_process_or_batched_read_exactly_as_pages_read_alone(readings):
    pages, r = readings
    assert len(r["alone argv"]) == 4, "one process a page"
    assert len(r["batched argv"]) == 2, "one process for the 200 dpi pages, one for the 300 dpi page"
    assert len(r["here argv"]) == 0, "recognised in this process, the blank page too: no process of the command"
    alone = r["alone"]
    assert r["batched"] == alone, "pages read in one process differ from pages read one a process"
    assert r["here"] == alone, "pages read through libtesseract differ from the command's reading"
    words = [[w["text"] for w in page["words"]] for page in alone]
    assert any("Passport" in w for w in words[0]) and any("Passport" in w for w in words[2]), words
    assert len(words[3]) >= 10, "the small copy is read too"
    for page, im in zip(r["batched"], pages):
        assert (page["width"], page["height"]) == im.size
        for w in page["words"]:  # boxes in each image's own pixels
            x0, y0, x1, y1 = w["box"]
            assert 0 <= x0 < x1 <= im.width and 0 <= y0 < y1 <= im.height


def test_a_page_with_no_words_keeps_every_later_page_on_its_own_index(readings):
    _pages_, r = readings
    batch = r["batched"]
    assert batch[1]["words"] == [] and (batch[1]["width"], batch[1]["height"]) == (700, 900)
    assert batch[3] == r["alone"][3] and batch[3]["words"]
    assert batch[3]["words"][0]["box"] != r["alone"][0]["words"][0]["box"], "the small copy's own boxes"


def test_pages_at_another_resolution_go_in_a_run_of_their_own(readings):
    from packets import ocr

    _pages_, r = readings
    assert sorted(a.split("--dpi ")[1].split()[0] for a in r["batched argv"]) == ["200", "300"]
    # At most ``workers`` runs a resolution, of consecutive pages, as even as can be.
    assert ocr._runs([200, 200, 300, 200], 1) == [[0, 1, 3], [2]]
    assert ocr._runs([None] * 5, 2) == [[0, 1, 2], [3, 4]]
    assert ocr._runs([150, 150, 150, 150, 200], 3) == [[0, 1], [2], [3], [4]]
    assert ocr._runs([300, None], 2) == [[0], [1]]  # None is OCR_DPI: one resolution, two runs
    # And a run's pixels (its TIFF in memory) stay under RUN_PIXELS, unless one image alone is larger.
    big, half = ocr.RUN_PIXELS, ocr.RUN_PIXELS // 2
    assert ocr._runs([None] * 5, 1, [half, half, 1, big + 1, 1]) == [[0, 1], [2], [3], [4]]


@pytest.mark.parametrize("here", [True, False], ids=["in-process", "command"])
def test_missing_language_data_is_one_line_for_a_batch_too(readings, tmp_path, monkeypatch, here):
    from packets import ocr

    pages, _r = readings
    monkeypatch.setattr(ocr, "IN_PROCESS", here)
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # no traineddata there
    with pytest.raises(ocr.OcrError) as err:
        ocr.recognize(pages[:2], 1, dpi=DPI)
    assert str(err.value).startswith("tesseract lacks the eng, spa or fra language data")
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------ flattening

WORDS = ["Lantern", None, "Orchard", "Harbour", "Meadow"]  # None: a page with no words


def _small_pdf() -> bytes:
    """Five small pages, each with its own two words in large type; the second one blank."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(300, 220))
    for k, word in enumerate(WORDS):
        if word:
            c.setFont("Helvetica", 30)
            c.drawString(30, 120, f"{word} {k + 1}4{k + 1}")
            c.drawString(30, 60, word.upper())
        c.showPage()
    c.save()
    return buf.getvalue()


def test_a_flattening_worker_reads_its_chunk_in_one_run_and_every_page_keeps_its_words(tmp_path, monkeypatch):
    """Two pool workers, five pages (the blank one in the middle of the first chunk): two
    Tesseract processes; each rebuilt page's text layer (read by pdftotext) holds its own words
    only, and the leak check recalls each image's reading by its very bytes."""
    import subprocess

    import pikepdf

    from packets import ocr
    from packets._flatten import flatten_pdf

    bindir, log = _counting_tesseract(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setattr(ocr, "IN_PROCESS", False)  # the command's runs are what is counted (the pool forks)
    data = _small_pdf()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        found = flatten_pdf(pdf, data, {i: [] for i in range(len(WORDS))}, workers=2, text_layer=True)
        out = tmp_path / "flat.pdf"
        pdf.save(out)
    assert len(log.read_text().splitlines()) == 2, "one Tesseract run a worker's chunk"
    assert sorted(found) == list(range(len(WORDS)))
    for k, word in enumerate(WORDS):
        text = subprocess.run([require_tool("pdftotext"), "-f", str(k + 1), "-l", str(k + 1), str(out), "-"],
                              capture_output=True, check=True, text=True).stdout
        others = [w for w in WORDS if w and w != word]
        if word is None:
            assert found[k].words == [] and not text.strip()
        else:
            assert word in text and word.upper() in text, (k, text)
        assert not any(w in text for w in others), (k, text)
    with pikepdf.open(out) as pdf:
        for k, page in enumerate(pdf.pages):
            (image,) = list(page.obj.Resources.XObject.values())
            assert ocr.recall(image.read_raw_bytes()) is found[k]


def test_the_tests_own_reading_of_several_images_in_one_process_is_each_image_read_alone(readings, tmp_path):
    """scans.ocr_each (the checks' independent reading: a tesseract file list) gives each image
    the text scans.ocr reads in it alone, a blank image between keeping the later ones in place;
    an image tesseract cannot read makes the run fall back to reading each image alone."""
    pages, _r = readings
    images = []
    for k in (3, 1, 0):  # the small copy, the blank page, the upright top: PNG bytes
        buf = io.BytesIO()
        pages[k].save(buf, "PNG")
        images.append(buf.getvalue())
    alone = [scans.ocr(im, dpi=DPI) for im in images]
    assert "Passport" in alone[2] and not alone[1].strip()
    assert scans.ocr_each(images, dpi=DPI) == alone
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    assert scans.ocr_each([images[0], broken], dpi=DPI, strict=False) == [alone[0], ""]


def test_a_run_that_leaves_a_page_out_is_an_error_never_a_page_without_words(tmp_path):
    """A Tesseract whose TSV lacks one page (here: the real one's output with page 2's rows cut
    out) must not make that page read as holding no words, which would let a name in it pass
    the redaction rules unseen: recognition stops with a one-line error."""
    from packets import ocr

    real = require_tool("tesseract")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "tesseract"
    wrapper.write_text(f'#!/bin/sh\n"{real}" "$@" | awk -F "\\t" \'$2 != "2"\'\n')
    wrapper.chmod(0o755)
    pages = _pages()[:3]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        mp.setattr(ocr, "IN_PROCESS", False)
        with pytest.raises(ocr.OcrError, match="did not read every page"):
            ocr.recognize(pages, 1, dpi=DPI)
        assert ocr.recognize(pages[:1], 1, dpi=DPI)[0].words, "a run of one page is read as before"


def _fresh_interpreter(code: str) -> str:
    """What ``code`` prints, run by a new interpreter from the checkout (nothing of this process loaded)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_an_engine_in_this_process_uses_one_thread_as_the_command_is_run():
    """OpenMP inside libtesseract would start threads of its own for every engine (the command
    is run with OMP_THREAD_LIMIT=1 for that): in a fresh interpreter, after a page is read
    through the library, the process still has one thread and libgomp's limit is 1. Engines
    are kept and reused; a second is made only for a call with more than two pages."""
    code = ("import ctypes, sys\n"
            "from PIL import Image, ImageDraw\n"
            "from packets import ocr, _tesslib\n"
            "im = Image.new('L', (900, 300), 255)\n"
            "ImageDraw.Draw(im).text((40, 120), 'Lantern Orchard Harbour', fill=0, font_size=60)\n"
            "[page] = ocr.recognize([im], 1, dpi=200)\n"
            "threads = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Threads:')][0]\n"
            "engines = [len(_tesslib._ALL)]\n"
            "for pages in (2, 4):  # a second engine (its models loaded again) only for more than two pages\n"
            "    ocr.recognize([im] * pages, 2, dpi=200)\n"
            "    engines.append(len(_tesslib._ALL))\n"
            "print(_tesslib.available(), ctypes.CDLL('libgomp.so.1').omp_get_thread_limit(), threads,\n"
            "      ' '.join(map(str, engines)), ' '.join(w.text for w in page.words))\n")
    stdout = _fresh_interpreter(code)
    here, limit, threads, *engines, words = stdout.split(" ", 6)
    assert (here, limit, threads) == ("True", "1", "1"), stdout
    assert engines == ["1", "1", "2"], "engines made for 1, then 2, then 4 pages"
    assert "Orchard" in words


def _blank_engine(monkeypatch, report: bool) -> None:
    """Engines that read a white page whatever they are given (an engine that read nothing of the
    page), with Leptonica reporting a failure through its real handler while they read, or not."""
    import ctypes

    from packets import _tesslib

    lib = _tesslib._load()
    real_tsv, real_resolution = _tesslib.Engine.tsv, lib.TessBaseAPISetSourceResolution
    lept_depth = lib.pixGetDepth
    lept_depth.argtypes, lept_depth.restype = [ctypes.c_void_p], ctypes.c_int

    def resolution(api, dpi):  # called while the page is read: a NULL image makes Leptonica report
        real_resolution(api, dpi)
        if report:
            lept_depth(None)  # "Error in pixGetDepth: pix not defined", as a pix not made under a memory limit

    monkeypatch.setattr(lib, "TessBaseAPISetSourceResolution", resolution)
    monkeypatch.setattr(_tesslib.Engine, "tsv", lambda self, grey, width, height, dpi, timeout:
                        real_tsv(self, b"\xff" * len(grey), width, height, dpi, timeout))


def test_a_page_read_while_leptonica_reported_a_failure_is_read_again_by_the_command(readings, monkeypatch):
    """An engine short of memory under the worker's address-space limit: Leptonica reports the
    image it could not make through its handler, and Tesseract may then read less than is on the
    page, or nothing. Here an engine that reads nothing while Leptonica reports: recognize must not
    take that for the page's reading (a name on it would pass the redaction rules): the command
    reads the page again in a process of its own, and its words come back."""
    from packets import ocr

    pages, r = readings
    monkeypatch.setattr(ocr, "IN_PROCESS", True)
    _blank_engine(monkeypatch, report=True)
    [page] = ocr.recognize([pages[0]], 1, dpi=DPI)
    assert page.to_dict() == r["alone"][0] and page.words


def test_a_page_an_engine_reads_as_empty_with_no_report_is_empty(readings, monkeypatch):
    """The same engine reading nothing, with nothing reported: the engine's reading is the
    page's (a blank page), and no process of the command reads it again."""
    from packets import ocr

    pages, _r = readings
    monkeypatch.setattr(ocr, "IN_PROCESS", True)
    monkeypatch.setattr(ocr, "_recognize_command", lambda images, dpi=None: pytest.fail("read again"))
    _blank_engine(monkeypatch, report=False)
    [page] = ocr.recognize([pages[0]], 1, dpi=DPI)
    assert page.words == []


def test_an_engine_starved_of_memory_fails_or_says_so_and_never_reads_less_quietly():
    """Real starvation: an engine made, then a forked copy of the process given a little more
    address space than it has mapped (as the keyless worker's limit gives), 128 KiB more each time,
    until the page is read in full. At every limit the engine either reads the whole page, or
    fails (a C++ allocation ends the process; the Python side cannot allocate), or raises
    Doubtful (Leptonica reported an image it could not make): never fewer words without a word
    said. Leptonica's reports must be among the outcomes, or this test starved nothing."""
    code = ("import os, resource, sys\n"
            "from PIL import Image, ImageDraw\n"
            "from packets import ocr, _tesslib\n"
            "im = Image.new('L', (1240, 900), 255)\n"
            "d = ImageDraw.Draw(im)\n"
            "for y in range(60, 840, 110):\n"
            "    d.text((60, y), 'Lantern Orchard Harbour Meridian', fill=0, font_size=48)\n"
            "grey = im.tobytes()\n"
            "eng = _tesslib.take(ocr.LANGS, 1)\n"
            "full = eng.tsv(grey, im.width, im.height, 200, 60)\n"
            "assert full.count('Orchard') == 8, full\n"
            "mapped = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')\n"
            "outcomes = []\n"
            "for step in range(0, 4000):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        os.close(2)  # Tesseract's own complaints and the C++ runtime's last words\n"
            "        limit = mapped + (step << 17)\n"
            "        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
            "        try:\n"
            "            tsv = eng.tsv(grey, im.width, im.height, 200, 60)\n"
            "            os._exit(0 if tsv == full else 9)\n"
            "        except _tesslib.Doubtful:\n"
            "            os._exit(1)\n"
            "        except _tesslib.EngineError:\n"
            "            os._exit(2)\n"
            "        except MemoryError:\n"
            "            os._exit(3)\n"
            "    _, status = os.waitpid(pid, 0)\n"
            "    outcomes.append(os.waitstatus_to_exitcode(status))\n"
            "    if outcomes[-3:] == [0, 0, 0]:\n"
            "        break\n"
            "print(' '.join(map(str, outcomes)))\n")
    outcomes = [int(o) for o in _fresh_interpreter(code).split()]
    assert 9 not in outcomes and 2 not in outcomes, outcomes
    assert 1 in outcomes, f"Leptonica never reported: nothing was starved ({outcomes})"
    assert outcomes[-3:] == [0, 0, 0], outcomes


def test_no_more_engines_than_the_worker_has_memory_for(tmp_path):
    """Each engine takes 120-170 MiB of address space; the keyless worker's limit holds two.
    Eight pages on eight workers (an eight-core machine) still make two engines."""
    code = ("from PIL import Image, ImageDraw\n"
            "from packets import ocr, _tesslib\n"
            "im = Image.new('L', (600, 200), 255)\n"
            "ImageDraw.Draw(im).text((20, 80), 'Lantern Orchard', fill=0, font_size=40)\n"
            "found = ocr.recognize([im] * 8, 8, dpi=200)\n"
            "print(len(_tesslib._ALL), sum(bool(p.words) for p in found))\n")
    assert _fresh_interpreter(code).split() == ["2", "8"], "engines made, pages read"


def test_the_command_where_the_library_cannot_load_sees_no_refuge_secret(tmp_path, monkeypatch):
    """Where libtesseract cannot load, the command runs as a child: with PATH, locale and its
    own settings only, never a passphrase or a cloud credential of the process that runs it."""
    from packets import ocr

    record = tmp_path / "env"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real = require_tool("tesseract")
    (bindir / "tesseract").write_text(f'#!/bin/sh\nenv >> "{record}"\nexec "{real}" "$@"\n')
    (bindir / "tesseract").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("REFUGE_PASSPHRASE", "passphrase-not-for-parsers")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "credential-not-for-parsers")
    monkeypatch.setattr(ocr, "IN_PROCESS", False)
    [page] = ocr.recognize(_pages()[:1], 1, dpi=DPI)
    seen = record.read_text()
    assert page.words and "PATH=" in seen and "OMP_THREAD_LIMIT=1" in seen
    assert "not-for-parsers" not in seen and "REFUGE_" not in seen
