"""A canary corpus, made by code: one document per way a secret can hide in a PDF or image.

Every canary plants :data:`SECRET` (accented, so accent-folding is exercised) in one place,
puts readable text next to it (:data:`NEIGHBOUR`) and a second page whose text must survive
(:data:`PAGE_TWO`). :func:`corpus` returns them all as :class:`Canary` records.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

SECRET = "Quetzalina Marroquín"
#: Lower-case ASCII pieces of the secret that no output may hold, in any encoding.
SECRET_PIECES = ("quetzalina", "marroquin", "marroquín", "quetza")
NEIGHBOUR = "NEIGHBOUR"
PAGE_TWO = "Second page keeps these words"
SLUG = "quetzalina-marroquin"

W, H = 612, 792


@dataclass
class Canary:
    name: str
    data: bytes = field(repr=False)
    mime: str = "application/pdf"
    title: str = "Canary document"
    #: Whether the page with the secret is expected to be flattened (the secret is page text).
    on_page: bool = True


def _esc(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _line(text: str, x: float, y: float, size: float = 12) -> bytes:
    return b"BT /F1 %g Tf %g %g Td (" % (size, x, y) + _esc(text) + b") Tj ET\n"


def _new(pages: list[bytes], extra_resources: dict | None = None) -> tuple[pikepdf.Pdf, list[pikepdf.Page]]:
    pdf = pikepdf.new()
    font = pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica,
                                        Encoding=Name.WinAnsiEncoding))
    out = []
    for content in pages:
        page = pdf.add_blank_page(page_size=(W, H))
        res = Dictionary(Font=Dictionary(F1=font))
        for k, v in (extra_resources or {}).items():
            res[k] = v
        page.obj.Resources = res
        page.obj.Contents = pikepdf.Stream(pdf, content)
        out.append(page)
    return pdf, out


def _second_page() -> bytes:
    return _line(PAGE_TWO, 72, 700)


def _save(pdf: pikepdf.Pdf, **kw) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf, **kw)
    return buf.getvalue()


def _first_page(middle: bytes) -> bytes:
    return _line(f"{NEIGHBOUR} above the secret", 72, 740) + middle + _line("Closing words of the page", 72, 400)


# ------------------------------------------------------------------------- canaries


def plain_text() -> Canary:
    pdf, _ = _new([_first_page(_line(f"The applicant {SECRET} lives in the north.", 72, 700)), _second_page()])
    return Canary("plain-text", _save(pdf))


def two_lines() -> Canary:
    body = (_line("The applicant, named Quetzalina", 72, 700) + _line("Marroquín, arrived in May. Her sister Quetza-", 72, 684)
            + _line("lina Marroquín did not.", 72, 668))
    pdf, _ = _new([_first_page(body), _second_page()])
    return Canary("two-lines", _save(pdf))


def kerned() -> Canary:
    tj = (b"BT /F1 12 Tf 72 700 Td [(The applicant )-20(Quet)-40(za)25(lina)-250(Mar)10(roqu)(\355)(n)"
          b"( lives here.)] TJ ET\n")
    # The same secret drawn glyph piece by glyph piece with moves in between.
    moves = b"BT /F1 12 Tf 72 650 Td (Que) Tj 19.3 0 Td (tza) Tj 17.3 0 Td (lina ) Tj 28 0 Td (Marr) Tj 24 0 Td (oqu\355n) Tj ET\n"
    pdf, _ = _new([_first_page(tj + moves), _second_page()])
    return Canary("kerned-tj", _save(pdf))


def form_xobject() -> Canary:
    pdf, pages = _new([_first_page(b"q 1 0 0 1 72 620 cm /Fx1 Do Q\n"), _second_page()])
    font = pages[0].obj.Resources.Font.F1
    inner = pikepdf.Stream(pdf, b"BT /F1 12 Tf 0 0 Td (" + _esc(f"Inner form: {SECRET}") + b") Tj ET")
    inner.Type, inner.Subtype, inner.BBox = Name.XObject, Name.Form, Array([0, -5, 400, 20])
    inner.Resources = Dictionary(Font=Dictionary(F1=font))
    outer = pikepdf.Stream(pdf, b"BT /F1 12 Tf 0 60 Td (Outer form text) Tj ET q 1 0 0 1 0 20 cm /Fx2 Do Q")
    outer.Type, outer.Subtype, outer.BBox = Name.XObject, Name.Form, Array([0, -5, 500, 100])
    outer.Resources = Dictionary(Font=Dictionary(F1=font), XObject=Dictionary(Fx2=pdf.make_indirect(inner)))
    pages[0].obj.Resources.XObject = Dictionary(Fx1=pdf.make_indirect(outer))
    return Canary("form-xobject", _save(pdf))


def invisible_ocr() -> Canary:
    from PIL import Image, ImageDraw

    im = Image.new("L", (850, 300), 250)
    d = ImageDraw.Draw(im)
    for i in range(0, 850, 17):
        d.line((i, 0, (i * 7) % 850, 300), fill=200)
    content = _first_page(b"q 425 0 0 150 72 560 cm /Im1 Do Q\n"
                          b"BT 3 Tr /F1 14 Tf 80 640 Td (" + _esc(f"Scanned page: {SECRET}") + b") Tj ET\n")
    pdf, pages = _new([content, _second_page()])
    img = pikepdf.Stream(pdf, zlib.compress(im.tobytes()))
    img.Type, img.Subtype, img.Width, img.Height = Name.XObject, Name.Image, 850, 300
    img.ColorSpace, img.BitsPerComponent, img.Filter = Name.DeviceGray, 8, Name.FlateDecode
    pages[0].obj.Resources.XObject = Dictionary(Im1=pdf.make_indirect(img))
    return Canary("invisible-ocr-layer", _save(pdf))


def annotations() -> Canary:
    pdf, pages = _new([_first_page(_line("A page with notes on it.", 72, 700)), _second_page()])
    font = pages[0].obj.Resources.Font.F1
    ap = pikepdf.Stream(pdf, b"BT /F1 10 Tf 2 6 Td (" + _esc(SECRET) + b") Tj ET")
    ap.Type, ap.Subtype, ap.BBox = Name.XObject, Name.Form, Array([0, 0, 200, 20])
    ap.Resources = Dictionary(Font=Dictionary(F1=font))
    free = Dictionary(Type=Name.Annot, Subtype=Name.FreeText, Rect=Array([72, 600, 272, 620]), F=4,
                      Contents=pikepdf.String(SECRET), DA=pikepdf.String("/F1 10 Tf 0 g"),
                      AP=Dictionary(N=pdf.make_indirect(ap)))
    note = Dictionary(Type=Name.Annot, Subtype=Name.Text, Rect=Array([300, 600, 320, 620]),
                      Contents=pikepdf.String(f"Call {SECRET} after 6pm"), T=pikepdf.String(SECRET))
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([72, 560, 300, 580]), Border=Array([0, 0, 0]),
                      A=Dictionary(S=Name.URI, URI=pikepdf.String(f"https://example.org/people/{SLUG}")))
    hidden = Dictionary(Type=Name.Annot, Subtype=Name.Square, Rect=Array([400, 600, 420, 620]), F=2,
                        Contents=pikepdf.String(SECRET))
    pages[0].obj.Annots = Array([pdf.make_indirect(a) for a in (free, note, link, hidden)])
    return Canary("annotations-and-links", _save(pdf))


def info_and_xmp() -> Canary:
    pdf, _ = _new([_first_page(_line("Nothing secret on this page.", 72, 700)), _second_page()])
    pdf.docinfo = pdf.make_indirect(Dictionary(Title=pikepdf.String(f"Statement of {SECRET}"),
                                               Author=pikepdf.String(SECRET), Subject=pikepdf.String(SLUG),
                                               Keywords=pikepdf.String(f"{SECRET}; asylum")))
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:creator"] = [SECRET]
        meta["dc:description"] = f"Interview with {SECRET}"
        meta["pdf:Keywords"] = SLUG
    return Canary("info-and-xmp", _save(pdf), on_page=False)


def earlier_revision() -> Canary:
    pdf, pages = _new([_first_page(_line(f"Draft naming {SECRET} in full.", 72, 700)), _second_page()])
    base = _save(pdf, object_stream_mode=pikepdf.ObjectStreamMode.disable, compress_streams=False)
    with pikepdf.open(io.BytesIO(base)) as again:
        content_num = again.pages[0].obj.Contents.objgen[0]
        root_num = again.Root.objgen[0]
        size = int(again.trailer.Size)
    prev = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    body = _first_page(_line("Final version without the name.", 72, 700))
    obj = b"%d 0 obj\n<< /Length %d >>\nstream\n" % (content_num, len(body)) + body + b"\nendstream\nendobj\n"
    offset = len(base)
    xref_at = offset + len(obj)
    update = (obj + b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n" % (content_num, offset)
              + b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, root_num, prev, xref_at))
    return Canary("earlier-revision", base + update, on_page=False)


def attachment() -> Canary:
    pdf, pages = _new([_first_page(_line("See the attached file.", 72, 700)), _second_page()])
    spec = pikepdf.AttachedFileSpec(pdf, f"Notes about {SECRET}, address and phone".encode(),
                                    description=f"Notes on {SECRET}", filename=f"{SLUG}.txt", mime_type="text/plain")
    pdf.attachments[f"{SLUG}.txt"] = spec
    annot = Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=Array([72, 600, 92, 620]),
                       FS=spec.obj, Contents=pikepdf.String(SECRET))
    pages[0].obj.Annots = Array([pdf.make_indirect(annot)])
    return Canary("attachment", _save(pdf), on_page=False)


#: Where the hidden layer paints a red square; it must stay white in the packet.
HIDDEN_SQUARE = (400, 200, 480, 260)


def hidden_layer() -> Canary:
    x0, y0, x1, y1 = HIDDEN_SQUARE
    body = (_line("Visible layer text.", 72, 700) + b"/OC /oc1 BDC\n" + _line(f"Hidden: {SECRET}", 72, 660)
            + b"q 1 0 0 rg %d %d %d %d re f Q\nEMC\n" % (x0, y0, x1 - x0, y1 - y0))
    pdf, pages = _new([_first_page(body), _second_page()])
    ocg = pdf.make_indirect(Dictionary(Type=Name.OCG, Name=pikepdf.String("Private notes")))
    pages[0].obj.Resources.Properties = Dictionary(oc1=ocg)
    pdf.Root.OCProperties = Dictionary(OCGs=Array([ocg]), D=Dictionary(Order=Array([ocg]), OFF=Array([ocg])))
    return Canary("hidden-layer", _save(pdf))


def form_field() -> Canary:
    pdf, pages = _new([_first_page(_line("Applicant name:", 72, 640)), _second_page()])
    font = pages[0].obj.Resources.Font.F1
    ap = pikepdf.Stream(pdf, b"/Tx BMC BT /F1 11 Tf 2 5 Td (" + _esc(SECRET) + b") Tj ET EMC")
    ap.Type, ap.Subtype, ap.BBox = Name.XObject, Name.Form, Array([0, 0, 250, 20])
    ap.Resources = Dictionary(Font=Dictionary(F1=font))
    field_ = pdf.make_indirect(Dictionary(
        Type=Name.Annot, Subtype=Name.Widget, FT=Name.Tx, T=pikepdf.String("applicant_name"),
        V=pikepdf.String(SECRET), DV=pikepdf.String(SECRET), Rect=Array([170, 634, 420, 654]), F=4,
        DA=pikepdf.String("/F1 11 Tf 0 g"), AP=Dictionary(N=pdf.make_indirect(ap)), P=pages[0].obj))
    pages[0].obj.Annots = Array([field_])
    pdf.Root.AcroForm = Dictionary(Fields=Array([field_]), DA=pikepdf.String("/F1 11 Tf 0 g"),
                                   DR=Dictionary(Font=Dictionary(F1=font)))
    return Canary("form-field", _save(pdf))


def outline_entry() -> Canary:
    pdf, _ = _new([_first_page(_line("A page with bookmarks.", 72, 700)), _second_page()])
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem(f"Interview: {SECRET}", 0))
        outline.root.append(pikepdf.OutlineItem("Second page", 1))
    return Canary("outline-entry", _save(pdf), on_page=False)


def rotated() -> Canary:
    # A /Rotate 90 page, and text drawn turned a quarter on an upright page.
    pdf, pages = _new([_first_page(_line(f"Rotated page naming {SECRET}.", 72, 600)),
                       _first_page(b"BT /F1 12 Tf 0 1 -1 0 300 200 Tm (" + _esc(f"Sideways: {SECRET}") + b") Tj ET\n"),
                       _second_page()])
    pages[0].obj.Rotate = 90
    return Canary("rotated-page", _save(pdf))


def truetype_accents() -> Canary:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    path = _ttf()
    pdfmetrics.registerFont(TTFont("CanarySans", path))
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(W, H), invariant=1)
    c.setFont("CanarySans", 12)
    c.drawString(72, 740, f"{NEIGHBOUR} — déclaration")
    c.drawString(72, 700, f"Declaración de {SECRET.upper()}, niña de Ñuñoa.")
    c.drawString(72, 680, "Quetzalína Marróquin también firmó.")
    c.showPage()
    c.setFont("CanarySans", 12)
    c.drawString(72, 700, PAGE_TWO)
    c.showPage()
    c.save()
    return Canary("truetype-accents", buf.getvalue())


def _ttf() -> str:
    import glob
    import os

    for pattern in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/**/DejaVuSans.ttf",
                    "/usr/share/fonts/**/*.ttf"):
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    import reportlab

    found = sorted(glob.glob(os.path.join(os.path.dirname(reportlab.__file__), "fonts", "*.ttf")))
    if not found:
        raise RuntimeError("no TrueType font on this machine")
    return found[0]


def _exif_jpeg() -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (600, 400), (200, 210, 230))
    d = ImageDraw.Draw(im)
    d.rectangle((40, 40, 200, 300), outline=(40, 40, 80), width=5)
    d.text((240, 60), "PHOTO OF A DOOR", fill=(10, 10, 10))
    exif = Image.Exif()
    exif[0x010E] = f"Photo of {SECRET}"  # ImageDescription
    exif[0x013B] = SECRET  # Artist
    exif[0x8298] = f"(c) {SLUG}"  # Copyright
    exif[0x8825] = {1: "N", 2: (19.0, 26.0, 10.0), 3: "W", 4: (99.0, 8.0, 0.0)}  # GPS
    buf = io.BytesIO()
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{SECRET}</dc:creator>'
           f'</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    im.save(buf, "JPEG", quality=90, exif=exif.tobytes(), comment=f"Taken by {SECRET}".encode(), xmp=xmp)
    return buf.getvalue()


def jpeg_exif() -> Canary:
    return Canary("jpeg-exif-gps", _exif_jpeg(), mime="image/jpeg", on_page=False)


def jpeg_in_pdf() -> Canary:
    jpeg = _exif_jpeg()
    pdf, pages = _new([_first_page(b"q 300 200 0 0 72 400 cm /Im1 Do Q\n"), _second_page()])
    img = pikepdf.Stream(pdf, jpeg)
    img.Type, img.Subtype, img.Width, img.Height = Name.XObject, Name.Image, 600, 400
    img.ColorSpace, img.BitsPerComponent, img.Filter = Name.DeviceRGB, 8, Name.DCTDecode
    pages[0].obj.Resources.XObject = Dictionary(Im1=pdf.make_indirect(img))
    return Canary("jpeg-exif-in-pdf", _save(pdf), on_page=False)


def title_and_file_name() -> Canary:
    pdf, _ = _new([_first_page(_line("An ordinary page.", 72, 700)), _second_page()])
    return Canary("title-and-file-name", _save(pdf), title=f"{SLUG} declaration ({SECRET})", on_page=False)


def corpus() -> list[Canary]:
    """Every canary, in a fixed order."""
    return [plain_text(), two_lines(), kerned(), form_xobject(), invisible_ocr(), annotations(), info_and_xmp(),
            earlier_revision(), attachment(), hidden_layer(), form_field(), outline_entry(), rotated(),
            truetype_accents(), jpeg_exif(), jpeg_in_pdf(), title_and_file_name()]


# ---------------------------------------------------------------- building packets


def build_packet(items, rules, profile_id: str = "irb-rpd-disclosure", **profile_changes):
    """Build a packet through the library pipeline as ``refuge packet build`` does (prepare,
    assemble with the redaction seam, leak check); returns (volumes, redactor)."""
    import dataclasses

    from packets.assemble import build
    from packets.leakcheck import verify_volumes
    from packets.model import PacketRequest
    from packets.profiles import get_profile
    from packets.redact import Redactor

    profile = get_profile(profile_id)
    if profile_changes:
        profile = dataclasses.replace(profile, **profile_changes)
    redactor = Redactor(rules, profile)
    items = redactor.prepare(items)
    volumes = build(PacketRequest(profile, items, "Fictional Legal Clinic", "2026-01-02", redact=redactor))
    verify_volumes(volumes, redactor.needles())
    return volumes, redactor


def item(canary: Canary, doc_id: str | None = None):
    from packets.model import Item

    return Item(doc_id or f"d-{canary.name}", canary.title, "legal-declaration", "2026-01-01",
                canary.mime, canary.data)


def term_rule(text: str = SECRET, category: str = "always", rule_id: str = "r1") -> dict:
    return {"id": rule_id, "kind": "term", "text": text, "category": category}
