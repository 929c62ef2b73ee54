"""What a page's pixels show to a recipient's contrast tool but not to its grey reading.

Recognition reads a page in grey, binarised at one threshold for the whole page. Two kinds
of ink pass under that reading and still reach anyone who stretches the contrast or looks
at one colour channel of the image (an image editor's levels or channel view):

* faint ink: a name printed in very light grey on white paper (a watermark, ``#F6F6F6``),
  lighter than the threshold that separates ink from paper; or in ``#0A0A0A`` on black
  (the same, the page inverted);
* ink of the same brightness as its background in another hue (red on a green of equal
  luminance), which the grey conversion makes one flat tone.

:func:`hidden_views` finds such ink cheaply (the grey page at half size and each colour
channel, compared with the grey reading) and returns, only for pages that hold some, extra
grey views of the page in which it is dark on light: the faint ink pushed to black, or the
one colour channel that shows it. Recognition reads those views too and the words found
there are matched like the page's own, so a hidden secret is burned, or (read back from the
output) stops the build. A page without such ink costs two small filters and no recognition.
"""

from __future__ import annotations

__all__ = ["hidden_views", "page_views"]

#: Grey below this is ink to a reading that binarises the page (Tesseract's Otsu threshold on
#: a page of black text on white lies near the middle).
INK = 160
#: Darker than the paper around it by at least this much (on the page at half size, which
#: averages out JPEG noise; plus twice the paper's own grain) is faint ink: #F8F8F8 on white is 7.
FAINT_STEP = 5
#: The paper's tone at a pixel: the lightest within this many pixels on each side (half-size page).
PAPER_RADIUS = 8
#: A view is read when this share of the page (and at least MIN_PIXELS pixels) shows what the
#: grey reading does not: a few letters of 2 mm at 150 dpi.
SHARE, MIN_PIXELS = 2e-4, 120
#: Half-size pixels a part of faint ink spans at least each way (8 at 150 dpi: letters of 3 mm,
#: their parts joined).
LETTER = 8
#: A page is ink on paper when less than this share of it is darker than its own threshold; only
#: there is the threshold (lower than INK) taken for the reading's, and the page's paper as a whole
#: looked against (a photograph's or a noisy scan's threshold says nothing of a reading's ink).
INK_SHARE = 0.25
#: A colour channel's edge stronger than this where the grey page has none shows ink.
EDGE = 48


def _enough(mask, scale: int = 1) -> bool:
    """Whether ``mask`` (each pixel standing for ``scale`` of the page's) covers enough."""
    n = int(mask.sum()) * scale
    return n >= max(MIN_PIXELS, mask.size * scale * SHARE)


def _grow(mask, radius: int):
    """``mask`` (bool array) grown by ``radius`` pixels in each direction."""
    import numpy as np

    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return np.asarray(out)


def _lighter_around(a, radius: int):
    """For each pixel of ``a``, the tone it is darker than on both sides: along each axis the
    smaller of the lightest within ``radius`` before it and the lightest within ``radius`` after
    it, the larger over the two axes. A stroke of ink has paper on both sides; the paper along
    a step in tone (a scan's white border, a table's edge in a photo) has it on one side only."""
    import numpy as np

    out = np.full(a.shape, -1, dtype=a.dtype)
    for axis in (0, 1):
        n = a.shape[axis]
        before = np.full(a.shape, -1, dtype=a.dtype)
        after = np.full(a.shape, -1, dtype=a.dtype)
        for k in range(1, min(radius, n - 1) + 1):
            lo = [slice(None)] * 2
            hi = [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, n - k), slice(k, n)
            np.maximum(before[tuple(hi)], a[tuple(lo)], out=before[tuple(hi)])
            np.maximum(after[tuple(lo)], a[tuple(hi)], out=after[tuple(lo)])
        np.maximum(out, np.minimum(before, after), out=out)
    return out


def _shaped(mask):
    """The parts of ``mask`` (bool array, the half-size page) shaped like letters: connected
    (after joining what lies a pixel apart) into parts at least LETTER pixels high and wide.
    Specks of dust a resampling turned grey, a JPEG block's ringing and a thin line along a
    scan's edge are not."""
    import cv2
    import numpy as np

    joined = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels, stats, _c = cv2.connectedComponentsWithStats(joined, connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[1:] = (stats[1:, cv2.CC_STAT_WIDTH] >= LETTER) & (stats[1:, cv2.CC_STAT_HEIGHT] >= LETTER)
    return mask & keep[labels]


def _faint_views(grey) -> list:
    """The grey page with faint ink pushed to black (two views: against the paper around each
    pixel, and against the page's paper as a whole), or none when it holds none. Faint ink is
    darker by FAINT_STEP than the paper on both sides of it (within PAPER_RADIUS: blotchy paper,
    a photo's shading and the edge of a scan are not ink), and lighter than INK, away from ink."""
    import numpy as np
    from PIL import Image, ImageFilter

    import cv2

    step = 2 if min(grey.size) >= 64 else 1
    half = grey.reduce(step) if step > 1 else grey  # averages out the paper's grain
    # ink to the reading: darker than the page's own threshold (Otsu's, as Tesseract binarises), at most INK:
    # mid-grey text (150 on a page of black text, whose threshold is near 130) reads as paper
    pixels = np.asarray(grey)
    otsu, _ = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper_page = (pixels[::7, ::7] < otsu).mean() < INK_SHARE  # ink on paper (not a photograph, not noise)
    level = min(INK, int(otsu)) if paper_page else INK
    ink = grey.point(lambda v: 255 if v < level else 0).reduce(step)  # a thin stroke is ink, not faint, at half size
    ink_half = np.asarray(ink) > 0
    far = ~_grow(ink_half, 2)
    if not _enough(far, step * step):  # no paper away from ink (the usual page inverted): nothing to find
        return []
    found = None
    # first as it is (cheap: a clean page stops here), then, to be sure of a grainy scan's
    # find, after a 3 x 3 median (JPEG noise and grain out, strokes of two pixels kept)
    for first in (True, False):
        smooth = np.asarray(half if first else half.filter(ImageFilter.MedianFilter(3)), dtype=np.int16)
        paper = _lighter_around(smooth, PAPER_RADIUS)
        below = paper - smooth
        # the paper's own grain (0 on a clean page): unsmoothed, its tail (90th percentile);
        # after the median, twice its middle
        median, tail = (int(v) for v in np.percentile(below[far][::7], (50, 90)))
        noise = max(2 * median, tail) if first else 2 * median
        hidden = _shaped((below >= FAINT_STEP + noise) & far)
        if not _enough(hidden, step * step):
            return []
        found = paper, noise
    paper, noise = found
    # the view at full size (crisp letters): each pixel against the paper's tone around it
    tone = np.asarray(Image.fromarray(paper.astype(np.uint8), "L").resize(grey.size, Image.BILINEAR), dtype=np.int16)
    full = np.asarray(grey, dtype=np.int16)
    dark = (tone - full >= FAINT_STEP + noise) | (full < INK)
    # and against the page's paper as a whole, as a levels tool stretches it: letters of the paper's
    # own white knocked out of a faint block, which the paper around each pixel (a letter) hides
    views = [dark]
    if paper_page:
        white = int(np.percentile(np.asarray(half, dtype=np.int16)[far][::7], 99))
        views.append((full <= white - (FAINT_STEP + noise)) | (full < INK))
    return [Image.fromarray(np.where(d, 0, 255).astype(np.uint8), "L") for d in views]


def _edges(channel):
    import numpy as np

    dx = np.abs(np.diff(channel, axis=1, prepend=channel[:, :1]))
    dy = np.abs(np.diff(channel, axis=0, prepend=channel[:1, :]))
    return np.maximum(dx, dy)


def _channel_views(rgb, grey) -> list:
    """Each colour channel (stretched to full contrast) whose edges the grey page lacks."""
    import numpy as np
    from PIL import ImageOps

    step = 2 if min(grey.size) >= 64 else 1  # edges of letters of 3 mm show at half size
    g = np.asarray(grey.reduce(step) if step > 1 else grey, dtype=np.int16)
    seen = _grow(_edges(g) >= EDGE // 3, 1)
    out = []
    for band in rgb.split():
        c = np.asarray(band.reduce(step) if step > 1 else band, dtype=np.int16)
        if _enough((_edges(c) >= EDGE) & ~seen, step * step):
            out.append(ImageOps.autocontrast(band))
    return out


def hidden_views(image) -> list:
    """Grey views of ``image`` (a PIL image as the recipient decodes it) that show ink its
    grey reading does not: faint ink made black, a colour channel that holds ink of the
    background's brightness. Empty for a page with none (the usual page)."""
    from PIL import ImageOps

    grey = image.convert("L") if image.mode != "L" else image
    views = []
    for tone in (grey, ImageOps.invert(grey)):  # faint ink on paper; and nearly black ink on black
        views += _faint_views(tone)
    if image.mode in ("RGB", "RGBA", "P", "CMYK"):
        views += _channel_views(image.convert("RGB"), grey)
    return views


def page_views(page, grey) -> list:
    """Views of ``page`` (pdfium) that show ink its grey rendering ``grey`` hides (faint ink;
    on a page with colour, ink of its background's brightness in another hue, which needs
    the page in colour: rendered again only when a small preview shows colour)."""
    from ._flatten import _is_gray

    thumb = page.render(scale=1 / 3, draw_annots=False, may_draw_forms=False, rev_byteorder=True).to_pil()
    if _is_gray(thumb.convert("RGB")):
        return hidden_views(grey)
    colour = page.render(scale=grey.size[0] / page.get_width(), draw_annots=False, may_draw_forms=False,
                         rev_byteorder=True).to_pil().convert("RGB")
    if colour.size != grey.size:
        colour = colour.resize(grey.size)
    return hidden_views(colour)
