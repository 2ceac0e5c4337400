"""Throughput of Piper: the raw library versus narrate's PiperEngine in two worker processes.

Synthesizes the same ~2000-word English text (sentences of a seed document, repeated)
  (a) with piper directly: one PiperVoice.synthesize call, onnxruntime's default threads;
  (b) through PiperEngine in 2 spawned worker processes, each with NARRATE_PIPER_THREADS=1,
      the text split into paragraph-sized runs of sentences shared out between the workers;
  (c) through narrate's own render stage (the text split into sentence pieces as a build does,
      worker processes, file checks, silence trimming, the cache), start-up included;
and prints each throughput (seconds of audio per second of wall time) and their ratios. Audio in (c)
is counted after trimming, so (c) is compared by wall time for the same text.

    python benchmarks/bench_piper.py [--voice en_US-joe-medium] [--words 2000] [--workers 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEED = ROOT.parent / "shared" / "seeds" / "002_ba32598bad248bec.txt"
if not SEED.exists():
    SEED = Path("/work/shared/seeds/002_ba32598bad248bec.txt")


def sentences_of(path: Path) -> list[str]:
    """Sentences of the seed's prose paragraphs: title lines, footnote numbers and brackets dropped."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        para = re.sub(r"\s+", " ", para).strip()
        if len(para.split()) < 20:
            continue  # headings, author lines
        para = re.sub(r"^\d+(?=[A-Z])", "", para)  # "1Here ..." -> "Here ..."
        para = re.sub(r"\[([^\]]*)\]", r"\1", para)
        for sentence in re.split(r"(?:(?<=[.!?])|(?<=[.!?][”\"’]))\s+(?=[A-Z“\"‘])", para):
            if len(sentence.split()) >= 4:
                out.append(sentence.strip())
    return out


def build_text(words: int) -> list[str]:
    """Sentences, repeated in order, until they hold at least `words` words."""
    base = sentences_of(SEED)
    out: list[str] = []
    count = 0
    while count < words:
        sentence = base[len(out) % len(base)]
        out.append(sentence)
        count += len(sentence.split())
    return out


def paragraphs(sentences: list[str], words: int = 60) -> list[str]:
    """Consecutive sentences grouped into runs of about `words` words, like narrate's segments."""
    out: list[str] = []
    current: list[str] = []
    for sentence in sentences:
        current.append(sentence)
        if sum(len(s.split()) for s in current) >= words:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return out


def voice_files(voice: str) -> tuple[Path, Path]:
    from narrate.engines.piper_engine import PiperEngine

    files = PiperEngine()._files(voice)
    return files.model, files.config


def bench_raw(model: Path, config: Path, text: str) -> tuple[float, float, float]:
    """(seconds of audio, seconds of synthesis, seconds loading) with the piper library alone."""
    from piper import PiperVoice

    start = time.perf_counter()
    voice = PiperVoice.load(model, config_path=config, use_cuda=False)
    loaded = time.perf_counter()
    samples = 0
    for chunk in voice.synthesize(text):
        samples += len(chunk.audio_int16_array)
    done = time.perf_counter()
    return samples / voice.config.sample_rate, done - loaded, loaded - start


# -- worker side of (b) ----------------------------------------------------------------------------

_engine = None
_voice = None
_out_dir = None


def _init(voice: str, out_dir: str) -> None:
    global _engine, _voice, _out_dir
    os.environ["NARRATE_PIPER_THREADS"] = "1"
    from narrate.engines.piper_engine import PiperEngine

    _engine, _voice, _out_dir = PiperEngine(), voice, Path(out_dir)
    _engine.check_voice(voice)  # load the model before the clock starts


def _render(job: tuple[int, str]) -> float:
    from narrate.model import VoiceSpec

    index, text = job
    out = _out_dir / f"{index:04d}.wav"
    _engine.render(text, VoiceSpec("piper", _voice), out)
    with wave.open(str(out), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _ready(_: int) -> int:
    return os.getpid()


def bench_engine(voice: str, chunks: list[str], workers: int) -> tuple[float, float, float]:
    """(seconds of audio, seconds of synthesis, seconds starting workers) through PiperEngine."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        with ctx.Pool(workers, initializer=_init, initargs=(voice, out_dir)) as pool:
            pool.map(_ready, range(workers), chunksize=1)  # every worker up, voice loaded
            ready = time.perf_counter()
            audio = sum(pool.imap_unordered(_render, list(enumerate(chunks)), chunksize=1))
            done = time.perf_counter()
    return audio, done - ready, ready - start


def bench_pipeline(voice: str, chunks: list[str], workers: int) -> tuple[float, float]:
    """(seconds of audio, wall seconds) through narrate's render stage: pieces, workers, checks, cache."""
    os.environ["NARRATE_PIPER_THREADS"] = "1"
    from narrate.cache import Cache, piece_key
    from narrate.engines import engine_targets
    from narrate.model import Location, VoiceSpec
    from narrate.plan import Piece, split_cues
    from narrate.render import render_jobs

    spec = VoiceSpec("piper", voice)
    jobs = [Piece(piece_key(cue, spec, "bench"), cue, cue, spec, "narrator", Location("bench", i))
            for i, chunk in enumerate(chunks) for cue, _ in split_cues(chunk)]
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder))
        start = time.perf_counter()
        failures = render_jobs(jobs, cache, engine_targets(), workers=workers, timeout=300)
        wall = time.perf_counter() - start
        if failures:
            raise SystemExit(f"render failed: {failures[0]}")
        audio = sum(cache.get(job.key).seconds for job in jobs)
    return audio, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default="en_US-joe-medium")
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    sentences = build_text(args.words)
    text = " ".join(sentences)
    chunks = paragraphs(sentences)
    model, config = voice_files(args.voice)
    import onnxruntime
    import piper  # noqa: F401
    from importlib.metadata import version

    print(f"voice {args.voice}: {model}")
    print(
        f"text: {len(text.split())} words, {len(sentences)} sentences, {len(chunks)} segments; "
        f"{os.cpu_count()} cores; piper-tts {version('piper-tts')}, onnxruntime {onnxruntime.__version__}"
    )

    audio_a, wall_a, load_a = bench_raw(model, config, text)
    tput_a = audio_a / wall_a
    print(f"(a) piper direct, default threads: {audio_a:7.1f} s audio in {wall_a:6.1f} s "
          f"-> {tput_a:5.2f} s audio/s (load {load_a:.2f} s)")

    audio_b, wall_b, start_b = bench_engine(args.voice, chunks, args.workers)
    tput_b = audio_b / wall_b
    tput_b_all = audio_b / (wall_b + start_b)
    print(f"(b) PiperEngine, {args.workers} workers x 1 thread: {audio_b:7.1f} s audio in {wall_b:6.1f} s "
          f"-> {tput_b:5.2f} s audio/s (worker start + load {start_b:.2f} s; "
          f"{tput_b_all:.2f} s audio/s counting it)")
    print(f"ratio (b)/(a): {tput_b / tput_a:.2f} ({tput_b_all / tput_a:.2f} counting worker start)")

    audio_c, wall_c = bench_pipeline(args.voice, chunks, args.workers)
    print(f"(c) narrate's render stage (sentence pieces, {args.workers} workers, checks, trimming, cache, "
          f"start-up included): the same text in {wall_c:6.1f} s ({audio_c:.1f} s of speech after trimming)")
    # Same text, so the throughput ratio is the ratio of wall times (trimmed silence is not lost work).
    print(f"ratio (c)/(a), same text: {(wall_a + load_a) / wall_c:.2f}   goal >= 0.9")


if __name__ == "__main__":
    main()
