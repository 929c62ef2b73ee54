"""A disk that fills (or a file size limit) while refuge writes: one line naming it and the way out, exit 1,
nothing kept.

Each test mounts a small tmpfs, in a mount namespace of its own (`unshare -r -m`: a user namespace,
no privilege needed), over the vault or over the output's folder, and runs the real command line in
it, so the kernel itself answers ENOSPC in the middle of a large write. What is left is read inside
the namespace (the mount vanishes with it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import on_a_small_disk

pytestmark = pytest.mark.local_only("mounts a small disk over the vault's folder")

MIB = 1 << 20


def _text(path, mib: int) -> None:
    """A plain text of ``mib`` MiB that does not compress (a disk that compressed would hold more)."""
    path.write_text("\n".join(os.urandom(MIB // 4).hex() for _ in range(mib * 2 + 1))[:mib * MIB])
FULL = ("refuge: error: the vault's disk is full: nothing was stored; free some space on it and try "
        "again")


def _on_a_small_disk(w, folder, mib: int, commands: list[list[str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """Run refuge ``commands`` (as bob) with ``folder`` on a tmpfs of ``mib`` MiB holding a copy of what it
    held: each command's (exit code, output and errors together), and the files then under ``folder``."""
    copy = folder.parent / f".{folder.name}-copy"
    shutil.copytree(folder, copy)
    marker = "\n--refuge-test--\n"
    steps = [f'"$PY" -P -m refuge {" ".join(_quote(a) for a in c)} 2>&1; echo "rc=$?"; echo "{marker.strip()}"'
             for c in commands]
    script = 'cp -a "$1"/. "$0"/ || exit 98\n' + "\n".join(steps) + '\ncd "$0" && find . -type f | sort\n'
    p = on_a_small_disk(folder, mib, script, str(copy), timeout=300, cwd=w.root, env=w.env("bob", PY=sys.executable))
    assert p.returncode == 0, p.stdout + p.stderr
    *runs, listing = p.stdout.split(marker)
    out = []
    for run in runs:
        text, _, code = run.rstrip("\n").rpartition("rc=")
        out.append((int(code), text))
    return out, listing.split()


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def test_a_vault_disk_that_fills_during_doc_add_keeps_nothing_and_says_so(case_world, tmp_path, small_disks):
    w = case_world
    big, small = tmp_path / "scan.txt", tmp_path / "note.txt"
    _text(big, 24)
    _text(small, 1)
    used = sum(p.stat().st_size for p in w.vault.rglob("*") if p.is_file()) // MIB
    runs, files = _on_a_small_disk(w, w.vault, used + 12, [
        ["doc", "add", "MX-0001", str(big), "--type", "other"],
        ["doc", "list", "MX-0001", "--json"],
        ["fsck"],
        ["doc", "add", "MX-0001", str(small), "--type", "other"],  # the control: what fits is stored
    ])
    (code, text), (_, listed), (fsck, checked), (control, _) = runs
    assert (code, text.strip()) == (1, FULL), text
    assert "scan.txt" not in listed and fsck == 0, listed + checked
    assert control == 0, runs[3]
    before = {str(p.relative_to(w.vault)) for p in w.vault.rglob("*") if p.is_file()}
    added = sorted(f.removeprefix("./") for f in files if f.removeprefix("./") not in before)
    assert [f for f in added if "/blobs/" in f] and not [f for f in added if f.startswith(".tmp")], added
    # only the control's blob is new among the blobs: the 24 MiB one left nothing
    assert len([f for f in added if "/blobs/" in f]) == 1, added


def test_an_output_disk_that_fills_during_doc_get_leaves_no_file_and_says_so(case_world, tmp_path, small_disks):
    w = case_world
    src = tmp_path / "scan.txt"
    _text(src, 6)
    doc = w.ok("doc", "add", "MX-0001", str(src), "--type", "other", "--json", user="bob")
    doc_id = json.loads(doc)[0]["id"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("already here\n")
    runs, files = _on_a_small_disk(w, out, 2, [
        ["doc", "get", doc_id, "-o", str(out / "scan.txt")],
        ["doc", "get", doc_id, "-o", str(out / "kept.txt"), "--force"],
    ])
    for code, text in runs:
        assert (code, text.strip()) == (1, "refuge: error: the output file's disk is full: nothing was written; "
                                           "free some space on it and try again"), text
    assert files == ["./kept.txt"]


def test_a_file_size_limit_below_the_document_keeps_nothing_and_says_so(case_world, tmp_path):
    """`ulimit -f` (RLIMIT_FSIZE) under the document's size: Python ignores SIGXFSZ, so the write fails
    (EFBIG) where a process would otherwise die; one line, exit 1, no blob, no leftover."""
    import resource

    w = case_world
    big = tmp_path / "scan.txt"
    _text(big, 12)
    blobs = {p.name for p in w.vault.glob("cases/*/blobs/*")}
    limit = 8 * MIB
    p = subprocess.run([sys.executable, "-P", "-m", "refuge", "doc", "add", "MX-0001", str(big), "--type", "other"],
                       env=w.env("bob"), capture_output=True, text=True, cwd=w.root, timeout=120,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
    assert (p.returncode, p.stderr.strip()) == (1, "refuge: error: the vault's disk refused a file this large (the "
                                                   "process's file size limit, ulimit -f, or the filesystem's): "
                                                   "nothing was stored; raise the limit and try again")
    assert {p.name for p in w.vault.glob("cases/*/blobs/*")} == blobs
    assert not (w.vault / ".tmp").exists() or not list((w.vault / ".tmp").iterdir())
    assert "scan.txt" not in w.ok("doc", "list", "MX-0001", user="bob")


def test_a_file_that_cannot_be_read_midway_is_one_line_and_nothing_is_stored(case_world):
    """A failing disk or USB stick under the file (the kernel's EIO; here from /proc/self/mem, whose first
    page no process has mapped): one line naming the file by its place, not its path, exit 1, nothing kept."""
    w = case_world
    blobs = {p.name for p in w.vault.glob("cases/*/blobs/*")}
    before = w.ok("doc", "list", "MX-0001", "--json", user="bob")
    p = w.run("doc", "add", "MX-0001", "/proc/self/mem", "--type", "other", user="bob")
    assert (p.returncode, p.stderr.decode().strip()) == (1, "refuge: error: the file could not be read (input/output "
                                                            "error): nothing was stored; check the disk or device it "
                                                            "is on and add it again"), p.stderr
    assert {p.name for p in w.vault.glob("cases/*/blobs/*")} == blobs
    assert w.ok("doc", "list", "MX-0001", "--json", user="bob") == before
