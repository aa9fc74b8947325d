"""Any input, typed errors only: None, non-strings, huge and special Decimals (issue 16)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apunto_connect.cfdi import build, parse, verification_url
from apunto_connect.errors import Issue, ValidationError
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax
from apunto_connect.sat import (
    catalogs,
    check,
    check_digit,
    container_check_digit,
    normalize_rfc,
    preflight,
    validate_product_code,
    validate_unit_code,
)

SPECIAL = ["1E+999999", "-1E+999999", "1E-999999", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity",
           "9" * 60, "0." + "0" * 40 + "1", "1e18", "1,000.50", " 12 ", "", "abc"]  # fmt: skip
anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=10),
    st.text(max_size=20), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
    st.decimals(), st.sampled_from(SPECIAL), st.sampled_from([Decimal(s) for s in SPECIAL[:8]]),
)  # fmt: skip
amounts = st.one_of(
    st.sampled_from(SPECIAL), st.decimals(), st.floats(), st.integers(), st.none(), st.text(max_size=8)
)  # fmt: skip

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000")


def typed_or_value(call):  # type: ignore[no-untyped-def]
    """Run ``call``; a ValidationError naming a field is fine, any other exception is not."""
    try:
        return call()
    except ValidationError as exc:
        assert exc.issues and all(isinstance(i, Issue) and i.field and i.code for i in exc.issues)
        return exc


@settings(max_examples=200, deadline=None)
@given(anything)
def test_sat_text_helpers_raise_only_typed_errors(value: object) -> None:
    typed_or_value(lambda: normalize_rfc(value))
    typed_or_value(lambda: check_digit(value))
    typed_or_value(lambda: container_check_digit(value))
    assert all(isinstance(i, Issue) for i in validate_product_code(value))
    assert all(isinstance(i, Issue) for i in validate_unit_code(value))
    for lookup in (catalogs.product, catalogs.unit, catalogs.postal_code, catalogs.state,
                   catalogs.colonias, catalogs.search_products):  # fmt: skip
        typed_or_value(lambda lookup=lookup: lookup(value))
    typed_or_value(lambda: catalogs.municipality(value, value))
    typed_or_value(lambda: catalogs.locality("COA", value))


@settings(max_examples=150, deadline=None)
@given(anything, anything, anything, anything)
def test_party_constructors_raise_only_typed_errors(rfc: object, name: object, regime: object, zip_code: object) -> None:
    typed_or_value(lambda: Customer(rfc, name, regime, zip_code))  # type: ignore[arg-type]
    typed_or_value(lambda: Issuer(rfc, name, regime, zip_code))  # type: ignore[arg-type]


def test_customer_none_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Customer(None, "ACME", "601", "26015")  # type: ignore[arg-type]
    assert info.value.issues[0].field == "rfc"
    with pytest.raises(ValidationError) as info:
        Customer("EKU9003173C9", "ACME", "601", 26015)  # type: ignore[arg-type]
    assert info.value.issues[0].field == "zip_code"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts, amounts, amounts, st.one_of(st.none(), amounts))
def test_huge_and_special_amounts_raise_only_typed_errors(
    quantity: object, price: object, discount: object, tax_amount: object
) -> None:
    def make() -> Invoice:
        tax = Tax.iva(amount=tax_amount)  # type: ignore[arg-type]
        line = LineItem("78101802", "E48", "Flete", quantity, price, discount=discount, taxes=[tax])  # type: ignore[arg-type]
        return Invoice(CUSTOMER, [line], issuer=ISSUER, payment_form="03")

    invoice = typed_or_value(make)
    if isinstance(invoice, ValidationError):
        return
    issues = preflight(invoice, date_window=None)
    assert all(isinstance(i, Issue) for i in issues)
    typed_or_value(lambda: invoice.totals)
    typed_or_value(lambda: check(invoice, date_window=None))
    typed_or_value(lambda: build(invoice))


@pytest.mark.parametrize("huge", ["1E+999999", "-1E+999999", "1E+30000"])
def test_the_issue_example_is_the_same_typed_error_everywhere(huge: str) -> None:
    invoice = Invoice(CUSTOMER, [LineItem("78101802", "E48", "Flete", 1, huge)], issuer=ISSUER,
                      payment_form="03")  # fmt: skip
    for call in (lambda: invoice.totals, lambda: check(invoice, date_window=None), lambda: build(invoice)):
        with pytest.raises(ValidationError) as info:
            call()
        assert "APUNTO-542" in {i.code for i in info.value.issues}


@pytest.mark.parametrize("value", [None, 12, b"x", ["a"], Decimal("NaN")])
def test_non_invoices_are_typed_errors(value: object) -> None:
    for call in (preflight, check, build):
        with pytest.raises(ValidationError):
            call(value)  # type: ignore[operator]


@settings(max_examples=100, deadline=None)
@given(anything)
def test_parse_and_verification_raise_only_typed_errors(value: object) -> None:
    typed_or_value(lambda: parse(value))  # type: ignore[arg-type]
    typed_or_value(lambda: verification_url(value))  # type: ignore[arg-type]


def test_dates_are_not_amounts() -> None:
    with pytest.raises(ValidationError):
        LineItem("78101802", "E48", "Flete", date(2025, 1, 1), 1)  # type: ignore[arg-type]
