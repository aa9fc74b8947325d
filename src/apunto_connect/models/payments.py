"""Payment receipts (CFDI type P with the Pagos 2.0 complement, the "REP").

An invoice issued PPD (paid later or in instalments) is settled by one payment receipt per
payment received. Each receipt names the invoices it pays (DoctoRelacionado) with the balance
before the payment (ImpSaldoAnt), the amount applied (ImpPagado), the balance left
(ImpSaldoInsoluto), the instalment number (NumParcialidad) and the share of the invoice's taxes
that the payment carries (ImpuestosDR).

:meth:`PaymentReceipt.for_invoices` does that arithmetic the way the Pagos 2.0 filling guide
describes it:

* the amount received is applied to the invoices in the order given, each up to its open
  balance; paying more than the balances add up to raises :class:`~apunto_connect.errors.Overpayment`;
* EquivalenciaDR is the number of units of the invoice's currency per unit of the payment's
  currency (``1`` when both are the same); ImpPagado = amount applied × EquivalenciaDR;
* the taxes of a paid document are the invoice's taxes in the proportion ImpPagado / Total:
  BaseDR = base × proportion and ImporteDR = BaseDR × TasaOCuota, each rounded half up to the
  document currency's decimals (a payment that settles the whole invoice in one go carries the
  invoice's own bases and amounts);
* the payment's taxes (ImpuestosP) add the document taxes per (tax, factor, rate), each divided
  by its EquivalenciaDR (up to six decimals, as the schema allows);
* Totales are in MXN: the payment amounts and taxes times TipoCambioP, rounded to two decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from ..errors import Issue, Overpayment, ValidationError
from ..money import quantize, round_money, to_decimal
from .common import to_money, to_optional_money
from .invoices import (
    Invoice,
    InvoiceKind,
    LineItem,
    RelatedDocuments,
    TaxFactor,
    TaxKind,
    TaxSummary,
    sum_per_tax_group,
    to_related_documents,
)
from .parties import Customer, Issuer

if TYPE_CHECKING:  # the parsed model lives in cfdi/, which imports lxml lazily
    from ..cfdi.models import Cfdi

__all__ = [
    "PAYMENT_CONCEPT_DESCRIPTION",
    "PAYMENT_PRODUCT_CODE",
    "PaidDocument",
    "PayableInvoice",
    "Payment",
    "PaymentReceipt",
    "ReceiptTotals",
]

PAYMENT_PRODUCT_CODE = "84111506"
"""ClaveProdServ of the single concept of a payment CFDI (Servicios de facturación)."""

PAYMENT_CONCEPT_DESCRIPTION = "Pago"
"""Descripcion of the single concept of a payment CFDI."""

_ZERO = Decimal(0)
_ONE = Decimal(1)
_P_PLACES = 6  # BaseP/ImporteP: the schema's t_Importe allows six decimals
_EQUIVALENCE_PLACES = 10  # EquivalenciaDR: up to ten decimals


def _tax_summaries(values: Iterable[TaxSummary]) -> tuple[TaxSummary, ...]:
    return tuple(values)


def _paid_documents(values: Iterable[PaidDocument]) -> tuple[PaidDocument, ...]:
    return tuple(values)


def _payments(values: Iterable[Payment]) -> tuple[Payment, ...]:
    return tuple(values)


def _places(currency: str) -> int:
    from ..sat.catalogs import currency_decimals

    return currency_decimals(currency)


@attrs.frozen(slots=True)
class PaidDocument:
    """DoctoRelacionado: one invoice (issued PPD) that a payment settles, fully or partly.

    Attributes:
        uuid: IdDocumento, the folio fiscal of the invoice paid.
        previous_balance: ImpSaldoAnt, what was owed before this payment (invoice currency).
        amount_paid: ImpPagado, the part of the payment applied to it (invoice currency).
        installment: NumParcialidad (1 for the first payment of the invoice).
        currency: MonedaDR, the invoice's currency.
        equivalence: EquivalenciaDR, units of the invoice's currency per unit of the payment's
            currency (``1`` when they are the same).
        series: Serie of the invoice.
        folio: Folio of the invoice.
        tax_object: ObjetoImpDR (``02`` when the invoice carried taxes, ``01`` otherwise).
        taxes: the share of the invoice's taxes this payment carries (TrasladosDR and
            RetencionesDR), in the invoice's currency.
    """

    uuid: str
    previous_balance: Decimal = attrs.field(converter=to_money)
    amount_paid: Decimal = attrs.field(converter=to_money)
    installment: int = 1
    currency: str = "MXN"
    equivalence: Decimal = attrs.field(default=_ONE, converter=to_money)
    series: str | None = None
    folio: str | None = None
    tax_object: str = "02"
    taxes: tuple[TaxSummary, ...] = attrs.field(default=(), converter=_tax_summaries)

    @property
    def remaining_balance(self) -> Decimal:
        """ImpSaldoInsoluto: ImpSaldoAnt − ImpPagado."""
        return self.previous_balance - self.amount_paid

    @property
    def transferred(self) -> tuple[TaxSummary, ...]:
        """TrasladosDR."""
        return tuple(t for t in self.taxes if not t.withholding)

    @property
    def withheld(self) -> tuple[TaxSummary, ...]:
        """RetencionesDR."""
        return tuple(t for t in self.taxes if t.withholding)


def _group_payment_taxes(
    documents: Sequence[PaidDocument], withholding: bool
) -> tuple[TaxSummary, ...]:
    # Each document's taxes are in its own currency: EquivalenciaDR brings them to the payment's.
    sums = sum_per_tax_group(
        (
            (tax.kind, tax.factor, tax.rate),
            tax.base / document.equivalence,
            None if tax.amount is None else tax.amount / document.equivalence,
        )
        for document in documents
        for tax in document.taxes
        if tax.withholding is withholding
    )
    return tuple(
        TaxSummary(
            kind,
            factor,
            rate,
            withholding,
            quantize(base, _P_PLACES),
            None if amount is None else quantize(amount, _P_PLACES),
        )
        for (kind, factor, rate), (base, amount) in sums.items()
    )


@attrs.frozen(slots=True)
class Payment:
    """Pago: one payment received, and the invoices it settles.

    Attributes:
        paid_at: FechaPago, when the money was received (not when the receipt is issued).
        form: FormaDePagoP (c_FormaPago; never ``99``).
        amount: Monto, in the payment's currency.
        documents: the invoices this payment settles.
        currency: MonedaP (c_Moneda; never ``XXX``).
        exchange_rate: TipoCambioP, MXN per unit of ``currency``; ``1`` is written for MXN.
        operation_number: NumOperacion (bank reference, cheque number...).
        payer_bank_rfc: RfcEmisorCtaOrd.
        payer_bank_name: NomBancoOrdExt (foreign banks).
        payer_account: CtaOrdenante.
        payee_bank_rfc: RfcEmisorCtaBen.
        payee_account: CtaBeneficiario.
    """

    paid_at: datetime
    form: str
    amount: Decimal = attrs.field(converter=to_money)
    documents: tuple[PaidDocument, ...] = attrs.field(converter=_paid_documents)
    currency: str = "MXN"
    exchange_rate: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    operation_number: str | None = None
    payer_bank_rfc: str | None = None
    payer_bank_name: str | None = None
    payer_account: str | None = None
    payee_bank_rfc: str | None = None
    payee_account: str | None = None

    @property
    def effective_exchange_rate(self) -> Decimal:
        """TipoCambioP to write: the given one, else ``1`` (MXN)."""
        return self.exchange_rate if self.exchange_rate is not None else _ONE

    @property
    def transferred(self) -> tuple[TaxSummary, ...]:
        """TrasladosP: document taxes per (tax, factor, rate) in the payment's currency."""
        return _group_payment_taxes(self.documents, withholding=False)

    @property
    def withheld(self) -> tuple[TaxSummary, ...]:
        """RetencionesP: withheld document taxes per tax, in the payment's currency."""
        return _group_payment_taxes(self.documents, withholding=True)


@attrs.frozen(slots=True)
class ReceiptTotals:
    """Totales of Pagos 2.0, in MXN with two decimals (``None`` where the receipt has none)."""

    total_amount: Decimal
    withheld_iva: Decimal | None = None
    withheld_isr: Decimal | None = None
    withheld_ieps: Decimal | None = None
    base_iva16: Decimal | None = None
    iva16: Decimal | None = None
    base_iva8: Decimal | None = None
    iva8: Decimal | None = None
    base_iva0: Decimal | None = None
    iva0: Decimal | None = None
    base_iva_exempt: Decimal | None = None


_IVA_RATES = {Decimal("0.16"): "16", Decimal("0.08"): "8", Decimal("0"): "0"}


def _receipt_totals(payments: Sequence[Payment]) -> ReceiptTotals:
    sums: dict[str, Decimal] = {}

    def add(name: str, value: Decimal) -> None:
        sums[name] = sums.get(name, _ZERO) + value

    total = _ZERO
    for payment in payments:
        rate = payment.effective_exchange_rate
        total += payment.amount * rate
        for tax in payment.withheld:
            add(f"withheld_{tax.kind.value.lower()}", (tax.amount or _ZERO) * rate)
        for tax in payment.transferred:
            if tax.kind is not TaxKind.IVA:
                continue
            if tax.factor is TaxFactor.EXEMPT:
                add("base_iva_exempt", tax.base * rate)
                continue
            suffix = _IVA_RATES.get((tax.rate or _ZERO).normalize())
            if suffix is None:
                continue
            add(f"base_iva{suffix}", tax.base * rate)
            add(f"iva{suffix}", (tax.amount or _ZERO) * rate)
    two = {name: quantize(value, 2) for name, value in sums.items()}
    return ReceiptTotals(total_amount=quantize(total, 2), **two)


@attrs.frozen(slots=True)
class PayableInvoice:
    """An invoice that can be paid: what a payment receipt needs to know about it.

    Build it from a parsed CFDI (:meth:`from_cfdi`, what a vendor's ``download(ref, "xml")``
    gives back) or from the :class:`~apunto_connect.models.Invoice` you stamped and its UUID
    (:meth:`from_invoice`).

    Attributes:
        uuid: folio fiscal of the invoice.
        total: its Total.
        currency: its Moneda.
        taxes: its document-level taxes (transferred and withheld groups).
        series: Serie.
        folio: Folio.
        paid_before: what earlier payment receipts already applied to it.
        installments_before: how many earlier payment receipts it has (the next NumParcialidad
            is one more).
    """

    uuid: str
    total: Decimal = attrs.field(converter=to_money)
    currency: str = "MXN"
    taxes: tuple[TaxSummary, ...] = attrs.field(default=(), converter=_tax_summaries)
    series: str | None = None
    folio: str | None = None
    paid_before: Decimal = attrs.field(default=_ZERO, converter=to_money)
    installments_before: int = 0

    @property
    def balance(self) -> Decimal:
        """What is still owed."""
        return self.total - self.paid_before

    @property
    def tax_object(self) -> str:
        """ObjetoImpDR: ``02`` when the invoice itemised taxes, ``01`` otherwise."""
        return "02" if self.taxes else "01"

    @classmethod
    def from_invoice(cls, invoice: Invoice, uuid: str) -> PayableInvoice:
        """The invoice you stamped, with the UUID the vendor gave it."""
        totals = invoice.totals
        return cls(
            uuid=uuid.upper(),
            total=totals.total,
            currency=invoice.currency,
            taxes=(*totals.transferred, *totals.withheld),
            series=invoice.series,
            folio=invoice.folio,
        )

    @classmethod
    def from_cfdi(cls, cfdi: Cfdi) -> PayableInvoice:
        """A parsed, stamped CFDI (see :func:`apunto_connect.cfdi.parse`).

        Raises:
            ValidationError: the document is not stamped (no UUID to pay against).
        """
        if cfdi.uuid is None:
            raise ValidationError(
                "the CFDI is not stamped: a payment needs the invoice's UUID",
                field="uuid", code="APUNTO-701",
            )
        taxes: list[TaxSummary] = []
        if cfdi.taxes is not None:
            for line in cfdi.taxes.transferred:
                kind = line.kind
                if kind is None:
                    continue
                taxes.append(
                    TaxSummary(
                        kind, line.tax_factor or TaxFactor.RATE, line.rate, False,
                        line.base if line.base is not None else _ZERO, line.amount,
                    )
                )
        # Document-level retentions carry no base or rate in CFDI 4.0: sum them from the
        # concepts, which do.
        taxes.extend(_withheld_from_concepts(cfdi))
        return cls(
            uuid=cfdi.uuid,
            total=cfdi.total,
            currency=cfdi.currency,
            taxes=tuple(taxes),
            series=cfdi.series,
            folio=cfdi.folio,
        )


def _withheld_from_concepts(cfdi: Cfdi) -> list[TaxSummary]:
    bases: dict[tuple[TaxKind, TaxFactor, Decimal | None], list[Decimal]] = {}
    for concept in cfdi.concepts:
        for line in concept.withheld:
            kind = line.kind
            if kind is None:
                continue
            key = (kind, line.tax_factor or TaxFactor.RATE, line.rate)
            sums = bases.setdefault(key, [_ZERO, _ZERO])
            sums[0] += line.base or _ZERO
            sums[1] += line.amount or _ZERO
    return [
        TaxSummary(kind, factor, rate, True, base, amount)
        for (kind, factor, rate), (base, amount) in bases.items()
    ]


def _document_taxes(
    invoice: PayableInvoice, amount_paid: Decimal, places: int
) -> tuple[TaxSummary, ...]:
    settles_all_at_once = invoice.paid_before == 0 and amount_paid == invoice.total
    proportion = amount_paid / invoice.total if invoice.total else _ZERO
    taxes = []
    for tax in invoice.taxes:
        if settles_all_at_once:
            base = quantize(tax.base, places)
        else:
            base = quantize(tax.base * proportion, places)
        amount: Decimal | None = None
        if tax.factor is not TaxFactor.EXEMPT:
            if settles_all_at_once and tax.amount is not None:
                amount = tax.amount
            elif tax.factor is TaxFactor.QUOTA:
                amount = quantize((tax.amount or _ZERO) * proportion, places)
            else:
                amount = quantize(base * (tax.rate or _ZERO), places)
        taxes.append(TaxSummary(tax.kind, tax.factor, tax.rate, tax.withholding, base, amount))
    return tuple(taxes)


def _previous_state(
    receipts: Iterable[PaymentReceipt],
) -> dict[str, tuple[int, Decimal]]:
    """Per UUID: the last instalment number and the balance it left."""
    state: dict[str, tuple[int, Decimal]] = {}
    for receipt in receipts:
        for payment in receipt.payments:
            for document in payment.documents:
                key = document.uuid.upper()
                if key not in state or document.installment > state[key][0]:
                    state[key] = (document.installment, document.remaining_balance)
    return state


@attrs.frozen(slots=True)
class PaymentReceipt:
    """A payment receipt: CFDI type P carrying the Pagos 2.0 complement.

    The host CFDI is fixed by the SAT (currency XXX, totals 0, UsoCFDI CP01, one concept
    84111506 / ACT / "Pago"); :meth:`to_invoice` writes it. Build receipts with
    :meth:`for_invoices` rather than by hand.

    Attributes:
        customer: the receiver (the one who paid the invoices).
        payments: the payments received (usually one).
        issuer: the issuer (the one who issued the invoices).
        series: Serie of the receipt.
        folio: Folio of the receipt.
        issued_at: Fecha of the receipt (when it is issued; the payment's date is FechaPago).
        related: CfdiRelacionados (TipoRelacion ``04`` when it replaces a cancelled receipt).
    """

    customer: Customer
    payments: tuple[Payment, ...] = attrs.field(converter=_payments)
    issuer: Issuer | None = None
    series: str | None = None
    folio: str | None = None
    issued_at: datetime | None = None
    related: tuple[RelatedDocuments, ...] = attrs.field(default=(), converter=to_related_documents)

    @property
    def documents(self) -> tuple[PaidDocument, ...]:
        """Every paid document of every payment, in order."""
        return tuple(d for p in self.payments for d in p.documents)

    @property
    def totals(self) -> ReceiptTotals:
        """Totales: the amounts and taxes in MXN."""
        return _receipt_totals(self.payments)

    def balances(self) -> dict[str, Decimal]:
        """ImpSaldoInsoluto per invoice UUID after this receipt (handy for open balances)."""
        return {d.uuid.upper(): d.remaining_balance for d in self.documents}

    def to_invoice(self) -> Invoice:
        """The host CFDI the SAT requires for a payment receipt (type P, XXX, CP01, 0)."""
        customer = attrs.evolve(self.customer, cfdi_use="CP01")
        return Invoice(
            customer=customer,
            items=[
                LineItem(
                    product_code=PAYMENT_PRODUCT_CODE,
                    unit_code="ACT",
                    description=PAYMENT_CONCEPT_DESCRIPTION,
                    quantity=1,
                    unit_price=0,
                    tax_object="01",
                )
            ],
            issuer=self.issuer,
            currency="XXX",
            cfdi_use="CP01",
            series=self.series,
            folio=self.folio,
            issued_at=self.issued_at,
            kind=InvoiceKind.PAYMENT,
            related=self.related,
        )

    @classmethod
    def for_invoices(
        cls,
        invoices: Iterable[PayableInvoice | Cfdi],
        *,
        amount: Decimal | str | int,
        paid_at: datetime,
        form: str,
        currency: str = "MXN",
        exchange_rate: Decimal | str | None = None,
        equivalences: Mapping[str, Decimal | str] | None = None,
        previous: Iterable[PaymentReceipt] = (),
        customer: Customer | None = None,
        issuer: Issuer | None = None,
        series: str | None = None,
        folio: str | None = None,
        issued_at: datetime | None = None,
        operation_number: str | None = None,
    ) -> PaymentReceipt:
        """Build the receipt for ``amount`` received on ``paid_at``, applied to ``invoices``.

        Args:
            invoices: the invoices paid, in the order the money is applied: parsed CFDI
                (:class:`apunto_connect.cfdi.Cfdi`) or :class:`PayableInvoice`.
            amount: Monto, in ``currency``.
            paid_at: FechaPago.
            form: FormaDePagoP (``03`` transfer, ``02`` cheque, ``01`` cash...).
            currency: MonedaP.
            exchange_rate: TipoCambioP (MXN per unit), required when ``currency`` is not MXN.
            equivalences: EquivalenciaDR per invoice UUID for invoices in another currency than
                the payment (units of the invoice's currency per unit of the payment's).
            previous: earlier receipts for these invoices: they give the instalment number and
                the balance left (ImpSaldoAnt of this payment = ImpSaldoInsoluto of the last).
            customer: the receiver; taken from the first parsed CFDI when not given.
            issuer: the issuer; taken from the first parsed CFDI when not given.
            series: Serie of the receipt.
            folio: Folio of the receipt.
            issued_at: Fecha of the receipt.
            operation_number: NumOperacion.

        Raises:
            Overpayment: ``amount`` exceeds what the invoices still owe.
            ValidationError: no invoices, an amount that is not positive, an invoice in another
                currency without its equivalence, an invoice already paid in full, or no
                customer/issuer to be found.
        """
        received = to_decimal(amount, field="amount")
        places = _places(currency)
        if received <= 0:
            raise ValidationError("the amount received must be positive", field="amount",
                                  code="APUNTO-702")
        payables: list[PayableInvoice] = []
        for item in invoices:
            if isinstance(item, PayableInvoice):
                payables.append(item)
            else:  # a parsed Cfdi (not imported here: that would load lxml)
                customer = customer or _customer_from(item)
                issuer = issuer or _issuer_from(item)
                payables.append(PayableInvoice.from_cfdi(item))
        if not payables:
            raise ValidationError("a payment receipt pays at least one invoice",
                                  field="invoices", code="APUNTO-703")
        if customer is None:
            raise ValidationError("customer= is required when no parsed CFDI gives it",
                                  field="customer", code="APUNTO-704")
        state = _previous_state(previous)
        rates = {k.upper(): to_decimal(v, field="equivalences") for k, v in
                 (equivalences or {}).items()}
        left = received
        documents: list[PaidDocument] = []
        for index, payable in enumerate(payables):
            uuid = payable.uuid.upper()
            installment, balance = state.get(
                uuid, (payable.installments_before, payable.balance)
            )
            if balance <= 0:
                raise ValidationError(
                    f"invoice {uuid} has no open balance", field=f"invoices[{index}]",
                    code="APUNTO-705",
                )
            equivalence = _ONE
            if payable.currency != currency:
                if uuid not in rates:
                    raise ValidationError(
                        f"invoice {uuid} is in {payable.currency} and the payment in "
                        f"{currency}: give equivalences={{uuid: units of {payable.currency} "
                        f"per {currency}}}",
                        field=f"equivalences[{uuid}]", code="APUNTO-706",
                    )
                equivalence = quantize(rates[uuid], _EQUIVALENCE_PLACES).normalize()
            if left <= 0:
                raise Overpayment(
                    [Issue("invoices", "APUNTO-707",
                           f"nothing left of the payment for invoice {uuid}",
                           f"No queda importe del pago para la factura {uuid}")]
                )
            dr_places = _places(payable.currency)
            owed_in_payment = quantize(balance / equivalence, places)
            if left >= owed_in_payment:
                paid = balance
                left -= owed_in_payment
            else:
                paid = quantize(left * equivalence, dr_places)
                left = _ZERO
            settles = attrs.evolve(payable, paid_before=payable.total - balance)
            documents.append(
                PaidDocument(
                    uuid=uuid,
                    previous_balance=balance,
                    amount_paid=paid,
                    installment=installment + 1,
                    currency=payable.currency,
                    equivalence=equivalence,
                    series=payable.series,
                    folio=payable.folio,
                    tax_object=payable.tax_object,
                    taxes=_document_taxes(settles, paid, dr_places),
                )
            )
        if left > 0:
            owed = received - left
            raise Overpayment(
                [Issue(
                    "amount", "APUNTO-700",
                    f"the payment of {received} {currency} exceeds the open balance of the "
                    f"invoices ({owed} {currency}) by {left}",
                    f"El pago de {received} {currency} excede el saldo de las facturas "
                    f"({owed} {currency}) por {left}",
                )]
            )
        payment = Payment(
            paid_at=paid_at,
            form=form,
            amount=round_money(received, currency),
            documents=documents,
            currency=currency,
            exchange_rate=None if exchange_rate is None else to_decimal(exchange_rate),
            operation_number=operation_number,
        )
        return cls(customer=customer, payments=[payment], issuer=issuer, series=series,
                   folio=folio, issued_at=issued_at)


def _customer_from(cfdi: Cfdi) -> Customer:
    receiver = cfdi.receiver
    return Customer(
        rfc=receiver.rfc,
        legal_name=receiver.name or "",
        tax_regime=receiver.tax_regime or "",
        zip_code=receiver.zip_code or "",
        cfdi_use="CP01",
        tax_residence=receiver.tax_residence,
        foreign_tax_id=receiver.foreign_tax_id,
    )


def _issuer_from(cfdi: Cfdi) -> Issuer:
    return Issuer(
        rfc=cfdi.issuer.rfc,
        legal_name=cfdi.issuer.name or "",
        tax_regime=cfdi.issuer.tax_regime or "",
        zip_code=cfdi.place_of_issue or "",
    )
