"""Typed, immutable views of what an Actiun-compatible server answers.

Decoding is tolerant on purpose (an old client must survive a newer server): unknown fields are
ignored, every field but ``id`` may be missing or ``null``, numbers may come as JSON numbers or
strings (the reference itself sends an invoice ``number`` as ``"13804"`` in one answer and as
``1300`` in another, and ``due_offset_days`` as ``"30"``), and money is read into
:class:`~decimal.Decimal` without passing through binary floats. Each top-level record keeps
the server's untouched object in ``raw`` for anything the model does not cover.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from ..errors import TransportError
from ..money import to_decimal
from .spec import SPEC

__all__ = [
    "Address",
    "Attachment",
    "CatalogKey",
    "CfdiUse",
    "Contact",
    "Currency",
    "Deletion",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "Item",
    "Stamp",
    "Tax",
    "decode",
]

T = TypeVar("T")


class InvoiceStatus(str, enum.Enum):
    """The one status a sales invoice has at a time (``status`` of the invoice object)."""

    DRAFTED = "drafted"
    STAMPING = "stamping"
    OPENED = "opened"
    SENT = "sent"
    VIEWED = "viewed"
    PAID = "paid"
    PARTIAL = "partial"
    VOIDED = "voided"

    @property
    def is_stamped(self) -> bool:
        """``True`` once the SAT stamp exists (opened and every later live status)."""
        return self in _STAMPED


_STAMPED = frozenset(
    {InvoiceStatus.OPENED, InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PAID,
     InvoiceStatus.PARTIAL}
)


@attrs.frozen(slots=True)
class Address:
    """A billing (fiscal) or shipping (physical) address of a contact."""

    street: str | None = None
    street_2: str | None = None
    outdoor_number: str | None = None
    interior_number: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zipcode: str | None = None
    full: str | None = None


@attrs.frozen(slots=True)
class Contact:
    """A customer or supplier of the account.

    List answers carry only ``id``, ``name``, ``identification`` and ``alias``; the other
    fields are then ``None``.

    Attributes:
        id: the contact's id.
        name: name (razón social).
        identification: tax id used for invoicing (RFC in Mexico).
        billing_address_email: where invoices are e-mailed (comma-separated when several).
        alias: nickname for searches.
        bill_with_parent: invoice with the parent account's fiscal data and address.
        bill_with_shipping: use the physical address for invoicing too.
        parent: the parent account, when there is one.
        billing_address: fiscal address.
        shipping_address: physical address.
        raw: the server's object, untouched.
    """

    id: int
    name: str | None = None
    identification: str | None = None
    billing_address_email: str | None = None
    alias: str | None = None
    bill_with_parent: bool | None = None
    bill_with_shipping: bool | None = None
    depth: int | None = None
    credit_days: int | None = None
    payment_method_id: int | None = None
    payment_type_id: int | None = None
    account_number: str | None = None
    parent: Contact | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def emails(self) -> list[str]:
        """``billing_address_email`` split on commas, blanks dropped."""
        text = self.billing_address_email or ""
        return [part.strip() for part in text.split(",") if part.strip()]

    @property
    def soft_deleted(self) -> bool:
        """``True`` when the server marks the contact as deleted (``SPEC["field.soft_delete"]``)."""
        return self.marked_deleted(SPEC["field.soft_delete"])

    def marked_deleted(self, fields: tuple[str, ...]) -> bool:
        """``True`` when any of ``fields`` says the contact was deleted (a timestamp or true)."""
        return any(self.raw.get(name) not in (None, False, "") for name in fields)


@attrs.frozen(slots=True)
class Tax:
    """A tax or retention as the account's catalog describes it.

    Attributes:
        id: the tax id to reference in invoice lines (``{"tax_id": id}``).
        percentage: rate in percent (``16`` for IVA 16 %).
        name: ``IVA``, ``ISR``...
        category: ``federal`` or local.
    """

    id: int | None = None
    percentage: Decimal | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None

    @property
    def rate(self) -> Decimal | None:
        """The percentage as a fraction (``0.16``)."""
        return None if self.percentage is None else self.percentage / 100


@attrs.frozen(slots=True)
class CatalogKey:
    """A SAT catalog entry as Actiun stores it: ``product_key`` or ``unit_key``.

    ``value`` is the SAT code (ClaveProdServ ``44121701``, ClaveUnidad ``H87``).
    """

    id: int | None = None
    name: str | None = None
    value: str | None = None


@attrs.frozen(slots=True)
class Item:
    """A product or service the account sells or buys.

    Attributes:
        id: the item's id (``item_id`` in invoice lines).
        name: name.
        description: description (printed on invoices).
        price: sale price.
        units: unit of measure name (``Pieza``).
        sku: the seller's own code.
        discount: default discount.
        inventory: stock information (an empty object for services).
        taxes: default taxes.
        product_key: SAT ClaveProdServ.
        unit_key: SAT ClaveUnidad.
        raw: the server's object, untouched.
    """

    id: int
    name: str | None = None
    description: str | None = None
    price: Decimal | None = None
    units: str | None = None
    sku: str | None = None
    discount: Decimal | None = None
    inventory: Mapping[str, Any] = attrs.field(factory=dict)
    taxes: tuple[Tax, ...] = ()
    images: tuple[Any, ...] = ()
    product_key: CatalogKey | None = None
    unit_key: CatalogKey | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(slots=True)
class Currency:
    """The invoice's currency: ISO 4217 ``code``, ``symbol`` and ``exchange_rate``."""

    code: str | None = None
    symbol: str | None = None
    exchange_rate: Decimal | None = None


@attrs.frozen(slots=True)
class InvoiceLine:
    """One line of a sales invoice.

    Attributes:
        discount: percentage of discount on the line.
        subtotal: line amount before taxes.
        taxes: taxes applied at the time of sale.
        retentions: retentions (withholdings) applied at the time of sale.
    """

    id: int | None = None
    name: str | None = None
    description: str | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    discount: Decimal | None = None
    subtotal: Decimal | None = None
    units: str | None = None
    item_id: int | None = None
    taxes: tuple[Tax, ...] = ()
    retentions: tuple[Tax, ...] = ()


@attrs.frozen(slots=True)
class Attachment:
    """A file of the invoice: ``type`` (``Pdf``, ``Xml``) and where to download it."""

    type: str | None = None
    download_url: str | None = None

    @property
    def format(self) -> str:
        """The type in lower case (``pdf``, ``xml``)."""
        return (self.type or "").strip().lower()


@attrs.frozen(slots=True)
class Stamp:
    """The SAT stamp (timbre fiscal) of an invoice.

    Attributes:
        sat_uuid: the folio fiscal.
        sat_certificate_number: the SAT certificate number.
        sat_stamp: SelloSAT.
        cfd_stamp: SelloCFD.
        stamped_date: when the SAT stamped it.
    """

    sat_uuid: str | None = None
    sat_certificate_number: str | None = None
    sat_stamp: str | None = attrs.field(default=None, repr=False)
    cfd_stamp: str | None = attrs.field(default=None, repr=False)
    stamped_date: datetime | None = None


@attrs.frozen(slots=True)
class CfdiUse:
    """The receiver's c_UsoCFDI: ``value`` (``G03``) and its ``name``."""

    name: str | None = None
    value: str | None = None


@attrs.frozen(slots=True)
class Invoice:
    """A sales invoice (factura de venta).

    Attributes:
        id: the invoice's id.
        status: drafted, stamping, opened, sent, viewed, paid, partial or voided; ``None`` for a
            status this client does not know (``status_text`` has it).
        prefix: series (serie).
        kind: ``income`` or expense.
        number: consecutive number (folio), always text here.
        date: invoice date.
        due_at: due date (``date`` plus ``due_offset_days``).
        total_paid: what the reference calls the balance still to be paid.
        payment_method: the payment method's name (``Transferencia electrónica``).
        account_number: last digits of the paying account or card.
        line_items: the lines.
        attachments: PDF and XML files.
        stamp: the SAT stamp, once stamped.
        client: the customer (a short contact).
        cfdi_use: c_UsoCFDI of the receiver.
        raw: the server's object, untouched.
    """

    id: int
    status: InvoiceStatus | None = None
    prefix: str | None = None
    kind: str | None = None
    number: str | None = None
    date: _dt.date | None = None
    due_at: _dt.date | None = None
    due_offset_days: int | None = None
    subtotal: Decimal | None = None
    total: Decimal | None = None
    total_paid: Decimal | None = None
    payment_method: str | None = None
    account_number: str | None = None
    currency: Currency | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    description: str | None = None
    line_items: tuple[InvoiceLine, ...] = ()
    stamp: Stamp | None = None
    client: Contact | None = None
    cfdi_use: CfdiUse | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def status_text(self) -> str | None:
        """The status exactly as the server wrote it."""
        value = self.raw.get("status")
        return None if value is None else str(value)

    @property
    def sat_uuid(self) -> str | None:
        """The folio fiscal, once stamped."""
        return self.stamp.sat_uuid if self.stamp else None

    @property
    def series_and_number(self) -> str:
        """``A-13804`` style reference."""
        return "-".join(part for part in (self.prefix, self.number) if part)

    def attachment(self, fmt: str) -> Attachment | None:
        """The attachment of type ``fmt`` (``pdf``/``xml``, any case), if present."""
        wanted = fmt.strip().lower()
        return next((a for a in self.attachments if a.format == wanted), None)


@attrs.frozen(slots=True)
class Deletion:
    """What deleting a contact or an item did.

    Attributes:
        id: the record deleted.
        soft: ``True`` when the server only marked it as deleted (a contact with related
            documents stays, hidden from searches).
        record: the contact as the server returned it, when it returned one.
    """

    id: int
    soft: bool = False
    record: Contact | None = None


# -- decoding --------------------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "t", "y", "si", "sí"})


def _structure_bool(value: Any, _: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, str):
        return int(Decimal(value.strip()))
    return int(value)


def _structure_date(value: Any, _: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip()[:10])


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def _structure_decimal(value: Any, _: Any) -> Decimal:
    return to_decimal(value)


def _optional(hook: Any) -> Any:
    def structure(value: Any, type_: Any) -> Any:
        return None if value is None else hook(value, type_)

    return structure


def _structure_mapping(value: Any, _: Any) -> Mapping[str, Any]:
    # Rails renders an empty hash as {} but some serializers send [] or null.
    return dict(value) if isinstance(value, Mapping) else {}


def _structure_status(value: Any, _: Any) -> InvoiceStatus | None:
    try:
        return InvoiceStatus(str(value).strip().lower())
    except ValueError:
        return None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook_func(
        lambda t: getattr(t, "__origin__", None) is Mapping, _structure_mapping
    )
    conv.register_structure_hook_func(lambda t: t == InvoiceStatus | None, _structure_status)
    # Direct hooks for the optional scalars: cattrs' generic union dispatch is the slow path
    # when thousands of records are decoded.
    for scalar, hook in (
        (str, _structure_str), (int, _structure_int), (bool, _structure_bool),
        (Decimal, _structure_decimal), (date, _structure_date), (datetime, _structure_datetime),
    ):
        conv.register_structure_hook(scalar | None, _optional(hook))

    def tuple_hook(type_: Any) -> Any:
        inner = getattr(type_, "__args__", (Any,))[0]

        def structure(value: Any, _: Any) -> tuple[Any, ...]:
            if not value:
                return ()
            if isinstance(value, Mapping):  # a lone object where a list was due
                value = [value]
            return tuple(conv.structure(v, inner) for v in value)

        return structure

    conv.register_structure_hook_factory(
        lambda t: getattr(t, "__origin__", None) is tuple, tuple_hook
    )
    plain: tuple[type[Any], ...] = (
        Address, Tax, CatalogKey, Currency, InvoiceLine, Attachment, Stamp, CfdiUse,
    )
    for model in plain:
        attrs.resolve_types(model)
    for record in (Contact, Item, Invoice):
        attrs.resolve_types(record)
        _register_with_raw(conv, record)
    return conv


def _register_with_raw(conv: cattrs.Converter, cls: type[Any]) -> None:
    generated = make_dict_structure_fn(cls, conv)

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cls.__name__}, got {type(value).__name__}")
        return generated({**value, "raw": value}, cls)

    conv.register_structure_hook(cls, structure)


_converter = _make_converter()


def decode(cls: type[T], data: Any, *, provider: str = "actiun") -> T:
    """Build ``cls`` from a decoded JSON object, tolerantly.

    Raises:
        TransportError: the object cannot be read as ``cls`` even tolerantly (``id`` missing,
            a number that is not one...); the server did get the request.
    """
    try:
        return _converter.structure(data, cls)
    except Exception as exc:
        reason = "; ".join(_flatten(exc)) or str(exc)
        raise TransportError(
            f"{provider}: unexpected {cls.__name__} in the answer: {reason}",
            provider=provider,
            request_sent=True,
        ) from exc


def _flatten(exc: BaseException) -> list[str]:
    nested = getattr(exc, "exceptions", None)
    if not nested:
        return [f"{type(exc).__name__}: {exc}"]
    notes = getattr(exc, "__notes__", [])
    out: list[str] = []
    for index, inner in enumerate(nested):
        prefix = f"{notes[index]}: " if index < len(notes) else ""
        out.extend(prefix + text for text in _flatten(inner))
    return out
