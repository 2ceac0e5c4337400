"""The show's web site as files: what a build writes, what the pages hold, escaping, and what a rebuild rewrites.

The browser half (playing, highlighting, seeking, axe-core, screenshots) is tests/test_site_browser.py.
"""
from __future__ import annotations

import datetime as dt
import html.parser
import json
import logging
import stat
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from narrate.build import BuildOptions, build
from narrate.record import load_record
from narrate.serve import serve_in_thread
from narrate.site import INDEX_NAME, page_name
from narrate.transcript import parse_webvtt
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, show_yaml, write_show
from tests.servers import NGINX_USER as USER, NginxServer as Nginx, nginx  # noqa: F401 - the nginx fixture
from tests.test_nginx import _build_into

TODAY = dt.date(2026, 6, 1)
BASE = "https://example.org/show/"
FUTURE = EPISODE_TWO.replace("episode: 2", "episode: 3").replace("2026-01-12", "2027-01-01").replace(
    "Second episode", "Future episode")


class Page(html.parser.HTMLParser):
    """A parsed page: its elements (tag, attributes, text inside), and its text, as a browser would show it."""

    VOID = {"meta", "link", "img", "input", "br", "source", "track", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[tuple[str, dict[str, str], list[str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (tag, {k: v or "" for k, v in attrs}, [])
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element[2].append(data)

    def all(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        """Elements of `tag` whose attributes include `attrs` (`class_` for class, matched as one of the classes)."""
        found = []
        for name, attributes, text in self.elements:
            if name != tag:
                continue
            if all((value in attributes.get("class", "").split()) if key == "class_" else attributes.get(key) == value
                   for key, value in attrs.items()):
                found.append((attributes, " ".join("".join(text).split())))
        return found

    def meta(self, prop: str) -> str:
        return next(a["content"] for a, _ in self.all("meta") if a.get("property") == prop or a.get("name") == prop)


def _build(tmp_path: Path, episodes: dict[str, str], show: str = SHOW_YAML, **options) -> tuple[Path, Path]:
    scripts = write_show(tmp_path / "scripts", show, episodes)
    out = tmp_path / "out"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY, **options))
    return scripts, out


def _page(out: Path, name: str) -> Page:
    return Page((out / name).read_text(encoding="utf-8"))


def test_a_build_writes_the_index_and_a_page_per_episode_in_the_feed(tmp_path: Path) -> None:
    _, out = _build(tmp_path, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO, "003-future.md": FUTURE})
    record = load_record(out)
    assert sorted(p.name for p in (out / "episodes").iterdir()) == ["001-first.html", "002-second.html"], \
        "the future episode has no page yet, as it is not in the feed"
    index = _page(out, INDEX_NAME)
    assert [text for _, text in index.all("a") if text.endswith("episode")] == ["Second episode", "First episode"]
    assert [a["href"] for a, text in index.all("a") if text.endswith("episode")] == \
        ["episodes/002-second.html", "episodes/001-first.html"]
    assert "Future episode" not in (out / INDEX_NAME).read_text(encoding="utf-8")
    assert [t for _, t in index.all("time")] == ["12 January 2026", f"0:{round(record['002-second'].duration):02d}",
                                                 "5 January 2026", f"0:{round(record['001-first'].duration):02d}"]
    assert ("The first one.") in [t for _, t in index.all("p")]
    assert index.all("img", class_="cover")[0][0]["src"] == next(p.name for p in out.glob("cover.*.png"))
    assert index.all("input", id="feed-url")[0][0]["value"] == BASE + "feed.xml"
    assert index.all("link", rel="alternate")[0][0] == {
        "rel": "alternate", "type": "application/rss+xml", "title": "Test Show & Friends", "href": "feed.xml"}

    # The feed's <link> of each item is its page; the channel's is the index.
    channel = ET.parse(out / "feed.xml").getroot().find("channel")
    assert channel.findtext("link") == BASE
    assert {item.findtext("title"): item.findtext("link") for item in channel.findall("item")} == {
        "First episode": BASE + "episodes/001-first.html", "Second episode": BASE + "episodes/002-second.html"}

    first = record["001-first"]
    page = _page(out, page_name("001-first"))
    (audio, _), = page.all("audio")
    assert audio["src"] == "../" + first.file and audio["preload"] == "metadata" and "controls" in audio
    (track, _), = page.all("track")
    assert track["kind"] == "captions" and track["src"] == "../" + first.sidecars["vtt"]
    assert (out / first.file).is_file() and (out / first.sidecars["vtt"]).is_file()
    assert page.meta("og:audio") == BASE + first.file
    assert page.meta("og:image") == BASE + next(p.name for p in out.glob("cover.*.png"))
    assert page.meta("og:url") == BASE + "episodes/001-first.html"
    assert page.meta("og:title") == "First episode"
    assert page.all("link", rel="alternate")[0][0]["href"] == "../feed.xml"
    chapters = [(a["href"], a["data-start"], t) for a, t in page.all("a") if "data-start" in a]
    assert chapters == [("#chapter-1", "0", "0:00 Opening"),
                        ("#chapter-2", f"{round(first.chapters[1].start, 3):g}", "0:06 Closing")]
    assert [a["id"] for a, _ in page.all("h3")] == ["chapter-1", "chapter-2"]
    document = " ".join(t for _, t in page.all("dd"))
    assert document == "A letter Alois Indra, Vasil Bilak Mark Kramer"
    assert page.all("p", class_="citation")[0][1] == \
        "Cite as: “A letter”; Alois Indra, Vasil Bilak; translated by Mark Kramer."


def test_the_transcript_holds_the_vtt_cues_with_speakers_and_document_passages_set_apart(tmp_path: Path) -> None:
    _, out = _build(tmp_path, {"001-first.md": EPISODE_ONE})
    first = load_record(out)["001-first"]
    vtt = parse_webvtt((out / first.sidecars["vtt"]).read_text(encoding="utf-8"))
    page = _page(out, page_name("001-first"))
    cues = page.all("p", class_="cue")
    assert [float(a["data-start"]) for a, _ in cues] == [round(start, 3) for start, _, _ in vtt]
    # Each cue: its time (a link that plays from there without script), then its text.
    assert [t for _, t in page.all("span", class_="x")] == [" ".join(text.split()) for *_, text in vtt]
    assert [(a["href"], t) for a, t in page.all("a", class_="t")][:2] == [
        (f"../{first.file}#t=0", "0:00"), (f"../{first.file}#t={cues[1][0]['data-start']}", "0:01")]
    assert [t for _, t in page.all("p", class_="speaker")] == ["Narrator", "Document", "Editor's note"]
    (quote, text), = page.all("blockquote")
    assert text == "0:03 The document speaks here. 0:04 It has two sentences."
    assert [a["class"] for a, _ in page.all("div", class_="run")] == ["run narrator", "run document", "run note"]


HOSTILE_TITLE = "</title><script>alert('x')</script> & \"Dubček\" 'Husák' 🎙️ <b>bold</b>"
HOSTILE = f"""\
---
title: {json.dumps(HOSTILE_TITLE, ensure_ascii=False)}
episode: 1
date: 2026-01-05
summary: "Summary with <img src=x onerror=alert(1)> & “quotes” — Příliš žluťoučký kůň 😀"
document:
  title: "The <i>document</i> & co"
  authors: ["Vasil Biľak", "O'Brien \\"Jr\\""]
  source: "Archive <fond 1> & box"
  url: "https://example.org/a?b=1&c=\\"2\\""
---

# Chapter <one> & "two" 😀

Text with a word in angle brackets: <illegible> & an ampersand, ‘quotes’ and “more”, Dubček.

> The document says: 2 < 3 & 5 > 4, "Brežněv".
"""


def test_every_piece_of_script_text_is_escaped_and_renders_as_written(tmp_path: Path) -> None:
    show = show_yaml("Show </style><script>x()</script> & “Čeština” 😀")
    _, out = _build(tmp_path, {"001-hostile.md": HOSTILE}, show=show)
    for name in (INDEX_NAME, page_name("001-hostile")):
        text = (out / name).read_text(encoding="utf-8")
        page = Page(text)
        assert len(page.all("script")) == 1, f"{name}: only narrate's own script"
        assert not page.all("img", src="x") and not page.all("b") and not page.all("i") and not page.all("fond")
        assert "<script>alert" not in text and "<script>x()" not in text
        assert page.all("title")[0][1].startswith(("Show </style>", HOSTILE_TITLE))
    page = _page(out, page_name("001-hostile"))
    assert page.all("title")[0][1] == f"{HOSTILE_TITLE} · Show </style><script>x()</script> & “Čeština” 😀"
    assert page.all("h1")[0][1] == HOSTILE_TITLE
    assert page.meta("og:title") == HOSTILE_TITLE
    assert page.all("p", class_="summary")[0][1] == \
        "Summary with <img src=x onerror=alert(1)> & “quotes” — Příliš žluťoučký kůň 😀"
    assert page.all("h3")[0][1] == 'Chapter <one> & "two" 😀'
    assert " ".join(t for _, t in page.all("span", class_="x")) == (
        "Text with a word in angle brackets: <illegible> & an ampersand, ‘quotes’ and “more”, Dubček. "
        'The document says: 2 < 3 & 5 > 4, "Brežněv".')
    (cite, title), = page.all("a", href='https://example.org/a?b=1&c="2"')
    assert title == "The <i>document</i> & co"
    assert "Vasil Biľak, O'Brien \"Jr\"" in [t for _, t in page.all("dd")]
    index = _page(out, INDEX_NAME)
    assert [t for _, t in index.all("a", href="episodes/001-hostile.html")] == [HOSTILE_TITLE]


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    """Each page's inode and modification time: an atomic rewrite changes both."""
    return {p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in [out / INDEX_NAME, *(out / "episodes").glob("*.html")]}


def test_a_rebuild_rewrites_only_the_pages_whose_content_changed(tmp_path: Path) -> None:
    scripts, out = _build(tmp_path, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    before = _stamps(out)
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    assert _stamps(out) == before, "a no-op build writes no page"

    # The same number of words: the same duration, so the index shows nothing new; episode 2's page does.
    (scripts / "002-second.md").write_text(EPISODE_TWO.replace("A quoted passage.", "A cited passage."),
                                           encoding="utf-8")
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    after = _stamps(out)
    assert {name for name in before if after[name] != before[name]} == {"episodes/002-second.html"}
    second = load_record(out)["002-second"]
    assert f'src="../{second.file}"' in (out / "episodes/002-second.html").read_text(encoding="utf-8"), \
        "the page links the episode's new content-named MP3"
    assert (out / second.file).is_file()

    # A new title is shown on the index too; episode 1's page stays as it was.
    (scripts / "002-second.md").write_text(EPISODE_TWO.replace("Second episode", "Second, renamed"), encoding="utf-8")
    report = build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    final = _stamps(out)
    assert {name for name in after if final[name] != after[name]} == {"episodes/002-second.html", INDEX_NAME}
    assert "Second, renamed" in (out / INDEX_NAME).read_text(encoding="utf-8")
    # Pages go out before the feed that links them, like the media.
    written = list(report.written)
    assert written.index("episodes/002-second.html") < written.index(INDEX_NAME) < written.index("feed.xml")


def test_a_page_leaves_with_its_episode_and_the_users_files_stay(tmp_path: Path) -> None:
    scripts, out = _build(tmp_path, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    (out / "episodes" / "notes.html").write_text("mine", encoding="utf-8")
    (out / "about.html").write_text("mine too", encoding="utf-8")
    # Dated later: out of the feed, so out of the site.
    (scripts / "002-second.md").write_text(EPISODE_TWO.replace("2026-01-12", "2027-01-12"), encoding="utf-8")
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    assert sorted(p.name for p in (out / "episodes").iterdir()) == ["001-first.html", "notes.html"]
    assert "Second episode" not in (out / INDEX_NAME).read_text(encoding="utf-8")
    # Its day comes: back in.
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True,
                                today=dt.date(2027, 1, 12)))
    assert (out / "episodes" / "002-second.html").is_file()
    # Its script removed: it stays published until --prune, then its page goes too.
    (scripts / "002-second.md").unlink()
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True,
                                today=dt.date(2027, 1, 12)))
    assert (out / "episodes" / "002-second.html").is_file()
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, prune=True,
                                today=dt.date(2027, 1, 12)))
    assert sorted(p.name for p in (out / "episodes").iterdir()) == ["001-first.html", "notes.html"]
    assert (out / "about.html").read_text(encoding="utf-8") == "mine too"
    assert "Second episode" not in (out / INDEX_NAME).read_text(encoding="utf-8")


def test_a_temporary_page_a_killed_build_left_is_removed_by_the_next(tmp_path: Path) -> None:
    scripts, out = _build(tmp_path, {"001-first.md": EPISODE_ONE})
    left = out / "episodes" / ".narrate-tmp-0123456789ab.html"
    left.write_text("<half a page", encoding="utf-8")
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    assert sorted(p.name for p in (out / "episodes").iterdir()) == ["001-first.html"]


def test_an_episode_with_its_own_link_keeps_it_in_the_feed(tmp_path: Path) -> None:
    own = EPISODE_TWO.replace("episode: 2\n", "episode: 2\nlink: https://elsewhere.example/ep2\n")
    _, out = _build(tmp_path, {"001-first.md": EPISODE_ONE, "002-second.md": own})
    items = ET.parse(out / "feed.xml").getroot().find("channel").findall("item")
    assert {i.findtext("title"): i.findtext("link") for i in items} == {
        "First episode": BASE + "episodes/001-first.html", "Second episode": "https://elsewhere.example/ep2"}
    assert (out / "episodes" / "002-second.html").is_file()


def test_pages_are_world_readable_under_the_usual_umask(tmp_path: Path, umask) -> None:
    umask(0o022)
    _, out = _build(tmp_path, {"001-first.md": EPISODE_ONE})
    assert stat.S_IMODE((out / INDEX_NAME).stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "episodes").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "episodes" / "001-first.html").stat().st_mode) == 0o644


def test_nginx_as_www_data_serves_the_pages(nginx: Nginx, tmp_path: Path, umask) -> None:  # noqa: F811
    umask(0o022)
    out = _build_into(nginx, tmp_path)
    for name in (INDEX_NAME, "episodes/001-first.html", "episodes/002-second.html"):
        status, headers, body = nginx.get(f"{nginx.base}audio/{name}")
        assert status == 200, name
        assert headers["Content-Type"].startswith("text/html")
        assert body == (out / name).read_bytes()
    status, _, body = nginx.get(f"{nginx.base}audio/")
    assert status == 200 and body == (out / INDEX_NAME).read_bytes()
    assert nginx.worker_users() == {USER}


def test_narrate_serve_serves_the_index_at_the_root_with_its_own_address(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    _, out = _build(tmp_path, {"001-first.md": EPISODE_ONE})
    server, thread = serve_in_thread(out, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with caplog.at_level(logging.INFO, logger="narrate.serve"):
            with urllib.request.urlopen(base, timeout=10) as response:
                assert response.headers["Content-Type"] == "text/html; charset=utf-8"
                body = response.read().decode("utf-8")
            with urllib.request.urlopen(base + "episodes/001-first.html", timeout=10) as response:
                served = response.read()
                page = Page(served.decode("utf-8"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    published = (out / INDEX_NAME).read_text(encoding="utf-8")
    assert body == published.replace(BASE, base), "the published index, with only the base URL replaced"
    assert Page(body).all("input", id="feed-url")[0][0]["value"] == base + "feed.xml"
    assert page.meta("og:url") == base + "episodes/001-first.html"
    lines = [r.getMessage() for r in caplog.records if r.name == "narrate.serve"]
    assert lines == [f'127.0.0.1 "GET / HTTP/1.1" 200 {len(body.encode())}',
                     f'127.0.0.1 "GET /episodes/001-first.html HTTP/1.1" 200 {len(served)}']
