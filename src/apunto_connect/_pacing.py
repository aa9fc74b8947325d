"""Pacing requests to a vendor's announced budget, from the rate headers of its answers.

A vendor that counts requests in fixed windows and says so in every answer (limit, remaining,
seconds to reset) is best paced from those numbers instead of waiting to be refused with 429.
:class:`HeaderPacedBucket` is that bucket; a vendor module gives it its header names and budget.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .credentials import Secret

__all__ = ["HeaderPacedBucket", "PacedBasicAuth"]


class HeaderPacedBucket:
    """A thread-safe token bucket that paces requests to a vendor's per-window budget.

    Before the first answer it behaves as a plain bucket of ``limit`` tokens refilled at
    ``limit / window`` per second. Every answer's rate headers (limit, remaining, reset) then correct it:
    the server's ``Remaining`` caps the tokens (other processes may share the account), and while
    the server's window is known the bucket does not refill until ``Reset`` seconds have passed,
    when it is full again — the server counts in fixed windows, so refilling earlier would only
    earn a 429.

    Args:
        limit: requests per window.
        window: window length in seconds.
        headers: the names of the limit, remaining and reset headers (reset: seconds left).
        clock: monotonic seconds (injectable for tests).
        sleep: how to wait (injectable for tests; the sandbox passes its clock's sleep).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        headers: tuple[str, str, str],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self._lock = threading.Lock()
        self._headers = headers
        self._clock = clock
        self._sleep = sleep
        self.window = window
        self.limit = limit
        self._tokens = float(limit)
        self._updated = clock()
        self._window_end: float | None = None
        self.waited = 0.0
        """Total seconds spent waiting for tokens (for reports and tests)."""

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def _refill(self, now: float) -> None:
        if self._window_end is not None:
            if now >= self._window_end:
                self._tokens = float(self.limit)
                self._window_end = None
                self._updated = now
            return
        rate = self.limit / self.window
        self._tokens = min(float(self.limit), self._tokens + (now - self._updated) * rate)
        self._updated = now

    def _wait_for_token(self, now: float) -> float:
        if self._window_end is not None:
            return max(self._window_end - now, 0.0)
        return max((1.0 - self._tokens) * self.window / self.limit, 0.0)

    def acquire(self) -> float:
        """Take one token, waiting (through ``sleep``) until there is one; returns the wait.

        The wait is bounded: a token is taken after at most a few waits even if the injected
        clock does not move (the server still has the last word with a 429).
        """
        waited = 0.0
        for _ in range(4):
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(self._tokens - 1.0, 0.0)
                    self.waited += waited
                    return waited
                wait = self._wait_for_token(now)
            self._sleep(wait)
            waited += wait
        with self._lock:
            self._tokens = max(self._tokens - 1.0, 0.0)
            self.waited += waited
        return waited

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the bucket from an answer's rate headers (absent ones are ignored)."""
        limit, remaining, reset = (_header_number(headers, name) for name in self._headers)
        if limit is None and remaining is None:
            return
        with self._lock:
            now = self._clock()
            self._refill(now)
            if limit is not None and limit >= 1:
                self.limit = int(limit)
                self._tokens = min(self._tokens, float(self.limit))
            if remaining is None:
                return
            new_end = now + reset if reset is not None else None
            starts_new_window = (
                new_end is not None
                and self._window_end is not None
                and new_end > self._window_end + 1.0
            )
            if starts_new_window:
                self._tokens = float(remaining)
            else:
                self._tokens = min(self._tokens, float(remaining))
            if new_end is not None:
                self._window_end = new_end
            self._updated = now


_EPSILON = 1e-9  # refills computed in floating point land a hair below a whole token


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class PacedBasicAuth(requests.auth.AuthBase):
    """Basic auth that takes a rate-limit token before every attempt and reads the answer's headers.

    Sitting in the auth hook means retries made by the transport are paced too.

    Args:
        email: the Basic user name.
        token: the Basic password, kept as a :class:`~apunto_connect.credentials.Secret`.
        bucket: the budget to take a token from.
    """

    def __init__(self, email: str, token: Secret, bucket: HeaderPacedBucket) -> None:
        self._email = email
        self._token = token
        self._bucket = bucket

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._bucket.acquire()
        pair = f"{self._email}:{self._token.reveal()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        request.register_hook("response", self._observe)  # type: ignore[no-untyped-call]
        return request

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self._bucket.observe(response.headers)
        return response

    def __repr__(self) -> str:
        return f"PacedBasicAuth(email={self._email!r}, token={self._token!r})"
