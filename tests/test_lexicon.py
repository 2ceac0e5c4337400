"""Lexicons: reading them from YAML values, merging show and episode, applying them to text."""
from __future__ import annotations

import pytest

from narrate.lexicon import apply_lexicon, merge_lexicons, parse_lexicon
from narrate.model import LexiconEntry as Entry

HUSAK = Entry("Husák", "HOO-sahk", "h'u:sa:k")
COMRADE_HUSAK = Entry("Comrade Husák", "the General Secretary")
PERESTROIKA = Entry("perestroika", "peh-reh-STROY-kah")
DUBCEK = Entry("Dubček", "DOOB-check")
CHECK = Entry("check", "chek")  # would rewrite DUBCEK's respelling if replacements were rescanned
MLYNAR = Entry("Mlynář", "MLIH-narzh")
PARTYS = Entry("Party's", "PAR-teez")
LEXICON = (HUSAK, COMRADE_HUSAK, PERESTROIKA, DUBCEK, CHECK, MLYNAR, PARTYS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # whole words only, with Unicode word boundaries
        ("Husák was next to me", "HOO-sahk was next to me"),
        ("Husák's speech", "HOO-sahk's speech"),
        ("Husák’s speech", "HOO-sahk’s speech"),
        ("Husák, Bilak and Indra", "HOO-sahk, Bilak and Indra"),
        ("the Husákova street", "the Husákova street"),
        ("Zdenĕk Mlynář, who had been", "Zdenĕk MLIH-narzh, who had been"),
        ("Mlynářová", "Mlynářová"),
        # the longest term wins where two start at the same place
        ("“Comrade Husák and I …”", "“the General Secretary and I …”"),
        ("Comrade\nHusák and I", "the General Secretary and I"),
        # one pass: a respelling is never replaced again
        ("With Dubček everything is clear", "With DOOB-check everything is clear"),
        ("a check on Dubček", "a chek on DOOB-check"),
        # an all-lower-case term matches any case; a capitalised one only as written
        ("Perestroika and our perestroika", "peh-reh-STROY-kah and our peh-reh-STROY-kah"),
        ("PERESTROIKA", "peh-reh-STROY-kah"),
        ("husák and HUSÁK", "husák and HUSÁK"),
        # either apostrophe in the text matches a term written with one
        ("the Party’s Central Committee", "the PAR-teez Central Committee"),
    ],
)
def test_apply_lexicon(text: str, expected: str) -> None:
    assert apply_lexicon(text, LEXICON) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Husák was next to me", "[[h'u:sa:k]] was next to me"),
        # no phonemes for these: the respelling is used
        ("Comrade Husák and I", "the General Secretary and I"),
        ("our perestroika", "our peh-reh-STROY-kah"),
    ],
)
def test_apply_lexicon_phonemes(text: str, expected: str) -> None:
    assert apply_lexicon(text, LEXICON, phonemes=True) == expected


def test_apply_empty_lexicon_changes_nothing() -> None:
    assert apply_lexicon("Husák was next to me", ()) == "Husák was next to me"


def test_merge_episode_overrides_show() -> None:
    show = (HUSAK, PERESTROIKA)
    episode = (Entry("Husák", "HOO-shahk"), DUBCEK)
    merged = merge_lexicons(show, episode)
    assert {e.term: e.say for e in merged} == {
        "Husák": "HOO-shahk", "perestroika": "peh-reh-STROY-kah", "Dubček": "DOOB-check"}
    assert apply_lexicon("Husák and Dubček", merged) == "HOO-shahk and DOOB-check"


SHAPE = "must be a string or a mapping with 'say'/'phonemes' (or a list of such mappings)"


@pytest.mark.parametrize(
    ("raw", "entries", "problems"),
    [
        (None, (), []),
        ({"Husák": "HOO-sahk"}, (Entry("Husák", "HOO-sahk"),), []),
        ({"Husák": {"say": "HOO-sahk", "phonemes": "h'u:sa:k"}},
         (Entry("Husák", "HOO-sahk", "h'u:sa:k"),), []),
        ({"Husák": {"phonemes": "h'u:sa:k"}}, (Entry("Husák", "Husák", "h'u:sa:k"),), []),
        ({"Husák": {"phonemes": "[[h'u:sa:k]]"}}, (Entry("Husák", "Husák", "h'u:sa:k"),), []),
        ({1968: "nineteen sixty-eight"}, (Entry("1968", "nineteen sixty-eight"),), []),
        ({"Husák": ""}, (), ["ep.md: lexicon entry 'Husák' is empty"]),
        ({"Husák": "   "}, (), ["ep.md: lexicon entry 'Husák' is empty"]),
        ({"Husák": None}, (), ["ep.md: lexicon entry 'Husák' is empty"]),
        ({"Husák": {}}, (), ["ep.md: lexicon entry 'Husák' is empty"]),
        ({"Husák": {"say": " "}}, (), ["ep.md: lexicon entry 'Husák' is empty"]),
        ({"": "x"}, (), ["ep.md: lexicon has an empty word; give each entry a word"]),
        ({"  ": "x"}, (), ["ep.md: lexicon has an empty word; give each entry a word"]),
        ({"Husák": 5}, (), [f"ep.md: lexicon entry 'Husák' {SHAPE}"]),
        ({"Husák": ["HOO", "sahk"]}, (), [f"ep.md: lexicon entry 'Husák' {SHAPE}"]),
        ({"Husák": {"say": 5}}, (), [f"ep.md: lexicon entry 'Husák' {SHAPE}"]),
        ({"Husák": {"sey": "HOO-sahk"}}, (),
         [f"ep.md: lexicon entry 'Husák' has unknown key(s) 'sey'; {SHAPE}"]),
        (["Husák"], (), ["ep.md: lexicon must be a mapping of word to respelling"]),
        ("Husák: HOO-sahk", (), ["ep.md: lexicon must be a mapping of word to respelling"]),
        # a bad entry does not hide the good ones
        ({"Husák": "HOO-sahk", "Dubček": ""}, (Entry("Husák", "HOO-sahk"),),
         ["ep.md: lexicon entry 'Dubček' is empty"]),
    ],
)
def test_parse_lexicon(raw: object, entries: tuple[Entry, ...], problems: list[str]) -> None:
    assert parse_lexicon(raw, "ep.md") == (entries, problems)
