"""Published files are readable by a web server, keep the modes users give them, and say which episode they are."""
from __future__ import annotations

import datetime as dt
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from tests.conftest import EPISODE_ONE, write_show

TODAY = dt.date(2026, 6, 1)


def _build(scripts: Path, out: Path) -> object:
    return build(scripts, BuildOptions(output=out, cache_dir=out.parent / "cache", in_process=True, today=TODAY))



def _modes(out: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file() and p.name != ".narrate.lock"}


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)],
                         ids=["umask-022", "umask-027"])
def test_published_files_honour_the_umask(show_dir: Path, tmp_path: Path, umask, mask: int, file_mode: int,
                                          dir_mode: int) -> None:
    umask(mask)
    out = tmp_path / "audio"
    _build(show_dir, out)
    modes = _modes(out)
    assert len(modes) >= 7  # mp3, chapters, vtt, srt, cover, feed, record
    assert modes == dict.fromkeys(modes, file_mode), {k: oct(v) for k, v in modes.items()}
    assert stat.S_IMODE(out.stat().st_mode) == dir_mode


def test_a_rebuild_keeps_the_mode_the_user_set(show_dir: Path, tmp_path: Path, umask) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    feed = out / "feed.xml"
    feed.chmod(0o640)
    before = feed.read_bytes()
    show = show_dir / "show.yaml"
    show.write_text(show.read_text().replace("https://example.org/show/", "https://cdn.example.net/pod/"))
    _build(show_dir, out)
    assert feed.read_bytes() != before, "the feed was rewritten"
    assert stat.S_IMODE(feed.stat().st_mode) == 0o640
    assert stat.S_IMODE((out / RECORD_NAME).stat().st_mode) == 0o644


def test_a_new_version_of_an_episode_keeps_the_mode_the_user_gave_the_old_one(show_dir: Path, tmp_path: Path,
                                                                           umask) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    old = published_paths(out, "001-first")
    for path in old.values():
        path.chmod(0o640)
    script = show_dir / "001-first.md"
    script.write_text(script.read_text().replace("It sets the scene.", "It sets the scene again."))
    _build(show_dir, out)
    new = published_paths(out, "001-first")
    assert set(new) == set(old) and all(new[k] != old[k] for k in ("mp3", "vtt", "srt")), "new content-named files"
    assert {k: oct(stat.S_IMODE(p.stat().st_mode)) for k, p in new.items()} == dict.fromkeys(new, oct(0o640))
    assert not any(p.exists() for k, p in old.items() if new[k] != p), "superseded files are removed"


SAME_SIZE_ONE = EPISODE_ONE.replace('title: "First episode"', 'title: "Episode A"')
SAME_SIZE_TWO = EPISODE_ONE.replace('title: "First episode"', 'title: "Episode B"').replace(
    "episode: 1", "episode: 2").replace("date: 2026-01-05", "date: 2026-01-06")


def test_check_published_catches_two_swapped_files_of_the_same_size(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-a.md": SAME_SIZE_ONE, "002-b.md": SAME_SIZE_TWO})
    out = tmp_path / "audio"
    _build(scripts, out)
    runner = CliRunner()
    assert runner.invoke(main, ["check", "--published", str(out)]).exit_code == 0
    a, b = published_paths(out, "001-a")["mp3"], published_paths(out, "002-b")["mp3"]
    assert a.stat().st_size == b.stat().st_size, "the test needs two MP3s of the same size"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    result = runner.invoke(main, ["check", "--published", str(out)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {a.name}: its tags say track 2 'Episode B', but the feed item naming it is episode 1 'Episode A': "
        "these bytes belong to another episode",
        f"error: {b.name}: its tags say track 1 'Episode A', but the feed item naming it is episode 2 'Episode B': "
        "these bytes belong to another episode",
    ], result.output


class _Timeout(Exception):
    pass


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail, rather than hang, when the code under test blocks for more than 60 s."""
    def expired(_signum, _frame):
        raise _Timeout("check --published hung")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_published_mp3_that_is_a_fifo_or_dev_zero_is_one_clear_line(show_dir: Path, tmp_path: Path, kind: str,
                                                                     alarm) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    mp3 = published_paths(out, "001-first")["mp3"]
    mp3.unlink()
    if kind == "fifo":
        os.mkfifo(mp3)
        what = "is a FIFO (named pipe), not a regular file"
    else:
        mp3.symlink_to("/dev/zero")
        what = "is a symbolic link to /dev/zero, a character device, not a regular file"
    before = sorted(p.name for p in out.iterdir())
    result = CliRunner().invoke(main, ["check", "--published", str(out)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {mp3.name}: {what}; publish the real file"], result.output
    assert sorted(p.name for p in out.iterdir()) == before, "no temporary file is left"
    # and the next build replaces it with a real file instead of reading from it
    _build(show_dir, out)
    assert published_paths(out, "001-first")["mp3"].is_file()
    assert CliRunner().invoke(main, ["check", "--published", str(out)]).exit_code == 0


def test_a_fifo_in_place_of_the_feed_does_not_hang_the_build_or_the_check(show_dir: Path, tmp_path: Path,
                                                                         alarm) -> None:
    out = tmp_path / "audio"
    _build(show_dir, out)
    (out / "feed.xml").unlink()
    os.mkfifo(out / "feed.xml")
    result = CliRunner().invoke(main, ["check", "--published", str(out)])
    assert result.exit_code == 1
    assert "error: feed.xml: is a FIFO (named pipe), not a regular file; publish the real file" in result.output
    _build(show_dir, out)
    assert (out / "feed.xml").is_file()


def test_cleanup_removes_only_narrates_own_files(show_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audio"
    out.mkdir()
    # files of the older layout (no content hash) and the user's own files
    for name in ("001-first.mp3", "001-first.vtt", "001-first.srt", "001-first.chapters.json", "cover.png"):
        (out / name).write_bytes(b"old")
    user = {"notes.txt": b"mine", "001-first-extra.mp3": b"mine", "001-first.notes.txt": b"mine",
            "other.0123456789.mp3": b"mine"}
    for name, data in user.items():
        (out / name).write_bytes(data)
    _build(show_dir, out)
    names = {p.name for p in out.iterdir()}
    assert not names & {"001-first.mp3", "001-first.vtt", "001-first.srt", "001-first.chapters.json", "cover.png"}
    assert all((out / name).read_bytes() == data for name, data in user.items())


def test_a_folder_of_the_older_layout_moves_to_content_names_without_rendering(show_dir: Path, tmp_path: Path) -> None:
    import json

    from tests import fake_engine

    out = tmp_path / "audio"
    _build(show_dir, out)
    # Make it look like narrate's older output: fixed names, no sidecar list in the record.
    record_path = out / RECORD_NAME
    data = json.loads(record_path.read_text())
    entry = data["episodes"]["001-first"]
    (out / entry["file"]).rename(out / "001-first.mp3")
    for kind, suffix in (("chapters", ".chapters.json"), ("vtt", ".vtt"), ("srt", ".srt")):
        (out / entry["sidecars"][kind]).rename(out / f"001-first{suffix}")
    entry["file"] = "001-first.mp3"
    del entry["sidecars"]
    record_path.write_text(json.dumps(data))
    fake_engine.CALLS.clear()
    report = _build(show_dir, out)
    assert fake_engine.CALLS == []
    assert [e.action for e in report.plan] == ["retag"]
    names = {p.name for p in out.iterdir()}
    assert not names & {"001-first.mp3", "001-first.vtt", "001-first.srt", "001-first.chapters.json"}
    assert len([n for n in names if n.startswith("001-first.")]) == 4
    assert CliRunner().invoke(main, ["check", "--published", str(out)]).exit_code == 0


def test_episode_art_is_content_named_and_replaced_after_the_feed(tmp_path: Path) -> None:
    import re

    from PIL import Image

    from tests.conftest import EPISODE_TWO

    scripts = write_show(tmp_path / "scripts", episodes={
        "001-first.md": EPISODE_ONE.replace("summary: The first one.", "summary: The first one.\nimage: art/one.png"),
        "002-second.md": EPISODE_TWO})
    (scripts / "art").mkdir()
    Image.new("RGB", (1400, 1400), (40, 80, 120)).save(scripts / "art" / "one.png")
    out = tmp_path / "audio"
    _build(scripts, out)
    art = published_paths(out, "001-first")["art"]
    assert re.fullmatch(r"art-one-art\.[0-9a-f]{10}\.png", art.name), art.name
    assert f"/{art.name}".encode() in (out / "feed.xml").read_bytes()
    # building only episode 2 keeps episode 1's art in the feed
    build(scripts, BuildOptions(output=out, cache_dir=out.parent / "cache", in_process=True, today=TODAY,
                                episodes=(2,)))
    assert art.exists() and f"/{art.name}".encode() in (out / "feed.xml").read_bytes()
    # new art: a new name in the feed, the old file removed
    Image.new("RGB", (1400, 1400), (120, 80, 40)).save(scripts / "art" / "one.png")
    _build(scripts, out)
    new = published_paths(out, "001-first")["art"]
    assert new != art and new.exists() and not art.exists()
    assert f"/{new.name}".encode() in (out / "feed.xml").read_bytes()
    assert CliRunner().invoke(main, ["check", "--published", str(out)]).exit_code == 0
