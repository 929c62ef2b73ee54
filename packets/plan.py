"""Plan a packet: what goes in, in which order, and what stops it.

The planner reads a case's documents and consents and a recipient profile and
decides, without decrypting anything, which documents go in (admitted by a
section, not excluded, with valid consent), in section order with each
translation right after its original, and what is missing: required types,
consent, translations into a language the recipient accepts.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Iterable

from .profiles import FILE_NAME_FIELDS, Profile

__all__ = ["Plan", "PlanEntry", "consent_status", "deadline", "make_plan", "missing_fields"]


def consent_status(consents: Iterable[dict], recipient: str, doc_id: str, today: str) -> tuple[str, dict | None]:
    """The consent for one document and recipient, as of ``today`` (YYYY-MM-DD).

    Consents are replayed in order; the last grant or withdrawal that covers the
    document (its list of documents is empty, meaning all, or names it) decides.
    Returns ("granted" | "missing" | "withdrawn" | "expired", the deciding record).
    """
    status, record = "missing", None
    for c in consents:
        if c["recipient"] != recipient or (c["docs"] and doc_id not in c["docs"]):
            continue
        status, record = c["action"], c
    if status == "granted" and record.get("expires") and record["expires"] < today:
        status = "expired"
    return status, record


@dataclass
class PlanEntry:
    """One document of the case, and what the plan does with it."""

    doc: object  # vault.core.Document
    include: bool
    reason: str  # why it is in or out, in words
    section: str | None = None
    consent: str = "missing"
    consent_seq: int | None = None
    pages: int | None = None

    def as_dict(self) -> dict:
        d = self.doc
        return {"id": d.id, "title": d.title, "type": d.type, "version": d.version, "include": self.include,
                "reason": self.reason, "section": self.section, "consent": self.consent, "pages": self.pages}


@dataclass
class Plan:
    """The plan of one packet for one recipient."""

    profile: Profile
    entries: list[PlanEntry]
    missing_types: list[str] = field(default_factory=list)
    missing_translations: list[str] = field(default_factory=list)
    missing_declarations: list[str] = field(default_factory=list)
    override: bool = False
    missing_fields: list[str] = field(default_factory=list)  # case fields the profile requires (exit 4)
    deadline: dict | None = None  # when the packet must be received before the hearing (RPD r. 34(3))
    missing_name_fields: list[str] = field(default_factory=list)  # what naming the file by rule lacks

    @property
    def included(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.include]

    @property
    def without_consent(self) -> list[PlanEntry]:
        """Admitted documents that lack valid consent (they stop the build)."""
        return [e for e in self.entries if e.consent != "granted" and e.reason.startswith("no valid consent")]

    def as_dict(self) -> dict:
        return {
            "profile": self.profile.id, "profile_version": self.profile.version,
            "documents": [e.as_dict() for e in self.entries],
            "included": len(self.included),
            "pages": sum(e.pages or 0 for e in self.included) if all(e.pages is not None for e in self.included) else None,
            "missing_types": self.missing_types, "missing_translations": self.missing_translations,
            "missing_translators": self.missing_declarations,
            "without_consent": [{"id": e.doc.id, "consent": e.consent} for e in self.without_consent],
            "override_consent": self.override,
            "missing_fields": self.missing_fields, "deadline": self.deadline,
            "missing_for_file_name": self.missing_name_fields,
        }


def make_plan(documents: Iterable, consents: list[dict], profile: Profile, today: str,
              override_consent: bool = False, only_consented: bool = False, fields: dict | None = None,
              reply: bool = False) -> Plan:
    """Choose and order the documents of a packet.

    Args:
        documents: the case's documents (latest versions).
        consents: the case's consent records, in order.
        profile: the recipient.
        today: the date consent expiry is checked against (YYYY-MM-DD).
        override_consent: include admitted documents even without consent (an
            emergency; the caller records the reason).
        only_consented: leave out documents without consent instead of stopping.
        fields: the case's details (vault/casefields.py): required ones missing are listed,
            and the hearing date gives the deadline (with ``reply``, a reply's).
    """
    entries = [_choose(d, consents, profile, today, override_consent, only_consented)
               for d in sorted(documents, key=lambda d: (d.added_at, d.id))]
    ordered = _order(entries, profile)
    missing_types, missing_translations, missing_declarations = _gaps(ordered, profile)
    fields = fields or {}
    return Plan(profile, ordered, missing_types, missing_translations, missing_declarations, override_consent,
                missing_fields(profile, fields), deadline(profile, fields, today, reply),
                [n for n in FILE_NAME_FIELDS if "{" + n + "}" in profile.file_name and not fields.get(n)])


def missing_fields(profile: Profile, fields: dict) -> list[str]:
    """The fields ``profile`` requires that the case lacks, in the profile's order."""
    return [n for n in profile.requires_fields if not fields.get(n)]


def deadline(profile: Profile, fields: dict, today: str, reply: bool = False) -> dict | None:
    """When the packet must be received before the hearing (RPD Rules r. 34(3)); None when the
    profile sets no such rule or the case has no hearing date.

    Returns ``hearing_date``, ``days`` (before the hearing), ``receive_by`` (the last day),
    ``days_to_hearing`` and ``late`` (true when the hearing is fewer than ``days`` days away).
    """
    days = profile.reply_days_before_hearing if reply else profile.received_days_before_hearing
    hearing = fields.get("hearing_date")
    if days is None or not hearing:
        return None
    try:
        on = _dt.date.fromisoformat(hearing)
    except ValueError:
        return None
    left = (on - _dt.date.fromisoformat(today)).days
    return {"hearing_date": on.isoformat(), "days": days, "reply": reply,
            "receive_by": (on - _dt.timedelta(days=days)).isoformat(), "days_to_hearing": left, "late": left < days}




def _choose(d, consents: list[dict], profile: Profile, today: str, override_consent: bool,
            only_consented: bool) -> PlanEntry:
    """Whether one document goes in, and why."""
    section = profile.section_for(d.type)
    is_translation = bool(d.translation_of) and profile.translations.follow_original
    status, record = consent_status(consents, profile.id, d.id, today)
    entry = PlanEntry(d, False, "", section.id if section else None, status, record["seq"] if record else None)
    if profile.excludes(d.type):
        entry.reason = f"{d.type} is never sent to this recipient"
    elif d.translation_of and d.lang and d.lang not in profile.accepted_languages:
        entry.reason = f"a translation into {d.lang}, which this recipient does not accept"
    elif section is None and not is_translation:
        entry.reason = f"no section of this profile admits {d.type}"
    elif status != "granted" and not override_consent:
        entry.reason = f"no valid consent ({status})"
        if only_consented:
            entry.reason += "; left out"
    else:
        entry.include = True
        entry.reason = "included" if status == "granted" else f"included by consent override ({status})"
    return entry


def _order(entries: list[PlanEntry], profile: Profile) -> list[PlanEntry]:
    """Section order; translations follow their originals (and take their section); an
    orphan translation goes where its section puts it."""
    section_order = {s.id: i for i, s in enumerate(profile.sections)}
    follow = profile.translations.follow_original
    by_id = {e.doc.id: e for e in entries}
    originals = [e for e in entries if not (e.doc.translation_of in by_id and follow)]
    originals.sort(key=lambda e: (section_order.get(e.section, len(section_order)), e.doc.added_at, e.doc.id))
    ordered: list[PlanEntry] = []
    for e in originals:
        ordered.append(e)
        ordered.extend(t for t in entries if t.doc.translation_of == e.doc.id and t is not e and follow)
    for t in ordered:
        if t.doc.translation_of in by_id and t.include and not by_id[t.doc.translation_of].include:
            t.section = by_id[t.doc.translation_of].section
        elif t.doc.translation_of in by_id and t.section is None:
            t.section = by_id[t.doc.translation_of].section
    return ordered


def _gaps(ordered: list[PlanEntry], profile: Profile) -> tuple[list[str], list[str], list[str]]:
    """What is missing: required types, translations, translators' declarations."""
    included = [e for e in ordered if e.include]
    present = {e.doc.type for e in included}
    missing_types = [t for t in profile.required_types if t not in present]
    missing_translations = []
    for e in included:
        lang = e.doc.lang
        if lang and lang not in profile.accepted_languages and not e.doc.translation_of:
            if not any(t.include and t.doc.translation_of == e.doc.id for t in ordered):
                missing_translations.append(e.doc.id)
    missing_declarations = []
    if profile.translations.declaration_required:
        missing_declarations = [e.doc.id for e in included if e.doc.translation_of and not getattr(e.doc, "translator", None)]
    return missing_types, missing_translations, missing_declarations
