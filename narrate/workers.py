"""Render worker processes: started (ahead of the work, on a cold build), lent to render_jobs, stopped.

Light on purpose: the CLI imports it to start a cold build's workers before it imports the build itself
(numpy, the plan, the audio and publishing stages), so the workers import their engines on another core
meanwhile. What a worker runs is narrate.render's, imported in the worker process only.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from narrate.errors import NarrateError
from narrate.fsutil import TMP_PREFIX
from narrate.limits import MAX_WORKERS, give_way, single_threaded_blas

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from narrate.model import Piece

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 120.0  # seconds a worker process may take to import and start


def _worker_entry(conn: Connection, targets: dict[str, str], cache_root: str, scratch: str) -> None:
    """What a worker process runs: narrate.render's loop, imported here, in the worker."""
    from narrate.render import worker_main

    worker_main(conn, targets, cache_root, scratch)


class Worker:
    """One render worker process, the pipe to it, and the piece it is rendering (`job`, due by `deadline`)."""

    def __init__(self, ctx: mp.context.SpawnContext, targets: dict[str, str], cache_root: Path, scratch: Path) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_entry, args=(child, targets, str(cache_root), str(scratch)),
                                   daemon=True)
        self.process.start()
        # An episode whose pieces are all rendered is encoded first (and the longest one's before the others').
        give_way(self.process.pid)
        child.close()
        self.job: Piece | None = None
        self.deadline = 0.0

    def wait_ready(self, seconds: float = STARTUP_TIMEOUT) -> None:
        """Wait for the worker to finish starting, so start-up never counts against a segment's timeout."""
        try:
            ready = self.conn.poll(seconds) and self.conn.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self.process.exitcode
            self.stop(kill=True)
            raise NarrateError(f"a render worker did not start within {seconds:g}s"
                               + (f" (it exited with code {code})" if code is not None else ""))

    def give(self, job: Piece, timeout: float) -> None:
        self.job, self.deadline = job, time.monotonic() + timeout
        self.conn.send(job)

    def stop(self, kill: bool = False) -> None:
        if self.conn.closed:
            return
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


SCRATCH_PREFIX = TMP_PREFIX + "render-"  # then the pid of the build that owns it


def remove_stale_scratch(folder: Path) -> int:
    """Remove the scratch folders of builds whose process has ended (killed ones); returns how many."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        pid, dash, _ = name[len(SCRATCH_PREFIX):].partition("-")
        if not (name.startswith(SCRATCH_PREFIX) and dash and pid.isdigit()) or _alive(int(pid)):
            continue
        shutil.rmtree(folder / name, ignore_errors=True)
        removed += 1
    if removed:
        log.debug("removed %d scratch folders of builds that were killed", removed)
    return removed


def new_scratch() -> Path:
    """A fresh scratch folder for this process in the system's temporary folder, once those of builds and
    workers that were killed (their process is gone) are removed."""
    remove_stale_scratch(Path(tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    """Whether a process `pid` exists (one of another user counts: its folder is not ours to judge)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@dataclass
class Prestarted:
    """Render workers started ahead of the work they will get: they import their engine's modules on another
    core while the build still reads and plans (see prestart_workers)."""

    workers: list[Worker]
    cache_root: Path
    scratch: Path

    def take(self, count: int) -> list[Worker]:
        """Up to `count` of the workers, handed over to the caller (who stops them); the others are stopped."""
        taken, rest, self.workers = self.workers[:count], self.workers[count:], []
        for worker in rest:
            worker.stop()
        return taken

    def close(self) -> None:
        """Stop every worker not taken and remove the scratch folder."""
        self.take(0)
        shutil.rmtree(self.scratch, ignore_errors=True)


def prestart_workers(cache_root: Path, targets: dict[str, str], count: int) -> Prestarted:
    """Start `count` render worker processes now, for a later render_jobs(prestarted=...) into `cache_root`.

    Starting returns at once: each worker imports on its own, at a lower priority than the build.
    """
    scratch = new_scratch()
    try:
        return Prestarted(spawn(targets, cache_root, scratch, min(max(count, 1), MAX_WORKERS)), cache_root, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def spawn(targets: dict[str, str], cache_root: Path, scratch: Path, count: int,
          started: list[Worker] | None = None) -> list[Worker]:
    """`started` and as many new worker processes as make `count`; on a failure to start one, every worker
    of the list is stopped."""
    single_threaded_blas()
    ctx = mp.get_context("spawn")
    pool = started or []
    try:
        pool += [Worker(ctx, targets, cache_root, scratch) for _ in range(count - len(pool))]
    except BaseException:
        for worker in pool:
            worker.stop(kill=True)
        raise
    return pool


def cold_start(cache_root: Path, count: int | None, *, force: bool = False, dry_run: bool = False,
               in_process: bool = False, cluster: str | None = None,
               shared: bool = False) -> contextlib.AbstractContextManager:
    """Workers started now, when a build will render everything: its cache is empty (or missing) or it is
    forced. A context manager giving a Prestarted, or None for any other build (it starts workers once
    its plan shows what is missing, so a rebuild with nothing to render starts none). Dry runs,
    in-process rendering and a cluster never start local workers here. With a shared cache (`shared`), an
    empty local cache is not cold: the pieces may be in the shared one.
    """
    wanted = not (dry_run or in_process or cluster) and (force or (not shared and _no_entries(cache_root)))
    if not wanted:
        return contextlib.nullcontext(None)
    return _started(cache_root, count or os.cpu_count() or 1)


@contextlib.contextmanager
def _started(cache_root: Path, count: int) -> Iterator[Prestarted]:
    """`count` workers for the engines narrate knows, stopped (and their scratch folder removed) at the end."""
    from narrate.engines import engine_targets

    early = prestart_workers(cache_root, engine_targets(), count)
    try:
        yield early
    finally:
        early.close()


def _no_entries(cache_root: Path) -> bool:
    """Whether a cache folder holds no rendered piece (or does not exist)."""
    from narrate.cache import Cache

    try:
        return next(Cache(cache_root).keys(), None) is None
    except OSError:
        return False
