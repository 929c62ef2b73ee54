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
    _warn_if_unlike_the_certificate(vault, values)


def _warn_if_unlike_the_certificate(vault, values: dict[str, str]) -> None:
    """Say now, not at the first build, that the letterhead's new name is not the one packets are signed for."""
    from packets._signer import same_name
    from vault import orgkey

    name = next((v for k, v in values.items() if k.strip().lower() == "name"), "")
    cert = orgkey.current(vault) if name else None
    signed_for = cert.as_dict().get("organisation") if cert else None
    if signed_for and not same_name(name, signed_for):
        click.echo(f"refuge: warning: packets are signed for {cell(signed_for)} (the signing certificate); builds stop "
                   "until the two names agree: make a key for this name (refuge keys org generate --name ORG, for a "
                   "pilot) or import a certificate issued to it (refuge keys org import)", err=True)


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
