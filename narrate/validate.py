"""Everything about a show that can be checked before rendering, with every problem listed at once.

`narrate check` and `narrate build` both start here, so a build stops on exactly what check reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from narrate.cover import load_artwork
from narrate.engines import Engine
from narrate.errors import Problems, ProblemsError, UserError
from narrate.script import Project, read_project
from narrate.tags import Artwork
from narrate.voices import prepare_engines


@dataclass(frozen=True)
class ValidProject:
    """A project whose show file, scripts, voices and cover all passed."""

    project: Project
    engines: dict[str, Engine]
    artwork: Artwork
    cover_name: str


def validate_project(scripts_dir: Path) -> ValidProject:
    """Read the show file and scripts, start the engines and load every voice, read the cover.

    Voices and the cover are checked even when some scripts have problems; raises ProblemsError with all
    of them (exit 2) before anything is rendered or written.
    """
    problems = Problems()
    project = read_project(scripts_dir, problems)
    engines: dict[str, Engine] = {}
    cover: tuple[Artwork, str] | None = None
    if project is not None:
        try:
            engines = prepare_engines(project, load=True)
        except ProblemsError as exc:
            problems.items.extend(exc.problems)
        except UserError as exc:
            problems.add(None, exc.message)
        try:
            cover = load_artwork(project.show)
        except ProblemsError as exc:
            problems.items.extend(exc.problems)
        except UserError as exc:
            problems.add(None, exc.message)
    problems.raise_if_any()
    assert project is not None and cover is not None
    return ValidProject(project, engines, *cover)
