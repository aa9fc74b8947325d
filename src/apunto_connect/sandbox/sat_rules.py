"""The SAT catalog rules every emulated PAC applies when it stamps.

A real PAC refuses a ClaveProdServ outside c_ClaveProdServ (CFDI40162), a ClaveUnidad outside
c_ClaveUnidad (CFDI40165) and a LugarExpedicion outside c_CodigoPostal (CFDI40126), whatever
the vendor in front of it. :func:`refuse_catalog_misses` is called once on the shared stamping
path (:func:`apunto_connect.sandbox.documents.issue_document`); each emulator already turns the
:class:`~apunto_connect.errors.ValidationError` it raises into its own error shape, with the
SAT code and sentence in the text.
"""

from __future__ import annotations

from ..errors import Issue, ValidationError
from ..models.invoices import Invoice
from ..models.parties import Issuer

__all__ = ["catalog_issues", "refuse_catalog_misses"]


def catalog_issues(invoice: Invoice, issuer: Issuer | None) -> list[Issue]:
    """The catalog-membership errors of ``invoice`` (products, units, LugarExpedicion)."""
    from ..sat import catalogs
    from ..sat.products import validate_product_code, validate_unit_code

    issues: list[Issue] = []
    for index, item in enumerate(invoice.items):
        issues += validate_product_code(item.product_code, field=f"items[{index}].product_code")
        issues += validate_unit_code(item.unit_code, field=f"items[{index}].unit_code")
    emisor = invoice.issuer or issuer
    place = emisor.zip_code if emisor is not None else None
    if place is not None and catalogs.postal_code(place) is None:
        issues.append(
            Issue(
                "issuer.zip_code",
                "CFDI40126",
                f"LugarExpedicion {place!r} is not in c_CodigoPostal",
                "El campo LugarExpedicion, no contiene un valor del catálogo c_CodigoPostal.",
            )
        )
    return issues


def refuse_catalog_misses(invoice: Invoice, issuer: Issuer | None) -> None:
    """Raise :class:`ValidationError` when :func:`catalog_issues` finds anything."""
    issues = catalog_issues(invoice, issuer)
    if issues:
        raise ValidationError(issues)
