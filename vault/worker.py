"""The keyless worker: a stranger's bytes are parsed only in a process that holds no key.

Every parse or render of document content (intake checks, page counts,
rendering, text extraction, flattening, OCR input) runs through :func:`run`,
which starts a *fresh* interpreter (not a fork: a fork would inherit the
caller's memory, identity and case keys included) with:

- a minimal environment (vault.hardening.child_environment): no REFUGE_*
  secret, no cloud credential;
- the working directory ``/`` and no inherited file descriptors but a read-only one
  a caller names (``pass_fds``: an upload's unnamed spool, which has no path to give);
- limits it sets on itself before it reads a byte of the request: address
  space, CPU seconds, open files, no core dumps;
- no network where the platform allows it (a new network namespace).

Requests and answers cross two pipes as length-prefixed JSON plus raw byte
blobs, never pickle, so a worker subverted by a crafted file can at worst
answer wrongly: it cannot run code in the caller. Decrypted bytes never touch
the disk. A worker that dies, is killed by a limit or answers malformed data
becomes a :class:`WorkerFailed` naming the document and the limit.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
from collections import namedtuple
from collections.abc import Callable

from . import hardening
from .errors import InvalidInput, RefugeError

__all__ = ["Limits", "WorkerFailed", "WorkerDied", "run", "start", "Started", "describe", "abandon", "serving",
           "INTAKE_LIMITS", "RENDER_LIMITS"]

_HEADER = struct.Struct(">Q")
_MAX_JSON = 64 * 1024**2  # the largest JSON message accepted from a worker (page text and boxes of a big packet)
_MAX_BLOB = 4 * 1024**3  # the largest byte blob accepted from a worker (a packet's volume is far smaller)


# Named tuples rather than dataclasses: the intake worker imports this module, and dataclasses
# (with inspect and ast) would add a tenth to its start.
class Limits(namedtuple("Limits", "memory cpu_seconds wall_seconds open_files", defaults=(256,))):
    """What one worker may use.

    ``memory`` is address space beyond what the interpreter and its libraries
    have mapped when the task starts (so the bound is the same whatever the
    libraries weigh); ``cpu_seconds`` is CPU time, after which the kernel
    kills it (SIGXCPU, then SIGKILL); ``wall_seconds`` stops a worker that
    sleeps or blocks instead; ``open_files`` bounds descriptors.
    """

    __slots__ = ()


# Intake looks at one file: libmagic, qpdf and Pillow headers, inflating streams a MiB at a
# time. A real file needs well under a second and a few tens of MiB.
INTAKE_LIMITS = Limits(memory=1024**3, cpu_seconds=60, wall_seconds=180)
# Rendering, redacting and recognising one packet's documents: a 300 dpi letter page is
# 8.4 M pixels (25 MiB in RGB), and a few are held at once; 768 MiB leaves room for pdfium's
# caches, and 256 MiB more for Tesseract's engines, which read pages inside the worker (about
# 120-170 MiB of address space each with its thread and malloc arena; packets.ocr.MAX_ENGINES
# is 2). The CPU bound covers recognition of about 2,500 pages at 300 dpi (1-1.3 s of CPU each,
# counted in the worker now that Tesseract runs in it), rendering and redaction included.
RENDER_LIMITS = Limits(memory=1024 * 1024**2, cpu_seconds=3600, wall_seconds=3600)


class WorkerFailed(InvalidInput):
    """The keyless worker died, hit a limit or answered something malformed."""


class WorkerDied(WorkerFailed):
    """The keyless worker ended without an answer: a limit, or a parser crash."""


class Answer:
    """What a worker task returned: a JSON value and byte blobs."""

    def __init__(self, value: object, blobs: list[bytes] | None = None) -> None:
        self.value = value
        self.blobs = [] if blobs is None else blobs


def run(target: str, request: object, blobs: list[bytes] = (), *, limits: Limits, label: str,
        progress: Callable[[object], None] | None = None, pass_fds: tuple[int, ...] = ()) -> Answer:
    """Run ``target`` ("module:function") in a fresh keyless worker and return its answer.

    The function receives ``(request, blobs, report)`` (its optional attribute
    ``prepare``, a function, runs first, before the limits are set) where ``report(value)``
    sends a progress message (passed to ``progress`` here), and returns
    ``(value, blobs)``. A :class:`RefugeError` it raises comes back as the same
    kind of error with the same message. ``label`` names what is parsed (a
    document id, "the file"), never a name or title. ``pass_fds`` are descriptors the
    worker inherits under the same numbers (give only read-only ones of the document itself).
    """
    return start(target, limits=limits, pass_fds=pass_fds).run(request, blobs, label=label, progress=progress)


def start(target: str, *, limits: Limits, pass_fds: tuple[int, ...] = ()) -> "Started":
    """Start a keyless worker for ``target`` now and give it its request later (:meth:`Started.run`).

    Its interpreter and libraries load (and ``prepare`` runs) while the caller
    does other work; it sets its limits and waits for the request. A worker
    never given one is stopped by :meth:`Started.close`, or ends by itself when
    this process exits (its request pipe closes).
    """
    return Started(target, limits, pass_fds)


class Started:
    """A keyless worker started ahead of its request; it runs one request (:func:`start`)."""

    def __init__(self, target: str, limits: Limits, pass_fds: tuple[int, ...] = ()) -> None:
        import subprocess

        self.target = target
        self.limits = limits
        env = hardening.child_environment(MALLOC_ARENA_MAX="2", OMP_THREAD_LIMIT="1")
        cmd = [sys.executable, "-P", "-m", "vault._worker_main", target, str(limits.memory), str(limits.cpu_seconds),
               str(limits.open_files)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      env=env, cwd="/", close_fds=True, pass_fds=pass_fds)

    def run(self, request: object, blobs: list[bytes] = (), *, label: str,
            progress: Callable[[object], None] | None = None) -> Answer:
        """Send the request and return the answer (see :func:`run`); the wall-clock bound starts now."""
        import threading

        proc, self._proc = self._proc, None
        if proc is None:
            raise RuntimeError("a keyless worker runs one request")
        limits = self.limits
        writer = threading.Thread(target=_send, args=(proc.stdin, request, list(blobs)), daemon=True)
        writer.start()
        timer = threading.Timer(limits.wall_seconds, proc.kill)
        timer.start()
        try:
            return _receive(proc, progress, label, limits)
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            writer.join(timeout=5)
            proc.stdout.close()

    def close(self) -> None:
        """Stop the worker if it was never given its request."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            proc.stdin.close()
            proc.stdout.close()


def _send(pipe, request, blobs) -> None:
    try:
        write_message(pipe, request, blobs)
        pipe.close()
    except (BrokenPipeError, OSError):
        pass  # the worker died; the reader reports it


def _receive(proc, progress, label: str, limits: Limits) -> Answer:
    while True:
        try:
            message, blobs = read_message(proc.stdout)
        except EOFError:
            break
        except ValueError:
            proc.kill()
            raise WorkerFailed(f"the worker handling {label} answered malformed data; the document may be crafted") from None
        if not isinstance(message, dict):
            break
        if "progress" in message:
            if progress is not None:
                progress(message["progress"])
            continue
        if "crash" in message:
            raise WorkerFailed(f"{label} could not be read ({str(message['crash'])[:40]}): the file is damaged or crafted",
                               hint="new-copy")
        if "error" in message:
            kinds = {cls.__name__: cls for cls in _error_kinds()}
            err = message["error"] if isinstance(message["error"], dict) else {}
            cls = kinds.get(err.get("kind"), InvalidInput)
            raise cls(str(err.get("message", "the worker failed")), hint=err.get("hint"))
        if "result" in message:
            return Answer(message["result"], blobs)
        break
    proc.wait()
    raise WorkerDied(
        f"{label} could not be processed within {limits.memory // 1024**2} MiB of memory and "
        f"{limits.cpu_seconds} s of CPU (a decompression bomb, or a file that crashes readers)", hint="new-copy")


def _error_kinds():
    from . import errors

    return [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, RefugeError)]


def describe(limits: Limits = INTAKE_LIMITS) -> dict:
    """What a worker sees of the world (environment names, directory, limits, network): for checks."""
    return run("vault.worker:_describe_task", None, limits=limits, label="the check").value


def _describe_task(request, blobs, report) -> tuple[dict, list]:
    import resource

    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    try:
        with open("/proc/net/dev") as f:
            interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    except OSError:
        interfaces = []
    return {"environment": sorted(os.environ), "cwd": os.getcwd(), "uid": os.getuid(),
            "core": resource.getrlimit(resource.RLIMIT_CORE)[1], "address_space": resource.getrlimit(resource.RLIMIT_AS)[1],
            "cpu": resource.getrlimit(resource.RLIMIT_CPU)[1], "open_fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
            "interfaces": interfaces, "tracer": status.get("TracerPid", "").strip()}, []


# --- the wire format ----------------------------------------------------------------------


def write_message(pipe, value: object, blobs: list[bytes] = ()) -> None:
    """One message: a JSON value with the number of blobs, then each blob, all length-prefixed."""
    pipe.write(_frame(value, len(blobs)))
    for blob in blobs:
        pipe.write(_HEADER.pack(len(blob)))
        pipe.write(blob)
    pipe.flush()


def _frame(value: object, blobs: int = 0) -> bytes:
    data = json.dumps({"v": value, "n": blobs}, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEADER.pack(len(data)) + data


def read_message(pipe, max_json: int = _MAX_JSON, max_blob: int = _MAX_BLOB) -> tuple[object, list[bytes]]:
    """Read one message; EOFError at a clean end, ValueError on anything malformed or too large."""
    head = pipe.read(_HEADER.size)
    if not head:
        raise EOFError
    (size,) = _HEADER.unpack(_exact(head, _HEADER.size))
    if size > max_json:
        raise ValueError("message too large")
    try:
        envelope = json.loads(_exact(pipe.read(size), size))
        count = int(envelope["n"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("malformed message") from None
    if not 0 <= count <= 100_000:
        raise ValueError("malformed message")
    blobs = []
    for _ in range(count):
        (n,) = _HEADER.unpack(_exact(pipe.read(_HEADER.size), _HEADER.size))
        if n > max_blob:
            raise ValueError("blob too large")
        blobs.append(_exact(pipe.read(n), n))
    return envelope["v"], blobs


def _exact(data: bytes, n: int) -> bytes:
    if len(data) != n:
        raise ValueError("truncated message")
    return data


# --- inside the worker ------------------------------------------------------------------------

# The answer's descriptor of the request this process serves (serve), or that the worker which
# forked this process serves (a pool's process inherits it): where abandon() answers.
_ANSWER: list[int] = []
ABANDONED = 70  # the exit status of a worker that abandon() ended


def serving() -> bool:
    """Whether this process is a keyless worker serving a request, or a process one forked."""
    return bool(_ANSWER)


def abandon(error: RefugeError) -> None:
    """End this keyless worker now, with ``error`` as its answer: for a thread that finds the
    task stuck in a library call nothing can interrupt (a page Tesseract is still laying out past
    its deadline). Callable from any thread, and from a process the worker forked (a pool's):
    the error goes out in one write (a pipe keeps a write this short whole), and the caller sees
    it as if the task had raised it. Outside a keyless worker it does nothing: a process that is
    not one is never ended from under its caller."""
    if not _ANSWER:
        return
    try:
        os.write(_ANSWER[0], _frame(_error_answer(error)))
    except OSError:
        pass  # the caller is gone, or stopped reading: ending is all that is left
    os._exit(ABANDONED)


def _error_answer(e: RefugeError) -> dict:
    return {"error": {"kind": type(e).__name__, "message": str(e), "hint": e.hint}}


def _bound(which: int, soft: int, hard: int) -> None:
    """setrlimit, never above the hard limit this worker was started with (its parent's: under `ulimit -t 30`
    a check gets 30 s of CPU, not the 60 it asks for, instead of failing to set any)."""
    import resource

    most = resource.getrlimit(which)[1]
    if most != resource.RLIM_INFINITY:
        soft, hard = min(soft, most), min(hard, most)
    resource.setrlimit(which, (soft, hard))


def serve(target: str, memory: int, cpu_seconds: int, open_files: int) -> None:
    """The worker's side: limit itself, read one request, run ``target``, answer, exit."""
    import resource

    hardening.no_core_dumps()
    hardening.isolate_network()
    module, _, name = target.partition(":")
    if not module.startswith(("vault.", "packets.")):
        raise SystemExit(2)
    function = getattr(importlib.import_module(module), name)  # import first: libraries map outside the bound
    prepare = getattr(function, "prepare", None)
    if prepare is not None:
        prepare()  # e.g. libmagic maps its database, which it does badly under a tight bound
    _bound(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5)
    _bound(resource.RLIMIT_NOFILE, open_files, open_files)
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _bound(resource.RLIMIT_AS, mapped + memory, mapped + memory)
    except (OSError, ValueError):
        _bound(resource.RLIMIT_DATA, memory, memory)
    inp = os.fdopen(0, "rb")
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the answer has its own descriptor: a library that prints cannot corrupt it
    _ANSWER.append(out.fileno())
    try:
        request, blobs = read_message(inp, max_json=1 << 40, max_blob=1 << 40)
    except EOFError:  # started ahead (start) and never given a request: nothing to do
        return

    def report(value) -> None:
        write_message(out, {"progress": value})

    try:
        value, answer_blobs = function(request, blobs, report)
    except RefugeError as e:
        write_message(out, _error_answer(e))
        return
    except MemoryError:
        raise
    except Exception as e:  # a parser choking on a crafted file: the type of failure only, never its text
        write_message(out, {"crash": type(e).__name__})
        return
    write_message(out, {"result": value}, list(answer_blobs))
