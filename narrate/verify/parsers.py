"""Parser rules: the feed read the way gPodder (podcastparser) and feedparser-based apps read it."""
from __future__ import annotations

import importlib
import io
from collections.abc import Sequence
from types import ModuleType

from narrate.publish import FEED_NAME
from narrate.verify.rules import Findings

#: The parsers that read the output back, by module name: the feed (podcastparser, feedparser) and the
#: transcripts (webvtt-py, srt). They are main dependencies, so one missing means a broken install.
PARSERS = ("podcastparser", "feedparser", "webvtt", "srt")
DISTRIBUTIONS = {"webvtt": "webvtt-py"}
INSTALL_HINT = "reinstall narrate: pip install -e ."


def available_parsers() -> dict[str, ModuleType]:
    """The parsers that can be imported, by module name."""
    found = {}
    for name in PARSERS:
        try:
            found[name] = importlib.import_module(name)
        except ImportError:
            continue
    return found


def missing_parsers(parsers: dict[str, ModuleType], found: Findings) -> None:
    """One line for all the parsers that are not installed (their rules are skipped, not failed one by one)."""
    missing = [DISTRIBUTIONS.get(name, name) for name in PARSERS if name not in parsers]
    if missing:
        found.problem("parser.missing", "check --published",
                      f"cannot read the output back with {', '.join(missing)}: "
                      f"{'it is' if len(missing) == 1 else 'they are'} not installed ({INSTALL_HINT}); "
                      "the rules that need them were skipped")


def check_with_parsers(data: bytes, feed_url: str, items: Sequence[tuple[str, str]], found: Findings,
                       parsers: dict[str, ModuleType], where: str = FEED_NAME) -> None:
    """Read the feed (or an archive page, named `where`) with podcastparser (gPodder) and feedparser; every
    item must come through intact."""
    if "podcastparser" in parsers:
        _podcastparser(parsers["podcastparser"], data, feed_url, items, found, where)
    if "feedparser" in parsers:
        _feedparser(parsers["feedparser"], data, items, found, where)


def _podcastparser(podcastparser: ModuleType, data: bytes, feed_url: str, items: Sequence[tuple[str, str]],
                   found: Findings, where: str = FEED_NAME) -> None:
    try:
        parsed = podcastparser.parse(feed_url or "http://localhost/feed.xml", io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any failure of the parser is the finding
        found.problem("parser.podcastparser", where, f"podcastparser cannot read it ({type(exc).__name__}: {exc})")
    else:
        episodes = {e.get("guid"): e for e in parsed.get("episodes", [])}
        by_title = {e.get("title"): e for e in parsed.get("episodes", [])}
        for guid, title in items:
            if not guid:
                continue  # already a problem; nothing to match the parser's result by
            episode = episodes.get(guid)
            if episode is None and title in by_title:
                found.problem("parser.podcastparser", where,
                              f"podcastparser reads the guid of '{title}' as {by_title[title].get('guid')}"
                              f", not {guid}")
                continue
            if episode is None:
                found.problem("parser.podcastparser", where,
                              f"podcastparser dropped the item '{title}' (guid {guid}): "
                              "it keeps only items with a guid and exactly one enclosure")
                continue
            if not episode.get("title"):
                found.problem("parser.podcastparser", where, f"podcastparser finds no title for item guid {guid}")
            if len(episode.get("enclosures", [])) != 1:
                found.problem("parser.podcastparser", where,
                              f"podcastparser finds {len(episode.get('enclosures', []))} enclosures "
                              f"in item '{title}'")


def _feedparser(feedparser: ModuleType, data: bytes, items: Sequence[tuple[str, str]], found: Findings,
                where: str = FEED_NAME) -> None:
    result = feedparser.parse(data)
    if result.get("bozo"):
        found.problem("parser.feedparser", where,
                      f"feedparser reports a malformed feed ({result.get('bozo_exception')})")
    entries = {e.get("id"): e for e in result.get("entries", [])}
    for guid, title in items:
        if not guid:
            continue
        entry = entries.get(guid)
        if entry is None:
            found.problem("parser.feedparser", where, f"feedparser finds no entry with guid {guid} ('{title}')")
            continue
        if not entry.get("title"):
            found.problem("parser.feedparser", where, f"feedparser finds no title for entry guid {guid}")
        if len(entry.get("enclosures", [])) != 1:
            found.problem("parser.feedparser", where,
                          f"feedparser finds {len(entry.get('enclosures', []))} enclosures in '{title}'")

