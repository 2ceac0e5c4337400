"""PDF (`.pdf`): the text layer, read with pypdf, laid out again into headings and paragraphs.

pypdf gives the text of each line with its position and font size. A paragraph ends where the gap to the
next line is clearly wider than the usual line spacing, and at a page break after a line clearly shorter
than a full one (or a little shorter and ending a sentence); lines in a font clearly larger than the body
text are headings. A line ending in a hyphen joins
the next without a space (the hyphen is kept). A PDF without a text layer (a scan) is an error, not an
empty script. Title, author and creation date come from the document information.
"""
from __future__ import annotations

import io
import statistics
from dataclasses import dataclass

from narrate.errors import UserError
from narrate.importer.document import HEADING, PARAGRAPH, Document, make_document
from narrate.importer.extra import need

#: A gap between lines at least this many times the usual spacing starts a paragraph.
PARAGRAPH_GAP = 1.35
#: A line whose font is at least this many times the body's is a heading.
HEADING_SIZE = 1.2
#: A line shorter than this share of a full line ends its paragraph at a page break (with a sentence's end,
#: SENTENCE_LINE suffices).
SHORT_LINE = 0.8
SENTENCE_LINE = 0.92
_SENTENCE_END = tuple(".!?:;\"”’)]»…")


@dataclass
class _Line:
    page: int
    y: float
    size: float
    text: str


def read(data: bytes, source: str) -> Document:
    """A PDF's text, as headings and paragraphs."""
    pypdf = need("pypdf", "PDF (.pdf)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UserError(f"{source}: the PDF is encrypted; save an unprotected copy and import that")
        lines = _lines(reader)
        info = reader.metadata or {}
        title, author = info.get("/Title") or "", info.get("/Author") or ""
        created = _date(info)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds of errors for a damaged file
        raise UserError(f"{source}: cannot read this PDF ({type(exc).__name__}: {exc})") from None
    if not any(line.text.strip() for line in lines):
        raise UserError(f"{source}: the PDF has no text layer (a scanned document?); run OCR on it first "
                        "(for example with ocrmypdf) and import the result")
    return make_document(source, _blocks(lines), str(title), _authors(str(author)), created)


def _lines(reader) -> list[_Line]:  # noqa: ANN001 - a pypdf.PdfReader
    lines: list[_Line] = []
    for number, page in enumerate(reader.pages):
        current: list[_Line] = []

        def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
            if not text or not text.strip("\n"):
                return
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = abs(tm[3] * cm[3]) or 1.0
            height = size * scale
            for part in text.split("\n"):
                if not part.strip():
                    continue
                if current and current[-1].page == number and abs(current[-1].y - y) < height * 0.5:
                    current[-1].text += part
                    current[-1].size = max(current[-1].size, height)
                else:
                    current.append(_Line(number, y, height, part))

        page.extract_text(visitor_text=visit)
        lines += current
    return [line for line in lines if line.text.strip()]


def _blocks(lines: list[_Line]) -> list[tuple[str, str]]:
    body_size = statistics.mode(round(line.size, 1) for line in lines for _ in range(len(line.text)))
    steps = [round(a.y - b.y, 1) for a, b in zip(lines, lines[1:])
             if a.page == b.page and a.y > b.y and abs(a.size - body_size) < 0.5 and abs(b.size - body_size) < 0.5]
    spacing = statistics.median(steps) if steps else body_size * 1.2
    full = statistics.median(len(line.text.strip()) for line in lines if abs(line.size - body_size) < 0.5)
    blocks: list[tuple[str, list[str]]] = []
    previous: _Line | None = None
    for line in lines:
        kind = HEADING if line.size >= body_size * HEADING_SIZE else PARAGRAPH
        if previous is None or not blocks or blocks[-1][0] != kind:
            new = True
        elif line.page != previous.page:
            length = len(previous.text.strip())
            new = kind == HEADING or length < full * SHORT_LINE or (
                length < full * SENTENCE_LINE and previous.text.rstrip().endswith(_SENTENCE_END))
        else:
            new = previous.y - line.y > spacing * PARAGRAPH_GAP or line.y > previous.y
        if new:
            blocks.append((kind, [line.text]))
        else:
            blocks[-1][1].append(line.text)
        previous = line
    return [(kind, _join(parts)) for kind, parts in blocks]


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        part = part.strip()
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha():
            text += part
        else:
            text = f"{text} {part}" if text else part
    return text


def _authors(author: str) -> tuple[str, ...]:
    for separator in (";", " and ", ","):
        if separator in author:
            return tuple(a.strip() for a in author.split(separator) if a.strip())
    return (author.strip(),) if author.strip() else ()


def _date(info) -> str:  # noqa: ANN001 - pypdf's DocumentInformation
    try:
        created = info.creation_date
    except Exception:  # noqa: BLE001 - a malformed date string is no date
        return ""
    return created.date().isoformat() if created else ""
