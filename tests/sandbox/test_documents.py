"""The shared sandbox documents: stamped CFDI XML, PDF and cancellation acuse."""

from __future__ import annotations

import random
import re
import uuid as uuidlib
import zlib
from datetime import datetime
from decimal import Decimal

import fpdf  # noqa: F401  (the test extra installs it; emulators draw PDFs with it)
import pytest
from lxml import etree

from apunto_connect.cfdi import parse
from apunto_connect.models import Customer, Invoice, Issuer, LineItem, Tax
from apunto_connect.sandbox.documents import (
    CANCEL_NS,
    IssuedDocument,
    cancellation_receipt,
    issue_document,
    mexico_local,
)
from apunto_connect.sandbox.framework import SandboxClock

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
# 2025-03-01 18:00:00 UTC is 12:00 in Mexico City (UTC-6, no daylight saving since 2022).
NOON_IN_MEXICO = 1740852000.0


def freight_invoice(**changes) -> Invoice:
    invoice = Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[
            LineItem(
                "78101802", "E48", "Flete Veracruz – Ciudad de México", "1", "15000.50",
                unit_name="Servicio", taxes=[Tax.iva(), Tax.iva_withholding("0.04")],
            ),
            LineItem("78141500", "E48", "Maniobras de carga", "2", "750", taxes=[Tax.iva()]),
        ],
        series="A",
        folio="17",
    )
    return invoice.with_changes(**changes)


def pdf_text(pdf: bytes) -> str:
    """All text drawn in the PDF (fpdf2 compresses page streams with zlib)."""
    chunks = []
    # The end-of-line before "endstream" is left in: a compressed stream may itself end in a
    # byte that reads as "\r", and the decompressor stops at the stream's own end anyway.
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            chunks.append(zlib.decompressobj().decompress(stream))
        except zlib.error:
            chunks.append(stream)
    return b"".join(chunks).decode("latin-1")


@pytest.fixture(scope="module")
def issued() -> IssuedDocument:
    return issue_document(freight_invoice(), ISSUER, clock=SandboxClock(NOON_IN_MEXICO))


def test_uuid_is_a_fresh_upper_case_uuid4(issued):
    assert issued.uuid == issued.uuid.upper()
    assert uuidlib.UUID(issued.uuid).version == 4
    other = issue_document(freight_invoice(), ISSUER, clock=SandboxClock(NOON_IN_MEXICO))
    assert other.uuid != issued.uuid


def test_seeded_random_source_gives_reproducible_uuids():
    first = issue_document(freight_invoice(), ISSUER, clock=SandboxClock(), rng=random.Random(7))
    again = issue_document(freight_invoice(), ISSUER, clock=SandboxClock(), rng=random.Random(7))
    assert first.uuid == again.uuid


def test_stamp_time_is_the_sandbox_clock_in_mexico_local_time(issued):
    assert issued.stamped_at == datetime(2025, 3, 1, 12, 0, 0)
    assert issued.stamped_at.tzinfo is None
    clock = SandboxClock(NOON_IN_MEXICO)
    clock.advance(3600)
    later = issue_document(freight_invoice(), ISSUER, clock=clock)
    assert later.stamped_at == datetime(2025, 3, 1, 13, 0, 0)


def test_xml_parses_back_with_the_same_uuid_total_and_parties(issued):
    cfdi = parse(issued.xml)
    assert cfdi.version == "4.0"
    assert cfdi.stamp is not None
    assert cfdi.stamp.uuid == issued.uuid
    assert cfdi.stamp.stamped_at == issued.stamped_at
    assert cfdi.stamp.pac_rfc == "SAT970701NN3"
    assert cfdi.total == issued.total == freight_invoice().total
    # 15000.50 + 1500 = 16500.50; IVA 2640.08; IVA withheld 4 % of 15000.50 = 600.02
    assert issued.total == Decimal("18540.56")
    assert cfdi.issuer.rfc == "EKU9003173C9"
    assert cfdi.receiver.name == "UNIVERSIDAD ROBOTICA ESPAÑOLA"
    assert (cfdi.series, cfdi.folio) == ("A", "17")


def test_xml_says_it_is_not_fiscally_valid(issued):
    assert b"NOT a fiscally valid CFDI" in issued.xml
    assert b"UNSIGNED-NOT-FISCALLY-VALID/" in issued.xml
    assert "NO tiene validez fiscal" in issued.xml.decode()


def test_issue_date_defaults_to_the_stamp_time_but_keeps_an_explicit_one():
    clock = SandboxClock(NOON_IN_MEXICO)
    assert parse(issue_document(freight_invoice(), ISSUER, clock=clock).xml).issued_at == (
        datetime(2025, 3, 1, 12, 0, 0)
    )
    explicit = datetime(2025, 2, 28, 9, 30, 0)
    document = issue_document(freight_invoice(issued_at=explicit), ISSUER, clock=clock)
    assert parse(document.xml).issued_at == explicit


def test_invoice_issuer_wins_over_the_account_issuer():
    other = Issuer("IIA040805DZ4", "INDISTRIA ILUMINADORA DE ALMACENES", "601", "06000")
    document = issue_document(freight_invoice(issuer=other), ISSUER, clock=SandboxClock())
    assert parse(document.xml).issuer.rfc == "IIA040805DZ4"


def test_pdf_is_a_real_pdf_showing_parties_totals_uuid_and_notice(issued):
    assert issued.pdf.startswith(b"%PDF-")
    assert issued.pdf.rstrip().endswith(b"%%EOF")
    text = pdf_text(issued.pdf)
    for expected in (
        issued.uuid, "EKU9003173C9", "ESCUELA KEMPER URGATE", "URE180429TM6",
        "UNIVERSIDAD ROBOTICA ESPA\xd1OLA", "Maniobras de carga", "18,540.56",
        "NO TIENE VALIDEZ FISCAL", "verificacfdi",
    ):
        assert expected in text, expected


def test_pdf_survives_text_outside_latin1():
    invoice = freight_invoice().with_changes(
        items=[LineItem("78101802", "E48", "Flete 🚚 “express”", "1", "100", taxes=[Tax.iva()])]
    )
    document = issue_document(invoice, ISSUER, clock=SandboxClock())
    assert document.pdf.startswith(b"%PDF-")
    assert "Flete" in pdf_text(document.pdf)


def test_cancellation_receipt_is_a_sat_shaped_acuse():
    when = datetime(2025, 3, 2, 10, 15, 0)
    uuid = "2f1c3a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    replacement = "7A6B5C4D-3E2F-4A1B-8C9D-0E1F2A3B4C5D"
    xml = cancellation_receipt(uuid, "EKU9003173C9", "01", replacement, when)
    root = etree.fromstring(xml)
    ns = {"c": CANCEL_NS}
    assert root.tag == f"{{{CANCEL_NS}}}Acuse"
    assert root.get("Fecha") == "2025-03-02T10:15:00"
    assert root.get("RfcEmisor") == "EKU9003173C9"
    folios = root.find("c:Folios", ns)
    assert folios is not None
    assert folios.get("Motivo") == "01"
    assert folios.get("FolioSustitucion") == replacement
    assert folios.findtext("c:UUID", namespaces=ns) == uuid.upper()
    assert folios.findtext("c:EstatusUUID", namespaces=ns) == "201"
    assert b"NOT a valid cancellation receipt" in xml


def test_cancellation_receipt_without_replacement_has_no_substitution_folio():
    xml = cancellation_receipt("A" * 8 + "-0000-4000-8000-" + "0" * 12, "EKU9003173C9", "02",
                               None, datetime(2025, 1, 1))
    assert b"FolioSustitucion" not in xml


def test_mexico_local_drops_the_zone():
    assert mexico_local(NOON_IN_MEXICO) == datetime(2025, 3, 1, 12, 0, 0)
