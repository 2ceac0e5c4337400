"""Serving a file over HTTP: content types, byte ranges and conditional requests (RFC 9110), as pure functions.

The preview server (narrate/serve.py) answers with them; they read request headers, never a file.

Multiple ranges: when a Range header asks for more than one satisfiable range, the server
ignores it and answers 200 with the whole file (RFC 9110 allows ignoring Range; it never sends
multipart/byteranges). If exactly one of the ranges is satisfiable, that one is answered with 206.
"""
from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from pathlib import Path

from narrate.feed import ENCLOSURE_TYPES

_RANGE_SPEC_RE = re.compile(r"([0-9]*)-([0-9]*)")

CONTENT_TYPES: dict[str, str] = {
    **ENCLOSURE_TYPES,
    ".xml": "application/rss+xml; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".html": "text/html; charset=utf-8",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def content_type_for(name: str) -> str:
    """Return the Content-Type header value for a file name."""
    return CONTENT_TYPES.get(Path(name).suffix.lower(), DEFAULT_CONTENT_TYPE)


class UnsatisfiableRange(ValueError):
    """A Range header none of whose ranges overlaps the file (answered with 416)."""


def _position(digits: str, size: int) -> int:
    """A byte position from a Range header; any number beyond the file is size + 1, never parsed in full.

    int() refuses strings of more than 4300 digits, and a client can send 60,000.
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(size)):
        return size + 1
    return int(digits)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Parse a Range header against a size into (first, last) inclusive, or None to send it all.

    None (serve 200 in full) for a malformed header, another unit, or several satisfiable ranges;
    raises UnsatisfiableRange when no range overlaps the file.
    """
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    satisfiable: list[tuple[int, int]] = []
    seen_any = False
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        match = _RANGE_SPEC_RE.fullmatch(part)
        if not match or not (match.group(1) or match.group(2)):
            return None
        seen_any = True
        first_s, last_s = match.groups()
        if first_s:
            first = _position(first_s, size)
            last = _position(last_s, size) if last_s else size - 1
            if last_s and last < first:
                return None  # syntactically invalid: the whole header is ignored
            if first < size:
                satisfiable.append((first, min(last, size - 1)))
        else:
            suffix = _position(last_s, size)
            if suffix > 0 and size > 0:
                satisfiable.append((max(size - suffix, 0), size - 1))
    if not seen_any:
        return None
    if not satisfiable:
        raise UnsatisfiableRange(header)
    if len(satisfiable) > 1:
        return None
    return satisfiable[0]


def not_modified(headers: Mapping[str, str], etag: str, mtime: float, *, etag_only: bool = False) -> bool:
    """Whether If-None-Match (else If-Modified-Since, unless `etag_only`) lets the server answer 304."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since and not etag_only:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError, OverflowError):  # year 99999999999 overflows
            return False
        if since is None or since.tzinfo is None:
            return False
        return int(mtime) <= since.timestamp()
    return False


def if_range_holds(headers: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """Whether a Range applies: no If-Range, or one naming this very ETag or Last-Modified date."""
    if_range = headers.get("If-Range")
    if if_range is None:
        return True
    if_range = if_range.strip()
    return if_range == etag or if_range == last_modified
