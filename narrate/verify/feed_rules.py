"""Feed rules: feed.xml read with an XML parser, channel by channel and item by item (STANDARDS.md's RSS rules)."""
from __future__ import annotations

import email.utils
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

from narrate.categories import APPLE_CATEGORIES
from narrate.cover import cover_problem
from narrate.feed import (
    ATOM_NS,
    CONTENT_NS,
    HISTORY_NS,
    ITUNES_NS,
    MAX_DESCRIPTION_BYTES,
    PODCAST_NS,
    PSC_NS,
    podcast_guid,
)
from narrate.publish import FEED_NAME
from narrate.timefmt import duration
from narrate.verify.parsers import check_with_parsers
from narrate.verify.rules import EpisodeFiles, Findings, not_regular

CHAPTERS_TYPE = "application/json+chapters"
PODCAST_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# RFC 2822 as Apple shows it: "Thu, 21 Nov 2026 09:00:00 +0000" (day and time zero-padded, numeric zone).
RFC2822_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
PSC_TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def base_url(self_href: str) -> str:
    """The folder URL the feed lives in: its own URL up to and including the last slash."""
    return self_href[: self_href.rfind("/") + 1] if "/" in self_href else ""


def _is_ascii(text: str) -> bool:
    return all(ord(c) < 128 for c in text)


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def local_path(output: Path, base: str, url: str) -> Path | None:
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


def _check_channel(channel: ET.Element, data: bytes, rss: ET.Element, found: Findings, where: str = FEED_NAME,
                   podcast_url: str = "") -> tuple[str, str]:
    """Channel-level rules; returns (the feed's own URL, its base URL).

    For an archive page, `where` is its name and `podcast_url` the URL of feed.xml, whose podcast:guid it shares.
    """
    if rss.tag != "rss" or rss.get("version") != "2.0":
        found.problem("feed.root", where, 'the root element must be <rss version="2.0">')
    head = data[:200].decode("utf-8", errors="replace")
    declaration = re.match(r"<\?xml[^>]*encoding=[\"']([^\"']+)[\"']", head)
    if declaration and declaration.group(1).lower() not in ("utf-8", "utf8"):
        found.problem("feed.utf8", where, f"encoding is {declaration.group(1)}, not UTF-8")
    declared = _namespaces(data)
    wanted = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}
    if channel.find("item") is not None:
        wanted["content"] = CONTENT_NS  # ElementTree declares it only where content:encoded is used
    for prefix, uri in wanted.items():
        if declared.get(prefix) != uri:
            found.problem("feed.namespaces", where, f'xmlns:{prefix}="{uri}" is not declared')

    for name in ("title", "language"):
        if not _text(channel.find(name)):
            found.problem("channel.required", where, f"channel <{name}> is missing or empty")
    description = channel.find("description")
    if description is None or not _text(description):
        found.problem("channel.required", where, "channel <description> is missing or empty")
    elif len((description.text or "").encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        found.problem("channel.description-size", where,
                      f"channel <description> is {len(description.text.encode('utf-8'))} bytes, "
                      f"over Apple's {MAX_DESCRIPTION_BYTES}")
    image = channel.find(_tag(ITUNES_NS, "image"))
    if image is None or not image.get("href"):
        found.problem("channel.required", where, "channel <itunes:image href=...> is missing")
    category = channel.find(_tag(ITUNES_NS, "category"))
    if category is None or not category.get("text"):
        found.problem("channel.required", where, "channel <itunes:category text=...> is missing")
    elif category.get("text") not in APPLE_CATEGORIES:
        found.problem("channel.category", where,
                      f"itunes:category '{category.get('text')}' is not an Apple Podcasts category")
    explicit = _text(channel.find(_tag(ITUNES_NS, "explicit")))
    if explicit not in ("true", "false"):
        found.problem("channel.explicit", where,
                      f"channel <itunes:explicit> must be true or false (it is '{explicit}')")

    self_href = ""
    for link in channel.findall(_tag(ATOM_NS, "link")):
        if link.get("rel") == "self":
            self_href = link.get("href", "")
    if not self_href:
        found.problem("channel.self-link", where,
                      '<atom:link rel="self" href=...> is missing: cannot tell the feed\'s own URL')
    elif not _is_absolute(self_href):
        found.problem("channel.self-link", where, f"atom:link self href '{self_href}' is not an absolute http(s) URL")
    guid = _text(channel.find(_tag(PODCAST_NS, "guid")))
    if not guid:
        found.problem("channel.podcast-guid", where, "channel <podcast:guid> is missing")
    elif (podcast_url or self_href) and guid != podcast_guid(podcast_url or self_href):
        found.problem("channel.podcast-guid", where,
                      f"podcast:guid {guid} is not the UUIDv5 of the feed URL "
                      f"(expected {podcast_guid(podcast_url or self_href)})")
    elif not PODCAST_GUID_RE.match(guid):
        found.problem("channel.podcast-guid", where, f"podcast:guid {guid} is not a version 5 UUID")
    return self_href, base_url(self_href)


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


def _check_item(item: ET.Element, index: int, output: Path, base: str, found: Findings,
                seen_urls: set[str], place: str | None = None,
                document: str = FEED_NAME) -> tuple[str, str, EpisodeFiles | None]:
    """Item-level rules; returns (guid, title, the episode's files) — files None without a usable enclosure."""
    title = _text(item.find("title"))
    number = _text(item.find(_tag(ITUNES_NS, "episode")))
    label = f"episode {number}" if number else f"item {index + 1}"
    where = f"{document}: {label}" + (f" ({title})" if title else "")

    def problem(rule: str, message: str) -> None:
        found.problem(rule, where, message)

    if not title:
        problem("item.title", "<title> is missing or empty")
    guid_el = item.find("guid")
    guid = _text(guid_el)
    if not guid:
        problem("item.guid", "<guid> is missing or empty")
    elif guid_el is not None and guid_el.get("isPermaLink") != "false":
        problem("item.guid", '<guid> must have isPermaLink="false" (gPodder turns a bare guid into a URL)')
    pubdate = _pubdate_problem(_text(item.find("pubDate")))
    if pubdate:
        problem("item.pubdate", pubdate)

    def mapped(url: str | None, what: str) -> Path | None:
        """The local file for a URL, with a problem when it cannot be found."""
        if not url:
            problem("item.url", f"{what} has no url")
            return None
        if not _is_ascii(url):
            problem("item.url", f"{what} URL {url} is not ASCII")
        if not _is_absolute(url):
            problem("item.url", f"{what} URL {url} is not an absolute http(s) URL")
        path = local_path(output, base, url)
        if path is None:
            problem("item.url", f"{what} URL {url} is not under the feed's base URL {base or '(unknown)'}")
            return None
        if path in found.special:
            return None  # already reported (a FIFO, or a file its server would not send)
        why = not_regular(path)
        if why:
            if path not in found.special:
                found.problem("file.not-regular", path.name, why)
                found.special.add(path)
            return None
        if not path.is_file():
            problem("item.file-exists", f"{what} {path.name} does not exist in {place or output}")
            return None
        return path

    enclosures = item.findall("enclosure")
    mp3: Path | None = None
    if len(enclosures) != 1:
        problem("item.enclosure", f"has {len(enclosures)} <enclosure> elements; exactly one is required")
    if enclosures:
        enclosure = enclosures[0]
        url = enclosure.get("url", "")
        if url in seen_urls:
            problem("item.enclosure", f"enclosure URL {url} is used by another item too")
        seen_urls.add(url)
        if enclosure.get("type") != "audio/mpeg":
            problem("item.enclosure", f"enclosure type is '{enclosure.get('type')}', not audio/mpeg")
        mp3 = mapped(url, "enclosure")
        length = enclosure.get("length", "")
        if not length.isdigit():
            problem("item.enclosure-length", f"enclosure length '{length}' is not a whole number of bytes")
        elif mp3 is not None and int(length) != mp3.stat().st_size:
            problem("item.enclosure-length",
                    f"enclosure length {length} differs from the size of {mp3.name} ({mp3.stat().st_size} bytes)")

    duration_text = _text(item.find(_tag(ITUNES_NS, "duration")))
    feed_duration: int | None = None
    if not duration_text:
        problem("item.duration", "<itunes:duration> is missing")
    elif not duration_text.isdigit():
        problem("item.duration", f"itunes:duration '{duration_text}' is not whole seconds")
    else:
        feed_duration = int(duration_text)

    chapters_path: Path | None = None
    chapter_els = item.findall(_tag(PODCAST_NS, "chapters"))
    if len(chapter_els) != 1:
        problem("item.chapters", f"has {len(chapter_els)} <podcast:chapters> elements; expected one")
    for element in chapter_els[:1]:
        if element.get("type") != CHAPTERS_TYPE:
            problem("item.chapters", f"podcast:chapters type is '{element.get('type')}', not {CHAPTERS_TYPE}")
        chapters_path = mapped(element.get("url"), "podcast:chapters")

    transcripts = item.findall(_tag(PODCAST_NS, "transcript"))
    vtt = [t for t in transcripts if t.get("type") == "text/vtt"]
    srt = [t for t in transcripts if t.get("type") == "application/x-subrip"]
    vtt_path = srt_path = None
    if len(vtt) != 1:
        problem("item.transcripts", f'has {len(vtt)} <podcast:transcript type="text/vtt">; expected one')
    else:
        if vtt[0].get("rel") != "captions":
            problem("item.transcripts", 'the text/vtt podcast:transcript needs rel="captions" (its cues are timed)')
        vtt_path = mapped(vtt[0].get("url"), "podcast:transcript text/vtt")
    if len(srt) != 1:
        problem("item.transcripts", f'has {len(srt)} <podcast:transcript type="application/x-subrip">; expected one')
    else:
        srt_path = mapped(srt[0].get("url"), "podcast:transcript application/x-subrip")

    psc: list[tuple[float, str]] | None = None
    psc_el = item.find(_tag(PSC_NS, "chapters"))
    if psc_el is not None:
        psc = []
        for chapter in psc_el.findall(_tag(PSC_NS, "chapter")):
            start = _psc_seconds(chapter.get("start", ""))
            if start is None:
                problem("item.psc", f"psc:chapter start '{chapter.get('start')}' is not zero-padded HH:MM:SS(.mmm)")
                continue
            if psc and start < psc[-1][0]:
                problem("item.psc", f"psc:chapters are not in time order ({chapter.get('start')} after "
                                    f"{duration(psc[-1][0])})")
            if not chapter.get("title"):
                problem("item.psc", f"psc:chapter at {chapter.get('start')} has no title")
            psc.append((start, chapter.get("title", "")))
        if not psc:
            problem("item.psc", "<psc:chapters> has no valid chapters")

    _check_page(_text(item.find("link")), mp3, output, base, problem)

    for art in item.findall(_tag(ITUNES_NS, "image")):
        art_path = mapped(art.get("href"), "itunes:image")
        if art_path is not None:
            reason = cover_problem(art_path, what="episode image")
            if reason:
                problem("cover.valid", f"{art_path.name}: {reason}")

    if mp3 is None:
        return guid, title, None
    return guid, title, EpisodeFiles(label=label, mp3=mp3, number=int(number) if number.isdigit() else 0,
                                         chapters=chapters_path, vtt=vtt_path, srt=srt_path,
                                         feed_duration=feed_duration, psc=psc, title=title)



def _check_page(link: str, mp3: Path | None, output: Path, base: str, problem: Callable[[str, str], None]) -> None:
    """An item's <link> to a page in the output folder (narrate's `episodes/SLUG.html`): it exists and plays the
    enclosure. Links elsewhere, and to the folder itself (the show's index), are the show's own business."""
    page = local_path(output, base, link) if link else None
    if page is None or page == output or link.endswith("/"):
        return
    name = page.relative_to(output).as_posix()
    why = not_regular(page)
    if why:
        problem("item.page", f"<link> {link}: {name} {why}")
        return
    if not page.is_file():
        problem("item.page", f"<link> {link}: the page {name} does not exist in {output}")
        return
    if mp3 is not None and page.suffix == ".html" and mp3.name not in page.read_text(encoding="utf-8", errors="replace"):
        problem("item.page", f"<link> {link}: the page {name} does not play {mp3.name}, the item's enclosure")


def check_feed(output: Path, found: Findings, parsers: dict[str, ModuleType],
               place: str | None = None) -> tuple[list[EpisodeFiles], Path | None] | None:
    """The feed's rules; returns its episodes and the cover's local path, or None when it cannot be read.

    `place` names the output in messages when it is not the folder itself (the show's URL, when the
    folder holds what was read from there).
    """
    path = output / FEED_NAME
    why = not_regular(path)
    if why:
        found.problem("file.not-regular", FEED_NAME, why)
        return None
    if not path.is_file():
        found.problem("feed.present", FEED_NAME, f"missing in {place or output} (run narrate build first)")
        return None
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        found.problem("feed.utf8", FEED_NAME, f"not valid UTF-8 ({exc})")
    try:
        rss = ET.fromstring(data)
    except ET.ParseError as exc:
        found.problem("feed.xml", FEED_NAME, f"not well-formed XML ({exc})")
        return None
    channel = rss.find("channel")
    if channel is None:
        found.problem("feed.xml", FEED_NAME, "has no <channel>")
        return None
    feed_url, base = _check_channel(channel, data, rss, found)
    build_date = channel.find("lastBuildDate")
    if build_date is not None:
        problem = _pubdate_problem(_text(build_date))
        if problem:
            found.problem("channel.last-build-date", FEED_NAME,
                          "channel " + problem.replace("pubDate", "lastBuildDate"))

    episodes: list[EpisodeFiles] = []
    identities: list[tuple[str, str]] = []
    seen_urls: set[str] = set()
    guids: set[str] = set()
    for index, item in enumerate(channel.findall("item")):
        guid, title, episode = _check_item(item, index, output, base, found, seen_urls, place)
        if guid:
            if guid in guids:
                found.problem("item.guid-unique", FEED_NAME, f"guid {guid} is used by more than one item")
            guids.add(guid)
        identities.append((guid, title))
        if episode is not None:
            episodes.append(episode)
    check_with_parsers(data, feed_url, identities, found, parsers)
    episodes += _check_archives(output, channel, feed_url, base, found, parsers, guids)

    cover: Path | None = None
    image = channel.find(_tag(ITUNES_NS, "image"))
    if image is not None and image.get("href"):
        href = image.get("href", "")
        cover = local_path(output, base, href)
        if cover is None:
            found.problem("channel.cover", FEED_NAME,
                          f"itunes:image {href} is not under the feed's base URL {base or '(unknown)'}")
        elif cover in found.special:
            cover = None
        elif not_regular(cover):
            found.problem("file.not-regular", cover.name, not_regular(cover) or "")
            found.special.add(cover)
            cover = None
        elif not cover.is_file():
            found.problem("channel.cover", FEED_NAME,
                          f"itunes:image {cover.name} does not exist in {place or output}")
            cover = None
    count = f"{len(identities)} episode{'' if len(identities) == 1 else 's'}"
    readers = ["an XML parser", *(name for name in ("podcastparser", "feedparser") if name in parsers)]
    said = ", ".join(readers[:-1]) + " and " + readers[-1] if len(readers) > 1 else readers[0]
    found.lines.append(f"{FEED_NAME}: {count}, read with {said}")
    return episodes, cover


def _links(channel: ET.Element) -> dict[str, str]:
    """The channel's atom:link hrefs by rel (the first of each)."""
    links: dict[str, str] = {}
    for link in channel.findall(_tag(ATOM_NS, "link")):
        links.setdefault(link.get("rel", ""), link.get("href", ""))
    return links


def _check_archives(output: Path, channel: ET.Element, feed_url: str, base: str, found: Findings,
                    parsers: dict[str, ModuleType], seen: set[str]) -> list[EpisodeFiles]:
    """The archive pages of a paged feed (RFC 5005), from feed.xml's rel="prev-archive" back to the oldest.

    Each page is checked as the feed is, and must be marked <fh:archive/>, link to feed.xml with
    rel="current" and give its own URL as rel="self". Returns the episodes of items not already seen in a
    newer document (a reader keeps one item per guid, the newest document's).
    """
    episodes: list[EpisodeFiles] = []
    href = _links(channel).get("prev-archive", "")
    visited: set[str] = set()
    linked_from = FEED_NAME
    while href:
        if href in visited:
            found.problem("feed.archive", linked_from, f"the archive pages loop: {href} is linked twice")
            break
        visited.add(href)
        path = local_path(output, base, href)
        if path is None:
            found.problem("feed.archive", linked_from,
                          f"archive page {href} is not under the feed's base URL {base or '(unknown)'}")
            break
        name = path.name
        why = not_regular(path)
        if why:
            found.problem("file.not-regular", name, why)
            found.special.add(path)
            break
        if not path.is_file():
            found.problem("feed.archive", linked_from, f"archive page {name} does not exist in {output}")
            break
        data = path.read_bytes()
        try:
            rss = ET.fromstring(data)
        except ET.ParseError as exc:
            found.problem("feed.xml", name, f"not well-formed XML ({exc})")
            break
        page = rss.find("channel")
        if page is None:
            found.problem("feed.xml", name, "has no <channel>")
            break
        self_href, _ = _check_channel(page, data, rss, found, where=name, podcast_url=feed_url)
        links = _links(page)
        if page.find(_tag(HISTORY_NS, "archive")) is None:
            found.problem("feed.archive", name, "has no <fh:archive/> (RFC 5005): it does not say it is an archive page")
        if links.get("current") != feed_url:
            found.problem("feed.archive", name,
                          f'its atom:link rel="current" is {links.get("current") or "missing"}, not {feed_url}')
        if self_href and self_href != href:
            found.problem("feed.archive", name, f"its self link {self_href} is not the URL it is linked by ({href})")
        identities: list[tuple[str, str]] = []
        seen_urls: set[str] = set()
        guids: set[str] = set()
        for index, item in enumerate(page.findall("item")):
            guid, title, episode = _check_item(item, index, output, base, found, seen_urls, document=name)
            if guid and guid in guids:
                found.problem("item.guid-unique", name, f"guid {guid} is used by more than one item")
            guids.add(guid)
            identities.append((guid, title))
            if episode is not None and guid not in seen:
                episodes.append(episode)
        seen |= guids
        check_with_parsers(data, self_href or href, identities, found, parsers, where=name)
        count = f"{len(identities)} episode{'' if len(identities) == 1 else 's'}"
        found.lines.append(f"{name}: archive page, {count}")
        linked_from, href = name, links.get("prev-archive", "")
    return episodes
