"""Episode scripts: YAML front matter plus Markdown, parsed into frozen Episode objects.

This module finds the scripts, reads the show and each script's front matter; the Markdown body
(chapters, segments, pauses) is read by narrate/scriptbody.py.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from narrate.config import brief, check_url, display_path, file_kind, parse_show, read_text, report_unknown
from narrate.cover import episode_image_problem
from narrate.errors import Problems
from narrate.lexicon import merge_lexicons, parse_lexicon
from narrate.limits import MAX_EPISODE_NUMBER
from narrate.model import Chapter, DocumentInfo, Episode, Location, Segment, Show
from narrate.normalize import has_words, nothing_to_say, spoken_text
from narrate.plan import split_cues
from narrate.scriptbody import parse_body
from narrate.yamlfile import CONTROL, YamlSyntaxError, control_problems, line_of, load_yaml

FRONT_KEYS = ("title", "episode", "date", "summary", "document", "lexicon", "type", "image", "link", "draft")
DOCUMENT_KEYS = ("title", "authors", "date", "translator", "source", "url", "rights")
EPISODE_TYPES = ("full", "trailer", "bonus")
MAX_PROBLEMS = 20  # per script: a pathological script is not worth a thousand lines
# The longest name derived from a slug, SLUG.<10 hex digits>.chapters.json, must leave room below NAME_MAX
# (255 bytes) for temporary-file prefixes and suffixes: at most 200 bytes in all.
LONGEST_SUFFIX = ".0123456789.chapters.json"
MAX_SLUG = 200 - len(LONGEST_SUFFIX)


@dataclass(frozen=True)
class Project:
    """A show file and its episode scripts, parsed and validated."""

    show: Show
    episodes: tuple[Episode, ...]

    def episode(self, number: int) -> Episode | None:
        """The episode with this number, if any."""
        return next((e for e in self.episodes if e.number == number), None)


def slugify(stem: str) -> str:
    """A stable ASCII file name from a script's file name: `002-Politburo 1987` -> `002-politburo-1987`."""
    ascii_text = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "episode"


def is_script_name(name: str) -> bool:
    """Whether a file name is an episode script: `*.md` in any case, except README.md, dotfiles and editor files."""
    # Editor backups (`x.md~`, `.x.md.swp`, `#x.md#`) do not end in .md; Emacs locks (`.#x.md`) are dotfiles.
    return name.lower().endswith(".md") and name.lower() != "readme.md" and not name.startswith((".", "#"))


def episode_scripts(scripts_dir: Path) -> list[Path]:
    """The episode scripts in a folder (see `is_script_name`), in name order."""
    with os.scandir(scripts_dir) as entries:
        return sorted(scripts_dir / e.name for e in entries if is_script_name(e.name))


def load_project(scripts_dir: Path) -> Project:
    """Parse the show file and every script, collecting all problems before raising."""
    problems = Problems()
    project = read_project(scripts_dir, problems)
    problems.raise_if_any()
    assert project is not None
    return project


def read_project(scripts_dir: Path, problems: Problems) -> Project | None:
    """The show and the scripts that parse, recording every problem; None when the show file is unusable.

    With problems recorded, the project holds only the scripts without any, so later checks (voices,
    cover) can still run and one run lists every problem.
    """
    folder_problem = _folder_problem(scripts_dir)
    if folder_problem:
        problems.add(None, f"{display_path(scripts_dir)}: {folder_problem}")
        problems.raise_if_any()
    show = parse_show(scripts_dir, problems)
    episodes: list[Episode] = []
    try:
        paths = episode_scripts(scripts_dir)
    except OSError as exc:
        problems.add(None, f"{display_path(scripts_dir)}: cannot list the scripts folder: {exc.strerror or exc}")
        problems.raise_if_any()
    if not paths:
        problems.add(display_path(scripts_dir), "no episode scripts (*.md) in this folder")
    numbers: dict[int, str] = {}
    slugs: dict[str, str] = {}
    for path in paths:
        # Numbers are compared even for scripts with other problems, so one run lists every problem.
        episode, number = _read_episode(path, show, problems)
        if episode is not None:
            episodes.append(episode)
        where = display_path(path)
        if number is not None:
            if number in numbers:
                problems.add(Location(where, 1), f"episode number {number} is also used by {numbers[number]}")
            numbers.setdefault(number, where)
        slug = slugify(path.stem)
        if slug in slugs:
            problems.add(Location(where, 1), f"file name gives the same output name '{slug}' as {slugs[slug]}")
        slugs.setdefault(slug, where)
    if show is None:
        return None
    return Project(show, tuple(sorted(episodes, key=lambda e: e.number)))


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter or None, body, line number in the file where the body starts)."""
    # Split at line feeds only, as markdown-it and the line numbers of messages do (not at U+2028 or form feeds).
    lines = [line for line in re.split(r"(?<=\n)", text) if line]
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), i + 2
    raise ValueError("front matter starts with '---' but never ends (add a closing '---' line)")


def _folder_problem(scripts_dir: Path) -> str | None:
    try:
        mode = scripts_dir.stat().st_mode
    except FileNotFoundError:
        return "scripts folder does not exist"
    except OSError as exc:
        return f"cannot open the scripts folder: {exc.strerror or exc}"
    if not stat.S_ISDIR(mode):
        return f"the scripts folder is {file_kind(mode)}, not a folder"
    return None


def parse_episode(path: Path, show: Show | None, problems: Problems) -> Episode | None:
    """Parse one episode script, recording every problem; None when it cannot be used."""
    return _read_episode(path, show, problems)[0]


def _read_episode(path: Path, show: Show | None, problems: Problems) -> tuple[Episode | None, int | None]:
    """The parsed episode (None when it has problems) and its episode number when that much could be read."""
    before = len(problems.items)
    result = _parse_script(path, show, problems)
    found = problems.items[before:]
    if len(found) > MAX_PROBLEMS:
        problems.items[before:] = found[:MAX_PROBLEMS] + [
            f"{display_path(path)}: {len(found) - MAX_PROBLEMS} more problems in this script (fix these first)"]
    return result


def _parse_script(path: Path, show: Show | None, problems: Problems) -> tuple[Episode | None, int | None]:
    shown = display_path(path)
    before = len(problems.items)
    slug = slugify(path.stem)
    if len(slug) > MAX_SLUG:
        problems.add(Location(shown, 1), f"file name is too long for the files made from it: its output name is "
                     f"{len(slug)} characters, at most {MAX_SLUG} (shorten the file name)")
    try:
        text = read_text(path, shown)
    except ValueError as exc:
        problems.add(None, str(exc))
        return None, None
    if not text.strip():
        problems.add(Location(shown, 1), "script is empty")
        return None, None
    for problem in control_problems(text, shown):
        problems.add(None, problem)
    # Parse on without them, so one run lists this script's other problems too.
    text = CONTROL.sub(" ", text)
    try:
        front, body, body_line = split_front_matter(text)
    except ValueError as exc:
        problems.add(Location(shown, 1), str(exc))
        return None, None
    if front is None:
        problems.add(Location(shown, 1), "script has no front matter (start it with '---', title and episode)")
        return None, None
    try:
        meta = load_yaml(front, first_line=2)
    except YamlSyntaxError as exc:
        problems.add(Location(shown, exc.line), f"front matter: {exc.message}")
        return None, None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        problems.add(Location(shown, 2), "front matter must be a YAML mapping (key: value lines)")
        return None, None
    fields = _parse_front(meta, shown, show, problems)
    chapters = parse_body(body, body_line, shown, show, problems)
    _wordless_paragraphs(chapters, show, fields["lexicon"], problems)
    number = meta.get("episode") if _is_episode_number(meta.get("episode")) else None
    if len(problems.items) > before:
        return None, number
    return Episode(chapters=chapters, path=shown, slug=slug, **fields), number


def _wordless_paragraphs(chapters: tuple[Chapter, ...], show: Show | None, lexicon: tuple, problems: Problems) -> None:
    """A paragraph with nothing to say once normalised (`—`, `...`, an escaped `\\* \\* \\*`): an engine returns
    silence for it, so it is reported here, by check and before a build renders, rather than failing late."""
    language = show.language if show else "en"
    merged = merge_lexicons(show.lexicon if show else (), lexicon)
    for chapter in chapters:
        for item in chapter.items:
            # A list paragraph's marker is said apart ("Four."), so its words must have something to say.
            # The plan's own cues: check refuses exactly what a build would.
            if isinstance(item, Segment) and not any(
                    has_words(spoken_text(cue, language=language, lexicon=merged))
                    for cue, _ in split_cues(item.body, language, merged)):
                problems.add(item.location, nothing_to_say(item.body))


def _is_episode_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_EPISODE_NUMBER


def _parse_front(meta: dict, shown: str, show: Show | None, problems: Problems) -> dict[str, Any]:
    def loc(key: str, mapping: Any = meta) -> Location:
        return Location(shown, line_of(mapping, key, 2))

    report_unknown(meta, FRONT_KEYS, "front matter key", loc, problems)
    title = meta.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        problems.add(loc("title"), "missing episode title (add 'title: ...' to the front matter)")
        title = ""
    elif not isinstance(title, (str, int, float)):
        problems.add(loc("title"), "title must be text")
        title = ""
    number = meta.get("episode")
    if number is None:
        problems.add(loc("episode"), "missing episode number (add 'episode: N' to the front matter)")
        number = 0
    elif not _is_episode_number(number):
        problems.add(loc("episode"), f"episode number must be a whole number from 0 to {MAX_EPISODE_NUMBER}, "
                     f"not {brief(number)}")
        number = 0
    release = meta.get("date")
    if release is None:
        problems.add(loc("date"), "missing release date (add 'date: YYYY-MM-DD' to the front matter)")
        release = dt.date(1970, 1, 1)
    elif isinstance(release, dt.datetime):
        release = release.date()
    elif not isinstance(release, dt.date):
        try:
            release = dt.date.fromisoformat(str(release).strip())
        except ValueError:
            problems.add(loc("date"), f"release date {brief(release)} is not a date (use YYYY-MM-DD)")
            release = dt.date(1970, 1, 1)
    summary = meta.get("summary", "")
    if not isinstance(summary, str):
        problems.add(loc("summary"), "summary must be text")
        summary = ""
    episode_type = meta.get("type", "full")
    if episode_type not in EPISODE_TYPES:
        problems.add(loc("type"), f"type must be one of {', '.join(EPISODE_TYPES)}, not {brief(episode_type)}")
        episode_type = "full"
    document = _parse_document(meta.get("document"), shown, loc("document"), problems)
    lexicon, lex_problems = parse_lexicon(meta.get("lexicon"), str(loc("lexicon")))
    for problem in lex_problems:
        problems.add(None, problem)
    image = meta.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        problems.add(loc("image"), "image must be a file path relative to the show folder")
        image = None
    elif image is not None and show is not None:
        problem = episode_image_problem(show.root, image)
        if problem:
            problems.add(loc("image"), problem)
    link = meta.get("link", "")
    if not isinstance(link, str):
        problems.add(loc("link"), "link must be a URL")
        link = ""
    elif link.strip() and not check_url(link.strip()):
        problems.add(loc("link"), f"link {brief(link.strip())} is not an absolute http(s) URL")
        link = ""
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        problems.add(loc("draft"), f"draft must be true or false, not {brief(draft)}")
        draft = False
    return {
        "number": number, "title": str(title).strip(), "release_date": release, "summary": summary.strip(),
        "document": document, "lexicon": lexicon, "episode_type": episode_type, "image": image,
        "link": link.strip(), "draft": draft,
    }


def _parse_document(raw: Any, shown: str, where: Location, problems: Problems) -> DocumentInfo:
    if raw is None:
        return DocumentInfo()
    if not isinstance(raw, dict):
        problems.add(where, f"document must be a mapping with {', '.join(DOCUMENT_KEYS)}")
        return DocumentInfo()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        loc = Location(shown, line_of(raw, key, where.line))
        if key not in DOCUMENT_KEYS:
            problems.add(loc, f"unknown document key '{key}' (known: {', '.join(DOCUMENT_KEYS)})")
        elif key == "authors":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(a, str) and a.strip() for a in items):
                problems.add(loc, "document authors must be a name or a list of names")
            else:
                values["authors"] = tuple(a.strip() for a in items)
        elif isinstance(value, (str, int, dt.date)) and not isinstance(value, bool):
            values[key] = str(value).strip()
            if key == "url" and values[key] and not check_url(values[key]):
                problems.add(loc, f"document url {brief(values[key])} is not an absolute http(s) URL")
        else:
            problems.add(loc, f"document {key} must be text")
    return DocumentInfo(**values)


def episode_as_dict(episode: Episode) -> dict[str, Any]:
    """A JSON-ready view of a parsed episode (used by golden tests and tools)."""
    import json
    from dataclasses import asdict

    data = asdict(episode)
    if not data["draft"]:
        del data["draft"]  # only a draft says so: the golden parses of other scripts stay as they were
    data["release_date"] = episode.release_date.isoformat()
    for chapter in data["chapters"]:
        for item in chapter["items"]:
            item["kind"] = "segment" if "role" in item else "pause"
    return json.loads(json.dumps(data, ensure_ascii=False))
