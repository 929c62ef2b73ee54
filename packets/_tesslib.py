"""Tesseract in this process through libtesseract's C API: models loaded once per engine.

The library is the one the ``tesseract`` command is built on; every run of the command
loads the language models again (about 0.2 s of CPU for eng+spa+fra), an engine once.

Used only by :mod:`packets.ocr`, which runs in refuge's keyless workers. Each engine is
one ``TessBaseAPI`` initialised as the command is by ``-l LANGS --psm 1``; an engine
serves one thread at a time (the calls release the GIL, so engines on two threads use two
cores). OpenMP inside the library is held to one thread per engine (``OMP_THREAD_LIMIT``,
read when libgomp loads), as the command is run: if it cannot be, :func:`available` says
no and :mod:`packets.ocr` runs the command instead.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading

from vault.errors import InvalidInput

__all__ = ["available", "version", "Engine", "take", "give", "idle"]

_SONAME = "libtesseract.so.5"
_LOCK = threading.Lock()
_STARTING = threading.Lock()
_LIB: ctypes.CDLL | None | bool = None  # None: not tried; False: not usable here
_IDLE: list["Engine"] = []
_ALL: list["Engine"] = []


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
                            ("TessMonitorSetDeadlineMSecs", [p, i], None), ("TessMonitorDelete", [p], None)):
        fn = getattr(lib, name, None)
        if fn is None:
            return None
        fn.argtypes, fn.restype = args, res
    return lib


def available() -> bool:
    """Whether Tesseract can run in this process (its library loads, OpenMP held to one thread)."""
    return _load() is not None


def version() -> str:
    """The library's version, e.g. ``5.3.0`` (what ``tesseract --version`` prints after its name)."""
    lib = _load()
    return lib.TessVersion().decode() if lib else ""


class EngineError(InvalidInput):
    """The languages could not be loaded, or a page could not be recognised (packets.ocr words it)."""


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
        monitor = lib.TessMonitorCreate()
        try:
            lib.TessMonitorSetDeadlineMSecs(monitor, int(timeout * 1000))
            lib.TessBaseAPISetImage(api, grey, width, height, 1, width)
            lib.TessBaseAPISetSourceResolution(api, dpi)
            if lib.TessBaseAPIRecognize(api, monitor) != 0:
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
