"""Office documents, HEIC/WebP photos, e-mail and recordings: from `doc add` through a packet.

Every fixture is made by code here: a .docx with python-docx, an .odt and a .doc made from it
by LibreOffice, an .rtf written by hand, an HEIC with pillow-heif, an .eml with attachments by
the standard library, an Outlook .msg by tests/outlook.py (a hand-written compound-file writer:
no registry package writes .msg files), a WAV with ``wave`` and an MP4 written box by box
(ffmpeg is not on the machine). Packets are read back with pdftotext,
pdfimages, exiftool and the shared leak-channels check, none of them refuge's code.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import time
import wave
import zipfile
from pathlib import Path

import odf_files
import pikepdf
import pytest
from conftest import ACCEPT_GAPS, require_tool
from scans import ocr_each

LEAK_CHANNELS = "/work/shared/checks/leak-channels"
PHRASE = {"docx": "Marigold declaration seventeen", "odt": "Marigold declaration seventeen",
          "doc": "Marigold declaration seventeen", "rtf": "Juniper statement forty"}
SECRET_PLACE = "Tapachula shelter"
LOCAL = pytest.mark.parametrize("world", ["local"], indirect=True)  # both backends: tests/test_documents.py


def _docx(path: Path, text: str, comment: str | None = None) -> Path:
    import docx

    d = docx.Document()
    for n in range(3):
        d.add_paragraph(f"{text} paragraph {n}.")
    p = d.add_paragraph(f"We stayed at the {SECRET_PLACE} for two weeks.")
    if comment:
        d.add_comment(p.runs, text=comment, author="reviewer")
    d.save(path)
    return path


def _soffice(src: Path, target: str, out: Path) -> Path:
    profile = out / f"profile-{target}"
    subprocess.run([require_tool("soffice"), f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", target, "--outdir", str(out), str(src)], check=True, capture_output=True,
                   timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return out / f"{src.stem}.{target}"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Every fixture file, made once for the module (LibreOffice makes the .odt and .doc)."""
    out = tmp_path_factory.mktemp("formats")
    f = {"docx": _docx(out / "statement.docx", PHRASE["docx"])}
    f["odt"] = _soffice(f["docx"], "odt", out)
    f["doc"] = _soffice(f["docx"], "doc", out)
    f["rtf"] = out / "note.rtf"
    f["rtf"].write_text(r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard " + PHRASE["rtf"]
                        + r" about the " + SECRET_PLACE + r".\par}")
    f["commented"] = _docx(out / "commented.docx", "Clean body text", comment="Privately: client lied about dates")
    return f


def _text(pdf: Path) -> str:
    return subprocess.run([require_tool("pdftotext"), str(pdf), "-"], capture_output=True, check=True).stdout.decode()


def _leaks(pdf: Path, *secrets: str, ocr: bool = False) -> subprocess.CompletedProcess:
    args = [a for s in secrets for a in ("--secret", s)] + ([] if ocr else ["--no-ocr"])
    return subprocess.run(["/work/main/.venv/bin/python", LEAK_CHANNELS, str(pdf), *args],
                          capture_output=True, text=True, timeout=300)


def _ocr(pdf: Path, folder: Path) -> str:
    """The text tesseract reads on the documents' pages (after the cover letter and the index)."""
    return " ".join(_ocr_pages(pdf, folder))


def _ocr_pages(pdf: Path, folder: Path) -> list[str]:
    """What tesseract reads on each of the documents' pages, one string a page, in order."""
    folder.mkdir()
    # PGM, read at its 150 dpi: a PNG's pixels, read the same, without pdftoppm's PNG compression
    # (tests/test_adversarial_corpus.py test_a_page_rendered_as_pgm_is_read_as_its_png)
    subprocess.run([require_tool("pdftoppm"), "-f", "3", "-r", "150", "-gray", str(pdf), str(folder / "p")],
                   check=True)
    pages = sorted(folder.iterdir(), key=lambda f: int(re.search(r"-(\d+)\.pgm$", f.name).group(1)))
    return ocr_each(pages, lang="eng", dpi=150, strict=False)  # each page as ``tesseract PAGE -`` reads it, in one process


def _build(w, out: Path, *extra: str, profile="irb-rpd-disclosure", **env):
    for d in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="erin")):  # the case lead looked at each photo
        if d["mime"].startswith("image/"):
            w.ok("redact", "reviewed", d["id"], "--page", "1", user="erin")
    return w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", profile, "-o", str(out), "--allow-incomplete", *extra,
                 user="erin", **env)


@pytest.fixture
def fw(keyed_world):
    return keyed_world  # with the organisation's key (tests/conftest.py)


# --- intake --------------------------------------------------------------------------------


def test_intake_takes_the_new_types_by_content_and_refuses_others_with_the_list(files, tmp_path):
    from vault import intake
    from vault.errors import InvalidInput

    assert intake.inspect(files["docx"]).mime == intake.OFFICE[0]
    assert intake.inspect(files["odt"]).mime == "application/vnd.oasis.opendocument.text"
    assert intake.inspect(files["doc"]).mime == "application/msword"
    assert intake.inspect(files["rtf"]).mime == "text/rtf"
    disguised = tmp_path / "statement.pdf"
    shutil.copy(files["docx"], disguised)
    with pytest.raises(InvalidInput, match="rename it to .docx"):
        intake.inspect(disguised)
    sheet = tmp_path / "book.xlsx"
    with zipfile.ZipFile(sheet, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(InvalidInput, match=r"which the vault does not accept; accepted types are .*\.docx.*recordings"):
        intake.inspect(sheet)


def test_a_docx_of_too_many_parts_is_refused_from_its_directory(files, tmp_path):
    from vault import intake
    from vault.errors import InvalidInput

    bomb = tmp_path / "bomb.docx"
    shutil.copy(files["docx"], bomb)
    with zipfile.ZipFile(bomb, "a") as z:
        for n in range(intake.MAX_ZIP_ENTRIES + 1):
            z.writestr(f"customXml/item{n}.xml", "")
    assert intake._mime(bomb) == intake.OFFICE[0]
    with pytest.raises(InvalidInput, match="decompression bomb"):
        intake.inspect(bomb)


# --- office documents ------------------------------------------------------------------------


@LOCAL
def test_office_documents_go_from_doc_add_through_a_redacted_packet(fw, files, tmp_path):
    w = fw
    added = w.ok("doc", "add", "MX-0001", *(str(files[k]) for k in ("docx", "odt", "rtf", "doc")),
                 "--type", "legal-declaration", user="bob").split()
    assert len(added) == 4
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = _build(w, out)
    assert p.returncode == 0, p.stderr
    text = " ".join(_text(out).split())
    assert text.count(PHRASE["docx"]) >= 9 and PHRASE["rtf"] in text  # three paragraphs of docx, odt and doc
    assert text.count(SECRET_PLACE) == 4
    # A redaction term reaches the renditions: no channel of the packet shows it (OCR included).
    w.ok("redact", "term", "MX-0001", SECRET_PLACE, "--category", "location", user="erin")
    redacted = tmp_path / "irb-redacted.pdf"
    p = _build(w, redacted)
    assert p.returncode == 0, p.stderr
    check = _leaks(redacted, SECRET_PLACE)
    assert check.returncode == 0, check.stdout + check.stderr
    seen = _ocr(redacted, tmp_path / "pages").lower()
    assert "marigold" in seen and "tapachula" not in seen  # the pixels: legible, and the term burnt out
    # The originals stay byte-exact.
    got = tmp_path / "back.docx"
    w.ok("doc", "get", added[0], "-o", str(got), user="bob")
    assert got.read_bytes() == files["docx"].read_bytes()
    # The rendition is cached encrypted in the case: a second build converts nothing.
    case = w.open("erin").find_case("MX-0001")
    assert set(case.renditions) == set(added)
    fsck = json.loads(w.ok("fsck", "--json", user="erin"))  # the renditions' blobs are recorded, not leftovers
    assert "leftover" not in json.dumps(fsck), fsck
    assert not any(PHRASE["docx"].encode() in w.read_object(k) for k in w.object_names())


@LOCAL
def test_office_text_and_e_mail_bodies_are_found_by_search(fw, files, tmp_path):
    w = fw
    doc = w.ok("doc", "add", "MX-0001", str(files["docx"]), "--type", "legal-declaration", user="bob").strip()
    message = w.ok("doc", "add", "MX-0001", str(_eml(tmp_path / "m.eml", [])), "--type", "correspondence",
                   user="bob").strip()
    for query, found in (("Marigold seventeen", doc), ("heliotrope warning", message),
                         ("\"we know where you are\"", message)):
        hits = json.loads(w.ok("search", query, "--json", user="bob"))
        assert {h["doc"] for h in hits} == {found}, (query, hits)


@LOCAL
def test_a_failed_conversion_is_one_line_naming_the_document_and_the_build_tries_again(fw, files, tmp_path):
    """A stand-in soffice that fails (on PATH for one command only): doc add keeps the document and
    says which failed; the packet build converts it again with the real LibreOffice."""
    w = fw
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "soffice").write_text("#!/bin/sh\nexit 1\n")
    (bin_dir / "soffice").chmod(0o755)
    p = w.run("doc", "add", "MX-0001", str(files["docx"]), "--type", "legal-declaration", "--title", "Statement A",
              user="bob", PATH=f"{bin_dir}:{os.environ['PATH']}")
    doc = p.stdout.decode().strip()
    assert p.returncode == 1 and doc in w.ok("doc", "list", "MX-0001", user="bob")  # the document stays
    assert p.stderr.decode().splitlines() == [
        f"refuge: error: document {doc} (Statement A) could not be converted by LibreOffice (damaged, or not really "
        "an office document); open it in its application and save it again, or print it to PDF and add that"]
    assert b"Statement A" not in w.ok("audit", "log", "--json", user="dave").encode()
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = _build(w, out)
    assert p.returncode == 0, p.stderr
    assert PHRASE["docx"] in " ".join(_text(out).split())


def _tracked_docx(path: Path) -> Path:
    """A .docx with one tracked insertion and one tracked deletion (python-docx, then its XML)."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    p = d.add_paragraph("Kept text. ")
    run = p.add_run("Added later.")
    marks = {}
    for kind, n in (("w:ins", "1"), ("w:del", "2")):
        marks[kind] = OxmlElement(kind)
        for k, v in (("w:id", n), ("w:author", "x"), ("w:date", "2026-01-01T00:00:00Z")):
            marks[kind].set(qn(k), v)
    run._r.addprevious(marks["w:ins"])
    marks["w:ins"].append(run._r)
    deleted, text = OxmlElement("w:r"), OxmlElement("w:delText")
    text.text = "Withdrawn sentence."
    deleted.append(text)
    marks["w:del"].append(deleted)
    p._p.append(marks["w:del"])
    d.save(path)
    return path


def test_tracked_changes_and_rtf_comments_are_counted_and_listed_in_the_rendition(tmp_path):
    from vault import intake, renditions

    rtf = tmp_path / "c.rtf"
    rtf.write_text(r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard Visible body{\*\atnid RV}"
                   r"{\*\atnauthor Reviewer}\chatn{\*\annotation\pard Hidden remark in rtf\par}.\par}")
    for path, mime, markup, listed in (
            (_tracked_docx(tmp_path / "tc.docx"), intake.OFFICE[0], {"inserted": 1, "deleted": 1},
             "Inserted (tracked change): Added later. Deleted (tracked change): Withdrawn sentence."),
            (rtf, "text/rtf", {"comment": 1}, "Comment: Hidden remark in rtf")):
        made = renditions.convert(path.read_bytes(), mime, "document T")
        out = tmp_path / f"{path.name}.pdf"
        out.write_bytes(made.data)
        assert made.markup == markup and listed in " ".join(_text(out).split())


@LOCAL
def test_comments_refuse_the_document_unless_the_profile_shows_them(fw, files, tmp_path):
    w = fw
    doc = w.ok("doc", "add", "MX-0001", str(files["commented"]), "--type", "legal-declaration", user="bob").strip()
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = _build(w, out)
    assert p.returncode == 1 and not out.exists()
    assert f"document {doc} has comments or tracked changes (1 comment)".encode() in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).parent.parent / "templates", templates)
    irb = templates / "irb-rpd-disclosure.toml"
    irb.write_text(irb.read_text().replace("\nversion = 1\n", '\nversion = 1\noffice_markup = "show"\n', 1))
    p = _build(w, out, REFUGE_TEMPLATES=str(templates))
    assert p.returncode == 0, p.stderr
    text = " ".join(_text(out).split())
    assert "Comment: Privately: client lied about dates" in text and "Clean body text" in text


def test_a_macro_in_a_document_never_runs(tmp_path):
    """The fixture's macro runs under a LibreOffice profile that allows macros (so the test can fail),
    and never under refuge's conversion."""
    from vault import renditions

    target = tmp_path / "pwned"
    odt = odf_files.macro_odt(tmp_path / "macro.odt", target)
    low = tmp_path / "low-profile"
    (low / "user").mkdir(parents=True)
    (low / "user" / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" '
        'oor:op="fuse"><value>0</value></prop></item></oor:items>')
    subprocess.run([require_tool("soffice"), f"-env:UserInstallation=file://{low}", "--headless", "--convert-to",
                    "pdf", "--outdir", str(tmp_path / "low-out"), str(odt)], capture_output=True, timeout=120)
    if not target.exists():  # Debian's libreoffice-core-nogui ships no Basic runtime (libsblo.so, basprov); the
        # one that does (libreoffice-core) conflicts with it, and no add-on package brings Basic to -nogui
        pytest.skip("this LibreOffice cannot run Basic macros at all, so the fixture cannot be shown live")
    target.unlink()
    made = renditions.convert(odt.read_bytes(), "application/vnd.oasis.opendocument.text", "document X")
    assert made.data.startswith(b"%PDF") and not target.exists()


def test_a_document_cannot_pull_a_local_file_into_its_rendition(tmp_path):
    """A crafted .odt links an image on the converting machine's disk: LibreOffice with a default
    profile embeds it (the fixture is live), refuge's conversion does not."""
    from PIL import Image

    from vault import renditions

    secret = tmp_path / "on-this-machine.png"
    Image.new("RGB", (400, 100), "gray").save(secret)
    odt = odf_files.odt(tmp_path / "linked.odt", '<text:p>Before<draw:frame draw:name="i1" text:anchor-type="as-char" '
               f'svg:width="4in" svg:height="1in"><draw:image xlink:href="file://{secret}" xlink:type="simple" '
               'xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>')

    def images(pdf: Path) -> list[str]:
        listed = subprocess.run([require_tool("pdfimages"), "-list", str(pdf)], capture_output=True, text=True)
        return listed.stdout.splitlines()[2:]

    assert len(images(_soffice(odt, "pdf", tmp_path))) == 1
    made = renditions.convert(odt.read_bytes(), "application/vnd.oasis.opendocument.text", "document L")
    ours = tmp_path / "ours.pdf"
    ours.write_bytes(made.data)
    assert "Before" in _text(ours) and images(ours) == []


def test_a_converter_that_hangs_is_killed_at_its_limit(tmp_path, monkeypatch, files):
    """A stand-in soffice (on PATH for this test only) that never ends: the time limit, not
    LibreOffice, is under test; the stand-in and its children are gone afterwards."""
    from vault import renditions
    from vault.errors import InvalidInput

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pids = tmp_path / "pids"
    stand_in = bin_dir / "soffice"
    stand_in.write_text(f"#!/bin/sh\necho $$ >> {pids}\nsleep 600 &\necho $! >> {pids}\nwait\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    start = time.monotonic()
    with pytest.raises(InvalidInput, match=r"^document Q could not be converted within 2 s"):
        renditions.convert(files["odt"].read_bytes(), "application/vnd.oasis.opendocument.text", "document Q",
                           seconds=2)
    assert time.monotonic() - start < 30
    time.sleep(0.5)
    for pid in pids.read_text().split():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


# --- photos ---------------------------------------------------------------------------------


def _photo(path: Path, fmt: str) -> Path:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    im = Image.new("RGB", (120, 60), (200, 30, 30))
    im.paste((20, 20, 220), (0, 0, 60, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn a quarter clockwise to show
    exif[0x010F] = "SecretCam"
    gps = {1: "N", 2: (19.0, 25.0, 10.0), 3: "W", 4: (99.0, 7.0, 30.0)}
    exif[0x8825] = gps
    im.save(path, fmt, exif=exif.tobytes())
    return path


def _photos_shown(pdf: Path, folder: Path) -> list[tuple[tuple, tuple]]:
    """The photo fixture as a recipient sees it on each page (rendered by pdftoppm): the
    boxes (left, top, right, bottom, in pixels) of its blue half and of its red half."""
    from PIL import Image, ImageChops

    folder.mkdir()
    subprocess.run([require_tool("pdftoppm"), "-r", "40", "-png", str(pdf), str(folder / "p")], check=True)
    shown = []
    for f in sorted(folder.iterdir()):
        with Image.open(f) as im:
            bands = im.convert("RGB").split()
        high = [band.point(lambda v: 255 if v > 150 else 0) for band in bands]
        low = [band.point(lambda v: 255 if v < 90 else 0) for band in bands]
        blue = ImageChops.multiply(ImageChops.multiply(high[2], low[0]), low[1]).getbbox()
        red = ImageChops.multiply(ImageChops.multiply(high[0], low[1]), low[2]).getbbox()
        if blue and red:
            shown.append((blue, red))
    return shown


@LOCAL
def test_heic_and_webp_photos_render_upright_without_exif_or_gps(fw, tmp_path):
    w = fw
    heic = _photo(tmp_path / "door.heic", "HEIF")
    webp = _photo(tmp_path / "street.webp", "WEBP")
    meta = subprocess.run([require_tool("exiftool"), "-GPSLatitude", "-Make", str(heic)], capture_output=True,
                          text=True).stdout
    assert "SecretCam" in meta and "19 deg" in meta  # the fixture carries what must not leak
    w.ok("doc", "add", "MX-0001", str(heic), str(webp), "--type", "photo", user="bob")
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = _build(w, out)
    assert p.returncode == 0, p.stderr
    # Stored sideways (blue half left, red half right) with "turn a quarter clockwise": upright,
    # the photo stands twice as tall as wide, its blue half above its red half.
    shown = _photos_shown(out, tmp_path / "pages")
    assert len(shown) == 2, shown
    for (bl, bt, br, bb), (rl, rt, rr, rb) in shown:
        assert bb <= rt + 2 and abs(bl - rl) <= 2 and abs(br - rr) <= 2, (bl, bt, br, bb, rl, rt, rr, rb)
        assert 1.7 < (rb - bt) / (br - bl) < 2.3
    images = tmp_path / "images"
    images.mkdir()
    subprocess.run([require_tool("pdfimages"), "-all", str(out), str(images / "im")], check=True)
    for f in [out, *images.iterdir()]:
        found = subprocess.run([require_tool("exiftool"), "-a", "-G1", str(f)], capture_output=True, text=True).stdout
        assert "GPS" not in found and "SecretCam" not in found, f


# --- e-mail ---------------------------------------------------------------------------------


def _eml(path: Path, attachments: list[tuple[str, bytes, str]]) -> Path:
    m = email.message.EmailMessage()
    m["From"] = "Unknown Sender <threats@example.net>"
    m["To"] = "client@example.org"
    m["Date"] = "Mon, 01 Jun 2026 10:00:00 +0000"
    m["Subject"] = "We know where you are"
    m.set_content("You cannot hide forever. Heliotrope warning nine.")
    m.add_alternative("<html><body><p>You cannot hide <b>forever</b>.</p></body></html>", subtype="html")
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    path.write_bytes(m.as_bytes())
    return path


@LOCAL
def test_no_attachment_of_a_message_is_ever_a_named_file(case_world, tmp_path, monkeypatch):
    """Attachments are received as an upload's files are: encrypted into the case, checked from a spool
    with no name. Every file this process opens for writing is recorded: none is named after an
    attachment, none is under the temporary folder (a process killed meanwhile would leave it)."""
    import builtins
    import tempfile

    from refuge import formats

    eml = _eml(tmp_path / "m.eml", [("statement-of-amina.txt", b"Amina saw the Saffron ledger\n", "text/plain"),
                                    ("tool.exe", b"MZ\x90\x00" + b"\0" * 200, "application/octet-stream")])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    assert tempfile.gettempdir() == str(scratch)  # (Python's own check of the folder writes a probe file: done)
    writes, real_open, real_os_open = [], builtins.open, os.open

    def recording_open(file, mode="r", *a, **k):
        if any(m in mode for m in "wax+"):
            writes.append(str(file))
        return real_open(file, mode, *a, **k)

    def recording_os_open(path, flags, *a, **k):
        unnamed = os.O_TMPFILE and flags & os.O_TMPFILE == os.O_TMPFILE  # no name: vanishes with the process
        if flags & (os.O_WRONLY | os.O_RDWR) and not unnamed:
            writes.append(str(path))
        return real_os_open(path, flags, *a, **k)

    v = case_world.open("bob")
    case = v.find_case("MX-0001")
    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    results = v.add_documents(case, [str(eml)], "correspondence")
    extra, problems = formats.after_add(v, case, results)
    monkeypatch.undo()
    assert [d.filename for d in extra] == ["statement-of-amina.txt"] and len(problems) == 1  # the .exe refused
    assert not [w for w in writes if "amina" in w or "tool.exe" in w or w.startswith(str(scratch) + "/")], writes
    assert os.listdir(scratch) == []
    assert v.document_bytes(v.find_case("MX-0001").documents[extra[0].id]) == b"Amina saw the Saffron ledger\n"
    assert case_world.run("fsck", user="bob").returncode == 0  # the refused one's blob is gone too


@LOCAL
def test_an_eml_and_an_outlook_msg_become_pages_with_headers_and_their_attachments_documents(fw, tmp_path):
    """An .eml and an Outlook .msg, each with attachments (an executable among them, refused by
    name): each message becomes a page of its headers and body, each other attachment a document
    attached to it. One packet holds both messages; each message's page is checked on its own."""
    from outlook import outlook_msg
    from PIL import Image

    w = fw
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), "green").save(photo)
    eml = _eml(tmp_path / "threat.eml", [("car.png", photo.read_bytes(), "image/png"),
                                         ("notes.txt", b"Attached notes: Saffron ledger three\n", "text/plain"),
                                         ("tool.exe", b"MZ\x90\x00" + b"\0" * 200, "application/octet-stream")])
    p = w.run("doc", "add", "MX-0001", str(eml), "--type", "correspondence", user="bob")
    assert p.returncode == 1  # one attachment refused: reported by name, the rest went in
    errors = p.stderr.decode().strip().splitlines()
    ids = p.stdout.decode().split()
    assert len(errors) == 1 and f"attachment tool.exe of {ids[0]} is an executable" in errors[0]
    assert len(ids) == 3
    msg = tmp_path / "forwarded.msg"
    msg.write_bytes(outlook_msg("Threat by Outlook", ("Unknown Sender", "threats@example.net"), "client@example.org",
                                "We will find you. Periwinkle notice five.",
                                [("list.txt", b"Names list: Cobalt register two\n"),
                                 ("script.sh", b"#!/bin/sh\nrm -rf /\n")]))
    p = w.run("doc", "add", "MX-0001", str(msg), "--type", "correspondence", user="bob")
    msg_ids = p.stdout.decode().split()
    errors = p.stderr.decode().strip().splitlines()
    assert p.returncode == 1 and len(msg_ids) == 2, p.stderr
    assert len(errors) == 1 and f"attachment script.sh of {msg_ids[0]} is an executable" in errors[0]
    docs = {d["id"]: d for d in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))}
    message = ids[0]
    assert [docs[i]["attached_to"] for i in ids[1:]] == [message, message]
    assert {docs[i]["filename"] for i in ids[1:]} == {"car.png", "notes.txt"}
    assert docs[msg_ids[0]]["mime"] == "application/vnd.ms-outlook" and docs[msg_ids[1]]["attached_to"] == msg_ids[0]
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = _build(w, out)
    assert p.returncode == 0, p.stderr
    # What refuge drew from text it holds reaches the recipient's pdftotext exactly, line by line,
    # though every page was rebuilt from pixels; the messages' addresses (redacted) do not.
    text = _text(out)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for line in ("Attached notes: Saffron ledger three", "Attachment: car.png", "Attachment: notes.txt",
                 "Attachment: tool.exe", "Date: Mon, 01 Jun 2026 10:00:00 +0000", "Subject: We know where you are",
                 "You cannot hide forever. Heliotrope warning nine.",
                 # the .msg's
                 "Names list: Cobalt register two", "Attachment: list.txt", "Attachment: script.sh",
                 "Subject: Threat by Outlook"):
        assert line in lines, line
    assert any(line.startswith("From: Unknown Sender") for line in lines)
    assert "threats@example.net" not in text and "example.net" not in text
    # and the pixels show the same, each message on its own page (read back by OCR, which may
    # misread a word: "Fro Unknown")
    pages = [" ".join(t.split()) for t in _ocr_pages(out, tmp_path / "pages")]
    seen = " ".join(t for t in pages if "Heliotrope warning nine" in t)
    for line in ("Unknown Sender", "To:", "Date: Mon, 01 Jun 2026 10:00:00 +0000",
                 "Subject: We know where you are", "Heliotrope warning nine"):
        assert line in seen, line
    seen = " ".join(t for t in pages if "Periwinkle notice five" in t)
    for line in ("From: Unknown Sender", "To:", "Date: 2026-06-01 10:00:00",  # addresses: redacted
                 "Subject: Threat by Outlook", "Periwinkle notice five"):
        assert line in seen, line
    assert "threats@example.net" not in " ".join(pages)


# --- recordings -----------------------------------------------------------------------------


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(struct.pack("<8000h", *([1000, -1000] * 4000)))
    return path


def _mp4(path: Path) -> Path:
    """A minimal MP4: ftyp, an empty movie header and no media (ffmpeg is not available)."""
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    mvhd = box(b"mvhd", b"\0" * 4 + struct.pack(">IIII", 0, 0, 1000, 0) + struct.pack(">I", 0x10000)
               + struct.pack(">H", 0x100) + b"\0" * 10 + b"\0" * 36 + b"\0" * 24 + struct.pack(">I", 2))
    path.write_bytes(box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41") + box(b"moov", mvhd))
    return path


@LOCAL
def test_recordings_are_listed_with_their_sha256_and_written_beside_the_packet(fw, tmp_path):
    w = fw
    wav, mp4 = _wav(tmp_path / "testimony.wav"), _mp4(tmp_path / "video.mp4")
    ids = w.ok("doc", "add", "MX-0001", str(wav), str(mp4), "--type", "legal-declaration", user="bob").split()
    docs = {d["id"]: d for d in json.loads(w.ok("doc", "list", "MX-0001", "--json", user="bob"))}
    assert docs[ids[0]]["mime"] in ("audio/x-wav", "audio/wav") and docs[ids[1]]["mime"] == "video/mp4"
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    media = tmp_path / "media"
    media.mkdir()
    out = tmp_path / "irb.pdf"
    p = _build(w, out, "--media-dir", str(media))
    assert p.returncode == 0, p.stderr
    raw = _text(out)
    lines = [line.strip() for line in raw.splitlines()]
    text = " ".join(raw.split())
    for f in (wav, mp4):  # the recording's page (rebuilt from pixels) has it as a line of its own, exactly
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        assert digest in lines and f"Size: {f.stat().st_size} bytes" in lines
    assert text.count("provided separately") == 4  # each recording's page and its line of the index
    written = sorted(media.iterdir())
    names = {f.read_bytes(): f.name for f in written}  # in the packet's order, named like the packet
    assert sorted(names.values())[0].startswith("irb-recording-1.")  # named like the packet (irb.pdf)
    assert {names[wav.read_bytes()][-6:], names[mp4.read_bytes()][-6:]} in ({"-1.wav", "-2.mp4"}, {"-2.wav", "-1.mp4"})
    before = {f: f.stat().st_mtime_ns for f in written}
    out.unlink()
    (tmp_path / "irb.review.pdf").unlink()
    p = _build(w, out, "--media-dir", str(media))
    assert p.returncode == 1 and b"already exists in the media folder" in p.stderr and not out.exists()
    assert {f: f.stat().st_mtime_ns for f in written} == before
    p = _build(w, out, "--media-dir", str(media), "--force")
    assert p.returncode == 0, p.stderr


def test_a_page_drawn_from_known_text_keeps_that_text_less_what_was_burned():
    """A plain-text page (a message's, a recording's) is rebuilt from pixels, and its text layer is
    the text refuge drew, as drawn, less the burned characters: read back with pdftotext, a
    SHA-256 is exact, the words around a secret stay, and no piece of the secret survives,
    also where the secret is glued to its neighbours or wrapped onto the next line."""
    from canaries import SECRET, term_rule

    from packets.leakcheck import check_pdf
    from packets.model import Item
    from packets.profiles import get_profile
    from packets.redact import Redactor
    from packets.render import render

    digest = hashlib.sha256(b"a recording").hexdigest()
    body = (f"SHA-256:\n{digest}\nAttachment: car.png\nName:{SECRET}, then the rest.\n"
            + "word " * 10 + "ab " + SECRET + " after the wrap\n")  # wrapped inside the name
    profile = get_profile("irb-rpd-disclosure")
    assert profile.flatten == "all" and profile.ocr_text_layer
    red = Redactor([term_rule()], profile, workers=1)
    item = red.prepare([Item("d-known", "A message", "correspondence", "2026-01-01", "text/plain", body.encode())])[0]
    out = red(item, render(item, profile))
    with pikepdf.open(io.BytesIO(out)) as pdf:  # rebuilt from pixels: one image, no font of the source
        assert all(list(p.obj.Resources.XObject.keys()) == ["/Im0"] and "/F1" not in p.obj.Resources.get("/Font", {})
                   for p in pdf.pages)
    text = subprocess.run([require_tool("pdftotext"), "-", "-"], input=out, capture_output=True, check=True).stdout.decode()
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert digest in lines and "Attachment: car.png" in lines and "SHA-256:" in lines
    assert "Name:" in lines and ", then the rest." in lines  # the burned name between them (a gap: two lines)
    folded = text.lower()
    assert not any(piece in folded for piece in ("quetza", "marroq", "zalina")), text
    assert "word ab" in " ".join(text.split()) and "after the wrap" in " ".join(text.split())
    findings, problems = check_pdf(out, red.needles())
    assert not findings and not problems


@LOCAL
def test_removing_an_office_document_destroys_its_rendition_too(fw, files):
    """The rendition is the document's text in another form: removal must not leave it behind."""
    w = fw
    case_id = json.loads(w.ok("case", "list", "--json", user="erin"))[0]["id"]

    def blobs() -> set[str]:
        return {k for k in w.object_names() if k.startswith(f"cases/{case_id}/blobs/")}

    before = blobs()
    doc = w.ok("doc", "add", "MX-0001", str(files["docx"]), "--type", "legal-declaration", user="bob").strip()
    assert len(blobs() - before) == 2  # the original and its rendition
    w.ok("doc", "remove", doc, "--reason", "uploaded by mistake", user="erin")
    assert blobs() == before  # nothing of the document is left in storage
