"""The project's own errors: bad input the user can fix (exit 2) versus failures (exit 1).

Exit 1 also covers the machine's conditions the user can fix (StorageError: a read-only, full or removed
folder), shown as one plain line naming the path.
"""
from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator

import click


class NarrateError(click.ClickException):
    """Base of narrate's errors; shown as one line without a traceback."""

    exit_code = 1
    #: The message starts with the place it is about (`file:line: ...`), so a caller adds no other location.
    located = False

    def __init__(self, message: str, *, located: bool | None = None) -> None:
        super().__init__(message)
        if located is not None:
            self.located = located

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"error: {self.format_message()}", err=True)


class UserError(NarrateError):
    """A problem in the user's input or setup that they can fix (exit status 2)."""

    exit_code = 2


class ProblemsError(UserError):
    """Several user problems collected before stopping; each printed on its own line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        for problem in self.problems:
            click.echo(f"error: {problem}", err=True)


class RenderError(NarrateError):
    """A segment failed to render; names the segment's file:line (exit status 1)."""

    located = True


class StorageError(NarrateError):
    """A folder narrate writes to is read-only, full or was removed: one line naming the path (exit status 1)."""


#: errno values that mean "this place cannot be written"; other OSErrors keep their own reason.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}


def os_error_message(exc: OSError, path: object = None) -> str:
    """`cannot write audio/feed.xml: No space left on device`: the file the error names, else `path`."""
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or str(exc) or type(exc).__name__
    if where is None:
        return reason
    verb = "cannot write" if exc.errno in WRITE_ERRNOS else "cannot use"
    return f"{verb} {os.fsdecode(where) if isinstance(where, bytes) else where}: {reason}"


@contextlib.contextmanager
def storage_errors(path: object) -> Iterator[None]:
    """Turn an OSError of the file system (not of a pipe or a socket) into a StorageError naming the path."""
    try:
        yield
    except (ConnectionError, TimeoutError):
        raise
    except OSError as exc:
        raise StorageError(os_error_message(exc, path)) from exc


class BuildLockedError(UserError):
    """Another build holds the output folder's lock."""


class Problems:
    """Collects problems as `location: message` lines, mkdocs-style, to raise them all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, location: object, message: str) -> None:
        """Record one problem; `location` is a Location, a path or None."""
        self.items.append(f"{location}: {message}" if location else message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise a ProblemsError holding every problem recorded so far."""
        if self.items:
            raise ProblemsError(self.items)
