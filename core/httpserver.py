"""A small threaded JSON HTTP server on the standard library, for the sandbox and for fakes.

Both the MEGA sandbox and the fake CRMs in tests are real servers on a real socket; this
module is what they share: routing by method and path pattern, JSON in and out, a cap on body
size, and start/stop from a fixture or a ``with`` block. No framework dependency is needed for
a handful of routes.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """An incoming request, already parsed."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from {name} path segments
    client: tuple[str, int] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else value


@dataclass
class Response:
    """What a route returns. ``body`` may be bytes, str or anything JSON-serializable."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Close the socket without any answer (simulates a dropped connection).
    drop: bool = False


Handler = Callable[[Request], Response]


class Router:
    """Routes ``(METHOD, '/path/{param}')`` to handlers."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        self._routes.append((method.upper(), re.compile(regex), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler
        return decorator

    def resolve(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], bool]:
        """(handler, params, path_known); path_known tells 405 from 404."""
        path_known = False
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if match:
                path_known = True
                if route_method == method:
                    return handler, match.groupdict(), True
        return None, {}, path_known


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up before its answer (a timeout, a retry) is normal traffic: no
    traceback on the server's stderr for it; anything else still goes to the default."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class JSONServer:
    """A threaded HTTP server around a Router; use as a context manager or start()/stop().

    ``fallback`` builds the answer for unknown routes and for handler crashes so each server
    can speak its own error envelope.
    """

    def __init__(
        self,
        router: Router,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body: int = 10 * 1024 * 1024,
        error: Callable[[int, str], Response] | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.router = router
        self.max_body = max_body
        self.poll_interval = poll_interval  # how long stop() may wait for the serve loop
        self._error = error or (lambda status, msg: Response(status, {"error": msg}))
        self._httpd = _QuietServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        # kept-alive connections outlive serve_forever(): stop() closes them, or a stopped
        # server would go on answering (and a stopped sandbox acknowledging writes)
        self._conns: set[Any] = set()
        self._conns_lock = threading.Lock()
        self._stopped = False
        self._looping = False  # serve_forever() is running in some caller's thread

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> JSONServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="jsonserver",
                                        kwargs={"poll_interval": self.poll_interval},
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (for a CLI command) until interrupted."""
        self._looping = True
        try:
            self._httpd.serve_forever(poll_interval=self.poll_interval)
        finally:
            self._looping = False

    def stop(self) -> None:
        self._stopped = True
        # shutdown() waits for a serve loop to end: with none running (stopped before it
        # started, e.g. Ctrl-C right after the CLI printed its address) it would wait forever
        if self._thread is not None or self._looping:
            self._httpd.shutdown()
        self._httpd.server_close()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> JSONServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes; without TCP_NODELAY the body waits
            # ~40 ms for the client's delayed ACK on every keep-alive request
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def setup(self) -> None:
                super().setup()
                with server._conns_lock:
                    server._conns.add(self.connection)

            def finish(self) -> None:
                with server._conns_lock:
                    server._conns.discard(self.connection)
                super().finish()

            def send_error(self, code: int, message: str | None = None,
                           explain: str | None = None) -> None:
                """Protocol-level errors (garbage request lines, bad headers) in the
                server's own error format instead of http.server's HTML page."""
                try:
                    self._send(server._error(code, message or "bad request"), close=True)
                except OSError:
                    pass

            def _dispatch(self) -> None:
                if server._stopped:  # a request that raced stop(): a dead server answers nothing
                    self.close_connection = True
                    return
                split = urlsplit(self.path)
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    self._send(server._error(411, "send a Content-Length (chunked bodies are "
                                                  "not accepted)"), close=True)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length < 0:
                        raise ValueError(length)
                except ValueError:
                    self._send(server._error(400, "invalid Content-Length header"), close=True)
                    return
                if length > server.max_body:
                    self._send(server._error(413, "request body too large"), close=True)
                    return
                body = self.rfile.read(length) if length else b""
                handler, params, known = server.router.resolve(self.command, split.path)
                if handler is None:
                    status = 405 if known else 404
                    self._send(server._error(status, "no such route" if status == 404 else
                                             "method not allowed"))
                    return
                request = Request(
                    method=self.command, path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    params=params, client=self.client_address,
                )
                try:
                    response = handler(request)
                except Exception as exc:  # a crash answers 500, never kills the server
                    response = server._error(500, f"internal error: {type(exc).__name__}")
                if response.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                self._send(response)

            def _send(self, response: Response, close: bool = False) -> None:
                body = response.body
                headers = dict(response.headers)
                if isinstance(body, bytes):
                    data = body
                elif isinstance(body, str):
                    data = body.encode()
                    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
                elif body is None and response.status == 204:
                    data = b""
                else:
                    data = json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                self.send_response(response.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

        return _Handler
