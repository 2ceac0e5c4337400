"""Text as it should be spoken: numbers, dates, abbreviations and punctuation made sayable.

Only speech is normalised; transcripts keep the text as written. Every language gets the
language-independent rules (glued paragraph numbers, quotes, dashes, ellipses, whitespace); a
language in `_LANGUAGES` also gets its own rules, run between the two language-independent passes.
An ellipsis is kept as "..." (not turned into a comma): espeak-ng and Piper pause on it a little
longer than on a comma, which is what a trailing-off sentence needs.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

from narrate.lexicon import apply_lexicon
from narrate.model import LexiconEntry

# ---------------------------------------------------------------------------------------------
# Shielding: phoneme blocks and lexicon replacements are swapped for private-use characters
# while the rules run, so no rule can rewrite them. Two ranges tell "starts with a capital"
# from the rest, which the rules that look for a following name ("St. Vitus") need to know.
_UPPER_BASE, _OTHER_BASE, _SLOTS = 0xE000, 0xEC80, 0xC80
_PRIVATE = re.compile("[\ue000-\uf8ff]")


class _Shield:
    """Hides spans of text behind placeholder characters and puts them back afterwards."""

    def __init__(self) -> None:
        self._upper: list[str] = []
        self._other: list[str] = []

    def hide(self, span: str) -> str:
        """A placeholder for `span` (or `span` itself if a paragraph somehow has thousands)."""
        upper = span[:1].isupper()
        spans, base = (self._upper, _UPPER_BASE) if upper else (self._other, _OTHER_BASE)
        if len(spans) >= _SLOTS:
            return span
        spans.append(span)
        return chr(base + len(spans) - 1)

    def reveal(self, text: str) -> str:
        """`text` with every placeholder replaced by the span it hides."""

        def back(match: re.Match[str]) -> str:
            code = ord(match.group(0))
            if code >= _OTHER_BASE:
                return self._other[code - _OTHER_BASE]
            return self._upper[code - _UPPER_BASE]

        return _PRIVATE.sub(back, text)


def _is_capital(char: str) -> bool:
    """An upper-case letter, or a hidden span that starts with one."""
    return char.isupper() or _UPPER_BASE <= ord(char or "\0") < _OTHER_BASE


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
    """Language-independent clean-up before the language's rules: quotes, odd spaces."""
    text = _INVISIBLE.sub("", text).translate(_QUOTES)
    return re.sub(r"[^\S\n]+", " ", text)


def _finish(text: str) -> str:
    """Language-independent punctuation after the language's rules: dashes, ellipses, spaces."""
    text = _DASH.sub(_dash, text)
    text = _ELLIPSIS.sub(_ellipsis, text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" *,(?: *,)*", ",", text)


# ---------------------------------------------------------------------------------------------
# English. Numbers are spelled by num2words, never by tables of our own.
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December")
_MONTH_NAMES = _MONTHS.split("|")
_NOT_MORE = r"(?!\w|[-–.,]\d)"  # the number ends here: no letter, no further digits
_UNIT = re.compile(r" ?(?:%|percent\b|per cent\b|km\b|kg\b|m\b|cm\b|mm\b|t\b|tons?\b|tonnes?\b"
                   r"|metres?\b|meters?\b|feet\b|miles?\b|kilomet(?:re|er)s?\b|kilograms?\b"
                   r"|ro?ubles?\b|dollars?\b|crowns?\b|korun[ay]?\b|pounds?\b"
                   r"|francs?\b)")

_LABELS = ("signed", "signature", "seal", "stamp", "initialed", "initialled", "handwritten",
           "handwritten note", "marginal note", "note", "translator's note", "editor's note",
           "attachment", "enclosure")
_LABEL = re.compile(r"\[(%s)\](?=[ \t]+[^\s,.;:!?])" % "|".join(map(re.escape, _LABELS)), re.I)
_ELISION = re.compile(r"\[\s*(?:\.\s?\.\s?\.|…)\s*\]")
_SIC = re.compile(r"\s*\[sic!?\]", re.I)
_REFERENCE = re.compile(r"(?<=[^\s\[])\[\d{1,3}\]")  # "leaders.[12]": a footnote reference
_BRACKET = re.compile(r"\[([^\[\]\n]*)\]")

_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Dr": "Doctor", "Prof": "Professor"}
_TITLE = re.compile(r"(?<!\w)(Mr|Mrs|Dr|Prof)\.(?=\s)")
_SAINT = re.compile(r"(?<!\w)St\.(?=\s+(.))")
_LATIN = ((re.compile(r"(?<!\w)e\.\s?g\.", re.I), "for example"),
          (re.compile(r"(?<!\w)i\.\s?e\.", re.I), "that is"),
          (re.compile(r"(?<!\w)cf\.", re.I), "compare"),
          (re.compile(r"(?<!\w)vs\.", re.I), "versus"))
_ETC = re.compile(r"(?<!\w)etc\.")
_NUMBER_SIGN = re.compile(r"(?<!\w)[Nn]o(s?)\.\s*(\d+)" + _NOT_MORE)

_ISO_DATE = re.compile(r"(?<![\w.,\-–])(\d{4})-(\d{2})-(\d{2})" + _NOT_MORE)
_MONTH_DAY = re.compile(rf"(?<!\w)({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?"
                        rf"(?:[-–](\d{{1,2}})(?:st|nd|rd|th)?)?{_NOT_MORE}"
                        rf"(?:,?\s+(\d{{4}}){_NOT_MORE})?")
_DAY_MONTH = re.compile(rf"((?<!\w)[Tt]he\s+)?(?<![\w.,])(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTHS})"
                        rf"(?!\w)(?:,?\s+(\d{{4}}){_NOT_MORE})?")

_CURRENCIES = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
_MONEY = re.compile(r"(?<!\w)(US)?([$£€])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
                    r"(?:\s+(thousand|million|billion)(?!\w))?(?!\w|[.,]\d)")
_PERCENT = re.compile(r"(?<=\d) ?%")
_DECADE = re.compile(r"(?<![\w.,'])'?(\d0|\d{3}0)(?:'s|s)(?!\w)")
_ORDINAL = re.compile(r"(?<![\w.,])(\d+)(?:st|nd|rd|th)(?!\w)", re.I)
_RANGE = re.compile(r"(?<![\w.,\-–])(\d+)[ \t]*[-–][ \t]*(\d+)(?![\w\-–]|[.,]\d)")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\w|[.,]\d)")

# Roman numerals II..XXXIX after a capitalised word; never a lone I, V or X ("I" is a pronoun).
_ROMAN = re.compile(r"(?<![\w'-])([^\W\d_][\w']*|[\ue000-\uf8ff])(\.?)(\s+)"
                    r"(?=[IVX])(X{0,3}(?:IX|IV|V?I{0,3}))(?![\w'-])")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
# After these the numeral counts things ("World War two"); after a name it is regnal ("Pius the
# twelfth"); after these function words it is not a numeral we can read safely.
_SEQUENCE_WORDS = frozenset("War Vatican Volume Vol Part Chapter Book Section Article Annex "
                            "Appendix Phase Stage Round Plenum Congress Act Scene Title Series "
                            "Mark Type Class Unit Division Group Directorate Department".split())
_STOP_WORDS = frozenset("The A An And Or Of In On At To By For From With Its His Her Their Our "
                        "Your My We He She They It This That".split())

_LETTERS = ("CC CPSU GDR FRG USSR KGB CIA FBI CSSR US USA UK UN EEC CSCE CMEA PRC SED GRU NKVD "
            "MFA ICBM INF SDI").split()
_ACRONYMS = {word: " ".join(word) for word in _LETTERS} | {"ČSSR": "C S S R"}
_ACRONYM = re.compile(r"(?<!\w)(%s)(?!\w)" % "|".join(sorted(_ACRONYMS, key=len, reverse=True)))


MAX_NUMBER_DIGITS = 15  # longer numbers (ids, hostile input) are read digit by digit; num2words overflows at 306


def _cardinal(digits: str) -> str:
    """ "1,200" -> "one thousand, two hundred"; leading zeros and very long numbers are read digit by digit."""
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits.startswith("0") or len(digits) > MAX_NUMBER_DIGITS:
        return " ".join(num2words(int(d), lang="en") for d in digits)
    return num2words(int(digits), lang="en")


def _year(value: int) -> str:
    """ "nineteen sixty-eight"; num2words says "two thousand and five", a year drops the "and"."""
    return num2words(value, lang="en", to="year").replace(" and ", " ")


def _is_year(digits: str) -> bool:
    """Four digits from 1000 to 2099: read as a year ("nineteen sixty-eight")."""
    return len(digits) == 4 and 1000 <= int(digits) <= 2099


def _integer(digits: str) -> str:
    """A bare whole number: four digits from 1000 to 2099 are a year, anything else a count."""
    return _year(int(digits)) if _is_year(digits) else _cardinal(digits)


def _ordinal(value: int) -> str:
    """ "twentieth" for 20."""
    return num2words(value, lang="en", to="ordinal")


def _brackets(text: str) -> str:
    """Editorial brackets: "[Signed] X" -> "Signed: X", "[T]here" -> "There", "[sic]" dropped."""
    text = _ELISION.sub("...", text)
    text = _SIC.sub("", text)
    text = _REFERENCE.sub("", text)
    text = _LABEL.sub(r"\1:", text)
    return _BRACKET.sub(r"\1", text)


def _capitalised_like(source: str, words: str) -> str:
    """`words`, capitalised when `source` is ("E.g." -> "For example")."""
    return words[:1].upper() + words[1:] if source[:1].isupper() else words


def _abbreviations(text: str) -> str:
    """Titles, Latin abbreviations, "St." before a name and "No." before a number."""
    text = _TITLE.sub(lambda m: _TITLES[m.group(1)], text)
    text = _SAINT.sub(lambda m: "Saint" if _is_capital(m.group(1)) else m.group(0), text)
    for pattern, words in _LATIN:
        text = pattern.sub(lambda m, w=words: _capitalised_like(m.group(0), w), text)

    def etc(match: re.Match[str]) -> str:
        # The abbreviation's full stop may also end the sentence; keep it then.
        rest = match.string[match.end():].lstrip()
        return "et cetera." if not rest or _is_capital(rest[0]) else "et cetera"

    text = _ETC.sub(etc, text)
    text = _NUMBER_SIGN.sub(lambda m: f"number{m.group(1)} {_cardinal(m.group(2))}", text)
    return text.replace(" & ", " and ")


def _dates(text: str) -> str:
    """Month-day, day-month and ISO dates: "August 20, 1968", "20 August 1968", "1968-08-20"."""

    def iso(match: re.Match[str]) -> str:
        year, month, day = (int(g) for g in match.groups())
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return match.group(0)
        return f"{_MONTH_NAMES[month - 1]} {_ordinal(day)}, {_year(year)}"

    def month_day(match: re.Match[str]) -> str:
        month, day, last, year = match.groups()
        if not all(1 <= int(d) <= 31 for d in (day, last or day)):
            return match.group(0)
        spoken = f"{month} {_ordinal(int(day))}" + (f" to {_ordinal(int(last))}" if last else "")
        return spoken + (f", {_integer(year)}" if year else "")

    def day_month(match: re.Match[str]) -> str:
        the, day, month, year = match.groups()
        if not 1 <= int(day) <= 31:
            return match.group(0)
        spoken = f"{the or 'the '}{_ordinal(int(day))} of {month}"
        return spoken + (f", {_integer(year)}" if year else "")

    text = _ISO_DATE.sub(iso, text)
    text = _MONTH_DAY.sub(month_day, text)
    return _DAY_MONTH.sub(day_month, text)


def _decimal(whole: str, fraction: str) -> str:
    """ "2.5" -> "two point five": the digits after the point are read one by one."""
    return f"{_cardinal(whole)} point " + " ".join(_cardinal(d) for d in fraction)


def _money(match: re.Match[str]) -> str:
    """ "$2.5 million" -> "two point five million dollars"; the symbol is said after the number."""
    us, symbol, whole, fraction, scale = match.groups()
    amount = _decimal(whole, fraction) if fraction else _cardinal(whole)
    one, many = _CURRENCIES[symbol]
    unit = one if whole == "1" and not fraction and not scale else many
    unit = f"U S {unit}" if us else unit
    return f"{amount} {scale} {unit}" if scale else f"{amount} {unit}"


def _numbers(text: str) -> str:
    """Percentages, decades, ordinals, ranges, then every remaining number."""
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(" percent", text)

    def decade(match: re.Match[str]) -> str:
        words = _integer(match.group(1))
        return words[:-1] + "ies" if words.endswith("y") else words + "s"

    def number_range(match: re.Match[str]) -> str:
        first, second = match.groups()
        # "1968-69" is read in full: "nineteen sixty-eight to nineteen sixty-nine".
        if _is_year(first) and len(second) == 2 and int(first[:2] + second) > int(first):
            second = first[:2] + second
        return f"{_integer(first)} to {_integer(second)}"

    def number(match: re.Match[str]) -> str:
        whole, fraction = match.groups()
        if fraction is not None:
            return _decimal(whole, fraction)
        text, start = match.string, match.start()
        # "1968 km" or "$1968" is an amount, not a year.
        if _UNIT.match(text, match.end()) or (start and text[start - 1] in "$£€¥₽"):
            return _cardinal(whole)
        return _integer(whole)

    text = _DECADE.sub(decade, text)
    text = _ORDINAL.sub(lambda m: _ordinal(int(m.group(1))) if len(m.group(1)) <= MAX_NUMBER_DIGITS
                        else _cardinal(m.group(1)), text)
    text = _RANGE.sub(number_range, text)
    return _NUMBER.sub(number, text)


def _roman_value(numeral: str) -> int:
    """The value of a numeral of I, V and X; a smaller digit before a larger one subtracts."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < nxt else v for v, nxt in zip(values, values[1:] + [0]))


def _roman(text: str) -> str:
    """ "World War II" -> "World War two", "Pius XII" -> "Pius the twelfth"."""

    def replace(match: re.Match[str]) -> str:
        word, dot, space, numeral = match.groups()
        # An all-capitals word before it ("USSR II") is more likely an acronym list than a name.
        if not _is_capital(word[0]) or word in _STOP_WORDS or (len(word) > 1 and word.isupper()):
            return match.group(0)
        value = _roman_value(numeral)
        if not 2 <= value <= 39:
            return match.group(0)
        if word in _SEQUENCE_WORDS:
            spoken = num2words(value, lang="en")
        else:
            spoken = f"the {_ordinal(value)}"
        return f"{word}{dot}{space}{spoken}"

    return _ROMAN.sub(replace, text)


def normalize_en(text: str) -> str:
    """English rules: brackets, abbreviations, dates, numbers, Roman numerals, letter acronyms."""
    for rule in (_brackets, _abbreviations, _dates, _numbers, _roman):
        text = rule(text)
    return _ACRONYM.sub(lambda m: _ACRONYMS[m.group(1)], text)


_LANGUAGES: dict[str, Callable[[str], str]] = {"en": normalize_en}


# ---------------------------------------------------------------------------------------------
# Entry points.
def supported_languages() -> tuple[str, ...]:
    """Primary language subtags that have rules beyond the language-independent ones."""
    return tuple(sorted(_LANGUAGES))


def _primary(language: str) -> str:
    """ "en" for "en", "en-GB" or "en_US"."""
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def _normalize(text: str, language: str, shield: _Shield) -> str:
    """The shared tail of `normalize` and `spoken_text`; `shield` may already hide replacements."""
    text = _PHONEME_BLOCK.sub(lambda m: shield.hide(m.group(0)), text)
    text = _prepare(text)
    rules = _LANGUAGES.get(_primary(language))
    if rules is not None:
        text = rules(text)
    return shield.reveal(_finish(text))


def normalize(text: str, language: str = "en") -> str:
    """The text as it should be spoken in `language` (an IETF tag); [[phonemes]] pass untouched."""
    text = _strip_paragraph_numbers(_PRIVATE.sub("", text))
    return _normalize(text, language, _Shield())


def has_words(spoken: str) -> bool:
    """Whether normalised text has anything an engine can say: a letter or a digit (not only `...` or `—`)."""
    return any(ch.isalnum() for ch in spoken)


def nothing_to_say(text: str) -> str:
    """The problem of a paragraph without words, such as `—` or `...`."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    return f"this paragraph has nothing to say ({shown!r}): write words, or <!-- pause 1s --> for a pause"


def spoken_text(
    text: str, *, language: str, lexicon: tuple[LexiconEntry, ...], phonemes: bool = False
) -> str:
    """What an engine should say for `text`: the lexicon applied, then the text normalised."""
    shield = _Shield()
    # Paragraph numbers go first: "4Gorbachev" would otherwise hide the term from the lexicon.
    text = _strip_paragraph_numbers(_PRIVATE.sub("", text))
    # Phoneme blocks already in the script are hidden so the lexicon cannot rewrite them either.
    text = _PHONEME_BLOCK.sub(lambda m: shield.hide(m.group(0)), text)
    # Replacements are hidden too: the lexicon has the last word on how its terms are said.
    text = apply_lexicon(text, lexicon, phonemes, mark=shield.hide)
    return _normalize(text, language, shield)
