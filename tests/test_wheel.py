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
