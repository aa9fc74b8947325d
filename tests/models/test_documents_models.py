"""Carta Porte from a trip, the factura global and credit notes, as models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from apunto_connect.errors import ValidationError
from apunto_connect.models import (
    CreditNote,
    CreditNoteReason,
    InvoiceKind,
    Ticket,
    WaybillGoods,
    WaybillLocation,
    WaybillTruck,
    carta_porte_from_trip,
    global_invoice,
)

from .documents_fixtures import CUSTOMER, INVOICE_UUID, ISSUER, carta_porte_invoice, land_trip


def test_carta_porte_takes_the_trip_facts() -> None:
    cp = carta_porte_invoice().carta_porte
    origin, destination = cp.locations
    assert (origin.at, destination.at) == (datetime(2026, 11, 2, 8), datetime(2026, 11, 3, 18))
    assert (origin.name, destination.name) == ("Guadalajara", "Monterrey")
    assert (cp.truck.plate, cp.truck.trailers[0].plate) == ("ABC123D", "1AB2345")
    assert cp.figures[0].name == "Juan Pérez" and cp.figures[0].license == "LIC123456"
    assert cp.total_distance == Decimal("850") and cp.gross_weight == Decimal("1200")


def test_a_trip_without_dates_or_driver_is_refused_naming_the_field() -> None:
    trip = attrs.evolve(land_trip(), activated_at=None, created_at=None)
    arguments = dict(
        goods=[WaybillGoods("24112700", "Tarimas", 1, "H87", "10")],
        origin=WaybillLocation("Origen", "EKU9003173C9", None, "44100", "JAL"),
        destination=WaybillLocation("Destino", "URE180429TM6", None, "64000", "NLE", distance=1),
        truck=WaybillTruck("TPAF01", "X1", "C2", "10", "", 2022, "A", "B"),
        operator_rfc="PEGJ800101AB1",
    )
    with pytest.raises(ValidationError) as caught:
        carta_porte_from_trip(trip, **arguments)  # type: ignore[arg-type]
    assert caught.value.issues[0].field == "origin.at"
    with pytest.raises(ValidationError) as caught:
        carta_porte_from_trip(attrs.evolve(land_trip(), assignment=None), **arguments)  # type: ignore[arg-type]
    assert caught.value.issues[0].field == "truck.plate"


def test_new_id_ccp_has_the_sat_shape() -> None:
    import re

    id_ccp = carta_porte_invoice().carta_porte.id_ccp
    assert re.fullmatch(r"CCC[0-9A-F]{5}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", id_ccp)
    from apunto_connect.models import new_id_ccp

    assert new_id_ccp() != new_id_ccp()


def test_global_invoice_keeps_each_ticket_tax_and_the_sum() -> None:
    # 185.91 base with 29.74 tax: inside the SAT's bounds, kept as charged
    tickets = [Ticket("A1", "185.91", "29.74"), Ticket.from_total("A2", "116.00")]
    invoice = global_invoice(tickets, periodicity="01", months="11", year=2026, issuer=ISSUER)
    assert invoice.total == Decimal("215.65") + Decimal("116.00")
    assert invoice.customer.rfc == "XAXX010101000" and invoice.customer.zip_code == "42501"
    assert invoice.payment_form == "01"


def test_global_invoice_refuses_a_tax_no_rounding_explains() -> None:
    with pytest.raises(ValidationError) as caught:
        global_invoice([Ticket("A1", "100.00", "16.50")], periodicity="01", months="11",
                       year=2026, issuer=ISSUER)
    assert caught.value.issues[0].field == "tickets[0].tax"
    with pytest.raises(ValidationError):
        global_invoice([], periodicity="01", months="11", year=2026, issuer=ISSUER)


def test_global_invoice_payment_form_is_the_one_that_collected_most() -> None:
    tickets = [Ticket.from_total("1", "10", payment_form="01"),
               Ticket.from_total("2", "500", payment_form="04")]
    invoice = global_invoice(tickets, periodicity="01", months="11", year=2026, issuer=ISSUER)
    assert invoice.payment_form == "04"


def test_credit_note_is_an_egreso_related_by_its_reason() -> None:
    note = CreditNote.discount(CUSTOMER, [INVOICE_UUID.lower()], "100", issuer=ISSUER,
                               reason=CreditNoteReason.RETURN)
    host = note.to_invoice()
    assert host.kind is InvoiceKind.EXPENSE
    assert [(g.relation_type, g.uuids) for g in host.related] == [("03", (INVOICE_UUID,))]
    assert (host.payment_form, host.effective_cfdi_use, note.total) == ("15", "G02",
                                                                       Decimal("116.00"))
    advance = attrs.evolve(note, reason=CreditNoteReason.ADVANCE_APPLIED)
    assert advance.effective_payment_form == "30"


def test_the_new_event_types_are_registered() -> None:
    from apunto_connect import events

    assert {events.PAYMENT_STAMPED, events.CREDIT_NOTE_STAMPED, events.INVOICE_PAID,
            events.CUSTOMER_CREATED} <= events.EVENT_TYPES
    assert events.INVOICE_PAID == "invoice.paid"


def test_payment_receipts_from_payable_invoices_need_no_xml() -> None:
    from apunto_connect.models import PayableInvoice, PaymentReceipt

    payable = PayableInvoice(INVOICE_UUID, "1160.00", taxes=())
    receipt = PaymentReceipt.for_invoices([payable], amount="160", form="01", customer=CUSTOMER,
                                          paid_at=datetime(2026, 11, 2))
    document = receipt.documents[0]
    assert (document.tax_object, document.remaining_balance) == ("01", Decimal("1000.00"))
    with pytest.raises(ValidationError) as caught:
        PaymentReceipt.for_invoices([payable], amount="1", form="01",
                                    paid_at=datetime(2026, 11, 2))
    assert caught.value.issues[0].field == "customer"
