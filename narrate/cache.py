"""Content-addressed store of rendered segments: a key hashes everything that shapes the sound."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from narrate.errors import StorageError, UserError, storage_errors
from narrate.fsutil import TMP_PREFIX, temp_path, write_atomic
from narrate.model import VoiceSpec

log = logging.getLogger(__name__)

#: Bump when the stored audio changes meaning (trimming, sample format): every old entry becomes unused.
CACHE_FORMAT = 2  # 2: pyttsx3 rate and pitch are applied per render, never carried over
SAMPLE_FORMAT = "s16le-mono-trimmed"


def default_cache_dir(scripts_dir: Path) -> Path:
    """The cache lives beside the scripts folder, in `.narrate-cache` (override: NARRATE_CACHE_DIR)."""
    env = os.environ.get("NARRATE_CACHE_DIR")
    if env and "://" in env:
        raise UserError(f"NARRATE_CACHE_DIR={env}: must be a local folder (a shared cache is given with "
                        "--cache-dir URL, beside it)")
    return Path(env) if env else scripts_dir.resolve().parent / ".narrate-cache"


def piece_key(spoken: str, voice: VoiceSpec, engine_version: str, voice_version: str = "") -> str:
    """The cache key of one rendered piece: sha256 of everything that shapes its audio."""
    material = {
        "format": CACHE_FORMAT, "sample_format": SAMPLE_FORMAT, "text": spoken, "engine": voice.engine,
        "engine_version": engine_version, "voice": voice.voice, "voice_version": voice_version,
        "rate": voice.rate, "pitch": voice.pitch,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def mono_wav(rate: int, samples: bytes) -> bytes:
    """A WAV file's bytes: mono 16-bit `samples` at `rate` (the cache's sample format)."""
    data = io.BytesIO()
    with wave.open(data, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return data.getvalue()


def entry_meta(data: bytes, rate: int, frames: int, text: str = "") -> bytes:
    """The checksum file of an entry whose audio is the WAV file `data` (`frames` long at `rate`)."""
    meta = {"format": CACHE_FORMAT, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "rate": rate, "frames": frames, "text": text[:200]}
    return json.dumps(meta, ensure_ascii=False).encode()


def entry_matches(meta: dict, data: bytes) -> bool:
    """Whether the WAV file `data` is the audio its checksum file `meta` describes (size, sha256, frames),
    and not empty. Raises what a torn file does (KeyError, TypeError, wave.Error, EOFError)."""
    if hashlib.sha256(data).hexdigest() != meta["sha256"] or len(data) != meta["bytes"]:
        return False
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes() == meta["frames"] and w.getnframes() > 0


@dataclass(frozen=True)
class CachedAudio:
    """A verified cache entry: mono 16-bit WAV at `rate`, `frames` long."""

    key: str
    path: Path
    rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


class Cache:
    """Rendered pieces stored as `<root>/<k[:2]>/<key>.wav` with a `<key>.json` checksum beside each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def wav_path(self, key: str) -> Path:
        """Where the audio of `key` lives."""
        return self.root / key[:2] / f"{key}.wav"

    def has(self, key: str) -> bool:
        """Cheap existence test (no verification): used for planning."""
        return self.wav_path(key).with_suffix(".json").exists() and self.wav_path(key).exists()

    def get(self, key: str) -> CachedAudio | None:
        """The verified entry for `key`; a truncated or corrupt entry is removed and None returned."""
        wav_path = self.wav_path(key)
        meta_path = wav_path.with_suffix(".json")
        if not (wav_path.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if entry_matches(meta, wav_path.read_bytes()):
                return CachedAudio(key, wav_path, int(meta["rate"]), int(meta["frames"]))
        except (OSError, ValueError, KeyError, TypeError, wave.Error, EOFError):
            pass
        log.warning("cache entry %s is damaged; it will be rendered again", key[:12])
        self.discard(key)
        return None

    def check_writable(self) -> None:
        """Create the cache folder and prove a file can be written in it, before any engine starts."""
        with storage_errors(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            temp_path(self.root).unlink()

    def gone(self) -> bool:
        """Whether the cache folder was removed (say by `rm -rf .narrate-cache` during a build)."""
        return not self.root.is_dir()

    def removed_error(self) -> StorageError:
        """The one line for a cache folder removed while a build used it."""
        return StorageError(f"the cache folder {self.root} was removed during the build; run the build again")

    def put(self, key: str, wav_file: Path, text: str = "") -> CachedAudio:
        """Copy a finished WAV into the cache (atomic renames; the checksum file goes last)."""
        data = wav_file.read_bytes()
        with wave.open(str(wav_file), "rb") as w:
            rate, frames = w.getframerate(), w.getnframes()
        return self._store(key, data, rate, frames, text)

    def put_samples(self, key: str, rate: int, samples: bytes, text: str = "") -> CachedAudio:
        """Store mono 16-bit samples at `rate` as the entry of `key` (as `put` does a WAV file)."""
        return self._store(key, mono_wav(rate, samples), rate, len(samples) // 2, text)

    def put_checked(self, key: str, data: bytes, rate: int, frames: int, text: str = "") -> CachedAudio:
        """Store a WAV file's bytes already checked to be mono 16-bit, `frames` long at `rate` (narrate.shared)."""
        return self._store(key, data, rate, frames, text)

    def _store(self, key: str, data: bytes, rate: int, frames: int, text: str) -> CachedAudio:
        dest = self.wav_path(key)
        with storage_errors(self.root):
            try:
                # Never recreate a removed cache folder quietly: this build's earlier entries went with it.
                dest.parent.mkdir(exist_ok=True)
                # No fsync: an entry torn by a power cut fails its checksum and is rendered again.
                write_atomic(dest, data, durable=False)
                write_atomic(dest.with_suffix(".json"), entry_meta(data, rate, frames, text), durable=False)
            except FileNotFoundError:
                # The folder, or this entry's subfolder, went while the entry was written: `rm -rf` of the cache.
                raise self.removed_error() from None
        return CachedAudio(key, dest, rate, frames)

    def discard(self, key: str) -> None:
        """Remove an entry."""
        for path in (self.wav_path(key), self.wav_path(key).with_suffix(".json")):
            path.unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        """Every key with audio in the cache."""
        if self.root.is_dir():
            for path in self.root.glob("??/*.wav"):
                yield path.stem

    def remove_unused(self, used: set[str]) -> tuple[int, int]:
        """Delete entries not in `used` (and leftover temporary files); (entries removed, bytes freed)."""
        count = freed = 0
        for key in list(self.keys()):
            if key not in used:
                for path in (self.wav_path(key), self.wav_path(key).with_suffix(".json")):
                    if path.exists():
                        freed += path.stat().st_size
                        path.unlink()
                count += 1
        if self.root.is_dir():
            for path in self.root.rglob(f"{TMP_PREFIX}*"):
                freed += path.stat().st_size
                path.unlink()
        return count, freed

    def clear(self) -> int:
        """Remove the whole cache; bytes freed."""
        if not self.root.exists():
            return 0
        freed = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        shutil.rmtree(self.root)
        return freed
