"""The factura global: the period's sales to the general public in one CFDI.

Sales to buyers who asked for no invoice (POS tickets, store orders without tax data) are
invoiced together, once per period, to the generic RFC ``XAXX010101000`` with
InformacionGlobal (periodicity, month(s), year). The SAT asks for one concept per ticket:
ClaveProdServ ``01010101``, ClaveUnidad ``ACT``, quantity 1, the ticket number as
NoIdentificacion, the ticket's amount before tax as the unit value and its tax.

Each ticket's tax is kept as charged when it lies inside the SAT's bounds for its base, so the
CFDI's Total is the tickets' sum to the cent; a ticket whose tax no rounding can justify is
refused before anything is built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from ..errors import Issue, ValidationError
from ..money import quantize, sat_tax_bounds, to_decimal
from .common import to_money, to_optional_money
from .invoices import GlobalInformation, Invoice, LineItem, PaymentMethod, Tax, TaxFactor, TaxKind
from .parties import Customer, Issuer

__all__ = ["GENERAL_PUBLIC_RFC", "Ticket", "global_invoice"]

GENERAL_PUBLIC_RFC = "XAXX010101000"
_SALE_PRODUCT_CODE = "01010101"
_CENT = Decimal("0.01")



@attrs.frozen(slots=True)
class Ticket:
    """One sale to the general public (a POS ticket or a store order).

    Attributes:
        number: the ticket or order number (NoIdentificacion).
        subtotal: amount before tax and before the discount.
        tax: the IVA charged (``None`` computes subtotal − discount × rate).
        rate: the IVA rate (``0.16``, ``0.08``, ``0``); ``None`` for sales exempt of IVA.
        discount: discount before tax.
        payment_form: c_FormaPago of the sale (``01`` cash, ``04`` card...).
        sold_at: when it was sold (informative).
    """

    number: str
    subtotal: Decimal = attrs.field(converter=to_money)
    tax: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    rate: Decimal | None = attrs.field(default=Decimal("0.16"), converter=to_optional_money)
    discount: Decimal = attrs.field(default=Decimal(0), converter=to_money)
    payment_form: str = "01"
    sold_at: datetime | None = None

    @property
    def effective_tax(self) -> Decimal:
        """The tax of the ticket: as charged, else base × rate rounded to cents."""
        if self.rate is None:
            return Decimal(0)
        if self.tax is not None:
            return self.tax
        return quantize((self.subtotal - self.discount) * self.rate, 2)

    @property
    def total(self) -> Decimal:
        """What the buyer paid: subtotal − discount + tax."""
        return self.subtotal - self.discount + self.effective_tax

    @classmethod
    def from_total(
        cls, number: str, total: Decimal | str, *, rate: Decimal | str | None = "0.16",
        payment_form: str = "01", sold_at: datetime | None = None,
    ) -> Ticket:
        """A ticket from its tax-included total: base = total / (1 + rate), tax = the rest."""
        gross = to_decimal(total, field="total")
        if rate is None:
            return cls(number, gross, None, None, payment_form=payment_form, sold_at=sold_at)
        iva = to_decimal(rate, field="rate")
        base = quantize(gross / (1 + iva), 2)
        return cls(number, base, gross - base, iva, payment_form=payment_form, sold_at=sold_at)

    @classmethod
    def from_invoice(cls, number: str, invoice: Invoice) -> Ticket:
        """A ticket from a store order's invoice draft (one IVA rate for the whole order).

        Raises:
            ValidationError: the order mixes IVA rates (bill it as one ticket per rate) or
                carries taxes other than transferred IVA.
        """
        totals = invoice.totals
        groups = totals.transferred
        if totals.withheld or any(g.kind is not TaxKind.IVA for g in groups) or len(groups) > 1:
            raise ValidationError(
                f"order {number} mixes taxes or IVA rates: give one ticket per rate",
                field="tickets", code="APUNTO-901",
            )
        if not groups:
            rate: Decimal | None = None
            tax: Decimal | None = None
        elif groups[0].factor is TaxFactor.EXEMPT:
            rate, tax = None, None
        else:
            rate, tax = groups[0].rate, groups[0].amount
        return cls(
            number, totals.subtotal, tax, rate, discount=totals.discount,
            payment_form=invoice.effective_payment_form, sold_at=invoice.issued_at,
        )


def _concept(ticket: Ticket, index: int, issues: list[Issue]) -> LineItem:
    base = ticket.subtotal - ticket.discount
    taxes: tuple[Tax, ...] = ()
    if ticket.rate is None:
        taxes = (Tax.iva_exempt(),)
    else:
        tax = ticket.effective_tax
        lower, upper = sat_tax_bounds(base, ticket.rate)
        if not lower <= tax <= upper:
            issues.append(
                Issue(
                    f"tickets[{index}].tax",
                    "CFDI40180",
                    f"ticket {ticket.number}: tax {tax} is outside the SAT's bounds "
                    f"[{lower}, {upper}] for base {base} at {ticket.rate}",
                    f"Ticket {ticket.number}: el impuesto {tax} está fuera de los límites del "
                    f"SAT [{lower}, {upper}] para la base {base} a la tasa {ticket.rate}",
                )
            )
        taxes = (Tax.iva(ticket.rate, amount=tax),)
    return LineItem(
        product_code=_SALE_PRODUCT_CODE,
        unit_code="ACT",
        description="Venta",
        quantity=1,
        unit_price=ticket.subtotal,
        discount=ticket.discount,
        taxes=taxes,
        sku=ticket.number,
    )


def global_invoice(
    tickets: Iterable[Ticket],
    *,
    periodicity: str,
    months: str,
    year: int,
    issuer: Issuer,
    payment_form: str | None = None,
    series: str | None = None,
    folio: str | None = None,
    issued_at: datetime | None = None,
) -> Invoice:
    """Group the period's tickets into one factura global to ``XAXX010101000``.

    Args:
        tickets: the sales of the period, one concept each.
        periodicity: c_Periodicidad (``01`` daily, ``02`` weekly, ``03`` fortnightly, ``04``
            monthly, ``05`` bimonthly).
        months: c_Meses (``01``–``12``, or ``13``–``18`` for bimonthly periods).
        year: the fiscal year of the sales.
        issuer: the issuer; its postal code is the receiver's (the SAT's rule for the public).
        payment_form: FormaPago; by default the form that collected the largest amount.
        series: Serie.
        folio: Folio.
        issued_at: Fecha.

    Returns:
        The invoice (PUE, UsoCFDI S01, régimen 616) whose Total is the tickets' sum.

    Raises:
        ValidationError: no tickets, or a ticket whose tax the SAT would refuse for its base.
    """
    sales = list(tickets)
    if not sales:
        raise ValidationError("a factura global groups at least one ticket", field="tickets",
                              code="APUNTO-900")
    issues: list[Issue] = []
    items = [_concept(ticket, index, issues) for index, ticket in enumerate(sales)]
    if issues:
        raise ValidationError(issues)
    if payment_form is None:
        collected: Counter[str] = Counter()
        for ticket in sales:
            collected[ticket.payment_form] += int(ticket.total / _CENT)
        payment_form = collected.most_common(1)[0][0]
    customer = Customer(
        rfc=GENERAL_PUBLIC_RFC,
        legal_name="PUBLICO EN GENERAL",
        tax_regime="616",
        zip_code=issuer.zip_code,
        cfdi_use="S01",
    )
    return Invoice(
        customer=customer,
        items=items,
        issuer=issuer,
        payment_form=payment_form,
        payment_method=PaymentMethod.PUE,
        cfdi_use="S01",
        series=series,
        folio=folio,
        issued_at=issued_at,
        global_info=GlobalInformation(periodicity=periodicity, months=months, year=year),
    )
