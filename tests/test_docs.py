"""docs/ stays true: the CLI reference is the commands' own --help, the module map is the file list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from refuge import __version__
from refuge._docgen import ROOT, module_map, render, with_module_map

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_cli_reference_matches_the_help_of_every_command():
    assert DOC.read_text(encoding="utf-8") == render(), "docs/cli.md is out of date; run make docs"


def test_architecture_module_map_lists_every_module_as_it_is():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert with_module_map(text) == text, "docs/architecture.md's module map is out of date; run make docs"
    listed = set(re.findall(r"\| `([a-z0-9_/]+\.py)` \|", module_map()))
    on_disk = {p.relative_to(ROOT).as_posix() for pkg in ("vault", "packets", "refuge") for p in (ROOT / pkg).rglob("*.py")
               if "__pycache__" not in p.parts}
    assert listed == on_disk


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
