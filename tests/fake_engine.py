"""A fake engine for pipeline tests: a tone whose length follows the words, and every call logged.

Special words in the text make it misbehave, for the engine-fault tests: HANG sleeps forever, CRASH
kills the worker process, SILENCE writes silence, NOTHING writes no file, SHORT writes a stub.
"""
from __future__ import annotations

import math
import os
import struct
import time
import wave
from pathlib import Path

from narrate.engines.base import Engine, VoiceInfo
from narrate.model import VoiceSpec

RATE = 16000
CALLS: list[tuple[str, str]] = []  # (voice, text) for in-process builds


class FakeEngine(Engine):
    """Renders a tone per piece; logs calls in CALLS and, for worker processes, in $NARRATE_FAKE_LOG."""

    name = "fake"

    @classmethod
    def version(cls) -> str:
        return "fake-1"

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("low", "Low voice", ("en",), "male"), VoiceInfo("high", "High voice", ("en",), "female")]

    def render(self, text: str, voice: VoiceSpec, out_path: Path) -> None:
        CALLS.append((voice.voice, text))
        log = os.environ.get("NARRATE_FAKE_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{voice.voice}\t{text}\n")
        if "HANG" in text:
            time.sleep(3600)
        if "CRASH" in text:
            os._exit(3)
        if "NOTHING" in text:
            return
        seconds = 0.3 * len(text.split()) * 175 / (voice.rate or 175)
        if "SHORT" in text:
            seconds = 0.01
        frequency = 220 if voice.voice == "low" else 440
        amplitude = 0 if "SILENCE" in text else 12000
        frames = int(seconds * RATE)
        data = b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * frequency * i / RATE)))
                        for i in range(frames))
        with open(out_path, "wb") as raw, wave.open(raw, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(data)
