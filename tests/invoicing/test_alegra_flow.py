"""Alegra end to end on the offline sandbox: check, stamp, get, download, cancel, list, batches."""

from __future__ import annotations

from decimal import Decimal
from functools import partial

import pytest

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse
from apunto_connect.errors import (
    InsufficientCredits,
    NotFound,
    StampRejected,
    Timeout,
    ValidationError,
)
from apunto_connect.invoicing.alegra import AlegraProvider
from apunto_connect.models.invoices import (
    CancellationStatus,
    CancelMotive,
    InvoiceStatus,
    LineItem,
    Tax,
)
from apunto_connect.models.parties import Customer
from apunto_connect.sandbox import SandboxClock
from tests.factories import fixture_invoice

START = 1_772_467_200  # 2026-03-02 10:00 in Mexico City


sample_invoice = partial(fixture_invoice, "alegra/invoice.json")


@pytest.fixture
def sandbox():
    with Sandbox(seed=11, vendors=["alegra"], clock=SandboxClock(start=START)) as sb:
        yield sb


@pytest.fixture
def alegra(sandbox) -> AlegraProvider:
    return sandbox.invoice_provider("alegra")


def test_full_flow_check_stamp_get_download_cancel_list(sandbox, alegra):
    status = alegra.check_connection()
    assert status.ok and status.account == "ESCUELA KEMPER URGATE (EKU9003173C9)"

    invoice = sample_invoice()
    stamped = alegra.stamp(invoice, idempotency_key="order-4471")
    assert stamped.uuid and stamped.status is InvoiceStatus.ACTIVE
    assert stamped.total == invoice.total == Decimal("23331.04")
    assert (stamped.series, stamped.folio) == ("F", "1001")

    fetched = alegra.get(stamped.id)
    assert fetched.uuid == stamped.uuid and fetched.total == stamped.total
    assert alegra.get(stamped.uuid.lower()).id == stamped.id  # a UUID works as a reference

    xml = alegra.download(stamped.id, "xml")
    cfdi = parse(xml)
    assert cfdi.uuid == stamped.uuid
    assert cfdi.total == stamped.total
    assert cfdi.receiver.rfc == "EKU9003173C9"
    assert [c.product_code for c in cfdi.concepts] == ["78101802", "78141500"]
    pdf = alegra.download(stamped.id, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000

    cancellation = alegra.cancel(stamped.id, CancelMotive.WITHOUT_RELATION)
    assert cancellation.status is CancellationStatus.CANCELLED
    assert cancellation.uuid == stamped.uuid
    assert alegra.get(stamped.id).status is InvoiceStatus.CANCELLED

    listed = list(alegra.list())
    assert [i.id for i in listed] == [stamped.id]
    assert listed[0].status is InvoiceStatus.CANCELLED
    assert sandbox.emulator("alegra").invoices[stamped.id].acuse is not None


def test_customer_items_and_taxes_are_registered_once_and_reused(sandbox, alegra):
    emulator = sandbox.emulator("alegra")
    taxes_before = len(emulator.taxes) + len(emulator.retentions)
    alegra.stamp(sample_invoice(folio="1"))
    alegra.stamp(sample_invoice(folio="2"))
    assert len(emulator.contacts) == 1
    assert len(emulator.items) == 2
    assert {i["productKey"] for i in emulator.items.values()} == {"78101802", "78141500"}
    assert len(emulator.taxes) + len(emulator.retentions) == taxes_before  # seeded ones fit
    # A new provider (another process) finds them in Alegra instead of duplicating them.
    again = sandbox.invoice_provider("alegra")
    again.stamp(sample_invoice(folio="3"))
    assert len(emulator.contacts) == 1 and len(emulator.items) == 2


def test_a_missing_tax_is_created_and_a_changed_customer_is_updated(sandbox, alegra):
    emulator = sandbox.emulator("alegra")
    alegra.stamp(sample_invoice(folio="1"))
    invoice = sample_invoice(folio="2")
    line = LineItem(
        "84111506", "E48", "Honorarios de agencia aduanal", 1, "5000",
        taxes=[Tax.iva(), Tax.isr_withholding("0.10"), Tax.iva_withholding("0.106667")],
        name="Honorarios",
    )
    moved = Customer(
        rfc="XIQB891116QE4", legal_name="BERENICE XIMO QUEZADA", tax_regime="612",
        zip_code="01000",
    )
    fresh = sandbox.invoice_provider("alegra")
    stamped = fresh.stamp(invoice.with_changes(customer=moved, items=[line]))
    assert any(r["name"] == "Ret. IVA 10.6667%" for r in emulator.retentions.values())
    assert stamped.total == Decimal("5000") + Decimal("800") - Decimal("500") - Decimal("533.34")
    cfdi = parse(fresh.download(stamped.id, "xml"))
    assert cfdi.total == stamped.total

    changed = moved.__class__(
        rfc=moved.rfc, legal_name=moved.legal_name, tax_regime="626", zip_code="06600"
    )
    sandbox.invoice_provider("alegra").stamp(
        invoice.with_changes(customer=changed, items=[line], folio="3")
    )
    contact = next(c for c in emulator.contacts.values() if c["identification"] == moved.rfc)
    assert contact["regime"] == "REGIME_OF_TRUST" and contact["address"]["zipCode"] == "06600"
    assert contact["regimeObject"] == ["REGIME_OF_TRUST"]


def test_files_appear_after_a_delay_and_download_waits_for_them(sandbox, alegra):
    emulator = sandbox.emulator("alegra")
    emulator.file_delay = 6.0
    stamped = alegra.stamp(sample_invoice())
    assert alegra.file_urls(stamped.id) == {}
    started = sandbox.clock.now()
    pdf = alegra.download(stamped.id, "pdf")
    assert pdf.startswith(b"%PDF")
    assert 6.0 <= sandbox.clock.now() - started <= 8.0  # polled once a second, no real sleep


def test_download_gives_up_after_the_bounded_wait(sandbox):
    provider = sandbox.invoice_provider("alegra", file_wait=5.0)
    sandbox.emulator("alegra").file_delay = 3600
    stamped = provider.stamp(sample_invoice())
    with pytest.raises(Timeout, match="not ready after 5s"):
        provider.download(stamped.id, "xml")


def test_stamp_many_uses_batches_of_ten_and_reports_each_invoice(sandbox, alegra):
    emulator = sandbox.emulator("alegra")
    good = [sample_invoice(folio=str(2000 + n)) for n in range(11)]
    wrong_name = sample_invoice(
        folio="2999",
        customer=Customer(
            rfc="EKU9003173C9", legal_name="ESCUELA KEMPLER URGATE",
            tax_regime="601", zip_code="26015",
        ),
    )
    outcomes = alegra.stamp_many([*good[:5], wrong_name, *good[5:]])
    assert [o.ok for o in outcomes] == [True] * 5 + [False] + [True] * 6
    rejected = outcomes[5]
    assert isinstance(rejected.error, StampRejected) and rejected.error.sat_code == "CFDI40145"
    assert rejected.id is not None and emulator.invoices[rejected.id].document is None
    assert len({o.stamped.uuid for o in outcomes if o.stamped}) == 11
    assert len(emulator.stamped_invoices()) == 11


def test_sat_rejection_reaches_the_caller_verbatim(alegra):
    wrong = sample_invoice(
        customer=Customer(
            rfc="EKU9003173C9", legal_name="ESCUELA KEMPER URGATE", tax_regime="601",
            zip_code="01000",
        )
    )
    with pytest.raises(StampRejected) as info:
        alegra.stamp(wrong)
    assert info.value.sat_code == "CFDI40147"
    assert info.value.message.startswith("Error al timbrar: CFDI40147 - El campo DomicilioFiscal")
    assert info.value.status_code == 400


def test_no_stamps_left_is_insufficient_credits(sandbox, alegra):
    sandbox.emulator("alegra").stamps_left = 0
    with pytest.raises(InsufficientCredits, match="No tienes timbres"):
        alegra.stamp(sample_invoice())


def test_a_plan_without_api_and_wrong_credentials_show_in_check_connection(sandbox):
    emulator = sandbox.emulator("alegra")
    wrong = sandbox.invoice_provider("alegra", token="not-the-token")
    status = wrong.check_connection()
    assert not status.ok and status.detail == "Usuario o token de acceso inválido"
    emulator.plan = "PYME"
    status = sandbox.invoice_provider("alegra").check_connection()
    assert not status.ok and "plan" in status.detail


def test_unknown_ids_and_uuids_are_not_found(alegra):
    with pytest.raises(NotFound, match="No se encontró la factura con id 999"):
        alegra.get("999")
    with pytest.raises(NotFound, match="UUID"):
        alegra.get("6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B")


def test_motive_01_replacement_uuid_reaches_the_acuse(sandbox, alegra):
    first = alegra.stamp(sample_invoice(folio="1"))
    second = alegra.stamp(sample_invoice(folio="2"))
    cancellation = alegra.cancel(first.id, CancelMotive.WITH_RELATION, second.uuid)
    assert cancellation.replacement_uuid == second.uuid
    acuse = sandbox.emulator("alegra").invoices[first.id].acuse
    assert second.uuid.encode() in acuse and b'Motivo="01"' in acuse


def test_list_pages_through_more_than_one_page_with_filters(sandbox, alegra):
    ids = [alegra.stamp(sample_invoice(folio=str(n))).id for n in range(1, 6)]
    alegra.cancel(ids[1], CancelMotive.NOT_CARRIED_OUT)
    assert [i.id for i in alegra.list(page_size=2)] == ids
    open_ids = [i.id for i in alegra.list(status=InvoiceStatus.ACTIVE, page_size=2)]
    assert open_ids == [ids[0], *ids[2:]]


def test_an_idempotency_key_returns_the_first_invoice_from_a_new_process(sandbox, alegra):
    first = alegra.stamp(sample_invoice(), idempotency_key="order-4471")
    restarted = sandbox.invoice_provider("alegra")  # nothing remembered in memory
    again = restarted.stamp(sample_invoice(), idempotency_key="order-4471")
    assert again.id == first.id and again.uuid == first.uuid
    assert len(sandbox.emulator("alegra").stamped_invoices()) == 1


def test_a_refused_stamp_leaves_alegras_draft_and_the_same_key_stamps_that_draft(sandbox, alegra):
    emulator = sandbox.emulator("alegra")
    emulator.stamps_left = 0
    with pytest.raises(InsufficientCredits):
        alegra.stamp(sample_invoice(), idempotency_key="order-4471")
    (draft,) = emulator.invoices.values()  # Alegra kept the refused invoice as a draft
    assert draft.status == "draft" and draft.document is None
    emulator.stamps_left = None
    again = sandbox.invoice_provider("alegra").stamp(sample_invoice(), idempotency_key="order-4471")
    assert again.id == draft.id and again.uuid  # the draft was stamped, no second invoice
    assert len(emulator.invoices) == 1 and len(emulator.stamped_invoices()) == 1


def test_the_loopback_server_serves_the_same_flow(sandbox):
    server = sandbox.serve()
    provider = AlegraProvider(
        **sandbox.emulator("alegra").demo_credentials,
        base_url=server.base_url("alegra"),
        sleep=sandbox.clock.sleep,
        clock=sandbox.clock.now,
    )
    try:
        stamped = provider.stamp(sample_invoice())
        urls = {}
        for _ in range(5):
            urls = provider.file_urls(stamped.id)
            if urls:
                break
            sandbox.clock.advance(1)
        assert urls["pdf"].startswith(server.base_url("alegra") + "/files/")
        assert parse(provider.download(stamped.id, "xml")).uuid == stamped.uuid
    finally:
        provider.release()


def test_stamp_validates_with_the_sat_rules_before_the_network(sandbox, alegra):
    bad = sample_invoice(
        customer=Customer(rfc="NOT-AN-RFC", legal_name="X", tax_regime="601", zip_code="1")
    )
    with pytest.raises(ValidationError):
        alegra.stamp(bad)
    assert sandbox.emulator("alegra").invoices == {}


def test_two_threads_with_one_key_issue_one_cfdi(sandbox, alegra):
    import threading

    results = []

    def worker() -> None:
        results.append(alegra.stamp(sample_invoice(), idempotency_key="order-77"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len({r.uuid for r in results}) == 1 and len(results) == 4
    assert len(sandbox.emulator("alegra").stamped_invoices()) == 1


def test_the_issuer_rfc_comes_from_the_account(alegra):
    alegra.check_connection()
    assert alegra.stamp(sample_invoice()).issuer_rfc == "EKU9003173C9"


def test_unknown_list_filters_are_refused_before_any_request(sandbox, alegra):
    with pytest.raises(ValidationError, match="unknown Alegra list filter"):
        alegra.list(colour="blue")
    assert list(alegra.list(client_id="999", date_start="2026-01-01")) == []
