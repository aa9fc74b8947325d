"""ShipsGo Ocean: container tracking by container, booking or bill of lading number.

ShipsGo follows ocean shipments across shipping lines and sells one *credit* per new
shipment; reading, listing and webhooks are free. This module speaks API v2:

* base URL ``https://api.shipsgo.com/v2`` (no separate test host: use
  :class:`apunto_connect.Sandbox` for an offline emulator);
* auth: header ``X-Shipsgo-User-Token`` with a token generated under *API Tokens* in the
  ShipsGo portal (tokens belong to one user; the user's role decides which shipments it sees);
* ``POST /ocean/shipments`` (1 credit), ``GET /ocean/shipments`` (``skip``/``take`` paging,
  ``filters[field]=op:value``, ``order_by``), ``GET /ocean/shipments/{id}``,
  ``DELETE /ocean/shipments/{id}``;
* HTTP 402 = not enough credits (never retried), 409 = the shipment already exists (the body
  carries it; treated as success and costs nothing), 422 = bad payload (raised as
  :class:`~apunto_connect.errors.ValidationError` with the vendor's text), 429/5xx retried;
* webhooks configured in the dashboard, signed with ``X-Shipsgo-Webhook-Signature`` = hex
  HMAC-SHA256 of the raw body with the webhook secret (:func:`verify_webhook`).

Safe retries: every create sends a deterministic ``reference`` (your shipment reference), and
ShipsGo de-duplicates on reference + container/booking number, so a create retried after a
timeout lands on 409 with the existing shipment instead of spending a second credit. The create
is therefore marked idempotent for the transport.

Public vs assumed: paths, header names, statuses, filters and the detail shape come from the
v2 documentation as transcribed by several independent clients (not from the OpenAPI file
itself). Two things are **assumed** and kept in :data:`DEFAULT_ENDPOINTS` (override with
``ShipsGoProvider(endpoints={...})``): the credit balance path (no balance endpoint is public;
:meth:`ShipsGoProvider.credits` returns ``None`` when the server answers 404) and the 422 body
shape (``message`` plus an optional ``errors`` object), which is parsed tolerantly. The offline
emulator follows the same assumptions.

Sources: docs.shipsgo.com v2 (endpoints, status codes), help.shipsgo.com "Ocean Duplicate
Shipments" (409 semantics), third-party webhook receivers (signature header, hex encoding).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import requests

from .._answers import answer_mapper
from .._overrides import merged_table
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    Severity,
    SignatureVerificationError,
    ValidationError,
)
from ..http import DEFAULT_TIMEOUT, RetryPolicy, Transport, error_for_status
from ..models.common import Capability, ConnectionStatus
from ..models.tracking import (
    Container,
    Port,
    Shipment,
    Tracking,
    TrackingEvent,
    TrackingMode,
    TrackingStatus,
    WebhookEvent,
)
from .base import TrackingProvider

__all__ = [
    "BASE_URL",
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "EVENT_DESCRIPTIONS",
    "FILTER_FIELDS",
    "FILTER_OPERATORS",
    "SIGNATURE_HEADER",
    "STATUS_MAP",
    "TOKEN_HEADER",
    "ShipsGoProvider",
    "filters_to_params",
    "shipment_to_shipsgo",
    "shipsgo_error",
    "shipsgo_eta",
    "shipsgo_to_tracking",
    "shipsgo_validation_error",
    "sign_webhook",
    "verify_webhook",
    "verify_webhook_event",
]

PROVIDER = "shipsgo"
BASE_URL = "https://api.shipsgo.com/v2"
TOKEN_HEADER = "X-Shipsgo-User-Token"
SIGNATURE_HEADER = "X-Shipsgo-Webhook-Signature"
WEBHOOK_ID_HEADER = "X-Shipsgo-Webhook-Id"
WEBHOOK_NAME_HEADER = "X-Shipsgo-Webhook-Name"

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("api_token", env_aliases=("SHIPSGO_API_TOKEN",)),
    CredentialField("webhook_secret", required=False),
)
"""``api_token`` (required) and ``webhook_secret`` (only to verify webhooks)."""

DEFAULT_ENDPOINTS: Mapping[str, str] = {
    "create": "POST /ocean/shipments",
    "list": "GET /ocean/shipments",
    "get": "GET /ocean/shipments/{shipment_id}",
    "delete": "DELETE /ocean/shipments/{shipment_id}",
    # ASSUMED: no credit-balance endpoint is public; a 404 here means "unknown", not an error.
    "credits": "GET /credits",
}
"""Every path the provider calls, ``"METHOD /path"``; override any of them per provider."""

STATUS_MAP: Mapping[str, TrackingStatus] = {
    "NEW": TrackingStatus.PENDING,
    "INPROGRESS": TrackingStatus.PENDING,
    "BOOKED": TrackingStatus.CREATED,
    "LOADED": TrackingStatus.ACTIVE,
    "SAILING": TrackingStatus.IN_TRANSIT,
    "ARRIVED": TrackingStatus.ARRIVED,
    "DISCHARGED": TrackingStatus.DISCHARGED,
    "UNTRACKED": TrackingStatus.UNTRACKED,
}
"""ShipsGo shipment status → unified status (NEW/INPROGRESS: not yet matched with the line)."""

EVENT_DESCRIPTIONS: Mapping[str, str] = {
    "EMSH": "Empty container released to shipper",
    "GTIN": "Gate in, full, at the terminal",
    "LOAD": "Loaded on vessel",
    "DEPA": "Vessel departed",
    "ARRV": "Vessel arrived",
    "DISC": "Discharged from vessel",
    "GTOT": "Gate out, full, from the terminal",
    "EMRT": "Empty container returned",
}
"""Movement event codes ShipsGo sends, with an English description."""

FILTER_FIELDS: frozenset[str] = frozenset(
    {
        "id", "status", "carrier", "container_number", "booking_number", "reference",
        "port_of_loading", "port_of_loading_country", "port_of_discharge",
        "port_of_discharge_country", "date_of_loading", "date_of_discharge", "followers",
        "tags", "creator", "created_at", "updated_at", "checked_at", "discarded_at",
    }
)
"""Fields ``list_trackings`` accepts as filters (``raw_params`` passes anything else)."""

FILTER_OPERATORS: frozenset[str] = frozenset(
    {
        "eq", "not_eq", "in", "not_in", "contains", "not_contains", "gt", "gte", "lt", "lte",
        "between", "with", "without",
    }
)
"""Operators of ``filters[field]=op:value``."""

CONTAINER_PATTERN = re.compile(r"^[A-Z]{4}[0-9]{7}$")
BOOKING_PATTERN = re.compile(r"^[A-Za-z0-9/-]+$")
SCAC_PATTERN = re.compile(r"^(SG_)?[A-Z0-9]{4}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REFERENCE_LENGTH = (5, 128)
MAX_TAGS = 10
MAX_TAG_LENGTH = 64
MAX_FOLLOWERS = 10
MAX_PAGE_SIZE = 100
NOT_ASSIGNED = "NOT_ASSIGNED"
_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]+$")
_OPERATOR_PREFIX = re.compile(r"^([a-z_]+):")


# -- pure mappers (no I/O) --------------------------------------------------------------------


def _issue(field: str, code: str, message: str, message_es: str = "") -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es)


def _container_check(number: str, allow_non_iso: bool) -> tuple[str, list[Issue]]:
    """Normalise a container number and list what stops it from being sent."""
    compact = re.sub(r"[\s-]", "", number).upper()
    issues: list[Issue] = []
    if not CONTAINER_PATTERN.match(compact):
        issues.append(
            _issue(
                "container_number",
                "SHIPSGO-CONTAINER-FORMAT",
                f"container number {number!r} must be 4 letters and 7 digits (ShipsGo rule)",
                f"el número de contenedor {number!r} debe tener 4 letras y 7 dígitos",
            )
        )
        return compact, issues
    if allow_non_iso:
        return compact, issues
    # Imported here: only creates by container number need it.
    from ..sat.containers import validate_container_number

    check = validate_container_number(compact)
    found = list(check.issues)
    if not found and not check.valid:
        found = [_iso_issue(compact)]
    # A wrong check digit spends a credit on a box that does not exist: block it unless the
    # caller overrides (non-ISO equipment is real, so the override exists).
    return check.normalized or compact, [_blocking(i) for i in found]


def _iso_issue(number: str) -> Issue:
    return _issue(
        "container_number",
        "ISO6346",
        f"{number} is not a valid ISO 6346 container number (check digit); pass "
        "allow_non_iso_container=True to send it anyway",
        f"{number} no es un número de contenedor ISO 6346 válido (dígito verificador)",
    )


def _blocking(issue: Issue) -> Issue:
    """The same issue on ``container_number``, made blocking, with the override named."""
    hint = "" if "allow_non_iso_container" in issue.message else (
        " (pass allow_non_iso_container=True to send a non-ISO number)"
    )
    return Issue(
        "container_number", issue.code, issue.message + hint, issue.message_es, Severity.ERROR
    )


def shipment_to_shipsgo(
    shipment: Shipment, *, allow_non_iso_container: bool = False
) -> dict[str, Any]:
    """The ``POST /ocean/shipments`` body for ``shipment``, validated first.

    Raises:
        ValidationError: every problem at once (mode, reference length, container number
            format and ISO 6346 check digit, booking number, SCAC, tags, followers).
    """
    issues: list[Issue] = []
    if shipment.mode is not TrackingMode.OCEAN:
        issues.append(
            _issue("mode", "SHIPSGO-MODE", "ShipsGo tracks ocean shipments only (mode 'ocean')",
                   "ShipsGo solo rastrea embarques marítimos")
        )
    reference = (shipment.reference or "").strip()
    low, high = REFERENCE_LENGTH
    if not low <= len(reference) <= high:
        issues.append(
            _issue("reference", "SHIPSGO-REFERENCE",
                   f"reference must be {low} to {high} characters (it is {len(reference)}); "
                   "ShipsGo uses it to refuse duplicates, which makes retries free",
                   f"la referencia debe tener entre {low} y {high} caracteres")
        )
    body: dict[str, Any] = {"reference": reference}
    container = (shipment.container_number or "").strip()
    booking = (shipment.booking_number or "").strip()
    if not container and not booking:
        issues.append(
            _issue("container_number", "SHIPSGO-IDENTIFIER",
                   "give a container number or a booking / bill of lading number",
                   "indique número de contenedor o de booking / BL")
        )
    if container:
        compact, found = _container_check(container, allow_non_iso_container)
        issues.extend(found)
        body["container_number"] = compact
    if booking:
        if not BOOKING_PATTERN.match(booking):
            issues.append(
                _issue("booking_number", "SHIPSGO-BOOKING",
                       f"booking number {booking!r} may hold only letters, digits, '/' and '-'",
                       "el booking solo admite letras, dígitos, '/' y '-'")
            )
        body["booking_number"] = booking
    if shipment.carrier_scac:
        scac = shipment.carrier_scac.strip().upper()
        if not SCAC_PATTERN.match(scac):
            issues.append(
                _issue("carrier_scac", "SHIPSGO-SCAC",
                       f"carrier {scac!r} must be a 4-character SCAC (optionally 'SG_' + 4)",
                       "la naviera debe ser un SCAC de 4 caracteres")
            )
        body["carrier"] = scac
    if shipment.tags:
        if len(shipment.tags) > MAX_TAGS:
            issues.append(_issue("tags", "SHIPSGO-TAGS", f"at most {MAX_TAGS} tags"))
        for i, tag in enumerate(shipment.tags):
            if not tag.strip() or len(tag) > MAX_TAG_LENGTH:
                issues.append(
                    _issue(f"tags[{i}]", "SHIPSGO-TAG",
                           f"tags must be 1 to {MAX_TAG_LENGTH} characters")
                )
        body["tags"] = [t.strip() for t in shipment.tags]
    if shipment.followers:
        if len(shipment.followers) > MAX_FOLLOWERS:
            issues.append(_issue("followers", "SHIPSGO-FOLLOWERS", f"at most {MAX_FOLLOWERS} followers"))
        for i, email in enumerate(shipment.followers):
            if not EMAIL_PATTERN.match(email.strip()):
                issues.append(
                    _issue(f"followers[{i}]", "SHIPSGO-FOLLOWER", f"{email!r} is not an e-mail address")
                )
        body["followers"] = [f.strip() for f in shipment.followers]
    if issues:
        raise ValidationError(issues)
    return body


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 text (``Z`` or offset) → aware datetime; gaps (``None``, ``-``) → ``None``."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip() or value.strip() in {"-", "Not Supported"}:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    text = re.sub(r"\.(\d{1,6})\d*", lambda m: "." + m.group(1).ljust(6, "0"), text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _location(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _port(node: Any, date_key: str, initial_key: str) -> Port | None:
    node = _location(node)
    location = _location(node.get("location"))
    if not node or not location:
        return None
    country = _location(location.get("country")).get("code")
    return Port(
        code=location.get("code"),
        name=location.get("name"),
        country=country,
        date=parse_timestamp(node.get(date_key)),
        initial_date=parse_timestamp(node.get(initial_key)),
    )


def _movement(container: str, movement: Mapping[str, Any]) -> TrackingEvent:
    code = str(movement.get("event") or "").upper()
    location = _location(movement.get("location"))
    vessel = _location(movement.get("vessel"))
    return TrackingEvent(
        code=code,
        description=EVENT_DESCRIPTIONS.get(code, code),
        location=location.get("code"),
        location_name=location.get("name"),
        vessel=vessel.get("name"),
        voyage=movement.get("voyage"),
        timestamp=parse_timestamp(movement.get("timestamp")),
        actual=str(movement.get("status") or "ACT").upper() == "ACT",
        container=container,
    )


def _instant(when: datetime) -> float:
    # Naive timestamps are rare but must still sort next to aware ones.
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def _event_order(event: TrackingEvent) -> tuple[int, float]:
    return (1, 0.0) if event.timestamp is None else (0, _instant(event.timestamp))


def shipsgo_eta(shipment: Mapping[str, Any]) -> datetime | None:
    """Arrival at the port of discharge: ARRV there, else DISC there, else the route's date.

    Movements at transhipment ports (any location other than the port of discharge) are
    ignored; among containers the latest arrival counts (the shipment is complete then).
    """
    route = _location(shipment.get("route"))
    pod = _location(route.get("port_of_discharge"))
    pod_code = str(_location(pod.get("location")).get("code") or "").upper()
    arrivals: list[datetime] = []
    discharges: list[datetime] = []
    if pod_code:
        for container in shipment.get("containers") or ():
            for movement in _location(container).get("movements") or ():
                movement = _location(movement)
                code = str(_location(movement.get("location")).get("code") or "").upper()
                when = parse_timestamp(movement.get("timestamp"))
                if code != pod_code or when is None:
                    continue
                event = str(movement.get("event") or "").upper()
                if event == "ARRV":
                    arrivals.append(when)
                elif event == "DISC":
                    discharges.append(when)
    if arrivals or discharges:
        return max(arrivals or discharges, key=_instant)
    return parse_timestamp(pod.get("date_of_discharge"))


@answer_mapper(PROVIDER, "shipment")
def shipsgo_to_tracking(
    shipment: Mapping[str, Any],
    provider: str = PROVIDER,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Tracking:
    """Map a ShipsGo ``shipment`` object (detail, create answer or webhook) to a Tracking."""
    native = str(shipment.get("status") or "").upper() or None
    status = STATUS_MAP.get(native or "NEW", TrackingStatus.PENDING)
    if shipment.get("discarded_at"):
        status = TrackingStatus.CANCELLED
    route = _location(shipment.get("route"))
    containers: list[Container] = []
    for raw in shipment.get("containers") or ():
        raw = _location(raw)
        number = str(raw.get("number") or "")
        movements = [_movement(number, _location(m)) for m in raw.get("movements") or ()]
        containers.append(
            Container(
                number=number,
                status=raw.get("status"),
                size=None if raw.get("size") is None else str(raw.get("size")),
                type=raw.get("type"),
                events=sorted(movements, key=_event_order),
            )
        )
    events = sorted((e for c in containers for e in c.events), key=_event_order)
    container_number = shipment.get("container_number")
    if container_number == NOT_ASSIGNED:
        container_number = None
    carrier = _location(shipment.get("carrier")).get("scac") or (
        shipment.get("carrier") if isinstance(shipment.get("carrier"), str) else None
    )
    return Tracking(
        provider=provider,
        tracking_id=str(shipment.get("id")),
        reference=shipment.get("reference"),
        mode=TrackingMode.OCEAN,
        status=status,
        native_status=native,
        events=events,
        eta=shipsgo_eta(shipment),
        raw=dict(shipment),
        carrier=carrier,
        container_number=container_number,
        booking_number=shipment.get("booking_number"),
        containers=containers,
        port_of_loading=_port(route.get("port_of_loading"), "date_of_loading", "date_of_loading_initial"),
        port_of_discharge=_port(
            route.get("port_of_discharge"), "date_of_discharge", "date_of_discharge_initial"
        ),
        created_at=parse_timestamp(shipment.get("created_at")),
        updated_at=parse_timestamp(shipment.get("updated_at")),
        extra=dict(extra or {}),
    )


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def shipsgo_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed ShipsGo response to the error tree, keeping ``message`` verbatim.

    Upper-case single-token messages (``TOKEN_MISSING``, ``ALREADY_EXISTS``) are also the
    vendor code; 402 becomes :class:`~apunto_connect.errors.InsufficientCredits`.
    """
    body = _json_or_none(response)
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, str) or not message.strip():
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else (
            f"HTTP {response.status_code} {response.reason or ''}".strip()
        )
    code = message if _CODE_PATTERN.match(message) else None
    details = body if isinstance(body, (Mapping, list)) else None
    return error_for_status(provider, response, message, vendor_code=code, details=details)


def shipsgo_validation_error(error: ProviderError) -> ValidationError:
    """Turn a 422 answer into a ValidationError whose issues carry the vendor text verbatim."""
    issues: list[Issue] = []
    details = error.details if isinstance(error.details, Mapping) else {}
    found = details.get("errors")
    if isinstance(found, Mapping):
        for field, messages in found.items():
            texts = messages if isinstance(messages, list) else [messages]
            issues.extend(_issue(str(field), "SHIPSGO-422", str(text)) for text in texts)
    elif isinstance(found, list):
        for item in found:
            if isinstance(item, Mapping):
                issues.append(
                    _issue(str(item.get("field") or item.get("path") or "shipment"), "SHIPSGO-422",
                           str(item.get("message") or item))
                )
    if not issues:
        issues.append(_issue("shipment", error.vendor_code or "SHIPSGO-422", error.message))
    return ValidationError(issues)


def _filter_value(field: str, value: Any) -> str:
    if field == "status" and isinstance(value, TrackingStatus):
        natives = [name for name, unified in STATUS_MAP.items() if unified is value]
        if not natives:
            raise ValidationError(
                f"no ShipsGo status corresponds to {value.value!r}", field="status",
                code="SHIPSGO-FILTER",
            )
        return "in:" + ",".join(natives)
    if isinstance(value, tuple) and len(value) == 2 and value[0] in FILTER_OPERATORS:
        op, argument = value
        if op == "between" and isinstance(argument, (tuple, list)) and len(argument) == 2:
            return f"between:{_filter_text(argument[0])}...{_filter_text(argument[1])}"
        if isinstance(argument, (list, tuple, set, frozenset)):
            return f"{op}:" + ",".join(_filter_text(a) for a in argument)
        return f"{op}:{_filter_text(argument)}"
    if isinstance(value, (list, set, frozenset, tuple)):
        return "in:" + ",".join(_filter_text(v) for v in value)
    text = _filter_text(value)
    prefix = _OPERATOR_PREFIX.match(text)
    if prefix and prefix.group(1) in FILTER_OPERATORS:
        return text
    return f"eq:{text}"


def _filter_text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def filters_to_params(filters: Mapping[str, Any]) -> dict[str, str]:
    """``{"status": "SAILING", "carrier": ["MSCU", "MAEU"]}`` → ``filters[...]`` parameters.

    Values: plain values mean ``eq``; lists mean ``in``; ``(op, value)`` picks an operator
    (``("between", (start, end))``, ``("gte", date)``); strings that already start with an
    operator (``"not_eq:SAILING"``) pass through; a :class:`TrackingStatus` for ``status``
    expands to the ShipsGo statuses it stands for.

    Raises:
        ValidationError: an unknown field (the message lists the known ones).
    """
    unknown = sorted(set(filters) - FILTER_FIELDS)
    if unknown:
        raise ValidationError(
            [
                _issue(name, "SHIPSGO-FILTER",
                       f"unknown filter {name!r}; known: {', '.join(sorted(FILTER_FIELDS))} "
                       "(raw_params= sends anything else)")
                for name in unknown
            ]
        )
    return {
        f"filters[{name}]": _filter_value(name, value)
        for name, value in filters.items()
        if value is not None
    }


# -- webhooks -----------------------------------------------------------------------------------


def _secret_bytes(secret: str | bytes | Secret) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.reveal()
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not secret:
        raise ConfigurationError("no ShipsGo webhook secret configured (webhook_secret=)")
    return secret


def sign_webhook(body: bytes | str, secret: str | bytes | Secret) -> str:
    """The ``X-Shipsgo-Webhook-Signature`` value for ``body``: hex HMAC-SHA256 with ``secret``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.new(_secret_bytes(secret), raw, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_webhook_event(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | bytes | Secret,
    *,
    provider: str = PROVIDER,
) -> WebhookEvent:
    """Check a delivery's signature against the raw body, then parse it.

    Pass the body exactly as received (before any JSON parsing): the signature covers the
    bytes. Comparison is constant-time.

    Raises:
        SignatureVerificationError: the header is missing or does not match the body.
        ValidationError: the signature is right but the body is not a ShipsGo event.
        ConfigurationError: ``secret`` is empty.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = sign_webhook(raw, secret)
    given = _header(headers, SIGNATURE_HEADER)
    if not given or not given.strip():
        raise SignatureVerificationError(f"missing {SIGNATURE_HEADER} header")
    candidate = given.strip().lower().removeprefix("sha256=")
    if not hmac.compare_digest(expected.encode("ascii"), candidate.encode("utf-8", "replace")):
        raise SignatureVerificationError(
            f"{SIGNATURE_HEADER} does not match the body (wrong secret, or the body was changed)"
        )
    try:
        envelope = json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"webhook body is not JSON: {exc}", field="body") from None
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("shipment"), Mapping):
        raise ValidationError("webhook body has no 'shipment' object", field="body")
    event = _location(envelope.get("event"))
    name = str(event.get("name") or _header(headers, WEBHOOK_NAME_HEADER) or "")
    tracking = shipsgo_to_tracking(envelope["shipment"], provider, extra={"event": name})
    if name.endswith("SHIPMENT_DELETED"):
        tracking = _with_status(tracking, TrackingStatus.CANCELLED)
    triggered = event.get("triggered_by")
    return WebhookEvent(
        provider=provider,
        name=name,
        event_id=None if event.get("id") is None else str(event.get("id")),
        delivery_id=_header(headers, WEBHOOK_ID_HEADER),
        tracking=tracking,
        triggered_by=None if triggered is None else str(triggered),
    )


def _with_status(tracking: Tracking, status: TrackingStatus) -> Tracking:
    return attrs.evolve(tracking, status=status)


def verify_webhook(
    body: bytes | str, headers: Mapping[str, str], secret: str | bytes | Secret
) -> Tracking:
    """Verify a webhook delivery and return the shipment it carries as a :class:`Tracking`.

    See :func:`verify_webhook_event` for the event name and delivery id (dedupe key).
    """
    return verify_webhook_event(body, headers, secret).tracking


# -- provider -----------------------------------------------------------------------------------


def _split_endpoint(value: str) -> tuple[str, str]:
    method, _, path = value.strip().partition(" ")
    if not path:
        raise ConfigurationError(f"endpoint {value!r} must look like 'GET /path'")
    return method.upper(), path.strip()


class ShipsGoProvider(TrackingProvider):
    """ShipsGo Ocean API v2 as a :class:`TrackingProvider`.

    Args:
        api_token: the user's API token (else ``APUNTO_SHIPSGO_API_TOKEN`` or keyring).
        webhook_secret: secret of the dashboard webhook, to verify deliveries.
        base_url: another server speaking the same API (the emulator, a proxy).
        environment: ``production`` (ShipsGo has no test host) or ``emulator`` (a label).
        session, timeout, max_retries, sleep: transport options.
        endpoints: overrides merged over :data:`DEFAULT_ENDPOINTS`.
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
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        if environment not in {"production", "emulator"}:
            raise ConfigurationError(
                f"ShipsGo has no {environment!r} environment; use 'production', or "
                "apunto_connect.Sandbox() for the offline emulator"
            )
        creds = resolve_credentials(
            PROVIDER, CREDENTIALS, {"api_token": api_token, "webhook_secret": webhook_secret}
        )
        token: Secret = creds["api_token"]
        self._webhook_secret: Secret | None = creds["webhook_secret"]
        self.environment = environment
        self.endpoints: dict[str, str] = merged_table(
            "ShipsGo", DEFAULT_ENDPOINTS, endpoints, "endpoint"
        )
        retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        self._transport = Transport(
            PROVIDER,
            base_url or BASE_URL,
            headers={TOKEN_HEADER: token.reveal()},
            timeout=timeout or DEFAULT_TIMEOUT,
            retry=retry,
            session=session,
            error_mapper=shipsgo_error,
            secrets=[token.reveal()],
            sleep=sleep,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _path(self, name: str, **params: Any) -> tuple[str, str]:
        method, path = _split_endpoint(self.endpoints[name])
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

    def check_connection(self) -> ConnectionStatus:
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

    def create_tracking(
        self, shipment: Shipment, *, allow_non_iso_container: bool = False
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
        self.require(Capability.CREATE_TRACKING)
        body = shipment_to_shipsgo(shipment, allow_non_iso_container=allow_non_iso_container)
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
        for tracking in self.list_trackings(**filters, limit=1):
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

    def get_tracking(self, tracking_id: str) -> Tracking:
        """Status, containers, movements (actual and estimated), ports and ETA of a shipment."""
        self.require(Capability.GET_TRACKING)
        if not str(tracking_id).strip():
            raise ValidationError("tracking_id is empty", field="tracking_id")
        return self._fetch(str(tracking_id).strip())

    def list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Iterate lazily over shipments, ``skip``/``take`` page by page, filters kept.

        Keyword arguments: any of :data:`FILTER_FIELDS` (see :func:`filters_to_params` for
        the value forms), plus ``order_by`` (``"created_at,desc"``), ``page_size`` (1–100,
        default 100), ``limit`` (stop after this many) and ``raw_params`` (extra query
        parameters sent as they are). Filters are checked before the first call.
        """
        self.require(Capability.LIST_TRACKINGS)
        order_by = filters.pop("order_by", None)
        page_size = int(filters.pop("page_size", MAX_PAGE_SIZE))
        limit = filters.pop("limit", None)
        raw_params = dict(filters.pop("raw_params", None) or {})
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationError(
                f"page_size must be 1 to {MAX_PAGE_SIZE}", field="page_size", code="SHIPSGO-PAGE"
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
                yield shipsgo_to_tracking(_location(shipment))
                yielded += 1
            meta = _location(data.get("meta"))
            if not shipments or not meta.get("more"):
                return
            skip += len(shipments)

    def delete_tracking(self, tracking_id: str) -> None:
        """Stop tracking a shipment (ShipsGo does not refund the credit)."""
        self.require(Capability.DELETE_TRACKING)
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
