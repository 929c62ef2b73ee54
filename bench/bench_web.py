#!/usr/bin/env python3
"""Benchmarks of the web desk (refuge serve): a big upload through the page, a big case page.

    bench/bench_web.py                     # 1 GiB upload, case page of 1,000 documents
    bench/bench_web.py --size-mib 64 --docs 200   # a quick check

1. Upload: the same file through the page (a multipart POST to the real server,
   streamed from disk by curl, a native client as the browser is) next to
   `refuge doc add` of the same file in the same vault; best of --runs each.
   Target: at most 1.3 x, with the server's peak RSS (VmHWM of the serve
   process, read from /proc) under 128 MiB.
2. Case page: GET of a case of --docs documents from the running server next
   to `refuge doc list REF --json`; best of --runs. Target: at most 1.5 x.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (BenchError, cli_env, make_vault, measure, need_tool, open_as, refuge_bin,  # noqa: E402
                    run_script, scratch_dir, settle, text_file)

UPLOAD_TARGET, PAGE_TARGET, RSS_TARGET_MIB = 1.3, 1.5, 128


def _log(msg: str) -> None:
    print(f"bench_web: {msg}", file=sys.stderr, flush=True)


class Desk:
    """refuge serve as a subprocess, signed in with httpx."""

    def __init__(self, env: dict) -> None:
        import httpx

        self.proc = subprocess.Popen([refuge_bin(), "serve", "--no-browser", "--idle-timeout", "120"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        found = re.search(r"(http://127\.0\.0\.1:(\d+))(/\S+)/login\?token=\S+", line)
        if not found:
            self.stop()
            raise BenchError(f"refuge serve printed no link: {line!r}")
        self.origin, self.base = found.group(1), found.group(1) + found.group(3)
        self.client = httpx.Client(headers={"origin": self.origin}, timeout=3600)
        for _ in range(100):
            try:
                if self.client.get(line.split()[-1]).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        page = self.client.get(self.base + "/search").text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def peak_rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024

    def cpu_s(self) -> float:
        """CPU seconds of the serve process and the children it waited for (the keyless workers)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _children_cpu_s() -> float:
    """CPU seconds of this script's reaped children so far (the difference around a run is curl's)."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def upload(size_mib: int, runs: int) -> dict:
    d = scratch_dir("web-upload-")
    try:
        home, people, _ = make_vault(d / "vault", d / "home", {"alice": "admin", "erin": "case-lead"})
        case = open_as(d / "vault", home, people["erin"]).create_case("BENCH-WEB", "benchmark case")
        env = cli_env(d / "home", d / "vault", "erin")
        src = text_file(size_mib)
        curl = need_tool("curl")  # a native client, as a browser is: not Python competing for the CPU here
        desk = Desk(env)
        try:
            cli, page, cli_cpu, page_cpu, client_cpu, load = [], [], [], [], [], []
            cookie = "; ".join(f"{k}={v}" for k, v in desk.client.cookies.items())
            for _ in range(runs):  # the two sides in turn, so that the machine's load falls on both
                settle()
                run = measure([refuge_bin(), "doc", "add", "BENCH-WEB", str(src), "--type", "other",
                               "--allow-duplicate"], env)
                cli.append(run.wall)
                cli_cpu.append(run.user + run.system)
                settle()
                load.append(os.getloadavg()[0])
                c0, k0, t0 = desk.cpu_s(), _children_cpu_s(), time.perf_counter()
                out = subprocess.run([curl, "-s", "-H", f"Origin: {desk.origin}", "-H", f"Cookie: {cookie}",
                                      "-H", "Accept: application/json", "-F", "type=other", "-F", "allow_duplicate=1",
                                      "-F", f"file=@{src};type=text/plain",
                                      f"{desk.base}/case/{case.id}/upload?csrf={desk.csrf}"],
                                     capture_output=True, text=True)
                page.append(time.perf_counter() - t0)
                page_cpu.append(desk.cpu_s() - c0)
                client_cpu.append(_children_cpu_s() - k0)  # curl's: on the same two cores, as a browser's is
                if '"error":null' not in out.stdout:
                    raise BenchError(f"the upload failed: {out.stdout[:300]}")
            rss = desk.peak_rss_mib()
        finally:
            desk.stop()
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    ratio = min(page) / min(cli)
    return {"name": "web-upload", "size_mib": size_mib, "page_s": round(min(page), 2), "cli_s": round(min(cli), 2),
            "ratio": round(ratio, 2), "target": UPLOAD_TARGET, "server_peak_rss_mib": round(rss, 1),
            "rss_target_mib": RSS_TARGET_MIB, "pass": ratio <= UPLOAD_TARGET and rss < RSS_TARGET_MIB,
            "page_runs": [round(x, 2) for x in page], "cli_runs": [round(x, 2) for x in cli],
            "page_cpu_s": [round(x, 2) for x in page_cpu], "cli_cpu_s": [round(x, 2) for x in cli_cpu],
            "client_cpu_s": [round(x, 2) for x in client_cpu],
            "load": [round(x, 1) for x in load]}


def case_page(n: int, runs: int) -> dict:
    from bench_vault import list_vault

    meta = list_vault(n)
    env = cli_env(Path(meta["home"]), Path(meta["vault"]), meta["user"])
    measure([refuge_bin(), "doc", "list", meta["ref"], "--json"], env)  # the state cache, as a person has it
    cli = [measure([refuge_bin(), "doc", "list", meta["ref"], "--json"], env).wall for _ in range(runs)]
    desk = Desk(env)
    try:
        page = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            r = desk.client.get(f"{desk.base}/case/{meta['case']}")
            took = time.perf_counter() - t0
            if r.status_code != 200 or r.text.count("<tr data-doc=") != n:
                raise BenchError(f"the case page failed: {r.status_code}")
            page.append(took)
        first, warm = page[0], min(page[1:])
    finally:
        desk.stop()
    ratio = first / min(cli)
    return {"name": "web-case-page", "docs": n, "page_first_s": round(first, 3), "page_warm_s": round(warm, 3),
            "cli_s": round(min(cli), 3), "ratio": round(ratio, 2), "target": PAGE_TARGET, "pass": ratio <= PAGE_TARGET}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["upload", "page"])
    args = ap.parse_args()
    results = []
    if args.only in (None, "upload"):
        results.append(upload(args.size_mib, args.runs))
    if args.only in (None, "page"):
        results.append(case_page(args.docs, args.runs))
    for r in results:
        print(" ".join(f"{k}={v}" for k, v in r.items()))
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    run_script("bench_web", main)
