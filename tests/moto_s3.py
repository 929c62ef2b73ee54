"""S3 for the tests: moto's server on 127.0.0.1, reached by boto3 over real HTTP.

No in-process mock: the code under test (and every ``refuge`` subprocess)
talks HTTP to this server exactly as it would to S3, KMS included.

One correction to moto: it checks ``If-None-Match: *`` and then stores the
object in two steps without a lock, so two threads of its server can both pass
the check and the second silently overwrites the first. S3 makes the check
and the write one atomic step; this server does too, by running conditional
writes (PutObject and CompleteMultipartUpload with If-None-Match) one at a
time. Everything else runs concurrently, as moto serves it.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import urllib.request

__all__ = ["S3Server", "s3_env", "make_bucket", "make_kms_key", "fill_bucket"]

REGION = "us-east-1"


class _AtomicConditionalWrites:
    """WSGI middleware: conditional writes one at a time (S3's check-and-write is atomic)."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_IF_NONE_MATCH") and environ.get("REQUEST_METHOD") in ("PUT", "POST"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class S3Server:
    """moto's server (S3, KMS and the rest) in a thread, on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = _AtomicConditionalWrites(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)

    def start(self) -> "S3Server":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        """Forget every bucket and key (moto's own reset API)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(req, timeout=30).read()


def s3_env(url: str) -> dict[str, str]:
    """The environment that sends refuge (and boto3) to the test server, with dummy credentials only."""
    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
        "REFUGE_S3_ENDPOINT_URL": url, "REFUGE_KMS_ENDPOINT_URL": url,
    }


# Variables of the developer's own AWS set-up that must not reach the tests.
AWS_LEAKS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL",
             "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
             "REFUGE_S3_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def _client(service: str, url: str):
    import boto3

    return boto3.session.Session().client(service, endpoint_url=url, region_name=REGION,
                                          aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.lru_cache(maxsize=None)
def _shared_client(service: str, url: str):
    """One client per service and server for this module's own calls (making one costs ~0.2 s)."""
    return _client(service, url)


def make_bucket(url: str, lock: bool = False, prefix: str = "refuge-test") -> str:
    """A new, empty bucket (with Object Lock enabled when ``lock``); returns its name."""
    name = f"{prefix}-{secrets.token_hex(6)}"
    _shared_client("s3", url).create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if lock else {}))
    return name


def make_kms_key(url: str) -> str:
    """A new symmetric KMS key; returns its ARN."""
    return _shared_client("kms", url).create_key(Description="refuge test escrow")["KeyMetadata"]["Arn"]


def fill_bucket(url: str, bucket: str, objects) -> None:
    """Put every (key, bytes) of ``objects`` into ``bucket``, as a restore from a copy would."""
    client = _shared_client("s3", url)
    for key, body in objects:
        client.put_object(Bucket=bucket, Key=key, Body=body)


def s3_client(url: str):
    """A plain boto3 S3 client for the test server (to look at or tamper with the bucket)."""
    return _client("s3", url)
