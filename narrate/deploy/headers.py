"""What each published file is: its kind (media, page, feed), upload phase, Content-Type and Cache-Control.

One table decides all three, so the order of a deploy and the headers it sets cannot disagree:

- `media`: content-named files (`STEM.<10 hex>.SUFFIX`: MP3s, chapters, transcripts, art, cover). Their bytes
  never change under a name, so they may be cached for a year, `immutable`. Sent first.
- `page`: every other file but the entry points (episode pages, a site's stylesheet): short cache. Sent next.
- `feed`: `feed.xml`, and the site's `index.html`: short cache; sent last, once all they name is in place.
"""
from __future__ import annotations

from dataclasses import dataclass

from narrate.httpfile import content_type_for
from narrate.model import PublishSettings
from narrate.publish import CONTENT_NAME_RE, FEED_NAME

#: Sent last, in this order: the files readers start from.
ENTRY_POINTS = (FEED_NAME, "index.html")
PHASES = ("media", "page", "feed")
#: `publish.cache_control` keys: the feed (feed.xml), pages (HTML and other files that keep their name), media.
CACHE_KINDS = {"feed": "feed", "page": "pages", "media": "media"}
CHAPTERS_TYPE = "application/json+chapters"
#: A site's other files, should it write them beside its pages.
SITE_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
              ".txt": "text/plain; charset=utf-8", ".webp": "image/webp", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class FileHeaders:
    """The HTTP headers a file is served with, where the target stores them (S3)."""

    content_type: str
    cache_control: str
    acl: str = ""

    def as_dict(self) -> dict[str, str]:
        """For the manifest: a change of headers re-sends the file."""
        data = {"Content-Type": self.content_type, "Cache-Control": self.cache_control}
        if self.acl:
            data["ACL"] = self.acl
        return data


def kind_of(name: str) -> str:
    """`media`, `page` or `feed` for a file's path relative to the show's root."""
    if name in ENTRY_POINTS:
        return "feed"
    if CONTENT_NAME_RE.match(name.rsplit("/", 1)[-1]):
        return "media"
    return "page"


def content_type(name: str) -> str:
    """The Content-Type of a published file: as `narrate serve` sends it, chapters as the feed names them."""
    if name.endswith(".chapters.json"):
        return CHAPTERS_TYPE
    suffix = name[name.rfind("."):].lower() if "." in name.rsplit("/", 1)[-1] else ""
    return SITE_TYPES.get(suffix) or content_type_for(name)


def headers_for(name: str, settings: PublishSettings) -> FileHeaders:
    """The headers of one file under the show's publish settings."""
    cache = dict(settings.cache_control)[CACHE_KINDS[kind_of(name)]]
    return FileHeaders(content_type(name), cache, settings.acl)


def phase_order(name: str) -> tuple[int, int, str]:
    """Sort key of an upload: media, then pages, then the entry points (feed.xml before index.html)."""
    kind = kind_of(name)
    last = ENTRY_POINTS.index(name) if kind == "feed" else 0
    return PHASES.index(kind), last, name
