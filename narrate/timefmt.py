"""Times as narrate prints and reads them: one set of formatters for the feed, transcripts, tables and checks.

Every clock rounds to whole milliseconds first, so a printed time and the order checks made on it agree.
"""
from __future__ import annotations


def to_ms(seconds: float) -> int:
    """Seconds as whole milliseconds, never negative."""
    return max(0, round(seconds * 1000))


def ms_clock(ms: int, separator: str = ".") -> str:
    """Milliseconds as zero-padded `HH:MM:SS.mmm` (`separator` before the milliseconds: `,` for SubRip)."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def clock(seconds: float, separator: str = ".") -> str:
    """Seconds as zero-padded `HH:MM:SS.mmm`: WebVTT cues, Podlove Simple Chapters (`00:01:35.250`)."""
    return ms_clock(to_ms(seconds), separator)


def parse_clock(text: str) -> float:
    """`[HH:]MM:SS.mmm` (a comma or a full stop before the milliseconds) as seconds."""
    parts = text.replace(",", ".").split(":")
    hours = int(parts[-3]) if len(parts) == 3 else 0
    return hours * 3600 + int(parts[-2]) * 60 + float(parts[-1])


def duration(seconds: float) -> str:
    """A length to the whole second for people: `2:03`, or `1:02:03` from an hour on."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
