"""The local backend: create-only, crash-safe, opaque."""

import errno
import hashlib
import multiprocessing
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import on_a_small_disk
from vault import _objectwrite, storage
from vault.storage import LocalBackend, ObjectExists


def _read(b, key) -> bytes:
    with b.get(key) as f:
        return f.read()


def test_put_is_create_only(tmp_path):
    b = LocalBackend(tmp_path)
    b.put("a/b", b"one")
    with pytest.raises(ObjectExists):
        b.put("a/b", b"two")
    assert _read(b, "a/b") == b"one"


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


O_DIRECT = getattr(os, "O_DIRECT", 0)


def _flags(fd: int) -> int:
    """The file's status flags as the kernel holds them (/proc/self/fdinfo)."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        return int(next(line for line in f if line.startswith("flags:")).split()[1], 8)


def _refuse_direct(monkeypatch, refused: list) -> None:
    """A filesystem that does not take O_DIRECT (F_SETFL answers EINVAL, as tmpfs before Linux 6.6 does)."""
    import fcntl

    real = fcntl.fcntl

    def fcntl_(fd, cmd, arg=0):
        if cmd == fcntl.F_SETFL and arg & O_DIRECT:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", fcntl_)


@pytest.fixture
def direct(tmp_path):
    """tmp_path, if refuge writes large objects there with O_DIRECT (a local disk's filesystem that takes it)."""
    import fcntl

    if not O_DIRECT or not os.path.isdir("/proc/self/fdinfo"):
        pytest.skip("no O_DIRECT here (not Linux)")
    fd = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        if _objectwrite._filesystem(fd) not in _objectwrite.DIRECT_FILESYSTEMS:
            pytest.skip("the test folder is on a filesystem refuge writes through the page cache (tmpfs, NFS...)")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | O_DIRECT)
    except OSError as e:
        pytest.skip(f"the test folder's filesystem refuses O_DIRECT: {e}")
    finally:
        os.close(fd)
        os.unlink(tmp_path / "probe")
    return tmp_path


def test_a_large_object_goes_to_disk_around_the_page_cache_while_it_is_written(direct):
    """The stages are written while the next ones fill, by the device from refuge's memory (O_DIRECT, as
    the kernel reports the file's flags), two stages of memory whatever the size; the end of the object
    goes through the page cache; everything reads back whole. A small object is one plain write."""
    b = LocalBackend(direct)
    pieces = [os.urandom((1 << 20) + 333) for _ in range(20)] + [b"tail"]
    seen = []
    with b.writer("blobs/big") as f:
        for k, piece in enumerate(pieces):
            f.write(piece)
            if k == 2:  # a stage handed over, the next one filling
                deadline = time.monotonic() + 10
                while os.fstat(f.fileno()).st_size < _objectwrite.STAGE and time.monotonic() < deadline:
                    time.sleep(0.01)  # written while this writer is still at it
                seen.append((os.fstat(f.fileno()).st_size, _flags(f.fileno()) & O_DIRECT))
    assert seen[0][0] == _objectwrite.STAGE and seen[0][1], seen
    assert hashlib.sha256(_read(b, "blobs/big")).digest() == hashlib.sha256(b"".join(pieces)).digest()
    with b.writer("small") as f:
        f.write(b"x" * 1000)
        f.write(b"y" * 1000)
        assert os.fstat(f.fileno()).st_size == 0  # gathered, written once at the end
    assert _read(b, "small") == b"x" * 1000 + b"y" * 1000


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here (not Linux)")
def test_where_o_direct_is_refused_a_large_object_goes_through_the_page_cache_sent_as_written(direct, monkeypatch):
    refused, advised = [], []
    _refuse_direct(monkeypatch, refused)
    real = os.posix_fadvise
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, how: (advised.append((off, n, how)), real(fd, off, n, how)))
    pieces = [os.urandom(1 << 20) for _ in range(20)] + [b"tail"]
    b = LocalBackend(direct)
    _write_pieces(b, "blobs/big", pieces)
    step, total = _objectwrite.WRITE_BEHIND, sum(map(len, pieces))
    # asked once; then every 8 MiB written at least, from the start and without a gap, while the rest is
    # still being written; once fsynced, the whole file (its pages clean now) out of the page cache
    deadline = time.monotonic() + 10  # the last, after the commit, on a thread nobody waits for
    while advised[-1][:2] != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    *sent, forgotten = advised
    assert len(refused) == 1
    assert sent and sent[0][0] == 0 and all(how == os.POSIX_FADV_DONTNEED and n >= step for _, n, how in sent)
    assert all(a + n == b for (a, n, _), (b, _, _) in zip(sent, sent[1:])), sent
    assert sent[-1][0] + sent[-1][1] <= total - (1 << 20), sent
    assert forgotten == (0, 0, os.POSIX_FADV_DONTNEED)
    assert hashlib.sha256(_read(b, "blobs/big")).digest() == hashlib.sha256(b"".join(pieces)).digest()
    _write_pieces(b, "small", [b"x" * 1000] * 100)  # a small object: no advice, one fsync as before
    assert len(advised) == len(sent) + 1 and len(refused) == 1


@pytest.mark.parametrize("how", ["cut short", "refused"])
def test_a_direct_write_cut_short_or_refused_by_the_device_still_stores_the_whole_object(direct, monkeypatch, how):
    """The second write cut short (a block's worth written: the rest follows it, still direct) or refused
    (EINVAL: an alignment the device will not do; the rest goes through the page cache from where it
    stood): the object reads back whole."""
    real, writes = os.pwrite, []

    def pwrite(fd, data, offset):
        direct = bool(_flags(fd) & O_DIRECT)
        writes.append((offset, len(data), direct))
        if direct and len(writes) == 2:
            if how == "refused":
                raise OSError(errno.EINVAL, "Invalid argument")
            return real(fd, memoryview(data)[:8192], offset)
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    pieces = [os.urandom(1 << 20) for _ in range(9)]
    b = LocalBackend(direct)
    _write_pieces(b, "blobs/big", pieces)
    assert _read(b, "blobs/big") == b"".join(pieces)
    assert writes[0][2] and writes[1][2] and writes[-1][0] + writes[-1][1] == 9 << 20, writes
    if how == "cut short":
        assert writes[2][0] == writes[1][0] + 8192 and all(direct for _, _, direct in writes), writes
    else:
        assert writes[2][0] == writes[1][0] and not any(direct for _, _, direct in writes[2:]), writes


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here (not Linux)")
def test_a_large_object_is_stored_and_closed_when_no_thread_can_be_started(tmp_path, monkeypatch):
    """Threads exhausted (RLIMIT_NPROC, a process at its limit): the thread that writes the stages, or only
    the page-cache drop after the commit (where O_DIRECT is refused), cannot start; the object is still
    stored whole, and no descriptor is left open."""
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
        if refused == "the drop's":
            _refuse_direct(monkeypatch, [])
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
    _refuse_direct(monkeypatch, [])
    pieces = [os.urandom(1 << 20) for _ in range(20)]
    b = LocalBackend(tmp_path)
    _write_pieces(b, "blobs/big", pieces)
    assert calls == [0]  # asked once, then never again for this object, nor after the fsync
    assert _read(b, "blobs/big") == b"".join(pieces)


def test_every_byte_is_in_the_file_before_its_fsync_and_link(tmp_path, monkeypatch):
    """The writer's thread lags (each write slowed): the fsync before the link still finds the whole
    object in the file, as it will be read."""
    real_pwrite, real_fsync, at_fsync = os.pwrite, os.fsync, []

    def slow(fd, data, offset):
        time.sleep(0.02)
        return real_pwrite(fd, data, offset)

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):  # the object's file, not its folder's
            with open(f"/proc/self/fd/{fd}", "rb") as f:  # (the writer's descriptor is write-only)
                data = f.read()
            at_fsync.append((os.fstat(fd).st_size, hashlib.sha256(data).digest()))
        return real_fsync(fd)

    monkeypatch.setattr(os, "pwrite", slow)
    monkeypatch.setattr(os, "fsync", fsync)
    pieces = [os.urandom(1 << 20) for _ in range(9)] + [b"tail"]
    _write_pieces(LocalBackend(tmp_path), "blobs/big", pieces)
    whole = b"".join(pieces)
    assert at_fsync[0] == (len(whole), hashlib.sha256(whole).digest())


def test_a_writer_thread_that_fails_otherwise_than_by_the_disk_stores_nothing_and_says_so(tmp_path, monkeypatch):
    """Not an OSError (MemoryError under the client's address-space limit, a bug): raised by the writer,
    never a hang waiting for a stage that does not come back, never a short object committed."""
    import threading

    real, calls = os.pwrite, []

    def pwrite(fd, data, offset):
        calls.append(offset)
        if len(calls) in (2, 4):  # a stage mid-object (first object), the last stage (second object)
            raise MemoryError()
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    b = LocalBackend(tmp_path)
    for key, size in (("blobs/mid", 9 << 20), ("blobs/last", 4 << 20)):
        failed = []
        writing = threading.Thread(target=lambda: failed.append(_try(_write_pieces, b, key, [os.urandom(size)])))
        writing.start()
        writing.join(20)
        assert not writing.is_alive(), f"{key}: the writer waits for a stage that never comes back"
        assert failed == ["MemoryError"] and not b.exists(key) and b.leftovers() == [], (key, failed)


def _try(function, *args) -> str | None:
    try:
        function(*args)
    except BaseException as e:  # noqa: B036 - the test reports what was raised
        return type(e).__name__
    return None


def _write_in_a_full_filesystem(tmp_path, size: int) -> subprocess.CompletedProcess:
    """Write ``size`` bytes as one object into a 6 MiB tmpfs (conftest.on_a_small_disk), then report what
    the folder and the process hold."""
    folder = tmp_path / f"small-{size}"
    folder.mkdir()
    script = (
        "import os, sys, threading\n"
        "from vault.errors import NotStored\n"
        "from vault.storage import LocalBackend\n"
        "b = LocalBackend(sys.argv[1])\n"
        "before = len(os.listdir('/proc/self/fd'))\n"
        "try:\n"
        "    with b.writer('blobs/big') as f:\n"
        f"        for _ in range({size} >> 20): f.write(os.urandom(1 << 20))\n"
        "        flags = open('/proc/self/fdinfo/%d' % f.fileno()).read().split('flags:')[1].split()[0]\n"
        "    print('stored', 'direct' if int(flags, 8) & os.O_DIRECT else 'through the page cache')\n"
        "except NotStored as e:\n"
        "    print('refused:', e)\n"
        "print(sorted(os.listdir(sys.argv[1] + '/blobs')), b.leftovers(), len(os.listdir('/proc/self/fd')) - before,\n"
        "      [t.name for t in threading.enumerate() if t.name.startswith('refuge')])\n"
        "b.put('blobs/after', b'x' * 1000)  # room again once the object is gone\n"
        "print(b.get('blobs/after').read() == b'x' * 1000)\n"
    )
    root = Path(__file__).resolve().parent.parent  # refuge's source, wherever pytest runs from
    return on_a_small_disk(folder, 6, 'exec "$1" -c "$2" "$0"', sys.executable, script, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(root)))


def test_a_filesystem_that_fills_while_a_large_object_is_written_keeps_nothing_of_it(tmp_path, small_disks):
    """A real ENOSPC, from the kernel, in the middle of a 20 MiB object on a 6 MiB tmpfs: nothing of it is
    left, no descriptor, no thread, and the disk takes small objects again. A tmpfs is not a filesystem
    refuge writes around the page cache: what fits goes through it."""
    p = _write_in_a_full_filesystem(tmp_path, 20 << 20)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["refused: the vault's disk is full: nothing was stored; free some space on it and "
                                     "try again", "[] [] 0 []", "True"], p.stdout + p.stderr
    p = _write_in_a_full_filesystem(tmp_path, 5 << 20)  # the control: what fits is stored
    assert p.stdout.splitlines()[:2] == ["stored through the page cache", "['big'] [] 0 []"], p.stdout + p.stderr


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


def test_an_output_names_its_own_disk_only_for_what_it_could_not_write(tmp_path):
    """doc get -o: a full output disk is the output's (NotStored), an error reading the source is not
    blamed on it; either way no file is left."""
    from vault.errors import NotStored
    from vault.storage import write_atomically

    def reads_badly(f):
        f.write(b"some bytes")
        raise OSError(errno.EIO, "Input/output error")  # reading the vault's copy, say

    def writes_badly(f):
        f.write(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")  # where fill writes itself, at a lower level

    with pytest.raises(OSError) as raised:
        write_atomically(tmp_path / "out", reads_badly)
    assert not isinstance(raised.value, NotStored) and raised.value.errno == errno.EIO
    with pytest.raises(OSError):
        write_atomically(tmp_path / "out", writes_badly)
    assert sorted(os.listdir(tmp_path)) == []


def test_an_output_whose_close_reports_a_lost_write_is_taken_back(tmp_path, monkeypatch):
    """A network filesystem reports a deferred write's failure (EDQUOT, EIO) at close, after the name was
    given (doc get -o writes without fsync): the name is taken back and the command says so."""
    from vault.errors import NotStored
    from vault.storage import write_atomically

    real = os.fdopen

    class LateError:
        def __init__(self, f):
            self._f = f

        def close(self):
            if not self._f.closed:
                self._f.close()
                raise OSError(errno.EDQUOT, "Disk quota exceeded")

        def __getattr__(self, name):
            return getattr(self._f, name)

    monkeypatch.setattr(storage.os, "fdopen", lambda fd, mode: LateError(real(fd, mode)))
    with pytest.raises(NotStored, match="the output file's disk's quota is used up: nothing was written"):
        write_atomically(tmp_path / "out.pdf", lambda f: f.write(b"%PDF-1.7 ..."), durable=False)
    assert os.listdir(tmp_path) == []
