"""The packet's self-check: no redacted text anywhere in the file, and nothing but pages.

Run after assembly and before anything is written (fail closed). For each volume:

1. **Text, two ways.** Every page's text is extracted by pdfium (its own reading order,
   including text in Form XObjects, TJ arrays, invisible text and every font encoding it
   can map to Unicode) and by pdfminer.six (content order, an independent parser), and
   both are searched for every needle (the case terms the profile applies, and every
   detector find from the sources), folded as :mod:`packets.detectors` folds (case,
   accents, spacing, line breaks, hyphenation).
2. **Every object.** Every string and name of every object, and every stream decoded
   where it can be, is searched the same way: content streams (as text, and their
   string operands joined per ``TJ`` array), metadata and anything else. Image pixels
   are not text and are not searched, but a JPEG's metadata segments (EXIF, XMP,
   comments) are. Font programs and ICC colour profiles are searched in the names they
   carry (not their makers' copyright and licence notices, so that a surname such as
   Vera does not match "Bitstream Vera"). Other binary data is searched in its printable
   runs (ASCII and UTF-16), for secrets of at least four letters or digits, so that
   random bytes do not stop builds.
3. **Structure.** No annotations but internal links, no form fields, no JavaScript or
   actions, no attachments, no optional content, no thumbnails, page-piece data or XMP,
   document information limited to what the packet sets, JPEG images without metadata
   segments, and a single revision.

Any finding raises :class:`vault.errors.VerificationFailed` (exit code 3) with one line
that names the volume, the packet page and the document (its opaque id), and the
category and rule id, never the secret.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

import pikepdf
from pikepdf import Name

from vault.errors import VerificationFailed

from . import _barcodes, _pdf
from ._fontnames import font_or_profile_texts as _font_or_profile_texts
from .detectors import Needle, fold_text

__all__ = ["Finding", "check_pdf", "page_texts_pdfium", "page_texts_pdfminer", "scan_objects",
           "structure_problems", "verify_volumes", "verify_file"]

#: Secrets shorter than this (letters and digits) are not searched for in binary data.
BINARY_MIN = 4
_DOCINFO_KEYS = {"/Title", "/Producer", "/CreationDate", "/ModDate"}
_ROOT_KEYS = {"/Type", "/Pages", "/Outlines", "/PageLabels", "/Lang", "/PageMode", "/MarkInfo",
              "/ViewerPreferences", "/Version"}
_PAGE_KEYS = {"/Type", "/Parent", "/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Resources",
              "/Contents", "/Rotate", "/Annots", "/Group", "/UserUnit", "/Tabs", "/Trans", "/Dur"}
_FORBIDDEN_KEYS = {"/JS", "/JavaScript", "/AA", "/OpenAction", "/EmbeddedFiles", "/EmbeddedFile", "/URI",
                   "/Launch", "/SubmitForm", "/ImportData", "/OCProperties", "/OC", "/Thumb", "/PieceInfo",
                   "/AcroForm", "/Metadata", "/AF", "/RichMedia", "/XFA", "/Collection"}
_FORBIDDEN_TYPES = {"/Filespec", "/EmbeddedFile", "/OCG", "/OCMD", "/Action", "/Sig", "/Annot"}


@dataclass
class Finding:
    """A needle found in the output: where (never what)."""

    needle: Needle
    where: str  # "page" or a description of the object
    page: int | None  # 0-based page index in the file, if known
    how: str  # "pdfium", "pdfminer" or "object scan"


# ------------------------------------------------------------------------------ text


def page_texts_pdfium(data: bytes, password: str | None = None) -> list[str]:
    """The text of each page by pdfium."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data, password=password)
    try:
        out = []
        for i in range(len(doc)):
            page = doc[i]
            tp = page.get_textpage()
            try:
                out.append(tp.get_text_range() if tp.count_chars() else "")
            finally:
                tp.close()
                page.close()
        return out
    finally:
        doc.close()


def page_texts_pdfminer(data: bytes, password: str | None = None) -> list[str]:
    """The text of each page by pdfminer.six: its own parser, content interpreter (Form
    XObjects included) and font decoding to Unicode, in content order with no layout
    analysis (so pieces of one word drawn in turn stay together, and it is fast). Each
    text-showing operator ends with a line break and each large gap inside a TJ array
    is a space (the matcher allows one separator inside a word, and joins a hyphen at a
    line break)."""
    from pdfminer.pdfdevice import PDFDevice
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdffont import PDFUnicodeNotDefined
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    class TextDevice(PDFDevice):
        def __init__(self, rsrcmgr) -> None:
            super().__init__(rsrcmgr)
            self.parts: list[str] = []

        def render_string(self, textstate, seq, ncs, graphicstate) -> None:
            font = textstate.font
            if font is None:
                return
            parts = self.parts
            for obj in seq:
                if isinstance(obj, (int, float)):
                    if obj < -200 or obj > 200:
                        parts.append(" ")
                    continue
                for cid in font.decode(obj):
                    try:
                        parts.append(font.to_unichr(cid))
                    except (PDFUnicodeNotDefined, KeyError, ValueError, IndexError):
                        parts.append("\ufffd")
            parts.append("\n")  # a break, so that a hyphen ending one piece joins the next

    parser = PDFParser(io.BytesIO(data))
    document = PDFDocument(parser, password or "")
    rsrc = PDFResourceManager(caching=True)
    device = TextDevice(rsrc)
    interp = PDFPageInterpreter(rsrc, device)
    out = []
    for page in PDFPage.create_pages(document):
        device.parts = []
        interp.process_page(page)
        out.append("".join(device.parts))
    return out


def _text_findings(texts: list[str], needles: list[Needle], how: str) -> list[Finding]:
    found = []
    for i, text in enumerate(texts):
        if not text:
            continue
        folded = fold_text(text)
        for n in needles:
            if n.search(folded):
                found.append(Finding(n, "page", i, how))
    return found


# --------------------------------------------------------------------------- objects

_PRINTABLE = re.compile(rb"[\x20-\x7e\t\r\n\xa0-\xff]{4,}")
_UTF16BE = re.compile(rb"(?:\x00[\x20-\x7e]){4,}")
_UTF16LE = re.compile(rb"(?:[\x20-\x7e]\x00){4,}")


def _is_text(data: bytes) -> bool:
    head = data[:4096]
    if not head:
        return True
    good = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
    return good / len(head) >= 0.85


def texts_of_bytes(data: bytes) -> tuple[list[str], bool]:
    """The text a byte string can hold, and whether it is binary (searched in runs)."""
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        try:
            return [data.decode("utf-16")], False
        except UnicodeDecodeError:
            pass
    if _is_text(data):
        try:
            return [data.decode("utf-8")], False
        except UnicodeDecodeError:
            return [data.decode("latin-1")], False
    runs = [m.group(0).decode("latin-1") for m in _PRINTABLE.finditer(data)]
    runs += [m.group(0).decode("utf-16-be") for m in _UTF16BE.finditer(data)]
    runs += [m.group(0).decode("utf-16-le") for m in _UTF16LE.finditer(data)]
    return ["\n".join(runs)], True


def _string_text(s: pikepdf.String) -> tuple[list[str], bool]:
    raw = bytes(s)
    if raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        try:
            return [raw.decode("utf-16")], False
        except UnicodeDecodeError:
            pass
    texts, binary = texts_of_bytes(raw)
    try:
        texts.append(str(s))  # PDFDocEncoding
    except Exception:
        pass
    return texts, binary


def _jpeg_metadata(data: bytes) -> tuple[list[bytes], bool]:
    """The metadata segments of a JPEG (APPn other than Adobe APP14, COM), and whether
    it parsed."""
    if data[:2] != b"\xff\xd8":
        return [], False
    pos, n, out = 2, len(data), []
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return out, False
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:
            return out, True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return out, False
        segment = data[pos + 4:pos + 2 + length]
        if (0xE0 <= marker <= 0xEF and not (marker == 0xEE and segment[:5] == b"Adobe")) or marker == 0xFE:
            out.append(segment)
        pos += 2 + length
    return out, True


def _content_strings(stream: pikepdf.Stream) -> list[str]:
    """The string operands of a content stream, joined per text-showing operator."""
    try:
        ops = pikepdf.parse_content_stream(stream)
    except Exception:
        return []
    pieces: list[str] = []
    line: list[str] = []
    for operands, op in ops:
        s = str(op)
        if s in ("Tj", "TJ", "'", '"'):
            for o in operands:
                if isinstance(o, pikepdf.String):
                    line.append(bytes(o).decode("latin-1"))
                elif isinstance(o, pikepdf.Array):
                    for x in o:
                        if isinstance(x, pikepdf.String):
                            line.append(bytes(x).decode("latin-1"))
        elif s in ("ET", "Td", "TD", "T*", "Tm"):
            if line:
                pieces.append("".join(line))
                line = []
        elif s in ("BDC", "DP"):
            for o in operands:
                if isinstance(o, pikepdf.Dictionary):
                    for v in o.values():
                        if isinstance(v, pikepdf.String):
                            pieces.extend(_string_text(v)[0])
    if line:
        pieces.append("".join(line))
    return ["\n".join(pieces)] if pieces else []


def object_texts(obj, content: bool = False) -> Iterator[tuple[str, bool]]:
    """Every piece of text ``obj`` holds (its own strings, names and stream data; not the
    objects it refers to), each with whether it is binary."""
    stack = [obj]
    seen = 0
    while stack:
        o = stack.pop()
        seen += 1
        if seen > 100000:
            break
        if isinstance(o, pikepdf.String):
            texts, binary = _string_text(o)
            for t in texts:
                yield t, binary
        elif isinstance(o, pikepdf.Name):
            yield str(o)[1:], False
        elif isinstance(o, pikepdf.Array):
            for x in o:
                if isinstance(x, pikepdf.Object) and not x.is_indirect:
                    stack.append(x)
        elif isinstance(o, (pikepdf.Dictionary, pikepdf.Stream)):
            for k, v in o.items():
                yield k[1:], False
                if isinstance(v, pikepdf.Object) and not v.is_indirect:
                    stack.append(v)
    if isinstance(obj, pikepdf.Stream):
        yield from _stream_texts(obj, content)


def _stream_texts(stream: pikepdf.Stream, content: bool) -> Iterator[tuple[str, bool]]:
    filters = _pdf.filters(stream)
    is_image = stream.get(Name.Subtype) == Name.Image
    if is_image:
        for text in _barcodes.texts(stream):
            yield text, False
    if filters and filters[-1] in ("/DCTDecode", "/DCT"):
        try:
            raw = stream.read_raw_bytes() if len(filters) == 1 else stream.read_bytes(
                decode_level=pikepdf.StreamDecodeLevel.generalized)
        except Exception:
            raw = b""
        segments, _ok = _jpeg_metadata(raw)
        for seg in segments:
            texts, binary = texts_of_bytes(seg)
            for t in texts:
                yield t, binary
        return
    if is_image or (filters and filters[-1] in ("/JBIG2Decode", "/JPXDecode", "/CCITTFaxDecode")):
        return  # pixels
    try:
        data = stream.read_bytes()
    except Exception:
        try:
            data = stream.read_raw_bytes()
        except Exception:
            return
    special = _font_or_profile_texts(data, stream)
    if special is not None:
        for t in special:
            yield t, False
        return
    texts, binary = texts_of_bytes(data)
    for t in texts:
        yield t, binary
    if content and not binary:
        for t in _content_strings(stream):
            yield t, False


def _search(texts: Iterable[tuple[str, bool]], needles: list[Needle]) -> list[Needle]:
    hit: list[Needle] = []
    for text, binary in texts:
        if not text:
            continue
        folded = fold_text(text)
        for n in needles:
            if n in hit or (binary and n.size < BINARY_MIN):
                continue
            if n.search(folded):
                hit.append(n)
    return hit


def _page_owner(pdf: pikepdf.Pdf) -> tuple[dict[tuple[int, int], int], set[tuple[int, int]]]:
    """Which page (first one) reaches each indirect object, and which objects are
    content streams (page contents and Form XObjects)."""
    owner: dict[tuple[int, int], int] = {}
    contents: set[tuple[int, int]] = set()
    for i, page in enumerate(pdf.pages):
        stack = [(page.obj, False)]
        local: set = set()
        while stack:
            o, is_content = stack.pop()
            if not isinstance(o, pikepdf.Object):
                continue
            if isinstance(o, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array)) and o.is_indirect:
                og = o.objgen
                if og in local:
                    continue
                local.add(og)
                owner.setdefault(og, i)
                if is_content and isinstance(o, pikepdf.Stream):
                    contents.add(og)
            if isinstance(o, pikepdf.Array):
                for x in o:
                    stack.append((x, is_content))
            elif isinstance(o, (pikepdf.Dictionary, pikepdf.Stream)):
                form = isinstance(o, pikepdf.Stream) and o.get(Name.Subtype) == Name.Form
                if form and o.is_indirect:
                    contents.add(o.objgen)
                for k, v in o.items():
                    if k in ("/Parent", "/P", "/Dest", "/D", "/First", "/Last", "/Next", "/Prev"):
                        continue
                    stack.append((v, k == "/Contents" and not isinstance(o, pikepdf.Stream)))
    return owner, contents


def scan_objects(pdf: pikepdf.Pdf, needles: list[Needle], pages: set[int] | None = None) -> list[Finding]:
    """Search every object of ``pdf`` (or only those reached from ``pages``)."""
    if not needles:
        return []
    owner, contents = _page_owner(pdf)
    found = []
    info = pdf.trailer.get(Name.Info)
    info_og = info.objgen if isinstance(info, pikepdf.Dictionary) and info.is_indirect else None
    objects = list(pdf.objects)
    for obj in objects:
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream, pikepdf.Array, pikepdf.String)):
            continue
        og = obj.objgen
        page = owner.get(og)
        if pages is not None and page not in pages:
            continue
        hits = _search(object_texts(obj, content=og in contents), needles)
        for n in hits:
            if page is not None:
                where = "page"
            elif og == info_og:
                where = "the document information"
            elif isinstance(obj, pikepdf.Dictionary) and (Name.Title in obj and (Name.Parent in obj or Name.Dest in obj)):
                where = "the bookmarks"
            else:
                typ = obj.get(Name.Type) if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)) else None
                where = f"object {og[0]}" + (f" ({str(typ)[1:]})" if isinstance(typ, pikepdf.Name) else "")
            found.append(Finding(n, where, page, "object scan"))
    if pages is None:
        # Objects that are not indirect: the trailer itself.
        for n in _search(object_texts(pdf.trailer), needles):
            found.append(Finding(n, "the trailer", None, "object scan"))
    return found


# ------------------------------------------------------------------------- structure


def _document_problems(pdf: pikepdf.Pdf, data: bytes) -> list[tuple[int | None, str]]:
    """Revisions, and catalog or document information keys that are not allowed."""
    problems: list[tuple[int | None, str]] = []
    if data.count(b"startxref") != 1:
        problems.append((None, "the file has more than one revision"))
    for k in pdf.Root.keys():
        if k not in _ROOT_KEYS:
            problems.append((None, f"the catalog has {k[1:]}"))
    info = pdf.trailer.get(Name.Info)
    if isinstance(info, pikepdf.Dictionary):
        for k in info.keys():
            if k not in _DOCINFO_KEYS:
                problems.append((None, f"the document information has {k[1:]}"))
    return problems


def _page_problems(pdf: pikepdf.Pdf) -> tuple[list[tuple[int | None, str]], set[tuple[int, int]]]:
    """Page keys that are not allowed and annotations other than internal links; and
    the internal links (which may be Annot objects)."""
    problems: list[tuple[int | None, str]] = []
    page_of = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
    link_ok: set[tuple[int, int]] = set()
    for i, page in enumerate(pdf.pages):
        for k in page.obj.keys():
            if k not in _PAGE_KEYS:
                problems.append((i, f"the page has {k[1:]}"))
        annots = page.obj.get(Name.Annots)
        if not isinstance(annots, pikepdf.Array):
            continue
        for a in annots:
            ok = isinstance(a, pikepdf.Dictionary) and a.get(Name.Subtype) == Name.Link \
                and Name.A not in a and Name.AA not in a
            dest = a.get(Name.Dest) if ok else None
            ok = ok and isinstance(dest, pikepdf.Array) and len(dest) >= 1 \
                and isinstance(dest[0], pikepdf.Dictionary) and dest[0].objgen in page_of
            if ok:
                link_ok.add(a.objgen)
            else:
                problems.append((i, "the page has an annotation other than an internal link"))
    return problems, link_ok


def _image_problem(obj: pikepdf.Stream) -> str | None:
    """What is wrong with an image: a malformed filter, or JPEG metadata."""
    filters = _pdf.filters(obj)
    if filters is None:
        return "an image has a malformed /Filter"
    if filters and filters[-1] in ("/DCTDecode", "/DCT"):
        try:
            raw = obj.read_raw_bytes() if len(filters) == 1 else b""
        except Exception:
            raw = b""
        segments, ok = _jpeg_metadata(raw)
        if raw and (segments or not ok):
            return "a JPEG image carries metadata (EXIF, XMP or comments)"
    return None


def _object_problems(pdf: pikepdf.Pdf, link_ok: set[tuple[int, int]]) -> list[tuple[int | None, str]]:
    """Objects of forbidden types, forbidden keys, actions, images with metadata."""
    problems: list[tuple[int | None, str]] = []
    owner, _contents = _page_owner(pdf)
    for obj in pdf.objects:
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            continue
        og = obj.objgen
        page = owner.get(og)
        typ = obj.get(Name.Type)
        if isinstance(typ, pikepdf.Name) and str(typ) in _FORBIDDEN_TYPES and og not in link_ok:
            problems.append((page, f"it holds a {str(typ)[1:]} object"))
        for k in obj.keys():
            if k in _FORBIDDEN_KEYS:
                problems.append((page, f"an object has {k[1:]}"))
        if isinstance(obj.get(Name.A), pikepdf.Dictionary):
            problems.append((page, "an object has an action"))
        if isinstance(obj, pikepdf.Stream) and obj.get(Name.Subtype) == Name.Image:
            problem = _image_problem(obj)
            if problem:
                problems.append((page, problem))
    return problems


def structure_problems(pdf: pikepdf.Pdf, data: bytes) -> list[tuple[int | None, str]]:
    """What is not allowed to leave: (0-based page or None, problem)."""
    page_problems, link_ok = _page_problems(pdf)
    return _document_problems(pdf, data) + page_problems + _object_problems(pdf, link_ok)


# ----------------------------------------------------------------------------- verify


def check_pdf(data: bytes, needles: list[Needle], password: str | None = None,
              structure: bool = True, pixels: bool = False,
              own_pages: set[int] | None = None) -> tuple[list[Finding], list[tuple[int | None, str]]]:
    """All findings in one PDF: needles by pdfium, by pdfminer (per page and across page
    breaks) and in every object; with ``pixels``, in what OCR and a barcode reader read
    in its images and pages (:mod:`packets._readback`; ``own_pages``, refuge's own
    generated pages, are not rendered); and structure problems (when ``structure``)."""
    findings: list[Finding] = []
    if needles:
        for how, texts in (("pdfium", page_texts_pdfium(data, password)),
                           ("pdfminer", page_texts_pdfminer(data, password))):
            findings += _text_findings(texts, needles, how)
            findings += _across_pages(texts, needles, how)
    with pikepdf.open(io.BytesIO(data), password=password or "") as pdf:
        findings += scan_objects(pdf, needles)
        problems = structure_problems(pdf, data) if structure else []
    if pixels and needles and not findings:
        from ._readback import read_pixels

        findings += [Finding(n, "page", page, how) for n, page, how in read_pixels(data, needles, password,
                                                                                     own_pages)]
    return findings, problems


def _across_pages(texts: list[str], needles: list[Needle], how: str) -> list[Finding]:
    """Needles split by a page break: the end of each page read with the start of the next."""
    found = []
    for i in range(len(texts) - 1):
        tail, head = texts[i][-300:], texts[i + 1][:300]
        if not tail.strip() or not head.strip():
            continue
        folded = fold_text(tail + "\n" + head)
        for n in needles:
            if n.search(folded):
                found.append(Finding(n, "page", i, how + " across a page break"))
    return found


def _documents_by_page(data: bytes, items: list[str]) -> list[str | None]:
    """For each page of a volume, the id of the document it belongs to (None for the
    cover letter, index and separators), from the volume's bookmarks (one per document,
    in order)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        n = len(pdf.pages)
        page_of = {p.obj.objgen: i for i, p in enumerate(pdf.pages)}
        firsts: list[int] = []
        try:
            with pdf.open_outline() as outline:
                entries = []
                for top in outline.root:
                    entries.extend(top.children if top.children else [top])
                for e in entries:
                    dest = e.destination
                    if isinstance(dest, pikepdf.Array) and len(dest) and isinstance(dest[0], pikepdf.Dictionary):
                        firsts.append(page_of.get(dest[0].objgen, -1))
                    else:
                        firsts.append(-1)
        except Exception:
            firsts = []
    out: list[str | None] = [None] * n
    if len(firsts) != len(items) or any(f < 0 for f in firsts):
        return out
    for k, (doc, first) in enumerate(zip(items, firsts)):
        last = firsts[k + 1] if k + 1 < len(firsts) else n
        for p in range(first, min(last, n)):
            out[p] = doc
    return out


def _describe(label: str, page: int | None, first_page: int, owner: str | None) -> str:
    if page is None:
        return label
    where = f"{label}, packet page {first_page + page}"
    return where + (f" (document {owner})" if owner else " (cover letter, index or separator)")


def verify_volumes(volumes, needles: list[Needle], structure: bool = True, pixels: bool = True) -> None:
    """Check every volume (objects with ``.number``, ``.data``, ``.first_page``,
    ``.items``), its pixels too (``pixels``); raise :class:`VerificationFailed` at the
    first finding."""
    for v in volumes:
        verify_file(v.data, needles, label=f"volume {v.number}", first_page=v.first_page, items=v.items,
                    structure=structure, pixels=pixels)


def verify_file(data: bytes, needles: list[Needle], label: str = "the file", first_page: int = 1,
                items: list[str] | None = None, structure: bool = True, password: str | None = None,
                pixels: bool = False) -> None:
    """Check one PDF (its pixels too with ``pixels``); raise :class:`VerificationFailed`
    naming where, never what."""
    try:
        own = None
        if pixels and items:
            owners = _documents_by_page(data, items)
            # refuge's own pages, when the bookmarks say which pages are documents' (else none)
            own = {i for i, d in enumerate(owners) if d is None} if any(owners) else None
        findings, problems = check_pdf(data, needles, password, structure, pixels, own)
    except VerificationFailed:
        raise
    except Exception as e:
        raise VerificationFailed(f"the leak check could not read {label} ({type(e).__name__}); "
                                 "nothing was written") from None
    if not findings and not problems:
        return
    owners = _documents_by_page(data, items or []) if items else []

    def owner(page: int | None) -> str | None:
        return owners[page] if page is not None and page < len(owners) else None

    if findings:
        f = findings[0]
        where = _describe(label, f.page, first_page, owner(f.page)) if f.where == "page" else f"{label}, {f.where}"
        more = f" (and {len(findings) - 1} more findings)" if len(findings) > 1 else ""
        rule = f.needle.rule
        raise VerificationFailed(
            f"redacted text ({f.needle.category}, rule {rule}) remains in {where}, found by {f.how}{more};"
            " nothing was written; check the redaction rules and the review report")
    page, problem = problems[0]
    raise VerificationFailed(f"the packet is not sanitized: {problem} in {_describe(label, page, first_page, owner(page))}"
                             "; nothing was written")
