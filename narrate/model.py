"""Frozen dataclasses passed between narrate's stages: show, episode, chapter, segment, timings, artwork."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

ROLES = ("narrator", "document", "note")
#: How transcripts name each role's speaker; another role is named after itself ("field_note" -> "Field note").
SPEAKER_LABELS = {"narrator": "Narrator", "document": "Document", "note": "Editor's note"}


@dataclass(frozen=True)
class Location:
    """Where something was written: a file and a 1-based line."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class VoiceSpec:
    """Which engine speaks, with which voice, rate (words per minute) and pitch (0-100).

    `name` is how listeners know the voice (the feed's podcast:person cast entry, such as "Narrator
    (synthetic voice)"); it does not shape the sound, so it is not part of any cache key.
    """

    engine: str
    voice: str
    rate: int | None = None
    pitch: int | None = None
    name: str = ""


@dataclass(frozen=True)
class Piece:
    """One cue of a segment: its text as written, as spoken, and the cache key of its audio. The unit of
    rendering: made by narrate.plan, sent to the render workers (which import this light module only)."""

    key: str
    text: str
    spoken: str
    voice: VoiceSpec
    role: str
    location: Location


@dataclass(frozen=True)
class LexiconEntry:
    """How to say a word or phrase: a respelling every engine can read, optional espeak phonemes."""

    term: str
    say: str
    phonemes: str = ""
    before: str = ""  # "", "number" or "name": said this way only before one (see narrate.lexicon)
    after: str = ""  # "", "number" or "one": said this way only after one


@dataclass(frozen=True)
class Segment:
    """One paragraph to be spoken in one voice; `text` is exactly as written in the script.

    A paragraph of a list starts with its `marker` as shown ("4.", "4)" or "•" for a bullet), then a
    space, then its words; `marker` is "" for any other paragraph.
    """

    role: str
    text: str
    voice: VoiceSpec
    location: Location
    marker: str = ""

    @property
    def body(self) -> str:
        """The paragraph's words without its list marker."""
        return self.text[len(self.marker):].lstrip() if self.marker else self.text


@dataclass(frozen=True)
class Pause:
    """Silence of a given length written into the script."""

    seconds: float
    location: Location


@dataclass(frozen=True)
class Chapter:
    """A heading and the segments and pauses under it."""

    title: str
    location: Location
    items: tuple[Segment | Pause, ...]

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(i for i in self.items if isinstance(i, Segment))


@dataclass(frozen=True)
class DocumentInfo:
    """The narrated document's own metadata."""

    title: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""
    translator: str = ""
    source: str = ""
    url: str = ""
    rights: str = ""


@dataclass(frozen=True)
class Episode:
    """One parsed episode script."""

    number: int
    title: str
    release_date: dt.date
    summary: str
    document: DocumentInfo
    chapters: tuple[Chapter, ...]
    path: str
    slug: str
    lexicon: tuple[LexiconEntry, ...] = ()
    episode_type: str = "full"
    image: str | None = None
    link: str = ""
    draft: bool = False  # built, but left out of the feed

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(s for c in self.chapters for s in c.segments)


@dataclass(frozen=True)
class Cue:
    """A transcript cue: where a piece of text is heard in the episode, in seconds."""

    start: float
    end: float
    text: str
    role: str


@dataclass(frozen=True)
class ChapterTime:
    """A chapter's title and its span in the episode, in seconds."""

    title: str
    start: float
    end: float


@dataclass(frozen=True)
class Artwork:
    """Cover image bytes and their MIME type."""

    data: bytes
    mime: str


@dataclass(frozen=True)
class AudioSettings:
    """How episodes are assembled and encoded."""

    sample_rate: int = 44100
    channels: int = 1
    bitrate: str = "96k"
    pause_sentence: float = 0.35
    pause_clause: float = 0.2
    pause_segment: float = 0.7
    pause_chapter: float = 1.5
    pause_document: float = 1.0
    intro: Path | None = None
    outro: Path | None = None
    loudness: float = -16.0
    true_peak: float = -1.0


@dataclass(frozen=True)
class RenderSettings:
    """How segments are rendered."""

    workers: int = 0  # 0: one per core
    timeout: float = 120.0
    cluster: str | None = None  # a Dask scheduler's address (tcp://HOST:PORT): render there, not locally


@dataclass(frozen=True)
class FeedSettings:
    """How the feed is published: `limit` > 0 keeps the newest `limit` items in feed.xml, the rest in archive pages."""

    limit: int = 0  # 0: every episode in feed.xml


#: Cache-Control per kind of published file (`publish.cache_control`): content-named media never change.
DEFAULT_CACHE_CONTROL = (
    ("feed", "public, max-age=300"),
    ("pages", "public, max-age=300"),
    ("media", "public, max-age=31536000, immutable"),
)


@dataclass(frozen=True)
class PublishSettings:
    """Where and how `narrate publish` deploys the show (the show file's `publish:`); never credentials."""

    target: str = ""
    #: Where `target` was written (`scripts/show.yaml:31`), for messages; empty when not from the show file.
    target_location: str = ""
    endpoint_url: str = ""
    region: str = ""
    acl: str = ""
    cache_control: tuple[tuple[str, str], ...] = DEFAULT_CACHE_CONTROL


@dataclass(frozen=True)
class Show:
    """Show-wide settings read from the show file."""

    root: Path
    path: str
    title: str
    author: str
    description: str
    language: str
    category: str
    explicit: bool
    base_url: str
    voices: tuple[tuple[str, VoiceSpec], ...]
    audio: AudioSettings = field(default_factory=AudioSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    cover: Path | None = None
    subcategory: str = ""
    copyright: str = ""
    owner_name: str = ""
    owner_email: str = ""
    show_type: str = "episodic"
    link: str = ""
    lexicon: tuple[LexiconEntry, ...] = ()
    locked: bool = True
    #: How a numbered paragraph's number is spoken: a template with {words} ("four") and {number} ("4"),
    #: or "none" for not at all (narrate.plan.spoken_marker).
    list_number: str = "{words}."
    feed: FeedSettings = field(default_factory=FeedSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)

    def voice_for(self, role: str) -> VoiceSpec:
        """The voice configured for a role."""
        return dict(self.voices)[role]
