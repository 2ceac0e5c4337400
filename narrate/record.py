"""The build record (what was built, kept in the output folder) and the GUID registry (kept with the scripts).

The build record is versioned JSON; one that is missing, damaged or of another version means a fresh
build, never a crash. The GUID registry is a small JSON file meant to be committed: an episode's GUID
is created once, keyed by its episode number, and never changes.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from narrate.errors import UserError
from narrate.fsutil import write_if_changed
from narrate.model import ChapterTime, Cue, DocumentInfo  # ChapterTime and Cue: also importable from here

log = logging.getLogger(__name__)

RECORD_NAME = ".narrate-build.json"
RECORD_VERSION = 1
GUIDS_NAME = "guids.json"


@dataclass(frozen=True)
class EpisodeRecord:
    """What was published for one episode: enough to write its feed item without the script."""

    number: int
    slug: str
    script: str
    title: str
    summary: str
    release_date: str
    episode_type: str
    file: str
    size: int
    duration: float
    audio_key: str
    tag_key: str
    chapters: tuple[ChapterTime, ...]
    cues: tuple[Cue, ...]
    document: DocumentInfo = field(default_factory=DocumentInfo)
    #: The names of the voices heard (the show's voices.ROLE.name), for the feed's podcast:person cast.
    voices: tuple[str, ...] = ()
    image: str = ""
    link: str = ""
    loudness: float | None = None
    true_peak: float | None = None
    #: The published (content-named) chapters, vtt, srt and art files, by kind.
    sidecars: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.document, DocumentInfo):  # a mapping, as the record's JSON holds it
            object.__setattr__(self, "document", document_info(self.document))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EpisodeRecord:
        values = dict(data)
        values["document"] = document_info(data.get("document") or {})
        values["chapters"] = tuple(ChapterTime(**c) for c in data["chapters"])
        values["cues"] = tuple(Cue(**c) for c in data["cues"])
        values["voices"] = tuple(data.get("voices", ()))
        values["sidecars"] = {str(k): str(v) for k, v in dict(data.get("sidecars", {})).items()}
        return cls(**values)


def document_info(data: Mapping[str, Any] | DocumentInfo) -> DocumentInfo:
    """The document's metadata from the build record's JSON (`authors` a list, or one name); unknown keys ignored."""
    if isinstance(data, DocumentInfo):
        return data
    if not isinstance(data, Mapping):
        raise TypeError(f"document must be a mapping, not {type(data).__name__}")
    authors = data.get("authors") or ()
    if isinstance(authors, str):
        authors = (authors,)
    texts = {f.name: str(data.get(f.name) or "") for f in fields(DocumentInfo) if f.name != "authors"}
    return DocumentInfo(authors=tuple(a for a in (str(x).strip() for x in authors) if a), **texts)


@dataclass(frozen=True)
class Targets:
    """The loudness targets the show was built for: integrated loudness (LUFS) and true-peak ceiling (dBTP)."""

    loudness: float = -16.0
    true_peak: float = -1.0


def load_targets(output: Path) -> Targets:
    """The targets the build record holds; the defaults when it holds none or cannot be read."""
    try:
        data = json.loads((output / RECORD_NAME).read_text(encoding="utf-8"))
        targets = data["targets"]
        return Targets(float(targets["loudness"]), float(targets["true_peak"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Targets()


def load_record(output: Path) -> dict[str, EpisodeRecord]:
    """Published episodes by slug; an unreadable record is logged and treated as empty (a fresh build)."""
    path = output / RECORD_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != RECORD_VERSION:
            raise ValueError(f"record version {data.get('version')!r}, expected {RECORD_VERSION}")
        return {slug: EpisodeRecord.from_json(entry) for slug, entry in data["episodes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("build record %s is damaged (%s); building everything afresh", path, exc)
        return {}


class _HasTargets(Protocol):
    loudness: float
    true_peak: float


def save_record(output: Path, episodes: dict[str, EpisodeRecord], targets: _HasTargets | None = None) -> bool:
    """Write the build record atomically when it changed; True when written.

    `targets` (the show's audio settings, or a Targets) gives the loudness targets `check --published` reads back.
    """
    data: dict[str, Any] = {"version": RECORD_VERSION}
    if targets is not None:
        data["targets"] = {"loudness": targets.loudness, "true_peak": targets.true_peak}
    data["episodes"] = {slug: asdict(episodes[slug]) for slug in sorted(episodes)}
    return write_if_changed(output / RECORD_NAME, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode())


class GuidRegistry:
    """Episode GUIDs by episode number, in `scripts/guids.json`; once created a GUID never changes."""

    def __init__(self, scripts_dir: Path) -> None:
        self.path = scripts_dir / GUIDS_NAME
        self.entries: dict[str, dict[str, str]] = {}
        if self.path.exists():
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                self.entries = {str(k): dict(v) for k, v in raw.get("episodes", {}).items()}
            except (OSError, ValueError, AttributeError, TypeError) as exc:
                raise UserError(f"{self.path}:1: the GUID registry is damaged ({exc}); restore it from version "
                                "control: published GUIDs must never change") from None

    def get(self, number: int) -> str | None:
        """The GUID recorded for an episode number, if any."""
        entry = self.entries.get(str(number))
        return entry["guid"] if entry else None

    def ensure(self, number: int, title: str) -> str:
        """The episode's GUID, created (a random UUID) the first time it is asked for."""
        guid = self.get(number)
        if guid is None:
            guid = str(uuid.uuid4())
            self.entries[str(number)] = {"guid": guid, "first_title": title}
        return guid

    def save(self) -> bool:
        """Write the registry when it changed; True when written."""
        data = {"comment": "Published episode GUIDs, by episode number. Commit this file; never edit a GUID.",
                "episodes": {k: self.entries[k] for k in sorted(self.entries, key=int)}}
        return write_if_changed(self.path, (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode())
