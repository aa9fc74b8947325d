"""ISO 6346 freight container numbers (e.g. ``CSQU3054383``).

Layout: a 3-letter owner code (BIC), an equipment category letter (``U`` freight container,
``J`` detachable equipment, ``Z`` trailer or chassis; ``R`` is also accepted because some
registries use it), a 6-digit serial number and a check digit.

Check digit: letters are worth 10 upwards skipping multiples of 11 (A=10, B=12 … Z=38), digits
their own value; each of the first 10 characters is multiplied by 2^position (the leftmost by
1), and the check digit is the sum mod 11, with a remainder of 10 written as 0.

Tracking vendors charge a credit per container, so a typo is worth catching before the call.
Equipment that is not ISO-numbered exists (DCSA models references as free text), so with
``iso_only=False`` every problem becomes a warning instead of an error.
"""

from __future__ import annotations

import re
import string

import attrs

from ..errors import Issue, Severity, ValidationError
from ._findings import CheckVerdict

__all__ = ["ContainerCheck", "container_check_digit", "validate_container_number"]

FIELD = "container_number"
CATEGORIES = "UJZR"

# Letter values skip 11, 22 and 33 so no letter is worth a multiple of 11.
_LETTER_VALUES = dict(
    zip(string.ascii_uppercase, [v for v in range(10, 39) if v % 11][:26], strict=True)
)
_VALUES = {**{str(d): d for d in range(10)}, **_LETTER_VALUES}
_SHAPE = re.compile(r"[A-Z]{3}[A-Z][0-9]{6}[0-9]")
_SEPARATORS = str.maketrans("", "", " -./\t")


@attrs.frozen(slots=True)
class ContainerCheck(CheckVerdict):
    """The outcome of :func:`validate_container_number`; true in a boolean context when valid.

    Attributes:
        valid: ``True`` when there is no error.
        normalized: upper case, separators removed (``CSQU 305438-3`` → ``CSQU3054383``).
        owner_code: the 3-letter BIC owner code, when the shape allows reading it.
        category: ``U``, ``J``, ``Z`` or ``R``, when readable.
        serial: the 6-digit serial, when readable.
        check_digit: the last digit as given, when readable.
        issues: errors (the issues that block the number) and warnings (advice only); the
            :attr:`errors` and :attr:`warnings` properties list each kind.
    """

    valid: bool
    normalized: str
    owner_code: str | None = None
    category: str | None = None
    serial: str | None = None
    check_digit: str | None = None
    issues: tuple[Issue, ...] = ()


def container_check_digit(first_ten: object) -> str:
    """The ISO 6346 check digit for an owner code + category + serial (10 characters).

    Raises:
        ValidationError: (a ``ValueError``) when the input is not 10 characters of A–Z/0–9.
    """
    if not isinstance(first_ten, str) or len(first_ten) != 10:
        got = f"{len(first_ten)} characters" if isinstance(first_ten, str) else type(first_ten).__name__
        raise ValidationError(
            f"expected 10 characters, got {got}", field=FIELD, code="APUNTO-402"
        )
    try:
        total = sum(_VALUES[char] << position for position, char in enumerate(first_ten))
    except KeyError as exc:
        raise ValidationError(
            f"character {exc.args[0]!r} is not allowed", field=FIELD, code="APUNTO-402"
        ) from None
    return str(total % 11 % 10)


def validate_container_number(value: object, *, iso_only: bool = True) -> ContainerCheck:
    """Check an ISO 6346 container number; never raises.

    Args:
        value: the number as typed (any case; spaces, dashes, dots and slashes ignored).
        iso_only: with ``False``, non-ISO equipment is allowed: problems become warnings.
    """
    severity = Severity.ERROR if iso_only else Severity.WARNING

    def issue(code: str, message: str, message_es: str) -> Issue:
        return Issue(FIELD, code, message, message_es, severity)

    if not isinstance(value, str):
        kind = type(value).__name__
        problem = Issue(
            FIELD,
            "APUNTO-401",
            f"expected text, got {kind}",
            f"Se esperaba texto, se recibió {kind}",
        )
        return ContainerCheck(False, "", issues=(problem,))
    text = value.translate(_SEPARATORS).upper()
    if not _SHAPE.fullmatch(text):
        problem = issue(
            "APUNTO-402",
            f"a container number is 4 letters and 7 digits (e.g. CSQU3054383), got {text!r}",
            f"Un número de contenedor tiene 4 letras y 7 dígitos (p. ej. CSQU3054383), se "
            f"recibió {text!r}",
        )
        return ContainerCheck(not iso_only, text, issues=(problem,))
    owner, category, serial, digit = text[:3], text[3], text[4:10], text[10]
    problems: list[Issue] = []
    if category not in CATEGORIES:
        problems.append(
            issue(
                "APUNTO-403",
                f"the 4th letter is the equipment category (U, J, Z or R), got {category!r}",
                f"La 4.ª letra es la categoría del equipo (U, J, Z o R), se recibió {category!r}",
            )
        )
    expected = container_check_digit(text[:10])
    if expected != digit:
        problems.append(
            issue(
                "APUNTO-404",
                f"the check digit should be {expected}, got {digit}",
                f"El dígito verificador debería ser {expected}, se recibió {digit}",
            )
        )
    valid = not any(p.severity is Severity.ERROR for p in problems)
    return ContainerCheck(valid, text, owner, category, serial, digit, tuple(problems))
