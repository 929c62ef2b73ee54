"""Rendering documents into packet pages, checked with independent tools (poppler, qpdf).

Every fixture is made here by code: PDFs with reportlab (pikepdf only to set /Rotate,
CropBox and the things that must be stripped), images with Pillow.
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, TiffImagePlugin
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen.canvas import Canvas

from conftest import require_tool
from packets.model import Item
from packets.profiles import get_profile
from packets.render import RenderError, page_count, render, render_item, strip_jpeg_metadata
from vault.errors import InvalidInput

LETTER = get_profile("irb-rpd-disclosure")  # letter, 54-point margins
A4_PROFILE = get_profile("unhcr-resettlement")  # A4, 56.69-point margins

SECRET_TITLE = "Statement of Amina about the shelter in Kakuma"  # must never appear in an error


# ------------------------------------------------------------------------- fixtures


def make_pdf(pages: int = 1, size=letter, label: str = "DOC", frame: bool = True,
             marker: tuple[float, float] | None = None) -> bytes:
    """A reportlab PDF: each page says "<label> P<n>", has a frame at its edges and,
    if ``marker`` is given, a 60-point black square with its lower-left corner there."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=size, invariant=1)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 14)
        c.drawString(size[0] / 2 - 40, size[1] / 2, f"{label} P{n}")
        if frame:
            c.setLineWidth(6)
            c.rect(3, 3, size[0] - 6, size[1] - 6)
        if marker is not None:
            c.rect(marker[0], marker[1], 60, 60, fill=1)
        c.showPage()
    c.save()
    return buf.getvalue()


def with_page_keys(data: bytes, **keys) -> bytes:
    """``data`` with keys set on its first page (e.g. Rotate=90, CropBox=[...])."""
    pdf = pikepdf.open(io.BytesIO(data))
    for k, v in keys.items():
        pdf.pages[0].obj[f"/{k}"] = pikepdf.Array(v) if isinstance(v, list) else v
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


GPS_LAT = (45, 1), (30, 1), (1234567, 100)
GPS_LON = (75, 1), (41, 1), (7654321, 100)


def gps_bytes() -> list[bytes]:
    """The GPS seconds as they sit in an EXIF block, in either byte order."""
    out = []
    for num, den in (GPS_LAT[2], GPS_LON[2]):
        out += [struct.pack(">II", num, den), struct.pack("<II", num, den)]
    return out


def jpeg_with_exif(size=(400, 300), orientation: int = 6) -> bytes:
    """A JPEG with EXIF (orientation, camera make, GPS) and a comment, a red square in
    the top-left corner of its stored pixels and a blue background."""
    im = Image.new("RGB", size, (30, 60, 200))
    im.paste((255, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SECRETCAM"
    r = TiffImagePlugin.IFDRational
    exif.get_ifd(0x8825).update({1: "N", 2: tuple(r(*v) for v in GPS_LAT), 3: "W",
                                 4: tuple(r(*v) for v in GPS_LON)})
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif.tobytes(), comment=b"SECRETCOMMENT")
    data = buf.getvalue()
    assert b"Exif" in data and any(g in data for g in gps_bytes())
    return data


def png_line_art() -> bytes:
    im = Image.new("1", (500, 700), 1)
    im.paste(0, (100, 100, 400, 120))
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=_png_text("Comment", "SECRETPNG"))
    return buf.getvalue()


def _png_text(key: str, value: str):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def tiff_three_pages() -> bytes:
    frames = [Image.new("L", (300, 420), v) for v in (0, 100, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return buf.getvalue()


def item(doc_id: str, mime: str, data: bytes, type: str = "other", title: str = SECRET_TITLE, **kw) -> Item:
    return Item(doc_id=doc_id, title=title, type=type, date="2026-11-02", mime=mime, data=data, **kw)


# ---------------------------------------------------------------------------- tools


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def qpdf_check(path: Path) -> None:
    p = subprocess.run([require_tool("qpdf"), "--check", str(path)], capture_output=True)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


def pdfinfo(path: Path) -> dict[str, str]:
    out = subprocess.run([require_tool("pdfinfo"), str(path)], capture_output=True, check=True).stdout.decode()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def pdftotext(path: Path, *args: str) -> str:
    return subprocess.run([require_tool("pdftotext"), *args, str(path), "-"], capture_output=True,
                          check=True).stdout.decode()


def raster(path: Path, page: int = 1, dpi: int = 36, color: bool = False) -> Image.Image:
    """One page rendered by poppler (at 36 dpi one pixel is 2 points)."""
    args = [require_tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page)]
    args += ["-png"] if color else ["-gray", "-png"]
    out = subprocess.run([*args, str(path)], capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(out)).convert("RGB" if color else "L")


def dark_bbox(im: Image.Image, threshold: int = 128) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of the dark pixels."""
    return im.point(lambda v: 255 if v < threshold else 0).getbbox()


def dark_fraction(im: Image.Image, box: tuple[int, int, int, int]) -> float:
    region = im.crop(box)
    hist = region.histogram()
    return sum(hist[:128]) / max(1, region.width * region.height)


def near(a: float, b: float, tol: float = 3) -> bool:
    return abs(a - b) <= tol


# -------------------------------------------------------------------------- PDF pages


def test_a4_page_in_a_letter_packet_is_shrunk_inside_the_margins_keeping_its_shape(tmp_path):
    out = write(tmp_path, "a4.pdf", render(item("a4doc", "application/pdf", make_pdf(2, A4)), LETTER))
    qpdf_check(out)
    info = pdfinfo(out)
    assert info["Pages"] == "2" and info["Page size"].startswith("612 x 792")
    # The source's edge-to-edge frame must land exactly inside the margins: 841.89 points
    # of height fill the 684 between the margins, the width keeps A4's proportions.
    box = dark_bbox(raster(out))
    scale = 684 / 841.89
    width = 595.28 * scale
    x0 = 54 + (504 - width) / 2
    assert box is not None
    left, top, right, bottom = (v * 2 for v in box)  # pixels -> points (36 dpi)
    assert near(left, x0) and near(right, x0 + width) and near(top, 54) and near(bottom, 792 - 54)


def test_landscape_page_is_turned_onto_the_portrait_page_top_to_the_left(tmp_path):
    # Marker in the top-left corner of a landscape letter page, as a reader sees it.
    src = make_pdf(1, landscape(letter), marker=(20, 612 - 80))
    out = write(tmp_path, "land.pdf", render(item("landdoc", "application/pdf", src), LETTER))
    assert pdfinfo(out)["Page size"].startswith("612 x 792")
    im = raster(out)
    left, top, right, bottom = (v * 2 for v in dark_bbox(im))
    assert bottom - top > right - left  # the frame now stands upright: taller than wide
    assert near(left, 54) and near(right, 612 - 54)  # 792 points of width fill the 504 of height... turned
    # Turned a quarter turn anticlockwise: the top-left corner goes to the bottom-left.
    lx, ty, by = int(left / 2), int(top / 2), int(bottom / 2)  # points -> pixels
    assert dark_fraction(im, (lx + 12, by - 28, lx + 24, by - 14)) > 0.9
    assert dark_fraction(im, (lx + 12, ty + 14, lx + 24, ty + 28)) < 0.1


def test_rotate_90_is_honoured_as_a_viewer_shows_the_page(tmp_path):
    # A landscape MediaBox shown portrait by /Rotate 90: the viewer's top-left corner is
    # the stored bottom-left. Ignoring /Rotate would turn it and put the marker elsewhere.
    src = with_page_keys(make_pdf(1, landscape(letter), marker=(20, 20)), Rotate=90)
    out = write(tmp_path, "rot.pdf", render(item("rotdoc", "application/pdf", src), LETTER))
    qpdf_check(out)
    im = raster(out)
    left, top, right, bottom = (v * 2 for v in dark_bbox(im))
    assert near(left, 54) and near(right, 612 - 54)  # portrait 612 x 792 content fills the width
    assert bottom - top > right - left
    lx, ty, by = int(left / 2), int(top / 2), int(bottom / 2)
    assert dark_fraction(im, (lx + 12, ty + 12, lx + 24, ty + 24)) > 0.9
    assert dark_fraction(im, (lx + 12, by - 24, lx + 24, by - 12)) < 0.1
    pdf = pikepdf.open(out)
    assert pdf.pages[0].obj.get("/Rotate", 0) == 0


def test_cropbox_is_honoured_and_what_it_hides_stays_hidden(tmp_path):
    # Left half visible; a black square sits in the cropped-away right half.
    src = with_page_keys(make_pdf(1, letter, marker=(450, 400)), CropBox=[0, 0, 306, 792])
    out = write(tmp_path, "crop.pdf", render(item("cropdoc", "application/pdf", src), LETTER))
    im = raster(out)
    # The visible half (306 x 792) is what gets fitted: it fills the 684 points of height,
    # and nothing is drawn to the right of it, where the square would be.
    scale = 684 / 792
    x0 = 54 + (504 - 306 * scale) / 2
    left, top, right, bottom = (v * 2 for v in dark_bbox(im))
    assert near(top, 54) and near(bottom, 792 - 54) and near(left, x0) and near(right, x0 + 306 * scale)
    assert dark_fraction(im, (0, 0, im.width, im.height)) < 0.05


def test_pages_carry_nothing_of_the_source_but_content_and_resources(tmp_path):
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=letter, invariant=1)
    c.drawString(72, 700, "VISIBLE TEXT")
    c.linkURL("https://example.org/track", (72, 690, 200, 710))
    c.bookmarkPage("p1")
    c.addOutlineEntry("SECRETOUTLINE", "p1")
    c.acroForm.textfield(name="claimant", value="FIELDVALUE", x=72, y=600, width=200, height=24)
    c.showPage()
    c.save()
    pdf = pikepdf.open(io.BytesIO(buf.getvalue()))
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('SECRETJS')"))
    pdf.attachments["secret.txt"] = pikepdf.AttachedFileSpec(pdf, b"ATTACHMENTSECRET")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["XMPSECRET"]
    pdf.pages[0].obj.PieceInfo = pikepdf.Dictionary(App=pikepdf.Dictionary(Private=pikepdf.String("PIECESECRET")))
    pdf.pages[0].obj.Thumb = pikepdf.Stream(pdf, b"THUMBSECRET")
    src = io.BytesIO()
    pdf.save(src)
    out = write(tmp_path, "clean.pdf", render(item("formdoc", "application/pdf", src.getvalue()), LETTER))
    qpdf_check(out)
    flat = subprocess.run([require_tool("qpdf"), "--qdf", "--object-streams=disable", str(out), "-"],
                          capture_output=True, check=True).stdout
    for needle in (b"/Annots", b"/AcroForm", b"/JavaScript", b"/JS", b"/OpenAction", b"/EmbeddedFile",
                   b"/Metadata", b"/PieceInfo", b"/Thumb", b"/Outlines", b"/URI", b"SECRETJS", b"ATTACHMENTSECRET",
                   b"XMPSECRET", b"PIECESECRET", b"THUMBSECRET", b"SECRETOUTLINE", b"example.org"):
        assert needle not in flat, needle
    text = pdftotext(out)
    assert "VISIBLE TEXT" in text
    assert "FIELDVALUE" in text  # the filled-in field is burned into the page, not dropped


def test_embedded_jpeg_in_a_pdf_loses_its_exif_losslessly(tmp_path):
    jpeg = jpeg_with_exif()
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(612, 792))
    img = pikepdf.Stream(pdf, b"")
    img.write(jpeg, filter=pikepdf.Name.DCTDecode)
    img.Type, img.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    img.Width, img.Height, img.BitsPerComponent = 400, 300, 8
    img.ColorSpace = pikepdf.Name.DeviceRGB
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im1=img))
    page.obj.Contents = pikepdf.Stream(pdf, b"q 400 0 0 300 100 100 cm /Im1 Do Q")
    buf = io.BytesIO()
    pdf.save(buf)
    data = render(item("scan1", "application/pdf", buf.getvalue()), LETTER)
    assert b"Exif" not in data and b"SECRETCAM" not in data and b"SECRETCOMMENT" not in data
    assert not any(g in data for g in gps_bytes())
    # Only header segments went: the compressed scan data is byte for byte the same.
    scan = jpeg[jpeg.index(b"\xff\xda"):]
    assert scan in data
    stripped = strip_jpeg_metadata(jpeg)
    assert Image.open(io.BytesIO(stripped)).tobytes() == Image.open(io.BytesIO(jpeg)).tobytes()


# ----------------------------------------------------------------------------- images


def test_jpeg_is_turned_by_its_exif_orientation_then_stripped_of_exif_and_gps(tmp_path):
    data = render(item("photo1", "image/jpeg", jpeg_with_exif(orientation=6)), LETTER)
    assert b"Exif" not in data and b"SECRETCAM" not in data and b"SECRETCOMMENT" not in data
    assert not any(g in data for g in gps_bytes())
    out = write(tmp_path, "photo.pdf", data)
    qpdf_check(out)
    pdf = pikepdf.open(out)
    [img] = list(pdf.pages[0].obj.Resources.XObject.values())
    assert (int(img.Width), int(img.Height)) == (300, 400)  # orientation 6 stands the photo up
    # Orientation 6 turns the stored image a quarter turn clockwise for display: the
    # red square in the stored top-left corner is now top-right. The upright photo is
    # fitted, centred, between the margins.
    im = raster(out, color=True)
    s = min(504 / 300, 684 / 400)
    x0, y0 = 54 + (504 - 300 * s) / 2, 54 + (684 - 400 * s) / 2  # top-left corner, from the top
    red = im.getpixel((int((x0 + 290 * s) / 2), int((y0 + 10 * s) / 2)))
    blue = im.getpixel((int((x0 + 10 * s) / 2), int((y0 + 10 * s) / 2)))
    assert red[0] > 180 and red[2] < 90, red
    assert blue[2] > 150 and blue[0] < 90, blue


def test_png_line_art_stays_lossless_and_loses_its_text_chunks(tmp_path):
    data = render(item("png1", "image/png", png_line_art()), LETTER)
    assert b"SECRETPNG" not in data
    pdf = pikepdf.open(io.BytesIO(data))
    [img] = list(pdf.pages[0].obj.Resources.XObject.values())
    assert img.Filter == pikepdf.Name.FlateDecode and int(img.BitsPerComponent) == 1


def test_three_page_tiff_becomes_three_pages(tmp_path):
    tif = item("tiff1", "image/tiff", tiff_three_pages())
    out = write(tmp_path, "tiff.pdf", render(tif, A4_PROFILE))
    qpdf_check(out)
    info = pdfinfo(out)
    assert info["Pages"] == "3" and info["Page size"].startswith("595.28 x 841.89")
    assert page_count(tif) == 3
    # Frames keep their order: black, dark grey, light grey.
    means = []
    for n in (1, 2, 3):
        im = raster(out, page=n)
        means.append(im.crop((im.width // 2 - 5, im.height // 2 - 5, im.width // 2 + 5, im.height // 2 + 5))
                     .resize((1, 1)).getpixel((0, 0)))
    assert means[0] < means[1] < means[2]


def test_decompression_bomb_is_refused_in_one_line_naming_only_the_doc_id(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    for mime, data in (("image/png", png_line_art()), ("image/tiff", tiff_three_pages()),
                       ("image/jpeg", jpeg_with_exif())):
        with pytest.raises(RenderError) as info:
            render_item(item("bomb7", mime, data), LETTER)
        msg = str(info.value)
        assert "bomb7" in msg and "pixels" in msg and "\n" not in msg
        assert SECRET_TITLE not in msg and "Amina" not in msg
        assert isinstance(info.value, InvalidInput)
        with pytest.raises(RenderError):
            page_count(item("bomb7", mime, data))


# ------------------------------------------------------------------------------- text


def test_plain_text_is_wrapped_in_monospace_and_bad_utf8_replaced(tmp_path):
    long_line = "word " * 60
    body = ("Déclaration de Zoë — naïve façade\n" + long_line + "\n").encode() + b"bad \xff\xfe byte\n"
    body += b"".join(f"line {n}\n".encode() for n in range(120))
    doc = item("text1", "text/plain", body)
    out = write(tmp_path, "text.pdf", render(doc, LETTER))
    qpdf_check(out)
    info = pdfinfo(out)
    assert int(info["Pages"]) == page_count(doc, LETTER) >= 3
    text = pdftotext(out)
    assert "Déclaration de Zoë — naïve façade" in text
    assert "line 0" in text and "line 119" in text
    assert re.search("bad [?\ufffd]+ byte", text)
    lines = [ln for ln in pdftotext(out, "-layout").splitlines() if ln.startswith("word")]
    assert len(lines) >= 4  # 300 characters wrapped at about 70 columns
    fonts = subprocess.run([require_tool("pdffonts"), str(out)], capture_output=True, check=True).stdout.decode()
    assert "Courier" in fonts or "Mono" in fonts


def test_plain_text_in_a_script_the_fonts_cannot_shape_is_refused_not_garbled():
    doc = item("text2", "text/plain", "شهادة اللاجئ".encode())
    with pytest.raises(RenderError) as info:
        render_item(doc, LETTER)
    msg = str(info.value)
    assert msg.startswith("document text2:") and "U+" in msg and "PDF" in msg and SECRET_TITLE not in msg


# ----------------------------------------------------------------------------- errors


def _encrypted_pdf() -> bytes:
    pdf = pikepdf.open(io.BytesIO(make_pdf()))
    buf = io.BytesIO()
    pdf.save(buf, encryption=pikepdf.Encryption(user="u", owner="o"))
    return buf.getvalue()


@pytest.mark.parametrize("mime, data, words", [
    ("application/pdf", b"%PDF-1.7\nthis is not a pdf", "not a readable PDF"),
    ("application/pdf", None, "password"),
    ("image/jpeg", b"\xff\xd8\xff\xe0 truncated", "not a readable JPEG"),
    ("image/png", b"GIF89a....", "not a readable PNG"),
    ("application/msword", b"\xd0\xcf\x11\xe0", "unsupported type application/msword"),
])
def test_unreadable_documents_fail_with_one_line_naming_the_doc_id_not_the_title(mime, data, words):
    if data is None:
        data = _encrypted_pdf()
    with pytest.raises(RenderError) as info:
        render_item(item("bad42", mime, data), LETTER)
    msg = str(info.value)
    assert msg.startswith("document bad42: ") and words in msg and "\n" not in msg and "; " in msg
    assert SECRET_TITLE not in msg and info.value.doc_id == "bad42"


def test_page_count_agrees_with_rendering_for_every_type():
    docs = [item("p", "application/pdf", make_pdf(4)), item("j", "image/jpeg", jpeg_with_exif()),
            item("g", "image/png", png_line_art()), item("t", "image/tiff", tiff_three_pages()),
            item("x", "text/plain", b"hello\n" * 200)]
    for d in docs:
        assert page_count(d, LETTER) == render_item(d, LETTER).page_count


def test_render_is_deterministic_and_never_writes_plaintext_to_disk(tmp_path, monkeypatch):
    import builtins
    import os
    import tempfile

    def no_disk(*_a, **_k):
        raise AssertionError("rendering touched the disk")

    docs = [item("p", "application/pdf", make_pdf(2, A4)), item("j", "image/jpeg", jpeg_with_exif()),
            item("t", "image/tiff", tiff_three_pages()), item("x", "text/plain", b"hello\n")]
    first = [render(d, LETTER) for d in docs]  # fonts and modules loaded before the trap is set
    real_open = builtins.open

    def guarded_open(file, mode="r", *a, **k):
        if any(m in mode for m in "wax+"):
            no_disk()
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", no_disk)
    monkeypatch.setattr(tempfile, "mkstemp", no_disk)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", no_disk)
    assert [render(d, LETTER) for d in docs] == first
