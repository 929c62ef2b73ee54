"""refuge works installed as a user installs it: from a wheel, run from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with refuge installed from its wheel (no editable link)."""
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"  # a copy, so that the build's own folders never land in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                             ".pytest_cache", ".hypothesis", "out"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work),
                    str(src)], check=True, capture_output=True, cwd=work)
    wheel = next(work.glob("refuge-*.whl"))
    venv = work / "venv"
    # No pip in the venv (ensurepip took 3 to 6 s): the test venv's pip installs the wheel into it (--python)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    # The dependencies come from the test venv's site-packages, added as a plain path: its .pth files
    # (among them the editable install's finder) are not run, so refuge itself comes from the wheel only.
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFUGE_", "PYTHON"))}
    env["HOME"] = str(cwd)
    env["XDG_CONFIG_HOME"] = str(cwd / "config")
    return subprocess.run([str(venv / "bin" / "refuge"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_installed_code_is_the_wheel_not_the_checkout(installed, tmp_path):
    p = subprocess.run([str(installed / "bin" / "python"), "-c",
                        "import refuge, vault, packets; print(refuge.__file__, vault.__file__, packets.__file__)"],
                       capture_output=True, text=True, cwd=tmp_path, check=True)
    for path in p.stdout.split():
        assert str(installed) in path and str(ROOT) not in path


def test_wheel_lists_the_recipient_profiles_from_any_folder(installed, tmp_path):
    p = _run(installed, tmp_path, "packet", "profiles", "--json")
    assert p.returncode == 0, p.stderr
    ids = {row["id"] for row in json.loads(p.stdout)}
    assert {"irb-rpd-disclosure", "ircc-resettlement", "unhcr-resettlement", "ccvt-intake"} <= ids


def test_wheel_runs_the_demo_from_any_folder(installed, tmp_path):
    p = _run(installed, tmp_path, "demo", str(tmp_path / "demo"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "demo" / "packets" / "unhcr.pdf").read_bytes().startswith(b"%PDF")
    assert p.stdout.rstrip().endswith("act as alice, erin, bob or dave, e.g. refuge --as erin case list")  # what next


def test_wheel_metadata_has_the_licence_in_pep_639_form(installed):
    meta = next((installed / "lib").glob("python*/site-packages/refuge-*.dist-info/METADATA")).read_text()
    assert "License-Expression: Apache-2.0" in meta


def test_wheel_adds_a_document_through_the_unlock_agent_from_any_folder(installed, tmp_path):
    """The installed `refuge` (its entry point refuge._launch) reaches the agent `refuge unlock` started,
    which runs the add with the installed code; the document reads back byte for byte."""
    import tempfile

    runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short enough for AF_UNIX
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REFUGE_", "PYTHON"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_RUNTIME_DIR=str(runtime),
               REFUGE_VAULT=str(tmp_path / "vault"), REFUGE_TEST_WORK_FACTOR="10",
               REFUGE_PASSPHRASE="a passphrase for the wheel's test")

    def run(*args: str, user: str = "erin", **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(installed / "bin" / "refuge"), "--as", user, *args] if user else
                              [str(installed / "bin" / "refuge"), *args], capture_output=True, text=True,
                              cwd=tmp_path, env={**env, **extra}, timeout=300)

    try:
        for args, user in ((("user", "keygen", "alice"), None), (("init", "--admin", "alice"), "alice"),
                           (("user", "keygen", "erin"), None), (("user", "add", "erin", "--role", "case-lead"), "alice"),
                           (("case", "create", "WH-1", "--title", "wheel"), "erin"), (("unlock",), "erin")):
            p = run(*args, user=user)
            assert p.returncode == 0, (args, p.stderr)
        (tmp_path / "note.txt").write_text("A note added through the agent.\n")
        broken = tmp_path / "broken"  # a click that cannot load: only the agent, which has it loaded, can run this
        broken.mkdir()
        (broken / "click.py").write_text("raise ImportError('not this click')\n")
        p = run("doc", "add", "WH-1", "note.txt", "--type", "other", user=None, REFUGE_USER="erin",
                REFUGE_PASSPHRASE="", PYTHONPATH=str(broken))
        assert p.returncode == 0, p.stderr
        [doc_id] = p.stdout.split()
        got = run("doc", "get", doc_id)
        assert got.returncode == 0 and got.stdout == "A note added through the agent.\n"
    finally:
        run("lock")
        shutil.rmtree(runtime, ignore_errors=True)
