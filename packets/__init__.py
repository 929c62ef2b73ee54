"""Referral packets: recipient profiles, plan, render, redact, assemble, verify, sign.

The pipeline, one module per stage, driven in this order by :mod:`packets.build`::

    plan -> render -> redact -> assemble -> verify (leakcheck) -> sign -> record

What is public (everything else, and every module whose name starts with an
underscore, is private and may change):

* :func:`packets.build.make_packet` with :class:`packets.model.CaseSource` and
  :class:`packets.build.BuildOptions`: build a packet from a case's documents; the
  result (:class:`packets.build.Packet`) is for the caller to record.
  :func:`packets.build.build_packet` does the same for a vault and writes the files.
* :func:`packets.build.plan_packet`, :func:`packets.plan.make_plan`: what a packet holds.
* :func:`packets.profiles.load_profiles`, :func:`~packets.profiles.get_profile`,
  :class:`~packets.profiles.Profile`: the recipients.
* :func:`page_count`: how many pages a document takes in a packet.
* :func:`source_date_epoch`: the time ``SOURCE_DATE_EPOCH`` sets for a reproducible build.
* :func:`packets.verify.check_packet`, :func:`~packets.verify.load_certificates`: check
  a signed packet as its recipient does.
* The errors, all :class:`vault.errors.RefugeError`: ``ProfileError``, ``RenderError``,
  ``RedactError``, ``AssembleError``, ``OcrError``; a failed leak check is
  ``VerificationFailed``. Each may carry a hint code (``error.hint``) for the
  application to word.

Importing this package is cheap: the stages load when first used.
"""

from __future__ import annotations

__all__ = [
    "AssembleError",
    "BuildOptions",
    "CaseSource",
    "OcrError",
    "Packet",
    "Profile",
    "ProfileError",
    "RedactError",
    "RenderError",
    "build_packet",
    "check_packet",
    "get_profile",
    "load_profiles",
    "make_packet",
    "make_plan",
    "page_count",
    "plan_packet",
    "source_date_epoch",
]

_WHERE = {
    "AssembleError": "assemble", "BuildOptions": "build", "CaseSource": "model", "OcrError": "ocr",
    "Packet": "build", "Profile": "profiles", "ProfileError": "profiles", "RedactError": "redact",
    "RenderError": "render", "build_packet": "build", "check_packet": "verify", "get_profile": "profiles",
    "load_profiles": "profiles", "make_packet": "build", "make_plan": "plan", "plan_packet": "build",
    "source_date_epoch": "_clock",
}


def page_count(data: bytes, mime: str, *, doc_id: str = "-", profile=None) -> int:
    """How many pages a document (its bytes and MIME type) takes in a packet, counted in the keyless worker.

    PDFs keep their page count and images take one page per frame; plain text depends
    on the page size (``profile``; letter with 54-point margins without one).

    Raises:
        RenderError: the document cannot be read or its type is not supported; the
            message names ``doc_id``.
    """
    from ._isolated import count_pages
    from .model import Item

    return count_pages([Item(doc_id=doc_id, title="", type="other", date="", mime=mime, data=data)], profile)[0]


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'packets' has no attribute {name!r}")
