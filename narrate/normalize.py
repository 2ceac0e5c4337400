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

from num2words import num2words

from narrate.lexicon import apply_lexicon, default_lexicon, merge_lexicons, primary_language
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
# English. Numbers are spelled by num2words, never by tables of our own. Words (titles, editorial
# abbreviations, acronyms, units) are in the default lexicon, narrate/data/lexicon-en.yaml, which is
# applied before these rules; its replacements are hidden from them, so rules that need to know the
# word before or after a number read it through the shield (`_word_before`, `_text_after`).
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December")
_MONTH_NAMES = _MONTHS.split("|")
_MONTH_SHORT = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June",
                "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October",
                "Nov": "November", "Dec": "December"}
# A month written out, or abbreviated with or without its full stop ("Sept. 12", "4 Jan 1957").
_MONTH = rf"((?:{_MONTHS})(?!\w)|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\.|(?!\w)))"
_ANY_MONTH = _MONTH.replace("(", "(?:", 1)
_NOT_MORE = r"(?!\w|[-–.,]\d)"  # the number ends here: no letter, no further digits
_SUFFIX = r"(?:st|nd|rd|th)?"
# Between the two days of a span: "20-21", "20–21", "20/21", "20 to 21", "20 and 21" (a "the" may follow).
_SPAN = r"(\s*[-–/]\s*|\s+to\s+|\s+and\s+)(?:the\s+)?"
# Words after which a number counts things ("page 1968" is not a year) and, in the plural, after
# which a short second number of a range abbreviates the first ("pages 112-14": to 114).
_COUNT_WORDS = frozenset("page pages paragraph paragraphs number numbers note notes footnote footnotes "
                         "volume volumes section sections article articles chapter chapters document "
                         "documents folio folios item items figure figures line lines".split())
_UNIT = re.compile(r" ?(?:%|percent\b|per cent\b|km\b|kg\b|m\b|cm\b|mm\b|t\b|tons?\b|tonnes?\b"
                   r"|metres?\b|meters?\b|feet\b|miles?\b|kilomet(?:re|er)s?\b|kilograms?\b"
                   r"|(?:centi|milli)met(?:re|er)s?\b|square\b|degrees?\b|hours\b"
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

# Clock times. With a.m./p.m. the separator may be a colon or a full stop ("5.40 p.m."); without, only
# a colon makes a time ("19:20"), since "5.40" alone is a decimal.
_MERIDIEM = re.compile(r"(?<![\w.,:])(\d{1,2})(?:[:.](\d{2}))?\s?(?i:([ap])(?:\.\s?)?m(?!\w)(\.)?)")
# A dash between two times is "to": "10:30-11:00", "9 a.m.–5 p.m.".
_TIME_RANGE = re.compile(r"(\d{1,2}:\d{2}|(?<=\d)\s?(?i:[ap]\.?\s?m\b\.?))\s*[-–]\s*"
                         r"(?=\d{1,2}(?::\d{2}|(?:[:.]\d{2})?\s?(?i:[ap]\.?\s?m\b)))")
_HOUR_RANGE = re.compile(r"(?<![\w.,:])(\d{1,2})\s*[-–]\s*(?=\d{1,2}(?:[:.]\d{2})?\s?(?i:[ap]\.?\s?m\b))")
_CLOCK = re.compile(r"(?<![\w.,:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\w:]|[.,]\d)")

_ISO_DATE = re.compile(r"(?<![\w.,\-–])(\d{4})-(\d{2})-(\d{2})" + _NOT_MORE)
_MONTH_DAY = re.compile(rf"(?<!\w){_MONTH}\s+(\d{{1,2}}){_SUFFIX}"
                        rf"(?:{_SPAN}(\d{{1,2}}){_SUFFIX}(?!\s+(?:of\s+)?{_ANY_MONTH}))?{_NOT_MORE}"
                        rf"(?:,?\s+(\d{{4}}){_NOT_MORE})?")
_DAY_MONTH = re.compile(rf"((?<!\w)[Tt]he\s+)?(?<![\w.,])(\d{{1,2}}){_SUFFIX}(?:{_SPAN}(\d{{1,2}}){_SUFFIX})?"
                        rf"\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}){_NOT_MORE})?")
_MONTH_YEAR = re.compile(r"(?<!\w)(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?\s+(\d{4})" + _NOT_MORE)

_CURRENCIES = {"$": ("dollar", "dollars"), "£": ("pound", "pounds"), "€": ("euro", "euros")}
_MONEY = re.compile(r"(?<!\w)(US ?|[\ue000-\uec7f] ?)?([$£€]) ?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
                    r"(?:\s+(thousand|million|billion)(?!\w))?(?!\w|[.,]\d)")
_PERCENT = re.compile(r"(?<=\d) ?%")
_MINUS = re.compile(r"(?:^|(?<=[\s(]))[-−](?=\d)")  # "-5°C": a sign, not a dash or a range
_VULGAR = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
_VULGAR_FRACTION = re.compile(rf"(?:(?<![\w.,])(\d+)[ \u00a0]?)?([{_VULGAR}])")
_FRACTION = re.compile(r"(?<![\w/⁄.,])(?:(\d+)[ \u00a0]+)?(\d{1,3})([/⁄])(\d{1,3})(?![\w/⁄]|[.,]\d)")
# Sub-items after a number: "7(b)", "12(3)(a)(ii)".
_SUB_ITEMS = re.compile(r"(?<=\d)((?:\((?:[a-z]|[ivx]{1,4}|\d{1,2})\))+)(?![\w(])")
_SUB_ITEM = re.compile(r"\(([^()]*)\)")
_DECADE = re.compile(r"(?<![\w.,'])'?(\d0|\d{3}0)(?:'s|s)(?!\w)")
_DECADE_RANGE = re.compile(r"(?<![\w.,'])'?(\d{3}0|\d0)(?:'s|s)\s*[-–]\s*'?(\d{3}0|\d0)(?:'s|s)(?!\w)")
_ORDINAL = re.compile(r"(?<![\w.,])(\d+)(?:st|nd|rd|th)(?!\w)", re.I)
_ORDINAL_RANGE = re.compile(r"(?<![\w.,])(\d{1,6})(?:st|nd|rd|th)\s*[-–]\s*(\d{1,6})(?:st|nd|rd|th)(?!\w)", re.I)
_ROMAN_NUMERAL = r"(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_ROMAN_ORDINAL = re.compile(rf"(?<![\w'-])({_ROMAN_NUMERAL})(st|nd|rd|th)(?!\w)")
_RANGE = re.compile(r"(?<![\w.,\-–])(\d+)[ \t]*[-–][ \t]*(\d+)(?![\w\-–]|[.,]\d)")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\w|[.,]\d)")

# Roman numerals I..XXXIX after a capitalised word; never a lone I, V or X ("I" is a pronoun).
_ROMAN = re.compile(r"(?<![\w'-])([^\W\d_][\w']*|[\ue000-\uf8ff])(\.?)(\s+)"
                    r"(?=[IVX])(X{0,3}(?:IX|IV|V?I{0,3}))(?![\w'-])")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
# After these the numeral counts things ("World War two", "volume one"); after a name it is regnal
# ("Pius the twelfth"); after these function words it is not a numeral we can read safely.
_SEQUENCE_WORDS = frozenset("War Vatican Volume Vol Part Chapter Book Section Article Annex "
                            "Appendix Phase Stage Round Plenum Congress Act Scene Title Series "
                            "Mark Type Class Unit Division Group Directorate Department".split())
_STOP_WORDS = frozenset("The A An And Or Of In On At To By For From With Its His Her Their Our "
                        "Your My We He She They It This That".split())


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


def _word_before(text: str, start: int, shield: _Shield) -> str:
    """The word before `start`, lower case, with hidden spans (lexicon replacements) revealed."""
    match = re.search(r"(\w+)\W*$", shield.reveal(text[max(0, start - 40):start]))
    return match.group(1).lower() if match else ""


def _text_after(text: str, end: int, shield: _Shield) -> str:
    """A little of the text after `end`, with hidden spans revealed."""
    return shield.reveal(text[end:end + 24])


def _brackets(text: str, shield: _Shield) -> str:
    """Editorial brackets: "[Signed] X" -> "Signed: X", "[T]here" -> "There", "[sic]" dropped."""
    text = _ELISION.sub("...", text)
    text = _SIC.sub("", text)
    text = _REFERENCE.sub("", text)
    text = _LABEL.sub(r"\1:", text)
    return _BRACKET.sub(r"\1", text)


def _abbreviations(text: str, shield: _Shield) -> str:
    """What the default lexicon cannot say as a word: "&" between words."""
    return text.replace(" & ", " and ")


def _keeps_stop(text: str, end: int) -> bool:
    """Whether a full stop an abbreviation ate also ended the sentence: nothing, or a new sentence, follows."""
    rest = text[end:]
    return not rest.strip() or re.match(r"\s+[\"']?[A-Z\ue000-\uec7f]", rest) is not None


def _minutes(value: int) -> str:
    """Minutes after the hour as a clock says them: "oh five", "forty-five"."""
    return f"oh {_cardinal(str(value))}" if value < 10 else _cardinal(str(value))


def _times(text: str, shield: _Shield) -> str:
    """ "7:45 a.m." -> "seven forty-five a.m.", "19:20" -> "nineteen twenty", "06:00" -> "six o'clock"."""

    def meridiem(match: re.Match[str]) -> str:
        hour, minutes, half, stop = match.groups()
        if not 1 <= int(hour) <= 12 or (minutes and int(minutes) > 59):
            return match.group(0)
        spoken = _cardinal(str(int(hour))) + (f" {_minutes(int(minutes))}" if minutes and int(minutes) else "")
        # espeak-ng (and Piper, through it) reads "a.m." as the letters; "A M" it reads as "uh em".
        spoken += f" {half.lower()}.m."
        return spoken

    def clock(match: re.Match[str]) -> str:
        hour, minutes, seconds = (int(g) if g else None for g in match.groups())
        assert hour is not None and minutes is not None
        if hour > 23 or minutes > 59 or (seconds is not None and seconds > 59):
            return match.group(0)
        if hour == 0:
            # A careful narrator says "five minutes past midnight", not "zero zero oh five".
            if minutes == 0:
                spoken = "midnight"
            else:
                spoken = f"{_cardinal(str(minutes))} minute{'s' if minutes != 1 else ''} past midnight"
        elif minutes == 0:
            # "06:00" -> "six o'clock"; an afternoon hour of the 24-hour clock -> "nineteen hundred".
            spoken = f"{_cardinal(str(hour))} o'clock" if hour <= 12 else f"{_cardinal(str(hour))} hundred"
        else:
            spoken = f"{_cardinal(str(hour))} {_minutes(minutes)}"
        if seconds:
            spoken += f" and {_cardinal(str(seconds))} second{'s' if seconds != 1 else ''}"
        return spoken

    text = _HOUR_RANGE.sub(r"\1 to ", _TIME_RANGE.sub(r"\1 to ", text))
    text = _MERIDIEM.sub(meridiem, text)
    return _CLOCK.sub(clock, text)


def _month(written: str) -> str:
    """ "September" for "Sept.", "Sep" or "September"."""
    return _MONTH_SHORT.get(written.rstrip("."), written.rstrip("."))


def _joiner(span: str | None) -> str:
    """The word between the days of a span: "and" when written, else "to"."""
    return "and" if span and span.strip() == "and" else "to"


def _dates(text: str, shield: _Shield) -> str:
    """Dates: "August 20, 1968", "20 August 1968", "4 Jan. 1957", "Sept. 12", "20 to 21 August", "1968-08-20"."""

    def stop(match: re.Match[str], month: str) -> str:
        # "12 Dec." at the end of a sentence: the abbreviation's full stop ends it too.
        return "." if month.endswith(".") and _keeps_stop(match.string, match.end()) else ""

    def iso(match: re.Match[str]) -> str:
        year, month, day = (int(g) for g in match.groups())
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return match.group(0)
        return f"{_MONTH_NAMES[month - 1]} {_ordinal(day)}, {_year(year)}"

    def month_day(match: re.Match[str]) -> str:
        month, day, span, last, year = match.groups()
        if not all(1 <= int(d) <= 31 for d in (day, last or day)):
            return match.group(0)
        spoken = f"{_month(month)} {_ordinal(int(day))}"
        spoken += f" {_joiner(span)} {_ordinal(int(last))}" if last else ""
        return spoken + (f", {_integer(year)}" if year else "")

    def day_month(match: re.Match[str]) -> str:
        the, day, span, last, month, year = match.groups()
        if not all(1 <= int(d) <= 31 for d in (day, last or day)):
            return match.group(0)
        # "the night of 20 to 21 August" -> "the twentieth to the twenty-first of August".
        spoken = f"{the or 'the '}{_ordinal(int(day))}"
        spoken += f" {_joiner(span)} the {_ordinal(int(last))}" if last else ""
        spoken += f" of {_month(month)}"
        return spoken + (f", {_integer(year)}" if year else stop(match, month))

    text = _ISO_DATE.sub(iso, text)
    text = _MONTH_DAY.sub(month_day, text)
    text = _DAY_MONTH.sub(day_month, text)
    return _MONTH_YEAR.sub(lambda m: f"{_month(m.group(1))} {_year(int(m.group(2)))}", text)


def _fraction_words(numerator: int, denominator: int) -> str:
    """ "quarter", "thirds", "half": the denominator as a narrator says it after `numerator`."""
    if denominator == 2:
        return "half" if numerator == 1 else "halves"
    if denominator == 4:
        return "quarter" if numerator == 1 else "quarters"
    return _ordinal(denominator) + ("" if numerator == 1 else "s")


def _fraction(whole: str | None, numerator: int, denominator: int) -> str:
    """ "three quarters", "one and a half", "two and two thirds"."""
    words = _fraction_words(numerator, denominator)
    if whole is None:
        return f"{_cardinal(str(numerator))} {words}"
    part = f"a {words}" if numerator == 1 else f"{_cardinal(str(numerator))} {words}"
    return f"{_cardinal(whole)} and {part}"


def _fractions(text: str, shield: _Shield) -> str:
    """ "3/4" -> "three quarters", "1½" -> "one and a half"; "117/68" (not a fraction) is left."""

    def vulgar(match: re.Match[str]) -> str:
        whole, char = match.groups()
        numerator, denominator = unicodedata.normalize("NFKC", char).split("\u2044")
        return _fraction(whole, int(numerator or 1), int(denominator))

    def ascii_fraction(match: re.Match[str]) -> str:
        whole, numerator, slash, denominator = match.groups()
        top, bottom = int(numerator), int(denominator)
        if _word_before(match.string, match.start(), shield) in _COUNT_WORDS:
            return match.group(0)  # "No. 4/5" is a file number
        # A fraction slash is always a fraction; "/" only for a proper fraction of a small denominator.
        if not (0 < top < bottom <= 100 or (slash == "⁄" and 0 < bottom)):
            return match.group(0)
        return _fraction(whole, top, bottom)

    text = _VULGAR_FRACTION.sub(vulgar, text)
    return _FRACTION.sub(ascii_fraction, text)


def _sub_items(text: str, shield: _Shield) -> str:
    """ "7(b)" -> "7 b", "12(3)(a)(ii)" -> "12 three a two": numbered sub-items as a narrator reads them."""

    def items(match: re.Match[str]) -> str:
        spoken = []
        for index, item in enumerate(_SUB_ITEM.findall(match.group(1))):
            if item.isdigit():
                spoken.append(_cardinal(item))
            elif index and re.fullmatch("[ivx]+", item) and (len(item) > 1 or spoken[-1].isalpha()):
                spoken.append(_cardinal(str(_roman_value(item.upper()))))  # "(a)(ii)": a Roman sub-item
            else:
                spoken.append("ay" if item == "a" else item)  # a lone "a" is read as the article
        return " " + " ".join(spoken)

    return _SUB_ITEMS.sub(items, text)


def _decimal(whole: str, fraction: str) -> str:
    """ "2.5" -> "two point five": the digits after the point are read one by one."""
    return f"{_cardinal(whole)} point " + " ".join(_cardinal(d) for d in fraction)


def _money(match: re.Match[str], shield: _Shield) -> str:
    """ "$2.5 million" -> "two point five million dollars"; the symbol is said after the number."""
    us, symbol, whole, fraction, scale = match.groups()
    before = ""
    if us and us.strip() != "US" and shield.reveal(us.strip()) != "U S":
        before, us = us, None  # a hidden span before the symbol, not the lexicon's "U S"
    amount = _decimal(whole, fraction) if fraction else _cardinal(whole)
    one, many = _CURRENCIES[symbol]
    unit = one if whole == "1" and not fraction and not scale else many
    unit = f"U S {unit}" if us else unit
    return before + (f"{amount} {scale} {unit}" if scale else f"{amount} {unit}")


def _decade(digits: str) -> str:
    """ "nineteen sixties" for 1960, "sixties" for 60."""
    words = _integer(digits)
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _numbers(text: str, shield: _Shield) -> str:
    """Money, percentages, decades, ordinals, ranges, then every remaining number."""
    text = _MONEY.sub(lambda m: _money(m, shield), text)
    text = _MINUS.sub("minus ", text)
    text = _PERCENT.sub(" percent", text)

    def counted(match: re.Match[str]) -> bool:
        # "page 1968", "No. 1968", "1968 km": a count, not a year.
        text, start, end = match.string, match.start(), match.end()
        return (_word_before(text, start, shield) in _COUNT_WORDS or _UNIT.match(_text_after(text, end, shield)) is not None
                or (start > 0 and text[start - 1] in "$£€¥₽"))

    def number_range(match: re.Match[str]) -> str:
        first, second = match.groups()
        count = counted(match)
        # "1968-69" is read in full: "nineteen sixty-eight to nineteen sixty-nine"; so is "pages 112-14".
        plural = _word_before(match.string, match.start(), shield).endswith("s")
        if len(second) < len(first) and (_is_year(first) and not count or count and plural):
            longer = first[:len(first) - len(second)] + second
            if int(longer) > int(first):
                second = longer
        say = _cardinal if count else _integer
        return f"{say(first)} to {say(second)}"

    def number(match: re.Match[str]) -> str:
        whole, fraction = match.groups()
        if fraction is not None:
            return _decimal(whole, fraction)
        return _cardinal(whole) if counted(match) else _integer(whole)

    def ordinal(match: re.Match[str]) -> str:
        digits = match.group(1)
        return _ordinal(int(digits)) if len(digits) <= MAX_NUMBER_DIGITS else _cardinal(digits)

    text = _DECADE_RANGE.sub(lambda m: f"{_decade(m.group(1))} to {_decade(m.group(2))}", text)
    text = _DECADE.sub(lambda m: _decade(m.group(1)), text)
    text = _ORDINAL_RANGE.sub(lambda m: f"{_ordinal(int(m.group(1)))} to {_ordinal(int(m.group(2)))}", text)
    text = _ORDINAL.sub(ordinal, text)
    text = _ROMAN_ORDINAL.sub(lambda m: _ordinal(_roman_value(m.group(1))), text)
    text = _RANGE.sub(number_range, text)
    return _NUMBER.sub(number, text)


def _roman_value(numeral: str) -> int:
    """The value of a Roman numeral; a smaller digit before a larger one subtracts."""
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < nxt else v for v, nxt in zip(values, values[1:] + [0]))


def _roman(text: str, shield: _Shield) -> str:
    """ "World War II" -> "World War two", "Pius XII" -> "Pius the twelfth", "vol. IV" -> "volume four"."""

    def replace(match: re.Match[str]) -> str:
        word, dot, space, numeral = match.groups()
        shown = shield.reveal(word)  # a hidden span: a lexicon replacement such as "volume"
        last = shown.split()[-1] if shown.split() else shown
        sequence = last.capitalize() in _SEQUENCE_WORDS
        # An all-capitals word before it ("USSR II") is more likely an acronym list than a name.
        acronym = len(shown.replace(" ", "")) > 1 and shown.replace(" ", "").isupper()
        if not sequence and (not _is_capital(word[0]) or shown in _STOP_WORDS or acronym):
            return match.group(0)
        value = _roman_value(numeral)
        if not (1 if sequence else 2) <= value <= 39:
            return match.group(0)
        spoken = num2words(value, lang="en") if sequence else f"the {_ordinal(value)}"
        return f"{word}{dot}{space}{spoken}"

    return _ROMAN.sub(replace, text)


def normalize_en(text: str, shield: _Shield | None = None) -> str:
    """English rules: brackets, "&", times, dates, fractions, sub-items, numbers, Roman numerals.

    `shield` hides what must not change (phonemes, lexicon replacements); rules may read through it.
    """
    shield = shield or _Shield()
    for rule in (_brackets, _abbreviations, _times, _dates, _fractions, _sub_items, _numbers, _roman):
        text = rule(text, shield)
    return text


_LANGUAGES: dict[str, Callable[[str, _Shield], str]] = {"en": normalize_en}


# ---------------------------------------------------------------------------------------------
# Entry points.
def supported_languages() -> tuple[str, ...]:
    """Primary language subtags that have rules beyond the language-independent ones."""
    return tuple(sorted(_LANGUAGES))


def _normalize(text: str, language: str, shield: _Shield) -> str:
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


@functools.lru_cache(maxsize=32)
def _merged(default: tuple[LexiconEntry, ...], lexicon: tuple[LexiconEntry, ...]) -> tuple[LexiconEntry, ...]:
    return merge_lexicons(default, lexicon)


def effective_lexicon(language: str, lexicon: tuple[LexiconEntry, ...]) -> tuple[LexiconEntry, ...]:
    """The default table of `language` with `lexicon` (show and episode) over it."""
    return _merged(default_lexicon(language), tuple(lexicon))


def spoken_text(
    text: str, *, language: str, lexicon: tuple[LexiconEntry, ...], phonemes: bool = False
) -> str:
    """What an engine should say for `text`: the default and given lexicons applied, then the text normalised.

    Deterministic: the same text, language, lexicon and default table always give the same result, and
    a cache key (narrate.cache.piece_key) hashes this result, so editing the default table re-renders
    exactly the pieces whose spoken text it changes.
    """
    shield = _Shield()
    # Paragraph numbers go first: "4Gorbachev" would otherwise hide the term from the lexicon.
    text = _strip_paragraph_numbers(_PRIVATE.sub("", text))
    # Phoneme blocks already in the script are hidden so the lexicon cannot rewrite them either.
    text = _PHONEME_BLOCK.sub(lambda m: shield.hide(m.group(0)), text)
    # Replacements are hidden too: the lexicon has the last word on how its terms are said.
    text = apply_lexicon(text, effective_lexicon(language, lexicon), phonemes, mark=shield.hide)
    return _normalize(text, language, shield)
