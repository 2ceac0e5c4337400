"""The default engine: pyttsx3 (espeak-ng on Linux, SAPI5 on Windows, NSSpeechSynthesizer on macOS).

On Linux the espeak-ng library is the `espeakng-loader` wheel's, or another chosen by NARRATE_ESPEAK
(see narrate.tools). pyttsx3 2.99 can return from `runAndWait()` before its espeak callback has written the file,
so every render waits for the `finished-utterance` event and then checks the file itself.

pyttsx3's espeak driver writes the file inside espeak's synth callback; when that write fails (a full
disk) it raises there, ctypes only prints the exception, and `runAndWait()` loops forever. So the
callback is wrapped (a failure ends the loop and is raised from `render`, an OSError naming the file),
and a watchdog ends the loop of any utterance that does not finish in time.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
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
FINISH_SECONDS = 30.0  # an utterance may take this long, plus a second per 50 characters, before it is given up
_espeak_source: str | None = None
_espeak_library: str | None = None


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def prepare_espeak() -> str:
    """Make pyttsx3 load the libespeak-ng chosen by NARRATE_ESPEAK (see narrate.tools); returns its source.

    pyttsx3's `_espeak` dlopens "libespeak-ng.so.1" by soname when it is imported. Loading the chosen
    library first makes that name resolve to it (the dynamic linker matches a loaded library's soname).
    RTLD_LOCAL: its symbols must not interpose on another espeak-ng in the process (piper links its own).
    Once pyttsx3 is imported, its handle must be the very library loaded here, or the choice failed.
    """
    global _espeak_source, _espeak_library  # noqa: PLW0603 - once per process, like espeak itself
    if sys.platform in ("win32", "darwin"):
        return "platform"
    from narrate.tools import espeak_choice

    choice = espeak_choice()  # checked on every call, so a bad NARRATE_ESPEAK is always reported
    if _espeak_source is not None:
        if choice.library != _espeak_library:
            raise UserError(f"NARRATE_ESPEAK now chooses {choice.library}, but this process already loaded "
                            f"espeak-ng from {_espeak_library}; one espeak-ng per process")
        return _espeak_source
    # espeak-ng reads ESPEAK_DATA_PATH when pyttsx3 initialises it; worker processes inherit it from here.
    if choice.data is None:
        os.environ.pop("ESPEAK_DATA_PATH", None)
    else:
        os.environ["ESPEAK_DATA_PATH"] = choice.data
    try:
        chosen = ctypes.CDLL(choice.library, mode=ctypes.RTLD_LOCAL)
    except OSError as exc:
        raise UserError(f"cannot load espeak-ng from {choice.library} ({choice.source}): {exc}") from None
    try:
        from pyttsx3.drivers import _espeak
    except (ImportError, RuntimeError) as exc:
        raise UserError(f"pyttsx3 cannot load espeak-ng: {exc}") from None
    if _espeak.dll is None or _espeak.dll._handle != chosen._handle:  # noqa: SLF001 - ctypes' dlopen handle
        raise UserError(f"pyttsx3 did not load the chosen espeak-ng ({choice.library}): a library whose "
                        "soname is not libespeak-ng.so.1 cannot be chosen, or another copy was loaded first")
    _espeak_library = choice.library
    _espeak_source = "espeakng-loader" if choice.source == "bundled" else choice.source
    return _espeak_source


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def loaded_espeak_library() -> str:
    """The file of the libespeak-ng that pyttsx3 calls (dladdr of espeak_Info), after prepare_espeak."""
    from pyttsx3.drivers import _espeak

    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes, dladdr.restype = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)], ctypes.c_int
    info = _DlInfo()
    address = ctypes.cast(_espeak.dll.espeak_Info, ctypes.c_void_p).value
    if not dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return "unknown"
    return os.path.realpath(info.dli_fname.decode())


def espeak_version() -> str:
    """The loaded espeak-ng's version (espeak_Info), after prepare_espeak."""
    from pyttsx3.drivers import _espeak

    raw = _espeak.Info(None)
    return raw.decode() if raw else "unknown"


class Pyttsx3Engine(Engine):
    """pyttsx3 behind narrate's engine interface."""

    name = "pyttsx3"
    accepts_phonemes = False

    def __init__(self) -> None:
        prepare_espeak()
        import pyttsx3

        self._engine = pyttsx3.init("espeak" if sys.platform.startswith("linux") else None)
        self._finished = threading.Event()
        self._failure: BaseException | None = None
        self._engine.connect("finished-utterance", self._on_finished)
        self._voices: list[VoiceInfo] | None = None
        self._driver = self._engine.proxy._driver  # noqa: SLF001 - its loop is ended on a failure or a timeout
        if sys.platform.startswith("linux"):
            self._driver_synth = self._driver._onSynth  # noqa: SLF001 - wrapped, see the module docstring
            self._loop_ended = threading.Event()
            self._claim_driver()

    def _claim_driver(self) -> None:
        """Route espeak's synth callback and the driver's loop through this engine (Linux).

        pyttsx3.init returns the one live engine, and so the one driver, to every Pyttsx3Engine of a process:
        the last one made would otherwise take the callback from the one rendering. The driver's own loop
        sleeps 10 ms between looks at whether espeak is done, most of the time of a sentence-long piece; this
        one is woken by the synth callback the moment the utterance ends.
        """
        if self._driver.__dict__.get("_narrate_owner") is self:
            return
        from pyttsx3.drivers import _espeak

        _espeak.SetSynthCallback(self._on_synth)  # the module keeps the ctypes callback alive
        self._driver.startLoop = self._start_loop
        self._driver._narrate_owner = self  # noqa: SLF001

    def _on_finished(self, name: object = None, completed: bool = True) -> None:
        self._finished.set()

    def _on_synth(self, wav: object, numsamples: int, events: object) -> int:
        """espeak's synth callback: the driver's, but an exception in it ends the utterance instead of the loop
        waiting forever (an exception cannot leave a ctypes callback)."""
        try:
            return self._driver_synth(wav, numsamples, events)
        except Exception as exc:  # noqa: BLE001 - raised from render, outside the callback
            self._failure = exc
            self._end_utterance()
            return 1  # espeak: abort the synthesis
        finally:
            if not self._driver._looping:  # noqa: SLF001 - the driver ended its loop: the utterance is done
                self._loop_ended.set()

    def _start_loop(self) -> None:
        """The espeak driver's startLoop, waiting on the synth callback instead of polling every 10 ms."""
        driver = self._driver
        driver._looping = True  # noqa: SLF001 - the same state the driver's own loop keeps
        driver._proxy.setBusy(False)  # noqa: SLF001
        if driver._text_to_say:  # noqa: SLF001
            driver._start_synthesis(driver._text_to_say)  # noqa: SLF001
        while driver._looping:  # noqa: SLF001
            driver.iterate()  # a stop() asked for is carried out here, as in the driver's loop
            self._loop_ended.wait(0.01)

    def _end_utterance(self) -> None:
        """Stop espeak's current utterance and the driver's loop, so runAndWait returns."""
        driver = self._driver
        driver._speaking = False  # noqa: SLF001 - later callbacks of this utterance are ignored
        driver._data_buffer = b""  # noqa: SLF001
        driver.endLoop()
        self._finished.set()
        if sys.platform.startswith("linux"):
            self._loop_ended.set()

    @classmethod
    def version(cls) -> str:
        """pyttsx3's version and, on Linux, espeak-ng's."""
        espeak = ""
        if sys.platform.startswith("linux"):
            try:
                prepare_espeak()
                espeak = f"+espeak-ng-{espeak_version()}"
            except UserError:
                raise
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
                self._claim_driver()
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
        # Emptied, not deleted: nothing of an earlier utterance can pass for this one's file, and a file
        # system that is slow to create files after many deletions (ext4) is spared both.
        if out_path.exists():
            os.truncate(out_path, 0)
        self._finished.clear()
        self._failure = None
        seconds = FINISH_SECONDS + len(text) / 50
        timed_out = threading.Event()

        def give_up() -> None:
            if not self._finished.is_set():
                timed_out.set()
                with contextlib.suppress(Exception):
                    from pyttsx3.drivers import _espeak

                    _espeak.Cancel()
                self._end_utterance()

        watchdog = threading.Timer(seconds, give_up)
        watchdog.daemon = True
        if sys.platform.startswith("linux"):
            self._loop_ended.clear()
        self._engine.save_to_file(text, str(out_path))
        watchdog.start()
        try:
            # pyttsx3 2.99 may return from runAndWait before espeak's own thread has written the file.
            self._engine.runAndWait()
            finished = self._finished.wait(seconds)
        finally:
            watchdog.cancel()
        if self._failure is not None or timed_out.is_set() or not finished:
            out_path.unlink(missing_ok=True)  # whatever part of the file was written
            _raise_failure(self._failure, out_path, seconds)
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


def _raise_failure(failure: BaseException | None, out_path: Path, seconds: float) -> None:
    """The error for an utterance that failed in espeak's callback (`failure`) or did not finish in `seconds`.

    The driver raises RuntimeError("Error saving WAV file: ...") from the OSError of the write; that OSError
    is raised again naming the file, so the caller reports a full or read-only folder as such.
    """
    if failure is None:
        raise EngineError(f"the engine never finished the utterance (gave up after {seconds:g}s)")
    cause = failure if isinstance(failure, OSError) else failure.__cause__ or failure.__context__
    if isinstance(cause, OSError):
        code = cause.errno or errno.EIO
        raise OSError(code, cause.strerror or os.strerror(code), str(out_path)) from None
    raise EngineError(f"the engine failed: {failure}") from None


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
