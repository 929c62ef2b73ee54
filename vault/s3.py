"""The S3 backend: the vault's objects in a bucket, under a prefix, through boto3.

A location is ``s3://BUCKET/PREFIX``; object keys are the vault's own opaque
keys under ``PREFIX/``, exactly as they are on disk for a local vault.

* Writes are create-only: ``PutObject`` with ``If-None-Match: *``, and for
  objects larger than one part a multipart upload completed with the same
  condition. S3's 412 PreconditionFailed becomes :class:`~vault.storage.ObjectExists`,
  which callers already answer by trying the next sequence number. A failed or
  interrupted upload is aborted, so nothing is left under the key.
* Large objects stream through with bounded memory: one part (``part_size``,
  8 MiB by default) at a time, sent in place without a copy
  (``REFUGE_S3_PARALLEL=N`` sends N at once, for N + 1 parts of memory).
* Throttling and transient errors are retried with backoff by botocore's
  retry modes (``standard`` here; ``AWS_RETRY_MODE=adaptive`` and
  ``AWS_MAX_ATTEMPTS`` change them); reads resume where they broke off.
* Failures become one-line errors that name the fix: a missing bucket, access
  denied, a wrong region, an unreachable endpoint, missing credentials.
* With Object Lock (the vault's ``object_lock`` setting), audit entries and
  checkpoints are written with a retention date, so nobody, the account owner
  included under COMPLIANCE, can delete or overwrite them before it.

Credentials come only from boto3's standard chain (environment, profile, SSO,
instance role); refuge never stores them. The non-secret connection settings
(endpoint URL and region) are remembered per location in REFUGE_HOME.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import threading
from typing import BinaryIO, Callable, Iterator

from ._objects import ObjectExists, check_key
from ._s3_upload import Upload, boto_exceptions, sleep_before_retry
from .errors import InvalidInput, NotFound, RefugeError, VerificationFailed

__all__ = [
    "S3Backend", "StorageError", "StorageAccessDenied", "StorageUnreachable",
    "parse_location", "connection_settings", "remember_connection", "LOCK_PREFIXES", "LOCK_MODES",
]

MIB = 1024 * 1024
# 8 MiB parts: S3's minimum is 5 MiB; an upload holds one part in memory, and
# 10,000 parts (S3's maximum) still reach 78 GiB.
PART_SIZE = 8 * MIB
# Parts uploaded at once besides the one filling (REFUGE_S3_PARALLEL): 0 holds one
# part in memory and sends it before reading on; N > 0 holds up to N + 1 parts and
# trades that memory for overlapping requests (faster when S3's answer per part,
# not the network, is the limit).
PARALLEL = 0
# Parts in flight when an object's parts can be read again at will (put_ranges): they
# hold no buffer, so more of them cost no memory; S3's answer per part is the limit.
RANGE_PARALLEL = 4
# Objects up to this size are read in one request and kept in memory, so a
# broken connection is retried whole; larger ones stream and resume by range.
SMALL_OBJECT = 1 * MIB
# Attempts per request (the first included) unless AWS_MAX_ATTEMPTS says otherwise:
# with standard-mode backoff (random, doubling, capped at 20 s) about half a minute
# at most before an outage is reported.
MAX_ATTEMPTS = 5
# Audit entries and checkpoints: the objects written with Object Lock retention.
LOCK_PREFIXES = ("audit/", "audit-checkpoints/")
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

_IAM_ACTION = {
    "put_object": "s3:PutObject", "create_multipart_upload": "s3:PutObject", "upload_part": "s3:PutObject",
    "complete_multipart_upload": "s3:PutObject", "abort_multipart_upload": "s3:AbortMultipartUpload",
    "get_object": "s3:GetObject", "head_object": "s3:GetObject", "list_objects_v2": "s3:ListBucket",
    "delete_object": "s3:DeleteObject", "list_object_versions": "s3:ListBucketVersions",
    "list_multipart_uploads": "s3:ListBucketMultipartUploads",
    "get_object_lock_configuration": "s3:GetBucketObjectLockConfiguration",
    "get_bucket_versioning": "s3:GetBucketVersioning", "head_bucket": "s3:ListBucket",
}


class StorageError(RefugeError):
    """The storage service refused or failed a request."""


class StorageAccessDenied(StorageError):
    """The cloud account's permissions refuse the request; exit code 4."""

    exit_code = 4


class StorageUnreachable(StorageError):
    """The storage endpoint cannot be reached."""


# --- locations and connection settings ------------------------------------------------


def parse_location(location: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into the bucket and the key prefix (``""`` or ending in ``/``)."""
    if not location.startswith("s3://"):
        raise InvalidInput(f"{location} is not an S3 location; use s3://BUCKET/PREFIX")
    bucket, _, prefix = location[5:].partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise InvalidInput(f"{bucket or '(empty)'} is not a valid S3 bucket name; use 3 to 63 lower-case letters, "
                           "digits, dots or hyphens, as in s3://my-bucket/vault")
    prefix = prefix.strip("/")
    if prefix:
        check_key(prefix)
        prefix += "/"
    return bucket, prefix


def canonical_location(location: str) -> str:
    """The one spelling of an S3 location, the key of its remembered settings."""
    bucket, prefix = parse_location(location)
    return f"s3://{bucket}/{prefix.rstrip('/')}".rstrip("/")


def connection_settings(location: str, home=None, endpoint_url: str | None = None,
                        region: str | None = None) -> dict:
    """Where to reach a location's S3 service: the endpoint URL and region, or None for boto3's defaults.

    Given options win, then REFUGE_S3_ENDPOINT_URL and REFUGE_S3_REGION, then
    the settings remembered for this location in REFUGE_HOME, then boto3's own
    chain (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, the profile).
    """
    remembered = {}
    if home is not None:
        remembered = home.config().get("s3", {}).get(canonical_location(location), {})
    endpoint = endpoint_url or os.environ.get("REFUGE_S3_ENDPOINT_URL") or remembered.get("endpoint_url")
    region = region or os.environ.get("REFUGE_S3_REGION") or remembered.get("region")
    return {"endpoint_url": endpoint or None, "region": region or None,
            "kms_endpoint_url": remembered.get("kms_endpoint_url")}


def remember_connection(home, location: str, **settings) -> None:
    """Remember non-secret connection settings (endpoint URLs, region) for a location in REFUGE_HOME."""
    settings = {k: v for k, v in settings.items() if v}
    if not settings:
        return
    key = canonical_location(location)
    every = dict(home.config().get("s3", {}))
    every[key] = {**every.get(key, {}), **settings}
    home.update_config(s3=every)


def object_lock_setting(backend, days: int | None, mode: str | None) -> dict:
    """The vault's ``object_lock`` setting for ``--lock-days``/``--lock-mode``, checked against the bucket."""
    mode = (mode or "GOVERNANCE").upper()
    if mode not in LOCK_MODES:
        raise InvalidInput(f"{mode} is not a lock mode; use GOVERNANCE or COMPLIANCE", hint="lock-mode")
    if not days or not 1 <= int(days) <= 36500:
        raise InvalidInput("an Object Lock mode needs a number of days, from 1 to 36500 (how long audit entries "
                           "cannot be deleted)", hint="lock-days")
    if not isinstance(backend, S3Backend):
        raise InvalidInput("Object Lock needs an S3 vault (s3://BUCKET/PREFIX) in a bucket with Object Lock",
                           hint="lock-days-s3")
    cfg = backend.object_lock_configuration()
    if cfg is None:
        raise InvalidInput(f"bucket {backend.bucket} does not have Object Lock enabled", hint="lock-bucket")
    if cfg.get("Rule", {}).get("DefaultRetention"):
        # It would lock every object, case keys included, which revoking a member must destroy.
        raise InvalidInput(f"bucket {backend.bucket} has a default Object Lock retention rule, which would keep "
                           "revoked members' keys; remove the rule (audit entries are locked one by one, without it)")
    return {"mode": mode, "days": int(days)}


def client_config(region: str | None):
    """The botocore configuration refuge uses: retries with backoff, timeouts, a small pool."""
    from botocore.config import Config

    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return Config(
        region_name=region,
        retries={"mode": os.environ.get("AWS_RETRY_MODE") or "standard",
                 "max_attempts": int(attempts) if attempts.isdigit() and int(attempts) > 0 else MAX_ATTEMPTS},
        connect_timeout=10, read_timeout=120, max_pool_connections=16, tcp_keepalive=True,
        user_agent_appid="refuge",
    )


# --- errors -------------------------------------------------------------------------------


class _Errors:
    """Turn botocore's exceptions into refuge's one-line errors."""

    def __init__(self, backend: "S3Backend") -> None:
        self.b = backend

    def explain(self, exc: Exception, op: str, key: str | None = None) -> RefugeError:
        e, unreachable, broken = boto_exceptions()
        b = self.b
        where = b.location
        if isinstance(exc, e.NoCredentialsError | e.PartialCredentialsError | e.CredentialRetrievalError):
            return StorageError("no usable AWS credentials; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY (refuge never stores credentials)")
        if isinstance(exc, unreachable):
            if b.endpoint_url:
                return StorageUnreachable(f"cannot reach the S3 endpoint {b.endpoint_url}", hint="s3-endpoint")
            return StorageUnreachable(f"cannot reach S3 for {where}", hint="s3-network")
        if isinstance(exc, broken):
            return StorageUnreachable(f"the connection to S3 broke during {op} and retries did not help; "
                                      "run the command again")
        if not isinstance(exc, e.ClientError):
            return StorageError(f"S3 request {op} failed ({type(exc).__name__}); run the command again")
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        action = _IAM_ACTION.get(op, op)
        if code in ("PreconditionFailed", "412") or status == 412:
            return ObjectExists(f"object {key} already exists")
        if code in ("NotFound", "404") and key is None:
            code = "NoSuchBucket"  # a bucket-level request (HEAD has no error body)
        if code in ("NoSuchKey", "NotFound", "404"):
            return NotFound(f"object {key} not found in the vault")
        if code == "NoSuchBucket":
            return StorageError(f"bucket {b.bucket} does not exist; create it first (aws s3 mb s3://{b.bucket}) "
                                "or check the vault location")
        region = err.get("Region") or headers.get("x-amz-bucket-region")
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException",
                    "301") or status == 301:
            if region:
                return StorageError(f"bucket {b.bucket} is in region {region}, not {b.region or 'the default'}",
                                    hint="s3-region")
            return StorageError(f"bucket {b.bucket} is in another region", hint="s3-region-unknown")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "UnrecognizedClientException"):
            return StorageAccessDenied(f"S3 refused these credentials ({code}); check AWS_PROFILE or "
                                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if code in ("ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"):
            return StorageAccessDenied("the AWS session has expired; log in again (aws sso login, or new "
                                       "temporary credentials) and run the command again")
        if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden") or status == 403:
            return StorageAccessDenied(f"access denied to {where} ({action}); grant these credentials the S3 "
                                       "permissions listed in docs/kms.md, or use another AWS profile")
        if code == "InvalidRequest" and "lock" in str(err.get("Message", "")).lower():
            return StorageError(f"bucket {b.bucket} does not have Object Lock enabled, which this vault's "
                                "write-once audit needs; move the vault to a bucket created with Object Lock")
        if code in ("SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503") or status == 503:
            return StorageError(f"S3 is throttling requests to {b.bucket} and retries did not get through; "
                                "wait a minute and run the command again")
        if code == "NotImplemented" or status == 501:  # permanent: trying again will not help
            return StorageError(f"the S3 endpoint does not implement {op}, which refuge needs; "
                                "use AWS S3 or a server that implements it (docs/kms.md)")
        if status and status >= 500:
            return StorageError(f"S3 failed {op} ({code or status}) after retries; run the command again later")
        return StorageError(f"S3 refused {op} ({code or status}); check the vault location {where}")


# --- the backend ------------------------------------------------------------------------------


class S3Backend:
    """Objects in an S3 bucket under a prefix; create-only writes with If-None-Match."""

    root = None  # no local folder
    parallel_upload = True  # put_ranges: parts encrypted as they are sent, several at once

    def __init__(self, location: str, endpoint_url: str | None = None, region: str | None = None,
                 part_size: int | None = None, client=None) -> None:
        self.bucket, self.prefix = parse_location(location)
        self.location = canonical_location(location)
        self.endpoint_url = endpoint_url
        self.region = region
        if part_size is None:  # REFUGE_S3_PART_MIB tunes it (benchmarks, very large files)
            env = os.environ.get("REFUGE_S3_PART_MIB", "")
            part_size = int(env) * MIB if env.isdigit() else PART_SIZE
        if not 5 * MIB <= part_size <= 5 * 1024 * MIB:
            raise InvalidInput("S3 parts must be 5 MiB to 5 GiB; check REFUGE_S3_PART_MIB")
        self.part_size = part_size
        env = os.environ.get("REFUGE_S3_PARALLEL", "")
        self.parallel = int(env) if env.isdigit() else PARALLEL
        # {"mode": "GOVERNANCE"|"COMPLIANCE", "days": N}: set from the vault's settings when it is opened.
        self.object_lock: dict | None = None
        self._client = client
        self._versioned: bool | None = None
        self._lock = threading.Lock()
        self._errors = _Errors(self)

    # The client is made on first use, and not pickled (audit verification may
    # hand the backend to worker processes, which make their own).
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_client=None, _lock=None, _errors=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._errors = _Errors(self)

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import botocore.session  # botocore alone: boto3 adds half a second of imports

                    try:
                        self._client = botocore.session.get_session().create_client(
                            "s3", endpoint_url=self.endpoint_url, config=self._config())
                    except ValueError as e:
                        raise InvalidInput(f"the S3 endpoint URL is not valid ({e}); give it as "
                                           "http(s)://HOST[:PORT]") from None
        return self._client

    def _config(self):
        cfg = client_config(self.region)
        style = os.environ.get("REFUGE_S3_ADDRESSING_STYLE") or ("path" if self.endpoint_url else "auto")
        from botocore.config import Config

        return cfg.merge(Config(s3={"addressing_style": style}))

    def _key(self, key: str) -> str:
        check_key(key)
        return self.prefix + key

    def _call(self, op: str, key: str | None = None, **kwargs):
        e = boto_exceptions()[0]
        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kwargs)
        except (e.BotoCoreError, e.ClientError) as exc:
            raise self._errors.explain(exc, op, key) from None

    def _lock_args(self, key: str) -> dict:
        lock = self.object_lock
        if not lock or not key.startswith(LOCK_PREFIXES):
            return {}
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=int(lock["days"]))
        return {"ObjectLockMode": lock["mode"], "ObjectLockRetainUntilDate": until}

    # --- writing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, key: str, before_commit: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
        upload = Upload(self, key)
        try:
            yield upload
            if before_commit is not None:
                before_commit()
        except BaseException:
            upload.abort()
            raise
        upload.commit()

    def put(self, key: str, data: bytes) -> None:
        self._put_small(key, data)

    def put_ranges(self, key: str, size: int, reader: Callable[[int, int], BinaryIO]) -> None:
        """Create-only upload of an object whose bytes can be read again at will.

        ``reader(start, length)`` returns a fresh seekable stream of those bytes
        (an :class:`~vault.age.EncryptedFile` range, encrypted as botocore reads
        it). Parts go up RANGE_PARALLEL at a time and none is held in memory;
        a retried part is read again. Small objects are one PutObject.
        """
        upload = Upload(self, key)
        try:
            if size <= self.part_size:
                with reader(0, size) as r:
                    upload.write(r.read())
            else:
                upload.send_ranges(size, reader, RANGE_PARALLEL)
        except BaseException:
            upload.abort()
            raise
        upload.commit()

    def _put_small(self, key: str, data) -> None:
        full = self._key(key)
        args = dict(Key=full, Body=data, IfNoneMatch="*", **self._lock_args(key))
        e = boto_exceptions()[0]
        for attempt in range(8):
            try:
                self.client.put_object(Bucket=self.bucket, **args)
                return
            except e.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ConditionalRequestConflict" and attempt < 7:
                    sleep_before_retry(attempt)  # another conditional write to this key is in progress: ask again
                    continue
                if code == "PreconditionFailed" and exc.response["ResponseMetadata"].get("RetryAttempts"):
                    # botocore retried: our first attempt may have landed with its answer lost.
                    if self._holds(key, data):
                        return
                raise self._errors.explain(exc, "put_object", key) from None
            except e.BotoCoreError as exc:
                raise self._errors.explain(exc, "put_object", key) from None

    def _holds(self, key: str, data) -> bool:
        try:
            with self.get(key) as f:
                return f.read() == bytes(data)
        except RefugeError:
            return False

    # --- reading ---------------------------------------------------------------------

    def get(self, key: str) -> BinaryIO:
        full = self._key(key)
        broken = boto_exceptions()[2]
        for attempt in range(MAX_ATTEMPTS):
            resp = self._call("get_object", key, Key=full)
            if resp["ContentLength"] > SMALL_OBJECT:
                return io.BufferedReader(_ObjectStream(self, key, resp), buffer_size=MIB)
            try:
                with contextlib.closing(resp["Body"]) as body:
                    data = body.read()
                if len(data) == resp["ContentLength"]:
                    return io.BytesIO(data)
            except broken:
                pass
            if attempt == MAX_ATTEMPTS - 1:
                raise StorageUnreachable(f"the connection to S3 kept breaking while reading {key}; run the command again")
            sleep_before_retry(attempt)
        raise AssertionError("unreachable")

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", key, Key=self._key(key))
            return True
        except NotFound:
            return False

    def list(self, prefix: str) -> Iterator[str]:
        base = self.prefix + prefix
        keys = []
        for page in self._pages("list_objects_v2", Prefix=base):
            keys.extend(o["Key"][len(self.prefix):] for o in page.get("Contents", ()))
        return iter(sorted(keys))

    def children(self, prefix: str) -> list[str]:
        p = prefix.strip("/")
        base = self.prefix + (p + "/" if p else "")
        names = set()
        for page in self._pages("list_objects_v2", Prefix=base, Delimiter="/"):
            names.update(c["Prefix"][len(base):].rstrip("/") for c in page.get("CommonPrefixes", ()))
            names.update(o["Key"][len(base):] for o in page.get("Contents", ()))
        return sorted(n for n in names if n)

    def _pages(self, op: str, **kwargs):
        e = boto_exceptions()[0]
        try:
            for page in self.client.get_paginator(op).paginate(Bucket=self.bucket, **kwargs):
                yield page
        except (e.BotoCoreError, e.ClientError) as exc:
            raise self._errors.explain(exc, op) from None

    def modified(self, key: str) -> float | None:
        """When ``key`` (or the newest object under a ``key/`` prefix, or a leftover upload) was written."""
        if key.startswith(".tmp/"):
            for name, when in self._uploads():
                if name == key[5:]:
                    return when
            return None
        if key.endswith("/"):
            times = [o["LastModified"].timestamp() for page in self._pages("list_objects_v2", Prefix=self._key(key[:-1]) + "/")
                     for o in page.get("Contents", ())]
            return max(times) if times else None
        try:
            return self._call("head_object", key, Key=self._key(key))["LastModified"].timestamp()
        except NotFound:
            return None

    # --- deleting (destroying keys, removing leftovers) ------------------------------------

    def delete(self, key: str) -> None:
        """Remove ``key``; in a versioned bucket (Object Lock needs one) every version of it too."""
        full = self._key(key)
        if not self._is_versioned():
            self._call("delete_object", key, Key=full)
            return
        for page in self._pages("list_object_versions", Prefix=full):
            for v in list(page.get("Versions", ())) + list(page.get("DeleteMarkers", ())):
                if v["Key"] == full:
                    self._call("delete_object", key, Key=full, VersionId=v["VersionId"])

    def _is_versioned(self) -> bool:
        if self._versioned is None:
            status = self._call("get_bucket_versioning").get("Status")
            self._versioned = status in ("Enabled", "Suspended")
        return self._versioned

    def leftovers(self) -> list[str]:
        """Multipart uploads under the prefix that were never completed (S3's kind of temporary file)."""
        return sorted(name for name, _ in self._uploads())

    def remove_leftover(self, name: str) -> None:
        """Abort one upload listed by :meth:`leftovers`."""
        key, sep, upload_id = name.rpartition("?uploadId=")
        if not sep:
            raise ValueError(f"not a leftover upload: {name!r}")
        self._call("abort_multipart_upload", key, Key=self._key(key), UploadId=upload_id)

    def _uploads(self) -> list[tuple[str, float]]:
        out = []
        for page in self._pages("list_multipart_uploads", Prefix=self.prefix):
            for u in page.get("Uploads", ()):
                out.append((f"{u['Key'][len(self.prefix):]}?uploadId={u['UploadId']}", u["Initiated"].timestamp()))
        return out

    # --- the bucket ----------------------------------------------------------------------

    def object_lock_configuration(self) -> dict | None:
        """The bucket's Object Lock configuration, or None if it was created without Object Lock."""
        e = boto_exceptions()[0]
        try:
            cfg = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except e.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
                return None
            raise self._errors.explain(exc, "get_object_lock_configuration") from None
        except e.BotoCoreError as exc:
            raise self._errors.explain(exc, "get_object_lock_configuration") from None
        cfg = cfg.get("ObjectLockConfiguration", {})
        return cfg if cfg.get("ObjectLockEnabled") == "Enabled" else None

    def check(self) -> None:
        """Fail with a clear error unless the bucket is there and reachable with these credentials."""
        self._call("head_bucket")

    def check_create_only(self) -> None:
        """Fail unless the endpoint refuses a second create-only write (PutObject and CompleteMultipartUpload).

        Every append (events, audit entries) relies on ``If-None-Match: *``
        answered with 412 when the object exists; a server that ignores it
        (s3rver, some gateways) lets concurrent writers overwrite each other.
        A probe object is written twice, then completed once more as a
        multipart upload, and deleted.
        """
        import secrets

        key = f"probe-create-only-{secrets.token_hex(8)}"
        try:
            self._put_small(key, b"refuge create-only probe\n")
            refused = _refused(lambda: self._put_small(key, b"second\n"))
            if refused:
                refused = _refused(lambda: self._complete_once(key))
        finally:
            with contextlib.suppress(RefugeError):
                self.delete(key)
        if not refused:
            raise StorageError(f"the S3 endpoint of {self.location} ignores If-None-Match: refuge needs a second "
                               "create-only write to fail with 412 PreconditionFailed (PutObject and "
                               "CompleteMultipartUpload); use AWS S3 or a server that implements it")

    def _complete_once(self, key: str) -> None:
        full = self._key(key)
        upload = self._call("create_multipart_upload", key, Key=full)["UploadId"]
        try:
            part = self._call("upload_part", key, Key=full, UploadId=upload, PartNumber=1, Body=b"second\n")
            self._call("complete_multipart_upload", key, Key=full, UploadId=upload, IfNoneMatch="*",
                       MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        finally:
            with contextlib.suppress(RefugeError):
                self._call("abort_multipart_upload", key, Key=full, UploadId=upload)


def _refused(write) -> bool:
    """Whether ``write()`` was refused because the object exists."""
    try:
        write()
    except ObjectExists:
        return True
    return False


class _ObjectStream(io.RawIOBase):
    """A large object's body that resumes by byte range when the connection breaks."""

    def __init__(self, backend: S3Backend, key: str, resp: dict) -> None:
        super().__init__()
        self.b = backend
        self.key = key
        self._body = resp["Body"]
        self._etag = resp.get("ETag")
        self._size = resp["ContentLength"]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        if self._pos >= self._size:
            return 0
        broken = boto_exceptions()[2]
        for attempt in range(MAX_ATTEMPTS + 1):
            try:
                data = self._body.read(min(len(buf), self._size - self._pos)) if self._body else b""
                if data:
                    n = len(data)
                    buf[:n] = data
                    self._pos += n
                    return n
            except broken:
                pass
            if attempt == MAX_ATTEMPTS:
                break
            sleep_before_retry(attempt)
            self._reopen()
        raise StorageUnreachable(f"the connection to S3 kept breaking while reading {self.key}; run the command again")

    def _reopen(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        self._body = None
        args = {"IfMatch": self._etag} if self._etag else {}
        try:
            resp = self.b._call("get_object", self.key, Key=self.b._key(self.key), Range=f"bytes={self._pos}-", **args)
        except ObjectExists:  # 412 on If-Match: the object changed under us, and objects never change
            raise VerificationFailed(f"object {self.key} changed while it was being read: it was replaced") from None
        except StorageUnreachable:
            return
        self._body = resp["Body"]

    def close(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()
