"""Alegra (Mexico): CFDI 4.0 sales invoices through Alegra's accounting API v1.

Alegra is a cloud accounting and invoicing system; in Mexico it stamps (timbra) sales invoices
through its own PAC. Only its *PLUS* plan enables the API Apunto needs.

* ``https://api.alegra.com/api/v1`` (older clients used ``https://app.alegra.com/api/v1``).
  **Alegra has no public test environment for Mexico**: ``environment`` only accepts
  ``"production"``; use :class:`apunto_connect.Sandbox` to try things offline.
* HTTP Basic with the account's **e-mail** (checked locally) and the API token from
  *Configuración → Integraciones → API*.
* 150 requests per minute per user, announced in ``X-Rate-Limit-*`` headers; the provider paces
  itself from them (:class:`RateLimitBucket`).

The package has one concern per file: :mod:`.spec` (:data:`SPEC`: every path, field name,
header, limit and value, each official, public-integration or assumed with its evidence),
:mod:`.mapping` (pure model ↔ wire functions), :mod:`.errors` (Alegra's errors → the error
tree) and :mod:`.provider` (:class:`AlegraProvider`). Assumed facts are overridden per provider
with ``AlegraProvider(spec={...})``; the emulator reads the same :data:`SPEC`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import mapping as _mapping
from .errors import alegra_error, stamp_result_error
from .mapping import *  # noqa: F403  (the pure mappers are public names of the package)
from .provider import CREDENTIALS, AlegraProvider, RateLimitBucket, StampOutcome
from .spec import LEGACY_URL, PRODUCTION_URL, SPEC

__all__ = [
    "ALEGRA_API",
    "CREDENTIALS",
    "LEGACY_URL",
    "MAX_PAGE_SIZE",
    "MAX_STAMP_BATCH",
    "PRODUCTION_URL",
    "RATE_LIMIT_PER_MINUTE",
    "SPEC",
    "AlegraProvider",
    "RateLimitBucket",
    "StampOutcome",
    "alegra_error",
    "stamp_result_error",
]
__all__ += _mapping.__all__

MAX_PAGE_SIZE: int = SPEC.fact("limit.page_size").value
"""Largest ``limit`` Alegra accepts on list calls (``SPEC["limit.page_size"]``)."""
MAX_STAMP_BATCH: int = SPEC.fact("limit.stamp_batch").value
"""Most invoice ids ``POST /invoices/stamp`` takes at once (``SPEC["limit.stamp_batch"]``)."""
RATE_LIMIT_PER_MINUTE: int = SPEC.fact("limit.requests_per_minute").value
"""Alegra's published budget per user and minute (``SPEC["limit.requests_per_minute"]``)."""

ALEGRA_API: Mapping[str, str] = MappingProxyType(
    {
        key.removeprefix("field."): SPEC.fact(key).value
        for key in SPEC
        if key.startswith(("path.", "field."))
    }
)
"""Deprecated: the old table of paths and field names, read-only, derived from :data:`SPEC`.

Kept for one release; read ``SPEC`` (``SPEC["field.cancel.motive"]``) and override with
``AlegraProvider(spec={...})`` instead.
"""
