"""The one vocabulary of redaction categories: profiles, terms, detectors and the case register use it.

A category names a kind of secret a recipient profile may promise to withhold
(``redaction_categories``); a redaction term, a register entry and a detector's
find each carry one. The vocabulary is closed: an unknown name is refused with
the list of valid ones, so a typo ("locaton") can never become a rule that no
profile applies. ``always`` applies to every packet and is never listed by a
profile. Older names still read (:data:`ALIASES`).
"""

from __future__ import annotations

from .errors import InvalidInput

__all__ = ["ALIASES", "CATEGORIES", "canonical", "check_category", "describe"]

#: Every category, with what it covers (templates/README.md shows the same table).
CATEGORIES: dict[str, str] = {
    "always": "withheld from every packet, whatever the profile",
    "applicant-name": "the principal applicant's names, aliases and the names they go by",
    "third-party": "names and identifying details of family members, witnesses, perpetrators and other people",
    "location": "where a person lives, hides or works: addresses, towns, shelters, workplaces, clinics",
    "contact": "phone numbers, e-mail addresses, messaging and social-media handles",
    "id-number": "passport, national ID, UNHCR and file numbers, and dates of birth",
    "network": "a defender's colleagues, sources and partner organisations",
    "legal-strategy": "counsel's notes and assessments quoted inside other documents",
    "health": "diagnoses, medication, treatment details",
}

#: Names that mean a category of :data:`CATEGORIES` (the shipped profiles say identity-number).
ALIASES: dict[str, str] = {
    "identity-number": "id-number",
    "identity-numbers": "id-number",
    "family": "third-party",
    "family-names": "third-party",
    "third-party-names": "third-party",
    "locations": "location",
    "applicant": "applicant-name",
}


def canonical(name: str) -> str:
    """The category ``name`` stands for (an alias gives its category; anything else is returned as is)."""
    return ALIASES.get(name, name)


def check_category(name: str, *, allow_always: bool = True) -> str:
    """``name`` as a category of the vocabulary (aliases resolved).

    Raises:
        InvalidInput: ``name`` is neither a category nor an alias; the message lists the valid ones.
    """
    found = canonical(str(name).strip().lower())
    valid = [c for c in CATEGORIES if allow_always or c != "always"]
    if found not in valid:
        raise InvalidInput(f"unknown category {str(name)[:40]!r}; use one of: {', '.join(valid)}")
    return found


def describe() -> list[dict]:
    """The vocabulary as rows: name, meaning, aliases."""
    return [{"category": c, "meaning": m, "aliases": sorted(a for a, t in ALIASES.items() if t == c)}
            for c, m in CATEGORIES.items()]
