"""Keep secrets out of logs, exceptions, CLI output and cassettes.

Two complementary mechanisms:

* pattern redaction: values of Authorization headers, ``Basic``/``Bearer`` tokens and of JSON
  keys, form fields and query parameters whose names look secret (password, token, api_key...);
* value redaction: the exact strings of known secrets are masked wherever they show up, whatever
  the field name. Every :class:`~apunto_connect.credentials.Secret` registers its value in the
  process-wide registry when it is created (:func:`register_secret`); each
  :class:`~apunto_connect.http.Transport` keeps its own :class:`Redactor` for the secrets of its
  credential set, including tokens that rotate (:meth:`Redactor.replace_secret` forgets the old
  one), so a long-running process does not accumulate every token it ever saw.

Value redaction is a set look-up, not a regular expression per secret: each secret is indexed by
its first :data:`MIN_SECRET_LENGTH` characters, and a scan collects the text's substrings of that
length once and intersects them with the index. Registering is O(1) and a scan costs the same
with ten secrets or ten thousand.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "RedactingFilter",
    "Redactor",
    "SecretSet",
    "forget_secret",
    "redact",
    "register_secret",
]

MASK = "***REDACTED***"

MIN_SECRET_LENGTH = 6
"""Shorter values are not masked by value: they would mask ordinary words all over the logs
("nope", "test"). Short passwords are still masked by the patterns wherever they sit in a named
field."""

# The process-wide registry forgets its oldest values past this many (bounded memory). Tokens that
# rotate belong to a transport's own Redactor, so this holds only long-lived credentials.
MAX_REGISTERED_SECRETS = 20_000

_log = logging.getLogger("apunto_connect.redaction")

# Names of fields whose values are secrets, in any casing, with or without separators.
_SECRET_NAMES = (
    r"authorization|password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|x-api-key|"
    r"token|access[_-]?token|refresh[_-]?token|id[_-]?token|user[_-]?token|"
    r"x-shipsgo-user-token|private[_-]?key|assertion|code[_-]?verifier"
)
# Lower-case words one of which every match of the named-field patterns contains: a text without
# any of them skips those regular expressions (most request and response bodies).
_NAME_TRIGGERS = ("auth", "pass", "pwd", "secret", "key", "token", "assertion", "verifier")
_SCHEME_TRIGGERS = ("basic", "bearer", "token")
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # Authorization: Basic abc / Bearer abc (headers, reprs, curl lines)
    (
        re.compile(r"(?i)\b(Basic|Bearer|Token)\s+[A-Za-z0-9+/=._~-]{6,}"),
        rf"\1 {MASK}",
        _SCHEME_TRIGGERS,
    ),
    # "password": "value"  /  'token': 'value'  (JSON and Python reprs)
    (
        re.compile(rf"(?i)([\"'](?:[\w-]*?)(?:{_SECRET_NAMES})[\"']\s*:\s*)([\"'])(.*?)(?<!\\)\2"),
        rf"\1\2{MASK}\2",
        _NAME_TRIGGERS,
    ),
    # header lines: X-Api-Key: value
    (
        re.compile(rf"(?im)^(\s*(?:{_SECRET_NAMES})\s*:\s*)(\S.*)$"),
        rf"\1{MASK}",
        _NAME_TRIGGERS,
    ),
    # query strings and form bodies: ?api_key=value&...
    (
        re.compile(rf"(?i)([?&;]|^)((?:[\w-]*?)(?:{_SECRET_NAMES})=)([^&\s#\"']+)"),
        rf"\1\2{MASK}",
        _NAME_TRIGGERS,
    ),
)


class SecretSet:
    """A set of secret strings that masks all of them in one pass over a text.

    Args:
        values: secrets to start with (shorter than :data:`MIN_SECRET_LENGTH` are ignored).
        max_size: keep at most this many; adding past it forgets the oldest (``None``: no cap).

    Thread-safe: adds, removals and scans may run from any thread.
    """

    def __init__(self, values: Iterable[str] = (), *, max_size: int | None = None) -> None:
        self._max_size = max_size
        self._lock = threading.Lock()
        # Insertion-ordered, so the oldest is the first key when the cap is reached.
        self._values: dict[str, None] = {}
        # First MIN_SECRET_LENGTH characters -> the secrets starting with them.
        self._by_prefix: dict[str, list[str]] = {}
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (no-op for short or already known values)."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values[value] = None
            self._by_prefix.setdefault(value[:MIN_SECRET_LENGTH], []).append(value)
            if self._max_size is not None and len(self._values) > self._max_size:
                oldest = next(iter(self._values))
                self._discard_locked(oldest)
                _log.warning(
                    "more than %d secrets registered; the oldest is no longer masked by value",
                    self._max_size,
                )

    def discard(self, value: str) -> None:
        """Stop masking ``value`` (no error when it was not known)."""
        with self._lock:
            self._discard_locked(value)

    def replace(self, old: str | None, new: str) -> None:
        """Mask ``new`` instead of ``old`` (a rotated token: the old one is forgotten)."""
        with self._lock:
            if old is not None and old != new:
                self._discard_locked(old)
        self.add(new)

    def values(self) -> frozenset[str]:
        """The secrets this set masks."""
        with self._lock:
            return frozenset(self._values)

    def clear(self) -> None:
        """Forget every secret."""
        with self._lock:
            self._values.clear()
            self._by_prefix.clear()

    def mask(self, text: str) -> str:
        """``text`` with every secret of this set replaced by :data:`MASK`."""
        index = self._by_prefix
        if not index or len(text) < MIN_SECRET_LENGTH:
            return text
        width = MIN_SECRET_LENGTH
        grams = {text[i : i + width] for i in range(len(text) - width + 1)}
        with self._lock:
            if len(grams) <= len(index):
                found = [value for gram in grams if gram in index for value in index[gram]]
            else:
                found = [value for gram, bucket in index.items() if gram in grams for value in bucket]
        if not found:
            return text
        # Longest first, so a secret that contains another is masked whole.
        for value in sorted(found, key=len, reverse=True):
            if value in text:
                text = text.replace(value, MASK)
        return text

    def _discard_locked(self, value: str) -> None:
        if value not in self._values:
            return
        del self._values[value]
        prefix = value[:MIN_SECRET_LENGTH]
        bucket = self._by_prefix.get(prefix, [])
        if value in bucket:
            bucket.remove(value)
        if not bucket:
            self._by_prefix.pop(prefix, None)


# Values of every Secret created in this process (credentials); tokens belong to transports.
_registry = SecretSet(max_size=MAX_REGISTERED_SECRETS)


class Redactor:
    """Masks secrets in text: the process-wide registry, its own secrets and secret patterns.

    Each :class:`~apunto_connect.http.Transport` has one for its credential set, so secrets
    that only one provider knows (a rotating login token) live and die with it.

    Args:
        secrets: values only this redactor masks (besides the process-wide registry).
        max_size: cap of its own secrets; the oldest is forgotten past it.
    """

    def __init__(self, secrets: Iterable[str] = (), *, max_size: int = 1_000) -> None:
        self._own = SecretSet(secrets, max_size=max_size)

    def add_secret(self, value: str) -> None:
        """Mask ``value`` in what this redactor cleans."""
        self._own.add(value)

    def replace_secret(self, old: str | None, new: str) -> None:
        """Mask ``new`` and forget ``old`` (a rotated token or re-issued key)."""
        self._own.replace(old, new)

    def forget_secret(self, value: str) -> None:
        """Stop masking ``value`` by value (patterns still apply)."""
        self._own.discard(value)

    def redact(self, text: str, extra_secrets: Iterable[str] = ()) -> str:
        """Return ``text`` with every known secret and secret-looking value masked."""
        if not text:
            return text
        text = _registry.mask(text)
        text = self._own.mask(text)
        for value in extra_secrets:
            if value and len(value) >= MIN_SECRET_LENGTH:
                text = text.replace(value, MASK)
        return _mask_patterns(text)


def _mask_patterns(text: str) -> str:
    lowered = text.lower()
    for regex, replacement, triggers in _PATTERNS:
        if any(word in lowered for word in triggers):
            text = regex.sub(replacement, text)
    return text


_default = Redactor()  # the process-wide registry and the patterns only


def register_secret(value: str) -> None:
    """Remember ``value`` process-wide so :func:`redact` masks it wherever it appears."""
    _registry.add(value)


def forget_secret(value: str) -> None:
    """Stop masking ``value`` process-wide (used when a credential is deleted or rotated)."""
    _registry.discard(value)


def _snapshot() -> frozenset[str]:
    """The registered values (for test isolation)."""
    return _registry.values()


def _restore(values: frozenset[str]) -> None:
    """Put back a :func:`_snapshot` (for test isolation)."""
    _registry.clear()
    for value in values:
        _registry.add(value)


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secrets, ``extra_secrets`` and secret-looking values masked."""
    return _default.redact(text, extra_secrets)


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
