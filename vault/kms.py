"""KMS escrow of case keys: a second, audited way back into a case.

When a vault is created with ``--kms-key KEY``, every case key version is also
encrypted with AWS KMS ``Encrypt`` under that key and stored at
``cases/<case>/escrow/<version>`` (the KMS ciphertext blob, nothing else).
The plaintext is the case identity string (``AGE-SECRET-KEY-1...``) and the
encryption context binds the blob to its place::

    {"refuge:vault": <vault id>, "refuge:case": <case id>, "refuge:version": "<n>"}

KMS refuses to decrypt a blob under any other context, so a blob moved to
another case or version does not open, and CloudTrail records every Decrypt
with this context: each recovery (``refuge case recover``) is logged by the
cloud provider as well as in the vault's own audit log. docs/kms.md explains
the set-up and the IAM permissions.
"""

from __future__ import annotations

import os

from .errors import InvalidInput, NotPermitted, RefugeError, VerificationFailed

__all__ = ["Escrow", "KMSError", "escrow_key", "encryption_context"]


class KMSError(RefugeError):
    """KMS refused or failed a request."""


def escrow_key(case_id: str, version: int) -> str:
    """The object key of a case key version's escrow copy."""
    return f"cases/{case_id}/escrow/{version:04d}"


def encryption_context(vault_id: str, case_id: str, version: int) -> dict[str, str]:
    """The KMS encryption context of one escrowed case key version."""
    return {"refuge:vault": vault_id, "refuge:case": case_id, "refuge:version": str(version)}


def _region_of(key_id: str) -> str | None:
    # arn:aws:kms:REGION:ACCOUNT:key/ID or alias/NAME
    parts = key_id.split(":")
    return parts[3] if key_id.startswith("arn:") and len(parts) > 4 and parts[3] else None


class Escrow:
    """Encrypt and decrypt case keys with one KMS key."""

    def __init__(self, key_id: str, region: str | None = None, endpoint_url: str | None = None, client=None) -> None:
        if not key_id or any(c.isspace() for c in key_id):
            raise InvalidInput("a KMS key is given by its id, ARN or alias (alias/NAME)", hint="kms-key")
        self.key_id = key_id
        self.region = _region_of(key_id) or region
        self.endpoint_url = endpoint_url
        self._client = client

    @classmethod
    def from_settings(cls, kms: dict, home=None, location: str | None = None) -> "Escrow":
        """The escrow a vault's settings name, reached as REFUGE_KMS_ENDPOINT_URL or REFUGE_HOME say."""
        endpoint = os.environ.get("REFUGE_KMS_ENDPOINT_URL")
        if not endpoint and home is not None and location and location.startswith("s3://"):
            from .s3 import connection_settings

            endpoint = connection_settings(location, home)["kms_endpoint_url"]
        return cls(kms["key_id"], kms.get("region"), endpoint)

    @property
    def client(self):
        if self._client is None:
            import botocore.session

            from .s3 import client_config

            try:
                self._client = botocore.session.get_session().create_client(
                    "kms", endpoint_url=self.endpoint_url, config=client_config(self.region))
            except ValueError as e:
                raise InvalidInput(f"the KMS endpoint URL is not valid ({e}); give it as http(s)://HOST[:PORT]") from None
        return self._client

    def encrypt(self, vault_id: str, case_id: str, version: int, identity_text: str) -> bytes:
        """The KMS ciphertext blob of a case identity."""
        resp = self._call("Encrypt", lambda c: c.encrypt(
            KeyId=self.key_id, Plaintext=identity_text.encode(),
            EncryptionContext=encryption_context(vault_id, case_id, version)))
        return resp["CiphertextBlob"]

    def decrypt(self, vault_id: str, case_id: str, version: int, blob: bytes) -> str:
        """The case identity in an escrow blob; VerificationFailed if it is not this case version's."""
        resp = self._call("Decrypt", lambda c: c.decrypt(
            KeyId=self.key_id, CiphertextBlob=blob, EncryptionContext=encryption_context(vault_id, case_id, version)),
            what=f"the escrow copy of key version {version} of case {case_id}")
        try:
            return resp["Plaintext"].decode()
        except UnicodeDecodeError:
            raise VerificationFailed(f"the escrow copy of key version {version} of case {case_id} is not a case key") from None

    def probe(self, vault_id: str) -> None:
        """Check now, at init, that these credentials may encrypt with the key."""
        self._call("Encrypt", lambda c: c.encrypt(KeyId=self.key_id, Plaintext=b"refuge escrow probe",
                                                 EncryptionContext={"refuge:vault": vault_id, "refuge:probe": "init"}))

    def _call(self, action: str, fn, what: str = ""):
        from botocore import exceptions as e

        try:
            return fn(self.client)
        except e.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            key = self.key_id
            if code == "InvalidCiphertextException":
                raise VerificationFailed(f"{what or 'the escrow blob'} does not decrypt under its encryption context: "
                                         "it was altered or moved from another case") from None
            if code in ("AccessDeniedException", "AccessDenied"):
                raise NotPermitted(f"KMS denied kms:{action} on {key}; grant it to these credentials "
                                   "(docs/kms.md lists the permissions)") from None
            if code == "NotFoundException":
                raise KMSError(f"KMS key {key} does not exist in region {self.region or 'the default'}",
                               hint="kms-key-region") from None
            if code in ("DisabledException", "KMSInvalidStateException"):
                raise KMSError(f"KMS key {key} is disabled or pending deletion; enable it (aws kms enable-key) "
                               "or cancel its deletion") from None
            if code in ("IncorrectKeyException",):
                raise VerificationFailed(f"{what or 'the escrow blob'} was encrypted under another KMS key") from None
            if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"):
                raise NotPermitted(f"KMS refused these credentials ({code}); check AWS_PROFILE or "
                                   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
            if code in ("ThrottlingException", "LimitExceededException"):
                raise KMSError("KMS is throttling requests and retries did not get through; try again in a minute") from None
            raise KMSError(f"KMS refused {action} ({code}) with key {key}", hint="kms-key-check") from None
        except (e.EndpointConnectionError, e.ConnectTimeoutError):
            where = self.endpoint_url or f"KMS in {self.region or 'the default region'}"
            raise KMSError(f"cannot reach {where}; check REFUGE_KMS_ENDPOINT_URL and the network") from None
        except (e.NoCredentialsError, e.PartialCredentialsError):
            raise KMSError("no usable AWS credentials for KMS; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY (refuge never stores credentials)") from None
        except e.NoRegionError:
            raise KMSError("KMS needs a region", hint="kms-region") from None
        except e.BotoCoreError as exc:
            raise KMSError(f"KMS {action} failed ({type(exc).__name__}); run the command again") from None
