"""The RSS feed: RSS 2.0 with the iTunes, Podcasting 2.0, content, Atom and Podlove Simple Chapters namespaces.

The feed is written with xml.etree.ElementTree, never by joining strings, so every title, summary and
URL is escaped by the XML library. It is built only from the build record, and contains no clock time,
so building it twice from the same record gives identical bytes.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from narrate import __version__
from narrate.model import DocumentInfo, Show
from narrate.record import EpisodeRecord
from narrate.timefmt import clock

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
ATOM_NS = "http://www.w3.org/2005/Atom"
PSC_NS = "http://podlove.org/simple-chapters"
#: RFC 5005 (Feed Paging and Archiving): <fh:archive/> marks an archive page.
HISTORY_NS = "http://purl.org/syndication/history/1.0"

NAMESPACES: dict[str, str] = {
    "itunes": ITUNES_NS,
    "podcast": PODCAST_NS,
    "content": CONTENT_NS,
    "atom": ATOM_NS,
    "psc": PSC_NS,
    "fh": HISTORY_NS,
}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)

# The namespace the Podcasting 2.0 spec fixes for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")

# Apple rejects descriptions over 4000; counting bytes (not characters) is the stricter reading.
MAX_DESCRIPTION_BYTES = 4000
ELLIPSIS = "…"

# Episodes are dated by day; every one goes out at the same hour so pubDate never depends on the clock.
RELEASE_TIME = dt.time(9, 0, tzinfo=dt.timezone.utc)

ENCLOSURE_TYPES: dict[str, str] = {".mp3": "audio/mpeg", ".m4a": "audio/x-m4a", ".m4b": "audio/x-m4a"}
DEFAULT_ENCLOSURE_TYPE = "audio/mpeg"

# Podcast Taxonomy Project group/role pairs (podcastindex taxonomy.json: Writing/Author, Writing/Translator,
# Cast/Narrator), lower-cased as in the namespace's examples; podcastparser lower-cases them too.
PERSON_AUTHOR = ("writing", "author")
PERSON_TRANSLATOR = ("writing", "translator")
PERSON_NARRATOR = ("cast", "narrator")

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Characters XML 1.0 cannot carry at all, even escaped; one stray control character would break the feed.
_XML_INVALID_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 podcast:guid: UUIDv5 of the feed URL without its scheme and trailing slashes."""
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, _SCHEME_RE.sub("", feed_url.strip()).rstrip("/")))


@dataclass(frozen=True)
class FeedItem:
    """One published episode with its GUID and the absolute URLs of its files."""

    record: EpisodeRecord
    guid: str
    audio_url: str
    chapters_url: str
    vtt_url: str
    srt_url: str
    image_url: str | None = None
    #: The episode's page on the show's site, the item's <link> unless the script names a `link` of its own.
    page_url: str | None = None


def release_datetime(release_date: str) -> dt.datetime:
    """The moment an episode dated `release_date` (ISO date) is published: 09:00 UTC that day."""
    return dt.datetime.combine(dt.date.fromisoformat(release_date), RELEASE_TIME)


def self_base_url(feed: bytes) -> str | None:
    """The base URL a feed was published at: its `atom:link rel="self"` (an http or https URL) without the
    file name; None for bytes that are not XML or a feed without such a link. `narrate serve` and
    `narrate publish` both read a built show's address from it."""
    try:
        root = ET.fromstring(feed)
    except ET.ParseError:
        return None
    for link in root.iter(f"{{{ATOM_NS}}}link"):
        href = (link.get("href") or "").strip()
        if link.get("rel") == "self" and href.lower().startswith(("http://", "https://")):
            return urljoin(href, "./")
    return None


def rfc2822(moment: dt.datetime) -> str:
    """A timezone-aware datetime as an RFC 2822 date, e.g. `Thu, 21 Nov 2026 09:00:00 +0000`."""
    return email.utils.format_datetime(moment)


def parse_rfc2822(text: str) -> dt.datetime:
    """An RFC 2822 date (as in pubDate) as a timezone-aware datetime."""
    return email.utils.parsedate_to_datetime(text)


def limit_bytes(text: str, limit: int = MAX_DESCRIPTION_BYTES) -> str:
    """`text` cut to at most `limit` UTF-8 bytes at a character boundary, marked with an ellipsis when cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    if room <= 0:
        return ""
    return data[:room].decode("utf-8", errors="ignore").rstrip() + ELLIPSIS


def clean_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot represent."""
    return _XML_INVALID_RE.sub("", text)


def _tag(prefix: str, name: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{name}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, attrs: dict[str, str] | None = None) -> ET.Element:
    """Append a child element; attributes keep the order given, so the output is stable."""
    element = ET.SubElement(parent, tag, {k: clean_text(v) for k, v in (attrs or {}).items()})
    if text is not None:
        element.text = clean_text(text)
    return element


def _absolute(base_url: str, url: str) -> str:
    # Apps fetch feed URLs without knowing the feed's address, so relative links are resolved here.
    return urljoin(base_url, url) if url else url


def _citation_parts(document: DocumentInfo) -> list[str]:
    """The document's author(s), date and source, each a short phrase."""
    parts: list[str] = []
    if document.authors:
        parts.append(", ".join(document.authors))
    if document.date:
        parts.append(document.date)
    if document.translator:
        parts.append(f"translated by {document.translator}")
    if document.source:
        parts.append(document.source)
    return parts


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop (a citation often ends in its own)."""
    return text if text.endswith((".", "!", "?")) else text + "."


def item_description(record: EpisodeRecord) -> str:
    """The plain-text item description: the summary, then a line naming the narrated document."""
    document = record.document
    lines = [record.summary.strip()] if record.summary.strip() else []
    title = document.title.strip()
    parts = _citation_parts(document)
    if title or parts:
        lines.append(_sentence("Document: " + "; ".join(([f"“{title}”"] if title else []) + parts)))
    # The citation is short and worth keeping: cut the summary, not the citation, when too long.
    if len("\n\n".join(lines).encode("utf-8")) > MAX_DESCRIPTION_BYTES and len(lines) == 2:
        room = MAX_DESCRIPTION_BYTES - len(("\n\n" + lines[1]).encode("utf-8"))
        lines[0] = limit_bytes(lines[0], max(room, 0))
    return limit_bytes("\n\n".join(lines))


def _html(elements: Sequence[ET.Element]) -> str:
    return "".join(ET.tostring(e, encoding="unicode", method="html") for e in elements)


def item_html(record: EpisodeRecord, base_url: str) -> str:
    """The content:encoded HTML: a summary paragraph and a citation of the document, at most 4000 bytes."""
    summary = record.summary.strip()
    html = _item_html(record, base_url, summary)
    if len(html.encode("utf-8")) <= MAX_DESCRIPTION_BYTES:
        return html
    # Escaping makes the HTML longer than the text by an amount that depends on the text, so find the
    # longest summary that fits by measuring real output (a binary search: a dozen serialisations).
    low, high = 0, len(summary)
    while low < high:
        mid = (low + high + 1) // 2
        if len(_item_html(record, base_url, summary[:mid].rstrip() + ELLIPSIS).encode("utf-8")) \
                <= MAX_DESCRIPTION_BYTES:
            low = mid
        else:
            high = mid - 1
    return _item_html(record, base_url, summary[:low].rstrip() + ELLIPSIS if low else "")


def _item_html(record: EpisodeRecord, base_url: str, summary: str) -> str:
    document = record.document
    paragraphs: list[ET.Element] = []
    if summary:
        p = ET.Element("p")
        p.text = clean_text(summary)
        paragraphs.append(p)
    title = document.title.strip()
    parts = _citation_parts(document)
    rights = document.rights.strip()
    url = _absolute(base_url, document.url.strip())
    if title or parts or rights:
        p = ET.Element("p")
        p.text = "Document: "
        last: ET.Element | None = None
        if title:
            if url:
                cite = ET.SubElement(p, "a", {"href": clean_text(url)})
                inner = ET.SubElement(cite, "cite")
                inner.text = clean_text(title)
            else:
                cite = ET.SubElement(p, "cite")
                cite.text = clean_text(title)
            last = cite
        tail = "; ".join(parts)
        tail = _sentence(("; " + tail) if title and tail else tail)
        if rights:
            tail += f" {rights}"
        if last is None:
            p.text = clean_text(p.text + tail)
        else:
            last.tail = clean_text(tail)
        paragraphs.append(p)
    return _html(paragraphs)


def _sorted_newest_first(items: Sequence[FeedItem]) -> list[FeedItem]:
    return sorted(items, key=lambda i: (i.record.release_date, i.record.number), reverse=True)


def _persons(item_el: ET.Element, record: EpisodeRecord) -> None:
    document = record.document
    seen: set[tuple[str, str, str]] = set()

    def person(name: str, group_role: tuple[str, str]) -> None:
        key = (name, *group_role)
        if name and key not in seen:
            seen.add(key)
            _sub(item_el, _tag("podcast", "person"), name, {"group": group_role[0], "role": group_role[1]})

    for author in document.authors:
        person(author, PERSON_AUTHOR)
    person(document.translator.strip(), PERSON_TRANSLATOR)
    # The taxonomy's Cast/Narrator is what each voice does; it is credited by the name the show gives it
    # (voices.ROLE.name, e.g. "Narrator (synthetic voice)"), never by an engine id. No name, no entry.
    for name in record.voices:
        person(name.strip(), PERSON_NARRATOR)


def _item(channel: ET.Element, show: Show, item: FeedItem) -> None:
    record = item.record
    base = show.base_url
    el = _sub(channel, "item")
    _sub(el, "title", record.title)
    _sub(el, _tag("itunes", "title"), record.title)
    _sub(el, "description", item_description(record))
    _sub(el, _tag("content", "encoded"), item_html(record, base))
    _sub(el, "link", _absolute(base, record.link or item.page_url or show.link or base))
    _sub(el, "guid", item.guid, {"isPermaLink": "false"})
    _sub(el, "pubDate", rfc2822(release_datetime(record.release_date)))
    suffix = "." + record.file.rsplit(".", 1)[-1].lower() if "." in record.file else ""
    _sub(el, "enclosure", attrs={
        "url": _absolute(base, item.audio_url), "length": str(int(record.size)),
        "type": ENCLOSURE_TYPES.get(suffix, DEFAULT_ENCLOSURE_TYPE),
    })
    _sub(el, _tag("itunes", "duration"), str(round(record.duration)))
    _sub(el, _tag("itunes", "episode"), str(record.number))
    _sub(el, _tag("itunes", "episodeType"), record.episode_type or "full")
    _sub(el, _tag("itunes", "explicit"), "true" if show.explicit else "false")
    if item.image_url:
        _sub(el, _tag("itunes", "image"), attrs={"href": _absolute(base, item.image_url)})
    _sub(el, _tag("podcast", "episode"), str(record.number))
    _sub(el, _tag("podcast", "chapters"), attrs={
        "url": _absolute(base, item.chapters_url), "type": "application/json+chapters"})
    _sub(el, _tag("podcast", "transcript"), attrs={
        "url": _absolute(base, item.vtt_url), "type": "text/vtt", "language": show.language, "rel": "captions"})
    _sub(el, _tag("podcast", "transcript"), attrs={
        "url": _absolute(base, item.srt_url), "type": "application/x-subrip", "language": show.language})
    if record.chapters:
        chapters = _sub(el, _tag("psc", "chapters"), attrs={"version": "1.2"})
        for chapter in sorted(record.chapters, key=lambda c: c.start):
            _sub(chapters, _tag("psc", "chapter"), attrs={"start": clock(chapter.start), "title": chapter.title})
    _persons(el, record)
    rights = record.document.rights.strip()
    if rights:
        _sub(el, _tag("podcast", "license"), rights)


def build_feed(show: Show, items: Sequence[FeedItem], cover_url: str, feed_url: str,
               page: PageLinks | None = None) -> bytes:
    """The show's RSS 2.0 feed as UTF-8 bytes, newest episode first; identical input gives identical bytes.

    With `page`, one page of a paged feed (see `paged_feeds`): its own URL as rel="self", its links to the
    other pages, and <fh:archive/> when it is an archive page.
    """
    base = show.base_url
    link = _absolute(base, show.link or base)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", show.title)
    _sub(channel, "link", link)
    description = limit_bytes(show.description.strip())
    _sub(channel, "description", description)
    _sub(channel, _tag("itunes", "summary"), description)
    _sub(channel, "language", show.language)
    if show.copyright:
        _sub(channel, "copyright", show.copyright)
    _sub(channel, "generator", f"narrate {__version__}")
    ordered = _sorted_newest_first(items)
    if ordered:
        # Not the clock: an unchanged show must give a byte-identical feed.
        _sub(channel, "lastBuildDate", rfc2822(release_datetime(ordered[0].record.release_date)))
    _sub(channel, _tag("atom", "link"), attrs={
        "href": _absolute(base, page.self_url if page else feed_url), "rel": "self", "type": "application/rss+xml"})
    if page:
        _page_links(channel, base, feed_url, page)
    _sub(channel, _tag("itunes", "author"), show.author)
    if show.owner_name or show.owner_email:
        owner = _sub(channel, _tag("itunes", "owner"))
        if show.owner_name:
            _sub(owner, _tag("itunes", "name"), show.owner_name)
        if show.owner_email:
            _sub(owner, _tag("itunes", "email"), show.owner_email)
    cover = _absolute(base, cover_url)
    _sub(channel, _tag("itunes", "image"), attrs={"href": cover})
    image = _sub(channel, "image")
    _sub(image, "url", cover)
    _sub(image, "title", show.title)
    _sub(image, "link", link)
    category = _sub(channel, _tag("itunes", "category"), attrs={"text": show.category})
    if show.subcategory:
        _sub(category, _tag("itunes", "category"), attrs={"text": show.subcategory})
    _sub(channel, _tag("itunes", "explicit"), "true" if show.explicit else "false")
    _sub(channel, _tag("itunes", "type"), show.show_type or "episodic")
    _sub(channel, _tag("podcast", "guid"), podcast_guid(feed_url))
    _sub(channel, _tag("podcast", "locked"), "yes" if show.locked else "no",
         {"owner": show.owner_email} if show.owner_email else None)
    for item in ordered:
        _item(channel, show, item)
    ET.indent(rss, space="  ")
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"


# --------------------------------------------------------------------------------------------------
# Paging: the newest items in feed.xml, the older ones in archive pages (RFC 5005 archived feeds)


@dataclass(frozen=True)
class PageLinks:
    """Where one page of a paged feed sits: its own URL, the next older page's, and whether it is an archive."""

    self_url: str
    older_url: str | None = None
    archive: bool = False


@dataclass(frozen=True)
class FeedPages:
    """A paged feed: feed.xml's bytes, and the archive pages' (name, bytes), oldest first."""

    feed: bytes
    archives: tuple[tuple[str, bytes], ...] = ()


def archive_page_name(number: int) -> str:
    """The file name of archive page `number`, 1 being the oldest: `feed-archive-1.xml`."""
    return f"feed-archive-{number}.xml"


def split_pages(items: Sequence[FeedItem], limit: int) -> tuple[list[FeedItem], list[list[FeedItem]]]:
    """(feed.xml's items, newest first; the archive pages' items, each newest first, the oldest page first).

    feed.xml holds the newest `limit` items. The archive pages are the items from the oldest, `limit` to a
    page, and only whole pages: a page once written never changes when episodes are added (a new page
    appears when `limit` more have come). The items after the last whole page are in feed.xml, so each
    item is in feed.xml or in a page, and an item can be in both (at most `limit` - 1 of them): readers
    keep one per guid, as RFC 5005 says. `limit` 0, or no more items than it: no archive pages.
    """
    newest_first = _sorted_newest_first(items)
    if limit <= 0 or len(newest_first) <= limit:
        return newest_first, []
    oldest_first = newest_first[::-1]
    whole = (len(oldest_first) - 1) // limit  # never a page of exactly feed.xml's items
    pages = [oldest_first[i * limit:(i + 1) * limit][::-1] for i in range(whole)]
    return newest_first[:limit], pages


def paged_feeds(show: Show, items: Sequence[FeedItem], cover_url: str, feed_url: str, limit: int) -> FeedPages:
    """feed.xml and its archive pages, for `limit` items a page (0: one feed with every item, no pages).

    RFC 5005 section 4 (archived feeds): feed.xml links to the newest archive page with rel="prev-archive";
    each page links to the next older one the same way, to feed.xml with rel="current", and carries
    <fh:archive/>. The same links are also given as RFC 5005 section 3 paged-feed links (rel="first" to
    feed.xml and rel="next" to the older page), which gPodder's podcastparser reads. No page links to a
    newer one (rel="next-archive" is optional): so a page stays byte-identical as episodes are added.
    Pages are numbered from the oldest (feed-archive-1.xml), so their URLs never change either.
    """
    current, pages = split_pages(items, limit)
    archives: list[tuple[str, bytes]] = []
    older: str | None = None
    for number, page_items in enumerate(pages, 1):
        name = archive_page_name(number)
        url = _absolute(show.base_url, name)
        archives.append((name, build_feed(show, page_items, cover_url, feed_url, PageLinks(url, older, True))))
        older = url
    links = PageLinks(feed_url, older) if pages else None
    return FeedPages(build_feed(show, current, cover_url, feed_url, links), tuple(archives))


def _page_links(channel: ET.Element, base: str, feed_url: str, page: PageLinks) -> None:
    current = _absolute(base, feed_url)
    links: list[tuple[str, str]] = [("first", current)]
    if page.archive:
        links.append(("current", current))
    if page.older_url:
        older = _absolute(base, page.older_url)
        links += [("next", older), ("prev-archive", older)]
    for rel, href in links:
        _sub(channel, _tag("atom", "link"), attrs={"href": href, "rel": rel, "type": "application/rss+xml"})
    if page.archive:
        _sub(channel, _tag("fh", "archive"))
