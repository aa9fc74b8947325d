"""Sample documents shared by the CFDI tests: fixture files, a freight invoice, a stamp."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from apunto_connect.cfdi import Stamp
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax

FIXTURES = Path(__file__).resolve().parent / "fixtures"

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "42501")
CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000", cfdi_use="G03")
STAMP = Stamp(
    uuid="6F35D3B5-3651-4370-BC2C-14CDBE384CD7",
    stamped_at=datetime(2025, 3, 1, 10, 0, 5),
    pac_rfc="SAT970701NN3",
    sat_certificate="30001000000500003456",
)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def freight_invoice(**changes: object) -> Invoice:
    """A carrier's freight invoice: IVA 16 % transferred, IVA 4 % withheld, a discounted line."""
    invoice = Invoice(
        CUSTOMER,
        [
            LineItem("78101802", "E48", "Flete CDMX - Guadalajara", 1, "15000",
                     taxes=[Tax.iva(), Tax.iva_withholding("0.04")]),
            LineItem("78141500", "H87", "Maniobras de carga", 2, "250.5", discount="10",
                     unit_name="Pieza", sku="MAN-01", taxes=[Tax.iva()]),
        ],
        issuer=ISSUER,
        series="F",
        folio="101",
        issued_at=datetime(2025, 3, 1, 10, 0, 0),
    )
    return invoice.with_changes(**changes) if changes else invoice


