"""Chapter rules: an MP3's chapters as ffmpeg and the chapters JSON give them, against its CHAP frames."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from narrate.audio import find_ffmpeg
from narrate.errors import NarrateError
from narrate.verify.rules import CHAPTER_TOLERANCE, ChapterRead, Findings

#: The last chapter must end this close (seconds) to the end of the decoded audio.
END_TOLERANCE = 0.5


def _parse_ffmetadata(text: str) -> list[dict[str, str]]:
    """The [CHAPTER] sections of an FFMETADATA file, keys lower-cased, backslash escapes resolved."""
    sections: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    key: str | None = None
    buf: list[str] = []
    chars = iter(text + "\n")
    for char in chars:
        if char == "\\":
            # A backslash escapes the next character, a newline included (a multi-line value).
            buf.append(next(chars, ""))
        elif char == "=" and key is None:
            key, buf = "".join(buf), []
        elif char == "\n":
            line = "".join(buf)
            if key is None and line.startswith("[") and line.endswith("]"):
                current = {} if line == "[CHAPTER]" else None
                if current is not None:
                    sections.append(current)
            elif key is not None and current is not None and not key.startswith((";", "#")):
                current[key.strip().lower()] = line
            key, buf = None, []
        else:
            buf.append(char)
    return sections


def ffmpeg_chapters(path: Path) -> list[ChapterRead]:
    """Chapters as ffmpeg reads them from the file, sorted by start (imageio-ffmpeg ships no ffprobe)."""
    # -copyts keeps the stored times: without it ffmpeg shifts chapters by the MP3 decoder delay (~25 ms).
    args = [find_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-copyts", "-i", str(path), "-vn", "-an",
            "-f", "ffmetadata", "-"]
    result = subprocess.run(args, capture_output=True, text=True, encoding="utf-8", errors="replace")
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise NarrateError(f"ffmpeg cannot read the chapters of {path.name}: {tail[0]}")
    chapters = []
    for entry in _parse_ffmetadata(result.stdout):
        try:
            num, _, den = entry.get("timebase", "1/1000").partition("/")
            scale = int(num) / int(den or 1)
            chapters.append(ChapterRead(int(entry["start"]) * scale, int(entry["end"]) * scale,
                                         entry.get("title", "")))
        except (KeyError, ValueError, ZeroDivisionError) as exc:
            raise NarrateError(f"ffmpeg printed a chapter of {path.name} that cannot be read ({exc})") from None
    return sorted(chapters, key=lambda c: c.start)


def timeline_problems(chapters: Sequence[ChapterRead], duration: float | None) -> list[str]:
    """What is wrong with a chapter list as a timeline covering the whole episode."""
    problems: list[str] = []
    if not chapters:
        return ["has no chapters"]
    if chapters[0].start != 0:
        problems.append(f"the first chapter starts at {chapters[0].start:.3f} s, not 0")
    for index, chapter in enumerate(chapters):
        if chapter.end <= chapter.start:
            problems.append(f"chapter {index + 1} ('{chapter.title}') ends at {chapter.end:.3f} s, "
                            f"not after its start {chapter.start:.3f} s")
        if not chapter.title.strip():
            problems.append(f"chapter {index + 1} has no title")
        if index:
            step = chapter.start - chapters[index - 1].end
            if step > CHAPTER_TOLERANCE:
                problems.append(f"a gap of {step:.3f} s before chapter {index + 1} ('{chapter.title}')")
            elif step < -CHAPTER_TOLERANCE:
                problems.append(f"chapter {index + 1} ('{chapter.title}') overlaps the one before by {-step:.3f} s")
    if duration is not None and abs(chapters[-1].end - duration) > END_TOLERANCE:
        problems.append(f"the last chapter ends at {chapters[-1].end:.3f} s but the audio lasts {duration:.3f} s")
    return problems

def compare_chapters(frames: Sequence[ChapterRead], other: Sequence[ChapterRead], what: str = "") -> list[str]:
    """Where another reader's chapters (`what`, e.g. "ffmpeg ") differ from the CHAP frames; an end that reader
    was not told (NaN) is not compared."""
    if len(frames) != len(other):
        return [f"{what}has {len(other)} chapters, the MP3's CHAP frames {len(frames)}"]
    problems = []
    for index, (x, y) in enumerate(zip(frames, other)):
        if abs(x.start - y.start) > CHAPTER_TOLERANCE:
            problems.append(f"{what}chapter {index + 1} starts at {y.start:.3f} s, the CHAP frame at {x.start:.3f} s")
        if y.end == y.end and abs(x.end - y.end) > CHAPTER_TOLERANCE:
            problems.append(f"{what}chapter {index + 1} ends at {y.end:.3f} s, the CHAP frame at {x.end:.3f} s")
        if x.title != y.title:
            problems.append(f"{what}chapter {index + 1} is titled '{y.title}', the CHAP frame '{x.title}'")
    return problems


def json_chapters(path: Path, found: Findings) -> list[ChapterRead] | None:
    where = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["chapters"]
        if not isinstance(entries, list):
            raise TypeError("'chapters' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        found.problem("chapters.json", where, f"not valid JSON chapters ({exc})")
        return None
    if data.get("version") != "1.2.0":
        found.problem("chapters.json", where, f"version is {data.get('version')!r}, not '1.2.0'")
    chapters: list[ChapterRead] = []
    for index, entry in enumerate(entries):
        start = entry.get("startTime") if isinstance(entry, dict) else None
        if not isinstance(start, (int, float)) or isinstance(start, bool):
            found.problem("chapters.json", where, f"chapter {index + 1} has no numeric startTime")
            continue
        if chapters and start < chapters[-1].start:
            found.problem("chapters.json", where, f"chapter {index + 1} starts before the one before it")
        end = entry.get("endTime")
        chapters.append(ChapterRead(float(start), float(end) if isinstance(end, (int, float)) else float("nan"),
                                     str(entry.get("title", ""))))
    # Where a chapter has no endTime, it runs to the next start; compare only what is written.
    for index, chapter in enumerate(chapters):
        if chapter.end != chapter.end:  # NaN: not given
            chapter.end = chapters[index + 1].start if index + 1 < len(chapters) else float("nan")
    return chapters

