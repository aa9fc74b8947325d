"""The Banxico FIX: client, per-day cache, token chain, emulator, cassette, pre-flight warning."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from apunto_connect import Sandbox, sat
from apunto_connect.errors import (
    AuthenticationError,
    CredentialsNotFound,
    ProviderError,
    ValidationError,
)
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax
from apunto_connect.sandbox.banxico import DEMO_TOKEN
from apunto_connect.sat import ExchangeRates

FRIDAY = date(2026, 11, 27)


@pytest.fixture
def sb():
    with Sandbox(vendors=["banxico"]) as sandbox:
        yield sandbox


@pytest.fixture
def rates(sb) -> ExchangeRates:
    return ExchangeRates(**sb.provider_kwargs("banxico"))


def test_the_fix_of_a_business_day(sb, rates) -> None:
    sb.emulator("banxico").set_fix(FRIDAY, "18.4150")
    assert rates.exchange_rate("USD", FRIDAY) == Decimal("18.4150")
    assert rates.exchange_rate("usd", datetime(2026, 11, 27, 18, 30)) == Decimal("18.4150")
    assert rates.exchange_rate("USD", "2026-11-27") == Decimal("18.4150")


def test_a_weekend_or_holiday_uses_the_last_published_fix(sb, rates) -> None:
    emulator = sb.emulator("banxico")
    emulator.set_fix(FRIDAY, "18.4150")
    emulator.set_fix(FRIDAY + timedelta(days=3), None)  # Monday: N/E (a holiday)
    assert rates.exchange_rate("USD", FRIDAY + timedelta(days=1)) == Decimal("18.4150")
    assert rates.exchange_rate("USD", FRIDAY + timedelta(days=3)) == Decimal("18.4150")


def test_each_day_is_asked_once(sb, rates) -> None:
    emulator = sb.emulator("banxico")
    for _ in range(5):
        rates.exchange_rate("USD", FRIDAY)
    rates.exchange_rate("USD", FRIDAY - timedelta(days=1))
    assert emulator.requests == 2


def test_mxn_is_one_and_other_currencies_are_refused(rates, sb) -> None:
    assert rates.exchange_rate("MXN", FRIDAY) == 1
    for currency in ("EUR", None, 5, ""):
        with pytest.raises(ValidationError) as info:
            rates.exchange_rate(currency, FRIDAY)
        assert info.value.issues[0].field == "currency"
    assert sb.emulator("banxico").requests == 0


@pytest.mark.parametrize("day", [None, "30/11/2026", 20261130, "2026-13-01"])
def test_bad_dates_are_typed_errors(rates, day) -> None:
    with pytest.raises(ValidationError) as info:
        rates.exchange_rate("USD", day)
    assert info.value.issues[0].field == "date"


def test_a_future_date_is_refused_before_any_call(sb, rates) -> None:
    with pytest.raises(ValidationError):
        rates.exchange_rate("USD", sb.emulator("banxico").today() + timedelta(days=2))
    assert sb.emulator("banxico").requests == 0


def test_a_wrong_token_keeps_banxicos_text(sb) -> None:
    bad = ExchangeRates("not-the-token", session=sb.session)
    with pytest.raises(AuthenticationError) as info:
        bad.exchange_rate("USD", FRIDAY)
    assert "Token inválido" in info.value.message
    assert "not-the-token" not in str(info.value)


def test_the_token_comes_from_the_credentials_chain(sb, monkeypatch) -> None:
    monkeypatch.setenv("APUNTO_BANXICO_TOKEN", DEMO_TOKEN)
    from_env = ExchangeRates(session=sb.session, today=sb.emulator("banxico").today)
    assert from_env.exchange_rate("USD", FRIDAY) > 0
    monkeypatch.delenv("APUNTO_BANXICO_TOKEN")
    with pytest.raises(CredentialsNotFound):
        ExchangeRates(session=sb.session)


def test_no_fix_in_ten_days_is_a_provider_error(sb, rates) -> None:
    emulator = sb.emulator("banxico")
    for offset in range(11):
        emulator.set_fix(FRIDAY - timedelta(days=offset), None)
    with pytest.raises(ProviderError, match="no FIX"):
        rates.exchange_rate("USD", FRIDAY)


def test_the_module_function_takes_a_client(sb, rates) -> None:
    sb.emulator("banxico").set_fix(FRIDAY, "18.0000")
    assert sat.exchange_rate("USD", FRIDAY, client=rates) == Decimal("18.0000")


@pytest.mark.vcr
def test_cassette_fix_of_a_week(monkeypatch) -> None:
    # Recorded from the emulator at Banxico's real URL; the token header is scrubbed.
    monkeypatch.setenv("APUNTO_BANXICO_TOKEN", "token-used-by-the-cassette")
    rates = ExchangeRates(today=lambda: date(2026, 12, 1))
    assert rates.exchange_rate("USD", date(2026, 11, 30)) == Decimal("18.3921")
    assert rates.exchange_rate("USD", date(2026, 11, 29)) == Decimal("18.4150")  # Sunday


def usd_invoice() -> Invoice:
    """A dollar invoice of Friday 2026-11-27 at 20.50 pesos per dollar."""
    return Invoice(
        Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000"),
        [LineItem("78101802", "E48", "Flete", 1, 100, taxes=[Tax.iva()])],
        issuer=Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
        currency="USD", exchange_rate="20.50", payment_form="03",
        issued_at=datetime(2026, 11, 27, 12, 0),
    )  # fmt: skip


def test_preflight_warns_when_the_exchange_rate_is_far_from_the_fix(sb, rates) -> None:
    sb.emulator("banxico").set_fix(FRIDAY, "18.4150")
    invoice = usd_invoice()
    found = sat.preflight(invoice, date_window=None, fix=rates.exchange_rate)
    assert [(i.code, i.severity.value) for i in found] == [("APUNTO-517", "warning")]
    assert "18.4150" in found[0].message
    close = invoice.with_changes(exchange_rate="18.40")
    assert sat.preflight(close, date_window=None, fix=rates.exchange_rate) == []


def test_preflight_says_when_the_fix_cannot_be_read(sb) -> None:
    broken = ExchangeRates("not-the-token", session=sb.session)
    invoice = usd_invoice()
    found = sat.preflight(invoice, date_window=None, fix=broken.exchange_rate)
    assert [(i.code, i.severity.value) for i in found] == [("APUNTO-518", "warning")]
    assert "Token inválido" in found[0].message
    euros = invoice.with_changes(currency="EUR")  # no FIX for euros: nothing to compare
    assert sat.preflight(euros, date_window=None, fix=broken.exchange_rate) == []
