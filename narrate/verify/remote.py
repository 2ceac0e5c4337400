"""`narrate check --published URL`: read a published show back over HTTP(S), as a podcast app would.

The feed is fetched from its URL (or, given a folder's URL, from `feed.xml` in it), then every file it names
(enclosures, chapters, transcripts, cover and episode images) with HEAD and GET, and each enclosure also
with two Range requests (its first two bytes and its last two), the way players seek. What the server sends
is checked against what the feed says (`HTTP_RULES`: status, lengths, types, ranges, the feed's own URL, its
caching) and saved into a temporary folder laid out like the built output, on which the folder check's own
rules then run (`RULES`): the same parsers, tags, chapters, transcripts and loudness, read from the bytes a
listener would get. The audio is downloaded whole for that, once.
"""
from __future__ import annotations

import logging
import re
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from narrate.feed import ATOM_NS, ITUNES_NS, PODCAST_NS
from narrate.publish import FEED_NAME
from narrate.verify.feed_rules import CHAPTERS_TYPE, base_url, local_path
from narrate.verify.http import Response, Unreachable, http_url, request
from narrate.verify.rules import Findings, PublishedReport

log = logging.getLogger(__name__)

FEED_TYPES = ("application/rss+xml", "application/xml", "text/xml")
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
#: The longest the feed may be cached (seconds): a new episode should reach subscribers within the hour.
FEED_MAX_AGE = 3600
#: Feeds, chapters, transcripts and images are small; a body past this is no such file.
SMALL_LIMIT = 64 << 20
#: No enclosure is read past this, whatever its server says.
AUDIO_LIMIT = 8 << 30
WORKERS = 4
_MAX_AGE_RE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def feed_url_of(url: str) -> str:
    """The feed's URL: `url` itself when its last path segment names a file, else `feed.xml` in that folder."""
    parts = urlsplit(url)
    last = parts.path.rsplit("/", 1)[-1]
    if "." in last:
        return url
    path = (parts.path if parts.path.endswith("/") else parts.path + "/") + FEED_NAME
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass(frozen=True)
class Wanted:
    """A file the feed names: its URL, where it goes in the copy, and what the feed says it is."""

    url: str
    path: Path
    kind: str
    types: tuple[str, ...]
    length: int | None = None

    @property
    def name(self) -> str:
        return self.path.name


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _wanted(channel: ET.Element, copy: Path, base: str) -> list[Wanted]:
    """Every file the feed names under its base URL (others are the feed rules' `item.url` problems)."""
    found: dict[str, Wanted] = {}

    def want(url: str | None, kind: str, types: tuple[str, ...], length: int | None = None) -> None:
        path = local_path(copy, base, url or "")
        if url and path is not None and url not in found:
            found[url] = Wanted(url, path, kind, types, length)

    def image(url: str | None) -> None:
        suffix = Path(urlsplit(url or "").path).suffix.lower()
        types = (IMAGE_TYPES[suffix],) if suffix in IMAGE_TYPES else tuple(sorted(set(IMAGE_TYPES.values())))
        want(url, "image", types)

    cover = channel.find(_tag(ITUNES_NS, "image"))
    if cover is not None:
        image(cover.get("href"))
    for item in channel.findall("item"):
        for enclosure in item.findall("enclosure"):
            length = enclosure.get("length", "")
            want(enclosure.get("url"), "enclosure", (enclosure.get("type") or "audio/mpeg",),
                 int(length) if length.isdigit() else None)
        for chapters in item.findall(_tag(PODCAST_NS, "chapters")):
            want(chapters.get("url"), "chapters", (chapters.get("type") or CHAPTERS_TYPE, "application/json"))
        for transcript in item.findall(_tag(PODCAST_NS, "transcript")):
            want(transcript.get("url"), "transcript", (transcript.get("type") or "text/plain",))
        for art in item.findall(_tag(ITUNES_NS, "image")):
            image(art.get("href"))
        link = (item.findtext("link") or "").strip()
        if link.endswith(".html"):  # the episode's web page in the show's folder (narrate.site)
            want(link, "page", ("text/html",))
    return list(found.values())


def _self_href(channel: ET.Element) -> str:
    for link in channel.findall(_tag(ATOM_NS, "link")):
        if link.get("rel") == "self":
            return link.get("href", "")
    return ""


def _type_problem(response: Response, types: tuple[str, ...]) -> str | None:
    if response.media_type in types:
        return None
    sent = response.header("content-type")
    return f"sent as {sent!r}, not {types[0]}" if sent else f"sent with no Content-Type (it is {types[0]})"


def _check_range(wanted: Wanted, size: int, data: bytes, first: int, last: int, found: Findings,
                 timeout: float) -> None:
    """One Range request for bytes first..last: 206, the right Content-Range and those bytes."""
    where = wanted.name
    asked = f"bytes={first}-{last}"
    try:
        got = request(wanted.url, headers={"Range": asked}, limit=last - first + 1 + 1024, timeout=timeout)
    except Unreachable as exc:
        found.problem("http.range", where, f"GET {wanted.url} with Range: {asked}: {exc}")
        return
    expected = f"bytes {first}-{last}/{size}"
    if got.status != 206:
        found.problem("http.range", where, f"Range: {asked} answered {got.said}, not 206 Partial Content "
                                           "(players seek with ranges)")
    elif (got.header("content-range") or "").strip() != expected:
        found.problem("http.range", where, f"Range: {asked} answered Content-Range "
                                           f"{got.header('content-range')!r}, not {expected!r}")
    elif got.body != data:
        found.problem("http.range", where, f"Range: {asked} sent other bytes than the whole file has there")


def _fetch(wanted: Wanted, found: Findings, timeout: float) -> None:
    """HEAD, GET (into the copy) and, for an enclosure, two ranges; a file not received goes in `found.special`."""
    where = wanted.name
    wanted.path.parent.mkdir(parents=True, exist_ok=True)
    try:
        head = request(wanted.url, "HEAD", timeout=timeout)
        limit = AUDIO_LIMIT if wanted.kind == "enclosure" else SMALL_LIMIT
        got = request(wanted.url, limit=limit, save=wanted.path, timeout=timeout)
    except Unreachable as exc:
        found.problem("http.reachable", where, f"cannot fetch {wanted.url}: {exc}")
        wanted.path.unlink(missing_ok=True)
        found.special.add(wanted.path)
        return
    if got.status != 200:
        found.problem("http.status", where, f"GET {wanted.url} answered {got.said}")
        wanted.path.unlink(missing_ok=True)
        found.special.add(wanted.path)
        return
    if got.cut:
        found.problem("http.length", where, f"GET {wanted.url} sent more than {limit} bytes; stopped reading")
        wanted.path.unlink(missing_ok=True)
        found.special.add(wanted.path)
        return
    if head.status != 200:  # said only when GET works: a missing file is one line
        found.problem("http.status", where, f"HEAD {wanted.url} answered {head.said} (GET answered {got.said})")
    size = got.received
    if got.length is not None and got.length != size:
        found.problem("http.length", where, f"Content-Length is {got.length} but {size} bytes came")
    if head.status == 200 and head.length != size:
        found.problem("http.length", where, f"HEAD says Content-Length {head.header('content-length')}, "
                                            f"but GET sent {size} bytes")
    if wanted.length is not None and size != wanted.length:
        found.problem("http.length", where, f"the server sends {size} bytes; the feed's enclosure says "
                                            f"length {wanted.length}")
    problem = _type_problem(got, wanted.types)
    if problem:
        found.problem("http.content-type", where, problem)
    if head.status == 200 and head.media_type != got.media_type:
        found.problem("http.content-type", where, f"HEAD says Content-Type {head.header('content-type')!r}, "
                                                  f"GET {got.header('content-type')!r}")
    if wanted.kind == "enclosure" and size >= 2:
        with wanted.path.open("rb") as stream:
            head_bytes = stream.read(2)
            stream.seek(size - 2)
            tail_bytes = stream.read(2)
        _check_range(wanted, size, head_bytes, 0, 1, found, timeout)
        _check_range(wanted, size, tail_bytes, size - 2, size - 1, found, timeout)


def _feed_cache_problem(response: Response) -> str | None:
    value = response.header("cache-control") or ""
    if "immutable" in value.lower():
        return f"Cache-Control {value!r}: an immutable feed never shows new episodes"
    ages = [int(m) for m in _MAX_AGE_RE.findall(value)]
    if ages and max(ages) > FEED_MAX_AGE:
        return (f"Cache-Control {value!r} lets the feed be cached for {max(ages)} s "
                f"(at most {FEED_MAX_AGE} s, so new episodes show)")
    return None


def check_published_url(url: str, loudness: float | None = None, true_peak: float | None = None,
                        timeout: float = 30.0) -> PublishedReport:
    """Check the show published at `url` (the feed's or its folder's): HTTP rules, then the folder rules.

    A malformed URL is a UserError (exit status 2); a host that cannot be reached is a problem of the report.
    """
    from narrate.verify import check_folder

    feed_url = feed_url_of(http_url(url))
    found = Findings()
    with tempfile.TemporaryDirectory(prefix="narrate-check-") as tmp:
        copy = Path(tmp)
        try:
            head = request(feed_url, "HEAD", timeout=timeout)
            got = request(feed_url, limit=SMALL_LIMIT, timeout=timeout)
        except Unreachable as exc:
            host = urlsplit(feed_url).netloc
            found.problem("http.reachable", FEED_NAME, f"cannot read {feed_url}: {host}: {exc}")
            return PublishedReport(tuple(found.lines), tuple(found.problems), {}, tuple(found.rules))
        if got.status != 200 or got.cut:
            why = f"answered {got.said}" if got.status != 200 else f"is over {SMALL_LIMIT} bytes"
            rule = "http.status" if got.status != 200 else "http.length"
            found.problem(rule, FEED_NAME, f"GET {feed_url} {why}")
            return PublishedReport(tuple(found.lines), tuple(found.problems), {}, tuple(found.rules))
        if head.status != 200:
            found.problem("http.status", FEED_NAME, f"HEAD {feed_url} answered {head.said}")
        problem = _type_problem(got, FEED_TYPES)
        if problem:
            found.problem("http.content-type", FEED_NAME, problem)
        if got.length is not None and got.length != len(got.body):
            found.problem("http.length", FEED_NAME, f"Content-Length is {got.length} but {len(got.body)} bytes came")
        cache = _feed_cache_problem(got)
        if cache:
            found.problem("http.feed-cache", FEED_NAME, cache)
        (copy / FEED_NAME).write_bytes(got.body)
        found.lines.append(f"{FEED_NAME}: read from {got.url}")

        wanted: list[Wanted] = []
        try:
            channel = ET.fromstring(got.body).find("channel")
        except ET.ParseError:
            channel = None  # the folder rules say what is wrong with it
        if channel is not None:
            self_href = _self_href(channel)
            if self_href and self_href not in (feed_url, got.url):
                found.problem("http.self-url", FEED_NAME,
                              f'atom:link rel="self" is {self_href} but the feed was read from {got.url}: '
                              "is base_url in show.yaml where the show is published?")
            wanted = _wanted(channel, copy, base_url(self_href))
        parts = [Findings() for _ in wanted]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for done in [pool.submit(_fetch, w, part, timeout) for w, part in zip(wanted, parts)]:
                done.result()
        for part in parts:
            found.extend(part)
        received = sum(w.path.stat().st_size for w in wanted if w.path.is_file())
        found.lines.append(f"{len(wanted)} files the feed names: HEAD and GET, ranges on each enclosure; "
                           f"{received} bytes read")
        log.debug("read %s into %s", feed_url, copy)
        return check_folder(copy, found, loudness, true_peak, place=base_url(got.url))
