"""Documents, consent and redaction rules."""

from __future__ import annotations

import sys

import click

from vault.core import DOC_TYPES, Vault
from vault.errors import InvalidInput
from vault.storage import write_atomically

from .. import indexing
from .._context import (
    SECRET_HELP,
    SECRET_TEXT,
    Context,
    find_case,
    find_document,
    force_option,
    parse_date,
    pass_ctx,
    read_lines,
)
from ..errors import describe, show
from ..output import emit, output_options

# --- doc ---


@click.group()
def doc() -> None:
    """Add, list, read and tag documents."""


@doc.command("add")
@click.argument("ref")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--type", "doc_type", required=True, type=click.Choice(DOC_TYPES), help="The document type.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--person", type=SECRET_TEXT, help="Whom it concerns: a person of the case's register, by id, name or "
                                                "alias (refuge person add)." + SECRET_HELP)
@click.option("--lang", help="Language code, e.g. es, en, fr.")
@click.option("--title", type=SECRET_TEXT, help="A title (default: the file name without extension)." + SECRET_HELP)
@click.option("--translation-of", metavar="DOC", help="The document this translates.")
@click.option("--translator", metavar="NAME", help="Who translated it (for the translator's declaration).")
@click.option("--dialect", help="The dialect of the original, if any (for the translator's declaration).")
@click.option("--supersedes", metavar="DOC", help="Store the file as a new version of DOC.")
@output_options()
@pass_ctx
def doc_add(c: Context, ref, files, doc_type, tags, person, lang, title, translation_of, translator, dialect,
            supersedes, as_json) -> None:
    """Add files to a case; prints the new document ids."""
    vault = c.vault()
    with vault.audited("doc.add") as targets:
        found = find_case(vault, ref, targets)
        person = _registered_person(found, person)
        results = vault.add_documents(found, list(files), doc_type, tags, person, lang, title, translation_of, supersedes,
                                      translator=translator, dialect=dialect)
        targets["docs"] = [r.document.id for r in results if r.document]
        failed = [r for r in results if r.error]
        if failed and len(failed) == len(results):
            raise failed[0].error
    added = [r.document for r in results if r.document]
    if as_json:
        emit([{"id": d.id, "version": d.version, "sha256": d.sha256, "size": d.size} for d in added], [], as_json=True)
    else:
        for d in added:
            click.echo(d.id)
    sys.stdout.flush()
    indexing.update(vault, found, [d.id for d in added], ref)  # a failure warns; the documents stay added
    for r in failed:
        show(describe(r.error))
    if failed:
        sys.exit(1)


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
@output_options()
@pass_ctx
def doc_list(c: Context, ref: str, doc_type: str | None, tag: str | None, as_json: bool) -> None:
    """List a case's documents."""
    vault = c.vault()
    with vault.audited("doc.list") as targets:
        found = find_case(vault, ref, targets)
        docs = [d for d in found.documents.values()
                if (not doc_type or d.type == doc_type) and (not tag or tag in d.tags)]
    rows = [dict(d.as_dict(), added_by=vault.directory.name(d.added_by)) for d in docs]
    emit(rows, ["id", "type", "title", "version", "tags", "lang", "size", "flags"], as_json)


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
        found_case, _ = find_document(vault, doc_id, targets)
        found = vault.tag(doc_id, add, remove)
    indexing.update(vault, found_case, [found.id])
    click.echo(f"{found.id}: {', '.join(found.tags) or '(no tags)'}")


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
        raise InvalidInput(f"no recipient profile {profile_id}; see refuge packet profiles")
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
        vault.record_consent(found, "granted", recipient, docs, expires, note)
    click.echo(f"recorded consent for {recipient}" + (f" until {expires}" if expires else ""))


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
    """Black out a region of a page that no rule can find: a face, a signature, a stamp."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box.split(","))
    except ValueError:
        raise InvalidInput("--box takes four numbers X0,Y0,X1,Y1 in PDF points, e.g. 72,600,300,640") from None
    if not (x1 > x0 and y1 > y0 and min(x0, y0) >= 0):
        raise InvalidInput("--box needs X1 > X0 and Y1 > Y0, all at least 0")
    category = _category(category)
    vault = c.vault()
    with vault.audited("redact.region") as targets:
        found, doc = find_document(vault, doc_id, targets)
        rule = vault.add_redaction(found, {"kind": "region", "doc": doc.id, "page": page, "box": [x0, y0, x1, y1],
                                           "category": category})
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
        find_document(vault, doc_id, targets)
        _case_found, found, done = vault.mark_reviewed(doc_id, pages, lambda doc: _page_count(vault, doc))
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
