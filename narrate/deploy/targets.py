"""Stage: the place a show is published to, through fsspec: a folder, an SFTP server or S3-compatible storage.

Every target offers the same five operations (list folders, read, put a file into place, remove, close);
what "into place" means is the target's: a folder or SFTP server receives a temporary name beside the
file (`.narrate-tmp-…`) and renames it over the final name, atomically (POSIX rename; SFTP's
`posix-rename@openssh.com`), so a reader never sees half a file; S3 stores an object only once all of it
has arrived (a single PUT, or a multipart upload completed), so the object is written under its name.

Libraries (the `publish` extra): SFTP through `sshfs` (asyncssh) rather than fsspec's built-in paramiko
file system, because asyncssh checks host keys against known_hosts and refuses an unknown host, and reads
~/.ssh/config (Host aliases, HostName, Port, User, IdentityFile, UserKnownHostsFile) and the ssh agent by
itself; fsspec's paramiko file system accepts unknown hosts by default, never loads known_hosts, and
paramiko does not apply ~/.ssh/config. sshfs itself turns host-key checking off unless told otherwise, so
narrate always passes `known_hosts=()` ("the user's known_hosts, as ssh_config says"). S3 through `s3fs`
(botocore's credential chain: AWS_* variables including AWS_ENDPOINT_URL and AWS_PROFILE, ~/.aws files).
"""
from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from narrate.deploy.address import TargetAddress
from narrate.deploy.headers import FileHeaders
from narrate.errors import NarrateError, UserError
from narrate.fsutil import TMP_PREFIX, replace, temp_path
from narrate.model import PublishSettings

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'narrate[publish]'"
CONNECT_TIMEOUT = 30


class Target:
    """A publish target over one fsspec file system, rooted at a folder (or an S3 prefix)."""

    #: Whether the target keeps HTTP headers with each file (S3 does; a folder's web server decides them).
    stores_headers = False
    #: Whether a file is written under a temporary name and renamed into place.
    renames = True

    def __init__(self, address: TargetAddress, fs: Any, root: str) -> None:
        self.address = address
        self.fs = fs
        self.root = root.rstrip("/")

    def __str__(self) -> str:
        return str(self.address)

    def path(self, name: str) -> str:
        """The file system path of a file named relative to the show's root."""
        return f"{self.root}/{name}" if self.root else name

    def list_folders(self, folders: Iterable[str]) -> dict[str, int]:
        """Files (relative name -> size) directly in each folder ('' is the root); a missing folder is empty."""
        found: dict[str, int] = {}
        for folder in sorted(set(folders)):
            where = self.path(folder) if folder else (self.root or ".")
            try:
                entries = self.fs.ls(where, detail=True)
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.get("type") != "file":
                    continue
                base = posixpath.basename(str(entry["name"]).rstrip("/"))
                found[f"{folder}/{base}" if folder else base] = int(entry.get("size") or 0)
        return found

    def read(self, name: str) -> bytes | None:
        """A file's bytes, or None when it is not there."""
        try:
            return self.fs.cat_file(self.path(name))
        except FileNotFoundError:
            return None

    def put(self, source: Path | bytes, name: str, headers: FileHeaders,
            callback: Callable[[int], None] | None = None) -> None:
        """Put a local file (or bytes) in place under `name`; readers see the old file or the new one, whole."""
        final = self.path(name)
        parent = posixpath.dirname(final)
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        temp = posixpath.join(parent, f"{TMP_PREFIX}{secrets.token_hex(6)}-{posixpath.basename(final)}")
        try:
            self._send(source, temp, headers, callback)
            self.fs.mv(temp, final)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(temp)
            raise

    def _send(self, source: Path | bytes, path: str, headers: FileHeaders,
              callback: Callable[[int], None] | None) -> None:
        if isinstance(source, bytes):
            self.fs.pipe_file(path, source)
        else:
            self.fs.put_file(str(source), path, callback=_callback(callback))

    def remove(self, name: str) -> None:
        """Remove a file; one already gone is fine."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def close(self) -> None:
        """Close connections."""


class FolderTarget(Target):
    """A local or mounted folder (a web server's root).

    Listing, reading and removing go through fsspec's LocalFileSystem; a file is put in place with narrate's
    own crash-safe write (narrate/fsutil.py: a temporary file synced to disk, then os.replace, then the
    folder synced), since LocalFileSystem.mv is shutil.move, which would move a file *into* a folder standing
    at its name and syncs nothing. A new file takes the mode of the one it replaces.
    """

    def put(self, source: Path | bytes, name: str, headers: FileHeaders,
            callback: Callable[[int], None] | None = None) -> None:
        final = Path(self.path(name))
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(final.parent, "-" + final.name)
        try:
            if isinstance(source, bytes):
                temp.write_bytes(source)
            else:
                shutil.copyfile(source, temp)
            if callback is not None:
                callback(temp.stat().st_size)
            replace(temp, final)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


class S3Target(Target):
    """S3 and S3-compatible storage: each object is stored whole by one request, with its headers."""

    stores_headers = True
    renames = False

    def put(self, source: Path | bytes, name: str, headers: FileHeaders,
            callback: Callable[[int], None] | None = None) -> None:
        extra = {"ContentType": headers.content_type, "CacheControl": headers.cache_control}
        if headers.acl:
            extra["ACL"] = headers.acl
        if isinstance(source, bytes):
            self.fs.pipe_file(self.path(name), source, **extra)
        else:
            self.fs.put_file(str(source), self.path(name), callback=_callback(callback), **extra)

    def list_folders(self, folders: Iterable[str]) -> dict[str, int]:
        self.fs.invalidate_cache()
        return super().list_folders(folders)


class SftpTarget(Target):
    """An SFTP server (sshfs over asyncssh)."""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            client = getattr(self.fs, "client", None)
            if client is not None:
                client.close()


def _callback(report: Callable[[int], None] | None) -> Any:
    """An fsspec callback that reports bytes sent as they go."""
    from fsspec.callbacks import Callback

    class _Bytes(Callback):
        # Callback answers any unknown attribute with a no-op method: every attribute is set here.
        def __init__(self) -> None:
            super().__init__()
            self.reported = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            if report is not None and self.value > self.reported:
                report(self.value - self.reported)
                self.reported = self.value

    return _Bytes()


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"publishing to this kind of target needs {module}, which is not installed: "
                        f"{EXTRA_HINT}") from None


def open_target(address: TargetAddress, settings: PublishSettings) -> Target:
    """Connect to a target; a problem the user can fix (unknown host, no credentials) is a UserError."""
    if address.kind == "folder":
        from fsspec.implementations.local import LocalFileSystem

        root = Path(address.path).absolute()
        if root.exists() and not root.is_dir():
            raise UserError(f"{address.path}: the target is not a folder")
        return FolderTarget(address, LocalFileSystem(), str(root))
    if address.kind == "s3":
        return _open_s3(address, settings)
    return _open_sftp(address)


def _open_s3(address: TargetAddress, settings: PublishSettings) -> Target:
    s3fs = _need("s3fs")
    client_kwargs = {"region_name": settings.region} if settings.region else {}
    # endpoint_url: the show file's, else botocore reads AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) itself.
    fs = s3fs.S3FileSystem(endpoint_url=settings.endpoint_url or None, client_kwargs=client_kwargs,
                           skip_instance_cache=True, use_listings_cache=False)
    target = S3Target(address, fs, f"{address.bucket}/{address.path}".rstrip("/"))
    try:
        fs.ls(address.bucket, detail=False)
    except FileNotFoundError:
        raise UserError(f"{address}: there is no bucket {address.bucket} (or it cannot be listed with these "
                        "credentials)") from None
    except PermissionError as exc:
        raise UserError(f"{address}: access denied ({_first_line(exc)}): check the AWS_* credentials") from None
    except Exception as exc:  # noqa: BLE001 - botocore's credential and endpoint errors
        name = type(exc).__name__
        if name in ("NoCredentialsError", "PartialCredentialsError"):
            raise UserError(f"{address}: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                            "AWS_PROFILE) or configure ~/.aws; narrate never reads them from the show file") from None
        raise NarrateError(f"cannot reach {address}: {name}: {_first_line(exc)}") from None
    return target


def _open_sftp(address: TargetAddress) -> Target:
    asyncssh = _need("asyncssh")
    sshfs = _need("sshfs")
    try:
        # Resolve ~/.ssh/config as asyncssh will, to refuse a config that turns host-key checking off.
        options = asyncssh.SSHClientConnectionOptions(host=address.host, port=address.port or (),
                                                      username=address.user or (), known_hosts=())
    except (OSError, ValueError, asyncssh.Error) as exc:
        raise UserError(f"{address}: cannot read the ssh configuration: {_first_line(exc)}") from None
    if options.known_hosts is None:
        raise UserError(f"{address}: ~/.ssh/config turns host-key checking off (UserKnownHostsFile none); narrate "
                        "publishes only to hosts whose key is in known_hosts")
    kwargs: dict[str, Any] = {"known_hosts": (), "connect_timeout": CONNECT_TIMEOUT}
    if address.port:
        kwargs["port"] = address.port
    if address.user:
        kwargs["username"] = address.user
    try:
        fs = sshfs.SSHFileSystem(address.host, skip_instance_cache=True, **kwargs)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise UserError(f"{address}: the host key of {address.host} is not trusted ({_first_line(exc)}): narrate "
                        "never accepts an unknown or changed host key; check the server's fingerprint and add it "
                        "to ~/.ssh/known_hosts (connect once with ssh)") from None
    except (PermissionError, asyncssh.PermissionDenied) as exc:
        raise UserError(f"{address}: login refused ({_first_line(exc)}): narrate logs in with your ssh keys "
                        "(~/.ssh, IdentityFile in ~/.ssh/config, or the ssh agent)") from None
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise NarrateError(f"cannot connect to {address}: {type(exc).__name__}: {_first_line(exc)}") from None
    return SftpTarget(address, fs, address.path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
