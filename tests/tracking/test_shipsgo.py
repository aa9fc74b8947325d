"""ShipsGo provider: validation before credits, 402/409/422/429, ETA, paging, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    NotFound,
    SignatureVerificationError,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.models.tracking import (
    Assignment,
    Driver,
    Shipment,
    TrackingMode,
    TrackingStatus,
    Vehicle,
)
from apunto_connect.sandbox import Fault, FaultKind
from apunto_connect.tracking.shipsgo import (
    SIGNATURE_HEADER,
    ShipsGoProvider,
    filters_to_params,
    shipment_to_shipsgo,
    shipsgo_eta,
    shipsgo_to_tracking,
    sign_webhook,
    verify_webhook,
    verify_webhook_event,
)
from tests.fakes import ScriptedAdapter, session_with
from tests.tracking.conftest import Live, live_provider

MINUTE, DAY = 60.0, 86400.0
TOKEN = "sandbox-shipsgo-user-token-0001"


def ocean(reference="APT-2026-000123-C1", **kw) -> Shipment:
    kw.setdefault("container_number", "CSQU3054383")
    return Shipment(reference, TrackingMode.OCEAN, **kw)


@pytest.fixture
def shipsgo(sandbox):
    provider = sandbox.tracking_provider("shipsgo")
    yield provider
    provider.release()


@pytest.fixture
def emulator(sandbox):
    return sandbox.emulator("shipsgo")


def scripted(*steps) -> tuple[ShipsGoProvider, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    provider = ShipsGoProvider(api_token=TOKEN, session=session_with(adapter), sleep=lambda s: None)
    return provider, adapter


# -- validation before any credit is spent ----------------------------------------------------


def test_create_body_carries_the_deterministic_reference_and_options():
    body = shipment_to_shipsgo(
        ocean(carrier_scac="cmdu", tags=["APUNTO"], followers=["ops@example.com"],
              container_number="csqu 305438-3")
    )
    assert body == {
        "reference": "APT-2026-000123-C1",
        "container_number": "CSQU3054383",
        "carrier": "CMDU",
        "tags": ["APUNTO"],
        "followers": ["ops@example.com"],
    }
    assert shipment_to_shipsgo(ocean()) == shipment_to_shipsgo(ocean())


def test_wrong_iso_check_digit_is_refused_before_spending_a_credit(shipsgo, emulator):
    with pytest.raises(ValidationError) as info:
        shipsgo.create_tracking(ocean(container_number="MSCU1234567"))
    assert info.value.issues[0].field == "container_number"
    assert "check digit should be 6" in info.value.issues[0].message
    assert "allow_non_iso_container" in info.value.issues[0].message
    assert emulator.shipments == {} and emulator.credits_spent == 0


def test_non_iso_number_is_sent_only_with_the_explicit_override(shipsgo, emulator):
    tracking = shipsgo.create_tracking(
        ocean(container_number="MSCU1234567"), allow_non_iso_container=True
    )
    assert tracking.container_number == "MSCU1234567"
    assert emulator.credits_spent == 1


def test_override_still_enforces_the_shape_shipsgo_requires(shipsgo, emulator):
    with pytest.raises(ValidationError, match="4 letters and 7 digits"):
        shipsgo.create_tracking(ocean(container_number="MSC123"), allow_non_iso_container=True)
    assert emulator.credits_spent == 0


def test_every_bad_field_is_reported_at_once():
    shipment = Shipment(
        "AB", TrackingMode.LAND, booking_number="BK 12", carrier_scac="MAERSK",
        tags=["x" * 65] + ["t"] * 10, followers=["not-an-email"],
    )
    with pytest.raises(ValidationError) as info:
        shipment_to_shipsgo(shipment)
    fields = {issue.field for issue in info.value.issues}
    assert fields == {"mode", "reference", "booking_number", "carrier_scac", "tags", "tags[0]",
                      "followers[0]"}


def test_a_container_or_a_booking_number_is_required():
    with pytest.raises(ValidationError, match="container number or a booking"):
        shipment_to_shipsgo(Shipment("APT-00001", "ocean"))


# -- lifecycle on the emulator ----------------------------------------------------------------


def test_ocean_container_sails_to_an_eta_at_the_port_of_discharge(shipsgo, emulator, clock):
    created = shipsgo.create_tracking(ocean(container_number="TEXU3070079", tags=["APUNTO"]))
    assert created.status is TrackingStatus.PENDING and created.native_status == "NEW"
    assert emulator.credits == 24

    clock.advance(11 * MINUTE)
    booked = shipsgo.get_tracking(created.tracking_id)
    assert booked.status is TrackingStatus.CREATED and booked.native_status == "BOOKED"
    assert booked.port_of_loading.code == "CNSHA" and booked.port_of_discharge.code == "MXZLO"
    assert {e.code for e in booked.events if e.actual} == {"EMSH", "GTIN"}

    clock.advance(2 * DAY)
    sailing = shipsgo.get_tracking(created.tracking_id)
    assert sailing.status is TrackingStatus.IN_TRANSIT and sailing.native_status == "SAILING"
    pod_arrival = [e for e in sailing.events if e.code == "ARRV" and e.location == "MXZLO"]
    assert len(pod_arrival) == 1 and pod_arrival[0].actual is False
    assert sailing.eta == pod_arrival[0].timestamp
    assert sailing.eta.utcoffset() == timedelta(hours=-6)
    # The vessel slipped once it sailed: the current estimate is later than the first one.
    assert sailing.port_of_discharge.date > sailing.port_of_discharge.initial_date
    transhipment = [e for e in sailing.events if e.location == "KRPUS"]
    assert transhipment and all(e.timestamp < sailing.eta for e in transhipment)

    clock.advance(20 * DAY)
    done = shipsgo.get_tracking(created.tracking_id)
    assert done.status is TrackingStatus.DISCHARGED
    assert all(e.actual for e in done.events if e.code in {"ARRV", "DISC"})
    assert done.eta == pod_arrival[0].timestamp
    assert done.containers[0].number == "TEXU3070079"
    assert [e.code for e in done.containers[0].events][:4] == ["EMSH", "GTIN", "LOAD", "DEPA"]


def test_booking_shipment_gets_its_container_once_matched(shipsgo, clock):
    created = shipsgo.create_tracking(ocean(container_number=None, booking_number="BKG/2026-77"))
    assert created.container_number is None and created.booking_number == "BKG/2026-77"
    clock.advance(11 * MINUTE)
    assert shipsgo.get_tracking(created.tracking_id).container_number is not None


def test_repeated_create_lands_on_409_returns_the_shipment_and_spends_nothing(shipsgo, emulator):
    first = shipsgo.create_tracking(ocean())
    again = shipsgo.create_tracking(ocean())
    assert again.tracking_id == first.tracking_id
    assert first.extra["already_existed"] is False and again.extra["already_existed"] is True
    assert emulator.credits_spent == 1 and len(emulator.shipments) == 1


def test_create_dropped_after_commit_is_retried_into_a_free_409(sandbox, emulator):
    sandbox.faults.add(Fault(FaultKind.DROP_AFTER, vendor="shipsgo", method="POST", path="*/shipments"))
    provider = sandbox.tracking_provider("shipsgo")
    tracking = provider.create_tracking(ocean())
    assert tracking.extra["already_existed"] is True
    assert emulator.credits_spent == 1 and len(emulator.shipments) == 1


def test_create_retries_503_and_429_without_spending_twice(sandbox, emulator):
    sandbox.faults.add(Fault(FaultKind.SERVER_ERROR, vendor="shipsgo", method="POST", status=503))
    sandbox.faults.add(Fault(FaultKind.RATE_LIMIT, vendor="shipsgo", method="POST", retry_after=0))
    provider = sandbox.tracking_provider("shipsgo")
    tracking = provider.create_tracking(ocean())
    assert tracking.extra["already_existed"] is False
    assert emulator.credits_spent == 1
    assert [f.kind for f in sandbox.faults.fired] == [FaultKind.SERVER_ERROR, FaultKind.RATE_LIMIT]


def test_reads_are_retried_after_429(sandbox):
    provider = sandbox.tracking_provider("shipsgo")
    created = provider.create_tracking(ocean())
    sandbox.faults.add(Fault(FaultKind.RATE_LIMIT, vendor="shipsgo", method="GET", retry_after=1, times=2))
    assert provider.get_tracking(created.tracking_id).tracking_id == created.tracking_id
    assert len(sandbox.faults.fired) == 2


def test_out_of_credits_is_402_insufficient_credits_and_never_retried():
    provider, adapter = scripted((402, {"message": "NOT_ENOUGH_CREDITS"}))
    with pytest.raises(InsufficientCredits) as info:
        provider.create_tracking(ocean())
    assert info.value.message == "NOT_ENOUGH_CREDITS" and info.value.status_code == 402
    assert len(adapter.requests) == 1


def test_emulator_402_when_the_account_is_empty(shipsgo, emulator):
    emulator.credits = 0
    with pytest.raises(InsufficientCredits):
        shipsgo.create_tracking(ocean())
    assert emulator.shipments == {}


def test_duplicate_is_free_even_without_credits(shipsgo, emulator):
    first = shipsgo.create_tracking(ocean())
    emulator.credits = 0
    assert shipsgo.create_tracking(ocean()).tracking_id == first.tracking_id


def test_vendor_422_becomes_a_validation_error_with_the_vendor_text():
    provider, _ = scripted(
        (422, {"message": "INVALID_PAYLOAD",
               "errors": {"container_number": ["The container number is not valid."]}})
    )
    with pytest.raises(ValidationError) as info:
        provider.create_tracking(ocean())
    assert info.value.issues[0].field == "container_number"
    assert info.value.issues[0].message == "The container number is not valid."


def test_vendor_422_without_details_keeps_the_message(shipsgo):
    with pytest.raises(ValidationError, match="unsupported filter"):
        list(shipsgo.list_trackings(raw_params={"filters[colour]": "eq:red"}))


def test_409_without_a_body_shipment_is_looked_up_by_reference():
    found = {"id": 5, "reference": "APT-2026-000123-C1", "status": "SAILING"}
    provider, adapter = scripted(
        (409, {"message": "ALREADY_EXISTS"}),
        (200, {"message": "SUCCESS", "shipments": [found], "meta": {"more": False, "total": 1}}),
    )
    tracking = provider.create_tracking(ocean())
    assert tracking.tracking_id == "5" and tracking.status is TrackingStatus.IN_TRANSIT
    assert "filters%5Breference%5D=eq%3AAPT-2026-000123-C1" in adapter.requests[1].url


def test_wrong_token_is_an_authentication_error_with_the_vendor_code(sandbox):
    provider = sandbox.tracking_provider("shipsgo", api_token="not-the-token")
    with pytest.raises(AuthenticationError) as info:
        provider.get_tracking("1")
    assert info.value.vendor_code == "TOKEN_INVALID"
    assert provider.check_connection().ok is False


def test_check_connection_reports_credits(shipsgo):
    status = shipsgo.check_connection()
    assert status.ok and status.extra["credits"] == 25 and status.environment == "sandbox"


def test_credits_are_unknown_when_the_server_has_no_balance_path(sandbox):
    provider = sandbox.tracking_provider("shipsgo", spec={"path.credits": "GET /account/balance"})
    assert provider.credits() is None
    assert "not published" in provider.check_connection().detail


def test_unknown_endpoint_names_are_refused():
    with pytest.raises(ConfigurationError, match="unknown shipsgo spec keys"):
        ShipsGoProvider(api_token=TOKEN, spec={"path.crate": "POST /x"})
    with pytest.warns(DeprecationWarning), pytest.raises(
        ConfigurationError, match="unknown ShipsGo endpoint"
    ):
        ShipsGoProvider(api_token=TOKEN, endpoints={"crate": "POST /x"})


def test_the_old_endpoints_keyword_still_overrides_paths_with_a_warning(sandbox):
    with pytest.warns(DeprecationWarning, match="spec="):
        provider = sandbox.tracking_provider("shipsgo", endpoints={"credits": "GET /balance"})
    assert provider.spec["path.credits"] == "GET /balance" and provider.credits() is None


def test_delete_stops_tracking(shipsgo):
    created = shipsgo.create_tracking(ocean())
    shipsgo.delete_tracking(created.tracking_id)
    with pytest.raises(NotFound):
        shipsgo.get_tracking(created.tracking_id)


def test_land_lifecycle_calls_are_unsupported_before_any_request():
    provider, adapter = scripted()
    assignment = Assignment("C1", "Carrier", Vehicle("ABC123"), Driver("ID123", "Ana", "Paz", "5512345678"))
    for call in (lambda: provider.assign("1", assignment), lambda: provider.activate("1", by="me"),
                 lambda: provider.close("1", by="me")):
        with pytest.raises(UnsupportedOperation):
            call()
    assert adapter.requests == []


# -- listing ----------------------------------------------------------------------------------


class CountingSession(requests.Session):
    def __init__(self, inner: requests.Session) -> None:
        super().__init__()
        self.inner = inner
        self.urls: list[str] = []

    def request(self, method, url, **kwargs):  # type: ignore[override]
        self.urls.append(url if not kwargs.get("params") else f"{url}?{requests.compat.urlencode(kwargs['params'])}")
        return self.inner.request(method, url, **kwargs)


def test_list_is_lazy_pages_with_skip_take_and_keeps_filters(sandbox, clock):
    provider = sandbox.tracking_provider("shipsgo")
    numbers = ["CSQU3054383", "TEXU3070079", "MSKU6011672", "GESU3927660", "MWCU6059784"]
    for i, number in enumerate(numbers):
        provider.create_tracking(ocean(f"APT-LIST-{i:03d}", container_number=number, tags=["APUNTO"]))
    counting = CountingSession(sandbox.session)
    lister = sandbox.tracking_provider("shipsgo", session=counting)
    pages = lister.list_trackings(tags="APUNTO", order_by="id,asc", page_size=2)
    assert counting.urls == []  # nothing fetched until iterated
    first = next(pages)
    assert first.reference == "APT-LIST-000" and len(counting.urls) == 1
    rest = list(pages)
    assert [t.reference for t in rest] == [f"APT-LIST-{i:03d}" for i in range(1, 5)]
    assert len(counting.urls) == 3
    assert all("filters%5Btags%5D=eq%3AAPUNTO" in url for url in counting.urls)
    skips = [parse_qs(urlsplit(url).query)["skip"] for url in counting.urls]
    assert skips == [["0"], ["2"], ["4"]]


def test_list_filters_by_unified_status_and_limit(shipsgo, clock):
    shipsgo.create_tracking(ocean("APT-OLD-001"))
    clock.advance(30 * DAY)
    shipsgo.create_tracking(ocean("APT-NEW-001", container_number="TEXU3070079"))
    discharged = list(shipsgo.list_trackings(status=TrackingStatus.DISCHARGED))
    assert [t.reference for t in discharged] == ["APT-OLD-001"]
    pending = list(shipsgo.list_trackings(status=TrackingStatus.PENDING))
    assert [t.reference for t in pending] == ["APT-NEW-001"]
    assert len(list(shipsgo.list_trackings(limit=1))) == 1


def test_filters_translate_to_shipsgo_query_syntax():
    start, end = datetime(2026, 9, 1), datetime(2026, 10, 1)
    assert filters_to_params(
        {
            "carrier": ["MSCU", "OOLU"],
            "status": TrackingStatus.PENDING,
            "reference": "APT-1",
            "container_number": "not_eq:CSQU3054383",
            "date_of_discharge": ("between", (start, end)),
            "port_of_discharge": ("in", ["MXZLO", "MXLZC"]),
        }
    ) == {
        "filters[carrier]": "in:MSCU,OOLU",
        "filters[status]": "in:NEW,INPROGRESS",
        "filters[reference]": "eq:APT-1",
        "filters[container_number]": "not_eq:CSQU3054383",
        "filters[date_of_discharge]": "between:2026-09-01T00:00:00...2026-10-01T00:00:00",
        "filters[port_of_discharge]": "in:MXZLO,MXLZC",
    }


def test_unknown_filters_and_page_sizes_fail_before_any_call():
    provider, adapter = scripted()
    with pytest.raises(ValidationError, match="unknown filter 'colour'"):
        provider.list_trackings(colour="red")
    with pytest.raises(ValidationError, match="page_size"):
        provider.list_trackings(page_size=500)
    assert adapter.requests == []


# -- pure mapping -----------------------------------------------------------------------------

DETAIL = {
    "id": 987654,
    "reference": "APT-2025-000123-C1",
    "container_number": "CSQU3054383",
    "booking_number": None,
    "carrier": {"scac": "CMDU", "name": "CMA CGM"},
    "status": "SAILING",
    "route": {
        "port_of_loading": {"location": {"code": "CNSHA", "name": "Shanghai", "country": {"code": "CN"}},
                            "date_of_loading": "2025-06-01T10:00:00+08:00"},
        "port_of_discharge": {"location": {"code": "MXZLO", "name": "Manzanillo", "country": {"code": "MX"}},
                              "date_of_discharge": "2025-07-02T08:00:00-06:00",
                              "date_of_discharge_initial": "2025-07-01T08:00:00-06:00"},
    },
    "containers": [
        {"number": "CSQU3054383", "status": "SAILING", "size": 40, "type": "HC", "movements": [
            {"event": "DEPA", "status": "ACT", "location": {"code": "CNSHA"},
             "vessel": {"name": "X", "imo": 1234567}, "voyage": "1E", "timestamp": "2025-06-02T10:00:00+08:00"},
            {"event": "ARRV", "status": "EST", "location": {"code": "PAMIT"}, "vessel": None,
             "timestamp": "2025-06-20T10:00:00-05:00"},
            {"event": "ARRV", "status": "EST", "location": {"code": "MXZLO"}, "vessel": None,
             "timestamp": "2025-07-01T22:00:00-06:00"},
        ]},
    ],
    "created_at": "2025-06-01T00:00:00Z",
}


def test_eta_is_the_arrival_at_the_port_of_discharge_not_at_a_transhipment():
    assert shipsgo_eta(DETAIL) == datetime(2025, 7, 1, 22, 0, tzinfo=timezone(timedelta(hours=-6)))


def test_eta_falls_back_to_discharge_then_to_the_route_date():
    no_arrival = json.loads(json.dumps(DETAIL))
    no_arrival["containers"][0]["movements"][2]["event"] = "DISC"
    assert shipsgo_eta(no_arrival).day == 1
    no_movements = {**DETAIL, "containers": []}
    assert shipsgo_eta(no_movements) == datetime(2025, 7, 2, 8, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert shipsgo_eta({"id": 1}) is None


@pytest.mark.parametrize(
    ("native", "unified"),
    [("NEW", TrackingStatus.PENDING), ("INPROGRESS", TrackingStatus.PENDING),
     ("BOOKED", TrackingStatus.CREATED), ("LOADED", TrackingStatus.ACTIVE),
     ("SAILING", TrackingStatus.IN_TRANSIT), ("ARRIVED", TrackingStatus.ARRIVED),
     ("DISCHARGED", TrackingStatus.DISCHARGED), ("UNTRACKED", TrackingStatus.UNTRACKED)],
)
def test_native_statuses_map_and_are_kept(native, unified):
    tracking = shipsgo_to_tracking({**DETAIL, "status": native})
    assert tracking.status is unified and tracking.native_status == native


def test_detail_maps_carrier_ports_containers_and_estimates():
    tracking = shipsgo_to_tracking(DETAIL)
    assert tracking.tracking_id == "987654" and tracking.carrier == "CMDU"
    assert tracking.port_of_discharge.initial_date < tracking.port_of_discharge.date
    assert [(e.code, e.actual) for e in tracking.events] == [("DEPA", True), ("ARRV", False), ("ARRV", False)]
    assert tracking.events[0].vessel == "X" and tracking.events[0].voyage == "1E"
    assert tracking.containers[0].size == "40"
    assert shipsgo_to_tracking({**DETAIL, "discarded_at": "2025-06-03T00:00:00Z"}).status is TrackingStatus.CANCELLED


# -- webhooks ---------------------------------------------------------------------------------

SECRET = "sandbox-shipsgo-webhook-secret"


def test_signature_is_hex_hmac_sha256_of_the_raw_body():
    body = b'{"event":{"name":"OCEAN.SHIPMENTS.SHIPMENT_UPDATED"},"shipment":{"id":1}}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign_webhook(body, "s3cret") == expected


def test_emulator_webhook_is_accepted_and_parsed(shipsgo, emulator, clock):
    created = shipsgo.create_tracking(ocean())
    clock.advance(3 * DAY)
    body, headers = emulator.signed_webhook(created.tracking_id)
    event = shipsgo.verify_webhook_event(body, headers)
    assert event.name == "OCEAN.SHIPMENTS.SHIPMENT_UPDATED"
    assert event.delivery_id == headers["X-Shipsgo-Webhook-Id"]
    assert event.tracking.status is TrackingStatus.IN_TRANSIT and event.tracking.eta is not None
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify_webhook(body.decode(), lowered, SECRET).tracking_id == created.tracking_id


def test_tampered_body_is_rejected(shipsgo, emulator):
    created = shipsgo.create_tracking(ocean())
    body, headers = emulator.signed_webhook(created.tracking_id)
    tampered = body.replace(b'"status": "NEW"', b'"status": "DISCHARGED"')
    assert tampered != body
    with pytest.raises(SignatureVerificationError, match="does not match"):
        shipsgo.verify_webhook(tampered, headers)


def test_wrong_secret_is_rejected(shipsgo, emulator):
    created = shipsgo.create_tracking(ocean())
    body, headers = emulator.signed_webhook(created.tracking_id)
    with pytest.raises(SignatureVerificationError):
        verify_webhook(body, headers, "another-secret")


def test_missing_signature_header_is_rejected(shipsgo, emulator):
    created = shipsgo.create_tracking(ocean())
    body, headers = emulator.signed_webhook(created.tracking_id)
    del headers[SIGNATURE_HEADER]
    with pytest.raises(SignatureVerificationError, match="missing"):
        verify_webhook(body, headers, SECRET)


def test_deleted_event_marks_the_tracking_cancelled(shipsgo, emulator):
    created = shipsgo.create_tracking(ocean())
    body, headers = emulator.signed_webhook(created.tracking_id, "OCEAN.SHIPMENTS.SHIPMENT_DELETED")
    assert verify_webhook(body, headers, SECRET).status is TrackingStatus.CANCELLED


def test_signed_garbage_is_a_validation_error_and_no_secret_is_a_configuration_error():
    body = b"not json"
    headers = {SIGNATURE_HEADER: sign_webhook(body, SECRET)}
    with pytest.raises(ValidationError):
        verify_webhook_event(body, headers, SECRET)
    provider = ShipsGoProvider(api_token=TOKEN)
    with pytest.raises(ConfigurationError):
        provider.verify_webhook(body, headers)


# -- cassette: the recorded lifecycle replays offline ------------------------------------------


@pytest.fixture
def live(request):
    yield from live_provider(request, "shipsgo")


@pytest.mark.vcr
def test_recorded_ocean_lifecycle_replays_offline(live: Live):
    shipsgo = live.provider
    assert shipsgo.check_connection().ok
    created = shipsgo.create_tracking(ocean("APT-CASSETTE-0001", container_number="GESU3927660"))
    assert created.status is TrackingStatus.PENDING
    assert shipsgo.create_tracking(ocean("APT-CASSETTE-0001", container_number="GESU3927660")).extra[
        "already_existed"
    ]
    live.advance(12 * DAY)
    sailing = shipsgo.get_tracking(created.tracking_id)
    assert sailing.status is TrackingStatus.IN_TRANSIT and sailing.eta is not None
    live.advance(12 * DAY)
    done = shipsgo.get_tracking(created.tracking_id)
    assert done.status is TrackingStatus.DISCHARGED and done.eta == sailing.eta
    assert [t.tracking_id for t in shipsgo.list_trackings(reference="APT-CASSETTE-0001")] == [
        created.tracking_id
    ]
    if live.recording:
        live.emulator("shipsgo").credits = 0
    with pytest.raises(InsufficientCredits):
        shipsgo.create_tracking(ocean("APT-CASSETTE-0002", container_number="MWCU6059784"))
