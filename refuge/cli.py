"""The ``refuge`` command: a thin shell over the vault and packets libraries.

It resolves who acts and where the vault is (refuge/_context.py), runs one
library call per command inside ``Vault.audited`` so that every command leaves
an audit entry, prints through refuge/output.py, and turns every error into
one line on stderr with the exit code of DESIGN.md: 1 error, 2 usage,
3 verification failed, 4 not permitted.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

import click

from vault import hardening
from vault.errors import RefugeError

from .errors import describe, die

# Each command and the module that defines it, imported only when that command runs (or
# when --help lists them all): `refuge doc add` loads neither the packet pipeline's commands
# nor the web desk (tests/test_startup.py).
COMMANDS = {
    "init": "people", "unlock": "people", "lock": "people", "user": "people", "demo": "people",
    "case": "cases", "retention": "cases", "doc": "documents", "consent": "documents", "redact": "documents",
    "packet": "packets", "keys": "keys", "audit": "audit:audit_group", "fsck": "audit", "vault": "audit:vault_group",
    "search": "search", "org": "org", "person": "register", "place": "register", "candidate": "register",
    "serve": "refuge.web.serve",
}


class _Commands(click.Group):
    """The ``refuge`` group: its commands are loaded by name, on first use (see COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args[:2] == ["doc", "add"] and not {"-h", "--help"} & set(args):
            # Intake's keyless worker first, before the doc commands' modules load (most of a small
            # add's wait): it is ready when the file is reached (vault.intake.warm_up).
            from vault import intake

            intake.warm_up()
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS and name not in self.commands:
            import difflib  # commands load lazily: click's own suggestion sees only those loaded

            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            if near:
                raise click.UsageError(f"No such command {name!r}. Did you mean {near[0]!r}?", ctx)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            where, _, attr = COMMANDS[name].partition(":")
            module = importlib.import_module(where if "." in where else f"{__package__}.commands.{where}")
            self.add_command(getattr(module, attr or name), name)
        return self.commands.get(name)


def _version(ctx: click.Context, on: bool) -> None:
    """``--version``: the installed version, read only when asked for (as click.version_option, but lazily)."""
    if not on or ctx.resilient_parsing:
        return
    from . import __version__

    click.echo(f"refuge {__version__}")
    ctx.exit()


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--vault", "vault_location", metavar="LOCATION", help="The vault (a path or s3://bucket/prefix); default $REFUGE_VAULT.")
@click.option("--as", "as_user", metavar="NAME", help="Which identity acts; default $REFUGE_USER.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=lambda ctx, _, on: _version(ctx, on),
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, vault_location: str | None, as_user: str | None) -> None:
    """refuge: an encrypted document vault and referral packet builder.

    Environment: REFUGE_VAULT, REFUGE_HOME, REFUGE_USER, and REFUGE_PASSPHRASE or
    REFUGE_PASSPHRASE_FILE for scripts (otherwise a hidden prompt, or the agent
    that refuge unlock starts).
    """
    from ._context import Context  # with the vault library: loaded after a doc add's worker has started

    ctx.obj = Context(vault_location, as_user)


def _quiet_dependency_deprecations() -> None:
    """A dependency's notice to its own developers (pyHanko importing DSA, which cryptography 51
    deprecates) is never a line on the user's terminal beside refuge's own one-line messages."""
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    warnings.simplefilter("ignore", CryptographyDeprecationWarning)


def _usage_line(e: click.UsageError) -> str:
    """A usage error in one line: click's words, lower case, with the help to read; refuge's own
    options typed after a command are pointed back to where they go."""
    where = " ".join(["refuge", *e.ctx.command_path.split()[1:]]) if e.ctx else "refuge"
    if isinstance(e, click.NoSuchOption) and e.option_name in ("--as", "--vault"):
        value = "NAME" if e.option_name == "--as" else "LOCATION"
        return (f"{e.option_name} is an option of refuge itself: give it before the command "
                f"(refuge {e.option_name} {value} {where.removeprefix('refuge ')} ...)")
    message = re.sub(r"\. Did you mean (.+)\?$", r" (did you mean \1?)", e.format_message()).rstrip(".")
    return f"{message[:1].lower()}{message[1:]}; see {where} --help"


def _not_text(argv: list[str]) -> int | None:
    """The place of the first argument that is not UTF-8 (bytes Python kept as surrogates), if any."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the command line; errors become one line on stderr and an exit code."""
    hardening.no_core_dumps()  # this process will hold a passphrase and keys: no core file, ever
    _quiet_dependency_deprecations()
    argv = sys.argv[1:] if argv is None else argv
    if (place := _not_text(argv)) is not None:  # named by place only: it may be a name or a title
        die(f"argument {place} is not UTF-8 text (a file name or a value in another encoding); rename the file "
            "or retype the value", 2)
    try:
        cli.main(args=argv, prog_name="refuge", standalone_mode=False)
    except RefugeError as e:
        die(describe(e), e.exit_code)
    except click.exceptions.Abort:
        die("interrupted", 130)
    except click.UsageError as e:
        die(_usage_line(e), 2)
    except click.ClickException as e:
        die(e.format_message(), e.exit_code)
    except KeyboardInterrupt:
        die("interrupted", 130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # no traceback for users; REFUGE_DEBUG=1 shows it
        if os.environ.get("REFUGE_DEBUG"):
            raise
        die(f"internal error ({type(e).__name__}); run again with REFUGE_DEBUG=1 and report it", 1)
    sys.exit(0)
