"""What a page's pixels show to a recipient's contrast tool but not to its grey reading.

Recognition reads a page in grey, binarised at one threshold for the whole page. Two kinds
of ink pass under that reading and still reach anyone who stretches the contrast or looks
at one colour channel of the image (an image editor's levels or channel view):

* faint ink: a name printed in very light grey on white paper (a watermark, ``#F6F6F6``),
  lighter than the threshold that separates ink from paper;
* ink of the same brightness as its background in another hue (red on a green of equal
  luminance), which the grey conversion makes one flat tone.

:func:`hidden_views` finds such ink cheaply (a median-smoothed grey page and each colour
channel, compared with the grey reading) and returns, only for pages that hold some, extra
grey views of the page in which it is dark on light: the faint ink pushed to black, or the
one colour channel that shows it. Recognition reads those views too and the words found
there are matched like the page's own, so a hidden secret is burned, or (read back from the
output) stops the build. A page without such ink costs two small filters and no recognition.
"""

from __future__ import annotations

__all__ = ["hidden_views"]

#: Grey below this is ink to a reading that binarises the page (Tesseract's Otsu threshold on
#: a page of black text on white lies near the middle).
INK = 160
#: Darker than the paper around it by at least this much (after a 3 x 3 median, which takes
#: out JPEG noise; plus twice the paper's own grain) is faint ink: #F8F8F8 on white is 7.
FAINT_STEP = 5
#: The paper's tone at a pixel: the lightest within this many pixels (of the half-size page).
PAPER_RADIUS = 8
#: A view is read when this share of the page (and at least MIN_PIXELS pixels) shows what the
#: grey reading does not: a few letters of 2 mm at 150 dpi.
SHARE, MIN_PIXELS = 2e-4, 120
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


def _local_max(a, radius: int):
    """The largest value of ``a`` within ``radius`` pixels (a square window)."""
    import numpy as np

    out = a.copy()
    for axis in (0, 1):
        src = out.copy()
        n = src.shape[axis]
        for k in range(1, radius + 1):
            if k >= n:
                break
            lo = [slice(None)] * 2
            hi = [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, n - k), slice(k, n)
            np.maximum(out[tuple(lo)], src[tuple(hi)], out=out[tuple(lo)])
            np.maximum(out[tuple(hi)], src[tuple(lo)], out=out[tuple(hi)])
    return out


def _faint_view(grey):
    """The grey page with faint ink pushed to black, or None when it holds none. Faint ink is
    darker than the paper around it (the lightest tone within PAPER_RADIUS, so blotchy paper
    and a photo's shading are not ink) by FAINT_STEP, and lighter than INK, away from ink."""
    import numpy as np
    from PIL import Image, ImageFilter

    step = 2 if min(grey.size) >= 64 else 1
    half = grey.reduce(step) if step > 1 else grey  # averages out the paper's grain
    ink = grey.point(lambda v: 255 if v < INK else 0).reduce(step)  # a thin stroke is ink, not faint, at half size
    ink_half = np.asarray(ink) > 0
    smooth = np.asarray(half.filter(ImageFilter.MedianFilter(3)), dtype=np.int16)
    paper = _local_max(smooth, PAPER_RADIUS)
    below = paper - smooth
    far = ~_grow(ink_half, 2)
    noise = int(np.median(below[far])) if far.any() else 0  # a scan's grain: 0 on a clean page
    faint = (below >= FAINT_STEP + 2 * noise) & ~ink_half
    hidden = faint & far
    if not _enough(hidden, step * step):
        return None
    # the view at full size (crisp letters): each pixel against the paper's tone around it
    tone = np.asarray(Image.fromarray(paper.astype(np.uint8), "L").resize(grey.size, Image.BILINEAR), dtype=np.int16)
    full = np.asarray(grey, dtype=np.int16)
    dark = (tone - full >= FAINT_STEP + 2 * noise) | (full < INK)
    return Image.fromarray(np.where(dark, 0, 255).astype(np.uint8), "L")


def _edges(channel):
    import numpy as np

    dx = np.abs(np.diff(channel, axis=1, prepend=channel[:, :1]))
    dy = np.abs(np.diff(channel, axis=0, prepend=channel[:1, :]))
    return np.maximum(dx, dy)


def _channel_views(rgb, grey) -> list:
    """Each colour channel (stretched to full contrast) whose edges the grey page lacks."""
    import numpy as np
    from PIL import Image, ImageOps

    g = np.asarray(grey, dtype=np.int16)
    seen = _grow(_edges(g) >= EDGE // 3, 2)
    out = []
    for band in rgb.split():
        c = np.asarray(band, dtype=np.int16)
        if _enough((_edges(c) >= EDGE) & ~seen):
            out.append(ImageOps.autocontrast(band))
    return out


def hidden_views(image) -> list:
    """Grey views of ``image`` (a PIL image as the recipient decodes it) that show ink its
    grey reading does not: faint ink made black, a colour channel that holds ink of the
    background's brightness. Empty for a page with none (the usual page)."""
    grey = image.convert("L") if image.mode != "L" else image
    views = []
    faint = _faint_view(grey)
    if faint is not None:
        views.append(faint)
    if image.mode in ("RGB", "RGBA", "P", "CMYK"):
        views += _channel_views(image.convert("RGB"), grey)
    return views
