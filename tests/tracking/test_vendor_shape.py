"""The tracking vendors' shared shape: template methods in the base, one spec per vendor."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from apunto_connect.errors import ConfigurationError, UnsupportedOperation, ValidationError
from apunto_connect.events import TRACKING_CREATED, TRACKING_STATUS_CHANGED, Event
from apunto_connect.models.common import Capability
from apunto_connect.models.tracking import Assignment, Shipment, Tracking, TrackingStatus
from apunto_connect.sandbox.controlt import ControlTEmulator
from apunto_connect.sandbox.framework import EmulatorRequest
from apunto_connect.sandbox.shipsgo import ShipsGoEmulator
from apunto_connect.tracking import TrackingProvider, controlt, shipsgo
from apunto_connect.vendor_spec import VendorSpec


class Scripted(TrackingProvider):
    """A vendor whose hooks return statuses from a script and call each other like real ones."""

    name: ClassVar[str] = "scripted"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.CREATE_TRACKING, Capability.GET_TRACKING, Capability.ASSIGN}
    )

    def __init__(self, statuses: list[TrackingStatus]) -> None:
        self.statuses = statuses
        self.hook_calls: list[str] = []

    def _tracking(self) -> Tracking:
        return Tracking(provider=self.name, tracking_id="T1", reference="R1", mode="land",
                        status=self.statuses.pop(0))

    def _create_tracking(self, shipment: Shipment, **options: Any) -> Tracking:
        self.hook_calls.append("create")
        return self._tracking()

    def _get_tracking(self, tracking_id: str) -> Tracking:
        self.hook_calls.append("get")
        return self._tracking()

    def _assign(self, tracking_id: str, assignment: Assignment) -> Tracking:
        self.hook_calls.append("assign")
        self._get_tracking(tracking_id)  # a hook reading the current state, as ControlT does
        return self._tracking()


def record(provider: TrackingProvider) -> list[Event]:
    seen: list[Event] = []
    provider.events.subscribe(seen.append)
    return seen


def test_public_methods_call_the_hooks_and_emit_once_per_call():
    provider = Scripted([TrackingStatus.PENDING, TrackingStatus.CREATED,
                         TrackingStatus.CREATED, TrackingStatus.ASSIGNED])
    events = record(provider)
    provider.create_tracking(Shipment("R1", "land"))
    provider.get_tracking("T1")
    provider.assign("T1", None)  # type: ignore[arg-type]
    assert provider.hook_calls == ["create", "get", "assign", "get"]
    assert [e.type for e in events] == [
        TRACKING_CREATED, TRACKING_STATUS_CHANGED, TRACKING_STATUS_CHANGED,
    ]
    changes = [(e.data["previous_status"], e.data["status"]) for e in events[1:]]
    # The hook's inner read (CREATED) is not a separate observation: one call, one report.
    assert changes == [("pending", "created"), ("created", "assigned")]


def test_operations_outside_the_capabilities_are_refused_before_any_hook():
    provider = Scripted([])
    with pytest.raises(UnsupportedOperation):
        provider.close("T1", by="ops")
    with pytest.raises(UnsupportedOperation):
        list(provider.list_trackings())
    assert provider.hook_calls == []


def test_no_method_is_wrapped_at_class_creation():
    assert Scripted.create_tracking is TrackingProvider.create_tracking
    assert controlt.ControlTProvider.assign is TrackingProvider.assign
    assert shipsgo.ShipsGoProvider.get_tracking is TrackingProvider.get_tracking


@pytest.mark.parametrize("module", [controlt, shipsgo])
def test_every_spec_fact_has_a_source_and_evidence(module: Any):
    spec: VendorSpec = module.SPEC
    assert spec.counts()["override"] == 0
    for key, fact in spec.facts.items():
        assert key.split(".")[0] in {"path", "field", "header", "limit", "value"}, key
        assert fact.evidence, f"{key} has no evidence"


def test_shipsgo_assumptions_are_exactly_the_credit_path():
    assert list(shipsgo.SPEC.assumed()) == ["path.credits"]


def test_providers_and_emulators_refuse_unknown_spec_keys():
    with pytest.raises(ConfigurationError, match=r"path\.crate"):
        shipsgo.ShipsGoProvider(api_token="t", spec={"path.crate": "POST /x"})
    with pytest.raises(ConfigurationError, match=r"field\.plat"):
        ControlTEmulator(spec={"field.plat": "placa"})
    with pytest.raises(ConfigurationError, match=r"path\.lst"):
        ShipsGoEmulator(spec={"path.lst": "GET /x"})


def test_a_provider_records_which_assumptions_a_flow_used():
    provider = controlt.ControlTProvider(username="u", company_code="c", api_key="k")
    assert provider.spec.assumptions_used() == []
    body = controlt.shipment_to_controlt(
        Shipment("SRV-1", "land", origin="A", destination="B", service_status="Activo"),
        "c", provider.spec,
    )
    assert body["trip_number"] == "SRV-1"
    assert "field.company_code" in provider.spec.assumptions_used()
    assert provider.spec is not controlt.SPEC


def test_an_emulator_built_from_an_overridden_spec_serves_the_overridden_paths():
    emulator = ControlTEmulator(spec={"path.login": "POST /Auth/login"})
    creds = emulator.demo_credentials
    form = (f"grant_type=password&username={creds['username']}&password={creds['api_key']}"
            f"&company_code={creds['company_code']}").encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    moved = emulator.handle(EmulatorRequest.build("POST", "/Auth/login", "", headers, form))
    old = emulator.handle(EmulatorRequest.build("POST", "/login/oauth", "", headers, form))
    # The old path is now just a protected route; the moved one is the login itself.
    assert old.status == 401
    assert moved.status == 200 and b"access_token" in moved.body


def test_create_options_a_vendor_does_not_know_are_refused():
    provider = controlt.ControlTProvider(username="u", company_code="c", api_key="k")
    with pytest.raises(ValidationError, match="no options"):
        provider.create_tracking(Shipment("SRV-1", "land"), allow_non_iso_container=True)


def test_the_shipsgo_emulator_enforces_the_limits_of_its_own_spec():
    emulator = ShipsGoEmulator(spec={"limit.tags": 1})
    headers = {"x-shipsgo-user-token": emulator.demo_credentials["api_token"],
               "content-type": "application/json"}
    body = (b'{"reference": "APT-TAGS-001", "container_number": "CSQU3054383", '
            b'"tags": ["A", "B"]}')
    refused = emulator.handle(EmulatorRequest.build("POST", "/ocean/shipments", "", headers, body))
    assert refused.status == 422 and b"at most 1" in refused.body
