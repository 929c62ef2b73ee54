"""The data that goes into and comes out of packet rendering and assembly.

:class:`Item` is one document as the planner chose and ordered it, with its decrypted
bytes in memory; :class:`PacketRequest` is a whole packet to build; :class:`Volume` is one
output file. Titles, translator details and document bytes are secret: they are left out
of ``repr()`` so that a traceback or a log line never shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .profiles import Profile

__all__ = ["Item", "PacketRequest", "Volume"]


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

    ``lang`` defaults to the profile's language. ``redact`` is the redaction stage's
    seam: called as ``redact(item, pdf_bytes)`` with the item's rendered pages and
    returning the redacted PDF bytes; ``None`` leaves pages as rendered.
    """

    profile: Profile
    items: list[Item]
    sender_org: str
    date: str
    lang: str | None = None
    redact: Callable[[Item, bytes], bytes] | None = None


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
