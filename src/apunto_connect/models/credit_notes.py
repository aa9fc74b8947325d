"""Credit notes: CFDI type E (Egreso) related to the invoices they reduce.

A credit note gives back part of what earlier invoices charged: a discount or rebate granted
after the fact (TipoRelacion ``01``), goods returned (``03``), or an advance payment applied to
the final invoice (``07``). It carries its own concepts and taxes, and names the folios fiscales
it relates to in CfdiRelacionados.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from ..money import to_decimal
from .common import to_optional_money
from .invoices import (
    Invoice,
    InvoiceKind,
    LineItem,
    PaymentMethod,
    RelatedDocuments,
    Tax,
    to_line_items,
)
from .parties import Customer, Issuer

__all__ = ["CreditNote", "CreditNoteReason"]

_DISCOUNT_PRODUCT_CODE = "84111506"  # Servicios de facturación: what PACs suggest for bonuses


def _uuids(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(value.strip().upper() for value in values)


class CreditNoteReason(str, enum.Enum):
    """The c_TipoRelacion codes a credit note uses."""

    CREDIT_NOTE = "01"
    """Nota de crédito de los documentos relacionados (discounts, rebates, bonuses)."""
    RETURN = "03"
    """Devolución de mercancía sobre facturas o traslados previos."""
    ADVANCE_APPLIED = "07"
    """CFDI por aplicación de anticipo."""


@attrs.frozen(slots=True)
class CreditNote:
    """A CFDI type E that reduces what related invoices charged.

    Attributes:
        customer: the receiver (the same one the related invoices went to).
        items: what is credited back, with its taxes.
        related_uuids: the folios fiscales of the invoices it relates to (at least one).
        reason: TipoRelacion (``01``, ``03`` or ``07``).
        issuer: the issuer.
        currency: Moneda.
        exchange_rate: TipoCambio, for currencies other than MXN.
        payment_form: FormaPago (``15`` condonación, ``03`` transfer, ``30`` aplicación de
            anticipos...). Defaults to ``30`` for applied advances and ``15`` otherwise.
        payment_method: MetodoPago; a credit note is settled when issued (PUE).
        cfdi_use: UsoCFDI; ``G02`` devoluciones, descuentos o bonificaciones.
        series: Serie.
        folio: Folio.
        issued_at: Fecha.
    """

    customer: Customer
    items: tuple[LineItem, ...] = attrs.field(converter=to_line_items)
    related_uuids: tuple[str, ...] = attrs.field(converter=_uuids)
    reason: CreditNoteReason = attrs.field(
        default=CreditNoteReason.CREDIT_NOTE, converter=CreditNoteReason
    )
    issuer: Issuer | None = None
    currency: str = "MXN"
    exchange_rate: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    payment_form: str | None = None
    payment_method: PaymentMethod = attrs.field(
        default=PaymentMethod.PUE, converter=PaymentMethod
    )
    cfdi_use: str = "G02"
    series: str | None = None
    folio: str | None = None
    issued_at: datetime | None = None

    @property
    def effective_payment_form(self) -> str:
        """FormaPago to send: explicit, else ``30`` for applied advances, else ``15``."""
        if self.payment_form:
            return self.payment_form
        return "30" if self.reason is CreditNoteReason.ADVANCE_APPLIED else "15"

    @property
    def total(self) -> Decimal:
        """The credit note's Total."""
        return self.to_invoice().total

    def to_invoice(self) -> Invoice:
        """The CFDI type E with its CfdiRelacionados group."""
        return Invoice(
            customer=self.customer,
            items=self.items,
            issuer=self.issuer,
            currency=self.currency,
            exchange_rate=self.exchange_rate,
            payment_form=self.effective_payment_form,
            payment_method=self.payment_method,
            cfdi_use=self.cfdi_use,
            series=self.series,
            folio=self.folio,
            issued_at=self.issued_at,
            kind=InvoiceKind.EXPENSE,
            related=[RelatedDocuments(self.reason.value, self.related_uuids)],
        )

    @classmethod
    def discount(
        cls,
        customer: Customer,
        related_uuids: Iterable[str],
        amount: Decimal | str | int,
        *,
        description: str = "Descuento sobre factura",
        iva_rate: Decimal | str | None = "0.16",
        **fields: object,
    ) -> CreditNote:
        """A one-line credit note for a discount of ``amount`` before taxes (relation 01).

        ``iva_rate=None`` credits an amount that carried no IVA. Other keyword arguments are
        passed to :class:`CreditNote` (``issuer``, ``series``, ``folio``...).
        """
        taxes = () if iva_rate is None else (Tax.iva(to_decimal(iva_rate)),)
        item = LineItem(
            product_code=_DISCOUNT_PRODUCT_CODE,
            unit_code="ACT",
            description=description,
            quantity=1,
            unit_price=to_decimal(amount, field="amount"),
            taxes=taxes,
        )
        return cls(customer=customer, items=[item], related_uuids=related_uuids,
                   **fields)  # type: ignore[arg-type]
