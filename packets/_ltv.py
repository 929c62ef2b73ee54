"""Long-term signatures, as the recipient checks them: validation data and document timestamps.

A PAdES B-LT packet carries, after its signature, a revision that adds a document security
store (the chain, OCSP answers, CRLs); a B-LTA packet then a document timestamp over all
of it. Such a signature covers its own revision, not the file: :func:`long_term` accepts
the later revisions only when pyHanko's difference analysis finds nothing in them but
validation data and timestamps, and the last document timestamp is intact and covers
every byte. It fills the report's ``level``, ``revocation_info``, ``document_timestamp``
and ``covers_whole_file``.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["long_term", "read_dss"]


def read_dss(reader):
    """The file's document security store, or None when it has none (or it cannot be read)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        return DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, PdfError, ValueError, KeyError, TypeError):
        return None


def _time(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _document_timestamp(reader, context) -> tuple[dict | None, bool]:
    """The last document timestamp (as a report dict) and whether it covers the whole file."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation import validate_pdf_timestamp
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None, False
    last = stamps[-1]
    try:
        status = validate_pdf_timestamp(last, validation_context=context())
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError):
        return {"intact": False, "trusted": False, "time": None, "authority": None}, False
    info = {"time": _time(status.timestamp), "authority": status.signing_cert.subject.human_friendly,
            "intact": bool(status.intact and status.valid), "trusted": bool(status.trusted)}
    return info, bool(info["intact"] and status.coverage == SignatureCoverageLevel.ENTIRE_FILE)


def long_term(report, reader, sig, status, context, dss, data: bytes = b"") -> None:
    """Judge the revisions after the signature (validation data, document timestamps) and the level."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    report.revocation_info = dss is not None and bool(dss.ocsps or dss.crls)
    stamp, stamp_covers = _document_timestamp(reader, context)
    report.document_timestamp = stamp
    if report.level in ("PAdES-B-T", "PAdES-B-B") and dss is not None:
        if report.timestamp is not None:
            report.level = "PAdES-B-LTA" if stamp is not None else "PAdES-B-LT"
        else:
            report.level = "PAdES-B-B with validation data"
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE or not report.intact:
        return
    if status.coverage != SignatureCoverageLevel.ENTIRE_REVISION:
        return
    try:
        full = validate_pdf_signature(sig, context(), skip_diff=False)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError):
        return
    level = full.modification_level
    only_validation_data = level is not None and level <= ModificationLevel.LTA_UPDATES and bool(full.docmdp_ok)
    # Validation data appended after the signature changes nothing a reader sees (the
    # difference analysis says so); a document timestamp, if any, must cover every byte.
    # Without a timestamp, the file must end where its last revision ends (no bytes appended).
    ends_clean = data.rstrip(b"\r\n\t\x00 ").endswith(b"%%EOF")
    report.covers_whole_file = bool(only_validation_data and dss is not None
                                    and (stamp_covers if stamp is not None else ends_clean))
