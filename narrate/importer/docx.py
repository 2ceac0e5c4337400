"""Word (`.docx`), read with python-docx: paragraphs in order, those in a Title or Heading style as headings;
empty paragraphs are skipped. A paragraph of a decimal numbered list (Word's automatic numbering, set on the
paragraph or its style) gets its number written before it (`4. The main outcome`), as the page shows it;
bullets are left out. Title, author and creation date from the document's core properties."""
from __future__ import annotations

import io

from narrate.errors import UserError
from narrate.importer.document import HEADING, PARAGRAPH, Document, make_document
from narrate.importer.extra import need


def read(data: bytes, source: str) -> Document:
    """A Word document's headings and paragraphs."""
    docx = need("docx", "Word (.docx)")
    try:
        document = docx.Document(io.BytesIO(data))
        numbers = _Numbering(document)
        blocks = [(_kind(p), numbers.prefix(p) + p.text) for p in document.paragraphs]
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile, lxml or python-docx raise many kinds
        raise UserError(f"{source}: cannot read this Word file ({type(exc).__name__}: {exc})") from None
    core = document.core_properties
    created = core.created.date().isoformat() if core.created else ""
    authors = tuple(a.strip() for a in (core.author or "").split(";") if a.strip())
    return make_document(source, blocks, core.title or "", authors, created)


def _kind(paragraph) -> str:  # noqa: ANN001 - a python-docx Paragraph
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    return HEADING if style == "Title" or style.startswith("Heading") else PARAGRAPH


class _Numbering:
    """The numbers Word shows before the paragraphs of decimal lists (top level), counted per list."""

    def __init__(self, document) -> None:  # noqa: ANN001 - a python-docx Document
        try:
            self._xml = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            self._xml = None  # a document without lists
        self._counts: dict[str, int] = {}

    def prefix(self, paragraph) -> str:  # noqa: ANN001 - a python-docx Paragraph
        """`4. ` for the fourth paragraph of a decimal list, else nothing."""
        num = self._num_pr(paragraph)
        if num is None or self._xml is None or not paragraph.text.strip():
            return ""
        num_id, level = num
        if num_id == "0" or level != "0":  # numId 0: numbering switched off for this paragraph
            return ""
        abstract = self._xml.xpath(f"./w:num[@w:numId='{num_id}']/w:abstractNumId/@w:val")
        if not abstract:
            return ""
        lvl = f"./w:abstractNum[@w:abstractNumId='{abstract[0]}']/w:lvl[@w:ilvl='0']"
        if self._xml.xpath(f"{lvl}/w:numFmt/@w:val") != ["decimal"]:
            return ""
        override = self._xml.xpath(f"./w:num[@w:numId='{num_id}']/w:lvlOverride[@w:ilvl='0']/w:startOverride/@w:val")
        start = override or self._xml.xpath(f"{lvl}/w:start/@w:val") or ["1"]
        count = self._counts.get(num_id, 0)
        self._counts[num_id] = count + 1
        return f"{int(start[0]) + count}. "

    @staticmethod
    def _num_pr(paragraph) -> tuple[str, str] | None:  # noqa: ANN001 - a python-docx Paragraph
        for holder in (paragraph._p.pPr, paragraph.style.element.pPr if paragraph.style is not None else None):
            num_pr = holder.numPr if holder is not None else None
            if num_pr is not None and num_pr.numId is not None:
                level = num_pr.ilvl.val if num_pr.ilvl is not None else 0
                return str(num_pr.numId.val), str(level)
        return None
