"""Alegra (Mexico): CFDI 4.0 sales invoices through Alegra's accounting API v1.

Alegra is a cloud accounting and invoicing system; in Mexico it stamps (timbra) sales invoices
through its own PAC. Only its *PLUS* plan enables the API Apunto needs.

Base URL and auth (public):

* ``https://api.alegra.com/api/v1`` (older clients used ``https://app.alegra.com/api/v1``).
  **Alegra has no public test environment for Mexico**: ``environment`` only accepts
  ``"production"``; use :class:`apunto_connect.Sandbox` to try things offline.
* HTTP Basic with the account's **e-mail** (it must be an e-mail; checked locally) and the API
  token from *Configuración → Integraciones → API*. Renewing the token revokes the old one at
  once.
* Rate limit: 150 requests per minute per user; every answer carries ``X-Rate-Limit-Limit``,
  ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset`` (seconds left in the window) and an
  excess gets HTTP 429. This client paces itself from those headers with
  :class:`RateLimitBucket` instead of waiting to be refused.

How a stamp works here: Alegra computes the amounts from catalog ids, so :meth:`AlegraProvider.stamp`
first makes sure the customer exists as a *contact* (found by RFC), that each line exists as an
*item* carrying its SAT ``productKey`` (Alegra rejects items without one) and that every tax of
the invoice exists as a tax (transferred) or a retention (withheld); then it sends
``POST /invoices`` with ``"stamp": {"generateStamp": true}``. :meth:`AlegraProvider.stamp_many`
creates drafts and stamps them with ``POST /invoices/stamp`` (``{"ids": [...]}``, at most 10 per
call). Files come back as URLs from ``GET /invoices/{id}?fields=pdf,xml`` and may appear some
seconds after stamping, so :meth:`AlegraProvider.download` polls with a bounded wait.

What is public and what is assumed
----------------------------------
Public (official reference or several independent clients): the base URL, Basic auth, the rate
limit and its headers, ``/contacts``, ``/items``, ``/invoices``, ``stamp.generateStamp``,
``POST /invoices/stamp`` with up to 10 ids and its per-id ``{"data": [{"id", "success",
"message"}]}`` answer, ``fields=pdf,xml`` returning URLs, ``start``/``limit`` (max 30) and
``metadata=true`` paging, ``POST /invoices/{id}/open``, errors as JSON with ``message`` (and
sometimes ``code``), ``productKey`` on Mexican items, ``numberTemplate`` on invoices.

**Not public, assumed** (every such name lives in :data:`ALEGRA_API`, the one table to override;
pass ``api={...}`` to the provider or edit a copy — the emulator follows the same defaults):

* the Mexican contact fields (régimen, postal code) and invoice fields (``cfdiUse``,
  ``paymentForm``, ``paymentMethod``), the item's SAT unit field, the tax and retention
  catalogs' paths and fields, and the item line's ``retentions`` list;
* **cancellation**: ``POST /invoices/{id}/void`` was not found verbatim, and how Alegra takes the
  SAT motive (``01``–``04``) and the replacement UUID is **unknown**. This client sends
  ``{"motive": "02", "replacementUuid": ...}`` (names in :data:`ALEGRA_API`) and reads the
  cancellation state from the answer's ``status`` (``void``) and ``stamp.cancellationStatus``;
* the stamp's UUID at ``stamp.uuid`` and the file URL keys ``pdf``/``xml``;
* the contact search by ``identification``, the item search by ``query``, the list filters
  ``date_after``/``date_before``/``order_field``/``order_direction``;
* the idempotency marker: the key is written into the invoice's internal ``observations``
  (``[apunto-idempotency-key:<key>]``) and found again by scanning the newest invoices.

Sources: developer.alegra.com (reference pages for ``POST /invoices/stamp``,
``POST /invoices/{id}/open`` and *Límite de request*), developers.apideck.com (Alegra
configuration and gotchas), the alegra-cli documentation, loduis/alegra-php and the
alegra-python client (paging), and Apunto's "Apunto + Alegra" help page (e-mail as user name,
PLUS plan, product names of 2–50 characters).
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import attrs
import requests

from .._overrides import merged_table
from ..credentials import CredentialField, Secret, resolve_credentials
from ..errors import (
    ApuntoError,
    AuthenticationError,
    ConfigurationError,
    Issue,
    NotFound,
    PermissionDenied,
    ProviderError,
    Severity,
    StampRejected,
    Timeout,
    TransportError,
    ValidationError,
)
from ..http import DEFAULT_TIMEOUT, RetryPolicy, TimeoutValue, Transport, error_for_status
from ..journal import JournalStore
from ..models.common import Capability, ConnectionStatus
from ..models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    StampedInvoice,
    Tax,
    TaxFactor,
    TaxKind,
)
from ..models.parties import Customer, Issuer
from ..money import quantize, round_money
from ..sat import validate_cancellation, validate_product_name
from .base import DownloadFormat, InvoiceProvider, StampAttempt

__all__ = [
    "ALEGRA_API",
    "CREDENTIALS",
    "LEGACY_URL",
    "MAX_PAGE_SIZE",
    "MAX_STAMP_BATCH",
    "PRODUCTION_URL",
    "RATE_LIMIT_PER_MINUTE",
    "AlegraProvider",
    "RateLimitBucket",
    "StampOutcome",
    "TaxRef",
    "alegra_error",
    "alegra_to_cancellation",
    "alegra_to_stamped",
    "cancel_to_alegra",
    "customer_to_alegra",
    "idempotency_marker",
    "invoice_to_alegra",
    "line_to_alegra_item",
    "list_params",
    "tax_ref",
    "tax_to_alegra",
]

PROVIDER = "alegra"
PRODUCTION_URL = "https://api.alegra.com/api/v1"
LEGACY_URL = "https://app.alegra.com/api/v1"
MAX_PAGE_SIZE = 30
"""Largest ``limit`` Alegra accepts on list calls."""
MAX_STAMP_BATCH = 10
"""Most invoice ids ``POST /invoices/stamp`` takes at once."""
RATE_LIMIT_PER_MINUTE = 150
"""Alegra's published budget per user and minute."""

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("email", secret=False, env_aliases=("APUNTO_ALEGRA_USERNAME",)),
    CredentialField("token", env_aliases=("APUNTO_ALEGRA_API_KEY",)),
)

ALEGRA_API: Mapping[str, str] = {
    # -- paths, relative to the base URL ---------------------------------------------------
    "path.company": "company",  # 3p clients (also users/self)
    "path.contacts": "contacts",  # 3p clients
    "path.contact": "contacts/{id}",  # 3p clients
    "path.items": "items",  # 3p clients
    "path.taxes": "taxes",  # ASSUMED path of the tax catalog ("Impuestos")
    "path.retentions": "retentions",  # ASSUMED path of the withholding catalog ("Retenciones")
    "path.invoices": "invoices",  # official
    "path.invoice": "invoices/{id}",  # 3p clients
    "path.stamp": "invoices/stamp",  # official: up to 10 ids, draft or open invoices
    "path.void": "invoices/{id}/void",  # ASSUMED: not found verbatim
    # -- query parameters ------------------------------------------------------------------
    "query.contact_rfc": "identification",  # ASSUMED contact search by RFC
    "query.item_search": "query",  # ASSUMED item search by text
    "query.fields": "fields",  # 3p: fields=pdf,xml
    "query.start": "start",  # 3p
    "query.limit": "limit",  # 3p (max 30)
    "query.metadata": "metadata",  # 3p
    "query.order_field": "order_field",  # 3p
    "query.order_direction": "order_direction",  # 3p
    "query.date_after": "date_after",  # 3p name truncated in the sources: ASSUMED
    "query.date_before": "date_before",  # ASSUMED
    "query.status": "status",  # 3p
    "query.text": "query",  # 3p
    # -- contact fields (dotted names are nested objects) ----------------------------------
    "contact.name": "name",
    "contact.rfc": "identification",
    "contact.email": "email",
    "contact.type": "type",
    "contact.regime": "regime",  # ASSUMED Mexican field
    "contact.zip": "address.zipCode",  # ASSUMED Mexican field
    # -- item fields ------------------------------------------------------------------------
    "item.name": "name",
    "item.description": "description",
    "item.reference": "reference",
    "item.price": "price",
    "item.product_key": "productKey",  # 3p (apideck): required in Mexico
    "item.unit_key": "unitKey",  # ASSUMED: SAT ClaveUnidad of the item
    "item.unit_name": "unit",  # ASSUMED
    # -- tax and retention fields ---------------------------------------------------------
    "tax.name": "name",
    "tax.percentage": "percentage",
    "tax.type": "type",  # ASSUMED values IVA / ISR / IEPS
    "tax.factor": "factorType",  # ASSUMED values Tasa / Cuota / Exento (missing = Tasa)
    # -- invoice request fields -------------------------------------------------------------
    "invoice.date": "date",
    "invoice.due_date": "dueDate",
    "invoice.client": "client.id",
    "invoice.items": "items",
    "invoice.series": "numberTemplate.prefix",  # 3p (pipedream: numberTemplate prefix/number)
    "invoice.folio": "numberTemplate.number",
    "invoice.currency": "currency.code",  # ASSUMED
    "invoice.exchange_rate": "currency.exchangeRate",  # ASSUMED
    "invoice.payment_form": "paymentForm",  # ASSUMED: c_FormaPago code
    "invoice.payment_method": "paymentMethod",  # ASSUMED: PUE / PPD
    "invoice.cfdi_use": "cfdiUse",  # ASSUMED: c_UsoCFDI code
    "invoice.export_code": "exportation",  # ASSUMED: c_Exportacion
    "invoice.notes": "anotation",  # printed notes (Alegra's own spelling)
    "invoice.payment_terms": "termsConditions",
    "invoice.observations": "observations",  # internal, not printed: holds the marker
    "invoice.status": "status",
    "invoice.stamp": "stamp.generateStamp",  # 3p (alegra-cli, apideck)
    "line.id": "id",
    "line.price": "price",
    "line.quantity": "quantity",
    "line.discount": "discount",  # percentage of the line amount
    "line.description": "description",
    "line.taxes": "tax",  # list of {"id": ...}
    "line.retentions": "retentions",  # ASSUMED list of {"id": ...}
    # -- invoice answer fields ----------------------------------------------------------------
    "answer.id": "id",
    "answer.status": "status",  # draft / open / closed / void
    "answer.total": "total",
    "answer.uuid": "stamp.uuid",  # ASSUMED
    "answer.stamped_at": "stamp.date",  # ASSUMED
    "answer.cancel_status": "stamp.cancellationStatus",  # ASSUMED
    "answer.pdf": "pdf",  # 3p: URL, only with fields=pdf
    "answer.xml": "xml",  # 3p: URL, only with fields=xml
    "answer.client_rfc": "client.identification",
    # -- cancellation request -------------------------------------------------------------
    "cancel.motive": "motive",  # ASSUMED: how Alegra takes the SAT motive is not public
    "cancel.replacement": "replacementUuid",  # ASSUMED
}
"""Every Alegra path and field name this client uses, in one overridable table.

Entries marked ASSUMED in the source are not public for Mexico; override them per provider with
``AlegraProvider(api={"path.void": "...", ...})``. Dotted values (``address.zipCode``) are
nested objects.
"""

_ALLOWED_ENVIRONMENTS = frozenset({"production"})
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[^@\s:]{2,}$")
_SAT_CODE = re.compile(r"\bCFDI\d{5}\b")
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_MARKER_PREFIX = "[apunto-idempotency-key:"
_LOOKUP_PAGES = 2  # newest invoices scanned for an idempotency marker (2 × 30)
_UUID_SCAN_PAGES = 10  # invoices scanned when ``get``/``download`` receive a UUID
_MAX_PAGES = 100_000  # a server that ignores ``start`` must not make list() loop forever
_STATUS_FROM_ALEGRA = {
    "draft": InvoiceStatus.DRAFT,
    "open": InvoiceStatus.ACTIVE,
    "closed": InvoiceStatus.ACTIVE,
    "void": InvoiceStatus.CANCELLED,
    "voided": InvoiceStatus.CANCELLED,
}
_CANCEL_STATUS_FROM_ALEGRA = {
    "cancelled": CancellationStatus.CANCELLED,
    "canceled": CancellationStatus.CANCELLED,
    "requested": CancellationStatus.REQUESTED,
    "pending": CancellationStatus.PENDING,
    "rejected": CancellationStatus.REJECTED,
}


# -- small helpers on dotted field names --------------------------------------------------


def _get(data: Any, dotted: str) -> Any:
    """The value at ``dotted`` (``stamp.uuid``) in nested mappings, or ``None``."""
    current = data
    for part in dotted.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``value`` at ``dotted`` in ``target``, creating nested objects on the way."""
    parts = dotted.split(".")
    current = target
    for part in parts[:-1]:
        nested = current.setdefault(part, {})
        if not isinstance(nested, dict):
            raise ConfigurationError(f"Alegra field {dotted!r} clashes with another field")
        current = nested
    current[parts[-1]] = value


def _merged_api(overrides: Mapping[str, str] | None) -> dict[str, str]:
    return merged_table("Alegra", ALEGRA_API, overrides, "API table")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _mexico_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database: central Mexico has been UTC-6 all year since 2022
        return timezone(timedelta(hours=-6), "CST")


def _parse_datetime(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_mexico_tz()).replace(tzinfo=None)
    return moment


# -- pure mappers: our models -> Alegra JSON ----------------------------------------------


@attrs.frozen(slots=True)
class TaxRef:
    """Identity of one tax in Alegra's catalogs: kind, factor, rate and direction."""

    kind: TaxKind
    factor: TaxFactor
    rate: Decimal | None
    withholding: bool

    @property
    def percentage(self) -> Decimal | None:
        """The rate as Alegra writes it: a percentage (``16`` for 0.16)."""
        if self.rate is None:
            return None
        if self.factor is TaxFactor.QUOTA:
            return self.rate.normalize()
        return (self.rate * 100).normalize()

    @property
    def label(self) -> str:
        """A human name for a catalog entry (``IVA 16%``, ``Ret. ISR 10%``, ``IVA Exento``)."""
        head = f"Ret. {self.kind.value}" if self.withholding else self.kind.value
        if self.factor is TaxFactor.EXEMPT or self.percentage is None:
            return f"{head} Exento"
        if self.factor is TaxFactor.QUOTA:
            return f"{head} cuota {self.percentage:f}"
        return f"{head} {self.percentage:f}%"


def tax_ref(tax: Tax) -> TaxRef:
    """The catalog identity of ``tax``."""
    rate = None if tax.factor is TaxFactor.EXEMPT else tax.rate
    return TaxRef(tax.kind, tax.factor, rate, tax.withholding)


def tax_to_alegra(ref: TaxRef, api: Mapping[str, str] = ALEGRA_API) -> dict[str, Any]:
    """The body that creates ``ref`` in Alegra's tax (or retention) catalog."""
    body: dict[str, Any] = {}
    _put(body, api["tax.name"], ref.label)
    _put(body, api["tax.type"], ref.kind.value)
    _put(body, api["tax.factor"], ref.factor.value)
    _put(body, api["tax.percentage"], ref.percentage if ref.percentage is not None else Decimal(0))
    return body


def alegra_tax_matches(entry: Mapping[str, Any], ref: TaxRef, api: Mapping[str, str]) -> bool:
    """Tell whether an Alegra catalog entry is the tax ``ref`` (a missing factor means Tasa)."""
    kind = _text(_get(entry, api["tax.type"]))
    if kind is None or kind.upper() != ref.kind.value:
        return False
    factor = _text(_get(entry, api["tax.factor"])) or TaxFactor.RATE.value
    if factor.lower() != ref.factor.value.lower():
        return False
    if ref.factor is TaxFactor.EXEMPT:
        return True
    percentage = _decimal_or_none(_get(entry, api["tax.percentage"]))
    return percentage is not None and ref.percentage is not None and percentage == ref.percentage


def customer_to_alegra(customer: Customer, api: Mapping[str, str] = ALEGRA_API) -> dict[str, Any]:
    """The contact body for ``customer`` (a client with its SAT data)."""
    body: dict[str, Any] = {}
    _put(body, api["contact.name"], customer.legal_name)
    _put(body, api["contact.rfc"], customer.rfc)
    _put(body, api["contact.regime"], customer.tax_regime)
    _put(body, api["contact.zip"], customer.zip_code)
    _put(body, api["contact.type"], ["client"])
    if customer.email:
        _put(body, api["contact.email"], customer.email)
    return body


def contact_matches(entry: Mapping[str, Any], customer: Customer, api: Mapping[str, str]) -> bool:
    """Tell whether an Alegra contact is ``customer`` (same RFC and same name)."""
    rfc = (_text(_get(entry, api["contact.rfc"])) or "").upper()
    name = " ".join((_text(_get(entry, api["contact.name"])) or "").upper().split())
    return rfc == customer.rfc and name == customer.legal_name


def contact_is_current(entry: Mapping[str, Any], customer: Customer, api: Mapping[str, str]) -> bool:
    """Tell whether a matching contact already carries the customer's régimen and postal code."""
    return (
        _text(_get(entry, api["contact.regime"])) == customer.tax_regime
        and _text(_get(entry, api["contact.zip"])) == customer.zip_code
    )


def line_to_alegra_item(
    item: LineItem, currency: str = "MXN", api: Mapping[str, str] = ALEGRA_API
) -> dict[str, Any]:
    """The catalog item body for one invoice line (name, SAT product key and unit)."""
    body: dict[str, Any] = {}
    _put(body, api["item.name"], item.product_name)
    _put(body, api["item.description"], item.description)
    _put(body, api["item.price"], round_money(item.unit_price, currency))
    _put(body, api["item.product_key"], item.product_code)
    _put(body, api["item.unit_key"], item.unit_code)
    if item.unit_name:
        _put(body, api["item.unit_name"], item.unit_name)
    if item.sku:
        _put(body, api["item.reference"], item.sku)
    return body


def item_matches(entry: Mapping[str, Any], item: LineItem, api: Mapping[str, str]) -> bool:
    """Tell whether an Alegra item is the catalog entry for ``item``."""
    same_key = _text(_get(entry, api["item.product_key"])) == item.product_code
    same_name = _text(_get(entry, api["item.name"])) == item.product_name
    same_unit = _text(_get(entry, api["item.unit_key"])) in (None, item.unit_code)
    same_sku = item.sku is None or _text(_get(entry, api["item.reference"])) == item.sku
    return same_key and same_name and same_unit and same_sku


def idempotency_marker(key: str) -> str:
    """The text written into an invoice's internal observations to find it again."""
    return f"{_MARKER_PREFIX}{key}]"


def _discount_percentage(item: LineItem, currency: str) -> Decimal:
    """Alegra takes a line discount as a percentage; ten decimals round back to the cent."""
    if not item.discount:
        return Decimal(0)
    amount = round_money(item.quantity * item.unit_price, currency)
    if not amount:
        return Decimal(0)
    return quantize(item.discount / amount * 100, 10).normalize()


def invoice_to_alegra(
    invoice: Invoice,
    *,
    client_id: str,
    item_ids: Sequence[str],
    tax_ids: Mapping[TaxRef, str],
    issued_on: date,
    idempotency_key: str | None = None,
    stamp: bool = True,
    api: Mapping[str, str] = ALEGRA_API,
) -> dict[str, Any]:
    """The ``POST /invoices`` body for ``invoice``.

    Args:
        invoice: the invoice (validated beforehand).
        client_id: the Alegra contact id of the customer.
        item_ids: the Alegra item id of each line, in order.
        tax_ids: the Alegra tax or retention id of every tax the lines use.
        issued_on: the invoice date when ``invoice.issued_at`` is not set (Mexico City date).
        idempotency_key: written as a marker into the internal observations.
        stamp: ask Alegra to stamp on creation (``False`` creates a draft).
        api: the field-name table.
    """
    if len(item_ids) != len(invoice.items):
        raise ValueError("one Alegra item id per invoice line is needed")
    currency = invoice.currency
    when = invoice.issued_at.date() if invoice.issued_at else issued_on
    body: dict[str, Any] = {}
    _put(body, api["invoice.date"], when.isoformat())
    _put(body, api["invoice.due_date"], (when + timedelta(days=invoice.customer.credit_days)).isoformat())
    _put(body, api["invoice.client"], client_id)
    lines = []
    for item, item_id in zip(invoice.items, item_ids, strict=True):
        line: dict[str, Any] = {}
        _put(line, api["line.id"], item_id)
        _put(line, api["line.price"], item.unit_price)
        _put(line, api["line.quantity"], item.quantity)
        _put(line, api["line.description"], item.description)
        discount = _discount_percentage(item, currency)
        if discount:
            _put(line, api["line.discount"], discount)
        transferred = [{"id": tax_ids[tax_ref(t)]} for t in item.taxes if not t.withholding]
        withheld = [{"id": tax_ids[tax_ref(t)]} for t in item.taxes if t.withholding]
        if transferred:
            _put(line, api["line.taxes"], transferred)
        if withheld:
            _put(line, api["line.retentions"], withheld)
        lines.append(line)
    _put(body, api["invoice.items"], lines)
    if invoice.series:
        _put(body, api["invoice.series"], invoice.series)
    if invoice.folio:
        _put(body, api["invoice.folio"], invoice.folio)
    _put(body, api["invoice.currency"], currency)
    if invoice.exchange_rate is not None:
        _put(body, api["invoice.exchange_rate"], invoice.exchange_rate)
    _put(body, api["invoice.payment_form"], invoice.effective_payment_form)
    _put(body, api["invoice.payment_method"], invoice.effective_payment_method.value)
    _put(body, api["invoice.cfdi_use"], invoice.effective_cfdi_use)
    _put(body, api["invoice.export_code"], invoice.export_code)
    if invoice.notes:
        _put(body, api["invoice.notes"], invoice.notes)
    if invoice.payment_terms:
        _put(body, api["invoice.payment_terms"], invoice.payment_terms)
    if idempotency_key:
        _put(body, api["invoice.observations"], idempotency_marker(idempotency_key))
    if stamp:
        _put(body, api["invoice.stamp"], True)
    else:
        _put(body, api["invoice.status"], "draft")
    return body


def cancel_to_alegra(
    motive: CancelMotive, replacement_uuid: str | None, api: Mapping[str, str] = ALEGRA_API
) -> dict[str, Any]:
    """The void body carrying the SAT motive (field names ASSUMED, see :data:`ALEGRA_API`)."""
    body: dict[str, Any] = {}
    _put(body, api["cancel.motive"], motive.value)
    if replacement_uuid:
        _put(body, api["cancel.replacement"], replacement_uuid.upper())
    return body


# -- pure mappers: Alegra JSON -> our models ----------------------------------------------


def alegra_to_stamped(
    data: Mapping[str, Any],
    *,
    provider: str = PROVIDER,
    issuer_rfc: str | None = None,
    api: Mapping[str, str] = ALEGRA_API,
) -> StampedInvoice:
    """Map an Alegra invoice object to :class:`StampedInvoice` (unknown fields are ignored)."""
    uuid = _text(_get(data, api["answer.uuid"]))
    raw_status = (_text(_get(data, api["answer.status"])) or "").lower()
    status = _STATUS_FROM_ALEGRA.get(raw_status, InvoiceStatus.ACTIVE)
    if uuid is None and status is not InvoiceStatus.CANCELLED:
        status = InvoiceStatus.DRAFT
    cancel_state = (_text(_get(data, api["answer.cancel_status"])) or "").lower()
    if status is InvoiceStatus.CANCELLED and cancel_state in ("requested", "pending"):
        status = InvoiceStatus.CANCEL_PENDING
    currency = _text(_get(data, api["invoice.currency"])) or "MXN"
    issued = _parse_datetime(_get(data, api["invoice.date"]))
    return StampedInvoice(
        provider=provider,
        id=str(_get(data, api["answer.id"])),
        uuid=uuid.upper() if uuid else None,
        status=status,
        total=_decimal_or_none(_get(data, api["answer.total"])),
        currency=currency,
        series=_text(_get(data, api["invoice.series"])),
        folio=_text(_get(data, api["invoice.folio"])),
        issuer_rfc=issuer_rfc,
        customer_rfc=_text(_get(data, api["answer.client_rfc"])),
        issued_at=issued,
        stamped_at=_parse_datetime(_get(data, api["answer.stamped_at"])),
        raw=dict(data),
    )


def alegra_to_cancellation(
    data: Mapping[str, Any],
    *,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    provider: str = PROVIDER,
    api: Mapping[str, str] = ALEGRA_API,
) -> Cancellation:
    """Map Alegra's answer to a void request to :class:`Cancellation`.

    A ``void`` invoice with no cancellation state is taken as cancelled; ``requested`` or
    ``pending`` means the receiver still has to accept (SAT rule), ``rejected`` that they did not.
    """
    raw_status = (_text(_get(data, api["answer.status"])) or "").lower()
    cancel_state = (_text(_get(data, api["answer.cancel_status"])) or "").lower()
    if cancel_state in _CANCEL_STATUS_FROM_ALEGRA:
        status = _CANCEL_STATUS_FROM_ALEGRA[cancel_state]
    elif raw_status in ("void", "voided"):
        status = CancellationStatus.CANCELLED
    else:
        status = CancellationStatus.REJECTED
    uuid = _text(_get(data, api["answer.uuid"]))
    return Cancellation(
        provider=provider,
        ref=ref,
        motive=motive,
        status=status,
        uuid=uuid.upper() if uuid else None,
        replacement_uuid=replacement_uuid,
        message=_text(data.get("message")) or "",
        raw=dict(data),
    )


def _error_fields(body: Any) -> tuple[str | None, str | None]:
    """``(message, code)`` from Alegra's error shapes: flat, nested in ``error``, or a list."""
    if isinstance(body, list) and body:
        return _error_fields(body[0])
    if not isinstance(body, Mapping):
        return None, None
    nested = body.get("error")
    if isinstance(nested, Mapping):
        message, code = _error_fields(nested)
        if message:
            return message, code
    message = body.get("message")
    if isinstance(message, Mapping | list):
        message = json.dumps(message, ensure_ascii=False)
    if not isinstance(message, str) and isinstance(nested, str):
        message = nested
    code = body.get("code")
    return (
        message if isinstance(message, str) and message.strip() else None,
        None if code is None or isinstance(code, Mapping | list) else str(code),
    )


def _reset_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("X-Rate-Limit-Reset")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def alegra_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed Alegra response to the error tree, keeping Alegra's message verbatim.

    ``{"message": ..., "code": ...}`` (also nested under ``error`` or as a one-element list)
    gives ``message`` and ``vendor_code``; a SAT rule code (``CFDI40145``) in a 400/409/422
    answer makes it a :class:`StampRejected` with ``sat_code``; a 429 carries the seconds of
    ``X-Rate-Limit-Reset`` as ``retry_after``. Bodies that are not JSON (HTML from a proxy,
    plain text) keep their text, or the HTTP reason when they are HTML.
    """
    try:
        body: Any = json.loads(response.content, parse_float=Decimal) if response.content else None
    except ValueError:
        body = None
    message, code = _error_fields(body)
    if message is None:
        text = response.text.strip() if response.content else ""
        looks_html = text[:1] == "<"
        message = text[:500] if text and not looks_html else ""
        message = message or f"HTTP {response.status_code} {response.reason or ''}".strip()
    details = body if isinstance(body, Mapping | list) else None
    status = response.status_code
    sat = _SAT_CODE.search(message)
    if sat and status in (400, 409, 422):
        error = error_for_status(provider, response, message, vendor_code=code, details=details)
        return StampRejected(
            message,
            sat_code=sat.group(0),
            provider=provider,
            status_code=status,
            vendor_code=code,
            details=details,
            request_id=error.request_id,
            raw_body=error.raw_body,
        )
    error = error_for_status(provider, response, message, vendor_code=code, details=details)
    if status == 429 and getattr(error, "retry_after", None) is None:
        error.retry_after = _reset_seconds(response)  # type: ignore[attr-defined]
    return error


def stamp_result_error(entry: Mapping[str, Any], provider: str = PROVIDER) -> ProviderError:
    """The error for one failed entry of ``POST /invoices/stamp`` (HTTP 200, per-id result)."""
    message = _text(entry.get("message")) or "Alegra did not stamp the invoice"
    sat = _SAT_CODE.search(message)
    code = _text(entry.get("code")) or _text(entry.get("emissionStatus"))
    return StampRejected(
        message,
        sat_code=sat.group(0) if sat else None,
        provider=provider,
        vendor_code=code,
        details=dict(entry),
    )


# -- rate limiting --------------------------------------------------------------------------


class RateLimitBucket:
    """A thread-safe token bucket that paces requests to Alegra's per-minute budget.

    Before the first answer it behaves as a plain bucket of ``limit`` tokens refilled at
    ``limit / window`` per second. Every answer's ``X-Rate-Limit-*`` headers then correct it:
    the server's ``Remaining`` caps the tokens (other processes may share the account), and while
    the server's window is known the bucket does not refill until ``Reset`` seconds have passed,
    when it is full again — the server counts in fixed windows, so refilling earlier would only
    earn a 429.

    Args:
        limit: requests per window (150 at Alegra).
        window: window length in seconds.
        clock: monotonic seconds (injectable for tests).
        sleep: how to wait (injectable for tests; the sandbox passes its clock's sleep).
    """

    def __init__(
        self,
        limit: int = RATE_LIMIT_PER_MINUTE,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.window = window
        self.limit = limit
        self._tokens = float(limit)
        self._updated = clock()
        self._window_end: float | None = None
        self.waited = 0.0
        """Total seconds spent waiting for tokens (for reports and tests)."""

    @property
    def tokens(self) -> float:
        """Tokens available now."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def _refill(self, now: float) -> None:
        if self._window_end is not None:
            if now >= self._window_end:
                self._tokens = float(self.limit)
                self._window_end = None
                self._updated = now
            return
        rate = self.limit / self.window
        self._tokens = min(float(self.limit), self._tokens + (now - self._updated) * rate)
        self._updated = now

    def _wait_for_token(self, now: float) -> float:
        if self._window_end is not None:
            return max(self._window_end - now, 0.0)
        return max((1.0 - self._tokens) * self.window / self.limit, 0.0)

    def acquire(self) -> float:
        """Take one token, waiting (through ``sleep``) until there is one; returns the wait.

        The wait is bounded: a token is taken after at most a few waits even if the injected
        clock does not move (the server still has the last word with a 429).
        """
        waited = 0.0
        for _ in range(4):
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._tokens >= 1.0 - _EPSILON:
                    self._tokens = max(self._tokens - 1.0, 0.0)
                    self.waited += waited
                    return waited
                wait = self._wait_for_token(now)
            self._sleep(wait)
            waited += wait
        with self._lock:
            self._tokens = max(self._tokens - 1.0, 0.0)
            self.waited += waited
        return waited

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the bucket from an answer's ``X-Rate-Limit-*`` headers (absent ones are ignored)."""
        limit = _header_number(headers, "X-Rate-Limit-Limit")
        remaining = _header_number(headers, "X-Rate-Limit-Remaining")
        reset = _header_number(headers, "X-Rate-Limit-Reset")
        if limit is None and remaining is None:
            return
        with self._lock:
            now = self._clock()
            self._refill(now)
            if limit is not None and limit >= 1:
                self.limit = int(limit)
                self._tokens = min(self._tokens, float(self.limit))
            if remaining is None:
                return
            new_end = now + reset if reset is not None else None
            starts_new_window = (
                new_end is not None
                and self._window_end is not None
                and new_end > self._window_end + 1.0
            )
            if starts_new_window:
                self._tokens = float(remaining)
            else:
                self._tokens = min(self._tokens, float(remaining))
            if new_end is not None:
                self._window_end = new_end
            self._updated = now


_EPSILON = 1e-9  # refills computed in floating point land a hair below a whole token


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class _PacedBasicAuth(requests.auth.AuthBase):
    """Basic auth that takes a rate-limit token before every attempt and reads the answer's headers.

    Sitting in the auth hook means retries made by the transport are paced too.
    """

    def __init__(self, email: str, token: Secret, bucket: RateLimitBucket) -> None:
        self._email = email
        self._token = token
        self._bucket = bucket

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self._bucket.acquire()
        pair = f"{self._email}:{self._token.reveal()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        request.register_hook("response", self._observe)  # type: ignore[no-untyped-call]
        return request

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        self._bucket.observe(response.headers)
        return response

    def __repr__(self) -> str:
        return f"_PacedBasicAuth(email={self._email!r}, token={self._token!r})"


# -- JSON with Decimal numbers ----------------------------------------------------------------


def _encode_json(body: Any) -> bytes:
    """Serialize ``body`` with :class:`Decimal` written as exact JSON numbers (never floats)."""
    marker = uuidlib.uuid4().hex

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"{marker}{value:f}{marker}"
        if isinstance(value, Mapping):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    text = json.dumps(convert(body), ensure_ascii=False, separators=(",", ":"))
    text = re.sub(rf'"{marker}(-?[0-9]+(?:\.[0-9]+)?){marker}"', r"\1", text)
    return text.encode("utf-8")


_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


# -- outcomes of stamp_many ---------------------------------------------------------------------


@attrs.frozen(slots=True)
class StampOutcome:
    """What happened to one invoice of :meth:`AlegraProvider.stamp_many`.

    Attributes:
        index: position of the invoice in the list given.
        id: Alegra's invoice id, when the draft was created.
        stamped: the stamped invoice, on success.
        error: why it was not stamped (Alegra's message verbatim), on failure.
    """

    index: int
    id: str | None
    stamped: StampedInvoice | None = None
    error: ApuntoError | None = None

    @property
    def ok(self) -> bool:
        """``True`` when the invoice was stamped."""
        return self.stamped is not None and self.stamped.uuid is not None


# -- the provider -------------------------------------------------------------------------------


class AlegraProvider(InvoiceProvider):
    """CFDI 4.0 sales invoices through Alegra (Mexico).

    Args:
        email: the Alegra account e-mail (Basic user name); must be an e-mail.
        token: the API token (Basic password).
        base_url: another server speaking Alegra's API (the loopback sandbox, a proxy).
        environment: only ``"production"``: Alegra has no public test host for Mexico.
        session: a :class:`requests.Session` to send everything through.
        timeout: ``(connect, read)`` seconds.
        max_retries: retries of safe requests (stamping is never retried blindly).
        sleep, clock: injectable waiting and monotonic time (pacing, polling, retries).
        api: overrides of :data:`ALEGRA_API` (paths and field names that are assumed).
        issuer: the account's fiscal identity, for pre-flight rules that need it and for
            ``issuer_rfc`` in results (Alegra always issues as the account owner).
        rate_limit: requests per minute to pace to (Alegra's published 150 by default).
        file_wait: seconds to wait for the XML/PDF URLs after stamping.
        file_poll_interval: seconds between file polls.
    """

    name: ClassVar[str] = PROVIDER
    finds_existing: ClassVar[bool] = True  # by the key's marker in the observations
    asks_before_first_send: ClassVar[bool] = True  # a refused or batch attempt leaves drafts
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.STAMP,
            Capability.STAMP_MANY,
            Capability.GET,
            Capability.DOWNLOAD_XML,
            Capability.DOWNLOAD_PDF,
            Capability.CANCEL,
            Capability.LIST,
        }
    )

    def __init__(
        self,
        *,
        email: str | None = None,
        token: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        api: Mapping[str, str] | None = None,
        issuer: Issuer | None = None,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
        file_wait: float = 30.0,
        file_poll_interval: float = 1.0,
        journal: JournalStore | str | None = None,
    ) -> None:
        if environment not in _ALLOWED_ENVIRONMENTS:
            raise ConfigurationError(
                f"Alegra has no {environment!r} environment for Mexico (only production); "
                "use apunto_connect.Sandbox() to work offline"
            )
        creds = resolve_credentials(PROVIDER, CREDENTIALS, {"email": email, "token": token})
        self.email = _validated_email(str(creds["email"]))
        secret: Secret = creds["token"]
        self.environment = environment
        self.api = _merged_api(api)
        self.issuer = issuer
        self.file_wait = file_wait
        self.file_poll_interval = max(file_poll_interval, 0.01)
        self._sleep = sleep
        self._clock = clock
        self.rate_limiter = RateLimitBucket(rate_limit, clock=clock, sleep=sleep)
        retry = RetryPolicy() if max_retries is None else RetryPolicy(max_retries=max_retries)
        common: dict[str, Any] = {
            "timeout": timeout or DEFAULT_TIMEOUT,
            "retry": retry,
            "session": session,
            "error_mapper": alegra_error,
            "secrets": (secret.reveal(),),
            "sleep": sleep,
            "clock": clock,
        }
        self.base_url = (base_url or PRODUCTION_URL).rstrip("/")
        self.transport = Transport(
            PROVIDER,
            self.base_url,
            auth=_PacedBasicAuth(self.email, secret, self.rate_limiter),
            **common,
        )
        # File URLs may point at a storage host: never send the account's credentials there.
        self._files = Transport(PROVIDER, self.base_url, auth=None, **common)
        self._cache_lock = threading.Lock()
        self._contacts: dict[tuple[str, str], str] = {}
        self._items: dict[tuple[str, str, str, str], str] = {}
        self._taxes: dict[TaxRef, str] = {}
        self._set_journal(journal)
        self._configured_issuer = issuer
        self._account_rfc: str | None = issuer.rfc if issuer else None

    def __repr__(self) -> str:
        return f"AlegraProvider(email={self.email!r}, base_url={self.base_url!r})"

    def release(self) -> None:
        """Close the connection pools this provider opened."""
        self.transport.close()
        self._files.close()

    # -- low-level I/O -----------------------------------------------------------------------

    def _path(self, key: str, **params: str) -> str:
        # Ids come from callers: quoted, so "1/void" or "../company" cannot reach another path.
        return self.api[key].format(**{k: quote(v, safe="") for k, v in params.items()})

    def _decode(self, response: requests.Response) -> Any:
        if not response.content or not response.content.strip():
            return None
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return self.transport.decode_json(response)  # raises the TransportError

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._decode(self.transport.request("GET", path, params=params))

    def _send_json(
        self, method: str, path: str, body: Any, *, idempotent: bool | None = None
    ) -> Any:
        response = self.transport.request(
            method, path, data=_encode_json(body), headers=_JSON_HEADERS, idempotent=idempotent
        )
        return self._decode(response)

    # -- connection ---------------------------------------------------------------------------

    def check_connection(self) -> ConnectionStatus:
        """Read the company behind the credentials (``GET /company``).

        Refused credentials (401) or an account whose plan has no API access (403) give
        ``ok=False`` with Alegra's message; other failures raise.
        """
        try:
            company = self._get_json(self._path("path.company"))
        except (AuthenticationError, PermissionDenied) as exc:
            return ConnectionStatus(
                provider=PROVIDER, ok=False, environment=self.environment, detail=exc.message
            )
        company = company if isinstance(company, Mapping) else {}
        name = _text(company.get("name"))
        rfc = _text(company.get("identification"))
        if rfc and self._account_rfc is None:
            self._account_rfc = rfc.upper()
        account = " ".join(part for part in (name, f"({rfc})" if rfc else None) if part)
        return ConnectionStatus(
            provider=PROVIDER,
            ok=True,
            account=account or self.email,
            environment=self.environment if self.base_url == PRODUCTION_URL else "custom",
            detail=f"Alegra account {self.email}",
            extra={
                "email": self.email,
                "rfc": rfc,
                "rate_limit_per_minute": self.rate_limiter.limit,
                "rate_limit_remaining": int(self.rate_limiter.tokens),
            },
        )

    # -- validation -------------------------------------------------------------------------------

    def _check(self, invoice: Invoice, prefix: str = "") -> list[Issue]:
        found = [i for i in self.preflight(invoice) if i.severity is Severity.ERROR]
        if prefix:
            found = [attrs.evolve(i, field=f"{prefix}{i.field}") for i in found]
        return found

    # -- catalogs (contacts, items, taxes) ----------------------------------------------------------

    def _ensure_contact(self, customer: Customer) -> str:
        cache_key = (customer.rfc, customer.legal_name)
        with self._cache_lock:
            cached = self._contacts.get(cache_key)
        if cached:
            return cached
        found = self._get_json(
            self._path("path.contacts"), {self.api["query.contact_rfc"]: customer.rfc}
        )
        rows = _rows(found)
        match = next((row for row in rows if contact_matches(row, customer, self.api)), None)
        body = customer_to_alegra(customer, self.api)
        if match is None:
            created = self._send_json("POST", self._path("path.contacts"), body)
            contact_id = str(_get(created, "id"))
        else:
            contact_id = str(_get(match, "id"))
            if not contact_is_current(match, customer, self.api):
                # The SAT compares régimen and postal code: the contact must carry today's.
                self._send_json(
                    "PUT", self._path("path.contact", id=contact_id), body, idempotent=True
                )
        with self._cache_lock:
            self._contacts[cache_key] = contact_id
        return contact_id

    def _load_tax_catalogs(self) -> list[tuple[bool, Mapping[str, Any]]]:
        entries: list[tuple[bool, Mapping[str, Any]]] = []
        for withholding, key in ((False, "path.taxes"), (True, "path.retentions")):
            entries.extend((withholding, row) for row in _rows(self._get_json(self._path(key))))
        return entries

    def _ensure_taxes(self, refs: Iterable[TaxRef]) -> dict[TaxRef, str]:
        wanted = list(dict.fromkeys(refs))
        with self._cache_lock:
            missing = [ref for ref in wanted if ref not in self._taxes]
        if missing:
            catalog = self._load_tax_catalogs()
            for ref in missing:
                entry = next(
                    (
                        row
                        for withholding, row in catalog
                        if withholding == ref.withholding and alegra_tax_matches(row, ref, self.api)
                    ),
                    None,
                )
                if entry is None:
                    key = "path.retentions" if ref.withholding else "path.taxes"
                    entry = self._send_json("POST", self._path(key), tax_to_alegra(ref, self.api))
                    catalog.append((ref.withholding, entry))
                with self._cache_lock:
                    self._taxes[ref] = str(_get(entry, "id"))
        with self._cache_lock:
            return {ref: self._taxes[ref] for ref in wanted}

    def _ensure_item(self, item: LineItem, currency: str) -> str:
        cache_key = (item.product_code, item.product_name, item.unit_code, item.sku or "")
        with self._cache_lock:
            cached = self._items.get(cache_key)
        if cached:
            return cached
        found = self._get_json(
            self._path("path.items"), {self.api["query.item_search"]: item.product_name}
        )
        match = next((row for row in _rows(found) if item_matches(row, item, self.api)), None)
        if match is None:
            match = self._send_json(
                "POST", self._path("path.items"), line_to_alegra_item(item, currency, self.api)
            )
        item_id = str(_get(match, "id"))
        with self._cache_lock:
            self._items[cache_key] = item_id
        return item_id

    def _prepare(self, invoice: Invoice) -> tuple[str, list[str], dict[TaxRef, str]]:
        client_id = self._ensure_contact(invoice.customer)
        tax_ids = self._ensure_taxes(tax_ref(t) for item in invoice.items for t in item.taxes)
        item_ids = [self._ensure_item(item, invoice.currency) for item in invoice.items]
        return client_id, item_ids, tax_ids

    def _today(self) -> date:
        return datetime.now(_mexico_tz()).date()

    # -- stamping -----------------------------------------------------------------------------------

    def _journal_account(self) -> str:
        return self.email

    def _vendor_issues(self, invoice: Invoice) -> list[Issue]:
        return _alegra_issues(invoice)

    def _prepare_stamp(self, invoice: Invoice) -> tuple[str, list[str], dict[TaxRef, str]]:
        """Register what is missing (contact, taxes, items) and return their Alegra ids."""
        return self._prepare(invoice)

    def _send_stamp(self, attempt: StampAttempt, prepared: Any) -> StampedInvoice:
        """Create and stamp in one ``POST /invoices``.

        The key travels as a marker in the internal observations, so :meth:`_find_existing`
        can find the invoice again.
        """
        client_id, item_ids, tax_ids = prepared
        body = invoice_to_alegra(
            attempt.invoice,
            client_id=client_id,
            item_ids=item_ids,
            tax_ids=tax_ids,
            issued_on=self._today(),
            idempotency_key=attempt.key,
            api=self.api,
        )
        if attempt.key is not None:
            attempt.remember(marker=idempotency_marker(attempt.key))
        attempt.sending()
        data = self._send_json("POST", self._path("path.invoices"), body, idempotent=False)
        stamped = self._to_stamped(data)
        if stamped.uuid is None:
            raise StampRejected(
                _text(_get(data, "stamp.message")) or "Alegra saved the invoice without a stamp",
                provider=PROVIDER,
                details=data if isinstance(data, Mapping) else None,
            )
        return stamped

    def _can_find(self, attempt: StampAttempt) -> bool:
        return attempt.key is not None  # the marker comes from the key

    def _find_existing(self, attempt: StampAttempt) -> StampedInvoice | None:
        """The invoice carrying the key's marker; a saved draft of it is stamped now."""
        assert attempt.key is not None
        previous = self._find_by_key(attempt.key)
        return None if previous is None else self._finish_previous(previous)

    def _to_stamped(self, data: Any) -> StampedInvoice:
        if not isinstance(data, Mapping) or _get(data, self.api["answer.id"]) is None:
            raise TransportError(
                f"{PROVIDER}: the answer carries no invoice: {str(data)[:200]!r}",
                provider=PROVIDER,
                request_sent=True,
            )
        return alegra_to_stamped(data, issuer_rfc=self._account_rfc, api=self.api)

    def _find_by_key(self, key: str) -> Mapping[str, Any] | None:
        """The invoice carrying the idempotency marker of ``key`` among the newest ones."""
        marker = idempotency_marker(key)
        for page in range(_LOOKUP_PAGES):
            rows, total = self._list_page(
                {
                    self.api["query.order_field"]: "id",
                    self.api["query.order_direction"]: "DESC",
                },
                start=page * MAX_PAGE_SIZE,
                limit=MAX_PAGE_SIZE,
            )
            for row in rows:
                if marker in (_text(_get(row, self.api["invoice.observations"])) or ""):
                    return row
            if len(rows) < MAX_PAGE_SIZE or (total is not None and (page + 1) * MAX_PAGE_SIZE >= total):
                break
        return None

    def _finish_previous(self, row: Mapping[str, Any]) -> StampedInvoice:
        found = self._to_stamped(row)
        if found.uuid is None and found.status is InvoiceStatus.DRAFT:
            # The create was saved but its stamp never happened (or never answered).
            outcome = self._stamp_ids([found.id])[found.id]
            if isinstance(outcome, ApuntoError):
                raise outcome
            found = outcome
        return found

    def stamp_many(
        self, invoices: Sequence[Invoice], *, idempotency_keys: Sequence[str] | None = None
    ) -> list[StampOutcome]:
        """Create drafts, then stamp them with ``POST /invoices/stamp`` in batches of 10.

        Every invoice is validated first; one invalid invoice stops the whole call before any
        network request (the :class:`ValidationError` names ``[index].field``). Each outcome
        says whether its invoice was stamped; a batch whose answer was lost is looked up invoice
        by invoice and never sent again.
        """
        self.require(Capability.STAMP_MANY)
        if idempotency_keys is not None and len(idempotency_keys) != len(invoices):
            raise ValueError("one idempotency key per invoice, or none")
        issues: list[Issue] = []
        for index, invoice in enumerate(invoices):
            issues.extend(self._check(invoice, prefix=f"[{index}]."))
        if issues:
            raise ValidationError(issues)
        outcomes: dict[int, StampOutcome] = {}
        drafts: list[tuple[int, str]] = []
        for index, invoice in enumerate(invoices):
            key = idempotency_keys[index] if idempotency_keys is not None else None
            try:
                client_id, item_ids, tax_ids = self._prepare(invoice)
                body = invoice_to_alegra(
                    invoice,
                    client_id=client_id,
                    item_ids=item_ids,
                    tax_ids=tax_ids,
                    issued_on=self._today(),
                    idempotency_key=key,
                    stamp=False,
                    api=self.api,
                )
                created = self._send_json("POST", self._path("path.invoices"), body)
                drafts.append((index, self._to_stamped(created).id))
            except (ProviderError, TransportError) as exc:
                outcomes[index] = StampOutcome(index, None, error=exc)
        for start in range(0, len(drafts), MAX_STAMP_BATCH):
            batch = drafts[start : start + MAX_STAMP_BATCH]
            results = self._stamp_ids([invoice_id for _, invoice_id in batch])
            for index, invoice_id in batch:
                result = results[invoice_id]
                if isinstance(result, StampedInvoice):
                    outcomes[index] = StampOutcome(index, invoice_id, stamped=result)
                else:
                    outcomes[index] = StampOutcome(index, invoice_id, error=result)
        return [outcomes[index] for index in range(len(invoices))]

    def _stamp_ids(self, ids: Sequence[str]) -> dict[str, StampedInvoice | ApuntoError]:
        """Stamp up to 10 existing invoices; after a lost answer, read each one instead."""
        results: dict[str, StampedInvoice | ApuntoError] = {}
        try:
            answer = self._send_json("POST", self._path("path.stamp"), {"ids": list(ids)})
        except TransportError as exc:
            if not exc.request_sent:
                raise
            for invoice_id in ids:  # whatever Alegra did, reading tells us; resending could not
                try:
                    found = self.get(invoice_id)
                except (ProviderError, TransportError) as error:
                    results[invoice_id] = error
                    continue
                results[invoice_id] = found if found.uuid else exc
            return results
        except ProviderError as exc:
            return dict.fromkeys(ids, exc)
        entries = {str(_get(e, "id")): e for e in _rows(answer) if isinstance(e, Mapping)}
        for invoice_id in ids:
            entry = entries.get(invoice_id)
            if entry is None or not entry.get("success"):
                results[invoice_id] = stamp_result_error(entry or {"id": invoice_id})
                continue
            try:
                results[invoice_id] = self.get(invoice_id)
            except (ProviderError, TransportError) as error:
                results[invoice_id] = error
        return results

    # -- reading ------------------------------------------------------------------------------------

    def _resolve_id(self, ref: str) -> str:
        ref = ref.strip()
        if not _UUID.match(ref):
            return ref
        wanted = ref.upper()
        for page in range(_UUID_SCAN_PAGES):
            rows, total = self._list_page({}, start=page * MAX_PAGE_SIZE, limit=MAX_PAGE_SIZE)
            for row in rows:
                if (_text(_get(row, self.api["answer.uuid"])) or "").upper() == wanted:
                    return str(_get(row, self.api["answer.id"]))
            if len(rows) < MAX_PAGE_SIZE or (total is not None and (page + 1) * MAX_PAGE_SIZE >= total):
                break
        raise NotFound(
            f"no Alegra invoice with UUID {wanted} among the newest "
            f"{_UUID_SCAN_PAGES * MAX_PAGE_SIZE}; use Alegra's invoice id",
            provider=PROVIDER,
        )

    def get(self, ref: str) -> StampedInvoice:
        """Fetch an invoice by Alegra id (or by UUID, searched among the newest 300)."""
        self.require(Capability.GET)
        invoice_id = self._resolve_id(ref)
        return self._to_stamped(self._get_json(self._path("path.invoice", id=invoice_id)))

    def file_urls(self, ref: str) -> dict[str, str]:
        """The XML and PDF URLs Alegra reports now (empty while they are being generated)."""
        self.require(Capability.GET)
        invoice_id = self._resolve_id(ref)
        data = self._get_json(
            self._path("path.invoice", id=invoice_id), {self.api["query.fields"]: "pdf,xml"}
        )
        urls = {}
        for fmt in ("xml", "pdf"):
            value = _text(_get(data, self.api[f"answer.{fmt}"]))
            if value:
                urls[fmt] = value
        return urls

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """Download the XML or PDF, waiting up to ``file_wait`` seconds for Alegra to make it."""
        if fmt not in ("xml", "pdf"):
            raise ValidationError(f"unknown format {fmt!r}; use 'xml' or 'pdf'", field="fmt")
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        invoice_id = self._resolve_id(ref)
        deadline = self._clock() + self.file_wait
        attempts = int(self.file_wait / self.file_poll_interval) + 2
        for _ in range(attempts):
            url = self.file_urls(invoice_id).get(fmt)
            if url:
                return self._fetch_file(url, fmt)
            if self._clock() >= deadline:
                break
            self._sleep(self.file_poll_interval)
        raise Timeout(
            f"{PROVIDER}: the {fmt.upper()} of invoice {invoice_id} was not ready after "
            f"{self.file_wait:g}s",
            provider=PROVIDER,
            request_sent=False,
        )

    def _fetch_file(self, url: str, fmt: str) -> bytes:
        absolute = url if urlsplit(url).scheme else self.transport.url(url)
        same_origin = absolute.lower().startswith(self.base_url.lower() + "/")
        transport = self.transport if same_origin else self._files
        response = transport.request("GET", absolute, headers={"Accept": "*/*"})
        content = response.content
        head = content[:1024].lstrip()
        looks_right = head.startswith(b"%PDF") if fmt == "pdf" else head.startswith(b"<")
        if not looks_right or head.lower().startswith((b"<!doctype html", b"<html")):
            raise TransportError(
                f"{PROVIDER}: the {fmt.upper()} URL answered something else "
                f"({response.headers.get('Content-Type', 'no content type')})",
                provider=PROVIDER,
                request_sent=True,
            )
        return content

    # -- cancelling ---------------------------------------------------------------------------------

    def _cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None
    ) -> Cancellation:
        """Void the invoice at Alegra, which cancels it at the SAT.

        How Alegra takes the SAT motive and the replacement UUID is **not public**: they are
        sent as ``cancel.motive``/``cancel.replacement`` of :data:`ALEGRA_API`. After a lost
        answer the invoice is read back, so a repeated call never voids twice.
        """
        self.require(Capability.CANCEL)
        issues = [i for i in validate_cancellation(motive, replacement_uuid) if i.severity is Severity.ERROR]
        if issues:
            raise ValidationError(issues)
        motive = CancelMotive(motive)
        if not motive.requires_replacement:
            replacement_uuid = None  # only motive 01 carries one (the SAT ignores it otherwise)
        invoice_id = self._resolve_id(ref)
        body = cancel_to_alegra(motive, replacement_uuid, self.api)
        try:
            data = self._send_json("POST", self._path("path.void", id=invoice_id), body)
        except TransportError as exc:
            if not exc.request_sent:
                raise
            data = self._get_json(self._path("path.invoice", id=invoice_id))
            if (_text(_get(data, self.api["answer.status"])) or "").lower() not in ("void", "voided"):
                raise
        if not isinstance(data, Mapping):
            data = self._get_json(self._path("path.invoice", id=invoice_id))
        return alegra_to_cancellation(
            data if isinstance(data, Mapping) else {},
            ref=invoice_id,
            motive=motive,
            replacement_uuid=replacement_uuid.upper() if replacement_uuid else None,
            api=self.api,
        )

    # -- listing ------------------------------------------------------------------------------------

    def _list_page(
        self, params: Mapping[str, Any], *, start: int, limit: int
    ) -> tuple[list[Mapping[str, Any]], int | None]:
        query = {
            **params,
            self.api["query.start"]: start,
            self.api["query.limit"]: limit,
            self.api["query.metadata"]: "true",
        }
        answer = self._get_json(self._path("path.invoices"), query)
        total = None
        if isinstance(answer, Mapping):
            total_value = _get(answer, "metadata.total")
            total = int(total_value) if isinstance(total_value, int | Decimal | str) else None
        return [row for row in _rows(answer) if isinstance(row, Mapping)], total

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Iterate lazily over invoices, newest pages fetched only when needed.

        Filters: ``status`` (an :class:`InvoiceStatus` or Alegra's ``draft``/``open``/
        ``closed``/``void``), ``date_start`` and ``date_end`` (dates), ``query`` (free text),
        ``order_field``/``order_direction``, ``page_size`` (1–30) and Alegra's own parameter
        names (``client_id``...); anything else raises :class:`ValidationError`. The same
        filters go with every page.
        """
        self.require(Capability.LIST)
        params, page_size = list_params(filters, self.api)
        return self._iterate(params, page_size)

    def _iterate(self, params: Mapping[str, Any], page_size: int) -> Iterator[StampedInvoice]:
        start = 0
        for _ in range(_MAX_PAGES):
            rows, total = self._list_page(params, start=start, limit=page_size)
            for row in rows:
                yield self._to_stamped(row)
            start += len(rows)
            if len(rows) < page_size or not rows or (total is not None and start >= total):
                return


# -- module helpers ---------------------------------------------------------------------------


def _validated_email(value: str) -> str:
    email = value.strip()
    if not _EMAIL.match(email):
        raise ValidationError(
            [
                Issue(
                    field="email",
                    code="APUNTO-ALEGRA-001",
                    message="the Alegra user name must be the account's e-mail address",
                    message_es="El usuario de Alegra debe ser el correo electrónico de la cuenta",
                )
            ]
        )
    return email


def _rows(answer: Any) -> list[Any]:
    """The rows of a list answer: ``{"data": [...]}`` with metadata, or a bare array."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, Mapping):
        data = answer.get("data")
        if isinstance(data, list):
            return data
    return []


def _alegra_issues(invoice: Invoice) -> list[Issue]:
    """Rules of this integration on top of the SAT's (what Alegra's API cannot take)."""
    issues = []
    if invoice.kind is not InvoiceKind.INCOME:
        issues.append(
            Issue(
                "kind",
                "APUNTO-ALEGRA-010",
                "the Alegra provider issues sales invoices (tipo I) only",
                "Con Alegra solo se emiten facturas de venta (tipo I)",
            )
        )
    if invoice.related:
        issues.append(
            Issue(
                "related",
                "APUNTO-ALEGRA-011",
                "related CFDIs cannot be sent: Alegra's field for them is not public",
                "No se pueden enviar CFDI relacionados: el campo de Alegra no es público",
            )
        )
    if invoice.global_info is not None:
        issues.append(
            Issue(
                "global_info",
                "APUNTO-ALEGRA-012",
                "global invoices cannot be sent: Alegra's field for them is not public",
                "No se pueden enviar facturas globales: el campo de Alegra no es público",
            )
        )
    for index, item in enumerate(invoice.items):
        if item.name is None:
            # The description becomes Alegra's product name: the vendor's 2–50 rule is an error
            # here, not the general warning the SAT pre-flight gives.
            issues.extend(validate_product_name(item.description, field=f"items[{index}].name"))
        for position, tax in enumerate(item.taxes):
            if tax.factor is TaxFactor.QUOTA:
                issues.append(
                    Issue(
                        f"items[{index}].taxes[{position}]",
                        "APUNTO-ALEGRA-021",
                        "Alegra's taxes are percentages: a Cuota (per-unit) tax has no public field",
                        "Los impuestos de Alegra son porcentajes: no hay un campo público para "
                        "un impuesto por cuota",
                    )
                )
    return issues


def _as_date_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_LIST_FILTERS = {
    # our name -> key of the Alegra query parameter in the API table
    "status": "query.status",
    "query": "query.text",
    "date_start": "query.date_after",
    "date_end": "query.date_before",
    "date_from": "query.date_after",
    "date_to": "query.date_before",
    "order_field": "query.order_field",
    "order_direction": "query.order_direction",
}
_RAW_LIST_PARAMS = frozenset({"client_id"})


def list_params(
    filters: Mapping[str, Any], api: Mapping[str, str] = ALEGRA_API
) -> tuple[dict[str, Any], int]:
    """Alegra query parameters and page size for our ``list()`` filters.

    Our names (``status``, ``query``, ``date_start``/``date_end`` — also ``date_from``/
    ``date_to`` —, ``order_field``, ``order_direction``, ``page_size``) and Alegra's own
    parameter names are accepted.

    Raises:
        ValidationError: an unknown filter, or a page size Alegra refuses (1–30).
    """
    remaining = dict(filters)
    page_size = int(remaining.pop("page_size", MAX_PAGE_SIZE))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError(
            f"page_size must be 1-{MAX_PAGE_SIZE} (Alegra's limit), got {page_size}",
            field="page_size",
            code="APUNTO-ALEGRA-030",
        )
    vendor_names = {api[key] for key in _LIST_FILTERS.values()} | _RAW_LIST_PARAMS
    params: dict[str, Any] = {}
    unknown = []
    for name, value in remaining.items():
        if value is None:
            continue
        key = _LIST_FILTERS.get(name)
        target = api[key] if key else (name if name in vendor_names else None)
        if target is None:
            unknown.append(name)
            continue
        if isinstance(value, InvoiceStatus):
            value = _status_to_alegra(value)
        elif isinstance(value, date | datetime):
            value = _as_date_text(value)
        params[target] = value
    if unknown:
        raise ValidationError(
            f"unknown Alegra list filter(s) {', '.join(sorted(unknown))}; known: "
            + ", ".join(sorted({*_LIST_FILTERS, "page_size", *sorted(vendor_names)})),
            field="filters",
            code="APUNTO-ALEGRA-031",
        )
    return params, page_size


def _status_to_alegra(status: InvoiceStatus) -> str:
    return {
        InvoiceStatus.DRAFT: "draft",
        InvoiceStatus.ACTIVE: "open",
        InvoiceStatus.CANCELLED: "void",
        InvoiceStatus.CANCEL_PENDING: "void",
        InvoiceStatus.PENDING: "draft",
    }[status]
