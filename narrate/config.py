"""The show file (`scripts/show.yaml`): show-wide settings, validated with every problem collected."""
from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import langcodes

from narrate.categories import APPLE_CATEGORIES
from narrate.errors import Problems
from narrate.lexicon import parse_lexicon
from narrate.limits import LOUDNESS, MAX_RATE, MAX_TIMEOUT, MAX_WORKERS, MIN_RATE, TRUE_PEAK
from narrate.deploy.address import TargetError, parse_target
from narrate.model import (DEFAULT_CACHE_CONTROL, ROLES, AudioSettings, FeedSettings, Location, PublishSettings,
                           RenderSettings, Show, VoiceSpec)
from narrate.yamlfile import CONTROL, LineDict, YamlSyntaxError, control_problems, line_of, load_yaml

SHOW_FILES = ("show.yaml", "show.yml")
_NARRATOR = VoiceSpec("pyttsx3", "gmw/en-us", 165)
#: The one default cast: a show file's voices start from it, and so do `narrate say` and a script
#: read without a usable show file. Notes are the narrator speaking about the document: same voice.
DEFAULT_VOICES = {"narrator": _NARRATOR, "document": VoiceSpec("pyttsx3", "gmw/en", 155), "note": _NARRATOR}
SHOW_KEYS = (
    "title", "author", "description", "language", "category", "subcategory", "explicit", "base_url", "link",
    "copyright", "owner", "type", "cover", "voices", "audio", "render", "lexicon", "locked", "publish",
    "speech",
    "feed",
)
PUBLISH_KEYS = ("target", "endpoint_url", "region", "acl", "cache_control")
CACHE_CONTROL_KEYS = tuple(kind for kind, _ in DEFAULT_CACHE_CONTROL)
#: S3's canned ACLs (`publish.acl`).
S3_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
           "bucket-owner-read", "bucket-owner-full-control")
#: Keys people may try for credentials: refused with the reason, never read.
SECRET_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key", "secret_key",
               "secret", "password", "key", "token", "profile")
_REGION = re.compile(r"^[a-z0-9-]{1,40}$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]{1,500}$")
AUDIO_KEYS = ("sample_rate", "channels", "bitrate", "pauses", "intro", "outro", "loudness", "true_peak")
PAUSE_KEYS = ("sentence", "clause", "segment", "chapter", "document")
VOICE_KEYS = ("engine", "voice", "rate", "pitch", "name")
SPEECH_KEYS = ("list_number",)
#: The placeholders a `speech.list_number` template may use: the number in words and as written.
LIST_NUMBER_FIELDS = ("words", "number")
MAX_NAME = 200  # a cast name is a line in a podcast app, not a paragraph
MAX_PAUSE = 60.0
MAX_TEXT_BYTES = 20_000_000  # a script or show file larger than this is not text anyone wrote
_BITRATE = re.compile(r"^(\d{2,3})k$")


def find_show_file(scripts_dir: Path) -> Path | None:
    """The show file in a scripts folder, if there is one."""
    for name in SHOW_FILES:
        # lexists: a show file that is a FIFO, a device or a broken link is reported by read_text, not ignored.
        if os.path.lexists(scripts_dir / name):
            return scripts_dir / name
    return None


def file_kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: Path, display: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """A regular file's bytes; never blocks on a FIFO or reads a device forever. ValueError names `display`."""
    def fail(reason: str) -> ValueError:
        return ValueError(f"{display}:1: cannot read file: {reason}")

    try:
        # Refused before opening: opening a device can have effects of its own (a tape rewinds, a tty attaches).
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise fail(f"it is {file_kind(mode)}, not a regular file")
        # O_NONBLOCK: if a FIFO replaced the file since, opening it must not wait for a writer; fstat refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise fail(f"it is {file_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise fail(f"it is {info.st_size / 1e6:.0f} MB; at most {limit / 1e6:.0f} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            # Asked for the size fstat gave (plus one, to see a file that grew): read(limit + 1) would make a
            # 20 MB buffer for every script, 7 ms each, 7 s for an archive of 1,000.
            data = f.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += f.read(limit + 1 - len(data))
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise fail(f"it is larger than {limit / 1e6:.0f} MB")
    return data


def read_text(path: Path, display: str) -> str:
    """A script or show file as text; OSError/UnicodeError become ValueError with a one-line message."""
    data = read_bytes(path, display)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"{display}:{line}: file is not UTF-8 (byte 0x{data[exc.start]:02x})") from None


def display_path(path: Path) -> str:
    """A path as shown in messages: relative to the current folder when inside it."""
    try:
        # The folder is resolved, not the file: a script that is a symlink (even a looping one) keeps its own name.
        return str((path.absolute().parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def brief(value: Any, limit: int = 40) -> str:
    """`repr(value)` cut to `limit` characters, so a hostile value cannot flood a message."""
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** limit:
        return "a number too large to show"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool (YAML's .nan, .inf and true are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def report_unknown(raw: dict, known: tuple[str, ...], what: str, loc: Callable[[str], Location],
                   problems: Problems) -> None:
    """Record every key of `raw` that is not in `known` (a typo would otherwise be ignored silently)."""
    for key in raw:
        if key not in known:
            name = str(key) if len(str(key)) <= 40 else str(key)[:39] + "…"
            problems.add(loc(key), f"unknown {what} '{name}' (known: {', '.join(known)})")


def parse_pause(value: Any) -> float | None:
    """A pause length from `1.5`, `'1.5s'` or `'300ms'`, or None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        seconds = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", value)
        if not m:
            return None
        seconds = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    else:
        return None
    return seconds if 0 <= seconds <= MAX_PAUSE else None


def parse_voice(raw: Any, where: Location, problems: Problems, base: VoiceSpec | None = None) -> VoiceSpec | None:
    """A VoiceSpec from a mapping {engine, voice, rate, pitch, name}; keys left out come from `base`."""
    if not isinstance(raw, dict):
        problems.add(where, "a voice must be a mapping with engine, voice, rate, pitch, name")
        return None
    report_unknown(raw, VOICE_KEYS, "voice key", lambda key: where, problems)
    engine = raw.get("engine", base.engine if base else "pyttsx3")
    voice = raw.get("voice", base.voice if base else None)
    rate = raw.get("rate", base.rate if base else None)
    pitch = raw.get("pitch", base.pitch if base else None)
    name = raw.get("name", base.name if base else "")
    ok = True
    if not isinstance(engine, str) or not engine.strip():
        problems.add(where, "voice 'engine' must be a name such as pyttsx3 or piper")
        ok = False
    if not isinstance(voice, str) or not voice.strip():
        problems.add(where, "voice 'voice' must name one of the engine's voices (see: narrate voices)")
        ok = False
    if rate is not None and (not _whole(rate) or not MIN_RATE <= rate <= MAX_RATE):
        problems.add(where, f"voice rate must be words per minute between {MIN_RATE} and {MAX_RATE}, not {brief(rate)}")
        ok = False
    if pitch is not None and (not _whole(pitch) or not 0 <= pitch <= 100):
        problems.add(where, f"voice pitch must be between 0 and 100, not {brief(pitch)}")
        ok = False
    if not isinstance(name, str) or len(name) > MAX_NAME or "\n" in name.strip():
        problems.add(where, f"voice name must be one line of text of at most {MAX_NAME} characters, such as "
                     f"\"Narrator (synthetic voice)\", not {brief(name)}")
        ok = False
    return VoiceSpec(engine.strip(), voice.strip(), rate, pitch, name.strip()) if ok else None


def _str(raw: dict, key: str, loc: Location, problems: Problems, required: bool = False, default: str = "") -> str:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(loc, f"missing required key '{key}'")
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problems.add(loc, f"'{key}' must be text")
        return default
    if required and not value.strip():
        problems.add(loc, f"'{key}' must not be empty")
    return value.strip()


def check_url(value: str) -> bool:
    """Whether `value` is an absolute http(s) URL."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def check_language(value: str) -> bool:
    """Whether `value` is a valid IETF language tag such as `en` or `en-US`."""
    return "_" not in value and langcodes.tag_is_valid(value) and langcodes.Language.get(value).is_valid()


def resolve_inside(root: Path, value: Any, loc: Location, what: str, problems: Problems) -> Path | None:
    """A file path relative to the show folder that exists and stays inside it."""
    if not isinstance(value, str) or not value.strip():
        problems.add(loc, f"{what} must be a file path relative to the show folder")
        return None
    path, problem = inside_problem(root, value)
    if problem:
        problems.add(loc, f"{what} '{value}' {problem}")
        return None
    return path


def inside_problem(root: Path, value: str) -> tuple[Path, str | None]:
    """The resolved path of `value` relative to `root`, and why it is not a regular file inside root (or None)."""
    try:
        path = (root / value).resolve()
    except (OSError, RuntimeError) as exc:  # Python 3.11 raises RuntimeError for a symlink loop
        return root / value, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if not path.is_relative_to(root.resolve()):
        return path, f"is outside the show folder {display_path(root)}"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path, "does not exist"
    except OSError as exc:
        return path, f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(mode):
        return path, f"is {file_kind(mode)}, not a regular file"
    return path, None


def load_show(scripts_dir: Path) -> Show:
    """Read and validate the show file; raise ProblemsError listing every problem."""
    problems = Problems()
    show = parse_show(scripts_dir, problems)
    problems.raise_if_any()
    assert show is not None
    return show


def parse_show(scripts_dir: Path, problems: Problems) -> Show | None:
    """Parse the show file, recording problems; None when it cannot be used at all."""
    path = find_show_file(scripts_dir)
    if path is None:
        problems.add(display_path(scripts_dir), f"no show file ({' or '.join(SHOW_FILES)}) in this folder")
        return None
    shown = display_path(path)
    try:
        text = read_text(path, shown)
        for problem in control_problems(text, shown):
            problems.add(None, problem)
        raw = load_yaml(CONTROL.sub(" ", text))  # on without them, to list the file's other problems too
    except YamlSyntaxError as exc:
        problems.add(Location(shown, exc.line), exc.message)
        return None
    except ValueError as exc:
        problems.add(None, str(exc))
        return None
    if not isinstance(raw, dict):
        problems.add(Location(shown, 1), "the show file must be a YAML mapping of settings")
        return None

    def loc(key: str, mapping: Any = raw) -> Location:
        return Location(shown, line_of(mapping, key))

    report_unknown(raw, SHOW_KEYS, "show setting", loc, problems)
    title = _str(raw, "title", loc("title"), problems, required=True)
    author = _str(raw, "author", loc("author"), problems, required=True)
    description = _str(raw, "description", loc("description"), problems, required=True)
    if len(description.encode()) > 4000:
        problems.add(loc("description"), "description is longer than 4000 bytes (Apple's limit)")
    language = _str(raw, "language", loc("language"), problems, default="en")
    if not check_language(language):
        problems.add(loc("language"), f"'{language}' is not a language code (use an IETF tag such as en or en-US)")
    category = _str(raw, "category", loc("category"), problems, default="History")
    subcategory = _str(raw, "subcategory", loc("subcategory"), problems)
    if category not in APPLE_CATEGORIES:
        problems.add(loc("category"), f"'{category}' is not an Apple Podcasts category "
                     f"(known: {', '.join(APPLE_CATEGORIES)})")
    elif subcategory and subcategory not in APPLE_CATEGORIES[category]:
        known = ", ".join(APPLE_CATEGORIES[category]) or "none"
        problems.add(loc("subcategory"), f"'{subcategory}' is not a subcategory of {category} (known: {known})")
    explicit = raw.get("explicit", False)
    if not isinstance(explicit, bool):
        problems.add(loc("explicit"), "'explicit' must be true or false")
        explicit = False
    locked = raw.get("locked", True)
    if not isinstance(locked, bool):
        problems.add(loc("locked"), "'locked' must be true or false")
        locked = True
    base_url = _str(raw, "base_url", loc("base_url"), problems, required=True)
    if base_url and not check_url(base_url):
        problems.add(loc("base_url"), f"base_url '{base_url}' is not an absolute http(s) URL")
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    link = _str(raw, "link", loc("link"), problems, default=base_url)
    if link and not check_url(link):
        problems.add(loc("link"), f"link '{link}' is not an absolute http(s) URL")
    show_type = _str(raw, "type", loc("type"), problems, default="episodic")
    if show_type not in ("episodic", "serial"):
        problems.add(loc("type"), f"type must be episodic or serial, not '{show_type}'")
    owner = raw.get("owner") or {}
    if not isinstance(owner, dict):
        problems.add(loc("owner"), "owner must be a mapping with name and email")
        owner = {}
    cover = None
    if raw.get("cover") is not None:
        cover = resolve_inside(scripts_dir, raw["cover"], loc("cover"), "cover", problems)

    voices = dict(DEFAULT_VOICES)
    raw_voices = raw.get("voices") or {}
    if not isinstance(raw_voices, dict):
        problems.add(loc("voices"), "voices must map each role to {engine, voice, rate}")
        raw_voices = {}
    for role, spec in raw_voices.items():
        if role not in ROLES:
            problems.add(loc(role, raw_voices), f"unknown role '{role}' (known: {', '.join(ROLES)})")
            continue
        parsed = parse_voice(spec, loc(role, raw_voices), problems)
        if parsed:
            voices[role] = parsed
    if "note" not in raw_voices:
        # Notes are the narrator speaking about the document, so by default they share the narrator's voice.
        voices["note"] = voices["narrator"]

    audio = _parse_audio(raw.get("audio"), scripts_dir, shown, loc("audio"), problems)
    render = _parse_render(raw.get("render"), shown, loc("render"), problems)
    list_number = _parse_speech(raw.get("speech"), shown, loc("speech"), problems)
    publish = _parse_publish(raw.get("publish"), scripts_dir, shown, loc("publish"), problems)
    lexicon, lex_problems = parse_lexicon(raw.get("lexicon"), str(loc("lexicon")))
    for problem in lex_problems:
        problems.add(None, problem)
    return Show(
        root=scripts_dir, path=shown, title=title, author=author, description=description, language=language,
        category=category, subcategory=subcategory, explicit=explicit, base_url=base_url,
        voices=tuple((r, voices[r]) for r in ROLES), audio=audio, render=render, cover=cover,
        copyright=_str(raw, "copyright", loc("copyright"), problems),
        owner_name=str(owner.get("name") or author), owner_email=str(owner.get("email") or ""),
        show_type=show_type, link=link, lexicon=lexicon, locked=locked, list_number=list_number,
        feed=_parse_feed(raw.get("feed"), shown, loc("feed"), problems),
        publish=publish,
    )


def list_number_problem(template: str) -> str | None:
    """Why a `speech.list_number` template cannot be used, or None: only {words} and {number} may appear."""
    if template == "none":
        return None
    try:
        template.format(**{name: "" for name in LIST_NUMBER_FIELDS})
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        detail = f"unknown placeholder {{{exc.args[0]}}}" if isinstance(exc, KeyError) else str(exc)
        return (f"speech list_number {brief(template)} cannot be used ({detail}): use {{words}} and {{number}}, "
                "such as \"{words}.\" or \"Paragraph {words}.\", or none")
    return None


def _parse_speech(raw: Any, shown: str, where: Location, problems: Problems) -> str:
    """The `speech` settings: how a numbered paragraph's number is said (`list_number`)."""
    default = Show.__dataclass_fields__["list_number"].default
    if raw is None:
        return default
    if not isinstance(raw, dict):
        problems.add(where, "speech must be a mapping of settings (list_number)")
        return default

    def loc(key: str) -> Location:
        return Location(shown, line_of(raw, key))

    report_unknown(raw, SPEECH_KEYS, "speech setting", loc, problems)
    template = raw.get("list_number", default)
    if not isinstance(template, str) or not template.strip() or len(template) > MAX_NAME:
        problems.add(loc("list_number"), f"speech list_number must be a template such as \"{{words}}.\" or none, "
                     f"not {brief(template)}")
        return default
    problem = list_number_problem(template.strip())
    if problem:
        problems.add(loc("list_number"), problem)
        return default
    return template.strip()


def _parse_audio(raw: Any, root: Path, shown: str, where: Location, problems: Problems) -> AudioSettings:
    defaults = AudioSettings()
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        problems.add(where, "audio must be a mapping of settings")
        return defaults

    def loc(key: str, mapping: Any = raw) -> Location:
        return Location(shown, line_of(mapping, key))

    report_unknown(raw, AUDIO_KEYS, "audio setting", loc, problems)
    values: dict[str, Any] = {}
    rate = raw.get("sample_rate", defaults.sample_rate)
    if not _whole(rate) or rate not in (22050, 24000, 32000, 44100, 48000):
        problems.add(loc("sample_rate"), f"sample_rate must be 22050, 24000, 32000, 44100 or 48000, not {brief(rate)}")
    else:
        values["sample_rate"] = rate
    channels = raw.get("channels", defaults.channels)
    if not _whole(channels) or channels not in (1, 2):
        problems.add(loc("channels"), f"channels must be 1 (mono) or 2 (stereo), not {brief(channels)}")
    else:
        values["channels"] = channels
    bitrate = str(raw.get("bitrate", defaults.bitrate))
    m = _BITRATE.match(bitrate)
    if not m or not 32 <= int(m.group(1)) <= 320:
        problems.add(loc("bitrate"), f"bitrate must look like 64k..320k, not {brief(bitrate)}")
    else:
        values["bitrate"] = bitrate
    pauses = raw.get("pauses") or {}
    if not isinstance(pauses, dict):
        problems.add(loc("pauses"), "pauses must map sentence/clause/segment/chapter/document to seconds")
        pauses = {}
    for key, value in pauses.items():
        if key not in PAUSE_KEYS:
            problems.add(loc(key, pauses), f"unknown pause '{key}' (known: {', '.join(PAUSE_KEYS)})")
            continue
        seconds = parse_pause(value)
        if seconds is None:
            problems.add(loc(key, pauses), f"invalid pause length {brief(value)} (use seconds such as 0.5, 1.5s or 300ms, "
                         f"at most {MAX_PAUSE:g}s)")
        else:
            values[f"pause_{key}"] = seconds
    for key in ("intro", "outro"):
        if raw.get(key) is not None:
            values[key] = resolve_inside(root, raw[key], loc(key), f"{key} audio", problems)
    for key, low, high in (("loudness", *LOUDNESS), ("true_peak", *TRUE_PEAK)):
        if key in raw:
            value = raw[key]
            if not is_number(value) or not low <= value <= high:
                problems.add(loc(key), f"{key} must be a number between {low:g} and {high:g}, not {brief(value)}")
            else:
                values[key] = float(value)
    return AudioSettings(**{**defaults.__dict__, **values})


def _parse_render(raw: Any, shown: str, where: Location, problems: Problems) -> RenderSettings:
    if raw is None:
        return RenderSettings()
    if not isinstance(raw, dict):
        problems.add(where, "render must be a mapping with workers, timeout and cluster")
        return RenderSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        loc = Location(shown, line_of(raw, key))
        if key == "workers":
            if not _whole(value) or not 0 <= value <= MAX_WORKERS:
                problems.add(loc, f"render workers must be 0 (one per core) to {MAX_WORKERS}, not {brief(value)}")
            else:
                values["workers"] = value
        elif key == "timeout":
            if not is_number(value) or not 0 < value <= MAX_TIMEOUT:
                problems.add(loc, f"render timeout must be seconds above 0 and at most {MAX_TIMEOUT:g}, "
                             f"not {brief(value)}")
            else:
                values["timeout"] = float(value)
        elif key == "cluster":
            problem = cluster_address_problem(value)
            if problem:
                problems.add(loc, f"render cluster {problem}")
            else:
                values["cluster"] = value.strip()
        else:
            problems.add(loc, f"unknown render setting '{key}' (known: workers, timeout, cluster)")
    return RenderSettings(**values)


_CLUSTER_ADDRESS = re.compile(r"(?:tcp|tls)://(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


def cluster_address_problem(value: object) -> str | None:
    """What is wrong with a Dask scheduler address (`tcp://HOST:PORT` or `tls://HOST:PORT`), or None."""
    text = value.strip() if isinstance(value, str) else None
    found = _CLUSTER_ADDRESS.fullmatch(text) if text else None
    if found is None or not 1 <= int(found["port"]) <= 65535:
        return f"must be a Dask scheduler address such as tcp://HOST:8786, not {brief(value)}"
    return None


#: The largest feed.limit: a page of more items than this is no page.
MAX_FEED_LIMIT = 100_000


def _parse_feed(raw: Any, shown: str, where: Location, problems: Problems) -> FeedSettings:
    """The `feed:` mapping: `limit`, a whole number of items from 1 (or 0: no limit, the default)."""
    if raw is None:
        return FeedSettings()
    if not isinstance(raw, dict):
        problems.add(where, "feed must be a mapping, e.g. feed: {limit: 100}")
        return FeedSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        loc = Location(shown, line_of(raw, key))
        if key == "limit":
            if not _whole(value) or not 0 <= value <= MAX_FEED_LIMIT:
                problems.add(loc, f"feed limit must be a whole number of items from 1 to {MAX_FEED_LIMIT} "
                             f"(0: every episode in feed.xml), not {brief(value)}")
            else:
                values["limit"] = int(value)
        else:
            problems.add(loc, f"unknown feed setting '{key}' (known: limit)")
    return FeedSettings(**values)


def _parse_publish(raw: Any, root: Path, shown: str, where: Location, problems: Problems) -> PublishSettings:
    """`publish:` settings: a target and the S3 and caching options; credentials are refused, never read."""
    if raw is None:
        return PublishSettings()
    if not isinstance(raw, dict):
        problems.add(where, "publish must be a mapping with target and options (see README: Publishing)")
        return PublishSettings()

    def loc(key: str, mapping: Any = raw) -> Location:
        return Location(shown, line_of(mapping, key))

    values: dict[str, Any] = {}
    for key in raw:
        if str(key).lower() in SECRET_KEYS:
            problems.add(loc(key), f"publish '{key}': credentials never go in the show file; narrate reads them "
                         "from the environment (AWS_* variables, ~/.aws, ~/.ssh and the ssh agent)")
    report_unknown({k: v for k, v in raw.items() if str(k).lower() not in SECRET_KEYS}, PUBLISH_KEYS,
                   "publish setting", loc, problems)
    if raw.get("target") is not None:
        target = raw["target"]
        try:
            if not isinstance(target, str):
                raise TargetError("publish target must be text: a folder, sftp://host/path or s3://bucket/prefix")
            parse_target(target, root)
            values["target"] = target.strip()
            values["target_location"] = str(loc("target"))
        except TargetError as exc:
            problems.add(loc("target"), str(exc))
    endpoint = raw.get("endpoint_url")
    if endpoint is not None:
        if not isinstance(endpoint, str) or not check_url(endpoint.strip()) or "@" in urlsplit(endpoint).netloc:
            problems.add(loc("endpoint_url"), f"publish endpoint_url must be an http(s) URL without credentials, "
                         f"not {brief(endpoint)}")
        else:
            values["endpoint_url"] = endpoint.strip()
    region = raw.get("region")
    if region is not None:
        if not isinstance(region, str) or not _REGION.match(region.strip()):
            problems.add(loc("region"), f"publish region must be a region name such as eu-central-1, not {brief(region)}")
        else:
            values["region"] = region.strip()
    acl = raw.get("acl")
    if acl is not None:
        if acl not in S3_ACLS:
            problems.add(loc("acl"), f"publish acl must be one of {', '.join(S3_ACLS)}, not {brief(acl)}")
        else:
            values["acl"] = acl
    cache = raw.get("cache_control")
    if cache is not None:
        if not isinstance(cache, dict):
            problems.add(loc("cache_control"), "publish cache_control must map feed, pages and media to a "
                         "Cache-Control value")
        else:
            report_unknown(cache, CACHE_CONTROL_KEYS, "cache_control kind", lambda key: loc(key, cache), problems)
            merged = dict(DEFAULT_CACHE_CONTROL)
            for kind in CACHE_CONTROL_KEYS:
                if kind in cache:
                    value = cache[kind]
                    if not isinstance(value, str) or not _HEADER_VALUE.match(value.strip()):
                        problems.add(loc(kind, cache), f"cache_control {kind} must be a Cache-Control value such as "
                                     f"'public, max-age=300' (printable ASCII on one line), not {brief(value)}")
                    else:
                        merged[kind] = value.strip()
            values["cache_control"] = tuple(merged.items())
    return PublishSettings(**values)


__all__ = ["LineDict", "load_show", "parse_show", "parse_pause", "parse_voice", "read_text", "display_path"]
