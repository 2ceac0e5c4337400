"""Terminal output for the CLI: progress bars and tables (rich), kept out of the library."""
from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Table

from narrate.build import BuildReport
from narrate.build import Progress as ProgressBase
from narrate.check import EpisodeSummary
from narrate.timefmt import duration
from narrate.wording import counted

console = Console(stderr=True)
out = Console()


class BarProgress(ProgressBase):
    """A rich progress bar per stage, with count and ETA; plain log lines when not on a terminal."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task = None

    def start(self, stage: str, total: int) -> None:
        if total == 0:
            return
        if not console.is_terminal:
            console.print(f"{stage}: {total}")
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console,
                                  transient=False)
        self._progress.start()
        self._task = self._progress.add_task(stage, total=total)

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, steps)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class TransferProgress:
    """Files and bytes sent by `narrate publish`: a rich bar on a terminal, nothing otherwise (the report follows)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task = None
        self._files = 0
        self._total = 0
        self._sent_bytes = 0

    def start(self, files: int, total_bytes: int) -> None:
        self._total = files
        if not console.is_terminal:
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), TextColumn("{task.fields[files]}"), TimeRemainingColumn(),
                                  console=console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("sending", total=total_bytes, files=f"0/{files} files")

    def sending(self, name: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=name)

    def advance(self, sent_bytes: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, sent_bytes)

    def sent(self, name: str, size: int) -> None:
        self._files += 1
        self._sent_bytes += size
        if self._progress is not None:
            # A target that reports no bytes along the way (a folder) advances by whole files.
            self._progress.update(self._task, completed=self._sent_bytes, files=f"{self._files}/{self._total} files")

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_lines(lines: list[str]) -> None:
    """Plain lines on stdout (file names are never read as rich markup)."""
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def print_build_report(report: BuildReport) -> None:
    """The plan (for a dry run) or the table of episodes built."""
    if report.dry_run:
        for entry in report.plan:
            out.print(entry.describe(), markup=False, highlight=False)
        todo = [e for e in report.plan if e.action != "unchanged"]
        out.print(f"{len(todo)} of {counted(len(report.plan), 'episode')} to update, {render_counts(report, 'to render')} "
                  "(dry run: nothing was written)", markup=False, highlight=False)
        return
    for entry in report.plan:
        if entry.action != "unchanged":
            console.print(entry.describe(), markup=False, highlight=False)
    table = Table(title=f"narrate build ({report.seconds:.1f}s, {render_counts(report, 'rendered')})")
    # "#" for the episode number: at 80 columns every letter of a header is a letter the title cannot have.
    for column in ("#", "title", "duration", "chapters", "size", "time", "action"):
        if column == "title":  # the one column that wraps, at word boundaries, taking what the others leave
            table.add_column(column, min_width=16, ratio=1, overflow="fold")
        else:  # figures and one-word actions are read whole or not at all
            table.add_column(column, justify="left" if column == "action" else "right", no_wrap=True)
    for o in report.outcomes:
        table.add_row(str(o.number), o.title, duration(o.duration), str(o.chapters), f"{o.size / 1e6:.1f} MB",
                      f"{o.seconds:.1f}s", o.action)
    out.print(table)


def render_counts(report: BuildReport, done: str) -> str:
    """Like "3 segments to render (5 pieces)": segments are the unit of `narrate check`, pieces what is rendered."""
    pieces = counted(report.rendered, "piece")
    return f"{counted(report.rendered_segments, 'segment')} {done} ({pieces})"


def print_check_table(rows: list[EpisodeSummary]) -> None:
    """The table of `narrate check`."""
    table = Table(title="narrate check: all scripts valid")
    for column in ("#", "title", "chapters", "segments", "words", "est. duration"):
        if column == "title":
            table.add_column(column, min_width=16, ratio=1, overflow="fold")
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for r in rows:
        title = f"{r.title} (draft)" if r.draft else r.title
        table.add_row(str(r.number), title, str(r.chapters), str(r.segments), str(r.words), duration(r.seconds))
    out.print(table)


def print_voices(engine_name: str | None, language: str | None) -> None:
    """The voices of every installed engine (or one)."""
    from narrate.engines import engine_targets
    from narrate.errors import UserError
    from narrate.voices import open_engine

    names = [engine_name] if engine_name else sorted(engine_targets())
    rows: list[tuple[str, str, str, str, str]] = []
    for name in names:
        try:
            engine = open_engine(name)
        except UserError as exc:
            if engine_name:
                raise
            console.print(f"{name}: {exc.message}", markup=False, highlight=False)
            continue
        for v in engine.voices():
            langs = ", ".join(v.languages)
            if language and not any(l.lower().startswith(language.lower()) for l in v.languages):
                continue
            rows.append((name, v.id, langs, v.gender or "", "" if v.name == v.id else v.name))
    table = Table(title="narrate voices")
    # Ids are what people copy into a show file: never cut, never wrapped; the other columns give way.
    table.add_column("engine", no_wrap=True)
    table.add_column("id", no_wrap=True, min_width=max((len(r[1]) for r in rows), default=2))
    table.add_column("language", overflow="fold")
    table.add_column("gender", no_wrap=True)
    table.add_column("name", overflow="fold", ratio=1)
    for row in rows:
        table.add_row(*row)
    out.print(table)


def print_published_report(report) -> None:  # noqa: ANN001 - narrate.verify.PublishedReport
    """The result of `narrate check --published`."""
    for line in report.lines:
        out.print(line, markup=False, highlight=False)
