"""The audit log: one signed entry per action, appended create-only.

Every command that reads, writes, grants, revokes, exports, builds or verifies
appends exactly one entry through :meth:`AuditLog.append`, refusals and
failures included. An entry is stored as canonical JSON::

    {"v": 1, "seq": N, "prev": <sha256 hex of entry N-1's bytes>, "time": T,
     "author": <user id>, "sealed": <base64>, "sig": <base64 Ed25519>}

Only the number, the time and the author's opaque id are in the clear. What
was done (actor's name and role, action, opaque target ids, result, host) is
sealed with ChaCha20-Poly1305 under a key every enrolled person (auditors
included) can derive, so whoever holds the storage learns nothing more. The
signature covers the sealed bytes, so checking it needs no key at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from typing import Iterator

from . import _crypto, _merkle, _note
from .errors import NotFound, VerificationFailed
from .events import canonical, now, sign_record, verify_record
from .storage import Backend, ObjectExists, read_small

__all__ = ["AuditLog", "Entry", "RESULTS", "seal_key"]

PREFIX = "audit/"
SHARD = 10_000
RESULTS = ("ok", "denied", "error", "started")  # started: the intent entry of a read (auditing.audited)


def seal_key(directory_secret: str) -> bytes:
    """The audit sealing key, derived from the vault's directory identity."""
    return hmac.new(directory_secret.encode(), b"refuge audit seal v1", hashlib.sha256).digest()


def entry_key(seq: int) -> str:
    """The object key of entry ``seq`` (entries are sharded by ten thousand)."""
    return f"{PREFIX}{seq // SHARD:08d}/{seq:012d}"


@dataclass(frozen=True)
class Entry:
    """One audit entry, as stored and (when unsealed) as it reads."""

    seq: int
    raw: bytes
    record: dict
    body: dict | None = None

    @property
    def time(self) -> str:
        return self.record["time"]

    @property
    def author(self) -> str:
        return self.record["author"]


def _host() -> str:
    """This machine's name, as socket.gethostname gives it (uname's, without importing socket where there is one)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


class AuditLog:
    """Append and read the vault's audit entries."""

    def __init__(self, backend: Backend, key: bytes | None) -> None:
        self.backend = backend
        self._key = key
        self.pending = None  # set by auditing.audited(intent=True): records the intent entry

    def before_plaintext(self) -> None:
        """Called by the library just before plaintext leaves it: appends a pending intent entry."""
        if self.pending is not None:
            self.pending()

    # --- reading ----------------------------------------------------------

    def numbers(self) -> Iterator[int]:
        for shard in self.backend.children(PREFIX):
            for name in self.backend.children(f"{PREFIX}{shard}/"):
                if name.isdigit():
                    yield int(name)

    def last(self) -> int:
        """The highest entry number present (0 for an empty log)."""
        for shard in reversed(self.backend.children(PREFIX)):
            names = [n for n in self.backend.children(f"{PREFIX}{shard}/") if n.isdigit()]
            if names:
                return int(names[-1])
        return 0

    def raw(self, seq: int) -> bytes:
        return read_small(self.backend, entry_key(seq))

    def parse(self, seq: int, raw: bytes) -> Entry:
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or canonical(record) != raw:
                raise ValueError
        except (ValueError, RecursionError):
            raise VerificationFailed(f"audit entry {seq} is malformed: edited") from None
        return Entry(seq, raw, record)

    def unseal(self, entry: Entry) -> Entry:
        """The entry with its sealed body opened; raises VerificationFailed if edited."""
        try:
            sealed = base64.b64decode(entry.record["sealed"], validate=True)
            body = json.loads(_crypto.unseal(self._key, sealed, _aad(entry.seq)))
        except (KeyError, ValueError, TypeError, _crypto.InvalidTag):
            raise VerificationFailed(f"audit entry {entry.seq} does not open: edited") from None
        return Entry(entry.seq, entry.raw, entry.record, body)

    def entries(self, unseal: bool = True) -> Iterator[Entry]:
        for seq in self.numbers():
            entry = self.parse(seq, self.raw(seq))
            yield self.unseal(entry) if unseal else entry

    # --- writing ----------------------------------------------------------

    def append(self, signer, body: dict) -> int:
        """Seal, sign and store ``body`` as the next entry; returns its number."""
        body = dict(body, host=_host())
        plaintext = canonical(body)
        last = self.last()
        for _ in range(10_000):
            seq = last + 1
            prev = hashlib.sha256(self.raw(last)).hexdigest() if last else ""
            sealed = _crypto.seal(self._key, plaintext, _aad(seq))
            record = sign_record(signer, {"v": 1, "seq": seq, "prev": prev, "time": now(),
                                          "sealed": base64.b64encode(sealed).decode()})
            try:
                self.backend.put(entry_key(seq), canonical(record))
                return seq
            except ObjectExists:
                last = seq
        raise VerificationFailed("could not append to the audit log; is another writer looping?")


def _aad(seq: int) -> bytes:
    return b"refuge audit entry %d" % seq


def check_signature(entry: Entry, sign_pub: bytes) -> bool:
    """Whether the entry's signature is valid for ``sign_pub``."""
    return verify_record(entry.record, sign_pub)


# --- verification -------------------------------------------------------------------

CHECKPOINT_PREFIX = "audit-checkpoints/"


def origin(vault_id: str) -> str:
    """The checkpoint origin line of a vault's log."""
    return f"refuge.vault/{vault_id}"


@dataclass
class Problem:
    """The first thing wrong with the log: which entry, what kind, in words."""

    seq: int | None
    kind: str  # edited, deleted, reordered, inserted, unknown signer, forged actor, truncated, forked
    message: str

    def as_dict(self) -> dict:
        return {"entry": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class Report:
    """What ``verify`` found."""

    entries: int
    root: bytes
    problem: Problem | None = None
    checkpoint_size: int | None = None
    frontier: list[bytes] | None = None  # the tree's compact range, for a checkpoint to extend from
    last_digest: str = ""  # SHA-256 of the last entry's bytes

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "root": base64.b64encode(self.root).decode(),
                "checkpoint_size": self.checkpoint_size, "problem": self.problem.as_dict() if self.problem else None}


# An entry as AuditLog.append writes it (canonical JSON, keys sorted).
_ENTRY_RE = re.compile(rb'\{"author":"(u[a-z2-7]+)","prev":"([0-9a-f]{64}|)","sealed":"([A-Za-z0-9+/=]+)",'
                       rb'"seq":([1-9][0-9]*),"sig":"([A-Za-z0-9+/=]+)","time":"[0-9TZ:-]+","v":1\}\Z')


def _split_signed(raw: bytes) -> tuple[dict, bytes, bytes]:
    """Parse an entry; returns (record, signature, the signed bytes).

    The signed bytes are the canonical JSON of the record without ``sig``: as
    keys are sorted and entries canonical, that is the stored bytes with the
    ``,"sig":"..."`` member cut out. Stored bytes that are not the canonical
    JSON of what they parse to (duplicate keys: a parser that keeps the first
    reads another author) are malformed (ValueError), as :meth:`AuditLog.parse`
    finds them.
    """
    m = _ENTRY_RE.match(raw)
    if m:  # the shape every honest entry has: no JSON parser needed
        author, prev, sealed, seq, sig_text = (g.decode() for g in m.groups())
        record = {"author": author, "prev": prev, "seq": int(seq), "sig": sig_text, "sealed": sealed}
    else:
        record = json.loads(raw)
        if not isinstance(record, dict) or canonical(record) != raw:  # (duplicate keys, spaces: what AuditLog.parse refuses)
            raise ValueError("not canonical")
    sig_text = record["sig"]
    member = b',"sig":"' + sig_text.encode() + b'"'
    if raw.count(member) != 1:
        raise ValueError("not canonical")
    return record, base64.b64decode(sig_text, validate=True), raw.replace(member, b"", 1)


def _scan(args) -> list[tuple]:
    """Worker: read, parse and signature-check a run of entries.

    Returns, per entry: (seq stored at, seq claimed, prev, author, leaf hash, digest, status)
    with status "ok", "malformed", "unknown signer" or "bad signature".
    """
    root, keys, pubs, *rest = args
    seal = rest[0] if rest else None  # the sealing key: the actor in the sealed body must be the signer
    aead = _crypto.chacha20poly1305(seal) if seal is not None else None
    verifiers = {}
    for author, pub in pubs.items():
        try:
            verifiers[author] = _crypto.ed25519_verifier(pub)
        except ValueError:
            pass
    if isinstance(root, str):
        def read(key: str) -> bytes:  # the local fast path: one open and read per entry
            fd = os.open(os.path.join(root, key), os.O_RDONLY)
            try:
                return os.read(fd, 1 << 20)
            finally:
                os.close(fd)
    else:
        def read(key: str) -> bytes:
            return read_small(root, key)
    out = []
    for key in keys:
        raw = read(key)
        at = int(key.rsplit("/", 1)[1])
        leaf = _merkle.leaf_hash(raw)
        digest = hashlib.sha256(raw).hexdigest()
        try:
            record, sig, message = _split_signed(raw)
            claimed, prev, author = int(record["seq"]), record["prev"], record["author"]
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            out.append((at, None, None, None, leaf, digest, "malformed"))
            continue
        verify = verifiers.get(author)
        if verify is None:
            status = "unknown signer"
        else:
            status = "ok" if verify(sig, message) else "bad signature"
        if status == "ok" and aead is not None:
            status = _check_actor(aead, record, claimed, author)
        out.append((at, claimed, prev, author, leaf, digest, status))
    return out


def _check_actor(aead, record: dict, at: int, author: str) -> str:
    """"ok" if the sealed body names the signer as its actor (once), else "wrong actor" or "malformed"."""
    try:
        sealed = base64.b64decode(record["sealed"], validate=True)
        body = aead.decrypt(sealed[:12], sealed[12:], _aad(at))
    except (KeyError, ValueError, TypeError, _crypto.InvalidTag):
        return "malformed"
    if body.count(b'"actor":') != 1 or b'"actor":"' + author.encode() + b'"' not in body:
        return "wrong actor"
    return "ok"


def _keys_of(log: AuditLog) -> list[str]:
    return [entry_key(s) for s in log.numbers()]


def scan(log: AuditLog, pubs: dict[str, bytes], workers: int = 2, keys: list[str] | None = None) -> list[tuple]:
    """Read and signature-check every entry (or those of ``keys``), on ``workers`` processes."""
    keys = _keys_of(log) if keys is None else keys
    root = log.backend.location if type(log.backend).__name__ == "LocalBackend" else log.backend
    if workers <= 1 or len(keys) < 2000:
        return _scan((root, keys, pubs, log._key))
    step = -(-len(keys) // (workers * 4))
    chunks = [(root, keys[i:i + step], pubs, log._key) for i in range(0, len(keys), step)]
    from concurrent.futures import ProcessPoolExecutor  # here: multiprocessing costs every command's start
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return [row for part in pool.map(_scan, chunks) for row in part]


def check_rows(rows: list[tuple], start: int = 0, prev: str = "") -> tuple[list[bytes], Problem | None]:
    """Find the first problem in scanned rows (entries ``start`` + 1 on, after one of digest ``prev``);
    returns the leaf hashes and it."""
    leaves = [r[4] for r in rows]
    claimed_at = {r[1]: r[0] for r in rows if r[1] is not None}
    forged = None  # the first entry whose body names another actor: reported if nothing worse is found
    for i, (at, claimed, prev_field, author, leaf, digest, status) in enumerate(rows, start):
        expected = i + 1
        if at != expected:
            return leaves, Problem(expected, "deleted", f"entry {expected} is missing: deleted (the next present is {at})")
        if status == "malformed":
            return leaves, Problem(at, "edited", f"entry {at} is not a well-formed signed entry: edited")
        if claimed != at:
            if claimed < at:
                return leaves, Problem(at, "inserted", f"entry {at} was signed as entry {claimed}: an entry was inserted before it")
            if claimed_at.get(at) is not None:
                return leaves, Problem(at, "reordered", f"entry {at} was signed as entry {claimed}: entries were reordered")
            return leaves, Problem(at, "deleted", f"entry {at} was signed as entry {claimed}: an entry before it was deleted")
        if status == "unknown signer":
            return leaves, Problem(at, "unknown signer", f"entry {at} is signed by {author}, who is not enrolled")
        if status == "bad signature":
            return leaves, Problem(at, "edited", f"entry {at} does not match its signature: edited")
        if status == "wrong actor" and forged is None:
            forged = Problem(at, "forged actor", f"entry {at} is signed by {author} but names someone else "
                                                 "as the one who acted: forged by its signer")
        if prev_field != prev:
            return leaves, Problem(at, "edited", f"entry {at} does not follow entry {at - 1}: entry {at - 1} was edited or replaced")
        prev = digest
    return leaves, forged


def sign_checkpoint(vault_id: str, size: int, root: bytes, signer, frontier: list[bytes] | None = None,
                    last_digest: str = "") -> str:
    """A C2SP checkpoint of the log, signed as a note by ``signer`` (key name: their user id).

    With ``frontier`` (the tree's compact range) and ``last_digest`` (the last
    entry's SHA-256), two extension lines let a later verification start from
    this checkpoint and read only the entries after it (:func:`verify_from`).
    """
    extensions = []
    if frontier is not None and size:
        extensions = [f"{LAST} {last_digest}", " ".join([FRONTIER] + [base64.b64encode(h).decode() for h in frontier])]
    text = _note.format_checkpoint(origin(vault_id), size, root, extensions)
    return _note.sign_note(text, signer.user_id, signer._seed)


def open_checkpoint(text: str, vault_id: str, pubs: dict[str, bytes]) -> tuple[_note.Checkpoint, list[str]]:
    """Check a signed checkpoint against the enrolled keys; returns it and its signers."""
    try:
        body, signers = _note.open_note(text, pubs)
        checkpoint = _note.parse_checkpoint(body)
    except _note.NoteError as e:
        raise VerificationFailed(f"the checkpoint does not verify ({e}); was it saved from this vault?") from None
    if checkpoint.origin != origin(vault_id):
        raise VerificationFailed("the checkpoint belongs to another vault's log")
    return checkpoint, signers


def verify(log: AuditLog, pubs: dict[str, bytes], checkpoints: list[_note.Checkpoint] = (), workers: int = 2) -> Report:
    """Recompute the tree, check every entry and signature, and prove the log extends each checkpoint."""
    rows = scan(log, pubs, workers)
    leaves, problem = check_rows(rows)
    frontier = Frontier.of(leaves)
    tree_root = frontier.root()
    report = Report(len(leaves), tree_root, problem, frontier=frontier.hashes, last_digest=rows[-1][5] if rows else "")
    for cp in sorted(checkpoints, key=lambda c: c.size):
        if report.problem:
            break
        if cp.size > len(leaves):
            report.problem = Problem(len(leaves) + 1, "truncated",
                                     f"the log has {len(leaves)} entries but a checkpoint saw {cp.size}: truncated")
            break
        proof = _merkle.consistency_proof(leaves, cp.size, len(leaves))
        if not _merkle.verify_consistency(cp.size, len(leaves), cp.root, tree_root, proof):
            report.problem = Problem(None, "forked",
                                     f"the first {cp.size} entries differ from those the checkpoint saw: history was rewritten (forked)")
            break
        report.checkpoint_size = cp.size
    return report


def prove(log: AuditLog, seq: int) -> dict:
    """An inclusion proof of entry ``seq`` in the current tree, for a third party."""
    keys = _keys_of(log)
    if not 1 <= seq <= len(keys):
        raise NotFound(f"no audit entry {seq}; the log has {len(keys)}")
    leaves = [_merkle.leaf_hash(log.raw(int(k.rsplit("/", 1)[1]))) for k in keys]
    raw = log.raw(seq)
    return {
        "entry": seq, "entry_bytes": base64.b64encode(raw).decode(), "leaf_index": seq - 1,
        "tree_size": len(leaves), "root": base64.b64encode(_merkle.root(leaves)).decode(),
        "proof": [base64.b64encode(h).decode() for h in _merkle.inclusion_proof(leaves, seq - 1)],
    }


def check_proof(proof: dict) -> bool:
    """Whether an inclusion proof made by :func:`prove` holds."""
    try:
        leaf = _merkle.leaf_hash(base64.b64decode(proof["entry_bytes"], validate=True))
        path = [base64.b64decode(h, validate=True) for h in proof["proof"]]
        return _merkle.verify_inclusion(leaf, int(proof["leaf_index"]), int(proof["tree_size"]), path,
                                        base64.b64decode(proof["root"], validate=True))
    except (KeyError, ValueError, TypeError):
        return False



# --- from a checkpoint: reading only the entries after it ----------------------------------

LAST = "refuge-last"  # checkpoint extension: the SHA-256 of the last entry it covers
FRONTIER = "refuge-frontier"  # checkpoint extension: the roots of the tree's perfect subtrees, left to right


class Frontier:
    """The compact range of an RFC 6962 tree: the roots of its perfect subtrees, largest first.

    Enough to add leaves and compute the root without the earlier leaves:
    memory and work per leaf do not grow with the tree.
    """

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self.hashes = list(hashes or [])
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError("a compact range of another size")

    @classmethod
    def of(cls, leaves: list[bytes]) -> "Frontier":
        """The compact range of a whole tree (its perfect subtrees hashed level by level)."""
        hashes, lo, n = [], 0, len(leaves)
        for bit in reversed(range(n.bit_length())):
            if n >> bit & 1:
                hashes.append(_merkle._root(list(leaves[lo:lo + (1 << bit)])))
                lo += 1 << bit
        return cls(n, hashes)

    def push(self, leaf: bytes) -> None:
        n = self.size
        self.hashes.append(leaf)
        self.size += 1
        while n & 1:  # each trailing 1 of the old size is a perfect subtree the new leaf completes
            right, left = self.hashes.pop(), self.hashes.pop()
            self.hashes.append(_merkle.node_hash(left, right))
            n >>= 1

    def root(self) -> bytes:
        if not self.hashes:
            return _merkle.EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = _merkle.node_hash(h, r)
        return r


def _from(cp: _note.Checkpoint) -> tuple[Frontier, str] | None:
    """The compact range and last entry digest a checkpoint carries, or None (older checkpoints)."""
    ext = dict(line.split(" ", 1) if " " in line else (line, "") for line in cp.extensions)
    if FRONTIER not in ext or LAST not in ext or not re.fullmatch(r"[0-9a-f]{64}", ext[LAST]):
        return None
    try:
        hashes = [base64.b64decode(h, validate=True) for h in ext[FRONTIER].split()]
        frontier = Frontier(cp.size, hashes)
    except ValueError:
        raise VerificationFailed("the checkpoint's compact range is malformed") from None
    if any(len(h) != _merkle.HASH_SIZE for h in hashes) or frontier.root() != cp.root:
        raise VerificationFailed("the checkpoint's compact range does not give its root: it was not made by refuge")
    return frontier, ext[LAST]


def _keys_after(log: AuditLog, size: int) -> list[str]:
    """The keys of the entries numbered above ``size``, listing only the shards that can hold them."""
    keys = []
    for shard in log.backend.children(PREFIX):
        if shard.isdigit() and int(shard) >= size // SHARD:
            keys += [entry_key(int(n)) for n in log.backend.children(f"{PREFIX}{shard}/") if n.isdigit() and int(n) > size]
    return keys


def verify_from(log: AuditLog, pubs: dict[str, bytes], cp: _note.Checkpoint, later: list[_note.Checkpoint] = (),
                workers: int = 2) -> Report | None:
    """Verify only what follows a checkpoint that carries its compact range (None if it does not).

    The checkpoint vouches for its first ``cp.size`` entries (it was signed by
    an enrolled person when they verified); its last entry must still be there
    with the same bytes, and every later entry is checked as :func:`verify`
    checks it, chained on from there; the root is extended from the compact
    range, and each of ``later`` (checkpoints stored since) must be a root on
    the way. Work and memory are proportional to the entries after ``cp``.
    """
    start = _from(cp)
    if start is None:
        return None
    frontier, last_digest = start
    if cp.size:
        try:
            digest = hashlib.sha256(log.raw(cp.size)).hexdigest()
        except NotFound:
            n = log.last()
            return Report(n, b"", Problem(n + 1, "truncated", f"the log has {n} entries but a checkpoint saw {cp.size}: truncated"))
        if digest != last_digest:
            return Report(cp.size, b"", Problem(cp.size, "forked", f"entry {cp.size} differs from the one the checkpoint "
                                                                   "saw: history was rewritten (forked)"))
    rows = scan(log, pubs, workers, _keys_after(log, cp.size))
    leaves, problem = check_rows(rows, cp.size, last_digest)
    roots = {c.size: c.root for c in later if c.size > cp.size}
    for leaf in leaves:
        frontier.push(leaf)
        if frontier.size in roots and problem is None and frontier.root() != roots[frontier.size]:
            problem = Problem(None, "forked", f"the first {frontier.size} entries differ from those a stored checkpoint "
                                              "saw: history was rewritten (forked)")
    if problem is None and any(size > frontier.size for size in roots):
        size = max(roots)
        problem = Problem(frontier.size + 1, "truncated",
                          f"the log has {frontier.size} entries but a checkpoint saw {size}: truncated")
    return Report(frontier.size, frontier.root(), problem, cp.size, frontier.hashes,
                  rows[-1][5] if rows else last_digest)
