"""Alegra's error shapes → the error tree of :mod:`apunto_connect.errors`, text verbatim.

Alegra answers ``{"message", "code"}``, the same wrapped in ``error``, or a one-element list of
it; a stamp refused inside ``POST /invoices/stamp`` is an entry of a 200 answer. The SAT code
in the text (``CFDI40145``) is read with the pattern every vendor shares
(:func:`apunto_connect._wire.sat_code`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from ..._wire import json_or_none, sat_code
from ...errors import ProviderError, StampRejected
from ...http import error_for_status
from .mapping import PROVIDER, _get, _text
from .spec import SPEC

__all__ = ["alegra_error", "stamp_result_error"]


def _error_fields(body: Any, spec: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(message, code)`` from Alegra's error shapes: flat, nested in ``error``, or a list."""
    if isinstance(body, list) and body:
        return _error_fields(body[0], spec)
    if not isinstance(body, Mapping):
        return None, None
    nested = body.get(spec["field.error.wrapper"])
    if isinstance(nested, Mapping):
        message, code = _error_fields(nested, spec)
        if message:
            return message, code
    message = body.get(spec["field.error.message"])
    if isinstance(message, Mapping | list):
        message = json.dumps(message, ensure_ascii=False)
    if not isinstance(message, str) and isinstance(nested, str):
        message = nested
    code = body.get(spec["field.error.code"])
    return (
        message if isinstance(message, str) and message.strip() else None,
        None if code is None or isinstance(code, Mapping | list) else str(code),
    )


def _reset_seconds(response: requests.Response, spec: Mapping[str, Any]) -> float | None:
    value = response.headers.get(spec["header.rate_reset"])
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def alegra_error(
    provider: str, response: requests.Response, *, spec: Mapping[str, Any] = SPEC
) -> ProviderError:
    """Map a failed Alegra response to the error tree, keeping Alegra's message verbatim.

    ``{"message": ..., "code": ...}`` (also nested under ``error`` or as a one-element list)
    gives ``message`` and ``vendor_code``; a SAT rule code (``CFDI40145``) in a 400/409/422
    answer makes it a :class:`StampRejected` with ``sat_code``; a 429 carries the seconds of
    ``X-Rate-Limit-Reset`` as ``retry_after``. Bodies that are not JSON (HTML from a proxy,
    plain text) keep their text, or the HTTP reason when they are HTML.
    """
    body = json_or_none(response.content)
    message, code = _error_fields(body, spec)
    if message is None:
        text = response.text.strip() if response.content else ""
        looks_html = text[:1] == "<"
        message = text[:500] if text and not looks_html else ""
        message = message or f"HTTP {response.status_code} {response.reason or ''}".strip()
    details = body if isinstance(body, Mapping | list) else None
    status = response.status_code
    error = error_for_status(provider, response, message, vendor_code=code, details=details)
    found = sat_code(message)
    if found and status in (400, 409, 422):
        return StampRejected(
            message,
            sat_code=found,
            provider=provider,
            status_code=status,
            vendor_code=code,
            details=details,
            request_id=error.request_id,
            raw_body=error.raw_body,
        )
    if status == 429 and getattr(error, "retry_after", None) is None:
        error.retry_after = _reset_seconds(response, spec)  # type: ignore[attr-defined]
    return error


def stamp_result_error(
    entry: Mapping[str, Any], provider: str = PROVIDER, *, spec: Mapping[str, Any] = SPEC
) -> ProviderError:
    """The error for one failed entry of ``POST /invoices/stamp`` (HTTP 200, per-id result)."""
    message = _text(_get(entry, spec["field.stamp.message"])) or "Alegra did not stamp the invoice"
    code = _text(_get(entry, spec["field.error.code"])) or _text(
        _get(entry, spec["field.stamp.status"])
    )
    return StampRejected(
        message,
        sat_code=sat_code(message),
        provider=provider,
        vendor_code=code,
        details=dict(entry),
    )
