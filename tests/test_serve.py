"""Tests for the preview server: content types, byte ranges, path safety and base URL rewriting."""
from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from narrate.errors import UserError
from narrate.serve import (
    UnsatisfiableRange,
    make_server,
    parse_range,
    public_base_url,
    rewrite_base_url,
    serve_in_thread,
)

OLD_BASE = "https://example.org/show/"
ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"

FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="{ITUNES}" xmlns:podcast="{PODCAST}" xmlns:atom="{ATOM}"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>Test Show</title>
    <link>{OLD_BASE}</link>
    <description>A show about tests</description>
    <atom:link href="{OLD_BASE}feed.xml" rel="self" type="application/rss+xml"/>
    <itunes:image href="{OLD_BASE}cover.png"/>
    <item>
      <title>Episode 1</title>
      <guid isPermaLink="false">ep-001</guid>
      <enclosure url="{OLD_BASE}001-x.mp3" length="102400" type="audio/mpeg"/>
      <podcast:chapters url="{OLD_BASE}001-x.chapters.json" type="application/json+chapters"/>
      <podcast:transcript url="{OLD_BASE}001-x.vtt" type="text/vtt"/>
      <itunes:author>Someone at https://elsewhere.example/</itunes:author>
    </item>
  </channel>
</rss>
""".encode()

CHAPTERS = {
    "version": "1.2.0",
    "chapters": [
        {"startTime": 0, "title": "Intro", "url": f"{OLD_BASE}notes.html", "img": f"{OLD_BASE}cover.png"},
        {"startTime": 42.5, "title": "Other", "url": "https://elsewhere.example/page"},
    ],
}

MP3 = bytes(range(256)) * 400  # 102400 bytes, every offset distinguishable modulo 256
SECRET = b"top secret, outside the root"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built show folder `show/` with a secret file next to it, outside the root."""
    base = tmp_path_factory.mktemp("site")
    root = base / "show"
    root.mkdir()
    (base / "secret.txt").write_bytes(SECRET)
    (root / "feed.xml").write_bytes(FEED)
    (root / "001-x.chapters.json").write_text(json.dumps(CHAPTERS), encoding="utf-8")
    (root / "001-x.mp3").write_bytes(MP3)
    (root / "001-x.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n", encoding="utf-8")
    (root / "001-x.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n", encoding="utf-8")
    (root / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xfffake")
    (root / "001-x.0123456789.mp3").write_bytes(MP3)
    (root / "notes.bin").write_bytes(b"\x00\x01")
    (root / ".narrate-build.json").write_text('{"secret": true}', encoding="utf-8")
    (root / ".narrate-tmp").mkdir()
    (root / ".narrate-tmp" / "part.mp3").write_bytes(b"partial")
    (root / "sub").mkdir()
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    try:
        (root / "escape.txt").symlink_to(base / "secret.txt")
        (root / "escape-dir").symlink_to(base, target_is_directory=True)
        (root / "alias.json").symlink_to(root / ".narrate-build.json")
    except OSError:  # no symlinks on this platform; those tests skip themselves
        pass
    return root


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[tuple[str, int]]:
    """A preview server on a free port, stopped at teardown."""
    httpd, thread = serve_in_thread(site, "127.0.0.1", 0)
    try:
        host, port = httpd.server_address[:2]
        yield str(host), int(port)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def fetch(
    server: tuple[str, int], path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send one request with the path exactly as given (http.client does not normalise `..`)."""
    conn = http.client.HTTPConnection(*server, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_request(server: tuple[str, int], request: bytes) -> tuple[bytes, bytes]:
    """Send raw bytes, read until the server closes, and split the answer into head and body."""
    with socket.create_connection(server, timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def base_of(server: tuple[str, int]) -> str:
    return f"http://{server[0]}:{server[1]}/"


# --------------------------------------------------------------------------- plain GET


def test_full_get_has_type_length_and_validators(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/001-x.mp3")
    assert status == 200
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Content-Length"] == "102400"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"] and headers["Last-Modified"]
    assert body == MP3


@pytest.mark.parametrize(("path", "cache_control"), [
    ("/001-x.0123456789.mp3", "public, max-age=31536000, immutable"),
    ("/feed.xml", "no-cache"),
    ("/001-x.mp3", "no-cache"),
])
def test_content_named_files_are_cached_for_good_and_the_feed_is_revalidated(
        server: tuple[str, int], path: str, cache_control: str) -> None:
    status, headers, _ = fetch(server, path)
    assert status == 200
    assert headers["Cache-Control"] == cache_control


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/001-x.vtt", "text/vtt; charset=utf-8"),
        ("/001-x.srt", "application/x-subrip; charset=utf-8"),
        ("/001-x.chapters.json", "application/json; charset=utf-8"),
        ("/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/cover.png", "image/png"),
        ("/cover.jpg", "image/jpeg"),
        ("/notes.bin", "application/octet-stream"),
    ],
)
def test_content_types(server: tuple[str, int], path: str, content_type: str) -> None:
    status, headers, body = fetch(server, path)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert int(headers["Content-Length"]) == len(body) > 0


def test_query_string_is_ignored_and_percent_encoding_decoded(server: tuple[str, int]) -> None:
    status, _, body = fetch(server, "/%30%30%31-x.mp3?t=5#frag")
    assert status == 200
    assert body == MP3


def test_if_none_match_gives_304(server: tuple[str, int]) -> None:
    _, headers, _ = fetch(server, "/001-x.mp3", "HEAD")
    status, headers2, body = fetch(server, "/001-x.mp3", headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    assert body == b""
    assert headers2["ETag"] == headers["ETag"]


# --------------------------------------------------------------------------- byte ranges


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=500-", 500, 102399),
        ("bytes=-100", 102300, 102399),
        ("bytes=100-999999", 100, 102399),  # the end is clipped to the file
        ("bytes=-999999", 0, 102399),  # a suffix longer than the file is the whole file
        ("bytes=7-7", 7, 7),
        ("BYTES = 10-19", 10, 19),
        ("bytes=0-1, 200000-", 0, 1),  # only one satisfiable range: answered with it
    ],
)
def test_range_gives_206(server: tuple[str, int], range_header: str, first: int, last: int) -> None:
    status, headers, body = fetch(server, "/001-x.mp3", headers={"Range": range_header})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {first}-{last}/102400"
    assert headers["Content-Length"] == str(last - first + 1)
    assert headers["Content-Type"] == "audio/mpeg"
    assert body == MP3[first : last + 1]


@pytest.mark.parametrize("range_header", ["bytes=200000-", "bytes=102400-102500", "bytes=-0"])
def test_unsatisfiable_range_gives_416(server: tuple[str, int], range_header: str) -> None:
    status, headers, body = fetch(server, "/001-x.mp3", headers={"Range": range_header})
    assert status == 416
    assert headers["Content-Range"] == "bytes */102400"
    assert int(headers["Content-Length"]) == len(body)
    assert MP3[:100] not in body


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "items=0-1",
        "bytes=5-1",  # last < first is syntactically invalid
        "bytes=-",
        "bytes=",
        "0-99",
        "bytes=0-1,2-3",  # several satisfiable ranges: documented as 200 with the whole file
    ],
)
def test_malformed_or_multiple_ranges_give_200_full(server: tuple[str, int], range_header: str) -> None:
    status, headers, body = fetch(server, "/001-x.mp3", headers={"Range": range_header})
    assert status == 200
    assert "Content-Range" not in headers
    assert body == MP3


def test_if_range_mismatch_sends_whole_file(server: tuple[str, int]) -> None:
    _, head, _ = fetch(server, "/001-x.mp3", "HEAD")
    status, _, body = fetch(server, "/001-x.mp3", headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert status == 200 and body == MP3
    status, _, body = fetch(server, "/001-x.mp3", headers={"Range": "bytes=0-9", "If-Range": head["ETag"]})
    assert status == 206 and body == MP3[:10]


def test_parse_range_unit() -> None:
    assert parse_range("bytes=0-0", 1) == (0, 0)
    assert parse_range("bytes=0-0,1-1", 2) is None
    assert parse_range("bytes=x", 10) is None
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=0-", 0)
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=-5", 0)


# --------------------------------------------------------------------------- HEAD


def test_head_sends_headers_without_body(server: tuple[str, int]) -> None:
    head, body = raw_request(server, b"HEAD /001-x.mp3 HTTP/1.0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"\r\nContent-Length: 102400" in head
    assert b"\r\nContent-Type: audio/mpeg" in head
    assert b"\r\nAccept-Ranges: bytes" in head
    assert body == b""


def test_head_with_range_sends_206_headers_without_body(server: tuple[str, int]) -> None:
    head, body = raw_request(server, b"HEAD /001-x.mp3 HTTP/1.0\r\nRange: bytes=500-\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 206")
    assert b"\r\nContent-Range: bytes 500-102399/102400" in head
    assert b"\r\nContent-Length: 101900" in head
    assert body == b""


def test_head_matches_get_headers(server: tuple[str, int]) -> None:
    _, get_headers, _ = fetch(server, "/feed.xml")
    _, head_headers, head_body = fetch(server, "/feed.xml", "HEAD")
    assert head_body == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"):
        assert head_headers[name] == get_headers[name], name


def test_keep_alive_connection_serves_several_requests(server: tuple[str, int]) -> None:
    conn = http.client.HTTPConnection(*server, timeout=5)
    try:
        conn.request("HEAD", "/001-x.mp3")
        first = conn.getresponse()
        first.read()
        conn.request("GET", "/001-x.mp3", headers={"Range": "bytes=0-3"})
        second = conn.getresponse()
        assert first.status == 200
        assert second.status == 206
        assert second.read() == MP3[:4]
    finally:
        conn.close()


# --------------------------------------------------------------------------- path safety


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/sub\\..\\..\\secret.txt",
        "/%00secret.txt",
        "/feed.xml%00.mp3",
        "//../secret.txt",
        "/%2F..%2Fsecret.txt",
        "/%ff%fe",
        "http://evil.example/../secret.txt",
    ],
)
def test_traversal_is_refused(server: tuple[str, int], path: str) -> None:
    status, _, body = fetch(server, path)
    assert status in (403, 404)
    assert SECRET not in body


def test_symlink_out_of_root_is_refused(server: tuple[str, int], site: Path) -> None:
    if not (site / "escape.txt").is_symlink():
        pytest.skip("symlinks unsupported")
    for path in ("/escape.txt", "/escape-dir/secret.txt", "/alias.json"):
        status, _, body = fetch(server, path)
        assert status == 404, path
        assert SECRET not in body and b"secret" not in body


@pytest.mark.parametrize(
    "path", ["/.narrate-build.json", "/%2enarrate-build.json", "/.narrate-tmp/part.mp3", "/./feed.xml"]
)
def test_dotfiles_and_dot_folders_are_refused(server: tuple[str, int], path: str) -> None:
    status, _, body = fetch(server, path)
    assert status == 404
    assert b"secret" not in body and b"partial" not in body


def test_directories_are_not_listed(server: tuple[str, int]) -> None:
    for path in ("/", "/sub/", "/sub"):
        status, _, body = fetch(server, path)
        assert status == 404, path
        assert b"inner.txt" not in body and b"001-x.mp3" not in body


def test_file_inside_subfolder_is_served(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/sub/inner.txt")
    assert status == 200
    assert body == b"inner"
    assert headers["Content-Type"] == "application/octet-stream"


def test_index_html_served_for_root(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>Show</h1>", encoding="utf-8")
    (tmp_path / "episodes").mkdir()
    (tmp_path / "episodes" / "index.html").write_text("<h1>Episodes</h1>", encoding="utf-8")
    httpd, thread = serve_in_thread(tmp_path)
    try:
        address = (str(httpd.server_address[0]), int(httpd.server_address[1]))
        status, headers, body = fetch(address, "/")
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert body == b"<h1>Show</h1>"
        status, headers, _ = fetch(address, "/episodes?x=1")
        assert status == 301
        assert headers["Location"] == "/episodes/?x=1"
        status, _, body = fetch(address, "/episodes/")
        assert status == 200 and body == b"<h1>Episodes</h1>"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_unsupported_method_is_refused(server: tuple[str, int]) -> None:
    status, _, _ = fetch(server, "/001-x.mp3", "DELETE")
    assert status == 501
    status, _, body = fetch(server, "/001-x.mp3")
    assert status == 200 and body == MP3  # untouched


# --------------------------------------------------------------------------- URL rewriting


def all_urls(element: ET.Element) -> list[str]:
    """Every attribute value and element text in a tree."""
    values: list[str] = []
    for node in element.iter():
        values.extend(node.attrib.values())
        if node.text and node.text.strip():
            values.append(node.text.strip())
    return values


def test_feed_urls_point_at_the_server(server: tuple[str, int]) -> None:
    base = base_of(server)
    status, headers, body = fetch(server, "/feed.xml")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body)
    root = ET.fromstring(body)
    channel = root.find("channel")
    assert channel is not None
    enclosure = channel.find("item/enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == f"{base}001-x.mp3"
    assert channel.find(f"{{{ATOM}}}link").get("href") == f"{base}feed.xml"
    assert channel.find(f"{{{ITUNES}}}image").get("href") == f"{base}cover.png"
    assert channel.find(f"item/{{{PODCAST}}}chapters").get("url") == f"{base}001-x.chapters.json"
    assert channel.findtext("link") == base
    assert not [value for value in all_urls(root) if "example.org" in value]
    # text that merely mentions another site is left alone
    assert channel.findtext(f"item/{{{ITUNES}}}author") == "Someone at https://elsewhere.example/"
    # the usual prefixes survive the rewrite
    assert b"<itunes:image" in body and b"<podcast:chapters" in body and b"<atom:link" in body
    assert b"ns0:" not in body


def test_feed_respects_host_header(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/feed.xml", headers={"Host": "192.168.1.5:8000"})
    assert status == 200
    assert headers["Vary"] == "Host"
    enclosure = ET.fromstring(body).find("channel/item/enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == "http://192.168.1.5:8000/001-x.mp3"


def test_bad_host_header_falls_back_to_bound_address(server: tuple[str, int]) -> None:
    status, _, body = fetch(server, "/feed.xml", headers={"Host": 'evil"/><x y="'})
    assert status == 200
    enclosure = ET.fromstring(body).find("channel/item/enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == f"{base_of(server)}001-x.mp3"


def test_range_on_rewritten_feed_uses_rewritten_bytes(server: tuple[str, int]) -> None:
    _, _, full = fetch(server, "/feed.xml")
    status, headers, body = fetch(server, "/feed.xml", headers={"Range": "bytes=-50"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {len(full) - 50}-{len(full) - 1}/{len(full)}"
    assert body == full[-50:]
    assert len(full) != len(FEED)  # the rewrite did change the size


def test_chapters_json_is_rewritten(server: tuple[str, int]) -> None:
    base = base_of(server)
    status, headers, body = fetch(server, "/001-x.chapters.json")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body)
    chapters = json.loads(body)["chapters"]
    assert chapters[0]["url"] == f"{base}notes.html"
    assert chapters[0]["img"] == f"{base}cover.png"
    assert chapters[1]["url"] == "https://elsewhere.example/page"
    assert chapters[1]["startTime"] == 42.5
    assert "example.org" not in body.decode()


def test_rewrite_base_url_unit() -> None:
    new = "http://10.0.0.2:9000/"
    out = rewrite_base_url(FEED, "feed.xml", OLD_BASE, new)
    root = ET.fromstring(out)
    assert root.find("channel/item/enclosure").get("url") == f"{new}001-x.mp3"
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"' in out
    # nothing to rewrite, or a file type that is not rewritten: the very same bytes
    assert rewrite_base_url(FEED, "feed.xml", "https://nowhere.example/", new) is FEED
    assert rewrite_base_url(MP3, "001-x.mp3", OLD_BASE, new) is MP3
    data = json.dumps({"a": [{"b": f"{OLD_BASE}x"}], "c": 1, "d": None}).encode()
    assert json.loads(rewrite_base_url(data, "x.json", OLD_BASE, new)) == {
        "a": [{"b": f"{new}x"}],
        "c": 1,
        "d": None,
    }
    # bytes, not a parse: every other byte is the published one, even in a file no parser would read
    assert rewrite_base_url(FEED, "feed.xml", OLD_BASE, new) == FEED.replace(OLD_BASE.encode(), new.encode())
    broken = f"<rss><channel><link>{OLD_BASE}</link>".encode()
    assert rewrite_base_url(broken, "feed.xml", OLD_BASE, new) == f"<rss><channel><link>{new}</link>".encode()
    assert rewrite_base_url(b'{"u": "' + OLD_BASE.encode(), "c.json", OLD_BASE, new) == b'{"u": "' + new.encode()


def test_rewrite_base_url_replaces_the_escaped_base() -> None:
    """A base URL with `&` is `&amp;` in the feed and plain in JSON; `/` may be `\\/` in JSON."""
    old, new = "https://example.org/a&b/", "http://10.0.0.2:9000/"
    feed = b'<rss><link>https://example.org/a&amp;b/</link><x url="https://example.org/a&amp;b/1.mp3"/></rss>'
    assert rewrite_base_url(feed, "feed.xml", old, new) == \
        b'<rss><link>http://10.0.0.2:9000/</link><x url="http://10.0.0.2:9000/1.mp3"/></rss>'
    data = json.dumps({"url": old + "x", "name": "Dub\u010dek"}, ensure_ascii=False).encode()
    assert json.loads(rewrite_base_url(data, "c.json", old, new)) == {"url": new + "x", "name": "Dub\u010dek"}
    ascii_data = json.dumps({"url": "https://example.org/\u010d/x"}).encode()
    assert json.loads(rewrite_base_url(ascii_data, "c.json", "https://example.org/\u010d/", new)) == {"url": new + "x"}


def test_served_feed_is_the_published_bytes_with_the_base_replaced(server: tuple[str, int]) -> None:
    _, _, body = fetch(server, "/feed.xml")
    assert body == FEED.replace(OLD_BASE.encode(), base_of(server).encode())
    _, _, chapters = fetch(server, "/001-x.chapters.json")
    assert chapters == json.dumps(CHAPTERS).encode().replace(OLD_BASE.encode(), base_of(server).encode())


# --------------------------------------------------------------------------- setup and logging


def test_public_base_url_and_make_server(tmp_path: Path) -> None:
    httpd = make_server(tmp_path, "127.0.0.1", 0)
    try:
        port = httpd.server_address[1]
        assert port != 0
        assert public_base_url(httpd) == f"http://127.0.0.1:{port}/"
    finally:
        httpd.server_close()
    with pytest.raises(UserError):
        make_server(tmp_path / "missing", "127.0.0.1", 0)


def test_port_in_use_is_a_user_error(server: tuple[str, int], site: Path) -> None:
    with pytest.raises(UserError, match="cannot listen"):
        make_server(site, server[0], server[1])


def test_each_request_is_logged_in_one_line_through_logging_not_stderr(
    server: tuple[str, int], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.INFO, logger="narrate.serve"):
        status, _, body = fetch(server, "/feed.xml?logged=1")
        fetch(server, "/nope")
        fetch(server, "/001-x.mp3", "HEAD")
        fetch(server, "/001-x.mp3", headers={"Range": "bytes=0-99"})
        # A carriage return inside the request line must not start a forged log line.
        raw_request(server, b"GET /a\rforged HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "narrate.serve"]
    assert lines == [
        f'127.0.0.1 "GET /feed.xml?logged=1 HTTP/1.1" 200 {len(body)}',
        '127.0.0.1 "GET /nope HTTP/1.1" 404 14',
        f'127.0.0.1 "HEAD /001-x.mp3 HTTP/1.1" 200 {len(MP3)}',
        '127.0.0.1 "GET /001-x.mp3 HTTP/1.1" 206 100',
        '127.0.0.1 "GET /a\\x0dforged HTTP/1.1" 400 -',
    ]
    assert capfd.readouterr().err == ""


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_unreadable_file_is_404_not_crash(tmp_path: Path) -> None:
    if os.getuid() == 0:
        pytest.skip("root can read anything")
    locked = tmp_path / "locked.mp3"
    locked.write_bytes(b"x")
    locked.chmod(0)
    httpd, thread = serve_in_thread(tmp_path)
    try:
        status, _, _ = fetch((str(httpd.server_address[0]), int(httpd.server_address[1])), "/locked.mp3")
        assert status == 404
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_parse_range_with_numbers_of_thousands_of_digits() -> None:
    """int() refuses more than 4300 digits: a position beyond the file is compared by length, never parsed."""
    with pytest.raises(UnsatisfiableRange):
        parse_range("bytes=" + "9" * 5000 + "-", 10)
    assert parse_range("bytes=0-" + "9" * 5000, 10) == (0, 9)
    assert parse_range("bytes=-" + "9" * 5000, 10) == (0, 9)
    assert parse_range("bytes=" + "0" * 5000 + "3-" + "0" * 5000 + "4", 10) == (3, 4)
    assert parse_range("bytes=" + "9" * 5000 + "-1", 10) is None  # last before first: ignored
