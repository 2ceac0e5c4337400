"""The command line: each command parses its options and calls one function of the library."""
from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import click

from narrate import __version__
from narrate.errors import NarrateError, UserError, os_error_message
from narrate.limits import (LOUDNESS, MAX_EPISODE_NUMBER, MAX_RATE, MAX_TIMEOUT, MAX_WORKERS, MIN_RATE, TRUE_PEAK,
                            single_threaded_blas)

single_threaded_blas()  # before any command imports numpy
log = logging.getLogger("narrate")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if verbose else "%(message)s"))
    root = logging.getLogger("narrate")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False  # libraries that log on the root logger (pyttsx3) must not duplicate our lines


class NarrateGroup(click.Group):
    """Turns unexpected exceptions into exit status 1 with a one-line message (traceback with -v)."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as exc:  # a file system problem the library did not name itself: still one plain line
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            click.echo(f"error: {os_error_message(exc)}", err=True)
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)", err=True)
            sys.exit(1)


@click.group(cls=NarrateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="narrate")
@click.option("-v", "--verbose", count=True, help="Show debug logging and tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars or tables.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """narrate: turn documents into a narrated podcast."""
    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, quiet=quiet)
    _setup_logging(verbose, quiet)


class Number(click.ParamType):
    """A finite number from `low` to `high` (above `low` when `above`): never nan or inf, whatever float() takes."""

    name = "number"

    def __init__(self, low: float, high: float, what: str = "a number", above: bool = False) -> None:
        self.low, self.high, self.what, self.above = low, high, what, above

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not {self.what}", param, ctx)
        in_range = (self.low < number if self.above else self.low <= number) and number <= self.high
        if not (math.isfinite(number) and in_range):
            bounds = f"above {self.low:g}" if self.above else f"from {self.low:g}"
            self.fail(f"{value} is not {self.what} {bounds} and at most {self.high:g}", param, ctx)
        return number


class ClusterAddress(click.ParamType):
    """A Dask scheduler's address, checked as `render.cluster` in the show file is."""

    name = "address"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        from narrate.config import cluster_address_problem

        problem = cluster_address_problem(value)
        if problem:
            self.fail(problem, param, ctx)
        return value.strip()


class CacheLocation(click.ParamType):
    """A cache folder, or the fsspec URL of a shared cache (SCHEME://...: narrate.shared)."""

    name = "folder|url"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        from narrate.fsutil import is_url

        if isinstance(value, str) and is_url(value.strip()):
            return value.strip()
        return Path(value)


SCRIPTS = click.argument("scripts_dir", type=click.Path(path_type=Path), default="scripts", required=False)


@main.command()
@SCRIPTS
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default="audio", show_default=True,
              help="Folder for the episodes and the published show.")
@click.option("--episode", "episodes", type=int, multiple=True, help="Build only episode N (repeatable).")
@click.option("--dry-run", is_flag=True, help="Print what would be rebuilt and why; touch nothing.")
@click.option("--force", is_flag=True, help="Render and rebuild everything, ignoring the cache.")
@click.option("--prune", is_flag=True, help="Unpublish episodes whose script was removed.")
@click.option("--workers", type=click.IntRange(min=1, max=MAX_WORKERS), default=None,
              help=f"Render processes, 1 to {MAX_WORKERS} (default: one per core).")
@click.option("--timeout", type=Number(0, MAX_TIMEOUT, "a number of seconds", above=True), default=None,
              help=f"Seconds one piece (a caption-sized part of a segment) may take to render, above 0 and at "
                   f"most {MAX_TIMEOUT:g} (default 120).")
@click.option("--cache-dir", type=CacheLocation(), default=None,
              help="Segment cache folder (default: .narrate-cache beside the scripts folder), or the fsspec URL of "
                   "a shared cache (s3://BUCKET/PATH, file:///PATH), used beside the default folder.")
@click.option("--cluster", type=ClusterAddress(), default=None,
              help="Render on the Dask cluster whose scheduler is at tcp://HOST:PORT (needs narrate[dask]).")
@click.option("--wait", is_flag=True, help="Wait for another build on the same output instead of refusing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or table; errors only (for scripts).")
@click.pass_context
def build(ctx: click.Context, scripts_dir: Path, output: Path, episodes: tuple[int, ...], dry_run: bool, force: bool,
          prune: bool, workers: int | None, timeout: float | None, cache_dir: Path | str | None, cluster: str | None,
          wait: bool, as_json: bool, quiet: bool) -> None:
    """Build every episode in SCRIPTS_DIR (default: scripts) into OUTPUT, with the feed."""
    from narrate.cache import default_cache_dir
    from narrate.workers import cold_start

    if quiet:
        ctx.obj["quiet"] = True
        _setup_logging(0, True)
    quiet = ctx.obj["quiet"] or as_json
    shared_cache = cache_dir if isinstance(cache_dir, str) else None
    cache_dir = None if shared_cache else cache_dir
    # A cold build's render workers start first: they import their engines on another core while this
    # process imports the build's own modules, then reads and plans.
    with cold_start(cache_dir or default_cache_dir(scripts_dir), workers, force=force, dry_run=dry_run,
                    cluster=cluster, shared=bool(shared_cache)) as early:
        from narrate.build import BuildOptions
        from narrate.build import build as run_build
        from narrate.ui import BarProgress

        options = BuildOptions(output=output, cache_dir=cache_dir, episodes=episodes, force=force, dry_run=dry_run,
                               workers=workers, timeout=timeout, wait=wait, prune=prune, cluster=cluster,
                               shared_cache=shared_cache)
        report = run_build(scripts_dir, options, progress=None if quiet else BarProgress(), early=early)
    from narrate.ui import print_build_report

    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
    elif not ctx.obj["quiet"]:
        print_build_report(report)
    if report.failures:
        for line in report.failures:
            click.echo(f"error: {line}", err=True)
        sys.exit(1)


@main.command()
@click.argument("folder", metavar="[FOLDER | URL]", required=False)
@click.option("--published", is_flag=True,
              help="Check built output (default folder: audio), or the show published at an http(s):// URL, "
                   "instead of scripts.")
@click.option("--loudness", type=Number(*LOUDNESS, "a loudness in LUFS"), default=None,
              help=f"With --published: the integrated loudness target (LUFS, {LOUDNESS[0]:g} to {LOUDNESS[1]:g}) "
                   "instead of the one the build record holds (-16 when it holds none).")
@click.option("--true-peak", type=Number(*TRUE_PEAK, "a true peak in dBTP"), default=None,
              help=f"With --published: the true-peak ceiling (dBTP, {TRUE_PEAK[0]:g} to {TRUE_PEAK[1]:g}) "
                   "instead of the one the build record holds (-1 when it holds none).")
@click.pass_context
def check(ctx: click.Context, folder: str | None, published: bool, loudness: float | None,
          true_peak: float | None) -> None:
    """Validate the scripts in FOLDER (default: scripts) without rendering, or with --published the built
    output in FOLDER (default: audio) or the show published at URL (its feed's or its folder's)."""
    from narrate.ui import print_check_table
    from narrate.fsutil import is_url

    if folder is not None and is_url(folder) and not published:
        raise UserError(f"{folder}: a URL is checked with --published (narrate check --published {folder})")
    if published:
        from narrate.verify import check_published, check_published_url
        from narrate.ui import print_published_report

        if folder is not None and is_url(folder):
            report = check_published_url(folder, loudness=loudness, true_peak=true_peak)
        else:
            report = check_published(Path(folder or "audio"), loudness=loudness, true_peak=true_peak)
        if not ctx.obj["quiet"]:
            print_published_report(report)
        for problem in report.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1 if report.problems else 0)
    from narrate.check import check_scripts

    summary = check_scripts(Path(folder or "scripts"))
    if not ctx.obj["quiet"]:
        print_check_table(summary)


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Script to write, or a folder for it (default: scripts/NNN-title.md).")
@click.option("--episode", type=click.IntRange(0, MAX_EPISODE_NUMBER), default=None,
              help="Episode number (default: the next one no script or published episode uses).")
@click.option("--title", default=None, help="Episode title (default: the document's title, else the file name).")
@click.option("--start", default=None, help="First words of the first paragraph to keep.")
@click.option("--end", default=None, help="First words of the last paragraph to keep.")
@click.option("--encoding", default=None, help="Encoding of a plain-text file (default: UTF-8, or its BOM's).")
def import_(file: Path, output: Path | None, episode: int | None, title: str | None, start: str | None,
            end: str | None, encoding: str | None) -> None:
    """Write a draft script from the document in FILE (.txt, .html, .pdf, .epub, .docx)."""
    from narrate.importer import ImportOptions, import_document
    from narrate.wording import counted

    options = ImportOptions(output=output, episode=episode, title=title, start=start, end=end, encoding=encoding)
    result = import_document(file, options)
    what = f"{counted(result.chapters, 'chapter')}, {counted(result.paragraphs, 'document paragraph')}"
    click.echo(f"wrote {result.path} (episode {result.episode}, draft: true): {what}; "
               "replace its TODO paragraph, then run narrate check")


@main.command()
@SCRIPTS
@click.option("--unused", is_flag=True, help="Remove only entries no script uses any more.")
@click.option("--cache-dir", type=CacheLocation(), default=None, help="Segment cache folder.")
def clean(scripts_dir: Path, unused: bool, cache_dir: Path | str | None) -> None:
    """Remove the segment cache (or with --unused, only entries no script uses)."""
    from narrate.check import clean_cache
    from narrate.wording import plural

    if isinstance(cache_dir, str):
        raise UserError(f"--cache-dir {cache_dir}: narrate clean removes a local cache folder; a shared cache is "
                        "cleaned with its storage's own tools")

    count, freed = clean_cache(scripts_dir, cache_dir, unused)
    what = f"{count} unused {plural(count, 'entry')}" if unused else "the cache"
    click.echo(f"removed {what}, freed {freed / 1e6:.1f} MB")


@main.command()
@click.option("--engine", "engine_name", default=None, help="Only this engine's voices.")
@click.option("--language", default=None, help="Only voices for this language (e.g. en).")
def voices(engine_name: str | None, language: str | None) -> None:
    """List the voices each installed engine offers."""
    from narrate.ui import print_voices

    print_voices(engine_name, language)


@main.command()
@click.argument("text")
@click.option("--role", type=click.Choice(["narrator", "document", "note"]), default=None,
              help="Speak with this role's voice from the show file.")
@click.option("--engine", "engine_name", default=None, help="Engine to use (with --voice).")
@click.option("--voice", default=None, help="Voice id (see: narrate voices).")
@click.option("--rate", type=click.IntRange(MIN_RATE, MAX_RATE), default=None,
              help=f"Words per minute, {MIN_RATE} to {MAX_RATE}.")
@click.option("--scripts", "scripts_dir", type=click.Path(path_type=Path), default="scripts", show_default=True,
              help="Show folder whose voices and lexicon to use (optional).")
@click.option("-o", "--output", type=click.Path(path_type=Path), default="say.wav", show_default=True,
              help="Audio file to write (.wav, or .mp3 through ffmpeg).")
@click.option("--text-only", is_flag=True,
              help="Print the spoken text (lexicon and normalisation applied); render nothing.")
def say(text: str, role: str | None, engine_name: str | None, voice: str | None, rate: int | None,
        scripts_dir: Path, output: Path, text_only: bool) -> None:
    """Render one line TEXT with the show's settings and lexicon, to check a voice or a pronunciation."""
    if not any(ch.isalnum() for ch in text):
        # Nothing an engine could say: "", "  ", "...", "—".
        raise click.BadParameter(f"{text!r} has no letters or digits to say", param_hint="'TEXT'")
    if text_only:
        from narrate.say import spoken_line

        click.echo(spoken_line(text, scripts_dir, role))
        return
    from narrate.engines import EngineError
    from narrate.say import say_line

    try:
        spoken, seconds = say_line(text, output, scripts_dir, role, engine_name, voice, rate)
    except EngineError as exc:
        raise NarrateError(f"the engine could not say {text!r}: {exc}") from exc
    click.echo(f"wrote {output} ({seconds:.1f}s): {spoken}")


@main.command()
@click.argument("output_dir", type=click.Path(path_type=Path), default="audio", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: whole network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on, 0 to 65535 (0: any free port).")
def serve(output_dir: Path, host: str, port: int) -> None:
    """Serve the built show in OUTPUT_DIR (default: audio) for a preview subscription."""
    from narrate.serve import public_base_url
    from narrate.serve import serve as run_server

    def ready(server) -> None:  # noqa: ANN001 - the server object
        url = public_base_url(server)
        click.echo(f"Serving {output_dir} at {url} - subscribe to: {url}feed.xml  (Ctrl-C to stop)")

    run_server(output_dir, host, port, on_ready=ready)


@main.command()
@click.argument("output_dir", type=click.Path(path_type=Path), default="audio", required=False)
@click.option("--to", "target", default=None, metavar="TARGET",
              help="Where to publish: a folder, sftp://[user@]host[:port]/path or s3://bucket/prefix "
                   "(default: publish.target in the show file).")
@click.option("--scripts", "scripts_dir", type=click.Path(path_type=Path), default=None,
              help="Show folder whose show.yaml holds base_url and the publish settings (default: scripts).")
@click.option("--dry-run", is_flag=True, help="List what would be sent and deleted, and why; send nothing.")
@click.option("--delete", is_flag=True, help="Remove files the show no longer has from the target (after the feed).")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or report; errors only (for scripts).")
@click.pass_context
def publish(ctx: click.Context, output_dir: Path, target: str | None, scripts_dir: Path | None, dry_run: bool,
            delete: bool, as_json: bool, quiet: bool) -> None:
    """Deploy the built show in OUTPUT_DIR (default: audio) to a folder, an SFTP server or S3: new files first, the feed last."""
    from narrate.deploy import PublishOptions, publish_show

    if quiet:
        ctx.obj["quiet"] = True
        _setup_logging(0, True)
    options = PublishOptions(output=output_dir, target=target, scripts_dir=scripts_dir or Path("scripts"),
                             scripts_given=scripts_dir is not None, dry_run=dry_run, delete=delete)
    shown = not (ctx.obj["quiet"] or as_json)
    if shown:  # narrate.ui (rich, and the build's types) only when there is something to show
        from narrate.ui import TransferProgress, print_lines
    report = publish_show(options, progress=TransferProgress() if shown else None)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=1, ensure_ascii=False))
    elif shown:
        print_lines(report.lines())


@main.command()
@click.option("--cluster", type=ClusterAddress(), default=None,
              help="Also report the workers of the Dask cluster at tcp://HOST:PORT (default: render.cluster).")
@click.option("--scripts", "scripts_dir", type=click.Path(path_type=Path), default="scripts", show_default=True,
              help="Show folder whose render.cluster and voices to check the cluster's workers against.")
def doctor(cluster: str | None, scripts_dir: Path) -> None:
    """Show narrate's tools (ffmpeg, espeak-ng), engines and voices, and what is missing; exit 1 if a build can't run."""
    from narrate.doctor import doctor as run_doctor

    report = run_doctor(cluster=cluster, scripts_dir=scripts_dir)
    for line in report.lines:
        click.echo(line)
    for note in report.notes:
        click.echo(f"optional: {note}")
    for problem in report.missing:
        click.echo(f"missing: {problem}", err=True)
    click.echo("ready: narrate build can run" if report.ok else "not ready: narrate build cannot run")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
