"""Offline ControlT: trips that register late, get a truck and a driver, and drive on.

ControlT's write API is not public, so this emulator implements exactly the assumptions of
:data:`apunto_connect.tracking.controlt.SPEC` — paths, field names, values and
the ``dd/MM/yyyy HH:mm:ss`` Bogotá-time format — and ASP.NET-style answers (``Message`` bodies,
``ModelState`` validation details, an OAuth password-grant token endpoint answering
``invalid_grant``). Routes are built from that spec, so provider and emulator cannot drift;
``ControlTEmulator(spec={...})`` takes the same overrides as the provider.

Behaviour on the sandbox clock:

* login tokens live ``token_lifetime`` seconds (default one hour); an unknown or expired token
  gets 401 ``Authorization has been denied for this request.``;
* a registration stays ``PENDIENTE`` for ``registration_delay`` seconds (default 120; ControlT
  may take minutes), then becomes ``CREADO`` with a Travel ID — or ``RECHAZADO`` when
  :meth:`ControlTEmulator.reject_next_registration` was called;
* a repeated trip number is refused with 409 and the existing registration;
* assign/activate/close check the travel state and answer 409 naming it; after activation the
  trip is *iniciado*, *en tránsito* after 15 minutes, *descargando* when the planned
  ``trip_duration`` is reached and *completado* an hour later, with a GPS report every five
  minutes and the travelled percentage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import attrs

from ..tracking.controlt import BASE_URL, SPEC, format_datetime, parse_datetime
from ..vendor_spec import VendorSpec
from .framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    bearer_token,
    json_response,
)

__all__ = ["ControlTEmulator"]

DENIED = "Authorization has been denied for this request."
ACTIVE_STATES = ("iniciado", "cargando", "en tránsito", "pernoctando", "descargando", "completado")
ASSIGNABLE_STATES = ("sin asignar", "sin activar")


@attrs.define
class _Trip:
    trip_number: str
    body: dict[str, Any]
    requested_at: float
    travel_id: int
    rejected: str | None = None
    state: str = "sin asignar"
    assignment: dict[str, Any] = attrs.field(factory=dict)
    activated_at: float | None = None
    closed_at: float | None = None
    activation: dict[str, Any] = attrs.field(factory=dict)
    closing: dict[str, Any] = attrs.field(factory=dict)


class ControlTEmulator(Emulator):
    """A ControlT company account: logins, trip registrations and the travel lifecycle."""

    name: ClassVar[str] = "controlt"
    kind: ClassVar[str] = "tracking"
    base_urls: ClassVar[tuple[str, ...]] = (BASE_URL,)
    demo_credentials: ClassVar[Mapping[str, str]] = {
        "username": "apunto.sandbox",
        "company_code": "APT001",
        "api_key": "sandbox-controlt-api-key-0001",
    }

    vendor_spec: ClassVar[VendorSpec] = SPEC

    def setup(self) -> None:
        """A company with no trips yet; routes at the spec's paths."""
        self.registration_delay = 120.0
        self.token_lifetime = 3600.0
        self.trip_duration = 6 * 3600.0
        self.tokens: dict[str, float] = {}
        self.trips: dict[str, _Trip] = {}
        self.logins = 0
        self._next_travel = 48210 + (self.seed or 0) % 1000 * 100
        self._reject_reason: str | None = None
        handlers: dict[str, Callable[..., EmulatorResponse]] = {
            "login": self._login,
            "travel": self._travel,
            "active_travels": self._active,
            "search": self._search,
            "create": self._create,
            "registration": self._registration,
            "assign": self._assign,
            "activate": self._activate,
            "close": self._close,
        }
        self.route_spec(self.spec, handlers)
        self._login_path = self.spec["path.login"].partition(" ")[2].strip("/").lower()

    def _f(self, name: str) -> str:
        value: str = self.spec[f"field.{name}"]
        return value

    def provider_options(self) -> dict[str, Any]:
        """Polling advances the sandbox clock; activation dates come from it too."""
        return {
            "sleep": self.clock.sleep,
            "now": lambda: datetime.fromtimestamp(self.clock.now(), timezone.utc),
            "environment": "emulator",
        }

    # -- test hooks -------------------------------------------------------------------------

    def reject_next_registration(self, reason: str) -> None:
        """Make the next registration end ``RECHAZADO`` with ``reason`` as its message."""
        with self.lock:
            self._reject_reason = reason

    def expire_tokens(self) -> None:
        """Invalidate every issued token (as a server restart or a revoked key would)."""
        with self.lock:
            self.tokens.clear()

    # -- auth -------------------------------------------------------------------------------

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        """Bearer tokens from the login; the login path itself is open."""
        if request.path.strip("/").lower() == self._login_path:
            return None
        token = bearer_token(request)
        with self.lock:
            expires = self.tokens.get(token)
        if expires is None or expires <= self.clock.now():
            return json_response(401, {"Message": DENIED})
        return None

    def not_found(self, request: EmulatorRequest) -> EmulatorResponse:
        """ASP.NET's answer to an unknown route."""
        return json_response(
            404, {"Message": f"No HTTP resource was found that matches the request URI '{request.path}'."}
        )

    def _login(self, request: EmulatorRequest) -> EmulatorResponse:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get(self._f("grant_type")) != self.spec["value.grant_type"]:
            raise HttpError(400, {"error": "unsupported_grant_type"})
        creds = self.demo_credentials
        if (
            form.get(self._f("username")) != creds["username"]
            or form.get(self._f("password")) != creds["api_key"]
        ):
            raise HttpError(400, {"error": "invalid_grant",
                                  "error_description": "El usuario o la contraseña son incorrectos."})
        if form.get(self._f("company_code")) != creds["company_code"]:
            raise HttpError(400, {"error": "invalid_grant",
                                  "error_description": "El código de empresa no es válido para el usuario."})
        self.logins += 1
        digest = hashlib.sha256(f"{self.seed}:{self.logins}:{self.clock.now()}".encode()).hexdigest()
        token = f"ct{digest[:40]}"
        self.tokens[token] = self.clock.now() + self.token_lifetime
        return json_response(
            200,
            {self._f("access_token"): token, "token_type": "bearer",
             self._f("expires_in"): int(self.token_lifetime)},
        )

    # -- registrations ----------------------------------------------------------------------

    def _create(self, request: EmulatorRequest) -> EmulatorResponse:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, {"Message": "The request is invalid.",
                                  "ModelState": {"request": ["Se requiere un objeto JSON."]}})
        errors: dict[str, list[str]] = {}
        for field in ("trip_number", "company_code", "origin", "destination"):
            if not str(body.get(self._f(field)) or "").strip():
                errors[self._f(field)] = [f"El campo {self._f(field)} es obligatorio."]
        code = body.get(self._f("company_code"))
        if code and code != self.demo_credentials["company_code"]:
            errors[self._f("company_code")] = ["El código de empresa no corresponde al usuario."]
        scheduled = body.get(self._f("scheduled_at"))
        if scheduled and parse_datetime(scheduled, self.spec) is None:
            errors[self._f("scheduled_at")] = ["Formato de fecha inválido; use dd/MM/yyyy HH:mm:ss."]
        if errors:
            raise HttpError(400, {"Message": "The request is invalid.", "ModelState": errors})
        trip_number = str(body[self._f("trip_number")]).strip()
        existing = self.trips.get(trip_number)
        if existing is not None:
            return json_response(
                409, {**self._registration_of(existing), self._f("message"): "El viaje ya fue registrado."}
            )
        trip = _Trip(trip_number, dict(body), self.clock.now(), self._next_travel,
                     rejected=self._reject_reason)
        self._reject_reason = None
        self._next_travel += 1
        self.trips[trip_number] = trip
        return json_response(
            202, {**self._registration_of(trip), self._f("message"): "Solicitud recibida."}
        )

    def _created(self, trip: _Trip) -> bool:
        return self.clock.now() >= trip.requested_at + self.registration_delay

    def _registration_of(self, trip: _Trip) -> dict[str, Any]:
        state = self.spec["value.registration_pending"]
        travel_id: int | None = None
        message = "En espera de respuesta de ControlT."
        if self._created(trip):
            if trip.rejected:
                state, message = self.spec["value.registration_rejected"], trip.rejected
            else:
                state, travel_id, message = self.spec["value.registration_created"], trip.travel_id, "Viaje creado."
        return {
            self._f("trip_number"): trip.trip_number,
            self._f("registration_state"): state,
            self._f("travel_id"): travel_id,
            self._f("message"): message,
        }

    def _registration(self, request: EmulatorRequest, trip_number: str) -> EmulatorResponse:
        trip = self.trips.get(trip_number)
        if trip is None:
            raise HttpError(404, {self._f("message"): f"No existe una solicitud para el viaje {trip_number}."})
        return json_response(200, self._registration_of(trip))

    # -- travels ----------------------------------------------------------------------------

    def _trip_by_travel(self, travel_id: str) -> _Trip:
        for trip in self.trips.values():
            if str(trip.travel_id) == travel_id and self._created(trip) and not trip.rejected:
                return trip
        raise HttpError(404, {self._f("message"): f"No existe el viaje {travel_id}."})

    def _state(self, trip: _Trip) -> tuple[str, int, float | None]:
        """Travel state, travelled percentage and time of the latest GPS report."""
        if trip.activated_at is None:
            return trip.state, 0, None
        until = self.clock.now() if trip.closed_at is None else trip.closed_at
        elapsed = until - trip.activated_at
        last_report = trip.activated_at + (elapsed // 300) * 300
        if trip.closed_at is not None:
            return trip.state, 100, last_report
        percentage = max(0, min(100, int(100 * elapsed / self.trip_duration)))
        if elapsed < 900:
            state = "iniciado"
        elif elapsed < self.trip_duration:
            state = "en tránsito"
        elif elapsed < self.trip_duration + 3600:
            state = "descargando"
        else:
            state = "completado"
        return state, percentage, last_report

    def _stamp(self, instant: float) -> str:
        return format_datetime(datetime.fromtimestamp(instant, timezone.utc), self.spec)

    def _travel_payload(self, trip: _Trip) -> dict[str, Any]:
        state, percentage, last_report = self._state(trip)
        body = trip.body
        assignment = trip.assignment
        driver_name = " ".join(
            part for part in (assignment.get(self._f("driver_first_name")), assignment.get(self._f("driver_last_name"))) if part
        )
        return {
            self._f("trip_number"): trip.trip_number,
            self._f("travel_id"): trip.travel_id,
            self._f("state"): state,
            self._f("percentage"): percentage,
            self._f("latest_gps"): None if last_report is None else self._stamp(last_report),
            self._f("customer"): body.get(self._f("customer")),
            self._f("origin"): body.get(self._f("origin")),
            self._f("destination"): body.get(self._f("destination")),
            self._f("origin_address"): body.get(self._f("origin_address")),
            self._f("scheduled_at"): body.get(self._f("scheduled_at")) or self._stamp(trip.requested_at),
            self._f("plate"): assignment.get(self._f("plate")),
            self._f("trailer_plate"): assignment.get(self._f("trailer_plate")),
            self._f("fleet_type"): assignment.get(self._f("fleet_type")),
            self._f("carrier_id"): assignment.get(self._f("carrier_id")),
            self._f("carrier_name"): assignment.get(self._f("carrier_name")),
            self._f("driver_id"): assignment.get(self._f("driver_id")),
            self._f("driver_first_name"): assignment.get(self._f("driver_first_name")),
            self._f("driver_last_name"): assignment.get(self._f("driver_last_name")),
            self._f("driver_name"): driver_name or None,
            self._f("driver_phone"): assignment.get(self._f("driver_phone")),
            self._f("activated_by"): trip.activation.get(self._f("user")),
            self._f("activated_at"): trip.activation.get(self._f("date")),
            self._f("closed_by"): trip.closing.get(self._f("user")),
            self._f("closed_at"): trip.closing.get(self._f("date")),
        }

    def _travel(self, request: EmulatorRequest, travel_id: str) -> EmulatorResponse:
        return json_response(200, self._travel_payload(self._trip_by_travel(travel_id)))

    def _conflict(self, trip: _Trip, action: str) -> HttpError:
        state = self._state(trip)[0]
        return HttpError(
            409, {self._f("message"): f"El viaje {trip.travel_id} está en estado '{state}'; no se puede {action}."}
        )

    def _assign(self, request: EmulatorRequest, travel_id: str) -> EmulatorResponse:
        trip = self._trip_by_travel(travel_id)
        if trip.activated_at is not None or trip.closing or trip.state not in ASSIGNABLE_STATES:
            raise self._conflict(trip, "asignar")
        body = request.json()
        body = body if isinstance(body, dict) else {}
        required = ("carrier_id", "carrier_name", "plate", "fleet_type", "driver_id",
                    "driver_first_name", "driver_last_name", "driver_phone")
        errors = {
            self._f(name): [f"El campo {self._f(name)} es obligatorio."]
            for name in required if not str(body.get(self._f(name)) or "").strip()
        }
        fleets = {self.spec["value.fleet_own"], self.spec["value.fleet_linked"], self.spec["value.fleet_third_party"]}
        if body.get(self._f("fleet_type")) and body[self._f("fleet_type")] not in fleets:
            errors[self._f("fleet_type")] = [f"Tipo de flota inválido; use {', '.join(sorted(fleets))}."]
        if errors:
            raise HttpError(400, {"Message": "The request is invalid.", "ModelState": errors})
        trip.assignment = {k: v for k, v in body.items() if v is not None}
        trip.state = "sin activar"
        return json_response(200, self._travel_payload(trip))

    def _who_and_when(self, request: EmulatorRequest) -> dict[str, Any]:
        body = request.json()
        body = body if isinstance(body, dict) else {}
        errors = {
            self._f(name): [f"El campo {self._f(name)} es obligatorio."]
            for name in ("user", "date") if not str(body.get(self._f(name)) or "").strip()
        }
        if body.get(self._f("date")) and parse_datetime(body[self._f("date")], self.spec) is None:
            errors[self._f("date")] = ["Formato de fecha inválido; use dd/MM/yyyy HH:mm:ss."]
        if errors:
            raise HttpError(400, {"Message": "The request is invalid.", "ModelState": errors})
        return {self._f("user"): body[self._f("user")], self._f("date"): body[self._f("date")]}

    def _activate(self, request: EmulatorRequest, travel_id: str) -> EmulatorResponse:
        trip = self._trip_by_travel(travel_id)
        if trip.state != "sin activar" or trip.activated_at is not None or trip.closing:
            raise self._conflict(trip, "activar")
        trip.activation = self._who_and_when(request)
        trip.activated_at = self.clock.now()
        trip.state = "iniciado"
        return json_response(200, self._travel_payload(trip))

    def _close(self, request: EmulatorRequest, travel_id: str) -> EmulatorResponse:
        trip = self._trip_by_travel(travel_id)
        state = self._state(trip)[0]
        if trip.closing or trip.activated_at is None or state not in ACTIVE_STATES:
            raise self._conflict(trip, "cerrar")
        trip.closing = self._who_and_when(request)
        trip.closed_at = self.clock.now()
        trip.state = "finalizado"
        return json_response(200, self._travel_payload(trip))

    # -- lists ------------------------------------------------------------------------------

    def _page(self, request: EmulatorRequest, trips: list[_Trip]) -> EmulatorResponse:
        try:
            size = int(request.query.get(self._f("size"), "10"))
            page = int(request.query.get(self._f("page"), "1"))
        except ValueError:
            raise HttpError(400, {"Message": "Los parámetros size y page deben ser enteros."}) from None
        if size < 1 or page < 1:
            raise HttpError(400, {"Message": "size y page deben ser mayores que cero."})
        rows = [self._travel_payload(t) for t in sorted(trips, key=lambda t: t.travel_id)]
        chunk = rows[(page - 1) * size: page * size]
        return json_response(200, {self._f("items"): chunk, "total": len(rows)})

    def _visible(self) -> list[_Trip]:
        return [t for t in self.trips.values() if self._created(t) and not t.rejected]

    def _active(self, request: EmulatorRequest) -> EmulatorResponse:
        trips = [t for t in self._visible() if not t.closing]
        return self._page(request, trips)

    def _search(self, request: EmulatorRequest) -> EmulatorResponse:
        fmt = self.spec["value.date_format"]
        try:
            start = datetime.strptime(request.query.get(self._f("date_start"), ""), fmt).date()
            end = datetime.strptime(request.query.get(self._f("date_end"), ""), fmt).date()
        except ValueError:
            raise HttpError(400, {"Message": "dateStart y dateEnd son obligatorios (dd/MM/yyyy)."}) from None
        chosen = []
        for trip in self._visible():
            when = parse_datetime(self._travel_payload(trip)[self._f("scheduled_at")], self.spec)
            if when is not None and start <= when.date() <= end:
                chosen.append(trip)
        return self._page(request, chosen)
