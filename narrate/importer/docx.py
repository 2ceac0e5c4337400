"""Word (`.docx`), read with python-docx: paragraphs in order, those in a Title or Heading style as headings;
empty paragraphs are skipped. Title, author and creation date from the document's core properties."""
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
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile, lxml or python-docx raise many kinds
        raise UserError(f"{source}: cannot read this Word file ({type(exc).__name__}: {exc})") from None
    blocks = [(_kind(p), p.text) for p in document.paragraphs]
    core = document.core_properties
    created = core.created.date().isoformat() if core.created else ""
    authors = tuple(a.strip() for a in (core.author or "").split(";") if a.strip())
    return make_document(source, blocks, core.title or "", authors, created)


def _kind(paragraph) -> str:  # noqa: ANN001 - a python-docx Paragraph
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    return HEADING if style == "Title" or style.startswith("Heading") else PARAGRAPH
