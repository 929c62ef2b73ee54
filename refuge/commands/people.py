"""Setting up: the vault, unlocking, and the people enrolled in it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from vault import agent
from vault.core import ROLES, Vault
from vault.errors import InvalidInput
from vault.identity import PublicIdentity, SecretIdentity, check_name
from vault.storage import write_atomically

from .._context import Context, force_option, new_passphrase, pass_ctx, passphrase
from ..output import emit, output_options


@click.command()
@click.argument("location", required=False)
@click.option("--admin", "admin", required=True, metavar="NAME", help="The founding admin's user name.")
@click.option("--endpoint-url", metavar="URL", help="S3: an S3-compatible endpoint; remembered in REFUGE_HOME.")
@click.option("--region", metavar="REGION", help="S3: the bucket's region; remembered in REFUGE_HOME.")
@click.option("--kms-key", metavar="KEY_ID", help="Escrow every case key with this AWS KMS key (docs/kms.md).")
@click.option("--kms-endpoint-url", metavar="URL", help="A KMS-compatible endpoint; remembered for S3 vaults.")
@click.option("--lock-days", type=click.IntRange(1, 36500), metavar="N",
              help="S3 Object Lock: audit entries and checkpoints cannot be deleted for N days.")
@click.option("--lock-mode", type=click.Choice(["GOVERNANCE", "COMPLIANCE"], case_sensitive=False),
              help="Object Lock mode (default GOVERNANCE; COMPLIANCE binds the account's root user too).")
@click.option("--org", "org_name", default="Pilot legal team (self-signed)", show_default=True,
              help="The organisation named in the pilot signing certificate made at init.")
@pass_ctx
def init(c: Context, location: str | None, admin: str, endpoint_url: str | None = None, region: str | None = None,
         kms_key: str | None = None, kms_endpoint_url: str | None = None, lock_days: int | None = None,
         lock_mode: str | None = None, org_name: str = "Pilot legal team (self-signed)") -> None:
    """Create a vault and its first admin.

    It also makes a self-signed organisation signing key so that packets are
    signed from the start; import a CA-issued one with refuge keys org import.

    LOCATION is a folder or s3://BUCKET/PREFIX. S3 credentials come from
    boto3's standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO, instance
    roles) and are never stored; the endpoint URL and region are remembered
    in REFUGE_HOME for later commands (or set REFUGE_S3_ENDPOINT_URL).
    """
    location = location or os.environ.get("REFUGE_VAULT") or c._vault
    if not location:
        raise InvalidInput("give a location: refuge init PATH --admin NAME")
    on_s3 = location.startswith("s3://")
    if (endpoint_url or region) and not on_s3:
        raise click.UsageError("--endpoint-url and --region are for s3:// locations")
    if lock_mode and not lock_days:
        raise click.UsageError("--lock-mode needs --lock-days N")
    if lock_days and not on_s3:
        raise click.UsageError("--lock-days needs an s3:// location in a bucket with Object Lock enabled")
    if on_s3:
        from vault.s3 import parse_location

        parse_location(location)
    check_name(admin)
    if c.home.has(admin):
        secret = c.home.unlock(admin, passphrase(f"Passphrase for {admin}: "))
    else:
        secret = SecretIdentity.generate(admin)
        c.home.create(secret, passphrase(f"New passphrase for {admin}: ", confirm=True))
    connection = {"endpoint_url": endpoint_url, "region": region} if on_s3 else {}
    try:
        vault = Vault.init(location, c.home, secret, kms_key=kms_key, lock_days=lock_days,
                           lock_mode=lock_mode.upper() if lock_mode else None, kms_endpoint_url=kms_endpoint_url,
                           **connection)
    except InvalidInput:
        vault = _interrupted(location, c.home, secret, connection)
        if vault is None:
            raise
        click.echo(f"refuge: the vault at {location} was created by an init that stopped before its "
                   "organisation key: finishing it", err=True)
    if on_s3:
        from vault.s3 import remember_connection

        remember_connection(c.home, location, kms_endpoint_url=kms_endpoint_url, **connection)
    cfg = c.home.config()
    c.home.update_config(vault=cfg.get("vault") or (vault.backend.location if on_s3 else os.path.abspath(location)),
                         default_user=cfg.get("default_user") or admin)
    from vault import orgkey

    with vault.audited("vault.init"):
        orgkey.generate(vault, org_name)
    click.echo(f"created vault {vault.id} at {location}; {admin} is its admin")


def _interrupted(location: str, home, secret, connection: dict):
    """The vault at ``location`` if ``secret`` created it (it is anchored to that admin) and its init
    stopped before the organisation key was made (killed, Ctrl-C), nothing done in it since (no one
    else enrolled, no case): running init again finishes it. None for any other vault."""
    import base64

    from vault import orgkey
    from vault.cases import case_ids
    from vault.errors import RefugeError

    try:
        vault = Vault.open(location, home, lambda: secret, **connection)
    except RefugeError:
        return None
    mine = vault.settings.get("anchor") == base64.b64encode(secret.public.sign_pub).decode()
    untouched = [u.name for u in vault.users()] == [secret.name] and not case_ids(vault)
    return vault if mine and untouched and orgkey.current(vault) is None else None


@click.command()
@click.option("--timeout", "minutes", type=click.FloatRange(min=0.1, max=24 * 60), default=30.0, show_default=True,
              help="Minutes until the agent forgets the identity.")
@pass_ctx
def unlock(c: Context, minutes: float) -> None:
    """Unlock your identity for a while, so commands stop asking.

    The agent that holds it also runs doc add, which then starts in milliseconds
    instead of starting afresh for each file; refuge lock ends both.
    """
    name = c.user_name()
    c.require_identity(name)
    secret = c.home.unlock(name, passphrase(f"Passphrase for {name}: "))
    agent.start(c.home, secret, minutes, extension="refuge._agent_commands:serve")  # it runs doc add too
    click.echo(f"unlocked {name} for {minutes:g} minutes; refuge lock forgets it sooner")


@click.command()
@pass_ctx
def lock(c: Context) -> None:
    """Forget the unlocked identity now."""
    name = c.user_name()
    click.echo(f"locked {name}" if agent.stop(c.home, name) else f"{name} was not unlocked")


# --- user ---


@click.group()
def user() -> None:
    """Enroll, list and remove people."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the person may do.")
@click.option("--public", "public_file", type=click.Path(dir_okay=False), help="A public identity from refuge user keygen.")
@click.option("--passphrase-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Without --public: the new person's passphrase, on the file's first line (else typed twice).")
@pass_ctx
def user_add(c: Context, name: str, role: str, public_file: str | None, passphrase_file: str | None) -> None:
    """Enroll a person (admins only).

    Best: the person runs refuge user keygen on their own machine and sends
    the public file (--public). Without --public, NAME's identity is made here,
    in REFUGE_HOME, protected by a passphrase of their own: typed twice on the
    terminal, or from --passphrase-file; never the admin's.
    """
    if public_file and passphrase_file:
        raise click.UsageError("--passphrase-file is for identities made here; a --public identity has its own")
    check_name(name)
    vault = c.vault()
    with vault.audited("user.add") as targets:
        if public_file:
            try:
                public = PublicIdentity.from_file_text(Path(public_file).read_text())
            except (OSError, UnicodeDecodeError):
                raise InvalidInput("the --public file cannot be read; check the path") from None
            if public.name != name:
                raise InvalidInput(f"the public identity is for {public.name}, not {name}")
        elif c.home.has(name):
            public = c.home.public(name)
        else:
            vault._require_role("admin", doing="enrolling people")
            chosen = new_passphrase(name, passphrase_file)
            secret = SecretIdentity.generate(name)
            c.home.create(secret, chosen)
            public = secret.public
        added = vault.add_user(public, role)
        targets["user"] = added.user_id
    click.echo(f"enrolled {name} as {role} ({added.user_id})")


@user.command("keygen")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write the public identity to this file.")
@force_option
@pass_ctx
def user_keygen(c: Context, name: str, output: str | None, force: bool = False) -> None:
    """Make your own identity in REFUGE_HOME and print its public part.

    Send the printed public identity to an admin, who enrolls you with
    refuge user add NAME --role ROLE --public FILE.
    """
    secret = SecretIdentity.generate(check_name(name))
    c.home.create(secret, passphrase(f"New passphrase for {name}: ", confirm=True))
    text = secret.public.to_file_text(secret)
    if output:
        write_atomically(output, lambda f: f.write(text.encode()), replace=force)
    click.echo(text, nl=False)


@user.command("list")
@output_options()
@pass_ctx
def user_list(c: Context, as_json: bool) -> None:
    """List the people enrolled in the vault."""
    vault = c.vault()
    with vault.audited("user.list"):
        rows = [u.as_dict() for u in vault.users()]
    emit(rows, ["name", "role", "id", "enrolled_at", "removed"], as_json)


@user.command("remove")
@click.argument("name")
@pass_ctx
def user_remove(c: Context, name: str) -> None:
    """Remove a person (admins only); each of their cases gets a new key on its next write."""
    vault = c.vault()
    with vault.audited("user.remove") as targets:
        removed = vault.remove_user(name)
        targets["user"] = removed.user_id
    click.echo(f"removed {name}")


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def demo(directory: str | None) -> None:
    """Walk through refuge on a throwaway vault with fictional documents."""
    from ..demo import run

    run(directory, click.echo)
