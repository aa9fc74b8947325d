"""CFDI 4.0 catalogs (placeholder: only the currency decimals the models need)."""

from __future__ import annotations

_CURRENCY_DECIMALS = {"MXN": 2, "USD": 2, "EUR": 2, "XXX": 0, "JPY": 0, "CLP": 0}


def currency_decimals(code: str) -> int:
    """Return how many decimals c_Moneda allows for ``code`` (2 for unknown codes)."""
    return _CURRENCY_DECIMALS.get(code.upper(), 2)
