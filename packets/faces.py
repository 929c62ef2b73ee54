"""Faces in photos, found with OpenCV's Haar cascades and made unrecognisable.

A photo sent to an NGO as evidence (injuries, a place, a meeting) can identify the
people in it; profiles with ``blur_faces = true`` have every face in every image
document found (frontal and profile cascades, OpenCV's bundled data: nothing is
downloaded) and pixelated beyond recovery: each face box, grown by a margin, is
replaced by a coarse mosaic of its mean colours, then blurred. The photo is re-encoded
as PNG with no metadata. This runs in the keyless worker (it decodes document bytes).

Faces are looked for twice: in image documents at their own resolution (:func:`blur_items`,
before rendering), and on every page rebuilt from pixels (:func:`blur_page`, called by
packets/_flatten.py on each rendered page before it is encoded, in the regions where the
page draws images), so a photo inside a PDF (a passport scan page, a photo pasted into a
declaration) is blurred too. A profile with
``blur_faces`` has every page rebuilt, whatever its ``flatten`` setting. What a Haar cascade
misses (faces turned more than about 45 degrees, tilted, covered, or smaller than a fortieth
of the photo's shorter side and never under 20 pixels) and faces drawn as vector graphics
stay: the Limits section of docs/architecture.md.
OpenCV 5 no longer ships the cascades (``cv2.data`` is empty and ``CascadeClassifier`` is
gone); :func:`detector_available` says whether this install can find faces, and the build
shows a gap (``faces``) when it cannot.
"""

from __future__ import annotations

import os
from dataclasses import replace

__all__ = ["IMAGE_MIMES", "blur_faces", "blur_items", "blur_page", "cascade_paths", "detector_available",
           "face_count", "find_faces", "pixelate"]

IMAGE_MIMES = ("image/jpeg", "image/png", "image/tiff", "image/webp", "image/gif", "image/bmp")
_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml", "haarcascade_frontalface_alt2.xml")
_DEBIAN = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
MARGIN = 0.25  # each face box grows by this share of its size on every side (hair, ears, chin)
MOSAIC = 6  # the face becomes at most 6 x 6 blocks of colour


def cascade_paths() -> list[str]:
    """The Haar cascade files this install has (OpenCV's bundled data, else Debian's opencv-data)."""
    dirs = []
    try:
        import cv2

        dirs.append(getattr(getattr(cv2, "data", None), "haarcascades", "") or "")
    except ImportError:
        return []
    dirs += list(_DEBIAN)
    for d in dirs:
        found = [os.path.join(d, name) for name in _CASCADES if d and os.path.isfile(os.path.join(d, name))]
        if found:
            return found
    return []


def detector_available() -> bool:
    """Whether faces can be found here: OpenCV with ``CascadeClassifier`` and its cascade files."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "CascadeClassifier") and bool(cascade_paths())


def pixelate(image, boxes) -> None:
    """Make each (x, y, w, h) box of ``image`` (a numpy array, changed in place) unrecognisable."""
    import cv2

    height, width = image.shape[:2]
    for x, y, w, h in boxes:
        mx, my = int(w * MARGIN), int(h * MARGIN)
        x0, y0 = max(0, x - mx), max(0, y - my)
        x1, y1 = min(width, x + w + mx), min(height, y + h + my)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = image[y0:y1, x0:x1]
        small = cv2.resize(region, (min(MOSAIC, x1 - x0), min(MOSAIC, y1 - y0)), interpolation=cv2.INTER_AREA)
        mosaic = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        k = max(3, ((min(x1 - x0, y1 - y0) // 4) | 1))
        image[y0:y1, x0:x1] = cv2.GaussianBlur(mosaic, (k, k), 0)


def find_faces(image) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h) in ``image`` (BGR numpy array, or grey levels), every cascade's,
    mirrored profiles too."""
    import cv2

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return _find_in_gray(gray)


def _find_in_gray(gray) -> list[tuple[int, int, int, int]]:
    # No global histogram equalisation: on a page that is mostly white paper it crushes a
    # photo's tones into a few dark levels and the cascades find nothing there; each
    # cascade window is normalised by its own contrast anyway.
    import cv2

    smallest = max(20, min(gray.shape[:2]) // 40)  # smaller faces: 50% more time a page (the Limits)
    boxes: list[tuple[int, int, int, int]] = []
    for path in cascade_paths():
        cascade = cv2.CascadeClassifier(path)
        # The profile cascade knows faces turned one way only, so it also reads the mirror
        # image; frontal cascades are symmetric enough not to need it (it would double the time).
        views = ((gray, False), (cv2.flip(gray, 1), True)) if "profile" in os.path.basename(path) else ((gray, False),)
        for g, mirrored in views:
            for x, y, w, h in cascade.detectMultiScale(g, scaleFactor=1.1, minNeighbors=4,
                                                        minSize=(smallest, smallest)):
                boxes.append((int(gray.shape[1] - x - w) if mirrored else int(x), int(y), int(w), int(h)))
    return boxes


def blur_page(im, regions=None):
    """``im`` (a rendered page as a PIL image, grey levels or RGB) with every face found in
    ``regions`` ((x, y, w, h) boxes of its pixels, where it shows photos; None: all of it)
    pixelated, as a new image of the same mode, and how many faces were found (none where
    this install has no detector: the build's ``faces`` gap says so)."""
    if not detector_available():
        return im, 0
    import cv2
    import numpy as np
    from PIL import Image

    pixels = np.array(im)  # a copy
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    boxes = []
    for x, y, w, h in regions if regions is not None else [(0, 0, gray.shape[1], gray.shape[0])]:
        boxes += [(x + fx, y + fy, fw, fh) for fx, fy, fw, fh in _find_in_gray(gray[y:y + h, x:x + w])]
    if not boxes:
        return im, 0
    pixelate(pixels, boxes)
    return Image.fromarray(pixels, im.mode), face_count(boxes)


def face_count(boxes) -> int:
    """How many faces ``boxes`` are: overlapping boxes (one face found by several cascades) count once."""
    groups: list[list[int]] = []
    for x, y, w, h in boxes:
        box = [x, y, x + w, y + h]
        for g in [g for g in groups if g[0] < box[2] and box[0] < g[2] and g[1] < box[3] and box[1] < g[3]]:
            groups.remove(g)
            box = [min(box[0], g[0]), min(box[1], g[1]), max(box[2], g[2]), max(box[3], g[3])]
        groups.append(box)
    return len(groups)


def blur_faces(data: bytes) -> tuple[bytes, int] | None:
    """``data`` (an image file) with every face found pixelated, as PNG, and how many faces;
    None when the image cannot be decoded (rendering then reports it)."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)  # EXIF orientation applied
    if image is None:
        return None
    boxes = find_faces(image)
    pixelate(image, boxes)
    ok, png = cv2.imencode(".png", image)
    return (png.tobytes(), face_count(boxes)) if ok else None


def blur_items(items: list, profile) -> tuple[list, int]:
    """The items with faces blurred in image documents when ``profile.blur_faces``; and how many faces."""
    if not getattr(profile, "blur_faces", False) or not detector_available():
        return items, 0
    out, total = [], 0
    for item in items:
        if (item.mime or "").split(";")[0].strip().lower() in IMAGE_MIMES:
            done = blur_faces(item.data)
            if done is not None:
                item = replace(item, data=done[0], mime="image/png")
                total += done[1]
        out.append(item)
    return out, total
