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
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from test_web_support import WebWorld, origin_of, sign_in, start_serve

from refuge.web.serve import LOCK_GRACE

# Run as another uid (the second local user): each request of the list, with its headers; prints for each
# the status and whether the answer held the marker (what the attacker wanted).
PROBE = r"""
import json, ssl, sys, urllib.request, urllib.error
out = []
for url, headers, marker in json.loads(sys.argv[1]):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20,
                                    context=ssl._create_unverified_context()) as r:
            body, status, cookie = r.read(), r.status, r.headers.get("set-cookie") or ""
    except urllib.error.HTTPError as e:
        body, status, cookie = e.read(), e.code, e.headers.get("set-cookie") or ""
    out.append([status, marker.encode() in body, cookie.split(";")[0]])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("redteam-web"))


class Served:
    """The real `refuge serve` as bob: its process, the login URL it printed, its base URL and Origin, and
    the lawyer's own signed-in client once :meth:`owner` has been called (the link is unused until then)."""

    def __init__(self, proc, url: str) -> None:
        self.proc, self.url = proc, url
        self.base, self.origin = url.split("/login")[0], origin_of(url)
        self.port = urlsplit(url).port
        self._owner = None

    def owner(self):
        """The lawyer's browser: an httpx client signed in with the link (its CSRF token as ``.csrf``)."""
        import httpx

        if self._owner is None:
            self._owner = httpx.Client(headers={"origin": self.origin}, timeout=60)
            self._owner.csrf = sign_in(self._owner, self.url)
        return self._owner


@pytest.fixture(scope="module")
def served(world):
    proc, url = start_serve(world, "bob")
    desk = Served(proc, url)
    try:
        yield desk
    finally:
        if desk._owner is not None:
            desk._owner.close()
        proc.terminate()
        proc.wait(timeout=10)


def _as_another_user(requests: list) -> list:
    """The requests made by uid 65534 (another person's account on the same machine)."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"):
        pytest.skip("running as another user needs root, setpriv and /usr/bin/python3")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", PROBE,
                        json.dumps(requests)], capture_output=True, text=True, timeout=60, cwd="/", check=False)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_another_user_with_the_leaked_link_and_the_owners_cookie_gets_nothing(world, served):
    """The printed link, read by another local user from a scrollback file or a log before the lawyer used it,
    and later the lawyer's session cookie (a browser sends 127.0.0.1's cookies to every port: a page of the
    other user's server on another port, under the desk's path read from the same log, receives it): each
    replayed from the other uid, with the desk's own Host and Origin, reaches nothing."""
    url, base, origin = served.url, served.base, served.origin
    case_page = f"{base}/case/{world.case}"
    [(status, told, cookie)] = _as_another_user([[url, {"Origin": origin}, "serves only the account that started it"]])
    assert status == 401 and not cookie, "the other user got a session with the leaked link"
    assert told  # the one line says why
    owner = served.owner()  # the refused attempt did not use the link up: the lawyer still signs in with it
    assert owner.get(case_page).status_code == 200
    stolen = f"refuge_session={owner.cookies['refuge_session']}"
    headers = {"Origin": origin, "Cookie": stolen}
    got = _as_another_user([[case_page, headers, "Resettlement"],
                            [f"{base}/doc/{world.decl}/download", headers, "FICTIONAL"],
                            [f"{base}/search?q=FICTIONAL", headers, "FICTIONAL"]])
    assert [(s, m) for s, m, _ in got] == [(401, False)] * 3, got
    assert owner.get(case_page).status_code == 200  # the lawyer's own session goes on




def _own_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_on_the_machines_own_address_another_user_is_refused_too(world, tmp_path):
    """`refuge serve --listen ADDR` with TLS, for a colleague's machine: another account of this machine
    connecting to ADDR (not loopback) with the leaked link is refused as over loopback; the owner signs in."""
    import re

    import httpx
    from test_web_security import _self_signed

    address = _own_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    cert, key = _self_signed(tmp_path)
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser", "--listen", address,
                             "--tls-cert", cert, "--tls-key", key], env=world.env("bob"), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=world.root)
    try:
        url = re.search(r"(https://\S+/login\?token=\S+)", proc.stdout.readline().decode()).group(1)
        with httpx.Client(verify=False, headers={"origin": origin_of(url)}, timeout=30) as owner:  # a self-signed test certificate
            for _ in range(100):  # until it answers (the static file needs no session)
                try:
                    owner.get(url.split("/login")[0] + "/static/style.css")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            [(status, _, cookie)] = _as_another_user([[url, {"Origin": origin_of(url)}, ""]])
            assert status == 401 and not cookie, "another account on this machine got a session over its address"
            assert owner.get(url).status_code == 200 and owner.get(url.split("/login")[0] + "/").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)

def _raw(served, request: bytes) -> bytes:
    """What the desk answers to bytes sent as they are on a new connection (its status line and headers)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = s.recv(65536)
            if not got:
                break
            answer += got
    return answer


def test_a_websocket_is_never_opened_from_another_site_nor_from_the_page(world, served):
    """A page of another site opens a WebSocket to the desk (browsers send no preflight for one, and the
    handshake is a GET): refused by the Origin check; and the desk has no WebSocket at all, even with its own
    Origin and the lawyer's cookie (the server is started with ws="none": a WebSocket library installed later
    would not add one)."""
    from refuge.web import serve

    owner = served.owner()
    path = f"{urlsplit(served.base).path}/case/{world.case}"
    for origin, cookie in (("http://evil.example", ""), (served.origin, f"refuge_session={owner.cookies['refuge_session']}")):
        answer = _raw(served, (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nOrigin: {origin}\r\n"
                               f"Cookie: {cookie}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        assert not answer.startswith(b"HTTP/1.1 101"), answer[:200]
        assert answer.startswith(b"HTTP/1.1 403" if "evil" in origin else b"HTTP/1.1 200"), answer[:200]
    with open(serve.__file__) as f:
        assert 'ws="none"' in f.read()


def test_a_multipart_part_whose_headers_never_end_is_refused_and_stores_nothing(world, served):
    """A part header of 8 MiB, and a part of 10,000 headers (the server must stop gathering them long before):
    one line, nothing stored, the server still answers."""
    owner = served.owner()
    before = _blobs(world)
    for part in (b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Long: " + b"a" * (8 << 20),
                 b"Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n" + b"X-Many: 1\r\n" * 10000):
        body = b"--XyZ\r\n" + part + b"\r\n\r\nhello\r\n--XyZ--\r\n"
        r = owner.post(f"{served.base}/case/{world.case}/upload?csrf={owner.csrf}", content=body,
                       headers={"content-type": "multipart/form-data; boundary=XyZ", "accept": "application/json"})
        assert r.status_code == 400 and "malformed" in r.json()["error"], r.text[:200]
    assert _blobs(world) == before
    assert owner.get(f"{served.base}/case/{world.case}").status_code == 200


def test_a_file_name_or_title_carrying_html_stays_text_and_svg_or_html_is_refused(world, served):
    """An uploaded file named like markup, with a title of markup: shown as text on every page (no element,
    no handler), downloaded as an attachment named by its percent-encoded name, never sniffed; a document
    that is an SVG or an HTML page (script in the desk's origin, if it were ever shown as itself) is
    refused by intake and stores nothing."""
    owner = served.owner()
    name, title = '<img src=x onerror=alert(1)>\r\n../../x.txt', '"><script>alert(2)</script>'
    r = owner.post(f"{served.base}/case/{world.case}/upload?csrf={owner.csrf}", data={"type": "other", "title": title},
                   files={"file": (name, b"A plain statement.\n", "text/plain")}, headers={"accept": "application/json"})
    doc = r.json()["results"][0]["id"]
    assert r.status_code == 200 and doc, r.text
    for path in (f"/case/{world.case}", f"/doc/{doc}", "/"):
        page = owner.get(served.base + path).text
        assert "<img src=x" not in page and "<script>alert" not in page and "onerror=alert" not in page.replace(
            "&lt;img src=x onerror=alert(1)&gt;", ""), path
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in owner.get(f"{served.base}/case/{world.case}").text  # shown, as text
    got = owner.get(f"{served.base}/doc/{doc}/download")
    disposition = got.headers["content-disposition"]
    assert got.headers["content-type"] == "application/octet-stream" and got.headers["x-content-type-options"] == "nosniff"
    assert disposition.startswith("attachment; filename*=UTF-8''") and not any(c in disposition for c in '<>"\r\n/')
    before = _blobs(world)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(3)"><script>alert(4)</script></svg>'
    for fname, data, kind in (("map.svg", svg, "image/svg+xml"), ("note.txt", b"<html><script>alert(5)</script>", "text/plain")):
        r = owner.post(f"{served.base}/case/{world.case}/upload?csrf={owner.csrf}", data={"type": "other"},
                       files={"file": (fname, data, kind)}, headers={"accept": "application/json"})
        assert r.status_code == 400 and "does not accept" in r.json()["error"], r.text
    assert _blobs(world) == before


def test_a_revoked_member_s_open_desk_reads_nothing_more_of_the_case(world, served):
    """The case lead revokes the lawyer on the terminal while the lawyer's desk is open and signed in (or a
    cookie of it was kept): the case, its documents, their pages and search answer nothing of it."""
    from refuge import indexing

    owner = served.owner()
    erin = world.open("erin")
    case = erin.find_case("MX-0001")
    assert indexing.update(erin, case, [world.decl])  # as doc add and the desk's upload index it
    assert owner.get(f"{served.base}/doc/{world.decl}/download").status_code == 200
    assert "<mark>" in owner.get(f"{served.base}/search", params={"q": "FICTIONAL"}).text  # found while a member
    erin.revoke(case, ["bob"])
    try:
        for path in (f"/case/{world.case}", f"/doc/{world.decl}/download", f"/doc/{world.decl}/page/1",
                     f"/doc/{world.decl}"):
            r = owner.get(served.base + path)
            assert r.status_code == 403 and b"FICTIONAL" not in r.content and b"Resettlement" not in r.content, path
        r = owner.get(f"{served.base}/search", params={"q": "FICTIONAL"})
        assert "<mark>" not in r.text and world.decl not in r.text
        assert "MX-0001" not in owner.get(served.base + "/").text
    finally:
        erin.grant(erin.find_case("MX-0001"), ["bob"])

def test_the_lock_stops_the_desk_though_an_upload_stalls_half_way(world):
    """An upload that stops sending half way (a slow-loris body, or a laptop put to sleep mid-upload) must not
    keep the desk's process alive after the lock, holding the upload's spool and blob writer: the lock ends
    it within seconds, and the half-received file leaves no blob behind."""
    import httpx

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
            with pytest.raises(httpx.TransportError):  # the cookie replayed after the lock: nobody answers
                httpx.get(f"{base}/case/{world.case}", headers={"cookie": cookie, "origin": origin}, timeout=5)
            said = proc.stderr.read().decode()
            assert "statement" not in said.lower() and world.case not in said  # nor in the terminal's log
            assert "Traceback" not in said and said.strip().endswith("the desk locked; run refuge serve again to open it")
    finally:
        proc.kill()
        proc.wait()



def test_an_upload_that_stops_arriving_is_dropped_and_stores_nothing(world, monkeypatch):
    """A slow-loris body while the desk stays open: the head of a file, then nothing, the connection held
    open. The upload held its spool (the file's plaintext, unnamed) and its receiver for as long as the client
    liked (the four-hour bound was checked only when a chunk came); now it is dropped once nothing has come
    for STALL_SECONDS (5 minutes; half a second here), with one line, and nothing is stored. Driven in
    process (the desk's own application) so as not to wait 5 minutes."""
    import asyncio

    from refuge.web import _upload
    from refuge.web.app import make_app

    monkeypatch.setattr(_upload, "STALL_SECONDS", 0.5)
    desk = world.desk("bob")
    session = desk.exchange(desk.new_token())
    head = (b'--XyZ\r\nContent-Disposition: form-data; name="type"\r\n\r\nother\r\n--XyZ\r\n'
            b'Content-Disposition: form-data; name="file"; filename="statement.txt"\r\n\r\n' + b"Half a statement.\n" * 999)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"{desk.prefix}/case/{world.case}/upload", "root_path": "", "query_string": f"csrf={session.csrf}".encode(),
             "client": ("testclient", 50000), "server": ("127.0.0.1", 8123),
             "headers": [(b"host", b"127.0.0.1:8123"), (b"origin", b"http://127.0.0.1:8123"),
                         (b"cookie", f"refuge_session={session.id}".encode()), (b"accept", b"application/json"),
                         (b"content-type", b"multipart/form-data; boundary=XyZ")]}
    sent, before = [], _blobs(world)

    async def upload() -> None:
        pieces = [head]

        async def receive():
            if pieces:
                return {"type": "http.request", "body": pieces.pop(), "more_body": True}
            await asyncio.Event().wait()  # nothing more ever comes; the connection stays open

        async def send(message) -> None:
            sent.append(message)

        await asyncio.wait_for(make_app(desk)(scope, receive, send), 5)  # TimeoutError: it waited for ever

    asyncio.run(upload())
    answer = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert sent[0]["status"] == 400 and answer["error"] == "the upload stopped arriving; nothing was added; try again"
    assert _blobs(world) == before


def test_a_build_cut_short_by_the_lock_leaves_no_folder_behind(world, tmp_path):
    """The case lead starts a packet build and the desk locks (the Lock button, or idle) while it runs: the
    build is a thread the lock does not wait for, so its clean-up never ran and its folder stayed in the
    temporary directory (holding the packet and its review report had they been written). Now builds write
    in the desk's own folder, removed when the server stops."""
    import httpx

    erin = world.open("erin")
    case = erin.find_case("MX-0001")  # every document of it (other tests of this module upload some)
    erin.record_consent(case, "granted", "unhcr-resettlement", sorted(case.documents), None, "")
    assert world.cli("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice").returncode == 0
    tmp = tmp_path / "server-tmp"
    tmp.mkdir()
    proc, url = start_serve(world, "erin", env=dict(world.env("erin"), TMPDIR=str(tmp)))
    try:
        base = url.split("/login")[0]
        with httpx.Client(headers={"origin": origin_of(url)}, timeout=30) as lead:
            csrf = sign_in(lead, url)
            r = lead.post(f"{base}/case/{world.case}/packets", headers={"accept": "application/json"},
                          data={"csrf": csrf, "profile": "unhcr-resettlement", "allow_incomplete": "1",
                                "accept_gaps": "location, third-party, network, legal-strategy, faces",
                                "gap_reason": "fictional case: nobody of these kinds"})
            for _ in range(1500):  # the build's thread makes its folder once it has imported the packet pipeline
                if list(tmp.rglob("refuge-packet-*")):
                    break
                time.sleep(0.02)
            job = lead.get(f"{base}/job/{r.json()['job']}", headers={"accept": "application/json"}).json()
            assert job["state"] == "running" and list(tmp.rglob("refuge-packet-*")), job  # locked while it runs
            assert lead.post(base + "/lock", data={"csrf": csrf}).status_code == 200
        proc.wait(timeout=LOCK_GRACE + 10)
        assert [str(p.relative_to(tmp)) for p in tmp.rglob("*") if "refuge-agent" not in str(p)] == []
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
