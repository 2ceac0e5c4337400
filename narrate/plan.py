"""Stage: turn a parsed episode into a timeline of pieces to render and gaps between them.

A piece is one transcript cue: a sentence, or a clause of a long sentence, so that every cue's start
in the finished audio is known exactly from where its piece was placed.
"""
from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from num2words import num2words
from sentencex import segment as split_sentences

from narrate.cache import piece_key
from narrate.engines import Engine
from narrate.errors import UserError
from narrate.lexicon import holds_sentence, merge_lexicons
from narrate.model import AudioSettings, Episode, LexiconEntry, Pause, Piece, Segment, Show, VoiceSpec
from narrate.normalize import has_words, nothing_to_say, spoken_text

MAX_CUE_CHARS = 84  # two subtitle lines of about 42 characters, about 5 s of speech
MIN_CUE_CHARS = 12  # a cut never leaves less than this on either side (when it can be helped)
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+(?=\D)|(?<=\S)\s*[—–]\s*(?=\S)|(?<=\s)[—–]\s+")
_WORD_BREAK = re.compile(r"\s+")


@dataclass(frozen=True)
class Gap:
    """Silence between pieces."""

    seconds: float


@dataclass(frozen=True)
class AudioFile:
    """An intro or outro audio file, placed as it is."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class EpisodePlan:
    """Everything the audio of one episode is made from, in order (narrate.audio.audio_key is its fingerprint)."""

    episode: Episode
    timeline: tuple[Piece | Gap | AudioFile, ...]
    chapter_starts: tuple[int, ...]  # index into timeline of each chapter's first piece

    @property
    def pieces(self) -> tuple[Piece, ...]:
        return tuple(item for item in self.timeline if isinstance(item, Piece))


CUES_CACHE = 1 << 14  # paragraphs whose cues are remembered


@functools.lru_cache(maxsize=CUES_CACHE)
def split_cues(text: str, language: str = "en", lexicon: tuple[LexiconEntry, ...] = ()) -> tuple[tuple[str, bool], ...]:
    """Split a paragraph into cues: (cue text, whether it ends a sentence). Joined by spaces they give `text`.

    An abbreviation of the default table or `lexicon` that needs what follows ("Gen. Pavlovsky") ends no cue.
    Remembered (the script check and the plan split the same paragraphs), so the result is a tuple.
    """
    cues: list[tuple[str, bool]] = []
    sentences: list[str] = []
    for sentence in split_sentences(language.split("-")[0], text):
        # "Amb. Dobrynin", "vol. 2": the splitter took the abbreviation's full stop for a sentence's end.
        if sentences and holds_sentence(sentences[-1], sentence, language, lexicon):
            sentences[-1] += sentence
        else:
            sentences.append(sentence)
    for sentence in sentences:
        sentence = sentence.strip()
        if sentence:
            parts = _split_long(sentence)
            cues.extend((part, i == len(parts) - 1) for i, part in enumerate(parts))
    return tuple(cues)


def _split_long(sentence: str) -> list[str]:
    """Split a sentence longer than two subtitle lines into cues of at most MAX_CUE_CHARS.

    The cut goes at the clause boundary nearest the middle, else at the space nearest the middle, else
    (one "word" longer than a cue) every MAX_CUE_CHARS characters. Iterative, so a paragraph of any
    length, punctuated or not, is cut in O(n log n) without deep recursion.
    """
    cues: list[str] = []
    todo = [sentence]
    while todo:
        part = todo.pop()
        if len(part) <= MAX_CUE_CHARS:
            cues.append(part)
            continue
        halves = _cut(part, _CLAUSE_BREAK) or _cut(part, _WORD_BREAK)
        if halves is None:
            cues.append(part[:MAX_CUE_CHARS])
            todo.append(part[MAX_CUE_CHARS:])
        else:
            todo.extend(reversed(halves))
    return cues


def _cut(sentence: str, breaks: re.Pattern[str]) -> tuple[str, str] | None:
    """Cut at the break nearest the middle that leaves at least MIN_CUE_CHARS on each side, or None."""
    best: tuple[float, int, int] | None = None
    for match in breaks.finditer(sentence):
        cut_end, cut_start = match.start(), match.end()
        if cut_end < MIN_CUE_CHARS or len(sentence) - cut_start < MIN_CUE_CHARS:
            continue  # never leave a fragment of a word or two on its own
        score = abs(cut_end - len(sentence) / 2)
        if best is None or score < best[0]:
            best = (score, cut_end, cut_start)
    if best is None:
        return None
    _, cut_end, cut_start = best
    left, right = sentence[:cut_end].rstrip(), sentence[cut_start:].lstrip()
    if sentence[cut_end:cut_start].strip():  # keep a dash with the clause it ends
        left = sentence[:cut_start].rstrip()
    return left, right


def spoken_marker(marker: str, template: str = "{words}.", language: str = "en") -> str:
    """What is said for a list marker: "4." or "4)" -> "Four." with the default template, a bullet -> "".

    `template` is the show's `speech.list_number`: {words} is the number in words (num2words, in the
    show's language where num2words has it, else English), {number} the digits as written; "none" says nothing.
    """
    digits = marker.rstrip(".)")
    if not digits.isdigit() or template == "none":
        return ""
    try:
        words = num2words(int(digits), lang=language.split("-")[0].lower())
    except (NotImplementedError, OverflowError):
        words = num2words(int(digits), lang="en")
    return template.format(words=words[:1].upper() + words[1:], number=digits).strip()


def file_sha256(path: Path) -> str:
    """sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EngineInfo:
    """Engine versions and voice fingerprints for cache keys, one engine instance per name."""

    def __init__(self, engines: Mapping[str, Engine]) -> None:
        self.engines = engines
        self._versions: dict[str, str] = {}
        self._voice_versions: dict[tuple[str, str], str] = {}

    def version(self, engine: str) -> str:
        if engine not in self._versions:
            self._versions[engine] = type(self.engines[engine]).version()
        return self._versions[engine]

    def voice_version(self, voice: VoiceSpec) -> str:
        key = (voice.engine, voice.voice)
        if key not in self._voice_versions:
            self._voice_versions[key] = self.engines[voice.engine].voice_version(voice.voice)
        return self._voice_versions[key]

    def accepts_phonemes(self, engine: str) -> bool:
        return type(self.engines[engine]).accepts_phonemes

    def applies_pitch(self, engine: str) -> bool:
        return type(self.engines[engine]).applies_pitch


def plan_episode(show: Show, episode: Episode, info: EngineInfo) -> EpisodePlan:
    """The timeline of one episode: pieces with cache keys, and the gaps the show's settings ask for."""
    audio = show.audio
    lexicon = merge_lexicons(show.lexicon, episode.lexicon)
    timeline: list[Piece | Gap | AudioFile] = []
    chapter_starts: list[int] = []
    if audio.intro:
        timeline += [AudioFile(audio.intro, file_sha256(audio.intro)), Gap(audio.pause_chapter)]
    previous: Segment | None = None
    for chapter_index, chapter in enumerate(episode.chapters):
        explicit: float | None = None
        first_in_chapter = True
        for item in chapter.items:
            if isinstance(item, Pause):
                explicit = (explicit or 0.0) + item.seconds
                continue
            if previous is not None:
                gap = _gap_between(previous, item, audio, new_chapter=first_in_chapter and chapter_index > 0)
                timeline.append(Gap(explicit if explicit is not None else gap))
            elif explicit:
                timeline.append(Gap(explicit))
            explicit = None
            if first_in_chapter:
                chapter_starts.append(len(timeline))
                first_in_chapter = False
            timeline.extend(_segment_pieces(item, show.language, lexicon, info, audio,
                                            spoken_marker(item.marker, show.list_number, show.language)))
            previous = item
        if explicit:
            timeline.append(Gap(explicit))
    if audio.outro:
        timeline += [Gap(audio.pause_chapter), AudioFile(audio.outro, file_sha256(audio.outro))]
    return EpisodePlan(episode, tuple(timeline), tuple(chapter_starts))


def _gap_between(previous: Segment, current: Segment, audio: AudioSettings, new_chapter: bool) -> float:
    if new_chapter:
        return audio.pause_chapter
    if (previous.role == "document") != (current.role == "document"):
        return audio.pause_document
    return audio.pause_segment


def _segment_pieces(segment: Segment, language: str, lexicon: tuple, info: EngineInfo,
                    audio: AudioSettings, said_marker: str = "") -> list[Piece | Gap]:
    """A segment's pieces. A list paragraph's marker is shown as written at the start of its first piece
    ("4. The main…"), and `said_marker` ("Four.") starts what that piece says: the normaliser never sees
    the marker, so "4." is never read as part of the sentence it starts."""
    voice = segment.voice
    phonemes = info.accepts_phonemes(voice.engine)
    items: list[Piece | Gap] = []
    previous_ends = True
    unsaid = segment.marker  # cues with nothing to say ("..." between sentences) before the first with words
    for cue, ends_sentence in split_cues(segment.body, language, lexicon):
        spoken = spoken_text(cue, language=language, lexicon=lexicon, phonemes=phonemes)
        if not has_words(spoken):
            # No piece of its own (an engine returns silence for it): its text joins the cue before it, or the
            # one after it, so the transcript still has every word as written.
            if items:
                last = items[-1]
                assert isinstance(last, Piece)
                items[-1] = replace(last, text=f"{last.text} {cue}")
                previous_ends = ends_sentence
            else:
                unsaid = f"{unsaid} {cue}".lstrip()
            continue
        if items:
            items.append(Gap(audio.pause_sentence if previous_ends else audio.pause_clause))
        elif said_marker:
            spoken = f"{said_marker} {spoken}"
        # A pitch the engine ignores does not shape the sound: changing it must not render again.
        keyed = voice if voice.pitch is None or info.applies_pitch(voice.engine) else replace(voice, pitch=None)
        key = piece_key(spoken, keyed, info.version(voice.engine), info.voice_version(voice))
        text = f"{unsaid} {cue}" if unsaid else cue
        items.append(Piece(key, text, spoken, voice, segment.role, segment.location))
        unsaid, previous_ends = "", ends_sentence
    if not items:  # the script check reports such a paragraph first; never sent to an engine
        raise UserError(f"{segment.location}: {nothing_to_say(segment.text)}")
    return items
