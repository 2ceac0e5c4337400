"""`narrate say --text-only` against `narrate say`: what checking a sentence costs without rendering it.

Prints medians of three runs: the CLI with Python start-up for both, and in-process milliseconds per line
for the text alone (`narrate.say.spoken_line`, which is all `--text-only` does after start-up).
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = "Gen. Pavlovsky left at 7:45 a.m. on 4 Jan. 1957, see vol. 2, pp. 112–14, with Husák."
NARRATE = [sys.executable, "-m", "narrate"]


def _median(run, times: int = 3) -> float:  # noqa: ANN001 - a callable
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    scripts = str(ROOT / "scripts")
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "say.wav")
        text = _median(lambda: subprocess.run([*NARRATE, "say", "--text-only", "--scripts", scripts, LINE],
                                              check=True, capture_output=True))
        audio = _median(lambda: subprocess.run([*NARRATE, "say", "--scripts", scripts, "-o", out, LINE],
                                               check=True, capture_output=True))
    bare = _median(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))

    from narrate.say import spoken_line

    start = time.perf_counter()
    spoken_line(LINE, Path(scripts))
    first = time.perf_counter() - start
    later = _median(lambda: spoken_line(LINE, Path(scripts)), times=20)
    print(f"say --text-only / say (CLI, with start-up): {text:.2f} s / {audio:.2f} s = {text / audio:.2f}")
    print(f"say --text-only / bare Python start-up: {text:.2f} s / {bare:.2f} s = {text / bare:.1f}")
    print(f"in process: first line {first * 1000:.0f} ms (reads the show, compiles the table), "
          f"later lines {later * 1000:.1f} ms")


if __name__ == "__main__":
    main()
