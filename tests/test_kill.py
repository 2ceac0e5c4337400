"""A real build killed with SIGKILL at several points leaves every published file intact; the next build recovers."""
from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from narrate.verify import check_published
from narrate.record import RECORD_NAME
from tests.conftest import PYTTSX3_CAST, show_yaml, write_show

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

SHOW = show_yaml("Kill Test Show", slug="kill", description="A show that gets killed.", voices=PYTTSX3_CAST, audio="")


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
        for kind in ("vtt", "srt", "chapters"):
            assert (out / entry["sidecars"][kind]).stat().st_size > 0
        json.loads((out / entry["sidecars"]["chapters"]).read_text())
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
    variant = 0
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        for _attempt in range(4):
            variant += 1
            for n in (1, 2):
                (scripts / f"00{n}-ep.md").write_text(_script(n, variant))
            process = _build(scripts, out, cache)
            time.sleep(full * fraction)
            running = process.poll() is None
            if running:
                os.kill(process.pid, signal.SIGKILL)
            process.wait(60)
            # workers die with their parent's pipe; give them a moment so the next build sees a free lock
            time.sleep(0.3)
            _published_state_is_valid(out)
            if running:
                break
            fraction /= 2  # it finished before the signal: not a kill; try again, sooner
        else:
            pytest.fail(f"every build finished before its SIGKILL (at {fraction:.2f} of {full:.1f}s)")
        assert process.returncode == -signal.SIGKILL, f"the build was not killed: exit status {process.returncode}"
    recovery = _build(scripts, out, cache)
    assert recovery.wait(300) == 0, recovery.stderr.read().decode()
    report = check_published(out)
    assert report.problems == (), report.problems
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]
    assert {e["title"] for e in record.values()} == {"Episode 1", "Episode 2"}
    assert not list(out.glob(".narrate-tmp-*")), "the finishing build removes what the killed ones left"
    vtt = (out / record["001-ep"]["sidecars"]["vtt"]).read_text()
    assert f"version {variant}" in vtt and f"version {variant - 1}" not in vtt
    dry = subprocess.run([sys.executable, "-m", "narrate", "build", str(scripts), "-o", str(out), "--cache-dir",
                          str(cache), "--dry-run"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "0 of 2 episodes to update, 0 segments to render" in dry.stdout


# ------------------------------------------------------------------------------------------------------------------
# Killed at every stage: render, assemble/encode, tagging, publishing, with SIGINT, SIGTERM and SIGKILL.

FAKE_SHOW = show_yaml("Kill Stage Show", slug="stages")
# The fake engine is registered in the build's own process; its render workers import it by name.
#: The build under test, with the fake engine, and each file of the publish stage written 20 ms later: that
#: stage takes a few milliseconds otherwise, so a signal sent when its log line is read could come after the
#: build had ended, and kills between its files were rare.
#: SIGINT gets Python's own handler back: a suite started in the background by a non-interactive shell
#: (`.ci/run &`) runs with SIGINT ignored, which every child inherits, and the build would ignore it too.
LAUNCH = ("import signal, sys, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "from narrate.engines import register_engine; "
          "register_engine('fake', 'tests.fake_engine:FakeEngine'); "
          "import narrate.publish as p; w = p.write_if_changed; "
          "p.write_if_changed = lambda *a, **k: (time.sleep(0.02), w(*a, **k))[1]; "
          "from narrate.cli import main; main(sys.argv[1:], prog_name='narrate')")
STAGES = ("render", "encode", "tag", "publish")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
#: After the stage's log line, the kill comes after a random delay of up to this many seconds.
MAX_DELAY = {"render": 0.4, "encode": 0.15, "tag": 0.01, "publish": 0.0}
STAGE_RE = re.compile(r"stage (\w+):")
log = logging.getLogger(__name__)


def _fake_script(number: int, variant: int) -> str:
    paragraphs = "\n\n".join(f"Paragraph {p} of episode {number}, version {variant}, says a few words more."
                             for p in range(6))
    return (f"---\ntitle: Episode {number}\nepisode: {number}\ndate: 2026-01-0{number}\n---\n\n"
            f"# Part one\n\n{paragraphs}\n\n# Part two\n\n> A quoted line, version {variant}.\n")


class _Build:
    """A build in a subprocess whose `-v` log lines (on stderr) tell which stage it is in.

    With `kill` (stage, signal, delay), the thread that reads those lines sends the signal itself, `delay`
    seconds after the stage's line: no other thread has to wake up first, so the signal lands within the
    stage even on a busy machine.
    """

    def __init__(self, scripts: Path, out: Path, cache: Path,
                 kill: tuple[str, signal.Signals, float] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "-v", "build", str(scripts), "-o", str(out), "--cache-dir", str(cache),
             "--wait", "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.stages: list[str] = []
        self.reached: dict[str, threading.Event] = {stage: threading.Event() for stage in STAGES}
        self.kill = kill
        self.signalled_in: str | None = None  # the last stage logged when the signal was sent
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            match = STAGE_RE.search(line)
            if match:
                self.stages.append(match.group(1))
                if match.group(1) in self.reached:
                    self.reached[match.group(1)].set()
                if self.kill and match.group(1) == self.kill[0] and self.signalled_in is None:
                    time.sleep(self.kill[2])
                    if self.process.poll() is None:
                        self.signalled_in = self.stages[-1]
                        self.process.send_signal(self.kill[1])

    def finish(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        self.reader.join(10)
        return code


def _feed_names_match_their_bytes(out: Path) -> int:
    """Every file the feed names exists and carries the first 10 hex digits of its own SHA-256 in its name."""
    import hashlib
    import xml.etree.ElementTree as ET

    base = "https://example.org/stages/"
    urls = [el.get(attr) for el in ET.parse(out / "feed.xml").iter() for attr in ("url", "href")
            if (el.get(attr) or "").startswith(base)]
    names = {url[len(base):] for url in urls} - {"feed.xml"}
    assert names, "the feed names files"
    for name in names:
        digest = name.split(".")[1]
        assert hashlib.sha256((out / name).read_bytes()).hexdigest()[:10] == digest, name
    return len(names)


def test_kills_at_every_stage_leave_feed_and_files_agreeing(tmp_path: Path) -> None:
    rng = random.Random(8)
    episodes = (1, 2)
    scripts = write_show(tmp_path / "scripts", FAKE_SHOW, {f"00{n}-ep.md": _fake_script(n, 0) for n in episodes})
    out, cache = tmp_path / "audio", tmp_path / "cache"
    first = _Build(scripts, out, cache)
    assert first.finish() == 0, "".join(first.lines)
    assert set(STAGES) <= set(first.stages), first.stages
    assert check_published(out).problems == ()
    plan = [(stage, sig) for stage in STAGES for sig in SIGNALS] * 2  # 24 kills
    rng.shuffle(plan)
    variant = 0
    hits: list[tuple[str, str, str, str]] = []  # (target, signal, stage when signalled, last stage logged)
    for target, sig in plan:
        missed: list[str] = []  # why each attempt did not count as a kill
        for _attempt in range(3):
            variant += 1
            # alternate which episodes change, so a killed build always has new audio to replace old files with
            changed = episodes if variant % 3 == 0 else (episodes[variant % 2],)
            for n in changed:
                (scripts / f"00{n}-ep.md").write_text(_fake_script(n, variant))
            build_ = _Build(scripts, out, cache, kill=(target, sig, rng.uniform(0, MAX_DELAY[target])))
            code = build_.finish()
            assert build_.reached[target].is_set(), f"the build never reached stage {target}: {build_.stages}"
            at_signal = build_.signalled_in
            if at_signal is not None and code != 0:
                # SIGKILL and SIGTERM end the process by the signal; narrate turns SIGINT into status 130
                assert code in (-sig, 130 if sig == signal.SIGINT else -sig), (sig.name, code)
                break
            # it finished before the signal (or despite it, ending as it was): not a kill; try another edit
            missed.append(f"exit {code}, signalled in {at_signal}, stages {build_.stages}, last lines "
                          f"{[line.strip()[:80] for line in build_.lines[-3:]]}")
        else:
            pytest.fail(f"could not kill a build during stage {target} with {sig.name}: " + "; ".join(missed))
        hits.append((target, sig.name, at_signal, build_.stages[-1] if build_.stages else "start"))
        report = check_published(out)
        assert report.problems == (), (target, sig.name, report.problems)
        _feed_names_match_their_bytes(out)
        for path in out.iterdir():
            assert not path.name.startswith(".") or path.name in (RECORD_NAME, ".narrate.lock") or \
                path.name.startswith(".narrate-tmp-"), path.name
    summary = "; ".join(f"{t}/{s}: signalled in {a}, last logged {b}" for t, s, a, b in hits)
    log.info("%d kills: %s", len(hits), summary)
    (tmp_path / "kills.txt").write_text(summary.replace("; ", "\n") + "\n")
    assert len(hits) >= 20
    assert {a for _t, _s, a, _b in hits} >= set(STAGES), summary
    assert {s for _t, s, _a, _b in hits} == {sig.name for sig in SIGNALS}

    recovery = _Build(scripts, out, cache)
    assert recovery.finish() == 0, "".join(recovery.lines)
    assert check_published(out).problems == ()
    count = _feed_names_match_their_bytes(out)
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]
    named = {name for entry in record.values() for name in (entry["file"], *entry["sidecars"].values())}
    cover = {p.name for p in out.glob("cover.*")}
    assert len(cover) == 1, "superseded covers are removed"
    assert {p.name for p in out.iterdir()} == named | cover | {"feed.xml", RECORD_NAME, ".narrate.lock", "index.html",
                                                              "episodes"}, \
        "the finishing build removes every orphan the killed builds left, and nothing else"
    assert {p.name for p in (out / "episodes").iterdir()} == {f"{slug}.html" for slug in record}, \
        "the pages, and no temporary file a killed build left beside them"
    assert count == len(named | cover)
    for n in episodes:
        assert f"version {variant}" in (out / record[f"00{n}-ep"]["sidecars"]["vtt"]).read_text() or \
            n not in (episodes if variant % 3 == 0 else (episodes[variant % 2],))
