"""ControlT provider: validation, async registration, lifecycle rules, tokens, endpoint table."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    PermissionDenied,
    ProviderError,
    Timeout,
    UnsupportedOperation,
    ValidationError,
)
from apunto_connect.models.tracking import (
    Assignment,
    Driver,
    FleetType,
    Shipment,
    TrackingMode,
    TrackingStatus,
    Vehicle,
)
from apunto_connect.sandbox import Fault, FaultKind
from apunto_connect.tracking.base import InvalidTransition
from apunto_connect.tracking.controlt import (
    SPEC,
    ControlTProvider,
    assignment_to_controlt,
    validate_assignment,
    validate_driver,
    validate_vehicle,
)
from tests.fakes import FakeClock, ScriptedAdapter, session_with
from tests.tracking.conftest import Live, live_provider

CREDS = {"username": "apunto.sandbox", "company_code": "APT001", "api_key": "sandbox-controlt-api-key-0001"}
LOGIN = (200, {"access_token": "tok-aaaaaaaaaaaa", "token_type": "bearer", "expires_in": 3600})


def land(reference="SRV-2026-0042", **kw) -> Shipment:
    kw.setdefault("origin", "Manzanillo, Col.")
    kw.setdefault("destination", "Querétaro, Qro.")
    kw.setdefault("service_status", "Activo")
    return Shipment(reference, TrackingMode.LAND, **kw)


def assignment(**kw) -> Assignment:
    vehicle = kw.pop("vehicle", Vehicle("JAL-12-345", "Propia", "ab 123 cd"))
    driver = kw.pop("driver", Driver("GOMJ800101", "Juan", "Gómez Pérez", "+52 33 1234 5678"))
    return Assignment(kw.pop("carrier_id", "TBA850101AB1"), kw.pop("carrier_name", "Transportes del Bajío"),
                      vehicle, driver)


@pytest.fixture
def controlt(sandbox):
    provider = sandbox.tracking_provider("controlt")
    yield provider
    provider.release()


@pytest.fixture
def emulator(sandbox):
    return sandbox.emulator("controlt")


def scripted(*steps, **kw) -> tuple[ControlTProvider, ScriptedAdapter]:
    adapter = ScriptedAdapter(*steps)
    provider = ControlTProvider(**CREDS, session=session_with(adapter), sleep=lambda s: None, **kw)
    return provider, adapter


def created_trip(controlt, reference="SRV-2026-0042"):
    controlt.create_tracking(land(reference))
    return controlt.wait_until_created(reference)


# -- local validation -------------------------------------------------------------------------


def test_fleet_types_accept_spanish_names():
    assert Vehicle("ABC123", "Vinculada").fleet_type is FleetType.LINKED
    assert Vehicle("ABC123", "tercero").fleet_type is FleetType.THIRD_PARTY
    assert Vehicle("ABC123", "PROPIA").fleet_type is FleetType.OWN
    with pytest.raises(ValueError, match="unknown fleet type 'rentada'"):
        Vehicle("ABC123", "rentada")


@pytest.mark.parametrize(
    ("vehicle", "field", "code"),
    [
        (Vehicle(""), "vehicle.plate", "CONTROLT-PLATE-REQUIRED"),
        (Vehicle("A1"), "vehicle.plate", "CONTROLT-PLATE-FORMAT"),
        (Vehicle("ABC*123"), "vehicle.plate", "CONTROLT-PLATE-FORMAT"),
        (Vehicle("ABC123", trailer_plate="X"), "vehicle.trailer_plate", "CONTROLT-PLATE-FORMAT"),
        (Vehicle("ABC123", trailer_plate="abc 123"), "vehicle.trailer_plate", "CONTROLT-TRAILER-SAME"),
    ],
)
def test_bad_vehicles_name_the_field_and_the_rule(vehicle, field, code):
    [issue] = validate_vehicle(vehicle)
    assert (issue.field, issue.code) == (field, code)


@pytest.mark.parametrize(
    ("driver", "field", "code"),
    [
        (Driver("", "Ana", "Paz", "5512345678"), "driver.identification", "CONTROLT-ID-REQUIRED"),
        (Driver("1", "Ana", "Paz", "5512345678"), "driver.identification", "CONTROLT-ID-FORMAT"),
        (Driver("ID1234", "", "Paz", "5512345678"), "driver.first_name", "CONTROLT-NAME-REQUIRED"),
        (Driver("ID1234", "Ana2", "Paz", "5512345678"), "driver.first_name", "CONTROLT-NAME-FORMAT"),
        (Driver("ID1234", "Ana", "", "5512345678"), "driver.last_name", "CONTROLT-NAME-REQUIRED"),
        (Driver("ID1234", "Ana", "Paz"), "driver.phone", "CONTROLT-PHONE-REQUIRED"),
        (Driver("ID1234", "Ana", "Paz", "55-12"), "driver.phone", "CONTROLT-PHONE-FORMAT"),
        (Driver("ID1234", "Ana", "Paz", "tel 5512345678"), "driver.phone", "CONTROLT-PHONE-FORMAT"),
    ],
)
def test_bad_drivers_name_the_field_and_the_rule(driver, field, code):
    [issue] = validate_driver(driver)
    assert (issue.field, issue.code) == (field, code)


def test_good_driver_names_with_accents_and_apostrophes_pass():
    assert validate_driver(Driver("ID-1234", "María José", "O'Connor Núñez", "(33) 1234-5678")) == []


def test_assignment_lists_every_problem_at_once():
    bad = Assignment("", "", Vehicle(""), Driver("", "", "", None))
    fields = {issue.field for issue in validate_assignment(bad)}
    assert fields == {"carrier_id", "carrier_name", "vehicle.plate", "driver.identification",
                      "driver.first_name", "driver.last_name", "driver.phone"}
    with pytest.raises(ValidationError) as info:
        assignment_to_controlt(bad)
    assert len(info.value.issues) == 7


def test_assignment_body_uses_the_endpoint_table_names_and_fleet_values():
    body = assignment_to_controlt(assignment())
    assert body["license_plate"] == "JAL-12-345" and body["trailer_plate"] == "AB123CD"
    assert body["fleet_type"] == "PROPIA" and body["driver_document"] == "GOMJ800101"
    renamed = {**SPEC, "field.plate": "placa", "value.fleet_own": "P"}
    assert assignment_to_controlt(assignment(), renamed)["placa"] == "JAL-12-345"
    assert assignment_to_controlt(assignment(), renamed)["fleet_type"] == "P"


@pytest.mark.parametrize(
    ("shipment", "field"),
    [
        (Shipment("SRV-1", "ocean", origin="A", destination="B", service_status="Activo"), "mode"),
        (land(service_status="Cancelado"), "service_status"),
        (land(service_status=None), "service_status"),
        (land(service_status="Pendiente"), "service_status"),
        (land(origin=""), "origin"),
        (land(destination=None), "destination"),
        (land(reference="x" * 51), "reference"),
    ],
)
def test_create_refuses_what_controlt_would_not_take_before_any_call(shipment, field):
    provider, adapter = scripted()
    with pytest.raises(ValidationError) as info:
        provider.create_tracking(shipment)
    assert field in {issue.field for issue in info.value.issues}
    assert adapter.requests == []


@pytest.mark.parametrize("status", ["Activo", "active", "FINALIZADO", "Finalizada", "finished"])
def test_active_and_finished_services_are_accepted(controlt, status):
    assert controlt.create_tracking(land(service_status=status)).status is TrackingStatus.PENDING


# -- the lifecycle on the emulator ------------------------------------------------------------


def test_land_trip_runs_its_whole_lifecycle(controlt, emulator, clock):
    created = controlt.create_tracking(land(customer="XENON INDUSTRIAL ARTICLES",
                                            scheduled_at=datetime(2026, 9, 10, 8, 0)))
    assert created.status is TrackingStatus.PENDING and created.travel_id is None
    assert created.native_status == "PENDIENTE"

    ready = controlt.wait_until_created(created.tracking_id)
    assert ready.status is TrackingStatus.CREATED and ready.travel_id is not None
    assert ready.native_status == "sin asignar"

    assigned = controlt.assign(ready.tracking_id, assignment())
    assert assigned.status is TrackingStatus.ASSIGNED
    assert assigned.assignment == assignment()
    assert assigned.carrier == "Transportes del Bajío"

    active = controlt.activate(ready.tracking_id, by="ana@apunto")
    assert active.status is TrackingStatus.ACTIVE
    assert active.activated_by == "ana@apunto"
    assert active.activated_at == datetime.fromtimestamp(clock.now(), timezone.utc)

    clock.advance(3600)
    moving = controlt.get_tracking(ready.tracking_id)
    assert moving.status is TrackingStatus.IN_TRANSIT and moving.native_status == "en tránsito"
    assert moving.extra["percentage"] > 0
    assert [e.code for e in moving.events] == ["ACTIVATED", "GPS_REPORT"]

    closed = controlt.close(ready.tracking_id, by="luis@apunto")
    assert closed.status is TrackingStatus.CLOSED
    assert (closed.closed_by, closed.activated_by) == ("luis@apunto", "ana@apunto")
    assert closed.closed_at > closed.activated_at
    assert [e.code for e in closed.events][-1] == "CLOSED"


def test_wait_until_created_backs_off_and_is_bounded(sandbox, emulator):
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        sandbox.clock.advance(seconds)

    provider = sandbox.tracking_provider("controlt", sleep=sleep)
    provider.create_tracking(land())
    provider.wait_until_created("SRV-2026-0042", interval=2, max_interval=30)
    assert sleeps == [2, 4, 8, 16, 30, 30, 30]

    emulator.registration_delay = 10_000
    provider.create_tracking(land("SRV-SLOW-1"))
    sleeps.clear()
    with pytest.raises(Timeout, match="still PENDING after 60s"):
        provider.wait_until_created("SRV-SLOW-1", timeout=60)
    assert sum(sleeps) == 60


def test_rejected_registration_raises_with_the_vendor_text(controlt, emulator):
    emulator.reject_next_registration("La placa del cliente no está habilitada.")
    controlt.create_tracking(land())
    with pytest.raises(ProviderError, match=r"La placa del cliente no está habilitada\.") as info:
        controlt.wait_until_created("SRV-2026-0042")
    assert info.value.vendor_code == "RECHAZADO"
    assert controlt.get_tracking("SRV-2026-0042").status is TrackingStatus.CANCELLED


def test_repeated_create_is_the_same_trip(controlt, emulator):
    controlt.create_tracking(land())
    again = controlt.create_tracking(land())
    assert again.extra["already_existed"] is True and len(emulator.trips) == 1


def test_create_dropped_after_commit_is_retried_safely(sandbox, emulator):
    sandbox.faults.add(Fault(FaultKind.DROP_AFTER, vendor="controlt", method="POST", path="/travel"))
    provider = sandbox.tracking_provider("controlt")
    tracking = provider.create_tracking(land())
    assert tracking.extra["already_existed"] is True and len(emulator.trips) == 1


# -- illegal transitions ----------------------------------------------------------------------


def test_nothing_but_create_works_while_pending(controlt):
    controlt.create_tracking(land())
    with pytest.raises(InvalidTransition, match="its status is PENDING") as info:
        controlt.assign("SRV-2026-0042", assignment())
    assert info.value.current_status is TrackingStatus.PENDING and info.value.status_code is None


def test_activate_before_assign_fails_locally(controlt, emulator):
    created_trip(controlt)
    with pytest.raises(InvalidTransition, match="cannot activate trip SRV-2026-0042: its status is CREATED; activate is allowed only from ASSIGNED"):
        controlt.activate("SRV-2026-0042", by="ana")
    assert emulator.trips["SRV-2026-0042"].activation == {}


def test_close_before_activate_fails_locally(controlt, emulator):
    created_trip(controlt)
    controlt.assign("SRV-2026-0042", assignment())
    with pytest.raises(InvalidTransition, match="its status is ASSIGNED") as info:
        controlt.close("SRV-2026-0042", by="ana")
    assert info.value.operation == "close"
    assert set(info.value.allowed_from) == {TrackingStatus.ACTIVE, TrackingStatus.IN_TRANSIT,
                                            TrackingStatus.ARRIVED}
    assert emulator.trips["SRV-2026-0042"].closing == {}


def test_reassigning_before_activation_is_allowed_but_not_after(controlt):
    created_trip(controlt)
    controlt.assign("SRV-2026-0042", assignment())
    other = assignment(vehicle=Vehicle("XYZ987", "tercero"))
    assert controlt.assign("SRV-2026-0042", other).assignment.vehicle.plate == "XYZ987"
    controlt.activate("SRV-2026-0042", by="ana")
    with pytest.raises(InvalidTransition, match="its status is ACTIVE"):
        controlt.assign("SRV-2026-0042", assignment())


@pytest.mark.parametrize("operation", ["assign", "activate", "close"])
def test_nothing_works_after_close(controlt, operation):
    created_trip(controlt)
    controlt.assign("SRV-2026-0042", assignment())
    controlt.activate("SRV-2026-0042", by="ana")
    controlt.close("SRV-2026-0042", by="ana")
    call = {
        "assign": lambda: controlt.assign("SRV-2026-0042", assignment()),
        "activate": lambda: controlt.activate("SRV-2026-0042", by="ana"),
        "close": lambda: controlt.close("SRV-2026-0042", by="ana"),
    }[operation]
    with pytest.raises(InvalidTransition, match="its status is CLOSED"):
        call()


def test_vendor_409_is_the_same_invalid_transition_error():
    registration = (200, {"trip_number": "SRV-1", "state_request": "CREADO", "id_monitoring_order": 7})
    travel = (200, {"trip_number": "SRV-1", "id_monitoring_order": 7, "state_travel": "sin activar",
                    "license_plate": "ABC123"})
    provider, adapter = scripted(
        LOGIN, registration, travel,
        (409, {"Message": "El viaje 7 está en estado 'iniciado'; no se puede activar."}),
    )
    with pytest.raises(InvalidTransition) as info:
        provider.activate("SRV-1", by="ana")
    assert info.value.status_code == 409 and info.value.operation == "activate"
    assert info.value.message == "El viaje 7 está en estado 'iniciado'; no se puede activar."
    assert adapter.requests[-1].url.endswith("/Travel/7/activate")


def test_who_must_be_named(controlt):
    created_trip(controlt)
    controlt.assign("SRV-2026-0042", assignment())
    with pytest.raises(ValidationError, match="by="):
        controlt.activate("SRV-2026-0042", by="  ")


def test_bad_assignment_fails_before_any_call():
    provider, adapter = scripted()
    with pytest.raises(ValidationError):
        provider.assign("SRV-1", assignment(vehicle=Vehicle("??")))
    assert adapter.requests == []


def test_delete_is_unsupported_before_any_call():
    provider, adapter = scripted()
    with pytest.raises(UnsupportedOperation):
        provider.delete_tracking("SRV-1")
    assert adapter.requests == []


# -- tokens -----------------------------------------------------------------------------------


def test_token_is_cached_across_calls(controlt, emulator):
    created_trip(controlt)
    controlt.get_tracking("SRV-2026-0042")
    assert emulator.logins == 1


def test_token_is_refreshed_once_after_a_401(controlt, emulator):
    created_trip(controlt)
    emulator.expire_tokens()
    assert controlt.get_tracking("SRV-2026-0042").status is TrackingStatus.CREATED
    assert emulator.logins == 2


def test_a_second_401_is_an_authentication_error():
    denied = (401, {"Message": "Authorization has been denied for this request."})
    provider, adapter = scripted(LOGIN, denied, LOGIN, denied)
    with pytest.raises(AuthenticationError, match="denied"):
        provider.get_tracking("SRV-1")
    assert len(adapter.requests) == 4


def test_token_is_renewed_before_it_expires():
    clock = FakeClock()
    registration = (200, {"trip_number": "SRV-1", "state_request": "PENDIENTE"})
    provider, adapter = scripted(LOGIN, registration, LOGIN, registration, clock=clock)
    provider.get_tracking("SRV-1")
    clock.now += 3600 - 30  # inside the safety margin before expiry
    provider.get_tracking("SRV-1")
    assert [r.url.rsplit("/", 2)[-2] for r in adapter.requests] == ["login", "request", "login", "request"]


def test_denied_inside_a_200_logs_in_again_once():
    denied = (200, {"Message": "Access denied for this token."})
    ok = (200, {"trip_number": "SRV-1", "state_request": "PENDIENTE"})
    provider, _ = scripted(LOGIN, denied, LOGIN, ok)
    assert provider.get_tracking("SRV-1").status is TrackingStatus.PENDING
    provider, _ = scripted(LOGIN, denied, LOGIN, denied)
    with pytest.raises(PermissionDenied, match="Access denied"):
        provider.get_tracking("SRV-1")


def test_threads_share_one_login(sandbox, emulator):
    provider = sandbox.tracking_provider("controlt")
    provider.create_tracking(land())
    emulator.logins = 0
    provider._tokens.forget()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            provider.get_tracking("SRV-2026-0042")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [] and emulator.logins == 1


def test_bad_credentials_keep_the_vendor_message(sandbox):
    provider = sandbox.tracking_provider("controlt", api_key="wrong-key")
    status = provider.check_connection()
    assert status.ok is False and status.detail == "El usuario o la contraseña son incorrectos."
    with pytest.raises(AuthenticationError):
        provider.create_tracking(land())


def test_check_connection_on_the_emulator(controlt):
    status = controlt.check_connection()
    assert status.ok and status.account == "apunto.sandbox @ APT001" and status.environment == "sandbox"


def test_api_key_never_shows_in_errors_or_repr(sandbox):
    provider = sandbox.tracking_provider("controlt", api_key="wrong-key-123456")
    with pytest.raises(AuthenticationError) as info:
        provider.get_tracking("SRV-1")
    assert "wrong-key-123456" not in str(info.value) + repr(provider.__dict__)


# -- endpoint table ---------------------------------------------------------------------------


def test_endpoint_overrides_change_paths_and_unknown_keys_are_refused():
    registration = (200, {"numero_viaje": "SRV-1", "estado": "PENDIENTE"})
    provider, adapter = scripted(
        LOGIN, registration,
        spec={"path.registration": "GET /Viaje/Solicitud/{trip_number}",
                   "field.registration_state": "estado", "field.trip_number": "numero_viaje"},
    )
    assert provider.get_tracking("SRV 1").native_status == "PENDIENTE"
    assert adapter.requests[1].url.endswith("/Viaje/Solicitud/SRV%201")
    with pytest.raises(ConfigurationError, match="unknown controlt spec keys"):
        ControlTProvider(**CREDS, spec={"path.creat": "POST /x"})


def test_the_old_endpoints_keyword_still_works_for_one_release_with_a_warning():
    registration = (200, {"numero_viaje": "SRV-1", "state_request": "PENDIENTE"})
    with pytest.warns(DeprecationWarning, match="spec="):
        provider, adapter = scripted(
            LOGIN, registration,
            endpoints={"registration": "GET /Viaje/Solicitud/{trip_number}",
                       "field.trip_number": "numero_viaje"},
        )
    assert provider.get_tracking("SRV 1").native_status == "PENDIENTE"
    assert adapter.requests[1].url.endswith("/Viaje/Solicitud/SRV%201")
    with pytest.warns(DeprecationWarning), pytest.raises(
        ConfigurationError, match="unknown ControlT endpoint keys"
    ):
        ControlTProvider(**CREDS, endpoints={"creat": "POST /x"})


def test_emulator_follows_an_overridden_table_only_when_it_shares_it(sandbox):
    provider = sandbox.tracking_provider("controlt", spec={"path.create": "POST /Viaje"})
    with pytest.raises(ProviderError) as info:
        provider.create_tracking(land())
    assert info.value.status_code == 404


# -- listing ----------------------------------------------------------------------------------


def test_active_travels_are_listed_lazily_and_closed_ones_by_date(controlt, clock):
    for i in range(3):
        controlt.create_tracking(land(f"SRV-LIST-{i}"))
    clock.advance(200)
    pages = controlt.list_trackings(page_size=2)
    assert [t.tracking_id for t in pages] == ["SRV-LIST-0", "SRV-LIST-1", "SRV-LIST-2"]
    controlt.assign("SRV-LIST-0", assignment())
    controlt.activate("SRV-LIST-0", by="ana")
    controlt.close("SRV-LIST-0", by="ana")
    assert [t.tracking_id for t in controlt.list_trackings()] == ["SRV-LIST-1", "SRV-LIST-2"]
    today = datetime.fromtimestamp(clock.now(), timezone.utc).date()
    found = list(controlt.list_trackings(date_start=today, date_end=today, limit=1))
    assert [t.status for t in found] == [TrackingStatus.CLOSED]


def test_list_filters_are_checked_before_any_call():
    provider, adapter = scripted()
    with pytest.raises(ValidationError, match="both date_start and date_end"):
        provider.list_trackings(date_start="2026-01-01")
    with pytest.raises(ValidationError, match="unknown ControlT filters"):
        provider.list_trackings(plate="ABC123")
    assert adapter.requests == []


# -- cassette ---------------------------------------------------------------------------------


@pytest.fixture
def live(request):
    yield from live_provider(request, "controlt")


@pytest.mark.vcr
def test_recorded_land_trip_lifecycle_replays_offline(live: Live):
    controlt = live.provider
    assert controlt.check_connection().ok
    assert controlt.create_tracking(land("SRV-CASSETTE-1")).status is TrackingStatus.PENDING
    created = controlt.wait_until_created("SRV-CASSETTE-1")
    assert created.status is TrackingStatus.CREATED and created.travel_id
    assert controlt.assign("SRV-CASSETTE-1", assignment()).status is TrackingStatus.ASSIGNED
    assert controlt.activate("SRV-CASSETTE-1", by="ana@apunto").activated_by == "ana@apunto"
    live.advance(7200)
    assert controlt.get_tracking("SRV-CASSETTE-1").status is TrackingStatus.IN_TRANSIT
    closed = controlt.close("SRV-CASSETTE-1", by="luis@apunto")
    assert closed.status is TrackingStatus.CLOSED and closed.closed_by == "luis@apunto"
