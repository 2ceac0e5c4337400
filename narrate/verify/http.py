"""HTTP(S) reading for `check --published URL`: one request at a time, with a timeout, as plain results.

The standard library's urllib does the work (redirects followed, certificates checked against the system's
authorities). An HTTP error status is a result like any other; a host that cannot be reached, a timeout or a
broken answer raises `Unreachable` with a one-line reason.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from narrate import __version__
from narrate.errors import UserError

TIMEOUT = 30.0
USER_AGENT = f"narrate/{__version__} (check --published)"
CHUNK = 1 << 20


class Unreachable(Exception):
    """The host did not answer usably (no such host, refused, timed out, TLS failure, cut-off body)."""


@dataclass(frozen=True)
class Response:
    """One answer: status, headers (names lower-cased), the body's bytes (or its length when saved to a file)."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Bytes received (the body's length, also when it went to a file).
    received: int = 0
    #: True when the body was longer than the limit and reading stopped there.
    cut: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str | None:
        """Content-Type without its parameters, lower-cased (`text/vtt; charset=utf-8` -> `text/vtt`)."""
        value = self.header("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None

    @property
    def length(self) -> int | None:
        """Content-Length as a number (None when absent or not a number)."""
        value = self.header("content-length")
        return int(value) if value is not None and value.strip().isdigit() else None

    @property
    def said(self) -> str:
        """`404 Not Found`."""
        return f"{self.status} {self.reason}".strip()


def http_url(text: str) -> str:
    """`text` as an absolute http(s) URL, or a UserError (exit 2) saying what is wrong with it."""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise UserError(f"{text}: not an http:// or https:// URL")
    try:
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        raise UserError(f"{text}: the port is not a number from 0 to 65535") from None
    if not parts.hostname:
        raise UserError(f"{text}: the URL names no host")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise UserError(f"{text!r}: a URL cannot contain spaces or control characters")
    del port
    return text


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would also follow one to ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-HTTP URL {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_Redirects())


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"no such host ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted ({exc.verify_message or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the answer was cut off after {len(exc.partial)} bytes"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def request(url: str, method: str = "GET", *, headers: Mapping[str, str] | None = None, limit: int = 64 << 20,
            save: Path | None = None, timeout: float = TIMEOUT) -> Response:
    """Send one request; read at most `limit` bytes of the body, into `save` when given (else into `body`)."""
    sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    req = urllib.request.Request(url, method=method, headers=sent)
    try:
        answer = _OPENER.open(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.geturl() or url, exc.code, str(exc.reason or ""),
                            {k.lower(): v for k, v in (exc.headers or {}).items()})
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise Unreachable(_reason(exc, timeout)) from None
    try:
        with answer:
            got = {k.lower(): v for k, v in answer.headers.items()}
            data = bytearray()
            received, cut = 0, False
            sink = save.open("wb") if save is not None else None
            try:
                while method != "HEAD":
                    chunk = answer.read(min(CHUNK, limit + 1 - received))
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > limit:
                        cut = True
                        break
                    if sink is not None:
                        sink.write(chunk)
                    else:
                        data += chunk
            finally:
                if sink is not None:
                    sink.close()
            return Response(answer.geturl(), answer.status, str(answer.reason or ""), got, bytes(data),
                            min(received, limit), cut)
    except (OSError, http.client.HTTPException) as exc:
        raise Unreachable(_reason(exc, timeout)) from None
