"""The one printer of errors: a library error becomes one line and an exit code.

Libraries raise :class:`vault.errors.RefugeError` with a message that names
the problem and, where there is one, a hint code for the way out. Only here are
hints worded, because only here may words name refuge's own commands.
"""

from __future__ import annotations

import sys

import click

from vault.errors import RefugeError

from . import _hints

#: What the prefix of every error line is.
PREFIX = "refuge: error: "


def describe(error: RefugeError) -> str:
    """The one line a person reads for a library error: the message, then the way out."""
    message = str(error)
    hint = _hints.HINTS.get(error.hint) if getattr(error, "hint", None) else None
    return f"{message}; {hint}" if hint else message


def show(message: str) -> None:
    """Print one error line on stderr (whitespace folded, so it stays one line)."""
    click.echo(PREFIX + " ".join(str(message).split()), err=True)


def die(message: str, code: int) -> None:
    """Print one error line and exit with ``code``."""
    show(message)
    sys.exit(code)
