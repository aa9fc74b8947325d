"""The one stamping path: pre-flight, conflicts, unknown outcomes and the transactional outbox."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apunto_connect import Sandbox
from apunto_connect.errors import Conflict, NotFound, StampOutcomeUnknown, Timeout, ValidationError
from apunto_connect.journal import StampState
from apunto_connect.models import Customer
from apunto_connect.sandbox import Fault, FaultKind
from apunto_connect.webhooks import WebhookSender
from tests.exactly_once.stamp_worker import VENDORS, invoice_for


@pytest.mark.parametrize("vendor", VENDORS)
def test_preflight_gives_the_same_answer_before_and_after_stamping(vendor: str) -> None:
    # The razón social carries its régimen capital: the SAT refuses it (CFDI40145).
    bad = invoice_for("801").with_changes(customer=Customer(
        "EKU9003173C9", "ESCUELA KEMPER URGATE, S.A. DE C.V.", "601", "26015"))
    with Sandbox(vendors=[vendor], seed=1) as sb:
        provider = sb.invoice_provider(vendor)
        first = provider.preflight(bad)
        provider.stamp(invoice_for("802"), idempotency_key="warm-up")  # fetches account data
        answers = [provider.preflight(bad) for _ in range(10)]
    assert first and all(answer == first for answer in answers)
    assert len(first) == len(set(first))  # a rule both layers check is reported once


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_key_reused_for_another_invoice_is_a_conflict_and_sends_nothing(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=2) as sb:
        provider = sb.invoice_provider(vendor)
        provider.stamp(invoice_for("803"), idempotency_key="order-1")
        with pytest.raises(Conflict, match="different invoice"):
            provider.stamp(invoice_for("804"), idempotency_key="order-1")
        assert len(sb.emulator(vendor).issued_uuids()) == 1


def test_an_empty_key_is_refused_before_any_call() -> None:
    with Sandbox(vendors=["facturama"]) as sb, pytest.raises(ValidationError) as info:
        sb.invoice_provider("facturama").stamp(invoice_for("805"), idempotency_key=" ")
    assert info.value.issues[0].field == "idempotency_key"


def late(vendor: str, seconds: float) -> Fault:
    return Fault(FaultKind.LATE_COMMIT, vendor=vendor, method="POST", path="*/cfdis",
                 latency=seconds)


def test_unknown_outcome_names_the_way_out_and_resolve_settles_it() -> None:
    with Sandbox(vendors=["facturama"], faults=[late("facturama", 0.5)]) as sb:
        provider = sb.invoice_provider("facturama", timeout=(1, 0.1))
        with pytest.raises(Timeout) as first:
            provider.stamp(invoice_for("806"), idempotency_key="order-806")
        assert first.value.request_sent
        with pytest.raises(StampOutcomeUnknown) as info:
            provider.stamp(invoice_for("806"), idempotency_key="order-806")
        unknown = info.value
        assert unknown.key == "order-806" and unknown.record.state is StampState.UNKNOWN
        assert 0 < unknown.retry_after <= provider.settle_seconds
        assert "resolve" in str(unknown) and "resend=True" in str(unknown)

        time.sleep(0.6)  # the vendor commits; an operator finds the CFDI in the portal
        (uuid,) = sb.emulator("facturama").issued_uuids()
        record = provider.resolve("order-806", uuid=uuid)
        assert record.state is StampState.STAMPED and record.uuid == uuid
        posts = len([f for f in sb.faults.fired])
        again = provider.stamp(invoice_for("806"), idempotency_key="order-806")
        assert again.uuid == uuid and len(sb.faults.fired) == posts
        assert sb.emulator("facturama").issued_uuids() == [uuid]


def test_resend_sends_again_and_takes_the_risk_knowingly() -> None:
    with Sandbox(vendors=["facturama"], faults=[late("facturama", 0.3)]) as sb:
        provider = sb.invoice_provider("facturama", timeout=(1, 0.1))
        with pytest.raises(Timeout):
            provider.stamp(invoice_for("807"), idempotency_key="order-807")
        with pytest.raises(StampOutcomeUnknown):
            provider.stamp(invoice_for("807"), idempotency_key="order-807")
        resent = provider.stamp(invoice_for("807"), idempotency_key="order-807", resend=True)
        time.sleep(0.4)  # the first request commits late: the risk resend=True accepted
        assert resent.uuid in sb.emulator("facturama").issued_uuids()
        assert len(sb.emulator("facturama").issued_uuids()) == 2
        record = provider.journal_record("order-807")
        assert record is not None and record.uuid == resent.uuid and record.attempts == 2


def test_resolve_without_uuid_lets_the_key_send_again() -> None:
    with Sandbox(vendors=["actiun"], seed=3) as sb:
        sb.emulator("actiun").stamping_seconds = 0.1  # type: ignore[attr-defined]
        provider = sb.invoice_provider("actiun")
        provider.stamp(invoice_for("808"), idempotency_key="order-808")
        with pytest.raises(NotFound):
            provider.resolve("unknown-key", uuid=None)
        record = provider.resolve("order-808", uuid=None)
        assert record.state is StampState.FAILED
        provider.stamp(invoice_for("808"), idempotency_key="order-808")
        assert len(sb.emulator("actiun").issued_uuids()) == 2  # the operator said it was not there


@pytest.mark.parametrize("store", ["sqlite", "memory"])
def test_the_stamp_and_its_webhook_delivery_are_recorded_together(store: str, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite3") if store == "sqlite" else None
    with Sandbox(vendors=["facturama"], journal=journal) as sb:
        provider = sb.invoice_provider("facturama")
        sender = WebhookSender(["http://127.0.0.1:9/hook"], "s3cret", outbox=sb.journal,
                               deliver_immediately=False)
        sender.attach(provider)
        stamped = provider.stamp(invoice_for("809"), idempotency_key="order-809")
        # A PUE invoice is paid when stamped: its two events are queued with the stamp (the
        # receiver registered on the way is announced too).
        deliveries = sb.journal.outbox.list()
        assert sorted(d.event_type for d in deliveries) == [
            "customer.created", "invoice.paid", "invoice.stamped"]
        assert all(stamped.uuid in d.body for d in deliveries
                   if d.event_type != "customer.created")
        record = provider.journal_record("order-809")
        assert record is not None and record.state is StampState.STAMPED
        # A repeat answers from the journal: no further event is queued.
        provider.stamp(invoice_for("809"), idempotency_key="order-809")
        assert len(sb.journal.outbox.list()) == 3
        sender.close()
