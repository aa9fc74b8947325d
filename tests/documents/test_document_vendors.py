"""Credit notes, global invoices and refusals through every vendor's one stamp() call."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse, read_document
from apunto_connect.errors import UnsupportedOperation, ValidationError
from apunto_connect.invoicing.documents import document_capability
from apunto_connect.models import (
    CartaPorteInvoice,
    CreditNote,
    Customer,
    Invoice,
    Issuer,
    LineItem,
    PaymentReceipt,
    RelatedDocuments,
    Tax,
    Ticket,
    global_invoice,
)
from apunto_connect.models.common import Capability
from apunto_connect.models.payments import PaidDocument, Payment
from tests.documents.waybill import sandbox_trip, waybill_for

VENDORS = ["facturama", "enlace_fiscal", "alegra", "contadigital", "actiun"]
CUSTOMER = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")
UUID = "6F35D3B5-3651-5370-BC2C-14CDBE384CD7"


def _count_requests(sb: Sandbox, vendor: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    emulator = sb.emulator(vendor)
    seen: list[str] = []
    original = emulator.handle

    def counting(request: Any) -> Any:
        seen.append(f"{request.method} {request.path}")
        return original(request)

    monkeypatch.setattr(emulator, "handle", counting)
    return seen


def _documents() -> dict[Capability, Any]:
    receipt = PaymentReceipt(
        customer=CUSTOMER,
        payments=[Payment(datetime(2026, 11, 20, 12), "03", "1160", [
            PaidDocument(UUID, "1160", "1160", taxes=())])],
    )
    note = CreditNote.discount(CUSTOMER, [UUID], "500")
    issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
    today = datetime.now()
    tickets = [Ticket.from_total(f"T-{n:03d}", Decimal("99.99") + n) for n in range(3)]
    global_one = global_invoice(tickets, periodicity="04", months=f"{today.month:02d}",
                                year=today.year, issuer=issuer)
    return {
        Capability.PAYMENT_RECEIPT: receipt,
        Capability.CREDIT_NOTE: note,
        Capability.CARTA_PORTE: CartaPorteInvoice(
            Invoice(customer=CUSTOMER, payment_form="03", items=[
                LineItem("78101802", "E48", "Flete", 1, "25000", taxes=[Tax.iva()])]),
            waybill_for()),
        Capability.GLOBAL_INVOICE: global_one,
    }


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_kind_the_vendor_cannot_issue_is_refused_before_any_request(
    vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(vendors=[vendor], seed=3) as sb:
        provider = sb.invoice_provider(vendor)
        seen = _count_requests(sb, vendor, monkeypatch)
        refused = 0
        for capability, document in _documents().items():
            assert document_capability(document) is capability
            if capability in provider.capabilities:
                continue
            with pytest.raises(UnsupportedOperation) as info:
                provider.stamp(document, idempotency_key=f"k-{capability.value}")
            assert capability.value in str(info.value)
            batch = provider.stamp_many([document], idempotency_keys=[f"b-{capability.value}"])
            assert isinstance(batch.results()[0].error, UnsupportedOperation)
            refused += 1
        assert seen == []  # nothing reached the vendor
        assert provider.journal_record("k-credit_note") is None or refused == 0
    assert refused >= (0 if vendor in ("facturama",) else 1)


def test_the_vendor_matrix_is_what_the_providers_declare() -> None:
    expected = {
        "facturama": {Capability.PAYMENT_RECEIPT, Capability.CREDIT_NOTE,
                      Capability.CARTA_PORTE, Capability.GLOBAL_INVOICE},
        "enlace_fiscal": {Capability.PAYMENT_RECEIPT, Capability.CREDIT_NOTE,
                          Capability.GLOBAL_INVOICE},
        "alegra": set(),
        "contadigital": set(),
        "actiun": set(),
    }
    kinds = {Capability.PAYMENT_RECEIPT, Capability.CREDIT_NOTE, Capability.CARTA_PORTE,
             Capability.GLOBAL_INVOICE}
    with Sandbox(vendors=VENDORS) as sb:
        for vendor, wanted in expected.items():
            assert set(sb.invoice_provider(vendor).capabilities) & kinds == wanted, vendor


@pytest.mark.parametrize("field", ["related", "global_info"])
def test_actiun_refuses_what_it_would_drop_before_any_request(
    field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = Invoice(customer=CUSTOMER, payment_form="03", items=[
        LineItem("78101802", "E48", "Flete", 1, "1000", taxes=[Tax.iva()])])
    if field == "related":
        invoice = invoice.with_changes(related=[RelatedDocuments("04", [UUID])])
    with Sandbox(vendors=["actiun"], seed=4) as sb:
        provider = sb.invoice_provider("actiun")
        seen = _count_requests(sb, "actiun", monkeypatch)
        if field == "related":
            codes = {issue.code for issue in provider.preflight(invoice)}
            assert "ACTIUN-RELATED" in codes
            with pytest.raises(ValidationError) as info:
                provider.stamp(invoice)
            assert any(issue.field == "related" for issue in info.value.issues)
        else:
            issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
            today = datetime.now()
            public = global_invoice([Ticket.from_total("T-1", "116")], periodicity="04",
                                    months=f"{today.month:02d}", year=today.year, issuer=issuer)
            codes = {issue.code for issue in provider.preflight(public)}
            assert "ACTIUN-GLOBAL" in codes
            with pytest.raises(UnsupportedOperation):
                provider.stamp(public)
        assert seen == []


CREDIT_VENDORS = ["facturama", "enlace_fiscal"]


@pytest.mark.parametrize("vendor", CREDIT_VENDORS)
def test_a_credit_note_related_to_a_stamped_invoice(vendor: str, sat_schema: Any) -> None:
    with Sandbox(vendors=[vendor], seed=5) as sb:
        provider = sb.invoice_provider(vendor)
        seen: list[Any] = []
        provider.events.subscribe(seen.append)
        invoice = Invoice(customer=CUSTOMER, folio="5101", payment_form="03", items=[
            LineItem("78101802", "E48", "Flete terrestre", 1, "10000", taxes=[Tax.iva()],
                     unit_name="Servicio", sku="FLETE", name="Flete terrestre")])
        stamped = provider.stamp(invoice, idempotency_key=f"{vendor}-inv-5101")
        note = CreditNote.discount(CUSTOMER, [stamped.uuid], "500", folio="5102")
        done = provider.stamp(note, idempotency_key=f"{vendor}-nc-5102")
        xml = provider.download(done.id, "xml")
        sat_schema.assertValid(etree.fromstring(xml))
        back = read_document(xml)
        assert isinstance(back, CreditNote)
        assert back.related_uuids == (stamped.uuid.upper(),) or back.related_uuids == (
            stamped.uuid,)
        assert parse(xml).total == Decimal("580.00")
        assert [e.type for e in seen].count("credit_note.stamped") == 1


GLOBAL_VENDORS = ["facturama", "enlace_fiscal"]


@pytest.mark.parametrize("vendor", GLOBAL_VENDORS)
def test_a_global_invoice_of_30_store_orders_ends_at_their_sum(
    vendor: str, sat_schema: Any
) -> None:
    # Tax-included store totals: each ticket's IVA is what the store charged (inside the SAT's
    # tolerance, not always the rounded base × rate), so the CFDI must keep it as sent.
    orders = [Decimal("215.65") + Decimal(n) * Decimal("37.13") for n in range(30)]
    tickets = [Ticket.from_total(f"W-{1000 + n}", total, payment_form="04")
               for n, total in enumerate(orders)]
    assert any(t.tax != (t.subtotal * Decimal("0.16")).quantize(Decimal("0.01"))
               for t in tickets)  # at least one tax differs from the recomputed one
    with Sandbox(vendors=[vendor], seed=6) as sb:
        provider = sb.invoice_provider(vendor)
        issuer = _account_issuer(sb, vendor)
        today = datetime.now()
        public = global_invoice(tickets, periodicity="04", months=f"{today.month:02d}",
                                year=today.year, issuer=issuer, folio="6001")
        assert public.total == sum(orders)
        stamped = provider.stamp(public, idempotency_key=f"{vendor}-global-6001")
        xml = provider.download(stamped.id, "xml")
        sat_schema.assertValid(etree.fromstring(xml))
        cfdi = parse(xml)
        assert cfdi.total == sum(orders)
        assert len(cfdi.concepts) == 30


def _account_issuer(sb: Sandbox, vendor: str) -> Issuer:
    if vendor == "enlace_fiscal":
        from apunto_connect.sandbox.enlace_fiscal import DEMO_ISSUER

        return DEMO_ISSUER
    provider: Any = sb.invoice_provider(vendor)
    issuer: Issuer = provider.account_issuer()
    return issuer


def test_a_carta_porte_from_a_sandbox_controlt_trip_stamps_at_facturama(sat_schema: Any) -> None:
    with Sandbox(vendors=["facturama", "controlt"], seed=8) as sb:
        trip = sandbox_trip(sb)
        waybill = waybill_for(trip)
        assert waybill.truck.plate == "JAL1234"  # the trip's truck, dashes removed
        provider = sb.invoice_provider("facturama")
        freight = Invoice(customer=CUSTOMER, folio="8101", payment_form="03", items=[
            LineItem("78101802", "E48", "Flete Manzanillo - Querétaro", 1, "25000",
                     taxes=[Tax.iva(), Tax.iva_withholding("0.04")], unit_name="Servicio",
                     sku="FLETE", name="Flete terrestre")])
        stamped = provider.stamp(CartaPorteInvoice(freight, waybill),
                                 idempotency_key="facturama-ccp-8101")
        xml = provider.download(stamped.id, "xml")
        sat_schema.assertValid(etree.fromstring(xml))
        back = read_document(xml)
        assert isinstance(back, CartaPorteInvoice)
        assert back.carta_porte.id_ccp == waybill.id_ccp
        assert back.carta_porte.truck.plate == "JAL1234"
        assert back.carta_porte.total_distance == Decimal("520")
        assert parse(xml).total == Decimal("28000.00")


def _store_order(folio: str | None) -> Invoice:
    # A Shopify line: base 185.91, IVA charged 29.74 (185.91 × 0.16 = 29.7456 rounds to 29.75,
    # but 29.74 is inside the SAT's tolerance for that base).
    return Invoice(customer=CUSTOMER, folio=folio, payment_form="04", items=[
        LineItem("78101802", "E48", "Envío", 1, "185.91", taxes=[Tax.iva(amount=Decimal("29.74"))],
                 unit_name="Servicio", sku="ENVIO", name="Envío")])


@pytest.mark.parametrize("vendor", GLOBAL_VENDORS)
def test_a_line_tax_inside_the_tolerance_is_stamped_as_charged(vendor: str) -> None:
    with Sandbox(vendors=[vendor], seed=9) as sb:
        provider = sb.invoice_provider(vendor)
        stamped = provider.stamp(_store_order("9101"))
        cfdi = parse(provider.download(stamped.id, "xml"))
        assert cfdi.total == Decimal("215.65")  # the order's total, not one cent over


def test_actiun_refuses_a_tax_it_would_recompute_before_any_request(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(vendors=["actiun"], seed=10) as sb:
        provider = sb.invoice_provider("actiun")
        seen = _count_requests(sb, "actiun", monkeypatch)
        with pytest.raises(ValidationError) as info:
            provider.stamp(_store_order(None))
        assert [i.code for i in info.value.issues if i.severity.value == "error"] == [
            "ACTIUN-TAX-AMOUNT"]
        assert seen == []
