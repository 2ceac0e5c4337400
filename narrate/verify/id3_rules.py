"""Tag rules: each MP3's ID3v2 tag read with mutagen, its frames, its identity and its CHAP/CTOC chapters."""
from __future__ import annotations

from pathlib import Path

from mutagen import MutagenError
from mutagen.id3 import ID3, CTOCFlags, ID3NoHeaderError

from narrate.verify.rules import ChapterRead, EpisodeFiles, Findings


def id3_chapters(path: Path, found: Findings, episode: EpisodeFiles | None = None) -> list[ChapterRead] | None:
    """Tag rules, the tags against the feed item, and the CHAP frames (sorted by start: mutagen keeps its own
    frame order)."""
    where = path.name
    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        found.problem("tags.id3", where, "has no ID3v2 tag")
        return None
    except (OSError, MutagenError, ValueError) as exc:
        found.problem("tags.id3", where, f"cannot read its ID3 tag ({exc})")
        return None
    if tags.version[:2] != (2, 3):
        found.problem("tags.id3", where,
                      f"tag is ID3v{tags.version[0]}.{tags.version[1]}, not ID3v2.3 "
                      "(Apple Podcasts mishandles v2.4 chapter titles)")
    for frame, name in (("TIT2", "title"), ("TALB", "album"), ("TRCK", "track")):
        if not str(tags.get(frame, "")).strip():
            found.problem("tags.required", where, f"no {name} ({frame}) in the tag")
    if episode is not None:
        # The tags say which episode the bytes are: two files swapped (even of the same size) are caught here.
        tagged_title, tagged_track = str(tags.get("TIT2", "")).strip(), str(tags.get("TRCK", "")).strip()
        tagged_number = tagged_track.split("/")[0]
        title_differs = episode.title is not None and bool(tagged_title) and tagged_title != episode.title
        number_differs = bool(episode.number) and bool(tagged_number) and tagged_number != str(episode.number)
        if title_differs or number_differs:
            owner = "the feed item" if episode.in_feed else "the build record"
            found.problem("tags.identity", where,
                          f"its tags say track {tagged_number} '{tagged_title}', but {owner} naming it is "
                          f"episode {episode.number} '{episode.title}': these bytes belong to another episode")
    genre = tags.get("TCON")
    if genre is None or "Podcast" not in [str(g) for g in genre.text]:
        found.problem("tags.required", where, "genre (TCON) is not Podcast")

    chaps = sorted(tags.getall("CHAP"), key=lambda f: (f.start_time, f.element_id))
    chapters = []
    for chap in chaps:
        title = chap.sub_frames.get("TIT2")
        chapters.append(ChapterRead(chap.start_time / 1000, chap.end_time / 1000, str(title) if title else ""))
    ids = [c.element_id for c in chaps]
    if len(set(ids)) != len(ids):
        found.problem("chapters.frames", where, "CHAP element IDs are not unique")
    tocs = tags.getall("CTOC")
    top = [t for t in tocs if t.flags & CTOCFlags.TOP_LEVEL]
    if chaps and len(top) != 1:
        found.problem("chapters.frames", where, f"has {len(top)} top-level CTOC frames; exactly one is required")
    for toc in top[:1]:
        if not toc.flags & CTOCFlags.ORDERED:
            found.problem("chapters.frames", where, "the CTOC frame is not flagged ordered")
        if list(toc.child_element_ids) != ids:
            found.problem("chapters.frames", where,
                          f"the CTOC lists {list(toc.child_element_ids)}, but the chapters in time order are "
                          f"{ids}")
    return chapters

