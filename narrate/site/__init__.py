"""Stage: the show's static web site, `index.html` and `episodes/SLUG.html`, written into the output folder.

The pages are plain HTML files with their CSS and script inlined: no server code, no build tools, no
CDN, nothing fetched, so they work from any static host, from `narrate serve` and from the disk. They
link the episode's current content-named MP3 and VTT by relative URL, and keep stable names of their
own, so the feed's `<link>` to a page never changes. They show exactly the episodes the feed carries
(the build passes the feed's items), and are written before the feed, like the media: a reader who
follows the new feed finds every page it links. A page is rewritten only when its bytes change; the
pages of episodes that left the site are removed with the other superseded files, after the feed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from narrate.fsutil import remove_stale_temps, write_if_changed
from narrate.model import Show
from narrate.record import EpisodeRecord
from narrate.site.pages import INDEX_NAME, PAGES_FOLDER, SiteInfo, page_name, render_episode, render_index

__all__ = ["INDEX_NAME", "PAGES_FOLDER", "SiteOutput", "page_name", "remove_stale_pages", "write_site"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteOutput:
    """What write_site did: the files it wrote and every episode's page (slug -> path in the output folder)."""

    written: tuple[str, ...]
    pages: dict[str, str]


def write_site(show: Show, records: Sequence[EpisodeRecord], output: Path, cover: str) -> SiteOutput:
    """Write each episode's page, then the index, each only when its bytes changed.

    Runs under the build lock, so a temporary file in the pages' folder is one a killed build left: it goes.
    """
    remove_stale_temps(output / PAGES_FOLDER)
    info = SiteInfo(show, cover)
    written: list[str] = []
    pages: dict[str, str] = {}
    for record in sorted(records, key=lambda r: r.number):
        name = pages[record.slug] = page_name(record.slug)
        if write_if_changed(output / name, render_episode(info, record).encode("utf-8")):
            written.append(name)
    if write_if_changed(output / INDEX_NAME, render_index(info, records).encode("utf-8")):
        written.append(INDEX_NAME)
    if written:
        log.debug("site: wrote %s", ", ".join(written))
    return SiteOutput(tuple(written), pages)


def remove_stale_pages(output: Path, keep: Iterable[str], slugs: Iterable[str]) -> list[str]:
    """Remove the pages of known episodes (`slugs`) that the site no longer shows; run after the feed is in place.

    Only `episodes/SLUG.html` for a slug narrate knows goes: any other file in the folder is the user's.
    """
    keep = set(keep)
    removed = []
    for slug in sorted(set(slugs)):
        name = page_name(slug)
        path = output / name
        if name in keep or not path.is_file() or path.is_symlink():
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(name)
    if removed:
        log.debug("site: removed %s", ", ".join(removed))
    return removed
