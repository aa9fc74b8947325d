"""ControlT: GPS route monitoring of land trips (Colombia-based, used by Mexican carriers).

A land service is registered at ControlT as a *travel*; the registration is asynchronous
(``PENDING`` until ControlT answers, then ``CREATED`` with a Travel ID). The trip is then
assigned a carrier, a vehicle (plate, optional trailer, fleet type: own / linked / third party)
and a driver, activated (monitoring starts; who and when are recorded) and finally closed.

Credentials (what ControlT hands out): API username, CompanyCode and API key (the key is the
account's access password). Resolved from arguments, ``APUNTO_CONTROLT_USERNAME`` /
``_COMPANY_CODE`` / ``_API_KEY`` or the keyring.

Auth: ``POST /login/oauth`` with form fields ``username`` and ``password`` returns an
``access_token`` with ``expires_in``; every other call sends ``Authorization: Bearer``. The
token is cached until shortly before it expires, refreshed once when the server answers 401
(or a body ``Message`` saying access was *denied*), and shared safely between threads.

**What is public and what is assumed.** ControlT publishes no documentation of its write API.
Third-party clients show only the read side of ``https://app.controlt.com.co/apipublic/api``:
the OAuth login above, ``GET /Travel/{id}``, ``GET /Resume?size=&page=`` (active travels) and
``GET /Travel/search?dateStart=dd/MM/yyyy&dateEnd=&size=&page=``, with travel fields
``trip_number``, ``id_monitoring_order``, ``license_plate``, ``driver_name``, ``state_travel``
(Spanish states: sin asignar, sin activar, iniciado, cargando, en tránsito, pernoctando,
descargando, completado, finalizado, cancelado), ``percentage_travel``,
``latest_gps_report``, ``company_customer_name``, ``city_origin``, ``city_destination`` and
``schedulate_origin`` (``dd/MM/yyyy HH:mm:ss``). Everything else — the create, registration
status, assign, activate and close paths, their field names, the CompanyCode field, the
fleet-type values, the Bogotá (UTC-5) timestamps and the 409 answers — is modelled on those
read-side names and on the closest public analogue (UNIGIS MAPI: ``CrearViaje`` →
``IdViaje``, ``AsignarVehiculo``, ``AsignarConductor``, ``ActivarViaje(IdViaje,
FechaCambioEstado)``). Every such path and name lives in ONE table, :data:`DEFAULT_ENDPOINTS`;
override any entry with ``ControlTProvider(endpoints={"create": "POST /Viaje", ...})`` once you
have ControlT's integration PDF. The offline emulator implements the same table.

Lifecycle (checked before any write is sent; the vendor's own 409 maps to the same error):

    PENDING → CREATED → ASSIGNED → ACTIVE (→ IN_TRANSIT → ARRIVED) → CLOSED
    assign: from CREATED or ASSIGNED (re-assigning before activation is allowed)
    activate: from ASSIGNED · close: from ACTIVE, IN_TRANSIT or ARRIVED

A wrong step raises :class:`~apunto_connect.tracking.base.InvalidTransition` (a
:class:`~apunto_connect.errors.Conflict`) naming the current status; bad vehicle, driver or
shipment data raises :class:`~apunto_connect.errors.ValidationError` naming field and rule.

The tracking id this provider hands out is your trip reference (``trip_number``): it is known
before the call (so an ambiguous create can be retried: ControlT refuses a duplicate trip number
with 409, treated as success) and stays valid while the registration is pending. The Travel ID
is in ``Tracking.travel_id`` once created.

Sources: the Apunto help page "Apunto + ControlT" (credentials, fields, lifecycle, statuses);
third-party clients of the public read API; UNIGIS MAPI Logistic Services documentation.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import requests

from .._answers import answer_mapper
from .._caches import BoundedCache, bounded_cache
from .._overrides import merged_table
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    Issue,
    PermissionDenied,
    ProviderError,
    Timeout,
    ValidationError,
)
from ..http import DEFAULT_TIMEOUT, RetryPolicy, Transport, error_for_status
from ..models.common import Capability, ConnectionStatus
from ..models.tracking import (
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
from .base import InvalidTransition, TrackingProvider, check_transition

__all__ = [
    "ACCEPTED_SERVICE_STATUSES",
    "ACTIVATE_FROM",
    "ASSIGN_FROM",
    "BASE_URL",
    "CLOSE_FROM",
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "STATE_MAP",
    "ControlTProvider",
    "assignment_to_controlt",
    "controlt_error",
    "controlt_to_tracking",
    "shipment_to_controlt",
    "validate_assignment",
    "validate_driver",
    "validate_vehicle",
]

PROVIDER = "controlt"
BASE_URL = "https://app.controlt.com.co/apipublic/api"

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),
    CredentialField("company_code", secret=False),
    CredentialField("api_key"),
)
"""API username, CompanyCode and API key (the access password), as ControlT issues them."""

DEFAULT_ENDPOINTS: Mapping[str, str] = {
    # -- read side, seen in third-party clients ------------------------------------------
    "login": "POST /login/oauth",
    "travel": "GET /Travel/{travel_id}",
    "active_travels": "GET /Resume",
    "search": "GET /Travel/search",
    # -- write side: ASSUMED (no public documentation) -----------------------------------
    "create": "POST /Travel",
    "registration": "GET /Travel/request/{trip_number}",
    "assign": "POST /Travel/{travel_id}/assign",
    "activate": "POST /Travel/{travel_id}/activate",
    "close": "POST /Travel/{travel_id}/close",
    # -- login form and token answer (username/password/access_token/expires_in seen) ----
    "field.grant_type": "grant_type",
    "field.username": "username",
    "field.password": "password",
    "field.company_code": "company_code",  # ASSUMED
    "field.access_token": "access_token",
    "field.expires_in": "expires_in",
    # -- travel fields (seen on the read side) -------------------------------------------
    "field.trip_number": "trip_number",
    "field.travel_id": "id_monitoring_order",
    "field.state": "state_travel",
    "field.percentage": "percentage_travel",
    "field.latest_gps": "latest_gps_report",
    "field.customer": "company_customer_name",
    "field.origin": "city_origin",
    "field.destination": "city_destination",
    "field.origin_address": "origin_address",
    "field.scheduled_at": "schedulate_origin",
    "field.plate": "license_plate",
    "field.driver_name": "driver_name",
    "field.message": "Message",
    # -- registration, assignment and lifecycle fields: ASSUMED --------------------------
    "field.registration_state": "state_request",
    "field.trailer_plate": "trailer_plate",
    "field.fleet_type": "fleet_type",
    "field.carrier_id": "nit_transport_company",
    "field.carrier_name": "transport_company_name",
    "field.driver_id": "driver_document",
    "field.driver_first_name": "driver_first_name",
    "field.driver_last_name": "driver_last_name",
    "field.driver_phone": "driver_phone",
    "field.user": "user",
    "field.date": "date",
    "field.activated_by": "activation_user",
    "field.activated_at": "activation_date",
    "field.closed_by": "closing_user",
    "field.closed_at": "closing_date",
    # -- paging (size/page/dateStart/dateEnd seen; the list envelope key ASSUMED) --------
    "field.page": "page",
    "field.size": "size",
    "field.date_start": "dateStart",
    "field.date_end": "dateEnd",
    "field.items": "data",
    # -- values: ASSUMED -----------------------------------------------------------------
    "value.grant_type": "password",
    "value.registration_pending": "PENDIENTE",
    "value.registration_created": "CREADO",
    "value.registration_rejected": "RECHAZADO",
    "value.fleet_own": "PROPIA",
    "value.fleet_linked": "VINCULADA",
    "value.fleet_third_party": "TERCERO",
    # dd/MM/yyyy HH:mm:ss is seen; Bogotá time (UTC-5, no daylight saving) is assumed.
    "format.datetime": "%d/%m/%Y %H:%M:%S",
    "format.date": "%d/%m/%Y",
    "format.utc_offset": "-05:00",
}
"""Every ControlT path (``"METHOD /path"``), field name, value and format the SDK uses.

Override entries with ``ControlTProvider(endpoints={...})``; unknown keys are refused so a typo
does not go unnoticed.
"""

STATE_MAP: Mapping[str, TrackingStatus] = {
    "SIN ASIGNAR": TrackingStatus.CREATED,
    "SIN ACTIVAR": TrackingStatus.ASSIGNED,
    "INICIADO": TrackingStatus.ACTIVE,
    "CARGANDO": TrackingStatus.ACTIVE,
    "EN TRANSITO": TrackingStatus.IN_TRANSIT,
    "PERNOCTANDO": TrackingStatus.IN_TRANSIT,
    "DESCARGANDO": TrackingStatus.ARRIVED,
    "COMPLETADO": TrackingStatus.ARRIVED,
    "FINALIZADO": TrackingStatus.CLOSED,
    "CANCELADO": TrackingStatus.CANCELLED,
}
"""``state_travel`` (accents and case ignored) → unified status."""

ASSIGN_FROM = frozenset({TrackingStatus.CREATED, TrackingStatus.ASSIGNED})
ACTIVATE_FROM = frozenset({TrackingStatus.ASSIGNED})
CLOSE_FROM = frozenset({TrackingStatus.ACTIVE, TrackingStatus.IN_TRANSIT, TrackingStatus.ARRIVED})

ACCEPTED_SERVICE_STATUSES: frozenset[str] = frozenset(
    {"ACTIVE", "ACTIVO", "ACTIVA", "FINISHED", "FINALIZADO", "FINALIZADA"}
)
"""Service statuses (accents and case ignored) for which a trip may be registered."""

TOKEN_SKEW = 60.0
MAX_REFERENCE = 50
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


def _zone(endpoints: Mapping[str, str]) -> timezone:
    text = endpoints["format.utc_offset"]
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def format_datetime(moment: datetime, endpoints: Mapping[str, str] = DEFAULT_ENDPOINTS) -> str:
    """A datetime as ControlT writes it (``dd/MM/yyyy HH:mm:ss``, ControlT's local time)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_zone(endpoints))
    return moment.strftime(endpoints["format.datetime"])


def parse_datetime(value: Any, endpoints: Mapping[str, str] = DEFAULT_ENDPOINTS) -> datetime | None:
    """ControlT's ``dd/MM/yyyy HH:mm:ss`` (or ISO 8601) → aware datetime; else ``None``."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for fmt in (endpoints["format.datetime"], endpoints["format.date"]):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=_zone(endpoints))
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_zone(endpoints))


def shipment_to_controlt(
    shipment: Shipment, company_code: str, endpoints: Mapping[str, str] = DEFAULT_ENDPOINTS
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
    if not reference or len(reference) > MAX_REFERENCE or not _REFERENCE.match(reference):
        issues.append(
            _issue("reference", "CONTROLT-REFERENCE",
                   f"reference must be 1 to {MAX_REFERENCE} letters, digits, spaces or _ . / -",
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
    f = endpoints
    body: dict[str, Any] = {
        f["field.trip_number"]: reference,
        f["field.company_code"]: company_code,
        f["field.origin"]: (shipment.origin or "").strip(),
        f["field.destination"]: (shipment.destination or "").strip(),
    }
    if shipment.customer:
        body[f["field.customer"]] = shipment.customer
    if shipment.scheduled_at is not None:
        body[f["field.scheduled_at"]] = format_datetime(shipment.scheduled_at, endpoints)
    body.update(shipment.extra)
    return body


def _fleet_value(fleet: FleetType, endpoints: Mapping[str, str]) -> str:
    return endpoints[f"value.fleet_{fleet.value.lower()}"]


def _fleet_from(value: Any, endpoints: Mapping[str, str]) -> FleetType:
    for fleet in FleetType:
        if _bare(value) == _bare(_fleet_value(fleet, endpoints)):
            return fleet
    return FleetType.parse(value)


def assignment_to_controlt(
    assignment: Assignment, endpoints: Mapping[str, str] = DEFAULT_ENDPOINTS
) -> dict[str, Any]:
    """The assign body, validated first.

    Raises:
        ValidationError: every problem with carrier, vehicle and driver at once.
    """
    issues = validate_assignment(assignment)
    if issues:
        raise ValidationError(issues)
    f = endpoints
    vehicle, driver = assignment.vehicle, assignment.driver
    body: dict[str, Any] = {
        f["field.carrier_id"]: assignment.carrier_id.strip(),
        f["field.carrier_name"]: assignment.carrier_name.strip(),
        f["field.plate"]: vehicle.plate,
        f["field.fleet_type"]: _fleet_value(vehicle.fleet_type, endpoints),
        f["field.driver_id"]: driver.identification,
        f["field.driver_first_name"]: driver.first_name,
        f["field.driver_last_name"]: driver.last_name,
        f["field.driver_phone"]: driver.phone,
    }
    if vehicle.trailer_plate:
        body[f["field.trailer_plate"]] = vehicle.trailer_plate
    return body


def _assignment_from(travel: Mapping[str, Any], f: Mapping[str, str]) -> Assignment | None:
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
    endpoints: Mapping[str, str] = DEFAULT_ENDPOINTS,
    provider: str = PROVIDER,
) -> Tracking:
    """Map a registration answer and (once created) the travel to a :class:`Tracking`."""
    f = endpoints
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
    status = STATE_MAP.get(_bare(native or ""), TrackingStatus.CREATED)
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


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message_of(body: Any) -> str | None:
    if isinstance(body, Mapping):
        for key in ("Message", "message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def controlt_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed ControlT answer; ``Message`` (ASP.NET) or ``error_description`` verbatim.

    409 (the trip is in the wrong state) becomes :class:`InvalidTransition`; a 400 with
    ``error: invalid_grant`` from the login becomes an authentication error; ``ModelState``
    validation details are kept in ``details``.
    """
    body = _json_or_none(response)
    message = _message_of(body)
    if message is None:
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else (
            f"HTTP {response.status_code} {response.reason or ''}".strip()
        )
    details = body if isinstance(body, (Mapping, list)) else None
    code = body.get("error") if isinstance(body, Mapping) and isinstance(body.get("error"), str) else None
    if response.status_code == 409:
        return InvalidTransition(
            message, operation="", current_status=None, provider=provider, status_code=409,
            details=details, raw_body=response.text[:4000] or None,
        )
    if response.status_code == 400 and code == "invalid_grant":
        return AuthenticationError(message, provider=provider, status_code=400, vendor_code=code,
                                   details=details)
    return error_for_status(provider, response, message, vendor_code=code, details=details)


def _denied(body: Any) -> str | None:
    message = _message_of(body)
    return message if message and "denied" in message.lower() else None


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


def _split_endpoint(value: str) -> tuple[str, str]:
    method, _, path = value.strip().partition(" ")
    if not path:
        raise ConfigurationError(f"endpoint {value!r} must look like 'GET /path'")
    return method.upper(), path.strip()


class ControlTProvider(TrackingProvider):
    """ControlT land-trip monitoring as a :class:`TrackingProvider` (see the module docstring).

    Args:
        username, company_code, api_key: ControlT credentials (else environment or keyring).
        base_url: another server speaking the same API (the emulator, a proxy).
        environment: ``production`` or ``emulator`` (a label in ``check_connection``).
        session, timeout, max_retries, sleep: transport options; ``sleep`` also paces
            :meth:`wait_until_created`.
        endpoints: overrides merged over :data:`DEFAULT_ENDPOINTS`.
        now: the wall clock used for activation and closing dates.
        clock: monotonic clock for token expiry.
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
        endpoints: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if environment not in {"production", "emulator"}:
            raise ConfigurationError(
                f"ControlT has no {environment!r} environment; use 'production', or "
                "apunto_connect.Sandbox() for the offline emulator"
            )
        creds = resolve_credentials(
            PROVIDER, CREDENTIALS,
            {"username": username, "company_code": company_code, "api_key": api_key},
        )
        self.username: str = creds["username"]
        self.company_code: str = creds["company_code"]
        self._api_key: Secret = creds["api_key"]
        self.environment = environment
        self.endpoints: dict[str, str] = merged_table(
            "ControlT", DEFAULT_ENDPOINTS, endpoints, "endpoint"
        )
        self._sleep = sleep
        self._clock = clock
        self._now = now or (lambda: datetime.now(timezone.utc))
        retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
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
        return self.endpoints[f"field.{name}"]

    def _login(self) -> tuple[str, float]:
        method, path = _split_endpoint(self.endpoints["login"])
        form = {
            self._f("grant_type"): self.endpoints["value.grant_type"],
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
        method, path = _split_endpoint(self.endpoints[name])
        path = path.format(**{k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
        for attempt in range(2):
            response = self._transport.request(method, path, **kwargs)
            body = self._transport.decode_json(response)
            denied = _denied(body)
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

    def check_connection(self) -> ConnectionStatus:
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

    def create_tracking(self, shipment: Shipment) -> Tracking:
        """Register a land service at ControlT; the answer is usually ``PENDING``.

        Only land services whose service status is active or finished are accepted (checked
        before any call). Safe to retry: a repeated trip number is answered 409 with the
        existing registration, which is returned as is (``extra["already_existed"]``).
        Follow with :meth:`wait_until_created`.
        """
        self.require(Capability.CREATE_TRACKING)
        body = shipment_to_controlt(shipment, self.company_code, self.endpoints)
        trip = str(body[self._f("trip_number")])
        response, data = self._call("create", json=body, idempotent=True, expected=(409,))
        existed = response.status_code == 409
        registration = data if isinstance(data, Mapping) else {}
        if not registration.get(self._f("registration_state")):
            registration = self._registration(trip)
        tracking = controlt_to_tracking(trip, registration, None, self.endpoints)
        self._remember(trip, tracking.travel_id)
        if tracking.status is TrackingStatus.CREATED and tracking.travel_id:
            tracking = self._with_travel(trip, registration, tracking.travel_id)
        return attrs.evolve(tracking, extra={**tracking.extra, "already_existed": existed})

    def _with_travel(self, trip: str, registration: Mapping[str, Any], travel_id: str) -> Tracking:
        return controlt_to_tracking(trip, registration, self._travel(travel_id), self.endpoints)

    def get_tracking(self, tracking_id: str) -> Tracking:
        """The trip's registration status, and once created its travel state and assignment."""
        self.require(Capability.GET_TRACKING)
        trip = self._trip(tracking_id)
        travel_id = self._travel_id(trip)
        registration: Mapping[str, Any]
        if travel_id is None:
            registration = self._registration(trip)
            pending = controlt_to_tracking(trip, registration, None, self.endpoints)
            if pending.status is not TrackingStatus.CREATED or not pending.travel_id:
                return pending
            travel_id = pending.travel_id
            self._remember(trip, travel_id)
        else:
            registration = {
                self._f("registration_state"): self.endpoints["value.registration_created"],
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
            tracking = self.get_tracking(tracking_id)
            if tracking.status is TrackingStatus.CANCELLED and tracking.travel_id is None:
                raise ProviderError(
                    str(tracking.extra.get("message") or "ControlT rejected the registration"),
                    provider=PROVIDER, vendor_code=tracking.native_status,
                    details=dict(tracking.raw),
                )
            if tracking.status is not TrackingStatus.PENDING:
                return tracking
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
        current = self.get_tracking(trip)
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
            return controlt_to_tracking(trip, registration, data, self.endpoints)
        return self.get_tracking(trip)

    def assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        """Assign carrier, vehicle and driver (validated locally first) → ``ASSIGNED``."""
        self.require(Capability.ASSIGN)
        body = assignment_to_controlt(assignment, self.endpoints)
        return self._transition(tracking_id, "assign", ASSIGN_FROM, body)

    def _who_and_when(self, by: str) -> dict[str, Any]:
        user = (by or "").strip() if isinstance(by, str) else ""
        if not user:
            raise ValidationError("say who does it: by= must be a non-empty user name", field="by",
                                  code="CONTROLT-USER")
        return {self._f("user"): user, self._f("date"): format_datetime(self._now(), self.endpoints)}

    def activate(self, tracking_id: str, *, by: str) -> Tracking:
        """Start monitoring an assigned trip; ControlT records ``by`` and the time."""
        self.require(Capability.ACTIVATE)
        return self._transition(tracking_id, "activate", ACTIVATE_FROM, self._who_and_when(by))

    def close(self, tracking_id: str, *, by: str) -> Tracking:
        """Finish monitoring an active trip; records ``by`` and the time. Nothing follows."""
        self.require(Capability.CLOSE)
        return self._transition(tracking_id, "close", CLOSE_FROM, self._who_and_when(by))

    def _items(self, body: Any) -> Sequence[Any]:
        if isinstance(body, list):
            return body
        if isinstance(body, Mapping):
            items = body.get(self._f("items"))
            if isinstance(items, list):
                return items
        return []

    def list_trackings(self, **filters: Any) -> Iterator[Tracking]:
        """Active travels (``GET /Resume``), or travels between ``date_start`` and ``date_end``.

        Keyword arguments: ``date_start``/``date_end`` (dates; both or neither), ``page_size``
        (default 50), ``limit``. Lazy: one page is fetched at a time.
        """
        self.require(Capability.LIST_TRACKINGS)
        start = filters.pop("date_start", None)
        end = filters.pop("date_end", None)
        page_size = int(filters.pop("page_size", 50))
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
            fmt = self.endpoints["format.date"]
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
                yield controlt_to_tracking(trip, None, travel, self.endpoints)
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

