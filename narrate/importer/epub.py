"""EPUB (`.epub`), read with ebooklib: one chapter per EPUB chapter (each document of the spine, in order),
titled by its first heading or its table-of-contents entry; its other headings start chapters too. Title,
authors (creators) and date from the Dublin Core metadata."""
from __future__ import annotations

import io

from narrate.errors import UserError
from narrate.importer.document import HEADING, PARAGRAPH, Document, make_document
from narrate.importer.extra import need

_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "dt", "dd", "td", "th", "pre")


def read(data: bytes, source: str) -> Document:
    """An EPUB's chapters as headings and paragraphs."""
    ebooklib = need("ebooklib", "EPUB (.epub)")
    from ebooklib import epub

    try:
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # noqa: BLE001 - a damaged file makes zipfile, lxml or ebooklib raise many kinds
        raise UserError(f"{source}: cannot read this EPUB ({type(exc).__name__}: {exc})") from None
    toc = _toc_titles(book.toc)
    blocks: list[tuple[str, str]] = []
    for number, (idref, _linear) in enumerate(book.spine, start=1):
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        chapter = _chapter_blocks(item.get_content())
        if not any(kind == PARAGRAPH for kind, _ in chapter):
            continue  # a cover or title page without text
        if not chapter or chapter[0][0] != HEADING:
            chapter.insert(0, (HEADING, toc.get(item.get_name(), "") or f"Chapter {number}"))
        blocks += chapter
    return make_document(source, blocks, _first(book, "title"),
                         tuple(v for v, _ in book.get_metadata("DC", "creator")), _first(book, "date"))


def _first(book, name: str) -> str:  # noqa: ANN001 - an ebooklib EpubBook
    values = book.get_metadata("DC", name)
    return str(values[0][0]) if values else ""


def _toc_titles(toc) -> dict[str, str]:  # noqa: ANN001 - ebooklib's nested table of contents
    titles: dict[str, str] = {}
    for entry in toc:
        if isinstance(entry, tuple):
            section, children = entry
            titles.update(_toc_titles(children))
            entry = section
        href = getattr(entry, "href", None) or getattr(entry, "file_name", None)
        if href and getattr(entry, "title", None):
            titles.setdefault(href.split("#")[0], entry.title)
    return titles


def _chapter_blocks(content: bytes) -> list[tuple[str, str]]:
    from lxml import html

    tree = html.fromstring(content)
    blocks: list[tuple[str, str]] = []
    for element in tree.iter(*_BLOCKS):
        if any(a.tag in _BLOCKS for a in element.iterancestors()):
            continue
        for br in element.iter("br"):
            br.tail = " " + (br.tail or "")
        blocks.append((HEADING if element.tag[0] == "h" and element.tag[1:].isdigit() else PARAGRAPH,
                       element.text_content()))
    return blocks
