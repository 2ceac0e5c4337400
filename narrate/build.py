"""The build: named phases (read, plan, render and encode, tag, publish, prune), doing only what changed.

Each selected episode goes through them as one frozen EpisodeWork: its plan, its artwork, and the keys
of its audio and tags, each computed by the stage that writes the thing it keys (narrate.audio.audio_key,
narrate.tags.tag_key).

Reads and validates everything before writing anything. Every output is written to a temporary file
in its final folder and renamed into place, so a killed build never leaves a half-written file where
a reader could take it for a good one. The files the feed names are named by their content and never
rewritten in place: the new ones are written first, the feed next, the build record after it, and the
files nothing names any more are removed last (see narrate.publish), so the feed and the files agree
at every instant, whenever the build is stopped.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from narrate.audio import BACKGROUND, audio_key
from narrate.cache import Cache, default_cache_dir
from narrate.cover import episode_artwork
from narrate.engines import engine_targets
from narrate.episode import EpisodeWork, build_episode, described, retag_episode
from narrate.errors import NarrateError, UserError, storage_errors
from narrate.feed import FeedItem
from narrate.fsutil import build_lock, remove_stale_temps
from narrate.model import Episode, Show
from narrate.plan import EngineInfo, EpisodePlan, Piece, plan_episode
from narrate.publish import Published, is_content_named, publish, published_files, remove_superseded
from narrate.record import EpisodeRecord, GuidRegistry, load_record, save_record
from narrate.render import render_jobs
from narrate.script import Project
from narrate.site import remove_stale_pages, write_site
from narrate.tags import Artwork, tag_key
from narrate.validate import validate_project
from narrate.wording import counted
from narrate.workers import Prestarted, cold_start

if TYPE_CHECKING:
    from narrate.shared import SharedCache

log = logging.getLogger(__name__)

class Progress:
    """Progress of a stage; the CLI replaces this silent default with a progress bar."""

    def start(self, stage: str, total: int) -> None:
        """A stage begins with `total` steps."""

    def advance(self, steps: int = 1) -> None:
        """Some steps of the current stage are done."""

    def finish(self) -> None:
        """The current stage is over."""


@dataclass(frozen=True)
class BuildOptions:
    """How to build; every field has the default the CLI uses."""

    output: Path = Path("audio")
    cache_dir: Path | None = None
    episodes: tuple[int, ...] = ()
    force: bool = False
    dry_run: bool = False
    workers: int | None = None
    timeout: float | None = None
    in_process: bool = False
    wait: bool = False
    prune: bool = False
    today: dt.date | None = None
    cluster: str | None = None  # a Dask scheduler's address: render there (narrate.cluster)
    shared_cache: str | None = None  # an fsspec URL: pieces are shared there too (narrate.shared)


@dataclass(frozen=True)
class PlanEntry:
    """What the build will do to one episode, and why."""

    number: int
    slug: str
    title: str
    action: str  # build, retag, unchanged, removed, prune
    reasons: tuple[str, ...] = ()
    to_render: int = 0  # pieces (the caption-sized parts of segments that are rendered and cached)
    segments_to_render: int = 0  # segments (paragraphs) with at least one of those pieces

    def describe(self) -> str:
        """One line for the build plan, e.g. `episode 2: 1 segment changed (scripts/002.md:41)`."""
        why = "; ".join(self.reasons)
        return f"episode {self.number}: {why or self.action}"


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode after the build."""

    number: int
    title: str
    file: str
    duration: float
    chapters: int
    size: int
    seconds: float
    action: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did (or, for a dry run, would do)."""

    plan: tuple[PlanEntry, ...]
    outcomes: tuple[EpisodeOutcome, ...] = ()
    failures: tuple[str, ...] = ()
    rendered: int = 0  # pieces rendered (or, for a dry run, to render), each once however often it is heard
    rendered_segments: int = 0  # segments, the unit of `narrate check`, with at least one of those pieces
    written: tuple[str, ...] = ()
    dry_run: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict:
        """A machine-readable summary for `--json`."""
        return {
            "dry_run": self.dry_run,
            "rendered_segments": self.rendered_segments,
            "rendered_pieces": self.rendered,
            "seconds": round(self.seconds, 3),
            "plan": [e.__dict__ | {"reasons": list(e.reasons)} for e in self.plan],
            "episodes": [o.__dict__ for o in self.outcomes],
            "written": list(self.written),
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class _Sources:
    """What the read phase found: the validated project, the selected episodes, the show's cover, the cache."""

    project: Project
    selected: tuple[Episode, ...]
    engines: EngineInfo
    artwork: Artwork
    cover_name: str
    cache: Cache
    guids: GuidRegistry
    shared: SharedCache | None = None

    @property
    def show(self) -> Show:
        return self.project.show


@dataclass(frozen=True)
class _Done:
    """Episodes written by the render-and-encode or the tag phase."""

    records: dict[str, EpisodeRecord]
    outcomes: tuple[EpisodeOutcome, ...] = ()
    failures: tuple[str, ...] = ()
    rendered: int = 0
    rendered_segments: int = 0


class _Decide(enum.Enum):
    DECIDE = "decide"


#: build()'s `early` when the caller has not decided: build() starts a cold build's workers itself.
DECIDE = _Decide.DECIDE


def build(scripts_dir: Path, options: BuildOptions, progress: Progress | None = None,
          early: Prestarted | None | _Decide = DECIDE) -> BuildReport:
    """Build (or plan, with dry_run) every selected episode and publish the show into options.output.

    `early`: what the caller decided with narrate.workers.cold_start (the CLI does, before it imports this
    module): the render workers it started for this build, lent to it and closed by the caller, or None for
    a build that starts workers only once its plan shows what is missing. Left out, build() decides itself,
    and a cold build starts its own workers before it reads the scripts.
    """
    started = time.monotonic()
    with _early_workers(scripts_dir, options) if early is DECIDE else contextlib.nullcontext(early) as lent:
        return _build(scripts_dir, options, progress, started, lent)


def _build(scripts_dir: Path, options: BuildOptions, progress: Progress | None, started: float,
           early: Prestarted | None) -> BuildReport:
    sources = _read(scripts_dir, options)
    work = _plan(sources)
    if options.dry_run:
        entries = _decide(sources, work, load_record(options.output), options)
        building = [p for e in entries if e.action == "build" for p in work[e.slug].plan.pieces]
        missing = [p for p in building if options.force or not sources.cache.has(p.key)]
        if sources.shared is not None and not options.force:
            shared = sources.shared.present(p.key for p in missing)
            missing = [p for p in missing if p.key not in shared]
        pieces, segments = _render_counts(missing)
        return BuildReport(tuple(entries), dry_run=True, rendered=pieces, rendered_segments=segments,
                           seconds=time.monotonic() - started)
    output = options.output
    # A read-only, full or vanished folder stops the build with one line naming it, and no temporary file stays.
    with storage_errors(output), build_lock(output, wait=options.wait), _no_temps_left(output):
        # Decided under the lock, so a build that finished while we waited is taken into account.
        record = load_record(output)
        entries = _decide(sources, work, record, options)
        built = _render_and_encode(sources, [work[e.slug] for e in entries if e.action == "build"], output,
                                   options, progress or Progress(), early)
        retagged = _tag(sources, work, entries, record, output)
        new_record = _next_record(entries, record, {**built.records, **retagged.records}, work)
        published, written = _publish(sources, new_record, work, output, options.today or dt.date.today())
        _prune(output, record, published, work)
    return BuildReport(
        tuple(entries), tuple(sorted(built.outcomes + retagged.outcomes, key=lambda o: o.number)), built.failures,
        rendered=built.rendered, rendered_segments=built.rendered_segments, written=tuple(written),
        seconds=time.monotonic() - started,
    )


def _early_workers(scripts_dir: Path, options: BuildOptions) -> contextlib.AbstractContextManager:
    """Workers started before the scripts are read, when the build will render everything (cold_start)."""
    return cold_start(options.cache_dir or default_cache_dir(scripts_dir), options.workers, force=options.force,
                      dry_run=options.dry_run, in_process=options.in_process, cluster=options.cluster,
                      shared=bool(options.shared_cache))


def _render_counts(pieces: Iterable[Piece]) -> tuple[int, int]:
    """(pieces, segments) of the pieces rendered or to render: a piece heard twice renders once, and every
    segment with one of them counts, so a dry run's and a build's figures are the same for the same work."""
    pieces = list(pieces)
    return len({p.key for p in pieces}), len({p.location for p in pieces})


def _read(scripts_dir: Path, options: BuildOptions) -> _Sources:
    """Phase read: validate the whole project as `narrate check` does (every problem at once, nothing written)."""
    valid = validate_project(scripts_dir)
    selected = tuple(_select(valid.project, options.episodes))
    cache = Cache(options.cache_dir or default_cache_dir(scripts_dir))
    shared = None
    if options.shared_cache:
        from narrate.shared import SharedCache  # fsspec, only for a build that shares its cache

        shared = SharedCache(options.shared_cache)
    return _Sources(valid.project, selected, EngineInfo(valid.engines), valid.artwork, valid.cover_name, cache,
                    GuidRegistry(scripts_dir), shared)


def _plan(sources: _Sources) -> dict[str, EpisodeWork]:
    """Phase plan: each selected episode's timeline, artwork, and the keys that say when to re-encode or retag."""
    show = sources.show
    work: dict[str, EpisodeWork] = {}
    for episode in sources.selected:
        plan = plan_episode(show, episode, sources.engines)
        art = episode_artwork(show, episode.image)
        artwork = (art or (sources.artwork, ""))[0]
        audio = audio_key(plan, show.audio)
        work[episode.slug] = EpisodeWork(plan, art, artwork, audio, _tag_key(show, plan, artwork, audio))
    return work


def _tag_key(show: Show, plan: EpisodePlan, artwork: Artwork, audio: str) -> str:
    """The MP3's tags (as narrate.tags keys them) and the record's fields that come from the script."""
    record = {**described(plan), "document": dataclasses.asdict(plan.episode.document)}
    material = {"tags": tag_key(show, plan.episode, artwork, audio), "record": record}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _decide(sources: _Sources, work: dict[str, EpisodeWork], record: dict[str, EpisodeRecord],
            options: BuildOptions) -> list[PlanEntry]:
    """What to do to each episode, and why: build, retag, unchanged; superseded, prune or removed for old ones."""
    entries: list[PlanEntry] = []
    for slug, item in work.items():
        episode = item.plan.episode
        old = record.get(slug)
        missing = [p for p in item.plan.pieces if not sources.cache.has(p.key)]
        changed_segments = sorted({str(p.location) for p in missing}, key=_location_order)
        reasons: list[str] = []
        if options.force:
            reasons.append("forced (--force)")
        if old is None:
            reasons.append("new episode")
        elif old.audio_key != item.audio_key:
            if changed_segments:
                where = ", ".join(changed_segments[:3]) + (", ..." if len(changed_segments) > 3 else "")
                reasons.append(f"{counted(len(changed_segments), 'segment')} changed ({where})")
            else:
                reasons.append("timing, pauses, audio settings or the ffmpeg changed")
        elif not _file_intact(options.output / old.file, old.size):
            reasons.append(f"{old.file} is missing or was changed on disk")
        if reasons:
            pieces, segments = _render_counts(item.plan.pieces if options.force else missing)
            entries.append(PlanEntry(episode.number, slug, episode.title, "build", tuple(reasons), pieces, segments))
        elif old is not None and old.tag_key != item.tag_key:
            entries.append(PlanEntry(episode.number, slug, episode.title, "retag", ("metadata or chapters changed",)))
        elif old is not None and not is_content_named(old.file, slug):
            entries.append(PlanEntry(episode.number, slug, episode.title, "retag",
                                     (f"{old.file} is published again under a name that carries its content hash",)))
        else:
            entries.append(PlanEntry(episode.number, slug, episode.title, "unchanged"))
    present = {e.slug for e in sources.project.episodes}
    numbers = {e.number for e in sources.project.episodes}
    for slug, old in record.items():
        if slug in present:
            continue
        if old.number in numbers:
            entries.append(PlanEntry(old.number, slug, old.title, "superseded",
                                     (f"{old.file} replaced by the renamed script",)))
        elif options.prune:
            entries.append(PlanEntry(old.number, slug, old.title, "prune",
                                     (f"script {old.script} removed; unpublishing (--prune)",)))
        else:
            entries.append(PlanEntry(old.number, slug, old.title, "removed",
                                     (f"script {old.script} removed; still published (use --prune to unpublish)",)))
    return sorted(entries, key=lambda e: (e.number, e.slug))


def _location_order(location: str) -> tuple[str, int]:
    path, _, line = location.rpartition(":")
    return path, int(line) if line.isdigit() else 0


def _file_intact(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _render_and_encode(sources: _Sources, to_build: list[EpisodeWork], output: Path, options: BuildOptions,
                       progress: Progress, early: Prestarted | None = None) -> _Done:
    """Phase render and encode: render the missing pieces; assemble, encode and tag each episode meanwhile.

    An episode is assembled and encoded as soon as its last piece is rendered, while the workers go on with
    the next episode: encoding overlaps rendering instead of waiting for all of it. Longest first: its encode
    is the longest, so it should start while the others still render.
    """
    show, cache = sources.show, sources.cache
    to_build = sorted(to_build, key=lambda w: -sum(len(piece.spoken) for piece in w.plan.pieces))
    pieces = _pieces_to_render(to_build, cache, options.force)
    shared = sources.shared
    in_shared: set[str] = set()
    if shared is not None:
        found = shared.present(p.key for w in to_build for p in w.plan.pieces)
        in_shared = set(found)
        if not options.force:
            pieces, in_shared = _fetch_shared(shared, pieces, found, cache, progress)
    waiting = {w.slug: {p.key for p in pieces} & {p.key for p in w.plan.pieces} for w in to_build}
    futures: dict[str, Future[tuple[EpisodeRecord, EpisodeOutcome]]] = {}
    rendered: list[str] = []
    # Connected and checked before anything is encoded: a cluster that differs from this machine stops the build.
    cluster = options.cluster or show.render.cluster
    with _cluster(cluster, pieces, sources) as remote, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:

        def release(ready: Iterable[EpisodeWork]) -> None:
            for w in ready:
                # The longest episode's encode ends the build: the others' ffmpeg runs give way to it.
                context = contextvars.copy_context()
                context.run(BACKGROUND.set, w is not to_build[0])
                futures[w.slug] = pool.submit(context.run, _encode, w, show, cache, output)

        def on_done(piece: Piece) -> None:
            rendered.append(piece.key)
            progress.advance()
            for keys in waiting.values():
                keys.discard(piece.key)
            release([w for w in to_build if not waiting[w.slug] and w.slug not in futures])

        release([w for w in to_build if not waiting[w.slug]])
        log.debug("stage render: %s to render", counted(len(pieces), "piece"))
        progress.start("rendering pieces" + (f" on {cluster}" if remote else ""), len(pieces))
        if remote:
            failures = remote.render(pieces, cache, timeout=options.timeout or show.render.timeout, on_done=on_done,
                                     shared=shared)
            in_shared |= remote.stored  # written there by the workers
        else:
            failures = render_jobs(
                pieces, cache, engine_targets(), workers=options.workers or show.render.workers,
                timeout=options.timeout or show.render.timeout, on_done=on_done, in_process=options.in_process,
                prestarted=early,
            )
        progress.finish()
        failure_lines = [str(f) for f in failures]
        if shared is not None:
            # Every piece of the episodes built goes to the shared cache (also one only this machine had).
            upload = {p.key for w in to_build for p in w.plan.pieces} - in_shared
            if options.force:
                upload |= set(rendered) - (remote.stored if remote else set())
            failure_lines += _upload_shared(shared, upload, cache, progress)
        for w in to_build:
            if w.slug not in futures:
                # After a failure no new piece starts: this episode keeps its published version.
                log.warning("episode %d not rebuilt: rendering stopped before all its segments were done; "
                            "its published version stays", w.plan.episode.number)
        progress.start("assembling and encoding episodes", len(futures))
        done = _collect(futures, {w.slug: w for w in to_build}, failure_lines, progress)
        progress.finish()
    keys = set(rendered)
    pieces_done, segments_done = _render_counts(p for w in to_build for p in w.plan.pieces if p.key in keys)
    return dataclasses.replace(done, rendered=pieces_done, rendered_segments=segments_done)


def _fetch_shared(shared: SharedCache, pieces: list[Piece], found: dict[str, bytes | None], cache: Cache,
                  progress: Progress) -> tuple[list[Piece], set[str]]:
    """Copy the missing pieces the shared cache has (`found`, SharedCache.present) into the local one;
    (the pieces still to render, the keys of the shared cache's good entries)."""
    wanted = {p.key: p.spoken for p in pieces if p.key in found}
    if not wanted:
        return pieces, set(found)
    cache.check_writable()
    progress.start(f"fetching pieces from {shared.url}", len(wanted))
    fetched = shared.fetch(wanted, cache, wanted, advance=progress.advance, found=found)
    progress.finish()
    log.debug("stage render: %s fetched from the shared cache %s", counted(len(fetched), "piece"), shared.url)
    # A damaged entry is not one: its piece is rendered here and stored there again.
    return [p for p in pieces if p.key not in fetched], set(found) - (wanted.keys() - fetched)


def _upload_shared(shared: SharedCache, keys: set[str], cache: Cache, progress: Progress) -> list[str]:
    """Copy these pieces of the local cache into the shared one; the failure's line, if it failed."""
    keys = {key for key in keys if cache.has(key)}
    if not keys:
        return []
    progress.start(f"storing pieces in {shared.url}", len(keys))
    try:
        stored = shared.upload(keys, cache, advance=progress.advance)
    except NarrateError as exc:
        return [f"{exc.message} (the episodes were built; the pieces not stored there are in {cache.root} only)"]
    finally:
        progress.finish()
    log.debug("stage render: %s stored in the shared cache %s", counted(stored, "piece"), shared.url)
    return []


def _cluster(address: str | None, pieces: list[Piece], sources: _Sources) -> contextlib.AbstractContextManager:
    """The cluster session to render on (narrate.cluster, imported only then), or None: render locally."""
    if not (address and pieces):
        return contextlib.nullcontext(None)
    from narrate.cluster import cluster_session

    return cluster_session(address, pieces, sources.engines, engine_targets())


def _collect(futures: dict[str, Future[tuple[EpisodeRecord, EpisodeOutcome]]], work: dict[str, EpisodeWork],
             failure_lines: list[str], progress: Progress) -> _Done:
    """The records of the episodes built; a failed one keeps its published version while the others publish."""
    records: dict[str, EpisodeRecord] = {}
    outcomes: list[EpisodeOutcome] = []
    slugs = {future: slug for slug, future in futures.items()}
    for future in as_completed(futures.values()):
        try:
            rec, outcome = future.result()
        except NarrateError as exc:
            # The episode's script is the place, unless the message names its own (a segment's line,
            # the show's intro file: then said once, not once per episode).
            where = "" if exc.located else f"{work[slugs[future]].plan.episode.path}: "
            if f"{where}{exc.message}" not in failure_lines:
                failure_lines.append(f"{where}{exc.message}")
            continue
        records[rec.slug] = rec
        outcomes.append(outcome)
        progress.advance()
    return _Done(records, tuple(outcomes), tuple(failure_lines))


def _tag(sources: _Sources, work: dict[str, EpisodeWork], entries: list[PlanEntry],
         record: dict[str, EpisodeRecord], output: Path) -> _Done:
    """Phase tag: rewrite the tags of episodes whose audio is unchanged; the unchanged ones as they are."""
    records: dict[str, EpisodeRecord] = {}
    outcomes: list[EpisodeOutcome] = []
    for entry in entries:
        if entry.action == "retag":
            t0 = time.monotonic()
            records[entry.slug] = rec = retag_episode(work[entry.slug], sources.show, record[entry.slug], output)
            outcomes.append(_outcome(rec, time.monotonic() - t0, "retagged"))
        elif entry.action == "unchanged":
            outcomes.append(_outcome(record[entry.slug], 0.0, "unchanged"))
    return _Done(records, tuple(outcomes))


def _next_record(entries: list[PlanEntry], record: dict[str, EpisodeRecord], written: dict[str, EpisodeRecord],
                 work: dict[str, EpisodeWork]) -> dict[str, EpisodeRecord]:
    """The episodes to publish: the previous record, with the episodes written, without pruned or superseded ones."""
    new_record = {**record, **written}
    numbers_built = {rec.number for slug, rec in new_record.items() if slug in work}
    for entry in entries:
        # A renamed script's old files go only once the episode is published under its new name;
        # like a pruned episode's, they are removed after the new feed is in place.
        superseded = entry.action == "superseded" and entry.number in numbers_built
        if entry.action == "prune" or superseded:
            new_record.pop(entry.slug, None)
    return new_record


def _publish(sources: _Sources, new_record: dict[str, EpisodeRecord], work: dict[str, EpisodeWork], output: Path,
             today: dt.date) -> tuple[Published, list[str]]:
    """Phase publish: GUIDs, then chapters, transcripts, art, the site's pages and the feed, then the build record."""
    guids = sources.guids
    for rec in new_record.values():
        guids.ensure(rec.number, rec.title)
    written: list[str] = []
    # Before the feed: a GUID the feed publishes must already be on disk.
    if guids.save():
        written.append(str(guids.path))
    log.debug("stage publish: chapters, transcripts, cover, the site, then the feed")

    def site(items: Sequence[FeedItem], cover: str) -> tuple[Sequence[str], Mapping[str, str]]:
        pages = write_site(sources.show, [item.record for item in items], output, cover)
        return pages.written, pages.pages

    published = publish(sources.show, new_record, guids, output, sources.artwork, sources.cover_name,
                        {slug: w.art for slug, w in work.items()}, today, site=site)
    written[:0] = published.written
    log.debug("stage record: the build record")
    if save_record(output, published.records, targets=sources.show.audio):
        log.debug("build record updated")
    return published, written


def _prune(output: Path, record: dict[str, EpisodeRecord], published: Published, work: dict[str, EpisodeWork]) -> None:
    """Phase prune: once the new feed and record are in place, remove the files nothing names any more."""
    log.debug("stage cleanup: removing files nothing names any more")
    new_record = published.records
    keep = {published.cover, *published.archives, *(name for rec in new_record.values() for name in published_files(rec))}
    previous = {name for rec in record.values() for name in published_files(rec)}
    remove_superseded(output, keep, previous, slugs={*record, *new_record, *work},
                      art_names=[name for rec in (*record.values(), *new_record.values())
                                 for kind, name in rec.sidecars.items() if kind == "art"]
                      + [w.art[1] for w in work.values() if w.art])
    remove_stale_pages(output, published.pages.values(), slugs={*record, *new_record, *work})


def _select(project: Project, numbers: tuple[int, ...]) -> list[Episode]:
    if not numbers:
        return list(project.episodes)
    known = {e.number for e in project.episodes}
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise UserError(f"no episode {', '.join(map(str, unknown))} "
                        f"(episodes: {', '.join(str(n) for n in sorted(known))})")
    return [e for e in project.episodes if e.number in numbers]


def _pieces_to_render(to_build: list[EpisodeWork], cache: Cache, force: bool) -> list[Piece]:
    pieces: dict[str, Piece] = {}
    for work in to_build:
        for piece in work.plan.pieces:
            # A full check (checksum), so a truncated or corrupt entry is rendered again, not assembled.
            if piece.key not in pieces and (force or cache.get(piece.key) is None):
                pieces[piece.key] = piece
    return list(pieces.values())


def _encode(work: EpisodeWork, show: Show, cache: Cache, output: Path) -> tuple[EpisodeRecord, EpisodeOutcome]:
    t0 = time.monotonic()
    rec = build_episode(work, show, cache, output)
    return rec, _outcome(rec, time.monotonic() - t0, "built")


def _outcome(rec: EpisodeRecord, seconds: float, action: str) -> EpisodeOutcome:
    return EpisodeOutcome(rec.number, rec.title, rec.file, rec.duration, len(rec.chapters), rec.size, seconds, action)


@contextlib.contextmanager
def _no_temps_left(folder: Path) -> Iterator[None]:
    """Under the build lock every temporary file in the output folder is this build's: none outlives it."""
    remove_stale_temps(folder)
    try:
        yield
    finally:
        remove_stale_temps(folder)
