"""Stage: one episode's MP3 from its plan (assembled, encoded, tagged) or retagged, placed under a name of its bytes.

The MP3 is written to a temporary file in the output folder and renamed into place as `SLUG.<hash>.mp3`,
so a killed build never leaves a half-written file where a reader could take it for a good one.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narrate.audio import assemble, encode_mp3
from narrate.cache import Cache
from narrate.fsutil import content_name, file_digest, is_regular_file, previous_version, temp_path
from narrate.fsutil import replace as move_into_place
from narrate.model import Show
from narrate.plan import EpisodePlan, Piece
from narrate.record import ChapterTime, Cue, EpisodeRecord
from narrate.tags import Artwork, write_tags

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeWork:
    """One selected episode on its way through the build: its plan, its artwork and the keys of its outputs."""

    plan: EpisodePlan
    art: tuple[Artwork, str] | None  # the episode's own artwork and its published name, if it has one
    artwork: Artwork  # what its MP3 carries: its own artwork, else the show's cover
    audio_key: str
    tag_key: str

    @property
    def slug(self) -> str:
        return self.plan.episode.slug



def _timings(plan: EpisodePlan, placements: dict[int, tuple[float, float]], duration: float
             ) -> tuple[tuple[ChapterTime, ...], tuple[Cue, ...]]:
    starts = [0.0 if i == 0 else placements[index][0] for i, index in enumerate(plan.chapter_starts)]
    ends = starts[1:] + [duration]
    chapters = tuple(ChapterTime(c.title, round(s, 3), round(e, 3))
                     for c, s, e in zip(plan.episode.chapters, starts, ends))
    cues = tuple(
        Cue(round(placements[i][0], 3), round(placements[i][1], 3), item.text, item.role)
        for i, item in enumerate(plan.timeline) if isinstance(item, Piece)
    )
    return chapters, cues


def described(plan: EpisodePlan) -> dict[str, Any]:
    """The build record's fields that come from the script, not from the files built (part of the tag key)."""
    episode = plan.episode
    return {
        "number": episode.number, "slug": episode.slug, "script": episode.path, "title": episode.title,
        "summary": episode.summary, "release_date": episode.release_date.isoformat(),
        "episode_type": episode.episode_type,
        "document": episode.document,
        # The cast as listeners know it (voices.ROLE.name), in order of first appearance; no engine ids.
        "voices": tuple(dict.fromkeys(p.voice.name for p in plan.pieces if p.voice.name)),
        "image": episode.image or "", "link": episode.link,
    }


def _record_for(work: EpisodeWork, file: str, size: int, duration: float, chapters: tuple[ChapterTime, ...],
                cues: tuple[Cue, ...]) -> EpisodeRecord:
    return EpisodeRecord(**described(work.plan), file=file, size=size, duration=round(duration, 3),
                         audio_key=work.audio_key, tag_key=work.tag_key, chapters=chapters, cues=cues)


def build_episode(work: EpisodeWork, show: Show, cache: Cache, output: Path) -> EpisodeRecord:
    """Assemble, encode, tag and move one episode into place, under a name of its own bytes."""
    plan = work.plan
    episode = plan.episode
    log.debug("stage assemble: episode %d", episode.number)
    assembled = assemble(plan, cache, output)
    mp3 = temp_path(output, suffix=".mp3")
    try:
        log.debug("stage encode: episode %d", episode.number)
        encode_mp3(assembled, mp3, show.audio)
        placements = {p.index: (p.start, p.end) for p in assembled.placements}
        chapters, cues = _timings(plan, placements, assembled.duration)
        log.debug("stage tag: episode %d", episode.number)
        write_tags(mp3, show, episode, chapters, work.artwork)
        file, size = _place_mp3(mp3, output, episode.slug)
    finally:
        mp3.unlink(missing_ok=True)
        assembled.wav.unlink(missing_ok=True)
    log.info("built %s (%.1f min)", file, assembled.duration / 60)
    return _record_for(work, file, size, assembled.duration, chapters, cues)


def retag_episode(work: EpisodeWork, show: Show, old: EpisodeRecord, output: Path) -> EpisodeRecord:
    """Rewrite only the tags of an episode whose audio is unchanged."""
    episode = work.plan.episode
    chapters = tuple(ChapterTime(c.title, t.start, t.end) for c, t in zip(episode.chapters, old.chapters))
    tmp = temp_path(output, suffix=".mp3")
    try:
        shutil.copyfile(output / old.file, tmp)
        log.debug("stage tag: episode %d (retag)", episode.number)
        write_tags(tmp, show, episode, chapters, work.artwork)
        file, size = _place_mp3(tmp, output, episode.slug)
    finally:
        tmp.unlink(missing_ok=True)
    return _record_for(work, file, size, old.duration, chapters, old.cues)


def _place_mp3(tmp: Path, output: Path, slug: str) -> tuple[str, int]:
    """Rename a finished MP3 to `SLUG.<hash>.mp3`; the (name, size). A file already there has these very bytes."""
    file = content_name(slug, ".mp3", file_digest(tmp))
    size = tmp.stat().st_size
    dest = output / file
    try:
        same = is_regular_file(dest) and dest.stat().st_size == size and file_digest(dest) == file_digest(tmp)
    except OSError:
        same = False
    if not same:
        move_into_place(tmp, dest, like=previous_version(output, slug, ".mp3"))
    return file, size
