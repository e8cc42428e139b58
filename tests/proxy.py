"""A loopback reverse proxy for tests that hides a memmock's ``/_mock`` plane, so it looks like a real deployment."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

# RFC 9110 section 7.6.1: these describe one hop and are not forwarded.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade",
})
HIDDEN_PREFIX = "/_mock"
NOT_FOUND = b'{"detail": "Not found."}'


def hidden(path: str) -> bool:
    """True for ``/_mock`` and anything under it (query string ignored)."""
    bare = path.split("?", 1)[0]
    return bare == HIDDEN_PREFIX or bare.startswith(HIDDEN_PREFIX + "/")


class _Handler(BaseHTTPRequestHandler):
    """Forwards each request to the server's upstream, except under ``/_mock``."""

    protocol_version = "HTTP/1.1"  # keep-alive towards clients, as a real front end offers
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _ProxyServer

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields, dropped like the other hop-by-hop data
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        # HEAD keeps the upstream's Content-Length (it is in ``headers``); 1xx, 204 and 304 carry none.
        with_body = self.command != "HEAD" and status >= 200 and status not in (204, 304)
        if with_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _forward(self) -> None:
        body = self._body()
        if hidden(self.path):
            self._reply(404, [("Content-Type", "application/json")], NOT_FOUND)
            return
        upstream = self.server.upstream
        # A fresh upstream connection per request: a retried POST on a stale keep-alive connection could
        # create an object twice, which the leaves-nothing test would see.
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=self.server.timeout_s)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    conn.putheader(name, value)  # Host included: the upstream builds its links from it
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            payload = resp.read()
            headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in HOP_BY_HOP and (k.lower() != "content-length" or self.command == "HEAD")]
            self._reply(resp.status, headers, payload)
        except OSError as exc:
            self._reply(502, [("Content-Type", "text/plain")], f"upstream unreachable: {exc}".encode())
        finally:
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = _forward

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # the base class's signature
        """Quiet: test output is the tests'."""


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, timeout_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = urlsplit(upstream)
        self.timeout_s = timeout_s


class HidingProxy:
    """A running proxy: ``.url`` to address it, ``.stop()`` (or leaving the ``with`` block) to end it."""

    def __init__(self, upstream: str, timeout_s: float = 60.0) -> None:
        self._server = _ProxyServer(upstream, timeout_s)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="hiding-proxy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> HidingProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_hiding_proxy(upstream: str) -> HidingProxy:
    """Start a proxy on 127.0.0.1 (a free port) in front of ``upstream`` that answers 404 under ``/_mock``."""
    return HidingProxy(upstream)
