"""Loopback transport: every emulator over HTTP on 127.0.0.1, for third-party clients.

Each emulator is served under ``/<name>`` — e.g. ``http://127.0.0.1:PORT/facturama`` stands
for ``https://api.facturama.mx`` — so a provider only needs ``base_url=`` to point at it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from .adapter import _REASONS, dispatch
from .faults import DroppedConnection, FaultPlan
from .framework import Emulator, EmulatorRequest

__all__ = ["LoopbackServer"]

_DROP_KEY = "apunto.drop_connection"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietServerHandler(ServerHandler):
    def log_exception(self, exc_info: Any) -> None:
        # A dropped connection is the point of a fault test, not an error worth a traceback.
        pass


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ[_DROP_KEY] = self._drop
        return environ

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _QuietServerHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True  # type: ignore[arg-type]
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]


class LoopbackServer:
    """A threaded WSGI server on loopback serving every emulator; stop it with :meth:`close`."""

    def __init__(
        self,
        emulators: Mapping[str, Emulator],
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the sandbox server only binds to loopback addresses")
        self.emulators = dict(emulators)
        self.faults = faults
        self.latency = latency
        self._sleep = sleep
        self._server = make_server(
            host, port, self._app, server_class=_ThreadingWSGIServer, handler_class=_Handler
        )
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
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        name, _, rest = path.lstrip("/").partition("/")
        emulator = self.emulators.get(name)
        if emulator is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"no emulator named {name!r}; try {sorted(self.emulators)}".encode()]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-"): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["CONTENT-TYPE"] = environ["CONTENT_TYPE"]
        request = EmulatorRequest.build(
            environ["REQUEST_METHOD"], "/" + rest, environ.get("QUERY_STRING", ""), headers, body
        )
        try:
            answer = dispatch(emulator, request, self.faults, self.latency, self._sleep)
        except DroppedConnection:
            environ[_DROP_KEY]()
            raise
        status = f"{answer.status} {_REASONS.get(answer.status, 'Status')}"
        start_response(status, [*answer.headers.items(), ("Content-Length", str(len(answer.body)))])
        return [answer.body]
