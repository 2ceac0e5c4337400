"""`narrate import`: a draft episode script from a document file (text, web page, PDF, EPUB, Word).

Stages: read the file with its format's reader (one module each: text, html, pdf, epub, docx) into a
`Document`; select the passage (`--start`/`--end`); mark numbered paragraphs; name the script; render the
draft (narrate/importer/draft.py); write it, never over an existing file.
"""
from __future__ import annotations

import datetime as dt
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from narrate.config import display_path, read_bytes, read_text
from narrate.errors import UserError
from narrate.fsutil import write_new
from narrate.importer.document import Document, clean, find_numbers, require_text, select
from narrate.importer.draft import NUMBERED_LISTS, DraftInfo, render_draft
from narrate.script import MAX_EPISODE_NUMBER, episode_scripts, slugify, split_front_matter
from narrate.yamlfile import YamlSyntaxError, load_yaml

log = logging.getLogger(__name__)

#: File name endings and the reader module for each.
FORMATS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf",
           ".epub": "epub", ".docx": "docx"}
#: Formats people may have that are not read, and what to do instead.
_OTHER_FORMATS = {".doc": "save it as .docx", ".odt": "save it as .docx", ".rtf": "save it as .docx",
                  ".md": "a Markdown file is already a script: add front matter and '> ' quotes to it",
                  ".mobi": "convert it to .epub", ".azw3": "convert it to .epub"}
MAX_IMPORT_BYTES = 200_000_000
#: The longest title part of a draft's file name (`003-<title>.md`), cut at a hyphen.
MAX_NAME = 60


@dataclass(frozen=True)
class ImportOptions:
    """How to import; every field has the default the CLI uses."""

    output: Path | None = None  # the script to write, or a folder for it (default: scripts_dir)
    scripts_dir: Path = Path("scripts")
    episode: int | None = None  # default: the next number no script and no published episode uses
    title: str | None = None  # default: the document's own title, else the file's name
    start: str | None = None
    end: str | None = None
    encoding: str | None = None  # plain text only
    today: dt.date | None = None
    numbered_lists: bool = NUMBERED_LISTS


@dataclass(frozen=True)
class ImportResult:
    """What `import_document` wrote."""

    path: Path
    episode: int
    title: str
    chapters: int
    paragraphs: int
    numbered: int


def read_document(path: Path, encoding: str | None = None) -> Document:
    """The document in a file, by its name's ending; bad input is one line (UserError)."""
    shown = display_path(path)
    suffix = path.suffix.lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        known = ", ".join(dict.fromkeys(FORMATS))
        hint = f"; {_OTHER_FORMATS[suffix]}" if suffix in _OTHER_FORMATS else ""
        raise UserError(f"{shown}: unknown format {suffix or '(no file name ending)'!r} "
                        f"(narrate import reads {known}){hint}")
    if encoding is not None and kind != "text":
        raise UserError(f"--encoding is for plain text files, not {suffix}")
    try:
        data = read_bytes(path, shown, MAX_IMPORT_BYTES)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not data.strip():
        raise UserError(f"{shown}: the file is empty")
    reader = importlib.import_module(f"narrate.importer.{kind}")
    document = reader.read(data, shown, encoding) if kind == "text" else reader.read(data, shown)
    return require_text(document)


def import_document(path: Path, options: ImportOptions = ImportOptions()) -> ImportResult:
    """Write a draft script for the document in `path`; nothing is written when anything is wrong."""
    document = require_text(select(read_document(path, options.encoding), options.start, options.end))
    document = find_numbers(document)
    folder, name = _target(options)
    used = used_numbers(folder)
    number = options.episode if options.episode is not None else max(used, default=0) + 1
    if number > MAX_EPISODE_NUMBER:
        raise UserError(f"episode number {number} is too large (at most {MAX_EPISODE_NUMBER})")
    if options.episode is not None and number in used:
        raise UserError(f"episode {number} is already used by {used[number]} "
                        f"(the next free number is {max(used) + 1})")
    title = clean(options.title or "") or document.title or clean(path.stem) or "Untitled"
    dest = folder / (name or script_name(number, title))
    shown = display_path(dest)
    if not dest.name.lower().endswith(".md"):
        raise UserError(f"{shown}: a script's name must end in .md")
    if dest.exists() or dest.is_symlink():
        raise UserError(f"{shown} already exists; narrate import never overwrites a script "
                        "(choose another with -o, --episode or --title)")
    info = DraftInfo(title, number, options.today or dt.date.today())
    text = render_draft(document, info, display_path(path), options.numbered_lists)
    chapters = _chapter_count(text)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_new(dest, text.encode("utf-8"))
    except FileExistsError:
        raise UserError(f"{shown} already exists; narrate import never overwrites a script") from None
    numbered = sum(1 for p in document.paragraphs if p.number is not None)
    log.debug("wrote %s: episode %d, a draft (left out of the feed until you remove 'draft: true'), %d chapters, "
             "%d document paragraphs (%d numbered)", shown, number, chapters, len(document.paragraphs), numbered)
    return ImportResult(dest, number, title, chapters, len(document.paragraphs), numbered)


def script_name(number: int, title: str) -> str:
    """`003-letter-to-brezhnev-1968.md`: the episode number and the title's first words."""
    slug = slugify(title)
    if len(slug) > MAX_NAME:
        cut = slug[: MAX_NAME + 1]
        slug = cut[: cut.rfind("-")] if "-" in cut else slug[:MAX_NAME]
    return f"{number:03d}-{slug}.md"


def _target(options: ImportOptions) -> tuple[Path, str | None]:
    """(the folder the draft goes into, its file name or None for the default name)."""
    if options.output is None:
        return options.scripts_dir, None
    if options.output.is_dir():
        return options.output, None
    folder = options.output.parent
    if not folder.is_dir():
        raise UserError(f"{display_path(folder)}: the folder for -o does not exist")
    return folder, options.output.name


def used_numbers(folder: Path) -> dict[int, str]:
    """Episode numbers already taken in a show folder, and by what: its scripts and its published GUIDs."""
    from narrate.record import GuidRegistry

    used: dict[int, str] = {}
    if not folder.is_dir():
        return used
    for number in GuidRegistry(folder).entries:
        if number.isdigit():
            used[int(number)] = f"a published episode ({display_path(folder / 'guids.json')} keeps its GUID)"
    for path in episode_scripts(folder):
        try:
            front, _, _ = split_front_matter(read_text(path, display_path(path)))
            meta = load_yaml(front) if front is not None else None
        except (ValueError, YamlSyntaxError):
            continue  # a script that does not parse has no number to avoid; `check` reports it
        number = meta.get("episode") if isinstance(meta, dict) else None
        if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= MAX_EPISODE_NUMBER:
            used[number] = display_path(path)
    return used


def _chapter_count(text: str) -> int:
    """The draft's front matter is valid YAML (a bug otherwise); its number of chapters (`# ` lines)."""
    front, body, _ = split_front_matter(text)
    assert front is not None
    load_yaml(front, first_line=2)
    return sum(1 for line in body.splitlines() if line.startswith("# "))
