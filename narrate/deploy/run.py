"""`narrate publish`: deploy the built show to its target, as named phases.

read the settings -> read the local show (and check its feed) -> connect -> read the target's state ->
plan -> send media, then pages, then the feed (and the site index) -> write the manifest -> delete what
is stale (only with --delete) -> write the manifest again -> remove temporary files killed runs left.

A reader who fetches the feed at any moment finds every file it names whole: the feed goes only after all
it names is in place, and nothing is deleted before the new feed is. Killed at any instant, the target
keeps the previous show (or the new one), consistent; the next publish sends what is still missing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from narrate.config import find_show_file, load_show
from narrate.deploy.address import TargetAddress, TargetError, parse_target
from narrate.deploy.headers import FileHeaders, headers_for
from narrate.deploy.localshow import LocalShow, read_local_show
from narrate.deploy.manifest import MANIFEST_NAME, Manifest, parse_manifest
from narrate.deploy.plan import DeployPlan, folders_to_list, plan_deploy
from narrate.deploy.targets import Target, open_target
from narrate.errors import NarrateError, UserError
from narrate.fsutil import build_lock
from narrate.model import PublishSettings, Show

log = logging.getLogger(__name__)

MANIFEST_HEADERS = FileHeaders("application/json", "no-cache")


class UploadProgress(Protocol):
    """What the CLI shows while files are sent: files and bytes."""

    def start(self, files: int, total_bytes: int) -> None: ...
    def sending(self, name: str) -> None: ...
    def advance(self, sent_bytes: int) -> None: ...
    def sent(self, name: str, size: int) -> None: ...
    def finish(self) -> None: ...


@dataclass(frozen=True)
class PublishOptions:
    """`narrate publish`'s options; `target` (--to) beats the show file's `publish.target`."""

    output: Path = Path("audio")
    target: str | None = None
    scripts_dir: Path = Path("scripts")
    #: Whether scripts_dir was given (then it must hold a show file) or is the default (it may be absent).
    scripts_given: bool = False
    dry_run: bool = False
    delete: bool = False


@dataclass(frozen=True)
class PublishReport:
    """What a publish did (or, dry, would do)."""

    target: str
    dry_run: bool
    delete: bool
    plan: DeployPlan
    sent: tuple[str, ...] = ()
    sent_bytes: int = 0
    deleted: tuple[str, ...] = ()
    manifest_written: bool = False
    temps_removed: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The report for people: each file sent or to send with its reason, then a summary line."""
        plan = self.plan
        verb = "would send" if self.dry_run else "sent"
        out = [f"{verb} {u.name} ({_size(u.size)}): {u.reason}" for u in plan.uploads]
        gone = "would delete" if self.dry_run else "deleted"
        out += [f"{gone} {r.name}: {r.reason}" for r in plan.deletions]
        out += [f"kept {r.name}: {r.reason} (publish --delete removes it)" for r in plan.kept]
        if plan.nothing_to_do:
            out.append(f"nothing to send: {self.target} is up to date ({plan.unchanged} files)")
        else:
            tail = " (dry run: nothing was sent)" if self.dry_run else f" in {self.seconds:.1f}s"
            out.append(f"{len(plan.uploads)} files {'to send' if self.dry_run else 'sent'} "
                       f"({_size(plan.upload_bytes)}), {plan.unchanged} unchanged, {len(plan.deletions)} "
                       f"{'to delete' if self.dry_run else 'deleted'}, {len(plan.kept)} stale kept: "
                       f"{self.target}{tail}")
        return out

    def to_json(self) -> dict[str, Any]:
        """A machine-readable summary for `--json`."""
        plan = self.plan
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "uploads": [{"name": u.name, "size": u.size, "kind": u.kind, "reason": u.reason} for u in plan.uploads],
            "deletions": [{"name": r.name, "size": r.size, "reason": r.reason} for r in plan.deletions],
            "kept": [{"name": r.name, "size": r.size, "reason": r.reason} for r in plan.kept],
            "unchanged": plan.unchanged,
            "sent": list(self.sent),
            "sent_bytes": self.sent_bytes,
            "deleted": list(self.deleted),
            "manifest_written": self.manifest_written,
            "temps_removed": self.temps_removed,
            "seconds": round(self.seconds, 3),
        }


def _from_target_library(exc: BaseException) -> bool:
    """An error of asyncssh, botocore or aiohttp (a lost connection, a refused request), not a bug of narrate."""
    return type(exc).__module__.split(".")[0] in ("asyncssh", "botocore", "aiobotocore", "aiohttp", "s3fs", "sshfs")


def _reason(exc: BaseException) -> str:
    """An error of the target in a few words: `notes.txt: Is a directory`, never a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename2 if exc.filename2 is not None else exc.filename
        return f"{Path(str(where)).name}: {exc.strerror}" if where is not None else exc.strerror
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _read_show(options: PublishOptions) -> Show | None:
    """The show file's settings, when there is one (it must be, when a scripts folder was named)."""
    if find_show_file(options.scripts_dir) is None and not options.scripts_given:
        return None
    return load_show(options.scripts_dir)


def _address(options: PublishOptions, show: Show | None) -> tuple[TargetAddress, PublishSettings]:
    settings = show.publish if show else PublishSettings()
    if options.target:
        text, where, relative_to = options.target, "--to", None
    elif settings.target:
        text, where, relative_to = settings.target, settings.target_location, show.root if show else None
    else:
        shown = show.path if show else f"{options.scripts_dir}/show.yaml"
        raise UserError(f"no target to publish to: give --to TARGET, or set publish.target in {shown}")
    try:
        return parse_target(text, relative_to), settings
    except TargetError as exc:
        raise UserError(f"{where}: {exc}") from None


def publish_show(options: PublishOptions, progress: UploadProgress | None = None) -> PublishReport:
    """Deploy the show built in `options.output` to its target; see the module's docstring for the order."""
    started = time.monotonic()
    show = _read_show(options)
    address, settings = _address(options, show)
    if not options.output.is_dir():
        raise UserError(f"{options.output}: no such folder: build the show first (narrate build)")
    if address.kind == "folder":
        out, dest = options.output.resolve(), Path(address.path).resolve()
        if dest == out or dest.is_relative_to(out) or out.is_relative_to(dest):
            raise UserError(f"{address}: the target folder and the output folder {options.output} overlap; "
                            "publish to a folder outside it")
    with build_lock(options.output):
        local = read_local_show(options.output, show.base_url if show else None, show.path if show else "")
        target = open_target(address, settings)
        try:
            return _deploy(local, target, settings, options, progress, started)
        except NarrateError:
            raise
        except Exception as exc:  # noqa: BLE001 - the target failed mid-way: what is online is still consistent
            if not isinstance(exc, (OSError, RuntimeError)) and not _from_target_library(exc):
                raise
            raise NarrateError(f"cannot publish to {target}: {_reason(exc)}; the show online is still whole (the "
                               "previous version, or this one); run narrate publish again") from None
        finally:
            target.close()


def _deploy(local: LocalShow, target: Target, settings: PublishSettings, options: PublishOptions,
            progress: UploadProgress | None, started: float) -> PublishReport:
    log.debug("connected to %s", target)
    files = local.by_name()
    manifest_bytes = target.read(MANIFEST_NAME)
    manifest = parse_manifest(manifest_bytes, f"{target}/{MANIFEST_NAME}")
    remote = target.list_folders(folders_to_list(files, manifest))

    def headers(name: str) -> FileHeaders | None:
        return headers_for(name, settings) if target.stores_headers else None

    plan = plan_deploy(files, manifest, remote, headers, options.delete, manifest_bytes)
    report = PublishReport(str(target), options.dry_run, options.delete, plan)
    if options.dry_run:
        return report
    sent: list[str] = []
    sent_bytes = 0
    pending_written = False
    if progress is not None and plan.uploads:
        progress.start(len(plan.uploads), plan.upload_bytes)
    try:
        for upload in plan.uploads:  # media, then pages, then feed.xml and index.html: sorted by phase
            if plan.pending is not None and upload.kind != "media" and not pending_written:
                target.put(plan.pending.to_bytes(), MANIFEST_NAME, MANIFEST_HEADERS)
                pending_written = True
                log.debug("wrote the manifest (without the pages and feed about to be replaced)")
            if progress is not None:
                progress.sending(upload.name)
            target.put(local.root / upload.name, upload.name, headers_for(upload.name, settings),
                       progress.advance if progress is not None else None)
            sent.append(upload.name)
            sent_bytes += upload.size
            if progress is not None:
                progress.sent(upload.name, upload.size)
            log.debug("sent %s (%d bytes): %s", upload.name, upload.size, upload.reason)
    finally:
        if progress is not None and plan.uploads:
            progress.finish()
    written = False
    if plan.deletions:
        # Until they are gone, the manifest keeps the stale files listed, so a killed publish forgets none.
        pending = Manifest(plan.manifest.files, tuple(r.name for r in plan.deletions))
        target.put(pending.to_bytes(), MANIFEST_NAME, MANIFEST_HEADERS)
        log.debug("wrote the manifest (with %d files to delete)", len(plan.deletions))
    deleted = []
    for removal in plan.deletions:
        target.remove(removal.name)
        deleted.append(removal.name)
        log.debug("deleted %s: %s", removal.name, removal.reason)
    if plan.manifest_changed or plan.deletions:
        target.put(plan.manifest.to_bytes(), MANIFEST_NAME, MANIFEST_HEADERS)
        written = True
        log.debug("wrote the manifest")
    for temp in plan.temps:  # left by killed publishes; never named by any feed
        target.remove(temp)
    return PublishReport(str(target), False, options.delete, plan, tuple(sent), sent_bytes, tuple(deleted),
                         written, len(plan.temps), time.monotonic() - started)
