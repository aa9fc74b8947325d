"""Pre-flight for the documents beyond a plain invoice: one entry point, one rule set each.

:func:`apunto_connect.sat.preflight` (and so :func:`~apunto_connect.sat.check`) hands any
:class:`~apunto_connect.models.PaymentReceipt`, :class:`~apunto_connect.models.CreditNote` or
:class:`~apunto_connect.models.CartaPorteInvoice` here: the host CFDI goes through the invoice
rules, then the document's own rules run.
"""

from __future__ import annotations

from typing import Any

from ..errors import Issue, Severity
from ..models.carta_porte import CartaPorteInvoice
from ..models.credit_notes import CreditNote
from ..models.documents import FiscalDocument
from ..models.invoices import Invoice
from ..models.parties import Issuer
from ..models.payments import PaymentReceipt
from .rules_carta_porte import preflight_carta_porte
from .rules_payments import preflight_payment_receipt

__all__ = ["preflight_document"]


def _credit_note_rules(note: CreditNote) -> list[Issue]:
    issues = []
    if not note.related_uuids:
        issues.append(Issue(
            "related_uuids", "APUNTO-820",
            "a credit note relates to at least one invoice (its UUID)",
            "Una nota de crédito se relaciona con al menos una factura (su UUID)",
        ))
    if note.payment_method.value != "PUE":
        issues.append(Issue(
            "payment_method", "APUNTO-821",
            "a credit note is settled when issued: MetodoPago PUE",
            "Una nota de crédito se liquida al emitirse: MetodoPago PUE",
            Severity.WARNING,
        ))
    return issues


def preflight_document(
    document: FiscalDocument, issuer: Issuer | None = None, **options: Any
) -> list[Issue]:
    """Every issue of ``document``: the host CFDI's and the document's own, errors first.

    ``options`` are :func:`~apunto_connect.sat.rules.preflight`'s keywords (``now``,
    ``date_window``, ``fix``), applied to the host CFDI.
    """
    from .rules import preflight as host_preflight

    def preflight(invoice: Invoice, issuer: Issuer | None) -> list[Issue]:
        return host_preflight(invoice, issuer, **options)

    found: list[Issue]
    if isinstance(document, Invoice):
        found = preflight(document, issuer)
    elif isinstance(document, PaymentReceipt):
        found = preflight(document.to_invoice(), issuer) + preflight_payment_receipt(document)
    elif isinstance(document, CreditNote):
        found = preflight(document.to_invoice(), issuer) + _credit_note_rules(document)
    elif isinstance(document, CartaPorteInvoice):
        found = preflight(document.invoice, issuer) + preflight_carta_porte(document)
    else:
        raise TypeError(f"cannot check a {type(document).__name__}")
    return sorted(found, key=lambda issue: issue.severity is not Severity.ERROR)
