"""Process hygiene for anything that holds a secret, and for the children it starts.

A process holding an identity, a case key or a signing key must never dump
core: a core file is the process's memory on disk, where a passphrase and
``AGE-SECRET-KEY-1`` lines can be read by whoever finds it. Children (the
keyless worker, Tesseract, LibreOffice) get a minimal environment, so a
``REFUGE_PASSPHRASE`` set for a script never reaches a program that parses a
stranger's file.
"""

from __future__ import annotations

import ctypes
import os
import resource

__all__ = ["no_core_dumps", "child_environment", "isolate_network"]

_PR_SET_DUMPABLE = 4
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000

# What a child may see of the environment: where programs are, the language, and the
# settings of the tools refuge runs. Nothing else, so no REFUGE_* secret and no cloud credential.
_PASSED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TESSDATA_PREFIX", "PYTHONPATH", "SOURCE_DATE_EPOCH")


def _libc():
    try:  # glibc's name, loaded directly: ctypes.util (which find_library needs) costs every command's start
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c"), use_errno=True)


def no_core_dumps() -> None:
    """Make this process unable to leave a core file, and keep other processes of the same user from reading it.

    RLIMIT_CORE 0 stops core files; PR_SET_DUMPABLE 0 also stops ptrace
    attachment and reads of /proc/PID/mem, environ and maps by anything but
    root. Both are inherited by forked children.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the core limit alone
        pass


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process: PATH, locale and tool settings only, plus ``extra``.

    Never REFUGE_PASSPHRASE, REFUGE_PASSPHRASE_FILE, AWS credentials or anything
    else a script may have exported for refuge itself.
    """
    env = {k: os.environ[k] for k in _PASSED if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(extra)
    return env


def isolate_network() -> bool:
    """Move this process into a new network namespace with no interface but a down loopback.

    Works as root (CAP_SYS_ADMIN) or where unprivileged user namespaces are
    allowed; returns whether it worked. Parsers of a stranger's file then cannot
    reach any network, whatever the file makes them do.
    """
    libc = _libc()
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return True
    return False
