"""The case's people and places (what redaction withholds for each profile), and detected names."""

from __future__ import annotations

import click

from vault import register
from vault.categories import describe as describe_categories
from vault.errors import InvalidInput

from .._context import SECRET_HELP, SECRET_TEXT, Context, find_case, pass_ctx, read_lines
from ..output import emit, output_options

CATEGORY_HELP = "A category (default: from the role or kind); see refuge redact categories."


def _entry_id(vault, found, ref: str, targets: dict) -> str:
    """The id of a register entry named by id or name; the audit log gets the id, never the name."""
    entry = register.find_entry(found, ref)
    targets["entry"] = entry["id"]
    return entry["id"]


# --- person ---


@click.group()
def person() -> None:
    """The people a case names: applicant, family, perpetrators, witnesses, others."""


@person.command("add")
@click.argument("ref")
@click.argument("name", type=SECRET_TEXT)
@click.option("--role", required=True, type=click.Choice(register.PERSON_ROLES), help="Who the person is in the case.")
@click.option("--alias", "aliases", multiple=True, type=SECRET_TEXT, help="Another name they go by (repeatable)." + SECRET_HELP)
@click.option("--dob", metavar="YYYY-MM-DD", help="Date of birth.")
@click.option("--doc-number", "doc_numbers", multiple=True, type=SECRET_TEXT, metavar="N",
              help="A passport or ID document number (repeatable)." + SECRET_HELP)
@click.option("--category", help=CATEGORY_HELP)
@pass_ctx
def person_add(c: Context, ref, name, role, aliases, dob, doc_numbers, category) -> None:
    """Register a person of a case (lawyers and case leads); NAME may be @FILE (or @- for standard input)."""
    vault = c.vault()
    with vault.audited("person.add") as targets:
        found = find_case(vault, ref, targets)
        entry = register.add_person(vault, found, name, role, aliases, dob, doc_numbers, category)
        targets["entry"] = entry["id"]
    click.echo(f"added person {entry['id']} ({entry['role']}, {entry['category']})")


@person.command("edit")
@click.argument("ref")
@click.argument("who", metavar="PERSON", type=SECRET_TEXT)
@click.option("--name", type=SECRET_TEXT, help="The new name." + SECRET_HELP)
@click.option("--role", type=click.Choice(register.PERSON_ROLES), help="The new role.")
@click.option("--alias", "aliases", multiple=True, type=SECRET_TEXT, help="The aliases (replace the old ones)." + SECRET_HELP)
@click.option("--dob", metavar="YYYY-MM-DD", help="Date of birth.")
@click.option("--doc-number", "doc_numbers", multiple=True, type=SECRET_TEXT, metavar="N",
              help="The document numbers (replace the old ones)." + SECRET_HELP)
@click.option("--category", help=CATEGORY_HELP)
@pass_ctx
def person_edit(c: Context, ref, who, name, role, aliases, dob, doc_numbers, category) -> None:
    """Change a registered person (case leads), by id or name.

    PERSON may be @FILE (or @- for standard input), to keep a name off the command line.
    """
    vault = c.vault()
    with vault.audited("person.edit") as targets:
        found = find_case(vault, ref, targets)
        entry_id = _entry_id(vault, found, who, targets)
        entry = register.edit_entry(vault, found, entry_id, name=name, role=role, aliases=list(aliases) or None,
                                    dob=dob, doc_numbers=list(doc_numbers) or None, category=category)
    click.echo(f"changed person {entry['id']}")


@person.command("remove")
@click.argument("ref")
@click.argument("who", metavar="PERSON", type=SECRET_TEXT)
@pass_ctx
def person_remove(c: Context, ref, who) -> None:
    """Remove a registered person (case leads): their names are no longer redacted."""
    _remove(c, ref, who, "person.remove")


@person.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def person_list(c: Context, ref, as_json) -> None:
    """List the case's people (members only: names are secret)."""
    _list(c, ref, "person", ["id", "role", "name", "aliases", "dob", "doc_numbers", "category"], as_json)


# --- place ---


@click.group()
def place() -> None:
    """The places a case names: addresses, towns, shelters, workplaces, clinics."""


@place.command("add")
@click.argument("ref")
@click.argument("text", type=SECRET_TEXT)
@click.option("--kind", required=True, type=click.Choice(register.PLACE_KINDS), help="What kind of place.")
@click.option("--category", help=CATEGORY_HELP)
@pass_ctx
def place_add(c: Context, ref, text, kind, category) -> None:
    """Register a place of a case (lawyers and case leads); TEXT may be @FILE."""
    vault = c.vault()
    with vault.audited("place.add") as targets:
        found = find_case(vault, ref, targets)
        entry = register.add_place(vault, found, text, kind, category)
        targets["entry"] = entry["id"]
    click.echo(f"added place {entry['id']} ({entry['kind']}, {entry['category']})")


@place.command("edit")
@click.argument("ref")
@click.argument("which", metavar="PLACE")
@click.option("--text", type=SECRET_TEXT, help="The new text." + SECRET_HELP)
@click.option("--kind", type=click.Choice(register.PLACE_KINDS), help="The new kind.")
@click.option("--category", help=CATEGORY_HELP)
@pass_ctx
def place_edit(c: Context, ref, which, text, kind, category) -> None:
    """Change a registered place (case leads), by id."""
    vault = c.vault()
    with vault.audited("place.edit") as targets:
        found = find_case(vault, ref, targets)
        entry_id = _entry_id(vault, found, which, targets)
        entry = register.edit_entry(vault, found, entry_id, text=text, kind=kind, category=category)
    click.echo(f"changed place {entry['id']}")


@place.command("remove")
@click.argument("ref")
@click.argument("which", metavar="PLACE")
@pass_ctx
def place_remove(c: Context, ref, which) -> None:
    """Remove a registered place (case leads): it is no longer redacted."""
    _remove(c, ref, which, "place.remove")


@place.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def place_list(c: Context, ref, as_json) -> None:
    """List the case's places (members only)."""
    _list(c, ref, "place", ["id", "kind", "text", "category"], as_json)


def _list(c: Context, ref: str, kind: str, columns: list[str], as_json: bool) -> None:
    vault = c.vault()
    with vault.audited(f"{kind}.list") as targets:
        found = find_case(vault, ref, targets)
    entries = found.people if kind == "person" else found.places
    emit([dict(e, by=vault.directory.name(e.get("by", ""))) for e in entries], columns, as_json)


def _remove(c: Context, ref: str, which: str, action: str) -> None:
    vault = c.vault()
    with vault.audited(action) as targets:
        found = find_case(vault, ref, targets)
        entry_id = _entry_id(vault, found, which, targets)
        register.remove_entry(vault, found, entry_id)
    click.echo(f"removed {entry_id}")


# --- candidate ---


@click.group()
def candidate() -> None:
    """Names and places found in documents that nobody registered (see refuge packet plan)."""


@candidate.command("dismiss")
@click.argument("ref")
@click.argument("text", required=False, type=SECRET_TEXT)
@click.option("--from-file", "from_file", metavar="FILE", help="The names, one per line (- for standard input).")
@click.option("--reason", default="", help="Why it need not be redacted (kept, encrypted, in the case).")
@pass_ctx
def candidate_dismiss(c: Context, ref, text, from_file, reason) -> None:
    """Record that a detected name or place need not be redacted (case leads)."""
    if (text is None) == (from_file is None):
        raise click.UsageError("give the name as TEXT or the names with --from-file FILE, not both or neither")
    texts = [text] if text is not None else read_lines(from_file, "the --from-file file")
    if not texts:
        raise InvalidInput("the --from-file file holds no names; put one per line")
    vault = c.vault()
    with vault.audited("candidate.dismiss") as targets:
        found = find_case(vault, ref, targets)
        for t in texts:
            register.dismiss_candidate(vault, found, t, reason)
        targets["count"] = len(texts)
    click.echo(f"dismissed {len(texts)} name{'s' if len(texts) != 1 else ''}")


@candidate.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def candidate_list(c: Context, ref, as_json) -> None:
    """List the names a case lead dismissed (members only)."""
    vault = c.vault()
    with vault.audited("candidate.list") as targets:
        found = find_case(vault, ref, targets)
    rows = [dict(d, by=vault.directory.name(d.get("by", ""))) for d in found.dismissed]
    emit(rows, ["text", "reason", "by", "at"], as_json)


def categories_command(as_json: bool) -> None:
    """Print the category vocabulary (refuge redact categories)."""
    emit(describe_categories(), ["category", "meaning", "aliases"], as_json)
