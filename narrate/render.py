"""Stage: render pieces of text to audio in parallel worker processes (narrate.workers), into the cache.

Engines write into a scratch folder of the system's temporary folder, removed when rendering ends (or,
after a SIGKILL, by the next build);
each verified piece is then copied into the cache atomically. A cache folder that is read-only, full or
removed during the build stops it with one StorageError naming the folder, not one failure per piece.

Each worker process owns one engine instance per engine name (pyttsx3's espeak driver is one per
process and not thread-safe). Every file an engine writes is verified here: present, complete,
not silent, not implausibly short. Leading and trailing silence is trimmed so that a piece's audio
starts where its speech starts, which is what transcript cue times rely on.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import wave
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from narrate.cache import Cache, mono_wav
from narrate.engines import Engine, EngineError, load_engine
from narrate.errors import WRITE_ERRNOS, NarrateError, StorageError
from narrate.fsutil import TMP_PREFIX
from narrate.limits import MAX_TIMEOUT, MAX_WORKERS
from narrate.model import Piece, VoiceSpec
from narrate.workers import Prestarted, new_scratch, spawn

log = logging.getLogger(__name__)

SILENCE_PEAK = 0.01  # of full scale: quieter than this throughout counts as silence
TRIM_THRESHOLD = 0.02  # of full scale: where speech is taken to start and end
TRIM_MARGIN = 0.01  # seconds of audio kept before the first and after the last loud sample
MIN_SHARE_OF_ESTIMATE = 0.25  # shorter than this share of the words' expected length: truncated
CHECK_EVERY = 0.5  # seconds between checks, while waiting on workers, that the cache folder still exists


@dataclass(frozen=True)
class RenderFailure:
    """A piece that did not produce audio, and why."""

    job: Piece
    message: str

    def __str__(self) -> str:
        return f"{self.job.location}: {self.message}"


@dataclass(frozen=True)
class Trimmed:
    """An engine's audio, checked: mono 16-bit samples at `rate`, the silence at both ends trimmed."""

    rate: int
    samples: bytes

    def write(self, path: Path) -> None:
        """As a WAV file at `path`."""
        path.write_bytes(mono_wav(self.rate, self.samples))


def trimmed_audio(path: Path, text: str, voice: VoiceSpec) -> Trimmed:
    """Check an engine's WAV: present, complete, 16-bit, not silent, not implausibly short; its samples,
    mixed to mono, with the silence at both ends trimmed."""
    if not path.exists() or path.stat().st_size == 0:
        raise EngineError("the engine wrote no audio file")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise EngineError(f"the engine wrote an unreadable WAV file ({exc})") from None
    if width != 2:
        raise EngineError(f"the engine wrote {8 * width}-bit audio; 16-bit PCM is required")
    if frames == 0 or len(data) < frames * channels * width:
        raise EngineError(f"the engine's WAV file is empty or truncated ({len(data)} of "
                          f"{frames * channels * width} bytes)")
    samples = np.frombuffer(data, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype("<i2")
    level = np.abs(samples.astype(np.int32))
    if level.max(initial=0) < SILENCE_PEAK * 32767:
        raise EngineError("the engine returned silence")
    loud = np.flatnonzero(level >= TRIM_THRESHOLD * 32767)
    margin = int(TRIM_MARGIN * rate)
    start = max(int(loud[0]) - margin, 0)
    end = min(int(loud[-1]) + margin + 1, len(samples))
    words = len(text.split())
    expected = words * 60.0 / (voice.rate or 175)
    if (end - start) / rate < MIN_SHARE_OF_ESTIMATE * expected:
        raise EngineError(f"the audio is truncated: {(end - start) / rate:.2f}s of speech for {words} words "
                          f"(about {expected:.1f}s expected)")
    return Trimmed(rate, samples[start:end].tobytes())


def verify_and_trim(path: Path, text: str, voice: VoiceSpec) -> None:
    """Check an engine's WAV (trimmed_audio) and rewrite it mono 16-bit with the silence at both ends trimmed."""
    trimmed_audio(path, text, voice).write(path)


def _render_one(engines: dict[str, Engine], targets: dict[str, str], cache: Cache, job: Piece,
                scratch: Path) -> tuple[int, int]:
    engine = engines.get(job.voice.engine)
    if engine is None:
        engine = engines[job.voice.engine] = load_engine(job.voice.engine, targets)()
    # The engine writes into the build's scratch folder, not the cache: a cache folder removed or filled
    # meanwhile is then reported by Cache.put with its path, instead of failing inside the engine.
    # One file per process, emptied before each piece and never deleted until the folder goes: a file
    # system that is slow to create files after many deletions (ext4) is spared one of each per piece.
    tmp = scratch / f"{TMP_PREFIX}{os.getpid()}.wav"
    with _scratch_errors(scratch):
        tmp.write_bytes(b"")  # nothing of the previous piece can pass for this one's audio
        engine.render(job.spoken, job.voice, tmp)
        trimmed = trimmed_audio(tmp, job.spoken, job.voice)
    cached = cache.put_samples(job.key, trimmed.rate, trimmed.samples, job.spoken)
    return cached.rate, cached.frames


@contextlib.contextmanager
def _scratch_errors(scratch: Path) -> Iterator[None]:
    """A full (or read-only) scratch folder stops the build with one line naming it, as a full cache does."""
    try:
        yield
    except OSError as exc:
        named = os.fsdecode(exc.filename) if exc.filename is not None else None
        if exc.errno not in WRITE_ERRNOS or (named is not None and Path(named).parent != scratch):
            raise  # not the scratch folder's (an engine's model file that cannot be read, say)
        reason = exc.strerror or str(exc)
        raise StorageError(f"cannot write {scratch}: {reason} (the scratch folder for rendering, in the system's "
                           "temporary folder; TMPDIR chooses another)") from exc


def worker_main(conn: Connection, targets: dict[str, str], cache_root: str, scratch: str) -> None:
    # pyttsx3's espeak driver prints a line per file; a worker's stdout is not the user's terminal.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    engines: dict[str, Engine] = {}
    cache = Cache(Path(cache_root))
    conn.send(("ready",))  # imports are done: from now on the per-segment timeout is fair
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            rate, frames = _render_one(engines, targets, cache, job, Path(scratch))
            conn.send(("ok", job.key, rate, frames))
        except StorageError as exc:
            conn.send(("storage", job.key, exc.message))  # the whole build stops with this one line
        except (EngineError, NarrateError) as exc:
            conn.send(("error", job.key, str(exc.message if isinstance(exc, NarrateError) else exc)))
        except Exception as exc:  # noqa: BLE001 - reported with the segment's location by the parent
            conn.send(("error", job.key, f"{type(exc).__name__}: {exc}"))


def render_jobs(
    jobs: Sequence[Piece],
    cache: Cache,
    targets: dict[str, str],
    workers: int = 0,
    timeout: float = 120.0,
    on_done: Callable[[Piece], None] | None = None,
    in_process: bool = False,
    prestarted: Prestarted | None = None,
) -> list[RenderFailure]:
    """Render every piece's spoken text into the cache under its key; after the first failure no new one starts.

    Returns the failures. `prestarted` (from prestart_workers for this cache) lends its workers, which
    are used before any new one is started; its owner closes it.

    Raises StorageError (one line naming the folder) when the cache cannot be written or is removed
    meanwhile: that is no segment's fault, and every later segment would fail the same way.
    """
    if not jobs:
        return []
    cache.check_writable()
    timeout = timeout if 0 < timeout <= MAX_TIMEOUT else MAX_TIMEOUT  # nan and inf too: never an endless wait
    if prestarted is not None and (in_process or prestarted.cache_root != cache.root):
        prestarted = None
    # Engines write here; removed with whatever a killed worker left in it, so no temporary file outlives the build.
    # A build killed outright (SIGKILL) cannot remove its own: the next one removes it (its process is gone).
    scratch = new_scratch() if prestarted is None else prestarted.scratch
    try:
        if in_process:
            failures = _render_in_process(jobs, cache, targets, on_done, scratch)
        else:
            failures = _render_in_workers(jobs, cache, targets, workers, timeout, on_done, scratch, prestarted)
    finally:
        if prestarted is None:
            shutil.rmtree(scratch, ignore_errors=True)
    lost = [job for job in jobs if not cache.has(job.key)] if not failures else []
    if lost:
        if cache.gone():
            raise cache.removed_error()
        # Rendered, then gone: `rm -rf` of the cache raced the workers' writes and left the folder behind,
        # or entries were deleted by hand.
        raise StorageError(f"the cache folder {cache.root} was removed or emptied during the build: {len(lost)} "
                           f"rendered piece{'s' * (len(lost) != 1)} gone (first: {lost[0].location}); "
                           "run the build again")
    return failures


def _render_in_workers(jobs: Sequence[Piece], cache: Cache, targets: dict[str, str], workers: int,
                       timeout: float, on_done: Callable[[Piece], None] | None,
                       scratch: Path, prestarted: Prestarted | None = None) -> list[RenderFailure]:
    count = min(workers or os.cpu_count() or 1, len(jobs), MAX_WORKERS)
    pending = deque(jobs)
    failures: list[RenderFailure] = []
    pool = spawn(targets, cache.root, scratch, count, prestarted.take(count) if prestarted is not None else None)
    log.debug("rendering %d pieces with %d worker processes", len(jobs), count)
    try:
        for worker in pool:
            worker.wait_ready()
        for worker in pool:
            if pending:
                worker.give(pending.popleft(), timeout)
        while any(w.job for w in pool):
            busy = [w for w in pool if w.job]
            wait_for = min(min(w.deadline for w in busy) - time.monotonic(), CHECK_EVERY)
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=max(wait_for, 0))
            if cache.gone():
                raise cache.removed_error()
            for worker in busy:
                job = worker.job
                assert job is not None
                message, broken = None, False
                if worker.conn in ready or worker.conn.poll():
                    try:
                        reply = worker.conn.recv()
                    except EOFError:
                        reply = ("crash",)
                    if reply[0] == "ok":
                        worker.job = None
                        if on_done:
                            on_done(job)
                    elif reply[0] == "storage":
                        raise StorageError(reply[2])
                    elif reply[0] == "error":
                        message = reply[2]
                    else:
                        message, broken = "the engine crashed", True
                elif worker.process.sentinel in ready:
                    message, broken = f"the engine crashed (worker exit code {worker.process.exitcode})", True
                elif time.monotonic() >= worker.deadline:
                    message, broken = f"rendering timed out after {timeout:g}s", True
                if message is not None:
                    # Stop the build: nothing new starts, but pieces already under way may finish into the cache.
                    failures.append(RenderFailure(job, message))
                    worker.job = None
                    pending.clear()
                    if broken:
                        worker.stop(kill=True)
                        pool.remove(worker)
                elif worker.job is None and pending:
                    worker.give(pending.popleft(), timeout)
    finally:
        for worker in pool:
            worker.stop(kill=worker.job is not None)
    return failures


def _render_in_process(jobs: Sequence[Piece], cache: Cache, targets: dict[str, str],
                       on_done: Callable[[Piece], None] | None, scratch: Path) -> list[RenderFailure]:
    engines: dict[str, Engine] = {}
    for job in jobs:
        try:
            _render_one(engines, targets, cache, job, scratch)
        except StorageError:
            raise
        except (EngineError, NarrateError) as exc:
            return [RenderFailure(job, str(exc.message if isinstance(exc, NarrateError) else exc))]
        if on_done:
            on_done(job)
    return []
