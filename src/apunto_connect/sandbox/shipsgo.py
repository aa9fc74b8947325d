"""Offline ShipsGo Ocean API v2: shipments that sail on the sandbox clock.

What it keeps: a credit balance, shipments by id, and who may see them (one demo token). What
it speaks: the paths of :data:`apunto_connect.tracking.shipsgo.SPEC`, the
``X-Shipsgo-User-Token`` header (401 ``TOKEN_MISSING`` / ``TOKEN_INVALID``), 402
``NOT_ENOUGH_CREDITS``, 409 ``ALREADY_EXISTS`` with the existing shipment (same reference +
booking, else container: no credit spent), 422 with ``message`` and an ``errors`` object (the
shape is an assumption shared with the provider), 404 ``NOT_FOUND``, ``skip``/``take`` paging
with ``filters[field]=op:value`` and ``order_by``.

Time: a new shipment is ``NEW`` for two minutes, ``INPROGRESS`` until ten minutes, then its
voyage plays out on :class:`~apunto_connect.sandbox.SandboxClock` — empty pick-up and gate-in
before creation, loading a day later, departure, a transhipment on some routes, arrival around
nineteen days later (the estimate slips by 20 hours once the vessel sails, so
``date_of_discharge`` differs from ``date_of_discharge_initial``), discharge, gate-out and empty
return. Movements in the future are ``EST``, past ones ``ACT``. Advance the clock to move on.

Webhooks: :meth:`ShipsGoEmulator.signed_webhook` builds a delivery (raw body and headers)
signed the way ShipsGo signs them, for testing a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs

from ..tracking.shipsgo import (
    BASE_URL,
    BOOKING_PATTERN,
    CONTAINER_PATTERN,
    EMAIL_PATTERN,
    FILTER_FIELDS,
    SCAC_PATTERN,
    SPEC,
)
from ..vendor_spec import VendorSpec
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    json_response,
)

__all__ = ["ShipsGoEmulator"]

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
NEW_FOR = 2 * MINUTE
MATCHED_AFTER = 10 * MINUTE
DELAY_AFTER_SAILING = 20 * HOUR
INITIAL_CREDITS = 25

CARRIERS: Mapping[str, str] = {
    "MAEU": "Maersk",
    "MSCU": "MSC",
    "CMDU": "CMA CGM",
    "COSU": "COSCO Shipping",
    "HLCU": "Hapag-Lloyd",
    "ONEY": "Ocean Network Express",
    "EGLV": "Evergreen",
}
# Owner prefix → carrier, for the auto-detection ShipsGo does when no carrier is sent.
OWNER_CARRIER: Mapping[str, str] = {
    "MSKU": "MAEU", "MRKU": "MAEU", "MSCU": "MSCU", "MEDU": "MSCU", "CMAU": "CMDU",
    "CSQU": "COSU", "CBHU": "COSU", "HLXU": "HLCU", "ONEU": "ONEY", "EGHU": "EGLV",
}
# Valid ISO 6346 numbers handed out when a booking gets its container confirmed.
SPARE_CONTAINERS = ("TEXU3070079", "GESU3927660", "MWCU6059784", "CSQU3054383", "MSKU6011672")


@attrs.frozen(slots=True)
class _Place:
    code: str
    name: str
    country: str
    country_name: str
    tz_name: str
    utc_offset: float

    def location(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "timezone": self.tz_name,
            "country": {"code": self.country, "name": self.country_name},
        }

    def local(self, instant: float) -> str:
        zone = timezone(timedelta(hours=self.utc_offset))
        return datetime.fromtimestamp(instant, zone).isoformat(timespec="seconds")


SHANGHAI = _Place("CNSHA", "Shanghai", "CN", "China", "Asia/Shanghai", 8)
NINGBO = _Place("CNNGB", "Ningbo", "CN", "China", "Asia/Shanghai", 8)
BUSAN = _Place("KRPUS", "Busan", "KR", "Korea, Republic of", "Asia/Seoul", 9)
MANZANILLO = _Place("MXZLO", "Manzanillo", "MX", "Mexico", "America/Mexico_City", -6)
LAZARO = _Place("MXLZC", "Lázaro Cárdenas", "MX", "Mexico", "America/Mexico_City", -6)
# (port of loading, transhipment or None, port of discharge, vessels)
ROUTES: tuple[tuple[_Place, _Place | None, _Place, tuple[tuple[str, int, str], ...]], ...] = (
    (SHANGHAI, BUSAN, MANZANILLO,
     (("SANDBOX PACIFIC", 9000001, "041E"), ("SANDBOX AURORA", 9000002, "112E"))),
    (NINGBO, None, LAZARO, (("SANDBOX MERIDIAN", 9000003, "027E"),)),
)


@attrs.define
class _Movement:
    event: str
    place: _Place
    at: float
    vessel: tuple[str, int, str] | None = None
    slips: bool = False  # moves by DELAY_AFTER_SAILING once the vessel has sailed


@attrs.define
class _Shipment:
    id: int
    reference: str | None
    container_number: str | None
    booking_number: str | None
    carrier: str
    created: float
    route: int
    followers: list[str]
    tags: list[str]
    discarded: float | None = None

    def plan(self) -> list[_Movement]:
        pol, ts, pod, vessels = ROUTES[self.route]
        t0 = self.created
        first = vessels[0]
        moves = [
            _Movement("EMSH", pol, t0 - 3 * DAY),
            _Movement("GTIN", pol, t0 - 1 * DAY),
            _Movement("LOAD", pol, t0 + 1 * DAY, first),
            _Movement("DEPA", pol, t0 + 1 * DAY + 6 * HOUR, first),
        ]
        last = first
        if ts is not None:
            last = vessels[-1]
            moves += [
                _Movement("ARRV", ts, t0 + 5 * DAY, first, slips=True),
                _Movement("DISC", ts, t0 + 5 * DAY + 6 * HOUR, first, slips=True),
                _Movement("LOAD", ts, t0 + 6 * DAY, last, slips=True),
                _Movement("DEPA", ts, t0 + 6 * DAY + 6 * HOUR, last, slips=True),
            ]
        arrival = t0 + 19 * DAY
        moves += [
            _Movement("ARRV", pod, arrival, last, slips=True),
            _Movement("DISC", pod, arrival + 8 * HOUR, last, slips=True),
            _Movement("GTOT", pod, arrival + 2 * DAY, slips=True),
            _Movement("EMRT", pod, arrival + 5 * DAY, slips=True),
        ]
        return moves


class ShipsGoEmulator(Emulator):
    """A stateful ShipsGo v2 account: credits, shipments, voyages and signed webhooks."""

    name: ClassVar[str] = "shipsgo"
    kind: ClassVar[str] = "tracking"
    base_urls: ClassVar[tuple[str, ...]] = (BASE_URL,)
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "api_token": "sandbox-shipsgo-user-token-0001",
        "webhook_secret": "sandbox-shipsgo-webhook-secret",
    }

    vendor_spec: ClassVar[VendorSpec] = SPEC

    def setup(self) -> None:
        """An account with its starting credits and no shipments; routes at the spec's paths."""
        self.credits = INITIAL_CREDITS
        self.credits_spent = 0
        self.shipments: dict[int, _Shipment] = {}
        self.webhook_secret = self.demo_credentials["webhook_secret"]
        self._next_id = 770001 + (self.seed or 0) % 1000 * 1000
        self._next_event = 1
        handlers: dict[str, Callable[..., EmulatorResponse]] = {
            "create": self._create,
            "list": self._list,
            "get": self._get,
            "delete": self._delete,
            "credits": self._credits,
        }
        self.route_spec(self.spec, handlers)

    def provider_options(self) -> dict[str, Any]:
        """Polling and retry waits advance the sandbox clock; the status says ``emulator``."""
        return {"sleep": self.clock.sleep, "environment": "emulator"}

    # -- auth and errors --------------------------------------------------------------------

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """ShipsGo's 401 bodies for a missing or unknown token."""
        token = request.header(self.spec["header.token"])
        if not token:
            return json_response(401, {"message": "TOKEN_MISSING"})
        if token != self.demo_credentials["api_token"]:
            return json_response(401, {"message": "TOKEN_INVALID"})
        return None

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """Unknown paths answer like unknown ids."""
        return json_response(404, {"message": "NOT_FOUND"})

    # -- handlers ---------------------------------------------------------------------------

    def _create(self, request: EmulatorRequest) -> EmulatorResponse:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(422, {"message": "INVALID_PAYLOAD", "errors": {"body": ["must be a JSON object"]}})
        errors = _validate_create(body, self.spec)
        if errors:
            raise HttpError(422, {"message": "INVALID_PAYLOAD", "errors": errors})
        reference = body.get("reference")
        container = body.get("container_number")
        booking = body.get("booking_number")
        existing = self._duplicate_of(reference, container, booking)
        if existing is not None:
            return json_response(409, {"message": "ALREADY_EXISTS", "shipment": self._detail(existing)})
        if self.credits <= 0:
            raise HttpError(402, {"message": "NOT_ENOUGH_CREDITS"})
        carrier = body.get("carrier") or OWNER_CARRIER.get((container or "")[:4], "MSCU")
        shipment = _Shipment(
            id=self._next_id,
            reference=reference,
            container_number=container,
            booking_number=booking,
            carrier=str(carrier).removeprefix("SG_"),
            created=self.clock.now(),
            route=len(self.shipments) % len(ROUTES),
            followers=list(body.get("followers") or []),
            tags=list(body.get("tags") or []),
        )
        self._next_id += 1
        self.credits -= 1
        self.credits_spent += 1
        self.shipments[shipment.id] = shipment
        return json_response(
            200,
            {
                "message": "SUCCESS",
                "shipment": {
                    "id": shipment.id,
                    "reference": reference,
                    "container_number": container or self.spec["value.not_assigned"],
                    "booking_number": booking,
                },
            },
        )

    def _duplicate_of(
        self, reference: str | None, container: str | None, booking: str | None
    ) -> _Shipment | None:
        for shipment in self.shipments.values():
            if shipment.discarded is not None:
                continue
            if reference and shipment.reference != reference:
                continue
            if booking:
                if shipment.booking_number == booking:
                    return shipment
            elif container and shipment.container_number == container:
                return shipment
        return None

    def _get(self, request: EmulatorRequest, shipment_id: str) -> EmulatorResponse:
        shipment = self._find(shipment_id)
        return json_response(200, {"message": "SUCCESS", "shipment": self._detail(shipment)})

    def _delete(self, request: EmulatorRequest, shipment_id: str) -> EmulatorResponse:
        shipment = self._find(shipment_id)
        shipment.discarded = self.clock.now()
        return json_response(200, {"message": "SUCCESS"})

    def _credits(self, request: EmulatorRequest) -> EmulatorResponse:
        return json_response(200, {"message": "SUCCESS", "credits": self.credits})

    def _list(self, request: EmulatorRequest) -> EmulatorResponse:
        try:
            skip = int(request.query.get("skip", "0"))
            take = int(request.query.get("take", "25"))
        except ValueError:
            raise HttpError(422, {"message": "INVALID_PAYLOAD", "errors": {"skip": ["skip and take must be integers"]}}) from None
        max_take = int(self.spec["limit.page_size"])
        if skip < 0 or not 1 <= take <= max_take:
            raise HttpError(422, {"message": "INVALID_PAYLOAD", "errors": {"take": [f"take must be 1 to {max_take}, skip >= 0"]}})
        filters: list[tuple[str, str, str]] = []
        for key, value in request.query_all:
            found = re.fullmatch(r"filters\[(\w+)\]", key)
            if not found:
                continue
            field = found.group(1)
            op, sep, argument = value.partition(":")
            if field not in FILTER_FIELDS or not sep or op not in _OPERATORS:
                raise HttpError(422, {"message": "INVALID_PAYLOAD", "errors": {f"filters.{field}": [f"unsupported filter {value!r} on {field!r}"]}})
            filters.append((field, op, argument))
        rows = [self._summary(s) for s in self.shipments.values() if s.discarded is None]
        rows = [r for r in rows if all(_matches(r, f, op, arg) for f, op, arg in filters)]
        order = request.query.get("order_by", "id,desc")
        field, _, direction = order.partition(",")
        rows.sort(key=lambda r: _sort_key(r.get(field)), reverse=direction.lower() != "asc")
        page = rows[skip: skip + take]
        return json_response(
            200,
            {"message": "SUCCESS", "shipments": page,
             "meta": {"more": skip + len(page) < len(rows), "total": len(rows)}},
        )

    # -- state → payloads -------------------------------------------------------------------

    def _find(self, shipment_id: str) -> _Shipment:
        try:
            shipment = self.shipments[int(shipment_id)]
        except (KeyError, ValueError):
            raise HttpError(404, {"message": "NOT_FOUND"}) from None
        if shipment.discarded is not None:
            raise HttpError(404, {"message": "NOT_FOUND"})
        return shipment

    def _container_of(self, shipment: _Shipment, matched: bool) -> str:
        if shipment.container_number:
            return shipment.container_number
        if not matched:
            return str(self.spec["value.not_assigned"])
        return SPARE_CONTAINERS[shipment.id % len(SPARE_CONTAINERS)]

    def _timeline(self, shipment: _Shipment, now: float) -> list[tuple[_Movement, float, bool]]:
        plan = shipment.plan()
        sailed = any(m.event == "DEPA" and m.at <= now for m in plan)
        result = []
        for movement in plan:
            at = movement.at + (DELAY_AFTER_SAILING if movement.slips and sailed else 0.0)
            result.append((movement, at, at <= now))
        return result

    def _status(self, shipment: _Shipment, now: float) -> str:
        age = now - shipment.created
        if age < NEW_FOR:
            return "NEW"
        if age < MATCHED_AFTER:
            return "INPROGRESS"
        pol, _ts, pod, _vessels = ROUTES[shipment.route]
        status = "BOOKED"
        for movement, _at, actual in self._timeline(shipment, now):
            if not actual:
                break
            if movement.event == "LOAD" and movement.place is pol:
                status = "LOADED"
            elif movement.event == "DEPA" and movement.place is pol:
                status = "SAILING"
            elif movement.event == "ARRV" and movement.place is pod:
                status = "ARRIVED"
            elif movement.event == "DISC" and movement.place is pod:
                status = "DISCHARGED"
        return status

    def _summary(self, shipment: _Shipment) -> dict[str, Any]:
        now = self.clock.now()
        status = self._status(shipment, now)
        matched = status not in {"NEW", "INPROGRESS"}
        route: dict[str, Any] | None = None
        if matched:
            pol, ts, pod, _vessels = ROUTES[shipment.route]
            timeline = self._timeline(shipment, now)
            load = next(at for m, at, _ in timeline if m.event == "LOAD" and m.place is pol)
            disc = next(at for m, at, _ in timeline if m.event == "DISC" and m.place is pod)
            initial_disc = next(m.at for m in shipment.plan() if m.event == "DISC" and m.place is pod)
            departed = next(at for m, at, _ in timeline if m.event == "DEPA" and m.place is pol)
            span = max(disc - departed, 1.0)
            route = {
                "port_of_loading": {
                    "location": pol.location(),
                    "date_of_loading": pol.local(load),
                    "date_of_loading_initial": pol.local(load),
                },
                "ts_count": 0 if ts is None else 1,
                "port_of_discharge": {
                    "location": pod.location(),
                    "date_of_discharge": pod.local(disc),
                    "date_of_discharge_initial": pod.local(initial_disc),
                },
                "transit_time": round((disc - departed) / DAY),
                "transit_percentage": max(0, min(100, round(100 * (now - departed) / span))),
                "co2_emission": None,
            }
        return {
            "id": shipment.id,
            "reference": shipment.reference,
            "booking_number": shipment.booking_number,
            "container_number": self._container_of(shipment, matched),
            "container_count": 1,
            "carrier": {"scac": shipment.carrier, "name": CARRIERS.get(shipment.carrier, shipment.carrier)},
            "status": status,
            "route": route,
            "tokens": {"map": f"sandbox-map-{shipment.id}"},
            "followers": [{"id": i + 1, "email": e} for i, e in enumerate(shipment.followers)],
            "tags": [{"id": i + 1, "name": t} for i, t in enumerate(shipment.tags)],
            "creator": {"name": "Sandbox User", "email": "sandbox@example.com"},
            "created_at": _utc(shipment.created),
            "updated_at": _utc(max(shipment.created, min(now, shipment.created + 30 * DAY))),
            "checked_at": _utc(now),
            "discarded_at": None if shipment.discarded is None else _utc(shipment.discarded),
        }

    def _detail(self, shipment: _Shipment) -> dict[str, Any]:
        summary = self._summary(shipment)
        now = self.clock.now()
        containers: list[dict[str, Any]] = []
        if summary["route"] is not None:
            movements = []
            for movement, at, actual in self._timeline(shipment, now):
                vessel = movement.vessel
                movements.append(
                    {
                        "event": movement.event,
                        "status": "ACT" if actual else "EST",
                        "vessel": None if vessel is None else {"name": vessel[0], "imo": vessel[1]},
                        "voyage": None if vessel is None else vessel[2],
                        "location": movement.place.location(),
                        "timestamp": movement.place.local(at),
                    }
                )
            containers.append(
                {
                    "number": summary["container_number"],
                    "status": summary["status"],
                    "size": "40",
                    "type": "HC",
                    "movements": movements,
                }
            )
        return {**summary, "containers": containers}

    # -- webhooks ---------------------------------------------------------------------------

    def signed_webhook(
        self, shipment_id: int | str, name: str = "OCEAN.SHIPMENTS.SHIPMENT_UPDATED"
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery for a shipment: the raw body and the headers ShipsGo sends."""
        with self.lock:
            shipment = self.shipments[int(shipment_id)]
            event_id = f"evt_{self._next_event:06d}"
            self._next_event += 1
            envelope = {
                "event": {"id": event_id, "name": name, "triggered_by": "SYSTEM"},
                "shipment": self._detail(shipment),
            }
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        signature = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            self.spec["header.signature"]: signature,
            self.spec["header.webhook_id"]: f"whd_{event_id}",
            self.spec["header.webhook_name"]: name,
        }
        return body, headers


_OPERATORS = frozenset(
    {"eq", "not_eq", "in", "not_in", "contains", "not_contains", "gt", "gte", "lt", "lte",
     "between", "with", "without"}
)


def _utc(instant: float) -> str:
    return datetime.fromtimestamp(instant, timezone.utc).isoformat(timespec="seconds")


def _validate_create(body: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    reference = body.get("reference")
    low, high = spec["limit.reference_length"]
    max_followers, max_tags = int(spec["limit.followers"]), int(spec["limit.tags"])
    max_tag_length = int(spec["limit.tag_length"])
    if reference is not None and not (isinstance(reference, str) and low <= len(reference) <= high):
        add("reference", f"reference must be a string of {low} to {high} characters")
    container = body.get("container_number")
    booking = body.get("booking_number")
    if not container and not booking:
        add("container_number", "container_number or booking_number is required")
    if container and not (isinstance(container, str) and CONTAINER_PATTERN.match(container)):
        add("container_number", "container_number must match ^[A-Z]{4}[0-9]{7}$")
    if booking and not (isinstance(booking, str) and BOOKING_PATTERN.match(booking)):
        add("booking_number", "booking_number must match ^[A-Za-z0-9/-]+$")
    carrier = body.get("carrier")
    if carrier is not None and not (isinstance(carrier, str) and SCAC_PATTERN.match(carrier)):
        add("carrier", "carrier must match ^(SG_)?[A-Z0-9]{4}$")
    followers = body.get("followers") or []
    if not isinstance(followers, list) or len(followers) > max_followers:
        add("followers", f"followers must be a list of at most {max_followers} e-mails")
    elif any(not isinstance(f, str) or not EMAIL_PATTERN.match(f) for f in followers):
        add("followers", "every follower must be an e-mail address")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or len(tags) > max_tags:
        add("tags", f"tags must be a list of at most {max_tags}")
    elif any(not isinstance(t, str) or not 0 < len(t) <= max_tag_length for t in tags):
        add("tags", f"every tag must be 1 to {max_tag_length} characters")
    return errors


def _field_values(row: Mapping[str, Any], field: str) -> list[str]:
    route = row.get("route") or {}
    if field == "carrier":
        return [row["carrier"]["scac"]]
    if field in {"port_of_loading", "port_of_discharge"}:
        node = route.get(field) or {}
        code = (node.get("location") or {}).get("code")
        return [code] if code else []
    if field in {"port_of_loading_country", "port_of_discharge_country"}:
        node = route.get(field.removesuffix("_country")) or {}
        code = ((node.get("location") or {}).get("country") or {}).get("code")
        return [code] if code else []
    if field == "date_of_loading":
        value = (route.get("port_of_loading") or {}).get("date_of_loading")
        return [value] if value else []
    if field == "date_of_discharge":
        value = (route.get("port_of_discharge") or {}).get("date_of_discharge")
        return [value] if value else []
    if field == "tags":
        return [t["name"] for t in row.get("tags") or []]
    if field == "followers":
        return [f["email"] for f in row.get("followers") or []]
    if field == "creator":
        return [row["creator"]["email"]]
    value = row.get(field)
    return [] if value is None else [str(value)]


def _comparable(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text.upper()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _matches(row: Mapping[str, Any], field: str, op: str, argument: str) -> bool:
    values = _field_values(row, field)
    upper = [v.upper() for v in values]
    if op == "with":
        return bool(values)
    if op == "without":
        return not values
    if op in {"eq", "not_eq"}:
        hit = argument.upper() in upper
        return hit if op == "eq" else not hit
    if op in {"in", "not_in"}:
        wanted = {a.strip().upper() for a in argument.split(",")}
        hit = bool(wanted & set(upper))
        return hit if op == "in" else not hit
    if op in {"contains", "not_contains"}:
        hit = any(argument.upper() in v for v in upper)
        return hit if op == "contains" else not hit
    if not values:
        return False
    value = _comparable(values[0])
    try:
        if op == "between":
            low, _, high = argument.partition("...")
            return bool(_comparable(low) <= value <= _comparable(high))
        bound = _comparable(argument)
        return bool(
            {"gt": value > bound, "gte": value >= bound, "lt": value < bound, "lte": value <= bound}[op]
        )
    except TypeError:
        return False


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, Mapping):
        return (2, str(value.get("scac") or value))
    return (2, str(value))
