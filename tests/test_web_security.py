"""The web desk's own safety, tested the way an attacker would try: other hosts, other sites, no cookie,
a stolen or replayed token, a forged form, another local user, an idle desk left open."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest

from test_web_support import PORT, WebWorld, client_for

ORIGIN = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return WebWorld(tmp_path_factory.mktemp("web"))


@pytest.fixture
def bob(world):
    return client_for(world.desk("bob"))


def _pages(world) -> list[str]:
    return ["/", f"/case/{world.case}", f"/doc/{world.decl}", f"/doc/{world.decl}/page/1",
            f"/doc/{world.decl}/download", "/search?q=x", "/audit", f"/case/{world.case}/packets",
            f"/case/{world.case}/consent", f"/case/{world.case}/members", f"/case/{world.case}/register",
            f"/case/{world.case}/redactions", f"/case/{world.case}/fields"]


def test_another_host_is_refused_dns_rebinding(world, bob):
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1:1", f"127.0.0.2:{PORT}"):
        r = bob.get("/", headers={"host": host})
        assert r.status_code == 421, host
        assert "answers only to its own address" in r.text


def test_requests_from_another_site_are_refused(world, bob):
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"origin": f"http://127.0.0.1:{PORT + 1}"},
                    {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}):
        assert bob.get(f"/case/{world.case}", headers=headers).status_code == 403, headers
        r = bob.post(f"/doc/{world.decl}/tags", data={"csrf": bob.csrf, "add": "evil"}, headers=headers)
        assert r.status_code == 403, headers
    del bob.headers["origin"]  # a POST must say where it comes from
    r = bob.post(f"/doc/{world.decl}/tags", data={"csrf": bob.csrf, "add": "evil"})
    assert r.status_code == 403
    assert "evil" not in world.open("bob").find_document(world.decl)[1].tags


def test_without_the_session_cookie_nothing_is_served(world):
    anon = client_for(world.desk("bob"), sign_in=False)
    for path in _pages(world):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert "Ana" not in r.text and "MX-0001" not in r.text
    anon.cookies.set("refuge_session", "guessed")
    assert anon.get("/").status_code == 401
    assert anon.post(f"/doc/{world.decl}/tags", data={"add": "x"}).status_code == 401


def test_the_token_works_once_and_the_cookie_is_strict(world):
    desk = world.desk("bob")
    token = desk.new_token()
    first = client_for(desk, sign_in=False)
    r = first.get("/login", params={"token": token})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert re.search(r"(?i)httponly", cookie) and re.search(r"(?i)samesite=strict", cookie)
    assert "secure" not in cookie.lower() and f"path={desk.prefix}".lower() in cookie.lower()
    assert len(desk.prefix) > 20  # a secret: another local user's server on another port never learns it
    assert first.get("/").status_code == 200
    again = client_for(desk, sign_in=False)
    assert again.get("/login", params={"token": token}).status_code == 401  # replayed: dead
    assert again.get("/").status_code == 401
    assert again.get("/login", params={"token": "wrong"}).status_code == 401


def test_under_tls_the_cookie_is_secure_and_host_only(world):
    from starlette.testclient import TestClient

    from refuge.web._desk import Desk
    from refuge.web.app import make_app

    desk = Desk(world.open("bob"), 600, tls=True)
    desk.bind("127.0.0.1", PORT)
    client = TestClient(make_app(desk), base_url=f"https://127.0.0.1:{PORT}{desk.prefix}", follow_redirects=False)
    r = client.get("/login", params={"token": desk.new_token()})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Secure-refuge_session=") and "secure" in cookie.lower()
    assert client.get("/", headers={"origin": f"http://127.0.0.1:{PORT}"}).status_code == 403  # http origin: not ours


def test_every_change_needs_the_csrf_token(world, bob):
    before = world.open("bob").find_document(world.decl)[1].tags
    for data, headers in (({"add": "x1"}, {}), ({"add": "x2", "csrf": "forged"}, {}),
                          ({"add": "x3"}, {"x-csrf-token": "forged"})):
        r = bob.post(f"/doc/{world.decl}/tags", data=data, headers=headers)
        assert r.status_code == 403 and "form token" in r.text
    assert world.open("bob").find_document(world.decl)[1].tags == before
    objects = sorted(p for p in (world.root / "vault").rglob("*"))
    r = bob.post(f"/case/{world.case}/upload", files={"file": ("a.txt", b"hello\n", "text/plain")},
                 data={"type": "other"})
    assert r.status_code == 403
    r = bob.post(f"/case/{world.case}/upload?csrf=forged", files={"file": ("a.txt", b"hello\n", "text/plain")},
                 data={"type": "other"})
    assert r.status_code == 403
    assert sorted(p for p in (world.root / "vault").rglob("*")) == objects  # nothing stored
    assert bob.post("/lock", data={}).status_code == 403
    r = bob.post(f"/doc/{world.decl}/tags", data={"add": "checked", "csrf": bob.csrf})
    assert r.status_code == 303
    assert "checked" in world.open("bob").find_document(world.decl)[1].tags


class _Inline(HTMLParser):
    """Inline script, inline style, event handlers, and any address elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and not a.get("src"):
            self._in_script = True
            self.problems.append("inline script")
        if tag == "style":
            self.problems.append("inline style element")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{tag} {name}=")
            if name in ("src", "href", "action") and value and re.match(r"(?i)\s*(https?:|//|javascript:|data:)", value):
                self.problems.append(f"{tag} {name}={value}")


def test_headers_on_every_response_and_no_inline_script_or_foreign_asset(world, bob):
    lead = client_for(world.desk("erin"))
    paths = [(bob, p) for p in _pages(world)] + [(lead, f"/case/{world.case}/{p}") for p in
                                                ("members", "consent", "packets?profile=unhcr-resettlement",
                                                 "register", "redactions", "fields")]
    paths += [(lead, f"/doc/{world.decl}")]  # with the remove and move forms
    paths += [(bob, "/static/app.js"), (bob, "/static/style.css"), (bob, "/nowhere"), (bob, "/doc/nope")]
    for client, path in paths:
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin"
        if r.headers["content-type"].startswith("text/html"):
            parser = _Inline()
            parser.feed(r.text)
            assert parser.problems == [], (path, parser.problems)
    anon = client_for(world.desk("bob"), sign_in=False)
    assert anon.get("/").headers["cache-control"] == "no-store"
    assert anon.get("/", headers={"host": "evil.example"}).headers["content-security-policy"]


def test_the_desk_locks_when_idle_and_drops_the_vault(world):
    from vault.errors import Locked

    locked = []
    desk = world.desk("bob", idle_seconds=0.3)
    desk.on_lock = lambda: locked.append(True)
    client = client_for(desk)
    assert client.get("/").status_code == 200
    time.sleep(0.5)
    r = client.get("/")
    assert r.status_code == 401 and "locked" in r.text
    assert locked == [True] and desk._vault is None
    with pytest.raises(Locked):
        desk.vault
    assert client.get("/login", params={"token": desk.new_token()}).status_code == 401  # no way back in


def test_the_lock_button_locks(world, bob):
    assert bob.post("/lock", data={"csrf": bob.csrf}).status_code == 200
    assert bob.get("/").status_code == 401


def test_an_auditor_reaches_no_document_content(world):
    dave = client_for(world.desk("dave"))
    assert dave.get("/", follow_redirects=False).headers["location"] == dave.desk_prefix + "/audit"
    for path in [f"/case/{world.case}", f"/doc/{world.decl}", f"/doc/{world.decl}/page/1",
                 f"/doc/{world.decl}/download", "/search?q=Ana", f"/case/{world.case}/packets",
                 f"/case/{world.case}/consent", f"/case/{world.case}/members", f"/case/{world.case}/register",
                 f"/case/{world.case}/redactions", f"/case/{world.case}/fields"]:
        r = dave.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "FICTIONAL" not in r.text and "Ana" not in r.text
    r = dave.post(f"/case/{world.case}/upload?csrf={dave.csrf}", files={"file": ("a.txt", b"x\n", "text/plain")},
                  data={"type": "other"})
    assert r.status_code == 403
    assert dave.get("/audit").status_code == 200


def test_a_non_member_is_refused_and_the_refusal_is_audited(world):
    carol = client_for(world.desk("carol"))
    for path in (f"/case/{world.case}", f"/doc/{world.decl}", f"/doc/{world.decl}/download",
                 f"/doc/{world.decl}/page/1"):
        r = carol.get(path)
        assert r.status_code in (403, 404), path
        assert "Resettlement" not in r.text and "FICTIONAL" not in r.text
    denied = [e for e in world.open("dave").audit_entries(user="carol") if e["action"] == "doc.get"]
    assert denied and denied[-1]["result"] == "denied"


def test_download_is_the_original_byte_exact_as_an_attachment_and_audited(world, bob):
    r = bob.get(f"/doc/{world.decl}/download")
    assert r.status_code == 200 and r.content == world.docs["declaration"].read_bytes()
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    gets = [e for e in world.open("dave").audit_entries(user="bob") if e["action"] == "doc.get"]
    assert gets[-1]["result"] == "ok" and gets[-1]["doc"] == world.decl  # its "started" entry is shown by this one


def test_a_damaged_document_never_arrives_whole(world, bob, tmp_path):
    _case, doc = world.open("bob").find_document(world.photo)
    blob = world.root / "vault" / "cases" / world.case / "blobs" / doc.blob
    saved = blob.read_bytes()
    try:
        damaged = bytearray(saved)
        damaged[-20] ^= 1  # the last chunk's tag: found only at the end
        os.chmod(blob, 0o600)
        blob.write_bytes(bytes(damaged))
        try:
            r = bob.get(f"/doc/{world.photo}/download")
            got = r.content
        except Exception:  # noqa: BLE001  the connection is cut: also right
            got = b""
        assert got != world.docs["passport"].read_bytes()
    finally:
        blob.write_bytes(saved)


def test_serve_refuses_other_addresses_without_tls(world):
    p = world.cli("serve", "--no-browser", "--listen", "0.0.0.0", user="bob")
    assert p.returncode == 2 and b"without TLS" in p.stderr


@pytest.fixture
def served(world):
    """refuge serve, the real command with uvicorn, as bob; yields (process, url)."""
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser"], env=world.env("bob"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=world.root)
    try:
        line = proc.stdout.readline().decode()
        url = re.search(r"(http://127\.0\.0\.1:\d+/\S+/login\?token=\S+)", line).group(1)
        base = url.split("/login")[0]
        for _ in range(100):
            try:
                import httpx

                httpx.get(base + "/static/style.css", timeout=1)
                break
            except Exception:  # noqa: BLE001
                time.sleep(0.1)
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _listening_on(port: int) -> list[str]:
    """Every local address listening on ``port`` (TCP, IPv4 and IPv6), read from /proc/net."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, _, hexport = local.partition(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(addr)
    return found


def test_the_real_server_binds_loopback_and_another_user_cannot_use_it(world, served):
    import httpx

    proc, url = served
    base = url.split("/login")[0]
    from urllib.parse import urlsplit

    port = urlsplit(base).port
    assert _listening_on(port) == ["0100007F"]  # 127.0.0.1 only, as the kernel lists it
    with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
        assert url.split("token=")[1].encode() not in f.read()  # the token is in no command line
    with httpx.Client(headers={"origin": f"http://127.0.0.1:{port}"}) as owner:
        assert owner.get(url).status_code == 200
        assert owner.get(base + "/").status_code == 200
    assert httpx.get(url).status_code == 401  # the link is used up
    probe = ("import urllib.request, urllib.error, sys\n"
             "try:\n    urllib.request.urlopen(sys.argv[1])\n    print(200)\n"
             "except urllib.error.HTTPError as e:\n    print(e.code)\n")
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("running as another user needs root and setpriv")
    for path in ("/", f"/case/{world.case}", f"/doc/{world.decl}/download"):
        other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                                "-c", probe, base + path], capture_output=True, text=True, timeout=30)
        assert other.stdout.strip() == "401", (path, other.stdout, other.stderr)


def test_the_cookie_is_sent_only_under_the_secret_path(world):
    """A browser sends 127.0.0.1's cookies to every port; the cookie's Path keeps it from a page of another
    local user's server, which cannot know the desk's secret prefix; and outside the prefix nothing answers."""
    from starlette.testclient import TestClient

    from refuge.web.app import make_app

    desk = world.desk("bob")
    bob = client_for(desk)
    session = next(c for c in bob.cookies.jar if c.name == "refuge_session")
    assert session.path == desk.prefix
    bare = TestClient(make_app(desk), base_url=ORIGIN, follow_redirects=False)
    bare.headers["origin"] = ORIGIN
    for path in ("/", f"/case/{world.case}", "/login", f"/doc/{world.decl}/download"):
        r = bare.get(path, headers={"cookie": f"refuge_session={session.value}"})
        assert r.status_code == 404 and "MX-0001" not in r.text, path
    assert world.desk("bob").prefix != desk.prefix  # a new one for every desk


def _self_signed(folder) -> tuple[str, str]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "refuge desk test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "desk.pem", folder / "desk.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def test_the_real_server_under_tls_sets_a_secure_cookie(world, tmp_path):
    import httpx

    cert, key = _self_signed(tmp_path)
    proc = subprocess.Popen([sys.executable, "-P", "-m", "refuge", "serve", "--no-browser", "--listen", "127.0.0.1",
                             "--tls-cert", cert, "--tls-key", key], env=world.env("bob"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=world.root)
    try:
        line = proc.stdout.readline().decode()
        url = re.search(r"(https://127\.0\.0\.1:\d+/\S+/login\?token=\S+)", line).group(1)
        origin = url.split("/", 3)[:3]
        with httpx.Client(verify=cert, headers={"origin": "/".join(origin)}) as owner:
            for _ in range(100):
                try:
                    r = owner.get(url)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert r.status_code == 200
            cookie = r.headers["set-cookie"]
            assert cookie.startswith("__Secure-refuge_session=") and "secure" in cookie.lower()
            assert owner.get(url.split("/login")[0] + "/").status_code == 200
        with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port gets nothing
            httpx.get(url.replace("https://", "http://").split("/login")[0] + "/", timeout=5).raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_addresses_a_desk_answers_to(world):
    from refuge.web._desk import Desk

    desk = Desk(None, 60)
    desk.bind("::1", 8000)
    assert desk.hosts == {"[::1]:8000"} and desk.origins == {"http://[::1]:8000"}
    desk = Desk(None, 60, tls=True)
    desk.bind("127.0.0.1", 8001)
    assert desk.hosts == {"127.0.0.1:8001", "localhost:8001"}
    assert desk.origins == {"https://127.0.0.1:8001", "https://localhost:8001"}


def test_a_big_upload_is_streamed_with_bounded_memory(world, served, tmp_path):
    """256 MiB through the real server: its peak RSS stays far below the file (128 MiB is the promise)."""
    import httpx

    proc, url = served
    big = tmp_path / "statement.txt"
    line = b"Synthetic statement line for the memory bound of the web desk upload.\n"
    with open(big, "wb") as f:
        block = line * (1024 * 1024 // len(line))
        for _ in range(256):
            f.write(block)
    base = url.split("/login")[0]
    origin = "/".join(url.split("/", 3)[:3])
    with httpx.Client(headers={"origin": origin}, timeout=300) as owner:
        assert owner.get(url).status_code == 200
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', owner.get(base + "/search").text).group(1)
        with open(big, "rb") as f:
            r = owner.post(f"{base}/case/{world.case}/upload?csrf={csrf}", data={"type": "other"},
                           files={"file": ("statement.txt", f, "text/plain")}, headers={"accept": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["id"], r.text
    with open(f"/proc/{proc.pid}/status") as f:
        peak_kib = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
    assert peak_kib < 128 * 1024, f"peak RSS {peak_kib // 1024} MiB"
    _case, doc = world.open("bob").find_document(r.json()["results"][0]["id"])
    assert doc.size == big.stat().st_size
