"""`narrate say`: one line rendered as a build would render it, to check a voice or a pronunciation.

`--text-only` (`spoken_line`) stops after the text: no engine is imported or started, nothing is rendered.

The line goes through the build's own stages: `plan` splits it into cues and applies the lexicon and
normalisation, `render` renders and trims each piece (in this process, into a throwaway cache); the
pieces are then joined with the show's sentence and clause pauses into one WAV (or ffmpeg converts it).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from narrate.config import DEFAULT_VOICES, find_show_file, load_show
from narrate.errors import UserError
from narrate.model import Chapter, DocumentInfo, Episode, Location, Segment, Show, VoiceSpec
from narrate.normalize import has_words, spoken_text
from narrate.plan import Gap, Piece, split_cues

if TYPE_CHECKING:
    from narrate.cache import Cache

#: What a show without a show file is, for `say`: the default cast, English, no lexicon.
_NO_SHOW = dict(path="", title="", author="", description="", language="en", category="", explicit=False,
                base_url="", voices=tuple(DEFAULT_VOICES.items()))


def say_line(text: str, output: Path, scripts_dir: Path, role: str | None, engine_name: str | None,
             voice_id: str | None, rate: int | None) -> tuple[str, float]:
    """Render one line with the show's voice and lexicon (when a show file exists); (spoken text, seconds)."""
    # Rendering needs these; `spoken_line` (say --text-only) does not, and starts faster without them.
    from narrate.audio import find_ffmpeg, run_ffmpeg
    from narrate.cache import Cache
    from narrate.engines import EngineError, engine_targets
    from narrate.errors import storage_errors
    from narrate.fsutil import TMP_PREFIX
    from narrate.plan import EngineInfo, plan_episode
    from narrate.render import render_jobs
    from narrate.voices import open_engine, unavailable_voice

    show = _show(scripts_dir, role)
    base = show.voice_for(role or "narrator")
    if engine_name and not voice_id and engine_name != base.engine:
        raise UserError("--engine needs --voice (see: narrate voices --engine NAME)")
    voice = VoiceSpec(engine_name or base.engine, voice_id or base.voice, rate or base.rate, base.pitch)
    engine = open_engine(voice.engine)
    if engine.find_voice(voice.voice) is None:
        raise UserError(unavailable_voice(engine, voice.voice, show.language))
    # The line is a one-paragraph episode of a show without intro or outro.
    line = Episode(number=0, title="say", release_date=dt.date.min, summary="", document=DocumentInfo(),
                   chapters=(Chapter("say", Location("say", 1),
                                     (Segment(role or "narrator", text, voice, Location("say", 1)),)),),
                   path="say", slug="say")
    plain = dataclasses.replace(show, audio=dataclasses.replace(show.audio, intro=None, outro=None))
    timeline = plan_episode(plain, line, EngineInfo({voice.engine: engine})).timeline
    pieces = [item for item in timeline if isinstance(item, Piece)]
    with tempfile.TemporaryDirectory(prefix=TMP_PREFIX + "say-") as scratch:
        cache = Cache(Path(scratch))
        failures = render_jobs(pieces, cache,
                               engine_targets(), in_process=True)
        if failures:
            raise EngineError(failures[0].message)
        wav = output if output.suffix.lower() == ".wav" else Path(scratch) / "say.wav"
        try:
            # A full or read-only folder: one line naming the file (exit 1), and no part of it left behind.
            with storage_errors(output):
                output.parent.mkdir(parents=True, exist_ok=True)
                seconds = _join(timeline, cache, wav)
                if wav != output:
                    find_ffmpeg()
                    run_ffmpeg(["-y", "-v", "error", "-i", str(wav), str(output)], f"writing {output.name}")
        except BaseException:
            with contextlib.suppress(OSError):
                output.unlink(missing_ok=True)
            raise
    return " ".join(p.spoken for p in pieces), seconds


def _show(scripts_dir: Path, role: str | None) -> Show:
    """The show in `scripts_dir`, or without a show file the default cast, English and no lexicon."""
    show = load_show(scripts_dir) if find_show_file(scripts_dir) else None
    if role and show is None:
        raise UserError(f"--role needs a show file in {scripts_dir}")
    return show or Show(root=scripts_dir, **_NO_SHOW)


def spoken_line(text: str, scripts_dir: Path, role: str | None = None) -> str:
    """What `say` would send to the engine for `text`, without an engine: the line split into cues as a
    build splits a paragraph, each with the default table, the show's lexicon and normalisation applied.

    Entries with `phonemes` show their respelling (what an engine that cannot read phonemes gets).
    """
    show = _show(scripts_dir, role)
    cues = split_cues(text, show.language, show.lexicon)
    spoken = (spoken_text(cue, language=show.language, lexicon=show.lexicon) for cue, _ in cues)
    return " ".join(s for s in spoken if has_words(s))


def _join(timeline: tuple, cache: Cache, wav: Path) -> float:  # noqa: ANN001 - plan's timeline items
    """Write the rendered pieces, with the planned gaps between them, as one mono 16-bit WAV; its seconds."""
    data = bytearray()
    rate = 0
    for item in timeline:  # a line's timeline starts with a piece: every gap comes after one
        if isinstance(item, Piece):
            cached = cache.get(item.key)
            assert cached is not None  # render_jobs reported a failure otherwise
            with wave.open(str(cached.path), "rb") as w:
                rate = rate or w.getframerate()
                data += w.readframes(w.getnframes())
        elif isinstance(item, Gap):
            data += bytes(2 * round(item.seconds * rate))
    with open(wav, "wb") as raw, wave.open(raw, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(data))
    return len(data) / 2 / rate
