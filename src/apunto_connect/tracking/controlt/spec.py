"""ControlT's API as this SDK understands it: one frozen :data:`SPEC`, each fact with its source.

ControlT publishes no documentation of its API; the integration PDF it hands to clients is not
public. The read side (login, travel detail, active travels, search and the travel fields) is
seen in third-party clients; everything on the write side is assumed, modelled on the read-side
names. ``docs/vendors/evidence/controlt.md`` lists the integrations and the searches behind every
entry. Override any entry per provider (``ControlTProvider(spec={"path.create": "POST /Viaje"})``)
once ControlT's PDF says otherwise; the emulator reads the same spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ...credentials import CredentialField
from ...models.tracking import TrackingStatus
from ...vendor_spec import VendorSpec, assumed

__all__ = ["BASE_URL", "CREDENTIALS", "DEFAULT_ENDPOINTS", "LEGACY_KEYS", "PROVIDER", "SPEC", "STATE_MAP"]

PROVIDER = "controlt"
BASE_URL = "https://app.controlt.com.co/apipublic/api"
"""The public API's base, as two independent integrations call it (CT-php, CT-inlop)."""

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("username", secret=False),
    CredentialField("company_code", secret=False),
    CredentialField("api_key"),
)
"""API username, CompanyCode and API key (the access password), as ControlT issues them."""

# Evidence, cited by the short names of docs/vendors/evidence/controlt.md.
_CT_PHP = "one source: CT-php, form login citing ControlT's PDF"
_CT_INLOP = "one source: CT-inlop"
_RESEARCH = "one source: our logistics and storage research notes §2"
_WRITE = (
    "no public write API: searched public code search for app.controlt.com.co, Travel, CrearViaje, "
    "AsignarVehiculo and public documentation pages for 'ControlT API'; modelled on the read-side "
    "names and UNIGIS MAPI (CrearViaje, AsignarVehiculo, ActivarViaje)"
)
_NOT_SENT = "no integration sends it (CT-php sends only username and password)"

STATE_MAP: Mapping[str, TrackingStatus] = MappingProxyType(
    {
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
)
"""``state_travel`` (accents and case ignored) → unified status."""

SPEC = VendorSpec(
    PROVIDER,
    {
        # -- paths, "METHOD /path": read side seen in third-party clients --------------------
        "path.login": assumed(
            "POST /login/oauth",
            _CT_PHP + "; CT-inlop logs in at integrations.controlt.io/Auth/login instead",
        ),
        "path.travel": assumed("GET /Travel/{travel_id}", _CT_INLOP + "; research"),
        "path.active_travels": assumed("GET /Resume", _CT_INLOP + " (/Resume?size=100&page=1)"),
        "path.search": assumed("GET /Travel/search", _RESEARCH),
        # -- paths: write side, assumed ----------------------------------------------------
        "path.create": assumed("POST /Travel", _WRITE),
        "path.registration": assumed("GET /Travel/request/{trip_number}", _WRITE),
        "path.assign": assumed("POST /Travel/{travel_id}/assign", _WRITE),
        "path.activate": assumed("POST /Travel/{travel_id}/activate", _WRITE),
        "path.close": assumed("POST /Travel/{travel_id}/close", _WRITE),
        # -- login form and token answer -----------------------------------------------------
        "field.grant_type": assumed("grant_type", _NOT_SENT),
        "field.username": assumed("username", _CT_PHP),
        "field.password": assumed("password", _CT_PHP),
        "field.company_code": assumed("company_code", _NOT_SENT),
        "field.access_token": assumed("access_token", _CT_PHP),
        "field.expires_in": assumed("expires_in", _CT_PHP),
        # -- travel fields (read side) -------------------------------------------------------
        "field.trip_number": assumed("trip_number", _CT_INLOP + "; research"),
        "field.travel_id": assumed("id_monitoring_order", _CT_INLOP + "; research"),
        "field.state": assumed("state_travel", _CT_INLOP + " sorts by it; research"),
        "field.percentage": assumed("percentage_travel", _CT_INLOP + "; research"),
        "field.latest_gps": assumed("latest_gps_report", _CT_INLOP + " sorts by it; research"),
        "field.customer": assumed("company_customer_name", _CT_INLOP + "; research"),
        "field.origin": assumed("city_origin", _CT_INLOP + "; research"),
        "field.destination": assumed("city_destination", _CT_INLOP + "; research"),
        "field.origin_address": assumed("origin_address", _CT_INLOP + "; research"),
        "field.scheduled_at": assumed("schedulate_origin", _CT_INLOP + "; research"),
        "field.plate": assumed("license_plate", _CT_INLOP + "; research"),
        "field.driver_name": assumed("driver_name", _CT_INLOP + "; research"),
        "field.message": assumed(
            "Message", _CT_INLOP + ": a JSON Message containing 'denied' is a refusal"
        ),
        # -- registration, assignment and lifecycle fields: assumed ------------------------
        "field.registration_state": assumed("state_request", _WRITE),
        "field.trailer_plate": assumed("trailer_plate", _WRITE),
        "field.fleet_type": assumed("fleet_type", _WRITE),
        "field.carrier_id": assumed("nit_transport_company", _WRITE),
        "field.carrier_name": assumed("transport_company_name", _WRITE),
        "field.driver_id": assumed("driver_document", _WRITE),
        "field.driver_first_name": assumed("driver_first_name", _WRITE),
        "field.driver_last_name": assumed("driver_last_name", _WRITE),
        "field.driver_phone": assumed("driver_phone", _WRITE),
        "field.user": assumed("user", _WRITE),
        "field.date": assumed("date", _WRITE),
        "field.activated_by": assumed("activation_user", _WRITE),
        "field.activated_at": assumed("activation_date", _WRITE),
        "field.closed_by": assumed("closing_user", _WRITE),
        "field.closed_at": assumed("closing_date", _WRITE),
        # -- paging --------------------------------------------------------------------------
        "field.page": assumed("page", _CT_INLOP + " (/Resume, /Alarm)"),
        "field.size": assumed("size", _CT_INLOP + " (/Resume, /Alarm)"),
        "field.date_start": assumed("dateStart", _RESEARCH),
        "field.date_end": assumed("dateEnd", _RESEARCH),
        "field.items": assumed(
            "data", _CT_INLOP + " accepts a bare array, data or result: the shape is not known"
        ),
        "limit.page_size": assumed(50, "our default page; CT-inlop asks for 100, no maximum is public"),
        "limit.reference_length": assumed(50, "trip numbers seen are short; no maximum is public"),
        # -- values ----------------------------------------------------------------------------
        "value.grant_type": assumed("password", _NOT_SENT),
        "value.registration_pending": assumed("PENDIENTE", _WRITE),
        "value.registration_created": assumed("CREADO", _WRITE),
        "value.registration_rejected": assumed("RECHAZADO", _WRITE),
        "value.fleet_own": assumed("PROPIA", _WRITE),
        "value.fleet_linked": assumed("VINCULADA", _WRITE),
        "value.fleet_third_party": assumed("TERCERO", _WRITE),
        "value.travel_states": assumed(
            STATE_MAP,
            _CT_INLOP + ": sin asignar, sin activar, iniciado, cargando, en tránsito, "
            "pernoctando, descargando, completado, finalizado, cancelado; the mapping is ours",
        ),
        "value.datetime_format": assumed(
            "%d/%m/%Y %H:%M:%S",
            _RESEARCH + " (schedulate_origin); CT-inlop reads created_on month first in one "
            "version and day first in another",
        ),
        "value.date_format": assumed("%d/%m/%Y", _RESEARCH + " (dateStart/dateEnd)"),
        "value.utc_offset": assumed("-05:00", _RESEARCH + ": GPS hub timestamps in Bogotá time"),
    },
    record=False,  # shared by all: providers and emulators record into their own copies
)
"""Every ControlT path (``"METHOD /path"``), field name, limit, value and format the SDK uses."""

LEGACY_KEYS: Mapping[str, str] = MappingProxyType(
    {
        **{name: f"path.{name}" for name in (
            "login", "travel", "active_travels", "search", "create", "registration", "assign",
            "activate", "close",
        )},
        "format.datetime": "value.datetime_format",
        "format.date": "value.date_format",
        "format.utc_offset": "value.utc_offset",
    }
)
"""Keys of the old ``endpoints=`` table → keys of :data:`SPEC` (deprecated; one release)."""


def _values() -> dict[str, Any]:
    values = {key: fact.value for key, fact in SPEC.facts.items()}
    values.update({old: values[new] for old, new in LEGACY_KEYS.items()})
    return values


DEFAULT_ENDPOINTS: Mapping[str, Any] = MappingProxyType(_values())
"""Deprecated: the values of :data:`SPEC`, also under the old table's keys. Read ``SPEC``."""
