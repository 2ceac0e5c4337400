"""The one set of time formatters: chapter and cue clocks, durations for tables, the clock reader."""
from __future__ import annotations

import pytest

from narrate.timefmt import clock, duration, ms_clock, parse_clock, to_ms


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "00:00:00.000"), (95.25, "00:01:35.250"), (3725.1234, "01:02:05.123"), (3725.5, "01:02:05.500"),
    (59.9996, "00:01:00.000"), (-1, "00:00:00.000"), (360000, "100:00:00.000"),
])
def test_clock_is_zero_padded_with_milliseconds(seconds: float, text: str) -> None:
    assert clock(seconds) == text
    assert clock(seconds, ",") == text.replace(".", ",")
    assert ms_clock(to_ms(seconds)) == text


def test_to_ms_rounds_and_never_goes_below_zero() -> None:
    assert [to_ms(s) for s in (0.0004, 0.0006, 1.2346, 2.5, -3)] == [0, 1, 1235, 2500, 0]


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:01:35.250", 95.25), ("01:35,250", 95.25), ("1:02:05.5", 3725.5), ("100:00:00.000", 360000),
])
def test_parse_clock(text: str, seconds: float) -> None:
    assert parse_clock(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0:00"), (59.4, "0:59"), (59.6, "1:00"), (123, "2:03"), (3600, "1:00:00"), (3723.2, "1:02:03"),
])
def test_duration_for_people(seconds: float, text: str) -> None:
    assert duration(seconds) == text
