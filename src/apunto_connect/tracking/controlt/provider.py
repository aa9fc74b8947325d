"""The ControlT provider: construction, account, tokens and the trip operations.

Every request goes through :class:`~apunto_connect.http.Transport`; paths and names come from
the provider's :attr:`ControlTProvider.spec`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import requests

from ..._caches import BoundedCache, bounded_cache
from ..._overrides import provider_spec, split_endpoint
from ..._wire import utc_now
from ...credentials import Secret, resolve_credentials
from ...errors import (
    AuthenticationError,
    PermissionDenied,
    ProviderError,
    Timeout,
    ValidationError,
)
from ...http import DEFAULT_TIMEOUT, RetryPolicy, Transport
from ...models.common import Capability, ConnectionStatus
from ...models.tracking import Assignment, Shipment, Tracking, TrackingStatus
from ...vendor_spec import VendorSpec
from ..base import InvalidTransition, TrackingProvider, check_environment, check_transition
from .errors import controlt_error, denied_message
from .mapping import (
    ACTIVATE_FROM,
    ASSIGN_FROM,
    CLOSE_FROM,
    assignment_to_controlt,
    controlt_to_tracking,
    format_datetime,
    shipment_to_controlt,
)
from .spec import BASE_URL, CREDENTIALS, LEGACY_KEYS, PROVIDER, SPEC

__all__ = ["ControlTProvider"]

TOKEN_SKEW = 60.0
"""Seconds before expiry at which a token is renewed (a request in flight must not outlive it)."""

# -- token handling ------------------------------------------------------------------------------


class _Tokens:
    """One cached bearer token per provider: refreshed near expiry or once after a rejection."""

    def __init__(self, login: Callable[[], tuple[str, float]], clock: Callable[[], float]) -> None:
        self._login = login
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.logins = 0

    def current(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - TOKEN_SKEW:
                self._refresh()
            assert self._token is not None
            return self._token

    def rejected(self, token: str | None) -> bool:
        """Refresh after a 401, unless another thread already replaced the rejected token."""
        with self._lock:
            if token is None or token == self._token:
                self._refresh()
        return True

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def _refresh(self) -> None:
        token, lifetime = self._login()
        self.logins += 1
        self._token = token
        self._expires_at = self._clock() + lifetime


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, tokens: _Tokens) -> None:
        self.tokens = tokens
        self._local = threading.local()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.tokens.current()
        self._local.token = token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def last_token(self) -> str | None:
        token: str | None = getattr(self._local, "token", None)
        return token


# -- provider ------------------------------------------------------------------------------------


class ControlTProvider(TrackingProvider):
    """ControlT land-trip monitoring as a :class:`TrackingProvider` (see the module docstring).

    Args:
        username, company_code, api_key: ControlT credentials (else environment or keyring).
        base_url: another server speaking the same API (the emulator, a proxy).
        environment: ``production`` or ``emulator`` (a label in ``check_connection``).
        session, timeout, max_retries, sleep: transport options; ``sleep`` also paces
            :meth:`wait_until_created`.
        spec: overrides of :data:`~.spec.SPEC` (``{"path.create": "POST /Viaje"}``); unknown
            keys are refused.
        now: the aware current time, for activation and closing dates.
        clock: monotonic seconds, for token expiry and the bound of
            :meth:`wait_until_created`.
        endpoints: deprecated spelling of ``spec`` with the old table's keys (``"create"``,
            ``"format.date"``); accepted for one release with a ``DeprecationWarning``.
    """

    name: ClassVar[str] = PROVIDER
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.CREATE_TRACKING,
            Capability.GET_TRACKING,
            Capability.LIST_TRACKINGS,
            Capability.ASSIGN,
            Capability.ACTIVATE,
            Capability.CLOSE,
        }
    )

    def __init__(
        self,
        *,
        username: str | None = None,
        company_code: str | None = None,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        spec: Mapping[str, Any] | VendorSpec | None = None,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
        endpoints: Mapping[str, Any] | None = None,
    ) -> None:
        check_environment("ControlT", environment)
        creds = resolve_credentials(
            PROVIDER, CREDENTIALS,
            {"username": username, "company_code": company_code, "api_key": api_key},
        )
        self.username: str = creds["username"]
        self.company_code: str = creds["company_code"]
        self._api_key: Secret = creds["api_key"]
        self.environment = environment
        self.spec: VendorSpec = provider_spec(
            SPEC, spec, legacy=endpoints, legacy_keys=LEGACY_KEYS, owner="ControlTProvider"
        )
        self._sleep = sleep
        self._clock = clock
        self._now = now or utc_now
        retry = RetryPolicy().with_max_retries(max_retries)
        common: dict[str, Any] = {
            "timeout": timeout or DEFAULT_TIMEOUT, "retry": retry, "session": session,
            "error_mapper": controlt_error, "secrets": [self._api_key.reveal()], "sleep": sleep,
        }
        self._login_transport = Transport(PROVIDER, base_url or BASE_URL, **common)
        self._tokens = _Tokens(self._login, clock)
        self._auth = _BearerAuth(self._tokens)
        self._transport = Transport(
            PROVIDER, base_url or BASE_URL, auth=self._auth,
            on_unauthorized=lambda: self._tokens.rejected(self._auth.last_token()), **common,
        )
        self._travel_ids: BoundedCache[str, str] = bounded_cache("controlt.travel_ids")
        self._ids_lock = threading.Lock()
        self._last_token: str | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def _f(self, name: str) -> str:
        return str(self.spec[f"field.{name}"])

    def _login(self) -> tuple[str, float]:
        method, path = split_endpoint(self.spec["path.login"])
        form = {
            self._f("grant_type"): self.spec["value.grant_type"],
            self._f("username"): self.username,
            self._f("password"): self._api_key.reveal(),
            self._f("company_code"): self.company_code,
        }
        # Logging in twice is harmless, so a dropped login may be retried.
        data = self._login_transport.request_json(method, path, data=form, idempotent=True)
        token = data.get(self._f("access_token")) if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                "ControlT login answered without an access token", provider=PROVIDER
            )
        try:
            lifetime = float(data.get(self._f("expires_in")) or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        # The token is this provider's secret only: its transports mask it, and forget the
        # previous one, so a long-running process does not keep every token it was issued.
        with self._ids_lock:
            previous, self._last_token = self._last_token, token
        for transport in (self._transport, self._login_transport):
            transport.replace_secret(previous, token)
        return token, lifetime

    def _call(
        self, name: str, *, path_params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[requests.Response, Any]:
        method, path = split_endpoint(self.spec[f"path.{name}"])
        path = path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        for attempt in range(2):
            response = self._transport.request(method, path, **kwargs)
            body = self._transport.decode_json(response)
            denied = denied_message(body)
            if denied is None:
                return response, body
            if attempt == 0:
                # Some answers say "denied" inside a 200: a stale token; log in again once.
                self._tokens.rejected(self._auth.last_token())
                continue
            raise PermissionDenied(denied, provider=PROVIDER, status_code=response.status_code,
                                   details=body if isinstance(body, Mapping) else None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _registration(self, trip_number: str) -> Mapping[str, Any]:
        _, body = self._call("registration", path_params={"trip_number": trip_number})
        return body if isinstance(body, Mapping) else {}

    def _travel(self, travel_id: str) -> Mapping[str, Any]:
        _, body = self._call("travel", path_params={"travel_id": travel_id})
        if isinstance(body, Mapping) and isinstance(body.get(self._f("items")), Mapping):
            body = body[self._f("items")]
        return body if isinstance(body, Mapping) else {}

    def _remember(self, trip_number: str, travel_id: Any) -> None:
        if travel_id not in (None, ""):
            self._travel_ids.put(trip_number, str(travel_id))

    def _travel_id(self, trip_number: str) -> str | None:
        return self._travel_ids.get(trip_number)

    @staticmethod
    def _trip(tracking_id: str) -> str:
        trip = str(tracking_id or "").strip()
        if not trip:
            raise ValidationError("tracking_id (the trip reference) is empty", field="tracking_id")
        return trip

    # -- operations -------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Log in and read one page of active travels."""
        account = f"{self.username} @ {self.company_code}"
        try:
            self._tokens.forget()
            _, body = self._call(
                "active_travels", params={self._f("size"): 1, self._f("page"): 1}
            )
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(PROVIDER, ok=False, account=account,
                                    environment=self.environment, detail=exc.message)
        return ConnectionStatus(
            PROVIDER, ok=True, account=account, environment=self.environment,
            detail="logged in; active travels readable",
            extra={"active_travels_page": len(self._items(body))},
        )

    def _create_tracking(self, shipment: Shipment, **options: Any) -> Tracking:
        """Register a land service at ControlT; the answer is usually ``PENDING``.

        Only land services whose service status is active or finished are accepted (checked
        before any call). Safe to retry: a repeated trip number is answered 409 with the
        existing registration, which is returned as is (``extra["already_existed"]``).
        Follow with :meth:`wait_until_created`.
        """
        if options:
            raise ValidationError(
                f"ControlT's create_tracking takes no options (got {sorted(options)})",
                field="options",
            )
        body = shipment_to_controlt(shipment, self.company_code, self.spec)
        trip = str(body[self._f("trip_number")])
        response, data = self._call("create", json=body, idempotent=True, expected=(409,))
        existed = response.status_code == 409
        registration = data if isinstance(data, Mapping) else {}
        if not registration.get(self._f("registration_state")):
            registration = self._registration(trip)
        tracking = controlt_to_tracking(trip, registration, None, self.spec)
        self._remember(trip, tracking.travel_id)
        if tracking.status is TrackingStatus.CREATED and tracking.travel_id:
            tracking = self._with_travel(trip, registration, tracking.travel_id)
        return attrs.evolve(tracking, extra={**tracking.extra, "already_existed": existed})

    def _with_travel(self, trip: str, registration: Mapping[str, Any], travel_id: str) -> Tracking:
        return controlt_to_tracking(trip, registration, self._travel(travel_id), self.spec)

    def _get_tracking(self, tracking_id: str) -> Tracking:
        """The trip's registration status, and once created its travel state and assignment."""
        trip = self._trip(tracking_id)
        travel_id = self._travel_id(trip)
        registration: Mapping[str, Any]
        if travel_id is None:
            registration = self._registration(trip)
            pending = controlt_to_tracking(trip, registration, None, self.spec)
            if pending.status is not TrackingStatus.CREATED or not pending.travel_id:
                return pending
            travel_id = pending.travel_id
            self._remember(trip, travel_id)
        else:
            registration = {
                self._f("registration_state"): self.spec["value.registration_created"],
                self._f("travel_id"): travel_id,
            }
        return self._with_travel(trip, registration, travel_id)

    def wait_until_created(
        self,
        tracking_id: str,
        *,
        timeout: float = 600.0,
        interval: float = 2.0,
        max_interval: float = 30.0,
    ) -> Tracking:
        """Poll until the registration leaves ``PENDING``; waits double up to ``max_interval``.

        ControlT may take several minutes to answer. Polling is bounded by ``timeout`` seconds
        (slept time, or wall time when that is longer).

        Raises:
            Timeout: still pending after ``timeout``.
            ProviderError: ControlT rejected the registration (its message verbatim).
        """
        started = self._clock()
        slept = 0.0
        wait = max(interval, 0.01)
        while True:
            tracking = self._get_tracking(tracking_id)
            if tracking.status is TrackingStatus.CANCELLED and tracking.travel_id is None:
                raise ProviderError(
                    str(tracking.extra.get("message") or "ControlT rejected the registration"),
                    provider=PROVIDER, vendor_code=tracking.native_status,
                    details=dict(tracking.raw),
                )
            if tracking.status is not TrackingStatus.PENDING:
                return self._observed(tracking)
            elapsed = max(self._clock() - started, slept)
            if elapsed >= timeout:
                raise Timeout(
                    f"controlt: trip {tracking_id} still PENDING after {timeout:g}s",
                    provider=PROVIDER, request_sent=True,
                )
            pause = min(wait, max_interval, timeout - elapsed)
            self._sleep(pause)
            slept += pause
            wait *= 2

    def _transition(
        self,
        tracking_id: str,
        operation: str,
        allowed: frozenset[TrackingStatus],
        body: Mapping[str, Any],
    ) -> Tracking:
        trip = self._trip(tracking_id)
        current = self._get_tracking(trip)
        check_transition(PROVIDER, operation, current.status, allowed, trip)
        assert current.travel_id is not None  # CREATED and later always carry one
        try:
            _, data = self._call(operation, path_params={"travel_id": current.travel_id}, json=body)
        except InvalidTransition as exc:
            raise InvalidTransition(
                exc.message, operation=operation, current_status=None, allowed_from=allowed,
                provider=PROVIDER, status_code=exc.status_code, details=exc.details,
                raw_body=exc.raw_body,
            ) from exc
        if isinstance(data, Mapping) and data.get(self._f("state")):
            registration = dict(current.raw.get("registration") or {})
            return controlt_to_tracking(trip, registration, data, self.spec)
        return self._get_tracking(trip)

    def _assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        """Assign carrier, vehicle and driver (validated locally first) → ``ASSIGNED``."""
        body = assignment_to_controlt(assignment, self.spec)
        return self._transition(tracking_id, "assign", ASSIGN_FROM, body)

    def _who_and_when(self, by: str) -> dict[str, Any]:
        user = (by or "").strip() if isinstance(by, str) else ""
        if not user:
            raise ValidationError("say who does it: by= must be a non-empty user name", field="by",
                                  code="CONTROLT-USER")
        return {self._f("user"): user, self._f("date"): format_datetime(self._now(), self.spec)}

    def _activate(self, tracking_id: str, *, by: str) -> Tracking:
        """Start monitoring an assigned trip; ControlT records ``by`` and the time."""
        return self._transition(tracking_id, "activate", ACTIVATE_FROM, self._who_and_when(by))

    def _close(self, tracking_id: str, *, by: str) -> Tracking:
        """Finish monitoring an active trip; records ``by`` and the time. Nothing follows."""
        return self._transition(tracking_id, "close", CLOSE_FROM, self._who_and_when(by))

    def _items(self, body: Any) -> Sequence[Any]:
        if isinstance(body, list):
            return body
        if isinstance(body, Mapping):
            items = body.get(self._f("items"))
            if isinstance(items, list):
                return items
        return []

    def _list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Active travels (``GET /Resume``), or travels between ``date_start`` and ``date_end``.

        Keyword arguments: ``date_start``/``date_end`` (dates; both or neither), ``page_size``
        (default 50), ``limit``. Lazy: one page is fetched at a time.
        """
        start = filters.pop("date_start", None)
        end = filters.pop("date_end", None)
        page_size = int(filters.pop("page_size", self.spec["limit.page_size"]))
        limit = filters.pop("limit", None)
        if filters:
            raise ValidationError(
                f"unknown ControlT filters {sorted(filters)}; use date_start, date_end, "
                "page_size, limit", field="filters",
            )
        if (start is None) != (end is None):
            raise ValidationError("give both date_start and date_end, or neither", field="date_start")
        if page_size < 1:
            raise ValidationError("page_size must be at least 1", field="page_size")
        params: dict[str, Any] = {}
        name = "active_travels"
        if start is not None and end is not None:
            name = "search"
            fmt = self.spec["value.date_format"]
            params = {self._f("date_start"): _as_date(start).strftime(fmt),
                      self._f("date_end"): _as_date(end).strftime(fmt)}
        return self._pages(name, params, page_size, None if limit is None else int(limit))

    def _pages(
        self, name: str, params: Mapping[str, Any], size: int, limit: int | None
    ) -> Iterator[Tracking]:
        page = 1
        yielded = 0
        while limit is None or yielded < limit:
            _, body = self._call(name, params={**params, self._f("size"): size, self._f("page"): page})
            items = self._items(body)
            for item in items:
                if limit is not None and yielded >= limit:
                    return
                travel = item if isinstance(item, Mapping) else {}
                trip = str(travel.get(self._f("trip_number")) or travel.get(self._f("travel_id")))
                self._remember(trip, travel.get(self._f("travel_id")))
                yield controlt_to_tracking(trip, None, travel, self.spec)
                yielded += 1
            if len(items) < size:
                return
            page += 1

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self._transport.close()
        self._login_transport.close()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{value!r} is not a date (YYYY-MM-DD)", field="date") from None

