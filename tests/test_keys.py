"""Each stage owns the key that says when its output must be written again: change any input, the key changes.

narrate.audio keys the encoded audio from the very constants, filter chain, encoder arguments and ffmpeg it
uses; narrate.tags keys the tags from the very frames it writes. A setting changed in one place only can then
never leave a stale MP3 published.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mutagen.id3 import ID3, TXXX

import narrate.audio as audio
import narrate.tags as tags
from narrate.model import Episode, Location, Show, VoiceSpec
from narrate.plan import EpisodePlan, Gap, Piece
from narrate.script import load_project
from narrate.tags import Artwork
from tests.conftest import write_show

VOICE = VoiceSpec("fake", "low", 175)


@pytest.fixture
def show_and_episode(tmp_path: Path) -> tuple[Show, Episode]:
    project = load_project(write_show(tmp_path / "scripts"))
    return project.show, project.episodes[0]


def _plan(episode: Episode, gap: float = 0.5, key: str = "k2", starts: tuple[int, ...] = (0,)) -> EpisodePlan:
    pieces = (Piece("k1", "One.", "One.", VOICE, "narrator", Location("x.md", 1)),
              Piece(key, "Two.", "Two.", VOICE, "narrator", Location("x.md", 2)))
    return EpisodePlan(episode, (pieces[0], Gap(gap), pieces[1]), starts)


def _ffmpeg_version(monkeypatch: pytest.MonkeyPatch) -> None:
    real = audio.ffmpeg_tool
    monkeypatch.setattr(audio, "ffmpeg_tool", lambda: dataclasses.replace(real(), version="0.0-another"))


AUDIO_CHANGES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "AUDIO_FORMAT": lambda m: m.setattr(audio, "AUDIO_FORMAT", audio.AUDIO_FORMAT + 1),
    "LIMITER_MARGIN_DB": lambda m: m.setattr(audio, "LIMITER_MARGIN_DB", audio.LIMITER_MARGIN_DB + 0.5),
    "GAIN_STEPS": lambda m: m.setattr(audio, "GAIN_STEPS", (*audio.GAIN_STEPS, 5.0)),
    "PROBE_STEP": lambda m: m.setattr(audio, "PROBE_STEP", audio.PROBE_STEP + 1),
    "EXCERPTS": lambda m: m.setattr(audio, "EXCERPTS", audio.EXCERPTS + 1),
    "EXCERPT_SECONDS": lambda m: m.setattr(audio, "EXCERPT_SECONDS", audio.EXCERPT_SECONDS + 1),
    "meter pad": lambda m: m.setattr(audio, "_TAIL", "apad=pad_dur=0.2"),
    "limiter template": lambda m: m.setattr(audio, "_limiter", lambda a: "alimiter=limit=0.5:attack=2"),
    "resampler": lambda m: m.setattr(audio, "_has_soxr", lambda soxr=audio._has_soxr(): not soxr),
    "encoder args": lambda m: m.setattr(audio, "_encoder", lambda a: ["-ac", "1", "-c:a", "libmp3lame", "-q:a", "2"]),
    "bare mp3 flags": lambda m: m.setattr(audio, "_BARE_MP3", ("-map_metadata", "-1")),
    "ffmpeg version": _ffmpeg_version,
}


@pytest.mark.parametrize("change", sorted(AUDIO_CHANGES))
def test_the_audio_key_follows_every_encode_constant(change: str, show_and_episode: tuple[Show, Episode],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    show, episode = show_and_episode
    before = audio.audio_key(_plan(episode), show.audio)
    AUDIO_CHANGES[change](monkeypatch)
    assert audio.audio_key(_plan(episode), show.audio) != before


@pytest.mark.parametrize("field,value", [("sample_rate", 48000), ("channels", 2), ("bitrate", "128k"),
                                         ("loudness", -19.0), ("true_peak", -2.0)])
def test_the_audio_key_follows_every_encode_setting(field: str, value: Any,
                                                    show_and_episode: tuple[Show, Episode]) -> None:
    show, episode = show_and_episode
    changed = dataclasses.replace(show.audio, **{field: value})
    assert audio.audio_key(_plan(episode), changed) != audio.audio_key(_plan(episode), show.audio)


@pytest.mark.parametrize("change", [{"gap": 0.6}, {"key": "k3"}, {"starts": (2,)}])
def test_the_audio_key_follows_the_plan(change: dict, show_and_episode: tuple[Show, Episode]) -> None:
    show, episode = show_and_episode
    assert audio.audio_key(_plan(episode, **change), show.audio) != audio.audio_key(_plan(episode), show.audio)


def test_the_audio_key_is_stable(show_and_episode: tuple[Show, Episode]) -> None:
    show, episode = show_and_episode
    assert audio.audio_key(_plan(episode), show.audio) == audio.audio_key(_plan(episode), show.audio)


ART = Artwork(b"\x89PNG fake", "image/png")


def _retitled_chapter(e: Episode) -> Episode:
    return dataclasses.replace(e, chapters=(dataclasses.replace(e.chapters[0], title="Renamed"), *e.chapters[1:]))


def _reworded_segment(e: Episode) -> Episode:
    first = e.chapters[0]
    segment = dataclasses.replace(first.segments[0], text="Other words.")
    return dataclasses.replace(e, chapters=(dataclasses.replace(first, items=(segment, *first.items[1:])),
                                            *e.chapters[1:]))


TAG_CHANGES: dict[str, Callable[[Show, Episode, Artwork | None], tuple[Show, Episode, Artwork | None]]] = {
    "episode title": lambda s, e, a: (s, dataclasses.replace(e, title="Other"), a),
    "episode number": lambda s, e, a: (s, dataclasses.replace(e, number=7), a),
    "release date": lambda s, e, a: (s, dataclasses.replace(e, release_date=e.release_date.replace(day=9)), a),
    "summary": lambda s, e, a: (s, dataclasses.replace(e, summary="Another summary."), a),
    "document url": lambda s, e, a: (s, dataclasses.replace(
        e, document=dataclasses.replace(e.document, url="https://example.org/doc")), a),
    "link": lambda s, e, a: (s, dataclasses.replace(e, link="https://example.org/page"), a),
    "chapter title": lambda s, e, a: (s, _retitled_chapter(e), a),
    "chapter count": lambda s, e, a: (s, dataclasses.replace(e, chapters=e.chapters[:1]), a),
    "text (USLT)": lambda s, e, a: (s, _reworded_segment(e), a),
    "show title": lambda s, e, a: (dataclasses.replace(s, title="Other show"), e, a),
    "show author": lambda s, e, a: (dataclasses.replace(s, author="Someone else"), e, a),
    "copyright": lambda s, e, a: (dataclasses.replace(s, copyright="(c) 2027 Other"), e, a),
    "language": lambda s, e, a: (dataclasses.replace(s, language="de"), e, a),
    "artwork bytes": lambda s, e, a: (s, e, Artwork(b"\x89PNG other", "image/png")),
    "artwork type": lambda s, e, a: (s, e, Artwork(ART.data, "image/jpeg")),
    "no artwork": lambda s, e, a: (s, e, None),
}


@pytest.mark.parametrize("change", sorted(TAG_CHANGES))
def test_the_tag_key_follows_every_written_field(change: str, show_and_episode: tuple[Show, Episode]) -> None:
    show, episode = show_and_episode
    before = tags.tag_key(show, episode, ART, "audio")
    assert tags.tag_key(*TAG_CHANGES[change](show, episode, ART), "audio") != before


def test_the_tag_key_follows_the_audio_and_the_tag_format(show_and_episode: tuple[Show, Episode],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    show, episode = show_and_episode
    before = tags.tag_key(show, episode, ART, "audio")
    assert tags.tag_key(show, episode, ART, "other audio") != before
    monkeypatch.setattr(tags, "TAG_FORMAT", tags.TAG_FORMAT + 1)
    assert tags.tag_key(show, episode, ART, "audio") != before


def test_a_frame_added_to_the_tags_changes_the_key(show_and_episode: tuple[Show, Episode], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """One list of frames is both written and keyed: a new frame cannot be added to one and not the other."""
    show, episode = show_and_episode
    before = tags.tag_key(show, episode, ART, "audio")
    real = tags._frames
    monkeypatch.setattr(tags, "_frames", lambda *args: [*real(*args), TXXX(encoding=3, desc="new", text="frame")])
    assert tags.tag_key(show, episode, ART, "audio") != before
    mp3 = tmp_path / "x.mp3"
    mp3.write_bytes(b"")
    tags.write_tags(mp3, show, episode, [], ART)
    assert ID3(mp3).getall("TXXX:new")
