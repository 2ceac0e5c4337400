"""A pure function decides what a publish sends and deletes, and why: the local show against the target's state.

What the target holds is read twice over: its manifest says what narrate sent (hashes, sizes, headers), its
listing says what is really there. The listing wins where they disagree and checking is cheap: a file the
manifest lists but the target lacks, or holds with another size, is sent again. A content-named file the
target holds with the right size needs no manifest entry: its name is a hash of its bytes, and narrate
only ever writes a file under its final name whole (so after a killed publish, what did arrive counts).
"""
from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from narrate.deploy.headers import FileHeaders, kind_of, phase_order
from narrate.deploy.localshow import LocalFile
from narrate.deploy.manifest import Manifest, RemoteEntry
from narrate.fsutil import TMP_PREFIX
from narrate.publish import CONTENT_NAME_RE, plain_name


@dataclass(frozen=True)
class Upload:
    """One file to send, with the reason (`new`, `changed`, `missing on the target`...)."""

    name: str
    size: int
    reason: str
    kind: str


@dataclass(frozen=True)
class Removal:
    """One file to remove from the target (with --delete), or to leave there (without), and why it is stale."""

    name: str
    size: int
    reason: str


@dataclass(frozen=True)
class DeployPlan:
    """Everything a publish does, in order: uploads (media, pages, feed), the manifest, then deletions."""

    uploads: tuple[Upload, ...]
    deletions: tuple[Removal, ...]
    kept: tuple[Removal, ...]
    temps: tuple[str, ...]
    unchanged: int
    manifest: Manifest
    manifest_changed: bool
    #: Written after the media and before the pages and feed when those replace files the manifest lists:
    #: their entries dropped, so a publish killed after the new feed but before the final manifest cannot
    #: leave a manifest vouching for the old feed (a feed of the same size would then pass for unchanged).
    pending: Manifest | None = None

    @property
    def nothing_to_do(self) -> bool:
        return not (self.uploads or self.deletions or self.manifest_changed)

    @property
    def upload_bytes(self) -> int:
        return sum(u.size for u in self.uploads)


def folders_to_list(local: Mapping[str, LocalFile], manifest: Manifest) -> set[str]:
    """The target's folders a plan needs to see: the root and each folder a file is or was in."""
    return {""} | {posixpath.dirname(name) for name in [*local, *manifest.files, *manifest.stale]}


def _reason(file: LocalFile, remote_size: int | None, entry: RemoteEntry | None,
            headers: tuple[tuple[str, str], ...]) -> str | None:
    """Why a file must be sent, or None when the target already has it."""
    if remote_size is None:
        return "new" if entry is None else "missing on the target"
    if entry is not None and entry.sha256 != file.sha256:
        return "changed"
    if remote_size != file.size:
        return f"the target's copy has {remote_size} bytes, not {file.size}"
    if entry is None:
        # A content-named file of the right size is the file (its name is its hash); another is unknown.
        return None if CONTENT_NAME_RE.match(posixpath.basename(file.name)) else "not in the target's manifest"
    if headers and entry.headers != headers:
        return "headers changed (" + ", ".join(f"{k}: {v}" for k, v in headers
                                                 if dict(entry.headers).get(k) != v) + ")"
    return None


def plan_deploy(local: Mapping[str, LocalFile], manifest: Manifest, remote: Mapping[str, int],
                headers: Callable[[str], FileHeaders | None], delete: bool,
                manifest_bytes: bytes | None) -> DeployPlan:
    """Decide what to send (in phase order), what is stale (deleted with `delete`), and the new manifest."""
    uploads: list[Upload] = []
    files: dict[str, RemoteEntry] = {}
    unchanged = 0
    for name in sorted(local, key=phase_order):
        file = local[name]
        sent_with = headers(name)
        header_items = tuple(sorted(sent_with.as_dict().items())) if sent_with else ()
        reason = _reason(file, remote.get(name), manifest.files.get(name), header_items)
        if reason is None:
            unchanged += 1
        else:
            uploads.append(Upload(name, file.size, reason, kind_of(name)))
        files[name] = RemoteEntry(file.sha256, file.size, header_items)

    # Stale: what narrate published here before (manifest, or narrate's naming for a file it knows) and the
    # show no longer has. Anything else on the target is someone else's and is never touched.
    ours = {plain_name(posixpath.basename(n)) for n in [*local, *manifest.files, *manifest.stale]}
    stale: list[Removal] = []
    temps: list[str] = []
    for name in sorted(remote):
        base = posixpath.basename(name)
        if base.startswith(TMP_PREFIX):
            temps.append(name)
            continue
        if name in local or base.startswith("."):
            continue
        if name in manifest.files or name in manifest.stale:
            stale.append(Removal(name, remote[name], "no longer in the show"))
        elif CONTENT_NAME_RE.match(base) and plain_name(base) in ours:
            stale.append(Removal(name, remote[name], f"an older version of {plain_name(base)}"))
    deletions = tuple(stale) if delete else ()
    kept = () if delete else tuple(stale)
    new_manifest = Manifest(files, tuple(r.name for r in kept))
    replaced = {u.name for u in uploads if u.kind != "media" and u.name in manifest.files}
    pending = None
    if replaced:
        vouched = {n: e for n, e in manifest.files.items() if n not in replaced}
        vouched.update({u.name: files[u.name] for u in uploads if u.kind == "media"})
        pending = Manifest(vouched, manifest.stale)
    return DeployPlan(tuple(uploads), deletions, kept, tuple(temps), unchanged, new_manifest,
                      new_manifest.to_bytes() != manifest_bytes, pending)
