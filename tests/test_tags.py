"""ID3 details read from the file's bytes, the way a player that ignores the CTOC reads them."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from narrate.record import ChapterTime
from narrate.script import load_project
from narrate.tags import MAX_CHAPTERS, write_tags
from tests.conftest import write_show


def raw_frames(path: Path) -> list[tuple[str, bytes]]:
    """(frame ID, frame body) in file order, parsed from an ID3v2.3 tag without mutagen."""
    data = path.read_bytes()
    assert data[:3] == b"ID3" and data[3] == 3, "expected an ID3v2.3 tag"
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | byte
    frames, pos = [], 10
    while pos + 10 <= 10 + size and data[pos:pos + 1] not in (b"\0", b""):
        frame_id = data[pos:pos + 4].decode("ascii")
        (length,) = struct.unpack(">I", data[pos + 4:pos + 8])
        frames.append((frame_id, data[pos + 10:pos + 10 + length]))
        pos += 10 + length
    return frames


def chap_starts(path: Path) -> list[tuple[str, int]]:
    """(element ID, start in ms) of each CHAP frame, in file order."""
    found = []
    for frame_id, body in raw_frames(path):
        if frame_id == "CHAP":
            element, _, rest = body.partition(b"\0")
            found.append((element.decode("latin-1"), struct.unpack(">I", rest[:4])[0]))
    return found


def test_chap_frames_are_written_in_time_order(tmp_path: Path) -> None:
    project = load_project(write_show(tmp_path / "scripts"))
    episode = project.episodes[0]
    # Titles of falling then rising length: mutagen's own order (by frame size) would put "Sources" first.
    titles = ["A long opening chapter about the letter", "The middle", "An even longer chapter title here", "Sources"]
    chapters = [ChapterTime(t, i * 10.0, (i + 1) * 10.0) for i, t in enumerate(titles)]
    mp3 = tmp_path / "x.mp3"
    mp3.write_bytes(b"")
    write_tags(mp3, project.show, episode, chapters, None)
    starts = chap_starts(mp3)
    assert [s for _, s in starts] == [0, 10000, 20000, 30000]
    assert [e for e, _ in starts] == ["chp0", "chp1", "chp2", "chp3"]
    ids = [f for f, _ in raw_frames(mp3)]
    assert ids.index("CTOC") < ids.index("CHAP")


def test_the_v23_tag_holds_no_v24_frames(tmp_path: Path) -> None:
    project = load_project(write_show(tmp_path / "scripts"))
    mp3 = tmp_path / "x.mp3"
    mp3.write_bytes(b"")
    write_tags(mp3, project.show, project.episodes[0], [ChapterTime("Only", 0.0, 1.0)], None)
    ids = [f for f, _ in raw_frames(mp3)]
    assert "TDRC" not in ids and "TYER" in ids, ids  # the release date as v2.3 readers look for it


def test_more_chapters_than_a_chapter_table_holds_is_refused(tmp_path: Path) -> None:
    project = load_project(write_show(tmp_path / "scripts"))
    chapters = [ChapterTime(f"c{i}", float(i), i + 1.0) for i in range(MAX_CHAPTERS + 1)]
    mp3 = tmp_path / "x.mp3"
    mp3.write_bytes(b"")
    with pytest.raises(ValueError, match="at most 255"):
        write_tags(mp3, project.show, project.episodes[0], chapters, None)


def test_a_built_episode_has_its_chap_frames_in_time_order(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from narrate.cli import main
    from tests.conftest import EPISODE_ONE

    script = EPISODE_ONE.replace("# Opening", "# An opening chapter with a long title").replace("# Closing", "# Sources")
    folder = write_show(tmp_path / "scripts", episodes={"001-first.md": script})
    out = tmp_path / "audio"
    result = CliRunner().invoke(main, ["build", str(folder), "-o", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    (mp3,) = out.glob("*.mp3")
    starts = chap_starts(mp3)
    assert len(starts) == 2 and starts[0][1] == 0 < starts[1][1], starts
