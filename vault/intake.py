"""Intake: decide what a file really is before it enters the vault.

The content decides, not the name: libmagic identifies the type, which must be
on the allow-list and agree with the file's extension. PDFs must open without
a password. What a PDF carries that could act (JavaScript, launch actions,
embedded files) does not refuse it: it is evidence, stored and flagged, and
nothing active from it ever reaches a packet.

Files built to hurt whoever opens them are refused, cheaply: images are judged
by their header alone (pixels, TIFF pages), PDFs by their page count and sizes,
image sizes and how far their Flate streams expand (inflated a MiB at a time,
counted and thrown away), and files that are two formats at once (a PDF or
image that is also a ZIP, an image that is also a PDF) are refused as polyglots.
File names with control characters are refused; errors never quote them.
"""

from __future__ import annotations

import math
import os
import stat
import zlib
from collections import namedtuple
from pathlib import Path

from .errors import InvalidInput

__all__ = ["ALLOWED", "OFFICE", "MAIL", "is_media", "reads_head_only", "MIME_HEAD", "Inspection", "inspect", "inspect_isolated", "inspect_descriptor", "warm_up", "stop_ahead", "DEFAULT_LIMIT", "CHECK_CPU_SECONDS", "CHECK_MEMORY", "MAX_PIXELS", "MAX_FRAMES", "MAX_PAGES",
           "MAX_PAGE_SIDE", "MAX_STREAM_DECODED", "MAX_TOTAL_DECODED"]

DEFAULT_LIMIT = 2 * 1024**3  # 2 GiB
# Bounds on the process that inspects one file (inspect_isolated): whatever a file does to
# libmagic, qpdf or Pillow, it gets this much CPU time and this much address space more.
CHECK_CPU_SECONDS = 60
CHECK_MEMORY = 1024**3

# Limits against files built to exhaust whoever opens them (decompression bombs and the like).
# Pillow refuses outright above twice its MAX_IMAGE_PIXELS (2 * 89,478,485); the vault's limit is the
# same, so one number holds for images on their own and images inside PDFs (~179 megapixels: more
# than any camera or 600 dpi A2 scan).
MAX_PIXELS = 178_956_970
MAX_FRAMES = 1000  # pages of a multi-page TIFF
MAX_PAGES = 5000  # pages of a PDF
MAX_PAGE_SIDE = 14_400  # user units: the PDF specification's largest page (200 inches)
MAX_STREAM_DECODED = 512 * 1024**2  # what one FlateDecode stream of a PDF may expand to
MAX_RATIO, RATIO_FROM = 1000, 64 * 1024**2  # above 64 MiB decoded, a stream may not expand more than 1000x
MAX_TOTAL_DECODED = 2 * 1024**3  # what all of a PDF's FlateDecode streams may expand to, together
_PIECE = 1 << 20  # inflate at most 1 MiB at a time
_IN_PIECE = 1 << 16  # and feed zlib 64 KiB of compressed bytes at a time

# MIME type -> extensions it may carry.
ALLOWED = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
    "text/plain": (".txt",),
    **{mime: exts for exts, mimes in (
        ((".heic", ".heif"), ("image/heic", "image/heif")),
        ((".webp",), ("image/webp",)),
        ((".docx",), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)),
        ((".doc",), ("application/msword",)),
        ((".odt",), ("application/vnd.oasis.opendocument.text",)),
        ((".rtf",), ("text/rtf", "application/rtf")),
        ((".eml",), ("message/rfc822",)),
        ((".msg",), ("application/vnd.ms-outlook",)),
        ((".mp3",), ("audio/mpeg",)),
        ((".m4a", ".mp4"), ("audio/x-m4a", "audio/mp4", "video/mp4")),
        ((".ogg", ".oga"), ("audio/ogg", "application/ogg", "video/ogg")),
        ((".wav",), ("audio/x-wav", "audio/wav", "audio/vnd.wave")),
        ((".mov",), ("video/quicktime",)),
        ((".webm",), ("video/webm", "audio/webm")),
    ) for mime in mimes},
}
# Office documents: kept byte-exact, shown in packets through a PDF rendition (vault/renditions.py).
OFFICE = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/msword",
          "application/vnd.oasis.opendocument.text", "text/rtf", "application/rtf")
MAIL = ("message/rfc822", "application/vnd.ms-outlook")  # a message; its attachments become documents
MEDIA_PREFIXES = ("audio/", "video/")  # recordings: evidence, provided beside a packet, never rendered
ACCEPTED = ("PDF, JPEG, PNG, TIFF, HEIC, WebP, plain text, Word (.docx, .doc), OpenDocument (.odt), RTF, "
            "e-mail (.eml, .msg) and recordings (mp3, m4a, ogg, wav, mp4, mov, webm)")
MIME_HEAD = 1 << 20  # the bytes libmagic is shown: the first MiB decides the type
# Types intake looks into past the head (PDF, images, office documents, messages): a file whose
# extension is none of theirs is judged by its name, its size and its first MIME_HEAD bytes alone
# (plain text and recordings are not read further; any other type under such a name is refused for
# its extension). An upload's spool keeps only the head of such a file (vault/receiving.py).
READ_WHOLE = frozenset(ext for mime, exts in ALLOWED.items()
                       if mime == "application/pdf" or mime.startswith("image/") or mime in OFFICE or mime in MAIL
                       for ext in exts)
MAX_ZIP_ENTRIES = 10_000  # parts of a .docx or .odt; a long report has a few hundred
MAX_ZIP_EXPANDED = 1024**3  # what a .docx or .odt may declare its parts expand to, together


def reads_head_only(name: str) -> bool:
    """Whether :func:`inspect`'s verdict on a file so named depends only on its size and first :data:`MIME_HEAD` bytes."""
    return Path(name).suffix.lower() not in READ_WHOLE


def is_media(mime: str) -> bool:
    """Whether a type is a recording (audio or video): stored as evidence, never rendered."""
    return mime.startswith(MEDIA_PREFIXES)


class Inspection(namedtuple("Inspection", "mime size flags", defaults=((),))):
    """What intake learned of a file: its type, its size and its flags (a tuple; a named tuple keeps
    dataclasses out of the intake worker's start)."""

    __slots__ = ()


def _refuse(what: str, fix: str) -> InvalidInput:
    return InvalidInput(f"{what}; {fix}")


def inspect(path: str | os.PathLike, limit: int = DEFAULT_LIMIT, label: str = "file", name: str | None = None) -> Inspection:
    """Check one file against the intake rules.

    Args:
        path: the file to check.
        limit: the largest size accepted, in bytes.
        label: how to name the file in errors (never its name: it may be secret).
        name: the file's name when ``path`` is not it: ``/proc/self/fd/N`` of an
            unnamed file (an upload's spool), a link followed on purpose.

    Raises:
        InvalidInput: the file is missing, not a regular file, empty, too large,
            of a type not allowed, disguised, an unreadable or encrypted PDF,
            a damaged image, a decompression bomb, over a page or pixel limit,
            a polyglot, or named with control characters.
    """
    p = Path(path)
    _check_name(path if name is None else name, label)
    try:
        st = os.lstat(p) if name is None else os.stat(p)
    except FileNotFoundError:
        raise _refuse(f"{label} does not exist", "check the path") from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(f"{label} is a symbolic link", "add the file it points to instead")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(f"{label} is not a regular file", "add documents one file at a time")
    if st.st_size == 0:
        raise _refuse(f"{label} is empty", "check that the download or scan finished")
    if st.st_size > limit:
        raise _refuse(f"{label} is larger than the {limit // 1024**2} MiB limit", "split it into smaller files")
    mime = _mime(p)
    if mime not in ALLOWED:
        kind = "an executable" if _is_executable(p, mime) else f"of type {mime}"
        raise _refuse(f"{label} is {kind}, which the vault does not accept",
                      f"accepted types are {ACCEPTED}")
    ext = (p if name is None else Path(name)).suffix.lower()
    if ext not in ALLOWED[mime]:
        raise _refuse(f"{label} holds {mime} but its name ends in {ext or 'no extension'}",
                      f"rename it to {ALLOWED[mime][0]} if that is what it is")
    flags: tuple[str, ...] = ()
    if mime == "application/pdf":
        _check_polyglot(p, st.st_size, mime, label)
        flags = _check_pdf(p, label)
    elif mime.startswith("image/"):
        _check_polyglot(p, st.st_size, mime, label)
        _check_image(p, label)
    elif mime in OFFICE or mime in MAIL:
        _check_container(p, st.st_size, mime, label)
    return Inspection(mime, st.st_size, flags)


def _check_name(path: str | os.PathLike, label: str) -> None:
    """The file's own name: no control characters (they forge log lines and terminal output)."""
    name = os.path.basename(os.fsdecode(path))
    if name in ("", ".", ".."):
        raise _refuse(f"{label} is named as a folder, not a file", "give the path of one file")
    for ch in name:
        c = ord(ch)
        # C0, DEL and C1; undecodable bytes 0x80-0x9f arrive as the surrogates U+DC80-U+DC9F.
        if c < 0x20 or 0x7F <= c <= 0x9F or 0xDC80 <= c <= 0xDC9F:
            raise _refuse(f"the name of {label} holds control characters", "rename the file")


def _polyglot(label: str) -> InvalidInput:
    return _refuse(f"{label} is valid as two formats (a polyglot), which the vault does not accept",
                   "re-export it from the original application, or print it to PDF again")


def _has_zip_directory(f, size: int) -> bool:
    """Whether a file ends as a ZIP (or JAR, DOCX...) archive does, as a ZIP reader would find it.

    A reader looks for the end-of-central-directory record in the last 64 KiB and finds the
    central directory cd_size bytes before it; requiring that directory's signature as well keeps
    four random bytes of compressed data from raising a false alarm.
    """
    base = max(0, size - (0xFFFF + 22))
    f.seek(base)
    tail = f.read()
    at = len(tail)
    while (at := tail.rfind(b"PK\x05\x06", 0, at)) >= 0:
        record = tail[at:at + 22]
        if len(record) < 22:
            continue
        entries = int.from_bytes(record[10:12], "little")
        cd_size = int.from_bytes(record[12:16], "little")
        comment = int.from_bytes(record[20:22], "little")
        start = base + at - cd_size
        if entries and at + 22 + comment <= len(tail) and start >= 0:
            f.seek(start)
            if f.read(4) == b"PK\x01\x02":
                return True
    return False


def _check_polyglot(path: Path, size: int, mime: str, label: str) -> None:
    """Refuse a PDF or image that is also a ZIP archive, or an image that is also a PDF."""
    with open(path, "rb") as f:
        head = f.read(1024)
        if mime != "application/pdf" and b"%PDF-" in head:  # PDF readers look for it in the first 1024 bytes
            raise _polyglot(label)
        if head.startswith(b"PK\x03\x04") or _has_zip_directory(f, size):
            raise _polyglot(label)


def _check_container(path: Path, size: int, mime: str, label: str) -> None:
    """An office document or message: not also a PDF; a .docx or .odt no ZIP bomb (central directory only)."""
    import zipfile

    with open(path, "rb") as f:
        if b"%PDF-" in f.read(1024):
            raise _polyglot(label)
    if mime not in (OFFICE[0], OFFICE[2]):
        return
    damaged = _refuse(f"{label} is a damaged office document that cannot be read",
                      "save it again from the application that made it")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise damaged from None
    if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_ZIP_EXPANDED:
        raise _refuse(f"{label} is an office document whose parts expand too far (a decompression bomb)",
                      "save it again from the application that made it, or print it to PDF")


def _check_image(path: Path, label: str) -> None:
    """Read an image's header only: refuse a decompression bomb or a file Pillow cannot make sense of."""
    import warnings

    from PIL import Image

    _register_heif()
    bomb = _refuse(f"{label} is an image of more than {MAX_PIXELS // 1_000_000} megapixels (a decompression bomb)",
                   "scan or export it again at a lower resolution")
    damaged = _refuse(f"{label} is a damaged image that cannot be read", "ask for a new copy, or export it again")
    try:
        with warnings.catch_warnings():
            # The vault's own limit decides below; Pillow's hard limit (the same number) raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_size(im.size, bomb)
                if im.format == "TIFF":  # seeking reads only each page's header
                    for frame in range(1, MAX_FRAMES + 1):
                        try:
                            im.seek(frame)
                        except EOFError:
                            break
                        _check_size(im.size, bomb)
                    else:
                        raise _refuse(f"{label} is an image of more than {MAX_FRAMES} pages",
                                      "split it into smaller files")
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise bomb from None
    except Exception:  # a malformed header can raise nearly anything inside Pillow's plugins
        raise damaged from None


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF photos (pillow-heif)."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def _check_size(size, bomb: InvalidInput) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise bomb


def inspect_isolated(path: str | os.PathLike, limit: int = DEFAULT_LIMIT, label: str = "file", *,
                     name: str | None = None, pass_fds: tuple[int, ...] = ()) -> Inspection:
    """:func:`inspect` in the keyless worker (vault/worker.py), with CPU-time and memory limits.

    The parsers that look at a stranger's file (libmagic, qpdf, Pillow) run in a
    fresh process that holds no key, cannot take more than CHECK_CPU_SECONDS of
    CPU or CHECK_MEMORY of address space, and has no network. A worker killed by
    its limits is a refusal. A worker started ahead by :func:`warm_up` is used
    if there is one.
    """
    from . import worker

    request = {"path": os.path.abspath(path), "limit": limit, "label": label, "name": name}
    started = None if pass_fds else _take_ahead()  # a descriptor to inherit needs a worker started with it
    try:
        if started is not None:
            answer = started.run(request, label=label).value
        else:
            answer = worker.run(_TASK, request, limits=_limits(), label=label, pass_fds=pass_fds).value
    except worker.WorkerDied:
        raise _refuse(f"{label} could not be checked within {CHECK_CPU_SECONDS} s of CPU and "
                      f"{CHECK_MEMORY // 1024**2} MiB of memory (a decompression bomb, or a file that crashes readers)",
                      "ask for a new copy, or print it to PDF again") from None
    try:
        return Inspection(str(answer["mime"]), int(answer["size"]), tuple(str(f) for f in answer["flags"]))
    except (TypeError, KeyError, ValueError):
        raise worker.WorkerFailed(f"the check of {label} answered malformed data") from None


def inspect_descriptor(fd: int, name: str, limit: int = DEFAULT_LIMIT, label: str = "file") -> Inspection:
    """:func:`inspect_isolated` of a file that has no path: an open descriptor (an upload's unnamed
    spool), reopened read-only and inherited by the keyless worker; ``name`` decides the extension."""
    readonly = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return inspect_isolated(f"/proc/self/fd/{readonly}", limit, label, name=name, pass_fds=(readonly,))
    finally:
        os.close(readonly)


# Keyless workers started ahead of the checks they will make (warm_up), and how many more
# checks are expected after the next one (each check then starts the following one's worker).
_ahead: list = []
_expected = [0]
_stopping: list = []  # whether the exit handler that stops unused workers is registered


def warm_up(files: int = 1) -> None:
    """Start the keyless worker of the next check now, while the caller opens the vault and the case.

    Starting an interpreter and loading libmagic takes longer than most checks;
    begun first, it is ready when the file is. With ``files`` > 1, each check
    starts the worker of the one after it. Workers left unused are stopped when
    this process exits.
    """
    import atexit

    if not _stopping:
        _stopping.append(atexit.register(stop_ahead))
    if not _ahead:
        _ahead.append(_start())
    _expected[0] = max(files - 1, 0)


_TASK = "vault.intake:_inspect_task"


def _limits():
    from . import worker

    return worker.Limits(memory=CHECK_MEMORY, cpu_seconds=CHECK_CPU_SECONDS, wall_seconds=3 * CHECK_CPU_SECONDS)


def _start():
    from . import worker

    return worker.start(_TASK, limits=_limits())


def _take_ahead():
    """The worker started ahead, if any (then the next one's starts if more checks are expected); else None."""
    try:
        started = _ahead.pop()
    except IndexError:
        return None
    if _expected[0] > 0:
        _expected[0] -= 1
        _ahead.append(_start())
    return started


def stop_ahead() -> None:
    """Stop the workers :func:`warm_up` started (a process whose limits changed since: the next check
    starts one that has them)."""
    while _ahead:
        _ahead.pop().close()


def _inspect_task(request: dict, blobs, report) -> tuple[dict, list]:
    """The worker's side of :func:`inspect_isolated`."""
    found = inspect(request["path"], request["limit"], request["label"], request.get("name"))
    return {"mime": found.mime, "size": found.size, "flags": list(found.flags)}, []


_inspect_task.prepare = lambda: _mime_of(b"")  # libmagic maps its database before the memory bound


# Leading bytes of programs: ELF, PE (MZ), Mach-O (both byte orders, 32/64, fat), scripts.
_PROGRAM_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


def _is_executable(path: Path, mime: str) -> bool:
    if "executable" in mime or mime in ("application/x-sharedlib", "application/x-mach-binary"):
        return True
    with open(path, "rb") as f:
        return f.read(4).startswith(_PROGRAM_MAGIC)


def _mime(path: Path) -> str:
    magic = _magic()

    try:
        # The first MiB decides: libmagic reads no further for these types, and
        # handing it the whole file costs memory on large text files.
        with open(path, "rb") as f:
            head = f.read(MIME_HEAD)
        return _mime_of(head)
    except (OSError, magic.MagicException):
        raise _refuse("file cannot be read", "check its permissions") from None


def _mime_of(head: bytes) -> str:
    return _magic().from_buffer(head, mime=True)


def _magic():
    """python-magic, with libmagic loaded by its Linux soname where that works.

    Its loader asks ``ctypes.util.find_library``, which runs ``ldconfig -p`` (twice:
    the module and its compat layer), a fork and exec each in every intake worker.
    """
    import sys

    if "magic" not in sys.modules and sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util

        try:
            ctypes.CDLL("libmagic.so.1")
        except OSError:  # another soname: let the loader search
            pass
        else:
            find = ctypes.util.find_library
            ctypes.util.find_library = lambda name: "libmagic.so.1" if name == "magic" else find(name)
            try:
                import magic
            finally:
                ctypes.util.find_library = find
    import magic

    return magic


def _check_pdf(path: Path, label: str) -> tuple[str, ...]:
    import pikepdf

    try:
        pdf = pikepdf.open(path, attempt_recovery=False)
    except pikepdf.PasswordError:
        raise _refuse(f"{label} is a password-protected PDF", "remove the password first (open it with the password and print it to a new PDF)") from None
    except (pikepdf.PdfError, RecursionError, ValueError, OverflowError, zlib.error):
        # qpdf would have to rebuild its cross-reference table from a scan of the file: it was cut short
        # (an interrupted download) or damaged, and what a reader shows of it is a guess.
        raise _refuse(f"{label} looks cut short or damaged (its PDF structure is incomplete)",
                      "download or scan it again") from None
    try:
        with pdf:
            _check_pdf_limits(pdf, label)
            _check_drawing(pdf, label)
            return _active_content(pdf)
    except InvalidInput:
        raise
    except pikepdf.PasswordError:
        raise _refuse(f"{label} is a password-protected PDF", "remove the password first (open it with the password and print it to a new PDF)") from None
    except (pikepdf.PdfError, RecursionError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            OverflowError, zlib.error):
        # A loop in the page tree, broken xref, objects of the wrong kind: all damage.
        raise _refuse(f"{label} is a damaged PDF that cannot be read", "ask for a new copy, or print it to PDF again") from None


def _check_pdf_limits(pdf, label: str) -> None:
    """Pages, page sizes, image sizes and how far compressed streams expand."""
    import pikepdf

    pages = pdf.pages
    if len(pages) > MAX_PAGES:
        raise _refuse(f"{label} is a PDF of more than {MAX_PAGES} pages", "split it into smaller files")
    for page in pages:
        box = [float(v) for v in page.mediabox]
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise _refuse(f"{label} is a PDF with a page of no valid size", "ask for a new copy, or print it to PDF again")
        width, height = abs(box[2] - box[0]), abs(box[3] - box[1])
        if width <= 0 or height <= 0:
            raise _refuse(f"{label} is a PDF with a page of no area", "ask for a new copy, or print it to PDF again")
        if width > MAX_PAGE_SIDE or height > MAX_PAGE_SIDE:
            raise _refuse(f"{label} is a PDF with a page larger than {MAX_PAGE_SIDE} units (200 inches) a side",
                          "print it to PDF again at a standard paper size")
    budget = [MAX_TOTAL_DECODED]
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream):
            continue
        pixels = None
        if obj.get("/Subtype") == "/Image":
            w, h = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
            pixels = (w, h)
            if w * h > MAX_PIXELS:
                raise _refuse(f"{label} is a PDF holding an image of more than {MAX_PIXELS // 1_000_000} megapixels "
                              "(a decompression bomb)", "scan or export it again at a lower resolution")
        _check_stream(obj, pixels, budget, label)


# Drawing work. A page of nested Form XObjects, each drawing the next ten times, is a few KiB
# and asks a renderer for 10**depth operations (a 2.7 KB file took a renderer to 20 GiB). Each
# page's drawing operators are counted with every form expanded as often as it is drawn; real
# pages need thousands to a few hundred thousand (a dense vector map: a few million).
MAX_DRAWING_OPS = 20_000_000
MAX_FORM_DEPTH = 16  # forms inside forms; real files nest two or three deep


def _check_drawing(pdf, label: str) -> None:
    """Refuse a PDF whose pages would make a renderer draw more than MAX_DRAWING_OPS operators."""
    import pikepdf

    bomb = _refuse(f"{label} is a PDF whose pages draw nested forms too many times (a rendering bomb)",
                   "ask for a new copy, or print it to PDF again")
    costs: dict[tuple[int, int], int] = {}

    def cost(stream, resources, depth: int) -> int:
        if depth > MAX_FORM_DEPTH:
            raise bomb
        ops = pikepdf.parse_content_stream(stream)
        total = len(ops)
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        for operands, operator in ops:
            if str(operator) != "Do" or not operands or not isinstance(xobjects, pikepdf.Dictionary):
                continue
            form = xobjects.get(str(operands[0]))
            if not isinstance(form, pikepdf.Stream) or form.get("/Subtype") != "/Form":
                continue
            key = form.objgen
            if key not in costs:
                if key != (0, 0):
                    costs[key] = MAX_DRAWING_OPS + 1  # a form that draws itself never ends
                costs[key] = cost(form, form.get("/Resources", resources), depth + 1)
            total += costs[key]
            if total > MAX_DRAWING_OPS:
                raise bomb
        return total

    for page in pdf.pages:
        if cost(page.obj, page.resources, 0) > MAX_DRAWING_OPS:
            raise bomb


_FLATE = ("/FlateDecode", "/Fl")
_ASCII = {"/ASCIIHexDecode": "hex", "/AHx": "hex", "/ASCII85Decode": "a85", "/A85": "a85"}


def _check_stream(stream, pixels, budget: list, label: str) -> None:
    """Inflate a FlateDecode stream piece by piece, counting, never holding more than a piece."""
    import pikepdf

    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Name):
        names = [str(filters)]
    elif isinstance(filters, pikepdf.Array):
        names = [str(f) for f in filters]
    else:
        return
    # Text encodings before Flate shrink the data: undo them, then inflate (others are not bombs we see).
    steps = 0
    while steps < len(names) and names[steps] in _ASCII:
        steps += 1
    if steps >= len(names) or names[steps] not in _FLATE:
        return
    raw = stream.read_raw_bytes()
    if steps:  # qpdf undoes the text encodings alone (they only shrink); zlib does the rest, counted
        scratch = pikepdf.new()
        try:
            encoded = pikepdf.Stream(scratch, raw)
            encoded.Filter = pikepdf.Array([pikepdf.Name(n) for n in names[:steps]])
            raw = encoded.read_bytes()
        except pikepdf.PdfError:
            return  # not readable as text-encoded: no reader gets to the Flate data either
        finally:
            scratch.close()
    allowance = None  # an image may expand to its own size whatever the ratio (a blank page scans to ~1000x)
    if pixels is not None and steps == len(names) - 1:
        bits = int(stream.get("/BitsPerComponent", 8) or 8)
        allowance = (math.ceil(pixels[0] * 4 * min(max(bits, 1), 16) / 8) + 1) * pixels[1]
    bomb = _refuse(f"{label} is a PDF whose compressed contents expand too far (a decompression bomb)",
                   "ask for a new copy, or print it to PDF again")
    d = zlib.decompressobj()
    decoded = 0
    view = memoryview(raw)
    for at in range(0, len(view), _IN_PIECE):
        piece = data = view[at:at + _IN_PIECE]
        while data:
            try:
                out = d.decompress(data, _PIECE)
            except zlib.error:  # damaged data stops a reader too: what came before is all it gets
                return
            decoded += len(out)
            budget[0] -= len(out)
            if budget[0] < 0:
                raise _refuse(f"{label} is a PDF whose contents expand to more than "
                              f"{MAX_TOTAL_DECODED // 1024**3} GiB", "split it into smaller files")
            if decoded > MAX_STREAM_DECODED:
                raise bomb
            data = d.unconsumed_tail
            if decoded > RATIO_FROM and decoded > MAX_RATIO * (at + len(piece) - len(data)):
                if allowance is None or decoded > allowance:
                    raise bomb
            if d.eof:
                return


def _active_content(pdf) -> tuple[str, ...]:
    flags = set()
    root = pdf.Root
    names = root.get("/Names")
    if names is not None:
        if "/JavaScript" in names:
            flags.add("javascript")
        if "/EmbeddedFiles" in names:
            flags.add("attachments")
    if "/OpenAction" in root or "/AA" in root:
        flags.add("actions")
    for page in pdf.pages[:2000]:
        if "/AA" in page.obj:
            flags.add("actions")
        for annot in page.obj.get("/Annots", []) or []:
            try:
                action = annot.get("/A")
                subtype = annot.get("/Subtype")
            except (AttributeError, ValueError):
                continue
            if subtype == "/FileAttachment":
                flags.add("attachments")
            if action is not None and action.get("/S") in ("/JavaScript", "/Launch"):
                flags.add("javascript" if action.get("/S") == "/JavaScript" else "launch")
    return tuple(sorted(flags))
