"""Numbered paragraphs and lists in scripts: parsed with their markers, shown as written, spoken by `speech.list_number`."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.errors import Problems
from narrate.plan import EngineInfo, plan_episode, spoken_marker
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from narrate.script import load_project
from narrate.transcript import parse_srt, parse_webvtt
from narrate.voices import prepare_engines
from tests import fake_engine
from tests.conftest import SHOW_YAML, write_show

TELEGRAM = """\
---
title: "A telegram"
episode: 1
date: 2026-01-05
---

# The telegram

The ambassador wrote:

> 4. The main outcome is the turning point. The atmosphere reminds one of May 1945.
>
> 5) They called out to me.
>
>    Stay here, at least for a year.
>
> - A bullet point.

1. The narrator numbers a point too.
"""


def _project(tmp_path: Path, script: str = TELEGRAM, show: str = SHOW_YAML):  # noqa: ANN202 - Project
    return load_project(write_show(tmp_path / "scripts", show, {"001-telegram.md": script}))


def _plan(project):  # noqa: ANN001, ANN202 - Project -> EpisodePlan
    return plan_episode(project.show, project.episodes[0], EngineInfo(prepare_engines(project)))


def test_a_list_is_paragraphs_that_keep_their_markers(tmp_path: Path) -> None:
    segments = _project(tmp_path).episodes[0].segments
    assert [(s.role, s.marker, s.text, s.location.line) for s in segments] == [
        ("narrator", "", "The ambassador wrote:", 9),
        ("document", "4.", "4. The main outcome is the turning point. The atmosphere reminds one of May 1945.", 11),
        ("document", "5)", "5) They called out to me.", 13),
        # The second paragraph of item 5 is a segment of its own, without a number.
        ("document", "", "Stay here, at least for a year.", 15),
        ("document", "•", "• A bullet point.", 17),
        # Outside a document passage a list is the narrator's numbered paragraphs.
        ("narrator", "1.", "1. The narrator numbers a point too.", 19),
    ]
    assert segments[1].body == "The main outcome is the turning point. The atmosphere reminds one of May 1945."


def test_the_number_is_shown_as_written_and_spoken_in_words(tmp_path: Path) -> None:
    pieces = _plan(_project(tmp_path)).pieces
    assert [(p.text, p.spoken) for p in pieces] == [
        ("The ambassador wrote:", "The ambassador wrote:"),
        ("4. The main outcome is the turning point.", "Four. The main outcome is the turning point."),
        ("The atmosphere reminds one of May 1945.", "The atmosphere reminds one of May nineteen forty-five."),
        ("5) They called out to me.", "Five. They called out to me."),
        ("Stay here, at least for a year.", "Stay here, at least for a year."),
        ("• A bullet point.", "A bullet point."),
        ("1. The narrator numbers a point too.", "One. The narrator numbers a point too."),
    ]


@pytest.mark.parametrize(("template", "spoken"), [
    ("'{words}.'", "Four. The main outcome is the turning point."),
    ("Paragraph {words}.", "Paragraph Four. The main outcome is the turning point."),
    ("'Paragraph {number}:'", "Paragraph 4: The main outcome is the turning point."),
    ("none", "The main outcome is the turning point."),
])
def test_speech_list_number_chooses_how_the_number_is_said(tmp_path: Path, template: str, spoken: str) -> None:
    project = _project(tmp_path, show=SHOW_YAML + f"speech:\n  list_number: {template}\n")
    first = next(p for p in _plan(project).pieces if p.text.startswith("4."))
    assert first.text == "4. The main outcome is the turning point."
    assert first.spoken == spoken


def test_spoken_marker() -> None:
    assert spoken_marker("4.") == "Four."
    assert spoken_marker("21)") == "Twenty-one."
    assert spoken_marker("•") == ""
    assert spoken_marker("4.", "none") == ""
    assert spoken_marker("4.", "{words}.", "de") == "Vier."
    assert spoken_marker("4.", "{words}.", "tlh") == "Four.", "a language num2words lacks falls back to English"


def test_a_numbered_blockquote_builds_with_numbers_in_transcripts_and_speech(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-telegram.md": TELEGRAM})
    out = tmp_path / "audio"
    report = build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True,
                                         today=dt.date(2026, 6, 1)))
    assert not report.failures
    said = [text for _, text in fake_engine.CALLS]
    assert "Four. The main outcome is the turning point." in said
    assert "Five. They called out to me." in said and "A bullet point." in said
    assert not any(text.startswith(("4", "5", "•")) for text in said), said
    files = published_paths(out, "001-telegram")
    vtt = [text for _, _, text in parse_webvtt(files["vtt"].read_text(encoding="utf-8"))]
    srt = [" ".join(text.split()) for _, _, text in parse_srt(files["srt"].read_text(encoding="utf-8"))]
    assert "4. The main outcome is the turning point." in vtt
    assert "5) They called out to me." in vtt and "• A bullet point." in vtt
    assert any(cue.endswith("4. The main outcome is the turning point.") for cue in srt), srt
    record = json.loads((out / RECORD_NAME).read_text(encoding="utf-8"))["episodes"]["001-telegram"]
    assert "4. The main outcome is the turning point." in [cue["text"] for cue in record["cues"]]


def _check_errors(tmp_path: Path, body: str, show: str = SHOW_YAML) -> list[str]:
    script = TELEGRAM.split("# The telegram")[0] + "# The telegram\n\n" + body
    write_show(tmp_path / "scripts", show, {"001-telegram.md": script})
    result = CliRunner().invoke(main, ["check", str(tmp_path / "scripts")])
    assert result.exit_code == 2, result.output
    return [line for line in result.output.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(("body", "line", "message"), [
    ("- a point\n  - a sub-point\n", 10, "lists inside lists are not supported; write the inner items as paragraphs"),
    ("> 1. a point\n>    1. a sub-point\n", 10, "lists inside lists are not supported"),
    ("1968. The year everything changed.\n", 9, "'1968.' starts a numbered list, but a paragraph number is at most 999: "
     "if the paragraph starts with a year, write '1968\\.'"),
    ("> 4.\n> 5. The main outcome.\n", 9, "list item '4.' has no text"),
    ("A paragraph.\n\n- # A heading\n", 11, "a heading cannot be inside a list item"),
])
def test_what_lists_cannot_do_is_one_line_with_its_place(tmp_path: Path, body: str, line: int, message: str) -> None:
    errors = _check_errors(tmp_path, body)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: {tmp_path / 'scripts' / '001-telegram.md'}:{line}: ")
    assert message in errors[0]


def test_an_escaped_year_is_a_paragraph(tmp_path: Path) -> None:
    segments = _project(tmp_path, TELEGRAM + "\n1968\\. The year everything changed.\n").episodes[0].segments
    assert (segments[-1].marker, segments[-1].text) == ("", "1968. The year everything changed.")


@pytest.mark.parametrize(("value", "message"), [
    ("'{word}.'", "unknown placeholder {word}"),
    ("'{0}.'", "speech list_number '{0}.' cannot be used"),
    ("'{words'", "speech list_number '{words' cannot be used"),
    ("[a]", "speech list_number must be a template"),
])
def test_a_bad_list_number_template_is_reported_at_its_line(tmp_path: Path, value: str, message: str) -> None:
    show = SHOW_YAML + f"speech:\n  list_number: {value}\n"
    errors = _check_errors(tmp_path, "A paragraph.\n", show)
    line = show.splitlines().index(f"  list_number: {value}") + 1
    assert errors == [f"error: {tmp_path / 'scripts' / 'show.yaml'}:{line}: {errors[0].split(': ', 2)[2]}"]
    assert message in errors[0]


def test_an_unknown_speech_setting_is_reported(tmp_path: Path) -> None:
    problems = Problems()
    from narrate.config import parse_show

    write_show(tmp_path / "s", SHOW_YAML + "speech:\n  list_numbers: none\n")
    parse_show(tmp_path / "s", problems)
    assert any("unknown speech setting 'list_numbers' (known: list_number)" in p for p in problems.items)
