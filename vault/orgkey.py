"""The organisation's signing key: an X.509 certificate and its private key, in the vault.

Packets leave signed by the organisation (PAdES, packets/sign.py), not by a person, so
that a recipient checks one certificate however the team changes. The key lives in the
vault, never in plaintext on disk:

    org/<vvvv>/cert.pem         the certificate chain, PEM, the signer's certificate first
                                (public: it goes to every recipient anyway)
    org/<vvvv>/key/<user id>    the private key (PKCS#8 PEM), age-encrypted to one holder
    org/<vvvv>/marker           the version's commit marker, signed by the admin who made
                                it: {kind, version, cert_sha256, holders, source, time}
    org/tsa/<nnnnnn>            the timestamp authority to use (or none), signed by an
                                admin; the highest number is in force

Holders are every enrolled admin and case lead (case leads sign the packets they build);
``Vault.add_user`` wraps the key to people enrolled later and ``Vault.remove_user``
deletes the copy of a person removed. A new version (``generate`` or ``import``) is a
rotation: packets signed before still verify with the old certificate.

This module and vault/_crypto.py are the two that touch ``cryptography.hazmat``: this one
only for X.509 keys (generate, load, serialise), which pyHanko needs as standard DER.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from . import age
from .errors import (
    InvalidInput,
    NotFound,
    NotPermitted,
    RefugeError,
    VerificationFailed,
)
from .events import canonical, now, sign_record, verify_record
from .storage import ObjectExists, read_small

__all__ = [
    "OrgCertificate", "OrgKey", "HOLDER_ROLES", "current", "generate", "import_p12", "import_pem",
    "unwrap", "wrap_to", "forget", "rewrap", "set_tsa", "tsa_url", "valid_tsa_url", "self_signed", "fingerprint",
]

PREFIX = "org/"
HOLDER_ROLES = ("admin", "case-lead")
RSA_BITS = 3072            # RSA 3072: verified by poppler (NSS), pyHanko, Acrobat; ~128-bit strength
DEFAULT_DAYS = 3 * 365     # a pilot's self-signed certificate; CA-issued ones carry their own
# RFC 9336 id-kp-documentSigning. emailProtection rides along because NSS (poppler) and
# Acrobat check a signer's EKU against it when an EKU extension is present.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
NO_ORG_KEY = "no organisation signing key"  # hint "org-generate"


# --- certificates (no vault) -----------------------------------------------------------


def fingerprint(cert_der: bytes) -> str:
    """SHA-256 of a certificate, as colon-separated hex (what readers show)."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(cert_der).digest())


def _name_attr(name: x509.Name, oid) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


@dataclass(frozen=True)
class OrgCertificate:
    """The public part of one version of the organisation key: its certificate chain."""

    version: int
    chain_pem: bytes = field(repr=False)

    @property
    def chain(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem)

    @property
    def cert(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert.public_bytes(serialization.Encoding.DER))

    def as_dict(self) -> dict:
        c = self.cert
        return {
            "version": self.version,
            "subject": c.subject.rfc4514_string(),
            "organisation": _name_attr(c.subject, NameOID.ORGANIZATION_NAME) or _name_attr(c.subject, NameOID.COMMON_NAME),
            "issuer": c.issuer.rfc4514_string(),
            "self_signed": c.issuer == c.subject,
            "not_before": c.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": c.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sha256": self.fingerprint,
            "chain": len(self.chain),
        }


@dataclass(frozen=True)
class OrgKey:
    """One version of the organisation key, unwrapped: what signing needs, as DER."""

    version: int
    key_der: bytes = field(repr=False)          # PKCS#8
    chain_der: tuple[bytes, ...] = field(repr=False)  # the signer's certificate first
    # The key as loaded from key_der: loading an RSA key checks it (about 0.17 s for RSA 3072),
    # so it is loaded once per OrgKey, not once per signature (a build signs two to four times).
    loaded: object = field(default=None, repr=False, compare=False)

    @property
    def cert_der(self) -> bytes:
        return self.chain_der[0]

    def sign_raw(self, data: bytes, digest: str, mechanism: str) -> bytes | None:
        """A raw signature of ``data`` by this key, for ``mechanism`` (``rsassa_pkcs1v15`` or
        ``ecdsa``) over ``digest`` (sha256, sha384, sha512); None for any other combination,
        which the caller makes itself."""
        algorithm = _DIGESTS.get(digest)
        if algorithm is None:
            return None
        if self.loaded is None:
            object.__setattr__(self, "loaded", serialization.load_der_private_key(self.key_der, None))
        private = self.loaded
        if mechanism == "rsassa_pkcs1v15" and isinstance(private, rsa.RSAPrivateKey):
            return private.sign(data, padding.PKCS1v15(), algorithm())
        if mechanism == "ecdsa" and isinstance(private, ec.EllipticCurvePrivateKey):
            return private.sign(data, ec.ECDSA(algorithm()))
        return None


_DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def self_signed(name: str, days: int = DEFAULT_DAYS, at: dt.datetime | None = None,
                key: str = "rsa") -> tuple[bytes, bytes]:
    """A new key and a self-signed document-signing certificate for ``name``.

    Returns (PKCS#8 PEM private key, certificate PEM). ``at`` fixes the start of the
    validity (tests make expired certificates with it); ``key`` is ``rsa`` (3072) or
    ``ec`` (P-256).
    """
    name = " ".join(name.split())
    if not name or len(name) > 64 or any(not ch.isprintable() for ch in name):
        raise InvalidInput("the organisation name must be 1 to 64 printable characters")
    if not 1 <= days <= 3650:
        raise InvalidInput("the certificate must be valid for 1 to 3650 days", hint="org-days")
    private = rsa.generate_private_key(65537, RSA_BITS) if key == "rsa" else ec.generate_private_key(ec.SECP256R1())
    start = (at or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(minutes=5)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(private.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(private, hashes.SHA256())
    )
    return (private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()),
            cert.public_bytes(serialization.Encoding.PEM))


def _check_pair(private, chain: list[x509.Certificate]) -> None:
    """Refuse a key and certificate that cannot make signatures recipients accept."""
    if not chain:
        raise InvalidInput("no certificate given", hint="org-cert")
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise InvalidInput(f"the key is RSA {private.key_size}; use RSA 2048 or more (3072 recommended)")
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        if private.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise InvalidInput(f"the key's curve {private.curve.name} is not one PDF readers verify; use P-256 or P-384")
    else:
        raise InvalidInput("the key must be RSA or ECDSA (P-256, P-384); PDF readers verify nothing else reliably")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*spki) != chain[0].public_key().public_bytes(*spki):
        raise InvalidInput("the key does not belong to the certificate; give the certificate first and its key")
    try:
        ku = chain[0].extensions.get_extension_for_class(x509.KeyUsage).value
        if not (ku.digital_signature or ku.content_commitment):
            raise InvalidInput("the certificate does not allow signing (key usage needs digitalSignature or nonRepudiation)")
    except x509.ExtensionNotFound:
        pass
    if chain[0].not_valid_after_utc <= dt.datetime.now(dt.timezone.utc):
        raise InvalidInput("the certificate has expired; get a new one")


def _private_pem(private) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def _chain_pem(chain: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


# --- the vault's copies ----------------------------------------------------------------------


def _versions(vault) -> list[int]:
    return sorted(int(v) for v in vault.backend.children(PREFIX) if v.isdigit())


def _read(vault, key: str) -> bytes:
    return read_small(vault.backend, key)


def _marker(vault, version: int) -> dict | None:
    """The version's commit marker, checked; None if it was never committed."""
    key = f"{PREFIX}{version:04d}/marker"
    if not vault.backend.exists(key):
        return None
    try:
        marker = json.loads(_read(vault, key))
        if not isinstance(marker, dict):
            raise ValueError
    except (ValueError, RecursionError):
        raise VerificationFailed(f"the organisation key's version {version} marker is damaged") from None
    author = vault.directory.users.get(marker.get("author"))
    if author is None or author.role != "admin" or not verify_record(marker, author.public.sign_pub) \
            or marker.get("version") != version or marker.get("kind") != "org-key":
        raise VerificationFailed(f"the organisation key's version {version} is not signed by an admin of this vault")
    return marker


def current(vault) -> OrgCertificate | None:
    """The certificate chain of the organisation key in force, checked; None if there is none."""
    for version in reversed(_versions(vault)):
        marker = _marker(vault, version)
        if marker is None:
            continue  # an interrupted generate/import; never committed
        try:
            chain_pem = _read(vault, f"{PREFIX}{version:04d}/cert.pem")
        except NotFound:
            raise VerificationFailed(f"the organisation certificate of version {version} is missing") from None
        if hashlib.sha256(chain_pem).hexdigest() != marker.get("cert_sha256"):
            raise VerificationFailed(f"the organisation certificate of version {version} was replaced after it was made")
        return OrgCertificate(version, chain_pem)
    return None


def _holders(vault) -> list:
    return [u for u in vault.directory.users.values() if u.role in HOLDER_ROLES and not u.removed]


def _store(vault, private, chain: list[x509.Certificate], source: str) -> OrgCertificate:
    """Write a new version: the chain, the key to each holder, then the signed marker."""
    vault.require_role("admin", doing="setting the organisation signing key")
    _check_pair(private, chain)
    taken = _versions(vault)
    version = (taken[-1] if taken else 0) + 1
    base = f"{PREFIX}{version:04d}"
    chain_pem = _chain_pem(chain)
    key_pem = _private_pem(private)
    holders = _holders(vault)
    try:
        vault.backend.put(f"{base}/cert.pem", chain_pem)
        for u in holders:
            vault.backend.put(f"{base}/key/{u.user_id}", age.encrypt_bytes([u.public.age_recipient], key_pem))
        marker = sign_record(vault.me, {"kind": "org-key", "version": version, "source": source, "time": now(),
                                        "cert_sha256": hashlib.sha256(chain_pem).hexdigest(),
                                        "holders": sorted(u.user_id for u in holders)})
        vault.backend.put(f"{base}/marker", canonical(marker))
    except ObjectExists:
        raise RefugeError("someone else changed the organisation key at the same moment; run the command again") from None
    return OrgCertificate(version, chain_pem)


def generate(vault, name: str, days: int = DEFAULT_DAYS) -> OrgCertificate:
    """Make a new key and self-signed certificate for the organisation (admins; pilots and tests)."""
    vault.require_role("admin", doing="generating the organisation signing key")
    key_pem, cert_pem = self_signed(name, days)
    return _store(vault, serialization.load_pem_private_key(key_pem, None),
                  x509.load_pem_x509_certificates(cert_pem), "generated")


def import_p12(vault, data: bytes, passphrase: str | None = None) -> OrgCertificate:
    """Store a key and certificate chain from a PKCS#12 file (admins)."""
    vault.require_role("admin", doing="importing the organisation signing key")
    try:
        private, cert, extra = pkcs12.load_key_and_certificates(data, passphrase.encode() if passphrase else None)
    except ValueError:
        raise InvalidInput("the .p12 file does not open: wrong passphrase or not PKCS#12", hint="passphrase-file") from None
    if private is None or cert is None:
        raise InvalidInput("the .p12 file holds no key and certificate pair")
    return _store(vault, private, [cert, *extra], "imported")


def import_pem(vault, key_pem: bytes, cert_pem: bytes, chain_pem: bytes | None = None,
               passphrase: str | None = None) -> OrgCertificate:
    """Store a PEM key and certificate (and the CA chain, if any) (admins)."""
    vault.require_role("admin", doing="importing the organisation signing key")
    try:
        private = serialization.load_pem_private_key(key_pem, passphrase.encode() if passphrase else None)
    except TypeError:
        raise InvalidInput("the key is encrypted", hint="key-passphrase") from None
    except ValueError:
        raise InvalidInput("the key does not open: wrong passphrase, or not a PEM private key") from None
    try:
        chain = x509.load_pem_x509_certificates(cert_pem) + (x509.load_pem_x509_certificates(chain_pem) if chain_pem else [])
    except ValueError:
        raise InvalidInput("the certificate (or chain) is not PEM; convert it with openssl x509 -inform der") from None
    return _store(vault, private, chain, "imported")


def unwrap(vault) -> OrgKey:
    """The organisation key in force, decrypted in memory for signing.

    Raises:
        InvalidInput: there is no organisation key yet.
        NotPermitted: the key is not wrapped to this person.
        VerificationFailed: the key or its certificate was altered.
    """
    cert = current(vault)
    if cert is None:
        raise InvalidInput(NO_ORG_KEY, hint="org-generate")
    key = f"{PREFIX}{cert.version:04d}/key/{vault.me.user_id}"
    if not vault.backend.exists(key):
        if vault.role not in HOLDER_ROLES:
            raise NotPermitted(f"signing with the organisation key needs the case-lead or admin role; {vault.me.name} is {vault.role}")
        raise NotPermitted(f"the organisation signing key is not wrapped to {vault.me.name}", hint="org-rewrap")
    try:
        pem = age.decrypt_bytes([vault.me.age_identity], _read(vault, key))
        private = serialization.load_pem_private_key(pem, None)
    except (age.AgeError, ValueError, TypeError):
        raise VerificationFailed("your copy of the organisation signing key does not decrypt; it was altered") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*spki) != cert.cert.public_key().public_bytes(*spki):
        raise VerificationFailed("your copy of the organisation signing key does not match its certificate; it was replaced")
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return OrgKey(cert.version, der, tuple(c.public_bytes(serialization.Encoding.DER) for c in cert.chain), private)


def _wrap(vault, cert: OrgCertificate, users) -> list[str]:
    """Wrap my copy of ``cert``'s key to ``users`` who lack one; returns their ids."""
    mine = f"{PREFIX}{cert.version:04d}/key/{vault.me.user_id}"
    if not vault.backend.exists(mine):
        return []
    pem = age.decrypt_bytes([vault.me.age_identity], _read(vault, mine))
    done = []
    for u in users:
        key = f"{PREFIX}{cert.version:04d}/key/{u.user_id}"
        if vault.backend.exists(key):
            continue
        try:
            vault.backend.put(key, age.encrypt_bytes([u.public.age_recipient], pem))
        except ObjectExists:
            continue
        done.append(u.user_id)
    return done


def wrap_to(vault, user) -> None:
    """Give a newly enrolled admin or case lead their copy of the key in force (if I hold it)."""
    if user.role not in HOLDER_ROLES:
        return
    try:
        cert = current(vault)
        if cert is not None:
            _wrap(vault, cert, [user])
    except (RefugeError, age.AgeError):
        pass  # enrolment stands; rewrap (by an admin) reports what is wrong and finishes the job


def forget(vault, user_id: str) -> None:
    """Delete every copy of the organisation key wrapped to a removed person."""
    for version in _versions(vault):
        key = f"{PREFIX}{version:04d}/key/{user_id}"
        if vault.backend.exists(key):
            vault.backend.delete(key)


def rewrap(vault) -> list[str]:
    """Wrap the key in force to every admin and case lead who lacks a copy (admins)."""
    vault.require_role("admin", doing="wrapping the organisation signing key")
    cert = current(vault)
    if cert is None:
        raise InvalidInput(NO_ORG_KEY, hint="org-generate")
    if not vault.backend.exists(f"{PREFIX}{cert.version:04d}/key/{vault.me.user_id}"):
        raise NotPermitted(f"the organisation signing key is not wrapped to {vault.me.name}", hint="org-rewrap-holder")
    return _wrap(vault, cert, _holders(vault))


# --- the timestamp authority setting --------------------------------------------------------


def _check_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url):
        raise InvalidInput("the timestamp authority must be an http:// or https:// URL")
    return url


def valid_tsa_url(url: str) -> str:
    """``url`` if it is an http(s) URL a timestamp authority can have; else InvalidInput."""
    return _check_url(url)


def set_tsa(vault, url: str | None) -> None:
    """Set (or, with None, clear) the RFC 3161 timestamp authority packets use (admins)."""
    vault.require_role("admin", doing="setting the timestamp authority")
    if url is not None:
        _check_url(url)
    taken = [int(n) for n in vault.backend.children(f"{PREFIX}tsa/") if n.isdigit()]
    seq = (max(taken) if taken else 0) + 1
    record = sign_record(vault.me, {"kind": "org-tsa", "seq": seq, "url": url, "time": now()})
    try:
        vault.backend.put(f"{PREFIX}tsa/{seq:06d}", canonical(record))
    except ObjectExists:
        raise RefugeError("someone else changed the timestamp authority at the same moment; run the command again") from None


def tsa_url(vault) -> str | None:
    """The timestamp authority in force, checked; None when packets are not timestamped."""
    taken = sorted(int(n) for n in vault.backend.children(f"{PREFIX}tsa/") if n.isdigit())
    if not taken:
        return None
    seq = taken[-1]
    try:
        record = json.loads(_read(vault, f"{PREFIX}tsa/{seq:06d}"))
        if not isinstance(record, dict):
            raise ValueError
    except (ValueError, RecursionError):
        record = {}
    author = vault.directory.users.get(record.get("author"))
    if author is None or author.role != "admin" or not verify_record(record, author.public.sign_pub) \
            or record.get("seq") != seq or record.get("kind") != "org-tsa":
        raise VerificationFailed("the timestamp authority setting is not signed by an admin of this vault")
    url = record.get("url")
    return _check_url(url) if url is not None else None
