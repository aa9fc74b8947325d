"""Shipments, trackings and their events, for land trips and ocean containers."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "Assignment",
    "Driver",
    "FleetType",
    "Shipment",
    "Tracking",
    "TrackingEvent",
    "TrackingMode",
    "TrackingStatus",
    "Vehicle",
]


def _stripped(value: str) -> str:
    return value.strip()


def _optional_stripped(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _events(values: Iterable[TrackingEvent]) -> tuple[TrackingEvent, ...]:
    return tuple(values)


def _plate(value: object) -> str:
    # Plates arrive with spaces and dashes typed in many ways; vendors compare them bare.
    return "".join(str(value).split()).upper()


def _optional_plate(value: object) -> str | None:
    return _plate(value) or None if value else None


class TrackingMode(str, enum.Enum):
    """Land trips (ControlT) or ocean containers (ShipsGo)."""

    LAND = "land"
    OCEAN = "ocean"


class TrackingStatus(str, enum.Enum):
    """Unified status; each vendor's native status is kept beside it in ``Tracking``."""

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
    """Who owns the vehicle: own fleet, linked (vinculada) or third party (tercero)."""

    OWN = "OWN"
    LINKED = "LINKED"
    THIRD_PARTY = "THIRD_PARTY"


@attrs.frozen(slots=True)
class Vehicle:
    """A truck assigned to a land trip."""

    plate: str = attrs.field(converter=_plate)
    fleet_type: FleetType = attrs.field(default=FleetType.OWN, converter=FleetType)
    trailer_plate: str | None = attrs.field(default=None, converter=_optional_plate)


@attrs.frozen(slots=True)
class Driver:
    """The driver of a land trip."""

    identification: str = attrs.field(converter=_stripped)
    first_name: str = attrs.field(converter=_stripped)
    last_name: str = attrs.field(converter=_stripped)
    phone: str | None = attrs.field(default=None, converter=_optional_stripped)


@attrs.frozen(slots=True)
class Assignment:
    """Carrier, vehicle and driver assigned to a land trip."""

    carrier_id: str
    carrier_name: str
    vehicle: Vehicle
    driver: Driver


@attrs.frozen(slots=True)
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
    tags: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    followers: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(slots=True)
class TrackingEvent:
    """One milestone: gate out, loaded, departed, arrived, GPS report..."""

    code: str
    description: str = ""
    location: str | None = None
    vessel: str | None = None
    timestamp: datetime | None = None
    actual: bool = True


@attrs.frozen(slots=True)
class Tracking:
    """A shipment as the tracking vendor sees it."""

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
