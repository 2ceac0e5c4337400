"""Golden parse tests: each script in tests/data/golden parses to its sibling .json."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from narrate.script import episode_as_dict, episode_scripts, is_script_name, load_project, slugify

GOLDEN = Path(__file__).parent / "data" / "golden"


def _parsed() -> dict[str, dict]:
    cwd = os.getcwd()
    os.chdir(GOLDEN)  # locations are shown relative to the working folder
    try:
        project = load_project(Path("."))
    finally:
        os.chdir(cwd)
    return {Path(e.path).stem: episode_as_dict(e) for e in project.episodes}


@pytest.mark.parametrize("script", [p.stem for p in episode_scripts(GOLDEN)])
def test_golden_parse(script: str) -> None:
    expected = json.loads((GOLDEN / f"{script}.json").read_text(encoding="utf-8"))
    assert _parsed()[script] == expected


def test_every_golden_script_has_expected_json() -> None:
    scripts = episode_scripts(GOLDEN)
    assert len(scripts) >= 2
    for script in scripts:
        assert script.with_suffix(".json").exists(), f"missing golden file for {script.name}"


@pytest.mark.parametrize(("stem", "slug"), [
    ("001-letter-to-brezhnev-1968", "001-letter-to-brezhnev-1968"),
    ("002 Politburo Dubček", "002-politburo-dubcek"),
    ("Mlynář & Husák!", "mlynar-husak"),
    ("😀", "episode"),
])
def test_slug_is_stable_ascii(stem: str, slug: str) -> None:
    assert slugify(stem) == slug
    assert slugify(stem).isascii()


@pytest.mark.parametrize(("name", "is_script"), [
    ("001-letter.md", True),
    ("002-NOTES.MD", True),  # a script in any case, as on case-insensitive file systems
    ("003-x.Md", True),
    ("README.md", False),
    ("readme.MD", False),
    (".#001-letter.md", False),  # Emacs lock
    ("#001-letter.md#", False),  # Emacs auto-save
    ("001-letter.md~", False),  # backup
    (".001-letter.md.swp", False),  # Vim swap
    (".001-letter.md.swo", False),
    (".hidden.md", False),
    ("001-letter.markdown", False),
    ("001-letter.txt", False),
])
def test_which_files_are_scripts(name: str, is_script: bool) -> None:
    assert is_script_name(name) is is_script


def test_editor_files_beside_scripts_are_not_listed(tmp_path: Path) -> None:
    for name in ("001-a.md", "002-B.MD", ".#001-a.md", "001-a.md~", ".001-a.md.swp", "#001-a.md#", "README.md"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in episode_scripts(tmp_path)] == ["001-a.md", "002-B.MD"]
