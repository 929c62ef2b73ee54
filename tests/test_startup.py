"""`doc add`'s fixed costs stay cut: what it imports, what its keyless worker imports and runs.

Most of a small `doc add` is starting two interpreters (the command and intake's keyless
worker) and importing; issue #21 cut both. These tests run the real command (and the real
worker's imports) in fresh interpreters and fail if a module it does not need comes back.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# The CLI run in this interpreter, writing the names of the modules it imported to argv[1] at exit.
_RECORDING = (
    "import atexit, runpy, sys\n"
    "out = sys.argv[1]\n"
    "def _record():\n"
    "    with open(out, 'w') as o:\n"
    "        o.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(_record)\n"
    "sys.argv = ['refuge'] + sys.argv[2:]\n"
    "runpy.run_module('refuge', run_name='__main__')\n"
)

# Clearly not needed to add a document to a local vault: the other commands' modules, the web
# desk, the S3 backend, the checker, CSV output, passphrase prompts, a browser, the packet
# pipeline (indexing the new text needs packets._text alone).
NOT_FOR_DOC_ADD = ("refuge.commands.packets", "refuge.commands.audit", "refuge.commands.cases",
                   "refuge.commands.people", "refuge.commands.register", "refuge.commands.keys",
                   "refuge.commands.search", "refuge.commands.org", "refuge.web.serve", "vault.s3",
                   "boto3", "csv", "getpass", "webbrowser", "packets._isolated", "packets.model",
                   "packets.profiles")


@pytest.mark.local_only("a local vault, so that no S3 module is needed")
def test_doc_add_imports_only_what_it_uses(case_world, tmp_path):
    w = case_world
    note = tmp_path / "note.txt"
    note.write_text("a short statement\n")
    seen = tmp_path / "modules"
    p = subprocess.run([sys.executable, "-P", "-c", _RECORDING, str(seen), "doc", "add", "MX-0001", str(note),
                        "--type", "other"], env=w.env("bob"), capture_output=True, cwd=w.root, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    modules = set(seen.read_text().split())
    assert {"refuge.commands.documents", "vault.intake", "packets._text"} <= modules  # the recording works
    assert not modules & set(NOT_FOR_DOC_ADD), sorted(modules & set(NOT_FOR_DOC_ADD))


def test_every_command_still_loads_by_name():
    """Commands load on first use: each name `refuge --help` lists resolves to its command."""
    import click

    from refuge.cli import COMMANDS, cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name, name
    assert cli.get_command(ctx, "no-such-command") is None


# What the intake worker does before it reads its request: import its modules, map libmagic's
# database. Any Popen (ctypes.util.find_library runs `ldconfig -p`) is recorded.
_WORKER_START = (
    "import subprocess, sys\n"
    "spawned = []\n"
    "real = subprocess.Popen.__init__\n"
    "def popen(self, args, *a, **k):\n"
    "    spawned.append(args)\n"
    "    real(self, args, *a, **k)\n"
    "subprocess.Popen.__init__ = popen\n"
    "import vault.worker, vault.intake\n"
    "vault.intake._inspect_task.prepare()\n"
    "print(repr(spawned))\n"
    "print(' '.join(sorted(sys.modules)))\n"
)


def test_the_intake_worker_starts_light():
    p = subprocess.run([sys.executable, "-P", "-c", _WORKER_START], capture_output=True, text=True, timeout=60,
                       check=True)
    spawned, modules = p.stdout.splitlines()
    assert spawned == "[]", f"the worker ran programs at its start: {spawned}"
    heavy = {"dataclasses", "inspect", "typing", "ast", "PIL", "pikepdf"} & set(modules.split())
    assert not heavy, f"the intake worker imports {sorted(heavy)} before it knows the file"


def test_the_text_worker_of_a_plain_text_loads_no_packet_pipeline():
    """The worker that reads a new text for the search index imports its task's module alone."""
    probe = ("import sys\nimport vault.worker, packets._text\n"
             "assert packets._text.document_text('text/plain', b'one\\fthree', {}) == [[1, 'one'], [2, 'three']]\n"
             "print(' '.join(sorted(sys.modules)))\n")
    p = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    heavy = {"packets.model", "packets.profiles", "packets.redact", "vault.core", "pikepdf", "PIL"} & set(p.stdout.split())
    assert not heavy, f"the text worker imports {sorted(heavy)} for a plain text"


# What a packet build's keyless workers import: the modules of their tasks (packets/_isolated.py
# produce_here and _review_task, packets/coverage.py _candidates_task) and of the stages those run.
_PACKET_WORKER = (
    "import sys\n"
    "import vault.worker, packets._isolated, packets.coverage\n"
    "from packets.assemble import assemble\n"
    "from packets.build import require_reviews\n"
    "from packets.leakcheck import verify_file, verify_volumes\n"
    "from packets.redact import Redactor, redact_rendered\n"
    "from packets.render import page_count, render, render_item\n"
    "from packets.review import review_report\n"
    "import packets.ocr, packets._flatten, packets._readback, packets._barcodes\n"
    "print(' '.join(sorted(sys.modules)))\n"
)


def test_the_packet_workers_load_no_vault_core_and_no_key_code():
    """A packet build started up to four keyless workers; each imported the vault's core, its age
    format and cryptography (a tenth of a second each) to read the ten document types a profile
    names (packets/profiles.py) and to reach require_reviews (packets/build.py). The stages' modules
    now load none of it (pdfminer may still load cryptography's ciphers when the leak check reads
    an encrypted PDF's text); a worker that holds no key has no use for the vault's key code."""
    p = subprocess.run([sys.executable, "-P", "-c", _PACKET_WORKER], capture_output=True, text=True, timeout=60,
                       check=True)
    modules = set(p.stdout.split())
    assert {"packets.redact", "packets.leakcheck", "pikepdf"} <= modules  # the probe loads the stages
    key_code = {"vault.core", "vault.cases", "vault.age", "vault._crypto", "vault.orgkey", "vault.casekeys",
                "vault.renditions", "cryptography", "pyhanko"} & modules
    assert not key_code, f"the packet workers import {sorted(key_code)}"


# Not needed to list or read a case's documents and consents: the search index's modules (they
# load for the commands that change documents), the stream threads' concurrent.futures and
# logging, cryptography's serialization package (public keys come out with public_bytes_raw).
NOT_FOR_READING = ("refuge.indexing", "vault.searching", "concurrent.futures", "logging",
                   "cryptography.hazmat.primitives.serialization")


@pytest.mark.local_only("a local vault, so that no S3 module is needed")
def test_listing_and_reading_import_only_what_they_use(case_world, tmp_path):
    w = case_world
    for i, args in enumerate((("doc", "list", "MX-0001"), ("consent", "list", "MX-0001"), ("case", "list"),
                              ("doc", "get", w.decl, "-o", str(tmp_path / "back.pdf")))):
        seen = tmp_path / f"modules-{i}"
        p = subprocess.run([sys.executable, "-P", "-c", _RECORDING, str(seen), *args], env=w.env("bob"),
                           capture_output=True, cwd=w.root, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        modules = set(seen.read_text().split())
        assert {"refuge.commands.documents", "vault.core"} <= modules or args[0] == "case"  # the recording works
        unused = set(NOT_FOR_READING) - ({"concurrent.futures", "logging"} if args[:2] == ("doc", "get") else set())
        assert not modules & unused, (args, sorted(modules & unused))  # doc get streams on threads: it needs those
    assert (tmp_path / "back.pdf").read_bytes() == w.docs["declaration"].read_bytes()
