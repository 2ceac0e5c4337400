"""Crash-safe file writing and the output folder's build lock."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from narrate.errors import BuildLockedError


def is_url(text: str) -> bool:
    """Whether `text` is meant as a URL (`scheme://...`), not a folder: `check --published`'s HTTP(S) URL,
    `--cache-dir`'s shared cache."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) is not None

TMP_PREFIX = ".narrate-tmp-"
#: Hex digits of the SHA-256 that go into a content-named file's name.
HASH_DIGITS = 10


def temp_path(folder: Path, suffix: str = "") -> Path:
    """A fresh, empty temporary file in `folder`, so a later rename into place is atomic.

    It is created with mode 0666 less the umask (0644 under the usual 022), like any file a program
    writes, so a web server running as another user can read what is published; `tempfile.mkstemp`
    would make it 0600.
    """
    path, fd = _new_temp(folder, suffix)
    os.close(fd)
    return path


def _new_temp(folder: Path, suffix: str) -> tuple[Path, int]:
    """A new temporary file in `folder` (made first if missing) and its descriptor, open for writing."""
    while True:
        path = folder / f"{TMP_PREFIX}{secrets.token_hex(6)}{suffix}"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        except FileNotFoundError:
            if folder.is_dir():
                raise
            folder.mkdir(parents=True, exist_ok=True)


def is_regular_file(path: Path) -> bool:
    """True for a regular file (a symlink to one counts); False for FIFOs, devices, folders and missing paths."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def content_digest(data: bytes) -> str:
    """The short content hash that names an immutable published file."""
    return hashlib.sha256(data).hexdigest()[:HASH_DIGITS]


def file_digest(path: Path) -> str:
    """`content_digest` of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:HASH_DIGITS]


def content_name(stem: str, suffix: str, digest: str) -> str:
    """`STEM.<digest>SUFFIX`, e.g. `001-first.3f2a9c0d1e.mp3` or `001-first.3f2a9c0d1e.chapters.json`."""
    return f"{stem}.{digest}{suffix}"


def previous_version(folder: Path, stem: str, suffix: str) -> Path | None:
    """The newest regular file `STEM.<hash>SUFFIX` in `folder`: the version a new content-named file supersedes."""
    found = []
    for path in folder.glob(glob_escape(stem) + "." + "[0-9a-f]" * HASH_DIGITS + glob_escape(suffix)):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append((info.st_mtime_ns, path))
    return max(found)[1] if found else None


def glob_escape(text: str) -> str:
    """`text` matched literally by Path.glob (brackets, `*` and `?` escaped)."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in text)


def fsync_file(path: Path) -> None:
    """Flush a file's data to disk before it is renamed into place."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def replace(tmp: Path, dest: Path, durable: bool = True, like: Path | None = None) -> None:
    """Rename a finished temporary file over `dest` (atomic on POSIX); `durable` syncs it to disk first.

    When `dest` already exists, the new file takes its permission bits, so a mode the user set (say 0640 on
    feed.xml) survives a rebuild; when it does not, it takes those of `like` (the version it supersedes, for
    a content-named file), if that is a regular file.
    """
    for model in (dest, like):
        if model is None:
            continue
        try:
            existing = os.stat(model)
        except OSError:
            continue
        if stat.S_ISREG(existing.st_mode):
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
            break
    if not durable:
        os.replace(tmp, dest)
        return
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_folder(dest.parent)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the system allows."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(dest: Path, data: bytes, durable: bool = True, like: Path | None = None) -> None:
    """Write bytes to a temporary file beside `dest` and rename it into place (modes as for `replace`)."""
    tmp, fd = _new_temp(dest.parent, dest.suffix)
    try:
        with open(fd, "wb") as out:
            out.write(data)
        replace(tmp, dest, durable, like)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_if_changed(dest: Path, data: bytes, like: Path | Callable[[], Path | None] | None = None) -> bool:
    """Write atomically only when the content differs; True when written (mtimes stay put otherwise).

    `like` (the file whose mode the new one keeps) may be a function, called only when writing: finding
    it may list the folder, which an unchanged file should not pay for (a 1,000-episode folder, 4,000 times).

    Only a regular file is read for the comparison: a FIFO or device in its place would block or never end;
    it is replaced like a missing file.
    """
    if is_regular_file(dest):
        try:
            if dest.stat().st_size == len(data) and dest.read_bytes() == data:
                return False
        except OSError:
            pass
    write_atomic(dest, data, like=like() if callable(like) else like)
    return True


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files a killed build left behind; returns how many."""
    count = 0
    if folder.is_dir():
        for path in folder.glob(f"{TMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                path.unlink()
                count += 1
    return count


@contextlib.contextmanager
def build_lock(folder: Path, wait: bool = False) -> Iterator[None]:
    """Hold the output folder's lock for a build; refuse with a clear message when another build has it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / ".narrate.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise BuildLockedError(
                f"another narrate build is using {folder}; wait for it to finish or run with --wait") from None
        # The lock file is never written to, so a build that changes nothing leaves every mtime alone.
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_new(dest: Path, data: bytes) -> None:
    """Write a file that must not exist yet, atomically: a temporary file linked into place, never over another.

    FileExistsError when `dest` exists (even if it appeared meanwhile); no temporary file is left either way.
    """
    tmp = temp_path(dest.parent, suffix=dest.suffix)
    try:
        tmp.write_bytes(data)
        fsync_file(tmp)
        try:
            os.link(tmp, dest)  # atomic, and refuses an existing name
        except OSError as exc:
            if isinstance(exc, FileExistsError) or os.path.lexists(dest):
                raise FileExistsError(errno.EEXIST, "file exists", str(dest)) from None
            # A file system without hard links: claim the name, then rename the finished file over the claim.
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
