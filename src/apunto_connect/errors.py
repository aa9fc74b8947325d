"""The whole error tree of apunto-connect.

Every failure the SDK raises on purpose is an :class:`ApuntoError`. The tree lets callers catch
as broadly or narrowly as they need::

    ApuntoError
    ├── ConfigurationError
    │   ├── CredentialsNotFound
    │   └── JournalUnavailable        (the journal/outbox store cannot be opened or used)
    ├── ValidationError                 (bad input, caught before any network call)
    ├── ProviderError                   (the vendor answered and said no)
    │   ├── AuthenticationError
    │   ├── PermissionDenied
    │   ├── NotFound
    │   ├── Conflict
    │   │   └── StampInProgress       (another worker holds the same idempotency key)
    │   ├── RateLimited
    │   ├── InsufficientCredits
    │   ├── StampRejected
    │   └── ServerError
    ├── TransportError                  (no usable answer at all)
    │   ├── Timeout
    │   ├── UnexpectedResponse        (an answer whose shape cannot be read; names the field)
    │   └── StampOutcomeUnknown       (sent before, no answer, the vendor cannot tell yet)
    ├── UnsupportedOperation
    └── SignatureVerificationError

Vendor text is never rewritten: ``ProviderError.message`` is what the vendor said, verbatim.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .redaction import Redactor

__all__ = [
    "ApuntoError",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "CredentialsNotFound",
    "InsufficientCredits",
    "Issue",
    "JournalUnavailable",
    "NotFound",
    "Overpayment",
    "PermissionDenied",
    "ProviderError",
    "RateLimited",
    "ServerError",
    "Severity",
    "SignatureVerificationError",
    "StampInProgress",
    "StampOutcomeUnknown",
    "StampRejected",
    "Timeout",
    "TransportError",
    "UnexpectedResponse",
    "UnsupportedOperation",
    "ValidationError",
    "error_class_for_status",
]


class ApuntoError(Exception):
    """Root of every error apunto-connect raises on purpose."""


class ConfigurationError(ApuntoError):
    """The SDK was set up wrongly (unknown provider, bad option, missing extra)."""


class CredentialsNotFound(ConfigurationError):
    """A required credential was found in none of the sources that were tried.

    ``sources`` names every place that was looked at (never a value).
    """

    def __init__(self, vendor: str, field: str, sources: Sequence[str]) -> None:
        self.vendor = vendor
        self.field = field
        self.sources = tuple(sources)
        tried = ", ".join(self.sources) if self.sources else "no source"
        super().__init__(f"No credential '{field}' for {vendor}; tried: {tried}")


class JournalUnavailable(ConfigurationError):
    """The stamping journal or webhook outbox cannot be opened, is corrupt, or stays locked.

    Raised when the store is opened or attached, never after a stamp went out, so no event
    and no record is lost silently. ``target`` names the store (never a password).
    """

    def __init__(self, message: str, *, target: str = "") -> None:
        self.target = target
        super().__init__(f"{message} ({target})" if target else message)


class Severity(str, enum.Enum):
    """How bad a validation issue is: errors block the operation, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@attrs.frozen(slots=True)
class Issue:
    """One problem found in the input.

    Attributes:
        field: dotted path of the offending field, e.g. ``items[0].quantity``.
        code: the SAT rule code (``CFDI40105``) where one exists, else ours (``APUNTO-101``).
        message: English explanation.
        message_es: Spanish explanation (what the SAT or the vendor would say).
        severity: ``error`` blocks the operation; ``warning`` is advice.
        aliases: codes this rule was reported under before (``APUNTO-512`` became the SAT's
            ``CFDI40104``); kept for one release so callers matching on the old code keep
            working (:meth:`has_code`).
    """

    field: str
    code: str
    message: str
    message_es: str = ""
    severity: Severity = Severity.ERROR
    aliases: tuple[str, ...] = ()

    def has_code(self, code: str) -> bool:
        """Whether this issue is reported under ``code`` or had it as a former code."""
        return code == self.code or code in self.aliases

    def __str__(self) -> str:
        return f"{self.field}: [{self.code}] {self.message}"


class ValidationError(ApuntoError, ValueError):
    """Input that the SAT or the vendor would certainly reject; lists every problem at once."""

    def __init__(self, issues: Iterable[Issue] | str, *, field: str = "", code: str = "") -> None:
        if isinstance(issues, str):
            issues = [Issue(field=field or "value", code=code or "APUNTO-000", message=issues)]
        self.issues: list[Issue] = list(issues)
        super().__init__(self._summary())

    @property
    def errors(self) -> list[Issue]:
        """The issues that block the operation (severity ``error``)."""
        return [i for i in self.issues if i.severity is Severity.ERROR]

    def _summary(self) -> str:
        if not self.issues:
            return "invalid input"
        if len(self.issues) == 1:
            return str(self.issues[0])
        lines = "\n".join(f"  - {i}" for i in self.issues)
        return f"{len(self.issues)} problems:\n{lines}"


class Overpayment(ValidationError):
    """A payment is larger than the open balance of the invoices it is applied to.

    The SAT refuses a DoctoRelacionado whose ImpPagado exceeds ImpSaldoAnt, so the SDK refuses
    before building the receipt. ``issues`` names the field (``amount``) and the balances.
    """


def _redacted_repr(error: Exception, message: str, **fields: object) -> str:
    """``Name(field=value, ..., message='...')`` with secrets masked in the message.

    Reprs end up in tracebacks and logs, where a vendor's echo of a request must not show a
    secret.
    """
    from .redaction import redact

    shown = "".join(f"{name}={value!r}, " for name, value in fields.items())
    return f"{type(error).__name__}({shown}message={redact(message)!r})"


class ProviderError(ApuntoError):
    """The vendor answered and refused the request.

    Attributes:
        provider: short vendor name (``facturama``).
        status_code: HTTP status, or ``None`` when the vendor signals failure inside a 200.
        vendor_code: the vendor's own error code, when it has one.
        message: the vendor's message, verbatim.
        details: structured extra information (e.g. Facturama's ``ModelState``).
        request_id: the vendor's correlation id, when it sends one.
        raw_body: the response body with secrets redacted, for support tickets.
    """

    redactor: Redactor | None = None
    """Set by the transport that raised the error: masks that provider's own secrets too."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        vendor_code: str | None = None,
        details: Mapping[str, Any] | Sequence[Any] | None = None,
        request_id: str | None = None,
        raw_body: str | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.vendor_code = vendor_code
        self.details = details
        self.request_id = request_id
        self.raw_body = raw_body
        super().__init__(message)

    def __repr__(self) -> str:
        return _redacted_repr(
            self, self.message,
            provider=self.provider, status_code=self.status_code, vendor_code=self.vendor_code,
        )

    def __str__(self) -> str:
        head = self.provider or "provider"
        if self.status_code is not None:
            head += f" HTTP {self.status_code}"
        if self.vendor_code:
            head += f" [{self.vendor_code}]"
        tail = f" (request id {self.request_id})" if self.request_id else ""
        # Vendors sometimes echo what they were sent; the text shown never carries a secret,
        # while ``.message`` stays verbatim for code that needs it. A transport's redactor
        # (set by Transport) also knows that provider's own secrets, such as a login token.
        if self.redactor is not None:
            return self.redactor.redact(f"{head}: {self.message}{tail}")
        from .redaction import redact

        return redact(f"{head}: {self.message}{tail}")


class AuthenticationError(ProviderError):
    """The vendor rejected the credentials (usually HTTP 401)."""


class PermissionDenied(ProviderError):
    """The credentials are valid but may not do this (usually HTTP 403)."""


class NotFound(ProviderError):
    """The document, customer or shipment does not exist at the vendor (HTTP 404)."""


class Conflict(ProviderError):
    """The vendor says the resource already exists or is in the wrong state (HTTP 409)."""


class StampInProgress(Conflict):
    """Another worker holds this idempotency key and did not finish within the wait.

    Nothing was sent by this call; try again later with the same key.
    """


class RateLimited(ProviderError):
    """Too many requests; ``retry_after`` is the wait in seconds the vendor asked for, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class InsufficientCredits(ProviderError):
    """The account has no stamps or tracking credits left.

    ``saved_id`` is set when the vendor saved the document but could not stamp it.
    """

    def __init__(self, message: str, *, saved_id: str | None = None, **kwargs: Any) -> None:
        self.saved_id = saved_id
        super().__init__(message, **kwargs)


class StampRejected(ProviderError):
    """The PAC or the SAT refused to stamp the invoice; ``sat_code`` is e.g. ``CFDI40145``."""

    def __init__(self, message: str, *, sat_code: str | None = None, **kwargs: Any) -> None:
        self.sat_code = sat_code
        super().__init__(message, **kwargs)


class ServerError(ProviderError):
    """The vendor failed on its side (HTTP 5xx) and retries did not help."""


# Only the statuses whose meaning is the same for every vendor; 402 and a 403 that is really a
# rate limit depend on the vendor and are decided by its error mapper first.
_STATUS_ERRORS: Mapping[int, type[ProviderError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def error_class_for_status(status: int) -> type[ProviderError]:
    """The error class an HTTP status means for any vendor (5xx: ServerError).

    Statuses whose meaning depends on the vendor (402, a 403 that is a rate limit) are decided
    by the vendor's error mapper before it falls back on this one.
    """
    if status >= 500:
        return ServerError
    return _STATUS_ERRORS.get(status, ProviderError)


class TransportError(ApuntoError):
    """No usable answer came back (connection refused, reset, unreadable body).

    ``request_sent`` tells whether the server may have received the request: when it is
    ``True`` a create may have happened, so look the document up before trying again.
    """

    def __init__(self, message: str, *, provider: str = "", request_sent: bool = False) -> None:
        self.provider = provider
        self.request_sent = request_sent
        super().__init__(message)

    def __repr__(self) -> str:
        return _redacted_repr(
            self, str(self), provider=self.provider, request_sent=self.request_sent
        )


class Timeout(TransportError):
    """The call ran out of time (read timeout or the caller's total deadline)."""


class UnexpectedResponse(TransportError):
    """The vendor answered, but not in a shape the SDK can read (a field of the wrong type).

    ``field`` is the dotted path of the field (``Complement.TaxStamp.Uuid``), or ``""`` when
    the whole answer is unreadable. ``request_sent`` is ``True``: the vendor did receive the
    request, so a create may have happened (look the document up before trying again).
    """

    def __init__(self, message: str, *, provider: str = "", field: str = "") -> None:
        self.field = field
        super().__init__(message, provider=provider, request_sent=True)


class StampOutcomeUnknown(TransportError):
    """A stamp request for this key was sent earlier, and whether it stamped cannot be learned.

    The SDK does not send again (that could issue a second CFDI). Ways out:

    - check at the vendor's portal, then ``provider.resolve(key, uuid=...)`` (it was stamped)
      or ``provider.resolve(key, uuid=None)`` (it was not), and stamp again;
    - ``provider.stamp(invoice, idempotency_key=key, resend=True)`` to accept the risk knowingly;
    - for vendors that can be asked, simply retry after ``retry_after`` seconds: the vendor may
      still be committing a late request.

    Attributes:
        key: the idempotency key.
        record: the journal record (:class:`~apunto_connect.journal.JournalRecord`).
        retry_after: seconds after which asking the vendor again is meaningful, or ``None``
            when the vendor cannot be asked at all.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        key: str = "",
        record: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.key = key
        self.record = record
        self.retry_after = retry_after
        super().__init__(message, provider=provider, request_sent=True)


class UnsupportedOperation(ApuntoError):
    """The provider does not offer this operation; raised before any network call."""

    def __init__(self, provider: str, operation: str, hint: str = "") -> None:
        self.provider = provider
        self.operation = operation
        text = f"{provider} does not support '{operation}'"
        super().__init__(f"{text}. {hint}" if hint else text)


class SignatureVerificationError(ApuntoError):
    """A webhook signature is missing, malformed, wrong or too old."""
