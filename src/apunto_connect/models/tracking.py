"""Shipments, trackings and their events, for land trips and ocean containers."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ._checks import typed_fields
from .common import to_text_tuple

__all__ = [
    "Assignment",
    "Container",
    "Driver",
    "FleetType",
    "Port",
    "Shipment",
    "Tracking",
    "TrackingEvent",
    "TrackingMode",
    "TrackingStatus",
    "Vehicle",
    "WebhookEvent",
]


def _stripped(value: str) -> str:
    return value.strip()


def _optional_stripped(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _events(values: Iterable[TrackingEvent]) -> tuple[TrackingEvent, ...]:
    return tuple(values)


def _containers(values: Iterable[Container]) -> tuple[Container, ...]:
    return tuple(values)


def _plate(value: object) -> str:
    # Plates arrive with spaces and dashes typed in many ways; vendors compare them bare.
    return "".join(str(value).split()).upper()


def _optional_plate(value: object) -> str | None:
    return _plate(value) or None if value else None


def _bare(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().upper()


class TrackingMode(str, enum.Enum):
    """Land trips (ControlT) or ocean containers (ShipsGo)."""

    LAND = "land"
    OCEAN = "ocean"


class TrackingStatus(str, enum.Enum):
    """Unified status; each vendor's native status is kept beside it in ``Tracking``.

    Land trips go ``PENDING → CREATED → ASSIGNED → ACTIVE (→ IN_TRANSIT → ARRIVED) → CLOSED``;
    ocean containers go ``PENDING → CREATED (booked) → ACTIVE (loaded) → IN_TRANSIT (sailing)
    → ARRIVED → DISCHARGED``. ``CANCELLED`` ends either; ``UNTRACKED`` means the vendor cannot
    follow the shipment.
    """

    PENDING = "pending"
    CREATED = "created"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    DISCHARGED = "discharged"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    UNTRACKED = "untracked"


class FleetType(str, enum.Enum):
    """Who owns the vehicle: own fleet (propia), linked (vinculada) or third party (tercero)."""

    OWN = "OWN"
    LINKED = "LINKED"
    THIRD_PARTY = "THIRD_PARTY"

    @classmethod
    def parse(cls, value: object) -> FleetType:
        """Accept the English names and the Spanish ones (``Propia``, ``Vinculada``, ``Tercero``).

        Raises:
            ValueError: any other value (the message lists the accepted ones).
        """
        if isinstance(value, FleetType):
            return value
        found = cls._missing_(value)
        if found is None:
            accepted = ", ".join([*(m.value for m in cls), "PROPIA", "VINCULADA", "TERCERO"])
            raise ValueError(f"unknown fleet type {value!r}; use one of {accepted}")
        return found

    @classmethod
    def _missing_(cls, value: object) -> FleetType | None:
        # Lets FleetType("Vinculada") (and so JSON loaded by cattrs) accept the Spanish names.
        key = _bare(str(value)).replace(" ", "_").replace("-", "_")
        return _FLEET_ALIASES.get(key)


_FLEET_ALIASES = {
    "OWN": FleetType.OWN,
    "PROPIA": FleetType.OWN,
    "PROPIO": FleetType.OWN,
    "LINKED": FleetType.LINKED,
    "VINCULADA": FleetType.LINKED,
    "VINCULADO": FleetType.LINKED,
    "THIRD_PARTY": FleetType.THIRD_PARTY,
    "THIRDPARTY": FleetType.THIRD_PARTY,
    "TERCERO": FleetType.THIRD_PARTY,
    "TERCEROS": FleetType.THIRD_PARTY,
}


def _fleet_type(value: object) -> FleetType:
    return FleetType.parse(value)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Vehicle:
    """A truck assigned to a land trip.

    Attributes:
        plate: licence plate, upper case, spaces removed.
        fleet_type: own, linked or third-party fleet (Spanish names accepted).
        trailer_plate: the trailer's plate, when there is one.
    """

    plate: str = attrs.field(converter=_plate)
    fleet_type: FleetType = attrs.field(default=FleetType.OWN, converter=_fleet_type)
    trailer_plate: str | None = attrs.field(default=None, converter=_optional_plate)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Driver:
    """The driver of a land trip.

    Attributes:
        identification: the driver's unique id (INE, licence or national id number).
        first_name: given names.
        last_name: surnames.
        phone: phone number as typed; vendors that require it check it before sending.
    """

    identification: str = attrs.field(converter=_stripped)
    first_name: str = attrs.field(converter=_stripped)
    last_name: str = attrs.field(converter=_stripped)
    phone: str | None = attrs.field(default=None, converter=_optional_stripped)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Assignment:
    """Carrier, vehicle and driver assigned to a land trip.

    Attributes:
        carrier_id: the carrier company's unique id (tax id).
        carrier_name: the carrier company's name.
        vehicle: the truck.
        driver: the driver.
    """

    carrier_id: str
    carrier_name: str
    vehicle: Vehicle
    driver: Driver


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Shipment:
    """What to start tracking.

    Attributes:
        reference: your own reference (service number); vendors use it to de-duplicate.
        mode: land or ocean.
        container_number: ISO 6346 container number (ocean).
        booking_number: booking or bill of lading number (ocean).
        carrier_scac: shipping line SCAC (ocean, optional).
        origin: origin place or port.
        destination: destination place or port.
        service_status: status of the service in your system (ControlT only accepts active or
            finished services).
        customer: customer name or id shown by the vendor.
        tags: labels the vendor shows.
        followers: e-mails that receive the vendor's notifications.
        extra: vendor-specific fields.
        scheduled_at: planned start of a land trip (defaults to now at the vendor).
    """

    reference: str
    mode: TrackingMode = attrs.field(converter=TrackingMode)
    container_number: str | None = None
    booking_number: str | None = None
    carrier_scac: str | None = None
    origin: str | None = None
    destination: str | None = None
    service_status: str | None = None
    customer: str | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=to_text_tuple)
    followers: tuple[str, ...] = attrs.field(default=(), converter=to_text_tuple)
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    scheduled_at: datetime | None = None


@attrs.frozen(slots=True, field_transformer=typed_fields)
class TrackingEvent:
    """One milestone: gate out, loaded, departed, arrived, GPS report...

    Attributes:
        code: the vendor's event code (``DEPA``, ``ARRV``, ``ACTIVATED``...).
        description: human-readable text.
        location: location code (UN/LOCODE for ports) or place name.
        vessel: vessel name, for ocean legs.
        timestamp: when it happened, or is expected to happen.
        actual: ``True`` for facts, ``False`` for estimates.
        location_name: location name when ``location`` is a code.
        container: the container the event belongs to (ocean).
        voyage: voyage number (ocean).
    """

    code: str
    description: str = ""
    location: str | None = None
    vessel: str | None = None
    timestamp: datetime | None = None
    actual: bool = True
    location_name: str | None = None
    container: str | None = None
    voyage: str | None = None


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Port:
    """A port of loading or discharge.

    Attributes:
        code: UN/LOCODE (``MXZLO``).
        name: port name.
        country: ISO country code.
        date: the loading or discharge date the vendor holds (estimate or actual).
        initial_date: the first date the vendor announced (to measure delays).
    """

    code: str | None
    name: str | None = None
    country: str | None = None
    date: datetime | None = None
    initial_date: datetime | None = None


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Container:
    """One container of an ocean shipment and its movements.

    Attributes:
        number: ISO 6346 number (``NOT_ASSIGNED`` until the carrier confirms one).
        status: the vendor's container status.
        size: size code (``20``, ``40``...).
        type: type code (``DC``, ``HC``, ``RF``...).
        events: movements, oldest first.
    """

    number: str
    status: str | None = None
    size: str | None = None
    type: str | None = None
    events: tuple[TrackingEvent, ...] = attrs.field(default=(), converter=_events)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Tracking:
    """A shipment as the tracking vendor sees it.

    Attributes:
        provider: vendor short name.
        tracking_id: the id to pass back to the provider (ShipsGo shipment id; ControlT: your
            trip reference, which stays valid while the registration is pending).
        reference: your reference.
        mode: land or ocean.
        status: unified status.
        native_status: the vendor's own status text.
        events: every event, oldest first (all containers for ocean shipments).
        eta: estimated (or actual) arrival at the destination / port of discharge.
        assignment: carrier, vehicle and driver of a land trip.
        activated_at, activated_by: when and by whom a land trip was activated.
        closed_at, closed_by: when and by whom a land trip was closed.
        raw: the vendor's payload, for anything not mapped.
        travel_id: ControlT's Travel ID, once the registration is created.
        carrier: carrier SCAC (ocean) or carrier name (land).
        container_number: the (first) container number of an ocean shipment.
        booking_number: booking or bill of lading number.
        containers: containers of an ocean shipment with their movements.
        port_of_loading, port_of_discharge: ocean route ends (transhipments excluded).
        created_at, updated_at: timestamps the vendor reports.
        extra: vendor facts that have no field (e.g. ``already_existed``).
    """

    provider: str
    tracking_id: str
    reference: str | None
    mode: TrackingMode = attrs.field(converter=TrackingMode)
    status: TrackingStatus = attrs.field(converter=TrackingStatus)
    native_status: str | None = None
    events: tuple[TrackingEvent, ...] = attrs.field(default=(), converter=_events)
    eta: datetime | None = None
    assignment: Assignment | None = None
    activated_at: datetime | None = None
    activated_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    travel_id: str | None = None
    carrier: str | None = None
    container_number: str | None = None
    booking_number: str | None = None
    containers: tuple[Container, ...] = attrs.field(default=(), converter=_containers)
    port_of_loading: Port | None = None
    port_of_discharge: Port | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class WebhookEvent:
    """A verified webhook delivery from a tracking vendor.

    Attributes:
        provider: vendor short name.
        name: event name, e.g. ``OCEAN.SHIPMENTS.SHIPMENT_UPDATED``.
        event_id: the vendor's id of the event.
        delivery_id: the delivery id header (use it to drop duplicate deliveries).
        tracking: the shipment in the event, mapped like ``get_tracking`` maps it.
        triggered_by: what caused the event, when the vendor says.
    """

    provider: str
    name: str
    event_id: str | None
    delivery_id: str | None
    tracking: Tracking
    triggered_by: str | None = None
