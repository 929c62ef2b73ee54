"""The ``refuge`` program's first step: a routed command goes to the running unlock agent.

Starting Python and loading the command line and the vault's code costs more
than encrypting a 64 MiB file. An unlock agent already holds the identity and
has that code loaded; it runs a routed command (refuge/_agent_commands.py) in a
fork of itself, with this process's arguments, folder, environment (never
REFUGE_PASSPHRASE) and standard streams, and this process exits with its code.
Ctrl-C here interrupts it there.

This module loads only what reaching the agent needs. Anything else (no agent,
a folder or socket not this user's, an agent of other code or identity, a
client in a container or with other groups, a closed standard stream) and every
other command run here, as before.
"""

from __future__ import annotations

import os
import sys

#: The commands an agent runs: the hot path of large files. Others (with prompts,
#: long builds, a terminal's Ctrl-C) run in their own process.
ROUTED = (("doc", "add"),)

#: Environment variables a client never sends (the agent holds the identity already).
NOT_SENT = ("REFUGE_PASSPHRASE", "REFUGE_PASSPHRASE_FILE")

# The agent's answers to "run", one line each (docs/format.md); written by refuge/_agent_commands.py.
RUNNING = b'{"running": true}\n'
FALLBACK = b'{"fallback": true}\n'
GO = b"g"  # the client's word that the agent may start: it has not given up waiting


def exit_line(code: int) -> bytes:
    """The agent's last answer: the command's exit code."""
    return b'{"exit": %d}\n' % code


def signal_line(number: int) -> bytes:
    """The agent's last answer instead when signal ``number`` ended the command's process."""
    return b'{"signal": %d}\n' % number


def _number(line: bytes, key: bytes) -> int | None:
    head, tail = b'{"' + key + b'": ', b"}\n"
    if line.startswith(head) and line.endswith(tail) and line[len(head):-len(tail)].lstrip(b"-").isdigit():
        return int(line[len(head):-len(tail)])
    return None


def _json(value) -> str:
    """JSON of strings and integers, and lists and dicts of them, by the json module's own C escaper (importing json
    itself would load the regular expression engine: 6 ms of a command that takes 100)."""
    from _json import encode_basestring_ascii as quoted

    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quoted(k)}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


def place() -> str:
    """Where this process sees files from: its mount namespace and its root folder. A client of the same user
    in a container or chroot, with the agent's socket in reach, sees other files at the same paths."""
    try:
        mounts = os.readlink("/proc/self/ns/mnt")
    except OSError:
        mounts = ""
    try:
        root = os.stat("/")
    except OSError:
        return mounts
    return f"{mounts} {root.st_dev}:{root.st_ino}"


def _standard_streams() -> None:
    """A standard stream the caller closed (`>&-`) becomes /dev/null: otherwise the next file refuge
    opens (or the connection to the agent) would take its number, and a line meant for the terminal
    would be written into it."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def main() -> None:
    """Run ``refuge``: through the agent if it can, else here (refuge.cli.main)."""
    _standard_streams()
    argv = sys.argv[1:]
    if tuple(argv[:2]) in ROUTED and not {"-h", "--help"} & set(argv):
        try:
            code = _through_agent(argv)
        except KeyboardInterrupt:  # before the agent was told "go on" (after, Ctrl-C is sent to it): nothing ran
            from .errors import die

            die("interrupted", 130)
        if code is not None:  # nothing of this process's own to flush or clean up: no finalization (5 ms)
            _flush()
            os._exit(code)
    from .cli import main as run_here

    run_here()


_FIRST_ANSWER = 10.0  # seconds for the agent to say it runs the command (it answers in milliseconds)


def _user(home: str) -> str | None:
    """Whose agent to ask: as refuge/_context.py chooses (without --as, which routed commands never see
    before their name); the agent's child checks it chose the same, else the command runs here."""
    name = os.environ.get("REFUGE_USER")
    if name:
        return name
    if os.path.exists(os.path.join(home, "config.json")):
        import json  # a default user in the home's settings: rarer than REFUGE_USER

        try:
            with open(os.path.join(home, "config.json"), "rb") as f:
                name = json.loads(f.read(65536)).get("default_user")
        except (OSError, ValueError, AttributeError):
            name = None
        if name:
            return name
    try:
        names = [n[:-4] for n in os.listdir(os.path.join(home, "identities")) if n.endswith(".age")]
    except OSError:
        return None
    return names[0] if len(names) == 1 else None


def _through_agent(argv: list[str]) -> int | None:
    """The command's exit code from the agent, or None if it did not run there (nothing was done).

    Only modules Python starts with or that load in microseconds (``_socket``, not ``socket``,
    whose import alone costs 5 ms): a 64 MiB add takes 130 ms here, age and sync 112.
    """
    import _socket

    from vault import agent, hardening
    from vault._homepath import default_home

    hardening.no_core_dumps()  # as refuge/cli.py: its environment may hold a cloud credential
    home = default_home()
    name = _user(home)
    conn = agent.connect(home, name, timeout=None) if name else None
    if conn is None:
        return None
    try:
        try:
            mask = os.umask(0o077)
            os.umask(mask)
            request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "place": place(), "umask": mask,
                       "code": os.path.dirname(__file__),
                       "env": {k: v for k, v in os.environ.items() if k not in NOT_SENT},
                       "encodings": {n: [s.encoding, s.errors] for n, s in
                                     (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr)) if s}}
            streams = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))  # C ints, as SCM_RIGHTS takes
            conn.sendmsg([_json(request).encode("ascii") + b"\n"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, streams)])
            conn.settimeout(_FIRST_ANSWER)
            if _line(conn) != RUNNING:  # "fallback", an agent that runs no command, or none answers
                return None
            conn.settimeout(None)  # then as long as the command runs
            conn.sendall(GO)  # it starts only now: a client that gave up above never has it run as well
        except (OSError, UnicodeError):  # a standard stream closed, the agent gone, an unencodable name: nothing ran
            return None
        with _interrupts_to(conn):
            try:
                line = _line(conn)
            except OSError:
                line = b""
    finally:
        conn.close()
    code = _number(line, b"exit")
    if (number := _number(line, b"signal")) is not None:
        _die_of(number)
    if code is None:
        from .errors import show

        show("the unlock agent stopped while it ran the command; see refuge doc list before running it again")
        return 1
    return code


def _die_of(number: int) -> None:
    """End by signal ``number``, as the command's process did (a process of its own would have died of it:
    the shell shows "Killed", a script sees 128 + number)."""
    import _signal

    _flush()
    try:
        if number != _signal.SIGKILL:  # (whose action no one sets)
            _signal.signal(number, _signal.SIG_DFL)
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {number})
        os.kill(os.getpid(), number)
    except (OSError, ValueError):  # not a signal this process can die of: its code, as a shell reports it
        pass
    os._exit(128 + number)


def _flush() -> None:
    """What this process printed, out before it ends without Python's finalization."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _line(conn, most: int = 64) -> bytes:
    """One answer line of the agent (at most ``most`` bytes), read a byte at a time: nothing past it is taken."""
    line = b""
    while len(line) < most and not line.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return line


class _interrupts_to:
    """Ctrl-C, SIGTERM and SIGHUP here interrupt the command in the agent (its answer still ends this)."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self, conn) -> None:
        self.conn = conn
        self.before: dict = {}

    def _forward(self, signum, frame) -> None:
        try:
            self.conn.send(b"i")
        except OSError:
            pass

    def __enter__(self):
        import _signal  # not signal, which loads enum

        for name in self.SIGNALS:
            self.before[name] = _signal.signal(getattr(_signal, name), self._forward)
        return self

    def __exit__(self, *exc) -> None:
        import _signal

        for name, handler in self.before.items():
            _signal.signal(getattr(_signal, name), handler)
