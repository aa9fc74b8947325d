"""Property tests: the SAT helpers never raise on arbitrary input (except our typed errors)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apunto_connect.errors import ApuntoError, Issue
from apunto_connect.models import Customer, Invoice, InvoiceKind, Issuer, LineItem, Tax
from apunto_connect.models.invoices import (
    GlobalInformation,
    PaymentMethod,
    RelatedDocuments,
    TaxFactor,
    TaxKind,
)
from apunto_connect.sat import (
    check,
    check_digit,
    normalize_legal_name,
    preflight,
    split_capital_regime,
    validate_cancellation,
    validate_container_number,
    validate_rfc,
)

anything = st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(max_size=20), st.text(max_size=40),
    st.text(alphabet="ABCDEFGHIJKLMNÑOPQRSTUVWXYZ&0123456789 -.#Ã‘±abcñ", max_size=16),
)  # fmt: skip
RFC_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ&Ñ"


@given(anything)
def test_validate_rfc_never_raises(value: object) -> None:
    result = validate_rfc(value)
    assert isinstance(result.valid, bool)
    assert all(isinstance(issue, Issue) for issue in result.issues)
    assert result.valid == (not result.errors)
    assert validate_rfc(value, strict=True).valid <= result.valid


@given(
    st.text(alphabet=RFC_ALPHABET, min_size=3, max_size=4),
    st.dates(),
    st.text(alphabet="123456789ABCDEFGHIJKLMNPQRSTUV", min_size=1, max_size=1),
    st.text(alphabet="123456789ABCDEFGHIJKLMNPQRSTUVWXYZ", min_size=1, max_size=1),
)
def test_rfcs_built_by_the_sat_algorithm_are_valid(
    name: str, day: object, h1: str, h2: str
) -> None:
    from apunto_connect.sat.rfc import INCONVENIENT_WORDS

    body = f"{name}{day:%y%m%d}{h1}{h2}"  # type: ignore[str-format]
    rfc = body + check_digit(body)
    result = validate_rfc(rfc, strict=True)
    assert result.valid == (name not in INCONVENIENT_WORDS), result.issues
    assert result.kind == ("fisica" if len(name) == 4 else "moral")


@given(anything)
def test_legal_name_helpers_never_raise(value: object) -> None:
    base, regime = split_capital_regime(value)
    assert isinstance(base, str) and (regime is None or isinstance(regime, str))
    assert normalize_legal_name(value) == base


@given(st.text(max_size=120))
def test_normalize_legal_name_is_idempotent_on_text(name: str) -> None:
    once = normalize_legal_name(name)
    assert " ".join(once.split()) == once
    assert once == " ".join(name.split()).upper() or split_capital_regime(name)[1] is not None


@given(anything, st.booleans())
def test_validate_container_number_never_raises(value: object, iso_only: bool) -> None:
    result = validate_container_number(value, iso_only=iso_only)
    assert isinstance(result.valid, bool)


@given(anything, anything)
def test_validate_cancellation_never_raises(motive: object, uuid: object) -> None:
    assert all(isinstance(i, Issue) for i in validate_cancellation(motive, uuid))


codes = st.text(alphabet="0123456789ABCDEGPSIXU", max_size=5)
amounts = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9, places=None
)
rates = st.one_of(
    st.none(), st.decimals(allow_nan=False, allow_infinity=False, min_value=-2, max_value=100)
)
taxes = st.builds(
    Tax,
    kind=st.sampled_from(TaxKind),
    rate=rates,
    withholding=st.booleans(),
    factor=st.sampled_from(TaxFactor),
)
items = st.builds(
    LineItem,
    product_code=codes,
    unit_code=codes,
    description=st.text(max_size=60),
    quantity=amounts,
    unit_price=amounts,
    discount=amounts,
    taxes=st.lists(taxes, max_size=3),
    tax_object=st.one_of(st.none(), codes),
    name=st.one_of(st.none(), st.text(max_size=60)),
)
rfcs = st.one_of(
    st.sampled_from(
        ["EKU9003173C9", "XIQB891116QE4", "XAXX010101000", "XEXX010101000", "MCI7306249Y1"]
    ),
    st.text(max_size=14),
)
customers = st.builds(
    Customer,
    rfc=rfcs,
    legal_name=st.text(max_size=40),
    tax_regime=codes,
    zip_code=codes,
    cfdi_use=codes,
    payment_form=st.one_of(st.none(), codes),
    payment_method=st.one_of(st.none(), st.sampled_from(["PUE", "PPD", "XYZ"])),
    tax_residence=st.one_of(st.none(), st.sampled_from(["MEX", "USA", "ZZZ"])),
    foreign_tax_id=st.one_of(st.none(), st.text(max_size=5)),
)
issuers = st.builds(
    Issuer, rfc=rfcs, legal_name=st.text(max_size=40), tax_regime=codes, zip_code=codes
)
invoices = st.builds(
    Invoice,
    customer=customers,
    items=st.lists(items, max_size=3),
    issuer=st.one_of(st.none(), issuers),
    currency=st.sampled_from(["MXN", "USD", "XXX", "JPY", "KWD", "mxn", "ZZZ", ""]),
    exchange_rate=st.one_of(st.none(), amounts),
    payment_form=st.one_of(st.none(), codes),
    payment_method=st.one_of(st.none(), st.sampled_from(PaymentMethod)),
    cfdi_use=st.one_of(st.none(), codes),
    issued_at=st.one_of(st.none(), st.datetimes(min_value=datetime(2015, 1, 1))),
    kind=st.sampled_from(InvoiceKind),
    export_code=codes,
    related=st.lists(st.builds(RelatedDocuments, relation_type=codes, uuids=st.lists(st.text(max_size=40), max_size=2)), max_size=2),
    global_info=st.one_of(st.none(), st.builds(GlobalInformation, periodicity=codes, months=codes, year=st.integers(1900, 2100))),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoices, st.one_of(st.none(), issuers))
def test_preflight_never_raises_and_check_raises_only_validation_errors(
    invoice: Invoice, issuer: Issuer | None
) -> None:
    # One clock for both calls: the Fecha messages quote "now", which may tick in between.
    now = datetime.now(timezone.utc)
    issues = preflight(invoice, issuer, now=now)
    assert all(isinstance(issue, Issue) and issue.field and issue.code for issue in issues)
    errors = [i for i in issues if i.severity.value == "error"]
    try:
        check(invoice, issuer, now=now)
    except ApuntoError as exc:
        assert errors and getattr(exc, "issues", None) == issues
    else:
        assert not errors


def test_decimal_strategy_sanity() -> None:
    assert Decimal("1") > 0
