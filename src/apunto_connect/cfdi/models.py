"""Typed, immutable model of a parsed CFDI (4.0 and 3.3) and its common complements.

Attribute names are English; each docstring names the SAT attribute it comes from. Amounts are
:class:`~decimal.Decimal` exactly as written in the XML (``Decimal("1160.00")`` keeps its two
decimals), never floats. Catalog values (c_FormaPago, c_Impuesto, ...) are kept as the raw SAT
codes so that a document using a code this SDK does not know still parses.

This module does not import lxml, so the models can be used in type hints cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

import attrs

from ..models.invoices import GlobalInformation, RelatedDocuments, TaxFactor, TaxKind
from ..models.payments import ReceiptTotals

__all__ = [
    "CFDI_NAMESPACES",
    "CartaPorte",
    "CartaPorteFigure",
    "CartaPorteGoods",
    "CartaPorteLocation",
    "CartaPorteVehicle",
    "Cfdi",
    "CfdiIssuer",
    "CfdiReceiver",
    "Concept",
    "DocumentTaxes",
    "GlobalInformation",
    "PaidDocument",
    "Payment",
    "PaymentTotals",
    "Payments",
    "RawElement",
    "RelatedDocuments",
    "Stamp",
    "TaxLine",
    "ThirdParty",
]

CFDI_NAMESPACES: Mapping[str, str] = {
    "4.0": "http://www.sat.gob.mx/cfd/4",
    "3.3": "http://www.sat.gob.mx/cfd/3",
}
"""Namespace of the Comprobante element per CFDI version."""

_TAX_KINDS = {"001": TaxKind.ISR, "002": TaxKind.IVA, "003": TaxKind.IEPS}
_TAX_FACTORS = {f.value: f for f in TaxFactor}


@attrs.frozen(slots=True)
class RawElement:
    """An element this SDK has no typed model for, kept instead of being dropped.

    Used for unknown complements (Comercio Exterior, Nómina, Leyendas, ...), addenda and
    ComplementoConcepto children.

    Attributes:
        namespace: the element's namespace URI (``""`` when it has none).
        name: the element's local name (``Nomina``).
        attributes: the element's own attributes (Clark-notation keys for namespaced ones).
        xml: the whole element, serialized as UTF-8 text, children included.
    """

    namespace: str
    name: str
    attributes: Mapping[str, str] = attrs.field(eq=False)  # ``xml`` carries equality
    xml: str = attrs.field(repr=False)

    @property
    def tag(self) -> str:
        """The element's name in Clark notation (``{namespace}name``)."""
        return f"{{{self.namespace}}}{self.name}" if self.namespace else self.name


@attrs.frozen(slots=True)
class TaxLine:
    """One tax row (Traslado or Retención) of a concept, the document or a payment.

    Attributes:
        tax: c_Impuesto code as written (``001`` ISR, ``002`` IVA, ``003`` IEPS).
        withholding: ``True`` for a Retención.
        factor: TipoFactor (``Tasa``, ``Cuota``, ``Exento``); ``None`` where the node has none
            (document-level retentions).
        rate: TasaOCuota; ``None`` for ``Exento`` and document-level retentions.
        base: Base; ``None`` where the node has none (document-level retentions, 3.3 totals).
        amount: Importe; ``None`` for ``Exento``.
    """

    tax: str
    withholding: bool
    factor: str | None = None
    rate: Decimal | None = None
    base: Decimal | None = None
    amount: Decimal | None = None

    @property
    def kind(self) -> TaxKind | None:
        """The tax as :class:`~apunto_connect.models.TaxKind`, or ``None`` for an unknown code."""
        return _TAX_KINDS.get(self.tax)

    @property
    def tax_factor(self) -> TaxFactor | None:
        """The factor as :class:`~apunto_connect.models.TaxFactor`, when it is a known one."""
        return _TAX_FACTORS.get(self.factor) if self.factor is not None else None


@attrs.frozen(slots=True)
class ThirdParty:
    """ACuentaTerceros of a concept: the taxpayer the line was billed on behalf of."""

    rfc: str
    name: str
    tax_regime: str
    zip_code: str


@attrs.frozen(slots=True)
class Concept:
    """One Concepto (line) of the document.

    Attributes:
        product_code: ClaveProdServ.
        quantity: Cantidad.
        unit_code: ClaveUnidad.
        description: Descripcion.
        unit_price: ValorUnitario.
        amount: Importe (quantity × unit price, before discount and taxes).
        tax_object: ObjetoImp (4.0 only; ``None`` in 3.3).
        sku: NoIdentificacion.
        unit_name: Unidad.
        discount: Descuento, when present.
        transferred: Traslados of the line.
        withheld: Retenciones of the line.
        third_party: ACuentaTerceros.
        customs_numbers: NumeroPedimento of each InformacionAduanera.
        property_accounts: Numero of each CuentaPredial.
        extra: ComplementoConcepto children and Parte elements, kept raw.
    """

    product_code: str
    quantity: Decimal
    unit_code: str | None
    description: str
    unit_price: Decimal
    amount: Decimal
    tax_object: str | None = None
    sku: str | None = None
    unit_name: str | None = None
    discount: Decimal | None = None
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()
    third_party: ThirdParty | None = None
    customs_numbers: tuple[str, ...] = ()
    property_accounts: tuple[str, ...] = ()
    extra: tuple[RawElement, ...] = ()

    @property
    def taxes(self) -> tuple[TaxLine, ...]:
        """Transferred then withheld taxes of the line."""
        return self.transferred + self.withheld


@attrs.frozen(slots=True)
class DocumentTaxes:
    """Comprobante/Impuestos: the per-group summary of the lines' taxes.

    Attributes:
        total_transferred: TotalImpuestosTrasladados, when present.
        total_withheld: TotalImpuestosRetenidos, when present.
        transferred: Traslado rows (one per tax, factor and rate).
        withheld: Retencion rows (one per tax; no base, factor or rate).
    """

    total_transferred: Decimal | None = None
    total_withheld: Decimal | None = None
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()


@attrs.frozen(slots=True)
class CfdiIssuer:
    """Emisor.

    Attributes:
        rfc: Rfc, exactly as written.
        name: Nombre (optional in 3.3).
        tax_regime: RegimenFiscal.
        acquirer_factor: FacAtrAdquirente (4.0, rare).
    """

    rfc: str
    name: str | None = None
    tax_regime: str | None = None
    acquirer_factor: str | None = None


@attrs.frozen(slots=True)
class CfdiReceiver:
    """Receptor.

    Attributes:
        rfc: Rfc, exactly as written.
        name: Nombre.
        cfdi_use: UsoCFDI.
        zip_code: DomicilioFiscalReceptor (4.0).
        tax_regime: RegimenFiscalReceptor (4.0).
        tax_residence: ResidenciaFiscal, for foreign receivers.
        foreign_tax_id: NumRegIdTrib, for foreign receivers.
    """

    rfc: str
    name: str | None = None
    cfdi_use: str | None = None
    zip_code: str | None = None
    tax_regime: str | None = None
    tax_residence: str | None = None
    foreign_tax_id: str | None = None


@attrs.frozen(slots=True)
class Stamp:
    """TimbreFiscalDigital 1.1: the PAC's certification of a CFDI.

    ``parse`` fills it from the document's complement; ``build`` accepts one to add the
    complement to a generated document. A document built by this SDK is never signed for real:
    when ``cfd_seal``/``sat_seal`` are not given, ``build`` writes clearly marked placeholders.

    Attributes:
        uuid: UUID (the folio fiscal).
        stamped_at: FechaTimbrado (Mexico local time, naive).
        pac_rfc: RfcProvCertif, the certifying PAC's RFC.
        sat_certificate: NoCertificadoSAT (20 digits).
        cfd_seal: SelloCFD (equals Comprobante@Sello).
        sat_seal: SelloSAT.
        legend: Leyenda.
        version: Version (``1.1``; ``1.0`` for very old documents).
    """

    uuid: str
    stamped_at: datetime
    pac_rfc: str
    sat_certificate: str
    cfd_seal: str | None = attrs.field(default=None, repr=False)
    sat_seal: str | None = attrs.field(default=None, repr=False)
    legend: str | None = None
    version: str = "1.1"


@attrs.frozen(slots=True)
class PaidDocument:
    """DoctoRelacionado of a payment: one invoice (PPD) the payment settles, fully or partly.

    Attributes:
        uuid: IdDocumento.
        currency: MonedaDR.
        amount_paid: ImpPagado.
        series: Serie.
        folio: Folio.
        equivalence: EquivalenciaDR (Pagos 2.0) or TipoCambioDR (Pagos 1.0): units of the
            document's currency per unit of the payment's currency.
        installment: NumParcialidad.
        previous_balance: ImpSaldoAnt.
        remaining_balance: ImpSaldoInsoluto.
        tax_object: ObjetoImpDR (Pagos 2.0).
        payment_method: MetodoDePagoDR (Pagos 1.0 only).
        transferred: TrasladosDR.
        withheld: RetencionesDR.
    """

    uuid: str
    currency: str | None
    amount_paid: Decimal | None
    series: str | None = None
    folio: str | None = None
    equivalence: Decimal | None = None
    installment: int | None = None
    previous_balance: Decimal | None = None
    remaining_balance: Decimal | None = None
    tax_object: str | None = None
    payment_method: str | None = None
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()


@attrs.frozen(slots=True)
class Payment:
    """Pago: one payment received.

    Attributes:
        paid_at: FechaPago.
        payment_form: FormaDePagoP.
        currency: MonedaP.
        amount: Monto.
        exchange_rate: TipoCambioP.
        operation_number: NumOperacion.
        payer_bank_rfc: RfcEmisorCtaOrd.
        payer_bank_name: NomBancoOrdExt.
        payer_account: CtaOrdenante.
        payee_bank_rfc: RfcEmisorCtaBen.
        payee_account: CtaBeneficiario.
        documents: the invoices this payment settles.
        transferred: TrasladosP (Pagos 2.0) / Traslados (Pagos 1.0).
        withheld: RetencionesP (Pagos 2.0) / Retenciones (Pagos 1.0).
    """

    paid_at: datetime
    payment_form: str
    currency: str
    amount: Decimal
    exchange_rate: Decimal | None = None
    operation_number: str | None = None
    payer_bank_rfc: str | None = None
    payer_bank_name: str | None = None
    payer_account: str | None = None
    payee_bank_rfc: str | None = None
    payee_account: str | None = None
    documents: tuple[PaidDocument, ...] = ()
    transferred: tuple[TaxLine, ...] = ()
    withheld: tuple[TaxLine, ...] = ()


@attrs.frozen(slots=True)
class PaymentTotals(ReceiptTotals):
    """Totales of Pagos 2.0 (all in MXN), as read: the fields of the receipt builder's totals.

    Attributes:
        total_amount: MontoTotalPagos.
        withheld_iva: TotalRetencionesIVA.
        withheld_isr: TotalRetencionesISR.
        withheld_ieps: TotalRetencionesIEPS.
        base_iva16: TotalTrasladosBaseIVA16.
        iva16: TotalTrasladosImpuestoIVA16.
        base_iva8: TotalTrasladosBaseIVA8.
        iva8: TotalTrasladosImpuestoIVA8.
        base_iva0: TotalTrasladosBaseIVA0.
        iva0: TotalTrasladosImpuestoIVA0.
        base_iva_exempt: TotalTrasladosBaseIVAExento.
    """


@attrs.frozen(slots=True)
class Payments:
    """The payments complement (Pagos 2.0, or Pagos 1.0 in 3.3 documents).

    Attributes:
        version: Version (``2.0`` or ``1.0``).
        payments: the Pago elements.
        totals: Totales (Pagos 2.0 only).
    """

    version: str
    payments: tuple[Payment, ...]
    totals: PaymentTotals | None = None

    @property
    def documents(self) -> tuple[PaidDocument, ...]:
        """Every related document of every payment, in order."""
        return tuple(d for p in self.payments for d in p.documents)


@attrs.frozen(slots=True)
class CartaPorteLocation:
    """Ubicacion of a Carta Porte.

    Attributes:
        kind: TipoUbicacion (``Origen``/``Destino``).
        rfc: RFCRemitenteDestinatario.
        at: FechaHoraSalidaLlegada.
        location_id: IDUbicacion (``OR000001``/``DE000001``).
        name: NombreRemitenteDestinatario.
        distance: DistanciaRecorrida (destinations).
        state: Domicilio@Estado.
        country: Domicilio@Pais.
        zip_code: Domicilio@CodigoPostal.
        municipality: Domicilio@Municipio.
    """

    kind: str
    rfc: str | None
    at: datetime | None
    location_id: str | None = None
    name: str | None = None
    distance: Decimal | None = None
    state: str | None = None
    country: str | None = None
    zip_code: str | None = None
    municipality: str | None = None


@attrs.frozen(slots=True)
class CartaPorteGoods:
    """Mercancia of a Carta Porte.

    Attributes:
        product_code: BienesTransp (c_ClaveProdServCP).
        description: Descripcion.
        quantity: Cantidad.
        unit_code: ClaveUnidad.
        weight_kg: PesoEnKg.
        hazardous: MaterialPeligroso (``Sí``/``No``), when given.
        hazardous_code: CveMaterialPeligroso.
        value: ValorMercancia.
        currency: Moneda.
        packaging_code: Embalaje (c_TipoEmbalaje).
    """

    product_code: str
    description: str | None
    quantity: Decimal | None
    unit_code: str | None
    weight_kg: Decimal | None
    hazardous: str | None = None
    hazardous_code: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    packaging_code: str | None = None


@attrs.frozen(slots=True)
class CartaPorteVehicle:
    """Autotransporte of a Carta Porte: permit, vehicle, insurance and trailers.

    Attributes:
        permit_type: PermSCT (c_TipoPermiso, e.g. ``TPAF01``).
        permit_number: NumPermisoSCT.
        config: IdentificacionVehicular@ConfigVehicular (e.g. ``C2``, ``T3S2``).
        plate: IdentificacionVehicular@PlacaVM.
        model_year: IdentificacionVehicular@AnioModeloVM.
        gross_weight: IdentificacionVehicular@PesoBrutoVehicular (tons).
        insurer: Seguros@AseguraRespCivil.
        policy: Seguros@PolizaRespCivil.
        trailers: (SubTipoRem, Placa) of each Remolque.
    """

    permit_type: str | None = None
    permit_number: str | None = None
    config: str | None = None
    plate: str | None = None
    model_year: str | None = None
    gross_weight: Decimal | None = None
    insurer: str | None = None
    policy: str | None = None
    trailers: tuple[tuple[str, str], ...] = ()


@attrs.frozen(slots=True)
class CartaPorteFigure:
    """TiposFigura of a Carta Porte: operator, owner, lessor or notified party.

    Attributes:
        kind: TipoFigura (``01`` operador, ``02`` propietario, ``03`` arrendador, ...).
        name: NombreFigura.
        rfc: RFCFigura.
        license: NumLicencia (operators).
    """

    kind: str
    name: str | None
    rfc: str | None = None
    license: str | None = None


@attrs.frozen(slots=True)
class CartaPorte:
    """Carta Porte complement (3.1; 2.0 and 3.0 read the same way where fields exist).

    Attributes:
        version: Version.
        id_ccp: IdCCP (3.0+).
        international: TranspInternac is ``Sí``.
        total_distance: TotalDistRec (km).
        locations: Ubicaciones.
        goods_count: Mercancias@NumTotalMercancias.
        gross_weight: Mercancias@PesoBrutoTotal.
        weight_unit: Mercancias@UnidadPeso.
        goods: every Mercancia.
        vehicle: Autotransporte, for road freight.
        transport_modes: local names of the transport nodes present (``Autotransporte``,
            ``TransporteMaritimo``, ``TransporteAereo``, ``TransporteFerroviario``).
        figures: FiguraTransporte/TiposFigura.
        entry_exit: EntradaSalidaMerc (``Entrada``/``Salida``), international only.
        origin_destination_country: PaisOrigenDestino.
        entry_exit_way: ViaEntradaSalida (c_CveTransporte).
    """

    version: str
    id_ccp: str | None
    international: bool
    total_distance: Decimal | None = None
    locations: tuple[CartaPorteLocation, ...] = ()
    goods_count: int | None = None
    gross_weight: Decimal | None = None
    weight_unit: str | None = None
    goods: tuple[CartaPorteGoods, ...] = ()
    vehicle: CartaPorteVehicle | None = None
    transport_modes: tuple[str, ...] = ()
    figures: tuple[CartaPorteFigure, ...] = ()
    entry_exit: str | None = None
    origin_destination_country: str | None = None
    entry_exit_way: str | None = None

    @property
    def vehicle_config(self) -> str | None:
        """ConfigVehicular of the road vehicle, if any."""
        return self.vehicle.config if self.vehicle else None

    @property
    def vehicle_plate(self) -> str | None:
        """PlacaVM of the road vehicle, if any."""
        return self.vehicle.plate if self.vehicle else None


@attrs.frozen(slots=True)
class Cfdi:
    """A parsed CFDI (Comprobante 4.0 or 3.3).

    Attributes:
        version: Version (``4.0`` or ``3.3``).
        issued_at: Fecha (Mexico local time, naive).
        kind: TipoDeComprobante (``I``, ``E``, ``T``, ``N``, ``P``).
        currency: Moneda.
        subtotal: SubTotal.
        total: Total.
        issuer: Emisor.
        receiver: Receptor.
        concepts: Conceptos.
        series: Serie.
        folio: Folio.
        payment_form: FormaPago.
        payment_method: MetodoPago.
        payment_terms: CondicionesDePago.
        discount: Descuento.
        exchange_rate: TipoCambio.
        export_code: Exportacion (4.0).
        place_of_issue: LugarExpedicion (postal code).
        confirmation: Confirmacion.
        certificate_number: NoCertificado.
        certificate: Certificado (base64 DER), hidden from ``repr``.
        seal: Sello (base64), hidden from ``repr``.
        taxes: Comprobante/Impuestos, when present.
        global_info: InformacionGlobal (4.0 factura global).
        related: CfdiRelacionados groups (one in 3.3, any number in 4.0).
        stamp: TimbreFiscalDigital, when the document is stamped.
        payments: Pagos 2.0 / 1.0 complement.
        carta_porte: Carta Porte complement.
        complements: every other complement, kept raw.
        addenda: Addenda children, kept raw.
        source: where the document came from (file name or ZIP member), when known.
    """

    version: str
    issued_at: datetime
    kind: str
    currency: str
    subtotal: Decimal
    total: Decimal
    issuer: CfdiIssuer
    receiver: CfdiReceiver
    concepts: tuple[Concept, ...]
    series: str | None = None
    folio: str | None = None
    payment_form: str | None = None
    payment_method: str | None = None
    payment_terms: str | None = None
    discount: Decimal | None = None
    exchange_rate: Decimal | None = None
    export_code: str | None = None
    place_of_issue: str | None = None
    confirmation: str | None = None
    certificate_number: str | None = None
    certificate: str | None = attrs.field(default=None, repr=False)
    seal: str | None = attrs.field(default=None, repr=False)
    taxes: DocumentTaxes | None = None
    global_info: GlobalInformation | None = None
    related: tuple[RelatedDocuments, ...] = ()
    stamp: Stamp | None = None
    payments: Payments | None = None
    carta_porte: CartaPorte | None = None
    complements: tuple[RawElement, ...] = ()
    addenda: tuple[RawElement, ...] = ()
    source: str | None = attrs.field(default=None, eq=False)

    @property
    def uuid(self) -> str | None:
        """The folio fiscal (TimbreFiscalDigital@UUID), upper-cased; ``None`` if unstamped."""
        return self.stamp.uuid.upper() if self.stamp else None

    @property
    def is_stamped(self) -> bool:
        """Whether the document carries a TimbreFiscalDigital."""
        return self.stamp is not None

    @property
    def total_transferred(self) -> Decimal | None:
        """TotalImpuestosTrasladados, when the document has one."""
        return self.taxes.total_transferred if self.taxes else None

    @property
    def total_withheld(self) -> Decimal | None:
        """TotalImpuestosRetenidos, when the document has one."""
        return self.taxes.total_withheld if self.taxes else None

    @property
    def verification_url(self) -> str:
        """The SAT verification link (see :func:`apunto_connect.cfdi.verification_url`)."""
        from .verify import verification_url

        return verification_url(self)
