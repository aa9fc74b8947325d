"""Actiun: CFDI sales invoices through the Actiun API, behind the invoicing interface.

The package has the shape every vendor shares (``docs/concepts.md``):

* ``spec`` — :data:`SPEC`, the client's spec (paths, fields, code lists, the tax catalog);
* ``mapping`` — pure functions between the SDK's models and Actiun's, and Actiun's own
  pre-flight rules (:func:`actiun_issues`);
* ``errors`` — :func:`actiun_error`, Actiun's error answers mapped to the error tree;
* ``provider`` — :class:`ActiunInvoiceProvider`.

>>> from apunto_connect.invoicing.actiun import ActiunInvoiceProvider
>>> provider = ActiunInvoiceProvider(api_key="...")             # doctest: +SKIP
"""

from __future__ import annotations

from . import mapping
from .errors import actiun_error
from .mapping import *  # noqa: F403  (the names of mapping.__all__)
from .provider import CREDENTIALS, ActiunInvoiceProvider
from .spec import SPEC

__all__ = [
    "CREDENTIALS",
    "SPEC",
    "ActiunInvoiceProvider",
    "actiun_error",
    *mapping.__all__,
]
