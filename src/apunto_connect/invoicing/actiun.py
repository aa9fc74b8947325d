"""Actiun: CFDI sales invoices through the Actiun API, behind the invoicing interface.

Actiun is a Mexican invoicing and accounting web app whose REST API (developers.actiun.com)
creates contacts, products or services (items) and sales invoices, and stamps the invoices as
CFDI. The full client lives in :mod:`apunto_connect.actiun`; this module adapts the SDK's
:class:`~apunto_connect.models.Invoice` to it.

Base URL and auth (public): ``https://api.actiun.com`` (no public test host: ``environment``
only accepts ``"production"``; point ``base_url`` at any compatible server, or use
:class:`apunto_connect.Sandbox`). The account's private key travels in ``Authorization``
exactly as the reference's examples show (no scheme).

How a stamp works here:

1. local pre-flight (:func:`apunto_connect.sat.preflight` plus Actiun's own limits) before any
   request;
2. the customer is found by RFC (``identification``) — the API searches by name only, so the
   contacts named like the customer are looked at first, then every contact — or created;
3. each line's product is found by SKU or name with the same SAT product and unit keys, or
   created;
4. ``POST /invoices`` with the SAT payment form mapped to ``payment_method_code``
   (:data:`~apunto_connect.actiun.spec.SAT_PAYMENT_FORMS`), PUE/PPD, the CFDI use, currency and
   taxes by tax id;
5. while the invoice is ``stamping`` the provider polls (bounded by ``stamp_timeout``, with an
   injectable ``sleep``); ``opened`` (or later) with a SAT UUID is a stamped invoice,
   ``drafted`` without one is :class:`~apunto_connect.errors.StampRejected`.

Never twice: the create is sent once (no retry after the server may have got it). If the
answer is lost (``TransportError`` with ``request_sent=True``), calling :meth:`stamp` again with
the same ``idempotency_key`` first looks for the invoice among those newer than the first attempt (same
customer, lines and total, not claimed by another key) and only creates
it when it is not there. Actiun has no dedupe reference, so with a key the provider notes the
newest invoice id before creating (one extra ``GET /invoices``) and this memory lives in the
provider object.

What the reference does not offer, this provider does not pretend to: there is **no
cancellation** (``cancel`` raises :class:`~apunto_connect.errors.UnsupportedOperation` before any
request, and ``Capability.CANCEL`` is not declared), Actiun assigns the series and number
itself (``Invoice.series``/``folio`` are ignored), and a contact carries no régimen fiscal or
postal code through the API (keep them up to date in Actiun itself).

Assumed (kept in :mod:`apunto_connect.actiun.spec`, the one place to change them): the tax ids
other than 1 (IVA 16 %) and 2 (IVA 0 %) — pass ``tax_ids=`` with your account's ids — and the
line fields ``retentions``, ``description`` and ``discount`` (a percentage).

Sources: the Actiun API reference (developers.actiun.com), the SAT's c_FormaPago catalog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import attrs
import requests

from .._answers import answer_mapper
from ..actiun import spec
from ..actiun.client import CREDENTIALS as CLIENT_CREDENTIALS
from ..actiun.client import ActiunClient
from ..actiun.errors import actiun_error as _client_error
from ..actiun.inputs import LineItemInput
from ..actiun.models import Contact
from ..actiun.models import Invoice as ActiunInvoice
from ..actiun.models import InvoiceStatus as ActiunStatus
from ..credentials import CredentialField, Secret
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    Issue,
    NotFound,
    ProviderError,
    Severity,
    StampRejected,
    TransportError,
    ValidationError,
)
from ..http import TimeoutValue
from ..models.common import Capability, ConnectionStatus
from ..models.invoices import (
    Cancellation,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    PaymentMethod,
    StampedInvoice,
    Tax,
    TaxFactor,
)
from ..models.parties import Customer, Issuer
from ..money import round_money, to_decimal
from .base import DownloadFormat, InvoiceProvider

__all__ = [
    "CREDENTIALS",
    "DEFAULT_TAX_IDS",
    "PROVIDER",
    "STATUS_MAP",
    "ActiunInvoiceProvider",
    "TaxKey",
    "actiun_error",
    "actiun_issues",
    "actiun_to_stamped",
    "invoice_to_actiun",
    "line_to_actiun",
    "tax_key",
]

PROVIDER = "actiun"
CREDENTIALS: tuple[CredentialField, ...] = CLIENT_CREDENTIALS
"""``api_key``: the account's private key (``APUNTO_ACTIUN_API_KEY``)."""

_ENVIRONMENTS = frozenset({"production"})

STATUS_MAP: dict[ActiunStatus, InvoiceStatus] = {
    ActiunStatus.DRAFTED: InvoiceStatus.DRAFT,
    ActiunStatus.STAMPING: InvoiceStatus.PENDING,
    ActiunStatus.OPENED: InvoiceStatus.ACTIVE,
    ActiunStatus.SENT: InvoiceStatus.ACTIVE,
    ActiunStatus.VIEWED: InvoiceStatus.ACTIVE,
    ActiunStatus.PAID: InvoiceStatus.ACTIVE,
    ActiunStatus.PARTIAL: InvoiceStatus.ACTIVE,
    ActiunStatus.VOIDED: InvoiceStatus.CANCELLED,
}
"""Actiun's invoice status -> the SDK's."""

TaxKey = tuple[str, Decimal, bool]
"""``(tax name, rate as a fraction, withholding)``, e.g. ``("IVA", Decimal("0.16"), False)``."""


def tax_key(tax: Tax) -> TaxKey | None:
    """The key to look a tax's Actiun id up by; ``None`` for taxes Actiun cannot take (exempt)."""
    if tax.factor is not TaxFactor.RATE or tax.rate is None:
        return None
    return (tax.kind.value, tax.rate.normalize(), tax.withholding)


def _catalog_tax_ids(catalog: Mapping[int, Mapping[str, object]]) -> dict[TaxKey, int]:
    ids: dict[TaxKey, int] = {}
    for tax_id, entry in catalog.items():
        rate = (to_decimal(entry["percentage"]) / 100).normalize()
        ids.setdefault((str(entry["name"]).upper(), rate, bool(entry["retention"])), tax_id)
    return ids


DEFAULT_TAX_IDS: dict[TaxKey, int] = _catalog_tax_ids(spec.DEFAULT_TAXES)
"""Tax ids from :data:`apunto_connect.actiun.spec.DEFAULT_TAXES` (1 and 2 from the reference,
the rest assumed); override per account with ``tax_ids=``."""


def _issue(field: str, code: str, message: str, message_es: str = "",
           severity: Severity = Severity.ERROR) -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es,
                 severity=severity)


def _discount_percentage(item: LineItem, currency: str) -> Decimal | None:
    """The line's discount as the percentage Actiun takes, if one reproduces it exactly."""
    if not item.discount:
        return Decimal(0)
    amount = round_money(item.quantity * item.unit_price, currency)
    if amount <= 0:
        return None
    for places in (2, 4, 6):
        percentage = (item.discount * 100 / amount).quantize(Decimal(1).scaleb(-places))
        if round_money(amount * percentage / 100, currency) == round_money(item.discount, currency):
            return percentage.normalize()
    return None


def actiun_issues(invoice: Invoice, tax_ids: Mapping[TaxKey, int] = DEFAULT_TAX_IDS) -> list[Issue]:
    """What Actiun cannot take, found without a network call (pure)."""
    issues: list[Issue] = []
    if invoice.kind is not InvoiceKind.INCOME:
        issues.append(_issue("kind", "ACTIUN-KIND",
                             "Actiun's API issues only income invoices (TipoDeComprobante I)",
                             "El API de Actiun solo emite facturas de ingreso"))
    form = invoice.effective_payment_form
    if form not in spec.SAT_PAYMENT_FORMS:
        issues.append(_issue("payment_form", "ACTIUN-PAYMENT-FORM",
                             f"c_FormaPago {form} has no Actiun payment method; use one of "
                             f"{', '.join(sorted(spec.SAT_PAYMENT_FORMS))}",
                             f"La forma de pago {form} no existe en Actiun"))
    elif invoice.effective_payment_method is PaymentMethod.PPD and \
            spec.SAT_PAYMENT_FORMS[form] not in spec.PAYMENT_TYPE_PPD_METHODS:
        issues.append(_issue("payment_form", "ACTIUN-PPD",
                             "with PPD Actiun only admits payment form 99 (Por definir)",
                             "Si el método de pago es PPD solo se admite la forma 99 Por definir"))
    if invoice.currency not in ("MXN", "XXX") and invoice.exchange_rate is None:
        issues.append(_issue("exchange_rate", "ACTIUN-RATE",
                             f"an exchange rate is required for {invoice.currency}",
                             f"se requiere el tipo de cambio para {invoice.currency}"))
    if invoice.series or invoice.folio:
        issues.append(_issue("series", "ACTIUN-SERIES",
                             "Actiun assigns its own series and number; series/folio are ignored",
                             "Actiun asigna su propia serie y folio",
                             severity=Severity.WARNING))
    for index, item in enumerate(invoice.items):
        prefix = f"items[{index}]"
        for position, tax in enumerate(item.taxes):
            key = tax_key(tax)
            if key is None:
                issues.append(_issue(f"{prefix}.taxes[{position}]", "ACTIUN-TAX",
                                     f"Actiun cannot take a {tax.factor.value} {tax.kind.value} tax",
                                     f"Actiun no admite {tax.kind.value} {tax.factor.value}"))
            elif key not in tax_ids:
                kind = "withholding" if tax.withholding else "tax"
                issues.append(_issue(
                    f"{prefix}.taxes[{position}]", "ACTIUN-TAX-ID",
                    f"no Actiun tax id known for {tax.kind.value} {kind} at {tax.rate}; pass "
                    "tax_ids={(name, rate, withholding): id} with your account's ids",
                    f"no se conoce el id del impuesto {tax.kind.value} {tax.rate} en Actiun",
                ))
        if _discount_percentage(item, invoice.currency) is None:
            issues.append(_issue(f"{prefix}.discount", "ACTIUN-DISCOUNT",
                                 "Actiun takes a discount as a percentage of the line and none "
                                 "reproduces this amount exactly",
                                 "Actiun recibe el descuento como porcentaje y ninguno lo "
                                 "reproduce exactamente"))
    return issues


def line_to_actiun(
    item: LineItem,
    item_id: int,
    currency: str,
    tax_ids: Mapping[TaxKey, int] = DEFAULT_TAX_IDS,
    *,
    catalog_description: str | None = None,
) -> LineItemInput:
    """One invoice line for Actiun (pure); taxes and retentions by the account's tax ids."""
    taxes: list[int] = []
    retentions: list[int] = []
    for tax in item.taxes:
        key = tax_key(tax)
        if key is None or key not in tax_ids:
            raise ValidationError(f"no Actiun tax id for {tax}", field="taxes",
                                  code="ACTIUN-TAX-ID")
        (retentions if tax.withholding else taxes).append(tax_ids[key])
    discount = _discount_percentage(item, currency)
    if discount is None:
        raise ValidationError("the discount is not an exact percentage of the line",
                              field="discount", code="ACTIUN-DISCOUNT")
    description = item.description.strip()
    return LineItemInput(
        item_id=item_id,
        price=item.unit_price,
        quantity=item.quantity,
        tax_ids=tuple(taxes),
        retention_ids=tuple(retentions),
        description=None if description == (catalog_description or "").strip() else description,
        discount=discount or None,
    )


def invoice_to_actiun(
    invoice: Invoice,
    client_id: int,
    lines: Sequence[LineItemInput],
    *,
    type_code: str = "FACT",
) -> dict[str, Any]:
    """Keyword arguments for :meth:`apunto_connect.actiun.Invoices.create` (pure)."""
    method = invoice.effective_payment_method
    form = invoice.effective_payment_form
    credit_days = invoice.customer.credit_days
    return {
        "client_id": client_id,
        "line_items": list(lines),
        "payment_method_code": spec.SAT_PAYMENT_FORMS.get(form, form),
        "payment_type_code": method.value,
        "cfdi_use_code": invoice.effective_cfdi_use,
        "currency_code": invoice.currency,
        "exchange_rate": invoice.exchange_rate if invoice.currency != "MXN" else None,
        "date": invoice.issued_at.date() if invoice.issued_at else None,
        "due_offset_days": credit_days if credit_days > 0 else None,
        "type_code": type_code,
        "description": invoice.notes,
    }


def _mexico_tz() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Mexico_City")
    except Exception:  # no tz database: central Mexico has been UTC-6 all year since 2022
        return timezone(timedelta(hours=-6), "CST")


def _local(moment: datetime | None) -> datetime | None:
    """CFDI dates are Mexico local time without a zone."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(_mexico_tz()).replace(tzinfo=None)


@answer_mapper(PROVIDER, "invoice")
def actiun_to_stamped(invoice: ActiunInvoice, provider: str = PROVIDER) -> StampedInvoice:
    """The SDK's view of an Actiun invoice (pure)."""
    if invoice.status is not None:
        status = STATUS_MAP[invoice.status]
    else:  # a status this client does not know: judge by the stamp
        status = InvoiceStatus.ACTIVE if invoice.sat_uuid else InvoiceStatus.PENDING
    issued = datetime.combine(invoice.date, datetime.min.time()) if invoice.date else None
    return StampedInvoice(
        provider=provider,
        id=str(invoice.id),
        uuid=invoice.sat_uuid.upper() if invoice.sat_uuid else None,
        status=status,
        total=invoice.total,
        currency=invoice.currency.code if invoice.currency else None,
        series=invoice.prefix,
        folio=invoice.number,
        customer_rfc=invoice.client.identification if invoice.client else None,
        issued_at=issued,
        stamped_at=_local(invoice.stamp.stamped_date) if invoice.stamp else None,
        raw=invoice.raw,
    )


def actiun_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed Actiun answer to the error tree (the server's message verbatim)."""
    return _client_error(provider, response)


@attrs.define(slots=True)
class _Attempt:
    """What ``stamp`` remembers about one idempotency key."""

    client_id: int
    signature: tuple[tuple[int, Decimal, Decimal], ...]
    total: Decimal
    newest_before: int
    invoice_id: int | None = None


def _signature(lines: Sequence[LineItemInput]) -> tuple[tuple[int, Decimal, Decimal], ...]:
    return tuple(sorted((line.item_id, line.quantity.normalize(), line.price.normalize())
                        for line in lines))


class ActiunInvoiceProvider(InvoiceProvider):
    """Stamp, fetch, download and list CFDI through Actiun (no cancellation in its API).

    Args:
        api_key: the account's private key (else ``APUNTO_ACTIUN_API_KEY`` or the keyring).
        base_url: another Actiun-compatible server.
        environment: only ``"production"`` (Actiun has no public test host).
        session, timeout, max_retries, sleep, clock: transport options (see
            :class:`~apunto_connect.actiun.ActiunClient`).
        issuer: the account owner, for the SAT pre-flight checks that need it.
        tax_ids: ``{(name, rate, withholding): tax_id}`` of the account, merged over
            :data:`DEFAULT_TAX_IDS`.
        type_code: Actiun document type (FACT, ARR, DON, HON).
        stamp_timeout: longest wait, in seconds, for an invoice to leave ``stamping``.
        poll_interval: first wait between polls (grows up to 5 s).
        concurrency: pages fetched at once when scanning (contacts by RFC, UUID look-ups, list).
        client: an :class:`~apunto_connect.actiun.ActiunClient` to use instead of building one.
    """

    name = PROVIDER
    capabilities = frozenset(
        {Capability.STAMP, Capability.GET, Capability.DOWNLOAD_XML, Capability.DOWNLOAD_PDF,
         Capability.LIST}
    )

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        environment: str = "production",
        session: requests.Session | None = None,
        timeout: TimeoutValue | None = None,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        issuer: Issuer | None = None,
        tax_ids: Mapping[TaxKey, int] | None = None,
        type_code: str = "FACT",
        stamp_timeout: float = 120.0,
        poll_interval: float = 2.0,
        concurrency: int = 4,
        client: ActiunClient | None = None,
    ) -> None:
        if environment not in _ENVIRONMENTS:
            raise ConfigurationError(
                f"Actiun has no {environment!r} environment (only production); use base_url= "
                "for another compatible server or apunto_connect.Sandbox() to work offline"
            )
        if type_code not in spec.TYPE_CODES:
            raise ConfigurationError(
                f"type_code {type_code!r} is not one of {', '.join(spec.TYPE_CODES)}"
            )
        self.environment = environment
        self._owns_client = client is None
        self.client = client or ActiunClient(
            api_key, base_url, session=session, timeout=timeout, max_retries=max_retries,
            sleep=sleep, clock=clock, max_workers=max(1, concurrency), provider=PROVIDER,
        )
        self.issuer = issuer
        self.tax_ids: dict[TaxKey, int] = {**DEFAULT_TAX_IDS, **(tax_ids or {})}
        self.type_code = type_code
        self.stamp_timeout = stamp_timeout
        self.poll_interval = poll_interval
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._contacts: dict[str, int] = {}
        self._items: dict[tuple[str, str, str], tuple[int, str | None]] = {}
        self._attempts: dict[str, _Attempt] = {}
        self._uuids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ActiunInvoiceProvider(base_url={self.client.base_url!r})"

    def release(self) -> None:
        """Close the connections and listing threads of the client it built (not a given one)."""
        if self._owns_client:
            self.client.close()

    # -- connection ---------------------------------------------------------------------------

    def check_connection(self) -> ConnectionStatus:
        """Read the first page of contacts; refused credentials give ``ok=False``."""
        try:
            page = self.client.contacts.page(1)
        except AuthenticationError as exc:
            return ConnectionStatus(provider=PROVIDER, ok=False, environment=self._environment(),
                                    detail=exc.message)
        return ConnectionStatus(
            provider=PROVIDER,
            ok=True,
            environment=self._environment(),
            detail=f"Actiun API at {self.client.base_url}",
            extra={"contacts": page.total, "per_page": page.per_page},
        )

    def _environment(self) -> str:
        return self.environment if self.client.base_url == spec.DEFAULT_BASE_URL else "custom"

    # -- validation ---------------------------------------------------------------------------

    def preflight(self, invoice: Invoice) -> list[Issue]:
        """Every problem the SAT or Actiun would certainly reject, without a network call."""
        from ..sat import preflight

        issues = list(preflight(invoice, self.issuer))
        issues.extend(actiun_issues(invoice, self.tax_ids))
        return issues

    def _check(self, invoice: Invoice) -> None:
        errors = [i for i in self.preflight(invoice) if i.severity is Severity.ERROR]
        if errors:
            raise ValidationError(errors)

    # -- stamping -----------------------------------------------------------------------------

    def stamp(self, invoice: Invoice, *, idempotency_key: str | None = None) -> StampedInvoice:
        """Create the invoice in Actiun, wait while it is stamping, return it stamped.

        Raises:
            ValidationError: (before any request) the pre-flight found problems.
            StampRejected: Actiun left the invoice ``drafted`` without a SAT stamp.
            Timeout: still ``stamping`` after ``stamp_timeout`` (call :meth:`get` later, or
                :meth:`stamp` again with the same ``idempotency_key``).
            TransportError: the answer to the create was lost; with an ``idempotency_key``
                a second :meth:`stamp` finds the invoice instead of creating another.
        """
        self.require(Capability.STAMP)
        self._check(invoice)
        if idempotency_key:
            with self._lock:
                attempt = self._attempts.get(idempotency_key)
            if attempt is not None:
                if attempt.invoice_id is None:
                    attempt.invoice_id = self._recover(attempt)
                if attempt.invoice_id is not None:
                    return self._finish(self.client.invoices.get(attempt.invoice_id))
        client_id = self._ensure_contact(invoice.customer)
        lines = [self._line(item, invoice.currency) for item in invoice.items]
        arguments = invoice_to_actiun(invoice, client_id, lines, type_code=self.type_code)
        # With a key, remember the newest invoice id first: a lost create can then only be an
        # invoice with a higher id (ids grow; no clock of ours or the server's is trusted).
        newest = self._newest_invoice_id() if idempotency_key else 0
        attempt = _Attempt(client_id=client_id, signature=_signature(lines),
                           total=invoice.total, newest_before=newest)
        try:
            created = self.client.invoices.create(**arguments)
        except TransportError as exc:
            if exc.request_sent and idempotency_key:
                with self._lock:
                    self._attempts[idempotency_key] = attempt
            raise
        if idempotency_key:
            attempt.invoice_id = created.id
            with self._lock:
                self._attempts[idempotency_key] = attempt
        return self._finish(created)

    def _finish(self, invoice: ActiunInvoice) -> StampedInvoice:
        settled = self.client.invoices.wait_while_stamping(
            invoice, timeout=self.stamp_timeout, interval=self.poll_interval
        )
        if not settled.sat_uuid:
            status = settled.status_text or "unknown"
            raise StampRejected(
                f"Actiun left invoice {settled.id} as '{status}' without a SAT stamp; open it "
                "in Actiun to see why",
                provider=PROVIDER,
                details={"invoice_id": settled.id, "status": status},
            )
        with self._lock:
            self._uuids[settled.sat_uuid.upper()] = settled.id
        return actiun_to_stamped(settled)

    def _newest_invoice_id(self) -> int:
        page = self.client.invoices.page(1, order_field="id", order_direction="DESC")
        return max((invoice.id for invoice in page.items), default=0)

    def _recover(self, attempt: _Attempt) -> int | None:
        """The id of the invoice a lost create made, if it exists.

        It is newer than the attempt, has the same customer, lines and total, and no other key
        claimed it.
        """
        with self._lock:
            claimed = {a.invoice_id for a in self._attempts.values() if a.invoice_id}
        newest_first = self.client.invoices.list(order_field="id", order_direction="DESC")
        for candidate in newest_first:
            if candidate.id <= attempt.newest_before:
                return None
            if candidate.id in claimed or not candidate.client or \
                    candidate.client.id != attempt.client_id:
                continue
            lines = tuple(sorted(
                (line.item_id or 0, (line.quantity or Decimal(0)).normalize(),
                 (line.price or Decimal(0)).normalize())
                for line in candidate.line_items
            ))
            if lines == attempt.signature and candidate.total == attempt.total:
                return candidate.id
        return None

    # -- catalog ------------------------------------------------------------------------------

    def _ensure_contact(self, customer: Customer) -> int:
        with self._lock:
            cached = self._contacts.get(customer.rfc)
        if cached is not None:
            return cached
        contacts = self.client.contacts
        found: Contact | None = contacts.find_by_identification(
            customer.rfc, name_hint=customer.legal_name, concurrency=self.concurrency
        )
        if found is None:
            found = contacts.create(customer.legal_name, customer.rfc,
                                    billing_address_email=customer.email)
        elif (found.name or "").strip().upper() != customer.legal_name:
            # The CFDI carries the contact's name; the SAT compares it with its records.
            found = contacts.update(found.id, name=customer.legal_name)
        with self._lock:
            self._contacts[customer.rfc] = found.id
        return found.id

    def _line(self, item: LineItem, currency: str) -> LineItemInput:
        item_id, description = self._ensure_item(item)
        return line_to_actiun(item, item_id, currency, self.tax_ids,
                              catalog_description=description)

    def _ensure_item(self, item: LineItem) -> tuple[int, str | None]:
        name = item.product_name
        key = (item.sku or name.casefold(), item.product_code, item.unit_code)
        with self._lock:
            cached = self._items.get(key)
        if cached is not None:
            return cached
        for candidate in self.client.items.list(query=name):
            same_product = (
                (candidate.sku == item.sku) if item.sku
                else (candidate.name or "").strip().casefold() == name.casefold()
            )
            keys = (
                candidate.product_key.value if candidate.product_key else None,
                candidate.unit_key.value if candidate.unit_key else None,
            )
            if same_product and keys == (item.product_code, item.unit_code):
                found = (candidate.id, candidate.description)
                break
        else:
            created = self.client.items.create(
                name, item.unit_price, item.product_code, item.unit_code,
                units=item.unit_name, description=item.description, sku=item.sku,
            )
            found = (created.id, created.description)
        with self._lock:
            self._items[key] = found
        return found

    # -- reading ------------------------------------------------------------------------------

    def _invoice(self, ref: str) -> ActiunInvoice:
        text = str(ref).strip()
        if text.isdigit():
            return self.client.invoices.get(int(text))
        wanted = text.upper()
        with self._lock:
            known = self._uuids.get(wanted)
        if known is not None:
            return self.client.invoices.get(known)
        for candidate in self.client.invoices.list(order_field="created_at",
                                                   order_direction="DESC",
                                                   concurrency=self.concurrency):
            if (candidate.sat_uuid or "").upper() == wanted:
                return candidate
        raise NotFound(f"no Actiun invoice with id or UUID {ref!r}", provider=PROVIDER,
                       status_code=404)

    def get(self, ref: str) -> StampedInvoice:
        """Fetch by Actiun id, or by SAT UUID (scans the invoices, newest first)."""
        self.require(Capability.GET)
        return actiun_to_stamped(self._invoice(ref))

    def download(self, ref: str, fmt: DownloadFormat) -> bytes:
        """The CFDI XML or the PDF, from the invoice's attachments."""
        self.require(Capability.DOWNLOAD_XML if fmt == "xml" else Capability.DOWNLOAD_PDF)
        return self.client.invoices.download(self._invoice(ref), fmt)

    def list(self, **filters: Any) -> Iterator[StampedInvoice]:
        """Every invoice, lazily.

        Filters: ``order_field`` (id, date, due_at, status, created_at), ``order_direction``
        (ASC, DESC), ``concurrency`` (pages at once), ``max_pages``.
        """
        self.require(Capability.LIST)
        unknown = set(filters) - {"order_field", "order_direction", "concurrency", "max_pages"}
        if unknown:
            raise ValidationError(f"unknown filters {sorted(unknown)}; Actiun lists by "
                                  "order_field, order_direction", field="filters")
        options = {"concurrency": self.concurrency, **filters}
        invoices = self.client.invoices.list(**options)  # validates before the first request
        return (actiun_to_stamped(invoice) for invoice in invoices)

    def cancel(
        self, ref: str, motive: CancelMotive, replacement_uuid: str | None = None
    ) -> Cancellation:
        """Not offered by Actiun's API: raises before any request."""
        self.require(Capability.CANCEL, "Actiun's API has no cancellation; cancel the CFDI in "
                                        "the Actiun web app.")
        raise AssertionError("unreachable")  # pragma: no cover
