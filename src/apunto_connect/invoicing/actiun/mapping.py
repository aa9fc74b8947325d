"""Actiun <-> the SDK's models: pure functions, no I/O.

``invoice_to_actiun`` and ``line_to_actiun`` build the arguments of
:meth:`apunto_connect.actiun.Invoices.create`; ``actiun_to_stamped`` reads an Actiun invoice
back. Actiun's own limits are reported before any request by ``actiun_issues`` (the
provider's ``_vendor_issues``), as pre-flight issues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..._answers import answer_mapper
from ..._wire import mexico_wall
from ...actiun.inputs import LineItemInput
from ...actiun.models import Invoice as ActiunInvoice
from ...actiun.models import InvoiceStatus as ActiunStatus
from ...errors import Issue, Severity, ValidationError
from ...models.invoices import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    PaymentMethod,
    StampedInvoice,
    Tax,
    TaxFactor,
)
from ...money import round_money, to_decimal
from ...vendor_spec import VendorSpec
from .spec import SPEC

__all__ = [
    "DEFAULT_TAX_IDS",
    "PROVIDER",
    "STATUS_MAP",
    "TaxKey",
    "actiun_issues",
    "actiun_to_stamped",
    "invoice_to_actiun",
    "line_to_actiun",
    "tax_key",
]

PROVIDER = "actiun"

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

# -- taxes ------------------------------------------------------------------------------------

TaxKey = tuple[str, Decimal, bool]
"""``(tax name, rate as a fraction, withholding)``, e.g. ``("IVA", Decimal("0.16"), False)``."""


def tax_key(tax: Tax) -> TaxKey | None:
    """The key to look a tax's Actiun id up by; ``None`` for taxes Actiun cannot take (exempt)."""
    if tax.factor is not TaxFactor.RATE or tax.rate is None:
        return None
    return (tax.kind.value, tax.rate.normalize(), tax.withholding)


def _catalog_tax_ids(catalog: Mapping[int, Mapping[str, object]]) -> dict[TaxKey, int]:
    """``{TaxKey: id}`` from a tax catalog shaped like ``SPEC["value.taxes"]``."""
    ids: dict[TaxKey, int] = {}
    for tax_id, entry in catalog.items():
        rate = (to_decimal(entry["percentage"]) / 100).normalize()
        ids.setdefault((str(entry["name"]).upper(), rate, bool(entry["retention"])), tax_id)
    return ids


# Read through fact() so importing the module does not count as relying on the assumption.
DEFAULT_TAX_IDS: dict[TaxKey, int] = _catalog_tax_ids(SPEC.fact("value.taxes").value)
"""Tax ids from ``SPEC["value.taxes"]`` (1 and 2 from the reference, the rest assumed);
override per account with ``tax_ids=``."""


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


# -- vendor rules (pre-flight issues) -----------------------------------------------------------


def _issue(field: str, code: str, message: str, message_es: str = "",
           severity: Severity = Severity.ERROR) -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es,
                 severity=severity)


def actiun_issues(
    invoice: Invoice,
    tax_ids: Mapping[TaxKey, int] = DEFAULT_TAX_IDS,
    spec: VendorSpec = SPEC,
) -> list[Issue]:
    """What Actiun cannot take, found without a network call (pure)."""
    issues: list[Issue] = []
    if invoice.kind is not InvoiceKind.INCOME:
        issues.append(_issue("kind", "ACTIUN-KIND",
                             "Actiun's API issues only income invoices (TipoDeComprobante I)",
                             "El API de Actiun solo emite facturas de ingreso"))
    form = invoice.effective_payment_form
    payment_forms = spec["value.sat_payment_forms"]
    if form not in payment_forms:
        issues.append(_issue("payment_form", "ACTIUN-PAYMENT-FORM",
                             f"c_FormaPago {form} has no Actiun payment method; use one of "
                             f"{', '.join(sorted(payment_forms))}",
                             f"La forma de pago {form} no existe en Actiun"))
    elif invoice.effective_payment_method is PaymentMethod.PPD and \
            payment_forms[form] not in spec["value.ppd_payment_methods"]:
        issues.append(_issue("payment_form", "ACTIUN-PPD",
                             "with PPD Actiun only admits payment form 99 (Por definir)",
                             "Si el método de pago es PPD solo se admite la forma 99 Por definir"))
    # The invoice request has no field for these: stamping would drop them silently.
    if invoice.related:
        issues.append(_issue("related", "ACTIUN-RELATED",
                             "Actiun's API has no field for related CFDIs (CfdiRelacionados); "
                             "the CFDI would be stamped without them",
                             "El API de Actiun no recibe CFDI relacionados; se timbraría sin "
                             "ellos"))
    if invoice.global_info is not None:
        issues.append(_issue("global_info", "ACTIUN-GLOBAL",
                             "Actiun's API has no field for InformacionGlobal (factura global); "
                             "the CFDI would be stamped without it",
                             "El API de Actiun no recibe InformacionGlobal; se timbraría sin "
                             "ella"))
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
            if tax.amount is not None and tax.rate is not None and tax.factor is TaxFactor.RATE:
                base = item.quantity * item.unit_price - item.discount
                computed = round_money(base * tax.rate, invoice.currency)
                if computed != tax.amount:
                    # Actiun computes each tax from the tax id and the line; the amount the
                    # store charged cannot be sent, so the CFDI would not end at its total.
                    issues.append(_issue(
                        f"{prefix}.taxes[{position}].amount", "ACTIUN-TAX-AMOUNT",
                        f"Actiun computes the tax itself ({computed}); the fixed amount "
                        f"{tax.amount} cannot be sent and the CFDI would not match it",
                        f"Actiun calcula el impuesto ({computed}); el importe {tax.amount} no "
                        "se puede enviar y el CFDI no coincidiría",
                    ))
        if _discount_percentage(item, invoice.currency) is None:
            issues.append(_issue(f"{prefix}.discount", "ACTIUN-DISCOUNT",
                                 "Actiun takes a discount as a percentage of the line and none "
                                 "reproduces this amount exactly",
                                 "Actiun recibe el descuento como porcentaje y ninguno lo "
                                 "reproduce exactamente"))
    return issues


# -- model -> wire ------------------------------------------------------------------------------


def line_to_actiun(
    item: LineItem,
    item_id: int,
    currency: str,
    tax_ids: Mapping[TaxKey, int] = DEFAULT_TAX_IDS,
    *,
    catalog_description: str | None = None,
) -> LineItemInput:
    """One invoice line for Actiun (pure); taxes and retentions by the account's tax ids.

    Raises:
        ValidationError: a tax without an id or a discount no percentage reproduces; a line
            cannot be written without them (``actiun_issues`` reports both before a stamp).
    """
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
    spec: VendorSpec = SPEC,
) -> dict[str, Any]:
    """Keyword arguments for :meth:`apunto_connect.actiun.Invoices.create` (pure)."""
    method = invoice.effective_payment_method
    form = invoice.effective_payment_form
    credit_days = invoice.customer.credit_days
    return {
        "client_id": client_id,
        "line_items": list(lines),
        "payment_method_code": spec["value.sat_payment_forms"].get(form, form),
        "payment_type_code": method.value,
        "cfdi_use_code": invoice.effective_cfdi_use,
        "currency_code": invoice.currency,
        "exchange_rate": invoice.exchange_rate if invoice.currency != "MXN" else None,
        "date": invoice.issued_at.date() if invoice.issued_at else None,
        "due_offset_days": credit_days if credit_days > 0 else None,
        "type_code": type_code,
        "description": invoice.notes,
    }


# -- wire -> model ------------------------------------------------------------------------------


def _local(moment: datetime | None) -> datetime | None:
    """CFDI dates are Mexico local time without a zone."""
    return None if moment is None else mexico_wall(moment)


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


# -- what finds a lost create again (stored in the journal) --------------------------------------


def _signature(lines: Sequence[LineItemInput]) -> tuple[tuple[int, Decimal, Decimal], ...]:
    return tuple(sorted((line.item_id, line.quantity.normalize(), line.price.normalize())
                        for line in lines))


def _signature_text(signature: Sequence[tuple[int, Decimal, Decimal]]) -> str:
    """A line signature as stable text (stored in the journal)."""
    return ";".join(f"{item}:{quantity}:{price}" for item, quantity, price in signature)


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
