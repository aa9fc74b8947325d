"""Models shared by the three interfaces: capabilities and connection status."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from ..money import to_decimal
from ._checks import typed_fields

__all__ = ["Capability", "ConnectionStatus"]


# Field converters shared by the model modules. Each is a named function with concrete types
# because attrs derives the ``__init__`` parameter types from a converter's annotations (a
# generic function or a converter factory leaves mypy with an unresolved type).
def to_money(value: object) -> Decimal:
    """Converter of a money field: ``"1500.50"``, ``1500`` or a Decimal become a Decimal."""
    return to_decimal(value)


def to_optional_money(value: object) -> Decimal | None:
    """Converter of an optional money field: ``None`` stays ``None``, the rest as :func:`to_money`."""
    return None if value is None else to_decimal(value)


def to_text_tuple(values: Iterable[str]) -> tuple[str, ...]:
    """Converter of a field holding texts: any iterable (a list, a tuple) becomes a tuple."""
    return tuple(values)


class Capability(str, enum.Enum):
    """An operation a provider may or may not offer; checked before any network call."""

    # invoicing
    STAMP = "stamp"
    STAMP_MANY = "stamp_many"
    GET = "get"
    DOWNLOAD_XML = "download_xml"
    DOWNLOAD_PDF = "download_pdf"
    CANCEL = "cancel"
    LIST = "list"
    VALIDATE_CUSTOMER = "validate_customer"
    SEND_EMAIL = "send_email"
    PAYMENT_RECEIPT = "payment_receipt"
    """Stamp a payment receipt (CFDI type P with Pagos 2.0)."""
    CREDIT_NOTE = "credit_note"
    """Stamp a credit note (CFDI type E related to the invoices it reduces)."""
    CARTA_PORTE = "carta_porte"
    """Stamp a CFDI with the Carta Porte 3.1 complement."""
    GLOBAL_INVOICE = "global_invoice"
    """Stamp a factura global (público en general with InformacionGlobal)."""
    # tracking
    CREATE_TRACKING = "create_tracking"
    GET_TRACKING = "get_tracking"
    LIST_TRACKINGS = "list_trackings"
    DELETE_TRACKING = "delete_tracking"
    ASSIGN = "assign"
    ACTIVATE = "activate"
    CLOSE = "close"
    WEBHOOKS = "webhooks"
    # storage
    UPLOAD = "upload"
    DOWNLOAD = "download"
    LIST_FILES = "list_files"
    DELETE = "delete"


@attrs.frozen(slots=True, field_transformer=typed_fields)
class ConnectionStatus:
    """What ``check_connection()`` learned about an account.

    Attributes:
        provider: short vendor name.
        ok: ``True`` when the credentials work.
        account: who the vendor says we are (RFC, e-mail, company), when it says.
        environment: ``production``, ``sandbox``, ``emulator``...
        detail: human-readable summary (vendor text kept verbatim where there is one).
        extra: vendor-specific facts (stamps left, serie status, ...).
    """

    provider: str
    ok: bool
    account: str | None = None
    environment: str | None = None
    detail: str = ""
    extra: Mapping[str, Any] = attrs.field(factory=dict)
