"""One frozen description of a vendor's API: paths, fields, limits, each with where it comes from.

Every vendor package has a ``spec.py`` holding one :class:`VendorSpec`. Providers and emulators
read paths and field names from it (never from module globals), and take overrides through
``spec=`` — merged by :meth:`VendorSpec.with_overrides`, which refuses unknown keys so a
misspelt override cannot silently leave an assumption in force::

    FacturamaProvider(spec={"path.stamp": "3/cfdis"})

Each entry is a :class:`Fact` marked ``official`` (the vendor's documentation or official SDK),
``public-integration`` (two or more independent public integrations agree) or ``assumed``
(nothing public found: the evidence says what was searched). A spec also records which assumed
facts a flow actually relied on (:meth:`VendorSpec.assumptions_used`), so a user can see before
going live which parts of a flow rest on guesses.

Only copies record. The module-level ``SPEC`` of a vendor is shared by every provider, emulator
and mapper in the process, so a record kept there would mix one flow's reads with another's;
it is built with ``record=False``. Every provider and emulator holds its own copy
(:meth:`VendorSpec.with_overrides`, which always records), and a mapper given that copy records
into it. A read that is not part of a flow (a route table fixed when a class is defined, a
report) uses :meth:`VendorSpec.peek`, which never records.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

from .errors import ConfigurationError

__all__ = ["Fact", "Source", "VendorSpec", "assumed", "official", "public"]

Source = Literal["official", "public-integration", "assumed", "override"]
"""Where a fact comes from (``override``: the caller's own value)."""


@attrs.frozen(slots=True)
class Fact:
    """One thing a vendor module relies on about the vendor's API.

    Attributes:
        value: the path, field name, number or text itself.
        source: ``official``, ``public-integration``, ``assumed`` or ``override``.
        evidence: the address of the documentation, the public repositories that agree, or
            (for ``assumed``) what was searched without finding it.
    """

    value: Any
    source: Source = "assumed"
    evidence: str = ""


def official(value: Any, evidence: str) -> Fact:
    """A fact from the vendor's own documentation or SDK (``evidence``: its address)."""
    return Fact(value, "official", evidence)


def public(value: Any, evidence: str) -> Fact:
    """A fact that independent public integrations agree on (``evidence``: which ones)."""
    return Fact(value, "public-integration", evidence)


def assumed(value: Any, evidence: str = "") -> Fact:
    """A fact nothing public confirms (``evidence``: what was searched)."""
    return Fact(value, "assumed", evidence)


@attrs.frozen(slots=True, eq=False)
class VendorSpec(Mapping[str, Any]):
    """A vendor's API as this SDK understands it: ``spec[key]`` is the value of a fact.

    Keys are dotted by kind: ``path.*``, ``field.*``, ``limit.*``, ``header.*``, ``value.*``.
    Reading the value of an assumed fact records it in :meth:`assumptions_used` when ``record``
    is true (the copies :meth:`with_overrides` makes); a vendor's module-level ``SPEC`` is built
    with ``record=False`` so that reads through it never pollute a record shared by all.
    """

    vendor: str
    facts: Mapping[str, Fact]
    record: bool = attrs.field(default=True, kw_only=True)
    _used: set[str] = attrs.field(factory=set, eq=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, eq=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        try:
            fact = self.facts[key]
        except KeyError:
            raise KeyError(f"{self.vendor} spec has no {key!r}") from None
        if self.record and fact.source == "assumed":
            with self._lock:
                self._used.add(key)
        return fact.value

    def peek(self, key: str) -> Any:
        """The value of ``key`` without recording it (for reads that are no flow's own).

        Raises:
            KeyError: the spec has no ``key``.
        """
        try:
            return self.facts[key].value
        except KeyError:
            raise KeyError(f"{self.vendor} spec has no {key!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.facts)

    def __len__(self) -> int:
        return len(self.facts)

    def fact(self, key: str) -> Fact:
        """The whole :class:`Fact` behind ``key`` (value, source, evidence)."""
        return self.facts[key]

    def with_overrides(self, overrides: Mapping[str, Any] | VendorSpec | None) -> VendorSpec:
        """A copy of this spec with the caller's values on top (marked ``override``).

        Always a copy that records, so each provider and emulator keeps its own
        :meth:`assumptions_used` (even when this spec is a module-level one that does not).

        Raises:
            ConfigurationError: an override names a key this spec does not have.
        """
        if overrides is None:
            return VendorSpec(self.vendor, self.facts)  # its own record of assumptions used
        if isinstance(overrides, VendorSpec):
            overrides = {key: fact.value for key, fact in overrides.facts.items()}
        unknown = sorted(set(overrides) - set(self.facts))
        if unknown:
            raise ConfigurationError(
                f"unknown {self.vendor} spec keys {unknown}; known: {sorted(self.facts)}"
            )
        merged = dict(self.facts)
        for key, value in overrides.items():
            merged[key] = Fact(value, "override", "given by the caller")
        return VendorSpec(self.vendor, merged)

    def assumed(self) -> dict[str, Fact]:
        """Every fact nothing public confirms."""
        return {key: fact for key, fact in self.facts.items() if fact.source == "assumed"}

    def counts(self) -> dict[str, int]:
        """How many facts come from each source."""
        totals = {"official": 0, "public-integration": 0, "assumed": 0, "override": 0}
        for fact in self.facts.values():
            totals[fact.source] += 1
        return totals

    def assumptions_used(self) -> list[str]:
        """The assumed facts read so far through this spec, sorted (none when not ``record``)."""
        with self._lock:
            return sorted(self._used)

    def forget_used(self) -> None:
        """Start recording :meth:`assumptions_used` afresh."""
        with self._lock:
            self._used.clear()
