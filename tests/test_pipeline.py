"""Pipeline tests with the fake engine: what is rendered, built, tagged and published, and what is not."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from tests import fake_engine
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show

TODAY = dt.date(2026, 6, 1)


def _build(scripts: Path, out: Path, **kw) -> object:
    options = BuildOptions(output=out, cache_dir=out.parent / "cache", in_process=True, today=TODAY, **kw)
    return build(scripts, options)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()}


def _files_of(out: Path, slug: str) -> set[str]:
    """Every file in `out` that belongs to the episode `slug` (whatever the content hashes)."""
    return {p.name for p in out.iterdir() if p.name.startswith(slug + ".")}


def _mp3(out: Path, slug: str) -> Path:
    return published_paths(out, slug)["mp3"]


@pytest.fixture
def two_episodes(tmp_path: Path) -> Path:
    return write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})


def test_build_writes_episodes_and_publishes(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    report = _build(two_episodes, out)
    assert not report.failures
    names = {p.name for p in out.iterdir()}
    assert {"feed.xml", RECORD_NAME} <= names
    # every published file but the feed is named by its content: SLUG.<first 10 hex of its SHA-256>.SUFFIX
    for slug in ("001-first", "002-second"):
        files = published_paths(out, slug)
        assert set(files) == {"mp3", "chapters", "vtt", "srt"}
        for kind, suffix in (("mp3", ".mp3"), ("chapters", ".chapters.json"), ("vtt", ".vtt"), ("srt", ".srt")):
            assert re.fullmatch(re.escape(slug) + r"\.[0-9a-f]{10}" + re.escape(suffix), files[kind].name), files[kind]
            import hashlib
            assert hashlib.sha256(files[kind].read_bytes()).hexdigest()[:10] in files[kind].name
        assert _files_of(out, slug) == {p.name for p in files.values()}, "nothing else of the episode's is left"
    assert len([n for n in names if re.fullmatch(r"cover\.[0-9a-f]{10}\.png", n)]) == 1
    assert f'{published_paths(out, "001-first")["mp3"].name}'.encode() in (out / "feed.xml").read_bytes()
    # each cue was rendered once: 2 + 2 + 1 cues in episode 1, 1 + 1 in episode 2
    assert len(fake_engine.CALLS) == 7
    assert {voice for voice, _ in fake_engine.CALLS} == {"low", "high"}
    tags = ID3(_mp3(out, "001-first"))
    assert tags.version[:2] == (2, 3)
    assert [f.sub_frames["TIT2"].text[0] for f in sorted(tags.getall("CHAP"), key=lambda f: f.start_time)] == \
        ["Opening", "Closing"]
    assert str(tags["TALB"]) == "Test Show & Friends"
    assert str(tags["TRCK"]) == "1"


def test_chapter_and_cue_times_follow_the_placed_audio(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]["001-first"]
    cues = record["cues"]
    chapters = record["chapters"]
    assert chapters[0]["start"] == 0
    assert chapters[1]["start"] == cues[-1]["start"], "chapter 2 starts where its first segment is placed"
    # cue n+1 starts after cue n ends plus the configured gap (fake tones are 0.3 s a word, untrimmed)
    gaps = [round(b["start"] - a["end"], 2) for a, b in zip(cues, cues[1:])]
    assert gaps == [0.2, 0.4, 0.2, 0.5]
    assert chapters[-1]["end"] == record["duration"]


def test_noop_rebuild_renders_and_writes_nothing(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(two_episodes, out)
    before = _snapshot(out)
    fake_engine.CALLS.clear()
    report = _build(two_episodes, out)
    assert fake_engine.CALLS == []
    assert report.written == ()
    assert _snapshot(out) == before
    assert {e.action for e in report.plan} == {"unchanged"}


def test_one_paragraph_edit_renders_only_that_paragraph(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(two_episodes, out)
    before = _snapshot(out)
    fake_engine.CALLS.clear()
    script = two_episodes / "002-second.md"
    script.write_text(script.read_text().replace("Narration for the second episode.",
                                                 "Narration, edited, for the second episode."))
    report = _build(two_episodes, out)
    assert fake_engine.CALLS == [("low", "Narration, edited, for the second episode.")]
    after = _snapshot(out)
    added, removed = set(after) - set(before), set(before) - set(after)
    rewritten = {name for name in set(after) & set(before) if after[name] != before[name]}
    # the edited episode's four files are new ones (new bytes, new names), its old ones are gone; the feed
    # and the record are rewritten; nothing of episode 1, nor the cover, is touched
    assert len(added) == 4 and all(name.startswith("002-second.") for name in added)
    assert len(removed) == 4 and all(name.startswith("002-second.") for name in removed)
    assert rewritten == {"feed.xml", RECORD_NAME}
    assert {p.name for p in published_paths(out, "002-second").values()} == added
    plan = {e.number: e for e in report.plan}
    assert plan[1].action == "unchanged"
    assert plan[2].describe().startswith("episode 2: 1 segment changed (")
    assert "002-second.md:9" in plan[2].describe()


def test_a_feed_only_field_refreshes_the_record_without_touching_the_audio(show_dir: Path, tmp_path: Path) -> None:
    """The episode type is in no tag but in the feed: the record is written again from the script (it stayed stale)."""
    out = tmp_path / "audio"
    _build(show_dir, out)
    mp3 = _mp3(out, "001-first").read_bytes()
    fake_engine.CALLS.clear()
    script = show_dir / "001-first.md"
    script.write_text(script.read_text().replace("summary: The first one.", "summary: The first one.\ntype: bonus"))
    report = _build(show_dir, out)
    assert fake_engine.CALLS == []
    assert [e.action for e in report.plan] == ["retag"]
    assert _mp3(out, "001-first").read_bytes() == mp3
    assert b"<itunes:episodeType>bonus</itunes:episodeType>" in (out / "feed.xml").read_bytes()


def test_chapter_rename_retags_only(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    fake_engine.CALLS.clear()
    script = show_dir / "001-first.md"
    script.write_text(script.read_text().replace("# Closing", "# Sources"))
    report = _build(show_dir, out)
    assert fake_engine.CALLS == []
    assert [e.action for e in report.plan] == ["retag"]
    tags = ID3(_mp3(out, "001-first"))
    titles = [f.sub_frames["TIT2"].text[0] for f in sorted(tags.getall("CHAP"), key=lambda f: f.start_time)]
    assert titles == ["Opening", "Sources"]
    assert json.loads(published_paths(out, "001-first")["chapters"].read_text())["chapters"][1]["title"] == "Sources"
    assert len(_files_of(out, "001-first")) == 4, "the retagged episode's superseded files are removed"


def test_role_voice_change_rerenders_that_role_only(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    fake_engine.CALLS.clear()
    show = show_dir / "show.yaml"
    show.write_text(show.read_text().replace("document: {engine: fake, voice: high", "document: {engine: fake, voice: low"))
    _build(show_dir, out)
    assert fake_engine.CALLS == [("low", "The document speaks here."), ("low", "It has two sentences.")]


def test_new_base_url_rewrites_only_the_feed(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(two_episodes, out)
    before = _snapshot(out)
    fake_engine.CALLS.clear()
    show = two_episodes / "show.yaml"
    show.write_text(show.read_text().replace("https://example.org/show/", "https://cdn.example.net/pod/"))
    _build(two_episodes, out)
    after = _snapshot(out)
    assert fake_engine.CALLS == []
    assert {n for n in after if after[n] != before.get(n)} == {"feed.xml"}
    assert f"https://cdn.example.net/pod/{_mp3(out, '001-first').name}".encode() in (out / "feed.xml").read_bytes()


def test_added_episode_renders_only_the_new_episode(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    before = _snapshot(out)
    fake_engine.CALLS.clear()
    (show_dir / "002-second.md").write_text(EPISODE_TWO)
    _build(show_dir, out)
    assert fake_engine.CALLS == [("low", "Narration for the second episode."), ("high", "A quoted passage.")]
    after = _snapshot(out)
    first = _mp3(out, "001-first").name
    assert after[first] == before[first]


def test_removed_script_stays_published_until_pruned(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(two_episodes, out)
    guid = json.loads((two_episodes / "guids.json").read_text())["episodes"]["2"]["guid"]
    (two_episodes / "002-second.md").unlink()
    fake_engine.CALLS.clear()
    report = _build(two_episodes, out)
    assert fake_engine.CALLS == []
    removed = [e for e in report.plan if e.number == 2][0]
    assert removed.action == "removed" and "--prune" in removed.describe()
    assert _mp3(out, "002-second").exists()
    assert guid.encode() in (out / "feed.xml").read_bytes()
    report = _build(two_episodes, out, prune=True)
    assert _files_of(out, "002-second") == set(), "a pruned episode's files are all removed"
    assert guid.encode() not in (out / "feed.xml").read_bytes()
    # restoring the script brings back the same GUID
    (two_episodes / "002-second.md").write_text(EPISODE_TWO)
    _build(two_episodes, out)
    assert guid.encode() in (out / "feed.xml").read_bytes()


def test_dry_run_touches_nothing(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    result = CliRunner().invoke(main, ["build", str(two_episodes), "-o", str(out), "--dry-run",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "episode 1: new episode" in result.output
    assert "episode 2: new episode" in result.output
    assert not out.exists() and not (tmp_path / "cache").exists()
    assert fake_engine.CALLS == []


def test_future_episode_is_built_but_not_in_the_feed(two_episodes: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    options = BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=dt.date(2026, 1, 6))
    build(two_episodes, options)
    feed = (out / "feed.xml").read_bytes()
    assert _mp3(out, "002-second").exists()
    assert b"002-second." not in feed and _mp3(out, "001-first").name.encode() in feed


def test_force_rerenders_everything(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    fake_engine.CALLS.clear()
    _build(show_dir, out, force=True)
    assert len(fake_engine.CALLS) == 5


def test_json_summary(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    args = ["build", str(show_dir), "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # Five pieces (sentences) of three segments (paragraphs).
    assert (summary["rendered_pieces"], summary["rendered_segments"]) == (5, 3)
    assert summary["episodes"][0]["action"] == "built"
    result = CliRunner().invoke(main, args)
    summary = json.loads(result.stdout)
    assert summary["rendered_segments"] == summary["rendered_pieces"] == 0
    assert summary["plan"][0]["action"] == "unchanged"
