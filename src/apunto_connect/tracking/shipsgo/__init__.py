"""ShipsGo Ocean: container tracking by container, booking or bill of lading number.

ShipsGo follows ocean shipments across shipping lines and sells one *credit* per new
shipment; reading, listing and webhooks are free. This package speaks API v2:

* base URL ``https://api.shipsgo.com/v2`` (no separate test host: use
  :class:`apunto_connect.Sandbox` for an offline emulator);
* auth: header ``X-Shipsgo-User-Token`` with a token generated under *API Tokens* in the
  ShipsGo portal (tokens belong to one user; the user's role decides which shipments it sees);
* ``POST /ocean/shipments`` (1 credit), ``GET /ocean/shipments`` (``skip``/``take`` paging,
  ``filters[field]=op:value``, ``order_by``), ``GET /ocean/shipments/{id}``,
  ``DELETE /ocean/shipments/{id}``;
* HTTP 402 = not enough credits (never retried), 409 = the shipment already exists (the body
  carries it; treated as success and costs nothing), 422 = bad payload (raised as
  :class:`~apunto_connect.errors.ValidationError` with the vendor's text), 429/5xx retried;
* webhooks configured in the dashboard, signed with ``X-Shipsgo-Webhook-Signature`` = hex
  HMAC-SHA256 of the raw body with the webhook secret (:func:`verify_webhook`).

Safe retries: every create sends a deterministic ``reference`` (your shipment reference), and
ShipsGo de-duplicates on reference + container/booking number, so a create retried after a
timeout lands on 409 with the existing shipment instead of spending a second credit. The create
is therefore marked idempotent for the transport.

Public vs assumed: every path, header, limit and status is a fact of :data:`SPEC` (``spec.py``)
with its evidence. Two things are **assumed**: the credit balance path (no balance endpoint is
public; :meth:`ShipsGoProvider.credits` returns ``None`` when the server answers 404; override
with ``ShipsGoProvider(spec={"path.credits": ...})``) and the 422 body shape (``message`` plus
an optional ``errors`` object), which is parsed tolerantly. The offline emulator reads the same
spec.

Files: ``spec.py`` (the facts), ``mapping.py`` (validation, mappers, filters, webhooks),
``errors.py`` (the error mapper), ``provider.py`` (:class:`ShipsGoProvider`).
"""

from . import mapping, spec
from .errors import shipsgo_error, shipsgo_validation_error
from .mapping import *  # noqa: F403  (the names of mapping.__all__)
from .provider import ShipsGoProvider
from .spec import *  # noqa: F403  (the names of spec.__all__)

# Importable from here, but not part of the package's own list: the vendor's short name and
# the key table of the deprecated ``endpoints=`` spelling.
_SPEC_ONLY = frozenset({"LEGACY_KEYS", "PROVIDER"})

__all__ = [
    *(name for name in spec.__all__ if name not in _SPEC_ONLY),
    "ShipsGoProvider",
    "shipsgo_error",
    "shipsgo_validation_error",
    *mapping.__all__,
]
