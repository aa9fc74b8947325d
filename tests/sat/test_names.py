from __future__ import annotations

import pytest

from apunto_connect.sat import legal_name_warnings, normalize_legal_name, split_capital_regime


@pytest.mark.parametrize(
    ("raw", "base", "regime"),
    [
        ("ACME, S.A. DE C.V.", "ACME", "S.A. DE C.V."),
        ("Acme S.A. de C.V.", "ACME", "S.A. DE C.V."),
        ("ACME SA DE CV", "ACME", "SA DE CV"),
        ("ACME S. A. DE C. V.", "ACME", "S. A. DE C. V."),
        ("ACME S.A DE C.V", "ACME", "S.A DE C.V"),
        ("ACME SADECV", "ACME", "SADECV"),
        ("KIJ, S.A DE C.V.", "KIJ", "S.A DE C.V."),
        ("ACME S.A.", "ACME", "S.A."),
        ("ACME S. DE R.L. DE C.V.", "ACME", "S. DE R.L. DE C.V."),
        ("ACME S. DE R.L.", "ACME", "S. DE R.L."),
        ("ACME SRL DE CV", "ACME", "SRL DE CV"),
        ("ACME S.A.P.I. DE C.V.", "ACME", "S.A.P.I. DE C.V."),
        ("ACME SAPI DE CV", "ACME", "SAPI DE CV"),
        ("ACME S.A.B. DE C.V.", "ACME", "S.A.B. DE C.V."),
        ("ACME S.A.S.", "ACME", "S.A.S."),
        ("ACME S.A.S. DE C.V.", "ACME", "S.A.S. DE C.V."),
        ("ACME S.C.", "ACME", "S.C."),
        ("FUNDACION ACME A.C.", "FUNDACION ACME", "A.C."),
        ("ACME S. EN C.", "ACME", "S. EN C."),
        ("ACME S. EN C. POR A.", "ACME", "S. EN C. POR A."),
        ("ACME S. EN N.C.", "ACME", "S. EN N.C."),
        ("ESCUELA WILSON ESQUIVEL S DE CV", "ESCUELA WILSON ESQUIVEL", "S DE CV"),
        ("FINANCIERA ACME, S.A. DE C.V., SOFOM, E.N.R.", "FINANCIERA ACME", "S.A. DE C.V., SOFOM, E.N.R."),
        ("FINANCIERA ACME SOFOM ENR", "FINANCIERA ACME", "SOFOM ENR"),
        ("ACME SOCIEDAD ANONIMA DE CAPITAL VARIABLE", "ACME", "SOCIEDAD ANONIMA DE CAPITAL VARIABLE"),
        ("ACME SOCIEDAD ANÓNIMA", "ACME", "SOCIEDAD ANÓNIMA"),
        ("ACME SOCIEDAD ANONIMA PROMOTORA DE INVERSION DE CAPITAL VARIABLE", "ACME",
         "SOCIEDAD ANONIMA PROMOTORA DE INVERSION DE CAPITAL VARIABLE"),
        ("ACME SOCIEDAD DE RESPONSABILIDAD LIMITADA DE CAPITAL VARIABLE", "ACME",
         "SOCIEDAD DE RESPONSABILIDAD LIMITADA DE CAPITAL VARIABLE"),
        ("ACME SOCIEDAD CIVIL", "ACME", "SOCIEDAD CIVIL"),
        ("ACME ASOCIACION CIVIL", "ACME", "ASOCIACION CIVIL"),
        ("ACME SOCIEDAD POR ACCIONES SIMPLIFICADA", "ACME", "SOCIEDAD POR ACCIONES SIMPLIFICADA"),
        ("ACME S.P.R. DE R.L.", "ACME", "S.P.R. DE R.L."),
        ("ACME S.C. DE R.L.", "ACME", "S.C. DE R.L."),
        ("ACME I.A.P.", "ACME", "I.A.P."),
        ("ACME S.A. DE C.V.,", "ACME", "S.A. DE C.V."),
        ("  acme   logística ,  s.a.  de  c.v. ", "ACME LOGÍSTICA", "S.A. DE C.V."),
    ],
)  # fmt: skip
def test_trailing_capital_regime_is_split_off(raw: str, base: str, regime: str) -> None:
    assert split_capital_regime(raw) == (base, regime)
    assert normalize_legal_name(raw) == base


@pytest.mark.parametrize(
    "name",
    [
        "LA SOCIEDAD ANONIMA DEL NORTE",
        "PASE, SERVICIOS ELECTRONICOS",
        "CASA",
        "COMERCIAL SAC",
        "ASOCIACION CIVIL DE VECINOS DE SAN PEDRO",
        "S.A. DE C.V.",  # nothing would be left
    ],
)
def test_names_without_a_trailing_regime_keep_every_word(name: str) -> None:
    assert split_capital_regime(name) == (name, None)


def test_accents_enye_ampersand_and_inner_commas_are_kept() -> None:
    assert normalize_legal_name("Hermanos Ñarváez & Hijos, del Norte S.C.") == (
        "HERMANOS ÑARVÁEZ & HIJOS, DEL NORTE"
    )


def test_whitespace_is_collapsed_and_case_raised() -> None:
    assert normalize_legal_name(" escuela\tkemper   urgate ") == "ESCUELA KEMPER URGATE"


def test_non_text_gives_an_empty_name() -> None:
    assert split_capital_regime(None) == ("", None)
    assert normalize_legal_name(42) == ""


def test_legal_name_warnings_point_out_what_to_compare_with_the_csf() -> None:
    codes = [i.code for i in legal_name_warnings("Ñandú & Cía, Logística  S.A. de C.V.")]
    assert codes == ["APUNTO-202", "APUNTO-203", "APUNTO-204", "APUNTO-205", "APUNTO-206",
                     "APUNTO-207", "APUNTO-208"]  # fmt: skip
    assert all(i.severity.value == "warning" for i in legal_name_warnings("Acme, S.A."))


def test_regime_warning_suggests_the_name_without_it() -> None:
    (warning,) = legal_name_warnings("ACME SA DE CV")
    assert "'ACME'" in warning.message and "'ACME'" in warning.message_es


def test_clean_name_has_no_warnings() -> None:
    assert legal_name_warnings("ESCUELA KEMPER URGATE") == []


def test_empty_or_non_text_name_is_an_error() -> None:
    assert [i.code for i in legal_name_warnings("   ")] == ["APUNTO-201"]
    assert [i.code for i in legal_name_warnings(None)] == ["APUNTO-201"]
