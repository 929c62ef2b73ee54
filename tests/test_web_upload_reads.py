"""The upload's fast path (issue #20) keeps its promises: the server reads a body into one reused buffer,
about a MiB at a time, and hands llhttp's bytes on without copying them again (refuge/web/_http.py);
intake checks the spool while the blob is fsynced (vault/receiving.py).

What an attacker or a hurried client would do: a body sent in pieces of every size (so that reads
end anywhere in the head, the boundaries and the data), requests pipelined into one send (the buffer
is reused between them), files that intake refuses. Checked with the age CLI and ``doc get``.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import subprocess

import pytest
from conftest import require_tool
from test_web_support import WebWorld, origin_of, sign_in, start_serve

MIB = 1 << 20


# --- vault.receiving: intake's verdict before the commit, though the fsync runs beside it ---


@pytest.fixture
def receiving(tmp_path, monkeypatch):
    """A local backend, a case key, and a log of intake's verdicts and the backend's commits, in order."""
    from vault import age, intake, storage

    events: list[str] = []
    real_check, real_link = intake.inspect_descriptor, storage.link_unnamed

    def checking(*a, **k):
        try:
            return real_check(*a, **k)
        finally:
            events.append("verdict")

    def linking(*a, **k):
        events.append("commit")
        return real_link(*a, **k)

    monkeypatch.setattr(intake, "inspect_descriptor", checking)  # watched, not replaced
    monkeypatch.setattr(storage, "link_unnamed", linking)
    identity = age.X25519Identity.generate()
    backend = storage.LocalBackend(tmp_path / "vault")
    return backend, identity, events, tmp_path


def _receive(backend, identity, name: str, data: bytes, spool_folder):
    from vault.receiving import Receiver

    receiver = Receiver(backend, "c1", (1, identity.recipient), name, "the file", spool_folder=str(spool_folder))
    view = memoryview(data)
    for start in range(0, len(data), 300_001):  # reads that end anywhere in a 64 KiB chunk
        receiver.write(view[start:start + 300_001])
    return receiver.finish()


def test_an_accepted_file_is_committed_after_intake_and_opens_with_the_age_cli(receiving):
    backend, identity, events, tmp = receiving
    data = b"".join(b"line %d of a statement\n" % i for i in range(120_000))  # 2.7 MiB
    stored = _receive(backend, identity, "statement.txt", data, tmp)
    assert stored.error is None and stored.inspection.mime == "text/plain"
    assert events == ["verdict", "commit"]  # the writer waited for intake before linking the blob
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    blob = tmp / "vault" / "cases" / "c1" / "blobs" / stored.blob
    (tmp / "key.txt").write_text(f"{identity}\n")
    out = subprocess.run([require_tool("age"), "-d", "-i", str(tmp / "key.txt"), str(blob)], capture_output=True)
    assert out.returncode == 0 and out.stdout == data, out.stderr
    assert backend.leftovers() == []


@pytest.mark.parametrize("name, data", [("run.pdf", b"MZ\x90\x00" + b"\x00" * 300_000),
                                        ("empty.pdf", b"")])
def test_a_refused_file_is_never_committed(receiving, name, data):
    backend, identity, events, tmp = receiving
    stored = _receive(backend, identity, name, data, tmp)
    assert stored.error is not None and stored.blob is None
    assert events == ["verdict"]  # no link: the fsynced blob had no name and vanished
    assert not list((tmp / "vault").rglob("blobs/*")) and backend.leftovers() == []
    assert not [p for p in tmp.iterdir() if p.name not in ("vault",)]  # no spool left either


def test_a_file_past_the_limit_is_refused_by_its_size_and_never_committed(receiving):
    from vault.receiving import Receiver

    backend, identity, events, tmp = receiving
    receiver = Receiver(backend, "c1", (1, identity.recipient), "big.txt", "the file", limit=100_000,
                        spool_folder=str(tmp))
    for _ in range(5):
        receiver.write(b"a line of a statement that goes on\n" * 1000)  # 36 KB each, 180 KB in all
    stored = receiver.finish()
    assert "larger than" in str(stored.error) and stored.blob is None
    assert events == ["verdict"] and not list((tmp / "vault").rglob("blobs/*")) and backend.leftovers() == []


# --- the real server: reads of every size, pipelined requests ---


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """refuge serve, the real command, as bob: (world, process, base URL, Host, cookie header, csrf)."""
    import httpx

    world = WebWorld(tmp_path_factory.mktemp("web-reads"))
    proc, url = start_serve(world)
    try:
        base, origin = url.split("/login")[0], origin_of(url)
        with httpx.Client(headers={"origin": origin}, timeout=60) as client:
            csrf = sign_in(client, url)
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            yield world, proc, base, origin, cookie, csrf
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _connect(base: str) -> socket.socket:
    port = int(base.split(":")[2].split("/")[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _responses(s: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """``count`` HTTP responses read from ``s`` (each with a Content-Length): (status, body)."""
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, buf[:200]
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
        while len(buf) < length:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
        out.append((int(head.split()[1]), buf[:length]))
        buf = buf[length:]
    return out


def test_an_upload_sent_in_pieces_of_every_size_arrives_whole(served, tmp_path):
    world, _proc, base, origin, cookie, csrf = served
    rnd = random.Random(20)
    letters = b"abcdefghij klmnopqrstuvwxyz \n\r--"  # CRs and dashes: near-boundaries for the parser
    data = rnd.randbytes(3 * MIB).translate(bytes(letters[i % 32] for i in range(256)))
    boundary = b"----upload2boundary"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="type"\r\n\r\nother\r\n--' + boundary +
            b'\r\nContent-Disposition: form-data; name="file"; filename="pieces.txt"\r\nContent-Type: text/plain'
            b"\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n")
    path = base.split("/", 3)[3]
    head = (f"POST /{path}/case/{world.case}/upload?csrf={csrf} HTTP/1.1\r\nHost: {origin.split('//')[1]}\r\n"
            f"Origin: {origin}\r\nCookie: {cookie}\r\nAccept: application/json\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
    request = memoryview(head + body)
    with _connect(base) as s:
        at = 0
        while at < len(request):  # 1 byte to 1.5 MiB at a time: reads end inside the head, boundaries, data
            n = rnd.choice([1, 7, 100, 4096, 65535, 65536, 65537, 300_000, 1_500_000])
            s.sendall(request[at:at + n])
            at += n
        [(status, answer)] = _responses(s, 1)
    assert status == 200, answer[:300]
    [row] = json.loads(answer)["results"]
    assert row["id"] and row["error"] is None, row
    got = world.cli("doc", "get", row["id"], "-o", str(tmp_path / "back.txt"), user="bob")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.txt").read_bytes() == data


def test_pipelined_requests_in_one_send_are_each_answered(served):
    """The read buffer is reused: each request of a single send gets its own, whole answer."""
    world, proc, base, origin, cookie, _csrf = served
    path = base.split("/", 3)[3]
    host = origin.split("//")[1]
    one = f"GET /{path}/static/style.css HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    two = f"GET /{path}/case/{world.case} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode()
    with _connect(base) as s:
        s.sendall(one + two + one)
        answers = _responses(s, 3)
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[0][1] == answers[2][1] and b"{" in answers[0][1]  # the stylesheet, twice, whole
    assert b"MX-0001" in answers[1][1]
    assert proc.poll() is None


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def test_many_connections_hold_no_read_buffer_each(served):
    """A local stranger opens hundreds of connections and sends a byte of a head on each: the server
    reads them all into its one buffer (a MiB each would be hundreds of MiB) and goes on serving."""
    import httpx

    world, proc, base, _origin, _cookie, _csrf = served
    before = _rss_mib(proc.pid)
    sockets = [_connect(base) for _ in range(300)]
    try:
        for s in sockets:
            s.sendall(b"G")
        for s in sockets:  # every byte was read: the server answers a request on a fresh connection after them
            s.sendall(b"ET /")
        assert httpx.get(base + "/static/style.css", timeout=30).status_code == 200
        grown = _rss_mib(proc.pid) - before
    finally:
        for s in sockets:
            s.close()
    assert grown < 48, f"{grown:.0f} MiB for 300 idle connections"
    assert proc.poll() is None and world


def test_an_upload_over_tls_arrives_whole(served, tmp_path):
    """Under --listen with TLS, asyncio's TLS layer fills the same read buffer: the file arrives whole."""
    import httpx
    from test_web_security import _self_signed

    world = served[0]
    cert, key = _self_signed(tmp_path)
    proc, url = start_serve(world, "bob", "--listen", "127.0.0.1", "--tls-cert", cert, "--tls-key", key)
    try:
        assert url.startswith("https://")
        base = url.split("/login")[0]
        with httpx.Client(verify=cert, headers={"origin": origin_of(url)}, timeout=60) as bob:
            csrf = sign_in(bob, url)
            data = random.Random(21).randbytes(3 * MIB).translate(bytes(b"abcdefgh \n"[i % 10] for i in range(256)))
            r = bob.post(f"{base}/case/{world.case}/upload?csrf={csrf}", data={"type": "other"},
                         files={"file": ("tls.txt", data, "text/plain")}, headers={"accept": "application/json"})
        assert r.status_code == 200, r.text
        [row] = r.json()["results"]
        got = world.cli("doc", "get", row["id"], "-o", str(tmp_path / "back.txt"), user="bob")
        assert got.returncode == 0 and (tmp_path / "back.txt").read_bytes() == data, got.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
