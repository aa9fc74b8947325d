from __future__ import annotations

import calendar
import datetime
import random

import pytest

from apunto_connect.errors import Severity
from apunto_connect.sat import (
    RfcCheck,
    RfcKind,
    check_digit,
    is_valid_rfc,
    normalize_rfc,
    validate_rfc,
)
from apunto_connect.sat.rfc import INCONVENIENT_WORDS

SAT_TEST_MORALES = [
    "EKU9003173C9", "EWE1709045U0", "H&E951128469", "HAÑ930228SM9", "IIA040805DZ4",
    "IVD920810GU2", "IXS7607092R5", "JES900109Q90", "KIJ0906199R1", "L&O950913MSA",
    "OÑO120726RX3", "S&S051221SE2", "URE180429TM6", "XIA190128J61", "ZUÑ920208KL4",
]  # fmt: skip
SAT_TEST_FISICAS = [
    "CACX7605101P8", "CAÑF770131PA3", "FUNK671228PH6", "IAÑL750210963", "JUFA7608212V6",
    "KAHO641101B39", "KICR630120NX3", "LIÑI920228KS8", "MISC491214B86", "RAQÑ7701212M3",
    "WATM640917J45", "WERX631016S30", "XAMA620210DQ5", "XIQB891116QE4", "XOJI740919U48",
]  # fmt: skip


@pytest.mark.parametrize(
    ("rfc", "digit"),
    [("GODE561231GR8", "8"), ("EKU9003173C9", "9"), ("XIQB891116QE4", "4"),
     ("L&O950913MSA", "A"), ("WERX631016S30", "0")],
)  # fmt: skip
def test_research_worked_examples_compute_their_check_digit(rfc: str, digit: str) -> None:
    assert check_digit(rfc[:-1]) == digit
    result = validate_rfc(rfc, strict=True)
    assert result.valid and result.issues == ()


@pytest.mark.parametrize("rfc", SAT_TEST_MORALES)
def test_all_sat_test_morales_are_valid_morales(rfc: str) -> None:
    result = validate_rfc(rfc, strict=True)
    assert result.valid, result.issues
    assert result.kind is RfcKind.MORAL and result.kind == "moral"
    assert result.warnings == [] and result.errors == []


@pytest.mark.parametrize("rfc", SAT_TEST_FISICAS)
def test_all_sat_test_fisicas_are_valid_fisicas(rfc: str) -> None:
    result = validate_rfc(rfc, strict=True)
    assert result.valid, result.issues
    assert result.kind == "fisica"


def test_generic_rfcs_are_valid_and_recognised() -> None:
    national = validate_rfc("XAXX010101000", strict=True)
    foreign = validate_rfc("xexx-010101-000", strict=True)
    assert national.valid and national.kind == "generic_national" and national.is_generic
    assert foreign.valid and foreign.kind == "generic_foreign"
    assert foreign.normalized == "XEXX010101000"


def test_wrong_check_digit_is_a_warning_not_an_error() -> None:
    result = validate_rfc("MCI7306249Y1")
    assert result.valid
    assert [w.code for w in result.warnings] == ["APUNTO-109"]
    assert result.warnings[0].severity is Severity.WARNING
    assert "'6'" in result.warnings[0].message


def test_strict_mode_makes_the_wrong_check_digit_an_error() -> None:
    result = validate_rfc("MCI7306249Y1", strict=True)
    assert not result.valid
    assert [e.code for e in result.errors] == ["APUNTO-109"]
    assert not is_valid_rfc("MCI7306249Y1", strict=True)
    assert is_valid_rfc("MCI7306249Y1")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("gode561231gr8", "GODE561231GR8"),
        ("GODE-561231-GR8", "GODE561231GR8"),
        (" eku 900317 3c9 ", "EKU9003173C9"),
        ("hañ930228sm9", "HAÑ930228SM9"),
        ("l&o950913msa", "L&O950913MSA"),
    ],
)
def test_lowercase_and_separators_are_normalised(raw: str, normalized: str) -> None:
    result = validate_rfc(raw)
    assert result.valid
    assert result.normalized == normalized
    assert normalize_rfc(raw) == normalized


@pytest.mark.parametrize("raw", ["EKU.900317.3C9", "GZ.I631207D57", "EKU_9003173C9"])
def test_dots_and_underscores_are_not_separators(raw: str) -> None:
    # Only spaces and dashes are how people group an RFC; a dot is a typo to show, not to hide.
    assert not validate_rfc(raw).valid


@pytest.mark.parametrize(
    "raw",
    ["HAÃ‘930228SM9", "haã±930228sm9", "HA\u00c3\u0091930228SM9", "HAN\u0303930228SM9"],
)
def test_mis_encoded_enye_is_repaired_with_a_warning(raw: str) -> None:
    result = validate_rfc(raw)
    assert result.valid
    assert result.normalized == "HAÑ930228SM9"
    if "\u0303" not in raw:
        assert [w.code for w in result.warnings] == ["APUNTO-111"]


def test_html_escaped_ampersand_is_decoded_with_a_warning() -> None:
    result = validate_rfc("L&amp;O950913MSA")
    assert result.valid and result.normalized == "L&O950913MSA"
    assert [w.code for w in result.warnings] == ["APUNTO-111"]


def test_hash_stands_for_enye_with_a_warning() -> None:
    result = validate_rfc("HA#930228SM9")
    assert result.valid and result.normalized == "HAÑ930228SM9"
    assert [w.code for w in result.warnings] == ["APUNTO-112"]


def test_replacement_character_is_an_error_that_names_the_encoding() -> None:
    result = validate_rfc("HA\ufffd930228SM9")
    assert not result.valid
    assert "APUNTO-113" in [e.code for e in result.errors]


@pytest.mark.parametrize("rfc", ["GODE000229GR8", "GODE040229GR8", "GODE960229GR8"])
def test_february_29_is_valid_in_leap_years_of_either_century(rfc: str) -> None:
    fixed = rfc[:-1] + check_digit(rfc[:-1])
    assert validate_rfc(fixed).valid


@pytest.mark.parametrize(
    ("rfc", "code"),
    [
        ("GODE010229GR8", "APUNTO-106"),  # not a leap year
        ("GODE561331GR8", "APUNTO-106"),  # month 13
        ("GODE560431GR8", "APUNTO-106"),  # 31 April
        ("GODE561200GR8", "APUNTO-106"),  # day 00
        ("GODE5612A1GR8", "APUNTO-105"),  # letter in the date
        ("GODE561231GR", "APUNTO-108"),  # 12 chars: moral shape with a letter as check
        ("GODE561231GR8X", "APUNTO-103"),
        ("GOD", "APUNTO-103"),
        ("", "APUNTO-102"),
        ("G0DE561231GR8", "APUNTO-104"),  # digit in the name block
        ("GODE561231G*8", "APUNTO-107"),
        ("GODE561231G08", "APUNTO-107"),  # 0 never appears in a homoclave
        ("GODE561231WR8", "APUNTO-107"),  # first homoclave char goes up to V
        ("GODE561231GO8", "APUNTO-107"),  # no O in the homoclave table
        ("GODE561231GRB", "APUNTO-108"),  # check char is a digit or A
        ("BUEY561231GR8", "APUNTO-110"),
        ("PUTO561231GR8", "APUNTO-110"),
    ],
)
def test_invalid_rfcs_are_rejected_with_the_reason(rfc: str, code: str) -> None:
    result = validate_rfc(rfc)
    assert not result.valid
    assert not is_valid_rfc(rfc)
    assert code in [e.code for e in result.errors], result.issues
    assert all(e.field == "rfc" and e.message and e.message_es for e in result.errors)


@pytest.mark.parametrize("value", [None, 123, b"EKU9003173C9", ["EKU9003173C9"], 1.5, object()])
def test_non_text_input_is_invalid_not_an_exception(value: object) -> None:
    result = validate_rfc(value)
    assert not result.valid and result.kind is None
    assert [e.code for e in result.errors] == ["APUNTO-101"]


def test_inconvenient_word_only_matters_for_fisicas() -> None:
    body = "PUT211201AX"
    assert validate_rfc(body + check_digit(body)).valid  # PUT + 3 letters is a moral


def test_kind_is_known_for_twelve_and_thirteen_characters_even_when_invalid() -> None:
    assert validate_rfc("GODE561331GR8").kind == "fisica"
    assert validate_rfc("EKU9013173C9").kind == "moral"
    assert validate_rfc("ABC").kind is None


def test_result_is_truthy_only_when_valid_and_has_a_readable_repr() -> None:
    assert validate_rfc("EKU9003173C9")
    assert not validate_rfc("nope")
    assert "valid=True" in repr(validate_rfc("EKU9003173C9"))


def test_results_compare_by_value() -> None:
    assert validate_rfc("EKU9003173C9") == validate_rfc("eku9003173c9").__class__(
        "EKU9003173C9", True
    )


def test_check_digit_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        check_digit("ABC")
    with pytest.raises(ValueError):
        check_digit("GOD*561231GR")


# --- the fast paths give the verdicts the rules describe ---------------------------------------


def _days_in_month(yy: int, month: int) -> int:
    # The century is not encoded; 2000 + YY has the leap years the RFC rule wants (2000 is one).
    return calendar.monthrange(2000 + yy, month)[1] if 1 <= month <= 12 else 0


def test_every_calendar_date_and_nothing_else_is_accepted() -> None:
    for yy in range(100):
        for month in range(14):
            for day in range(33):
                date = f"{yy:02d}{month:02d}{day:02d}"
                real = 1 <= day <= _days_in_month(yy, month)
                for name in ("XYZ", "XYZW"):
                    assert validate_rfc(f"{name}{date}GR8").valid is real, (name, date)


@pytest.mark.parametrize("yy", ["00", "04", "48", "96"])
def test_february_29_of_a_leap_year_passes_strict_mode(yy: str) -> None:
    body = f"GODE{yy}0229GR"
    assert validate_rfc(body + check_digit(body), strict=True).valid


@pytest.mark.parametrize("word", sorted(INCONVENIENT_WORDS))
def test_each_inconvenient_word_is_rejected_and_only_it(word: str) -> None:
    body = f"{word}561231GR"
    assert not validate_rfc(body + check_digit(body)).valid
    for last in "ABCDEFGHIJKLMNOPQRSTUVWXYZÑ&":
        other = word[:3] + last
        body = f"{other}561231GR"
        assert validate_rfc(body + check_digit(body)).valid is (other not in INCONVENIENT_WORDS)
    moral = f"{word[:3]}561231GR"
    assert validate_rfc(moral + check_digit(moral)).valid  # only a física's name block counts


def _random_bodies(count: int) -> list[str]:
    rnd = random.Random(20250301)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZÑ&"
    bodies = []
    while len(bodies) < count:
        name = "".join(rnd.choice(letters) for _ in range(rnd.choice((3, 4))))
        if name in INCONVENIENT_WORDS:
            continue
        day = datetime.date(1940, 1, 1) + datetime.timedelta(days=rnd.randrange(30000))
        homoclave = rnd.choice("123456789ABCDEFGHIJKLMNPQRSTUV") + rnd.choice(
            "123456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
        )
        bodies.append(f"{name}{day:%y%m%d}{homoclave}")
    return bodies


def test_strict_mode_accepts_exactly_the_computed_check_character() -> None:
    for body in _random_bodies(500):
        passing = [c for c in "0123456789A" if validate_rfc(body + c, strict=True).valid]
        assert passing == [check_digit(body)], body
        for c in "0123456789A":
            result = validate_rfc(body + c)
            assert result.valid and result.check_digit_ok is (c == passing[0])
            assert is_valid_rfc(body + c) and is_valid_rfc(body + c, strict=True) is (
                c == passing[0]
            )


def test_check_digit_of_a_moral_uses_the_leading_space() -> None:
    # EKU9003173C9: the padding space (value 37) has weight 13.
    assert check_digit("EKU9003173C") == "9"
    assert check_digit(" EKU9003173C") == "9"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("\tgode561231gr8\r\n", "GODE561231GR8"),
        ("GODE\u00a0561231\u00a0GR8", "GODE561231GR8"),
        ("Gode561231Gr8", "GODE561231GR8"),
        ("hañ-930228-sm9", "HAÑ930228SM9"),
        ("l&o 950913 msa", "L&O950913MSA"),
    ],
)
def test_cleaning_paths_agree_with_normalize_rfc(raw: str, normalized: str) -> None:
    result = validate_rfc(raw, strict=True)
    assert result.valid and result.normalized == normalized == normalize_rfc(raw)


@pytest.mark.parametrize("raw", ["GODE561231GR", "GODE561231GRX", "1234567890123", "GOD-E56"])
def test_clean_or_cleaned_invalid_input_keeps_its_normalised_form(raw: str) -> None:
    result = validate_rfc(raw)
    assert not result.valid and result.normalized == normalize_rfc(raw)
    assert result.errors


def test_str_subclasses_are_validated_as_plain_text() -> None:
    class Text(str):
        pass

    result = validate_rfc(Text("EKU9003173C9"), strict=True)
    assert result.valid and type(result.normalized) is str
    assert not validate_rfc(Text("EKU9013173C9")).valid


def test_result_is_a_value_built_the_same_way_as_by_hand() -> None:
    found = validate_rfc("eku-900317-3c9")
    assert found == RfcCheck("EKU9003173C9", True)
    assert hash(found) == hash(RfcCheck("EKU9003173C9", True))
    assert found != RfcCheck("EKU9003173C9", True, strict=True)
    assert found.notes == () and found.strict is False
