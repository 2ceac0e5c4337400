"""The build: parse -> plan -> render -> assemble -> encode and tag -> publish, doing only what changed.

Reads and validates everything before writing anything. Every output is written to a temporary file
in its final folder and renamed into place, so a killed build never leaves a half-written file where
a reader could take it for a good one. The files the feed names are named by their content and never
rewritten in place: the new ones are written first, the feed next, the build record after it, and the
files nothing names any more are removed last (see narrate.publish), so the feed and the files agree
at every instant, whenever the build is stopped.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from narrate.audio import assemble, encode_mp3
from narrate.cache import Cache
from narrate.cover import episode_artwork, load_artwork
from narrate.engines import engine_targets
from narrate.errors import NarrateError, UserError, storage_errors
from narrate.fsutil import build_lock, content_name, file_digest, remove_stale_temps, replace as move_into_place
from narrate.fsutil import is_regular_file, previous_version, temp_path
from narrate.model import Episode, Show
from narrate.plan import EngineInfo, EpisodePlan, Piece, plan_episode
from narrate.publish import is_content_named, publish, published_files, remove_superseded
from narrate.record import ChapterTime, Cue, EpisodeRecord, GuidRegistry, load_record, save_record
from narrate.render import RenderJob, render_jobs
from narrate.script import Project, load_project
from narrate.tags import Artwork, full_text, write_tags
from narrate.voices import prepare_engines

log = logging.getLogger(__name__)

TAG_FORMAT = 2  # 2: CHAP frames in time order after the CTOC, v2.3 date frames


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


@dataclass(frozen=True)
class PlanEntry:
    """What the build will do to one episode, and why."""

    number: int
    slug: str
    title: str
    action: str  # build, retag, unchanged, removed, prune
    reasons: tuple[str, ...] = ()
    to_render: int = 0

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
    rendered: int = 0
    written: tuple[str, ...] = ()
    dry_run: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict:
        """A machine-readable summary for `--json`."""
        return {
            "dry_run": self.dry_run,
            "rendered_segments": self.rendered,
            "seconds": round(self.seconds, 3),
            "plan": [e.__dict__ | {"reasons": list(e.reasons)} for e in self.plan],
            "episodes": [o.__dict__ for o in self.outcomes],
            "written": list(self.written),
            "failures": list(self.failures),
        }


def default_cache_dir(scripts_dir: Path) -> Path:
    """The cache lives beside the scripts folder, in `.narrate-cache` (override: NARRATE_CACHE_DIR)."""
    env = os.environ.get("NARRATE_CACHE_DIR")
    return Path(env) if env else scripts_dir.resolve().parent / ".narrate-cache"


def tag_key(show: Show, episode: Episode, plan: EpisodePlan, artwork: Artwork | None) -> str:
    """Fingerprint of everything written into the MP3's tags."""
    material = {
        "format": TAG_FORMAT, "audio": plan.audio_key, "title": episode.title, "number": episode.number,
        "date": episode.release_date.isoformat(), "summary": episode.summary, "document": episode.document.__dict__,
        "link": episode.link, "text": full_text(episode), "chapters": [c.title for c in episode.chapters],
        "show": [show.title, show.author, show.copyright, show.language],
        "art": hashlib.sha256(artwork.data).hexdigest() if artwork else None,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _plan_entries(project: Project, plans: dict[str, EpisodePlan], tag_keys: dict[str, str],
                  record: dict[str, EpisodeRecord], output: Path, cache: Cache, options: BuildOptions) -> list[PlanEntry]:
    entries: list[PlanEntry] = []
    for slug, plan in plans.items():
        episode = plan.episode
        old = record.get(slug)
        missing = [p for p in dict((p.key, p) for p in plan.pieces).values() if not cache.has(p.key)]
        changed_segments = sorted({str(p.location) for p in missing}, key=_location_order)
        reasons: list[str] = []
        if options.force:
            reasons.append("forced (--force)")
        if old is None:
            reasons.append("new episode")
        elif old.audio_key != plan.audio_key:
            if changed_segments:
                where = ", ".join(changed_segments[:3]) + (", ..." if len(changed_segments) > 3 else "")
                reasons.append(f"{len(changed_segments)} segment{'s' * (len(changed_segments) != 1)} "
                               f"changed ({where})")
            else:
                reasons.append("timing, pauses, audio settings or the ffmpeg changed")
        elif not _file_intact(output / old.file, old.size):
            reasons.append(f"{old.file} is missing or was changed on disk")
        if reasons:
            entries.append(PlanEntry(episode.number, slug, episode.title, "build", tuple(reasons), len(missing)))
        elif old is not None and old.tag_key != tag_keys[slug]:
            entries.append(PlanEntry(episode.number, slug, episode.title, "retag", ("metadata or chapters changed",)))
        elif old is not None and not is_content_named(old.file, slug):
            entries.append(PlanEntry(episode.number, slug, episode.title, "retag",
                                     (f"{old.file} is published again under a name that carries its content hash",)))
        else:
            entries.append(PlanEntry(episode.number, slug, episode.title, "unchanged"))
    present = {e.slug for e in project.episodes}
    numbers = {e.number for e in project.episodes}
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


def build(scripts_dir: Path, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Build (or plan, with dry_run) every selected episode and publish the show into options.output."""
    started = time.monotonic()
    progress = progress or Progress()
    project = load_project(scripts_dir)
    show = project.show
    selected = _select(project, options.episodes)
    engines = prepare_engines(project)
    artwork, cover_name = load_artwork(show)
    info = EngineInfo(engines)
    output = options.output
    cache = Cache(options.cache_dir or default_cache_dir(scripts_dir))
    plans = {e.slug: plan_episode(show, e, info) for e in selected}
    episode_art = {e.slug: episode_artwork(show, e.image) for e in selected}

    def art_for(slug: str) -> Artwork:
        return (episode_art[slug] or (artwork, ""))[0]

    tag_keys = {slug: tag_key(show, p.episode, p, art_for(slug)) for slug, p in plans.items()}
    guids = GuidRegistry(scripts_dir)
    if options.dry_run:
        entries = _plan_entries(project, plans, tag_keys, load_record(output), output, cache, options)
        return BuildReport(tuple(entries), dry_run=True, rendered=sum(e.to_render for e in entries),
                           seconds=time.monotonic() - started)

    # A read-only, full or vanished folder stops the build with one line naming it, and no temporary file stays.
    with storage_errors(output), build_lock(output, wait=options.wait), _no_temps_left(output):
        # Planned under the lock, so a build that finished while we waited is taken into account.
        record = load_record(output)
        entries = _plan_entries(project, plans, tag_keys, record, output, cache, options)
        # Longest first: its encode is the longest, so it should start while the others still render.
        to_build = sorted((plans[e.slug] for e in entries if e.action == "build"),
                          key=lambda p: -sum(len(piece.spoken) for piece in p.pieces))
        jobs = _render_jobs(to_build, cache, options.force)
        outcomes: list[EpisodeOutcome] = []
        new_record = dict(record)

        def finish_episode(plan: EpisodePlan) -> EpisodeRecord:
            t0 = time.monotonic()
            rec = _build_episode(plan, show, cache, output, art_for(plan.episode.slug), tag_keys[plan.episode.slug])
            outcomes.append(_outcome(rec, time.monotonic() - t0, "built"))
            return rec

        # An episode is assembled and encoded as soon as its last piece is rendered, while the workers go
        # on with the next episode: encoding overlaps rendering instead of waiting for all of it.
        waiting = {p.episode.slug: {j.key for j in jobs} & {piece.key for piece in p.pieces} for p in to_build}
        futures: dict[str, Future[EpisodeRecord]] = {}
        done: list[str] = []
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:

            def release(plan: EpisodePlan) -> None:
                futures[plan.episode.slug] = pool.submit(finish_episode, plan)

            def rendered(job: RenderJob) -> None:
                done.append(job.key)
                progress.advance()
                for plan in to_build:
                    keys = waiting[plan.episode.slug]
                    if job.key in keys:
                        keys.discard(job.key)
                        if not keys:
                            release(plan)

            for plan in to_build:
                if not waiting[plan.episode.slug]:
                    release(plan)
            log.debug("stage render: %d segments to render", len(jobs))
            progress.start("rendering segments", len(jobs))
            failures = render_jobs(
                jobs, cache, engine_targets(), workers=options.workers or show.render.workers,
                timeout=options.timeout or show.render.timeout, on_done=rendered, in_process=options.in_process,
            )
            progress.finish()
            for plan in to_build:
                if plan.episode.slug not in futures:
                    # After a failure no new piece starts: this episode keeps its published version.
                    log.warning("episode %d not rebuilt: rendering stopped before all its segments were done; "
                                "its published version stays", plan.episode.number)
            progress.start("assembling and encoding episodes", len(futures))
            failure_lines = [str(f) for f in failures]
            slugs = {future: slug for slug, future in futures.items()}
            for future in as_completed(futures.values()):
                try:
                    rec = future.result()
                except NarrateError as exc:
                    # This episode keeps its published version; the others still publish.
                    failure_lines.append(f"{plans[slugs[future]].episode.path}: {exc.message}")
                    continue
                new_record[rec.slug] = rec
                progress.advance()
            progress.finish()
        for entry in entries:
            if entry.action == "retag":
                t0 = time.monotonic()
                plan = plans[entry.slug]
                rec = _retag(plan, show, record[entry.slug], output, art_for(entry.slug), tag_keys[entry.slug])
                new_record[entry.slug] = rec
                outcomes.append(_outcome(rec, time.monotonic() - t0, "retagged"))
            elif entry.action == "unchanged":
                outcomes.append(_outcome(record[entry.slug], 0.0, "unchanged"))
        numbers_built = {rec.number for slug, rec in new_record.items() if slug in plans}
        for entry in entries:
            # A renamed script's old files go only once the episode is published under its new name;
            # like a pruned episode's, they are removed after the new feed is in place.
            superseded = entry.action == "superseded" and entry.number in numbers_built
            if (entry.action == "prune" or superseded) and entry.slug in new_record:
                new_record.pop(entry.slug)
        for rec in new_record.values():
            guids.ensure(rec.number, rec.title)
        written: list[str] = []
        # Before the feed: a GUID the feed publishes must already be on disk.
        if guids.save():
            written.append(str(guids.path))
        log.debug("stage publish: chapters, transcripts, cover, then the feed")
        published = publish(show, new_record, guids, output, artwork, cover_name, episode_art,
                            options.today or dt.date.today())
        written[:0] = published.written
        new_record = published.records
        log.debug("stage record: the build record")
        if save_record(output, new_record, targets=show.audio):
            log.debug("build record updated")
        log.debug("stage cleanup: removing files nothing names any more")
        keep = {published.cover, *(name for rec in new_record.values() for name in published_files(rec))}
        previous = {name for rec in record.values() for name in published_files(rec)}
        remove_superseded(output, keep, previous, slugs={*record, *new_record, *plans},
                          art_names=[name for rec in (*record.values(), *new_record.values())
                                     for kind, name in rec.sidecars.items() if kind == "art"]
                          + [art[1] for art in episode_art.values() if art])
    return BuildReport(
        tuple(entries), tuple(sorted(outcomes, key=lambda o: o.number)), tuple(failure_lines),
        rendered=len(done), written=tuple(written), seconds=time.monotonic() - started,
    )


def _select(project: Project, numbers: tuple[int, ...]) -> list[Episode]:
    if not numbers:
        return list(project.episodes)
    known = {e.number for e in project.episodes}
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise UserError(f"no episode {', '.join(map(str, unknown))} "
                        f"(episodes: {', '.join(str(n) for n in sorted(known))})")
    return [e for e in project.episodes if e.number in numbers]


def _render_jobs(plans: list[EpisodePlan], cache: Cache, force: bool) -> list[RenderJob]:
    jobs: dict[str, RenderJob] = {}
    for plan in plans:
        for piece in plan.pieces:
            # A full check (checksum), so a truncated or corrupt entry is rendered again, not assembled.
            if piece.key not in jobs and (force or cache.get(piece.key) is None):
                jobs[piece.key] = RenderJob(piece.key, piece.spoken, piece.voice, str(piece.location))
    return list(jobs.values())


def _timings(plan: EpisodePlan, placements: dict[int, tuple[float, float]], duration: float
             ) -> tuple[tuple[ChapterTime, ...], tuple[Cue, ...]]:
    starts = [0.0 if i == 0 else placements[index][0] for i, index in enumerate(plan.chapter_starts)]
    ends = starts[1:] + [duration]
    chapters = tuple(ChapterTime(c.title, round(s, 3), round(e, 3))
                     for c, s, e in zip(plan.episode.chapters, starts, ends))
    cues = tuple(
        Cue(round(placements[i][0], 3), round(placements[i][1], 3), item.text, item.role)
        for i, item in enumerate(plan.timeline) if isinstance(item, Piece)
    )
    return chapters, cues


def _record_for(plan: EpisodePlan, show: Show, file: str, size: int, duration: float, tag: str,
                chapters: tuple[ChapterTime, ...], cues: tuple[Cue, ...]) -> EpisodeRecord:
    episode = plan.episode
    voices = tuple(sorted({f"{p.voice.engine} {p.voice.voice}" for p in plan.pieces}))
    return EpisodeRecord(
        number=episode.number, slug=episode.slug, script=episode.path, title=episode.title,
        summary=episode.summary, release_date=episode.release_date.isoformat(), episode_type=episode.episode_type,
        file=file, size=size, duration=round(duration, 3), audio_key=plan.audio_key, tag_key=tag,
        chapters=chapters, cues=cues, document={**episode.document.__dict__, "authors": list(episode.document.authors)},
        voices=voices, image=episode.image or "", link=episode.link,
    )


def _build_episode(plan: EpisodePlan, show: Show, cache: Cache, output: Path, artwork: Artwork | None,
                   tag: str) -> EpisodeRecord:
    """Assemble, encode, tag and move one episode into place, under a name of its own bytes."""
    episode = plan.episode
    log.debug("stage assemble: episode %d", episode.number)
    assembled = assemble(plan, cache, output)
    mp3 = temp_path(output, suffix=".mp3")
    try:
        log.debug("stage encode: episode %d", episode.number)
        encode_mp3(assembled, mp3, show.audio)
        placements = {p.index: (p.start, p.end) for p in assembled.placements}
        chapters, cues = _timings(plan, placements, assembled.duration)
        log.debug("stage tag: episode %d", episode.number)
        write_tags(mp3, show, episode, chapters, artwork)
        file, size = _place_mp3(mp3, output, episode.slug)
    finally:
        mp3.unlink(missing_ok=True)
        assembled.wav.unlink(missing_ok=True)
    log.info("built %s (%.1f min)", file, assembled.duration / 60)
    return _record_for(plan, show, file, size, assembled.duration, tag, chapters, cues)


def _retag(plan: EpisodePlan, show: Show, old: EpisodeRecord, output: Path, artwork: Artwork | None,
           tag: str) -> EpisodeRecord:
    """Rewrite only the tags of an episode whose audio is unchanged."""
    episode = plan.episode
    chapters = tuple(ChapterTime(c.title, t.start, t.end) for c, t in zip(episode.chapters, old.chapters))
    tmp = temp_path(output, suffix=".mp3")
    try:
        shutil.copyfile(output / old.file, tmp)
        log.debug("stage tag: episode %d (retag)", episode.number)
        write_tags(tmp, show, episode, chapters, artwork)
        file, size = _place_mp3(tmp, output, episode.slug)
    finally:
        tmp.unlink(missing_ok=True)
    return _record_for(plan, show, file, size, old.duration, tag, chapters, old.cues)


def _place_mp3(tmp: Path, output: Path, slug: str) -> tuple[str, int]:
    """Rename a finished MP3 to `SLUG.<hash>.mp3`; the (name, size). A file already there has these very bytes."""
    file = content_name(slug, ".mp3", file_digest(tmp))
    size = tmp.stat().st_size
    dest = output / file
    try:
        same = is_regular_file(dest) and dest.stat().st_size == size and file_digest(dest) == file_digest(tmp)
    except OSError:
        same = False
    if not same:
        move_into_place(tmp, dest, like=previous_version(output, slug, ".mp3"))
    return file, size


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
