"""What rendering does to the file system: one scratch file per process, emptied per piece, never deleted per piece."""
from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import pytest

import narrate.render
from narrate.cache import Cache, piece_key
from narrate.engines import engine_targets
from narrate.model import Location, VoiceSpec
from narrate.plan import Piece
from narrate.render import Trimmed, render_jobs, trimmed_audio
from narrate.workers import SCRATCH_PREFIX
from tests import fake_engine  # noqa: F401 - registers the fake engine (conftest)

VOICE = VoiceSpec("fake", "low", 175)


def _jobs(count: int, voice: VoiceSpec = VOICE, version: str = "fake-1") -> list[Piece]:
    texts = [f"Piece number {i} has a few words in it." for i in range(count)]
    return [Piece(piece_key(t, voice, version), t, t, voice, "narrator", Location("test.md", i + 1))
            for i, t in enumerate(texts)]


def test_rendering_creates_no_scratch_file_per_piece_and_deletes_none(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """ext4 grows slow to create a file after many deletions: a piece costs no create or delete of its own in
    the scratch folder, only its cache entry's two renames into place."""
    scratch_prefix = os.path.join(tempfile.gettempdir(), SCRATCH_PREFIX)
    deleted: list[str] = []
    created: list[str] = []
    real_unlink, real_mkstemp = os.unlink, tempfile.mkstemp

    def unlink(path, *args, **kwargs):
        if os.fspath(path).startswith(scratch_prefix):
            deleted.append(os.fspath(path))
        return real_unlink(path, *args, **kwargs)

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        created.append(name)
        return fd, name

    monkeypatch.setattr(os, "unlink", unlink)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    jobs = _jobs(20)
    mine = f"{SCRATCH_PREFIX}{os.getpid()}-"
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(mine)}  # other tests' leftovers
    cache = Cache(tmp_path / "cache")
    assert render_jobs(jobs, cache, engine_targets(), in_process=True) == []
    assert deleted == [] and created == []
    for job in jobs:
        entry = cache.get(job.key)
        assert entry is not None and entry.frames > 0
    # The scratch folder went when rendering ended.
    assert {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(mine)} <= before


def test_an_engine_that_writes_nothing_is_not_given_the_previous_pieces_audio(tmp_path: Path) -> None:
    """The scratch file is emptied before each piece: a later piece whose engine wrote nothing fails as such."""
    jobs = _jobs(2)
    silent = Piece(piece_key("NOTHING here at all.", VOICE, "fake-1"), "NOTHING here at all.", "NOTHING here at all.",
                   VOICE, "narrator", Location("test.md", 9))
    failures = render_jobs([*jobs, silent], Cache(tmp_path / "cache"), engine_targets(), in_process=True)
    assert [(f.job.location.line, f.message) for f in failures] == [(9, "the engine wrote no audio file")]


def test_samples_stored_from_memory_make_the_same_entry_as_a_file(tmp_path: Path) -> None:
    samples = (b"\x10\x00\xf0\xff" * 500) + b"\x00\x40" * 300
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    from_memory = cache.put_samples("aa" + "0" * 62, 22050, samples, "text")
    Trimmed(22050, samples).write(tmp_path / "piece.wav")
    from_file = cache.put("bb" + "0" * 62, tmp_path / "piece.wav", "text")
    assert from_memory.path.read_bytes() == from_file.path.read_bytes()
    assert (from_memory.rate, from_memory.frames) == (22050, len(samples) // 2)
    assert cache.get(from_memory.key) == from_memory
    with wave.open(str(from_memory.path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.readframes(w.getnframes())) == (1, 2, samples)


def test_trimmed_audio_is_what_verify_and_trim_writes(tmp_path: Path) -> None:
    rate = 22050
    speech = b"".join(int(8000 * ((i % 50) - 25) / 25).to_bytes(2, "little", signed=True) for i in range(rate))
    raw = b"\x00\x00" * 4000 + speech + b"\x00\x00" * 3000
    path = tmp_path / "engine.wav"
    Trimmed(rate, raw).write(path)
    trimmed = trimmed_audio(path, "five words are said here", VOICE)
    assert len(trimmed.samples) < len(raw) and trimmed.samples in raw
    narrate.render.verify_and_trim(path, "five words are said here", VOICE)
    with wave.open(str(path), "rb") as w:
        assert w.readframes(w.getnframes()) == trimmed.samples


def test_pyttsx3_renders_into_a_file_that_holds_an_earlier_utterance(tmp_path: Path) -> None:
    """The real engine writes over the scratch file of the piece before: the file then holds the new words only."""
    from narrate.engines.pyttsx3_engine import Pyttsx3Engine

    engine = Pyttsx3Engine()
    voice = VoiceSpec("pyttsx3", "gmw/en-us", 175)
    out = tmp_path / "scratch.wav"
    engine.render("This first utterance is a good deal longer than the one that follows it here.", voice, out)
    long_seconds = trimmed_audio(out, "x " * 15, voice)
    engine.render("Short one.", voice, out)
    short = trimmed_audio(out, "Short one.", voice)
    assert len(short.samples) < len(long_seconds.samples) / 2


def test_a_wav_written_into_a_vanished_folder_fails_without_noise(tmp_path: Path) -> None:
    """wave.open(path, "wb") on a path it cannot open leaves a half-made Wave_write whose __del__ prints
    `Exception ignored in: ... Wave_write.__del__` on stderr: narrate opens the file itself first."""
    import gc
    import sys

    from narrate.say import _join

    caught: list = []
    hook = sys.unraisablehook
    sys.unraisablehook = caught.append
    try:
        with pytest.raises(FileNotFoundError):
            _join((), Cache(tmp_path), tmp_path / "gone" / "line.wav")
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert [str(c.exc_value) for c in caught] == []
