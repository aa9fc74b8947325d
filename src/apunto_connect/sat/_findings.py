"""How the SAT rule modules collect what they find (one collector for all of them)."""

from __future__ import annotations

from decimal import Decimal

from ..errors import Issue, Severity

__all__ = ["CheckVerdict", "Findings", "decimal_places"]


class Findings:
    """Collects issues; one instance per check call (no shared state)."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def error(
        self, field: str, code: str, message: str, message_es: str, *aliases: str
    ) -> None:
        self.issues.append(Issue(field, code, message, message_es, Severity.ERROR, aliases))

    def warning(self, field: str, code: str, message: str, message_es: str) -> None:
        self.issues.append(Issue(field, code, message, message_es, Severity.WARNING))

    def positive(self, field: str, code: str, sat_name: str, value: Decimal | int) -> bool:
        """Whether ``value`` is greater than 0; when not, error ``code`` says so of ``sat_name``."""
        if value > 0:
            return True
        self.error(field, code, f"{sat_name} must be greater than 0",
                   f"{sat_name} debe ser mayor que 0")
        return False

    def extend(self, field: str, found: list[Issue] | tuple[Issue, ...]) -> None:
        """Add issues from a field helper, re-homed under ``field``."""
        for issue in found:
            self.issues.append(
                Issue(
                    field,
                    issue.code,
                    issue.message,
                    issue.message_es,
                    issue.severity,
                    issue.aliases,
                )
            )


class CheckVerdict:
    """What every SAT helper's result says about its issues: errors, warnings, truthiness.

    A mixin for the attrs result classes (:class:`~apunto_connect.sat.rfc.RfcCheck`,
    :class:`~apunto_connect.sat.containers.ContainerCheck`), which provide ``valid`` and
    ``issues`` as fields or properties. The result is true in a boolean context when valid.
    """

    __slots__ = ()
    valid: bool

    @property
    def issues(self) -> tuple[Issue, ...]:
        """Every error and warning; each result class says where they come from."""
        raise NotImplementedError

    @property
    def errors(self) -> list[Issue]:
        """The issues that make the value unusable (a new list on every access)."""
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """Advice that does not block the value (a new list on every access)."""
        return [i for i in self.issues if i.severity is Severity.WARNING]

    def __bool__(self) -> bool:
        return self.valid


def decimal_places(value: Decimal) -> int:
    """How many decimals ``value`` is written with (``1.50`` has two, ``15`` none)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
