"""One rule for every vendor's table of assumed paths and field names: override, never guess.

Where a vendor's API is not public, its module keeps every path and field name in one table
that callers may override per provider. Unknown keys are refused, because a misspelt override
would otherwise be ignored silently and the assumption it meant to fix would stay in force.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import ConfigurationError
from .vendor_spec import VendorSpec

__all__ = ["legacy_overrides", "merged_table", "provider_spec", "split_endpoint", "warn_renamed"]

V = TypeVar("V")


def merged_table(
    vendor: str, defaults: Mapping[str, V], overrides: Mapping[str, V] | None, what: str = "table"
) -> dict[str, V]:
    """``defaults`` with ``overrides`` on top.

    Raises:
        ConfigurationError: an override names a key the table does not have.
    """
    unknown = sorted(set(overrides or {}) - set(defaults))
    if unknown:
        raise ConfigurationError(
            f"unknown {vendor} {what} keys {unknown}; known: {sorted(defaults)}"
        )
    return {**defaults, **(overrides or {})}


def legacy_overrides(
    vendor: str,
    overrides: Mapping[str, V] | None,
    renamed: Mapping[str, str],
    known: Mapping[str, object],
    what: str = "endpoint",
) -> dict[str, V]:
    """Overrides written with a vendor's old table keys, translated to its spec's keys.

    ``renamed`` maps old keys to spec keys; keys the spec already has pass as they are.

    Raises:
        ConfigurationError: a key that is neither an old key nor a spec key.
    """
    translated = {renamed.get(key, key): value for key, value in (overrides or {}).items()}
    unknown = sorted(key for key in (overrides or {}) if renamed.get(key, key) not in known)
    if unknown:
        raise ConfigurationError(
            f"unknown {vendor} {what} keys {unknown}; known: {sorted([*renamed, *known])}"
        )
    return translated


def provider_spec(
    spec: VendorSpec,
    overrides: Mapping[str, Any] | VendorSpec | None,
    *,
    legacy: Mapping[str, Any] | None = None,
    legacy_keys: Mapping[str, str] | None = None,
    owner: str = "",
    legacy_name: str = "endpoints",
) -> VendorSpec:
    """A provider's own copy of ``spec`` with the caller's overrides.

    ``legacy`` is a deprecated table of overrides (the keyword ``legacy_name``, ``endpoints=`` by
    default) with old keys, translated by ``legacy_keys``; it warns once per call and loses to
    ``overrides`` on the same key.

    Raises:
        ConfigurationError: an unknown key in either.
    """
    if legacy is None:
        return spec.with_overrides(overrides)
    warnings.warn(
        f"{owner}({legacy_name}=...) is deprecated; pass spec= with SPEC's keys "
        f"({', '.join(repr(k) for k in sorted(spec)[:2])}, ...)",
        DeprecationWarning,
        stacklevel=3,
    )
    if isinstance(overrides, VendorSpec):
        overrides = {key: fact.value for key, fact in overrides.facts.items()}
    translated = legacy_overrides(
        owner.removesuffix("Provider"), legacy, legacy_keys or {}, spec, legacy_name.removesuffix("s")
    )
    return spec.with_overrides({**translated, **(overrides or {})})


def warn_renamed(owner: str, old: str, new: str, *, stacklevel: int = 2) -> None:
    """Warn that ``owner(old=...)`` is a former keyword, kept for one release, now ``new=``.

    ``stacklevel`` counts as for :func:`warnings.warn` from the caller of this function, so the
    warning points at the code that still passes the former keyword.
    """
    warnings.warn(
        f"{owner}({old}=...) is deprecated; use {new}=", DeprecationWarning, stacklevel=stacklevel + 1
    )


def split_endpoint(value: str) -> tuple[str, str]:
    """``"GET /path"`` → ``("GET", "/path")``.

    Raises:
        ConfigurationError: the value has no path.
    """
    method, _, path = value.strip().partition(" ")
    if not path:
        raise ConfigurationError(f"endpoint {value!r} must look like 'GET /path'")
    return method.upper(), path.strip()
