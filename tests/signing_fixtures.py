"""Made-by-code material for the signing tests: PDFs, certificates, a local RFC 3161 TSA.

Nothing here is committed binary: each test makes its keys and files. The timestamp
authority is pyHanko's test responder (DummyTimeStamper) behind http.server on 127.0.0.1,
so the signer reaches it over real HTTP as it would a public TSA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import io
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vault.orgkey import OrgKey, self_signed

UTC = dt.timezone.utc


def pdf_bytes(pages: int = 2, text: str = "Cover letter") -> bytes:
    """A small, deterministic PDF made with reportlab."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for n in range(pages):
        c.drawString(72, 760, f"{text} - page {n + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pkcs8(private) -> bytes:
    return private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def org_key(name: str = "Test Legal Clinic", days: int = 365, at: dt.datetime | None = None) -> tuple[OrgKey, bytes]:
    """A self-signed organisation key as refuge keys org generate makes it: (OrgKey, cert PEM)."""
    key_pem, cert_pem = self_signed(name, days, at)
    private = serialization.load_pem_private_key(key_pem, None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    return OrgKey(1, _pkcs8(private), (_der(cert),)), cert_pem


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer: str, public, signer, *, ca: bool, days: int = 365, eku=None) -> x509.Certificate:
    start = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(public)
         .serial_number(x509.random_serial_number()).not_valid_before(start)
         .not_valid_after(start + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
    return b.sign(signer, hashes.SHA256())


def ca_issued(org: str = "CA-issued Clinic") -> tuple[OrgKey, bytes, bytes, bytes]:
    """An organisation key issued by a test CA: (OrgKey with chain, key PEM, cert PEM, CA cert PEM)."""
    ca_key = rsa.generate_private_key(65537, 2048)
    ca = _cert("Test Document CA", "Test Document CA", ca_key.public_key(), ca_key, ca=True, days=3650)
    key = rsa.generate_private_key(65537, 2048)
    cert = _cert(org, "Test Document CA", key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return (OrgKey(1, _pkcs8(key), (_der(cert), _der(ca))), key_pem, cert.public_bytes(pem), ca.public_bytes(pem))


class LocalTSA:
    """An RFC 3161 timestamp authority on 127.0.0.1 (use as a context manager).

    ``url`` is where to send requests; ``root_pem`` the TSA's root certificate, which a
    verifier must trust; ``requests`` counts the requests answered.
    """

    def __init__(self) -> None:
        from asn1crypto import keys as akeys
        from asn1crypto import x509 as ax509
        from pyhanko.sign.timestamps import DummyTimeStamper

        root_key = rsa.generate_private_key(65537, 2048)
        root = _cert("Test TSA Root", "Test TSA Root", root_key.public_key(), root_key, ca=True, days=3650)
        tsa_key = rsa.generate_private_key(65537, 2048)
        tsa = _cert("Test TSA", "Test TSA Root", tsa_key.public_key(), root_key, ca=False, days=3650,
                    eku=[ExtendedKeyUsageOID.TIME_STAMPING])
        self.root_pem = root.public_bytes(serialization.Encoding.PEM)
        self.requests = 0
        self._stamper = DummyTimeStamper(tsa_cert=ax509.Certificate.load(_der(tsa)),
                                         tsa_key=akeys.PrivateKeyInfo.load(_pkcs8(tsa_key)),
                                         certs_to_embed=[ax509.Certificate.load(_der(root))])
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def _handler(self):
        from asn1crypto import tsp

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = outer._stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> "LocalTSA":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    yield f"http://127.0.0.1:{port}/tsa"


def append_update(data: bytes) -> bytes:
    """The file with an incremental update appended (a changed catalog entry), as an editor would."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    w.root["/Lang"] = generic.TextStringObject("xx")
    w.update_root()
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def flip_inside_signed_range(data: bytes) -> bytes:
    """The file with one byte flipped inside the first signed byte range: in the middle of
    the first stream's data, so the file still parses and only the signature can tell."""
    import re

    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    assert m, "no /ByteRange"
    first_len = int(m.group(2))
    s = re.search(rb"stream\r?\n", data)
    e = data.find(b"endstream", s.end())
    at = (s.end() + e) // 2
    assert at < first_len
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)
