"""Getting a Piper voice without guessing: the README and the errors give the same commands, folders and file
names, a voice put where the README says is found, and a `pitch:` Piper cannot apply is a warning."""
from __future__ import annotations

import re
import shutil
from importlib.util import find_spec
from pathlib import Path

import pytest
from click.testing import CliRunner

from narrate.cli import main
from narrate.engines import PIPER_INSTALL, PIPER_VOICE_INSTALL, load_engine
from narrate.errors import UserError
from tests.conftest import show_yaml, write_show

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
JOE = "en_US-joe-medium"
needs_piper = pytest.mark.skipif(find_spec("piper") is None, reason="the piper extra is not installed")
_COMMAND = re.compile(r"pip install (?:'[^']+'|[\w.\-\[\]]+)")


def _commands(message: str) -> list[str]:
    found = _COMMAND.findall(message)
    assert found, f"no install command in: {message}"
    return found


def test_the_engine_error_gives_the_readmes_install_command() -> None:
    with pytest.raises(UserError) as caught:
        load_engine("piper", {"piper": "narrate_missing_piper:PiperEngine"})
    assert _commands(caught.value.message) == [PIPER_INSTALL]
    assert f"{PIPER_INSTALL}" in README


def test_the_readme_names_the_voice_package_the_folder_and_the_files() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    package = PIPER_VOICE_INSTALL.split()[-1]
    assert f'"{package}==' in pyproject, "the voice package the README names is the one the tests install"
    assert PIPER_VOICE_INSTALL in README
    assert "~/.local/share/narrate/piper-voices" in README
    assert "`VOICE.onnx`" in README and "`VOICE.onnx.json`" in README


@needs_piper
def test_the_missing_voice_error_gives_the_readmes_commands_and_folder(tmp_path: Path) -> None:
    from narrate.engines.piper_engine import DEFAULT_VOICES_DIR, PiperEngine

    assert DEFAULT_VOICES_DIR in README
    message = PiperEngine(voices_dir=tmp_path / "voices").missing_voice_help("en_GB-nobody-medium")
    assert "en_GB-nobody-medium.onnx and en_GB-nobody-medium.onnx.json" in message
    assert str(tmp_path / "voices") in message
    for command in _commands(message):
        assert command in README, command


def _joe_files() -> tuple[Path, Path]:
    from narrate.engines.piper_engine import _package_voices

    found = [v for v in _package_voices() if v.id == JOE]
    if not found:
        pytest.skip(f"no installed voice package ships {JOE} ({PIPER_VOICE_INSTALL})")
    return found[0].model, found[0].config


@needs_piper
def test_a_voice_put_where_the_readme_says_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from narrate.engines.piper_engine import ENV_VOICES, PiperEngine

    model, config = _joe_files()
    folder = tmp_path / "piper-voices" / "en" / "en_GB"  # any subfolder of the voices folder
    folder.mkdir(parents=True)
    (folder / "en_GB-copied-medium.onnx").symlink_to(model)
    shutil.copyfile(config, folder / "en_GB-copied-medium.onnx.json")
    monkeypatch.setenv(ENV_VOICES, str(tmp_path / "piper-voices"))
    engine = PiperEngine()
    assert engine.find_voice("en_GB-copied-medium") is not None
    assert engine.voice_version("en_GB-copied-medium")  # the config beside it was read
    (folder / "en_GB-copied-medium.onnx.json").unlink()
    with pytest.raises(UserError, match=r"en_GB-copied-medium\.onnx\.json is missing"):
        PiperEngine().voice_version("en_GB-copied-medium")


# -- pitch --------------------------------------------------------------------------------------------------

EPISODE = """\
---
title: Simple
episode: 1
date: 2026-01-05
---

# One

The narrator speaks.

::: narrator rate=150
The narrator speaks more slowly.
:::

> The document speaks.
"""


def _pitch_show(tmp_path: Path, engine: str, voice: str, pitch: int) -> Path:
    show = show_yaml("Pitch", voices={"narrator": (engine, voice, 160), "document": ("fake", "high", None)})
    show = show.replace(f"voice: {voice}, rate: 160}}", f"voice: {voice}, rate: 160, pitch: {pitch}}}")
    assert f"pitch: {pitch}" in show
    return write_show(tmp_path / "scripts", show, {"001-simple.md": EPISODE})


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("warning: ")]


@needs_piper
def test_a_pitch_piper_cannot_apply_is_a_warning_once_per_voice(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _joe_files()
    _pitch_show(tmp_path, "piper", JOE, 40)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "scripts"])
    assert result.exit_code == 0, result.output
    # The narrator, the note (the narrator's voice) and the slower passage: one voice, one warning.
    assert _warnings(result.output) == [
        f"warning: scripts/show.yaml: voices.narrator: piper cannot change a voice's pitch; pitch 40 of voice "
        f"{JOE} is ignored (remove it, or use an engine that can, such as pyttsx3)"]


@needs_piper
def test_an_ignored_pitch_is_not_in_the_cache_key(tmp_path: Path) -> None:
    from narrate.plan import EngineInfo, plan_episode
    from narrate.script import load_project
    from narrate.voices import prepare_engines

    _joe_files()

    def keys(folder: Path, engine: str, voice: str, pitch: int) -> list[str]:
        project = load_project(_pitch_show(folder, engine, voice, pitch))
        plan = plan_episode(project.show, project.episodes[0], EngineInfo(prepare_engines(project)))
        return [p.key for p in plan.pieces if p.role != "document"]

    assert keys(tmp_path / "a", "piper", JOE, 40) == keys(tmp_path / "b", "piper", JOE, 60)
    assert keys(tmp_path / "c", "pyttsx3", "gmw/en-us", 40) != keys(tmp_path / "d", "pyttsx3", "gmw/en-us", 60)


def test_a_pitch_pyttsx3_applies_is_no_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pitch_show(tmp_path, "pyttsx3", "gmw/en-us", 40)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "scripts"])
    assert result.exit_code == 0, result.output
    assert _warnings(result.output) == []
