"""The default engine: pyttsx3 (espeak-ng on Linux, SAPI5 on Windows, NSSpeechSynthesizer on macOS).

On Linux the espeak-ng library comes from the system when present, else from the `espeakng-loader`
wheel. pyttsx3 2.99 can return from `runAndWait()` before its espeak callback has written the file,
so every render waits for the `finished-utterance` event and then checks the file itself.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import logging
import os
import sys
import threading
import time
import wave
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from narrate.engines.base import Engine, EngineError, VoiceInfo
from narrate.errors import UserError
from narrate.model import VoiceSpec

log = logging.getLogger(__name__)
_lock = threading.Lock()
ATTEMPTS = 3
ESPEAK_RATE = 175  # espeak-ng's own default words per minute, for a voice without a rate
ESPEAK_PITCH = 50  # espeak-ng's own default pitch (0-100)
_espeak_source: str | None = None


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def prepare_espeak() -> str:
    """Make libespeak-ng loadable by pyttsx3: the espeakng-loader wheel's, or the system's with NARRATE_ESPEAK=system."""
    global _espeak_source  # noqa: PLW0603 - once per process, like espeak itself
    if _espeak_source is not None or sys.platform in ("win32", "darwin"):
        return _espeak_source or "platform"
    if os.environ.get("NARRATE_ESPEAK") == "system":
        if not ctypes.util.find_library("espeak-ng"):
            raise UserError("NARRATE_ESPEAK=system but no system espeak-ng library was found "
                            "(apt-get install espeak-ng, or unset NARRATE_ESPEAK to use the bundled one)")
        _espeak_source = "system"
        return _espeak_source
    try:
        import espeakng_loader
    except ImportError:
        raise UserError("espeak-ng is not installed: pip install espeakng-loader "
                        "(or install your system's espeak-ng package)") from None
    os.environ.setdefault("ESPEAK_DATA_PATH", espeakng_loader.get_data_path())
    library = Path(espeakng_loader.get_library_path())
    versioned = library.with_name(library.name + ".1")
    # pyttsx3 dlopens "libespeak-ng.so.1" by soname; loading the wheel's copy first makes that resolve to it.
    # RTLD_LOCAL: its symbols must not interpose on another espeak-ng in the process (piper links its own).
    ctypes.CDLL(str(versioned if versioned.exists() else library), mode=ctypes.RTLD_LOCAL)
    _espeak_source = "espeakng-loader"
    return _espeak_source


class Pyttsx3Engine(Engine):
    """pyttsx3 behind narrate's engine interface."""

    name = "pyttsx3"
    accepts_phonemes = False

    def __init__(self) -> None:
        prepare_espeak()
        import pyttsx3

        self._engine = pyttsx3.init("espeak" if sys.platform.startswith("linux") else None)
        self._finished = threading.Event()
        self._engine.connect("finished-utterance", self._on_finished)
        self._voices: list[VoiceInfo] | None = None

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._finished.set()

    @classmethod
    def version(cls) -> str:
        """pyttsx3's version and, on Linux, espeak-ng's."""
        espeak = ""
        if sys.platform.startswith("linux"):
            try:
                prepare_espeak()
                from pyttsx3.drivers import _espeak

                raw = _espeak.Info(None)
                espeak = f"+espeak-ng-{raw.decode() if raw else 'unknown'}"
            except Exception:  # noqa: BLE001 - the version is a cache-key detail, never fatal
                espeak = "+espeak-ng-unknown"
        return f"pyttsx3-{_package_version('pyttsx3')}{espeak}"

    def voices(self) -> list[VoiceInfo]:
        """Every voice the platform driver reports."""
        if self._voices is None:
            self._voices = [
                VoiceInfo(id=v.id, name=v.name, languages=tuple(v.languages or ()), gender=v.gender or None)
                for v in self._engine.getProperty("voices")
            ]
        return self._voices

    def find_voice(self, voice: str) -> VoiceInfo | None:
        """A voice by id or name; espeak variants such as `gmw/en-us+f3` are accepted when the variant exists."""
        base, _, variant = voice.partition("+")
        info = super().find_voice(base)
        if info is None or not variant:
            return info
        data = _espeak_data_path()
        if data is not None and not (data / "voices" / "!v" / variant).exists():
            return None
        return VoiceInfo(id=voice, name=f"{info.name}+{variant}", languages=info.languages, gender=info.gender)

    def render(self, text: str, voice: VoiceSpec, out_path: Path) -> None:
        """Speak into a WAV file, waiting for the engine's finished event and verifying the file."""
        with _lock:  # the espeak driver is not thread-safe
            if sys.platform.startswith("linux"):
                _set_espeak_voice(voice)
            else:
                try:
                    self._engine.setProperty("voice", voice.voice)
                    if voice.rate:
                        self._engine.setProperty("rate", voice.rate)
                    if voice.pitch is not None:
                        self._engine.setProperty("pitch", voice.pitch)
                except (ValueError, KeyError) as exc:
                    raise EngineError(f"voice '{voice.voice}' was refused: {exc}") from exc
            for attempt in range(1, ATTEMPTS + 1):
                # pyttsx3's espeak driver prints "Audio saved to FILE" for every file; keep it off our stdout.
                with contextlib.redirect_stdout(io.StringIO()):
                    spoken = self._speak_once(text, out_path)
                if spoken:
                    return
                # Under load espeak-ng sometimes ends a message at once with no audio and no word events
                # (seen here in about 1 of 200 renders); nothing was written, so saying it again is safe.
                log.debug("espeak produced no audio (attempt %d of %d); trying again", attempt, ATTEMPTS)
            size = out_path.stat().st_size if out_path.exists() else None
            raise EngineError(f"the engine reported success but wrote no audio ({ATTEMPTS} attempts; "
                              f"file size: {size})")

    def _speak_once(self, text: str, out_path: Path) -> bool:
        """One utterance into `out_path`; True when a complete, non-empty WAV was written."""
        out_path.unlink(missing_ok=True)
        self._finished.clear()
        self._engine.save_to_file(text, str(out_path))
        # pyttsx3 2.99 may return from runAndWait before espeak's own thread has written the file.
        self._engine.runAndWait()
        if not self._finished.wait(30 + len(text) / 50):
            raise EngineError("the engine never finished the utterance")
        for _ in range(200):
            state = _wav_state(out_path)
            if state != "incomplete":
                return state == "complete"
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Stop the driver loop."""
        try:
            self._engine.stop()
        except Exception:  # noqa: BLE001 - closing is best effort
            log.debug("pyttsx3 stop failed", exc_info=True)


def _set_espeak_voice(voice: VoiceSpec) -> None:
    """Set espeak-ng's voice, rate and pitch for the next utterance, and wait until they are in effect.

    Not through pyttsx3: espeak-ng (opened asynchronously by pyttsx3) queues rate and pitch changes, and
    pyttsx3's runAndWait cancels that queue when it is still busy, so a change was now and then lost and
    the utterance spoken at the previous one's rate. A rate or pitch left out is reset to espeak's default
    rather than kept from whatever was rendered before, so a piece sounds the same in any order.
    """
    from pyttsx3.drivers import _espeak

    if _espeak.SetVoiceByName(voice.voice.encode("utf-8")) != 0:
        raise EngineError(f"voice '{voice.voice}' was refused by espeak-ng")
    wanted = {_espeak.RATE: voice.rate or ESPEAK_RATE, _espeak.PITCH: ESPEAK_PITCH if voice.pitch is None else voice.pitch}
    get = _espeak.dll.espeak_GetParameter
    get.argtypes, get.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    deadline = time.monotonic() + 10
    resend = 0.0
    while True:
        pending = {param: value for param, value in wanted.items() if get(param, 1) != value}
        if not pending and not _espeak.IsPlaying():
            return
        now = time.monotonic()
        if now > deadline:
            raise EngineError(f"espeak-ng did not take rate {wanted[_espeak.RATE]} and pitch {wanted[_espeak.PITCH]}")
        if pending and now >= resend:
            for param, value in pending.items():
                _espeak.SetParameter(param, value, 0)
            resend = now + 0.2
        time.sleep(0.001)


def _espeak_data_path() -> Path | None:
    """The espeak-ng data folder in use (it holds the voice variants), on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    from pyttsx3.drivers import _espeak

    path = ctypes.c_char_p()
    _espeak.dll.espeak_Info(ctypes.byref(path))
    return Path(path.value.decode()) if path.value else None


def _wav_state(path: Path) -> str:
    """`complete`, `empty` (a valid WAV with no audio) or `incomplete` (missing or still being written)."""
    try:
        with wave.open(str(path), "rb") as w:
            frames = w.getnframes()
            expected = frames * w.getsampwidth() * w.getnchannels()
        if frames == 0:
            return "empty"
        return "complete" if path.stat().st_size >= expected + 44 else "incomplete"
    except (wave.Error, EOFError, OSError):
        return "incomplete"
