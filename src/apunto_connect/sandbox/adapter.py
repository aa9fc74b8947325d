"""In-process transport: a :mod:`requests` adapter that hands requests to emulators.

Mounted on each vendor's real base URLs, it lets provider code run unchanged with no socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from .faults import DroppedConnection, FaultPlan, LateCommit, apply_fault
from .framework import Emulator, EmulatorRequest, EmulatorResponse

__all__ = ["SandboxAdapter", "dispatch"]


def dispatch(
    emulator: Emulator,
    request: EmulatorRequest,
    faults: FaultPlan | None,
    latency: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    *,
    inline_late_commit: bool = True,
) -> EmulatorResponse:
    """Apply sandbox-wide latency and the fault plan, then let the emulator answer.

    A late commit is served inline by default (wait, commit, answer: a socket's own read
    timeout makes the client give up first); ``inline_late_commit=False`` lets it propagate.
    """
    if latency:
        sleep(latency)
    fault = faults.take(emulator.name, request.method, request.path) if faults else None
    try:
        return apply_fault(fault, emulator, request, sleep)
    except LateCommit as late:
        if not inline_late_commit:
            raise
        time.sleep(late.delay)  # real time: the client's socket timeout is real too
        return late.commit()


def _read_timeout(timeout: Any) -> float | None:
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) > 1 else timeout[0]
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    return b"".join(body)  # generator/iterable bodies (streamed uploads)


class SandboxAdapter(BaseAdapter):
    """Routes each request to the emulator whose base URL is the longest prefix of its URL."""

    def __init__(
        self,
        emulators: Mapping[str, Emulator],
        faults: FaultPlan | None = None,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.faults = faults
        self.latency = latency
        self._sleep = sleep
        self._prefixes = sorted(
            ((url.rstrip("/").lower(), emu) for emu in emulators.values() for url in emu.base_urls),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    def prefixes(self) -> list[str]:
        """Every base URL this adapter answers for."""
        return [prefix for prefix, _ in self._prefixes]

    def resolve(self, url: str) -> tuple[Emulator, str, str]:
        """The emulator, relative path and query string for ``url``."""
        parts = urlsplit(url)
        bare = f"{parts.scheme}://{parts.netloc}{parts.path}"
        lowered = bare.lower()
        for prefix, emulator in self._prefixes:
            if lowered == prefix or lowered.startswith(prefix + "/"):
                return emulator, bare[len(prefix):] or "/", parts.query
        raise requests.ConnectionError(f"no sandbox emulator serves {url}")

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        """Answer ``request`` from the emulator (or raise a connection error for drops)."""
        emulator, path, query = self.resolve(request.url or "")
        emulator_request = EmulatorRequest.build(
            request.method or "GET", path, query, dict(request.headers), _body_bytes(request.body)
        )
        try:
            answer = dispatch(emulator, emulator_request, self.faults, self.latency, self._sleep,
                              inline_late_commit=False)
        except LateCommit as late:
            answer = self._late(request, late, _read_timeout(kwargs.get("timeout")))
        except DroppedConnection as exc:
            error = requests.ConnectionError(str(exc), request=request)
            error.apunto_request_sent = exc.request_sent  # type: ignore[attr-defined]
            raise error from None
        return self._to_response(request, answer)

    @staticmethod
    def _late(
        request: requests.PreparedRequest, late: LateCommit, timeout: float | None
    ) -> EmulatorResponse:
        """Wait like a socket would.

        Answer if the client waits long enough; else time out while the vendor commits in the
        background once the delay is over.
        """
        if timeout is None or timeout >= late.delay:
            time.sleep(late.delay)
            return late.commit()
        committer = threading.Timer(late.delay, late.commit)
        committer.daemon = True
        committer.start()
        time.sleep(timeout)
        error = requests.ReadTimeout(f"read timed out after {timeout:g}s", request=request)
        error.apunto_request_sent = True  # type: ignore[attr-defined]
        raise error

    @staticmethod
    def _to_response(request: requests.PreparedRequest, answer: EmulatorResponse) -> requests.Response:
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.headers.setdefault("Content-Length", str(len(answer.body)))
        response._content = answer.body
        response.url = request.url or ""
        response.request = request
        response.reason = _REASONS.get(answer.status, "")
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to release: no sockets are involved."""


_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable",
}
