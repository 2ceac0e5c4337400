"""Every rule of `check --published`, each broken by one tampered copy of a small show built once.

A row names the rule (a key of narrate.verify.RULES), how the output is tampered with and a fragment of
the problem line that must appear; a rule with no row fails `test_every_rule_has_a_tampered_row`.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3, TCON, TIT2, CTOCFlags

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from narrate.verify import RULES, PublishedReport, check_published
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show

ONE, TWO = "001-first", "002-second"
Tamper = Callable[[Path, pytest.MonkeyPatch], None]


class Row(NamedTuple):
    rule: str
    tamper: Tamper
    fragment: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two fake-engine episodes built once; each test damages a copy."""
    root = tmp_path_factory.mktemp("verify")
    scripts = write_show(root / "scripts", episodes={f"{ONE}.md": EPISODE_ONE, f"{TWO}.md": EPISODE_TWO})
    out = root / "audio"
    build(scripts, BuildOptions(output=out, cache_dir=root / "cache", in_process=True, today=dt.date(2026, 6, 1)))
    return out


def _file(out: Path, slug: str, kind: str) -> Path:
    return published_paths(out, slug)[kind]


# ---------------------------------------------------------------------------------------------- tamperings


def feed(pattern: str, replacement: str, count: int = 1) -> Tamper:
    """Replace the first `count` matches of a regular expression in feed.xml (episode 2's item comes first)."""
    def tamper(out: Path, _mp: pytest.MonkeyPatch) -> None:
        path = out / "feed.xml"
        text, done = re.subn(pattern, replacement, path.read_text(encoding="utf-8"), count=count)
        assert done, f"{pattern!r} is not in the feed"
        path.write_text(text, encoding="utf-8")
    return tamper


def feed_bytes(edit: Callable[[bytes], bytes]) -> Tamper:
    def tamper(out: Path, _mp: pytest.MonkeyPatch) -> None:
        path = out / "feed.xml"
        path.write_bytes(edit(path.read_bytes()))
    return tamper


def text_of(slug: str, kind: str, edit: Callable[[str], str]) -> Tamper:
    """Rewrite one of an episode's text files (chapters, vtt, srt)."""
    def tamper(out: Path, _mp: pytest.MonkeyPatch) -> None:
        path = _file(out, slug, kind)
        path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    return tamper


def chapters_json(edit: Callable[[dict], None]) -> Tamper:
    def change(text: str) -> str:
        data = json.loads(text)
        edit(data)
        return json.dumps(data)
    return text_of(ONE, "chapters", change)


def tags(edit: Callable[[ID3], None], version: int = 3) -> Tamper:
    """Change episode 1's ID3 tag with mutagen."""
    def tamper(out: Path, _mp: pytest.MonkeyPatch) -> None:
        mp3 = _file(out, ONE, "mp3")
        tag = ID3(mp3)
        edit(tag)
        tag.save(mp3, v2_version=version)
    return tamper


def chap(index: int, **changes: object) -> Callable[[ID3], None]:
    def edit(tag: ID3) -> None:
        frame = sorted(tag.getall("CHAP"), key=lambda f: f.start_time)[index]
        for name, value in changes.items():
            setattr(frame, name, value)
    return edit


def chapter_title(index: int, values: list[str]) -> Callable[[ID3], None]:
    def edit(tag: ID3) -> None:
        frame = sorted(tag.getall("CHAP"), key=lambda f: f.start_time)[index]
        frame.sub_frames.setall("TIT2", [TIT2(encoding=3, text=values)])
    return edit


def ctoc(edit: Callable[[object], None]) -> Callable[[ID3], None]:
    return lambda tag: edit(tag.getall("CTOC")[0])


def targets(loudness: float, true_peak: float) -> Tamper:
    """The build record says the show was built for other loudness targets."""
    def tamper(out: Path, _mp: pytest.MonkeyPatch) -> None:
        path = out / RECORD_NAME
        data = json.loads(path.read_text(encoding="utf-8"))
        data["targets"] = {"loudness": loudness, "true_peak": true_peak}
        path.write_text(json.dumps(data), encoding="utf-8")
    return tamper


def delete(slug: str, kind: str) -> Tamper:
    return lambda out, _mp: _file(out, slug, kind).unlink()


def stale_page(out: Path, _mp: pytest.MonkeyPatch) -> None:
    """Episode 1's page left playing an MP3 the feed no longer names (a page not redeployed with the feed)."""
    page = out / "episodes" / f"{ONE}.html"
    mp3 = _file(out, ONE, "mp3").name
    page.write_text(page.read_text(encoding="utf-8").replace(mp3, f"{ONE}.0123456789.mp3"), encoding="utf-8")


def fifo(out: Path, _mp: pytest.MonkeyPatch) -> None:
    vtt = _file(out, ONE, "vtt")
    vtt.unlink()
    os.mkfifo(vtt)


def garbage_audio(out: Path, _mp: pytest.MonkeyPatch) -> None:
    """Episode 1's MP3 overwritten by bytes no decoder takes for audio."""
    _file(out, ONE, "mp3").write_bytes(b"narrate" * 1000)


def swap_guids(out: Path, _mp: pytest.MonkeyPatch) -> None:
    path = out / "feed.xml"
    text = path.read_text(encoding="utf-8")
    first, second = re.findall(r'<guid isPermaLink="false">([^<]+)</guid>', text)
    path.write_text(text.replace(second, first), encoding="utf-8")


def bad_cover(out: Path, _mp: pytest.MonkeyPatch) -> None:
    next(out.glob("cover.*.png")).write_bytes(b"not an image at all")


def episode_image(out: Path, mp: pytest.MonkeyPatch) -> None:
    (out / "art.png").write_bytes(b"not an image at all")
    feed("<itunes:episode>2</itunes:episode>",
         '<itunes:episode>2</itunes:episode><itunes:image href="https://example.org/show/art.png" />')(out, mp)


def drop_last_block(text: str) -> str:
    return "\n\n".join(text.strip().split("\n\n")[:-1]) + "\n"


def swap_cues(text: str) -> str:
    header, first, second, *rest = text.strip().split("\n\n")
    return "\n\n".join([header, second, first, *rest]) + "\n"


def shift_last_cue(text: str) -> str:
    *head, last = text.strip().split("\n\n")
    return "\n\n".join([*head, re.sub(r"00:00:0(\d)", r"00:00:5\1", last)]) + "\n"


ROWS = [
    Row("output.present", lambda out, _mp: shutil.rmtree(out), "no such folder"),
    Row("file.not-regular", fifo, "is a FIFO (named pipe), not a regular file"),
    Row("feed.present", lambda out, _mp: (out / "feed.xml").unlink(), "feed.xml: missing in"),
    Row("feed.utf8", feed_bytes(lambda b: b.replace(b"A show for tests.", b"A show \xff for tests.", 1)),
        "feed.xml: not valid UTF-8"),
    Row("feed.utf8", feed("encoding='utf-8'", "encoding='iso-8859-1'"), "encoding is iso-8859-1, not UTF-8"),
    Row("feed.xml", feed_bytes(lambda b: b[:-200]), "feed.xml: not well-formed XML"),
    Row("feed.xml", feed(r"(</?)channel>", r"\1chan>", 2), "feed.xml: has no <channel>"),
    Row("feed.root", feed('version="2.0"', 'version="0.91"'), 'the root element must be <rss version="2.0">'),
    Row("feed.namespaces", feed('xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"',
                                'xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd"'),
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" is not declared'),
    Row("channel.required", feed("<language>en</language>", "<language></language>"),
        "channel <language> is missing or empty"),
    Row("channel.required", feed("<itunes:category [^>]*>", ""), "channel <itunes:category text=...> is missing"),
    Row("channel.description-size", feed("<description>A show for tests.</description>",
                                         f"<description>{'x' * 4001}</description>"),
        "channel <description> is 4001 bytes, over Apple's 4000"),
    Row("channel.category", feed('text="History"', 'text="Historie"'),
        "itunes:category 'Historie' is not an Apple Podcasts category"),
    Row("channel.explicit", feed("<itunes:explicit>false</itunes:explicit>", "<itunes:explicit>no</itunes:explicit>"),
        "channel <itunes:explicit> must be true or false (it is 'no')"),
    Row("channel.self-link", feed("<atom:link [^>]*>", ""), '<atom:link rel="self" href=...> is missing'),
    Row("channel.podcast-guid", feed("<podcast:guid>0", "<podcast:guid>1"), "is not the UUIDv5 of the feed URL"),
    Row("channel.last-build-date", feed("<lastBuildDate>[^<]*<", "<lastBuildDate>12 Jan 2026<"),
        "channel lastBuildDate '12 Jan 2026' is not RFC 2822"),
    Row("channel.cover", lambda out, _mp: next(out.glob("cover.*.png")).unlink(), "does not exist in"),
    Row("feed.archive", feed(r"(<atom:link [^>]*rel=\"self\"[^>]*/>)",
                             r'\g<1><atom:link href="https://example.org/show/feed-archive-1.xml" rel="prev-archive" />'),
        "archive page feed-archive-1.xml does not exist in"),
    Row("cover.valid", bad_cover, "png: not an image that can be read"),
    Row("cover.valid", episode_image, "art.png: not an image that can be read"),
    Row("item.title", feed("<title>Second episode</title>", "<title></title>"), "<title> is missing or empty"),
    Row("item.guid", feed('<guid isPermaLink="false">', "<guid>"), 'must have isPermaLink="false"'),
    Row("item.guid-unique", swap_guids, "is used by more than one item"),
    Row("item.pubdate", feed("<pubDate>Mon, ", "<pubDate>Tue, "), "the day of the week is wrong (it was a Mon)"),
    Row("item.pubdate", feed("<pubDate>[^<]*</pubDate>", ""), "<pubDate> is missing"),
    Row("item.url", feed('<enclosure url="https://example.org/show/', '<enclosure url="https://elsewhere.example/'),
        "is not under the feed's base URL https://example.org/show/"),
    Row("item.file-exists", delete(ONE, "vtt"), ".vtt does not exist in"),
    Row("item.enclosure", feed('type="audio/mpeg"', 'type="audio/mp3"'), "enclosure type is 'audio/mp3', not audio/mpeg"),
    Row("item.enclosure", feed("(<enclosure [^>]*>)", r"\1\1"), "has 2 <enclosure> elements; exactly one is required"),
    Row("item.enclosure-length", feed(r'length="(\d+)"', 'length="7"'), "enclosure length 7 differs from the size of"),
    Row("item.duration", feed(r"<itunes:duration>(\d+)<", r"<itunes:duration>0:0\1<"), "is not whole seconds"),
    Row("item.chapters", feed('type="application/json\\+chapters"', 'type="application/json"'),
        "podcast:chapters type is 'application/json', not application/json+chapters"),
    Row("item.transcripts", feed(' rel="captions"', ""), 'needs rel="captions"'),
    Row("item.transcripts", feed('<podcast:transcript [^>]*type="application/x-subrip"[^>]*>', ""),
        '<podcast:transcript type="application/x-subrip">; expected one'),
    Row("item.psc", feed('start="00:00:00.000"', 'start="0:00"'), "psc:chapter start '0:00' is not zero-padded"),
    Row("item.page", lambda out, _mp: (out / "episodes" / f"{ONE}.html").unlink(),
        f"the page episodes/{ONE}.html does not exist in"),
    Row("item.page", stale_page, f"the page episodes/{ONE}.html does not play {ONE}."),
    Row("parser.missing", lambda _out, mp: mp.setitem(sys.modules, "podcastparser", None),
        "cannot read the output back with podcastparser: it is not installed"),
    Row("parser.podcastparser", feed("(<enclosure [^>]*>)", r"\1\1"),
        "podcastparser finds 2 enclosures in item 'Second episode'"),
    Row("parser.feedparser", feed("(<enclosure [^>]*>)", r"\1\1"), "feedparser finds 2 enclosures"),
    Row("audio.tool", lambda _out, mp: mp.setenv("NARRATE_FFMPEG", "/nonexistent/ffmpeg"),
        "cannot check the audio: NARRATE_FFMPEG=/nonexistent/ffmpeg"),
    Row("audio.decode", garbage_audio, "ffmpeg cannot decode it"),
    Row("audio.duration", feed(r"<itunes:duration>(\d+)<", "<itunes:duration>30<"), "itunes:duration 30 s differs from"),
    Row("audio.loudness", targets(-23.0, -1.0), "is outside the target -23.0 ±1 LU"),
    Row("audio.true-peak", targets(-16.0, -12.0), "dBTP is above the -12.0 dBTP limit"),
    Row("tags.id3", tags(lambda tag: None, version=4), "not ID3v2.3"),
    Row("tags.id3", lambda out, _mp: ID3(_file(out, ONE, "mp3")).delete(), "has no ID3v2 tag"),
    Row("tags.required", tags(lambda tag: tag.delall("TALB")), "no album (TALB) in the tag"),
    Row("tags.required", tags(lambda tag: tag.setall("TCON", [TCON(encoding=3, text=["Blues"])])),
        "genre (TCON) is not Podcast"),
    Row("tags.identity", tags(lambda tag: tag.setall("TIT2", [TIT2(encoding=3, text=["Another"])])),
        "these bytes belong to another episode"),
    Row("chapters.frames", tags(ctoc(lambda toc: setattr(toc, "flags", CTOCFlags.TOP_LEVEL))),
        "the CTOC frame is not flagged ordered"),
    Row("chapters.frames", tags(ctoc(lambda toc: toc.child_element_ids.reverse())), "the CTOC lists"),
    Row("chapters.timeline", tags(chap(0, start_time=1000)), "ID3 chapters: the first chapter starts at 1.000 s"),
    # ID3v2.4 separates values with NUL: mutagen reads both, ffmpeg only the first.
    Row("chapters.ffmpeg", tags(chapter_title(0, ["Opening", "Extra"]), version=4),
        "ffmpeg chapter 1 is titled 'Opening', the CHAP frame"),
    Row("chapters.json", chapters_json(lambda data: data.update(version="1.1")), "version is '1.1', not '1.2.0'"),
    Row("chapters.json", text_of(ONE, "chapters", lambda _text: "{"), "not valid JSON chapters"),
    Row("chapters.json-match", chapters_json(lambda data: data["chapters"][1].update(title="Renamed")),
        "chapter 2 is titled 'Renamed', the CHAP frame 'Closing'"),
    Row("chapters.json-match", chapters_json(lambda data: data["chapters"].pop()),
        "has 1 chapters, the MP3's CHAP frames 2"),
    Row("chapters.psc-match", feed("(?s)<psc:chapters .*?</psc:chapters>", ""), "no <psc:chapters>"),
    Row("chapters.psc-match", feed(r'(<psc:chapter start=")00:00:0\d', r"\g<1>00:00:09", 3),
        "psc:chapters start at"),
    Row("cues.read", text_of(ONE, "vtt", lambda text: text.replace("WEBVTT", "WEBVT", 1)),
        "the first line must be WEBVTT"),
    Row("cues.read", text_of(ONE, "srt", lambda text: "garbage\n" + text), "srt cannot read it"),
    Row("cues.timeline", text_of(ONE, "vtt", swap_cues), "cue 2 starts at 0.000 s, before the cue before it"),
    Row("cues.timeline", text_of(TWO, "vtt", shift_last_cue), "after the end of the audio"),
    Row("cues.match", text_of(ONE, "srt", drop_last_block), "cues, but the VTT has 5"),
]


def _id(row: Row) -> str:
    return f"{row.rule}-{ROWS.index(row)}"


def _has(report: PublishedReport, rule: str, fragment: str) -> None:
    broken = [p for p, r in zip(report.problems, report.rules) if r == rule]
    assert any(fragment in p for p in broken), (rule, fragment, list(zip(report.rules, report.problems)))


def test_untampered_output_passes(built: Path) -> None:
    report = check_published(built)
    assert report.problems == () and report.rules == (), report.problems


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_tampered_output_breaks_its_rule(row: Row, built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = Path(shutil.copytree(built, tmp_path / "out"))
    row.tamper(out, monkeypatch)
    _has(check_published(out), row.rule, row.fragment)


def test_every_rule_has_a_tampered_row() -> None:
    assert {row.rule for row in ROWS} <= set(RULES), {row.rule for row in ROWS} - set(RULES)
    assert set(RULES) - {row.rule for row in ROWS} == set()


def test_every_problem_names_its_rule(built: Path, tmp_path: Path) -> None:
    out = Path(shutil.copytree(built, tmp_path / "out"))
    (out / "feed.xml").write_text("<rss", encoding="utf-8")
    report = check_published(out)
    assert report.problems and len(report.rules) == len(report.problems)


def test_check_uses_the_shows_own_loudness_targets_and_options_override_them(tmp_path: Path) -> None:
    show = SHOW_YAML.replace("audio:\n", "audio:\n  loudness: -19\n  true_peak: -2\n")
    scripts = write_show(tmp_path / "scripts", show, episodes={f"{TWO}.md": EPISODE_TWO})
    out = tmp_path / "audio"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=dt.date(2026, 6, 1)))
    assert json.loads((out / RECORD_NAME).read_text(encoding="utf-8"))["targets"] == {"loudness": -19,
                                                                                       "true_peak": -2}
    assert check_published(out).problems == ()
    runner = CliRunner()
    assert runner.invoke(main, ["check", "--published", str(out)]).exit_code == 0
    result = runner.invoke(main, ["check", "--published", str(out), "--loudness", "-16"])
    assert result.exit_code == 1
    assert "is outside the target -16.0 ±1 LU" in result.output


def test_missing_parsers_are_said_once_and_not_claimed(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("podcastparser", "feedparser", "webvtt", "srt"):
        monkeypatch.setitem(sys.modules, name, None)
    report = check_published(built)
    assert report.problems == ("check --published: cannot read the output back with podcastparser, feedparser, "
                               "webvtt-py, srt: they are not installed (reinstall narrate: pip install -e .); the "
                               "rules that need them were skipped",), report.problems
    assert "feed.xml: 2 episodes, read with an XML parser" in report.lines, report.lines
