"""Build a packet: plan, render, redact, assemble, verify, sign, record.

:func:`make_packet` runs the stages in that order on a :class:`~packets.model.CaseSource`
(the case's documents and what decides about them, read from the vault up front) and
returns a :class:`Packet`: the signed volumes, the disclosure record and the new
recognition results, for the caller to store. It touches neither the vault nor the disk.

:func:`build_packet` is the same build for a vault: it gathers the source, makes the
packet, records it in the case and writes the files. Plaintext exists only in memory;
the output is written through temporary files in the output folder and renamed into
place only after the packet is recorded in the case, so a failed build leaves no file
and an unrecorded packet never leaves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from vault.errors import InvalidInput, NotPermitted, RefugeError

from .model import CaseSource, Item
from .plan import Plan, make_plan
from .profiles import Profile

__all__ = ["BUILDER", "Built", "BuildOptions", "Packet", "build_packet", "make_packet", "plan_packet"]

BUILDER = "refuge 0.1.0"


@dataclass(frozen=True)
class BuildOptions:
    """How to build: the date, the sender, and the choices the case lead made."""

    today: str  # YYYY-MM-DD: the packet's date, and the day consent expiry is checked against
    sender_org: str
    override_reason: str | None = None  # an emergency: include documents without consent
    only_consented: bool = False  # leave out documents without consent instead of stopping
    allow_incomplete: bool = False  # build although required types or translations are missing
    password: str | None = None  # encrypt each volume (AES-256) before it is signed
    ocr: bool = False  # recognise pages without text (the profile may ask for it too)


@dataclass
class Packet:
    """A built packet, not yet recorded: what the caller stores and writes.

    ``record`` is the disclosure record to store with ``volumes`` (the signed files, in
    order); ``manifest_file`` is the signed manifest as a file; ``review`` the review
    report for the case lead (never sent). ``recognised`` holds new recognition results
    to keep in the case (``recognised_docs``: key -> document id).
    """

    volumes: list[bytes] = field(repr=False)
    record: dict
    manifest_file: bytes = field(repr=False)
    review: bytes = field(repr=False)
    recognised: dict[str, dict] = field(default_factory=dict, repr=False)
    recognised_docs: dict[str, str] = field(default_factory=dict)


@dataclass
class Built:
    """What a build wrote and recorded."""

    record: dict
    paths: list[str]
    review: str | None = None  # the review report (OUT.review.pdf): for the case lead, never sent


# ------------------------------------------------------------------------------ stages


def _items(source: CaseSource, plan: Plan) -> list[Item]:
    by_id = {e.doc.id: e.doc for e in plan.entries}
    out = []
    for e in plan.included:
        d = e.doc
        translator = None
        if d.translation_of and d.translator:
            original = by_id.get(d.translation_of)
            translator = {"translator_name": d.translator, "dialect": d.dialect or "-",
                          "source_language": (original.lang if original and original.lang else "-"),
                          "target_language": d.lang or "-"}
        out.append(Item(doc_id=d.id, title=d.title, type=d.type, date=d.added_at[:10], mime=d.mime,
                        data=source.read(d), lang=d.lang, translation_of=d.translation_of,
                        translator=translator, version=d.version))
    return out


def check_plan(plan: Plan, options: BuildOptions) -> None:
    """The plan's gates: consent, something to send, completeness.

    Raises:
        NotPermitted: documents lack valid consent (and no override or leaving out).
        InvalidInput: nothing is admitted with consent, or required documents,
            translations or translators are missing (and the packet may not be incomplete).
    """
    profile = plan.profile
    if plan.without_consent and not options.override_reason and not options.only_consented:
        listed = "; ".join(f"{e.doc.id}: consent {e.consent}" for e in plan.without_consent)
        raise NotPermitted(f"no valid consent for {profile.id}: {listed}", hint="packet-consent")
    if not plan.included:
        raise InvalidInput(f"nothing to send to {profile.id}: no document of this case is admitted with consent")
    if (plan.missing_types or plan.missing_translations or plan.missing_declarations) and not options.allow_incomplete:
        gaps = [f"a {t} document" for t in plan.missing_types] + [f"a translation of {d}" for d in plan.missing_translations]
        gaps += [f"the translator of {d}" for d in plan.missing_declarations]
        raise InvalidInput(f"the packet for {profile.id} lacks {', '.join(gaps)}",
                           hint="packet-incomplete-translator" if plan.missing_declarations else "packet-incomplete")


def _plan(source: CaseSource, profile: Profile, options: BuildOptions) -> Plan:
    return make_plan(source.documents, source.consents, profile, options.today, bool(options.override_reason),
                     options.only_consented)


def _record(profile: Profile, plan: Plan, options: BuildOptions, volumes, sealed, redactions: dict) -> dict:
    return {
        "profile": profile.id, "profile_version": profile.version, "builder": BUILDER, "date": options.today,
        "pages": volumes[-1].last_page,
        "documents": [{"id": e.doc.id, "version": e.doc.version, "sha256": e.doc.sha256, "consent_seq": e.consent_seq}
                      for e in plan.included],
        "override_reason": options.override_reason,
        "manifest": sealed.manifest, "manifest_sig": sealed.manifest_sig, "manifest_key": sealed.manifest_key,
        "redactions": redactions,
    }


Progress = Callable[[str, int, int], None]


def make_packet(source: CaseSource, profile: Profile, options: BuildOptions,
                progress: Progress | None = None) -> Packet:
    """Build a packet from ``source`` for ``profile``: plan, render, redact, assemble,
    verify, sign; the returned :class:`Packet` is for the caller to record.

    ``progress(stage, n, total)`` is called as the build goes: the stage in a few words,
    and pages done out of ``total`` where the stage goes page by page (else 0, 0).

    Render, redact, assemble and verify parse the documents, so they run in the
    keyless worker (packets/_isolated.py); this process plans, decrypts and signs.
    New recognition results land in ``source.recognised``, also when the build
    stops, so that the caller can keep them.

    Raises:
        NotPermitted: documents lack valid consent, or pages no rule could search are
            not reviewed (profiles with ``require_review``).
        InvalidInput: required documents or translations are missing, or a document
            cannot be rendered, redacted or assembled (vault.worker.WorkerFailed when it
            breaks the worker's limits).
        VerificationFailed: the packet still holds text that should have been redacted.
    """
    from ._isolated import produce
    from .sign import seal

    say = progress or (lambda _stage, _n=0, _total=0: None)
    plan = _plan(source, profile, options)
    check_plan(plan, options)
    say(f"decrypting {len(plan.included)} documents", 0, 0)
    items = _items(source, plan)
    ocr = options.ocr or profile.ocr
    try:
        made = produce(items, profile, sender_org=options.sender_org, today=options.today,
                       redactions=source.redactions, reviews=source.reviews, ocr=ocr,
                       ocr_cache=source.ocr_cache if ocr else {}, progress=say)
    except RefugeError as e:
        source.recognised.update(getattr(e, "recognised", {}))
        source.recognised_docs.update(getattr(e, "recognised_docs", {}))
        raise
    source.recognised.update(made.recognised)
    source.recognised_docs.update(made.recognised_docs)
    say("signing", 0, 0)
    sealed = seal(profile, made.volumes, plan, source.consents, options.today, BUILDER, signer_name=source.signer_name,
                  key=source.key, tsa_url=source.tsa_url, password=options.password, redactions=made.redactions)
    return Packet(sealed.volumes, _record(profile, plan, options, made.volumes, sealed, made.redactions),
                  sealed.manifest_file(), made.review, source.recognised, source.recognised_docs)


# ------------------------------------------------------------------------- the vault


def case_source(vault, case, profile: Profile | None = None, *, ocr: bool = False, signing: bool = False) -> CaseSource:
    """Gather what a build reads from the vault: the case's documents (read on demand,
    decrypted in memory), consents, redaction rules, reviews, kept recognition results
    (with ``ocr``) and, with ``signing``, the organisation key and timestamp authority."""
    from vault import orgkey

    from .sign import signing_key

    key = signing_key(vault, profile) if signing else None
    tsa = orgkey.tsa_url(vault) if signing and profile.signature.required else None
    return CaseSource(case_id=case.id, documents=list(case.documents.values()), consents=list(case.consents),
                      redactions=list(case.redactions), reviews=list(case.reviews), read=vault.document_bytes,
                      ocr_cache=vault.ocr_results(case) if ocr else {}, signer_name=vault.me.name, key=key,
                      tsa_url=tsa)


def keep_recognition(vault, case, source: CaseSource) -> None:
    """Store new recognition results in the case (encrypted), for the next build."""
    if source.recognised:
        try:
            vault.save_ocr(case, source.recognised, source.recognised_docs)
        except RefugeError:
            pass  # the cache only saves time: a failure to keep it must not hide or fail the build


def plan_packet(vault, case, profile: Profile, today: str, override: bool = False,
                only_consented: bool = False, pages: bool = True) -> Plan:
    """The plan, with page counts of the included documents when ``pages``."""
    plan = make_plan(case.documents.values(), case.consents, profile, today, override, only_consented)
    if pages and plan.included:
        from ._isolated import count_pages

        for entry, n in zip(plan.included, count_pages(_items(case_source(vault, case), plan), profile)):
            entry.pages = n
    return plan


def output_paths(output: str, volumes: int) -> list[str]:
    """OUT.pdf for one volume; OUT-vol1.pdf, OUT-vol2.pdf, ... for several."""
    if volumes == 1:
        return [output]
    stem, ext = os.path.splitext(output)
    return [f"{stem}-vol{n}{ext or '.pdf'}" for n in range(1, volumes + 1)]


def _check_outputs(output: str, manifest_out: str | None, replace: bool) -> None:
    """Before any work: the folders exist, and no file would be replaced unless ``replace``."""
    from vault.storage import OutputExists

    folder = Path(output).parent
    if not (folder if str(folder) else Path(".")).is_dir():
        raise InvalidInput("the output folder does not exist; create it first")
    if manifest_out and not (Path(manifest_out).parent if str(Path(manifest_out).parent) else Path(".")).is_dir():
        raise InvalidInput("the manifest's folder does not exist; create it first")
    if replace:
        return
    stem, ext = os.path.splitext(output)
    taken = [output, review_path_for(output), *([manifest_out] if manifest_out else [])]
    if any(os.path.lexists(p) for p in taken) or any(Path(folder or ".").glob(f"{Path(stem).name}-vol*{ext}")):
        raise OutputExists("an output file of this packet already exists; nothing was built")


def _write_recorded(vault, case, packet: Packet, files: list[tuple[str, bytes]], replace: bool = False) -> dict:
    """Record the packet in the case, then give the files their names (never the reverse)."""
    from vault.storage import PendingFile

    pending = []
    try:
        for path, data in files:  # complete and fsynced, but nameless until the packet is recorded
            pending.append(PendingFile(path, lambda f, data=data: f.write(data), replace=replace))
        recorded = vault.record_packet(case, packet.volumes, packet.record)
        while pending:
            pending.pop(0).commit()
    finally:
        for p in pending:
            p.discard()
    return recorded


def build_packet(vault, case, profile: Profile, today: str, output: str, sender_org: str,
                 override_reason: str | None = None, only_consented: bool = False,
                 allow_incomplete: bool = False, progress: Progress | None = None,
                 password: str | None = None, manifest_out: str | None = None, ocr: bool = False,
                 replace: bool = False) -> Built:
    """Build, sign, record and write a packet; raises before writing anything if it cannot.

    ``password`` encrypts each volume (AES-256) before it is signed; ``manifest_out`` is
    where the signed manifest is also written (it is always in the disclosure record);
    ``replace`` allows replacing existing output files (else OutputExists, before any work).

    Raises:
        NotPermitted: the builder is not a case lead, or documents lack valid consent.
        InvalidInput: required documents or translations are missing, or the output is bad.
    """
    vault._require_role("case-lead", doing="building packets")
    vault.require_open(case.id)
    _check_outputs(output, manifest_out, replace)
    options = BuildOptions(today, sender_org, override_reason, only_consented, allow_incomplete, password, ocr)
    check_plan(_plan(case_source(vault, case), profile, options), options)  # before the key is unwrapped
    source = case_source(vault, case, profile, ocr=ocr or profile.ocr, signing=True)  # no key: stop before decrypting
    try:
        packet = make_packet(source, profile, options, progress)
    finally:  # recognition is slow: keep what was recognised even if the build stops here
        keep_recognition(vault, case, source)
    paths = output_paths(output, len(packet.volumes))
    review_path = review_path_for(output)
    files = list(zip(paths, packet.volumes)) + ([(manifest_out, packet.manifest_file)] if manifest_out else [])
    files.append((review_path, packet.review))
    if progress is not None:
        progress("recording the disclosure", 0, 0)
    return Built(_write_recorded(vault, case, packet, files, replace), paths, review_path)


def review_pages(source: CaseSource, profile: Profile, plan: Plan, ocr: bool) -> list:
    """Every rendered page of the plan's included documents as redaction sees it
    (recognised with ``ocr``), read in the keyless worker: which pages a person must
    review. New recognition results land in ``source.recognised``."""
    from . import _isolated

    pages, recognised, docs = _isolated.review_pages(_items(source, plan), profile, redactions=source.redactions,
                                                     ocr=ocr, ocr_cache=source.ocr_cache if ocr else {})
    source.recognised.update(recognised)
    source.recognised_docs.update(docs)
    return pages


def page_review(vault, case, profile: Profile, plan: Plan, ocr: bool) -> list:
    """:func:`review_pages` for a case of ``vault``, keeping new recognition results in it."""
    source = case_source(vault, case, ocr=ocr)
    try:
        return review_pages(source, profile, plan, ocr)
    finally:
        keep_recognition(vault, case, source)


def unreviewed(case, pages) -> list:
    """Pages no rule could search (no text, or recognition below the threshold) that no person
    has marked reviewed for the document version they belong to. ``case`` is the case (or
    its list of reviews)."""
    reviews = case if isinstance(case, list) else case.reviews
    done = {(r["doc"], r["version"], r["page"]) for r in reviews}
    return [p for p in pages if p.needs_review and (p.doc_id, p.version, p.page) not in done]


def require_reviews(case, pages) -> None:
    """The review gate of profiles with ``require_review``: NotPermitted listing the pages."""
    left = unreviewed(case, pages)
    if left:
        listed = ", ".join(f"{p.doc_id} page {p.page}" for p in left[:20]) + (", ..." if len(left) > 20 else "")
        raise NotPermitted(f"{len(left)} page{'s' if len(left) != 1 else ''} that no rule could search must be "
                           f"reviewed by a person first: {listed}", hint="packet-review")


def review_path_for(output: str) -> str:
    """Where the review report goes: OUT.review.pdf next to OUT.pdf."""
    stem, _ext = os.path.splitext(output)
    return f"{stem}.review.pdf"
