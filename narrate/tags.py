"""Stage: write metadata and chapters into a finished MP3 with mutagen (ID3v2.3, CHAP + CTOC)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import langcodes
from mutagen.id3 import (
    APIC, CHAP, COMM, CTOC, ID3, PCST, TALB, TCON, TCOP, TDRC, TIT2, TLAN, TPE1, TRCK, USLT, WOAS, WXXX,
    CTOCFlags, Frame, ID3NoHeaderError,
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


#: Bump when how the frames are written changes (their order, the ID3 version); the frames themselves are keyed.
TAG_FORMAT = 3  # 2: CHAP frames in time order after the CTOC, v2.3 date frames; 3: pictures keyed by digest


def _frames(show: Show, episode: Episode, artwork: Artwork | None) -> list[Frame]:
    """Every frame but the chapters', in the order they are added: what write_tags writes and tag_key keys."""
    language = iso639_2(show.language)
    frames: list[Frame] = [
        TIT2(encoding=3, text=episode.title),
        TPE1(encoding=3, text=show.author),
        TALB(encoding=3, text=show.title),
        TRCK(encoding=3, text=str(episode.number)),
        TDRC(encoding=3, text=episode.release_date.isoformat()),
        TCON(encoding=3, text="Podcast"),
        TLAN(encoding=3, text=language),
        PCST(value=1),
    ]
    if show.copyright:
        frames.append(TCOP(encoding=3, text=show.copyright))
    if episode.summary:
        frames.append(COMM(encoding=3, lang=language, desc="", text=episode.summary))
    frames.append(USLT(encoding=3, lang=language, desc="", text=full_text(episode)))
    source = episode.document.url or episode.link
    if source:
        frames.append(WOAS(url=source))
        frames.append(WXXX(encoding=3, desc="Source", url=source))
    if artwork:
        frames.append(APIC(encoding=3, mime=artwork.mime, type=3, desc="Cover", data=artwork.data))
    return frames


def _chapter_frames(chapters: Sequence[ChapterTime]) -> list[Frame]:
    """A CHAP frame per chapter, then the CTOC that lists them (none without chapters)."""
    ids = [f"chp{i}" for i in range(len(chapters))]
    frames: list[Frame] = [
        CHAP(element_id=element_id, start_time=round(mark.start * 1000), end_time=round(mark.end * 1000),
             start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF, sub_frames=[TIT2(encoding=3, text=mark.title)])
        for element_id, mark in zip(ids, chapters)
    ]
    if chapters:
        frames.append(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                           sub_frames=[TIT2(encoding=3, text="Chapters")]))
    return frames


def _keyed(frame: Frame) -> str:
    """A frame as the tag key sees it: its repr, with a picture's bytes as their SHA-256 (see _picture_digest)."""
    if isinstance(frame, APIC):
        return f"APIC(encoding={int(frame.encoding)}, mime={frame.mime!r}, type={int(frame.type)}, " \
               f"desc={frame.desc!r}, sha256={_picture_digest(frame.data)})"
    return repr(frame)


@lru_cache(maxsize=64)
def _picture_digest(data: bytes) -> str:
    """SHA-256 of a picture, once per picture: every episode carries the show's cover, often 100s of KB, and
    keying its repr made the plan of a 1,000-episode archive hash and escape a gigabyte."""
    return hashlib.sha256(data).hexdigest()


def tag_key(show: Show, episode: Episode, artwork: Artwork | None, audio_key: str) -> str:
    """Fingerprint of the tags write_tags gives this episode: its very frames, keyed from the same code.

    The chapters' times follow from the audio (`audio_key`); their titles and table are keyed here.
    """
    untimed = [ChapterTime(c.title, 0.0, 0.0) for c in episode.chapters]
    frames = [_keyed(frame) for frame in (*_frames(show, episode, artwork), *_chapter_frames(untimed))]
    material = {"format": TAG_FORMAT, "audio": audio_key, "frames": frames}
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


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
    for frame in (*_frames(show, episode, artwork), *_chapter_frames(chapters)):
        tags.add(frame)
    tags.update_to_v23()  # mutagen writes v2.4-only frames (TDRC) into a v2.3 tag unless converted first
    tags.save(path, v2_version=3, v1=0)
