"""Which ffmpeg and espeak-ng narrate uses, how it reads loudness from each ffmpeg, and `narrate doctor`.

Tests that need Debian's ffmpeg or espeak-ng skip when it is not installed, and fail under NARRATE_CI=1
(.ci/run installs both).
"""
from __future__ import annotations

import ctypes.util
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from narrate import __version__
from narrate.audio import (
    Loudness,
    _has_soxr,
    _loudness_at_gains,
    audio_duration,
    find_ffmpeg,
    measure_loudness,
    parse_r128_metadata,
)
from narrate.cli import main
from narrate.model import AudioSettings
from narrate.tools import ffmpeg_tool, version_numbers
from tests.conftest import require_tool

RATE = 48000


@pytest.fixture(params=["bundled", "system"])
def ffmpeg_choice(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with the wheel's ffmpeg and once with the system's (Debian 12: 5.1)."""
    if request.param == "system":
        require_tool("ffmpeg")
    monkeypatch.setenv("NARRATE_FFMPEG", request.param)
    return request.param


def _write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Float samples (frames x channels, or mono) as 16-bit PCM."""
    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(data, -1, 1) * 32767).round().astype("<i2").tobytes())
    return path


def _program(seconds: float = 20.0, rate: int = RATE) -> np.ndarray:
    """A stereo signal with speech-like dynamics: tones and noise in bursts, with quiet gaps."""
    rng = np.random.default_rng(8)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 0.7 * t) > -0.3) * (0.6 + 0.4 * np.sin(2 * np.pi * 3.1 * t))
    left = 0.25 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 1800 * t)
    right = 0.12 * rng.standard_normal(len(t))
    return np.stack([left * envelope, right * envelope], axis=1)


def _summary(path: Path) -> tuple[float, float]:
    """ebur128's own log summary (integrated, true peak), read here only to check the metadata against it."""
    stderr = subprocess.run([find_ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                             "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    body = stderr.rsplit("Summary:", 1)[1]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", body).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+)", body).group(1))
    return integrated, peak


# -- choosing ffmpeg ---------------------------------------------------------------------------------------


def test_bundled_ffmpeg_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import imageio_ffmpeg

    monkeypatch.delenv("NARRATE_FFMPEG", raising=False)
    tool = ffmpeg_tool()
    assert (tool.path, tool.source) == (imageio_ffmpeg.get_ffmpeg_exe(), "bundled")
    assert find_ffmpeg() == tool.path
    assert tool.numbers is not None and tool.numbers >= (4, 4), tool.version
    monkeypatch.setenv("NARRATE_FFMPEG", "bundled")
    assert ffmpeg_tool() == tool


def test_system_ffmpeg_is_the_one_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    path = require_tool("ffmpeg")
    monkeypatch.setenv("NARRATE_FFMPEG", "system")
    tool = ffmpeg_tool()
    assert (tool.path, tool.source) == (path, "system")
    assert find_ffmpeg() == path
    first = subprocess.run([path, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    assert first.startswith(f"ffmpeg version {tool.version} ")


def test_ffmpeg_by_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import imageio_ffmpeg

    link = tmp_path / "my-ffmpeg"
    link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    monkeypatch.setenv("NARRATE_FFMPEG", str(link))
    tool = ffmpeg_tool()
    assert (tool.path, tool.source) == (str(link), "path")


@pytest.mark.parametrize("value", ["nope", "System", "/no/such/ffmpeg", "/bin/true", "NOT_EXECUTABLE"])
def test_a_bad_ffmpeg_choice_is_one_line_exit_2(value: str, show_dir: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    if value == "NOT_EXECUTABLE":
        value = str(tmp_path / "ffmpeg.txt")
        Path(value).write_text("not a program\n")
    monkeypatch.setenv("NARRATE_FFMPEG", value)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(show_dir), "-o", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NARRATE_FFMPEG={value}" in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize("value", ["nope", "bundle", "/no/such/libespeak-ng.so.1"])
def test_a_bad_espeak_choice_is_one_line_exit_2(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NARRATE_ESPEAK", value)
    out = tmp_path / "line.wav"
    result = CliRunner().invoke(main, ["say", "Hello.", "--engine", "pyttsx3", "--voice", "gmw/en-us",
                                       "--scripts", str(tmp_path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"NARRATE_ESPEAK={value}" in lines[0], lines
    assert not out.exists()


def test_version_numbers() -> None:
    assert version_numbers("5.1.9-0+deb12u1") == (5, 1, 9)
    assert version_numbers("4.4.2-0ubuntu0.22.04.1") == (4, 4, 2)
    assert version_numbers("n9.0.2-17-g2a571b6068-20260930") == (9, 0, 2)
    assert version_numbers("7.1") == (7, 1)
    assert version_numbers("N-118443-gb5e8b4c") is None


# -- reading ebur128's metadata -------------------------------------------------------------------------------


def _frame(n: int, pts: int, i: float, lra: float, peaks: list[float], total: bool = True) -> list[str]:
    lines = [f"frame:{n:<4} pts:{pts:<7} pts_time:{pts / 48000:g}", "lavfi.r128.M=-20.100", "lavfi.r128.S=-21.000",
             f"lavfi.r128.I={i:.3f}", f"lavfi.r128.LRA={lra:.3f}", "lavfi.r128.LRA.low=-30.000",
             "lavfi.r128.LRA.high=-18.000"]
    lines += [f"lavfi.r128.true_peaks_ch{ch}={peak:.3f}" for ch, peak in enumerate(peaks)]
    if total:  # ffmpeg 5 and later add the maximum over channels; 4.x does not
        lines.append(f"lavfi.r128.true_peak={max(peaks):.3f}")
    return lines


def _stream(total: bool = True) -> list[list[str]]:
    """Frames as ametadata prints them: the last one is the pad's step, with the episode's final peak."""
    return [
        _frame(0, 0, -70.0, 0.0, [0.1, 0.2], total),
        _frame(1, 4800, -24.5, 1.0, [0.5, 0.4], total),
        _frame(2, 9600, -23.0, 2.5, [0.5, 0.7], total),
        _frame(3, 14400, -23.2, 2.6, [0.8, 0.7], total),  # the pad: its I is not the episode's
    ]


@pytest.mark.parametrize("total", [True, False])
def test_metadata_reading(total: bool) -> None:
    text = "\n".join(line for frame in _stream(total) for line in frame) + "\n"
    measured = parse_r128_metadata(text)
    assert (measured.integrated, measured.lra) == (-23.0, 2.5)
    assert measured.true_peak == pytest.approx(20 * np.log10(0.8))
    assert np.isnan(parse_r128_metadata(text, true_peak=False).true_peak)


def test_metadata_reading_tolerates_repeated_and_reordered_lines() -> None:
    expected = parse_r128_metadata("\n".join(line for frame in _stream() for line in frame))
    rng = random.Random(8)
    for _ in range(20):
        frames = [list(frame) for frame in _stream()] * 2  # every frame printed twice
        rng.shuffle(frames)
        for frame in frames:  # the values inside a frame in any order, some repeated, unknown keys added
            body = frame[1:] + rng.sample(frame[1:], 3) + ["lavfi.r128.new_key_of_a_later_version=1.000", ""]
            rng.shuffle(body)
            frame[1:] = body
        text = "\r\n".join("  " + line for frame in frames for line in frame)
        assert parse_r128_metadata(text) == expected


def test_no_frames_reads_as_silence() -> None:
    assert parse_r128_metadata("") == Loudness(-70.0, float("-inf"), 0.0)


def test_an_unreadable_value_is_an_error() -> None:
    from narrate.errors import NarrateError

    with pytest.raises(NarrateError, match="unreadable loudness value"):
        parse_r128_metadata("frame:0 pts:0 pts_time:0\nlavfi.r128.I=garbage\n")


# -- measuring with each ffmpeg ---------------------------------------------------------------------------------


def test_loudness_agrees_with_pyloudnorm_and_with_ebur128s_summary(ffmpeg_choice: str, tmp_path: Path) -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    samples = _program()
    wav = _write_wav(tmp_path / "program.wav", samples)
    measured = measure_loudness(wav)
    reference = pyloudnorm.Meter(RATE).integrated_loudness(samples)
    assert abs(measured.integrated - reference) <= 0.3, (measured, reference)
    summary_i, summary_peak = _summary(wav)
    # the summary prints one decimal; the metadata three
    assert abs(measured.integrated - summary_i) <= 0.0505, (measured, summary_i)
    assert abs(measured.true_peak - summary_peak) <= 0.1, (measured, summary_peak)
    assert measured.lra > 0
    assert list(tmp_path.iterdir()) == [wav]


def test_true_peak_includes_the_last_samples(ffmpeg_choice: str, tmp_path: Path) -> None:
    """A peak in the final, partial 100 ms step (speech can end on one) is measured, as ebur128's summary has it."""
    t = np.arange(int(3.05 * RATE)) / RATE
    samples = 0.1 * np.sin(2 * np.pi * 440 * t)
    samples[-200:] = 0.9
    wav = _write_wav(tmp_path / "spike.wav", samples)
    measured = measure_loudness(wav)
    assert measured.true_peak > 20 * np.log10(0.85), measured
    assert abs(measured.true_peak - _summary(wav)[1]) <= 0.1


def test_gains_measured_through_the_chain_in_one_run(ffmpeg_choice: str, tmp_path: Path) -> None:
    """The encode chain at several gains: one reading per gain (Debian 12's 5.1 once gave two summaries each)."""
    wav = _write_wav(tmp_path / "program.wav", _program(12.0)[:, 0])
    audio = AudioSettings()
    gains = [0.0, 3.0, 6.0, 9.0]
    levels, encoded = _loudness_at_gains(wav, gains, audio)
    assert len(levels) == 4 and levels == sorted(levels), levels
    assert levels[1] - levels[0] == pytest.approx(3.0, abs=0.3)
    assert encoded is None
    plain = measure_loudness(wav, true_peak=False).integrated
    assert levels[0] == pytest.approx(plain, abs=0.3)
    assert list(tmp_path.iterdir()) == [wav], "the metadata files are removed"
    # The same run also encodes one gain's chain to MP3: its loudness is that chain's, less the encoder's loss.
    again, encoded = _loudness_at_gains(wav, gains, audio, encode=1)
    assert again == levels
    assert encoded is not None and encoded == pytest.approx(levels[1], abs=1.0) and encoded != levels[1]
    assert list(tmp_path.iterdir()) == [wav], "the MP3 is removed too"


def test_duration_and_soxr(ffmpeg_choice: str, tmp_path: Path) -> None:
    wav = _write_wav(tmp_path / "tone.wav", np.zeros(int(3.05 * RATE)))
    assert audio_duration(wav) == pytest.approx(3.05, abs=0.001)
    mp3 = tmp_path / "tone.mp3"
    subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "64k", str(mp3)],
                   check=True)
    assert audio_duration(mp3) == pytest.approx(3.05, abs=0.06)
    assert isinstance(_has_soxr(), bool)


# -- choosing espeak-ng (one library per process, so each case runs in its own) --------------------------------

_PROBE = """
import json, os, sys
from pathlib import Path
from narrate.engines.pyttsx3_engine import (Pyttsx3Engine, _espeak_data_path, espeak_version,
                                            loaded_espeak_library, prepare_espeak)
from narrate.model import VoiceSpec
source = prepare_espeak()
engine = Pyttsx3Engine()
engine.render("Dubcek and Husak.", VoiceSpec("pyttsx3", "gmw/en-us", 175), Path(sys.argv[1]))
maps = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libespeak-ng" in line})
print(json.dumps({"source": source, "library": loaded_espeak_library(), "maps": maps,
                  "data": str(_espeak_data_path()), "version": espeak_version(),
                  "env": os.environ.get("ESPEAK_DATA_PATH")}))
"""


def _probe(tmp_path: Path, **env: str | None) -> dict:
    environ = {k: v for k, v in os.environ.items() if k not in ("NARRATE_ESPEAK", "ESPEAK_DATA_PATH")}
    environ.update({k: v for k, v in env.items() if v is not None})
    out = tmp_path / "line.wav"
    result = subprocess.run([sys.executable, "-c", _PROBE, str(out)], env=environ, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 10000
    return json.loads(result.stdout.strip().splitlines()[-1])


def _wheel() -> tuple[Path, Path]:
    import espeakng_loader

    return Path(espeakng_loader.get_library_path()).resolve().parent, Path(espeakng_loader.get_data_path()).resolve()


def test_bundled_espeak_is_the_wheels_even_with_a_system_one(tmp_path: Path) -> None:
    """The wheel's library and data, although Debian's libespeak-ng is installed and ESPEAK_DATA_PATH points at it."""
    system = require_tool("espeak-ng", ctypes.util.find_library)
    folder, data = _wheel()
    elsewhere = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
    for env in ({}, {"NARRATE_ESPEAK": "bundled", "ESPEAK_DATA_PATH": elsewhere}):
        probe = _probe(tmp_path, **env)
        assert probe["source"] == "espeakng-loader"
        assert Path(probe["library"]).parent == folder, probe
        assert all(Path(m).resolve().parent == folder for m in probe["maps"]), (probe, system)
        assert Path(probe["data"]).resolve() == data, probe
        assert version_numbers(probe["version"]) >= (1, 52), probe


def test_system_espeak_is_debians_with_its_own_data(tmp_path: Path) -> None:
    """Debian's library and data folder, even when the wheel's data path was left in the environment."""
    require_tool("espeak-ng", ctypes.util.find_library)
    folder, data = _wheel()
    probe = _probe(tmp_path, NARRATE_ESPEAK="system", ESPEAK_DATA_PATH=str(data))
    assert probe["source"] == "system"
    assert Path(probe["library"]).parent != folder and probe["maps"], probe
    assert all(Path(m).resolve().parent != folder for m in probe["maps"]), probe
    assert Path(probe["data"]).resolve() != data and probe["env"] is None, probe
    plain = {k: v for k, v in os.environ.items() if k != "ESPEAK_DATA_PATH"}  # as Debian's espeak-ng runs alone
    cli = subprocess.run([require_tool("espeak-ng"), "--version"], capture_output=True, text=True, env=plain).stdout
    assert probe["version"] in cli and str(Path(probe["data"])) in cli, (probe, cli)


def test_espeak_by_path_reads_the_data_beside_it(tmp_path: Path) -> None:
    folder, data = _wheel()
    library = next(p for p in sorted(folder.glob("libespeak-ng.so*")) if p.name == "libespeak-ng.so.1")
    probe = _probe(tmp_path, NARRATE_ESPEAK=str(library))
    assert probe["source"] == "path" and Path(probe["library"]).resolve() == library.resolve(), probe
    assert Path(probe["data"]).resolve() == data, probe


# -- doctor and the build log --------------------------------------------------------------------------------------


def test_doctor_shows_the_tools_and_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NARRATE_FFMPEG", raising=False)
    tool = ffmpeg_tool()
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"narrate {__version__} on Python {platform.python_version()}" in out
    assert f"ffmpeg: {tool.version} (bundled) at {tool.path}" in out
    assert re.search(r"^espeak-ng: 1\.\d+\S* \(bundled\) at \S+espeakng_loader\S+, data \S+", out, re.M), out
    count = re.search(r"^  pyttsx3 \(pyttsx3-[\d.]+\+espeak-ng-[\d.]+\): (\d+) voices$", out, re.M)
    assert count and int(count.group(1)) > 50, out
    assert re.search(r"^  piper \(.+\): \d+ voices?|^  piper: unavailable: .*pip install", out, re.M), out
    assert "ready: narrate build can run" in out
    if shutil.which("ffmpeg"):
        assert "  system ffmpeg: " in out and "(NARRATE_FFMPEG=system)" in out


def test_doctor_with_system_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    path = require_tool("ffmpeg")
    monkeypatch.setenv("NARRATE_FFMPEG", "system")
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"^ffmpeg: \d+\.\d+\S* \(system\) at {re.escape(path)}$", result.stdout, re.M), result.stdout


def test_doctor_reports_what_is_missing_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NARRATE_FFMPEG", "/no/such/ffmpeg")
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 1, result.output
    assert "missing: NARRATE_FFMPEG=/no/such/ffmpeg: no such executable file" in result.stderr
    assert "not ready" in result.stdout and "pyttsx3" in result.stdout  # the rest is still shown


def test_verbose_build_logs_the_tools_once(show_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NARRATE_FFMPEG", raising=False)
    tool = ffmpeg_tool()
    args = ["-v", "build", str(show_dir), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.count(f"using {tool.describe()}") == 1, result.stderr
    again = CliRunner().invoke(main, args)  # a second build in the same process logs them again
    assert again.stderr.count(f"using {tool.describe()}") == 1, again.stderr


def test_a_missing_system_tool_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NARRATE_CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_tool("narrate-no-such-tool")
    monkeypatch.setenv("NARRATE_CI", "1")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_tool("narrate-no-such-tool")
    assert require_tool("sh") == shutil.which("sh")


def test_an_unreadable_file_is_an_ffmpeg_error(ffmpeg_choice: str, tmp_path: Path) -> None:
    from narrate.errors import NarrateError

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    with pytest.raises(NarrateError, match="ffmpeg failed while measuring the loudness of bad.mp3"):
        measure_loudness(bad)


def test_another_ffmpeg_re_encodes_the_episodes(show_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Switching NARRATE_FFMPEG to an ffmpeg of another version plans a re-encode (and renders nothing new)."""
    require_tool("ffmpeg")
    from narrate.build import BuildOptions, build

    options = BuildOptions(output=tmp_path / "audio", cache_dir=tmp_path / "cache", in_process=True)
    monkeypatch.setenv("NARRATE_FFMPEG", "bundled")
    build(show_dir, options)
    bundled = ffmpeg_tool().version
    assert [e.action for e in build(show_dir, replace(options, dry_run=True)).plan] == ["unchanged"]
    monkeypatch.setenv("NARRATE_FFMPEG", "system")
    if ffmpeg_tool().version == bundled:
        pytest.skip("the system's ffmpeg is the bundled one's version")
    report = build(show_dir, replace(options, dry_run=True))
    assert [(e.action, e.reasons, e.to_render) for e in report.plan] == [
        ("build", ("timing, pauses, audio settings or the ffmpeg changed",), 0)]
