"""A generated archive of 1,000 short episodes: does everything that is not rendering grow linearly?

A standalone script, not part of the test suite. Everything happens in a temporary folder. The archive
is spoken by the test suite's fake engine (tests/fake_engine.py: a tone as long as the words), so the
one cold build stays quick; what is measured after it does not depend on the engine.

  1. one cold build of the largest archive (the CLI), for reference;
  2. for each size (default 250, 500, 1000 episodes; the smaller ones are the first N episodes of the
     archive, with their built files and build record, rebuilt once so their feed is their own):
       - no-op rebuild, the CLI (`narrate -q build`, Python start-up included);
       - `narrate check` of the scripts, the CLI;
       - the plan, in-process (narrate.build.build with dry_run), and its peak memory: the largest RSS of
         a process that only plans (`narrate build --dry-run`, wait4's ru_maxrss) and the Python heap
         at its peak (tracemalloc) in-process;
       - the feed, in-process (narrate.feed.build_feed from the build record);
  3. growth: time(1000) / time(500) for each (2.0 is linear; fixed costs such as start-up pull it below).

Prints one table (measure | values by size | growth | goal | ok?) and, as its last line, the results as
JSON. `--profile WHAT` (noop, check, plan or feed) prints the top of a cProfile of that measure at the
largest size instead.

    python benchmarks/bench_archive.py [--sizes 250,500,1000] [--repeats 3] [--keep] [--profile noop]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Runs the CLI with the test suite's fake engine registered (render workers import it from ROOT).
RUNNER = ("import sys; from narrate.engines import register_engine; "
          "register_engine('fake', 'tests.fake_engine:FakeEngine'); from narrate.cli import main; "
          "sys.argv[0] = 'narrate'; main()")
TODAY = dt.date(2030, 1, 1)
SHOW = """\
title: A generated archive
author: Bench Author
description: One thousand short documents, read aloud.
language: en
category: History
explicit: false
base_url: https://example.org/archive/
voices:
  narrator: {engine: fake, voice: low, rate: 175}
  document: {engine: fake, voice: high, rate: 175}
audio:
  bitrate: 32k
  sample_rate: 22050
  pauses: {sentence: 0.1, clause: 0.05, segment: 0.1, chapter: 0.2, document: 0.1}
"""
WORDS = ("archive", "letter", "minister", "report", "council", "treaty", "harvest", "border", "station",
         "river", "winter", "market", "school", "railway", "museum", "signal")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def episode_text(number: int) -> str:
    """A short episode: two chapters, narration and a quoted document, words that differ per episode."""
    w = [WORDS[(number * 7 + i) % len(WORDS)] for i in range(6)]
    day = dt.date(2020, 1, 1) + dt.timedelta(days=number)
    return (f"---\ntitle: \"Document {number}\"\nepisode: {number}\ndate: {day.isoformat()}\n"
            f"summary: The {w[0]} of document {number}.\ndocument:\n  title: The {w[1]} file {number}\n"
            f"  authors: [Clerk {number % 17}]\n---\n\n"
            f"# Context\n\nDocument {number} concerns the {w[2]} and the {w[3]}.\n\n"
            f"> The {w[4]} met on day {number}.\n\n# Reading\n\nIt ends with the {w[5]}.\n")


def generate(scripts: Path, count: int) -> None:
    scripts.mkdir(parents=True)
    (scripts / "show.yaml").write_text(SHOW, encoding="utf-8")
    for n in range(1, count + 1):
        (scripts / f"{n:04d}-document-{n}.md").write_text(episode_text(n), encoding="utf-8")


def cli(args: list[str], cwd: Path, check: bool = True) -> tuple[float, int, float]:
    """Run narrate ARGS with the fake engine; (wall seconds, ru_maxrss in bytes, CPU seconds, children's too).

    CPU seconds do not depend on what else the machine runs, wall seconds do: both are reported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if check and proc.returncode != 0:
        raise RuntimeError(f"narrate {' '.join(args)} failed ({proc.returncode}):\n{out.decode()[-3000:]}")
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def build_args(scripts: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["-q", "build", str(scripts), "-o", str(out), "--cache-dir", str(cache), *extra]


def subset(full: Path, dest: Path, count: int) -> Path:
    """The first `count` episodes of the archive in `dest`: scripts, GUIDs, built files and build record."""
    from narrate.publish import FEED_NAME, published_files
    from narrate.record import RECORD_NAME, load_record

    scripts, out = dest / "scripts", dest / "out"
    scripts.mkdir(parents=True)
    out.mkdir()
    shutil.copy(full / "scripts" / "show.yaml", scripts)
    for n in range(1, count + 1):
        name = f"{n:04d}-document-{n}.md"
        shutil.copy(full / "scripts" / name, scripts / name)
    guids = json.loads((full / "scripts" / "guids.json").read_text())
    guids["episodes"] = {k: v for k, v in guids["episodes"].items() if int(k) <= count}
    (scripts / "guids.json").write_text(json.dumps(guids, indent=1) + "\n")
    record = json.loads((full / "out" / RECORD_NAME).read_text())
    records = load_record(full / "out")
    keep = {slug for slug, rec in records.items() if rec.number <= count}
    record["episodes"] = {slug: entry for slug, entry in record["episodes"].items() if slug in keep}
    (out / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n")
    for slug in keep:
        for name in published_files(records[slug]):
            os.link(full / "out" / name, out / name)
    for path in (full / "out").iterdir():
        if path.name.startswith("cover.") or path.name == FEED_NAME:
            shutil.copy(path, out / path.name)
    return dest


@contextlib.contextmanager
def working_in(folder: Path) -> Iterator[None]:
    """Run in `folder` (contextlib.chdir from Python 3.11)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def in_process_plan(dest: Path) -> float:
    from narrate.build import BuildOptions, build

    start = time.perf_counter()
    with working_in(dest):  # as the CLI runs: the record names scripts relative to the working folder
        build(dest / "scripts", BuildOptions(output=dest / "out", cache_dir=dest.parent / "cache", dry_run=True))
    return time.perf_counter() - start


def in_process_feed(dest: Path) -> float:
    """The feed from the build record: the publish phase's last step, on its own."""
    from narrate.feed import FeedItem, build_feed
    from narrate.record import GuidRegistry, load_record
    from narrate.script import load_project

    show = load_project(dest / "scripts").show
    guids = GuidRegistry(dest / "scripts")
    records = load_record(dest / "out")
    start = time.perf_counter()
    items = [FeedItem(r, guids.get(r.number) or "", show.base_url + r.file,
                      *(show.base_url + r.sidecars[k] for k in ("chapters", "vtt", "srt")))
             for r in records.values()]
    build_feed(show, items, cover_url=show.base_url + "cover.png", feed_url=show.base_url + "feed.xml")
    return time.perf_counter() - start


def plan_heap_peak(dest: Path) -> int:
    """Peak Python heap (bytes, tracemalloc) of planning in-process."""
    tracemalloc.start()
    try:
        in_process_plan(dest)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def register_fake() -> None:
    from narrate.engines import register_engine

    register_engine("fake", "tests.fake_engine:FakeEngine")


def assert_noop(dest: Path) -> None:
    """The state measured is a built archive: planning it finds nothing to do."""
    from narrate.build import BuildOptions, build

    with working_in(dest):
        report = build(dest / "scripts", BuildOptions(output=dest / "out", cache_dir=dest.parent / "cache",
                                                      dry_run=True))
    busy = [e.describe() for e in report.plan if e.action != "unchanged"]
    if busy:
        raise RuntimeError(f"{dest}: not a no-op ({len(busy)} episodes to do), e.g. {busy[0]}")


def measure(dest: Path, repeats: int) -> dict:
    scripts, out, cache = dest / "scripts", dest / "out", dest.parent / "cache"
    cli(build_args(scripts, out, cache), dest)  # settles what a new narrate keys differently, if anything
    assert_noop(dest)
    noop = [cli(build_args(scripts, out, cache), dest) for _ in range(repeats)]
    check = [cli(["-q", "check", str(scripts)], dest) for _ in range(repeats)]
    plan = [in_process_plan(dest) for _ in range(repeats)]
    feed = [in_process_feed(dest) for _ in range(repeats)]
    _, plan_rss, _ = cli(build_args(scripts, out, cache, "--dry-run"), dest)
    return {"noop_s": statistics.median(r[0] for r in noop), "noop_cpu_s": statistics.median(r[2] for r in noop),
            "check_s": statistics.median(r[0] for r in check),
            "check_cpu_s": statistics.median(r[2] for r in check),
            "plan_s": statistics.median(plan), "feed_s": statistics.median(feed),
            "plan_rss_mb": plan_rss / 1e6, "plan_heap_mb": plan_heap_peak(dest) / 1e6,
            "files": sum(1 for _ in out.iterdir())}


def profile(dest: Path, what: str) -> None:
    scripts, out, cache = dest / "scripts", dest / "out", dest.parent / "cache"
    from narrate.build import BuildOptions, build
    from narrate.check import check_scripts

    runs = {
        "noop": lambda: build(scripts, BuildOptions(output=out, cache_dir=cache, today=TODAY)),
        "check": lambda: check_scripts(scripts),
        "plan": lambda: in_process_plan(dest),
        "feed": lambda: in_process_feed(dest),
    }
    profiler = cProfile.Profile()
    with working_in(dest):
        profiler.runcall(runs[what])
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="250,500,1000", help="archive sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--archive", type=Path, default=None,
                        help="reuse an archive a previous --keep run built (its folder)")
    parser.add_argument("--profile", choices=("noop", "check", "plan", "feed"), default=None)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    register_fake()
    tmp = args.archive or Path(tempfile.mkdtemp(prefix="narrate-archive-"))
    log(f"working in {tmp}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    results: dict = {"sizes": sizes, "repeats": args.repeats, "cores": os.cpu_count(), "by_size": {}}
    full = tmp / f"archive-{sizes[-1]}"
    try:
        if not (full / "out").is_dir():
            generate(full / "scripts", sizes[-1])
            log(f"cold build of {sizes[-1]} episodes (fake engine)")
            results["cold_s"], _, _ = cli(build_args(full / "scripts", full / "out", tmp / "cache"), full)
            log(f"cold build: {results['cold_s']:.1f} s")
        for n in sizes:
            dest = tmp / f"size-{n}"
            if not dest.is_dir():
                subset(full, dest, n)
                cli(build_args(dest / "scripts", dest / "out", tmp / "cache"), dest)  # its own feed
            if args.profile:
                if n == sizes[-1]:
                    profile(dest, args.profile)
                continue
            log(f"{n} episodes: measuring")
            results["by_size"][n] = measure(dest, args.repeats)
    finally:
        if args.keep or args.archive:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.profile:
        return
    by = results["by_size"]
    big, half = sizes[-1], next((s for s in sizes if 2 * s == sizes[-1]), None)
    rows = []
    goals = {"noop_s": ("no-op rebuild, CLI, wall s", 5.0), "noop_cpu_s": ("no-op rebuild, CLI, CPU s", 5.0),
             "check_s": ("narrate check, CLI, wall s", 10.0), "check_cpu_s": ("narrate check, CLI, CPU s", 10.0),
             "plan_s": ("plan, in-process, wall s", None), "feed_s": ("feed, in-process, wall s", None),
             "plan_rss_mb": ("planner peak RSS (build --dry-run), MB", 300.0),
             "plan_heap_mb": ("planner peak Python heap (tracemalloc), MB", None)}
    for key, (label, goal) in goals.items():
        values = " / ".join(f"{by[n][key]:.2f}" for n in sizes)
        growth = by[big][key] / by[half][key] if half and by[half][key] else float("nan")
        results.setdefault("growth", {})[key] = growth
        ok = "" if goal is None else ("yes" if by[big][key] < goal else "NO")
        rows.append((label, values, f"{growth:.2f}", f"< {goal:g} at {big}" if goal else "", ok))
    header = ("measure", "by size " + " / ".join(map(str, sizes)), f"{big}/{half}", "goal", "ok?")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if "cold_s" in results:
        print(f"\n(cold build of {big} episodes with the fake engine: {results['cold_s']:.0f} s; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f})")
    print(json.dumps(results, default=lambda o: round(o, 4) if isinstance(o, float) else str(o)))


if __name__ == "__main__":
    main()
