"""Invoices (CFDI 4.0), their totals, and what vendors give back after stamping or cancelling.

Totals follow the arithmetic the SAT checks (Anexo 20):

* each line's ``amount`` (Importe) is ``quantity × unit_price`` rounded to the currency's
  decimals;
* a tax's base is the line amount less its discount (for ``Cuota`` taxes the base is the
  quantity), and its amount is ``base × rate`` rounded to the currency's decimals;
* the document's ``subtotal`` and ``discount`` are sums of the lines; transferred and withheld
  taxes are summed per (tax, factor, rate) group from the already rounded line amounts, which
  keeps every line and the summary inside the SAT's tolerance bounds;
* ``total = subtotal − discount + transferred − withheld``.
"""

from __future__ import annotations

import enum
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ..money import quantize, round_money, to_decimal
from ._checks import typed_fields
from .common import to_money, to_optional_money, to_text_tuple
from .parties import Customer, Issuer

__all__ = [
    "CancelMotive",
    "Cancellation",
    "CancellationStatus",
    "GlobalInformation",
    "Invoice",
    "InvoiceKind",
    "InvoiceStatus",
    "InvoiceTotals",
    "LineItem",
    "LineTotals",
    "PaymentMethod",
    "RelatedDocuments",
    "StampedInvoice",
    "Tax",
    "TaxFactor",
    "TaxKind",
    "TaxSummary",
]

_ZERO = Decimal(0)


# Typed converters: attrs derives __init__ parameter types from them, so ``tuple`` itself
# would leave mypy with an unresolved generic.
def _taxes(values: Iterable[Tax]) -> tuple[Tax, ...]:
    return tuple(values)


def to_line_items(values: Iterable[LineItem]) -> tuple[LineItem, ...]:
    """Converter of a field holding line items (invoices and credit notes)."""
    return tuple(values)


def to_related_documents(values: Iterable[RelatedDocuments]) -> tuple[RelatedDocuments, ...]:
    """Converter of a field holding CfdiRelacionados groups (invoices and payment receipts)."""
    return tuple(values)


class TaxKind(str, enum.Enum):
    """c_Impuesto: ISR 001, IVA 002, IEPS 003 (values are the names vendors use)."""

    ISR = "ISR"
    IVA = "IVA"
    IEPS = "IEPS"

    @property
    def sat_code(self) -> str:
        """The c_Impuesto code (``001``, ``002``, ``003``)."""
        return {"ISR": "001", "IVA": "002", "IEPS": "003"}[self.value]


class TaxFactor(str, enum.Enum):
    """c_TipoFactor."""

    RATE = "Tasa"
    QUOTA = "Cuota"
    EXEMPT = "Exento"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Tax:
    """One tax on a line: transferred (traslado) or withheld (retención).

    Use the constructors for the common cases: ``Tax.iva()``, ``Tax.iva_withholding("0.04")``,
    ``Tax.isr_withholding("0.10")``, ``Tax.iva_exempt()``.

    Attributes:
        kind: ISR, IVA or IEPS.
        rate: TasaOCuota as a fraction (``0.16``); ``None`` only for ``Exento``.
        withholding: ``True`` for a retención.
        factor: Tasa, Cuota or Exento.
        amount: the tax amount (Importe) when it was fixed elsewhere (e.g. what an online store
            charged); it must lie within the SAT's bounds for the base
            (:func:`apunto_connect.money.sat_tax_bounds`). ``None`` computes base × rate.
    """

    kind: TaxKind = attrs.field(converter=TaxKind)
    rate: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    withholding: bool = False
    factor: TaxFactor = attrs.field(default=TaxFactor.RATE, converter=TaxFactor)
    amount: Decimal | None = attrs.field(default=None, converter=to_optional_money)

    @classmethod
    def iva(cls, rate: Decimal | str = "0.16", *, amount: Decimal | None = None) -> Tax:
        """IVA transferred at ``rate`` (16 % by default; 8 % border region; 0 %)."""
        return cls(TaxKind.IVA, to_decimal(rate, field="rate"), amount=amount)

    @classmethod
    def iva_exempt(cls) -> Tax:
        """IVA exento (no rate, no amount)."""
        return cls(TaxKind.IVA, None, factor=TaxFactor.EXEMPT)

    @classmethod
    def iva_withholding(cls, rate: Decimal | str) -> Tax:
        """IVA withheld at ``rate`` (e.g. ``0.04`` on land freight, ``0.106667`` on fees)."""
        return cls(TaxKind.IVA, to_decimal(rate, field="rate"), withholding=True)

    @classmethod
    def isr_withholding(cls, rate: Decimal | str) -> Tax:
        """ISR withheld at ``rate`` (e.g. ``0.10`` on professional fees, ``0.0125`` RESICO)."""
        return cls(TaxKind.ISR, to_decimal(rate, field="rate"), withholding=True)

    @classmethod
    def ieps(cls, rate: Decimal | str, *, factor: TaxFactor = TaxFactor.RATE) -> Tax:
        """IEPS transferred, as a rate or, with ``factor=TaxFactor.QUOTA``, an amount per unit."""
        return cls(TaxKind.IEPS, to_decimal(rate, field="rate"), factor=factor)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class LineItem:
    """One concept (Concepto) of an invoice.

    Attributes:
        product_code: ClaveProdServ (8 digits), e.g. ``78101802`` land freight.
        unit_code: ClaveUnidad, e.g. ``E48`` service unit (case-sensitive).
        description: Descripcion (1–1000 characters).
        quantity: Cantidad (> 0, up to 6 decimals).
        unit_price: ValorUnitario, before taxes.
        unit_name: Unidad, the human name of the unit.
        discount: Descuento for the whole line.
        taxes: transferred and withheld taxes of the line.
        tax_object: ObjetoImp; ``02`` when there are taxes, ``01`` otherwise if not given.
        sku: NoIdentificacion, your own product id.
        name: product name in the vendor's catalog (2–50 characters); the description is used
            when not given.
    """

    product_code: str
    unit_code: str
    description: str
    quantity: Decimal = attrs.field(converter=to_money)
    unit_price: Decimal = attrs.field(converter=to_money)
    unit_name: str | None = None
    discount: Decimal = attrs.field(default=_ZERO, converter=to_money)
    taxes: tuple[Tax, ...] = attrs.field(default=(), converter=_taxes)
    tax_object: str | None = None
    sku: str | None = None
    name: str | None = None

    @property
    def effective_tax_object(self) -> str:
        """ObjetoImp to send: the explicit one, else ``02`` with taxes and ``01`` without."""
        if self.tax_object:
            return self.tax_object
        return "02" if self.taxes else "01"

    @property
    def product_name(self) -> str:
        """The name to register in a vendor catalog: ``name`` or else the description."""
        return (self.name or self.description).strip()


class InvoiceKind(str, enum.Enum):
    """c_TipoDeComprobante."""

    INCOME = "I"
    EXPENSE = "E"
    TRANSFER = "T"
    PAYROLL = "N"
    PAYMENT = "P"


class PaymentMethod(str, enum.Enum):
    """c_MetodoPago: paid at issuance (PUE) or in instalments/deferred (PPD)."""

    PUE = "PUE"
    PPD = "PPD"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class RelatedDocuments:
    """CfdiRelacionados: a c_TipoRelacion code and the UUIDs it relates to."""

    relation_type: str
    uuids: tuple[str, ...] = attrs.field(converter=to_text_tuple)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class GlobalInformation:
    """InformacionGlobal of a factura global to the general public.

    Attributes:
        periodicity: c_Periodicidad (``01`` daily … ``05`` bimonthly).
        months: c_Meses (``01``–``18``).
        year: fiscal year.
    """

    periodicity: str
    months: str
    year: int


@attrs.frozen(slots=True, field_transformer=typed_fields)
class TaxSummary:
    """Totals of one (tax, factor, rate) group, as the Comprobante/Impuestos node shows them."""

    kind: TaxKind
    factor: TaxFactor
    rate: Decimal | None
    withholding: bool
    base: Decimal
    amount: Decimal | None


@attrs.frozen(slots=True, field_transformer=typed_fields)
class LineTotals:
    """Computed amounts of one line."""

    amount: Decimal
    discount: Decimal
    taxes: tuple[TaxSummary, ...]

    @property
    def transferred(self) -> Decimal:
        """Sum of transferred (traslado) tax amounts on this line."""
        return sum((t.amount or _ZERO for t in self.taxes if not t.withholding), _ZERO)

    @property
    def withheld(self) -> Decimal:
        """Sum of withheld (retención) tax amounts on this line."""
        return sum((t.amount or _ZERO for t in self.taxes if t.withholding), _ZERO)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class InvoiceTotals:
    """Computed totals of an invoice, all rounded to the currency's decimals."""

    subtotal: Decimal
    discount: Decimal
    transferred: tuple[TaxSummary, ...]
    withheld: tuple[TaxSummary, ...]
    total_transferred: Decimal
    total_withheld: Decimal
    total: Decimal
    lines: tuple[LineTotals, ...]


def _compute_line(item: LineItem, currency: str) -> LineTotals:
    amount = round_money(item.quantity * item.unit_price, currency)
    discount = round_money(item.discount, currency)
    taxes = []
    for tax in item.taxes:
        # A Cuota tax (IEPS per litre, per cigarette...) is charged per unit, not on the price.
        base = item.quantity if tax.factor is TaxFactor.QUOTA else amount - discount
        tax_amount = None
        if tax.factor is not TaxFactor.EXEMPT and tax.rate is not None:
            fixed = tax.amount
            tax_amount = round_money(base * tax.rate if fixed is None else fixed, currency)
        taxes.append(
            TaxSummary(tax.kind, tax.factor, tax.rate, tax.withholding, base, tax_amount)
        )
    return LineTotals(amount=amount, discount=discount, taxes=tuple(taxes))


TaxGroup = tuple[TaxKind, TaxFactor, Decimal | None]
"""What the SAT groups tax totals by: the tax, its factor and its rate."""


def sum_per_tax_group(
    parts: Iterable[tuple[TaxGroup, Decimal, Decimal | None]],
) -> dict[TaxGroup, tuple[Decimal, Decimal | None]]:
    """Add up ``(group, base, amount)`` parts into one base and one amount per group.

    Groups keep the order they are first seen in. A group's amount stays ``None`` while all
    its parts have none (an ``Exento`` tax has a base and no amount). Shared by the invoice's
    Impuestos summary and the payment receipt's ImpuestosP.
    """
    bases: dict[TaxGroup, Decimal] = defaultdict(lambda: _ZERO)
    amounts: dict[TaxGroup, Decimal | None] = {}
    for group, base, amount in parts:
        bases[group] += base
        if amount is None:
            amounts.setdefault(group, None)
        else:
            amounts[group] = (amounts.get(group) or _ZERO) + amount
    return {group: (base, amounts[group]) for group, base in bases.items()}


def _group(lines: Sequence[LineTotals], withholding: bool, currency: str) -> tuple[TaxSummary, ...]:
    sums = sum_per_tax_group(
        ((tax.kind, tax.factor, tax.rate), tax.base, tax.amount)
        for line in lines
        for tax in line.taxes
        if tax.withholding is withholding
    )
    return tuple(
        TaxSummary(kind, factor, rate, withholding, round_money(base, currency), amount)
        for (kind, factor, rate), (base, amount) in sums.items()
    )


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Invoice:
    """A CFDI 4.0 to be stamped.

    Attributes:
        customer: the receiver.
        items: the lines (at least one).
        issuer: the issuer; vendors that issue only for the account owner may fill it in.
        currency: c_Moneda (``MXN`` by default).
        exchange_rate: TipoCambio, required for currencies other than MXN and XXX.
        payment_form: c_FormaPago; defaults to the customer's, else ``99`` for PPD.
        payment_method: c_MetodoPago; defaults to the customer's, else PUE.
        cfdi_use: c_UsoCFDI; defaults to the customer's.
        series: Serie.
        folio: Folio.
        issued_at: Fecha (Mexico local time, no time zone); the vendor's clock when ``None``.
        kind: TipoDeComprobante (I, E, T, P, N).
        export_code: c_Exportacion (``01`` no aplica).
        notes: free text (observaciones / CondicionesDePago where the vendor maps it).
        related: CfdiRelacionados groups.
        global_info: InformacionGlobal for a factura global.
        payment_terms: CondicionesDePago.
    """

    customer: Customer
    items: tuple[LineItem, ...] = attrs.field(converter=to_line_items)
    issuer: Issuer | None = None
    currency: str = "MXN"
    exchange_rate: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    payment_form: str | None = None
    payment_method: PaymentMethod | None = attrs.field(
        default=None, converter=attrs.converters.optional(PaymentMethod)
    )
    cfdi_use: str | None = None
    series: str | None = None
    folio: str | None = None
    issued_at: datetime | None = None
    kind: InvoiceKind = attrs.field(default=InvoiceKind.INCOME, converter=InvoiceKind)
    export_code: str = "01"
    notes: str | None = None
    related: tuple[RelatedDocuments, ...] = attrs.field(default=(), converter=to_related_documents)
    global_info: GlobalInformation | None = None
    payment_terms: str | None = None

    @property
    def effective_payment_method(self) -> PaymentMethod:
        """The payment method to send: explicit, else the customer's, else PUE."""
        if self.payment_method is not None:
            return self.payment_method
        if self.customer.payment_method:
            return PaymentMethod(self.customer.payment_method)
        return PaymentMethod.PUE

    @property
    def effective_payment_form(self) -> str:
        """The payment form to send: explicit, else ``99`` for PPD, else the customer's, else 99."""
        if self.payment_form:
            return self.payment_form
        if self.effective_payment_method is PaymentMethod.PPD:
            return "99"
        return self.customer.payment_form or "99"

    @property
    def effective_cfdi_use(self) -> str:
        """The UsoCFDI to send: explicit, else the customer's."""
        return self.cfdi_use or self.customer.cfdi_use

    @functools.cached_property
    def totals(self) -> InvoiceTotals:
        """Line and document totals, computed once per invoice (the model is immutable).

        Raises:
            ValidationError: amounts too large (or too finely divided) for Decimal arithmetic,
                such as ``1E+999999`` (code ``APUNTO-542``).
        """
        try:
            return self._compute_totals()
        except ArithmeticError:
            from ..errors import ValidationError

            raise ValidationError(
                "the amounts are too large to compute", field="items", code="APUNTO-542"
            ) from None

    def _compute_totals(self) -> InvoiceTotals:
        lines = tuple(_compute_line(item, self.currency) for item in self.items)
        transferred = _group(lines, False, self.currency)
        withheld = _group(lines, True, self.currency)
        total_transferred = sum((t.amount or _ZERO for t in transferred), _ZERO)
        total_withheld = sum((t.amount or _ZERO for t in withheld), _ZERO)
        subtotal = sum((line.amount for line in lines), _ZERO)
        discount = sum((line.discount for line in lines), _ZERO)
        total = round_money(subtotal - discount + total_transferred - total_withheld, self.currency)
        return InvoiceTotals(
            subtotal=subtotal,
            discount=discount,
            transferred=transferred,
            withheld=withheld,
            total_transferred=total_transferred,
            total_withheld=total_withheld,
            total=total,
            lines=lines,
        )

    @property
    def total(self) -> Decimal:
        """Shortcut for ``totals.total``."""
        return self.totals.total

    def with_changes(self, **changes: Any) -> Invoice:
        """Return a copy with some fields replaced (the model itself is immutable)."""
        return attrs.evolve(self, **changes)


class InvoiceStatus(str, enum.Enum):
    """Life of a stamped CFDI at the vendor."""

    DRAFT = "draft"
    PENDING = "pending"
    ACTIVE = "active"
    CANCEL_PENDING = "cancel_pending"
    CANCELLED = "cancelled"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class StampedInvoice:
    """A CFDI as the vendor holds it after stamping.

    Attributes:
        provider: vendor short name.
        id: the vendor's own id (what ``get``/``download``/``cancel`` take).
        uuid: the SAT folio fiscal (UUID of the TimbreFiscalDigital).
        status: active, cancelled, ...
        total: document total.
        currency: c_Moneda.
        series: Serie.
        folio: Folio.
        issuer_rfc: RFC of the issuer.
        customer_rfc: RFC of the receiver.
        issued_at: Fecha of the CFDI.
        stamped_at: FechaTimbrado.
        raw: the vendor's answer, untouched, for anything the model does not cover.
    """

    provider: str
    id: str
    uuid: str | None
    status: InvoiceStatus = attrs.field(default=InvoiceStatus.ACTIVE, converter=InvoiceStatus)
    total: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    currency: str | None = None
    series: str | None = None
    folio: str | None = None
    issuer_rfc: str | None = None
    customer_rfc: str | None = None
    issued_at: datetime | None = None
    stamped_at: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


class CancelMotive(str, enum.Enum):
    """SAT cancellation motives."""

    WITH_RELATION = "01"
    """Errors, replaced by another CFDI: the replacement UUID is required."""
    WITHOUT_RELATION = "02"
    """Errors with no replacement."""
    NOT_CARRIED_OUT = "03"
    """The operation did not take place."""
    GLOBAL_INVOICE = "04"
    """Nominative operation included in a factura global."""

    @property
    def requires_replacement(self) -> bool:
        """Motive 01 needs the UUID of the CFDI that replaces the cancelled one."""
        return self is CancelMotive.WITH_RELATION


class CancellationStatus(str, enum.Enum):
    """Where a cancellation request stands."""

    CANCELLED = "cancelled"
    REQUESTED = "requested"
    """Waiting for the receiver to accept (buzón tributario)."""
    PENDING = "pending"
    REJECTED = "rejected"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Cancellation:
    """The vendor's answer to a cancellation request."""

    provider: str
    ref: str
    motive: CancelMotive = attrs.field(converter=CancelMotive)
    status: CancellationStatus = attrs.field(converter=CancellationStatus)
    uuid: str | None = None
    replacement_uuid: str | None = None
    message: str = ""
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def line_total(item: LineItem, currency: str = "MXN") -> LineTotals:
    """Compute one line's amounts alone (handy in notebooks)."""
    return _compute_line(item, currency)


def quantize_rate(rate: Decimal) -> Decimal:
    """A TasaOCuota written the way the XML wants it: six decimals."""
    return quantize(to_decimal(rate, field="rate"), 6)
