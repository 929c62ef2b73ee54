"""Hostile files at intake: refused quickly, in bounded memory, with one line that never names the file.

Every hostile file is made here, by code: no binaries are committed.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zipfile
import re
import zlib

import pikepdf
import pytest
from PIL import Image

LOCAL = pytest.mark.parametrize("world", ["local"], indirect=True)
TIME_LIMIT = 20.0  # seconds for one CLI run, start-up included
# Peak resident memory of the CLI process (and its intake child), from a small launcher's wait4.
RSS_LIMIT_KIB = 400 * 1024


# A small launcher forks and execs the CLI and reports that child's own peak RSS: measured
# from this (test) process, the figure would start at this process's high-water mark,
# which an in-process S3 server in the same worker can push past the limit.
_LAUNCHER = (
    "import os,sys\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    try: os.execv(sys.argv[2],sys.argv[2:])\n"
    "    finally: os._exit(127)\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "open(sys.argv[1],'w').write(str(ru.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def _run_measured(world, *args, user="bob", timeout=30.0):
    """Run the CLI; return (exit code, stdout, stderr, seconds, peak RSS in KiB) of that child alone."""
    out_path, err_path, rss_path = world.root / "cli.out", world.root / "cli.err", world.root / "cli.rss"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCHER, str(rss_path),
                                  sys.executable, "-P", "-m", "refuge", *args], env=world.env(user),
                                 stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=world.root)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                child.kill()
                os.wait4(child.pid, 0)
                pytest.fail(f"the CLI ran for more than {timeout} s")
            time.sleep(0.01)
        elapsed = time.monotonic() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return child.returncode, out_path.read_bytes(), err_path.read_bytes(), elapsed, int(rss_path.read_text())


def _stored(world) -> set[str]:
    return {n for n in world.object_names() if not n.startswith("audit/")}


def refused(world, path, *, rss_kib: int = RSS_LIMIT_KIB) -> str:
    """Add the file as bob; it must be refused cleanly. Returns the error line."""
    before = _stored(world)
    code, out, err, elapsed, rss = _run_measured(world, "doc", "add", "MX-0001", os.fsdecode(path), "--type", "other")
    text = err.decode(errors="replace")
    assert code == 1, (code, text)
    assert out == b""
    assert text.startswith("refuge: error: ") and text.count("\n") == 1 and text.endswith("\n"), text
    assert "Traceback" not in text and "internal error" not in text, text
    name = os.path.basename(os.fsdecode(path))
    assert name not in text, "errors must not name the file"
    for part in name.replace("\n", " ").replace("\x1b", " ").split():
        if part not in ("refuge:", "error:"):  # a forged error line in a name starts as a real one does
            assert part not in text, "errors must not name the file"
    assert elapsed < TIME_LIMIT, f"took {elapsed:.1f} s"
    assert rss < rss_kib, f"peak RSS {rss // 1024} MiB"
    assert _stored(world) == before, "a refused file left objects behind"
    return text


# --- making hostile files ------------------------------------------------------------------


def _pdf(path, pages=2, size=(612, 792)):
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page()
        pdf.pages[-1].obj.MediaBox = pikepdf.Array([0, 0, *size])  # any size: add_blank_page checks
    pdf.save(path)
    return path


def _flate_bomb(mib: int) -> bytes:
    """A zlib stream of `mib` MiB of zeros, about 1 MiB long, made in milliseconds.

    After a full flush deflate starts afresh, so every further MiB of zeros compresses to the
    same bytes: compress it once, repeat it, and end with the Adler-32 of all those zeros.
    """
    co = zlib.compressobj(9)
    chunk = b"\0" * (1 << 20)
    first = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    body = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    end = co.flush()[:-4]
    adler = (((mib << 20) % 65521) << 16) | 1  # of zeros: a stays 1, b counts the bytes
    return first + body * (mib - 1) + end + adler.to_bytes(4, "big")


def _png(width: int, height: int, rows: bytes = b"") -> bytes:
    """A PNG whose header says width x height (1-bit gray) but whose data is a few bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows or b"\0" * 64)) + chunk(b"IEND", b"")


def _jpeg(size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: Evil\n")
        z.writestr("Evil.class", b"\xca\xfe\xba\xbe" + b"\0" * 100)
    return out.getvalue()


# --- one test per hostile kind ----------------------------------------------------------------


@LOCAL
def test_truncated_pdf(case_world, tmp_path):
    data = case_world.docs["declaration"].read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 3])
    assert "damaged" in refused(case_world, tmp_path / "cut.pdf")


@LOCAL
def test_garbage_pdf_with_no_xref(case_world, tmp_path):
    rng = __import__("random").Random(7)
    junk = bytes(rng.getrandbits(8) for _ in range(20000)).replace(b"obj", b"xxx").replace(b"trailer", b"xxxxxxx")
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + junk + b"\nstartxref\n999999\n%%EOF\n")
    assert "damaged" in refused(case_world, tmp_path / "junk.pdf")


@LOCAL
def test_circular_page_tree(case_world, tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pages = pdf.Root.Pages
    loop = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Count=1, Parent=pages))
    loop.Kids = pikepdf.Array([pages])  # the tree holds its own root
    pages.Kids.append(loop)
    pages.Count = 2
    pdf.save(tmp_path / "loop.pdf")
    assert "damaged" in refused(case_world, tmp_path / "loop.pdf")


@LOCAL
def test_encrypted_pdf(case_world, tmp_path):
    with pikepdf.open(case_world.docs["declaration"]) as pdf:
        pdf.save(tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o" * 12, user="u" * 12))
    assert "password" in refused(case_world, tmp_path / "locked.pdf")


@LOCAL
def test_pdf_that_is_also_a_zip(case_world, tmp_path):
    path = tmp_path / "invoice.pdf"
    path.write_bytes(case_world.docs["declaration"].read_bytes() + _zip())
    assert "polyglot" in refused(case_world, path)


@LOCAL
def test_pdf_that_starts_as_a_zip(case_world, tmp_path):
    # A JAR first, then a PDF within its first KiB: libmagic still calls it a PDF? Either way it goes.
    path = tmp_path / "starts.pdf"
    path.write_bytes(_zip()[:200] + case_world.docs["declaration"].read_bytes())
    err = refused(case_world, path)
    assert "polyglot" in err or "which the vault does not accept" in err


@LOCAL
def test_jpeg_that_is_also_a_pdf(case_world, tmp_path):
    jpeg = _jpeg()
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    comment = b"\xff\xfe" + struct.pack(">H", len(pdf) + 2) + pdf  # a COM segment right after SOI
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg[:2] + comment + jpeg[2:])
    assert "polyglot" in refused(case_world, path)


@LOCAL
def test_png_with_a_zip_appended(case_world, tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(out, "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(out.getvalue() + _zip())
    assert "polyglot" in refused(case_world, path)


@LOCAL
def test_png_pixel_bomb(case_world, tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png(100_000, 100_000))
    assert path.stat().st_size < 200
    assert "decompression bomb" in refused(case_world, path)


@LOCAL
def test_png_just_over_the_vault_limit(case_world, tmp_path):
    from vault.intake import MAX_PIXELS

    path = tmp_path / "big.png"
    path.write_bytes(_png(MAX_PIXELS // 10_000 + 1, 10_000))
    assert "decompression bomb" in refused(case_world, path)


@LOCAL
def test_damaged_image(case_world, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(_png(10, 10)[:20] + b"\0" * 50)  # a PNG signature and a cut header
    err = refused(case_world, path)
    assert "damaged image" in err or "which the vault does not accept" in err


@LOCAL
def test_tiff_with_too_many_pages(case_world, tmp_path):
    from vault.intake import MAX_FRAMES

    frame = Image.new("1", (1, 1))
    path = tmp_path / "pages.tif"
    frame.save(path, save_all=True, append_images=[frame] * MAX_FRAMES)
    assert f"more than {MAX_FRAMES} pages" in refused(case_world, path)


def _pdf_with_streams(path, streams, filters=(pikepdf.Name.FlateDecode,)):
    """A one-page PDF whose content streams are `streams`, stored as given (pikepdf does not re-encode)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    contents = []
    for data in streams:
        stream = pikepdf.Stream(pdf, data)
        stream.Filter = pikepdf.Array(filters) if len(filters) > 1 else filters[0]
        contents.append(pdf.make_indirect(stream))
    pdf.pages[0].Contents = pikepdf.Array(contents)
    pdf.save(path, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return path


@LOCAL
def test_pdf_flate_bomb(case_world, tmp_path):
    data = _flate_bomb(1024)  # 1 GiB of zeros in about 1 MiB
    assert len(data) < 2 << 20
    path = _pdf_with_streams(tmp_path / "bomb.pdf", [data])
    assert path.stat().st_size < 2 << 20
    assert "decompression bomb" in refused(case_world, path)


@LOCAL
def test_pdf_flate_bomb_behind_ascii85(case_world, tmp_path):
    import base64

    data = base64.a85encode(_flate_bomb(1024)) + b"~>"
    path = _pdf_with_streams(tmp_path / "bomb.pdf", [data], (pikepdf.Name.ASCII85Decode, pikepdf.Name.FlateDecode))
    assert "decompression bomb" in refused(case_world, path)


@LOCAL
def test_pdf_of_many_small_bombs(case_world, tmp_path):
    from vault.intake import MAX_TOTAL_DECODED, RATIO_FROM

    # Each stream stays under the one-stream limits; together they expand past the budget.
    mib = RATIO_FROM // 2**20 - 4
    count = MAX_TOTAL_DECODED // (mib << 20) + 1
    path = _pdf_with_streams(tmp_path / "bombs.pdf", [_flate_bomb(mib)] * count)
    assert "expand to more than" in refused(case_world, path)


@LOCAL
def test_pdf_with_an_image_bomb(case_world, tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    image = pikepdf.Stream(pdf, zlib.compress(b"\0" * 1000))
    image.update({"/Type": pikepdf.Name.XObject, "/Subtype": pikepdf.Name.Image, "/Width": 100_000,
                  "/Height": 100_000, "/ColorSpace": pikepdf.Name.DeviceRGB, "/BitsPerComponent": 8,
                  "/Filter": pikepdf.Name.FlateDecode})
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=pdf.make_indirect(image)))
    pdf.save(tmp_path / "huge.pdf", compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    assert "decompression bomb" in refused(case_world, tmp_path / "huge.pdf")


@LOCAL
def test_pdf_with_6000_pages(case_world, tmp_path):
    assert "more than 5000 pages" in refused(case_world, _pdf(tmp_path / "long.pdf", pages=6000))


@LOCAL
def test_pdf_with_a_20000_point_page(case_world, tmp_path):
    assert "larger than" in refused(case_world, _pdf(tmp_path / "wide.pdf", pages=1, size=(20000, 20000)))


@LOCAL
@pytest.mark.parametrize("box", [b"0 0 0 792", b"612 0 612 792", b"0 0 " + b"9" * 400 + b".0 792"],
                         ids=["no-width", "no-width-moved", "infinite"])
def test_pdf_with_a_degenerate_page(case_world, tmp_path, box):
    path = _pdf(tmp_path / "flat.pdf", pages=1, size=(611, 792))
    # Written into the bytes, as pikepdf writes no such numbers; the xref offsets are moved to
    # match, so the file is well formed (a file that needs rebuilding is refused as damaged).
    path.write_bytes(_replace_keeping_xref(path.read_bytes(), b"[ 0 0 611 792 ]", b"[ " + box + b" ]"))
    assert "page of no" in refused(case_world, path)


def _replace_keeping_xref(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace ``old`` (once) in a PDF with a classic xref table, shifting the offsets after it."""
    at, delta = data.index(old), len(new) - len(old)
    data = data.replace(old, new, 1)
    xref = data.rindex(b"\nxref\n") + 1

    def shift(m: re.Match) -> bytes:
        offset = int(m.group(1))
        return b"%010d" % (offset + delta if offset > at else offset) + m.group(2)

    table_end = data.index(b"trailer", xref)
    table = re.sub(rb"(\d{10})( \d{5} n)", shift, data[xref:table_end])
    tail = re.sub(rb"startxref\s+(\d+)", lambda m: b"startxref\n%d" % (int(m.group(1)) + delta), data[table_end:])
    return data[:xref] + table + tail


@LOCAL
def test_zero_byte_file(case_world, tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert "empty" in refused(case_world, tmp_path / "empty.pdf")


def test_oversized_file(tmp_path):
    # The command line has no --max-size: the library's limit is the way in.
    from vault import intake
    from vault.errors import InvalidInput

    path = _pdf(tmp_path / "big.pdf")
    with pytest.raises(InvalidInput, match="larger than") as e:
        intake.inspect(path, limit=100)
    assert "big.pdf" not in str(e.value) and "\n" not in str(e.value)


@LOCAL
def test_symlink(case_world, tmp_path):
    link = tmp_path / "link.pdf"
    link.symlink_to(case_world.docs["declaration"])
    assert "symbolic link" in refused(case_world, link)


@LOCAL
@pytest.mark.parametrize("name", ["scan\nrefuge: error: forged.pdf", "scan\x1b[2Jcleared.pdf", "scan\x85next.pdf",
                                  "scan\x7fdel.pdf"], ids=["newline", "escape", "c1", "del"])
def test_file_name_with_control_characters(case_world, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(case_world.docs["declaration"].read_bytes())
    err = refused(case_world, path)
    assert "control characters" in err and "rename the file" in err


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_folder_names_are_not_file_names(tmp_path, name):
    from vault import intake
    from vault.errors import InvalidInput

    with pytest.raises(InvalidInput):
        intake.inspect(str(tmp_path) + "/" + name)


# --- what is legitimate still passes, and quickly --------------------------------------------------


@LOCAL
def test_legitimate_pdf_and_photo_pass(case_world, tmp_path):
    from reportlab.pdfgen import canvas

    from vault import intake

    pdf_path = tmp_path / "report.pdf"
    c = canvas.Canvas(str(pdf_path))
    for n in range(100):
        c.drawString(72, 720, f"page {n + 1}: " + "lorem ipsum " * 8)
        c.drawImage(_reader(), 72, 300, width=300, height=200)
        c.showPage()
    c.save()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_jpeg((4000, 3000)))  # 12 megapixels
    for path in (pdf_path, photo):
        start = time.monotonic()
        found = intake.inspect(path)
        assert time.monotonic() - start < 1.0, f"{path.name} took too long to inspect"
        assert found.mime in ("application/pdf", "image/jpeg")
    code, out, err, elapsed, rss = _run_measured(case_world, "doc", "add", "MX-0001", str(pdf_path), str(photo),
                                                 "--type", "other")
    assert code == 0, err.decode()
    assert len(out.split()) == 2 and err == b"refuge: added 2 of 2 files\n"  # the batch summary, nothing else


def _reader():
    from reportlab.lib.utils import ImageReader

    return ImageReader(Image.radial_gradient("L").resize((600, 400)).convert("RGB"))


def test_the_checker_process_is_bounded_in_cpu_and_memory(tmp_path, monkeypatch):
    from conftest import ROOT

    """Whatever a file does to the parsers, the checking child has its limits: here set low enough
    that an ordinary PDF and a slow-to-check one hit them, and the refusal says so."""
    from vault import intake

    mib = intake.RATIO_FROM // 2**20 - 4
    count = intake.MAX_TOTAL_DECODED // (mib << 20) - 1  # just under the inflate budget: seconds of CPU
    slow = _pdf_with_streams(tmp_path / "slow.pdf", [_flate_bomb(mib)] * count)
    monkeypatch.setattr(intake, "CHECK_CPU_SECONDS", 1)
    start = time.monotonic()
    with pytest.raises(intake.InvalidInput, match=r"could not be checked within 1 s of CPU"):
        intake.inspect_isolated(slow)
    assert time.monotonic() - start < 10
    # Memory, from a fresh process (this one's free heap could serve the child without new mappings).
    many = _pdf(tmp_path / "many.pdf", pages=4000)  # qpdf needs more than 16 MiB to hold 4000 pages
    probe = ("import sys\nfrom vault import intake\nintake.CHECK_MEMORY = int(sys.argv[2]) << 20\n"
             "try:\n    print(intake.inspect_isolated(sys.argv[1]).mime)\n"
             "except intake.InvalidInput as e:\n    print(e)\n")
    for mib, expect in ((16, "could not be checked within 60 s of CPU and 16 MiB"), (1024, "application/pdf")):
        p = subprocess.run([sys.executable, "-c", probe, str(many), str(mib)], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
        assert expect in p.stdout, (mib, p.stdout, p.stderr)
