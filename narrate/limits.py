"""Bounds on the numbers a user can give (CLI options, render settings), in one place for every caller."""
from __future__ import annotations

import contextlib
import os

MAX_TIMEOUT = 3600.0  # seconds a piece may take to render, at most: an hour (an "infinite" wait overflows)
MAX_WORKERS = 64  # render processes at most, from the CLI or render.workers (0 there means one per core)
MIN_RATE, MAX_RATE = 50, 500  # words per minute a voice may speak at (as show.yaml allows)
LOUDNESS = (-30.0, -10.0)  # LUFS an integrated loudness target may be (as show.yaml allows)
TRUE_PEAK = (-9.0, 0.0)  # dBTP a true-peak ceiling may be (as show.yaml allows)
MAX_EPISODE_NUMBER = 2**31 - 1  # podcast apps keep itunes:episode in a 32-bit integer
#: Niceness added to the work a build does off its critical path (render workers; the ffmpeg runs of
#: every episode but the longest), so the encode that ends the build goes first on a busy machine.
BACKGROUND_NICENESS = 5


def give_way(pid: int | None) -> None:
    """Lower a child process's priority by BACKGROUND_NICENESS (POSIX; a refused change is harmless)."""
    if pid is not None and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICENESS)


def single_threaded_blas() -> None:
    """Keep numpy's OpenBLAS to one thread in this process and the processes it starts, unless the user chose.

    narrate does no linear algebra: OpenBLAS's pool of one thread per core would only add to every
    process's start-up (render workers import numpy too) and spin beside the engines and ffmpeg.
    Effective in a process that has not imported numpy yet; children inherit the environment.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
