"""Issue 14's three figures, measured side by side in one run on the same machine and the same code.

A standalone script, not part of the test suite (needs `pip install -e '.[dask]'` for the cluster run).
It runs, one after the other and never at the same time, so no measure takes CPU from another:

  1. benchmarks/bench_build.py --only 1: the cold build of the shipped show against its lower bound;
  2. benchmarks/bench_cluster.py: the same cold build locally and on a Dask cluster of two workers;
  3. benchmarks/bench_archive.py: a generated archive of 250 / 500 / 1,000 episodes.

Each script's own table is printed as it finishes; at the end one summary table, and as the last line
every script's JSON results together.

    python benchmarks/bench_scale.py [--repeats N] [--sizes 250,500,1000]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> tuple[dict, float]:
    """Run one benchmark; its table goes to this terminal, its last line (JSON) is returned."""
    started = time.monotonic()
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE, text=True,
                            check=True)
    lines = result.stdout.rstrip().splitlines()
    print("\n".join(lines[:-1]), flush=True)
    return json.loads(lines[-1]), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--sizes", default="250,500,1000", help="archive sizes, comma-separated")
    options = parser.parse_args()
    repeats = str(options.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} cores; load average {load:.2f} at the start", flush=True)
    build, build_s = run("bench_build.py", "--only", "1", "--repeats", repeats)
    cluster, cluster_s = run("bench_cluster.py", "--repeats", repeats)
    archive, archive_s = run("bench_archive.py", "--sizes", options.sizes, "--repeats", repeats)
    shipped = build["shipped"]
    print("\nsummary (one run, one after the other):")
    print(f"  cold build / lower bound, wall: {shipped['build_s']:.2f} s / {shipped['lower_bound_s']:.2f} s = "
          f"{shipped['ratio']:.2f} (goal <= 1.0); CPU: {shipped['cpu_ratio']:.2f}   [{build_s:.0f} s]")
    print(f"  cluster: {json.dumps({k: v for k, v in cluster.items() if not isinstance(v, (list, dict))})}"
          f"   [{cluster_s:.0f} s]")
    print(f"  archive: {json.dumps({k: v for k, v in archive.items() if not isinstance(v, (list, dict))})}"
          f"   [{archive_s:.0f} s]")
    print(json.dumps({"build": build, "cluster": cluster, "archive": archive,
                      "seconds": {"build": build_s, "cluster": cluster_s, "archive": archive_s}}))


if __name__ == "__main__":
    main()
