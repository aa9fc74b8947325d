"""Razón social / Nombre helpers for CFDI 4.0.

Since CFDI 4.0 the SAT compares the Nombre of the issuer and the receiver with its own records,
where a persona moral's name is the denominación *without* the régimen de capital (the
Constancia de Situación Fiscal shows "SA DE CV" in a separate field). Sending
"ACME, S.A. DE C.V." where the SAT holds "ACME" gets the CFDI rejected (CFDI40139 for the
issuer, CFDI40145 for the receiver).

These helpers upper-case, collapse whitespace and drop a *trailing* régimen de capital. They do
not touch accents, Ñ, ``&`` or inner commas: the SAT matches the registered name exactly, so
:func:`legal_name_warnings` points them out instead of changing them.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import Issue, Severity

__all__ = ["legal_name_warnings", "normalize_legal_name", "split_capital_regime"]

FIELD = "legal_name"

# Building blocks: an abbreviation letter may be followed by a dot and/or spaces, so "S.A.",
# "S. A.", "SA" and "S.A" all match; words may be glued ("SADECV") or spaced.
_GAP = r"\.?\s*"


def _abbr(letters: str) -> str:
    return "".join(re.escape(letter) + _GAP for letter in letters)


_DE = r"DE\s*"
_CV = _DE + _abbr("CV")  # DE C.V.
_RL = _DE + _abbr("RL")  # DE R.L.
_RI = _DE + _abbr("RI")  # DE R.I.
_A, _O, _I = "[AÁ]", "[OÓ]", "[IÍ]"
_CAPITAL_VARIABLE = r"(?:\s*DE\s+CAPITAL\s+VARIABLE)?"
_LIMITADA = r"RESPONSABILIDAD\s+LIMITADA"

# Each alternative is one régimen de capital; order matters only for readability because the
# pattern is anchored at the end and the longest trailing match wins through the loop below.
_REGIMES = [
    # Sociedad anónima and its variants, with or without "de C.V.".
    _abbr("SAPI") + rf"(?:{_CV})?",
    _abbr("SAB") + rf"(?:{_CV})?",
    _abbr("SAS") + rf"(?:{_CV})?",
    _abbr("SA") + rf"(?:{_CV})?",
    # Sociedad de responsabilidad limitada (also written SRL), with or without "de C.V.".
    _abbr("S") + rf"(?:{_DE})?" + _abbr("RL") + rf"(?:{_CV})?",
    # "S. DE C.V." is not a régimen but it is a common slip (seen in real rejections).
    _abbr("S") + _CV,
    # Sociedades cooperativas / civiles / de producción rural and asociación civil.
    _abbr("SC") + rf"(?:{_RL}|{_CV}|{_abbr('DE') + _abbr('RL')})?",
    _abbr("SPR") + rf"(?:{_RL}|{_RI})?",
    _abbr("AC"),
    _abbr("IAP"),
    # Sociedades en nombre colectivo / comandita.
    _abbr("S") + r"EN\s*" + _abbr("NC"),
    _abbr("S") + r"EN\s*" + _abbr("C") + r"POR\s*" + _abbr("A"),
    _abbr("S") + r"EN\s*" + _abbr("CS"),
    _abbr("S") + r"EN\s*" + _abbr("C"),
    # Financial entities.
    r"SOFOM\s*,?\s*" + r"(?:" + _abbr("ENR") + "|" + _abbr("ER") + ")",
    r"SOFIPO",
    # Long forms.
    rf"SOCIEDAD\s+{_A}N{_O}NIMA\s+PROMOTORA\s+DE\s+INVERSI{_O}N(?:\s+BURS{_A}TIL)?{_CAPITAL_VARIABLE}",
    rf"SOCIEDAD\s+{_A}N{_O}NIMA\s+BURS{_A}TIL{_CAPITAL_VARIABLE}",
    rf"SOCIEDAD\s+{_A}N{_O}NIMA{_CAPITAL_VARIABLE}",
    rf"SOCIEDAD\s+(?:DE\s+)?{_LIMITADA}{_CAPITAL_VARIABLE}",
    rf"SOCIEDAD\s+POR\s+ACCIONES\s+SIMPLIFICADA{_CAPITAL_VARIABLE}",
    rf"SOCIEDAD\s+COOPERATIVA(?:\s+DE\s+(?:{_LIMITADA}|RESPONSABILIDAD\s+SUPLEMENTADA))?",
    rf"SOCIEDAD\s+DE\s+PRODUCCI{_O}N\s+RURAL(?:\s+DE\s+(?:{_LIMITADA}|RESPONSABILIDAD\s+{_I}LIMITADA))?",
    r"SOCIEDAD\s+EN\s+NOMBRE\s+COLECTIVO",
    r"SOCIEDAD\s+EN\s+COMANDITA(?:\s+SIMPLE|\s+POR\s+ACCIONES)?",
    r"SOCIEDAD\s+CIVIL",
    rf"ASOCIACI{_O}N\s+CIVIL",
    rf"INSTITUCI{_O}N\s+DE\s+ASISTENCIA\s+PRIVADA",
]

# One trailing régimen: it must start a word (after a space or comma, or at the start) and may
# be followed only by dots, commas and spaces. Searched from near the end only, because every
# régimen is short and names can be long.
_TRAILING_REGIME = re.compile(
    r"(?:(?<=[\s,])|^)(?P<regime>(?:" + "|".join(_REGIMES) + r"))[\s.,]*$"
)
_LONGEST_REGIME = 90
_MAX_ROUNDS = 3  # "S.A. DE C.V., SOFOM, E.N.R." is two régimen blocks; never loop forever


def _clean(name: str) -> str:
    return " ".join(name.split()).upper()


def split_capital_regime(name: object) -> tuple[str, str | None]:
    """Split a trailing régimen de capital off a razón social.

    The name is upper-cased and its whitespace collapsed first. Only a régimen at the very end
    is removed ("LA SOCIEDAD ANONIMA DEL NORTE" keeps its words), together with the comma or
    spaces before it; a name that would become empty is left whole.

    Returns:
        ``(name_without_regime, regime)``, where ``regime`` is ``None`` when there was none.

    >>> split_capital_regime("Acme Logística, S.A. de C.V.")
    ('ACME LOGÍSTICA', 'S.A. DE C.V.')
    """
    if not isinstance(name, str):
        return "", None
    text = _clean(name)
    found: list[str] = []
    rest = text
    for _ in range(_MAX_ROUNDS):
        match = _TRAILING_REGIME.search(rest, max(0, len(rest) - _LONGEST_REGIME))
        if match is None:
            break
        candidate = rest[: match.start()].rstrip(" ,")
        if not candidate:
            break
        found.insert(0, match.group("regime").strip(" ,"))
        rest = candidate
    if not found:
        return text, None
    return rest, ", ".join(found)


def normalize_legal_name(name: object) -> str:
    """Return the name the SAT expects: upper case, single spaces, no trailing régimen.

    Accents, Ñ, ``&`` and inner commas are kept; see :func:`legal_name_warnings`.

    >>> normalize_legal_name("  kernel  industia jugueterA, s.a. de c.v. ")
    'KERNEL INDUSTIA JUGUETERA'
    """
    return split_capital_regime(name)[0]


def _warning(code: str, message: str, message_es: str, field: str) -> Issue:
    return Issue(field, code, message, message_es, Severity.WARNING)


def legal_name_warnings(name: object, *, field: str = FIELD) -> list[Issue]:
    """Point out what in a razón social often differs from the SAT's records.

    Nothing here is wrong by itself: the SAT compares the name exactly with the Constancia de
    Situación Fiscal, so each warning says "check it against the CSF" rather than changing the
    name.
    """
    if not isinstance(name, str):
        return [
            Issue(
                field,
                "APUNTO-201",
                f"a name must be text, got {type(name).__name__}",
                f"El nombre debe ser texto, se recibió {type(name).__name__}",
            )
        ]
    issues: list[Issue] = []
    base, regime = split_capital_regime(name)
    if not base:
        issues.append(Issue(field, "APUNTO-201", "the name is empty", "El nombre está vacío"))
        return issues
    if regime is not None:
        issues.append(
            _warning(
                "APUNTO-202",
                f"ends with the régimen de capital {regime!r}; CFDI 4.0 expects {base!r}",
                f"Termina con el régimen de capital {regime!r}; CFDI 4.0 espera {base!r}",
                field,
            )
        )
    if name != name.upper():
        issues.append(
            _warning(
                "APUNTO-203",
                "has lower-case letters; the SAT's records are upper case",
                "Tiene minúsculas; los registros del SAT están en mayúsculas",
                field,
            )
        )
    if " ".join(name.split()) != name:
        issues.append(
            _warning(
                "APUNTO-204",
                "has leading, trailing or repeated spaces",
                "Tiene espacios al inicio, al final o repetidos",
                field,
            )
        )
    upper = base.upper()
    if any(_has_accent(char) for char in upper):
        issues.append(
            _warning(
                "APUNTO-205",
                "has accented letters; keep them only if the CSF shows them",
                "Tiene letras acentuadas; consérvelas solo si la CSF las muestra",
                field,
            )
        )
    if "Ñ" in upper:
        issues.append(
            _warning(
                "APUNTO-206",
                "has Ñ; make sure it reaches the vendor as UTF-8 and matches the CSF",
                "Tiene Ñ; asegúrese de enviarla en UTF-8 y de que coincida con la CSF",
                field,
            )
        )
    if "&" in upper:
        issues.append(
            _warning(
                "APUNTO-207",
                "has '&'; it must be escaped in XML and match the CSF exactly",
                "Tiene '&'; debe escaparse en XML y coincidir exactamente con la CSF",
                field,
            )
        )
    if "," in upper:
        issues.append(
            _warning(
                "APUNTO-208",
                "has a comma; keep it only if the CSF shows it",
                "Tiene una coma; consérvela solo si la CSF la muestra",
                field,
            )
        )
    return issues


def _has_accent(char: str) -> bool:
    # Ñ is a letter of its own in Spanish, not an accented N.
    if char in "Ññ" or char.isascii():
        return False
    return any(unicodedata.combining(part) for part in unicodedata.normalize("NFD", char))
