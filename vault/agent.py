"""The unlock agent: holds one decrypted identity for a while, like ssh-agent.

Unlocking costs about a second of scrypt by design, so ``refuge unlock`` starts
a small background process that keeps the identity in memory and answers on a
Unix socket in a directory only its owner can open. Every connection's peer
credentials are checked against the owner's uid. The agent exits when its
timeout passes, on ``refuge lock``, or when its socket is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

from .identity import Home, SecretIdentity

__all__ = ["socket_path", "start", "fetch", "stop"]

_MAX_REQUEST = 4096


def socket_path(home: Home, name: str) -> Path:
    """Where the agent of ``name`` in ``home`` listens (short enough for AF_UNIX)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"refuge-agent-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{folder} must belong to you with mode 700")
    key = hashlib.sha256(f"{home.path.resolve()}\0{name}".encode()).hexdigest()[:20]
    return folder / f"{key}.sock"


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _request(path: Path, op: str, timeout: float = 2.0) -> dict | None:
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
    path = socket_path(home, name)
    if not path.exists():
        return None
    reply = _request(path, "identity")
    if not reply or "identity" not in reply:
        return None
    return SecretIdentity.from_text(reply["identity"])


def stop(home: Home, name: str) -> bool:
    """Ask the agent to forget its identity and exit; True if one was running."""
    path = socket_path(home, name)
    if not path.exists():
        return False
    reply = _request(path, "quit")
    path.unlink(missing_ok=True)
    return reply is not None


def start(home: Home, secret: SecretIdentity, minutes: float) -> Path:
    """Fork an agent holding ``secret`` for ``minutes``; returns its socket path."""
    path = socket_path(home, secret.name)
    stop(home, secret.name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(8)
    pid = os.fork()
    if pid:
        listener.close()
        return path
    # The agent: detach, then serve until the deadline.
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        _serve(listener, path, secret.to_text(), time.monotonic() + minutes * 60)
    finally:
        os._exit(0)


def _serve(listener: socket.socket, path: Path, identity: str, deadline: float) -> None:
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
