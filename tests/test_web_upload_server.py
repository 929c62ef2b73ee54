"""The real `refuge serve` receiving uploads: its HTTP parser, the bound on a request's head, and its memory
while it indexes an uploaded text (issue #20's performance part)."""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from test_web_support import WebWorld

MIB = 1 << 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("web-upload"))


@pytest.fixture(scope="module")
def served(world):
    """refuge serve, the real command, as bob; yields (process, base URL, a signed-in httpx client)."""
    import httpx

    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser"], env=world.env("bob"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=world.root)
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+/\S+/login\?token=\S+)", proc.stdout.readline().decode()).group(1)
        base = url.split("/login")[0]
        origin = "/".join(url.split("/", 3)[:3])
        for _ in range(100):
            try:
                httpx.get(base + "/static/style.css", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(headers={"origin": origin}, timeout=300) as owner:
            assert owner.get(url).status_code == 200
            owner.csrf = re.search(r'name="csrf-token" content="([^"]+)"', owner.get(base + "/search").text).group(1)
            yield proc, base, owner
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _peak_mib(proc) -> float:
    with open(f"/proc/{proc.pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024


def test_the_server_parses_http_with_httptools(served):
    proc, _base, _owner = served
    with open(f"/proc/{proc.pid}/maps") as f:
        assert "httptools/parser/parser" in f.read()  # llhttp in C, not h11 in Python (6 s per GiB here)


def test_a_request_head_that_never_ends_is_refused_and_the_server_goes_on(served):
    proc, base, owner = served
    port = urlsplit(base).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
        answer = b""
        try:
            for _ in range(64):  # 4 MiB of one header value: the server must stop reading long before
                s.sendall(b"a" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    assert _peak_mib(proc) < 128
    assert owner.get(base + "/search").status_code == 200


def test_indexing_an_uploaded_text_keeps_the_server_under_128_mib(world, served, tmp_path):
    """4 MiB of text (words drawn from 50,000 made-up ones, a long statement's vocabulary) through the page;
    the server indexes it before answering."""
    proc, base, owner = served
    rnd = random.Random(20)
    words = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(3, 10))) for _ in range(50_000)]
    path = tmp_path / "statement.txt"
    with open(path, "w") as f:
        f.write("Statement with the word zanzibarquokka in it.\n")
        while f.tell() < 4 * MIB:
            f.write(" ".join(rnd.choices(words, k=4000)) + ".\n")
    with open(path, "rb") as f:
        r = owner.post(f"{base}/case/{world.case}/upload?csrf={owner.csrf}", data={"type": "other"},
                       files={"file": ("statement.txt", f, "text/plain")}, headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["id"], r.text
    found = owner.get(base + "/search", params={"q": "zanzibarquokka"})
    assert r.json()["results"][0]["id"].split("-")[1] in found.text  # it was indexed, not skipped
    peak = _peak_mib(proc)
    assert peak < 128, f"peak RSS {peak:.0f} MiB"  # 108 measured; 8 MiB of text: 119-140 (docs/architecture.md)
    assert os.path.getsize(path) >= 4 * MIB
