from __future__ import annotations

import pytest

from apunto_connect.sat import (
    COMMON_UNITS,
    validate_description,
    validate_product_code,
    validate_product_name,
    validate_unit_code,
)
from apunto_connect.sat.products import unit_name


@pytest.mark.parametrize("name", ["AB", "Flete terrestre", "x" * 50, "  Ok  "])
def test_product_names_of_two_to_fifty_characters_pass(name: str) -> None:
    assert validate_product_name(name) == []


@pytest.mark.parametrize("name", ["", "A", " A ", "x" * 51])
def test_product_names_outside_two_to_fifty_characters_fail_with_a_vendor_code(name: str) -> None:
    (issue,) = validate_product_name(name)
    assert issue.code == "APUNTO-301" and issue.field == "name"


def test_description_limits_and_pipe() -> None:
    assert validate_description("Servicio de flete") == []
    assert [i.code for i in validate_description("")] == ["APUNTO-302"]
    assert [i.code for i in validate_description("x" * 1001)] == ["APUNTO-302"]
    assert [i.code for i in validate_description("a|b")] == ["APUNTO-303"]


@pytest.mark.parametrize("code", ["78101802", "01010101", "84111506"])
def test_product_codes_of_eight_digits_pass(code: str) -> None:
    assert validate_product_code(code) == []


@pytest.mark.parametrize("code", ["7810180", "781018021", "7810180A", "00000000", ""])
def test_malformed_product_codes_fail(code: str) -> None:
    assert [i.code for i in validate_product_code(code)] == ["CFDI40162"]


@pytest.mark.parametrize("code", ["99999999", "78101899", "10000000"])
def test_well_formed_codes_outside_the_catalog_fail(code: str) -> None:
    (issue,) = validate_product_code(code)
    assert issue.code == "CFDI40162" and issue.aliases == ("APUNTO-304",)


def test_unit_codes_are_case_sensitive() -> None:
    assert validate_unit_code("H87") == []
    assert validate_unit_code("Gd") == []  # mixed-case official codes exist
    (issue,) = validate_unit_code("h87")
    assert issue.code == "CFDI40165" and "'H87' (Pieza)" in issue.message
    assert issue.aliases == ("APUNTO-306",)
    (mixed,) = validate_unit_code("GD")
    assert "'Gd'" in mixed.message


@pytest.mark.parametrize("code", ["H", "H877", "H-7", "", "ZZZ", "Q99"])
def test_malformed_or_unknown_unit_codes_fail(code: str) -> None:
    assert [i.code for i in validate_unit_code(code)] == ["CFDI40165"]


def test_common_units_have_names() -> None:
    assert COMMON_UNITS["E48"] == "Unidad de servicio"
    assert unit_name("H87") == "Pieza" and unit_name("ZZZ") is None
    assert unit_name("ZZ") == "Mutuamente definido"  # beyond the common ones: the catalog


@pytest.mark.parametrize(
    "check",
    [validate_product_name, validate_description, validate_product_code, validate_unit_code],
)
def test_non_text_is_an_issue_not_an_exception(check: object) -> None:
    assert [i.code for i in check(None)] == ["APUNTO-300"]  # type: ignore[operator]
