"""Referral packets: plan, build, verify, history."""

from __future__ import annotations


import click

from vault.errors import InvalidInput, VerificationFailed
from vault.storage import write_atomically

from .._context import (
    Context,
    find_case,
    force_option,
    pass_ctx,
    read_input,
    read_password_file,
    resolving,
)
from ..indexing import warn
from ..output import Progress, cell, echo_json, emit, output_options
from .documents import recipient_profile

# --- packet ---


@click.group()
def packet() -> None:
    """Plan, build and verify referral packets."""


@packet.command("profiles")
@output_options()
def packet_profiles(as_json: bool) -> None:
    """List the recipient profiles (templates/*.toml)."""
    from packets.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles()
    except ProfileError as e:
        raise InvalidInput(str(e)) from None
    rows = [{"id": p.id, "name": p.name, "organisation": p.organisation, "version": p.version,
             "page_size": p.page_size, "language": p.language, "signature": p.signature.required,
             "output": p.output, "portal": p.portal, "max_bytes": p.volumes.max_bytes,
             "portals": [{"name": x.name, "max_bytes": x.max_bytes, "source": x.source} for x in p.portals],
             "withholds": list(p.redaction_categories)}
            for p in profiles.values()]
    emit(rows, ["id", "page_size", "language", "name", "withholds"], as_json)


def _today() -> str:
    """Today's date, or the date SOURCE_DATE_EPOCH sets for a reproducible build."""
    import datetime as dt

    from packets import source_date_epoch

    fixed = source_date_epoch()
    return (fixed.date() if fixed else dt.date.today()).isoformat()


@packet.command("plan")
@click.argument("ref")
@click.option("--for", "profile_id", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("--ocr", is_flag=True, help="Also recognise pages with no text (Tesseract) and list the pages a person "
                                          "must review before the build (the results are kept for the build).")
@click.option("--reply", is_flag=True, help="The packet replies to another party's documents: the shorter deadline "
                                            "before the hearing applies (RPD Rules r. 34(3)(b): 5 days).")
@click.option("--portal", metavar="NAME", help="Plan for this upload portal of the recipient (its size limit), as "
                                             "packet build --portal would.")
@click.option("--tsa", "tsa_url", metavar="URL", help="Plan with this timestamp authority, as packet build --tsa would.")
@output_options()
@pass_ctx
def packet_plan(c: Context, ref: str, profile_id: str, ocr: bool, as_json: bool, reply: bool = False,
                portal: str | None = None, tsa_url: str | None = None) -> None:
    """Show what a packet would hold, in order, and what is missing, without building it.

    Also the upload portal (its limits and accepted types), what the build will do to fit it
    (how many files, their estimated sizes, whether images will be downsampled), and who
    signs at which PAdES level.
    """
    from packets._fitplan import fit_of, portal_of
    from packets._portals import for_portal
    from packets._signer import signature_plan
    from packets.build import plan_packet
    from packets.coverage import coverage_of

    profile = for_portal(recipient_profile(profile_id), portal)
    if tsa_url:
        from vault.orgkey import valid_tsa_url

        tsa_url = valid_tsa_url(tsa_url)
    vault = c.vault()
    review = None
    with vault.audited("packet.plan") as targets:
        found = find_case(vault, ref, targets)
        plan = plan_packet(vault, found, profile, _today(), reply=reply, pages=False)
        coverage = coverage_of(vault, found, profile, plan, ocr or profile.ocr, count_pages=True)  # one worker
        if ocr or profile.ocr:
            review = [dict(p, text_layer=False) for p in coverage.pages]
        signing = signature_plan(vault, profile, tsa_url)
    shape = {"portal": portal_of(profile), "fit": fit_of(plan, profile), "signature": signing}
    if as_json:
        out = plan.as_dict()
        if review is not None:
            out["pages_without_text"] = review
        out["coverage"] = coverage.as_dict()
        out["flatten"], out["text_layer"] = profile.flatten, profile.ocr_text_layer
        out.update(shape)
        echo_json(out)
        return
    emit([e.as_dict() for e in plan.entries], ["id", "section", "type", "title", "pages", "consent", "reason"])
    for t in plan.missing_types:
        click.echo(f"missing: a document of type {t}, which {profile.id} requires" + _left_out(plan, t, ref))
    for d in plan.missing_translations:
        click.echo(f"missing: a translation of {d} into {' or '.join(profile.accepted_languages)}")
    _plan_letter_lines(plan, profile, ref)
    if profile.flatten != "all":  # the recipient gets the documents' own objects, not pixels
        click.echo(f"flattening: off for {profile.id}: only pages with a redaction are rebuilt from pixels; the "
                   "others go out as their original objects (fonts, images, metadata checked, not removed)")
    for r in review or ():
        conf = "no words recognised" if not r["ocr_confidence"] else f"recognised at {r['ocr_confidence']:.0f}% confidence"
        state = ("reviewed" if r["reviewed"] else f"needs review (look at it, then refuge redact reviewed {r['doc']} "
                                                  f"--page {r['page']})") if r["needs_review"] else "ok"
        click.echo(f"page without text: {r['doc']} page {r['page']}: {conf}; {state}")
    _print_coverage(coverage)
    _print_shown(found, profile)
    _print_shape(shape)


def _left_out(plan, doc_type: str, ref: str) -> str:
    """Why the case's own documents of a required type do not count: so that nobody adds a second copy."""
    held = [e for e in plan.entries if e.doc.type == doc_type and not e.include]
    if not held:
        return ""
    reasons = sorted({e.reason.removesuffix("; left out") for e in held})
    count = f"{len(held)} document{'s' if len(held) > 1 else ''}"
    way = (f"; record it with refuge consent grant {ref} --recipient {plan.profile.id}"
           if any(r.startswith("no valid consent") for r in reasons) else "")
    return f"; the case holds {count} of that type, left out: {'; '.join(reasons)}{way}"


def _print_shown(case, profile) -> None:
    """The registered people and places this recipient is shown: registering is not withholding from everyone."""
    from collections import Counter

    shown = Counter(e["category"] for e in [*case.people, *case.places]
                    if e["category"] != "always" and e["category"] not in profile.redaction_categories)
    if shown:
        listed = ", ".join(f"{n} {cat}" for cat, n in sorted(shown.items()))
        click.echo(f"shown to {profile.id}: {listed} registered (it withholds only "
                   f"{', '.join(profile.redaction_categories) or 'category always'}); refuge person edit or place edit "
                   "with --category always withholds one from every recipient")


def _print_shape(shape: dict) -> None:
    """The plan's lines on the portal, fitting and the signature (packets/_fitplan.py, _signer.py)."""
    for line in _fit_lines(shape["fit"], shape["portal"]):
        click.echo(line)
    s = shape["signature"]
    if not s.get("required"):
        return
    if not s.get("key"):
        click.echo("signature: no organisation key yet (an admin makes one: refuge keys org generate|import)")
        return
    click.echo(f"signature: {s['level']}, signed for {cell(s['organisation'])} (the certificate's organisation, "
               f"the name the recipient validates){_level_note(s['level'])}")
    if not s["names_agree"]:
        click.echo(f"error: the organisation's name {cell(s['letter_name'])} is not the certificate's "
                   f"{cell(s['organisation'])}: the build stops until an admin makes them agree (refuge org set "
                   "name=ORG, refuge keys org generate --name ORG, or refuge keys org import)")


def _fit_lines(fit: dict, portal: dict) -> list[str]:
    """The plan's lines about the portal and fitting (packets/_fitplan.py)."""
    from packets._fitplan import MB

    lines = []
    limit = portal["max_bytes"]
    where = f"portal: {portal['name']}: " if portal["name"] else "upload: "
    lines.append(where + (f"{limit} bytes a file" if limit else "no size limit") + f"; {portal['page_size']} pages;"
                 f" accepts {', '.join(portal['accepted_types'])}"
                 + (f"; images at most {portal['image_dpi']} dpi" if portal["image_dpi"] else "")
                 + (f" (source: {portal['source']})" if portal["source"] else ""))
    if portal["others"]:
        lines.append("other portals (--portal NAME): " + ", ".join(f"{p['name']} ({p['max_bytes']} bytes)"
                                                                  for p in portal["others"]))
    kinds = ", ".join(f["type"] for f in fit["file_list"] if f["type"]) if portal["output"] == "per-type" else ""
    lines.append(f"files: {fit['files']} ({portal['output']}{': ' + kinds if kinds else ''})")
    for n, f in enumerate(fit["file_list"], 1):
        label = f["type"] or f"file {n}"
        lines.append(f"  {label}: about {f['bytes'] / MB:.1f} MB (estimate), {f['size_class']}")
    if fit["downsample"]:
        lines.append(f"fitting: images will be downsampled to {fit['image_dpi']} dpi and recompressed (lower, down to"
                     f" {fit['floor_dpi']} dpi, if still over); a file that still does not fit stops the build")
    else:
        lines.append("fitting: none expected (images stay as rendered)")
    return lines


def _level_note(level: str | None) -> str:
    """What a level is not, in words, so that nobody believes a packet is long-term when it is not."""
    if level == "PAdES-B-B with validation data":
        return ("; not B-LT: no timestamp authority, so nothing proves when it was signed (set one with refuge "
                "keys org tsa URL, or build with --tsa URL, for B-LTA)")
    if level in ("PAdES-B-B", "PAdES-B-T"):
        return "; not long-term: the certificate names no OCSP responder or CRL"
    return ""


def _print_coverage(coverage) -> None:
    """What covers each promised category, the names nobody registered, and the gaps."""
    for row in coverage.categories:
        parts = [f"{row.register} registered", f"{row.terms} terms"]
        if row.detectors:
            parts.append("detectors " + ", ".join(row.detectors))
        if row.candidates:
            parts.append(f"{row.candidates} unreviewed names")
        click.echo(f"coverage: {row.category}: {'; '.join(parts)}" + ("; OCR on" if coverage.ocr else "; OCR off"))
    for cand in coverage.candidates:
        click.echo(f"unregistered {cand.kind}: {cell(cand.text)} ({cand.doc_id} page {cand.page}, found by {cand.cue}); "
                   "register it (refuge person add / refuge place add), add it as a term, or dismiss it "
                   "(refuge candidate dismiss)")
    from vault.categories import CATEGORIES

    for name, missing in coverage.gaps().items():
        meaning = f" ({CATEGORIES[name]})" if name in CATEGORIES else ""  # what the word means, for a lawyer
        click.echo(f"gap: {name}{meaning}: {'; '.join(missing)}")
    if coverage.gaps():
        click.echo("the build stops on these gaps unless each is covered (refuge person add, refuge place add, refuge "
                   "redact term --category NAME) or accepted: --accept-gap NAME --reason TEXT")


def _plan_letter_lines(plan, profile, ref: str) -> None:
    """What packet plan says of the case details and the hearing's deadline."""
    for name in plan.missing_fields:
        click.echo(f"missing: the case's {name}, which {profile.id} requires (refuge case set {ref} {name}=VALUE)")
    for name in getattr(plan, "missing_name_fields", ()):
        click.echo(f"note: the file name rule of {profile.id} needs the case's {name} (refuge case set {ref} "
                   f"{name}=VALUE) to name the file in an -o FOLDER; -o FILE names it yourself")
    d = plan.deadline
    if d:
        kind = "a reply" if d["reply"] else "documents"
        if d["late"]:
            click.echo(f"warning: the hearing is on {d['hearing_date']}, {d['days_to_hearing']} days away: {kind} "
                       f"must be received {d['days']} days before it, by {d['receive_by']}; that date has passed, "
                       "so ask the Division to accept them late")
        else:
            click.echo(f"deadline: {kind} must be received by {d['receive_by']} ({d['days']} days before the "
                       f"hearing on {d['hearing_date']})")


@packet.command("build")
@click.argument("ref")
@click.option("--for", "profile_id", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("-o", "--output", required=True, type=click.Path(), help="Where to write the packet (OUT-volN.pdf when split); "
              "a folder: files are named by the profile's rule (the IRB's from the case's IRB file number); "
              "a per-type profile writes one file per document type, into the folder or as OUT-TYPE.pdf.")
@click.option("--from", "sender_org", envvar="REFUGE_ORG", default=None,
              help="The sending organisation named in the cover letter ($REFUGE_ORG); default: the name an admin "
                   "set with refuge org set.")
@click.option("--served-on", metavar="PARTY", help="The other party the packet was served on (e.g. \"Minister's counsel\"): "
              "adds a statement of service (RPD Rules r. 34); default: the case's other_party.")
@click.option("--served-by", metavar="METHOD", help="How it was served: email, mail, registered-mail, courier, fax, hand, portal.")
@click.option("--served-at", metavar="YYYY-MM-DD", help="When it was served.")
@click.option("--reply", is_flag=True, help="The packet replies to another party's documents (the shorter deadline).")
@click.option("--only-consented", is_flag=True, help="Leave out documents without valid consent instead of stopping.")
@click.option("--allow-incomplete", is_flag=True, help="Build even if required types or translations are missing.")
@click.option("--override-consent", is_flag=True, help="Emergency: include documents without consent (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why consent is overridden (recorded in the audit log and the disclosure "
                                               "record), or why the gaps named by --accept-gap are accepted (recorded "
                                               "in the disclosure record only: the audit log keeps their names).")
@click.option("--accept-gap", "accept_gaps", multiple=True, metavar="CATEGORY",
              help="Build although this promised category (or 'pages': pages nobody could read) is not covered "
                   "(repeatable; needs --reason). See the gaps with refuge packet plan.")
@click.option("--manifest-out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the signed manifest here (refuge packet verify --manifest checks it).")
@click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Encrypt the packet (AES-256) with the password on this file's first line, before signing.")
@click.option("--ocr", is_flag=True, help="Recognise pages with no text (scans, photos) with Tesseract so redaction "
                                          "rules reach them (the profile may ask for it with ocr = true).")
@click.option("--portal", metavar="NAME", help="The recipient's upload portal whose size limit applies, where it has "
                                             "several (refuge packet profiles --json lists them; default: the profile's).")
@click.option("--tsa", "tsa_url", metavar="URL", help="An RFC 3161 timestamp authority for this build (default: the "
                                                      "organisation's, refuge keys org tsa).")
@click.option("--counsel", metavar="NAME", help="The counsel of record, named in the signature block when the "
                                                "profile asks (signature.show_counsel).")
@click.option("--media-dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Write the packet's consented recordings (audio, video) to this folder, named like the packet.")
@force_option
@pass_ctx
def packet_build(c: Context, ref, profile_id, output, sender_org, only_consented, allow_incomplete, override_consent, reason,
                 manifest_out=None, password_file=None, ocr=False, force=False, served_on=None, served_by=None,
                 served_at=None, reply=False, portal=None, tsa_url=None, counsel=None,
                 media_dir=None, accept_gaps=()) -> None:
    """Build the PDF a recipient expects, sign it, and record what was sent (case leads)."""
    from packets._letters import service_details
    from packets.build import build_packet

    service_details(served_on or ("-" if served_by or served_at else None), served_by, served_at)  # fail early

    if override_consent and not reason:
        raise click.UsageError("--override-consent needs --reason TEXT")
    if accept_gaps and not reason:
        raise click.UsageError("--accept-gap needs --reason TEXT")
    if reason and not override_consent and not accept_gaps:
        raise click.UsageError("--reason goes with --override-consent or --accept-gap")
    if override_consent and only_consented:
        raise click.UsageError("--override-consent and --only-consented conflict; pick one")
    profile = recipient_profile(profile_id)
    password = read_password_file(password_file) if password_file else None
    vault = c.vault()
    progress = Progress()  # a bar on a terminal, a line per stage otherwise
    try:
        with vault.audited("packet.build") as targets:
            found = find_case(vault, ref, targets)
            if served_on is None and (served_by or served_at):  # the case's other party, when it names one
                served_on = found.fields.get("other_party")
            service = service_details(served_on, served_by, served_at)
            if override_consent:
                targets["override_consent"] = True
            if accept_gaps:
                targets["accepted_gaps"] = sorted(set(accept_gaps))  # the names only: the reason may name people
            built = build_packet(vault, found, profile, _today(), output, sender_org or "",
                                 reason if override_consent else None, only_consented, allow_incomplete, progress,
                                 password=password, manifest_out=manifest_out, ocr=ocr, replace=force,
                                 service=service, reply=reply, portal=portal, tsa=tsa_url, counsel=counsel,
                                 media_dir=media_dir, accepted_gaps={g: reason for g in accept_gaps})
            targets["packet"] = built.record["id"]
    finally:
        progress.end()
    for path in built.paths:
        click.echo(path)
    for path in built.media:
        click.echo(path)
    for warning in getattr(built, "warnings", ()):
        warn(cell(warning))
    signature = (built.record.get("manifest") or {}).get("signature")
    if signature:  # on stderr: stdout stays the packet's paths
        click.echo(f"refuge: signed for {cell(signature['organisation'])}: {signature['level']}"
                   f"{_level_note(signature['level'])}", err=True)
    late = getattr(built, "deadline", None)
    if late and late["late"]:
        click.echo(f"refuge: warning: the hearing is on {late['hearing_date']}: this packet had to be received "
                   f"by {late['receive_by']} ({late['days']} days before it)", err=True)
    if built.search_missed:
        warn(f"search will miss the words recognised in this build's scans; rebuild the index with "
             f"refuge search --reindex {ref}")
    if getattr(built, "review", None):  # stdout stays the packet's paths; the report is for the case lead
        click.echo(f"refuge: review report (for the case lead; never send it): {built.review}", err=True)


@packet.command("get")
@click.argument("packet_id", metavar="PACKET")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write it.")
@force_option
@click.option("--volume", default=1, type=click.IntRange(min=1), show_default=True, help="Which volume.")
@pass_ctx
def packet_get(c: Context, packet_id: str, output: str, volume: int, force: bool = False) -> None:
    """Write the exact bytes of a packet recorded in packet history."""
    vault = c.vault()
    with vault.audited("packet.get", intent=True) as targets:
        with resolving(vault, packet_id, targets, key="packet"):
            found, record = vault.find_packet(packet_id)
        targets.update(case=found.id, packet=record["id"])
        data = vault.packet_bytes(found, record, volume)
        write_atomically(output, lambda f: f.write(data), replace=force)


@packet.command("review")
@click.argument("packet_id", metavar="PACKET")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write it.")
@force_option
@pass_ctx
def packet_review(c: Context, packet_id: str, output: str, force: bool = False) -> None:
    """Write the review report kept with a packet of packet history (for the case lead; never send it)."""
    vault = c.vault()
    with vault.audited("packet.review", intent=True) as targets:
        with resolving(vault, packet_id, targets, key="packet"):
            found, record = vault.find_packet(packet_id)
        targets.update(case=found.id, packet=record["id"])
        data = vault.review_bytes(found, record)
        write_atomically(output, lambda f: f.write(data), replace=force)


@packet.command("history")
@click.argument("ref")
@output_options()
@pass_ctx
def packet_history(c: Context, ref: str, as_json: bool) -> None:
    """List the packets built for a case: what was sent, to whom, when."""
    vault = c.vault()
    with vault.audited("packet.history") as targets:
        found = find_case(vault, ref, targets)
    rows = [dict(p, built_by=vault.directory.name(p["built_by"]), **_signed(p)) for p in found.packets]
    if as_json:
        emit(rows, [], as_json=True)
        return
    emit([dict(r, volumes=len(r["volumes"]), documents=len(r["documents"])) for r in rows],
         ["id", "profile", "built_at", "built_by", "documents", "pages", "volumes", "signed_for", "level"])


def _signed(record: dict) -> dict:
    """Who a recorded packet is signed for (its certificate's organisation) and at which level."""
    signature = (record.get("manifest") or {}).get("signature") or {}
    return {"signed_for": signature.get("organisation"), "level": signature.get("level")}


@packet.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", "trust_files", multiple=True, metavar="CERT", type=click.Path(dir_okay=False),
              help="A certificate to trust, PEM or DER (repeatable): the sender's (refuge keys org cert), its CA's, "
                   "and the timestamp authority's.")
@click.option("--manifest", "manifest_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The packet's manifest (refuge packet build --manifest-out): check it is signed and lists this file.")
@click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The password of an encrypted packet, on the file's first line.")
@output_options()
@pass_ctx
def packet_verify(c: Context, file, trust_files, manifest_file, password_file, as_json) -> None:
    """Check a packet's signature: signer, time, integrity, whole-file coverage, trust, manifest.

    Needs no vault: a recipient runs it with the sender's certificate. Exit 0 when the
    packet is intact, covered entirely by the signature and signed by a trusted
    certificate; exit 3 otherwise, with the reason.
    """
    from packets.verify import check_packet, load_certificates

    data = read_input(file, "the packet")
    roots = [cert for t in trust_files for cert in load_certificates(read_input(t, f"--trust {t}"))]
    manifest = read_input(manifest_file, "the --manifest file") if manifest_file else None
    password = read_password_file(password_file) if password_file else None
    report = check_packet(data, roots, manifest, password)
    if as_json:
        echo_json(report.as_dict())
    else:
        _print_report(report)

    def verdict() -> None:
        if not report.ok:
            raise VerificationFailed(f"the packet does not verify: {report.reason}", hint=report.hint)

    vault = c.vault_if_unlocked()
    if vault is None:
        verdict()
        return
    with vault.audited("packet.verify", sha256=report.sha256):
        verdict()


def _print_report(r) -> None:
    yes = lambda v: "yes" if v else ("no" if v is not None else "not checked")  # noqa: E731
    lines = [("signed by", r.organisation if r.organisation else r.signer), ("organisation", r.organisation)]
    if getattr(r, "name_matches_certificate", None) is False:
        lines.append(("name claimed", f"{r.signer} (the signature's /Name, which its certificate does not back: only "
                                      "the certificate's organisation is validated)"))
    lines += [("signing time", r.signing_time),
             ("timestamp", f"{r.timestamp['time']} by {r.timestamp['authority']}" if r.timestamp else "none"),
             ("level", r.level)]
    if getattr(r, "document_timestamp", None):
        lines.append(("archived", f"{r.document_timestamp['time']} by {r.document_timestamp['authority']}"))
    if getattr(r, "revocation_info", None) is not None:
        lines.append(("revocation", "embedded (OCSP or CRL)" if r.revocation_info else "none embedded"))
    if r.certificate:
        cert = r.certificate
        lines += [("certificate", cert["subject"]), ("sha-256", cert["sha256"]),
                  ("valid", f"{cert['not_before']} to {cert['not_after']}")]
    lines += [("intact", yes(r.intact)), ("whole file", yes(r.covers_whole_file)), ("trusted", yes(r.trusted))]
    if r.manifest is not None:
        lines.append(("manifest", f"matches volume {r.manifest['volume']}" if r.manifest["ok"] else "does not match"))
    for label, value in lines:
        if value is not None:
            click.echo(f"{label + ':':14}{cell(value)}")
    if r.ok:
        click.echo("ok: the packet is intact, signed over the whole file, by a trusted certificate")
