"""Who issues and who receives a CFDI."""

from __future__ import annotations

import enum

import attrs

from ._checks import typed_fields

__all__ = ["Customer", "Issuer", "PartnerType"]


def _text(value: object, field: str) -> str:
    """``value`` itself when it is text; a typed error naming the field otherwise."""
    if isinstance(value, str):
        return value
    from ..errors import ValidationError

    raise ValidationError(
        f"{field} must be text, got {type(value).__name__}", field=field, code="APUNTO-003"
    )


# One converter per field so a wrong type names the field it came in (``Customer(None, ...)``
# says ``rfc``); the ``str`` annotations keep the constructors' types for mypy.
def _rfc(value: str) -> str:
    return " ".join(_text(value, "rfc").split()).upper()


def _legal_name(value: str) -> str:
    return " ".join(_text(value, "legal_name").split()).upper()


def _tax_regime(value: str) -> str:
    return _text(value, "tax_regime").strip()


def _zip_code(value: str) -> str:
    return _text(value, "zip_code").strip()


def _cfdi_use(value: str) -> str:
    return _text(value, "cfdi_use").strip()


def _optional(value: str | None, field: str) -> str | None:
    return None if value is None else _text(value, field).strip() or None


def _email(value: str | None) -> str | None:
    return _optional(value, "email")


def _payment_form(value: str | None) -> str | None:
    return _optional(value, "payment_form")


def _payment_method(value: str | None) -> str | None:
    return _optional(value, "payment_method")


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

    rfc: str = attrs.field(converter=_rfc)
    legal_name: str = attrs.field(converter=_legal_name)
    tax_regime: str = attrs.field(converter=_tax_regime)
    zip_code: str = attrs.field(converter=_zip_code)


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

    rfc: str = attrs.field(converter=_rfc)
    legal_name: str = attrs.field(converter=_legal_name)
    tax_regime: str = attrs.field(converter=_tax_regime)
    zip_code: str = attrs.field(converter=_zip_code)
    cfdi_use: str = attrs.field(default="G03", converter=_cfdi_use)
    email: str | None = attrs.field(default=None, converter=_email)
    payment_form: str | None = attrs.field(default=None, converter=_payment_form)
    payment_method: str | None = attrs.field(default=None, converter=_payment_method)
    credit_days: int = 0
    partner_type: PartnerType = attrs.field(default=PartnerType.CUSTOMER, converter=PartnerType)
    tax_residence: str | None = None
    foreign_tax_id: str | None = None
