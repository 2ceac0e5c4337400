"""Integration: a small real episode with pyttsx3 (espeak-ng) and ffmpeg, read back with mutagen and ffmpeg.

Each runs with two tool sets: the wheels' ffmpeg and espeak-ng (the default), and the system's
(NARRATE_FFMPEG=system NARRATE_ESPEAK=system: Debian 12's ffmpeg 5.1 and espeak-ng 1.51 in CI). The
shipped show is built and checked with `check --published` with both.
"""
from __future__ import annotations

import ctypes.util
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import ID3, CTOCFlags

from narrate.audio import find_ffmpeg, measure_loudness
from narrate.build import BuildOptions, build
from narrate.publish import published_paths
from narrate.verify import check_published
from narrate.transcript import parse_webvtt
from tests.conftest import PYTTSX3_CAST, require_tool, show_yaml, write_show

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

SHOW = show_yaml("Integration Show: Husák & Dubček", slug="it", description="Real engine integration test.",
                 voices={**PYTTSX3_CAST, "document": ("pyttsx3", "gmw/en", 165)}, audio="",
                 extra="lexicon:\n  Husák: Hoo-sahk\n")

SCRIPT = """\
---
title: "A real episode: “quotes” & Dubček 🎙️"
episode: 1
date: 2026-01-05
summary: Integration test summary with <angle> & ampersand.
document:
  title: Letter
  authors: [Vasil Bilak]
  url: https://example.org/source
---

# Introduction

In August 1968, five officials wrote a letter. It was kept secret for decades.

# The letter

> Esteemed Leonid Ilyich, conscious of the full responsibility for our decision, we appeal to you with the following statement.
>
> The very existence of socialism in our country is under threat.

# After

::: note
Husák replaced Dubček in April 1969.
:::
"""

RATE = 16000


def _decode(path: Path) -> np.ndarray:
    raw = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "s16le",
                          "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768


def _rms_db(samples: np.ndarray, start: float, end: float) -> float:
    window = samples[max(int(start * RATE), 0): max(int(end * RATE), 0)]
    if len(window) == 0:
        return -120.0
    return 20 * np.log10(np.sqrt(np.mean(window ** 2)) + 1e-9)


def _onset(samples: np.ndarray, around: float, threshold_db: float = -40.0) -> float:
    """Where speech starts near `around`: the first 5 ms window from 100 ms before it that is louder than the threshold."""
    step = 0.005
    t = max(around - 0.1, 0.0)
    while t < around + 0.5:
        if _rms_db(samples, t, t + step) > threshold_db:
            return t
        t += step
    return float("nan")


def _tool_env(tool_set: str) -> dict[str, str]:
    """The environment of a narrate process using this tool set."""
    env = {k: v for k, v in os.environ.items() if k not in ("NARRATE_FFMPEG", "NARRATE_ESPEAK", "ESPEAK_DATA_PATH")}
    if tool_set == "system":
        env.update(NARRATE_FFMPEG="system", NARRATE_ESPEAK="system")
    return env


def _narrate(tool_set: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "narrate", *args], env=_tool_env(tool_set), capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module", params=["bundled", "system"])
def tool_set(request: pytest.FixtureRequest) -> str:
    """The wheels' tools, or the system's ffmpeg and espeak-ng (skipped when absent, failing under NARRATE_CI=1)."""
    if request.param == "system":
        require_tool("ffmpeg")
        require_tool("espeak-ng", ctypes.util.find_library)
    return request.param


@pytest.fixture(scope="module")
def built(tool_set: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"real-{tool_set}")
    scripts = write_show(root / "scripts", SHOW, {"001-real.md": SCRIPT})
    if tool_set == "bundled":
        report = build(scripts, BuildOptions(output=root / "audio", cache_dir=root / "cache", workers=2,
                                             today=dt.date(2026, 6, 1)))
        assert not report.failures
    else:  # espeak-ng is loaded once per process: the system one needs a process of its own
        result = _narrate(tool_set, "-v", "build", str(scripts), "-o", str(root / "audio"), "--cache-dir",
                          str(root / "cache"), "--workers", "2")
        assert result.returncode == 0, result.stderr[-3000:]
        ffmpeg = shutil.which("ffmpeg")
        assert re.search(rf"using ffmpeg \S+ \(system\) at {re.escape(ffmpeg)}", result.stderr), result.stderr
        assert re.search(r"using espeak-ng 1\.\d+\S* \(system\) at /\S+", result.stderr), result.stderr
        assert "espeakng_loader" not in result.stderr
    return root / "audio"


def test_published_output_passes_the_check(tool_set: str, built: Path) -> None:
    """`check --published`, measuring with the same tool set that built the show."""
    if tool_set == "bundled":
        report = check_published(built)
        assert not report.problems, report.problems
        return
    result = _narrate(tool_set, "check", "--published", str(built))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"episode 1: \S+, -1[5-7]\.\d LUFS", result.stdout), result.stdout


def test_shipped_show_builds_and_passes_the_check(tool_set: str, tmp_path: Path) -> None:
    """The shipped show, built and checked as a user would, with the wheels' tools and with the system's."""
    scripts = tmp_path / "scripts"
    shutil.copytree(ROOT / "scripts", scripts)
    out = tmp_path / "audio"
    result = _narrate(tool_set, "build", str(scripts), "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "-q")
    assert result.returncode == 0, result.stderr[-3000:]
    check = _narrate(tool_set, "check", "--published", str(out))
    assert check.returncode == 0, check.stdout + check.stderr
    episodes = re.findall(r"^episode \d+: .*$", check.stdout, re.M)
    print(f"shipped show, {tool_set} tools: " + "; ".join(episodes))
    assert len(episodes) == len(list((ROOT / "scripts").glob("*.md")))


def test_episode_tags(built: Path) -> None:
    tags = ID3(published_paths(built, "001-real")["mp3"])
    assert tags.version[:2] == (2, 3)
    assert str(tags["TIT2"]) == "A real episode: “quotes” & Dubček 🎙️"
    assert str(tags["TPE1"]) == "Test Author"
    assert str(tags["TALB"]) == "Integration Show: Husák & Dubček"
    assert str(tags["TRCK"]) == "1"
    assert str(tags["TCON"]) == "Podcast"
    assert str(tags.getall("TDRC")[0]).startswith("2026")
    assert tags.getall("COMM")[0].text[0] == "Integration test summary with <angle> & ampersand."
    assert tags.getall("APIC")[0].mime == "image/png" and len(tags.getall("APIC")[0].data) > 1000
    lyrics = tags.getall("USLT")[0].text
    assert "Esteemed Leonid Ilyich" in lyrics and "Husák replaced Dubček" in lyrics
    assert tags.getall("WXXX")[0].url == "https://example.org/source"


def test_chapters_read_back_with_mutagen_and_ffmpeg(built: Path) -> None:
    mp3 = published_paths(built, "001-real")["mp3"]
    tags = ID3(mp3)
    chaps = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [c.sub_frames["TIT2"].text[0] for c in chaps] == ["Introduction", "The letter", "After"]
    toc = tags.getall("CTOC")[0]
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    assert toc.child_element_ids == [c.element_id for c in chaps]
    meta = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(mp3), "-f", "ffmetadata", "-"],
                          capture_output=True, text=True, check=True).stdout
    starts = [int(s) for s in re.findall(r"\[CHAPTER\]\nTIMEBASE=1/1000\nSTART=(\d+)", meta)]
    titles = re.findall(r"\[CHAPTER\][^\[]*?title=(.*)", meta)
    # ffmpeg reports chapter times shifted by the MP3 encoder delay (about 25 ms): within 50 ms of the CHAP frames
    assert len(starts) == len(chaps)
    assert all(abs(a - b.start_time) <= 50 for a, b in zip(sorted(starts), chaps)), (starts, chaps)
    assert sorted(titles) == sorted(["Introduction", "The letter", "After"])
    assert chaps[0].start_time == 0
    for a, b in zip(chaps, chaps[1:]):
        assert a.end_time == b.start_time


def test_chapter_starts_where_its_first_segment_starts(built: Path) -> None:
    samples = _decode(published_paths(built, "001-real")["mp3"])
    chaps = sorted(ID3(published_paths(built, "001-real")["mp3"]).getall("CHAP"), key=lambda c: c.start_time)
    for chap in chaps[1:]:
        start = chap.start_time / 1000
        onset = _onset(samples, start)
        assert abs(onset - start) <= 0.05, f"chapter at {start:.3f}s, speech starts at {onset:.3f}s"
        assert _rms_db(samples, start - 0.5, start - 0.1) < -50, "a chapter pause precedes the chapter"


def test_loudness_and_true_peak(built: Path) -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    samples = _decode(published_paths(built, "001-real")["mp3"])
    integrated = pyloudnorm.Meter(RATE).integrated_loudness(samples)
    assert -17.0 <= integrated <= -15.0, integrated
    measured = measure_loudness(published_paths(built, "001-real")["mp3"], true_peak=True)
    assert -17.0 <= measured.integrated <= -15.0
    assert measured.true_peak <= -1.0, measured


def test_transcript_cues_start_where_speech_starts(built: Path) -> None:
    samples = _decode(published_paths(built, "001-real")["mp3"])
    cues = parse_webvtt((published_paths(built, "001-real")["vtt"]).read_text(encoding="utf-8"))
    assert len(cues) >= 5
    errors = []
    for start, _end, _text in cues:
        onset = _onset(samples, start)
        errors.append(abs(onset - start))
        assert _rms_db(samples, start - 0.08, start - 0.02) < -45, f"cue at {start:.3f}s starts inside a word"
    print(f"largest cue-start error: {max(errors) * 1000:.0f} ms over {len(cues)} cues")
    assert max(errors) <= 0.1


def test_record_times_match_the_chapters_file(built: Path) -> None:
    chapters = json.loads((published_paths(built, "001-real")["chapters"]).read_text())["chapters"]
    tags = sorted(ID3(published_paths(built, "001-real")["mp3"]).getall("CHAP"), key=lambda c: c.start_time)
    assert [round(c["startTime"] * 1000) for c in chapters] == [c.start_time for c in tags]


def test_hundred_consecutive_real_renders(tmp_path: Path) -> None:
    from narrate.cache import Cache, piece_key
    from narrate.engines import engine_targets
    from narrate.engines.pyttsx3_engine import Pyttsx3Engine
    from narrate.model import Location, VoiceSpec
    from narrate.plan import Piece
    from narrate.render import render_jobs

    voice = VoiceSpec("pyttsx3", "gmw/en-us", 175)
    words = "archive letter socialism party committee Prague Moscow leadership session notes".split()
    texts = [f"Sentence number {i} mentions the {words[i % 10]} and the {words[(i * 3) % 10]} again." for i in range(100)]
    version = Pyttsx3Engine.version()
    jobs = [Piece(piece_key(t, voice, version), t, t, voice, "narrator", Location("test", i))
            for i, t in enumerate(texts)]
    cache = Cache(tmp_path / "cache")
    failures = render_jobs(jobs, cache, engine_targets(), workers=2, timeout=60)
    assert failures == []
    durations = []
    for job in jobs:
        entry = cache.get(job.key)
        assert entry is not None, f"{job.location}: missing"
        durations.append(entry.seconds)
    # every render is complete: about 12 words at 175 wpm is ~4 s; a truncated file would be far shorter
    assert min(durations) > 2.0 and max(durations) < 8.0, (min(durations), max(durations))


def test_espeak_from_the_wheel_alone(tmp_path: Path) -> None:
    """With NARRATE_ESPEAK=bundled narrate ignores any system espeak-ng: pip alone is enough."""
    out = tmp_path / "line.wav"
    env = {**os.environ, "NARRATE_ESPEAK": "bundled"}
    env.pop("ESPEAK_DATA_PATH", None)
    code = ("from narrate.engines.pyttsx3_engine import prepare_espeak, Pyttsx3Engine; "
            "from narrate.model import VoiceSpec; from pathlib import Path; import sys; "
            "assert prepare_espeak() == 'espeakng-loader'; "
            f"Pyttsx3Engine().render('Dubček and Husák.', VoiceSpec('pyttsx3', 'gmw/en-us', 175), Path({str(out)!r}))")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert out.stat().st_size > 10000


def test_wheel_espeak_and_piper_share_a_process(tmp_path: Path) -> None:
    """Piper links its own espeak-ng; the wheel's copy, loaded for pyttsx3, must not interpose on it."""
    pytest.importorskip("piper")
    env = {**os.environ, "NARRATE_ESPEAK": "bundled"}
    env.pop("ESPEAK_DATA_PATH", None)
    code = (
        "from pathlib import Path; from narrate.model import VoiceSpec\n"
        "from narrate.engines.pyttsx3_engine import Pyttsx3Engine\n"
        "from narrate.engines.piper_engine import PiperEngine\n"
        f"out = Path({str(tmp_path)!r})\n"
        "Pyttsx3Engine().render('First espeak.', VoiceSpec('pyttsx3', 'gmw/en-us', 175), out / 'a.wav')\n"
        "piper = PiperEngine()\n"
        "piper.render('Then Piper.', VoiceSpec('piper', 'en_US-joe-medium'), out / 'b.wav')\n"
        "Pyttsx3Engine().render('Espeak again.', VoiceSpec('pyttsx3', 'gmw/en-us', 175), out / 'c.wav')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert all((tmp_path / name).stat().st_size > 10000 for name in ("a.wav", "b.wav", "c.wav"))
