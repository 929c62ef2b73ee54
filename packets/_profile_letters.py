"""Reading the profile keys about case details, letters and deadlines.

``requires_fields`` (case fields the build needs), ``requires_sender`` (the letter must name
a sender), ``references`` (case fields the letter's "Re:" lines show), ``addressee`` (the
addressee block, a text table), ``service_statement`` (the statement of service page, a text
table: RPD Rules r. 34), ``received_days_before_hearing`` and ``reply_days_before_hearing``
(how long before the hearing documents must be received: r. 34(3)). See templates/README.md.
"""

from __future__ import annotations

import re

from ._profile_toml import _localized, _Reader
from .profiles import COVER_PLACEHOLDERS, CASE_FIELDS, SERVICE_PLACEHOLDERS, LocalizedText, _placeholders

_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _field_list(top: _Reader, key: str) -> tuple[str, ...]:
    names = top.string_list(key, (), example='["uci"]')
    for name in names:
        if not _FIELD.fullmatch(name):
            top.fail(key, f"{name!r} is not a field name",
                     f"use lowercase letters, digits and underscores, e.g. {', '.join(CASE_FIELDS[:3])}")
    return names


def read_letters(top: _Reader, accepted: tuple[str, ...], cover: LocalizedText) -> dict:
    """The letter keys of a profile, checked (ProfileError naming the file, the key and the fix)."""
    requires = _field_list(top, "requires_fields")
    references = _field_list(top, "references")
    for name in references:
        if name not in CASE_FIELDS and name not in requires:
            top.fail("references", f"{name!r} is neither a known case field nor in requires_fields",
                     f"use {', '.join(CASE_FIELDS)}, or add it to requires_fields")
    for lang in cover.languages:
        used = _placeholders(cover.get(lang) or "", f"{top.source}: cover.{lang}", COVER_PLACEHOLDERS)
        for name in sorted(used & set(CASE_FIELDS)):
            if name not in requires:
                top.fail("requires_fields", f"cover.{lang} uses {{{name}}} but requires_fields does not list it",
                         f'add "{name}" to requires_fields (a letter cannot show a field the case may lack)')
    addressee = _localized(top, "addressee", required_langs=accepted, allowed_placeholders=(), required=False)
    service = _localized(top, "service_statement", required_langs=accepted, allowed_placeholders=SERVICE_PLACEHOLDERS,
                         must_use=("served_on", "served_by", "served_at"), required=False)
    received = top.integer("received_days_before_hearing", None, example="10", low=1, high=365)
    reply = top.integer("reply_days_before_hearing", None, example="5", low=1, high=365)
    if reply is not None and (received is None or reply > received):
        top.fail("reply_days_before_hearing", "needs received_days_before_hearing, and must not exceed it",
                 "add received_days_before_hearing = 10 (RPD Rules r. 34(3))")
    return {"requires_fields": requires, "requires_sender": top.boolean("requires_sender", False),
            "references": references,
            "addressee": addressee if addressee.languages else None,
            "service_statement": service if service.languages else None,
            "received_days_before_hearing": received, "reply_days_before_hearing": reply}

