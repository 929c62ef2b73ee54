"""Untrusted documents are parsed only where no key lives; no secret reaches a core dump or a child.

Each test works the way an attacker or a careless setting would: a crafted PDF handed to
intake, a script that exports REFUGE_PASSPHRASE, a second local user who creates the
agent's folder first, a crash of the agent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ACCEPT_GAPS, PASSPHRASE, peak_rss_mib
from hostile_pdfs import cut_in_half, self_drawing_form, xobject_bomb

local = pytest.mark.parametrize("world", ["local"], indirect=True)


def _documents(world) -> list:
    return json.loads(world.ok("doc", "list", "MX-0001", "--json", user="bob"))


@local
@pytest.mark.parametrize("make", [xobject_bomb, self_drawing_form], ids=["nested-forms", "self-drawing-form"])
def test_a_rendering_bomb_is_refused_at_intake_in_bounded_memory(case_world, tmp_path, make):
    bomb = tmp_path / "declaration.pdf"
    bomb.write_bytes(make())
    assert bomb.stat().st_size < 5000
    before = _documents(case_world)
    cmd = [sys.executable, "-P", "-m", "refuge", "doc", "add", "MX-0001", str(bomb), "--type", "legal-declaration"]
    p, peak = peak_rss_mib(cmd, case_world.env("bob"), case_world.root)
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith("refuge: error: the file is a PDF whose pages draw nested forms too many times")
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert peak < 1024, f"{peak:.0f} MiB"
    assert _documents(case_world) == before
    entries = json.loads(case_world.ok("audit", "log", "--action", "doc.add", "--json", user="dave"))
    assert entries[-1]["result"] == "error" and entries[-1]["name"] == "bob"


@local
def test_a_pdf_cut_short_is_refused_with_the_way_out(case_world, tmp_path):
    whole = Path(case_world.docs["declaration"]).read_bytes()
    cut = tmp_path / "download.pdf"
    cut.write_bytes(cut_in_half(whole))
    assert subprocess.run(["qpdf", "--check", str(cut)], capture_output=True).returncode != 0
    p = case_world.run("doc", "add", "MX-0001", str(cut), "--type", "legal-declaration", user="bob")
    assert p.returncode == 1
    assert p.stderr.decode() == ("refuge: error: the file looks cut short or damaged (its PDF structure is incomplete); "
                                 "download or scan it again\n")
    assert len(_documents(case_world)) == 1


def test_the_worker_holds_no_secret_and_cannot_dump_core_or_reach_a_network(monkeypatch):
    from vault import worker

    monkeypatch.setenv("REFUGE_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-parsers")
    seen = worker.describe()
    assert not [v for v in seen["environment"] if v.startswith(("REFUGE_", "AWS_"))]
    assert seen["cwd"] == "/" and seen["core"] == 0
    assert 0 < seen["address_space"] < 4 * 1024**3 and seen["cpu"] <= worker.INTAKE_LIMITS.cpu_seconds + 5
    assert seen["open_fds"] == [0, 1, 2, 3, 4][: len(seen["open_fds"])]  # nothing inherited past the pipes
    if os.getuid() == 0:  # a new network namespace: nothing but a loopback that is down
        assert seen["interfaces"] == ["lo"]


def test_under_a_tighter_cpu_limit_the_worker_takes_it_and_the_add_goes_through(case_world, tmp_path):
    """A script run under `ulimit -t 30` (hard): the keyless worker asks for 60 s of CPU, cannot raise the
    limit it inherited, and takes the 30 s instead of dying, so the add is checked and stored as usual
    (before: "could not be checked within 60 s of CPU ...", about a plain text file)."""
    import resource

    def tight() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (30, 30))

    probe = "import json\nfrom vault import worker\nprint(json.dumps(worker.describe()))\n"
    seen = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=60,
                          preexec_fn=tight, check=True)
    assert json.loads(seen.stdout)["cpu"] == 30
    (tmp_path / "note.txt").write_text("a short note\n")
    before = _documents(case_world)
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "doc", "add", "MX-0001", str(tmp_path / "note.txt"),
                        "--type", "other"], env=case_world.env("bob"), capture_output=True, timeout=120,
                       preexec_fn=tight)
    assert p.returncode == 0 and not p.stderr, p.stderr
    assert len(_documents(case_world)) == len(before) + 1


def test_a_worker_that_dies_is_one_error_naming_the_document_and_its_limit():
    from vault import worker

    tight = worker.Limits(memory=8 * 1024**2, cpu_seconds=1, wall_seconds=20)
    with pytest.raises(worker.WorkerFailed, match=r"doc-1234 could not be processed within 8 MiB of memory and 1 s"):
        worker.run("vault.worker:_describe_task", None, [b"x" * (64 * 1024**2)], limits=tight, label="doc-1234")


def test_a_worker_answer_is_data_never_code():
    import io

    from vault import worker

    buf = io.BytesIO()
    worker.write_message(buf, {"result": [1, "two"]}, [b"\x00blob"])
    buf.seek(0)
    assert worker.read_message(buf) == ({"result": [1, "two"]}, [b"\x00blob"])
    for bad in (b"\x00" * 8 + b"", b"\xff" * 8, b"\x00\x00\x00\x00\x00\x00\x00\x05{oops"):
        with pytest.raises((ValueError, EOFError)):
            worker.read_message(io.BytesIO(bad))


# --- the unlock agent and the CLI process ----------------------------------------------------------


def _agent_pid(folder: Path) -> int:
    """The pid of the agent listening in ``folder``, from its socket's peer credentials."""
    import socket
    import struct

    for _ in range(50):
        for sock in folder.glob("*.sock"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(sock))
                pid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
            try:  # until the agent listens itself, the credentials are those of the command that started it
                if b"vault.agent" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError("no agent socket")


@local
def test_the_agent_holds_no_passphrase_and_cannot_dump_core(world, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    short = Path(tempfile.mkdtemp(prefix="agent-", dir="/tmp"))  # a socket path must fit AF_UNIX's 108 bytes
    env_tmp = {"TMPDIR": str(short)}
    work = tmp_path / "where-unlock-ran"
    work.mkdir()
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "unlock", "--timeout", "2"], env=world.env("bob", **env_tmp),
                       cwd=work, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    pid = _agent_pid(short / f"refuge-agent-{os.getuid()}")
    try:
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert [line.split()[-3:-1] for line in limits.splitlines() if line.startswith("Max core file size")] == [["0", "0"]]
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"REFUGE_" not in environ and PASSPHRASE.encode() not in environ
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        # the agent answers: a command with no passphrase at all works
        env = world.env("bob", **env_tmp)
        del env["REFUGE_PASSPHRASE"]
        assert subprocess.run([sys.executable, "-P", "-m", "refuge", "case", "list"], env=env, capture_output=True,
                              timeout=60).returncode == 0
    finally:
        os.kill(pid, signal.SIGSEGV)  # a crash: no core file anywhere near
    time.sleep(0.5)
    assert not list(work.iterdir()) and not list(Path("/").glob("core*"))


@local
def test_a_folder_made_by_another_user_cannot_stop_commands_or_take_the_agent(world, tmp_path, monkeypatch):
    if os.getuid() != 0:
        pytest.skip("needs root to create a folder owned by another user, as a second local user would")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    squatted = tmp_path / f"refuge-agent-{os.getuid()}"
    squatted.mkdir(mode=0o777)
    os.chown(squatted, 65534, 65534)  # nobody made it first
    env = world.env("bob", TMPDIR=str(tmp_path))
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "case", "list"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr  # the passphrase still works
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "unlock"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert err.startswith(f"refuge: error: {squatted} belongs to another user") and "XDG_RUNTIME_DIR" in err
    assert err.count("\n") == 1 and not list(squatted.iterdir())


def test_the_command_line_process_cannot_dump_core(tmp_path):
    probe = ("import resource, sys\nfrom refuge import cli\nsys.argv=['refuge', '--version']\n"
             "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "print(resource.getrlimit(resource.RLIMIT_CORE))\n")
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert p.stdout.splitlines()[-1] == "(0, 0)"


@local
def test_recognition_runs_in_the_keyless_worker_never_in_the_process_that_holds_keys(case_world, tmp_path):
    """Tesseract reads the pixels of hostile documents, in-process through its library since
    issue #21: it must run in the keyless worker (whose environment holds no secret: the test
    above), never in the command's own process, which unlocked the identity. The plan
    recognises the photo (its reading is kept in the case); the command's process has neither
    imported packets._tesslib nor mapped libtesseract, checked as it exits."""
    case_world.ok("doc", "add", "MX-0001", str(case_world.docs["passport"]), "--type", "identity", user="bob")
    case_world.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin")
    probe = tmp_path / "probe"
    code = ("import atexit, runpy, sys\n"
            "def probe():\n"
            "    maps = open('/proc/self/maps').read()\n"
            f"    open({str(probe)!r}, 'w').write(f\"{{'libtesseract' in maps}} {{'packets._tesslib' in sys.modules}}\")\n"
            "atexit.register(probe)\n"
            "sys.argv = ['refuge', *sys.argv[1:]]\n"
            "runpy.run_module('refuge', run_name='__main__', alter_sys=True)\n")
    p = subprocess.run([sys.executable, "-P", "-c", code, "packet", "plan", "MX-0001", "--for", "unhcr-resettlement",
                        "--ocr", "--json"], env=case_world.env("erin"), capture_output=True, cwd=case_world.root,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    v = case_world.open("erin")
    assert v.find_case("MX-0001").ocr, "the plan recognised the photo (its reading is kept in the case)"
    assert probe.read_text() == "False False", "Tesseract was loaded in the process that holds the keys"


# Loaded by every interpreter of the command below (PYTHONPATH): the watchdog on a page set to
# fire a hundredth of a second after the page starts, long before Tesseract could end it.
_TINY_DEADLINE = "import packets.ocr as o\no.OVERRUN_GRACE = 0.01 - o.PAGE_TIMEOUT\n"


@local
def test_a_page_still_read_past_its_deadline_ends_the_worker_with_one_line(case_world, tmp_path):
    """A crafted page can hold Tesseract in its layout analysis, which the engine's deadline does
    not cover: a page still being read after its deadline ends the keyless worker reading it, and
    the command stops with the deadline's one line, keeping no reading. Fails without the watchdog:
    the photo is then read whole and the plan succeeds."""
    case_world.ok("doc", "add", "MX-0001", str(case_world.docs["passport"]), "--type", "identity", user="bob")
    case_world.ok("consent", "grant", "MX-0001", "--recipient", "unhcr-resettlement", user="erin")
    site = tmp_path / "site"  # a folder of its own: nothing in it may shadow a module
    site.mkdir()
    (site / "sitecustomize.py").write_text(_TINY_DEADLINE)
    p = case_world.run("packet", "plan", "MX-0001", "--for", "unhcr-resettlement", "--ocr", user="erin",
                       PYTHONPATH=str(site))
    assert p.returncode != 0
    assert p.stderr.decode().splitlines() == [
        "refuge: error: recognition of a page took longer than 180 s; review the page by hand"], p.stderr
    assert not case_world.open("erin").find_case("MX-0001").ocr, "a reading was kept from a page given up"


@local
def test_a_bomb_already_in_the_vault_stops_the_build_in_bounded_memory(case_world, tmp_path, monkeypatch):
    """An insider (or an older refuge) stored a rendering bomb past intake: the build renders it
    only in the keyless worker, which hits its memory limit; one line names the document."""
    from vault import intake

    bomb = tmp_path / "statement.pdf"
    bomb.write_bytes(xobject_bomb(depth=8))
    monkeypatch.setattr(intake, "inspect_isolated",
                        lambda path, limit, label: intake.Inspection("application/pdf", bomb.stat().st_size))
    bob = case_world.open("bob")
    [added] = bob.add_documents(bob.find_case("MX-0001"), [str(bomb)], "legal-declaration")
    doc_id = added.document.id
    case_world.ok("keys", "org", "generate", "--name", "Fictional Legal Clinic", user="alice")
    case_world.ok("consent", "grant", "MX-0001", "--recipient", "irb-rpd-disclosure", user="erin")
    out = tmp_path / "packet.pdf"
    cmd = [sys.executable, "-P", "-m", "refuge", "packet", "build", *ACCEPT_GAPS, "MX-0001", "--for", "irb-rpd-disclosure",
           "-o", str(out), "--allow-incomplete"]
    p, peak = peak_rss_mib(cmd, case_world.env("erin"), case_world.root)
    assert p.returncode == 1, p.stderr
    # a line per stage of the build (not a terminal), then the error, in one line
    *stages, error = p.stderr.splitlines()
    assert all(s.startswith("refuge: ") and s.endswith("...") for s in stages)
    assert error.startswith(f"refuge: error: document {doc_id} could not be rendered within 1024 MiB of memory")
    assert peak < 1280, f"{peak:.0f} MiB"
    assert not list(tmp_path.glob("packet*"))
    entries = json.loads(case_world.ok("audit", "log", "--action", "packet.build", "--json", user="dave"))
    assert entries[-1]["result"] == "error"
