"""The audit log, fsck and moving whole vaults."""

from __future__ import annotations

import os
from pathlib import Path

import click

from vault.core import Vault
from vault.errors import InvalidInput, NotFound, VerificationFailed
from vault.storage import write_atomically

from .._context import Context, force_option, parse_time, pass_ctx
from .._hints import HINTS
from ..output import echo_json, emit, output_options

# --- audit ---


@click.group("audit")
def audit_group() -> None:
    """Read and verify the audit log."""


AUDIT_COLUMNS = ["seq", "time", "name", "role", "action", "result", "case", "doc", "host"]


@audit_group.command("log")
@click.option("--case", "case_", metavar="ID", help="Only this case (its id; members may give its reference).")
@click.option("--user", metavar="NAME", help="Only this person's actions.")
@click.option("--action", metavar="A", help="Only this action, e.g. doc.get, or a group, e.g. doc.")
@click.option("--result", type=click.Choice(["ok", "denied", "error", "started"]),
              help="Only this result (started: a read whose outcome was never recorded, e.g. killed).")
@click.option("--since", metavar="T", help="From this time (ISO 8601, UTC), e.g. 2026-11-01.")
@click.option("--until", metavar="T", help="Until this time (ISO 8601, UTC).")
@output_options(csv_too=True)
@pass_ctx
def audit_log(c: Context, case_, user, action, result, since, until, as_json, as_csv) -> None:
    """Show who did what, when, with what result."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv conflict; pick one")
    vault = c.vault()
    start, end = parse_time(since, "--since"), parse_time(until, "--until", end=True)
    with vault.audited("audit.log"):
        rows = vault.audit_entries(case_, user, action, result, start, end)
        if user and not rows and user not in {u.name for u in vault.users()}:  # a typo is not "nobody did anything"
            raise NotFound(f"no user named {user} in this vault", hint="user-list")
        if action and not rows:  # nor is a mistyped action: which actions the same entries hold
            held = sorted({e["action"] for e in vault.audit_entries(case_, user, None, result, start, end)})
            if not any(a == action or a.startswith(action.rstrip(".") + ".") for a in held):
                click.echo(f"refuge: warning: no entry has an action named {action} or in its group; "
                           f"the entries asked for hold: {', '.join(held) or 'none'}", err=True)
    emit(rows, AUDIT_COLUMNS + (["user_id", "users", "docs", "packet"] if as_csv else []), as_json, as_csv)




@audit_group.command("verify")
@click.option("--checkpoint", "checkpoint", type=click.Path(dir_okay=False), help="An earlier checkpoint the log must extend.")
@click.option("--save-checkpoint", "save", type=click.Path(dir_okay=False), help="Write a signed checkpoint of the verified log here.")
@force_option
@output_options()
@pass_ctx
def audit_verify(c: Context, checkpoint, save, as_json, force: bool = False) -> None:
    """Recompute the log's Merkle tree, check every signature, prove it extends a checkpoint.

    Exit 3 names the first bad entry and what is wrong with it.
    """
    vault = c.vault()
    text = None
    if checkpoint:
        try:
            text = Path(checkpoint).read_text()
        except (OSError, UnicodeDecodeError):
            raise InvalidInput("the --checkpoint file cannot be read; check the path") from None
    with vault.audited("audit.verify") as targets:
        report = vault.verify_audit(text)
        targets["verified"] = report.entries
        if as_json:
            echo_json(report.as_dict())
        if not report.ok:
            raise VerificationFailed(f"audit log: {report.problem.message} ({report.entries} entries checked)")
    if save:
        signed = vault.save_checkpoint(report)
        write_atomically(save, lambda f: f.write(signed.encode()), replace=force)
    if not as_json:
        extra = f", consistent with the checkpoint of {report.checkpoint_size}" if report.checkpoint_size is not None else ""
        click.echo(f"ok: {report.entries} entries verified{extra}")


@audit_group.command("prove")
@click.argument("entry", type=click.IntRange(min=1))
@pass_ctx
def audit_prove(c: Context, entry: int) -> None:
    """Print an inclusion proof of ENTRY (JSON) that a third party can check."""
    vault = c.vault()
    with vault.audited("audit.prove"):
        proof = vault.prove_entry(entry)
    echo_json(proof)


# --- fsck ---


@click.command()
@click.option("--deep", is_flag=True, help="Also decrypt every document you can read and check its SHA-256.")
@click.option("--repair", is_flag=True, help="Remove leftovers of interrupted writes (never committed data).")
@output_options()
@pass_ctx
def fsck(c: Context, deep: bool, repair: bool, as_json: bool) -> None:
    """Check the vault's objects, signatures, sequences and audit log; exit 3 on any problem."""
    vault = c.vault()
    with vault.audited("vault.fsck") as targets:
        problems = vault.fsck(deep)
        removed = vault.repair(problems) if repair else []
        left = [p for p in problems if p["object"] not in removed]
        targets["problems"] = len(left)
        if as_json:
            echo_json({"ok": not left, "problems": left, "removed": removed})
        else:
            for obj in removed:
                click.echo(f"removed {obj} (uncommitted leftover)")
            for p in left:
                hint = HINTS.get(p.get("hint"))
                click.echo(f"{p['kind']}: {p['object']}: {p['message']}" + (f"; {hint}" if hint else ""))
        if left:
            hint = "; refuge fsck --repair removes the leftovers" if all(p["kind"] == "leftover" for p in left) else ""
            raise VerificationFailed(f"{len(left)} problems found{hint}")
    if not as_json:
        click.echo("ok: no problems found")


# --- vault ---


@click.group("vault")
def vault_group() -> None:
    """Move a whole vault between storage locations, and connect to S3 vaults."""


@vault_group.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for the s3:// side(s) (default: remembered).")
@click.option("--region", metavar="REGION", help="Region for the s3:// side(s) (default: remembered).")
@output_options()
@pass_ctx
def vault_copy(c: Context, src: str, dst: str, endpoint_url: str | None, region: str | None, as_json: bool) -> None:
    """Copy every object of the vault at SRC to DST (a folder or s3://BUCKET/PREFIX).

    Each object is read back from DST and its SHA-256 compared with SRC's.
    Running it again resumes an interrupted copy: objects already at DST with
    the same SHA-256 are skipped; one with different bytes stops it (exit 3).
    No key is needed: the objects are copied as they are, still encrypted.
    """
    from vault.copy import copy_vault
    from vault.storage import open_backend

    def backend(location: str):
        if location.startswith("s3://"):
            return open_backend(location, home=c.home, endpoint_url=endpoint_url, region=region)
        return open_backend(os.path.abspath(location))

    source, target = backend(src), backend(dst)
    report = copy_vault(source, target)
    for location in (src, dst):
        if location.startswith("s3://"):
            from vault.s3 import remember_connection

            remember_connection(c.home, location, endpoint_url=endpoint_url, region=region)
    counts = report.as_dict()
    if as_json:
        echo_json(counts)
    else:
        click.echo(f"copied {report.copied} objects ({report.bytes_copied} bytes), {report.present} already there; "
                   f"all {counts['verified']} verified by SHA-256")


@vault_group.command("connect")
@click.argument("location", metavar="s3://BUCKET/PREFIX")
@click.option("--endpoint-url", metavar="URL", help="An S3-compatible endpoint.")
@click.option("--region", metavar="REGION", help="The bucket's region.")
@click.option("--kms-endpoint-url", metavar="URL", help="A KMS-compatible endpoint (vaults with KMS escrow).")
@pass_ctx
def vault_connect(c: Context, location: str, endpoint_url, region, kms_endpoint_url) -> None:
    """Remember how to reach an S3 vault (endpoint, region; never credentials).

    If this REFUGE_HOME has no default vault yet, the vault becomes it.
    """
    from vault.s3 import canonical_location, remember_connection
    from vault.storage import open_backend

    if not location.startswith("s3://"):
        raise click.UsageError("refuge vault connect is for s3:// locations; a folder needs no connecting")
    backend = open_backend(location, home=c.home, endpoint_url=endpoint_url, region=region)
    settings = Vault.read_settings(backend)
    backend.check_create_only()  # a server that ignores If-None-Match is refused
    remember_connection(c.home, location, endpoint_url=endpoint_url, region=region, kms_endpoint_url=kms_endpoint_url)
    if not c.home.config().get("vault"):
        c.home.update_config(vault=canonical_location(location))
    click.echo(f"connected to vault {settings['vault_id']} at {canonical_location(location)}")
