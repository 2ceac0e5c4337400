"""Lexicons: reading them from YAML values, layering default, show and episode, applying them to text."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import narrate
from narrate import lexicon
from narrate.lexicon import apply_lexicon, default_lexicon, fold, holds_sentence, merge_lexicons, parse_lexicon
from narrate.model import LexiconEntry as Entry
from narrate.yamlfile import load_yaml

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


# --- Unicode: composed and decomposed forms, look-alike letters -----------------------------------------
ZDENEK_CARON = Entry("Zdeněk", "ZDEN-yek")  # ě, U+011B, as Czech writes it
ZDENEK_BREVE = Entry("Zdenĕk", "ZDEN-yek")  # ĕ, U+0115, as the shipped source spells it


@pytest.mark.parametrize("entry", [ZDENEK_CARON, ZDENEK_BREVE], ids=["caron entry", "breve entry"])
@pytest.mark.parametrize("written", [
    "Zdene\u030ck Mlynář",  # decomposed caron
    "Zden\u011bk Mlynář",  # precomposed caron
    "Zden\u0115k Mlynář",  # precomposed breve, the shipped source's spelling
    "Zdene\u0306k Mlynář",  # decomposed breve
], ids=["NFD caron", "NFC caron", "NFC breve", "NFD breve"])
def test_a_name_matches_in_every_form_and_look_alike(entry: Entry, written: str) -> None:
    assert apply_lexicon(written, (entry,)) == "ZDEN-yek Mlynář"


@pytest.mark.parametrize(("entry", "written"), [
    (Entry("Mlynář", "MLIH-narzh"), "Mlyna\u0301r\u030c said"),  # an entry typed composed, text decomposed
    (Entry("Mlyna\u0301r\u030c", "MLIH-narzh"), "Mlynář said"),  # and the other way round
    (Entry("Dubček", "DOOB-check"), "Dubč\u0435k said"),  # a Cyrillic е in the text
    (Entry("Party's", "PAR-teez"), "Party\u02bcs said"),  # a modifier-letter apostrophe
    (Entry("Party’s", "PAR-teez"), "Party's said"),  # a curly apostrophe in the entry
])
def test_look_alikes_and_forms(entry: Entry, written: str) -> None:
    assert apply_lexicon(written, (entry,)).endswith(" said")
    assert apply_lexicon(written, (entry,)) == f"{entry.say} said"


@pytest.mark.parametrize("written", [
    "Zdenek Mlynář",  # no mark is not a look-alike: a different name
    "Zdenězk",
    "Zdene\u0301k",  # an acute is not a caron
    "Zdeněk\u0301",  # a mark after the last letter changes that letter: no whole-word match
])
def test_folding_does_not_match_other_words(written: str) -> None:
    assert apply_lexicon(written, (ZDENEK_CARON,)) == written


def test_fold_is_nfc_with_look_alikes_replaced() -> None:
    assert fold("Zdene\u030ck") == fold("Zden\u0115k") == "Zdeněk"
    assert fold("Party’s") == fold("Party's")


def test_a_show_entry_replaces_the_default_whatever_the_spelling() -> None:
    default = (ZDENEK_BREVE, Entry("CPSU", "C P S U"))
    show = (Entry("Zdene\u030ck", "ZDEN-yek the second"),)
    merged = merge_lexicons(default, show)
    assert {e.say for e in merged} == {"ZDEN-yek the second", "C P S U"}


def test_parse_refuses_two_spellings_of_one_term() -> None:
    entries, problems = parse_lexicon({"Zdeněk": "a", "Zdenĕk": "b"}, "show.yaml:3")
    assert entries == (Entry("Zdeněk", "a"),)
    assert problems == ["show.yaml:3: lexicon entry 'Zdenĕk' is the same term as 'Zdeněk' "
                        "(look-alike letters match alike); keep one"]


# --- Variants and conditions ----------------------------------------------------------------------------
ED = (Entry("ed.", "edited by", before="name"), Entry("ed.", "edition", after="number"), Entry("ed.", "editor"))
KM = (Entry("km", "kilometre", after="one"), Entry("km", "kilometres", after="number"))
PAGE = Entry("p.", "page", before="number")
GENERAL = Entry("Gen.", "General", before="name")


@pytest.mark.parametrize(("text", "expected"), [
    ("ed. Smith", "edited by Smith"),
    ("the 2nd ed. of it", "the 2nd edition of it"),
    ("Smith (ed.), Prague", "Smith (editor), Prague"),
    ("1 km", "1 kilometre"),
    ("21 km", "21 kilometres"),
    ("1.5 km", "1.5 kilometres"),
    ("the km of it", "the km of it"),  # no variant holds: left as written
    ("p. 5", "page 5"),
    ("p.5", "page 5"),  # glued to the number: the respelling is a word of its own
    ("John P. Smith", "John P. Smith"),
    ("Gen. Pavlovsky", "General Pavlovsky"),
    ("the Gen. of", "the Gen. of"),
    ("to be a Gen.", "to be a Gen."),
])
def test_variants_hold_where_their_condition_does(text: str, expected: str) -> None:
    assert apply_lexicon(text, ED + KM + (PAGE, GENERAL)) == expected


def test_a_term_ending_a_sentence_keeps_its_full_stop() -> None:
    entries = (Entry("et al.", "and others"), Entry("etc.", "et cetera"))
    assert apply_lexicon("by Kramer et al.", entries) == "by Kramer and others."
    assert apply_lexicon("by Kramer et al. in 1998", entries) == "by Kramer and others in 1998"
    assert apply_lexicon("radio, etc.”", entries) == "radio, et cetera.”"


@pytest.mark.parametrize(("raw", "problem"), [
    ({"Gen.": {"say": "General", "before": "verb"}}, "lexicon entry 'Gen.' has before: 'verb'; use number or name"),
    ({"km": {"say": "kilometres", "after": "name"}}, "lexicon entry 'km' has after: 'name'; use number or one"),
    ({"ed.": []}, "lexicon entry 'ed.' is empty"),
    ({"ed.": ["editor"]}, f"lexicon entry 'ed.' {SHAPE}"),
    ({"ed.": [{"say": "editor", "when": "x"}]}, f"lexicon entry 'ed.' has unknown key(s) 'when'; {SHAPE}"),
])
def test_parse_conditions(raw: object, problem: str) -> None:
    assert parse_lexicon(raw, "show.yaml:4") == ((), [f"show.yaml:4: {problem}"])


def test_parse_variants_and_note() -> None:
    raw = {"ed.": [{"say": "edited by", "before": "name"}, {"say": "editor", "note": "otherwise"}]}
    assert parse_lexicon(raw, "x:1") == ((Entry("ed.", "edited by", before="name"), Entry("ed.", "editor")), [])


def test_a_problem_names_the_line_of_its_entry() -> None:
    raw = load_yaml("lexicon:\n  Husák: Hoo-sahk\n  Dubček: {say: Doob-chek, before: verb}\n  Mlynář:\n", 10)
    _, problems = parse_lexicon(raw["lexicon"], "show.yaml:10")
    assert problems == ["show.yaml:12: lexicon entry 'Dubček' has before: 'verb'; use number or name",
                        "show.yaml:13: lexicon entry 'Mlynář' is empty"]


# --- The shipped default table ---------------------------------------------------------------------------
TABLE_FILE = Path(narrate.__file__).parent / "data" / "lexicon-en.yaml"


def test_the_default_table_is_valid_and_one_entry_a_line() -> None:
    entries = default_lexicon("en")
    lines = [line for line in TABLE_FILE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    # every line holds exactly one whole entry, and the file holds nothing else
    for line in lines:
        raw = load_yaml(line)
        assert isinstance(raw, dict) and len(raw) == 1, line
        assert parse_lexicon(raw, "line:1")[1] == [], line
    assert len({fold(e.term) for e in entries}) == len(lines)
    assert default_lexicon("en-GB") == entries and default_lexicon("cs") == ()


def test_the_default_table_holds_what_the_code_no_longer_does() -> None:
    terms = {e.term for e in default_lexicon("en")}
    assert {"CPSU", "GDR", "NKVD", "ČSSR", "CC", "USSR"} <= terms
    assert {"Gen.", "Lt. Gen.", "Col.", "Maj.", "Capt.", "Adm.", "Sgt.", "Gov.", "Sen.", "Rep.", "Amb.",
            "Prof.", "Rev.", "Fr."} <= terms
    assert {"ca.", "c.", "approx.", "cf.", "viz.", "vol.", "vols.", "ed.", "eds.", "p.", "pp.", "para.",
            "paras.", "fn.", "n.", "ibid.", "op. cit.", "et al.", "no.", "nos.", "§", "§§", "km", "°"} <= terms
    package = Path(narrate.__file__).parent
    for module in package.rglob("*.py"):
        source = module.read_text(encoding="utf-8")
        for acronym in ("CPSU", "NKVD", "ČSSR"):
            assert acronym not in source, module
    for module in ("normalize.py", "normalize_en.py", "lexicon.py"):
        source = (package / module).read_text(encoding="utf-8")
        assert not {"GDR", "Mister", "Professor", "Lieutenant", "circa"} & set(re.findall(r"\w+", source)), module


def test_a_broken_default_table_is_a_packaging_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "lexicon-en.yaml"
    broken.write_text("CPSU: C P S U\nGen.: {say: General, before: verb}\n", encoding="utf-8")
    monkeypatch.setitem(lexicon.DEFAULT_TABLES, "en", str(broken))
    lexicon._load_default.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"lexicon-en.yaml:2: lexicon entry 'Gen.' has before: 'verb'"):
            default_lexicon("en")
    finally:
        monkeypatch.undo()
        lexicon._load_default.cache_clear()


@pytest.mark.parametrize(("sentence", "following", "held"), [
    ("He met Amb.", "Dobrynin there.", True),
    ("It was in vol.", "2, ed. Smith.", True),
    ("See fn.", "12 below.", True),
    ("On 12 Dec.", "The troops came.", False),  # a date's abbreviation may end a sentence
    ("He was a Gen.", "the rest of his life.", False),  # no name follows
    ("by Kramer et al.", "The end.", False),
])
def test_holds_sentence(sentence: str, following: str, held: bool) -> None:
    assert holds_sentence(sentence, following) is held


def test_every_default_term_is_still_found_past_the_first_character_test() -> None:
    """The compiled table starts with a lookahead for the characters a term can start with; it must never turn
    a term away: as written, capitalised when it is a common word, or with a look-alike or decomposed first letter."""
    import unicodedata

    table = default_lexicon("en")
    pattern, _ = lexicon._compile(table)
    for entry in table:
        term = entry.term
        forms = {term, unicodedata.normalize("NFD", term)}
        if term == term.lower():
            forms.add(term[0].upper() + term[1:])
        forms |= {alike + term[1:] for alike in lexicon._GROUP.get(term[0], "")}
        for form in forms:
            found = pattern.search(f"( {form} )")
            assert found is not None and found.start() == 2, (entry.term, form)
    # And a position where no term starts is turned away at once: no match in plain digits.
    assert pattern.search("12345 67890") is None
