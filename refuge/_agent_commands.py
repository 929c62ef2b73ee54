"""Commands run by the unlock agent: `refuge doc add` without starting Python and opening the vault's
code again for every file.

A command that reaches a running agent (refuge/_launch.py, the client) sends its
arguments, working folder and environment (never REFUGE_PASSPHRASE) with its
standard input, output and error as descriptors. The agent forks; the child
takes the client's folder, environment and descriptors and runs the command
through the ordinary command line (refuge/cli.py), with the identity it
already holds, then sends the exit code. The client waits and exits with it.
Everything the command does is what it does in a process of its own: the
same checks, the same keyless intake worker, the same audit entry.

The child runs only if the client's REFUGE_HOME and user name lead to this
very agent, the client is of the same installation, sees the same files (mount
namespace and root) with the same groups, and the code is the one the agent
loaded (not upgraded or edited since); otherwise it answers "fallback" before
doing anything, and the client runs the command itself. The command takes the
client's umask, resource limits and niceness (those it cannot take: it falls
back). The agent keeps one child forked ahead (the spare), its keyless workers
(intake's check, the search index's text) started, for the next command.
The client's interrupt (Ctrl-C, or the client dying) interrupts the child as
Ctrl-C interrupts a command: nothing half-done is left.

The agent's socket admits only its own user (vault/agent.py); the forked
child is as unable to dump core or be traced as the agent.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ._launch import FALLBACK, GO, NOT_SENT, ROUTED, RUNNING, exit_line, place, signal_line

#: The resource limits (resource.RLIMIT_*) the child takes from its client, with its niceness: the command
#: is bound as it would be in a process of its own (ulimit -f, -v, -t; nice).
LIMITS = ("AS", "CPU", "DATA", "FSIZE", "MEMLOCK", "NOFILE", "NPROC", "STACK")


def _code_files() -> list[str]:
    """refuge's modules and their folders (a module added or removed changes its folder's time)."""
    paths = []
    for package in ("refuge", "vault", "packets"):
        folder = Path(sys.modules[package].__file__).parent
        found = (folder, *folder.glob("*.py"), *folder.glob("commands"), *folder.glob("commands/*.py"))
        paths += [str(p) for p in found]
    return paths


def _code_stamp(files: list[str]) -> tuple:
    """What refuge's code on disk is now: the newest change to its modules (an upgrade, an edit)."""
    newest = 0
    for path in files:
        try:
            newest = max(newest, os.stat(path).st_mtime_ns)
        except OSError:
            pass
    return (sys.modules["refuge"].__file__, newest)


_LOADED: list = []  # the code's files, and their stamp when the agent loaded them
_SPARE: list = []  # the child forked ready for the next command: (pid, the socket that hands it one)
_RUNNING: dict = {}  # in the agent: a descriptor of each running command's connection, by the command's pid


def _prepare(identity: str, path: Path) -> None:
    """Load, once in the agent, what a routed command runs (the children fork with it loaded),
    and fork the first spare child."""
    import click

    import packets  # noqa: F401  (its folder is part of the code's stamp)

    from . import cli

    ctx = click.Context(cli.cli)
    for group, name in ROUTED:
        cli.cli.get_command(ctx, group).get_command(ctx, name)
    # and what a doc add loads as it goes (a child importing them would add 30 ms to every add)
    import concurrent.futures.thread  # noqa: F401
    import subprocess  # noqa: F401
    import tempfile  # noqa: F401  (the child resets its folder: 4 ms with shutil and the compressors)

    from vault import _caseindex, core, documents, intake, orgkey, searching, worker  # noqa: F401
    from vault.identity import SecretIdentity

    SecretIdentity.from_text(identity)  # its first use loads the crypto backend

    from packets import _text  # noqa: F401  (the search index's text worker, started by each spare)

    from . import _context, formats, indexing  # noqa: F401

    files = _code_files()
    _LOADED.extend((files, _code_stamp(files)))
    _fork_spare(identity, path, after=None)


def serve(conn, request: dict, fds: list[int], identity: str, path: Path) -> None:
    """The agent's extension (vault.agent.start): run a routed command in a child of the agent.

    The spare child takes it if there is one (its keyless workers are started already);
    else a child is forked for it. Then the next spare is forked.
    """
    from vault import agent

    if request.get("op") != "run" or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return
    running = _hand_to_spare(conn, request, fds)
    if running is None:
        running = os.fork()
        if not running:
            code = 1
            try:
                agent.forked()
                _forget_running()
                _process_name(b"refuge-command")
                code = _child(conn, request, fds, identity, path)
            finally:
                os._exit(code)
    for fd in fds:
        os.close(fd)
    _RUNNING[running] = os.dup(conn.fileno())  # a descriptor, not socket.dup(), which would set the
    # timeout of this socket on it: O_NONBLOCK on the open file the command shares, under its blocking reads
    _fork_spare(identity, path, after=running, leave=conn)


def _ended(pid: int, status: int) -> None:
    """The agent reaped a child. If it ran a command and a signal ended it (the OOM killer, SIGKILL,
    SIGXCPU under the client's CPU limit), it never gave its exit: the client hears the signal
    and ends by it too, as a process of its own would have."""
    fd = _RUNNING.pop(pid, None)
    if fd is None:
        return
    try:
        if os.WIFSIGNALED(status):
            os.write(fd, signal_line(os.WTERMSIG(status)))  # one short line: it fits the socket's buffer
    except OSError:  # the client is gone
        pass
    finally:
        os.close(fd)


def _forget_running() -> None:
    """In a child of the agent: close the agent's copies of other commands' connections (while a
    copy lives, a client whose command died would not hear of it)."""
    while _RUNNING:
        os.close(_RUNNING.popitem()[1])


serve.prepare = _prepare
serve.ended = _ended


def _hand_to_spare(conn, request: dict, fds: list[int]) -> int | None:
    """Give the spare child the client's connection, descriptors and request; its pid, or None."""
    import array
    import socket

    if not _SPARE:
        return None
    pid, handoff = _SPARE.pop()
    with handoff:
        try:
            handoff.sendmsg([json.dumps(request).encode()],
                           [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [conn.fileno(), *fds]))])
        except OSError:  # the spare is gone: the caller forks a child for the command
            return None
    return pid


def _fork_spare(identity: str, path: Path, after: int | None, leave=None) -> None:
    """Fork the child that will run the next command: once the command ``after`` has ended (so as not
    to take its CPU), it starts its keyless workers (intake, text) and waits. It dies with the agent.
    It closes ``leave``, the connection of the command before (whose client waits for its end)."""
    import socket

    from vault import agent

    ours, theirs = socket.socketpair()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        theirs.close()
        _SPARE.append((pid, ours))
        return
    code = 0
    try:
        agent.forked()
        _forget_running()
        ours.close()
        if leave is not None:
            leave.close()
        _process_name(b"refuge-spare")
        code = _spare(theirs, identity, path, parent, after)
    finally:
        os._exit(code)


def _spare(handoff, identity: str, path: Path, parent: int, after: int | None) -> int:
    import select
    import socket

    from vault import agent

    _prctl(_PR_SET_PDEATHSIG, 9)  # SIGKILL when the agent ends (a lock, its timeout): it holds the identity
    if os.getppid() != parent:
        return 0
    try:  # a process group of its own and of the workers it starts: the client's niceness reaches them
        os.setpgid(0, 0)
    except OSError:  # then the command takes it alone (_take_limits)
        pass
    if after is not None:  # until that command ends, or the next one comes first
        try:
            with os.fdopen(os.pidfd_open(after)) as ended:
                select.select([ended, handoff], [], [])
        except (OSError, AttributeError):  # ended already, or no pidfd here
            pass
    from packets import _text
    from vault import intake

    intake.warm_up()
    _text.warm_up()  # and the one that reads the new document's text for the search index
    data, fds = agent.receive_with_fds(handoff, 1 << 20, 4)
    chunks = [data]
    while data:
        data = handoff.recv(1 << 20)
        chunks.append(data)
    handoff.close()
    if len(fds) != 4:
        for fd in fds:
            os.close(fd)
        return 0
    _prctl(_PR_SET_PDEATHSIG, 0)  # a command under way finishes, as one in a process of its own does
    _process_name(b"refuge-command")
    conn = socket.socket(fileno=fds[0])
    try:
        request = json.loads(b"".join(chunks))
    except ValueError:
        return 1
    return _child(conn, request, fds[1:], identity, path)


_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def _prctl(option: int, value) -> None:
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        pass


def _process_name(name: bytes) -> None:
    """What ps and /proc/PID/comm call this process (the agent's children: spare, command)."""
    _prctl(_PR_SET_NAME, name)


def _child(conn, request: dict, fds: list[int], identity: str, path: Path) -> int:
    import io
    import tempfile

    from vault import agent
    from vault.identity import Home

    from ._context import Context

    argv = request.get("argv")
    env = request.get("env")
    if (not isinstance(argv, list) or tuple(argv[:2]) not in ROUTED or not all(isinstance(a, str) for a in argv)
            or not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values())):
        return _answer(conn, FALLBACK, 0)
    for fd, target in zip(fds, (0, 1, 2)):
        os.dup2(fd, target)
        os.close(fd)
    try:
        os.chdir(str(request.get("cwd")))
    except (OSError, ValueError):
        return _answer(conn, FALLBACK, 0)
    os.environ.clear()
    os.environ.update({k: v for k, v in env.items() if k not in NOT_SENT})
    tempfile.tempdir = None  # the client's TMPDIR, not the agent's
    try:  # only for the very identity this agent holds, and the code it loaded
        same = agent.socket_path(Home.default(), Context(None, None).user_name()) == path
    except Exception:
        same = False
    same_code = request.get("code") == os.path.dirname(__file__) and _code_stamp(_LOADED[0]) == _LOADED[1]
    if not same or not same_code or request.get("place") != place():  # another installation's client, or this
        # one's code changed since, or a client that sees other files at the same paths (a container)
        return _answer(conn, FALLBACK, 0)
    mask = request.get("umask")
    if (not _same_groups(conn) or not isinstance(mask, int) or not 0 <= mask <= 0o777
            or not _take_limits(conn)):
        return _answer(conn, FALLBACK, 0)
    os.umask(mask)  # the folders a new case's first document makes are the client's, as in its own process
    encodings = request.get("encodings") or {}
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        encoding, errors = (encodings.get(name) or ["utf-8", "strict"])[:2]
        raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
        stream = io.TextIOWrapper(io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw), encoding=encoding,
                                  errors=errors, line_buffering=fd == 2 or raw.isatty())
        setattr(sys, name, stream)
    conn.settimeout(30.0)
    try:
        conn.sendall(RUNNING)
        if conn.recv(1) != GO:  # the client gave up waiting, and runs the command itself
            return 0
    except OSError:
        return 0
    conn.settimeout(None)
    agent.hold(path, identity)
    _watch(conn)
    from .cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:  # after main's own handling: the client is gone
        code = 130
    except Exception:  # let through by main under REFUGE_DEBUG=1: shown, exit 1, as Python does in a process of its own
        import traceback

        traceback.print_exc()
        code = 1
    return _answer(conn, exit_line(code), code)


_SO_PEERGROUPS = 59  # Linux 4.13; Python 3.11's socket module does not name it


def _same_groups(conn) -> bool:
    """Whether the client has this process's group and supplementary groups: a process of the same
    user with fewer groups (a sandbox, a service) must not have the agent read files it cannot."""
    import socket
    import struct

    from vault import agent

    try:
        gid = agent.peer(conn)[2]
        raw = conn.getsockopt(socket.SOL_SOCKET, getattr(socket, "SO_PEERGROUPS", _SO_PEERGROUPS), 1024)
    except OSError:  # not Linux, an old kernel, over 256 groups: the command runs in the client
        return False
    groups = sorted(struct.unpack(f"{len(raw) // 4}I", raw[:len(raw) - len(raw) % 4]))
    return gid == os.getgid() and groups == sorted(os.getgroups())


def _take_limits(conn) -> bool:
    """Take the client's resource limits and niceness, read from the kernel (its pid as the connection
    recorded it), as a process of its own has them; False where this process cannot (a limit above the
    agent's hard one, a priority above the agent's): it runs there. The workers started ahead have the
    agent's limits: if any differs, they are stopped and the command starts its own."""
    import resource

    from packets import _text
    from vault import agent, intake

    try:
        pid = agent.peer(conn)[0]
        if pid <= 0:  # a client in a pid namespace this process cannot see (0 would name this process)
            return False
        theirs = {which: resource.prlimit(pid, which) for which in
                  (getattr(resource, f"RLIMIT_{name}") for name in LIMITS if hasattr(resource, f"RLIMIT_{name}"))}
        nice = os.getpriority(os.PRIO_PROCESS, pid)
    except (OSError, ValueError, AttributeError):  # gone, or not Linux
        return False
    changed = False
    for which, value in theirs.items():
        if value != resource.getrlimit(which):
            try:
                resource.setrlimit(which, value)
            except (ValueError, OSError):
                return False
            changed = True
    if changed:
        intake.stop_ahead()
        _text.stop_ahead()
    if nice != os.getpriority(os.PRIO_PROCESS, 0):
        leader = os.getpgrp() == os.getpid()  # a spare, with the workers it started ahead (never the agent's group)
        try:
            os.setpriority(os.PRIO_PGRP if leader else os.PRIO_PROCESS, 0, nice)
        except OSError:
            return False
    return True


def _answer(conn, line: bytes, code: int) -> int:
    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except (OSError, ValueError):
        pass
    try:
        conn.sendall(line)
    except OSError:
        pass
    return code


def _watch(conn) -> None:
    """Interrupt the command (as Ctrl-C) when the client asks, or hangs up."""
    import signal
    import threading

    main = threading.main_thread().ident

    def watch() -> None:
        try:
            conn.recv(1)
        except OSError:
            pass
        signal.pthread_kill(main, signal.SIGINT)  # a signal, not a flag: a blocked read ends too

    threading.Thread(target=watch, daemon=True, name="refuge-client").start()
