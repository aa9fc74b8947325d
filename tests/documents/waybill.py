"""A Carta Porte for the tests: from a ControlT trip run in the sandbox, or a fixed one."""

from __future__ import annotations

from datetime import datetime

from apunto_connect import Sandbox
from apunto_connect.models import (
    Assignment,
    CartaPorte,
    Driver,
    Tracking,
    Vehicle,
    WaybillGoods,
    WaybillLocation,
    WaybillTrailer,
    WaybillTruck,
    carta_porte_from_trip,
)
from apunto_connect.models.tracking import Shipment, TrackingMode

__all__ = ["sandbox_trip", "waybill_for"]


def sandbox_trip(sb: Sandbox) -> Tracking:
    """A land trip created, assigned, activated and closed at the ControlT emulator."""
    controlt = sb.tracking_provider("controlt")
    created = controlt.create_tracking(Shipment(
        "SRV-2026-0901", TrackingMode.LAND, origin="Manzanillo, Col.",
        destination="Querétaro, Qro.", service_status="Activo"))
    ready = controlt.wait_until_created(created.tracking_id)
    controlt.assign(ready.tracking_id, Assignment(
        "TBA850101AB1", "Transportes del Bajío", Vehicle("JAL-123-4", "Propia", "ab 123 cd"),
        Driver("GOMJ800101", "Juan", "Gómez Pérez", "+52 33 1234 5678")))
    controlt.activate(ready.tracking_id, by="ops@apunto")
    sb.clock.advance(6 * 3600)
    return controlt.close(ready.tracking_id, by="ops@apunto")


def _fixed_trip() -> Tracking:
    return Tracking(
        provider="controlt", tracking_id="SRV-1001", reference="SRV-1001", mode="land",
        status="closed", activated_at=datetime(2026, 11, 2, 8), closed_at=datetime(2026, 11, 3, 18),
        assignment=Assignment("TRA010101AB1", "TRANSPORTES DEL NORTE",
                              Vehicle("ABC-123-D", trailer_plate="1AB2345"),
                              Driver("LIC123456", "Juan", "Pérez")),
        raw={"travel": {"city_origin": "Guadalajara", "city_destination": "Monterrey"}},
    )


def waybill_for(trip: Tracking | None = None) -> CartaPorte:
    """The Carta Porte of ``trip`` (a fixed closed trip by default)."""
    return carta_porte_from_trip(
        trip or _fixed_trip(),
        goods=[WaybillGoods("24112700", "Tarimas de madera", 10, "H87", "1200")],
        origin=WaybillLocation("Origen", "EKU9003173C9", None, "28200", "COL"),
        destination=WaybillLocation("Destino", "EKU9003173C9", None, "76000", "QUE",
                                    distance="520"),
        truck=WaybillTruck("TPAF01", "0X2XTXZ0X5X0X3X2X1X0", "T3S2", "40", "", 2022,
                           "SEGUROS DEL NORTE", "POL-123", trailers=[WaybillTrailer("CTR004", "")]),
        operator_rfc="GOPJ800101AB1",
    )
