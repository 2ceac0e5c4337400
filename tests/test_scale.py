"""Large archives stay linear: the file-system work of a no-op rebuild and of `check` grows by the same
amount per episode, and no file is read again per episode.

Counted, not timed (timings live in benchmarks/bench_archive.py): stat calls, files opened (by path) and
folder entries listed, for the same show at 2, 4 and 6 episodes. Listing the output folder once per
episode (the cost of finding a superseded file's mode for every unchanged sidecar, as publish once did)
grows with the square of the episode count and fails here.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from narrate.build import BuildOptions, build
from narrate.check import check_scripts
from tests.conftest import SHOW_YAML, write_show

EPISODE = """\
---
title: "Episode {n}"
episode: {n}
date: 2026-01-{n:02d}
summary: Summary {n}.
---

# First

Words of episode {n}.

> A quote in episode {n}.

# Second

The end of {n}.
"""
SIZES = (2, 4, 6)
_counting: list[Counter] = []


def _audit(event: str, args: tuple) -> None:
    if _counting and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _counting[-1][("open", os.fsdecode(args[0]))] += 1


sys.addaudithook(_audit)


class _Listing:
    """os.scandir's iterator, counting the entries it yields."""

    def __init__(self, inner: object, counts: Counter) -> None:
        self.inner, self.counts = inner, counts

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()

    def close(self) -> None:
        self.inner.close()

    def __iter__(self) -> Iterator[os.DirEntry]:
        for entry in self.inner:
            self.counts["listed"] += 1
            yield entry


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Count stat calls, folder entries listed and opens (by path) inside the block."""
    counts: Counter = Counter()
    real_stat, real_lstat, real_scandir = os.stat, os.lstat, os.scandir

    def wrap(real: Callable, key: str) -> Callable:
        def counting(*args: object, **kwargs: object) -> object:
            counts[key] += 1
            return real(*args, **kwargs)
        return counting

    with monkeypatch.context() as patch:
        patch.setattr(os, "stat", wrap(real_stat, "stat"))
        patch.setattr(os, "lstat", wrap(real_lstat, "stat"))
        patch.setattr(os, "scandir", lambda *a, **k: _Listing(real_scandir(*a, **k), counts))
        _counting.append(counts)
        try:
            yield counts
        finally:
            _counting.pop()


def totals(counts: Counter) -> dict[str, int]:
    opens = sum(n for key, n in counts.items() if isinstance(key, tuple))
    return {"stat": counts["stat"], "listed": counts["listed"], "open": opens}


def _options(out: Path, cache: Path, **kw: object) -> BuildOptions:
    return BuildOptions(output=out, cache_dir=cache, in_process=True, today=dt.date(2026, 6, 1), **kw)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The same show at 2, 4 and 6 episodes, each built: the largest built, the others pruned from copies."""
    root = tmp_path_factory.mktemp("scale")
    largest = root / f"n{SIZES[-1]}"
    write_show(largest / "scripts", SHOW_YAML,
               {f"{n:03d}-ep.md": EPISODE.format(n=n) for n in range(1, SIZES[-1] + 1)})
    build(largest / "scripts", _options(largest / "out", root / "cache"))
    folders = {SIZES[-1]: largest}
    for size in SIZES[:-1]:
        folder = root / f"n{size}"
        shutil.copytree(largest / "scripts", folder / "scripts")
        shutil.copytree(largest / "out", folder / "out")
        for n in range(size + 1, SIZES[-1] + 1):
            (folder / "scripts" / f"{n:03d}-ep.md").unlink()
        build(folder / "scripts", _options(folder / "out", root / "cache", prune=True))
        folders[size] = folder
    return folders


def _noop(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Counter:
    with counted(monkeypatch) as counts:
        report = build(folder / "scripts", _options(folder / "out", folder.parent / "cache"))
    assert {e.action for e in report.plan} == {"unchanged"} and report.written == ()
    return counts


def _assert_linear(by_size: dict[int, dict[str, int]]) -> None:
    small, middle, large = (by_size[n] for n in SIZES)
    for key in small:
        first, second = middle[key] - small[key], large[key] - middle[key]
        # The same number of episodes added twice: the same work added twice (a little slack for rounding).
        assert second <= first + 2, (key, by_size)


def test_noop_rebuild_does_the_same_file_work_per_episode(archives: dict[int, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    counts = {n: _noop(archives[n], monkeypatch) for n in SIZES}
    by_size = {n: totals(c) for n, c in counts.items()}
    _assert_linear(by_size)
    # Per episode, a handful of each: its script, its cached segments, its four published files (stat), and
    # those files again in each of the few listings of the whole output folder (temporaries, superseded files);
    # the web page adds its own compare-before-write (42 stats an episode measured with the site; the bound was 40 before it).
    per_episode = {key: (by_size[SIZES[-1]][key] - by_size[SIZES[0]][key]) / (SIZES[-1] - SIZES[0])
                   for key in by_size[SIZES[0]]}
    assert per_episode["listed"] <= 16 and per_episode["stat"] <= 48 and per_episode["open"] <= 12, per_episode
    # Nothing is read once per episode: the record, the GUIDs, the feed and each script at most twice.
    opened = Counter({path: n for (kind, path), n in
                      ((key, n) for key, n in counts[SIZES[-1]].items() if isinstance(key, tuple))})
    assert max(opened.values()) <= 2, opened.most_common(3)


def test_check_does_the_same_file_work_per_episode(archives: dict[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    by_size = {}
    for n in SIZES:
        with counted(monkeypatch) as counts:
            assert len(check_scripts(archives[n] / "scripts")) == n
        by_size[n] = totals(counts)
    _assert_linear(by_size)
