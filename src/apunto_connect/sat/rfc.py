"""RFC (Registro Federal de Contribuyentes) validation.

An RFC has a name block (3 letters for a persona moral, 4 for a persona física), a date block
``YYMMDD`` (constitution or birth date), a two-character homoclave and a check character. The
checks follow the SAT's published rules:

* the format of the CFDI 4.0 schema (``[A-Z&Ñ]{3,4}`` + 6 digits + ``[A-Z0-9]{2}[0-9A]``);
* a real calendar date. The century is not encoded, so 29 February is accepted whenever the
  two-digit year is a multiple of four (``00`` counts: 2000 was a leap year);
* the homoclave alphabet of the SAT's algorithm: ``1``–``9`` and ``A``–``Z`` without ``O``,
  and the first character never goes past ``V``;
* none of the 41 "palabras inconvenientes" the SAT never assigns as a física's name block;
* the mod-11 check digit. Real, stamped RFCs with a wrong check digit exist, so a mismatch is a
  *warning* unless ``strict=True``.

The generic RFCs ``XAXX010101000`` (público en general) and ``XEXX010101000`` (foreign
receiver) are valid although they break the homoclave and check-digit rules.

Validation never raises. It also runs over whole customer lists, so the common case (a clean,
valid RFC) costs one precompiled regular expression and a slotted result filled in place.
Input that fails the pattern is cleaned (upper case, no separators, repaired encodings) and
looked at again only if cleaning changed it. The check digit is a few C-level passes over the
string, computed only when a verdict depends on it (``valid`` in strict mode, ``issues``,
``warnings``).
"""

from __future__ import annotations

import enum
import html
import re
import unicodedata
from collections.abc import Iterable
from itertools import accumulate
from typing import Any, Protocol

import attrs

from ..errors import Issue, Severity, ValidationError
from ._findings import CheckVerdict

__all__ = [
    "GENERIC_FOREIGN_RFC",
    "GENERIC_NATIONAL_RFC",
    "INCONVENIENT_WORDS",
    "RfcCheck",
    "RfcKind",
    "check_digit",
    "is_valid_rfc",
    "normalize_rfc",
    "validate_rfc",
]

GENERIC_NATIONAL_RFC = "XAXX010101000"
"""RFC genérico nacional: sales to the general public or a Mexican buyer without RFC."""

GENERIC_FOREIGN_RFC = "XEXX010101000"
"""RFC genérico extranjero: a foreign receiver without a Mexican RFC."""

INCONVENIENT_WORDS: frozenset[str] = frozenset(
    [
        "BUEI", "BUEY", "CACA", "CACO", "CAGA", "CAGO", "CAKA", "CAKO", "COGE", "COJA",
        "COJE", "COJI", "COJO", "CULO", "FETO", "GUEY", "JOTO", "KACA", "KACO", "KAGA",
        "KAGO", "KAKA", "KOGE", "KOJO", "KULO", "MAME", "MAMO", "MEAR", "MEAS", "MEON",
        "MION", "MOCO", "MULA", "PEDA", "PEDO", "PENE", "PUTA", "PUTO", "QULO", "RATA",
        "RUIN",
    ]
)  # fmt: skip
"""The 41 four-letter words the SAT replaces in a persona física's name block."""

FIELD = "rfc"

# Values of the check-digit algorithm: the index of each character in this string.
_CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
_VALUE = {char: index for index, char in enumerate(_CHECK_ALPHABET)}
# The same values as a ``bytes.translate`` table over Latin-1 (every character of the alphabet,
# Ñ included, is Latin-1), so a whole RFC becomes its values in one C call; other characters
# map to 255, which the callers never let through.
_VALUE_BYTES = bytes(_VALUE.get(chr(code), 255) for code in range(256))
# The check character for each value of (-sum) mod 11: 0-9, and 10 is written "A".
_CHECK_CHARS = "0123456789A"


def _alternation(words: Iterable[str]) -> str:
    """A regular expression for exactly ``words`` (all of one length), factored by prefix.

    ``(?:BUE[IY]|C(?:A(?:C[AO]|G[AO]|K[AO])|O(?:GE|J[AEIO])|ULO)|...)``: the regular expression
    engine skips a branch as soon as its first letter differs, so rejecting a name block costs
    about ten letter comparisons instead of one attempt per word.
    """
    groups: dict[str, list[str]] = {}
    for word in sorted(words):
        groups.setdefault(word[0], []).append(word[1:])
    if all(rest == "" for rests in groups.values() for rest in rests):
        chars = "".join(re.escape(char) for char in groups)
        return chars if len(groups) == 1 else f"[{chars}]"
    branches = [re.escape(first) + _alternation(rests) for first, rests in groups.items()]
    return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"


_NAME = "[A-ZÑ&]"
_DAY_31 = "(?:0[1-9]|[12][0-9]|3[01])"
_DAY_30 = "(?:0[1-9]|[12][0-9]|30)"
# Every real YYMMDD; 29 February only in years that are multiples of four. Branches are keyed
# by the month's digits, so when something after the date fails, the engine backtracks
# through a few one-character tests instead of re-reading the date as another alternative;
# the leap year is checked by a look-behind once "0229" has matched.
_DATE = (
    f"[0-9]{{2}}(?:0(?:[13578]{_DAY_31}|[469]{_DAY_30}"
    "|2(?:0[1-9]|1[0-9]|2[0-8]|29(?<=(?:[02468][048]|[13579][26])0229)))"
    f"|1(?:[02]{_DAY_31}|1{_DAY_30}))"
)
# The homoclave comes from a 34-symbol table (1-9, A-Z without O); its first character is a
# quotient of at most 29, so it never goes past V.
_HOMOCLAVE_FIRST = "[1-9A-NP-V]"
_HOMOCLAVE_SECOND = "[1-9A-NP-Z]"
# One pass decides the format, the date, the homoclave alphabet and the inconvenient words.
# The look-ahead holds four letters, so it can only hit a física's name block (a moral's
# fourth character is a digit).
_VALID_RFC = re.compile(
    f"(?!{_alternation(INCONVENIENT_WORDS)}){_NAME}{{3,4}}"
    f"{_DATE}{_HOMOCLAVE_FIRST}{_HOMOCLAVE_SECOND}[0-9A]"
)
_HOMOCLAVE = re.compile(f"{_HOMOCLAVE_FIRST}{_HOMOCLAVE_SECOND}")


def _weighted_sum(text: str) -> int:
    """The check-digit sum of 13 characters of the alphabet, weighted 13, 12, ..., 1.

    Summing the running totals counts each value once for its own position and once for every
    position after it: the first character 13 times, the last once. ``accumulate`` and ``sum``
    do that in C, which is several times faster than a Python loop over (value, weight).
    A full RFC (a moral padded with one leading space) is right when this is a multiple of 11.
    """
    return sum(accumulate(text.encode("latin-1").translate(_VALUE_BYTES)))


class RfcKind(str, enum.Enum):
    """What kind of taxpayer an RFC belongs to (compares equal to its string value)."""

    MORAL = "moral"
    """Persona moral: 12 characters."""
    FISICA = "fisica"
    """Persona física: 13 characters."""
    GENERIC_NATIONAL = "generic_national"
    """``XAXX010101000``."""
    GENERIC_FOREIGN = "generic_foreign"
    """``XEXX010101000``."""

    @property
    def is_generic(self) -> bool:
        """``True`` for the two generic RFCs."""
        return self in (RfcKind.GENERIC_NATIONAL, RfcKind.GENERIC_FOREIGN)


def _rfc_error(code: str, message: str, message_es: str) -> ValidationError:
    return ValidationError([Issue("rfc", code, message, message_es, Severity.ERROR)])


def check_digit(body: object) -> str:
    """Compute the check character for an RFC without it (11 or 12 characters).

    Raises:
        ValidationError: (a ``ValueError``) when ``body`` is not text, has another length or a
            character outside the RFC alphabet.
    """
    if not isinstance(body, str):
        kind = type(body).__name__
        raise _rfc_error(
            "APUNTO-101", f"an RFC must be text, got {kind}", f"El RFC debe ser texto, se recibió {kind}"
        )
    if len(body) not in (11, 12):
        raise _rfc_error(
            "APUNTO-103",
            f"expected 11 or 12 characters, got {len(body)}",
            f"Se esperaban 11 o 12 caracteres, se recibieron {len(body)}",
        )
    if not _VALUE.keys() >= set(body):
        bad = next(char for char in body if char not in _VALUE)
        raise _rfc_error(
            "APUNTO-104",
            f"character {bad!r} is not allowed in an RFC",
            f"El carácter {bad!r} no se permite en un RFC",
        )
    # A moral's 11-character body is padded with a leading space so weights are always 13..2;
    # a "0" (value 0) in the check position leaves the body's sum as it is.
    return _CHECK_CHARS[-_weighted_sum(body.rjust(12) + "0") % 11]


@attrs.define(slots=True, repr=False, unsafe_hash=True)
class RfcCheck(CheckVerdict):
    """The outcome of :func:`validate_rfc`; true in a boolean context when valid.

    The verdict is computed up front; the explanations that take more work (the check digit
    warning, why a format is wrong) are worked out when :attr:`issues` is asked for.
    :attr:`errors` make the RFC unusable; :attr:`warnings` do not block it (a wrong check
    digit is one, unless ``strict``).

    Treat it as a read-only value (it compares and hashes by its fields). Validation creates
    one per RFC it sees, so the class is not frozen: a frozen class's fields can only be set
    through ``object.__setattr__``, and that made building the result cost about as much as
    checking the RFC.

    Attributes:
        normalized: the RFC upper-cased, without spaces or dashes, with mis-encoded
            ``Ñ``/``&`` repaired. Send this one.
        valid: ``True`` when there is no error (warnings may still be present).
        strict: whether a wrong check digit counts as an error.
        notes: what normalisation had to say (repaired encodings; input that is not text).
    """

    normalized: str
    valid: bool
    strict: bool = False
    notes: tuple[Issue, ...] = ()

    @property
    def well_formed(self) -> bool:
        """Whether ``normalized`` has the format of an RFC (or is a generic one)."""
        return _is_well_formed(self.normalized)

    @property
    def kind(self) -> RfcKind | None:
        """Moral (12 characters), física (13) or a generic; ``None`` for any other length."""
        text = self.normalized
        if text == GENERIC_NATIONAL_RFC:
            return RfcKind.GENERIC_NATIONAL
        if text == GENERIC_FOREIGN_RFC:
            return RfcKind.GENERIC_FOREIGN
        return _KIND_BY_LENGTH.get(len(text))

    @property
    def is_generic(self) -> bool:
        """``True`` for ``XAXX010101000`` and ``XEXX010101000``."""
        return self.normalized in (GENERIC_NATIONAL_RFC, GENERIC_FOREIGN_RFC)

    @property
    def expected_check_digit(self) -> str | None:
        """The check character the algorithm gives; ``None`` when malformed or generic."""
        if self.is_generic or not self.well_formed:
            return None
        return check_digit(self.normalized[:-1])

    @property
    def check_digit_ok(self) -> bool:
        """``False`` only when a well-formed, non-generic RFC has a wrong check character."""
        if self.is_generic or not self.well_formed:
            return True
        return _weighted_sum(self.normalized.rjust(13)) % 11 == 0

    @property
    def issues(self) -> tuple[Issue, ...]:
        """Every error and warning: normalisation notes, format problems, the check digit."""
        found = self.notes
        # Input that was not text already carries its error; anything else malformed is
        # explained from the normalised text.
        if not self.well_formed and not any(i.severity is Severity.ERROR for i in found):
            found = (*found, *_format_problems(self.normalized))
        if not self.check_digit_ok:
            found = (*found, self._check_digit_issue())
        return found

    def __repr__(self) -> str:
        return (
            f"RfcCheck({self.normalized!r}, valid={self.valid}, kind={_kind_name(self.kind)}, "
            f"errors={len(self.errors)}, warnings={len(self.warnings)})"
        )

    def _check_digit_issue(self) -> Issue:
        expected, got = self.expected_check_digit, self.normalized[-1]
        return Issue(
            FIELD,
            "APUNTO-109",
            f"the check digit should be {expected!r}, got {got!r} (RFCs with a wrong digit "
            "exist; confirm it against the Constancia de Situación Fiscal)",
            f"El dígito verificador debería ser {expected!r}, se recibió {got!r} (existen RFC "
            "con dígito incorrecto; confírmelo con la Constancia de Situación Fiscal)",
            Severity.ERROR if self.strict else Severity.WARNING,
        )


_KIND_BY_LENGTH = {12: RfcKind.MORAL, 13: RfcKind.FISICA}


def _kind_name(kind: RfcKind | None) -> str:
    return "None" if kind is None else repr(kind.value)


class _RfcValidator(Protocol):
    def __call__(self, value: Any, strict: bool = False) -> RfcCheck: ...


def _build_validate_rfc() -> _RfcValidator:
    """Create :func:`validate_rfc` with what its hot path needs bound as closure variables.

    The result is created bare and filled in by attribute stores, which the interpreter turns
    into direct slot writes; calling the attrs ``__init__`` would add a Python frame per RFC.
    """
    valid_rfc = _VALID_RFC.fullmatch
    new_object = object.__new__
    result_type = RfcCheck
    generics = (GENERIC_NATIONAL_RFC, GENERIC_FOREIGN_RFC)
    repair = _repair
    values = _VALUE_BYTES
    ascii_upper = _ASCII_UPPER
    ascii_separators = _ASCII_SEPARATORS

    def validate_rfc(value: Any, strict: bool = False) -> RfcCheck:
        """Check an RFC and say what kind it is; never raises.

        Args:
            value: the RFC as typed or received (any case; spaces and dashes are ignored;
                ``Ñ`` and ``&`` are repaired when they arrive as mojibake, HTML entities or
                ``#``).
            strict: treat a wrong check digit as an error instead of a warning.

        Returns:
            an :class:`RfcCheck`: ``check.valid`` tells whether it can be used, ``check.kind``
            what it is, ``check.normalized`` what to send, ``check.issues`` why not.
        """
        notes: tuple[Issue, ...] = ()
        text = value
        if type(value) is str:
            if valid_rfc(value):
                well_formed = True  # the common case: clean and well formed
            elif value.isascii() and value.isalnum():
                # ASCII letters and digits: the case is all cleaning could change (what
                # _repair would do, without its other checks).
                if value.isupper():
                    well_formed = False  # already clean, and the pattern said no
                else:
                    text = value.upper()
                    well_formed = bool(valid_rfc(text))
            else:
                if value.isascii() and "#" not in value and ";" not in value:
                    # _repair's first step, inlined: upper-case and drop the separators.
                    text = value.encode("ascii").translate(ascii_upper, ascii_separators).decode()
                else:
                    text, notes = repair(value)
                well_formed = text != value and bool(valid_rfc(text))
        elif isinstance(value, str):
            text, notes = repair(str(value))
            well_formed = bool(valid_rfc(text))
        else:
            return _not_text(value, strict)
        if not well_formed:
            valid = text in generics
        elif strict:
            # _weighted_sum, inlined: the pattern let only characters of the alphabet through.
            valid = not sum(accumulate(text.rjust(13).encode("latin-1").translate(values))) % 11
        else:
            valid = True
        result = new_object(result_type)
        result.normalized = text
        result.valid = valid
        result.strict = strict
        result.notes = notes
        return result

    return validate_rfc


def is_valid_rfc(value: Any, strict: bool = False) -> bool:
    """``True`` when :func:`validate_rfc` finds no error."""
    if type(value) is str and _VALID_RFC.fullmatch(value):
        # The same verdict validate_rfc gives, without building the result.
        return not strict or _weighted_sum(value.rjust(13)) % 11 == 0
    return validate_rfc(value, strict).valid


def _is_well_formed(text: str) -> bool:
    return bool(_VALID_RFC.fullmatch(text)) or text in (GENERIC_NATIONAL_RFC, GENERIC_FOREIGN_RFC)


# --- normalisation ----------------------------------------------------------------------------
# Spaces and dashes (how people group an RFC), tabs, line breaks and no-break spaces. A regular
# expression removes them several times faster than str.translate with a deletion table.
_SEPARATORS = re.compile("[ \t\r\n\u00a0-]+")
_ASCII_SEPARATORS = b" -\t\r\n"  # the ASCII ones, for bytes.translate
_ASCII_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# "Ñ"/"ñ" encoded as UTF-8 and read back as Windows-1252 or Latin-1 ("Ã‘", "Ã±"), possibly
# after the whole string changed case.
_MOJIBAKE = re.compile("[Ãã]([\u2018\u0091\u00b1])")
_MOJIBAKE_MAP = {"\u2018": "Ñ", "\u0091": "Ñ", "\u00b1": "ñ"}
# Only entities written with their ";" are decoded: "&LT" inside "A&LT800101..." is a name.
_ENTITY = re.compile(r"&(?:#[0-9]{1,5}|#[xX][0-9a-fA-F]{1,4}|[A-Za-z]{2,8});")


def _repair(value: str) -> tuple[str, tuple[Issue, ...]]:
    """Upper-case, drop separators and repair mis-encoded ``Ñ``/``&``; report each repair."""
    if value.isascii() and "#" not in value and ";" not in value:
        # Nothing to decode (an entity needs its ";"): one bytes.translate upper-cases and
        # drops the separators, many times cheaper than str.translate with a mapping.
        cleaned = value.encode("ascii").translate(_ASCII_UPPER, _ASCII_SEPARATORS)
        return cleaned.decode("ascii"), ()
    warnings: list[Issue] = []
    text = value
    if "&" in text and ";" in text:
        decoded = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if decoded != text:
            text = decoded
            warnings.append(
                _warning(
                    "APUNTO-111",
                    "HTML entities (such as &amp;) were decoded; send the plain characters",
                    "Se decodificaron entidades HTML (como &amp;); envíe los caracteres simples",
                )
            )
    if "Ã" in text or "ã" in text:
        repaired = _MOJIBAKE.sub(lambda m: _MOJIBAKE_MAP[m.group(1)], text)
        if repaired != text:
            text = repaired
            warnings.append(
                _warning(
                    "APUNTO-111",
                    "a mis-encoded Ñ (UTF-8 read as Latin-1) was repaired; fix the source encoding",
                    "Se reparó una Ñ mal codificada (UTF-8 leído como Latin-1); corrija la "
                    "codificación de origen",
                )
            )
    if not text.isascii():
        # A decomposed "N" + combining tilde is still an Ñ.
        text = unicodedata.normalize("NFC", text)
    if not text.isalnum():  # letters and digits only (Ñ included) have nothing to drop
        text = _SEPARATORS.sub("", text)
    text = text.upper()
    if "#" in text:
        text = text.replace("#", "Ñ")
        warnings.append(
            _warning(
                "APUNTO-112",
                "'#' was read as Ñ (a convention of systems without Ñ); send Ñ",
                "Se interpretó '#' como Ñ (convención de sistemas sin Ñ); envíe la Ñ",
            )
        )
    return text, tuple(warnings)


def normalize_rfc(value: object) -> str:
    """Return ``value`` upper-cased, without separators and with ``Ñ``/``&`` repaired.

    Raises:
        ValidationError: ``value`` is not text (``APUNTO-101``).
    """
    if not isinstance(value, str):
        kind = type(value).__name__
        raise _rfc_error(
            "APUNTO-101", f"an RFC must be text, got {kind}", f"El RFC debe ser texto, se recibió {kind}"
        )
    return _repair(value)[0]


# --- explaining what is wrong -------------------------------------------------------------------
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZÑ&")
_DIGITS = re.compile("[0-9]{6}")
_MONTH_AND_DAY = re.compile("[0-9]{2}(?:0[1-9]|1[012])(?:0[1-9]|[12][0-9]|3[01])")
_DATE_ONLY = re.compile(_DATE)


def _error(code: str, message: str, message_es: str) -> Issue:
    return Issue(FIELD, code, message, message_es, Severity.ERROR)


def _warning(code: str, message: str, message_es: str) -> Issue:
    return Issue(FIELD, code, message, message_es, Severity.WARNING)


def _not_text(value: object, strict: bool) -> RfcCheck:
    issue = _error(
        "APUNTO-101",
        f"an RFC must be text, got {type(value).__name__}",
        f"El RFC debe ser texto, se recibió {type(value).__name__}",
    )
    return RfcCheck("", False, strict, (issue,))


def _format_problems(text: str) -> list[Issue]:
    """Explain why a normalised RFC does not match the format."""
    if not text:
        return [_error("APUNTO-102", "the RFC is empty", "El RFC está vacío")]
    if len(text) not in (12, 13):
        return [
            _error(
                "APUNTO-103",
                f"an RFC has 12 characters (persona moral) or 13 (persona física), got {len(text)}",
                f"El RFC debe tener 12 caracteres (persona moral) o 13 (persona física), "
                f"tiene {len(text)}",
            )
        ]
    issues: list[Issue] = []
    letters = len(text) - 9
    name = text[:letters]
    date = text[letters : letters + 6]
    homoclave, check = text[-3:-1], text[-1]
    if "\ufffd" in text:
        issues.append(
            _error(
                "APUNTO-113",
                "the RFC contains '\ufffd': a character (probably Ñ) was lost to an encoding error",
                "El RFC contiene '\ufffd': un carácter (probablemente Ñ) se perdió por un error "
                "de codificación",
            )
        )
    if not _LETTERS.issuperset(name):
        issues.append(
            _error(
                "APUNTO-104",
                f"the first {letters} characters must be letters (A-Z, Ñ, &), got {name!r}",
                f"Los primeros {letters} caracteres deben ser letras (A-Z, Ñ, &), se recibió "
                f"{name!r}",
            )
        )
    elif letters == 4 and name in INCONVENIENT_WORDS:
        issues.append(
            _error(
                "APUNTO-110",
                f"{name!r} is one of the SAT's inconvenient words; the SAT replaces its last "
                f"letter (e.g. {name[:3]}X), so no RFC starts with it",
                f"{name!r} es una palabra inconveniente del SAT; el SAT sustituye su última "
                f"letra (p. ej. {name[:3]}X), ningún RFC inicia así",
            )
        )
    if not _DIGITS.fullmatch(date):
        issues.append(
            _error(
                "APUNTO-105",
                f"characters {letters + 1}-{letters + 6} must be a date YYMMDD, got {date!r}",
                f"Los caracteres {letters + 1}-{letters + 6} deben ser una fecha AAMMDD, se "
                f"recibió {date!r}",
            )
        )
    elif not _DATE_ONLY.fullmatch(date):
        what = "day for that month" if _MONTH_AND_DAY.fullmatch(date) else "month or day"
        issues.append(
            _error(
                "APUNTO-106",
                f"{date!r} is not a real date YYMMDD (wrong {what})",
                f"{date!r} no es una fecha AAMMDD real",
            )
        )
    if not (homoclave.isascii() and homoclave.isalnum()):
        issues.append(
            _error(
                "APUNTO-107",
                f"the homoclave must be 2 characters A-Z or 0-9, got {homoclave!r}",
                f"La homoclave debe tener 2 caracteres A-Z o 0-9, se recibió {homoclave!r}",
            )
        )
    elif not _HOMOCLAVE.fullmatch(homoclave):
        issues.append(
            _error(
                "APUNTO-107",
                f"the homoclave {homoclave!r} cannot come from the SAT's table (no 0 or O; the "
                "first character goes up to V)",
                f"La homoclave {homoclave!r} no puede provenir de la tabla del SAT (sin 0 ni O; "
                "el primer carácter llega hasta V)",
            )
        )
    if check not in "0123456789A":
        issues.append(
            _error(
                "APUNTO-108",
                f"the last character must be a digit or 'A', got {check!r}",
                f"El último carácter debe ser un dígito o 'A', se recibió {check!r}",
            )
        )
    return issues


validate_rfc = _build_validate_rfc()
