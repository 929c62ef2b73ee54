"""Copy a whole vault between backends (a folder to S3, or back), verified and resumable.

Every object is copied byte for byte (they are ciphertext and signed records:
no key is needed, and none is used), then read back from the destination and
its SHA-256 compared with the source's. An object already at the destination
with the same SHA-256 is skipped, so an interrupted copy is resumed by running
it again; one with different bytes stops the copy (VerificationFailed): the
destination holds another vault, or was altered. The ``vault`` settings object
goes last, so a partial copy is not yet a vault anyone can open.

Copying needs no identity and writes no audit entry: whoever holds the storage
can copy the ciphertext anyway, and the copy must stay identical to its source.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import InvalidInput, VerificationFailed
from .storage import Backend, ObjectExists

__all__ = ["CopyReport", "copy_vault"]

_CHUNK = 1024 * 1024
WORKERS = 8  # objects copied at once: most are small, and S3 answers in tens of milliseconds


@dataclass
class CopyReport:
    """What a copy did."""

    objects: int = 0  # objects in the source vault
    copied: int = 0  # written to the destination by this run
    present: int = 0  # already at the destination with the same SHA-256
    bytes_copied: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__, verified=self.copied + self.present)


def _sha256(backend: Backend, key: str) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with backend.get(key) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def copy_vault(src: Backend, dst: Backend, workers: int = WORKERS,
               progress: Callable[[CopyReport], None] | None = None) -> CopyReport:
    """Copy every object of the vault at ``src`` to ``dst``; see the module's docstring.

    Raises:
        NotFound: If there is no vault at ``src``.
        VerificationFailed: If an object at ``dst`` differs from the source, or
            does not read back as written.
    """
    from .core import Vault

    if src.location == dst.location:
        raise InvalidInput("the source and the destination are the same vault; give another destination")
    settings = Vault.read_settings(src)  # a refuge vault, of a version this refuge reads
    if dst.root is not None:  # a folder: make it, private
        Path(dst.root).mkdir(parents=True, exist_ok=True, mode=0o700)
    if settings.get("object_lock"):
        dst.object_lock = settings["object_lock"]  # audit entries stay write-once at the destination
    report = CopyReport()
    lock = threading.Lock()

    def one(key: str) -> None:
        wrote = False
        size = 0
        if dst.exists(key):
            same = _sha256(src, key)[0] == _sha256(dst, key)[0]
        else:
            h = hashlib.sha256()
            try:
                with src.get(key) as f, dst.writer(key) as w:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                        w.write(chunk)
                        size += len(chunk)
                wrote = True
                digest = h.hexdigest()
            except ObjectExists:  # another copy is running: compare as if it had been there
                digest = _sha256(src, key)[0]
            if _sha256(dst, key)[0] != digest:
                raise VerificationFailed(f"object {key} did not read back from the destination as "
                                         f"{'it was written' if wrote else 'the source has it'}; check the destination storage")
            same = True
        if not same:
            raise VerificationFailed(f"object {key} is already at the destination with different bytes: the "
                                     "destination holds another vault or was altered; pick an empty destination")
        with lock:
            if wrote:
                report.copied += 1
                report.bytes_copied += size
            else:
                report.present += 1
            if progress:
                progress(report)

    if dst.exists("vault") and _sha256(src, "vault")[0] != _sha256(dst, "vault")[0]:
        raise VerificationFailed("the destination already holds another vault (its settings object differs); "
                                 "pick an empty destination")
    keys = [k for k in src.list("") if k != "vault"]
    report.objects = len(keys) + 1
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="refuge-copy")
    try:
        futures = [pool.submit(one, k) for k in keys]
        wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            if f.done() and not f.cancelled() and f.exception() is not None:
                raise f.exception()
    finally:  # on an error or ^C: start nothing more, let the objects in progress finish or abort
        pool.shutdown(wait=True, cancel_futures=True)
    one("vault")  # last: until it is there, the destination is not a vault
    return report
