"""Test doubles shared by the transport tests: a scripted requests adapter and a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Step = Callable[[requests.PreparedRequest], requests.Response] | Exception | tuple[int, Any]


def make_response(
    request: requests.PreparedRequest,
    status: int,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.request = request
    response.url = request.url or ""
    response.headers = CaseInsensitiveDict(headers or {})
    if isinstance(body, bytes):
        response._content = body
    elif isinstance(body, str):
        response._content = body.encode()
        response.headers.setdefault("Content-Type", "text/html")
    elif body is None:
        response._content = b""
    else:
        response._content = json.dumps(body).encode()
        response.headers.setdefault("Content-Type", "application/json")
    response.reason = {200: "OK", 201: "Created", 429: "Too Many Requests"}.get(status, "")
    return response


class ScriptedAdapter(BaseAdapter):
    """Answers each request with the next scripted step and records what it received."""

    def __init__(self, *steps: Step) -> None:
        super().__init__()
        self.steps = list(steps)
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request)
        status, body = step[0], step[1]
        headers = step[2] if len(step) > 2 else None  # type: ignore[misc]
        return make_response(request, status, body, headers)

    def close(self) -> None:
        pass


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def dropped(sent: bool) -> requests.ConnectionError:
    """A connection error that says whether the server could have seen the request."""
    error = requests.ConnectionError("connection dropped")
    error.apunto_request_sent = sent  # type: ignore[attr-defined]
    return error
