"""ControlT's failures → the SDK's error tree, the vendor's text verbatim."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from ..._wire import json_or_none
from ...errors import AuthenticationError, ProviderError
from ...http import error_for_status, raw_body
from ..base import InvalidTransition

__all__ = ["controlt_error", "denied_message"]


def _message_of(body: Any) -> str | None:
    if isinstance(body, Mapping):
        for key in ("Message", "message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return None


def controlt_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed ControlT answer; ``Message`` (ASP.NET) or ``error_description`` verbatim.

    409 (the trip is in the wrong state) becomes :class:`InvalidTransition`; a 400 with
    ``error: invalid_grant`` from the login becomes an authentication error; ``ModelState``
    validation details are kept in ``details``.
    """
    body = json_or_none(response.content)
    message = _message_of(body)
    if message is None:
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else (
            f"HTTP {response.status_code} {response.reason or ''}".strip()
        )
    details = body if isinstance(body, (Mapping, list)) else None
    code = body.get("error") if isinstance(body, Mapping) and isinstance(body.get("error"), str) else None
    if response.status_code == 409:
        return InvalidTransition(
            message, operation="", current_status=None, provider=provider, status_code=409,
            details=details, raw_body=raw_body(response),
        )
    if response.status_code == 400 and code == "invalid_grant":
        return AuthenticationError(message, provider=provider, status_code=400, vendor_code=code,
                                   details=details)
    return error_for_status(provider, response, message, vendor_code=code, details=details)


def denied_message(body: Any) -> str | None:
    """The ``Message`` of an answer that says access was *denied* (even inside a 200)."""
    message = _message_of(body)
    return message if message and "denied" in message.lower() else None
