"""Where a show is published: a target string (`--to` or `publish.target`) parsed into a TargetAddress.

Pure parsing, no network and no optional library: the show file's validation uses it too, so a bad
target is reported by `narrate check` with its file:line, like any other key.

- a folder: `/var/www/show`, `site/show` (relative to the current folder, or to the show folder when it
  comes from show.yaml), or `file:///var/www/show`;
- SFTP: `sftp://[user@]host[:port]/absolute/path`, or `sftp://host/~/path` for a path under the login's
  home folder. `host` may be a `Host` alias of ~/.ssh/config. A password in the URL is refused:
  login is by key (a file or the agent), never by a secret written down;
- S3: `s3://bucket[/prefix]`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

KINDS = ("folder", "sftp", "s3")
# Bucket names per the S3 rules (3-63 characters; lower case, digits, dots, hyphens); a little looser for
# S3-compatible services, which also allow underscores and capitals in their own buckets.
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")  # a name, an IPv4 or (from inside [...]) an IPv6 address
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class TargetError(ValueError):
    """A target string that cannot name a place to publish to; the message says why, in one line."""


@dataclass(frozen=True)
class TargetAddress:
    """A parsed target. `path` is the folder (folder, SFTP) or the key prefix without slashes (S3)."""

    kind: str
    path: str
    host: str = ""
    port: int | None = None
    user: str = ""
    bucket: str = ""

    def __str__(self) -> str:
        """The target as shown to people: never a secret (there is none in a valid address)."""
        if self.kind == "folder":
            return self.path
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.path}".rstrip("/") + "/"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"sftp://{user}{self.host}{port}{self.path if self.path.startswith('/') else '/~/' + self.path}"


def parse_target(text: str, relative_to: Path | None = None) -> TargetAddress:
    """Parse a target string; a relative folder is taken relative to `relative_to` (else the current folder)."""
    if not isinstance(text, str) or not text.strip():
        raise TargetError("the target is empty: give a folder, sftp://host/path or s3://bucket/prefix")
    text = text.strip()
    if _CONTROL_RE.search(text):
        raise TargetError("the target contains a control character")
    scheme, sep, _ = text.partition("://")
    if not sep:
        folder = Path(text).expanduser()
        if relative_to is not None and not folder.is_absolute():
            folder = relative_to / folder
        return TargetAddress("folder", str(folder))
    scheme = scheme.lower()
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        raise TargetError(f"the target {scheme}://… must not have a query or fragment (? or #)")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise TargetError("a file:// target must be on this machine (file:///path)")
        return TargetAddress("folder", unquote(parts.path) or "/")
    if scheme == "s3":
        return _s3(parts)
    if scheme in ("sftp", "ssh"):
        return _sftp(parts)
    raise TargetError(f"unknown kind of target '{scheme}://' (known: a folder, sftp://, s3://)")


def _s3(parts) -> TargetAddress:  # noqa: ANN001 - urllib's SplitResult
    if "@" in parts.netloc:
        raise TargetError("an s3:// target must not hold credentials: narrate reads them from the environment "
                          "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) or ~/.aws, never from a URL")
    bucket = parts.netloc
    if not _BUCKET_RE.match(bucket):
        raise TargetError(f"'{bucket}' is not an S3 bucket name (write s3://bucket/prefix)")
    prefix = unquote(parts.path).strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise TargetError(f"the S3 prefix '{prefix}' has an empty, '.' or '..' part")
    return TargetAddress("s3", prefix, bucket=bucket)


def _sftp(parts) -> TargetAddress:  # noqa: ANN001 - urllib's SplitResult
    if parts.password is not None:
        raise TargetError("an sftp:// target must not hold a password: log in with a key (a file in ~/.ssh or "
                          "the ssh agent)")
    host = parts.hostname or ""
    if not _HOST_RE.match(host):
        raise TargetError(f"'{parts.netloc}' is not a host (write sftp://user@host:port/path)")
    try:
        port = parts.port
    except ValueError:
        raise TargetError(f"the port in '{parts.netloc}' is not a number from 1 to 65535") from None
    if port == 0:
        raise TargetError(f"the port in '{parts.netloc}' is not a number from 1 to 65535")
    path = unquote(parts.path)
    if path in ("/~", "/~/") or not path.strip("/"):
        raise TargetError("an sftp:// target needs a folder: sftp://host/var/www/show, or sftp://host/~/show "
                          "for one in the login's home folder")
    if path.startswith("/~/"):
        path = path[3:].rstrip("/")  # relative: SFTP resolves it in the login's home folder
    else:
        path = "/" + path.strip("/")
    if any(part in (".", "..") for part in path.split("/")):
        raise TargetError(f"the folder '{path}' has a '.' or '..' part")
    return TargetAddress("sftp", path, host=host, port=port, user=unquote(parts.username or ""))
