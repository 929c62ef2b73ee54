"""Sign packets (PAdES, with pyHanko) and their manifests, with the organisation key.

The last write to a packet is its signature: an incremental update over the assembled,
final PDF, so the signature's byte range covers every byte of the file as sent. Without a
timestamp authority the signature is PAdES baseline B-B; with one (the organisation's
timestamp URL) it carries an RFC 3161 signature timestamp, B-T. When the organisation's
certificate chain publishes revocation information (OCSP responders or CRLs), the chain and
the revocation answers are fetched and embedded (a document security store: the validation
data of B-LT), and with a timestamp authority a document timestamp is added over them
(B-LTA); a certificate the responder says is revoked is never used to sign.

The packet is signed by the organisation: the signature's /Name and the visible block
(page 1, in :func:`signature_box`, which the cover page leaves free) name the organisation
of the certificate (and, when the profile asks, its counsel of record), never the person
who built the packet; who that was stays in the audit log and the disclosure record.

The manifest says what the packet holds (profile, documents and versions, the SHA-256 of
each volume before and after signing, consents used, redaction counts, builder) and is
signed with the same key as a detached CMS signature over its canonical JSON. It names
no people, titles or case references: only opaque ids, types, dates and digests.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import secrets
import unicodedata
from dataclasses import dataclass, field

from vault.errors import InvalidInput, RefugeError, VerificationFailed
from vault.orgkey import OrgKey

from ._clock import source_date_epoch

__all__ = [
    "SIGNATURE_FIELD", "SignedVolume", "Sealed", "signature_box", "sign_pdf",
    "encrypt_pdf", "seal", "signing_key", "manifest_entries", "original_hmac", "manifest_bytes", "sign_manifest", "manifest_file",
]

SIGNATURE_FIELD = "refuge-packet-signature"
MANIFEST_FORMAT = "refuge-packet-manifest"

# pyHanko logs failed certificate paths with tracebacks; this module reports one line instead.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
BOX_WIDTH, BOX_HEIGHT = 230, 58


def signature_box(page_width: float, page_height: float, margins=None) -> tuple[int, int, int, int]:
    """Where the visible signature block goes on page 1: bottom right, inside the margins."""
    right = getattr(margins, "right", 54)
    bottom = getattr(margins, "bottom", 54)
    x2 = int(page_width - right)
    y1 = int(bottom + 6)
    return (x2 - BOX_WIDTH, y1, x2, y1 + BOX_HEIGHT)


def _latin(text: str) -> str:
    """Text the signature block's standard font can show (accents kept, the rest '?')."""
    text = unicodedata.normalize("NFC", " ".join(str(text).split()))
    return "".join(ch if ord(ch) < 256 and ch.isprintable() else "?" for ch in text)


def _signer(key: OrgKey):
    """pyHanko's signer for ``key``, whose signatures use the key loaded once (OrgKey.sign_raw):
    pyHanko's own loads it again for every signature, sizing runs included."""
    from asn1crypto import keys, x509
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class OrgSigner(SimpleSigner):
        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            try:
                name = mechanism.signature_algo
            except ValueError:
                name = mechanism["algorithm"].native
            signature = key.sign_raw(data, digest_algorithm, name)
            return signature if signature is not None else super().sign_raw(data, digest_algorithm)

    certs = [x509.Certificate.load(d) for d in key.chain_der]
    return OrgSigner(signing_cert=certs[0], signing_key=keys.PrivateKeyInfo.load(key.key_der),
                     cert_registry=SimpleCertificateStore.from_certs(certs))


def _organisation(key: OrgKey) -> str:
    from asn1crypto import x509

    subject = x509.Certificate.load(key.cert_der).subject.native
    name = subject.get("organization_name") or subject.get("common_name") or "the organisation"
    return name[0] if isinstance(name, list) and name else str(name)


def organisation_name(key: OrgKey) -> str:
    """The organisation a packet is signed by: its certificate's organisation (O), else its CN."""
    return _organisation(key)


def has_revocation_info(key: OrgKey) -> bool:
    """Whether the signing certificate names an OCSP responder or a CRL: then packets are B-LT."""
    from asn1crypto import x509

    cert = x509.Certificate.load(key.cert_der)
    return bool(cert.ocsp_urls or cert.crl_distribution_points)


def _long_term_context(key: OrgKey):
    """What the signer checks the chain with and embeds: the chain's last certificate trusted,
    revocation answers fetched (and required wherever the certificates point to them)."""
    from asn1crypto import x509
    from pyhanko_certvalidator import ValidationContext

    chain = [x509.Certificate.load(d) for d in key.chain_der]
    return ValidationContext(trust_roots=[chain[-1]], other_certs=chain[1:], allow_fetching=True,
                             revocation_mode="hard-fail")


def _dss_settings():
    """Validation data written before the document timestamp, so that the timestamp is the
    last revision and covers every byte (no VRI: PAdES does not need it)."""
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings, TimestampDSSContentSettings

    return DSSContentSettings(include_vri=False,
                              next_ts_settings=TimestampDSSContentSettings(include_vri=False, update_before_ts=True))


def _level(lt: bool, tsa: bool) -> str:
    if lt:
        return "PAdES-B-LTA" if tsa else "PAdES-B-B with validation data"
    return "PAdES-B-T" if tsa else "PAdES-B-B"


def _refused(error: Exception) -> RefugeError:
    """The one error for a signing certificate the chain check refuses (revoked, unreachable responder)."""
    text = " ".join(str(a) for e in (error, error.__cause__, error.__context__) if e is not None for a in e.args)
    kinds = {type(e).__name__ for e in (error, error.__cause__, error.__context__) if e is not None}
    if "revoked" in text.lower() or "RevokedError" in kinds:
        return VerificationFailed("the organisation certificate is revoked (its revocation service says so); "
                                  "the packet was not signed", hint="org-revoked")
    return RefugeError("the organisation certificate's revocation status could not be fetched (OCSP or CRL); "
                       "the packet was not signed", hint="org-revocation-unreachable")


def encrypt_pdf(data: bytes, password: str) -> bytes:
    """Encrypt a PDF with the standard security handler, AES-256 (PDF 2.0, revision 6).

    The owner password is random and discarded: nobody can lift the protection, and every
    permission is granted to whoever opens the file with ``password``.
    """
    import pikepdf

    if not password:
        raise InvalidInput("the password file is empty; put the packet's password on its first line")
    out = io.BytesIO()
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pdf.save(out, encryption=pikepdf.Encryption(user=password, owner=secrets.token_urlsafe(32), R=6, aes=True))
    except pikepdf.PdfError:
        raise RefugeError("the assembled packet could not be encrypted; run again with REFUGE_DEBUG=1 and report it") from None
    return out.getvalue()


def sign_pdf(data: bytes, key: OrgKey, *, signer_name: str = "", visible: bool = False,
             box: tuple[int, int, int, int] | None = None, reason: str = "Referral packet",
             tsa_url: str | None = None, password: str | None = None,
             when: dt.datetime | None = None, counsel: str | None = None) -> bytes:
    """Sign a finished PDF with the organisation key; returns the signed bytes.

    Args:
        data: the PDF, final (an encrypted one needs ``password``).
        key: the organisation key (vault.orgkey.unwrap).
        signer_name: ignored (kept for callers): the packet is signed by the organisation,
            and /Name and the block name the certificate's organisation, never a person.
        visible: draw a signature block on page 1, in ``box`` (default :func:`signature_box`).
        reason: the signature's /Reason.
        tsa_url: an RFC 3161 timestamp authority; with it the signature is PAdES B-T.
        password: the user password of an encrypted ``data``.
        when: the signing time (/M), also shown in the block; default now, or SOURCE_DATE_EPOCH.
        counsel: the counsel of record, shown under the organisation when the profile asks.

    With a certificate that names revocation services, the chain and their answers are
    embedded (and a document timestamp added over them when ``tsa_url`` is set).

    Raises:
        RefugeError: the timestamp authority or revocation service did not answer, or the
            PDF cannot be signed. VerificationFailed: the certificate is revoked.
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers.pdf_byterange import BuildProps
    from pyhanko.sign.timestamps import HTTPTimeStamper, TimestampRequestError
    from pyhanko.stamp import TextStampStyle

    from pyhanko.sign.general import SigningError
    from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError

    organisation = _organisation(key)
    lt = has_revocation_info(key)
    when = (when or signing_time()).astimezone(dt.timezone.utc).replace(microsecond=0)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        if writer.prev.encrypted:
            if not password:
                raise InvalidInput("the packet is encrypted; give its password to sign it")
            writer.encrypt(password)
        _reproducible(writer, data, when)
        field_box = None
        if visible:
            field_box = box or signature_box(*_first_page_size(data, password))
        meta = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason, name=_latin(organisation),
            app_build_props=BuildProps(name="refuge", revision=_version()),
            embed_validation_info=lt, validation_context=_long_term_context(key) if lt else None,
            use_pades_lta=bool(lt and tsa_url), dss_settings=_dss_settings(),
        )
        style = TextStampStyle(
            stamp_text="Signed for %(org)s\n%(counsel)sDate: %(date)s",
            border_width=1, background=None,
        )
        pdf_signer = _pdf_signer_at(
            when, meta, _signer(key),
            timestamper=HTTPTimeStamper(tsa_url, timeout=20) if tsa_url else None,
            stamp_style=style,
            new_field_spec=fields.SigFieldSpec(sig_field_name=SIGNATURE_FIELD, on_page=0, box=field_box),
        )
        out = pdf_signer.sign_pdf(writer, appearance_text_params={
            "org": _latin(organisation), "counsel": f"Counsel of record: {_latin(counsel)}\n" if counsel else "",
            "date": when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    except (SigningError, RevokedError, PathValidationError, PathBuildingError) as e:
        if isinstance(e, SigningError) and not lt:
            raise RefugeError(f"the packet could not be signed ({type(e).__name__}); run again with REFUGE_DEBUG=1"
                              " and report it") from e
        raise _refused(e) from None
    except TimestampRequestError:
        raise RefugeError(f"the timestamp authority {tsa_url} did not answer", hint="tsa-unreachable") from None
    except RefugeError:
        raise
    except (PdfError, ValueError, KeyError) as e:
        raise RefugeError(f"the packet could not be signed ({type(e).__name__}); run again with REFUGE_DEBUG=1 and report it") from e
    return out.getvalue()


def signing_time() -> dt.datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds: same state, same bytes)."""
    return source_date_epoch() or dt.datetime.now(dt.timezone.utc)


def _pdf_signer_at(when: dt.datetime, *args, **kwargs):
    """A pyHanko PdfSigner whose signing time is ``when``, not read from the clock."""
    from pyhanko.sign import signers

    class PdfSignerAt(signers.PdfSigner):
        def init_signing_session(self, pdf_out, existing_fields_only=False):
            session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
            session.system_time = when
            return session

    return PdfSignerAt(*args, **kwargs)


def _reproducible(writer, data: bytes, when: dt.datetime) -> None:
    """Make the update depend only on its input and ``when``: no clock, no randomness.

    pyHanko gives the updated file a random second /ID and stamps /ModDate with the
    clock; this module derives the /ID from the content and time, and dates the update
    ``when`` (the signing time), so that the same vault state builds the same bytes.
    """
    import dataclasses

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.metadata.model import DocumentMetadata

    current = getattr(writer, "_document_id", None)
    if current is not None and len(current) == 2:
        id2 = hashlib.sha256(b"refuge signed\n" + when.isoformat().encode() + b"\n" + data).digest()[:16]
        writer._document_id = generic.ArrayObject([current[0], generic.ByteStringObject(id2)])

    class DatedMetadata(DocumentMetadata):
        def __setattr__(self, name, value):
            super().__setattr__(name, when if name == "last_modified" and value == "now" else value)

    meta = getattr(writer, "_meta", None)
    if isinstance(meta, DocumentMetadata):
        writer._meta = DatedMetadata(**{f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)})


def _first_page_size(data: bytes, password: str | None) -> tuple[float, float]:
    import pikepdf

    with pikepdf.open(io.BytesIO(data), password=password or "") as pdf:
        x0, y0, x1, y1 = (float(v) for v in pdf.pages[0].mediabox)
    return (abs(x1 - x0), abs(y1 - y0))


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("refuge")
    except Exception:  # noqa: BLE001 (not installed: running from a checkout)
        return "0"


# --- the manifest ---------------------------------------------------------------------------


def manifest_bytes(manifest: dict) -> bytes:
    """The one byte form of a manifest that is signed: canonical JSON, UTF-8."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_manifest(manifest: dict, key: OrgKey, when: dt.datetime | None = None) -> str:
    """A detached CMS signature (base64 DER) of the manifest, by the organisation key."""
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    signer = _signer(key)
    content = asyncio.run(signer.async_sign_general_data(
        manifest_bytes(manifest), "sha256", detached=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=when or signing_time())))
    return base64.b64encode(content.dump()).decode()


def manifest_file(manifest: dict, signature: str | None) -> bytes:
    """The manifest file a build may write next to the packet: the manifest and its signature, as JSON."""
    return (json.dumps({"manifest": manifest, "signature": signature}, indent=2, sort_keys=True,
                       ensure_ascii=False) + "\n").encode()


# --- a whole packet ---------------------------------------------------------------------------


@dataclass
class SignedVolume:
    number: int
    data: bytes = field(repr=False)
    sha256_unsigned: str
    size_unsigned: int

    def as_dict(self, first_page: int, last_page: int, items: list[str]) -> dict:
        return {"number": self.number, "pages": [first_page, last_page], "documents": list(items),
                "sha256_before_signing": self.sha256_unsigned, "size_before_signing": self.size_unsigned,
                "sha256": hashlib.sha256(self.data).hexdigest(), "size": len(self.data)}


@dataclass
class Sealed:
    """A packet ready to leave: its volumes' final bytes and its signed manifest."""

    volumes: list[bytes] = field(repr=False)
    manifest: dict
    manifest_sig: str | None
    manifest_key: str = field(default="", repr=False)  # hex: the key of the manifest's original_hmac values

    def manifest_file(self) -> bytes:
        return manifest_file(self.manifest, self.manifest_sig)


def original_hmac(key: bytes, sha256_hex: str) -> str:
    """How a manifest names an original: HMAC-SHA-256, under the packet's own key, of its SHA-256.

    A plain SHA-256 would let anyone who holds a candidate original (an
    abuser who kept a copy of a passport) confirm that it was disclosed; the
    key stays in the case's encrypted disclosure record, so only the team can
    show which original a packet carried.
    """
    return hmac.new(key, bytes.fromhex(sha256_hex), hashlib.sha256).hexdigest()


def manifest_entries(plan, consents: list[dict], volumes, key: bytes) -> tuple[list[dict], list[dict]]:
    """The manifest's documents and consents: opaque ids, versions, keyed digests, dates; no notes."""
    where = {doc_id: v.number for v in volumes for doc_id in v.items}
    documents = [{"id": e.doc.id, "version": e.doc.version, "type": e.doc.type,
                  "original_hmac": original_hmac(key, e.doc.sha256),
                  "volume": where.get(e.doc.id), "consent_seq": e.consent_seq} for e in plan.included]
    used = {e.consent_seq for e in plan.included if e.consent_seq is not None}
    listed = [{"seq": c["seq"], "recipient": c["recipient"], "granted_at": c["at"], "expires": c.get("expires"),
               "scope": "listed documents" if c.get("docs") else "all documents"}
              for c in consents if c.get("seq") in used]
    return documents, listed


def signing_key(vault, profile) -> OrgKey | None:
    """The organisation key, unwrapped: required when the profile requires a signature.

    Raises:
        InvalidInput: the profile requires a signature and there is no organisation key.
        NotPermitted: the organisation key is not wrapped to this person.
    """
    from vault import orgkey

    if profile.signature.required:
        return orgkey.unwrap(vault)
    try:
        return orgkey.unwrap(vault)  # the manifest is signed whenever the key is at hand
    except RefugeError:
        return None


def seal(profile, volumes, plan, consents: list[dict], date: str, builder: str, *, signer_name: str,
         key: OrgKey | None, tsa_url: str | None = None, password: str | None = None,
         redactions: dict | None = None, counsel: str | None = None) -> Sealed:
    """Encrypt (with ``password``), sign each volume and sign the manifest: the last writes.

    ``volumes`` are the assembler's (``.number``, ``.data``, ``.first_page``, ``.last_page``,
    ``.items``); ``plan`` and ``consents`` (the case's) give the manifest's documents and
    consents. Volumes are signed when the profile requires it (every shipped profile
    does), with ``key`` (the organisation key, see :func:`signing_key`), naming
    ``signer_name`` and timestamped by ``tsa_url`` when one is set; the manifest is
    signed whenever ``key`` is at hand.

    Raises:
        InvalidInput: the profile requires a signature and there is no key, or a signed
            volume exceeds the profile's size limit.
    """
    if profile.signature.required and key is None:
        raise InvalidInput(f"{profile.id} packets must be signed and no organisation key is at hand")
    tsa = tsa_url if profile.signature.required else None
    when = signing_time()
    signed: list[SignedVolume] = []
    for vol in volumes:
        data = vol.data
        if password:
            data = encrypt_pdf(data, password)
        before = hashlib.sha256(data).hexdigest(), len(data)
        if profile.signature.required:
            box = signature_box(profile.page_width, profile.page_height, profile.margins) \
                if profile.signature.visible and vol.number == 1 else None
            data = sign_pdf(data, key, visible=box is not None, box=box,
                            reason=f"Referral packet for {profile.organisation}", tsa_url=tsa, password=password,
                            when=when, counsel=counsel if getattr(profile.signature, "show_counsel", False) else None)
        limit = profile.volumes.max_bytes
        if limit is not None and len(data) > limit:
            raise InvalidInput(f"volume {vol.number} is {len(data)} bytes once signed, over {profile.id}'s limit of "
                               f"{limit}; leave documents out or lower image resolution")
        signed.append(SignedVolume(vol.number, data, *before))
    manifest_key = secrets.token_bytes(32)  # kept in the disclosure record, never in the manifest
    documents, used = manifest_entries(plan, consents, volumes, manifest_key)
    manifest = {
        "format": MANIFEST_FORMAT, "version": 1,
        "profile": {"id": profile.id, "version": profile.version},
        "builder": builder, "date": date,
        "documents": documents,
        "volumes": [s.as_dict(v.first_page, v.last_page, v.items) for s, v in zip(signed, volumes)],
        "redactions": dict(redactions or {}),
        "consents": used,
        "consent_overridden": bool(plan.override),
        "encrypted": bool(password),
        "signature": ({"level": _level(has_revocation_info(key), bool(tsa)), "key_version": key.version,
                       "organisation": _organisation(key),
                       "certificate_sha256": hashlib.sha256(key.cert_der).hexdigest()}
                      if profile.signature.required else None),
    }
    return Sealed([s.data for s in signed], manifest, sign_manifest(manifest, key, when) if key else None,
                  manifest_key.hex())
