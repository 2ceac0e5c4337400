"""The build record carries the typed DocumentInfo, and reads and writes the same JSON as before."""
from __future__ import annotations

import json
from pathlib import Path

from narrate.model import DocumentInfo
from narrate.record import RECORD_NAME, EpisodeRecord, document_info, load_record, save_record

# One episode as a build before DocumentInfo was carried through the record wrote it.
OLD_ENTRY = {
    "number": 1, "slug": "001-a", "script": "scripts/001-a.md", "title": "A", "summary": "S",
    "release_date": "2026-01-05", "episode_type": "full", "file": "001-a.0123456789.mp3", "size": 10,
    "duration": 1.5, "audio_key": "k", "tag_key": "t",
    "chapters": [{"title": "One", "start": 0.0, "end": 1.5}],
    "cues": [{"start": 0.0, "end": 1.5, "text": "Hello.", "role": "narrator"}],
    "document": {"title": "A letter", "authors": ["Alois Indra", "Vasil Bilak"], "date": "August 1968",
                 "translator": "Mark Kramer", "source": "CWIHP", "url": "https://example.org/doc", "rights": "©"},
    "voices": ["fake low"], "image": "", "link": "", "loudness": -16.0, "true_peak": -1.5,
    "sidecars": {"vtt": "001-a.0123456789.vtt"},
}


def test_an_old_record_loads_typed_and_is_written_back_byte_for_byte(tmp_path: Path) -> None:
    text = json.dumps({"version": 1, "episodes": {"001-a": OLD_ENTRY}}, indent=1, ensure_ascii=False) + "\n"
    (tmp_path / RECORD_NAME).write_text(text, encoding="utf-8")
    record = load_record(tmp_path)["001-a"]
    assert record.document == DocumentInfo(title="A letter", authors=("Alois Indra", "Vasil Bilak"),
                                           date="August 1968", translator="Mark Kramer", source="CWIHP",
                                           url="https://example.org/doc", rights="©")
    (tmp_path / RECORD_NAME).unlink()
    assert save_record(tmp_path, {"001-a": record})
    assert (tmp_path / RECORD_NAME).read_text(encoding="utf-8") == text


def test_document_from_json_is_lenient_as_the_feed_was() -> None:
    assert document_info({}) == DocumentInfo()
    assert document_info({"authors": "  Jan Novák ", "title": None, "extra": "ignored"}) == \
        DocumentInfo(authors=("Jan Novák",))
    assert document_info({"authors": ["A", " ", "B "]}).authors == ("A", "B")
    entry = {**OLD_ENTRY, "document": {"title": "T"}}
    assert EpisodeRecord.from_json(entry).document == DocumentInfo(title="T")
    assert EpisodeRecord.from_json({k: v for k, v in OLD_ENTRY.items() if k != "document"}).document == DocumentInfo()


def test_a_record_given_a_mapping_holds_a_document_info() -> None:
    values = EpisodeRecord.from_json(OLD_ENTRY).__dict__ | {"document": {"title": "T", "authors": ["X"]}}
    assert EpisodeRecord(**values).document == DocumentInfo(title="T", authors=("X",))


def test_a_damaged_document_means_a_fresh_build(tmp_path: Path) -> None:
    entry = {**OLD_ENTRY, "document": ["not", "a", "mapping"]}
    (tmp_path / RECORD_NAME).write_text(json.dumps({"version": 1, "episodes": {"001-a": entry}}), encoding="utf-8")
    assert load_record(tmp_path) == {}
