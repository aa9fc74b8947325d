"""A complete client for the Actiun API (and any server that speaks it).

Actiun (https://www.actiun.com) is a Mexican invoicing and accounting web app. Its REST API
(reference: developers.actiun.com, in Spanish) exposes contacts, products or services (items)
and sales invoices, which it stamps as CFDI. This package implements all of it:

* :class:`ActiunClient` with ``contacts``, ``items`` and ``invoices``: ``get``, ``page``,
  ``list`` (lazy over every page, optionally ``concurrency=N`` pages at once), and ``create``,
  ``update``, ``delete`` where the API has them; ``invoices.download(invoice, "pdf"|"xml")``
  and ``invoices.wait_while_stamping(...)``;
* tolerant attrs models (:class:`Contact`, :class:`Item`, :class:`Invoice`, ...);
* request validation before any call (codes, PPD rule, order fields...);
* errors mapped to :mod:`apunto_connect.errors` with the server's text verbatim.

Base URL ``https://api.actiun.com`` (any other with ``base_url=``). Authentication: the private
key in ``Authorization`` exactly as the reference's examples send it (no scheme). Everything
the reference does not state — error body shape, soft-delete signal, retentions and per-line
description/discount, tax ids beyond 1 and 2 — is an assumption kept in
``SPEC`` (:mod:`apunto_connect.actiun.spec`), changed per client with ``spec={...}``.

>>> from apunto_connect.actiun import ActiunClient
>>> with ActiunClient(api_key="...") as client:                 # doctest: +SKIP
...     item = client.items.create("Flete", "1500", "78101802", "E48")
"""

from __future__ import annotations

from . import spec
from .client import CREDENTIALS, ActiunClient
from .errors import actiun_error
from .inputs import LineItemInput
from .models import (
    Address,
    Attachment,
    CatalogKey,
    CfdiUse,
    Contact,
    Currency,
    Deletion,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Item,
    Stamp,
    Tax,
)
from .pagination import Page, parse_link_header
from .resources import Contacts, Invoices, Items
from .spec import SPEC

__all__ = [
    "CREDENTIALS",
    "SPEC",
    "ActiunClient",
    "Address",
    "Attachment",
    "CatalogKey",
    "CfdiUse",
    "Contact",
    "Contacts",
    "Currency",
    "Deletion",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "Invoices",
    "Item",
    "Items",
    "LineItemInput",
    "Page",
    "Stamp",
    "Tax",
    "actiun_error",
    "parse_link_header",
    "spec",
]
