"""Engines for a project: load each engine the show uses once, and check every voice and language."""
from __future__ import annotations

import logging

from narrate.engines import Engine, engine_targets, load_engine
from narrate.errors import Problems, UserError
from narrate.model import Location, VoiceSpec
from narrate.script import Project
from narrate.tools import log_tools

log = logging.getLogger(__name__)


def open_engine(name: str, targets: dict[str, str] | None = None) -> Engine:
    """An instance of the named engine; UserError when it is unknown or cannot start."""
    return load_engine(name, targets)()


def used_voices(project: Project) -> dict[VoiceSpec, str]:
    """Every voice the project uses, with the first place it is asked for."""
    used: dict[VoiceSpec, str] = {}
    for role, voice in project.show.voices:
        used.setdefault(voice, f"{project.show.path}: voices.{role}")
    for episode in project.episodes:
        for segment in episode.segments:
            used.setdefault(segment.voice, str(segment.location))
    return used


def prepare_engines(project: Project, targets: dict[str, str] | None = None, load: bool = False) -> dict[str, Engine]:
    """Start every engine the project uses and check its voices and the show's language; all problems at once.

    Each voice's data is read (its fingerprint); with `load`, each voice is also loaded as a render would.
    """
    targets = targets if targets is not None else engine_targets()
    problems = Problems()
    engines: dict[str, Engine] = {}
    failed: set[str] = set()
    pitch_warned: set[tuple[str, str, int | None]] = set()
    language = project.show.language
    for voice, where in used_voices(project).items():
        if voice.engine in failed:
            continue
        engine = engines.get(voice.engine)
        if engine is None:
            try:
                engine = engines[voice.engine] = open_engine(voice.engine, targets)
            except UserError as exc:
                problems.add(where, exc.message)
                failed.add(voice.engine)
                continue
            if not engine.speaks(language):
                problems.add(Location(project.show.path, 1),
                             f"engine '{voice.engine}' has no voice for the show's language '{language}'")
        if engine.find_voice(voice.voice) is None:
            problems.add(where, unavailable_voice(engine, voice.voice, language))
            continue
        ignored = (voice.engine, voice.voice, voice.pitch)
        if voice.pitch is not None and not type(engine).applies_pitch and ignored not in pitch_warned:
            pitch_warned.add(ignored)  # once per voice, however many roles and passages ask for it
            log.warning("warning: %s: %s cannot change a voice's pitch; pitch %d of voice %s is ignored "
                        "(remove it, or use an engine that can, such as pyttsx3)",
                        where, voice.engine, voice.pitch, voice.voice)
        try:  # a voice that exists can still be unusable (a Piper model with a broken config, say)
            engine.voice_version(voice.voice)
            if load:
                engine.check_voice(voice.voice)
        except UserError as exc:
            problems.add(where, exc.message)
    problems.raise_if_any()
    log_tools(engines)
    return engines


def unavailable_voice(engine: Engine, voice: str, language: str) -> str:
    """The message for a voice the engine does not have: the voices it has, and how to get this one."""
    message = f"voice '{voice}' is not available in {engine.name} ({describe_voices(engine, language)})"
    help_text = engine.missing_voice_help(voice)
    return f"{message}; {help_text}" if help_text else message


def describe_voices(engine: Engine, language: str) -> str:
    """The engine's voice ids for a language (or all), as a short list for an error message."""
    primary = language.lower().split("-")[0]
    matching = [v.id for v in engine.voices() if any(l.lower().split("-")[0] == primary for l in v.languages)]
    if matching:
        return f"voices for {language}: {', '.join(matching)}; all voices: narrate voices --engine {engine.name}"
    ids = [v.id for v in engine.voices()]
    return f"available: {', '.join(ids) if ids else 'none'}"
