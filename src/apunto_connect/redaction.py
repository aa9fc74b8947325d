"""Keep secrets out of logs, exceptions, CLI output and cassettes.

Two complementary mechanisms:

* pattern redaction: values of Authorization headers, ``Basic``/``Bearer`` tokens and of JSON
  keys, form fields and query parameters whose names look secret (password, token, api_key...);
* value redaction: every :class:`~apunto_connect.credentials.Secret` registers its value here when
  it is created, so the exact string is masked wherever it shows up, whatever the field name.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["MASK", "RedactingFilter", "forget_secret", "redact", "register_secret"]

MASK = "***REDACTED***"

# Names of fields whose values are secrets, in any casing, with or without separators.
_SECRET_NAMES = (
    r"authorization|password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|x-api-key|"
    r"token|access[_-]?token|refresh[_-]?token|id[_-]?token|user[_-]?token|"
    r"x-shipsgo-user-token|private[_-]?key|assertion|code[_-]?verifier"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Basic abc / Bearer abc (headers, reprs, curl lines)
    (re.compile(r"(?i)\b(Basic|Bearer|Token)\s+[A-Za-z0-9+/=._~-]{6,}"), rf"\1 {MASK}"),
    # "password": "value"  /  'token': 'value'  (JSON and Python reprs)
    (
        re.compile(rf"(?i)([\"'](?:[\w-]*?)(?:{_SECRET_NAMES})[\"']\s*:\s*)([\"'])(.*?)(?<!\\)\2"),
        rf"\1\2{MASK}\2",
    ),
    # header lines: X-Api-Key: value
    (
        re.compile(rf"(?im)^(\s*(?:{_SECRET_NAMES})\s*:\s*)(\S.*)$"),
        rf"\1{MASK}",
    ),
    # query strings and form bodies: ?api_key=value&...
    (
        re.compile(rf"(?i)([?&;]|^)((?:[\w-]*?)(?:{_SECRET_NAMES})=)([^&\s#\"']+)"),
        rf"\1\2{MASK}",
    ),
)

# Shorter values would mask ordinary words all over the logs ("nope", "test"); short
# passwords are still masked by the patterns above wherever they sit in a named field.
_MIN_SECRET_LENGTH = 6
_known: set[str] = set()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Remember ``value`` so :func:`redact` masks it wherever it appears."""
    global _known_pattern
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _known_lock:
        if value in _known:
            return
        _known.add(value)
        _known_pattern = _compile(_known)


def forget_secret(value: str) -> None:
    """Stop masking ``value`` (used when a credential is deleted)."""
    global _known_pattern
    with _known_lock:
        _known.discard(value)
        _known_pattern = _compile(_known) if _known else None


def _snapshot() -> frozenset[str]:
    """The registered values (for test isolation)."""
    with _known_lock:
        return frozenset(_known)


def _restore(values: frozenset[str]) -> None:
    """Put back a :func:`_snapshot` (for test isolation)."""
    global _known_pattern
    with _known_lock:
        _known.clear()
        _known.update(values)
        _known_pattern = _compile(_known) if _known else None


def _compile(values: Iterable[str]) -> re.Pattern[str]:
    # Longest first so a secret that contains another is masked whole.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every known secret and secret-looking value masked."""
    if not text:
        return text
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for value in extra_secrets:
        if value and len(value) >= _MIN_SECRET_LENGTH:
            text = text.replace(value, MASK)
    for regex, replacement in _PATTERNS:
        text = regex.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from the formatted message of every record.

    Attach it to your handlers (filters on a logger do not see records of child loggers)::

        handler.addFilter(RedactingFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place with secrets masked; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
