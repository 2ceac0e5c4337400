"""A shared cache at an fsspec URL (`--cache-dir s3://bucket/cache`, `file:///mnt/shared/cache`).

Several building machines, and the workers of a Dask cluster, share rendered pieces through it: a piece
rendered anywhere is reused everywhere. Its layout is the local cache's (`<k[:2]>/<key>.wav` and the
`<key>.json` checksum beside it), and the checksum file is written last, so an entry without one is not
an entry. A build keeps a local copy of each piece it uses (the default cache folder), because assembly
reads pieces as files; every piece fetched is checked against its checksum before it is used.
"""
from __future__ import annotations

import io
import json
import logging
import posixpath
import uuid
import wave
from collections.abc import Callable, Iterable
from typing import Any

from narrate.cache import CACHE_FORMAT, Cache, entry_matches, entry_meta
from narrate.errors import NarrateError, UserError
from narrate.fsutil import TMP_PREFIX

log = logging.getLogger(__name__)

#: Entries fetched or stored per batch: fsspec runs a batch's transfers concurrently on remote file systems.
BATCH = 64
#: Up to this many keys, `present` asks for each key's checksum file; above it, one listing of the whole
#: cache costs fewer requests (an object store lists 1,000 names per request).
PROBE_LIMIT = 2048


class SharedCache:
    """Entries at an fsspec URL, read into and written from a local Cache."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        scheme = self.url.partition("://")[0].lower()
        if scheme in ("sftp", "ssh"):
            # fsspec's own SFTP (paramiko) accepts any host key it does not know: no place for a cache's audio.
            raise UserError(f"shared cache {self.url}: SFTP is not supported for a shared cache (fsspec's SFTP does "
                            "not check host keys); mount the folder and give file:///PATH, or use s3://")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True)
        except ImportError as exc:
            hint = " (install narrate[publish] for s3://)" if scheme == "s3" else ""
            raise UserError(f"shared cache {self.url}: {exc}{hint}") from None
        except ValueError as exc:
            raise UserError(f"shared cache {self.url}: {exc}") from None
        self.root = self.root.rstrip("/")
        self._local = "file" in _protocols(self.fs)

    def _path(self, key: str, suffix: str) -> str:
        return posixpath.join(self.root, key[:2], f"{key}{suffix}")

    def failed(self, what: str, exc: BaseException) -> NarrateError:
        """The one line for a shared cache that could not be read or written."""
        return NarrateError(f"shared cache {self.url}: cannot {what}: {type(exc).__name__}: {exc}")

    def keys(self) -> set[str]:
        """Every key with a checksum file in the shared cache (one listing)."""
        if not self._exists():
            return set()
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return set()
        except Exception as exc:  # noqa: BLE001 - fsspec back ends raise their own (botocore, asyncssh)
            raise self.failed("read its entries", exc) from None
        return {posixpath.basename(path)[:-5] for path in found
                if path.endswith(".json") and not posixpath.basename(path).startswith(TMP_PREFIX)}

    def present(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """Which of `keys` have an entry (a checksum file): asked key by key when they are few, each with
        its checksum file (for `fetch`), else listed (None for each)."""
        keys = set(keys)
        if len(keys) > PROBE_LIMIT:
            return dict.fromkeys(self.keys() & keys)
        if not keys or not self._exists():
            return {}
        found = self._cat([self._path(key, ".json") for key in keys], "read its entries")
        return {key: found[self._path(key, ".json")] for key in keys if self._path(key, ".json") in found}

    def _exists(self) -> bool:
        """Whether the cache's folder (or prefix) exists; an error when the storage cannot be reached."""
        try:
            return bool(self.fs.exists(self.root))
        except Exception as exc:  # noqa: BLE001 - fsspec back ends raise their own (botocore, asyncssh)
            raise self.failed("read its entries", exc) from None

    def fetch(self, keys: Iterable[str], cache: Cache, texts: dict[str, str] | None = None,
              advance: Callable[[int], None] | None = None, found: dict[str, bytes | None] | None = None) -> set[str]:
        """Copy the entries of `keys` into `cache`, each checked against its checksum; the keys copied.

        `found`: what `present` gave; the checksum files it read are not read again. An entry that is
        missing, torn or fails its checksum is left out (it is rendered again)."""
        copied: set[str] = set()
        keys = sorted(set(keys))
        for start in range(0, len(keys), BATCH):
            batch = keys[start:start + BATCH]
            metas = {self._path(k, ".json"): found[k] for k in batch if found and found.get(k) is not None}
            metas |= self._cat([self._path(k, ".json") for k in batch if self._path(k, ".json") not in metas],
                               "read its entries")
            wavs = self._cat([self._path(k, ".wav") for k in batch if self._path(k, ".json") in metas],
                             "read its entries")
            for key in batch:
                meta, data = metas.get(self._path(key, ".json")), wavs.get(self._path(key, ".wav"))
                if meta is None or data is None:
                    continue
                entry = _checked(meta, data)
                if entry is None:
                    log.warning("shared cache %s: entry %s is damaged; it will be rendered again", self.url, key[:12])
                    continue
                rate, frames = entry
                cache.put_checked(key, data, rate, frames, (texts or {}).get(key, ""))
                copied.add(key)
            if advance is not None:
                advance(len(batch))
        return copied

    def store(self, key: str, wav: bytes, text: str = "") -> None:
        """Write one entry of a WAV file's bytes: its audio, then its checksum file (which makes it an entry)."""
        with wave.open(io.BytesIO(wav), "rb") as w:
            meta = entry_meta(wav, w.getframerate(), w.getnframes(), text)
        self.store_many([(key, wav, meta)])

    def store_many(self, entries: Iterable[tuple[str, bytes, bytes]],
                   advance: Callable[[int], None] | None = None) -> None:
        """Write entries (key, WAV bytes, checksum file bytes): a batch's audio files first, then its checksums."""
        entries = list(entries)
        for start in range(0, len(entries), BATCH):
            batch = entries[start:start + BATCH]
            self._pipe({self._path(key, ".wav"): wav for key, wav, _ in batch})
            self._pipe({self._path(key, ".json"): meta for key, _, meta in batch})
            if advance is not None:
                advance(len(batch))

    def upload(self, keys: Iterable[str], cache: Cache, advance: Callable[[int], None] | None = None) -> int:
        """Copy the local cache's entries of `keys` into the shared cache; how many."""
        entries = []
        for key in sorted(set(keys)):
            wav_path = cache.wav_path(key)
            try:
                entries.append((key, wav_path.read_bytes(), wav_path.with_suffix(".json").read_bytes()))
            except FileNotFoundError:
                continue
        self.store_many(entries, advance)
        return len(entries)

    def _cat(self, paths: list[str], what: str) -> dict[str, bytes]:
        if not paths:
            return {}
        try:
            found = self.fs.cat(paths, on_error="omit")
        except Exception as exc:  # noqa: BLE001 - fsspec back ends raise their own
            raise self.failed(what, exc) from None
        return {_strip(self.fs, path): data for path, data in found.items()}

    def _pipe(self, files: dict[str, bytes]) -> None:
        try:
            for folder in sorted({posixpath.dirname(path) for path in files}) if self._local else ():
                self.fs.makedirs(folder, exist_ok=True)
            if self._local:
                # A shared folder: written under a temporary name and renamed, so a reader never sees half a file.
                for path, data in files.items():
                    tmp = posixpath.join(posixpath.dirname(path), f"{TMP_PREFIX}{uuid.uuid4().hex}")
                    self.fs.pipe_file(tmp, data)
                    self.fs.mv(tmp, path)
            else:
                self.fs.pipe(files)  # an object store writes each object whole
        except Exception as exc:  # noqa: BLE001 - fsspec back ends raise their own
            raise self.failed("write to it", exc) from None


def _checked(meta_bytes: bytes, data: bytes) -> tuple[int, int] | None:
    """(rate, frames) of an entry whose audio matches its checksum file and is mono 16-bit; else None."""
    try:
        meta = json.loads(meta_bytes)
        if meta["format"] != CACHE_FORMAT or not entry_matches(meta, data):
            return None
        with wave.open(io.BytesIO(data), "rb") as w:
            if (w.getnchannels(), w.getsampwidth()) != (1, 2):
                return None
            return w.getframerate(), w.getnframes()
    except (ValueError, KeyError, TypeError, wave.Error, EOFError):
        return None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _strip(fs: Any, path: str) -> str:
    """A path as the file system's own calls return it (without its protocol)."""
    return fs._strip_protocol(path)  # noqa: SLF001 - fsspec's documented way to normalise a path
