"""A real nginx, running as its own unprivileged user (www-data), serves a built show; podcastparser subscribes.

The served folder is made world-traversable in /tmp (pytest's own temporary folders may be 0700), so
what nginx can read is decided by the modes narrate gives its files, nothing else. A test that needs
nginx skips when it is not installed (or not run as root, which nginx needs to switch to www-data),
but fails when NARRATE_CI=1: CI installs nginx and must run these.
"""
from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from narrate.build import BuildOptions, build
from narrate.feed import ITUNES_NS, PODCAST_NS
from tests.conftest import EPISODE_ONE, EPISODE_TWO, SHOW_YAML, write_show

TODAY = dt.date(2026, 6, 1)
USER = "www-data"
MIME = {".mp3": "audio/mpeg", ".xml": "application/rss+xml", ".vtt": "text/vtt", ".srt": "application/x-subrip",
        ".html": "text/html",
        ".json": "application/json", ".png": "image/png", ".jpg": "image/jpeg"}


def _need(condition: bool, why: str) -> None:
    """Skip without the tool locally; under NARRATE_CI=1 its absence is a failure."""
    if condition:
        return
    if os.environ.get("NARRATE_CI") == "1":
        pytest.fail(f"{why} (NARRATE_CI=1: CI must provide it)")
    pytest.skip(why)


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    _need(found is not None, "nginx is not installed (Debian package nginx)")
    _need(os.geteuid() == 0, f"nginx must start as root to run its workers as {USER}")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        _need(False, f"there is no {USER} user for nginx to run as")
    return str(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Nginx:
    root: Path
    port: int
    process: subprocess.Popen
    logs: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), b""

    def worker_users(self) -> set[str]:
        users = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    users.add(pwd.getpwuid((proc / "status").stat().st_uid).pw_name)
            except (OSError, IndexError, ValueError, KeyError):
                continue
        return users


@pytest.fixture
def nginx() -> Iterator[Nginx]:
    binary = _nginx()
    root = Path(tempfile.mkdtemp(prefix="narrate-nginx-site-", dir="/tmp"))
    conf_dir = Path(tempfile.mkdtemp(prefix="narrate-nginx-conf-", dir="/tmp"))
    root.chmod(0o755)  # www-data must be able to traverse it; /tmp itself is 1777
    port = _free_port()
    types = "\n".join(f"    {mime} {suffix[1:]};" for suffix, mime in MIME.items())
    conf = conf_dir / "nginx.conf"
    conf.write_text(f"""\
daemon off;
user {USER};
worker_processes 1;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log {conf_dir}/access.log;
  client_body_temp_path {conf_dir}/body;
  proxy_temp_path {conf_dir}/proxy;
  fastcgi_temp_path {conf_dir}/fastcgi;
  uwsgi_temp_path {conf_dir}/uwsgi;
  scgi_temp_path {conf_dir}/scgi;
  types {{
{types}
  }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    process = subprocess.Popen([binary, "-p", str(conf_dir), "-c", str(conf), "-e", str(conf_dir / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Nginx(root, port, process, conf_dir)
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise AssertionError(f"nginx did not start: {process.stderr.read().decode()}"
                                     f"{(conf_dir / 'error.log').read_text() if (conf_dir / 'error.log').exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not listen within 15 s") from None
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(conf_dir, ignore_errors=True)



def _build_into(server: Nginx, tmp_path: Path) -> Path:
    show = SHOW_YAML.replace("https://example.org/show/", f"{server.base}audio/")
    scripts = write_show(tmp_path / "scripts", show, {"001-first.md": EPISODE_ONE, "002-second.md": EPISODE_TWO})
    out = server.root / "audio"
    build(scripts, BuildOptions(output=out, cache_dir=tmp_path / "cache", in_process=True, today=TODAY))
    return out


def _local(out: Path, server: Nginx, url: str) -> Path:
    prefix = f"{server.base}audio/"
    assert url.startswith(prefix), url
    return out / url[len(prefix):]


def test_nginx_as_www_data_serves_the_show_and_podcastparser_subscribes(nginx: Nginx, tmp_path: Path, umask) -> None:
    import podcastparser

    umask(0o022)
    out = _build_into(nginx, tmp_path)
    assert nginx.worker_users() == {USER}, "nginx's workers run as www-data, not root"
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


def test_a_stricter_umask_is_honoured_exactly(nginx: Nginx, tmp_path: Path, umask) -> None:
    umask(0o027)
    out = _build_into(nginx, tmp_path)
    files = [p for p in out.iterdir() if p.is_file() and p.name != ".narrate.lock"]
    assert len(files) >= 11
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    # www-data is neither the owner nor in the group: nginx may not read them, exactly as the umask says
    status, _, _ = nginx.get(f"{nginx.base}audio/feed.xml")
    assert status == 403
