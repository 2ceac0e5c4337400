"""A small preview server for a built show folder, so a phone on the same network can subscribe.

Serves GET and HEAD with byte ranges (RFC 9110), never reaches outside the folder, never serves
dotfiles or dot-folders (narrate's build record and temp files), and serves ``feed.xml`` and
``*.json`` with the show's published base URL replaced, byte for byte, by the server's own: the
escaped base URL is swapped where it occurs and every other byte is the published one.

Why the standard library and not werkzeug's ``send_file(conditional=True)``: the preview must run
with what ``pip install narrate`` installs, and werkzeug would bring a WSGI stack for one command.
It would also not spare the parts that are ours: the path rules (no dotfile, no symlink out of the
folder, a range whose numbers have thousands of digits), the Host-dependent feed with its own ETag,
the 200 (not 416) for several ranges. What is left to hand-write is one range parser and two
conditional-request checks (narrate/httpfile.py), each covered by the hostile-request tests.
"""
from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import socket
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

import markupsafe

from narrate import __version__
from narrate.errors import UserError
from narrate.feed import self_base_url
from narrate.httpfile import CONTENT_TYPES, content_type_for  # noqa: F401 - also importable from here
from narrate.httpfile import UnsatisfiableRange, if_range_holds, not_modified, parse_range
from narrate.publish import CONTENT_NAME_RE, FEED_NAME

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"


# A Host header we are willing to echo into feed URLs: a name or IPv4 address, or a bracketed
# IPv6 address, with an optional port. Anything else falls back to the bound address.
_HOST_RE = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~-]+)?\])(?::[0-9]{1,5})?")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- base URL replacement


def _escaped_forms(url: str, suffix: str) -> list[str]:
    """How `url` is written in a file of this kind: XML text and attribute escaping, a JSON string, or HTML."""
    if suffix == ".json":
        return [json.dumps(url, ensure_ascii=False)[1:-1], json.dumps(url)[1:-1]]
    if suffix == ".html":  # as Jinja2's autoescaping (markupsafe) writes it in the site's pages
        return [str(markupsafe.escape(url))]
    return [escape(url), quoteattr(url)[1:-1]]


def rewrite_base_url(data: bytes, filename: str, old_base: str, new_base: str) -> bytes:
    """`data` with every escaped occurrence of `old_base` replaced by `new_base`, escaped the same way.

    Only feeds (.xml, .rss), JSON files and the site's pages (.html: their Open Graph and subscribe links)
    are rewritten; nothing else is touched, no byte is re-serialised, so the preview serves the published
    bytes with only the base URL changed. Nothing to change: `data` itself.
    """
    suffix = Path(filename).suffix.lower()
    if not old_base or old_base == new_base or suffix not in (".xml", ".rss", ".json", ".html"):
        return data
    out = data
    for old, new in dict(zip(_escaped_forms(old_base, suffix), _escaped_forms(new_base, suffix))).items():
        out = out.replace(old.encode("utf-8"), new.encode("utf-8"))
    return data if out == data else out


# --------------------------------------------------------------------------- server


class PreviewServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers the show folder it serves."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, address: tuple[str, int]) -> None:
        self.root = root
        self._base_lock = threading.Lock()
        self._base_cache: tuple[tuple[int, int], str | None] | None = None
        super().__init__(address, PreviewHandler)

    def published_base(self) -> str | None:
        """Return the show's published base URL from root/feed.xml (cached by size and mtime)."""
        feed = self.root / FEED_NAME
        try:
            st = feed.stat()
        except OSError:
            return None
        key = (st.st_size, st.st_mtime_ns)
        with self._base_lock:
            if self._base_cache and self._base_cache[0] == key:
                return self._base_cache[1]
        try:
            base = self_base_url(feed.read_bytes())
        except OSError:
            return None
        if base is None:
            logger.warning("%s has no atom:link rel=\"self\"; serving URLs unchanged", feed)
        with self._base_lock:
            self._base_cache = (key, base)
        return base

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed request through logging instead of printing a traceback to stderr."""
        logger.debug("request from %s failed", client_address, exc_info=True)


class _IPv6PreviewServer(PreviewServer):
    address_family = socket.AF_INET6


@dataclass
class _Resource:
    """What a request resolved to: an open file, or rewritten bytes in memory."""

    name: str
    size: int
    mtime: float
    etag: str
    file: IO[bytes] | None = None
    data: bytes | None = None
    vary_host: bool = False

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class PreviewHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD for files inside the server's root folder."""

    server: PreviewServer
    server_version = f"narrate-preview/{__version__}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 120

    def do_GET(self) -> None:
        """Serve a file, or a byte range of it."""
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        """Answer the same headers as GET without a body."""
        self._respond(send_body=False)

    #: The Content-Length of the response being sent, for the request's log line.
    _length: str = "-"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log each request in one line: client, request line, status, bytes (`127.0.0.1 "GET / HTTP/1.1" 200 8123`)."""
        status = code.value if isinstance(code, HTTPStatus) else code
        # A hostile request line cannot break the one-line log: control characters are shown escaped.
        line = _CONTROL_RE.sub(lambda m: f"\\x{ord(m[0]):02x}", self.requestline)
        logger.info('%s "%s" %s %s', self.address_string(), line, status,
                    self._length if size == "-" else size)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        """Send error logs to the module logger at debug level (the request itself is logged by log_request)."""
        logger.debug("%s - %s", self.address_string(), format % args)

    # -- request handling

    def _respond(self, send_body: bool) -> None:
        self._length = "-"
        target = self._resolve()
        if target is None:
            self._send_status(HTTPStatus.NOT_FOUND, send_body)
            return
        if isinstance(target, str):
            self._send_status(HTTPStatus.MOVED_PERMANENTLY, send_body, {"Location": target})
            return
        try:
            resource = self._open(target)
        except OSError:
            logger.debug("cannot open %s", target, exc_info=True)
            self._send_status(HTTPStatus.NOT_FOUND, send_body)
            return
        try:
            self._send_resource(resource, send_body)
        finally:
            resource.close()

    def _resolve(self) -> Path | str | None:
        """Map the request path to a file inside root; a str is a redirect, None means 404."""
        raw = self.path
        if _SCHEME_RE.match(raw):  # absolute-form request target
            raw = urlsplit(raw).path or "/"
        raw = raw.split("#", 1)[0]
        raw_path, _, query = raw.partition("?")
        if not raw_path.startswith("/"):
            return None
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\\" in path or "\0" in path:
            return None
        segments = [segment for segment in path.split("/") if segment]
        for segment in segments:
            # ".." and "." start with a dot too: dotfiles, dot-folders and traversal all end here.
            if segment.startswith(".") or os.path.isabs(segment) or (os.name == "nt" and ":" in segment):
                return None

        root = self.server.root
        try:
            real = root.joinpath(*segments).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not self._inside_root(real):
            return None
        if real.is_dir():
            if segments and not path.endswith("/"):
                index = real / "index.html"
                if index.is_file():
                    return raw_path + "/" + ("?" + query if query else "")
                return None
            try:
                real = (real / "index.html").resolve(strict=True)
            except (OSError, RuntimeError):
                return None
            if not self._inside_root(real):
                return None
        elif path.endswith("/"):
            return None
        return real if real.is_file() else None

    def _inside_root(self, real: Path) -> bool:
        root = self.server.root
        if real == root:
            return True
        if not real.is_relative_to(root):
            return False
        return not any(part.startswith(".") for part in real.relative_to(root).parts)

    def _open(self, path: Path) -> _Resource:
        file = path.open("rb")
        try:
            st = os.fstat(file.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{path} is not a regular file")
            etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
            resource = _Resource(path.name, st.st_size, st.st_mtime, etag, file=file)
            if self._is_rewritten(path):
                return self._rewritten(resource)
            return resource
        except BaseException:
            file.close()
            raise

    def _is_rewritten(self, path: Path) -> bool:
        if path.suffix.lower() in (".json", ".html"):
            return True
        return path.name == FEED_NAME and path.parent == self.server.root

    def _rewritten(self, resource: _Resource) -> _Resource:
        assert resource.file is not None
        data = resource.file.read()
        resource.close()
        resource.file = None
        old_base = self.server.published_base()
        new_base = self._request_base()
        if old_base:
            data = rewrite_base_url(data, resource.name, old_base, new_base)
        digest = hashlib.blake2b(data, digest_size=8).hexdigest()
        resource.data = data
        resource.size = len(data)
        resource.etag = f'"{digest}"'
        resource.vary_host = True
        return resource

    def _request_base(self) -> str:
        """Return the base URL the client used: its Host header, else the local address."""
        host = (self.headers.get("Host") or "").strip()
        if host and len(host) <= 255 and _HOST_RE.fullmatch(host):
            return f"http://{host}/"
        address, port = self.connection.getsockname()[:2]
        return f"http://{_url_host(address)}:{port}/"

    # -- responses

    def _send_resource(self, resource: _Resource, send_body: bool) -> None:
        last_modified = email.utils.formatdate(resource.mtime, usegmt=True)
        headers = {
            "Content-Type": content_type_for(resource.name),
            "Accept-Ranges": "bytes",
            "Last-Modified": last_modified,
            "ETag": resource.etag,
            # Files named by their content never change; the feed and anything else is revalidated each time.
            "Cache-Control": IMMUTABLE if CONTENT_NAME_RE.match(resource.name) else "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        if resource.vary_host:
            headers["Vary"] = "Host"

        # A rewritten file also changes with the feed and the Host; only its ETag is exact.
        if not_modified(self.headers, resource.etag, resource.mtime, etag_only=resource.vary_host):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in headers.items():
                if name not in ("Content-Type", "Accept-Ranges", "X-Content-Type-Options"):
                    self.send_header(name, value)
            self.end_headers()
            return

        first, last = 0, resource.size - 1
        status = HTTPStatus.OK
        range_header = self.headers.get("Range")
        if range_header and if_range_holds(self.headers, resource.etag, last_modified):
            try:
                parsed = parse_range(range_header, resource.size)
            except UnsatisfiableRange:
                self._send_status(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, send_body,
                                  {"Content-Range": f"bytes */{resource.size}", "Accept-Ranges": "bytes"})
                return
            if parsed is not None:
                first, last = parsed
                status = HTTPStatus.PARTIAL_CONTENT
                headers["Content-Range"] = f"bytes {first}-{last}/{resource.size}"

        length = max(last - first + 1, 0)
        headers["Content-Length"] = self._length = str(length)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body and length:
            self._send_bytes(resource, first, length)

    def _send_bytes(self, resource: _Resource, first: int, length: int) -> None:
        try:
            if resource.data is not None:
                self.wfile.write(resource.data[first : first + length])
                return
            assert resource.file is not None
            resource.file.seek(first)
            remaining = length
            while remaining:
                chunk = resource.file.read(min(CHUNK_SIZE, remaining))
                if not chunk:  # the file shrank while being served (a rebuild)
                    logger.debug("%s shrank while being served", resource.name)
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                remaining -= len(chunk)
        except (ConnectionError, TimeoutError):
            logger.debug("client went away during %s", resource.name)
            self.close_connection = True

    def _send_status(self, status: HTTPStatus, send_body: bool, extra: dict[str, str] | None = None) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self._length = str(len(body))
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            try:
                self.wfile.write(body)
            except (ConnectionError, TimeoutError):
                self.close_connection = True


# --------------------------------------------------------------------------- entry points


def _url_host(address: str) -> str:
    """Return an address as it goes in a URL: IPv6 bracketed, zone id escaped."""
    if ":" in address:
        return "[" + address.replace("%", "%25") + "]"
    return address


def _lan_address() -> str:
    """Return this machine's LAN IPv4 address as best known, else 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it picks a route
            address = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address if address != "0.0.0.0" else "127.0.0.1"


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """Bind a preview server for the show folder `root` (port 0 picks any free port)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder; build the show first")
    server_class = _IPv6PreviewServer if ":" in host else PreviewServer
    if not 0 <= port <= 65535:
        raise UserError(f"port {port} is not between 0 and 65535")
    try:
        return server_class(root.resolve(), (host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def public_base_url(server: ThreadingHTTPServer) -> str:
    """Return the server's base URL, e.g. http://127.0.0.1:8000/ (a LAN address if bound to all)."""
    address, port = server.server_address[:2]
    address = str(address)
    if address in ("", "0.0.0.0", "::"):
        address = _lan_address()
    return f"http://{_url_host(address)}:{port}/"


def serve(root: Path, host: str, port: int, *, on_ready: Callable[[ThreadingHTTPServer], None] | None = None) -> None:
    """Serve the show folder until KeyboardInterrupt; `on_ready` gets the bound server first."""
    server = make_server(root, host, port)
    try:
        url = public_base_url(server)
        logger.debug("serving %s at %s (feed: %s%s)", root, url, url, FEED_NAME)
        if on_ready is not None:
            on_ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("preview server stopped")
    finally:
        server.server_close()


def serve_in_thread(root: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start a preview server in a daemon thread; stop it with shutdown() and server_close()."""
    server = make_server(root, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="narrate-serve",
                              daemon=True)
    thread.start()
    return server, thread
