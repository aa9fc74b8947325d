"""Look-up indexes the emulators keep beside their stored records.

An emulator answers a filtered list (by serie and folio, by RFC, by status, newest first) from
an index instead of scanning and sorting everything it stores, so a sandbox holding a month of
invoices answers as fast as one holding ten. Indexes hold record ids, never copies of records.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar, overload

__all__ = ["Descending", "Grouped", "OrderedIds"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class OrderedIds(Protocol[T_co]):
    """Ids in insertion order that can be walked both ways (a dict's keys, a tuple)."""

    def __iter__(self) -> Iterator[T_co]: ...

    def __reversed__(self) -> Iterator[T_co]: ...

    def __len__(self) -> int: ...

_EMPTY: dict[object, None] = {}


class Grouped(Generic[K, V]):
    """Ids grouped by a key; each group keeps insertion order (oldest first).

    Adding, moving and removing an id are O(1); :meth:`get` returns the group as an ordered
    view (``reversed()`` gives newest first) without copying it.
    """

    def __init__(self) -> None:
        self._groups: dict[K, dict[V, None]] = {}

    def add(self, key: K, value: V) -> None:
        """Put ``value`` in ``key``'s group (at its end)."""
        self._groups.setdefault(key, {})[value] = None

    def remove(self, key: K, value: V) -> None:
        """Take ``value`` out of ``key``'s group (no error when it is not there)."""
        group = self._groups.get(key)
        if group is None:
            return
        group.pop(value, None)
        if not group:
            del self._groups[key]

    def move(self, old: K, new: K, value: V) -> None:
        """Re-file ``value`` from ``old``'s group to the end of ``new``'s."""
        if old != new:
            self.remove(old, value)
            self.add(new, value)

    def get(self, key: K) -> OrderedIds[V]:
        """The ids filed under ``key``, oldest first (empty when none)."""
        group = self._groups.get(key)
        if group is None:
            return ()
        return group.keys()

    def count(self, key: K) -> int:
        """How many ids are filed under ``key``."""
        return len(self._groups.get(key, _EMPTY))


class Descending(Sequence[T]):
    """A list seen newest first, without copying it (for paging a growing list backwards)."""

    def __init__(self, items: Sequence[T]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        size = len(self._items)
        if isinstance(index, slice):
            start, stop, step = index.indices(size)
            return [self._items[size - 1 - i] for i in range(start, stop, step)]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("index out of range")
        return self._items[size - 1 - index]

    def __iter__(self) -> Iterator[T]:
        return reversed(self._items)
