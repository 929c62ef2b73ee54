"""A red team against the web desk (`refuge serve`): each test is one attacker's move against the real server.

Attackers played: a second local user (another uid) holding what leaked of the desk (the sign-in link
read from a terminal's scrollback or a log, the session cookie a browser sends to every port of
127.0.0.1, so to a server of theirs on another port); a web page in the lawyer's browser (a WebSocket
to the desk); a crafted request (a multipart part whose headers never end); a person whose access ended
while their desk stayed open (a revoked member, a removed document, another case's document). What
tests/test_web_security.py, test_web_support.py and test_web_upload_*.py prove is not repeated here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import subprocess
from urllib.parse import urlsplit

import pytest
from test_web_support import WebWorld, origin_of, sign_in, start_serve


# Run as another uid (the second local user): each request of the list, with its headers; prints for each
# the status and whether the answer held the marker (what the attacker wanted).
PROBE = r"""
import json, sys, urllib.request, urllib.error
out = []
for url, headers, marker in json.loads(sys.argv[1]):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as r:
            body, status, cookie = r.read(), r.status, r.headers.get("set-cookie") or ""
    except urllib.error.HTTPError as e:
        body, status, cookie = e.read(), e.code, e.headers.get("set-cookie") or ""
    out.append([status, marker.encode() in body, cookie.split(";")[0]])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("redteam-web"))


@pytest.fixture(scope="module")
def served(world):
    """The real `refuge serve` as bob; yields (process, the login URL it printed). Nobody has signed in."""
    proc, url = start_serve(world, "bob")
    try:
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _as_another_user(requests: list) -> list:
    """The requests made by uid 65534 (another person's account on the same machine)."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("running as another user needs root, setpriv and /usr/bin/python3")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", PROBE,
                        json.dumps(requests)], capture_output=True, text=True, timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_another_user_with_the_leaked_link_and_the_owners_cookie_gets_nothing(world, served):
    """The printed link, read by another local user from a scrollback file or a log before the lawyer used it,
    and later the lawyer's session cookie (a browser sends 127.0.0.1's cookies to every port: a page of the
    other user's server on another port, under the desk's path read from the same log, receives it): each
    replayed from the other uid, with the desk's own Host and Origin, reaches nothing."""
    import httpx

    _proc, url = served
    base, origin = url.split("/login")[0], origin_of(url)
    case_page = f"{base}/case/{world.case}"
    [(status, told, cookie)] = _as_another_user([[url, {"Origin": origin}, "serves only the account that started it"]])
    assert status == 401 and not cookie, "the other user got a session with the leaked link"
    assert told  # the one line says why
    with httpx.Client(headers={"origin": origin}) as owner:
        sign_in(owner, url)  # the refused attempt did not use the link up: the lawyer still signs in with it
        assert owner.get(case_page).status_code == 200
        stolen = f"refuge_session={owner.cookies['refuge_session']}"
        headers = {"Origin": origin, "Cookie": stolen}
        got = _as_another_user([[case_page, headers, "Resettlement"],
                                [f"{base}/doc/{world.decl}/download", headers, "FICTIONAL"],
                                [f"{base}/search?q=FICTIONAL", headers, "FICTIONAL"]])
        assert [(s, m) for s, m, _ in got] == [(401, False)] * 3, got
        assert owner.get(case_page).status_code == 200  # the lawyer's own session goes on


def test_the_lock_stops_the_desk_though_an_upload_stalls_half_way(world):
    """An upload that stops sending half way (a slow-loris body, or a laptop put to sleep mid-upload) must not
    keep the desk's process alive after the lock, holding the upload's spool and blob writer: the lock ends
    it within seconds, and the half-received file leaves no blob behind."""
    import httpx

    from refuge.web.serve import LOCK_GRACE

    proc, url = start_serve(world, "bob", stderr=subprocess.PIPE)
    try:
        base, origin = url.split("/login")[0], origin_of(url)
        with httpx.Client(headers={"origin": origin}, timeout=30) as owner:
            csrf = sign_in(owner, url)
            blobs = _blobs(world)
            port = urlsplit(base).port
            boundary = "redteamboundary"
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nother\r\n"
                    f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"statement.txt\"\r\n"
                    "Content-Type: text/plain\r\n\r\n").encode() + b"Half a statement.\n" * 30000
            cookie = f"refuge_session={owner.cookies['refuge_session']}"
            with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
                stalled.sendall((f"POST {urlsplit(base).path}/case/{world.case}/upload?csrf={csrf} HTTP/1.1\r\n"
                                 f"Host: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nCookie: {cookie}\r\n"
                                 f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                                 f"Content-Length: {len(head) * 4}\r\n\r\n").encode() + head)
                time.sleep(0.3)  # the file's first bytes are in: its receiver is open, then nothing more comes
                assert owner.post(base + "/lock", data={"csrf": csrf}).status_code == 200
                proc.wait(timeout=LOCK_GRACE + 5)  # TimeoutExpired: the locked desk is still running
            assert _blobs(world) == blobs
            said = proc.stderr.read().decode()
            assert "statement" not in said.lower() and world.case not in said  # nor in the terminal's log
            assert "Traceback" not in said and said.strip().endswith("the desk locked; run refuge serve again to open it")
    finally:
        proc.kill()
        proc.wait()


def _blobs(world) -> list[str]:
    """The case's stored blobs, read raw from the storage."""
    from pathlib import Path

    return sorted(p.name for p in (Path(world.location) / "cases" / world.case / "blobs").iterdir())


def test_a_person_removed_from_the_vault_reads_nothing_more_through_a_desk_left_open(world):
    """A lawyer leaves the organisation: an admin removes them (`user remove`; the terminal then refuses them
    everything). Their desk, opened before and still signed in, must not go on serving the case's documents:
    it refuses with the CLI's line and locks (the identity it held is dropped, the process stops)."""
    import httpx

    erin = world.open("erin")
    erin.grant(erin.find_case("MX-0001"), ["carol"])
    proc, url = start_serve(world, "carol")
    try:
        base = url.split("/login")[0]
        with httpx.Client(headers={"origin": origin_of(url)}, timeout=30) as desk:
            sign_in(desk, url)
            assert b"FICTIONAL" in desk.get(f"{base}/doc/{world.decl}/download").content
            world.open("alice").remove_user("carol")
            refused = world.cli("doc", "list", "MX-0001", user="carol")
            assert refused.returncode == 4, refused.stderr
            r = desk.get(f"{base}/doc/{world.decl}/download", headers={"accept": "application/json"})
            assert r.status_code == 403 and b"FICTIONAL" not in r.content
            assert r.json()["error"] == refused.stderr.decode().strip().removeprefix("refuge: error: ")  # the CLI's line
            proc.wait(timeout=10)  # locked: the identity dropped, the desk stopped
            with pytest.raises(httpx.TransportError):
                desk.get(f"{base}/case/{world.case}")
    finally:
        proc.kill()
        proc.wait()
