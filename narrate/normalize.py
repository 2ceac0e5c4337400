"""Text as it should be spoken: numbers, dates, abbreviations and punctuation made sayable.

Only speech is normalised; transcripts keep the text as written. Every language gets the
language-independent rules (glued paragraph numbers, quotes, dashes, ellipses, whitespace); a
language in `_LANGUAGES` also gets its own rules, run between the two language-independent passes.
An ellipsis is kept as "..." (not turned into a comma): espeak-ng and Piper pause on it a little
longer than on a comma, which is what a trailing-off sentence needs.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from narrate.lexicon import apply_lexicon, default_lexicon, merge_lexicons, primary_language
from narrate.model import LexiconEntry
from narrate.normalize_en import normalize_en
from narrate.shield import PRIVATE, Shield

# ---------------------------------------------------------------------------------------------
# Language-independent rules.
_PHONEME_BLOCK = re.compile(r"\[\[.*?\]\]", re.S)
# Footnote or paragraph numbers that copy-paste glued to a paragraph ("4The main", "16[Source");
# a space after the digits ("1968 was") means a real number. Gluing is an extraction artefact,
# not a feature of English, so this rule runs for every language.
_PARAGRAPH_NUMBER = re.compile(r"^[ \t]*(?:\d{1,3}|\[\d{1,3}\][ \t]*)(?=(.))", re.M)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                         "‘": "'", "’": "'", "‚": "'", "‛": "'"})
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Em dash, horizontal bar, en dash, an ASCII double hyphen, or a hyphen with spaces both sides.
_DASH = re.compile(r"\s*(?:—|―|–|--)\s*|\s+-\s+")
_ELLIPSIS = re.compile(r"\s*(?:…|\.(?: ?\.){2,})")


def _strip_paragraph_numbers(text: str) -> str:
    """Drop digits glued to the start of a paragraph before a capital, a quote or a bracket."""

    def drop(match: re.Match[str]) -> str:
        after = match.group(1)
        return "" if after.isupper() or after in "\"'“‘„«[" else match.group(0)

    return _PARAGRAPH_NUMBER.sub(drop, text)


def _dash(match: re.Match[str]) -> str:
    """A dash between words becomes a comma pause; digit–digit is a range and stays."""
    text, start, end = match.string, match.start(), match.end()
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if not before or not after:
        return ""
    if before.isdigit() and after.isdigit():
        return match.group(0)
    if before in ",;:.!?(":
        return " "
    return "" if after in ",;:.!?)" else ", "


def _ellipsis(match: re.Match[str]) -> str:
    """Every ellipsis becomes "...", attached to the word before it, a space before a word after."""
    end = match.end()
    return "..." + (" " if end < len(match.string) and match.string[end].isalnum() else "")


def _prepare(text: str) -> str:
    """Language-independent clean-up before the language's rules: NFC (engines read composed letters), quotes, odd spaces."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text)).translate(_QUOTES)
    return re.sub(r"[^\S\n]+", " ", text)


def _finish(text: str) -> str:
    """Language-independent punctuation after the language's rules: dashes, ellipses, spaces."""
    text = _DASH.sub(_dash, text)
    text = _ELLIPSIS.sub(_ellipsis, text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" *,(?: *,)*", ",", text)


# ---------------------------------------------------------------------------------------------
# Languages with rules of their own (narrate.normalize_en for English), run between the two
# language-independent passes.
_LANGUAGES: dict[str, Callable[[str, Shield], str]] = {"en": normalize_en}


# ---------------------------------------------------------------------------------------------
# Entry points.
def supported_languages() -> tuple[str, ...]:
    """Primary language subtags that have rules beyond the language-independent ones."""
    return tuple(sorted(_LANGUAGES))


def _normalize(text: str, language: str, shield: Shield) -> str:
    """The shared tail of `normalize` and `spoken_text`; `shield` may already hide replacements."""
    text = _PHONEME_BLOCK.sub(lambda m: shield.hide(m.group(0)), text)
    text = _prepare(text)
    rules = _LANGUAGES.get(primary_language(language))
    if rules is not None:
        text = rules(text, shield)
    return shield.reveal(_finish(text))


def normalize(text: str, language: str = "en") -> str:
    """The text as it should be spoken in `language` (an IETF tag), with the default lexicon only."""
    return spoken_text(text, language=language, lexicon=())


def has_words(spoken: str) -> bool:
    """Whether normalised text has anything an engine can say: a letter or a digit (not only `...` or `—`)."""
    return any(ch.isalnum() for ch in spoken)


def nothing_to_say(text: str) -> str:
    """The problem of a paragraph without words, such as `—` or `...`."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    return f"this paragraph has nothing to say ({shown!r}): write words, or <!-- pause 1s --> for a pause"


SPOKEN_CACHE = 1 << 16  # cues remembered (a cue is a sentence: an archive of 1,000 short episodes holds ~30,000)


@functools.lru_cache(maxsize=32)
def _merged(default: tuple[LexiconEntry, ...], lexicon: tuple[LexiconEntry, ...]) -> tuple[LexiconEntry, ...]:
    return merge_lexicons(default, lexicon)


def effective_lexicon(language: str, lexicon: tuple[LexiconEntry, ...]) -> tuple[LexiconEntry, ...]:
    """The default table of `language` with `lexicon` (show and episode) over it."""
    return _merged(default_lexicon(language), lexicon if isinstance(lexicon, tuple) else tuple(lexicon))


def spoken_text(
    text: str, *, language: str, lexicon: tuple[LexiconEntry, ...], phonemes: bool = False
) -> str:
    """What an engine should say for `text`: the default and given lexicons applied, then the text normalised.

    Deterministic: the same text, language, lexicon and default table always give the same result, and
    a cache key (narrate.cache.piece_key) hashes this result, so editing the default table re-renders
    exactly the pieces whose spoken text it changes. So it is remembered, by the table in effect: the
    script check and the plan ask for the same cues.
    """
    return _spoken(text, language, effective_lexicon(language, lexicon), phonemes)


@functools.lru_cache(maxsize=SPOKEN_CACHE)
def _spoken(text: str, language: str, table: tuple[LexiconEntry, ...], phonemes: bool) -> str:
    shield = Shield()
    # Paragraph numbers go first: "4Gorbachev" would otherwise hide the term from the lexicon.
    text = _strip_paragraph_numbers(PRIVATE.sub("", text))
    # Phoneme blocks already in the script are hidden so the lexicon cannot rewrite them either.
    text = _PHONEME_BLOCK.sub(lambda m: shield.hide(m.group(0)), text)
    # Replacements are hidden too: the lexicon has the last word on how its terms are said.
    text = apply_lexicon(text, table, phonemes, mark=shield.hide)
    return _normalize(text, language, shield)
