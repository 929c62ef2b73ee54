"""The exceptions of refuge's libraries.

Each carries the exit code the command line uses for it (DESIGN.md): 1 for bad
input or something not found, 3 when verification fails, 4 when an action is
not permitted. Messages are one line, lower case, and name the way out; they
never contain secrets, names of people in a case, case references, titles or
file names, because they may end up in logs.
"""


class RefugeError(Exception):
    """A failure the user can act on; exit code 1.

    ``hint`` is a short code (``"case-list"``) for the way out; the
    application maps it to words that may name its own commands, which a
    library never does.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class NotFound(RefugeError):
    """A user, case, document or object does not exist."""


class InvalidInput(RefugeError):
    """A file or argument was refused."""


class VerificationFailed(RefugeError):
    """Tampering, a bad signature or a broken log; exit code 3."""

    exit_code = 3


class NotPermitted(RefugeError):
    """Role, membership or consent forbids the action; exit code 4."""

    exit_code = 4


class NotStored(RefugeError):
    """A disk refused a write (full, over quota, read-only, failing); nothing of it was kept."""


class Locked(RefugeError):
    """The identity is locked and no passphrase is available."""
