"""Speech normalisation, checked on sentences from the shipped documents and on each rule alone."""
from __future__ import annotations

import pytest

from narrate.model import LexiconEntry
from narrate.normalize import normalize, spoken_text, supported_languages

# Sentences (or parts of them) from the two shipped documents, as written -> as spoken.
DOCUMENT_CASES = [
    ("it helped legitimize the August 20, 1968, invasion.",
     "it helped legitimize the August twentieth, nineteen sixty-eight, invasion."),
    ("4The main outcome is the turning point in the people’s attitude toward the USSR.",
     "The main outcome is the turning point in the people's attitude toward the U S S R."),
    ("16[Source: Archive of the Gorbachev Foundation, Fond 2, Opis 2. On file at the National "
     "Security Archive.]",
     "Source: Archive of the Gorbachev Foundation, Fond two, Opis two. On file at the National "
     "Security Archive."),
    ("[Signed] Alois Indra, Drahomir Kolder, Antonin Kapek",
     "Signed: Alois Indra, Drahomir Kolder, Antonin Kapek"),
    ("13[About] the attitude toward 1968.", "About the attitude toward nineteen sixty-eight."),
    ("We are seeing a similar [phenomenon] in the GDR.",
     "We are seeing a similar phenomenon in the G D R."),
    ("leadership: “[T]here was always awkwardness when we appeared before the public.",
     'leadership: "There was always awkwardness when we appeared before the public.'),
    ("We lived and worked for 20-30 years, but who was in the leadership—nobody knows.",
     "We lived and worked for twenty to thirty years, but who was in the leadership, nobody knows."),
    ("Document No. 11: Notes of CC CPSU Politburo Session.",
     "Document number eleven: Notes of C C C P S U Politburo Session."),
    ("(see Document No. 117).", "(see Document number one hundred and seventeen)."),
    ("Report on Mikhail Gorbachev’s Visit to Czechoslovakia, April 16, 1987",
     "Report on Mikhail Gorbachev's Visit to Czechoslovakia, April sixteenth, nineteen eighty-seven"),
    ("The atmosphere reminds one of May 1945.",
     "The atmosphere reminds one of May nineteen forty-five."),
    ("(published in Pravda on December 19, 1984)",
     "(published in Pravda on December nineteenth, nineteen eighty-four)"),
    ("For example, a January 5, 1990, assessment by the Soviet CC International Department",
     "For example, a January fifth, nineteen ninety, assessment by the Soviet C C International "
     "Department"),
    ("Husák was next to me, but it was as if he wasn’t there.",
     "Husák was next to me, but it was as if he wasn't there."),
    ("a leading figure of the Prague Spring, Zdenĕk Mlynář, who had been",
     "a leading figure of the Prague Spring, Zdenĕk Mlynář, who had been"),
    ("always used the phrase “Comrade Husák and I …” But the people",
     'always used the phrase "Comrade Husák and I..." But the people'),
    ("the control of the Party’s Central Committee.", "the control of the Party's Central Committee."),
    ("Until 1992 this letter was in a sealed folder",
     "Until nineteen ninety-two this letter was in a sealed folder"),
    ("Our collective — the Party leadership — has made a number of mistakes.",
     "Our collective, the Party leadership, has made a number of mistakes."),
    ("With Dubček everything is clear—a betrayal of socialism.",
     "With Dubček everything is clear, a betrayal of socialism."),
    ("They had the right idea then, but the figure—Dubček—was wrong.",
     "They had the right idea then, but the figure, Dubček, was wrong."),
    ("The people chanted ‘Gorbachev, Gorbachev.’", "The people chanted 'Gorbachev, Gorbachev.'"),
    ("Hardliners “Request” Soviet Intervention", 'Hardliners "Request" Soviet Intervention'),
    ("1968 was a year of hope.", "nineteen sixty-eight was a year of hope."),
    ("the Marxist-Leninist norms of party work", "the Marxist-Leninist norms of party work"),
    ("stay here, at least for a year!", "stay here, at least for a year!"),
]

# One rule at a time, on the forms the brief names.
RULE_CASES = [
    ("20 August 1968", "the twentieth of August, nineteen sixty-eight"),
    ("on 21 August the troops", "on the twenty-first of August the troops"),
    ("August 20-21, 1968", "August twentieth to twenty-first, nineteen sixty-eight"),
    ("1968-08-20", "August twentieth, nineteen sixty-eight"),
    ("in 2005", "in two thousand five"),
    ("by 1900", "by nineteen hundred"),
    ("the 1980s", "the nineteen eighties"),
    ("1968-1969", "nineteen sixty-eight to nineteen sixty-nine"),
    ("1968–69", "nineteen sixty-eight to nineteen sixty-nine"),
    ("500 delegates", "five hundred delegates"),
    ("1,200 tanks", "one thousand, two hundred tanks"),
    ("2.5 times", "two point five times"),
    ("the 1st, 3rd and 20th", "the first, third and twentieth"),
    ("50% of members", "fifty percent of members"),
    ("$2.5 million", "two point five million dollars"),
    ("World War II", "World War two"),
    ("Pius XII", "Pius the twelfth"),
    ("Comrade Husák and I", "Comrade Husák and I"),
    ("KGB, NATO and the UN", "K G B, NATO and the U N"),
    ("the ČSSR and the US", "the C S S R and the U S"),
    ("Mr. Brezhnev and Dr. Husák", "Mister Brezhnev and Doctor Husák"),
    ("St. Vitus Cathedral", "Saint Vitus Cathedral"),
    ("e.g. the press, i.e. the radio", "for example the press, that is the radio"),
    ("radio, press, etc.", "radio, press, et cetera."),
    ("the text [sic] is", "the text is"),
    ("he paused . . . then spoke", "he paused... then spoke"),
    ("[[b'3:d]] 3", "[[b'3:d]] three"),
]


@pytest.mark.parametrize(("text", "expected"), DOCUMENT_CASES + RULE_CASES)
def test_normalize_english(text: str, expected: str) -> None:
    assert normalize(text, "en") == expected


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("May 1945", "en-GB", "May nineteen forty-five"),
        ("May 1945", "en_US", "May nineteen forty-five"),
        # No Czech rules yet: numbers stay, but dashes, ellipses and spaces are still tidied.
        ("Zdeněk  — 1968 …", "cs", "Zdeněk, 1968..."),
        ("4Husák a „Dubček“", "cs", 'Husák a "Dubček"'),
    ],
)
def test_normalize_by_language(text: str, language: str, expected: str) -> None:
    assert normalize(text, language) == expected


def test_supported_languages() -> None:
    assert supported_languages() == ("en",)


HUSAK = LexiconEntry("Husák", "HOO-sahk", "h'u:sa:k")
CC = LexiconEntry("CC", "Central Committee")
SOVIET_UNION = LexiconEntry("Soviet Union", "USSR")  # a respelling the rules would spell out
BURDEN = LexiconEntry("Burden", "BUR-den", "b'3:d@n")  # phonemes containing a digit


@pytest.mark.parametrize(
    ("text", "lexicon", "phonemes", "expected"),
    [
        ("Husák was next to me", (HUSAK,), False, "HOO-sahk was next to me"),
        ("Husák was next to me", (HUSAK,), True, "[[h'u:sa:k]] was next to me"),
        ("14Husák was next to me", (HUSAK,), False, "HOO-sahk was next to me"),
        ("Notes of CC CPSU Politburo", (CC,), False, "Notes of Central Committee C P S U Politburo"),
        ("the Soviet Union in 1968", (SOVIET_UNION,), False, "the USSR in nineteen sixty-eight"),
        ("Burden 3", (BURDEN,), True, "[[b'3:d@n]] three"),
        ("Burden 3", (BURDEN,), False, "BUR-den three"),
    ],
)
def test_spoken_text(text: str, lexicon: tuple[LexiconEntry, ...], phonemes: bool,
                     expected: str) -> None:
    assert spoken_text(text, language="en", lexicon=lexicon, phonemes=phonemes) == expected


@pytest.mark.parametrize("text", [
    "9" * 400,  # num2words overflows past 306 digits
    "7" * 5000 + "th",  # int() refuses strings of over 4300 digits
    "$" + "9" * 5000,
    "No. " + "9" * 5000,
    "1" * 5000 + "-" + "2" * 5000,
    "pp. " + "1" * 5000 + "-" + "2" * 40,  # a page range: a short second number is not expanded from this one
    "12 Dec. " + "9" * 5000,
    "3/" + "9" * 5000,
    "7(b)" + "9" * 5000,
])
def test_very_long_numbers_are_read_digit_by_digit(text: str) -> None:
    spoken = normalize(f"It was {text}.", "en")
    assert spoken.startswith("It was ") and spoken.count(" nine") + spoken.count(" seven") + spoken.count(" one") >= 400


def test_numbers_up_to_fifteen_digits_are_read_as_numbers() -> None:
    assert normalize("999999999999999", "en").startswith("nine hundred and ninety-nine trillion")
