"""The document types: a fixed vocabulary (DESIGN.md), in a module of its own.

Kept apart from vault/cases.py so that a keyless worker, which unpickles a packet profile
(packets/profiles.py checks its sections against these types), does not import the vault's
core, its age format and its audit path to read ten words.
"""

__all__ = ["DOC_TYPES"]

DOC_TYPES = (
    "identity", "civil-status", "medical", "psychological", "legal-declaration",
    "country-evidence", "correspondence", "photo", "translation", "other",
)
