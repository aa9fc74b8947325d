"""Round trip between models and plain dicts (JSON, pandas, notebooks).

One :class:`cattrs.Converter` is built once at import: Decimal travels as a string (never a
float), datetimes as ISO 8601 text and enums as their values.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import cattrs

from ..errors import ApuntoError, Issue, ValidationError
from ..money import to_decimal

__all__ = ["converter", "from_dict", "to_dict"]

T = TypeVar("T")
_CODE = "APUNTO-001"


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(Decimal, str)
    # str-based enums would otherwise leak out as enum objects; plain values travel better.
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda e: e.value
    )
    conv.register_structure_hook(Decimal, lambda value, _: to_decimal(value))
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(
        datetime, lambda value, _: value if isinstance(value, datetime) else datetime.fromisoformat(value)
    )
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(
        date, lambda value, _: value if isinstance(value, date) else date.fromisoformat(value)
    )
    return conv


converter = _make_converter()
"""The shared converter; register extra hooks on a copy, not on this one."""


def to_dict(obj: Any) -> Any:
    """Turn a model (or a list of them) into plain dicts, lists, strings and numbers."""
    return converter.unstructure(obj)


def from_dict(cls: type[T], data: Any) -> T:
    """Build a model of type ``cls`` from what :func:`to_dict` produced (or equivalent JSON).

    Raises:
        ValidationError: ``data`` does not describe a ``cls``; one issue per wrong field, each
            naming its path (``Invoice.items[0].quantity``).
    """
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        issues = []
        for text in cattrs.transform_error(exc, path=cls.__name__):
            message, _, where = text.rpartition(" @ ")
            issues.append(Issue(field=where or cls.__name__, code=_CODE, message=message or text))
        raise ValidationError(issues) from None
    except ApuntoError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValidationError(
            f"not a {cls.__name__}: {type(exc).__name__}: {exc}", field=cls.__name__, code=_CODE
        ) from None
