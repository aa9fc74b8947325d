"""Fidelity: two real third-party Facturama clients work against the loopback emulator.

* the ``facturama`` package from PyPI (Facturama's own Python SDK as published): needs only
  ``facturama.url_base`` pointed at the loopback URL; it calls the ``api/``-prefixed paths,
  sends ``"null"`` bodies on GET/DELETE and decodes every error body as JSON;
* satcfdi's Facturama API Web adapter (``satcfdi.pacs.facturama.FacturamaWeb``): has no URL
  option, so a subclass overrides its ``host`` property; it posts to ``api/3/cfdis`` with
  floats, a ``"yyyy-MM-dd HH:mm:ss"`` date and an ``Issuer`` block, downloads with
  ``api/Cfdi/{format}/issued/{id}`` and cancels with ``DELETE api/Cfdi/{id}``.

Both are test-only dependencies; the test is skipped when they are not installed. If one of
them cannot work against the emulator, the emulator is wrong.
"""

from __future__ import annotations

import base64
from decimal import Decimal

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest

from apunto_connect.cfdi import parse
from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.facturama import FacturamaEmulator

USER = FacturamaEmulator.demo_credentials["username"]
PASSWORD = FacturamaEmulator.demo_credentials["password"]


@pytest.fixture
def served():
    with Sandbox(vendors=["facturama"], seed=99) as sandbox:
        server = sandbox.serve()
        yield sandbox.emulator("facturama"), server.base_url("facturama")


def test_pypi_facturama_sdk_creates_client_stamps_downloads_and_cancels(served, monkeypatch,
                                                                        tmp_path):
    import facturama  # the PyPI client, from the test extra
    emulator, base_url = served
    monkeypatch.setattr(facturama, "_credentials", (USER, PASSWORD))
    monkeypatch.setattr(facturama, "url_base", base_url)
    monkeypatch.setattr(facturama, "sandbox", False)

    client = facturama.Client.create({
        "Email": "cuentas@example.com", "Rfc": "URE180429TM6",
        "Name": "UNIVERSIDAD ROBOTICA ESPAÑOLA", "CfdiUse": "G03", "FiscalRegime": "601",
        "TaxZipCode": "86991",
    })
    assert client["Id"] in emulator.clients
    page = facturama.Client.list(0, 10, "URE180429TM6")
    assert page["recordsFiltered"] == 1 and page["data"][0]["Id"] == client["Id"]

    cfdi = facturama.Cfdi.create3({
        "Serie": "PY", "Currency": "MXN", "ExpeditionPlace": "26015", "PaymentForm": "03",
        "PaymentMethod": "PUE", "CfdiType": "I", "NameId": "1", "Exportation": "01",
        "Receiver": {"Rfc": "URE180429TM6", "Name": "UNIVERSIDAD ROBOTICA ESPAÑOLA",
                     "CfdiUse": "G03", "FiscalRegime": "601", "TaxZipCode": "86991"},
        "Items": [{
            "ProductCode": "78101802", "IdentificationNumber": "FLT", "Description": "Flete",
            "Unit": "Servicio", "UnitCode": "E48", "UnitPrice": 1250.5, "Quantity": 2.0,
            "Subtotal": 2501.0, "TaxObject": "02",
            "Taxes": [{"Total": 400.16, "Name": "IVA", "Base": 2501.0, "Rate": 0.16,
                       "IsRetention": False}],
            "Total": 2901.16,
        }],
    })
    uuid = cfdi["Complement"]["TaxStamp"]["Uuid"]
    assert cfdi["Total"] == 2901.16 and cfdi["Folio"] == ""

    fetched = facturama.Cfdi.retrieve(cfdi["Id"])
    assert fetched["Complement"]["TaxStamp"]["Uuid"] == uuid

    xml_path, pdf_path = tmp_path / "f.xml", tmp_path / "f.pdf"
    facturama.Cfdi.saveAsXML(cfdi["Id"], str(xml_path))
    facturama.Cfdi.saveAsPdf(cfdi["Id"], str(pdf_path))
    document = parse(xml_path.read_bytes())
    assert document.stamp is not None and document.stamp.uuid == uuid
    assert document.total == Decimal("2901.16")
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    listed = facturama.Cfdi.list("issued", uuid, "all")
    assert [row["Id"] for row in listed] == [cfdi["Id"]]

    cancelled = facturama.Cfdi.delete(cfdi["Id"], "issued", "02")
    assert cancelled["Status"] == "canceled"
    assert b"<UUID>" + uuid.encode() in base64.b64decode(cancelled["AcuseXmlBase64"])

    with pytest.raises(facturama.ResourceNotFoundError):
        facturama.Cfdi.retrieve("doesNotExist2")
    monkeypatch.setattr(facturama, "_credentials", (USER, "wrong"))
    with pytest.raises(facturama.AuthenticationError):
        facturama.Cfdi.retrieve(cfdi["Id"])


def test_satcfdi_facturama_web_adapter_issues_recovers_lists_and_cancels(served):
    import satcfdi  # noqa: F401  (the test extra installs it)
    from satcfdi.create.cfd import cfdi40
    from satcfdi.pacs import Accept, CancelReason, Environment
    from satcfdi.pacs.facturama import FacturamaWeb

    emulator, base_url = served

    class LoopbackFacturamaWeb(FacturamaWeb):
        @property
        def host(self) -> str:
            return base_url

    pac = LoopbackFacturamaWeb(USER, PASSWORD, environment=Environment.TEST)
    invoice = cfdi40.Comprobante(
        emisor=cfdi40.Emisor(rfc="EKU9003173C9", nombre="ESCUELA KEMPER URGATE",
                             regimen_fiscal="601"),
        lugar_expedicion="26015",
        receptor=cfdi40.Receptor(rfc="URE180429TM6", nombre="UNIVERSIDAD ROBOTICA ESPAÑOLA",
                                 domicilio_fiscal_receptor="86991", regimen_fiscal_receptor="601",
                                 uso_cfdi="G03"),
        conceptos=[cfdi40.Concepto(
            clave_prod_serv="78101802", cantidad=Decimal("3"), clave_unidad="E48",
            descripcion="Flete local", valor_unitario=Decimal("333.33"), unidad="Servicio",
            impuestos=cfdi40.Impuestos(
                traslados=cfdi40.Traslado(impuesto="002", tipo_factor="Tasa",
                                          tasa_o_cuota=Decimal("0.160000")),
                retenciones=cfdi40.Retencion(impuesto="002", tipo_factor="Tasa",
                                             tasa_o_cuota=Decimal("0.040000")),
            ),
        )],
        serie="SAT",
        folio="77",
        forma_pago="03",
        metodo_pago="PUE",
    )
    issued = pac.issue(invoice, accept=Accept.XML_PDF)
    assert issued.document_id in emulator.invoices
    document = parse(issued.xml)
    assert document.stamp is not None
    assert (document.series, document.folio) == ("SAT", "77")
    assert document.total == Decimal(str(invoice["Total"]))
    assert issued.pdf.startswith(b"%PDF-")

    assert pac.find_id_by_uuid(document.stamp.uuid) == issued.document_id
    recovered = pac.recover_by_uuid(document.stamp.uuid, accept=Accept.XML)
    assert recovered.xml == issued.xml

    ack = pac.cancel(None, CancelReason.COMPROBANTE_EMITIDO_CON_ERRORES_SIN_RELACION,
                     document_id=issued.document_id)
    assert ack.code == "canceled"
    assert ack.acuse is not None and document.stamp.uuid.encode() in ack.acuse
    assert emulator.invoices[issued.document_id].status == "canceled"
