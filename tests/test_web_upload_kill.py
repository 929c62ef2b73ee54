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
import time
from pathlib import Path

import pytest
from test_web_support import WebWorld, origin_of, sign_in, start_serve

MIB = 1 << 20


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("web-kill"))


def _serve(world, user: str = "bob"):
    """refuge serve with its own TMPDIR; (process, base URL, signed-in httpx client, cookie header, csrf)."""
    import httpx

    tmp = world.root / "server-tmp"
    tmp.mkdir(exist_ok=True)
    proc, url = start_serve(world, user, env=dict(world.env(user), TMPDIR=str(tmp)))
    client = httpx.Client(headers={"origin": origin_of(url)}, timeout=120)
    client.csrf = sign_in(client, url)
    return proc, url.split("/login")[0], client


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


# --- what an upload stores, sent as an attacker (or an odd client) would send it -------------------


@pytest.fixture(scope="module")
def desk(world):
    proc, base, client = _serve(world)
    yield base, client
    proc.terminate()
    proc.wait(timeout=30)
    client.close()


def _blobs(world) -> set[str]:
    return set(os.listdir(Path(world.location) / "cases" / world.case / "blobs"))


def _post(desk, world, parts: list[tuple[str, str | None, bytes]]):
    """A multipart body built by hand, parts in the order given: (field name, file name or None, bytes)."""
    base, client = desk
    boundary = "b" + secrets.token_hex(12)
    body = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode()
        + (b"" if filename is None else f"; filename=\"{filename}\"".encode()) + b"\r\n\r\n" + data + b"\r\n"
        for name, filename, data in parts) + f"--{boundary}--\r\n".encode()
    return client.post(f"{base}/case/{world.case}/upload?csrf={client.csrf}", content=body,
                       headers={"accept": "application/json", "content-type": f"multipart/form-data; boundary={boundary}"})


def test_the_fields_may_follow_the_files(world, desk):
    """The type, and a new version's document, sent after the file they describe."""
    r = _post(desk, world, [("file", "notes.txt", b"first notes\n" * 50), ("type", None, b"correspondence")])
    assert r.status_code == 200, r.text
    first = r.json()["results"][0]["id"]
    r = _post(desk, world, [("file", "notes-v2.txt", b"second notes\n" * 50), ("type", None, b"other"),
                            ("supersedes.0", None, first.encode())])
    assert r.status_code == 200 and r.json()["results"][0]["id"] == first, r.text
    doc = {d["id"]: d for d in json.loads(world.cli("doc", "list", "MX-0001", "--json", user="bob").stdout)}[first]
    assert doc["type"] == "correspondence" and doc["version"] == 2  # a new version keeps its document's type


def test_a_refused_file_leaves_no_blob_and_nothing_of_a_cut_body_is_kept(world, desk):
    before, docs = _blobs(world), _doc_ids(world)
    program = b"\x7fELF\x02\x01\x01" + bytes(4000)
    r = _post(desk, world, [("type", None, b"other"), ("file", "a.txt", program)])
    assert r.status_code == 400 and "executable" in r.text, r.text
    assert _blobs(world) == before
    # One whole file (checked and stored as it arrived), then a second cut off: nothing of either is kept.
    base, client = desk
    host, port = re.match(r"http://([\d.]+):(\d+)", base).groups()
    boundary = "cut" + secrets.token_hex(8)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nother\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"one.txt\"\r\n\r\n").encode() \
        + b"a whole first file\n" * 1000 + (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                                            f"filename=\"two.txt\"\r\n\r\n").encode() + b"cut off\n" * 1000
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    path = base.split(f":{port}", 1)[1] + f"/case/{world.case}/upload?csrf={client.csrf}"
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://{host}:{port}\r\n"
                   f"Cookie: {cookie}\r\nAccept: application/json\r\nContent-Type: multipart/form-data; "
                   f"boundary={boundary}\r\nContent-Length: {len(body) + MIB}\r\n\r\n").encode() + body)
        for _ in range(1500):  # the first file is checked and its blob committed: then the client goes away
            if _blobs(world) - before:
                break
            time.sleep(0.02)
        assert _blobs(world) - before, "the first file was not stored as it arrived"
    for _ in range(1500):
        if _blobs(world) == before:
            break
        time.sleep(0.02)
    assert _blobs(world) == before
    assert _doc_ids(world) == docs


def test_a_text_is_stored_whole_though_intake_is_shown_its_head(world, desk, tmp_path):
    """A .txt whose first MiB is text and whose rest is a PDF and a ZIP: intake's verdict is doc add's (plain
    text), and what is stored is every byte sent (the spool kept only the head intake reads)."""
    import hashlib

    data = b"a statement in plain words\n" * (MIB // 27 + 1)
    data += b"%PDF-1.7\n1 0 obj<<>>endobj\n" + os.urandom(MIB) + b"PK\x05\x06" + bytes(18)
    r = _post(desk, world, [("type", None, b"other"), ("file", "long.txt", data)])
    assert r.status_code == 200, r.text
    doc = r.json()["results"][0]["id"]
    out = tmp_path / "back.txt"
    got = world.cli("doc", "get", doc, "-o", str(out), user="bob")
    assert got.returncode == 0, got.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    src = tmp_path / "long.txt"
    src.write_bytes(data)
    cli = world.cli("doc", "add", "MX-0001", str(src), "--type", "other", "--allow-duplicate", "--json", user="bob")
    assert cli.returncode == 0, cli.stderr  # the same verdict from doc add on the whole file


def test_a_message_s_attachments_are_read_from_its_unnamed_spool(world, desk):
    """An .eml uploaded through the page: its attachment becomes a document of its own, read (by the server,
    then the keyless worker) from the message's spool, which has no name to read it by."""
    import email.message

    m = email.message.EmailMessage()
    m["From"], m["To"], m["Subject"] = "a@example.net", "b@example.org", "Notes"
    m.set_content("See the attached notes.")
    m.add_attachment(b"Attached notes: lantern river seven\n", maintype="text", subtype="plain", filename="notes.txt")
    r = _post(desk, world, [("type", None, b"correspondence"), ("file", "message.eml", m.as_bytes())])
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert rows[0]["id"] and rows[1]["id"] and rows[1]["error"] is None, rows
    docs = {d["id"]: d for d in json.loads(world.cli("doc", "list", "MX-0001", "--json", user="bob").stdout)}
    assert docs[rows[1]["id"]]["attached_to"] == rows[0]["id"] and docs[rows[1]["id"]]["filename"] == "notes.txt"
