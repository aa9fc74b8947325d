"""A user's script, checked with ``mypy --strict`` by tests/typecheck/test_user_script_types.py.

It is also run against the sandbox, so the inferred types are the types that really come back.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal

from typing_extensions import assert_type

import apunto_connect
from apunto_connect import (
    Customer,
    Invoice,
    LineItem,
    Sandbox,
    StampedInvoice,
    Tax,
    invoice_provider,
    storage_provider,
    tracking_provider,
)
from apunto_connect.invoicing.alegra import AlegraProvider
from apunto_connect.invoicing.base import InvoiceProvider
from apunto_connect.invoicing.facturama import FacturamaProvider
from apunto_connect.storage.local import LocalStorage
from apunto_connect.tracking.base import TrackingProvider
from apunto_connect.tracking.shipsgo import ShipsGoProvider


def freight_invoice() -> Invoice:
    customer = Customer("EKU9003173C9", "Escuela Kemper Urgate", tax_regime="601", zip_code="26015")
    return Invoice(
        customer=customer,
        payment_form="03",
        items=[
            LineItem(
                "78101802",
                "E48",
                "Flete terrestre",
                1,
                Decimal("28500"),
                taxes=[Tax.iva(), Tax.iva_withholding("0.04")],
            )
        ],
    )


def configured_vendor() -> str:
    return "enlace_fiscal"


def from_configuration(username: str, token: str, api_key: str) -> None:
    """A name read from configuration gives the base interfaces."""
    vendor = configured_vendor()
    provider = invoice_provider(vendor, username=username, token=token, api_key=api_key)
    assert_type(provider, InvoiceProvider)
    assert_type(provider.download("F-1", "pdf"), bytes)
    assert_type(tracking_provider(vendor), TrackingProvider)


def stamp_in_the_sandbox() -> list[StampedInvoice]:
    invoice = freight_invoice()
    with Sandbox() as sb:
        alegra = sb.invoice_provider("alegra")
        assert_type(alegra, AlegraProvider)
        stamped = alegra.stamp(invoice)
        assert_type(stamped, StampedInvoice)
        assert_type(alegra.get(stamped.id), StampedInvoice)

        facturama = invoice_provider("facturama", **sb.provider_kwargs("facturama"))
        assert_type(facturama, FacturamaProvider)
        by_facturama = facturama.stamp(invoice)
        assert_type(by_facturama, StampedInvoice)
        xml = facturama.download(by_facturama.id, "xml")
        assert_type(xml, bytes)

        assert_type(sb.invoice_provider(configured_vendor()), InvoiceProvider)
        assert_type(sb.tracking_provider("shipsgo"), ShipsGoProvider)
        assert_type(sb.storage_provider("local"), LocalStorage)
        with tempfile.TemporaryDirectory() as folder:
            assert_type(storage_provider("local", root=folder), LocalStorage)
        assert_type(apunto_connect.Sandbox, type[Sandbox])
        return [stamped, facturama.get(by_facturama.id)]


if __name__ == "__main__":
    print(stamp_in_the_sandbox()[0].uuid)
