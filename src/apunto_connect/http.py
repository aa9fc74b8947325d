"""The one HTTP transport every vendor module uses.

What it gives each provider:

* one :class:`requests.Session` per thread (connection reuse without sharing a session across
  threads, which requests does not promise to be safe), with a configurable pool size;
* timeouts that are always set — ``(connect, read)`` — plus an optional total deadline per call;
* one retry engine (tenacity): exponential backoff with jitter on connection errors, 408, 429 and
  5xx, honouring ``Retry-After`` up to a cap. Requests that are not idempotent (a POST that
  creates a fiscal document or spends a credit) are retried only when the caller says it is safe,
  except when the failure happened before any byte reached the server;
* logging with secrets redacted, and HTTP failures mapped to :mod:`apunto_connect.errors`.

Adapters (the sandbox, test fakes) can mark a connection error with an attribute
``apunto_request_sent = True/False`` to say whether the server could have received the request.
"""

from __future__ import annotations

import copy
import email.utils
import json as jsonlib
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timezone
from typing import Any
from urllib.parse import urlsplit

import attrs
import requests
import tenacity
from requests.adapters import HTTPAdapter

from ._version import __version__
from ._wire import json_or_none
from .errors import (
    InsufficientCredits,
    ProviderError,
    RateLimited,
    StampRejected,
    Timeout,
    TransportError,
)
from .errors import error_class_for_status as error_class_for_status  # kept importable from here
from .logsetup import configure_from_environment
from .redaction import Redactor, redact

__all__ = [
    "DEFAULT_TIMEOUT",
    "ErrorMapper",
    "RequestOptions",
    "RetryPolicy",
    "Transport",
    "default_error_mapper",
    "parse_retry_after",
]

log = logging.getLogger("apunto_connect.http")

TimeoutValue = float | tuple[float, float]
ErrorMapper = Callable[[str, requests.Response], ProviderError]
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# 408 and 429 mean the server did not process the request, so they are safe to retry for any
# method; a 5xx after a POST may hide a committed write.
_ALWAYS_RETRYABLE_STATUSES = frozenset({408, 429})


@attrs.frozen(slots=True)
class RetryPolicy:
    """How the transport retries.

    Attributes:
        max_retries: retries after the first attempt (so ``2`` means up to three attempts).
        initial_backoff: first wait in seconds; doubles each retry.
        max_backoff: cap of one wait.
        jitter: up to this many random seconds added to each wait (spreads retry storms).
        max_retry_after: the longest ``Retry-After`` honoured; a longer one is not waited for.
        retry_statuses: HTTP statuses worth retrying.
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    def with_max_retries(self, max_retries: int | None) -> RetryPolicy:
        """A copy with a provider's ``max_retries=`` keyword applied (itself when ``None``)."""
        return self if max_retries is None else attrs.evolve(self, max_retries=max_retries)


@attrs.frozen(slots=True)
class RequestOptions:
    """Per-call overrides, merged over the transport's defaults (the call wins).

    Attributes:
        timeout: ``(connect, read)`` seconds, or one number for both.
        max_retries: retries for this call.
        deadline: total seconds for the call, retries and waits included.
        headers: extra headers for this call.
        idempotent: force the retry rule; ``None`` decides from the HTTP method.
    """

    timeout: TimeoutValue | None = None
    max_retries: int | None = None
    deadline: float | None = None
    headers: Mapping[str, str] | None = None
    idempotent: bool | None = None


_DEFAULT_OPTIONS = RequestOptions()
_NO_STATUSES: frozenset[int] = frozenset()


class _RetryableFailure(Exception):
    """Internal: an attempt failed in a way the policy may retry."""

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait according to ``Retry-After`` (seconds or HTTP date) or ``retry-after-ms``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now())


def _first_text(body: Any, keys: Iterable[str]) -> str | None:
    if isinstance(body, Mapping):
        for key in keys:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
            if isinstance(value, Mapping):
                nested = _first_text(value, keys)
                if nested:
                    return nested
    return None


def default_error_mapper(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed response to the error tree using only the status and common body shapes.

    Vendor modules pass their own mapper to refine codes and messages; this one keeps whatever
    message the body carries verbatim, or the raw text when the body is not JSON.
    """
    body = json_or_none(response.content)
    message = _first_text(body, ("message", "Message", "error_description", "error", "detail"))
    if message is None:
        text = response.text.strip()
        message = text[:500] if text and not text.lstrip().startswith("<") else ""
        message = message or f"HTTP {response.status_code} {response.reason or ''}".strip()
    code = _first_text(body, ("code", "Code", "error_code"))
    return error_for_status(
        provider,
        response,
        message,
        vendor_code=code,
        details=body if isinstance(body, (Mapping, list)) else None,
    )


def error_for_status(
    provider: str,
    response: requests.Response,
    message: str,
    *,
    vendor_code: str | None = None,
    details: Any = None,
    request_id: str | None = None,
) -> ProviderError:
    """Build the error class that fits ``response.status_code``, carrying the vendor's text."""
    status = response.status_code
    common: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "vendor_code": vendor_code,
        "details": details,
        "request_id": request_id or _request_id(response),
        "raw_body": raw_body(response),
    }
    if status == 402:  # the stamping and tracking vendors' "no credits left"
        return InsufficientCredits(message, **common)
    kind = error_class_for_status(status)
    if kind is RateLimited:
        return RateLimited(message, retry_after=parse_retry_after(response.headers), **common)
    return kind(message, **common)


def raw_body(response: requests.Response) -> str | None:
    """The ``raw_body`` a ProviderError keeps: 4,000 characters, redacted; ``None`` if empty."""
    return redact(response.text[:4000]) if response.content else None


def stamp_rejected(
    provider: str,
    response: requests.Response,
    message: str,
    sat_code: str | None,
    *,
    details: Any = None,
    request_id: str | None = None,
) -> StampRejected:
    """A stamp the vendor refused: its words, status and body, the SAT rule as vendor code."""
    return StampRejected(
        message,
        sat_code=sat_code,
        provider=provider,
        status_code=response.status_code,
        vendor_code=sat_code,
        details=details,
        request_id=request_id,
        raw_body=raw_body(response),
    )


def _request_id(response: requests.Response) -> str | None:
    for name in ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Correlation-Id", "X-Log-Id"):
        value = response.headers.get(name)
        if value:
            return value
    return None


def _request_was_sent(exc: requests.RequestException) -> bool:
    """Tell whether the server could have received (and acted on) the failed request."""
    declared = getattr(exc, "apunto_request_sent", None)
    if isinstance(declared, bool):
        return declared
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.InvalidURL)):
        return False
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.ConnectionError):
        # urllib3 wraps "could not connect" in MaxRetryError(reason=NewConnectionError).
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        name = type(reason).__name__ if reason is not None else ""
        if name in {"NewConnectionError", "NameResolutionError", "ConnectTimeoutError"}:
            return False
    return True


def _split_timeout(value: TimeoutValue) -> tuple[float, float]:
    if isinstance(value, tuple):
        return float(value[0]), float(value[1])
    return float(value), float(value)


class Transport:
    """HTTP client shared by a provider: sessions, timeouts, retries, errors and logging.

    Args:
        provider: vendor short name, used in errors and logs.
        base_url: prefix for relative paths (point it at any compatible server).
        auth: a :mod:`requests` auth object (Basic, a bearer-token auth that refreshes...).
        headers: headers sent on every call.
        timeout: default ``(connect, read)`` seconds.
        retry: the retry policy.
        pool_maxsize: connections kept per host and thread.
        session: use this session for every thread instead of one per thread (for proxies,
            mTLS or test adapters; requests does not promise a shared session is thread-safe).
        error_mapper: turns a failed response into a :class:`ProviderError`.
        on_unauthorized: called once on a 401; return ``True`` after refreshing a token to have
            the request repeated.
        secrets: extra strings to mask in logs and error bodies (this transport's own
            :class:`~apunto_connect.redaction.Redactor`; see :meth:`replace_secret`).
        sleep, clock: injectable for tests (no real sleeping needed).
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        auth: requests.auth.AuthBase | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutValue = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        pool_maxsize: int = 10,
        session: requests.Session | None = None,
        error_mapper: ErrorMapper | None = None,
        on_unauthorized: Callable[[], bool] | None = None,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        configure_from_environment()  # APUNTO_LOG, read on the first provider built
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.headers: dict[str, str] = {"User-Agent": _user_agent(), "Accept": "application/json"}
        self.headers.update(headers or {})
        self.timeout = _split_timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.default_deadline: float | None = None
        self.pool_maxsize = pool_maxsize
        self.error_mapper = error_mapper or default_error_mapper
        self.on_unauthorized = on_unauthorized
        self.redactor = Redactor(s for s in secrets if s)
        self._sleep = sleep
        self._clock = clock
        self._shared_session = session
        self._local = threading.local()
        self._owned_sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=self.retry.initial_backoff,
            max=self.retry.max_backoff,
            jitter=self.retry.jitter,
        )
        # One retry controller for every call: what differs per call (attempt budget, deadline,
        # what to log) travels in the _Call passed as its argument. Tenacity keeps its running
        # state per thread, so threads may share it.
        self._retrying = tenacity.Retrying(
            stop=self._should_stop,
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            sleep=self._sleep,
            before_sleep=self._before_retry_sleep,
            reraise=True,
        )

    def with_options(
        self,
        *,
        timeout: TimeoutValue | None = None,
        deadline: float | None = None,
        max_retries: int | None = None,
    ) -> Transport:
        """A transport with other defaults that shares this one's sessions, auth and secrets.

        Closing either closes the shared sessions: release the original when done.
        """
        twin = copy.copy(self)
        if timeout is not None:
            twin.timeout = _split_timeout(timeout)
        if deadline is not None:
            twin.default_deadline = deadline
        if max_retries is not None:
            twin.retry = attrs.evolve(self.retry, max_retries=max_retries)
        return twin

    # -- secrets ----------------------------------------------------------------------------

    def add_secret(self, value: str) -> None:
        """Mask ``value`` in this transport's logs and error texts."""
        self.redactor.add_secret(value)

    def replace_secret(self, old: str | None, new: str) -> None:
        """Mask ``new`` from now on and forget ``old`` (a rotated login token)."""
        self.redactor.replace_secret(old, new)

    # -- sessions ---------------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The session of the calling thread (created on first use)."""
        if self._shared_session is not None:
            return self._shared_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_maxsize=self.pool_maxsize, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
            with self._lock:
                self._owned_sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session this transport created (not one the caller passed in)."""
        with self._lock:
            sessions, self._owned_sessions = self._owned_sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """Absolute URL for ``path`` (absolute URLs pass through untouched)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        options: RequestOptions | None = None,
        idempotent: bool | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        expected: Iterable[int] = (),
    ) -> requests.Response:
        """Send a request with retries; return the response or raise a typed error.

        ``expected`` lists non-2xx statuses the caller handles itself (e.g. 409 as "exists").
        Keyword overrides win over ``options``, which win over the transport's defaults.
        """
        opts = options or _DEFAULT_OPTIONS
        method = method.upper()
        call_timeout = _split_timeout(timeout or opts.timeout or self.timeout)
        retries = max_retries if max_retries is not None else opts.max_retries
        retries = self.retry.max_retries if retries is None else retries
        call_deadline = deadline if deadline is not None else opts.deadline
        if call_deadline is None:
            call_deadline = self.default_deadline
        safe = idempotent if idempotent is not None else opts.idempotent
        if safe is None:
            safe = method in _IDEMPOTENT_METHODS
        if opts.headers or headers:
            merged_headers = {**self.headers, **(opts.headers or {}), **(headers or {})}
        else:
            merged_headers = self.headers  # requests merges into a new dict; this one is not changed
        url = self.url(path)
        expected_statuses = frozenset(expected) if expected else _NO_STATUSES
        deadline_at = self._clock() + call_deadline if call_deadline is not None else None
        unauthorized_retry_used = False

        def attempt() -> requests.Response:
            nonlocal unauthorized_retry_used
            connect, read = call_timeout
            if deadline_at is not None:
                remaining = deadline_at - self._clock()
                if remaining <= 0:
                    raise Timeout(
                        f"{self.provider}: deadline of {call_deadline}s reached before {method} {url}",
                        provider=self.provider,
                        request_sent=False,
                    )
                connect, read = min(connect, remaining), min(read, remaining)
            response = self._send(
                method, url, params, json, data, files, merged_headers, (connect, read), safe
            )
            if response.status_code < 400 or response.status_code in expected_statuses:
                return response
            if (
                response.status_code == 401
                and self.on_unauthorized is not None
                and not unauthorized_retry_used
            ):
                unauthorized_retry_used = True
                if self.on_unauthorized():
                    return attempt()
            error = self._owned(self.error_mapper(self.provider, response))
            if response.status_code not in self.retry.retry_statuses:
                raise error
            if not safe and response.status_code not in _ALWAYS_RETRYABLE_STATUSES:
                raise error
            retry_after = parse_retry_after(response.headers)
            if retry_after is not None and retry_after > self.retry.max_retry_after:
                raise error  # the vendor wants a longer pause than we are willing to hold
            raise _RetryableFailure(error, retry_after)

        call = _Call(method, url, retries, deadline_at, attempt)
        try:
            return call.run()
        except _RetryableFailure as first_failure:
            call.replay = first_failure
        try:
            return self._retrying(_retry_attempt, call)
        except _RetryableFailure as failure:
            if deadline_at is not None and self._clock() < deadline_at and call.attempts < retries + 1:
                raise Timeout(
                    f"{self.provider}: deadline of {call_deadline}s would pass before the next "
                    f"retry; last error: {failure.error}",
                    provider=self.provider,
                    request_sent=getattr(failure.error, "request_sent", True),
                ) from failure.error
            raise failure.error from None

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like :meth:`request`, then decode the JSON body (``None`` for an empty body).

        A body that is not JSON (an HTML error page, a truncated answer) raises
        :class:`TransportError` with ``request_sent=True``: the server got the request but we
        cannot tell what it did.
        """
        response = self.request(method, path, **kwargs)
        return self.decode_json(response)

    def decode_json(self, response: requests.Response) -> Any:
        """Decode a response body as JSON, or raise :class:`TransportError`."""
        if not response.content or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            snippet = self._redact(response.text[:200])
            raise TransportError(
                f"{self.provider}: expected JSON from {self._loggable(response.url)}, "
                f"got {response.headers.get('Content-Type', 'no content type')}: {snippet!r}",
                provider=self.provider,
                request_sent=True,
            ) from None

    # -- internals --------------------------------------------------------------------------

    def _environment_settings(self, session: requests.Session, url: str) -> dict[str, Any]:
        """Proxies and CA bundle from the environment, read once per host and session.

        ``requests`` reads every proxy variable of the environment on every request (a sixth
        of an in-process stamp); the environment of a running process does not change, so
        the answer is kept.
        """
        host = urlsplit(url)[:2]
        cache: dict[tuple[str, str], dict[str, Any]] = self.__dict__.setdefault(
            "_env_settings", {}
        )
        key = (f"{id(session)}:{host[0]}", host[1])
        found = cache.get(key)
        if found is not None:
            return found
        settings = dict(session.merge_environment_settings(url, {}, None, None, None))
        with self._lock:
            if len(cache) > 64:  # a transport talks to a handful of hosts
                cache.clear()
            cache[key] = settings
        return settings

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        files: Any,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
        safe: bool,
    ) -> requests.Response:
        started = self._clock()
        if json is not None and log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s body=%s", method, self._loggable(url), self._redact(_dump(json)))
        try:
            session = self.session
            if type(session).request is not requests.Session.request:
                # A caller's session that wraps request() (instrumentation) is used as given.
                response = session.request(
                    method, url, params=params, json=json, data=data, files=files,
                    headers=headers, auth=self.auth, timeout=timeout,
                )
            else:
                prepared = session.prepare_request(requests.Request(
                    method, url, params=params, json=json, data=data, files=files,
                    headers=headers, auth=self.auth,
                ))
                response = session.send(
                    prepared, timeout=timeout, allow_redirects=True,
                    **self._environment_settings(session, prepared.url or url),
                )
        except requests.RequestException as exc:
            sent = _request_was_sent(exc)
            error_cls = Timeout if isinstance(exc, requests.Timeout) else TransportError
            error = error_cls(
                f"{self.provider}: {method} {self._loggable(url)} failed: "
                f"{self._redact(str(exc))}",
                provider=self.provider,
                request_sent=sent,
            )
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s -> %s (sent=%s)", method, self._loggable(url), type(exc).__name__, sent
                )
            if not sent or safe:
                raise _RetryableFailure(error) from exc
            raise error from exc
        # Redacting the URL is the costly part of a log line: only for an enabled logger.
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s -> %d in %.3fs", method, self._loggable(response.url or url),
                response.status_code, self._clock() - started,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("response body=%s", self._redact(response.text[:2000]))
        return response

    def _should_stop(self, state: tenacity.RetryCallState) -> bool:
        call: _Call = state.args[0]
        if state.attempt_number >= call.retries + 1:
            return True
        # Stop when the next wait would run past the caller's deadline.
        return call.deadline_at is not None and (
            self._clock() + state.upcoming_sleep >= call.deadline_at
        )

    def _retry_wait(self, state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableFailure) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._backoff(state))

    def _before_retry_sleep(self, state: tenacity.RetryCallState) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        call: _Call = state.args[0]
        failure = state.outcome.exception() if state.outcome else None
        log.info(
            "%s %s: retrying in %.2fs after attempt %d (%s)",
            call.method,
            self._loggable(call.url),
            state.upcoming_sleep,
            state.attempt_number,
            self._redact(str(failure)),
        )

    def _redact(self, text: str) -> str:
        return self.redactor.redact(text)

    def _owned(self, error: ProviderError) -> ProviderError:
        """Have ``error`` mask this transport's own secrets too (its text and raw body)."""
        error.redactor = self.redactor
        if error.raw_body:
            error.raw_body = self._redact(error.raw_body)
        return error

    def _loggable(self, url: str) -> str:
        return self._redact(url)


class _Call:
    """What one :meth:`Transport.request` call brings to the shared retry controller."""

    __slots__ = ("attempt", "attempts", "deadline_at", "method", "replay", "retries", "url")

    def __init__(
        self,
        method: str,
        url: str,
        retries: int,
        deadline_at: float | None,
        attempt: Callable[[], requests.Response],
    ) -> None:
        self.method = method
        self.url = url
        self.retries = retries
        self.deadline_at = deadline_at
        self.attempt = attempt
        self.attempts = 0
        # The first attempt runs outside tenacity (the common case needs no retry machinery);
        # when it fails, the controller starts by replaying that failure as its attempt 1.
        self.replay: _RetryableFailure | None = None

    def run(self) -> requests.Response:
        self.attempts += 1
        return self.attempt()


def _retry_attempt(call: _Call) -> requests.Response:
    failure, call.replay = call.replay, None
    if failure is not None:
        raise failure
    return call.run()


def _dump(value: Any) -> str:
    try:
        return jsonlib.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _user_agent() -> str:
    return (
        f"apunto-connect/{__version__} python/{platform.python_version()} "
        f"requests/{requests.__version__}"
    )
