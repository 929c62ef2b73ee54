"""Case keys: each case's identity, per key version, wrapped to each member.

    cases/<case>/keys/<ver>/<user>      the case identity of a key version, to one member
    cases/<case>/versions/<ver>         commit marker of a key version (signed)
    cases/<case>/escrow/<ver>           the KMS escrow copy (vault/kms.py), when the vault has one

Membership is enforced here by keys: reading a case needs its case identity,
which exists only wrapped to its members. A version is in force only when a
verified case event made it and its signed marker lists exactly the members at
that point (vault/cases.py checks both); new content is encrypted to the newest
such version only, never merely to the highest-numbered marker. Functions take
the opened vault as ``v``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Iterable

from . import age
from ._ids import random_id
from .errors import NotFound, NotPermitted, RefugeError, VerificationFailed
from .events import canonical, now, sign_record, verify_record
from .people import MEMBER_ROLES
from .storage import ObjectExists, read_small

__all__ = ["case_prefix", "marker_numbers", "read_marker", "check_markers", "versions", "current_version", "case_identities", "require_member",
           "current_recipient", "check_recipient", "store_bytes", "check_blob", "write_version", "rotate", "wrap_versions", "destroy_wraps", "escrow"]


def case_prefix(case_id: str) -> str:
    """The prefix of every object of a case."""
    return f"cases/{case_id}/"


def marker_numbers(v, case_id: str) -> list[int]:
    """The key-version markers present in storage (verified or not), in order."""
    return sorted(int(n) for n in v.backend.children(f"cases/{case_id}/versions/") if n.isdigit())


def read_marker(v, case_id: str, version: int) -> dict | None:
    """A key-version marker, if its signature verifies by its author (else ``{}``); None if absent."""
    cache = v._checked_versions.setdefault(case_id, {})
    if version in cache:
        return cache[version]
    try:
        marker = json.loads(read_small(v.backend, f"cases/{case_id}/versions/{version:04d}"))
    except NotFound:
        return None
    except (ValueError, RecursionError, VerificationFailed):  # (nested deeper than the parser recurses, too large)
        marker = {}
    signer = v.directory.users.get(marker.get("author", "")) if isinstance(marker, dict) else None
    if (signer is None or marker.get("version") != version or marker.get("case") != case_id
            or not isinstance(marker.get("members"), list) or not verify_record(marker, signer.public.sign_pub)):
        marker = {}
    cache[version] = marker
    return marker


def versions(v, case_id: str) -> list[int]:
    """The key versions whose markers are present and signed (whether a verified event made them or not).

    Which of them are in force is for the case's fold to say (``Case.key_versions``).
    """
    return [n for n in marker_numbers(v, case_id) if read_marker(v, case_id, n)]


def check_markers(v, case) -> None:
    """Refuse a marker newer than the case's current key version unless a current member signed it.

    A member's marker that no verified event names yet is a rotation in
    progress (or interrupted): it is ignored, and fsck reports it. One signed by
    anyone else was slipped in: a verification failure.
    """
    for n in marker_numbers(v, case.id):
        if n <= case.key_version or n in case.key_versions:
            continue
        marker = read_marker(v, case.id, n)
        signer = v.directory.acting((marker or {}).get("author", ""), v.directory.last_seq)
        if not marker or signer is None or signer.role not in MEMBER_ROLES or signer.user_id not in case.members:
            raise VerificationFailed(f"key version {n} of case {case.id} is not signed by a member: "
                                     "someone added a case key outside refuge", hint="fsck")


def current_version(v, case_id: str) -> int:
    """The case's current key version: the newest one a verified event made (members only)."""
    from .cases import load_case

    return load_case(v, case_id).key_version


def case_identities(v, case_id: str) -> dict[int, age.X25519Identity]:
    """The case identities of every key version wrapped to me (whether in force or not)."""
    known = v._case_ids.setdefault(case_id, {})
    for n in marker_numbers(v, case_id):
        if n in known:
            continue
        key = f"cases/{case_id}/keys/{n:04d}/{v.me.user_id}"
        try:
            data = read_small(v.backend, key)
        except NotFound:
            continue
        try:
            identity = age.X25519Identity.from_string(age.decrypt_bytes([v.me.age_identity], data).decode().strip())
        except (age.AgeError, ValueError):
            raise VerificationFailed(f"your key for case {case_id} does not decrypt; it was altered") from None
        check_recipient(v, case_id, n, identity)
        known[n] = identity
    return known


def check_recipient(v, case_id: str, version: int, identity: age.X25519Identity, copy: str = "your copy") -> None:
    """Refuse a wrapped case identity that is not the one the version's signed marker names.

    A wrap is an age file to my public recipient, which anyone can make: someone
    holding the storage could replace mine with a key of their own, and I would
    encrypt the case's next documents to it. Markers name the version's
    recipient (``recipient``) since this check; an older marker names none.
    """
    marker = read_marker(v, case_id, version) or {}
    named = marker.get("recipient")
    if named is not None and named != str(identity.recipient):
        raise VerificationFailed(f"{copy} of key version {version} of case {case_id} was replaced: it is not the key "
                                 "its marker names; someone added a key outside refuge", hint="fsck")


def require_member(v, case_id: str) -> dict[int, age.X25519Identity]:
    """My case identities, if the verified case counts me a member and I hold its current version."""
    from .cases import load_case

    case = v._cases.get(case_id) or load_case(v, case_id)
    identities = case_identities(v, case_id)
    if v.me.user_id not in case.members or case.key_version not in identities:
        raise_not_member(v)
    return identities


def raise_not_member(v) -> None:
    """NotPermitted, worded for the person acting."""
    if v.role == "auditor":
        raise NotPermitted("auditors cannot read case content; they read the audit log")
    raise NotPermitted("you are not a member of this case", hint="case-grant")


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


def check_blob(entry: dict, data: bytes, what: str) -> None:
    """Refuse a derived blob (a rendition, recognised text) that is not the one its signed event recorded.

    Someone holding the storage can copy another blob of the same case over it
    without any key: its event's ``blob_sha256`` says what it held. Events
    written before that field have none, and are not checked.
    """
    want = entry.get("blob_sha256")
    if want is not None and hashlib.sha256(data).hexdigest() != want:
        raise VerificationFailed(f"{what} was altered (blob {entry.get('blob')}): it is not what its event recorded; "
                                 "restore it from a backup", hint="fsck")


def rewrap_blob(v, case_id: str, blob: str, identities, recipient) -> str:
    """Copy a blob as a new blob whose age header wraps the same file key to ``recipient``; returns its id.

    Only the header changes (the file key is unwrapped with ``identities``, the
    header MAC recomputed); the payload is copied byte for byte, never decrypted.
    The old blob is deleted once the new one is stored.
    """
    from . import _age_format as fmt
    from . import _age_keys as keys

    new = random_id(15)
    with v.backend.get(f"cases/{case_id}/blobs/{blob}") as src:
        source = fmt.Source(src)
        header = fmt.parse_header(source)
        file_key = keys.unwrap(list(identities), header.stanzas)
        if not hmac.compare_digest(keys._mac(file_key, header.mac_input), header.mac):
            raise VerificationFailed(f"blob {blob} of case {case_id} has an altered header")
        mac_input = fmt.header_mac_input(recipient.wrap(file_key))
        with v.backend.writer(f"cases/{case_id}/blobs/{new}") as dst:
            dst.write(fmt.header_bytes(mac_input, keys._mac(file_key, mac_input)))
            while chunk := source.read_exact(1 << 20):
                dst.write(chunk)
    v.backend.delete(f"cases/{case_id}/blobs/{blob}")
    return new


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
    marker = sign_record(v.me, {"case": case_id, "version": version, "members": members,
                                "recipient": str(identity.recipient), "time": now()})
    v.backend.put(f"cases/{case_id}/versions/{version:04d}", canonical(marker))
    v._case_ids.setdefault(case_id, {})[version] = identity
    v._checked_versions.setdefault(case_id, {})[version] = marker


def rotate(v, case_id: str, members: set[str]) -> int:
    """Make a new key version for ``members``; returns its number."""
    taken = [int(n) for n in v.backend.children(f"cases/{case_id}/keys/") if n.isdigit()]
    version = max(taken + marker_numbers(v, case_id)) + 1
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
        for n in marker_numbers(v, case_id):
            v.backend.delete(f"cases/{case_id}/keys/{n:04d}/{uid}")


def escrow(v):
    """The KMS escrow of this vault (vault/kms.py), or None when it was created without a KMS key."""
    if not v.settings.get("kms"):
        return None
    if v._kms is None:
        from .kms import Escrow

        v._kms = Escrow.from_settings(v.settings["kms"], v.home, v.backend.location)
    return v._kms
