"""ITU-R BS.1770 integrated loudness, measured in-process on the samples as an episode is assembled.

The meter is the one BS.1770-4 and EBU R128 define, as ffmpeg's ebur128 and libebur128 implement it:
K-weighting (a high shelf and the RLB high-pass, their biquad coefficients derived for the sample rate
as libebur128 does), the mean square over 400 ms blocks every 100 ms, an absolute gate at -70 LUFS and
a relative gate 10 LU under the mean of the blocks that pass it. Mono only: the channel weight is 1.

The K-weighting runs as a convolution with the filter's impulse response, through numpy's FFT (in single
precision: twice as fast, and a million times finer than the 0.01 dB a gain is rounded to), chunk by
chunk with the overlap carried over: no Python loop runs per sample, and memory stays at one chunk
whatever the episode's length. The response is cut after TAIL_SECONDS, which leaves out less than 1e-20
of its energy (the RLB high-pass, the slower of the two, is critically damped at 38 Hz: its envelope
falls by e every 4.2 ms), so the result is the recursive filter's. The squares are summed in double
precision, per 100 ms step; the gating works on those step sums.

Measuring here, on the samples being written anyway, replaces a whole-episode ffmpeg pass that cost
about as much as the encode itself.
"""
from __future__ import annotations

import math
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Below this (LUFS), a block is silence; also what silence, or audio shorter than one block, reads as.
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0  # LU under the mean loudness of the blocks above the absolute gate
TAIL_SECONDS = 0.1  # where the K-weighting's impulse response is cut
CHUNK = 1 << 18  # samples read or converted at a time


def _biquads(rate: int) -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
    """(b, a) of BS.1770's high shelf and RLB high-pass at `rate`, as libebur128 derives them."""
    f0, gain, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = ([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0],
             [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    high_pass = ([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return shelf, high_pass


@lru_cache(maxsize=8)
def k_weighting_response(rate: int) -> np.ndarray:
    """The K-weighting filter's impulse response at `rate`, cut after TAIL_SECONDS."""
    length = max(16, math.ceil(TAIL_SECONDS * rate))
    signal = [0.0] * length
    signal[0] = 1.0
    for b, a in _biquads(rate):
        out = [0.0] * length
        x1 = x2 = y1 = y2 = 0.0
        for n, x in enumerate(signal):
            y = b[0] * x + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
            out[n] = y
            x2, x1, y2, y1 = x1, x, y1, y
        signal = out
    return np.array(signal)


def fft_size(taps: int) -> int:
    """The FFT length for a filter of `taps`: the power of two of at least 8 x taps (fastest, measured)."""
    return 1 << (8 * taps - 1).bit_length()


@lru_cache(maxsize=32)
def _spectrum(rate: int, size: int) -> np.ndarray:
    return np.fft.rfft(k_weighting_response(rate).astype(np.float32), size)


class LoudnessMeter:
    """Feed it an episode's mono samples in order (`add`, `add_silence`); `integrated()` is its loudness.

    What it keeps between calls: the filter's overlap (TAIL_SECONDS of samples), the unfinished 100 ms
    step, and one float per finished step (a 3-hour episode: 108,000 of them).
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._response = k_weighting_response(rate)
        self._tail = np.zeros(len(self._response) - 1, dtype=np.float32)
        self._size = fft_size(len(self._response))
        self._chunk = self._size - len(self._response) + 1  # samples per FFT
        self._pending: list[np.ndarray] = []  # samples waiting for a whole chunk
        self._pending_frames = 0
        self._step = max(1, rate // 10)
        self._partial = 0.0  # sum of squares in the unfinished step
        self._partial_frames = 0
        self._steps: list[float] = []  # sum of squares of the K-weighted signal in each 100 ms step

    def add(self, samples: np.ndarray | bytes) -> None:
        """Append samples: floats in [-1, 1], or 16-bit PCM (an int16 array or its little-endian bytes)."""
        if isinstance(samples, (bytes, bytearray, memoryview)):
            samples = np.frombuffer(samples, dtype="<i2")
        for start in range(0, len(samples), CHUNK):
            part = samples[start:start + CHUNK]
            if part.dtype.kind in "iu":
                part = part.astype(np.float32) * np.float32(1 / 32768)
            self._queue(part.astype(np.float32, copy=False))

    def add_silence(self, frames: int) -> None:
        """Append `frames` samples of digital silence."""
        while frames > 0:
            self._queue(np.zeros(min(frames, CHUNK), dtype=np.float32))
            frames -= CHUNK

    def _queue(self, samples: np.ndarray) -> None:
        """Filter whole FFT chunks as they fill up: the result does not depend on how the samples came."""
        self._pending.append(samples)
        self._pending_frames += len(samples)
        if self._pending_frames < self._chunk:
            return
        joined = np.concatenate(self._pending)
        whole = len(joined) - len(joined) % self._chunk
        for start in range(0, whole, self._chunk):
            self._filter(joined[start:start + self._chunk])
        self._pending = [joined[whole:]]
        self._pending_frames = len(joined) - whole

    def _filter(self, x: np.ndarray) -> None:
        if not len(x):
            return
        taps = len(self._response)
        size = min(self._size, 1 << (len(x) + taps - 2).bit_length())
        full = np.fft.irfft(np.fft.rfft(x, size) * _spectrum(self.rate, size), size)[: len(x) + taps - 1]
        full[: taps - 1] += self._tail
        self._tail = full[len(x):].copy()
        self._squares(np.square(full[: len(x)], dtype=np.float64))

    def _squares(self, squares: np.ndarray) -> None:
        step = self._step
        at = 0
        if self._partial_frames:
            take = min(step - self._partial_frames, len(squares))
            self._partial += float(squares[:take].sum())
            self._partial_frames += take
            at = take
            if self._partial_frames < step:
                return
            self._steps.append(self._partial)
            self._partial, self._partial_frames = 0.0, 0
        whole = (len(squares) - at) // step
        if whole:
            self._steps.extend(squares[at:at + whole * step].reshape(whole, step).sum(axis=1).tolist())
            at += whole * step
        if at < len(squares):
            self._partial = float(squares[at:].sum())
            self._partial_frames = len(squares) - at

    def integrated(self) -> float:
        """Integrated loudness (LUFS) of what was added: gated 400 ms blocks; ABSOLUTE_GATE for silence.

        Filters what is still waiting first: ask once all the samples are in.
        """
        if self._pending_frames:
            self._filter(np.concatenate(self._pending))
            self._pending, self._pending_frames = [], 0
        return gated_loudness(np.asarray(self._steps), 4 * self._step)


def gated_loudness(steps: np.ndarray, block_frames: int) -> float:
    """BS.1770 gating over the 400 ms blocks that four consecutive 100 ms step sums make up."""
    if len(steps) < 4:
        return ABSOLUTE_GATE
    blocks = (steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]) / block_frames
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(blocks)
    loud = blocks[levels >= ABSOLUTE_GATE]
    if not len(loud):
        return ABSOLUTE_GATE
    threshold = -0.691 + 10 * math.log10(loud.mean()) + RELATIVE_GATE
    kept = blocks[(levels >= ABSOLUTE_GATE) & (levels > threshold)]
    return -0.691 + 10 * math.log10(kept.mean())


def wav_loudness(path: Path) -> float:
    """Integrated loudness (LUFS) of a mono 16-bit WAV, read a chunk at a time."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path.name}: the in-process meter reads mono 16-bit WAV only")
        meter = LoudnessMeter(w.getframerate())
        while True:
            data = w.readframes(CHUNK)
            if not data:
                break
            meter.add(data)
    return meter.integrated()
