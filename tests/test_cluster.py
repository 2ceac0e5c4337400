"""Building on a real Dask cluster: a `dask scheduler` and `dask worker` processes started on loopback.

The outputs of a cluster build are byte for byte those of a local build; a worker killed mid-build has its
pieces rendered by another; a scheduler stopped mid-build stops the build with one line, and the next build
renders only what had not arrived; a worker with another narrate or engine version is refused before any
piece is sent.
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, Progress, build
from narrate.cli import main
from narrate.errors import NarrateError
from tests import fake_engine
from tests.cluster_fixtures import ROOT, DaskCluster, require_dask, start_cluster
from tests.conftest import EPISODE_ONE, EPISODE_TWO, PYTTSX3_CAST, show_yaml, write_show

TODAY = dt.date(2026, 6, 1)
DELAY = "0.25"  # seconds per piece on the slow clusters: a build of LONG_SHOW lasts a few seconds


def _episode(number: int, sentences: int) -> str:
    lines = [f"Said line {i} of {number}." for i in range(sentences)]
    quoted = [f"Quoted line {i} of {number}." for i in range(sentences)]
    return textwrap.dedent(f"""\
        ---
        title: "Episode {number}"
        episode: {number}
        date: 2026-02-0{number}
        ---

        # Part one

        {" ".join(lines)}

        > {" ".join(quoted)}
        """)


LONG_SHOW = {f"00{n}-ep{n}.md": _episode(n, 4) for n in (1, 2, 3)}
LONG_PIECES = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A scheduler and two workers shared by the tests that leave them running."""
    require_dask()
    running = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def long_show(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """LONG_SHOW's folder and the files a local build of it publishes (its GUIDs are kept in the folder)."""
    folder = tmp_path_factory.mktemp("long")
    scripts = write_show(folder / "scripts", episodes=LONG_SHOW)
    assert _build(scripts, folder / "out", folder / "cache").rendered == LONG_PIECES
    return scripts, _files(folder / "out")


@pytest.fixture
def slow_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    """A cluster of its own (a test kills part of it) whose workers take DELAY seconds per piece."""
    require_dask()
    running = start_cluster(tmp_path / "slow", workers=[{"NARRATE_TEST_RENDER_DELAY": DELAY}] * 2)
    yield running
    running.stop()


def _build(scripts: Path, out: Path, cache: Path, cluster: str | None = None, progress: Progress | None = None):
    options = BuildOptions(output=out, cache_dir=cache, in_process=cluster is None, today=TODAY, cluster=cluster)
    return build(scripts, options, progress)


def _files(folder: Path) -> dict[str, bytes]:
    """Every published file (the MP3s, transcripts, chapters, cover and feed) by name; not the build record."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def _pieces(cache: Path) -> set[str]:
    return {p.stem for p in cache.glob("??/*.wav")}


class _KillAfter(Progress):
    """Progress that SIGKILLs a process of the cluster once `count` pieces have arrived."""

    def __init__(self, cluster: DaskCluster, process: subprocess.Popen, count: int) -> None:
        self.cluster, self.process, self.count, self.stage, self.done = cluster, process, count, "", 0

    def start(self, stage: str, total: int) -> None:
        self.stage = stage

    def advance(self, steps: int = 1) -> None:
        if self.stage.startswith("rendering"):
            self.done += steps
            if self.done == self.count:
                self.cluster.kill(self.process)


def test_a_cluster_build_is_byte_identical_to_a_local_one(cluster: DaskCluster, tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    before = len(cluster.rendered())
    remote = _build(scripts, tmp_path / "remote", tmp_path / "remote-cache", cluster.address)
    assert not remote.failures and remote.rendered > 0
    # Every piece was rendered by the workers, none here.
    assert fake_engine.CALLS == []
    assert len(cluster.rendered()) - before == remote.rendered
    local = _build(scripts, tmp_path / "local", tmp_path / "local-cache")
    assert local.rendered == remote.rendered
    remote_files, local_files = _files(tmp_path / "remote"), _files(tmp_path / "local")
    assert {name.rsplit(".", 1)[-1] for name in remote_files} >= {"mp3", "vtt", "srt", "json", "xml"}
    assert remote_files == local_files
    # What the cluster rendered is in this machine's cache, checksummed: a local build renders nothing.
    assert _pieces(tmp_path / "remote-cache") == _pieces(tmp_path / "local-cache")
    fake_engine.CALLS.clear()
    again = _build(scripts, tmp_path / "again", tmp_path / "remote-cache")
    assert again.rendered == 0 and fake_engine.CALLS == []
    assert _files(tmp_path / "again") == local_files


def test_a_cluster_build_with_espeak_renders_what_a_local_one_does(cluster: DaskCluster, tmp_path: Path) -> None:
    # espeak-ng's audio of a sentence depends by a few samples on what the same process said before it (a
    # piece said twice in a row differs), so two builds that deal pieces out differently, local or not,
    # differ in bytes; the fake engine's tests above check byte identity. Here: the same pieces, the same
    # voices and rates (durations), through the workers' pyttsx3 under Dask's worker threads.
    import wave

    scripts = write_show(tmp_path / "scripts", show=show_yaml(voices=PYTTSX3_CAST),
                         episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    remote = _build(scripts, tmp_path / "remote", tmp_path / "remote-cache", cluster.address)
    local = _build(scripts, tmp_path / "local", tmp_path / "local-cache")
    assert not remote.failures and remote.rendered == local.rendered > 0
    assert _pieces(tmp_path / "remote-cache") == _pieces(tmp_path / "local-cache")
    for path in (tmp_path / "remote-cache").glob("??/*.wav"):
        with wave.open(str(path)) as a, wave.open(str(tmp_path / "local-cache" / path.parent.name / path.name)) as b:
            assert a.getframerate() == b.getframerate()
            assert abs(a.getnframes() - b.getnframes()) < 0.05 * b.getnframes(), path
    assert sorted(p.name.split(".")[-1] for p in (tmp_path / "remote").iterdir()) == \
        sorted(p.name.split(".")[-1] for p in (tmp_path / "local").iterdir())


def test_the_workers_write_their_pieces_into_a_shared_cache(cluster: DaskCluster, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With a shared cache (an fsspec URL; here a shared folder), each worker stores what it renders there
    itself; another machine builds from it, rendering nothing, and publishes what a local build does."""
    import narrate.shared

    written: list[str] = []
    store_many = narrate.shared.SharedCache.store_many

    def stored_here(self, entries, *args, **kwargs):  # noqa: ANN001, ANN202 - SharedCache.store_many's
        entries = list(entries)
        written.extend(key for key, _, _ in entries)
        return store_many(self, entries, *args, **kwargs)

    monkeypatch.setattr(narrate.shared.SharedCache, "store_many", stored_here)  # this process only, not the workers
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    shared = tmp_path / "shared"
    options = BuildOptions(output=tmp_path / "remote", cache_dir=tmp_path / "remote-cache", today=TODAY,
                           cluster=cluster.address, shared_cache=shared.as_uri())
    remote = build(scripts, options)
    assert not remote.failures and remote.rendered > 0 and fake_engine.CALLS == []
    assert written == []  # nothing was stored from this machine: the workers did it
    assert _pieces(shared) == _pieces(tmp_path / "remote-cache") and len(_pieces(shared)) == remote.rendered
    for wav in shared.glob("??/*.wav"):
        assert wav.read_bytes() == (tmp_path / "remote-cache" / wav.parent.name / wav.name).read_bytes()
    # Another machine: a local build with an empty cache of its own and the same shared cache.
    other = build(scripts, BuildOptions(output=tmp_path / "other", cache_dir=tmp_path / "other-cache",
                                        in_process=True, today=TODAY, shared_cache=shared.as_uri()))
    assert other.rendered == 0 and fake_engine.CALLS == []
    _build(scripts, tmp_path / "local", tmp_path / "local-cache")
    assert _files(tmp_path / "other") == _files(tmp_path / "remote") == _files(tmp_path / "local")


def test_the_cli_builds_on_a_cluster_and_says_so(cluster: DaskCluster, tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    before = len(cluster.rendered())
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                       str(tmp_path / "cache"), "--cluster", cluster.address, "--json"])
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.stdout)["rendered_pieces"]
    assert rendered > 0 and len(cluster.rendered()) - before == rendered
    assert f"rendering on the Dask cluster at {cluster.address} (2 workers" in result.stderr


def test_progress_counts_the_clusters_pieces_as_they_arrive(cluster: DaskCluster, tmp_path: Path) -> None:
    class Recorder(Progress):
        def __init__(self) -> None:
            self.events: list[tuple[str, int]] = []

        def start(self, stage: str, total: int) -> None:
            self.events.append((stage, total))

        def advance(self, steps: int = 1) -> None:
            self.events.append(("advance", steps))

    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    recorder = Recorder()
    report = _build(scripts, tmp_path / "out", tmp_path / "cache", cluster.address, recorder)
    stage, total = recorder.events[0]
    assert (stage, total) == (f"rendering pieces on {cluster.address}", report.rendered)
    rendering = recorder.events[1:recorder.events.index(("assembling and encoding episodes", 2))]
    assert rendering == [("advance", 1)] * report.rendered


def test_an_engine_failure_on_the_cluster_names_the_segment(cluster: DaskCluster, tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE.replace(
        "It sets the scene.", "It sets the SILENCE scene.")})
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                       str(tmp_path / "cache"), "--cluster", cluster.address])
    assert result.exit_code == 1, result.output
    assert "001-first.md:14: the engine returned silence" in result.output
    assert not list((tmp_path / "out").glob("*.mp3"))


def test_a_worker_killed_mid_build_has_its_pieces_rendered_elsewhere(
        slow_cluster: DaskCluster, long_show: tuple[Path, dict[str, bytes]], tmp_path: Path) -> None:
    scripts, local_files = long_show
    victim = slow_cluster.workers[0]
    report = _build(scripts, tmp_path / "remote", tmp_path / "remote-cache", slow_cluster.address,
                    _KillAfter(slow_cluster, victim, 4))
    assert victim.poll() is not None, "the worker was killed during the build"
    assert not report.failures and report.rendered == LONG_PIECES
    assert fake_engine.CALLS == []
    assert _files(tmp_path / "remote") == local_files


def test_a_scheduler_stopped_mid_build_stops_it_and_keeps_what_arrived(
        slow_cluster: DaskCluster, long_show: tuple[Path, dict[str, bytes]], tmp_path: Path) -> None:
    scripts, local_files = long_show
    cache = tmp_path / "cache"
    with pytest.raises(NarrateError) as failed:
        _build(scripts, tmp_path / "out", cache, slow_cluster.address,
               _KillAfter(slow_cluster, slow_cluster.scheduler, 5))
    assert failed.value.exit_code == 1
    assert failed.value.message.startswith(f"lost the Dask cluster at {slow_cluster.address} during the build")
    arrived = _pieces(cache)
    assert 5 <= len(arrived) < LONG_PIECES
    assert not list((tmp_path / "out").glob("*.mp3")) and not (tmp_path / "out" / "feed.xml").exists()
    # The next build, local, renders exactly what had not arrived, and gives a local build's outputs.
    fake_engine.CALLS.clear()
    rest = _build(scripts, tmp_path / "out", cache)
    assert rest.rendered == LONG_PIECES - len(arrived) == len(fake_engine.CALLS)
    assert _files(tmp_path / "out") == local_files


def _crash(text: str) -> None:
    raise RuntimeError(f"no voice for {text}")


def test_a_task_that_raised_is_the_pieces_failure_not_a_lost_cluster(cluster: DaskCluster, tmp_path: Path) -> None:
    from narrate.cluster import ClusterRenderer, connect
    from narrate.plan import Piece

    client = connect(cluster.address)
    try:
        future = client.submit(_crash, "Brezhnev", pure=False)
        while future.status == "pending":
            time.sleep(0.05)
        job = object.__new__(Piece)  # only named in the failure
        failure = ClusterRenderer(client, cluster.address, {}, {})._store(future, job, None, tmp_path, 10.0)
    finally:
        client.close(timeout=5)
    assert failure is not None and failure.job is job
    assert failure.message == "failed on the Dask cluster: RuntimeError: no voice for Brezhnev"


def test_a_result_lost_in_transit_as_the_scheduler_dies_is_a_lost_cluster(tmp_path: Path) -> None:
    """The race CI met: a finished task whose result fails to arrive while the client still says "running".

    A stand-in for the Dask future, since which of the client's threads notices a dead scheduler first is
    up to the machine's load; the real scheduler kill is test_a_scheduler_stopped_mid_build_stops_it.
    """
    require_dask()
    from narrate.cluster import ClusterRenderer

    class Client:
        status = "running"

    class Future:
        status = "finished"

        def result(self, timeout: float) -> None:
            raise OSError("Timed out trying to connect to tcp://127.0.0.1:1 after 1 s")

        def release(self) -> None:
            pass

    renderer = ClusterRenderer(Client(), "tcp://127.0.0.1:1", {}, {})
    with pytest.raises(NarrateError) as lost:
        renderer._store(Future(), object(), None, tmp_path, 10.0)
    assert lost.value.message.startswith("lost the Dask cluster at tcp://127.0.0.1:1 during the build")


def test_a_piece_that_hangs_on_the_cluster_times_out(tmp_path: Path) -> None:
    require_dask()
    hung = start_cluster(tmp_path / "hung", workers=[{}])
    try:
        scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE.replace(
            "It sets the scene.", "It sets the HANG scene.")})
        started = time.monotonic()
        result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                           str(tmp_path / "cache"), "--cluster", hung.address, "--timeout", "2"])
        seconds = time.monotonic() - started
    finally:
        hung.stop()
    assert result.exit_code == 1, result.output
    assert "001-first.md:14: rendering timed out after 2s (on the Dask cluster" in result.output, result.output
    assert seconds < 30
    assert not list((tmp_path / "out").glob("*.mp3"))


def test_a_worker_with_other_versions_is_refused_before_any_work(tmp_path: Path) -> None:
    require_dask()
    mismatched = start_cluster(tmp_path / "mismatched", workers=[{"NARRATE_TEST_WORKER_VERSION": "9.9.9"},
                                                                  {"NARRATE_TEST_ENGINE_VERSION": "fake-2"}])
    try:
        scripts = write_show(tmp_path / "scripts")
        result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                           str(tmp_path / "cache"), "--cluster", mismatched.address])
        doctor = CliRunner().invoke(main, ["doctor", "--scripts", str(scripts), "--cluster", mismatched.address])
        rendered = mismatched.rendered()
    finally:
        mismatched.stop()
    assert result.exit_code == 2, result.output
    import narrate

    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 2, result.output
    assert any("worker tcp://127.0.0.1:" in line and f"narrate 9.9.9 (here {narrate.__version__})" in line
               for line in lines), lines
    assert any("engine fake fake-2 (here fake-1)" in line for line in lines), lines
    assert rendered == [] and not _files(tmp_path / "out") and not (tmp_path / "cache").exists()
    assert doctor.exit_code == 1
    assert "narrate 9.9.9 (here" in doctor.output and "engine fake fake-2 (here fake-1)" in doctor.output


def test_a_worker_that_joins_late_with_other_versions_refuses_its_pieces(tmp_path: Path) -> None:
    # The task itself, as a worker runs it: the survey cannot see a worker that joins after it.
    require_dask()
    import io
    import wave

    import narrate
    from narrate.cluster import render_remote
    from narrate.engines import engine_targets
    from narrate.plan import EngineInfo, plan_episode
    from narrate.validate import validate_project

    valid = validate_project(write_show(tmp_path / "scripts"))
    piece = plan_episode(valid.project.show, valid.project.episodes[0], EngineInfo(valid.engines)).pieces[0]
    status, why = render_remote(piece, engine_targets(), ("9.9.9", "fake-1"))
    assert status == "error" and f"runs narrate {narrate.__version__} with engine fake fake-1 (here 9.9.9" in why
    status, why = render_remote(piece, engine_targets(), (narrate.__version__, "fake-0"))
    assert status == "error" and "(here" in why and "fake-0)" in why
    assert fake_engine.CALLS == []
    status, audio = render_remote(piece, engine_targets(), (narrate.__version__, "fake-1"))
    assert status == "ok" and fake_engine.CALLS
    with wave.open(io.BytesIO(audio)) as w:
        assert w.getnframes() > 0 and w.getnchannels() == 1


def test_a_worker_that_cannot_write_the_shared_cache_sends_the_piece_back(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The task as a worker runs it: a shared cache it can write gets the piece ("stored"); one it cannot
    (here under /proc, where not even root can make a folder) is logged, and the piece comes back "ok" for
    the building machine to store there."""
    require_dask()
    import narrate
    from narrate.cluster import render_remote
    from narrate.engines import engine_targets
    from narrate.plan import EngineInfo, plan_episode
    from narrate.validate import validate_project

    valid = validate_project(write_show(tmp_path / "scripts"))
    piece = plan_episode(valid.project.show, valid.project.episodes[0], EngineInfo(valid.engines)).pieces[0]
    versions = (narrate.__version__, "fake-1")
    shared = tmp_path / "shared"
    status, audio = render_remote(piece, engine_targets(), versions, shared.as_uri())
    assert status == "stored"
    assert (shared / piece.key[:2] / f"{piece.key}.wav").read_bytes() == audio
    meta = json.loads((shared / piece.key[:2] / f"{piece.key}.json").read_text())
    assert meta["bytes"] == len(audio) and meta["text"] == piece.spoken
    status, again = render_remote(piece, engine_targets(), versions, "file:///proc/narrate-shared-cache")
    assert status == "ok" and again[:4] == b"RIFF"
    assert "shared cache file:///proc/narrate-shared-cache: cannot write to it: " in caplog.text


def test_doctor_reports_the_clusters_workers_and_versions(cluster: DaskCluster, tmp_path: Path) -> None:
    import narrate

    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra=f"render:\n  cluster: {cluster.address}\n"))
    result = CliRunner().invoke(main, ["doctor", "--scripts", str(scripts)])
    assert f"cluster {cluster.address}: 2 workers" in result.output, result.output
    workers = [line for line in result.output.splitlines() if line.startswith("  tcp://127.0.0.1:")]
    assert len(workers) == 2
    assert all(f"narrate {narrate.__version__}" in line and "fake fake-1" in line and "pyttsx3-" in line
               for line in workers), workers
    assert "differs from this machine" not in result.output


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_dask()
    import socket

    from narrate import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once it is closed
    scripts = write_show(tmp_path / "scripts")
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                       str(tmp_path / "cache"), "--cluster", f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert len(result.output.strip().splitlines()) == 1


def test_without_dask_a_cluster_build_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    scripts = write_show(tmp_path / "scripts")
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir",
                                       str(tmp_path / "cache"), "--cluster", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2, result.output
    assert result.output == "error: building on a Dask cluster needs Dask: pip install 'narrate[dask]'\n"
    assert fake_engine.CALLS == [] and not list((tmp_path / "out").glob("*.mp3"))


def test_a_local_build_does_not_import_dask(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    code = textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from narrate.engines import register_engine
        register_engine("fake", "tests.fake_engine:FakeEngine")
        from narrate.cli import main
        from narrate.build import BuildOptions, build
        report = build(Path({str(scripts)!r}), BuildOptions(output=Path({str(tmp_path / 'out')!r}),
                       cache_dir=Path({str(tmp_path / 'cache')!r}), in_process=True))
        assert report.rendered > 0, report
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
        """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("value", ["http://host:8786", "tcp://host", "tcp://host:0", "8786", "[tcp://h:1]"])
def test_a_bad_cluster_address_is_refused(tmp_path: Path, value: str) -> None:
    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra=f"render:\n  workers: 2\n  cluster: '{value}'\n"))
    result = CliRunner().invoke(main, ["check", str(scripts)])
    assert result.exit_code == 2, result.output
    assert "show.yaml:" in result.output and "render cluster must be a Dask scheduler address" in result.output
    option = CliRunner().invoke(main, ["build", str(scripts), "--cluster", value])
    assert option.exit_code == 2 and "must be a Dask scheduler address" in option.output


def test_render_cluster_is_read_from_the_show_file(tmp_path: Path) -> None:
    from narrate.config import load_show

    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra="render:\n  cluster: tcp://10.0.0.5:8786\n"))
    assert load_show(scripts).render.cluster == "tcp://10.0.0.5:8786"
    assert load_show(write_show(tmp_path / "plain")).render.cluster is None
