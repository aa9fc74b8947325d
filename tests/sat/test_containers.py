from __future__ import annotations

import pytest

from apunto_connect.sat import container_check_digit, validate_container_number


@pytest.mark.parametrize(
    "number", ["CSQU3054383", "TEXU3070079", "MSKU6011672", "GESU3927660", "MWCU6059784"]
)
def test_known_good_container_numbers_pass(number: str) -> None:
    result = validate_container_number(number)
    assert result.valid and result.issues == ()
    assert (result.owner_code, result.category) == (number[:3], "U")


def test_remainder_ten_is_written_as_zero() -> None:
    assert container_check_digit("GESU392766") == "0"


@pytest.mark.parametrize(("number", "expected"), [("MSCU1234567", "6"), ("APZU7777777", "4")])
def test_common_placeholders_fail_the_check_digit(number: str, expected: str) -> None:
    result = validate_container_number(number)
    assert not result.valid
    assert result.errors[0].code == "APUNTO-404" and expected in result.errors[0].message


def test_separators_and_case_are_normalised() -> None:
    result = validate_container_number("csqu 305438-3")
    assert result.valid and result.normalized == "CSQU3054383"


def test_category_letter_must_be_u_j_z_or_r() -> None:
    assert validate_container_number("CSQA3054383").errors[0].code == "APUNTO-403"


def test_non_iso_equipment_gets_warnings_instead_of_errors() -> None:
    result = validate_container_number("MSCU1234567", iso_only=False)
    assert result.valid and [w.code for w in result.warnings] == ["APUNTO-404"]
    assert validate_container_number("TRAILER-42", iso_only=False).valid


@pytest.mark.parametrize("junk", [None, "", "X", 12345678901, "ÑÑÑU3054383"])
def test_junk_is_invalid_not_an_exception(junk: object) -> None:
    assert not validate_container_number(junk).valid


def test_check_digit_helper_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        container_check_digit("ABC")
    with pytest.raises(ValueError):
        container_check_digit("ABC*123456")
