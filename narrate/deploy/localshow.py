"""Stage: read the built show in the output folder: every file to publish, its size and hash, and the feed's URLs.

Publish refuses (a UserError, exit 2) what would put a broken show online: no feed, a file whose content
hash disagrees with its name, a FIFO or device among the files, or a feed whose URLs do not point at the
files being published. The rule for URLs: every URL of the feed that names one of the show's files (the
enclosures, chapters, transcripts, the cover and episode art, the feed's own `atom:link rel="self"`) must be
`base_url` followed by the file's path in the output folder, and an enclosure's `length` must be that
file's size. The target receives the output folder as it is (`audio/NAME` goes to `TARGET/NAME`), so
`base_url` must be the web address of the target folder; narrate cannot see a web server's mapping, but it
can see that the feed and the files agree.
"""
from __future__ import annotations

import hashlib
import os
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from narrate.config import display_path, file_kind
from narrate.errors import ProblemsError, UserError
from narrate.feed import ATOM_NS, ITUNES_NS, PODCAST_NS, self_base_url
from narrate.fsutil import HASH_DIGITS, TMP_PREFIX
from narrate.publish import CONTENT_NAME_RE, FEED_NAME


@dataclass(frozen=True)
class LocalFile:
    """One file of the built show: its path relative to the output folder (POSIX), size and full SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class LocalShow:
    """The built show as publish sends it."""

    root: Path
    files: tuple[LocalFile, ...]
    base_url: str

    def by_name(self) -> dict[str, LocalFile]:
        return {f.name: f for f in self.files}


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_output(output: Path) -> list[LocalFile]:
    """Every regular file under `output` except hidden ones (the build record, locks, temporary files)."""
    problems: list[str] = []
    files: list[LocalFile] = []
    for folder, dirs, names in os.walk(output):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.startswith(TMP_PREFIX):
                continue
            path = Path(folder) / name
            rel = path.relative_to(output).as_posix()
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                problems.append(f"{display_path(path)}: cannot be read ({exc.strerror or exc})")
                continue
            if not stat.S_ISREG(mode):
                problems.append(f"{display_path(path)}: is {file_kind(mode)}, not a regular file; nothing that "
                                "is not a file is published")
                continue
            digest = _hash(path)
            match = CONTENT_NAME_RE.match(name)
            if match and digest[:HASH_DIGITS] != match.group("digest"):
                problems.append(f"{display_path(path)}: its bytes do not match the hash in its name "
                                f"({digest[:HASH_DIGITS]}): the file was changed after the build; run narrate build")
                continue
            files.append(LocalFile(rel, os.stat(path).st_size, digest))
    if problems:
        raise ProblemsError(problems)
    return files


def feed_references(feed: bytes) -> list[tuple[str, int | None]]:
    """Every URL in the feed that names a file of the show, with the length the feed gives it (enclosures)."""
    root = ET.fromstring(feed)
    found: list[tuple[str, int | None]] = []
    for enclosure in root.iter("enclosure"):
        length = enclosure.get("length")
        found.append((enclosure.get("url") or "", int(length) if length and length.isdigit() else -1))
    for tag in (f"{{{PODCAST_NS}}}chapters", f"{{{PODCAST_NS}}}transcript"):
        found += [(el.get("url") or "", None) for el in root.iter(tag)]
    found += [(el.get("href") or "", None) for el in root.iter(f"{{{ITUNES_NS}}}image")]
    found += [(el.text or "", None) for el in root.iter("url")]  # <image><url>
    found += [(el.get("href") or "", None) for el in root.iter(f"{{{ATOM_NS}}}link") if el.get("rel") == "self"]
    return found


def check_feed(feed: bytes, files: dict[str, LocalFile], base_url: str, shown: str) -> None:
    """Refuse a feed whose URLs are not `base_url` + a file being published (with its size, for enclosures)."""
    problems: list[str] = []
    for url, length in feed_references(feed):
        if not url.startswith(base_url):
            problems.append(f"{shown}: the feed names {url}, which is not under base_url {base_url}: listeners "
                            "would fetch it from somewhere publish does not send it")
            continue
        rel = url[len(base_url):]
        if rel not in files:
            problems.append(f"{shown}: the feed names {url}, but {rel} is not in the output folder")
        elif length is not None and length != files[rel].size:
            problems.append(f"{shown}: the feed gives {rel} a length of {length} bytes, but the file has "
                            f"{files[rel].size}")
    if problems:
        raise ProblemsError(problems)


def read_local_show(output: Path, base_url: str | None, base_url_location: str = "") -> LocalShow:
    """The built show in `output`, checked against `base_url` (the show file's; None: the one the feed was built for)."""
    feed_path = output / FEED_NAME
    shown = display_path(feed_path)
    if not output.is_dir():
        raise UserError(f"{display_path(output)}: no such folder: build the show first (narrate build)")
    if not feed_path.is_file():
        raise UserError(f"{shown}: no feed: this is not a built show (run narrate build)")
    files = scan_output(output)
    by_name = {f.name: f for f in files}
    feed = feed_path.read_bytes()
    built_for = self_base_url(feed)
    if built_for is None:
        raise UserError(f"{shown}:1: the feed has no atom:link rel=\"self\" naming its own address: not a feed "
                        "narrate built; run narrate build")
    if base_url is not None and base_url != built_for:
        raise UserError(f"{base_url_location or 'base_url'}: base_url is {base_url}, but {shown} was built for "
                        f"{built_for}: run narrate build before publishing")
    check_feed(feed, by_name, built_for, shown)
    return LocalShow(output, tuple(files), built_for)
