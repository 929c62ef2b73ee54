"""What every command needs: who acts, where the vault is, how to unlock; and small input helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
from pathlib import Path

import click

from vault import agent
from vault.core import Vault
from vault.errors import InvalidInput, Locked, NotFound, NotPermitted, RefugeError
from vault.identity import Home, SecretIdentity, check_name, check_passphrase


class Context:
    """Who acts, where the vault is, how to unlock; the vault is opened once, on first use."""

    def __init__(self, vault: str | None, user: str | None) -> None:
        self.home = Home.default()
        self._vault = vault
        self._user = user
        self._opened: Vault | None = None

    def location(self) -> str:
        """The vault's location: --vault, $REFUGE_VAULT, or the one remembered in REFUGE_HOME."""
        loc = self._vault or os.environ.get("REFUGE_VAULT") or self.home.config().get("vault")
        if not loc:
            raise InvalidInput("no vault given; set REFUGE_VAULT or use --vault PATH (or refuge init to create one)")
        return loc

    def has_location(self) -> bool:
        return bool(self._vault or os.environ.get("REFUGE_VAULT") or self.home.config().get("vault"))

    def user_name(self) -> str:
        """Who acts: --as, $REFUGE_USER, the remembered default, or the only identity in REFUGE_HOME."""
        name = self._user or os.environ.get("REFUGE_USER") or self.home.config().get("default_user")
        if not name:
            names = self.home.names()
            if len(names) == 1:
                return names[0]
            here = f" (identities here: {', '.join(sorted(names))})" if names else ""
            raise InvalidInput(f"which identity acts? set REFUGE_USER or use refuge --as NAME{here}")
        return check_name(name)

    def secret(self, name: str | None = None) -> SecretIdentity:
        """The acting person's identity, from the unlock agent or their passphrase."""
        name = name or self.user_name()
        held = agent.fetch(self.home, name)
        if held is not None:
            return held
        self.require_identity(name)
        return self.home.unlock(name, passphrase(f"Passphrase for {name}: "))

    def require_identity(self, name: str) -> None:
        """Refuse a name with no identity here before anyone types a passphrase for it."""
        if not self.home.has(name):
            names = sorted(self.home.names())
            here = f"identities here: {', '.join(names)}" if names else "none here yet: refuge user keygen NAME makes one"
            raise NotFound(f"no identity named {name} in REFUGE_HOME ({here}); set REFUGE_HOME or REFUGE_USER")

    def vault(self) -> Vault:
        """The vault, opened as the acting person."""
        if self._opened is None:
            self._opened = Vault.open(self.location(), self.home, self.secret)
        return self._opened

    def vault_if_unlocked(self) -> Vault | None:
        """The vault, if one is configured and opens without asking anything; else None."""
        try:
            if not self.has_location():
                return None
            name = self.user_name()
            if agent.fetch(self.home, name) is None and not (os.environ.get("REFUGE_PASSPHRASE")
                                                            or os.environ.get("REFUGE_PASSPHRASE_FILE")):
                return None
            return self.vault()
        except (RefugeError, OSError, ValueError):
            return None


pass_ctx = click.make_pass_decorator(Context)


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
        if confirm:  # a new identity's passphrase: there is nothing to unlock yet
            raise Locked("no terminal to type the new passphrase on: run this on a terminal, or set "
                         "REFUGE_PASSPHRASE_FILE for scripts")
        raise Locked("no passphrase and no terminal to ask for it: run refuge unlock on a terminal first, or set "
                     "REFUGE_PASSPHRASE_FILE for scripts")
    import getpass

    first = getpass.getpass(prompt)
    if confirm:
        check_passphrase(first)
        if getpass.getpass("Again: ") != first:
            raise InvalidInput("the two passphrases differ; try again")
    return first


def new_passphrase(name: str, passphrase_file: str | None) -> str:
    """The passphrase of someone else's new identity: from a file, or typed twice on a terminal.

    Never the acting person's own REFUGE_PASSPHRASE: one person's secret must
    not silently protect another's identity.
    """
    import getpass

    if passphrase_file:
        chosen = read_password_file(passphrase_file, "--passphrase-file")
    elif sys.stdin.isatty():
        chosen = getpass.getpass(f"New passphrase for {name} (they will use it): ")
        if getpass.getpass("Again: ") != chosen:
            raise InvalidInput("the two passphrases differ; try again")
    else:
        raise InvalidInput(f"{name} needs a passphrase of their own: give --passphrase-file FILE, or run this on a "
                           "terminal to type it; or let them make their identity with refuge user keygen")
    check_passphrase(chosen)
    return chosen


# A document or packet id: a case id (16 base32 characters), then 8 more (a packet's after "p").
_OPAQUE_ID = re.compile(r"[a-z2-7]{16}(-p?[a-z2-7]{8})?")


def unresolved(vault: Vault, typed: str, case_id: str, targets: dict, key: str = "doc") -> None:
    """Record a refused or unknown name without recording what was typed.

    An id of the vault's own opaque form in a case that exists (refused for want
    of membership) is recorded as it is, under ``key``: it names nothing a
    person typed. Anything else is recorded only as a keyed hash.
    """
    if case_id in vault.case_ids() and _OPAQUE_ID.fullmatch(typed):
        targets["case"] = case_id
        if typed != case_id:
            targets[key] = typed
    else:
        targets["unresolved"] = vault.typed_hash(typed)


@contextlib.contextmanager
def resolving(vault: Vault, typed: str, targets: dict, key: str = "doc"):
    """Around a library call that resolves what a person typed: if it names nothing of
    theirs (NotFound, NotPermitted), record it the way :func:`unresolved` does, and re-raise."""
    try:
        yield
    except (NotFound, NotPermitted):
        unresolved(vault, typed, typed.partition("-")[0], targets, key)
        raise


def find_case(vault: Vault, ref: str, targets: dict):
    """Find a case of mine and name it (its opaque id) in the command's audit entry.

    What was typed never reaches the audit log: a reference that names no case
    of mine is recorded as a keyed hash only.
    """
    with resolving(vault, ref, targets):
        found = vault.find_case(ref)
    targets["case"] = found.id
    return found


def find_target_case(vault: Vault, ref: str, targets: dict):
    """Find the case a document goes to (``doc move --to``), named ``to_case`` in the audit entry."""
    scratch: dict = {}
    try:
        return find_case(vault, ref, scratch)
    finally:
        targets.update({("to_" + k if k == "case" else k): v for k, v in scratch.items()})


def find_document(vault: Vault, doc_id: str, targets: dict, key: str = "doc"):
    """Find a document of one of my cases, by its id or a unique prefix of it (4 characters or
    more), and name it (case and document ids) in the audit entry under ``key``.

    An ambiguous prefix is refused with the candidates' short ids, and their
    titles when the error goes to a terminal (titles never reach the audit log).
    """
    from vault.documents import Ambiguous

    try:
        with resolving(vault, doc_id, targets, key):
            case, doc = vault.find_document(doc_id)
    except Ambiguous as e:
        targets["unresolved"] = vault.typed_hash(doc_id)
        if not sys.stderr.isatty():
            raise
        shown = ", ".join(doc_name(d) for d in e.candidates[:10]) + (", ..." if len(e.candidates) > 10 else "")
        raise InvalidInput(f"{len(e.candidates)} documents start with {doc_id.strip().lower()}: {shown}",
                           hint=e.hint) from None
    targets["case"] = case.id
    targets[key] = doc.id
    return case, doc


def doc_in_case(vault: Vault, case, doc_id: str, targets: dict) -> str:
    """The full id of a document of ``case`` named by id or prefix (``--supersedes``, ``--doc``, ...).

    What was typed, if it names nothing, is recorded as :func:`unresolved` does.
    """
    if doc_id in case.documents:
        return doc_id
    scratch: dict = {}
    try:
        where, doc = find_document(vault, doc_id, scratch)
    except RefugeError:
        if "unresolved" in scratch:
            targets.setdefault("unresolved", scratch["unresolved"])
        raise
    if where.id != case.id:
        raise InvalidInput(f"{doc.short_id} is not a document of this case", hint="doc-list")
    return doc.id


def doc_name(doc) -> str:
    """A document as a person reads it in an error or warning: its short id, and its title on a terminal.

    Titles are secrets of the case: they go to the person's own terminal only,
    never to a pipe or file that may become a log.
    """
    if sys.stderr.isatty():
        return f"{doc.short_id} ({' '.join(doc.title.split())[:60]})"
    return doc.short_id


def read_input(path: str, what: str) -> bytes:
    """The bytes of a file the person named, or a one-line error naming ``what``."""
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InvalidInput(f"{what} cannot be read; check the path") from None


def read_password_file(path: str, option: str = "--password-file") -> str:
    """The password on the first line of a file (the line break is not part of it)."""
    try:
        text = read_input(path, f"the {option}").decode()
    except UnicodeDecodeError:
        raise InvalidInput(f"the {option} is not text; put the password on its first line") from None
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise InvalidInput(f"the {option} is empty; put the password on its first line")
    return password


def force_option(f):
    """The shared --force of every command that writes a file: without it, an existing file is never replaced."""
    return click.option("--force", is_flag=True, help="Replace the output file if it exists.")(f)


def parse_date(value: str | None, option: str) -> str | None:
    """A YYYY-MM-DD option value, checked."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"{option} {value} is not a date; use YYYY-MM-DD") from None


def parse_time(value: str | None, option: str, end: bool = False) -> str | None:
    """An ISO 8601 option value as a UTC time; a bare date at ``end`` means its last second."""
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


class SecretText(click.ParamType):
    """A value people should not type on the command line: ``@FILE`` reads it from a file, ``@-`` from stdin.

    Anything typed in argv is visible to every local user (/proc/PID/cmdline)
    and lands in shell history; a file or a pipe is not. ``@@text`` is a literal
    value starting with ``@``.
    """

    name = "text"

    def convert(self, value, param, ctx):
        if not isinstance(value, str) or not value.startswith("@"):
            if value and isinstance(value, str):
                typed_in_the_open()
            return value
        if value.startswith("@@"):
            return value[1:]
        source = value[1:]
        what = f"the file given to {param.opts[-1]}" if param is not None and param.opts else "the file"
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InvalidInput(f"{what} cannot be read as UTF-8 text; check the path") from None
        return text.rstrip("\n")


def typed_in_the_open() -> None:
    """Tell a person at a terminal, once, that a secret typed as an argument is on show (scripts are not told)."""
    global _WARNED
    if _WARNED or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    _WARNED = True
    click.echo("refuge: warning: a name or note typed as an argument is visible to every user of this machine while "
               "the command runs, and stays in your shell history; next time read it from a file (@FILE, @- or "
               "--from-file, as the command's --help says)",
               err=True)


_WARNED = False
SECRET_TEXT = SecretText()
SECRET_HELP = " Give @FILE (or @- for standard input) to keep it off the command line."


def read_lines(source: str, what: str) -> list[str]:
    """Non-empty lines of a file, or of standard input when ``source`` is ``-``."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidInput(f"{what} cannot be read as UTF-8 text; check the path") from None
    return [line.strip() for line in text.splitlines() if line.strip()]
