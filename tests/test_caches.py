"""Bounded caches: one table of limits, LRU by size, optional time to live."""

from __future__ import annotations

import pytest

from apunto_connect import _caches
from apunto_connect._caches import CACHE_LIMITS, BoundedCache, CacheLimits, bounded_cache
from apunto_connect.events import TRACKING_STATUS_CHANGED
from apunto_connect.models.tracking import Shipment, TrackingStatus
from apunto_connect.sandbox import Sandbox

MINUTE, DAY = 60.0, 86_400.0


def test_the_least_recently_used_entry_goes_first():
    cache: BoundedCache[str, int] = BoundedCache(CacheLimits(2))
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.swap("c", 4) == 3 and cache.swap("d", 5) is None
    assert len(cache) == 2


def test_entries_expire_after_their_time_to_live():
    now = [0.0]
    cache: BoundedCache[str, str] = BoundedCache(CacheLimits(10, ttl=60.0), timer=lambda: now[0])
    cache.put("trip", "travel-1")
    now[0] = 59.0
    assert cache.get("trip") == "travel-1"
    now[0] = 61.0
    assert cache.get("trip") is None and len(cache) == 0


def test_every_cache_is_declared_with_its_reason():
    assert all(limits.max_entries > 0 and limits.why for limits in CACHE_LIMITS.values())
    with pytest.raises(KeyError):
        bounded_cache("nowhere.declared")
    with pytest.raises(ValueError):
        BoundedCache(CacheLimits(0))


def test_tracking_status_changes_are_announced_with_a_bounded_memory(monkeypatch):
    monkeypatch.setitem(_caches.CACHE_LIMITS, "tracking.seen_statuses", CacheLimits(2))
    with Sandbox(vendors=["shipsgo"]) as sb:
        provider = sb.tracking_provider("shipsgo")
        changes: list[tuple[str, str]] = []
        provider.events.subscribe(
            lambda event: changes.append((event.data["tracking_id"], event.data["status"])),
            types=[TRACKING_STATUS_CHANGED],
        )
        ids = [
            provider.create_tracking(
                Shipment(f"APT-2026-{n:06d}", "ocean", container_number=number)
            ).tracking_id
            for n, number in enumerate(("TEXU3070079", "MSKU9070323", "TGHU0000008"))
        ]
        sb.clock.advance(11 * MINUTE)
        # Newest first: the two most recent trackings are remembered and their change is
        # announced; the oldest was pushed out of the two-entry memory, so its is not.
        for tracking_id in reversed(ids):
            assert provider.get_tracking(tracking_id).status is TrackingStatus.CREATED
        assert changes == [(ids[2], "created"), (ids[1], "created")]
        # Reading the oldest pushed out the least recently used (ids[2]); ids[1] is still known.
        sb.clock.advance(2 * DAY)
        for tracking_id in ids[1:]:
            provider.get_tracking(tracking_id)
        assert changes[2:] == [(ids[1], TrackingStatus.IN_TRANSIT.value)]
        provider.release()
