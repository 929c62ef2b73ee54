"""Renditions: what a packet shows of a document that is not a PDF, an image or text.

Office documents (.docx, .doc, .odt, .rtf) are shown through a PDF that LibreOffice
makes in the keyless worker (vault/_office.py); e-mail messages (.eml, .msg) through a
page of text, their headers and body (vault/_mail.py). The original stays byte-exact;
the rendition is made once, when the document is added (and again at a packet build
if it is missing), stored encrypted to the case like recognition results
(``cases/<case>/blobs/<blob>``) and recorded by a ``rendition.cached`` event:

    {"doc": id, "version": n, "sha256": of the original, "blob": id, "mime": of the
     rendition, "markup": {"comment": n, "inserted": n, "deleted": n}}

Comments and tracked changes are never hidden: the rendition lists them on pages of
its own after the document, and a profile decides whether such a document may go in
a packet at all (``office_markup``). Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from . import age, casekeys, intake, worker
from .errors import InvalidInput, NotFound, RefugeError

__all__ = ["Rendition", "OFFICE_LIMITS", "CONVERT_SECONDS", "needs_rendition", "shown_mime", "convert",
           "message_parts", "ensure", "try_ensure", "reader", "rendition_of"]

# LibreOffice maps far more address space than it touches (~500 MiB to start); a 50-page report
# needs under 1 GiB. 2 GiB above the worker's own still bounds a crafted document.
CONVERT_SECONDS = 120  # wall time of one LibreOffice run; then its process group is killed
OFFICE_LIMITS = worker.Limits(memory=2 * 1024**3, cpu_seconds=2 * CONVERT_SECONDS, wall_seconds=3 * CONVERT_SECONDS + 30)
MAIL_LIMITS = worker.Limits(memory=1024**3, cpu_seconds=60, wall_seconds=120)


@dataclass(frozen=True)
class Rendition:
    """A document's rendition: its type (application/pdf or text/plain), bytes and markup counts."""

    mime: str
    data: bytes = field(repr=False)
    markup: dict = field(default_factory=dict)


def needs_rendition(mime: str) -> bool:
    """Whether documents of this type are shown in packets through a rendition."""
    return mime in intake.OFFICE or mime in intake.MAIL


def shown_mime(mime: str) -> str:
    """The type a packet renders for a document of type ``mime``."""
    if mime in intake.OFFICE:
        return "application/pdf"
    return "text/plain" if mime in intake.MAIL else mime


def convert(data: bytes, mime: str, label: str, seconds: int = CONVERT_SECONDS) -> Rendition:
    """Make the rendition of one document in the keyless worker.

    Raises:
        InvalidInput: the conversion failed or ran past ``seconds`` (one line naming ``label``).
    """
    office = mime in intake.OFFICE
    limits = OFFICE_LIMITS if office else MAIL_LIMITS
    if office and seconds != CONVERT_SECONDS:
        limits = worker.Limits(memory=limits.memory, cpu_seconds=limits.cpu_seconds, wall_seconds=3 * seconds + 30)
    request = {"mime": mime, "label": label, "seconds": seconds}
    try:
        answer = worker.run("vault._office:convert_task", request, [data], limits=limits, label=label)
    except worker.WorkerDied:
        raise InvalidInput(f"{label} could not be converted within its limits (a crafted or damaged document)",
                           hint="office-convert") from None
    value = answer.value if isinstance(answer.value, dict) else {}
    if value.get("mime") not in ("application/pdf", "text/plain") or len(answer.blobs) != 1:
        raise worker.WorkerFailed(f"the conversion of {label} answered malformed data")
    markup = {k: int(n) for k, n in dict(value.get("markup") or {}).items() if k in ("comment", "inserted", "deleted")}
    return Rendition(value["mime"], answer.blobs[0], markup)


def message_parts(path: str, mime: str, label: str) -> list[tuple[str, bytes]]:
    """The attachments of a message file, read in the keyless worker: [(safe name, bytes)]."""
    with open(path, "rb") as f:
        data = f.read()
    answer = worker.run("vault.renditions:_attachments_task", {"mime": mime}, [data], limits=MAIL_LIMITS, label=label)
    names = answer.value if isinstance(answer.value, list) else None
    if names is None or len(names) != len(answer.blobs) or not all(isinstance(n, str) for n in names):
        raise worker.WorkerFailed(f"reading the attachments of {label} answered malformed data")
    from ._mail import safe_name

    return [(safe_name(n, i), b) for i, (n, b) in enumerate(zip(names, answer.blobs), 1)]


def _attachments_task(request: dict, blobs, report) -> tuple[list, list]:
    from . import _mail

    read = _mail.read_msg if request["mime"] == "application/vnd.ms-outlook" else _mail.read_eml
    _text, attachments = read(blobs[0])
    return [n for n, _ in attachments], [b for _, b in attachments]


# --- the cache in the case ---------------------------------------------------------------


def rendition_of(v, case, doc) -> Rendition | None:
    """The cached rendition of a document's latest version, decrypted in memory, or None."""
    entry = getattr(case, "renditions", {}).get(doc.id)
    if not entry or entry.get("sha256") != doc.sha256:
        return None
    identities = casekeys.require_member(v, case.id)
    try:
        with v.backend.get(f"cases/{case.id}/blobs/{entry['blob']}") as f:
            data = age.decrypt_bytes(list(identities.values()), f.read())
    except (NotFound, age.AgeError):
        return None  # a damaged cache entry is converted again
    casekeys.check_blob(entry, data, f"the rendition of document {doc.id}")
    return Rendition(entry["mime"], data, dict(entry.get("markup") or {}))


def ensure(v, case, docs) -> dict[str, Rendition]:
    """The renditions of ``docs`` that need one, converting and caching those not cached yet.

    A closed case takes no new events: its renditions are made again when needed.

    Raises:
        InvalidInput: a conversion failed (the message names the document by id).
    """
    from .cases import append_case, before_write
    from .documents import document_bytes

    out = {}
    for doc in docs:
        if not needs_rendition(doc.mime):
            continue
        made = rendition_of(v, case, doc)
        if made is None:
            made = convert(document_bytes(v, doc), doc.mime, f"document {doc.id}")
            if not v.directory.status(case.id).closed_at:
                _keep(v, case, doc, made, append_case, before_write)
        out[doc.id] = made
    return out


def _keep(v, case, doc, made: Rendition, append_case, before_write) -> None:
    before_write(v, case)
    blob, version = casekeys.store_bytes(v, case.id, made.data)
    try:
        append_case(v, case, "rendition.cached", {"doc": doc.id, "version": doc.version, "sha256": doc.sha256,
                                                  "blob": blob, "mime": made.mime, "markup": made.markup,
                                                  "blob_sha256": hashlib.sha256(made.data).hexdigest()},
                    key_version=version)
    except BaseException:
        v.backend.delete(f"cases/{case.id}/blobs/{blob}")
        raise


def reader(v, case, read, refuse_markup: bool):
    """A document reader for packet builds: the rendition for documents that need one
    (made now if missing), the original otherwise. With ``refuse_markup``, a document
    with comments or tracked changes is refused (InvalidInput naming it)."""

    def read_shown(doc) -> bytes:
        if not needs_rendition(doc.mime):
            return read(doc)
        made = ensure(v, case, [doc])[doc.id]
        if refuse_markup and made.markup:
            what = ", ".join(f"{n} {k}" for k, n in sorted(made.markup.items()))
            raise InvalidInput(f"document {doc.id} has comments or tracked changes ({what}), which this "
                               "recipient's profile does not show", hint="office-markup")
        return made.data

    return read_shown


def try_ensure(v, case, docs) -> list[tuple[object, RefugeError]]:
    """:func:`ensure` one document at a time at intake; returns (document, error) of each failure
    (the documents stay)."""
    failures = []
    for doc in docs:
        try:
            ensure(v, case, [doc])
        except RefugeError as e:
            failures.append((doc, e))
    return failures
