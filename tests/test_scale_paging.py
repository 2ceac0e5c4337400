"""Feed paging (show.yaml `feed: {limit: N}`): the newest items in feed.xml, older ones in RFC 5005 archive pages.

Read back with podcastparser (gPodder follows rel="next") and feedparser, built end to end and checked by
`check --published`; a page once written keeps its bytes as episodes are added.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import podcastparser
import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.feed import ATOM_NS, HISTORY_NS, FeedItem, archive_page_name, paged_feeds, split_pages
from narrate.record import load_record
from narrate.verify import check_published
from tests.conftest import SHOW_YAML, write_show
from tests.test_feed import BASE, FEED_URL, RECORD_1, SHOW

COVER = BASE + "cover.jpg"


def items(count: int) -> list[FeedItem]:
    """`count` episodes a week apart, numbered from 1 (the oldest)."""
    out = []
    for n in range(1, count + 1):
        record = dataclasses.replace(RECORD_1, number=n, slug=f"{n:03d}-ep", title=f"Episode {n}",
                                     release_date=(dt.date(2026, 1, 1) + dt.timedelta(weeks=n)).isoformat(),
                                     file=f"{n:03d}-ep.mp3")
        out.append(FeedItem(record, f"guid-{n}", BASE + record.file, f"{BASE}{n}.json", f"{BASE}{n}.vtt",
                            f"{BASE}{n}.srt"))
    return out


def numbers(page: list[FeedItem]) -> list[int]:
    return [i.record.number for i in page]


def links(data: bytes) -> dict[str, str]:
    channel = ET.fromstring(data).find("channel")
    return {link.get("rel"): link.get("href") for link in channel.findall(f"{{{ATOM_NS}}}link")}


def test_feed_holds_the_newest_items_and_whole_pages_the_rest() -> None:
    current, pages = split_pages(items(11), 4)
    assert numbers(current) == [11, 10, 9, 8]
    assert [numbers(p) for p in pages] == [[4, 3, 2, 1], [8, 7, 6, 5]]  # oldest page first, whole pages only
    # No page is ever feed.xml again: 8 items in pages of 4 make one page, and feed.xml the newest 4.
    current, pages = split_pages(items(8), 4)
    assert numbers(current) == [8, 7, 6, 5] and [numbers(p) for p in pages] == [[4, 3, 2, 1]]
    assert split_pages(items(4), 4)[1] == [] and split_pages(items(9), 0)[1] == []
    for count in range(1, 30):
        current, pages = split_pages(items(count), 3)
        everywhere = {n for page in (current, *pages) for n in numbers(page)}
        assert everywhere == set(range(1, count + 1)) and len(current) == min(count, 3)


def test_pages_keep_their_bytes_as_episodes_are_added() -> None:
    first = paged_feeds(SHOW, items(9), COVER, FEED_URL, limit=3)
    assert [name for name, _ in first.archives] == ["feed-archive-1.xml", "feed-archive-2.xml"]
    for count in range(10, 16):
        later = paged_feeds(SHOW, items(count), COVER, FEED_URL, limit=3)
        assert later.archives[:2] == first.archives
    assert len(paged_feeds(SHOW, items(15), COVER, FEED_URL, limit=3).archives) == 4


def test_rfc5005_links_chain_the_pages_from_the_feed_back_to_the_oldest() -> None:
    feeds = paged_feeds(SHOW, items(10), COVER, FEED_URL, limit=3)
    page_url = {name: BASE + name for name, _ in feeds.archives}
    assert links(feeds.feed) == {"self": FEED_URL, "first": FEED_URL, "next": page_url["feed-archive-3.xml"],
                                 "prev-archive": page_url["feed-archive-3.xml"]}
    assert ET.fromstring(feeds.feed).find(f"channel/{{{HISTORY_NS}}}archive") is None
    for number, (name, data) in enumerate(feeds.archives, 1):
        expected = {"self": page_url[name], "first": FEED_URL, "current": FEED_URL}
        if number > 1:
            older = page_url[archive_page_name(number - 1)]
            expected |= {"next": older, "prev-archive": older}
        assert links(data) == expected
        assert ET.fromstring(data).find(f"channel/{{{HISTORY_NS}}}archive") is not None


def test_podcastparser_and_feedparser_read_every_page_and_follow_the_chain() -> None:
    feeds = paged_feeds(SHOW, items(10), COVER, FEED_URL, limit=3)
    documents = {FEED_URL: feeds.feed, **{BASE + name: data for name, data in feeds.archives}}
    url, guids, walked = FEED_URL, set(), 0
    while url:
        parsed = podcastparser.parse(url, io.BytesIO(documents[url]))
        guids |= {e["guid"] for e in parsed["episodes"]}
        assert all(len(e["enclosures"]) == 1 for e in parsed["episodes"])
        url = parsed.get("paged_feed_next")
        walked += 1
    assert walked == 4 and guids == {f"guid-{n}" for n in range(1, 11)}
    for data in documents.values():
        result = feedparser.parse(data)
        assert not result.bozo and result.entries
        assert {e.id for e in result.entries} <= {f"guid-{n}" for n in range(1, 11)}
    assert [link.href for link in feedparser.parse(feeds.feed).feed.links if link.rel == "prev-archive"] \
        == [BASE + "feed-archive-3.xml"]


EPISODE = """\
---
title: "Episode {n}"
episode: {n}
date: 2026-01-{n:02d}
---

# Only

Words of episode {n}.
"""


def _show(folder: Path, count: int, limit: int | None) -> Path:
    extra = f"feed:\n  limit: {limit}\n" if limit is not None else ""
    return write_show(folder, SHOW_YAML + extra, {f"{n:03d}-ep.md": EPISODE.format(n=n) for n in range(1, count + 1)})


def _build(scripts: Path, out: Path) -> None:
    build(scripts, BuildOptions(output=out, cache_dir=scripts.parent / "cache", in_process=True,
                                today=dt.date(2026, 6, 1)))


def test_a_paged_build_passes_check_published_and_pages_stay_put(tmp_path: Path) -> None:
    scripts, out = _show(tmp_path / "scripts", 5, limit=2), tmp_path / "out"
    _build(scripts, out)
    pages = sorted(p.name for p in out.glob("feed-archive-*.xml"))
    assert pages == ["feed-archive-1.xml", "feed-archive-2.xml"]
    feed = podcastparser.parse(BASE, io.BytesIO((out / "feed.xml").read_bytes()))
    assert [e["title"] for e in feed["episodes"]] == ["Episode 5", "Episode 4"]
    report = check_published(out)
    assert report.problems == (), report.problems
    assert any(line.startswith("feed-archive-1.xml: archive page, 2 episodes") for line in report.lines)
    # Every built episode is checked, those only in the archive pages too.
    assert len(report.measurements) == 5
    before = {name: (out / name).read_bytes() for name in pages}

    (scripts / "006-ep.md").write_text(EPISODE.format(n=6), encoding="utf-8")
    _build(scripts, out)
    assert {name: (out / name).read_bytes() for name in pages} == before
    assert not (out / "feed-archive-3.xml").exists()  # 6 items: feed.xml 5 and 6, pages 1-2 and 3-4

    (scripts / "show.yaml").write_text(SHOW_YAML, encoding="utf-8")  # no limit: the pages go
    _build(scripts, out)
    assert list(out.glob("feed-archive-*.xml")) == []
    assert len(podcastparser.parse(BASE, io.BytesIO((out / "feed.xml").read_bytes()))["episodes"]) == 6
    assert len(load_record(out)) == 6


def test_check_published_finds_a_page_that_is_not_marked_as_an_archive(tmp_path: Path) -> None:
    scripts, out = _show(tmp_path / "scripts", 3, limit=1), tmp_path / "out"
    _build(scripts, out)
    page = out / "feed-archive-1.xml"
    page.write_bytes(page.read_bytes().replace(b"<fh:archive />", b""))
    report = check_published(out)
    assert any("feed-archive-1.xml: has no <fh:archive/>" in p for p in report.problems), report.problems


@pytest.mark.parametrize("value, message", [
    ("-1", "feed limit must be a whole number of items from 1 to 100000 (0: every episode in feed.xml), not -1"),
    ("2.5", "feed limit must be a whole number"),
    ("true", "feed limit must be a whole number"),
    ("lots", "feed limit must be a whole number"),
])
def test_a_bad_feed_limit_is_one_line_with_its_place(tmp_path: Path, value: str, message: str) -> None:
    scripts = write_show(tmp_path / "scripts", SHOW_YAML + f"feed:\n  limit: {value}\n")
    result = CliRunner().invoke(main, ["check", str(scripts)])
    assert result.exit_code == 2, result.output
    line = SHOW_YAML.count("\n") + 2
    assert f"show.yaml:{line}: {message}" in result.output


def test_an_unknown_feed_setting_is_named(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", SHOW_YAML + "feed:\n  limt: 5\n")
    result = CliRunner().invoke(main, ["check", str(scripts)])
    assert result.exit_code == 2 and "unknown feed setting 'limt' (known: limit)" in result.output
