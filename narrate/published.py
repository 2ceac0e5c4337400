"""`narrate check --published`: read the built show back the way podcast apps and players do.

Everything is checked and every failure collected, one line each naming the file, so one run shows
all that is wrong. The feed is read with an XML parser and with gPodder's podcastparser and
feedparser (the test extra); each MP3's chapters are read with mutagen and with ffmpeg, and its
loudness measured with ffmpeg's EBU R128 scanner. The rules are those in the shared STANDARDS.md.

Loudness targets are parameters (default -16 LUFS integrated, -1 dBTP true peak, the values narrate
encodes to by default); the command line uses the defaults.
"""
from __future__ import annotations

import email.utils
import io
import json
import logging
import os
import re
import stat
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mutagen.id3 import ID3, CTOCFlags, ID3NoHeaderError
from mutagen import MutagenError

from narrate.audio import Loudness, audio_duration, find_ffmpeg, measure_loudness
from narrate.categories import APPLE_CATEGORIES
from narrate.cover import cover_problem
from narrate.errors import NarrateError
from narrate.feed import ATOM_NS, CONTENT_NS, ITUNES_NS, MAX_DESCRIPTION_BYTES, PODCAST_NS, PSC_NS, podcast_guid
from narrate.publish import CONTENT_NAME_RE, FEED_NAME, sidecar_names
from narrate.record import load_record
from narrate.transcript import parse_srt, parse_webvtt

log = logging.getLogger(__name__)

#: Chapter boundaries may differ by this much (seconds) between readers, and leave gaps or overlaps this large.
CHAPTER_TOLERANCE = 0.05
#: The last chapter must end this close (seconds) to the end of the decoded audio.
END_TOLERANCE = 0.5
#: itunes:duration (whole seconds) may differ this much from the decoded audio.
DURATION_TOLERANCE = 2.0
#: Cues may end this far past the end of the audio (rounding of the last cue).
CUE_SLACK = 0.1
#: Integrated loudness may be this far (LU) from the target.
LOUDNESS_TOLERANCE = 1.0

INSTALL_HINT = "install the test extra: pip install -e '.[test]'"
CHAPTERS_TYPE = "application/json+chapters"
PODCAST_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# RFC 2822 as Apple shows it: "Thu, 21 Nov 2026 09:00:00 +0000" (day and time zero-padded, numeric zone).
RFC2822_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
PSC_TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class PublishedReport:
    """What `narrate check --published` found: OK/info lines, problems (one per line) and per-file measurements."""

    lines: tuple[str, ...]
    problems: tuple[str, ...]
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


@dataclass
class _Findings:
    """Lines and problems collected by one part of the check."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Paths already reported as not regular files (FIFOs, devices), so each gets one line.
    special: set[Path] = field(default_factory=set)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def extend(self, other: _Findings) -> None:
        self.lines.extend(other.lines)
        self.problems.extend(other.problems)
        self.special |= other.special


def _not_regular(path: Path) -> str | None:
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


@dataclass
class _Episode:
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
class _ChapterRead:
    """A chapter as one reader saw it, in seconds."""

    start: float
    end: float
    title: str


# ---------------------------------------------------------------------------------------------- feed


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _base_url(self_href: str) -> str:
    """The folder URL the feed lives in: its own URL up to and including the last slash."""
    return self_href[: self_href.rfind("/") + 1] if "/" in self_href else ""


def _is_ascii(text: str) -> bool:
    return all(ord(c) < 128 for c in text)


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _local(output: Path, base: str, url: str) -> Path | None:
    """The file in `output` a published URL points to, or None when the URL is outside the feed's folder."""
    if not base or not url.startswith(base):
        return None
    relative = unquote(urlsplit(url[len(base):]).path)
    parts = Path(relative).parts
    if not relative or relative.startswith("/") or ".." in parts:
        return None
    return output.joinpath(*parts)


def _psc_seconds(value: str) -> float | None:
    match = PSC_TIME_RE.match(value)
    if not match:
        return None
    hours, minutes, seconds, millis = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int((millis or "0").ljust(3, "0")) / 1000


def _namespaces(data: bytes) -> dict[str, str]:
    """Prefixes declared in the document, as written (ElementTree drops the xmlns attributes)."""
    declared: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
        declared.setdefault(prefix, uri)
    return declared


def _check_channel(channel: ET.Element, data: bytes, rss: ET.Element, found: _Findings) -> tuple[str, str]:
    """Channel-level rules; returns (the feed's own URL, its base URL)."""
    where = FEED_NAME
    if rss.tag != "rss" or rss.get("version") != "2.0":
        found.problem(where, 'the root element must be <rss version="2.0">')
    head = data[:200].decode("utf-8", errors="replace")
    declaration = re.match(r"<\?xml[^>]*encoding=[\"']([^\"']+)[\"']", head)
    if declaration and declaration.group(1).lower() not in ("utf-8", "utf8"):
        found.problem(where, f"encoding is {declaration.group(1)}, not UTF-8")
    declared = _namespaces(data)
    wanted = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}
    if channel.find("item") is not None:
        wanted["content"] = CONTENT_NS  # ElementTree declares it only where content:encoded is used
    for prefix, uri in wanted.items():
        if declared.get(prefix) != uri:
            found.problem(where, f'xmlns:{prefix}="{uri}" is not declared')

    for name in ("title", "language"):
        if not _text(channel.find(name)):
            found.problem(where, f"channel <{name}> is missing or empty")
    description = channel.find("description")
    if description is None or not _text(description):
        found.problem(where, "channel <description> is missing or empty")
    elif len((description.text or "").encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        found.problem(where, f"channel <description> is {len(description.text.encode('utf-8'))} bytes, "
                             f"over Apple's {MAX_DESCRIPTION_BYTES}")
    image = channel.find(_tag(ITUNES_NS, "image"))
    if image is None or not image.get("href"):
        found.problem(where, "channel <itunes:image href=...> is missing")
    category = channel.find(_tag(ITUNES_NS, "category"))
    if category is None or not category.get("text"):
        found.problem(where, "channel <itunes:category text=...> is missing")
    elif category.get("text") not in APPLE_CATEGORIES:
        found.problem(where, f"itunes:category '{category.get('text')}' is not an Apple Podcasts category")
    explicit = _text(channel.find(_tag(ITUNES_NS, "explicit")))
    if explicit not in ("true", "false"):
        found.problem(where, f"channel <itunes:explicit> must be true or false (it is '{explicit}')")

    self_href = ""
    for link in channel.findall(_tag(ATOM_NS, "link")):
        if link.get("rel") == "self":
            self_href = link.get("href", "")
    if not self_href:
        found.problem(where, '<atom:link rel="self" href=...> is missing: cannot tell the feed\'s own URL')
    elif not _is_absolute(self_href):
        found.problem(where, f"atom:link self href '{self_href}' is not an absolute http(s) URL")
    guid = _text(channel.find(_tag(PODCAST_NS, "guid")))
    if not guid:
        found.problem(where, "channel <podcast:guid> is missing")
    elif self_href and guid != podcast_guid(self_href):
        found.problem(where, f"podcast:guid {guid} is not the UUIDv5 of the feed URL "
                             f"(expected {podcast_guid(self_href)})")
    elif not PODCAST_GUID_RE.match(guid):
        found.problem(where, f"podcast:guid {guid} is not a version 5 UUID")
    return self_href, _base_url(self_href)


def _pubdate_problem(text: str) -> str | None:
    if not text:
        return "<pubDate> is missing"
    if not RFC2822_RE.match(text):
        return f"pubDate '{text}' is not RFC 2822 (e.g. 'Thu, 21 Nov 2026 09:00:00 +0000')"
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return f"pubDate '{text}' is not a real date"
    if WEEKDAYS[moment.weekday()] != text[:3]:
        return f"pubDate '{text}': the day of the week is wrong (it was a {WEEKDAYS[moment.weekday()]})"
    return None


def _check_item(item: ET.Element, index: int, output: Path, base: str, found: _Findings,
                seen_urls: set[str]) -> tuple[str, str, _Episode | None]:
    """Item-level rules; returns (guid, title, the episode's files) — files None without a usable enclosure."""
    title = _text(item.find("title"))
    number = _text(item.find(_tag(ITUNES_NS, "episode")))
    label = f"episode {number}" if number else f"item {index + 1}"
    where = f"{FEED_NAME}: {label}" + (f" ({title})" if title else "")

    def problem(message: str) -> None:
        found.problems.append(f"{where}: {message}")

    if not title:
        problem("<title> is missing or empty")
    guid_el = item.find("guid")
    guid = _text(guid_el)
    if not guid:
        problem("<guid> is missing or empty")
    elif guid_el is not None and guid_el.get("isPermaLink") != "false":
        problem('<guid> must have isPermaLink="false" (gPodder turns a bare guid into a URL)')
    pubdate = _pubdate_problem(_text(item.find("pubDate")))
    if pubdate:
        problem(pubdate)

    def mapped(url: str | None, what: str) -> Path | None:
        """The local file for a URL, with a problem when it cannot be found."""
        if not url:
            problem(f"{what} has no url")
            return None
        if not _is_ascii(url):
            problem(f"{what} URL {url} is not ASCII")
        if not _is_absolute(url):
            problem(f"{what} URL {url} is not an absolute http(s) URL")
        path = _local(output, base, url)
        if path is None:
            problem(f"{what} URL {url} is not under the feed's base URL {base or '(unknown)'}")
            return None
        why = _not_regular(path)
        if why:
            if path not in found.special:
                found.problem(path.name, why)
                found.special.add(path)
            return None
        if not path.is_file():
            problem(f"{what} {path.name} does not exist in {output}")
            return None
        return path

    enclosures = item.findall("enclosure")
    mp3: Path | None = None
    if len(enclosures) != 1:
        problem(f"has {len(enclosures)} <enclosure> elements; exactly one is required")
    if enclosures:
        enclosure = enclosures[0]
        url = enclosure.get("url", "")
        if url in seen_urls:
            problem(f"enclosure URL {url} is used by another item too")
        seen_urls.add(url)
        if enclosure.get("type") != "audio/mpeg":
            problem(f"enclosure type is '{enclosure.get('type')}', not audio/mpeg")
        mp3 = mapped(url, "enclosure")
        length = enclosure.get("length", "")
        if not length.isdigit():
            problem(f"enclosure length '{length}' is not a whole number of bytes")
        elif mp3 is not None and int(length) != mp3.stat().st_size:
            problem(f"enclosure length {length} differs from the size of {mp3.name} ({mp3.stat().st_size} bytes)")

    duration_text = _text(item.find(_tag(ITUNES_NS, "duration")))
    feed_duration: int | None = None
    if not duration_text:
        problem("<itunes:duration> is missing")
    elif not duration_text.isdigit():
        problem(f"itunes:duration '{duration_text}' is not whole seconds")
    else:
        feed_duration = int(duration_text)

    chapters_path: Path | None = None
    chapter_els = item.findall(_tag(PODCAST_NS, "chapters"))
    if len(chapter_els) != 1:
        problem(f"has {len(chapter_els)} <podcast:chapters> elements; expected one")
    for element in chapter_els[:1]:
        if element.get("type") != CHAPTERS_TYPE:
            problem(f"podcast:chapters type is '{element.get('type')}', not {CHAPTERS_TYPE}")
        chapters_path = mapped(element.get("url"), "podcast:chapters")

    transcripts = item.findall(_tag(PODCAST_NS, "transcript"))
    vtt = [t for t in transcripts if t.get("type") == "text/vtt"]
    srt = [t for t in transcripts if t.get("type") == "application/x-subrip"]
    vtt_path = srt_path = None
    if len(vtt) != 1:
        problem(f'has {len(vtt)} <podcast:transcript type="text/vtt">; expected one')
    else:
        if vtt[0].get("rel") != "captions":
            problem('the text/vtt podcast:transcript needs rel="captions" (its cues are timed)')
        vtt_path = mapped(vtt[0].get("url"), "podcast:transcript text/vtt")
    if len(srt) != 1:
        problem(f'has {len(srt)} <podcast:transcript type="application/x-subrip">; expected one')
    else:
        srt_path = mapped(srt[0].get("url"), "podcast:transcript application/x-subrip")

    psc: list[tuple[float, str]] | None = None
    psc_el = item.find(_tag(PSC_NS, "chapters"))
    if psc_el is not None:
        psc = []
        for chapter in psc_el.findall(_tag(PSC_NS, "chapter")):
            start = _psc_seconds(chapter.get("start", ""))
            if start is None:
                problem(f"psc:chapter start '{chapter.get('start')}' is not zero-padded HH:MM:SS(.mmm)")
                continue
            if psc and start < psc[-1][0]:
                problem(f"psc:chapters are not in time order ({chapter.get('start')} after "
                        f"{_clock(psc[-1][0])})")
            if not chapter.get("title"):
                problem(f"psc:chapter at {chapter.get('start')} has no title")
            psc.append((start, chapter.get("title", "")))
        if not psc:
            problem("<psc:chapters> has no valid chapters")

    for art in item.findall(_tag(ITUNES_NS, "image")):
        art_path = mapped(art.get("href"), "itunes:image")
        if art_path is not None:
            reason = cover_problem(art_path, what="episode image")
            if reason:
                problem(f"{art_path.name}: {reason}")

    if mp3 is None:
        return guid, title, None
    return guid, title, _Episode(label=label, mp3=mp3, number=int(number) if number.isdigit() else 0,
                                 chapters=chapters_path, vtt=vtt_path, srt=srt_path,
                                 feed_duration=feed_duration, psc=psc, title=title)


def _check_with_parsers(data: bytes, feed_url: str, items: Sequence[tuple[str, str]], found: _Findings) -> None:
    """Read the feed with podcastparser (gPodder) and feedparser; every item must come through intact."""
    where = FEED_NAME
    try:
        import podcastparser
    except ImportError:
        found.problem(where, f"cannot check with podcastparser, it is not installed: {INSTALL_HINT}")
    else:
        try:
            parsed = podcastparser.parse(feed_url or "http://localhost/feed.xml", io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any failure of the parser is the finding
            found.problem(where, f"podcastparser cannot read it ({type(exc).__name__}: {exc})")
        else:
            episodes = {e.get("guid"): e for e in parsed.get("episodes", [])}
            by_title = {e.get("title"): e for e in parsed.get("episodes", [])}
            for guid, title in items:
                if not guid:
                    continue  # already a problem; nothing to match the parser's result by
                episode = episodes.get(guid)
                if episode is None and title in by_title:
                    found.problem(where, f"podcastparser reads the guid of '{title}' as {by_title[title].get('guid')}"
                                         f", not {guid}")
                    continue
                if episode is None:
                    found.problem(where, f"podcastparser dropped the item '{title}' (guid {guid}): "
                                         "it keeps only items with a guid and exactly one enclosure")
                    continue
                if not episode.get("title"):
                    found.problem(where, f"podcastparser finds no title for item guid {guid}")
                if len(episode.get("enclosures", [])) != 1:
                    found.problem(where, f"podcastparser finds {len(episode.get('enclosures', []))} enclosures "
                                         f"in item '{title}'")
    try:
        import feedparser
    except ImportError:
        found.problem(where, f"cannot check with feedparser, it is not installed: {INSTALL_HINT}")
        return
    result = feedparser.parse(data)
    if result.get("bozo"):
        found.problem(where, f"feedparser reports a malformed feed ({result.get('bozo_exception')})")
    entries = {e.get("id"): e for e in result.get("entries", [])}
    for guid, title in items:
        if not guid:
            continue
        entry = entries.get(guid)
        if entry is None:
            found.problem(where, f"feedparser finds no entry with guid {guid} ('{title}')")
            continue
        if not entry.get("title"):
            found.problem(where, f"feedparser finds no title for entry guid {guid}")
        if len(entry.get("enclosures", [])) != 1:
            found.problem(where, f"feedparser finds {len(entry.get('enclosures', []))} enclosures in '{title}'")


def _check_feed(output: Path, found: _Findings) -> tuple[list[_Episode], Path | None] | None:
    """The feed's rules; returns its episodes and the cover's local path, or None when it cannot be read."""
    path = output / FEED_NAME
    why = _not_regular(path)
    if why:
        found.problem(FEED_NAME, why)
        return None
    if not path.is_file():
        found.problem(FEED_NAME, f"missing in {output} (run narrate build first)")
        return None
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        found.problem(FEED_NAME, f"not valid UTF-8 ({exc})")
    try:
        rss = ET.fromstring(data)
    except ET.ParseError as exc:
        found.problem(FEED_NAME, f"not well-formed XML ({exc})")
        return None
    channel = rss.find("channel")
    if channel is None:
        found.problem(FEED_NAME, "has no <channel>")
        return None
    feed_url, base = _check_channel(channel, data, rss, found)
    build_date = channel.find("lastBuildDate")
    if build_date is not None:
        problem = _pubdate_problem(_text(build_date))
        if problem:
            found.problem(FEED_NAME, "channel " + problem.replace("pubDate", "lastBuildDate"))

    episodes: list[_Episode] = []
    identities: list[tuple[str, str]] = []
    seen_urls: set[str] = set()
    guids: set[str] = set()
    for index, item in enumerate(channel.findall("item")):
        guid, title, episode = _check_item(item, index, output, base, found, seen_urls)
        if guid:
            if guid in guids:
                found.problem(FEED_NAME, f"guid {guid} is used by more than one item")
            guids.add(guid)
        identities.append((guid, title))
        if episode is not None:
            episodes.append(episode)
    _check_with_parsers(data, feed_url, identities, found)

    cover: Path | None = None
    image = channel.find(_tag(ITUNES_NS, "image"))
    if image is not None and image.get("href"):
        href = image.get("href", "")
        cover = _local(output, base, href)
        if cover is None:
            found.problem(FEED_NAME, f"itunes:image {href} is not under the feed's base URL {base or '(unknown)'}")
        elif _not_regular(cover):
            found.problem(cover.name, _not_regular(cover) or "")
            found.special.add(cover)
            cover = None
        elif not cover.is_file():
            found.problem(FEED_NAME, f"itunes:image {cover.name} does not exist in {output}")
            cover = None
    count = f"{len(identities)} episode{'' if len(identities) == 1 else 's'}"
    found.lines.append(f"{FEED_NAME}: {count}, read with an XML parser, podcastparser and feedparser")
    return episodes, cover


# ---------------------------------------------------------------------------------------------- audio


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


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


def ffmpeg_chapters(path: Path) -> list[_ChapterRead]:
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
            chapters.append(_ChapterRead(int(entry["start"]) * scale, int(entry["end"]) * scale,
                                         entry.get("title", "")))
        except (KeyError, ValueError, ZeroDivisionError) as exc:
            raise NarrateError(f"ffmpeg printed a chapter of {path.name} that cannot be read ({exc})") from None
    return sorted(chapters, key=lambda c: c.start)


def _timeline_problems(chapters: Sequence[_ChapterRead], duration: float | None) -> list[str]:
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


def _compare_chapters(a: Sequence[_ChapterRead], b: Sequence[_ChapterRead], what: str) -> list[str]:
    if len(a) != len(b):
        return [f"{what} has {len(b)} chapters, the ID3 CHAP frames {len(a)}"]
    problems = []
    for index, (x, y) in enumerate(zip(a, b)):
        if abs(x.start - y.start) > CHAPTER_TOLERANCE or abs(x.end - y.end) > CHAPTER_TOLERANCE:
            problems.append(f"{what} chapter {index + 1} is {y.start:.3f}-{y.end:.3f} s, "
                            f"the CHAP frame {x.start:.3f}-{x.end:.3f} s")
        if x.title != y.title:
            problems.append(f"{what} chapter {index + 1} is titled '{y.title}', the CHAP frame '{x.title}'")
    return problems


def _id3_chapters(path: Path, found: _Findings, episode: _Episode | None = None) -> list[_ChapterRead] | None:
    """Tag rules, the tags against the feed item, and the CHAP frames (sorted by start: mutagen keeps its own
    frame order)."""
    where = path.name
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        found.problem(where, "has no ID3v2 tag")
        return None
    except (OSError, MutagenError, ValueError) as exc:
        found.problem(where, f"cannot read its ID3 tag ({exc})")
        return None
    if tags.version[:2] != (2, 3):
        found.problem(where, f"tag is ID3v{tags.version[0]}.{tags.version[1]}, not ID3v2.3 "
                             "(Apple Podcasts mishandles v2.4 chapter titles)")
    for frame, name in (("TIT2", "title"), ("TALB", "album"), ("TRCK", "track")):
        if not str(tags.get(frame, "")).strip():
            found.problem(where, f"no {name} ({frame}) in the tag")
    if episode is not None:
        # The tags say which episode the bytes are: two files swapped (even of the same size) are caught here.
        tagged_title, tagged_track = str(tags.get("TIT2", "")).strip(), str(tags.get("TRCK", "")).strip()
        tagged_number = tagged_track.split("/")[0]
        title_differs = episode.title is not None and bool(tagged_title) and tagged_title != episode.title
        number_differs = bool(episode.number) and bool(tagged_number) and tagged_number != str(episode.number)
        if title_differs or number_differs:
            owner = "the feed item" if episode.in_feed else "the build record"
            found.problem(where, f"its tags say track {tagged_number} '{tagged_title}', but {owner} naming it is "
                                 f"episode {episode.number} '{episode.title}': these bytes belong to another episode")
    genre = tags.get("TCON")
    if genre is None or "Podcast" not in [str(g) for g in genre.text]:
        found.problem(where, "genre (TCON) is not Podcast")

    chaps = sorted(tags.getall("CHAP"), key=lambda f: (f.start_time, f.element_id))
    chapters = []
    for chap in chaps:
        title = chap.sub_frames.get("TIT2")
        chapters.append(_ChapterRead(chap.start_time / 1000, chap.end_time / 1000, str(title) if title else ""))
    ids = [c.element_id for c in chaps]
    if len(set(ids)) != len(ids):
        found.problem(where, "CHAP element IDs are not unique")
    tocs = tags.getall("CTOC")
    top = [t for t in tocs if t.flags & CTOCFlags.TOP_LEVEL]
    if chaps and len(top) != 1:
        found.problem(where, f"has {len(top)} top-level CTOC frames; exactly one is required")
    for toc in top[:1]:
        if not toc.flags & CTOCFlags.ORDERED:
            found.problem(where, "the CTOC frame is not flagged ordered")
        if list(toc.child_element_ids) != ids:
            found.problem(where, f"the CTOC lists {list(toc.child_element_ids)}, but the chapters in time order are "
                                 f"{ids}")
    return chapters


def _json_chapters(path: Path, found: _Findings) -> list[_ChapterRead] | None:
    where = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["chapters"]
        if not isinstance(entries, list):
            raise TypeError("'chapters' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        found.problem(where, f"not valid JSON chapters ({exc})")
        return None
    if data.get("version") != "1.2.0":
        found.problem(where, f"version is {data.get('version')!r}, not '1.2.0'")
    chapters: list[_ChapterRead] = []
    for index, entry in enumerate(entries):
        start = entry.get("startTime") if isinstance(entry, dict) else None
        if not isinstance(start, (int, float)) or isinstance(start, bool):
            found.problem(where, f"chapter {index + 1} has no numeric startTime")
            continue
        if chapters and start < chapters[-1].start:
            found.problem(where, f"chapter {index + 1} starts before the one before it")
        end = entry.get("endTime")
        chapters.append(_ChapterRead(float(start), float(end) if isinstance(end, (int, float)) else float("nan"),
                                     str(entry.get("title", ""))))
    # Where a chapter has no endTime, it runs to the next start; compare only what is written.
    for index, chapter in enumerate(chapters):
        if chapter.end != chapter.end:  # NaN: not given
            chapter.end = chapters[index + 1].start if index + 1 < len(chapters) else float("nan")
    return chapters


def _compare_json(id3: Sequence[_ChapterRead], doc: Sequence[_ChapterRead]) -> list[str]:
    if len(id3) != len(doc):
        return [f"has {len(doc)} chapters, the MP3's CHAP frames {len(id3)}"]
    problems = []
    for index, (x, y) in enumerate(zip(id3, doc)):
        if abs(x.start - y.start) > CHAPTER_TOLERANCE:
            problems.append(f"chapter {index + 1} starts at {y.start:.3f} s, the CHAP frame at {x.start:.3f} s")
        if y.end == y.end and abs(x.end - y.end) > CHAPTER_TOLERANCE:
            problems.append(f"chapter {index + 1} ends at {y.end:.3f} s, the CHAP frame at {x.end:.3f} s")
        if x.title != y.title:
            problems.append(f"chapter {index + 1} is titled '{y.title}', the CHAP frame '{x.title}'")
    return problems


def _read_cues(path: Path, vtt: bool, found: _Findings) -> list[tuple[float, float, str]] | None:
    """A transcript's cues as (start, end, text), or None (with a problem) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        found.problem(path.name, f"cannot read it ({exc})")
        return None
    if vtt and text.lstrip("\ufeff").splitlines()[:1] != ["WEBVTT"] \
            and not re.match(r"WEBVTT[ \t]", text.lstrip("\ufeff")):
        found.problem(path.name, "the first line must be WEBVTT")
        return None
    try:
        return parse_webvtt(text) if vtt else parse_srt(text)
    except ValueError as exc:
        found.problem(path.name, str(exc))
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


def _check_episode(episode: _Episode) -> tuple[_Findings, dict[str, Any]]:
    """Everything about one MP3 except its loudness: tags, chapters (three readers), duration, transcripts."""
    found = _Findings()
    mp3 = episode.mp3
    measured: dict[str, Any] = {}
    duration: float | None = None
    try:
        duration = audio_duration(mp3)
        measured["duration"] = round(duration, 3)
    except NarrateError as exc:
        found.problem(mp3.name, f"ffmpeg cannot decode it ({exc.message})")
    if duration is not None and episode.feed_duration is not None \
            and abs(duration - episode.feed_duration) > DURATION_TOLERANCE:
        found.problem(FEED_NAME, f"{episode.label}: itunes:duration {episode.feed_duration} s differs from "
                                 f"{mp3.name} ({duration:.1f} s)")

    id3 = _id3_chapters(mp3, found, episode)
    if id3 is not None:
        measured["chapters"] = len(id3)
        for message in _timeline_problems(id3, duration):
            found.problem(mp3.name, f"ID3 chapters: {message}")
        try:
            for message in _compare_chapters(id3, ffmpeg_chapters(mp3), "ffmpeg"):
                found.problem(mp3.name, message)
        except NarrateError as exc:
            found.problem(mp3.name, exc.message)
        if episode.chapters is not None:
            doc = _json_chapters(episode.chapters, found)
            if doc is not None:
                for message in _compare_json(id3, doc):
                    found.problem(episode.chapters.name, message)
        if episode.psc is not None:
            starts = [start for start, _title in episode.psc]
            if len(starts) != len(id3) or any(abs(s - c.start) > CHAPTER_TOLERANCE for s, c in zip(starts, id3)):
                found.problem(FEED_NAME, f"{episode.label}: psc:chapters start at "
                                         f"{', '.join(f'{s:.3f}' for s in starts)} s, the MP3's chapters at "
                                         f"{', '.join(f'{c.start:.3f}' for c in id3)} s")
        elif id3 and episode.in_feed:
            found.problem(FEED_NAME, f"{episode.label}: no <psc:chapters> (gPodder reads chapters from them)")

    counts: dict[str, int] = {}
    timings: dict[str, list[tuple[float, float]]] = {}
    for kind, path in (("vtt", episode.vtt), ("srt", episode.srt)):
        if path is None:
            continue
        cues = _read_cues(path, kind == "vtt", found)
        if cues is None:
            continue
        counts[kind] = len(cues)
        timings[kind] = [(round(s, 3), round(e, 3)) for s, e, _t in cues]
        problems, worst = _cue_problems(cues, duration)
        for message in problems:
            found.problem(path.name, message)
        for key, value in worst.items():
            measured[key] = max(measured.get(key, 0.0), value)
    if episode.srt is not None and "vtt" in counts and "srt" in counts:
        if counts["vtt"] != counts["srt"]:
            found.problem(episode.srt.name, f"{counts['srt']} cues, but the VTT has {counts['vtt']}")
        else:
            differ = [i + 1 for i, (a, b) in enumerate(zip(timings["vtt"], timings["srt"])) if a != b]
            if differ:
                found.problem(episode.srt.name,
                              f"cue timings differ from the VTT at cue {differ[0]} ({len(differ)} cues in all)")
    if counts:
        measured["cues"] = max(counts.values())
    return found, measured


def _check_loudness(path: Path, loudness: float, true_peak: float) -> tuple[_Findings, Loudness | None]:
    found = _Findings()
    try:
        measured = measure_loudness(path, true_peak=True)
    except NarrateError as exc:
        found.problem(path.name, exc.message)
        return found, None
    if not abs(measured.integrated - loudness) <= LOUDNESS_TOLERANCE:
        found.problem(path.name, f"integrated loudness {measured.integrated:.1f} LUFS is outside the target "
                                 f"{loudness:.1f} ±{LOUDNESS_TOLERANCE:g} LU")
    if not measured.true_peak <= true_peak:
        found.problem(path.name, f"true peak {measured.true_peak:.1f} dBTP is above the {true_peak:.1f} dBTP limit")
    return found, measured


def _unlisted(output: Path, listed: Sequence[_Episode], found: _Findings) -> list[_Episode]:
    """MP3s in the folder that no feed item points to (episodes dated later), with the sidecars the build
    record names for them (or, for the older layout, those of the same name)."""
    known = {e.mp3.resolve() for e in listed}
    by_file = {rec.file: rec for rec in load_record(output).values()}
    extra = []
    for mp3 in sorted(output.glob("*.mp3")):
        if mp3.resolve() in known or mp3.name.startswith(".") or mp3 in found.special:
            continue
        why = _not_regular(mp3)
        if why:
            found.problem(mp3.name, why)
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
            return path if path is not None and path.is_file() and not _not_regular(path) else None

        extra.append(_Episode(label=mp3.name, mp3=mp3, in_feed=False, number=rec.number if rec else 0,
                              chapters=regular("chapters"), vtt=regular("vtt"), srt=regular("srt"),
                              title=rec.title if rec else None))
    return extra


def check_published(output: Path, loudness: float = -16.0, true_peak: float = -1.0) -> PublishedReport:
    """Check a built show folder as apps will read it; every problem is collected, none stops the check."""
    output = Path(output)
    found = _Findings()
    measurements: dict[str, dict[str, Any]] = {}
    if not output.is_dir():
        return PublishedReport((), (f"{output}: no such folder (run narrate build first)",), measurements)

    feed = _check_feed(output, found)
    listed, cover = feed if feed is not None else ([], None)
    if feed is None:
        # Without a readable feed, still check what can be found by name, so one run shows everything.
        covers = sorted(p for p in output.glob("cover.*") if p.is_file() and not _not_regular(p))
        cover = covers[0] if covers else None
    unlisted = _unlisted(output, listed, found)
    why = "an episode dated later?" if feed is not None else "the feed cannot be read"
    for episode in unlisted:
        found.lines.append(f"{episode.label}: not in the feed ({why}); checked by its file name")
    # The feed lists the newest first; the report reads better in episode order.
    episodes = [*sorted(listed, key=lambda e: e.number), *unlisted]

    if cover is not None:
        reason = cover_problem(cover)
        if reason:
            found.problem(cover.name, reason)
        else:
            found.lines.append(f"{cover.name}: a valid cover")

    try:
        find_ffmpeg()
    except NarrateError as exc:
        found.problems.append(f"cannot check the audio: {exc.message}")
        episodes = []
    # The work is in ffmpeg subprocesses, so threads run it in parallel; loudness (the slowest) goes first.
    workers = max(2, min(8, os.cpu_count() or 2, 2 * len(episodes) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        loud: list[Future[tuple[_Findings, Loudness | None]]] = [
            pool.submit(_check_loudness, e.mp3, loudness, true_peak) for e in episodes]
        rest = [pool.submit(_check_episode, e) for e in episodes]
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
    return PublishedReport(tuple(found.lines), tuple(found.problems), measurements)


def _summary(episode: _Episode, measured: dict[str, Any]) -> str:
    """`episode 1: 12:31, -16.1 LUFS, -1.8 dBTP, 6 chapters, 143 cues`."""
    parts = [_clock(measured["duration"]) if "duration" in measured else "duration unknown"]
    if "integrated" in measured:
        parts += [f"{measured['integrated']:.1f} LUFS", f"{measured['true_peak']:.1f} dBTP"]
    if "chapters" in measured:
        parts.append(f"{measured['chapters']} chapters")
    if "cues" in measured:
        parts.append(f"{measured['cues']} cues")
    return f"{episode.label}: " + ", ".join(parts)
