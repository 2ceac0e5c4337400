"""Pronunciation lexicons: read them from YAML, layer default, show and episode, apply them to text.

narrate ships a default table for English (`narrate/data/lexicon-en.yaml`: letter acronyms, titles before names,
editorial and bibliographic abbreviations, unit symbols). A show's `lexicon` and an episode's extend it;
an entry whose term matches a default term (after the Unicode folding below) replaces it.

An entry is a term and one or more *variants*, tried in order; a variant may hold only `before` a number
or a name, or `after` a number (or after the number 1). A term none of whose variants holds is left
as written, for the normaliser's rules.

Terms match whole words, longest first, in one pass. Matching folds Unicode: precomposed and decomposed
forms (NFC and NFD) of a letter are the same, and so are the look-alikes in `LOOKALIKES` (a breve
written for a caron, "Zdenĕk" for "Zdeněk"; Cyrillic letters that look Latin; curly and straight
apostrophes).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from importlib.resources import files

from narrate.model import LexiconEntry
from narrate.shield import is_capital

_ENTRY_KEYS = ("say", "phonemes", "before", "after", "note")
_SHAPE = "must be a string or a mapping with 'say'/'phonemes' (or a list of such mappings)"
_CONDITIONS = {"before": ("number", "name"), "after": ("number", "one")}

#: Groups of characters that matching treats as one letter. The first of each group stands for it.
LOOKALIKES = (
    # A breve where a caron belongs (and back): old fonts and OCR confuse them.
    "ěĕ", "ĚĔ", "ǎă", "ǍĂ", "ǐĭ", "ǏĬ", "ǒŏ", "ǑŎ", "ǔŭ", "ǓŬ",
    # A cedilla where a comma below belongs (Romanian ș, ț).
    "șş", "ȘŞ", "țţ", "ȚŢ",
    # Apostrophes: straight, right single quote, modifier letter apostrophe, left quote, grave, acute.
    "'’ʼ‘`´",
    # Cyrillic letters that look like Latin ones.
    "aа", "cс", "eе", "iі", "jј", "oо", "pр", "sѕ", "xх", "yу",
    "AА", "BВ", "CС", "EЕ", "HН", "IІ", "JЈ", "KК", "MМ", "OО", "PР", "SЅ", "TТ", "XХ", "YҮ",
)
_GROUP = {char: group for group in LOOKALIKES for char in group}
_FOLD = str.maketrans({char: group[0] for group in LOOKALIKES for char in group[1:]})

#: The default table of each language that has one, inside the narrate package.
DEFAULT_TABLES = {"en": "data/lexicon-en.yaml"}


def fold(term: str) -> str:
    """The form of `term` matching compares: NFC, look-alikes replaced by their group's first letter."""
    return unicodedata.normalize("NFC", term).translate(_FOLD)


def _entry_where(where: str, raw: object, key: object) -> str:
    """`where` ("file:line" of the lexicon) with the line of `key` when the mapping remembers it."""
    lines = getattr(raw, "lines", None)
    path, sep, line = where.rpartition(":")
    if lines and key in lines and sep and line.isdigit():
        return f"{path}:{lines[key]}"
    return where


def parse_lexicon(raw: object, where: str) -> tuple[tuple[LexiconEntry, ...], list[str]]:
    """Turn a YAML `lexicon:` mapping into entries, collecting every problem as a message.

    `where` is "file:line" of the mapping; a problem with one entry names that entry's own line.
    """
    if raw is None:
        return (), []
    if not isinstance(raw, dict):
        return (), [f"{where}: lexicon must be a mapping of word to respelling"]
    groups: dict[str, tuple[LexiconEntry, ...]] = {}
    firsts: dict[str, str] = {}
    problems: list[str] = []
    for key, value in raw.items():
        here = _entry_where(where, raw, key)
        # YAML reads `1968:` as an int; a number is a fine term, a bool (`no:`) or null is not.
        term = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
        if not isinstance(term, str) or not term.strip():
            problems.append(f"{here}: lexicon has an empty word; give each entry a word")
            continue
        term = unicodedata.normalize("NFC", " ".join(term.split()))
        variants = _parse_variants(term, value, here, problems)
        if variants is None:
            continue
        folded = fold(term)
        if folded in firsts:
            problems.append(f"{here}: lexicon entry '{term}' is the same term as '{firsts[folded]}' "
                            "(look-alike letters match alike); keep one")
            continue
        firsts[folded] = term
        groups[folded] = variants
    return tuple(entry for group in groups.values() for entry in group), problems


def _parse_variants(term: str, value: object, where: str, problems: list[str]) -> tuple[LexiconEntry, ...] | None:
    """The variants of one entry from its YAML value, or None after recording why it is unusable."""
    if isinstance(value, list):
        if not value:
            problems.append(f"{where}: lexicon entry '{term}' is empty")
            return None
        if not all(isinstance(item, dict) for item in value):
            problems.append(f"{where}: lexicon entry '{term}' {_SHAPE}")
            return None
        variants = [_parse_entry(term, item, where, problems) for item in value]
        if any(v is None for v in variants):
            return None
        return tuple(v for v in variants if v is not None)
    entry = _parse_entry(term, value, where, problems)
    return None if entry is None else (entry,)


def _parse_entry(term: str, value: object, where: str, problems: list[str]) -> LexiconEntry | None:
    """One variant from its YAML value, or None after recording why it is unusable."""
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
    for name, allowed in _CONDITIONS.items():
        if fields.get(name, "") not in ("", *allowed):
            problems.append(f"{where}: lexicon entry '{term}' has {name}: '{fields[name]}'; "
                            f"use {' or '.join(allowed)}")
            return None
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
    return LexiconEntry(term=term, say=say or term, phonemes=phonemes,
                        before=fields.get("before", ""), after=fields.get("after", ""))


def primary_language(language: str) -> str:
    """ "en" for "en", "en-GB" or "en_US"."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


class Table(tuple):
    """A lexicon's entries: a tuple whose hash is computed once.

    The effective table keys several memo caches for every piece (its merge, its compiled pattern, the
    spoken text); hashing its hundred entries again each time was a fifth of the plan's time.
    """

    def __hash__(self) -> int:
        try:
            return self.__dict__["hash"]
        except KeyError:
            value = self.__dict__["hash"] = tuple.__hash__(self)
            return value


def default_lexicon(language: str = "en") -> tuple[LexiconEntry, ...]:
    """The table shipped with narrate for `language` (none for most); a broken table is a packaging bug, so it raises."""
    return _load_default(primary_language(language))


@functools.lru_cache(maxsize=8)
def _load_default(language: str) -> tuple[LexiconEntry, ...]:
    """The parsed table of a primary language subtag (`_load_default.cache_clear()` reads it again)."""
    name = DEFAULT_TABLES.get(language)
    if name is None:
        return ()
    from narrate.yamlfile import load_yaml

    text = files("narrate").joinpath(name).read_text(encoding="utf-8")
    entries, problems = parse_lexicon(load_yaml(text), f"narrate/{name}:1")
    if problems:
        raise RuntimeError("; ".join(problems))
    return Table(entries)


def merge_lexicons(*layers: tuple[LexiconEntry, ...]) -> tuple[LexiconEntry, ...]:
    """The layers' entries, later ones first in importance: a later term replaces every variant of an
    earlier one with the same folded term (show over default, episode over show)."""
    merged: dict[str, list[LexiconEntry]] = {}
    for layer in layers:
        fresh: dict[str, list[LexiconEntry]] = {}
        for entry in layer:
            fresh.setdefault(fold(entry.term), []).append(entry)
        merged.update(fresh)
    return Table(entry for group in merged.values() for entry in group)


def _char_pattern(char: str) -> str:
    """A regex for one letter of a term: its look-alikes, each precomposed or decomposed."""
    forms: list[str] = []
    for alike in _GROUP.get(char, char):
        for form in (alike, unicodedata.normalize("NFD", alike)):
            if form not in forms:
                forms.append(form)
    if len(forms) == 1:
        return re.escape(char)
    forms.sort(key=len, reverse=True)  # a decomposed form first: it is longer
    return "(?:" + "|".join(map(re.escape, forms)) + ")"


def _term_pattern(term: str) -> str:
    """A regex for one term: any run of whitespace between words, letters as `_char_pattern` says."""
    term = unicodedata.normalize("NFC", term)
    body = r"\s+".join("".join(_char_pattern(c) for c in word) for word in term.split())
    # Word boundaries only where the term itself begins or ends with a word character, so that
    # terms such as "St." still match before a space; \w is Unicode-aware for str patterns. A
    # combining mark after the term would change its last letter, so it is no boundary either.
    if re.match(r"\w", term):
        body = r"(?<!\w)" + body
    if re.search(r"\w$", term):
        body = body + r"(?![\w\u0300-\u036f])"
    # An all-lower-case term is a common word ("perestroika") that may start a sentence;
    # anything with capitals is a name and must match as written.
    return f"(?i:{body})" if term == term.lower() else body


# Digits, or a Roman numeral; a lone "I" only before punctuation or the end ("Vol. I," but "No. I said").
_NUMBER_AHEAD = re.compile(r"\s*(?:\d|(?!I\s+\w)(?:[IVXLC]+|[ivxlc]+)(?![\w'’]))")
_NAME_AHEAD = re.compile(r"\s+(?:\w|[\ue000-\uf8ff])")
_NUMBER_BEHIND = re.compile(r"\d(?:st|nd|rd|th)?\s*$")
_ONE_BEHIND = re.compile(r"(?<![\d.,])1\s*$")


def _holds(entry: LexiconEntry, text: str, start: int, end: int) -> bool:
    """Whether `entry`'s conditions hold for the term found at text[start:end]."""
    if entry.before == "number" and not _NUMBER_AHEAD.match(text, end):
        return False
    if entry.before == "name":
        ahead = _NAME_AHEAD.match(text, end)
        char = text[ahead.end() - 1] if ahead else ""
        if not is_capital(char):
            return False
    behind = text[max(0, start - 40):start]
    if entry.after == "number" and not _NUMBER_BEHIND.search(behind):
        return False
    return not (entry.after == "one" and not _ONE_BEHIND.search(behind))


def _ends_text(text: str, end: int) -> bool:
    """Nothing but closing punctuation after `end`: a term's full stop there also ends the sentence."""
    return not text[end:].strip(" \t\n\"'’”»")


def _ends_sentence(entry: LexiconEntry, text: str, end: int) -> bool:
    """Whether the full stop of `entry`'s term at `end` also ends a sentence: at the end of the text, or,
    for a term said after a number ("03:40 hrs. From"), before a capital."""
    if _ends_text(text, end):
        return True
    return bool(entry.after) and re.match(r"\s+[\"'“‘]?[A-Z\ue000-\uec7f]", text[end:]) is not None


@functools.lru_cache(maxsize=64)
def _compile(
    entries: tuple[LexiconEntry, ...],
) -> tuple[re.Pattern[str], tuple[tuple[LexiconEntry, ...], ...]] | None:
    """One alternation over all terms, longest first, with a named group per term."""
    groups: dict[str, list[LexiconEntry]] = {}
    for entry in entries:
        if entry.term.strip():
            groups.setdefault(fold(entry.term), []).append(entry)
    if not groups:
        return None
    # re tries alternatives left to right, so longer terms first makes the longest match win.
    ordered = tuple(tuple(g) for g in sorted(groups.values(), key=lambda g: len(g[0].term), reverse=True))
    pattern = "|".join(f"(?P<t{i}>{_term_pattern(g[0].term)})" for i, g in enumerate(ordered))
    return re.compile(_first_chars([g[0].term for g in ordered]) + f"(?:{pattern})"), ordered


def _first_chars(terms: list[str]) -> str:
    """A lookahead for the characters any of `terms` can start with (as `_term_pattern` matches them).

    re tries every alternative at every position of the text; this one test turns away the positions
    where no term can start, several times faster over a table of a hundred terms, with the same matches.
    """
    exact: set[str] = set()
    folded: set[str] = set()  # of the all-lower-case terms, matched without regard to case
    for term in terms:
        first = unicodedata.normalize("NFC", term).split()[0][0]
        forms = {form[0] for alike in _GROUP.get(first, first) for form in (alike, unicodedata.normalize("NFD", alike))}
        (folded if term == term.lower() else exact).update(forms)
    classes = [f"[{''.join(map(re.escape, sorted(chars)))}]" for chars in (exact, folded) if chars]
    if folded:
        classes[-1] = f"(?i:{classes[-1]})"
    return f"(?={'|'.join(classes)})"


def choose(entries: tuple[LexiconEntry, ...], text: str, start: int, end: int) -> LexiconEntry | None:
    """The first of one term's variants whose conditions hold where it was found, if any."""
    return next((e for e in entries if _holds(e, text, start, end)), None)


def apply_lexicon(
    text: str,
    entries: tuple[LexiconEntry, ...],
    phonemes: bool = False,
    *,
    mark: Callable[[str], str] | None = None,
) -> str:
    """Replace each lexicon term in `text` with its respelling (or `[[phonemes]]`) in one pass.

    `mark`, when given, wraps each replacement; normalisation uses it to shield them from its rules.
    A term ending in a full stop at the end of the text keeps the stop: it also ends the sentence (so does a
    term said after a number, before a capital).
    """
    compiled = _compile(entries if isinstance(entries, tuple) else tuple(entries))
    if compiled is None:
        return text
    pattern, ordered = compiled

    def replace(match: re.Match[str]) -> str:
        variants = ordered[int(match.lastgroup[1:])]  # type: ignore[index]
        entry = choose(variants, match.string, match.start(), match.end())
        if entry is None:
            return match.group(0)
        out = f"[[{entry.phonemes}]]" if phonemes and entry.phonemes else entry.say
        out = mark(out) if mark else out
        # A symbol glued to a number ("20°C", "§3") is a word of its own once spelled out.
        text, start, end = match.string, match.start(), match.end()
        if start and text[start - 1].isalnum() and not entry.term[0].isalnum():
            out = " " + out
        if end < len(text) and text[end].isalnum() and not entry.term[-1].isalnum():
            out += " "
        if entry.term.endswith(".") and entry.say[-1:] not in ".!?" and _ends_sentence(entry, text, end):
            out += "."
        return out

    return pattern.sub(replace, text)


@functools.lru_cache(maxsize=8)
def _held_terms(
    default: tuple[LexiconEntry, ...],
) -> tuple[re.Pattern[str], tuple[tuple[LexiconEntry, ...], ...]] | None:
    """The default terms with a full stop that only hold before something: they never end a sentence."""
    held = tuple(e for e in default if e.term.endswith(".") and e.before)
    compiled = _compile(held)
    if compiled is None:
        return None
    pattern, ordered = compiled
    return re.compile(f"(?:{pattern.pattern})$"), ordered


def holds_sentence(sentence: str, following: str, language: str = "en",
                   lexicon: tuple[LexiconEntry, ...] = ()) -> bool:
    """Whether `sentence` only seems to end: its last word is an abbreviation of the default table (or of
    `lexicon`, the show's and episode's) such as "Gen." or "p." that the `following` text completes
    ("Gen. Pavlovsky", "p. 5"), so a splitter must not cut there."""
    entries = merge_lexicons(default_lexicon(language), lexicon) if lexicon else default_lexicon(language)
    compiled = _held_terms(entries)
    if compiled is None:
        return False
    pattern, ordered = compiled
    tail = sentence.rstrip()[-48:]  # the longest abbreviation is far shorter; a long sentence is not rescanned
    match = pattern.search(tail)
    if match is None:
        return False
    text = f"{tail} {following.lstrip()}"
    variants = ordered[int(match.lastgroup[1:])]  # type: ignore[index]
    return any(e.before and _holds(e, text, match.start(), match.end()) for e in variants)
