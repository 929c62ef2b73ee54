"""Streaming one source into several sinks at once, with bounded memory.

Reading (decrypting) happens on the calling thread; each sink gets its own
thread and sees the buffers in order. hashlib and file writes release the GIL,
so hashing and writing overlap with reading on a second core. Memory is
``depth`` buffers of ``size`` bytes whatever the length of the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a stream starts: concurrent.futures brings logging, a cost of every command
    from concurrent.futures import Future

SIZE = 1 << 20  # measured: 64 KiB buffers cost twice the wall time of 1 MiB ones in doc get
DEPTH = 4


def tee(read_into: Callable[[memoryview], int], sinks: list[Callable[[memoryview], object]],
        size: int = SIZE, depth: int = DEPTH) -> int:
    """Copy everything ``read_into`` gives to every sink; returns the byte count.

    ``read_into(buffer)`` fills the buffer and returns how much it filled (0 at
    the end). The first exception from the source or from any sink is raised
    once the threads have stopped; sinks may then have seen only part of the data.
    """
    from concurrent.futures import ThreadPoolExecutor

    pools = [ThreadPoolExecutor(1, thread_name_prefix="refuge-tee") for _ in sinks]
    ring: list[tuple[bytearray, list[Future]]] = [(bytearray(size), []) for _ in range(depth)]
    total = 0
    try:
        slot = 0
        while True:
            buf, pending = ring[slot]
            for f in pending:
                f.result()  # the sinks are done with this buffer (or raise their error)
            n = read_into(memoryview(buf))
            if not n:
                break
            view = memoryview(buf)[:n]
            ring[slot] = (buf, [pool.submit(sink, view) for pool, sink in zip(pools, sinks)])
            total += n
            slot = (slot + 1) % depth
        for _, pending in ring:
            for f in pending:
                f.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
    return total


# Measured on the 2-core EPYC (512 MiB, in-process): 256 KiB buffers 1.0-1.4 s; 1 MiB 4.5 s and
# 4 MiB 5.5-6 s wall for the same CPU time (buffers that outgrow the L2 cache stall, here).
# One hand-off per buffer each way. On the 2-core Xeon, the store of 64 MiB: 72 ms with the read on
# the hashing thread, whether objects went through the page cache or around it (O_DIRECT); 72 with
# the read here through the page cache; 60 with the read here and O_DIRECT, as now.
HASH_SIZE = 256 << 10
HASH_DEPTH = 8


def hashed(read_into: Callable[[memoryview], int], update: Callable[[memoryview], object],
           consume: Callable[[memoryview], object], size: int = HASH_SIZE, depth: int = HASH_DEPTH) -> int:
    """Read on this thread and give every buffer, in order, to ``update`` on another one and to
    ``consume`` here, both at once; returns the byte count.

    The pass for a writer that must hash what it stores (doc add): SHA-256
    releases the GIL, so the other core hashes a buffer while this thread
    encrypts and writes it and reads the next; a buffer is read into again only
    once both are done with it, one hand-off per ``size`` bytes each way. Memory
    is ``depth`` buffers of ``size`` bytes. The first error of either side is
    raised here once the other thread has stopped.
    """
    import queue
    import threading

    todo: queue.SimpleQueue = queue.SimpleQueue()
    done: queue.SimpleQueue = queue.SimpleQueue()  # buffers hashed, or the hashing's error
    failed: list[BaseException] = []

    def hash_all() -> None:
        try:
            while (view := todo.get()) is not None:
                update(view)
                done.put(view.obj)
        except BaseException as e:  # raised on the caller's thread
            failed.append(e)
            done.put(None)

    hasher = threading.Thread(target=hash_all, name="refuge-hash", daemon=True)
    hasher.start()
    total, made = 0, 0
    try:
        while True:
            if made < depth:
                buf, made = bytearray(size), made + 1
            elif (buf := done.get()) is None:
                break
            view = memoryview(buf)[:_fill(read_into, memoryview(buf))]
            if not view:
                break
            todo.put(view)
            consume(view)
            total += len(view)
    finally:
        todo.put(None)  # the hashing stops after the buffers before it
        hasher.join()
    if failed:
        raise failed[0]
    return total


def _fill(read_into: Callable[[memoryview], int], view: memoryview) -> int:
    """Fill ``view`` as far as the source goes (a raw file may return less than asked)."""
    have = 0
    while have < len(view):
        n = read_into(view[have:])
        if not n:
            break
        have += n
    return have
