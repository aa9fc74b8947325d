"""Payment receipts, credit notes, Carta Porte and factura global: XSD-valid XML and back."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from lxml import etree

from apunto_connect.cfdi import build, parse
from apunto_connect.cfdi.documents import read_document
from apunto_connect.models import (
    CartaPorteInvoice,
    CreditNote,
    CreditNoteReason,
    PaymentReceipt,
    Ticket,
    global_invoice,
)

from ..models.documents_fixtures import (
    CUSTOMER,
    INVOICE_UUID,
    ISSUER,
    carta_porte_invoice,
    freight_invoice,
    stamped,
)


def _receipts() -> tuple[PaymentReceipt, PaymentReceipt]:
    invoice = stamped(freight_invoice())
    first = PaymentReceipt.for_invoices([invoice], amount="5000", paid_at=datetime(2026, 11, 20, 12),
                                        form="03", issued_at=datetime(2026, 11, 21, 9), folio="P1")
    second = PaymentReceipt.for_invoices([invoice], amount="6200", paid_at=datetime(2026, 11, 28, 12),
                                         form="03", previous=[first], folio="P2",
                                         issued_at=datetime(2026, 11, 29, 9))
    return first, second


def test_two_payment_receipts_validate_and_parse_back_to_the_cent(
    sat_schema: etree.XMLSchema,
) -> None:
    for receipt in _receipts():
        xml = build(receipt)
        sat_schema.assertValid(etree.fromstring(xml))
        assert read_document(xml) == receipt
    second = parse(build(_receipts()[1]))
    assert second.payments is not None
    document = second.payments.documents[0]
    assert (document.installment, document.previous_balance, document.amount_paid,
            document.remaining_balance) == (2, Decimal("6200.00"), Decimal("6200.00"),
                                            Decimal("0.00"))


def test_the_host_of_a_payment_receipt_is_what_the_sat_requires() -> None:
    root = etree.fromstring(build(_receipts()[0]))
    assert (root.get("TipoDeComprobante"), root.get("Moneda"), root.get("SubTotal"),
            root.get("Total")) == ("P", "XXX", "0", "0")
    assert root.get("FormaPago") is None and root.get("MetodoPago") is None
    receptor = root.find("{http://www.sat.gob.mx/cfd/4}Receptor")
    assert receptor is not None and receptor.get("UsoCFDI") == "CP01"


def test_satcfdi_reads_the_same_payment_totals() -> None:
    import satcfdi.cfdi as satcfdi_cfdi  # the test extra installs satcfdi
    receipt = _receipts()[0]
    theirs = satcfdi_cfdi.CFDI.from_string(build(receipt))["Complemento"]["Pagos"]["Totales"]
    ours = receipt.totals
    assert theirs["MontoTotalPagos"] == ours.total_amount
    assert theirs["TotalTrasladosBaseIVA16"] == ours.base_iva16
    assert theirs["TotalTrasladosImpuestoIVA16"] == ours.iva16
    assert theirs["TotalRetencionesIVA"] == ours.withheld_iva


def test_a_credit_note_relates_to_the_invoice_and_round_trips(
    sat_schema: etree.XMLSchema,
) -> None:
    note = CreditNote.discount(CUSTOMER, [INVOICE_UUID], "500", issuer=ISSUER,
                               issued_at=datetime(2026, 11, 3, 9), folio="NC1")
    xml = build(note)
    sat_schema.assertValid(etree.fromstring(xml))
    cfdi = parse(xml)
    assert cfdi.kind == "E" and cfdi.total == Decimal("580.00")
    assert [(g.relation_type, g.uuids) for g in cfdi.related] == [("01", (INVOICE_UUID,))]
    back = read_document(xml)
    assert isinstance(back, CreditNote)
    assert back.reason is CreditNoteReason.CREDIT_NOTE and back.related_uuids == (INVOICE_UUID,)
    assert back.total == note.total
    assert build(back) == xml  # nothing lost: the same document again


def test_a_carta_porte_from_a_trip_validates_and_round_trips(sat_schema: etree.XMLSchema) -> None:
    document = carta_porte_invoice()
    xml = build(document)
    sat_schema.assertValid(etree.fromstring(xml))
    back = read_document(xml)
    assert isinstance(back, CartaPorteInvoice)
    assert back.carta_porte == document.carta_porte
    assert build(back) == xml
    parsed = parse(xml).carta_porte
    assert parsed is not None
    assert (parsed.version, parsed.vehicle_plate, parsed.total_distance) == (
        "3.1", "ABC123D", Decimal("850"))


def test_a_global_invoice_of_30_orders_totals_their_sum_to_the_cent(
    sat_schema: etree.XMLSchema,
) -> None:
    orders = [Ticket.from_total(f"ORD-{i:03d}", Decimal("99.99") + Decimal(i) * Decimal("7.31"),
                                payment_form="04" if i % 4 else "01")
              for i in range(30)]
    invoice = global_invoice(orders, periodicity="04", months="11", year=2026, issuer=ISSUER,
                             issued_at=datetime(2026, 12, 1, 9))
    xml = build(invoice)
    sat_schema.assertValid(etree.fromstring(xml))
    cfdi = parse(xml)
    assert cfdi.total == sum((o.total for o in orders), Decimal(0))
    assert len(cfdi.concepts) == 30 and cfdi.receiver.rfc == "XAXX010101000"
    assert cfdi.global_info is not None and cfdi.global_info.months == "11"
    assert [c.sku for c in cfdi.concepts][:2] == ["ORD-000", "ORD-001"]
    assert build(read_document(xml)) == xml


def test_payments_across_currencies_validate_and_total_in_mxn(sat_schema: etree.XMLSchema) -> None:
    mxn_invoice = stamped(freight_invoice("1000"))  # 1120.00 MXN
    # 50 USD at 18.50 MXN/USD pays 925.00 MXN of the invoice: EquivalenciaDR 18.5 MXN per USD
    receipt = PaymentReceipt.for_invoices([mxn_invoice], amount="50", currency="USD",
                                          exchange_rate="18.50", equivalences={INVOICE_UUID: "18.5"},
                                          paid_at=datetime(2026, 11, 20, 12), form="03",
                                          issued_at=datetime(2026, 11, 21, 9))
    document = receipt.documents[0]
    assert (document.amount_paid, document.remaining_balance) == (Decimal("925.00"),
                                                                  Decimal("195.00"))
    assert receipt.totals.total_amount == Decimal("925.00")
    xml = build(receipt)
    sat_schema.assertValid(etree.fromstring(xml))
    assert read_document(xml) == receipt
    pago = etree.fromstring(xml).find(".//{http://www.sat.gob.mx/Pagos20}Pago")
    assert pago is not None
    assert (pago.get("MonedaP"), pago.get("TipoCambioP"), pago.get("Monto")) == ("USD", "18.5",
                                                                                  "50.00")
