"""Stage render, on a Dask cluster: the pieces a build needs, rendered by `dask worker` processes anywhere.

Imported only when a build or `narrate doctor` is given a cluster (`--cluster` or `render.cluster`), so
a local build needs no Dask. Dask does the scheduling, the transport and the retries: one task per
piece, submitted with `Client.submit`, collected with `as_completed`.

Before any piece is sent, every worker reports what shapes the audio it would make (narrate's version,
each engine's version, each voice's fingerprint); a worker that differs from this machine stops the
build with one line per worker and what differs (exit 2), since its pieces would not be the audio their
cache keys promise.

A worker renders a piece and checks it as a local worker does (narrate.render.verify_and_trim) and
returns the WAV's bytes; this process stores each in its own cache as it arrives, so the cache is
content-addressed and checksummed whatever the topology, and a piece rendered anywhere is reused by
every later build, local or not. A worker that dies has its pieces rendered by another (Dask reschedules
them); a cluster that goes away stops the build with one line, and what arrived before stays cached.
"""
from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narrate.cache import Cache
from narrate.engines import Engine, EngineError, load_engine
from narrate.errors import NarrateError, ProblemsError, UserError
from narrate.fsutil import TMP_PREFIX
from narrate.limits import MAX_TIMEOUT
from narrate.plan import EngineInfo, Piece
from narrate.render import RenderFailure, verify_and_trim
from narrate.workers import new_scratch

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'narrate[dask]'"
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler
WORKERS_TIMEOUT = 30.0  # seconds to wait for a first worker to join a cluster that has none
#: Dask's own packages that must match between this machine and the workers (Dask's own required list), and
#: Python's minor version: the tasks and their results are pickled.
DASK_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")
RETRIES = 2  # more tries of a piece whose task raised (a worker that dies is rescheduled by Dask itself)
POLL = 0.05  # seconds between looks at the finished tasks, the cache folder and the connection

# One engine per worker process and one render at a time: pyttsx3's espeak driver is process-wide and not
# thread-safe, and a worker may run several tasks at once (`dask worker --nthreads N`).
_LOCK = threading.Lock()
_ENGINES: dict[str, Engine] = {}
_SCRATCH: list[Path] = []
_VERSIONS: dict[str, str] = {}  # engine name -> its version, once per process
_SHARED: dict[str, Any] = {}  # a shared cache's URL -> its narrate.shared.SharedCache, once per process


def _distributed() -> Any:
    """The `distributed` module, or one line saying how to install it (exit 2)."""
    try:
        import distributed
    except ImportError:
        raise UserError(f"building on a Dask cluster needs Dask: {INSTALL_HINT}") from None
    # Dask logs its own lines (a worker lost, reconnecting) on stderr as it is imported; they are shown with -v.
    # Otherwise narrate's one-line errors say what happened.
    if not logging.getLogger("narrate").isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    return distributed


# -- on the workers ------------------------------------------------------------------------------


def _engine(name: str, targets: dict[str, str]) -> Engine:
    """This worker process's one instance of engine `name` (call with _LOCK held)."""
    engine = _ENGINES.get(name)
    if engine is None:
        engine = _ENGINES[name] = load_engine(name, targets)()
    return engine


def _scratch() -> Path:
    """This worker process's scratch folder; those of killed workers and builds are removed first."""
    if not _SCRATCH:
        _SCRATCH.append(new_scratch())
    _SCRATCH[0].mkdir(exist_ok=True)
    return _SCRATCH[0]


def worker_facts(targets: dict[str, str], engines: Sequence[str], voices: Sequence[tuple[str, str]]) -> dict:
    """What shapes the audio this process would render: narrate's, each engine's and each voice's version.

    Run on every worker (Client.run) before any work is sent, and here, and compared.
    """
    import narrate

    facts: dict[str, Any] = {"narrate": narrate.__version__, "python": platform.python_version(),
                             "packages": _packages(), "engines": {}, "voices": {}}
    with _LOCK:
        for name in engines:
            try:
                facts["engines"][name] = type(_engine(name, targets)).version()
            except Exception as exc:  # noqa: BLE001 - an engine the worker cannot start is a finding
                facts["engines"][name] = f"unavailable ({exc})"
        for name, voice in voices:
            try:
                facts["voices"][f"{name} {voice}"] = _engine(name, targets).voice_version(voice)
            except Exception as exc:  # noqa: BLE001
                facts["voices"][f"{name} {voice}"] = f"unavailable ({exc})"
    try:
        from narrate.tools import ffmpeg_tool

        facts["ffmpeg"] = ffmpeg_tool().describe()
    except Exception as exc:  # noqa: BLE001 - the ffmpeg is reported (doctor), not required: encoding is local
        facts["ffmpeg"] = f"unavailable ({exc})"
    return facts


def _worker_address() -> str:
    """This Dask worker's address (for messages), or `?` outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "?"


def _packages() -> dict[str, str]:
    """The versions of Dask's own packages here, and Python's major.minor."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": ".".join(platform.python_version_tuple()[:2])}
    for name in DASK_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def render_remote(piece: Piece, targets: dict[str, str], versions: tuple[str, str],
                  shared_url: str | None = None) -> tuple[str, bytes | str]:
    """A task: render one piece on this worker; ("ok", WAV bytes) or ("error", why) for the engine's failure.

    `shared_url`: a shared cache (narrate.shared) the worker also writes the piece into; ("stored", WAV bytes)
    once it has. A worker that cannot write there says so in its log and returns ("ok", ...): the building
    machine then stores the piece there itself.

    `versions`: narrate's and the piece's engine's on the building machine. A worker that joined after the
    check (cluster_session) and runs others refuses the piece rather than render audio its key does not
    stand for. An engine's failure is the piece's (retrying elsewhere would fail the same way): it is
    returned, not raised, so Dask retries only what is the machine's.
    """
    import narrate

    with _LOCK:
        engine = _engine(piece.voice.engine, targets)
        if piece.voice.engine not in _VERSIONS:
            _VERSIONS[piece.voice.engine] = type(engine).version()
        here = (narrate.__version__, _VERSIONS[piece.voice.engine])
        if here != versions:
            return "error", (f"worker {_worker_address()} joined the Dask cluster after the versions were checked "
                             f"and runs narrate {here[0]} with engine {piece.voice.engine} {here[1]} (here "
                             f"{versions[0]}, {versions[1]})")
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".wav", dir=_scratch())
        os.close(fd)
        tmp = Path(name)
        try:
            engine.render(piece.spoken, piece.voice, tmp)
            verify_and_trim(tmp, piece.spoken, piece.voice)
            data = tmp.read_bytes()
        except (EngineError, NarrateError) as exc:
            return "error", str(exc.message if isinstance(exc, NarrateError) else exc)
        finally:
            tmp.unlink(missing_ok=True)
    if shared_url is None:
        return "ok", data
    from narrate.shared import SharedCache

    try:
        if shared_url not in _SHARED:
            _SHARED[shared_url] = SharedCache(shared_url)
        _SHARED[shared_url].store(piece.key, data, piece.spoken)
    except NarrateError as exc:
        log.warning("%s", exc.message)
        return "ok", data
    return "stored", data


# -- on the machine that builds ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerReport:
    """One worker's facts and how they differ from this machine's."""

    address: str
    facts: dict
    differences: tuple[str, ...]


def expected_facts(engines: EngineInfo, voices: Iterable[tuple[str, str]]) -> dict:
    """This machine's facts for the engines and voices a build uses (the versions its cache keys hold)."""
    import narrate
    from narrate.model import VoiceSpec

    voices = sorted(set(voices))
    return {"narrate": narrate.__version__, "packages": _packages(),
            "engines": {name: engines.version(name) for name in sorted({name for name, _ in voices})},
            "voices": {f"{name} {voice}": engines.voice_version(VoiceSpec(name, voice)) for name, voice in voices}}


def differences(facts: dict, expected: dict) -> tuple[str, ...]:
    """What a worker's facts say that this machine's do not, e.g. `narrate 0.2.0 (here 0.1.0)`."""
    found: list[str] = []
    if facts.get("narrate") != expected["narrate"]:
        found.append(f"narrate {facts.get('narrate')} (here {expected['narrate']})")
    for kind in ("engines", "voices", "packages"):
        theirs = facts.get(kind, {})
        for name, value in expected[kind].items():
            if theirs.get(name) != value:
                what = {"engines": "engine ", "voices": "voice ", "packages": ""}[kind] + name
                found.append(f"{what} {theirs.get(name) or 'fingerprint empty'} (here {value or 'empty'})")
    return tuple(found)


def connect(address: str) -> Any:
    """A Dask Client of the scheduler at `address`; one line when it cannot be reached (exit 1)."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise NarrateError(f"cannot reach the Dask scheduler at {address}: {exc or type(exc).__name__}") from None


def survey(client: Any, address: str, targets: dict[str, str], expected: dict,
           engines: Sequence[str] | None = None) -> list[WorkerReport]:
    """Every worker's facts (Client.run), compared with `expected`; the engines to ask about default to its own."""
    names = list(engines if engines is not None else expected["engines"])
    voices = [tuple(key.split(" ", 1)) for key in expected["voices"]]
    try:
        replies = client.run(worker_facts, targets, names, voices, on_error="return")
    except (OSError, TimeoutError) as exc:
        raise NarrateError(f"lost the Dask scheduler at {address}: {exc or type(exc).__name__}") from None
    reports = []
    for worker, facts in sorted(replies.items()):
        if isinstance(facts, BaseException):
            reports.append(WorkerReport(worker, {}, (f"cannot report its versions: {type(facts).__name__}: {facts}",)))
        else:
            reports.append(WorkerReport(worker, facts, differences(facts, expected)))
    return reports


class ClusterRenderer:
    """Renders pieces on the cluster a Client is connected to, into this machine's cache."""

    def __init__(self, client: Any, address: str, targets: dict[str, str], expected: dict) -> None:
        self.client, self.address, self.targets, self.expected = client, address, targets, expected
        #: The keys of the pieces the workers wrote into the shared cache themselves (render's `shared`).
        self.stored: set[str] = set()

    def render(self, jobs: Sequence[Piece], cache: Cache, timeout: float = 120.0,
               on_done: Callable[[Piece], None] | None = None, shared: Any = None) -> list[RenderFailure]:
        """Render every piece into the cache, storing each as it arrives; after the first failure none starts.

        `timeout`: a build where no piece has arrived for that long (a hung engine on every busy worker,
        since a worker takes its next piece only when one ends) stops with a failure of a piece under way.
        `shared`: a narrate.shared.SharedCache the workers write each piece into as well (self.stored).
        """
        if not jobs:
            return []
        distributed = _distributed()
        cache.check_writable()
        timeout = timeout if 0 < timeout <= MAX_TIMEOUT else MAX_TIMEOUT
        narrate_version, engines = self.expected["narrate"], self.expected["engines"]
        shared_url = shared.url if shared is not None else None
        futures = {self.client.submit(render_remote, job, self.targets, (narrate_version, engines[job.voice.engine]),
                                      shared_url, key=f"narrate-piece-{job.key}", retries=RETRIES): job
                   for job in jobs}
        log.debug("rendering %d pieces on the Dask cluster at %s", len(jobs), self.address)
        scratch = new_scratch()
        failures: list[RenderFailure] = []
        done = distributed.as_completed(list(futures), loop=self.client.loop, with_results=False)
        # The workers' engines were started by the survey (worker_facts): the first piece has no start-up to wait for.
        deadline = time.monotonic() + timeout
        try:
            while not done.is_empty():
                batch = done.next_batch(block=False)
                if not batch:
                    self._check(cache, futures, deadline, timeout, failures)
                    if failures:
                        break
                    time.sleep(POLL)
                    continue
                for future in batch:
                    job = futures.pop(future)
                    failure = self._store(future, job, cache, scratch, timeout)
                    if failure is not None:
                        failures.append(failure)
                    elif on_done:
                        on_done(job)
                if failures:
                    # As in a local build, nothing new starts; what has already arrived goes into the cache.
                    for future in done.next_batch(block=False):
                        job = futures.pop(future)
                        if future.status == "finished" and self._store(future, job, cache, scratch, timeout) is None:
                            if on_done:
                                on_done(job)
                    break
                deadline = time.monotonic() + timeout
        finally:
            if futures:
                with contextlib.suppress(Exception):  # a scheduler already gone has nothing to cancel
                    self.client.cancel(list(futures))
            shutil.rmtree(scratch, ignore_errors=True)
        return failures

    def _check(self, cache: Cache, futures: dict[Any, Piece], deadline: float, timeout: float,
               failures: list[RenderFailure]) -> None:
        """Between results: the cache folder is still there, the scheduler still connected, a piece arrived lately."""
        if cache.gone():
            raise cache.removed_error()
        if self.client.status not in ("running", "connecting"):
            raise self.lost()
        if time.monotonic() > deadline:
            job = _under_way(self.client, futures) or next(iter(futures.values()))
            failures.append(RenderFailure(job, f"rendering timed out after {timeout:g}s (on the Dask cluster "
                                               f"at {self.address}: no piece arrived for that long)"))

    def _store(self, future: Any, job: Piece, cache: Cache, scratch: Path, timeout: float) -> RenderFailure | None:
        """Put one finished task's audio into the cache; its failure, if it failed."""
        try:
            # Finished, but its worker may die before the bytes are fetched: then Dask renders it again.
            status, payload = future.result(timeout=timeout)
        except TimeoutError:
            return RenderFailure(job, f"rendering timed out after {timeout:g}s (on the Dask cluster at "
                                      f"{self.address}: its worker was lost and no other rendered it again)")
        except Exception as exc:  # noqa: BLE001 - a task that raised after its retries: the piece's failure
            # Only a task that raised (its status "error": render_remote's own crash, or KilledWorker after the
            # retries) is the piece's failure. Anything else is the cluster going away: the client cancels every
            # task when it loses the scheduler, and a result fetched just as the scheduler dies fails in transit,
            # both while the client's status may still say "running" or "connecting".
            if future.status != "error" or self.client.status not in ("running", "connecting"):
                raise self.lost() from None
            return RenderFailure(job, f"failed on the Dask cluster: {type(exc).__name__}: {exc}")
        finally:
            future.release()
        if status not in ("ok", "stored"):
            return RenderFailure(job, str(payload))
        assert isinstance(payload, bytes)
        if status == "stored":
            self.stored.add(job.key)
        tmp = scratch / f"{job.key}.wav"
        tmp.write_bytes(payload)
        try:
            cache.put(job.key, tmp, job.spoken)
        finally:
            tmp.unlink(missing_ok=True)
        return None

    def lost(self) -> NarrateError:
        """The one line for a cluster that went away during the build."""
        return NarrateError(f"lost the Dask cluster at {self.address} during the build; the pieces rendered so "
                            "far are cached, and the next build (local or on a cluster) renders only the rest")


def _under_way(client: Any, futures: dict[Any, Piece]) -> Piece | None:
    """A piece some worker is rendering now (for a timeout's message), if the scheduler says.

    A worker may hold more than the piece it runs; it runs them in the order they were submitted, so the
    first submitted of those the scheduler lists is one being rendered.
    """
    with contextlib.suppress(Exception):
        processing = {key for keys in client.processing().values() for key in keys}
        for future, job in futures.items():  # in submission order
            if future.key in processing:
                return job
    return None


@contextlib.contextmanager
def cluster_session(address: str, jobs: Sequence[Piece], engines: EngineInfo,
                    targets: dict[str, str]) -> Iterator[ClusterRenderer]:
    """Connect to the cluster, check every worker against this machine, and render there; closed after.

    Raises ProblemsError (exit 2) naming each worker that differs, before any piece is sent.
    """
    expected = expected_facts(engines, {(job.voice.engine, job.voice.voice) for job in jobs})
    client = connect(address)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except (OSError, TimeoutError):
            raise NarrateError(f"the Dask cluster at {address} has no workers (start some: dask worker "
                               f"{address})") from None
        reports = survey(client, address, targets, expected)
        wrong = [r for r in reports if r.differences]
        if wrong:
            raise ProblemsError(f"cluster {address}: worker {r.address} differs from this machine: "
                                f"{'; '.join(r.differences)}" for r in wrong)
        log.info("rendering on the Dask cluster at %s (%d worker%s, narrate %s)", address, len(reports),
                 "s" * (len(reports) != 1), expected["narrate"])
        yield ClusterRenderer(client, address, targets, expected)
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
