"""Shared builders for the document tests (payment receipts, credit notes, Carta Porte)."""

from __future__ import annotations

from datetime import datetime

from apunto_connect.cfdi import Cfdi, build, parse
from apunto_connect.cfdi.models import Stamp
from apunto_connect.models import (
    Assignment,
    CartaPorteInvoice,
    Customer,
    Driver,
    Invoice,
    Issuer,
    LineItem,
    Tax,
    Tracking,
    Vehicle,
    WaybillGoods,
    WaybillLocation,
    WaybillTrailer,
    WaybillTruck,
    carta_porte_from_trip,
)

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "42501")
CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991")
INVOICE_UUID = "6F35D3B5-3651-5370-BC2C-14CDBE384CD7"
SECOND_UUID = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"


def freight_invoice(price: str = "10000", *, currency: str = "MXN", rate: str | None = None,
                    folio: str = "F1") -> Invoice:
    """A PPD freight invoice: 16 % IVA transferred, 4 % IVA withheld."""
    return Invoice(
        customer=CUSTOMER,
        items=[LineItem("78101802", "E48", "Flete GDL-MTY", 1, price,
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        issuer=ISSUER, currency=currency, exchange_rate=rate, payment_method="PPD",
        payment_form="99", folio=folio, issued_at=datetime(2026, 11, 2, 10, 0),
    )


def stamped(invoice: Invoice, uuid: str = INVOICE_UUID) -> Cfdi:
    """The invoice as a vendor gives it back: built, stamped (placeholder seals), parsed."""
    stamp = Stamp(uuid, datetime(2026, 11, 2, 10, 1), "SAT970701NN3", "00001000000509846663")
    return parse(build(invoice, stamp))


def land_trip() -> Tracking:
    """A closed ControlT trip the way the provider maps it."""
    return Tracking(
        provider="controlt", tracking_id="SRV-1001", reference="SRV-1001", mode="land",
        status="closed",
        assignment=Assignment("TRA010101AB1", "TRANSPORTES DEL NORTE",
                              Vehicle("ABC-123-D", trailer_plate="1AB 2345"),
                              Driver("LIC123456", "Juan", "Pérez")),
        activated_at=datetime(2026, 11, 2, 8, 0), closed_at=datetime(2026, 11, 3, 18, 0),
        raw={"travel": {"city_origin": "Guadalajara", "city_destination": "Monterrey"}},
    )


def carta_porte_invoice() -> CartaPorteInvoice:
    """A freight invoice with the Carta Porte built from :func:`land_trip`."""
    cp = carta_porte_from_trip(
        land_trip(),
        goods=[WaybillGoods("24112700", "Tarimas de madera", 10, "H87", "1200")],
        origin=WaybillLocation("Origen", "EKU9003173C9", None, "44100", "JAL"),
        destination=WaybillLocation("Destino", "URE180429TM6", None, "64000", "NLE",
                                    distance="850"),
        truck=WaybillTruck("TPAF01", "0X2XTXZ0X5X0X3X2X1X0", "T3S2", "40", "", 2022,
                           "SEGUROS DEL NORTE", "POL-123", trailers=[WaybillTrailer("CTR004", "")]),
        operator_rfc="PEGJ800101AB1",
        id_ccp="CCC0C3BC-13D1-4DD8-AD88-8C5873895693",
    )
    return CartaPorteInvoice(freight_invoice("25000", folio="F2"), cp)
