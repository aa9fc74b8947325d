"""Fault injection: make an emulator slow, rate-limited, broken or rude on purpose.

A :class:`FaultPlan` is a list of :class:`Fault` rules. Each request is checked against the
rules in order; the first one that matches (vendor, method, path glob) and still has uses left
fires. Reliability tests use it to prove that every failure ends in a safe retry or a typed
error, and never in a document stamped twice.
"""

from __future__ import annotations

import enum
import fnmatch
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from .framework import Emulator, EmulatorRequest, EmulatorResponse, json_response

__all__ = ["DroppedConnection", "Fault", "FaultKind", "FaultPlan", "LateCommit", "apply_fault"]


class FaultKind(str, enum.Enum):
    """What goes wrong."""

    LATENCY = "latency"
    """Answer normally, but late."""
    RATE_LIMIT = "rate_limit"
    """429 with Retry-After, request not processed."""
    SERVER_ERROR = "server_error"
    """500/502/503 with a JSON body, request not processed."""
    HTML_ERROR = "html_error"
    """An HTML error page (a proxy or load balancer in front of the vendor)."""
    MALFORMED_JSON = "malformed_json"
    """The request IS processed, but the answer body is cut short."""
    DROP_BEFORE = "drop_before"
    """The connection drops before the server handles the request."""
    DROP_AFTER = "drop_after"
    """The server commits the request, then the connection drops: the dangerous case."""
    SLOW_ANSWER = "slow_answer"
    """The server commits the request at once but answers ``latency`` seconds later (real
    time): a client that dies or gives up meanwhile stamped without knowing it."""
    LATE_COMMIT = "late_commit"
    """The server commits the request ``latency`` seconds after it arrived, and answers only
    then: a client whose read timeout is shorter gives up first, and a look-up made right
    after that finds nothing yet (a late commit)."""


@attrs.frozen(slots=True)
class Fault:
    """One fault rule.

    Attributes:
        kind: what goes wrong.
        vendor: emulator name, or ``*``.
        method: HTTP method, or ``*``.
        path: glob on the request path (case-insensitive), e.g. ``*/cfdis``.
        times: how many matching requests it affects; ``-1`` for every one.
        status: HTTP status for error kinds.
        retry_after: seconds sent in ``Retry-After`` for ``rate_limit``.
        latency: seconds of delay for ``latency``, and until the commit for ``late_commit``.
        probability: chance of firing on a matching request (seeded by the plan).
        skip: how many matching requests pass untouched before it starts firing.
    """

    kind: FaultKind = attrs.field(converter=FaultKind)
    vendor: str = "*"
    method: str = "*"
    path: str = "*"
    times: int = 1
    status: int = 503
    retry_after: float | None = 1.0
    latency: float = 0.0
    probability: float = 1.0
    skip: int = 0

    def matches(self, vendor: str, method: str, path: str) -> bool:
        """Tell whether this rule applies to the request."""
        return (
            self.vendor in ("*", vendor)
            and self.method in ("*", method.upper())
            and fnmatch.fnmatch(path.lower(), self.path.lower())
        )


@attrs.frozen(slots=True)
class FiredFault:
    """A record of a fault that fired (for assertions and reports)."""

    kind: FaultKind
    vendor: str
    method: str
    path: str


class FaultPlan:
    """An ordered, thread-safe set of fault rules with use counters."""

    def __init__(self, faults: Iterable[Fault] = (), seed: int | None = None) -> None:
        self._rules: list[list[Any]] = []  # [fault, uses left, matches still to skip]
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.fired: list[FiredFault] = []
        for fault in faults:
            self.add(fault)

    def add(self, fault: Fault) -> FaultPlan:
        """Append a rule; returns the plan for chaining."""
        with self._lock:
            self._rules.append([fault, fault.times, fault.skip])
        return self

    def clear(self) -> None:
        """Remove every rule (the record of fired faults is kept)."""
        with self._lock:
            self._rules.clear()

    def take(self, vendor: str, method: str, path: str) -> Fault | None:
        """The fault that fires for this request, if any (uses one of its uses)."""
        with self._lock:
            for entry in self._rules:
                fault: Fault = entry[0]
                left, to_skip = entry[1], entry[2]
                if left == 0 or not fault.matches(vendor, method, path):
                    continue
                if to_skip > 0:
                    entry[2] = to_skip - 1
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                if left > 0:
                    entry[1] = left - 1
                self.fired.append(FiredFault(fault.kind, vendor, method.upper(), path))
                return fault
        return None


class DroppedConnection(Exception):
    """Raised by :func:`apply_fault` when the connection must drop; ``request_sent`` says when."""

    def __init__(self, request_sent: bool) -> None:
        super().__init__("connection dropped" + (" after commit" if request_sent else ""))
        self.request_sent = request_sent


class LateCommit(Exception):
    """Raised by :func:`apply_fault` for ``late_commit``: the transport decides how to wait.

    ``commit()`` makes the emulator act on the request and returns its answer; ``delay`` is
    when, in seconds after arrival.
    """

    def __init__(self, delay: float, commit: Callable[[], EmulatorResponse]) -> None:
        super().__init__(f"the request commits {delay:g}s late")
        self.delay = delay
        self.commit = commit


_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server is not responding.</p></body></html>"
)


def apply_fault(
    fault: Fault | None,
    emulator: Emulator,
    request: EmulatorRequest,
    sleep: Callable[[float], None] = time.sleep,
) -> EmulatorResponse:
    """Answer ``request`` through ``emulator`` with ``fault`` applied (or none).

    Raises:
        DroppedConnection: for the two drop kinds; the transport turns it into a broken
            connection.
        LateCommit: for ``late_commit``; the transport waits (or times out) and commits.
    """
    if fault is None:
        return emulator.handle(request)
    kind = fault.kind
    if kind is FaultKind.LATENCY:
        sleep(fault.latency)
        return emulator.handle(request)
    if kind is FaultKind.RATE_LIMIT:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        return json_response(429, {"message": "Too many requests"}, headers)
    if kind is FaultKind.SERVER_ERROR:
        return json_response(fault.status, {"message": "Internal server error"})
    if kind is FaultKind.HTML_ERROR:
        status = fault.status if fault.status >= 500 else 502
        return EmulatorResponse(status, _HTML_PAGE, {"Content-Type": "text/html"})
    if kind is FaultKind.DROP_BEFORE:
        raise DroppedConnection(request_sent=False)
    if kind is FaultKind.LATE_COMMIT:
        raise LateCommit(fault.latency, lambda: emulator.handle(request))
    response = emulator.handle(request)  # the remaining kinds commit first
    if kind is FaultKind.SLOW_ANSWER:
        time.sleep(fault.latency)  # real time: the client's socket or its killer is real
        return response
    if kind is FaultKind.DROP_AFTER:
        raise DroppedConnection(request_sent=True)
    cut = response.body[: max(1, len(response.body) // 2)] or b"{"
    return EmulatorResponse(response.status, cut, response.headers)
