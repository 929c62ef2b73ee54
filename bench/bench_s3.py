#!/usr/bin/env python3
"""Benchmark: `refuge doc add` of a big file into an S3 vault, against boto3's upload_file.

    bench/bench_s3.py                   # a 1 GiB file (the target size)
    bench/bench_s3.py --size-mib 64     # a quick check
    bench/bench_s3.py --part-mib 16     # another S3 part size for refuge

S3 is moto's server (`python -m moto.server`) in its own process on 127.0.0.1
and a free port, so its memory and CPU are not counted as refuge's; both sides
talk to it over HTTP. refuge encrypts (age), hashes (SHA-256) and uploads the
file as a create-only multipart upload; the reference is
`boto3.client("s3").upload_file(FILE)` of the same plaintext file, in its own
process (s3transfer's defaults: 8 MiB parts, 10 threads). Each side runs
--runs times; the best wall times are compared.

Targets: refuge's peak RSS at most 64 MiB plus one part; its time at most 1.5 x
boto3's. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from common import (OUT, PASSPHRASE, BenchError, Result, best, make_people, measure, refuge_bin,  # noqa: E402
                    scratch_dir, settle, text_file, write_json)

RATIO = 1.5
RSS_BASE_MIB = 64
REGION = "us-east-1"
BUCKET = "refuge-bench"


def _log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_server(log: Path):
    """moto's server in its own process; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise BenchError(f"moto's server did not start (is moto[server] installed?); see {log}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def aws_env(url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REFUGE_"))}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    return env


_UPLOAD = (
    "import sys, boto3\n"
    "c = boto3.client('s3', endpoint_url=sys.argv[1])\n"
    "c.upload_file(sys.argv[2], sys.argv[3], sys.argv[4])\n"
)


def run(size_mib: int, part_mib: int, runs: int, keep: bool = False) -> Result:
    import boto3

    data = text_file(size_mib)
    work = scratch_dir("s3-")
    try:
        with moto_server(work / "moto.log") as url:
            env = aws_env(url)
            os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
            s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
            s3.create_bucket(Bucket=BUCKET)
            location = f"s3://{BUCKET}/vault"
            home_path = work / "home"
            os.environ["REFUGE_S3_ENDPOINT_URL"] = url
            home, people = make_people(home_path, {"alice": "admin", "erin": "case-lead"})
            from vault.core import Vault

            v = Vault.init(location, home, people["alice"])
            v.add_user(people["erin"].public, "case-lead")
            Vault.open(location, home, lambda: people["erin"]).create_case("BENCH-S3", "benchmark case")
            refuge_env = dict(env, REFUGE_HOME=str(home_path), REFUGE_VAULT=location, REFUGE_USER="erin",
                              REFUGE_PASSPHRASE=PASSPHRASE, REFUGE_S3_ENDPOINT_URL=url,
                              REFUGE_S3_PART_MIB=str(part_mib), REFUGE_S3_PARALLEL=os.environ.get("REFUGE_S3_PARALLEL", ""))
            ours, ref = [], []
            idfile = work / "doc-id"
            for i in range(runs):
                _log(f"s3 doc-add round {i + 1}/{runs} ({size_mib} MiB)")
                settle()
                ref.append(measure([sys.executable, "-c", _UPLOAD, url, str(data), BUCKET, f"upload-file-{i}"], env))
                s3.delete_object(Bucket=BUCKET, Key=f"upload-file-{i}")  # moto keeps objects in memory
                settle()
                ours.append(measure([refuge_bin(), "doc", "add", "BENCH-S3", str(data), "--type", "other",
                                     "--allow-duplicate"],
                                    refuge_env, stdout=idfile))
            # the document reads back byte-exact (untimed)
            got = work / "got.txt"
            subprocess.run([refuge_bin(), "doc", "get", idfile.read_text().split()[0], "-o", str(got)],
                           env=refuge_env, check=True, capture_output=True)
            if got.stat().st_size != data.stat().st_size or not _same(got, data):
                raise BenchError("refuge doc get did not give back the file added to the S3 vault")
            got.unlink()
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    t_ours, t_ref = best(ours).wall, best(ref).wall
    ratio = t_ours / t_ref
    rss = max(r.rss_mib for r in ours)
    limit = RSS_BASE_MIB + part_mib
    passed = ratio <= RATIO and rss <= limit
    return Result(
        "s3-doc-add", f"{t_ours:.2f} s ({size_mib / t_ours:.0f} MiB/s)",
        f"boto3 upload_file {t_ref:.2f} s ({size_mib / t_ref:.0f} MiB/s)", ratio,
        f"<= {RATIO} x, RSS <= {RSS_BASE_MIB} MiB + one {part_mib} MiB part", rss, passed,
        details={"size_mib": size_mib, "part_mib": part_mib, "runs": runs,
                 "refuge_s": [round(r.wall, 3) for r in ours], "boto3_s": [round(r.wall, 3) for r in ref],
                 "refuge_rss_mib": [round(r.rss_mib, 1) for r in ours],
                 "boto3_rss_mib": [round(r.rss_mib, 1) for r in ref],
                 "refuge_cpu_s": [round(r.user + r.system, 2) for r in ours],
                 "boto3_cpu_s": [round(r.user + r.system, 2) for r in ref]},
        notes=["S3 is moto's server in its own process on 127.0.0.1; refuge also encrypts and hashes what it sends"],
    )


def _same(a: Path, b: Path) -> bool:
    import filecmp

    return filecmp.cmp(a, b, shallow=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the file added (default 1024)")
    ap.add_argument("--part-mib", type=int, default=8, help="refuge's S3 part size in MiB (default 8)")
    ap.add_argument("--runs", type=int, default=2, help="runs of each side; the best counts (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder under bench/out/")
    args = ap.parse_args()
    try:
        r = run(args.size_mib, args.part_mib, args.runs, args.keep)
    except BenchError as e:
        print(f"bench_s3: error: {e}", file=sys.stderr)
        return 2
    verdict = "PASS" if r.passed else "FAIL"
    print(f"{r.name}: refuge {r.ours}  |  {r.reference}  |  ratio {r.ratio:.2f} x  |  "
          f"peak RSS {r.rss_mib:.1f} MiB  |  target {r.target}  |  {verdict}")
    print(json.dumps(r.details, indent=None))
    write_json(OUT / "results-s3.json", r.as_dict())
    return 0 if r.passed else 1


if __name__ == "__main__":
    sys.exit(main())
