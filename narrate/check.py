"""`narrate check` and `narrate clean`: the library side of the small commands (`say` is in narrate/say.py)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from narrate.cache import Cache, default_cache_dir
from narrate.model import Episode, Pause
from narrate.plan import EngineInfo, plan_episode
from narrate.script import Project, load_project
from narrate.validate import validate_project
from narrate.voices import prepare_engines

DEFAULT_RATE = 175
#: A paragraph starting with this is a note to the writer (`narrate import` leaves one): `check` warns about it.
TODO_MARK = "TODO:"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeSummary:
    """One row of `narrate check`."""

    number: int
    title: str
    chapters: int
    segments: int
    words: int
    seconds: float
    draft: bool = False


def estimate_seconds(project: Project, number: int) -> float:
    """Rough spoken length of an episode: words at each voice's rate plus the configured pauses."""
    episode = project.episode(number)
    assert episode is not None
    return episode_seconds(project, episode)


def episode_seconds(project: Project, episode: Episode) -> float:
    """estimate_seconds for an episode in hand (no search by number: `check` of 1,000 episodes stays linear)."""
    audio = project.show.audio
    seconds = 0.0
    for chapter in episode.chapters:
        seconds += audio.pause_chapter
        for item in chapter.items:
            if isinstance(item, Pause):
                seconds += item.seconds
                continue
            words = len(item.text.split())
            sentences = max(1, item.text.count(". ") + 1)
            seconds += words * 60 / (item.voice.rate or DEFAULT_RATE) + sentences * audio.pause_sentence
            seconds += audio.pause_segment
    return seconds


def check_scripts(scripts_dir: Path) -> list[EpisodeSummary]:
    """Validate the show file, scripts, voices and cover without rendering; one summary row per episode.

    Every problem is listed at once: voices and the cover are checked even when some scripts have problems.
    """
    project = validate_project(scripts_dir).project
    for episode in project.episodes:
        for segment in episode.segments:
            if segment.text.startswith(TODO_MARK):
                log.warning("%s: a paragraph still begins with '%s', a placeholder for the writer: replace it "
                            "before you publish", segment.location, TODO_MARK)
        if episode.draft:
            log.info("episode %d is a draft (%s has 'draft: true'): checked and built, but left out of the feed",
                     episode.number, episode.path)
    return [
        EpisodeSummary(e.number, e.title, len(e.chapters), len(e.segments),
                       sum(len(s.text.split()) for s in e.segments), episode_seconds(project, e), e.draft)
        for e in project.episodes
    ]


def clean_cache(scripts_dir: Path, cache_dir: Path | None, unused_only: bool) -> tuple[int, int]:
    """Remove the cache, or only entries no current script uses; (entries removed, bytes freed)."""
    cache = Cache(cache_dir or default_cache_dir(scripts_dir))
    if not unused_only:
        return 0, cache.clear()
    project = load_project(scripts_dir)
    info = EngineInfo(prepare_engines(project))
    used = {p.key for e in project.episodes for p in plan_episode(project.show, e, info).pieces}
    return cache.remove_unused(used)
