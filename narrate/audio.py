"""Stages: assemble an episode's audio with pydub, measure its loudness, and encode it with ffmpeg.

Assembly streams each piece's raw samples into one WAV file in order (no repeated `a + b`, whose
copies make joining quadratic), so memory stays at one piece whatever the episode's length.
Loudness is measured over the whole episode with ffmpeg's EBU R128 (ITU-R BS.1770) scanner; the
encode applies the one gain that reaches the target and a limiter that keeps the true peak under it.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import wave
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

with warnings.catch_warnings():
    # pydub looks for ffmpeg on PATH at import; narrate finds one itself (find_ffmpeg) before any use.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment

from narrate.cache import Cache
from narrate.errors import NarrateError, RenderError, UserError
from narrate.fsutil import temp_path
from narrate.model import AudioSettings
from narrate.plan import AudioFile, EpisodePlan, Gap, Piece

log = logging.getLogger(__name__)

#: Head-room kept under the true-peak target for the MP3 encoder's own overshoot.
LIMITER_MARGIN_DB = 1.0
GAIN_STEPS = (0.0, 1.0, 2.0, 3.5)  # dB above the linear gain: the limiter takes back up to a few LU
PROBE_STEP = 1  # the candidate gain at which the encoder's own loss is measured
EXCERPTS = 8  # slices of the episode on which the limiter's and encoder's loudness loss is measured
EXCERPT_SECONDS = 8.0


@lru_cache(maxsize=1)
def find_ffmpeg() -> str:
    """The imageio-ffmpeg wheel's binary; NARRATE_FFMPEG=system takes the one on PATH, or a path to one."""
    choice = os.environ.get("NARRATE_FFMPEG", "").strip()
    path = None
    if choice == "system":
        path = shutil.which("ffmpeg")
        if path is None:
            raise UserError("NARRATE_FFMPEG=system but there is no ffmpeg on PATH")
    elif choice and choice != "bundled":
        path = shutil.which(choice)
        if path is None:
            raise UserError(f"NARRATE_FFMPEG={choice}: no such executable")
    if path is None:
        try:
            import imageio_ffmpeg

            path = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError):
            raise UserError("ffmpeg not found: pip install imageio-ffmpeg (or install ffmpeg)") from None
    AudioSegment.converter = path
    return path


def run_ffmpeg(args: list[str], what: str) -> str:
    """Run ffmpeg and return its stderr; failures become NarrateError naming `what`."""
    cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise NarrateError(f"ffmpeg failed while {what}: {tail[0]}")
    return result.stderr


@dataclass(frozen=True)
class Placement:
    """Where one timeline item (piece or intro/outro file) sits in the assembled audio, in seconds."""

    index: int
    start: float
    end: float


@dataclass(frozen=True)
class AssembledAudio:
    """An episode's audio before encoding: a mono WAV and where every piece landed."""

    wav: Path
    rate: int
    frames: int
    placements: tuple[Placement, ...]

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def decode_file(path: Path, rate: int, folder: Path) -> AudioSegment:
    """Any audio file ffmpeg reads, as mono 16-bit at `rate`."""
    if path.suffix.lower() == ".wav":
        try:
            return AudioSegment.from_wav(path).set_channels(1).set_sample_width(2).set_frame_rate(rate)
        except Exception:  # noqa: BLE001 - compressed WAV variants fall through to ffmpeg
            pass
    tmp = temp_path(folder, suffix=".wav")
    try:
        run_ffmpeg(["-y", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-c:a", "pcm_s16le",
                    str(tmp)], f"decoding {path.name}")
        return AudioSegment.from_wav(tmp)
    except NarrateError as exc:
        raise UserError(f"{path}: cannot read this audio file ({exc.message})") from None
    finally:
        tmp.unlink(missing_ok=True)


def assemble(plan: EpisodePlan, cache: Cache, folder: Path) -> AssembledAudio:
    """Write the episode's pieces and gaps, in order, into one WAV in `folder`; record each placement."""
    find_ffmpeg()
    verified = {}
    for piece in plan.pieces:
        cached = verified.get(piece.key) or cache.get(piece.key)
        if cached is None:
            raise RenderError(f"{piece.location}: rendered audio for this segment is missing from the cache")
        verified[piece.key] = cached
    # Work at the engines' most common rate; ffmpeg resamples once, with its better resampler, at encode.
    rates = Counter(c.rate for c in verified.values())
    rate = rates.most_common(1)[0][0] if rates else 22050
    out = temp_path(folder, suffix=".wav")
    placements: list[Placement] = []
    written = 0
    silence_block = b"\x00\x00" * rate
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for index, item in enumerate(plan.timeline):
            if isinstance(item, Gap):
                frames = round(item.seconds * rate)
                for start in range(0, frames, rate):
                    w.writeframesraw(silence_block[: 2 * min(rate, frames - start)])
                written += frames
                continue
            if isinstance(item, Piece):
                segment = AudioSegment.from_wav(verified[item.key].path)
                if segment.frame_rate != rate:
                    segment = segment.set_frame_rate(rate)
            else:
                assert isinstance(item, AudioFile)
                segment = decode_file(item.path, rate, folder)
            data = segment.raw_data
            frames = len(data) // 2
            w.writeframesraw(data)
            placements.append(Placement(index, written / rate, (written + frames) / rate))
            written += frames
    return AssembledAudio(out, rate, written, tuple(placements))


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurements of a file."""

    integrated: float
    true_peak: float
    lra: float


_SUMMARY = re.compile(r"Summary:(?P<body>.*)", re.DOTALL)


def measure_loudness(path: Path, true_peak: bool = True, filters: str = "",
                     input_args: list[str] | None = None) -> Loudness:
    """Integrated loudness (LUFS), true peak (dBTP) and loudness range (LU) via ffmpeg's ebur128.

    `filters` (an ffmpeg filter chain) is applied before measuring, to measure a processed version.
    """
    meter = f"ebur128=peak={'true' if true_peak else 'none'}"
    args = ["-v", "info", "-nostats", *(input_args or []), "-i", str(path),
            "-af", f"{filters},{meter}" if filters else meter,
            "-f", "null", "-"]
    stderr = run_ffmpeg(args, f"measuring the loudness of {path.name}")
    match = _SUMMARY.search(stderr)
    if not match:
        raise NarrateError(f"ffmpeg gave no loudness summary for {path.name}")
    body = match.group("body")

    def value(label: str) -> float:
        found = re.search(rf"{label}:\s+(-?[\d.]+|-inf)", body)
        if not found:
            return float("-inf")
        return float(found.group(1))

    return Loudness(value("I"), value("Peak") if true_peak else float("nan"), value("LRA"))


def _limiter(audio: AudioSettings) -> str:
    limit = 10 ** ((audio.true_peak - LIMITER_MARGIN_DB) / 20)
    return f"alimiter=limit={limit:.4f}:attack=1:release=60:level=false:latency=true"


def _chain(gain: float, audio: AudioSettings) -> list[str]:
    """The encode's filter chain; loudness is measured through the very same chain."""
    resample = f"aresample={audio.sample_rate}" + (":resampler=soxr" if _has_soxr() else "")
    return [f"volume={gain:.2f}dB", resample, _limiter(audio)]


def loudness_gain(wav: Path, audio: AudioSettings) -> float:
    """The gain (dB) that brings the whole episode, as encoded, to the loudness target.

    The integrated loudness is measured once over the whole assembly. The limiter that keeps the true
    peak down, and the MP3 encoder, each take a little loudness away, more the louder the input; that
    loss is measured on excerpts spread over the episode (speech in the same voices has the same peaks
    throughout): through the encode chain at several candidate gains in one ffmpeg run, and through
    the encoder itself at one of them. The three measurements run side by side; whole-episode passes
    would each cost as much as the encode itself.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        whole = pool.submit(measure_loudness, wav, False)
        excerpt = _excerpt(wav)
        try:
            excerpt_raw = measure_loudness(excerpt, true_peak=False).integrated
            if excerpt_raw > -70:
                gains = [audio.loudness - excerpt_raw + step for step in GAIN_STEPS]
                encoded = pool.submit(_encoded_loudness, excerpt, gains[PROBE_STEP], audio)
                reached = _loudness_at_gains(excerpt, gains, audio)
                # What the MP3 encoder takes away, at a gain close to the one that will be used.
                after = encoded.result()
                codec = reached[PROBE_STEP] - after if -70 < after else 0.0
                codec = codec if abs(codec) < 3 else 0.0
        finally:
            if excerpt != wav:
                excerpt.unlink(missing_ok=True)
        raw = whole.result().integrated
    if raw <= -70:
        return 0.0  # silence: nothing to normalise
    if excerpt_raw <= -70:
        return audio.loudness - raw  # the excerpts are silent: nothing to learn the limiter's effect from
    # Loudness of the whole episode after the limiter, predicted at each candidate gain.
    predicted = [raw + (level - excerpt_raw) for level in reached]
    return _interpolate(gains, predicted, audio.loudness) + codec


def _encoded_loudness(wav: Path, gain: float, audio: AudioSettings) -> float:
    """Integrated loudness of `wav` after the encode chain at `gain` and the MP3 encoder."""
    probe = temp_path(wav.parent, suffix=".mp3")
    try:
        run_ffmpeg(["-y", "-v", "error", "-i", str(wav), "-af", ",".join(_chain(gain, audio)),
                    "-ac", str(audio.channels), "-c:a", "libmp3lame", "-b:a", audio.bitrate, "-f", "mp3", str(probe)],
                   "probing the encoder")
        return measure_loudness(probe, true_peak=False).integrated
    finally:
        probe.unlink(missing_ok=True)


def _loudness_at_gains(wav: Path, gains: list[float], audio: AudioSettings) -> list[float]:
    """Integrated loudness of `wav` through the encode chain at each gain, in a single ffmpeg run."""
    labels = [f"g{i}" for i in range(len(gains))]
    graph = [f"[0:a]asplit={len(gains)}" + "".join(f"[{label}]" for label in labels)]
    graph += [f"[{label}]{','.join(_chain(gain, audio))},ebur128=peak=none" + (",anullsink" if i else "[out]")
              for i, (label, gain) in enumerate(zip(labels, gains))]
    stderr = run_ffmpeg(["-v", "info", "-nostats", "-i", str(wav), "-filter_complex", ";".join(graph),
                         "-map", "[out]", "-f", "null", "-"], f"measuring the loudness of {wav.name}")
    # ffmpeg prints the summaries in no fixed order; each names its filter instance, numbered in graph order.
    found = re.findall(r"Parsed_ebur128_(\d+) @ [^\]]*\] Summary:\s+Integrated loudness:\s+I:\s+(-?[\d.]+|-inf)",
                       stderr)
    levels = [float(level) for _, level in sorted(found, key=lambda item: int(item[0]))]
    if len(levels) != len(gains):
        raise NarrateError(f"ffmpeg gave {len(levels)} loudness summaries for {len(gains)} gains")
    return levels


def _interpolate(xs: list[float], ys: list[float], target: float) -> float:
    """The x at which the increasing, piecewise-linear ys reach `target` (extrapolating at the ends)."""
    pairs = list(zip(xs, ys))
    for (x0, y0), (x1, y1) in zip(pairs, pairs[1:]):
        if target <= y1 or (x1, y1) == pairs[-1]:
            slope = (y1 - y0) / (x1 - x0) if x1 != x0 else 1.0
            return x0 + (target - y0) / max(slope, 0.1)
    return xs[-1]


def _excerpt(wav: Path) -> Path:
    """A WAV of EXCERPTS slices of EXCERPT_SECONDS spread evenly over `wav` (`wav` itself when short)."""
    with wave.open(str(wav), "rb") as source:
        rate, frames = source.getframerate(), source.getnframes()
        piece = int(EXCERPT_SECONDS * rate)
        if frames <= 2 * EXCERPTS * piece:
            return wav
        out = temp_path(wav.parent, suffix=".wav")
        with wave.open(str(out), "wb") as target:
            target.setparams(source.getparams())
            step = (frames - piece) // (EXCERPTS - 1)
            for i in range(EXCERPTS):
                source.setpos(i * step)
                target.writeframes(source.readframes(piece))
    return out


def encode_mp3(assembled: AssembledAudio, out: Path, audio: AudioSettings) -> float:
    """Encode to MP3 with one gain to the loudness target and a true-peak limiter; returns the gain in dB."""
    gain = loudness_gain(assembled.wav, audio)
    run_ffmpeg(
        ["-y", "-v", "error", "-i", str(assembled.wav), "-af", ",".join(_chain(gain, audio)), "-ac", str(audio.channels),
         "-c:a", "libmp3lame", "-b:a", audio.bitrate, "-id3v2_version", "0", "-write_id3v1", "0",
         "-map_metadata", "-1", "-f", "mp3", str(out)],
        f"encoding {out.name}",
    )
    return gain


@lru_cache(maxsize=1)
def _has_soxr() -> bool:
    result = subprocess.run([find_ffmpeg(), "-hide_banner", "-h", "filter=aresample"], capture_output=True, text=True)
    return "soxr" in result.stdout


def audio_duration(path: Path) -> float:
    """Duration of any audio file in seconds, as ffmpeg decodes it."""
    stderr = run_ffmpeg(["-v", "info", "-nostats", "-i", str(path), "-f", "null", "-"], f"reading {path.name}")
    times = re.findall(r"time=(\d+):(\d+):([\d.]+)", stderr)
    if not times:
        raise NarrateError(f"ffmpeg could not read {path.name}")
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)
