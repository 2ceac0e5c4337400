"""`narrate check --published`: read the built show back the way podcast apps and players do.

Everything is checked and every failure collected, one line each naming the file and the rule it breaks
(`narrate.verify.rules.RULES`), so one run shows all that is wrong. The feed is read with an XML parser and
with gPodder's podcastparser and feedparser (`feed_rules`, `parsers`); each MP3's tags and chapters with
mutagen (`id3_rules`) and ffmpeg (`chapter_rules`), its transcripts with webvtt-py and srt and its loudness
with ffmpeg's EBU R128 scanner (`episode_rules`). The rules are those in the shared STANDARDS.md.

The loudness targets are the show's own, from the build record (-16 LUFS and -1 dBTP when it has none);
arguments given override them.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from narrate.audio import Loudness, find_ffmpeg
from narrate.cover import cover_problem
from narrate.errors import NarrateError
from narrate.fsutil import is_url
from narrate.publish import CONTENT_NAME_RE, sidecar_names
from narrate.record import load_record, load_targets
from narrate.timefmt import duration
from narrate.verify.episode_rules import check_episode, check_loudness
from narrate.verify.feed_rules import check_feed
from narrate.verify.parsers import available_parsers, missing_parsers
from narrate.verify.rules import (
    HTTP_RULES,
    RULES,
    EpisodeFiles,
    Findings,
    PublishedReport,
    not_regular,
)

__all__ = ["HTTP_RULES", "RULES", "PublishedReport", "check_published", "check_published_url", "is_url"]

log = logging.getLogger(__name__)


def _unlisted(output: Path, listed: Sequence[EpisodeFiles], found: Findings) -> list[EpisodeFiles]:
    """MP3s in the folder that no feed item points to (drafts and episodes dated later), with the sidecars the build
    record names for them (or, for the older layout, those of the same name)."""
    known = {e.mp3.resolve() for e in listed}
    by_file = {rec.file: rec for rec in load_record(output).values()}
    extra = []
    for mp3 in sorted(output.glob("*.mp3")):
        if mp3.resolve() in known or mp3.name.startswith(".") or mp3 in found.special:
            continue
        why = not_regular(mp3)
        if why:
            found.problem("file.not-regular", mp3.name, why)
            found.special.add(mp3)
            continue
        rec = by_file.get(mp3.name)
        if rec is not None:
            names = {key: rec.sidecars[key] for key in ("chapters", "vtt", "srt") if key in rec.sidecars}
        elif CONTENT_NAME_RE.match(mp3.name):
            # Complete (files are renamed into place whole), but superseded: a build was stopped before it
            # could remove it, and the next build will.
            found.lines.append(f"{mp3.name}: named by neither the feed nor the build record (left by an "
                               "interrupted build; the next build removes it)")
            continue
        else:
            names = sidecar_names(mp3.stem)
        files = {key: output / names[key] for key in ("chapters", "vtt", "srt") if key in names}

        def regular(key: str) -> Path | None:
            path = files.get(key)
            return path if path is not None and path.is_file() and not not_regular(path) else None

        extra.append(EpisodeFiles(label=mp3.name, mp3=mp3, in_feed=False, number=rec.number if rec else 0,
                                  chapters=regular("chapters"), vtt=regular("vtt"), srt=regular("srt"),
                                  title=rec.title if rec else None))
    return extra


def check_published(output: Path, loudness: float | None = None, true_peak: float | None = None) -> PublishedReport:
    """Check a built show folder as apps will read it; every problem is collected, none stops the check.

    `loudness` (LUFS) and `true_peak` (dBTP) override the targets the build record holds.
    A URL (`http(s)://...`) is read over HTTP instead: see `check_published_url`.
    """
    if isinstance(output, str) and is_url(output):
        return check_published_url(output, loudness=loudness, true_peak=true_peak)
    output = Path(output)
    if not output.is_dir():
        return PublishedReport((), (f"{output}: no such folder (run narrate build first)",), {},
                               ("output.present",))
    return check_folder(output, Findings(), loudness, true_peak)


def check_folder(output: Path, found: Findings, loudness: float | None = None, true_peak: float | None = None,
                 place: str | None = None) -> PublishedReport:
    """The folder rules on `output`, after what `found` already holds (the HTTP reading's findings).

    Paths in `found.special` were reported already and are not looked at again; `place` names the
    output in messages when it is not the folder itself.
    """
    measurements: dict[str, dict[str, Any]] = {}
    targets = load_targets(output)
    loudness = targets.loudness if loudness is None else loudness
    true_peak = targets.true_peak if true_peak is None else true_peak
    parsers = available_parsers()
    missing_parsers(parsers, found)

    feed = check_feed(output, found, parsers, place)
    listed, cover = feed if feed is not None else ([], None)
    if feed is None:
        # Without a readable feed, still check what can be found by name, so one run shows everything.
        covers = sorted(p for p in output.glob("cover.*") if p.is_file() and not not_regular(p))
        cover = covers[0] if covers else None
    unlisted = _unlisted(output, listed, found)
    why = "a draft, or an episode dated later?" if feed is not None else "the feed cannot be read"
    for episode in unlisted:
        found.lines.append(f"{episode.label}: not in the feed ({why}); checked by its file name")
    # The feed lists the newest first; the report reads better in episode order.
    episodes = [*sorted(listed, key=lambda e: e.number), *unlisted]

    if cover is not None:
        reason = cover_problem(cover)
        if reason:
            found.problem("cover.valid", cover.name, reason)
        else:
            found.lines.append(f"{cover.name}: a valid cover")

    try:
        find_ffmpeg()
    except NarrateError as exc:
        found.problem("audio.tool", "cannot check the audio", exc.message)
        episodes = []
    # The work is in ffmpeg subprocesses, so threads run it in parallel; loudness (the slowest) goes first.
    workers = max(2, min(8, os.cpu_count() or 2, 2 * len(episodes) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        loud: list[Future[tuple[Findings, Loudness | None]]] = [
            pool.submit(check_loudness, e.mp3, loudness, true_peak) for e in episodes]
        rest = [pool.submit(check_episode, e, parsers) for e in episodes]
        for episode, loud_future, rest_future in zip(episodes, loud, rest):
            episode_found, measured = rest_future.result()
            loud_found, level = loud_future.result()
            found.extend(episode_found)
            found.extend(loud_found)
            if level is not None:
                measured.update(integrated=level.integrated, true_peak=level.true_peak, lra=level.lra)
            measurements[episode.mp3.name] = measured
            found.lines.append(_summary(episode, measured))
    log.debug("checked %s: %d problems", output, len(found.problems))
    return PublishedReport(tuple(found.lines), tuple(found.problems), measurements, tuple(found.rules))


def _summary(episode: EpisodeFiles, measured: dict[str, Any]) -> str:
    """`episode 1: 12:31, -16.1 LUFS, -1.8 dBTP, 6 chapters, 143 cues`."""
    parts = [duration(measured["duration"]) if "duration" in measured else "duration unknown"]
    if "integrated" in measured:
        parts += [f"{measured['integrated']:.1f} LUFS", f"{measured['true_peak']:.1f} dBTP"]
    if "chapters" in measured:
        parts.append(f"{measured['chapters']} chapters")
    if "cues" in measured:
        parts.append(f"{measured['cues']} cues")
    return f"{episode.label}: " + ", ".join(parts)


from narrate.verify.remote import check_published_url  # noqa: E402 - it builds on check_folder above
