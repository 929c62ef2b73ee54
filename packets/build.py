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
from dataclasses import replace as _replace
from pathlib import Path
from typing import Callable

from vault.errors import InvalidInput, NotPermitted, RefugeError

from .media import is_media, placeholder
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
    service: dict | None = None  # served on another party: on, by, at (packets/_letters.py)
    reply: bool = False  # the packet replies to another party's documents (a shorter deadline)
    counsel: str | None = None  # the counsel of record, in the signature block when the profile asks
    coverage: dict | None = None  # what covers each promised category, for the review report (packets/coverage.py)
    file_name: str | None = None  # a per-type packet's file names ("{type}" to fill in): what its index names


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
    types: list[str | None] = field(default_factory=list)  # each file's document type (per-type packets)


@dataclass
class Built:
    """What a build wrote and recorded."""

    record: dict
    paths: list[str]
    review: str | None = None  # the review report (OUT.review.pdf): for the case lead, never sent
    deadline: dict | None = None  # when the packet must be received before the hearing (plan.deadline)
    media: list[str] = field(default_factory=list)  # the recordings written beside the packet (--media-dir)
    search_missed: bool = False  # words recognised during the build could not enter the search index
    warnings: list[str] = field(default_factory=list)  # for the case lead's terminal (packets/_signer.py)


# ------------------------------------------------------------------------------ stages


def _items(source: CaseSource, plan: Plan) -> list[Item]:
    from vault.renditions import shown_mime  # here: the keyless worker imports this module for require_reviews

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
        if is_media(d.mime):  # a recording: a page saying it is provided separately, with its SHA-256
            out.append(placeholder(d, translator))
            continue
        out.append(Item(doc_id=d.id, title=d.title, type=d.type, date=getattr(d, "date", None) or d.added_at[:10], mime=shown_mime(d.mime),
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
    if plan.missing_fields:
        raise NotPermitted(f"{profile.id} needs the case's {', '.join(plan.missing_fields)}, which the case lacks",
                           hint="case-set-field")
    if plan.without_consent and not options.override_reason and not options.only_consented:
        listed = "; ".join(f"{e.doc.id}: consent {e.consent}" for e in plan.without_consent)
        raise NotPermitted(f"no valid consent for {profile.id}: {listed}", hint="packet-consent")
    if not plan.included:
        raise InvalidInput(f"nothing to send to {profile.id}: no document of this case is admitted with consent")
    if (plan.missing_types or plan.missing_translations or plan.missing_declarations) and not options.allow_incomplete:
        gaps = [f"a document of type {t}" for t in plan.missing_types]
        gaps += [f"a translation of {d}" for d in plan.missing_translations]
        gaps += [f"the translator of {d}" for d in plan.missing_declarations]
        raise InvalidInput(f"the packet for {profile.id} lacks {', '.join(gaps)}",
                           hint="packet-incomplete-translator" if plan.missing_declarations else "packet-incomplete")


def _plan(source: CaseSource, profile: Profile, options: BuildOptions) -> Plan:
    return make_plan(source.documents, source.consents, profile, options.today, bool(options.override_reason),
                     options.only_consented, source.fields, options.reply)


def _record(profile: Profile, plan: Plan, options: BuildOptions, volumes, sealed, redactions: dict) -> dict:
    return {
        "profile": profile.id, "profile_version": profile.version, "builder": BUILDER, "date": options.today,
        "pages": volumes[-1].last_page,
        "documents": [{"id": e.doc.id, "version": e.doc.version, "sha256": e.doc.sha256, "consent_seq": e.consent_seq}
                      for e in plan.included],
        "override_reason": options.override_reason,
        "manifest": sealed.manifest, "manifest_sig": sealed.manifest_sig, "manifest_key": sealed.manifest_key,
        "redactions": redactions,
        "output": profile.output, "portal": profile.portal, "max_bytes": profile.volumes.max_bytes,
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
    from ._letters import letter_details
    from .sign import seal

    say = progress or (lambda _stage, _n=0, _total=0: None)
    plan = _plan(source, profile, options)
    check_plan(plan, options)
    if profile.signature.required and source.key is not None:  # the key that signs, not only the stored certificate
        from ._signer import check_names
        from .sign import organisation_name

        check_names(source.org.get("name", ""), options.sender_org, organisation_name(source.key))
    letter = letter_details(profile, source.fields, source.org, options.sender_org, options.service)
    say(f"decrypting {len(plan.included)} document{'s' if len(plan.included) != 1 else ''}", 0, 0)
    items = _items(source, plan)
    ocr = options.ocr or profile.ocr
    try:
        made = produce(items, profile, sender_org=options.sender_org, today=options.today,
                       redactions=source.redactions, reviews=source.reviews, ocr=ocr,
                       ocr_cache=source.ocr_cache if ocr else {}, progress=say, letter=letter,
                       coverage=options.coverage, file_name=options.file_name)
    except RefugeError as e:
        source.recognised.update(getattr(e, "recognised", {}))
        source.recognised_docs.update(getattr(e, "recognised_docs", {}))
        raise
    source.recognised.update(made.recognised)
    source.recognised_docs.update(made.recognised_docs)
    say("signing", 0, 0)
    sealed = seal(profile, made.volumes, plan, source.consents, options.today, BUILDER, signer_name=source.signer_name,
                  key=source.key, tsa_url=source.tsa_url, password=options.password, redactions=made.redactions,
                  counsel=options.counsel)
    return Packet(sealed.volumes, _record(profile, plan, options, made.volumes, sealed, made.redactions),
                  sealed.manifest_file(), made.review, source.recognised, source.recognised_docs,
                  [v.type for v in made.volumes])


# ------------------------------------------------------------------------- the vault


def case_source(vault, case, profile: Profile | None = None, *, ocr: bool = False, signing: bool = False) -> CaseSource:
    """Gather what a build reads from the vault: the case's documents (read on demand,
    decrypted in memory), consents, redaction rules, reviews, kept recognition results
    (with ``ocr``) and, with ``signing``, the organisation key and timestamp authority."""
    from vault import orgkey, renditions

    from .sign import signing_key

    key = signing_key(vault, profile) if signing else None
    tsa = orgkey.tsa_url(vault) if signing and profile.signature.required else None
    from .coverage import case_rules

    return CaseSource(case_id=case.id, documents=list(case.documents.values()), consents=list(case.consents),
                      redactions=list(case.redactions) + case_rules(case, profile), reviews=list(case.reviews),
                      read=renditions.reader(vault, case, vault.document_bytes,  # office and mail: their renditions
                                             refuse_markup=profile is not None and profile.office_markup == "refuse"),
                      ocr_cache=vault.ocr_results(case) if ocr else {}, signer_name=vault.me.name, key=key,
                      tsa_url=tsa, fields=dict(case.fields), org=dict(vault.directory.org))


def keep_recognition(vault, case, source: CaseSource, extract=None) -> bool:
    """Store new recognition results in the case (encrypted), for the next build, and add the
    recognised documents' text to the case's search index (vault/searching.py), so that search
    finds words read in scans and photos. Neither ever fails a build: returns False when the
    index could not take the text (the caller says how to rebuild it). ``extract`` reads the
    text (default: a keyless worker, packets/_text.py extract_texts)."""
    if not source.recognised:
        return True
    try:
        vault.save_ocr(case, source.recognised, source.recognised_docs)
    except RefugeError:
        return True  # the cache only saves time: a failure to keep it must not hide or fail the build
    from vault import searching

    from ._isolated import extract_texts

    docs = sorted({d for d in source.recognised_docs.values() if d in case.documents})
    try:
        if docs:
            searching.index_documents(vault, case, docs, extract or extract_texts)
    except Exception:  # noqa: BLE001  the packet is the work asked for; its words reach search on --reindex
        return False
    return True


def plan_packet(vault, case, profile: Profile, today: str, override: bool = False,
                only_consented: bool = False, pages: bool = True, reply: bool = False) -> Plan:
    """The plan, with page counts of the included documents when ``pages``; ``reply`` plans a
    reply (its deadline before the hearing is shorter)."""
    plan = make_plan(case.documents.values(), case.consents, profile, today, override, only_consented,
                     case.fields, reply)
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


def org_details(vault) -> dict:
    """The organisation's details an admin set (name, counsel of record...), where the vault
    keeps them (vault.orgdetails); {} where it does not."""
    try:
        from vault import orgdetails
    except ImportError:
        return {}
    try:
        return dict(orgdetails.details(vault))
    except (RefugeError, AttributeError):
        return {}


def volume_types(profile: Profile, manifest: dict) -> list[str]:
    """The document type (section id) of each file of a per-type packet; "cover" for the
    file holding only the cover letter and index."""
    types = {d["id"]: d["type"] for d in manifest.get("documents", [])}
    out = []
    for v in manifest.get("volumes", []):
        sections = [profile.section_for(types.get(d, "")) for d in v.get("documents", [])]
        found = next((s for s in sections if s is not None), None)
        name = found.id if found else ("cover" if not v.get("documents") else "other")
        out.append(name if name not in out else f"{name}-{len(out) + 1}")  # never two files of one name
    return out


def typed_pattern(output: str, profile: Profile, today: str) -> str:
    """A per-type packet's file names, "{type}" standing for each file's document type: the
    profile's rule in the folder ``output``, else OUT-TYPE.pdf (what the index names)."""
    from ._shape import file_pattern

    if os.path.isdir(output):
        return file_pattern(profile, today)
    stem, ext = os.path.splitext(os.path.basename(output))
    return (stem + "-").replace("{", "{{").replace("}", "}}") + "{type}" + (ext or ".pdf").replace("{", "{{").replace(
        "}", "}}")


def typed_paths(output: str, profile: Profile, today: str, types: list[str]) -> list[str]:
    """Where a per-type packet's files go: in the folder ``output``, named by the profile's
    file-name rule; or, when ``output`` is a file name, OUT-TYPE.pdf next to it."""
    folder = output if os.path.isdir(output) else os.path.dirname(output)
    pattern = typed_pattern(output, profile, today)
    return [os.path.join(folder, pattern.format(type=t, volume=n)) for n, t in enumerate(types, 1)]


def _file_types(packet: Packet, profile: Profile) -> list[str]:
    """The per-type files' types as the assembler named them in the index; the worker's answer is
    checked (one slug per file, no two alike) before it names a file."""
    from .profiles import _SLUG

    types = packet.types
    if len(types) != len(packet.volumes) or len(set(types)) != len(types) or \
            not all(isinstance(t, str) and _SLUG.fullmatch(t) for t in types):
        from vault.worker import WorkerFailed

        raise WorkerFailed("the worker building the packet answered malformed data")
    return list(types)


def _possible_types(profile: Profile) -> list[str]:
    return ["cover", "other", *(s.id for s in profile.sections)]


def _check_outputs(output: str, manifest_out: str | None, replace: bool, profile: Profile | None = None,
                   today: str = "") -> None:
    """Before any work: the folders exist, and no file would be replaced unless ``replace``."""
    from vault.storage import OutputExists

    if profile is not None and profile.output == "per-type":
        output = output.rstrip("/") or output
        taken = typed_paths(output, profile, today, _possible_types(profile))
        if not replace and any(os.path.lexists(p) for p in taken):
            raise OutputExists("an output file of this packet already exists; nothing was built")
        if os.path.isdir(output):
            output = output + ".pdf"  # the review report goes next to the folder, never into it
    elif os.path.isdir(output):
        raise InvalidInput(f"the output is a folder, and {profile.id if profile else 'this profile'} packets are"
                           " files; name the file to write")
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
        recorded = vault.record_packet(case, packet.volumes, packet.record, review=packet.review)
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
                 replace: bool = False, service: dict | None = None, reply: bool = False,
                 portal: str | None = None, tsa: str | None = None, counsel: str | None = None,
                 media_dir: str | None = None, accepted_gaps: dict[str, str] | None = None) -> Built:
    """Build, sign, record and write a packet; raises before writing anything if it cannot.

    ``password`` encrypts each volume (AES-256) before it is signed; ``manifest_out`` is
    where the signed manifest is also written (it is always in the disclosure record);
    ``replace`` allows replacing existing output files (else OutputExists, before any work).
    ``output`` may be a folder: the file is then named by the profile's rule (the IRB's from
    the case's IRB file number). ``sender_org`` may be empty: the organisation's details name
    the sender. ``service`` (on, by, at: packets._letters.service_details) adds a statement of
    service; ``reply`` plans a reply.
    ``portal`` picks one of the profile's upload portals (its size limit); ``tsa`` is a
    timestamp authority for this build (else the organisation's); ``counsel`` is named in
    the signature block when the profile asks. A per-type profile writes one file per
    document type: into the folder ``output`` named by the profile's rule, or OUT-TYPE.pdf.
    ``media_dir`` is where the packet's consented recordings are written (packets/media.py).
    ``accepted_gaps`` maps each coverage gap the case lead accepts (a category, or ``pages``)
    to the reason, kept in the disclosure record (packets/coverage.py).

    Raises:
        NotPermitted: the builder is not a case lead, documents lack valid consent, or a
            promised category has a gap nobody accepted.
        InvalidInput: required documents or translations are missing, or the output is bad.
    """
    vault._require_role("case-lead", doing="building packets")
    vault.require_open(case.id)
    from ._portals import for_portal

    profile = for_portal(profile, portal)
    if counsel is None and profile.signature.show_counsel:
        counsel = org_details(vault).get("counsel")
    if os.path.isdir(output) and profile.output != "per-type":
        from ._letters import named_output

        output = named_output(profile, output, today, case.fields)
    _check_outputs(output, manifest_out, replace, profile, today)
    warnings = _signer_names(vault, profile, sender_org)
    options = BuildOptions(today, sender_org, override_reason, only_consented, allow_incomplete, password, ocr,
                           service, reply, counsel=counsel,
                           file_name=typed_pattern(output.rstrip("/") or output, profile, today)
                           if profile.output == "per-type" else None)
    plan = _plan(case_source(vault, case), profile, options)
    check_plan(plan, options)  # before the key is unwrapped
    media = _media_files(vault, plan, output, profile, today, media_dir, replace)
    accepted = _coverage_gate(vault, case, profile, plan, ocr or profile.ocr, accepted_gaps or {}, progress)
    options = _replace(options, coverage={"categories": accepted["coverage"], "candidates": accepted["candidates"],
                                          "accepted": [g["gap"] for g in accepted["gaps"]]})
    source = case_source(vault, case, profile, ocr=ocr or profile.ocr, signing=True)  # no key: stop before decrypting
    if tsa:
        from vault.orgkey import valid_tsa_url

        source.tsa_url = valid_tsa_url(tsa)
    indexed = False
    try:
        packet = make_packet(source, profile, options, progress)
    finally:  # recognition is slow: keep what was recognised even if the build stops here
        indexed = keep_recognition(vault, case, source)
    packet.record["coverage"] = accepted["coverage"]
    if accepted["gaps"]:
        packet.record["accepted_gaps"] = accepted["gaps"]
    if profile.output == "per-type":
        output = output.rstrip("/") or output
        paths = typed_paths(output, profile, today, _file_types(packet, profile))
        review_path = review_path_for(output + ".pdf" if os.path.isdir(output) else output)
    else:
        paths = output_paths(output, len(packet.volumes))
        review_path = review_path_for(output)
    packet.record["files"] = [os.path.basename(p) for p in paths]
    files = list(zip(paths, packet.volumes)) + ([(manifest_out, packet.manifest_file)] if manifest_out else [])
    files.append((review_path, packet.review))
    files += [(path, vault.document_bytes(doc)) for path, doc in media]
    if progress is not None:
        progress("recording the disclosure", 0, 0)
    return Built(_write_recorded(vault, case, packet, files, replace), paths, review_path, plan.deadline,
                 [p for p, _ in media], search_missed=not indexed, warnings=warnings)


def _signer_names(vault, profile: Profile, sender_org: str) -> list[str]:
    """The organisation's name against the signing certificate's (packets/_signer.py), before any work."""
    if not profile.signature.required:
        return []
    from vault import orgkey

    from ._signer import check_names

    cert = orgkey.current(vault)
    return check_names(org_details(vault).get("name", ""), sender_org,
                       cert.as_dict()["organisation"] if cert is not None else None)


def _media_files(vault, plan: Plan, output: str, profile: Profile, today: str, media_dir: str | None,
                 replace: bool) -> list:
    """[(path, document)] of the plan's recordings when ``media_dir`` is given (checked before any work),
    named like the packet's file (a per-type packet's folder: the profile and the date)."""
    from .media import check_media_dir, media_names

    docs = [e.doc for e in plan.included if is_media(e.doc.mime)]
    if media_dir is None or not docs:
        return []
    stem = f"{profile.id}-{today}" if os.path.isdir(output) else Path(output).stem
    return list(zip(check_media_dir(media_dir, media_names(stem, docs), replace), docs))


def _coverage_gate(vault, case, profile: Profile, plan: Plan, ocr: bool, accepted: dict[str, str],
                   progress: Callable[[str, int, int], None] | None) -> dict:
    """The coverage gate (packets/coverage.py): refuse unaccepted gaps; what the record keeps."""
    from .coverage import check_gaps, coverage_of

    # no progress line here: a refusal by the gate stays the command's one line of output
    coverage = coverage_of(vault, case, profile, plan, ocr)
    gaps = check_gaps(coverage, accepted)
    counts = {c.category: {"register": c.register, "terms": c.terms, "detectors": len(c.detectors),
                           "candidates": c.candidates} for c in coverage.categories}
    return {"coverage": counts, "gaps": gaps, "candidates": [c.as_dict() for c in coverage.candidates]}


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


def require_reviews(case, pages, ocr: bool = False) -> None:
    """The review gate of profiles with ``require_review``: NotPermitted listing the pages.
    ``ocr``: the pages were recognised already (the way out is then a person's review alone)."""
    left = unreviewed(case, pages)
    if left:
        listed = ", ".join(f"{p.doc_id} page {p.page}" for p in left[:20]) + (", ..." if len(left) > 20 else "")
        raise NotPermitted(f"{len(left)} page{'s' if len(left) != 1 else ''} that no rule could search must be "
                           f"reviewed by a person first: {listed}",
                           hint="packet-review-recognised" if ocr else "packet-review")


def review_path_for(output: str) -> str:
    """Where the review report goes: OUT.review.pdf next to OUT.pdf."""
    stem, _ext = os.path.splitext(output)
    return f"{stem}.review.pdf"
