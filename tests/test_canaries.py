"""The canary corpus: a secret planted in every place a PDF or image can hide one.

For each canary the packet holds no trace of the secret by pdftotext (poppler), by pypdf
(text, metadata and every object, streams decoded) and in the raw and decompressed bytes
of the file (pikepdf), and the text next to the secret, where not flattened, still reads.
These checks are independent of refuge's own leak check (which also ran, in the build).
"""

from __future__ import annotations

import io
import subprocess
import unicodedata

import pikepdf
import pytest

import canaries
from canaries import NEIGHBOUR, PAGE_TWO, SECRET, SECRET_PIECES, SLUG
from conftest import require_tool

CORPUS = {c.name: c for c in canaries.corpus()}


def _plain(text: str) -> str:
    """Lower case, accents stripped, white space runs made single spaces: a simple
    independent normal form (no hyphen joining: the pieces are short enough)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(text.split())


def _has_secret(text: str) -> bool:
    plain = _plain(text)
    squeezed = plain.replace(" ", "").replace("-", "")
    return any(_plain(p) in plain or _plain(p) in squeezed for p in SECRET_PIECES)


def _bytes_have_secret(data: bytes) -> bool:
    low = data.lower()
    for piece in SECRET_PIECES:
        for enc in ("latin-1", "utf-8", "utf-16-be", "utf-16-le"):
            try:
                if piece.encode(enc) in low:
                    return True
            except UnicodeEncodeError:
                continue
    return False


def _pdftotext(path) -> str:
    return subprocess.run([require_tool("pdftotext"), str(path), "-"], capture_output=True, check=True).stdout.decode()


def _pypdf_everything(data: bytes) -> list[str]:
    """Text, metadata and every object of the file by pypdf (an independent parser)."""
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, IndirectObject, StreamObject

    reader = PdfReader(io.BytesIO(data))
    out = [page.extract_text() or "" for page in reader.pages]
    out.append(repr(reader.metadata))
    xmp = reader.xmp_metadata
    if xmp is not None:
        out.append(xmp.stream.get_data().decode("utf-8", "replace"))
    size = int(reader.trailer["/Size"])
    for num in range(1, size):
        try:
            obj = reader.get_object(IndirectObject(num, 0, reader))
        except Exception:
            continue
        if obj is None:
            continue
        if isinstance(obj, StreamObject):
            try:
                raw = obj.get_data()
            except Exception:
                raw = obj._data if hasattr(obj, "_data") else b""
            if obj.get("/Subtype") == "/Image" and obj.get("/Filter") not in ("/DCTDecode",):
                raw = b""  # pixels
            out.append(raw.decode("latin-1"))
            out.append(repr({k: v for k, v in obj.items()}))
        elif isinstance(obj, DictionaryObject):
            out.append(repr(obj))
        else:
            out.append(repr(obj))
    return out


def _pikepdf_streams(data: bytes) -> list[bytes]:
    out = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                try:
                    out.append(obj.read_bytes())
                except pikepdf.PdfError:
                    out.append(obj.read_raw_bytes())
            elif isinstance(obj, (pikepdf.Dictionary, pikepdf.Array)):
                out.append(repr(obj).encode("utf-8", "replace"))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each canary built into its own packet (library pipeline, leak check included)."""
    out = {}
    folder = tmp_path_factory.mktemp("canaries")
    for name, canary in CORPUS.items():
        volumes, redactor = canaries.build_packet([canaries.item(canary)], [canaries.term_rule()])
        assert len(volumes) == 1
        path = folder / f"{name}.pdf"
        path.write_bytes(volumes[0].data)
        out[name] = (path, redactor)
    return out


def test_the_corpus_plants_the_secret_everywhere_the_issue_lists():
    assert set(CORPUS) == {
        "plain-text", "two-lines", "kerned-tj", "form-xobject", "invisible-ocr-layer", "annotations-and-links",
        "info-and-xmp", "earlier-revision", "attachment", "hidden-layer", "form-field", "outline-entry",
        "rotated-page", "truetype-accents", "jpeg-exif-gps", "jpeg-exif-in-pdf", "title-and-file-name"}
    for name, canary in CORPUS.items():
        planted = _bytes_have_secret(canary.data) or SECRET in canary.title
        if canary.mime == "application/pdf":
            planted = planted or _has_secret(_pdftotext_bytes(canary.data)) \
                or any(_bytes_have_secret(chunk) for chunk in _pikepdf_streams(canary.data))
        assert planted, name
    # The accented TrueType canary really is embedded TrueType text that extracts with its accents.
    text = _pdftotext_bytes(CORPUS["truetype-accents"].data)
    assert "QUETZALINA MARROQUÍN" in text and "niña" in text
    # The earlier revision holds the secret; the current one does not show it.
    assert SECRET not in _pdftotext_bytes(CORPUS["earlier-revision"].data)
    assert b"Draft naming" in CORPUS["earlier-revision"].data


def _pdftotext_bytes(data: bytes) -> str:
    p = subprocess.run([require_tool("pdftotext"), "-", "-"], input=data, capture_output=True, check=True)
    return p.stdout.decode()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_no_trace_by_pdftotext(built, name):
    path, _r = built[name]
    assert not _has_secret(_pdftotext(path))
    assert SLUG not in _pdftotext(path).lower()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_no_trace_by_pypdf(built, name):
    path, _r = built[name]
    for text in _pypdf_everything(path.read_bytes()):
        assert not _has_secret(text)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_no_trace_in_any_stream_or_byte(built, name):
    path, _r = built[name]
    data = path.read_bytes()
    assert not _bytes_have_secret(data)
    for chunk in _pikepdf_streams(data):
        assert not _bytes_have_secret(chunk)
    # One revision, no attachments, no layers, no form, no actions.
    assert data.count(b"startxref") == 1
    with pikepdf.open(path) as pdf:
        assert not pdf.attachments and "/AcroForm" not in pdf.Root and "/OCProperties" not in pdf.Root
        assert "/Metadata" not in pdf.Root and "/OpenAction" not in pdf.Root
        assert set(pdf.docinfo.keys()) <= {"/Title", "/Producer", "/CreationDate", "/ModDate"}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_text_next_to_the_secret_still_reads(built, name):
    """Every page is rebuilt from pixels (the shipped profiles flatten all), and the words
    around the secret still read by pdftotext, from the text layer recognised from the
    redacted pixels."""
    path, redactor = built[name]
    text = _pdftotext(path)
    assert all(p.flattened for p in redactor.pages)
    if CORPUS[name].mime == "application/pdf":
        assert PAGE_TWO in text
        assert NEIGHBOUR in text
    if CORPUS[name].on_page:
        assert any(p.page == 1 and p.marks for p in redactor.pages)


def test_a_profile_that_flattens_only_hits_keeps_other_pages_as_they_were():
    canary = CORPUS["plain-text"]
    [vol], redactor = canaries.build_packet([canaries.item(canary)], [canaries.term_rule()], flatten="hits")
    assert [p.page for p in redactor.pages if p.flattened] == [1]
    with pikepdf.open(io.BytesIO(vol.data)) as pdf:
        fonts = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == "/Font"]
    assert fonts  # the second page keeps its text objects


def test_the_burned_box_covers_the_secret_and_spares_its_neighbours(built):
    """On the flattened page the secret's place is black and the words around it are ink
    on white as in the source."""
    import pypdfium2 as pdfium

    path, redactor = built["plain-text"]
    [info] = [p for p in redactor.pages if p.marks]
    [mark] = info.marks
    [box] = mark.boxes
    doc = pdfium.PdfDocument(path.read_bytes())
    page_index = _first_document_page(path)
    im = doc[page_index].render(scale=2).to_pil().convert("L")
    h = im.height

    def px(x, y):
        return im.getpixel((int(x * 2), int(h - y * 2)))

    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert px(cx, cy) < 30 and px(box[0] + 1, cy) < 30 and px(box[2] - 1, cy) < 30
    # Just left and right of the box (beyond the margin) there is text, not a black band.
    left = [px(x, cy) for x in range(int(box[0]) - 40, int(box[0]) - 4)]
    right = [px(x, cy) for x in range(int(box[2]) + 4, int(box[2]) + 40)]
    assert max(left) > 200 and min(left) < 150, "the word before the secret is gone"
    assert max(right) > 200 and min(right) < 150, "the word after the secret is gone"


def _first_document_page(path) -> int:
    with pikepdf.open(path) as pdf:
        with pdf.open_outline() as outline:
            entries = [e for top in outline.root for e in (top.children or [top])]
            dest = entries[0].destination
            return [p.obj.objgen for p in pdf.pages].index(dest[0].objgen)


def test_hidden_layers_are_removed_not_made_visible(built):
    import pypdfium2 as pdfium

    path, redactor = built["hidden-layer"]
    assert "optional content" in redactor.pages[0].reasons
    doc = pdfium.PdfDocument(path.read_bytes())
    im = doc[_first_document_page(path)].render(scale=1).to_pil().convert("RGB")
    # The packet page holds the source page scaled into the margins: find the square's
    # place through the same placement the render stage used (a red square anywhere would do).
    reds = sum(1 for x in range(0, im.width, 3) for y in range(0, im.height, 3)
               if (lambda p: p[0] > 180 and p[1] < 80 and p[2] < 80)(im.getpixel((x, y))))
    assert reds == 0, "the hidden layer's red square is visible"


def test_jpeg_metadata_never_survives(built):
    for name in ("jpeg-exif-gps", "jpeg-exif-in-pdf"):
        path, _r = built[name]
        data = path.read_bytes()
        assert b"Exif" not in data and b"GPS" not in data and b"xmpmeta" not in data
        with pikepdf.open(path) as pdf:
            for obj in pdf.objects:
                if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") == pikepdf.Name.DCTDecode:
                    raw = obj.read_raw_bytes()
                    assert b"\xff\xe1" not in raw[:raw.find(b"\xff\xda")]  # no APP1 (EXIF/XMP)
                    assert b"\xff\xfe" not in raw[:raw.find(b"\xff\xda")]  # no comment


def test_the_title_never_reaches_the_index_or_bookmarks(built):
    path, redactor = built["title-and-file-name"]
    text = _pdftotext(path)
    assert "[redacted] declaration ([redacted])" in text
    assert redactor.titles_redacted == 1
    with pikepdf.open(path) as pdf:
        with pdf.open_outline() as outline:
            titles = [e.title for top in outline.root for e in [top, *top.children]]
    assert any("[redacted]" in t for t in titles) and not any(_has_secret(t) for t in titles)
