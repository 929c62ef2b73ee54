"""What QR codes and barcodes in a PDF's images say, for the leak check (zxing-cpp).

A passport's code or a contact card's QR code carries names and numbers that no
text extractor sees; the final check reads them like any other text.
"""

from __future__ import annotations

import pikepdf
from pikepdf import Name

__all__ = ["texts"]

# Barcodes are read from images whose sides are within these bounds: below, no code fits;
# above (a 600 dpi A3 scan is 70 Mpx), decoding costs seconds and such images are refused
# at intake's own pixel limit anyway.
_BARCODE_MIN_SIDE, _BARCODE_MAX_PIXELS = 21, 40_000_000


def texts(stream: pikepdf.Stream) -> list[str]:
    """What the QR codes and barcodes drawn in an image say (zxing-cpp): a passport's or a
    contact card's code carries names and numbers that no text extractor sees."""
    import zxingcpp

    try:
        width, height = int(stream.get(Name.Width, 0)), int(stream.get(Name.Height, 0))
        if min(width, height) < _BARCODE_MIN_SIDE or width * height > _BARCODE_MAX_PIXELS:
            return []
        image = pikepdf.PdfImage(stream).as_pil_image()
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        return [r.text for r in zxingcpp.read_barcodes(image) if r.text]
    except Exception:  # an image pikepdf or zxing cannot decode has no code to read
        return []


def codes_in(image) -> list[dict]:
    """The QR codes and barcodes in a rendered page (a PIL image): each one's text and its
    box in the image's pixels (origin top-left), so that redaction can burn a code that
    carries a secret."""
    import zxingcpp

    out = []
    try:
        results = zxingcpp.read_barcodes(image)
    except Exception:  # nothing readable
        return out
    for r in results:
        if not r.text:
            continue
        p = r.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        pad = max(8, (max(xs) - min(xs)) // 10)  # the quiet zone and the finder patterns' edges
        out.append({"text": r.text, "box": [min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad]})
    return out
