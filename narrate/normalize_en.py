"""English normalisation rules: clock times, dates, fractions, numbers, ranges, ordinals, Roman numerals.

Words (titles, editorial abbreviations, acronyms, units) are not here but in the default lexicon,
narrate/data/lexicon-en.yaml, applied before these rules (see narrate.normalize.spoken_text).
"""
from __future__ import annotations

import re
import unicodedata

from num2words import num2words

from narrate.shield import Shield, is_capital

# Numbers are spelled by num2words, never by tables of our own. The lexicon's replacements are hidden
# from these rules; a rule that needs the word before or after a number reads it through the shield
# (`_word_before`, `_text_after`).
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


def _word_before(text: str, start: int, shield: Shield) -> str:
    """The word before `start`, lower case, with hidden spans (lexicon replacements) revealed."""
    match = re.search(r"(\w+)\W*$", shield.reveal(text[max(0, start - 40):start]))
    return match.group(1).lower() if match else ""


def _text_after(text: str, end: int, shield: Shield) -> str:
    """A little of the text after `end`, with hidden spans revealed."""
    return shield.reveal(text[end:end + 24])


def _brackets(text: str, shield: Shield) -> str:
    """Editorial brackets: "[Signed] X" -> "Signed: X", "[T]here" -> "There", "[sic]" dropped."""
    text = _ELISION.sub("...", text)
    text = _SIC.sub("", text)
    text = _REFERENCE.sub("", text)
    text = _LABEL.sub(r"\1:", text)
    return _BRACKET.sub(r"\1", text)


def _abbreviations(text: str, shield: Shield) -> str:
    """What the default lexicon cannot say as a word: "&" between words."""
    return text.replace(" & ", " and ")


def _keeps_stop(text: str, end: int) -> bool:
    """Whether a full stop an abbreviation ate also ended the sentence: nothing, or a new sentence, follows."""
    rest = text[end:]
    return not rest.strip() or re.match(r"\s+[\"']?[A-Z\ue000-\uec7f]", rest) is not None


def _minutes(value: int) -> str:
    """Minutes after the hour as a clock says them: "oh five", "forty-five"."""
    return f"oh {_cardinal(str(value))}" if value < 10 else _cardinal(str(value))


def _times(text: str, shield: Shield) -> str:
    """ "7:45 a.m." -> "seven forty-five a.m.", "19:20" -> "nineteen twenty", "06:00" -> "six o'clock"."""

    def meridiem(match: re.Match[str]) -> str:
        hour, minutes, half, _ = match.groups()
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


def _dates(text: str, shield: Shield) -> str:
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


def _fractions(text: str, shield: Shield) -> str:
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


def _sub_items(text: str, shield: Shield) -> str:
    """ "7(b)" -> "7 b", "12(3)(a)(ii)" -> "12 three ay two": numbered sub-items as a narrator reads them."""

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


def _money(match: re.Match[str], shield: Shield) -> str:
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


def _numbers(text: str, shield: Shield) -> str:
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
        if len(second) < len(first) <= MAX_NUMBER_DIGITS and (_is_year(first) and not count or count and plural):
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


def _roman(text: str, shield: Shield) -> str:
    """ "World War II" -> "World War two", "Pius XII" -> "Pius the twelfth", "vol. IV" -> "volume four"."""

    def replace(match: re.Match[str]) -> str:
        word, dot, space, numeral = match.groups()
        shown = shield.reveal(word)  # a hidden span: a lexicon replacement such as "volume"
        last = shown.split()[-1] if shown.split() else shown
        sequence = last.capitalize() in _SEQUENCE_WORDS
        # An all-capitals word before it ("USSR II") is more likely an acronym list than a name.
        acronym = len(shown.replace(" ", "")) > 1 and shown.replace(" ", "").isupper()
        if not sequence and (not is_capital(word[0]) or shown in _STOP_WORDS or acronym):
            return match.group(0)
        value = _roman_value(numeral)
        # A lone I only after a capitalised or hidden counting word ("World War I", "vol. I"): "in part I think".
        one = sequence and (is_capital(word[0]) or word != shown)
        if not (1 if one else 2) <= value <= 39:
            return match.group(0)
        spoken = num2words(value, lang="en") if sequence else f"the {_ordinal(value)}"
        return f"{word}{dot}{space}{spoken}"

    return _ROMAN.sub(replace, text)


def normalize_en(text: str, shield: Shield | None = None) -> str:
    """English rules: brackets, "&", times, dates, fractions, sub-items, numbers, Roman numerals.

    `shield` hides what must not change (phonemes, lexicon replacements); rules may read through it.
    """
    shield = shield or Shield()
    for rule in (_brackets, _abbreviations, _times, _dates, _fractions, _sub_items, _numbers, _roman):
        text = rule(text, shield)
    return text
