"""Signing packets: PAdES B-B and B-T, the visible block, encryption, manifests; pdfsig agrees."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess

import pikepdf
import pytest

from conftest import require_tool
from signing_fixtures import LocalTSA, ca_issued, closed_port_url, org_key, pdf_bytes

from packets.sign import (SIGNATURE_FIELD, encrypt_pdf, manifest_file, sign_manifest, sign_pdf,
                          signature_box)
from packets.verify import check_packet, load_certificates
from vault.errors import RefugeError

UTC = dt.timezone.utc


def pdfsig(path, *extra) -> str:
    p = subprocess.run([require_tool("pdfsig"), *extra, str(path)], capture_output=True, timeout=60)
    return p.stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def org():
    return org_key("Clínica Jurídica de Prueba")


def test_b_b_signature_is_valid_for_pdfsig_and_for_us(org, tmp_path):
    key, cert_pem = org
    signed = sign_pdf(pdf_bytes(), key, signer_name="erin")
    (tmp_path / "p.pdf").write_bytes(signed)
    out = pdfsig(tmp_path / "p.pdf")
    assert "Signature is Valid" in out and "Total document signed" in out and "ETSI.CAdES.detached" in out
    report = check_packet(signed, load_certificates(cert_pem))
    assert report.ok, report.reason
    assert report.level == "PAdES-B-B" and report.timestamp is None
    # signed by the organisation: /Name is the organisation, never the login of who built it
    assert report.signer == "Clínica Jurídica de Prueba" and report.organisation == "Clínica Jurídica de Prueba"
    assert b"erin" not in signed
    assert report.intact and report.covers_whole_file and report.trusted


def test_signing_is_an_incremental_update_that_keeps_the_original_bytes(org):
    key, _ = org
    original = pdf_bytes()
    signed = sign_pdf(original, key, signer_name="erin")
    assert signed.startswith(original) and len(signed) > len(original)


def test_the_certificate_has_the_usages_readers_require(org):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    cert = x509.load_pem_x509_certificate(org[1])
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment and not ku.value.key_cert_sign
    eku = [o.dotted_string for o in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    assert "1.3.6.1.5.5.7.3.36" in eku and "1.3.6.1.5.5.7.3.4" in eku  # documentSigning, emailProtection
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 3072


def test_visible_block_on_page_one_names_signer_organisation_and_date(org, tmp_path):
    key, _ = org
    when = dt.datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    box = signature_box(595.28, 841.89)
    signed = sign_pdf(pdf_bytes(), key, signer_name="erin", visible=True, box=box, when=when)
    (tmp_path / "v.pdf").write_bytes(signed)
    with pikepdf.open(tmp_path / "v.pdf") as pdf:
        annots = [a for a in pdf.pages[0].get("/Annots", []) if a.get("/FT") == "/Sig"]
        assert len(annots) == 1 and [round(float(v)) for v in annots[0].Rect] == list(box)
        assert not any(a.get("/FT") == "/Sig" for p in pdf.pages[1:] for a in p.get("/Annots", []))
    text = subprocess.run([require_tool("pdftotext"), "-f", "1", "-l", "1", str(tmp_path / "v.pdf"), "-"],
                          capture_output=True, check=True).stdout.decode()
    assert "Signed for Clínica Jurídica de Prueba" in text and "2026-11-20 09:30 UTC" in text
    assert "erin" not in text and b"erin" not in signed
    assert "Signature is Valid" in pdfsig(tmp_path / "v.pdf")


def test_invisible_signature_has_no_block(org, tmp_path):
    key, _ = org
    (tmp_path / "i.pdf").write_bytes(sign_pdf(pdf_bytes(), key, signer_name="erin", visible=False))
    with pikepdf.open(tmp_path / "i.pdf") as pdf:
        [annot] = [a for a in pdf.pages[0].get("/Annots", []) if a.get("/FT") == "/Sig"]
        assert [float(v) for v in annot.Rect] == [0, 0, 0, 0]
        assert str(annot.T) == SIGNATURE_FIELD


def test_same_input_and_time_give_the_same_bytes(org):
    key, _ = org
    when = dt.datetime(2026, 1, 1, tzinfo=UTC)
    data = pdf_bytes()
    assert sign_pdf(data, key, signer_name="erin", visible=True, when=when) == \
        sign_pdf(data, key, signer_name="erin", visible=True, when=when)


def test_b_t_carries_a_timestamp_from_the_authority(org, tmp_path):
    key, cert_pem = org
    with LocalTSA() as tsa:
        signed = sign_pdf(pdf_bytes(), key, signer_name="erin", tsa_url=tsa.url)
        assert tsa.requests >= 1
    (tmp_path / "t.pdf").write_bytes(signed)
    assert "Signature is Valid" in pdfsig(tmp_path / "t.pdf")
    report = check_packet(signed, load_certificates(cert_pem) + load_certificates(tsa.root_pem))
    assert report.ok, report.reason
    assert report.level == "PAdES-B-T" and report.timestamp["trusted"] and report.timestamp["authority"]
    # the timestamp authority's root must be trusted too
    report = check_packet(signed, load_certificates(cert_pem))
    assert not report.ok and "timestamp authority is not trusted" in report.reason


def test_b_t_outlives_the_certificate(tmp_path):
    key, cert_pem = org_key(days=2)
    with LocalTSA() as tsa:
        signed = sign_pdf(pdf_bytes(), key, signer_name="erin", tsa_url=tsa.url)
        plain = sign_pdf(pdf_bytes(), key, signer_name="erin")
    later = dt.datetime.now(UTC) + dt.timedelta(days=30)
    trust = load_certificates(cert_pem) + load_certificates(tsa.root_pem)
    assert check_packet(signed, trust, at=later).ok  # judged at the trusted timestamp
    report = check_packet(plain, trust, at=later)
    assert not report.ok and "expired" in report.reason


def test_an_unreachable_timestamp_authority_is_one_clear_error(org):
    key, _ = org
    with closed_port_url() as url, pytest.raises(RefugeError, match="did not answer"):
        sign_pdf(pdf_bytes(), key, signer_name="erin", tsa_url=url)


def test_encrypted_then_signed(org, tmp_path):
    key, cert_pem = org
    data = encrypt_pdf(pdf_bytes(), "correct horse battery")
    signed = sign_pdf(data, key, signer_name="erin", visible=True, password="correct horse battery")
    (tmp_path / "e.pdf").write_bytes(signed)
    enc = subprocess.run([require_tool("qpdf"), "--show-encryption", "--password=correct horse battery",
                          str(tmp_path / "e.pdf")], capture_output=True).stdout.decode()
    assert "R = 6" in enc and "AESv3" in enc
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(tmp_path / "e.pdf")
    assert "Signature is Valid" in pdfsig(tmp_path / "e.pdf", "-upw", "correct horse battery")
    assert check_packet(signed, load_certificates(cert_pem), password="correct horse battery").ok
    assert "password" in check_packet(signed, load_certificates(cert_pem)).reason
    assert "does not open" in check_packet(signed, load_certificates(cert_pem), password="wrong").reason


def test_ca_issued_key_signs_and_verifies_against_the_ca_root(tmp_path):
    key, _key_pem, cert_pem, ca_pem = ca_issued()
    signed = sign_pdf(pdf_bytes(), key, signer_name="erin")
    assert check_packet(signed, load_certificates(ca_pem)).ok
    assert check_packet(signed, load_certificates(cert_pem)).ok  # pinning the organisation's own certificate
    other = org_key("Someone Else")[1]
    report = check_packet(signed, load_certificates(other))
    assert not report.ok and "does not chain" in report.reason


def test_manifest_signature_binds_the_manifest_to_the_packet(org):
    key, cert_pem = org
    signed = sign_pdf(pdf_bytes(), key, signer_name="erin")
    import hashlib

    manifest = {"format": "refuge-packet-manifest", "version": 1, "profile": {"id": "unhcr-resettlement", "version": 1},
                "volumes": [{"number": 1, "sha256": hashlib.sha256(signed).hexdigest()}], "documents": []}
    good = manifest_file(manifest, sign_manifest(manifest, key))
    trust = load_certificates(cert_pem)
    report = check_packet(signed, trust, manifest=good)
    assert report.ok and report.manifest["volume"] == 1
    # altered manifest
    doc = json.loads(good)
    doc["manifest"]["profile"]["id"] = "ircc-resettlement"
    report = check_packet(signed, trust, manifest=json.dumps(doc).encode())
    assert not report.ok and "manifest was altered" in report.reason
    # a manifest of another packet
    other = dict(manifest, volumes=[{"number": 1, "sha256": "0" * 64}])
    report = check_packet(signed, trust, manifest=manifest_file(other, sign_manifest(other, key)))
    assert not report.ok and "matches no volume" in report.reason
    # signed by another key
    stranger = org_key("Stranger")[0]
    report = check_packet(signed, trust, manifest=manifest_file(manifest, sign_manifest(manifest, stranger)))
    assert not report.ok and "another certificate" in report.reason


def test_a_certificate_not_made_for_signing_is_refused():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from vault.orgkey import OrgKey

    private = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TLS Only")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=9))
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(private, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    key = OrgKey(1, private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()), (der,))
    report = check_packet(sign_pdf(pdf_bytes(), key, signer_name="erin"), load_certificates(der))
    assert not report.ok and report.intact and "key usage" in report.reason


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_packet_and_its_manifest_load_the_signing_key_once(org, monkeypatch, kind):
    """Loading an RSA 3072 key checks it (about 0.17 s); pyHanko's own signer loaded it for
    every signature, sizing runs included: three times or more per build. Two volumes and a
    manifest, signed with one OrgKey, load it once, and every signature still verifies."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from vault.orgkey import OrgKey, self_signed

    if kind == "rsa":  # the module's key (RSA 3072), as a new OrgKey that has loaded nothing yet
        key, cert_pem = OrgKey(org[0].version, org[0].key_der, org[0].chain_der), org[1]
    else:
        key_pem, cert_pem = self_signed("Test Legal Clinic", key="ec")
        private = serialization.load_pem_private_key(key_pem, None)
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        key = OrgKey(1, der, (x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER),))
    loads = []
    load = serialization.load_der_private_key
    monkeypatch.setattr(serialization, "load_der_private_key", lambda *a, **k: loads.append(1) or load(*a, **k))
    volumes = [sign_pdf(pdf_bytes(), key), sign_pdf(pdf_bytes(pages=3), key, visible=True)]
    manifest = {"format": "refuge-packet-manifest", "version": 1, "documents": [],
                "volumes": [{"number": n, "sha256": hashlib.sha256(v).hexdigest()} for n, v in enumerate(volumes, 1)]}
    signature = sign_manifest(manifest, key)
    assert len(loads) == 1
    for volume in volumes:
        report = check_packet(volume, load_certificates(cert_pem), manifest=manifest_file(manifest, signature))
        assert report.ok and report.manifest["ok"], report.reason
