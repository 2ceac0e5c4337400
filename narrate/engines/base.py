"""The one interface every text-to-speech engine implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from narrate.model import VoiceSpec


class EngineError(Exception):
    """An engine failed to produce audio; the caller adds the segment's location."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice an engine offers."""

    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str | None = None


class Engine(ABC):
    """A text-to-speech engine. One instance per process; `render` is called many times.

    `render` writes a mono 16-bit PCM WAV at the engine's own sample rate. narrate verifies every
    file it is given (present, non-empty, complete) and resamples when it assembles the episode.
    """

    name: ClassVar[str]
    #: True when the engine reads espeak phonemes written as [[...]] in the text.
    accepts_phonemes: ClassVar[bool] = False
    #: False when the engine cannot change a voice's pitch: a `pitch` given to it is warned about and ignored.
    applies_pitch: ClassVar[bool] = True

    @classmethod
    def version(cls) -> str:
        """Version of the engine and its voice data; part of every cache key."""
        return "0"

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """Every voice this engine can speak with."""

    def find_voice(self, voice: str) -> VoiceInfo | None:
        """The voice with this id (or name), or None."""
        for info in self.voices():
            if voice in (info.id, info.name):
                return info
        return None

    def speaks(self, language: str) -> bool:
        """Whether any voice speaks this language (an IETF tag such as `en` or `en-US`)."""
        primary = language.lower().split("-")[0]
        return any(lang.lower().split("-")[0] == primary for v in self.voices() for lang in v.languages)

    def voice_version(self, voice: str) -> str:
        """A fingerprint of one voice's data (a model file's hash, say); part of the cache key."""
        return ""

    def check_voice(self, voice: str) -> None:  # noqa: B027 - optional hook
        """Load a voice the engine has now; raise UserError saying what is wrong if it cannot be used."""

    def missing_voice_help(self, voice: str) -> str:
        """How to get a voice the engine does not have, for the error message ('' when nothing to add)."""
        return ""

    @abstractmethod
    def render(self, text: str, voice: VoiceSpec, out_path: Path) -> None:
        """Speak `text` with `voice` into a WAV file at `out_path`; raise EngineError on failure."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine's resources."""
