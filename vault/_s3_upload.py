"""The S3 backend's multipart upload writer: one PutObject, or parts past one part size.

Private to vault/s3.py, which owns the backend this writer sends through
(``backend.client``, ``backend.bucket``, ``backend.part_size``...).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import re
import time
from typing import TYPE_CHECKING

from .errors import RefugeError

MIB = 1024 * 1024
_SMALL = MIB  # an object being written grows in place up to this; past it, one part-sized buffer
_READ_PIECE = 64 * 1024  # the most a part's body hands out per read()

if TYPE_CHECKING:  # the backend this writer belongs to; s3.py imports this module
    from .s3 import S3Backend


def boto_exceptions():
    """botocore's exceptions module, and the tuples of unreachable-endpoint and broken-connection errors."""
    from botocore import exceptions as e

    unreachable = (e.EndpointConnectionError, e.ConnectTimeoutError, e.ProxyConnectionError)
    broken = (e.ConnectionClosedError, e.ReadTimeoutError, e.ResponseStreamingError, e.ConnectionError,
              e.IncompleteReadError)
    return e, unreachable, broken


def sleep_before_retry(attempt: int) -> None:
    """Wait before retry number ``attempt``: doubling, capped at 2 s, jittered."""
    time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))


class Upload(io.RawIOBase):
    """A create-only S3 object being written: one PutObject, or a multipart upload past one part.

    By default one part is held in memory: when it is full it is sent
    (botocore reads it in place, see :class:`_PartBody`) before more is
    accepted. With ``parallel`` N > 0, up to N full parts are sent at once by a
    small pool while the next one fills.
    """

    def __init__(self, backend: S3Backend, key: str) -> None:
        super().__init__()
        self.b = backend
        self.key = key
        self.full = backend._key(key)
        self._buf = bytearray()  # grows while small; a part-sized buffer, filled in place, past _SMALL
        self._fill = 0
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._done = False
        self._pool = None
        self._inflight: list = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._done:
            raise ValueError("write to a finished S3 upload")
        view = memoryview(data).cast("B")
        n = view.nbytes
        size = self.b.part_size
        while view:  # parts of exactly part_size, however the caller slices its writes
            if len(self._buf) < size and self._fill + len(view) > _SMALL:
                self._buf = self._grow(size)  # from here on filled in place: no reallocation, no copy
            take = min(len(view), size - self._fill)
            if len(self._buf) < size:  # still small: append
                self._buf += view[:take]
            else:
                self._buf[self._fill:self._fill + take] = view[:take]
            self._fill += take
            view = view[take:]
            if self._fill == size:
                self._send_part()
        return n

    def _grow(self, size: int) -> bytearray:
        """The part buffer, allocated once at its full size, holding what was written so far."""
        buf = bytearray(size)
        buf[:self._fill] = self._buf
        return buf

    def _send_part(self) -> None:
        if self._upload_id is None:
            resp = self.b._call("create_multipart_upload", self.key, Key=self.full, **self.b._lock_args(self.key))
            self._upload_id = resp["UploadId"]
        number = len(self._parts) + 1
        self._parts.append({"PartNumber": number})
        parallel = self.b.parallel
        if not parallel:  # one buffer, sent then refilled
            self._upload_part(number, memoryview(self._buf)[:self._fill])
            self._fill = 0
            return
        part, self._buf, self._fill = memoryview(self._buf)[:self._fill], bytearray(), 0
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="refuge-s3-part")
        while len(self._inflight) >= parallel:
            self._inflight.pop(0).result()
        self._inflight.append(self._pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: memoryview) -> None:
        with _PartBody(part) as body:
            self._send_body(number, body)

    def _send_body(self, number: int, body) -> None:
        resp = self.b._call("upload_part", self.key, Key=self.full, UploadId=self._upload_id,
                            PartNumber=number, Body=body)
        self._parts[number - 1]["ETag"] = resp["ETag"]

    def send_ranges(self, size: int, reader, parallel: int) -> None:
        """Upload ``size`` bytes as parts read from ``reader(start, length)``, ``parallel`` at once."""
        from concurrent.futures import ThreadPoolExecutor

        resp = self.b._call("create_multipart_upload", self.key, Key=self.full, **self.b._lock_args(self.key))
        self._upload_id = resp["UploadId"]
        step = self.b.part_size
        starts = list(range(0, size, step))
        self._parts = [{"PartNumber": n} for n in range(1, len(starts) + 1)]

        def send(n: int) -> None:
            with reader(starts[n], min(step, size - starts[n])) as body:
                self._send_body(n + 1, body)

        pool = ThreadPoolExecutor(max(1, parallel), thread_name_prefix="refuge-s3-range")
        futures = [pool.submit(send, n) for n in range(len(starts))]
        try:
            for f in futures:
                f.result()  # the first failure raises here (the caller aborts the upload)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        finally:
            pool.shutdown(wait=True)

    def _wait(self) -> None:
        while self._inflight:
            self._inflight.pop(0).result()

    def commit(self) -> None:
        if self._done:
            return
        try:
            if self._upload_id is None:
                small = self._buf if len(self._buf) == self._fill else bytes(memoryview(self._buf)[:self._fill])
                self.b._put_small(self.key, small)
            else:
                if self._fill:
                    self._send_part()
                self._wait()
                self._complete()
        except BaseException:
            self.abort()
            raise
        self._finish()

    def _complete(self) -> None:
        e = boto_exceptions()[0]
        for attempt in range(8):
            try:
                self.b.client.complete_multipart_upload(
                    Bucket=self.b.bucket, Key=self.full, UploadId=self._upload_id, IfNoneMatch="*",
                    MultipartUpload={"Parts": self._parts})
                return
            except e.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ConditionalRequestConflict" and attempt < 7:
                    sleep_before_retry(attempt)
                    continue
                if code == "PreconditionFailed" and exc.response["ResponseMetadata"].get("RetryAttempts") \
                        and self._completed_by_us():
                    return
                raise self.b._errors.explain(exc, "complete_multipart_upload", self.key) from None
            except e.BotoCoreError as exc:
                raise self.b._errors.explain(exc, "complete_multipart_upload", self.key) from None

    def _completed_by_us(self) -> bool:
        """After a retried complete met 412: is the object there the one these parts make?"""
        digests = b""
        for p in self._parts:
            tag = p.get("ETag", "").strip('"')
            if not re.fullmatch(r"[0-9a-f]{32}", tag):
                return False
            digests += bytes.fromhex(tag)
        want = f'"{hashlib.md5(digests).hexdigest()}-{len(self._parts)}"'
        try:
            return self.b._call("head_object", self.key, Key=self.full)["ETag"] == want
        except RefugeError:
            return False

    def abort(self) -> None:
        """Forget everything written; nothing is left under the key."""
        if self._done:
            return
        for f in self._inflight:
            f.cancel()
        with contextlib.suppress(Exception):
            self._wait()
        if self._upload_id is not None:
            with contextlib.suppress(Exception):
                self.b.client.abort_multipart_upload(Bucket=self.b.bucket, Key=self.full, UploadId=self._upload_id)
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._buf, self._fill = bytearray(), 0
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def close(self) -> None:
        # Closing the stream does not commit: the writer() block's clean exit does.
        super().close()


class _PartBody(io.RawIOBase):
    """A part's bytes as a seekable stream: botocore sends (and on a retry, re-sends) them without a copy."""

    def __init__(self, data: bytearray) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = max(0, min(len(buf), len(self._view) - self._pos))
        buf[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        # Short reads, as raw streams may: botocore hashes and checksums the body in 1 MiB
        # read()s, two alive at once; 64 KiB pieces keep that off the memory bound.
        if size is None or size < 0:
            return self.readall()
        n = max(0, min(size, _READ_PIECE, len(self._view) - self._pos))
        data = bytes(self._view[self._pos:self._pos + n])
        self._pos += n
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return len(self._view)

    def close(self) -> None:
        self._view.release()
        super().close()
