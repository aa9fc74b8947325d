"""Wrap provider operations so that they emit events, whatever the vendor module does.

Vendor modules implement ``stamp``/``cancel``/... plainly; the interface classes wrap those
methods once, at class creation (``__init_subclass__``), so no vendor can forget an event and
no vendor carries event code. A context variable keeps an override that calls ``super()``
from emitting twice.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import ApuntoError

__all__ = ["emitting"]

F = TypeVar("F", bound=Callable[..., Any])

_active: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "apunto_emitting", default=frozenset()
)


def emitting(
    on_success: Callable[[Any, Any, tuple[Any, ...], Mapping[str, Any]], None] | None = None,
    on_failure: Callable[[Any, ApuntoError, tuple[Any, ...], Mapping[str, Any]], None] | None = None,
) -> Callable[[F], F]:
    """Decorate a provider method so that it reports success or failure to its event bus."""

    def decorate(method: F) -> F:
        if getattr(method, "__apunto_emitting__", False):
            return method

        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = id(self)
            active = _active.get()
            if key in active:  # an outer wrapper of the same call reports it
                return method(self, *args, **kwargs)
            token = _active.set(active | {key})
            try:
                result = method(self, *args, **kwargs)
            except ApuntoError as exc:
                if on_failure is not None:
                    on_failure(self, exc, args, kwargs)
                raise
            finally:
                _active.reset(token)
            if on_success is not None:
                on_success(self, result, args, kwargs)
            return result

        wrapper.__apunto_emitting__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
