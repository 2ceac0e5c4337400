"""The rules `narrate check --published` enforces, by id, and what the checks share: findings and read-back data.

Every problem a check reports names one rule of `RULES`; a rule without a tampered-output test fails
tests/test_verify_rules.py, so the table below is the whole contract, one line per rule.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Rule id -> what it requires, one line each. Ids are `area.rule`.
RULES: dict[str, str] = {
    "output.present": "the output folder exists",
    "file.not-regular": "a published file is a regular file (not a FIFO, device, folder or a symlink to one)",
    "feed.present": "feed.xml exists in the output folder",
    "feed.utf8": "the feed is valid UTF-8 and declares no other encoding",
    "feed.xml": "the feed is well-formed XML with a <channel>",
    "feed.root": 'the root element is <rss version="2.0">',
    "feed.namespaces": "the itunes, podcast (and with items, content) namespaces are declared with their URIs",
    "channel.required": "channel title, language, description, itunes:image and itunes:category are present",
    "channel.description-size": "the channel description is at most Apple's 4000 bytes",
    "channel.category": "itunes:category is one of Apple Podcasts' categories",
    "channel.explicit": "itunes:explicit is true or false",
    "channel.self-link": 'atom:link rel="self" gives the feed\'s own absolute http(s) URL',
    "channel.podcast-guid": "podcast:guid is the UUIDv5 of the feed URL",
    "channel.last-build-date": "lastBuildDate, when present, is an RFC 2822 date",
    "channel.cover": "the channel's itunes:image is a file under the feed's base URL",
    "cover.valid": "the cover (and each episode image) is a valid square JPEG or PNG of an accepted size",
    "item.title": "each item has a title",
    "item.guid": 'each item has a guid with isPermaLink="false"',
    "item.guid-unique": "no two items share a guid",
    "item.pubdate": "each item's pubDate is an RFC 2822 date with the right weekday",
    "item.url": "each URL an item names is ASCII, absolute and under the feed's base URL",
    "item.file-exists": "each file an item names exists in the output folder",
    "item.enclosure": "each item has exactly one audio/mpeg enclosure, its URL used by no other item",
    "item.enclosure-length": "the enclosure length is the MP3's size in bytes",
    "item.duration": "itunes:duration is given in whole seconds",
    "item.chapters": "each item has one podcast:chapters of type application/json+chapters",
    "item.transcripts": 'each item has one text/vtt (rel="captions") and one application/x-subrip transcript',
    "item.psc": "psc:chapters are zero-padded HH:MM:SS(.mmm), titled and in time order",
    "parser.missing": "the feed parsers (podcastparser, feedparser) are installed",
    "parser.podcastparser": "podcastparser (gPodder) reads every item with its guid, title and one enclosure",
    "parser.feedparser": "feedparser reads the feed without error, every entry with its title and one enclosure",
    "audio.tool": "ffmpeg is available to check the audio",
    "audio.decode": "ffmpeg decodes each MP3",
    "audio.duration": "itunes:duration is within 2 s of the decoded audio",
    "audio.loudness": "integrated loudness is within ±1 LU of the show's target",
    "audio.true-peak": "the true peak is at most the show's ceiling",
    "tags.id3": "each MP3 has a readable ID3v2.3 tag",
    "tags.required": "the tag has a title (TIT2), album (TALB), track (TRCK) and genre Podcast (TCON)",
    "tags.identity": "the tag's title and track are those of the feed item (or build record) naming the file",
    "chapters.frames": "CHAP element ids are unique and one ordered top-level CTOC lists them in time order",
    "chapters.timeline": "the MP3's chapters start at 0, are titled, leave no gap or overlap and end with the audio",
    "chapters.ffmpeg": "ffmpeg reads the same chapters as the CHAP frames",
    "chapters.json": "the chapters JSON is version 1.2.0 with numeric, ascending startTimes",
    "chapters.json-match": "the chapters JSON has the CHAP frames' chapters, times and titles",
    "chapters.psc-match": "the feed's psc:chapters are present and start where the MP3's chapters do",
    "cues.read": "each transcript is readable UTF-8 that its parser (webvtt-py, srt) accepts",
    "cues.timeline": "cues exist, are in order, end after they start and not after the audio",
    "cues.match": "the SRT has the VTT's cues with the same timings",
}

#: The rules of reading a published show back over HTTP(S) (`check --published URL`), besides all of RULES,
#: which apply to what the server sent. Each has a test that serves a tampered show with a real nginx
#: (tests/test_published_http.py).
HTTP_RULES: dict[str, str] = {
    "http.reachable": "the host answers: its name resolves, it accepts the connection, TLS verifies, in time",
    "http.status": "HEAD and GET of the feed and of every file it names answer 200 OK",
    "http.length": "Content-Length is the size of the body sent, the same for HEAD, and the enclosure's length",
    "http.content-type": "each file is sent with the Content-Type the feed gives it (or its kind's, for "
                         "the feed and images)",
    "http.range": "every enclosure answers Range requests (the first and last bytes) with 206 and Content-Range",
    "http.self-url": 'the feed\'s atom:link rel="self" is the URL it is read from (base_url names the host)',
    "http.feed-cache": "the feed may be cached for at most an hour (Cache-Control), so new episodes show",
}

#: Chapter boundaries may differ by this much (seconds) between readers, and leave gaps or overlaps this large.
CHAPTER_TOLERANCE = 0.05


@dataclass(frozen=True)
class PublishedReport:
    """What `narrate check --published` found: OK/info lines, problems (one per line) and per-file measurements.

    `rules` holds the id (a key of RULES) of the rule each problem breaks, in the order of `problems`.
    """

    lines: tuple[str, ...]
    problems: tuple[str, ...]
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


@dataclass
class Findings:
    """Lines and problems collected by one part of the check, each problem with the id of the rule it breaks."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    #: Paths already reported as not regular files (FIFOs, devices), so each gets one line.
    special: set[Path] = field(default_factory=set)

    def problem(self, rule: str, where: str, message: str) -> None:
        """Record that `where` breaks `rule` (a key of RULES)."""
        if rule not in RULES and rule not in HTTP_RULES:
            raise KeyError(f"unknown rule {rule!r}")
        self.problems.append(f"{where}: {message}")
        self.rules.append(rule)

    def extend(self, other: Findings) -> None:
        """Add another part's findings after these."""
        self.lines.extend(other.lines)
        self.problems.extend(other.problems)
        self.rules.extend(other.rules)
        self.special |= other.special


@dataclass
class EpisodeFiles:
    """One episode to check: its MP3 and sidecars in the output folder, and what the feed says about it."""

    label: str
    mp3: Path
    number: int = 0
    in_feed: bool = True
    chapters: Path | None = None
    vtt: Path | None = None
    srt: Path | None = None
    feed_duration: int | None = None
    psc: list[tuple[float, str]] | None = None
    #: The title the feed item (or build record) gives the episode, to compare with the MP3's own tags.
    title: str | None = None


@dataclass
class ChapterRead:
    """A chapter as one reader saw it, in seconds (end NaN when the reader was not told it)."""

    start: float
    end: float
    title: str


def not_regular(path: Path) -> str | None:
    """Why a path that exists is not a file narrate could have published (a FIFO, a device...), else None.

    Only `stat` is used: opening a FIFO would block until a writer comes, and /dev/zero never ends.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    if path.is_symlink():
        return f"is a symbolic link to {os.path.realpath(path)}, {kind}, not a regular file; publish the real file"
    return f"is {kind}, not a regular file; publish the real file"

