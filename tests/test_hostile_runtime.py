"""Issue 8, item 6: hostile options and a hostile environment, every case through the CLI.

Each case gives one clear line with the expected text and the expected exit status (2: the input is wrong;
1: the machine is, e.g. a read-only or full folder), writes nothing, leaves no `.narrate-tmp-*` file
(in the show, the output, the cache or the system temp folder) and finishes within a time bound.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.cli import main
from narrate.engines import register_engine
from narrate.fsutil import TMP_PREFIX
from narrate.publish import published_paths
from tests.conftest import SHOW_YAML, write_show
from tests.fake_engine import FakeEngine

ROOT = Path(__file__).resolve().parents[1]
TIME_BOUND = 60.0  # seconds any case may take, start-up of the render workers included
REMOVE_CACHE = "REMOVECACHE"
DROP_ENTRIES = "DROPENTRIES"


class CacheRemovingEngine(FakeEngine):
    """The fake engine, slowed down, that removes the cache folder ($NARRATE_CACHE_DIR) on a marked piece.

    That is `rm -rf .narrate-cache` while a build renders, at a moment a test can name.
    """

    name = "cache-remover"

    def render(self, text, voice, out_path):  # noqa: ANN001, ANN201 - the Engine signature
        time.sleep(0.05)
        if REMOVE_CACHE in text:
            shutil.rmtree(os.environ["NARRATE_CACHE_DIR"], ignore_errors=True)
        if DROP_ENTRIES in text:  # the entries rendered so far, deleted by hand; the folder stays
            for entries in Path(os.environ["NARRATE_CACHE_DIR"]).glob("??"):
                shutil.rmtree(entries, ignore_errors=True)
        super().render(text.replace(REMOVE_CACHE, "removing").replace(DROP_ENTRIES, "dropping"), voice, out_path)


register_engine("cache-remover", "tests.test_hostile_runtime:CacheRemovingEngine")


def _episode(body: str) -> dict[str, str]:
    return {"001-first.md": f"---\ntitle: First\nepisode: 1\ndate: 2026-01-05\n---\n\n# Opening\n\n{body}\n"}


def _words(count: int) -> str:
    """`count` words without any punctuation, as from a careless transcription."""
    pick = random.Random(count).choice
    vocabulary = "the river ran past old houses and quiet fields where people walked slowly toward town".split()
    return " ".join(pick(vocabulary) for _ in range(count))


# ----------------------------------------------------------------------------- folders that cannot be written


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        raise OSError(done.stderr.decode(errors="replace").strip() or "mount failed")


@contextlib.contextmanager
def _unwritable(folder: Path, kind: str, only: bool) -> Iterator[Callable[[], None] | None]:
    """Make `folder` read-only or full; yields a function to limit a subprocess instead, or None.

    `only`: the folder must be the only one that fails (a file size limit hits every folder at once).
    """
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        try:
            _mount_tmpfs(folder, "size=1m,ro" if kind == "readonly" else "size=64k")
            mounted = True
        except OSError:
            pass
    try:
        if mounted:
            yield None
        elif kind == "readonly" and os.geteuid() != 0:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o555)  # honoured for anyone but root
            yield None
        elif kind == "full" and not only:
            # No tmpfs to fill: a file size limit makes every large write fail with EFBIG instead.
            yield lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))
        else:
            pytest.skip(f"needs root's mount (or, to be read-only, an unprivileged user) to make {folder.name} {kind}")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        with contextlib.suppress(OSError):
            folder.chmod(0o755)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    """One hostile input: the command line (after `narrate`), and what must come of it."""

    args: tuple[str, ...]
    exit_code: int
    message: str
    episodes: dict[str, str] | None = None
    show: str = SHOW_YAML
    unwritable: tuple[str, str] | None = None  # ("out" | "cache" | "tmp", "readonly" | "full"); tmp: $TMPDIR


BUILD = ("build", "{scripts}", "-o", "{out}", "--cache-dir", "{cache}")
SAY = ("say", "--scripts", "{scripts}", "-o", "{out}/say.wav")
REMOVER_SHOW = SHOW_YAML.replace("engine: fake", "engine: cache-remover")
REAL_SHOW = SHOW_YAML.replace("engine: fake, voice: low", "engine: pyttsx3, voice: gmw/en-us").replace(
    "engine: fake, voice: high", "engine: pyttsx3, voice: gmw/en-us")
#: About eight seconds of speech: a WAV of some 350 kB, more than a full folder takes.
LONG_LINE = ("This sentence is long enough to fill a small folder to the brim, and it goes on for a while "
             "longer still, so that no little folder can hold all of it.")

CASES: dict[str, Case] = {
    "build --timeout nan": Case((*BUILD, "--timeout", "nan"), 2, "'--timeout': nan is not a number of seconds"),
    "build --timeout inf": Case((*BUILD, "--timeout", "inf"), 2, "'--timeout': inf is not a number of seconds"),
    "build --timeout 1e309": Case((*BUILD, "--timeout", "1e309"), 2, "'--timeout': 1e309 is not a number"),
    "build --timeout 0": Case((*BUILD, "--timeout", "0"), 2, "'--timeout': 0 is not a number of seconds above 0"),
    "build --timeout -5": Case((*BUILD, "--timeout", "-5"), 2, "'--timeout': -5 is not a number of seconds"),
    "build --timeout 1e6": Case((*BUILD, "--timeout", "1e6"), 2, "at most 3600"),
    "build --timeout soon": Case((*BUILD, "--timeout", "soon"), 2, "'--timeout': 'soon' is not a number"),
    "build --workers 0": Case((*BUILD, "--workers", "0"), 2, "'--workers': 0 is not in the range 1<=x<=64"),
    "build --workers -3": Case((*BUILD, "--workers", "-3"), 2, "'--workers': -3 is not in the range"),
    "build --workers 10**20": Case((*BUILD, "--workers", "1" + "0" * 20), 2, "is not in the range 1<=x<=64"),
    "build --workers nan": Case((*BUILD, "--workers", "nan"), 2, "'--workers': 'nan' is not a valid integer"),
    "say --rate 0": Case((*SAY, "--rate", "0", "hello"), 2, "'--rate': 0 is not in the range 50<=x<=500"),
    "say --rate -100": Case((*SAY, "--rate", "-100", "hello"), 2, "'--rate': -100 is not in the range"),
    "say --rate 10**20": Case((*SAY, "--rate", "1" + "0" * 20, "hello"), 2, "is not in the range 50<=x<=500"),
    "say --rate nan": Case((*SAY, "--rate", "nan", "hello"), 2, "'--rate': 'nan' is not a valid integer"),
    "say ''": Case((*SAY, ""), 2, "'TEXT': '' has no letters or digits to say"),
    "say '...'": Case((*SAY, "..."), 2, "'TEXT': '...' has no letters or digits to say"),
    "say '  '": Case((*SAY, "  "), 2, "'TEXT': '  ' has no letters or digits to say"),
    "say '—'": Case((*SAY, "—"), 2, "'TEXT': '—' has no letters or digits to say"),
    "check --published --loudness nan": Case(("check", "--published", "{out}", "--loudness", "nan"), 2,
                                             "'--loudness': nan is not a loudness in LUFS from -30"),
    "check --published --loudness inf": Case(("check", "--published", "{out}", "--loudness", "inf"), 2,
                                             "'--loudness': inf is not a loudness in LUFS"),
    "check --published --loudness 500": Case(("check", "--published", "{out}", "--loudness", "500"), 2,
                                             "from -30 and at most -10"),
    "check --published --true-peak 1e309": Case(("check", "--published", "{out}", "--true-peak", "1e309"), 2,
                                                "'--true-peak': 1e309 is not a true peak in dBTP from -9"),
    "check --published --true-peak -nan": Case(("check", "--published", "{out}", "--true-peak", "-nan"), 2,
                                               "'--true-peak': -nan is not a true peak in dBTP"),
    "build --episode 10**30": Case((*BUILD, "--episode", "1" + "0" * 30), 2, "no episode 1000000000000000000"),
    "serve --port 99999": Case(("serve", "{out}", "--port", "99999"), 2, "'--port': 99999 is not in the range"),
    "serve --port -1": Case(("serve", "{out}", "--port", "-1"), 2, "'--port': -1 is not in the range 0<=x<=65535"),
    "serve --port 10**30": Case(("serve", "{out}", "--port", "1" + "0" * 30), 2, "is not in the range 0<=x<=65535"),
    "build into a read-only folder": Case(BUILD, 1, "cannot write {out}/.narrate.lock: Read-only file system",
                                          unwritable=("out", "readonly")),
    "build into a full folder": Case(BUILD, 1, "cannot write {out}", unwritable=("out", "full")),
    "build with a read-only cache folder": Case(BUILD, 1, "cannot write {cache}", unwritable=("cache", "readonly")),
    "build with a full cache folder": Case(BUILD, 1, "cannot write {cache}", unwritable=("cache", "full")),
    # pyttsx3's espeak driver raised in its callback and runAndWait never returned: say hung, a build's worker
    # timed out per piece. The real engine, since the fake one writes its file itself.
    "say into a full folder": Case((*SAY, LONG_LINE), 1, "cannot write {out}/say.wav", show=REAL_SHOW,
                                   unwritable=("out", "full")),
    "build with a full scratch folder": Case(BUILD, 1, f"cannot write {{tmp}}/{TMP_PREFIX}render-", show=REAL_SHOW,
                                             episodes=_episode(LONG_LINE), unwritable=("tmp", "full")),
    "cache folder removed while rendering": Case(
        BUILD, 1, "the cache folder {cache} was removed", show=REMOVER_SHOW,  # or emptied: rm -rf races the workers
        episodes=_episode(" ".join(f"Sentence {n} is here{' ' + REMOVE_CACHE if n == 3 else ''}." for n in range(12)))),
    "cache entries deleted while rendering": Case(
        BUILD, 1, "the cache folder {cache} was removed or emptied during the build: ",
        show=REMOVER_SHOW,
        episodes=_episode(" ".join(f"Sentence {n} is here{' ' + DROP_ENTRIES if n == 9 else ''}." for n in range(12)))),
}


def _temp_leftovers(*folders: Path) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += list(folder.rglob(f"{TMP_PREFIX}*"))
    found += [Path(tempfile.gettempdir()) / name for name in os.listdir(tempfile.gettempdir())
              if name.startswith(f"{TMP_PREFIX}render-")]
    return found


def _written(out: Path) -> list[str]:
    if not out.is_dir():
        return []
    # The lock file (empty, never written to) is all a failed build may leave in a folder it was given.
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name != ".narrate.lock" and p.is_file())


def _no_limit() -> None:
    """No limit on the subprocess."""


def _run_in_subprocess(args: list[str], env: dict[str, str], limit: Callable[[], None]) -> tuple[int, str]:
    code = "import sys; import tests.conftest, tests.test_hostile_runtime; from narrate.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, preexec_fn=limit,
                          capture_output=True, text=True, timeout=TIME_BOUND)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_runtime(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    scripts = write_show(tmp_path / "scripts", case.show, case.episodes)
    out, cache, tmp = tmp_path / "out", tmp_path / "cache", tmp_path / "tmp"
    places = {"scripts": str(scripts), "out": str(out), "cache": str(cache), "tmp": str(tmp)}
    args = [arg.format(**places) for arg in case.args]
    message = case.message.format(**places)
    monkeypatch.setenv("NARRATE_CACHE_DIR", str(cache))
    before = set(_temp_leftovers())
    unwritable = contextlib.nullcontext(None)
    if case.unwritable:
        where, kind = case.unwritable
        folder = {"out": out, "cache": cache, "tmp": tmp}[where]
        unwritable = _unwritable(folder, kind, only=where != "out")
        if where == "tmp":
            monkeypatch.setenv("TMPDIR", str(tmp))
            monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    with unwritable as limit:
        published_before = _written(out)
        started = time.monotonic()
        if limit is None and case.show == REAL_SHOW:
            limit = _no_limit  # a subprocess, so a hanging engine fails the test at TIME_BOUND instead of hanging it
        if limit is None:
            result = CliRunner().invoke(main, args)
            exit_code, output = result.exit_code, result.output
        else:
            exit_code, output = _run_in_subprocess(args, dict(os.environ, PYTHONPATH=str(ROOT)), limit)
        elapsed = time.monotonic() - started
        assert exit_code == case.exit_code, output
        errors = [line for line in output.splitlines() if re.match(r"(?i)error: ", line)]
        assert len(errors) == 1, output
        assert message in errors[0], output
        assert "internal error" not in output and "Traceback" not in output, output
        assert _written(out) == published_before, f"written: {_written(out)}"
        assert set(_temp_leftovers(tmp_path)) - before == set(), _temp_leftovers(tmp_path)
        assert elapsed < TIME_BOUND


# ----------------------------------------------------------------------------- long paragraphs


def _cues(vtt: str) -> list[tuple[float, float, str]]:
    from narrate.transcript import parse_webvtt

    return parse_webvtt(vtt)


def test_a_paragraph_without_punctuation_becomes_caption_sized_cues(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes=_episode(_words(600)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    cues = _cues(published_paths(out, "001-first")["vtt"].read_text(encoding="utf-8"))
    assert len(cues) > 40  # one 600-word cue of three minutes before
    assert max(end - start for start, end, _ in cues) <= 10.0
    assert max(len(" ".join(text.split())) for _, _, text in cues) <= 84
    spoken = " ".join(" ".join(re.sub(r"<[^>]+>", "", text).split()) for _, _, text in cues)
    assert spoken == _words(600)


def test_a_paragraph_of_50000_words_is_planned_quickly_into_bounded_pieces(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes=_episode(_words(50_000)))
    started = time.monotonic()
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(tmp_path / "out"), "--dry-run", "--json",
                                       "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30
    # About 4,000 pieces, each one cue, instead of one piece of five hours' speech.
    summary = json.loads(result.stdout)
    assert 3000 < summary["rendered_pieces"] < 6000 and summary["rendered_segments"] == 1
    from narrate.plan import split_cues

    assert max(len(cue) for cue, _ in split_cues(_words(50_000))) <= 84


def test_a_word_longer_than_a_cue_is_cut_too() -> None:
    from narrate.plan import split_cues

    cues = split_cues("x" * 1000 + " and then some words after it")
    assert all(len(cue) <= 84 for cue, _ in cues)
    assert "".join(cue for cue, _ in cues).startswith("x" * 1000)


# ----------------------------------------------------------------------------- the preview server


RANGES = {
    # header -> (status, Content-Range) for a 1000-byte file
    "bytes=" + "9" * 5000 + "-": (416, "bytes */1000"),
    "bytes=" + "9" * 5000 + "-" + "9" * 5000: (416, "bytes */1000"),
    "bytes=-" + "9" * 5000: (206, "bytes 0-999/1000"),
    "bytes=0-" + "9" * 5000: (206, "bytes 0-999/1000"),
    "bytes=" + "0" * 5000 + "5-9": (206, "bytes 5-9/1000"),
    "bytes=1000-": (416, "bytes */1000"),
    "bytes=-0": (416, "bytes */1000"),
    "bytes=9-5": (200, None),
    "bytes=abc": (200, None),
    "bytes=--": (200, None),
    "bytes=1-2-3": (200, None),
    "bytes=0x10-": (200, None),
    "bytes=\u0663-\u0664": (200, None),
    "items=0-1": (200, None),
    "bytes=0-0,2-2": (200, None),
    "bytes=" + "," * 5000 + "0-1": (206, "bytes 0-1/1000"),
    "bytes=" + ",".join(["0-0"] * 3000): (200, None),  # several ranges: the whole file
}


OTHER_HEADERS = {
    # header -> status, for the same file
    "If-Modified-Since: Mon, 01 Jan 99999999999 00:00:00 GMT": 200,
    "If-Modified-Since: " + "9" * 5000: 200,
    "If-Modified-Since: Mon, 01 Jan 1970 99:99:99 GMT": 200,
    "If-None-Match: " + "," * 5000: 200,
    "Host: " + "h" * 5000: 200,
    "If-Range: " + "9" * 5000 + "\r\nRange: bytes=0-1": 200,
}


def _request(port: int, range_header: str, other: str | None = None) -> tuple[int, dict[str, str]]:
    extra = f"Range: {range_header}" if other is None else other
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /episode.mp3 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     + extra.encode("utf-8") + b"\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].startswith("HTTP/1.1 "), data[:200]
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), headers


def test_serve_answers_silly_ranges_and_stays_up(tmp_path: Path) -> None:
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "episode.mp3").write_bytes(bytes(range(250)) * 4)
    (folder / "feed.xml").write_text("<rss/>", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    server = subprocess.Popen([sys.executable, "-m", "narrate", "serve", str(folder), "--port", "0"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
        started = time.monotonic()
        for header, (status, content_range) in RANGES.items():
            got, headers = _request(port, header)
            assert (got, headers.get("Content-Range")) == (status, content_range), header[:40]
        for header, status in OTHER_HEADERS.items():
            assert _request(port, "", header)[0] == status, header[:40]
        assert _request(port, "bytes=0-1")[0] == 206  # still serving
        assert time.monotonic() - started < TIME_BOUND
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert "Traceback" not in stderr, stderr


# ----------------------------------------------------------------------------- the real engine



def test_real_engine_speaks_a_long_unpunctuated_paragraph_in_short_cues(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", REAL_SHOW, _episode(_words(400)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(out), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    cues = _cues(published_paths(out, "001-first")["vtt"].read_text(encoding="utf-8"))
    assert len(cues) > 25
    assert max(end - start for start, end, _ in cues) <= 10.0  # one cue of about 2 min 20 s before


def test_a_cache_subfolder_removed_while_an_entry_is_written_is_the_removed_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rm -rf` of the cache reaches an entry's subfolder between its mkdir and its write (seen in CI)."""
    import wave

    from narrate.cache import Cache
    from narrate.errors import StorageError

    wav = tmp_path / "piece.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(b"\x01\x00" * 2205)
    from narrate import fsutil

    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    real = fsutil._new_temp

    def racing(folder: Path, suffix: str = "") -> tuple[Path, int]:
        made = real(folder, suffix)
        shutil.rmtree(cache.root)  # the remover reaches the entry's subfolder just after its temporary file
        return made

    monkeypatch.setattr(fsutil, "_new_temp", racing)
    with pytest.raises(StorageError) as removed:
        cache.put("ab" + "0" * 62, wav)
    assert removed.value.message == cache.removed_error().message


def test_real_engine_build_stops_with_one_line_when_the_cache_is_removed(tmp_path: Path) -> None:
    """`rm -rf .narrate-cache` during a real build: espeak's workers used to hang until the timeout."""
    body = "\n\n".join(f"Sentence number {n} is here." for n in range(60))
    scripts = write_show(tmp_path / "scripts", REAL_SHOW, _episode(body))
    cache, out = tmp_path / "cache", tmp_path / "out"
    before = set(_temp_leftovers())

    def remove_when_started() -> None:
        deadline = time.monotonic() + TIME_BOUND
        while time.monotonic() < deadline and len(list(cache.glob("??/*.json"))) < 5:
            time.sleep(0.02)
        shutil.rmtree(cache, ignore_errors=True)

    remover = threading.Thread(target=remove_when_started)
    remover.start()
    started = time.monotonic()
    result = CliRunner().invoke(main, ["build", str(scripts), "-o", str(out), "--cache-dir", str(cache)])
    remover.join()
    assert time.monotonic() - started < TIME_BOUND
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    # Removed outright, or (when `rm -rf` raced the workers' writes and left the folder) emptied.
    assert len(errors) == 1 and errors[0].startswith(f"error: the cache folder {cache} was removed"), result.output
    assert errors[0].endswith("run the build again"), result.output
    assert _written(out) == []
    assert set(_temp_leftovers(tmp_path)) - before == set()
