"""ShipsGo ↔ SDK models: validation, pure mappers, list filters and webhook checks; no I/O.

Limits, headers and statuses come from :data:`~.spec.SPEC` (or a provider's copy with overrides).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import attrs

from ..._answers import answer_mapper
from ...credentials import Secret
from ...errors import (
    ConfigurationError,
    Issue,
    Severity,
    SignatureVerificationError,
    ValidationError,
)
from ...models.tracking import (
    Container,
    Port,
    Shipment,
    Tracking,
    TrackingEvent,
    TrackingMode,
    TrackingStatus,
    WebhookEvent,
)
from .spec import (
    NOT_ASSIGNED,
    PROVIDER,
    SIGNATURE_HEADER,
    SPEC,
    STATUS_MAP,
    WEBHOOK_ID_HEADER,
    WEBHOOK_NAME_HEADER,
)

__all__ = [
    "BOOKING_PATTERN",
    "CONTAINER_PATTERN",
    "EMAIL_PATTERN",
    "EVENT_DESCRIPTIONS",
    "FILTER_FIELDS",
    "FILTER_OPERATORS",
    "SCAC_PATTERN",
    "filters_to_params",
    "parse_timestamp",
    "shipment_to_shipsgo",
    "shipsgo_eta",
    "shipsgo_to_tracking",
    "sign_webhook",
    "verify_webhook",
    "verify_webhook_event",
]

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
_OPERATOR_PREFIX = re.compile(r"^([a-z_]+):")


def _issue(field: str, code: str, message: str, message_es: str = "") -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es)


# field -> (pattern, issue code, message with a {!r} slot for the value, Spanish message)
_FORMAT_RULES: dict[str, tuple[re.Pattern[str], str, str, str]] = {
    "booking_number": (
        BOOKING_PATTERN, "SHIPSGO-BOOKING",
        "booking number {!r} may hold only letters, digits, '/' and '-'",
        "el booking solo admite letras, dígitos, '/' y '-'",
    ),
    "carrier_scac": (
        SCAC_PATTERN, "SHIPSGO-SCAC",
        "carrier {!r} must be a 4-character SCAC (optionally 'SG_' + 4)",
        "la naviera debe ser un SCAC de 4 caracteres",
    ),
}


def _format_issues(field: str, value: str) -> list[Issue]:
    """The issue of ``value`` breaking the format rule of ``field`` (none when it keeps it)."""
    pattern, code, message, message_es = _FORMAT_RULES[field]
    if pattern.match(value):
        return []
    return [_issue(field, code, message.format(value), message_es)]


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
    from ...sat.containers import validate_container_number

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
    shipment: Shipment, *, allow_non_iso_container: bool = False, spec: Mapping[str, Any] = SPEC
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
    low, high = spec["limit.reference_length"]
    max_tags, max_tag_length = int(spec["limit.tags"]), int(spec["limit.tag_length"])
    max_followers = int(spec["limit.followers"])
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
        issues.extend(_format_issues("booking_number", booking))
        body["booking_number"] = booking
    if shipment.carrier_scac:
        scac = shipment.carrier_scac.strip().upper()
        issues.extend(_format_issues("carrier_scac", scac))
        body["carrier"] = scac
    if shipment.tags:
        if len(shipment.tags) > max_tags:
            issues.append(_issue("tags", "SHIPSGO-TAGS", f"at most {max_tags} tags"))
        for i, tag in enumerate(shipment.tags):
            if not tag.strip() or len(tag) > max_tag_length:
                issues.append(
                    _issue(f"tags[{i}]", "SHIPSGO-TAG",
                           f"tags must be 1 to {max_tag_length} characters")
                )
        body["tags"] = [t.strip() for t in shipment.tags]
    if shipment.followers:
        if len(shipment.followers) > max_followers:
            issues.append(_issue("followers", "SHIPSGO-FOLLOWERS", f"at most {max_followers} followers"))
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
