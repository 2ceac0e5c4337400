"""The default lexicon in a show: a show's lexicon overrides it end to end, a bad entry is one line with
its file:line, editing the table re-renders only what it changes, and `say --text-only` prints the result."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import narrate
from narrate import lexicon
from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.model import LexiconEntry
from narrate.plan import split_cues
from tests import fake_engine
from tests.conftest import show_yaml, write_show

EPISODE = """\
---
title: Minutes
episode: 1
date: 2026-01-05
---

# The meeting

The CPSU delegation met Gen. Pavlovsky.

> At 7:45 a.m. on 4 Jan. 1957 the column left, see p. 5.

Nothing else was said.
"""
OVERRIDE = "lexicon:\n  CPSU: the Soviet Party\n  Gen.: {say: Comrade General, before: name}\n"


def _build(scripts: Path, out: Path) -> object:
    options = BuildOptions(output=out, cache_dir=out.parent / "cache", in_process=True, today=dt.date(2026, 6, 1))
    return build(scripts, options)


def _said() -> list[str]:
    return [text for _, text in fake_engine.CALLS]


def test_default_table_speaks_in_a_build(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-minutes.md": EPISODE})
    _build(scripts, tmp_path / "audio")
    assert _said() == [
        "The C P S U delegation met General Pavlovsky.",
        "At seven forty-five a.m. on the fourth of January, nineteen fifty-seven the column left, see page five.",
        "Nothing else was said.",
    ]


def test_a_show_lexicon_overrides_a_default_entry(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra=OVERRIDE), episodes={"001-minutes.md": EPISODE})
    _build(scripts, tmp_path / "audio")
    assert _said()[0] == "The the Soviet Party delegation met Comrade General Pavlovsky."
    # the default entries the show does not override still apply
    assert "see page five." in _said()[1]
    # and the transcript keeps the text as written
    vtt = next((tmp_path / "audio").glob("001-minutes.*.vtt")).read_text(encoding="utf-8")
    assert "The CPSU delegation met Gen. Pavlovsky." in vtt


def test_an_episode_lexicon_overrides_the_show_and_the_default(tmp_path: Path) -> None:
    episode = EPISODE.replace("date: 2026-01-05\n", "date: 2026-01-05\nlexicon:\n  CPSU: the Party\n")
    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra=OVERRIDE), episodes={"001-minutes.md": episode})
    _build(scripts, tmp_path / "audio")
    assert _said()[0] == "The the Party delegation met Comrade General Pavlovsky."


@pytest.fixture
def table_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the default table that narrate reads instead of the shipped one while the test runs."""
    copy = tmp_path / "lexicon-en.yaml"
    copy.write_text((Path(narrate.__file__).parent / "data" / "lexicon-en.yaml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    monkeypatch.setitem(lexicon.DEFAULT_TABLES, "en", str(copy))
    lexicon._load_default.cache_clear()
    yield copy
    monkeypatch.undo()
    lexicon._load_default.cache_clear()


def test_editing_the_default_table_rerenders_only_the_pieces_it_changes(tmp_path: Path, table_copy: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-minutes.md": EPISODE})
    out = tmp_path / "audio"
    _build(scripts, out)
    assert len(_said()) == 3
    fake_engine.CALLS.clear()
    _build(scripts, out)
    assert _said() == []  # nothing changed, nothing rendered
    text = table_copy.read_text(encoding="utf-8")
    table_copy.write_text(text.replace("CPSU: C P S U\n", "CPSU: Communist Party of the Soviet Union\n"),
                          encoding="utf-8")
    lexicon._load_default.cache_clear()
    _build(scripts, out)
    assert _said() == ["The Communist Party of the Soviet Union delegation met General Pavlovsky."]


@pytest.mark.parametrize(("entry", "message"), [
    ("  Gen.: {say: General, before: verb}\n", "lexicon entry 'Gen.' has before: 'verb'; use number or name"),
    ("  km: [kilometre, kilometres]\n",
     "lexicon entry 'km' must be a string or a mapping with 'say'/'phonemes' (or a list of such mappings)"),
    ("  Zdenĕk: ZDEN-yek\n",
     "lexicon entry 'Zdenĕk' is the same term as 'Zdeněk' (look-alike letters match alike); keep one"),
])
def test_a_bad_show_lexicon_entry_is_one_line_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            entry: str, message: str) -> None:
    show = show_yaml(extra="lexicon:\n  Zdeněk: Zden-yek\n" + entry + "  Husák: Hoo-sahk\n")
    line = show.splitlines().index(entry.rstrip("\n")) + 1
    assert line > 10  # the entry's own line, not the line of `lexicon:`
    message = f"scripts/show.yaml:{line}: {message}"
    write_show(tmp_path / "scripts", show=show, episodes={"001-minutes.md": EPISODE})
    monkeypatch.chdir(tmp_path)
    for args in (["check", "scripts"], ["say", "--text-only", "--scripts", "scripts", "Gen. Pavlovsky"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert [l for l in result.output.splitlines() if l.startswith("error: ")] == [f"error: {message}"]


# --- narrate say --text-only ---------------------------------------------------------------------------------
def test_say_text_only_prints_the_spoken_form(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", show=show_yaml(extra=OVERRIDE + "  Zdeněk: ZDEN-yek\n"), episodes={})
    result = CliRunner().invoke(main, ["say", "--text-only", "--scripts", str(scripts),
                                       "The CPSU sent Gen. Pavlovsky and Zdenĕk on 20 to 21 August 1968 at 19:20."])
    assert result.exit_code == 0, result.output
    assert result.output == ("The the Soviet Party sent Comrade General Pavlovsky and ZDEN-yek on the twentieth to "
                             "the twenty-first of August, nineteen sixty-eight at nineteen twenty.\n")
    assert not (tmp_path / "say.wav").exists() and not Path("say.wav").exists()


def test_say_text_only_without_a_show_uses_the_default_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["say", "--text-only", "--scripts", str(tmp_path / "none"),
                                       "He met Amb. Dobrynin. See vol. 2, pp. 7–9."])
    assert result.exit_code == 0, result.output
    assert result.output == "He met Ambassador Dobrynin. See volume two, pages seven to nine.\n"


def test_say_text_only_loads_no_engine(tmp_path: Path) -> None:
    """In a fresh interpreter: the text is printed and no engine, renderer or audio module was imported."""
    code = (
        "import sys\n"
        "from narrate.cli import main\n"
        "try:\n"
        "    main(['say', '--text-only', '--scripts', sys.argv[1], 'Gen. Pavlovsky at 7:45 a.m.'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('narrate.engines.', 'narrate.render', 'narrate.audio',"
        " 'pyttsx3', 'piper', 'pydub', 'onnxruntime')))\n"
        "print(repr(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none")], capture_output=True, text=True,
                            check=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0] == "General Pavlovsky at seven forty-five a.m."
    assert lines[1] == "['narrate.engines.base']" or lines[1] == "[]", lines[1]


def test_say_text_only_still_refuses_wordless_text(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["say", "--text-only", "--scripts", str(tmp_path), "..."])
    assert result.exit_code == 2 and "has no letters or digits to say" in result.output


# --- sentence splitting around abbreviations --------------------------------------------------------------
@pytest.mark.parametrize(("text", "cues"), [
    ("He met Amb. Dobrynin and Sen. Kennedy.", ["He met Amb. Dobrynin and Sen. Kennedy."]),
    ("It was ca. 1950, cf. vol. 2, ed. Smith et al. The end.",
     ["It was ca. 1950, cf. vol. 2, ed. Smith et al.", "The end."]),
    ("See n. 4, fn. 12, para. 3 and paras. 4-6.", ["See n. 4, fn. 12, para. 3 and paras. 4-6."]),
    ("On 12 Dec. The troops came.", ["On 12 Dec.", "The troops came."]),
])
def test_abbreviations_do_not_end_a_cue(text: str, cues: list[str]) -> None:
    found = split_cues(text, "en")
    assert [cue for cue, _ in found] == cues
    assert " ".join(cue for cue, _ in found) == text
    assert json.dumps(found)  # plain data


def test_a_show_abbreviation_does_not_end_a_cue_either() -> None:
    text = "The letter went to Cde. Husák. He read it."
    assert [cue for cue, _ in split_cues(text, "en")] == ["The letter went to Cde.", "Husák.", "He read it."]
    comrade = (LexiconEntry("Cde.", "Comrade", before="name"),)
    assert [cue for cue, _ in split_cues(text, "en", comrade)] == ["The letter went to Cde. Husák.", "He read it."]
