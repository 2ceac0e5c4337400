"""Shielding: phoneme blocks and lexicon replacements are swapped for private-use characters while the
normalisation rules run, so no rule can rewrite them.

Two ranges tell "starts with a capital" from the rest, which rules that look for a following name ("St.
Vitus") need to know; a rule that must know a hidden word (the "volume" before "IV") reads it with `reveal`.
"""
from __future__ import annotations

import re

UPPER_BASE, OTHER_BASE, SLOTS = 0xE000, 0xEC80, 0xC80
PRIVATE = re.compile("[\ue000-\uf8ff]")


class Shield:
    """Hides spans of text behind placeholder characters and puts them back afterwards."""

    def __init__(self) -> None:
        self._upper: list[str] = []
        self._other: list[str] = []

    def hide(self, span: str) -> str:
        """A placeholder for `span` (or `span` itself if a paragraph somehow has thousands)."""
        upper = span[:1].isupper()
        spans, base = (self._upper, UPPER_BASE) if upper else (self._other, OTHER_BASE)
        if len(spans) >= SLOTS:
            return span
        spans.append(span)
        return chr(base + len(spans) - 1)

    def reveal(self, text: str) -> str:
        """`text` with every placeholder replaced by the span it hides."""

        def back(match: re.Match[str]) -> str:
            code = ord(match.group(0))
            if code >= OTHER_BASE:
                return self._other[code - OTHER_BASE]
            return self._upper[code - UPPER_BASE]

        return PRIVATE.sub(back, text)


def is_capital(char: str) -> bool:
    """An upper-case letter, or a hidden span that starts with one."""
    return char.isupper() or UPPER_BASE <= ord(char or "\0") < OTHER_BASE
