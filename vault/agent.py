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
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import hardening
from .errors import InvalidInput
from .identity import Home, SecretIdentity

if TYPE_CHECKING:  # imported where used: most commands never start or reach the agent
    import socket

__all__ = ["socket_path", "start", "fetch", "stop", "AgentUnavailable"]

_MAX_REQUEST = 4096


class AgentUnavailable(InvalidInput):
    """No safe place for the agent's socket (a folder another user made or opened)."""


def socket_path(home: Home, name: str) -> Path:
    """Where the agent of ``name`` in ``home`` listens (short enough for AF_UNIX).

    Raises AgentUnavailable when the folder is not private to this user.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or _tempdir()
    folder = Path(base) / f"refuge-agent-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        raise AgentUnavailable(f"the agent's folder {folder} cannot be made", hint="agent-folder") from None
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise AgentUnavailable(f"{folder} belongs to another user or is open to others, so an agent cannot "
                               "listen there safely", hint="agent-folder")
    key = hashlib.sha256(f"{home.path.resolve()}\0{name}".encode()).hexdigest()[:20]
    return folder / f"{key}.sock"


def _existing_socket(home: Home, name: str) -> Path | None:
    try:
        path = socket_path(home, name)
    except AgentUnavailable:
        return None  # no safe folder: no agent to ask; the passphrase still works
    return path if path.exists() else None


def _tempdir() -> str:
    import tempfile  # only without XDG_RUNTIME_DIR: every command asks the agent first

    return tempfile.gettempdir()


def _peer_uid(conn: socket.socket) -> int:
    import socket

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _request(path: Path, op: str, timeout: float = 2.0) -> dict | None:
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps({"op": op}).encode() + b"\n")
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
    except OSError:
        return None
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return None


def fetch(home: Home, name: str) -> SecretIdentity | None:
    """The identity held by a running agent, or None."""
    path = _existing_socket(home, name)
    if path is None:
        return None
    reply = _request(path, "identity")
    if not reply or "identity" not in reply:
        return None
    return SecretIdentity.from_text(reply["identity"])


def stop(home: Home, name: str) -> bool:
    """Ask the agent to forget its identity and exit; True if one was running."""
    path = _existing_socket(home, name)
    if path is None:
        return False
    reply = _request(path, "quit")
    path.unlink(missing_ok=True)
    return reply is not None


def start(home: Home, secret: SecretIdentity, minutes: float) -> Path:
    """Start an agent holding ``secret`` for ``minutes``; returns its socket path."""
    import socket
    import subprocess

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
            [sys.executable, "-P", "-m", "vault.agent", str(listener.fileno()), str(path), str(minutes * 60)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(listener.fileno(),),
            env=hardening.child_environment(), cwd="/", start_new_session=True)
        agent.stdin.write(secret.to_text().encode())
        agent.stdin.close()
    finally:
        listener.close()
    return path


def _agent_main(fd: int, path: str, seconds: float) -> None:
    """The agent process: harden, take the identity from stdin, serve until the deadline."""
    import socket

    hardening.no_core_dumps()
    identity = sys.stdin.buffer.read().decode()
    sys.stdin.close()
    listener = socket.socket(fileno=fd)
    listener.listen(8)  # again, so that clients' peer credentials name this process, not the one that bound it
    try:
        _serve(listener, Path(path), identity, time.monotonic() + seconds)
    finally:
        os._exit(0)


def _serve(listener: socket.socket, path: Path, identity: str, deadline: float) -> None:
    import socket

    uid = os.getuid()
    while (left := deadline - time.monotonic()) > 0 and path.exists():
        listener.settimeout(min(left, 5.0))
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        with conn:
            if _peer_uid(conn) != uid:
                continue
            conn.settimeout(2.0)
            try:
                request = json.loads(conn.recv(_MAX_REQUEST))
            except (OSError, ValueError):
                continue
            op = request.get("op") if isinstance(request, dict) else None
            if op == "identity":
                conn.sendall(json.dumps({"identity": identity}).encode())
            elif op == "quit":
                conn.sendall(b'{"ok": true}')
                break
    path.unlink(missing_ok=True)


if __name__ == "__main__":
    _agent_main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]))
