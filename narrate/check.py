"""`narrate check`, `narrate clean` and `narrate say`: the library side of the small commands."""
from __future__ import annotations

import contextlib
import wave
from dataclasses import dataclass
from pathlib import Path

from narrate.audio import find_ffmpeg, run_ffmpeg
from narrate.build import default_cache_dir
from narrate.cache import Cache
from narrate.config import find_show_file, load_show
from narrate.errors import UserError, storage_errors
from narrate.lexicon import merge_lexicons
from narrate.model import Pause, VoiceSpec
from narrate.normalize import spoken_text
from narrate.plan import EngineInfo, plan_episode
from narrate.render import verify_and_trim
from narrate.script import Project, load_project
from narrate.validate import validate_project
from narrate.voices import open_engine, prepare_engines, unavailable_voice

DEFAULT_RATE = 175


@dataclass(frozen=True)
class EpisodeSummary:
    """One row of `narrate check`."""

    number: int
    title: str
    chapters: int
    segments: int
    words: int
    seconds: float


def estimate_seconds(project: Project, number: int) -> float:
    """Rough spoken length of an episode: words at each voice's rate plus the configured pauses."""
    episode = project.episode(number)
    assert episode is not None
    audio = project.show.audio
    seconds = 0.0
    for chapter in episode.chapters:
        seconds += audio.pause_chapter
        for item in chapter.items:
            if isinstance(item, Pause):
                seconds += item.seconds
                continue
            words = len(item.text.split())
            sentences = max(1, item.text.count(". ") + 1)
            seconds += words * 60 / (item.voice.rate or DEFAULT_RATE) + sentences * audio.pause_sentence
            seconds += audio.pause_segment
    return seconds


def check_scripts(scripts_dir: Path) -> list[EpisodeSummary]:
    """Validate the show file, scripts, voices and cover without rendering; one summary row per episode.

    Every problem is listed at once: voices and the cover are checked even when some scripts have problems.
    """
    project = validate_project(scripts_dir).project
    return [
        EpisodeSummary(e.number, e.title, len(e.chapters), len(e.segments),
                       sum(len(s.text.split()) for s in e.segments), estimate_seconds(project, e.number))
        for e in project.episodes
    ]


def clean_cache(scripts_dir: Path, cache_dir: Path | None, unused_only: bool) -> tuple[int, int]:
    """Remove the cache, or only entries no current script uses; (entries removed, bytes freed)."""
    cache = Cache(cache_dir or default_cache_dir(scripts_dir))
    if not unused_only:
        return 0, cache.clear()
    project = load_project(scripts_dir)
    info = EngineInfo(prepare_engines(project))
    used = {p.key for e in project.episodes for p in plan_episode(project.show, e, info).pieces}
    return cache.remove_unused(used)


def say_line(text: str, output: Path, scripts_dir: Path, role: str | None, engine_name: str | None,
             voice_id: str | None, rate: int | None) -> tuple[str, float]:
    """Render one line with the show's voice and lexicon (when a show file exists); (spoken text, seconds)."""
    show = load_show(scripts_dir) if find_show_file(scripts_dir) else None
    if role and show is None:
        raise UserError(f"--role needs a show file in {scripts_dir}")
    base = show.voice_for(role or "narrator") if show else VoiceSpec("pyttsx3", "gmw/en-us")
    if engine_name and not voice_id and engine_name != base.engine:
        raise UserError("--engine needs --voice (see: narrate voices --engine NAME)")
    voice = VoiceSpec(engine_name or base.engine, voice_id or base.voice, rate or base.rate, base.pitch)
    engine = open_engine(voice.engine)
    if engine.find_voice(voice.voice) is None:
        raise UserError(unavailable_voice(engine, voice.voice, show.language if show else "en"))
    lexicon = merge_lexicons(show.lexicon, ()) if show else ()
    spoken = spoken_text(text, language=show.language if show else "en", lexicon=lexicon,
                         phonemes=type(engine).accepts_phonemes)
    wav = output if output.suffix.lower() == ".wav" else output.with_suffix(".tmp.wav")
    written = [wav]  # removed if anything fails: no part of a file is left behind
    try:
        # A full or read-only folder: one line naming the file (exit 1).
        with storage_errors(output):
            output.parent.mkdir(parents=True, exist_ok=True)
            engine.render(spoken, voice, wav)
            verify_and_trim(wav, spoken, voice)
        with wave.open(str(wav), "rb") as w:
            seconds = w.getnframes() / w.getframerate()
        if wav != output:
            find_ffmpeg()
            written.append(output)
            run_ffmpeg(["-y", "-v", "error", "-i", str(wav), str(output)], f"writing {output.name}")
        written = [] if wav == output else [wav]  # done: only the intermediate WAV goes
    finally:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
    return spoken, seconds
