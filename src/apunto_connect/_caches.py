"""Every in-memory cache the SDK keeps is bounded, and its bounds are named here, in one place.

A provider lives as long as the process that made it: in a backend that is weeks. A cache that
grows with every tracking, trip or folder it ever saw is a memory leak, so each one is a
:class:`BoundedCache` made by :func:`bounded_cache` from a row of :data:`CACHE_LIMITS`: at most
``max_entries`` (the least recently used goes first) and, where the cached fact goes stale,
at most ``ttl`` seconds old. Storage is cachetools' ``LRUCache``/``TTLCache``; this module adds
the lock (cachetools caches are not thread-safe) and the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import attrs
import cachetools

__all__ = ["CACHE_LIMITS", "BoundedCache", "CacheLimits", "bounded_cache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@attrs.frozen(slots=True)
class CacheLimits:
    """How big and how old one cache may get.

    Attributes:
        max_entries: entries kept; past it the least recently used one is dropped.
        ttl: seconds an entry stays valid (``None``: until pushed out by size).
        why: what the cache holds and why the bounds are safe (a miss only costs a call).
    """

    max_entries: int
    ttl: float | None = None
    why: str = ""


CACHE_LIMITS: dict[str, CacheLimits] = {
    "tracking.seen_statuses": CacheLimits(
        10_000,
        why="last status seen per tracking, to emit tracking.status_changed; a forgotten one "
        "only means the next change of that tracking is not announced",
    ),
    "drive.folders": CacheLimits(
        4_096,
        why="Google Drive folder ids by path and paths by id (the app folder itself is kept "
        "apart, never forgotten); a miss costs one folder search",
    ),
    "controlt.travel_ids": CacheLimits(
        10_000,
        why="ControlT travel id per trip number (it never changes); a miss costs one "
        "registration call",
    ),
}
"""Every bounded cache of the SDK by name (``module.what``)."""


class BoundedCache(Generic[K, V]):
    """A thread-safe mapping with a size cap (LRU) and an optional time to live.

    Args:
        limits: the bounds.
        timer: the clock of the time to live (injectable for tests).
    """

    def __init__(self, limits: CacheLimits, timer: Callable[[], float] | None = None) -> None:
        if limits.max_entries < 1:
            raise ValueError("a bounded cache needs max_entries of at least 1")
        self.limits = limits
        self._lock = threading.Lock()
        self._data: cachetools.Cache[K, V]
        if limits.ttl is None:
            self._data = cachetools.LRUCache(maxsize=limits.max_entries)
        elif timer is None:
            self._data = cachetools.TTLCache(maxsize=limits.max_entries, ttl=limits.ttl)
        else:
            self._data = cachetools.TTLCache(
                maxsize=limits.max_entries, ttl=limits.ttl, timer=timer
            )

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value of ``key`` (marking it recently used), or ``default``."""
        with self._lock:
            return self._data.get(key, default)

    def put(self, key: K, value: V) -> None:
        """Store ``value`` under ``key`` (may push out the least recently used entry)."""
        with self._lock:
            self._data[key] = value

    def swap(self, key: K, value: V) -> V | None:
        """Store ``value`` under ``key`` and return the value it replaces (``None`` if new)."""
        with self._lock:
            previous = self._data.get(key)
            self._data[key] = value
            return previous

    def pop(self, key: K) -> V | None:
        """Remove ``key``; its value or ``None``."""
        with self._lock:
            return self._data.pop(key, None)

    def prune(self, doomed: Callable[[K], bool]) -> None:
        """Remove every entry whose key ``doomed`` returns true for."""
        with self._lock:
            for key in [key for key in self._data if doomed(key)]:
                self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


def bounded_cache(name: str, timer: Callable[[], float] | None = None) -> BoundedCache[K, V]:
    """A new cache with the bounds :data:`CACHE_LIMITS` gives ``name``.

    Raises:
        KeyError: ``name`` is not in the table (every cache is declared there).
    """
    return BoundedCache(CACHE_LIMITS[name], timer)
