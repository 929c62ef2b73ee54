"""How a local object's bytes reach the disk: in stages, around the page cache where it can.

Private to :mod:`vault.storage`, whose writer fsyncs, links and closes around it.

The bytes are gathered in page-aligned stages of :data:`STAGE`. Once one is full it
is written on a thread of its own while the next one fills, with O_DIRECT on a local
disk's filesystem (:data:`DIRECT_FILESYSTEMS`): the device reads the stage itself, so
there is no copy into the page cache and no writeback left for the fsync before the
link. The end of the object, less than an aligned block, everything elsewhere
(network filesystems, where each direct write would wait for the server; tmpfs;
FUSE), and everything where O_DIRECT is refused (the flag, or a write's alignment),
goes through the page cache; there each
:data:`WRITE_BEHIND` bytes are sent on their way as they are written
(POSIX_FADV_DONTNEED starts their writeback without waiting for it), so the fsync
waits for the last few MiB only. An object smaller than a stage is one plain write.
Memory: two stages, whatever the object's size.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from typing import Any, Iterator

from .errors import NotStored

#: The size of a stage: the unit written at once, a multiple of any block size O_DIRECT asks for.
STAGE = 2 << 20
#: O_DIRECT's alignment of offsets and lengths (the stages are page-aligned in memory: mmap).
ALIGN = 4096
#: Through the page cache, written bytes are sent towards the disk every this many. Measured on the
#: 2-core EPYC: write and fsync of 256 MiB 147 ms, 79-90 ms sent every 8 MiB; of 64 MiB 39-46 ms, 27 ms.
WRITE_BEHIND = 8 << 20

_O_DIRECT = getattr(os, "O_DIRECT", 0)

#: The filesystems (statfs f_type) whose objects are written with O_DIRECT: ext2/3/4, XFS, Btrfs, F2FS.
DIRECT_FILESYSTEMS = frozenset({0xEF53, 0x58465342, 0x9123683E, 0xF2F52010})

_REFUSED = {  # what the disk said, and the way out
    errno.ENOSPC: ("{} is full", "free some space on it"),
    errno.EDQUOT: ("{}'s quota is used up", "free some space on it or have the quota raised"),
    errno.EROFS: ("{} is read-only", "make it writable"),
    errno.EIO: ("{} reported an input/output error", "check the disk"),
    errno.EFBIG: ("{} refused a file this large (the process's file size limit, ulimit -f, or the filesystem's)",
                  "raise the limit"),
}


@contextlib.contextmanager
def refusals(disk: str = "the vault's disk", kept: str = "nothing was stored", checked: bool = True) -> Iterator[None]:
    """A write the disk refuses (full, over quota, read-only, failing, too large) as the one line a person
    can act on (:class:`NotStored`; a failing vault disk, ``checked``, with the hint to check the vault);
    any other OSError as it is."""
    try:
        yield
    except OSError as e:
        if e.errno not in _REFUSED:
            raise
        what, way_out = _REFUSED[e.errno]
        raise NotStored(f"{what.format(disk)}: {kept}; {way_out} and try again",
                        hint="fsck" if e.errno == errno.EIO and checked else None) from None


class ObjectWrite:
    """The bytes of one local object, written to ``fd`` (a new, empty file) at the offsets they take.

    :meth:`write` as a file's; :meth:`finish` once everything is written (before the fsync), or
    :meth:`close` alone to abandon it. An error of a stage written meanwhile is raised by the
    :meth:`write` or :meth:`finish` after it; nothing is written after an error, and :meth:`finish`
    raises unless the file holds every byte handed to it.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._stages: list[memoryview] = []  # at most two
        self._stage: memoryview | None = None  # the one filling
        self._used = 0
        self._handed = 0  # bytes handed over for writing: the next stage's offset
        self._jobs: Any = None  # queue.SimpleQueue of (stage, length, offset), None to end
        self._free: Any = None  # stages written, to fill again
        self._thread: Any = None
        self._error: BaseException | None = None
        self._direct: bool | None = None  # unknown until the first full stage
        self._sent = 0  # through the page cache: where the range to send next starts
        self._unsent = 0  # bytes written through the page cache since then
        self._cached = 0  # bytes written through the page cache in all
        self._advise = getattr(os, "posix_fadvise", None)

    def fileno(self) -> int:
        return self._fd

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        with refusals():
            self._fill(view)
        return size

    def _fill(self, view: memoryview) -> None:
        while view:
            if self._stage is None:
                self._stage = self._take()
            k = min(len(view), STAGE - self._used)
            self._stage[self._used:self._used + k] = view[:k]
            self._used += k
            view = view[k:]
            if self._used == STAGE:
                self._hand(STAGE)

    def flush(self) -> None:
        """Nothing to do: the stages are written as they fill, and by :meth:`finish`."""

    def finish(self) -> None:
        """Write what is left and wait until every byte is in the file (the caller fsyncs)."""
        with refusals():
            if self._used:
                self._hand(self._used)
            self._stop()
            self._raise()
            if os.fstat(self._fd).st_size != self._handed:  # never commit a file short of what it was given
                raise OSError(errno.EIO, "the object's file is shorter than what was written to it")

    def close(self, forget: bool = False) -> None:
        """Stop writing (an abandoned object: the stage under way ends first) and close the file.

        With ``forget`` (the object is fsynced and committed: its pages are clean), a large one
        written through the page cache leaves it first, on a thread of its own that closes the
        file after it (4 ms for 64 MiB, nobody waits for it)."""
        self._stop()
        self._stages, self._stage, self._free = [], None, None
        if forget and self._advise is not None and self._cached >= WRITE_BEHIND:
            import threading

            try:
                threading.Thread(target=self._forget, name="refuge-writeback", daemon=True).start()
                return
            except RuntimeError:  # no thread to be had: the pages stay, the file closes here
                pass
        os.close(self._fd)

    # -- the stages --

    def _take(self) -> memoryview:
        if len(self._stages) < 2:
            stage = memoryview(mmap.mmap(-1, STAGE, mmap.MAP_PRIVATE))
            self._stages.append(stage)
            return stage
        stage = self._free.get()
        self._raise()
        return stage

    def _hand(self, length: int) -> None:
        stage, offset = self._stage, self._handed
        self._stage, self._used = None, 0
        self._handed += length
        if self._thread is None and offset == 0 and length < STAGE:  # a small object: one plain write
            self._direct = False
            self._write(stage, length, offset)
            return
        if self._thread is None and self._jobs is None:
            self._start()
        if self._thread is None:  # no thread to be had (a process at its limit): written here
            self._write(stage, length, offset)
            self._free.put(stage)
            self._raise()
        else:
            self._jobs.put((stage, length, offset))

    def _start(self) -> None:
        import queue
        import threading

        self._jobs, self._free = queue.SimpleQueue(), queue.SimpleQueue()
        thread = threading.Thread(target=self._run, name="refuge-write", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return
        self._thread = thread

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            stage, length, offset = job
            try:
                if self._error is None:
                    self._write(stage, length, offset)
            except BaseException as e:  # any failure, raised on the writer's thread; the stage always comes back
                self._error = e
            finally:
                self._free.put(stage)

    def _stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    # -- the file --

    def _write(self, stage: memoryview, length: int, offset: int) -> None:
        if self._direct is None:
            self._direct = self._set_direct(True)
        view = stage[:length]
        tail = length % ALIGN if self._direct else length
        self._pwrite(view[:length - tail], offset)
        if tail:  # the object's end: through the page cache
            if self._direct:
                self._direct = self._set_direct(False)
            self._pwrite(view[length - tail:], offset + length - tail)

    def _pwrite(self, view: memoryview, offset: int) -> None:
        while view:
            try:
                n = os.pwrite(self._fd, view, offset)
            except OSError as e:
                if e.errno != errno.EINVAL or not self._direct:
                    raise
                self._direct = self._set_direct(False)  # an alignment the device refuses: the page cache
                continue  # (a write cut short by the device ends at a block's end: the next one is aligned)
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view, offset = view[n:], offset + n
            if not self._direct:
                self._unsent += n
                self._cached += n
        if self._unsent >= WRITE_BEHIND and self._advise is not None:
            try:
                self._advise(self._fd, self._sent, offset - self._sent, os.POSIX_FADV_DONTNEED)
            except OSError:  # a filesystem that does not take the advice: the fsync does it all
                self._advise = None
            self._sent, self._unsent = offset, 0

    def _set_direct(self, on: bool) -> bool:
        """Turn O_DIRECT on (on a filesystem of :data:`DIRECT_FILESYSTEMS`) or off; whether it is on."""
        if not _O_DIRECT or (on and _filesystem(self._fd) not in DIRECT_FILESYSTEMS):
            return False
        import fcntl

        try:
            flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
            fcntl.fcntl(self._fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
        except OSError:
            if on:
                return False
            raise
        return on

    def _forget(self) -> None:
        try:
            self._advise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(self._fd)


def _filesystem(fd: int) -> int | None:
    """The type of the filesystem ``fd`` is on (statfs's f_type), or None where it cannot be had."""
    import ctypes

    try:
        fstatfs = ctypes.CDLL(None, use_errno=True).fstatfs
        buf = (ctypes.c_long * 32)()  # struct statfs begins with f_type, a long on Linux
        if fstatfs(fd, buf) != 0:
            return None
    except (OSError, AttributeError):  # not Linux
        return None
    return buf[0] & 0xFFFFFFFF
