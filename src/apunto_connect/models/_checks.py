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
import enum
import types
import typing
from collections.abc import Callable, Mapping
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


Check = Callable[[Any], bool]


def _always(value: Any) -> bool:
    return True


def _compile(expected: Any) -> Check:
    """A fast predicate for the annotation ``expected`` (the shapes the models use).

    Built once per field: a model is made often (every line of every invoice), so the check
    must cost about one ``isinstance``.
    """
    if expected is Any or expected is object:
        return _always
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(expected)
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1 and len(args) == 2:  # X | None, the common case: one call
            inner = _compile(rest[0])
            return lambda value: value is None or inner(value)
        options = [_compile(option) for option in args]
        return lambda value: any(check(value) for check in options)
    if expected is type(None):
        return lambda value: value is None
    if origin is tuple:
        args = typing.get_args(expected)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _compile(args[0])
            return lambda value: isinstance(value, tuple) and all(map(item, value))
        items = [_compile(arg) for arg in args]
        return lambda value: (
            isinstance(value, tuple) and len(value) == len(items)
            and all(check(v) for check, v in zip(items, value, strict=True))
        )
    if origin is not None:  # Mapping[str, Any], list[...]: the container is what can be checked
        container = Mapping if origin in (Mapping, typing.Mapping) else origin
        return lambda value: isinstance(value, container)
    if expected is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return lambda value: isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is decimal.Decimal:
        return lambda value: isinstance(value, decimal.Decimal) and value.is_finite()
    if isinstance(expected, type):
        return lambda value: isinstance(value, expected)
    return _always  # an annotation this check does not know: trust the converter


def _type_name(expected: Any) -> str:
    if isinstance(expected, type):
        return expected.__name__
    return str(expected).replace("typing.", "").replace("decimal.", "").replace("datetime.", "")


def _type_validator(name: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """The validator of field ``name``: its predicate is compiled on the first object made.

    Annotations are strings until every model module is loaded, hence the late compile.
    """
    compiled: list[tuple[Check, Any]] = []

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not compiled:
            try:
                expected = typing.get_type_hints(type(instance)).get(name, Any)
            except NameError:  # an annotation only a type checker can resolve: no check
                expected = Any
            compiled.append((_compile(expected), expected))
        check, expected = compiled[0]
        if not check(value):
            raise _fail(type(instance), name, f"must be {_type_name(expected)}, got {_describe(value)}")

    return validate


def typed_fields(cls: type[Any], fields: list[attrs.Attribute[Any]]) -> list[attrs.Attribute[Any]]:
    """Attrs ``field_transformer``: converter failures and wrong types become ValidationError."""
    changed = []
    for field in fields:
        updates: dict[str, Any] = {}
        converter: Any = field.converter
        if isinstance(converter, type) and issubclass(converter, enum.Enum):
            # An enum converter returns a member or raises: only its error needs a name.
            updates["converter"] = _guarded(cls.__name__, field.name, converter)
        else:
            if converter is not None and callable(converter):
                updates["converter"] = _guarded(cls.__name__, field.name, converter)
            check = _type_validator(field.name)
            updates["validator"] = (
                check if field.validator is None else attrs.validators.and_(check, field.validator)
            )
        changed.append(field.evolve(**updates))
    return changed
