"""Fast readers for the adversarial corpus's checker (tests/adversarial_corpus.py), each
reading exactly what the plain one reads (tests/test_adversarial_corpus.py proves it).

- :class:`RawSkeleton`: the skeleton of bytes decoded as latin-1 or UTF-16, without
  decoding the characters the skeleton drops (a packet's uncompressed bytes are tens of
  millions of them, nearly all dropped).
- :func:`exiftool_each`: exiftool's output for each of several files, from one run.
"""

from __future__ import annotations

import os
import re
import subprocess


class RawSkeleton:
    """``skeleton(raw.decode(encoding, "replace"))`` where the skeleton is ``drop.sub("", text).translate(table)``."""

    def __init__(self, drop: re.Pattern, table: dict) -> None:
        import numpy as np

        every = "".join(map(chr, range(0x110000)))
        self.kept = np.zeros(0x110000, dtype=bool)  # read from the regex itself: it cannot drift
        self.kept[np.frombuffer(drop.sub("", every).encode("utf-32-le"), dtype="<u4")] = True
        assert not self.kept[0xFFFD], "the skeleton keeps the replacement character"
        self.table = table
        self.latin1_drop = bytes(b for b in range(256) if not self.kept[b])

    def __call__(self, raw: bytes, encoding: str) -> str:
        """For latin-1, utf-16-be or utf-16-le. Only the code units of kept characters are
        decoded: a surrogate pair is one character when a high unit is followed by a low one,
        as the decoder pairs them; a lone surrogate or an odd last byte decodes to U+FFFD,
        which the skeleton drops."""
        import numpy as np

        if encoding == "latin-1":
            return raw.translate(None, self.latin1_drop).decode("latin-1").translate(self.table)
        dtype = {"utf-16-be": ">u2", "utf-16-le": "<u2"}[encoding]
        units = np.frombuffer(raw, dtype=dtype, count=len(raw) // 2).astype(np.uint32)
        keep = self.kept[units] & ~((units >= 0xD800) & (units < 0xE000))
        pairs = np.flatnonzero((units[:-1] >= 0xD800) & (units[:-1] < 0xDC00)
                               & (units[1:] >= 0xDC00) & (units[1:] < 0xE000))
        if len(pairs):
            code = 0x10000 + ((units[pairs] - 0xD800) << 10) + (units[pairs + 1] - 0xDC00)
            kept = pairs[self.kept[code]]
            keep[kept] = keep[kept + 1] = True
        return units[keep].astype(dtype).tobytes().decode(encoding).translate(self.table)


def exiftool_each(exiftool: str, paths: list[str]) -> list[str]:
    """What ``exiftool -a -u -ee PATH`` prints for each of ``paths`` (decoded as UTF-8 with
    replacement), from one exiftool run: it heads each file's tags with a line
    ``======== PATH`` and ends with a count of the files read, which a run on one file
    prints neither of."""
    def run(args):
        return subprocess.run([exiftool, "-a", "-u", "-ee", *args], capture_output=True, timeout=300).stdout

    if len(paths) == 1:
        return [run(paths).decode("utf-8", "replace")]
    out = b"\n" + run(paths)
    heads = [b"\n======== " + os.fsencode(p) + b"\n" for p in paths]
    starts, at = [], 0
    for head in heads:
        found = out.find(head, at)
        starts.append(found)
        if found >= 0:
            at = found + len(head)
    texts = []
    for k, (head, start) in enumerate(zip(heads, starts)):
        if start < 0:  # exiftool printed nothing for it
            texts.append("")
            continue
        end = next((s for s in starts[k + 1:] if s >= 0), len(out))
        text = out[start + len(head):end] + b"\n"
        if end == len(out):  # the last file: less the count of files read
            text = re.sub(rb"(\n {4}\d+ [^\n:]*)+\n*$", b"\n", text.rstrip(b"\n") + b"\n")
        texts.append(text.decode("utf-8", "replace"))
    return texts
