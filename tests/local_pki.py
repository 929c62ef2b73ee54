"""A local test PKI made by code: a root CA, an OCSP responder, a CRL and a timestamp
authority, served by certomancer's Animator (a WSGI app) with the standard library's
wsgiref server on a free port of 127.0.0.1.

:func:`serve` starts it and yields a :class:`Pki`: the organisation key and certificate
the root issued (``org``, good; ``revoked``, revoked since yesterday), their PEM forms for
``refuge keys org import``, the root certificate (to trust) and the TSA's URL. Keys are
generated anew each time (EC P-256: fast) and written to a temporary folder; nothing is
committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

_CONFIG = """
external-url-prefix: "{url}"
keysets:
  refuge-test:
    path-prefix: "{keys}"
    keys:
      root: {{path: root.pem}}
      ocsp: {{path: ocsp.pem}}
      tsa: {{path: tsa.pem}}
      org: {{path: org.pem}}
      revoked: {{path: revoked.pem}}
pki-architectures:
  refuge-test:
    keyset: refuge-test
    entity-defaults: {{country-name: CA, organization-name: Test PKI}}
    entities:
      root: {{common-name: Test Root CA}}
      ocsp: {{common-name: Test OCSP Responder}}
      tsa: {{common-name: Test Timestamp Authority}}
      org: {{organization-name: Clinique Juridique Test, common-name: Clinique Juridique Test}}
      revoked: {{organization-name: Revoked Clinic, common-name: Revoked Clinic}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "{start}", valid-to: "{end}"}}
        extensions:
          - {{id: basic_constraints, critical: true, value: {{ca: true}}}}
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}}
      ocsp:
        issuer: root
        validity: {{valid-from: "{start}", valid-to: "{end}"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - {{id: extended_key_usage, critical: true, value: [ocsp_signing]}}
          - {{id: ocsp_no_check}}
      tsa:
        issuer: root
        validity: {{valid-from: "{start}", valid-to: "{end}"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - {{id: extended_key_usage, critical: true, value: [time_stamping]}}
          - id: authority_information_access
            smart-value: {{schema: aia-urls, params: {{ocsp-responder-names: [root]}}}}
      org:
        issuer: root
        validity: {{valid-from: "{start}", valid-to: "{end}"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature, non_repudiation]}}
          - id: crl_distribution_points
            smart-value: {{schema: crl-dist-url, params: {{crl-repo-names: [root]}}}}
          - id: authority_information_access
            smart-value: {{schema: aia-urls, params: {{ocsp-responder-names: [root]}}}}
      revoked:
        template: org
        subject: revoked
        subject-key: revoked
        revocation: {{revoked-since: "{revoked}", reason: key_compromise}}
    services:
      ocsp:
        root: {{for-issuer: root, responder-cert: ocsp, signing-key: ocsp}}
      crl-repo:
        root: {{for-issuer: root, signing-key: root, simulated-update-schedule: "P1D"}}
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"""


@dataclass
class Pki:
    """The served test PKI: what a test signs with, trusts and points at."""

    url: str
    tsa_url: str
    root_der: bytes
    org: tuple  # (key PEM, cert PEM, chain PEM)
    revoked: tuple

    def org_key(self, which: str = "org"):
        """A vault.orgkey.OrgKey for ``org`` or ``revoked``, with its chain up to the root."""
        from cryptography import x509

        from vault.orgkey import OrgKey

        key_pem, cert_pem, _chain = getattr(self, which)
        private = serialization.load_pem_private_key(key_pem, None)
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        cert = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
        return OrgKey(1, der, (cert, self.root_der))

    @property
    def root_pem(self) -> bytes:
        from asn1crypto import pem

        return pem.armor("CERTIFICATE", self.root_der)


def _key(path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D102 (no request log on the test output)
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve():
    """Generate the PKI, serve its OCSP responder, CRL and TSA on 127.0.0.1; yield a :class:`Pki`."""
    from asn1crypto import pem
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, KeyLabel

    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        for name in ("root", "ocsp", "tsa", "org", "revoked"):
            _key(keys / f"{name}.pem")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        now = dt.datetime.now(dt.timezone.utc)
        fmt = "%Y-%m-%dT%H:%M:%S+0000"
        text = _CONFIG.format(url=url, keys=str(keys), start=(now - dt.timedelta(days=30)).strftime(fmt),
                              end=(now + dt.timedelta(days=3650)).strftime(fmt),
                              revoked=(now - dt.timedelta(days=1)).strftime(fmt))
        config = CertomancerConfig.from_yaml(text, key_search_dir=str(keys))
        arch = config.get_pki_arch(ArchLabel("refuge-test"))
        app = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
        server = make_server("127.0.0.1", port, app, server_class=WSGIServer, handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            root = arch.get_cert(CertLabel("root")).dump()

            def material(name: str) -> tuple:
                key = (keys / f"{name}.pem").read_bytes()
                cert = pem.armor("CERTIFICATE", arch.get_cert(CertLabel(name)).dump())
                assert arch.key_set.get_private_key(KeyLabel(name)) is not None
                return key, cert, pem.armor("CERTIFICATE", root)

            yield Pki(url=url, tsa_url=f"{url}/refuge-test/tsa/tsa", root_der=root, org=material("org"),
                      revoked=material("revoked"))
        finally:
            server.shutdown()
            server.server_close()
