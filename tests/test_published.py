"""`narrate check --published` on a tiny show folder made without narrate's build, then damaged one way at a time."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.audio import audio_duration, find_ffmpeg, measure_loudness, run_ffmpeg
from narrate.cli import main
from narrate.cover import default_cover
from narrate.feed import FeedItem, build_feed
from narrate.model import Chapter, DocumentInfo, Episode, Location, Show
from narrate.verify import PublishedReport, check_published
from narrate.record import ChapterTime, Cue, EpisodeRecord
from narrate.tags import write_tags
from narrate.transcript import chapters_json, srt, webvtt

BASE = "https://example.org/show/"
SLUG = "001-test"
MP3 = f"{SLUG}.mp3"
GUID = "5b2c7c1e-4d7e-4a51-9d0e-2f8a1e6c3b90"
SECONDS = 6
TARGET = -16.0

SHOW = Show(root=Path("."), path="show.yaml", title="Test Show", author="Test Author",
            description="A show for tests.", language="en", category="History", explicit=False, base_url=BASE,
            voices=())
CHAPTERS = (ChapterTime("Opening", 0.0, 3.0), ChapterTime("Closing", 3.0, float(SECONDS)))
CUES = (
    Cue(0.0, 2.5, "This is the narrator speaking.", "narrator"),
    Cue(2.6, 4.4, "A quoted passage.", "document"),
    Cue(4.5, 5.9, "A closing note.", "note"),
)
EPISODE = Episode(
    number=1, title="First episode", release_date=dt.date(2026, 1, 5), summary="The first one.",
    document=DocumentInfo(), path="001-test.md", slug=SLUG,
    chapters=tuple(Chapter(c.title, Location("001-test.md", 1), ()) for c in CHAPTERS),
)


def _encode(out: Path, gain_db: float) -> None:
    """A SECONDS-long 440 Hz sine as mono MP3, `gain_db` above lavfi's default amplitude (1/8, about -21 LUFS)."""
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
                "-af", f"volume={gain_db:.2f}dB", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k",
                "-id3v2_version", "0", "-write_id3v1", "0", str(out)], "encoding the test tone")


def _tag(path: Path, marks: list[ChapterTime] | None = None) -> None:
    marks = marks or list(CHAPTERS)
    write_tags(path, SHOW, EPISODE, marks, None)


def _write_feed(folder: Path) -> None:
    mp3 = folder / MP3
    record = EpisodeRecord(
        number=1, slug=SLUG, script="001-test.md", title=EPISODE.title, summary=EPISODE.summary,
        release_date="2026-01-05", episode_type="full", file=MP3, size=mp3.stat().st_size,
        duration=audio_duration(mp3), audio_key="a", tag_key="t", chapters=CHAPTERS, cues=CUES,
    )
    item = FeedItem(record=record, guid=GUID, audio_url=BASE + MP3, chapters_url=BASE + f"{SLUG}.chapters.json",
                    vtt_url=BASE + f"{SLUG}.vtt", srt_url=BASE + f"{SLUG}.srt")
    (folder / "feed.xml").write_bytes(build_feed(SHOW, [item], cover_url=BASE + "cover.png",
                                                 feed_url=BASE + "feed.xml"))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid published folder: tagged MP3 at about -16 LUFS, chapters JSON, VTT, SRT, cover and feed."""
    find_ffmpeg()
    folder = tmp_path_factory.mktemp("published")
    mp3 = folder / MP3
    gain = 5.0
    _encode(mp3, gain)
    # One correction from a measurement puts a steady tone well inside ±1 LU whatever the encoder does.
    gain += TARGET - measure_loudness(mp3).integrated
    _encode(mp3, gain)
    _tag(mp3)
    (folder / f"{SLUG}.chapters.json").write_text(chapters_json(CHAPTERS, title=EPISODE.title), encoding="utf-8")
    (folder / f"{SLUG}.vtt").write_text(webvtt(CUES), encoding="utf-8")
    (folder / f"{SLUG}.srt").write_text(srt(CUES), encoding="utf-8")
    (folder / "cover.png").write_bytes(default_cover(SHOW.title, SHOW.author))
    _write_feed(folder)
    (folder / "gain.txt").write_text(f"{gain}")
    return folder


@pytest.fixture
def copy(good: Path, tmp_path: Path) -> Path:
    """A fresh copy of the valid folder, to damage."""
    return Path(shutil.copytree(good, tmp_path / "out"))


def _has(report: PublishedReport, *fragments: str) -> None:
    """Some problem line contains every fragment."""
    assert any(all(f in p for f in fragments) for p in report.problems), report.problems


def test_valid_folder_has_no_problems(good: Path) -> None:
    report = check_published(good)
    assert report.problems == ()
    measured = report.measurements[MP3]
    assert abs(measured["integrated"] - TARGET) <= 1
    assert measured["true_peak"] <= -1
    assert abs(measured["duration"] - SECONDS) < 0.1
    assert measured["chapters"] == 2 and measured["cues"] == 3
    assert any(re.match(r"episode 1: 0:06, -1[5-7]\.\d LUFS, -\d+\.\d dBTP, 2 chapters, 3 cues", line)
               for line in report.lines), report.lines


def test_wrong_enclosure_length(copy: Path) -> None:
    feed = copy / "feed.xml"
    size = (copy / MP3).stat().st_size
    feed.write_text(feed.read_text(encoding="utf-8").replace(f'length="{size}"', f'length="{size + 7}"'),
                    encoding="utf-8")
    _has(check_published(copy), "feed.xml", "enclosure length", MP3)


def test_missing_vtt(copy: Path) -> None:
    (copy / f"{SLUG}.vtt").unlink()
    _has(check_published(copy), "feed.xml", f"{SLUG}.vtt does not exist")


def test_chapters_not_starting_at_zero(copy: Path) -> None:
    _tag(copy / MP3, [ChapterTime("Opening", 1.0, 3.0), ChapterTime("Closing", 3.0, SECONDS)])
    report = check_published(copy)
    _has(report, MP3, "first chapter starts at 1.000 s, not 0")
    _has(report, f"{SLUG}.chapters.json", "chapter 1 starts at 0.000 s")


def test_unsorted_vtt_cues(copy: Path) -> None:
    vtt = copy / f"{SLUG}.vtt"
    header, first, second, third = vtt.read_text(encoding="utf-8").strip().split("\n\n")
    vtt.write_text("\n\n".join([header, second, first, third]) + "\n", encoding="utf-8")
    _has(check_published(copy), f"{SLUG}.vtt", "cue 2 starts at 0.000 s, before the cue before it")


def test_quiet_audio(copy: Path) -> None:
    mp3 = copy / MP3
    _encode(mp3, float((copy / "gain.txt").read_text()) - 6)
    _tag(mp3)
    report = check_published(copy)
    _has(report, MP3, "integrated loudness", "outside the target -16.0")
    assert report.measurements[MP3]["integrated"] < -20


def test_broken_feed(copy: Path) -> None:
    feed = copy / "feed.xml"
    feed.write_bytes(feed.read_bytes()[:-200])
    report = check_published(copy)
    _has(report, "feed.xml", "not well-formed XML")
    # The audio is still checked: the MP3 is found by its name and passes.
    assert not [p for p in report.problems if p.startswith(MP3)], report.problems


def test_cli_exit_status(good: Path, copy: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["check", "--published", str(good)]).exit_code == 0
    (copy / "feed.xml").write_text("<rss", encoding="utf-8")
    result = runner.invoke(main, ["check", "--published", str(copy)])
    assert result.exit_code == 1
    assert "feed.xml: not well-formed XML" in result.output
