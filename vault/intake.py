"""Intake: decide what a file really is before it enters the vault.

The content decides, not the name: libmagic identifies the type, which must be
on the allow-list and agree with the file's extension. PDFs must open without
a password. What a PDF carries that could act (JavaScript, launch actions,
embedded files) does not refuse it: it is evidence, stored and flagged, and
nothing active from it ever reaches a packet.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidInput

__all__ = ["ALLOWED", "Inspection", "inspect", "DEFAULT_LIMIT"]

DEFAULT_LIMIT = 2 * 1024**3  # 2 GiB

# MIME type -> extensions it may carry.
ALLOWED = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
    "text/plain": (".txt",),
}


@dataclass(frozen=True)
class Inspection:
    """What intake learned of a file."""

    mime: str
    size: int
    flags: tuple[str, ...] = field(default=())


def _refuse(what: str, fix: str) -> InvalidInput:
    return InvalidInput(f"{what}; {fix}")


def inspect(path: str | os.PathLike, limit: int = DEFAULT_LIMIT, label: str = "file") -> Inspection:
    """Check one file against the intake rules.

    Args:
        path: the file to check.
        limit: the largest size accepted, in bytes.
        label: how to name the file in errors (never its name: it may be secret).

    Raises:
        InvalidInput: the file is missing, not a regular file, empty, too large,
            of a type not allowed, disguised, or an unreadable or encrypted PDF.
    """
    p = Path(path)
    try:
        st = os.lstat(p)
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
                      "accepted types are PDF, JPEG, PNG, TIFF and plain text")
    ext = p.suffix.lower()
    if ext not in ALLOWED[mime]:
        raise _refuse(f"{label} holds {mime} but its name ends in {ext or 'no extension'}",
                      f"rename it to {ALLOWED[mime][0]} if that is what it is")
    flags: tuple[str, ...] = ()
    if mime == "application/pdf":
        flags = _check_pdf(p, label)
    return Inspection(mime, st.st_size, flags)


# Leading bytes of programs: ELF, PE (MZ), Mach-O (both byte orders, 32/64, fat), scripts.
_PROGRAM_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


def _is_executable(path: Path, mime: str) -> bool:
    if "executable" in mime or mime in ("application/x-sharedlib", "application/x-mach-binary"):
        return True
    with open(path, "rb") as f:
        return f.read(4).startswith(_PROGRAM_MAGIC)


def _mime(path: Path) -> str:
    import magic

    try:
        # The first MiB decides: libmagic reads no further for these types, and
        # handing it the whole file costs memory on large text files.
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        return magic.from_buffer(head, mime=True)
    except (OSError, magic.MagicException):
        raise _refuse("file cannot be read", "check its permissions") from None


def _check_pdf(path: Path, label: str) -> tuple[str, ...]:
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return _active_content(pdf)
    except pikepdf.PasswordError:
        raise _refuse(f"{label} is a password-protected PDF", "remove the password first (qpdf --decrypt --password=... IN OUT)") from None
    except (pikepdf.PdfError, RecursionError, ValueError):
        raise _refuse(f"{label} is a damaged PDF that cannot be read", "ask for a new copy, or print it to PDF again") from None


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
