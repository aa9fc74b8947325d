"""Decimal money helpers: parsing and rounding the way the SAT checks amounts."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from .errors import ValidationError

__all__ = ["quantize", "round_money", "sat_tax_bounds", "to_decimal"]


def to_decimal(value: object, *, field: str = "amount") -> Decimal:
    """Convert ``value`` to :class:`~decimal.Decimal` without going through binary floats.

    Floats are converted through ``repr`` so ``0.1`` becomes ``Decimal("0.1")``, not
    ``Decimal("0.1000000000000000055511151231257827")``.

    Raises:
        ValidationError: when ``value`` is not a finite number.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValidationError(f"expected a number, got {value!r}", field=field, code="APUNTO-001")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(
                f"expected a number, got {value!r}", field=field, code="APUNTO-001"
            ) from None
    else:
        raise ValidationError(
            f"expected a number, got {type(value).__name__}", field=field, code="APUNTO-001"
        )
    if not result.is_finite():
        raise ValidationError(f"expected a finite number, got {value!r}", field=field, code="APUNTO-001")
    return result


@lru_cache(maxsize=16)
def _exponent(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def quantize(value: Decimal, decimals: int) -> Decimal:
    """Round half up to ``decimals`` places (the SAT's rounding rule).

    Raises:
        ValidationError: ``value`` has too many digits to be written with ``decimals`` places
            (the Decimal context's precision), or is not finite.
    """
    try:
        return value.quantize(_exponent(decimals), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValidationError(
            f"{value} cannot be rounded to {decimals} decimals (too many digits or not a number)",
            field="amount", code="APUNTO-542",
        ) from None


def round_money(value: Decimal, currency: str) -> Decimal:
    """Round an amount to the decimals c_Moneda gives ``currency`` (MXN 2, JPY 0, ...)."""
    from .sat.catalogs import currency_decimals

    return quantize(value, currency_decimals(currency))


def sat_tax_bounds(base: Decimal, rate: Decimal, decimals: int = 2) -> tuple[Decimal, Decimal]:
    """The range the SAT accepts for a tax amount (Importe) on ``base`` at ``rate``.

    Anexo 20: lower = (base − ½·10⁻ᵈ) × rate truncated, upper = (base + ½·10⁻ᵈ − 10⁻¹²) × rate
    rounded up, where ``d`` is the number of decimals the base is written with (``decimals``)
    and the result has the currency's decimals (two here).
    """
    half = Decimal(1).scaleb(-decimals) / 2
    exponent = _exponent(2)
    lower = ((base - half) * rate).quantize(exponent, rounding=ROUND_DOWN)
    upper = ((base + half - Decimal("1e-12")) * rate).quantize(exponent, rounding=ROUND_CEILING)
    return lower, upper
