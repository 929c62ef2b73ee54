"""The ``refuge`` command: a thin shell over the vault and packets libraries.

This is the only module that imports click. It resolves who acts and where
the vault is, turns library errors into one line on stderr with the exit code
of DESIGN.md (1 error, 2 usage, 3 verification failed, 4 not permitted), and
records every vault command in the audit log through ``Vault.audited``.
"""

from __future__ import annotations

import csv
import functools
import getpass
import json
import os
import sys
from pathlib import Path

import click

from . import agent
from .core import DOC_TYPES, ROLES, Vault, write_atomically
from .errors import InvalidInput, Locked, NotFound, RefugeError, VerificationFailed
from .identity import Home, PublicIdentity, SecretIdentity, check_name, check_passphrase

# --- context -------------------------------------------------------------------


class Context:
    """What every command needs: who acts, where the vault is, how to unlock."""

    def __init__(self, vault: str | None, user: str | None) -> None:
        self.home = Home.default()
        self._vault = vault
        self._user = user
        self._opened: Vault | None = None

    def location(self) -> str:
        loc = self._vault or os.environ.get("REFUGE_VAULT") or self.home.config().get("vault")
        if not loc:
            raise InvalidInput("no vault given; set REFUGE_VAULT or use --vault PATH (or refuge init to create one)")
        return loc

    def user_name(self) -> str:
        name = self._user or os.environ.get("REFUGE_USER") or self.home.config().get("default_user")
        if not name:
            names = self.home.names()
            if len(names) == 1:
                return names[0]
            raise InvalidInput("which identity acts? set REFUGE_USER or use --as NAME")
        return check_name(name)

    def secret(self, name: str | None = None) -> SecretIdentity:
        name = name or self.user_name()
        held = agent.fetch(self.home, name)
        if held is not None:
            return held
        return self.home.unlock(name, passphrase(f"Passphrase for {name}: "))

    def vault(self) -> Vault:
        if self._opened is None:
            self._opened = Vault.open(self.location(), self.home, self.secret)
        return self._opened


def passphrase(prompt: str, confirm: bool = False, env: str = "REFUGE_PASSPHRASE") -> str:
    """A passphrase from the environment, a file, or a hidden prompt."""
    if os.environ.get(env):
        return os.environ[env]
    if os.environ.get("REFUGE_PASSPHRASE_FILE"):
        try:
            return Path(os.environ["REFUGE_PASSPHRASE_FILE"]).read_text().rstrip("\n")
        except OSError:
            raise InvalidInput("REFUGE_PASSPHRASE_FILE cannot be read; check the path") from None
    if not sys.stdin.isatty():
        raise Locked("no passphrase: run refuge unlock first, or set REFUGE_PASSPHRASE_FILE for scripts")
    first = getpass.getpass(prompt)
    if confirm:
        check_passphrase(first)
        if getpass.getpass("Again: ") != first:
            raise InvalidInput("the two passphrases differ; try again")
    return first


pass_ctx = click.make_pass_decorator(Context)


def _case(vault: Vault, ref: str, targets: dict):
    """Find a case of mine and name it (its opaque id) in the command's audit entry."""
    found = vault.find_case(ref)
    targets["case"] = found.id
    return found


# --- output ----------------------------------------------------------------------


def output_options(csv_too: bool = False):
    """The shared --json (and --csv) options of every listing command."""

    def decorate(f):
        f = click.option("--json", "as_json", is_flag=True, help="Print JSON (stable field names).")(f)
        if csv_too:
            f = click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header line.")(f)
        return f

    return decorate


def emit(rows: list[dict], columns: list[str], as_json: bool = False, as_csv: bool = False, key: str | None = None) -> None:
    """Print rows as a table, JSON or CSV."""
    if as_json:
        # Indented for people; compact (and several times faster to encode) for programs.
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(rows, indent=indent, ensure_ascii=False, sort_keys=True))
        return
    if as_csv:
        w = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: _cell(r.get(c)) for c in columns})
        return
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))


# --- the command tree ------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--vault", "vault_location", metavar="LOCATION", help="The vault (a path or s3://bucket/prefix); default $REFUGE_VAULT.")
@click.option("--as", "as_user", metavar="NAME", help="Which identity acts; default $REFUGE_USER.")
@click.version_option(package_name="refuge")
@click.pass_context
def cli(ctx: click.Context, vault_location: str | None, as_user: str | None) -> None:
    """refuge: an encrypted document vault and referral packet builder.

    Environment: REFUGE_VAULT, REFUGE_HOME, REFUGE_USER, and REFUGE_PASSPHRASE or
    REFUGE_PASSPHRASE_FILE for scripts (otherwise a hidden prompt, or the agent
    that refuge unlock starts).
    """
    ctx.obj = Context(vault_location, as_user)


@cli.command()
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
        from .s3 import parse_location

        parse_location(location)
    check_name(admin)
    if c.home.has(admin):
        secret = c.home.unlock(admin, passphrase(f"Passphrase for {admin}: "))
    else:
        secret = SecretIdentity.generate(admin)
        c.home.create(secret, passphrase(f"New passphrase for {admin}: ", confirm=True))
    connection = {"endpoint_url": endpoint_url, "region": region} if on_s3 else {}
    vault = Vault.init(location, c.home, secret, kms_key=kms_key, lock_days=lock_days,
                       lock_mode=lock_mode.upper() if lock_mode else None, kms_endpoint_url=kms_endpoint_url, **connection)
    if on_s3:
        from .s3 import remember_connection

        remember_connection(c.home, location, kms_endpoint_url=kms_endpoint_url, **connection)
    cfg = c.home.config()
    c.home.update_config(vault=cfg.get("vault") or (vault.backend.location if on_s3 else os.path.abspath(location)),
                         default_user=cfg.get("default_user") or admin)
    from . import orgkey

    with vault.audited("vault.init"):
        orgkey.generate(vault, org_name)
    click.echo(f"created vault {vault.id} at {location}; {admin} is its admin")


@cli.command()
@click.option("--timeout", "minutes", type=click.FloatRange(min=0.1, max=24 * 60), default=30.0, show_default=True,
              help="Minutes until the agent forgets the identity.")
@pass_ctx
def unlock(c: Context, minutes: float) -> None:
    """Unlock your identity for a while, so commands stop asking."""
    name = c.user_name()
    secret = c.home.unlock(name, passphrase(f"Passphrase for {name}: "))
    agent.start(c.home, secret, minutes)
    click.echo(f"unlocked {name} for {minutes:g} minutes; refuge lock forgets it sooner")


@cli.command()
@pass_ctx
def lock(c: Context) -> None:
    """Forget the unlocked identity now."""
    name = c.user_name()
    click.echo(f"locked {name}" if agent.stop(c.home, name) else f"{name} was not unlocked")


# --- user ---


@cli.group()
def user() -> None:
    """Enroll, list and remove people."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the person may do.")
@click.option("--public", "public_file", type=click.Path(dir_okay=False), help="A public identity from refuge user keygen.")
@pass_ctx
def user_add(c: Context, name: str, role: str, public_file: str | None) -> None:
    """Enroll a person (admins only).

    Without --public, NAME's identity is made in REFUGE_HOME with a new
    passphrase (REFUGE_NEW_PASSPHRASE, else REFUGE_PASSPHRASE, else a prompt).
    """
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
            secret = SecretIdentity.generate(name)
            vault._require_role("admin", doing="enrolling people")
            c.home.create(secret, passphrase(f"New passphrase for {name}: ", confirm=True, env="REFUGE_NEW_PASSPHRASE")
                          if os.environ.get("REFUGE_NEW_PASSPHRASE") else passphrase(f"New passphrase for {name}: ", confirm=True))
            public = secret.public
        added = vault.add_user(public, role)
        targets["user"] = added.user_id
    click.echo(f"enrolled {name} as {role} ({added.user_id})")


@user.command("keygen")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write the public identity to this file.")
@pass_ctx
def user_keygen(c: Context, name: str, output: str | None) -> None:
    """Make your own identity in REFUGE_HOME and print its public part.

    Send the printed public identity to an admin, who enrolls you with
    refuge user add NAME --role ROLE --public FILE.
    """
    secret = SecretIdentity.generate(check_name(name))
    c.home.create(secret, passphrase(f"New passphrase for {name}: ", confirm=True))
    text = secret.public.to_file_text(secret)
    if output:
        write_atomically(output, lambda f: f.write(text.encode()))
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


# --- case ---


@cli.group()
def case() -> None:
    """Create cases and manage who can read them."""


@case.command("create")
@click.argument("ref")
@click.option("--title", default="", help="A title, stored encrypted.")
@click.option("--json", "as_json", is_flag=True, help="Print the new case as JSON.")
@pass_ctx
def case_create(c: Context, ref: str, title: str, as_json: bool) -> None:
    """Create a case (case leads); you become its first member."""
    vault = c.vault()
    with vault.audited("case.create") as targets:
        created = vault.create_case(ref, title)
        targets["case"] = created.id
    if as_json:
        click.echo(json.dumps(created.as_dict(vault.directory), indent=2, ensure_ascii=False))
    else:
        click.echo(f"created case {created.ref} ({created.id})")


@case.command("list")
@output_options()
@pass_ctx
def case_list(c: Context, as_json: bool) -> None:
    """List the cases you are a member of."""
    vault = c.vault()
    with vault.audited("case.list"):
        rows = [dict(k.as_dict(vault.directory), state=vault.case_status(k.id).state,
                     purge_after=vault.case_status(k.id).purge_after) for k in vault.cases()]
    emit(rows, ["ref", "id", "title", "state", "documents", "members"], as_json)


@case.command("grant")
@click.argument("ref")
@click.argument("names", nargs=-1, required=True)
@pass_ctx
def case_grant(c: Context, ref: str, names: tuple[str, ...]) -> None:
    """Make people members of a case (case leads who are members)."""
    vault = c.vault()
    with vault.audited("case.grant") as targets:
        found = _case(vault, ref, targets)
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
        found = _case(vault, ref, targets)
        gone = vault.revoke(found, names)
        targets["users"] = [u.user_id for u in gone]
    click.echo(f"revoked {', '.join(u.name for u in gone)}; new documents use a new case key" if gone else "not members")


@case.command("export-key")
@click.argument("ref")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the case key.")
@pass_ctx
def case_export_key(c: Context, ref: str, output: str) -> None:
    """Write the case identity (age format) for emergency recovery; audited."""
    vault = c.vault()
    with vault.audited("case.export-key") as targets:
        found = _case(vault, ref, targets)
        text = vault.export_key(found)
        _write_private(output, text.encode())
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
        st = vault.close_case(_case(vault, ref, targets), retain)
    due = f"due for purging on {st.purge_after}" if st.purge_after else "no retention period applies: kept until purged by hand"
    click.echo(f"closed case {ref}; {due}")


@case.command("reopen")
@click.argument("ref")
@pass_ctx
def case_reopen(c: Context, ref: str) -> None:
    """Reopen a closed case (case leads who are members); its purge date is dropped."""
    vault = c.vault()
    with vault.audited("case.reopen") as targets:
        vault.reopen_case(_case(vault, ref, targets))
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


def _write_private(path: str, data: bytes) -> None:
    def fill(f):
        os.fchmod(f.fileno(), 0o600)
        f.write(data)

    write_atomically(path, fill)


# --- doc ---


@cli.group()
def doc() -> None:
    """Add, list, read and tag documents."""


@doc.command("add")
@click.argument("ref")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--type", "doc_type", required=True, type=click.Choice(DOC_TYPES), help="The document type.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--person", help="Whom it concerns (principal applicant or a family member).")
@click.option("--lang", help="Language code, e.g. es, en, fr.")
@click.option("--title", help="A title (default: the file name without extension).")
@click.option("--translation-of", metavar="DOC", help="The document this translates.")
@click.option("--translator", metavar="NAME", help="Who translated it (for the translator's declaration).")
@click.option("--dialect", help="The dialect of the original, if any (for the translator's declaration).")
@click.option("--supersedes", metavar="DOC", help="Store the file as a new version of DOC.")
@click.option("--json", "as_json", is_flag=True, help="Print the new documents as JSON.")
@pass_ctx
def doc_add(c: Context, ref, files, doc_type, tags, person, lang, title, translation_of, translator, dialect,
            supersedes, as_json) -> None:
    """Add files to a case; prints the new document ids."""
    vault = c.vault()
    with vault.audited("doc.add") as targets:
        found = _case(vault, ref, targets)
        results = vault.add_documents(found, list(files), doc_type, tags, person, lang, title, translation_of, supersedes,
                                      translator=translator, dialect=dialect)
        targets["docs"] = [r.document.id for r in results if r.document]
        failed = [r for r in results if r.error]
        if failed and len(failed) == len(results):
            raise failed[0].error
    added = [r.document for r in results if r.document]
    if as_json:
        click.echo(json.dumps([{"id": d.id, "version": d.version, "sha256": d.sha256, "size": d.size} for d in added], indent=2))
    else:
        for d in added:
            click.echo(d.id)
    for r in failed:
        click.echo(f"refuge: error: {_describe(r.error)}", err=True)
    if failed:
        sys.exit(1)


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
        found = _case(vault, ref, targets)
        docs = [d for d in found.documents.values()
                if (not doc_type or d.type == doc_type) and (not tag or tag in d.tags)]
    rows = [dict(d.as_dict(), added_by=vault.directory.name(d.added_by)) for d in docs]
    emit(rows, ["id", "type", "title", "version", "tags", "lang", "size", "flags"], as_json)


@doc.command("get")
@click.argument("doc_id", metavar="DOC")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to write the document (default: standard output, not a terminal).")
@click.option("--version", "version", type=click.IntRange(min=1), help="An earlier version.")
@pass_ctx
def doc_get(c: Context, doc_id: str, output: str | None, version: int | None) -> None:
    """Write a document, byte-exact, to a file or standard output."""
    vault = c.vault()
    with vault.audited("doc.get", doc=doc_id) as targets:
        targets["case"] = doc_id.partition("-")[0]
        found_case, found = vault.find_document(doc_id)
        if output:
            # a working copy of what the vault keeps: atomic, but not fsynced (like age -d -o)
            write_atomically(output, lambda f: vault.read_document(found, f, version), durable=False)
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
    with vault.audited("doc.tag", doc=doc_id) as targets:
        targets["case"] = doc_id.partition("-")[0]
        found = vault.tag(doc_id, add, remove)
    click.echo(f"{found.id}: {', '.join(found.tags) or '(no tags)'}")


# --- consent ---


@cli.group()
def consent() -> None:
    """Record the survivor's consent to share with each recipient."""


def _profile(profile_id: str):
    from packets.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles()
    except ProfileError as e:
        raise InvalidInput(str(e)) from None
    if profile_id not in profiles:
        raise InvalidInput(f"no recipient profile {profile_id}; see refuge packet profiles")
    return profiles[profile_id]


def _date(value: str | None, option: str) -> str | None:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"{option} {value} is not a date; use YYYY-MM-DD") from None


@consent.command("grant")
@click.argument("ref")
@click.option("--recipient", required=True, metavar="PROFILE", help="The recipient profile (refuge packet profiles).")
@click.option("--doc", "docs", multiple=True, metavar="DOC", help="Only these documents (repeatable; default: all).")
@click.option("--expires", metavar="DATE", help="Last day the consent is valid (YYYY-MM-DD).")
@click.option("--note", default="", help="How consent was given, e.g. 'form signed 2026-11-20'.")
@pass_ctx
def consent_grant(c: Context, ref, recipient, docs, expires, note) -> None:
    """Record consent to share with a recipient (case leads)."""
    _profile(recipient)
    expires = _date(expires, "--expires")
    vault = c.vault()
    with vault.audited("consent.grant") as targets:
        found = _case(vault, ref, targets)
        vault.record_consent(found, "granted", recipient, docs, expires, note)
    click.echo(f"recorded consent for {recipient}" + (f" until {expires}" if expires else ""))


@consent.command("withdraw")
@click.argument("ref")
@click.option("--recipient", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("--doc", "docs", multiple=True, metavar="DOC", help="Only these documents (repeatable; default: all).")
@pass_ctx
def consent_withdraw(c: Context, ref, recipient, docs) -> None:
    """Record that consent was withdrawn; later packets leave the documents out."""
    _profile(recipient)
    vault = c.vault()
    with vault.audited("consent.withdraw") as targets:
        found = _case(vault, ref, targets)
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
        found = _case(vault, ref, targets)
    rows = [dict(r, by=vault.directory.name(r["by"]), docs=r["docs"] or ["all"]) for r in found.consents]
    emit(rows, ["recipient", "action", "docs", "expires", "note", "by", "at"], as_json)


# --- redact ---


@cli.group()
def redact() -> None:
    """Say what must never leave the vault: terms and page regions."""


CATEGORY_HELP = "always (every packet), or a category profiles choose: contact, location, id-number, family, health, ..."


def _category(value: str) -> str:
    import re

    if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", value):
        raise InvalidInput(f"invalid category {value!r}; use lower-case words like always, contact, location")
    return value


@redact.command("term")
@click.argument("ref")
@click.argument("text")
@click.option("--category", required=True, help=CATEGORY_HELP)
@pass_ctx
def redact_term(c: Context, ref: str, text: str, category: str) -> None:
    """Redact TEXT (a name, an address, a number) wherever it appears in this case's packets."""
    if len(text.strip()) < 2:
        raise InvalidInput("a redaction term needs at least 2 characters")
    category = _category(category)
    vault = c.vault()
    with vault.audited("redact.term") as targets:
        found = _case(vault, ref, targets)
        rule = vault.add_redaction(found, {"kind": "term", "text": text.strip(), "category": category})
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
    with vault.audited("redact.region", doc=doc_id) as targets:
        found, doc = vault.find_document(doc_id)
        targets["case"] = found.id
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
        found = _case(vault, ref, targets)
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
    with vault.audited("redact.reviewed", doc=doc_id) as targets:
        targets["case"] = doc_id.partition("-")[0]
        _case_found, found, done = vault.mark_reviewed(doc_id, pages, lambda doc: _page_count(vault, doc))
        targets["pages"] = done
    click.echo(f"reviewed {found.id} (version {found.version}) page{'s' if len(done) > 1 else ''} "
               f"{', '.join(map(str, done))}")


def _page_count(vault: Vault, doc) -> int:
    """How many pages a document's latest version has (decrypted in memory)."""
    from packets.model import Item
    from packets.render import page_count

    if doc.mime.split(";")[0] == "text/plain":
        raise InvalidInput(f"{doc.id} is plain text, which always has a text layer: there is nothing to review")
    return page_count(Item(doc_id=doc.id, title="", type=doc.type, date="", mime=doc.mime,
                           data=vault.document_bytes(doc)))


@redact.command("list")
@click.argument("ref")
@output_options()
@pass_ctx
def redact_list(c: Context, ref: str, as_json: bool) -> None:
    """List the case's redaction rules (members only: the rules are secret)."""
    vault = c.vault()
    with vault.audited("redact.list") as targets:
        found = _case(vault, ref, targets)
    rows = [dict(r, by=vault.directory.name(r["by"])) for r in found.redactions]
    emit(rows, ["id", "kind", "category", "text", "doc", "page", "box", "by", "at"], as_json)


# --- packet ---


@cli.group()
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
             "page_size": p.page_size, "language": p.language, "signature": p.signature.required}
            for p in profiles.values()]
    if as_json:
        click.echo(json.dumps({r["id"]: r for r in rows}, indent=2, ensure_ascii=False))
    else:
        emit(rows, ["id", "page_size", "language", "name"])


def _today() -> str:
    import datetime as dt

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date().isoformat()
    return dt.date.today().isoformat()


@packet.command("plan")
@click.argument("ref")
@click.option("--for", "profile_id", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("--ocr", is_flag=True, help="Also recognise pages with no text (Tesseract) and list the pages a person "
                                          "must review before the build (the results are kept for the build).")
@output_options()
@pass_ctx
def packet_plan(c: Context, ref: str, profile_id: str, ocr: bool, as_json: bool) -> None:
    """Show what a packet would hold, in order, and what is missing, without building it."""
    from packets.build import page_review, plan_packet, unreviewed

    profile = _profile(profile_id)
    vault = c.vault()
    review = None
    with vault.audited("packet.plan") as targets:
        found = _case(vault, ref, targets)
        plan = plan_packet(vault, found, profile, _today())
        if ocr or profile.ocr:
            pages = page_review(vault, found, profile, plan, True)
            left = {(p.doc_id, p.page) for p in unreviewed(found, pages)}
            review = [{"doc": p.doc_id, "page": p.page, "text_layer": p.searchable,
                       "ocr_confidence": p.ocr_confidence, "needs_review": p.needs_review,
                       "reviewed": p.needs_review and (p.doc_id, p.page) not in left}
                      for p in pages if not p.searchable]
    if as_json:
        out = plan.as_dict()
        if review is not None:
            out["pages_without_text"] = review
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    emit([e.as_dict() for e in plan.entries], ["id", "section", "type", "title", "pages", "consent", "reason"])
    for t in plan.missing_types:
        click.echo(f"missing: a document of type {t}, which {profile.id} requires")
    for d in plan.missing_translations:
        click.echo(f"missing: a translation of {d} into {' or '.join(profile.accepted_languages)}")
    for r in review or ():
        conf = "no words recognised" if not r["ocr_confidence"] else f"recognised at {r['ocr_confidence']:.0f}% confidence"
        state = ("reviewed" if r["reviewed"] else "needs review (refuge redact reviewed)") if r["needs_review"] else "ok"
        click.echo(f"page without text: {r['doc']} page {r['page']}: {conf}; {state}")


@packet.command("build")
@click.argument("ref")
@click.option("--for", "profile_id", required=True, metavar="PROFILE", help="The recipient profile.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the packet (OUT-volN.pdf when split).")
@click.option("--from", "sender_org", envvar="REFUGE_ORG", default="the referring legal team", show_default=True,
              help="The sending organisation named in the cover letter ($REFUGE_ORG).")
@click.option("--only-consented", is_flag=True, help="Leave out documents without valid consent instead of stopping.")
@click.option("--allow-incomplete", is_flag=True, help="Build even if required types or translations are missing.")
@click.option("--override-consent", is_flag=True, help="Emergency: include documents without consent (needs --reason).")
@click.option("--reason", metavar="TEXT", help="Why consent is overridden; recorded in the audit log and the disclosure record.")
@click.option("--manifest-out", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the signed manifest here (refuge packet verify --manifest checks it).")
@click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Encrypt the packet (AES-256) with the password on this file's first line, before signing.")
@click.option("--ocr", is_flag=True, help="Recognise pages with no text (scans, photos) with Tesseract so redaction "
                                          "rules reach them (the profile may ask for it with ocr = true).")
@pass_ctx
def packet_build(c: Context, ref, profile_id, output, sender_org, only_consented, allow_incomplete, override_consent, reason,
                 manifest_out=None, password_file=None, ocr=False) -> None:
    """Build the PDF a recipient expects, sign it, and record what was sent (case leads)."""
    from packets.build import build_packet

    if override_consent and not reason:
        raise click.UsageError("--override-consent needs --reason TEXT")
    if reason and not override_consent:
        raise click.UsageError("--reason goes with --override-consent")
    if override_consent and only_consented:
        raise click.UsageError("--override-consent and --only-consented conflict; pick one")
    profile = _profile(profile_id)
    password = _password_file(password_file) if password_file else None
    vault = c.vault()
    progress = (lambda msg: click.echo(f"refuge: {msg}...", err=True)) if sys.stderr.isatty() else None
    with vault.audited("packet.build") as targets:
        found = _case(vault, ref, targets)
        if override_consent:
            targets["override_consent"] = True
        built = build_packet(vault, found, profile, _today(), output, sender_org,
                             reason if override_consent else None, only_consented, allow_incomplete, progress,
                             password=password, manifest_out=manifest_out, ocr=ocr)
        targets["packet"] = built.record["id"]
    for path in built.paths:
        click.echo(path)
    if getattr(built, "review", None):  # stdout stays the packet's paths; the report is for the case lead
        click.echo(f"refuge: review report (for the case lead; never send it): {built.review}", err=True)


@packet.command("get")
@click.argument("packet_id", metavar="PACKET")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write it.")
@click.option("--volume", default=1, type=click.IntRange(min=1), show_default=True, help="Which volume.")
@pass_ctx
def packet_get(c: Context, packet_id: str, output: str, volume: int) -> None:
    """Write the exact bytes of a packet recorded in packet history."""
    vault = c.vault()
    with vault.audited("packet.get", packet=packet_id) as targets:
        found, record = vault.find_packet(packet_id)
        targets["case"] = found.id
        data = vault.packet_bytes(found, record, volume)
        write_atomically(output, lambda f: f.write(data))


@packet.command("history")
@click.argument("ref")
@output_options()
@pass_ctx
def packet_history(c: Context, ref: str, as_json: bool) -> None:
    """List the packets built for a case: what was sent, to whom, when."""
    vault = c.vault()
    with vault.audited("packet.history") as targets:
        found = _case(vault, ref, targets)
    rows = [dict(p, built_by=vault.directory.name(p["built_by"])) for p in found.packets]
    if as_json:
        emit(rows, [], as_json=True)
        return
    emit([dict(r, volumes=len(r["volumes"]), documents=len(r["documents"])) for r in rows],
         ["id", "profile", "built_at", "built_by", "documents", "pages", "volumes"])


def _read_input(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InvalidInput(f"{what} cannot be read; check the path") from None


def _password_file(path: str) -> str:
    """The password on the first line of a file (the line break is not part of it)."""
    try:
        text = _read_input(path, "the --password-file").decode()
    except UnicodeDecodeError:
        raise InvalidInput("the --password-file is not text; put the password on its first line") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise InvalidInput("the --password-file is empty; put the password on its first line")
    return password


def _vault_if_unlocked(c: Context) -> Vault | None:
    """The vault, if one is configured and opens without asking anything; else None."""
    try:
        if not (c._vault or os.environ.get("REFUGE_VAULT") or c.home.config().get("vault")):
            return None
        name = c.user_name()
        if agent.fetch(c.home, name) is None and not (os.environ.get("REFUGE_PASSPHRASE") or os.environ.get("REFUGE_PASSPHRASE_FILE")):
            return None
        return c.vault()
    except (RefugeError, OSError, ValueError):
        return None


@packet.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", "trust_files", multiple=True, metavar="CERT", type=click.Path(dir_okay=False),
              help="A certificate to trust, PEM or DER (repeatable): the sender's (refuge keys org cert), its CA's, "
                   "and the timestamp authority's.")
@click.option("--manifest", "manifest_file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The packet's manifest (refuge packet build --manifest-out): check it is signed and lists this file.")
@click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The password of an encrypted packet, on the file's first line.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def packet_verify(c: Context, file, trust_files, manifest_file, password_file, as_json) -> None:
    """Check a packet's signature: signer, time, integrity, whole-file coverage, trust, manifest.

    Needs no vault: a recipient runs it with the sender's certificate. Exit 0 when the
    packet is intact, covered entirely by the signature and signed by a trusted
    certificate; exit 3 otherwise, with the reason.
    """
    from packets.verify import check_packet, load_certificates

    data = _read_input(file, "the packet")
    roots = [cert for t in trust_files for cert in load_certificates(_read_input(t, f"--trust {t}"))]
    manifest = _read_input(manifest_file, "the --manifest file") if manifest_file else None
    password = _password_file(password_file) if password_file else None
    report = check_packet(data, roots, manifest, password)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        _print_report(report)

    def verdict() -> None:
        if not report.ok:
            raise VerificationFailed(f"the packet does not verify: {report.reason}")

    vault = _vault_if_unlocked(c)
    if vault is None:
        verdict()
        return
    with vault.audited("packet.verify", sha256=report.sha256):
        verdict()


def _print_report(r) -> None:
    yes = lambda v: "yes" if v else ("no" if v is not None else "not checked")  # noqa: E731
    lines = [("signed by", r.signer), ("organisation", r.organisation), ("signing time", r.signing_time),
             ("timestamp", f"{r.timestamp['time']} by {r.timestamp['authority']}" if r.timestamp else "none"),
             ("level", r.level)]
    if r.certificate:
        cert = r.certificate
        lines += [("certificate", cert["subject"]), ("sha-256", cert["sha256"]),
                  ("valid", f"{cert['not_before']} to {cert['not_after']}")]
    lines += [("intact", yes(r.intact)), ("whole file", yes(r.covers_whole_file)), ("trusted", yes(r.trusted))]
    if r.manifest is not None:
        lines.append(("manifest", f"matches volume {r.manifest['volume']}" if r.manifest["ok"] else "does not match"))
    for label, value in lines:
        if value is not None:
            click.echo(f"{label + ':':14}{_cell(value)}")
    if r.ok:
        click.echo("ok: the packet is intact, signed over the whole file, by a trusted certificate")


# --- keys ---


@cli.group()
def keys() -> None:
    """The organisation's signing key, which signs every packet."""


@keys.group("org")
def keys_org() -> None:
    """Make, import, show and hand out the organisation's signing key."""


def _org_summary(cert) -> str:
    d = cert.as_dict()
    return f"organisation key version {d['version']}: {d['subject']}, valid until {d['not_after']}\nSHA-256 {d['sha256']}"


@keys_org.command("generate")
@click.option("--name", required=True, metavar="ORG", help="The organisation's name, as recipients should see it.")
@click.option("--days", type=click.IntRange(1, 3650), default=1095, show_default=True, help="How long the certificate is valid.")
@pass_ctx
def keys_org_generate(c: Context, name: str, days: int) -> None:
    """Make a new key and self-signed certificate (admins; for pilots and tests).

    A new version replaces the old one for new packets; old packets still verify with
    the old certificate. For recipients' readers to trust packets without steps of
    their own, import a CA-issued document-signing certificate instead (keys/README.md).
    """
    from . import orgkey

    vault = c.vault()
    with vault.audited("keys.org.generate") as targets:
        cert = orgkey.generate(vault, name, days)
        targets["version"] = cert.version
    click.echo(_org_summary(cert))
    click.echo("hand the certificate to recipients with refuge keys org cert -o FILE, and its SHA-256 by another channel")


@keys_org.command("import")
@click.argument("p12", required=False, type=click.Path(dir_okay=False))
@click.option("--key", "key_file", metavar="KEY.pem", type=click.Path(dir_okay=False), help="The private key (PEM).")
@click.option("--cert", "cert_file", metavar="CERT.pem", type=click.Path(dir_okay=False), help="Its certificate (PEM).")
@click.option("--chain", "chain_file", metavar="CHAIN.pem", type=click.Path(dir_okay=False), help="The CA certificates (PEM).")
@click.option("--passphrase-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="The .p12's or the key's passphrase, on the file's first line.")
@pass_ctx
def keys_org_import(c: Context, p12, key_file, cert_file, chain_file, passphrase_file) -> None:
    """Store a CA-issued key and certificate: FILE.p12, or --key and --cert (admins)."""
    from . import orgkey

    if p12 and (key_file or cert_file or chain_file):
        raise click.UsageError("give a .p12 file or --key/--cert/--chain, not both")
    if not p12 and not (key_file and cert_file):
        raise click.UsageError("give a .p12 file, or --key KEY.pem and --cert CERT.pem")
    secret = _password_file(passphrase_file) if passphrase_file else None
    vault = c.vault()
    with vault.audited("keys.org.import") as targets:
        if p12:
            cert = orgkey.import_p12(vault, _read_input(p12, "the .p12 file"), secret)
        else:
            cert = orgkey.import_pem(vault, _read_input(key_file, "--key"), _read_input(cert_file, "--cert"),
                                     _read_input(chain_file, "--chain") if chain_file else None, secret)
        targets["version"] = cert.version
    click.echo(_org_summary(cert))


@keys_org.command("cert")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the certificate (PEM) here; default: print it.")
@click.option("--chain", "with_chain", is_flag=True, help="Include the CA certificates after it.")
@pass_ctx
def keys_org_cert(c: Context, output: str | None, with_chain: bool) -> None:
    """The organisation's certificate, for recipients (refuge packet verify --trust)."""
    from . import orgkey

    vault = c.vault()
    with vault.audited("keys.org.cert"):
        cert = orgkey.current(vault)
        if cert is None:
            raise InvalidInput(orgkey.NO_ORG_KEY, hint="org-generate")
    pem = cert.chain_pem if with_chain else cert.cert_pem
    if output:
        write_atomically(output, lambda f: f.write(pem))
        click.echo(f"wrote the certificate of organisation key version {cert.version}; SHA-256 {cert.fingerprint}")
    else:
        click.echo(pem.decode(), nl=False)


@keys_org.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def keys_org_show(c: Context, as_json: bool) -> None:
    """The organisation key in force: certificate, validity, fingerprint, timestamp authority."""
    from . import orgkey

    vault = c.vault()
    with vault.audited("keys.org.show"):
        cert = orgkey.current(vault)
        info = dict(cert.as_dict(), tsa=orgkey.tsa_url(vault)) if cert else None
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
    elif info is None:
        click.echo(_describe(InvalidInput(orgkey.NO_ORG_KEY, hint="org-generate")))
    else:
        for k in ("version", "subject", "issuer", "not_before", "not_after", "sha256", "tsa"):
            click.echo(f"{k + ':':12}{_cell(info[k]) or 'none'}")


@keys_org.command("tsa")
@click.argument("url", required=False)
@click.option("--none", "clear", is_flag=True, help="Stop timestamping packets.")
@pass_ctx
def keys_org_tsa(c: Context, url: str | None, clear: bool) -> None:
    """Timestamp packets (PAdES B-T) with an RFC 3161 authority at URL (admins); no URL shows it."""
    from . import orgkey

    if url and clear:
        raise click.UsageError("give a URL or --none, not both")
    vault = c.vault()
    if not url and not clear:
        with vault.audited("keys.org.tsa"):
            current = orgkey.tsa_url(vault)
        click.echo(current or "none: packets are signed without a timestamp (PAdES B-B)")
        return
    with vault.audited("keys.org.tsa"):
        orgkey.set_tsa(vault, None if clear else url)
    click.echo(f"packets are now timestamped by {url}" if url else "packets are now signed without a timestamp")


@keys_org.command("rewrap")
@pass_ctx
def keys_org_rewrap(c: Context) -> None:
    """Give every admin and case lead who lacks one a copy of the organisation key (admins)."""
    from . import orgkey

    vault = c.vault()
    with vault.audited("keys.org.rewrap") as targets:
        done = orgkey.rewrap(vault)
        targets["users"] = done
    click.echo(f"wrapped the organisation key to {', '.join(vault.directory.name(u) for u in done)}" if done
               else "everyone who signs packets already holds the organisation key")


# --- audit ---


@cli.group("audit")
def audit_group() -> None:
    """Read and verify the audit log."""


AUDIT_COLUMNS = ["seq", "time", "name", "role", "action", "result", "case", "doc", "host"]


@audit_group.command("log")
@click.option("--case", "case_", metavar="ID", help="Only this case (its id; members may give its reference).")
@click.option("--user", metavar="NAME", help="Only this person's actions.")
@click.option("--action", metavar="A", help="Only this action, e.g. doc.get, or a group, e.g. doc.")
@click.option("--result", type=click.Choice(["ok", "denied", "error"]), help="Only this result.")
@click.option("--since", metavar="T", help="From this time (ISO 8601, UTC), e.g. 2026-11-01.")
@click.option("--until", metavar="T", help="Until this time (ISO 8601, UTC).")
@output_options(csv_too=True)
@pass_ctx
def audit_log(c: Context, case_, user, action, result, since, until, as_json, as_csv) -> None:
    """Show who did what, when, with what result."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv conflict; pick one")
    vault = c.vault()
    with vault.audited("audit.log"):
        rows = vault.audit_entries(case_, user, action, result, _time(since, "--since"), _time(until, "--until", end=True))
    emit(rows, AUDIT_COLUMNS + (["user_id", "users", "docs", "packet"] if as_csv else []), as_json, as_csv)


def _time(value: str | None, option: str, end: bool = False) -> str | None:
    import datetime as dt

    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{option} {value} is not a time; use ISO 8601 like 2026-11-01 or 2026-11-01T14:00:00Z") from None
    if t.tzinfo:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if end and len(value) == 10:
        t = t.replace(hour=23, minute=59, second=59)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@audit_group.command("verify")
@click.option("--checkpoint", "checkpoint", type=click.Path(dir_okay=False), help="An earlier checkpoint the log must extend.")
@click.option("--save-checkpoint", "save", type=click.Path(dir_okay=False), help="Write a signed checkpoint of the verified log here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def audit_verify(c: Context, checkpoint, save, as_json) -> None:
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
            click.echo(json.dumps(report.as_dict(), indent=2))
        if not report.ok:
            raise VerificationFailed(f"audit log: {report.problem.message} ({report.entries} entries checked)")
    if save:
        signed = vault.save_checkpoint(report)
        write_atomically(save, lambda f: f.write(signed.encode()))
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
    click.echo(json.dumps(proof, indent=2))


# --- fsck ---


@cli.command()
@click.option("--deep", is_flag=True, help="Also decrypt every document you can read and check its SHA-256.")
@click.option("--repair", is_flag=True, help="Remove leftovers of interrupted writes (never committed data).")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
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
            click.echo(json.dumps({"ok": not left, "problems": left, "removed": removed}, indent=2))
        else:
            for obj in removed:
                click.echo(f"removed {obj} (uncommitted leftover)")
            for p in left:
                click.echo(f"{p['kind']}: {p['object']}: {p['message']}")
        if left:
            hint = "; refuge fsck --repair removes the leftovers" if all(p["kind"] == "leftover" for p in left) else ""
            raise VerificationFailed(f"{len(left)} problems found{hint}")
    if not as_json:
        click.echo("ok: no problems found")


# --- vault ---


@cli.group("vault")
def vault_group() -> None:
    """Move a whole vault between storage locations, and connect to S3 vaults."""


@vault_group.command("copy")
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint for the s3:// side(s) (default: remembered).")
@click.option("--region", metavar="REGION", help="Region for the s3:// side(s) (default: remembered).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_ctx
def vault_copy(c: Context, src: str, dst: str, endpoint_url: str | None, region: str | None, as_json: bool) -> None:
    """Copy every object of the vault at SRC to DST (a folder or s3://BUCKET/PREFIX).

    Each object is read back from DST and its SHA-256 compared with SRC's.
    Running it again resumes an interrupted copy: objects already at DST with
    the same SHA-256 are skipped; one with different bytes stops it (exit 3).
    No key is needed: the objects are copied as they are, still encrypted.
    """
    from .copy import copy_vault
    from .storage import open_backend

    def backend(location: str):
        if location.startswith("s3://"):
            return open_backend(location, home=c.home, endpoint_url=endpoint_url, region=region)
        return open_backend(os.path.abspath(location))

    source, target = backend(src), backend(dst)
    report = copy_vault(source, target)
    for location in (src, dst):
        if location.startswith("s3://"):
            from .s3 import remember_connection

            remember_connection(c.home, location, endpoint_url=endpoint_url, region=region)
    counts = report.as_dict()
    if as_json:
        click.echo(json.dumps(counts, indent=2, sort_keys=True))
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
    from .core import Vault
    from .s3 import canonical_location, remember_connection
    from .storage import open_backend

    if not location.startswith("s3://"):
        raise click.UsageError("refuge vault connect is for s3:// locations; a folder needs no connecting")
    settings = Vault.read_settings(open_backend(location, home=c.home, endpoint_url=endpoint_url, region=region))
    remember_connection(c.home, location, endpoint_url=endpoint_url, region=region, kms_endpoint_url=kms_endpoint_url)
    if not c.home.config().get("vault"):
        c.home.update_config(vault=canonical_location(location))
    click.echo(f"connected to vault {settings['vault_id']} at {canonical_location(location)}")


# --- demo ---


# --- retention ---


@cli.group()
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def retention_show(c: Context, as_json: bool) -> None:
    """Print the retention policy."""
    vault = c.vault()
    with vault.audited("retention.show"):
        policy = vault.directory.policy
    if as_json:
        click.echo(json.dumps(policy.as_dict(), indent=2))
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


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@pass_ctx
def demo(c: Context, directory: str | None) -> None:
    """Walk through refuge on a throwaway vault with fictional documents."""
    from .demo import run

    run(directory, click.echo)


# --- entry point -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the command line; errors become one line on stderr and an exit code."""
    try:
        cli.main(args=argv, prog_name="refuge", standalone_mode=False)
    except RefugeError as e:
        _die(_describe(e), e.exit_code)
    except click.exceptions.Abort:
        _die("interrupted", 130)
    except click.UsageError as e:
        where = " ".join(["refuge", *e.ctx.command_path.split()[1:]]) if e.ctx else "refuge"
        message = e.format_message().rstrip(".")
        _die(f"{message[:1].lower()}{message[1:]}; see {where} --help", 2)
    except click.ClickException as e:
        _die(e.format_message(), e.exit_code)
    except KeyboardInterrupt:
        _die("interrupted", 130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # no traceback for users; REFUGE_DEBUG=1 shows it
        if os.environ.get("REFUGE_DEBUG"):
            raise
        _die(f"internal error ({type(e).__name__}); run again with REFUGE_DEBUG=1 and report it", 1)
    sys.exit(0)


def _describe(e: RefugeError) -> str:
    """A library error's message and its way out (refuge/_hints_core.py words the hint codes)."""
    from refuge._hints_core import HINTS

    return f"{e}; {HINTS[e.hint]}" if e.hint in HINTS else str(e)


def _die(message: str, code: int) -> None:
    message = " ".join(str(message).split())
    click.echo(f"refuge: error: {message}", err=True)
    sys.exit(code)
