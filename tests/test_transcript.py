"""WebVTT and SubRip transcripts and JSON chapters, read back by our own readers and by real parsers."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from narrate.model import SPEAKER_LABELS, ChapterTime, Cue
from narrate.transcript import (
    chapters_json, parse_srt, parse_webvtt, srt, webvtt, wrap_caption,
)

LABELS = {"narrator": "Narrator", "document": "Document", "note": "Editor's note"}
CUES = (
    Cue(0.0, 2.5, "In August 1968 the tanks came.", "narrator"),
    Cue(2.5, 7.25, "We, the undersigned, ask the Central Committee & the government to explain <why> "
                   "the armies of five countries crossed our borders.", "document"),
    Cue(7.25, 9.0, "Letter of 21 August.", "document"),
    Cue(9.5, 12.0004, "The letter was never answered.", "narrator"),
    Cue(12.0, 14.0, "Dubček’s words are quoted as Mlynář remembered them.", "note"),
    Cue(3725.123, 3730.5, "An hour later, Husák spoke.", "narrator"),
)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_webvtt_round_trip() -> None:
    parsed = parse_webvtt(webvtt(CUES, LABELS))
    assert [(round(s, 3), round(e, 3), flat(t)) for s, e, t in parsed] == [
        (round(c.start, 3), round(c.end, 3), flat(c.text)) for c in CUES]


def test_webvtt_layout() -> None:
    text = webvtt(CUES, LABELS)
    assert text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.500\n<v Narrator>In August 1968 the tanks came.\n")
    assert "01:02:05.123 --> 01:02:10.500" in text
    assert "<v Document>" in text and "<v Editor's note>" in text
    assert "Committee &amp; the" in text and "&lt;why&gt;" in text
    assert " & " not in text and "<why>" not in text
    for block in text.split("\n\n")[1:]:
        lines = block.splitlines()
        assert lines[0].isdigit()
        caption = [line.split(">", 1)[1] if line.startswith("<v ") else line for line in lines[2:]]
        caption = [line.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") for line in caption]
        assert all(len(line) <= 42 for line in caption)
        # two lines at most, except for the 108-character cue that cannot fit in two
        assert len(caption) <= 2 or len(flat(" ".join(caption))) > 84
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_webvtt_with_real_parser(tmp_path: Path) -> None:
    webvtt_py = pytest.importorskip("webvtt")
    path = tmp_path / "episode.vtt"
    path.write_text(webvtt(CUES, LABELS), encoding="utf-8")
    captions = list(webvtt_py.read(str(path)))
    assert len(captions) == len(CUES)
    for caption, cue in zip(captions, CUES):
        assert caption.start_in_seconds == int(cue.start)
        assert caption.end_in_seconds == int(cue.end)
        # webvtt-py removes tags but leaves character references as written
        assert flat(html.unescape(caption.text)) == flat(cue.text)
    assert captions[0].voice == "Narrator" and captions[4].voice == "Editor's note"


def test_webvtt_fixes_times_and_order() -> None:
    cues = [Cue(5.0, 6.0, "second", "narrator"), Cue(-0.2, 1.0, "first", "narrator"),
            Cue(8.0, 8.0, "instant", "note"), Cue(9.0, 10.0, "   ", "narrator"), Cue(11.0, 12.0, "last", "robot")]
    text = webvtt(cues, LABELS)
    parsed = parse_webvtt(text)
    assert [t for _, _, t in parsed] == ["first", "second", "instant", "last"]
    assert parsed[0][0] == 0.0 and all(e > s for s, e, _ in parsed)
    assert [s for s, _, _ in parsed] == sorted(s for s, _, _ in parsed)
    assert "\n4\n00:00:11.000" in text and "<v Robot>last" in text


def test_webvtt_default_labels_and_empty() -> None:
    assert "<v Editor's note>x" in webvtt([Cue(0, 1, "x", "note")], {})
    assert webvtt([], LABELS) == "WEBVTT\n"
    assert parse_webvtt(webvtt([], LABELS)) == []
    with pytest.raises(ValueError):
        parse_webvtt("1\n00:00:00,000 --> 00:00:01,000\nhi\n")


@pytest.mark.parametrize(("text", "lines"), [
    ("Short line.", ["Short line."]),
    ("The armies of five countries crossed our borders that night.",
     ["The armies of five countries", "crossed our borders that night."]),
    ("Supercalifragilisticexpialidociousantidisestablishmentarianism",
     ["Supercalifragilisticexpialidociousantidisestablishmentarianism"]),
])
def test_wrap_caption(text: str, lines: list[str]) -> None:
    assert wrap_caption(text) == lines


def test_wrap_caption_long_text_keeps_words() -> None:
    text = " ".join(["word"] * 40)
    lines = wrap_caption(text)
    assert len(lines) > 2 and all(len(line) <= 42 for line in lines) and " ".join(lines) == text


def test_srt_round_trip_and_speakers() -> None:
    text = srt(CUES, LABELS)
    parsed = parse_srt(text)
    assert [(round(s, 3), round(e, 3)) for s, e, _ in parsed] == [(round(c.start, 3), round(c.end, 3)) for c in CUES]
    expected = ["Narrator: In August 1968 the tanks came.",
                "Document: " + flat(CUES[1].text),
                "Letter of 21 August.",  # same speaker as before: no prefix
                "Narrator: The letter was never answered.",
                "Editor's note: " + CUES[4].text,
                "Narrator: An hour later, Husák spoke."]
    assert [flat(t) for _, _, t in parsed] == expected
    assert text.startswith("1\n00:00:00,000 --> 00:00:02,500\nNarrator: In August 1968 the tanks came.\n\n2\n")
    assert "01:02:05,123 --> 01:02:10,500" in text and "\r" not in text
    assert parse_srt("1\n00:00:01,000 --> 00:00:02,000\n<i>Hello</i> <b>there</b>\n") == [(1.0, 2.0, "Hello there")]


def test_srt_with_real_parser() -> None:
    srt_lib = pytest.importorskip("srt")
    subtitles = list(srt_lib.parse(srt(CUES, LABELS)))
    assert [s.index for s in subtitles] == list(range(1, len(CUES) + 1))
    assert [round(s.start.total_seconds(), 3) for s in subtitles] == [round(c.start, 3) for c in CUES]
    assert flat(subtitles[1].content).endswith(flat(CUES[1].text))


def test_chapters_json() -> None:
    chapters = [ChapterTime("Epilogue", 3725.1234, 3730.5), ChapterTime("Prologue", 0.4, 12.0),
                ChapterTime("The Letter", 12.0, 3725.1234)]
    text = chapters_json(chapters, title="Episode 1: Příjezd", url="https://example.com/doc")
    assert text.endswith("}\n") and "Příjezd" in text
    data = json.loads(text)
    assert data["version"] == "1.2.0" and data["title"] == "Episode 1: Příjezd"
    starts = [c["startTime"] for c in data["chapters"]]
    assert starts == [0, 12, 3725.123] and starts == sorted(starts)
    assert [c["title"] for c in data["chapters"]] == ["Prologue", "The Letter", "Epilogue"]
    assert data["chapters"][2]["endTime"] == 3730.5
    assert all(c["url"] == "https://example.com/doc" for c in data["chapters"])
    assert chapters_json(chapters) == chapters_json(list(reversed(chapters)))
    assert json.loads(chapters_json([])) == {"version": "1.2.0", "chapters": []}




def test_transcripts_name_speakers_from_the_one_table_by_default() -> None:
    assert SPEAKER_LABELS == LABELS
    assert webvtt(CUES) == webvtt(CUES, LABELS) and srt(CUES) == srt(CUES, LABELS)
    assert "Field note: " in srt([Cue(0, 1, "Hello.", "field_note")])
