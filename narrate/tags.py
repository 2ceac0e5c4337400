"""Stage: write metadata and chapters into a finished MP3 with mutagen (ID3v2.3, CHAP + CTOC)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import langcodes
from mutagen.id3 import (
    APIC, CHAP, COMM, CTOC, ID3, PCST, TALB, TCON, TCOP, TDRC, TIT2, TLAN, TPE1, TRCK, USLT, WOAS, WXXX,
    CTOCFlags, ID3NoHeaderError,
)
from mutagen.id3._tags import save_frame


from narrate.model import Artwork, ChapterTime, Episode, Show  # Artwork is also importable from here, as before

MAX_CHAPTERS = 255  # the CTOC frame counts its entries in one byte


class _ChapterOrderID3(ID3):
    """ID3 that writes the CTOC and then the CHAP frames in time order, after every other frame.

    mutagen sorts frames by size, so players that read CHAP frames in file order rather than through
    the CTOC would list a short title such as "Sources" first.
    """

    def _write(self, config):  # noqa: ANN001, ANN202 - mutagen's private hook, called by save()
        tocs, chapters = self.getall("CTOC"), self.getall("CHAP")
        self.delall("CTOC")
        self.delall("CHAP")
        try:
            data = super()._write(config)
        finally:
            for frame in tocs + chapters:
                self.add(frame)
        ordered = tocs + sorted(chapters, key=lambda f: (f.start_time, f.end_time))
        return data + b"".join(save_frame(frame, config=config) for frame in ordered)


def iso639_2(language: str) -> str:
    """Three-letter language code for ID3 frames (`en` -> `eng`)."""
    try:
        return langcodes.Language.get(language).to_alpha3()
    except (LookupError, ValueError):
        return "und"


def full_text(episode: Episode) -> str:
    """The episode's text as written, chapter by chapter, for the USLT frame."""
    parts = []
    for chapter in episode.chapters:
        parts.append(chapter.title)
        parts.extend(segment.text for segment in chapter.segments)
    return "\n\n".join(parts)


def write_tags(path: Path, show: Show, episode: Episode, chapters: Sequence[ChapterTime],
               artwork: Artwork | None) -> None:
    """Replace every tag in `path` with the episode's metadata and chapters, saved as ID3v2.3."""
    if len(chapters) > MAX_CHAPTERS:
        raise ValueError(f"{len(chapters)} chapters: an ID3 chapter table holds at most {MAX_CHAPTERS}")
    try:
        tags = _ChapterOrderID3(path)
        tags.clear()
    except ID3NoHeaderError:
        tags = _ChapterOrderID3()
    language = iso639_2(show.language)
    tags.add(TIT2(encoding=3, text=episode.title))
    tags.add(TPE1(encoding=3, text=show.author))
    tags.add(TALB(encoding=3, text=show.title))
    tags.add(TRCK(encoding=3, text=str(episode.number)))
    tags.add(TDRC(encoding=3, text=episode.release_date.isoformat()))
    tags.add(TCON(encoding=3, text="Podcast"))
    tags.add(TLAN(encoding=3, text=language))
    tags.add(PCST(value=1))
    if show.copyright:
        tags.add(TCOP(encoding=3, text=show.copyright))
    if episode.summary:
        tags.add(COMM(encoding=3, lang=language, desc="", text=episode.summary))
    tags.add(USLT(encoding=3, lang=language, desc="", text=full_text(episode)))
    source = episode.document.url or episode.link
    if source:
        tags.add(WOAS(url=source))
        tags.add(WXXX(encoding=3, desc="Source", url=source))
    if artwork:
        tags.add(APIC(encoding=3, mime=artwork.mime, type=3, desc="Cover", data=artwork.data))
    ids = [f"chp{i}" for i in range(len(chapters))]
    for element_id, mark in zip(ids, chapters):
        tags.add(CHAP(element_id=element_id, start_time=round(mark.start * 1000), end_time=round(mark.end * 1000),
                      start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF,
                      sub_frames=[TIT2(encoding=3, text=mark.title)]))
    if chapters:
        tags.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                      sub_frames=[TIT2(encoding=3, text="Chapters")]))
    tags.update_to_v23()  # mutagen writes v2.4-only frames (TDRC) into a v2.3 tag unless converted first
    tags.save(path, v2_version=3, v1=0)
