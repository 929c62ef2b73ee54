"""An adversarial corpus, made by code: a registered person's name and passport number hidden
in every way issue #22 lists, each class in several forms, and a checker that reads a
packet as its recipient could, with tools refuge does not use for its own check.

Each generator returns a :class:`Case` (a document to put in a packet). :func:`leaks`
reads a PDF through pdftotext, pdfminer.six, pypdf (text and every object), qpdf's
uncompressed bytes, exiftool on the file and on every image pdfimages extracts,
tesseract on every page pdftoppm renders and on every extracted image, and zxing-cpp on
both; it folds accents, case, Cyrillic and Greek look-alikes and drops separators, with
its own code (not refuge's matcher).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

from raw_readers import RawSkeleton, exiftool_each

GIVEN, SURNAME, NUMBER = "Yolotzin", "Ixtlahuac", "G47201938"
NAME = f"{GIVEN} {SURNAME}"
#: What must not be found anywhere.
SECRETS = (NAME, NUMBER)
#: The case's redaction terms: the name, the number, and the variant a coverage register
#: generates for surname-first forms (MRZ order).
RULES = [
    {"id": "t-name", "kind": "term", "text": NAME, "category": "always"},
    {"id": "t-name-rev", "kind": "term", "text": f"{SURNAME} {GIVEN}", "category": "always"},
    {"id": "t-number", "kind": "term", "text": NUMBER, "category": "always"},
]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
W, H = 612, 792


@dataclass
class Case:
    cls: str  # the class of weakness
    form: str
    data: bytes
    mime: str = "application/pdf"
    title: str = "Letter"
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.cls}/{self.form}"


# ------------------------------------------------------------------------- building blocks


def _pil_font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(FONT, size)


def _scan(lines: list[str], size=(1275, 1650), font_size=34, top=180):
    """A white page (150 dpi letter) with lines of black text: a scan's pixels."""
    from PIL import Image, ImageDraw

    im = Image.new("L", size, 255)
    d = ImageDraw.Draw(im)
    f = _pil_font(font_size)
    for k, line in enumerate(lines):
        d.text((120, top + k * int(font_size * 1.8)), line, fill=0, font=f)
    return im


def _image_stream(pdf: pikepdf.Pdf, im, jpeg: bool = False, **extra) -> pikepdf.Stream:
    if jpeg:
        buf = io.BytesIO()
        im.convert("RGB" if im.mode == "RGB" else "L").save(buf, "JPEG", quality=85)
        s = pikepdf.Stream(pdf, buf.getvalue())
        s.Filter = Name.DCTDecode
    else:
        s = pikepdf.Stream(pdf, zlib.compress(im.tobytes()))
        s.Filter = Name.FlateDecode
    s.Type, s.Subtype, s.Width, s.Height, s.BitsPerComponent = Name.XObject, Name.Image, im.width, im.height, 8
    s.ColorSpace = Name.DeviceRGB if im.mode == "RGB" else Name.DeviceGray
    for k, v in extra.items():
        s[Name("/" + k)] = v
    return s


def _helvetica() -> Dictionary:
    return Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)


def _page(pdf: pikepdf.Pdf, content: str | bytes, xobjects: dict | None = None, fonts: dict | None = None,
          extra_resources: dict | None = None, **page_keys) -> None:
    res = Dictionary(Font=Dictionary(F1=_helvetica(), **(fonts or {})))
    if xobjects:
        res.XObject = Dictionary(**xobjects)
    for k, v in (extra_resources or {}).items():
        res[Name("/" + k)] = v
    page = pikepdf.Page(Dictionary(Type=Name.Page, MediaBox=Array([0, 0, W, H]), Resources=res,
                                   Contents=pikepdf.Stream(pdf, content.encode("latin-1") if isinstance(content, str)
                                                           else content), **page_keys))
    pdf.pages.append(page)


def _text_ops(lines: list[str], x=72, y=700, size=12, mode=0) -> str:
    ops = [f"BT /F1 {size} Tf {mode} Tr {x} {y} Td {size * 1.5:.1f} TL"]
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({esc}) Tj T*")
    ops.append("ET")
    return "\n".join(ops)


def _save(pdf: pikepdf.Pdf) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _reportlab(draw, pages: int = 1, fonts: bool = False) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    if fonts:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("AdvDejaVu", FONT))
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(W, H))
    for k in range(pages):
        draw(c, k)
        c.showPage()
    c.save()
    return buf.getvalue()


LETTER = ["To the committee,", "I write in support of the claim of", "the person named in the file.",
          "The neighbour text stays readable.", "Yours faithfully, the clinic."]


# ------------------------------------------------------------------- class 1: pages with text


def stamp_on_scan() -> list[Case]:
    """A scan (the name in pixels) made "searchable" by one text stamp."""
    out = []
    for form, stamp in (("received-stamp", "RECEIVED 2026-01-05"), ("page-label", "Page 1"),
                        ("bates-number", "CLINIC-000123")):
        pdf = pikepdf.new()
        im = _scan(["DECLARATION", f"My name is {NAME}.", f"Passport {NUMBER}.", "I ask for protection."])
        img = _image_stream(pdf, im, jpeg=True)
        _page(pdf, f"q {W} 0 0 {H} 0 0 cm /Im0 Do Q\n" + _text_ops([stamp], 400, 760, 9), {"Im0": img})
        out.append(Case("stamp-on-scan", form, _save(pdf)))
    return out


def misread_ocr_layer() -> list[Case]:
    """A scan with the scanner's own invisible OCR layer, which misread the name."""
    out = []
    for form, layer in (("misread", ["My narne is Yo1otz1n lxt1ahuac.", "Passport G4720I93B."]),
                        ("garbage", ["~~~ ## ~~~", "...."]), ("other-words", ["Lorem ipsum dolor sit amet."])):
        pdf = pikepdf.new()
        im = _scan([f"My name is {NAME}.", f"Passport {NUMBER}."])
        img = _image_stream(pdf, im, jpeg=True)
        _page(pdf, f"q {W} 0 0 {H} 0 0 cm /Im0 Do Q\n" + _text_ops(layer, 60, 700, 16, mode=3), {"Im0": img})
        out.append(Case("misread-ocr-layer", form, _save(pdf)))
    return out


def pasted_id() -> list[Case]:
    """A typed letter with a photo of an identity card pasted in."""
    from PIL import Image, ImageDraw

    out = []
    for form, angle in (("upright", 0), ("tilted", 3)):
        card = Image.new("RGB", (900, 560), (225, 235, 245))
        d = ImageDraw.Draw(card)
        d.rectangle((30, 120, 280, 460), fill=(170, 170, 180))
        f = _pil_font(40)
        d.text((320, 90), "IDENTITY CARD", fill=(20, 20, 60), font=f)
        d.text((320, 200), NAME.upper(), fill=(0, 0, 0), font=f)
        d.text((320, 300), f"No. {NUMBER}", fill=(0, 0, 0), font=f)
        if angle:
            card = card.rotate(angle, expand=True, fillcolor=(255, 255, 255))
        pdf = pikepdf.new()
        img = _image_stream(pdf, card, jpeg=True)
        _page(pdf, _text_ops(LETTER) + "\nq 300 0 0 187 150 250 cm /Im0 Do Q", {"Im0": img})
        out.append(Case("pasted-id", form, _save(pdf)))
    return out


def _runs(im) -> list[tuple[int, int, int]]:
    """Black pixel runs of a 1-bit image: (row, first column, length)."""
    px = im.load()
    out = []
    for y in range(im.height):
        x = 0
        while x < im.width:
            if px[x, y] == 0:
                start = x
                while x < im.width and px[x, y] == 0:
                    x += 1
                out.append((y, start, x - start))
            x += 1
    return out


def vector_outlines() -> list[Case]:
    """The name drawn as filled paths: no text object at all."""
    from PIL import Image, ImageDraw

    out = []
    for form, text in (("name", f"Applicant: {NAME}"), ("number", f"Document {NUMBER}")):
        im = Image.new("1", (900, 60), 1)
        ImageDraw.Draw(im).text((0, 5), text, fill=0, font=_pil_font(40))
        s = 0.45  # points per pixel
        ops = ["0 g"] + [f"{72 + x * s:.2f} {600 - y * s:.2f} {n * s:.2f} {s:.2f} re" for y, x, n in _runs(im)] + ["f"]
        pdf = pikepdf.new()
        _page(pdf, _text_ops(LETTER) + "\n" + "\n".join(ops))
        out.append(Case("vector-outlines", form, _save(pdf)))
    return out


def type3_font() -> list[Case]:
    """The name set in a Type3 font whose glyphs are bitmaps of the letters and whose codes
    are shifted, with no ToUnicode: extractors read other letters than the page shows."""
    from PIL import Image, ImageDraw

    out = []
    for form, text in (("name", NAME), ("number", NUMBER)):
        pdf = pikepdf.new()
        procs, widths = Dictionary(), []
        chars = sorted(set(text))
        code_of = {c: chr(ord("a") + k) for k, c in enumerate(chars)}  # codes that say other letters
        f = _pil_font(50)
        for c in chars:
            im = Image.new("1", (40, 60), 1)
            ImageDraw.Draw(im).text((4, 0), c, fill=0, font=f)
            if c == " ":
                im = Image.new("1", (40, 60), 1)
            bits = im.tobytes()
            proc = ("600 0 0 0 600 900 d1 q 600 0 0 900 0 0 cm BI /W 40 /H 60 /BPC 1 /IM true ID ".encode()
                    + bits + b" EI Q")
            procs[Name("/g" + code_of[c])] = pikepdf.Stream(pdf, proc)
        first = ord("a")
        diffs = Array([first] + [Name("/g" + chr(first + k)) for k in range(len(chars))])
        widths = Array([600] * len(chars))
        font = Dictionary(Type=Name.Font, Subtype=Name.Type3, FontBBox=Array([0, 0, 600, 900]),
                          FontMatrix=Array([0.001, 0, 0, 0.001, 0, 0]), CharProcs=procs,
                          Encoding=Dictionary(Type=Name.Encoding, Differences=diffs), FirstChar=first,
                          LastChar=first + len(chars) - 1, Widths=widths, Resources=Dictionary())
        shown = "".join(code_of[c] for c in text)
        _page(pdf, _text_ops(LETTER) + f"\nBT /T3 28 Tf 72 520 Td ({shown}) Tj ET", fonts={"T3": font})
        out.append(Case("type3-font", form, _save(pdf)))
    return out


def tiling_pattern() -> list[Case]:
    """The name painted by a tiling pattern: text inside the pattern cell, which page text
    extraction does not read."""
    out = []
    for form, cell in (("one-cell", (400, 40)), ("repeated", (220, 30))):
        pdf = pikepdf.new()
        body = f"BT /F1 14 Tf 2 10 Td ({NAME}) Tj ET".encode()
        pattern = pikepdf.Stream(pdf, body)
        pattern.Type, pattern.PatternType, pattern.PaintType, pattern.TilingType = Name.Pattern, 1, 1, 1
        pattern.BBox, pattern.XStep, pattern.YStep = Array([0, 0, *cell]), cell[0], cell[1]
        pattern.Matrix = Array([1, 0, 0, 1, 72, 480])  # cells start where the painted box does
        pattern.Resources = Dictionary(Font=Dictionary(F1=_helvetica()))
        content = _text_ops(LETTER) + f"\n/Pattern cs /P0 scn 72 480 {cell[0] if form == 'one-cell' else 440} " \
                                      f"{cell[1] if form == 'one-cell' else 60} re f"
        _page(pdf, content, extra_resources={"Pattern": Dictionary(P0=pattern)})
        out.append(Case("tiling-pattern", form, _save(pdf)))
    return out


# -------------------------------------------------------- class 2: data the pixels do not show


def _photo():
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (600, 400), (120, 160, 200))
    ImageDraw.Draw(im).ellipse((200, 100, 400, 300), fill=(220, 190, 160))
    return im


def _photo_page(pdf: pikepdf.Pdf, img: pikepdf.Stream, extra: str = "") -> None:
    _page(pdf, _text_ops(LETTER) + "\nq 300 0 0 200 150 300 cm /Im0 Do Q\n" + extra, {"Im0": img})


def hidden_in_images() -> list[Case]:
    """The secret in image data that no viewer shows."""
    from PIL import Image, ImageDraw

    out = []
    secret = f"{NAME} {NUMBER}".encode()
    # JPEG data after EOI: plain bytes, and a second whole JPEG that shows the name.
    for form in ("bytes-after-eoi", "jpeg-after-eoi"):
        pdf = pikepdf.new()
        buf = io.BytesIO()
        _photo().save(buf, "JPEG", quality=80)
        tail = secret if form == "bytes-after-eoi" else _jpeg_bytes(_scan([NAME], (500, 120), 30, 20))
        img = pikepdf.Stream(pdf, buf.getvalue() + tail)
        img.Type, img.Subtype, img.Width, img.Height = Name.XObject, Name.Image, 600, 400
        img.ColorSpace, img.BitsPerComponent, img.Filter = Name.DeviceRGB, 8, Name.DCTDecode
        _photo_page(pdf, img)
        out.append(Case("hidden-image-data", form, _save(pdf)))
    # JPEG 2000 with an XML box and a comment.
    pdf = pikepdf.new()
    buf = io.BytesIO()
    _photo().save(buf, "JPEG2000")
    xml = b"<note>" + secret + b"</note>"
    jp2 = buf.getvalue() + (8 + len(xml)).to_bytes(4, "big") + b"xml " + xml
    img = pikepdf.Stream(pdf, jp2)
    img.Type, img.Subtype, img.Width, img.Height, img.Filter = Name.XObject, Name.Image, 600, 400, Name.JPXDecode
    _photo_page(pdf, img)
    out.append(Case("hidden-image-data", "jpeg2000-xml-box", _save(pdf)))
    # Bytes after an image's pixels (the decoded stream is longer than width x height).
    pdf = pikepdf.new()
    gray = _photo().convert("L")
    img = pikepdf.Stream(pdf, zlib.compress(gray.tobytes() + secret * 3))
    img.Type, img.Subtype, img.Width, img.Height = Name.XObject, Name.Image, 600, 400
    img.ColorSpace, img.BitsPerComponent, img.Filter = Name.DeviceGray, 8, Name.FlateDecode
    _photo_page(pdf, img)
    out.append(Case("hidden-image-data", "bytes-after-pixels", _save(pdf)))
    # Pixels an SMask hides: the name drawn in the image, fully transparent.
    pdf = pikepdf.new()
    im = _scan([NAME, NUMBER], (600, 200), 36, 20)
    mask = _image_stream(pdf, Image.new("L", im.size, 0))
    img = _image_stream(pdf, im, SMask=mask)
    _photo_page(pdf, img)
    out.append(Case("hidden-image-data", "smask-hidden", _save(pdf)))
    # Pixels and text outside the crop box.
    pdf = pikepdf.new()
    im = _scan([NAME, NUMBER], (600, 200), 36, 20)
    img = _image_stream(pdf, im)
    _page(pdf, _text_ops(LETTER, 72, 350) + "\nq 300 0 0 100 100 650 cm /Im0 Do Q\n" + _text_ops([NAME], 72, 620),
          {"Im0": img}, CropBox=Array([0, 0, W, 400]))
    out.append(Case("hidden-image-data", "outside-crop-box", _save(pdf)))
    # ICC profile text.
    pdf = pikepdf.new()
    icc = pikepdf.Stream(pdf, _icc_profile(secret))
    icc.N, icc.Alternate = 1, Name.DeviceGray
    img = _image_stream(pdf, gray)
    img.ColorSpace = Array([Name.ICCBased, icc])
    _photo_page(pdf, img)
    out.append(Case("hidden-image-data", "icc-profile-text", _save(pdf)))
    # A font program whose name records carry the name.
    out.append(Case("hidden-image-data", "font-name-records", _font_name_pdf()))
    _ = ImageDraw
    return out


def _jpeg_bytes(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _icc_profile(text: bytes) -> bytes:
    """A small grey ICC profile (v2) whose description tag says ``text``."""
    desc = b"desc" + b"\0" * 4 + (len(text) + 1).to_bytes(4, "big") + text + b"\0" + b"\0" * 79
    wtpt = b"XYZ " + b"\0" * 4 + (63190).to_bytes(4, "big") + (65536).to_bytes(4, "big") + (54061).to_bytes(4, "big")
    trc = b"curv" + b"\0" * 4 + (1).to_bytes(4, "big") + (256).to_bytes(2, "big") + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"kTRC", trc)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        while (offset + len(body)) % 4:
            body += b"\0"
        table += sig + (offset + len(body)).to_bytes(4, "big") + len(data).to_bytes(4, "big")
        body += data
    size = offset + len(body)
    header = (size.to_bytes(4, "big") + b"none" + bytes([2, 0x10, 0, 0]) + b"mntrGRAYXYZ " + b"\0" * 12 + b"acsp"
              + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4 + (63190).to_bytes(4, "big")
              + (65536).to_bytes(4, "big") + (54061).to_bytes(4, "big") + b"\0" * 4)
    header += b"\0" * (128 - len(header))
    return header + len(tags).to_bytes(4, "big") + table + body


def _font_name_pdf() -> bytes:
    """Text in an embedded TrueType font (DejaVu) whose unique-id name record is replaced by
    the secret (same length, so the font still loads)."""
    data = bytearray(open(FONT, "rb").read())
    n_tables = int.from_bytes(data[4:6], "big")
    for t in range(n_tables):
        rec = 12 + 16 * t
        if data[rec:rec + 4] == b"name":
            base = int.from_bytes(data[rec + 8:rec + 12], "big")
            count = int.from_bytes(data[base + 2:base + 4], "big")
            strings = base + int.from_bytes(data[base + 4:base + 6], "big")
            for k in range(count):
                r = base + 6 + 12 * k
                name_id = int.from_bytes(data[r + 6:r + 8], "big")
                length = int.from_bytes(data[r + 8:r + 10], "big")
                off = int.from_bytes(data[r + 10:r + 12], "big")
                platform = int.from_bytes(data[r:r + 2], "big")
                if name_id in (3, 4, 6):
                    enc = "utf-16-be" if platform in (0, 3) else "latin-1"
                    new = f"{NUMBER} {NAME}".encode(enc)[:length].ljust(length, b"\0" if enc == "latin-1" else b"\0")
                    data[strings + off:strings + off + length] = new
    pdf = pikepdf.new()
    ff = pikepdf.Stream(pdf, bytes(data))
    ff.Length1 = len(data)
    desc = Dictionary(Type=Name.FontDescriptor, FontName=Name("/DejaVuSans"), Flags=32,
                      FontBBox=Array([-1021, -463, 1793, 1232]), ItalicAngle=0, Ascent=928, Descent=-236,
                      CapHeight=729, StemV=80, FontFile2=ff)
    font = Dictionary(Type=Name.Font, Subtype=Name.TrueType, BaseFont=Name("/DejaVuSans"),
                      Encoding=Name.WinAnsiEncoding, FontDescriptor=desc, FirstChar=32, LastChar=126,
                      Widths=Array([600] * 95))
    _page(pdf, _text_ops(LETTER).replace("/F1", "/TT"), fonts={"TT": font})
    return _save(pdf)


# --------------------------------------------------------------- class 3: disguised matches


def disguised_text() -> list[Case]:
    """The name and number as text the old matcher missed."""
    cyr = NAME.replace("o", "\u043e").replace("a", "\u0430")  # Cyrillic o and a
    greek = NAME.replace("o", "\u03bf").replace("I", "\u0399")  # Greek omicron and Iota
    forms = {
        "surname-first": [f"{SURNAME.upper()}, {GIVEN}", "appeared before the officer."],
        "mrz": ["P<MEX" + f"{SURNAME.upper()}<<{GIVEN.upper()}".ljust(39, "<"),
                f"{NUMBER}4MEX9001011F3001012" + "<" * 14 + "02"],
        "underscores": [f"e-mail: {GIVEN.lower()}_{SURNAME.lower()}@example.org",
                        f"file: {SURNAME.lower()}_{GIVEN.lower()}_{NUMBER}.pdf"],
        "separators": [f"Name: {'.'.join(GIVEN)} {SURNAME}", f"No. {NUMBER[:3]} {NUMBER[3:6]}-{NUMBER[6:]}"],
        "cyrillic-lookalikes": [f"Client: {cyr}"],
        "greek-lookalikes": [f"Client: {greek}"],
    }
    out = []
    for form, lines in forms.items():
        def draw(c, _k, lines=lines):
            c.setFont("AdvDejaVu", 12)
            y = 700
            for line in LETTER[:2] + lines + LETTER[2:]:
                c.drawString(72, y, line)
                y -= 18
        out.append(Case("disguised-text", form, _reportlab(draw, fonts=True)))
    return out


def wrapped_text() -> list[Case]:
    """The name wrapped inside a table cell, and split by a page break."""
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

    style = getSampleStyleSheet()["BodyText"]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=(W, H))
    rows = [["Name", "Date", "Place", "Notes"],
            [Paragraph(NAME, style), "2020-01-01", Paragraph("A town far away from here", style),
             Paragraph("Arrived with two children and a bag", style)]]
    doc.build([Paragraph("Table of events", style), Table(rows, colWidths=[55, 80, 120, 150])])
    out = [Case("wrapped-text", "table-cell", buf.getvalue())]

    def draw(c, k):
        c.setFont("Helvetica", 12)
        if k == 0:
            for j, line in enumerate(LETTER):
                c.drawString(72, 700 - 18 * j, line)
            c.drawString(72, 60, f"The declaration was signed by {GIVEN}")
            c.drawString(290, 30, "Page 1")
        else:
            c.drawString(72, 740, f"{SURNAME} on the fifth of January.")
            c.drawString(290, 30, "Page 2")
    out.append(Case("wrapped-text", "page-break", _reportlab(draw, pages=2)))
    return out


def qr_codes() -> list[Case]:
    """A QR code that says the name: as a photo, and pasted into a letter."""
    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(f"BEGIN:VCARD\nFN:{NAME}\nEND:VCARD", zxingcpp.BarcodeFormat.QRCode)
    view = memoryview(code.to_image(scale=6))
    qr = Image.frombytes("L", (view.shape[1], view.shape[0]), bytes(view))
    page = Image.new("L", (900, 1200), 255)
    page.paste(qr, (150, 200))
    buf = io.BytesIO()
    page.save(buf, "PNG")
    out = [Case("qr-code", "photo", buf.getvalue(), "image/png")]
    pdf = pikepdf.new()
    img = _image_stream(pdf, qr)
    _page(pdf, _text_ops(LETTER) + "\nq 150 0 0 150 72 350 cm /Im0 Do Q", {"Im0": img})
    out.append(Case("qr-code", "in-a-letter", _save(pdf)))
    return out


def corpus() -> list[Case]:
    """Every case, every form."""
    return (stamp_on_scan() + misread_ocr_layer() + pasted_id() + vector_outlines() + type3_font()
            + tiling_pattern() + hidden_in_images() + disguised_text() + wrapped_text() + qr_codes())


def representatives() -> list[Case]:
    """One form of each class (the fast run)."""
    seen, out = set(), []
    for case in corpus():
        key = case.cls if case.cls != "hidden-image-data" and case.cls != "disguised-text" else case.name
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


# ------------------------------------------------------------------ building and checking


def build(cases: list[Case], profile_id: str, ocr: bool = True) -> list[bytes]:
    """The packet of ``cases`` for ``profile_id``, through the worker's own pipeline (render,
    redact, assemble, leak check), in this process. Raises what a build raises."""
    import dataclasses

    from packets._isolated import produce_here
    from packets.model import Item
    from packets.profiles import get_profile

    profile = get_profile(profile_id)
    items = [Item(f"d{k:02d}", c.title, "legal-declaration", "2026-01-01", c.mime, c.data)
             for k, c in enumerate(cases)]
    request = {"items": items, "profile": dataclasses.replace(profile, ocr=ocr, require_review=False),  # no human here
               "sender_org": "Fictional Clinic",
               "today": "2026-01-10", "redactions": RULES, "reviews": [], "ocr": ocr, "ocr_cache": {}}
    _value, blobs = produce_here(request, items, lambda _m: None)
    return blobs[:-1]


_HOMO = str.maketrans({"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
                       "ѕ": "s", "ӏ": "l", "α": "a", "ο": "o", "ε": "e", "ι": "i", "ν": "v", "ρ": "p", "κ": "k",
                       "τ": "t", "υ": "u", "Α": "a", "Ι": "i", "Ο": "o", "Ε": "e", "Ρ": "p", "Κ": "k", "Μ": "m"})


def _skeleton_of(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(_HOMO))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold().translate(_HOMO)
    return re.sub(r"[^a-z0-9]", "", text)


def _skeleton_tables() -> tuple[re.Pattern, dict]:
    """:func:`_skeleton_of` works character by character (decomposition, folding and look-alikes
    each map one character to a string), so a text's skeleton is its characters' skeletons joined:
    drop every character whose skeleton is empty, then map the rest. Both steps run in C; a
    packet's raw bytes decoded three ways are tens of millions of characters."""
    keep, table = [], {}
    for code in range(0x110000):
        c = chr(code)
        if code < 128 or unicodedata.decomposition(c) or c.casefold() != c or c in _HOMO_KEYS:
            sk = _skeleton_of(c)
            if sk:
                keep.append(c)
                if sk != c:
                    table[code] = sk
    ranges, run = [], [keep[0], keep[0]]
    for c in keep[1:]:
        if ord(c) == ord(run[1]) + 1:
            run[1] = c
        else:
            ranges.append(run)
            run = [c, c]
    ranges.append(run)
    cls = "".join(re.escape(a) if a == b else f"{re.escape(a)}-{re.escape(b)}" for a, b in ranges)
    return re.compile(f"[^{cls}]+"), table


_HOMO_KEYS = {chr(k) for k in _HOMO}
_DROP, _TABLE = _skeleton_tables()


def skeleton(text: str) -> str:
    """Letters and digits only, accents and case folded, look-alikes made Latin."""
    return _DROP.sub("", text).translate(_TABLE)


def raw_skeleton(raw: bytes, encoding: str) -> str:
    """``skeleton(raw.decode(encoding, "replace"))``, fast (tests/raw_readers.py)."""
    if not _RAW:
        _RAW.append(RawSkeleton(_DROP, _TABLE))
    return _RAW[0](raw, encoding)


_RAW: list = []  # made on first use


def _ocr_skeleton(text: str) -> str:
    return skeleton(text).translate(str.maketrans("01|5", "olls"))


def found_in(text: str, ocr: bool = False) -> list[str]:
    """The secrets ``text`` holds (OCR text read with O/0 and l/1 alike): the number, and the
    name (given name and surname in either order, at most 40 letters or digits apart: a
    wrapped cell, a footer between the halves). A given name alone is not the registered
    secret, as it is not in the case's rules."""
    return _found_in_skeleton((_ocr_skeleton if ocr else skeleton)(text), ocr)


def _found_in_skeleton(sk: str, ocr: bool = False) -> list[str]:
    """:func:`found_in` for a text's skeleton ``sk``."""
    norm = _ocr_skeleton if ocr else skeleton
    out = [NUMBER] if norm(NUMBER) in sk else []
    g, s = norm(GIVEN), norm(SURNAME)
    if re.search(f"{g}.{{0,40}}{s}|{s}.{{0,40}}{g}", sk):
        out.append(NAME)
    return out


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        import pytest

        pytest.skip(f"{name} is not installed")
    return path


def _run(argv, **kw) -> bytes:
    return subprocess.run(argv, capture_output=True, timeout=300, **kw).stdout


def leaks(data: bytes, ocr: bool = True) -> dict[str, list[str]]:
    """Where any secret can be read in the PDF ``data``, by channel (empty: none)."""
    from pdfminer.high_level import extract_text
    from pypdf import PdfReader

    found: dict[str, list[str]] = {}

    def note(channel, hits):
        if hits:
            found.setdefault(channel, []).extend(h for h in hits if h not in found.get(channel, []))

    with tempfile.TemporaryDirectory() as work:
        pdf = os.path.join(work, "p.pdf")
        with open(pdf, "wb") as f:
            f.write(data)
        for flags in ([], ["-raw"], ["-layout"]):
            note("pdftotext" + "".join(flags), found_in(_run([_tool("pdftotext"), *flags, pdf, "-"]).decode(
                "utf-8", "replace")))
        note("pdfminer", found_in(extract_text(pdf)))
        reader = PdfReader(pdf)
        note("pypdf", found_in(" ".join(p.extract_text() or "" for p in reader.pages)))
        note("pypdf-metadata", found_in(repr(reader.metadata)))
        qdf = os.path.join(work, "q.pdf")
        subprocess.run([_tool("qpdf"), "--qdf", "--object-streams=disable", "--decode-level=all", pdf, qdf],
                       capture_output=True)
        raw = open(qdf, "rb").read() if os.path.exists(qdf) else data
        for enc in ("latin-1", "utf-16-be", "utf-16-le"):
            note(f"raw-bytes-{enc}", _found_in_skeleton(raw_skeleton(raw, enc)))
        note("raw-hex", [s for s in (NAME, NUMBER) if s.encode().hex().encode() in raw.lower()])
        images = os.path.join(work, "img")
        os.mkdir(images)
        subprocess.run([_tool("pdfimages"), "-all", pdf, os.path.join(images, "i")], capture_output=True)
        paths = sorted(os.path.join(images, n) for n in os.listdir(images))
        tags = exiftool_each(_tool("exiftool"), [pdf, *paths])  # one run, each file's output apart
        note("exiftool-pdf", found_in(tags[0]))
        for p, text in zip(paths, tags[1:]):
            note("exiftool-images", found_in(text))
            note("image-bytes", _found_in_skeleton(raw_skeleton(open(p, "rb").read(), "latin-1")))
        if ocr:
            pages = os.path.join(work, "pg")
            os.mkdir(pages)
            # as PGM, which pdftoppm writes at once (a PNG's compression takes seconds a noisy page): the
            # same pixels, read at the same 200 dpi (test_a_page_rendered_as_pgm_is_read_as_its_png)
            subprocess.run([_tool("pdftoppm"), "-r", "200", "-gray", pdf, os.path.join(pages, "p")],
                           capture_output=True)
            rendered = sorted(os.path.join(pages, n) for n in os.listdir(pages))
            from scans import ocr_each  # each page or image as tesseract reads it alone, in one process a group

            for channel, group, dpi in (("tesseract-pages", rendered, 200), ("tesseract-images", paths, None)):
                for text in ocr_each(group, lang="eng", psm=1, timeout=300, dpi=dpi, strict=False):
                    note(channel, found_in(text, ocr=True))
            note("zxing", _zxing(rendered + paths))
    return found


def _zxing(paths: list[str]) -> list[str]:
    import zxingcpp
    from PIL import Image

    out = []
    for p in paths:
        try:
            with Image.open(p) as im:
                texts = [r.text for r in zxingcpp.read_barcodes(im.convert("L"))]
        except Exception:
            continue
        out += found_in("\n".join(texts))
    return out
