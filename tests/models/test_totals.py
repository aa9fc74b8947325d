"""Invoice totals: the arithmetic the SAT checks, on the cases that bite in practice."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apunto_connect.models import Customer, Invoice, LineItem, Tax, TaxFactor, TaxKind

CUSTOMER = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "42501")


def invoice(*items: LineItem, **kw) -> Invoice:
    return Invoice(customer=CUSTOMER, items=items, **kw)


def line(price, qty=1, taxes=(), **kw) -> LineItem:
    return LineItem("78101802", "E48", "Servicio", qty, price, taxes=taxes, **kw)


def test_single_line_with_iva_16():
    totals = invoice(line("1000", taxes=[Tax.iva()])).totals
    assert (totals.subtotal, totals.total_transferred, totals.total) == (D("1000.00"), D("160.00"), D("1160.00"))


def test_land_freight_with_4_percent_iva_withholding():
    totals = invoice(line("28500", taxes=[Tax.iva(), Tax.iva_withholding("0.04")])).totals
    assert totals.total_transferred == D("4560.00")
    assert totals.total_withheld == D("1140.00")
    assert totals.total == D("31920.00")


def test_professional_fees_with_isr_10_and_two_thirds_iva_withholding():
    fees = line("10000", taxes=[Tax.iva(), Tax.isr_withholding("0.10"), Tax.iva_withholding("0.106667")])
    totals = invoice(fees).totals
    assert totals.total_transferred == D("1600.00")
    withheld = {(t.kind, t.rate): t.amount for t in totals.withheld}
    assert withheld[(TaxKind.ISR, D("0.10"))] == D("1000.00")
    assert withheld[(TaxKind.IVA, D("0.106667"))] == D("1066.67")
    assert totals.total == D("10000.00") + D("1600.00") - D("1000.00") - D("1066.67")


def test_several_iva_rates_are_summarised_per_rate():
    totals = invoice(
        line("100", taxes=[Tax.iva()]),
        line("200", taxes=[Tax.iva("0.08")]),
        line("300", taxes=[Tax.iva("0")]),
        line("50", taxes=[Tax.iva_exempt()]),
        line("400", taxes=[Tax.iva()]),
    ).totals
    by_rate = {t.rate: (t.base, t.amount) for t in totals.transferred}
    assert by_rate[D("0.16")] == (D("500.00"), D("80.00"))
    assert by_rate[D("0.08")] == (D("200.00"), D("16.00"))
    assert by_rate[D("0")] == (D("300.00"), D("0.00"))
    assert by_rate[None] == (D("50.00"), None)  # exento: base only
    assert totals.total == D("1050.00") + D("96.00")


def test_discount_reduces_the_tax_base_not_the_subtotal():
    totals = invoice(line("1000", taxes=[Tax.iva()], discount="100")).totals
    assert totals.subtotal == D("1000.00")
    assert totals.discount == D("100.00")
    assert totals.transferred[0].base == D("900.00")
    assert totals.total == D("900.00") + D("144.00")


def test_usd_invoice_rounds_to_cents_and_keeps_exchange_rate():
    inv = invoice(line("1234.565", taxes=[Tax.iva()]), currency="USD", exchange_rate="17.2541")
    totals = inv.totals
    assert totals.subtotal == D("1234.57")  # half up
    assert totals.total == D("1432.10")
    assert inv.exchange_rate == D("17.2541")


def test_quantities_with_six_decimals():
    totals = invoice(line("12.50", qty="3.141593", taxes=[Tax.iva()])).totals
    assert totals.lines[0].amount == D("39.27")  # 39.2699125 rounds half up
    assert totals.total_transferred == D("6.28")


def test_per_line_rounding_is_summed_not_recomputed():
    # IEPS 30 % on 0.05 is 0.015 -> 0.02 per line; the summary adds the rounded lines (0.06)
    # instead of recomputing 0.15 x 0.30 = 0.045 -> 0.05, which the SAT would flag
    lines = [line("0.05", taxes=[Tax.ieps("0.30")]) for _ in range(3)]
    totals = invoice(*lines).totals
    assert all(lt.transferred == D("0.02") for lt in totals.lines)
    assert totals.total_transferred == D("0.06")


def test_zero_decimal_currency():
    totals = invoice(line("1000.6", taxes=[Tax.iva()]), currency="JPY", exchange_rate="0.12").totals
    assert totals.subtotal == D("1001")
    assert totals.total == D("1161")


def test_ieps_quota_uses_quantity_as_base():
    item = line("20", qty="10", taxes=[Tax.ieps("1.5", factor=TaxFactor.QUOTA), Tax.iva()])
    totals = invoice(item).totals
    ieps = next(t for t in totals.transferred if t.kind is TaxKind.IEPS)
    assert ieps.amount == D("15.00")


def test_floats_are_converted_without_binary_noise():
    assert line(0.1).unit_price == D("0.1")


@pytest.mark.parametrize("bad", ["abc", "NaN", object(), True])
def test_bad_numbers_raise_validation_error(bad):
    from apunto_connect.errors import ValidationError

    with pytest.raises(ValidationError):
        line(bad)
