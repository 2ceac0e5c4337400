"""A real build killed with SIGKILL at several points leaves every published file intact; the next build recovers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from narrate.published import check_published
from narrate.record import RECORD_NAME
from tests.conftest import write_show

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

SHOW = """\
title: Kill Test Show
author: Test Author
description: A show that gets killed.
language: en
category: History
explicit: false
base_url: https://example.org/kill/
voices:
  narrator: {engine: pyttsx3, voice: gmw/en-us, rate: 175}
  document: {engine: pyttsx3, voice: gmw/en, rate: 175}
"""


def _script(number: int, variant: int) -> str:
    paragraphs = "\n\n".join(
        f"Paragraph {p} of episode {number}, version {variant}. It talks about the archive and the letter at length, "
        f"so that rendering and encoding take a measurable while."
        for p in range(12)
    )
    return (f"---\ntitle: Episode {number}\nepisode: {number}\ndate: 2026-01-0{number}\n---\n\n"
            f"# Part one\n\n{paragraphs}\n\n# Part two\n\n> A quoted line, version {variant}.\n")


def _build(scripts: Path, out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "narrate", "-q", "build", str(scripts), "-o", str(out),
                             "--cache-dir", str(cache)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _published_state_is_valid(out: Path) -> None:
    """Every file a reader can see is complete: the feed parses, each MP3 is whole and tagged."""
    import xml.etree.ElementTree as ET

    ET.parse(out / "feed.xml")
    record = json.loads((out / RECORD_NAME).read_text())
    for entry in record["episodes"].values():
        mp3 = out / entry["file"]
        tags = ID3(mp3)
        assert tags.version[:2] == (2, 3)
        assert len(tags.getall("CHAP")) == 2
        for suffix in (".vtt", ".srt", ".chapters.json"):
            assert (out / f"{entry['slug']}{suffix}").stat().st_size > 0
        json.loads((out / f"{entry['slug']}.chapters.json").read_text())
    for path in out.iterdir():
        # only narrate's own dotted temporary names may be left behind, never a half-written visible file
        assert not path.name.startswith(".") or path.name in (RECORD_NAME, ".narrate.lock") or \
            path.name.startswith(".narrate-tmp-"), path.name


def test_sigkill_at_several_points(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", SHOW, {f"00{n}-ep.md": _script(n, 0) for n in (1, 2)})
    out, cache = tmp_path / "audio", tmp_path / "cache"
    started = time.monotonic()
    first = _build(scripts, out, cache)
    assert first.wait(300) == 0, first.stderr.read().decode()
    full = time.monotonic() - started
    _published_state_is_valid(out)
    for variant, fraction in enumerate((0.1, 0.3, 0.5, 0.7, 0.9), start=1):
        for n in (1, 2):
            (scripts / f"00{n}-ep.md").write_text(_script(n, variant))
        process = _build(scripts, out, cache)
        time.sleep(full * fraction)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(60)
        # workers die with their parent's pipe; give them a moment so the next build sees a free lock
        time.sleep(0.3)
        _published_state_is_valid(out)
    recovery = _build(scripts, out, cache)
    assert recovery.wait(300) == 0, recovery.stderr.read().decode()
    report = check_published(out)
    assert report.problems == (), report.problems
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]
    assert {e["title"] for e in record.values()} == {"Episode 1", "Episode 2"}
    assert not list(out.glob(".narrate-tmp-*")), "the finishing build removes what the killed ones left"
    vtt = (out / "001-ep.vtt").read_text()
    assert "version 5" in vtt and "version 4" not in vtt
    dry = subprocess.run([sys.executable, "-m", "narrate", "build", str(scripts), "-o", str(out), "--cache-dir",
                          str(cache), "--dry-run"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "0 of 2 episodes to update, 0 segments to render" in dry.stdout
