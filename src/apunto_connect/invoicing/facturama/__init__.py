"""Facturama "API Web": CFDI 4.0 issued by the account owner, stamped by Facturama's PAC.

The package has the shape every vendor shares (``docs/concepts.md``): :mod:`.spec` (every path,
field, limit and value, with its evidence), :mod:`.mapping` (pure model <-> wire functions),
:mod:`.errors` (Facturama's errors -> the error tree) and :mod:`.provider`
(:class:`FacturamaProvider`). See ``docs/vendors/facturama.md``.
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Any

from . import mapping
from .errors import facturama_error
from .mapping import *  # noqa: F403  (the names of mapping.__all__)
from .provider import CREDENTIALS, FacturamaProvider, legacy_table
from .spec import SPEC, VENDOR

__all__ = [
    "BASE_URLS",
    "CREDENTIALS",
    "SPEC",
    "VENDOR",
    "FacturamaProvider",
    "facturama_error",
    *mapping.__all__,
]

BASE_URLS = MappingProxyType(
    {env: str(SPEC.fact(f"value.base_url.{env}").value) for env in ("production", "sandbox")}
)
"""Facturama's hosts by ``environment=``; production and sandbox accounts are separate."""

_DEPRECATED = ("PATHS", "ASSUMPTIONS", "SAT_MESSAGE_CODES")


def __getattr__(name: str) -> Any:
    """The tables of earlier releases, for one more release (use ``SPEC`` and ``spec=``)."""
    if name in _DEPRECATED:
        warnings.warn(
            f"apunto_connect.invoicing.facturama.{name} is deprecated; read SPEC and pass "
            "spec={...} overrides to FacturamaProvider",
            DeprecationWarning,
            stacklevel=2,
        )
        return legacy_table(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
