"""PDFs built to hurt whoever renders them, made by code (never committed as files)."""

from __future__ import annotations


def _assemble(objs: dict[int, bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    xref = len(out)
    count = max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for n in range(1, count):
        out += b"%010d 00000 n \n" % offsets[n]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    return bytes(out)


def _stream(dictionary: bytes, body: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"


def xobject_bomb(depth: int = 9, fanout: int = 10) -> bytes:
    """A page that draws form 1, which draws form 2 ``fanout`` times, and so on ``depth`` deep.

    About 4 KB; a renderer is asked for fanout**depth fills (10**9 here): pdfium's memory grows
    tenfold a level until the process aborts.
    """
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X 5 0 R >> >> "
               b"/Contents 4 0 R >>",
            4: _stream(b"", b"q /X Do Q")}
    for level in range(depth):
        n = 5 + level
        if level < depth - 1:
            body = b" ".join(b"q 1 0 0 1 0.1 0.1 cm /X Do Q" for _ in range(fanout))
            resources = b"<< /XObject << /X %d 0 R >> >>" % (n + 1)
        else:
            body, resources = b"0 0 600 780 re f", b"<< >>"
        objs[n] = _stream(b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources " + resources, body)
    return _assemble(objs)


def self_drawing_form() -> bytes:
    """A form that draws itself: a renderer that follows it never ends."""
    return _assemble({1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X 5 0 R >> >> "
                         b"/Contents 4 0 R >>",
                      4: _stream(b"", b"/X Do"),
                      5: _stream(b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X 5 0 R >> >>",
                                 b"/X Do")})


def cut_in_half(pdf: bytes) -> bytes:
    """The first half of a PDF: an interrupted download (qpdf: unable to find trailer dictionary)."""
    return pdf[: len(pdf) // 2]
