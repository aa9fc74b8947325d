"""``invoice pay``, ``invoice credit-note`` and ``track waybill`` on the in-process sandbox.

The dry runs (the document built from what the vendor stamped) run everywhere. The tests that
stamp the documents through a vendor are guarded by ``stamping_unavailable``: they skip only
while the SDK cannot stamp that kind of document at that vendor, and run as soon as it can.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apunto_connect.cfdi import parse, read_document
from apunto_connect.cli import _providers, main
from apunto_connect.cli._documents import stamping_unavailable
from apunto_connect.demo import demo_invoice
from apunto_connect.models import (
    Assignment,
    CartaPorteInvoice,
    CreditNote,
    Driver,
    PaymentReceipt,
    Shipment,
    Vehicle,
    to_dict,
)

UNSUPPORTED, INVALID, REFUSED = 7, 3, 4
FACT = ["--provider", "facturama", "--sandbox"]


@pytest.fixture(autouse=True)
def fresh_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(_providers, "_sandbox", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    yield
    if _providers._sandbox is not None:
        _providers._sandbox.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def skip_unless_stamps(kind: str, vendor: str = "facturama") -> None:
    """The vendors these tests use do stamp ``kind``: a missing capability is a failure."""
    provider = _providers.shared_sandbox().invoice_provider(vendor)
    assert stamping_unavailable(provider, kind) is None  # type: ignore[arg-type]


def stamped_ppd(tmp_path: Path, capsys: pytest.CaptureFixture[str], vendor: str = "facturama",
                folio: str = "7001") -> tuple[str, str]:
    """A PPD freight invoice stamped through the CLI: (vendor id, UUID)."""
    invoice = demo_invoice(folio=folio).with_changes(payment_method="PPD", payment_form="99")
    path = tmp_path / f"ppd-{folio}.json"
    path.write_text(json.dumps(to_dict(invoice), default=str), encoding="utf-8")
    code, out, err = run(["invoice", "stamp", str(path), "--provider", vendor, "--sandbox"],
                         capsys)
    assert code == 0, err
    answer = json.loads(out)
    return answer["id"], answer["uuid"]


# -- invoice pay -------------------------------------------------------------------------------


def test_pay_builds_two_instalments_from_the_stamped_invoice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, uuid = stamped_ppd(tmp_path, capsys)
    total = demo_invoice().total  # 35227.16
    code, xml, err = run(["invoice", "pay", ref, "--amount", "20000", "--paid-at", "2026-11-20",
                          "--form", "03", *FACT, "--dry-run", "--xml"], capsys)
    assert code == 0, err
    first = read_document(xml.encode())
    assert isinstance(first, PaymentReceipt)
    (paid,) = first.documents
    assert (paid.uuid, paid.installment) == (uuid.upper(), 1)
    assert (paid.previous_balance, paid.amount_paid, paid.remaining_balance) == (
        total, 20000, total - 20000)
    receipt_file = tmp_path / "receipt-1.xml"
    receipt_file.write_text(xml, encoding="utf-8")

    rest = str(total - 20000)
    code, out, err = run(["invoice", "pay", ref, "--amount", rest, "--paid-at",
                          "2026-11-28T10:30", "--form", "02", *FACT, "--dry-run",
                          "--previous", str(receipt_file)], capsys)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["balances"] == {uuid.upper(): "0.00"}
    (document,) = answer["document"]["payments"][0]["documents"]
    assert document["installment"] == 2
    assert document["previous_balance"] == rest
    assert answer["document"]["payments"][0]["paid_at"] == "2026-11-28T10:30:00"


def test_pay_applies_one_payment_to_several_invoices_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, first_uuid = stamped_ppd(tmp_path, capsys, folio="7101")
    second, second_uuid = stamped_ppd(tmp_path, capsys, folio="7102")
    total = demo_invoice().total
    code, out, err = run(["invoice", "pay", first, second, "--amount", str(total + 1000),
                          "--paid-at", "2026-11-20", "--form", "03", *FACT, "--dry-run"], capsys)
    assert code == 0, err
    assert json.loads(out)["balances"] == {
        first_uuid.upper(): "0.00", second_uuid.upper(): str(total - 1000),
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--amount", "99999999", "--paid-at", "2026-11-20"], "amount"),
        (["--amount", "-5", "--paid-at", "2026-11-20"], "amount"),
        (["--amount", "100", "--paid-at", "20/11/2026"], "paid_at"),
    ],
    ids=["overpayment", "negative", "bad-date"],
)
def test_pay_refuses_bad_input_naming_the_field(
    extra: list[str], field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, _ = stamped_ppd(tmp_path, capsys)
    code, _, err = run(["invoice", "pay", ref, "--form", "03", *extra, *FACT, "--dry-run"], capsys)
    assert code == INVALID
    assert field in err


def test_pay_refuses_a_previous_file_that_is_not_a_receipt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, _ = stamped_ppd(tmp_path, capsys)
    invoice_xml = tmp_path / "invoice.xml"
    assert run(["invoice", "download", ref, *FACT, "--output", str(invoice_xml)], capsys)[0] == 0
    code, _, err = run(["invoice", "pay", ref, "--amount", "10", "--paid-at", "2026-11-20",
                        "--form", "03", "--previous", str(invoice_xml), *FACT, "--dry-run"],
                       capsys)
    assert code == INVALID
    assert "previous[0]" in err and "not a payment receipt" in err


def test_pay_for_an_unknown_invoice_is_the_vendors_refusal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = run(["invoice", "pay", "NO-SUCH-ID", "--amount", "10", "--paid-at",
                      "2026-11-20", "--form", "03", *FACT, "--dry-run"], capsys)
    assert code == REFUSED


def test_pay_without_stamping_support_exits_7_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, _ = stamped_ppd(tmp_path, capsys)
    provider = _providers.shared_sandbox().invoice_provider("facturama")
    if stamping_unavailable(provider, "payment") is None:
        # The vendor stamps receipts now: pretend it does not, to check the guard itself.
        from apunto_connect.cli import _fiscal_documents

        monkeypatch.setattr(_fiscal_documents, "require_document_stamping",
                            _refuse_everything)
    downloads: list[str] = []
    original = type(provider).download
    monkeypatch.setattr(type(provider), "download",
                        lambda self, r, fmt: downloads.append(r) or original(self, r, fmt))
    code, out, err = run(["invoice", "pay", ref, "--amount", "10", "--paid-at", "2026-11-20",
                          "--form", "03", *FACT], capsys)
    assert code == UNSUPPORTED, err
    assert out == "" and downloads == []
    assert "payment receipt" in err


def _refuse_everything(provider: Any, kind: str) -> None:
    from apunto_connect.errors import UnsupportedOperation

    raise UnsupportedOperation("facturama", f"stamp a {kind.replace('payment', 'payment receipt')}")


@pytest.mark.parametrize("vendor", ["facturama", "enlace_fiscal"])
def test_pay_stamps_two_receipts_through_the_vendor(
    vendor: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skip_unless_stamps("payment", vendor)
    ref, uuid = stamped_ppd(tmp_path, capsys, vendor=vendor)
    vendor_args = ["--provider", vendor, "--sandbox"]
    total = demo_invoice().total
    code, out, err = run(["invoice", "pay", ref, "--amount", "15000", "--paid-at",
                          "2026-11-20", "--form", "03", *vendor_args,
                          "--idempotency-key", "pay-1"], capsys)
    assert code == 0, err
    receipt_ref = json.loads(out)["id"]
    receipt_xml = tmp_path / "r1.xml"
    assert run(["invoice", "download", receipt_ref, *vendor_args, "--output",
                str(receipt_xml)], capsys)[0] == 0
    code, out, err = run(["invoice", "pay", ref, "--amount", str(total - 15000), "--paid-at",
                          "2026-11-28", "--form", "03", *vendor_args, "--previous",
                          str(receipt_xml), "--idempotency-key", "pay-2"], capsys)
    assert code == 0, err
    second_xml = tmp_path / "r2.xml"
    assert run(["invoice", "download", json.loads(out)["id"], *vendor_args, "--output",
                str(second_xml)], capsys)[0] == 0
    second = read_document(second_xml.read_bytes())
    assert isinstance(second, PaymentReceipt)
    assert second.balances() == {uuid.upper(): 0}
    assert second.documents[0].installment == 2


# -- invoice credit-note -----------------------------------------------------------------------


def test_credit_note_relates_the_stamped_invoice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, uuid = stamped_ppd(tmp_path, capsys)
    code, xml, err = run(["invoice", "credit-note", ref, "--amount", "500", "--relation", "03",
                          "--description", "Devolución de tarimas", *FACT, "--dry-run", "--xml"],
                         capsys)
    assert code == 0, err
    note = read_document(xml.encode())
    assert isinstance(note, CreditNote)
    assert [u.upper() for u in note.related_uuids] == [uuid.upper()]
    assert note.reason.value == "03"
    assert note.total == 580
    assert note.items[0].description == "Devolución de tarimas"
    assert note.customer.rfc == demo_invoice().customer.rfc


def test_credit_note_without_iva_and_its_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, uuid = stamped_ppd(tmp_path, capsys)
    code, out, err = run(["invoice", "credit-note", ref, "--amount", "250.50", "--iva-rate",
                          "none", *FACT, "--dry-run"], capsys)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["related_uuid"] == uuid
    assert answer["credit_total"] == "250.50"


@pytest.mark.parametrize(
    ("extra", "field"),
    [(["--amount", "1000000"], "amount"), (["--amount", "0"], "amount"),
     (["--amount", "100", "--iva-rate", "16"], "iva_rate")],
    ids=["more-than-the-invoice", "zero", "rate-as-percent"],
)
def test_credit_note_refuses_bad_amounts(
    extra: list[str], field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, _ = stamped_ppd(tmp_path, capsys)
    code, _, err = run(["invoice", "credit-note", ref, *extra, *FACT, "--dry-run"], capsys)
    assert code == INVALID
    assert field in err


def test_credit_note_stamped_through_the_vendor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skip_unless_stamps("credit_note")
    ref, uuid = stamped_ppd(tmp_path, capsys)
    code, out, err = run(["invoice", "credit-note", ref, "--amount", "500", *FACT], capsys)
    assert code == 0, err
    note_xml = tmp_path / "note.xml"
    assert run(["invoice", "download", json.loads(out)["id"], *FACT, "--output",
                str(note_xml)], capsys)[0] == 0
    cfdi = parse(note_xml.read_bytes())
    assert cfdi.kind == "E"
    note = read_document(cfdi)
    assert isinstance(note, CreditNote) and note.related_uuids[0].upper() == uuid.upper()


# -- track waybill -----------------------------------------------------------------------------


def closed_trip(reference: str = "SRV-CP-1") -> str:
    controlt = _providers.shared_sandbox().tracking_provider("controlt")
    trip = controlt.create_tracking(Shipment(reference, "land", origin="Guadalajara",
                                             destination="Monterrey", service_status="Activo"))
    controlt.wait_until_created(trip.tracking_id)
    controlt.assign(trip.tracking_id, Assignment(
        "TBA850101AB1", "Transportes del Bajío", Vehicle("JL-12-345", trailer_plate="1AB-2345"),
        Driver("LIC998877", "Juan", "Gómez", "3312345678")))
    controlt.activate(trip.tracking_id, by="ops@example.com")
    controlt.close(trip.tracking_id, by="ops@example.com")
    return str(trip.tracking_id)


def waybill_data(with_invoice: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "goods": [{"product_code": "24112700", "description": "Tarimas de madera",
                   "quantity": 10, "unit_code": "H87", "weight_kg": "1200"}],
        "origin": {"kind": "Origen", "rfc": "EKU9003173C9", "at": None, "zip_code": "44100",
                   "state": "JAL"},
        "destination": {"kind": "Destino", "rfc": "URE180429TM6", "at": None,
                        "zip_code": "64000", "state": "NLE", "distance": "850"},
        "truck": {"permit_type": "TPAF01", "permit_number": "0X2XTXZ0X5X0X3X2X1X0",
                  "config": "T3S2", "gross_weight": "40", "plate": "", "model_year": 2022,
                  "insurer": "SEGUROS DEL NORTE", "policy": "POL-123",
                  "trailers": [{"subtype": "CTR004", "plate": ""}]},
        "operator_rfc": "GOMJ800101AB1",
    }
    if with_invoice:
        data["invoice"] = to_dict(demo_invoice().with_changes(payment_method="PPD",
                                                              payment_form="99"))
    return data


def write(tmp_path: Path, data: Any, name: str = "waybill.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    return str(path)


def test_waybill_fills_the_carta_porte_from_the_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = closed_trip()
    code, out, err = run(["track", "waybill", trip, "--goods",
                          write(tmp_path, waybill_data(with_invoice=False)), "--sandbox"], capsys)
    assert code == 0, err
    carta = json.loads(out)
    assert carta["truck"]["plate"] == "JL12345"
    assert carta["truck"]["trailers"][0]["plate"] == "1AB2345"
    assert carta["figures"][0]["license"] == "LIC998877"
    assert carta["figures"][0]["name"] == "Juan Gómez"
    origin, destination = carta["locations"]
    assert (origin["name"], destination["name"]) == ("Guadalajara", "Monterrey")
    assert origin["at"] and destination["at"] and origin["at"] <= destination["at"]


def test_waybill_xml_is_the_freight_cfdi_with_the_complement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = closed_trip()
    code, xml, err = run(["track", "waybill", trip, "--goods", write(tmp_path, waybill_data()),
                          "--sandbox", "--xml"], capsys)
    assert code == 0, err
    document = read_document(xml.encode())
    assert isinstance(document, CartaPorteInvoice)
    parsed = parse(xml.encode()).carta_porte
    assert parsed is not None
    assert (parsed.vehicle_plate, parsed.total_distance) == ("JL12345", 850)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("truck"), "goods.truck"),
        (lambda d: d.update(goods="pallets"), "goods.goods"),
        (lambda d: d["goods"][0].pop("weight_kg"), "goods.goods[0]"),
        (lambda d: d["destination"].update(distance="far"), "goods.destination"),
        (lambda d: d.update(operator_rfc=42), "goods.operator_rfc"),
    ],
    ids=["no-truck", "goods-not-a-list", "goods-without-weight", "bad-distance", "rfc-number"],
)
def test_waybill_file_problems_name_the_part(
    mutate: Any, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = waybill_data()
    mutate(data)
    code, _, err = run(["track", "waybill", "SRV-X", "--goods", write(tmp_path, data),
                        "--sandbox"], capsys)
    assert code == INVALID
    assert field in err


def test_waybill_stamp_needs_an_invoice_and_a_vendor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trip = closed_trip()
    bare = write(tmp_path, waybill_data(with_invoice=False))
    assert run(["track", "waybill", trip, "--goods", bare, "--sandbox", "--stamp"],
               capsys)[0] == INVALID
    code, _, err = run(["track", "waybill", trip, "--goods", bare, "--sandbox", "--stamp",
                        "--provider", "facturama"], capsys)
    assert code == INVALID and "goods.invoice" in err
    code, _, err = run(["track", "waybill", "NO-SUCH-TRIP", "--goods",
                        write(tmp_path, waybill_data(), "w2.json"), "--sandbox"], capsys)
    assert code == REFUSED


def test_waybill_stamped_through_the_vendor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skip_unless_stamps("carta_porte")
    trip = closed_trip()
    code, out, err = run(["track", "waybill", trip, "--goods", write(tmp_path, waybill_data()),
                          "--sandbox", "--stamp", "--provider", "facturama",
                          "--idempotency-key", f"waybill-{trip}"], capsys)
    assert code == 0, err
    xml = tmp_path / "cp.xml"
    assert run(["invoice", "download", json.loads(out)["id"], *FACT, "--output", str(xml)],
               capsys)[0] == 0
    carta = parse(xml.read_bytes()).carta_porte
    assert carta is not None and carta.vehicle_plate == "JL12345"
