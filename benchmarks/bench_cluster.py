"""A cold build of the same show locally and on a Dask cluster of two workers on this machine, side by side.

A standalone script, not part of the test suite (needs `pip install -e '.[dask]'`). The shipped show is
copied into a temporary folder (or a generated one with --episodes N, from the shipped scripts' text);
a real `dask scheduler` and two `dask worker --nthreads 1` processes are started on loopback (the
tests' fixture, tests/cluster_fixtures.py). Each round builds the show cold through the CLI, with an
empty cache and output: locally (`--workers 2`, the same two processes' worth of engines) and with
`--cluster`. Then a build into a new output folder with the cluster's cache: it renders nothing, so its
time is what stays on the building machine whatever the cluster (assembly, loudness, encode, publish).
Last, once each: a cold cluster build with a shared cache (`--cache-dir file://…`, which the workers
write into), and a build on "another machine" (an empty local cache of its own) from that shared cache.

On one 2-core machine the cluster cannot be faster than local processes: the ratio measures what the
cluster path costs (the scheduler, sending each piece's WAV back, one more Python process per worker).
Across machines the rendering, which is most of a cold build, divides by the number of workers.

    python benchmarks/bench_cluster.py [--repeats N] [--episodes N]

Prints one table and, as its last line, the results as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHIPPED = ROOT / "scripts"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def narrate_cmd() -> list[str]:
    script = Path(sys.executable).with_name("narrate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "narrate"]


def timed_build(scripts: Path, out: Path, cache: Path | str, *extra: str,
                local_cache: Path | None = None) -> tuple[float, int]:
    """Seconds of one CLI build and how many pieces it rendered; `cache` may be a shared cache's URL, with
    `local_cache` as its local copy (NARRATE_CACHE_DIR)."""
    env = {**os.environ, "NARRATE_CACHE_DIR": str(local_cache)} if local_cache else None
    t0 = time.perf_counter()
    result = subprocess.run([*narrate_cmd(), "build", str(scripts), "-o", str(out), "--cache-dir", str(cache),
                             "--json", *extra], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"build failed ({result.returncode}): {result.stderr.strip()}")
    return seconds, json.loads(result.stdout)["rendered_pieces"]


def generated_show(folder: Path, episodes: int) -> Path:
    """A show of `episodes` episodes, each the shipped episodes' paragraphs in turn (the shipped voices)."""
    scripts = folder / "scripts"
    shutil.copytree(SHIPPED, scripts)
    texts = sorted(scripts.glob("0*.md"))
    bodies = [t.read_text(encoding="utf-8") for t in texts]
    for t in texts:
        t.unlink()
    (scripts / "guids.json").unlink(missing_ok=True)
    for n in range(1, episodes + 1):
        body = bodies[(n - 1) % len(bodies)]
        front, _, rest = body.partition("\n---\n")
        front = "\n".join(line for line in front.splitlines() if not line.startswith(("episode:", "title:")))
        (scripts / f"{n:03d}-part-{n}.md").write_text(f"{front}\ntitle: \"Part {n}\"\nepisode: {n}\n---\n{rest}",
                                                      encoding="utf-8")
    return scripts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=0, help="a generated show of N episodes (default: shipped)")
    args = parser.parse_args()
    from tests.cluster_fixtures import start_cluster

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        folder = Path(tmp)
        if args.episodes:
            scripts = generated_show(folder, args.episodes)
        else:
            scripts = folder / "scripts"
            shutil.copytree(SHIPPED, scripts)
            (scripts / "guids.json").unlink(missing_ok=True)
        log("starting a scheduler and two workers on loopback")
        cluster = start_cluster(folder / "cluster")
        local: list[float] = []
        remote: list[float] = []
        pieces = 0
        try:
            for i in range(args.repeats):
                seconds, pieces = timed_build(scripts, folder / f"local-{i}", folder / f"local-cache-{i}",
                                              "--workers", "2")
                local.append(seconds)
                log(f"local cold build {i + 1}: {seconds:.2f}s ({pieces} pieces)")
                seconds, count = timed_build(scripts, folder / f"remote-{i}", folder / f"remote-cache-{i}",
                                             "--cluster", cluster.address)
                remote.append(seconds)
                log(f"cluster cold build {i + 1}: {seconds:.2f}s ({count} pieces)")
                assert count == pieces, (count, pieces)
            # The cluster's pieces are in this machine's cache: another output folder renders nothing, and its
            # build is the part that stays on the building machine (assembly, loudness, encode, publish).
            reuse, rendered = timed_build(scripts, folder / "reuse", folder / "remote-cache-0",
                                          "--cluster", cluster.address)
            assert rendered == 0, rendered
            # A shared cache (a folder both "machines" see, by URL): the workers write each piece there; then
            # another machine, with an empty local cache, builds from it (fetches everything, renders nothing).
            shared = (folder / "shared").as_uri()
            shared_cold, count = timed_build(scripts, folder / "shared-out", shared, "--cluster", cluster.address,
                                             local_cache=folder / "machine-a")
            assert count == pieces, (count, pieces)
            other, rendered = timed_build(scripts, folder / "other-out", shared, local_cache=folder / "machine-b")
            assert rendered == 0, rendered
        finally:
            cluster.stop()
    results = {"pieces": pieces, "local_s": round(statistics.median(local), 2),
               "cluster_s": round(statistics.median(remote), 2),
               "ratio": round(statistics.median(remote) / statistics.median(local), 3),
               "cluster_from_cache_s": round(reuse, 2), "cluster_shared_cold_s": round(shared_cold, 2),
               "other_machine_from_shared_s": round(other, 2), "repeats": args.repeats}
    print(f"{'measure':62} value")
    print(f"{'cold build, local (--workers 2), median':62} {results['local_s']:.2f} s")
    print(f"{'cold build, Dask cluster of 2 workers on loopback, median':62} {results['cluster_s']:.2f} s")
    print(f"{'cluster / local':62} {results['ratio']:.3f}")
    print(f"{'new output from the cluster-filled cache (0 rendered; encode)':62} {results['cluster_from_cache_s']:.2f} s")
    print(f"{'cold build on the cluster, workers writing a shared cache':62} "
          f"{results['cluster_shared_cold_s']:.2f} s")
    print(f"{'another machine from the shared cache (fetch, encode)':62} "
          f"{results['other_machine_from_shared_s']:.2f} s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
