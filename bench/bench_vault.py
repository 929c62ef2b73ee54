"""Benchmarks of the vault core: doc add and doc get of a big file, doc list of a big case.

doc-add   `refuge doc add` of a SIZE MiB plain-text file, against `age -r RECIPIENT -o OUT FILE && sync OUT`
          (refuge fsyncs its blob): at most 1.1 x, peak RSS at most 64 MiB; ratios against
          age alone, sha256sum and a plain hashlib pass printed beside it.
doc-get   `refuge doc get DOC -o OUT`, against `age -d -i KEY -o OUT` of the stored
          blob (an age file of the same size): at most 1.1 x, peak RSS at most 64 MiB.
doc-list  `refuge doc list REF --json` on a case of 10 and of N documents: the marginal
          cost per document, (t(N) - t(10)) / (N - 10), at most 50 microseconds. Side
          by side: `jq -c .` over the same listing, the cost of a standard tool merely
          re-reading what refuge printed.

All outputs go to a scratch folder under bench/out/ (the disk the vault is on);
the doc-list vaults are built once through the library and cached in bench/out/cache/.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import sys
import time
from pathlib import Path

from common import (CACHE, BenchError, Result, Run, best, cli_env, make_vault, measure, need_tool,
                    no_sync_backend, open_as, peak_mib, refuge_bin, scratch_dir, settle, text_file)

ADD_GET_RATIO = 1.1
RSS_LIMIT_MIB = 64
LIST_BUDGET_US = 50.0
SMALL_CASE = 10


# The hashing floor: one Python pass of hashlib SHA-256 over the file, 4 MiB reads.
_HASHLIB_PASS = ("import hashlib,sys\nh=hashlib.sha256();b=bytearray(4<<20);m=memoryview(b)\n"
                 "with open(sys.argv[1],'rb',buffering=0) as f:\n    while n:=f.readinto(b): h.update(m[:n])\n")

# A minimal Python program doing what doc add must (hash, encrypt, make durable), and nothing else,
# the way refuge does it: start, import hashlib and pyca's ChaCha20-Poly1305, read 256 KiB buffers here,
# hash each on a second thread while this one seals it in 64 KiB chunks (age's payload chunk) into a
# 2 MiB page-aligned stage, each full stage written with O_DIRECT on a third thread while the next
# fills (refuge's local writer), the tail through the page cache, then fsync. No vault, no key
# wrapping, no intake, no event: the floor for any Python program; the gap between refuge and it is
# what refuge itself adds.
_MINIMAL_PYTHON = """import fcntl,hashlib,mmap,os,queue,sys,threading
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
a=ChaCha20Poly1305(os.urandom(32));h=hashlib.sha256();S=2<<20;k=u=off=0
todo,done,jobs,free=(queue.SimpleQueue() for _ in range(4))
def hasher():
    while (v:=todo.get()) is not None: h.update(v);done.put(v.obj)
def writer():
    while (j:=jobs.get()) is not None: os.pwrite(fd,j[0][:S],j[1]);free.put(j[0])
src=open(sys.argv[1],'rb',buffering=0);fd=os.open(sys.argv[2],os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600)
try: fcntl.fcntl(fd,fcntl.F_SETFL,fcntl.fcntl(fd,fcntl.F_GETFL)|os.O_DIRECT)
except OSError: pass
st=[memoryview(mmap.mmap(-1,S+(1<<20))) for _ in range(2)];free.put(st[1]);out=st[0]
ts=[threading.Thread(target=f) for f in (hasher,writer)];[t.start() for t in ts];made=0
while True:
    if made<8: b=bytearray(256<<10);made+=1
    else: b=done.get()
    n=src.readinto(b)
    if not n: break
    v=memoryview(b)[:n];todo.put(v)
    for o in range(0,n,65536):
        c=v[o:o+65536];a.encrypt_into(k.to_bytes(11,'big')+b"\\0",c,None,out[u:u+len(c)+16]);u+=len(c)+16;k+=1
    if u>=S: jobs.put((out,off));off+=S;rest=bytes(out[S:u]);out=free.get();out[:len(rest)]=rest;u=len(rest)
todo.put(None);jobs.put(None);[t.join() for t in ts];t=u//4096*4096
os.pwrite(fd,out[:t],off);fcntl.fcntl(fd,fcntl.F_SETFL,fcntl.fcntl(fd,fcntl.F_GETFL)&~os.O_DIRECT)
os.pwrite(fd,out[t:u],off+t);os.fsync(fd)
"""

# Starting Python and importing what the minimal program needs, nothing read: the cost of being a
# Python program at all.
_PYTHON_START = "import hashlib,concurrent.futures\nfrom cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305\n"


def _log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _fmt_runs(runs: list[Run]) -> str:
    return ", ".join(f"{r.wall:.3f}" for r in runs)


def _cpu(runs: list[Run]) -> float:
    """The least user+system CPU seconds of the runs (less sensitive than wall time to other load)."""
    return min(r.user + r.system for r in runs)


# --- the big-file vault (scratch, removed at the end) -------------------------------------


class BigFile:
    """A fresh vault with one case, the input file, and the case key for age."""

    REF = "BENCH-BIG"

    def __init__(self, size_mib: int) -> None:
        from vault import age

        self.size_mib = size_mib
        self.dir = scratch_dir("vault-big-")
        self.vault = self.dir / "vault"
        self.home = self.dir / "home"
        home, people, _ = make_vault(self.vault, self.home, {"alice": "admin", "erin": "case-lead"})
        v = open_as(self.vault, home, people["erin"])
        case = v.create_case(self.REF, "benchmark case")
        key_text = v.export_key(case)
        self.keyfile = self.dir / "case.key"
        self.keyfile.write_text(key_text)
        os.chmod(self.keyfile, 0o600)
        identity = [line for line in key_text.splitlines() if line.startswith("AGE-SECRET-KEY-")][-1]
        self.recipient = str(age.X25519Identity.from_string(identity).recipient)
        self.env = cli_env(self.home, self.vault, "erin")
        self._open = (home, people["erin"])
        self.input = text_file(size_mib)
        self.doc_id: str | None = None

    def add_once(self) -> str:
        """Add the file once, untimed (for doc-get run alone)."""
        idfile = self.dir / "doc-id"
        measure([refuge_bin(), "doc", "add", self.REF, str(self.input), "--type", "other"], self.env, stdout=idfile)
        self.doc_id = idfile.read_text().split()[0]
        return self.doc_id

    def blob_path(self, doc_id: str) -> Path:
        v = open_as(self.vault, *self._open)
        case, doc = v.find_document(doc_id)
        return self.vault / "cases" / case.id / "blobs" / doc.blob

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class _Unlocked:
    """``refuge unlock`` for the big file's case lead, as a person works; the peak RSS of the agent's
    child that runs each doc add (the spare, sampled from /proc while the command runs)."""

    def __init__(self, big: BigFile) -> None:
        import tempfile

        self.runtime = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short enough for AF_UNIX
        self.env = {**big.env, "XDG_RUNTIME_DIR": str(self.runtime)}
        measure([refuge_bin(), "unlock", "--timeout", "30"], self.env)
        self.env.pop("REFUGE_PASSPHRASE")
        self.peaks: list[float] = []

    def _spare(self) -> int | None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and (entry / "comm").read_text().strip() == "refuge-spare":
                        stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                        if stat[0] != "Z" and self._agent_of(int(stat[1])):
                            return int(entry.name)
                except OSError:
                    continue
            time.sleep(0.05)
        return None

    def _agent_of(self, pid: int) -> bool:
        try:
            return str(self.runtime) in Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            return False

    def add(self, cmd: list[str], stdout: Path) -> Run:
        import threading

        spare = self._spare()
        peak, done = [0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    for line in Path(f"/proc/{spare}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
                except OSError:
                    pass
                done.wait(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        if spare is not None:
            sampler.start()
        try:
            return measure(cmd, self.env, stdout=stdout)
        finally:
            done.set()
            if spare is not None:
                sampler.join()
            self.peaks.append(peak[0] / 1024)

    def close(self) -> None:
        measure([refuge_bin(), "lock"], self.env, check=False)
        shutil.rmtree(self.runtime, ignore_errors=True)


def doc_add(big: BigFile, runs: int = 3) -> Result:
    need_tool("sha256sum")
    need_tool("age")
    refuge = refuge_bin()
    src = str(big.input)
    out = big.dir / "age-out.age"
    idfile = big.dir / "doc-id"
    sha, agee, agesync, ours, hashpass, minimal, start, unlocked = [], [], [], [], [], [], [], []
    agent = _Unlocked(big)
    try:
        _doc_add_rounds(big, runs, refuge, src, out, idfile, agent,
                        (sha, agee, agesync, ours, hashpass, minimal, start, unlocked))
    finally:
        agent.close()
    return _doc_add_result(big, runs, sha, agee, agesync, ours, hashpass, minimal, start, unlocked, agent.peaks)


def _doc_add_rounds(big, runs, refuge, src, out, idfile, agent, lists) -> None:
    sha, agee, agesync, ours, hashpass, minimal, start, unlocked = lists
    add = [refuge, "doc", "add", big.REF, src, "--type", "other", "--allow-duplicate"]  # the same file each round
    for i in range(runs):
        _log(f"doc-add round {i + 1}/{runs}")
        settle()
        sha.append(measure(["sha256sum", src]))
        settle()
        agee.append(measure(["age", "-r", big.recipient, "-o", str(out), src]))
        out.unlink()
        settle()
        # informational: age plus an fsync of its output, as refuge makes its blob durable
        agesync.append(measure(["sh", "-c", 'age -r "$1" -o "$2" "$3" && sync "$2"', "sh", big.recipient, str(out), src]))
        out.unlink()
        settle()
        hashpass.append(measure([sys.executable, "-I", "-c", _HASHLIB_PASS, src]))
        settle()
        minimal.append(measure([sys.executable, "-I", "-c", _MINIMAL_PYTHON, src, str(out)]))
        out.unlink()
        settle()
        start.append(measure([sys.executable, "-I", "-c", _PYTHON_START]))
        settle()
        ours.append(measure(add, big.env, stdout=idfile))  # a script's run: its passphrase, no agent
        settle()
        unlocked.append(agent.add(add, idfile))  # a person's, unlocked: the agent runs it
        big.doc_id = idfile.read_text().split()[0]


def _doc_add_result(big, runs, sha, agee, agesync, alone, hashpass, minimal, start, ours, child_peaks) -> Result:
    t_ref = best(agesync).wall  # the target: age -r, then sync of its output (refuge fsyncs its blob)
    t_ours = best(ours).wall
    t_alone = best(alone).wall
    ratio = t_ours / t_ref
    rss = peak_mib(ours) + max(child_peaks)  # the client, and the agent's child that did the work
    passed = ratio <= ADD_GET_RATIO and rss <= RSS_LIMIT_MIB
    mib = big.size_mib
    t_sha, t_age, t_hash, t_min = best(sha).wall, best(agee).wall, best(hashpass).wall, best(minimal).wall
    t_start = best(start).wall
    return Result(
        "doc-add", f"{t_ours:.3f} s ({mib / t_ours:.0f} MiB/s)", f"age -r && sync {t_ref:.3f} s",
        ratio, f"<= {ADD_GET_RATIO} x age+sync, RSS <= {RSS_LIMIT_MIB} MiB", rss, passed,
        details={
            "size_mib": mib, "runs": runs,
            "refuge_s": [r.wall for r in ours], "refuge_without_agent_s": [r.wall for r in alone],
            "agent_child_peak_rss_mib": [round(m, 1) for m in child_peaks], "sha256sum_s": [r.wall for r in sha], "age_s": [r.wall for r in agee],
            "age_plus_fsync_s": [r.wall for r in agesync], "hashlib_pass_s": [r.wall for r in hashpass],
            "minimal_python_s": [r.wall for r in minimal], "python_start_s": [r.wall for r in start],
            "minimal_python_cpu_s": [round(r.user + r.system, 3) for r in minimal],
            "refuge_rss_mib": [round(r.rss_mib, 1) for r in ours], "age_rss_mib": round(peak_mib(agee), 1),
            "sha256sum_rss_mib": round(peak_mib(sha), 1),
            "refuge_cpu_s": [round(r.user + r.system, 3) for r in alone],
            "refuge_without_agent_rss_mib": [round(r.rss_mib, 1) for r in alone],
            "sha256sum_cpu_s": [round(r.user + r.system, 3) for r in sha],
            "age_cpu_s": [round(r.user + r.system, 3) for r in agee],
            "ratio_vs_age_plus_fsync": ratio, "ratio_vs_age": t_ours / t_age,
            "ratio_vs_sha256sum": t_ours / t_sha, "ratio_vs_hashlib_pass": t_ours / t_hash,
            "ratio_vs_minimal_python": t_ours / t_min, "minimal_python_vs_age_plus_fsync": t_min / t_ref,
            "ratio_without_agent_vs_age_plus_fsync": t_alone / t_ref,
        },
        notes=[f"refuge doc add unlocked (the agent runs it; refuge unlock, as a person works): {t_ours:.3f} s; "
               f"peak RSS {peak_mib(ours):.1f} MiB (the command) + {max(child_peaks):.1f} MiB (the agent's child, "
               "pages shared with the agent included)",
               f"a script's run (REFUGE_PASSPHRASE, no agent: Python starts and opens the vault for the command) "
               f"{t_alone:.3f} s = {t_alone / t_ref:.2f} x age+sync, peak RSS {peak_mib(alone):.1f} MiB",
               f"ratios: refuge / (age -r && sync) {ratio:.2f}; / age -r {t_ours / t_age:.2f}; "
               f"/ sha256sum {t_ours / t_sha:.2f}; / a plain hashlib pass {t_ours / t_hash:.2f} (the hashing floor)",
               f"a minimal Python program (start, hash on a 2nd thread, ChaCha20-Poly1305 64 KiB chunks, O_DIRECT "
               f"stages written on a 3rd, fsync; nothing else) {t_min:.3f} s = {t_min / t_ref:.2f} x age+sync; refuge / it {t_ours / t_min:.2f}",
               f"starting Python and importing hashlib and ChaCha20-Poly1305 alone: {t_start:.3f} s "
               f"= {t_start / t_ref:.2f} x age+sync",
               f"best: age -r && sync {t_ref:.3f} s, age -r {t_age:.3f} s, sha256sum {t_sha:.3f} s, "
               f"hashlib pass {t_hash:.3f} s, refuge {t_ours:.3f} s",
               f"refuge runs {_fmt_runs(ours)} s; without the agent {_fmt_runs(alone)} s; "
               f"age+sync runs {_fmt_runs(agesync)} s",
               f"CPU seconds (user+sys, least of the runs): refuge without the agent {_cpu(alone):.2f} (2 threads), "
               f"sha256sum {_cpu(sha):.2f}, age {_cpu(agee):.2f}, the minimal Python program {_cpu(minimal):.2f}"],
    )


def doc_get(big: BigFile, runs: int = 3) -> Result:
    need_tool("age")
    refuge = refuge_bin()
    doc_id = big.doc_id or big.add_once()
    blob = big.blob_path(doc_id)
    out_age = big.dir / "age-plain.txt"
    out_ours = big.dir / "got.txt"
    agee, agesync, ours = [], [], []
    checked = False
    for i in range(runs):
        _log(f"doc-get round {i + 1}/{runs}")
        # Each side twice in a row: on this VM the first 1 GiB write after another program's
        # swings by seconds of system time (host memory faults); pairs give both sides the same odds.
        for _ in range(2):
            settle()
            agee.append(measure(["age", "-d", "-i", str(big.keyfile), "-o", str(out_age), str(blob)]))
            out_age.unlink()
        settle()
        agesync.append(measure(["sh", "-c", 'age -d -i "$1" -o "$2" "$3" && sync "$2"', "sh", str(big.keyfile),
                                str(out_age), str(blob)]))
        out_age.unlink()
        for _ in range(2):
            settle()
            ours.append(measure([refuge, "doc", "get", doc_id, "-o", str(out_ours)], big.env))
            if not checked:
                if not filecmp.cmp(out_ours, big.input, shallow=False):
                    raise BenchError("refuge doc get did not give back the file that was added")
                checked = True
            out_ours.unlink()
    t_ref = best(agee).wall
    t_ours = best(ours).wall
    ratio = t_ours / t_ref
    rss = peak_mib(ours)
    passed = ratio <= ADD_GET_RATIO and rss <= RSS_LIMIT_MIB
    mib = big.size_mib
    return Result(
        "doc-get", f"{t_ours:.3f} s ({mib / t_ours:.0f} MiB/s)", f"age -d {t_ref:.3f} s",
        ratio, f"<= {ADD_GET_RATIO} x, RSS <= {RSS_LIMIT_MIB} MiB", rss, passed,
        details={
            "size_mib": mib, "runs": runs, "blob_bytes": blob.stat().st_size,
            "refuge_s": [r.wall for r in ours], "age_s": [r.wall for r in agee],
            "age_plus_fsync_s": [r.wall for r in agesync],
            "refuge_rss_mib": [round(r.rss_mib, 1) for r in ours], "age_rss_mib": round(peak_mib(agee), 1),
            "refuge_cpu_s": [round(r.user + r.system, 3) for r in ours],
            "age_cpu_s": [round(r.user + r.system, 3) for r in agee],
            "ratio_vs_age_plus_fsync": t_ours / best(agesync).wall,
        },
        notes=[f"age -d runs {_fmt_runs(agee)} s; refuge runs {_fmt_runs(ours)} s",
               f"informational: age -d followed by fsync of its output: best "
               f"{best(agesync).wall:.3f} s; refuge / that = {t_ours / best(agesync).wall:.2f} x",
               f"CPU seconds (user+sys, least of the runs): refuge {_cpu(ours):.2f}, age -d {_cpu(agee):.2f}"],
    )


# --- the doc-list vaults (cached) ------------------------------------------------------------


def list_vault(n: int, rebuild: bool = False) -> dict:
    """A vault with one case of ``n`` tiny text documents, built through the library, cached."""
    d = CACHE / f"doclist-{n}"
    meta_path = d / "meta.json"
    if meta_path.exists() and not rebuild:
        return json.loads(meta_path.read_text())
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    _log(f"building the doc-list vault of {n} documents through the library (once; cached in {d})")
    t0 = time.perf_counter()
    home, people, _ = make_vault(d / "vault", d / "home", {"alice": "admin", "erin": "case-lead"})
    # REFUGE_HOME as it is before erin ever read the case: restored before each cold run.
    shutil.copytree(d / "home", d / "home-pristine")
    v = open_as(d / "vault", home, people["erin"], backend=no_sync_backend(d / "vault"))
    ref = f"BENCH-LIST-{n}"
    case = v.create_case(ref, f"benchmark case of {n} documents")
    incoming = d / "incoming"
    incoming.mkdir()
    batch = 500
    done = 0
    while done < n:
        paths = []
        for i in range(done, min(n, done + batch)):
            p = incoming / f"note-{i:06d}.txt"
            p.write_text(f"Synthetic benchmark note {i}.\nStatement page {i}, no real data.\n")
            paths.append(str(p))
        results = v.add_documents(case, paths, "correspondence", tags=["bench"], lang="en")
        failed = [r for r in results if r.error]
        if failed:
            raise BenchError(f"adding benchmark documents failed: {failed[0].error}")
        for p in paths:
            os.unlink(p)
        done += len(paths)
        if done % 2000 == 0 or done == n:
            _log(f"  {done}/{n} documents, {time.perf_counter() - t0:.0f} s")
    incoming.rmdir()
    os.sync()
    meta = {"n": n, "ref": ref, "case": case.id, "user": "erin", "home": str(d / "home"),
            "pristine": str(d / "home-pristine"), "vault": str(d / "vault"),
            "built_s": round(time.perf_counter() - t0, 1), "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _restore_home(meta: dict) -> None:
    shutil.rmtree(meta["home"], ignore_errors=True)
    shutil.copytree(meta["pristine"], meta["home"])


def _list_runs(metas: list[dict], runs: int, outdir: Path) -> dict:
    """Cold runs (REFUGE_HOME restored to before the case was ever read), then warm runs, then jq.

    The sizes alternate run by run, so that other load on the machine falls on both alike.
    """
    refuge = refuge_bin()
    res = {}
    for meta in metas:
        res[meta["n"]] = {"cold": [], "warm": [], "jq": [], "meta": meta,
                          "env": cli_env(Path(meta["home"]), Path(meta["vault"]), meta["user"]),
                          "cmd": [refuge, "doc", "list", meta["ref"], "--json"],
                          "out": outdir / f"list-{meta['n']}.json"}
    for kind in ("cold", "warm"):
        for i in range(runs):
            for r in res.values():
                if kind == "cold":
                    _restore_home(r["meta"])
                settle()
                r[kind].append(measure(r["cmd"], r["env"], stdout=r["out"]))
        for n, r in res.items():
            rows = json.loads(r["out"].read_text())
            if len(rows) != n:
                raise BenchError(f"refuge doc list printed {len(rows)} documents, expected {n}")
    for i in range(runs):
        for r in res.values():
            r["jq"].append(measure(["jq", "-c", ".", str(r["out"])]))
    for r in res.values():
        r["out_bytes"] = r["out"].stat().st_size
    return res


def doc_list(n: int = 10_000, runs: int = 3, rebuild: bool = False) -> Result:
    need_tool("jq")
    small = list_vault(SMALL_CASE, rebuild)
    large = list_vault(n, rebuild)
    outdir = scratch_dir("doclist-")
    try:
        _log(f"doc-list on {SMALL_CASE} and {n} documents: {runs} cold and {runs} warm runs of each")
        try:
            res = _list_runs([small, large], runs, outdir)
        except BenchError as e:
            if rebuild:
                raise
            _log(f"a cached vault failed ({e}); rebuilding both")
            small, large = list_vault(SMALL_CASE, rebuild=True), list_vault(n, rebuild=True)
            res = _list_runs([small, large], runs, outdir)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    span = n - SMALL_CASE

    def marginal(kind: str) -> float:
        return (best(res[n][kind]).wall - best(res[SMALL_CASE][kind]).wall) / span * 1e6

    warm_us, cold_us, jq_us = marginal("warm"), marginal("cold"), marginal("jq")
    cpu_warm_us = (_cpu(res[n]["warm"]) - _cpu(res[SMALL_CASE]["warm"])) / span * 1e6
    cpu_cold_us = (_cpu(res[n]["cold"]) - _cpu(res[SMALL_CASE]["cold"])) / span * 1e6
    rss = max(peak_mib(res[n]["warm"]), peak_mib(res[n]["cold"]))
    passed = warm_us <= LIST_BUDGET_US
    return Result(
        "doc-list", f"{warm_us:.1f} us/doc warm (cold: {cold_us:.1f} us/doc)", f"jq -c . {jq_us:.2f} us/doc",
        warm_us / jq_us if jq_us > 0 else float("inf"), f"<= {LIST_BUDGET_US:.0f} us/doc (warm)", rss, passed,
        details={
            "n": n, "runs": runs,
            "warm_us_per_doc": warm_us, "cold_us_per_doc": cold_us, "jq_us_per_doc": jq_us,
            "cpu_warm_us_per_doc": cpu_warm_us, "cpu_cold_us_per_doc": cpu_cold_us,
            "budget_fraction_warm": warm_us / LIST_BUDGET_US, "budget_fraction_cold": cold_us / LIST_BUDGET_US,
            **{f"{kind}_{size}_s": [r.wall for r in res[size][kind]] for size in res for kind in ("cold", "warm", "jq")},
            "rss_warm_mib": {size: round(peak_mib(res[size]["warm"]), 1) for size in res},
            "rss_cold_mib": {size: round(peak_mib(res[size]["cold"]), 1) for size in res},
            "listing_bytes": {size: res[size]["out_bytes"] for size in res},
        },
        notes=[
            f"t({SMALL_CASE}) warm {best(res[SMALL_CASE]['warm']).wall:.3f} s, cold {best(res[SMALL_CASE]['cold']).wall:.3f} s; "
            f"t({n}) warm {best(res[n]['warm']).wall:.3f} s, cold {best(res[n]['cold']).wall:.3f} s",
            f"cold = first run with REFUGE_HOME as before the case was ever read (no state cache); "
            f"the OS page cache is warm in both; the cold figure is {cold_us / LIST_BUDGET_US:.1f} x the budget",
            f"marginal CPU (user+sys) per document, less sensitive to other load: warm {cpu_warm_us:.1f} us, "
            f"cold {cpu_cold_us:.1f} us",
        ],
    )
