"""The redaction stage, the leak check and the review report (issue #5)."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import unicodedata

import canaries
import pikepdf
import pytest
from canaries import SECRET
from conftest import ACCEPT_GAPS, derived_world, require_tool

from packets.detectors import Needle
from packets.model import Item
from vault.errors import VerificationFailed


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).lower().split())


def _text(data: bytes) -> str:
    return subprocess.run([require_tool("pdftotext"), "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def _doc_pages(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def _pdf(lines_per_page: list[list[str]]) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(612, 792), invariant=1)
    for lines in lines_per_page:
        c.setFont("Helvetica", 12)
        y = 700
        for line in lines:
            c.drawString(72, y, line)
            y -= 20
        c.showPage()
    c.save()
    return buf.getvalue()


def _item(data: bytes, doc_id: str = "d-test", mime: str = "application/pdf", title: str = "A document") -> Item:
    return Item(doc_id, title, "legal-declaration", "2026-01-01", mime, data)


# --------------------------------------------------------------------------- rules


def test_a_term_is_burned_out_and_the_page_rebuilt_from_pixels():
    data = _pdf([[f"My name is {SECRET}.", "I live in the north."], ["Nothing here."]])
    [vol], red = canaries.build_packet([_item(data)], [canaries.term_rule()], flatten="hits")
    assert "quetzalina" not in _plain(_text(vol.data))
    assert "Nothing here." in _text(vol.data)
    first, second = red.pages
    assert first.flattened and not second.flattened
    assert [(m.rule, m.category, m.kind) for m in first.marks] == [("r1", "always", "term")]
    with pikepdf.open(io.BytesIO(red.outputs["d-test"])) as pdf:
        page = pdf.pages[0]
        assert list(page.obj.Resources.XObject.keys()) == ["/Im0"]
        # its only font is the invisible text layer's, recognised from the burned pixels
        assert list(page.obj.Resources.Font.keys()) == ["/FOcr"]
        assert "quetzalina" not in _plain(" ".join(_doc_pages(red.outputs["d-test"])))


def test_categories_choose_what_applies():
    data = _pdf([["Shelter: Casa Ficticia, Calle 5"], ["Tel +52 55 1234 5678"], ["CURP GOEA900312MDFMXN09"],
                 ["Network: Red Ficticia"]])  # one per page: a page with a hit is flattened whole
    rules = [canaries.term_rule("Casa Ficticia", "location", "r1"), canaries.term_rule("Red Ficticia", "network", "r2")]
    # irb-rpd-disclosure: location and contact.
    [vol], red = canaries.build_packet([_item(data)], rules, "irb-rpd-disclosure")
    text = _plain(_text(vol.data))
    assert "casa ficticia" not in text and "1234" not in text and "red ficticia" in text
    assert {m.category for p in red.pages for m in p.marks} == {"location", "contact"}
    # ircc-resettlement: network and legal-strategy only; the rest goes as it is.
    vols, red = canaries.build_packet([_item(data)], rules, "ircc-resettlement")  # per-type: letter, then the document
    text = _plain(" ".join(_text(v.data) for v in vols))
    assert "casa ficticia" in text and "55 1234 5678" in text and "red ficticia" not in text
    # ccvt-intake lists identity-number: that is the id-number detectors' category.
    [vol], red = canaries.build_packet([_item(data)], rules, "ccvt-intake")
    assert "goea900312" not in _plain(_text(vol.data))
    assert ("id-number", "detector:curp") in {(m.category, m.rule) for p in red.pages for m in p.marks}


def test_always_terms_apply_to_every_profile():
    data = _pdf([[f"Name: {SECRET}"]])
    for profile_id in ("ircc-resettlement", "frontline-defenders"):
        [vol, *_], _red = canaries.build_packet([_item(data)], [canaries.term_rule()], profile_id)
        assert "quetzalina" not in _plain(_text(vol.data))


def test_a_detector_find_is_redacted_in_every_document():
    labelled = _pdf([["WhatsApp: 5512345678"]])
    bare = _pdf([["She called from 5512345678 twice."]])
    _vols, red = canaries.build_packet([_item(labelled, "d-a"), _item(bare, "d-b")], [], "unhcr-resettlement")
    by_doc = {p.doc_id: p for p in red.pages}
    assert by_doc["d-b"].flattened and [m.rule for m in by_doc["d-b"].marks] == ["detector:phone"]


def test_flatten_all_leaves_no_text_in_documents():
    data = _pdf([["Ordinary words on page one."], ["And on page two."]])
    vols, red = canaries.build_packet([_item(data)], [], "frontline-defenders", ocr_text_layer=False)
    assert all(p.flattened and p.reasons == ["flatten all"] for p in red.pages)
    texts = [t for v in vols for t in _doc_pages(v.data)]
    assert not any("Ordinary words" in t or "page two" in t for t in texts)
    assert any("NOTHING" not in t for t in texts)  # the cover letter and index still read


@pytest.mark.parametrize("profile_id", ["ccvt-intake", "frontline-defenders", "irb-rpd-disclosure",
                                        "ircc-resettlement", "unhcr-resettlement"])
def test_shipped_profiles_rebuild_every_page_and_keep_it_searchable(profile_id):
    """Nothing of the source's objects survives: each document page is one image, and its
    only text is the invisible layer recognised from the redacted pixels."""
    data = _pdf([["Ordinary words on page one."], [f"{SECRET} on page two."]])
    vols, red = canaries.build_packet([_item(data)], [canaries.term_rule()], profile_id)
    vol = vols[-1]  # a per-type profile (IRCC) writes the letter and index first, then the document's file
    assert all(p.flattened for p in red.pages)
    texts = _doc_pages(vol.data)
    assert "Ordinary words on page one." in " ".join(" ".join(texts).split())
    assert "quetzalina" not in _plain(" ".join(texts))


def test_hits_only_when_the_profile_says_so():
    data = _pdf([["Ordinary words on page one."], [f"{SECRET} on page two."]])
    [vol], red = canaries.build_packet([_item(data)], [canaries.term_rule()], flatten="hits")
    assert [p.flattened for p in red.pages] == [False, True]
    assert "Ordinary words on page one." in _text(vol.data)


def test_region_on_a_pdf_page_maps_from_source_points():
    import pypdfium2 as pdfium

    from packets.profiles import get_profile
    from packets.render import render

    data = _pdf([["Keep this line.", "Remove this line please.", "Keep this one too."]])
    # The second line's baseline is at y=680 on the source page.
    rule = {"id": "rg1", "kind": "region", "doc": "d-test", "page": 1, "box": [60, 675, 400, 695], "category": "always"}
    [vol], red = canaries.build_packet([_item(data)], [rule])
    [mark] = red.pages[0].marks
    assert mark.kind == "region" and mark.rule == "rg1"
    # The mapped box covers the words where the render stage placed them on the packet page.
    rendered = pdfium.PdfDocument(render(_item(data), get_profile("irb-rpd-disclosure")))
    tp = rendered[0].get_textpage()
    text = tp.get_text_range()
    k = text.index("Remove")
    word = tp.get_charbox(k, loose=True)
    [box] = mark.boxes
    assert box[0] <= word[0] and box[1] <= word[1] and box[2] >= word[2] and box[3] >= word[3]
    keep = tp.get_charbox(text.index("Keep this one"), loose=True)
    assert keep[3] < box[1]  # the next line is outside the box
    assert "Remove this line" not in _text(vol.data)


def test_region_on_an_image_uses_pixels_from_the_bottom_left():
    from PIL import Image

    from packets.profiles import get_profile
    from packets.redact import _placement
    from packets.render import render

    im = Image.new("RGB", (400, 600), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    item = _item(buf.getvalue(), "d-img", "image/png")
    rule = {"id": "rg2", "kind": "region", "doc": "d-img", "page": 1, "box": [0, 0, 200, 300], "category": "always"}
    [vol], red = canaries.build_packet([item], [rule])
    [info] = red.pages
    assert not info.searchable and info.flattened
    [box] = info.marks[0].boxes
    with pikepdf.open(io.BytesIO(render(item, get_profile("irb-rpd-disclosure")))) as pdf:
        m, _image = _placement(pdf.pages[0])
    # The lower-left quarter of the image as placed on the packet page.
    assert box == pytest.approx((m[4], m[5], m[4] + m[0] / 2, m[5] + m[3] / 2), abs=0.01)
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(red.outputs["d-img"])[0]
    pic = page.render(scale=1).to_pil().convert("L")
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert pic.getpixel((int(cx), int(pic.height - cy))) < 20
    assert pic.getpixel((int(box[2] + 20), int(pic.height - cy))) > 240  # right of the box: white


def test_a_region_on_a_missing_page_is_refused_without_secrets():
    from packets.redact import RedactError

    rule = {"id": "rg3", "kind": "region", "doc": "d-test", "page": 9, "box": [0, 0, 10, 10], "category": "always"}
    with pytest.raises(RedactError) as e:
        canaries.build_packet([_item(_pdf([[SECRET]]))], [rule])
    assert "rg3" in str(e.value) and "page 9" in str(e.value) and "Quetzalina" not in str(e.value)
    assert e.value.exit_code == 1


def test_secrets_in_page_data_that_the_text_does_not_show_flatten_the_page():
    # A Form XObject in the page's resources that the page never draws: no text shows it.
    pdf, pages = canaries._new([b"BT /F1 12 Tf 72 650 Td (Other words) Tj ET"])
    unused = pikepdf.Stream(pdf, b"BT /F1 12 Tf 0 0 Td (" + SECRET.encode("cp1252") + b") Tj ET")
    unused.Type, unused.Subtype, unused.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, pikepdf.Array([0, 0, 300, 20])
    unused.Resources = pikepdf.Dictionary(Font=pages[0].obj.Resources.Font)
    pages[0].obj.Resources.XObject = pikepdf.Dictionary(Unused=pdf.make_indirect(unused))
    [vol], red = canaries.build_packet([_item(canaries._save(pdf))], [canaries.term_rule()])
    [info] = red.pages
    assert info.flattened and "hidden data" in info.reasons
    assert [(m.kind, m.rule, m.boxes) for m in info.marks] == [("data", "r1", [])]
    # ActualText is text pdfium reads: it is matched and burned like any text.
    body = (b"/Span << /ActualText (" + SECRET.encode("cp1252") + b") >> BDC BT /F1 12 Tf 72 700 Td (XXXX) Tj ET EMC")
    pdf, _pages = canaries._new([body])
    _vols, red = canaries.build_packet([_item(canaries._save(pdf))], [canaries.term_rule()])
    assert red.pages[0].flattened and red.pages[0].marks[0].boxes


def test_flattening_in_a_process_pool_gives_the_same_bytes():
    from packets.profiles import get_profile
    from packets.redact import Redactor
    from packets.render import render

    data = _pdf([[f"Line {n} of {SECRET}"] for n in range(8)])
    profile = dataclasses.replace(get_profile("irb-rpd-disclosure"), flatten="all")
    outs = []
    for workers in (1, 2):
        red = Redactor([canaries.term_rule()], profile, workers=workers)
        item = red.prepare([_item(data)])[0]
        outs.append(red(item, render(item, profile)))
    assert outs[0] == outs[1]


def test_titles_and_translator_details_are_redacted_before_assembly():
    from packets.profiles import get_profile
    from packets.redact import Redactor

    red = Redactor([canaries.term_rule()], get_profile("irb-rpd-disclosure"))
    item = dataclasses.replace(_item(b"x", title=f"{canaries.SLUG}.pdf"),
                               translator={"translator_name": "T. Person", "dialect": f"as spoken by {SECRET}",
                                           "source_language": "es"})
    [out] = red.prepare([item])
    assert out.title == "[redacted].pdf" and out.translator["dialect"] == "as spoken by [redacted]"
    assert red.summary()["titles_redacted"] == 1


# ------------------------------------------------------------------------- leak check


def test_the_self_check_aborts_a_deliberately_broken_build():
    """A redaction seam that returns the pages unchanged: the check finds the secret and
    names the volume, the page and the document, never the secret."""
    from packets.assemble import build
    from packets.leakcheck import verify_volumes
    from packets.model import PacketRequest
    from packets.profiles import get_profile
    from packets.redact import Redactor

    class Broken(Redactor):
        def __call__(self, item, pdf_bytes):
            return pdf_bytes

    profile = get_profile("irb-rpd-disclosure")
    red = Broken([canaries.term_rule()], profile)
    items = red.prepare([_item(_pdf([["Page one."], [f"Page two names {SECRET}."]]), "d-leaky")])
    volumes = build(PacketRequest(profile, items, "Org", "2026-01-02", redact=red))
    with pytest.raises(VerificationFailed) as e:
        verify_volumes(volumes, red.needles())
    message = str(e.value)
    assert e.value.exit_code == 3
    assert "volume 1" in message and "document d-leaky" in message and "packet page 4" in message
    assert "rule r1" in message and "quetzalina" not in message.lower() and "\n" not in message


@pytest.mark.parametrize("name", [c.name for c in canaries.corpus() if c.mime == "application/pdf"])
def test_the_check_sees_every_canary_in_an_unredacted_file(name):
    """Run on the raw canaries (no redaction): every one is caught, by text, by an object
    or by its structure (an earlier revision, an attachment, a form, a layer)."""
    from packets.leakcheck import check_pdf

    canary = {c.name: c for c in canaries.corpus()}[name]
    findings, problems = check_pdf(canary.data, [Needle("r1", "always", "term", SECRET),
                                                  Needle("r2", "always", "term", canaries.SLUG)])
    if name == "title-and-file-name":
        return  # the secret is only in the title: the planner's input, not the file
    assert findings or problems


def test_each_extractor_finds_what_it_should():
    from packets.detectors import fold_text
    from packets.leakcheck import page_texts_pdfium, page_texts_pdfminer, scan_objects

    n = Needle("r1", "always", "term", SECRET)
    for canary in (canaries.kerned(), canaries.two_lines(), canaries.truetype_accents(), canaries.form_xobject()):
        assert any(n.search(fold_text(t)) for t in page_texts_pdfium(canary.data)), canary.name
        assert any(n.search(fold_text(t)) for t in page_texts_pdfminer(canary.data)), canary.name
    with pikepdf.open(io.BytesIO(canaries.info_and_xmp().data)) as pdf:
        wheres = {f.where for f in scan_objects(pdf, [n])}
    assert "the document information" in wheres and any(w.startswith("object") for w in wheres)


def test_font_makers_notices_do_not_stop_builds():
    """DejaVu's copyright names Bitstream Vera; a client called Vera must not stop every
    packet whose fonts are embedded (the font's own names are still searched)."""
    from packets.leakcheck import _font_or_profile_texts

    rules = [canaries.term_rule("Vera"), canaries.term_rule("Bitstream", "always", "r2")]
    _vols, red = canaries.build_packet([canaries.item(canaries.truetype_accents())], rules, flatten="hits")
    assert not any(p.flattened for p in red.pages)
    with pikepdf.open(io.BytesIO(canaries.truetype_accents().data)) as pdf:
        [font] = [o.FontFile2 for o in pdf.objects if isinstance(o, pikepdf.Dictionary)
                  and o.get("/Type") == "/FontDescriptor"]
        names = _font_or_profile_texts(font.read_bytes(), font)
    assert "DejaVu Sans" in names and not any("Bitstream" in n for n in names)


def test_structure_problems_are_named():
    from packets.leakcheck import structure_problems

    def problems(canary):
        with pikepdf.open(io.BytesIO(canary.data)) as pdf:
            return " ".join(p for _page, p in structure_problems(pdf, canary.data))

    assert "annotation other than an internal link" in problems(canaries.annotations())
    assert "more than one revision" in problems(canaries.earlier_revision())
    assert "Names" in problems(canaries.attachment())
    assert "OCProperties" in problems(canaries.hidden_layer())
    assert "AcroForm" in problems(canaries.form_field())
    assert "Metadata" in problems(canaries.info_and_xmp()) and "Author" in problems(canaries.info_and_xmp())


# ----------------------------------------------------------------------------- review


def test_the_review_report_shows_each_redaction():
    from PIL import Image

    from packets.leakcheck import verify_file
    from packets.review import review_report

    scan = io.BytesIO()
    Image.new("L", (300, 400), 200).save(scan, "PNG")
    data = _pdf([[f"My name is {SECRET}.", "Tel +52 55 1234 5678"], ["Nothing here."]])
    rules = [canaries.term_rule(), {"id": "rg9", "kind": "region", "doc": "d-one", "page": 2,
                                    "box": [72, 690, 200, 715], "category": "location"}]
    _vols, red = canaries.build_packet([_item(data, "d-one"), _item(scan.getvalue(), "d-scan", "image/png")], rules,
                                       "irb-rpd-disclosure")
    report = review_report(red, "irb-rpd-disclosure", "2026-01-02")
    verify_file(report, red.needles(), label="the review report", structure=False)
    text = _text(report)
    for needle in ("d-one", "r1", "always", "term", "detector:phone", "contact", "rg9", "location", "region",
                   "d-scan", "not searchable", "Flattened pages"):
        assert needle in text, needle
    assert "quetzalina" not in _plain(text) and "1234 5678" not in text
    # One preview per page with a redaction or without a text layer: d-one p1, p2 and d-scan p1.
    assert text.count("Preview: document") == 3
    with pikepdf.open(io.BytesIO(report)) as pdf:
        images = sum(len(p.get_images()) for p in pdf.pages)
    assert images == 3
    assert red.summary()["categories"] == {"always": 1, "contact": 1, "location": 1}


# ------------------------------------------------------------------------- end to end


@pytest.fixture
def redaction_world(keyed_world, request):
    """The case with a document whose file name and title carry the secret, and rules."""
    # Made once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, keyed_world, "test_redact", _secret_document_and_rules)


def _secret_document_and_rules(w) -> dict:
    path = w.root / "incoming" / f"{canaries.SLUG}-declaracion.pdf"
    path.write_bytes(_pdf([[f"Declaración de {SECRET}", "Teléfono: +52 55 1234 5678"], ["Second page."]]))
    secret_doc = w.ok("doc", "add", "MX-0001", str(path), "--type", "legal-declaration", user="bob").strip()
    w.ok("redact", "term", "MX-0001", SECRET, "--category", "always", user="bob")
    w.ok("redact", "term", "MX-0001", "Ana Demo Example", "--category", "always", user="bob")
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    return {"secret_doc": secret_doc}


def test_a_find_read_both_in_the_text_and_in_the_recognised_pixels_is_one_redaction():
    """A text page is also recognised (text drawn in its images): the phone number there is
    found twice, by its text and by its pixels, at the same place. It is one redaction in the
    report, the counts and the letter (a newcomer read "contact: 2" for one number), burned over
    the boxes of both readings."""
    import dataclasses

    from packets.assemble import build
    from packets.leakcheck import verify_volumes
    from packets.model import PacketRequest
    from packets.profiles import get_profile
    from packets.redact import Redactor

    data = _pdf([["Declaration of the applicant.", "Telephone: +52 55 1234 5678"]])
    profile = dataclasses.replace(get_profile("unhcr-resettlement"), ocr=True)
    red = Redactor([], profile, ocr=True, ocr_cache={})
    items = red.prepare([_item(data, "d-one")])
    volumes = build(PacketRequest(profile, items, "Fictional Legal Clinic", "2026-01-02", redact=red))
    verify_volumes(volumes, red.needles())
    phones = [m for p in red.pages for m in p.marks if m.rule == "detector:phone"]
    assert len(phones) == 1 and red.summary()["categories"] == {"contact": 1}, phones
    assert red.ocr_new, "the page was recognised too: both readings found it"
    assert "1234" not in _text(volumes[0].data)
    from packets.review import review_report

    report = subprocess.run([require_tool("pdftotext"), "-layout", "-", "-"], capture_output=True, check=True,
                            input=review_report(red, profile.id, "2026-01-02")).stdout.decode()
    rows = [line.split() for line in report.splitlines()]
    # the table names the document by its own part of the id (all of a case's start with the case id)
    assert [r for r in rows if "detector:phone" in r and r[0] != "1:"] == [
        ["one", "1", "contact", "detector:phone", "detector", "1"]]  # (the other is the preview's legend)


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_packet_build_redacts_writes_the_review_report_and_records_counts(redaction_world, tmp_path):
    w = redaction_world
    out = tmp_path / "out" / "irb.pdf"
    out.parent.mkdir()
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "-o", str(out),
              "--allow-incomplete", user="erin")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().split() == [str(out)]
    review = tmp_path / "out" / "irb.review.pdf"
    assert f"review report (for the case lead; never send it): {review}" in p.stderr.decode()
    packet_text, review_text = _plain(_text(out.read_bytes())), _plain(_text(review.read_bytes()))
    for text in (packet_text, review_text):
        assert "quetzalina" not in text and "ana demo example" not in text and "1234 5678" not in text
    assert "[redacted]-declaracion" in packet_text  # the title, from the file name
    assert w.secret_doc in review_text and "detector:phone" in review_text
    vault = w.open("erin")
    record = vault.find_case("MX-0001").packets[-1]
    summary = record["redactions"]
    assert summary["categories"]["always"] >= 2 and summary["categories"]["contact"] >= 1
    assert summary["titles_redacted"] == 1
    assert record["manifest"]["redactions"] == summary
    assert "quetzalina" not in json.dumps(record).lower()


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_broken_build_exits_3_and_writes_nothing(redaction_world, tmp_path, monkeypatch, worker_in_process):
    from packets import redact
    from packets.build import build_packet
    from packets.profiles import get_profile

    monkeypatch.setattr(redact.Redactor, "__call__", lambda self, item, pdf_bytes: pdf_bytes)
    out_dir = tmp_path / "broken"
    out_dir.mkdir()
    vault = redaction_world.open("erin")
    case = vault.find_case("MX-0001")
    with pytest.raises(VerificationFailed) as e:
        build_packet(vault, case, get_profile("irb-rpd-disclosure"), "2026-01-02", str(out_dir / "x.pdf"), "Org",
                     allow_incomplete=True, accepted_gaps={"location": "no places in this case"})
    assert e.value.exit_code == 3 and "quetzalina" not in str(e.value).lower() and "document" in str(e.value)
    assert list(out_dir.iterdir()) == []
    assert vault.find_case("MX-0001").packets == []


def _qr_png(text: str) -> bytes:
    """A photo-like PNG: a QR code (zxing-cpp writes it) on a page of white."""
    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=6)
    view = memoryview(code)
    qr = Image.frombytes("L", (view.shape[1], view.shape[0]), bytes(view))
    page = Image.new("L", (900, 1200), 255)
    page.paste(qr, (150, 200))
    out = io.BytesIO()
    page.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_qr_code_holding_a_secret_is_burned(redaction_world, tmp_path):
    """No text extractor sees a QR code's contents: redaction decodes the codes on a page
    whose data holds a secret and burns the code whole; no decoder reads it in the packet
    (the final check also decodes codes and would fail closed: the test below)."""
    import pypdfium2 as pdfium
    import zxingcpp

    w = redaction_world
    card = tmp_path / "contact-card.png"
    card.write_bytes(_qr_png(f"BEGIN:VCARD\nFN:{SECRET}\nTEL:+52 55 1234 5678\nEND:VCARD"))
    doc = w.ok("doc", "add", "MX-0001", str(card), "--type", "identity", user="bob").strip()
    w.ok("redact", "reviewed", doc, "--page", "1", user="erin")  # a page with no words: a person looked
    out = tmp_path / "out"
    out.mkdir()
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "-o", str(out / "irb.pdf"),
              "--allow-incomplete", user="erin")
    assert p.returncode == 0, p.stderr
    assert SECRET.lower() not in p.stderr.decode().lower()
    doc = pdfium.PdfDocument((out / "irb.pdf").read_bytes())
    for i in range(len(doc)):
        image = doc[i].render(scale=200 / 72, grayscale=True).to_pil()
        assert not any("quetzalina" in r.text.lower() for r in zxingcpp.read_barcodes(image))


def test_the_check_reads_what_a_qr_code_in_an_image_says():
    from packets._barcodes import texts as barcode_texts

    pdf = pikepdf.new()
    pdf.add_blank_page()
    from PIL import Image

    image = Image.open(io.BytesIO(_qr_png(f"case of {SECRET}"))).convert("L")
    stream = pikepdf.Stream(pdf, image.tobytes(), Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                            Width=image.width, Height=image.height, ColorSpace=pikepdf.Name.DeviceGray,
                            BitsPerComponent=8)
    assert barcode_texts(stream) == [f"case of {SECRET}"]
