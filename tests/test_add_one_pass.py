"""`doc add` reads a file once: intake checks it in the keyless worker while it is encrypted.

The duplicate check uses the SHA-256 computed as the file is stored (no pass
before), and intake's check runs alongside the store. So a refusal now comes
after the blob was written: each test here makes the store happen (files of
several MiB) and then looks at the raw storage for anything left behind.
Local vault only: they count files on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.local_only("counts the vault's files on disk")

MIB = 1 << 20

# The CLI run in this interpreter, printing what the process read (rchar of /proc/self/io: every
# read of the process and its threads, not of the keyless worker it starts) to argv[1] at exit.
_COUNTING = (
    "import atexit, os, runpy, sys\n"
    "out = sys.argv[1]\n"
    "def _count():\n"
    "    with open('/proc/self/io') as f, open(out, 'w') as o:\n"
    "        o.write(f.read())\n"
    "atexit.register(_count)\n"
    "sys.argv = ['refuge'] + sys.argv[2:]\n"
    "runpy.run_module('refuge', run_name='__main__')\n"
)


def _blobs(w) -> list[str]:
    return sorted(str(p) for p in w.vault.glob("cases/*/blobs/*"))


def _leftovers(w) -> list[str]:
    tmp = w.vault / ".tmp"
    return sorted(os.listdir(tmp)) if tmp.exists() else []


def _text(path, size: int, seed: bytes) -> None:
    line = seed + b" statement line and nothing secret\n"
    path.write_bytes((line * (size // len(line) + 1))[:size])


def _read_by_doc_add(w, path, counted) -> int:
    """What a real `doc add` process read, all told (rchar)."""
    p = subprocess.run([sys.executable, "-P", "-c", _COUNTING, str(counted), "doc", "add", "MX-0001", str(path),
                        "--type", "photo"], env=w.env("bob"), capture_output=True, cwd=w.root, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return int(dict(line.split(": ") for line in counted.read_text().splitlines())["rchar"])


def _noise_photo(path, side: int) -> int:
    """A JPEG of random pixels (it hardly compresses); returns its size."""
    from PIL import Image

    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, quality=95)
    return path.stat().st_size


def test_the_file_is_read_once_by_doc_add(case_world, tmp_path):
    w = case_world
    # photos: no text to index, so nothing but the add itself reads them (a text's index decrypts it again)
    _noise_photo(tmp_path / "small.jpg", 8)
    size = _noise_photo(tmp_path / "big.jpg", 3000)  # about 10 MiB
    fixed = _read_by_doc_add(w, tmp_path / "small.jpg", tmp_path / "io-small")  # the interpreter, the vault
    extra = _read_by_doc_add(w, tmp_path / "big.jpg", tmp_path / "io-big") - fixed
    # one pass over the file; hashing it before the store (to find duplicates) made it two
    assert 0.9 * size < extra < 1.3 * size, (extra / size, size)


def test_a_duplicate_found_while_stored_leaves_no_blob(case_world, tmp_path):
    w = case_world
    first, copy = tmp_path / "a.txt", tmp_path / "b.txt"
    _text(first, 6 * MIB, b"dup")
    copy.write_bytes(first.read_bytes())
    w.ok("doc", "add", "MX-0001", str(first), "--type", "other", user="bob")
    before = _blobs(w)
    p = w.run("doc", "add", "MX-0001", str(copy), "--type", "other", user="bob")
    assert p.returncode == 1 and "the case already holds this file as document" in p.stderr.decode()
    other = tmp_path / "c.txt"
    _text(other, 2 * MIB, b"other")
    p = w.run("doc", "add", "MX-0001", str(copy), str(other), "--type", "other", user="bob")
    assert p.returncode == 1 and "added 1 of 2 files" in p.stderr.decode()
    assert len(_blobs(w)) == len(before) + 1 and _leftovers(w) == []
    # the same file twice in one batch: the second is refused once the first is stored
    twin = tmp_path / "twin"
    twin.mkdir()
    _text(twin / "x.txt", 5 * MIB, b"twin")
    (twin / "y.txt").write_bytes((twin / "x.txt").read_bytes())
    before = _blobs(w)
    p = w.run("doc", "add", "MX-0001", str(twin), "-r", "--type", "other", user="bob")
    assert p.returncode == 1 and "it is the same file as" in p.stderr.decode(), p.stderr.decode()
    assert len(_blobs(w)) == len(before) + 1 and _leftovers(w) == []
    assert w.run("fsck", user="erin").returncode == 0


def test_a_file_intake_refuses_after_it_was_stored_leaves_no_blob(case_world, tmp_path):
    w = case_world
    disguised = tmp_path / "report.pdf"  # a script in a PDF's name, large enough that the store writes it all
    disguised.write_bytes(b"#!/bin/sh\necho hi\n" + b"# padding\n" * (800 * 1024))
    fake = tmp_path / "scan.pdf"  # says PDF, is not one: qpdf refuses it in the worker
    fake.write_bytes(b"%PDF-1.7\n" + os.urandom(4 * MIB))
    before = _blobs(w)
    for path in (disguised, fake):
        p = w.run("doc", "add", "MX-0001", str(path), "--type", "medical", user="bob")
        assert p.returncode == 1, p.stderr.decode()
        assert p.stderr.decode().startswith("refuge: error: ") and len(p.stderr.decode().splitlines()) <= 2
    assert _blobs(w) == before and _leftovers(w) == []


def test_links_and_pipes_are_refused_without_being_read(case_world, tmp_path):
    w = case_world
    (tmp_path / "zeros.txt").symlink_to("/dev/zero")  # followed, it would never end
    os.mkfifo(tmp_path / "pipe.txt")  # opened for reading, it would wait for a writer forever
    before = _blobs(w)
    for name in ("zeros.txt", "pipe.txt"):
        p = w.run("doc", "add", "MX-0001", str(tmp_path / name), "--type", "other", user="bob")
        assert p.returncode == 1, p.stderr.decode()
    assert _blobs(w) == before and _leftovers(w) == []


def test_nothing_is_committed_while_intake_is_still_checking(case_world, tmp_path, monkeypatch):
    """A kill while the keyless worker still inspects the file must find nothing stored: the encrypted
    copy is committed only after intake's verdict. Intake is slowed down here so that the store is long
    finished while it checks; at the moment the verdict is handed back, no new blob may exist yet."""
    import time

    from vault import intake

    w = case_world
    real = intake.inspect_isolated
    before = _blobs(w)
    seen = []

    def slow(*args, **kwargs):
        found = real(*args, **kwargs)
        time.sleep(1.0)  # the store of a 2 MiB file is done long before this
        seen.append(_blobs(w))  # what a kill now would leave
        return found

    monkeypatch.setattr(intake, "inspect_isolated", slow)
    path = tmp_path / "note.txt"
    _text(path, 2 * MIB, b"slow")
    bob = w.open("bob")
    [added] = bob.add_documents(bob.find_case("MX-0001"), [str(path)], "correspondence")
    assert added.error is None and seen == [before]
    assert len(_blobs(w)) == len(before) + 1 and _leftovers(w) == []
