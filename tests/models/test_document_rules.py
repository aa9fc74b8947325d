"""Pre-flight rules of payment receipts (CRP) and Carta Porte (CCP): one case per rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from apunto_connect import sat
from apunto_connect.errors import Severity, ValidationError
from apunto_connect.models import (
    CartaPorteInvoice,
    CreditNote,
    InvoiceKind,
    PaymentReceipt,
    WaybillFigure,
    WaybillTrailer,
)

from .documents_fixtures import (
    CUSTOMER,
    INVOICE_UUID,
    ISSUER,
    carta_porte_invoice,
    freight_invoice,
    stamped,
)


def _receipt() -> PaymentReceipt:
    return PaymentReceipt.for_invoices(
        [stamped(freight_invoice())], amount="5000", paid_at=datetime(2026, 11, 20, 12),
        form="03", issued_at=datetime(2026, 11, 21, 9))


def _with_payment(receipt: PaymentReceipt, **changes: object) -> PaymentReceipt:
    return attrs.evolve(receipt, payments=[attrs.evolve(receipt.payments[0], **changes)])


def _with_document(receipt: PaymentReceipt, **changes: object) -> PaymentReceipt:
    payment = receipt.payments[0]
    document = attrs.evolve(payment.documents[0], **changes)
    return _with_payment(receipt, documents=[document])


def _errors(document: object) -> set[str]:
    # Fixed dates in the fixtures: the 72-hour window is another rule's business.
    found = sat.preflight(document, date_window=None)  # type: ignore[arg-type]
    return {i.code for i in found if i.severity is Severity.ERROR}


def test_valid_documents_have_no_errors() -> None:
    assert _errors(_receipt()) == set()
    assert _errors(carta_porte_invoice()) == set()
    assert _errors(CreditNote.discount(CUSTOMER, [INVOICE_UUID], "100", issuer=ISSUER)) == set()
    sat.check(_receipt(), date_window=None)  # does not raise


PAYMENT_CASES: list[tuple[str, Callable[[PaymentReceipt], PaymentReceipt]]] = [
    ("CRP20201", lambda r: _with_payment(r, form="99")),
    ("CRP20202", lambda r: _with_payment(r, currency="XXX")),
    ("CRP20203", lambda r: _with_payment(r, currency="USD")),
    ("CRP20204", lambda r: _with_payment(r, exchange_rate="17.5")),
    ("CRP20205", lambda r: _with_payment(r, amount="0")),
    ("CRP20206", lambda r: _with_payment(r, amount="5000.001")),
    ("CRP20207", lambda r: _with_payment(r, amount="4000")),
    ("CRP20211", lambda r: _with_payment(r, form="01", payer_bank_rfc="BSM970519DU8")),
    ("CRP20213", lambda r: _with_payment(r, form="01", payer_account="1234567890")),
    ("CRP20215", lambda r: _with_payment(r, form="01", payee_bank_rfc="BSM970519DU8")),
    ("CRP20217", lambda r: _with_payment(r, form="01", payee_account="1234567890")),
    ("CRP20219", lambda r: _with_document(r, uuid="not-a-uuid")),
    ("CRP20220", lambda r: _with_document(r, currency="XXX")),
    ("CRP20221", lambda r: _with_document(r, equivalence="2")),
    ("CRP20222", lambda r: _with_document(r, currency="USD", equivalence="0")),
    ("CRP20223", lambda r: _with_document(r, installment=0)),
    ("CRP20224", lambda r: _with_document(r, previous_balance="0", amount_paid="0.01")),
    ("CRP20225", lambda r: _with_document(r, amount_paid="0")),
    ("CRP20226", lambda r: _with_document(r, previous_balance="4000")),
    ("CRP20227", lambda r: _with_document(r, amount_paid="4999.999")),
    ("CRP20228", lambda r: _with_document(r, taxes=[])),
    ("CRP20229", lambda r: _with_document(r, tax_object="01")),
    ("CRP20230", lambda r: _with_document(r, tax_object="09")),
    ("CRP20231", lambda r: _with_document(r, taxes=[
        attrs.evolve(t, amount=(t.amount or 0) + Decimal("0.05")) if not t.withholding else t
        for t in r.documents[0].taxes])),
    ("CRP20232", lambda r: _with_payment(r, documents=[*r.documents, *r.documents])),
    ("APUNTO-710", lambda r: _with_payment(r, paid_at=datetime(2026, 11, 22, 9))),
    ("APUNTO-711", lambda r: attrs.evolve(r, payments=[])),
    ("APUNTO-713", lambda r: _with_payment(r, documents=[])),
]


@pytest.mark.parametrize(("code", "mutate"), PAYMENT_CASES, ids=[c for c, _ in PAYMENT_CASES])
def test_each_payment_rule(code: str, mutate: Callable[[PaymentReceipt], PaymentReceipt]) -> None:
    issues = [i for i in sat.preflight(mutate(_receipt())) if i.code == code]
    assert issues, f"{code} not raised"
    assert all(i.message and i.message_es for i in issues)


def test_a_late_receipt_is_a_warning_not_an_error() -> None:
    late = attrs.evolve(_receipt(), issued_at=datetime(2026, 12, 6, 9))
    issues = [i for i in sat.preflight(late) if i.code == "APUNTO-712"]
    assert issues and issues[0].severity is Severity.WARNING


def test_check_raises_for_a_bad_receipt() -> None:
    with pytest.raises(ValidationError) as caught:
        sat.check(_with_payment(_receipt(), form="99"))
    assert "CRP20201" in {i.code for i in caught.value.errors}


def _cp(document: CartaPorteInvoice, **changes: object) -> CartaPorteInvoice:
    return attrs.evolve(document, carta_porte=attrs.evolve(document.carta_porte, **changes))


def _location(document: CartaPorteInvoice, index: int, **changes: object) -> CartaPorteInvoice:
    locations = list(document.carta_porte.locations)
    locations[index] = attrs.evolve(locations[index], **changes)
    return _cp(document, locations=locations)


def _goods(document: CartaPorteInvoice, **changes: object) -> CartaPorteInvoice:
    return _cp(document, goods=[attrs.evolve(document.carta_porte.goods[0], **changes)])


def _truck(document: CartaPorteInvoice, **changes: object) -> CartaPorteInvoice:
    return _cp(document, truck=attrs.evolve(document.carta_porte.truck, **changes))


def _host(document: CartaPorteInvoice, **changes: object) -> CartaPorteInvoice:
    return attrs.evolve(document, invoice=attrs.evolve(document.invoice, **changes))


CARTA_PORTE_CASES: list[tuple[str, Callable[[CartaPorteInvoice], CartaPorteInvoice]]] = [
    ("CCP101", lambda d: _host(d, kind=InvoiceKind.EXPENSE)),
    ("CCP103", lambda d: _host(d, kind=InvoiceKind.TRANSFER)),
    ("CCP104", lambda d: _host(d, kind=InvoiceKind.TRANSFER, cfdi_use="G03")),
    ("CCP201", lambda d: _cp(d, id_ccp="6F35D3B5-3651-5370-BC2C-14CDBE384CD7")),
    ("CCP202", lambda d: _location(d, 0, kind="Intermedia")),
    ("CCP203", lambda d: _cp(d, locations=d.carta_porte.locations[:1])),
    ("CCP204", lambda d: _location(d, 0, location_id="DE000001")),
    ("CCP205", lambda d: _location(d, 0, rfc="NOT AN RFC")),
    ("CCP206", lambda d: _location(d, 1, at=None)),
    ("CCP207", lambda d: _location(d, 1, at=datetime(2026, 11, 1, 8))),
    ("CCP208", lambda d: _location(d, 1, distance=None)),
    ("CCP209", lambda d: _location(d, 0, zip_code="441")),
    ("CCP210", lambda d: _location(d, 0, state="")),
    ("CCP211", lambda d: _cp(d, goods=[])),
    ("CCP212", lambda d: _goods(d, weight_kg="0")),
    ("CCP213", lambda d: _goods(d, quantity="0")),
    ("CCP214", lambda d: _goods(d, hazardous=True, packaging_code="4H2")),
    ("CCP215", lambda d: _goods(d, hazardous=True, hazardous_code="1203")),
    ("CCP216", lambda d: _goods(d, hazardous=False, hazardous_code="1203")),
    ("CCP220", lambda d: _truck(d, permit_type="PERMISO")),
    ("CCP221", lambda d: _truck(d, permit_number=" ")),
    ("CCP222", lambda d: _truck(d, plate="ABC-123-D")),
    ("CCP223", lambda d: _truck(d, model_year=1850)),
    ("CCP224", lambda d: _truck(d, gross_weight="0")),
    ("CCP225", lambda d: _truck(d, policy="")),
    ("CCP226", lambda d: _truck(d, trailers=[])),
    ("CCP227", lambda d: _truck(d, trailers=[WaybillTrailer("CTR004", "1AB2345")] * 3)),
    ("CCP228", lambda d: _truck(d, trailers=[WaybillTrailer("CTR004", "1-AB")])),
    ("CCP229", lambda d: _location(d, 1, distance="0")),
    ("CCP230", lambda d: _cp(d, figures=[])),
    ("CCP231", lambda d: _cp(d, figures=[WaybillFigure("01", "PEGJ800101AB1", "Juan")])),
    ("CCP232", lambda d: _cp(d, figures=[WaybillFigure("01", "XYZ", "Juan", "L1")])),
    ("APUNTO-800", lambda d: _cp(d, international=True)),
    ("APUNTO-801", lambda d: _location(d, 0, country="USA")),
]


@pytest.mark.parametrize(("code", "mutate"), CARTA_PORTE_CASES,
                         ids=[c for c, _ in CARTA_PORTE_CASES])
def test_each_carta_porte_rule(
    code: str, mutate: Callable[[CartaPorteInvoice], CartaPorteInvoice]
) -> None:
    issues = [i for i in sat.preflight(mutate(carta_porte_invoice())) if i.code == code]
    assert issues, f"{code} not raised"
    assert all(i.message and i.message_es for i in issues)


def test_freight_to_a_persona_moral_without_withholding_is_warned() -> None:
    document = carta_porte_invoice()
    items = [attrs.evolve(item, taxes=[t for t in item.taxes if not t.withholding])
             for item in document.invoice.items]
    issues = [i for i in sat.preflight(_host(document, items=items)) if i.code == "APUNTO-810"]
    assert issues and issues[0].severity is Severity.WARNING


def test_a_credit_note_without_relations_is_refused() -> None:
    note = CreditNote.discount(CUSTOMER, [], "100", issuer=ISSUER)
    assert "APUNTO-820" in _errors(note)

