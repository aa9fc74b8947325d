"""One rule for every vendor's table of assumed paths and field names: override, never guess.

Where a vendor's API is not public, its module keeps every path and field name in one table
that callers may override per provider. Unknown keys are refused, because a misspelt override
would otherwise be ignored silently and the assumption it meant to fix would stay in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .errors import ConfigurationError

__all__ = ["merged_table"]

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
