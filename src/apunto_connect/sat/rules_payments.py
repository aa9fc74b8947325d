"""Pre-flight rules for payment receipts (Pagos 2.0), named by the SAT's ``CRP`` codes.

The host CFDI (type P, XXX, CP01, one concept) is checked by :mod:`.rules` on
:meth:`PaymentReceipt.to_invoice`; this module checks the complement: the payment, its bank
fields, every paid document's balances, currency equivalence and taxes.

Codes follow the numbering scheme of the SAT's Matriz de errores of the Pagos 2.0 complement
(``CRP2…`` for the complement's nodes). The matrix itself could not be consulted while these
rules were written (no network), so each code number should be checked against the published
matrix; the conditions come from the Pagos 2.0 filling guide and schema. Where a check is this
SDK's own advice (no matrix rule), the code is ours (``APUNTO-71x``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .._wire import UUID_PATTERN
from ..errors import Issue
from ..models.invoices import TaxFactor
from ..models.payments import PaidDocument, Payment, PaymentReceipt
from ..money import sat_tax_bounds
from . import catalogs
from ._findings import Findings, decimal_places

__all__ = ["preflight_payment_receipt"]

_ONE = Decimal(1)
_ZERO = Decimal(0)

# Bank fields a payment may carry only with a banked payment form (c_FormaPago's "Bancarizado").
_BANK_FIELDS = (
    ("payer_bank_rfc", "RfcEmisorCtaOrd", "CRP20211"),
    ("payer_account", "CtaOrdenante", "CRP20213"),
    ("payee_bank_rfc", "RfcEmisorCtaBen", "CRP20215"),
    ("payee_account", "CtaBeneficiario", "CRP20217"),
)


def _check_currency(out: Findings, field: str, code: str, sat_name: str, currency: str) -> bool:
    """Whether ``currency`` is a c_Moneda code other than XXX; when not, error ``code`` says so."""
    if currency != "XXX" and catalogs.is_currency(currency):
        return True
    out.error(f"{field}.currency", code,
              f"{sat_name} must be a c_Moneda code other than XXX, got {currency!r}",
              f"{sat_name} debe ser una clave de c_Moneda distinta de XXX, se recibió "
              f"{currency!r}")
    return False


def _check_payment_fields(out: Findings, field: str, payment: Payment) -> None:
    form = payment.form
    if form == "99" or form not in catalogs.PAYMENT_FORMS:
        out.error(f"{field}.form", "CRP20201",
                  f"FormaDePagoP must be a c_FormaPago code other than 99, got {form!r}",
                  f"FormaDePagoP debe ser una clave de c_FormaPago distinta de 99, se recibió "
                  f"{form!r}")
    currency = payment.currency
    if not _check_currency(out, field, "CRP20202", "MonedaP", currency):
        return
    rate = payment.exchange_rate
    if currency != "MXN" and rate is None:
        out.error(f"{field}.exchange_rate", "CRP20203",
                  f"TipoCambioP is required for payments in {currency}",
                  f"TipoCambioP es obligatorio para pagos en {currency}")
    if currency == "MXN" and rate is not None and rate != _ONE:
        out.error(f"{field}.exchange_rate", "CRP20204",
                  "TipoCambioP must be 1 for payments in MXN",
                  "TipoCambioP debe ser 1 para pagos en MXN")
    if (out.positive(f"{field}.amount", "CRP20205", "Monto", payment.amount)
            and decimal_places(payment.amount) > catalogs.currency_decimals(currency)):
        out.error(f"{field}.amount", "CRP20206",
                  f"Monto has more decimals than {currency} allows",
                  f"Monto tiene más decimales de los que admite {currency}")
    if form not in catalogs.BANKED_PAYMENT_FORMS:
        for attribute, sat_name, code in _BANK_FIELDS:
            if getattr(payment, attribute):
                out.error(f"{field}.{attribute}", code,
                          f"{sat_name} is only for banked payment forms, not {form!r}",
                          f"{sat_name} solo aplica a formas de pago bancarizadas, no a {form!r}")


def _check_applied_amount(out: Findings, field: str, payment: Payment) -> None:
    """CRP20207: the documents' ImpPagado, converted to MonedaP, must not exceed Monto."""
    places = catalogs.currency_decimals(payment.currency) if catalogs.is_currency(
        payment.currency) else 2
    half = Decimal(1).scaleb(-places) / 2
    applied_lower = _ZERO
    for document in payment.documents:
        if document.equivalence <= 0:
            return  # reported per document
        dr_half = Decimal(1).scaleb(-decimal_places(document.amount_paid)) / 2
        applied_lower += (document.amount_paid - dr_half) / document.equivalence
    if applied_lower > payment.amount + half:
        out.error(f"{field}.documents", "CRP20207",
                  f"the amounts applied to the documents exceed Monto {payment.amount}",
                  f"La suma de ImpPagado de los documentos excede el Monto {payment.amount}")


def _check_document(out: Findings, field: str, payment: Payment, document: PaidDocument) -> None:
    if not UUID_PATTERN.fullmatch(document.uuid):
        out.error(f"{field}.uuid", "CRP20219",
                  f"IdDocumento {document.uuid!r} is not a folio fiscal (36-character UUID)",
                  f"IdDocumento {document.uuid!r} no es un folio fiscal (UUID de 36 caracteres)")
    currency = document.currency
    if not _check_currency(out, field, "CRP20220", "MonedaDR", currency):
        return
    if currency == payment.currency and document.equivalence != _ONE:
        out.error(f"{field}.equivalence", "CRP20221",
                  "EquivalenciaDR must be 1 when MonedaDR equals MonedaP",
                  "EquivalenciaDR debe ser 1 cuando MonedaDR es igual a MonedaP")
    out.positive(f"{field}.equivalence", "CRP20222", "EquivalenciaDR", document.equivalence)
    if document.installment < 1:
        out.error(f"{field}.installment", "CRP20223", "NumParcialidad starts at 1",
                  "NumParcialidad inicia en 1")
    out.positive(f"{field}.previous_balance", "CRP20224", "ImpSaldoAnt", document.previous_balance)
    out.positive(f"{field}.amount_paid", "CRP20225", "ImpPagado", document.amount_paid)
    if document.remaining_balance < 0:
        out.error(f"{field}.amount_paid", "CRP20226",
                  f"ImpPagado {document.amount_paid} exceeds ImpSaldoAnt "
                  f"{document.previous_balance}: ImpSaldoInsoluto would be negative",
                  f"ImpPagado {document.amount_paid} excede ImpSaldoAnt "
                  f"{document.previous_balance}: ImpSaldoInsoluto sería negativo")
    places = catalogs.currency_decimals(currency)
    for name, value in (("previous_balance", document.previous_balance),
                        ("amount_paid", document.amount_paid)):
        if decimal_places(value) > places:
            out.error(f"{field}.{name}", "CRP20227",
                      f"{name} has more decimals than {currency} allows",
                      f"{name} tiene más decimales de los que admite {currency}")
    _check_document_taxes(out, field, document)


def _check_document_taxes(out: Findings, field: str, document: PaidDocument) -> None:
    tax_object = document.tax_object
    if tax_object not in catalogs.TAX_OBJECTS:
        out.error(f"{field}.tax_object", "CRP20230",
                  f"ObjetoImpDR {tax_object!r} is not a c_ObjetoImp code",
                  f"ObjetoImpDR {tax_object!r} no es una clave de c_ObjetoImp")
        return
    if tax_object == "02" and not document.taxes:
        out.error(f"{field}.taxes", "CRP20228",
                  "ObjetoImpDR 02 needs ImpuestosDR (the share of the invoice's taxes)",
                  "ObjetoImpDR 02 requiere ImpuestosDR (la parte proporcional de los impuestos)")
    if tax_object != "02" and document.taxes:
        out.error(f"{field}.taxes", "CRP20229",
                  f"ObjetoImpDR {tax_object} carries no ImpuestosDR",
                  f"Con ObjetoImpDR {tax_object} no se registra ImpuestosDR")
    for index, tax in enumerate(document.taxes):
        if tax.factor is not TaxFactor.RATE or tax.rate is None or tax.amount is None:
            continue
        lower, upper = sat_tax_bounds(tax.base, tax.rate, max(decimal_places(tax.base), 2))
        if not lower <= tax.amount <= upper:
            out.error(f"{field}.taxes[{index}].amount", "CRP20231",
                      f"ImporteDR {tax.amount} is outside [{lower}, {upper}] for BaseDR "
                      f"{tax.base} at {tax.rate}",
                      f"ImporteDR {tax.amount} está fuera de [{lower}, {upper}] para BaseDR "
                      f"{tax.base} a la tasa {tax.rate}")


def _check_receipt_date(out: Findings, receipt: PaymentReceipt) -> None:
    issued = receipt.issued_at
    if issued is None:
        return
    for index, payment in enumerate(receipt.payments):
        paid = payment.paid_at.replace(tzinfo=None)
        when = issued.replace(tzinfo=None)
        if paid > when:
            out.error(f"payments[{index}].paid_at", "APUNTO-710",
                      "FechaPago is after the receipt's Fecha: a receipt follows the payment",
                      "FechaPago es posterior a la Fecha del recibo: el recibo sigue al pago")
            continue
        # The filling guide: issue the receipt by the 5th calendar day of the following month.
        year, month = (paid.year + 1, 1) if paid.month == 12 else (paid.year, paid.month + 1)
        if when > datetime(year, month, 5, 23, 59, 59):
            out.warning(f"payments[{index}].paid_at", "APUNTO-712",
                        "the receipt is due by the 5th day of the month after the payment",
                        "El recibo debe emitirse a más tardar el día 5 del mes siguiente al pago")


def preflight_payment_receipt(receipt: PaymentReceipt) -> list[Issue]:
    """Every Pagos 2.0 issue of ``receipt`` (the host CFDI is checked by :func:`.preflight`)."""
    out = Findings()
    if not receipt.payments:
        out.error("payments", "APUNTO-711", "a payment receipt carries at least one payment",
                  "Un recibo de pago lleva al menos un pago")
    for p_index, payment in enumerate(receipt.payments):
        field = f"payments[{p_index}]"
        _check_payment_fields(out, field, payment)
        if not payment.documents:
            out.error(f"{field}.documents", "APUNTO-713",
                      "a payment settles at least one document (DoctoRelacionado)",
                      "Un pago liquida al menos un documento (DoctoRelacionado)")
        seen: set[str] = set()
        for d_index, document in enumerate(payment.documents):
            key = document.uuid.upper()
            if key in seen:
                out.error(f"{field}.documents[{d_index}].uuid", "CRP20232",
                          f"IdDocumento {key} appears twice in the same payment",
                          f"IdDocumento {key} aparece dos veces en el mismo pago")
            seen.add(key)
            _check_document(out, f"{field}.documents[{d_index}]", payment, document)
        if catalogs.is_currency(payment.currency):
            _check_applied_amount(out, field, payment)
    _check_receipt_date(out, receipt)
    return out.issues
