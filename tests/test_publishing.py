"""Publishing through the pipeline (fake engine): stable GUIDs, special characters end to end, intro/outro, clean."""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import struct
import wave
from pathlib import Path

import feedparser
import podcastparser
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3

from narrate.build import BuildOptions, build
from narrate.cache import Cache
from narrate.cli import main
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from narrate.transcript import parse_webvtt
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show

TODAY = dt.date(2026, 6, 1)


def _build(scripts: Path, out: Path, **kw):
    return build(scripts, BuildOptions(output=out, cache_dir=out.parent / "cache", in_process=True, today=TODAY, **kw))


def _feed_guids(out: Path) -> dict[str, str]:
    parsed = podcastparser.parse("https://example.org/show/feed.xml", io.BytesIO((out / "feed.xml").read_bytes()))
    return {e["title"]: e["guid"] for e in parsed["episodes"]}


def test_guid_survives_title_audio_and_file_name_changes(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    out = tmp_path / "audio"
    _build(scripts, out)
    guid = _feed_guids(out)["First episode"]
    # new title, new audio (an edited paragraph) and a new file name, all at once
    text = (scripts / "001-first.md").read_text()
    text = text.replace('title: "First episode"', 'title: "Renamed episode"')
    text = text.replace("It sets the scene.", "It sets a different scene.")
    (scripts / "001-first.md").unlink()
    (scripts / "001-renamed.md").write_text(text)
    report = _build(scripts, out)
    assert not report.failures
    guids = _feed_guids(out)
    assert guids["Renamed episode"] == guid
    assert "First episode" not in guids
    assert published_paths(out, "001-renamed")["mp3"].exists() and not list(out.glob("001-first.*"))
    assert json.loads((scripts / "guids.json").read_text())["episodes"]["1"]["guid"] == guid


TRICKY_SHOW = SHOW_YAML.replace('title: "Test Show & Friends"', 'title: "Husák & Dubček: <Archive> “Voices” 🎙️"').replace(
    "author: Test Author", 'author: "Mlynář & Co."').replace(
    "description: A show for tests.",
    'description: "Quotes \\"here\\", ampersands & angles <b>, emoji 🎧 and Czech: Příliš žluťoučký kůň."')

TRICKY_EPISODE = """\
---
title: "Tom & Jerry <meet> “Husák” 🎙️ in Přerov"
episode: 1
date: 2026-01-05
summary: "A & B < C, “quoted”, Dubček’s emoji 🎧."
---

# Úvod & <start> “one”

Zdeněk Mlynář & Gustáv Husák say “hello” <loudly> 🎙️.
"""


def test_special_characters_survive_feed_tags_and_transcripts(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", TRICKY_SHOW, {"001-tricky.md": TRICKY_EPISODE})
    out = tmp_path / "audio"
    report = _build(scripts, out)
    assert not report.failures
    title = "Tom & Jerry <meet> “Husák” 🎙️ in Přerov"
    feed_bytes = (out / "feed.xml").read_bytes()
    fp = feedparser.parse(feed_bytes)
    assert not fp.bozo
    assert fp.feed.title == "Husák & Dubček: <Archive> “Voices” 🎙️"
    assert fp.entries[0].title == title
    pp = podcastparser.parse("https://example.org/show/feed.xml", io.BytesIO(feed_bytes))
    assert pp["episodes"][0]["title"] == title
    tags = ID3(published_paths(out, "001-tricky")["mp3"])
    assert str(tags["TIT2"]) == title
    assert str(tags["TPE1"]) == "Mlynář & Co."
    assert tags.getall("COMM")[0].text[0] == "A & B < C, “quoted”, Dubček’s emoji 🎧."
    chapter = [c for c in tags.getall("CHAP")][0]
    assert chapter.sub_frames["TIT2"].text[0] == "Úvod & <start> “one”"
    cues = parse_webvtt((published_paths(out, "001-tricky")["vtt"]).read_text(encoding="utf-8"))
    assert " ".join(" ".join(text.split()) for _, _, text in cues) == "Zdeněk Mlynář & Gustáv Husák say “hello” <loudly> 🎙️."
    assert "Husák say" in (published_paths(out, "001-tricky")["srt"]).read_text(encoding="utf-8")
    chapters = json.loads((published_paths(out, "001-tricky")["chapters"]).read_text(encoding="utf-8"))
    assert chapters["chapters"][0]["title"] == "Úvod & <start> “one”"


def _tone(path: Path, seconds: float, rate: int = 44100) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(seconds * rate))))


def test_intro_and_outro_are_placed_around_the_chapters(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    _tone(scripts / "intro.wav", 2.0)
    _tone(scripts / "outro.wav", 1.0, rate=22050)
    show = scripts / "show.yaml"
    show.write_text(show.read_text().replace("  bitrate: 64k", "  bitrate: 64k\n  intro: intro.wav\n  outro: outro.wav"))
    out = tmp_path / "audio"
    assert not _build(scripts, out).failures
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]["001-first"]
    # intro (2 s) and a chapter pause (0.5 s) come before the first cue; chapter 1 still starts at 0
    assert record["cues"][0]["start"] == pytest.approx(2.5, abs=0.01)
    assert record["chapters"][0]["start"] == 0
    # the outro and its pause come after the last cue
    assert record["duration"] - record["cues"][-1]["end"] == pytest.approx(1.5, abs=0.01)


def test_clean_unused_keeps_what_scripts_use(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    out = tmp_path / "audio"
    _build(scripts, out)
    cache = Cache(tmp_path / "cache")
    before = set(cache.keys())
    script = scripts / "001-first.md"
    script.write_text(script.read_text().replace("It sets the scene.", "It sets another scene."))
    _build(scripts, out)
    assert len(set(cache.keys())) == len(before) + 1
    result = CliRunner().invoke(main, ["clean", str(scripts), "--unused", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    assert "removed 1 unused entry, freed" in result.output
    after = set(cache.keys())
    assert len(after) == len(before) and len(after - before) == 1
    result = CliRunner().invoke(main, ["clean", str(scripts), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0 and "removed the cache" in result.output
    assert not (tmp_path / "cache").exists()
