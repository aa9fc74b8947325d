"""Pre-flight rules for Carta Porte 3.1 (autotransporte), named by the SAT's ``CCP`` codes.

The host CFDI is checked by :mod:`.rules`; this module checks what the Carta Porte adds: the
host's type (I or T) and, for T, the receiver and use; IdCCP; the locations, dates and
distances; the goods and hazardous-material data; the truck, its permit, plate, year,
insurance and trailers; and the operator.

Codes follow the numbering scheme of the SAT's Matriz de errores of the Carta Porte complement
(``CCP1…`` for the host CFDI, ``CCP2…`` for the complement). The matrix itself could not be
consulted while these rules were written (no network), so each code number should be checked
against the published matrix; the conditions come from the Carta Porte 3.1 schema and filling
guide. This SDK builds domestic road freight only; what it does not support is refused with our
own code (``APUNTO-8xx``).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from ..errors import Issue
from ..models.carta_porte import DESTINATION, ORIGIN, CartaPorteInvoice
from ..models.invoices import InvoiceKind, TaxKind
from ._findings import Findings
from .rfc import RfcKind, validate_rfc

__all__ = ["preflight_carta_porte"]

_ID_CCP = re.compile(
    r"CCC[0-9A-F]{5}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}"
)
_LOCATION_ID = {ORIGIN: re.compile(r"OR[0-9]{6}"), DESTINATION: re.compile(r"DE[0-9]{6}")}
_ZIP = re.compile(r"[0-9]{5}")
_PLATE = re.compile(r"[A-Z0-9]{5,7}")
_PERMIT = re.compile(r"TP[A-Z]{2}[0-9]{2}")


def _check_host(out: Findings, document: CartaPorteInvoice) -> None:
    invoice = document.invoice
    if invoice.kind not in (InvoiceKind.INCOME, InvoiceKind.TRANSFER):
        out.error("invoice.kind", "CCP101",
                  "a Carta Porte goes on a CFDI of type I (Ingreso) or T (Traslado)",
                  "La Carta Porte se incorpora a un CFDI de tipo I (Ingreso) o T (Traslado)")
        return
    if invoice.kind is InvoiceKind.TRANSFER:
        issuer = invoice.issuer
        if issuer is not None and invoice.customer.rfc != issuer.rfc:
            out.error("invoice.customer.rfc", "CCP103",
                      "a type T Carta Porte is issued to oneself: Receptor RFC = Emisor RFC",
                      "Un CFDI de Traslado con Carta Porte se emite a sí mismo: RFC del receptor "
                      "igual al del emisor")
        if invoice.effective_cfdi_use != "S01":
            out.error("invoice.cfdi_use", "CCP104", "a type T Carta Porte uses UsoCFDI S01",
                      "Un CFDI de Traslado con Carta Porte usa el UsoCFDI S01")
        return
    # Land freight billed to a persona moral: IVA 4 % is withheld (LIVA 1-A II c).
    customer = validate_rfc(invoice.customer.rfc)
    withholds = any(
        t.withholding and t.kind is TaxKind.IVA for item in invoice.items for t in item.taxes
    )
    if customer.valid and customer.kind is RfcKind.MORAL and not withholds:
        out.warning("invoice.items", "APUNTO-810",
                    "land freight billed to a persona moral usually withholds 4 % IVA",
                    "El autotransporte facturado a una persona moral suele retener 4 % de IVA")


def _check_locations(out: Findings, document: CartaPorteInvoice) -> None:
    cp = document.carta_porte
    kinds = [loc.kind for loc in cp.locations]
    if ORIGIN not in kinds or DESTINATION not in kinds:
        out.error("carta_porte.locations", "CCP203",
                  "Ubicaciones needs at least one Origen and one Destino",
                  "Ubicaciones requiere al menos un Origen y un Destino")
    departures = [loc.at for loc in cp.locations if loc.kind == ORIGIN and loc.at]
    for index, loc in enumerate(cp.locations):
        field = f"carta_porte.locations[{index}]"
        if loc.kind not in (ORIGIN, DESTINATION):
            out.error(f"{field}.kind", "CCP202",
                      f"TipoUbicacion is Origen or Destino, got {loc.kind!r}",
                      f"TipoUbicacion es Origen o Destino, se recibió {loc.kind!r}")
            continue
        pattern = _LOCATION_ID[loc.kind]
        if loc.location_id is not None and not pattern.fullmatch(loc.location_id):
            prefix = "OR" if loc.kind == ORIGIN else "DE"
            out.error(f"{field}.location_id", "CCP204",
                      f"IDUbicacion of an {loc.kind} is {prefix} and six digits",
                      f"IDUbicacion de un {loc.kind} es {prefix} seguido de seis dígitos")
        rfc = validate_rfc(loc.rfc)
        if not rfc.valid:
            out.error(f"{field}.rfc", "CCP205",
                      f"RFCRemitenteDestinatario {loc.rfc!r} is not a valid RFC",
                      f"RFCRemitenteDestinatario {loc.rfc!r} no es un RFC válido")
        if loc.at is None:
            out.error(f"{field}.at", "CCP206", "FechaHoraSalidaLlegada is required",
                      "FechaHoraSalidaLlegada es obligatoria")
        elif loc.kind == DESTINATION and any(
            _naive(loc.at) < _naive(start) for start in departures
        ):
            out.error(f"{field}.at", "CCP207",
                      "the arrival at a destination is before the departure from the origin",
                      "La llegada al destino es anterior a la salida del origen")
        if loc.kind == DESTINATION and (loc.distance is None or loc.distance <= 0):
            out.error(f"{field}.distance", "CCP208",
                      "DistanciaRecorrida (km, greater than 0) is required on a Destino",
                      "DistanciaRecorrida (km, mayor que 0) es obligatoria en un Destino")
        if not _ZIP.fullmatch(loc.zip_code):
            out.error(f"{field}.zip_code", "CCP209",
                      f"CodigoPostal {loc.zip_code!r} is not five digits",
                      f"CodigoPostal {loc.zip_code!r} no tiene cinco dígitos")
        if not loc.state:
            out.error(f"{field}.state", "CCP210", "Estado is required",
                      "Estado es obligatorio")
        if loc.country != "MEX":
            out.error(f"{field}.country", "APUNTO-801",
                      "this SDK builds domestic Carta Porte only (Pais MEX)",
                      "Este SDK genera solo Carta Porte nacional (Pais MEX)")


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _check_goods(out: Findings, document: CartaPorteInvoice) -> None:
    goods = document.carta_porte.goods
    if not goods:
        out.error("carta_porte.goods", "CCP211", "Mercancias needs at least one Mercancia",
                  "Mercancias requiere al menos una Mercancia")
    for index, item in enumerate(goods):
        field = f"carta_porte.goods[{index}]"
        out.positive(f"{field}.weight_kg", "CCP212", "PesoEnKg", item.weight_kg)
        out.positive(f"{field}.quantity", "CCP213", "Cantidad", item.quantity)
        if item.hazardous and not item.hazardous_code:
            out.error(f"{field}.hazardous_code", "CCP214",
                      "hazardous goods need CveMaterialPeligroso",
                      "El material peligroso requiere CveMaterialPeligroso")
        if item.hazardous and not item.packaging_code:
            out.error(f"{field}.packaging_code", "CCP215",
                      "hazardous goods need Embalaje",
                      "El material peligroso requiere Embalaje")
        if not item.hazardous and (item.hazardous_code or item.packaging_code):
            out.error(f"{field}.hazardous_code", "CCP216",
                      "CveMaterialPeligroso and Embalaje are only for hazardous goods",
                      "CveMaterialPeligroso y Embalaje solo aplican a material peligroso")


def _check_truck(out: Findings, document: CartaPorteInvoice) -> None:
    truck = document.carta_porte.truck
    field = "carta_porte.truck"
    if not _PERMIT.fullmatch(truck.permit_type):
        out.error(f"{field}.permit_type", "CCP220",
                  f"PermSCT {truck.permit_type!r} is not a c_TipoPermiso code (e.g. TPAF01)",
                  f"PermSCT {truck.permit_type!r} no es una clave de c_TipoPermiso (p. ej. "
                  f"TPAF01)")
    if not truck.permit_number.strip():
        out.error(f"{field}.permit_number", "CCP221", "NumPermisoSCT is required",
                  "NumPermisoSCT es obligatorio")
    if not _PLATE.fullmatch(truck.plate):
        out.error(f"{field}.plate", "CCP222",
                  f"PlacaVM {truck.plate!r} must be 5 to 7 letters or digits, no dashes",
                  f"PlacaVM {truck.plate!r} debe tener de 5 a 7 letras o dígitos, sin guiones")
    this_year = datetime.now().year
    if not 1900 <= truck.model_year <= this_year + 1:
        out.error(f"{field}.model_year", "CCP223",
                  f"AnioModeloVM {truck.model_year} is not a model year",
                  f"AnioModeloVM {truck.model_year} no es un año modelo válido")
    if truck.gross_weight <= 0:
        out.error(f"{field}.gross_weight", "CCP224",
                  "PesoBrutoVehicular (tons) must be greater than 0",
                  "PesoBrutoVehicular (toneladas) debe ser mayor que 0")
    if not truck.insurer.strip() or not truck.policy.strip():
        out.error(f"{field}.policy", "CCP225",
                  "AseguraRespCivil and PolizaRespCivil are required",
                  "AseguraRespCivil y PolizaRespCivil son obligatorios")
    if truck.config.startswith("T") and not truck.trailers:
        out.error(f"{field}.trailers", "CCP226",
                  f"ConfigVehicular {truck.config} is a tractor: it needs its Remolques",
                  f"ConfigVehicular {truck.config} es tractocamión: requiere sus Remolques")
    if len(truck.trailers) > 2:
        out.error(f"{field}.trailers", "CCP227", "at most two Remolques",
                  "Como máximo dos Remolques")
    for index, trailer in enumerate(truck.trailers):
        if not _PLATE.fullmatch(trailer.plate):
            out.error(f"{field}.trailers[{index}].plate", "CCP228",
                      f"Placa {trailer.plate!r} must be 5 to 7 letters or digits",
                      f"Placa {trailer.plate!r} debe tener de 5 a 7 letras o dígitos")


def _check_figures(out: Findings, document: CartaPorteInvoice) -> None:
    operators = [f for f in document.carta_porte.figures if f.kind == "01"]
    if not operators:
        out.error("carta_porte.figures", "CCP230",
                  "FiguraTransporte needs the operator (TipoFigura 01)",
                  "FiguraTransporte requiere al operador (TipoFigura 01)")
    for index, figure in enumerate(document.carta_porte.figures):
        field = f"carta_porte.figures[{index}]"
        if figure.kind == "01" and not figure.license:
            out.error(f"{field}.license", "CCP231", "the operator needs NumLicencia",
                      "El operador requiere NumLicencia")
        if not validate_rfc(figure.rfc).valid:
            out.error(f"{field}.rfc", "CCP232", f"RFCFigura {figure.rfc!r} is not a valid RFC",
                      f"RFCFigura {figure.rfc!r} no es un RFC válido")


def preflight_carta_porte(document: CartaPorteInvoice) -> list[Issue]:
    """Every Carta Porte 3.1 issue of ``document`` (the host is checked by :func:`.preflight`)."""
    out = Findings()
    cp = document.carta_porte
    _check_host(out, document)
    if not _ID_CCP.fullmatch(cp.id_ccp):
        out.error("carta_porte.id_ccp", "CCP201",
                  "IdCCP is CCC, five hex digits and the rest of an RFC 4122 UUID (36 "
                  "characters, upper case)",
                  "IdCCP es CCC, cinco dígitos hexadecimales y el resto de un UUID RFC 4122 "
                  "(36 caracteres, mayúsculas)")
    if cp.international:
        out.error("carta_porte.international", "APUNTO-800",
                  "international moves (TranspInternac Sí) are not built by this SDK",
                  "Este SDK no genera traslados internacionales (TranspInternac Sí)")
    _check_locations(out, document)
    _check_goods(out, document)
    _check_truck(out, document)
    _check_figures(out, document)
    if cp.total_distance <= Decimal(0):
        out.error("carta_porte.total_distance", "CCP229",
                  "TotalDistRec must be greater than 0 for autotransporte",
                  "TotalDistRec debe ser mayor que 0 para autotransporte")
    return out.issues
