"""Render workers: started before the scripts are read when a build is cold, else only when the plan needs them."""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import tempfile
from pathlib import Path

import pytest

import narrate.build
import narrate.render
from narrate.build import BuildOptions, build
from narrate.errors import UserError
from narrate.render import SCRATCH_PREFIX
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """'spawn' for every render worker started and 'read' when the build validates the scripts, in order."""
    seen: list[str] = []
    worker_init = narrate.render._Worker.__init__
    validate = narrate.build.validate_project

    def spawn(self, *args, **kwargs) -> None:
        seen.append("spawn")
        worker_init(self, *args, **kwargs)

    def read(*args, **kwargs):
        seen.append("read")
        return validate(*args, **kwargs)

    monkeypatch.setattr(narrate.render._Worker, "__init__", spawn)
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
