"""One rule for every model field: the declared type, or a ValidationError naming the field.

The models are attrs classes whose converters accept friendly input (``"1500"`` for a Decimal,
a list for a tuple). What no converter can make sense of (``None`` for a description, a number
for an RFC, a string where a list of line items belongs) used to pass silently and fail later
as an ``AttributeError`` deep inside a vendor call. :func:`typed_fields` is an attrs
``field_transformer``: it makes a converter's failure a :class:`ValidationError` naming the
field, and checks the converted value against the field's annotation.
"""

from __future__ import annotations

import decimal
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from ..errors import ApuntoError, ValidationError

__all__ = ["typed_fields"]

_CODE = "APUNTO-001"
_CONVERTER_ERRORS = (TypeError, ValueError, AttributeError, KeyError, decimal.InvalidOperation)


def _fail(cls: type[Any], name: str, rule: str) -> ValidationError:
    return ValidationError(f"{cls.__name__}.{name} {rule}", field=name, code=_CODE)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}" if len(text) <= 40 else type(value).__name__


def _guarded(cls_name: str, name: str, converter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return converter(value)
        except ApuntoError:
            raise
        except _CONVERTER_ERRORS as exc:
            raise ValidationError(
                f"{cls_name}.{name} cannot take {_describe(value)}: {exc}", field=name, code=_CODE
            ) from None

    return convert


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    # Resolved on first use: the annotations are strings until every model module is loaded.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _matches(value: Any, expected: Any) -> bool:
    """Whether ``value`` fits the annotation ``expected`` (the shapes the models use)."""
    if expected is Any or expected is object:
        return True
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(expected)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(_matches, value, args))
    if origin is not None:  # Mapping[str, Any], list[...]: the container is what can be checked
        container = Mapping if origin in (Mapping, typing.Mapping) else origin
        return isinstance(value, container)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is decimal.Decimal:
        return isinstance(value, decimal.Decimal) and value.is_finite()
    if expected is date:
        return isinstance(value, date)
    if expected is datetime:
        return isinstance(value, datetime)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True  # an annotation this check does not know: trust the converter


def _type_name(expected: Any) -> str:
    return str(expected).replace("typing.", "").replace("decimal.", "").replace(
        "datetime.", ""
    ) if not isinstance(expected, type) else expected.__name__


def _check_type(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    expected = _hints(type(instance)).get(attribute.name, Any)
    if not _matches(value, expected):
        raise _fail(type(instance), attribute.name, f"must be {_type_name(expected)}, got {_describe(value)}")


def typed_fields(cls: type[Any], fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """Attrs ``field_transformer``: converter failures and wrong types become ValidationError."""
    changed = []
    for field in fields:
        updates: dict[str, Any] = {}
        converter = field.converter
        if converter is not None and callable(converter):
            updates["converter"] = _guarded(cls.__name__, field.name, converter)
        validators = [_check_type] if field.validator is None else [_check_type, field.validator]
        updates["validator"] = attrs.validators.and_(*validators)
        changed.append(field.evolve(**updates))
    return changed
