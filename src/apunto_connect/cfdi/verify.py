"""The SAT's public verification link for a stamped CFDI (the URL its QR code carries).

``https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id=…&re=…&rr=…&tt=…&fe=…``

* ``id``: the folio fiscal (TimbreFiscalDigital@UUID);
* ``re``: the issuer's RFC; ``rr``: the receiver's RFC (``&`` and ``Ñ`` are percent-encoded);
* ``tt``: the document total, written as in the XML: plain decimal notation, no exponent, no
  thousands separators, keeping the document's own decimals (``1160.00``; ``0`` for a payment
  receipt in XXX). Anexo 20 allows up to 18 integer digits and 6 decimals here;
* ``fe``: the last eight characters of the issuer's seal (Comprobante@Sello).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from ..errors import ValidationError
from ..money import to_decimal

if TYPE_CHECKING:
    from .models import Cfdi

__all__ = ["VERIFICATION_BASE_URL", "verification_url"]

VERIFICATION_BASE_URL = "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx"
"""The SAT page that answers whether a CFDI exists and is current."""


def _total_text(total: Decimal | str | int) -> str:
    value = to_decimal(total, field="total")
    return format(value, "f")


def verification_url(
    cfdi: Cfdi | None = None,
    /,
    *,
    uuid: str | None = None,
    issuer_rfc: str | None = None,
    receiver_rfc: str | None = None,
    total: Decimal | str | int | None = None,
    seal: str | None = None,
) -> str:
    """Return the SAT verification URL of a stamped CFDI.

    Call it with a parsed document (``verification_url(cfdi)``) or with the raw fields
    (``verification_url(uuid=..., issuer_rfc=..., receiver_rfc=..., total=..., seal=...)``).
    Keyword fields given together with a document override the document's values.

    Args:
        cfdi: a parsed :class:`~apunto_connect.cfdi.Cfdi`.
        uuid: folio fiscal.
        issuer_rfc: Emisor@Rfc.
        receiver_rfc: Receptor@Rfc.
        total: Comprobante@Total; a string is used as written (after checking it is a number).
        seal: Comprobante@Sello (only its last eight characters are used).

    Raises:
        ValidationError: a field is missing (e.g. the document is not stamped or not sealed).
    """
    from .models import Cfdi as _Cfdi

    if cfdi is not None and not isinstance(cast(object, cfdi), _Cfdi):
        raise ValidationError(
            f"expected a parsed Cfdi, got {type(cfdi).__name__}", field="cfdi",
            code="APUNTO-CFDI-031",
        )
    if cfdi is not None:
        uuid = uuid or (cfdi.stamp.uuid if cfdi.stamp else None)
        issuer_rfc = issuer_rfc or cfdi.issuer.rfc
        receiver_rfc = receiver_rfc or cfdi.receiver.rfc
        total = total if total is not None else cfdi.total
        seal = seal or cfdi.seal or (cfdi.stamp.cfd_seal if cfdi.stamp else None)
    missing = [
        name
        for name, value in (
            ("uuid", uuid), ("issuer_rfc", issuer_rfc), ("receiver_rfc", receiver_rfc),
            ("total", total), ("seal", seal),
        )
        if value is None or value == ""
    ]
    if missing:
        raise ValidationError(
            f"cannot build the verification URL without: {', '.join(missing)}"
            + (" (is the document stamped?)" if "uuid" in missing else ""),
            field=missing[0],
            code="APUNTO-CFDI-030",
        )
    for name, value in (("uuid", uuid), ("issuer_rfc", issuer_rfc),
                        ("receiver_rfc", receiver_rfc), ("seal", seal)):  # fmt: skip
        if not isinstance(value, str):
            raise ValidationError(
                f"{name} must be text, got {type(value).__name__}", field=name,
                code="APUNTO-CFDI-031",
            )
    assert uuid and issuer_rfc and receiver_rfc and seal and total is not None  # narrowed above
    params = (
        ("id", uuid.strip()),
        ("re", issuer_rfc.strip()),
        ("rr", receiver_rfc.strip()),
        ("tt", _total_text(total)),
        ("fe", seal.strip()[-8:]),
    )
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params)
    return f"{VERIFICATION_BASE_URL}?{query}"
