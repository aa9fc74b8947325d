"""Where credentials come from: argument > environment > keyring > :class:`CredentialsNotFound`.

* Environment: ``APUNTO_<VENDOR>_<FIELD>``, e.g. ``APUNTO_FACTURAMA_USERNAME``.
* Keyring: service ``apunto_connect/<vendor>``, one entry per field (username = field name), or
  one compact JSON object under the username ``credentials``.
* Headless machines without a keyring backend do not crash: keyring's fail, null and empty
  chainer backends, and any keyring error, count as "not there". ``APUNTO_NO_KEYRING=1`` turns
  keyring off entirely.

Values are stripped of surrounding whitespace with a warning, because pasted keys with a stray
space are a classic cause of "invalid credentials" at every vendor. Secret values are wrapped in
:class:`Secret`, which never shows itself in ``repr``/``str``/logs.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .errors import ConfigurationError, CredentialsNotFound
from .redaction import MASK, forget_secret, register_secret

__all__ = [
    "CredentialField",
    "Secret",
    "delete_credentials",
    "env_var_name",
    "keyring_available",
    "keyring_service",
    "resolve_credentials",
    "store_credentials",
]

log = logging.getLogger("apunto_connect.credentials")
_JSON_ENTRY = "credentials"


class Secret:
    """A string that masks itself everywhere except :meth:`reveal`.

    >>> s = Secret("sk_live_abc123")
    >>> s
    Secret('***REDACTED***')
    >>> s.reveal()
    'sk_live_abc123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """Return the real value (only for sending it to the vendor)."""
        return self._value

    def masked(self) -> str:
        """What humans see: a fixed mask that tells nothing of the value, not even its length."""
        return "*" * 8

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # pickling must not be a way around the mask in logs
        raise TypeError("Secret values cannot be pickled")


@attrs.frozen(slots=True)
class CredentialField:
    """One credential a vendor needs.

    Attributes:
        name: field name (``username``, ``api_key``); the env var is ``APUNTO_<VENDOR>_<NAME>``.
        secret: wrap the value in :class:`Secret`.
        required: raise :class:`CredentialsNotFound` when missing (else ``None``).
        default: value used when no source has one (only for non-secret fields).
        env_aliases: other environment variable names to accept (vendor conventions).
        strip: strip surrounding whitespace (with a warning) — almost always wanted.
    """

    name: str
    secret: bool = True
    required: bool = True
    default: str | None = None
    env_aliases: tuple[str, ...] = ()
    strip: bool = True


def env_var_name(vendor: str, field: str) -> str:
    """``APUNTO_<VENDOR>_<FIELD>`` in upper case with dashes as underscores."""
    return f"APUNTO_{vendor}_{field}".upper().replace("-", "_")


def keyring_service(vendor: str) -> str:
    """The keyring service name of ``vendor``: ``apunto_connect/<vendor>``."""
    return f"apunto_connect/{vendor}"


def _keyring_disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("APUNTO_NO_KEYRING", "").strip().lower() in {"1", "true", "yes", "on"}


def _usable_keyring() -> Any | None:
    """The keyring module when a real backend is behind it, else ``None``."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except Exception:  # pragma: no cover - keyring is a dependency, but never crash on it
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        log.debug("keyring unavailable: %s", type(exc).__name__)
        return None
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return keyring


def keyring_available(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether a real keyring backend can be used (and is not disabled)."""
    environ = os.environ if environ is None else environ
    return not _keyring_disabled(environ) and _usable_keyring() is not None


def _keyring_get(vendor: str, field: str) -> str | None:
    keyring = _usable_keyring()
    if keyring is None:
        return None
    service = keyring_service(vendor)
    try:
        value = keyring.get_password(service, field)
        if value is not None:
            return str(value)
        compact = keyring.get_password(service, _JSON_ENTRY)
    except Exception as exc:  # NoKeyringError, locked keychains, D-Bus errors...
        log.debug("keyring lookup failed for %s: %s", service, type(exc).__name__)
        return None
    if compact:
        try:
            found = json.loads(compact).get(field)
        except (ValueError, AttributeError):
            return None
        return None if found is None else str(found)
    return None


def _clean(vendor: str, field: CredentialField, value: str, source: str) -> str:
    if field.strip and value != value.strip():
        warnings.warn(
            f"{vendor} credential '{field.name}' from {source} had surrounding whitespace; "
            "it was stripped (vendors reject keys with stray spaces)",
            UserWarning,
            stacklevel=4,
        )
        value = value.strip()
    return value


def resolve_credentials(
    vendor: str,
    fields: Sequence[CredentialField],
    explicit: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    use_keyring: bool = True,
) -> dict[str, Any]:
    """Resolve every field of ``vendor`` through the chain; secrets come back as :class:`Secret`.

    Raises:
        CredentialsNotFound: a required field is in no source; names the sources tried.
    """
    environ = os.environ if environ is None else environ
    explicit = explicit or {}
    keyring_on = use_keyring and not _keyring_disabled(environ)
    resolved: dict[str, Any] = {}
    for field in fields:
        tried: list[str] = [f"argument '{field.name}'"]
        value: str | None = None
        source = "argument"
        given = explicit.get(field.name)
        if isinstance(given, Secret):
            value = given.reveal()
        elif given is not None:
            value = str(given)
        if value is None:
            for name in (env_var_name(vendor, field.name), *field.env_aliases):
                tried.append(f"environment variable {name}")
                if environ.get(name):
                    value, source = environ[name], f"environment variable {name}"
                    break
        if value is None:
            if keyring_on:
                tried.append(f"keyring service '{keyring_service(vendor)}'")
                value = _keyring_get(vendor, field.name)
                source = "keyring"
            else:
                tried.append("keyring (disabled)")
        if value is None and field.default is not None:
            value, source = field.default, "default"
        if value is None or value == "":
            if field.required:
                raise CredentialsNotFound(vendor, field.name, tried)
            resolved[field.name] = None
            continue
        value = _clean(vendor, field, value, source)
        resolved[field.name] = Secret(value) if field.secret else value
    return resolved


def store_credentials(vendor: str, values: Mapping[str, str]) -> None:
    """Save credentials in the keyring, one entry per field.

    Raises:
        ConfigurationError: no usable keyring backend on this machine (or it is disabled).
    """
    keyring = None if _keyring_disabled(os.environ) else _usable_keyring()
    if keyring is None:
        raise ConfigurationError(
            "No usable keyring backend on this machine; use environment variables "
            f"({env_var_name(vendor, '<FIELD>')}) instead"
        )
    for name, value in values.items():
        keyring.set_password(keyring_service(vendor), name, value.strip())


def delete_credentials(vendor: str, names: Sequence[str]) -> list[str]:
    """Delete stored fields of ``vendor`` from the keyring; returns the names deleted."""
    keyring = _usable_keyring()
    if keyring is None:
        return []
    deleted = []
    for name in [*names, _JSON_ENTRY]:
        try:
            old = keyring.get_password(keyring_service(vendor), name)
            keyring.delete_password(keyring_service(vendor), name)
        except Exception:  # PasswordDeleteError when absent
            continue
        if old:
            forget_secret(old)
        deleted.append(name)
    return deleted
