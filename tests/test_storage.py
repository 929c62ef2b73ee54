"""The local backend: create-only, crash-safe, opaque."""

import errno
import hashlib
import multiprocessing
import os
import time

import pytest

from vault import storage
from vault.storage import LocalBackend, ObjectExists


def test_put_is_create_only(tmp_path):
    b = LocalBackend(tmp_path)
    b.put("a/b", b"one")
    with pytest.raises(ObjectExists):
        b.put("a/b", b"two")
    assert b.get("a/b").read() == b"one"


def test_failed_write_leaves_nothing(tmp_path):
    b = LocalBackend(tmp_path)
    with pytest.raises(RuntimeError):
        with b.writer("x/y") as f:
            f.write(b"partial")
            raise RuntimeError("crash")
    assert not b.exists("x/y") and b.leftovers() == []


def _write_pieces(b, key, pieces):
    with b.writer(key) as f:
        for piece in pieces:
            f.write(piece)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here (not Linux)")
def test_a_large_object_goes_to_disk_while_it_is_written_and_reads_back_whole(tmp_path, monkeypatch):
    advised = []
    real = os.posix_fadvise
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, how: (advised.append((off, n, how)), real(fd, off, n, how)))
    pieces = [os.urandom(1 << 20) for _ in range(20)] + [b"tail"]
    b = LocalBackend(tmp_path)
    _write_pieces(b, "blobs/big", pieces)
    step, total = storage.WRITE_BEHIND, sum(map(len, pieces))
    # at least every 8 MiB written (more while the advice before is still under way), from the start and
    # without a gap, while the rest is still being written; then, once fsynced, the whole file (its pages
    # clean now) out of the page cache
    deadline = time.monotonic() + 10  # the last, after the commit, on a thread nobody waits for
    while advised[-1][:2] != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    *sent, forgotten = advised
    assert sent and sent[0][0] == 0 and all(how == os.POSIX_FADV_DONTNEED and n >= step for _, n, how in sent)
    assert all(a + n == b for (a, n, _), (b, _, _) in zip(sent, sent[1:])), sent
    assert sent[-1][0] + sent[-1][1] <= total - (1 << 20), sent
    assert forgotten == (0, 0, os.POSIX_FADV_DONTNEED)
    assert hashlib.sha256(b.get("blobs/big").read()).digest() == hashlib.sha256(b"".join(pieces)).digest()
    _write_pieces(b, "small", [b"x" * 1000] * 100)  # a small object: no advice, one fsync as before
    assert len(advised) == len(sent) + 1


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here (not Linux)")
def test_a_large_object_is_stored_and_closed_when_no_thread_can_be_started(tmp_path, monkeypatch):
    """Threads exhausted (RLIMIT_NPROC, a process at its limit): the write-behind's advice, or only the
    page-cache drop after the commit, cannot start; the object is still stored whole, and no descriptor is
    left open."""
    import threading

    start = threading.Thread.start
    b = LocalBackend(tmp_path)
    pieces = [os.urandom(1 << 20) for _ in range(20)]
    open_before = len(os.listdir("/proc/self/fd"))
    for refused in ("every thread", "the drop's"):
        def refuse(thread, refused=refused):
            if refused == "every thread" or getattr(thread, "_target", None).__name__ == "_forget":
                raise RuntimeError("can't start new thread")
            start(thread)

        monkeypatch.setattr(threading.Thread, "start", refuse)
        _write_pieces(b, f"blobs/{len(refused)}", pieces)
        with b.get(f"blobs/{len(refused)}") as f:
            assert f.read() == b"".join(pieces), refused
        assert len(os.listdir("/proc/self/fd")) == open_before, refused


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here (not Linux)")
def test_a_filesystem_that_refuses_the_advice_still_gets_the_whole_object(tmp_path, monkeypatch):
    calls = []

    def refuse(fd, off, n, how):
        calls.append(off)
        raise OSError(errno.EINVAL, "not here")

    monkeypatch.setattr(os, "posix_fadvise", refuse)
    pieces = [os.urandom(1 << 20) for _ in range(20)]
    b = LocalBackend(tmp_path)
    _write_pieces(b, "blobs/big", pieces)
    assert calls == [0]  # asked once, then never again for this object, nor after the fsync
    assert b.get("blobs/big").read() == b"".join(pieces)


def test_list_and_children(tmp_path):
    b = LocalBackend(tmp_path)
    for k in ("c/1/e/2", "c/1/e/1", "c/2/e/1", "d/1"):
        b.put(k, b"")
    assert list(b.list("c/1/")) == ["c/1/e/1", "c/1/e/2"]
    assert b.children("c/") == ["1", "2"]


@pytest.mark.parametrize("bad", ["", "../x", "a/../b", ".tmp/x", "a//b"])
def test_keys_cannot_escape_the_vault(tmp_path, bad):
    with pytest.raises(ValueError):
        LocalBackend(tmp_path).put(bad, b"")


def _race(root, n, out):
    b = LocalBackend(root)
    won = []
    for i in range(n):
        seq = 0
        while True:
            seq += 1
            try:
                b.put(f"seq/{seq:06d}", f"{i}".encode())
                won.append(seq)
                break
            except ObjectExists:
                continue
    out.put(len(won))


def test_concurrent_appenders_never_overwrite(tmp_path):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_race, args=(tmp_path, 50, q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert sum(q.get() for _ in procs) == 200
    assert len(list(LocalBackend(tmp_path).list("seq/"))) == 200


def test_a_delete_never_goes_through_a_link_planted_for_a_folder(tmp_path):
    """Someone who may write to a shared vault folder replaces a case's folder (or .tmp) by a
    link to the files of whoever will clean up: deleting an object through it is refused and
    removes nothing; a link planted as the object itself is removed, not what it points to."""
    from vault.errors import VerificationFailed

    victim = tmp_path / "victim"
    (victim / "blobs").mkdir(parents=True)
    (victim / "blobs" / "thesis").write_bytes(b"mine")
    (victim / "notes").write_bytes(b"mine too")
    b = LocalBackend(tmp_path / "vault")
    b.put("cases/c1/blobs/a", b"object")
    (tmp_path / "vault" / "cases" / "c2").symlink_to(victim)
    with pytest.raises(VerificationFailed, match="cases/c2 in the vault folder is a symbolic link"):
        b.delete("cases/c2/blobs/thesis")
    (tmp_path / "vault" / ".tmp").symlink_to(victim)
    with pytest.raises(VerificationFailed, match=r"\.tmp in the vault folder is a symbolic link"):
        b.remove_leftover("notes")
    (tmp_path / "vault" / "cases" / "c1" / "blobs" / "b").symlink_to(victim / "notes")
    b.delete("cases/c1/blobs/b")
    b.delete("cases/c1/blobs/a")
    assert (victim / "blobs" / "thesis").read_bytes() == b"mine" and (victim / "notes").read_bytes() == b"mine too"
    assert list(b.list("cases/c1/")) == []
