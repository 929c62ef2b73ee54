"""LibreOffice, run inside the keyless worker: an office document to PDF, and what it hides.

Only :mod:`vault.renditions` calls this, from a worker task (vault/worker.py), so
LibreOffice inherits the worker's state: no key, no network, a minimal
environment, no core dumps, its address-space bound. Each conversion gets:

- a fresh private profile directory (``-env:UserInstallation``), in memory
  (/dev/shm) where there is one, removed as soon as the conversion ends, whose
  settings forbid macros (``DisableMacrosExecution``, the highest
  ``MacroSecurityLevel``), block links to other files and never update links;
- its own process group, killed whole at its time limit, and a parent-death
  signal so it cannot outlive a worker killed by its own limits.

Comments and tracked changes are read from the document's own XML (a .docx or
.odt; a .doc or .rtf is first converted to .docx) so that a rendition never
hides them: they are listed on pages added after the document's own.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from xml.etree import ElementTree

from .errors import InvalidInput

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
_EXTENSIONS = {DOCX: ".docx", "application/msword": ".doc", ODT: ".odt", "text/rtf": ".rtf",
               "application/rtf": ".rtf"}
MAX_MARKUP = 2000  # comments and changes listed; a document with more is refused whatever the profile says

_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="SecureURL" oor:op="fuse"><value/></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


class ConversionFailed(InvalidInput):
    """LibreOffice could not convert a document (damaged, crafted, or over its time limit)."""


def _private_dir() -> str:
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="refuge-office-", dir=base)  # mode 0700


def _kill_on_parent_death() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def soffice(data: bytes, mime: str, target: str, seconds: int, label: str) -> bytes:
    """Convert ``data`` (of type ``mime``) to ``target`` ("pdf", "docx") with LibreOffice, in a
    private folder removed at once; at ``seconds`` of wall time the whole process group is killed.

    Raises:
        ConversionFailed: LibreOffice is missing, failed, made nothing, or ran out of time.
    """
    program = shutil.which("soffice")
    if program is None:
        raise ConversionFailed(f"{label} cannot be converted: LibreOffice (soffice) is not installed",
                               hint="install-libreoffice")
    where = _private_dir()
    try:
        profile = os.path.join(where, "profile")
        os.makedirs(os.path.join(profile, "user"))
        with open(os.path.join(profile, "user", "registrymodifications.xcu"), "w") as f:
            f.write(_SETTINGS)
        source = os.path.join(where, "document" + _EXTENSIONS.get(mime, ".bin"))
        with open(source, "wb") as f:
            f.write(data)
        out = os.path.join(where, "out")
        cmd = [program, f"-env:UserInstallation=file://{profile}", "--headless", "--invisible", "--norestore",
               "--nolockcheck", "--nodefault", "--nologo", "--convert-to", target, "--outdir", out, source]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=where, start_new_session=True, preexec_fn=_kill_on_parent_death,
                                env=dict(os.environ, HOME=where))
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"{label} could not be converted within {seconds} s (LibreOffice was stopped)",
                                   hint="office-convert") from None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever it left running
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        made = os.path.join(out, "document." + target.split(":")[0])
        if not os.path.isfile(made) or os.path.getsize(made) == 0:
            raise ConversionFailed(f"{label} could not be converted by LibreOffice (damaged, or not really "
                                   "an office document)", hint="office-convert")
        with open(made, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(where, ignore_errors=True)


# --- comments and tracked changes --------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_DOCX_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml")


def _texts(element, tags) -> str:
    return " ".join("".join(e.text or "" for e in element.iter() if e.tag in tags).split())


def _parse(z: zipfile.ZipFile, name: str):
    with z.open(name) as f:
        data = f.read(64 * 1024**2)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # no entity tricks: office XML never declares any
        raise ConversionFailed("the document's XML declares entities, which office applications never write",
                               hint="office-convert")
    return ElementTree.fromstring(data)


def markup(data: bytes, mime: str) -> list[tuple[str, str]]:
    """The comments and tracked changes of a .docx or .odt: [(kind, text)], kind one of
    "comment", "inserted", "deleted", in document order (at most MAX_MARKUP + 1)."""
    found: list[tuple[str, str]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        if mime == DOCX:
            for name in sorted(n for n in names if _DOCX_PARTS.fullmatch(n)):
                root = _parse(z, name)
                for el in root.iter():
                    kind = {f"{_W}comment": "comment", f"{_W}ins": "inserted", f"{_W}moveTo": "inserted",
                            f"{_W}del": "deleted", f"{_W}moveFrom": "deleted"}.get(el.tag)
                    if kind and (kind != "comment" or name == "word/comments.xml"):
                        found.append((kind, _texts(el, (f"{_W}t", f"{_W}delText")) or "(no text)"))
                    if len(found) > MAX_MARKUP:
                        return found
        elif "content.xml" in names:
            for name in ("content.xml", "styles.xml"):
                if name not in names:
                    continue
                root = _parse(z, name)
                for el in root.iter():
                    if el.tag == f"{_OFFICE}annotation":
                        found.append(("comment", _texts(el, (f"{_TEXT}p", f"{_TEXT}span")) or "(no text)"))
                    elif el.tag == f"{_TEXT}changed-region":
                        kind = "deleted" if el.find(f".//{_TEXT}deletion") is not None else "inserted"
                        found.append((kind, _texts(el, (f"{_TEXT}p", f"{_TEXT}span")) or "(text in place)"))
                    if len(found) > MAX_MARKUP:
                        return found
    return found


def appendix(items: list[tuple[str, str]]) -> bytes:
    """Pages listing a document's comments and tracked changes (a PDF), so a rendition hides none."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    font = "Helvetica"
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if os.path.exists(path):
            pdfmetrics.registerFont(TTFont("RefugeSans", path))
            font = "RefugeSans"
    style = getSampleStyleSheet()["Normal"]
    style.fontName = font
    heading = style.clone("heading", fontSize=13, leading=18, fontName=font)
    names = {"comment": "Comment", "inserted": "Inserted (tracked change)", "deleted": "Deleted (tracked change)"}
    story = [Paragraph("Comments and tracked changes in this document", heading)]
    story += [Paragraph(f"{names[k]}: {escape(t)}", style) for k, t in items]
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=letter, title="", author="", creator="", producer="",
                      invariant=1).build(story)
    return buf.getvalue()


# --- the worker task ------------------------------------------------------------------------


def convert_task(request: dict, blobs, report) -> tuple[dict, list]:
    """The worker's side of vault.renditions.convert (this light module keeps the worker's start short)."""
    import zipfile
    from xml.etree.ElementTree import ParseError

    from . import _mail, intake
    mime, label, data = request["mime"], request["label"], blobs[0]
    if mime in intake.MAIL:
        text, _attachments = (_mail.read_msg if mime == "application/vnd.ms-outlook" else _mail.read_eml)(data)
        return {"mime": "text/plain", "markup": {}}, [text.encode()]
    seconds = int(request["seconds"])
    xml = data if mime in (DOCX, ODT) else soffice(data, mime, "docx", seconds, label)
    xml_mime = mime if mime in (DOCX, ODT) else DOCX
    try:
        found = markup(xml, xml_mime)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ParseError):
        raise ConversionFailed(f"{label} is a damaged office document (its XML cannot be read)",
                                       hint="office-convert") from None
    if len(found) > MAX_MARKUP:
        raise ConversionFailed(f"{label} has more than {MAX_MARKUP} comments and tracked changes",
                                       hint="office-markup")
    pdf = soffice(data, mime, "pdf", seconds, label)
    counts = {k: sum(1 for kind, _ in found if kind == k) for k in ("comment", "inserted", "deleted")}
    if found:
        pdf = _append(pdf, appendix(found))
    return {"mime": "application/pdf", "markup": {k: n for k, n in counts.items() if n}}, [pdf]


def _append(pdf: bytes, extra: bytes) -> bytes:
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as main, pikepdf.open(io.BytesIO(extra)) as more:
        main.pages.extend(more.pages)
        out = io.BytesIO()
        main.save(out)
        return out.getvalue()
