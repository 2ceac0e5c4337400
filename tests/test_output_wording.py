"""What people read in the terminal: counts in one unit with the right plurals, tables readable at 80 columns."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

import narrate.ui
from narrate.build import BuildReport, EpisodeOutcome, PlanEntry
from narrate.cli import main
from narrate.voices import open_engine
from narrate.wording import counted, plural
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show


def test_counted() -> None:
    assert [counted(n, "segment") for n in (0, 1, 2)] == ["0 segments", "1 segment", "2 segments"]
    assert (counted(1, "entry"), counted(3, "entry"), plural(1, "piece"), plural(2, "piece")) == (
        "1 entry", "3 entries", "piece", "pieces")


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def _rows(output: str) -> list[list[str]]:
    """The cells of each line of a rich table's body (a wrapped row goes on over lines with empty cells)."""
    return [[cell.strip() for cell in line.rstrip()[1:-1].split("│")] for line in output.splitlines()
            if line.startswith("│")]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(narrate.ui.out, "width", 200)


def test_check_dry_run_and_build_count_the_same_segments(tmp_path: Path, wide: None) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    build = ["build", str(scripts), "-o", str(tmp_path / "audio"), "--cache-dir", str(tmp_path / "cache")]
    check = _rows(_invoke("check", str(scripts)).output)
    segments = sum(int(row[3]) for row in check)
    # Episode 1: three paragraphs of five sentences; episode 2: two paragraphs of one sentence each.
    assert [(row[0], row[3]) for row in check] == [("1", "3"), ("2", "2")] and segments == 5
    dry = _invoke(*build, "--dry-run").output
    assert "2 of 2 episodes to update, 5 segments to render (7 pieces) (dry run: nothing was written)" in dry
    built = _invoke(*build).output
    assert "5 segments rendered (7 pieces)" in built
    # One sentence edited: one segment, one piece, in the same words everywhere.
    script = scripts / "001-first.md"
    script.write_text(script.read_text().replace("It sets the scene.", "It sets another scene."))
    dry = _invoke(*build, "--dry-run").output
    assert "episode 1: 1 segment changed (" in dry
    assert "1 of 2 episodes to update, 1 segment to render (1 piece) (dry run" in dry
    assert "1 segment rendered (1 piece)" in _invoke(*build).output
    assert "0 of 2 episodes to update, 0 segments to render (0 pieces)" in _invoke(*build, "--dry-run").output


def test_a_one_episode_show_says_episode(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    dry = _invoke("build", str(scripts), "-o", str(tmp_path / "audio"), "--cache-dir", str(tmp_path / "c"),
                  "--dry-run").output
    assert "1 of 1 episode to update, 3 segments to render (5 pieces)" in dry


@pytest.mark.parametrize("width", [80, 60])
def test_voices_never_cuts_an_id(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    monkeypatch.setattr(narrate.ui.out, "width", width)
    output = _invoke("voices", "--engine", "pyttsx3").output
    assert "…" not in output
    assert all(len(line) <= width for line in output.splitlines())
    ids = {v.id for v in open_engine("pyttsx3").voices()}
    assert max(map(len, ids)) >= 20  # sit/yue-latn-jyutping: a long id is among them
    shown = {row[1] for row in _rows(output) if row[1]}
    assert shown == ids, sorted(ids - shown)[:5]


def _render_build_table(report: BuildReport, width: int) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None)
    original = narrate.ui.out
    narrate.ui.out = console
    try:
        narrate.ui.print_build_report(report)
    finally:
        narrate.ui.out = original
    return buffer.getvalue()


def test_the_build_table_wraps_titles_and_keeps_figures_whole_at_80_columns() -> None:
    title = "Gorbachev in Prague: The Politburo Hears a Report, April 1987"
    report = BuildReport(
        plan=(PlanEntry(2, "002-politburo", title, "build", ("new episode",), 40, 30),),
        outcomes=(EpisodeOutcome(2, title, "002-politburo.0123456789.mp3", 3723.4, 8, 12_345_678, 123.4, "built"),
                  EpisodeOutcome(1, "A Letter", "001.mp3", 419.0, 6, 5_000_000, 0.0, "unchanged")),
        rendered=40, rendered_segments=30, seconds=130.2)
    output = _render_build_table(report, 80)
    lines = output.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in output
    assert "30 segments rendered (40 pieces)" in output
    rows = _rows(output)
    # The title wraps at spaces over its row's lines; every figure is whole on the row's first line.
    first = next(i for i, row in enumerate(rows) if row[0] == "2")
    title_lines = [rows[first][1]] + [row[1] for row in rows[first + 1:] if not row[0]]
    assert " ".join(title_lines) == title and len(title_lines) > 1
    assert rows[first][2:] == ["1:02:03", "8", "12.3 MB", "123.4s", "built"]
    assert re.search(r"│\s+1 │ A Letter\s+│ +6:59 │", output)
