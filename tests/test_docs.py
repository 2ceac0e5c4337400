"""The README stays true: its test command is what CI runs, and every command, option and key is documented."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from narrate.cli import main
from narrate.config import AUDIO_KEYS, PAUSE_KEYS, SHOW_KEYS, VOICE_KEYS
from narrate.script import DOCUMENT_KEYS, FRONT_KEYS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    section = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("narrate build")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _setup_commands()[1] in ci.splitlines()


def _documented(option: str) -> bool:
    """An option appears in the README as a whole token: `-v` inside `--version` does not count."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", README) is not None


def test_options_are_matched_as_whole_tokens() -> None:
    assert "--version" in README
    # Each of these appears only inside a longer option of the README.
    assert not any(_documented(part) for part in ("--vers", "--verb", "-verbose", "-quiet", "-dry"))
    assert _documented("--version") and _documented("-v") and _documented("--dry-run")


def _commands() -> list[tuple[str, click.Command]]:
    return sorted(main.commands.items())


@pytest.mark.parametrize(("name", "command"), _commands())
def test_every_command_and_option_is_documented(name: str, command: click.Command) -> None:
    assert f"narrate {name}" in README
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(_documented(opt) for opt in param.opts), f"{name}: option {param.opts} not in README"


def test_global_options_are_documented() -> None:
    for param in main.params:
        if isinstance(param, click.Option):
            assert any(_documented(opt) for opt in param.opts), param.opts


@pytest.mark.parametrize("key", SHOW_KEYS + tuple(f"audio.{k}" for k in AUDIO_KEYS if k != "pauses"))
def test_every_show_setting_is_documented(key: str) -> None:
    assert f"`{key}`" in README, key


@pytest.mark.parametrize("key", PAUSE_KEYS + VOICE_KEYS + FRONT_KEYS + DOCUMENT_KEYS)
def test_every_script_and_pause_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README, key
