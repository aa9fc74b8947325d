"""Flatten parsed CFDI into plain dict rows for ``pandas.DataFrame(rows)`` or CSV writers.

Money stays :class:`~decimal.Decimal` (exact; pandas stores it in ``object`` columns). Convert
explicitly when you want floats for plotting or aggregation speed::

    df = pandas.DataFrame(to_records(parse_many("2024/")))
    df["total"] = df["total"].astype(float)

Dates are naive :class:`~datetime.datetime` (Mexico local time, as the SAT writes them).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from ..errors import ValidationError
from .models import Cfdi, Concept, TaxLine

__all__ = ["CONCEPT_COLUMNS", "DOCUMENT_COLUMNS", "to_records"]

DOCUMENT_COLUMNS: tuple[str, ...] = (
    "source", "uuid", "version", "kind", "series", "folio", "issued_at", "stamped_at", "pac_rfc",
    "issuer_rfc", "issuer_name", "issuer_tax_regime",
    "receiver_rfc", "receiver_name", "receiver_zip_code", "receiver_tax_regime", "cfdi_use",
    "currency", "exchange_rate", "payment_form", "payment_method", "export_code",
    "place_of_issue", "subtotal", "discount", "total_transferred", "total_withheld",
    "iva_transferred", "ieps_transferred", "iva_withheld", "isr_withheld", "ieps_withheld",
    "total", "concept_count", "relation_types", "related_uuids", "payments_total",
    "paid_documents", "carta_porte_id", "complements",
)
"""Columns of a ``level="document"`` row, in order."""

CONCEPT_COLUMNS: tuple[str, ...] = (
    "concept_index", "product_code", "sku", "description", "quantity", "unit_code",
    "unit_name", "unit_price", "amount", "concept_discount", "tax_object",
    "concept_transferred", "concept_withheld", "iva_rate",
)
"""Columns a ``level="concept"`` row adds after the document columns."""

_ZERO = Decimal(0)


def _sum(taxes: Iterable[TaxLine], code: str | None = None) -> Decimal | None:
    """Sum of the amounts of ``taxes`` (of one c_Impuesto code); ``None`` when there are none."""
    total: Decimal | None = None
    for tax in taxes:
        if (code is None or tax.tax == code) and tax.amount is not None:
            total = (total or _ZERO) + tax.amount
    return total


def _complement_names(cfdi: Cfdi) -> str:
    names = []
    if cfdi.stamp is not None:
        names.append("TimbreFiscalDigital")
    if cfdi.payments is not None:
        names.append("Pagos")
    if cfdi.carta_porte is not None:
        names.append("CartaPorte")
    names.extend(raw.name for raw in cfdi.complements)
    return ",".join(names)


def _document_row(cfdi: Cfdi) -> dict[str, Any]:
    taxes = cfdi.taxes
    transferred = taxes.transferred if taxes else ()
    withheld = taxes.withheld if taxes else ()
    stamp = cfdi.stamp
    payments = cfdi.payments
    if payments is None:
        payments_total = None
    elif payments.totals is not None:
        payments_total = payments.totals.total_amount
    else:
        payments_total = sum((p.amount for p in payments.payments), _ZERO)
    return {
        "source": cfdi.source,
        "uuid": cfdi.uuid,
        "version": cfdi.version,
        "kind": cfdi.kind,
        "series": cfdi.series,
        "folio": cfdi.folio,
        "issued_at": cfdi.issued_at,
        "stamped_at": stamp.stamped_at if stamp else None,
        "pac_rfc": stamp.pac_rfc if stamp else None,
        "issuer_rfc": cfdi.issuer.rfc,
        "issuer_name": cfdi.issuer.name,
        "issuer_tax_regime": cfdi.issuer.tax_regime,
        "receiver_rfc": cfdi.receiver.rfc,
        "receiver_name": cfdi.receiver.name,
        "receiver_zip_code": cfdi.receiver.zip_code,
        "receiver_tax_regime": cfdi.receiver.tax_regime,
        "cfdi_use": cfdi.receiver.cfdi_use,
        "currency": cfdi.currency,
        "exchange_rate": cfdi.exchange_rate,
        "payment_form": cfdi.payment_form,
        "payment_method": cfdi.payment_method,
        "export_code": cfdi.export_code,
        "place_of_issue": cfdi.place_of_issue,
        "subtotal": cfdi.subtotal,
        "discount": cfdi.discount,
        "total_transferred": taxes.total_transferred if taxes else None,
        "total_withheld": taxes.total_withheld if taxes else None,
        "iva_transferred": _sum(transferred, "002"),
        "ieps_transferred": _sum(transferred, "003"),
        "iva_withheld": _sum(withheld, "002"),
        "isr_withheld": _sum(withheld, "001"),
        "ieps_withheld": _sum(withheld, "003"),
        "total": cfdi.total,
        "concept_count": len(cfdi.concepts),
        "relation_types": ",".join(r.relation_type for r in cfdi.related) or None,
        "related_uuids": ",".join(u for r in cfdi.related for u in r.uuids) or None,
        "payments_total": payments_total,
        "paid_documents": len(payments.documents) if payments else None,
        "carta_porte_id": cfdi.carta_porte.id_ccp if cfdi.carta_porte else None,
        "complements": _complement_names(cfdi) or None,
    }


def _iva_rate(concept: Concept) -> Decimal | None:
    for tax in concept.transferred:
        if tax.tax == "002":
            return tax.rate
    return None


def _concept_row(index: int, concept: Concept) -> dict[str, Any]:
    return {
        "concept_index": index,
        "product_code": concept.product_code,
        "sku": concept.sku,
        "description": concept.description,
        "quantity": concept.quantity,
        "unit_code": concept.unit_code,
        "unit_name": concept.unit_name,
        "unit_price": concept.unit_price,
        "amount": concept.amount,
        "concept_discount": concept.discount,
        "tax_object": concept.tax_object,
        "concept_transferred": _sum(concept.transferred),
        "concept_withheld": _sum(concept.withheld),
        "iva_rate": _iva_rate(concept),
    }


def to_records(
    cfdis: Iterable[Cfdi] | Cfdi,
    level: Literal["document", "concept"] = "document",
) -> list[dict[str, Any]]:
    """Flatten documents into rows: one per document, or one per concept.

    Args:
        cfdis: parsed documents (a list, or the stream from ``parse_many``), or just one.
        level: ``"document"``: one row per document with :data:`DOCUMENT_COLUMNS`;
            ``"concept"``: one row per Concepto with the document columns repeated and
            :data:`CONCEPT_COLUMNS` added.

    Returns:
        A list of dicts with the same keys in the same order, ready for
        ``pandas.DataFrame(rows)``. Amounts stay :class:`~decimal.Decimal`; per-tax columns
        (``iva_transferred``...) sum the Comprobante-level tax rows and are ``None`` when the
        document has none of that tax.
    """
    if level not in ("document", "concept"):
        raise ValidationError(
            f"level must be 'document' or 'concept', not {level!r}",
            field="level", code="APUNTO-CFDI-040",
        )
    if isinstance(cfdis, Cfdi):
        cfdis = (cfdis,)
    rows: list[dict[str, Any]] = []
    for cfdi in cfdis:
        document = _document_row(cfdi)
        if level == "document":
            rows.append(document)
            continue
        for index, concept in enumerate(cfdi.concepts):
            rows.append({**document, **_concept_row(index, concept)})
    return rows
