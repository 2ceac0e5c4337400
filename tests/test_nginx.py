"""A real nginx, running as its own unprivileged user (www-data), serves a built show; podcastparser subscribes.

The nginx fixture (tests/servers.py) serves a world-traversable folder in /tmp (pytest's own temporary
folders may be 0700), so what nginx can read is decided by the modes narrate gives its files, nothing else.
A test that needs nginx skips when it is not installed (or not run as root, which nginx needs to switch to
www-data), but fails when NARRATE_CI=1: CI installs nginx and must run these.
"""
from __future__ import annotations

import datetime as dt
import stat
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from narrate.build import BuildOptions, build
from narrate.feed import ITUNES_NS, PODCAST_NS
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show
from tests.servers import CHAPTERS_TYPE, NGINX_TYPES, NGINX_USER, NginxServer, nginx  # noqa: F401 (fixture)

TODAY = dt.date(2026, 6, 1)
MIME = {**NGINX_TYPES, ".json": CHAPTERS_TYPE}  # the only JSON a show serves is its chapters


def _build_into(server: NginxServer, tmp_path: Path) -> Path:
    show = SHOW_YAML.replace("https://example.org/show/", f"{server.base}audio/")
    scripts = write_show(tmp_path / "scripts", show, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    out = server.root / "audio"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    return out


def _local(out: Path, server: NginxServer, url: str) -> Path:
    prefix = f"{server.base}audio/"
    assert url.startswith(prefix), url
    return out / url[len(prefix):]


def test_nginx_as_www_data_serves_the_show_and_podcastparser_subscribes(nginx: NginxServer, tmp_path: Path, umask) -> None:
    import podcastparser

    umask(0o022)
    out = _build_into(nginx, tmp_path)
    assert nginx.worker_users() == {NGINX_USER}, "nginx's workers run as www-data, not root"
    feed_url = f"{nginx.base}audio/feed.xml"
    status, headers, data = nginx.get(feed_url)
    assert status == 200 and headers["Content-Type"] == "application/rss+xml"
    assert int(headers["Content-Length"]) == (out / "feed.xml").stat().st_size
    with urllib.request.urlopen(feed_url, timeout=10) as stream:
        parsed = podcastparser.parse(feed_url, stream)
    assert {e["title"] for e in parsed["episodes"]} == {"First episode", "Second episode"}

    checked: dict[str, int] = {}

    def served(url: str, size: int | None = None) -> None:
        local = _local(out, nginx, url)
        for method in ("HEAD", "GET"):
            status, headers, body = nginx.get(url, method)
            assert status == 200, (method, url, status)
            assert int(headers["Content-Length"]) == local.stat().st_size == (size or local.stat().st_size), url
            assert headers["Content-Type"] == MIME[local.suffix], (url, headers["Content-Type"])
            if method == "GET":
                assert body == local.read_bytes()
        checked[local.suffix] = checked.get(local.suffix, 0) + 1

    for episode in parsed["episodes"]:
        (enclosure,) = episode["enclosures"]
        served(enclosure["url"], enclosure["file_size"])
    served(parsed["cover_url"])
    # podcastparser 0.6.11 reads podcast:* tags only under an older namespace URI; read them with an XML parser
    channel = ET.fromstring(data).find("channel")
    for item in channel.findall("item"):
        served(item.find(f"{{{PODCAST_NS}}}chapters").get("url"))
        for transcript in item.findall(f"{{{PODCAST_NS}}}transcript"):
            served(transcript.get("url"))
    assert channel.find(f"{{{ITUNES_NS}}}image").get("href") == parsed["cover_url"]
    assert checked == {".mp3": 2, ".png": 1, ".json": 2, ".vtt": 2, ".srt": 2}


def test_a_stricter_umask_is_honoured_exactly(nginx: NginxServer, tmp_path: Path, umask) -> None:
    umask(0o027)
    out = _build_into(nginx, tmp_path)
    files = [p for p in out.iterdir() if p.is_file() and p.name != ".narrate.lock"]
    assert len(files) >= 11
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    # www-data is neither the owner nor in the group: nginx may not read them, exactly as the umask says
    status, _, _ = nginx.get(f"{nginx.base}audio/feed.xml")
    assert status == 403
