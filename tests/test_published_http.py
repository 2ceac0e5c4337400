"""`narrate check --published URL` reads a show back from a real nginx (tests/servers.py), as podcast apps do.

A small fake-engine show is built once with its base_url on the server; each test serves a fresh copy,
damaged one way (a file removed, truncated or unreadable, nginx sending a wrong type, no ranges or a feed
cached forever) and the check must fail naming the problem and its rule; the intact show passes. Every
rule of HTTP_RULES has a row.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from narrate.build import BuildOptions, build
from narrate.cli import main
from narrate.publish import published_paths
from narrate.verify import HTTP_RULES, PublishedReport, check_published, check_published_url
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show
from tests.servers import NginxServer, free_port

ONE, TWO = "001-first", "002-second"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NginxServer, Path]]:
    """One nginx for the module and the show built for it once (world-readable, as a host needs it)."""
    root = Path(tempfile.mkdtemp(prefix="narrate-http-site-", dir="/tmp"))
    server = NginxServer(root)
    try:
        server.start()
        work = tmp_path_factory.mktemp("http-show")
        show = SHOW_YAML.replace("https://example.org/show/", server.url("audio/"))
        scripts = write_show(work / "scripts", show, {f"{ONE}.md": EPISODE_ONE, f"{TWO}.md": EPISODE_TWO})
        old = os.umask(0o022)
        try:
            build(scripts, BuildOptions(output=work / "audio", cache_dir=work / "cache", in_process=True,
                                        today=dt.date(2026, 6, 1)))
        finally:
            os.umask(old)
        yield server, work / "audio"
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def served(site: tuple[NginxServer, Path]) -> Iterator[NginxServer]:
    """The built show served intact at /audio/ by nginx with its own configuration; tests may damage it."""
    server, built = site
    target = server.root / "audio"
    shutil.rmtree(target, ignore_errors=True)
    for extra in server.root.iterdir():
        shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    shutil.copytree(built, target)
    if server.extra:
        server.reconfigure("")
    yield server
    if server.extra:
        server.reconfigure("")


def _out(server: NginxServer) -> Path:
    return server.root / "audio"


def _file(server: NginxServer, slug: str, kind: str) -> Path:
    return published_paths(_out(server), slug)[kind]


def _problems(report: PublishedReport) -> list[tuple[str, str]]:
    return list(zip(report.rules, report.problems))


def test_the_intact_show_passes_by_folder_url_and_by_feed_url(served: NginxServer) -> None:
    for url in (served.url("audio/"), served.url("audio"), served.url("audio/feed.xml")):
        report = check_published_url(url)
        assert report.ok, report.problems
        assert any(line.startswith("feed.xml: read from " + served.url("audio/feed.xml")) for line in report.lines)
        # the folder rules ran on what nginx sent: both episodes measured, with their chapters and cues
        assert len([m for m in report.measurements.values() if "integrated" in m and m.get("chapters")]) == 2
    out = _out(served)
    named = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
             and p.relative_to(out).as_posix() not in ("feed.xml", "index.html")]
    # the cover and each episode's MP3, chapters, VTT, SRT and web page (its <link>)
    assert len(named) == 11 and len([p for p in named if p.suffix == ".html"]) == 2
    total = sum(p.stat().st_size for p in named)
    assert any(line.startswith(f"11 files the feed names: ") and f"{total} bytes read" in line
               for line in report.lines), report.lines
    result = CliRunner().invoke(main, ["check", "--published", served.url("audio/")])
    assert result.exit_code == 0, result.output
    assert "episode 1:" in result.output


class Row(NamedTuple):
    rule: str
    tamper: Callable[[NginxServer], None]
    fragment: str


def _remove(slug: str, kind: str) -> Callable[[NginxServer], None]:
    return lambda server: _file(server, slug, kind).unlink()


def _truncate(server: NginxServer) -> None:
    mp3 = _file(server, ONE, "mp3")
    mp3.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])


def _nginx(extra: str) -> Callable[[NginxServer], None]:
    return lambda server: server.reconfigure(extra)


def _served_elsewhere(server: NginxServer) -> None:
    shutil.copytree(_out(server), server.root / "mirror")


ROWS = [
    Row("http.status", _remove(ONE, "vtt"), "answered 404 Not Found"),
    Row("http.status", lambda s: _file(s, TWO, "mp3").chmod(0o600), "answered 403 Forbidden"),
    Row("http.length", _truncate, "the feed's enclosure says length"),
    Row("http.content-type", _nginx(r"location ~ \.vtt$ { types { } default_type text/plain; }"),
        "sent as 'text/plain', not text/vtt"),
    Row("http.content-type", _nginx(r"location ~ \.mp3$ { types { } default_type application/octet-stream; }"),
        "sent as 'application/octet-stream', not audio/mpeg"),
    Row("http.range", _nginx("max_ranges 0;"), "not 206 Partial Content"),
    Row("http.feed-cache", _nginx('location = /audio/feed.xml { add_header Cache-Control "max-age=31536000"; }'),
        "lets the feed be cached for 31536000 s"),
    Row("http.self-url", _served_elsewhere, "is base_url in show.yaml where the show is published?"),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.rule}-{i}" for i, r in enumerate(ROWS)])
def test_a_damaged_served_show_fails_naming_the_problem(row: Row, served: NginxServer) -> None:
    row.tamper(served)
    url = served.url("mirror/" if row.tamper is _served_elsewhere else "audio/")
    report = check_published_url(url)
    hits = [problem for rule, problem in _problems(report) if rule == row.rule and row.fragment in problem]
    assert hits, _problems(report)
    result = CliRunner().invoke(main, ["-q", "check", "--published", url])
    assert result.exit_code == 1, result.output
    assert row.fragment in result.output


def test_every_http_rule_has_a_row() -> None:
    rows = {row.rule for row in ROWS} | {"http.reachable"}  # that one: test_an_unreachable_host_is_one_line
    assert rows == set(HTTP_RULES)


def test_a_missing_enclosure_is_one_line_and_the_rest_is_still_checked(served: NginxServer) -> None:
    mp3 = _file(served, TWO, "mp3")
    mp3.unlink()
    report = check_published_url(served.url("audio/"))
    about = [(rule, p) for rule, p in _problems(report) if mp3.name in p]
    assert [rule for rule, _ in about] == ["http.status"], about
    assert "GET " + served.url(f"audio/{mp3.name}") + " answered 404 Not Found" in about[0][1]
    # episode 1 was still read whole and checked: its loudness and chapters come from the served bytes
    assert any(name.startswith(ONE) and "integrated" in m for name, m in report.measurements.items())


def test_a_truncated_enclosure_also_breaks_the_folder_rules_on_the_served_bytes(served: NginxServer) -> None:
    _truncate(served)
    rules = set(check_published_url(served.url("audio/")).rules)
    assert {"http.length", "item.enclosure-length"} <= rules, rules


def test_folder_rules_apply_to_what_the_server_sends(served: NginxServer) -> None:
    chapters = _file(served, ONE, "chapters")
    data = json.loads(chapters.read_text(encoding="utf-8"))
    data["version"] = "0.9"
    chapters.write_text(json.dumps(data), encoding="utf-8")  # same name: nginx sends the damaged bytes
    report = check_published_url(served.url("audio/"))
    assert "chapters.json" in report.rules, _problems(report)
    assert all(str(served.root) not in p for p in report.problems)  # messages name the URL, not a temp folder


def test_a_missing_feed_says_so(served: NginxServer) -> None:
    (_out(served) / "feed.xml").unlink()
    report = check_published_url(served.url("audio/"))
    assert _problems(report) == [("http.status", f"feed.xml: GET {served.url('audio/feed.xml')} "
                                                 "answered 404 Not Found")]


def test_an_unreachable_host_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}/audio/"
    report = check_published_url(url, timeout=5)
    assert report.rules == ("http.reachable",)
    assert report.problems == (f"feed.xml: cannot read {url}feed.xml: 127.0.0.1:{url.split(':')[2].split('/')[0]}: "
                               "connection refused",)
    result = CliRunner().invoke(main, ["check", "--published", url])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: feed.xml: cannot read")


def test_a_host_that_never_answers_times_out_in_one_line() -> None:
    with socket.socket() as silent:  # listens, so the connection is made, but never accepts or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"
        started = time.monotonic()
        report = check_published_url(url, timeout=1)
        assert time.monotonic() - started < 10
    assert report.rules == ("http.reachable",)
    assert report.problems[0].endswith("no answer within 1 s"), report.problems


def test_https_passes_with_a_trusted_certificate_and_is_one_line_without(tmp_path: Path, monkeypatch) -> None:
    root = Path(tempfile.mkdtemp(prefix="narrate-https-site-", dir="/tmp"))
    server = NginxServer(root, tls=True)
    try:
        server.start()
        show = SHOW_YAML.replace("https://example.org/show/", server.url("audio/"))
        scripts = write_show(tmp_path / "scripts", show, {f"{ONE}.md": EPISODE_ONE})
        old = os.umask(0o022)
        try:
            build(scripts, BuildOptions(output=root / "audio", cache_dir=tmp_path / "cache", in_process=True,
                                        today=dt.date(2026, 6, 1)))
        finally:
            os.umask(old)
        url = server.url("audio/")
        assert url.startswith("https://127.0.0.1:")
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))  # trusts nobody
        report = check_published_url(url)
        assert report.rules == ("http.reachable",)
        assert "TLS certificate is not trusted" in report.problems[0], report.problems
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))  # trusts exactly the test's certificate
        report = check_published_url(url)
        assert report.ok, report.problems
        assert any(line.startswith(f"feed.xml: read from {url}feed.xml") for line in report.lines)
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(("url", "says"), [
    ("http://", "names no host"),
    ("http://127.0.0.1:http/audio/", "port is not a number"),
    ("ftp://127.0.0.1/audio/", "not an http:// or https:// URL"),
    ("http://127.0.0.1/a b/", "cannot contain spaces"),
])
def test_a_malformed_url_is_bad_input(url: str, says: str) -> None:
    result = CliRunner().invoke(main, ["check", "--published", url])
    assert result.exit_code == 2, result.output
    assert says in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_url_without_published_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["check", "http://127.0.0.1/audio/"])
    assert result.exit_code == 2 and "--published" in result.output, result.output


def test_check_published_takes_a_url_string_too(served: NginxServer) -> None:
    assert check_published(served.url("audio/")).ok
