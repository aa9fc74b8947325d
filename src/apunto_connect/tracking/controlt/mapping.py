"""ControlT ↔ SDK models: validation and pure mappers, no I/O.

Field names, values and formats come from a spec (:data:`~.spec.SPEC` or a provider's copy with
overrides); nothing here sends a request.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..._answers import answer_mapper
from ...errors import Issue, ValidationError
from ...models.tracking import (
    Assignment,
    Driver,
    FleetType,
    Shipment,
    Tracking,
    TrackingEvent,
    TrackingMode,
    TrackingStatus,
    Vehicle,
)
from .spec import PROVIDER, SPEC

__all__ = [
    "ACCEPTED_SERVICE_STATUSES",
    "ACTIVATE_FROM",
    "ASSIGN_FROM",
    "CLOSE_FROM",
    "assignment_to_controlt",
    "controlt_to_tracking",
    "format_datetime",
    "parse_datetime",
    "shipment_to_controlt",
    "validate_assignment",
    "validate_driver",
    "validate_vehicle",
]

ASSIGN_FROM = frozenset({TrackingStatus.CREATED, TrackingStatus.ASSIGNED})
ACTIVATE_FROM = frozenset({TrackingStatus.ASSIGNED})
CLOSE_FROM = frozenset({TrackingStatus.ACTIVE, TrackingStatus.IN_TRANSIT, TrackingStatus.ARRIVED})

ACCEPTED_SERVICE_STATUSES: frozenset[str] = frozenset(
    {"ACTIVE", "ACTIVO", "ACTIVA", "FINISHED", "FINALIZADO", "FINALIZADA"}
)
"""Service statuses (accents and case ignored) for which a trip may be registered."""


_PLATE = re.compile(r"^[A-Z0-9-]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9.-]+$")
_NAME = re.compile(r"^[^\W\d_]+(?:[ '.-]*[^\W\d_]+)*\.?$", re.UNICODE)
_REFERENCE = re.compile(r"^[A-Za-z0-9 _./-]+$")


def _bare(text: Any) -> str:
    decomposed = unicodedata.normalize("NFKD", str(text))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).upper().split())


def _issue(field: str, code: str, message: str, message_es: str = "") -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es)


# -- validation (pure) ---------------------------------------------------------------------------


def _plate_issues(field: str, plate: str | None) -> list[Issue]:
    if not plate:
        return [_issue(field, "CONTROLT-PLATE-REQUIRED", "plate is required", "la placa es obligatoria")]
    letters = plate.replace("-", "")
    if not _PLATE.match(plate) or not 4 <= len(letters) <= 10:
        return [
            _issue(field, "CONTROLT-PLATE-FORMAT",
                   f"plate {plate!r} must be 4 to 10 letters or digits (dashes allowed)",
                   f"la placa {plate!r} debe tener de 4 a 10 letras o dígitos")
        ]
    return []


def validate_vehicle(vehicle: Vehicle, prefix: str = "vehicle") -> list[Issue]:
    """Problems with a vehicle: plate and trailer plate shape, trailer ≠ truck."""
    issues = _plate_issues(f"{prefix}.plate", vehicle.plate)
    if vehicle.trailer_plate is not None:
        issues += _plate_issues(f"{prefix}.trailer_plate", vehicle.trailer_plate)
        if vehicle.trailer_plate.replace("-", "") == vehicle.plate.replace("-", ""):
            issues.append(
                _issue(f"{prefix}.trailer_plate", "CONTROLT-TRAILER-SAME",
                       "the trailer plate repeats the vehicle plate",
                       "la placa del remolque repite la de la unidad")
            )
    return issues


def _name_issues(field: str, value: str, what: str) -> list[Issue]:
    if not value:
        return [_issue(field, "CONTROLT-NAME-REQUIRED", f"{what} is required", f"{what}: obligatorio")]
    if len(value) > 60 or not _NAME.match(value):
        return [
            _issue(field, "CONTROLT-NAME-FORMAT",
                   f"{what} {value!r} must be 1 to 60 letters (spaces, apostrophes, dots and "
                   "hyphens allowed; no digits)",
                   f"{what} {value!r}: solo letras, hasta 60")
        ]
    return []


def validate_driver(driver: Driver, prefix: str = "driver") -> list[Issue]:
    """Problems with a driver: identification, first and last name, phone (all required)."""
    issues: list[Issue] = []
    ident = driver.identification
    if not ident:
        issues.append(
            _issue(f"{prefix}.identification", "CONTROLT-ID-REQUIRED",
                   "driver identification is required", "la identificación es obligatoria")
        )
    elif not _IDENTIFIER.match(ident) or not 4 <= len(ident) <= 20:
        issues.append(
            _issue(f"{prefix}.identification", "CONTROLT-ID-FORMAT",
                   f"identification {ident!r} must be 4 to 20 letters, digits, dots or dashes",
                   "la identificación debe tener de 4 a 20 letras o dígitos")
        )
    issues += _name_issues(f"{prefix}.first_name", driver.first_name, "first name")
    issues += _name_issues(f"{prefix}.last_name", driver.last_name, "last name")
    if not driver.phone:
        issues.append(
            _issue(f"{prefix}.phone", "CONTROLT-PHONE-REQUIRED",
                   "driver phone is required by ControlT", "el teléfono es obligatorio")
        )
    else:
        digits = re.sub(r"[\s().-]", "", driver.phone)
        if not re.fullmatch(r"\+?[0-9]{7,15}", digits):
            issues.append(
                _issue(f"{prefix}.phone", "CONTROLT-PHONE-FORMAT",
                       f"phone {driver.phone!r} must have 7 to 15 digits (an optional leading +; "
                       "spaces, dots, dashes and parentheses are ignored)",
                       "el teléfono debe tener de 7 a 15 dígitos")
            )
    return issues


def validate_assignment(assignment: Assignment) -> list[Issue]:
    """Every problem with an assignment: carrier id and name, vehicle and driver."""
    issues: list[Issue] = []
    carrier_id = (assignment.carrier_id or "").strip()
    if not carrier_id:
        issues.append(
            _issue("carrier_id", "CONTROLT-CARRIER-ID", "carrier id is required",
                   "la identificación de la transportadora es obligatoria")
        )
    elif not _IDENTIFIER.match(carrier_id) or not 3 <= len(carrier_id) <= 20:
        issues.append(
            _issue("carrier_id", "CONTROLT-CARRIER-ID",
                   f"carrier id {carrier_id!r} must be 3 to 20 letters, digits, dots or dashes")
        )
    name = (assignment.carrier_name or "").strip()
    if not name or len(name) > 100:
        issues.append(
            _issue("carrier_name", "CONTROLT-CARRIER-NAME", "carrier name is required (up to 100 characters)",
                   "el nombre de la transportadora es obligatorio")
        )
    # Assignments built by hand may carry anything; attrs does not check types.
    vehicle: Any = assignment.vehicle
    driver: Any = assignment.driver
    if not isinstance(vehicle, Vehicle):
        issues.append(_issue("vehicle", "CONTROLT-VEHICLE", "vehicle is required"))
    else:
        issues += validate_vehicle(vehicle)
    if not isinstance(driver, Driver):
        issues.append(_issue("driver", "CONTROLT-DRIVER", "driver is required"))
    else:
        issues += validate_driver(driver)
    return issues


# -- mappers (pure) ------------------------------------------------------------------------------


def _zone(spec: Mapping[str, Any]) -> timezone:
    text = spec["value.utc_offset"]
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def format_datetime(moment: datetime, spec: Mapping[str, Any] = SPEC) -> str:
    """A datetime as ControlT writes it (``dd/MM/yyyy HH:mm:ss``, ControlT's local time)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_zone(spec))
    return moment.strftime(spec["value.datetime_format"])


def parse_datetime(value: Any, spec: Mapping[str, Any] = SPEC) -> datetime | None:
    """ControlT's ``dd/MM/yyyy HH:mm:ss`` (or ISO 8601) → aware datetime; else ``None``."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in (spec["value.datetime_format"], spec["value.date_format"]):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=_zone(spec))
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_zone(spec))


def shipment_to_controlt(
    shipment: Shipment, company_code: str, spec: Mapping[str, Any] = SPEC
) -> dict[str, Any]:
    """The create body for a land service, validated first.

    Raises:
        ValidationError: not a land service, a service status other than active or finished,
            a missing or malformed reference, missing origin or destination.
    """
    issues: list[Issue] = []
    if shipment.mode is not TrackingMode.LAND:
        issues.append(
            _issue("mode", "CONTROLT-MODE", "ControlT tracks land services only (mode 'land')",
                   "ControlT solo está disponible para servicios de modalidad terrestre")
        )
    status = _bare(shipment.service_status or "")
    if status not in ACCEPTED_SERVICE_STATUSES:
        issues.append(
            _issue("service_status", "CONTROLT-SERVICE-STATUS",
                   f"the service must be active or finished to create a ControlT tracking "
                   f"(it is {shipment.service_status!r})",
                   "el servicio debe estar en estatus Activo o Finalizado para crear el rastreo")
        )
    reference = (shipment.reference or "").strip()
    limit = int(spec["limit.reference_length"])
    if not reference or len(reference) > limit or not _REFERENCE.match(reference):
        issues.append(
            _issue("reference", "CONTROLT-REFERENCE",
                   f"reference must be 1 to {limit} letters, digits, spaces or _ . / -",
                   "la referencia del servicio es obligatoria")
        )
    for field in ("origin", "destination"):
        if not (getattr(shipment, field) or "").strip():
            issues.append(
                _issue(field, "CONTROLT-ROUTE", f"{field} is required for a land trip",
                       f"{'origen' if field == 'origin' else 'destino'}: obligatorio")
            )
    if issues:
        raise ValidationError(issues)
    f = spec
    body: dict[str, Any] = {
        f["field.trip_number"]: reference,
        f["field.company_code"]: company_code,
        f["field.origin"]: (shipment.origin or "").strip(),
        f["field.destination"]: (shipment.destination or "").strip(),
    }
    if shipment.customer:
        body[f["field.customer"]] = shipment.customer
    if shipment.scheduled_at is not None:
        body[f["field.scheduled_at"]] = format_datetime(shipment.scheduled_at, spec)
    body.update(shipment.extra)
    return body


def _fleet_value(fleet: FleetType, spec: Mapping[str, Any]) -> str:
    return str(spec[f"value.fleet_{fleet.value.lower()}"])


def _fleet_from(value: Any, spec: Mapping[str, Any]) -> FleetType:
    for fleet in FleetType:
        if _bare(value) == _bare(_fleet_value(fleet, spec)):
            return fleet
    return FleetType.parse(value)


def assignment_to_controlt(
    assignment: Assignment, spec: Mapping[str, Any] = SPEC
) -> dict[str, Any]:
    """The assign body, validated first.

    Raises:
        ValidationError: every problem with carrier, vehicle and driver at once.
    """
    issues = validate_assignment(assignment)
    if issues:
        raise ValidationError(issues)
    f = spec
    vehicle, driver = assignment.vehicle, assignment.driver
    body: dict[str, Any] = {
        f["field.carrier_id"]: assignment.carrier_id.strip(),
        f["field.carrier_name"]: assignment.carrier_name.strip(),
        f["field.plate"]: vehicle.plate,
        f["field.fleet_type"]: _fleet_value(vehicle.fleet_type, spec),
        f["field.driver_id"]: driver.identification,
        f["field.driver_first_name"]: driver.first_name,
        f["field.driver_last_name"]: driver.last_name,
        f["field.driver_phone"]: driver.phone,
    }
    if vehicle.trailer_plate:
        body[f["field.trailer_plate"]] = vehicle.trailer_plate
    return body


def _assignment_from(travel: Mapping[str, Any], f: Mapping[str, Any]) -> Assignment | None:
    plate = travel.get(f["field.plate"])
    if not plate:
        return None
    first = travel.get(f["field.driver_first_name"])
    last = travel.get(f["field.driver_last_name"])
    if not first and not last:
        # The read side only shows the full name.
        first, last = travel.get(f["field.driver_name"]) or "", ""
    try:
        fleet = _fleet_from(travel.get(f["field.fleet_type"]) or "OWN", f)
    except ValueError:
        fleet = FleetType.OWN
    return Assignment(
        carrier_id=str(travel.get(f["field.carrier_id"]) or ""),
        carrier_name=str(travel.get(f["field.carrier_name"]) or ""),
        vehicle=Vehicle(plate, fleet, travel.get(f["field.trailer_plate"])),
        driver=Driver(
            str(travel.get(f["field.driver_id"]) or ""), str(first or ""), str(last or ""),
            travel.get(f["field.driver_phone"]),
        ),
    )


@answer_mapper(PROVIDER, "trip")
def controlt_to_tracking(
    trip_number: str,
    registration: Mapping[str, Any] | None,
    travel: Mapping[str, Any] | None,
    spec: Mapping[str, Any] = SPEC,
    provider: str = PROVIDER,
) -> Tracking:
    """Map a registration answer and (once created) the travel to a :class:`Tracking`."""
    f = spec
    registration = registration or {}
    state_request = _bare(registration.get(f["field.registration_state"]) or "")
    travel_id = registration.get(f["field.travel_id"])
    raw: dict[str, Any] = {"registration": dict(registration)}
    extra: dict[str, Any] = {}
    message = registration.get(f["field.message"])
    if message:
        extra["message"] = message
    if travel is None:
        if state_request == _bare(f["value.registration_rejected"]):
            status = TrackingStatus.CANCELLED
        elif state_request == _bare(f["value.registration_created"]):
            status = TrackingStatus.CREATED
        else:
            status = TrackingStatus.PENDING
        return Tracking(
            provider=provider, tracking_id=trip_number, reference=trip_number,
            mode=TrackingMode.LAND, status=status,
            native_status=registration.get(f["field.registration_state"]),
            travel_id=None if travel_id is None else str(travel_id), raw=raw, extra=extra,
        )
    raw["travel"] = dict(travel)
    native = travel.get(f["field.state"])
    status = f["value.travel_states"].get(_bare(native or ""), TrackingStatus.CREATED)
    travel_id = travel.get(f["field.travel_id"], travel_id)
    events: list[TrackingEvent] = []
    activated_at = parse_datetime(travel.get(f["field.activated_at"]), f)
    closed_at = parse_datetime(travel.get(f["field.closed_at"]), f)
    gps = parse_datetime(travel.get(f["field.latest_gps"]), f)
    if activated_at:
        events.append(TrackingEvent("ACTIVATED", "Monitoring activated", timestamp=activated_at,
                                    location=travel.get(f["field.origin"])))
    if gps:
        events.append(TrackingEvent("GPS_REPORT", "Latest GPS report", timestamp=gps))
    if closed_at:
        events.append(TrackingEvent("CLOSED", "Monitoring closed", timestamp=closed_at))
    percentage = travel.get(f["field.percentage"])
    if percentage is not None:
        extra["percentage"] = percentage
    assignment = _assignment_from(travel, f)
    return Tracking(
        provider=provider,
        tracking_id=str(travel.get(f["field.trip_number"]) or trip_number),
        reference=str(travel.get(f["field.trip_number"]) or trip_number),
        mode=TrackingMode.LAND,
        status=status,
        native_status=native,
        events=events,
        assignment=assignment,
        activated_at=activated_at,
        activated_by=travel.get(f["field.activated_by"]),
        closed_at=closed_at,
        closed_by=travel.get(f["field.closed_by"]),
        raw=raw,
        travel_id=None if travel_id is None else str(travel_id),
        carrier=assignment.carrier_name or None if assignment else None,
        created_at=parse_datetime(travel.get(f["field.scheduled_at"]), f),
        extra=extra,
    )
