"""Which ffmpeg and which espeak-ng a build uses, chosen the same way on every machine, and what they are.

By default both come from pinned wheels: imageio-ffmpeg's ffmpeg binary and espeakng-loader's
libespeak-ng with its own data, so the same scripts give the same audio wherever narrate runs.
`NARRATE_FFMPEG` and `NARRATE_ESPEAK` choose others:

- `bundled` (or unset): the wheel's;
- `system`: ffmpeg on PATH; the libespeak-ng.so.1 the dynamic linker finds, with the data folder built
  into that library;
- a path: that ffmpeg executable; that libespeak-ng shared library.

espeak-ng's data: `bundled` always uses the wheel's data and `system` always the system library's own,
whatever ESPEAK_DATA_PATH says (a library read with another version's data mispronounces or fails);
with a path, ESPEAK_DATA_PATH is honoured, else an `espeak-ng-data` folder beside the library, else
the library's built-in folder.
"""
from __future__ import annotations

import ctypes.util
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from narrate.errors import UserError

log = logging.getLogger(__name__)

ENV_FFMPEG = "NARRATE_FFMPEG"
ENV_ESPEAK = "NARRATE_ESPEAK"
BUNDLED, SYSTEM, PATH = "bundled", "system", "path"
_VERSION_LINE = re.compile(r"^ffmpeg version (\S+)")
_NUMBERS = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class FfmpegTool:
    """The ffmpeg a build runs: its path, where it came from (bundled, system or path) and its version."""

    path: str
    source: str
    version: str

    @property
    def numbers(self) -> tuple[int, ...] | None:
        """The version as numbers, e.g. (5, 1, 9); None for a build without one (a git snapshot)."""
        return version_numbers(self.version)

    def describe(self) -> str:
        return f"ffmpeg {self.version} ({self.source}) at {self.path}"


@dataclass(frozen=True)
class EspeakChoice:
    """The libespeak-ng to load: where it came from, the name or path to dlopen, and its data folder.

    `data` None means the library's own built-in data folder (ESPEAK_DATA_PATH is then left unset).
    """

    source: str
    library: str
    data: str | None


def _choice(env: str) -> str:
    """The env variable's value: 'bundled' (also when unset), 'system', or a path."""
    value = os.environ.get(env, "").strip()
    return value or BUNDLED


def version_numbers(version: str) -> tuple[int, ...] | None:
    """(major, minor[, micro]) from a version string such as `5.1.9-0+deb12u1` or `n9.0.2-17-g2a5`."""
    found = _NUMBERS.search(version)
    if not found or version.startswith(("N-", "git")):
        return None
    return tuple(int(part) for part in found.groups() if part is not None)


def ffmpeg_version(path: str) -> str:
    """The version token of `ffmpeg -version`'s first line (`ffmpeg version X ...`), the conventional form."""
    try:
        result = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True,
                                errors="replace", timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{path}: cannot run this ffmpeg ({exc})") from None
    lines = result.stdout.strip().splitlines()
    match = _VERSION_LINE.match(lines[0].strip()) if lines else None
    if result.returncode != 0 or not match:
        raise UserError(f"{path} is not ffmpeg: `{Path(path).name} -version` does not say 'ffmpeg version'")
    return match.group(1)


def bundled_ffmpeg_path() -> str | None:
    """imageio-ffmpeg's binary, or None when the wheel is missing."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None


def _ffmpeg_path(choice: str) -> tuple[str, str]:
    if choice == BUNDLED:
        path = bundled_ffmpeg_path()
        if path is None:
            raise UserError("the bundled ffmpeg is missing: pip install imageio-ffmpeg "
                            f"(or install ffmpeg and set {ENV_FFMPEG}=system)")
        return path, BUNDLED
    if choice == SYSTEM:
        path = shutil.which("ffmpeg")
        if path is None:
            raise UserError(f"{ENV_FFMPEG}=system but there is no ffmpeg on PATH "
                            "(apt-get install ffmpeg, or unset it to use the bundled one)")
        return path, SYSTEM
    if "/" not in choice:
        raise UserError(f"{ENV_FFMPEG}={choice}: expected 'bundled', 'system' or a path to an ffmpeg executable")
    path = os.path.abspath(os.path.expanduser(choice))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise UserError(f"{ENV_FFMPEG}={choice}: no such executable file")
    return path, PATH


@lru_cache(maxsize=None)
def _ffmpeg_tool(choice: str) -> FfmpegTool:
    path, source = _ffmpeg_path(choice)
    try:
        version = ffmpeg_version(path)
    except UserError as exc:
        raise UserError(f"{ENV_FFMPEG}={choice}: {exc.message}") from None
    tool = FfmpegTool(path, source, version)
    numbers = tool.numbers
    if numbers is not None and numbers[:2] < (4, 4):
        log.warning("%s is older than 4.4, the oldest ffmpeg narrate is tested with", tool.describe())
    return tool


def ffmpeg_tool() -> FfmpegTool:
    """The ffmpeg chosen by NARRATE_FFMPEG (the bundled one by default); UserError when it cannot be had."""
    return _ffmpeg_tool(_choice(ENV_FFMPEG))


def bundled_espeak() -> tuple[str, str] | None:
    """espeakng-loader's library and data folder, or None when the wheel is missing."""
    try:
        import espeakng_loader
    except ImportError:
        return None
    library = Path(espeakng_loader.get_library_path())
    versioned = library.with_name(library.name + ".1")
    return str(versioned if versioned.exists() else library), str(espeakng_loader.get_data_path())


@lru_cache(maxsize=1)
def system_espeak_library() -> str | None:
    """The soname of the system's libespeak-ng (as the dynamic linker finds it), or None."""
    return ctypes.util.find_library("espeak-ng")


def espeak_choice() -> EspeakChoice:
    """The libespeak-ng chosen by NARRATE_ESPEAK and its data folder; UserError when it cannot be had."""
    choice = _choice(ENV_ESPEAK)
    if choice == BUNDLED:
        bundled = bundled_espeak()
        if bundled is None:
            raise UserError("the bundled espeak-ng is missing: pip install espeakng-loader "
                            f"(or install espeak-ng and set {ENV_ESPEAK}=system)")
        return EspeakChoice(BUNDLED, *bundled)
    if choice == SYSTEM:
        library = system_espeak_library()
        if library is None:
            raise UserError(f"{ENV_ESPEAK}=system but no system espeak-ng library was found "
                            "(apt-get install espeak-ng, or unset it to use the bundled one)")
        return EspeakChoice(SYSTEM, library, None)
    if "/" not in choice:
        raise UserError(f"{ENV_ESPEAK}={choice}: expected 'bundled', 'system' or a path to a libespeak-ng "
                        "shared library")
    path = Path(os.path.abspath(os.path.expanduser(choice)))
    if not path.is_file():
        raise UserError(f"{ENV_ESPEAK}={choice}: no such file")
    data = os.environ.get("ESPEAK_DATA_PATH") or None
    bundled = bundled_espeak()
    if data is not None and bundled is not None and os.path.realpath(data) == os.path.realpath(bundled[1]):
        data = None  # set by an earlier bundled run in this environment, not by the user
    if data is None and (path.parent / "espeak-ng-data").is_dir():
        data = str(path.parent / "espeak-ng-data")
    return EspeakChoice(PATH, str(path), data)


def log_tools(engines: Mapping[str, object]) -> None:
    """Log (at debug level: shown by `narrate -v`) the ffmpeg and espeak-ng this run uses; checks the choice.

    Called once per build when its engines start, so a bad NARRATE_FFMPEG stops the build at once.
    """
    log.debug("using %s", ffmpeg_tool().describe())
    if "pyttsx3" in engines and sys.platform.startswith("linux"):
        from narrate.engines.pyttsx3_engine import _espeak_data_path, espeak_version, loaded_espeak_library

        choice = espeak_choice()
        log.debug("using espeak-ng %s (%s) at %s, data %s", espeak_version(), choice.source,
                  loaded_espeak_library(), _espeak_data_path())
