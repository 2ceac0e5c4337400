"""The RSS feed, read back the way apps read it: gPodder's podcastparser, feedparser and a plain XML parser."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

import feedparser
import podcastparser
import pytest

from narrate import __version__
from narrate.feed import (
    MAX_DESCRIPTION_BYTES,
    FeedItem,
    build_feed,
    parse_rfc2822,
    podcast_guid,
)
from narrate.model import DocumentInfo, Show, VoiceSpec
from narrate.record import ChapterTime, EpisodeRecord
from narrate.timefmt import clock

NS = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "psc": "http://podlove.org/simple-chapters",
}
BASE = "https://example.org/prague-spring/"
FEED_URL = BASE + "feed.xml"
COVER_URL = BASE + "cover.jpg"
GUID_1 = "3f2b8e4a-1c5d-4e6f-9a7b-0c1d2e3f4a5b"
GUID_2 = "urn:narrate:episode-2"

TITLE_1 = "Husák, Dubček & Mlynář: “Never” <b>again</b> 🎙️"
TITLE_2 = 'The "Action Programme" & <b>1968</b> — Dubček’s “Never” 🎙️'
SUMMARY_1 = 'How Husák, Dubček & Mlynář said "never" — “Never” <b>bold</b> & <i>more</i> 🎙️'
SUMMARY_2 = "Mlynář’s account & <b>the night</b> of 20–21 August; “Never” 🎙️ Příliš žluťoučký kůň."

SHOW = Show(
    root=Path("/nonexistent"),
    path="show.yaml",
    title="Prague Spring & <b>After</b>: “Never” 🎙️",
    author="Husák, Dubček, Mlynář & Co.",
    description="Documents of 1968 read aloud: Husák, Dubček, Mlynář & <b>others</b> 🎙️",
    language="en",
    category="History",
    explicit=False,
    base_url=BASE,
    voices=(("narrator", VoiceSpec("pyttsx3", "gmw/en-us")), ("document", VoiceSpec("pyttsx3", "zlw/cs"))),
    copyright="© 2026 Example & Friends",
    owner_name="Jana Nováková",
    owner_email="jana@example.org",
    link="https://example.org/",
)

RECORD_1 = EpisodeRecord(
    number=1, slug="001-never", script="001-never.md", title=TITLE_1, summary=SUMMARY_1,
    release_date="2026-11-19", episode_type="full", file="001-never.mp3", size=4_321_987, duration=1234.6,
    audio_key="a1", tag_key="t1",
    chapters=(ChapterTime("Úvod & <intro>", 0.0, 95.25), ChapterTime("Dubček’s “Never”", 95.25, 1234.6)),
    cues=(),
    document=DocumentInfo(title="Speech & <notes>", authors=("Alexander Dubček",), date="1968-04-01",
                          translator="Jan Novák", source="Rudé právo", url="https://example.org/doc?a=1&b=2",
                          rights="Public domain"),
    voices=("Narrator (synthetic voice)", "Reader & <Czech> voice"),
)
RECORD_2 = EpisodeRecord(
    number=2, slug="002-programme", script="002-programme.md", title=TITLE_2, summary=SUMMARY_2,
    release_date="2026-11-26", episode_type="full", file="002-programme.mp3", size=2_000_001, duration=3800.5,
    audio_key="a2", tag_key="t2",
    chapters=(ChapterTime("Intro", 0.0, 3725.5), ChapterTime("Part “2” & <end>", 3725.5, 3800.5)),
    cues=(),
    document=DocumentInfo(title="Akční program KSČ", authors=("Zdeněk Mlynář", "Alexander Dubček"),
                          date="1968-04-05", source="Archive"),
    voices=(),  # no voice of this episode has a name: no cast entry
    image="002-programme.jpg",
    link="https://example.org/episodes/2",
)


def item_for(record: EpisodeRecord, guid: str, image: bool = False) -> FeedItem:
    return FeedItem(
        record=record, guid=guid, audio_url=BASE + record.file, chapters_url=f"{BASE}{record.slug}.chapters.json",
        vtt_url=f"{BASE}{record.slug}.vtt", srt_url=f"{BASE}{record.slug}.srt",
        image_url=BASE + record.image if image else None,
    )


ITEMS = [item_for(RECORD_1, GUID_1), item_for(RECORD_2, GUID_2, image=True)]  # oldest first on purpose
RECORDS = {GUID_1: RECORD_1, GUID_2: RECORD_2}


@pytest.fixture(scope="module")
def feed() -> bytes:
    return build_feed(SHOW, ITEMS, cover_url=COVER_URL, feed_url=FEED_URL)


@pytest.fixture(scope="module")
def channel(feed: bytes) -> ET.Element:
    root = ET.fromstring(feed)
    assert root.tag == "rss" and root.get("version") == "2.0"
    found = root.find("channel")
    assert found is not None
    return found


def items_by_guid(channel: ET.Element) -> dict[str, ET.Element]:
    return {item.findtext("guid"): item for item in channel.findall("item")}


def test_podcast_guid_matches_the_spec_example() -> None:
    assert podcast_guid("https://podnews.net/rss") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    # scheme and trailing slashes do not count
    assert podcast_guid("http://podnews.net/rss/") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert podcast_guid("podnews.net/rss//") == "9b024349-ccf0-5f69-a609-6b82873eab3c"


def test_xml_declaration_utf8_and_namespaces(feed: bytes) -> None:
    assert feed.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    feed.decode("utf-8")
    head = feed.split(b">", 2)[1]
    for prefix in ("itunes", "podcast", "content", "atom", "psc"):
        assert f'xmlns:{prefix}="{NS[prefix]}"'.encode() in head
    # special characters are written as UTF-8, not as character references
    assert "Mlynář".encode() in feed and "🎙️".encode() in feed and b"&#" not in feed


def test_podcastparser_reads_both_episodes(feed: bytes) -> None:
    parsed = podcastparser.parse(FEED_URL, BytesIO(feed))
    assert parsed["title"] == SHOW.title
    assert parsed["itunes_categories"] == [["History"]]
    assert parsed["explicit"] is False
    assert parsed["cover_url"] == COVER_URL
    episodes = {e["guid"]: e for e in parsed["episodes"]}
    assert set(episodes) == {GUID_1, GUID_2}
    for guid, record in RECORDS.items():
        episode = episodes[guid]
        assert episode["title"] == record.title
        assert len(episode["enclosures"]) == 1
        assert episode["enclosures"][0]["file_size"] == record.size
        assert episode["enclosures"][0]["mime_type"] == "audio/mpeg"
        assert episode["enclosures"][0]["url"] == BASE + record.file
        assert episode["total_time"] == round(record.duration)
        assert episode["number"] == record.number
        assert episode["published"] == dt.datetime.combine(
            dt.date.fromisoformat(record.release_date), dt.time(9), dt.timezone.utc).timestamp()
        assert [(c["title"], c["start"]) for c in episode["chapters"]] == [
            (c.title, int(c.start)) for c in record.chapters]
    assert episodes[GUID_2]["episode_art_url"] == BASE + RECORD_2.image
    assert episodes[GUID_2]["link"] == RECORD_2.link
    assert episodes[GUID_1]["link"] == SHOW.link


def test_feedparser_reads_both_episodes(feed: bytes) -> None:
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == SHOW.title
    entries = {e.id: e for e in parsed.entries}
    assert set(entries) == {GUID_1, GUID_2}
    for guid, record in RECORDS.items():
        entry = entries[guid]
        assert entry.guidislink is False
        assert entry.title == record.title
        assert entry.itunes_title == record.title
        assert int(entry.enclosures[0].length) == record.size
        assert entry.enclosures[0].type == "audio/mpeg"
        assert entry.itunes_duration == str(round(record.duration))
        assert entry.summary.startswith(record.summary)
        assert [(c.title, c.start) for c in entry.psc_chapters.chapters] == [
            (c.title, clock(c.start)) for c in record.chapters]


def test_channel_tags(channel: ET.Element) -> None:
    assert channel.findtext("title") == SHOW.title
    assert channel.findtext("description") == SHOW.description
    assert channel.findtext("itunes:summary", namespaces=NS) == SHOW.description
    assert channel.findtext("link") == SHOW.link
    assert channel.findtext("language") == "en"
    assert channel.findtext("copyright") == SHOW.copyright
    assert channel.findtext("generator") == f"narrate {__version__}"
    assert channel.findtext("itunes:author", namespaces=NS) == SHOW.author
    assert channel.findtext("itunes:owner/itunes:name", namespaces=NS) == "Jana Nováková"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "jana@example.org"
    assert channel.find("itunes:image", NS).get("href") == COVER_URL  # type: ignore[union-attr]
    assert channel.findtext("image/url") == COVER_URL
    assert channel.findtext("image/title") == SHOW.title
    assert channel.findtext("image/link") == SHOW.link
    categories = channel.findall("itunes:category", NS)
    assert [c.get("text") for c in categories] == ["History"]
    assert list(categories[0]) == []  # no subcategory set
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    assert channel.findtext("itunes:type", namespaces=NS) == "episodic"
    atom = channel.find("atom:link", NS)
    assert atom is not None and atom.attrib == {"href": FEED_URL, "rel": "self", "type": "application/rss+xml"}


def test_channel_podcast_namespace(channel: ET.Element) -> None:
    assert channel.findtext("podcast:guid", namespaces=NS) == podcast_guid(FEED_URL)
    locked = channel.find("podcast:locked", NS)
    assert locked is not None and locked.text == "yes" and locked.get("owner") == "jana@example.org"


def test_items_newest_first_with_dates(channel: ET.Element) -> None:
    items = channel.findall("item")
    assert [i.findtext("guid") for i in items] == [GUID_2, GUID_1]
    dates = [i.findtext("pubDate") or "" for i in items]
    assert dates == ["Thu, 26 Nov 2026 09:00:00 +0000", "Thu, 19 Nov 2026 09:00:00 +0000"]
    for text in dates:
        assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                            r"\d{4} 09:00:00 \+0000", text)
        assert parse_rfc2822(text).utcoffset() == dt.timedelta(0)
    # lastBuildDate comes from the newest episode, never from the clock
    assert channel.findtext("lastBuildDate") == dates[0]


def test_item_tags(channel: ET.Element) -> None:
    for guid, item in items_by_guid(channel).items():
        record = RECORDS[guid]
        assert item.find("guid").attrib == {"isPermaLink": "false"}  # type: ignore[union-attr]
        assert item.findtext("title") == record.title
        assert item.findtext("itunes:title", namespaces=NS) == record.title
        enclosure = item.find("enclosure")
        assert enclosure is not None and enclosure.attrib == {
            "url": BASE + record.file, "length": str(record.size), "type": "audio/mpeg"}
        assert item.findtext("itunes:duration", namespaces=NS) == str(round(record.duration))
        assert item.findtext("itunes:episode", namespaces=NS) == str(record.number)
        assert item.findtext("itunes:episodeType", namespaces=NS) == "full"
        assert item.findtext("itunes:explicit", namespaces=NS) == "false"
        assert item.findtext("podcast:episode", namespaces=NS) == str(record.number)
        description = item.findtext("description") or ""
        assert description.startswith(record.summary + "\n\n")
        assert record.document.title in description and record.document.date in description
        assert record.document.source in description
    items = items_by_guid(channel)
    assert items[GUID_1].find("itunes:image", NS) is None
    assert items[GUID_2].find("itunes:image", NS).get("href") == BASE + RECORD_2.image  # type: ignore[union-attr]


def test_item_content_encoded_is_escaped_html(channel: ET.Element) -> None:
    item = items_by_guid(channel)[GUID_1]
    html = item.findtext("content:encoded", namespaces=NS) or ""
    assert "<p>" in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "&amp; &lt;i&gt;" in html
    # the HTML is well formed: the summary and the citation read back exactly
    body = ET.fromstring(f"<div>{html}</div>")
    paragraphs = body.findall("p")
    assert paragraphs[0].text == SUMMARY_1
    link = paragraphs[1].find("a")
    assert link is not None and link.get("href") == "https://example.org/doc?a=1&b=2"
    assert link.findtext("cite") == "Speech & <notes>"
    assert "Public domain" in "".join(paragraphs[1].itertext())


def test_item_podcast_namespace(channel: ET.Element) -> None:
    for guid, item in items_by_guid(channel).items():
        record = RECORDS[guid]
        chapters = item.findall("podcast:chapters", NS)
        assert [c.attrib for c in chapters] == [
            {"url": f"{BASE}{record.slug}.chapters.json", "type": "application/json+chapters"}]
        transcripts = item.findall("podcast:transcript", NS)
        assert [(t.get("url"), t.get("type"), t.get("rel")) for t in transcripts] == [
            (f"{BASE}{record.slug}.vtt", "text/vtt", "captions"),
            (f"{BASE}{record.slug}.srt", "application/x-subrip", None),
        ]
        psc = item.find("psc:chapters", NS)
        assert psc is not None and psc.get("version") == "1.2"
        assert [(c.get("start"), c.get("title")) for c in psc.findall("psc:chapter", NS)] == [
            (clock(c.start), c.title) for c in record.chapters]
    items = items_by_guid(channel)

    def persons(item: ET.Element) -> list[tuple[str | None, str | None, str | None]]:
        return [(p.text, p.get("group"), p.get("role")) for p in item.findall("podcast:person", NS)]

    assert persons(items[GUID_1]) == [
        ("Alexander Dubček", "writing", "author"),
        ("Jan Novák", "writing", "translator"),
        ("Narrator (synthetic voice)", "cast", "narrator"),
        ("Reader & <Czech> voice", "cast", "narrator"),
    ]
    assert persons(items[GUID_2]) == [
        ("Zdeněk Mlynář", "writing", "author"),
        ("Alexander Dubček", "writing", "author"),
    ]
    assert items[GUID_1].findtext("podcast:license", namespaces=NS) == "Public domain"
    assert items[GUID_2].find("podcast:license", NS) is None


def test_every_url_is_absolute(channel: ET.Element) -> None:
    for element in channel.iter():
        for name in ("url", "href"):
            if element.get(name) is not None:
                assert element.get(name, "").startswith("https://"), (element.tag, element.attrib)
        if element.tag in ("link", "url"):
            assert (element.text or "").startswith("https://")


def test_descriptions_fit_apple_limit(channel: ET.Element) -> None:
    assert len((channel.findtext("description") or "").encode()) <= MAX_DESCRIPTION_BYTES
    for item in channel.findall("item"):
        assert len((item.findtext("description") or "").encode()) <= MAX_DESCRIPTION_BYTES
        assert len((item.findtext("content:encoded", namespaces=NS) or "").encode()) <= MAX_DESCRIPTION_BYTES


def test_long_texts_are_cut_to_4000_bytes_at_a_character_boundary() -> None:
    long = "Příliš žluťoučký kůň & <b>úpěl</b> 🎙️ " * 300
    show = dataclasses.replace(SHOW, description=long)
    record = dataclasses.replace(RECORD_1, summary=long)
    feed = build_feed(show, [item_for(record, GUID_1)], cover_url=COVER_URL, feed_url=FEED_URL)
    channel = ET.fromstring(feed).find("channel")
    assert channel is not None
    description = channel.findtext("description") or ""
    assert len(description.encode()) <= MAX_DESCRIPTION_BYTES and description.endswith("…")
    assert long.startswith(description[:-1].rstrip())
    item = channel.find("item")
    assert item is not None
    text = item.findtext("description") or ""
    html = item.findtext("content:encoded", namespaces=NS) or ""
    assert len(text.encode()) <= MAX_DESCRIPTION_BYTES and len(html.encode()) <= MAX_DESCRIPTION_BYTES
    # the citation survives; the summary is what gets shortened
    assert "Rudé právo" in text and "Rudé právo" in html
    ET.fromstring(f"<div>{html}</div>")


def test_output_is_deterministic(feed: bytes) -> None:
    assert build_feed(SHOW, ITEMS, cover_url=COVER_URL, feed_url=FEED_URL) == feed
    # the order items are passed in does not matter
    assert build_feed(SHOW, list(reversed(ITEMS)), cover_url=COVER_URL, feed_url=FEED_URL) == feed


def test_subcategory_unlocked_and_explicit() -> None:
    show = dataclasses.replace(SHOW, category="Society & Culture", subcategory="Documentary", locked=False,
                               explicit=True)
    channel = ET.fromstring(build_feed(show, ITEMS, cover_url=COVER_URL, feed_url=FEED_URL)).find("channel")
    assert channel is not None
    category = channel.find("itunes:category", NS)
    assert category is not None and category.get("text") == "Society & Culture"
    assert [c.get("text") for c in category.findall("itunes:category", NS)] == ["Documentary"]
    assert channel.findtext("podcast:locked", namespaces=NS) == "no"
    assert channel.findtext("itunes:explicit", namespaces=NS) == "true"
    assert {i.findtext("itunes:explicit", namespaces=NS) for i in channel.findall("item")} == {"true"}


def test_characters_xml_cannot_carry_are_dropped() -> None:
    record = dataclasses.replace(RECORD_1, title="Bad\x00 \x1btitle\x0c & <b>ok</b>")
    feed = build_feed(SHOW, [item_for(record, GUID_1)], cover_url=COVER_URL, feed_url=FEED_URL)
    item = ET.fromstring(feed).find("channel/item")
    assert item is not None and item.findtext("title") == "Bad title & <b>ok</b>"


def test_empty_show_still_builds() -> None:
    feed = build_feed(SHOW, [], cover_url=COVER_URL, feed_url=FEED_URL)
    channel = ET.fromstring(feed).find("channel")
    assert channel is not None and channel.findall("item") == [] and channel.find("lastBuildDate") is None
    assert podcastparser.parse(FEED_URL, BytesIO(feed))["episodes"] == []


def test_citation_ending_in_a_full_stop_gets_no_second_one() -> None:
    from dataclasses import replace

    from narrate.feed import item_description

    record = replace(RECORD_2, document=replace(RECORD_2.document, source="Published by CEU Press (2010)."))
    text = item_description(record)
    assert text.endswith("(2010).") and ".." not in text


# -- the cast, from a real build -------------------------------------------------------------------------------


def _built_feed(tmp_path: Path, voices: str) -> bytes:
    from narrate.build import BuildOptions, build
    from tests.conftest import EPISODE_ONE, SHOW_YAML, write_show

    show = SHOW_YAML.replace(SHOW_YAML[SHOW_YAML.index("voices:"):SHOW_YAML.index("audio:")], voices)
    scripts = write_show(tmp_path / "scripts", show, {"001-first.md": EPISODE_ONE})
    out = tmp_path / "audio"
    report = build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True,
                                         today=dt.date(2026, 6, 1)))
    assert not report.failures
    return (out / "feed.xml").read_bytes()


def _cast(feed: bytes) -> list[str | None]:
    item = ET.fromstring(feed).find("channel/item")
    assert item is not None
    return [p.text for p in item.findall("podcast:person", NS) if p.get("role") == "narrator"]


def test_the_cast_is_named_by_the_show_not_by_engine_ids(tmp_path: Path) -> None:
    feed = _built_feed(tmp_path, """\
voices:
  narrator: {engine: fake, voice: low, name: "Narrator (synthetic voice)"}
  document: {engine: fake, voice: high, name: "Document reader (synthetic voice)"}
""")
    # The note shares the narrator's voice, and so its name: one entry each, in the order they are heard.
    assert _cast(feed) == ["Narrator (synthetic voice)", "Document reader (synthetic voice)"]
    assert b"fake low" not in feed and b"fake high" not in feed
    # gPodder reads podcast:person under the namespace's older URI, which the spec says is the same namespace.
    old_uri = b"https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
    parsed = podcastparser.parse(FEED_URL, BytesIO(feed.replace(NS["podcast"].encode(), old_uri)))
    persons = parsed["episodes"][0].get("persons", [])
    assert [p["name"] for p in persons if p.get("role") == "narrator"] == [
        "Narrator (synthetic voice)", "Document reader (synthetic voice)"]
    # feedparser keeps the last podcast:person only; it is a name too.
    assert "fake" not in str(feedparser.parse(feed).entries[0].get("podcast_person", ""))


def test_no_name_no_cast_entry(tmp_path: Path) -> None:
    feed = _built_feed(tmp_path, """\
voices:
  narrator: {engine: fake, voice: low}
  document: {engine: fake, voice: high, name: "Reader"}
""")
    assert _cast(feed) == ["Reader"]
    feed = _built_feed(tmp_path / "none", "voices:\n  narrator: {engine: fake, voice: low}\n")
    assert _cast(feed) == []
    persons = ET.fromstring(feed).findall("channel/item/podcast:person", NS)
    assert [(p.get("role"), p.text) for p in persons] == [
        ("author", "Alois Indra"), ("author", "Vasil Bilak"), ("translator", "Mark Kramer")]


@pytest.mark.parametrize("name", ["[a, b]", '"two\\nlines"', "'" + "x" * 201 + "'"])
def test_a_bad_voice_name_is_reported(tmp_path: Path, name: str) -> None:
    from narrate.config import parse_show
    from narrate.errors import Problems
    from tests.conftest import SHOW_YAML, write_show

    show = SHOW_YAML.replace("voice: low,", f"voice: low, name: {name},")
    assert show != SHOW_YAML
    problems = Problems()
    parse_show(write_show(tmp_path / "s", show), problems)
    assert any("voice name must be one line of text" in p and "show.yaml:" in p for p in problems.items), problems.items


def test_self_base_url_is_the_feeds_own_address_without_its_file_name() -> None:
    """One reader of a built feed's address, for `narrate serve` and `narrate publish` alike."""
    from narrate.feed import self_base_url

    def feed(href: str, rel: str = "self") -> bytes:
        return (f'<rss xmlns:atom="http://www.w3.org/2005/Atom"><channel><atom:link href="{href}" rel="{rel}" '
                'type="application/rss+xml"/></channel></rss>').encode()

    assert self_base_url(feed("https://example.org/show/feed.xml")) == "https://example.org/show/"
    assert self_base_url(feed("  HTTP://example.org/a/b/feed-archive-2.xml ")) == "http://example.org/a/b/"
    assert self_base_url(feed("https://example.org/show/feed.xml", rel="alternate")) is None
    assert self_base_url(feed("feed.xml")) is None  # not an address a podcast app could fetch
    assert self_base_url(feed("ftp://example.org/feed.xml")) is None
    assert self_base_url(b"<rss><channel></channel></rss>") is None
    assert self_base_url(b"not xml at all <") is None
