"""Signatures as the organisation, PAdES B-LT and B-LTA, against a local test PKI
(certomancer's OCSP responder, CRL and TSA on 127.0.0.1, tests/local_pki.py).

Checked with pyHanko's AdES validator (long-term validation with no fetching: the
revocation data must be in the file) and with poppler's pdfsig; an OCSP responder that
says "revoked" stops the signing; a change made after the document timestamp is caught.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess

import pytest

import local_pki
from conftest import ACCEPT_GAPS, require_tool
from packets.sign import sign_pdf
from packets.verify import check_packet, load_certificates
from signing_fixtures import pdf_bytes
from vault.errors import RefugeError, VerificationFailed


@pytest.fixture(scope="module")
def pki():
    with local_pki.serve() as served:
        yield served


def _ades(data: bytes, root_der: bytes):
    """pyHanko's AdES long-term validation, allowed no network: everything must be embedded."""
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (PdfSignatureValidationSpec, RevinfoOnlineFetchingRule,
                                                     RevocationInfoGatheringSpec, SignatureValidationSpec)
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[x509.Certificate.load(root_der)]),
            revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO)),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY)))
    reader = PdfFileReader(io.BytesIO(data))
    return asyncio.run(ades_lta_validation(reader.embedded_signatures[0], spec))


def _pdfsig(tmp_path, data: bytes) -> str:
    path = tmp_path / "signed.pdf"
    path.write_bytes(data)
    return subprocess.run([require_tool("pdfsig"), str(path)], capture_output=True).stdout.decode()


def test_b_lta_validates_with_embedded_revocation_data_and_a_document_timestamp(pki, tmp_path):
    from pyhanko.sign.ades.report import AdESPassed

    signed = sign_pdf(pdf_bytes(), pki.org_key(), visible=True, tsa_url=pki.tsa_url)
    result = _ades(signed, pki.root_der)
    assert result.ades_subindic == AdESPassed.OK and result.api_status.trusted
    report = check_packet(signed, [*load_certificates(pki.root_pem)])
    assert report.ok, report.reason
    assert report.level == "PAdES-B-LTA" and report.revocation_info and report.covers_whole_file
    assert report.document_timestamp["trusted"] and "Test Timestamp Authority" in report.document_timestamp["authority"]
    assert report.signer == report.organisation == "Clinique Juridique Test"
    out = _pdfsig(tmp_path, signed)
    assert "Clinique Juridique Test" in out and "Signature is Valid" in out
    assert out.rstrip().count("Total document signed") == 1  # the document timestamp, made last, covers it all


def test_b_lt_without_a_timestamp_authority_embeds_the_revocation_data(pki, tmp_path):
    """No TSA: the OCSP answer and the chain are still embedded, so the signature can be
    checked without the network, revocation included."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    signed = sign_pdf(pdf_bytes(), pki.org_key())
    reader = PdfFileReader(io.BytesIO(signed))
    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.ocsps and dss.load_certs()
    context = dss.as_validation_context({"trust_roots": [load_certificates(pki.root_pem)[0]],
                                         "allow_fetching": False, "revocation_mode": "require"})
    status = validate_pdf_signature(reader.embedded_signatures[0], context)
    assert status.trusted and status.intact and status.valid and not status.revoked
    report = check_packet(signed, load_certificates(pki.root_pem))
    assert report.ok and report.revocation_info and report.level == "PAdES-B-B with validation data"


def test_an_ocsp_responder_that_says_revoked_stops_the_signing(pki):
    with pytest.raises(VerificationFailed) as info:
        sign_pdf(pdf_bytes(), pki.org_key("revoked"), tsa_url=pki.tsa_url)
    assert info.value.hint == "org-revoked" and "revoked" in str(info.value)


def test_a_change_after_the_document_timestamp_is_caught(pki):
    """An attacker adds a page-content revision after the archive timestamp."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    signed = sign_pdf(pdf_bytes(), pki.org_key(), tsa_url=pki.tsa_url)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 72 Td (forged) Tj ET"))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    report = check_packet(out.getvalue(), load_certificates(pki.root_pem))
    assert not report.ok and not report.covers_whole_file
    assert "does not cover the whole file" in report.reason


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_the_org_key_import_takes_a_certomancer_issued_key_and_the_cli_builds_b_lta(pki, case_world, tmp_path):
    w = case_world
    key_pem, cert_pem, chain_pem = pki.org
    for name, data in (("key.pem", key_pem), ("cert.pem", cert_pem), ("chain.pem", chain_pem)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    w.ok("keys", "org", "import", "--key", str(tmp_path / "key.pem"), "--cert", str(tmp_path / "cert.pem"),
         "--chain", str(tmp_path / "chain.pem"), user="alice")
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    build = ("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "--allow-incomplete")
    # The letterhead's name (org set) is not the certificate's: refused before any work, nothing written.
    w.ok("org", "set", "name=Fictional Legal Clinic", user="alice")
    plan = w.ok("packet", "plan", "MX-0001", "--for", "irb-rpd-disclosure", user="erin")
    assert "error: the organisation's name Fictional Legal Clinic is not the certificate's Clinique Juridique Test" in plan
    p = w.run(*build, "-o", str(out), "--tsa", pki.tsa_url, user="erin")
    err = p.stderr.decode()
    assert p.returncode == 4 and "'Fictional Legal Clinic'" in err and "'Clinique Juridique Test'" in err
    assert "refuge org set name=" in err and not list(tmp_path.glob("irb*"))
    w.ok("org", "set", "name=CLINIQUE  juridique-test", user="alice")  # the same name, written differently
    # The plan says the level each way, and that without a timestamp authority it is not B-LT.
    plan = json.loads(w.ok("packet", "plan", "MX-0001", "--for", "irb-rpd-disclosure", "--json", user="erin"))
    assert plan["signature"]["level"] == "PAdES-B-B with validation data" and not plan["signature"]["long_term"]
    assert plan["signature"]["organisation"] == "Clinique Juridique Test" and plan["signature"]["names_agree"]
    text = w.ok("packet", "plan", "MX-0001", "--for", "irb-rpd-disclosure", "--tsa", pki.tsa_url, user="erin")
    assert "signature: PAdES-B-LTA, signed for Clinique Juridique Test" in text and "error:" not in text
    assert "not B-LT" in w.ok("packet", "plan", "MX-0001", "--for", "irb-rpd-disclosure", user="erin")
    p = w.run(*build, "-o", str(out), "--tsa", pki.tsa_url, user="erin")
    assert p.returncode == 0, p.stderr
    assert "refuge: signed for Clinique Juridique Test: PAdES-B-LTA" in p.stderr.decode()
    data = out.read_bytes()
    assert b"erin" not in data.lower()
    v = w.run("packet", "verify", str(out), "--trust", str(tmp_path / "root.pem"), "--json")
    assert v.returncode == 0, v.stdout + v.stderr
    report = json.loads(v.stdout)
    assert report["level"] == "PAdES-B-LTA" and report["signer"] == report["organisation"] == "Clinique Juridique Test"
    from pyhanko.sign.ades.report import AdESPassed

    assert _ades(data, pki.root_der).ades_subindic == AdESPassed.OK
    # Without a timestamp authority, and with a sender named for this build: a warning, and the level
    # said as it is everywhere (the build's output, history, verify), never B-LT.
    bare = tmp_path / "bare.pdf"
    p = w.run(*build, "-o", str(bare), "--from", "Shelter Network", user="erin")
    assert p.returncode == 0, p.stderr
    err = p.stderr.decode()
    assert "refuge: warning: the letter names 'Shelter Network' as the sender, but the packet is signed by " \
           "'Clinique Juridique Test'" in err
    assert "signed for Clinique Juridique Test: PAdES-B-B with validation data; not B-LT" in err
    report = check_packet(bare.read_bytes(), load_certificates(pki.root_pem))
    assert report.ok and report.level == "PAdES-B-B with validation data" and report.timestamp is None
    v = w.ok("packet", "verify", str(bare), "--trust", str(tmp_path / "root.pem"))
    assert "organisation: Clinique Juridique Test" in v and "level:        PAdES-B-B with validation data" in v
    rec, bare_rec = json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))  # oldest first
    assert rec["manifest"]["signature"]["level"] == rec["level"] == "PAdES-B-LTA" and rec["built_by"] == "erin"
    assert bare_rec["level"] == "PAdES-B-B with validation data"
    assert rec["signed_for"] == bare_rec["signed_for"] == "Clinique Juridique Test"
    table = w.ok("packet", "history", "MX-0001", user="erin")
    assert "Clinique Juridique Test" in table and "PAdES-B-B with validation data" in table


def test_a_revocation_service_that_does_not_answer_stops_the_signing():
    """Embedding validation data is promised whenever the certificate names a responder: when
    it cannot be reached, nothing is signed (no silent fall back to a weaker signature)."""
    with local_pki.serve() as gone:
        key = gone.org_key()
    with pytest.raises(RefugeError) as info:
        sign_pdf(pdf_bytes(), key)
    assert info.value.hint == "org-revocation-unreachable" and "not signed" in str(info.value)


@pytest.mark.parametrize("world", ["local"], indirect=True)
def test_a_build_with_a_revoked_organisation_key_writes_nothing(pki, case_world, tmp_path):
    w = case_world
    key_pem, cert_pem, chain_pem = pki.revoked
    for name, data in (("key.pem", key_pem), ("cert.pem", cert_pem), ("chain.pem", chain_pem)):
        (tmp_path / name).write_bytes(data)
    w.ok("keys", "org", "import", "--key", str(tmp_path / "key.pem"), "--cert", str(tmp_path / "cert.pem"),
         "--chain", str(tmp_path / "chain.pem"), user="alice")
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "irb.pdf"
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "-o", str(out), "--allow-incomplete",
              user="erin")
    err = p.stderr.decode()
    assert p.returncode == 3 and "revoked" in err and "internal error" not in err and sum(line.startswith("refuge: error:") for line in err.splitlines()) == 1  # after progress lines
    assert not out.exists() and not list(tmp_path.glob("irb*"))
    assert json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin")) == []


def test_the_visible_block_names_the_organisation_and_the_counsel_when_asked(tmp_path):
    from signing_fixtures import org_key

    key, _pem = org_key("Fictional Legal Clinic")
    signed = sign_pdf(pdf_bytes(), key, visible=True, counsel="Me Ana Tremblay", signer_name="erin")
    path = tmp_path / "c.pdf"
    path.write_bytes(signed)
    text = subprocess.run([require_tool("pdftotext"), "-f", "1", "-l", "1", str(path), "-"], capture_output=True,
                          check=True).stdout.decode()
    assert "Signed for Fictional Legal Clinic" in text and "Counsel of record: Me Ana Tremblay" in text
    assert b"erin" not in signed  # a login name handed in is never written


def test_a_signature_whose_name_claims_another_organisation_is_shown_by_its_certificate(tmp_path):
    """An attacker holding a trusted key signs with /Name "UNHCR Protection Unit": verify names the
    certificate's organisation as the signer and shows the /Name only as an unbacked claim."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from packets.sign import _signer
    from signing_fixtures import org_key

    key, pem = org_key("Fictional Legal Clinic")
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name="Sig", name="UNHCR Protection Unit", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    signers.PdfSigner(meta, _signer(key)).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf_bytes())), output=out)
    report = check_packet(out.getvalue(), load_certificates(pem))
    assert report.ok and report.signer == "UNHCR Protection Unit" and report.name_matches_certificate is False
    assert report.organisation == "Fictional Legal Clinic"
    assert check_packet(sign_pdf(pdf_bytes(), key), load_certificates(pem)).name_matches_certificate is True
    import os
    import sys

    (tmp_path / "p.pdf").write_bytes(out.getvalue())
    (tmp_path / "c.pem").write_bytes(pem)
    env = dict(os.environ, REFUGE_HOME=str(tmp_path / "home"), REFUGE_VAULT=str(tmp_path / "none"))
    shown = subprocess.run([sys.executable, "-P", "-m", "refuge", "packet", "verify", str(tmp_path / "p.pdf"), "--trust",
                            str(tmp_path / "c.pem")], env=env, capture_output=True, timeout=60, check=False).stdout.decode()
    assert "signed by:    Fictional Legal Clinic" in shown and "name claimed: UNHCR Protection Unit (the" in shown
