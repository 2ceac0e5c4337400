"""The remote manifest, `.narrate-manifest.json` at the target's root: what narrate published there.

Versioned JSON, written last by every publish that changed something: per file its SHA-256, size and the
headers it was sent with (S3), and `stale`, files narrate published earlier that the show no longer names
and that are still on the target (they go with `--delete`). A manifest that is missing, damaged or of
another version is logged and treated as empty: publish then checks the target's listing (a content-named
file of the right size is its own proof) and sends the rest. It holds no time stamp, so publishing an
unchanged show writes nothing.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_NAME = ".narrate-manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class RemoteEntry:
    """What the manifest says of one published file."""

    sha256: str
    size: int
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Manifest:
    """The files narrate published on a target, and those it left there without `--delete`."""

    files: dict[str, RemoteEntry] = field(default_factory=dict)
    stale: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = {
            "version": MANIFEST_VERSION,
            "comment": "Written by narrate publish: what it published here. Do not edit.",
            "files": {name: {"sha256": e.sha256, "size": e.size, **({"headers": dict(e.headers)} if e.headers else {})}
                      for name, e in sorted(self.files.items())},
            "stale": sorted(set(self.stale)),
        }
        return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


def parse_manifest(data: bytes | None, where: str) -> Manifest:
    """A manifest from its bytes; None, damaged or another version: an empty one (logged), never a crash."""
    if data is None:
        return Manifest()
    try:
        raw = json.loads(data.decode("utf-8"))
        if raw.get("version") != MANIFEST_VERSION:
            raise ValueError(f"version {raw.get('version')!r}, expected {MANIFEST_VERSION}")
        files = {}
        for name, entry in raw["files"].items():
            headers = tuple(sorted((str(k), str(v)) for k, v in dict(entry.get("headers") or {}).items()))
            files[str(name)] = RemoteEntry(str(entry["sha256"]), int(entry["size"]), headers)
        stale = tuple(str(name) for name in raw.get("stale", ()))
        return Manifest(files, stale)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        log.warning("the manifest %s is damaged (%s): checking every file on the target instead", where, exc)
        return Manifest()
