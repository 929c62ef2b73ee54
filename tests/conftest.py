"""Shared fixtures: real vaults, real files made by code, the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_identities(monkeypatch):
    # The documented test-only setting: identities made in tests use scrypt 2**10.
    monkeypatch.setenv("REFUGE_TEST_WORK_FACTOR", "10")
    for var in ("REFUGE_USER", "REFUGE_VAULT", "REFUGE_PASSPHRASE_FILE", "REFUGE_NEW_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)


#: ``packet build`` flags accepting the coverage gaps of the demo case, which registers nobody
#: and no network or strategy terms (tests/test_coverage.py tests the gate itself).
ACCEPT_GAPS = (*(a for gap in ("location", "third-party", "network", "legal-strategy", "faces")
                 for a in ("--accept-gap", gap)), "--reason", "demo case: nothing of these kinds")


def holds(data: bytes, secret: bytes) -> bool:
    """Whether ``data`` (vault bytes, object names) holds ``secret`` as plaintext would.

    Secrets of five bytes or more are looked for anywhere. Shorter ones turn up
    by chance in a few hundred KiB of ciphertext or base32 ids ("bob" about once in
    eighty runs), so they are looked for as plaintext writes them: a JSON string,
    a word, a path component or a line.
    """
    if len(secret) >= 5:
        return secret in data
    forms = (b'"' + secret + b'"', b" " + secret + b" ", b"/" + secret, secret + b"/", b"\n" + secret + b"\n",
             b"=" + secret, b":" + secret)
    return any(f in b"\n" + data + b"\n" for f in forms)


def passphrase_file(folder: Path) -> str:
    """A file holding PASSPHRASE, for `user add NAME --passphrase-file` (a new identity's own passphrase)."""
    path = Path(folder) / "new-passphrase.txt"
    path.write_text(PASSPHRASE + "\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def worker_in_process(monkeypatch):
    """Run the keyless worker's tasks in this process (same requests, answers through JSON), so that
    a test can break a stage with monkeypatch: for tests of what a stage does, not of isolation."""
    import importlib
    import json

    from vault import worker

    def run(target, request, blobs=(), *, limits, label, progress=None):
        module, _, name = target.partition(":")
        task = getattr(importlib.import_module(module), name)
        report = (lambda v: progress(json.loads(json.dumps(v)))) if progress else (lambda v: None)
        value, out = task(request, list(blobs), report)
        return worker.Answer(json.loads(json.dumps(value)), list(out))

    monkeypatch.setattr(worker, "run", run)


def peak_rss_mib(cmd: list[str], env: dict, cwd) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd`` from a fresh wrapper; the largest resident size (MiB) of it or any process it waited for.
    (Measured from this process, a child's peak would count the pages of pytest it was forked from.)"""
    wrapper = ("import resource, subprocess, sys, json\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
               "print(json.dumps([p.returncode, p.stdout.decode(), p.stderr.decode(),"
               " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))\n")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=300, check=True)
    code, stdout, stderr, peak = json.loads(out.stdout)
    return subprocess.CompletedProcess(cmd, code, stdout, stderr), peak


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed; run make test, which installs the Debian packages the tests use")
    return path


@dataclass
class World:
    """A vault with alice (admin), erin (case lead), bob and carol (lawyers), dave (auditor)."""

    root: Path
    home: Path
    vault: Path  # for an S3 world, the location string s3://BUCKET/vault
    docs: dict
    backend: str = "local"  # or "s3": the same vault in a bucket of the test's moto server
    bucket: str | None = None
    s3_url: str | None = None

    def env(self, user: str | None = None, **extra) -> dict:
        env = dict(os.environ, REFUGE_HOME=str(self.home), REFUGE_VAULT=str(self.vault),
                   REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_TEST_WORK_FACTOR="10")
        env.pop("REFUGE_USER", None)
        if user:
            env["REFUGE_USER"] = user
        env.update(extra)
        return env

    def run(self, *args: str, user: str | None = None, input: bytes | None = None, **extra) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-P", "-m", "refuge", *args], env=self.env(user, **extra),
                              input=input, capture_output=True, cwd=self.root, timeout=120)

    def ok(self, *args: str, user: str | None = None) -> str:
        p = self.run(*args, user=user)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout.decode()

    def open(self, name: str):
        from vault.core import Vault
        from vault.identity import Home

        home = Home(self.home)
        return Vault.open(str(self.vault), home, lambda: home.unlock(name, PASSPHRASE))

    def vault_bytes(self) -> bytes:
        if self.backend == "s3":
            return b"".join(self.read_object(k) for k in self.object_names())
        return b"".join(p.read_bytes() for p in self.vault.rglob("*") if p.is_file())

    def object_names(self) -> list[str]:
        if self.backend == "s3":  # every object in the bucket, whatever its prefix
            return sorted(k for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
                          for k in (o["Key"].removeprefix("vault/") for o in page.get("Contents", ())))
        return sorted(str(p.relative_to(self.vault)) for p in self.vault.rglob("*") if p.is_file())

    # Backend-neutral access to the stored objects (keys as on disk), for tests that
    # look at or tamper with the storage directly on both backends.

    def storage(self):
        """The vault's storage backend (a LocalBackend or an S3Backend), made once."""
        from vault.storage import open_backend

        where = str(self.vault)
        if getattr(self, "_storage", (None,))[0] != where:
            self._storage = (where, open_backend(where))
        return self._storage[1]

    def s3(self):
        """A plain boto3 client for an S3 world's bucket, made once."""
        from moto_s3 import s3_client

        if getattr(self, "_s3", None) is None:
            self._s3 = s3_client(self.s3_url)
        return self._s3

    def read_object(self, key: str) -> bytes:
        with self.storage().get(key) as f:
            return f.read()

    def replace_object(self, key: str, data: bytes) -> None:
        """Overwrite an object, as someone holding the storage can (bypassing create-only)."""
        if self.backend == "s3":
            self.s3().put_object(Bucket=self.bucket, Key=f"vault/{key}", Body=data)
        else:
            path = self.vault.joinpath(*key.split("/"))
            path.unlink(missing_ok=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def delete_object(self, key: str) -> None:
        self.storage().delete(key)


# --- storage backends -------------------------------------------------------------------
# Every test that uses `world` (or `case_world`) runs twice: on a folder ("local") and on
# S3 ("s3"), where S3 is moto's server on 127.0.0.1 (tests/moto_s3.py), started once per
# test session (per xdist worker), reached by boto3 over HTTP; each test gets a fresh
# bucket. (A test about S3 only says @pytest.mark.parametrize("world", ["s3"], indirect=True).)
# Markers:
#   @pytest.mark.local_only("why")   the test pokes vault files on disk: its s3 run is skipped
#   @pytest.mark.packet_content("why")   the test is about what a build makes of the bytes the
#        vault hands it (pages, redaction, letters), not about storage: make test runs it on
#        "local", and its s3 run is marked slow (make stress runs it)
#   @pytest.mark.s3_in_stress("why")   the test is about a rule of the application (an option,
#        a refusal, a letter, a cache, a gate), which reads and writes the vault only through
#        calls the storage tests cover on both backends: its s3 run is marked slow as well
#   @pytest.mark.vault_options(kms=True, lock_days=N, lock_mode=M)   how the world's vault
#        is created: KMS escrow with a fresh key of the test server, S3 Object Lock (the
#        bucket is then created with Object Lock enabled)
# What runs where: make test runs every promise at least once, on its fastest realistic input
# and on every backend where the promise is about storage (raw writes to the bucket, object
# lock, purge, moves and kills, concurrent writers, fsck); repeated variants of a promise (the
# other backend when storage is incidental, other profiles or inputs when one proves the rule,
# longer or bigger stress runs) are marked slow and run in make stress. The only test of a
# promise is never moved, an assertion never weakened.

BACKENDS = ("local", "s3")


def pytest_configure(config):
    config.addinivalue_line("markers", "local_only(reason): poke vault files on disk; the s3 run is skipped")
    config.addinivalue_line("markers", "vault_options(**options): how the world's vault is created (kms, lock_days, lock_mode)")
    config.addinivalue_line("markers", "packet_content(reason): about what a build makes, not storage: s3 run is slow")
    config.addinivalue_line("markers", "s3_in_stress(reason): a rule of the application, not of storage: s3 run is slow")
    if not hasattr(config, "workerinput"):  # once, before xdist starts its workers
        _compile_product()


def _compile_product() -> None:
    """Byte-compile vault/, refuge/ and packets/ (the code the tests run, wherever it is imported
    from) into their __pycache__, as pip does for an installed package.

    Every test runs `python -P -m refuge` in a subprocess, over a thousand times a session. Where
    PYTHONDONTWRITEBYTECODE is set (many containers and CI images set it) no process writes the
    compiled files, and each of those runs compiled some 90 modules from source again: 90 ms of a
    130 ms `doc list`. Python reads the files written here, checks each against its source's
    time and size, and compiles from source any module changed since; nothing else changes."""
    import compileall
    import importlib.util

    for package in ("vault", "refuge", "packets"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=2, workers=1)


# The modules whose packet builds and recognition take longest, run first (each kept whole, in
# its own order): xdist's workers then end the run on short tests, instead of one of them
# waiting out another's long build at the end.
_LONG_FIRST = ("test_adversarial_corpus", "test_ocr", "test_formats", "test_coverage", "test_fit", "test_packets",
               "test_crash", "test_faces", "test_redact")


def _long_first(item) -> int:
    module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
    return _LONG_FIRST.index(module) if module in _LONG_FIRST else len(_LONG_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_long_first)  # stable: every module keeps its own order
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (callspec and callspec.params.get("world") == "s3" and not item.get_closest_marker("slow")
                and (item.get_closest_marker("packet_content") or item.get_closest_marker("s3_in_stress"))):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def s3_server():
    """moto's server on 127.0.0.1 and a free port, for the whole session."""
    try:
        from moto_s3 import S3Server
    except ImportError:
        pytest.fail("moto is not installed; run make test, which installs the test extras (moto[server])")
    server = S3Server().start()
    yield server
    server.stop()


def use_s3_server(request, monkeypatch):
    """Point this test (and the CLI it runs) at the session's moto server, with no real AWS
    settings leaking in; the server forgets the test's buckets afterwards. Returns the server."""
    from moto_s3 import AWS_LEAKS, s3_env

    server = request.getfixturevalue("s3_server")
    for var in AWS_LEAKS:
        monkeypatch.delenv(var, raising=False)
    for var, value in s3_env(server.url).items():
        monkeypatch.setenv(var, value)
    request.addfinalizer(server.reset)
    return server


def _backend_for(request, tmp_path, monkeypatch) -> tuple[str, dict, dict]:
    """Where the world's vault goes, the options of Vault.init, and the S3 facts for World."""
    backend = getattr(request, "param", "local")
    node = request.node
    if backend == "s3" and node.get_closest_marker("local_only"):
        pytest.skip("local only: " + " ".join(node.get_closest_marker("local_only").args))
    marker = node.get_closest_marker("vault_options")
    wanted = dict(marker.kwargs) if marker else {}
    options, facts = {}, {"backend": backend}
    if backend == "s3" or wanted.get("kms"):
        from moto_s3 import make_bucket, make_kms_key

        server = use_s3_server(request, monkeypatch)
        facts["s3_url"] = server.url
        if wanted.get("kms"):
            options["kms_key"] = make_kms_key(server.url)
    if backend == "s3":
        facts["bucket"] = make_bucket(facts["s3_url"], lock=bool(wanted.get("lock_days")))
        location = f"s3://{facts['bucket']}/vault"
        options.update({k: wanted[k] for k in ("lock_days", "lock_mode") if k in wanted})
    else:
        location = str(tmp_path / "vault")
    return location, options, facts


# --- worlds made once, copied per test -------------------------------------------------------
# A world (five identities, a vault, four enrolled users, the demo documents) and a case world
# (that plus case MX-0001, bob's grant and the declaration, indexed) are each made once per test
# session (per xdist worker) and backend, by the same real library calls as before, into a
# template: a folder holding home/, incoming/ and, for a local vault, vault/; for S3 also every
# object of the template's bucket, read back into memory (the server forgets buckets after
# each test). Each test then gets its own copy: the folders copied into its tmp_path (file
# modes kept: identities stay 0600), and for S3 its own fresh bucket filled with the same
# objects under the same keys. That is a restore of a real vault, not a stand-in: nothing of
# the product is mocked or patched, every signature, hash chain and key in it was made by the
# real code, and the test may change anything without touching another test. What a copy
# shares with its template: the vault id, case id, document ids and the times of the events
# made then (earlier in the session). The template's plaintext files are checked once to hold
# no path of its own folder nor its bucket's name (what is encrypted cannot be read there; no
# object of the vault format stores a path). A world made with
# @pytest.mark.vault_options is made for its test, never served from a template. A module's
# fixture that builds more on a case world (test_packets.py's packet_world) can keep its result
# as a template of its own the same way: derived_world below.


@dataclass
class _Template:
    folder: Path  # home/, incoming/ and (local) vault/, as the real code left them
    docs: dict  # document name -> path relative to folder
    objects: list  # S3: (key, bytes) of every object of the template's bucket; local: empty
    decl: str | None = None
    attrs: dict | None = None  # what a derived template's build set on the World (derived_world)


@pytest.fixture(scope="session")
def _world_templates() -> dict:
    """The templates made so far in this session (per xdist worker), by (backend, kind)."""
    return {}


def _make_world(root: Path, location: str, options: dict, facts: dict) -> World:
    """Five identities in root/home, a vault at ``location`` with four users, the demo documents."""
    from vault.core import Vault
    from refuge.demo import make_documents
    from vault.identity import Home, SecretIdentity

    home = Home(root / "home")
    people = {}
    for name in ("alice", "erin", "bob", "carol", "dave"):
        people[name] = SecretIdentity.generate(name)
        home.create(people[name], PASSPHRASE)
    vault = Vault.init(location, home, people["alice"], **options)
    for name, role in (("erin", "case-lead"), ("bob", "lawyer"), ("carol", "lawyer"), ("dave", "auditor")):
        vault.add_user(people[name].public, role)
    docs = make_documents(root / "incoming")
    return World(root, root / "home", location if facts["backend"] == "s3" else root / "vault", docs, **facts)


def _add_case(world: World) -> str:
    """Case MX-0001 (erin leads, bob member) holding the declaration; returns the declaration's id.

    Made through the library calls and audit entries of `case create`, `case grant` and
    `doc add` in this process (three CLI processes less; tests/test_cli.py and the tests of
    those commands run them as a user does)."""
    from refuge import indexing

    erin = world.open("erin")
    with erin.audited("case.create") as targets:
        case = erin.create_case("MX-0001", "Resettlement referral")
        targets["case"] = case.id
    with erin.audited("case.grant") as targets:
        targets["case"] = case.id
        targets["users"] = [u.user_id for u in erin.grant(erin.find_case("MX-0001"), ["bob"])]
    bob = world.open("bob")
    with bob.audited("doc.add") as targets:
        case = bob.find_case("MX-0001")
        targets["case"] = case.id
        [added] = bob.add_documents(case, [str(world.docs["declaration"])], "legal-declaration")
        if added.error:
            raise added.error
        targets["docs"] = [added.document.id]
    assert indexing.update(bob, bob.find_case("MX-0001"), [added.document.id])
    return added.document.id


def _make_template(folder: Path, facts: dict, kind: str) -> _Template:
    """A world (and for kind "case" its case) made by the real code in ``folder``, kept as a template."""
    from moto_s3 import make_bucket

    facts = dict(facts)
    if facts["backend"] == "s3":
        facts["bucket"] = make_bucket(facts["s3_url"], prefix="refuge-template")
        location = f"s3://{facts['bucket']}/vault"
    else:
        location = str(folder / "vault")
    w = _make_world(folder, location, {}, facts)
    decl = _add_case(w) if kind == "case" else None
    objects = []
    if facts["backend"] == "s3":
        objects = _bucket_objects(w)
        for k, _ in objects:  # the template's bucket goes: a test sees only its own
            w.s3().delete_object(Bucket=w.bucket, Key=k)
        w.s3().delete_bucket(Bucket=w.bucket)
    _check_names_no_template(folder, [str(folder).encode(), *([facts["bucket"].encode()] if facts["backend"] == "s3" else [])])
    return _Template(folder, {name: p.relative_to(folder) for name, p in w.docs.items()}, objects, decl)


def _bucket_objects(w: World) -> list:
    """(key, bytes) of every object in an S3 world's bucket, keys as stored (with their prefix)."""
    s3 = w.s3()
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=w.bucket)
            for o in page.get("Contents", ())]
    return [(k, s3.get_object(Bucket=w.bucket, Key=k)["Body"].read()) for k in keys]


def _copy_files(src: Path, dst: Path, skip=()) -> None:
    """Every file and folder in ``src`` (but those named in ``skip``) copied into ``dst``, modes kept
    (not times: a copy is new)."""
    for child in src.iterdir():
        if child.name in skip:
            continue
        if child.is_dir():
            shutil.copytree(child, dst / child.name, symlinks=True, copy_function=shutil.copy)
        else:
            shutil.copy(child, dst / child.name)


def _copy_template(t: _Template, root: Path, location: str, facts: dict) -> World:
    """The template's folders copied into ``root`` and, for S3, its objects put into the test's bucket."""
    _copy_files(t.folder, root)
    if facts["backend"] == "s3":
        from moto_s3 import fill_bucket

        fill_bucket(facts["s3_url"], facts["bucket"], t.objects)
    docs = {name: root / rel for name, rel in t.docs.items()}
    w = World(root, root / "home", location if facts["backend"] == "s3" else root / "vault", docs, **facts)
    if t.decl is not None:
        w.decl = t.decl
    vars(w).update(t.attrs or {})
    return w


def _check_names_no_template(folder: Path, own: list[bytes]) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert not any(o in path.read_bytes() for o in own), f"{path} names its template; a copy would point back"


def derived_world(request, w: World, name: str, build) -> World:
    """``w`` (the test's fresh copy of a world or case world) as ``build(w)`` leaves it, with
    ``build`` run once per session and backend and its result kept as a template of its own.

    ``build`` must change the world only through real calls and files in ``w.root``, and return
    the attributes to set on the World (document ids...). Later tests get a copy of its result:
    their copy of the world is replaced by one of the derived template, as the world fixture
    copies (see above). A world made for its test (vault_options) gets ``build`` run on it."""
    if request.node.get_closest_marker("vault_options"):
        vars(w).update(build(w))
        return w
    templates = request.getfixturevalue("_world_templates")
    key = (w.backend, "case" if getattr(w, "decl", None) else "world", name)  # what it builds on counts too
    facts = {"backend": w.backend, "bucket": w.bucket, "s3_url": w.s3_url}
    if key in templates:
        for child in ("home", "incoming", "vault"):  # the test's copy of the world, replaced by the derived one
            shutil.rmtree(w.root / child, ignore_errors=True)
        if w.backend == "s3":
            for k, _ in _bucket_objects(w):
                w.s3().delete_object(Bucket=w.bucket, Key=k)
        return _copy_template(templates[key], w.root, str(w.vault), facts)
    before = {p.name for p in w.root.iterdir()} - {"home", "incoming", "vault"}  # not the world's, nor build's
    attrs = dict(build(w))
    vars(w).update(attrs)
    folder = request.getfixturevalue("tmp_path_factory").mktemp(f"template-{name}-")
    _copy_files(w.root, folder, skip=before)
    objects = _bucket_objects(w) if w.backend == "s3" else []
    _check_names_no_template(folder, [str(w.root).encode(), *([w.bucket.encode()] if w.bucket else [])])
    templates[key] = _Template(folder, {n: p.relative_to(w.root) for n, p in w.docs.items()}, objects,
                               getattr(w, "decl", None), attrs)
    return w


@pytest.fixture(params=BACKENDS)
def world(request, tmp_path, monkeypatch, tmp_path_factory, _world_templates) -> World:
    """A vault with five people on the test's backend; copied from this session's template
    (see above), made for the test only when it asks for vault_options."""
    location, options, facts = _backend_for(request, tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    if request.node.get_closest_marker("vault_options"):
        return _make_world(tmp_path, location, options, facts)
    kind = "case" if "case_world" in request.fixturenames else "world"
    key = (facts["backend"], kind)
    if key not in _world_templates:
        _world_templates[key] = _make_template(tmp_path_factory.mktemp(f"template-{kind}-"), facts, kind)
    return _copy_template(_world_templates[key], tmp_path, location, facts)


@pytest.fixture
def case_world(world) -> World:
    """The world plus case MX-0001 (erin leads, bob member) holding the declaration.

    Copied with the world from the session's case template (the world fixture serves that
    template to tests asking for case_world); a world made for its test gets the case here."""
    if getattr(world, "decl", None) is None:
        world.decl = _add_case(world)
    return world


@pytest.fixture
def keyed_world(case_world, request) -> World:
    """The case world with the organisation's signing key ("Fictional Legal Clinic", made by
    `keys org generate`): made once per session and backend, then copied (derived_world)."""
    return derived_world(request, case_world, "org-key", _org_key)


def _org_key(w: World) -> dict:
    w.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    return {}


# --- the unlock agent (tests/test_agent_commands.py, tests/test_redteam_agent.py) ---


@pytest.fixture
def runtime(monkeypatch):
    """A private XDG_RUNTIME_DIR short enough for AF_UNIX, for the agent's socket."""
    folder = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unlocked(case_world, runtime):
    """bob's agent, started by `refuge unlock` as a person starts it."""
    p = case_world.run("unlock", "--timeout", "5", user="bob", XDG_RUNTIME_DIR=str(runtime))
    assert p.returncode == 0, p.stderr
    yield case_world
    case_world.run("lock", user="bob", XDG_RUNTIME_DIR=str(runtime))


def on_a_small_disk(folder, mib: int, script: str, *args: str, **run) -> subprocess.CompletedProcess:
    """Run the shell ``script`` (``$0`` the folder, ``$1``... ``args``) with a tmpfs of ``mib`` MiB mounted
    over ``folder`` in a mount namespace of its own (`unshare -r -m`: a user namespace, no privilege
    needed), so the kernel itself answers ENOSPC; the mount ends with it (exit 99: it could not mount)."""
    mount = f'mount -t tmpfs -o size={mib}m refuge-test "$0" || exit 99\n'
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c", mount + script, str(folder), *args],
                          capture_output=True, text=True, **run)


@pytest.fixture(scope="session")
def small_disks(tmp_path_factory) -> None:
    """Skip unless :func:`on_a_small_disk` can mount here: the tests that fill a disk for real need it."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare here")
    probe = on_a_small_disk(tmp_path_factory.mktemp("probe-tmpfs"), 1, "true")
    if probe.returncode:
        pytest.skip(f"no tmpfs of one's own here (user or mount namespaces refused): {probe.stderr.strip()}")
