"""The vault: people, cases, case keys and documents, over a storage backend.

Objects the vault writes (docs/format.md describes each byte by byte):

    vault                               the vault's public settings (JSON)
    directory/keys/<user>               the directory identity, age-encrypted to a person
    directory/events/<seq>              enrolments and removals, signed, age-encrypted
    cases/<case>/keys/<ver>/<user>      the case identity of a key version, to one member
    cases/<case>/versions/<ver>         commit marker of a key version (signed)
    cases/<case>/events/<seq>           case events, signed, age-encrypted to the case
    cases/<case>/blobs/<blob>           an original document, age-encrypted to the case
    audit/<shard>/<seq>                 audit entries (see audit.py)

Membership is enforced by keys: reading a case needs its case identity, which
exists only wrapped to its members. Roles are checked here, by the client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from . import _pipe, age, intake
from .retention import CaseStatus, Policy, parse_period, purge_date
from . import audit
from .audit import AuditLog, seal_key
from .errors import InvalidInput, NotFound, NotPermitted, RefugeError, VerificationFailed
from .events import Event, EventLog, canonical, now, sign_record, verify_record
from .identity import Home, PublicIdentity, SecretIdentity, check_name
from .storage import Backend, ObjectExists, open_backend, write_atomically

__all__ = ["Vault", "User", "Case", "Document", "ROLES", "DOC_TYPES", "AddResult"]

FORMAT = "refuge-vault"
FORMAT_VERSION = 1
ROLES = ("admin", "lawyer", "case-lead", "auditor")
MEMBER_ROLES = ("lawyer", "case-lead")
# Directory events about a case's life that a case lead may sign (purging and the policy are admins').
_CASE_LIFE = ("case.closed", "case.reopened", "case.held", "case.released")
# Case events that change what a case holds: refused once the case is closed.
_CONTENT_EVENTS = ("doc.added", "doc.tagged", "consent.granted", "consent.withdrawn", "redaction.added",
                   "redaction.removed", "redaction.reviewed", "ocr.cached", "packet.built")
DOC_TYPES = (
    "identity", "civil-status", "medical", "psychological", "legal-declaration",
    "country-evidence", "correspondence", "photo", "translation", "other",
)


def _random_id(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().lower()


@dataclass
class User:
    """An enrolled person."""

    user_id: str
    name: str
    role: str
    public: PublicIdentity
    enrolled_by: str
    enrolled_at: str
    removed: bool = False

    def as_dict(self) -> dict:
        return {"id": self.user_id, "name": self.name, "role": self.role,
                "enrolled_at": self.enrolled_at, "removed": self.removed}


@dataclass
class Document:
    """A document of a case, at its latest version."""

    id: str
    case_id: str
    version: int
    blob: str
    key_version: int
    type: str
    title: str
    filename: str
    size: int
    sha256: str
    mime: str
    added_by: str
    added_at: str
    tags: list[str] = field(default_factory=list)
    person: str | None = None
    lang: str | None = None
    translation_of: str | None = None
    translator: str | None = None
    dialect: str | None = None
    flags: list[str] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "versions"}
        d["versions"] = len(self.versions)
        return d


@dataclass
class Case:
    """A case's state: the fold of its events."""

    id: str
    ref: str = ""
    title: str = ""
    created_by: str = ""
    created_at: str = ""
    members: set[str] = field(default_factory=set)
    documents: dict[str, Document] = field(default_factory=dict)
    consents: list[dict] = field(default_factory=list)
    packets: list[dict] = field(default_factory=list)
    redactions: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)  # pages a person looked at: doc, version, page, by, at
    ocr: dict[str, dict] = field(default_factory=dict)  # recognition results: key -> {doc, blob}
    last_seq: int = 0
    last_digest: str = ""

    def to_json(self) -> bytes:
        """The folded state, for the per-user cache."""
        d = dict(self.__dict__, members=sorted(self.members),
                 documents={k: dict(v.__dict__) for k, v in self.documents.items()})
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Case":
        d = json.loads(data)
        d["members"] = set(d["members"])
        d["documents"] = {k: Document(**v) for k, v in d["documents"].items()}
        return cls(**d)

    def as_dict(self, directory: "Directory | None" = None) -> dict:
        names = sorted(directory.name(u) for u in self.members) if directory else sorted(self.members)
        return {"id": self.id, "ref": self.ref, "title": self.title, "created_at": self.created_at,
                "members": names, "documents": len(self.documents)}


@dataclass
class AddResult:
    """The outcome of adding one file of a batch."""

    path: str
    document: Document | None = None
    error: RefugeError | None = None


class Directory:
    """Who is enrolled: the verified fold of the directory events."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.policy = Policy()
        self.cases: dict[str, CaseStatus] = {}  # the life of each case: closed, on hold, purged
        self.last_seq = 0
        self.last_digest = ""

    def status(self, case_id: str) -> CaseStatus:
        return self.cases.get(case_id) or CaseStatus(case_id)

    def by_name(self, name: str) -> User:
        for u in self.users.values():
            if u.name == name:
                return u
        raise NotFound(f"no user named {name} in this vault; see refuge user list")

    def name(self, user_id: str) -> str:
        u = self.users.get(user_id)
        return u.name if u else user_id

    def sign_pub(self, user_id: str) -> bytes | None:
        u = self.users.get(user_id)
        return u.public.sign_pub if u else None

    def apply(self, event: Event, anchor: bytes) -> None:
        """Check one directory event and fold it in."""
        data = event.data
        if event.seq == 1:
            if event.type != "vault.created":
                raise VerificationFailed("the directory does not start with the vault's creation")
            admin = PublicIdentity.from_fields(data["admin"])
            if admin.sign_pub != anchor or admin.user_id != event.author:
                raise VerificationFailed("the directory's founding admin does not match this vault's anchor key")
            signer_pub = admin.sign_pub
        else:
            author = self.users.get(event.author)
            allowed = ("admin", "case-lead") if event.type in _CASE_LIFE else ("admin",)
            if author is None or author.role not in allowed or author.removed:
                raise VerificationFailed(f"directory event {event.seq} is not signed by an enrolled "
                                         + " or ".join(allowed))
            signer_pub = author.public.sign_pub
        if not verify_record(event.record, signer_pub):
            raise VerificationFailed(f"directory event {event.seq} has a bad signature")
        if event.type in ("vault.created", "user.enrolled"):
            pub = PublicIdentity.from_fields(data["admin"] if event.seq == 1 else data["user"])
            role = "admin" if event.seq == 1 else data["role"]
            if pub.user_id in self.users or any(u.name == pub.name for u in self.users.values()):
                raise VerificationFailed(f"directory event {event.seq} enrolls a person twice")
            self.users[pub.user_id] = User(pub.user_id, pub.name, role, pub, event.author, event.time)
        elif event.type == "user.removed":
            if data.get("user_id") not in self.users:
                raise VerificationFailed(f"directory event {event.seq} removes someone never enrolled")
            self.users[data["user_id"]].removed = True
        elif event.type == "retention.policy":
            self.policy = Policy(data.get("default"), dict(data.get("types", {})))
        elif event.type in _CASE_LIFE or event.type == "case.purged":
            st = self.cases.setdefault(data["case"], CaseStatus(data["case"]))
            if event.type == "case.closed":
                st.closed_at, st.purge_after = event.time, data.get("purge_after")
            elif event.type == "case.reopened":
                st.closed_at = st.purge_after = None
            elif event.type == "case.held":
                st.hold = {"reason": data.get("reason", ""), "by": event.author, "at": event.time}
            elif event.type == "case.released":
                st.hold = None
            else:
                st.purged_at = event.time
        else:
            raise VerificationFailed(f"directory event {event.seq} has an unknown type")
        self.last_seq, self.last_digest = event.seq, event.digest


class Vault:
    """An opened vault, acting as one person."""

    def __init__(self, backend: Backend, home: Home, me: SecretIdentity, settings: dict) -> None:
        self.backend = backend
        self.home = home
        self.me = me
        self.settings = settings
        self.id = settings["vault_id"]
        if settings.get("object_lock") and hasattr(backend, "object_lock"):
            backend.object_lock = settings["object_lock"]  # S3: audit entries get Object Lock retention
        self._dir_identity = self._unwrap_directory_key()
        self.directory = Directory()
        self._directory_log = EventLog(backend, "directory/events")
        self._load_directory()
        self.audit_log = AuditLog(backend, seal_key(str(self._dir_identity)))
        self._cases: dict[str, Case] = {}
        self._checked_versions: dict[str, set[int]] = {}
        self._case_ids: dict[str, dict[int, age.X25519Identity]] = {}

    # --- opening ------------------------------------------------------------

    @staticmethod
    def read_settings(backend: Backend) -> dict:
        try:
            with backend.get("vault") as f:
                settings = json.loads(f.read())
        except NotFound:
            raise NotFound(f"no vault at {backend.location}; create one with refuge init, or set REFUGE_VAULT") from None
        except ValueError:
            raise VerificationFailed("the vault's settings object is damaged") from None
        if settings.get("format") != FORMAT or settings.get("version") != FORMAT_VERSION:
            raise InvalidInput(f"{backend.location} is not a refuge vault of a version this refuge reads")
        return settings

    @classmethod
    def open(cls, location: str, home: Home, unlock: Callable[[], SecretIdentity], **backend_options) -> "Vault":
        """Open the vault at ``location`` as the person ``unlock()`` returns.

        ``backend_options`` (S3: ``endpoint_url``, ``region``) go to :func:`open_backend`.
        """
        backend = open_backend(location, home=home, **backend_options)
        settings = cls.read_settings(backend)
        return cls(backend, home, unlock(), settings)

    @classmethod
    def init(cls, location: str, home: Home, admin: SecretIdentity, kms_key: str | None = None,
             lock_days: int | None = None, lock_mode: str | None = None, kms_endpoint_url: str | None = None,
             **backend_options) -> "Vault":
        """Create a vault with ``admin`` as its founding admin.

        ``kms_key`` turns on KMS escrow of every case key version (vault/kms.py);
        ``lock_days``/``lock_mode`` write audit entries with S3 Object Lock
        retention (the bucket must have Object Lock enabled). Both are recorded
        in the vault's settings object, once, here.
        """
        backend = open_backend(location, home=home, **backend_options)
        if isinstance(location, str) and not location.startswith("s3://"):
            p = Path(location)
            if p.exists() and any(p.iterdir()):
                if (p / "vault").exists():
                    raise InvalidInput(f"a vault already exists at {location}; use it, or pick another location")
                raise InvalidInput(f"{location} is not empty; pick an empty or new folder")
            p.mkdir(parents=True, exist_ok=True, mode=0o700)
        elif backend.exists("vault"):
            raise InvalidInput(f"a vault already exists at {location}; use it, or pick another location")
        elif backend.children(""):
            raise InvalidInput(f"{location} is not empty; pick an empty or new prefix")
        dir_identity = age.X25519Identity.generate()
        settings = {
            "format": FORMAT, "version": FORMAT_VERSION, "vault_id": _random_id(10),
            "created": now(), "anchor": base64.b64encode(admin.public.sign_pub).decode(),
        }
        if lock_days or lock_mode:
            from .s3 import object_lock_setting

            settings["object_lock"] = object_lock_setting(backend, lock_days, lock_mode)
        if kms_key:
            from .kms import Escrow

            escrow = Escrow(kms_key, getattr(backend, "region", None),
                            kms_endpoint_url or os.environ.get("REFUGE_KMS_ENDPOINT_URL"))
            escrow.probe(settings["vault_id"])  # fail now, before anything is written, if KMS refuses
            settings["kms"] = {"key_id": kms_key, "region": escrow.client.meta.region_name}
        try:
            backend.put("vault", canonical(settings))
        except ObjectExists:
            raise InvalidInput(f"a vault already exists at {location}; use it, or pick another location") from None
        backend.put(f"directory/keys/{admin.user_id}", age.encrypt_bytes([admin.age_identity.recipient], f"{dir_identity}\n".encode()))
        EventLog(backend, "directory/events").append(
            admin, "vault.created", {"vault_id": settings["vault_id"], "admin": admin.public.fields()},
            [dir_identity.recipient], lambda: (0, ""))
        return cls(backend, home, admin, settings)

    def _unwrap_directory_key(self) -> age.X25519Identity:
        try:
            with self.backend.get(f"directory/keys/{self.me.user_id}") as f:
                data = f.read()
        except NotFound:
            raise NotPermitted(f"{self.me.name} is not enrolled in this vault; ask an admin to run refuge user add") from None
        try:
            return age.X25519Identity.from_string(age.decrypt_bytes([self.me.age_identity], data).decode().strip())
        except (age.AgeError, ValueError):
            raise VerificationFailed("your copy of the directory key does not decrypt; it was altered") from None

    def _load_directory(self) -> None:
        anchor = base64.b64decode(self.settings["anchor"])
        pins = self.home.config().get("pins", {})
        pinned = pins.get(self.id)
        if pinned is None:
            self.home.update_config(pins={**pins, self.id: self.settings["anchor"]})
        elif pinned != self.settings["anchor"]:
            raise VerificationFailed("this vault's anchor key changed since you first used it: the vault was replaced or tampered with")
        for event in self._directory_log.events([self._dir_identity], self.directory.last_seq + 1, self.directory.last_digest):
            self.directory.apply(event, anchor)
        user = self.directory.users.get(self.me.user_id)
        if user is None:
            raise NotPermitted(f"{self.me.name} is not enrolled in this vault; ask an admin to run refuge user add")
        if user.removed:
            raise NotPermitted(f"{self.me.name} was removed from this vault")
        self.user = user

    @property
    def role(self) -> str:
        return self.user.role

    # --- audit ----------------------------------------------------------------

    @contextlib.contextmanager
    def audited(self, action: str, **targets):
        """Record one audit entry for the block: ok, denied (NotPermitted) or error.

        The block may fill in targets it resolves later through the yielded dict.
        """
        found = {k: v for k, v in targets.items() if v}
        result = "error"
        try:
            yield found
            result = "ok"
        except NotPermitted:
            result = "denied"
            raise
        finally:
            body = {"actor": self.me.user_id, "name": self.me.name, "role": self.role,
                    "action": action, "result": result}
            body.update({k: v for k, v in found.items() if v})
            self.audit_log.append(self.me, body)

    def audit_entries(self, case: str | None = None, user: str | None = None, action: str | None = None,
                      result: str | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
        """Audit entries, unsealed and filtered; members see only their own and their cases'."""
        case_id = None
        if case:
            case_id = case if case in self.case_ids() else None
            if case_id is None and self.role in MEMBER_ROLES:
                case_id = self.find_case(case).id
            if case_id is None:
                raise NotFound(f"no case with id {case}; auditors filter by case id (see the case column)")
        mine = None
        if self.role in MEMBER_ROLES:
            mine = {c.id for c in self.cases()}
        out = []
        for e in self.audit_log.entries():
            b = e.body
            if mine is not None and b.get("actor") != self.me.user_id and b.get("case") not in mine:
                continue
            if (case_id and b.get("case") != case_id) or (user and b.get("name") != user) \
                    or (action and b.get("action") != action and not b.get("action", "").startswith(action + ".")) \
                    or (result and b.get("result") != result) or (since and e.time < since) or (until and e.time > until):
                continue
            out.append({"seq": e.seq, "time": e.time, "user_id": b.get("actor"), **{k: v for k, v in b.items() if k != "actor"}})
        return out

    def _signers(self) -> dict[str, bytes]:
        return {uid: u.public.sign_pub for uid, u in self.directory.users.items()}

    def verify_audit(self, checkpoint_text: str | None = None) -> audit.Report:
        """Verify the whole log, against a checkpoint held elsewhere and the newest one stored in the vault."""
        self._require_role("auditor", "admin", doing="verifying the audit log")
        pubs = self._signers()
        checkpoints = []
        if checkpoint_text is not None:
            checkpoints.append(audit.open_checkpoint(checkpoint_text, self.id, pubs)[0])
        stored = self.backend.children(audit.CHECKPOINT_PREFIX)
        if stored:
            with self.backend.get(audit.CHECKPOINT_PREFIX + stored[-1]) as f:
                checkpoints.append(audit.open_checkpoint(f.read().decode(), self.id, pubs)[0])
        return audit.verify(self.audit_log, pubs, checkpoints)

    def save_checkpoint(self, report: audit.Report) -> str:
        """Sign a checkpoint of a verified log and keep a copy in the vault; returns its text."""
        text = audit.sign_checkpoint(self.id, report.entries, report.root, self.me)
        with contextlib.suppress(ObjectExists):
            self.backend.put(f"{audit.CHECKPOINT_PREFIX}{report.entries:012d}-{self.me.user_id}", text.encode())
        return text

    def prove_entry(self, seq: int) -> dict:
        """An inclusion proof of one entry, checkable by anyone with the entry's bytes."""
        self._require_role("auditor", "admin", doing="proving audit entries")
        return audit.prove(self.audit_log, seq)

    # --- people -----------------------------------------------------------------

    def _require_role(self, *roles: str, doing: str) -> None:
        if self.role not in roles:
            need = " or ".join(roles)
            raise NotPermitted(f"{doing} needs the {need} role; {self.me.name} is {self.role}")

    def add_user(self, public: PublicIdentity, role: str) -> User:
        """Enroll a person (admin only): a signed directory event and their directory key."""
        self._require_role("admin", doing="enrolling people")
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role}; use one of {', '.join(ROLES)}")
        if public.user_id in self.directory.users or any(u.name == public.name for u in self.directory.users.values()):
            raise InvalidInput(f"{public.name} is already enrolled; see refuge user list")
        key = f"directory/keys/{public.user_id}"
        if not self.backend.exists(key):
            self.backend.put(key, age.encrypt_bytes([public.age_recipient], f"{self._dir_identity}\n".encode()))
        self._append_directory("user.enrolled", {"user": public.fields(), "role": role})
        from . import orgkey

        orgkey.wrap_to(self, self.directory.users[public.user_id])  # admins and case leads hold the org key
        return self.directory.users[public.user_id]

    def remove_user(self, name: str) -> User:
        """Mark a person removed (admin only); their cases rotate keys on the next write."""
        self._require_role("admin", doing="removing people")
        user = self.directory.by_name(name)
        if user.removed:
            raise InvalidInput(f"{name} was already removed")
        if user.user_id == self.me.user_id:
            raise InvalidInput("you cannot remove yourself; ask another admin")
        self._append_directory("user.removed", {"user_id": user.user_id})
        self.backend.delete(f"directory/keys/{user.user_id}")
        from . import orgkey

        orgkey.forget(self, user.user_id)  # their copies of the organisation signing key
        return user

    def _append_directory(self, type: str, data: dict, check: Callable[[], None] | None = None) -> None:
        """Append a directory event; ``check()`` runs on the caught-up directory before each attempt."""
        anchor = base64.b64decode(self.settings["anchor"])

        def tail():
            for ev in self._directory_log.events([self._dir_identity], self.directory.last_seq + 1, self.directory.last_digest):
                self.directory.apply(ev, anchor)
            if check:
                check()  # e.g. a hold placed at the same moment as a purge stops the purge
            return self.directory.last_seq, self.directory.last_digest

        event = self._directory_log.append(self.me, type, data, [self._dir_identity.recipient], tail)
        self.directory.apply(event, anchor)

    def users(self) -> list[User]:
        return sorted(self.directory.users.values(), key=lambda u: u.name)

    # --- cases: keys ----------------------------------------------------------------

    def _case_prefix(self, case_id: str) -> str:
        return f"cases/{case_id}/"

    def _versions(self, case_id: str) -> list[int]:
        """The committed key versions of a case, each marker checked once per process.

        A marker must be signed by an enrolled lawyer or case lead (people who
        can hold case keys), so someone who can only write to storage, or an
        auditor or admin, cannot slip in a key version of their own.
        """
        checked = self._checked_versions.setdefault(case_id, set())
        versions = [int(v) for v in self.backend.children(f"cases/{case_id}/versions/") if v.isdigit()]
        for v in versions:
            if v in checked:
                continue
            with self.backend.get(f"cases/{case_id}/versions/{v:04d}") as f:
                try:
                    marker = json.loads(f.read())
                except ValueError:
                    marker = {}
            signer = self.directory.users.get(marker.get("author", "")) if isinstance(marker, dict) else None
            if (signer is None or signer.role not in MEMBER_ROLES or marker.get("version") != v
                    or marker.get("case") != case_id or not verify_record(marker, signer.public.sign_pub)):
                raise VerificationFailed(f"key version {v} of case {case_id} is not signed by a member: "
                                         "someone added a case key outside refuge; run refuge fsck")
            checked.add(v)
        return versions

    def _current_version(self, case_id: str) -> int:
        versions = self._versions(case_id)
        if not versions:
            raise NotFound(f"case {case_id} not found; see refuge case list")
        return versions[-1]

    def _case_identities(self, case_id: str) -> dict[int, age.X25519Identity]:
        """The case identities of every key version wrapped to me."""
        known = self._case_ids.setdefault(case_id, {})
        for v in self._versions(case_id):
            if v in known:
                continue
            key = f"cases/{case_id}/keys/{v:04d}/{self.me.user_id}"
            if not self.backend.exists(key):
                continue
            with self.backend.get(key) as f:
                data = f.read()
            try:
                known[v] = age.X25519Identity.from_string(age.decrypt_bytes([self.me.age_identity], data).decode().strip())
            except (age.AgeError, ValueError):
                raise VerificationFailed(f"your key for case {case_id} does not decrypt; it was altered") from None
        return known

    def _require_member(self, case_id: str) -> dict[int, age.X25519Identity]:
        identities = self._case_identities(case_id)
        if self._current_version(case_id) not in identities:
            if self.role == "auditor":
                raise NotPermitted("auditors cannot read case content; they read the audit log")
            raise NotPermitted("you are not a member of this case; ask one of its case leads to run refuge case grant")
        return identities

    def _write_version(self, case_id: str, version: int, identity: age.X25519Identity, members: Iterable[str]) -> None:
        members = sorted(set(members))
        escrow = self._escrow()
        escrowed = escrow.encrypt(self.id, case_id, version, str(identity)) if escrow else None
        for uid in members:
            user = self.directory.users[uid]
            self.backend.put(f"cases/{case_id}/keys/{version:04d}/{uid}",
                             age.encrypt_bytes([user.public.age_recipient], f"{identity}\n".encode()))
        if escrowed is not None:  # the KMS escrow copy, before the marker commits the version
            from .kms import escrow_key

            self.backend.put(escrow_key(case_id, version), escrowed)
        marker = sign_record(self.me, {"case": case_id, "version": version, "members": members, "time": now()})
        self.backend.put(f"cases/{case_id}/versions/{version:04d}", canonical(marker))
        self._case_ids.setdefault(case_id, {})[version] = identity

    def _rotate(self, case: Case, members: set[str]) -> int:
        """Make a new key version for ``members``; returns its number."""
        taken = [int(v) for v in self.backend.children(f"cases/{case.id}/keys/") if v.isdigit()]
        version = max(taken + self._versions(case.id)) + 1
        try:
            self._write_version(case.id, version, age.X25519Identity.generate(), members)
        except ObjectExists:
            raise RefugeError("someone else changed this case's keys at the same moment; run the command again") from None
        return version

    # --- cases: KMS escrow (vault/kms.py) -----------------------------------------------

    def _escrow(self):
        """The KMS escrow of this vault, or None when it was created without --kms-key."""
        if not self.settings.get("kms"):
            return None
        if getattr(self, "_kms", None) is None:
            from .kms import Escrow

            self._kms = Escrow.from_settings(self.settings["kms"], self.home, self.backend.location)
        return self._kms

    def recover_case(self, case_id: str, name: str) -> tuple[User, list[int]]:
        """Recover a case's keys from KMS escrow and wrap them to ``name`` (admins only).

        The admin cannot read case references, so the case is given by its id
        (the case column of the audit log). Every key version is decrypted with
        KMS, the case's signed events are checked with the recovered keys, each
        version is wrapped to ``name`` as a normal member key, and a
        ``member.granted`` event signed by the admin records it. The admin holds
        the case keys only for the duration of this call; CloudTrail records each
        KMS Decrypt with the case's encryption context. Returns the new member
        and the key versions recovered.
        """
        from .kms import escrow_key

        self._require_role("admin", doing="recovering a case from KMS escrow")
        escrow = self._escrow()
        if escrow is None:
            raise InvalidInput("this vault was created without --kms-key, so no case key is escrowed; "
                               "recover through a member's case key (refuge case export-key)")
        if case_id not in self.case_ids():
            self.case_id_for(case_id)  # raises: purged, or no such case
        user = self.directory.by_name(name)
        if user.removed:
            raise InvalidInput(f"{name} was removed from the vault")
        if user.role not in MEMBER_ROLES:
            raise InvalidInput(f"{name} is {user.role}; only lawyers and case leads can be case members")
        versions = self._versions(case_id)
        if not versions:
            raise NotFound(f"case {case_id} has no committed key version")
        recovered: dict[int, age.X25519Identity] = {}
        for v in versions:
            try:
                with self.backend.get(escrow_key(case_id, v)) as f:
                    blob = f.read()
            except NotFound:
                raise VerificationFailed(f"key version {v} of case {case_id} has no escrow copy: it was deleted, "
                                         "or written before KMS escrow was set up") from None
            try:
                recovered[v] = age.X25519Identity.from_string(escrow.decrypt(self.id, case_id, v, blob).strip())
            except ValueError:
                raise VerificationFailed(f"the escrow copy of key version {v} of case {case_id} is not a case key") from None
        try:
            self._case_ids[case_id] = dict(recovered)
            case = Case(case_id)
            for event in self._case_log(case_id).events(recovered.values()):
                self._apply(case, event)  # the recovered keys open the case, and its history verifies
            # No key rotation here even if members were removed: key versions are signed by
            # members, so the next member who writes rotates, as after any removal.
            for v, identity in sorted(recovered.items()):
                key = f"cases/{case_id}/keys/{v:04d}/{user.user_id}"
                if not self.backend.exists(key):
                    self.backend.put(key, age.encrypt_bytes([user.public.age_recipient], f"{identity}\n".encode()))
            if user.user_id not in case.members:
                self._append_case(case, "member.granted", {"users": [user.user_id], "recovered": "kms-escrow"})
        except age.AgeError:
            raise VerificationFailed(f"the escrowed keys of case {case_id} do not open its events: "
                                     "the escrow or the events were altered") from None
        finally:  # the admin is no member: forget the keys and the case now
            self._case_ids.pop(case_id, None)
            self._cases.pop(case_id, None)
        return user, versions

    # --- cases: events ---------------------------------------------------------------

    def _case_log(self, case_id: str) -> EventLog:
        return EventLog(self.backend, f"cases/{case_id}/events")

    def load_case(self, case_id: str) -> Case:
        """The verified state of a case I am a member of."""
        identities = self._require_member(case_id)
        case = self._cases.get(case_id) or self._cached_case(case_id, identities) or Case(case_id)
        seen = case.last_seq
        for event in self._case_log(case_id).events(identities.values(), case.last_seq + 1, case.last_digest):
            self._apply(case, event)
        self._cases[case_id] = case
        if case.last_seq != seen:
            self._save_case_cache(case)
        return case

    # The per-user state cache: each case's folded state, age-encrypted to its
    # user, in REFUGE_HOME/cache. It is trusted only while the event it ends at
    # is still in the vault with the same digest; otherwise the case is folded
    # again from its first event. (fsck --deep always folds from the start.)

    def _cache_path(self, case_id: str) -> Path:
        return self.home.path / "cache" / self.id / self.me.user_id / f"{case_id}.age"

    def _cached_case(self, case_id: str, identities) -> Case | None:
        try:
            data = self._cache_path(case_id).read_bytes()
            case = Case.from_json(age.decrypt_bytes([self.me.age_identity], data))
        except (OSError, ValueError, TypeError, KeyError, age.AgeError):
            return None
        if case.id != case_id or case.last_seq < 1:
            return None
        try:
            same = self._case_log(case_id).read(case.last_seq, identities.values()).digest == case.last_digest
        except (NotFound, VerificationFailed, age.AgeError):
            same = False
        if not same:
            # Events are never deleted: the case was rolled back or rewritten under us.
            raise VerificationFailed(f"case {case_id} lost or changed events since you last read it: "
                                     "the vault was rolled back or tampered with; restore it from a backup and tell an admin")
        return case

    def _save_case_cache(self, case: Case) -> None:
        path = self._cache_path(case.id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(age.encrypt_bytes([self.me.age_identity.recipient], case.to_json()))
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation; the vault stays the truth

    def _apply(self, case: Case, event: Event) -> None:
        pub = self.directory.sign_pub(event.author)
        if pub is None or not verify_record(event.record, pub):
            raise VerificationFailed(f"event {event.seq} of case {case.id} has a bad or unknown signature")
        if event.record.get("case") != case.id:
            raise VerificationFailed(f"event {event.seq} of case {case.id} belongs to another case")
        d = event.data
        t = event.type
        if event.seq == 1 and t != "case.created":
            raise VerificationFailed(f"case {case.id} does not start with its creation")
        if t == "case.created":
            case.ref, case.title, case.created_by, case.created_at = d["ref"], d.get("title", ""), event.author, event.time
            case.members = {event.author}
        elif t == "member.granted":
            case.members.update(d["users"])
        elif t == "member.revoked":
            case.members.difference_update(d["users"])
        elif t == "doc.added":
            doc = case.documents.get(d["id"])
            entry = {k: d[k] for k in ("version", "blob", "key_version", "size", "sha256", "mime", "filename")}
            entry.update(added_by=event.author, added_at=event.time)
            if doc is None:
                doc = Document(d["id"], case.id, d["version"], d["blob"], d["key_version"], d["type"], d["title"],
                               d["filename"], d["size"], d["sha256"], d["mime"], event.author, event.time,
                               list(d.get("tags", [])), d.get("person"), d.get("lang"), d.get("translation_of"),
                               d.get("translator"), d.get("dialect"), list(d.get("flags", [])))
                case.documents[doc.id] = doc
            else:
                for k in ("version", "blob", "key_version", "size", "sha256", "mime", "filename", "flags"):
                    setattr(doc, k, d[k] if k != "flags" else list(d.get("flags", [])))
            doc.versions.append(entry)
        elif t == "doc.tagged":
            doc = case.documents[d["id"]]
            doc.tags = sorted((set(doc.tags) | set(d.get("add", []))) - set(d.get("remove", [])))
        elif t in ("consent.granted", "consent.withdrawn"):
            case.consents.append({"action": t.split(".")[1], "recipient": d["recipient"], "docs": d.get("docs", []),
                                  "expires": d.get("expires"), "note": d.get("note", ""), "by": event.author,
                                  "at": event.time, "seq": event.seq})
        elif t == "redaction.added":
            case.redactions.append(dict(d, by=event.author, at=event.time))
        elif t == "redaction.removed":
            case.redactions = [r for r in case.redactions if r["id"] != d["id"]]
        elif t == "packet.built":
            case.packets.append(dict(d, built_by=event.author, built_at=event.time))
        elif t == "redaction.reviewed":
            case.reviews.append({"doc": d["doc"], "version": d["version"], "page": d["page"], "by": event.author,
                                 "at": event.time})
        elif t == "ocr.cached":
            case.ocr[d["key"]] = {"doc": d["doc"], "blob": d["blob"]}
        case.last_seq, case.last_digest = event.seq, event.digest

    def _append_case(self, case: Case, type: str, data: dict) -> Event:
        if type in _CONTENT_EVENTS:
            self.require_open(case.id)
        version = self._current_version(case.id)
        identities = self._require_member(case.id)

        def tail():
            for ev in self._case_log(case.id).events(identities.values(), case.last_seq + 1, case.last_digest):
                self._apply(case, ev)
            return case.last_seq, case.last_digest

        event = self._case_log(case.id).append(self.me, type, data, [identities[version].recipient], tail,
                                               extra={"case": case.id})
        self._apply(case, event)
        return event

    def _before_write(self, case: Case) -> None:
        """Rotate the case key first if a member was removed from the vault."""
        removed = {u for u in case.members if self.directory.users.get(u) is None or self.directory.users[u].removed}
        if removed:
            self._rotate(case, case.members - removed)
            self._append_case(case, "member.revoked", {"users": sorted(removed), "reason": "removed from the vault"})
            self._destroy_wraps(case.id, removed)

    def _destroy_wraps(self, case_id: str, users: Iterable[str]) -> None:
        """Delete the wrapped copies of every key version held by ``users``."""
        for uid in users:
            for v in self._versions(case_id):
                self.backend.delete(f"cases/{case_id}/keys/{v:04d}/{uid}")

    # --- cases: commands -------------------------------------------------------------

    def case_ids(self) -> list[str]:
        """The ids of every case in the vault, purged ones left out."""
        return [c for c in self.backend.children("cases/") if not self.directory.status(c).purged_at]

    def cases(self) -> list[Case]:
        """Every case I am a member of."""
        for cid, st in self.directory.cases.items():
            if st.purged_at:
                self._forget_case(cid)  # a case purged since I last looked: drop my cached copy
        out = []
        for cid in self.case_ids():
            try:
                case = self.load_case(cid)
            except (NotPermitted, NotFound):
                continue
            if case.last_seq:  # a creation interrupted before its first event is no case (fsck reports it)
                out.append(case)
        return sorted(out, key=lambda c: (c.ref, c.id))

    def find_case(self, ref: str) -> Case:
        """A case of mine by reference (or by id)."""
        if ref in self.case_ids():
            return self.load_case(ref)
        matches = [c for c in self.cases() if c.ref == ref]
        if not matches:
            if self.role == "auditor":
                raise NotPermitted("auditors cannot read case content; they read the audit log")
            raise NotFound(f"no case {ref} among your cases; see refuge case list")
        if len(matches) > 1:
            raise InvalidInput(f"{len(matches)} cases have the reference {ref}; use the case id from refuge case list")
        return matches[0]

    def create_case(self, ref: str, title: str = "") -> Case:
        """Create a case with me as its first member (case leads)."""
        self._require_role("case-lead", doing="creating cases")
        ref = ref.strip()
        if not ref or len(ref) > 100 or any(ord(c) < 32 for c in ref):
            raise InvalidInput("a case reference must be 1 to 100 printable characters")
        if any(c.ref == ref for c in self.cases()):
            raise InvalidInput(f"you already have a case {ref}; pick another reference")
        case = Case(_random_id(10))
        self._write_version(case.id, 1, age.X25519Identity.generate(), [self.me.user_id])
        self._append_case(case, "case.created", {"ref": ref, "title": title})
        return case

    def grant(self, case: Case, names: Iterable[str]) -> list[User]:
        """Wrap every key version I hold to new members (case leads who are members)."""
        self._require_role("case-lead", doing="granting membership")
        identities = self._require_member(case.id)
        users = [self.directory.by_name(n) for n in names]
        for u in users:
            if u.removed:
                raise InvalidInput(f"{u.name} was removed from the vault")
            if u.role not in MEMBER_ROLES:
                raise InvalidInput(f"{u.name} is {u.role}; only lawyers and case leads can be case members")
        self._before_write(case)
        new = [u for u in users if u.user_id not in case.members]
        for u in new:
            for v, identity in sorted(identities.items()):
                key = f"cases/{case.id}/keys/{v:04d}/{u.user_id}"
                if not self.backend.exists(key):
                    self.backend.put(key, age.encrypt_bytes([u.public.age_recipient], f"{identity}\n".encode()))
        if new:
            self._append_case(case, "member.granted", {"users": [u.user_id for u in new]})
        return new

    def revoke(self, case: Case, names: Iterable[str]) -> list[User]:
        """Remove members: a new key version for those who remain."""
        self._require_role("case-lead", doing="revoking membership")
        self._require_member(case.id)
        users = [self.directory.by_name(n) for n in names]
        gone = {u.user_id for u in users if u.user_id in case.members}
        if self.me.user_id in gone:
            raise InvalidInput("you cannot revoke yourself; ask another case lead of this case")
        if not gone:
            return []
        self._before_write(case)
        self._rotate(case, case.members - gone)
        self._append_case(case, "member.revoked", {"users": sorted(gone)})
        self._destroy_wraps(case.id, gone)
        return [u for u in users if u.user_id in gone]

    def export_key(self, case: Case) -> str:
        """The case identities of every version I hold, as an age identity file."""
        self._require_role("case-lead", doing="exporting a case key")
        identities = self._require_member(case.id)
        lines = ["# refuge case key (every key version); keep it as safe as the documents"]
        lines += [f"# version {v}\n{identity}" for v, identity in sorted(identities.items())]
        return "\n".join(lines) + "\n"

    # --- documents -------------------------------------------------------------------

    # --- cases: retention (vault/retention.py) -------------------------------------------

    def case_status(self, case_id: str) -> CaseStatus:
        """A case's life as the directory records it: closed, on hold, purged."""
        return self.directory.status(case_id)

    def case_id_for(self, ref: str) -> str:
        """A case id from a reference (members) or an id (anyone: admins cannot read references)."""
        if ref in self.case_ids():
            return ref
        if self.role in MEMBER_ROLES:
            return self.find_case(ref).id
        if self.directory.status(ref).purged_at:
            raise NotFound(f"case {ref} was purged")
        raise NotFound(f"no case with id {ref}; {self.role}s give the case id (see refuge retention due, "
                       "or the case column of refuge audit log)")

    def require_open(self, case_id: str) -> None:
        """Refuse changes to a closed case (NotPermitted)."""
        if self.directory.status(case_id).closed_at:
            raise NotPermitted(f"case {case_id} is closed; a case lead reopens it with refuge case reopen")

    def set_retention(self, default: str | None = None, types: dict[str, str | None] | None = None) -> Policy:
        """Change the retention policy (admins): ``None`` for a period means keep until purged by hand."""
        self._require_role("admin", doing="setting the retention policy")
        policy = Policy(self.directory.policy.default, dict(self.directory.policy.types))
        if default is not None:
            policy.default = None if default == "none" else parse_period(default)
        for t, period in (types or {}).items():
            if t not in DOC_TYPES:
                raise InvalidInput(f"unknown document type {t}; use one of {', '.join(DOC_TYPES)}")
            if period in (None, "none"):
                policy.types.pop(t, None)
            else:
                policy.types[t] = parse_period(period)
        self._append_directory("retention.policy", policy.as_dict())
        return self.directory.policy

    def close_case(self, case: Case, retain: str | None = None, today: str | None = None) -> CaseStatus:
        """Close a case (case leads who are members) and fix its purge date.

        The date is today plus the longest of ``retain`` (else the policy's
        default) and the policy's periods for the document types in the case.
        """
        import datetime as dt

        self._require_role("case-lead", doing="closing cases")
        self._require_member(case.id)
        period = parse_period(retain) if retain else None
        if self.case_status(case.id).closed_at:
            raise InvalidInput(f"case {case.id} is already closed; see refuge case list")
        day = dt.date.fromisoformat(today) if today else dt.datetime.now(dt.timezone.utc).date()
        due = purge_date(day, period, self.directory.policy, {d.type for d in case.documents.values()})
        self._append_directory("case.closed", {"case": case.id, "retain": period,
                                               "purge_after": due.isoformat() if due else None})
        return self.case_status(case.id)

    def reopen_case(self, case: Case) -> CaseStatus:
        """Reopen a closed case (case leads who are members); its purge date is dropped."""
        self._require_role("case-lead", doing="reopening cases")
        self._require_member(case.id)
        if not self.case_status(case.id).closed_at:
            raise InvalidInput(f"case {case.id} is not closed")
        self._append_directory("case.reopened", {"case": case.id})
        return self.case_status(case.id)

    def hold_case(self, case_id: str, reason: str | None, release: bool = False) -> CaseStatus:
        """Place (or release) a legal hold: while it stands, nothing of the case may be destroyed.

        Admins and case leads who are members may do it. The reason is kept in
        the directory, which every enrolled person can read: write no names in it.
        """
        self._require_role("admin", "case-lead", doing="placing legal holds")
        if self.role == "case-lead":
            self._require_member(case_id)
        held = self.case_status(case_id).hold
        if release:
            if not held:
                raise InvalidInput(f"case {case_id} is not on hold")
            self._append_directory("case.released", {"case": case_id, "reason": reason or ""})
        else:
            if not reason or not reason.strip():
                raise InvalidInput("a legal hold needs --reason (a court order or file number, no names)")
            if held:
                raise InvalidInput(f"case {case_id} is already on hold (since {held['at']})")
            self._append_directory("case.held", {"case": case_id, "reason": reason.strip()})
        return self.case_status(case_id)

    def retention_due(self, on: str | None = None) -> list[CaseStatus]:
        """Closed cases whose purge date is ``on`` (default today, UTC) or earlier, holds left out."""
        import datetime as dt

        day = on or dt.datetime.now(dt.timezone.utc).date().isoformat()
        return sorted((st for st in self.directory.cases.values()
                       if st.purge_after and st.purge_after <= day and not st.hold and not st.purged_at),
                      key=lambda st: (st.purge_after, st.case_id))

    def purge_case(self, case_id: str) -> int:
        """Crypto-shred a closed case that is not on hold (admins); returns the objects destroyed.

        The purge is recorded in the directory first, then every wrapped copy of
        every key version and every KMS escrow copy is deleted (after which the
        rest is unreadable by anyone), then the case's events and documents. An
        interrupted purge is finished by running it again; fsck reports one.
        """
        self._require_role("admin", doing="purging cases")
        if not self.case_status(case_id).purged_at:
            if case_id not in self.case_ids():
                raise NotFound(f"no case with id {case_id}; see refuge retention due")

            def check() -> None:
                st = self.case_status(case_id)
                if st.hold:
                    raise NotPermitted(f"case {case_id} is on legal hold since {st.hold['at']}; nothing of it may be "
                                       "destroyed until the hold is released (refuge case hold --release)")
                if not st.closed_at:
                    raise NotPermitted(f"case {case_id} is open; a case lead closes it first (refuge case close)")

            check()
            self._append_directory("case.purged", {"case": case_id}, check)
        prefix = self._case_prefix(case_id)
        keys = list(self.backend.list(prefix))
        shred = [k for k in keys if k.startswith((prefix + "keys/", prefix + "escrow/"))]
        for key in shred + [k for k in keys if k not in shred]:
            self.backend.delete(key)
        self._forget_case(case_id)
        return len(keys)

    def _forget_case(self, case_id: str) -> None:
        """Drop what this process and this person's cache know of a purged case."""
        self._cases.pop(case_id, None)
        self._case_ids.pop(case_id, None)
        with contextlib.suppress(OSError):
            self._cache_path(case_id).unlink()

    def find_document(self, doc_id: str) -> tuple[Case, Document]:
        case_id, sep, _ = doc_id.partition("-")
        if not sep or case_id not in self.case_ids():
            raise NotFound(f"no document {doc_id}; see refuge doc list")
        case = self.load_case(case_id)
        doc = case.documents.get(doc_id)
        if doc is None:
            raise NotFound(f"no document {doc_id}; see refuge doc list")
        return case, doc

    def add_documents(
        self,
        case: Case,
        paths: list[str],
        type: str,
        tags: Iterable[str] = (),
        person: str | None = None,
        lang: str | None = None,
        title: str | None = None,
        translation_of: str | None = None,
        supersedes: str | None = None,
        limit: int = intake.DEFAULT_LIMIT,
        translator: str | None = None,
        dialect: str | None = None,
    ) -> list[AddResult]:
        """Add files to a case; each succeeds or fails alone and a failure leaves no trace."""
        self._require_role("lawyer", "case-lead", doing="adding documents")
        self._require_member(case.id)
        self.require_open(case.id)
        if type not in DOC_TYPES:
            raise InvalidInput(f"unknown document type {type}; use one of {', '.join(DOC_TYPES)}")
        if translation_of and translation_of not in case.documents:
            raise InvalidInput(f"--translation-of {translation_of} is not a document of this case")
        if supersedes and supersedes not in case.documents:
            raise InvalidInput(f"--supersedes {supersedes} is not a document of this case")
        if supersedes and len(paths) != 1:
            raise InvalidInput("--supersedes takes exactly one file")
        if (translator or dialect) and not translation_of:
            raise InvalidInput("--translator and --dialect describe a translation; give --translation-of DOC too")
        self._before_write(case)
        results = []
        for i, path in enumerate(paths, 1):
            label = f"file {i}" if len(paths) > 1 else "the file"
            try:
                results.append(AddResult(path, self._add_one(case, path, label, type, list(tags), person, lang,
                                                             title, translation_of, supersedes, limit,
                                                             translator, dialect)))
            except RefugeError as e:
                results.append(AddResult(path, error=e))
        return results

    def _add_one(self, case, path, label, type, tags, person, lang, title, translation_of, supersedes, limit,
                 translator=None, dialect=None) -> Document:
        found = intake.inspect_isolated(path, limit, label)
        version = self._current_version(case.id)
        recipient = self._case_identities(case.id)[version].recipient
        blob = _random_id(15)
        digest, size = self._store_blob(f"cases/{case.id}/blobs/{blob}", path, recipient)
        if size != found.size:
            self.backend.delete(f"cases/{case.id}/blobs/{blob}")  # never committed: leave no trace
            raise InvalidInput(f"{label} changed while it was being added; add it again")
        filename = os.path.basename(path)
        if supersedes:
            old = case.documents[supersedes]
            doc_id, number = old.id, old.version + 1
            meta = {"type": type or old.type, "title": title or old.title, "tags": sorted(set(old.tags) | set(tags)),
                    "person": person or old.person, "lang": lang or old.lang,
                    "translation_of": translation_of or old.translation_of}
        else:
            doc_id, number = f"{case.id}-{_random_id(5)}", 1
            meta = {"type": type, "title": title or os.path.splitext(filename)[0], "tags": sorted(set(tags)),
                    "person": person, "lang": lang, "translation_of": translation_of}
        if translator:
            meta.update(translator=translator, dialect=dialect)
        data = {"id": doc_id, "version": number, "blob": blob, "key_version": version, "filename": filename,
                "size": size, "sha256": digest, "mime": found.mime, "flags": list(found.flags), **meta}
        self._append_case(case, "doc.added", data)
        return case.documents[doc_id]

    def _store_blob(self, key: str, path: str, recipient) -> tuple[str, int]:
        """Encrypt a file into the vault, hashing it on another thread; returns (SHA-256, size).

        A size of -1 means the file changed while it was read.
        """
        if hasattr(self.backend, "put_ranges"):
            return self._store_blob_in_parts(key, path, recipient)
        sha = hashlib.sha256()
        with open(path, "rb", buffering=0) as src, self.backend.writer(key) as dst:
            enc = age.Encryptor([recipient], dst)
            # Small buffers: on S3 the upload holds a whole part already (doc add has speed to spare).
            size = _pipe.tee(src.readinto, [sha.update, enc.write], size=256 * 1024)
            enc.close()  # only after a complete read: the final chunk marks the end
        return sha.hexdigest(), size

    def _store_blob_in_parts(self, key: str, path: str, recipient) -> tuple[str, int]:
        """S3: parts encrypted as they are sent, several at once and none held in memory
        (age.EncryptedFile); the file is hashed alongside and must not change meanwhile."""
        import concurrent.futures

        with open(path, "rb", buffering=0) as src:
            fd = src.fileno()
            before = os.fstat(fd)
            encrypted = age.EncryptedFile([recipient], fd, before.st_size)
            sha = hashlib.sha256()

            def hash_all() -> int:
                pos = 0
                while chunk := os.pread(fd, 256 * 1024, pos):
                    sha.update(chunk)
                    pos += len(chunk)
                return pos

            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                hashed = pool.submit(hash_all)
                try:
                    self.backend.put_ranges(key, encrypted.size, encrypted.reader)
                except age.PayloadError:  # a chunk came back short: the file shrank
                    return sha.hexdigest(), -1
                size = hashed.result()
            after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != before.st_size:
            self.backend.delete(key)  # never committed: leave no trace
            return sha.hexdigest(), -1
        return sha.hexdigest(), size

    def read_document(self, doc: Document, dst: BinaryIO, version: int | None = None) -> None:
        """Decrypt a document into ``dst``, checking its SHA-256 as it streams."""
        identities = self._require_member(doc.case_id)
        entry = doc.versions[-1] if version is None else next(
            (v for v in doc.versions if v["version"] == version), None)
        if entry is None:
            raise NotFound(f"document {doc.id} has no version {version}; it has {len(doc.versions)}")
        sha = hashlib.sha256()
        with self.backend.get(f"cases/{doc.case_id}/blobs/{entry['blob']}") as src:
            try:
                with age.Decryptor(list(identities.values()), src) as dec:
                    _pipe.tee(dec.readinto, [sha.update, dst.write])
            except age.AgeError:
                raise VerificationFailed(f"document {doc.id} does not decrypt: its stored copy was damaged or altered") from None
        if sha.hexdigest() != entry["sha256"]:
            raise VerificationFailed(f"document {doc.id} does not match its recorded SHA-256: it was altered")

    def document_bytes(self, doc: Document) -> bytes:
        """A document's latest version, decrypted in memory (never on disk)."""
        buf = io.BytesIO()
        self.read_document(doc, buf)
        return buf.getvalue()

    # --- disclosure records ------------------------------------------------------------

    def record_packet(self, case: Case, volumes: list[bytes], record: dict) -> dict:
        """Store a built packet's exact bytes (encrypted) and its manifest in the case."""
        self._require_member(case.id)
        self.require_open(case.id)
        self._before_write(case)
        version = self._current_version(case.id)
        recipient = self._case_identities(case.id)[version].recipient
        stored = []
        for n, data in enumerate(volumes, 1):
            blob = _random_id(15)
            with self.backend.writer(f"cases/{case.id}/blobs/{blob}") as dst:
                with age.Encryptor([recipient], dst) as enc:
                    enc.write(data)
            stored.append({"volume": n, "blob": blob, "key_version": version, "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()})
        packet_id = f"{case.id}-p{_random_id(5)}"
        self._append_case(case, "packet.built", dict(record, id=packet_id, volumes=stored))
        return case.packets[-1]

    def find_packet(self, packet_id: str) -> tuple[Case, dict]:
        case_id = packet_id.partition("-")[0]
        if case_id not in self.case_ids():
            raise NotFound(f"no packet {packet_id}; see refuge packet history")
        case = self.load_case(case_id)
        for p in case.packets:
            if p["id"] == packet_id:
                return case, p
        raise NotFound(f"no packet {packet_id}; see refuge packet history")

    def packet_bytes(self, case: Case, packet: dict, volume: int = 1) -> bytes:
        """The exact bytes of one volume of a recorded packet."""
        identities = self._require_member(case.id)
        entry = next((v for v in packet["volumes"] if v["volume"] == volume), None)
        if entry is None:
            raise NotFound(f"packet {packet['id']} has no volume {volume}; it has {len(packet['volumes'])}")
        with self.backend.get(f"cases/{case.id}/blobs/{entry['blob']}") as src:
            try:
                data = age.decrypt_bytes(list(identities.values()), src.read())
            except age.AgeError:
                raise VerificationFailed(f"packet {packet['id']} does not decrypt: it was altered") from None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise VerificationFailed(f"packet {packet['id']} does not match its recorded SHA-256")
        return data

    # --- fsck -----------------------------------------------------------------------------

    def fsck(self, deep: bool = False) -> list[dict]:
        """Check every object this person can check; returns the problems found.

        Without case keys (admins, auditors) it checks age headers, key-version
        markers and the audit log; for each case the person is a member of it
        also folds every event from the first (ignoring the cache) and checks
        that every document's blob is there, and with ``deep`` that it decrypts
        to its recorded SHA-256. Leftovers of interrupted writes are reported
        with kind ``leftover``: they were never committed and ``repair`` may
        remove them.
        """
        problems: list[dict] = []

        def problem(obj: str, kind: str, message: str) -> None:
            problems.append({"object": obj, "kind": kind, "message": message})

        if hasattr(self.backend, "leftovers"):
            for name in self.backend.leftovers():
                problem(f".tmp/{name}", "leftover", "a temporary file of an interrupted write")
        for key in list(self.backend.list("directory/")) + list(self.backend.list("cases/")):
            if "/versions/" in key or "/escrow/" in key:  # signed JSON markers; KMS ciphertext blobs
                continue
            with self.backend.get(key) as f:
                try:
                    age.read_header(f)
                except age.AgeError:
                    problem(key, "damaged", "not a valid age file")
        pubs = self._signers()
        for cid, st in sorted(self.directory.cases.items()):
            if st.purged_at and any(True for _ in self.backend.list(self._case_prefix(cid))):
                problem(self._case_prefix(cid), "purge incomplete",
                        f"a purge was interrupted; an admin finishes it with refuge case purge {cid}")
        for cid in self.case_ids():
            committed = set(self._versions(cid))
            for v in self.backend.children(f"cases/{cid}/versions/"):
                with self.backend.get(f"cases/{cid}/versions/{v}") as f:
                    try:
                        marker = json.loads(f.read())
                        ok = verify_record(marker, pubs.get(marker.get("author"), b"")) and marker.get("version") == int(v)
                    except ValueError:
                        ok = False
                if not ok:
                    problem(f"cases/{cid}/versions/{v}", "bad signature", "a key-version marker does not verify")
            for v in self.backend.children(f"cases/{cid}/keys/"):
                if v.isdigit() and int(v) not in committed:
                    problem(f"cases/{cid}/keys/{v}/", "leftover", "a key version that was never committed")
            escrowed = {int(v) for v in self.backend.children(f"cases/{cid}/escrow/") if v.isdigit()}
            for v in sorted(escrowed - committed):
                problem(f"cases/{cid}/escrow/{v:04d}", "leftover", "the escrow copy of a key version never committed")
            if self.settings.get("kms"):
                for v in sorted(committed - escrowed):
                    problem(f"cases/{cid}/escrow/{v:04d}", "missing", "a key version has no KMS escrow copy")
            try:
                self._require_member(cid)
            except (NotPermitted, NotFound, VerificationFailed):
                continue  # not mine, or my key is damaged (reported above)
            try:
                case = Case(cid)
                identities = self._case_identities(cid)
                for event in self._case_log(cid).events(identities.values()):
                    self._apply(case, event)
            except VerificationFailed as e:
                problem(f"cases/{cid}/events/", "broken", str(e))
                continue
            if not case.last_seq:
                problem(f"cases/{cid}/", "leftover", "a case whose creation was interrupted before its first event")
                continue
            referenced = {v["blob"] for d in case.documents.values() for v in d.versions}
            referenced |= {v["blob"] for p in case.packets for v in p["volumes"]}
            referenced |= {e["blob"] for e in case.ocr.values()}
            present = set(self.backend.children(f"cases/{cid}/blobs/"))
            for blob in sorted(referenced - present):
                problem(f"cases/{cid}/blobs/{blob}", "missing", "a recorded document or packet is missing")
            for blob in sorted(present - referenced):
                problem(f"cases/{cid}/blobs/{blob}", "leftover", "a blob no event records (an interrupted add)")
            if deep:
                for d in case.documents.values():
                    for v in d.versions:
                        if v["blob"] not in present:
                            continue
                        try:
                            self.read_document(d, _Discard(), v["version"])
                        except VerificationFailed as e:
                            problem(f"cases/{cid}/blobs/{v['blob']}", "altered", str(e))
        report = audit.verify(self.audit_log, pubs)
        if not report.ok:
            problem(f"audit/", report.problem.kind, report.problem.message)
        return problems

    def repair(self, problems: list[dict]) -> list[str]:
        """Remove the leftovers of interrupted writes that fsck found; returns what was removed.

        Only leftovers older than a minute are touched, so a write still in
        progress in another process is never removed under it.
        """
        removed = []
        for p in problems:
            if p["kind"] != "leftover" or not self._old_enough(p["object"]):
                continue
            obj = p["object"]
            if obj.startswith(".tmp/"):
                self.backend.remove_leftover(obj[5:])
            elif obj.endswith("/"):
                for key in list(self.backend.list(obj)):
                    self.backend.delete(key)
            else:
                self.backend.delete(obj)
            removed.append(obj)
        return removed

    def _old_enough(self, obj: str, seconds: float = 60) -> bool:
        import time as _time

        root = getattr(self.backend, "root", None)
        if root is None and hasattr(self.backend, "modified"):  # S3: the object's (or upload's) own time
            written = self.backend.modified(obj)
            return written is not None and _time.time() - written > seconds
        if root is None:
            return True
        try:
            return _time.time() - os.stat(root / obj.rstrip("/")).st_mtime > seconds
        except OSError:
            return False

    # --- redaction rules ----------------------------------------------------------------

    def add_redaction(self, case: Case, rule: dict) -> dict:
        """Record a redaction rule: a term with a category, or a region of a document page.

        The rules are secret (they name what must not leak), so they live only in
        the case's encrypted events.
        """
        self._require_role("lawyer", "case-lead", doing="adding redaction rules")
        self._require_member(case.id)
        if rule["kind"] == "region" and rule["doc"] not in case.documents:
            raise InvalidInput(f"{rule['doc']} is not a document of this case; see refuge doc list")
        self._before_write(case)
        self._append_case(case, "redaction.added", dict(rule, id=f"r{_random_id(5)}"))
        return case.redactions[-1]

    def remove_redaction(self, case: Case, rule_id: str) -> None:
        self._require_role("lawyer", "case-lead", doing="removing redaction rules")
        if not any(r["id"] == rule_id for r in case.redactions):
            raise NotFound(f"no redaction rule {rule_id}; see refuge redact list")
        self._before_write(case)
        self._append_case(case, "redaction.removed", {"id": rule_id})

    # --- consent ----------------------------------------------------------------------

    def record_consent(self, case: Case, action: str, recipient: str, docs: Iterable[str] = (),
                       expires: str | None = None, note: str = "") -> dict:
        """Record that the person gave (``granted``) or took back (``withdrawn``) consent."""
        self._require_role("case-lead", doing="recording consent")
        self._require_member(case.id)
        docs = sorted(set(docs))
        for d in docs:
            if d not in case.documents:
                raise InvalidInput(f"--doc {d} is not a document of this case; see refuge doc list")
        self._before_write(case)
        data = {"recipient": recipient, "docs": docs}
        if action == "granted":
            data.update(expires=expires, note=note)
        self._append_case(case, f"consent.{action}", data)
        return case.consents[-1]

    def mark_reviewed(self, doc_id: str, pages: Iterable[int],
                      count_pages: Callable[[Document], int] | None = None) -> tuple[Case, Document, list[int]]:
        """Record that I looked at these pages of a document's latest version (case leads).

        ``count_pages(doc)``, when given, says how many pages the document has.
        """
        self._require_role("case-lead", doing="marking pages reviewed")
        case, doc = self.find_document(doc_id)
        pages = sorted(set(pages))
        if not pages or any(p < 1 for p in pages):
            raise InvalidInput("give the pages reviewed as --page N (1 or more)")
        if count_pages is not None and pages[-1] > (n := count_pages(doc)):
            raise InvalidInput(f"{doc.id} has {n} page{'s' if n != 1 else ''}; give --page 1 to {n}")
        self._before_write(case)
        for page in pages:
            self._append_case(case, "redaction.reviewed", {"doc": doc.id, "version": doc.version, "page": page})
        return case, doc, pages

    def ocr_results(self, case: Case) -> dict[str, dict]:
        """Recognition results kept in the case: key -> {page index: words}, decrypted in memory."""
        identities = self._require_member(case.id)
        out = {}
        for key, entry in case.ocr.items():
            try:
                with self.backend.get(f"cases/{case.id}/blobs/{entry['blob']}") as f:
                    out[key] = json.loads(age.decrypt_bytes(list(identities.values()), f.read()))
            except (NotFound, age.AgeError, ValueError):
                continue  # a damaged cache entry is recognised again
        return out

    def save_ocr(self, case: Case, results: dict[str, dict], docs: dict[str, str]) -> None:
        """Keep new recognition results in the case, encrypted like documents (``docs``: key -> doc id)."""
        if not results or self.case_status(case.id).closed_at:
            return  # a closed case takes no new events; plans of it recognise again
        self._require_member(case.id)
        self._before_write(case)
        version = self._current_version(case.id)
        recipient = self._case_identities(case.id)[version].recipient
        for key, pages in results.items():
            if key in case.ocr:
                continue
            blob = _random_id(15)
            self.backend.put(f"cases/{case.id}/blobs/{blob}", age.encrypt_bytes([recipient], canonical(pages)))
            self._append_case(case, "ocr.cached", {"key": key, "doc": docs.get(key, ""), "blob": blob})

    def tag(self, doc_id: str, add: Iterable[str], remove: Iterable[str]) -> Document:
        self._require_role("lawyer", "case-lead", doing="tagging documents")
        case, doc = self.find_document(doc_id)
        add, remove = sorted(set(add)), sorted(set(remove))
        if not add and not remove:
            raise InvalidInput("nothing to change; give --add TAG or --remove TAG")
        self._before_write(case)
        self._append_case(case, "doc.tagged", {"id": doc.id, "add": add, "remove": remove})
        return case.documents[doc.id]


class _Discard:
    """A sink that drops what it is given (fsck --deep reads documents only to check them)."""

    def write(self, data) -> int:
        return len(data)
