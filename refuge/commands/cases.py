"""Cases: creating them, who can read them, and their life until purging."""

from __future__ import annotations

import sys

import click

from vault.errors import InvalidInput
from vault.storage import write_atomically

from .._context import (
    SECRET_HELP,
    SECRET_TEXT,
    Context,
    find_case,
    force_option,
    pass_ctx,
    resolving,
)
from ..output import cell, echo_json, emit, output_options

# --- case ---


@click.group()
def case() -> None:
    """Create cases and manage who can read them."""


@case.command("create")
@click.argument("ref")
@click.option("--title", default="", type=SECRET_TEXT, help="A title, stored encrypted." + SECRET_HELP)
@output_options()
@pass_ctx
def case_create(c: Context, ref: str, title: str, as_json: bool) -> None:
    """Create a case (case leads); you become its first member."""
    vault = c.vault()
    with vault.audited("case.create") as targets:
        created = vault.create_case(ref, title)
        targets["case"] = created.id
    if as_json:
        echo_json(created.as_dict(vault.directory))
    else:
        click.echo(f"created case {created.ref} ({created.id})")


@case.command("list")
@output_options()
@pass_ctx
def case_list(c: Context, as_json: bool) -> None:
    """List the cases you are a member of."""
    vault = c.vault()
    with vault.audited("case.list"):
        rows = [dict(k, state=vault.case_status(k["id"]).state,
                     purge_after=vault.case_status(k["id"]).purge_after) for k in vault.case_summaries()]
    emit(rows, ["ref", "id", "title", "state", "documents", "members"], as_json)


@case.command("grant")
@click.argument("ref")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def case_grant(c: Context, ref: str, names: tuple[str, ...]) -> None:
    """Make people members of a case (case leads who are members)."""
    vault = c.vault()
    with vault.audited("case.grant") as targets:
        found = find_case(vault, ref, targets)
        added = vault.grant(found, names)
        targets["users"] = [u.user_id for u in added]
    click.echo(f"granted {', '.join(u.name for u in added)}" if added else "already members")


@case.command("revoke")
@click.argument("ref")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def case_revoke(c: Context, ref: str, names: tuple[str, ...]) -> None:
    """Remove members; the case gets a new key they never hold."""
    vault = c.vault()
    with vault.audited("case.revoke") as targets:
        found = find_case(vault, ref, targets)
        gone = vault.revoke(found, names)
        targets["users"] = [u.user_id for u in gone]
    click.echo(f"revoked {', '.join(u.name for u in gone)}; new documents use a new case key" if gone else "not members")


@case.command("export-key")
@click.argument("ref")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the case key.")
@force_option
@pass_ctx
def case_export_key(c: Context, ref: str, output: str, force: bool = False) -> None:
    """Write the case identity (age format) for emergency recovery; audited."""
    vault = c.vault()
    with vault.audited("case.export-key", intent=True) as targets:
        found = find_case(vault, ref, targets)
        text = vault.export_key(found)
        write_atomically(output, lambda f: f.write(text.encode()), replace=force, private=True)
    click.echo("wrote the case key; it opens every document of the case with age -d -i FILE")


@case.command("recover")
@click.argument("case_id", metavar="REF_OR_CASE_ID")
@click.option("--to", "to", required=True, metavar="NAME", help="The lawyer or case lead who receives the case keys.")
@pass_ctx
def case_recover(c: Context, case_id: str, to: str) -> None:
    """Recover a case's keys from KMS escrow and give them to NAME (admins; audited).

    Admins cannot read case references: give the case id, from the case
    column of refuge audit log. Each key version is decrypted with AWS KMS,
    which CloudTrail records with the case's encryption context.
    """
    vault = c.vault()
    with vault.audited("case.recover") as targets:
        if case_id in vault.case_ids():
            targets["case"] = case_id  # only an id: a reference is never written to the log
        user, versions = vault.recover_case(case_id, to)
        targets.update(case=case_id, users=[user.user_id], versions=len(versions))
    n = len(versions)
    click.echo(f"recovered {n} key version{'s' if n != 1 else ''} of case {case_id} from KMS escrow; {to} now holds them")


@case.command("close")
@click.argument("ref")
@click.option("--retain", metavar="PERIOD",
              help="Keep the case this long after today (7y, 18m, 90d) instead of the policy's default; "
                   "document-type periods of the policy still apply when longer.")
@pass_ctx
def case_close(c: Context, ref: str, retain: str | None) -> None:
    """Close a case (case leads who are members): no more changes, and its purge date is fixed."""
    vault = c.vault()
    with vault.audited("case.close") as targets:
        st = vault.close_case(find_case(vault, ref, targets), retain)
    due = f"due for purging on {st.purge_after}" if st.purge_after else "no retention period applies: kept until purged by hand"
    click.echo(f"closed case {ref}; {due}")


@case.command("reopen")
@click.argument("ref")
@pass_ctx
def case_reopen(c: Context, ref: str) -> None:
    """Reopen a closed case (case leads who are members); its purge date is dropped."""
    vault = c.vault()
    with vault.audited("case.reopen") as targets:
        vault.reopen_case(find_case(vault, ref, targets))
    click.echo(f"reopened case {ref}")


@case.command("hold")
@click.argument("ref", metavar="REF_OR_CASE_ID")
@click.option("--reason", help="Why (a court order or file number; every enrolled person can read it, so no names).")
@click.option("--release", is_flag=True, help="Release the hold instead.")
@pass_ctx
def case_hold(c: Context, ref: str, reason: str | None, release: bool) -> None:
    """Place a legal hold (admins, or case leads who are members): nothing of the case may be destroyed.

    Admins give the case id (they cannot read references).
    """
    vault = c.vault()
    with vault.audited("case.release" if release else "case.hold") as targets:
        with resolving(vault, ref, targets):
            targets["case"] = case_id = vault.case_id_for(ref)
        vault.hold_case(case_id, reason, release)
    click.echo(f"released the hold on case {ref}" if release else f"case {ref} is on legal hold")


@case.command("purge")
@click.argument("case_id", metavar="CASE_ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@pass_ctx
def case_purge(c: Context, case_id: str, yes: bool) -> None:
    """Destroy a closed case for good (admins): every copy of its keys, KMS escrow included.

    Without its keys nothing of the case can be read by anyone, from the vault
    or from any copy of it (crypto-shredding); its events and documents are
    deleted too. A case on legal hold cannot be purged. The audit log keeps the
    purge, with the case's opaque id only.
    """
    vault = c.vault()
    with vault.audited("case.purge") as targets:
        targets["case"] = case_id if case_id in vault.case_ids() else None
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput("purging destroys the case for good; confirm on a terminal, or give --yes")
            typed = click.prompt(f"This destroys every key of case {case_id}: nobody will ever read it again. "
                                 "Type the case id to confirm", default="", show_default=False)
            if typed.strip() != case_id:
                raise InvalidInput("the id typed does not match; nothing was purged")
        n = vault.purge_case(case_id)
        targets["case"] = case_id
    click.echo(f"purged case {case_id}: its keys are destroyed and {n} objects deleted")


# --- retention ---


@click.group()
def retention() -> None:
    """Retention periods, and the closed cases due for purging."""


@retention.command("set")
@click.option("--default", "default", metavar="PERIOD",
              help="How long closed cases are kept (7y, 18m, 90d; 'none' to keep until purged by hand).")
@click.option("--type", "types", multiple=True, metavar="TYPE=PERIOD",
              help="A longer minimum for cases holding documents of TYPE (repeatable; TYPE=none removes it).")
@pass_ctx
def retention_set(c: Context, default: str | None, types: tuple[str, ...]) -> None:
    """Set the retention policy (admins). It applies to cases closed from now on."""
    parsed = {}
    for item in types:
        t, sep, period = item.partition("=")
        if not sep:
            raise InvalidInput(f"--type {item}: write TYPE=PERIOD, e.g. --type medical=10y")
        parsed[t.strip()] = period.strip()
    if default is None and not parsed:
        raise InvalidInput("nothing to set; give --default PERIOD or --type TYPE=PERIOD")
    vault = c.vault()
    with vault.audited("retention.set"):
        policy = vault.set_retention(default, parsed)
    _show_policy(policy)


@retention.command("show")
@output_options()
@pass_ctx
def retention_show(c: Context, as_json: bool) -> None:
    """Print the retention policy."""
    vault = c.vault()
    with vault.audited("retention.show"):
        policy = vault.directory.policy
    if as_json:
        echo_json(policy.as_dict())
    else:
        _show_policy(policy)


def _show_policy(policy) -> None:
    click.echo(f"default: {policy.default or 'none (kept until purged by hand)'}")
    for t, period in sorted(policy.types.items()):
        click.echo(f"{t}: at least {period}")


@retention.command("due")
@click.option("--on", "on", metavar="YYYY-MM-DD", help="List what is due on this day (default today).")
@output_options()
@pass_ctx
def retention_due(c: Context, on: str | None, as_json: bool) -> None:
    """List closed cases due for purging (holds left out); an admin purges each with refuge case purge."""
    if on:
        import datetime as dt

        try:
            on = dt.date.fromisoformat(on).isoformat()
        except ValueError:
            raise InvalidInput(f"--on {on} is not a date; write YYYY-MM-DD") from None
    vault = c.vault()
    with vault.audited("retention.due"):
        due = vault.retention_due(on)
        mine = {k.id: k.ref for k in vault.cases()} if vault.role in ("lawyer", "case-lead") else {}
    rows = [dict(st.as_dict(), ref=mine.get(st.case_id, "")) for st in due]
    emit(rows, ["id", "ref", "closed_at", "purge_after"], as_json)


# --- case details ---


def profile_field_names() -> set[str]:
    """The case fields some recipient profile names (required, or shown as a reference)."""
    from packets.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles()
    except ProfileError as e:
        raise InvalidInput(str(e)) from None
    return {f for p in profiles.values() for f in (*p.requires_fields, *p.references)}


@case.command("set")
@click.argument("ref")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@pass_ctx
def case_set(c: Context, ref: str, assignments: tuple[str, ...]) -> None:
    """Set case details that letters and file names use (case leads who are members).

    Fields: client_name (as the recipient should see it, or initials), uci (8 or
    10 digits), irb_file_number (TB1-12345), unhcr_case_number, hearing_date
    (YYYY-MM-DD), other_party, and any field a recipient profile names. An
    empty VALUE clears a field. Values are encrypted to the case; the audit log
    names the fields, never their values.
    """
    from vault import casefields

    from .org import parse_assignments

    values = parse_assignments(assignments, "case set")
    extra = profile_field_names()
    vault = c.vault()
    with vault.audited("case.set") as targets:
        found = find_case(vault, ref, targets)
        casefields.set_fields(vault, found, values, extra)
        targets["fields"] = sorted(casefields.normalise_name(k) for k in values)
    click.echo(f"set {', '.join(sorted(casefields.normalise_name(k) for k in values))} of case {ref}")


@case.command("show")
@click.argument("ref")
@output_options()
@pass_ctx
def case_show(c: Context, ref: str, as_json: bool) -> None:
    """Show a case: its reference, title, members, state and details (on your own terminal)."""
    vault = c.vault()
    with vault.audited("case.show") as targets:
        found = find_case(vault, ref, targets)
        info = dict(found.as_dict(vault.directory), state=vault.case_status(found.id).state,
                    fields=dict(found.fields))
    if as_json:
        echo_json(info)
        return
    for key in ("ref", "id", "title", "state", "members", "documents"):
        click.echo(f"{key}: {cell(info[key])}")
    for name, value in sorted(info["fields"].items()):
        click.echo(f"{name}: {cell(value)}")
