"""The ShipsGo provider: construction, account, credits and the shipment operations.

Every request goes through :class:`~apunto_connect.http.Transport`; paths and headers come
from the provider's :attr:`ShipsGoProvider.spec`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from ..._overrides import provider_spec, split_endpoint
from ...credentials import Secret, resolve_credentials
from ...errors import (
    AuthenticationError,
    ConfigurationError,
    NotFound,
    PermissionDenied,
    ProviderError,
    ValidationError,
)
from ...http import DEFAULT_TIMEOUT, RetryPolicy, Transport
from ...models.common import Capability, ConnectionStatus
from ...models.tracking import Shipment, Tracking, WebhookEvent
from ...vendor_spec import VendorSpec
from ..base import TrackingProvider, check_environment
from .errors import shipsgo_error, shipsgo_validation_error
from .mapping import (
    filters_to_params,
    shipment_to_shipsgo,
    shipsgo_to_tracking,
    verify_webhook_event,
)
from .spec import BASE_URL, CREDENTIALS, LEGACY_KEYS, PROVIDER, SPEC

__all__ = ["ShipsGoProvider"]

class ShipsGoProvider(TrackingProvider):
    """ShipsGo Ocean API v2 as a :class:`TrackingProvider`.

    Args:
        api_token: the user's API token (else ``APUNTO_SHIPSGO_API_TOKEN`` or keyring).
        webhook_secret: secret of the dashboard webhook, to verify deliveries.
        base_url: another server speaking the same API (the emulator, a proxy).
        environment: ``production`` (ShipsGo has no test host) or ``emulator`` (a label).
        session, timeout, max_retries, sleep: transport options.
        spec: overrides of :data:`~.spec.SPEC` (``{"path.credits": "GET /balance"}``);
            unknown keys are refused.
        endpoints: deprecated spelling of ``spec`` with the old table's keys (``"credits"``);
            accepted for one release with a ``DeprecationWarning``.
    """

    name: ClassVar[str] = PROVIDER
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.CREATE_TRACKING,
            Capability.GET_TRACKING,
            Capability.LIST_TRACKINGS,
            Capability.DELETE_TRACKING,
            Capability.WEBHOOKS,
        }
    )

    def __init__(
        self,
        *,
        api_token: str | Secret | None = None,
        webhook_secret: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        spec: Mapping[str, Any] | VendorSpec | None = None,
        endpoints: Mapping[str, Any] | None = None,
    ) -> None:
        check_environment("ShipsGo", environment)
        creds = resolve_credentials(
            PROVIDER, CREDENTIALS, {"api_token": api_token, "webhook_secret": webhook_secret}
        )
        token: Secret = creds["api_token"]
        self._webhook_secret: Secret | None = creds["webhook_secret"]
        self.environment = environment
        self.spec: VendorSpec = provider_spec(
            SPEC, spec, legacy=endpoints, legacy_keys=LEGACY_KEYS, owner="ShipsGoProvider"
        )
        retry = RetryPolicy().with_max_retries(max_retries)
        self._transport = Transport(
            PROVIDER,
            base_url or BASE_URL,
            headers={self.spec["header.token"]: token.reveal()},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry,
            session=session,
            error_mapper=shipsgo_error,
            secrets=[token.reveal()],
            sleep=sleep,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _path(self, name: str, **params: Any) -> tuple[str, str]:
        method, path = split_endpoint(self.spec[f"path.{name}"])
        quoted = {k: quote(str(v), safe="") for k, v in params.items()}
        return method, path.format(**quoted)

    def _call(self, name: str, *, path_params: Mapping[str, Any] | None = None,
              **kwargs: Any) -> requests.Response:
        method, path = self._path(name, **(path_params or {}))
        try:
            return self._transport.request(method, path, **kwargs)
        except ProviderError as exc:
            if exc.status_code == 422:
                raise shipsgo_validation_error(exc) from exc
            raise

    def _json(self, response: requests.Response) -> Mapping[str, Any]:
        data = self._transport.decode_json(response)
        return data if isinstance(data, Mapping) else {}

    # -- operations -------------------------------------------------------------------------

    def _check_connection(self) -> ConnectionStatus:
        """Check the token with a one-item list call and report the credit balance if known."""
        try:
            self._call("list", params={"skip": 0, "take": 1})
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                PROVIDER, ok=False, environment=self.environment, detail=exc.message
            )
        credits = self.credits()
        detail = "token accepted" + (
            f"; {credits} credits left" if credits is not None else "; credit balance not published"
        )
        return ConnectionStatus(
            PROVIDER, ok=True, environment=self.environment, detail=detail,
            extra={"credits": credits},
        )

    def credits(self) -> int | None:
        """Credits left for new shipments, or ``None`` when the server does not publish them.

        The balance path is an assumption (see the module docstring); a 404 answers ``None``.
        """
        try:
            data = self._json(self._call("credits"))
        except NotFound:
            return None
        value: Any = data.get("credits")
        if isinstance(value, Mapping):
            value = value.get("remaining", value.get("available", value.get("balance")))
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    def _create_tracking(
        self, shipment: Shipment, *, allow_non_iso_container: bool = False, **options: Any
    ) -> Tracking:
        """Start tracking by container or booking / BL number (1 credit, none if it exists).

        The container number is checked with ISO 6346 before any call: a typo would spend a
        credit on a box that does not exist. ``allow_non_iso_container=True`` sends numbers
        whose check digit fails (non-ISO equipment); the 4-letters-7-digits shape ShipsGo
        requires is always enforced. The result's ``extra["already_existed"]`` is ``True``
        when ShipsGo answered 409 (no credit spent).

        Raises:
            ValidationError: bad input (before any call) or ShipsGo's 422, vendor text kept.
            InsufficientCredits: HTTP 402; never retried.
        """
        if options:
            raise ValidationError(
                f"unknown ShipsGo create_tracking options {sorted(options)}; known: "
                "allow_non_iso_container", field="options",
            )
        body = shipment_to_shipsgo(
            shipment, allow_non_iso_container=allow_non_iso_container, spec=self.spec
        )
        # Safe to retry: the deterministic reference turns a repeated POST into a free 409.
        response = self._call("create", json=body, idempotent=True, expected=(409,))
        data = self._json(response)
        existed = response.status_code == 409
        found = data.get("shipment")
        extra = {"already_existed": existed, "message": data.get("message")}
        if not isinstance(found, Mapping) or found.get("id") is None:
            if not existed:
                raise ProviderError(
                    "ShipsGo accepted the shipment but returned no id",
                    provider=PROVIDER, status_code=response.status_code,
                    details=dict(data),
                )
            found = self._find_existing(body)
        if "status" not in found:
            try:
                return self._fetch(str(found["id"]), extra)
            except NotFound:
                pass
        return shipsgo_to_tracking(found, extra=extra)

    def _find_existing(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        filters: dict[str, Any] = {"reference": body["reference"]}
        if body.get("booking_number"):
            filters["booking_number"] = body["booking_number"]
        elif body.get("container_number"):
            filters["container_number"] = body["container_number"]
        for tracking in self._list_trackings(**filters, limit=1):
            return tracking.raw
        raise ProviderError(
            "ShipsGo says the shipment exists but it is not visible to this token",
            provider=PROVIDER, status_code=409,
        )

    def _fetch(self, shipment_id: str, extra: Mapping[str, Any] | None = None) -> Tracking:
        data = self._json(self._call("get", path_params={"shipment_id": shipment_id}))
        shipment = data.get("shipment")
        if not isinstance(shipment, Mapping):
            raise ProviderError(
                f"ShipsGo answered without a shipment for {shipment_id}",
                provider=PROVIDER, details=dict(data),
            )
        return shipsgo_to_tracking(shipment, extra=extra)

    def _get_tracking(self, tracking_id: str) -> Tracking:
        """Status, containers, movements (actual and estimated), ports and ETA of a shipment."""
        if not str(tracking_id).strip():
            raise ValidationError("tracking_id is empty", field="tracking_id")
        return self._fetch(str(tracking_id).strip())

    def _list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Iterate lazily over shipments, ``skip``/``take`` page by page, filters kept.

        Keyword arguments: any of :data:`FILTER_FIELDS` (see :func:`filters_to_params` for
        the value forms), plus ``order_by`` (``"created_at,desc"``), ``page_size`` (1–100,
        default 100), ``limit`` (stop after this many) and ``raw_params`` (extra query
        parameters sent as they are). Filters are checked before the first call.
        """
        order_by = filters.pop("order_by", None)
        max_page = int(self.spec["limit.page_size"])
        page_size = int(filters.pop("page_size", max_page))
        limit = filters.pop("limit", None)
        raw_params = dict(filters.pop("raw_params", None) or {})
        if not 1 <= page_size <= max_page:
            raise ValidationError(
                f"page_size must be 1 to {max_page}", field="page_size", code="SHIPSGO-PAGE"
            )
        params: dict[str, Any] = {**filters_to_params(filters), **raw_params}
        if order_by:
            params["order_by"] = order_by
        return self._pages(params, page_size, None if limit is None else int(limit))

    def _pages(self, params: Mapping[str, Any], take: int, limit: int | None) -> Iterator[Tracking]:
        skip = 0
        yielded = 0
        while limit is None or yielded < limit:
            data = self._json(self._call("list", params={**params, "skip": skip, "take": take}))
            shipments: Sequence[Any] = data.get("shipments") or []
            for shipment in shipments:
                if limit is not None and yielded >= limit:
                    return
                yield shipsgo_to_tracking(shipment if isinstance(shipment, Mapping) else {})
                yielded += 1
            meta = data.get("meta")
            meta = meta if isinstance(meta, Mapping) else {}
            if not shipments or not meta.get("more"):
                return
            skip += len(shipments)

    def _delete_tracking(self, tracking_id: str) -> None:
        """Stop tracking a shipment (ShipsGo does not refund the credit)."""
        self._call("delete", path_params={"shipment_id": str(tracking_id).strip()})

    def verify_webhook(
        self,
        body: bytes | str,
        headers: Mapping[str, str],
        secret: str | bytes | Secret | None = None,
    ) -> Tracking:
        """Verify a webhook delivery (``secret`` defaults to ``webhook_secret``); see module."""
        return self.verify_webhook_event(body, headers, secret).tracking

    def verify_webhook_event(
        self,
        body: bytes | str,
        headers: Mapping[str, str],
        secret: str | bytes | Secret | None = None,
    ) -> WebhookEvent:
        """Like :meth:`verify_webhook`, keeping the event name and delivery id."""
        self.require(Capability.WEBHOOKS)
        chosen = secret if secret is not None else self._webhook_secret
        if chosen is None:
            raise ConfigurationError("no ShipsGo webhook secret: pass secret= or webhook_secret=")
        return verify_webhook_event(body, headers, chosen)

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self._transport.close()
