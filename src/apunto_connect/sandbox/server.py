"""Loopback transport: every emulator over HTTP on 127.0.0.1, for third-party clients.

Each emulator is served under ``/<name>`` — e.g. ``http://127.0.0.1:PORT/facturama`` stands
for ``https://api.facturama.mx`` — so a provider only needs ``base_url=`` to point at it.

The server speaks HTTP/1.1 with keep-alive: every answer carries ``Content-Length``, so a
client's connection pool reuses one TCP connection for many requests instead of opening one per
request. Each connection has its own thread, up to ``max_connections`` at once; a connection
idle for ``idle_timeout`` seconds is closed, which frees its slot.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import unquote

from .adapter import _REASONS, dispatch
from .faults import DroppedConnection, FaultPlan
from .framework import Emulator, EmulatorRequest, EmulatorResponse

__all__ = ["LoopbackServer"]

DEFAULT_MAX_CONNECTIONS = 64
"""Connections served at once (one thread each); more wait for a free slot."""

DEFAULT_IDLE_TIMEOUT = 30.0
"""Seconds a kept-alive connection may sit idle before the server closes it."""

# How long a new connection waits for a free slot before it is answered 503.
_SLOT_WAIT = 10.0
_BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
    b"Connection: close\r\n\r\nloopback server: all busy now"
)


class _Server(ThreadingMixIn, HTTPServer):
    """One thread per connection, at most ``max_connections`` at a time."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        owner: LoopbackServer,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.owner = owner
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=_SLOT_WAIT):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY_ANSWER)
            self.shutdown_request(request)
            return
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._open_lock:
            if request not in self._open:
                return
            self._open.discard(request)
        self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (its read timeout, a dropped-connection fault) is no server
        # error worth a traceback; anything else still gets one.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut every open connection (kept-alive ones would otherwise idle on)."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (buffered until the flush after each answer), with
    # Nagle off: otherwise a kept-alive connection waits for the client's delayed ACK (~40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        # A read that waits this long on a kept-alive connection ends it (and frees its slot).
        self.connection.settimeout(self.server.idle_timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._answer(EmulatorResponse(400, b"bad request body", {"Content-Type": "text/plain"}))
            self.close_connection = True
            return
        target, _, query = self.path.partition("?")
        headers = {name.upper(): value for name, value in self.headers.items()}
        answer = self.server.owner._handle(self.command, target, query, headers, body)
        if answer is None:  # a dropped connection, as a fault asked
            self._drop()
            return
        self._answer(answer)

    # http.server looks handlers up as do_<METHOD>; every method goes to the emulators.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers up to the blank line
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self, answer: EmulatorResponse) -> None:
        self.send_response(answer.status, _REASONS.get(answer.status, "Status"))
        for name, value in answer.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """A threaded HTTP/1.1 server on loopback serving every emulator; stop it with :meth:`close`.

    Args:
        emulators: name -> emulator, each served under ``/<name>``.
        faults: the fault plan applied to every request.
        latency: seconds added to every answer.
        host, port: where to listen (loopback only; port 0 picks a free one).
        sleep: how latency and faults wait.
        max_connections: connections served at once, one thread each.
        idle_timeout: seconds an idle kept-alive connection is kept open.
    """

    def __init__(
        self,
        emulators: Mapping[str, Emulator],
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        sleep: Callable[[float], None] = time.sleep,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the sandbox server only binds to loopback addresses")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.emulators = dict(emulators)
        self.faults = faults
        self.latency = latency
        self._sleep = sleep
        self._server = _Server((host, port), self, max_connections, idle_timeout)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://{self.host}:{self.port}"

    def base_url(self, name: str) -> str:
        """The URL that stands for ``name``'s real base URL."""
        return f"{self.url}/{name}"

    def base_urls(self) -> dict[str, str]:
        """Every emulator name with its loopback base URL."""
        return {name: self.base_url(name) for name in sorted(self.emulators)}

    def close(self) -> None:
        """Stop serving, close open connections and free the port."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _handle(
        self, method: str, target: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> EmulatorResponse | None:
        """Answer one request; ``None`` when a fault drops the connection instead."""
        # Emulators see the path percent-decoded as Latin-1, as WSGI servers hand it over.
        path = unquote(target, "iso-8859-1")
        name, _, rest = path.lstrip("/").partition("/")
        emulator = self.emulators.get(name)
        if emulator is None:
            message = f"no emulator named {name!r}; try {sorted(self.emulators)}"
            return EmulatorResponse(404, message.encode(), {"Content-Type": "text/plain"})
        request = EmulatorRequest.build(method, "/" + rest, query, headers, body)
        try:
            return dispatch(emulator, request, self.faults, self.latency, self._sleep)
        except DroppedConnection:
            return None
        except Exception as exc:  # an emulator bug must not kill a kept-alive connection
            text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
            return EmulatorResponse(500, text, {"Content-Type": "text/plain; charset=utf-8"})
