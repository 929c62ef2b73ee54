"""The audit log of an opened vault: recording actions, reading and verifying entries.

The log itself (sealed entries, Merkle tree, checkpoints) is vault/audit.py;
this layer decides who may read what. Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac

from . import audit
from .audit import seal_key
from . import _cache
from .cases import case_ids, find_case, my_case_ids
from .errors import NotFound, NotPermitted, VerificationFailed
from .people import MEMBER_ROLES, require_role, signers
from .storage import ObjectExists, read_small

__all__ = ["audited", "audit_entries", "verify_audit", "save_checkpoint", "prove_entry", "typed_hash"]


@contextlib.contextmanager
def audited(v, action: str, intent: bool = False, **targets):
    """Record one audit entry for the block: ok, denied (NotPermitted) or error.

    The block may fill in targets it resolves later through the yielded dict.
    With ``intent`` (reads that hand out plaintext: a document, a packet, a
    case key), an entry with result ``started`` is appended just before the
    first plaintext leaves the library (``AuditLog.before_plaintext``), and
    the outcome names it (``intent``): a read killed half-way still left an entry.
    """
    found = {k: t for k, t in targets.items() if _kept(t)}
    result = "error"
    started = []

    def body(result: str) -> dict:
        b = {"actor": v.me.user_id, "name": v.me.name, "role": v.role, "action": action, "result": result}
        b.update({k: t for k, t in found.items() if _kept(t)})
        return b

    def record_intent() -> None:
        if not started:
            started.append(v.audit_log.append(v.me, body("started")))

    if intent:
        v.audit_log.pending = record_intent
    try:
        yield found
        result = "ok"
    except NotPermitted:
        result = "denied"
        raise
    finally:
        v.audit_log.pending = None
        v.audit_log.append(v.me, dict(body(result), **({"intent": started[0]} if started else {})))


def _kept(value) -> bool:
    """Whether a target goes into the entry: anything but None and empty text or lists; a count of 0 does."""
    return bool(value) or (isinstance(value, int) and not isinstance(value, bool))


def typed_hash(v, text: str) -> str:
    """What the audit log keeps of something a person typed that named nothing: a keyed hash.

    Audit bodies are read by every enrolled person, so a mistyped reference or a
    title typed as an id ("Maria Lopez testimony") must not be written there.
    The hash is keyed with the vault's directory identity, so the storage holder
    cannot test guesses against it; it lets an auditor see that two failed
    attempts typed the same thing.
    """
    key = hmac.new(seal_key(str(v._dir_identity)), b"refuge typed text v1", hashlib.sha256).digest()
    return "hmac:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:20]


def audit_entries(v, case: str | None = None, user: str | None = None, action: str | None = None,
                  result: str | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
    """Audit entries, unsealed and filtered; members see only their own and their cases'."""
    case_id = None
    if case:
        case_id = case if case in case_ids(v) else None
        if case_id is None and v.role in MEMBER_ROLES:
            case_id = find_case(v, case).id
        if case_id is None:
            raise NotFound(f"no case with id {case}; auditors filter by case id (see the case column)")
    mine = set(my_case_ids(v)) if v.role in MEMBER_ROLES else None
    out = []
    every = list(_entries_since(v, since) if since else v.audit_log.entries())
    completed = {e.body.get("intent") for e in every if e.body.get("intent")}
    for e in every:
        b = e.body
        if b.get("result") == "started" and e.seq in completed:
            continue  # shown by its outcome; a started entry alone is a read that never finished
        if mine is not None and b.get("actor") != v.me.user_id and b.get("case") not in mine:
            continue
        if (case_id and b.get("case") != case_id) or (user and b.get("name") != user) \
                or (action and b.get("action") != action and not b.get("action", "").startswith(action + ".")) \
                or (result and b.get("result") != result) or (since and e.time < since) or (until and e.time > until):
            continue
        out.append({"seq": e.seq, "time": e.time, "user_id": b.get("actor"), **{k: x for k, x in b.items() if k != "actor"}})
    return out


TIMES = "audit.times"  # my sealed cache: the first and last entry time of each full shard read


def _entries_since(v, since: str):
    """Entries at or after ``since``, from the shards that can hold one: a full shard whose entries
    all came before it (as I read them earlier, kept in my cache) is not read again."""
    log = v.audit_log
    cached = _cache.load(v, TIMES)
    times = cached if isinstance(cached, dict) else {}
    changed = False
    shards = log.backend.children(audit.PREFIX)
    for i, shard in enumerate(shards):
        known = times.get(shard)
        if isinstance(known, list) and len(known) == 2 and isinstance(known[1], str) and known[1] < since:
            continue
        names = [n for n in log.backend.children(f"{audit.PREFIX}{shard}/") if n.isdigit()]
        seen = []
        for seq in map(int, names):
            entry = log.unseal(log.parse(seq, log.raw(seq)))
            seen.append(entry.time)
            if entry.time >= since:  # the older ones are only dated, never held: a cold cache of a
                yield entry  # 1,000,000-entry log held them all (3 GiB)
        if i < len(shards) - 1 and seen:  # complete: appends go in order, and a later shard exists
            times[shard], changed = [min(seen), max(seen)], True
    if changed:
        _cache.save(v, TIMES, times)


def verify_audit(v, checkpoint_text: str | None = None) -> audit.Report:
    """Verify the whole log, against a checkpoint held elsewhere and the newest one stored in the vault."""
    require_role(v, "auditor", "admin", doing="verifying the audit log")
    pubs = signers(v)
    checkpoints = []
    if checkpoint_text is not None:
        checkpoints.append(audit.open_checkpoint(checkpoint_text, v.id, pubs)[0])
    stored = _stored_checkpoint(v)
    if stored is not None:
        checkpoints.append(stored)
    if checkpoint_text is not None:  # from the checkpoint held elsewhere: only the entries after it are read
        report = audit.verify_from(v.audit_log, pubs, checkpoints[0], checkpoints[1:])
        if report is not None:
            return report
    return audit.verify(v.audit_log, pubs, checkpoints)


def _stored_checkpoint(v):
    """The newest checkpoint stored in the vault that an auditor or admin enrolled now signed, or None.

    Anyone who can write to the storage can store a checkpoint (garbage, or one
    they signed claiming a longer log) that sorts after the others; under S3
    Object Lock it could never be removed. Such a one is passed over, so it can
    neither break verification nor stand in front of the auditors' own.
    """
    verifiers = {uid: u.public.sign_pub for uid, u in v.directory.users.items()
                 if u.role in ("auditor", "admin") and not u.removed}
    for name in reversed(v.backend.children(audit.CHECKPOINT_PREFIX)):
        try:
            return audit.open_checkpoint(read_small(v.backend, audit.CHECKPOINT_PREFIX + name).decode(), v.id,
                                         verifiers)[0]
        except (VerificationFailed, UnicodeDecodeError, NotFound):
            continue
    return None


def save_checkpoint(v, report: audit.Report) -> str:
    """Sign a checkpoint of a verified log and keep a copy in the vault; returns its text."""
    text = audit.sign_checkpoint(v.id, report.entries, report.root, v.me, report.frontier, report.last_digest)
    with contextlib.suppress(ObjectExists):
        v.backend.put(f"{audit.CHECKPOINT_PREFIX}{report.entries:012d}-{v.me.user_id}", text.encode())
    return text


def prove_entry(v, seq: int) -> dict:
    """An inclusion proof of one entry, checkable by anyone with the entry's bytes."""
    require_role(v, "auditor", "admin", doing="proving audit entries")
    return audit.prove(v.audit_log, seq)
