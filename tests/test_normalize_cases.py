"""The English normalisation table: every case in tests/data/normalize_cases.yaml, one test each."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from narrate.normalize import normalize

CASES_FILE = Path(__file__).parent / "data" / "normalize_cases.yaml"
TABLE: dict[str, list[list[str]]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
CASES = [pytest.param(written, spoken, id=f"{kind}: {written}")
         for kind, rows in TABLE.items() for written, spoken, *_note in rows]


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_case(written: str, spoken: str) -> None:
    assert normalize(written, "en") == spoken


def test_table_is_large_and_covers_every_class() -> None:
    classes = {"clock time", "date", "day span", "rank or title", "editorial abbreviation",
               "fraction or symbol", "ordinal", "range", "acronym"}
    assert set(TABLE) == classes
    assert all(len(rows) >= 7 for rows in TABLE.values())
    assert len(CASES) >= 150
    # Every row is [written, spoken] or [written, spoken, note], all text.
    assert all(len(row) in (2, 3) and all(isinstance(cell, str) for cell in row)
               for rows in TABLE.values() for row in rows)
