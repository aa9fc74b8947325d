from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from apunto_connect.cfdi import Cfdi, RawElement, parse
from apunto_connect.errors import ValidationError
from apunto_connect.models import TaxFactor, TaxKind
from tests.cfdi.samples import FIXTURES, fixture_bytes

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.xml"))


@pytest.fixture(scope="module")
def invoice40() -> Cfdi:
    return parse(fixture_bytes("invoice40_taxes_retentions.xml"))


def test_comprobante_attributes_are_typed(invoice40: Cfdi) -> None:
    c = invoice40
    assert (c.version, c.series, c.folio, c.kind) == ("4.0", "HON", "2025-0042", "I")
    assert c.issued_at == datetime(2025, 2, 14, 9, 30, 12)
    assert (c.payment_form, c.payment_method, c.payment_terms) == ("03", "PUE", "Contado")
    assert c.subtotal == Decimal("12501.00") and isinstance(c.subtotal, Decimal)
    assert c.discount == Decimal("1.00")
    assert c.total == Decimal("12433.33")
    assert str(c.total) == "12433.33"  # the XML's own decimals are kept
    assert (c.currency, c.exchange_rate, c.export_code, c.place_of_issue) == ("MXN", None, "01", "06700")
    assert c.certificate_number == "30001000000500003416"
    assert c.seal and c.seal.endswith("MTIzNA==")
    assert c.certificate


def test_issuer_and_receiver_are_read(invoice40: Cfdi) -> None:
    assert invoice40.issuer.rfc == "XIQB891116QE4"
    assert invoice40.issuer.name == "BERENICE XIMO QUEZADA"
    assert invoice40.issuer.tax_regime == "612"
    r = invoice40.receiver
    assert (r.rfc, r.name, r.zip_code, r.tax_regime, r.cfdi_use) == (
        "EKU9003173C9", "ESCUELA KEMPER URGATE", "42501", "601", "G03",
    )


def test_concepts_carry_their_transferred_and_withheld_taxes(invoice40: Cfdi) -> None:
    fees, laptops = invoice40.concepts
    assert fees.product_code == "80101500" and fees.tax_object == "02"
    assert [t.kind for t in fees.transferred] == [TaxKind.IVA]
    assert [(t.kind, t.rate, t.amount) for t in fees.withheld] == [
        (TaxKind.ISR, Decimal("0.100000"), Decimal("1000.00")),
        (TaxKind.IVA, Decimal("0.106667"), Decimal("1066.67")),
    ]
    assert all(t.withholding for t in fees.withheld)
    assert fees.transferred[0].tax_factor is TaxFactor.RATE
    assert laptops.sku == "LAP-14-01" and laptops.unit_name == "Pieza"
    assert laptops.description == 'Computadora portátil 14" & funda'
    assert laptops.quantity == 2 and laptops.unit_price == Decimal("1250.50")
    assert laptops.discount == Decimal("1.00")
    assert laptops.transferred[0].base == Decimal("2500.00")
    assert laptops.customs_numbers == ("25  47  3807  5003832",)
    assert laptops.taxes == laptops.transferred + laptops.withheld


def test_document_taxes_summary_is_read(invoice40: Cfdi) -> None:
    taxes = invoice40.taxes
    assert taxes is not None
    assert taxes.total_transferred == Decimal("2000.00")
    assert taxes.total_withheld == Decimal("2066.67")
    assert [(t.tax, t.amount, t.base) for t in taxes.withheld] == [
        ("001", Decimal("1000.00"), None), ("002", Decimal("1066.67"), None),
    ]
    (iva,) = taxes.transferred
    assert (iva.base, iva.rate, iva.amount) == (Decimal("12500.00"), Decimal("0.16"), Decimal("2000.00"))
    assert invoice40.total_transferred == Decimal("2000.00")
    assert invoice40.total_withheld == Decimal("2066.67")


def test_related_documents_and_stamp_are_read(invoice40: Cfdi) -> None:
    (group,) = invoice40.related
    assert group.relation_type == "04"
    assert group.uuids == ("0B0C2E54-7D2A-4C55-9A2B-1F3E5D7C9A11",)
    stamp = invoice40.stamp
    assert stamp is not None and invoice40.is_stamped
    assert stamp.uuid == "3f2a9c1e-5b7d-4e8f-a1c2-9d0e8f7a6b5c"  # as written
    assert invoice40.uuid == "3F2A9C1E-5B7D-4E8F-A1C2-9D0E8F7A6B5C"  # normalised
    assert stamp.stamped_at == datetime(2025, 2, 14, 9, 30, 40)
    assert (stamp.pac_rfc, stamp.sat_certificate, stamp.version) == (
        "SAT970701NN3", "30001000000500003456", "1.1",
    )
    assert stamp.cfd_seal == invoice40.seal
    assert stamp.sat_seal == "U0FUU2VhbEZvclRlc3RzT25seS1ub3QtcmVhbA=="


def test_cfdi_33_invoice_is_read_with_its_namespace() -> None:
    c = parse(fixture_bytes("invoice33.xml"))
    assert c.version == "3.3"
    assert c.export_code is None and c.receiver.zip_code is None
    assert c.exchange_rate == Decimal("1")
    assert c.payment_method == "PPD"
    assert c.concepts[0].tax_object is None
    assert c.taxes is not None
    (row,) = c.taxes.transferred
    assert row.base is None and row.amount == Decimal("689.65")  # 3.3 totals carry no Base
    assert c.total == Decimal("4999.99")
    assert c.uuid == "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"


def test_pagos_10_in_a_33_document_is_read() -> None:
    c = parse(fixture_bytes("payment33_pagos10.xml"))
    assert c.kind == "P" and c.currency == "XXX"
    assert c.payments is not None and c.payments.version == "1.0"
    assert c.payments.totals is None
    (payment,) = c.payments.payments
    assert payment.amount == Decimal("4999.99")
    assert payment.operation_number == "SPEI-88121"
    (doc,) = payment.documents
    assert doc.uuid == "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"
    assert doc.payment_method == "PPD" and doc.installment == 1
    assert doc.remaining_balance == Decimal("0.00")


def test_pagos_20_payments_related_documents_and_totals_are_read() -> None:
    c = parse(fixture_bytes("payment40_pagos20.xml"))
    pagos = c.payments
    assert pagos is not None and pagos.version == "2.0"
    assert pagos.totals is not None
    assert pagos.totals.total_amount == Decimal("11400.00")
    assert pagos.totals.base_iva16 == Decimal("10000.00")
    assert pagos.totals.iva16 == Decimal("1600.00")
    assert pagos.totals.withheld_iva == Decimal("200.00")
    assert pagos.totals.iva8 is None
    (payment,) = pagos.payments
    assert payment.paid_at == datetime(2025, 4, 2, 16, 40)
    assert (payment.payment_form, payment.currency, payment.exchange_rate) == ("03", "MXN", Decimal(1))
    assert payment.payer_bank_rfc == "BSM970519DU8"
    assert payment.payee_account == "002180009876543210"
    assert [d.amount_paid for d in payment.documents] == [Decimal("5600.00"), Decimal("5800.00")]
    first, second = payment.documents
    assert first.installment == 2 and first.equivalence == Decimal(1)
    assert first.tax_object == "02"
    assert [t.amount for t in first.withheld] == [Decimal("200.00")]
    assert [t.base for t in first.transferred] == [Decimal("5000.00")]
    assert second.remaining_balance == Decimal("5800.00")
    assert [(t.tax, t.base, t.amount) for t in payment.transferred] == [
        ("002", Decimal("10000.00"), Decimal("1600.00"))
    ]
    assert [(t.tax, t.amount) for t in payment.withheld] == [("002", Decimal("200.00"))]
    assert len(pagos.documents) == 2
    assert c.complements == ()  # Pagos is typed, not kept raw


def test_carta_porte_31_summary_is_read() -> None:
    c = parse(fixture_bytes("cartaporte31_freight.xml"))
    cp = c.carta_porte
    assert cp is not None
    assert cp.version == "3.1"
    assert cp.id_ccp == "CCC3F2A1-9B8C-4D7E-A6F5-E4D3C2B1A098"
    assert cp.international is False
    assert cp.total_distance == Decimal("540")
    origin, destination = cp.locations
    assert (origin.kind, origin.location_id, origin.state, origin.zip_code) == (
        "Origen", "OR000001", "CMX", "06600",
    )
    assert destination.distance == Decimal("540")
    assert destination.at == datetime(2025, 3, 1, 18, 30)
    assert cp.goods_count == 2 and len(cp.goods) == 2
    assert cp.gross_weight == Decimal("1500.000") and cp.weight_unit == "KGM"
    assert cp.goods[0].weight_kg == Decimal("1000.000")
    assert cp.goods[0].hazardous == "No"
    assert cp.transport_modes == ("Autotransporte",)
    assert cp.vehicle is not None
    assert (cp.vehicle_config, cp.vehicle_plate) == ("T3S2", "50AB3C")
    assert cp.vehicle.permit_type == "TPAF01" and cp.vehicle.model_year == "2021"
    assert cp.vehicle.trailers == (("CTR004", "VL45K98"),)
    assert cp.vehicle.insurer == "SEGUROS DEL TRANSPORTISTA"
    operator, owner = cp.figures
    assert (operator.kind, operator.rfc, operator.license) == ("01", "CACX7605101P8", "JAL0012345")
    assert owner.kind == "02" and owner.name == "ESCUELA KEMPER URGATE"
    assert [t.rate for t in c.concepts[0].withheld] == [Decimal("0.04")]


def test_unknown_complements_and_addenda_are_kept_raw() -> None:
    c = parse(fixture_bytes("global40_unknown_complement.xml"))
    (leyendas,) = c.complements
    assert isinstance(leyendas, RawElement)
    assert leyendas.namespace == "http://www.sat.gob.mx/leyendasFiscales"
    assert leyendas.name == "LeyendasFiscales"
    assert leyendas.attributes == {"version": "1.0"}
    assert "textoLeyenda=" in leyendas.xml  # children are kept in the serialized XML
    assert leyendas.tag == "{http://www.sat.gob.mx/leyendasFiscales}LeyendasFiscales"
    (addenda,) = c.addenda
    assert (addenda.namespace, addenda.name) == ("urn:example:acme:addenda", "Pedido")
    assert addenda.attributes["numero"] == "PO-55120"
    (vehicle_sale,) = c.concepts[0].extra
    assert vehicle_sale.name == "VentaVehiculos"
    assert c.stamp is not None  # known complements next to unknown ones still typed


def test_global_information_is_read() -> None:
    c = parse(fixture_bytes("global40_unknown_complement.xml"))
    assert c.global_info is not None
    assert (c.global_info.periodicity, c.global_info.months, c.global_info.year) == ("04", "03", 2025)
    assert c.receiver.rfc == "XAXX010101000"


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_parses_from_bytes_text_and_path(name: str) -> None:
    data = fixture_bytes(name)
    from_bytes = parse(data)
    from_text = parse(data.decode("utf-8"))
    from_path = parse(FIXTURES / name)
    assert from_bytes == from_text == from_path
    assert from_path.source == str(FIXTURES / name)
    assert from_bytes.source is None


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_amounts_are_decimal_never_float(name: str) -> None:
    c = parse(fixture_bytes(name))

    def walk(value: object) -> None:
        assert not isinstance(value, float)
        if attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                walk(getattr(value, field.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(c)


def test_parsed_documents_are_immutable(invoice40: Cfdi) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        invoice40.total = Decimal(0)  # type: ignore[misc]


def test_missing_required_attribute_names_it() -> None:
    data = fixture_bytes("invoice40_taxes_retentions.xml").replace(b' Total="12433.33"', b"")
    with pytest.raises(ValidationError) as info:
        parse(data, source="bad.xml")
    assert info.value.issues[0].field == "bad.xml:Comprobante@Total"
    assert "Total" in str(info.value)


def test_malformed_amount_names_the_concept() -> None:
    data = fixture_bytes("invoice40_taxes_retentions.xml").replace(
        b'ValorUnitario="1250.50"', b'ValorUnitario="12,50"'
    )
    with pytest.raises(ValidationError, match=r"Concepto\[1\]@ValorUnitario"):
        parse(data)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"1e", b""])
def test_non_finite_or_empty_amounts_are_rejected(value: bytes) -> None:
    data = fixture_bytes("invoice33.xml").replace(b'SubTotal="4310.34"', b'SubTotal="' + value + b'"')
    with pytest.raises(ValidationError, match="SubTotal"):
        parse(data)


def test_other_xml_documents_are_not_cfdi() -> None:
    with pytest.raises(ValidationError, match="not a CFDI"):
        parse(b'<?xml version="1.0"?><retenciones:Retenciones xmlns:retenciones="http://www.sat.gob.mx/esquemas/retencionpago/2"/>')


def test_a_cfdi_without_receptor_is_rejected() -> None:
    data = fixture_bytes("invoice33.xml")
    start = data.index(b"<cfdi:Receptor")
    end = data.index(b"/>", start) + 2
    with pytest.raises(ValidationError, match="Receptor"):
        parse(data[:start] + data[end:])


def test_comments_and_processing_instructions_are_ignored() -> None:
    data = fixture_bytes("invoice33.xml").replace(
        b"<cfdi:Conceptos>", b"<!-- c --><?pi x?><cfdi:Conceptos><!-- inside -->"
    )
    assert len(parse(data).concepts) == 1


def test_latin1_declared_documents_are_decoded() -> None:
    text = fixture_bytes("payment40_pagos20.xml").decode("utf-8")
    latin1 = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1")
    assert parse(latin1).receiver.name == "UNIVERSIDAD ROBOTICA ESPAÑOLA"


def test_path_that_does_not_exist_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read file"):
        parse(tmp_path / "missing.xml")
