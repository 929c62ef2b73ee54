"""Documents, consent and redaction rules."""

from __future__ import annotations

import contextlib
import sys

import click

from vault import intake
from vault.core import DOC_TYPES, Vault
from vault.doclife import check_date
from vault.documents import AddResult
from vault.errors import InvalidInput, NotPermitted, RefugeError
from vault.storage import write_atomically

from .. import _bulk, formats
from .._context import (
    SECRET_HELP,
    SECRET_TEXT,
    Context,
    doc_in_case,
    doc_name,
    find_case,
    find_document,
    find_target_case,
    force_option,
    parse_date,
    pass_ctx,
    read_lines,
    typed_in_the_open,
)
from ..errors import describe, show
from ..output import echo_json, emit, output_options


def _indexing():
    """refuge.indexing, imported by the commands that change documents only: the search index's modules
    (sqlite3 among them) are a cost `doc list`, `doc get` and consent commands need not pay."""
    from .. import indexing

    return indexing


# --- doc ---


@click.group()
def doc() -> None:
    """Add, list, read and tag documents."""


@doc.command("add")
@click.argument("ref")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES),
              help="The type of every file. A --type-map match wins over it; without either, the type comes from "
                   "the file's extension (.jpg .jpeg .png .heic .heif .webp .tif .tiff: photo; .eml .msg: "
                   "correspondence) and any other file is refused.")
@click.option("--type-map", "type_map", type=click.Path(dir_okay=False), metavar="FILE",
              help="Types by extension or glob, one PATTERN = TYPE a line (.jpg = photo, medical/*.pdf = medical); "
                   "it wins over --type.")
@click.option("-r", "--recursive", is_flag=True, help="Add the files in each FOLDER named, and its subfolders "
                                                       "(hidden files left out).")
@click.option("--allow-duplicate", is_flag=True, help="Add a file even if the case already holds it (same SHA-256).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--person", type=SECRET_TEXT, help="Whom it concerns: a person of the case's register, by id, name or "
                                                "alias (refuge person add)." + SECRET_HELP)
@click.option("--lang", help="Language code, e.g. es, en, fr.")
@click.option("--title", type=SECRET_TEXT, help="A title (default: the file name without extension)." + SECRET_HELP)
@click.option("--date", "doc_date", metavar="YYYY-MM-DD",
              help="The date the document bears (shown in packet indexes instead of the upload date).")
@click.option("--translation-of", metavar="DOC", help="The document this translates.")
@click.option("--translator", metavar="NAME", help="Who translated it (for the translator's declaration).")
@click.option("--dialect", help="The dialect of the original, if any (for the translator's declaration).")
@click.option("--supersedes", metavar="DOC", help="Store the file as a new version of DOC.")
@output_options()
@pass_ctx
def doc_add(c: Context, ref, files, doc_type, type_map, recursive, allow_duplicate, tags, person, lang, title,
            doc_date, translation_of, translator, dialect, supersedes, as_json) -> None:
    """Add files (or, with --recursive, folders of files) to a case; prints the new document ids.

    A file the case already holds (same SHA-256) is refused unless
    --allow-duplicate; on a terminal, a file already in another of your cases
    is pointed out. Each refused file is named with the reason (a file found
    in a folder by its path on a terminal; elsewhere, where the line may end
    up in a log, by the folder and its place in it: "box (file 2 of 9)"). The
    exit status is 0 only if every file was added (those added stay added).
    """
    incoming = _bulk.collect(list(files), recursive)
    if supersedes and len(incoming) != 1:
        raise InvalidInput("a new version of a document takes exactly one file", hint="supersedes-one")
    intake.warm_up(len(incoming))  # the keyless worker's interpreter loads while the vault and the case open
    mapping = _bulk.TypeMap.read(type_map) if type_map else None
    doc_date = check_date(doc_date) if doc_date else None
    options = dict(tags=tags, person=person, lang=lang, title=title, translator=translator, dialect=dialect,
                   date=doc_date)
    vault = c.vault()
    with vault.audited("doc.add") as targets:
        found = find_case(vault, ref, targets)
        options["person"] = _registered_person(found, person)
        if translation_of:
            options["translation_of"] = doc_in_case(vault, found, translation_of, targets)
        if supersedes:
            options["supersedes"] = doc_in_case(vault, found, supersedes, targets)
            doc_type = doc_type or found.documents[options["supersedes"]].type  # a new version keeps its type
        dups = vault.watch_duplicates(found, other_cases=sys.stderr.isatty())  # each file hashed as it is stored
        outcome = _add_each(vault, found, incoming, doc_type, mapping, dups, allow_duplicate, options)
        targets["docs"] = [d.id for _, d in outcome.added]
        if outcome.failed and not outcome.added and len(incoming) == 1:
            raise outcome.failed[0][1]
        if outcome.failed and not outcome.added:
            _report_failures(outcome, len(incoming))
            raise InvalidInput(f"none of the {len(incoming)} files was added")
        results = [AddResult(f.path, d) for f, d in outcome.added]
        attached, problems = formats.after_add(vault, found, results, tags, person, lang)
        targets["docs"] += [d.id for d in attached]
    added = [d for _, d in outcome.added] + attached
    if as_json:
        emit([{"id": d.id, "version": d.version, "sha256": d.sha256, "size": d.size} for d in added], [], as_json=True)
    else:
        for d in added:
            click.echo(d.id)
    sys.stdout.flush()
    _indexing().update(vault, found, [d.id for d in added], ref)  # a failure warns; the documents stay added
    _warn_elsewhere(dups, outcome)
    for line in problems:
        show(line)
    if outcome.failed:
        _report_failures(outcome, len(incoming))
    if outcome.failed or problems:
        sys.exit(1)
    if len(incoming) > 1:
        click.echo(f"refuge: added {len(added)} of {len(incoming)} files", err=True)


class _Outcome:
    def __init__(self) -> None:
        self.added: list[tuple[_bulk.Incoming, object]] = []
        self.failed: list[tuple[_bulk.Incoming, RefugeError]] = []


def _add_each(vault: Vault, case, incoming, doc_type, mapping, dups, allow_duplicate, options,
              progress: bool = True) -> "_Outcome":
    """Add the files one by one (a progress bar on a terminal); each succeeds or fails alone.

    The web desk calls it too (``progress=False``: its terminal is not the person's page).
    """
    outcome = _Outcome()
    options = dict(options, by_path={f.path: f for f in incoming})
    bar = click.progressbar(incoming, label="adding", file=sys.stderr, show_pos=True) \
        if progress and sys.stderr.isatty() and len(incoming) > 1 else contextlib.nullcontext(incoming)
    with bar as files:
        for f in files:
            try:
                outcome.added.append((f, _add_one(vault, case, f, doc_type, mapping, dups, allow_duplicate, options)))
            except RefugeError as e:
                if isinstance(e, NotPermitted):  # not this file's fault: nothing else may be added either
                    raise
                outcome.failed.append((f, e))
    return outcome


def _add_one(vault: Vault, case, f, doc_type, mapping, dups, allow_duplicate, options):
    o = dict(options, **options.get("per_file", {}).get(f.path, {}))  # the web desk's fields of this one file
    chosen = _bulk.type_for(f, o.get("type") or doc_type, mapping)
    if chosen is None:
        raise InvalidInput("no type for this file: give --type, or map its extension with --type-map", hint="doc-type")
    if not allow_duplicate and (f.path in dups.in_case or f.path in dups.in_batch):
        _refuse_duplicate(f, dups, options)

    def check(path: str, digest: str) -> None:  # once stored, before the commit (vault.watch_duplicates)
        dups.see(path, digest)
        if not allow_duplicate and (path in dups.in_case or path in dups.in_batch):
            _refuse_duplicate(f, dups, options)

    result = vault.add_documents(case, [f.path], chosen, o["tags"], o["person"], o["lang"], o["title"],
                                 o.get("translation_of"), o.get("supersedes"), translator=o["translator"],
                                 dialect=o["dialect"], date=o["date"], check=check,
                                 stored=o.get("stored"))[0]  # the web desk's files, stored as they arrived
    if result.error:
        raise result.error
    return result.document


def _refuse_duplicate(f, dups, options) -> None:
    if f.path in dups.in_case:
        raise InvalidInput(f"the case already holds this file as document {doc_name(dups.in_case[f.path])}",
                           hint="allow-duplicate")
    earlier = options["by_path"][dups.in_batch[f.path]]
    raise InvalidInput(f"it is the same file as {_bulk.shown(earlier)}", hint="allow-duplicate")


def _report_failures(outcome: "_Outcome", total: int) -> None:
    """One line per refused file, naming it as typed (on the person's own stderr) and why; then a summary."""
    for f, error in outcome.failed:
        show(refusal_line(f, error, total))
    if total > 1:
        click.echo(f"refuge: added {len(outcome.added)} of {total} files; {len(outcome.failed)} refused", err=True)


def refusal_line(f: _bulk.Incoming, error: RefugeError, total: int) -> str:
    """How a refused file is worded (after ``refuge: error:``): named, when it was one of several."""
    return f"{_bulk.shown(f)}: {describe(error)}" if total > 1 else describe(error)


def _warn_elsewhere(dups, outcome: "_Outcome") -> None:
    """On a terminal: the files just added that another of my cases already holds."""
    for f, _ in outcome.added:
        for other, d in dups.elsewhere.get(f.path, [])[:3]:
            _indexing().warn(f"{_bulk.shown(f)} is also in your case {other.ref} "
                          f"as document {doc_name(d)}")


def _registered_person(found, person: str | None) -> str | None:
    """The register id of the person ``--person`` names (id, name or alias); free text is kept, with a warning."""
    from vault.register import resolve_person

    if not person:
        return person
    entry = resolve_person(found, person)
    if entry is not None:
        return entry["id"]
    click.echo("refuge: warning: --person names nobody in the case's register, so nothing redacts that name; "
               "register them with refuge person add", err=True)
    return person


@doc.command("list")
@click.argument("ref")
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES), help="Only this type.")
@click.option("--tag", help="Only documents with this tag.")
@click.option("--removed", is_flag=True, help="List the removed and moved-away documents instead (case leads): "
                                              "who removed them, when, why, and whether copies are kept (legal hold).")
@output_options()
@pass_ctx
def doc_list(c: Context, ref: str, doc_type: str | None, tag: str | None, removed: bool, as_json: bool) -> None:
    """List a case's documents."""
    vault = c.vault()
    with vault.audited("doc.list", removed=removed or None) as targets:
        if removed:
            vault.require_role("case-lead", doing="listing removed documents")
        found = find_case(vault, ref, targets)
        pool = found.removed if removed else found.documents
        docs = [d for d in pool.values() if (not doc_type or d.type == doc_type) and (not tag or tag in d.tags)]
    if removed:
        emit(_removed_rows(vault, found, docs), ["id", "type", "title", "removed_at", "removed_by", "reason",
                                                 "moved_to", "copies"], as_json)
        return
    rows = [dict(d.as_dict(), added_by=vault.directory.name(d.added_by)) for d in docs]
    emit(rows, ["id", "type", "title", "date", "version", "tags", "lang", "size", "flags"], as_json)


def _removed_rows(vault: Vault, case, docs) -> list[dict]:
    kept = vault.kept_blobs(case) if docs else set()
    on_hold = bool(vault.case_status(case.id).hold)
    mine = {c.id: c.ref for c in vault.cases()} if any(d.removal.get("moved_to") for d in docs) else {}
    rows = []
    for d in docs:
        r = d.removal
        moved = r.get("moved_to") or {}
        copies = any(e["blob"] in kept for e in d.versions)
        rows.append(dict(d.as_dict(), removed_at=r["at"], removed_by=vault.directory.name(r["by"]),
                         reason=r.get("reason", ""),
                         moved_to=(f"{mine.get(moved.get('case'), moved.get('case'))} as {moved.get('id')}"
                                   if moved else None),
                         copies=("kept (legal hold)" if on_hold else "kept (not destroyed yet)") if copies else "destroyed"))
    return rows


@doc.command("get")
@click.argument("doc_id", metavar="DOC")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write the document (default: standard output, not a terminal).")
@force_option
@click.option("--version", "version", type=click.IntRange(min=1), help="An earlier version.")
@pass_ctx
def doc_get(c: Context, doc_id: str, output: str | None, version: int | None, force: bool = False) -> None:
    """Write a document, byte-exact, to a file or standard output."""
    vault = c.vault()
    with vault.audited("doc.get", intent=True) as targets:
        found_case, found = find_document(vault, doc_id, targets)
        if output:
            # a working copy of what the vault keeps: atomic, but not fsynced (like age -d -o)
            write_atomically(output, lambda f: vault.read_document(found, f, version), durable=False, replace=force)
        elif sys.stdout.isatty():
            raise InvalidInput("refusing to print a document on a terminal; give -o PATH")
        else:
            vault.read_document(found, sys.stdout.buffer, version)


@doc.command("tag")
@click.argument("doc_id", metavar="DOC")
@click.option("--add", "add", multiple=True, help="A tag to add (repeatable).")
@click.option("--remove", "remove", multiple=True, help="A tag to remove (repeatable).")
@pass_ctx
def doc_tag(c: Context, doc_id: str, add, remove) -> None:
    """Add or remove tags."""
    vault = c.vault()
    with vault.audited("doc.tag") as targets:
        found_case, named = find_document(vault, doc_id, targets)
        found = vault.tag(named.id, add, remove)
    _indexing().update(vault, found_case, [found.id], fields_only=True)
    click.echo(f"{found.id}: {', '.join(found.tags) or '(no tags)'}")


@doc.command("edit")
@click.argument("doc_id", metavar="DOC")
@click.option("--title", type=SECRET_TEXT, help="A new title." + SECRET_HELP)
@click.option("--type", "doc_type", type=click.Choice(DOC_TYPES), help="A new document type.")
@click.option("--person", type=SECRET_TEXT, help="Whom it concerns (empty to clear)." + SECRET_HELP)
@click.option("--lang", help="Language code, e.g. es, en, fr (empty to clear).")
@click.option("--date", "doc_date", metavar="YYYY-MM-DD", help="The date the document bears (empty to clear).")
@click.option("--tag", "add", multiple=True, help="A tag to add (repeatable).")
@click.option("--untag", "remove", multiple=True, help="A tag to remove (repeatable).")
@output_options()
@pass_ctx
def doc_edit(c: Context, doc_id: str, title, doc_type, person, lang, doc_date, add, remove, as_json) -> None:
    """Correct a document's title, type, person, language, date or tags (lawyers and case leads)."""
    vault = c.vault()
    changes = {"title": title, "type": doc_type, "person": person, "lang": lang, "date": doc_date}
    with vault.audited("doc.edit") as targets:
        found_case, found = find_document(vault, doc_id, targets)
        _, edited = vault.edit_document(found.id, changes, add, remove)
        targets["fields"] = sorted(k for k, v in changes.items() if v is not None) + (["tags"] if add or remove else [])
    _indexing().update(vault, found_case, [edited.id], fields_only=True)
    if as_json:
        echo_json(edited.as_dict())
    else:
        click.echo(f"edited {edited.id}")


@doc.command("remove")
@click.argument("doc_id", metavar="DOC")
@click.option("--reason", required=True, type=SECRET_TEXT,
              help="Why (kept in the case's encrypted events, never in the audit log)." + SECRET_HELP)
@output_options()
@pass_ctx
def doc_remove(c: Context, doc_id: str, reason: str, as_json: bool) -> None:
    """Remove a document (case leads): it leaves listings, consent, packets and search.

    Its stored copies (every version) are destroyed at once, unless the case
    is on legal hold: then they are kept until the hold is released. A
    tombstone with the reason stays in the case (doc list --removed).
    """
    vault = c.vault()
    with vault.audited("doc.remove") as targets:
        found_case, found = find_document(vault, doc_id, targets)
        case, gone, kept = vault.remove_document(found.id, reason)
    _indexing().forget(vault, case, [gone.id])
    if as_json:
        echo_json({"id": gone.id, "kept": kept})
    elif kept:
        click.echo(f"removed {gone.id}; its copies are kept while the case is on legal hold")
    else:
        click.echo(f"removed {gone.id}; its copies were destroyed")


@doc.command("move")
@click.argument("doc_id", metavar="DOC")
@click.option("--to", "to_ref", required=True, metavar="REF", help="The case to move it to (you lead both).")
@output_options()
@pass_ctx
def doc_move(c: Context, doc_id: str, to_ref: str, as_json: bool) -> None:
    """Move a document, every version, to another case (case leads who are members of both).

    It is encrypted again to the other case's key and gets a new id there; the
    case it leaves keeps a tombstone (doc list --removed) and destroys its
    copies, unless on legal hold. An interrupted move is finished by running it again.
    """
    vault = c.vault()
    with vault.audited("doc.move") as targets:
        vault.require_role("case-lead", doing="moving documents")
        found_case, found = find_document(vault, doc_id, targets)
        target = find_target_case(vault, to_ref, targets)
        source, gone, moved = vault.move_document(found.id, target)
        targets["new_doc"] = moved.id
    _indexing().forget(vault, source, [gone.id])
    _indexing().update(vault, target, [moved.id], to_ref)
    if as_json:
        echo_json({"id": moved.id, "from": gone.id})
    else:
        click.echo(moved.id)


# --- consent ---


@click.group()
def consent() -> None:
    """Record the survivor's consent to share with each recipient."""


def recipient_profile(profile_id: str):
    """The recipient profile with this id, or a one-line error."""
    from packets.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles()
    except ProfileError as e:
        raise InvalidInput(str(e)) from None
    if profile_id not in profiles:
        import difflib

        near = difflib.get_close_matches(profile_id, list(profiles), n=1)
        raise InvalidInput(f"no recipient profile {profile_id}"
                           + (f"; did you mean \"{near[0]}\"?" if near else "; see refuge packet profiles"))
    return profiles[profile_id]




@consent.command("grant")
@click.argument("ref")
@click.option("--recipient", required=True, metavar="PROFILE", help="The recipient profile (refuge packet profiles).")
@click.option("--doc", "docs", multiple=True, metavar="DOC", help="Only these documents (repeatable; default: all).")
@click.option("--expires", metavar="DATE", help="Last day the consent is valid (YYYY-MM-DD).")
@click.option("--note", default="", type=SECRET_TEXT, help="How consent was given, e.g. 'form signed 2026-11-20'." + SECRET_HELP)
@pass_ctx
def consent_grant(c: Context, ref, recipient, docs, expires, note) -> None:
    """Record consent to share with a recipient (case leads)."""
    recipient_profile(recipient)
    expires = parse_date(expires, "--expires")
    vault = c.vault()
    with vault.audited("consent.grant") as targets:
        found = find_case(vault, ref, targets)
        docs = [doc_in_case(vault, found, d, targets) for d in docs]
        vault.record_consent(found, "granted", recipient, docs, expires, note)
    click.echo(f"recorded consent for {recipient}" + (f" until {expires}" if expires else ""))
    import datetime as dt

    if expires and expires < dt.date.today().isoformat():  # a mistyped year, most likely
        click.echo(f"refuge: warning: that consent ended on {expires}, before today: it lets nothing be sent; "
                   "record it again with the right --expires", err=True)


@consent.command("withdraw")
@click.argument("ref")
@click.option("--recipient", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("--doc", "docs", multiple=True, metavar="DOC", help="Only these documents (repeatable; default: all).")
@pass_ctx
def consent_withdraw(c: Context, ref, recipient, docs) -> None:
    """Record that consent was withdrawn; later packets leave the documents out."""
    recipient_profile(recipient)
    vault = c.vault()
    with vault.audited("consent.withdraw") as targets:
        found = find_case(vault, ref, targets)
        docs = [doc_in_case(vault, found, d, targets) for d in docs]
        vault.record_consent(found, "withdrawn", recipient, docs)
    click.echo(f"recorded withdrawal of consent for {recipient}")


@consent.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def consent_list(c: Context, ref: str, as_json: bool) -> None:
    """List consents given and withdrawn, oldest first."""
    vault = c.vault()
    with vault.audited("consent.list") as targets:
        found = find_case(vault, ref, targets)
    rows = [dict(r, by=vault.directory.name(r["by"]), docs=r["docs"] or ["all"]) for r in found.consents]
    emit(rows, ["recipient", "action", "docs", "expires", "note", "by", "at"], as_json)


# --- redact ---


@click.group()
def redact() -> None:
    """Say what must never leave the vault: terms and page regions."""


CATEGORY_HELP = ("always (every packet), or a category profiles promise: applicant-name, third-party, location, "
                 "contact, id-number, network, legal-strategy, health (refuge redact categories)")


def _category(value: str) -> str:
    """A category of the one vocabulary (vault/categories.py); anything else is refused with the list."""
    from vault.categories import check_category

    return check_category(value)


@redact.command("term")
@click.argument("ref")
@click.argument("text", required=False)
@click.option("--from-file", "from_file", metavar="FILE",
              help="Read the terms from FILE, one per line (- for standard input): they stay off the command line, "
                   "out of shell history and out of other users' sight.")
@click.option("--category", required=True, help=CATEGORY_HELP)
@pass_ctx
def redact_term(c: Context, ref: str, text: str | None, from_file: str | None, category: str) -> None:
    """Redact a name, an address or a number wherever it appears in this case's packets.

    Prefer --from-file - (then type or paste the terms, one per line, and end
    with Ctrl-D): a TEXT argument is visible to every user of this machine while
    the command runs and stays in your shell history.
    """
    if (text is None) == (from_file is None):
        raise click.UsageError("give the term as TEXT or the terms with --from-file FILE, not both or neither")
    terms = [text.strip()] if text is not None else read_lines(from_file, "the --from-file file")
    if text is not None:
        typed_in_the_open()
    if not terms:
        raise InvalidInput("the --from-file file holds no terms; put one term per line")
    if any(len(t) < 2 for t in terms):
        raise InvalidInput("a redaction term needs at least 2 characters")
    category = _category(category)
    vault = c.vault()
    with vault.audited("redact.term") as targets:
        found = find_case(vault, ref, targets)
        rules = [vault.add_redaction(found, {"kind": "term", "text": t, "category": category}) for t in terms]
    for rule in rules:
        click.echo(f"added redaction rule {rule['id']} ({category})")


@redact.command("region")
@click.argument("doc_id", metavar="DOC")
@click.option("--page", required=True, type=click.IntRange(min=1), help="Page number in the document, from 1.")
@click.option("--box", required=True, metavar="X0,Y0,X1,Y1", help="PDF points, origin bottom-left of the unrotated page.")
@click.option("--category", default="always", show_default=True, help=CATEGORY_HELP)
@pass_ctx
def redact_region(c: Context, doc_id: str, page: int, box: str, category: str) -> None:
    """Black out a region of a page that no rule can find: a face, a signature, a stamp.

    The box must lie on the page (measured in the keyless worker, as a packet renders it); refuge serve
    lets you draw it on the page instead.
    """
    from .._regions import add_region

    try:
        x0, y0, x1, y1 = (float(v) for v in box.split(","))
    except ValueError:
        raise InvalidInput("--box takes four numbers X0,Y0,X1,Y1 in PDF points, e.g. 72,600,300,640") from None
    category = _category(category)
    vault = c.vault()
    with vault.audited("redact.region") as targets:
        found, doc = find_document(vault, doc_id, targets)
        # checked against the page, in the keyless worker: no size, no such page, off the page: refused
        rule = add_region(vault, found, doc, page, category, box=(x0, y0, x1, y1), targets=targets)
    click.echo(f"added redaction rule {rule['id']} ({category})")


@redact.command("remove")
@click.argument("ref")
@click.argument("rule_id", metavar="RULE")
@pass_ctx
def redact_remove(c: Context, ref: str, rule_id: str) -> None:
    """Remove a redaction rule."""
    vault = c.vault()
    with vault.audited("redact.remove") as targets:
        found = find_case(vault, ref, targets)
        vault.remove_redaction(found, rule_id)
    click.echo(f"removed {rule_id}")


@redact.command("reviewed")
@click.argument("doc_id", metavar="DOC")
@click.option("--page", "pages", multiple=True, required=True, type=click.IntRange(min=1),
              help="A page (of the document's latest version) you looked at (repeatable).")
@pass_ctx
def redact_reviewed(c: Context, doc_id: str, pages: tuple[int, ...]) -> None:
    """Record that you reviewed pages no rule could search (case leads); who and when are kept."""
    vault = c.vault()
    with vault.audited("redact.reviewed") as targets:
        _, named = find_document(vault, doc_id, targets)
        _case_found, found, done = vault.mark_reviewed(named.id, pages, lambda doc: _page_count(vault, doc))
        targets["pages"] = done
    click.echo(f"reviewed {found.id} (version {found.version}) page{'s' if len(done) > 1 else ''} "
               f"{', '.join(map(str, done))}")


def _page_count(vault: Vault, doc) -> int:
    """How many pages a document's latest version has (decrypted in memory, counted in the keyless worker)."""
    from packets import page_count

    if doc.mime.split(";")[0] == "text/plain":
        raise InvalidInput(f"{doc.id} is plain text, which always has a text layer: there is nothing to review")
    return page_count(vault.document_bytes(doc), doc.mime, doc_id=doc.id)


@redact.command("categories")
@output_options()
def redact_categories(as_json: bool) -> None:
    """List the redaction categories: what each covers, and the older names that still mean it."""
    from .register import categories_command

    categories_command(as_json)


@redact.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def redact_list(c: Context, ref: str, as_json: bool) -> None:
    """List the case's redaction rules (members only: the rules are secret)."""
    vault = c.vault()
    with vault.audited("redact.list") as targets:
        found = find_case(vault, ref, targets)
    rows = [dict(r, by=vault.directory.name(r["by"])) for r in found.redactions]
    emit(rows, ["id", "kind", "category", "text", "doc", "page", "box", "by", "at"], as_json)
