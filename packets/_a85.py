"""ASCII85, byte for byte as reportlab writes it, in numpy.

Without its optional C accelerator, reportlab encodes every image and compressed page
stream in ASCII85 in pure Python: about 0.25 s a megabyte, a second or more for a review
report's page previews. :func:`install` makes reportlab use :func:`encode`, which gives the
same text (tests/test_a85.py compares them), so every PDF refuge draws is unchanged.
"""

from __future__ import annotations

_ORIGINAL = []  # reportlab's own encoder, kept for text input and the last partial group


def encode(data) -> str:
    """reportlab's ``asciiBase85Encode(data)``: each 4 bytes as 5 characters from ``!``
    (``z`` for four zero bytes), the last partial group cut short, then ``~>``."""
    original = _ORIGINAL[0]
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return original(data)
    import numpy as np

    data = bytes(data)
    n = len(data) // 4
    words = np.frombuffer(data, dtype=">u4", count=n).astype(np.uint32)
    zero = words == 0
    digits = np.empty((n, 5), dtype=np.uint8)
    for k in range(4, -1, -1):
        digits[:, k] = words % 85 + 33
        words //= 85
    digits[zero, 0] = ord("z")
    keep = np.ones((n, 5), dtype=bool)
    keep[zero, 1:] = False
    return digits[keep].tobytes().decode("ascii") + original(data[4 * n:])


def install() -> None:
    """Make reportlab's PDF writer encode with :func:`encode` (once a process)."""
    if _ORIGINAL:
        return
    from reportlab.pdfbase import pdfdoc

    _ORIGINAL.append(pdfdoc.asciiBase85Encode)
    pdfdoc.asciiBase85Encode = encode
