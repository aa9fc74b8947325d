"""Reading vendor answers defensively: the wrong shape is a typed error, never a crash.

Vendor response mappers read JSON that a server (or a proxy, or a bug on the vendor's side)
produced. A field of the wrong type must end as :class:`~apunto_connect.errors.UnexpectedResponse`
naming the field, not as an ``AttributeError`` after a CFDI was committed.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import ApuntoError, UnexpectedResponse
from .models.invoices import Cancellation, CancellationStatus, CancelMotive
from .redaction import redact

__all__ = ["answer_mapper", "cancellation_answer", "object_field"]

F = TypeVar("F", bound=Callable[..., Any])

# What reading a malformed answer raises in Python when nothing checks the shape first.
_SHAPE_ERRORS = (
    AttributeError, TypeError, KeyError, IndexError, ValueError, decimal.InvalidOperation,
)


def object_field(value: Any, field: str, *, provider: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, ``{}`` when absent; otherwise a typed error.

    Args:
        value: what the answer holds at ``field``.
        field: the dotted path, for the message (``Complement.TaxStamp``).
        provider: the vendor.
    """
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return value
    raise UnexpectedResponse(
        f"{provider}: {field} in the answer is {type(value).__name__}, not an object: "
        f"{redact(repr(value))[:120]}",
        provider=provider, field=field,
    )


def answer_mapper(provider: str, what: str) -> Callable[[F], F]:
    """Turn the crash of a response mapper on a malformed answer into UnexpectedResponse.

    Mappers check the fields that matter by name (:func:`object_field`); this is the net for
    the rest, so a malformed answer never escapes as an ``AttributeError``.
    """

    def wrap(mapper: F) -> F:
        @functools.wraps(mapper)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return mapper(*args, **kwargs)
            except ApuntoError:
                raise
            except _SHAPE_ERRORS as exc:
                raise UnexpectedResponse(
                    f"{provider}: unexpected {what} in the answer "
                    f"({type(exc).__name__}: {redact(str(exc))[:200]})",
                    provider=provider,
                ) from exc

        return guarded  # type: ignore[return-value]

    return wrap


def cancellation_answer(
    answer: Mapping[str, Any],
    status: CancellationStatus,
    uuid: str | None,
    message: str,
    *,
    provider: str,
    ref: str,
    motive: CancelMotive,
    replacement_uuid: str | None,
) -> Cancellation:
    """The :class:`Cancellation` a vendor's answer to a cancel request stands for.

    Each vendor's mapper reads ``status``, ``uuid`` and ``message`` from its own fields; the
    folio fiscal is upper-cased here (vendors send either case) and the answer kept as ``raw``.
    """
    return Cancellation(
        provider=provider,
        ref=ref,
        motive=motive,
        status=status,
        uuid=uuid.upper() if uuid else None,
        replacement_uuid=replacement_uuid,
        message=message,
        raw=dict(answer),
    )
