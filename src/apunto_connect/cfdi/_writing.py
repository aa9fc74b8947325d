"""What the two CFDI writers share, so attributes, amounts and schemas are written one way.

The host document (:mod:`.build`) and its complements (:mod:`.documents`) both use these.

Dates are written with :func:`apunto_connect._wire.local_text` (Mexico City wall time).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from lxml import etree

from ..money import quantize

__all__ = ["MAX_DECIMALS", "SCHEMA_LOCATION", "XSI_NS", "currency_places", "fixed_amount",
           "set_attributes"]

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
"""The XML Schema instance namespace (``xsi``)."""

SCHEMA_LOCATION = f"{{{XSI_NS}}}schemaLocation"
"""``xsi:schemaLocation`` in Clark notation, as lxml names attributes."""

MAX_DECIMALS = 6
"""The most decimals the XSDs allow (Cantidad, ValorUnitario, TipoCambio, EquivalenciaDR...)."""


def set_attributes(el: etree._Element, attributes: Iterable[tuple[str, str | None]]) -> None:
    """Set each ``(name, value)`` on ``el`` in order, leaving out the ``None`` ones."""
    for name, value in attributes:
        if value is not None:
            el.set(name, value)


def currency_places(currency: str) -> int:
    """The decimals c_Moneda gives ``currency`` (the catalog loads on first use)."""
    from ..sat.catalogs import currency_decimals

    return currency_decimals(currency)


def fixed_amount(value: Decimal, places: int) -> str:
    """An amount with exactly ``places`` decimals, never in exponent notation."""
    return format(quantize(value, places), "f")
