"""The unlock agent: holds one decrypted identity for a while, like ssh-agent.

Unlocking costs about a second of scrypt by design, so unlocking starts a small
background process that keeps the identity in memory and answers on a Unix
socket in a directory only its owner can open. Every connection's peer
credentials are checked against the owner's uid. The agent exits when its
timeout passes, when asked to stop, or when its socket is removed.

The agent is a fresh interpreter, not a fork of the command that unlocked: it
never saw the passphrase, and its environment is the minimal one of
vault.hardening (no REFUGE_PASSPHRASE). It is handed the unlocked identity
over a pipe, cannot dump core, cannot be read through /proc or ptrace by
other processes of the same user, and runs in ``/``.

Its socket lives in ``$XDG_RUNTIME_DIR`` when set (private by specification),
else in a per-uid folder of the temporary directory that the agent verifies
is its owner's, not a link and mode 700. A folder another user made first is
refused with a one-line error; commands then simply ask for the passphrase.

An application may give the agent more to do (:func:`start`'s ``extension``):
a function it loads once, when it starts, and calls with every request whose
operation the agent does not know itself, with the descriptors the request
carried. The application's command line uses this to run a command in a
process forked from the agent (refuge/_agent_commands.py).
"""

from __future__ import annotations

import os
import stat
import struct
import sys
import time

from .errors import InvalidInput

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported where used: `refuge doc add` reaches the agent with none of these loaded
    import _socket
    import socket
    from collections.abc import Callable
    from pathlib import Path

    from .identity import Home, SecretIdentity

__all__ = ["socket_path", "start", "fetch", "stop", "hold", "forked", "connect", "peer", "receive_with_fds",
           "AgentUnavailable"]

_MAX_REQUEST = 1 << 20  # a request with an extension's payload (a command's environment); one line of JSON
_MAX_FDS = 3
_REQUEST_TIME = 2.0  # seconds for a client to send its whole request (refuge sends it at once)


class AgentUnavailable(InvalidInput):
    """No safe place for the agent's socket (a folder another user made or opened)."""


def socket_path(home: Home | os.PathLike | str, name: str) -> Path:
    """Where the agent of ``name`` in ``home`` (a Home or its folder) listens (short enough for AF_UNIX).

    Raises AgentUnavailable when the folder is not private to this user.
    """
    from pathlib import Path

    return Path(_socket_file(home, name))


def _socket_file(home: Home | os.PathLike | str, name: str) -> str:
    base = os.environ.get("XDG_RUNTIME_DIR") or _tempdir()
    folder = os.path.join(base, f"refuge-agent-{os.getuid()}")
    try:
        os.mkdir(folder, mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        raise AgentUnavailable(f"the agent's folder {folder} cannot be made", hint="agent-folder") from None
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise AgentUnavailable(f"{folder} belongs to another user or is open to others, so an agent cannot "
                               "listen there safely", hint="agent-folder")
    root = os.path.realpath(os.fspath(getattr(home, "path", home)))
    key = _sha256(f"{root}\0{name}".encode()).hexdigest()[:20]
    return os.path.join(folder, f"{key}.sock")


def _existing_socket(home: Home | os.PathLike | str, name: str) -> str | None:
    try:
        path = _socket_file(home, name)
    except AgentUnavailable:
        return None  # no safe folder: no agent to ask; the passphrase still works
    return path if os.path.exists(path) else None


def _sha256(data: bytes):
    """SHA-256 without hashlib, whose import loads OpenSSL (3 ms of the client's 20: refuge/_launch.py)."""
    try:
        from _sha2 import sha256  # CPython 3.12 and later
    except ImportError:
        try:
            from _sha256 import sha256  # CPython 3.11
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def _tempdir() -> str:
    import tempfile  # only without XDG_RUNTIME_DIR: every command asks the agent first

    return tempfile.gettempdir()


def peer(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket, as the kernel recorded it."""
    import _socket

    creds = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)


def receive_with_fds(conn: socket.socket, size: int, most: int) -> tuple[bytes, list[int]]:
    """One recvmsg: up to ``size`` bytes and the descriptors (SCM_RIGHTS, at most ``most``) they carried."""
    import array
    import socket

    fds = array.array("i")
    data, ancillary, _, _ = conn.recvmsg(size, socket.CMSG_SPACE(most * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def connect(home: Home | os.PathLike | str, name: str, timeout: float | None = 2.0) -> _socket.socket | None:
    """A connection to the running agent of ``name`` in ``home``, or None (no agent, or not this user's).

    The agent's own uid is checked, as the agent checks its clients'. The connection is a plain
    ``_socket.socket`` (no ``with``, no makefile): the socket module's import costs the command line's
    first step 5 ms (refuge/_launch.py).
    """
    import _socket

    path = _existing_socket(home, name)
    if path is None:
        return None
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
        if peer(s)[1] != os.getuid():
            raise OSError("an agent of another user")
    except OSError:
        s.close()
        return None
    return s


def _request(home, name: str, op: str, timeout: float = 2.0) -> dict | None:
    import json

    s = connect(home, name, timeout)
    if s is None:
        return None
    try:
        s.sendall(json.dumps({"op": op}).encode() + b"\n")
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    except OSError:
        return None
    finally:
        s.close()
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return None


# The identity this process was handed by the agent it was forked from (hold), by socket path.
_held: dict[str, str] = {}
_listening: list = []  # in the agent: its listening socket
_woken: list[int] = []  # in the agent: the pipe a child's end (SIGCHLD) writes to, so that it is reaped at once


def forked() -> None:
    """First thing in a process forked from the agent (an extension's child): close the agent's
    listening socket, which only the agent answers (a child holding it would keep a killed
    agent's socket accepting connections nobody answers)."""
    while _listening:
        _listening.pop().close()
    if _woken:  # and the agent's way of hearing of its children's ends, not this process's
        import signal

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        while _woken:
            os.close(_woken.pop())


def hold(path: Path, identity: str) -> None:
    """In a process forked from the agent listening at ``path``: :func:`fetch` answers for that agent
    with ``identity`` itself, without a request to it."""
    _held[str(path)] = identity


def fetch(home: Home, name: str) -> SecretIdentity | None:
    """The identity held by a running agent, or None."""
    from .identity import SecretIdentity

    try:
        path = _socket_file(home, name)
    except AgentUnavailable:
        return None
    if path in _held:  # even once that agent is gone (locked, timed out): a command under way finishes
        return SecretIdentity.from_text(_held[path])
    if not os.path.exists(path):
        return None
    reply = _request(home, name, "identity")
    if not reply or "identity" not in reply:
        return None
    return SecretIdentity.from_text(reply["identity"])


def stop(home: Home, name: str) -> bool:
    """Ask the agent to forget its identity and exit; True if one was running."""
    path = _existing_socket(home, name)
    if path is None:
        return False
    reply = _request(home, name, "quit")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return reply is not None


def start(home: Home, secret: SecretIdentity, minutes: float, extension: str | None = None) -> Path:
    """Start an agent holding ``secret`` for ``minutes``; returns its socket path.

    ``extension`` ("module:function") is loaded by the agent when it starts and called in it as
    ``function(conn, request, fds, identity, path)`` for every request of an operation the agent
    does not know; it must close the descriptors ``fds`` it was given. A ``function.prepare(identity,
    path)`` is called once, at the start. Children it forks are reaped by the agent as they end, and
    ``function.ended(pid, status)`` (os.waitpid's) is told of each; they call :func:`forked` first.
    """
    import socket
    import subprocess

    from . import hardening

    path = socket_path(home, secret.name)
    stop(home, secret.name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    except OSError:  # most often a path past AF_UNIX's 108 bytes (a deep TMPDIR)
        listener.close()
        raise AgentUnavailable(f"the agent cannot listen at {path} (too long a path, or no room)",
                               hint="agent-folder") from None
    finally:
        os.umask(old)
    listener.listen(8)
    try:
        agent = subprocess.Popen(
            [sys.executable, "-P", "-m", "vault.agent", str(listener.fileno()), str(path), str(minutes * 60),
             *([extension] if extension else [])],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(listener.fileno(),),
            env=hardening.child_environment(), cwd="/", start_new_session=True)
        agent.stdin.write(secret.to_text().encode())
        agent.stdin.close()
    finally:
        listener.close()
    return path


def _agent_main(fd: int, path: str, seconds: float, extension: str | None = None) -> None:
    """The agent process: harden, take the identity from stdin, serve until the deadline."""
    import socket
    from pathlib import Path

    from . import hardening

    hardening.no_core_dumps()
    identity = sys.stdin.buffer.read().decode()
    sys.stdin.close()
    if not identity.strip():  # the unlock that started it died before handing it over (Ctrl-C, killed)
        Path(path).unlink(missing_ok=True)
        os._exit(0)
    listener = socket.socket(fileno=fd)
    listener.listen(8)  # again, so that clients' peer credentials name this process, not the one that bound it
    _listening.append(listener)
    try:
        _serve(listener, Path(path), identity, time.monotonic() + seconds, _load(extension, identity, Path(path)))
    finally:
        os._exit(0)


def _load(extension: str | None, identity: str, path: Path) -> Callable | None:
    if not extension:
        return None
    import importlib

    module, _, name = extension.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
        if prepare := getattr(function, "prepare", None):
            prepare(identity, path)  # once, before any request (as a keyless worker's task)
    except Exception:  # the agent still holds the identity; only the extension is missing
        return None
    return function


def _receive(conn: socket.socket, deadline: float) -> tuple[dict | None, list[int]]:
    """One request: a line of JSON, and the descriptors its first part carried (at most _MAX_FDS).

    (None, []) for a request not whole by ``deadline`` (a client trickling it holds the agent no longer),
    not JSON, or nested too deep for the parser; the descriptors it carried are closed then.
    """
    import json

    fds: list[int] = []
    try:
        conn.settimeout(max(deadline - time.monotonic(), 0.001))
        data, fds = receive_with_fds(conn, 65536, _MAX_FDS)
        chunks, size = [data], len(data)
        while data and not data.endswith(b"\n") and size < _MAX_REQUEST:
            conn.settimeout(max(deadline - time.monotonic(), 0.001))
            data = conn.recv(min(65536, _MAX_REQUEST - size))
            chunks.append(data)
            size += len(data)
        request = json.loads(b"".join(chunks))
    except (OSError, ValueError, RecursionError):  # gone, too slow, not JSON, too deep
        request = None
    if not isinstance(request, dict):
        for fd in fds:
            os.close(fd)
        return None, []
    return request, list(fds)


def _serve(listener: socket.socket, path: Path, identity: str, deadline: float, extension: Callable | None) -> None:
    import select
    import signal
    import socket

    uid = os.getuid()
    woken, wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _woken.extend((woken, wake))
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a child's end wakes the select below (set_wakeup_fd)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    listener.settimeout(1.0)  # accept() after select() said a connection waits: one gone meanwhile blocks no one
    while (left := deadline - time.monotonic()) > 0 and path.exists():
        _reap(extension)
        ready = select.select([listener, woken], [], [], min(left, 5.0))[0]
        if woken in ready:
            os.read(woken, 4096)  # a byte a signal: whatever is left wakes the next select, harmlessly
        if listener not in ready:
            continue
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:  # out of descriptors, a connection aborted: the next one may do
            time.sleep(0.1)
            continue
        with conn:
            if _handle(conn, uid, identity, extension, path) == "quit":
                break
    path.unlink(missing_ok=True)


def _handle(conn: socket.socket, uid: int, identity: str, extension: Callable | None, path: Path) -> str | None:
    """Answer one connection. Whatever goes wrong with it (a client gone before its answer, a broken
    request) ends that connection only, never the agent: it holds the identity for later commands."""
    import json

    fds: list[int] = []
    try:
        if peer(conn)[1] != uid:
            return None
        request, fds = _receive(conn, time.monotonic() + _REQUEST_TIME)
        conn.settimeout(_REQUEST_TIME)
        op = request.get("op") if request else None
        if op == "identity":
            conn.sendall(json.dumps({"identity": identity}).encode())
        elif op == "quit":
            try:
                conn.sendall(b'{"ok": true}')
            except OSError:  # asked to stop, it stops, whether or not the asker waits for the answer
                pass
            return "quit"
        elif op and extension is not None:
            given, fds = fds, []  # the extension's to close, even if it fails
            extension(conn, request, given, identity, path)
    except Exception:
        pass
    finally:
        for fd in fds:
            os.close(fd)
    return None


def _reap(extension: Callable | None) -> None:
    """Collect the extension's finished children (it may fork), so none is left a zombie, and tell it
    how each ended (``extension.ended(pid, status)``, if it has one)."""
    ended = getattr(extension, "ended", None)
    try:
        while (found := os.waitpid(-1, os.WNOHANG))[0]:
            if ended is not None:
                try:
                    ended(*found)
                except Exception:  # the agent goes on whatever an extension does with the news
                    pass
    except ChildProcessError:
        pass


if __name__ == "__main__":
    # run as vault.agent, not as this copy named __main__: the extension's children call vault.agent.forked(),
    # which must see the listening socket registered here (else every child keeps the agent's socket open)
    from vault.agent import _agent_main as main

    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), *sys.argv[4:5])
