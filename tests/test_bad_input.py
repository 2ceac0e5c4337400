"""Every bad input gives one clear line (with file:line where there is one), exit status 2, and no output."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from narrate.cli import main
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show


def _replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture text {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return mutate


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    return mutate


def _both(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        for m in mutations:
            m(folder)
    return mutate


def _image(name: str, size: tuple[int, int], mode: str = "RGB", fmt: str = "PNG") -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        Image.new(mode, size, "navy" if mode == "RGB" else None).save(folder / name, fmt)
    return mutate


def _dir(name: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / name).mkdir()
    return mutate


SHOW = "show.yaml"
EP = "001-first.md"

CASES: dict[str, tuple[Callable[[Path], None], str, str | None]] = {
    # name: (mutation, expected message fragment, expected "file:line" prefix or None)
    "malformed front matter": (_replace(EP, "episode: 1", "episode: [1"), "front matter: malformed YAML",
                               "001-first.md:4"),
    "unclosed front matter": (_write(EP, "---\ntitle: x\nepisode: 1\n# Chapter\n\ntext\n"), "never ends",
                              "001-first.md:1"),
    "missing title": (_replace(EP, 'title: "First episode"\n', ""), "missing episode title", "001-first.md:"),
    "missing episode number": (_replace(EP, "episode: 1\n", ""), "missing episode number", "001-first.md:"),
    "episode number not a number": (_replace(EP, "episode: 1", "episode: one"), "episode number must be",
                                    "001-first.md:3"),
    "duplicate episode number": (_write("002-second.md", EPISODE_TWO.replace("episode: 2", "episode: 1")),
                                 "episode number 1 is also used by", "002-second.md:1"),
    "unknown role": (_replace(EP, "::: note", "::: redaer"), "unknown role 'redaer' (known: narrator, document, note)",
                     "001-first.md:20"),
    "unknown voice": (_replace(SHOW, "voice: high", "voice: squeaky"),
                      "voice 'squeaky' is not available in fake (voices for en: low, high", "show.yaml:"),
    "unknown voice in a script": (_replace(EP, "::: note", "::: note voice=squeaky"),
                                  "voice 'squeaky' is not available in fake", "001-first.md:21"),
    "unknown engine": (_replace(SHOW, "{engine: fake, voice: high", "{engine: festival, voice: high"),
                       "unknown engine 'festival' (installed:", "show.yaml:"),
    "empty script": (_write(EP, ""), "script is empty", "001-first.md:1"),
    "whitespace-only script": (_write(EP, "\n  \n"), "script is empty", "001-first.md:1"),
    "script without chapters": (_write(EP, "---\ntitle: x\nepisode: 1\ndate: 2026-01-01\n---\n"),
                                "script has no chapters", "001-first.md:6"),
    "chapter with no text": (_replace(EP, "# Closing\n", "# Empty\n\n# Closing\n"), "chapter 'Empty' has no text",
                             "001-first.md:18"),
    "text before the first heading": (_replace(EP, "# Opening\n", "Stray text.\n\n# Opening\n"),
                                      "text before the first chapter heading", "001-first.md:12"),
    "not UTF-8": (_write(EP, EPISODE_ONE.replace("Closing", "Zav\xf8r").encode("latin-1")), "file is not UTF-8",
                  "001-first.md:18"),
    "unreadable file (a folder named like a script)": (_dir("003-folder.md"), "cannot read file", "003-folder.md:1"),
    "cover missing": (_replace(SHOW, "explicit: false", "explicit: false\ncover: nowhere.png"),
                      "cover 'nowhere.png' does not exist", "show.yaml:7"),
    "cover not an image": (_both(_write("cover.png", "not an image"),
                                 _replace(SHOW, "explicit: false", "explicit: false\ncover: cover.png")),
                           "not an image", "show.yaml"),
    "cover not square": (_both(_image("cover.png", (1600, 1400)),
                               _replace(SHOW, "explicit: false", "explicit: false\ncover: cover.png")),
                         "square", "show.yaml"),
    "cover too small": (_both(_image("cover.png", (600, 600)),
                              _replace(SHOW, "explicit: false", "explicit: false\ncover: cover.png")),
                        "1400", "show.yaml"),
    "intro missing": (_replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  intro: intro.wav"),
                      "intro audio 'intro.wav' does not exist", "show.yaml:13"),
    "outro outside the show folder": (_both(_write("../outside.wav", b"RIFF"),
                                            _replace(SHOW, "  bitrate: 64k", "  bitrate: 64k\n  outro: ../outside.wav")),
                                      "outro audio '../outside.wav' is outside the show folder", "show.yaml:13"),
    "invalid pause in a script": (_replace(EP, "# Closing", "<!-- pause soon -->\n\n# Closing"),
                                  "invalid pause length 'soon'", "001-first.md:18"),
    "negative pause in a script": (_replace(EP, "# Closing", "<!-- pause -2s -->\n\n# Closing"),
                                   "invalid pause length '-2s'", "001-first.md:18"),
    "pause too long in a script": (_replace(EP, "# Closing", "<!-- pause 90s -->\n\n# Closing"),
                                   "invalid pause length '90s'", "001-first.md:18"),
    "invalid pause in the show file": (_replace(SHOW, "sentence: 0.2", "sentence: fast"),
                                       "invalid pause length 'fast'", "show.yaml:13"),
    "base URL not absolute": (_replace(SHOW, "https://example.org/show/", "example.org/show"),
                              "base_url 'example.org/show' is not an absolute http(s) URL", "show.yaml:7"),
    "base URL not http": (_replace(SHOW, "https://example.org/show/", "ftp://example.org/show/"),
                          "is not an absolute http(s) URL", "show.yaml:7"),
    "language code": (_replace(SHOW, "language: en", "language: english"), "'english' is not a language code",
                      "show.yaml:4"),
    "category not Apple's": (_replace(SHOW, "category: History", "category: Documents"),
                             "'Documents' is not an Apple Podcasts category", "show.yaml:5"),
    "release date not a date": (_replace(EP, "date: 2026-01-05", "date: 2026-13-45"),
                                "release date '2026-13-45' is not a date", "001-first.md:4"),
    "lexicon entry empty": (_replace(SHOW, "audio:", "lexicon:\n  Husák: ''\naudio:"),
                            "lexicon entry 'Husák' is empty", "show.yaml:"),
    "lexicon entry not a string": (_replace(EP, "---\n\n# Opening", "lexicon:\n  Husák: [1, 2]\n---\n\n# Opening"),
                                   "lexicon entry 'Husák'", "001-first.md:"),
    "engine cannot speak the language": (_replace(SHOW, "language: en", "language: cs"),
                                         "has no voice for the show's language 'cs'", "show.yaml:1"),
    "unknown front matter key": (_replace(EP, "summary:", "sumary:"), "unknown front matter key 'sumary'",
                                 "001-first.md:5"),
    "unsupported markdown": (_replace(EP, "# Closing", "- a list item\n  - nested\n\n# Closing"),
                             "lists inside lists are not supported; write the inner items as paragraphs",
                             "001-first.md:19"),
}


@pytest.mark.parametrize("command", ["check", "build"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(tmp_path: Path, case: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_show(tmp_path / "scripts")
    mutate, message, where = CASES[case]
    mutate(folder)
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "audio"
    args = [command, "scripts"] + (["-o", str(output), "--cache-dir", str(tmp_path / "cache")] if command == "build" else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors, result.output
    matching = [line for line in errors if message in line]
    assert matching, f"expected {message!r} in:\n{result.output}"
    if where:
        assert matching[0].startswith(f"error: scripts/{where}"), matching[0]
    assert "Traceback" not in result.output
    assert not output.exists(), "nothing may be written on bad input"
    assert not (tmp_path / "cache").exists()


def test_all_problems_are_collected_before_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    _replace("001-first.md", "::: note", "::: redaer")(folder)
    _replace("002-second.md", "title: \"Second episode\"\n", "")(folder)
    _replace(SHOW, "category: History", "category: Documents")(folder)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "scripts"])
    assert result.exit_code == 2
    assert "unknown role 'redaer'" in result.output
    assert "missing episode title" in result.output
    assert "not an Apple Podcasts category" in result.output


def test_unknown_episode_number_is_a_user_error(show_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["build", str(show_dir), "-o", str(tmp_path / "out"), "--episode", "7"])
    assert result.exit_code == 2
    assert "no episode 7 (episodes: 1)" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_scripts_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "scripts folder does not exist" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_show(tmp_path / "scripts")
    (folder / EP).chmod(0)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "scripts"])
    assert result.exit_code == 2
    assert "scripts/001-first.md:1: cannot read file" in result.output


def test_fixture_show_is_valid(show_dir: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(show_dir)])
    assert result.exit_code == 0, result.output
    assert "First episode" in result.output
    assert SHOW_YAML  # the fixture text is what the cases above mutate
