from __future__ import annotations

from apunto_connect import Sandbox
from apunto_connect.events import Event
from apunto_connect.models.tracking import Assignment, Driver, Shipment, Vehicle


def test_land_trip_lifecycle_emits_created_and_each_status_change():
    with Sandbox(vendors=["controlt"]) as sb:
        provider = sb.tracking_provider("controlt")
        seen: list[Event] = []
        provider.events.subscribe(seen.append)
        trip = provider.create_tracking(
            Shipment("SRV-EVT-1", "land", origin="Manzanillo", destination="Querétaro",
                     service_status="Activo")
        )
        trip = provider.wait_until_created(trip.tracking_id)
        provider.assign(
            trip.tracking_id,
            Assignment("TBA850101AB1", "Transportes del Bajío", Vehicle("JAL-12-345", "Propia"),
                       Driver("GOMJ800101", "Juan", "Gómez", "3312345678")),
        )
        provider.activate(trip.tracking_id, by="ops")
        provider.close(trip.tracking_id, by="ops")
    types = [e.type for e in seen]
    assert types[0] == "tracking.created"
    changes = [(e.data["previous_status"], e.data["status"]) for e in seen[1:]]
    assert changes[0] == ("pending", "created")
    assert changes[-1][1] == "closed"
    assert all(t == "tracking.status_changed" for t in types[1:])
    assert "raw" not in seen[0].data


def test_reads_emit_only_when_the_status_really_changes():
    with Sandbox(vendors=["shipsgo"]) as sb:
        provider = sb.tracking_provider("shipsgo")
        box = provider.create_tracking(Shipment("APT-EVT-1", "ocean", container_number="CSQU3054383"))
        seen: list[Event] = []
        provider.events.subscribe(seen.append)
        provider.get_tracking(box.tracking_id)
        provider.get_tracking(box.tracking_id)
        assert seen == []  # nothing moved on the sandbox clock
        sb.clock.advance(3 * 86400)
        after = provider.get_tracking(box.tracking_id)
        provider.get_tracking(box.tracking_id)
    assert after.status is not box.status
    assert [(e.type, e.data["status"]) for e in seen] == [("tracking.status_changed", after.status.value)]
