"""Stage: publish the built show: cover, chapters JSON, transcripts and the RSS feed.

Everything here is derived from the build record, so an episode whose script was removed stays
published until it is pruned, and a file is rewritten only when its bytes change.

Every file the feed names except the feed itself is immutable and named by its content
(`001-first.3f2a9c0d1e.mp3`, `001-first.8b1e77c2a0.vtt`, `cover.0c4f1d9e2b.png`): new bytes get a new
name. The build writes those first, then renames `feed.xml` into place, then the build record, and
only then removes the files the new feed and record no longer name. A reader who fetches the feed at
any instant, even while a build is killed, finds every file it names with the bytes it describes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from narrate.feed import FeedItem, paged_feeds
from narrate.fsutil import HASH_DIGITS, content_digest, content_name, previous_version, write_if_changed
from narrate.model import Show
from narrate.record import EpisodeRecord, GuidRegistry
from narrate.model import Artwork
from narrate.transcript import chapters_json, srt, webvtt

log = logging.getLogger(__name__)

FEED_NAME = "feed.xml"
#: An archive page of a paged feed (narrate.feed.archive_page_name), numbered from the oldest.
ARCHIVE_PAGE_RE = re.compile(r"^feed-archive-[1-9][0-9]*\.xml$")
#: What follows an episode's slug in the names of its files (before the content hash goes in).
SUFFIXES = {"chapters": ".chapters.json", "vtt": ".vtt", "srt": ".srt"}
EPISODE_SUFFIXES = (".mp3", *SUFFIXES.values())
COVER_STEM = "cover"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: `STEM.<hash>SUFFIX`: a content-named file as narrate writes it.
CONTENT_NAME_RE = re.compile(rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{HASH_DIGITS}}})(?P<suffix>\.chapters\.json|\.[A-Za-z0-9]+)$")


def sidecar_names(slug: str) -> dict[str, str]:
    """The names (without the content hash) of an episode's chapters and transcripts: the older layout."""
    return {kind: slug + suffix for kind, suffix in SUFFIXES.items()}


def split_suffix(name: str) -> tuple[str, str]:
    """`001-first.chapters.json` -> (`001-first`, `.chapters.json`); `x-art.png` -> (`x-art`, `.png`)."""
    for suffix in SUFFIXES.values():
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if stem else (name, "")


def content_named(base: str, data: bytes) -> str:
    """The published name of `data` whose plain name is `base`: `cover.png` -> `cover.0c4f1d9e2b.png`."""
    stem, suffix = split_suffix(base)
    return content_name(stem, suffix, content_digest(data))


def is_content_named(name: str, stem: str) -> bool:
    """Whether `name` is `stem.<hash>.<suffix>`."""
    match = CONTENT_NAME_RE.match(name)
    return bool(match) and match.group("stem") == stem


def published_files(record: EpisodeRecord) -> list[str]:
    """Every file in the output folder that belongs to one episode: its MP3, chapters, transcripts and art."""
    return [record.file, *record.sidecars.values()]


def plain_name(name: str) -> str:
    """A content-named file's name without the hash (`001-first.3f2a9c0d1e.mp3` -> `001-first.mp3`)."""
    match = CONTENT_NAME_RE.match(name)
    return match.group("stem") + match.group("suffix") if match else name


def remove_superseded(output: Path, keep: Iterable[str], previous: Iterable[str], slugs: Iterable[str],
                      art_names: Iterable[str]) -> list[str]:
    """Delete narrate's own files that neither the feed nor the build record names any more; returns them.

    Run only once the new feed and record are in place. A file goes when the previous record named it,
    or when it has narrate's naming for an episode slug narrate knows (`SLUG.<hash>.mp3`, the sidecars,
    `cover.<hash>.png`, episode art), with or without the hash (the older layout), or is an archive page of
    the feed (`feed-archive-N.xml`) not in `keep`. Anything else in the folder is the user's and stays.
    """
    keep = set(keep) | {FEED_NAME}
    ours = {slug + suffix for slug in slugs for suffix in EPISODE_SUFFIXES}
    ours |= {COVER_STEM + suffix for suffix in IMAGE_SUFFIXES}
    ours |= {plain_name(name) for name in art_names}
    previous = set(previous)
    removed: list[str] = []
    for path in sorted(output.iterdir()) if output.is_dir() else ():
        name = path.name
        if name in keep or name.startswith("."):
            continue
        if name in previous or plain_name(name) in ours or ARCHIVE_PAGE_RE.match(name):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                continue
            removed.append(name)
    if removed:
        log.debug("removed %d superseded files: %s", len(removed), ", ".join(removed))
    return removed


def is_released(record: EpisodeRecord, today: dt.date) -> bool:
    """Whether an episode's release date has come (future episodes are built but not in the feed)."""
    return dt.date.fromisoformat(record.release_date) <= today


def in_feed(record: EpisodeRecord, today: dt.date) -> bool:
    """Whether an episode goes into the feed: released, and not a draft (both are built all the same)."""
    return is_released(record, today) and not record.draft


@dataclasses.dataclass
class Published:
    """What `publish` did: the files it wrote, the records with their sidecar names, the cover's name, the pages."""

    written: list[str]
    records: dict[str, EpisodeRecord]
    cover: str
    #: Each episode's web page (slug -> its path in the output folder), when a site was written.
    pages: dict[str, str] = dataclasses.field(default_factory=dict)

    #: The feed's archive pages, oldest first (show.feed.limit).
    archives: tuple[str, ...] = ()


#: Writes pages for the feed's items before the feed (the cover's name given); returns (written, slug -> page).
SiteWriter = Callable[[Sequence[FeedItem], str], tuple[Sequence[str], Mapping[str, str]]]


def publish(show: Show, records: Mapping[str, EpisodeRecord], guids: GuidRegistry, output: Path, artwork: Artwork,
            cover_name: str, episode_art: Mapping[str, tuple[Artwork, str] | None], today: dt.date,
            site: SiteWriter | None = None) -> Published:
    """Write the cover, every episode's chapters, transcripts and art (content-named), the pages, then the feed.

    `site` gets exactly the items the feed will carry, so the pages show what the feed does; each item's
    `<link>` then points at its page (unless the script gives the episode a `link` of its own).
    """
    written: list[str] = []

    def put(base: str, data: bytes) -> str:
        name = content_named(base, data)
        # A new version keeps the mode the user gave the one it supersedes.
        if write_if_changed(output / name, data, like=lambda: previous_version(output, *split_suffix(base))):
            written.append(name)
        return name

    cover = put(cover_name, artwork.data)
    items: list[FeedItem] = []
    published: dict[str, EpisodeRecord] = {}
    for slug in sorted(records, key=lambda s: records[s].number):
        record = records[slug]
        base = sidecar_names(slug)
        names = {
            "chapters": put(base["chapters"], chapters_json(record.chapters, title=record.title).encode()),
            "vtt": put(base["vtt"], webvtt(record.cues).encode()),
            "srt": put(base["srt"], srt(record.cues).encode()),
        }
        art = episode_art.get(slug)
        if art:
            names["art"] = put(art[1], art[0].data)
        elif slug not in episode_art and "art" in record.sidecars and (output / record.sidecars["art"]).is_file():
            names["art"] = record.sidecars["art"]  # an episode not selected for this build keeps its art
        published[slug] = record = dataclasses.replace(record, sidecars=names)
        art_url = show.base_url + names["art"] if "art" in names else None
        if not in_feed(record, today):
            if record.draft:
                log.info("episode %d is a draft (%s has 'draft: true'): built, but left out of the feed",
                         record.number, record.script)
            else:
                log.info("episode %d is dated %s: built, but left out of the feed until then",
                         record.number, record.release_date)
            continue
        guid = guids.get(record.number)
        assert guid is not None, "GUIDs are ensured before publishing"
        items.append(FeedItem(
            record=record, guid=guid, audio_url=show.base_url + record.file,
            chapters_url=show.base_url + names["chapters"], vtt_url=show.base_url + names["vtt"],
            srt_url=show.base_url + names["srt"], image_url=art_url,
        ))
    pages: Mapping[str, str] = {}
    if site is not None:
        site_written, pages = site(items, cover)
        written.extend(site_written)
        items = [dataclasses.replace(i, page_url=show.base_url + pages[i.record.slug]) if i.record.slug in pages
                 else i for i in items]
    feeds = paged_feeds(show, items, cover_url=show.base_url + cover, feed_url=show.base_url + FEED_NAME,
                        limit=show.feed.limit)
    # The archive pages, oldest first (each names the one before it), then feed.xml, last: every file the
    # new feed names is already in place.
    for name, data in feeds.archives:
        if write_if_changed(output / name, data):
            written.append(name)
    if write_if_changed(output / FEED_NAME, feeds.feed):
        written.append(FEED_NAME)
    return Published(written, published, cover, dict(pages), tuple(name for name, _ in feeds.archives))


def published_paths(output: Path, slug: str) -> dict[str, Path]:
    """Where an episode's published files are, from the build record: keys mp3, chapters, vtt, srt (and art)."""
    from narrate.record import load_record

    record = load_record(output).get(slug)
    if record is None:
        raise KeyError(f"no episode {slug} in the build record of {output}")
    return {"mp3": output / record.file, **{kind: output / name for kind, name in record.sidecars.items()}}
