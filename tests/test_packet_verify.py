"""refuge packet verify, as a recipient runs it; and signed builds of every shipped profile.

Independent validators agree with ours: poppler's pdfsig reports the signature valid on a
good packet and invalid on one with a flipped byte; a byte flipped inside the signed
range, an incremental update appended after signing, an untrusted root and an expired
certificate each give exit 3 with the right reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from conftest import ACCEPT_GAPS, ROOT, derived_world, require_tool
from signing_fixtures import LocalTSA, append_update, flip_inside_signed_range, org_key, pdf_bytes

from packets.sign import sign_pdf

pytestmark = pytest.mark.s3_in_stress("what packet verify checks and records")

UTC = dt.timezone.utc


def recipient(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """refuge as a recipient runs it: no vault, no identities, no refuge settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "recipient-home"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-P", "-m", "refuge", "packet", "verify", *args], env=env, capture_output=True,
                          cwd=tmp_path, timeout=120)


def pdfsig(path, *extra) -> str:
    return subprocess.run([require_tool("pdfsig"), *extra, str(path)], capture_output=True, timeout=60).stdout.decode()


def one_line_error(p) -> str:
    err = p.stderr.decode()
    assert err.startswith("refuge: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """A good packet signed by a self-signed organisation key, and that certificate."""
    folder = tmp_path_factory.mktemp("signed")
    key, cert_pem = org_key("Test Legal Clinic")
    (folder / "good.pdf").write_bytes(sign_pdf(pdf_bytes(3), key, signer_name="erin", visible=True))
    (folder / "org.pem").write_bytes(cert_pem)
    return folder


# --- tampering, each kind, against pdfsig and ours ------------------------------------------


def test_good_packet_is_valid_for_pdfsig_and_verify(signed, tmp_path):
    assert "Signature is Valid" in pdfsig(signed / "good.pdf")
    p = recipient(tmp_path, str(signed / "good.pdf"), "--trust", str(signed / "org.pem"))
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "Test Legal Clinic" in out and "erin" not in out and out.rstrip().endswith("by a trusted certificate")


def test_flipped_byte_inside_the_signed_range(signed, tmp_path):
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(flip_inside_signed_range((signed / "good.pdf").read_bytes()))
    out = pdfsig(bad)
    assert "Signature is Valid" not in out and ("Digest Mismatch" in out or "Invalid" in out)
    p = recipient(tmp_path, str(bad), "--trust", str(signed / "org.pem"))
    assert p.returncode == 3 and "signed bytes were altered" in one_line_error(p)


def test_incremental_update_appended_after_signing(signed, tmp_path):
    bad = tmp_path / "appended.pdf"
    bad.write_bytes(append_update((signed / "good.pdf").read_bytes()))
    assert "Not total document signed" in pdfsig(bad)
    p = recipient(tmp_path, str(bad), "--trust", str(signed / "org.pem"))
    assert p.returncode == 3 and "appended after signing" in one_line_error(p)


def test_bytes_appended_after_signing(signed, tmp_path):
    bad = tmp_path / "tail.pdf"
    bad.write_bytes((signed / "good.pdf").read_bytes() + b"\n% extra\n")
    p = recipient(tmp_path, str(bad), "--trust", str(signed / "org.pem"))
    assert p.returncode == 3 and "does not cover the whole file" in one_line_error(p)


def test_untrusted_root(signed, tmp_path):
    (tmp_path / "other.pem").write_bytes(org_key("Another Clinic")[1])
    p = recipient(tmp_path, str(signed / "good.pdf"), "--trust", str(tmp_path / "other.pem"))
    assert p.returncode == 3 and "does not chain" in one_line_error(p)
    p = recipient(tmp_path, str(signed / "good.pdf"))
    assert p.returncode == 3 and "no trusted certificate was given" in one_line_error(p)


def test_expired_certificate(tmp_path):
    key, cert_pem = org_key("Old Clinic", days=30, at=dt.datetime.now(UTC) - dt.timedelta(days=400))
    (tmp_path / "old.pdf").write_bytes(sign_pdf(pdf_bytes(), key, signer_name="erin"))
    (tmp_path / "old.pem").write_bytes(cert_pem)
    assert "Signature is Valid" in pdfsig(tmp_path / "old.pdf")  # the maths holds; the certificate does not
    p = recipient(tmp_path, str(tmp_path / "old.pdf"), "--trust", str(tmp_path / "old.pem"))
    assert p.returncode == 3 and "expired on" in one_line_error(p)


def test_unsigned_and_unreadable_files(signed, tmp_path):
    (tmp_path / "plain.pdf").write_bytes(pdf_bytes())
    p = recipient(tmp_path, str(tmp_path / "plain.pdf"), "--trust", str(signed / "org.pem"))
    assert p.returncode == 3 and "no signature" in one_line_error(p)
    (tmp_path / "junk.pdf").write_bytes(b"not a pdf at all")
    p = recipient(tmp_path, str(tmp_path / "junk.pdf"), "--trust", str(signed / "org.pem"))
    assert p.returncode == 3 and "does not read as a PDF" in one_line_error(p)
    p = recipient(tmp_path, str(signed / "good.pdf"), "--trust", str(tmp_path / "junk.pdf"))
    assert p.returncode == 1 and "no certificate" in one_line_error(p)
    p = recipient(tmp_path, str(tmp_path / "missing.pdf"))
    assert p.returncode == 1 and "cannot be read" in one_line_error(p)


def test_json_report(signed, tmp_path):
    p = recipient(tmp_path, str(signed / "good.pdf"), "--trust", str(signed / "org.pem"), "--json")
    assert p.returncode == 0
    r = json.loads(p.stdout)
    assert r["ok"] and r["level"] == "PAdES-B-B" and r["covers_whole_file"] and r["trusted"] and r["intact"]
    assert r["organisation"] == "Test Legal Clinic" and r["certificate"]["sha256"].count(":") == 31
    bad = tmp_path / "appended.pdf"
    bad.write_bytes(append_update((signed / "good.pdf").read_bytes()))
    p = recipient(tmp_path, str(bad), "--trust", str(signed / "org.pem"), "--json")
    r = json.loads(p.stdout)
    assert p.returncode == 3 and not r["ok"] and r["intact"] and not r["covers_whole_file"]


# --- built packets ---------------------------------------------------------------------------


@pytest.fixture
def packet_world(case_world, request):
    # Made once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, case_world, "test_packet_verify", _add_packet_documents)


def _add_packet_documents(w) -> dict:
    # Made through the library in this process (what `keys org generate`, `keys org cert` and `doc add`
    # call): one unlock each instead of four CLI starts; the commands are tested in their own files.
    from vault import orgkey

    cert = orgkey.generate(w.open("alice"), "Test Legal Clinic", 1095)
    (w.root / "org.pem").write_bytes(cert.cert_pem)
    bob = w.open("bob")
    results = bob.add_documents(bob.find_case("MX-0001"), [str(w.docs["medical"])], "medical")
    results += bob.add_documents(bob.find_case("MX-0001"), [str(w.docs["passport"])], "identity")
    assert all(r.error is None for r in results), results
    w.ok("redact", "reviewed", results[-1].document.id, "--page", "1", user="erin")  # shipped profiles hold unread pages
    return {}


# Every shipped profile's packet, checked with pdfsig and `packet verify` as its recipient would:
# tests/test_packets.py::test_every_profile_builds_a_valid_numbered_packet_that_pdfsig_and_verify_accept
# (make test: ircc-resettlement; make stress: all of them). The builds below check unhcr-resettlement's.


@pytest.fixture
def unhcr_built(packet_world, request):
    """packet_world with consent for unhcr-resettlement (its note names the client) and its packet built:
    u.pdf and its manifest u.json in the world's folder."""
    # Built once per session and backend, then copied (tests/conftest.py derived_world).
    return derived_world(request, packet_world, "test_packet_verify-unhcr", _build_unhcr)


def _build_unhcr(w) -> dict:
    w.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", "--note", "form signed by Maria",
         user="erin")
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "unhcr-resettlement", "-o", str(w.root / "u.pdf"),
         "--allow-incomplete", "--manifest-out", str(w.root / "u.json"), user="erin")
    return {}


@pytest.mark.packet_content("what the build makes of the documents")
@pytest.mark.local_only("signing does not depend on the storage")
def test_manifest_records_what_went_in_and_nothing_identifying(unhcr_built, tmp_path):
    assert unhcr_built.root == tmp_path
    text = (tmp_path / "u.json").read_text()
    m = json.loads(text)["manifest"]
    assert m["builder"].startswith("refuge") and m["signature"]["level"] == "PAdES-B-B"
    assert isinstance(m["redactions"], dict)  # the redaction stage's counts; never the terms
    assert {d["id"] for d in m["documents"]} and all(len(d["original_hmac"]) == 64 and d["volume"] == 1 for d in m["documents"])
    assert [c["recipient"] for c in m["consents"]] == ["unhcr-resettlement"]
    vol = m["volumes"][0]
    assert vol["sha256_before_signing"] != vol["sha256"] and vol["size_before_signing"] < vol["size"]
    for secret in ("Maria", "MX-0001", "Resettlement referral", "declaration.pdf", "medical-report", "passport"):
        assert secret not in text
    p = recipient(tmp_path, str(tmp_path / "u.pdf"), "--trust", str(tmp_path / "org.pem"), "--manifest", str(tmp_path / "u.json"))
    assert p.returncode == 0
    doc = json.loads(text)
    doc["manifest"]["documents"] = doc["manifest"]["documents"][:-1]
    (tmp_path / "edited.json").write_text(json.dumps(doc))
    p = recipient(tmp_path, str(tmp_path / "u.pdf"), "--trust", str(tmp_path / "org.pem"), "--manifest",
                  str(tmp_path / "edited.json"))
    assert p.returncode == 3 and "manifest was altered" in one_line_error(p)


def test_build_without_an_organisation_key_stops_and_leaves_nothing(case_world, tmp_path):
    w = case_world
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    p = w.run("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "-o", str(tmp_path / "x.pdf"),
              "--allow-incomplete", user="erin")
    assert p.returncode == 1 and "no organisation signing key; an admin runs refuge keys org generate or import" \
        in one_line_error(p)
    assert not list(tmp_path.glob("x*.pdf")) and not list(tmp_path.glob(".refuge-*"))
    assert json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin")) == []


@pytest.mark.packet_content("what the build makes of the documents")
@pytest.mark.local_only("signing does not depend on the storage")
def test_password_protected_packet(packet_world, tmp_path):
    w = packet_world
    w.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    (tmp_path / "pw").write_text("a long packet password\n")
    w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure", "-o", str(tmp_path / "e.pdf"),
         "--password-file", str(tmp_path / "pw"), "--manifest-out", str(tmp_path / "e.json"), user="erin")
    enc = subprocess.run([require_tool("qpdf"), "--show-encryption", "--password=a long packet password",
                          str(tmp_path / "e.pdf")], capture_output=True).stdout.decode()
    assert "R = 6" in enc and "AESv3" in enc
    assert "Signature is Valid" in pdfsig(tmp_path / "e.pdf", "-upw", "a long packet password")
    assert recipient(tmp_path, str(tmp_path / "e.pdf"), "--trust", str(tmp_path / "org.pem"), "--password-file",
                     str(tmp_path / "pw"), "--manifest", str(tmp_path / "e.json")).returncode == 0
    p = recipient(tmp_path, str(tmp_path / "e.pdf"), "--trust", str(tmp_path / "org.pem"))
    assert p.returncode == 3 and "the packet is encrypted" in one_line_error(p)
    assert json.loads((tmp_path / "e.json").read_text())["manifest"]["encrypted"] is True


@pytest.mark.packet_content("what the build makes of the documents")
@pytest.mark.local_only("signing does not depend on the storage")
def test_timestamped_build_is_b_t(packet_world, tmp_path):
    w = packet_world
    w.ok("consent", "grant", "MX-0001", "--recipient", "ccvt-intake", user="erin")
    with LocalTSA() as tsa:
        w.ok("keys", "org", "tsa", tsa.url, user="alice")
        w.ok("packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "ccvt-intake", "-o", str(tmp_path / "t.pdf"),
             "--allow-incomplete",
             user="erin")
        assert tsa.requests >= 1
    (tmp_path / "tsa.pem").write_bytes(tsa.root_pem)
    p = recipient(tmp_path, str(tmp_path / "t.pdf"), "--trust", str(tmp_path / "org.pem"), "--trust",
                  str(tmp_path / "tsa.pem"), "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["level"] == "PAdES-B-T" and r["timestamp"]["trusted"] and r["timestamp"]["time"]
    assert "Signature is Valid" in pdfsig(tmp_path / "t.pdf")


def test_verify_records_an_audit_entry_only_when_a_vault_is_at_hand(case_world, signed, tmp_path):
    w = case_world
    assert w.run("packet", "verify", str(signed / "good.pdf"), "--trust", str(signed / "org.pem"),
                 user="bob").returncode == 0
    log = json.loads(w.ok("audit", "log", "--action", "packet.verify", "--json", user="dave"))
    assert [(e["name"], e["result"]) for e in log] == [("bob", "ok")]
    bad = tmp_path / "appended.pdf"
    bad.write_bytes(append_update((signed / "good.pdf").read_bytes()))
    assert w.run("packet", "verify", str(bad), "--trust", str(signed / "org.pem"), user="bob").returncode == 3
    log = json.loads(w.ok("audit", "log", "--action", "packet.verify", "--json", user="dave"))
    assert [(e["name"], e["result"]) for e in log] == [("bob", "ok"), ("bob", "error")]
    # without a passphrase at hand, verify neither asks nor records
    p = w.run("packet", "verify", str(signed / "good.pdf"), "--trust", str(signed / "org.pem"), user="bob",
              REFUGE_PASSPHRASE="")
    assert p.returncode == 0
    assert len(json.loads(w.ok("audit", "log", "--action", "packet.verify", "--json", user="dave"))) == 2


@pytest.mark.packet_content("what the build makes of the documents")
@pytest.mark.local_only("signing does not depend on the storage")
def test_manifest_cannot_confirm_a_candidate_original(unhcr_built, tmp_path):
    """Someone who kept a copy of the passport must not be able to tell it was disclosed."""
    import hashlib
    import hmac

    w = unhcr_built
    assert w.root == tmp_path
    text = (tmp_path / "u.json").read_text() + (tmp_path / "u.pdf").read_bytes().decode("latin-1")
    originals = {hashlib.sha256(open(p, "rb").read()).hexdigest() for p in w.docs.values()}
    assert not [h for h in originals if h in text]
    [record] = json.loads(w.ok("packet", "history", "MX-0001", "--json", user="erin"))
    key = bytes.fromhex(record["manifest_key"])
    sent = {d["id"]: d["sha256"] for d in record["documents"]}
    for d in json.loads((tmp_path / "u.json").read_text())["manifest"]["documents"]:
        assert d["original_hmac"] == hmac.new(key, bytes.fromhex(sent[d["id"]]), hashlib.sha256).hexdigest()
