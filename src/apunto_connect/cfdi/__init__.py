"""Read and write CFDI XML: safe parsing into typed models, batch reading, and a 4.0 writer.

Importing this package loads lxml; ``import apunto_connect`` alone does not.

>>> from apunto_connect.cfdi import parse
>>> cfdi = parse(open("factura.xml", "rb").read())  # doctest: +SKIP
>>> cfdi.uuid, cfdi.total, cfdi.issuer.rfc  # doctest: +SKIP

See ``docs/cfdi.md`` for the full guide.
"""

from __future__ import annotations

from .batch import CfdiStream, ParseFailure, parse_many
from .build import build
from .documents import read_document
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
from .parse import parse
from .records import to_records
from .safe_xml import DEFAULT_MAX_BYTES
from .verify import verification_url

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CartaPorte",
    "CartaPorteFigure",
    "CartaPorteGoods",
    "CartaPorteLocation",
    "CartaPorteVehicle",
    "Cfdi",
    "CfdiIssuer",
    "CfdiReceiver",
    "CfdiStream",
    "Concept",
    "DocumentTaxes",
    "PaidDocument",
    "ParseFailure",
    "Payment",
    "PaymentTotals",
    "Payments",
    "RawElement",
    "Stamp",
    "TaxLine",
    "ThirdParty",
    "build",
    "parse",
    "parse_many",
    "read_document",
    "to_records",
    "verification_url",
]
