"""Recognition of pages (Tesseract), so redaction rules and the leak check read pixels.

Tesseract runs in this process (a keyless worker) through its library
(:mod:`packets._tesslib`): one engine per thread, its models loaded once, giving the
words the command gives. Where the library cannot load: calls to the ``tesseract``
command, as many at once as there are cores (each
limited to one thread), each reading its share of the pages in one run (loading the
eng+spa+fra models costs about 0.2 s of CPU a process): the pixels go in on standard
input (one page as a PGM image, several as an uncompressed multi-page TIFF made in
memory) and the words come back on standard output (TSV with boxes and confidences,
numbered by page), so nothing decrypted ever touches the disk. Pages of different
resolutions go in different runs (``--dpi`` holds for a whole run). Page segmentation mode 1 lets Tesseract
detect the orientation of each block (pages photographed at 90, 180 or 270 degrees)
and cope with a few degrees of skew; it reports word boxes in the pixels it was
given, so boxes land on the original pixels whatever the rotation. (ocrmypdf would
add a PDF layer made from the original text; redaction needs the words and their boxes
in memory, and a text layer, when one is asked for, made from redacted pixels only.)

:func:`recognize` takes images; :class:`PageText` holds the words (boxes in the
image's pixels, origin top-left), the page's mean confidence and the engine's
version, which, with the language and resolution settings, keys the per-version cache
(:mod:`packets.build` stores results encrypted in the case).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from vault import hardening
from vault.errors import InvalidInput

__all__ = ["LANGS", "OCR_DPI", "LOW_CONFIDENCE", "Word", "PageText", "recognize", "recall", "remember", "engine",
           "OcrError"]

#: Languages recognised (Debian packages tesseract-ocr-eng, -spa, -fra).
LANGS = "eng+spa+fra"
#: Resolution at which PDF pages without text are rendered for recognition.
OCR_DPI = 300
#: A page whose mean word confidence is below this needs a person's review.
LOW_CONFIDENCE = 60.0
#: Seconds one page may take.
PAGE_TIMEOUT = 180
#: Seconds more an engine is given to give a page up by itself (its deadline is checked while
#: it recognises words) before the keyless worker reading it is ended (:func:`_deadline`).
OVERRUN_GRACE = 5
#: Grey pixels (bytes) one Tesseract run is given at most, unless one image alone is larger:
#: each run's TIFF is made in memory while it runs (a 300 dpi A4 page is 8.7 million).
RUN_PIXELS = 48_000_000


class OcrError(InvalidInput):
    """Tesseract is missing or failed on a page."""


_MISSING = ("tesseract lacks the eng, spa or fra language data; install tesseract-ocr-eng tesseract-ocr-spa "
            "tesseract-ocr-fra")


@dataclass
class Word:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, origin top-left
    conf: float
    line: tuple[int, int, int]  # block, paragraph, line: words of one line are joined by spaces


@dataclass
class PageText:
    """What recognition found on one image."""

    width: int
    height: int
    words: list[Word] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """Mean word confidence, 0 to 100 (0 for a page with no words)."""
        confs = [w.conf for w in self.words if w.text.strip()]
        return sum(confs) / len(confs) if confs else 0.0

    def text_and_boxes(self) -> tuple[str, list[tuple[int, int, int, int] | None]]:
        """The page's text (words joined by spaces, lines by newlines) and a pixel box for
        every character (a share of its word's box; None for the separators)."""
        parts: list[str] = []
        boxes: list[tuple[int, int, int, int] | None] = []
        last = None
        for w in self.words:
            t = w.text.strip()
            if not t:
                continue
            if last is not None:
                parts.append("\n" if w.line != last else " ")
                boxes.append(None)
            last = w.line
            x0, y0, x1, y1 = w.box
            n = len(t)
            for k in range(n):
                boxes.append((x0 + (x1 - x0) * k // n, y0, x0 + (x1 - x0) * (k + 1) // n, y1))
            parts.append(t)
        return "".join(parts), boxes

    def to_dict(self) -> dict:
        return {"width": self.width, "height": self.height, "words": [asdict(w) for w in self.words]}

    @classmethod
    def from_dict(cls, d: dict) -> "PageText":
        words = [Word(w["text"], tuple(w["box"]), float(w["conf"]), tuple(w["line"])) for w in d["words"]]
        return cls(int(d["width"]), int(d["height"]), words)


def _binary() -> str:
    path = shutil.which("tesseract")
    if not path:
        raise OcrError("OCR needs tesseract, which is not installed; install the Debian packages "
                       "tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa tesseract-ocr-fra")
    return path


_ENGINE: str | None = None


def engine() -> str:
    """The engine and settings that produced a result (part of the cache key)."""
    global _ENGINE
    if _ENGINE is None and _here():
        from . import _tesslib

        _ENGINE = f"tesseract {_tesslib.version()} {LANGS} psm1"  # as the command's --version names it
    if _ENGINE is None:
        out = subprocess.run([_binary(), "--version"], capture_output=True, text=True, timeout=30,
                             env=hardening.child_environment())
        first = (out.stdout or out.stderr).splitlines()[:1]
        _ENGINE = f"{first[0].strip() if first else 'tesseract'} {LANGS} psm1"
    return _ENGINE


def _pgm(image) -> bytes:
    """An 8-bit grey image as binary PGM: what Tesseract reads fastest from a pipe."""
    g = image.convert("L") if image.mode != "L" else image
    return b"P5\n%d %d\n255\n" % g.size + g.tobytes()


def _tiff(images: list) -> io.BytesIO:
    """8-bit grey images as one uncompressed multi-page TIFF, in memory: several pages for one
    Tesseract process. No resolution is written (as in a PGM): ``--dpi`` gives it."""
    greys = [im.convert("L") if im.mode != "L" else im for im in images]
    buf = io.BytesIO()
    greys[0].save(buf, "TIFF", save_all=True, append_images=greys[1:], compression="raw")
    return buf


def _parse_tsv(tsv: str, pages: int = 1, sizes: list[tuple[int, int]] | None = None) -> list[list[Word]]:
    """The words of each of ``pages`` pages of Tesseract's TSV (column page_num, from 1).
    With ``sizes``, every page must have its page row (level 1) at its image's size: a run
    that skipped or misread a page is an error, never a page read as holding no words."""
    found: list[list[Word]] = [[] for _ in range(pages)]
    seen: dict[int, tuple[int, int]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) >= 10 and cols[0] == "1" and cols[1].isdigit() and cols[8].isdigit() and cols[9].isdigit():
            seen[int(cols[1]) - 1] = (int(cols[8]), int(cols[9]))
        if len(cols) < 12 or cols[0] != "5":
            continue
        try:
            page = int(cols[1]) - 1
            left, top, width, height = (int(v) for v in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            continue
        text = cols[11]
        if not text.strip() or conf < 0 or not 0 <= page < pages:
            continue
        found[page].append(Word(text, (left, top, left + width, top + height), conf,
                                (int(cols[2]), int(cols[3]), int(cols[4]))))
    if sizes is not None and any(seen.get(k) != tuple(size) for k, size in enumerate(sizes)):
        raise OcrError("tesseract did not read every page it was given; review the pages by hand")
    return found


#: Engines at most in one process (about 120-170 MiB of address space each): the keyless
#: worker's memory limit (vault.worker.RENDER_LIMITS) holds 256 MiB for them.
MAX_ENGINES = 2
#: Recognise in this process through libtesseract (:mod:`packets._tesslib`) when it loads;
#: False runs the ``tesseract`` command for every run of pages, as where the library cannot.
IN_PROCESS = True


def _here() -> bool:
    from . import _tesslib

    return IN_PROCESS and _tesslib.available()


def _recognize_here(images: list, dpi: int | None = None) -> list[PageText]:
    """Recognise ``images`` one after another with one engine of this process (its models
    loaded once): the same words, boxes and confidences as the command gives."""
    from . import _tesslib

    try:
        eng = _tesslib.take(LANGS, 1)
    except _tesslib.EngineError:
        raise OcrError(_MISSING) from None
    try:
        out = []
        for im in images:
            g = im.convert("L") if im.mode != "L" else im
            try:
                with _deadline():
                    tsv = eng.tsv(g.tobytes(), g.width, g.height, dpi or OCR_DPI, PAGE_TIMEOUT)
            except _tesslib.Doubtful:  # Leptonica reported a failure (memory, under the worker's limit) while
                # the engine read the page: the command reads it again in a process of its own, with its own memory
                [found] = _recognize_command([g], dpi)
                words = found.words
            except _tesslib.EngineError:
                raise OcrError(f"recognition of a page failed or took longer than {PAGE_TIMEOUT} s; "
                               "review the page by hand") from None
            else:  # the engine's full reading, words or none (a blank page is not read twice)
                [words] = _parse_tsv(tsv, 1, [g.size])
            out.append(PageText(im.size[0], im.size[1], words))
        return out
    finally:
        _tesslib.give(eng)


@contextlib.contextmanager
def _deadline():
    """The page an engine reads, bounded as the command's run was: the engine's own deadline is
    checked only while it recognises words, not while it lays the page out first, and no call can
    stop it there; a page still being read :data:`OVERRUN_GRACE` seconds after its deadline ends
    the keyless worker with the deadline's error (vault.worker.abandon; a process that is no
    worker is left to its page)."""
    from vault import worker

    if not worker.serving():  # nothing to end here: no thread either
        yield
        return
    overrun = OcrError(f"recognition of a page took longer than {PAGE_TIMEOUT} s; review the page by hand")
    timer = threading.Timer(PAGE_TIMEOUT + OVERRUN_GRACE, worker.abandon, (overrun,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()  # gone before the next page: a pool started next is forked from one thread


def _recognize_run(images: list, dpi: int | None = None) -> list[PageText]:
    """Recognise ``images`` (all at resolution ``dpi``) with one engine of this process, or
    without the library in one process of the command: one image as a PGM, several as a
    multi-page TIFF whose TSV numbers the pages. Loading the language models costs about
    0.2 s of CPU a process, so pages share it."""
    return _recognize_here(images, dpi) if _here() else _recognize_command(images, dpi)


def _recognize_command(images: list, dpi: int | None = None) -> list[PageText]:
    """Recognise ``images`` (all at resolution ``dpi``) in one process of the ``tesseract`` command."""
    # PATH, locale and Tesseract's own settings only: never a REFUGE_* secret. One thread per process;
    # processes fill the cores.
    env = hardening.child_environment(OMP_THREAD_LIMIT="1")
    data = _pgm(images[0]) if len(images) == 1 else _tiff(images).getbuffer()
    timeout = PAGE_TIMEOUT * len(images)
    try:
        p = subprocess.run([_binary(), "stdin", "stdout", "-l", LANGS, "--psm", "1", "--dpi", str(dpi or OCR_DPI), "tsv"],
                           input=data, capture_output=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OcrError(f"recognition of a page took longer than {PAGE_TIMEOUT} s; review the page by hand"
                       if len(images) == 1 else f"recognition of {len(images)} pages took longer than {timeout} s; "
                       "review the pages by hand") from None
    finally:
        del data
    if p.returncode != 0:
        missing = b"Failed loading language" in p.stderr or b"Error opening data file" in p.stderr
        raise OcrError(_MISSING if missing else
                       f"tesseract failed on a page (exit {p.returncode}); review the page by hand")
    words = _parse_tsv(p.stdout.decode("utf-8", "replace"), len(images), [im.size for im in images])
    return [PageText(im.size[0], im.size[1], found) for im, found in zip(images, words)]


def _runs(dpis: list[int | None], n: int, pixels: list[int] | None = None) -> list[list[int]]:
    """Indices of the images, grouped into runs of one resolution each: every resolution's
    images split into at most ``n`` runs of consecutive images, as even as can be, and a run
    cut again where its images (``pixels`` each) would pass :data:`RUN_PIXELS`."""
    groups: dict[int | None, list[int]] = {}
    for k, d in enumerate(dpis):
        groups.setdefault(d or OCR_DPI, []).append(k)
    runs = []
    for indices in groups.values():
        parts = min(n, len(indices))
        size, extra = divmod(len(indices), parts)
        start = 0
        for r in range(parts):
            end = start + size + (1 if r < extra else 0)
            run: list[int] = []
            held = 0
            for k in indices[start:end]:
                if run and pixels and held + pixels[k] > RUN_PIXELS:
                    runs.append(run)
                    run, held = [], 0
                run.append(k)
                held += pixels[k] if pixels else 0
            runs.append(run)
            start = end
    return runs


def recognize(images: list, workers: int | None = None, dpi: int | list[int] | None = None) -> list[PageText]:
    """Recognise each image (PIL images), ``workers`` at once at most: engines of this process on
    as many threads (never more than MAX_ENGINES), or processes of the command, each reading its
    share of the images in one run. ``dpi`` is the images' resolution
    (OCR_DPI when not given), or a list of one resolution per image: images of different
    resolutions are read in different runs, and boxes are in each image's own pixels."""
    if not images:
        return []
    if not _here():
        _binary()
    n = max(1, min(len(images), workers or os.cpu_count() or 1))
    if _here():  # a new engine loads the models (about 0.2 s of CPU): one for every two pages at most, and
        # never more than MAX_ENGINES, whose memory the keyless worker's limit makes room for
        from . import _tesslib

        n = min(n, MAX_ENGINES, max(_tesslib.idle(LANGS, 1), (len(images) + 1) // 2))
    dpis = list(dpi) if isinstance(dpi, (list, tuple)) else [dpi] * len(images)
    if len(dpis) != len(images):
        raise ValueError("recognize: one resolution per image")
    runs = _runs(dpis, n, [im.size[0] * im.size[1] for im in images])
    out: list[PageText | None] = [None] * len(images)

    def run(indices: list[int]) -> None:
        for k, found in zip(indices, _recognize_run([images[k] for k in indices], dpis[indices[0]])):
            out[k] = found

    if len(runs) == 1 or n == 1:
        for indices in runs:
            run(indices)
    else:
        with ThreadPoolExecutor(min(n, len(runs)), thread_name_prefix="refuge-ocr") as pool:
            list(pool.map(run, runs))
    return out  # type: ignore[return-value]


# What was recognised in the encoded pixels of images this process made (flattened pages),
# keyed by the SHA-256 of those bytes: the leak check reads an output image's words from here
# when the very same bytes were recognised already, instead of recognising them again.
_SEEN: dict[bytes, PageText] = {}
_SEEN_MAX = 20_000


def remember(encoded: bytes, found: PageText) -> None:
    """Keep what recognition found in the image whose encoded bytes are ``encoded``."""
    import hashlib

    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    _SEEN[hashlib.sha256(encoded).digest()] = found


def recall(encoded: bytes) -> PageText | None:
    """What recognition found in an image with exactly these encoded bytes, if it ran here."""
    import hashlib

    return _SEEN.get(hashlib.sha256(encoded).digest())
