"""The ``refuge`` program's first step: a routed command goes to the running unlock agent.

Starting Python and loading the command line and the vault's code costs more
than encrypting a 64 MiB file. An unlock agent already holds the identity and
has that code loaded; it runs a routed command (refuge/_agent_commands.py) in a
fork of itself, with this process's arguments, folder, environment (never
REFUGE_PASSPHRASE) and standard streams, and this process exits with its code.
Ctrl-C here interrupts it there.

This module loads only what reaching the agent needs. Anything else (no agent,
a folder or socket not this user's, an agent of other code or identity, a
closed standard stream) and every other command run here, as before.
"""

from __future__ import annotations

import json
import os
import sys

from ._agent_commands import NOT_SENT, ROUTED, place


def main() -> None:
    """Run ``refuge``: through the agent if it can, else here (refuge.cli.main)."""
    argv = sys.argv[1:]
    if tuple(argv[:2]) in ROUTED and not {"-h", "--help"} & set(argv):
        try:
            code = _through_agent(argv)
        except KeyboardInterrupt:  # before the agent was told "go on" (after, Ctrl-C is sent to it): nothing ran
            from .errors import die

            die("interrupted", 130)
        if code is not None:
            sys.exit(code)
    from .cli import main as run_here

    run_here()


_FIRST_ANSWER = 10.0  # seconds for the agent to say it runs the command (it answers in milliseconds)


def _user(home: str) -> str | None:
    """Whose agent to ask: as refuge/_context.py chooses (without --as, which routed commands never see
    before their name); the agent's child checks it chose the same, else the command runs here."""
    name = os.environ.get("REFUGE_USER")
    if name:
        return name
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
    """The command's exit code from the agent, or None if it did not run there (nothing was done)."""
    import array
    import socket

    from vault import agent, hardening
    from vault._homepath import default_home

    hardening.no_core_dumps()  # as refuge/cli.py: its environment may hold a cloud credential
    try:  # a standard stream closed (`>&-`): the connection would take its number and go as that stream
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return None
    home = default_home()
    name = _user(home)
    conn = agent.connect(home, name, timeout=None) if name else None
    if conn is None:
        return None
    with conn:
        try:
            request = {"op": "run", "argv": argv, "cwd": os.getcwd(), "place": place(),
                       "code": os.path.dirname(__file__),
                       "env": {k: v for k, v in os.environ.items() if k not in NOT_SENT},
                       "encodings": {n: [s.encoding, s.errors] for n, s in
                                     (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr)) if s}}
            conn.sendmsg([json.dumps(request).encode() + b"\n"],
                          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", (0, 1, 2)))])
            replies = conn.makefile("rb")
            conn.settimeout(_FIRST_ANSWER)
            if _reply(replies) != {"running": True}:  # "fallback", an agent that runs no command, or none answers
                return None
            conn.settimeout(None)  # then as long as the command runs
            conn.sendall(b"g")  # it starts only now: a client that gave up above never has it run as well
        except OSError:  # a standard stream closed, the agent gone: nothing ran
            return None
        with _interrupts_to(conn):
            last = _reply(replies)
    if not isinstance(last, dict) or not isinstance(last.get("exit"), int):
        from .errors import show

        show("the unlock agent stopped while it ran the command; see refuge doc list before running it again")
        return 1
    return last["exit"]


def _reply(replies) -> dict | None:
    try:
        line = replies.readline(65536)
    except OSError:
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


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
        import signal

        for name in self.SIGNALS:
            self.before[name] = signal.signal(getattr(signal, name), self._forward)
        return self

    def __exit__(self, *exc) -> None:
        import signal

        for name, handler in self.before.items():
            signal.signal(getattr(signal, name), handler)
