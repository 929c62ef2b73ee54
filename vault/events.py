"""Signed, encrypted event sequences: the building block of vault state.

An event is a JSON envelope signed by its author's Ed25519 key and encrypted
with age to the recipients of its sequence (a case, or the directory). Events
are numbered from 1 and hash-chained: each names the SHA-256 of the previous
envelope, so a removed, reordered or replaced event breaks the chain. Appends
are create-only; two writers racing for number N both try, one wins, and the
other re-reads and tries N+1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from . import age
from ._crypto import ed25519_verify
from .errors import VerificationFailed
from .storage import EVENT_MOST, Backend, ObjectExists, read_small

__all__ = ["Event", "EventLog", "canonical", "now", "sign_record", "verify_record"]

SEQ_WIDTH = 8


def canonical(obj) -> bytes:
    """The one byte form of a JSON value that is signed and hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def now() -> str:
    """UTC time, to the second, ISO 8601 with Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sign_record(signer, record: dict) -> dict:
    """Return ``record`` with ``author`` and an Ed25519 ``sig`` over the rest."""
    body = dict(record, author=signer.user_id)
    body.pop("sig", None)
    return dict(body, sig=base64.b64encode(signer.sign(canonical(body))).decode())


def verify_record(record: dict, sign_pub: bytes) -> bool:
    """Whether ``record['sig']`` is ``sign_pub``'s signature of the rest."""
    body = dict(record)
    try:
        sig = base64.b64decode(body.pop("sig"), validate=True)
    except (KeyError, ValueError, TypeError):
        return False
    return ed25519_verify(sign_pub, sig, canonical(body))


@dataclass(frozen=True)
class Event:
    """One decrypted, parsed event."""

    seq: int
    type: str
    author: str
    time: str
    data: dict
    record: dict
    digest: str

    @classmethod
    def parse(cls, seq: int, plaintext: bytes) -> "Event":
        """Parse a decrypted event; VerificationFailed unless it is a well-typed envelope."""
        try:
            record = json.loads(plaintext)
        except (ValueError, RecursionError):
            record = None
        if not (isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ("type", "author", "time", "sig"))
                and isinstance(record.get("data"), dict)):
            raise VerificationFailed(f"event {seq} is malformed")
        return cls(seq, record["type"], record["author"], record["time"], record["data"], record,
                   hashlib.sha256(plaintext).hexdigest())


class EventLog:
    """A numbered sequence of age-encrypted events under one key prefix."""

    def __init__(self, backend: Backend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix.rstrip("/") + "/"

    def key(self, seq: int) -> str:
        return f"{self.prefix}{seq:0{SEQ_WIDTH}d}"

    def numbers(self) -> list[int]:
        """The event numbers present, in order."""
        out = []
        for key in self.backend.list(self.prefix):
            name = key[len(self.prefix):]
            if name.isdigit() and len(name) == SEQ_WIDTH:
                out.append(int(name))
        return out

    def read(self, seq: int, identities: Iterable) -> Event:
        data = read_small(self.backend, self.key(seq), EVENT_MOST)
        try:
            plaintext = age.decrypt_bytes(list(identities), data)
        except age.NoIdentityMatch:
            raise
        except age.AgeError:
            raise VerificationFailed(f"event {seq} of a sequence does not decrypt: it was damaged or altered") from None
        return Event.parse(seq, plaintext)

    def events(self, identities: Iterable, start: int = 1, prev: str = "") -> Iterator[Event]:
        """Decrypt events from ``start`` on, checking numbering and the hash chain.

        Signatures are checked by the caller, who knows the authors' keys.
        """
        identities = list(identities)
        numbers = self.numbers()
        if numbers[: start - 1] != list(range(1, min(start, len(numbers) + 1))) or (start > 1 and len(numbers) < start - 1):
            missing = next((i for i, n in enumerate(numbers, 1) if i != n), len(numbers) + 1)
            raise VerificationFailed(f"event {missing} is missing from a sequence")
        expected = start
        for seq in numbers[start - 1:]:
            if seq != expected:
                raise VerificationFailed(f"event {expected} is missing from a sequence (next present is {seq})")
            event = self.read(seq, identities)
            if event.record.get("seq") != seq or event.record.get("prev", "") != prev:
                raise VerificationFailed(f"event {seq} is out of place: the hash chain is broken")
            prev = event.digest
            expected += 1
            yield event

    def append(
        self,
        signer,
        type: str,
        data: dict | Callable[[], dict],
        recipients: list | Callable[[], list],
        tail: Callable[[], tuple[int, str]],
        extra: dict | Callable[[], dict] | None = None,
    ) -> Event:
        """Sign and store a new event after the current tail.

        ``tail()`` returns (last seq, digest of the last event) as the caller
        knows it; on a lost race it is called again after re-reading.
        ``data``, ``recipients`` and ``extra`` may be callables, called after
        each ``tail()``: what the tail showed (a new key version, a newer
        directory) can change what is written and to whom.
        """
        for _ in range(1000):
            last, prev = tail()
            seq = last + 1
            body = data() if callable(data) else data
            more = (extra() if callable(extra) else extra) or {}
            record = sign_record(signer, {"seq": seq, "prev": prev, "type": type, "time": now(), "data": body, **more})
            plaintext = canonical(record)
            to = recipients() if callable(recipients) else recipients
            try:
                self.backend.put(self.key(seq), age.encrypt_bytes(to, plaintext))
            except ObjectExists:
                continue
            return Event.parse(seq, plaintext)
        raise VerificationFailed("could not append an event after 1000 attempts; is another writer looping?")
