"""Pure mappers between the SDK's models and Facturama's wire shapes: no I/O, nothing raised.

Facturama's own rules (one relation type per CFDI) are reported as issues by
:func:`facturama_issues`, which the provider's pre-flight runs before anything is sent. Every
path, query name and vendor value comes from a :class:`~apunto_connect.vendor_spec.VendorSpec`
(:data:`~.spec.SPEC` unless the caller passes its own).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..._answers import answer_mapper, cancellation_answer, object_field
from ..._wire import local_text, mexico_wall
from ...errors import Issue, UnexpectedResponse, ValidationError
from ...models.carta_porte import CartaPorteInvoice
from ...models.invoices import (
    Cancellation,
    CancellationStatus,
    CancelMotive,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LineItem,
    StampedInvoice,
    TaxFactor,
    TaxSummary,
)
from ...models.parties import Customer
from ...models.payments import PaidDocument, Payment, PaymentReceipt
from ...money import round_money, to_decimal
from ...vendor_spec import VendorSpec
from .spec import SPEC, VENDOR

__all__ = [
    "customer_to_facturama_client",
    "facturama_issues",
    "facturama_stamp_answer",
    "facturama_to_cancellation",
    "facturama_to_stamped",
    "invoice_to_facturama",
    "line_to_facturama_product",
    "list_params",
    "payment_to_facturama",
    "waybill_to_facturama",
]

_NO_PAYMENT_FORM = frozenset({InvoiceKind.TRANSFER, InvoiceKind.PAYROLL, InvoiceKind.PAYMENT})
_NO_PAYMENT_METHOD = frozenset({InvoiceKind.TRANSFER, InvoiceKind.PAYMENT})
_ZERO = Decimal(0)
_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$")


# -- Facturama's own rules (pre-flight issues) ------------------------------------------------


def facturama_issues(invoice: Invoice) -> list[Issue]:
    """What Facturama would certainly refuse in ``invoice``, as issues (nothing raised).

    Facturama's request has one ``Relations`` block, so a CFDI relates documents of one relation
    type only (``APUNTO-FACTURAMA-002``).
    """
    kinds = {group.relation_type for group in invoice.related}
    if len(kinds) <= 1:
        return []
    return [
        Issue(
            field="related",
            code="APUNTO-FACTURAMA-002",
            message="Facturama accepts one relation type per CFDI; got " + ", ".join(sorted(kinds)),
            message_es="Facturama acepta un solo tipo de relación por CFDI.",
        )
    ]


# -- our model -> Facturama -------------------------------------------------------------------


def _number(value: Decimal) -> Decimal:
    """A Decimal without exponent or trailing zeros beyond what it needs (``0.160000`` -> 0.16)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return normalized


def _tax_name(tax: TaxSummary, spec: VendorSpec) -> str:
    if tax.factor is TaxFactor.EXEMPT:
        return str(spec["value.exempt_tax_name"]).format(tax=tax.kind.value)
    return tax.kind.value


def _tax_to_facturama(tax: TaxSummary, spec: VendorSpec) -> dict[str, Any]:
    exempt = tax.factor is TaxFactor.EXEMPT
    return {
        "Name": _tax_name(tax, spec),
        "Rate": _ZERO if exempt or tax.rate is None else _number(tax.rate),
        "Total": _ZERO if exempt or tax.amount is None else tax.amount,
        "Base": tax.base,
        "IsRetention": tax.withholding,
        "IsQuota": tax.factor is TaxFactor.QUOTA,
    }


def _relations(invoice: Invoice) -> dict[str, Any] | None:
    """The ``Relations`` block: the first group's type (:func:`facturama_issues` checks one)."""
    if not invoice.related:
        return None
    uuids = [uuid for group in invoice.related for uuid in group.uuids]
    return {"Type": invoice.related[0].relation_type, "Cfdis": [{"Uuid": u} for u in uuids]}


def _document_head(
    document: Invoice | PaymentReceipt, name_id: str, cfdi_type: str, expedition_place: str
) -> dict[str, Any]:
    """The fields every ``3/cfdis`` body opens with: NameId, type, place, date, serie, folio."""
    body: dict[str, Any] = {
        "NameId": name_id,
        "CfdiType": cfdi_type,
        "ExpeditionPlace": expedition_place,
    }
    if document.issued_at is not None:
        body["Date"] = local_text(document.issued_at)
    if document.series:
        body["Serie"] = document.series
    if document.folio:
        body["Folio"] = document.folio
    return body


def invoice_to_facturama(
    invoice: Invoice,
    *,
    expedition_place: str,
    name_id: str | None = None,
    spec: VendorSpec = SPEC,
) -> dict[str, Any]:
    """The ``POST 3/cfdis`` body (API Web, CFDI 4.0) for ``invoice``.

    Amounts are Decimals (send them with :func:`apunto_connect._wire.encode_json`, never through
    floats). Line and document totals come from ``invoice.totals`` (the SAT's arithmetic):
    Facturama wants the client to send them. Optional fields are left out rather than sent
    empty. Run :func:`facturama_issues` first (the provider's pre-flight does): with more than
    one relation type only the first is sent.

    Args:
        invoice: the invoice. ``invoice.issuer`` is not sent: API Web always issues as the
            account owner (the caller takes the place of issue from it).
        expedition_place: LugarExpedicion, the postal code of the place of issue.
        name_id: PDF title from catalogs/NameIds (``spec["value.name_id"]`` by default).
        spec: the Facturama spec to follow.
    """
    kind = invoice.kind
    totals = invoice.totals
    customer = invoice.customer
    receiver = _party(customer, invoice.effective_cfdi_use)
    if customer.tax_residence:
        receiver["TaxResidence"] = customer.tax_residence
    if customer.foreign_tax_id:
        receiver["TaxRegistrationNumber"] = customer.foreign_tax_id

    body = _document_head(
        invoice, name_id or str(spec["value.name_id"]), kind.value, expedition_place
    )
    body["Currency"] = invoice.currency
    if invoice.exchange_rate is not None:
        body["CurrencyExchangeRate"] = _number(invoice.exchange_rate)
    if kind not in _NO_PAYMENT_FORM:
        body["PaymentForm"] = invoice.effective_payment_form
    if kind not in _NO_PAYMENT_METHOD:
        body["PaymentMethod"] = invoice.effective_payment_method.value
    if invoice.payment_terms:
        body["PaymentConditions"] = invoice.payment_terms
    body["Exportation"] = invoice.export_code
    if invoice.notes:
        body["Observations"] = invoice.notes
    if invoice.global_info is not None:
        body["GlobalInformation"] = {
            "Periodicity": invoice.global_info.periodicity,
            "Months": invoice.global_info.months,
            "Year": invoice.global_info.year,
        }
    relations = _relations(invoice)
    if relations is not None:
        body["Relations"] = relations
    body["Receiver"] = receiver

    items = []
    for item, line in zip(invoice.items, totals.lines, strict=True):
        entry: dict[str, Any] = {"ProductCode": item.product_code}
        if item.sku:
            entry["IdentificationNumber"] = item.sku
        entry["Description"] = item.description
        if item.unit_name:
            entry["Unit"] = item.unit_name
        entry["UnitCode"] = item.unit_code
        entry["UnitPrice"] = _number(item.unit_price)
        entry["Quantity"] = _number(item.quantity)
        entry["Subtotal"] = line.amount
        if line.discount:
            entry["Discount"] = line.discount
        entry["TaxObject"] = item.effective_tax_object
        if line.taxes:
            entry["Taxes"] = [_tax_to_facturama(tax, spec) for tax in line.taxes]
        entry["Total"] = line.amount - line.discount + line.transferred - line.withheld
        items.append(entry)
    body["Items"] = items
    return body


def _party(customer: Customer, cfdi_use: str | None) -> dict[str, Any]:
    """What the CFDI's ``Receiver`` and a ``Client`` record both carry."""
    return {
        "Rfc": customer.rfc,
        "Name": customer.legal_name,
        "CfdiUse": cfdi_use,
        "FiscalRegime": customer.tax_regime,
        "TaxZipCode": customer.zip_code,
    }


def customer_to_facturama_client(customer: Customer, cfdi_use: str | None = None) -> dict[str, Any]:
    """The ``Client`` record Facturama keeps for a receiver (created on the fly when stamping)."""
    client = _party(customer, cfdi_use or customer.cfdi_use)
    if customer.email:
        client["Email"] = customer.email
    if customer.tax_residence:
        client["TaxResidence"] = customer.tax_residence
    if customer.foreign_tax_id:
        client["NumRegIdTrib"] = customer.foreign_tax_id
    return client


def line_to_facturama_product(
    item: LineItem, currency: str = "MXN", *, spec: VendorSpec = SPEC
) -> dict[str, Any]:
    """The ``Product`` record for a line: registered with its taxes, as the help page says."""
    from ...models.invoices import line_total

    line = line_total(item, currency)
    product: dict[str, Any] = {
        "Name": item.product_name,
        "Description": item.description,
        "CodeProdServ": item.product_code,
        "UnitCode": item.unit_code,
        "Price": _number(item.unit_price),
        "ObjetoImp": item.effective_tax_object,
    }
    if item.unit_name:
        product["Unit"] = item.unit_name
    if item.sku:
        product["IdentificationNumber"] = item.sku
    if line.taxes:
        product["Taxes"] = [
            {
                "Name": _tax_name(tax, spec),
                "Rate": _ZERO if tax.rate is None else _number(tax.rate),
                "IsRetention": tax.withholding,
                "IsQuota": tax.factor is TaxFactor.QUOTA,
            }
            for tax in line.taxes
        ]
    return product


def customer_validation_body(customer: Customer) -> dict[str, Any]:
    """The ``api/customers/validate`` request for ``customer``."""
    return {
        "Rfc": customer.rfc,
        "Name": customer.legal_name,
        "ZipCode": customer.zip_code,
        "FiscalRegime": customer.tax_regime,
    }


# -- Facturama -> our model -------------------------------------------------------------------


def _parse_date(value: Any) -> datetime | None:
    """Facturama dates: ``2024-05-01T10:00:00`` (maybe with fraction or offset) -> naive local."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = _DATE_TEXT.match(text)
    if match:
        text = match.group(1) + match.group(3)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return mexico_wall(moment)


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except ValidationError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "si", "sí"}
    return bool(value)


@answer_mapper(VENDOR, "CFDI")
def facturama_to_stamped(
    data: Mapping[str, Any], provider: str = VENDOR, *, spec: VendorSpec = SPEC
) -> StampedInvoice:
    """A :class:`StampedInvoice` from a Facturama CFDI object or a ``Cfdi`` list row.

    Both shapes are read tolerantly: unknown fields are ignored and kept in ``raw``. A field
    of the wrong type (``Issuer`` that is not an object...) raises ``UnexpectedResponse``
    naming it.
    """
    data = object_field(data, "(answer)", provider=provider)
    complement = object_field(data.get("Complement"), "Complement", provider=provider)
    stamp = object_field(
        complement.get("TaxStamp"), "Complement.TaxStamp", provider=provider
    ) or object_field(data.get("TaxStamp"), "TaxStamp", provider=provider)
    issuer = object_field(data.get("Issuer"), "Issuer", provider=provider)
    receiver = object_field(data.get("Receiver"), "Receiver", provider=provider)
    status_text = str(data.get("Status") or "").strip().lower()
    known = spec["value.invoice_statuses"].get(status_text)
    if known is not None:
        status = InvoiceStatus(known)
    else:
        status = InvoiceStatus.CANCELLED if data.get("IsActive") is False else InvoiceStatus.ACTIVE
    uuid = _text(stamp.get("Uuid")) or _text(data.get("Uuid"))
    currency = _text(data.get("Currency"))
    total = _money(data.get("Total"))
    if total is not None:
        # JSON numbers lose trailing zeros (2800.0); show the currency's decimals again.
        total = round_money(total, currency or "MXN")
    return StampedInvoice(
        provider=provider,
        id=str(data.get("Id") or ""),
        uuid=uuid.upper() if uuid else None,
        status=status,
        total=total,
        currency=currency,
        series=_text(data.get("Serie")),
        folio=_text(str(data["Folio"])) if data.get("Folio") not in (None, "") else None,
        issuer_rfc=_text(issuer.get("Rfc")) or _text(data.get("RfcIssuer")),
        customer_rfc=_text(receiver.get("Rfc")) or _text(data.get("Rfc")),
        issued_at=_parse_date(data.get("Date")),
        stamped_at=_parse_date(stamp.get("Date")),
        raw=dict(data),
    )


def facturama_stamp_answer(
    data: Any, provider: str = VENDOR, *, spec: VendorSpec = SPEC
) -> StampedInvoice:
    """The answer to a stamp request, which must carry the CFDI's ``Id`` and its UUID.

    Raises:
        UnexpectedResponse: no ``Id`` or no ``Complement.TaxStamp.Uuid`` (the message carries the
            ``Id`` when there is one: the CFDI may exist at Facturama), or a field of the wrong
            type.
    """
    from ...redaction import redact

    if not isinstance(data, Mapping) or not data.get("Id"):
        raise UnexpectedResponse(
            f"{provider}: the stamp answer has no Id: {redact(str(data))[:200]}",
            provider=provider, field="Id",
        )
    try:
        stamped = facturama_to_stamped(data, provider, spec=spec)
    except UnexpectedResponse as exc:
        # The CFDI was committed at Facturama: the caller must learn which one.
        raise UnexpectedResponse(
            f"{exc}; the stamp answer is for Id {data['Id']}: the CFDI may exist at Facturama, "
            "look it up before stamping again",
            provider=provider, field=exc.field,
        ) from exc
    if not stamped.uuid:
        raise UnexpectedResponse(
            f"{provider}: the stamp answer for Id {stamped.id} has no Complement.TaxStamp.Uuid; "
            "the CFDI may exist at Facturama: look it up before stamping again",
            provider=provider, field="Complement.TaxStamp.Uuid",
        )
    return stamped


def facturama_to_cancellation(
    data: Mapping[str, Any],
    *,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None = None,
    provider: str = VENDOR,
    spec: VendorSpec = SPEC,
) -> Cancellation:
    """A :class:`Cancellation` from Facturama's cancel answer ``{Status, Uuid, ...}``."""
    status_text = str(data.get("Status") or "").strip().lower()
    known = spec["value.cancel_statuses"].get(status_text)
    status = CancellationStatus(known) if known is not None else CancellationStatus.PENDING
    message = _text(data.get("Message")) or status_text
    uuid = _text(data.get("Uuid"))
    return cancellation_answer(
        data, status, uuid, message,
        provider=provider, ref=ref, motive=motive, replacement_uuid=replacement_uuid,
    )


def customer_validation(answer: Mapping[str, Any]) -> dict[str, bool]:
    """``{exists, name_matches, zip_code_matches, regime_matches}`` from the validate answer."""
    return {
        "exists": _truthy(answer.get("ExistRfc")),
        "name_matches": _truthy(answer.get("MatchName")),
        "zip_code_matches": _truthy(answer.get("MatchZipCode")),
        "regime_matches": _truthy(answer.get("MatchFiscalRegime")),
    }


# -- list filters -----------------------------------------------------------------------------


def _filter_value(value: Any, spec: VendorSpec) -> str:
    if isinstance(value, (datetime, date)):
        return value.strftime(str(spec["value.list_date_format"]))
    if isinstance(value, InvoiceStatus):
        return str(spec["value.status_filter"].get(value.value, value.value))
    if isinstance(value, InvoiceKind):
        return value.value
    if hasattr(value, "value") and isinstance(value.value, str):
        return str(value.value)
    return str(value)


def list_params(filters: Mapping[str, Any], *, spec: VendorSpec = SPEC) -> dict[str, str]:
    """Query parameters of ``GET Cfdi`` for our filter names (Facturama's own names pass too).

    Raises:
        ValidationError: an unknown filter name (listing the known ones).
    """
    names: Mapping[str, str] = spec["field.list_filters"]
    params: dict[str, str] = {"type": str(spec["value.issued_type"]), "status": "all"}
    known_vendor = set(names.values()) | {"type"}
    unknown = []
    for name, value in filters.items():
        if value is None:
            continue
        target = names.get(name) or (name if name in known_vendor else None)
        if target is None:
            unknown.append(name)
            continue
        params[target] = _filter_value(value, spec)
    if unknown:
        raise ValidationError(
            f"unknown Facturama list filter(s) {', '.join(sorted(unknown))}; known: "
            + ", ".join(sorted(names)),
            field="filters",
            code="APUNTO-FACTURAMA-003",
        )
    return params


# -- payment receipts (CFDI type P) and waybills (Carta Porte 3.1) ----------------------------


def _paid_document(document: PaidDocument, spec: VendorSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"Uuid": document.uuid}
    if document.series:
        entry["Serie"] = document.series
    if document.folio:
        entry["Folio"] = document.folio
    entry.update({
        "Currency": document.currency,
        "EquivalenceDocRel": _number(document.equivalence),
        "PaymentMethod": "PPD",
        "PartialityNumber": document.installment,
        "PreviousBalanceAmount": document.previous_balance,
        "AmountPaid": document.amount_paid,
        "ImpSaldoInsoluto": document.remaining_balance,
        "TaxObject": document.tax_object,
    })
    if document.taxes:
        entry["Taxes"] = [_tax_to_facturama(tax, spec) for tax in document.taxes]
    return entry


def _payment(payment: Payment, spec: VendorSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Date": local_text(payment.paid_at),
        "PaymentForm": payment.form,
        "Amount": payment.amount,
        "Currency": payment.currency,
    }
    if payment.exchange_rate is not None:
        entry["ExchangeRate"] = _number(payment.exchange_rate)
    optional = {
        "OperationNumber": payment.operation_number,
        "RfcIssuerPayerAccount": payment.payer_bank_rfc,
        "ForeignAccountNamePayer": payment.payer_bank_name,
        "PayerAccount": payment.payer_account,
        "RfcReceiverBeneficiaryAccount": payment.payee_bank_rfc,
        "BeneficiaryAccount": payment.payee_account,
    }
    entry.update({name: value for name, value in optional.items() if value})
    entry["RelatedDocuments"] = [_paid_document(d, spec) for d in payment.documents]
    return entry


def payment_to_facturama(
    receipt: PaymentReceipt, *, expedition_place: str, spec: VendorSpec = SPEC
) -> dict[str, Any]:
    """The ``POST 3/cfdis`` body for a payment receipt: CfdiType P with ``Complemento.Payments``.

    The shape is Facturama's Postman "Complemento de pago": no ``Items`` (Facturama writes the
    SAT's fixed ``84111506`` concept), the receiver with ``CfdiUse`` CP01, one entry per payment
    with its ``RelatedDocuments`` (saldo anterior, pagado and insoluto as computed by
    :meth:`PaymentReceipt.for_invoices`) and each document's share of the taxes.
    """
    host = receipt.to_invoice()
    body = _document_head(receipt, str(spec["value.payment_name_id"]), "P", expedition_place)
    body["Exportation"] = host.export_code
    relations = _relations(host)
    if relations is not None:
        body["Relations"] = relations
    body["Receiver"] = _party(receipt.customer, "CP01")
    body["Complemento"] = {
        str(spec["field.payments"]): [_payment(payment, spec) for payment in receipt.payments]
    }
    return body


def _waybill_number(value: Decimal) -> Decimal:
    return _number(value)


def _complement_waybill(document: CartaPorteInvoice) -> dict[str, Any]:
    cp = document.carta_porte
    locations = []
    for loc in cp.locations:
        entry: dict[str, Any] = {"TipoUbicacion": loc.kind}
        if loc.location_id:
            entry["IDUbicacion"] = loc.location_id
        entry["RFCRemitenteDestinatario"] = loc.rfc
        if loc.name:
            entry["NombreRemitenteDestinatario"] = loc.name
        if loc.at is not None:
            entry["FechaHoraSalidaLlegada"] = local_text(loc.at)
        if loc.distance is not None:
            entry["DistanciaRecorrida"] = _waybill_number(loc.distance)
        address: dict[str, Any] = {
            "Estado": loc.state, "Pais": loc.country, "CodigoPostal": loc.zip_code}
        if loc.municipality:
            address["Municipio"] = loc.municipality
        entry["Domicilio"] = address
        locations.append(entry)
    goods = []
    for item in cp.goods:
        entry = {
            "BienesTransp": item.product_code,
            "Descripcion": item.description,
            "Cantidad": _waybill_number(item.quantity),
            "ClaveUnidad": item.unit_code,
            "PesoEnKg": _waybill_number(item.weight_kg),
        }
        if item.hazardous is not None:
            entry["MaterialPeligroso"] = "Sí" if item.hazardous else "No"
        optional = {"CveMaterialPeligroso": item.hazardous_code, "Embalaje": item.packaging_code,
                    "ValorMercancia": item.value, "Moneda": item.currency}
        entry.update({name: value for name, value in optional.items() if value is not None})
        goods.append(entry)
    truck = cp.truck
    autotransporte: dict[str, Any] = {
        "PermSCT": truck.permit_type,
        "NumPermisoSCT": truck.permit_number,
        "IdentificacionVehicular": {
            "ConfigVehicular": truck.config,
            "PesoBrutoVehicular": _waybill_number(truck.gross_weight),
            "PlacaVM": truck.plate,
            "AnioModeloVM": truck.model_year,
        },
        "Seguros": {"AseguraRespCivil": truck.insurer, "PolizaRespCivil": truck.policy},
    }
    if truck.trailers:
        autotransporte["Remolques"] = [
            {"SubTipoRem": t.subtype, "Placa": t.plate} for t in truck.trailers]
    figures = []
    for person in cp.figures:
        figure: dict[str, Any] = {"TipoFigura": person.kind, "RFCFigura": person.rfc,
                                  "NombreFigura": person.name}
        if person.license:
            figure["NumLicencia"] = person.license
        figures.append(figure)
    return {
        "IdCCP": cp.id_ccp,
        "TranspInternac": "Sí" if cp.international else "No",
        "TotalDistRec": _waybill_number(cp.total_distance),
        "Ubicaciones": locations,
        "Mercancias": {
            "PesoBrutoTotal": _waybill_number(cp.gross_weight),
            "UnidadPeso": cp.weight_unit,
            "NumTotalMercancias": len(cp.goods),
            "Mercancia": goods,
            "Autotransporte": autotransporte,
        },
        "FiguraTransporte": figures,
    }


def waybill_to_facturama(
    document: CartaPorteInvoice, *, expedition_place: str, spec: VendorSpec = SPEC
) -> dict[str, Any]:
    """The ``POST 3/cfdis`` body of an invoice (or transfer) with Carta Porte 3.1.

    The host CFDI as :func:`invoice_to_facturama` writes it, with ``NameId`` 36 and the
    complement in ``Complemento.CartaPorte31`` (Facturama's Postman "CPorteIngreso 3.1" and
    "CPorteTraslado 3.1": Ubicaciones with their Domicilio, Mercancias with Autotransporte,
    FiguraTransporte), the SAT's attribute names throughout.
    """
    body = invoice_to_facturama(
        document.invoice, expedition_place=expedition_place,
        name_id=str(spec["value.waybill_name_id"]), spec=spec,
    )
    body["Complemento"] = {str(spec["field.waybill"]): _complement_waybill(document)}
    return body
