"""Plain text (`.txt`): paragraphs are separated by blank lines; a paragraph's line breaks are spaces.

UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order mark, or the encoding given with
`--encoding`. A line underlined with `===` or `---` (Setext style) is a heading.
"""
from __future__ import annotations

import codecs
import re

from narrate.errors import UserError
from narrate.importer.document import HEADING, PARAGRAPH, Document, make_document

_UNDERLINE = re.compile(r"^(=+|-+)\s*$")


def decode(data: bytes, source: str, encoding: str | None) -> str:
    """The file's text: the given encoding, else a byte-order mark's, else UTF-8; a bad byte is one line."""
    if encoding is None:
        for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
            if data.startswith(bom):
                encoding = name
                break
    try:
        return data.decode(encoding or "utf-8")
    except LookupError:
        raise UserError(f"unknown text encoding {encoding!r} (for example utf-8, cp1252, latin-1)") from None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = "" if encoding else " (give its encoding with --encoding, for example --encoding cp1252)"
        raise UserError(f"{source}:{line}: the file is not {encoding or 'UTF-8'} "
                        f"(byte 0x{data[exc.start]:02x}){hint}") from None


def read(data: bytes, source: str, encoding: str | None = None) -> Document:
    """A plain-text document: one paragraph per block of lines between blank lines."""
    text = decode(data, source, encoding).replace("\r\n", "\n").replace("\r", "\n")
    blocks: list[tuple[str, str]] = []
    for chunk in re.split(r"\n[ \t\f\v]*\n", text):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if len(lines) >= 2 and _UNDERLINE.match(lines[-1].strip()) and len(lines) == 2:
            blocks.append((HEADING, lines[0]))
        elif lines:
            blocks.append((PARAGRAPH, " ".join(lines)))
    return make_document(source, blocks)
