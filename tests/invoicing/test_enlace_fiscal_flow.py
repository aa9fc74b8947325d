"""Enlace Fiscal provider against the in-process sandbox: the full flow, modes, errors, faults."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from apunto_connect.cfdi import parse
from apunto_connect.errors import (
    AuthenticationError,
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    ServerError,
    StampRejected,
    Timeout,
    TransportError,
    ValidationError,
)
from apunto_connect.invoicing.enlace_fiscal import EnlaceFiscalProvider
from apunto_connect.models import (
    CancelMotive,
    Capability,
    Customer,
    Invoice,
    InvoiceStatus,
    LineItem,
    Tax,
)
from apunto_connect.models.invoices import CancellationStatus
from apunto_connect.registry import invoice_provider
from apunto_connect.sandbox import Fault, FaultKind, Sandbox
from apunto_connect.sandbox.enlace_fiscal import EnlaceFiscalEmulator

GENERAR = "*generarCfdi"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(vendors=["enlace_fiscal"], seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def emulator(sb: Sandbox) -> EnlaceFiscalEmulator:
    emu = sb.emulator("enlace_fiscal")
    assert isinstance(emu, EnlaceFiscalEmulator)
    return emu


@pytest.fixture
def provider(sb: Sandbox) -> Iterator[EnlaceFiscalProvider]:
    made = sb.invoice_provider("enlace_fiscal")
    yield made
    made.release()


def invoice(total: str = "1000", folio: str | None = None, **changes) -> Invoice:
    base = Invoice(
        customer=Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015"),
        items=[LineItem("78101802", "E48", "Flete terrestre", 1, total, unit_name="Servicio",
                        taxes=[Tax.iva(), Tax.iva_withholding("0.04")])],
        folio=folio,
    )
    return base.with_changes(**changes) if changes else base


@pytest.fixture
def seen(emulator: EnlaceFiscalEmulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths of the requests the emulator processed (faults that answer for it are not here)."""
    paths: list[str] = []
    original = emulator.handle

    def handle(request):
        paths.append(request.path)
        return original(request)

    monkeypatch.setattr(emulator, "handle", handle)
    return paths


# -- the whole flow -------------------------------------------------------------------------


def test_full_flow_check_stamp_get_download_cancel_list(provider, emulator):
    assert provider.check_connection().ok
    before = provider.balance()

    stamped = provider.stamp(invoice(), idempotency_key="flow-1")
    assert stamped.provider == "enlace_fiscal"
    assert stamped.id == f"APUNTO-{stamped.folio}"
    assert stamped.total == Decimal("1120.00")
    assert stamped.status is InvoiceStatus.ACTIVE

    fetched = provider.get(stamped.id)
    assert (fetched.uuid, fetched.total) == (stamped.uuid, stamped.total)

    xml = provider.download(stamped.id, "xml")
    cfdi = parse(xml)
    assert (cfdi.uuid, cfdi.total) == (stamped.uuid, Decimal("1120.00"))
    assert (cfdi.series, cfdi.folio) == ("APUNTO", stamped.folio)
    assert cfdi.receiver.rfc == "XIQB891116QE4"

    pdf = provider.download(stamped.id, "pdf")
    assert pdf.startswith(b"%PDF") and pdf == emulator.stamped()[0].issued.pdf

    cancelled = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancelled.status is CancellationStatus.CANCELLED
    assert cancelled.uuid == stamped.uuid
    assert provider.get(stamped.id).status is InvoiceStatus.CANCELLED
    assert [s.status for s in provider.list() if s.id == stamped.id] == [InvoiceStatus.CANCELLED]
    assert provider.balance() == before - 1


def test_registry_builds_the_provider_with_credentials_from_the_environment(sb, monkeypatch):
    creds = EnlaceFiscalEmulator.demo_credentials
    monkeypatch.setenv("APUNTO_ENLACE_FISCAL_USERNAME", creds["username"])
    monkeypatch.setenv("APUNTO_ENLACE_FISCAL_TOKEN", f" {creds['token']} ")
    monkeypatch.setenv("APUNTO_ENLACE_FISCAL_API_KEY", creds["api_key"])
    monkeypatch.setenv("APUNTO_ENLACE_FISCAL_SERIE", creds["series"])
    with pytest.warns(UserWarning, match="whitespace"):
        provider = invoice_provider("enlace_fiscal", environment="sandbox", session=sb.session)
    assert provider.check_connection().ok  # the stray spaces were stripped


def test_credentials_never_show_in_repr_or_errors(sb):
    provider = sb.invoice_provider("enlace_fiscal", token="not-the-token")
    with pytest.raises(AuthenticationError) as info:
        provider.balance()
    assert "not-the-token" not in str(info.value) + repr(provider)


def test_sat_test_receiver_with_a_wrong_name_is_rejected_with_cfdi40145(provider, emulator):
    wrong = invoice(folio="1").with_changes(
        customer=Customer("XIQB891116QE4", "BERENICE XIMO", "612", "26015")
    )
    with pytest.raises(StampRejected) as info:
        provider.stamp(wrong)
    assert info.value.sat_code == "CFDI40145"
    assert info.value.message.endswith(
        "debe pertenecer al nombre asociado al RFC registrado en el campo Rfc del Receptor."
    )
    assert emulator.stamped() == []


def test_preflight_runs_before_any_network_call(provider, seen):
    broken = invoice(folio="1", payment_method="PPD", payment_form="03")
    with pytest.raises(ValidationError) as info:
        provider.stamp(broken)
    assert "CFDI40105" in [issue.code for issue in info.value.errors]
    assert seen == []


def test_unknown_environment_is_a_configuration_error():
    from apunto_connect.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        EnlaceFiscalProvider(**{**EnlaceFiscalEmulator.demo_credentials, "environment": "staging"})


def test_spec_overrides_change_names_and_unknown_keys_are_refused(sb, emulator):
    from apunto_connect.errors import ConfigurationError

    renamed = sb.invoice_provider("enlace_fiscal", spec={"field.list_rows": "Lista"})
    renamed.stamp(invoice(folio="1"))
    assert list(renamed.list()) == []  # the emulator still answers "Comprobantes"
    assert "field.list_rows" not in renamed.spec.assumptions_used()  # overridden: not a guess
    with pytest.raises(ConfigurationError, match=r"field\.list_row"):
        sb.invoice_provider("enlace_fiscal", spec={"field.list_row": "Lista"})


def test_former_keywords_still_work_with_a_deprecation_warning(sb, emulator):
    from apunto_connect.errors import ConfigurationError

    sleeps: list[float] = []
    options = sb.provider_kwargs("enlace_fiscal", journal=sb.journal, sleep=sleeps.append)
    del options["series"], options["now"]
    with pytest.warns(DeprecationWarning) as caught:
        provider = EnlaceFiscalProvider(
            **options,
            serie="APUNTO",
            send_email=True,  # the e-mail-on-stamp flag's former name (send_email() is a method)
            pdf_wait=10,
            pdf_poll_interval=5,
            now=sb.clock.now,  # epoch seconds, the former form
            api={"list_rows": "Lista"},
        )
    warned = " ".join(str(w.message) for w in caught)
    for former in ("serie=", "send_email=", "pdf_wait=", "pdf_poll_interval=", "api=", "now="):
        assert former in warned
    assert provider.series == "APUNTO"
    assert provider.spec["field.list_rows"] == "Lista"
    emulator.pdf_delay = 10_000
    customer = Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015",
                        email="cxp@example.com")
    stamped = provider.stamp(invoice(folio="1", customer=customer))
    assert [m["Correos"] for m in emulator.outbox] == [["cxp@example.com"]]  # email_on_stamp
    assert list(provider.list()) == []  # the former table's key reached the spec
    with pytest.raises(Timeout):
        provider.download(stamped.id, "pdf")
    assert sleeps == [5, 5]  # pdf_wait / pdf_poll_interval became file_wait / file_poll_interval
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="list_row"):
        sb.invoice_provider("enlace_fiscal", api={"list_row": "Lista"})
    with pytest.raises(TypeError, match="both serie= and series="):
        sb.invoice_provider("enlace_fiscal", serie="A", series="B")
    with pytest.raises(TypeError, match="unexpected keyword"):
        sb.invoice_provider("enlace_fiscal", pdf_delay=3)


def test_now_sets_fecha_emision_as_mexico_city_wall_time(sb, emulator):
    moment = datetime.fromtimestamp(sb.clock.now(), timezone.utc).replace(microsecond=0)
    provider = sb.invoice_provider("enlace_fiscal", now=lambda: moment)
    provider.stamp(invoice(folio="1"))
    (document,) = emulator.stamped()
    local = moment.astimezone(ZoneInfo("America/Mexico_City")).replace(tzinfo=None)
    assert document.request["fechaEmision"] == local.strftime("%Y-%m-%d %H:%M:%S")


def test_one_idempotency_key_cannot_cover_two_folios(provider):
    provider.stamp(invoice(folio="1"), idempotency_key="k")
    with pytest.raises(Conflict, match="was used for a different invoice"):
        provider.stamp(invoice(folio="2"), idempotency_key="k")


def test_capabilities_are_declared():
    assert EnlaceFiscalProvider.capabilities >= {
        Capability.STAMP, Capability.GET, Capability.DOWNLOAD_XML, Capability.DOWNLOAD_PDF,
        Capability.CANCEL, Capability.LIST,
    }


# -- folios, series and modes -----------------------------------------------------------------


def test_callers_serie_and_folio_are_used(provider):
    stamped = provider.stamp(invoice(folio="777"))
    assert (stamped.id, stamped.series, stamped.folio) == ("APUNTO-777", "APUNTO", "777")


def test_next_folio_follows_the_highest_numeric_folio_of_the_serie(provider, seen):
    provider.stamp(invoice(folio="41"))
    assert provider.stamp(invoice()).folio == "42"
    assert provider.stamp(invoice()).folio == "43"
    assert seen.count("/listarComprobantes") == 1  # listed once, then counted in memory


def test_folio_taken_by_another_writer_is_skipped_without_stamping_twice(sb, provider, emulator):
    assert provider.stamp(invoice()).folio == "1"
    other = sb.invoice_provider("enlace_fiscal")
    other.stamp(invoice(folio="2"))
    assert provider.stamp(invoice()).folio == "3"
    assert sorted(d.folio for d in emulator.stamped()) == ["1", "2", "3"]


def test_concurrent_stamps_from_one_provider_get_distinct_folios(provider, emulator):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: provider.stamp(invoice(), idempotency_key=f"t{n}"), range(8)))
    assert sorted(int(r.folio) for r in results) == list(range(1, 9))
    assert len(emulator.stamped()) == 8


def test_a_rejected_auto_folio_is_reused_by_the_next_stamp(provider, emulator):
    assert provider.stamp(invoice()).folio == "1"
    emulator.set_balance(0)
    with pytest.raises(InsufficientCredits):
        provider.stamp(invoice())
    emulator.set_balance(5)
    assert provider.stamp(invoice()).folio == "2"


def test_duplicate_serie_and_folio_is_rejected_verbatim_and_nothing_is_stamped(provider, emulator):
    provider.stamp(invoice(folio="9"))
    with pytest.raises(Conflict) as info:
        provider.stamp(invoice(folio="9"))
    assert info.value.message == "El folio 9 de la serie APUNTO ya fue utilizado"
    assert info.value.vendor_code == "802"
    assert len(emulator.stamped()) == 1


def test_serie_not_enabled_for_api_use_is_refused(sb):
    provider = sb.invoice_provider("enlace_fiscal", series="MOSTRADOR")
    with pytest.raises(PermissionDenied, match="no está habilitada para uso mediante API"):
        provider.stamp(invoice(folio="1"))


def test_debug_credentials_are_refused_in_production_mode(sb):
    provider = sb.invoice_provider("enlace_fiscal", environment="production")
    status = provider.check_connection()
    assert not status.ok
    assert status.detail == "El usuario o contraseña no son válidos o estan vacíos"
    assert status.extra["vendor_code"] == "800"


def test_production_mode_has_its_own_credentials_balance_and_documents(sb, emulator):
    debug = sb.invoice_provider("enlace_fiscal")
    production = sb.invoice_provider(
        "enlace_fiscal", **EnlaceFiscalEmulator.production_credentials
    )
    status = production.check_connection()
    assert status.environment == "sandbox"
    assert status.extra["vendor_environment"] == "production"
    assert (debug.balance(), production.balance()) == (100, 10)
    stamped = production.stamp(invoice(folio="1"))
    assert (debug.balance(), production.balance()) == (100, 9)
    with pytest.raises(NotFound):
        debug.get(stamped.id)
    assert debug.stamp(invoice(folio="1")).uuid != stamped.uuid  # same folio, other world


def test_wrong_api_key_is_an_authentication_error(sb):
    provider = sb.invoice_provider("enlace_fiscal", api_key="not-a-key")
    with pytest.raises(AuthenticationError) as info:
        provider.balance()
    assert (info.value.status_code, info.value.message) == (403, "Forbidden")


def test_empty_balance_is_insufficient_credits(provider, emulator):
    emulator.set_balance(0)
    with pytest.raises(InsufficientCredits, match="Saldo insuficiente"):
        provider.stamp(invoice(folio="1"))
    assert emulator.stamped() == []


def test_each_stamp_spends_one_stamp(provider, emulator):
    provider.stamp(invoice())
    provider.stamp(invoice())
    assert provider.balance() == emulator.balance() == 98


# -- time -------------------------------------------------------------------------------------


def test_issue_time_sent_in_utc_instead_of_mexico_time_is_rejected(provider, sb):
    utc_wall_time = datetime.fromtimestamp(sb.clock.now(), tz=timezone.utc).replace(tzinfo=None)
    # Six hours ahead of Mexico City: the pre-flight date window refuses it before any call
    # (the emulator would answer "posterior a la hora actual del centro de México").
    with pytest.raises(ValidationError) as info:
        provider.stamp(invoice(folio="1", issued_at=utc_wall_time))
    assert [i.code for i in info.value.errors] == ["APUNTO-516"]


def test_aware_issue_time_is_converted_to_mexico_time(provider, sb):
    aware = datetime.fromtimestamp(sb.clock.now(), tz=timezone.utc)
    stamped = provider.stamp(invoice(folio="1", issued_at=aware))
    assert stamped.issued_at == aware.astimezone(
        __import__("zoneinfo").ZoneInfo("America/Mexico_City")
    ).replace(tzinfo=None, microsecond=0)


# -- downloads --------------------------------------------------------------------------------


def test_pdf_download_waits_for_the_asynchronous_pdf(sb, emulator):
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        sb.clock.advance(seconds)

    provider = sb.invoice_provider("enlace_fiscal", sleep=sleep, file_poll_interval=4)
    stamped = provider.stamp(invoice(folio="1"))
    assert provider.download(stamped.id, "pdf").startswith(b"%PDF")
    assert sum(sleeps) >= emulator.pdf_delay
    assert sleeps == [4] * len(sleeps)


def test_pdf_that_never_appears_ends_in_timeout_after_a_bounded_wait(sb, emulator):
    emulator.pdf_delay = 10_000
    sleeps: list[float] = []
    provider = sb.invoice_provider(
        "enlace_fiscal", sleep=sleeps.append, file_wait=30, file_poll_interval=5
    )
    stamped = provider.stamp(invoice(folio="1"))
    with pytest.raises(Timeout, match="PDF of APUNTO-1 was not ready"):
        provider.download(stamped.id, "pdf")
    assert sleeps == [5] * 6  # seven polls, six waits: 30 s in all


def test_xml_download_comes_inline_without_touching_the_link(provider, seen):
    stamped = provider.stamp(invoice(folio="1"))
    assert parse(provider.download(stamped.id, "xml")).uuid == stamped.uuid
    assert not [path for path in seen if path.startswith("/descargas/")]


def test_unknown_document_is_not_found(provider):
    with pytest.raises(NotFound, match="No existe el comprobante con serie APUNTO y folio 404"):
        provider.get("APUNTO-404")


def test_get_accepts_a_uuid_found_in_the_serie(provider):
    stamped = provider.stamp(invoice(folio="5"))
    assert provider.get(stamped.uuid.lower()).id == "APUNTO-5"


# -- cancelling and e-mailing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("motive", "replacement"),
    [(CancelMotive.WITH_RELATION, None), ("05", None), (CancelMotive.WITH_RELATION, "noref")],
)
def test_cancellation_requests_are_checked_before_any_call(provider, seen, motive, replacement):
    with pytest.raises(ValidationError):
        provider.cancel("APUNTO-1", motive, replacement)
    assert seen == []


def test_motive_01_sends_the_substitute_as_serie_and_folio(provider, emulator):
    wrong = provider.stamp(invoice(folio="10"))
    right = provider.stamp(invoice(folio="11"))
    by_uuid = provider.cancel(wrong.id, CancelMotive.WITH_RELATION, right.uuid)
    assert by_uuid.replacement_uuid == right.uuid
    assert emulator.stamped()[0].replacement_uuid == right.uuid
    other = provider.stamp(invoice(folio="12"))
    by_ref = provider.cancel(right.id, CancelMotive.WITH_RELATION, other.id)
    assert by_ref.status is CancellationStatus.CANCELLED
    assert emulator.stamped()[1].replacement_uuid == other.uuid


def test_large_invoice_after_a_day_waits_for_the_receiver(provider, emulator, sb):
    stamped = provider.stamp(invoice(total="50000", folio="1"))
    sb.clock.advance(2 * 24 * 3600)
    result = provider.cancel(stamped.id, CancelMotive.NOT_CARRIED_OUT)
    assert result.status is CancellationStatus.REQUESTED
    assert provider.get(stamped.id).status is InvoiceStatus.CANCEL_PENDING
    emulator.resolve_cancellation("APUNTO", "1", accept=True)
    assert provider.get(stamped.id).status is InvoiceStatus.CANCELLED


def test_cancelling_twice_is_a_conflict(provider):
    stamped = provider.stamp(invoice(folio="1"))
    provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    with pytest.raises(Conflict, match="ya se encuentra cancelado"):
        provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)


def test_send_email_reaches_the_outbox(provider, emulator):
    stamped = provider.stamp(invoice(folio="1"))
    provider.send_email(stamped.id, ["cuentas@example.com"], "Su factura")
    assert emulator.outbox == [
        {"ref": "APUNTO-1", "Correos": ["cuentas@example.com"], "mensajeCorreo": "Su factura"}
    ]
    with pytest.raises(ValidationError, match=r"to\[0\].*APUNTO-EMAIL-002"):
        provider.send_email(stamped.id, ["no-es-correo"])  # refused before any request
    with pytest.raises(ValidationError, match="subject"):
        provider.send_email(stamped.id, ["cuentas@example.com"], subject="Factura")
    assert len(emulator.outbox) == 1
    with pytest.raises(ProviderError, match="No existe el comprobante con serie APUNTO y folio 999"):
        provider.send_email("APUNTO-999", ["cuentas@example.com"])  # vendor text, verbatim


def test_email_on_stamp_is_the_flag_and_send_email_the_method(sb, emulator):
    provider = sb.invoice_provider("enlace_fiscal", email_on_stamp=True)
    customer = Customer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015",
                        email="cxp@example.com")
    provider.stamp(invoice(folio="1", customer=customer))
    assert [m["Correos"] for m in emulator.outbox] == [["cxp@example.com"]]
    with pytest.raises(TypeError, match="both send_email= and email_on_stamp="):
        sb.invoice_provider("enlace_fiscal", email_on_stamp=True, send_email=True)


# -- listing ------------------------------------------------------------------------------------


def test_list_filters_by_date_range(provider, sb):
    first = provider.stamp(invoice(folio="1"))
    sb.clock.advance(3 * 24 * 3600)
    second = provider.stamp(invoice(folio="2"))
    assert [s.id for s in provider.list()] == [first.id, second.id]
    today = second.issued_at.date()
    assert [s.id for s in provider.list(since=today)] == [second.id]
    assert [s.id for s in provider.list(until=today - timedelta(days=1))] == [first.id]
    with pytest.raises(ValidationError, match="unknown filters"):
        provider.list(status="cancelled")


# -- retries and faults: never stamp twice ------------------------------------------------------


def test_stamp_with_the_same_key_after_success_returns_the_same_document(provider, emulator):
    first = provider.stamp(invoice(), idempotency_key="order-1")
    again = provider.stamp(invoice(), idempotency_key="order-1")
    assert again.uuid == first.uuid
    assert len(emulator.stamped()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.LATENCY, path=GENERAR, latency=0.01),
        Fault(FaultKind.RATE_LIMIT, path=GENERAR, retry_after=0),
        Fault(FaultKind.DROP_BEFORE, path=GENERAR),
        Fault(FaultKind.DROP_AFTER, path=GENERAR),
        Fault(FaultKind.MALFORMED_JSON, path=GENERAR),
    ],
    ids=lambda f: f.kind.value,
)
def test_stamp_survives_fault_without_duplicates(sb, provider, emulator, fault):
    sb.faults.add(fault)
    stamped = provider.stamp(invoice(folio="1"), idempotency_key="k")
    assert [d.issued.uuid for d in emulator.stamped()] == [stamped.uuid]
    assert [f.kind for f in sb.faults.fired] == [fault.kind]


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.SERVER_ERROR, path=GENERAR, status=500),
        Fault(FaultKind.SERVER_ERROR, path=GENERAR, status=502),
        Fault(FaultKind.SERVER_ERROR, path=GENERAR, status=503),
        Fault(FaultKind.HTML_ERROR, path=GENERAR),
    ],
    ids=lambda f: f"{f.kind.value}-{f.status}",
)
def test_stamp_is_not_retried_after_5xx_and_the_same_key_stamps_once_later(
    sb, provider, emulator, seen, fault
):
    sb.faults.add(fault)
    with pytest.raises(ServerError):
        provider.stamp(invoice(folio="1"), idempotency_key="k")
    # The failed POST was not repeated: the emulator never saw a generarCfdi.
    assert "/generarCfdi" not in seen
    assert emulator.stamped() == []
    stamped = provider.stamp(invoice(folio="1"), idempotency_key="k")
    assert [d.issued.uuid for d in emulator.stamped()] == [stamped.uuid]


def test_stamp_is_not_sent_twice_after_drop_after_commit_even_when_the_lookup_fails(
    sb, provider, emulator, seen
):
    sb.faults.add(Fault(FaultKind.DROP_AFTER, path=GENERAR))
    sb.faults.add(Fault(FaultKind.DROP_BEFORE, path="*informacionCfdi", times=-1))
    with pytest.raises(TransportError) as info:
        provider.stamp(invoice(), idempotency_key="order-7")
    assert info.value.request_sent
    assert len(emulator.stamped()) == 1  # it did commit
    sb.faults.clear()
    recovered = provider.stamp(invoice(), idempotency_key="order-7")
    assert [d.issued.uuid for d in emulator.stamped()] == [recovered.uuid]
    assert seen.count("/generarCfdi") == 1


def test_read_only_actions_are_retried_after_5xx(sb, provider, seen):
    stamped = provider.stamp(invoice(folio="1"))
    sb.faults.add(Fault(FaultKind.SERVER_ERROR, path="*informacionCfdi", status=503))
    assert provider.get(stamped.id).uuid == stamped.uuid
    assert [f.kind for f in sb.faults.fired] == [FaultKind.SERVER_ERROR]
    assert seen.count("/informacionCfdi") == 1  # the retry got through


def test_cancel_answer_lost_after_commit_reads_the_state_back(sb, provider, emulator):
    stamped = provider.stamp(invoice(folio="1"))
    sb.faults.add(Fault(FaultKind.DROP_AFTER, path="*cancelarCfdi"))
    result = provider.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert result.status is CancellationStatus.CANCELLED
    assert emulator.stamped()[0].status == "cancelado"


def test_send_email_is_not_retried_after_a_drop_after_commit(sb, provider, emulator):
    stamped = provider.stamp(invoice(folio="1"))
    sb.faults.add(Fault(FaultKind.DROP_AFTER, path="*enviarCorreo"))
    with pytest.raises(TransportError):
        provider.send_email(stamped.id, ["cuentas@example.com"])
    assert len(emulator.outbox) == 1


def test_loopback_server_gives_links_that_point_back_to_it(sb):
    server = sb.serve()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        provider = EnlaceFiscalProvider(
            **EnlaceFiscalEmulator.demo_credentials,
            base_url=server.base_url("enlace_fiscal"),
            sleep=sb.clock.sleep,
            now=lambda: datetime.fromtimestamp(sb.clock.now(), timezone.utc),
        )
    try:
        stamped = provider.stamp(invoice(folio="1"))
        assert stamped.raw["descargaArchivoPDF"].startswith(server.base_url("enlace_fiscal"))
        assert provider.download(stamped.id, "pdf").startswith(b"%PDF")
    finally:
        provider.release()


def test_the_emulator_takes_the_same_spec_overrides_as_the_provider():
    import requests

    from apunto_connect.errors import ConfigurationError
    from apunto_connect.sandbox.adapter import SandboxAdapter

    overrides = {"field.list_rows": "Lista", "field.row_total": "importeTotal"}
    emulator = EnlaceFiscalEmulator(seed=5, spec=overrides)
    adapter = SandboxAdapter({"enlace_fiscal": emulator})
    session = requests.Session()
    for prefix in adapter.prefixes():
        session.mount(prefix, adapter)
    provider = EnlaceFiscalProvider(
        **EnlaceFiscalEmulator.demo_credentials, **emulator.provider_options(),
        session=session, spec=overrides,
    )
    stamped = provider.stamp(invoice(folio="1"))
    (row,) = provider.list()
    assert (row.id, row.total) == (stamped.id, stamped.total)  # read under the renamed fields
    with pytest.raises(ConfigurationError, match="unknown enlace_fiscal spec keys"):
        EnlaceFiscalEmulator(spec={"field.list_row": "Lista"})
