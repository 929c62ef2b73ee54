"""The organisation's signing key."""

from __future__ import annotations

import click

from vault.errors import InvalidInput
from vault.storage import write_atomically

from .._context import Context, force_option, pass_ctx, read_input, read_password_file
from ..errors import describe
from ..output import cell, echo_json, output_options

# --- keys ---


@click.group()
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
    from vault import orgkey

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
    from vault import orgkey

    if p12 and (key_file or cert_file or chain_file):
        raise click.UsageError("give a .p12 file or --key/--cert/--chain, not both")
    if not p12 and not (key_file and cert_file):
        raise click.UsageError("give a .p12 file, or --key KEY.pem and --cert CERT.pem")
    secret = read_password_file(passphrase_file) if passphrase_file else None
    vault = c.vault()
    with vault.audited("keys.org.import") as targets:
        if p12:
            cert = orgkey.import_p12(vault, read_input(p12, "the .p12 file"), secret)
        else:
            cert = orgkey.import_pem(vault, read_input(key_file, "--key"), read_input(cert_file, "--cert"),
                                     read_input(chain_file, "--chain") if chain_file else None, secret)
        targets["version"] = cert.version
    click.echo(_org_summary(cert))


@keys_org.command("cert")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the certificate (PEM) here; default: print it.")
@force_option
@click.option("--chain", "with_chain", is_flag=True, help="Include the CA certificates after it.")
@pass_ctx
def keys_org_cert(c: Context, output: str | None, with_chain: bool, force: bool = False) -> None:
    """The organisation's certificate, for recipients (refuge packet verify --trust)."""
    from vault import orgkey

    vault = c.vault()
    with vault.audited("keys.org.cert"):
        cert = orgkey.current(vault)
        if cert is None:
            raise InvalidInput(orgkey.NO_ORG_KEY, hint="org-generate")
    pem = cert.chain_pem if with_chain else cert.cert_pem
    if output:
        write_atomically(output, lambda f: f.write(pem), replace=force)
        click.echo(f"wrote the certificate of organisation key version {cert.version}; SHA-256 {cert.fingerprint}")
    else:
        click.echo(pem.decode(), nl=False)


@keys_org.command("show")
@output_options()
@pass_ctx
def keys_org_show(c: Context, as_json: bool) -> None:
    """The organisation key in force: certificate, validity, fingerprint, timestamp authority."""
    from vault import orgkey

    vault = c.vault()
    with vault.audited("keys.org.show"):
        cert = orgkey.current(vault)
        info = dict(cert.as_dict(), tsa=orgkey.tsa_url(vault)) if cert else None
    if as_json:
        echo_json(info)
    elif info is None:
        click.echo(describe(InvalidInput(orgkey.NO_ORG_KEY, hint="org-generate")))
    else:
        for k in ("version", "subject", "issuer", "not_before", "not_after", "sha256", "tsa"):
            click.echo(f"{k + ':':12}{cell(info[k]) or 'none'}")


@keys_org.command("tsa")
@click.argument("url", required=False)
@click.option("--none", "clear", is_flag=True, help="Stop timestamping packets.")
@pass_ctx
def keys_org_tsa(c: Context, url: str | None, clear: bool) -> None:
    """Timestamp packets (PAdES B-T) with an RFC 3161 authority at URL (admins); no URL shows it."""
    from vault import orgkey

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
    from vault import orgkey

    vault = c.vault()
    with vault.audited("keys.org.rewrap") as targets:
        done = orgkey.rewrap(vault)
        targets["users"] = done
    click.echo(f"wrapped the organisation key to {', '.join(vault.directory.name(u) for u in done)}" if done
               else "everyone who signs packets already holds the organisation key")
