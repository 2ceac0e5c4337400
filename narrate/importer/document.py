"""What every format reader returns: a document as metadata plus headings and paragraphs, in reading order.

The readers (one module per format) only turn a file into a `Document`; selecting a passage
(`--start`/`--end`), finding numbered paragraphs and writing the draft work on this one shape.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, replace

from narrate.errors import UserError

HEADING = "heading"
PARAGRAPH = "paragraph"
#: A paragraph number the scrape glued to the text ("4The main outcome", "16[Source: ...]"), or written
#: with a dot or parenthesis and a space ("4. The main outcome", "4) The main outcome").
_GLUED = re.compile(r"^(?P<n>[1-9]\d{0,2})(?=[A-Z\[“\"‘'(«])(?P<text>.+)$", re.DOTALL)
_SPACED = re.compile(r"^(?P<n>[1-9]\d{0,2})[.)]\s+(?P<text>\S.*)$", re.DOTALL)
#: The shortest runs of increasing numbers taken for numbered paragraphs: glued numbers could be a
#: paragraph that really begins with a figure, so they need a longer run.
MIN_GLUED_RUN = 3
MIN_SPACED_RUN = 2


@dataclass(frozen=True)
class Block:
    """A heading or a paragraph of the document, its text as the file has it (whitespace collapsed).

    `number` is set for a numbered paragraph (see `find_numbers`): `text` is then the text after the number.
    """

    kind: str
    text: str
    number: int | None = None
    gap: str = ""  # what the document has between the number and the text: ". ", ") " or nothing (glued)

    @property
    def written(self) -> str:
        """The paragraph as the document writes it, number included."""
        return self.text if self.number is None else f"{self.number}{self.gap}{self.text}"


@dataclass(frozen=True)
class Document:
    """A document read from a file: its metadata (empty when the file has none) and its blocks."""

    source: str  # the file, as messages name it
    blocks: tuple[Block, ...]
    title: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""

    @property
    def paragraphs(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.kind == PARAGRAPH)


_INVISIBLE = re.compile(r"[\u00ad\u200b\ufeff]")  # soft hyphens, zero-width spaces, byte-order marks
#: Control characters (a script may not hold them); tabs, line breaks and NEL are whitespace instead.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")


def clean(text: str) -> str:
    """Whitespace collapsed to single spaces (a paragraph's line breaks are spaces), NFC, no invisible marks
    or control characters."""
    text = _CONTROL.sub("", _INVISIBLE.sub("", unicodedata.normalize("NFC", text)))
    return re.sub(r"\s+", " ", text).strip()


def make_document(source: str, blocks: list[tuple[str, str]], title: str = "", authors: tuple[str, ...] = (),
                  date: str = "") -> Document:
    """A Document from (kind, raw text) pairs: texts cleaned, empty blocks dropped."""
    kept = tuple(Block(kind, text) for kind, text in ((k, clean(t)) for k, t in blocks) if text)
    names = tuple(a for a in (clean(x) for x in authors) if a)
    return Document(source, kept, clean(title), names, clean(date))


def require_text(document: Document) -> Document:
    """The document, or a one-line error when it has no paragraph of text (an empty or image-only file)."""
    if not document.paragraphs:
        raise UserError(f"{document.source}: no text found in this file (is it empty, or only images?)")
    return document


def _key(text: str) -> str:
    """Text compared for --start/--end: case, accents' forms, quote styles and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(str.maketrans("‘’‚‛“”„‟«»", "''''\"\"\"\"\"\""))
    return re.sub(r"\s+", " ", text).strip()


def select(document: Document, start: str | None, end: str | None) -> Document:
    """The blocks from the first one beginning with `start` to the first one after it beginning with `end`.

    Not found is a one-line error naming the option and suggesting the closest paragraph.
    """
    blocks = list(document.blocks)
    first = 0
    if start is not None:
        first = _find(document, blocks, 0, start, "--start")
    last = len(blocks) - 1
    if end is not None:
        last = _find(document, blocks, first, end, "--end")
    return replace(document, blocks=tuple(blocks[first:last + 1]))


def _find(document: Document, blocks: list[Block], begin: int, text: str, option: str) -> int:
    wanted = _key(text)
    if not wanted:
        raise UserError(f"{option} is empty: give the first words of a paragraph")
    for i in range(begin, len(blocks)):
        if _key(blocks[i].text).startswith(wanted):
            return i
    where = "" if begin == 0 else " after the --start paragraph"
    heads = {_key(b.text)[: max(len(wanted), 30)]: b.text for b in blocks[begin:]}
    close = difflib.get_close_matches(wanted, list(heads), n=1, cutoff=0.0)
    hint = f"; the closest is {_quote(heads[close[0]])}" if close else ""
    raise UserError(f"{document.source}: {option} {_quote(text)} matches no paragraph{where}{hint}")


def _quote(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{text}'"


def find_numbers(document: Document) -> Document:
    """Mark numbered paragraphs: runs of paragraphs that start with increasing integers (4, 5, 6 ...).

    Conservative: a glued number ("4The main outcome") counts only in a run of at least MIN_GLUED_RUN
    paragraphs, a number with a dot or parenthesis ("4. The ...") in a run of at least MIN_SPACED_RUN;
    headings between them do not break a run. Other paragraphs stay as they are.
    """
    matches: list[tuple[int, int, str, str] | None] = []  # per block: (number, MIN_RUN, text, gap)
    for block in document.blocks:
        found = None
        if block.kind == PARAGRAPH:
            spaced = _SPACED.match(block.text)
            glued = _GLUED.match(block.text)
            if spaced:
                gap = block.text[len(spaced.group("n")):len(block.text) - len(spaced.group("text"))]
                found = (int(spaced.group("n")), MIN_SPACED_RUN, spaced.group("text"), gap)
            elif glued:
                found = (int(glued.group("n")), MIN_GLUED_RUN, glued.group("text"), "")
        matches.append(found)
    numbered: dict[int, tuple[int, str, str]] = {}
    run: list[int] = []

    def close_run() -> None:
        if run and len(run) >= max(matches[i][1] for i in run):  # type: ignore[index]
            for i in run:
                number, _, text, gap = matches[i]  # type: ignore[misc]
                numbered[i] = (number, text, gap)
        run.clear()

    for i, (block, found) in enumerate(zip(document.blocks, matches)):
        if block.kind == HEADING:
            continue
        if found is None:
            close_run()
            continue
        if run and found[0] != matches[run[-1]][0] + 1:  # type: ignore[index]
            close_run()
        run.append(i)
    close_run()
    blocks = tuple(
        Block(b.kind, numbered[i][1], numbered[i][0], numbered[i][2]) if i in numbered else b
        for i, b in enumerate(document.blocks)
    )
    return replace(document, blocks=blocks)
