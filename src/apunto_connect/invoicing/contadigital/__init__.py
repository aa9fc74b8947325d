"""ContaDigital (app.contadigital.mx, "API Facturación"): CFDI 4.0 through an API key.

**What is public and what is assumed.** ContaDigital publishes no API reference, SDK or issue
tracker. The only public facts are in the vendor-integration help page of a freight platform:
the API key and the list of endpoints live under *Perfil de usuario → API Facturación*, the
account must be enabled for API invoicing, the serie configured in ContaDigital must be valid
and active, product names are 2–50 characters, and the issuer's razón social is registered
without the régimen capital. **Everything else** — the token exchange, the ``{Resultado,
Codigo}`` envelope, every path, every field name and the integer-id catalog — comes from one
public integration and is **unverified**. All of it lives in one frozen :data:`SPEC`, which any
caller can override per provider (unknown keys are refused)::

    provider = ContaDigitalProvider(api_key="...", spec={"path.products": "/api/productos.json"})

The offline emulator (:mod:`apunto_connect.sandbox.contadigital`) reads the same :data:`SPEC`,
so the two agree with each other; only a real account can tell whether they agree with
ContaDigital. ``docs/vendors/contadigital.md`` lists every assumption.

**Hosts.** Production ``https://app.contadigital.mx``; the test environment is a path prefix on
the same host, ``/dev/pruebas`` (``environment="sandbox"``).

**Envelope.** Every reply is ``{"Resultado": ..., "Codigo": n}``; ``Codigo`` 1 is success and
3 means "saved but not stamped: no stamping credits" (raised as
:class:`~apunto_connect.errors.InsufficientCredits` carrying ``saved_id``). Failures usually come
as HTTP 200 with another ``Codigo``; the vendor text is passed through verbatim.

**Internal ids.** Invoices refer to the account's own integer ids (empresa, serie, sucursal,
moneda, forma de pago, unidad, producto, cliente), read once from
``GET /api/cfdi/utiles.json/{idEmpresa}`` and cached. Customers are looked up by RFC and created
or updated on the fly; products missing from the catalog are created (that endpoint is an
assumption: the integration never created products).

The package: ``spec.py`` (the facts), ``mapping.py`` (pure model <-> wire functions),
``errors.py`` (failures -> the error tree), ``provider.py`` (the provider).
"""

from __future__ import annotations

from ..._wire import encode_json
from . import mapping as _mapping
from . import spec as _spec
from .errors import contadigital_error
from .mapping import *  # noqa: F403  (the catalog types and mappers are public names of the package)
from .provider import CREDENTIALS, ContaDigitalProvider
from .spec import *  # noqa: F403  (the facts, and the tables of earlier releases)

__all__ = ["CREDENTIALS", "ContaDigitalProvider", "contadigital_error", "encode_json"]
__all__ += _mapping.__all__
__all__ += _spec.__all__
