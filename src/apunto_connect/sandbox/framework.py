"""The building blocks every vendor emulator uses: requests, responses, routing and state.

An emulator is a small stateful application. It never sees :mod:`requests` or WSGI: both
transports (the in-process adapter and the loopback server) turn what they receive into an
:class:`EmulatorRequest` and write back the :class:`EmulatorResponse` it returns, so one
emulator serves both.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import attrs

from ..errors import ConfigurationError
from ..vendor_spec import VendorSpec

__all__ = [
    "Emulator",
    "EmulatorRequest",
    "EmulatorResponse",
    "Handler",
    "HttpError",
    "Router",
    "SandboxClock",
    "basic_auth",
    "bearer_token",
    "json_response",
    "route",
]


class SandboxClock:
    """Simulated time shared by all emulators: real time plus whatever was advanced.

    Emulators whose state moves with time (a trip that takes seconds to register, a container
    that sails) read :meth:`now`; tests and the demo call :meth:`advance` instead of sleeping.
    """

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0
        self._fixed = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, simulated."""
        base = self._fixed if self._fixed is not None else time.time()
        return base + self._offset

    def now_unshifted(self) -> float:
        """What :meth:`now` would say had time never been advanced."""
        return self._fixed if self._fixed is not None else time.time()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward."""
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` that advances simulated time instantly (for providers' polling)."""
        self.advance(seconds)


@attrs.frozen(slots=True)
class EmulatorRequest:
    """What an emulator receives, independent of the transport.

    Attributes:
        method: upper-case HTTP method.
        path: path below the emulator's base URL, starting with ``/`` (no query string).
        query: query parameters (last value wins; ``query_all`` keeps repeats).
        headers: header names in lower case.
        body: raw body bytes.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    query_all: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(
        cls, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> EmulatorRequest:
        """Assemble a request from raw parts (used by both transports)."""
        pairs = tuple(parse_qsl(query_string, keep_blank_values=True))
        return cls(
            method=method.upper(),
            path="/" + path.lstrip("/"),
            query=dict(pairs),
            headers={k.lower(): v for k, v in headers.items()},
            body=body or b"",
            query_all=pairs,
        )

    def json(self) -> Any:
        """The body decoded as JSON; a malformed body is the client's error (HTTP 400)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise HttpError(400, {"message": f"Malformed JSON body: {exc}"}) from None

    def header(self, name: str, default: str = "") -> str:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@attrs.frozen(slots=True)
class EmulatorResponse:
    """What an emulator answers."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> EmulatorResponse:
    """A JSON response with the right content type."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, default=str).encode()
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return EmulatorResponse(status, body, all_headers)


class HttpError(Exception):
    """Raise inside a handler to answer with ``status`` and a JSON (or raw) body."""

    def __init__(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})

    def response(self) -> EmulatorResponse:
        """The response this error stands for."""
        if isinstance(self.payload, bytes):
            return EmulatorResponse(self.status, self.payload, self.headers)
        return json_response(self.status, self.payload, self.headers)


def basic_auth(request: EmulatorRequest) -> tuple[str, str] | None:
    """Decode HTTP Basic credentials, or ``None`` when absent or malformed."""
    header = request.header("authorization")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def bearer_token(request: EmulatorRequest) -> str:
    """The token of a ``Bearer`` Authorization header; empty when absent or another scheme."""
    header = request.header("authorization")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


Handler = Callable[..., EmulatorResponse]


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Mark an emulator method as the handler of ``method pattern``.

    Patterns use ``{name}`` placeholders for one path segment; matching is case-insensitive,
    as the ASP.NET services some vendors run on are.
    """

    def mark(func: Handler) -> Handler:
        routes: list[tuple[str, str]] = getattr(func, "_routes", [])
        routes.append((method.upper(), pattern))
        func._routes = routes  # type: ignore[attr-defined]
        return func

    return mark


@functools.lru_cache(maxsize=64)
def _base_paths(base_urls: tuple[str, ...]) -> tuple[str, ...]:
    """The non-empty paths of an emulator's base URLs, lower-cased, the longest first."""
    paths = {urlsplit(url).path.rstrip("/").lower() for url in base_urls}
    return tuple(sorted(paths - {""}, key=len, reverse=True))


class Router:
    """Matches ``(method, path)`` to a handler and its path parameters."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on ``pattern``."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.strip("/"))
        compiled = re.compile(rf"^/?{regex}/?$", re.IGNORECASE)
        self._routes.append((method.upper(), compiled, pattern, handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        """The handler, path parameters and route pattern for a request, or ``None``."""
        path_matched = False
        for route_method, regex, pattern, handler in self._routes:
            found = regex.match(path)
            if not found:
                continue
            path_matched = True
            if route_method == method.upper():
                return handler, found.groupdict(), pattern
        if path_matched:
            raise HttpError(405, {"message": f"Method {method} not allowed on {path}"})
        return None


class Emulator:
    """Base class of every vendor emulator.

    Subclasses set ``name`` (the provider name), ``base_urls`` (every real URL prefix the
    vendor's clients use: production and the vendor's own test host), ``demo_credentials``
    (what :class:`~apunto_connect.sandbox.Sandbox` passes to the provider), and decorate methods
    with :func:`route`. Handlers receive the request and path parameters as keyword arguments.
    State lives on the instance and is guarded by ``self.lock`` (the loopback server is
    threaded).

    An emulator that follows its provider's facts names them in ``vendor_spec``: it then takes
    the provider's ``spec=`` overrides, merged into ``self.spec`` by
    :meth:`~apunto_connect.vendor_spec.VendorSpec.with_overrides` (unknown keys refused), so an
    emulator and a provider given the same ``spec=`` agree. Such an emulator creates its
    starting state in :meth:`setup` instead of overriding ``__init__``.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "invoicing"
    base_urls: ClassVar[tuple[str, ...]] = ()
    demo_credentials: ClassVar[Mapping[str, str]] = {}
    vendor_spec: ClassVar[VendorSpec | None] = None
    spec: VendorSpec  # set when vendor_spec is

    def __init__(
        self,
        clock: SandboxClock | None = None,
        seed: int | None = None,
        spec: Mapping[str, Any] | VendorSpec | None = None,
    ) -> None:
        """An emulator on ``clock`` (a fresh one by default), ``seed`` for reproducible ids.

        Raises:
            ConfigurationError: ``spec`` names an unknown key or one the emulator cannot
                follow, or is given to an emulator without a ``vendor_spec``.
        """
        self.clock = clock or SandboxClock()
        self.seed = seed
        self.lock = threading.RLock()
        self.router = Router()
        if self.vendor_spec is not None:
            self.check_spec(spec or {})
            self.spec = self.vendor_spec.with_overrides(spec)
        elif spec:
            raise ConfigurationError(f"the {self.name} emulator takes no spec= overrides")
        for attr in dir(type(self)):
            func = getattr(type(self), attr, None)
            for method, pattern in getattr(func, "_routes", ()):
                self.router.add(method, pattern, getattr(self, attr))
        self.setup()

    def setup(self) -> None:
        """Create the emulated account's starting state (called once, at the end of __init__).

        ``self.clock``, ``self.seed``, ``self.spec`` and the :func:`route` table are ready.
        """

    def check_spec(self, overrides: Mapping[str, Any] | VendorSpec) -> None:
        """Refuse ``spec=`` overrides this emulator cannot follow (it accepts every known key).

        Raises:
            ConfigurationError: an override the emulator cannot follow.
        """

    def route_spec(
        self, spec: Mapping[str, Any], handlers: Mapping[str, Handler]
    ) -> None:
        """Answer with ``handlers[name]`` at the spec's ``path.<name>`` (``"METHOD /path"``).

        For emulators whose paths follow the provider's ``spec=`` overrides. Fixed paths are
        added before templated ones, so ``/Travel/search`` is never read as a travel id.
        """
        for name in sorted(handlers, key=lambda n: "{" in spec[f"path.{n}"]):
            method, _, path = spec[f"path.{name}"].partition(" ")
            self.router.add(method, path, handlers[name])

    def provider_options(self) -> dict[str, Any]:
        """Extra keyword arguments for the provider besides credentials and session.

        Emulators with simulated time return e.g. ``{"sleep": self.clock.sleep}`` so that a
        provider's polling advances the sandbox clock instead of waiting for real.
        """
        return {}

    def issued_uuids(self) -> list[str]:
        """The UUID of every CFDI this emulator stamped (invoicing emulators; tests count them)."""
        return []

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request (authentication, routing and errors included).

        A path that still carries the vendor's own base path (``/api/v1/invoices`` where
        Alegra's base URL is ``https://api.alegra.com/api/v1``) is answered as the path after
        it, so a client that lets one change only the host works on loopback too.
        """
        request = self._without_base_path(request)
        try:
            denied = self.authenticate(request)
            if denied is not None:
                return denied
            matched = self.router.match(request.method, request.path)
            if matched is None:
                return self.not_found(request)
            handler, params, _pattern = matched
            with self.lock:
                return handler(request, **params)
        except HttpError as exc:
            return exc.response()

    def _without_base_path(self, request: EmulatorRequest) -> EmulatorRequest:
        lowered = request.path.lower()
        for prefix in _base_paths(self.base_urls):
            if lowered == prefix or lowered.startswith(prefix + "/"):
                return attrs.evolve(request, path=request.path[len(prefix):] or "/")
        return request

    # Attributes that are machinery rebuilt by __init__, not the emulated vendor's data.
    _MACHINERY: ClassVar[frozenset[str]] = frozenset({"clock", "seed", "lock", "router", "spec"})

    def dump_state(self) -> dict[str, Any]:
        """Everything the emulator keeps, as JSON-ready data (the CLI's ``--sandbox-state``).

        The default saves the emulator's attributes; an emulator may give a JSON form instead.
        """
        from .state import pickle_state

        with self.lock:
            return pickle_state(
                {k: v for k, v in vars(self).items() if k not in self._MACHINERY}
            )

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`dump_state` returned."""
        from .state import unpickle_state

        data = unpickle_state(state)
        with self.lock:
            for key, value in data.items():
                if key not in self._MACHINERY:
                    setattr(self, key, value)

    def route_of(self, request: EmulatorRequest) -> str | None:
        """The pattern of the route ``request`` hits (used by fault plans), if any."""
        try:
            matched = self.router.match(request.method, request.path)
        except HttpError:
            return None
        return matched[2] if matched else None

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Return the vendor's 401 answer for bad credentials, or ``None`` to proceed."""
        return None

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """The vendor's answer to an unknown path."""
        return json_response(404, {"message": f"No route for {request.method} {request.path}"})
