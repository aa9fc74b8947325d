from __future__ import annotations

from decimal import Decimal

import pytest

from apunto_connect.cfdi import parse, parse_many, to_records
from apunto_connect.cfdi.records import CONCEPT_COLUMNS, DOCUMENT_COLUMNS
from apunto_connect.errors import ValidationError
from tests.cfdi.samples import FIXTURES, fixture_bytes


def test_document_rows_have_fixed_columns_and_decimals() -> None:
    rows = to_records(parse_many(FIXTURES))
    assert len(rows) == 6
    assert all(tuple(row) == DOCUMENT_COLUMNS for row in rows)
    by_file = {row["source"].rsplit("/", 1)[-1]: row for row in rows}
    invoice = by_file["invoice40_taxes_retentions.xml"]
    assert invoice["total"] == Decimal("12433.33") and isinstance(invoice["total"], Decimal)
    assert invoice["iva_transferred"] == Decimal("2000.00")
    assert invoice["isr_withheld"] == Decimal("1000.00")
    assert invoice["iva_withheld"] == Decimal("1066.67")
    assert invoice["ieps_transferred"] is None
    assert invoice["related_uuids"] == "0B0C2E54-7D2A-4C55-9A2B-1F3E5D7C9A11"
    assert invoice["uuid"] == "3F2A9C1E-5B7D-4E8F-A1C2-9D0E8F7A6B5C"
    assert invoice["complements"] == "TimbreFiscalDigital"
    payment = by_file["payment40_pagos20.xml"]
    assert payment["payments_total"] == Decimal("11400.00") and payment["paid_documents"] == 2
    assert by_file["payment33_pagos10.xml"]["payments_total"] == Decimal("4999.99")
    assert by_file["cartaporte31_freight.xml"]["carta_porte_id"].startswith("CCC")
    assert by_file["global40_unknown_complement.xml"]["complements"] == "TimbreFiscalDigital,LeyendasFiscales"


def test_concept_rows_repeat_document_keys() -> None:
    cfdi = parse(fixture_bytes("invoice40_taxes_retentions.xml"), source="f.xml")
    rows = to_records([cfdi], level="concept")
    assert len(rows) == 2
    assert all(tuple(row) == DOCUMENT_COLUMNS + CONCEPT_COLUMNS for row in rows)
    assert {row["uuid"] for row in rows} == {cfdi.uuid}
    assert [row["concept_index"] for row in rows] == [0, 1]
    assert rows[0]["concept_withheld"] == Decimal("2066.67")
    assert rows[1]["concept_discount"] == Decimal("1.00")
    assert rows[1]["iva_rate"] == Decimal("0.160000")


def test_single_document_is_accepted() -> None:
    assert len(to_records(parse(fixture_bytes("invoice33.xml")))) == 1


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValidationError):
        to_records([], level="line")  # type: ignore[arg-type]


def test_rows_load_into_pandas() -> None:
    import pandas  # the test extra installs it
    frame = pandas.DataFrame(to_records(parse_many(FIXTURES), level="concept"))
    assert len(frame) == 8
    assert frame["amount"].map(type).eq(Decimal).all()
