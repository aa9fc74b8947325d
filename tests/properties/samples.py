"""Real answers of every vendor, taken from the sandbox once, to be broken by the tests."""

from __future__ import annotations

import copy
import functools
from typing import Any

from apunto_connect import Customer, Invoice, Issuer, LineItem, Sandbox, Tax
from apunto_connect.models.tracking import Shipment


def freight_invoice() -> Invoice:
    return Invoice(
        Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000", cfdi_use="G03"),
        [LineItem("78101802", "E48", "Flete CDMX - Guadalajara", 1, "15000",
                  taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        issuer=Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
        payment_form="03",
    )


@functools.cache
def _answers() -> dict[str, Any]:
    invoice = freight_invoice()
    answers: dict[str, Any] = {}
    with Sandbox(seed=17) as sb:
        for vendor in ("facturama", "alegra", "enlace_fiscal", "contadigital", "actiun"):
            answers[vendor] = sb.invoice_provider(vendor).stamp(invoice).raw
        controlt = sb.tracking_provider("controlt")
        trip = controlt.create_tracking(Shipment(
            "SRV-1", mode="land", origin="Manzanillo", destination="Querétaro",
            service_status="Activo",
        ))
        answers["controlt"] = controlt.wait_until_created(trip.tracking_id).raw
        shipsgo = sb.tracking_provider("shipsgo")
        container = shipsgo.create_tracking(
            Shipment("APT-1", mode="ocean", container_number="CSQU3054383")
        )
        sb.clock.advance(3 * 24 * 3600)
        answers["shipsgo"] = shipsgo.get_tracking(container.tracking_id).raw
    return answers


def answer(vendor: str) -> Any:
    """A fresh deep copy of ``vendor``'s answer (tests mutate it)."""
    return copy.deepcopy(dict(_answers()[vendor]))
