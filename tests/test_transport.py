from __future__ import annotations

import logging
import threading

import pytest
import requests

from apunto_connect.errors import (
    AuthenticationError,
    InsufficientCredits,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    Timeout,
    TransportError,
)
from apunto_connect.http import RequestOptions, RetryPolicy, Transport, parse_retry_after
from tests.fakes import FakeClock, ScriptedAdapter, dropped, session_with

BASE = "https://api.vendor.test"


def make_transport(adapter: ScriptedAdapter, clock: FakeClock | None = None, **kw) -> Transport:
    clock = clock or FakeClock()
    return Transport("vendor", BASE, session=session_with(adapter), sleep=clock.sleep, clock=clock, **kw)


def test_get_retries_on_503_then_succeeds_with_growing_backoff():
    adapter = ScriptedAdapter((503, {"message": "busy"}), (503, {"message": "busy"}), (200, {"ok": 1}))
    clock = FakeClock()
    transport = make_transport(adapter, clock)
    assert transport.request_json("GET", "things") == {"ok": 1}
    assert len(adapter.requests) == 3
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0
    assert 1.0 <= clock.sleeps[1] <= 1.5


def test_backoff_never_exceeds_the_cap():
    adapter = ScriptedAdapter(*[(500, {})] * 8, (200, {}))
    clock = FakeClock()
    transport = make_transport(adapter, clock, retry=RetryPolicy(max_retries=8, max_backoff=8.0))
    transport.request("GET", "x")
    assert max(clock.sleeps) <= 8.0
    assert clock.sleeps[-1] == pytest.approx(8.0, abs=0.01) or clock.sleeps[-1] <= 8.0


def test_gives_up_after_max_retries_with_the_vendor_message():
    adapter = ScriptedAdapter(*[(502, {"message": "bad gateway upstream"})] * 3)
    transport = make_transport(adapter)
    with pytest.raises(ServerError) as info:
        transport.request("GET", "x")
    assert info.value.message == "bad gateway upstream"
    assert info.value.status_code == 502
    assert len(adapter.requests) == 3


def test_post_is_not_retried_after_500_without_idempotency():
    adapter = ScriptedAdapter((500, {"message": "boom"}), (201, {}))
    transport = make_transport(adapter)
    with pytest.raises(ServerError):
        transport.request("POST", "cfdis", json={"a": 1})
    assert len(adapter.requests) == 1


def test_post_marked_idempotent_is_retried_after_500():
    adapter = ScriptedAdapter((500, {"message": "boom"}), (201, {"Id": "x"}))
    transport = make_transport(adapter)
    assert transport.request_json("POST", "cfdis", json={}, idempotent=True) == {"Id": "x"}
    assert len(adapter.requests) == 2


def test_post_is_retried_after_429_because_the_server_did_not_process_it():
    adapter = ScriptedAdapter((429, {"message": "slow down"}, {"Retry-After": "3"}), (201, {}))
    clock = FakeClock()
    transport = make_transport(adapter, clock)
    transport.request("POST", "cfdis", json={})
    assert clock.sleeps == [3.0]


def test_retry_after_as_http_date_is_honoured():
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT"}
    assert parse_retry_after(headers, now=lambda: 1445412480.0) == pytest.approx(5.0)
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({"Retry-After": "garbage"}) is None


def test_retry_after_longer_than_cap_gives_up_at_once_with_rate_limited():
    adapter = ScriptedAdapter((429, {"message": "quota"}, {"Retry-After": "3600"}))
    clock = FakeClock()
    transport = make_transport(adapter, clock)
    with pytest.raises(RateLimited) as info:
        transport.request("GET", "x")
    assert info.value.retry_after == 3600
    assert clock.sleeps == []


def test_connection_dropped_before_sending_is_retried_even_for_post():
    adapter = ScriptedAdapter(dropped(sent=False), (201, {"Id": "1"}))
    transport = make_transport(adapter)
    assert transport.request_json("POST", "cfdis", json={}) == {"Id": "1"}
    assert len(adapter.requests) == 2


def test_connection_dropped_after_sending_post_is_not_retried_and_says_request_sent():
    adapter = ScriptedAdapter(dropped(sent=True), (201, {}))
    transport = make_transport(adapter)
    with pytest.raises(TransportError) as info:
        transport.request("POST", "cfdis", json={})
    assert info.value.request_sent is True
    assert len(adapter.requests) == 1


def test_real_connection_refused_counts_as_not_sent():
    # nothing listens on this loopback port: urllib3 raises NewConnectionError
    transport = Transport("vendor", "http://127.0.0.1:9", retry=RetryPolicy(max_retries=0))
    with pytest.raises(TransportError) as info:
        transport.request("POST", "x", json={})
    assert info.value.request_sent is False


def test_read_timeout_becomes_timeout_error_and_get_is_retried():
    adapter = ScriptedAdapter(requests.ReadTimeout("slow"), (200, {"ok": True}))
    transport = make_transport(adapter)
    assert transport.request_json("GET", "x") == {"ok": True}
    adapter = ScriptedAdapter(requests.ReadTimeout("slow"))
    transport = make_transport(adapter)
    with pytest.raises(Timeout) as info:
        transport.request("POST", "x", json={})
    assert info.value.request_sent is True


def test_timeouts_are_always_sent_and_per_call_override_wins():
    adapter = ScriptedAdapter((200, {}), (200, {}))
    transport = make_transport(adapter)
    transport.request("GET", "x")
    transport.request("GET", "x", options=RequestOptions(timeout=(1, 2)))
    assert adapter.timeouts == [(5.0, 30.0), (1.0, 2.0)]


def test_per_call_max_retries_overrides_client_default():
    adapter = ScriptedAdapter((503, {}), (200, {}))
    transport = make_transport(adapter)
    with pytest.raises(ServerError):
        transport.request("GET", "x", max_retries=0)


def test_deadline_shrinks_the_read_timeout_of_later_attempts():
    adapter = ScriptedAdapter((503, {}, {"Retry-After": "4"}), (200, {}))
    clock = FakeClock()
    transport = make_transport(adapter, clock)
    transport.request("GET", "x", deadline=10)
    assert adapter.timeouts[1] == (5.0, pytest.approx(6.0))


def test_deadline_stops_retrying_when_the_next_wait_would_pass_it():
    adapter = ScriptedAdapter((503, {"message": "busy"}, {"Retry-After": "20"}), (200, {}))
    clock = FakeClock()
    transport = make_transport(adapter, clock)
    with pytest.raises(Timeout) as info:
        transport.request("GET", "x", deadline=10)
    assert "busy" in str(info.value)
    assert clock.sleeps == []
    assert len(adapter.requests) == 1


def test_status_codes_map_to_the_error_tree_with_verbatim_message():
    cases = [
        (401, AuthenticationError),
        (402, InsufficientCredits),
        (404, NotFound),
        (400, ProviderError),
    ]
    for status, cls in cases:
        adapter = ScriptedAdapter((status, {"Message": "Texto del proveedor áé", "code": "E1"}))
        with pytest.raises(cls) as info:
            make_transport(adapter).request("GET", "x")
        assert info.value.message == "Texto del proveedor áé"
        assert info.value.vendor_code == "E1"
        assert info.value.status_code == status


def test_html_error_page_does_not_crash_the_mapper():
    adapter = ScriptedAdapter((400, "<html><body>Bad Request</body></html>"))
    with pytest.raises(ProviderError) as info:
        make_transport(adapter).request("GET", "x")
    assert "400" in info.value.message


def test_malformed_json_on_success_is_a_transport_error_with_request_sent():
    adapter = ScriptedAdapter((200, b'{"Id": "trunc'))
    with pytest.raises(TransportError) as info:
        make_transport(adapter).request_json("POST", "x", json={})
    assert info.value.request_sent is True


def test_expected_statuses_are_returned_not_raised():
    adapter = ScriptedAdapter((409, {"message": "exists"}))
    response = make_transport(adapter).request("POST", "x", json={}, expected=[409])
    assert response.status_code == 409


def test_unauthorized_hook_refreshes_once_and_repeats_the_request():
    adapter = ScriptedAdapter((401, {"message": "expired"}), (200, {"ok": 1}))
    refreshed = []
    transport = make_transport(adapter, on_unauthorized=lambda: refreshed.append(1) or True)
    assert transport.request_json("GET", "x") == {"ok": 1}
    assert refreshed == [1]
    adapter = ScriptedAdapter((401, {"message": "expired"}), (401, {"message": "still bad"}))
    transport = make_transport(adapter, on_unauthorized=lambda: True)
    with pytest.raises(AuthenticationError):
        transport.request("GET", "x")


def test_each_thread_gets_its_own_session_and_close_closes_them():
    transport = Transport("vendor", BASE)
    seen = []

    def grab():
        seen.append(transport.session)

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in seen}) == 3
    assert transport.session is transport.session
    transport.close()


def test_user_agent_and_base_url_joining():
    adapter = ScriptedAdapter((200, {}), (200, {}))
    transport = make_transport(adapter)
    transport.request("GET", "/api/3/cfdis")
    transport.request("GET", "https://other.test/abs")
    assert adapter.requests[0].url == "https://api.vendor.test/api/3/cfdis"
    assert adapter.requests[1].url == "https://other.test/abs"
    assert adapter.requests[0].headers["User-Agent"].startswith("apunto-connect/")


def test_retries_are_logged_at_info(caplog):
    adapter = ScriptedAdapter((503, {}), (200, {}))
    with caplog.at_level(logging.INFO, logger="apunto_connect"):
        make_transport(adapter).request("GET", "x")
    assert any("retrying" in r.getMessage() for r in caplog.records)


def test_threads_sharing_one_transport_each_get_their_own_retry_budget():
    """The retry controller is built once per transport; its per-call state must not leak."""
    from requests.adapters import BaseAdapter

    from tests.fakes import make_response

    class FailsEachPathTwice(BaseAdapter):
        def __init__(self) -> None:
            super().__init__()
            self.lock = threading.Lock()
            self.attempts: dict[str, int] = {}

        def send(self, request, **kwargs):  # type: ignore[override]
            with self.lock:
                count = self.attempts[request.url] = self.attempts.get(request.url, 0) + 1
            return make_response(request, 503 if count <= 2 else 200, {"n": count})

        def close(self) -> None:
            pass

    adapter = FailsEachPathTwice()
    transport = Transport(
        "vendor", "https://api.vendor.test", session=session_with(adapter),  # type: ignore[arg-type]
        retry=RetryPolicy(max_retries=2, initial_backoff=0.001, max_backoff=0.002, jitter=0),
    )
    answers: dict[int, object] = {}

    def worker(n: int) -> None:
        for round_ in range(5):
            try:
                answers[n * 10 + round_] = transport.request_json("GET", f"item/{n}/{round_}")["n"]
            except Exception as exc:  # pragma: no cover - reported by the assertion below
                answers[n * 10 + round_] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {key: 3 for key in answers} and len(answers) == 20
    # One more failure than the budget allows still ends in the vendor's error, per call.
    adapter.attempts["https://api.vendor.test/item/9"] = -1  # four failures ahead: 0, 1, 2 fail
    with pytest.raises(ServerError):
        transport.request("GET", "item/9")


def test_with_max_retries_changes_only_the_retry_count():
    base = RetryPolicy(initial_backoff=2.0, retry_statuses=frozenset({503}))
    assert base.with_max_retries(None) is base
    assert base.with_max_retries(0) == RetryPolicy(
        max_retries=0, initial_backoff=2.0, retry_statuses=frozenset({503})
    )


def test_every_error_keeps_the_answer_redacted_and_cut():
    from apunto_connect.http import raw_body
    from apunto_connect.redaction import register_secret
    from apunto_connect.tracking.controlt.errors import controlt_error
    from tests.fakes import make_response

    register_secret("s3cr3t-token-value")
    request = requests.Request("POST", "https://example.test/Travel").prepare()
    answer = make_response(request, 409, {"message": "ya activo", "token": "s3cr3t-token-value",
                                          "pad": "x" * 5000})
    assert "s3cr3t-token-value" not in (raw_body(answer) or "")
    assert len(raw_body(answer) or "") <= 4000
    assert raw_body(make_response(request, 500, None)) is None
    error = controlt_error("controlt", answer)
    assert error.raw_body == raw_body(answer)
