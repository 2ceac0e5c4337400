"""Engine faults, damaged state, concurrent builds: the build stops with the segment's file:line and loses nothing."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cache import Cache
from narrate.cli import main
from narrate.errors import BuildLockedError
from narrate.fsutil import build_lock
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show

TODAY = dt.date(2026, 6, 1)


def _mp3(out: Path, slug: str) -> Path:
    return published_paths(out, slug)["mp3"]


def _options(tmp_path: Path, **kw) -> BuildOptions:
    return BuildOptions(output=tmp_path / "audio", cache_dir=tmp_path / "cache", today=TODAY, **kw)


@pytest.fixture
def two_episodes(tmp_path: Path) -> Path:
    return write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})


@pytest.mark.parametrize(("word", "message"), [
    ("HANG", "rendering timed out after 3s"),
    ("CRASH", "the engine crashed"),
    ("SILENCE", "the engine returned silence"),
    ("NOTHING", "the engine wrote no audio file"),
    ("SHORT", "the audio is truncated"),
])
def test_engine_fault_stops_with_location_and_keeps_the_rest(two_episodes: Path, tmp_path: Path, word: str,
                                                             message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls.log"
    monkeypatch.setenv("NARRATE_FAKE_LOG", str(log))
    options = _options(tmp_path, timeout=3.0, workers=2)
    build(two_episodes, options)
    out = options.output
    published_mp3 = _mp3(out, "002-second")
    published = published_mp3.read_bytes()
    script = two_episodes / "002-second.md"
    script.write_text(script.read_text().replace("A quoted passage.", f"A quoted {word} passage with words."))
    (two_episodes / "003-third.md").write_text(EPISODE_TWO.replace("episode: 2", "episode: 3")
                                               .replace("second", "third"))
    report = build(two_episodes, options)
    assert len(report.failures) == 1
    assert f"002-second.md:11: {message}" in report.failures[0], report.failures
    # the failed episode keeps its previous version; the record still describes that version
    assert _mp3(out, "002-second") == published_mp3 and published_mp3.read_bytes() == published
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]
    assert record["002-second"]["size"] == len(published)
    # the next build (engine fixed) renders only what is missing
    script.write_text(script.read_text().replace(f"A quoted {word} passage with words.", "A quoted passage, fixed."))
    log.write_text("")
    report = build(two_episodes, options)
    assert not report.failures
    rendered = [line.split("\t")[1] for line in log.read_text().splitlines()]
    assert "A quoted passage, fixed." in rendered
    assert "Narration for the second episode." not in rendered, "segments already rendered are reused"
    assert _mp3(out, "003-third").exists()


def test_cli_exit_status_for_an_engine_fault(show_dir: Path, tmp_path: Path) -> None:
    script = show_dir / "001-first.md"
    script.write_text(script.read_text().replace("A closing citation.", "A closing SILENCE citation."))
    result = CliRunner().invoke(main, ["build", str(show_dir), "-o", str(tmp_path / "audio"),
                                       "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert result.exit_code == 1
    assert "001-first.md:21: the engine returned silence" in result.output


def test_truncated_cache_entry_is_rendered_again(show_dir: Path, tmp_path: Path) -> None:
    options = _options(tmp_path, in_process=True)
    build(show_dir, options)
    cache = Cache(options.cache_dir)
    keys = sorted(cache.keys())
    victim = cache.wav_path(keys[0])
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    _mp3(options.output, "001-first").unlink()
    from tests import fake_engine

    fake_engine.CALLS.clear()
    report = build(show_dir, options)
    assert not report.failures
    assert len(fake_engine.CALLS) == 1, "only the damaged entry is rendered again"
    assert cache.get(keys[0]) is not None


def test_damaged_build_record_means_a_fresh_build(show_dir: Path, tmp_path: Path) -> None:
    options = _options(tmp_path, in_process=True)
    build(show_dir, options)
    (options.output / RECORD_NAME).write_text("{ not json")
    report = build(show_dir, options)
    assert not report.failures
    assert [e.action for e in report.plan] == ["build"]
    assert json.loads((options.output / RECORD_NAME).read_text())["version"] == 1


def test_second_concurrent_build_refuses(show_dir: Path, tmp_path: Path) -> None:
    options = _options(tmp_path, in_process=True)
    with build_lock(options.output):
        with pytest.raises(BuildLockedError, match="another narrate build is using"):
            build(show_dir, options)
        result = CliRunner().invoke(main, ["build", str(show_dir), "-o", str(options.output),
                                           "--cache-dir", str(options.cache_dir)])
        assert result.exit_code == 2
        assert "another narrate build is using" in result.output
    assert not list(options.output.glob("001-first*"))
    build(show_dir, options)
    assert _mp3(options.output, "001-first").exists()


def test_an_encode_failure_keeps_the_other_episodes(two_episodes: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import narrate.build as build_module
    from narrate.errors import NarrateError

    real = build_module.build_episode

    def failing(work, *args, **kwargs):
        if work.plan.episode.number == 2:
            raise NarrateError("ffmpeg failed while encoding: simulated")
        return real(work, *args, **kwargs)

    monkeypatch.setattr(build_module, "build_episode", failing)
    report = build(two_episodes, _options(tmp_path, in_process=True))
    assert len(report.failures) == 1 and "002-second.md: ffmpeg failed while encoding" in report.failures[0]
    out = tmp_path / "audio"
    assert _mp3(out, "001-first").exists() and not list(out.glob("002-second*"))
    assert _mp3(out, "001-first").name.encode() in (out / "feed.xml").read_bytes()


def test_renamed_script_that_fails_keeps_its_old_file(show_dir: Path, tmp_path: Path) -> None:
    options = _options(tmp_path, in_process=True)
    build(show_dir, options)
    text = (show_dir / "001-first.md").read_text().replace("A closing citation.", "A closing SILENCE citation.")
    (show_dir / "001-first.md").unlink()
    (show_dir / "001-renamed.md").write_text(text)
    report = build(show_dir, options)
    assert report.failures
    out = options.output
    assert _mp3(out, "001-first").exists() and not list(out.glob("001-renamed*"))
    assert _mp3(out, "001-first").name.encode() in (out / "feed.xml").read_bytes()


def test_damaged_guid_registry_is_a_clear_error_not_a_new_set_of_guids(show_dir: Path, tmp_path: Path) -> None:
    (show_dir / "guids.json").write_text("{ not json")
    result = CliRunner().invoke(main, ["build", str(show_dir), "-o", str(tmp_path / "audio"),
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2
    assert "guids.json:1: the GUID registry is damaged" in result.output
    assert (show_dir / "guids.json").read_text() == "{ not json"
    assert not (tmp_path / "audio").exists()



def test_audio_gone_from_the_cache_is_one_line_with_the_segment_location_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cache entries damaged between rendering and assembly (another process cleaning the cache, say): the
    episode fails with its segment's file:line, said once (it was `scripts/x.md: scripts/x.md:9: ...`)."""
    import narrate.episode

    real_assemble = narrate.episode.assemble

    def assemble_after_damage(plan, cache, folder):  # noqa: ANN001, ANN202 - assemble's signature
        for wav in cache.root.rglob("*.wav"):
            wav.write_bytes(b"damaged")
        return real_assemble(plan, cache, folder)

    scripts = write_show(tmp_path / "scripts")
    args = ["build", str(scripts), "-o", str(tmp_path / "audio"), "--cache-dir", str(tmp_path / "cache")]
    assert CliRunner().invoke(main, args).exit_code == 0
    show = scripts / "show.yaml"  # a pause changed: the episode is assembled again from the cache, nothing rendered
    show.write_text(show.read_text(encoding="utf-8").replace("sentence: 0.2", "sentence: 0.25"), encoding="utf-8")
    monkeypatch.setattr(narrate.episode, "assemble", assemble_after_damage)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    script = scripts / "001-first.md"
    assert re.fullmatch(rf"error: {re.escape(str(script))}:\d+: rendered audio for this segment is missing from "
                        "the cache", errors[0]), errors[0]


def test_a_killed_builds_scratch_folder_is_removed_by_the_next_build(show_dir: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGKILL leaves a build no chance to clean up: the next build removes the folders of ended processes only."""
    import subprocess
    import sys

    from narrate.workers import SCRATCH_PREFIX

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)  # tempfile caches the folder; read TMPDIR again
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    dead = temp / f"{SCRATCH_PREFIX}{int(ended.stdout)}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "piece.wav").write_bytes(b"RIFF")
    running = temp / f"{SCRATCH_PREFIX}{os.getpid()}-def"  # a build still under way (this very process)
    running.mkdir()
    other = temp / "someone-elses-file"
    other.write_text("keep")
    build(show_dir, _options(tmp_path, in_process=True))
    assert not dead.exists()
    assert running.is_dir() and other.read_text() == "keep"
    assert sorted(p.name for p in temp.iterdir()) == sorted([running.name, other.name]), "its own folder is gone too"
