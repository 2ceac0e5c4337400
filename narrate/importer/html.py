"""Saved web pages (`.html`, `.htm`, `.xhtml`): the main content found by trafilatura, without navigation,
footers, comments or tables, its headings and paragraphs in order; title, author and date from the page's
metadata (the date only where the page states one, not guessed from its text)."""
from __future__ import annotations

from narrate.importer.document import HEADING, PARAGRAPH, Document, make_document
from narrate.importer.extra import need

#: The earliest date trafilatura may report: archival documents are older than the web.
MIN_DATE = "1000-01-01"


def read(data: bytes, source: str) -> Document:
    """The main content of a saved web page."""
    trafilatura = need("trafilatura", "web page (.html)")
    # Bytes, not text: trafilatura finds the page's own encoding (its meta charset, else by detection).
    extracted = trafilatura.bare_extraction(
        data, output_format="python", include_comments=False, include_tables=False, include_images=False,
        include_formatting=False, include_links=False, with_metadata=True, deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True, "min_date": MIN_DATE},
    )
    if extracted is None or extracted.body is None:
        return make_document(source, [])
    return make_document(source, blocks_of(extracted.body), extracted.title or "",
                         _authors(extracted.author), extracted.date or "")


def blocks_of(body) -> list[tuple[str, str]]:  # noqa: ANN001 - an lxml element of trafilatura's XML
    """Headings and paragraphs of trafilatura's XML in document order (list items and cells are paragraphs)."""
    blocks: list[tuple[str, str]] = []
    for element in body.iter("head", "p", "item", "cell"):
        if any(a.tag in ("p", "item", "cell", "head") for a in element.iterancestors()):
            continue  # its text is part of the enclosing block's
        for br in element.iter("lb"):  # a line break inside a paragraph is a space
            br.tail = " " + (br.tail or "")
        text = "".join(element.itertext())
        blocks.append((HEADING if element.tag == "head" else PARAGRAPH, text))
    return blocks


def _authors(author: str | None) -> tuple[str, ...]:
    """trafilatura joins several authors with '; '."""
    return tuple(a.strip() for a in (author or "").split(";") if a.strip())
