"""A PPD invoice paid in two instalments: two payment receipts stamped through each vendor."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse, read_document
from apunto_connect.models import Customer, Invoice, LineItem, PaymentReceipt, Tax
from apunto_connect.models.common import Capability

PAYMENT_VENDORS = ["facturama", "enlace_fiscal"]


def _ppd_invoice(folio: str) -> Invoice:
    customer = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")
    return Invoice(
        customer=customer, folio=folio, payment_method="PPD", payment_form="99",
        items=[LineItem("78101802", "E48", "Flete terrestre Manzanillo - Querétaro", 1,
                        Decimal("28500"), unit_name="Servicio",
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")], sku="FLETE",
                        name="Flete terrestre")],
    )


def _events(provider: Any) -> list[Any]:
    seen: list[Any] = []
    provider.events.subscribe(seen.append)
    return seen


@pytest.mark.parametrize("vendor", PAYMENT_VENDORS)
def test_two_instalments_stamp_two_receipts_right_to_the_cent(vendor: str, sat_schema: Any) -> None:
    with Sandbox(vendors=[vendor], seed=7) as sb:
        provider = sb.invoice_provider(vendor)
        assert Capability.PAYMENT_RECEIPT in provider.capabilities
        stamped = provider.stamp(_ppd_invoice("7001"), idempotency_key=f"{vendor}-inv-7001")
        invoice_cfdi = parse(provider.download(stamped.id, "xml"))
        total = invoice_cfdi.total
        assert total == Decimal("31920.00")  # 28500 + 16 % IVA − 4 % IVA withheld
        seen = _events(provider)

        paid_at = datetime.fromtimestamp(sb.clock.now()).replace(microsecond=0)
        first = PaymentReceipt.for_invoices(
            [invoice_cfdi], amount="12000", form="03", paid_at=paid_at - timedelta(days=2),
            folio="9001")
        second = PaymentReceipt.for_invoices(
            [invoice_cfdi], amount="19920", form="03", paid_at=paid_at - timedelta(days=1),
            previous=[first], folio="9002")
        receipts = []
        for receipt, key in ((first, "pay-1"), (second, "pay-2")):
            done = provider.stamp(receipt, idempotency_key=f"{vendor}-{key}")
            xml = provider.download(done.id, "xml")
            sat_schema.assertValid(etree.fromstring(xml))
            back = read_document(xml)
            assert isinstance(back, PaymentReceipt)
            receipts.append(back)

        one, two = (r.documents[0] for r in receipts)
        assert (one.installment, one.previous_balance, one.amount_paid, one.remaining_balance) == (
            1, Decimal("31920.00"), Decimal("12000.00"), Decimal("19920.00"))
        assert (two.installment, two.previous_balance, two.amount_paid, two.remaining_balance) == (
            2, Decimal("19920.00"), Decimal("19920.00"), Decimal("0.00"))
        assert one.uuid.upper() == invoice_cfdi.uuid.upper() == two.uuid.upper()
        assert receipts[0].totals == first.totals and receipts[1].totals == second.totals

        kinds = [event.type for event in seen]
        assert kinds.count("payment.stamped") == 2
        paid = [event for event in seen if event.type == "invoice.paid"]
        assert len(paid) == 1 and paid[0].data["uuid"] == invoice_cfdi.uuid.upper()
        assert "invoice.stamped" not in kinds

        # A repeat of a key answers from the journal: no third receipt, no new event.
        again = provider.stamp(second, idempotency_key=f"{vendor}-pay-2")
        assert again.uuid == provider.journal_record(f"{vendor}-pay-2").uuid
        assert [event.type for event in seen].count("payment.stamped") == 2

        import satcfdi.cfdi as satcfdi_cfdi  # the test extra installs satcfdi
        theirs = satcfdi_cfdi.CFDI.from_string(provider.download(again.id, "xml"))
        totals = theirs["Complemento"]["Pagos"]["Totales"]
        assert totals["MontoTotalPagos"] == Decimal("19920.00")
        related = theirs["Complemento"]["Pagos"]["Pago"][0]["DoctoRelacionado"][0]
        assert (related["ImpSaldoAnt"], related["ImpPagado"], related["ImpSaldoInsoluto"]) == (
            Decimal("19920.00"), Decimal("19920.00"), Decimal("0.00"))
