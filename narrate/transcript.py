"""Transcripts and chapters as podcast apps read them: WebVTT, SubRip, Podcasting 2.0 JSON chapters.

Also small readers for WebVTT and SubRip, used by narrate's own checks of what it wrote.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence

from narrate.model import SPEAKER_LABELS, ChapterTime, Cue
from narrate.timefmt import ms_clock, parse_clock, to_ms

LINE_WIDTH = 42  # the usual caption line limit (BBC, Netflix style guides): two such lines per cue
CHAPTERS_VERSION = "1.2.0"

_TIMING = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s.*)?$")
_TAG = re.compile(r"<[^>]*>")
# SubRip has only these few tags; anything else in angle brackets is text a player shows as written.
_SRT_TAG = re.compile(r"</?(?:b|i|u|s|font)(?:\s[^>]*)?>", re.IGNORECASE)


def wrap_caption(text: str, width: int = LINE_WIDTH) -> list[str]:
    """Caption lines at word boundaries: one line when it fits, else the most even two, else ~`width` each."""
    words = text.split()
    if not words:
        return []
    one = " ".join(words)
    if len(one) <= width:
        return [one]
    best: tuple[int, list[str]] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        longest = max(len(first), len(second))
        # Prefer the most even split; on a tie, the shorter top line (easier to read, as subtitles go).
        if longest <= width and (best is None or longest < best[0]):
            best = (longest, [first, second])
    if best:
        return best[1]
    # Too long for two lines: greedy lines of about `width`, never cutting a word.
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return lines


def _timed(cues: Sequence[Cue]) -> Iterator[tuple[int, int, Cue]]:
    """Cues in time order with whole-millisecond times, end after start; cues without text are left out."""
    ordered = sorted(enumerate(cues), key=lambda pair: (to_ms(pair[1].start), to_ms(pair[1].end), pair[0]))
    for _, cue in ordered:
        if not cue.text.split():
            continue  # an empty cue would end an SRT block early and shows nothing anyway
        start = to_ms(cue.start)
        yield start, max(to_ms(cue.end), start + 1), cue


def timed_cues(cues: Sequence[Cue]) -> list[tuple[int, int, Cue]]:
    """The cues a transcript holds, as (start ms, end ms, cue) in time order: the VTT's cues, for the web page too."""
    return list(_timed(cues))


def speaker_label(role: str, labels: Mapping[str, str] | None = None) -> str:
    """How a transcript names the speaker of a role (`narrator` -> `Narrator`, `field_note` -> `Field note`)."""
    return _label(role, labels)


def _label(role: str, labels: Mapping[str, str] | None) -> str:
    merged = {**SPEAKER_LABELS, **(labels or {})}
    return merged.get(role) or role.replace("_", " ").capitalize()


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(cues: Sequence[Cue], labels: Mapping[str, str] | None = None) -> str:
    """A WebVTT transcript: numbered cues, each a voice span named after the cue's role."""
    blocks = ["WEBVTT"]
    for number, (start, end, cue) in enumerate(_timed(cues), start=1):
        lines = [_vtt_escape(line) for line in wrap_caption(cue.text)]
        # The voice annotation ends at the first ">", so the label is escaped like the text.
        lines[0] = f"<v {_vtt_escape(_label(cue.role, labels))}>{lines[0]}"
        blocks.append("\n".join([str(number), f"{ms_clock(start, '.')} --> {ms_clock(end, '.')}", *lines]))
    return "\n\n".join(blocks) + "\n"


def srt(cues: Sequence[Cue], labels: Mapping[str, str] | None = None) -> str:
    """A SubRip transcript: numbered cues, the speaker named as a prefix whenever the speaker changes."""
    blocks = []
    speaker: str | None = None
    for number, (start, end, cue) in enumerate(_timed(cues), start=1):
        label = _label(cue.role, labels)
        text = " ".join(cue.text.split())
        if label != speaker:
            text = f"{label}: {text}"
            speaker = label
        timing = f"{ms_clock(start, ',')} --> {ms_clock(end, ',')}"
        blocks.append("\n".join([str(number), timing, *wrap_caption(text)]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _seconds_json(seconds: float) -> int | float:
    value = to_ms(seconds) / 1000
    # Whole seconds print as integers ("startTime": 0), as in the specification's examples.
    return int(value) if value.is_integer() else value


def chapters_json(chapters: Sequence[ChapterTime], *, title: str = "", url: str | None = None) -> str:
    """Podcasting 2.0 JSON chapters (version 1.2.0): ascending, the first starting at 0; `url` goes on each chapter."""
    ordered = sorted(chapters, key=lambda c: to_ms(c.start))
    entries: list[dict[str, object]] = []
    for index, chapter in enumerate(ordered):
        # Apps show nothing before the first chapter, so it starts the episode even after an intro.
        start = 0 if index == 0 else to_ms(chapter.start)
        entry: dict[str, object] = {"startTime": _seconds_json(start / 1000), "title": chapter.title}
        if url:
            entry["url"] = url
        if to_ms(chapter.end) > start:
            entry["endTime"] = _seconds_json(chapter.end)
        entries.append(entry)
    data: dict[str, object] = {"version": CHAPTERS_VERSION}
    if title:
        data["title"] = title
    data["chapters"] = entries
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _blocks(text: str) -> list[list[str]]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [block.split("\n") for block in re.split(r"\n[ \t]*\n", text.strip("\n")) if block.strip()]


def _timed_blocks(text: str) -> list[tuple[float, float, list[str]]]:
    found = []
    for lines in _blocks(text):
        for index, line in enumerate(lines):
            match = _TIMING.match(line)
            if match:
                found.append((parse_clock(match[1]), parse_clock(match[2]), lines[index + 1:]))
                break
    return found


def _vtt_unescape(text: str) -> str:
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&nbsp;", "\u00a0"), ("&lrm;", "\u200e"),
                         ("&rlm;", "\u200f"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue in a WebVTT file; tags removed, entities decoded, lines joined by newlines."""
    if not text.lstrip("\ufeff").startswith("WEBVTT"):
        raise ValueError("not a WebVTT file: it must start with WEBVTT")
    return [(start, end, _vtt_unescape(_TAG.sub("", "\n".join(lines))))
            for start, end, lines in _timed_blocks(text)]


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue in a SubRip file; formatting tags removed, lines joined by newlines."""
    return [(start, end, _SRT_TAG.sub("", "\n".join(lines))) for start, end, lines in _timed_blocks(text)]
