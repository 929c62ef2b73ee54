"""The vault: people, cases, case keys and documents, over a storage backend.

Objects the vault writes (docs/format.md describes each byte by byte):

    vault                               the vault's public settings (JSON)
    directory/keys/<user>               the directory identity, age-encrypted to a person
    directory/events/<seq>              enrolments and removals, signed, age-encrypted
    cases/<case>/keys/<ver>/<user>      the case identity of a key version, to one member
    cases/<case>/versions/<ver>         commit marker of a key version (signed; in force once an event names it)
    cases/<case>/events/<seq>           case events, signed, age-encrypted to the case
    cases/<case>/blobs/<blob>           an original document, age-encrypted to the case
    audit/<shard>/<seq>                 audit entries (see audit.py)

Membership is enforced by keys: reading a case needs its case identity, which
exists only wrapped to its members. Roles, membership and key versions are
verified by every reader as it folds the signed events (people.py, cases.py);
the client's own checks only give a clear refusal first.

:class:`Vault` is a thin face over the layers, each a module of functions over
the opened vault, lower ones never importing higher ones:

    people.py      who acts: User, Directory, roles (require_role), enrolment
    casekeys.py    case keys: versions, membership by key, rotation, KMS escrow
    cases.py       cases: events, the fold, the per-user cache, grant and revoke
    lifecycle.py   closing, reopening, legal holds, purging (rules in retention.py)
    documents.py   documents, disclosure records, recognised text, redaction, consent
    doclife.py     duplicates, editing, removing and moving documents
    auditing.py    the audit log: recording, reading, verifying
    fsck.py        checking every object, and repairing interrupted writes
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Callable

from . import age, auditing, casekeys, cases, doclife, documents, fsck, lifecycle, people, recovery
from ._ids import random_id
from .audit import AuditLog, seal_key
from .cases import DOC_TYPES, Case, Document
from .documents import AddResult
from .errors import InvalidInput, NotFound, VerificationFailed
from .events import EventLog, canonical, now
from .identity import Home, SecretIdentity
from .people import MEMBER_ROLES, ROLES, Directory, User
from .storage import Backend, ObjectExists, open_backend, read_small

__all__ = ["Vault", "User", "Case", "Document", "ROLES", "DOC_TYPES", "AddResult", "Directory", "MEMBER_ROLES"]

FORMAT = "refuge-vault"
FORMAT_VERSION = 1


class Vault:
    """An opened vault, acting as one person.

    Its attributes are the state the layers share: the backend, the person
    acting (``me``, ``user``), the folded ``directory``, the ``audit_log``,
    and per-process caches of folded cases and unwrapped case keys.
    """

    def __init__(self, backend: Backend, home: Home, me: SecretIdentity, settings: dict) -> None:
        self.backend = backend
        self.home = home
        self.me = me
        self.settings = settings
        self.id = settings["vault_id"]
        if settings.get("object_lock"):
            backend.object_lock = settings["object_lock"]  # S3: audit entries get Object Lock retention
        self._dir_identity = people.unwrap_directory_key(self)
        self.directory = Directory()
        self._directory_log = EventLog(backend, "directory/events")
        try:
            self.user = people.load_directory(self)
        except age.NoIdentityMatch:  # an age file to my public recipient, which anyone can make
            raise VerificationFailed("your copy of the directory key does not open the directory: it was replaced; "
                                     "nothing was written", hint="fsck") from None
        self.audit_log = AuditLog(backend, seal_key(str(self._dir_identity)))
        self._cases: dict[str, Case] = {}
        self._checked_versions: dict[str, dict[int, dict]] = {}  # key-version markers read (casekeys.read_marker)
        self._case_ids: dict[str, dict[int, age.X25519Identity]] = {}
        self._kms = None  # the KMS escrow, made on first use (casekeys.escrow)

    # --- opening ------------------------------------------------------------

    @staticmethod
    def read_settings(backend: Backend) -> dict:
        """The vault's public settings object, checked to be a vault this refuge reads."""
        try:
            settings = json.loads(read_small(backend, "vault"))
        except NotFound:
            raise NotFound(f"no vault at {backend.location}", hint="init") from None
        except (ValueError, RecursionError):
            raise VerificationFailed("the vault's settings object is damaged") from None
        if not isinstance(settings, dict):
            raise VerificationFailed("the vault's settings object is damaged")
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
        _check_empty(backend, location)
        if hasattr(backend, "check_create_only"):
            backend.check_create_only()  # S3: a server that ignores If-None-Match is refused before anything is written
        dir_identity = age.X25519Identity.generate()
        settings = {
            "format": FORMAT, "version": FORMAT_VERSION, "vault_id": random_id(10),
            "created": now(), "anchor": base64.b64encode(admin.public.sign_pub).decode(),
        }
        if lock_days or lock_mode:
            from .s3 import object_lock_setting

            settings["object_lock"] = object_lock_setting(backend, lock_days, lock_mode)
        if kms_key:
            from .kms import Escrow

            escrow = Escrow(kms_key, backend.region, kms_endpoint_url or os.environ.get("REFUGE_KMS_ENDPOINT_URL"))
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

    @property
    def role(self) -> str:
        """The role of the person acting."""
        return self.user.role

    # --- who acts (people.py) -------------------------------------------------
    require_role = people.require_role
    _require_role = people.require_role  # the old name, until every caller uses require_role
    add_user = people.add_user
    remove_user = people.remove_user
    users = people.users
    _signers = people.signers

    # --- the audit log (auditing.py) --------------------------------------------
    audited = auditing.audited
    audit_entries = auditing.audit_entries
    verify_audit = auditing.verify_audit
    save_checkpoint = auditing.save_checkpoint
    prove_entry = auditing.prove_entry
    typed_hash = auditing.typed_hash

    # --- case keys (casekeys.py) --------------------------------------------------
    _case_prefix = staticmethod(casekeys.case_prefix)
    _versions = casekeys.versions
    _current_version = casekeys.current_version
    _case_identities = casekeys.case_identities
    _require_member = casekeys.require_member
    _escrow = casekeys.escrow

    # --- cases (cases.py) --------------------------------------------------------
    _case_log = cases.case_log
    load_case = cases.load_case
    case_ids = cases.case_ids
    find_case = cases.find_case
    create_case = cases.create_case
    grant = cases.grant
    revoke = cases.revoke
    export_key = cases.export_key
    recover_case = recovery.recover_case
    require_open = cases.require_open
    case_index = cases.case_index
    case_summaries = cases.case_summaries
    my_case_ids = cases.my_case_ids
    cases = cases.cases  # last: from here on, ``cases`` in this class body is the method

    # --- a case's life (lifecycle.py) ---------------------------------------------
    case_status = lifecycle.case_status
    case_id_for = lifecycle.case_id_for
    set_retention = lifecycle.set_retention
    close_case = lifecycle.close_case
    reopen_case = lifecycle.reopen_case
    hold_case = lifecycle.hold_case
    retention_due = lifecycle.retention_due
    purge_case = lifecycle.purge_case

    # --- documents and what the case records of them (documents.py) ----------------
    find_document = documents.find_document
    add_documents = documents.add_documents
    read_document = documents.read_document
    document_bytes = documents.document_bytes
    tag = documents.tag
    record_packet = documents.record_packet
    find_packet = documents.find_packet
    packet_bytes = documents.packet_bytes
    review_bytes = documents.review_bytes
    add_redaction = documents.add_redaction
    remove_redaction = documents.remove_redaction
    record_consent = documents.record_consent
    mark_reviewed = documents.mark_reviewed
    ocr_results = documents.ocr_results
    save_ocr = documents.save_ocr

    # --- a document's life after it is added (doclife.py) ------------------------------
    find_duplicates = doclife.find_duplicates
    watch_duplicates = doclife.watch_duplicates
    edit_document = doclife.edit
    remove_document = doclife.remove
    move_document = doclife.move
    shred_removed = doclife.shred_removed
    kept_blobs = doclife.kept_blobs

    # --- checking (fsck.py) ----------------------------------------------------------
    repair = fsck.repair
    fsck = fsck.fsck  # last, as ``cases`` above


def _check_empty(backend: Backend, location: str) -> None:
    """Refuse to create a vault where one exists, or where something else is."""
    if backend.root is not None:
        p = Path(backend.root)
        if p.exists() and any(p.iterdir()):
            if (p / "vault").exists():
                raise InvalidInput(f"a vault already exists at {location}; use it, or pick another location")
            raise InvalidInput(f"{location} is not empty; pick an empty or new folder")
        p.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif backend.exists("vault"):
        raise InvalidInput(f"a vault already exists at {location}; use it, or pick another location")
    elif backend.children(""):
        raise InvalidInput(f"{location} is not empty; pick an empty or new prefix")
