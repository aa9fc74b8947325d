"""CFDI status at the SAT: the client, its emulator, a cassette, the batch and the CLI."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid as uuidlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from apunto_connect import Sandbox, sat
from apunto_connect.cfdi import Stamp, build, parse
from apunto_connect.errors import ProviderError, ValidationError
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax
from apunto_connect.sat.cfdi_status import STATUS_COLUMNS, SatStatusClient, StatusQuery

UUID = "6e546729-960a-4505-8e81-2d2952145bd9"
ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000")


@pytest.fixture
def sb():
    with Sandbox(vendors=["sat_status"]) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb):
    with SatStatusClient(**sb.provider_kwargs("sat_status"), max_retries=0) as status_client:
        yield status_client


def stamped_xml(index: int, total: str = "1000") -> bytes:
    invoice = Invoice(
        CUSTOMER,
        [LineItem("78101802", "E48", f"Flete {index}", 1, total, taxes=[Tax.iva()])],
        issuer=ISSUER,
        payment_form="03",
        issued_at=datetime(2026, 11, 30, 10, 0),
    )
    stamp = Stamp(
        uuid=str(uuidlib.UUID(int=index + 1)),
        stamped_at=datetime(2026, 11, 30, 10, 0, 5),
        pac_rfc="SAT970701NN3",
        sat_certificate="30001000000500003456",
    )
    return build(invoice, stamp)


def test_a_known_cfdi_is_vigente_and_cancellable(sb, client) -> None:
    sb.emulator("sat_status").register(UUID, "EKU9003173C9", "URE180429TM6", "1160.00")
    answer = client.status(UUID, "EKU9003173C9", "URE180429TM6", "1160")
    assert (answer.found, answer.active, answer.cancelled) == (True, True, False)
    assert answer.code == "S - Comprobante obtenido satisfactoriamente."
    assert answer.cancellable == "Cancelable sin aceptación" and answer.efos == "200"


def test_the_sat_matches_all_four_fields(sb, client) -> None:
    sb.emulator("sat_status").register(UUID, "EKU9003173C9", "URE180429TM6", "1160.00")
    other_total = client.status(UUID, "EKU9003173C9", "URE180429TM6", "1160.01")
    assert (other_total.found, other_total.state) == (False, "No Encontrado")
    assert other_total.code == "N - 602: Comprobante no encontrado."


def test_a_cancelled_cfdi_says_so(sb, client) -> None:
    emulator = sb.emulator("sat_status")
    emulator.register(UUID, "EKU9003173C9", "URE180429TM6", "1160.00")
    emulator.cancel(UUID)
    answer = client.status(UUID, "EKU9003173C9", "URE180429TM6", "1160.00")
    assert answer.cancelled and answer.cancellation_status == "Cancelado sin aceptación"


def test_a_parsed_cfdi_can_be_asked_directly(sb, client) -> None:
    xml = stamped_xml(7, "2500")
    sb.emulator("sat_status").register_xml(xml)
    cfdi = parse(xml)
    assert client.status(cfdi).active
    assert sat.status(cfdi=cfdi, client=client).active


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((None, "EKU9003173C9", "URE180429TM6", "1"), "uuid"),
        (("not-a-uuid", "EKU9003173C9", "URE180429TM6", "1"), "uuid"),
        ((UUID, None, "URE180429TM6", "1"), "issuer_rfc"),
        ((UUID, "EKU9003173C9", 123, "1"), "receiver_rfc"),
        ((UUID, "EKU9003173C9", "URE180429TM6", "NaN"), "total"),
        ((UUID, "EKU9003173C9", "URE180429TM6", "1E+999999"), "total"),
        ((UUID, "EKU9003173C9", "URE180429TM6", -5), "total"),
        ((UUID, "EKU9003173C9", "URE180429TM6", None), "total"),
    ],
)
def test_bad_inputs_are_typed_errors_before_any_call(sb, client, args, field) -> None:
    with pytest.raises(ValidationError) as info:
        client.status(*args)
    assert info.value.issues[0].field == field
    assert sb.emulator("sat_status").queries == 0


def test_an_unstamped_cfdi_cannot_be_asked_about(client) -> None:
    invoice = Invoice(CUSTOMER, [LineItem("78101802", "E48", "Flete", 1, 10)], issuer=ISSUER)
    with pytest.raises(ValidationError) as info:
        client.status(parse(build(invoice)))
    assert info.value.issues[0].code == "APUNTO-804"


def test_a_soap_fault_keeps_the_services_text(sb) -> None:
    session = sb.session
    response = session.post(
        "https://consultaqr.facturaelectronica.sat.gob.mx/ConsultaCFDIService.svc",
        data=b"<x/>", headers={"SOAPAction": "wrong"}, timeout=5,
    )  # fmt: skip
    assert response.status_code == 500
    from apunto_connect.sat.cfdi_status import _soap_error

    error = _soap_error("sat_status", response)
    assert isinstance(error, ProviderError) and "ContractFilter mismatch" in error.message


def test_the_client_speaks_the_real_wire_over_loopback(sb) -> None:
    server = sb.serve()
    sb.emulator("sat_status").register(UUID, "EKU9003173C9", "URE180429TM6", "99.50")
    with SatStatusClient(f"{server.url}/sat_status/ConsultaCFDIService.svc") as remote:
        assert remote.status(UUID, "EKU9003173C9", "URE180429TM6", "99.5").active


@pytest.mark.vcr
def test_cassette_status_of_a_vigente_and_an_unknown_cfdi() -> None:
    # Recorded from the emulator at the service's real URL (the SOAP shapes of the SAT).
    with SatStatusClient(max_retries=0) as real:
        known = real.status(UUID, "EKU9003173C9", "URE180429TM6", "1160.00")
        unknown = real.status("00000000-0000-0000-0000-000000000001", "EKU9003173C9",
                              "URE180429TM6", "1.00")  # fmt: skip
    assert known.active and known.cancellable == "Cancelable sin aceptación"
    assert unknown.state == "No Encontrado" and not unknown.found


# -- many documents -------------------------------------------------------------------------


def test_status_many_on_a_folder_of_1000_cfdi(sb, client, tmp_path: Path) -> None:
    emulator = sb.emulator("sat_status")
    folder = tmp_path / "cfdi"
    folder.mkdir()
    for index in range(1000):
        xml = stamped_xml(index, str(1000 + index))
        (folder / f"{index:04d}.xml").write_bytes(xml)
        if index % 10 != 9:  # every tenth document never reached the SAT
            emulator.register_xml(xml)
    for index in range(0, 1000, 50):
        emulator.cancel(str(uuidlib.UUID(int=index + 1)))

    in_flight = 0
    peak = 0
    lock = threading.Lock()
    original = emulator.consulta

    def counting(request):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            time.sleep(0.0005)
            return original(request)
        finally:
            with lock:
                in_flight -= 1

    emulator.router._routes = [
        (m, r, p, counting if h == original else h) for m, r, p, h in emulator.router._routes
    ]
    from apunto_connect.cfdi import parse_many

    rows = client.status_many(parse_many(folder), workers=6, min_interval=0)
    assert len(rows) == 1000 and set(rows[0]) == set(STATUS_COLUMNS)
    assert [row["source"] for row in rows] == sorted(str(p) for p in folder.glob("*.xml"))
    states = [row["estado"] for row in rows]
    assert states.count("No Encontrado") == 100
    assert states.count("Cancelado") == 20
    assert states.count("Vigente") == 880
    assert all(row["error"] is None for row in rows)
    assert 1 <= peak <= 6  # bounded concurrency
    import pandas  # the test extra installs it
    frame = pandas.DataFrame(rows)
    assert frame["estado"].value_counts()["Vigente"] == 880


def test_status_many_paces_request_starts() -> None:
    starts: list[float] = []
    clock_now = [0.0]
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            return clock_now[0]

    def sleep(seconds: float) -> None:
        with lock:
            clock_now[0] += seconds

    client = SatStatusClient(sleep=sleep, clock=clock)

    def ask(query: StatusQuery):  # type: ignore[no-untyped-def]
        with lock:
            starts.append(clock_now[0])
        return sat.CfdiStatus(query, "S - ok", "Vigente")

    client.ask = ask  # type: ignore[method-assign]
    queries = [(str(uuidlib.UUID(int=i + 1)), "EKU9003173C9", "URE180429TM6", "1") for i in range(8)]
    rows = client.status_many(queries, workers=4, min_interval=0.5)
    assert [row["estado"] for row in rows] == ["Vigente"] * 8
    ordered = sorted(starts)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    assert all(gap >= 0.5 - 1e-9 for gap in gaps)


def test_status_many_reports_bad_documents_in_their_row(sb, client) -> None:
    sb.emulator("sat_status").register(UUID, "EKU9003173C9", "URE180429TM6", "10")
    rows = client.status_many(
        [(UUID, "EKU9003173C9", "URE180429TM6", "10"), ("nope", "X", "Y", "1"), 42,
         {"uuid": UUID, "issuer_rfc": "EKU9003173C9", "receiver_rfc": "URE180429TM6", "total": 10}],
        min_interval=0,
    )  # fmt: skip
    assert [row["estado"] for row in rows] == ["Vigente", None, None, "Vigente"]
    assert "APUNTO-801" in rows[1]["error"] and "APUNTO-805" in rows[2]["error"]


@pytest.mark.parametrize(
    "options", [{"workers": 0}, {"workers": 17}, {"workers": "4"}, {"min_interval": -1}]
)
def test_status_many_refuses_bad_settings(client, options) -> None:
    with pytest.raises(ValidationError):
        client.status_many([], **options)


def test_status_many_refuses_a_string_as_documents(client) -> None:
    with pytest.raises(ValidationError):
        client.status_many("folder/")


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_sat_status_on_a_folder_in_the_sandbox(tmp_path: Path, capsys) -> None:
    from apunto_connect.cli import main

    for index in range(5):
        (tmp_path / f"{index}.xml").write_bytes(stamped_xml(100 + index))
    (tmp_path / "broken.xml").write_bytes(b"<not a cfdi")
    out_csv = tmp_path / "status.csv"
    code = main(["sat", "status", str(tmp_path), "--sandbox", "--interval", "0", "--json",
                 "--csv", str(out_csv)])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 3  # the broken file has its row with the reason
    assert [row["estado"] for row in rows].count("Vigente") == 5
    assert any(row["error"] and row["source"].endswith("broken.xml") for row in rows)
    assert out_csv.read_text(encoding="utf-8").splitlines()[0].split(",") == list(STATUS_COLUMNS)


def test_cli_sat_status_of_one_file(tmp_path: Path, capsys) -> None:
    from apunto_connect.cli import main

    path = tmp_path / "one.xml"
    path.write_bytes(stamped_xml(500))
    assert main(["sat", "status", str(path), "--sandbox", "--interval", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Vigente") and "1 documents: 1 Vigente" in captured.err


def test_decimal_totals_are_written_like_a_cfdi() -> None:
    query = StatusQuery.of(UUID, "eku9003173c9", "URE180429TM6", Decimal("1160"))
    assert query.expression == f"?re=EKU9003173C9&rr=URE180429TM6&tt=1160.00&id={UUID}"
    assert StatusQuery.of(UUID, "EKU9003173C9", "URE180429TM6", "0.123456").expression.count(
        "tt=0.123456"
    )


def test_status_many_reads_its_input_lazily(sb, client) -> None:
    consumed = 0

    def documents():  # type: ignore[no-untyped-def]
        nonlocal consumed
        for index in range(1000):
            consumed += 1
            yield (str(uuidlib.UUID(int=index + 1)), "EKU9003173C9", "URE180429TM6", "1")

    seen_when_first_row: list[int] = []
    rows = client.status_many(
        documents(), workers=2, min_interval=0,
        on_result=lambda row: seen_when_first_row.append(consumed),
    )  # fmt: skip
    assert len(rows) == 1000 and consumed == 1000
    # A short queue (4 per worker) ahead of the answers, never the whole input up front.
    assert all(seen <= done + 2 * 4 + 2 for done, seen in enumerate(seen_when_first_row))


def test_cli_sat_status_against_a_service_url(sb, tmp_path: Path, capsys) -> None:
    from apunto_connect.cli import main

    server = sb.serve()
    emulator = sb.emulator("sat_status")
    for index in range(3):
        xml = stamped_xml(700 + index)
        (tmp_path / f"{index}.xml").write_bytes(xml)
        if index:
            emulator.register_xml(xml)
    url = f"{server.url}/sat_status/ConsultaCFDIService.svc"
    assert main(["sat", "status", str(tmp_path), "--base-url", url, "--interval", "0", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["estado"] for row in rows] == ["No Encontrado", "Vigente", "Vigente"]
