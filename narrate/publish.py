"""Stage: publish the built show: cover, chapters JSON, transcripts and the RSS feed.

Everything here is derived from the build record, so an episode whose script was removed stays
published until it is pruned, and a file is rewritten only when its bytes change.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from pathlib import Path

from narrate.feed import FeedItem, build_feed
from narrate.fsutil import write_if_changed
from narrate.model import Show
from narrate.record import EpisodeRecord, GuidRegistry
from narrate.tags import Artwork
from narrate.transcript import chapters_json, srt, webvtt

log = logging.getLogger(__name__)

FEED_NAME = "feed.xml"
LABELS = {"narrator": "Narrator", "document": "Document", "note": "Editor's note"}


def sidecar_names(slug: str) -> dict[str, str]:
    """File names of an episode's chapters and transcripts."""
    return {"chapters": f"{slug}.chapters.json", "vtt": f"{slug}.vtt", "srt": f"{slug}.srt"}


def published_files(record: EpisodeRecord) -> list[str]:
    """Every file in the output folder that belongs to one episode."""
    return [record.file, *sidecar_names(record.slug).values()]


def is_released(record: EpisodeRecord, today: dt.date) -> bool:
    """Whether an episode's release date has come (future episodes are built but not in the feed)."""
    return dt.date.fromisoformat(record.release_date) <= today


def publish(show: Show, records: Mapping[str, EpisodeRecord], guids: GuidRegistry, output: Path, artwork: Artwork,
            cover_name: str, episode_art: Mapping[str, tuple[Artwork, str] | None], today: dt.date) -> list[str]:
    """Write the cover, every episode's chapters and transcripts, and the feed; returns the files written."""
    written: list[str] = []

    def put(name: str, data: bytes) -> None:
        if write_if_changed(output / name, data):
            written.append(name)

    put(cover_name, artwork.data)
    items: list[FeedItem] = []
    for slug in sorted(records, key=lambda s: records[s].number):
        record = records[slug]
        names = sidecar_names(slug)
        put(names["chapters"], chapters_json(record.chapters, title=record.title).encode())
        put(names["vtt"], webvtt(record.cues, LABELS).encode())
        put(names["srt"], srt(record.cues, LABELS).encode())
        art = episode_art.get(slug)
        if art:
            put(art[1], art[0].data)
        if not is_released(record, today):
            log.info("episode %d is dated %s: built, but left out of the feed until then",
                     record.number, record.release_date)
            continue
        guid = guids.get(record.number)
        assert guid is not None, "GUIDs are ensured before publishing"
        items.append(FeedItem(
            record=record, guid=guid, audio_url=show.base_url + record.file,
            chapters_url=show.base_url + names["chapters"], vtt_url=show.base_url + names["vtt"],
            srt_url=show.base_url + names["srt"], image_url=show.base_url + art[1] if art else None,
        ))
    put(FEED_NAME, build_feed(show, items, cover_url=show.base_url + cover_name, feed_url=show.base_url + FEED_NAME))
    return written
