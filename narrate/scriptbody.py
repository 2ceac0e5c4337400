"""The Markdown body of an episode script: chapters, the segments and pauses under them, each with its line.

Chapters are `#` headings; a plain paragraph is the narrator, a blockquote is the document, a
`::: ROLE [voice=V rate=N pitch=N engine=E]` container gives its paragraphs a role and voice, and
`<!-- pause 1.5s -->` is a pause. A list is a sequence of paragraphs that keep their markers
(`4.`, `4)`, a bullet shown as "•"), in the role of the passage it stands in. Nested lists, tables,
code, links, images and other HTML are problems.
"""
from __future__ import annotations

import re
import shlex
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from narrate.config import DEFAULT_VOICES, parse_pause, parse_voice
from narrate.errors import Problems
from narrate.model import ROLES, AudioSettings, Chapter, Location, Pause, Segment, Show, VoiceSpec
from narrate.tags import MAX_CHAPTERS

_PAUSE = re.compile(r"^<!--\s*pause\s*:?\s*(?P<value>.*?)\s*-->\s*$", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"^<!--.*-->\s*$", re.DOTALL)
# HTML elements that markdown-it reads as inline HTML; other <words> (a document's <illegible>) stay text.
_HTML_TAGS = frozenset("""
a abbr address area article aside audio b base bdi bdo blockquote body br button canvas caption cite code col
colgroup data datalist dd del details dfn dialog div dl dt em embed fieldset figcaption figure font footer form
h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd label legend li link main map mark math menu
meta meter nav noscript object ol optgroup option output p param picture pre progress q rp rt ruby s samp
script section select slot small source span strike strong style sub summary sup svg table tbody td template
textarea tfoot th thead time title tr track tt u ul var video wbr
""".split())
_TAG_NAME = re.compile(r"^</?([A-Za-z][A-Za-z0-9-]*)")
_UNSUPPORTED = {"fence": "code blocks", "code_block": "code blocks", "table_open": "tables"}
_LISTS = ("bullet_list_open", "ordered_list_open")
BULLET = "•"  # how a bullet item is shown, whatever Markdown marker (-, *, +) wrote it
MAX_LIST_NUMBER = 999  # "1968. The year…" starts a list in Markdown; a paragraph number is rarely this long


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    # One container type accepts every `::: name`, so an unknown role is reported rather than shown as text.
    container_plugin(md, "role", validate=lambda params, *args: True)
    return md


_MD = _markdown()


def _inline_text(token: Token, loc: Location, problems: Problems) -> str:
    """The plain text of an inline token: emphasis markers and comments dropped, line breaks as spaces.

    Links, images and HTML tags are errors: their URLs and markup would otherwise be dropped silently.
    """
    parts: list[str] = []
    found: dict[str, str] = {}  # one problem of each kind per paragraph, the first one's markup quoted
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "link_open":
            found.setdefault("link", str(child.attrs.get("href", "")))
        elif child.type == "image":
            found.setdefault("image", str(child.attrs.get("src", "")))
        elif child.type == "html_inline" and not child.content.startswith("<!--"):
            tag = _TAG_NAME.match(child.content)
            if tag and tag.group(1).lower() in _HTML_TAGS:
                found.setdefault("html", child.content)
            else:
                # Angle brackets in a document (<illegible>) are text, not markup to drop.
                parts.append(child.content)
    if "link" in found:
        problems.add(loc, f"links are not supported in scripts ({_cut(found['link'])}): write the link text alone, "
                     "and put the URL in the text or in the front matter's 'link' or document 'url'")
    if "image" in found:
        problems.add(loc, f"images are not supported in scripts ({_cut(found['image'])}); "
                     "an episode's art is the front matter's 'image'")
    if "html" in found:
        problems.add(loc, f"HTML is not supported in scripts ({_cut(found['html'])}); "
                     "write plain text (\\< for a literal '<')")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _container(info: str, loc: Location, show: Show | None, problems: Problems) -> tuple[str, VoiceSpec | None]:
    """Role and optional voice override from `::: role key=value ...`."""
    try:
        words = shlex.split(info)
    except ValueError as exc:
        problems.add(loc, f"cannot read container options '{info.strip()}': {exc}")
        return "narrator", None
    if not words:
        problems.add(loc, f"a ':::' block needs a role (known: {', '.join(ROLES)})")
        return "narrator", None
    role, options = words[0], words[1:]
    if role not in ROLES:
        problems.add(loc, f"unknown role '{role}' (known: {', '.join(ROLES)})")
        return "narrator", None
    if not options:
        return role, None
    raw: dict[str, Any] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not value:
            problems.add(loc, f"container option '{option}' must look like key=value")
            continue
        # ASCII digits only ("²".isdigit() is true), and few: a rate of 5000 digits is reported, not converted.
        number = value.isascii() and value.isdigit() and len(value) <= 6
        raw[key] = int(value) if key in ("rate", "pitch") and number else value
    base = show.voice_for(role) if show else None
    return role, parse_voice(raw, loc, problems, base=base)


def parse_body(body: str, first_line: int, shown: str, show: Show | None, problems: Problems) -> tuple[Chapter, ...]:
    tokens = _MD.parse(body)
    chapters: list[Chapter] = []
    title: str | None = None
    title_loc = Location(shown, first_line)
    items: list[Segment | Pause] = []
    container: tuple[str, VoiceSpec | None] | None = None
    quote_depth = 0
    reported_orphan = False
    reported_nesting = False
    list_depth = 0
    marker: str | None = None  # the marker of the list item whose first paragraph is still to come
    marker_loc = title_loc

    def close_chapter() -> None:
        if title is None:
            return
        if not any(isinstance(i, Segment) for i in items):
            problems.add(title_loc, f"chapter '{title}' has no text")
        chapters.append(Chapter(title, title_loc, tuple(items)))

    for i, token in enumerate(tokens):
        line = first_line + token.map[0] if token.map else first_line
        loc = Location(shown, line)
        if token.type == "heading_open":
            if list_depth:
                problems.add(loc, "a heading cannot be inside a list item; end the list before it (a blank line, "
                             "then the heading unindented)")
                marker = None  # reported once: the item's missing text is this same mistake
                continue
            if token.tag != "h1":
                problems.add(loc, f"use '#' for chapter headings ('{token.markup}' is not supported)")
                continue
            close_chapter()
            title, title_loc, items = _inline_text(tokens[i + 1], loc, problems), loc, []
            if not title:
                problems.add(loc, "chapter heading has no title")
            if len(chapters) == MAX_CHAPTERS:
                problems.add(loc, f"more than {MAX_CHAPTERS} chapters: MP3 chapter tables (ID3 CTOC) hold at "
                             f"most {MAX_CHAPTERS}; this is chapter {MAX_CHAPTERS + 1}")
        elif token.type == "container_role_open":
            if container is not None and not reported_nesting:
                problems.add(loc, "':::' blocks cannot be nested")
                reported_nesting = True  # once per block: a thousand nested blocks are one mistake
            container = _container(token.info, loc, show, problems)
        elif token.type == "container_role_close":
            container, reported_nesting = None, False
        elif token.type == "blockquote_open":
            quote_depth += 1
        elif token.type == "blockquote_close":
            quote_depth -= 1
        elif token.type in _LISTS:
            if list_depth:
                problems.add(loc, "lists inside lists are not supported; write the inner items as paragraphs of "
                             "the outer item (e.g. '(a) ...'), or as a list of their own")
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif token.type == "list_item_open":
            marker, marker_loc = _list_marker(token, loc, problems), loc
        elif token.type == "list_item_close":
            if marker is not None:
                problems.add(marker_loc, f"list item '{marker}' has no text")
            marker = None
        elif token.type == "html_block":
            _html_block(token.content, loc, items, problems, title is not None)
        elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
            text = _inline_text(token, loc, problems)
            if not text:
                continue
            if title is None:
                if not reported_orphan:
                    problems.add(loc, "text before the first chapter heading (start the script with '# Title')")
                    reported_orphan = True
                continue
            if container is not None:
                role, voice = container[0], container[1]
            else:
                role, voice = ("document" if quote_depth else "narrator"), None
            if voice is None:
                voice = show.voice_for(role) if show else DEFAULT_VOICES.get(role, DEFAULT_VOICES["narrator"])
            if marker is not None:  # the first paragraph of a list item: its marker goes first
                items.append(Segment(role, f"{marker} {text}", voice, loc, marker=marker))
                marker = None
            else:
                items.append(Segment(role, text, voice, loc))
        elif token.type == "hr" and title is not None:
            # A scene break (`* * *`, `---`): a pause as long as the one between chapters (before the first
            # heading there is nothing to pause between, so it is ignored there).
            items.append(Pause((show.audio if show else AudioSettings()).pause_chapter, loc))
        elif token.type in _UNSUPPORTED:
            problems.add(loc, f"{_UNSUPPORTED[token.type]} are not supported in scripts; write paragraphs")
    close_chapter()
    if not chapters and not reported_orphan:
        problems.add(Location(shown, first_line), "script has no chapters (start one with a '# Heading' line)")
    return tuple(chapters)


def _list_marker(token: Token, loc: Location, problems: Problems) -> str:
    """How a list item's marker is shown: its number as written with its '.' or ')', or a bullet."""
    if not token.info:  # a bullet item (-, * or +)
        return BULLET
    if int(token.info) > MAX_LIST_NUMBER:
        problems.add(loc, f"'{token.info}{token.markup}' starts a numbered list, but a paragraph number is at most "
                     f"{MAX_LIST_NUMBER}: if the paragraph starts with a year, write '{token.info}\\{token.markup}'")
    return f"{token.info}{token.markup}"


def _html_block(content: str, loc: Location, items: list[Segment | Pause], problems: Problems,
                in_chapter: bool) -> None:
    match = _PAUSE.match(content.strip())
    if match:
        seconds = parse_pause(match.group("value"))
        if seconds is None:
            problems.add(loc, f"invalid pause length '{match.group('value')}' "
                         "(use seconds such as 1.5s or 300ms, at most 60s)")
        elif not in_chapter:
            problems.add(loc, "pause before the first chapter heading")
        else:
            items.append(Pause(seconds, loc))
    elif not _COMMENT.match(content.strip()):
        problems.add(loc, "HTML is not supported in scripts (only <!-- comments --> and <!-- pause 1s -->)")
