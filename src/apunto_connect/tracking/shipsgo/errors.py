"""ShipsGo's failures → the SDK's error tree, the vendor's ``message`` verbatim."""

from __future__ import annotations

import re
from collections.abc import Mapping

import requests

from ..._wire import json_or_none
from ...errors import Issue, ProviderError, ValidationError
from ...http import error_for_status

__all__ = ["shipsgo_error", "shipsgo_validation_error"]

_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]+$")


def shipsgo_error(provider: str, response: requests.Response) -> ProviderError:
    """Map a failed ShipsGo response to the error tree, keeping ``message`` verbatim.

    Upper-case single-token messages (``TOKEN_MISSING``, ``ALREADY_EXISTS``) are also the
    vendor code; 402 becomes :class:`~apunto_connect.errors.InsufficientCredits`.
    """
    body = json_or_none(response.content)
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, str) or not message.strip():
        text = response.text.strip()
        message = text[:500] if text and not text.startswith("<") else (
            f"HTTP {response.status_code} {response.reason or ''}".strip()
        )
    code = message if _CODE_PATTERN.match(message) else None
    details = body if isinstance(body, (Mapping, list)) else None
    return error_for_status(provider, response, message, vendor_code=code, details=details)


def shipsgo_validation_error(error: ProviderError) -> ValidationError:
    """Turn a 422 answer into a ValidationError whose issues carry the vendor text verbatim."""
    issues: list[Issue] = []
    details = error.details if isinstance(error.details, Mapping) else {}
    found = details.get("errors")
    if isinstance(found, Mapping):
        for field, messages in found.items():
            texts = messages if isinstance(messages, list) else [messages]
            issues.extend(Issue(str(field), "SHIPSGO-422", str(text)) for text in texts)
    elif isinstance(found, list):
        for item in found:
            if isinstance(item, Mapping):
                issues.append(
                    Issue(str(item.get("field") or item.get("path") or "shipment"), "SHIPSGO-422",
                           str(item.get("message") or item))
                )
    if not issues:
        issues.append(Issue("shipment", error.vendor_code or "SHIPSGO-422", error.message))
    return ValidationError(issues)

