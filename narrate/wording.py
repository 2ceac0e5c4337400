"""Counts as people read them, one way everywhere: "1 segment", "2 segments", "1 entry", "0 pieces"."""
from __future__ import annotations

# Nouns narrate counts whose plural is not the noun plus "s".
_PLURALS = {"entry": "entries", "is": "are"}


def plural(count: int, noun: str) -> str:
    """The noun for `count` of it, without the number: plural("entry", 2) -> "entries"."""
    return noun if count == 1 else _PLURALS.get(noun, noun + "s")


def counted(count: int, noun: str) -> str:
    """`count` and its noun: counted(1, "segment") -> "1 segment", counted(2, "entry") -> "2 entries"."""
    return f"{count} {plural(count, noun)}"
