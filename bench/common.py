"""Shared helpers for the benchmarks: measured subprocesses, vault set-up, machine facts.

Every figure is a wall time of a subprocess (refuge or the standard tool it is
compared with), one child at a time, each started through GNU ``time -f %M`` so
that the peak RSS reported is that child's own ``ru_maxrss`` (for a process
that forks workers, the largest of it and the workers it waited for). CPU
times come from ``os.wait4`` on the wrapper, which waited for the command.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"  # git-ignored; on the same disk as the vaults the benchmarks make
CACHE = OUT / "cache"  # vaults that take long to build, reused between runs
DATA = OUT / "data"  # input files reused between runs

PASSPHRASE = "benchmark passphrase, synthetic data only"
WORK_FACTOR = "10"  # REFUGE_TEST_WORK_FACTOR: identities made here unlock in milliseconds
MIB = 1024 * 1024


def refuge_bin() -> str:
    """The ``refuge`` a user runs: installed from this checkout's wheel (see :func:`_wheel_install`).

    REFUGE_BENCH_EDITABLE=1 measures the development venv's editable install instead (its
    finder, run at every start, and bytecode that PYTHONDONTWRITEBYTECODE may leave stale,
    cost each process 10-25 ms more)."""
    exe = Path(refuge_python()).parent / "refuge"
    if exe.exists():
        return str(exe)
    found = shutil.which("refuge")
    if not found:
        raise BenchError("refuge is not installed in this environment; run make bench (it creates .venv)")
    return found


def refuge_python() -> str:
    """The interpreter of the ``refuge`` :func:`refuge_bin` gives (for ``-m refuge`` and ``-m cProfile``)."""
    if not os.environ.get("REFUGE_BENCH_EDITABLE"):
        return str(_wheel_install() / "bin" / "python")
    return sys.executable


_WHEEL: list[Path] = []


def _wheel_install() -> Path:
    """A venv under bench/out/ with refuge installed from a wheel of this checkout (byte-compiled by pip),
    its dependencies taken from this venv's site-packages as a plain path; made once per run."""
    if _WHEEL:
        return _WHEEL[0]
    import sysconfig

    work = OUT / "wheel"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    src = work / "src"  # a copy, so that the build's own folders never land in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__",
                                                             ".pytest_cache", ".hypothesis", "out"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(work),
                    str(src)], check=True, capture_output=True, cwd=work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "bench-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # installed by this venv's pip (the Makefile keeps it current), as a user's up-to-date pip installs it: the
    # pip a new venv comes with may be older, and the `refuge` script it writes imports re first (6 ms a command)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(next(work.glob("refuge-*.whl")))], check=True, capture_output=True)
    _WHEEL.append(venv)
    return venv


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BenchError(f"{name} is not installed; make bench installs the Debian packages it needs")
    return path


class BenchError(Exception):
    """A benchmark could not run (a tool missing, a command failing)."""


def run_script(name: str, main, code: int = 2) -> None:
    """A benchmark script's entry point: exit with main()'s status, or print why it could not run."""
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"{name}: {e}", file=sys.stderr)
        sys.exit(code)


# --- measured subprocesses --------------------------------------------------------


@dataclass
class Run:
    wall: float  # seconds
    maxrss_kib: int
    user: float
    system: float
    returncode: int
    stderr: str

    @property
    def rss_mib(self) -> float:
        return self.maxrss_kib / 1024


_TIME = "/usr/bin/time"  # GNU time: reports its child's own peak RSS (%M, KiB)
# Without GNU time: a tiny launcher forks and execs the command and reports wait4's ru_maxrss.
# (Not os.wait4 from here: Python spawns with vfork, and a child's ru_maxrss then starts at
# this process's own RSS, which is the large one.)
_LAUNCHER = (
    "import os,sys\n"
    "pid=os.fork()\n"
    "if pid==0:\n"
    "    try: os.execvp(sys.argv[2],sys.argv[2:])\n"
    "    finally: os._exit(127)\n"
    "_,st,ru=os.wait4(pid,0)\n"
    "open(sys.argv[1],'w').write(str(ru.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)


def measure(cmd: list[str], env: dict | None = None, stdout: str | os.PathLike | None = None,
            cwd: str | os.PathLike | None = None, check: bool = True) -> Run:
    """Run one command; return its wall time and its own peak RSS (through GNU time or a fork launcher)."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", prefix="rss-", dir=OUT) as rss:
        if os.path.exists(_TIME):
            wrapped = [_TIME, "-q", "-f", "%M", "-o", rss.name, *map(str, cmd)]
        else:
            wrapped = [sys.executable, "-I", "-S", "-c", _LAUNCHER, rss.name, *map(str, cmd)]
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(wrapped, env=env, stdout=out, stderr=err, cwd=cwd)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
        finally:
            if stdout:
                out.close()
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        err.seek(0)
        text = err.read().decode(errors="replace")
        lines = [ln for ln in Path(rss.name).read_text().split() if ln.strip().isdigit()]
    maxrss = int(lines[-1]) if lines else 0
    run = Run(wall, maxrss, ru.ru_utime, ru.ru_stime, p.returncode, text)
    if check and run.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd[:4]))} ... exited {run.returncode}: {text.strip()[-500:]}")
    return run


def settle() -> None:
    """Between timed runs: write back dirty pages so one run's I/O does not land in the next."""
    os.sync()
    time.sleep(0.2)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


def peak_mib(runs: list[Run]) -> float:
    return max(r.rss_mib for r in runs)


# --- results ----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ours: str  # our figure, in words
    reference: str  # the standard tool's figure, in words
    ratio: float
    target: str
    rss_mib: float | None
    passed: bool
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# --- vaults made through the library ----------------------------------------------


def scratch_dir(prefix: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=OUT))


@contextlib.contextmanager
def scratch(prefix: str, keep: bool = False):
    path = scratch_dir(prefix)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def fast_identities() -> None:
    """The documented test-only setting, for identities made by the benchmarks."""
    os.environ["REFUGE_TEST_WORK_FACTOR"] = WORK_FACTOR


def make_people(home_path: Path, roles: dict[str, str]):
    """Identities for ``roles`` (name -> role) in a new REFUGE_HOME; returns (Home, {name: SecretIdentity})."""
    from vault.identity import Home, SecretIdentity

    fast_identities()
    home = Home(home_path)
    people = {}
    for name in roles:
        people[name] = SecretIdentity.generate(name)
        home.create(people[name], PASSPHRASE)
    return home, people


def make_vault(vault_path: Path, home_path: Path, roles: dict[str, str]):
    """A vault whose first name in ``roles`` is the founding admin and the others are enrolled."""
    from vault.core import Vault

    home, people = make_people(home_path, roles)
    names = list(roles)
    vault = Vault.init(str(vault_path), home, people[names[0]])
    for name in names[1:]:
        vault.add_user(people[name].public, roles[name])
    return home, people, vault


def open_as(vault_path: Path, home, secret, backend=None):
    """Open a vault as ``secret`` (optionally over another backend for the same folder)."""
    from vault.core import Vault
    from vault.storage import LocalBackend

    backend = backend or LocalBackend(vault_path)
    return Vault(backend, home, secret, Vault.read_settings(backend))


def no_sync_backend(root: Path):
    """A LocalBackend that skips fsync: same objects, same bytes, built faster.

    Used only to build the large cached cases; the caller runs os.sync() after.
    """
    from vault.storage import LocalBackend, ObjectExists

    class NoSyncBackend(LocalBackend):
        @contextlib.contextmanager
        def writer(self, key, before_commit=None):
            final = self._path(key)
            tmpdir = self.root / self.TMP
            tmpdir.mkdir(mode=0o700, exist_ok=True)
            tmp = tmpdir / os.urandom(12).hex()
            f = open(tmp, "xb")
            try:
                yield f
                f.close()
                if before_commit is not None:
                    before_commit()
                final.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    raise ObjectExists(f"object {key} already exists") from None
            finally:
                f.close()
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()

    return NoSyncBackend(root)


def cli_env(home: Path, vault: Path, user: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFUGE_")}
    env.update(REFUGE_HOME=str(home), REFUGE_VAULT=str(vault), REFUGE_USER=user, REFUGE_PASSPHRASE=PASSPHRASE)
    return env


# --- input files ----------------------------------------------------------------------

_ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n"  # 64 symbols
_TABLE = bytes(_ALPHABET[i % 64] for i in range(256))


def text_file(size_mib: int) -> Path:
    """A plain-text file of ``size_mib`` MiB: random ASCII lines (letters, digits, spaces).

    Made once and reused from bench/out/data/. Intake must accept it as
    text/plain with a .txt name; this is checked when it is made.
    """
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"statement-{size_mib}MiB.txt"
    size = size_mib * MIB
    if path.exists() and path.stat().st_size == size:
        return path
    tmp = path.with_suffix(".part")
    head = b"Synthetic benchmark statement: random ASCII lines, no real data.\n"
    with open(tmp, "wb") as f:
        f.write(head)
        left = size - len(head)
        while left > 0:
            n = min(left, 16 * MIB)
            chunk = bytearray(os.urandom(n).translate(_TABLE))
            if left == n:
                chunk[-1:] = b"\n"
            f.write(chunk)
            left -= n
    from vault import intake

    os.replace(tmp, path)
    found = intake.inspect(path, limit=max(intake.DEFAULT_LIMIT, size), label="the benchmark file")
    if found.mime != "text/plain":
        raise BenchError(f"libmagic calls the benchmark file {found.mime}, not text/plain")
    return path


# --- the machine --------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    disk = "unknown"
    with contextlib.suppress(Exception):
        OUT.mkdir(parents=True, exist_ok=True)
        src = subprocess.run(["df", "--output=source,fstype,size", str(OUT)], capture_output=True, text=True).stdout.split("\n")[1].split()
        disk = f"{src[0]} ({src[1]}, {src[2]})"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "vault", "packets", "refuge",
                            "templates", "pyproject.toml"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram": mem, "disk": disk,
        "python": platform.python_version(), "kernel": platform.release(),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" + uncommitted library changes" if dirty else ""),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
