"""Assembling packets: cover, index, numbering, bookmarks, declarations, volumes, determinism.

The packets are checked with independent tools: qpdf --check, pdfinfo, pdftotext and
pdftoppm (poppler), and pikepdf for the structure (links, outlines, document info).
"""

from __future__ import annotations

import dataclasses
import io
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest
from PIL import Image
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.pdfgen.canvas import Canvas

from conftest import require_tool
from packets.assemble import SIGNATURE_HEADROOM, AssembleError, build
from packets.model import Item, PacketRequest
from packets.profiles import Margins, Volumes, get_profile
from vault.errors import RefugeError
from test_render import gps_bytes, jpeg_with_exif, make_pdf, pdfinfo, pdftotext, png_line_art, qpdf_check, \
    tiff_three_pages

IRB = get_profile("irb-rpd-disclosure")
TESTS = Path(__file__).resolve().parent
DATE = "2026-11-23"
EPOCH = "1798761600"  # 2027-01-01 00:00:00 UTC: not the packet date, so its use shows


# ---------------------------------------------------------------------------- fixtures


def mixed_pdf(label: str) -> bytes:
    """Three pages: letter, landscape letter, A4; each says "<label> P<n>"."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=letter, invariant=1)
    for n, size in enumerate((letter, landscape(letter), A4), start=1):
        c.setPageSize(size)
        c.setFont("Helvetica", 14)
        c.drawString(100, 300, f"{label} P{n}")
        c.showPage()
    c.save()
    return buf.getvalue()


def text_doc(label: str, lines: int = 90) -> bytes:
    body = [f"{label} START"] + [f"paragraph {n} of the assessment" for n in range(lines)] + [f"{label} END"]
    return "\n".join(body).encode()


TRANSLATOR = {"translator_name": "Ana Pérez", "source_language": "Spanish", "dialect": "Rioplatense"}


def packet_items() -> list[Item]:
    """A disclosure in the IRB's section order; the translation follows its original."""
    return [
        Item("id-0001", "Passport of the claimant", "identity", "2026-10-01", "application/pdf",
             make_pdf(2, A4, label="id-0001")),
        Item("decl-0002", "Declaracion del solicitante", "legal-declaration", "2026-10-02", "application/pdf",
             mixed_pdf("decl-0002"), lang="es"),
        Item("tr-0003", "Declaration, English translation", "translation", "2026-10-03", "application/pdf",
             make_pdf(3, letter, label="tr-0003"), lang="en", translation_of="decl-0002", translator=TRANSLATOR),
        Item("med-0004", "Medical report with photo", "medical", "2026-10-04", "image/jpeg", jpeg_with_exif()),
        Item("psy-0005", "Psychological assessment", "psychological", "2026-10-05", "text/plain",
             text_doc("psy-0005")),
        Item("ctry-0006", "Country report excerpt", "country-evidence", "2026-10-06", "image/tiff",
             tiff_three_pages()),
        Item("oth-0007", "Threat letter", "correspondence", "2026-10-07", "image/png", png_line_art()),
    ]


# Pages each document takes (the translation gets its declaration page too).
PAGES = {"id-0001": 2, "decl-0002": 3, "tr-0003": 4, "med-0004": 1, "psy-0005": 2, "ctry-0006": 3, "oth-0007": 1}
SECTIONS = ["Identity documents", "Statements and declarations", "Medical and psychological reports",
            "Country conditions evidence", "Other supporting evidence"]


def in_profile_order(profile, items: list[Item]) -> list[Item]:
    """What the planner does: sections in the profile's order, each translation right
    after its original; documents no section admits are left out."""
    rank = {s.id: n for n, s in enumerate(profile.sections)}
    originals = [i for i in items if not i.translation_of and profile.section_for(i.type)]
    originals.sort(key=lambda i: rank[profile.section_for(i.type).id])
    out = []
    for o in originals:
        out.append(o)
        out += [t for t in items if t.translation_of == o.doc_id]
    return out


def noise_jpeg(seed: int, size=(300, 400)) -> bytes:
    im = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def save(tmp_path: Path, volumes, stem: str = "packet") -> list[Path]:
    paths = []
    for v in volumes:
        path = tmp_path / f"{stem}-{v.number}.pdf"
        path.write_bytes(v.data)
        paths.append(path)
    return paths


def pages_text(path: Path) -> list[str]:
    """pdftotext's text, one string per page."""
    return pdftotext(path).split("\f")[:-1]


@pytest.fixture(scope="module")
def irb_packet(tmp_path_factory):
    """The IRB disclosure built once for the tests that only read it."""
    tmp = tmp_path_factory.mktemp("irb")
    volumes = build(PacketRequest(IRB, packet_items(), "Refugee Law Clinic", DATE))
    [path] = save(tmp, volumes)
    return volumes, path


def expected_ranges(front: int) -> dict[str, tuple[int, int]]:
    out, p = {}, front + 1
    for doc, n in PAGES.items():
        out[doc] = (p, p + n - 1)
        p += n
    return out


def front_pages(texts: list[str]) -> int:
    """Cover and index pages: those before the first document page (found by its text)."""
    return next(i for i, t in enumerate(texts) if "id-0001 P1" in t)


# -------------------------------------------------------------------------- the packet


def test_packet_is_one_valid_letter_pdf_and_every_page_says_page_n_of_m_in_order(irb_packet):
    [volume], path = irb_packet
    qpdf_check(path)
    info = pdfinfo(path)
    total = int(info["Pages"])
    assert info["Page size"].startswith("612 x 792") and info["PDF version"] == "1.7"
    assert volume.first_page == 1 and volume.last_page == total
    assert total == front_pages(pages_text(path)) + sum(PAGES.values())
    texts = pages_text(path)
    assert len(texts) == total
    for n, text in enumerate(texts, start=1):
        assert re.findall(r"Page (\d+) of (\d+)", text) == [(str(n), str(total))], (n, text)
    cover = texts[0]
    assert "Please find enclosed 7 documents" in cover and f"({total} pages)" in cover
    assert "Refugee Law Clinic" in cover and "Immigration and Refugee Board" in cover
    assert subprocess.run([require_tool("qpdf"), "--show-npages", str(path)], capture_output=True,
                          check=True).stdout.decode().strip() == str(total)


def test_index_lists_every_title_with_the_pages_its_document_really_occupies(irb_packet):
    _volumes, path = irb_packet
    texts = pages_text(path)
    front = front_pages(texts)
    ranges = expected_ranges(front)
    # The page ranges agree with where the documents' own text really is.
    for doc in ("id-0001", "decl-0002", "tr-0003"):
        first, last = ranges[doc]
        assert f"{doc} P1" in texts[first - 1]
    assert "decl-0002 P3" in texts[ranges["decl-0002"][1] - 1]
    assert "psy-0005 START" in texts[ranges["psy-0005"][0] - 1] and "psy-0005 END" in texts[ranges["psy-0005"][1] - 1]
    index = pdftotext(path, "-layout", "-f", "2", "-l", str(front))
    assert "List of documents" in index
    for n, item in enumerate(packet_items(), start=1):
        first, last = ranges[item.doc_id]
        pages = str(first) if first == last else f"{first}-{last}"
        line = next(ln for ln in index.splitlines() if item.title in ln)
        assert re.match(rf"\s*{n}\s", line) and line.rstrip().endswith(pages), line
    positions = [index.index(s) for s in SECTIONS]
    assert positions == sorted(positions)  # a heading per section, in the profile's order


def test_index_entries_are_links_to_each_documents_first_page(irb_packet):
    _volumes, path = irb_packet
    texts = pages_text(path)
    front = front_pages(texts)
    pdf = pikepdf.open(path)
    targets = []
    for n in range(1, front):  # the index pages (page 1 is the cover letter)
        for annot in pdf.pages[n].obj.get("/Annots", []):
            assert annot.Subtype == "/Link" and "/A" not in annot
            targets.append(pdf.pages.index(pikepdf.Page(annot.Dest[0])) + 1)
    ranges = expected_ranges(front)
    assert targets == [ranges[i.doc_id][0] for i in packet_items()]
    annotated = [n for n, p in enumerate(pdf.pages, start=1) if "/Annots" in p.obj]
    assert annotated and all(1 < n <= front for n in annotated)  # no annotation anywhere else


def test_one_bookmark_per_document_grouped_under_its_section(irb_packet):
    _volumes, path = irb_packet
    pdf = pikepdf.open(path)
    ranges = expected_ranges(front_pages(pages_text(path)))
    page_of = lambda entry: pdf.pages.index(pikepdf.Page(entry.destination[0])) + 1  # noqa: E731
    with pdf.open_outline() as outline:
        heads = [(h.title, [(c.title, page_of(c), len(c.children)) for c in h.children]) for h in outline.root]
    assert [h for h, _ in heads] == SECTIONS
    leaves = [leaf for _, kids in heads for leaf in kids]
    assert leaves == [(i.title, ranges[i.doc_id][0], 0) for i in packet_items()]
    assert pdf.Root.PageMode == "/UseOutlines"


def test_translation_is_followed_by_the_translators_declaration(irb_packet):
    _volumes, path = irb_packet
    texts = pages_text(path)
    first, last = expected_ranges(front_pages(texts))["tr-0003"]
    assert "tr-0003 P3" in texts[last - 2]
    declaration = " ".join(texts[last - 1].split())
    assert "Translator's declaration" in declaration
    assert "I, Ana Pérez, declare that I am fluent in Spanish (dialect: Rioplatense) and in English" in declaration
    assert "Signature:" in declaration
    assert sum("Translator's declaration" in t for t in texts) == 1  # only after the translation


def test_no_exif_or_gps_from_the_photo_survives_in_the_packet(irb_packet):
    volumes, path = irb_packet
    data = volumes[0].data
    assert b"Exif" not in data and b"SECRETCAM" not in data and b"SECRETCOMMENT" not in data
    assert not any(g in data for g in gps_bytes())
    flat = subprocess.run([require_tool("qpdf"), "--qdf", "--object-streams=disable", str(path), "-"],
                          capture_output=True, check=True).stdout
    assert b"Exif" not in flat and b"SECRETCAM" not in flat and b"SECRETPNG" not in flat
    assert not any(g in flat for g in gps_bytes())


def test_document_info_is_only_what_the_packet_sets(irb_packet):
    _volumes, path = irb_packet
    pdf = pikepdf.open(path)
    info = {str(k): str(v) for k, v in pdf.docinfo.items()}
    assert info == {"/Title": "IRB Refugee Protection Division - disclosure referral packet", "/Producer": "refuge",
                    "/CreationDate": "D:20261123000000Z", "/ModDate": "D:20261123000000Z"}
    assert "/Metadata" not in pdf.Root and "/AcroForm" not in pdf.Root and "/Names" not in pdf.Root
    assert "/OpenAction" not in pdf.Root and pdf.Root.Lang == "en"
    # One revision: a single %%EOF, no incremental updates.
    assert path.read_bytes().count(b"%%EOF") == 1


def test_page_number_is_drawn_inside_the_page_not_clipped(irb_packet, tmp_path):
    _volumes, path = irb_packet
    png = subprocess.run([require_tool("pdftoppm"), "-r", "50", "-f", "5", "-l", "5", "-gray", "-png", str(path)],
                         capture_output=True, check=True).stdout
    im = Image.open(io.BytesIO(png)).convert("L")
    px = 50 / 72
    # The bottom-right corner between the margins: where "Page 5 of N" belongs.
    corner = (int((612 - 54 - 110) * px), int((792 - 54) * px), int((612 - 54) * px), im.height)
    dark = im.crop(corner).point(lambda v: 255 if v < 160 else 0).getbbox()
    assert dark is not None, "no page number in the bottom-right corner"
    left, top, right, bottom = dark
    x1, y1 = corner[0] + right, corner[1] + bottom
    assert x1 < im.width - 3 and y1 < im.height - 3  # inside the page, clear of its edges


def test_stamp_has_a_white_box_so_it_stays_legible_over_dark_content(tmp_path):
    # Tiny margins: a black page fills almost all of it, under the page number.
    profile = dataclasses.replace(IRB, margins=Margins(top=8, right=8, bottom=8, left=8))
    black = io.BytesIO()
    Image.new("L", (612, 792), 0).save(black, "PNG")
    volumes = build(PacketRequest(profile, [Item("dark-1", "Dark scan", "identity", DATE, "image/png",
                                                 black.getvalue())], "Clinic", DATE))
    [path] = save(tmp_path, volumes)
    n = int(pdfinfo(path)["Pages"])
    png = subprocess.run([require_tool("pdftoppm"), "-r", "50", "-f", str(n), "-l", str(n), "-gray", "-png",
                          str(path)], capture_output=True, check=True).stdout
    im = Image.open(io.BytesIO(png)).convert("L")
    px = 50 / 72
    # Where the number's box overlaps the black page (12 to 19 points above the bottom
    # edge): without the white box this would be black on black.
    box = im.crop((int((612 - 8 - 60) * px), int((792 - 19) * px), int((612 - 8 - 4) * px), int((792 - 12) * px)))
    hist = box.histogram()
    assert sum(hist[200:]) > 0.4 * sum(hist) and sum(hist[:100]) > 3  # white box, dark digits
    below = im.crop((int(300 * px), int((792 - 19) * px), int(400 * px), int((792 - 12) * px)))
    assert below.getextrema()[1] < 60  # the page really is black there
    assert f"Page {n} of {n}" in pages_text(path)[-1]


def test_bates_numbers_and_labels_go_where_the_profile_puts_them(tmp_path):
    numbering = dataclasses.replace(IRB.numbering, position="top-left", bates_prefix="RFG-", bates_digits=6,
                                    bates_start=100, bates_position="bottom-right")
    index = dataclasses.replace(IRB.index, columns=("number", "title", "bates", "pages"))
    profile = dataclasses.replace(IRB, numbering=numbering, index=index)
    items = packet_items()[:3]
    [path] = save(tmp_path, build(PacketRequest(profile, items, "Clinic", DATE)))
    qpdf_check(path)
    texts = pages_text(path)
    for n, text in enumerate(texts, start=1):
        assert f"Page {n} of {len(texts)}" in text and f"RFG-{99 + n:06d}" in text
    layout = pdftotext(path, "-layout", "-f", "1", "-l", "1").splitlines()
    top = next(i for i, ln in enumerate(layout) if f"Page 1 of {len(texts)}" in ln)
    assert top < 3 and layout[top].startswith("Page 1")  # top-left
    index = pdftotext(path, "-layout", "-f", "2", "-l", "2")
    front = front_pages(texts)
    first = front + 1
    assert f"RFG-{99 + first:06d}-RFG-{99 + first + 1:06d}" in index  # the passport's two pages


def test_separator_pages_open_each_section_on_an_a4_packet(tmp_path):
    profile = get_profile("unhcr-resettlement")
    assert profile.separator_pages and profile.page_size == "a4"
    items = in_profile_order(profile, packet_items())
    [path] = save(tmp_path, build(PacketRequest(profile, items, "Clinic", DATE)))
    qpdf_check(path)
    assert pdfinfo(path)["Page size"].startswith("595.28 x 841.89")
    texts = pages_text(path)
    used = []
    for i in items:
        s = profile.section_for(i.type)
        if s and s.title.en not in used:
            used.append(s.title.en)
    for title in used:
        # Each section's title alone on a page (plus its number) just before the section.
        sep = [n for n, t in enumerate(texts) if " ".join(t.split()).startswith(title) and "Page" in t
               and len(t.split()) <= len(title.split()) + 4]
        assert len(sep) == 1, title
    assert len(used) == len(profile.sections) - 1  # nothing here for the "other" section
    assert [int(m) for t in texts for m in re.findall(r"Page (\d+) of", t)] == list(range(1, len(texts) + 1))


def test_french_packet_speaks_french_everywhere(tmp_path):
    items = packet_items()[:3]
    [path] = save(tmp_path, build(PacketRequest(IRB, items, "Clinique juridique", DATE, lang="fr")))
    texts = pages_text(path)
    assert "Veuillez trouver ci-joint 3 documents" in texts[0]
    assert all(f"Page {n} de {len(texts)}" in t for n, t in enumerate(texts, start=1))
    assert "Liste des documents" in texts[1] and "Titre" in texts[1]
    assert "Déclaration du traducteur" in texts[-1]


def test_index_as_a_list_or_none_as_the_profile_says(tmp_path):
    items = packet_items()[:3]
    listed = dataclasses.replace(IRB, index=dataclasses.replace(IRB.index, style="list",
                                                                columns=("number", "title", "date", "pages")))
    [path] = save(tmp_path, build(PacketRequest(listed, items, "Clinic", DATE)), "list")
    index = " ".join(pages_text(path)[1].split())
    assert "1. Passport of the claimant — 2026-10-01 — Pages 3-4" in index
    assert "3. Declaration, English translation — 2026-10-03 — Pages 8-11" in index
    pdf = pikepdf.open(path)
    assert len(pdf.pages[1].obj.Annots) == 3
    bare = dataclasses.replace(IRB, index=dataclasses.replace(IRB.index, style="none"))
    [path] = save(tmp_path, build(PacketRequest(bare, items, "Clinic", DATE)), "none")
    texts = pages_text(path)
    assert "id-0001 P1" in texts[1] and len(texts) == 1 + 2 + 3 + 4  # cover, then the documents
    pdf = pikepdf.open(path)
    assert all("/Annots" not in p.obj for p in pdf.pages)


# ---------------------------------------------------------------------------- volumes


def test_volumes_stay_under_the_limit_and_numbering_runs_on_across_them(tmp_path):
    limit = 320_000
    profile = dataclasses.replace(get_profile("ircc-resettlement"), output="volumes",
                                  volumes=Volumes(max_bytes=limit, split=True))
    items = [Item(f"img-{n:02d}", f"Photograph {n}", t, DATE, "image/jpeg", noise_jpeg(n))
             for n, t in enumerate(["identity"] * 3 + ["legal-declaration"] * 3 + ["medical"] * 3 + ["other"] * 2)]
    title_of = {i.doc_id: i.title for i in items}
    volumes = build(PacketRequest(profile, items, "Clinic", DATE))
    assert len(volumes) >= 3
    paths = save(tmp_path, volumes)
    total = volumes[-1].last_page
    seen: list[int] = []
    for v, path in zip(volumes, paths):
        assert len(v.data) <= limit - SIGNATURE_HEADROOM  # room left for the signature
        assert path.stat().st_size == len(v.data)
        qpdf_check(path)
        texts = pages_text(path)
        assert int(pdfinfo(path)["Pages"]) == len(texts) == v.last_page - v.first_page + 1
        for text in texts:
            [(n, m)] = re.findall(r"Page (\d+) of (\d+)", text)
            assert int(m) == total
            seen.append(int(n))
        pdf = pikepdf.open(path)
        assert pdf.Root.PageLabels.Nums[1].St == v.first_page  # viewers show packet page numbers
        with pdf.open_outline() as outline:
            titles = [c.title for h in outline.root for c in h.children]
        assert titles == [title_of[d] for d in v.items]  # each volume bookmarks its own documents
    assert seen == list(range(1, total + 1))
    assert [d for v in volumes for d in v.items] == [i.doc_id for i in items]
    cover = " ".join(pages_text(paths[0])[0].split())
    assert f"It contains 11 documents ({total} pages) in {len(volumes)} file(s)" in cover
    # Volume 1's index lists every document; later volumes' documents name their volume.
    index = pdftotext(paths[0], "-layout", "-f", "2", "-l", "2")
    where = {d: v.number for v in volumes for d in v.items}
    for it in items:
        line = next(ln for ln in index.splitlines() if re.search(rf"\b{re.escape(it.title)}\b", ln))
        assert (f"Vol. {where[it.doc_id]}:" in line) == (where[it.doc_id] != 1), line
    pdfs = [pikepdf.open(p) for p in paths]
    links = [a for p in pdfs[0].pages for a in p.obj.get("/Annots", [])]
    assert len(links) == len(volumes[0].items)
    assert all("/Annots" not in p.obj for pdf in pdfs[1:] for p in pdf.pages)


def test_a_document_too_big_for_any_volume_is_refused_naming_it_and_the_fix():
    profile = dataclasses.replace(get_profile("ircc-resettlement"), output="volumes",
                                  volumes=Volumes(max_bytes=60_000, split=True))
    items = [Item("small-1", "Small", "identity", DATE, "image/jpeg", noise_jpeg(1, (100, 100))),
             Item("huge-2", "Secret huge scan title", "medical", DATE, "image/jpeg", noise_jpeg(2, (500, 700)))]
    with pytest.raises(AssembleError) as info:
        build(PacketRequest(profile, items, "Clinic", DATE), headroom=0)
    msg = str(info.value)
    assert "document huge-2" in msg and "60000" in msg and "after fitting its images" in msg and "\n" not in msg
    assert info.value.hint == "packet-too-big"  # the way out: scan again, split, another portal
    assert "Secret" not in msg and "small-1" not in msg
    assert isinstance(info.value, RefugeError) and not isinstance(info.value, ValueError)
    assert info.value.exit_code == 1  # the application shows this message, not "internal error"


def test_an_arabic_title_is_refused_with_a_refuge_error_naming_the_document():
    items = [Item("ar-1", "\u0625\u0641\u0627\u062f\u0629 \u0634\u0627\u0647\u062f", "legal-declaration", DATE,
                  "text/plain", b"Statement.\n")]
    with pytest.raises(RefugeError) as info:
        build(PacketRequest(IRB, items, "Clinic", DATE))
    msg = str(info.value)
    assert isinstance(info.value, AssembleError) and not isinstance(info.value, ValueError)
    assert "document ar-1: its title" in msg and "cannot show" in msg and info.value.exit_code == 1


def test_a_packet_over_a_limit_it_may_not_split_is_refused():
    profile = dataclasses.replace(get_profile("ircc-resettlement"), output="single",
                                  volumes=Volumes(max_bytes=40_000, split=False))
    items = [Item(f"n-{k}", "Scan", "identity", DATE, "image/jpeg", noise_jpeg(k)) for k in range(3)]
    with pytest.raises(AssembleError, match="does not split"):
        build(PacketRequest(profile, items, "Clinic", DATE), headroom=0)


# ----------------------------------------------------------------------- determinism


def test_same_request_gives_byte_identical_packets_dated_by_source_date_epoch(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first = build(PacketRequest(IRB, packet_items(), "Clinic", DATE))[0].data
    second = build(PacketRequest(IRB, packet_items(), "Clinic", DATE))[0].data
    assert first == second
    [path] = save(tmp_path, [dataclasses.replace(build(PacketRequest(IRB, packet_items(), "Clinic", DATE))[0])])
    pdf = pikepdf.open(path)
    assert pdf.docinfo.CreationDate == "D:20270101000000Z"
    # Another process, another hash seed: still the same bytes.
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from test_assemble import *; "
              "sys.stdout.buffer.write(build(PacketRequest(IRB, packet_items(), 'Clinic', DATE))[0].data)")
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="12345")
    other = subprocess.run([sys.executable, "-c", script, str(TESTS)], env=env, capture_output=True, check=True,
                           cwd=TESTS.parent).stdout
    assert other == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 1))
    assert build(PacketRequest(IRB, packet_items(), "Clinic", DATE))[0].data != first


# ------------------------------------------------------------------------- redaction


def test_redaction_seam_gets_the_rendered_pages_and_its_output_is_used_clean(tmp_path):
    seen = {}

    def redact(item, pdf_bytes):
        pdf = pikepdf.open(io.BytesIO(pdf_bytes))
        seen[item.doc_id] = (len(pdf.pages), [float(x) for x in pdf.pages[0].mediabox])
        for page in pdf.pages:  # burn a black bar over the middle, and smuggle in an action
            page.contents_add(pikepdf.Stream(pdf, b"q 0 g 100 300 412 200 re f Q"))
            page.obj.Annots = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
                A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))))])
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('y')"))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()

    items = packet_items()[:2]
    volumes = build(PacketRequest(IRB, items, "Clinic", DATE, redact=redact))
    assert seen == {"id-0001": (2, [0, 0, 612, 792]), "decl-0002": (3, [0, 0, 612, 792])}
    [path] = save(tmp_path, volumes)
    qpdf_check(path)
    texts = pages_text(path)
    front = front_pages(texts)
    # The black bar is on the document pages, unscaled (the pages already had the size).
    png = subprocess.run([require_tool("pdftoppm"), "-r", "36", "-f", str(front + 1), "-l", str(front + 1),
                          "-gray", "-png", str(path)], capture_output=True, check=True).stdout
    im = Image.open(io.BytesIO(png)).convert("L")
    assert im.crop((60, 200, 240, 230)).getextrema()[1] < 60
    flat = subprocess.run([require_tool("qpdf"), "--qdf", "--object-streams=disable", str(path), "-"],
                          capture_output=True, check=True).stdout
    assert b"/JavaScript" not in flat and b"app.alert" not in flat and b"/OpenAction" not in flat
    pdf = pikepdf.open(path)
    assert all("/Annots" not in p.obj for p in pdf.pages[front:])


# ---------------------------------------------------------------------------- errors


def test_translation_without_translator_details_is_refused_naming_the_document():
    items = packet_items()[:3]
    items[2] = dataclasses.replace(items[2], translator=None)
    with pytest.raises(AssembleError) as info:
        build(PacketRequest(IRB, items, "Clinic", DATE))
    msg = str(info.value)
    assert msg.startswith("document tr-0003:") and "translator_name" in msg and "English translation" not in msg
    # A profile without declarations builds the same items without one.
    no_decl = dataclasses.replace(IRB, translations=dataclasses.replace(IRB.translations, declaration_required=False))
    assert build(PacketRequest(no_decl, items, "Clinic", DATE))


@pytest.mark.parametrize("change, words", [
    (dict(date="23/11/2026"), "not yyyy-mm-dd"),
    (dict(lang="es"), "not accepted"),
    (dict(items=[]), "no documents"),
    (dict(items="dup"), "appears twice"),
])
def test_bad_requests_fail_in_one_line(change, words):
    items = packet_items()[:2]
    if change.get("items") == "dup":
        change = dict(items=items + [dataclasses.replace(items[0], title="Another secret")])
    request = dataclasses.replace(PacketRequest(IRB, items, "Clinic", DATE), **change)
    with pytest.raises(AssembleError) as info:
        build(request)
    assert words in str(info.value) and "\n" not in str(info.value) and "secret" not in str(info.value)


def test_bad_source_date_epoch_is_refused(monkeypatch):
    items = packet_items()[:1]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(AssembleError, match="SOURCE_DATE_EPOCH") as info:
        build(PacketRequest(IRB, items, "Clinic", DATE))
    assert "\n" not in str(info.value)


def test_title_in_a_script_the_index_cannot_show_is_refused_naming_the_doc_id():
    items = [dataclasses.replace(packet_items()[0], title="گذرنامه")]
    with pytest.raises(AssembleError) as info:
        build(PacketRequest(IRB, items, "Clinic", DATE))
    assert str(info.value).startswith("document id-0001: its title") and "گ" not in str(info.value)


# ------------------------------------------------------------------------ long packets


def test_long_index_spans_pages_and_every_entry_still_links(tmp_path):
    items = [Item(f"t-{n:03d}", f"Supporting letter number {n}", "other", DATE, "text/plain",
                  f"t-{n:03d} START".encode()) for n in range(70)]
    [path] = save(tmp_path, build(PacketRequest(IRB, items, "Clinic", DATE)))
    qpdf_check(path)
    texts = pages_text(path)
    index_pages = [n for n, t in enumerate(texts) if "Supporting letter number" in t]
    assert len(index_pages) >= 2 and all("No." in texts[n] for n in index_pages)  # header repeated
    pdf = pikepdf.open(path)
    targets = [pdf.pages.index(pikepdf.Page(a.Dest[0])) for n in index_pages for a in pdf.pages[n].obj.Annots]
    assert [texts[t].split()[0] for t in targets] == [i.doc_id for i in items]
    assert [int(m) for t in texts for m in re.findall(r"Page (\d+) of", t)] == list(range(1, len(texts) + 1))


def test_a_200_page_packet_of_20_documents_builds_quickly():
    docs = [make_pdf(10, A4 if n % 2 else letter, label=f"d{n}") for n in range(20)]
    kinds = ["identity", "legal-declaration", "medical", "country-evidence", "other"]
    items = [Item(f"d{n}", f"Document {n}", kinds[n // 4], DATE, "application/pdf", d) for n, d in enumerate(docs)]
    build(PacketRequest(IRB, items[:1], "Clinic", DATE))  # fonts and modules loaded
    started = time.perf_counter()
    [volume] = build(PacketRequest(IRB, items, "Clinic", DATE))
    elapsed = time.perf_counter() - started
    assert volume.last_page >= 200
    # Measured about 1 ms per page; the bound is loose so that a busy machine passes.
    assert elapsed / volume.last_page < 0.015, f"{elapsed * 1000 / volume.last_page:.1f} ms per page"


def test_bookmarks_carry_no_title_where_the_index_shows_none(tmp_path):
    """ccvt-intake's index shows types, not titles (titles can tell the story): its bookmarks
    must not bring the titles back ("Threat letter", file names by default)."""
    profile = get_profile("ccvt-intake")
    assert "title" not in profile.index.columns
    items = in_profile_order(profile, packet_items())
    [path] = save(tmp_path, build(PacketRequest(profile, items, "Clinic", DATE)), stem="ccvt")
    with pikepdf.open(path) as pdf, pdf.open_outline() as outline:
        labels = [c.title for h in outline.root for c in h.children] + [h.title for h in outline.root if not h.children]
    labels = [t for t in labels if t not in {s.title for s in profile.sections}]
    assert len(labels) == len(items)
    assert all(re.fullmatch(r"\d+\. \S.*", t) for t in labels), labels
    text = " ".join(labels) + " ".join(pages_text(path))
    for item in items:
        assert item.title not in text


def test_reportlab_draws_with_its_c_accelerator():
    """reportlab encodes images in ASCII85 and writes numbers through rl_accel's C code: without it,
    in pure Python, a review report's four page previews took 1.4 s of a build's worker."""
    from reportlab.pdfbase import pdfdoc

    assert pdfdoc.asciiBase85Encode.__module__ == "_rl_accel"
