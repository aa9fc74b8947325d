"""Events of the one stamping path: customer.created once per new receiver, invoice.paid."""

from __future__ import annotations

from typing import Any

import pytest

from apunto_connect import Sandbox
from tests.exactly_once.stamp_worker import invoice_for


@pytest.mark.parametrize("vendor", ["facturama", "alegra", "contadigital", "actiun"])
def test_a_receiver_registered_at_the_vendor_is_announced_once(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=11) as sb:
        provider = sb.invoice_provider(vendor)
        seen: list[Any] = []
        provider.events.subscribe(seen.append)
        first = invoice_for("901") if vendor != "actiun" else invoice_for("901").with_changes(
            folio=None)
        provider.stamp(first)
        created = [e for e in seen if e.type == "customer.created"]
        assert len(created) == 1 and created[0].data["rfc"] == "EKU9003173C9"
        # The stamp comes after the registration it needed.
        kinds = [e.type for e in seen]
        assert kinds.index("customer.created") < kinds.index("invoice.stamped")
        provider.stamp(first.with_changes(folio="902" if vendor != "actiun" else None))
        assert [e.type for e in seen].count("customer.created") == 1


def test_enlace_fiscal_registers_no_customer_and_says_nothing() -> None:
    with Sandbox(vendors=["enlace_fiscal"], seed=12) as sb:
        provider = sb.invoice_provider("enlace_fiscal")
        seen: list[Any] = []
        provider.events.subscribe(seen.append)
        provider.stamp(invoice_for("903"))
        assert "customer.created" not in [e.type for e in seen]
        assert {"invoice.stamped", "invoice.paid"} <= {e.type for e in seen}  # PUE: paid
