"""The emulator framework on a tiny counter emulator: both transports, faults and routing."""

from __future__ import annotations

from typing import ClassVar

import pytest
import requests

from apunto_connect.errors import (
    ConfigurationError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
)
from apunto_connect.http import RetryPolicy, Transport
from apunto_connect.sandbox.adapter import SandboxAdapter
from apunto_connect.sandbox.faults import Fault, FaultKind, FaultPlan
from apunto_connect.sandbox.framework import (
    Emulator,
    EmulatorRequest,
    EmulatorResponse,
    HttpError,
    basic_auth,
    bearer_token,
    json_response,
    route,
)
from apunto_connect.sandbox.server import LoopbackServer
from apunto_connect.vendor_spec import Fact, VendorSpec

BASE = "https://api.counter.test/v1"


class CounterEmulator(Emulator):
    name = "counter"
    base_urls: ClassVar[tuple[str, ...]] = (BASE, "https://sandbox.counter.test/v1")

    def __init__(self, **kw):
        super().__init__(**kw)
        self.items: dict[str, dict] = {}

    def authenticate(self, request: EmulatorRequest) -> EmulatorResponse | None:
        if basic_auth(request) != ("demo", "secret"):
            return json_response(401, {"message": "bad credentials"})
        return None

    @route("POST", "/items")
    def create(self, request: EmulatorRequest) -> EmulatorResponse:
        body = request.json() or {}
        item_id = str(len(self.items) + 1)
        self.items[item_id] = {"id": item_id, **body}
        return json_response(201, self.items[item_id])

    @route("GET", "/items/{item_id}")
    def get(self, request: EmulatorRequest, item_id: str) -> EmulatorResponse:
        if item_id not in self.items:
            raise HttpError(404, {"message": f"item {item_id} not found"})
        return json_response(200, self.items[item_id])


def make(faults=(), url=BASE, session=None, retries=2):
    emulator = CounterEmulator()
    plan = FaultPlan(faults, seed=1)
    if session is None:
        adapter = SandboxAdapter({"counter": emulator}, plan)
        session = requests.Session()
        session.mount("https://api.counter.test", adapter)
        session.mount("https://sandbox.counter.test", adapter)
    transport = Transport(
        "counter", url, auth=("demo", "secret"), session=session,
        retry=RetryPolicy(max_retries=retries), sleep=lambda s: None,
    )
    return emulator, plan, transport


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc ", "abc"), ("bearer abc", "abc"), ("Basic abc", ""), (None, "")],
)
def test_bearer_token_reads_only_the_bearer_scheme(header, token):
    headers = {} if header is None else {"authorization": header}
    assert bearer_token(EmulatorRequest("GET", "/", {}, headers)) == token


def test_in_process_round_trip_and_case_insensitive_routes():
    _, _, transport = make()
    created = transport.request_json("POST", "items", json={"name": "a"})
    assert transport.request_json("GET", f"ITEMS/{created['id']}")["name"] == "a"
    with pytest.raises(NotFound, match="item 9 not found"):
        transport.request("GET", "items/9")


def test_wrong_credentials_get_the_emulators_401():
    _, _, transport = make()
    transport.auth = ("demo", "wrong")
    from apunto_connect.errors import AuthenticationError

    with pytest.raises(AuthenticationError, match="bad credentials"):
        transport.request("GET", "items/1")


def test_drop_after_commit_creates_but_reports_request_sent():
    emulator, _, transport = make([Fault(FaultKind.DROP_AFTER, path="/items")])
    with pytest.raises(TransportError) as info:
        transport.request("POST", "items", json={})
    assert info.value.request_sent is True
    assert len(emulator.items) == 1  # the server did commit


def test_drop_before_is_retried_safely_without_duplicates():
    emulator, plan, transport = make([Fault(FaultKind.DROP_BEFORE, path="/items")])
    transport.request("POST", "items", json={})
    assert len(emulator.items) == 1
    assert [f.kind for f in plan.fired] == [FaultKind.DROP_BEFORE]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(FaultKind.RATE_LIMIT, times=-1, retry_after=0), RateLimited),
        (Fault(FaultKind.SERVER_ERROR, times=-1, status=503), ServerError),
        (Fault(FaultKind.HTML_ERROR, times=-1), ServerError),
    ],
)
def test_persistent_faults_end_in_typed_errors(fault, error):
    _, plan, transport = make([fault])
    with pytest.raises(error):
        transport.request("GET", "items/1")
    assert len(plan.fired) == 3


def test_malformed_json_after_commit_is_a_transport_error():
    emulator, _, transport = make([Fault(FaultKind.MALFORMED_JSON)])
    with pytest.raises(TransportError) as info:
        transport.request_json("POST", "items", json={"name": "x"})
    assert info.value.request_sent is True
    assert len(emulator.items) == 1


def test_loopback_server_serves_the_same_emulator_and_drops_connections():
    emulator = CounterEmulator()
    plan = FaultPlan()
    with LoopbackServer({"counter": emulator}, plan) as server:
        transport = Transport("counter", server.base_url("counter"), auth=("demo", "secret"))
        created = transport.request_json("POST", "items", json={"name": "net"})
        assert transport.request_json("GET", f"items/{created['id']}")["name"] == "net"
        plan.add(Fault(FaultKind.DROP_AFTER, path="/items"))
        with pytest.raises(TransportError) as info:
            transport.request("POST", "items", json={})
        assert info.value.request_sent is True
        assert len(emulator.items) == 2
        transport.close()


def test_a_client_that_swaps_only_the_host_keeps_the_vendors_base_path():
    # https://api.counter.test/v1/items → http://127.0.0.1:PORT/counter/v1/items
    emulator = CounterEmulator()
    with LoopbackServer({"counter": emulator}, FaultPlan()) as server:
        host_swapped = server.base_url("counter") + "/v1"
        with requests.Session() as http:
            http.auth = ("demo", "secret")
            created = http.post(f"{host_swapped}/items", json={"name": "net"}, timeout=10)
            assert created.status_code == 201
            item_id = created.json()["id"]
            assert http.get(f"{host_swapped}/items/{item_id}",
                            timeout=10).json()["name"] == "net"
            assert http.get(f"{server.base_url('counter')}/V1/items/{item_id}",
                            timeout=10).status_code == 200
            assert http.get(f"{server.base_url('counter')}/items/{item_id}",
                            timeout=10).status_code == 200
            # Only a whole leading segment is the base path: /v1x is an unknown path.
            assert http.get(f"{server.base_url('counter')}/v1x/items/{item_id}",
                            timeout=10).status_code == 404
    assert list(emulator.items) == [item_id]


@pytest.mark.parametrize(
    ("vendor", "vendor_base_path", "method", "path"),
    [
        ("alegra", "/api/v1", "GET", "/company"),
        ("shipsgo", "/v2", "GET", "/ocean/shipments"),
        ("enlace_fiscal", "/v6", "POST", "/probarConexion"),
        ("contadigital", "/dev/pruebas", "POST", "/api/conectar.json"),
    ],
)
def test_every_emulator_answers_under_its_vendors_base_path(vendor, vendor_base_path, method,
                                                            path):
    from apunto_connect.sandbox import Sandbox

    with Sandbox(vendors=[vendor], seed=3) as sandbox:
        base = sandbox.serve().base_url(vendor)
        creds = dict(sandbox.emulator(vendor).demo_credentials)
        options = {
            "alegra": {"auth": (creds.get("email"), creds.get("token"))},
            "shipsgo": {"headers": {"X-Shipsgo-User-Token": creds.get("api_token", "")}},
            "enlace_fiscal": {"auth": (creds.get("username"), creds.get("token")),
                              "headers": {"x-api-key": creds.get("api_key", "")}, "json": {}},
            "contadigital": {"json": {"ApiKey": creds.get("api_key")}},
        }[vendor]
        short = requests.request(method, base + path, timeout=10, **options)
        full = requests.request(method, base + vendor_base_path + path, timeout=10, **options)
        assert short.status_code == 200, short.text
        assert full.status_code == 200, full.text
        assert full.json().keys() == short.json().keys()


def test_loopback_server_refuses_non_loopback_hosts():
    with pytest.raises(ValueError):
        LoopbackServer({}, host="0.0.0.0")


def _raw_request(connection, method: str, path: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    import base64

    token = base64.b64encode(b"demo:secret").decode()
    connection.request(method, path, body=body or None, headers={
        "Authorization": f"Basic {token}", "Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_loopback_server_keeps_one_connection_alive_for_many_requests():
    import http.client

    emulator = CounterEmulator()
    with LoopbackServer({"counter": emulator}) as server:
        connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
        status, headers, _ = _raw_request(connection, "POST", "/counter/items", b'{"n": 1}')
        assert status == 201 and headers["Content-Length"]
        local_port = connection.sock.getsockname()[1]
        for _ in range(3):
            status, headers, body = _raw_request(connection, "GET", "/counter/items/1")
            assert (status, int(headers["Content-Length"])) == (200, len(body))
            assert headers.get("Connection", "").lower() != "close"
        assert connection.sock is not None and connection.sock.getsockname()[1] == local_port
        status, headers, body = _raw_request(connection, "GET", "/counter/items/9")
        assert status == 404 and int(headers["Content-Length"]) == len(body)
        connection.close()


def test_loopback_server_bounds_connections_and_frees_idle_ones():
    import http.client

    with LoopbackServer({"counter": CounterEmulator()}, max_connections=1, idle_timeout=0.3) as server:
        first = http.client.HTTPConnection(server.host, server.port, timeout=5)
        assert _raw_request(first, "POST", "/counter/items", b"{}")[0] == 201
        # The only slot is held by the idle first connection until its idle timeout frees it.
        second = http.client.HTTPConnection(server.host, server.port, timeout=5)
        assert _raw_request(second, "GET", "/counter/items/1")[0] == 200
        second.close()
        first.close()


class PagedEmulator(Emulator):
    """An emulator that follows a (tiny) vendor spec and builds its state in setup()."""

    name = "paged"
    vendor_spec: ClassVar[VendorSpec] = VendorSpec(
        "paged", {"limit.page_size": Fact(10), "path.items": Fact("GET /items")}, record=False
    )

    def setup(self) -> None:
        self.page_size = int(self.spec["limit.page_size"])

    def check_spec(self, overrides):
        if any(key.startswith("path.") for key in overrides):
            raise ConfigurationError("the paged emulator's routes are fixed")


def test_spec_overrides_reach_the_state_setup_creates():
    assert PagedEmulator().page_size == 10
    emulator = PagedEmulator(seed=3, spec={"limit.page_size": 2})
    assert emulator.page_size == 2 and emulator.seed == 3
    assert emulator.spec.facts["limit.page_size"].source == "override"


def test_spec_overrides_an_emulator_cannot_follow_are_refused():
    with pytest.raises(ConfigurationError, match="unknown paged spec keys"):
        PagedEmulator(spec={"limit.nope": 1})
    with pytest.raises(ConfigurationError, match="routes are fixed"):
        PagedEmulator(spec={"path.items": "GET /things"})
    with pytest.raises(ConfigurationError, match="takes no spec"):
        CounterEmulator(spec={"limit.page_size": 2})
