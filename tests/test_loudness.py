"""The in-process BS.1770 meter (narrate.loudness) that replaced the whole-episode ffmpeg pass.

It must read what ffmpeg's ebur128 reads on the same samples (and agree with pyloudnorm), give the same
number however the samples are fed, and the episodes it normalises must come out at the target as ffmpeg
measures the finished MP3.
"""
from __future__ import annotations

import datetime as dt
import wave
from pathlib import Path

import numpy as np
import pytest

from narrate.audio import assemble, measure_loudness
from narrate.build import BuildOptions, build
from narrate.cache import Cache
from narrate.loudness import ABSOLUTE_GATE, TAIL_SECONDS, LoudnessMeter, k_weighting_response, wav_loudness
from narrate.publish import published_paths
from narrate.record import load_record
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show
from tests.test_tools import ffmpeg_choice  # noqa: F401 - the fixture: the wheel's ffmpeg and the system's


def _program(rate: int, seconds: float = 60.0, seed: int = 7) -> np.ndarray:
    """Speech-like bursts: tones and noise of varied level and pitch, syllable-rate modulated, with pauses."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    total = 0
    while total < seconds * rate:
        n = int(rng.uniform(0.4, 3.5) * rate)
        t = np.arange(n) / rate
        level = 10 ** (rng.uniform(-30, -8) / 20)
        voice = np.sin(2 * np.pi * rng.uniform(90, 260) * t) + 0.5 * np.sin(2 * np.pi * rng.uniform(900, 4000) * t)
        burst = level * (voice + 0.3 * rng.standard_normal(n)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
        pause = np.zeros(int(rng.uniform(0.0, 1.2) * rate))
        parts += [burst, pause]
        total += n + len(pause)
    return np.clip(np.concatenate(parts), -1, 1)


def _pcm(samples: np.ndarray) -> np.ndarray:
    return (samples * 32767).round().astype("<i2")


def _wav(path: Path, pcm: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
def test_reads_what_ffmpeg_and_pyloudnorm_read(rate: int, tmp_path: Path, ffmpeg_choice: str) -> None:  # noqa: F811
    pyloudnorm = pytest.importorskip("pyloudnorm")
    pcm = _pcm(_program(rate))
    wav = _wav(tmp_path / "program.wav", pcm, rate)
    ours = wav_loudness(wav)
    ffmpeg = measure_loudness(wav, true_peak=False).integrated
    reference = pyloudnorm.Meter(rate).integrated_loudness(pcm / 32768.0)
    # ffmpeg prints three decimals and bins its gating histogram by 0.01 LU.
    assert abs(ours - ffmpeg) <= 0.05, (ours, ffmpeg)
    assert abs(ours - reference) <= 0.2, (ours, reference)


def test_a_1khz_sine_reads_its_level() -> None:
    """BS.1770's calibration: a mono 997 Hz sine of peak -20 dBFS (mean square -23.01 dB) reads -23.0 LUFS."""
    rate = 48000
    t = np.arange(10 * rate) / rate
    meter = LoudnessMeter(rate)
    meter.add(10 ** (-20 / 20) * np.sin(2 * np.pi * 997 * t))
    assert meter.integrated() == pytest.approx(-23.01, abs=0.05)


def test_the_gates_leave_out_silence_and_quiet_passages() -> None:
    rate = 22050
    loud = _program(rate, 20.0)
    alone = LoudnessMeter(rate)
    alone.add(loud)
    with_silence = LoudnessMeter(rate)
    with_silence.add(loud)
    with_silence.add_silence(30 * rate)
    with_silence.add(np.zeros(5 * rate))
    # Silence is under the absolute gate; only the loud part's filter tail reaches into it.
    assert with_silence.integrated() == pytest.approx(alone.integrated(), abs=0.01)
    t = np.arange(20 * rate) / rate
    quiet = LoudnessMeter(rate)
    quiet.add(0.3 * np.sin(2 * np.pi * 440 * t))
    quiet.add(0.003 * np.sin(2 * np.pi * 440 * t))  # 40 dB lower: under the relative gate
    louder = LoudnessMeter(rate)
    louder.add(0.3 * np.sin(2 * np.pi * 440 * t))
    assert quiet.integrated() == pytest.approx(louder.integrated(), abs=0.05)
    assert LoudnessMeter(rate).integrated() == ABSOLUTE_GATE
    short = LoudnessMeter(rate)
    short.add(0.5 * np.ones(rate // 4))  # shorter than one 400 ms block
    assert short.integrated() == ABSOLUTE_GATE


def test_the_same_samples_give_the_same_number_however_they_are_fed() -> None:
    rate = 22050
    pcm = _pcm(_program(rate, 30.0))
    whole = LoudnessMeter(rate)
    whole.add(pcm.tobytes())
    rng = np.random.default_rng(3)
    pieces = LoudnessMeter(rate)
    at = 0
    while at < len(pcm):
        step = int(rng.integers(1, 40000))
        pieces.add(pcm[at:at + step].tobytes() if step % 2 else pcm[at:at + step])
        at += step
    assert pieces.integrated() == whole.integrated()  # bit for bit: outputs stay deterministic


def test_the_filter_response_is_cut_only_where_it_has_died_away() -> None:
    for rate in (8000, 22050, 48000):
        response = k_weighting_response(rate)
        assert len(response) >= TAIL_SECONDS * rate
        energy = np.sum(response ** 2)
        assert np.sum(response[-len(response) // 4:] ** 2) < 1e-15 * energy


def test_the_meter_agrees_with_ffmpeg_on_an_assembled_episode(tmp_path: Path, ffmpeg_choice: str) -> None:  # noqa: F811
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE})
    out = tmp_path / "out"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=dt.date(2026, 6, 1)))
    from narrate.build import _plan, _read

    sources = _read(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache"))
    plan = _plan(sources)["001-first"].plan
    assembled = assemble(plan, Cache(tmp_path / "cache"), tmp_path)
    try:
        assert abs(wav_loudness(assembled.wav) - measure_loudness(assembled.wav, true_peak=False).integrated) <= 0.05
    finally:
        assembled.wav.unlink()


def test_built_episodes_reach_the_target_as_ffmpeg_measures_the_mp3(tmp_path: Path) -> None:
    """No whole-episode ffmpeg pass any more, and the finished files are where the show asks."""
    show = SHOW_YAML.replace("audio:\n", "audio:\n  loudness: -18\n")
    scripts = write_show(tmp_path / "scripts", show,
                         episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    out = tmp_path / "out"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=dt.date(2026, 6, 1)))
    for slug in load_record(out):
        measured = measure_loudness(published_paths(out, slug)["mp3"])
        assert abs(measured.integrated - -18.0) <= 0.2, (slug, measured)
        assert measured.true_peak <= -1.0 + 0.1, (slug, measured)
