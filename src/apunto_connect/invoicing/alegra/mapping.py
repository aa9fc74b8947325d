"""Alegra ↔ our models: pure functions, no I/O, no vendor rules raised.

Every field name comes from a spec (:data:`~.spec.SPEC` by default, a provider passes its own
``self.spec``). Alegra's own rules on what it can take are pre-flight issues of the provider
(``_vendor_issues``), never raised here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from ..._answers import answer_mapper, cancellation_answer
from ..._wire import mexico_wall, text_or_none
from ...errors import ConfigurationError, Issue, ValidationError
from ...models.invoices import (
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
from ...models.parties import Customer
from ...money import quantize, round_money
from ...sat import validate_product_name
from .spec import SPEC

__all__ = [
    "PROVIDER",
    "TaxRef",
    "alegra_issues",
    "alegra_regime",
    "alegra_tax_matches",
    "alegra_to_cancellation",
    "alegra_to_stamped",
    "alegra_unit",
    "answer_rows",
    "cancel_to_alegra",
    "contact_is_current",
    "contact_matches",
    "customer_to_alegra",
    "idempotency_marker",
    "invoice_to_alegra",
    "item_matches",
    "line_to_alegra_item",
    "list_params",
    "tax_ref",
    "tax_to_alegra",
]

PROVIDER = "alegra"
_MARKER_PREFIX = "[apunto-idempotency-key:"


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


_text = text_or_none


def _decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _parse_datetime(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return mexico_wall(moment)


def _status(raw: str, spec: Mapping[str, Any]) -> InvoiceStatus | None:
    """Our status for an invoice status of Alegra (``voided`` is read like ``void``)."""
    table = {
        spec["value.status.draft"]: InvoiceStatus.DRAFT,
        spec["value.status.open"]: InvoiceStatus.ACTIVE,
        spec["value.status.closed"]: InvoiceStatus.ACTIVE,
        spec["value.status.void"]: InvoiceStatus.CANCELLED,
        "voided": InvoiceStatus.CANCELLED,
    }
    return table.get(raw)


def _is_void(raw: str, spec: Mapping[str, Any]) -> bool:
    return _status(raw, spec) is InvoiceStatus.CANCELLED


# The cancellation states are assumed (``field.answer.cancel_status``): read in either spelling.
_CANCEL_STATUS_FROM_ALEGRA = {
    "cancelled": CancellationStatus.CANCELLED,
    "canceled": CancellationStatus.CANCELLED,
    "requested": CancellationStatus.REQUESTED,
    "pending": CancellationStatus.PENDING,
    "rejected": CancellationStatus.REJECTED,
}


def answer_rows(answer: Any, spec: Mapping[str, Any] = SPEC) -> list[Any]:
    """The rows of a list answer: ``{"data": [...]}`` with metadata, or a bare array."""
    if isinstance(answer, list):
        return answer
    if isinstance(answer, Mapping):
        data = _get(answer, spec["field.answer.rows"])
        if isinstance(data, list):
            return data
    return []


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


def tax_to_alegra(ref: TaxRef, spec: Mapping[str, Any] = SPEC) -> dict[str, Any]:
    """The body that creates ``ref`` in Alegra's tax (or retention) catalog."""
    body: dict[str, Any] = {}
    _put(body, spec["field.tax.name"], ref.label)
    _put(body, spec["field.tax.type"], ref.kind.value)
    _put(body, spec["field.tax.factor"], ref.factor.value)
    _put(
        body,
        spec["field.tax.percentage"],
        ref.percentage if ref.percentage is not None else Decimal(0),
    )
    return body


def alegra_tax_matches(entry: Mapping[str, Any], ref: TaxRef, spec: Mapping[str, Any]) -> bool:
    """Tell whether an Alegra catalog entry is the tax ``ref`` (a missing factor means Tasa)."""
    kind = _text(_get(entry, spec["field.tax.type"]))
    if kind is None or kind.upper() != ref.kind.value:
        return False
    factor = _text(_get(entry, spec["field.tax.factor"])) or TaxFactor.RATE.value
    if factor.lower() != ref.factor.value.lower():
        return False
    if ref.factor is TaxFactor.EXEMPT:
        return True
    percentage = _decimal_or_none(_get(entry, spec["field.tax.percentage"]))
    return percentage is not None and ref.percentage is not None and percentage == ref.percentage


def alegra_regime(code: str, spec: Mapping[str, Any] = SPEC) -> str | None:
    """Alegra's name for the SAT régimen ``code`` (``None`` when no source names it).

    The names two integrations agree on are read first, so a flow relies on the one-source
    table (an assumption) only for the codes it alone names.
    """
    code = code.strip()
    agreed: Mapping[str, str] = spec["value.contact.regime_names"]
    if code in agreed:
        return agreed[code]
    one_source: Mapping[str, str] = spec["value.contact.regime_names_one_source"]
    return one_source.get(code)


def customer_to_alegra(customer: Customer, spec: Mapping[str, Any] = SPEC) -> dict[str, Any]:
    """The contact body for ``customer`` (a client with its SAT data).

    The régimen goes as Alegra's name for it, both in ``regime`` and in the list
    ``regimeObject`` (the pre-flight refuses a régimen without a known name).
    """
    body: dict[str, Any] = {}
    _put(body, spec["field.contact.name"], customer.legal_name)
    _put(body, spec["field.contact.rfc"], customer.rfc)
    regime = alegra_regime(customer.tax_regime, spec) or customer.tax_regime
    _put(body, spec["field.contact.regime"], regime)
    _put(body, spec["field.contact.regime_list"], [regime])
    _put(body, spec["field.contact.zip"], customer.zip_code)
    _put(body, spec["field.contact.type"], [spec["value.contact.client"]])
    if customer.email:
        _put(body, spec["field.contact.email"], customer.email)
    return body


def contact_matches(entry: Mapping[str, Any], customer: Customer, spec: Mapping[str, Any]) -> bool:
    """Tell whether an Alegra contact is ``customer`` (same RFC and same name)."""
    rfc = (_text(_get(entry, spec["field.contact.rfc"])) or "").upper()
    name = " ".join((_text(_get(entry, spec["field.contact.name"])) or "").upper().split())
    return rfc == customer.rfc and name == customer.legal_name


def contact_is_current(
    entry: Mapping[str, Any], customer: Customer, spec: Mapping[str, Any]
) -> bool:
    """Tell whether a matching contact already carries the customer's régimen and postal code."""
    regime = alegra_regime(customer.tax_regime, spec) or customer.tax_regime
    return (
        _text(_get(entry, spec["field.contact.regime"])) == regime
        and _text(_get(entry, spec["field.contact.zip"])) == customer.zip_code
    )


def alegra_unit(unit_code: str, spec: Mapping[str, Any] = SPEC) -> str:
    """Alegra's unit word for the SAT ClaveUnidad ``unit_code`` (``"unit"`` when unpaired)."""
    word: str = spec["value.item.unit_by_sat_code"].get(unit_code.strip().upper(), "unit")
    return word


def line_to_alegra_item(
    item: LineItem, currency: str = "MXN", spec: Mapping[str, Any] = SPEC
) -> dict[str, Any]:
    """The catalog item body for one invoice line (name, SAT product key and unit)."""
    body: dict[str, Any] = {}
    _put(body, spec["field.item.name"], item.product_name)
    _put(body, spec["field.item.description"], item.description)
    _put(body, spec["field.item.price"], round_money(item.unit_price, currency))
    _put(body, spec["field.item.product_key"], item.product_code)
    _put(body, spec["field.item.unit_key"], item.unit_code)
    # Alegra names an item's unit with one of its own words (inventory.unit), not free text.
    _put(body, spec["field.item.unit_name"], alegra_unit(item.unit_code, spec))
    if item.sku:
        _put(body, spec["field.item.reference"], item.sku)
    return body


def item_matches(entry: Mapping[str, Any], item: LineItem, spec: Mapping[str, Any]) -> bool:
    """Tell whether an Alegra item is the catalog entry for ``item``."""
    same_key = _text(_get(entry, spec["field.item.product_key"])) == item.product_code
    same_name = _text(_get(entry, spec["field.item.name"])) == item.product_name
    same_unit = _text(_get(entry, spec["field.item.unit_key"])) in (None, item.unit_code)
    same_sku = item.sku is None or _text(_get(entry, spec["field.item.reference"])) == item.sku
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
    spec: Mapping[str, Any] = SPEC,
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
        spec: the vendor spec (field names).
    """
    if len(item_ids) != len(invoice.items):
        raise ValueError("one Alegra item id per invoice line is needed")
    currency = invoice.currency
    when = invoice.issued_at.date() if invoice.issued_at else issued_on
    body: dict[str, Any] = {}
    _put(body, spec["field.invoice.date"], when.isoformat())
    _put(
        body,
        spec["field.invoice.due_date"],
        (when + timedelta(days=invoice.customer.credit_days)).isoformat(),
    )
    _put(body, spec["field.invoice.client"], client_id)
    lines = []
    for item, item_id in zip(invoice.items, item_ids, strict=True):
        line: dict[str, Any] = {}
        _put(line, spec["field.line.id"], item_id)
        _put(line, spec["field.line.price"], item.unit_price)
        _put(line, spec["field.line.quantity"], item.quantity)
        _put(line, spec["field.line.description"], item.description)
        discount = _discount_percentage(item, currency)
        if discount:
            _put(line, spec["field.line.discount"], discount)
        ref_id = spec["field.ref.id"]
        transferred = [{ref_id: tax_ids[tax_ref(t)]} for t in item.taxes if not t.withholding]
        withheld = [{ref_id: tax_ids[tax_ref(t)]} for t in item.taxes if t.withholding]
        if transferred:
            _put(line, spec["field.line.taxes"], transferred)
        if withheld:
            _put(line, spec["field.line.retentions"], withheld)
        lines.append(line)
    _put(body, spec["field.invoice.items"], lines)
    if invoice.series:
        _put(body, spec["field.invoice.series"], invoice.series)
    if invoice.folio:
        _put(body, spec["field.invoice.folio"], invoice.folio)
    _put(body, spec["field.invoice.currency"], currency)
    if invoice.exchange_rate is not None:
        _put(body, spec["field.invoice.exchange_rate"], invoice.exchange_rate)
    _put(body, spec["field.invoice.payment_form"], invoice.effective_payment_form)
    _put(body, spec["field.invoice.payment_method"], invoice.effective_payment_method.value)
    _put(body, spec["field.invoice.cfdi_use"], invoice.effective_cfdi_use)
    _put(body, spec["field.invoice.export_code"], invoice.export_code)
    if invoice.notes:
        _put(body, spec["field.invoice.notes"], invoice.notes)
    if invoice.payment_terms:
        _put(body, spec["field.invoice.payment_terms"], invoice.payment_terms)
    if idempotency_key:
        _put(body, spec["field.invoice.observations"], idempotency_marker(idempotency_key))
    if stamp:
        _put(body, spec["field.invoice.stamp"], True)
    else:
        _put(body, spec["field.invoice.status"], spec["value.status.draft"])
    return body


def cancel_to_alegra(
    motive: CancelMotive, replacement_uuid: str | None, spec: Mapping[str, Any] = SPEC
) -> dict[str, Any]:
    """The void body carrying the SAT motive (field names assumed: ``field.cancel.*`` of the spec)."""
    body: dict[str, Any] = {}
    _put(body, spec["field.cancel.motive"], motive.value)
    if replacement_uuid:
        _put(body, spec["field.cancel.replacement"], replacement_uuid.upper())
    return body


# -- pure mappers: Alegra JSON -> our models ----------------------------------------------


@answer_mapper(PROVIDER, "invoice")
def alegra_to_stamped(
    data: Mapping[str, Any],
    *,
    provider: str = PROVIDER,
    issuer_rfc: str | None = None,
    spec: Mapping[str, Any] = SPEC,
) -> StampedInvoice:
    """Map an Alegra invoice object to :class:`StampedInvoice` (unknown fields are ignored)."""
    uuid = _text(_get(data, spec["field.answer.uuid"]))
    raw_status = (_text(_get(data, spec["field.answer.status"])) or "").lower()
    status = _status(raw_status, spec) or InvoiceStatus.ACTIVE
    if uuid is None and status is not InvoiceStatus.CANCELLED:
        status = InvoiceStatus.DRAFT
    cancel_state = (_text(_get(data, spec["field.answer.cancel_status"])) or "").lower()
    if status is InvoiceStatus.CANCELLED and cancel_state in ("requested", "pending"):
        status = InvoiceStatus.CANCEL_PENDING
    currency = _text(_get(data, spec["field.invoice.currency"])) or "MXN"
    issued = _parse_datetime(_get(data, spec["field.invoice.date"]))
    return StampedInvoice(
        provider=provider,
        id=str(_get(data, spec["field.answer.id"])),
        uuid=uuid.upper() if uuid else None,
        status=status,
        total=_decimal_or_none(_get(data, spec["field.answer.total"])),
        currency=currency,
        series=_text(_get(data, spec["field.invoice.series"])),
        folio=_text(_get(data, spec["field.invoice.folio"])),
        issuer_rfc=issuer_rfc,
        customer_rfc=_text(_get(data, spec["field.answer.client_rfc"])),
        issued_at=issued,
        stamped_at=_parse_datetime(_get(data, spec["field.answer.stamped_at"])),
        raw=dict(data),
    )


@answer_mapper(PROVIDER, "cancellation")
def alegra_to_cancellation(
    data: Mapping[str, Any],
    *,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    provider: str = PROVIDER,
    spec: Mapping[str, Any] = SPEC,
) -> Cancellation:
    """Map Alegra's answer to a void request to :class:`Cancellation`.

    A ``void`` invoice with no cancellation state is taken as cancelled; ``requested`` or
    ``pending`` means the receiver still has to accept (SAT rule), ``rejected`` that they did not.
    """
    raw_status = (_text(_get(data, spec["field.answer.status"])) or "").lower()
    cancel_state = (_text(_get(data, spec["field.answer.cancel_status"])) or "").lower()
    if cancel_state in _CANCEL_STATUS_FROM_ALEGRA:
        status = _CANCEL_STATUS_FROM_ALEGRA[cancel_state]
    elif _is_void(raw_status, spec):
        status = CancellationStatus.CANCELLED
    else:
        status = CancellationStatus.REJECTED
    uuid = _text(_get(data, spec["field.answer.uuid"]))
    return cancellation_answer(
        data, status, uuid, _text(_get(data, spec["field.error.message"])) or "",
        provider=provider, ref=ref, motive=motive, replacement_uuid=replacement_uuid,
    )


# -- what the wire cannot carry ------------------------------------------------------------


def alegra_issues(invoice: Invoice, spec: Mapping[str, Any] = SPEC) -> list[Issue]:
    """What this mapping cannot carry to Alegra, as pre-flight issues (never raised here).

    The provider's ``_vendor_issues`` hook reports them; they add to the SAT's rules.
    """
    issues = []
    regime = invoice.customer.tax_regime
    if alegra_regime(regime, spec) is None:
        issues.append(
            Issue(
                "customer.tax_regime",
                "APUNTO-ALEGRA-013",
                f"Alegra takes the régimen by its own name and no source names régimen {regime}; "
                "add it with spec={'value.contact.regime_names_one_source': {...}}",
                f"Alegra recibe el régimen por su nombre y no se conoce el del régimen {regime}",
            )
        )
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


# -- list filters ----------------------------------------------------------------------------


def _as_date_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_LIST_FILTERS = {
    # our name -> the spec key of Alegra's query parameter
    "status": "field.query.status",
    "query": "field.query.text",
    "date_start": "field.query.date_after",
    "date_end": "field.query.date_before",
    "date_from": "field.query.date_after",
    "date_to": "field.query.date_before",
    "order_field": "field.query.order_field",
    "order_direction": "field.query.order_direction",
}
_RAW_LIST_PARAMS = frozenset({"client_id"})


def list_params(
    filters: Mapping[str, Any], spec: Mapping[str, Any] = SPEC
) -> tuple[dict[str, Any], int]:
    """Alegra query parameters and page size for our ``list()`` filters.

    Our names (``status``, ``query``, ``date_start``/``date_end`` — also ``date_from``/
    ``date_to`` —, ``order_field``, ``order_direction``, ``page_size``) and Alegra's own
    parameter names are accepted.

    Raises:
        ValidationError: an unknown filter, or a page size Alegra refuses (1–30).
    """
    remaining = dict(filters)
    largest = int(spec["limit.page_size"])
    page_size = int(remaining.pop("page_size", largest))
    if not 1 <= page_size <= largest:
        raise ValidationError(
            f"page_size must be 1-{largest} (Alegra's limit), got {page_size}",
            field="page_size",
            code="APUNTO-ALEGRA-030",
        )
    vendor_names = {spec[key] for key in _LIST_FILTERS.values()} | _RAW_LIST_PARAMS
    params: dict[str, Any] = {}
    unknown = []
    for name, value in remaining.items():
        if value is None:
            continue
        key = _LIST_FILTERS.get(name)
        target = spec[key] if key else (name if name in vendor_names else None)
        if target is None:
            unknown.append(name)
            continue
        if isinstance(value, InvoiceStatus):
            value = _status_to_alegra(value, spec)
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


def _status_to_alegra(status: InvoiceStatus, spec: Mapping[str, Any]) -> str:
    key = {
        InvoiceStatus.DRAFT: "value.status.draft",
        InvoiceStatus.ACTIVE: "value.status.open",
        InvoiceStatus.CANCELLED: "value.status.void",
        InvoiceStatus.CANCEL_PENDING: "value.status.void",
        InvoiceStatus.PENDING: "value.status.draft",
    }[status]
    return str(spec[key])
