"""Shared fixtures: a small show folder written per test, and the fake engine registered."""
from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from narrate.engines import register_engine
from tests import fake_engine

register_engine("fake", "tests.fake_engine:FakeEngine")

#: role -> (engine, voice, rate or None)
Cast = Mapping[str, "tuple[str, str, int | None]"]
FAKE_CAST: Cast = {"narrator": ("fake", "low", 175), "document": ("fake", "high", 175)}
PYTTSX3_CAST: Cast = {"narrator": ("pyttsx3", "gmw/en-us", 175), "document": ("pyttsx3", "gmw/en", 175)}
#: Short pauses and a low bitrate: quick builds.
QUICK_AUDIO = """\
audio:
  bitrate: 64k
  pauses: {sentence: 0.2, clause: 0.1, segment: 0.3, chapter: 0.5, document: 0.4}
"""


def show_yaml(title: str = "Test Show & Friends", *, slug: str = "show", description: str = "A show for tests.",
              voices: Cast = FAKE_CAST, audio: str = QUICK_AUDIO, extra: str = "") -> str:
    """The test show's show file; every test show is this one with a few values changed.

    `slug` names the show's base URL (`https://example.org/<slug>/`); `extra` is appended YAML (a lexicon).
    """
    lines = [f"title: {json.dumps(title, ensure_ascii=False)}", "author: Test Author", f"description: {description}",
             "language: en", "category: History", "explicit: false", f"base_url: https://example.org/{slug}/",
             "voices:"]
    for role, (engine, voice, rate) in voices.items():
        lines.append(f"  {role}: {{engine: {engine}, voice: {voice}" + (f", rate: {rate}}}" if rate else "}"))
    return "\n".join(lines) + "\n" + audio + extra


SHOW_YAML = show_yaml()

EPISODE_ONE = """\
---
title: "First episode"
episode: 1
date: 2026-01-05
summary: The first one.
document:
  title: A letter
  authors: [Alois Indra, Vasil Bilak]
  translator: Mark Kramer
---

# Opening

This is the narrator speaking. It sets the scene.

> The document speaks here. It has two sentences.

# Closing

::: note
A closing citation.
:::
"""

EPISODE_TWO = """\
---
title: "Second episode"
episode: 2
date: 2026-01-12
---

# Only chapter

Narration for the second episode.

> A quoted passage.
"""


def write_show(folder: Path, show: str = SHOW_YAML, episodes: dict[str, str] | None = None) -> Path:
    """Write a show folder: show.yaml plus episode scripts (name -> text)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "show.yaml").write_text(textwrap.dedent(show), encoding="utf-8")
    for name, text in (episodes if episodes is not None else {"001-first.md": EPISODE_ONE}).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def show_dir(tmp_path: Path) -> Path:
    """A show folder with one fake-engine episode."""
    return write_show(tmp_path / "scripts")


@pytest.fixture(autouse=True)
def _reset_fake_calls() -> None:
    fake_engine.CALLS.clear()


def require_tool(name: str, find: Callable[[str], str | None] = shutil.which) -> str:
    """A system tool's path (found by `find`, default: on PATH). Absent, the test skips locally but fails in CI.

    CI (.ci/run) installs the system tools and sets NARRATE_CI=1, so a missing tool there is a failure.
    """
    found = find(name)
    if found:
        return found
    if os.environ.get("NARRATE_CI") == "1":
        pytest.fail(f"{name} is required in CI (NARRATE_CI=1) but is not installed")
    pytest.skip(f"{name} is not installed (CI installs it)")


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """Set the process umask for a test (call it with the mask); the old one comes back after it."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)
