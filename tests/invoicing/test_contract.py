"""One contract, every registered invoicing provider: the same invoice behaves the same way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse
from apunto_connect.errors import UnsupportedOperation
from apunto_connect.models import (
    CancellationStatus,
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Tax,
)
from apunto_connect.registry import available_providers
from apunto_connect.sandbox import EMULATORS

PROVIDERS = [name for name in available_providers("invoicing") if name in EMULATORS]


def contract_invoice(folio: str) -> Invoice:
    customer = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")
    return Invoice(
        customer=customer,
        folio=folio,
        payment_form="03",
        items=[
            LineItem("78101802", "E48", "Flete terrestre Manzanillo - Querétaro", 1, Decimal("28500"),
                     unit_name="Servicio", taxes=[Tax.iva(), Tax.iva_withholding("0.04")],
                     sku="FLETE", name="Flete terrestre"),
            LineItem("78141500", "E48", "Maniobras de carga", Decimal("2.5"), Decimal("1180.40"),
                     unit_name="Servicio", taxes=[Tax.iva()], sku="MANIOBRA", name="Maniobras"),
        ],
    )


def test_every_vendor_is_covered():
    assert {"facturama", "alegra", "enlace_fiscal", "contadigital"} <= set(PROVIDERS)


@pytest.mark.parametrize("name", PROVIDERS)
def test_same_invoice_stamps_downloads_parses_and_cancels(name: str) -> None:
    invoice = contract_invoice(folio="501")
    with Sandbox(vendors=[name], seed=11) as sb:
        provider = sb.invoice_provider(name)
        assert provider.check_connection().ok

        stamped = provider.stamp(invoice, idempotency_key=f"contract-{name}")
        assert stamped.uuid and stamped.status is InvoiceStatus.ACTIVE
        assert stamped.total == invoice.total

        cfdi = parse(provider.download(stamped.id, "xml"))
        assert cfdi.uuid is not None and cfdi.uuid.upper() == stamped.uuid.upper()
        assert cfdi.total == invoice.total
        assert cfdi.receiver.rfc == invoice.customer.rfc
        assert provider.download(stamped.id, "pdf").startswith(b"%PDF")
        assert provider.get(stamped.id).uuid == stamped.uuid

        if provider.supports(Capability.CANCEL):
            cancellation = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
            assert cancellation.status in {
                CancellationStatus.CANCELLED, CancellationStatus.REQUESTED, CancellationStatus.PENDING,
            }
        else:
            with pytest.raises(UnsupportedOperation):
                provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)


@pytest.mark.parametrize("name", PROVIDERS)
def test_stamping_twice_with_one_key_gives_one_cfdi(name: str) -> None:
    invoice = contract_invoice(folio="502")
    with Sandbox(vendors=[name], seed=12) as sb:
        provider = sb.invoice_provider(name)
        first = provider.stamp(invoice, idempotency_key=f"twice-{name}")
        second = provider.stamp(invoice, idempotency_key=f"twice-{name}")
    assert first.uuid == second.uuid


@pytest.mark.parametrize("name", PROVIDERS)
def test_stamp_many_keeps_order_and_types_the_bad_ones(name: str) -> None:
    from apunto_connect.errors import ValidationError

    good = [contract_invoice(folio=str(600 + n)) for n in range(4)]
    bad = contract_invoice(folio="650").with_changes(
        customer=Customer("EKU9003173C9", "ESCUELA KEMPER URGATE, S.A. DE C.V.", "601", "26015")
    )
    batch = [good[0], bad, good[1], good[2], bad, good[3]]
    keys = [f"many-{name}-{n}" for n in range(len(batch))]
    with Sandbox(vendors=[name], seed=13) as sb:
        provider = sb.invoice_provider(name)
        outcomes = list(provider.stamp_many(batch, idempotency_keys=keys))
        issued = sb.emulator(name).issued_uuids()
    assert [o.index for o in outcomes] == list(range(len(batch)))
    assert [o.ok for o in outcomes] == [True, False, True, True, False, True]
    assert all(isinstance(o.error, ValidationError) for o in outcomes if not o.ok)
    assert sorted(o.stamped.uuid for o in outcomes if o.ok) == sorted(issued)
    assert len(issued) == 4
