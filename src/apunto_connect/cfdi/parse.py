"""Read CFDI XML (4.0 and 3.3) into the typed :class:`~apunto_connect.cfdi.models.Cfdi` model.

Speed comes from doing as little as possible: one ``lxml.etree.fromstring`` with a cached,
thread-local safe parser, one pass over each element's children dispatching on precomputed
Clark-notation tag strings, and direct attribute reads. No XPath, no schema validation, no
catalog lookups.

The reader is tolerant of what a parser should tolerate (unknown complements and addenda are
kept raw, optional attributes may be missing, catalog codes are kept verbatim) and strict
about what the typed model promises: a required amount or date that is missing or malformed
raises :class:`~apunto_connect.errors.ValidationError` naming the attribute.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TypeVar

from lxml import etree

from ..errors import Issue, ValidationError
from ..models.invoices import GlobalInformation, RelatedDocuments
from .models import (
    CartaPorte,
    CartaPorteFigure,
    CartaPorteGoods,
    CartaPorteLocation,
    CartaPorteVehicle,
    Cfdi,
    CfdiIssuer,
    CfdiReceiver,
    Concept,
    DocumentTaxes,
    PaidDocument,
    Payment,
    Payments,
    PaymentTotals,
    RawElement,
    Stamp,
    TaxLine,
    ThirdParty,
)
from .safe_xml import DEFAULT_MAX_BYTES, parse_xml

__all__ = ["parse"]

Element = etree._Element
_T = TypeVar("_T")

_TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
_PAGOS20_NS = "http://www.sat.gob.mx/Pagos20"
_PAGOS10_NS = "http://www.sat.gob.mx/Pagos"
_CARTA_PORTE_PREFIX = "http://www.sat.gob.mx/CartaPorte"
_TFD = f"{{{_TFD_NS}}}TimbreFiscalDigital"
_PAGOS20 = f"{{{_PAGOS20_NS}}}Pagos"
_PAGOS10 = f"{{{_PAGOS10_NS}}}Pagos"

_CODE_MISSING = "APUNTO-CFDI-011"
_CODE_BAD_VALUE = "APUNTO-CFDI-012"
_CODE_NOT_CFDI = "APUNTO-CFDI-010"


class _Tags:
    """Clark-notation names of the Comprobante's elements in one CFDI namespace."""

    __slots__ = (
        "addenda",
        "complemento",
        "complemento_concepto",
        "concepto",
        "conceptos",
        "cuenta_predial",
        "emisor",
        "impuestos",
        "info_aduanera",
        "info_global",
        "parte",
        "receptor",
        "relacionado",
        "relacionados",
        "retencion",
        "retenciones",
        "terceros",
        "traslado",
        "traslados",
    )

    def __init__(self, ns: str) -> None:
        def q(name: str) -> str:
            return f"{{{ns}}}{name}"

        self.addenda = q("Addenda")
        self.complemento = q("Complemento")
        self.concepto = q("Concepto")
        self.conceptos = q("Conceptos")
        self.cuenta_predial = q("CuentaPredial")
        self.emisor = q("Emisor")
        self.impuestos = q("Impuestos")
        self.info_aduanera = q("InformacionAduanera")
        self.info_global = q("InformacionGlobal")
        self.parte = q("Parte")
        self.receptor = q("Receptor")
        self.relacionado = q("CfdiRelacionado")
        self.relacionados = q("CfdiRelacionados")
        self.retencion = q("Retencion")
        self.retenciones = q("Retenciones")
        self.terceros = q("ACuentaTerceros")
        self.traslado = q("Traslado")
        self.traslados = q("Traslados")
        self.complemento_concepto = q("ComplementoConcepto")


_ROOTS: dict[str, _Tags] = {
    "{http://www.sat.gob.mx/cfd/4}Comprobante": _Tags("http://www.sat.gob.mx/cfd/4"),
    "{http://www.sat.gob.mx/cfd/3}Comprobante": _Tags("http://www.sat.gob.mx/cfd/3"),
}


# --- attribute helpers -------------------------------------------------------------------
# Each takes the element, the attribute name and a human path for error messages. They are
# small on purpose: a document has a few hundred attributes, and call overhead is what the
# benchmark measures.


def _missing(path: str, name: str) -> ValidationError:
    return ValidationError(
        f"required attribute {name} is missing", field=f"{path}@{name}", code=_CODE_MISSING
    )


def _bad(path: str, name: str, value: str, what: str) -> ValidationError:
    return ValidationError(
        f"{name}={value!r} is not a valid {what}", field=f"{path}@{name}", code=_CODE_BAD_VALUE
    )


def _required(value: _T | None, path: str, name: str) -> _T:
    """``value``, or the missing-attribute error when the document left the attribute out."""
    if value is None:
        raise _missing(path, name)
    return value


def _req(el: Element, name: str, path: str) -> str:
    return _required(el.get(name), path, name)


def _dec(value: str | None, path: str, name: str) -> Decimal | None:
    # Amounts are most of a document's attributes, so this one converts inline rather than
    # through _converted.
    if value is None:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise _bad(path, name, value, "decimal number") from None
    if not result.is_finite():
        raise _bad(path, name, value, "finite decimal number")
    return result


def _req_dec(el: Element, name: str, path: str) -> Decimal:
    return _required(_dec(el.get(name), path, name), path, name)


def _opt_dec(el: Element, name: str, path: str) -> Decimal | None:
    return _dec(el.get(name), path, name)


def _converted(
    value: str | None, path: str, name: str, convert: Callable[[str], _T], what: str
) -> _T | None:
    """``convert(value)``, ``None`` when absent; a value it rejects is a bad-value error."""
    if value is None:
        return None
    try:
        return convert(value)
    except ValueError:
        raise _bad(path, name, value, what) from None


def _iso_datetime(value: str) -> datetime:
    return datetime.fromisoformat(value.strip())


def _date(value: str | None, path: str, name: str) -> datetime | None:
    return _converted(value, path, name, _iso_datetime, "date-time (YYYY-MM-DDThh:mm:ss)")


def _req_date(el: Element, name: str, path: str) -> datetime:
    return _required(_date(el.get(name), path, name), path, name)


def _int(value: str | None, path: str, name: str) -> int | None:
    return _converted(value, path, name, int, "integer")


def _raw(el: Element) -> RawElement:
    qname = etree.QName(el)
    return RawElement(
        namespace=qname.namespace or "",
        name=qname.localname,
        attributes={str(k): str(v) for k, v in el.attrib.items()},
        xml=etree.tostring(el, encoding="unicode"),
    )


def _children_raw(el: Element) -> tuple[RawElement, ...]:
    return tuple(_raw(child) for child in el if isinstance(child.tag, str))


# --- taxes -------------------------------------------------------------------------------


class _TaxNames:
    """Attribute names of a tax row; Pagos 2.0 suffixes them with ``DR`` or ``P``."""

    __slots__ = ("amount", "base", "factor", "rate", "tax")

    def __init__(self, suffix: str = "") -> None:
        self.base = "Base" + suffix
        self.tax = "Impuesto" + suffix
        self.factor = "TipoFactor" + suffix
        self.rate = "TasaOCuota" + suffix
        self.amount = "Importe" + suffix


_PLAIN = _TaxNames()
_DR = _TaxNames("DR")
_P = _TaxNames("P")


def _tax(el: Element, withholding: bool, n: _TaxNames, path: str) -> TaxLine:
    get = el.get
    return TaxLine(
        tax=_req(el, n.tax, path),
        withholding=withholding,
        factor=get(n.factor),
        rate=_dec(get(n.rate), path, n.rate),
        base=_dec(get(n.base), path, n.base),
        amount=_dec(get(n.amount), path, n.amount),
    )


def _tax_group(
    impuestos: Element, traslados: str, retenciones: str, n: _TaxNames, path: str
) -> tuple[tuple[TaxLine, ...], tuple[TaxLine, ...]]:
    """Read ``Traslados``/``Retenciones`` under an ``Impuestos``-like element."""
    transferred: list[TaxLine] = []
    withheld: list[TaxLine] = []
    for group in impuestos:
        tag = group.tag
        if tag == traslados:
            transferred.extend(_tax(t, False, n, path + "/Traslado") for t in group)
        elif tag == retenciones:
            withheld.extend(_tax(t, True, n, path + "/Retencion") for t in group)
    return tuple(transferred), tuple(withheld)


# --- Comprobante parts -------------------------------------------------------------------


def _concept(el: Element, t: _Tags, index: int) -> Concept:
    path = f"Conceptos/Concepto[{index}]"
    get = el.get
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()
    third_party = None
    customs: list[str] = []
    accounts: list[str] = []
    extra: list[RawElement] = []
    for child in el:
        tag = child.tag
        if tag == t.impuestos:
            transferred, withheld = _tax_group(child, t.traslados, t.retenciones, _PLAIN, path)
        elif tag == t.info_aduanera:
            customs.append(child.get("NumeroPedimento", ""))
        elif tag == t.terceros:
            cget = child.get
            third_party = ThirdParty(
                rfc=cget("RfcACuentaTerceros", ""),
                name=cget("NombreACuentaTerceros", ""),
                tax_regime=cget("RegimenFiscalACuentaTerceros", ""),
                zip_code=cget("DomicilioFiscalACuentaTerceros", ""),
            )
        elif tag == t.cuenta_predial:
            accounts.append(child.get("Numero", ""))
        elif tag == t.complemento_concepto:
            extra.extend(_children_raw(child))
        elif tag == t.parte:
            extra.append(_raw(child))
    return Concept(
        product_code=_req(el, "ClaveProdServ", path),
        quantity=_req_dec(el, "Cantidad", path),
        unit_code=get("ClaveUnidad"),
        description=get("Descripcion", ""),
        unit_price=_req_dec(el, "ValorUnitario", path),
        amount=_req_dec(el, "Importe", path),
        tax_object=get("ObjetoImp"),
        sku=get("NoIdentificacion"),
        unit_name=get("Unidad"),
        discount=_dec(get("Descuento"), path, "Descuento"),
        transferred=transferred,
        withheld=withheld,
        third_party=third_party,
        customs_numbers=tuple(customs),
        property_accounts=tuple(accounts),
        extra=tuple(extra),
    )


def _document_taxes(el: Element, t: _Tags) -> DocumentTaxes:
    transferred, withheld = _tax_group(el, t.traslados, t.retenciones, _PLAIN, "Impuestos")
    return DocumentTaxes(
        total_transferred=_opt_dec(el, "TotalImpuestosTrasladados", "Impuestos"),
        total_withheld=_opt_dec(el, "TotalImpuestosRetenidos", "Impuestos"),
        transferred=transferred,
        withheld=withheld,
    )


def _stamp(el: Element) -> Stamp:
    path = "Complemento/TimbreFiscalDigital"
    get = el.get
    return Stamp(
        uuid=_req(el, "UUID", path),
        stamped_at=_req_date(el, "FechaTimbrado", path),
        pac_rfc=get("RfcProvCertif", ""),
        sat_certificate=get("NoCertificadoSAT", ""),
        cfd_seal=get("SelloCFD"),
        sat_seal=get("SelloSAT"),
        legend=get("Leyenda"),
        version=get("Version", ""),
    )


# --- Pagos 2.0 / 1.0 ---------------------------------------------------------------------


def _payments(el: Element, ns: str) -> Payments:
    q = f"{{{ns}}}"
    v2 = ns == _PAGOS20_NS
    pago_tag, totales_tag, docto_tag = q + "Pago", q + "Totales", q + "DoctoRelacionado"
    if v2:
        p_taxes_tag, p_tras, p_ret = q + "ImpuestosP", q + "TrasladosP", q + "RetencionesP"
        p_names = _P
    else:
        p_taxes_tag, p_tras, p_ret = q + "Impuestos", q + "Traslados", q + "Retenciones"
        p_names = _PLAIN
    dr_taxes_tag, dr_tras, dr_ret = q + "ImpuestosDR", q + "TrasladosDR", q + "RetencionesDR"

    payments: list[Payment] = []
    totals = None
    for child in el:
        tag = child.tag
        if tag == totales_tag:
            path = "Pagos/Totales"
            g = child.get
            totals = PaymentTotals(
                total_amount=_req_dec(child, "MontoTotalPagos", path),
                withheld_iva=_dec(g("TotalRetencionesIVA"), path, "TotalRetencionesIVA"),
                withheld_isr=_dec(g("TotalRetencionesISR"), path, "TotalRetencionesISR"),
                withheld_ieps=_dec(g("TotalRetencionesIEPS"), path, "TotalRetencionesIEPS"),
                base_iva16=_dec(g("TotalTrasladosBaseIVA16"), path, "TotalTrasladosBaseIVA16"),
                iva16=_dec(g("TotalTrasladosImpuestoIVA16"), path, "TotalTrasladosImpuestoIVA16"),
                base_iva8=_dec(g("TotalTrasladosBaseIVA8"), path, "TotalTrasladosBaseIVA8"),
                iva8=_dec(g("TotalTrasladosImpuestoIVA8"), path, "TotalTrasladosImpuestoIVA8"),
                base_iva0=_dec(g("TotalTrasladosBaseIVA0"), path, "TotalTrasladosBaseIVA0"),
                iva0=_dec(g("TotalTrasladosImpuestoIVA0"), path, "TotalTrasladosImpuestoIVA0"),
                base_iva_exempt=_dec(
                    g("TotalTrasladosBaseIVAExento"), path, "TotalTrasladosBaseIVAExento"
                ),
            )
        elif tag == pago_tag:
            path = f"Pagos/Pago[{len(payments)}]"
            documents: list[PaidDocument] = []
            transferred: tuple[TaxLine, ...] = ()
            withheld: tuple[TaxLine, ...] = ()
            for part in child:
                ptag = part.tag
                if ptag == docto_tag:
                    documents.append(
                        _paid_document(part, f"{path}/DoctoRelacionado[{len(documents)}]",
                                       dr_taxes_tag, dr_tras, dr_ret, q)
                    )
                elif ptag == p_taxes_tag:
                    transferred, withheld = _tax_group(part, p_tras, p_ret, p_names, path)
            g = child.get
            payments.append(
                Payment(
                    paid_at=_req_date(child, "FechaPago", path),
                    payment_form=_req(child, "FormaDePagoP", path),
                    currency=_req(child, "MonedaP", path),
                    amount=_req_dec(child, "Monto", path),
                    exchange_rate=_dec(g("TipoCambioP"), path, "TipoCambioP"),
                    operation_number=g("NumOperacion"),
                    payer_bank_rfc=g("RfcEmisorCtaOrd"),
                    payer_bank_name=g("NomBancoOrdExt"),
                    payer_account=g("CtaOrdenante"),
                    payee_bank_rfc=g("RfcEmisorCtaBen"),
                    payee_account=g("CtaBeneficiario"),
                    documents=tuple(documents),
                    transferred=transferred,
                    withheld=withheld,
                )
            )
    return Payments(version=el.get("Version", ""), payments=tuple(payments), totals=totals)


def _paid_document(
    el: Element, path: str, taxes_tag: str, tras: str, ret: str, q: str
) -> PaidDocument:
    g = el.get
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()
    for child in el:
        if child.tag == taxes_tag:
            transferred, withheld = _tax_group(child, tras, ret, _DR, path)
    equivalence = g("EquivalenciaDR")
    name = "EquivalenciaDR"
    if equivalence is None:
        equivalence, name = g("TipoCambioDR"), "TipoCambioDR"
    return PaidDocument(
        uuid=_req(el, "IdDocumento", path),
        currency=g("MonedaDR"),
        amount_paid=_dec(g("ImpPagado"), path, "ImpPagado"),
        series=g("Serie"),
        folio=g("Folio"),
        equivalence=_dec(equivalence, path, name),
        installment=_int(g("NumParcialidad"), path, "NumParcialidad"),
        previous_balance=_dec(g("ImpSaldoAnt"), path, "ImpSaldoAnt"),
        remaining_balance=_dec(g("ImpSaldoInsoluto"), path, "ImpSaldoInsoluto"),
        tax_object=g("ObjetoImpDR"),
        payment_method=g("MetodoDePagoDR"),
        transferred=transferred,
        withheld=withheld,
    )


# --- Carta Porte -------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _cp_tags(ns: str) -> dict[str, str]:
    names = (
        "Ubicaciones", "Ubicacion", "Domicilio", "Mercancias", "Mercancia", "Autotransporte",
        "IdentificacionVehicular", "Seguros", "Remolques", "Remolque", "FiguraTransporte",
        "TiposFigura",
    )
    return {name: f"{{{ns}}}{name}" for name in names}


_CP_MODES = ("Autotransporte", "TransporteMaritimo", "TransporteAereo", "TransporteFerroviario")


def _carta_porte(el: Element, ns: str) -> CartaPorte:
    tg = _cp_tags(ns)
    path = "Complemento/CartaPorte"
    g = el.get
    locations: list[CartaPorteLocation] = []
    goods: list[CartaPorteGoods] = []
    figures: list[CartaPorteFigure] = []
    modes: list[str] = []
    vehicle = None
    goods_count = gross_weight = weight_unit = None
    for child in el:
        tag = child.tag
        if tag == tg["Ubicaciones"]:
            for loc in child:
                if loc.tag == tg["Ubicacion"]:
                    locations.append(_cp_location(loc, tg, f"{path}/Ubicacion[{len(locations)}]"))
        elif tag == tg["Mercancias"]:
            mpath = path + "/Mercancias"
            goods_count = _int(child.get("NumTotalMercancias"), mpath, "NumTotalMercancias")
            gross_weight = _opt_dec(child, "PesoBrutoTotal", mpath)
            weight_unit = child.get("UnidadPeso")
            for item in child:
                itag = item.tag
                if itag == tg["Mercancia"]:
                    goods.append(_cp_goods(item, f"{mpath}/Mercancia[{len(goods)}]"))
                elif itag == tg["Autotransporte"]:
                    modes.append("Autotransporte")
                    vehicle = _cp_vehicle(item, tg, mpath + "/Autotransporte")
                elif isinstance(itag, str):
                    local = etree.QName(itag).localname
                    if local in _CP_MODES:
                        modes.append(local)
        elif tag == tg["FiguraTransporte"]:
            for fig in child:
                if fig.tag == tg["TiposFigura"]:
                    fget = fig.get
                    figures.append(
                        CartaPorteFigure(
                            kind=fget("TipoFigura", ""),
                            name=fget("NombreFigura"),
                            rfc=fget("RFCFigura"),
                            license=fget("NumLicencia"),
                        )
                    )
    international = (g("TranspInternac") or "").strip().lower() in ("sí", "si")
    return CartaPorte(
        version=g("Version", ""),
        id_ccp=g("IdCCP"),
        international=international,
        total_distance=_opt_dec(el, "TotalDistRec", path),
        locations=tuple(locations),
        goods_count=goods_count,
        gross_weight=gross_weight,
        weight_unit=weight_unit,
        goods=tuple(goods),
        vehicle=vehicle,
        transport_modes=tuple(modes),
        figures=tuple(figures),
        entry_exit=g("EntradaSalidaMerc"),
        origin_destination_country=g("PaisOrigenDestino"),
        entry_exit_way=g("ViaEntradaSalida"),
    )


def _cp_location(el: Element, tg: dict[str, str], path: str) -> CartaPorteLocation:
    g = el.get
    state = country = zip_code = municipality = None
    for child in el:
        if child.tag == tg["Domicilio"]:
            dget = child.get
            state, country = dget("Estado"), dget("Pais")
            zip_code, municipality = dget("CodigoPostal"), dget("Municipio")
    return CartaPorteLocation(
        kind=g("TipoUbicacion", ""),
        rfc=g("RFCRemitenteDestinatario"),
        at=_date(g("FechaHoraSalidaLlegada"), path, "FechaHoraSalidaLlegada"),
        location_id=g("IDUbicacion"),
        name=g("NombreRemitenteDestinatario"),
        distance=_opt_dec(el, "DistanciaRecorrida", path),
        state=state,
        country=country,
        zip_code=zip_code,
        municipality=municipality,
    )


def _cp_goods(el: Element, path: str) -> CartaPorteGoods:
    g = el.get
    return CartaPorteGoods(
        product_code=g("BienesTransp", ""),
        description=g("Descripcion"),
        quantity=_opt_dec(el, "Cantidad", path),
        unit_code=g("ClaveUnidad"),
        weight_kg=_opt_dec(el, "PesoEnKg", path),
        hazardous=g("MaterialPeligroso"),
        hazardous_code=g("CveMaterialPeligroso"),
        value=_opt_dec(el, "ValorMercancia", path),
        currency=g("Moneda"),
        packaging_code=g("Embalaje"),
    )


def _cp_vehicle(el: Element, tg: dict[str, str], path: str) -> CartaPorteVehicle:
    config = plate = year = insurer = policy = None
    weight = None
    trailers: list[tuple[str, str]] = []
    for child in el:
        tag = child.tag
        if tag == tg["IdentificacionVehicular"]:
            config, plate = child.get("ConfigVehicular"), child.get("PlacaVM")
            year = child.get("AnioModeloVM")
            weight = _opt_dec(child, "PesoBrutoVehicular", path + "/IdentificacionVehicular")
        elif tag == tg["Seguros"]:
            insurer, policy = child.get("AseguraRespCivil"), child.get("PolizaRespCivil")
        elif tag == tg["Remolques"]:
            trailers.extend(
                (r.get("SubTipoRem", ""), r.get("Placa", ""))
                for r in child
                if r.tag == tg["Remolque"]
            )
    return CartaPorteVehicle(
        permit_type=el.get("PermSCT"),
        permit_number=el.get("NumPermisoSCT"),
        config=config,
        plate=plate,
        model_year=year,
        gross_weight=weight,
        insurer=insurer,
        policy=policy,
        trailers=tuple(trailers),
    )


# --- the document ------------------------------------------------------------------------


def _comprobante(root: Element, t: _Tags, source: str | None) -> Cfdi:
    get = root.get
    issuer = receiver = None
    concepts: list[Concept] = []
    taxes = None
    global_info = None
    related: list[RelatedDocuments] = []
    stamp = None
    payments = None
    carta_porte = None
    complements: list[RawElement] = []
    addenda: tuple[RawElement, ...] = ()

    for child in root:
        tag = child.tag
        if tag == t.conceptos:
            for concept in child:
                if concept.tag == t.concepto:
                    concepts.append(_concept(concept, t, len(concepts)))
        elif tag == t.emisor:
            cget = child.get
            issuer = CfdiIssuer(
                rfc=_req(child, "Rfc", "Emisor"),
                name=cget("Nombre"),
                tax_regime=cget("RegimenFiscal"),
                acquirer_factor=cget("FacAtrAdquirente"),
            )
        elif tag == t.receptor:
            cget = child.get
            receiver = CfdiReceiver(
                rfc=_req(child, "Rfc", "Receptor"),
                name=cget("Nombre"),
                cfdi_use=cget("UsoCFDI"),
                zip_code=cget("DomicilioFiscalReceptor"),
                tax_regime=cget("RegimenFiscalReceptor"),
                tax_residence=cget("ResidenciaFiscal"),
                foreign_tax_id=cget("NumRegIdTrib"),
            )
        elif tag == t.impuestos:
            taxes = _document_taxes(child, t)
        elif tag == t.complemento:
            for comp in child:
                ctag = comp.tag
                if ctag == _TFD:
                    stamp = _stamp(comp)
                elif ctag in (_PAGOS20, _PAGOS10):
                    payments = _payments(comp, etree.QName(comp).namespace or "")
                elif isinstance(ctag, str):
                    qname = etree.QName(comp)
                    ns = qname.namespace or ""
                    if qname.localname == "CartaPorte" and ns.startswith(_CARTA_PORTE_PREFIX):
                        carta_porte = _carta_porte(comp, ns)
                    else:
                        complements.append(_raw(comp))
        elif tag == t.relacionados:
            related.append(
                RelatedDocuments(
                    relation_type=child.get("TipoRelacion", ""),
                    uuids=tuple(
                        r.get("UUID", "") for r in child if r.tag == t.relacionado
                    ),
                )
            )
        elif tag == t.info_global:
            path = "InformacionGlobal"
            year = _int(_req(child, "Año", path), path, "Año")
            assert year is not None  # _req guarantees a value
            global_info = GlobalInformation(
                periodicity=child.get("Periodicidad", ""),
                months=child.get("Meses", ""),
                year=year,
            )
        elif tag == t.addenda:
            addenda = _children_raw(child)

    if issuer is None:
        raise ValidationError("Emisor element is missing", field="Emisor", code=_CODE_MISSING)
    if receiver is None:
        raise ValidationError("Receptor element is missing", field="Receptor", code=_CODE_MISSING)
    return Cfdi(
        version=_req(root, "Version", "Comprobante"),
        issued_at=_req_date(root, "Fecha", "Comprobante"),
        kind=_req(root, "TipoDeComprobante", "Comprobante"),
        currency=_req(root, "Moneda", "Comprobante"),
        subtotal=_req_dec(root, "SubTotal", "Comprobante"),
        total=_req_dec(root, "Total", "Comprobante"),
        issuer=issuer,
        receiver=receiver,
        concepts=tuple(concepts),
        series=get("Serie"),
        folio=get("Folio"),
        payment_form=get("FormaPago"),
        payment_method=get("MetodoPago"),
        payment_terms=get("CondicionesDePago"),
        discount=_opt_dec(root, "Descuento", "Comprobante"),
        exchange_rate=_opt_dec(root, "TipoCambio", "Comprobante"),
        export_code=get("Exportacion"),
        place_of_issue=get("LugarExpedicion"),
        confirmation=get("Confirmacion"),
        certificate_number=get("NoCertificado"),
        certificate=get("Certificado"),
        seal=get("Sello"),
        taxes=taxes,
        global_info=global_info,
        related=tuple(related),
        stamp=stamp,
        payments=payments,
        carta_porte=carta_porte,
        complements=tuple(complements),
        addenda=addenda,
        source=source,
    )


def _read_path(path: os.PathLike[str], max_bytes: int) -> bytes:
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        if size > max_bytes:
            raise ValidationError(
                f"file is {size} bytes, larger than the {max_bytes}-byte limit",
                field=name,
                code="APUNTO-CFDI-002",
            )
        with open(name, "rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        raise ValidationError(
            f"cannot read file: {exc.strerror or exc}", field=name, code="APUNTO-CFDI-005"
        ) from None


def parse(
    xml: bytes | bytearray | memoryview | str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str | None = None,
) -> Cfdi:
    """Parse one CFDI (4.0 or 3.3) from untrusted XML.

    Args:
        xml: the document as bytes (best: the XML declaration's encoding is honoured), as text,
            or a :class:`os.PathLike` path to a file. A plain ``str`` is always XML text, never
            a path.
        max_bytes: refuse documents larger than this (20 MB by default).
        source: a name for the document (file name, ZIP member) kept in ``Cfdi.source`` and
            used in error messages; defaults to the path when ``xml`` is one.

    Returns:
        The typed, immutable :class:`Cfdi`.

    Raises:
        ValidationError: for anything that is not a readable CFDI: not XML, a DTD or entity
            declaration, too large, another root element, or a missing/malformed required
            attribute. Nothing else escapes (lxml errors included).
    """
    if isinstance(xml, os.PathLike):
        source = source or os.fspath(xml)
        xml = _read_path(xml, max_bytes)
    root = parse_xml(xml, max_bytes=max_bytes, source=source)
    tags = _ROOTS.get(root.tag) if isinstance(root.tag, str) else None
    if tags is None:
        name = root.tag if isinstance(root.tag, str) else "(none)"
        raise ValidationError(
            f"not a CFDI: root element is {name}, expected a cfdi:Comprobante (3.3 or 4.0)",
            field=source or "xml",
            code=_CODE_NOT_CFDI,
        )
    try:
        return _comprobante(root, tags, source)
    except ValidationError as exc:
        if source:
            raise _with_source(exc, source) from None
        raise
    except (ValueError, TypeError, ArithmeticError, LookupError, etree.LxmlError) as exc:
        # Defensive net: a malformed document must never surface anything but our error type.
        raise ValidationError(
            f"unreadable CFDI: {exc}", field=source or "xml", code=_CODE_BAD_VALUE
        ) from None


def _with_source(exc: ValidationError, source: str) -> ValidationError:
    """Return ``exc`` with every issue's field prefixed by the document's name."""
    issues = [
        Issue(
            field=f"{source}:{i.field}",
            code=i.code,
            message=i.message,
            message_es=i.message_es,
            severity=i.severity,
        )
        for i in exc.issues
    ]
    return ValidationError(issues)

