"""Request bodies for the Actiun API, validated before anything is sent.

Every builder collects all the problems it finds and raises one
:class:`~apunto_connect.errors.ValidationError` naming each field, so a caller fixes everything
at once. Money stays :class:`~decimal.Decimal` until the body is written; it then travels as a
JSON number (as in the reference's examples), refusing values that a JSON number cannot carry
exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from ..errors import Issue, ValidationError
from ..money import to_decimal
from ..vendor_spec import VendorSpec
from .spec import SPEC

__all__ = [
    "LineItemInput",
    "contact_body",
    "invoice_body",
    "item_body",
    "json_number",
    "list_params",
]

_CFDI_USE = re.compile(r"^[A-Z]{1,2}\d{2}$")
_PRODUCT_KEY = re.compile(r"^\d{8}$")
_UNIT_KEY = re.compile(r"^[A-Za-z0-9]{1,3}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_MAX_EXACT_DIGITS = 15  # a binary double prints up to 15 significant digits back unchanged


def json_number(value: Decimal, *, field: str = "amount") -> int | float:
    """``value`` as a JSON number with exactly the same digits.

    Raises:
        ValidationError: more significant digits than a JSON number keeps exactly.
    """
    if value == value.to_integral_value():
        return int(value)
    digits = len(value.normalize().as_tuple().digits)
    if digits > _MAX_EXACT_DIGITS:
        raise ValidationError(
            f"{value} has {digits} significant digits; at most {_MAX_EXACT_DIGITS} travel "
            "exactly as a JSON number",
            field=field,
            code="ACTIUN-NUMBER",
        )
    return float(value)


def _issue(field: str, code: str, message: str, message_es: str = "") -> Issue:
    return Issue(field=field, code=code, message=message, message_es=message_es)


def _choice(issues: list[Issue], field: str, value: str | None, allowed: Iterable[str]) -> None:
    options = tuple(allowed)
    if value is not None and value not in options:
        issues.append(
            _issue(
                field,
                "ACTIUN-CHOICE",
                f"{value!r} is not allowed; use one of: {', '.join(options)}",
                f"{value!r} no es válido; usa uno de: {', '.join(options)}",
            )
        )


def _decimal(issues: list[Issue], field: str, value: Any) -> Decimal | None:
    try:
        return to_decimal(value, field=field)
    except ValidationError as exc:
        issues.extend(exc.issues)
        return None


def _positive_id(issues: list[Issue], field: str, value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
            return int(value)
        issues.append(_issue(field, "ACTIUN-ID", f"expected a positive integer id, got {value!r}"))
        return None
    return value


def _ids(values: Iterable[Any]) -> tuple[int, ...]:
    return tuple(values)


def _price(value: Any) -> Decimal:
    return to_decimal(value, field="price")


def _quantity(value: Any) -> Decimal:
    return to_decimal(value, field="quantity")


def _discount(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value, field="discount")


@attrs.frozen(slots=True)
class LineItemInput:
    """One line of a new invoice.

    Attributes:
        item_id: the product or service (``/items``) sold.
        price: unit price.
        quantity: quantity sold.
        tax_ids: taxes applied, by the account's tax id (``{"tax_id": n}``).
        retention_ids: retentions applied, by tax id (ASSUMED to travel like taxes).
        description: text for this line instead of the item's (ASSUMED field).
        discount: discount as a percentage of the line (ASSUMED field).
    """

    item_id: int
    price: Decimal = attrs.field(converter=_price)
    quantity: Decimal = attrs.field(converter=_quantity)
    tax_ids: tuple[int, ...] = attrs.field(default=(), converter=_ids)
    retention_ids: tuple[int, ...] = attrs.field(default=(), converter=_ids)
    description: str | None = None
    discount: Decimal | None = attrs.field(default=None, converter=_discount)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LineItemInput:
        """Accept the reference's own shape: ``{"item_id", "price", "quantity", "taxes"}``."""

        def tax_ids(key: str) -> tuple[int, ...]:
            return tuple(
                entry["tax_id"] if isinstance(entry, Mapping) else entry
                for entry in data.get(key) or ()
            )

        return cls(
            item_id=data.get("item_id"),  # type: ignore[arg-type]  # invoice_body checks it
            price=data.get("price"),
            quantity=data.get("quantity"),
            tax_ids=tax_ids("taxes"),
            retention_ids=tax_ids("retentions"),
            description=data.get("description"),
            discount=data.get("discount"),
        )


def _line_body(
    line: LineItemInput, index: int, issues: list[Issue], spec: VendorSpec
) -> dict[str, Any]:
    prefix = f"line_items[{index}]"
    _positive_id(issues, f"{prefix}.item_id", line.item_id)
    if line.price < 0:
        issues.append(_issue(f"{prefix}.price", "ACTIUN-PRICE", "price cannot be negative",
                             "el precio no puede ser negativo"))
    if line.quantity <= 0:
        issues.append(_issue(f"{prefix}.quantity", "ACTIUN-QUANTITY",
                             "quantity must be greater than zero",
                             "la cantidad debe ser mayor que cero"))
    for kind, ids in (("taxes", line.tax_ids), ("retentions", line.retention_ids)):
        for position, tax_id in enumerate(ids):
            _positive_id(issues, f"{prefix}.{kind}[{position}].tax_id", tax_id)
    if line.discount is not None and not Decimal(0) <= line.discount <= Decimal(100):
        issues.append(_issue(f"{prefix}.discount", "ACTIUN-DISCOUNT",
                             "discount is a percentage between 0 and 100",
                             "el descuento es un porcentaje entre 0 y 100"))
    body: dict[str, Any] = {
        "item_id": line.item_id,
        "price": _exact_number(line.price),
        "quantity": _exact_number(line.quantity),
        "taxes": [{"tax_id": tax_id} for tax_id in line.tax_ids],
    }
    optional = {
        "retentions": [{"tax_id": tax_id} for tax_id in line.retention_ids] or None,
        "description": line.description,
        "discount": None if line.discount is None
        else _exact_number(line.discount),
    }
    for key in spec["field.line_item_optional"]:
        if optional.get(key) is not None:
            body[key] = optional[key]
    return body


def _exact_number(value: Decimal) -> int | Decimal:
    """``value`` for a request body: whole numbers as integers, others as exact decimals.

    The body is encoded with :func:`apunto_connect._wire.encode_json`, never through floats.
    """
    return int(value) if value == value.to_integral_value() else value


def _date_text(issues: list[Issue], field: str, value: date | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        issues.append(_issue(field, "ACTIUN-DATE", f"{value!r} is not a YYYY-MM-DD date",
                             f"{value!r} no es una fecha AAAA-MM-DD"))
        return None


def invoice_body(
    *,
    client_id: int,
    line_items: Sequence[LineItemInput | Mapping[str, Any]],
    payment_method_code: str | None,
    date: date | str | None = None,
    due_offset_days: int | None = None,
    currency_code: str | None = None,
    exchange_rate: Decimal | str | int | None = None,
    type_code: str | None = None,
    payment_type_code: str | None = None,
    cfdi_use_code: str | None = None,
    description: str | None = None,
    account_number: str | None = None,
    spec: VendorSpec = SPEC,
) -> dict[str, Any]:
    """The ``{"invoice": {...}}`` body of ``POST /invoices``, validated.

    Raises:
        ValidationError: every problem found (unknown codes, PPD with a payment method other
            than ``other``, no lines, bad amounts...).
    """
    issues: list[Issue] = []
    body: dict[str, Any] = {"client_id": _positive_id(issues, "client_id", client_id)}
    day = _date_text(issues, "date", date)
    if day is not None:
        body["date"] = day
    if due_offset_days is not None:
        if isinstance(due_offset_days, bool) or not isinstance(due_offset_days, int) \
                or due_offset_days < 0:
            issues.append(_issue("due_offset_days", "ACTIUN-DUE", "expected whole days >= 0"))
        else:
            body["due_offset_days"] = str(due_offset_days)  # the reference sends "30"
    if currency_code is not None:
        if not _CURRENCY.match(currency_code):
            issues.append(_issue("currency_code", "ACTIUN-CURRENCY",
                                 f"{currency_code!r} is not an ISO 4217 code such as MXN or USD"))
        body["currency_code"] = currency_code
    if exchange_rate is not None:
        rate = _decimal(issues, "exchange_rate", exchange_rate)
        if rate is not None:
            if rate <= 0:
                issues.append(_issue("exchange_rate", "ACTIUN-RATE",
                                     "exchange_rate must be greater than zero"))
            body["exchange_rate"] = _exact_number(rate)
    if type_code is not None:
        _choice(issues, "type_code", type_code, spec["value.type_codes"])
        body["type_code"] = type_code
    if payment_method_code is None:
        issues.append(_issue("payment_method_code", "ACTIUN-REQUIRED",
                             "payment_method_code is required",
                             "payment_method_code es requerido"))
    _choice(issues, "payment_method_code", payment_method_code, spec["value.payment_methods"])
    body["payment_method_code"] = payment_method_code
    if payment_type_code is not None:
        _choice(issues, "payment_type_code", payment_type_code, spec["value.payment_types"])
        ppd_methods = spec["value.ppd_payment_methods"]
        if payment_type_code == "PPD" and payment_method_code not in ppd_methods:
            allowed = ", ".join(ppd_methods)
            issues.append(_issue(
                "payment_type_code", "ACTIUN-PPD",
                f"with payment_type_code PPD the payment_method_code must be {allowed} "
                f"(got {payment_method_code!r})",
                f"si el payment_type es PPD solo se admite el método de pago {allowed}",
            ))
        body["payment_type_code"] = payment_type_code
    if cfdi_use_code is not None:
        if not _CFDI_USE.match(cfdi_use_code):
            issues.append(_issue("cfdi_use_code", "ACTIUN-CFDI-USE",
                                 f"{cfdi_use_code!r} is not a c_UsoCFDI code such as G03"))
        body["cfdi_use_code"] = cfdi_use_code
    if description is not None:
        body["description"] = description
    if account_number is not None:
        if len(account_number.strip()) < 4:
            issues.append(_issue("account_number", "ACTIUN-ACCOUNT",
                                 "account_number needs at least 4 characters",
                                 "el número de cuenta debe tener mínimo 4 caracteres"))
        body["account_number"] = account_number
    if not line_items:
        issues.append(_issue("line_items", "ACTIUN-LINES", "an invoice needs at least one line",
                             "la factura debe tener al menos un producto o servicio"))
    lines = []
    for index, raw in enumerate(line_items or ()):
        try:
            line = raw if isinstance(raw, LineItemInput) else LineItemInput.from_mapping(raw)
        except ValidationError as exc:
            issues.extend(
                attrs.evolve(i, field=f"line_items[{index}].{i.field}") for i in exc.issues
            )
            continue
        except (TypeError, KeyError) as exc:
            issues.append(_issue(f"line_items[{index}]", "ACTIUN-LINE", f"malformed line: {exc}"))
            continue
        lines.append(_line_body(line, index, issues, spec))
    body["line_items"] = lines
    if issues:
        raise ValidationError(issues)
    return {spec["field.envelope.invoices"][0]: body}


def _enveloped(
    spec: VendorSpec, envelope: str, fields: Mapping[str, Any], extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``fields`` without the ``None`` ones, then ``extra`` as given, under the resource's key."""
    body = {key: value for key, value in fields.items() if value is not None}
    body.update(extra or {})
    return {spec[envelope][0]: body}


def _text(issues: list[Issue], field: str, value: str | None, *, required: bool) -> None:
    if value is None:
        if required:
            issues.append(_issue(field, "ACTIUN-REQUIRED", f"{field} is required",
                                 f"{field} es requerido"))
        return
    if not isinstance(value, str) or not value.strip():
        issues.append(_issue(field, "ACTIUN-TEXT", f"{field} must be non-empty text"))


def contact_body(
    *,
    name: str | None = None,
    identification: str | None = None,
    billing_address_email: str | None = None,
    alias: str | None = None,
    extra: Mapping[str, Any] | None = None,
    partial: bool = False,
    spec: VendorSpec = SPEC,
) -> dict[str, Any]:
    """The ``{"contact": {...}}`` body of creating (or, with ``partial``, editing) a contact.

    ``extra`` carries fields the reference does not list (sent as given).

    Raises:
        ValidationError: a required field is missing or an e-mail is malformed.
    """
    issues: list[Issue] = []
    _text(issues, "name", name, required=not partial)
    _text(issues, "identification", identification, required=not partial)
    if billing_address_email:
        for address in billing_address_email.split(","):
            if address.strip() and not _EMAIL.match(address.strip()):
                issues.append(_issue("billing_address_email", "ACTIUN-EMAIL",
                                     f"{address.strip()!r} is not an e-mail address"))
    if issues:
        raise ValidationError(issues)
    fields = {
        "name": name,
        "identification": identification,
        "billing_address_email": billing_address_email,
        "alias": alias,
    }
    return _enveloped(spec, "field.envelope.contacts", fields, extra)


def item_body(
    *,
    name: str | None = None,
    price: Decimal | str | int | None = None,
    product_key_code: str | None = None,
    unit_key_code: str | None = None,
    units: str | None = None,
    description: str | None = None,
    sku: str | None = None,
    extra: Mapping[str, Any] | None = None,
    partial: bool = False,
    spec: VendorSpec = SPEC,
) -> dict[str, Any]:
    """The ``{"item": {...}}`` body of creating (or, with ``partial``, editing) an item.

    ``units`` is optional although the reference's table marks it required: its own basic
    example omits it and the server derives ``"Pieza"`` from the unit key.

    Raises:
        ValidationError: required fields missing, a negative price, malformed SAT keys.
    """
    issues: list[Issue] = []
    _text(issues, "name", name, required=not partial)
    amount = None
    if price is None:
        if not partial:
            issues.append(_issue("price", "ACTIUN-REQUIRED", "price is required",
                                 "price es requerido"))
    else:
        amount = _decimal(issues, "price", price)
        if amount is not None and amount < 0:
            issues.append(_issue("price", "ACTIUN-PRICE", "price cannot be negative"))
    if product_key_code is None:
        if not partial:
            issues.append(_issue("product_key_code", "ACTIUN-REQUIRED",
                                 "product_key_code (ClaveProdServ) is required"))
    elif not _PRODUCT_KEY.match(product_key_code):
        issues.append(_issue("product_key_code", "ACTIUN-PRODUCT-KEY",
                             f"{product_key_code!r} is not an 8-digit ClaveProdServ"))
    if unit_key_code is None:
        if not partial:
            issues.append(_issue("unit_key_code", "ACTIUN-REQUIRED",
                                 "unit_key_code (ClaveUnidad) is required"))
    elif not _UNIT_KEY.match(unit_key_code):
        issues.append(_issue("unit_key_code", "ACTIUN-UNIT-KEY",
                             f"{unit_key_code!r} is not a ClaveUnidad such as H87 or E48"))
    number = None if amount is None else _exact_number(amount)
    if issues:
        raise ValidationError(issues)
    fields: dict[str, Any] = {
        "name": name,
        "description": description,
        "price": number,
        "units": units,
        "sku": sku,
        "product_key_code": product_key_code,
        "unit_key_code": unit_key_code,
    }
    return _enveloped(spec, "field.envelope.items", fields, extra)


def list_params(
    *,
    query: str | None = None,
    order_field: str | None = None,
    order_direction: str | None = None,
    spec: VendorSpec = SPEC,
) -> dict[str, str]:
    """Query parameters of a listing, validated (``order_direction`` is upper-cased).

    Raises:
        ValidationError: ``order_field`` or ``order_direction`` outside the allowed values
            (the message names the field and lists them).
    """
    issues: list[Issue] = []
    params: dict[str, str] = {}
    if query is not None and query != "":
        params["query"] = query
    if order_field is not None:
        _choice(issues, "order_field", order_field, spec["value.order_fields"])
        params["order_field"] = order_field
    if order_direction is not None:
        direction = order_direction.upper()
        _choice(issues, "order_direction", direction, spec["value.order_directions"])
        params["order_direction"] = direction
    if issues:
        raise ValidationError(issues)
    return params
