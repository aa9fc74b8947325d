from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from apunto_connect.demo import demo_invoice
from apunto_connect.models import (
    Assignment,
    Driver,
    Invoice,
    Shipment,
    StampedInvoice,
    Tracking,
    TrackingStatus,
    Vehicle,
    from_dict,
    to_dict,
)


def test_invoice_round_trips_through_json():
    invoice = demo_invoice()
    data = json.loads(json.dumps(to_dict(invoice)))
    assert data["items"][0]["unit_price"] == "28500.00"
    assert data["kind"] == "I"
    assert from_dict(Invoice, data) == invoice


def test_tracking_with_assignment_round_trips():
    tracking = Tracking(
        provider="controlt",
        tracking_id="T-1",
        reference="SRV-9",
        mode="land",
        status=TrackingStatus.ASSIGNED,
        assignment=Assignment("C1", "Transportes", Vehicle(" abc-12 3 ", "LINKED"), Driver("ID9", "Ana", "Pérez")),
        activated_at=datetime(2026, 11, 1, 8, 0),
    )
    data = to_dict(tracking)
    assert data["assignment"]["vehicle"]["plate"] == "ABC-123"
    assert from_dict(Tracking, data) == tracking


def test_stamped_invoice_total_is_decimal():
    stamped = from_dict(StampedInvoice, {"provider": "x", "id": "1", "uuid": None, "total": "10.50"})
    assert stamped.total == Decimal("10.50")


def test_shipment_mode_is_validated():
    import pytest

    with pytest.raises(ValueError):
        Shipment("R1", mode="air")
