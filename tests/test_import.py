"""`narrate import`: drafts from the shipped source documents, escaping, numbered paragraphs, drafts in
check, build and the feed, and bad input (one line, exit 2, nothing written)."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from narrate.build import BuildOptions, build
from narrate.check import check_scripts
from narrate.cli import main
from narrate.fsutil import TMP_PREFIX, write_new
from narrate.importer import ImportOptions, import_document, script_name
from narrate.importer import draft as draft_module
from narrate.importer.document import Block, Document, find_numbers
from narrate.publish import published_paths
from narrate.script import load_project, split_front_matter
from tests import fake_engine
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "scripts" / "sources"
TODAY = dt.date(2026, 6, 1)
#: The shipped sources, with the first words of their first and last document paragraphs.
SHIPPED = {
    "000_0f2608474ec659c6.txt": ("Esteemed Leonid Ilyich", "[Signed] Alois Indra"),
    "002_ba32598bad248bec.txt": ("1Here Chernyaev captures", "16[Source: Archive"),
}


def _source_paragraphs(name: str, start: str, end: str) -> list[str]:
    """The document's paragraphs read straight from the source file, without narrate: blank-line separated."""
    text = (SOURCES / name).read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    first = next(i for i, p in enumerate(paragraphs) if p.startswith(start))
    last = next(i for i, p in enumerate(paragraphs) if i >= first and p.startswith(end))
    return paragraphs[first:last + 1]


def _show_with_sources(tmp_path: Path) -> Path:
    scripts = write_show(tmp_path / "scripts")
    shutil.copytree(SOURCES, scripts / "sources")
    return scripts


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def _quoted(script: Path) -> list[str]:
    """The document segments of a script, as narrate's own parser reads them."""
    project = load_project(script.parent)
    episode = next(e for e in project.episodes if Path(e.path).name == script.name)
    return [s.text for s in episode.segments if s.role == "document"]


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_source_imports_verbatim_checks_and_builds(name: str, tmp_path: Path) -> None:
    scripts = _show_with_sources(tmp_path)
    start, end = SHIPPED[name]
    result = _invoke("import", str(scripts / "sources" / name), "-o", str(scripts), "--start", start,
                     "--end", end, "--title", "An imported document")
    assert result.exit_code == 0, result.output
    draft = scripts / "002-an-imported-document.md"  # the show holds episode 1: the next free number is 2
    assert f"wrote {draft}" in result.output
    expected = _source_paragraphs(name, start, end)
    assert len(expected) > 5
    quoted = _quoted(draft)
    if draft_module.NUMBERED_LISTS:  # numbered paragraphs are list items: "4. The main outcome" for "4The main…"
        quoted = [re.sub(r"^(\d+)\. ", r"\1", q) for q in quoted]
    # Word for word, in order: every paragraph of the document and nothing else is quoted.
    assert [q.split() for q in quoted] == [p.split() for p in expected]
    assert quoted == expected

    checked = _invoke("check", str(scripts))
    assert checked.exit_code == 0, checked.output
    assert "episode 2 is a draft" in checked.output
    assert [(r.number, r.draft) for r in check_scripts(scripts)] == [(1, False), (2, True)]
    assert "still begins with 'TODO:'" in checked.output

    out = tmp_path / "audio"
    built = _invoke("build", str(scripts), "-o", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert built.exit_code == 0, built.output
    assert "episode 2 is a draft" in built.output
    feed = (out / "feed.xml").read_text(encoding="utf-8")
    mp3 = published_paths(out, "002-an-imported-document")["mp3"]
    assert mp3.stat().st_size > 0 and mp3.name not in feed
    assert published_paths(out, "001-first")["mp3"].name in feed


def test_draft_content_front_matter_and_placeholder(tmp_path: Path) -> None:
    scripts = _show_with_sources(tmp_path)
    start, end = SHIPPED["000_0f2608474ec659c6.txt"]
    result = import_document(SOURCES / "000_0f2608474ec659c6.txt",
                             ImportOptions(scripts_dir=scripts, start=start, end=end, today=dt.date(2026, 12, 2)))
    assert result.path == scripts / "002-000-0f2608474ec659c6.md" and result.episode == 2
    text = result.path.read_text(encoding="utf-8")
    project = load_project(scripts)
    episode = project.episode(2)
    assert episode is not None and episode.draft and episode.release_date == dt.date(2026, 12, 2)
    assert episode.title == "000_0f2608474ec659c6"
    first = episode.chapters[0].segments[0]
    assert first.role == "narrator" and first.text.startswith("TODO: replace this paragraph")
    assert len(episode.chapters) == 1  # a document without headings is one chapter
    assert "[Signed] Alois Indra" in text  # bracketed insertions kept as written, not escaped away
    assert not project.episode(1).draft


def test_document_metadata_goes_into_the_front_matter(tmp_path: Path) -> None:
    page = tmp_path / "letter.html"
    page.write_text("""<html><head><title>Letter to Brezhnev</title><meta name="author" content="Vasil Bilak">
        <meta name="citation_publication_date" content="1968-08-03"></head><body><article>
        <h1>Letter to Brezhnev</h1><p>Esteemed Leonid Ilyich, we write to you in this grave hour of need.</p>
        <p>Conscious of the full responsibility for our decision, we appeal to you with this statement.</p>
        </article></body></html>""", encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(page, ImportOptions(scripts_dir=scripts))
    assert result.path.name == "002-letter-to-brezhnev.md"
    episode = load_project(scripts).episode(2)
    assert episode.document.title == "Letter to Brezhnev"
    assert episode.document.authors == ("Vasil Bilak",)
    assert episode.document.date == "1968-08-03"
    # The document opens with its heading: the placeholder gets a chapter of its own before it.
    assert [c.title for c in episode.chapters] == ["Introduction", "Letter to Brezhnev"]


NASTY = [
    "# not a heading", "## nor this", "1. not a list", "12) nor this", "- a dash", "+ a plus", "* a star",
    "> not a quote", "<b>bold</b> is text here", "<illegible> word", "`code` and ``more``",
    "[a link](http://example.org) and ![an image](x.png)", "[ref]: http://example.org", "[ref] used",
    "&amp; and &#169; and &copy; stay entities", "back\\slash \\* and \\", "*emphasis* _under_ __strong__ snake_case",
    "::: note", "<!-- a comment --> kept", "=== under", "~~~ fence", "``` fence", "a | b | c",
    "ends with a hash #", "<https://example.org> autolink", "http://example.org bare", "[Signed] Alois Indra",
    "[T]here was, footnote¹ and marker [1] and [About]", "Tab\tinside and  two spaces", "\\# escaped already",
    "100. a hundred", "2026-12-02 a date", "{curly} and $dollar$ and ^caret^", "<p>", "x<y and a>b",
    "-- two dashes", "***bold italic***",
]


def test_nasty_paragraphs_round_trip_verbatim(tmp_path: Path) -> None:
    source = tmp_path / "nasty.txt"
    source.write_text("\n\n".join(NASTY) + "\n", encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(source, ImportOptions(scripts_dir=scripts, title="Nasty"))
    assert _quoted(result.path) == [" ".join(p.split()) for p in NASTY]
    checked = _invoke("check", str(scripts))
    assert checked.exit_code == 0, checked.output


def test_nasty_headings_round_trip(tmp_path: Path) -> None:
    headings = ["C# and F#", "*Stars* and _bars_", "1. Numbered", "[Bracketed] heading"]
    source = tmp_path / "headings.txt"
    source.write_text("".join(f"{h}\n{'=' * len(h)}\n\nA paragraph under {i}.\n\n" for i, h in enumerate(headings)),
                      encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(source, ImportOptions(scripts_dir=scripts, title="Headings"))
    episode = load_project(scripts).episode(result.episode)
    assert [c.title for c in episode.chapters] == ["Introduction", *headings]


def test_wordless_paragraphs_become_pauses(tmp_path: Path) -> None:
    source = tmp_path / "breaks.txt"
    source.write_text("First part of the text.\n\n* * *\n\n—\n\nSecond part of the text.\n", encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(source, ImportOptions(scripts_dir=scripts))
    assert _quoted(result.path) == ["First part of the text.", "Second part of the text."]
    assert result.path.read_text(encoding="utf-8").count(draft_module.WORDLESS_PAUSE) == 2
    assert _invoke("check", str(scripts)).exit_code == 0


def _doc(*texts: str) -> Document:
    return Document("x", tuple(Block("paragraph", t) for t in texts))


def test_numbered_paragraphs_are_found_conservatively() -> None:
    glued = find_numbers(_doc("Intro.", "4The main outcome.", "5They called.", "6In Prague.", "1968 was a year."))
    assert [(b.number, b.text) for b in glued.blocks] == [
        (None, "Intro."), (4, "The main outcome."), (5, "They called."), (6, "In Prague."), (None, "1968 was a year.")]
    assert [b.written for b in glued.blocks][1] == "4The main outcome."
    # Two glued numbers are not enough (a paragraph may start with a figure); a gap breaks the run.
    assert all(b.number is None for b in find_numbers(_doc("4The main.", "5They called.")).blocks)
    assert all(b.number is None for b in find_numbers(_doc("1The a.", "2The b.", "4The c.")).blocks)
    spaced = find_numbers(_doc("1. One.", "2. Two.", "1945 ended it."))
    assert [(b.number, b.gap, b.text) for b in spaced.blocks[:2]] == [(1, ". ", "One."), (2, ". ", "Two.")]
    assert spaced.blocks[2].number is None and spaced.blocks[0].written == "1. One."


def _list_items(text: str) -> list[tuple[int, str]]:
    """(number, text) of the ordered-list items inside blockquotes, read with a CommonMark parser."""
    _, body, _ = split_front_matter(text)
    tokens = MarkdownIt("commonmark").parse(body)
    items, depth, number = [], 0, 0
    for i, token in enumerate(tokens):
        if token.type == "blockquote_open":
            depth += 1
        elif token.type == "blockquote_close":
            depth -= 1
        elif token.type == "list_item_open" and depth:
            number = int(token.info)
        elif token.type == "inline" and depth and tokens[i - 2].type == "list_item_open":
            items.append((number, " ".join(child.content for child in token.children if child.type == "text")))
    return items


def test_numbered_paragraphs_are_written_as_list_items(tmp_path: Path) -> None:
    """The glued numbers of source 002 become `> 4. The main outcome…`, the text after each number verbatim."""
    scripts = _show_with_sources(tmp_path)
    name = "002_ba32598bad248bec.txt"
    start, end = SHIPPED[name]
    result = import_document(scripts / "sources" / name, ImportOptions(
        scripts_dir=scripts, start=start, end=end, title="Numbered", numbered_lists=True))
    text = result.path.read_text(encoding="utf-8")
    assert "> 4. The main outcome is the turning point" in text and "> 16. [Source: Archive" in text
    items = _list_items(text)
    assert [n for n, _ in items] == list(range(1, 17))
    assert [f"{n}{t}" for n, t in items] == _source_paragraphs(name, start, end)
    assert result.numbered == 16


@pytest.mark.skipif(not draft_module.NUMBERED_LISTS,
                    reason="runs once the script parser reads numbered lists in a blockquote (branch wt-lists)")
def test_numbered_draft_quotes_verbatim_checks_and_builds(tmp_path: Path) -> None:
    scripts = _show_with_sources(tmp_path)
    name = "002_ba32598bad248bec.txt"
    start, end = SHIPPED[name]
    result = _invoke("import", str(scripts / "sources" / name), "-o", str(scripts), "--start", start, "--end", end,
                     "--title", "Numbered")
    assert result.exit_code == 0, result.output
    draft = scripts / "002-numbered.md"
    assert "> 4. The main outcome" in draft.read_text(encoding="utf-8")
    # Each paragraph keeps its number: "4. The main outcome" where the scraped source glues "4The main outcome".
    quoted = [re.sub(r"^(\d+)\. ", r"\1", q) for q in _quoted(draft)]
    assert quoted == _source_paragraphs(name, start, end)
    assert _invoke("check", str(scripts)).exit_code == 0
    out = tmp_path / "audio"
    built = _invoke("build", str(scripts), "-o", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert built.exit_code == 0, built.output
    assert published_paths(out, "002-numbered")["mp3"].exists()


def test_next_free_number_avoids_scripts_and_published_guids(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    (scripts / "guids.json").write_text('{"episodes": {"7": {"guid": "x", "first_title": "Gone"}}}', encoding="utf-8")
    source = tmp_path / "doc.txt"
    source.write_text("One paragraph of a document.\n", encoding="utf-8")
    assert import_document(source, ImportOptions(scripts_dir=scripts)).episode == 8
    result = _invoke("import", str(source), "-o", str(scripts), "--episode", "7")
    assert result.exit_code == 2 and "episode 7 is already used by a published episode" in result.output


def test_file_name_from_number_and_title() -> None:
    assert script_name(1, "Letter to Brezhnev, 1968") == "001-letter-to-brezhnev-1968.md"
    long = script_name(12, "The Politburo Hears a Report on Gorbachev's Visit to Czechoslovakia in April 1987")
    assert long == "012-the-politburo-hears-a-report-on-gorbachev-s-visit-to.md"


def _bad(tmp_path: Path, *args: str, expect: str) -> None:
    """Bad input: one `error:` line naming the problem, exit 2, and the show folder exactly as it was."""
    before = _listing(tmp_path)
    result = _invoke("import", *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expect in lines[0], lines[0]
    assert _listing(tmp_path) == before


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    text = tmp_path / "doc.txt"
    text.write_text("Esteemed Leonid Ilyich,\n\nConscious of the full responsibility.\n\n[Signed] Indra\n",
                    encoding="utf-8")
    out = ["-o", str(scripts)]
    (tmp_path / "doc.xyz").write_text("text", encoding="utf-8")
    _bad(tmp_path, str(tmp_path / "doc.xyz"), *out, expect="unknown format '.xyz'")
    (tmp_path / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    _bad(tmp_path, str(tmp_path / "old.doc"), *out, expect="save it as .docx")
    (tmp_path / "empty.txt").write_text("  \n\n", encoding="utf-8")
    _bad(tmp_path, str(tmp_path / "empty.txt"), *out, expect="the file is empty")
    (tmp_path / "images.html").write_text('<html><body><img src="a.png"><img src="b.png"></body></html>',
                                          encoding="utf-8")
    _bad(tmp_path, str(tmp_path / "images.html"), *out, expect="no text found")
    _bad(tmp_path, str(tmp_path / "missing.txt"), *out, expect="cannot read file")
    _bad(tmp_path, str(text), *out, "--start", "Esteemed Leonid Brezhnev", expect="--start 'Esteemed Leonid Brezhnev' "
         "matches no paragraph; the closest is 'Esteemed Leonid Ilyich,'")
    _bad(tmp_path, str(text), *out, "--start", "Conscious", "--end", "Esteemed",
         expect="--end 'Esteemed' matches no paragraph after the --start paragraph")
    _bad(tmp_path, str(text), *out, "--end", "[Signd] Indra", expect="the closest is '[Signed] Indra'")
    _bad(tmp_path, str(text), "-o", str(scripts / "001-first.md"), expect="already exists")
    _bad(tmp_path, str(text), *out, "--episode", "1", expect="episode 1 is already used by")
    _bad(tmp_path, str(text), "-o", str(tmp_path / "nowhere" / "x.md"), expect="does not exist")
    _bad(tmp_path, str(text), "-o", str(scripts / "x.txt"), expect="must end in .md")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 society.\n".encode("cp1252"))
    _bad(tmp_path, str(tmp_path / "latin.txt"), *out, expect="latin.txt:1: the file is not UTF-8 (byte 0xe9)")


def test_default_name_taken_is_refused(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    text = tmp_path / "doc.txt"
    text.write_text("A paragraph.\n", encoding="utf-8")
    (scripts / "005-doc.md").write_text("not a script at all", encoding="utf-8")
    _bad(tmp_path, str(text), "-o", str(scripts), "--episode", "5", expect="005-doc.md already exists")


def test_a_missing_extra_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)  # as if not installed: importing it raises ImportError
    (tmp_path / "doc.pdf").write_bytes(b"%PDF-1.4\n")
    _bad(tmp_path, str(tmp_path / "doc.pdf"), "-o", str(tmp_path),
         expect="importing PDF (.pdf) files needs the 'import' extra (pypdf is not installed): "
                "pip install 'narrate[import]'")


def test_write_new_never_replaces_a_file(tmp_path: Path) -> None:
    dest = tmp_path / "003-x.md"
    write_new(dest, b"first")
    with pytest.raises(FileExistsError):
        write_new(dest, b"second")
    assert dest.read_bytes() == b"first"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


DRAFT_TWO = EPISODE_TWO.replace("date: 2026-01-12\n", "date: 2026-01-12\ndraft: true\n")


def test_a_draft_is_built_but_left_out_of_the_feed_until_published(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": EPISODE_ONE, "002-second.md": DRAFT_TWO})
    out = tmp_path / "audio"
    options = BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY)
    with caplog.at_level("INFO", logger="narrate"):
        build(scripts, options)
    logged = caplog.text.replace(str(tmp_path) + "/", "")
    assert "episode 2 is a draft (scripts/002-second.md has 'draft: true')" in logged
    feed = (out / "feed.xml").read_text(encoding="utf-8")
    draft_mp3 = published_paths(out, "002-second")["mp3"]
    assert draft_mp3.exists() and draft_mp3.name not in feed
    assert published_paths(out, "001-first")["mp3"].name in feed
    # Publishing it: the feed names it, and nothing is rendered again.
    (scripts / "002-second.md").write_text(EPISODE_TWO, encoding="utf-8")
    fake_engine.CALLS.clear()
    build(scripts, options)
    assert fake_engine.CALLS == []
    assert published_paths(out, "002-second")["mp3"].name in (out / "feed.xml").read_text(encoding="utf-8")


def test_draft_must_be_true_or_false(tmp_path: Path) -> None:
    script = EPISODE_ONE.replace("episode: 1\n", "episode: 1\ndraft: yes please\n")
    scripts = write_show(tmp_path / "scripts", episodes={"001-first.md": script})
    result = _invoke("check", str(scripts))
    assert result.exit_code == 2
    assert "001-first.md:4: draft must be true or false, not 'yes please'" in result.output


def test_show_yaml_untouched_by_import(tmp_path: Path) -> None:
    scripts = write_show(tmp_path / "scripts")
    source = tmp_path / "doc.txt"
    source.write_text("A paragraph.\n", encoding="utf-8")
    assert _invoke("import", str(source), "-o", str(scripts)).exit_code == 0
    assert (scripts / "show.yaml").read_text(encoding="utf-8") == SHOW_YAML
    assert sorted(p.name for p in scripts.iterdir()) == ["001-first.md", "002-doc.md", "show.yaml"]


def test_control_characters_and_invisible_marks_are_dropped(tmp_path: Path) -> None:
    """A script may not hold control characters: a stray bell or escape in a document is not text to keep."""
    source = tmp_path / "doc.txt"
    source.write_text("Ring\x07 the bell\x1b.\n\nA soft\u00adhyphen and a zero\u200bwidth space.\n", encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(source, ImportOptions(scripts_dir=scripts, title="Bell\x07"))
    assert _quoted(result.path) == ["Ring the bell.", "A softhyphen and a zerowidth space."]
    assert _invoke("check", str(scripts)).exit_code == 0


def test_the_draft_is_proved_before_it_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the light escaping to miss something, the read-back proof catches it: those paragraphs are written
    fully escaped, and the draft still quotes the document exactly."""
    monkeypatch.setattr(draft_module, "escape", lambda text: text)  # no escaping at all
    source = tmp_path / "nasty.txt"
    source.write_text("\n\n".join(NASTY) + "\n", encoding="utf-8")
    scripts = write_show(tmp_path / "scripts")
    result = import_document(source, ImportOptions(scripts_dir=scripts, title="Nasty"))
    assert _quoted(result.path) == [" ".join(p.split()) for p in NASTY]
    text = result.path.read_text(encoding="utf-8")
    assert "> \\[ref\\]\\: http\\:\\/\\/example\\.org" in text  # a link definition would have vanished
    assert "> [Signed] Alois Indra" in text  # a paragraph that reads back as it is stays as it is
