"""Pronunciation lexicons: read them from YAML, merge show and episode, apply them to text."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from narrate.model import LexiconEntry

_ENTRY_KEYS = ("say", "phonemes")
_SHAPE = "must be a string or a mapping with 'say'/'phonemes'"


def parse_lexicon(raw: object, where: str) -> tuple[tuple[LexiconEntry, ...], list[str]]:
    """Turn a YAML `lexicon:` mapping into entries, collecting every problem as a message."""
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        return (), [f"{where}: lexicon must be a mapping of word to respelling"]
    entries: dict[str, LexiconEntry] = {}
    problems: list[str] = []
    for key, value in raw.items():
        # YAML reads `1968:` as an int; a number is a fine term, a bool (`no:`) or null is not.
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        if not isinstance(key, str) or not key.strip():
            problems.append(f"{where}: lexicon has an empty word; give each entry a word")
            continue
        term = " ".join(key.split())
        entry = _parse_entry(term, value, where, problems)
        if entry is not None:
            entries[term] = entry
    return tuple(entries.values()), problems


def _parse_entry(term: str, value: object, where: str, problems: list[str]) -> LexiconEntry | None:
    """One entry from its YAML value, or None after recording why it is unusable."""
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(f"{where}: lexicon entry '{term}' is empty")
        return None
    if isinstance(value, str):
        return LexiconEntry(term=term, say=" ".join(value.split()))
    if not isinstance(value, dict):
        problems.append(f"{where}: lexicon entry '{term}' {_SHAPE}")
        return None
    unknown = [str(k) for k in value if k not in _ENTRY_KEYS]
    if unknown:
        names = ", ".join(f"'{k}'" for k in unknown)
        problems.append(f"{where}: lexicon entry '{term}' has unknown key(s) {names}; {_SHAPE}")
        return None
    fields: dict[str, str] = {}
    for name in _ENTRY_KEYS:
        field = value.get(name)
        if field is None:
            continue
        if not isinstance(field, str):
            problems.append(f"{where}: lexicon entry '{term}' {_SHAPE}")
            return None
        fields[name] = " ".join(field.split())
    # People paste phonemes with or without the [[ ]] wrapper; the wrapper is added on output.
    phonemes = fields.get("phonemes", "")
    if phonemes.startswith("[[") and phonemes.endswith("]]"):
        phonemes = phonemes[2:-2].strip()
    if "[[" in phonemes or "]]" in phonemes:
        problems.append(f"{where}: lexicon entry '{term}' has phonemes containing '[[' or ']]'")
        return None
    say = fields.get("say", "")
    if not say and not phonemes:
        problems.append(f"{where}: lexicon entry '{term}' is empty")
        return None
    return LexiconEntry(term=term, say=say or term, phonemes=phonemes)


def merge_lexicons(
    show: tuple[LexiconEntry, ...], episode: tuple[LexiconEntry, ...]
) -> tuple[LexiconEntry, ...]:
    """The show's entries with the episode's added; an episode entry replaces one with its term."""
    merged = {entry.term: entry for entry in show}
    merged.update((entry.term, entry) for entry in episode)
    return tuple(merged.values())


def _term_pattern(term: str) -> str:
    """A regex for one term: any run of whitespace between words, either apostrophe style."""
    words = []
    for word in term.split():
        escaped = re.escape(word)
        words.append(re.sub(r"'|’", "['’]", escaped))
    body = r"\s+".join(words)
    # Word boundaries only where the term itself begins or ends with a word character, so that
    # terms such as "St." still match before a space; \w is Unicode-aware for str patterns.
    if re.match(r"\w", term):
        body = r"(?<!\w)" + body
    if re.search(r"\w$", term):
        body = body + r"(?!\w)"
    # An all-lower-case term is a common word ("perestroika") that may start a sentence;
    # anything with capitals is a name and must match as written.
    return f"(?i:{body})" if term == term.lower() else body


@functools.lru_cache(maxsize=64)
def _compile(
    entries: tuple[LexiconEntry, ...],
) -> tuple[re.Pattern[str], tuple[LexiconEntry, ...]] | None:
    """One alternation over all terms, longest first, with a named group per entry."""
    by_term = {e.term: e for e in entries if e.term.strip()}
    if not by_term:
        return None
    # re tries alternatives left to right, so longer terms first makes the longest match win.
    ordered = tuple(sorted(by_term.values(), key=lambda e: len(e.term), reverse=True))
    pattern = "|".join(f"(?P<t{i}>{_term_pattern(e.term)})" for i, e in enumerate(ordered))
    return re.compile(pattern), ordered


def apply_lexicon(
    text: str,
    entries: tuple[LexiconEntry, ...],
    phonemes: bool = False,
    *,
    mark: Callable[[str], str] | None = None,
) -> str:
    """Replace each lexicon term in `text` with its respelling (or `[[phonemes]]`) in one pass.

    `mark`, when given, wraps each replacement; normalisation uses it to shield them from its rules.
    """
    compiled = _compile(tuple(entries))
    if compiled is None:
        return text
    pattern, ordered = compiled

    def replace(match: re.Match[str]) -> str:
        entry = ordered[int(match.lastgroup[1:])]  # type: ignore[index]
        out = f"[[{entry.phonemes}]]" if phonemes and entry.phonemes else entry.say
        return mark(out) if mark else out

    return pattern.sub(replace, text)
