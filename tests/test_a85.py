"""packets/_a85.py writes exactly what reportlab's own ASCII85 encoder writes, so installing it
changes no byte of any PDF refuge draws: random and crafted inputs, and a whole drawn PDF."""

from __future__ import annotations

import io
import random

from reportlab.lib.rl_accel import asciiBase85Encode as reportlab_encode

from packets import _a85


def test_the_fast_encoder_writes_what_reportlab_writes():
    _a85.install()
    rng = random.Random(85)
    samples = [b"", b"\0", b"\0" * 4, b"\0" * 5, b"\xff" * 4, b"\xff" * 7, bytes(range(256)), "text, as str"]
    samples += [bytes(rng.choice((0, 0, 255, rng.randrange(256))) for _ in range(n)) for n in range(64) for _ in range(20)]
    samples += [rng.randbytes(rng.randrange(10_000)) for _ in range(50)]
    for data in samples:
        assert _a85.encode(data) == reportlab_encode(data), data[:20]
    assert _a85.encode(b"\0\0\0\0\x01") == "z!<~>"  # the encoder can fail: z for zeros, a cut last group


def test_a_drawn_pdf_is_byte_identical_with_the_fast_encoder():
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfdoc
    from reportlab.pdfgen.canvas import Canvas

    rng = random.Random(7)
    im = Image.frombytes("RGB", (120, 90), rng.randbytes(120 * 90 * 3))

    def draw() -> bytes:
        buf = io.BytesIO()
        c = Canvas(buf, invariant=1, pageCompression=1)
        c.drawString(72, 720, "A page with a picture")
        c.drawImage(ImageReader(im), 72, 400, 240, 180)
        c.showPage()
        c.save()
        return buf.getvalue()

    _a85.install()
    fast = draw()
    pdfdoc.asciiBase85Encode = _a85._ORIGINAL[0]
    try:
        slow = draw()
    finally:
        pdfdoc.asciiBase85Encode = _a85.encode
    assert fast == slow and b"/ASCII85Decode" in fast
