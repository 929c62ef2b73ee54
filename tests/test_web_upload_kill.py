"""The web desk killed mid-upload (issue #20): a survivor's document must not outlive the server on disk.

The real `refuge serve` receives a large upload slowly over a raw socket; once it has taken in a few
MiB of the file it is killed with SIGKILL (as the OOM killer or a power cut would end it). Nothing
under its TMPDIR, REFUGE_HOME, the vault or anywhere in the test's folder may then hold the file's
bytes, the vault must have gained nothing, and a restarted server must work.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_web_support import WebWorld

MIB = 1 << 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("web-kill"))


def _serve(world, user: str = "bob"):
    """refuge serve with its own TMPDIR; (process, base URL, signed-in httpx client, cookie header, csrf)."""
    import httpx

    tmp = world.root / "server-tmp"
    tmp.mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser"],
                            env=dict(world.env(user), TMPDIR=str(tmp)), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=world.root)
    url = re.search(r"(http://127\.0\.0\.1:\d+/\S+/login\?token=\S+)", proc.stdout.readline().decode()).group(1)
    base = url.split("/login")[0]
    origin = "/".join(url.split("/", 3)[:3])
    client = httpx.Client(headers={"origin": origin}, timeout=120)
    for _ in range(200):
        try:
            if client.get(url).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get(base + "/search").text).group(1)
    return proc, base, client


def _written(pid: int) -> int:
    """Bytes the process has written (to files, sockets, pipes) so far."""
    with open(f"/proc/{pid}/io") as f:
        return int(re.search(r"wchar:\s+(\d+)", f.read()).group(1))


def _files_holding(roots: list[Path], marker: bytes) -> list[str]:
    found = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as f:
                        if marker in f.read():
                            found.append(path)
                except OSError:
                    pass
    return found


def _doc_ids(world) -> list[str]:
    out = world.cli("doc", "list", "MX-0001", "--json", user="bob")
    assert out.returncode == 0, out.stderr
    return sorted(d["id"] for d in json.loads(out.stdout))


def test_a_server_killed_mid_upload_leaves_no_plaintext_and_no_document(world):
    before = _doc_ids(world)
    marker = b"survivor-statement-" + secrets.token_hex(8).encode()  # appears only in the plaintext
    line = marker + b" " + b"x" * 200 + b"\n"
    proc, base, client = _serve(world)
    try:
        host, port = re.match(r"http://([\d.]+):(\d+)", base).groups()
        path = base.split(f":{port}", 1)[1] + f"/case/{world.case}/upload?csrf={client.csrf}"
        boundary = "killboundary" + secrets.token_hex(8)
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nother\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"statement.txt\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://{host}:{port}\r\n"
                   f"Cookie: {cookie}\r\nAccept: application/json\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {len(head) + 64 * MIB}\r\n\r\n").encode()
        chunk = line * (MIB // len(line))
        with socket.create_connection((host, int(port)), timeout=30) as s:
            start = _written(proc.pid)
            s.sendall(request + head)
            for _ in range(6):  # 6 of the 64 MiB promised, then wait until the server has taken in most of it
                s.sendall(chunk)
            for _ in range(600):
                if _written(proc.pid) - start >= 4 * MIB:
                    break
                time.sleep(0.02)
            assert _written(proc.pid) - start >= 4 * MIB, "the server did not take in the upload"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        client.close()
    left = sorted(set(_files_holding([world.root, world.root / "server-tmp", world.home_path, Path(world.location)], marker)))
    assert left == [], f"plaintext of the upload survived the killed server: {left}"
    assert _doc_ids(world) == before
    fsck = world.cli("fsck", "--json", user="bob")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    proc, base, client = _serve(world)
    try:
        r = client.post(f"{base}/case/{world.case}/upload?csrf={client.csrf}", data={"type": "other"},
                        files={"file": ("after.txt", b"a later statement\n" * 100, "text/plain")}, headers={"accept": "application/json"})
        assert r.status_code == 200 and r.json()["results"][0]["id"], r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        client.close()
    assert len(_doc_ids(world)) == len(before) + 1
