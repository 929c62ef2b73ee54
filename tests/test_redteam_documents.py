"""Crafted documents against the packet builder, as a hostile sender or a hurried lawyer makes
them (session 20's red team; issue #22's promise: nothing leaves but what was read).

The attacks that got through before this session, each now closed:

* letter-spaced text ("C l i e n t   Y o l o t z i n"): Tesseract reads it as one word glued
  to its label ("ClientYolotzinIxtlahuac"), which no word-bounded match finds;
* faint ink (a name in #F8F8F8 on white, a watermark; or #090909 on black): on the paper's side
  of the threshold at which recognition binarises the page, so nothing reads it, but a
  recipient's levels tool shows it;
* ink of its background's brightness in another hue (red on an equally bright green): one flat
  tone in grey, where recognition reads, and plain in the image's red channel.

And attacks the existing defences clean (kept so that they stay cleaned): the name on the second
page of a multi-page TIFF, a JPEG stored turned with an EXIF orientation and the name in its
EXIF description. (Also tried and cleaned, not kept: an animated WebP's second frame, a CMYK
JPEG, a PNG's tEXt/zTXt/iTXt chunks; an e-mail whose From, Subject and attachment name are
RFC 2047/2231-encoded and whose HTML hides the name in display:none, a comment and an
attribute: vault/_mail.py decodes them onto the page, where the terms match.)

Every document goes into one packet built through the worker's own pipeline
(tests/adversarial_corpus.py:build), read back with tools refuge does not use: the corpus's
checker (pdftotext, pdfminer, pypdf, raw bytes, exiftool, tesseract on pages and images, zxing)
and a recipient's contrast tools written here (each extracted image thresholded just under its
paper's tone, and each colour channel stretched, then read by the tesseract command).
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile

import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageOps

import adversarial_corpus as corpus
from adversarial_corpus import NAME, NUMBER, Case
from conftest import require_tool
from packets.detectors import Needle, fold_text, unconfuse

SIZE = (1275, 1650)  # a letter page at 150 dpi
CLEAN = ["DECLARATION", "I write in support of the claim.", "The neighbour text stays readable."]


def _sheet(lines, mode="L", ink=0, font=34, top=180):
    white = 255 if mode == "L" else (255, 255, 255)
    im = Image.new(mode, SIZE, white)
    d = ImageDraw.Draw(im)
    for k, line in enumerate(lines):
        d.text((120, top + k * int(font * 1.8)), line, fill=ink, font=corpus._pil_font(font))
    return im


def _pdf_of(im, jpeg=False) -> bytes:
    pdf = pikepdf.new()
    img = corpus._image_stream(pdf, im, jpeg=jpeg)
    corpus._page(pdf, f"q {corpus.W} 0 0 {corpus.H} 0 0 cm /Im0 Do Q", {"Im0": img})
    return corpus._save(pdf)


def _encoded(im, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def letter_spaced() -> Case:
    im = _sheet(CLEAN)
    d = ImageDraw.Draw(im)
    d.text((120, 700), "Client " + " ".join(NAME.replace(" ", "")), fill=0, font=corpus._pil_font(34))
    d.text((120, 800), "Passport " + "  ".join(NUMBER), fill=0, font=corpus._pil_font(34))
    return Case("letter-spaced", "scan", _pdf_of(im))


def faint() -> Case:
    im = _sheet(CLEAN)
    d = ImageDraw.Draw(im)
    d.text((120, 700), f"Client {NAME}", fill=248, font=corpus._pil_font(40))  # #F8F8F8 on white
    d.text((120, 800), f"Passport {NUMBER}", fill=248, font=corpus._pil_font(40))
    return Case("faint-ink", "watermark", _pdf_of(im))


def dark_on_black() -> Case:
    im = _sheet(CLEAN)
    d = ImageDraw.Draw(im)
    d.rectangle((100, 650, 1200, 900), fill=0)
    d.text((120, 700), f"Client {NAME}", fill=9, font=corpus._pil_font(40))  # #090909 on black
    d.text((120, 800), f"Passport {NUMBER}", fill=9, font=corpus._pil_font(40))
    return Case("faint-ink", "on-black", _pdf_of(im))


def mid_grey() -> Case:
    im = _sheet(CLEAN)
    d = ImageDraw.Draw(im)  # grey 150: below the old fixed level of ink (160), above the page's threshold (near 130)
    d.text((120, 700), f"Client {NAME}", fill=150, font=corpus._pil_font(40))
    d.text((120, 800), f"Passport {NUMBER}", fill=150, font=corpus._pil_font(40))
    return Case("faint-ink", "mid-grey", _pdf_of(im))


def knockout() -> Case:
    im = _sheet(CLEAN)
    d = ImageDraw.Draw(im)
    d.rectangle((100, 650, 1200, 900), fill=240)  # letters of the paper's white knocked out of a faint block
    d.text((120, 700), f"Client {NAME}", fill=255, font=corpus._pil_font(40))
    d.text((120, 800), f"Passport {NUMBER}", fill=255, font=corpus._pil_font(40))
    return Case("faint-ink", "knockout", _pdf_of(im))


def isoluminant() -> Case:
    im = _sheet(CLEAN, "RGB", (0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rectangle((100, 650, 1200, 900), fill=(0, 130, 0))  # grey 76, as the red: one tone in grey
    d.text((120, 700), f"Client {NAME}", fill=(255, 0, 0), font=corpus._pil_font(40))
    d.text((120, 800), f"Passport {NUMBER}", fill=(255, 0, 0), font=corpus._pil_font(40))
    return Case("isoluminant", "red-on-green", _pdf_of(im, jpeg=True))


def image_tricks() -> list[Case]:
    secret = CLEAN + [f"Client {NAME}", f"Passport {NUMBER}"]
    turned = _sheet(secret).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112], exif[0x010E] = 6, NAME  # turn 90 degrees to view; the name as the description
    return [
        Case("frames", "tiff-second-page", _encoded(_sheet(CLEAN), "TIFF", save_all=True,
                                                    append_images=[_sheet(secret)]), "image/tiff"),
        Case("metadata", "exif-turned", _encoded(turned, "JPEG", exif=exif.tobytes()), "image/jpeg"),
    ]


def attacks() -> list[Case]:
    return [letter_spaced(), faint(), dark_on_black(), mid_grey(), knockout(), isoluminant(), *image_tricks()]


# ------------------------------------------------------------------- a recipient's contrast tools


def _views(im) -> list:
    """What a recipient's image editor shows: levels pulled just under the paper's tone (faint
    ink turns black) and just over black (nearly black ink on black turns white), and each
    colour channel stretched to full contrast."""
    grey = im.convert("L")
    paper = max(range(256), key=grey.histogram().__getitem__)
    views = [grey.point(lambda v: 0 if v < paper - 3 else 255), grey.point(lambda v: 0 if v < 4 else 255)]
    if im.mode not in ("L", "1"):
        views += [ImageOps.autocontrast(band) for band in im.convert("RGB").split()]
    return views


def _read(images: list) -> list[str]:
    """The secrets tesseract reads in ``images`` (PIL), one tesseract process for all."""
    return _read_each([images])[0]


def _read_each(groups: list[list]) -> list[list[str]]:
    """:func:`_read` of each group of images, all read in one tesseract process (each image
    as tesseract reads it alone: tests/scans.py ocr_each)."""
    from scans import ocr_each

    texts = iter(ocr_each([_encoded(im, "PNG") for group in groups for im in group], lang="eng", psm=1,
                          strict=False))
    out = []
    for group in groups:
        found: list[str] = []
        for _im in group:
            found += [s for s in corpus.found_in(next(texts), ocr=True) if s not in found]
        out.append(found)
    return out


def _images(pdf: bytes, render: bool = False) -> list:
    """The images pdfimages extracts from ``pdf`` (or, with ``render``, its pages as pdftoppm draws them)."""
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "p.pdf")
        with open(path, "wb") as f:
            f.write(pdf)
        argv = ([require_tool("pdftoppm"), "-r", "150", "-png", path, os.path.join(work, "i")] if render
                else [require_tool("pdfimages"), "-png", path, os.path.join(work, "i")])
        subprocess.run(argv, check=True)
        out = []
        for name in sorted(n for n in os.listdir(work) if n.endswith(".png")):
            with Image.open(os.path.join(work, name)) as im:
                im.load()
                out.append(im)
        return out


def revealed(pdf: bytes, render: bool = False) -> list[str]:
    """The secrets the contrast tools let tesseract read in the images of ``pdf``."""
    return _read([view for im in _images(pdf, render) for view in _views(im)])


# ------------------------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def packet() -> bytes:
    [volume] = corpus.build(attacks(), "irb-rpd-disclosure")
    return volume


def test_each_attack_shows_its_secret_to_a_recipient_before_refuge_touches_it():
    """The checkers can fail: each crafted page, drawn as a viewer draws it, gives up the name to
    the contrast tools; the faint and the one-colour ink not to a plain grey reading (which is
    why recognition missed them), the letter-spaced name to it (read glued to its label)."""
    plain = (letter_spaced(), faint(), dark_on_black(), isoluminant())
    cases = (*plain, mid_grey(), knockout())  # the last two found by the second reviewer of session 20
    drawn = [_images(case.data, render=True) for case in cases]  # each page drawn once, every image read in one run
    pages = []
    for images in drawn[:len(plain)]:
        [page] = images
        pages.append(page)
    found = _read_each([[view for im in images for view in _views(im)] for images in drawn]  # revealed()
                       + [[page.convert("L")] for page in pages])
    for case, seen in zip(cases, found):
        assert NAME in seen, case.form  # shown to the contrast tools
    for case, seen in zip(plain, found[len(cases):]):
        assert (NAME in seen) == (case.cls == "letter-spaced"), case.name


def test_the_packet_of_crafted_documents_leaks_nothing(packet):
    assert corpus.leaks(packet) == {}
    assert revealed(packet) == []
    assert "neighbour text stays readable" in subprocess.run(
        [require_tool("pdftotext"), "-", "-"], input=packet, capture_output=True).stdout.decode()


def test_every_frame_of_an_image_is_a_page(packet):
    """A multi-page TIFF goes out with every page (the second burned), none dropped."""
    with pikepdf.open(io.BytesIO(packet)) as pdf:
        assert len(pdf.pages) >= 2 + 6 + 2 + 1  # letter and index; six scans; two frames; the photo


def test_the_leak_check_reads_faint_and_one_colour_ink_in_the_output():
    """If redaction missed them, the leak check's own reading of the output pixels still sees
    faint ink (on white and on black) and red-on-green ink: in an image it recognises itself, and in one whose reading
    flattening recalls."""
    from packets._flatten import flatten_pdf
    from packets._readback import read_pixels

    needles = [Needle("t-name", "always", "term", NAME)]
    for case in (faint(), dark_on_black(), isoluminant()):
        assert read_pixels(case.data, needles), case.name
        with pikepdf.open(io.BytesIO(case.data)) as pdf:
            flatten_pdf(pdf, case.data, {0: []}, text_layer=True, workers=1)
            buf = io.BytesIO()
            pdf.save(buf)
        assert read_pixels(buf.getvalue(), needles), case.name


def test_recognised_text_matches_a_long_secret_glued_to_its_label():
    name, short = Needle("a", "always", "term", NAME), Needle("b", "always", "term", "Ana")
    glued = unconfuse(fold_text("ClientYolotzinIxtlahuac PasspotG 4720193 8"))
    assert name.spans(glued, ocr=True)
    assert Needle("c", "always", "term", NUMBER).spans(glued, ocr=True)
    assert not short.spans(unconfuse(fold_text("Canada")), ocr=True)  # a short one stays word-bounded
    assert not name.spans(fold_text("ClientYolotzinIxtlahuac"))  # text drawn as text keeps its words
