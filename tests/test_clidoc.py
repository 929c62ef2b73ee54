"""The CLI reference in docs/cli.md is the commands' own --help, and --version answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from refuge import __version__
from refuge._clidoc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_reference_matches_the_help_of_every_command():
    assert DOC.read_text(encoding="utf-8") == render(), "docs/cli.md is out of date; run make docs"


def test_cli_reference_covers_every_command_of_the_design():
    text = render()
    for command in ("refuge init", "refuge user add", "refuge case export-key", "refuge doc add", "refuge consent grant",
                    "refuge redact term", "refuge packet build", "refuge packet verify", "refuge audit verify",
                    "refuge fsck", "refuge demo"):
        assert f"\n## {command}\n" in text or f"\n### {command}\n" in text or f"\n#### {command}\n" in text, command


def test_version_prints_the_installed_version():
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == f"refuge {__version__}\n"
    assert __version__ != "0+unknown"
