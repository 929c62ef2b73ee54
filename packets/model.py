"""The data that goes into and comes out of packet rendering and assembly.

:class:`Item` is one document as the planner chose and ordered it, with its decrypted
bytes in memory; :class:`PacketRequest` is a whole packet to build; :class:`Volume` is one
output file. Titles, translator details and document bytes are secret: they are left out
of ``repr()`` so that a traceback or a log line never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .profiles import Profile

__all__ = ["CaseSource", "Item", "PacketRequest", "Volume"]


@dataclass(frozen=True)
class Item:
    """One document as it goes into the packet, already chosen and ordered by the planner.

    ``data`` is the decrypted original, in memory only. ``mime`` is one of
    application/pdf, image/jpeg, image/png, image/tiff, text/plain. ``translation_of``
    is the ``doc_id`` of the original a translation translates; ``translator`` holds
    ``translator_name``, ``source_language`` and ``dialect`` (and optionally
    ``target_language`` and ``date``) for the translator's declaration page.
    """

    doc_id: str
    title: str = field(repr=False)
    type: str
    date: str
    mime: str
    data: bytes = field(repr=False)
    lang: str | None = None
    translation_of: str | None = None
    translator: dict | None = field(default=None, repr=False)
    version: int = 0  # the document version (reviews of its pages are per version)


@dataclass(frozen=True)
class PacketRequest:
    """A packet to build: the recipient profile and the items in their final order.

    ``lang`` defaults to the profile's language. ``redact`` is used only by
    :func:`packets.assemble.build`, which renders the items itself: called as
    ``redact(item, pdf_bytes)`` with the item's rendered pages, it returns the redacted
    PDF bytes; ``None`` leaves pages as rendered. (packets.build runs render and redact
    itself and gives :func:`packets.assemble.assemble` the pages.)
    """

    profile: Profile
    items: list[Item]
    sender_org: str
    date: str
    lang: str | None = None
    redact: Callable[[Item, bytes], bytes] | None = None
    redactions: dict | None = None  # what the redaction stage applied (its summary), for the cover letter
    # The letter's details (packets/_layout.py, letter_values): sender, org, case fields, service.
    letter: dict | None = field(default=None, repr=False)
    # A per-type packet's file names, "{type}" (and "{volume}") standing for each file's: what the index
    # names and the build writes (packets/_shape.py, file_pattern); None: the profile's rule.
    file_name: str | None = None


@dataclass(frozen=True)
class Volume:
    """One output file: its number (1-based), its bytes, the packet page numbers it
    holds (``first_page`` to ``last_page``, numbered across all volumes) and the ids of
    the documents in it, in order."""

    number: int
    data: bytes = field(repr=False)
    first_page: int
    last_page: int
    items: list[str]
    type: str | None = None  # a per-type file's document type (a section id, "cover", "other")


@dataclass
class CaseSource:
    """What a packet build reads from the vault, gathered before it starts: the narrow
    interface between the two (:func:`packets.build.case_source` makes one from a vault).

    ``documents`` are the case's documents (latest versions: ``vault.core.Document``);
    ``consents``, ``redactions`` and ``reviews`` its records, in order. ``read(doc)``
    returns a document's decrypted bytes, in memory; the build calls it only for the
    documents the plan includes. ``ocr_cache`` holds the recognition results kept in the
    case. ``signer_name``, ``key`` (the unwrapped organisation key, or None) and
    ``tsa_url`` sign the packet.

    The build adds what it recognises anew to ``recognised`` (key -> pages) and
    ``recognised_docs`` (key -> document id), as it goes: the caller keeps them in the
    case whether or not the build succeeds.
    """

    case_id: str
    documents: list = field(repr=False)
    consents: list[dict] = field(repr=False)
    redactions: list[dict] = field(repr=False)
    reviews: list[dict] = field(repr=False)
    read: Callable[[Any], bytes] = field(repr=False)
    ocr_cache: dict[str, dict] = field(default_factory=dict, repr=False)
    signer_name: str = ""
    key: Any = field(default=None, repr=False)  # vault.orgkey.OrgKey
    tsa_url: str | None = None
    fields: dict[str, str] = field(default_factory=dict, repr=False)  # the case's details (vault/casefields.py)
    org: dict[str, str] = field(default_factory=dict, repr=False)  # the organisation's (vault/orgdetails.py)
    recognised: dict[str, dict] = field(default_factory=dict, repr=False)
    recognised_docs: dict[str, str] = field(default_factory=dict)
