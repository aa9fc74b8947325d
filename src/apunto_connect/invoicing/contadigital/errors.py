"""ContaDigital's failure shapes -> the SDK's error tree, with the vendor's text verbatim.

Every reply is an envelope ``{"Resultado": ..., "Codigo": n}``; failures mostly come as HTTP 200
with a ``Codigo`` other than success, the text in ``Resultado`` (a string, a list, or an object
with ``Mensaje``-like fields). The field names and codes are read from the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from ..._wire import json_or_none, sat_code
from ...errors import (
    AuthenticationError,
    InsufficientCredits,
    ProviderError,
    StampRejected,
)
from ...http import error_for_status, raw_body
from .mapping import _as_int, _optional_str, _vendor_text, pick
from .spec import SPEC, ContaDigitalApi, legacy_spec

__all__ = ["contadigital_error"]


def contadigital_error(
    provider: str,
    response: requests.Response,
    *,
    spec: Mapping[str, Any] = SPEC,
    operation: str = "",
    api: ContaDigitalApi | None = None,
) -> ProviderError:
    """The typed error for a failed ContaDigital reply (HTTP error or ``Codigo`` other than 1).

    The vendor's text is kept verbatim in ``.message`` and its ``Codigo`` in ``vendor_code``.
    ``Codigo`` 3 becomes :class:`InsufficientCredits` with the saved invoice's id; a failed
    token exchange is an :class:`AuthenticationError`; a failed stamp is a
    :class:`StampRejected` (with ``sat_code`` when the text names a SAT rule). ``api=`` is
    deprecated (use ``spec=``).
    """
    spec = legacy_spec(spec, api, where="contadigital_error")
    body = json_or_none(response.content)
    raw_code = pick(spec, body, "code")
    code = _as_int(raw_code, default=-1) if raw_code is not None else None
    result = pick(spec, body, "result")
    message = _vendor_text(body, result, spec)
    if message is None:
        text = response.text.strip()
        if code is not None:
            message = f"ContaDigital answered Codigo {code}"
        elif text and not text.startswith("<") and body is None:
            message = text[:500]
        else:
            message = f"HTTP {response.status_code} {response.reason or ''}".strip()
    vendor_code = str(code) if code is not None else None
    http_failed = response.status_code >= 400
    common: dict[str, Any] = {
        "provider": provider,
        "status_code": response.status_code if http_failed else None,
        "vendor_code": vendor_code,
        "details": body if isinstance(body, (Mapping, list)) else None,
        "raw_body": raw_body(response),
    }
    code_of_sat = sat_code(message)
    if code == spec["value.no_credits_code"]:
        saved = pick(spec, result, "invoice_id")
        return InsufficientCredits(message, saved_id=_optional_str(saved), **common)
    if http_failed:
        error = error_for_status(
            provider, response, message, vendor_code=vendor_code, details=common["details"]
        )
        if code_of_sat and type(error) is ProviderError:
            return StampRejected(message, sat_code=code_of_sat, **common)
        return error
    if operation == "connect":
        return AuthenticationError(message, **common)
    if code_of_sat or operation == "stamp":
        return StampRejected(message, sat_code=code_of_sat, **common)
    return ProviderError(message, **common)
