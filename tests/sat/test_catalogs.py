from __future__ import annotations

import importlib.util
import json as _json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from apunto_connect.errors import ValidationError
from apunto_connect.money import round_money
from apunto_connect.sat import catalogs
from apunto_connect.sat.catalogs import TaxFactor, TaxKind


@pytest.mark.parametrize(
    ("code", "decimals"),
    [("MXN", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("CLP", 0), ("BHD", 3), ("KWD", 3),
     ("CLF", 4), ("XXX", 0), ("usd", 2), ("NOPE", 2)],
)  # fmt: skip
def test_currency_decimals_follow_iso_4217(code: str, decimals: int) -> None:
    assert catalogs.currency_decimals(code) == decimals


def test_round_money_uses_the_catalog() -> None:
    assert round_money(Decimal("10.5"), "JPY") == Decimal("11")
    assert round_money(Decimal("1.23456"), "KWD") == Decimal("1.235")


def test_currency_catalog_is_complete_enough() -> None:
    table = catalogs.currencies()
    assert len(table) >= 175
    assert table["MXN"].decimals == 2 and catalogs.is_currency("MXN")
    assert not catalogs.is_currency("mxn")


def test_countries_are_alpha3() -> None:
    assert catalogs.is_country("MEX") and catalogs.is_country("USA")
    assert not catalogs.is_country("MX")
    assert len(catalogs.countries()) >= 240


def test_regimes_carry_persona_flags() -> None:
    assert catalogs.TAX_REGIMES["601"].allows("moral")
    assert not catalogs.TAX_REGIMES["601"].allows("fisica")
    assert catalogs.TAX_REGIMES["626"].allows("fisica") and catalogs.TAX_REGIMES["626"].allows(
        "moral"
    )
    assert len(catalogs.TAX_REGIMES) == 19
    for retired in ("609", "628", "629", "630"):
        assert retired not in catalogs.TAX_REGIMES


def test_cfdi_uses_know_their_regimes() -> None:
    assert "616" in catalogs.CFDI_USES["S01"].regimes
    assert "616" not in catalogs.CFDI_USES["G03"].regimes
    assert "616" in catalogs.CFDI_USES["G02"].regimes
    assert not catalogs.CFDI_USES["D01"].allows("moral")
    assert catalogs.CFDI_USES["CN01"].regimes == frozenset({"605"})
    assert "P01" not in catalogs.CFDI_USES


def test_small_catalogs_have_their_codes() -> None:
    assert len(catalogs.PAYMENT_FORMS) == 22 and "99" in catalogs.PAYMENT_FORMS
    assert set(catalogs.RELATION_TYPES) == {f"0{i}" for i in range(1, 8)}
    assert set(catalogs.EXPORT_CODES) == {"01", "02", "03", "04"}
    assert len(catalogs.TAX_OBJECTS) == 8
    assert catalogs.MONTHS["13"] == "Enero-Febrero" and len(catalogs.MONTHS) == 18
    assert set(catalogs.PERIODICITIES) == {"01", "02", "03", "04", "05"}
    assert catalogs.TAXES["002"] == "IVA"
    assert catalogs.RelationType.SUBSTITUTION == "04"


def test_rate_rules() -> None:
    iva = catalogs.rate_rule(TaxKind.IVA, TaxFactor.RATE, False)
    assert iva is not None and iva.allows(Decimal("0.16")) and not iva.allows(Decimal("0.15"))
    withheld = catalogs.rate_rule(TaxKind.IVA, TaxFactor.RATE, True)
    assert withheld is not None and withheld.allows(Decimal("0.106667"))
    assert catalogs.rate_rule(TaxKind.ISR, TaxFactor.RATE, False) is None
    isr = catalogs.rate_rule(TaxKind.ISR, TaxFactor.RATE, True)
    assert isr is not None and isr.describe() == "0.000000–0.350000"


# -- the large catalogs shipped as package data ------------------------------------------------



ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "apunto_connect" / "sat" / "data" / "catalogs"


def test_product_unit_and_postal_code_lookups() -> None:
    assert catalogs.product("78101800") == catalogs.Product("78101800", "Transporte de carga por carretera")
    assert catalogs.product("01010101").description == "No existe en el catálogo"
    assert catalogs.product("99999999") is None
    assert catalogs.unit("H87") == catalogs.Unit("H87", "Pieza")
    assert catalogs.unit("Gd") is not None and catalogs.unit("GD") is None  # case-sensitive
    assert catalogs.unit("ZZZ") is None
    place = catalogs.postal_code("26015")
    assert place is not None and (place.state, place.municipality, place.locality) == ("COA", "025", "06")
    assert place.in_border_region and place.time_zone == "Tiempo del Centro en Frontera"
    assert catalogs.postal_code("00001") is None


def test_carta_porte_catalogs() -> None:
    assert catalogs.state("JAL").name == "Jalisco" and catalogs.state("TX").country == "USA"  # type: ignore[union-attr]
    assert catalogs.municipality("COA", "025").name == "Piedras Negras"  # type: ignore[union-attr]
    assert catalogs.locality("COA", "06").name == "Piedras Negras"  # type: ignore[union-attr]
    assert catalogs.municipality("COA", "999") is None
    names = {c.name for c in catalogs.colonias("26015")}
    assert "Los Laureles" in names and catalogs.colonias("00001") == ()


def test_search_finds_freight_codes_without_accents_or_case() -> None:
    codes = [p.code for p in catalogs.search_products("FLETES")]
    assert "78121603" in codes
    assert [p.code for p in catalogs.search_products("transporte carga carretera")][:1] == ["78101800"]
    assert catalogs.search_products("   ") == [] and len(catalogs.search_products("servicios", limit=3)) == 3


def test_postal_code_time_zones() -> None:
    from datetime import datetime, timezone

    moment = datetime(2025, 3, 1, 18, 0, tzinfo=timezone.utc)
    offsets = {
        code: catalogs.postal_code(code).tzinfo.utcoffset(moment.replace(tzinfo=None))  # type: ignore[union-attr]
        for code in ("01000", "22000", "77500", "80000")
    }
    hours = {code: offset.total_seconds() / 3600 for code, offset in offsets.items()}  # type: ignore[union-attr]
    assert hours == {"01000": -6, "22000": -8, "77500": -5, "80000": -7}


@pytest.mark.parametrize("value", [None, 26015, b"26015", ["26015"]])
def test_lookups_refuse_non_text_with_a_typed_error(value: object) -> None:
    for lookup in (catalogs.product, catalogs.unit, catalogs.postal_code, catalogs.state, catalogs.colonias):
        with pytest.raises(ValidationError):
            lookup(value)


def test_catalog_version_names_its_source_and_counts() -> None:
    version = catalogs.catalog_version()
    assert "satcfdi" in version.source and version.rows["products"] == 52514
    assert version.rows["postal_codes"] == 95749


def test_shipped_data_is_small() -> None:
    assert sum(path.stat().st_size for path in DATA.iterdir()) < 5_000_000


def test_importing_the_sdk_reads_no_catalog() -> None:
    code = (
        "import apunto_connect, apunto_connect.sat; from apunto_connect.sat import catalog_data; "
        "print(len(catalog_data._TABLES))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_sat_catalogs", ROOT / "scripts" / "build_sat_catalogs.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_script_regenerates_the_shipped_files_from_satcfdi(tmp_path: Path) -> None:
    import satcfdi  # noqa: F401  (the test extra installs it)
    script = _script()
    assert script.main(["--satcfdi", "--version", "satcfdi-26.10.1", "--out", str(tmp_path)]) == 0
    for path in DATA.glob("*.tsv.gz"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
    shipped = _json.loads((DATA / "version.json").read_text())
    assert _json.loads((tmp_path / "version.json").read_text())["rows"] == shipped["rows"]


def test_the_script_reads_the_sats_workbook_layout(tmp_path: Path) -> None:
    script = _script()
    # The SAT's sheets open with title rows; numeric codes may have lost their leading zeros.
    sheet = [
        ["Catálogo de códigos postales", None, None],
        ["Versión", "20260101", None],
        ["c_CodigoPostal", "c_Estado", "c_Municipio", "c_Localidad", "Estímulo Franja Fronteriza",
         "Fecha inicio de vigencia", "Descripción del Huso Horario"],
        [1000.0, "CMX", 10.0, 1.0, 0.0, "2019-01-01", "Tiempo del Centro"],
        ["26015", "COA", "025", "06", "1", "2019-01-01", "Tiempo del Centro en Frontera"],
        [None, None, None],
    ]  # fmt: skip
    columns = script.CATALOGS["postal_codes"][1]
    rows = list(script.rows_from_sheet(sheet, columns))
    padded = script._pad_codes(rows, script._WIDTHS["postal_codes"])
    assert padded == [
        ("01000", "CMX", "010", "01", "0", "Tiempo del Centro"),
        ("26015", "COA", "025", "06", "1", "Tiempo del Centro en Frontera"),
    ]
    counts = script.write({"postal_codes": padded}, tmp_path, "SAT test workbook", "20260101")
    assert counts == {"postal_codes": 2}
    with pytest.raises(SystemExit):
        list(script.rows_from_sheet([["no", "header"]], columns))


FIXTURES = ROOT / "tests" / "cfdi" / "fixtures"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_the_valid_fixtures_pass_catalog_membership(name: str) -> None:
    # Real-shaped documents from the SAT's and PACs' samples: no false positives.
    from apunto_connect.cfdi import parse
    from apunto_connect.sat import validate_product_code, validate_unit_code

    cfdi = parse((FIXTURES / name).read_bytes())
    for concept in cfdi.concepts:
        assert validate_product_code(concept.product_code) == []
        assert validate_unit_code(concept.unit_code) == []
    if cfdi.place_of_issue is not None:
        assert catalogs.postal_code(cfdi.place_of_issue) is not None


@pytest.mark.parametrize(
    ("zip_code", "winter", "summer"),
    [("01000", -6, -6), ("26015", -6, -5), ("32000", -7, -6), ("22000", -8, -7), ("77500", -5, -5),
     ("83000", -7, -7)],
)  # fmt: skip
def test_utc_offsets_follow_the_border_daylight_saving(zip_code: str, winter: int, summer: int) -> None:
    from datetime import datetime

    place = catalogs.postal_code(zip_code)
    assert place is not None
    hours = [place.utc_offset(datetime(2025, month, 15, 12)).total_seconds() / 3600 for month in (1, 7)]
    assert hours == [winter, summer]
