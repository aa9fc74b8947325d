"""httplib2-compatible transports for google-api-python-client.

google-api-python-client and google-auth-httplib2 talk to "an object with httplib2's
``request(uri, method, body, headers, redirections, connection_type)``". Two such objects live
here:

* :class:`RequestsHttp` sends through a :class:`requests.Session` — the caller's own session (a
  proxy, mTLS) or the sandbox's in-process session, so the real Google client reaches the
  offline emulator with no socket;
* :class:`GuardedHttp` wraps a real :class:`httplib2.Http` (production, or the loopback sandbox
  through ``client_options``).

Both classify broken connections the same way, because google-api-python-client retries every
connection error whatever the method: a drop *before* the request went out stays a built-in
:class:`ConnectionError` (the library retries it, which is safe), while a drop *after* a
``POST``/``PATCH`` was sent becomes :class:`~apunto_connect.errors.TransportError` with
``request_sent=True``, which the library does not retry — the storage provider then looks the
file up before sending it again, so an ambiguous failure never stores a file twice.

httplib2 is imported on first use only.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import Any

import requests

from ..errors import Timeout, TransportError

__all__ = ["GuardedHttp", "HttpLike", "RequestsHttp", "httplib2_response", "new_httplib2_http"]

HttpLike = Any
"""Anything with httplib2's ``request`` signature (``httplib2.Http``, ``HttpMockSequence``...)."""

_UNSAFE_METHODS = frozenset({"POST", "PATCH"})
DEFAULT_TIMEOUT = (10.0, 120.0)


def httplib2_response(status: int, headers: Mapping[str, str], reason: str = "") -> Any:
    """An :class:`httplib2.Response` with lower-case header keys, as httplib2 builds it."""
    import httplib2  # type: ignore[import-untyped,unused-ignore]

    info: dict[str, str] = {key.lower(): value for key, value in headers.items()}
    info["status"] = str(status)
    response = httplib2.Response(info)
    response.reason = reason
    return response


def _read_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):  # googleapiclient's _StreamSlice for resumable chunks
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raise TypeError(f"unsupported request body type {type(body).__name__}")


def _dropped_after_send(method: str, uri: str, provider: str) -> TransportError:
    # request_sent=True is what keeps google-api-python-client from retrying it blindly.
    return TransportError(
        f"connection dropped after {method} {uri} was sent; it may have been processed",
        provider=provider,
        request_sent=True,
    )


class RequestsHttp:
    """An httplib2-style ``request`` over a :class:`requests.Session`.

    Redirects are never followed: Drive answers resumable chunks with ``308 Resume
    Incomplete``, which is not a redirect, and google-api-python-client expects to see it.
    """

    follow_redirects = False
    redirect_codes: frozenset[int] = frozenset()

    def __init__(
        self,
        session: requests.Session,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        provider: str = "google_drive",
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.provider = provider

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = 5,
        connection_type: Any = None,
    ) -> tuple[Any, bytes]:
        """Send one request; returns ``(httplib2.Response, body bytes)`` like httplib2."""
        method = method.upper()
        try:
            response = self.session.request(
                method,
                uri,
                data=_read_body(body),
                headers=dict(headers or {}),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectTimeout as exc:
            raise TimeoutError(str(exc)) from None
        except requests.Timeout as exc:
            if method in _UNSAFE_METHODS:
                raise Timeout(
                    f"{method} {uri} timed out after it was sent; it may have been processed",
                    provider=self.provider,
                    request_sent=True,
                ) from exc
            raise TimeoutError(str(exc)) from None
        except requests.ConnectionError as exc:
            sent = bool(getattr(exc, "apunto_request_sent", False))
            if sent and method in _UNSAFE_METHODS:
                raise _dropped_after_send(method, uri, self.provider) from exc
            raise ConnectionError(str(exc)) from None
        headers_out = {key: value for key, value in response.headers.items()}
        return httplib2_response(response.status_code, headers_out, response.reason or ""), (
            response.content or b""
        )

    def close(self) -> None:
        """The session belongs to the caller: nothing to close here."""


class GuardedHttp:
    """A real :class:`httplib2.Http` whose post-send drops on ``POST``/``PATCH`` are not retried."""

    def __init__(self, http: Any, provider: str = "google_drive") -> None:
        self.http = http
        self.provider = provider

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = 5,
        connection_type: Any = None,
    ) -> tuple[Any, bytes]:
        """Send through httplib2, classifying broken connections (see the module docstring)."""
        try:
            response, content = self.http.request(
                uri,
                method=method,
                body=body,
                headers=headers,
                redirections=redirections,
                connection_type=connection_type,
            )
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            if method.upper() in _UNSAFE_METHODS:
                raise _dropped_after_send(method, uri, self.provider) from exc
            raise
        return response, content

    def __getattr__(self, name: str) -> Any:
        # timeout, connections, add_certificate... are httplib2's own attributes.
        return getattr(self.http, name)


def new_httplib2_http(timeout: float | None = None) -> Any:
    """A fresh httplib2 client set up the way google-api-python-client sets it up (no 308 redirects)."""
    from googleapiclient.http import build_http

    http = build_http()
    if timeout is not None:
        http.timeout = timeout
    return http
