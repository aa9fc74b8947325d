"""Enlace Fiscal's failures -> the SDK's error tree, the vendor's text verbatim.

A failure comes as a non-2xx answer or, often, as an HTTP 200 whose ``AckEnlaceFiscal`` is not
``aceptado``: its ``mensajeError.codigoError`` / ``descripcionError`` are kept as they are.
Codes are read through the spec (``value.error.*``); only ``800`` is publicly known, so text
rules catch the real wording of the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import requests

from ..._wire import json_or_none, sat_code
from ...errors import (
    AuthenticationError,
    Conflict,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    ProviderError,
    StampRejected,
)
from ...http import error_for_status, raw_body
from .mapping import _ack_of, _errors_of, _text, is_accepted
from .spec import SPEC, resolve_spec

__all__ = ["ERROR_CODES", "ERROR_KINDS", "enlace_fiscal_error", "error_codes"]

ERROR_KINDS: Mapping[str, type[ProviderError]] = MappingProxyType(
    {
        "value.error.authentication": AuthenticationError,
        "value.error.serie_not_enabled": PermissionDenied,
        "value.error.duplicate": Conflict,
        "value.error.not_found": NotFound,
        "value.error.no_stamps": InsufficientCredits,
        "value.error.rejected": StampRejected,
        "value.error.malformed": ProviderError,
        "value.error.not_cancellable": Conflict,
    }
)
"""Which error each ``codigoError`` of the spec stands for."""


def error_codes(spec: Mapping[str, Any]) -> dict[str, type[ProviderError]]:
    """``codigoError`` -> error class, with the codes of ``spec``."""
    return {str(spec[key]): cls for key, cls in ERROR_KINDS.items()}


ERROR_CODES: Mapping[str, type[ProviderError]] = MappingProxyType(
    {str(SPEC.fact(key).value): cls for key, cls in ERROR_KINDS.items()}
)
"""The default ``codigoError`` -> error class (read-only; override codes with ``spec=``)."""


def _message_of(error: Any) -> str:
    """``descripcionError`` verbatim, whichever of the known shapes it comes in."""
    if isinstance(error, str):
        return error
    if isinstance(error, Mapping):
        for key in ("texto", "descripcion", "mensaje"):
            if isinstance(error.get(key), str):
                return str(error[key])
        return str(dict(error))
    if isinstance(error, Sequence):
        return "\n".join(_message_of(part) for part in error)
    return "" if error is None else str(error)


_TEXT_RULES: tuple[tuple[re.Pattern[str], type[ProviderError]], ...] = (
    (re.compile(r"(?i)usuario o contrase"), AuthenticationError),
    (re.compile(r"(?i)saldo insuficiente|sin saldo|timbres? (insuficientes|disponibles)"), InsufficientCredits),
    (re.compile(r"(?i)ya (fue|ha sido) (utilizad|registrad|emitid)|duplicad"), Conflict),
    (re.compile(r"(?i)no (existe|se encontr)"), NotFound),
)


def _classify(
    code: str | None, message: str, found_sat_code: str | None, spec: Mapping[str, Any]
) -> type[ProviderError] | None:
    if code:
        known = error_codes(spec)
        if code in known:
            return known[code]
    if found_sat_code:
        return StampRejected
    for pattern, cls in _TEXT_RULES:
        if pattern.search(message):
            return cls
    return None


def _from_ack(
    provider: str, response: requests.Response, ack: Mapping[str, Any], spec: Mapping[str, Any]
) -> ProviderError:
    errors = _errors_of(ack)
    first = errors[0] if errors else {}
    code = _text(first.get("codigoError"))
    message = "\n".join(_message_of(e.get("descripcionError")) for e in errors).strip()
    if not message:
        status = _text(ack.get("estatusDocumento")) or "sin estatus"
        message = f"estatusDocumento: {status}"
    # A SAT rule in the text wins; else the vendor may send the SAT code as its own code.
    found_sat_code = sat_code(message, code.upper() if code else None)
    details: Any = errors[0] if len(errors) == 1 else errors or dict(ack)
    request_id = _text(ack.get("numeroReferencia"))
    cls = _classify(code, message, found_sat_code, spec)
    if cls is None and response.status_code >= 400:
        return error_for_status(
            provider, response, message, vendor_code=code, details=details, request_id=request_id
        )
    common: dict[str, Any] = {
        "provider": provider,
        # A failure inside a 200 has no meaningful HTTP status.
        "status_code": None if response.status_code < 400 else response.status_code,
        "vendor_code": code,
        "details": details,
        "request_id": request_id,
        "raw_body": raw_body(response),
    }
    if cls is None:
        return ProviderError(message, **common)
    if cls is StampRejected:
        return StampRejected(message, sat_code=found_sat_code, **common)
    return cls(message, **common)


def enlace_fiscal_error(
    provider: str, response: requests.Response, *, spec: Mapping[str, Any] | None = None
) -> ProviderError:
    """Map a failed answer (non-2xx, or a 200 whose ack is not ``aceptado``) to a typed error.

    The vendor's ``descripcionError`` is kept verbatim in ``.message``, ``codigoError`` in
    ``vendor_code``, a ``CFDI40xxx`` rule found in the text in ``StampRejected.sat_code`` and
    ``numeroReferencia`` in ``request_id``. Gateway answers (``{"message": ...}``, HTML pages,
    empty bodies) are mapped by HTTP status; a 403 means the ``x-api-key`` was refused.
    ``spec`` carries the provider's overrides (codes, the accepted status).
    """
    names = resolve_spec(spec, copy=False)
    body = json_or_none(response.content)
    ack = _ack_of(body)
    if ack is not None and (not is_accepted(ack, names) or response.status_code >= 400):
        return _from_ack(provider, response, ack, names)
    message = None
    if isinstance(body, Mapping):
        for key in ("message", "Message", "mensaje", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                message = str(body[key])
                break
    if message is None:
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else ""
        message = message or f"HTTP {response.status_code} {response.reason or ''}".strip()
    details = body if isinstance(body, (Mapping, list)) else None
    if response.status_code == 403:
        return AuthenticationError(
            message,
            provider=provider,
            status_code=403,
            details=details,
            raw_body=raw_body(response),
        )
    if response.status_code < 400:
        return ProviderError(
            f"unexpected answer without AckEnlaceFiscal: {message}",
            provider=provider,
            status_code=response.status_code,
            details=details,
            raw_body=raw_body(response),
        )
    return error_for_status(provider, response, message, details=details)
