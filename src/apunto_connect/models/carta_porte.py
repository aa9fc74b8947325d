"""Carta Porte 3.1 for road freight (autotransporte), and building one from a tracked trip.

A carrier that bills a land move issues a CFDI type I (or, moving its own goods, type T) with
the Carta Porte complement: where the goods leave and arrive (Ubicaciones), what moves
(Mercancias), the truck, its permit and insurance (Autotransporte) and who drives it
(FiguraTransporte), under one IdCCP.

:func:`carta_porte_from_trip` fills the trip facts from a ControlT :class:`Tracking`: the truck's
and trailer's plates, the driver, the departure (activation, else the scheduled start) and the
arrival (closing, else the estimate). What a tracking vendor does not know (RFCs, postal codes,
the SCT permit, the insurance policy) is passed in.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import attrs

from ..errors import ValidationError
from .common import to_money, to_optional_money
from .invoices import Invoice, InvoiceKind
from .tracking import Tracking

__all__ = [
    "CartaPorte",
    "CartaPorteInvoice",
    "WaybillFigure",
    "WaybillGoods",
    "WaybillLocation",
    "WaybillTrailer",
    "WaybillTruck",
    "carta_porte_from_trip",
    "new_id_ccp",
]

ORIGIN = "Origen"
DESTINATION = "Destino"


def _locations(values: Iterable[WaybillLocation]) -> tuple[WaybillLocation, ...]:
    return tuple(values)


def _goods(values: Iterable[WaybillGoods]) -> tuple[WaybillGoods, ...]:
    return tuple(values)


def _figures(values: Iterable[WaybillFigure]) -> tuple[WaybillFigure, ...]:
    return tuple(values)


def _trailers(values: Iterable[WaybillTrailer]) -> tuple[WaybillTrailer, ...]:
    return tuple(values)


def new_id_ccp() -> str:
    """A fresh IdCCP: ``CCC`` followed by the last 33 characters of a random RFC 4122 UUID."""
    return "CCC" + str(uuid_module.uuid4()).upper()[3:]


@attrs.frozen(slots=True)
class WaybillLocation:
    """Ubicacion: where the goods are picked up (Origen) or delivered (Destino).

    Attributes:
        kind: TipoUbicacion, ``Origen`` or ``Destino``.
        rfc: RFCRemitenteDestinatario, the sender's or the receiver's RFC.
        at: FechaHoraSalidaLlegada (departure from an origin, arrival at a destination).
        zip_code: Domicilio@CodigoPostal.
        state: Domicilio@Estado (c_Estado, e.g. ``JAL``, ``NLE``, ``CMX``).
        country: Domicilio@Pais (``MEX``).
        distance: DistanciaRecorrida in km (destinations of road freight).
        location_id: IDUbicacion (``OR`` or ``DE`` and six digits).
        name: NombreRemitenteDestinatario.
        municipality: Domicilio@Municipio (c_Municipio code).
    """

    kind: str
    rfc: str
    at: datetime | None
    zip_code: str
    state: str
    country: str = "MEX"
    distance: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    location_id: str | None = None
    name: str | None = None
    municipality: str | None = None


@attrs.frozen(slots=True)
class WaybillGoods:
    """Mercancia: one kind of goods moved.

    Attributes:
        product_code: BienesTransp (c_ClaveProdServCP, e.g. ``24112700`` pallets).
        description: Descripcion.
        quantity: Cantidad.
        unit_code: ClaveUnidad (``KGM``, ``H87``, ``XBX``...).
        weight_kg: PesoEnKg.
        hazardous: MaterialPeligroso: ``True`` (Sí), ``False`` (No), or ``None`` to leave it
            out (for goods whose catalog entry does not ask about it).
        hazardous_code: CveMaterialPeligroso (UN number in c_MaterialPeligroso).
        packaging_code: Embalaje (c_TipoEmbalaje), required for hazardous goods.
        value: ValorMercancia.
        currency: Moneda of the value.
    """

    product_code: str
    description: str
    quantity: Decimal = attrs.field(converter=to_money)
    unit_code: str
    weight_kg: Decimal = attrs.field(converter=to_money)
    hazardous: bool | None = None
    hazardous_code: str | None = None
    packaging_code: str | None = None
    value: Decimal | None = attrs.field(default=None, converter=to_optional_money)
    currency: str | None = None


@attrs.frozen(slots=True)
class WaybillTrailer:
    """Remolque: SubTipoRem (c_SubTipoRem, e.g. ``CTR004`` caja seca) and its plate."""

    subtype: str
    plate: str


@attrs.frozen(slots=True)
class WaybillTruck:
    """Autotransporte: permit, vehicle, insurance and trailers.

    Attributes:
        permit_type: PermSCT (c_TipoPermiso, e.g. ``TPAF01`` autotransporte federal de carga
            general).
        permit_number: NumPermisoSCT.
        config: ConfigVehicular (c_ConfigAutotransporte, e.g. ``C2``, ``T3S2``).
        gross_weight: PesoBrutoVehicular, in tons.
        plate: PlacaVM (5–7 letters and digits, no dashes).
        model_year: AnioModeloVM.
        insurer: AseguraRespCivil.
        policy: PolizaRespCivil.
        trailers: Remolques (up to two).
    """

    permit_type: str
    permit_number: str
    config: str
    gross_weight: Decimal = attrs.field(converter=to_money)
    plate: str
    model_year: int
    insurer: str
    policy: str
    trailers: tuple[WaybillTrailer, ...] = attrs.field(default=(), converter=_trailers)


@attrs.frozen(slots=True)
class WaybillFigure:
    """TiposFigura: the operator (``01``), owner (``02``), lessor (``03``) or notified party.

    Attributes:
        kind: TipoFigura.
        rfc: RFCFigura.
        name: NombreFigura.
        license: NumLicencia (required for operators).
    """

    kind: str
    rfc: str
    name: str
    license: str | None = None


@attrs.frozen(slots=True)
class CartaPorte:
    """The Carta Porte 3.1 complement for road freight.

    Attributes:
        locations: Ubicaciones (at least one origin and one destination).
        goods: Mercancias.
        truck: Autotransporte.
        figures: FiguraTransporte (at least the operator).
        id_ccp: IdCCP (a fresh one by default, see :func:`new_id_ccp`).
        international: TranspInternac (this SDK builds domestic moves; ``True`` is checked and
            refused before the network).
        weight_unit: Mercancias@UnidadPeso (``KGM``).
    """

    locations: tuple[WaybillLocation, ...] = attrs.field(converter=_locations)
    goods: tuple[WaybillGoods, ...] = attrs.field(converter=_goods)
    truck: WaybillTruck
    figures: tuple[WaybillFigure, ...] = attrs.field(converter=_figures)
    id_ccp: str = attrs.field(factory=new_id_ccp)
    international: bool = False
    weight_unit: str = "KGM"

    @property
    def total_distance(self) -> Decimal:
        """TotalDistRec: the sum of DistanciaRecorrida of the destinations."""
        return sum(
            (loc.distance or Decimal(0) for loc in self.locations if loc.kind == DESTINATION),
            Decimal(0),
        )

    @property
    def gross_weight(self) -> Decimal:
        """Mercancias@PesoBrutoTotal: the sum of PesoEnKg."""
        return sum((g.weight_kg for g in self.goods), Decimal(0))


@attrs.frozen(slots=True)
class CartaPorteInvoice:
    """A CFDI (type I billing the freight, or type T moving own goods) with its Carta Porte."""

    invoice: Invoice
    carta_porte: CartaPorte

    @property
    def kind(self) -> InvoiceKind:
        """TipoDeComprobante of the host CFDI."""
        return self.invoice.kind


def _bare_plate(plate: str) -> str:
    # Trips carry plates as typed (``ABC-123-D``); PlacaVM and Placa take letters and digits only.
    return re.sub(r"[^A-Z0-9]", "", plate.upper())


def _require(value: object, field: str, what: str) -> None:
    if value is None or value == "":
        raise ValidationError(
            f"{what} is not in the trip and was not given", field=field, code="APUNTO-801"
        )


def carta_porte_from_trip(
    trip: Tracking,
    *,
    goods: Iterable[WaybillGoods],
    origin: WaybillLocation,
    destination: WaybillLocation,
    truck: WaybillTruck,
    operator_rfc: str,
    operator_license: str | None = None,
    id_ccp: str | None = None,
) -> CartaPorte:
    """A Carta Porte for a land trip, with the trip's own facts filled in.

    From the trip: the departure date (activation, else the scheduled start), the arrival date
    (closing, else the ETA), the truck's plate and the trailer's, the operator's name and (when
    ``operator_license`` is not given) the driver's identification as the licence number, and
    the origin and destination city names when the locations have no name. Values given in
    ``origin``, ``destination`` and ``truck`` win over the trip's.

    Args:
        trip: a land :class:`~apunto_connect.models.Tracking` (ControlT).
        goods: what moves.
        origin: sender's RFC, postal code and state (``at`` may be ``None``).
        destination: receiver's RFC, postal code, state and the distance in km.
        truck: permit, configuration, weight, year and insurance; the plate may be empty.
        operator_rfc: the driver's RFC (FiguraTransporte operador).
        operator_license: NumLicencia; the driver's identification when not given.
        id_ccp: IdCCP; a fresh one when not given.

    Raises:
        ValidationError: a fact the trip does not have and the arguments do not give (the
            field names it), or a trip that is not a land trip.
    """
    if trip.mode.value != "land":
        raise ValidationError("a Carta Porte for autotransporte needs a land trip",
                              field="trip.mode", code="APUNTO-800")
    travel = trip.raw.get("travel") or {}
    assignment = trip.assignment
    departure = origin.at or trip.activated_at or trip.created_at
    arrival = destination.at or trip.closed_at or trip.eta
    _require(departure, "origin.at", "the departure date")
    _require(arrival, "destination.at", "the arrival date")
    plate = _bare_plate(truck.plate or (assignment.vehicle.plate if assignment else ""))
    _require(plate, "truck.plate", "the truck's plate")
    trailers = truck.trailers
    if assignment and assignment.vehicle.trailer_plate:
        trailers = tuple(
            attrs.evolve(t, plate=_bare_plate(t.plate or assignment.vehicle.trailer_plate))
            for t in trailers
        )
    driver = assignment.driver if assignment else None
    license_number = operator_license or (driver.identification if driver else None)
    _require(license_number, "operator_license", "the operator's licence")
    _require(driver, "trip.assignment", "the driver")
    assert driver is not None  # for mypy: _require raised otherwise
    operator = WaybillFigure(
        kind="01",
        rfc=operator_rfc,
        name=f"{driver.first_name} {driver.last_name}".strip(),
        license=license_number,
    )
    return CartaPorte(
        locations=[
            attrs.evolve(
                origin, kind=ORIGIN, at=departure,
                location_id=origin.location_id or "OR000001",
                name=origin.name or travel.get("city_origin"),
            ),
            attrs.evolve(
                destination, kind=DESTINATION, at=arrival,
                location_id=destination.location_id or "DE000001",
                name=destination.name or travel.get("city_destination"),
            ),
        ],
        goods=goods,
        truck=attrs.evolve(truck, plate=plate, trailers=trailers),
        figures=[operator],
        id_ccp=id_ccp or new_id_ccp(),
    )
