"""End-to-end speed and memory of `narrate build`, against the goals the project set itself.

A standalone script, not part of the test suite. Everything happens in a temporary folder: the shipped
show is copied there first (a build writes guids.json beside the scripts), and the other shows are
generated there from the shipped scripts' sentences, spoken by the show's own pyttsx3 voices.

  1. cold build of the shipped show (the CLI, empty cache and output) against a lower bound (wall seconds,
     and CPU seconds of all processes, which a busy machine does not distort as much): the raw
     engine (one process, Pyttsx3Engine, one call per segment, the same normalised text) plus one
     ffmpeg encode (libmp3lame, the show's bitrate and sample rate) of a WAV as long as the episodes;
  2. a one-paragraph edit in a generated 10-episode show: rebuild time / cold build time;
  3. a no-op rebuild of that show: seconds, through the CLI and in-process (narrate.build.build);
  4. peak memory of building one generated 3-hour episode against its PCM size (--quick: 30 minutes);
  5. linearity: cold builds of episodes of 1000, 2000 and 4000 words.

Prints one table (measure | value | goal | ok?) and, as its last line, the results as JSON.

    python benchmarks/bench_build.py [--quick] [--skip-long] [--repeats N] [--only 1,2,3,4,5] [--phases]

--quick: the long episode is 30 minutes and every measurement is taken once (default: median of 3).
--skip-long: no long episode (measure 4). --phases: after the table, where an in-process cold build
of the shipped show spends its time, stage by stage. Needs ffmpeg (narrate finds its own) and, for
the process-tree memory sum, psutil (else /proc is read directly; Linux only).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHIPPED = ROOT / "scripts"
WORDS_PER_SECOND = 2.5  # of built audio, measured on the shipped show (pauses included)
WORDS_PER_PARAGRAPH = 100
CONNECTIVES = (
    "", "Then,", "Later,", "Meanwhile,", "Indeed,", "In fact,", "Again,", "At the time,", "Even so,", "By then,",
    "Once more,", "Above all,", "In short,", "Still,", "Of course,", "As it happened,", "For a while,",
    "Back then,", "As we know,", "In the end,", "To be sure,", "At first,", "Soon after,", "Put simply,",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Running the CLI


def narrate_cmd() -> list[str]:
    script = Path(sys.executable).with_name("narrate")
    if script.exists():
        return [str(script)]
    found = shutil.which("narrate")
    return [found] if found else [sys.executable, "-m", "narrate"]


@dataclass
class Run:
    seconds: float
    tree_peak_mb: float = 0.0  # sum of RSS over the process and its descendants, sampled
    single_peak_mb: float = 0.0  # wait4's ru_maxrss: the largest single process of the tree, exact
    at_peak: tuple[tuple[str, float], ...] = ()  # (process name, MB) at the sampled peak, largest first
    cpu_s: float = 0.0  # user + system CPU seconds of the process and its waited-for children (wait4)


def _tree_rss(pid: int) -> list[tuple[str, int]]:
    """(name, bytes of RSS) of `pid` and each of its descendants."""
    try:
        import psutil
    except ImportError:
        return _tree_rss_proc(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    found = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            found.append((proc.name(), proc.memory_info().rss))
    return found


def _tree_rss_proc(pid: int) -> list[tuple[str, int]]:
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                names[int(entry)] = stat[stat.index("(") + 1 : stat.rindex(")")]
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {pid}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in tree and p not in tree}
        tree |= more
        grew = bool(more)
    page = os.sysconf("SC_PAGE_SIZE")
    found = []
    for p in tree:
        with contextlib.suppress(OSError, IndexError, ValueError):
            found.append((names.get(p, "?"), int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page))
    return found


def run_cli(args: list[str], cwd: Path, memory: bool = False, interval: float = 0.05) -> Run:
    """Run `narrate ARGS`; wall seconds, and with `memory` the peak RSS of its process tree."""
    cmd = narrate_cmd() + args
    out_log = cwd / f".bench-{time.monotonic_ns()}.log"
    with open(out_log, "wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        peak, at_peak = 0, []
        while True:
            # wait4 (not Popen.wait) so the child's ru_maxrss, which covers its waited-for children, is kept.
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if memory else 0)
            if pid:
                break
            sample = _tree_rss(proc.pid)
            if sum(rss for _, rss in sample) > peak:
                peak, at_peak = sum(rss for _, rss in sample), sample
            time.sleep(interval)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_log.read_text(errors="replace")
    out_log.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-3000:]}")
    at_peak.sort(key=lambda x: -x[1])
    return Run(seconds, peak / 1e6, usage.ru_maxrss * 1024 / 1e6, tuple((n, round(b / 1e6)) for n, b in at_peak),
               usage.ru_utime + usage.ru_stime)


def build_cli(scripts: Path, out: Path, cache: Path, memory: bool = False) -> Run:
    return run_cli(["-q", "build", str(scripts), "-o", str(out), "--cache-dir", str(cache)], scripts.parent, memory)


def fresh_copy_of_shipped(dest: Path) -> Path:
    scripts = dest / "scripts"
    shutil.copytree(SHIPPED, scripts, ignore=shutil.ignore_patterns("guids.json"))
    return scripts


def built_seconds(out: Path) -> float:
    from narrate.record import load_record

    return sum(r.duration for r in load_record(out).values())


# --------------------------------------------------------------------------------------------------
# Generated shows: the shipped scripts' sentences in other orders, under other connectives


def sentence_pool() -> list[str]:
    """Sentences (5 words or more) of the shipped episodes, minus any that Markdown could misread."""
    from sentencex import segment

    from narrate.script import load_project

    seen: dict[str, None] = {}
    for episode in load_project(SHIPPED).episodes:
        for seg in episode.segments:
            for sentence in segment("en", seg.text):
                sentence = sentence.strip()
                if (len(sentence.split()) >= 5 and not re.search(r"[<>`*_|#\[\]]", sentence)
                        and not sentence[0].isdigit()):
                    seen.setdefault(sentence)
    return list(seen)


class Dealer:
    """Hands out sentences: all different (a connective before each) or, with `repeat`, the pool over again."""

    def __init__(self, pool: list[str], seed: int, repeat: bool = False) -> None:
        self.rng = random.Random(seed)
        self.pool, self.repeat = pool, repeat
        self.deck: list[str] = []
        if not repeat:
            self.deck = [f"{c} {s}".strip() for c in CONNECTIVES for s in pool]
            self.rng.shuffle(self.deck)

    def next(self) -> str:
        if not self.deck:
            if not self.repeat:
                raise RuntimeError("out of distinct sentences; add connectives")
            self.deck = list(self.pool)
            self.rng.shuffle(self.deck)
        return self.deck.pop()

    def put_back(self, sentence: str) -> None:
        self.deck.append(sentence)


@dataclass
class Para:
    role: str  # narrator, document, note
    sentences: list[str]


ROLE_PATTERNS = (("narrator", "narrator", "narrator"), ("narrator", "document", "document"),
                 ("narrator", "note", "narrator"))


def make_episode(words: int, dealer: Dealer) -> list[tuple[str, list[Para]]]:
    """Chapters of three paragraphs of about WORDS_PER_PARAGRAPH words, narrator, document and note voices."""
    paragraphs = max(3, round(words / WORDS_PER_PARAGRAPH))
    chapters: list[tuple[str, list[Para]]] = []
    total = 0
    for i in range(paragraphs):
        if i % 3 == 0:
            chapters.append((f"Part {len(chapters) + 1}", []))
        role = ROLE_PATTERNS[(i // 3) % 3][i % 3]
        sentences = [dealer.next()]
        total += len(sentences[0].split())
        # Aim at the running total, so the episode as a whole ends within half a sentence of `words`.
        while True:
            sentence = dealer.next() if total < words * (i + 1) / paragraphs else None
            if sentence is None:
                break
            if total + len(sentence.split()) / 2 > words * (i + 1) / paragraphs:
                dealer.put_back(sentence)
                break
            sentences.append(sentence)
            total += len(sentence.split())
        chapters[-1][1].append(Para(role, sentences))
    return chapters


def episode_words(chapters: list[tuple[str, list[Para]]]) -> int:
    return sum(len(s.split()) for _, paras in chapters for p in paras for s in p.sentences)


def write_episode(path: Path, number: int, chapters: list[tuple[str, list[Para]]]) -> None:
    date = dt.date(2026, 1, 1) + dt.timedelta(days=7 * number)
    lines = ["---", f'title: "Generated episode {number}"', f"episode: {number}", f"date: {date.isoformat()}",
             "summary: A generated episode for benchmarking narrate.", "---", ""]
    for title, paras in chapters:
        lines += [f"# {title}", ""]
        for para in paras:
            text = " ".join(para.sentences)
            if para.role == "document":
                lines += [f"> {text}", ""]
            elif para.role == "note":
                lines += ["::: note", text, ":::", ""]
            else:
                lines += [text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def new_show(dest: Path) -> Path:
    """A scripts folder with the shipped show.yaml (and anything else it refers to) and no episodes."""
    scripts = fresh_copy_of_shipped(dest)
    for md in scripts.glob("*.md"):
        md.unlink()
    return scripts


# --------------------------------------------------------------------------------------------------
# 1. The lower bound: the raw engine, then one encode


def raw_synth_main(scripts: Path, wav_dir: Path, result: Path) -> None:
    """(Child process.) Speak each segment's normalised text with Pyttsx3Engine, serially; write timings."""
    t0 = time.perf_counter()
    from narrate.engines.pyttsx3_engine import Pyttsx3Engine

    engine = Pyttsx3Engine()
    init = time.perf_counter() - t0
    from narrate.plan import EngineInfo, plan_episode
    from narrate.script import load_project
    from narrate.voices import prepare_engines

    project = load_project(scripts)
    info = EngineInfo(prepare_engines(project))
    segments: list[tuple[object, object, list[str]]] = []
    for episode in project.episodes:
        for piece in plan_episode(project.show, episode, info).pieces:
            if segments and segments[-1][0] == piece.location and segments[-1][1] == piece.voice:
                segments[-1][2].append(piece.spoken)
            else:
                segments.append((piece.location, piece.voice, [piece.spoken]))
    wavs = []
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - pyttsx3 prints a line per file
    t0 = time.perf_counter()
    for i, (_, voice, spoken) in enumerate(segments):
        wav = wav_dir / f"{i:04d}.wav"
        engine.render(" ".join(spoken), voice, wav)
        wavs.append(str(wav))
    synth = time.perf_counter() - t0
    words = sum(len(" ".join(s).split()) for _, _, s in segments)
    result.write_text(json.dumps({"init": init, "synth": synth, "segments": len(segments), "words": words,
                                  "wavs": wavs}))


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def lower_bound(scripts: Path, work: Path, total_seconds: float) -> dict:
    """Seconds for the raw engine plus one encode of a WAV `total_seconds` long (the raw WAVs, padded)."""
    from narrate.audio import find_ffmpeg
    from narrate.script import load_project

    audio = load_project(scripts).show.audio
    wav_dir = work / "raw"
    wav_dir.mkdir(parents=True)
    result = work / "raw.json"
    before = _children_cpu()
    subprocess.run([sys.executable, __file__, "--raw-synth", str(scripts), str(wav_dir), str(result)], check=True,
                   stdin=subprocess.DEVNULL)
    raw = json.loads(result.read_text())
    synth_cpu = _children_cpu() - before
    joined = work / "joined.wav"
    written = 0
    with wave.open(str(joined), "wb") as out:
        for i, name in enumerate(raw["wavs"]):
            with wave.open(name, "rb") as w:
                assert w.getnchannels() == 1 and w.getsampwidth() == 2, "espeak writes mono 16-bit"
                if i == 0:
                    out.setparams(w.getparams())
                    rate = w.getframerate()
                frames = w.readframes(w.getnframes())
            want = round(total_seconds * rate) - written
            frames = frames[: 2 * max(want, 0)]
            out.writeframes(frames)
            written += len(frames) // 2
        pad = round(total_seconds * rate) - written
        out.writeframes(b"\0\0" * max(pad, 0))
    raw_seconds = (written) / rate
    t0 = time.perf_counter()
    before = _children_cpu()
    subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-y", "-v", "error", "-i", str(joined),
                    "-ar", str(audio.sample_rate), "-ac", str(audio.channels), "-c:a", "libmp3lame",
                    "-b:a", audio.bitrate, "-f", "mp3", str(work / "joined.mp3")], check=True)
    encode = time.perf_counter() - t0
    encode_cpu = _children_cpu() - before
    return {"synth": raw["init"] + raw["synth"], "encode": encode, "total": raw["init"] + raw["synth"] + encode,
            "cpu": synth_cpu + encode_cpu,
            "segments": raw["segments"], "words": raw["words"], "raw_audio_s": raw_seconds}


def bench_shipped(tmp: Path, repeats: int) -> dict:
    builds, bounds, cpus = [], [], []
    for i in range(repeats):
        work = tmp / f"shipped-{i}"
        work.mkdir()
        scripts = fresh_copy_of_shipped(work)
        log(f"1. shipped show: cold build {i + 1}/{repeats}")
        run = build_cli(scripts, work / "out", work / "cache")
        builds.append(run.seconds)
        cpus.append(run.cpu_s)
        total = built_seconds(work / "out")
        log(f"1. shipped show: lower bound {i + 1}/{repeats}")
        bounds.append(lower_bound(scripts, work / "bound", total))
        shutil.rmtree(work)
    build = statistics.median(builds)
    bound = statistics.median(b["total"] for b in bounds)
    build_cpu = statistics.median(cpus)
    bound_cpu = statistics.median(b["cpu"] for b in bounds)
    ratios = [b / d["total"] for b, d in zip(builds, bounds)]  # each build against its own run's bound
    return {"build_s": build, "builds_s": builds, "lower_bound_s": bound, "ratios": ratios,
            "build_cpu_s": build_cpu, "lower_bound_cpu_s": bound_cpu, "cpu_ratio": build_cpu / bound_cpu,
            "synth_s": statistics.median(b["synth"] for b in bounds),
            "encode_s": statistics.median(b["encode"] for b in bounds),
            "ratio": build / bound, "audio_s": total, "words": bounds[0]["words"], "segments": bounds[0]["segments"]}


# --------------------------------------------------------------------------------------------------
# 2 and 3. A 10-episode show: cold, a one-paragraph edit, a no-op


def bench_ten(tmp: Path, pool: list[str], repeats: int) -> dict:
    work = tmp / "ten"
    work.mkdir()
    scripts = new_show(work)
    dealer = Dealer(pool, seed=10)
    episodes = {n: make_episode(1200, dealer) for n in range(1, 11)}
    for n, chapters in episodes.items():
        write_episode(scripts / f"{n:03d}-generated.md", n, chapters)
    words = sum(episode_words(c) for c in episodes.values())
    out, cache = work / "out", work / "cache"
    log(f"2. 10-episode show ({words} words): cold build")
    cold = build_cli(scripts, out, cache).seconds
    audio = built_seconds(out)
    edits = []
    for i in range(repeats):
        number = (1 + 3 * i) % 10 + 1  # episodes 2, 5, 8, ...
        chapters = episodes[number]
        para = chapters[1][1][0]  # first paragraph of the second chapter (narrator)
        para.sentences[1] = dealer.next()
        write_episode(scripts / f"{number:03d}-generated.md", number, chapters)
        log(f"2. one-paragraph edit in episode {number}: rebuild {i + 1}/{repeats}")
        edits.append(build_cli(scripts, out, cache).seconds)
    edit = statistics.median(edits)
    noop_runs = max(5, repeats)
    log(f"3. no-op rebuild x{noop_runs}: CLI, then in-process")
    cli = [build_cli(scripts, out, cache).seconds for _ in range(noop_runs)]
    from narrate.build import BuildOptions, build

    options = BuildOptions(output=out, cache_dir=cache)
    inproc = []
    for _ in range(noop_runs):
        t0 = time.perf_counter()
        report = build(scripts, options)
        inproc.append(time.perf_counter() - t0)
        assert report.rendered == 0 and all(o.action == "unchanged" for o in report.outcomes), report.to_json()
    shutil.rmtree(work)
    return {"words": words, "audio_s": audio, "cold_s": cold, "edit_s": edit, "edits_s": edits, "ratio": edit / cold,
            "noop_cli_s": statistics.median(cli), "noop_cli_runs_s": cli,
            "noop_inproc_s": statistics.median(inproc), "noop_inproc_runs_s": inproc}


# --------------------------------------------------------------------------------------------------
# 4. Memory of a long episode


def bench_long(tmp: Path, pool: list[str], hours: float) -> dict:
    work = tmp / "long"
    work.mkdir()
    scripts = new_show(work)
    chapters = make_episode(round(hours * 3600 * WORDS_PER_SECOND), Dealer(pool, seed=4, repeat=True))
    write_episode(scripts / "001-long.md", 1, chapters)
    log(f"4. {hours:g} h episode ({episode_words(chapters)} words, {len(pool)} distinct sentences): "
        "cold build, polling memory every 50 ms")
    run = build_cli(scripts, work / "out", work / "cache", memory=True)
    audio = built_seconds(work / "out")
    from narrate.script import load_project

    rate = load_project(scripts).show.audio.sample_rate
    pcm_mb = audio * rate * 2 / 1e6
    shutil.rmtree(work)
    return {"hours": hours, "audio_s": audio, "build_s": run.seconds, "tree_peak_mb": run.tree_peak_mb,
            "single_peak_mb": run.single_peak_mb, "at_peak_mb": run.at_peak, "pcm_mb": pcm_mb,
            "ratio": run.tree_peak_mb / pcm_mb,
            "limit_mb": 2 * pcm_mb + 200, "ok": run.tree_peak_mb < 2 * pcm_mb + 200}


# --------------------------------------------------------------------------------------------------
# 5. Linearity


def bench_linear(tmp: Path, pool: list[str], repeats: int) -> dict:
    sizes = (1000, 2000, 4000)
    times: dict[int, list[float]] = {n: [] for n in sizes}
    audio: dict[int, float] = {}
    for i in range(repeats):
        for n in sizes:
            work = tmp / f"linear-{n}-{i}"
            work.mkdir()
            scripts = new_show(work)
            write_episode(scripts / "001-linear.md", 1, make_episode(n, Dealer(pool, seed=n)))
            log(f"5. linearity: {n} words, cold build {i + 1}/{repeats}")
            times[n].append(build_cli(scripts, work / "out", work / "cache").seconds)
            audio[n] = built_seconds(work / "out")
            shutil.rmtree(work)
    t1, t2, t4 = (statistics.median(times[n]) for n in sizes)
    return {"t1_s": t1, "t2_s": t2, "t4_s": t4, "runs_s": {str(k): v for k, v in times.items()},
            "audio_s": {str(k): v for k, v in audio.items()}, "r2": t2 / t1, "r4": t4 / t1,
            "dev2": t2 / t1 / 2 - 1, "dev4": t4 / t1 / 4 - 1, "marginal": (t4 - t2) / (t2 - t1)}


# --------------------------------------------------------------------------------------------------
# Optional: where an in-process cold build of the shipped show spends its time


def bench_phases(tmp: Path) -> list[tuple[str, int, float]]:
    import functools
    import threading

    import narrate.audio as audio_mod
    import narrate.build as build_mod
    import narrate.episode as episode_mod

    stats: dict[str, list] = {}
    lock = threading.Lock()
    originals = []

    def wrap(module: object, name: str) -> None:
        original = getattr(module, name)
        originals.append((module, name, original))

        @functools.wraps(original)
        def timed(*args: object, **kwargs: object) -> object:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    entry = stats.setdefault(f"{module.__name__.split('.')[-1]}.{name}", [0, 0.0])
                    entry[0] += 1
                    entry[1] += time.perf_counter() - t0

        setattr(module, name, timed)

    for name in ("validate_project", "plan_episode", "render_jobs", "_tag", "publish"):
        wrap(build_mod, name)
    for name in ("assemble", "encode_mp3"):
        wrap(episode_mod, name)
    for name in ("loudness_gain", "measure_loudness", "_encoded_loudness", "run_ffmpeg"):
        wrap(audio_mod, name)
    work = tmp / "phases"
    work.mkdir()
    scripts = fresh_copy_of_shipped(work)
    log("phases: in-process cold build of the shipped show")
    t0 = time.perf_counter()
    try:
        build_mod.build(scripts, build_mod.BuildOptions(output=work / "out", cache_dir=work / "cache"))
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    total = time.perf_counter() - t0
    shutil.rmtree(work)
    return [("build (wall)", 1, total)] + [(k, v[0], v[1]) for k, v in stats.items()]


# --------------------------------------------------------------------------------------------------
# The table


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    head = ("measure", "value", "goal", "ok?")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "-+-".join("-" * w for w in widths)

    def fmt(r: tuple[str, ...]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

    print(fmt(head))
    print(line)
    for r in rows:
        print(line if r == ("-", "-", "-", "-") else fmt(r))


def rounded(value: object) -> object:
    """Floats to 4 decimals, all the way down, for the JSON line."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="30-minute long episode; each measurement once")
    parser.add_argument("--skip-long", action="store_true", help="skip the long-episode memory measurement")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measurement (default 3, --quick 1)")
    parser.add_argument("--only", default="1,2,3,4,5", help="measurements to run, e.g. 1,3 (3 needs 2)")
    parser.add_argument("--phases", action="store_true", help="also show where a cold build spends its time")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--raw-synth", nargs=3, metavar=("SCRIPTS", "WAV_DIR", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_synth:
        raw_synth_main(*(Path(a) for a in args.raw_synth))
        return
    repeats = args.repeats or (1 if args.quick else 3)
    only = {int(x) for x in args.only.split(",") if x.strip()}
    if args.skip_long:
        only.discard(4)
    if 3 in only:
        only.add(2)
    hours = 0.5 if args.quick else 3.0
    tmp = Path(tempfile.mkdtemp(prefix="narrate-bench-"))
    log(f"working in {tmp}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; repeats {repeats}")
    started = time.perf_counter()
    results: dict = {"repeats": repeats, "quick": args.quick, "cores": os.cpu_count()}
    rows: list[tuple[str, str, str, str]] = []
    n = f"median of {repeats}" if repeats > 1 else "1 run"
    try:
        pool = sentence_pool()
        if 1 in only:
            r = results["shipped"] = bench_shipped(tmp, repeats)
            rows += [
                (f"1. shipped show ({r['words']} words, {r['audio_s'] / 60:.1f} min): cold build, CLI ({n})",
                 f"{r['build_s']:.2f} s", "", ""),
                (f"   lower bound: raw pyttsx3, {r['segments']} calls, 1 process + 1 ffmpeg encode",
                 f"{r['lower_bound_s']:.2f} s ({r['synth_s']:.2f} + {r['encode_s']:.2f})", "", ""),
                ("   ratio build / lower bound", f"{r['ratio']:.2f}", "<= 1.0", yes(r["ratio"] <= 1.0)),
                ("   CPU seconds (all processes): build / lower bound",
                 f"{r['build_cpu_s']:.2f} / {r['lower_bound_cpu_s']:.2f} = {r['cpu_ratio']:.2f}", "", ""),
                ("-", "-", "-", "-"),
            ]
        if 2 in only:
            r = results["ten"] = bench_ten(tmp, pool, repeats)
            rows += [
                (f"2. 10-episode show ({r['words']} words, {r['audio_s'] / 60:.0f} min): cold build (1 run)",
                 f"{r['cold_s']:.2f} s", "", ""),
                (f"   one-paragraph edit: rebuild ({n})", f"{r['edit_s']:.2f} s", "", ""),
                ("   ratio rebuild / cold", f"{r['ratio']:.3f}", "<= 0.15", yes(r["ratio"] <= 0.15)),
                ("-", "-", "-", "-"),
                ("3. no-op rebuild, CLI (Python start-up included, median of 5)", f"{r['noop_cli_s']:.2f} s",
                 "< 1 s", yes(r["noop_cli_s"] < 1)),
                ("   no-op rebuild, in-process narrate.build.build (median of 5)", f"{r['noop_inproc_s']:.2f} s",
                 "< 1 s", yes(r["noop_inproc_s"] < 1)),
                ("-", "-", "-", "-"),
            ]
        if 4 in only:
            r = results["long"] = bench_long(tmp, pool, hours)
            rows += [
                (f"4. {hours:g} h episode ({r['audio_s'] / 3600:.2f} h of audio): cold build time (1 run)",
                 f"{r['build_s']:.1f} s", "", ""),
                ("   peak RSS, process tree sum (sampled every 50 ms)",
                 f"{r['tree_peak_mb']:.0f} MB = " + " + ".join(str(mb) for _, mb in r["at_peak_mb"]),
                 f"< {r['limit_mb']:.0f} MB", yes(r["ok"])),
                ("   peak RSS, largest single process (wait4 ru_maxrss)", f"{r['single_peak_mb']:.0f} MB", "", ""),
                ("   PCM size (output rate, 16-bit mono)", f"{r['pcm_mb']:.0f} MB", "", ""),
                ("   ratio peak (tree) / PCM", f"{r['ratio']:.3f}", "< 2 x PCM + 200 MB", yes(r["ok"])),
                ("-", "-", "-", "-"),
            ]
        if 5 in only:
            r = results["linear"] = bench_linear(tmp, pool, repeats)
            rows += [
                (f"5. linearity: cold build of 1000 / 2000 / 4000 words ({n})",
                 f"{r['t1_s']:.2f} / {r['t2_s']:.2f} / {r['t4_s']:.2f} s", "", ""),
                ("   t2 / t1", f"{r['r2']:.2f} ({r['dev2']:+.0%} vs 2)", "2 +- 10%", yes(abs(r["dev2"]) <= 0.10)),
                ("   t4 / t1", f"{r['r4']:.2f} ({r['dev4']:+.0%} vs 4)", "4 +- 10%", yes(abs(r["dev4"]) <= 0.10)),
                ("   marginal (t4 - t2) / (t2 - t1): fixed costs cancel out", f"{r['marginal']:.2f}",
                 "2 +- 10%", yes(abs(r["marginal"] / 2 - 1) <= 0.10)),
                ("-", "-", "-", "-"),
            ]
        phases = bench_phases(tmp) if args.phases else None
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    while rows and rows[-1] == ("-", "-", "-", "-"):
        rows.pop()
    print()
    print_table(rows)
    print(f"\n(whole run: {results['seconds']:.0f} s on {os.cpu_count()} cores)")
    if phases:
        results["phases"] = {name: [count, seconds] for name, count, seconds in phases}
        print("\nwhere an in-process cold build of the shipped show spends its time (threads overlap):")
        for name, count, seconds in phases:
            print(f"  {name:28s} {count:4d} call{'s' if count != 1 else ' '} {seconds:7.2f} s")
    print(json.dumps(rounded(results)))


if __name__ == "__main__":
    main()
