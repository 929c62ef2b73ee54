"""The local backend: create-only, crash-safe, opaque."""

import multiprocessing

import pytest

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
