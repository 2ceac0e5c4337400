"""Crash-safe file writing and the output folder's build lock."""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from narrate.errors import BuildLockedError

TMP_PREFIX = ".narrate-tmp-"


def temp_path(folder: Path, suffix: str = "") -> Path:
    """A fresh temporary file name in `folder`, so a later rename into place is atomic."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix, dir=folder)
    os.close(fd)
    return Path(name)


def fsync_file(path: Path) -> None:
    """Flush a file's data to disk before it is renamed into place."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def replace(tmp: Path, dest: Path, durable: bool = True) -> None:
    """Rename a finished temporary file over `dest` (atomic on POSIX); `durable` syncs it to disk first."""
    if not durable:
        os.replace(tmp, dest)
        return
    fsync_file(tmp)
    os.replace(tmp, dest)
    with contextlib.suppress(OSError):
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(dest: Path, data: bytes, durable: bool = True) -> None:
    """Write bytes to a temporary file beside `dest` and rename it into place."""
    tmp = temp_path(dest.parent, suffix=dest.suffix)
    try:
        tmp.write_bytes(data)
        replace(tmp, dest, durable)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_if_changed(dest: Path, data: bytes) -> bool:
    """Write atomically only when the content differs; True when written (mtimes stay put otherwise)."""
    try:
        if dest.read_bytes() == data:
            return False
    except OSError:
        pass
    write_atomic(dest, data)
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
