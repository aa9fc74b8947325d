from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from apunto_connect.cfdi import Cfdi, Stamp, build, parse
from apunto_connect.cfdi.build import NOT_FISCALLY_VALID_LEGEND, PLACEHOLDER_PREFIX
from apunto_connect.errors import ValidationError
from apunto_connect.models import (
    Customer,
    GlobalInformation,
    Invoice,
    InvoiceKind,
    LineItem,
    PaymentMethod,
    RelatedDocuments,
    Tax,
    TaxFactor,
)
from apunto_connect.models.invoices import quantize_rate
from tests.cfdi.samples import CUSTOMER, ISSUER, STAMP, freight_invoice

CFDI = "{http://www.sat.gob.mx/cfd/4}"
TFD = "{http://www.sat.gob.mx/TimbreFiscalDigital}"


def _root(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _local_children(el: etree._Element) -> list[str]:
    return [etree.QName(c).localname for c in el if isinstance(c.tag, str)]


def test_build_writes_namespaces_schema_location_and_declaration() -> None:
    xml = build(freight_invoice(), STAMP)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = _root(xml)
    assert root.tag == CFDI + "Comprobante"
    assert root.nsmap["cfdi"] == "http://www.sat.gob.mx/cfd/4"
    assert root.nsmap["xsi"] == "http://www.w3.org/2001/XMLSchema-instance"
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation") == (
        "http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd"
    )
    tfd = root.find(f"{CFDI}Complemento/{TFD}TimbreFiscalDigital")
    assert tfd is not None and tfd.nsmap["tfd"] == "http://www.sat.gob.mx/TimbreFiscalDigital"
    assert "TimbreFiscalDigitalv11.xsd" in tfd.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", "")


def test_build_orders_elements_as_anexo_20() -> None:
    invoice = freight_invoice(
        global_info=GlobalInformation("01", "03", 2025),
        related=[RelatedDocuments("04", ["0B0C2E54-7D2A-4C55-9A2B-1F3E5D7C9A11"]),
                 RelatedDocuments("07", ["1B0C2E54-7D2A-4C55-9A2B-1F3E5D7C9A11"])],
    )
    root = _root(build(invoice, STAMP))
    assert _local_children(root) == [
        "InformacionGlobal", "CfdiRelacionados", "CfdiRelacionados", "Emisor", "Receptor",
        "Conceptos", "Impuestos", "Complemento",
    ]
    concept = root.find(f"{CFDI}Conceptos/{CFDI}Concepto")
    assert concept is not None
    assert _local_children(concept.find(f"{CFDI}Impuestos")) == ["Traslados", "Retenciones"]  # type: ignore[arg-type]
    # at document level the XSD wants Retenciones first
    assert _local_children(root.find(f"{CFDI}Impuestos")) == ["Retenciones", "Traslados"]  # type: ignore[arg-type]


def test_build_writes_rates_with_six_decimals_and_amounts_with_currency_decimals() -> None:
    root = _root(build(freight_invoice()))
    rates = [t.get("TasaOCuota") for t in root.iter(CFDI + "Traslado", CFDI + "Retencion") if t.get("TasaOCuota")]
    assert set(rates) == {"0.160000", "0.040000"}
    assert root.get("SubTotal") == "15501.00"
    assert root.get("Descuento") == "10.00"
    assert root.get("Total") == "17369.56"
    concepts = root.findall(f"{CFDI}Conceptos/{CFDI}Concepto")
    assert concepts[1].get("ValorUnitario") == "250.50"
    assert concepts[1].get("Importe") == "501.00"
    assert concepts[1].get("Descuento") == "10.00"
    assert concepts[0].get("Descuento") is None  # zero discounts are omitted


def test_document_tax_summary_groups_transfers_by_rate_and_withholdings_by_tax() -> None:
    invoice = freight_invoice(items=[
        LineItem("78101802", "E48", "Flete", 1, "1000", taxes=[Tax.iva(), Tax.iva_withholding("0.04"), Tax.isr_withholding("0.0125")]),
        LineItem("78101802", "E48", "Flete frontera", 1, "1000", taxes=[Tax.iva("0.08"), Tax.iva_withholding("0.04")]),
        LineItem("01010101", "H87", "Libros", 1, "100", taxes=[Tax.iva_exempt()]),
    ])
    root = _root(build(invoice))
    impuestos = root.find(f"{CFDI}Impuestos")
    assert impuestos is not None
    transfers = [(t.get("TasaOCuota"), t.get("Base"), t.get("Importe"), t.get("TipoFactor"))
                 for t in impuestos.iter(CFDI + "Traslado")]
    assert transfers == [("0.160000", "1000.00", "160.00", "Tasa"), ("0.080000", "1000.00", "80.00", "Tasa"),
                         (None, "100.00", None, "Exento")]
    withholdings = [(r.get("Impuesto"), r.get("Importe"), r.get("Base")) for r in impuestos.iter(CFDI + "Retencion")]
    assert withholdings == [("002", "80.00", None), ("001", "12.50", None)]
    assert impuestos.get("TotalImpuestosTrasladados") == "240.00"
    assert impuestos.get("TotalImpuestosRetenidos") == "92.50"


def test_only_exempt_lines_omit_total_transferred() -> None:
    invoice = freight_invoice(items=[LineItem("01010101", "H87", "Libros", 1, "100", taxes=[Tax.iva_exempt()])])
    impuestos = _root(build(invoice)).find(f"{CFDI}Impuestos")
    assert impuestos is not None and impuestos.get("TotalImpuestosTrasladados") is None


def test_lines_without_taxes_get_objeto_imp_01_and_no_impuestos_node() -> None:
    invoice = freight_invoice(items=[LineItem("01010101", "H87", "Donativo", 1, "100")])
    root = _root(build(invoice))
    concept = root.find(f"{CFDI}Conceptos/{CFDI}Concepto")
    assert concept is not None and concept.get("ObjetoImp") == "01"
    assert concept.find(f"{CFDI}Impuestos") is None
    assert root.find(f"{CFDI}Impuestos") is None


def test_explicit_tax_object_is_kept() -> None:
    invoice = freight_invoice(items=[LineItem("01010101", "H87", "X", 1, "100", tax_object="03")])
    assert parse(build(invoice)).concepts[0].tax_object == "03"


def test_transfer_document_has_no_payment_form_or_method() -> None:
    invoice = freight_invoice(
        kind=InvoiceKind.TRANSFER, currency="XXX",
        items=[LineItem("24112700", "H87", "Tarimas", 10, "0")],
        customer=Customer(ISSUER.rfc, ISSUER.legal_name, "601", "42501", cfdi_use="S01"),
    )
    root = _root(build(invoice))
    assert root.get("FormaPago") is None and root.get("MetodoPago") is None
    assert (root.get("SubTotal"), root.get("Total"), root.get("Moneda")) == ("0", "0", "XXX")


def test_ppd_invoice_writes_forma_pago_99() -> None:
    root = _root(build(freight_invoice(payment_method=PaymentMethod.PPD)))
    assert (root.get("MetodoPago"), root.get("FormaPago")) == ("PPD", "99")


def test_foreign_currency_writes_exchange_rate_and_foreign_receiver_fields() -> None:
    foreign = Customer("XEXX010101000", "ACME LOGISTICS INC", "616", "42501", cfdi_use="S01",
                       tax_residence="USA", foreign_tax_id="123456789")
    root = _root(build(freight_invoice(currency="USD", exchange_rate="17.2531", customer=foreign, export_code="02")))
    assert (root.get("Moneda"), root.get("TipoCambio"), root.get("Exportacion")) == ("USD", "17.2531", "02")
    receptor = root.find(f"{CFDI}Receptor")
    assert receptor is not None
    assert (receptor.get("ResidenciaFiscal"), receptor.get("NumRegIdTrib")) == ("USA", "123456789")


def test_zero_decimal_currency_amounts_have_no_decimals() -> None:
    invoice = freight_invoice(currency="JPY", exchange_rate="0.1152",
                              items=[LineItem("01010101", "H87", "X", 3, "1999", taxes=[Tax.iva()])])
    root = _root(build(invoice))
    assert root.get("SubTotal") == "5997"
    assert root.get("Total") == str(invoice.total)


def test_unstamped_preview_is_marked_not_fiscally_valid() -> None:
    xml = build(freight_invoice())
    root = _root(xml)
    assert root.get("Sello", "").startswith(PLACEHOLDER_PREFIX)
    assert root.get("NoCertificado") == "00000000000000000000"
    assert b"NOT a fiscally valid CFDI" in xml
    assert root.find(f"{CFDI}Complemento") is None
    assert parse(xml).stamp is None


def test_stamped_document_has_placeholder_seals_and_warning_legend() -> None:
    cfdi = parse(build(freight_invoice(), STAMP))
    assert cfdi.stamp is not None
    assert cfdi.stamp.legend == NOT_FISCALLY_VALID_LEGEND
    assert "NO tiene validez fiscal" in cfdi.stamp.legend
    assert cfdi.stamp.cfd_seal == cfdi.seal
    assert cfdi.stamp.sat_seal and cfdi.stamp.sat_seal.startswith(PLACEHOLDER_PREFIX)
    assert 12 <= len(NOT_FISCALLY_VALID_LEGEND) <= 150


def test_placeholder_seal_differs_between_documents_and_is_deterministic() -> None:
    a, b = freight_invoice(), freight_invoice(folio="102")
    assert parse(build(a)).seal == parse(build(a)).seal
    assert parse(build(a)).seal != parse(build(b)).seal


def test_seals_given_in_the_stamp_are_used() -> None:
    stamp = Stamp("6F35D3B5-3651-4370-BC2C-14CDBE384CD7", datetime(2025, 1, 1), "SAT970701NN3",
                  "30001000000500003456", cfd_seal="Q0ZE", sat_seal="U0FU", legend="Leyenda propia de pruebas")
    cfdi = parse(build(freight_invoice(), stamp))
    assert cfdi.seal == "Q0ZE" and cfdi.stamp is not None
    assert (cfdi.stamp.sat_seal, cfdi.stamp.legend) == ("U0FU", "Leyenda propia de pruebas")


def test_issuer_argument_is_used_when_invoice_has_none() -> None:
    invoice = freight_invoice(issuer=None)
    with pytest.raises(ValidationError, match="issuer"):
        build(invoice)
    assert parse(build(invoice, issuer=ISSUER)).issuer.rfc == "EKU9003173C9"
    assert parse(build(invoice, issuer=ISSUER)).place_of_issue == "42501"


def test_issued_at_argument_wins_and_aware_times_become_mexico_local() -> None:
    utc = datetime(2025, 6, 1, 18, 0, tzinfo=timezone.utc)
    assert parse(build(freight_invoice(), issued_at=utc)).issued_at == datetime(2025, 6, 1, 12, 0)
    fixed = datetime(2025, 1, 2, 3, 4, 5, 678)
    assert parse(build(freight_invoice(), issued_at=fixed)).issued_at == datetime(2025, 1, 2, 3, 4, 5)


def test_missing_date_defaults_to_now_in_mexico() -> None:
    before = datetime.now(timezone(timedelta(hours=-6))).replace(tzinfo=None) - timedelta(hours=2)
    issued = parse(build(freight_invoice(issued_at=None))).issued_at
    assert before <= issued <= before + timedelta(hours=4)


def test_control_characters_are_a_validation_error() -> None:
    invoice = freight_invoice(items=[LineItem("01010101", "H87", "bad\x00text", 1, "1")])
    with pytest.raises(ValidationError):
        build(invoice)


def test_invoice_without_lines_is_refused() -> None:
    with pytest.raises(ValidationError, match="line"):
        build(freight_invoice(items=[]))


def test_special_characters_round_trip() -> None:
    customer = Customer("H&E951128469", "HERRERIA & ELECTRICOS", "601", "06002")
    invoice = freight_invoice(customer=customer, items=[
        LineItem("01010101", "H87", 'Tubo 3/4" <acero> & "cobre" — año', 1, "10", taxes=[Tax.iva()])])
    cfdi = parse(build(invoice))
    assert cfdi.receiver.rfc == "H&E951128469"
    assert cfdi.concepts[0].description == 'Tubo 3/4" <acero> & "cobre" — año'


def test_built_documents_validate_against_the_sat_schema(sat_schema: etree.XMLSchema) -> None:
    invoices = [
        freight_invoice(),
        freight_invoice(global_info=GlobalInformation("04", "03", 2025),
                        related=[RelatedDocuments("04", ["0B0C2E54-7D2A-4C55-9A2B-1F3E5D7C9A11"])]),
        freight_invoice(items=[LineItem("01010101", "H87", "Libros", 1, "100", taxes=[Tax.iva_exempt()]),
                               LineItem("50202306", "LTR", "Refresco", 3, "15.5", taxes=[Tax.ieps("0.265"), Tax.iva()]),
                               LineItem("15101514", "LTR", "Gasolina", "40.5", "20.1", taxes=[Tax.ieps("6.4555", factor=TaxFactor.QUOTA), Tax.iva()])]),
    ]
    for invoice in invoices:
        for stamp in (None, STAMP):
            doc = etree.fromstring(build(invoice, stamp))
            assert sat_schema.validate(doc), sat_schema.error_log.last_error


def test_fixtures_validate_against_the_sat_schema(sat_schema: etree.XMLSchema) -> None:
    from tests.cfdi.samples import FIXTURES

    for path in sorted(FIXTURES.glob("*.xml")):
        if path.name.startswith("global40_unknown"):
            continue  # carries a made-up addenda namespace on purpose
        assert sat_schema.validate(etree.parse(str(path))), (path.name, sat_schema.error_log.last_error)


# --- round trip --------------------------------------------------------------------------


def _assert_round_trip(invoice: Invoice, cfdi: Cfdi, stamp: Stamp | None) -> None:
    totals = invoice.totals
    assert cfdi.subtotal == totals.subtotal
    assert (cfdi.discount or Decimal(0)) == totals.discount
    assert cfdi.total == totals.total
    assert cfdi.currency == invoice.currency and cfdi.kind == invoice.kind.value
    assert (cfdi.issuer.rfc, cfdi.receiver.rfc) == (invoice.issuer.rfc if invoice.issuer else None, invoice.customer.rfc)
    if stamp is not None:
        assert cfdi.uuid == stamp.uuid.upper()
        assert cfdi.stamp is not None and cfdi.stamp.stamped_at == stamp.stamped_at
    assert len(cfdi.concepts) == len(invoice.items)
    for item, line, concept in zip(invoice.items, totals.lines, cfdi.concepts, strict=True):
        assert concept.quantity == item.quantity
        assert concept.unit_price == item.unit_price
        assert concept.amount == line.amount
        assert (concept.discount or Decimal(0)) == line.discount
        assert concept.description == item.description
        assert concept.tax_object == item.effective_tax_object
        expected = [(t.kind.sat_code, t.factor.value, None if t.rate is None or t.factor is TaxFactor.EXEMPT else quantize_rate(t.rate),
                     t.base, t.amount, t.withholding) for t in line.taxes]
        got = [(t.tax, t.factor, t.rate, t.base, t.amount, t.withholding) for t in concept.taxes]
        assert sorted(got, key=repr) == sorted(expected, key=repr)
    doc_taxes = cfdi.taxes
    if not totals.transferred and not totals.withheld:
        assert doc_taxes is None
        return
    assert doc_taxes is not None
    assert [(t.tax, t.factor, t.base, t.amount) for t in doc_taxes.transferred] == [
        (t.kind.sat_code, t.factor.value, t.base, t.amount) for t in totals.transferred
    ]
    withheld_by_kind: dict[str, Decimal] = defaultdict(Decimal)
    for t in totals.withheld:
        withheld_by_kind[t.kind.sat_code] += t.amount or Decimal(0)
    assert {t.tax: t.amount for t in doc_taxes.withheld} == dict(withheld_by_kind)
    if totals.withheld:
        assert doc_taxes.total_withheld == totals.total_withheld


def test_parse_of_build_round_trips_the_sample_invoice() -> None:
    invoice = freight_invoice()
    _assert_round_trip(invoice, parse(build(invoice, STAMP)), STAMP)


_TAXES = st.sampled_from([
    (Tax.iva(),), (Tax.iva("0.08"),), (Tax.iva("0"),), (Tax.iva_exempt(),),
    (Tax.iva(), Tax.iva_withholding("0.04")),
    (Tax.iva(), Tax.isr_withholding("0.10"), Tax.iva_withholding("0.106667")),
    (Tax.ieps("0.265"), Tax.iva()), (Tax.ieps("6.4555", factor=TaxFactor.QUOTA), Tax.iva()),
    (Tax.isr_withholding("0.0125"), Tax.iva()), (),
])


@st.composite
def _items(draw: st.DrawFn) -> LineItem:
    quantity = draw(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(5000), places=draw(st.integers(0, 6))))
    price = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(250000), places=draw(st.integers(0, 6))))
    discount_share = draw(st.sampled_from([Decimal(0), Decimal(0), Decimal("0.1"), Decimal("0.5")]))
    discount = (quantity * price * discount_share).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    text = draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(lambda s: s.strip() == s and s))
    return LineItem("01010101", draw(st.sampled_from(["H87", "E48", "KGM", "Tu"])), text, quantity, price,
                    discount=discount, taxes=draw(_TAXES), sku=draw(st.none() | st.just("SKU-1")))


@st.composite
def _invoices(draw: st.DrawFn) -> Invoice:
    currency = draw(st.sampled_from(["MXN", "MXN", "USD", "JPY"]))
    return Invoice(
        CUSTOMER,
        draw(st.lists(_items(), min_size=1, max_size=6)),
        issuer=ISSUER,
        currency=currency,
        exchange_rate=None if currency == "MXN" else Decimal("17.5"),
        series=draw(st.none() | st.just("A")),
        folio=draw(st.none() | st.from_regex(r"[0-9]{1,6}", fullmatch=True)),
        issued_at=datetime(2025, 5, 5, 12, 0, 0),
        payment_method=draw(st.sampled_from([PaymentMethod.PUE, PaymentMethod.PPD])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_invoices(), st.booleans())
def test_parse_of_build_round_trips_generated_invoices(invoice: Invoice, stamped: bool) -> None:
    stamp = STAMP if stamped else None
    _assert_round_trip(invoice, parse(build(invoice, stamp)), stamp)
