"""Alegra's 150 requests/minute: the client paces itself from X-Rate-Limit-* headers."""

from __future__ import annotations

import threading

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import RateLimited
from apunto_connect.invoicing.alegra import RateLimitBucket
from apunto_connect.sandbox import SandboxClock
from tests.fakes import FakeClock


def headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


def test_a_fresh_bucket_spends_its_budget_then_refills_at_the_average_rate():
    clock = FakeClock()
    bucket = RateLimitBucket(150, 60.0, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(150)]
    assert sum(waits) == 0 and clock.sleeps == []
    assert bucket.acquire() == pytest.approx(0.4)  # 60 s / 150 requests
    assert clock.sleeps == [pytest.approx(0.4)]


def test_server_says_the_window_is_spent_so_the_client_waits_for_the_reset():
    clock = FakeClock()
    bucket = RateLimitBucket(150, 60.0, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.observe(headers(150, 0, 37))  # another process used up the minute
    assert bucket.acquire() == pytest.approx(37.0)
    assert bucket.tokens == pytest.approx(149.0)  # a full new window, minus this request


def test_remaining_caps_what_the_client_believes_it_has():
    clock = FakeClock()
    bucket = RateLimitBucket(150, 60.0, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    bucket.observe(headers(150, 3, 50))
    assert [bucket.acquire() for _ in range(3)] == [0, 0, 0]
    assert bucket.acquire() == pytest.approx(50.0)


def test_a_later_window_from_the_server_replaces_a_stale_count():
    clock = FakeClock()
    bucket = RateLimitBucket(150, 60.0, clock=clock, sleep=clock.sleep)
    bucket.observe(headers(150, 2, 10))
    clock.now += 9
    bucket.observe(headers(150, 140, 59))  # the server started a new window early
    assert bucket.tokens == pytest.approx(140.0)


def test_the_server_limit_replaces_the_default_and_bad_headers_are_ignored():
    clock = FakeClock()
    bucket = RateLimitBucket(clock=clock, sleep=clock.sleep)
    bucket.observe({"X-Rate-Limit-Limit": "60", "X-Rate-Limit-Remaining": "nope"})
    assert bucket.limit == 60 and bucket.tokens == pytest.approx(60.0)
    bucket.observe({"X-Rate-Limit-Remaining": "-4", "X-Rate-Limit-Reset": "inf"})
    bucket.observe({})
    assert bucket.tokens == pytest.approx(60.0)


def test_waiting_is_bounded_even_when_the_clock_does_not_move():
    clock = FakeClock()
    bucket = RateLimitBucket(1, 60.0, clock=clock, sleep=lambda s: None)
    bucket.acquire()
    bucket.acquire()  # returns after a few bounded waits instead of spinning forever


def test_threads_share_one_budget():
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.sleep(seconds)

    bucket = RateLimitBucket(100, 60.0, clock=clock, sleep=sleep)
    immediate: list[int] = []

    def worker() -> None:
        for _ in range(40):
            if bucket.acquire() == 0:
                with lock:
                    immediate.append(1)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # 200 requests against 100 tokens: the other 100 had to wait for the refill (0.6 s each).
    assert len(immediate) <= 100 + len(clock.sleeps)
    assert sum(clock.sleeps) >= 100 * 0.6 - 1e-6


def test_a_burst_through_the_provider_never_hits_the_emulators_429():
    with Sandbox(seed=3, vendors=["alegra"], clock=SandboxClock(start=1_700_000_000)) as sb:
        provider = sb.invoice_provider("alegra")
        emulator = sb.emulator("alegra")
        for _ in range(400):
            provider.check_connection()
        assert emulator.rate_limited == 0
        # 400 requests at 150 per minute need at least two full waits for a new window.
        assert sb.clock.now() - 1_700_000_000 >= 120
        assert provider.rate_limiter.waited >= 120


def test_a_second_process_on_the_same_account_recovers_from_the_429_by_the_headers():
    with Sandbox(seed=3, vendors=["alegra"], clock=SandboxClock(start=1_700_000_000)) as sb:
        emulator = sb.emulator("alegra")
        emulator.rate_limit = 5
        busy = sb.invoice_provider("alegra")
        for _ in range(5):
            busy.check_connection()  # spends the account's whole minute
        other = sb.invoice_provider("alegra")  # its own bucket knows nothing yet
        started = sb.clock.now()
        assert other.check_connection().ok
        assert emulator.rate_limited == 1  # refused once, then it waited for the reset
        assert sb.clock.now() - started >= 59
        assert other.rate_limiter.limit == 5


def test_without_retries_the_429_surfaces_as_rate_limited_with_the_reset():
    with Sandbox(seed=3, vendors=["alegra"], clock=SandboxClock(start=1_700_000_000)) as sb:
        sb.emulator("alegra").rate_limit = 1
        sb.invoice_provider("alegra").check_connection()
        other = sb.invoice_provider("alegra", max_retries=0)
        with pytest.raises(RateLimited) as info:
            other.check_connection()
        assert info.value.retry_after == 60.0
        assert info.value.message.startswith("Has superado el límite")
