"""Episode rules: each MP3 decoded, its chapters read three ways, its transcripts read back, its loudness measured."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from narrate.audio import Loudness, audio_duration, measure_loudness
from narrate.errors import NarrateError
from narrate.publish import FEED_NAME
from narrate.verify.chapter_rules import compare_chapters, ffmpeg_chapters, json_chapters, timeline_problems
from narrate.verify.id3_rules import id3_chapters
from narrate.verify.rules import CHAPTER_TOLERANCE, EpisodeFiles, Findings

#: itunes:duration (whole seconds) may differ this much from the decoded audio.
DURATION_TOLERANCE = 2.0
#: Cues may end this far past the end of the audio (rounding of the last cue).
CUE_SLACK = 0.1
#: Integrated loudness may be this far (LU) from the target.
LOUDNESS_TOLERANCE = 1.0


def _read_cues(path: Path, vtt: bool, found: Findings,
               parsers: dict[str, ModuleType]) -> list[tuple[float, float, str]] | None:
    """A transcript's cues as (start, end, text), or None (with a problem) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        found.problem("cues.read", path.name, f"cannot read it ({exc})")
        return None
    if vtt and text.lstrip("\ufeff").splitlines()[:1] != ["WEBVTT"] \
            and not re.match(r"WEBVTT[ \t]", text.lstrip("\ufeff")):
        found.problem("cues.read", path.name, "the first line must be WEBVTT")
        return None
    try:
        if vtt:
            return [(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text)
                    for c in parsers["webvtt"].from_string(text)]
        return [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in parsers["srt"].parse(text)]
    except Exception as exc:  # noqa: BLE001 - the parsers' own errors (MalformedFileError, SRTParseError...)
        found.problem("cues.read", path.name, f"{'webvtt-py' if vtt else 'srt'} cannot read it ({exc})")
        return None


def _cue_problems(cues: Sequence[tuple[float, float, str]], duration: float | None) -> tuple[list[str], dict]:
    """What is wrong with a cue list, and its largest faults (seconds) for the measurements."""
    problems: list[str] = []
    worst_disorder = worst_overshoot = 0.0
    if not cues:
        problems.append("has no cues")
    previous = 0.0
    for index, (start, end, _text) in enumerate(cues, start=1):
        if start < previous:
            worst_disorder = max(worst_disorder, previous - start)
            problems.append(f"cue {index} starts at {start:.3f} s, before the cue before it ({previous:.3f} s)")
        previous = max(previous, start)
        if end <= start:
            problems.append(f"cue {index} ends at {end:.3f} s, not after its start {start:.3f} s")
        if start < 0:
            problems.append(f"cue {index} starts before 0")
        if duration is not None and end > duration + CUE_SLACK:
            worst_overshoot = max(worst_overshoot, end - duration)
            problems.append(f"cue {index} ends at {end:.3f} s, after the end of the audio ({duration:.3f} s)")
    # One line per fault would bury everything else when a whole file is off; keep the first few.
    if len(problems) > 5:
        problems = problems[:5] + [f"... and {len(problems) - 5} more cue problems"]
    return problems, {"cue_disorder": round(worst_disorder, 3), "cue_overshoot": round(worst_overshoot, 3)}


def check_episode(episode: EpisodeFiles, parsers: dict[str, ModuleType]) -> tuple[Findings, dict[str, Any]]:
    """Everything about one MP3 except its loudness: tags, chapters (three readers), duration, transcripts."""
    found = Findings()
    mp3 = episode.mp3
    measured: dict[str, Any] = {}
    duration: float | None = None
    try:
        duration = audio_duration(mp3)
        measured["duration"] = round(duration, 3)
    except NarrateError as exc:
        found.problem("audio.decode", mp3.name, f"ffmpeg cannot decode it ({exc.message})")
    if duration is not None and episode.feed_duration is not None \
            and abs(duration - episode.feed_duration) > DURATION_TOLERANCE:
        found.problem("audio.duration", FEED_NAME,
                      f"{episode.label}: itunes:duration {episode.feed_duration} s differs from "
                      f"{mp3.name} ({duration:.1f} s)")

    id3 = id3_chapters(mp3, found, episode)
    if id3 is not None:
        measured["chapters"] = len(id3)
        for message in timeline_problems(id3, duration):
            found.problem("chapters.timeline", mp3.name, f"ID3 chapters: {message}")
        try:
            for message in compare_chapters(id3, ffmpeg_chapters(mp3), "ffmpeg "):
                found.problem("chapters.ffmpeg", mp3.name, message)
        except NarrateError as exc:
            found.problem("chapters.ffmpeg", mp3.name, exc.message)
        if episode.chapters is not None:
            doc = json_chapters(episode.chapters, found)
            if doc is not None:
                for message in compare_chapters(id3, doc):
                    found.problem("chapters.json-match", episode.chapters.name, message)
        if episode.psc is not None:
            starts = [start for start, _title in episode.psc]
            if len(starts) != len(id3) or any(abs(s - c.start) > CHAPTER_TOLERANCE for s, c in zip(starts, id3)):
                found.problem("chapters.psc-match", FEED_NAME,
                              f"{episode.label}: psc:chapters start at "
                              f"{', '.join(f'{s:.3f}' for s in starts)} s, the MP3's chapters at "
                              f"{', '.join(f'{c.start:.3f}' for c in id3)} s")
        elif id3 and episode.in_feed:
            found.problem("chapters.psc-match", FEED_NAME,
                          f"{episode.label}: no <psc:chapters> (gPodder reads chapters from them)")

    counts: dict[str, int] = {}
    timings: dict[str, list[tuple[float, float]]] = {}
    for kind, path in (("vtt", episode.vtt), ("srt", episode.srt)):
        if path is None or ("webvtt" if kind == "vtt" else "srt") not in parsers:
            continue  # a missing parser is reported once, for the whole check
        cues = _read_cues(path, kind == "vtt", found, parsers)
        if cues is None:
            continue
        counts[kind] = len(cues)
        timings[kind] = [(round(s, 3), round(e, 3)) for s, e, _t in cues]
        problems, worst = _cue_problems(cues, duration)
        for message in problems:
            found.problem("cues.timeline", path.name, message)
        for key, value in worst.items():
            measured[key] = max(measured.get(key, 0.0), value)
    if episode.srt is not None and "vtt" in counts and "srt" in counts:
        if counts["vtt"] != counts["srt"]:
            found.problem("cues.match", episode.srt.name, f"{counts['srt']} cues, but the VTT has {counts['vtt']}")
        else:
            differ = [i + 1 for i, (a, b) in enumerate(zip(timings["vtt"], timings["srt"])) if a != b]
            if differ:
                found.problem("cues.match", episode.srt.name,
                              f"cue timings differ from the VTT at cue {differ[0]} ({len(differ)} cues in all)")
    if counts:
        measured["cues"] = max(counts.values())
    return found, measured


def check_loudness(path: Path, loudness: float, true_peak: float) -> tuple[Findings, Loudness | None]:
    found = Findings()
    try:
        measured = measure_loudness(path, true_peak=True)
    except NarrateError as exc:
        found.problem("audio.decode", path.name, exc.message)
        return found, None
    if not abs(measured.integrated - loudness) <= LOUDNESS_TOLERANCE:
        found.problem("audio.loudness", path.name,
                      f"integrated loudness {measured.integrated:.1f} LUFS is outside the target "
                      f"{loudness:.1f} ±{LOUDNESS_TOLERANCE:g} LU")
    if not measured.true_peak <= true_peak:
        found.problem("audio.true-peak", path.name,
                      f"true peak {measured.true_peak:.1f} dBTP is above the {true_peak:.1f} dBTP limit")
    return found, measured

