"""Render workers: started before the scripts are read when a build is cold, else only when the plan needs them."""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import tempfile
from pathlib import Path

import pytest

import narrate.build
import narrate.workers
from narrate.build import BuildOptions, build
from narrate.errors import UserError
from narrate.workers import SCRATCH_PREFIX
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """'spawn' for every render worker started and 'read' when the build validates the scripts, in order."""
    seen: list[str] = []
    worker_init = narrate.workers.Worker.__init__
    validate = narrate.build.validate_project

    def spawn(self, *args, **kwargs) -> None:
        seen.append("spawn")
        worker_init(self, *args, **kwargs)

    def read(*args, **kwargs):
        seen.append("read")
        return validate(*args, **kwargs)

    monkeypatch.setattr(narrate.workers.Worker, "__init__", spawn)
    monkeypatch.setattr(narrate.build, "validate_project", read)
    return seen


def _options(tmp_path: Path, **kw) -> BuildOptions:
    return BuildOptions(output=tmp_path / "out", cache_dir=tmp_path / "cache", workers=2, today=TODAY, **kw)


def _scratch_folders() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-")}


def test_a_cold_build_starts_its_workers_first_and_renders_with_them(tmp_path: Path, events: list[str]) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    before = _scratch_folders()  # another test of this process may have left one (a simulated kill)
    report = build(scripts, _options(tmp_path))
    assert report.rendered > 2
    # Both workers were started before the scripts were read, and no other was started to render.
    assert events == ["spawn", "spawn", "read"]
    assert mp.active_children() == []
    assert _scratch_folders() <= before


def test_a_warm_build_starts_workers_only_once_the_plan_needs_them(tmp_path: Path, events: list[str]) -> None:
    scripts = write_show(tmp_path / "scripts")
    build(scripts, _options(tmp_path))
    events.clear()
    build(scripts, _options(tmp_path))
    assert events == ["read"]  # nothing to render: no worker at all
    (scripts / "001-first.md").write_text(EPISODE_ONE.replace("It sets the scene.", "It sets a new scene."))
    report = build(scripts, _options(tmp_path))
    assert report.rendered == 1
    assert events == ["read", "read", "spawn"]  # one piece to render: one worker, after the plan


def test_force_and_dry_run(tmp_path: Path, events: list[str]) -> None:
    scripts = write_show(tmp_path / "scripts")
    build(scripts, _options(tmp_path, dry_run=True))
    assert events == ["read"]  # a dry run renders nothing, even with an empty cache
    build(scripts, _options(tmp_path))
    events.clear()
    build(scripts, _options(tmp_path, force=True))
    assert events[:3] == ["spawn", "spawn", "read"]  # --force renders everything again: as cold


def test_a_cold_build_that_stops_at_the_scripts_leaves_no_worker_or_scratch(tmp_path: Path,
                                                                            events: list[str]) -> None:
    bad = EPISODE_ONE.replace("episode: 1", "episode: x")
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": bad})
    before = _scratch_folders()  # another test of this process may have left one (a simulated kill)
    with pytest.raises(UserError):
        build(scripts, _options(tmp_path))
    assert events == ["spawn", "spawn", "read"]
    assert mp.active_children() == []
    assert _scratch_folders() <= before
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("chosen", "expected"), [(None, "1"), ("3", "3")])
def test_openblas_keeps_one_thread_unless_the_user_chose(chosen: str | None, expected: str) -> None:
    """narrate does no linear algebra: numpy's OpenBLAS pool would only slow every process's start-up."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if chosen:
        env["OPENBLAS_NUM_THREADS"] = chosen
    code = "import narrate.cli, os; print(os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == expected


_CLI_SPAWNS = '''
import json, sys
from multiprocessing.process import BaseProcess

seen = []
start = BaseProcess.start


def spawn(self):
    # Whether the build's own modules (numpy, the plan, audio, publishing) were imported yet.
    seen.append(sorted(name for name in ("narrate.build", "narrate.plan", "numpy") if name in sys.modules))
    return start(self)


if __name__ == "__main__":
    BaseProcess.start = spawn
    from narrate.cli import main
    from narrate.engines import register_engine

    register_engine("fake", "tests.fake_engine:FakeEngine")  # by name: nothing imported yet

    try:
        main(sys.argv[1:], standalone_mode=False)
    finally:
        print(json.dumps(seen))
'''


def test_the_cli_starts_a_cold_builds_workers_before_it_imports_the_build(tmp_path: Path) -> None:
    """The workers import their engines on the other core while the CLI imports the build, reads and plans."""
    import json
    import subprocess
    import sys

    scripts = write_show(tmp_path / "scripts")
    wrapper = tmp_path / "cli_spawns.py"
    wrapper.write_text(_CLI_SPAWNS)
    args = ["-q", "build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # tests.fake_engine, in workers too
    run = subprocess.run([sys.executable, str(wrapper), *args], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == [[], []]  # two workers, before any of those
    assert list((tmp_path / "out").glob("*.mp3"))
    # A warm build starts none.
    run = subprocess.run([sys.executable, str(wrapper), *args], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_a_render_worker_imports_neither_the_planner_nor_the_build() -> None:
    """What a worker process imports to render a piece: pieces are of a light module (narrate.model), so it
    never imports the planner's text normalisation (num2words, the lexicon) or anything of the build's."""
    import base64
    import json
    import pickle
    import subprocess
    import sys

    from narrate.model import Location, VoiceSpec
    from narrate.plan import Piece  # as the build makes them

    sent = base64.b64encode(pickle.dumps(Piece("k", "t", "s", VoiceSpec("fake", "v"), "narrator", Location("a", 1))))
    code = ("import base64, json, pickle, sys; import narrate.cli, narrate.workers, narrate.render; "
            f"piece = pickle.loads(base64.b64decode({sent.decode()!r})); "
            "print(json.dumps([type(piece).__name__, sorted(m for m in sys.modules if m.startswith(('narrate', 'num2words')))]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    name, loaded = json.loads(out)
    assert name == "Piece" and "narrate.render" in loaded
    assert not set(loaded) & {"narrate.plan", "narrate.normalize", "narrate.lexicon", "num2words", "narrate.build",
                              "narrate.audio", "narrate.feed"}, loaded


def test_the_cli_decides_once_whether_a_build_is_cold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's decision (here: warm, so no early workers) is passed to the build, which does not look again."""
    from click.testing import CliRunner

    from narrate.cli import main

    scripts = write_show(tmp_path / "scripts")
    args = ["-q", "build", str(scripts), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--workers", "1"]
    assert CliRunner().invoke(main, args).exit_code == 0
    looks: list[Path] = []
    no_entries = narrate.workers._no_entries

    def look(cache_root: Path) -> bool:
        looks.append(cache_root)
        return no_entries(cache_root)

    monkeypatch.setattr(narrate.workers, "_no_entries", look)
    (scripts / "001-first.md").write_text(EPISODE_ONE.replace("It sets the scene.", "It sets a new scene."))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert looks == [tmp_path / "cache"]
    assert list((tmp_path / "out").glob("*.mp3"))
