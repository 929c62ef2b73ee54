"""Tesseract in this process through libtesseract's C API: models loaded once per engine.

The library is the one the ``tesseract`` command is built on; every run of the command
loads the language models again (about 0.2 s of CPU for eng+spa+fra), an engine once.

Used only by :mod:`packets.ocr`, which runs in refuge's keyless workers. Each engine is
one ``TessBaseAPI`` initialised as the command is by ``-l LANGS --psm 1``; an engine
serves one thread at a time (the calls release the GIL, so engines on two threads use two
cores). OpenMP inside the library is held to one thread per engine (``OMP_THREAD_LIMIT``,
read when libgomp loads), as the command is run: if it cannot be, :func:`available` says
no and :mod:`packets.ocr` runs the command instead.

An engine short of memory (the keyless worker's address-space limit) ends the process (a
C++ allocation throws, or a failed one is used), or Leptonica (the library's image layer)
does not make an image and reports it through its message handler ("Error in
pixCreateNoInit: pixdata_malloc fail for data"), after which Tesseract fails the page or
reads less than is on it, without an error (fewer words, or none). So the handler is this
module's: a page during whose reading Leptonica reported anything (on any engine's thread)
raises :class:`Doubtful`, and :mod:`packets.ocr` has the command read it again in a process
of its own. A page read with no report is the engine's full reading, words or none
(tests/test_ocr_batch.py starves an engine a little less each time to show it).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading

from vault.errors import InvalidInput

__all__ = ["available", "version", "Engine", "EngineError", "Doubtful", "take", "give", "idle"]

_SONAME = "libtesseract.so.5"
_LOCK = threading.Lock()
_STARTING = threading.Lock()
_LIB: ctypes.CDLL | None | bool = None  # None: not tried; False: not usable here
_IDLE: list["Engine"] = []
_ALL: list["Engine"] = []
#: Leptonica's threshold for the reports it makes: L_SEVERITY_ERROR (5). Above it (or with the
#: reports compiled out) an allocation failure would pass unreported, and no reading is trusted.
_REPORTS_ERRORS = 5
_REPORTED = [False]  # Leptonica reported something since no page was being read
_READING = [0]  # pages being read now, on all threads (under _LOCK)


def _reported() -> None:
    """Leptonica's message handler while engines serve: it takes no argument (the message's
    pointer is ignored) and allocates nothing, so it runs on an engine short of memory too."""
    _REPORTED[0] = True


_HANDLER = ctypes.CFUNCTYPE(None)(_reported)  # held here for the library's lifetime


def _load() -> ctypes.CDLL | None:
    global _LIB
    with _LOCK:
        if _LIB is None:
            _LIB = _open() or False
        return _LIB or None


def _open() -> ctypes.CDLL | None:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # before libgomp loads with the library
    try:
        lib = ctypes.CDLL(_SONAME)
    except OSError:
        return None
    try:
        gomp = ctypes.CDLL("libgomp.so.1")
        if gomp.omp_get_thread_limit() != 1:  # libgomp was loaded earlier without the limit
            return None
    except (OSError, AttributeError):
        pass  # a library built without OpenMP
    p, s, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    for name, args, res in (("TessVersion", [], s), ("TessBaseAPICreate", [], p),
                            ("TessBaseAPIInit3", [p, s, s], i), ("TessBaseAPISetPageSegMode", [p, i], None),
                            ("TessBaseAPISetImage", [p, s, i, i, i, i], None),
                            ("TessBaseAPISetSourceResolution", [p, i], None), ("TessBaseAPIRecognize", [p, p], i),
                            ("TessBaseAPIGetTsvText", [p, i], p), ("TessDeleteText", [p], None),
                            ("TessBaseAPIClear", [p], None), ("TessBaseAPIEnd", [p], None),
                            ("TessBaseAPIDelete", [p], None), ("TessMonitorCreate", [], p),
                            ("TessMonitorSetDeadlineMSecs", [p, i], None), ("TessMonitorDelete", [p], None),
                            # Leptonica's, found through the library that links it (the one it reports through)
                            ("leptSetStderrHandler", [p], None)):
        fn = getattr(lib, name, None)
        if fn is None:
            return None  # without Leptonica's handler an engine short of memory could not be told: the command
        fn.argtypes, fn.restype = args, res
    try:
        lib.severity = ctypes.c_int.in_dll(lib, "LeptMsgSeverity")
    except ValueError:
        return None
    lib.leptSetStderrHandler(ctypes.cast(_HANDLER, p))
    return lib


def _reports_errors(lib: ctypes.CDLL) -> bool:
    """Whether Leptonica reports the allocations it cannot make (its threshold is no higher than errors)."""
    return lib.severity.value <= _REPORTS_ERRORS


def available() -> bool:
    """Whether Tesseract can run in this process (its library loads, OpenMP held to one thread)."""
    return _load() is not None


def version() -> str:
    """The library's version, e.g. ``5.3.0`` (what ``tesseract --version`` prints after its name)."""
    lib = _load()
    return lib.TessVersion().decode() if lib else ""


class EngineError(InvalidInput):
    """The languages could not be loaded, or a page could not be recognised (packets.ocr words it)."""


class Doubtful(EngineError):
    """Leptonica reported a failure (an image not made: memory) while the page was read: whatever the
    engine read of it, words or none, is not the page's reading."""


class Engine:
    """One initialised ``TessBaseAPI``: ``langs`` loaded, page segmentation mode ``psm``."""

    def __init__(self, lib: ctypes.CDLL, langs: str, psm: int) -> None:
        self._lib = lib
        self.key = _key(langs, psm)
        self._api = lib.TessBaseAPICreate()
        if lib.TessBaseAPIInit3(self._api, None, langs.encode()) != 0:
            lib.TessBaseAPIDelete(self._api)
            self._api = None
            raise EngineError("init")
        lib.TessBaseAPISetPageSegMode(self._api, psm)

    def tsv(self, grey: bytes, width: int, height: int, dpi: int, timeout: float) -> str:
        """The TSV the command prints for this 8-bit grey image (one page, numbered 1)."""
        lib, api = self._lib, self._api
        with _LOCK:
            if not _READING[0]:  # reports made while no page was read are of no page
                _REPORTED[0] = False
            _READING[0] += 1
        monitor = lib.TessMonitorCreate()
        try:
            lib.TessMonitorSetDeadlineMSecs(monitor, int(timeout * 1000))
            lib.TessBaseAPISetImage(api, grey, width, height, 1, width)
            lib.TessBaseAPISetSourceResolution(api, dpi)
            failed = lib.TessBaseAPIRecognize(api, monitor) != 0
            with _LOCK:  # a report of another page read meanwhile counts too: it cannot be told apart
                doubtful = _REPORTED[0] or not _reports_errors(lib)
            if doubtful:
                raise Doubtful("recognize")
            if failed:
                raise EngineError("recognize")
            text = lib.TessBaseAPIGetTsvText(api, 0)
            if not text:
                raise EngineError("recognize")
            try:
                return "level\n" + ctypes.string_at(text).decode("utf-8", "replace")  # the command's header row
            finally:
                lib.TessDeleteText(text)
        finally:
            lib.TessBaseAPIClear(api)
            lib.TessMonitorDelete(monitor)
            with _LOCK:
                _READING[0] -= 1

    def close(self) -> None:
        if self._api:
            self._lib.TessBaseAPIEnd(self._api)
            self._lib.TessBaseAPIDelete(self._api)
            self._api = None


def _key(langs: str, psm: int) -> tuple:
    return langs, psm, os.environ.get("TESSDATA_PREFIX")  # where the models were read from


def take(langs: str, psm: int) -> Engine:
    """An idle engine for ``langs`` and ``psm`` (made when none is idle); give it back after use."""
    lib = _load()
    if lib is None:
        raise EngineError("unavailable")
    with _LOCK:
        for k, e in enumerate(_IDLE):
            if e.key == _key(langs, psm):
                return _IDLE.pop(k)
    with _STARTING:  # one engine starts at a time: Tesseract does not say its start-up is thread-safe
        e = Engine(lib, langs, psm)
    with _LOCK:
        _ALL.append(e)
    return e


def idle(langs: str, psm: int) -> int:
    """How many engines for ``langs`` and ``psm`` are made and waiting in this process."""
    with _LOCK:
        return sum(e.key == _key(langs, psm) for e in _IDLE)


def give(engine: Engine) -> None:
    """Return an engine from :func:`take` for the next page."""
    with _LOCK:
        _IDLE.append(engine)


@atexit.register
def _close_all() -> None:  # ends each engine: the library reports loaded models still held otherwise
    with _LOCK:
        for e in _ALL:
            e.close()
        _ALL.clear()
        _IDLE.clear()
