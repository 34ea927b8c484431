"""``/metrics`` and ``/healthz`` over HTTP (the standard library's threading server)."""

from __future__ import annotations

import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from schedtui.core.errors import ErrorKind, SchedtuiError
from schedtui.core.metrics.exporter import Exporter
from schedtui.core.metrics.exposition import content_type, negotiate

DEFAULT_HOST = "127.0.0.1"
_LISTEN = re.compile(r"^(?:(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]*):)?(?P<port>\d{1,5})$")


def parse_listen(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` (``[::1]:9464`` for IPv6); the host defaults to 127.0.0.1."""
    m = _LISTEN.match(text.strip())
    port = int(m["port"]) if m else -1
    if m is None or not 0 <= port <= 65535:
        raise SchedtuiError(f"--listen expects [HOST:]PORT (e.g. 9464 or 0.0.0.0:9464), not {text!r}", ErrorKind.CONFIG)
    host = (m["host"] or DEFAULT_HOST).strip("[]")
    return host or DEFAULT_HOST, port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    exporter: Exporter


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "schedtui-metrics"
    protocol_version = "HTTP/1.1"
    # headers and body leave in one segment (no 40 ms delayed-ACK stall per scrape)
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            health = self.server.exporter.health()
            self._send(200 if health.ok else 503, "text/plain; charset=utf-8", (health.message + "\n").encode())
        elif path == "/":
            body = b"schedtui metrics exporter: /metrics (OpenMetrics or Prometheus text), /healthz\n"
            self._send(200, "text/plain; charset=utf-8", body)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _metrics(self) -> None:
        fmt = negotiate(self.headers.get("Accept"))
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        body = self.server.exporter.body(fmt, compressed=gz)
        if body is None:
            self._send(503, "text/plain; charset=utf-8", b"no snapshot yet\n")
            return
        self._send(200, content_type(fmt), body, {"Content-Encoding": "gzip"} if gz else None)

    def _send(self, code: int, ctype: str, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
        return


def make_server(exporter: Exporter, host: str, port: int) -> ThreadingHTTPServer:
    """A bound (not yet serving) server; ``server_address`` holds the real port."""
    try:
        cls = _Server6 if ":" in host else _Server
        server = cls((host, port), _Handler)
    except OSError as exc:
        raise SchedtuiError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ErrorKind.CONFIG) from exc
    server.exporter = exporter
    return server
