"""Build a packet: plan, render, redact, assemble, verify, sign, record.

This module joins the vault (documents, consent, the disclosure record) to the
PDF pipeline. Plaintext exists only in memory; the output is written through
temporary files in the output folder and renamed into place only after the
packet is recorded in the case, so a failed build leaves no file and an
unrecorded packet never leaves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vault.errors import InvalidInput, NotPermitted, RefugeError

from .model import Item, PacketRequest
from .plan import Plan, make_plan
from .profiles import Profile

__all__ = ["plan_packet", "build_packet", "BUILDER"]

BUILDER = "refuge 0.1.0"


def _items(vault, plan: Plan) -> list[Item]:
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
                        data=vault.document_bytes(d), lang=d.lang, translation_of=d.translation_of,
                        translator=translator, version=d.version))
    return out


def plan_packet(vault, case, profile: Profile, today: str, override: bool = False,
                only_consented: bool = False, pages: bool = True) -> Plan:
    """The plan, with page counts of the included documents when ``pages``."""
    plan = make_plan(case.documents.values(), case.consents, profile, today, override, only_consented)
    if pages:
        from .render import page_count

        for entry, item in zip(plan.included, _items(vault, plan)):
            entry.pages = page_count(item)
    return plan


@dataclass
class Built:
    """What a build wrote and recorded."""

    record: dict
    paths: list[str]
    review: str | None = None  # the review report (OUT.review.pdf): for the case lead, never sent


def output_paths(output: str, volumes: int) -> list[str]:
    """OUT.pdf for one volume; OUT-vol1.pdf, OUT-vol2.pdf, ... for several."""
    if volumes == 1:
        return [output]
    stem, ext = os.path.splitext(output)
    return [f"{stem}-vol{n}{ext or '.pdf'}" for n in range(1, volumes + 1)]


def build_packet(vault, case, profile: Profile, today: str, output: str, sender_org: str,
                 override_reason: str | None = None, only_consented: bool = False,
                 allow_incomplete: bool = False, progress: Callable[[str], None] | None = None,
                 password: str | None = None, manifest_out: str | None = None, ocr: bool = False) -> Built:
    """Build, sign, record and write a packet; raises before writing anything if it cannot.

    ``password`` encrypts each volume (AES-256) before it is signed; ``manifest_out`` is
    where the signed manifest is also written (it is always in the disclosure record).

    Raises:
        NotPermitted: the builder is not a case lead, or documents lack valid consent.
        InvalidInput: required documents or translations are missing, or the output is bad.
    """
    from .assemble import build

    vault._require_role("case-lead", doing="building packets")
    vault.require_open(case.id)
    folder = Path(output).parent
    if not (folder if str(folder) else Path(".")).is_dir():
        raise InvalidInput("the output folder does not exist; create it first")
    if manifest_out and not (Path(manifest_out).parent if str(Path(manifest_out).parent) else Path(".")).is_dir():
        raise InvalidInput("the manifest's folder does not exist; create it first")
    plan = make_plan(case.documents.values(), case.consents, profile, today, bool(override_reason), only_consented)
    if plan.without_consent and not override_reason and not only_consented:
        listed = "; ".join(f"{e.doc.id}: consent {e.consent}" for e in plan.without_consent)
        raise NotPermitted(f"no valid consent for {profile.id}: {listed}", hint="packet-consent")
    if not plan.included:
        raise InvalidInput(f"nothing to send to {profile.id}: no document of this case is admitted with consent")
    if (plan.missing_types or plan.missing_translations or plan.missing_declarations) and not allow_incomplete:
        gaps = [f"a {t} document" for t in plan.missing_types] + [f"a translation of {d}" for d in plan.missing_translations]
        gaps += [f"the translator of {d}" for d in plan.missing_declarations]
        raise InvalidInput(f"the packet for {profile.id} lacks {', '.join(gaps)}",
                           hint="packet-incomplete-translator" if plan.missing_declarations else "packet-incomplete")
    say = progress or (lambda _msg: None)
    from .sign import seal, signing_key  # the last write to each volume: encryption (if asked), then the signature

    key = signing_key(vault, profile)  # no organisation key: stop before anything is decrypted
    say(f"decrypting {len(plan.included)} documents")
    items = _items(vault, plan)
    from .leakcheck import verify_file, verify_volumes
    from .redact import Redactor
    from .review import review_report

    ocr = ocr or profile.ocr
    redactor = Redactor(case.redactions, profile, ocr=ocr, ocr_cache=vault.ocr_results(case) if ocr else None)
    say("finding what to redact")
    items = redactor.prepare(items)  # titles and translator details: before they reach generated pages
    say("assembling" + (" (recognising pages without text)" if ocr else ""))
    try:
        volumes = build(PacketRequest(profile=profile, items=items, sender_org=sender_org, date=today, redact=redactor))
    finally:  # recognition is slow: keep what was recognised even if the build stops here
        keep_recognition(vault, case, redactor)
    if profile.require_review:
        require_reviews(case, redactor.pages)
    say("checking the packet for redacted text")
    verify_volumes(volumes, redactor.needles())  # fail closed: VerificationFailed, nothing written
    review = review_report(redactor, profile.id, today)
    verify_file(review, redactor.needles(), label="the review report", structure=False)
    redactions = redactor.summary()  # counts only, never terms
    say("signing")
    sealed = seal(vault, profile, volumes, plan, case, today, BUILDER, password, redactions=redactions, key=key)
    paths = output_paths(output, len(volumes))
    review_path = review_path_for(output)
    files = list(zip(paths, sealed.volumes)) + ([(manifest_out, sealed.manifest_file())] if manifest_out else [])
    files.append((review_path, review))
    from vault.storage import PendingFile

    pending = []
    try:
        for path, data in files:  # complete and fsynced, but nameless until the packet is recorded
            pending.append(PendingFile(path, lambda f, data=data: f.write(data)))
        record = {
            "profile": profile.id, "profile_version": profile.version, "builder": BUILDER, "date": today,
            "pages": volumes[-1].last_page,
            "documents": [{"id": e.doc.id, "version": e.doc.version, "sha256": e.doc.sha256, "consent_seq": e.consent_seq}
                          for e in plan.included],
            "override_reason": override_reason,
            "manifest": sealed.manifest, "manifest_sig": sealed.manifest_sig,
            "redactions": redactions,
        }
        say("recording the disclosure")
        recorded = vault.record_packet(case, sealed.volumes, record)
        while pending:
            pending.pop(0).commit()
    finally:
        for p in pending:
            p.discard()
    return Built(recorded, paths, review_path)


def page_review(vault, case, profile: Profile, plan: Plan, ocr: bool) -> list:
    """Every rendered page of the included documents as redaction sees it (recognised with
    ``ocr``), for ``packet plan``: which pages a person must review. Decrypts in memory."""
    from .redact import Redactor
    from .render import render

    items = _items(vault, plan)
    redactor = Redactor(case.redactions, profile, ocr=ocr, ocr_cache=vault.ocr_results(case) if ocr else None)
    items = redactor.prepare(items)
    try:
        for item in items:
            redactor.analyse(item, render(item, profile))
    finally:
        keep_recognition(vault, case, redactor)
    return redactor.pages


def keep_recognition(vault, case, redactor) -> None:
    """Store the redactor's new recognition results in the case (encrypted), for the next build."""
    if redactor.ocr_new:
        try:
            vault.save_ocr(case, redactor.ocr_new, redactor.ocr_docs)
        except RefugeError:
            pass  # the cache only saves time: a failure to keep it must not hide or fail the build


def unreviewed(case, pages) -> list:
    """Pages no rule could search (no text, or recognition below the threshold) that no person
    has marked reviewed for the document version they belong to."""
    done = {(r["doc"], r["version"], r["page"]) for r in case.reviews}
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
