"""Case keys: each case's identity, per key version, wrapped to each member.

    cases/<case>/keys/<ver>/<user>      the case identity of a key version, to one member
    cases/<case>/versions/<ver>         commit marker of a key version (signed)
    cases/<case>/escrow/<ver>           the KMS escrow copy (vault/kms.py), when the vault has one

Membership is enforced here by keys: reading a case needs its case identity,
which exists only wrapped to its members. New content is encrypted to the
current (highest) version only. Functions take the opened vault as ``v``.
"""

from __future__ import annotations

import json
from typing import Iterable

from . import age
from ._ids import random_id
from .errors import NotFound, NotPermitted, RefugeError, VerificationFailed
from .events import canonical, now, sign_record, verify_record
from .people import MEMBER_ROLES
from .storage import ObjectExists

__all__ = ["case_prefix", "versions", "current_version", "case_identities", "require_member",
           "current_recipient", "store_bytes", "write_version", "rotate", "wrap_versions", "destroy_wraps", "escrow"]


def case_prefix(case_id: str) -> str:
    """The prefix of every object of a case."""
    return f"cases/{case_id}/"


def versions(v, case_id: str) -> list[int]:
    """The committed key versions of a case, each marker checked once per process.

    A marker must be signed by an enrolled lawyer or case lead (people who
    can hold case keys), so someone who can only write to storage, or an
    auditor or admin, cannot slip in a key version of their own.
    """
    checked = v._checked_versions.setdefault(case_id, set())
    found = [int(n) for n in v.backend.children(f"cases/{case_id}/versions/") if n.isdigit()]
    for n in found:
        if n in checked:
            continue
        with v.backend.get(f"cases/{case_id}/versions/{n:04d}") as f:
            try:
                marker = json.loads(f.read())
            except ValueError:
                marker = {}
        signer = v.directory.users.get(marker.get("author", "")) if isinstance(marker, dict) else None
        if (signer is None or signer.role not in MEMBER_ROLES or marker.get("version") != n
                or marker.get("case") != case_id or not verify_record(marker, signer.public.sign_pub)):
            raise VerificationFailed(f"key version {n} of case {case_id} is not signed by a member: "
                                     "someone added a case key outside refuge", hint="fsck")
        checked.add(n)
    return found


def current_version(v, case_id: str) -> int:
    """The highest committed key version of a case (NotFound if it has none)."""
    found = versions(v, case_id)
    if not found:
        raise NotFound(f"case {case_id} not found", hint="case-list")
    return found[-1]


def case_identities(v, case_id: str) -> dict[int, age.X25519Identity]:
    """The case identities of every key version wrapped to me."""
    known = v._case_ids.setdefault(case_id, {})
    for n in versions(v, case_id):
        if n in known:
            continue
        key = f"cases/{case_id}/keys/{n:04d}/{v.me.user_id}"
        if not v.backend.exists(key):
            continue
        with v.backend.get(key) as f:
            data = f.read()
        try:
            known[n] = age.X25519Identity.from_string(age.decrypt_bytes([v.me.age_identity], data).decode().strip())
        except (age.AgeError, ValueError):
            raise VerificationFailed(f"your key for case {case_id} does not decrypt; it was altered") from None
    return known


def require_member(v, case_id: str) -> dict[int, age.X25519Identity]:
    """My case identities, if I hold the current version (NotPermitted otherwise)."""
    identities = case_identities(v, case_id)
    if current_version(v, case_id) not in identities:
        if v.role == "auditor":
            raise NotPermitted("auditors cannot read case content; they read the audit log")
        raise NotPermitted("you are not a member of this case", hint="case-grant")
    return identities


def current_recipient(v, case_id: str) -> tuple[int, age.X25519Recipient]:
    """The key version new content of a case is encrypted to, and its recipient."""
    version = current_version(v, case_id)
    return version, case_identities(v, case_id)[version].recipient


def store_bytes(v, case_id: str, data: bytes) -> tuple[str, int]:
    """Encrypt ``data`` to the case's current key version as a new blob; returns (blob id, key version)."""
    version, recipient = current_recipient(v, case_id)
    blob = random_id(15)
    with v.backend.writer(f"cases/{case_id}/blobs/{blob}") as dst:
        with age.Encryptor([recipient], dst) as enc:
            enc.write(data)
    return blob, version


def _wrap(identity: age.X25519Identity, user) -> bytes:
    return age.encrypt_bytes([user.public.age_recipient], f"{identity}\n".encode())


def write_version(v, case_id: str, version: int, identity: age.X25519Identity, members: Iterable[str]) -> None:
    """Wrap a key version to each member, escrow it (KMS), then commit it with a signed marker."""
    members = sorted(set(members))
    kms = escrow(v)
    escrowed = kms.encrypt(v.id, case_id, version, str(identity)) if kms else None
    for uid in members:
        v.backend.put(f"cases/{case_id}/keys/{version:04d}/{uid}", _wrap(identity, v.directory.users[uid]))
    if escrowed is not None:  # the KMS escrow copy, before the marker commits the version
        from .kms import escrow_key

        v.backend.put(escrow_key(case_id, version), escrowed)
    marker = sign_record(v.me, {"case": case_id, "version": version, "members": members, "time": now()})
    v.backend.put(f"cases/{case_id}/versions/{version:04d}", canonical(marker))
    v._case_ids.setdefault(case_id, {})[version] = identity


def rotate(v, case_id: str, members: set[str]) -> int:
    """Make a new key version for ``members``; returns its number."""
    taken = [int(n) for n in v.backend.children(f"cases/{case_id}/keys/") if n.isdigit()]
    version = max(taken + versions(v, case_id)) + 1
    try:
        write_version(v, case_id, version, age.X25519Identity.generate(), members)
    except ObjectExists:
        raise RefugeError("someone else changed this case's keys at the same moment; run the command again") from None
    return version


def wrap_versions(v, case_id: str, identities: dict[int, age.X25519Identity], user) -> None:
    """Wrap each of ``identities`` (key version -> case identity) to ``user``, where not done yet."""
    for n, identity in sorted(identities.items()):
        key = f"cases/{case_id}/keys/{n:04d}/{user.user_id}"
        if not v.backend.exists(key):
            v.backend.put(key, _wrap(identity, user))


def destroy_wraps(v, case_id: str, users: Iterable[str]) -> None:
    """Delete the wrapped copies of every key version held by ``users``."""
    for uid in users:
        for n in versions(v, case_id):
            v.backend.delete(f"cases/{case_id}/keys/{n:04d}/{uid}")


def escrow(v):
    """The KMS escrow of this vault (vault/kms.py), or None when it was created without a KMS key."""
    if not v.settings.get("kms"):
        return None
    if v._kms is None:
        from .kms import Escrow

        v._kms = Escrow.from_settings(v.settings["kms"], v.home, v.backend.location)
    return v._kms
