"""PaymentReceipt.for_invoices: parcialidades, balances, the tax split, equivalence, overpayment."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from apunto_connect.errors import Overpayment, ValidationError
from apunto_connect.models import PayableInvoice, PaymentReceipt, TaxKind

from .documents_fixtures import INVOICE_UUID, SECOND_UUID, freight_invoice, stamped

PAID_1 = datetime(2026, 11, 20, 12, 0)
PAID_2 = datetime(2026, 11, 28, 12, 0)


def _two_installments() -> tuple[PaymentReceipt, PaymentReceipt]:
    invoice = stamped(freight_invoice())  # total 10000 + 1600 - 400 = 11200
    first = PaymentReceipt.for_invoices([invoice], amount="5000", paid_at=PAID_1, form="03")
    second = PaymentReceipt.for_invoices([invoice], amount="6200", paid_at=PAID_2, form="03",
                                         previous=[first])
    return first, second


def test_two_installments_carry_balances_to_the_cent() -> None:
    first, second = _two_installments()
    one, two = first.documents[0], second.documents[0]
    assert (one.installment, one.previous_balance, one.amount_paid, one.remaining_balance) == (
        1, Decimal("11200.00"), Decimal("5000"), Decimal("6200.00"))
    assert (two.installment, two.previous_balance, two.amount_paid, two.remaining_balance) == (
        2, Decimal("6200.00"), Decimal("6200.00"), Decimal("0.00"))
    assert second.balances() == {INVOICE_UUID: Decimal("0.00")}


def test_the_tax_split_is_proportional_and_rounded_per_document() -> None:
    first, second = _two_installments()
    # 5000 / 11200 of base 10000 = 4464.2857 -> 4464.29; IVA 16 % = 714.29; withheld 4 % = 178.57
    taxes = {(t.kind, t.withholding): t for t in first.documents[0].taxes}
    assert taxes[(TaxKind.IVA, False)].base == Decimal("4464.29")
    assert taxes[(TaxKind.IVA, False)].amount == Decimal("714.29")
    assert taxes[(TaxKind.IVA, True)].amount == Decimal("178.57")
    totals = first.totals
    assert (totals.total_amount, totals.base_iva16, totals.iva16, totals.withheld_iva) == (
        Decimal("5000.00"), Decimal("4464.29"), Decimal("714.29"), Decimal("178.57"))
    # base + IVA - withheld of the payment adds back to what was paid
    assert totals.base_iva16 + totals.iva16 - totals.withheld_iva == Decimal("5000.01")
    assert second.totals.base_iva16 == Decimal("5535.71")


def test_a_single_payment_of_the_whole_invoice_carries_its_own_taxes() -> None:
    receipt = PaymentReceipt.for_invoices([stamped(freight_invoice())], amount="11200",
                                          paid_at=PAID_1, form="03")
    taxes = {(t.kind, t.withholding): t for t in receipt.documents[0].taxes}
    assert taxes[(TaxKind.IVA, False)].base == Decimal("10000.00")
    assert taxes[(TaxKind.IVA, False)].amount == Decimal("1600.00")
    assert receipt.documents[0].remaining_balance == 0


def test_one_payment_settles_several_invoices_in_order() -> None:
    first = stamped(freight_invoice("1000", folio="A"), INVOICE_UUID)  # 1120
    second = stamped(freight_invoice("2000", folio="B"), SECOND_UUID)  # 2240
    receipt = PaymentReceipt.for_invoices([first, second], amount="2000", paid_at=PAID_1,
                                          form="03")
    paid = [(d.uuid, d.amount_paid, d.remaining_balance) for d in receipt.documents]
    assert paid == [(INVOICE_UUID, Decimal("1120.00"), Decimal("0.00")),
                    (SECOND_UUID, Decimal("880.00"), Decimal("1360.00"))]


def test_overpayment_is_refused_with_a_typed_error() -> None:
    first, _ = _two_installments()
    invoice = stamped(freight_invoice())
    with pytest.raises(Overpayment) as caught:
        PaymentReceipt.for_invoices([invoice], amount="6200.01", paid_at=PAID_2, form="03",
                                    previous=[first])
    assert caught.value.issues[0].field == "amount"
    assert isinstance(caught.value, ValidationError)


def test_an_invoice_already_paid_is_refused() -> None:
    first, second = _two_installments()
    with pytest.raises(ValidationError, match="no open balance"):
        PaymentReceipt.for_invoices([stamped(freight_invoice())], amount="1", paid_at=PAID_2,
                                    form="03", previous=[first, second])


def test_a_usd_invoice_paid_in_mxn_uses_the_equivalence() -> None:
    usd = stamped(freight_invoice("1000", currency="USD", rate="18.50"))  # USD 1120.00
    # 1 MXN = 0.05 USD: 22400 MXN pays 1120 USD exactly
    receipt = PaymentReceipt.for_invoices([usd], amount="22400", paid_at=PAID_1, form="03",
                                          equivalences={INVOICE_UUID: "0.05"})
    document = receipt.documents[0]
    assert (document.currency, document.equivalence, document.amount_paid) == (
        "USD", Decimal("0.05"), Decimal("1120.00"))
    # ImpuestosP are in MXN: 1000 USD base / 0.05 = 20000 MXN
    assert receipt.payments[0].transferred[0].base == Decimal("20000")
    with pytest.raises(ValidationError, match="equivalences"):
        PaymentReceipt.for_invoices([usd], amount="100", paid_at=PAID_1, form="03")


def test_payable_invoice_from_the_model_matches_the_parsed_one() -> None:
    invoice = freight_invoice()
    from_model = PayableInvoice.from_invoice(invoice, INVOICE_UUID.lower())
    from_xml = PayableInvoice.from_cfdi(stamped(invoice))
    assert from_model.uuid == from_xml.uuid
    assert from_model.total == from_xml.total
    assert {(t.kind, t.withholding, t.base, t.amount) for t in from_model.taxes} == {
        (t.kind, t.withholding, t.base, t.amount) for t in from_xml.taxes}


def test_a_non_positive_amount_is_refused() -> None:
    with pytest.raises(ValidationError, match="positive"):
        PaymentReceipt.for_invoices([stamped(freight_invoice())], amount="0", paid_at=PAID_1,
                                    form="03")
