"""Who issues and who receives a CFDI."""

from __future__ import annotations

import enum

import attrs

from ._checks import typed_fields

__all__ = ["Customer", "Issuer", "PartnerType"]


def _upper_stripped(value: str) -> str:
    return " ".join(value.split()).upper()


def _stripped(value: str) -> str:
    return value.strip()


def _optional_stripped(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


class PartnerType(str, enum.Enum):
    """Whether the party is someone we sell to or buy from."""

    CUSTOMER = "customer"
    SUPPLIER = "supplier"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Issuer:
    """The taxpayer that issues the invoice (Emisor).

    Attributes:
        rfc: RFC of the issuer (upper-cased, surrounding spaces removed).
        legal_name: razón social exactly as in the Constancia de Situación Fiscal, without
            régimen capital.
        tax_regime: c_RegimenFiscal code, e.g. ``"601"``.
        zip_code: postal code of the place of issue (LugarExpedicion).
    """

    rfc: str = attrs.field(converter=_upper_stripped)
    legal_name: str = attrs.field(converter=_upper_stripped)
    tax_regime: str = attrs.field(converter=_stripped)
    zip_code: str = attrs.field(converter=_stripped)


@attrs.frozen(slots=True, field_transformer=typed_fields)
class Customer:
    """The receiver of the invoice (Receptor), as registered with the vendors.

    Attributes:
        rfc: RFC; ``XAXX010101000`` for the general public, ``XEXX010101000`` for foreigners.
        legal_name: razón social without régimen capital (the SAT compares it with its records).
        tax_regime: c_RegimenFiscal code of the receiver.
        zip_code: DomicilioFiscalReceptor (5 digits).
        cfdi_use: default c_UsoCFDI for this customer (``G03`` gastos en general).
        email: where vendors may send the documents.
        payment_form: default c_FormaPago for this customer.
        payment_method: default c_MetodoPago (``PUE``/``PPD``).
        credit_days: payment terms in days.
        partner_type: customer or supplier.
        tax_residence: c_Pais of residence for foreign receivers (ResidenciaFiscal).
        foreign_tax_id: NumRegIdTrib for foreign receivers.
    """

    rfc: str = attrs.field(converter=_upper_stripped)
    legal_name: str = attrs.field(converter=_upper_stripped)
    tax_regime: str = attrs.field(converter=_stripped)
    zip_code: str = attrs.field(converter=_stripped)
    cfdi_use: str = attrs.field(default="G03", converter=_stripped)
    email: str | None = attrs.field(default=None, converter=_optional_stripped)
    payment_form: str | None = attrs.field(default=None, converter=_optional_stripped)
    payment_method: str | None = attrs.field(default=None, converter=_optional_stripped)
    credit_days: int = 0
    partner_type: PartnerType = attrs.field(default=PartnerType.CUSTOMER, converter=PartnerType)
    tax_residence: str | None = None
    foreign_tax_id: str | None = None
