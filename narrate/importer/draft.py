"""The draft script `narrate import` writes: front matter, a narrator placeholder, the document quoted verbatim.

Every paragraph is escaped so that narrate's own parser reads back exactly the document's text, and
each one is proved to do so (parsed back with narrate/scriptbody.py) before the draft is written: a
paragraph the light escaping does not carry through unchanged is written with every ASCII punctuation
mark escaped, which CommonMark always reads literally.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from narrate.check import TODO_MARK
from narrate.errors import Problems
from narrate.importer.document import HEADING, Block, Document
from narrate.normalize import has_words, spoken_text
from narrate.script import split_front_matter
from narrate.scriptbody import parse_body
from narrate.tags import MAX_CHAPTERS


def _parser_reads_lists() -> bool:
    """Whether narrate's script parser reads a numbered list in a blockquote as numbered paragraphs."""
    problems = Problems()
    chapters = parse_body("# T\n\n> 4. Text\n", 1, "probe", None, problems)
    return not problems and [s.text for c in chapters for s in c.segments] == ["4. Text"]


#: Numbered paragraphs as `> 4. Text` Markdown list items when the script parser builds those (it does since
#: lists came to scripts; the probe keeps the writer honest against the parser it writes for); otherwise they
#: are written as the document has them (`> 4The ...`).
NUMBERED_LISTS = _parser_reads_lists()
PLACEHOLDER = (f"{TODO_MARK} replace this paragraph with the narrator's introduction: what this document is, "
               "who wrote it and when, and why it matters.")
INTRODUCTION = "Introduction"
WORDLESS_PAUSE = "<!-- pause 1s -->"

_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_LINK_END = re.compile(r"\](?=[(\[])")
_REFERENCE = re.compile(r"^\[[^\]]*\]:")
_LIST_START = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_BLOCK_START = "#>+-=~:|"


@dataclass(frozen=True)
class DraftInfo:
    """The front matter of a draft."""

    title: str
    episode: int
    date: dt.date


def escape(text: str) -> str:
    """Text escaped for a paragraph (or heading) line so that Markdown reads it as this very text."""
    out = text.replace("\\", "\\\\")
    for mark in "*_`":
        out = out.replace(mark, "\\" + mark)
    out = _TAG_START.sub(r"\\<", out)
    out = _ENTITY.sub(r"\\&", out)
    out = _LINK_END.sub(r"\\]", out)
    if _REFERENCE.match(out):
        out = "\\" + out
    if out and out[0] in _BLOCK_START:
        out = "\\" + out
    out = _LIST_START.sub(lambda m: m.group(1) + "\\" + m.group(2), out)
    if out.endswith("#"):  # a heading's closing sequence would be dropped
        out = out[:-1] + "\\#"
    return out


def escape_all(text: str) -> str:
    """Every ASCII punctuation mark escaped: always read literally (CommonMark, 'Backslash escapes')."""
    return _ASCII_PUNCTUATION.sub(r"\\\1", text)


def list_marker(block: Block) -> str:
    """A numbered paragraph's list marker: `4.`, or `4)` when the document writes `4) `."""
    return f"{block.number}{')' if block.gap.startswith(')') else '.'}"


def expected_text(block: Block, numbered_lists: bool) -> str:
    """The text narrate's parser gives a paragraph of the draft: as written, or `4. Text` for a list item."""
    if numbered_lists and block.number is not None:
        return f"{list_marker(block)} {block.text}"
    return block.written


def sayable(text: str) -> bool:
    """Whether a paragraph has something to say: a script may not hold one without ("* * *", "—")."""
    # A letter stays a word whatever the normaliser does; only the rest needs normalising to tell.
    return any(ch.isalpha() for ch in text) or has_words(spoken_text(text, language="en", lexicon=()))


def _parsed(body: str) -> tuple[list[str], list[str], bool]:
    """(chapter titles, document segment texts, no problems) of a script body."""
    problems = Problems()
    chapters = parse_body(body, 1, "draft", None, problems)
    texts = [s.text for c in chapters for s in c.segments if s.role == "document"]
    return [c.title for c in chapters], texts, not problems


def _proves(line: str, text: str, heading: bool) -> bool:
    """Whether one escaped line, alone in a script, reads back as `text`."""
    titles, texts, ok = _parsed(f"# {line}\n\nx\n" if heading else f"# T\n\n> {line}\n")
    return ok and (titles == [text] if heading else texts == [text])


def _front_matter(info: DraftInfo, document: Document, source: str) -> list[str]:
    shown = re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", source)  # a comment line cannot hold line breaks
    lines = ["---", f"# Imported by narrate import from {shown}. Remove 'draft: true' to publish it.",
             f"title: {json.dumps(info.title, ensure_ascii=False)}", f"episode: {info.episode}",
             f"date: {info.date.isoformat()}", "draft: true"]
    if document.title or document.authors or document.date:
        lines.append("document:")
        if document.title:
            lines.append(f"  title: {json.dumps(document.title, ensure_ascii=False)}")
        if document.authors:
            lines.append(f"  authors: {json.dumps(list(document.authors), ensure_ascii=False)}")
        if document.date:
            lines.append(f"  date: {json.dumps(document.date, ensure_ascii=False)}")
    lines.append("---")
    return lines


def _chapters(document: Document, first_title: str) -> list[tuple[str, list[Block]]]:
    """(title, paragraphs) per chapter: the document's headings; consecutive headings joined, empty ones dropped."""
    chapters: list[tuple[str, list[Block]]] = [(first_title, [])]
    pending: list[str] = []
    for block in document.blocks:
        if block.kind == HEADING:
            pending.append(block.text)
            continue
        if pending:
            chapters.append((": ".join(pending), []))
            pending = []
        chapters[-1][1].append(block)
    if len(chapters) > MAX_CHAPTERS:
        # An MP3 holds at most MAX_CHAPTERS chapters: the paragraphs under the last headings join one chapter.
        head, tail = chapters[: MAX_CHAPTERS - 1], chapters[MAX_CHAPTERS - 1:]
        chapters = head + [(tail[0][0], [b for _, blocks in tail for b in blocks])]
    return chapters


def render_draft(document: Document, info: DraftInfo, source: str, numbered_lists: bool = NUMBERED_LISTS) -> str:
    """The draft script's text: front matter, then chapters of quoted paragraphs after a narrator placeholder.

    Proved before it is returned: its body, parsed by narrate's own parser, gives the document's headings
    and paragraphs exactly. A paragraph or heading the light escaping does not carry through is written
    with every ASCII punctuation mark escaped instead.
    """
    first_heading = next((i for i, b in enumerate(document.blocks) if b.kind == HEADING), None)
    chapters = _chapters(document, INTRODUCTION if first_heading == 0 else info.title)
    titles = [title for title, _ in chapters]
    paragraphs = [b for _, blocks in chapters for b in blocks if sayable(b.written)]
    expected = [expected_text(b, numbered_lists) for b in paragraphs]
    def unproved_lines() -> set[int]:
        return {i for i, b in enumerate(paragraphs)
                if not _proves(escape(_quoted_text(b, numbered_lists)), _quoted_text(b, numbered_lists), False)}

    if numbered_lists and not NUMBERED_LISTS and any(b.number is not None for b in paragraphs):
        # Lists asked for, but this parser does not read them: each line is proved on its own instead.
        return _render(info, document, source, chapters, numbered_lists, unproved_lines(), set())
    full_paragraphs: set[int] = set()  # positions in `paragraphs` written with escape_all
    full_titles: set[int] = set()  # positions in `titles`
    for _attempt in range(3):
        text = _render(info, document, source, chapters, numbered_lists, full_paragraphs, full_titles)
        got_titles, got_texts, ok = _parsed(split_front_matter(text)[1])
        if ok and got_titles == titles and got_texts == expected:
            return text
        if ok and len(got_titles) == len(titles) and len(got_texts) == len(expected):
            full_titles |= {i for i, (got, want) in enumerate(zip(got_titles, titles)) if got != want}
            full_paragraphs |= {i for i, (got, want) in enumerate(zip(got_texts, expected)) if got != want}
        else:  # a paragraph vanished or split (a link reference definition, say): find it line by line
            full_titles |= {i for i, t in enumerate(titles) if not _proves(escape(t), t, True)}
            full_paragraphs |= unproved_lines()
    raise AssertionError(f"the draft does not read back as the document {document.source}")


def _quoted_text(block: Block, numbered_lists: bool) -> str:
    """The text a quote line holds after `> ` (and after the list marker of a list item)."""
    return block.text if numbered_lists and block.number is not None else block.written


def _render(info: DraftInfo, document: Document, source: str, chapters: list[tuple[str, list[Block]]],
            numbered_lists: bool, full_paragraphs: set[int], full_titles: set[int]) -> str:
    lines = _front_matter(info, document, source)
    position = 0  # of the next sayable paragraph
    for index, (title, blocks) in enumerate(chapters):
        lines += ["", f"# {escape_all(title) if index in full_titles else escape(title)}", ""]
        if index == 0:
            lines += [PLACEHOLDER, ""]
        previous_numbered = False
        for block in blocks:
            if not sayable(block.written):
                # Nothing an engine could say ("* * *", "—"): a script may not hold it as a paragraph.
                lines += [WORDLESS_PAUSE, ""]
                previous_numbered = False
                continue
            text = _quoted_text(block, numbered_lists)
            line = escape_all(text) if position in full_paragraphs else escape(text)
            position += 1
            if numbered_lists and block.number is not None:
                if previous_numbered:
                    lines[-1:] = [">"]  # one loose list: the items' blank lines stay inside the quote
                lines += [f"> {list_marker(block)} {line}", ""]
                previous_numbered = True
            else:
                lines += [f"> {line}", ""]
                previous_numbered = False
    return "\n".join(lines).rstrip("\n") + "\n"
