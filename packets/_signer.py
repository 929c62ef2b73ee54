"""Who a packet is signed by, as its recipient validates it, and at which PAdES level.

The rule. A recipient validates the signature, and the name it validates is the signing
certificate's organisation (its O, else its CN): that is what the signature's /Name, the
visible block, ``packet verify`` and ``packet history`` show. The letterhead's name is the
organisation's details (an admin's ``name``). When the two differ, a recipient reads a
letter from one organisation signed by another: either the wrong key was imported or the
name was mistyped, and every packet would repeat it; a warning scrolls past a hurried
build, while the recipient is the one who must decide whether to trust the packet. So a
build whose organisation name differs from the certificate's is refused (exit 4) before
anything is decrypted, until an admin makes them agree (the name set to the certificate's,
or a certificate issued to the name). Names are compared ignoring case, accents, spacing and
punctuation. A sender named for one build (``sender``) is that person's deliberate choice,
shown next to the validated signature: it is let through with a warning.

The level. A signature is B-B; with an RFC 3161 timestamp B-T; a certificate that names
revocation services adds validation data (the chain, OCSP answers or CRLs); with both the
packet is B-LTA (a document timestamp over the validation data). Validation data without a
timestamp is *not* B-LT (nothing proves when it was signed): it is reported as "PAdES-B-B
with validation data", in the plan, the build's output, the disclosure record and the docs.
"""

from __future__ import annotations

import re
import unicodedata

from vault.errors import NotPermitted

__all__ = ["check_names", "expected_level", "same_name", "signature_plan"]

LONG_TERM = ("PAdES-B-LT", "PAdES-B-LTA")


def same_name(a: str, b: str) -> bool:
    """Whether two organisation names are the same, ignoring case, accents, spacing and punctuation."""
    def norm(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return " ".join(re.sub(r"[\W_]+", " ", text).split())

    return norm(a) == norm(b)


def check_names(org_name: str, sender: str, cert_org: str | None) -> list[str]:
    """The rule above: NotPermitted (hint ``org-name-mismatch``) when the organisation's name
    differs from the certificate's; the warnings for a build's own sender that differs."""
    if not cert_org:
        return []
    if sender.strip():
        if same_name(sender, cert_org):
            return []
        return [(f"the letter names {sender.strip()!r} as the sender, but the packet is signed by {cert_org!r}"
                 " (its certificate's organisation, the name the recipient validates)")]
    if org_name and not same_name(org_name, cert_org):
        raise NotPermitted(f"the organisation's name {org_name!r} (the letterhead) is not the signing certificate's "
                           f"organisation {cert_org!r} (what the recipient validates); nothing was built",
                           hint="org-name-mismatch")
    return []


def expected_level(cert_der: bytes | None, tsa: bool) -> str | None:
    """The PAdES level a packet signed with this certificate (and a timestamp authority or not) gets."""
    if cert_der is None:
        return None
    from asn1crypto import x509

    cert = x509.Certificate.load(cert_der)
    if cert.ocsp_urls or cert.crl_distribution_points:
        return "PAdES-B-LTA" if tsa else "PAdES-B-B with validation data"
    return "PAdES-B-T" if tsa else "PAdES-B-B"


def signature_plan(vault, profile, tsa: str | None = None) -> dict:
    """What signing will do for ``profile``: the organisation the recipient validates, the name
    the letter shows, whether they agree, the timestamp authority and the level."""
    from asn1crypto import pem

    from vault import orgdetails, orgkey

    if not profile.signature.required:
        return {"required": False, "level": None}
    cert = orgkey.current(vault)
    tsa = tsa or orgkey.tsa_url(vault)
    details = orgdetails.details(vault)
    info = cert.as_dict() if cert else {}
    org = info.get("organisation")
    level = expected_level(pem.unarmor(cert.cert_pem)[2], bool(tsa)) if cert else None
    name = details.get("name", "")
    return {"required": True, "organisation": org, "letter_name": name or None,
            "names_agree": bool(not name or not org or same_name(name, org)), "timestamp_authority": tsa,
            "level": level, "long_term": level in LONG_TERM, "key": bool(cert)}
