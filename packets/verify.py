"""Check a signed packet the way its recipient does: no vault, only the file and a certificate.

(The pipeline's other check, that no redacted text is left in a packet, is
packets/leakcheck.py. This module checks signatures, as a recipient does.)

:func:`check_packet` answers, for one PDF: who signed it (the organisation named in the
signature and in the certificate), when (the signer's clock, and an RFC 3161 timestamp if
there is one), whether the signed bytes are intact, whether the signature covers the whole
file (nothing appended after signing but validation data and a document timestamp that
covers every byte: PAdES B-LTA), the PAdES level (B-B, B-T, B-LT, B-LTA), whether the certificate
was valid and chains to a root the caller trusts, and, given the packet's manifest,
whether the manifest is signed by the same key and lists this exact file. The first
problem found becomes the report's one-line ``reason``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field

from vault.errors import InvalidInput

from .sign import MANIFEST_FORMAT, manifest_bytes

__all__ = ["Report", "check_packet", "load_certificates"]


def load_certificates(data: bytes) -> list:
    """Every certificate in a PEM bundle or one DER certificate (asn1crypto objects).

    Raises:
        InvalidInput: the data holds no certificate.
    """
    from asn1crypto import pem, x509

    try:
        if pem.detect(data):
            certs = [x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, multiple=True)
                     if kind == "CERTIFICATE"]
        else:
            certs = [x509.Certificate.load(data)]
            certs[0].native  # parses fully
    except (ValueError, TypeError):
        certs = []
    if not certs:
        raise InvalidInput("a certificate file to trust holds no certificate", hint="verify-trust-pem")
    return certs


def _time(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None

#: The reason given for a file that is not a packet manifest (hint code "verify-manifest").
NOT_A_MANIFEST = "the manifest file is not a packet manifest"


def _fingerprint(cert) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(cert.dump()).digest())


@dataclass
class Report:
    """What :func:`check_packet` found; ``ok`` only if every check passed."""

    ok: bool = False
    reason: str = ""
    sha256: str = ""
    encrypted: bool = False
    signatures: int = 0
    signer: str | None = None
    organisation: str | None = None
    signing_time: str | None = None
    timestamp: dict | None = None
    level: str | None = None
    certificate: dict | None = None
    intact: bool | None = None
    covers_whole_file: bool | None = None
    trusted: bool | None = None
    document_timestamp: dict | None = None  # the last document timestamp (B-LTA)
    revocation_info: bool | None = None  # validation data (chain, OCSP, CRLs) embedded in the file
    name_matches_certificate: bool | None = None  # the signature's /Name is its certificate's organisation
    manifest: dict | None = None
    problems: list[str] = field(default_factory=list)
    hints: dict[str, str] = field(default_factory=dict, repr=False)  # problem -> hint code

    def fail(self, reason: str, hint: str | None = None) -> None:
        self.problems.append(reason)
        if hint:
            self.hints[reason] = hint

    @property
    def hint(self) -> str | None:
        """The hint code for :attr:`reason` (the way out, worded by the application), if any."""
        return self.hints.get(self.reason)

    def as_dict(self) -> dict:
        out = asdict(self)
        del out["hints"]
        return out


def _validation_context(roots: list, moment: dt.datetime | None = None, dss=None):
    from pyhanko_certvalidator import ValidationContext

    # Only the roots the caller gives are trusted (never the system's TLS roots), nothing is
    # fetched from the network, and a certificate without revocation info is not refused; the
    # revocation answers embedded in the file (its DSS, B-LT) are used, so a revoked one is.
    kwargs = {"moment": moment} if moment else {}
    kwargs.update(trust_roots=list(roots), allow_fetching=False, revocation_mode="soft-fail")
    if dss is not None:
        return dss.as_validation_context(kwargs)
    return ValidationContext(**kwargs)


def _usage():
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    return KeyUsageConstraints(key_usage={"non_repudiation", "digital_signature"}, match_all_key_usages=False)


def _may_sign(cert) -> bool:
    """Whether the certificate's key usage allows signing documents."""
    from pyhanko_certvalidator.errors import InvalidCertificateError

    try:
        _usage().validate(cert)
    except InvalidCertificateError:
        return False
    return True


def _trust_reason(status, roots: list, cert, when: dt.datetime) -> tuple[str, str | None]:
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

    indic = status.trust_problem_indic
    if status.revoked or indic in (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE,
                                   AdESIndeterminate.REVOKED_CA_NO_POE):
        return "the signing certificate was revoked", None
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    not_before = cert["tbs_certificate"]["validity"]["not_before"].native
    if when > not_after or indic in (AdESIndeterminate.EXPIRED, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
                                     AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED):
        return f"the signing certificate expired on {_time(not_after)}", None
    if when < not_before or indic in (AdESFailure.NOT_YET_VALID, AdESIndeterminate.NOT_YET_VALID):
        return f"the signing certificate is not valid before {_time(not_before)}", None
    if not roots:
        return "no trusted certificate was given", "verify-trust"
    if not _may_sign(cert):
        return "the signing certificate is not allowed to sign documents (key usage)", None
    if status.validation_path is None or indic in (AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND,
                                                   AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                                                   AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE, None):
        return "the signing certificate does not chain to a trusted certificate: untrusted signer", "verify-trust-chain"
    return f"the signing certificate is not trusted ({indic.name.lower().replace('_', ' ')})", None


def _signatures(report: Report, data: bytes, password: str | None, reader_out: list | None = None) -> list | None:
    """The file's signatures, or None when the report is already done (unreadable,
    encrypted without the password); the reader is appended to ``reader_out``."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader_out is not None:
            reader_out.append(reader)
        report.encrypted = bool(reader.encrypted)
        if reader.encrypted:
            if not password:
                _done(report, "the packet is encrypted and no password was given", "verify-password")
                return None
            if reader.decrypt(password).status.name == "FAILED":
                _done(report, "the password does not open this packet")
                return None
        return reader.embedded_regular_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as e:
        if report.encrypted and "password" in str(e).lower():
            _done(report, "the password does not open this packet")
        else:
            _done(report, "the file is damaged or was altered: it does not read as a PDF")
        return None


def _describe(report: Report, sig, status) -> None:
    """Who signed, when, with which certificate, at which level; intact and coverage."""
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    cert = status.signing_cert
    subject = cert.subject.native
    report.organisation = subject.get("organization_name") or subject.get("common_name")
    name = sig.sig_object.get("/Name")
    report.signer = str(name) if name is not None else subject.get("common_name")
    if name is not None and report.organisation:  # /Name is a claim; the certificate's organisation is validated
        from ._signer import same_name
        from .sign import _latin

        report.name_matches_certificate = bool(same_name(str(name), str(report.organisation))
                                               or str(name) == _latin(str(report.organisation)))
    report.signing_time = _time(status.signer_reported_dt)
    validity = cert["tbs_certificate"]["validity"]
    report.certificate = {
        "subject": cert.subject.human_friendly, "issuer": cert.issuer.human_friendly,
        "sha256": _fingerprint(cert), "not_before": _time(validity["not_before"].native),
        "not_after": _time(validity["not_after"].native), "self_signed": cert.self_signed != "no",
    }
    report.intact = bool(status.intact and status.valid)
    report.covers_whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    ts = status.timestamp_validity
    if ts is not None:
        report.timestamp = {"time": _time(ts.timestamp), "authority": ts.signing_cert.subject.human_friendly,
                            "intact": bool(ts.intact and ts.valid), "trusted": bool(ts.trusted)}
    subfilter = str(sig.sig_object.get("/SubFilter", ""))
    report.level = ("PAdES-B-T" if ts is not None else "PAdES-B-B") if subfilter == "/ETSI.CAdES.detached" \
        else subfilter.lstrip("/")


def _trust(report: Report, sig, status, roots: list, at: dt.datetime | None, now: dt.datetime):
    """Whether the signer is trusted, judged at the trusted timestamp's time if there is
    one (so packets outlive their certificate, as PAdES B-T intends), else now. Returns
    (trusted, the status trust was judged on, the time it was judged at)."""
    from pyhanko.sign.validation import validate_pdf_signature

    cert = status.signing_cert
    validity = cert["tbs_certificate"]["validity"]
    ts = status.timestamp_validity
    trusted = status.trusted
    ts_ok = ts is not None and ts.trusted and ts.intact and ts.valid
    when = ts.timestamp if ts_ok else now
    if not trusted and ts_ok and report.intact:
        from . import _ltv

        dss = _ltv.read_dss(sig.reader)
        again = validate_pdf_signature(sig, _validation_context(roots, ts.timestamp, dss), key_usage_settings=_usage(),
                                       skip_diff=True)
        if again.trusted:
            trusted, status = True, again
    # Path validation checks neither the dates nor the key usage of a trust anchor, and
    # recipients often trust the organisation's certificate itself: check the signer's
    # here, its dates at the timestamp's time if a trusted one exists, else now.
    if trusted and not (validity["not_before"].native <= when <= validity["not_after"].native and _may_sign(cert)):
        trusted = False
    return bool(trusted), status, when


def check_packet(data: bytes, trust: list | tuple = (), manifest: bytes | None = None,
                 password: str | None = None, at: dt.datetime | None = None) -> Report:
    """Check a packet's signature, certificate, coverage and (optionally) manifest.

    Args:
        data: the packet's bytes, exactly as received.
        trust: root certificates to trust (asn1crypto, see :func:`load_certificates`).
        manifest: the manifest file's bytes, to check against the packet.
        password: the user password of an encrypted packet.
        at: check the certificate at this time instead of now.

    Returns:
        A :class:`Report`; ``report.ok`` is the verdict and ``report.reason`` the first
        problem, in one line (``report.hint`` the code of its way out, if any).
    """
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError

    from . import _ltv

    report = Report(sha256=hashlib.sha256(data).hexdigest())
    roots = list(trust)
    readers: list = []
    sigs = _signatures(report, data, password, readers)
    if sigs is None:
        return report
    dss = _ltv.read_dss(readers[0])
    report.signatures = len(sigs)
    if not sigs:
        return _done(report, "the file carries no signature")
    if len(sigs) > 1:
        report.fail(f"the file carries {len(sigs)} signatures; a packet carries one, made last")
    sig = sigs[-1]
    try:
        status = validate_pdf_signature(sig, _validation_context(roots, at, dss), key_usage_settings=_usage(),
                                        skip_diff=True)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as e:
        return _done(report, f"the signature cannot be read ({type(e).__name__}): the file was altered or is not a packet")
    _describe(report, sig, status)
    _ltv.long_term(report, readers[0], sig, status, lambda: _validation_context(roots, at, dss), dss, data)
    cert, ts = status.signing_cert, status.timestamp_validity
    trusted, status, when = _trust(report, sig, status, roots, at, at or dt.datetime.now(dt.timezone.utc))
    report.trusted = trusted

    if not report.intact:
        report.fail("the signed bytes were altered after signing: the signature does not match them")
    if not report.covers_whole_file:
        report.fail("something was appended after signing: the signature does not cover the whole file")
    if ts is not None and not (ts.intact and ts.valid):
        report.fail("the signature's timestamp is invalid")
    elif ts is not None and not ts.trusted and roots:
        report.fail("the signature's timestamp authority is not trusted", "verify-trust-tsa")
    if report.intact and not trusted:
        report.fail(*_trust_reason(status, roots, cert, when))
    if manifest is not None:
        report.manifest = _check_manifest(manifest, data, cert, roots, at)
        if not report.manifest["ok"]:
            report.fail(report.manifest["reason"],
                        "verify-manifest" if report.manifest["reason"] == NOT_A_MANIFEST else None)
    return _done(report)


def _done(report: Report, reason: str | None = None, hint: str | None = None) -> Report:
    if reason:
        report.fail(reason, hint)
    report.ok = not report.problems
    report.reason = report.problems[0] if report.problems else ""
    return report


def _check_manifest(text: bytes, data: bytes, pdf_cert, roots: list, at) -> dict:
    """Whether the manifest is signed by the packet's signer and lists this exact file."""
    import asyncio

    from asn1crypto import cms
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms

    out = {"ok": False, "reason": "", "volume": None}
    try:
        doc = json.loads(text)
        manifest, sig = doc["manifest"], doc["signature"]
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        out["reason"] = NOT_A_MANIFEST
        return out
    if not sig:
        out["reason"] = "the manifest is not signed"
        return out
    try:
        content = cms.ContentInfo.load(base64.b64decode(sig, validate=True))
        signed_data = content["content"]
        status = asyncio.run(async_validate_detached_cms(manifest_bytes(manifest), signed_data,
                                                         _validation_context(roots, at), key_usage_settings=_usage()))
    except (ValueError, TypeError, KeyError) as e:
        out["reason"] = f"the manifest's signature cannot be read ({type(e).__name__})"
        return out
    if not (status.intact and status.valid):
        out["reason"] = "the manifest was altered after signing: its signature does not match"
        return out
    if status.signing_cert.dump() != pdf_cert.dump():
        out["reason"] = "the manifest is signed by another certificate than the packet"
        return out
    digest = hashlib.sha256(data).hexdigest()
    for vol in manifest.get("volumes", []):
        if vol.get("sha256") == digest:
            out.update(ok=True, volume=vol.get("number"), profile=manifest.get("profile"),
                       documents=len(manifest.get("documents", [])))
            return out
    out["reason"] = "the packet is not one the manifest lists: its SHA-256 matches no volume"
    return out
