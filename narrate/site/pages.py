"""The show's web pages as text: an index and one page per episode, rendered with Jinja2 from the build record.

Pure functions of the show and the published records (no clock, no file system), so an unchanged episode
gives a byte-identical page and the writer (narrate.site) can compare before it writes. Jinja2's
autoescaping is on for every template: a title, summary or transcript line is text, whatever it contains.
The transcript is built from the very cues the WebVTT file holds (narrate.transcript.timed_cues).
"""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import jinja2

from narrate.model import ChapterTime, Cue, DocumentInfo, Show
from narrate.publish import FEED_NAME
from narrate.record import EpisodeRecord
from narrate.timefmt import duration, to_ms
from narrate.transcript import speaker_label, timed_cues

INDEX_NAME = "index.html"
PAGES_FOLDER = "episodes"

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def page_name(slug: str) -> str:
    """Where an episode's page is, relative to the output folder: `episodes/001-first.html` (a stable name)."""
    return f"{PAGES_FOLDER}/{slug}.html"


@dataclass(frozen=True)
class CueView:
    """One transcript cue as the page shows it: its start in seconds (`12.345`), as a clock, and its text."""

    start: str
    clock: str
    text: str


@dataclass(frozen=True)
class RunView:
    """Consecutive cues of one speaker: a document passage is set apart from the narration."""

    role: str
    label: str
    cues: tuple[CueView, ...]

    @property
    def is_document(self) -> bool:
        return self.role == "document"


@dataclass(frozen=True)
class ChapterView:
    """A chapter: its anchor in the page, where it starts and the speakers' runs under it."""

    anchor: str
    title: str
    start: str
    clock: str
    runs: tuple[RunView, ...]


@dataclass(frozen=True)
class EpisodeView:
    """What the index and an episode page show of one episode; links are relative to the output folder."""

    number: int
    title: str
    summary: str
    date: str  # ISO, for <time datetime>
    date_text: str
    duration: str
    duration_iso: str
    page: str
    audio: str
    vtt: str
    image: str
    document: DocumentInfo
    citation: str
    episode_type: str


def _seconds(ms: int) -> str:
    """Milliseconds as the seconds a page carries in data-start and #t= (`12.345`, `7`)."""
    whole, rest = divmod(ms, 1000)
    return f"{whole}.{rest:03d}".rstrip("0").rstrip(".") if rest else str(whole)


def _clock(ms: int) -> str:
    """Where a cue or chapter starts, for people: the second it starts in (`0:01` for 1.7 s), as players show."""
    return duration(ms // 1000)


def _inlined(text: str) -> str:
    """A static CSS or script file as a page inlines it: without indentation, blank lines and whole-line comments."""
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def _date_text(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _duration_iso(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"PT{hours}H{minutes}M{secs}S" if hours else f"PT{minutes}M{secs}S"


def citation(document: DocumentInfo) -> str:
    """The document as one cited line: title; authors; date; translator; source."""
    parts = [f"“{document.title.strip()}”"] if document.title.strip() else []
    if document.authors:
        parts.append(", ".join(document.authors))
    if document.date.strip():
        parts.append(document.date.strip())
    if document.translator.strip():
        parts.append(f"translated by {document.translator.strip()}")
    if document.source.strip():
        parts.append(document.source.strip())
    text = "; ".join(parts)
    return text if not text or text.endswith((".", "!", "?", "”")) else text + "."


def episode_view(record: EpisodeRecord, cover: str) -> EpisodeView:
    """The fields of one published episode that its pages show."""
    return EpisodeView(
        number=record.number, title=record.title, summary=record.summary.strip(), date=record.release_date,
        date_text=_date_text(record.release_date), duration=duration(record.duration),
        duration_iso=_duration_iso(record.duration), page=page_name(record.slug), audio=record.file,
        vtt=record.sidecars.get("vtt", ""), image=record.sidecars.get("art", "") or cover,
        document=record.document, citation=citation(record.document), episode_type=record.episode_type or "full",
    )


def transcript(cues: Sequence[Cue], chapters: Sequence[ChapterTime]) -> tuple[ChapterView, ...]:
    """The VTT's cues grouped by chapter, then by runs of one speaker, each cue with its start time."""
    ordered = sorted(chapters, key=lambda c: to_ms(c.start))
    # The first chapter starts the episode (as in the chapters JSON), so an intro belongs to it.
    starts = [0 if i == 0 else to_ms(c.start) for i, c in enumerate(ordered)]
    grouped: list[list[tuple[str, list[CueView]]]] = [[] for _ in ordered] or [[]]
    index = 0
    for start, _end, cue in timed_cues(cues):
        while index + 1 < len(starts) and starts[index + 1] <= start:
            index += 1
        runs = grouped[index]
        view = CueView(_seconds(start), _clock(start), " ".join(cue.text.split()))
        if runs and runs[-1][0] == cue.role:
            runs[-1][1].append(view)
        else:
            runs.append((cue.role, [view]))
    views = []
    for number, runs in enumerate(grouped, start=1):
        chapter = ordered[number - 1] if ordered else ChapterTime("Transcript", 0.0, 0.0)
        start = starts[number - 1] if ordered else 0
        views.append(ChapterView(f"chapter-{number}", chapter.title, _seconds(start), _clock(start),
                                 tuple(RunView(role, speaker_label(role), tuple(c)) for role, c in runs)))
    return tuple(views)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates and static files of narrate.site, autoescaped; the CSS and script are inlined into pages."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("narrate.site", "templates"),
        autoescape=True,  # every template is HTML: everything put in is escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    static = resources.files("narrate.site") / "static"
    env.globals["style"] = _inlined((static / "site.css").read_text(encoding="utf-8"))
    env.globals["script"] = _inlined((static / "site.js").read_text(encoding="utf-8"))
    return env


@dataclass(frozen=True)
class SiteInfo:
    """Show-wide facts every page carries: the absolute URLs (Open Graph, subscribing) and the cover's name."""

    show: Show
    cover: str

    @property
    def feed_url(self) -> str:
        return self.show.base_url + FEED_NAME

    def absolute(self, name: str) -> str:
        """A file of the output folder as a published URL (Open Graph wants absolute URLs)."""
        return self.show.base_url + name


def render_index(info: SiteInfo, records: Sequence[EpisodeRecord]) -> str:
    """The show's index page: cover, description, subscribe links, and the episodes newest first."""
    ordered = sorted(records, key=lambda r: (r.release_date, r.number), reverse=True)
    return environment().get_template("index.html").render(
        site=info, show=info.show, root="", episodes=[episode_view(r, info.cover) for r in ordered])


def render_episode(info: SiteInfo, record: EpisodeRecord) -> str:
    """One episode's page: the player with captions, chapters, the document's citation and the transcript."""
    return environment().get_template("episode.html").render(
        site=info, show=info.show, root="../", episode=episode_view(record, info.cover),
        chapters=transcript(record.cues, record.chapters))
