from __future__ import annotations

from decimal import Decimal

import pytest

from apunto_connect.money import round_money
from apunto_connect.sat import catalogs
from apunto_connect.sat.catalogs import TaxFactor, TaxKind


@pytest.mark.parametrize(
    ("code", "decimals"),
    [("MXN", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("CLP", 0), ("BHD", 3), ("KWD", 3),
     ("CLF", 4), ("XXX", 0), ("usd", 2), ("NOPE", 2)],
)  # fmt: skip
def test_currency_decimals_follow_iso_4217(code: str, decimals: int) -> None:
    assert catalogs.currency_decimals(code) == decimals


def test_round_money_uses_the_catalog() -> None:
    assert round_money(Decimal("10.5"), "JPY") == Decimal("11")
    assert round_money(Decimal("1.23456"), "KWD") == Decimal("1.235")


def test_currency_catalog_is_complete_enough() -> None:
    table = catalogs.currencies()
    assert len(table) >= 175
    assert table["MXN"].decimals == 2 and catalogs.is_currency("MXN")
    assert not catalogs.is_currency("mxn")


def test_countries_are_alpha3() -> None:
    assert catalogs.is_country("MEX") and catalogs.is_country("USA")
    assert not catalogs.is_country("MX")
    assert len(catalogs.countries()) >= 240


def test_regimes_carry_persona_flags() -> None:
    assert catalogs.TAX_REGIMES["601"].allows("moral")
    assert not catalogs.TAX_REGIMES["601"].allows("fisica")
    assert catalogs.TAX_REGIMES["626"].allows("fisica") and catalogs.TAX_REGIMES["626"].allows(
        "moral"
    )
    assert len(catalogs.TAX_REGIMES) == 19
    for retired in ("609", "628", "629", "630"):
        assert retired not in catalogs.TAX_REGIMES


def test_cfdi_uses_know_their_regimes() -> None:
    assert "616" in catalogs.CFDI_USES["S01"].regimes
    assert "616" not in catalogs.CFDI_USES["G03"].regimes
    assert "616" in catalogs.CFDI_USES["G02"].regimes
    assert not catalogs.CFDI_USES["D01"].allows("moral")
    assert catalogs.CFDI_USES["CN01"].regimes == frozenset({"605"})
    assert "P01" not in catalogs.CFDI_USES


def test_small_catalogs_have_their_codes() -> None:
    assert len(catalogs.PAYMENT_FORMS) == 22 and "99" in catalogs.PAYMENT_FORMS
    assert set(catalogs.RELATION_TYPES) == {f"0{i}" for i in range(1, 8)}
    assert set(catalogs.EXPORT_CODES) == {"01", "02", "03", "04"}
    assert len(catalogs.TAX_OBJECTS) == 8
    assert catalogs.MONTHS["13"] == "Enero-Febrero" and len(catalogs.MONTHS) == 18
    assert set(catalogs.PERIODICITIES) == {"01", "02", "03", "04", "05"}
    assert catalogs.TAXES["002"] == "IVA"
    assert catalogs.RelationType.SUBSTITUTION == "04"


def test_rate_rules() -> None:
    iva = catalogs.rate_rule(TaxKind.IVA, TaxFactor.RATE, False)
    assert iva is not None and iva.allows(Decimal("0.16")) and not iva.allows(Decimal("0.15"))
    withheld = catalogs.rate_rule(TaxKind.IVA, TaxFactor.RATE, True)
    assert withheld is not None and withheld.allows(Decimal("0.106667"))
    assert catalogs.rate_rule(TaxKind.ISR, TaxFactor.RATE, False) is None
    isr = catalogs.rate_rule(TaxKind.ISR, TaxFactor.RATE, True)
    assert isr is not None and isr.describe() == "0.000000–0.350000"
