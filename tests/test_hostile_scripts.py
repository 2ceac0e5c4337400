"""Hostile inputs, each run through the CLI (`check` and `build` with the fake engine).

Every bad input gives one clear `error:` line (with `file:line` where it is a script's problem), exit
status 2, writes nothing anywhere, leaves no `.narrate-tmp-*` file and finishes within TIME_LIMIT. Cases
that could block (FIFOs, devices, alias bombs) run in a child process killed at the limit, so a
regression fails the test instead of hanging the suite.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from narrate.cli import main
from narrate.fsutil import TMP_PREFIX
from tests.conftest import EPISODE_ONE, EPISODE_TWO, write_show
from tests.test_bad_input import _both, _replace, _write

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT = 30  # seconds; every case takes well under one
SHOW = "show.yaml"
EP = "001-first.md"
Mutation = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input and what the CLI must answer."""

    mutate: Mutation
    # (text the error line contains, where it points: "file:line", (file, text on that line), or None)
    expect: tuple[tuple[str, str | tuple[str, str] | None], ...]
    exit_code: int = 2
    commands: tuple[str, ...] = ("check", "build")
    may_block: bool = False  # run in a child process killed at TIME_LIMIT
    max_lines: int = 0  # error lines allowed beyond those expected
    target: str = "scripts"  # the SCRIPTS_DIR argument, relative to the test folder


def _append(name: str, text: str) -> Mutation:
    def mutate(folder: Path) -> None:
        with (folder / name).open("a", encoding="utf-8") as f:
            f.write(text)
    return mutate


def _front(extra: str) -> Mutation:
    """Add lines at the end of the first episode's front matter."""
    return _replace(EP, "  translator: Mark Kramer\n---", f"  translator: Mark Kramer\n{extra}\n---")


def _fifo(name: str) -> Mutation:
    def mutate(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
    return mutate


def _symlink(name: str, target: str) -> Mutation:
    def mutate(folder: Path) -> None:
        (folder / name).unlink(missing_ok=True)
        os.symlink(target, folder / name)
    return mutate


def _sparse(name: str, size: int) -> Mutation:
    def mutate(folder: Path) -> None:
        with (folder / name).open("wb") as f:
            f.truncate(size)
    return mutate


def _replace_folder(kind: str) -> Mutation:
    def mutate(folder: Path) -> None:
        shutil.rmtree(folder)
        if kind == "fifo":
            os.mkfifo(folder)
        else:  # a symlink loop
            os.symlink(folder.name, folder)
    return mutate


def _image(name: str, size: tuple[int, int] = (1400, 1400)) -> Mutation:
    def mutate(folder: Path) -> None:
        Image.new("RGB", size, "navy").save(folder / name, "PNG")
    return mutate


def _alias_bomb(key: str) -> str:
    """A "billion laughs" YAML document: nine levels of nine aliases, 9**9 values when expanded."""
    lines = [f"{key}: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"{key}{level}: &a{level} [{refs}]")
    return "\n".join(lines)


def _chapters(count: int) -> str:
    body = "".join(f"# Chapter {i}\n\nText of chapter {i}.\n\n" for i in range(1, count + 1))
    return EPISODE_TWO.split("# Only chapter")[0] + body


LONG_NAME = "001-" + "a-very-long-title-" * 11 + ".md"  # 204 bytes: a legal file name, too long a slug
BOMB_SCRIPT = EPISODE_ONE.replace("summary: The first one.\n", "summary: The first one.\n" + _alias_bomb("x") + "\n")

CASES: dict[str, Case] = {
    # --- YAML ---
    "alias bomb in front matter": Case(_write(EP, BOMB_SCRIPT),
                                       (("front matter: aliases (*name) expand to more than 10000 values",
                                         (EP, "x4: ")),), may_block=True),
    "alias bomb in show.yaml": Case(_append(SHOW, _alias_bomb("x") + "\n"),
                                    (("aliases (*name) expand to more than 10000 values", (SHOW, "x4: ")),),
                                    may_block=True),
    "YAML nested 100000 deep": Case(_front("lexicon: " + "[" * 100_000 + "]" * 100_000),
                                    (("front matter: values nested more than 50 deep", (EP, "lexicon: [[[")),)),
    "YAML nested 5000 deep in show.yaml": Case(_append(SHOW, "lexicon: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"),
                                               (("values nested more than 50 deep", "show.yaml:14"),)),
    "alias that contains itself": Case(_front("lexicon: &lex {Husák: *lex}"),
                                       (("alias *lex refers to a value that contains it", (EP, "&lex")),)),
    "aliased mapping with a bad key": Case(
        _replace(EP, "document:\n  title: A letter\n  authors: [Alois Indra, Vasil Bilak]\n  translator: Mark Kramer\n",
                 "lexicon: &lex\n  Husák: Hoo-sahk\ndocument: *lex\n"),
        (("unknown document key 'Husák'", (EP, "Husák: Hoo-sahk")),)),
    # --- files that are not regular files ---
    "script is a FIFO": Case(_fifo("002-pipe.md"),
                             (("cannot read file: it is a FIFO (named pipe), not a regular file", "002-pipe.md:1"),),
                             may_block=True),
    "script links to /dev/zero": Case(_symlink("002-zero.md", "/dev/zero"),
                                      (("cannot read file: it is a device, not a regular file", "002-zero.md:1"),),
                                      may_block=True),
    "script links to /dev/urandom": Case(_symlink("002-random.md", "/dev/urandom"),
                                         (("cannot read file: it is a device", "002-random.md:1"),), may_block=True),
    "script is a symlink loop": Case(_symlink("002-loop.md", "002-loop.md"),
                                     (("cannot read file: Too many levels of symbolic links", "002-loop.md:1"),)),
    "show.yaml is a FIFO": Case(_fifo(SHOW), (("cannot read file: it is a FIFO", "show.yaml:1"),), may_block=True),
    "show.yaml links to /dev/zero": Case(_symlink(SHOW, "/dev/zero"), (("it is a device", "show.yaml:1"),),
                                         may_block=True),
    "scripts folder is a FIFO": Case(_replace_folder("fifo"),
                                     (("scripts: the scripts folder is a FIFO (named pipe), not a folder", None),),
                                     may_block=True),
    "scripts folder is a symlink loop": Case(_replace_folder("loop"),
                                             (("scripts: cannot open the scripts folder: Too many levels", None),)),
    "cover is a FIFO": Case(_both(_fifo("cover.png"), _append(SHOW, "cover: cover.png\n")),
                            (("cover 'cover.png' is a FIFO (named pipe), not a regular file", "show.yaml:14"),),
                            may_block=True),
    "script of 25 MB": Case(_sparse("002-huge.md", 25_000_000),
                            (("cannot read file: it is 25 MB; at most 20 MB", "002-huge.md:1"),)),
    "script name too long for its output files": Case(
        lambda folder: (folder / EP).rename(folder / LONG_NAME),
        (("file name is too long for the files made from it", f"{LONG_NAME}:1"),)),
    # --- numbers ---
    "render timeout .nan": Case(_append(SHOW, "render: {timeout: .nan}\n"),
                                (("render timeout must be seconds above 0 and at most 3600, not nan", "show.yaml:14"),)),
    "render timeout .inf": Case(_append(SHOW, "render: {timeout: .inf}\n"),
                                (("render timeout must be seconds above 0 and at most 3600, not inf", "show.yaml:14"),)),
    "render timeout absurd": Case(_append(SHOW, "render: {timeout: 1.0e+300}\n"),
                                  (("render timeout must be seconds above 0", "show.yaml:14"),)),
    "render workers absurd": Case(_append(SHOW, "render: {workers: 100000000}\n"),
                                  (("render workers must be 0 (one per core) to 64, not 100000000", "show.yaml:14"),)),
    "render workers a boolean": Case(_append(SHOW, "render: {workers: true}\n"),
                                     (("render workers must be 0 (one per core) to 64, not True", "show.yaml:14"),)),
    "voice rate .nan": Case(_replace(SHOW, "voice: low, rate: 175", "voice: low, rate: .nan"),
                            (("voice rate must be words per minute between 50 and 500, not nan", "show.yaml:9"),)),
    "voice rate .inf": Case(_replace(SHOW, "voice: low, rate: 175", "voice: low, rate: .inf"),
                            (("voice rate must be words per minute between 50 and 500, not inf", "show.yaml:9"),)),
    "voice pitch .inf": Case(_replace(SHOW, "voice: low, rate: 175", "voice: low, rate: 175, pitch: .inf"),
                             (("voice pitch must be between 0 and 100, not inf", "show.yaml:9"),)),
    "voice pitch negative": Case(_replace(SHOW, "voice: low, rate: 175", "voice: low, rate: 175, pitch: -5"),
                                 (("voice pitch must be between 0 and 100, not -5", "show.yaml:9"),)),
    "rate=nan in a script": Case(_replace(EP, "::: note", "::: note rate=nan"),
                                 (("voice rate must be words per minute between 50 and 500, not 'nan'",
                                   (EP, "::: note")),)),
    "rate=² in a script": Case(_replace(EP, "::: note", "::: note rate=²"),
                               (("voice rate must be words per minute between 50 and 500, not '²'", (EP, "::: note")),)),
    "rate of 5000 digits in a script": Case(_replace(EP, "::: note", "::: note rate=" + "1" * 5000),
                                            (("voice rate must be words per minute between 50 and 500, not '111",
                                              (EP, "::: note")),)),
    "pause .nan": Case(_replace(SHOW, "sentence: 0.2", "sentence: .nan"),
                       (("invalid pause length nan", "show.yaml:13"),)),
    "pause .inf": Case(_replace(SHOW, "chapter: 0.5", "chapter: .inf"), (("invalid pause length inf", "show.yaml:13"),)),
    "pause negative": Case(_replace(SHOW, "segment: 0.3", "segment: -1"), (("invalid pause length -1", "show.yaml:13"),)),
    "pause a boolean": Case(_replace(SHOW, "document: 0.4", "document: true"),
                            (("invalid pause length True", "show.yaml:13"),)),
    "pause absurd in a script": Case(_replace(EP, "# Closing", "<!-- pause 99999999999999999999999s -->\n\n# Closing"),
                                     (("invalid pause length '99999999999999999999999s'", (EP, "<!-- pause")),)),
    "sample rate a float": Case(_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  sample_rate: 44100.0"),
                                (("sample_rate must be 22050, 24000, 32000, 44100 or 48000, not 44100.0",
                                  "show.yaml:13"),)),
    "sample rate .nan": Case(_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  sample_rate: .nan"),
                             (("sample_rate must be", "show.yaml:13"),)),
    "channels a boolean": Case(_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  channels: true"),
                               (("channels must be 1 (mono) or 2 (stereo), not True", "show.yaml:13"),)),
    "loudness .nan": Case(_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  loudness: .nan"),
                          (("loudness must be a number between -30 and -10, not nan", "show.yaml:13"),)),
    "true peak .inf": Case(_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  true_peak: -.inf"),
                           (("true_peak must be a number between -9 and 0, not -inf", "show.yaml:13"),)),
    "bitrate absurd": Case(_replace(SHOW, "bitrate: 64k", "bitrate: 64000000k"),
                           (("bitrate must look like 64k..320k, not '64000000k'", "show.yaml:12"),)),
    "episode number of 5000 digits": Case(_replace(EP, "episode: 1", "episode: " + "9" * 5000),
                                          (("front matter: number with 5000 digits is too large", "001-first.md:3"),)),
    "episode number absurd": Case(_replace(EP, "episode: 1", "episode: 99999999999"),
                                  (("episode number must be a whole number from 0 to 2147483647, not 99999999999",
                                    "001-first.md:3"),)),
    "episode number negative": Case(_replace(EP, "episode: 1", "episode: -1"),
                                    (("episode number must be a whole number from 0", "001-first.md:3"),)),
    "episode number .nan": Case(_replace(EP, "episode: 1", "episode: .nan"),
                                (("episode number must be a whole number from 0 to 2147483647, not nan",
                                  "001-first.md:3"),)),
    "episode number a boolean": Case(_replace(EP, "episode: 1", "episode: true"),
                                     (("episode number must be a whole number from 0 to 2147483647, not True",
                                       "001-first.md:3"),)),
    # --- episode images ---
    "episode image missing": Case(_front("image: art.png"),
                                  (("image art.png: file does not exist", (EP, "image:")),)),
    "episode image not an image": Case(_both(_write("art.png", "not an image"), _front("image: art.png")),
                                       (("image art.png: not an image that can be read", (EP, "image:")),)),
    "episode image outside the show folder": Case(_both(_image("../outside.png"), _front("image: ../outside.png")),
                                                  (("image ../outside.png: is outside the show folder",
                                                    (EP, "image:")),)),
    "episode image is a folder": Case(_both(lambda folder: (folder / "art.png").mkdir(), _front("image: art.png")),
                                      (("image art.png: is a folder, not a regular file", (EP, "image:")),)),
    "episode link not a URL": Case(_front("link: javascript:alert(1)"),
                                   (("link 'javascript:alert(1)' is not an absolute http(s) URL", (EP, "link:")),)),
    "document url not a URL": Case(_front("  url: file:///etc/passwd"),
                                   (("document url 'file:///etc/passwd' is not an absolute http(s) URL",
                                     (EP, "url:")),)),
    # --- which files are scripts ---
    "upper-case .MD is a script": Case(_write("002-SECOND.MD", "no front matter here\n"),
                                       (("script has no front matter", "002-SECOND.MD:1"),)),
    # --- Markdown ---
    "inline HTML": Case(_replace(EP, "It sets the scene.", "It sets <b>the</b> scene."),
                        (("HTML is not supported in scripts (<b>)", (EP, "<b>")),)),
    "inline HTML with attributes": Case(_replace(EP, "It sets the scene.", 'It <span class="x">sets</span> it.'),
                                        (("HTML is not supported in scripts (<span class=\"x\">)", (EP, "<span")),)),
    "link": Case(_replace(EP, "It sets the scene.", "It sets [the scene](https://example.org/scene)."),
                 (("links are not supported in scripts (https://example.org/scene)", (EP, "[the scene]")),)),
    "autolink": Case(_replace(EP, "It sets the scene.", "See <https://example.org/>."),
                     (("links are not supported in scripts", (EP, "<https:")),)),
    "link in a heading": Case(_replace(EP, "# Closing", "# [Closing](https://example.org/)"),
                              (("links are not supported in scripts", (EP, "# [Closing]")),)),
    "inline image": Case(_replace(EP, "It sets the scene.", "It sets ![a map](map.png) the scene."),
                         (("images are not supported in scripts", (EP, "![a map]")),)),
    "2000 nested ::: blocks": Case(_replace(EP, "::: note\nA closing citation.\n:::",
                                            "::: note\n" * 2000 + "A closing citation.\n" + ":::\n" * 2000),
                                   (("':::' blocks cannot be nested", "001-first.md:21"),
                                    ("more problems in this script (fix these first)", "001-first.md")),
                                   max_lines=19),
    # --- control characters ---
    "control character in text": Case(_replace(EP, "It sets the scene.", "It sets\x07 the scene."),
                                      (("control character U+0007 in the text", (EP, "It sets\x07")),)),
    "NUL in a heading": Case(_replace(EP, "# Closing", "# Clos\x00ing"),
                             (("control character U+0000 in the text", (EP, "# Clos")),)),
    "C1 control character": Case(_replace(EP, "It sets the scene.", "It sets\x85 the scene."),
                                 (("control character U+0085 in the text", (EP, "It sets\x85")),)),
    "form feed": Case(_replace(EP, "# Closing", "\x0c\n# Closing"),
                      (("control character U+000C in the text", "001-first.md:18"),)),
    "control character escaped in YAML": Case(_replace(EP, 'title: "First episode"', 'title: "First\\x07 episode"'),
                                              (("front matter: control character U+0007 in text", "001-first.md:2"),)),
    "control character in show.yaml": Case(_replace(SHOW, 'title: "Test Show & Friends"', 'title: "Test\\u001b Show"'),
                                           (("control character U+001B in text", "show.yaml:1"),)),
    "raw control character in show.yaml": Case(_replace(SHOW, "A show for tests.", "A show\x08 for tests."),
                                               (("control character U+0008 in the text", "show.yaml:3"),)),
    # --- chapters ---
    "256 chapters": Case(_write("002-second.md", _chapters(256)),
                         (("more than 255 chapters", ("002-second.md", "# Chapter 256")),)),
    # --- every problem in one run ---
    "duplicate number listed with every other problem": Case(
        _both(_write("002-second.md", EPISODE_TWO.replace("episode: 2", "episode: 1").replace(
                  "Narration for", "Narration <i>for</i>")),
              _replace(EP, "::: note", "::: redaer"), _replace(SHOW, "category: History", "category: Documents"),
              _front("image: art.png"), _replace(EP, "It sets the scene.", "It sets\x07 the scene.")),
        (("episode number 1 is also used by scripts/001-first.md", "002-second.md:1"),
         ("control character U+0007 in the text", (EP, "It sets\x07")),
         ("HTML is not supported in scripts (<i>)", ("002-second.md", "<i>")),
         ("unknown role 'redaer'", (EP, "::: redaer")),
         ("image art.png: file does not exist", (EP, "image:")),
         ("'Documents' is not an Apple Podcasts category", "show.yaml:5"))),
    "check and build list voice and cover problems with the scripts' problems": Case(
        _both(_replace(SHOW, "voice: high", "voice: squeaky"), _image("cover.png", (1600, 1400)),
              _replace(SHOW, "explicit: false", "explicit: false\ncover: cover.png"),
              _replace(EP, "::: note", "::: redaer")),
        (("voice 'squeaky' is not available in fake", "show.yaml: voices.document"),
         ("cover must be square", "show.yaml: cover cover.png"),
         ("unknown role 'redaer'", (EP, "::: redaer")))),
    # --- paragraphs with nothing to say: an engine returns silence for them, so the build failed late ---
    "a paragraph of only a dash": Case(_replace(EP, "It sets the scene.", "It sets the scene.\n\n—"),
                                       (("this paragraph has nothing to say ('—')", (EP, "—")),)),
    "a paragraph of only dots": Case(_replace(EP, "It sets the scene.", "It sets the scene.\n\n. . . ..."),
                                     (("this paragraph has nothing to say ('. . . ...')", (EP, ". . . ...")),)),
    "an escaped scene break": Case(_replace(EP, "It sets the scene.", "It sets the scene.\n\n\\* \\* \\*"),
                                   (("this paragraph has nothing to say ('* * *'): write words, or <!-- pause 1s -->",
                                     (EP, "\\* \\* \\*")),)),
    "a quoted paragraph of only an ellipsis": Case(
        _replace(EP, "> The document speaks here.", "> …\n>\n> The document speaks here."),
        (("this paragraph has nothing to say ('…')", (EP, "> …")),)),
    # --- inputs that are fine ---
    "a scene break is a pause": Case(_replace(EP, "It sets the scene.", "It sets the scene.\n\n* * *\n\nThen more."),
                                     (("First episode", None),), exit_code=0),
    "dots between sentences are not said on their own": Case(
        _replace(EP, "It sets the scene.", "It sets the scene. ... Then, — more."), (("First episode", None),),
        exit_code=0),
    "editor and hidden files are ignored": Case(
        _both(_symlink(".#001-first.md", "user@host.1234:1700000000"), _write("001-first.md~", "junk"),
              _write(".001-first.md.swp", b"\x00junk"), _write("#001-first.md#", "junk"), _write(".hidden.md", "junk")),
        (("First episode", None),), exit_code=0),
    "upper-case .MD is built": Case(_write("002-SECOND.MD", EPISODE_TWO), (("Second episode", None),), exit_code=0),
    "angle-bracketed words and tabs stay text": Case(
        _replace(EP, "It sets the scene.", "It sets <illegible> the\tscene."), (("First episode", None),), exit_code=0),
    "a 400-digit number in the text is read digit by digit": Case(
        _replace(EP, "It sets the scene.", f"It sets {'9' * 400} scenes, the {'7' * 400}th."),
        (("First episode", None),), exit_code=0),
    "255 chapters are fine": Case(_write("002-second.md", _chapters(255)), (("Second episode", None),),
                                  exit_code=0, commands=("check",)),
}


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` (links not followed) with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (info.st_size, info.st_mtime_ns)
    return found


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


class _Hung(Exception):
    pass


def _run(tmp_path: Path, args: list[str], may_block: bool) -> tuple[int, str]:
    """Run narrate with `args` in `tmp_path`; fail the test if it takes longer than TIME_LIMIT."""
    if may_block:
        code = ("import sys; from narrate.engines import register_engine; "
                "register_engine('fake', 'tests.fake_engine:FakeEngine'); "
                "from narrate.cli import main; main(sys.argv[1:], prog_name='narrate')")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=TIME_LIMIT, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"narrate {' '.join(args)} hung for {TIME_LIMIT}s")
        return proc.returncode, proc.stdout + proc.stderr

    def hung(signum, frame):  # noqa: ANN001 - signal handler
        raise _Hung

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(TIME_LIMIT)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, args, catch_exceptions=False)
    except _Hung:
        pytest.fail(f"narrate {' '.join(args)} hung for {TIME_LIMIT}s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["check", "build"])
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(tmp_path: Path, name: str, command: str) -> None:
    case = CASES[name]
    if command not in case.commands:
        pytest.skip(f"{name}: {command} is not meaningful here")
    folder = write_show(tmp_path / "scripts")
    case.mutate(folder)
    wheres = [(text, f"{where[0]}:{_line_of(folder / where[0], where[1])}" if isinstance(where, tuple) else where)
              for text, where in case.expect]
    output, cache = tmp_path / "audio", tmp_path / "cache"
    args = [command, case.target]
    if command == "build":
        args += ["-o", str(output), "--cache-dir", str(cache)]
    before = _snapshot(tmp_path)

    started = time.monotonic()
    exit_code, out = _run(tmp_path, args, case.may_block)
    assert time.monotonic() - started < TIME_LIMIT

    assert exit_code == case.exit_code, out
    assert "Traceback" not in out and "internal error" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    if case.exit_code == 0:
        assert not errors, out
        for text, _ in wheres:
            assert text in out, out
        return
    # One line per problem, and each expected problem on its own line at its place.
    assert len(wheres) <= len(errors) <= len(wheres) + case.max_lines, out
    for text, where in wheres:
        matching = [line for line in errors if text in line]
        assert len(matching) == 1, f"expected one line with {text!r} in:\n{out}"
        if where:
            prefix = f"error: scripts/{where}"
            assert matching[0].startswith(prefix) and not matching[0][len(prefix):][:1].isdigit(), matching[0]
    assert not output.exists() and not cache.exists(), "nothing may be written on bad input"
    assert _snapshot(tmp_path) == before, "nothing may be written on bad input"
    leftovers = [p for p in _snapshot(tmp_path) if os.path.basename(p).startswith(TMP_PREFIX)]
    assert not leftovers, leftovers


def test_a_scene_break_is_a_chapter_pause_and_wordless_cues_join_their_neighbours(tmp_path: Path) -> None:
    from narrate.plan import EngineInfo, Gap, Piece, plan_episode
    from narrate.script import load_project
    from narrate.voices import prepare_engines

    body = "It starts. ... It goes on.\n\n* * *\n\n... And it ends."
    folder = write_show(tmp_path / "scripts", episodes={EP: EPISODE_ONE.replace("It sets the scene.", body)})
    project = load_project(folder)
    timeline = plan_episode(project.show, project.episodes[0], EngineInfo(prepare_engines(project))).timeline
    pieces = [item for item in timeline if isinstance(item, Piece)]
    assert [p.text for p in pieces[:4]] == ["This is the narrator speaking.", "It starts. ...", "It goes on.",
                                            "... And it ends."]
    assert all(any(ch.isalnum() for ch in p.spoken) for p in pieces)  # no engine is asked to say "..."
    at = timeline.index(pieces[2])
    assert timeline[at + 1] == Gap(project.show.audio.pause_chapter)  # the scene break, not the segment pause
