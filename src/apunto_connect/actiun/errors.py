"""Turn an Actiun error answer into the SDK's error tree, keeping the server's words.

The reference lists the statuses (400, 401, 404, 405, 429, 500, 503) and what they mean, but
shows no error body. The keys read for the message are the assumed ``field.error_message`` of
:data:`apunto_connect.actiun.spec.SPEC`; when a server sends no text at all, the reference's own
meaning of the status (``value.status_meanings``) is the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from .._wire import json_or_none, sat_code
from ..errors import ProviderError
from ..http import error_for_status, stamp_rejected
from ..vendor_spec import VendorSpec
from .spec import SPEC

__all__ = ["actiun_error", "error_message"]

def _as_text(value: Any) -> str | None:
    """A message from a string, a list of strings or an object of field -> messages."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [text for text in (_as_text(v) for v in value) if text]
        return "; ".join(parts) or None
    if isinstance(value, Mapping):
        parts = []
        for key, inner in value.items():
            text = _as_text(inner)
            if text:
                parts.append(f"{key}: {text}")
        return "; ".join(parts) or None
    return None


def error_message(body: Any, spec: VendorSpec = SPEC) -> str | None:
    """The server's message inside a decoded error body, verbatim, or ``None``."""
    if isinstance(body, str):
        return body.strip() or None
    if not isinstance(body, Mapping):
        return _as_text(body)
    for key in spec["field.error_message"]:
        text = _as_text(body.get(key))
        if text:
            return text
    return None


def actiun_error(
    provider: str, response: requests.Response, *, spec: VendorSpec = SPEC
) -> ProviderError:
    """Map a failed Actiun answer to the error tree.

    ``.message`` is the server's text verbatim (else the reference's meaning of the status),
    ``.details`` the structured field errors when the body has them, and a SAT rule code found
    in the text of a 400 (``CFDI40145``) makes it a :class:`StampRejected` with ``sat_code``.
    429 becomes :class:`RateLimited` with the ``Retry-After`` seconds.
    """
    body = json_or_none(response.content)
    message = error_message(body, spec)
    if message is None:
        text = response.text.strip() if response.content else ""
        if text and not text.startswith("<"):
            message = text[:500]
    status = response.status_code
    if not message:
        meaning = spec["value.status_meanings"].get(status)
        message = meaning or f"HTTP {status} {response.reason or ''}".strip()
    details: Any = None
    if isinstance(body, Mapping):
        for key in spec["field.error_detail"]:
            if isinstance(body.get(key), (Mapping, list)):
                details = body[key]
                break
        else:
            details = dict(body)
    code = sat_code(message)
    if status in (400, 422) and code:
        return stamp_rejected(provider, response, message, code, details=details)
    return error_for_status(provider, response, message, details=details)
