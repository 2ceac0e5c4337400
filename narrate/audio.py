"""Stages: assemble an episode's audio with pydub, measure its loudness, and encode it with ffmpeg.

Assembly streams each piece's raw samples into one WAV file in order (no repeated `a + b`, whose
copies make joining quadratic), so memory stays at one piece whatever the episode's length.
Loudness (ITU-R BS.1770) is measured on that file in-process (narrate.loudness), on a thread while
ffmpeg probes the limiter on excerpts, so no whole-episode pass precedes the encode; the encode applies
the one gain that reaches the target and a limiter that keeps the true peak under it.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import math
import re
import subprocess
import threading
import wave
import warnings
from collections import Counter
from collections.abc import Iterable
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
from narrate.limits import give_way
from narrate.loudness import ABSOLUTE_GATE, wav_loudness
from narrate.model import AudioSettings
from narrate.plan import AudioFile, EpisodePlan, Gap, Piece
from narrate.tools import ffmpeg_tool

log = logging.getLogger(__name__)

#: Bump when assembly or measurement changes how the same plan sounds in a way audio_key does not see.
AUDIO_FORMAT = 2  # 2: the episode's loudness measured in-process (narrate.loudness), not by an ffmpeg pass
#: The in-process meter (narrate.loudness); part of the audio key.
METER = "bs1770-fft-float32-1"
#: Head-room kept under the true-peak target for the MP3 encoder's own overshoot.
LIMITER_MARGIN_DB = 1.0
GAIN_STEPS = (0.0, 1.0, 2.0, 3.5)  # dB above the linear gain: the limiter takes back up to a few LU
PROBE_STEP = 1  # the candidate gain at which the encoder's own loss is measured
# Slices of the episode on which the limiter's and encoder's loudness loss is measured. Measured on the
# shipped show, 4 slices land as close to the target as 8 (within 0.05 LU) in half the probe's time.
EXCERPTS = 4
EXCERPT_SECONDS = 8.0
#: No ID3 or metadata from ffmpeg in the episode's MP3: narrate.tags writes every tag.
_BARE_MP3 = ("-id3v2_version", "0", "-write_id3v1", "0", "-map_metadata", "-1")


def find_ffmpeg() -> str:
    """The ffmpeg chosen by NARRATE_FFMPEG (the imageio-ffmpeg wheel's by default; see narrate.tools)."""
    path = ffmpeg_tool().path
    AudioSegment.converter = path
    return path


#: Set (narrate.build) while encoding an episode off the build's critical path: its ffmpeg runs yield the
#: CPU to those of the longest episode, whose encode ends the build.
BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("narrate_background_encode", default=False)


def _popen(cmd: list[str], **kwargs: object) -> subprocess.Popen:
    """Start ffmpeg, at a lower priority when BACKGROUND is set."""
    proc = subprocess.Popen(cmd, **kwargs)  # type: ignore[call-overload]
    if BACKGROUND.get():
        give_way(proc.pid)
    return proc


def _ffmpeg(args: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", *args]
    with _popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", cwd=cwd) as proc:
        stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        raise NarrateError(f"ffmpeg failed while {what}: {tail[0]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_ffmpeg(args: list[str], what: str) -> str:
    """Run ffmpeg and return its stderr; failures become NarrateError naming `what`."""
    return _ffmpeg(args, what).stderr


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
        raise UserError(f"{path}: cannot read this audio file ({exc.message})", located=True) from None
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
    with open(out, "wb") as raw, wave.open(raw, "wb") as w:
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


#: Silence after the end: exactly one more of the meter's 100 ms steps, which takes in the final samples
#: (their true peak) that the unpadded meter would leave in a partial step.
_TAIL = "apad=pad_dur=0.1"
_FRAME = re.compile(r"^frame:\s*(\d+)\s+pts:\s*(-?\d+)")
_PREFIX = "lavfi.r128."
#: Readings not needed, dropped before printing: fewer lines to write and read (a 30-minute file has 18,000 frames).
_UNUSED = ("M", "S", "LRA.low", "LRA.high")


def _meter(true_peak: bool, out: str) -> str:
    """ebur128 writing its readings as per-frame metadata, printed by ametadata to `out` (a file name or -)."""
    drop = "".join(f",ametadata=mode=delete:key={_PREFIX}{key}" for key in _UNUSED)
    return f"{_TAIL},ebur128=metadata=1{':peak=true' if true_peak else ''}{drop},ametadata=mode=print:file={out}"


def parse_r128_metadata(text: str | Iterable[str], true_peak: bool = True, name: str = "the audio") -> Loudness:
    """Loudness from the metadata of `_meter` (ebur128 after a 100 ms pad) as ametadata prints it.

    ebur128 with metadata=1 passes one frame per 100 ms step, each carrying its running readings. The
    integrated loudness and loudness range are those of the last step before the pad (the frame with the
    second largest pts), which are exactly what ebur128's own summary reports for the unpadded audio;
    the true peak is the largest `true_peaks_chN` (or `true_peak`, which ffmpeg 5 and later add) of any
    frame and channel, pad step included, in dBTP. Lines are read as key=value records grouped by their
    frame's pts: repeated or reordered lines and frames, and keys another version adds, change nothing.
    Audio shorter than the meter's 400 ms window reads as silence (-70 LUFS, ebur128's floor).
    `text` may be the lines as they come (ffmpeg's stdout): only the latest frames are kept.
    """
    frames: dict[int, dict[str, float]] = {}
    current: dict[str, float] | None = None
    peak = 0.0
    for raw in text.splitlines() if isinstance(text, str) else text:
        line = raw.strip()
        frame = _FRAME.match(line)
        if frame:
            current = frames.setdefault(int(frame.group(2)), {})
            if len(frames) > 3:  # only the two largest pts matter; a 3-hour episode has 108,000 frames
                del frames[min(frames)]
            continue
        if current is None or not line.startswith(_PREFIX):
            continue
        key, _, value = line[len(_PREFIX):].partition("=")
        is_peak = key.startswith("true_peak")
        if not (is_peak or key in ("I", "LRA")):
            continue
        try:
            number = float(value)
        except ValueError:
            raise NarrateError(f"ffmpeg printed an unreadable loudness value for {name}: {line}") from None
        if is_peak:
            peak = max(peak, number)
        else:
            current[key] = number
    tp = (20 * math.log10(peak) if peak > 0 else float("-inf")) if true_peak else float("nan")
    steps = [frames[pts] for pts in sorted(frames)][:-1]  # the last step is the pad's
    readings = next((step for step in reversed(steps) if "I" in step), None)
    if readings is None:
        if any(step for step in frames.values()):
            raise NarrateError(f"ffmpeg gave no integrated loudness for {name}")
        return Loudness(-70.0, tp, 0.0)
    return Loudness(readings["I"], tp, readings.get("LRA", 0.0))


def measure_loudness(path: Path, true_peak: bool = True, filters: str = "",
                     input_args: list[str] | None = None) -> Loudness:
    """Integrated loudness (LUFS), true peak (dBTP) and loudness range (LU) via ffmpeg's ebur128.

    `filters` (an ffmpeg filter chain) is applied before measuring, to measure a processed version.
    The meter's readings come as metadata on ffmpeg's stdout (no file is written, so a read-only folder
    can be checked); no log text is read.
    """
    meter = _meter(true_peak, "-")
    args = ["-v", "error", "-nostats", *(input_args or []), "-i", str(path),
            "-af", f"{filters},{meter}" if filters else meter, "-f", "null", "-"]
    what = f"measuring the loudness of {path.name}"
    cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", *args]
    # Read as it comes: a long episode prints tens of megabytes of metadata. stderr is drained alongside.
    with _popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace") as proc:
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
        drain.start()
        try:
            measured = parse_r128_metadata(proc.stdout, true_peak, path.name)
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.stdout.read()  # whatever is left, so ffmpeg can finish
            proc.wait()
            drain.join()
    if proc.returncode != 0:
        tail = "".join(errors).strip().splitlines()[-1:] or ["no output"]
        raise NarrateError(f"ffmpeg failed while {what}: {tail[0]}")
    return measured


def _limiter(audio: AudioSettings) -> str:
    limit = 10 ** ((audio.true_peak - LIMITER_MARGIN_DB) / 20)
    return f"alimiter=limit={limit:.4f}:attack=1:release=60:level=false:latency=true"


def _encoder(audio: AudioSettings) -> list[str]:
    """The MP3 encoder's arguments, the same for the episode and for the probe of its loudness loss."""
    return ["-ac", str(audio.channels), "-c:a", "libmp3lame", "-b:a", audio.bitrate]


def _chain(gain: float, audio: AudioSettings) -> list[str]:
    """The encode's filter chain; loudness is measured through the very same chain."""
    resample = f"aresample={audio.sample_rate}" + (":resampler=soxr" if _has_soxr() else "")
    return [f"volume={gain:.2f}dB", resample, _limiter(audio)]


def loudness_gain(wav: Path, audio: AudioSettings) -> float:
    """The gain (dB) that brings the whole episode, as encoded, to the loudness target.

    The whole episode's integrated loudness is measured in-process (narrate.loudness), on a thread while
    ffmpeg runs the probes. The limiter that keeps the true peak down, and the MP3 encoder, each take a
    little loudness away, more the louder the input; that loss is measured on excerpts spread over the
    episode (speech in the same voices has the same peaks throughout): through the encode chain at several
    candidate gains in one ffmpeg run, which also encodes one of them to MP3, measured after it. The
    excerpts' own loudness is measured by the same in-process meter as the whole's, so whatever separates
    it from ffmpeg's meter cancels out of the prediction.
    """
    excerpt = _excerpt(wav)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            whole = pool.submit(wav_loudness, wav) if excerpt != wav else None
            excerpt_raw = wav_loudness(excerpt)
            if excerpt_raw <= ABSOLUTE_GATE:
                # The excerpts are silent: nothing to learn the limiter's effect from.
                raw = whole.result() if whole else excerpt_raw
                return 0.0 if raw <= ABSOLUTE_GATE else audio.loudness - raw  # silence: nothing to normalise
            gains = [audio.loudness - excerpt_raw + step for step in GAIN_STEPS]
            # What the MP3 encoder takes away, at a gain close to the one that will be used: the same run
            # encodes that gain's chain, measured afterwards.
            reached, after = _loudness_at_gains(excerpt, gains, audio, encode=PROBE_STEP)
            raw = whole.result() if whole else excerpt_raw
    finally:
        if excerpt != wav:
            excerpt.unlink(missing_ok=True)
    codec = reached[PROBE_STEP] - after if -70 < after else 0.0
    codec = codec if abs(codec) < 3 else 0.0
    # Loudness of the whole episode after the limiter, predicted at each candidate gain.
    predicted = [raw + (level - excerpt_raw) for level in reached]
    return _interpolate(gains, predicted, audio.loudness) + codec


def _loudness_at_gains(wav: Path, gains: list[float], audio: AudioSettings,
                       encode: int | None = None) -> tuple[list[float], float | None]:
    """Integrated loudness of `wav` through the encode chain at each gain, in a single ffmpeg run; with
    `encode`, the index of one gain, also that chain's output encoded by the episode's MP3 encoder (its
    loudness, measured after the run; else None).

    Each chain's meter writes its metadata to its own temporary file beside `wav` (named relative to
    ffmpeg's working folder there, so no path needs escaping inside the filter graph).
    """
    folder = wav.parent
    outputs = [temp_path(folder, suffix=".r128") for _ in gains]
    probe = temp_path(folder, suffix=".mp3") if encode is not None else None
    try:
        labels = [f"g{i}" for i in range(len(gains))]
        graph = [f"[0:a]asplit={len(gains)}" + "".join(f"[{label}]" for label in labels)]
        for i, (label, gain, out) in enumerate(zip(labels, gains, outputs)):
            chain = f"[{label}]{','.join(_chain(gain, audio))}"
            if i == encode:
                chain += f",asplit=2[enc][m{i}];[m{i}]"
            else:
                chain += ","
            graph.append(chain + _meter(False, out.name) + (",anullsink" if i else "[out]"))
        args = ["-v", "error", "-nostats", "-i", str(wav.resolve()), "-filter_complex", ";".join(graph),
                "-map", "[out]", "-f", "null", "-"]
        if probe is not None:
            args += ["-map", "[enc]", *_encoder(audio), "-y", "-f", "mp3", probe.name]
        _ffmpeg(args, f"measuring the loudness of {wav.name}", cwd=folder)
        levels = []
        for out in outputs:
            with open(out, encoding="utf-8", errors="replace") as lines:
                levels.append(parse_r128_metadata(lines, False, wav.name).integrated)
        encoded = measure_loudness(probe, true_peak=False).integrated if probe is not None else None
        return levels, encoded
    finally:
        for out in outputs:
            out.unlink(missing_ok=True)
        if probe is not None:
            probe.unlink(missing_ok=True)


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
        with open(out, "wb") as raw, wave.open(raw, "wb") as target:
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
        ["-y", "-v", "error", "-i", str(assembled.wav), "-af", ",".join(_chain(gain, audio)), *_encoder(audio),
         *_BARE_MP3, "-f", "mp3", str(out)],
        f"encoding {out.name}",
    )
    return gain


def audio_key(plan: EpisodePlan, audio: AudioSettings) -> str:
    """Fingerprint of everything that shapes the episode's encoded audio: a new key means assemble and encode again.

    Derived from what assemble and encode_mp3 use: the plan's pieces, gaps and files, the encode's filter
    chain (as built for a gain of 0 dB), the encoder's arguments, the loudness search's constants and
    meters (ffmpeg's for the excerpts, narrate.loudness for the whole), and the ffmpeg that runs them (another one may resample, limit and encode differently).
    """
    material = {
        "format": AUDIO_FORMAT,
        "timeline": [
            item.key if isinstance(item, Piece) else item.sha256 if isinstance(item, AudioFile) else item.seconds
            for item in plan.timeline
        ],
        "chapters": list(plan.chapter_starts),
        "audio": [audio.sample_rate, audio.channels, audio.bitrate, audio.loudness, audio.true_peak],
        "chain": _chain(0.0, audio),
        "encoder": [*_encoder(audio), *_BARE_MP3],
        "limiter_margin": LIMITER_MARGIN_DB,
        "loudness_search": [GAIN_STEPS, PROBE_STEP, EXCERPTS, EXCERPT_SECONDS, _meter(True, "-"), METER],
        "ffmpeg": ffmpeg_tool().version,
    }
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def _has_soxr() -> bool:
    """Whether this ffmpeg has the SoX resampler: a trial resample (its exit status), not its help text."""
    return _soxr_in(find_ffmpeg())


@lru_cache(maxsize=None)
def _soxr_in(ffmpeg: str) -> bool:
    result = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "quiet", "-f", "lavfi", "-i",
                             "anullsrc=r=22050:cl=mono", "-t", "0.05", "-af", "aresample=44100:resampler=soxr",
                             "-f", "null", "-"], capture_output=True)
    return result.returncode == 0


def audio_duration(path: Path) -> float:
    """Duration of any audio file in seconds, as ffmpeg decodes it (its `-progress` report's out_time_us)."""
    result = _ffmpeg(["-v", "error", "-nostats", "-i", str(path), "-progress", "pipe:1", "-f", "null", "-"],
                     f"reading {path.name}")
    times = [int(value) for key, _, value in (line.strip().partition("=") for line in result.stdout.splitlines())
             if key == "out_time_us" and value.lstrip("-").isdigit()]
    if not times:
        raise NarrateError(f"ffmpeg could not read {path.name}")
    return max(times) / 1e6
