"""Payment receipts, credit notes and Carta Porte invoices as CFDI XML, and back.

:func:`apunto_connect.cfdi.build` accepts these documents next to a plain
:class:`~apunto_connect.models.Invoice`; this module turns each into its host CFDI plus the
complement elements the writer puts in ``cfdi:Complemento`` (before the TimbreFiscalDigital):

* :class:`~apunto_connect.models.PaymentReceipt` → type P with ``pago20:Pagos`` (Pagos 2.0);
* :class:`~apunto_connect.models.CreditNote` → type E with its CfdiRelacionados group;
* :class:`~apunto_connect.models.CartaPorteInvoice` → type I or T with
  ``cartaporte31:CartaPorte`` (Carta Porte 3.1).

:func:`read_document` goes the other way: it reads the XML (through the safe parser) and gives
back the same model the document was built from.
"""

from __future__ import annotations

import os
from decimal import Decimal

from lxml import etree

from .._wire import local_text
from ..errors import ValidationError
from ..models.carta_porte import (
    CartaPorte,
    CartaPorteInvoice,
    WaybillFigure,
    WaybillGoods,
    WaybillLocation,
    WaybillTrailer,
    WaybillTruck,
)
from ..models.credit_notes import CreditNote, CreditNoteReason
from ..models.documents import FiscalDocument
from ..models.invoices import (
    Invoice,
    InvoiceKind,
    LineItem,
    PaymentMethod,
    Tax,
    TaxFactor,
    TaxKind,
    TaxSummary,
    quantize_rate,
)
from ..models.parties import Customer, Issuer
from ..models.payments import PaidDocument, Payment, PaymentReceipt
from ..money import quantize, round_money
from . import models as parsed
from ._writing import (
    MAX_DECIMALS,
    SCHEMA_LOCATION,
    currency_places,
    fixed_amount,
    set_attributes,
)

__all__ = [
    "CARTA_PORTE_NS",
    "PAGOS_NS",
    "Document",
    "carta_porte_invoice_from_cfdi",
    "credit_note_from_cfdi",
    "host_and_complements",
    "invoice_from_cfdi",
    "payment_receipt_from_cfdi",
    "read_document",
]

PAGOS_NS = "http://www.sat.gob.mx/Pagos20"
CARTA_PORTE_NS = "http://www.sat.gob.mx/CartaPorte31"
_PAGOS_SCHEMA = f"{PAGOS_NS} http://www.sat.gob.mx/sitio_internet/cfd/Pagos/Pagos20.xsd"
_CARTA_PORTE_SCHEMA = (
    f"{CARTA_PORTE_NS} http://www.sat.gob.mx/sitio_internet/cfd/CartaPorte/CartaPorte31.xsd"
)
_ONE = Decimal(1)
_ZERO = Decimal(0)

Document = FiscalDocument
"""Everything :func:`apunto_connect.cfdi.build` writes."""


# --- formatting ----------------------------------------------------------------------------
def _flexible(value: Decimal, min_places: int, max_places: int = MAX_DECIMALS) -> str:
    """At least ``min_places`` decimals, keeping up to ``max_places`` if the value has them."""
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return format(quantize(value, min(max(places, min_places), max_places)), "f")


# --- Pagos 2.0 -------------------------------------------------------------------------------
def _p(name: str) -> str:
    return f"{{{PAGOS_NS}}}{name}"


def _tax_rows(
    parent: etree._Element, withheld: tuple[TaxSummary, ...],
    transferred: tuple[TaxSummary, ...], suffix: str, places: int, with_base_on_withheld: bool,
) -> None:
    """RetencionesX then TrasladosX (the schema's order) with attributes named ``…X``."""
    if withheld:
        group = etree.SubElement(parent, _p(f"Retenciones{suffix}"))
        for tax in withheld:
            row = etree.SubElement(group, _p(f"Retencion{suffix}"))
            if with_base_on_withheld:
                row.set(f"Base{suffix}", _flexible(tax.base, places))
            row.set(f"Impuesto{suffix}", tax.kind.sat_code)
            if with_base_on_withheld:
                row.set(f"TipoFactor{suffix}", tax.factor.value)
                row.set(f"TasaOCuota{suffix}", format(quantize_rate(tax.rate or _ZERO), "f"))
            row.set(f"Importe{suffix}", _flexible(tax.amount or _ZERO, places))
    if transferred:
        group = etree.SubElement(parent, _p(f"Traslados{suffix}"))
        for tax in transferred:
            row = etree.SubElement(group, _p(f"Traslado{suffix}"))
            exempt = tax.factor is TaxFactor.EXEMPT
            set_attributes(
                row,
                (
                    (f"Base{suffix}", _flexible(tax.base, places)),
                    (f"Impuesto{suffix}", tax.kind.sat_code),
                    (f"TipoFactor{suffix}", tax.factor.value),
                    (f"TasaOCuota{suffix}",
                     None if exempt or tax.rate is None else format(quantize_rate(tax.rate), "f")),
                    (f"Importe{suffix}",
                     None if exempt or tax.amount is None else _flexible(tax.amount, places)),
                ),
            )


def _withheld_by_tax(taxes: tuple[TaxSummary, ...]) -> tuple[TaxSummary, ...]:
    """RetencionesP carry one row per tax (no base, factor or rate)."""
    sums: dict[TaxKind, Decimal] = {}
    for tax in taxes:
        sums[tax.kind] = sums.get(tax.kind, _ZERO) + (tax.amount or _ZERO)
    return tuple(
        TaxSummary(kind, TaxFactor.RATE, None, True, _ZERO, amount) for kind, amount in sums.items()
    )


def _pagos(receipt: PaymentReceipt) -> etree._Element:
    root = etree.Element(_p("Pagos"), nsmap={"pago20": PAGOS_NS})
    root.set(SCHEMA_LOCATION, _PAGOS_SCHEMA)
    root.set("Version", "2.0")
    totals = receipt.totals
    totales = etree.SubElement(root, _p("Totales"))

    def opt(value: Decimal | None) -> str | None:
        return None if value is None else fixed_amount(value, 2)

    set_attributes(
        totales,
        (
            ("TotalRetencionesIVA", opt(totals.withheld_iva)),
            ("TotalRetencionesISR", opt(totals.withheld_isr)),
            ("TotalRetencionesIEPS", opt(totals.withheld_ieps)),
            ("TotalTrasladosBaseIVA16", opt(totals.base_iva16)),
            ("TotalTrasladosImpuestoIVA16", opt(totals.iva16)),
            ("TotalTrasladosBaseIVA8", opt(totals.base_iva8)),
            ("TotalTrasladosImpuestoIVA8", opt(totals.iva8)),
            ("TotalTrasladosBaseIVA0", opt(totals.base_iva0)),
            ("TotalTrasladosImpuestoIVA0", opt(totals.iva0)),
            ("TotalTrasladosBaseIVAExento", opt(totals.base_iva_exempt)),
            ("MontoTotalPagos", fixed_amount(totals.total_amount, 2)),
        ),
    )
    for payment in receipt.payments:
        places = currency_places(payment.currency)
        pago = etree.SubElement(root, _p("Pago"))
        set_attributes(
            pago,
            (
                ("FechaPago", local_text(payment.paid_at)),
                ("FormaDePagoP", payment.form),
                ("MonedaP", payment.currency),
                ("TipoCambioP", _flexible(payment.effective_exchange_rate, 0)),
                ("Monto", fixed_amount(payment.amount, places)),
                ("NumOperacion", payment.operation_number),
                ("RfcEmisorCtaOrd", payment.payer_bank_rfc),
                ("NomBancoOrdExt", payment.payer_bank_name),
                ("CtaOrdenante", payment.payer_account),
                ("RfcEmisorCtaBen", payment.payee_bank_rfc),
                ("CtaBeneficiario", payment.payee_account),
            ),
        )
        for document in payment.documents:
            dr_places = currency_places(document.currency)
            docto = etree.SubElement(pago, _p("DoctoRelacionado"))
            set_attributes(
                docto,
                (
                    ("IdDocumento", document.uuid),
                    ("Serie", document.series),
                    ("Folio", document.folio),
                    ("MonedaDR", document.currency),
                    ("EquivalenciaDR", _flexible(document.equivalence, 0, 10)),
                    ("NumParcialidad", str(document.installment)),
                    ("ImpSaldoAnt", fixed_amount(document.previous_balance, dr_places)),
                    ("ImpPagado", fixed_amount(document.amount_paid, dr_places)),
                    ("ImpSaldoInsoluto", fixed_amount(document.remaining_balance, dr_places)),
                    ("ObjetoImpDR", document.tax_object),
                ),
            )
            if document.taxes and document.tax_object == "02":
                _tax_rows(etree.SubElement(docto, _p("ImpuestosDR")), document.withheld,
                          document.transferred, "DR", dr_places, with_base_on_withheld=True)
        transferred, withheld = payment.transferred, _withheld_by_tax(payment.withheld)
        if transferred or withheld:
            _tax_rows(etree.SubElement(pago, _p("ImpuestosP")), withheld, transferred, "P",
                      places, with_base_on_withheld=False)
    return root


# --- Carta Porte 3.1 -------------------------------------------------------------------------
def _c(name: str) -> str:
    return f"{{{CARTA_PORTE_NS}}}{name}"


def _weight(value: Decimal) -> str:
    return _flexible(value, 0, 3)


def _carta_porte(cp: CartaPorte) -> etree._Element:
    root = etree.Element(_c("CartaPorte"), nsmap={"cartaporte31": CARTA_PORTE_NS})
    root.set(SCHEMA_LOCATION, _CARTA_PORTE_SCHEMA)
    set_attributes(
        root,
        (
            ("Version", "3.1"),
            ("IdCCP", cp.id_ccp),
            ("TranspInternac", "Sí" if cp.international else "No"),
            ("TotalDistRec", _flexible(cp.total_distance, 0, 2)),
        ),
    )
    ubicaciones = etree.SubElement(root, _c("Ubicaciones"))
    for loc in cp.locations:
        ubicacion = etree.SubElement(ubicaciones, _c("Ubicacion"))
        set_attributes(
            ubicacion,
            (
                ("TipoUbicacion", loc.kind),
                ("IDUbicacion", loc.location_id),
                ("RFCRemitenteDestinatario", loc.rfc),
                ("NombreRemitenteDestinatario", loc.name),
                ("FechaHoraSalidaLlegada", None if loc.at is None else local_text(loc.at)),
                ("DistanciaRecorrida",
                 None if loc.distance is None else _flexible(loc.distance, 0, 2)),
            ),
        )
        set_attributes(
            etree.SubElement(ubicacion, _c("Domicilio")),
            (
                ("Municipio", loc.municipality),
                ("Estado", loc.state),
                ("Pais", loc.country),
                ("CodigoPostal", loc.zip_code),
            ),
        )
    mercancias = etree.SubElement(root, _c("Mercancias"))
    set_attributes(
        mercancias,
        (
            ("PesoBrutoTotal", _weight(cp.gross_weight)),
            ("UnidadPeso", cp.weight_unit),
            ("NumTotalMercancias", str(len(cp.goods))),
        ),
    )
    for goods in cp.goods:
        hazardous = None if goods.hazardous is None else ("Sí" if goods.hazardous else "No")
        set_attributes(
            etree.SubElement(mercancias, _c("Mercancia")),
            (
                ("BienesTransp", goods.product_code),
                ("Descripcion", goods.description),
                ("Cantidad", _flexible(goods.quantity, 0)),
                ("ClaveUnidad", goods.unit_code),
                ("MaterialPeligroso", hazardous),
                ("CveMaterialPeligroso", goods.hazardous_code),
                ("Embalaje", goods.packaging_code),
                ("PesoEnKg", _weight(goods.weight_kg)),
                ("ValorMercancia",
                 None if goods.value is None else fixed_amount(goods.value, 2)),
                ("Moneda", goods.currency),
            ),
        )
    truck = cp.truck
    auto = etree.SubElement(mercancias, _c("Autotransporte"))
    auto.set("PermSCT", truck.permit_type)
    auto.set("NumPermisoSCT", truck.permit_number)
    set_attributes(
        etree.SubElement(auto, _c("IdentificacionVehicular")),
        (
            ("ConfigVehicular", truck.config),
            ("PesoBrutoVehicular", _flexible(truck.gross_weight, 0, 2)),
            ("PlacaVM", truck.plate),
            ("AnioModeloVM", str(truck.model_year)),
        ),
    )
    seguros = etree.SubElement(auto, _c("Seguros"))
    seguros.set("AseguraRespCivil", truck.insurer)
    seguros.set("PolizaRespCivil", truck.policy)
    if truck.trailers:
        remolques = etree.SubElement(auto, _c("Remolques"))
        for trailer in truck.trailers:
            set_attributes(etree.SubElement(remolques, _c("Remolque")),
                 (("SubTipoRem", trailer.subtype), ("Placa", trailer.plate)))
    figura = etree.SubElement(root, _c("FiguraTransporte"))
    for person in cp.figures:
        set_attributes(
            etree.SubElement(figura, _c("TiposFigura")),
            (
                ("TipoFigura", person.kind),
                ("RFCFigura", person.rfc),
                ("NumLicencia", person.license),
                ("NombreFigura", person.name),
            ),
        )
    return root


# --- dispatch ----------------------------------------------------------------------------------
def host_and_complements(document: Document) -> tuple[Invoice, list[etree._Element]]:
    """The host CFDI of ``document`` and the complement elements that go with it."""
    if isinstance(document, Invoice):
        return document, []
    if isinstance(document, PaymentReceipt):
        return document.to_invoice(), [_pagos(document)]
    if isinstance(document, CreditNote):
        return document.to_invoice(), []
    if isinstance(document, CartaPorteInvoice):
        return document.invoice, [_carta_porte(document.carta_porte)]
    raise ValidationError(
        f"cannot write a {type(document).__name__} as CFDI", field="invoice",
        code="APUNTO-CFDI-023",
    )


# --- reading back ------------------------------------------------------------------------------
def _customer(cfdi: parsed.Cfdi) -> Customer:
    r = cfdi.receiver
    return Customer(
        rfc=r.rfc, legal_name=r.name or "", tax_regime=r.tax_regime or "",
        zip_code=r.zip_code or "", cfdi_use=r.cfdi_use or "G03",
        tax_residence=r.tax_residence, foreign_tax_id=r.foreign_tax_id,
    )


def _issuer(cfdi: parsed.Cfdi) -> Issuer:
    return Issuer(rfc=cfdi.issuer.rfc, legal_name=cfdi.issuer.name or "",
                  tax_regime=cfdi.issuer.tax_regime or "", zip_code=cfdi.place_of_issue or "")


def _line_tax(line: parsed.TaxLine, base: Decimal, currency: str) -> Tax:
    kind = line.kind
    if kind is None:
        raise ValidationError(f"unknown tax code {line.tax!r}", field="Impuesto",
                              code="APUNTO-CFDI-012")
    factor = line.tax_factor or TaxFactor.RATE
    amount = None
    # Keep an amount only when it is not the one the model would compute anyway.
    if (
        line.amount is not None and line.rate is not None and factor is TaxFactor.RATE
        and round_money(base * line.rate, currency) != line.amount
    ):
        amount = line.amount
    return Tax(kind, line.rate, withholding=line.withholding, factor=factor, amount=amount)


def invoice_from_cfdi(cfdi: parsed.Cfdi) -> Invoice:
    """The :class:`~apunto_connect.models.Invoice` a parsed CFDI describes."""
    items = []
    for concept in cfdi.concepts:
        base = concept.amount - (concept.discount or _ZERO)
        items.append(
            LineItem(
                product_code=concept.product_code,
                unit_code=concept.unit_code or "",
                description=concept.description,
                quantity=concept.quantity,
                unit_price=concept.unit_price,
                unit_name=concept.unit_name,
                discount=concept.discount or _ZERO,
                taxes=[_line_tax(t, base, cfdi.currency) for t in concept.taxes],
                tax_object=concept.tax_object,
                sku=concept.sku,
            )
        )
    return Invoice(
        customer=_customer(cfdi),
        items=items,
        issuer=_issuer(cfdi),
        currency=cfdi.currency,
        exchange_rate=cfdi.exchange_rate,
        payment_form=cfdi.payment_form,
        payment_method=None if cfdi.payment_method is None else PaymentMethod(cfdi.payment_method),
        cfdi_use=cfdi.receiver.cfdi_use,
        series=cfdi.series,
        folio=cfdi.folio,
        issued_at=cfdi.issued_at,
        kind=InvoiceKind(cfdi.kind),
        export_code=cfdi.export_code or "01",
        related=cfdi.related,
        global_info=cfdi.global_info,
        payment_terms=cfdi.payment_terms,
    )


def _summary(line: parsed.TaxLine) -> TaxSummary:
    kind = line.kind
    if kind is None:
        raise ValidationError(f"unknown tax code {line.tax!r}", field="ImpuestoDR",
                              code="APUNTO-CFDI-012")
    return TaxSummary(kind, line.tax_factor or TaxFactor.RATE, line.rate, line.withholding,
                      line.base if line.base is not None else _ZERO, line.amount)


def payment_receipt_from_cfdi(cfdi: parsed.Cfdi) -> PaymentReceipt:
    """The :class:`~apunto_connect.models.PaymentReceipt` of a parsed type P CFDI.

    Raises:
        ValidationError: the document is not a type P with the Pagos 2.0 complement.
    """
    if cfdi.kind != "P" or cfdi.payments is None or cfdi.payments.version != "2.0":
        raise ValidationError("not a payment CFDI with Pagos 2.0", field="TipoDeComprobante",
                              code="APUNTO-CFDI-024")
    payments = []
    for p in cfdi.payments.payments:
        documents = [
            PaidDocument(
                uuid=d.uuid,
                previous_balance=d.previous_balance or _ZERO,
                amount_paid=d.amount_paid or _ZERO,
                installment=d.installment or 1,
                currency=d.currency or p.currency,
                equivalence=d.equivalence if d.equivalence is not None else _ONE,
                series=d.series,
                folio=d.folio,
                tax_object=d.tax_object or "01",
                taxes=[_summary(t) for t in (*d.transferred, *d.withheld)],
            )
            for d in p.documents
        ]
        rate = p.exchange_rate
        payments.append(
            Payment(
                paid_at=p.paid_at, form=p.payment_form, amount=p.amount, documents=documents,
                currency=p.currency,
                exchange_rate=None if p.currency == "MXN" and rate == _ONE else rate,
                operation_number=p.operation_number, payer_bank_rfc=p.payer_bank_rfc,
                payer_bank_name=p.payer_bank_name, payer_account=p.payer_account,
                payee_bank_rfc=p.payee_bank_rfc, payee_account=p.payee_account,
            )
        )
    return PaymentReceipt(
        customer=_customer(cfdi), payments=payments, issuer=_issuer(cfdi), series=cfdi.series,
        folio=cfdi.folio, issued_at=cfdi.issued_at, related=cfdi.related,
    )


def credit_note_from_cfdi(cfdi: parsed.Cfdi) -> CreditNote:
    """The :class:`~apunto_connect.models.CreditNote` of a parsed type E CFDI.

    Raises:
        ValidationError: not a type E, or not exactly one relation group of type 01, 03 or 07.
    """
    reasons = {r.value for r in CreditNoteReason}
    groups = [g for g in cfdi.related if g.relation_type in reasons]
    if cfdi.kind != "E" or len(groups) != 1:
        raise ValidationError("not a credit note (type E related by 01, 03 or 07)",
                              field="TipoDeComprobante", code="APUNTO-CFDI-025")
    invoice = invoice_from_cfdi(cfdi)
    return CreditNote(
        customer=invoice.customer, items=invoice.items, related_uuids=groups[0].uuids,
        reason=CreditNoteReason(groups[0].relation_type), issuer=invoice.issuer,
        currency=invoice.currency, exchange_rate=invoice.exchange_rate,
        payment_form=invoice.payment_form,
        payment_method=invoice.payment_method or PaymentMethod.PUE,
        cfdi_use=invoice.effective_cfdi_use, series=invoice.series, folio=invoice.folio,
        issued_at=invoice.issued_at,
    )


def _hazardous(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("sí", "si")


def carta_porte_invoice_from_cfdi(cfdi: parsed.Cfdi) -> CartaPorteInvoice:
    """The :class:`~apunto_connect.models.CartaPorteInvoice` of a CFDI with Carta Porte 3.1.

    Raises:
        ValidationError: no Carta Porte 3.1 complement, or one without Autotransporte.
    """
    cp = cfdi.carta_porte
    if cp is None or cp.version != "3.1" or cp.vehicle is None:
        raise ValidationError("no Carta Porte 3.1 for autotransporte in the document",
                              field="Complemento", code="APUNTO-CFDI-026")
    vehicle = cp.vehicle
    carta_porte = CartaPorte(
        locations=[
            WaybillLocation(
                kind=loc.kind, rfc=loc.rfc or "", at=loc.at, zip_code=loc.zip_code or "",
                state=loc.state or "", country=loc.country or "MEX",
                distance=loc.distance,
                location_id=loc.location_id, name=loc.name, municipality=loc.municipality,
            )
            for loc in cp.locations
        ],
        goods=[
            WaybillGoods(
                product_code=g.product_code, description=g.description or "",
                quantity=g.quantity or _ZERO, unit_code=g.unit_code or "",
                weight_kg=g.weight_kg or _ZERO, hazardous=_hazardous(g.hazardous),
                hazardous_code=g.hazardous_code, packaging_code=g.packaging_code,
                value=g.value, currency=g.currency,
            )
            for g in cp.goods
        ],
        truck=WaybillTruck(
            permit_type=vehicle.permit_type or "", permit_number=vehicle.permit_number or "",
            config=vehicle.config or "", gross_weight=vehicle.gross_weight or _ZERO,
            plate=vehicle.plate or "", model_year=int(vehicle.model_year or 0),
            insurer=vehicle.insurer or "", policy=vehicle.policy or "",
            trailers=[WaybillTrailer(subtype, plate) for subtype, plate in vehicle.trailers],
        ),
        figures=[
            WaybillFigure(kind=f.kind, rfc=f.rfc or "", name=f.name or "", license=f.license)
            for f in cp.figures
        ],
        id_ccp=cp.id_ccp or "",
        international=cp.international,
        weight_unit=cp.weight_unit or "KGM",
    )
    return CartaPorteInvoice(invoice=invoice_from_cfdi(cfdi), carta_porte=carta_porte)


def read_document(source: bytes | str | os.PathLike[str] | parsed.Cfdi) -> Document:
    """Read a CFDI back into the model it was built from.

    A type P with Pagos 2.0 gives a :class:`~apunto_connect.models.PaymentReceipt`; a type E
    related by 01/03/07 a :class:`~apunto_connect.models.CreditNote`; a document with Carta
    Porte 3.1 a :class:`~apunto_connect.models.CartaPorteInvoice`; anything else an
    :class:`~apunto_connect.models.Invoice`.

    Args:
        source: XML bytes or text, a path, or an already parsed :class:`Cfdi`.
    """
    from .parse import parse

    cfdi = source if isinstance(source, parsed.Cfdi) else parse(source)
    if cfdi.kind == "P" and cfdi.payments is not None:
        return payment_receipt_from_cfdi(cfdi)
    if cfdi.carta_porte is not None and cfdi.carta_porte.version == "3.1":
        return carta_porte_invoice_from_cfdi(cfdi)
    reasons = {r.value for r in CreditNoteReason}
    if cfdi.kind == "E" and sum(g.relation_type in reasons for g in cfdi.related) == 1:
        return credit_note_from_cfdi(cfdi)
    return invoice_from_cfdi(cfdi)
