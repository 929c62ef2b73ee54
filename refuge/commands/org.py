"""The organisation's details: the sender that cover letters name (admins set them)."""

from __future__ import annotations

import click

from vault.errors import InvalidInput

from .._context import Context, pass_ctx
from ..output import cell, echo_json, output_options


def parse_assignments(items: tuple[str, ...], what: str) -> dict[str, str]:
    """FIELD=VALUE arguments as a dict; a one-line error for anything else."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"{what}: write FIELD=VALUE (an empty VALUE clears it), e.g. uci=12345678")
        out[name.strip()] = value
    return out


@click.group()
def org() -> None:
    """The organisation's details: name, address, contact, counsel of record."""


@org.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...")
@pass_ctx
def org_set(c: Context, assignments: tuple[str, ...]) -> None:
    """Set the organisation's details (admins): name, address, contact, counsel.

    Cover letters name the organisation as the sender, give its address and contact
    and are signed off by the counsel of record. An empty VALUE clears a detail.
    Every reader checks that an admin signed them.
    """
    values = parse_assignments(assignments, "org set")
    vault = c.vault()
    from vault import orgdetails

    with vault.audited("org.set") as targets:
        orgdetails.set_details(vault, values)
        targets["fields"] = sorted(k.strip().lower() for k in values)  # names only, once known to be fields
    click.echo(f"set {', '.join(sorted(values))}")


@org.command("show")
@output_options()
@pass_ctx
def org_show(c: Context, as_json: bool) -> None:
    """Print the organisation's details."""
    from vault import orgdetails

    vault = c.vault()
    with vault.audited("org.show"):
        found = orgdetails.details(vault)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no details set (an admin sets them with refuge org set name=... address=... contact=... counsel=...)")
    for name in orgdetails.KNOWN:
        if name in found:
            click.echo(f"{name}: {cell(found[name])}")
