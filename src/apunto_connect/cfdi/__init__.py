"""Read and write CFDI XML: safe parsing into typed models, batch reading, and a 4.0 writer.

Importing this package loads lxml; ``import apunto_connect`` alone does not.

>>> from apunto_connect.cfdi import parse
>>> cfdi = parse(open("factura.xml", "rb").read())  # doctest: +SKIP
>>> cfdi.uuid, cfdi.total, cfdi.issuer.rfc  # doctest: +SKIP

See ``docs/cfdi.md`` for the full guide.
"""

from __future__ import annotations

from . import models as _models
from .batch import CfdiStream, ParseFailure, parse_many
from .build import build
from .documents import read_document
from .models import *  # noqa: F403  (the typed models, listed once in models.__all__)
from .parse import parse
from .records import to_records
from .safe_xml import DEFAULT_MAX_BYTES
from .verify import verification_url

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CfdiStream",
    "ParseFailure",
    "build",
    "parse",
    "parse_many",
    "read_document",
    "to_records",
    "verification_url",
]
__all__ += _models.__all__  # every typed model, as listed in models.__all__
