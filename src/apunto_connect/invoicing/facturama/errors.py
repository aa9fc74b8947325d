"""Facturama's error answers -> the SDK's error tree, with Facturama's words verbatim.

Facturama answers errors as ``{"Message": "...", "ModelState": {"<field>": ["...", ...]}}``
(``ModelState`` optional), and sometimes not as JSON at all (HTML error pages, plain text).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from ..._wire import json_or_none, sat_code
from ...errors import ProviderError
from ...http import error_for_status, stamp_rejected
from ...vendor_spec import VendorSpec
from .spec import SPEC

__all__ = ["facturama_error"]

_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _model_state_texts(model_state: Any) -> list[str]:
    texts: list[str] = []
    if isinstance(model_state, Mapping):
        for value in model_state.values():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, Sequence):
                texts.extend(str(v) for v in value)
    return texts


def _is_stamp_request(response: requests.Response, spec: VendorSpec) -> bool:
    request = response.request
    if request is None or (request.method or "").upper() != "POST":
        return False
    path = (request.path_url or "").split("?", 1)[0].rstrip("/").lower()
    stamp_path = str(spec["path.stamp"]).strip("/").lower()
    return path.endswith("/" + stamp_path)


def _message(body: Any, response: requests.Response) -> str:
    """Facturama's ``Message``; else the page title, the plain text or the HTTP status."""
    message = ""
    if isinstance(body, Mapping):
        message = str(body.get("Message") or body.get("message") or "")
    elif isinstance(body, str):
        message = body
    if message:
        return message
    text = response.text or ""
    title = _HTML_TITLE.search(text)
    if title:
        return " ".join(title.group(1).split())
    if text.strip() and not text.lstrip().startswith("<"):
        return text.strip()[:500]
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def facturama_error(
    provider: str, response: requests.Response, *, spec: VendorSpec = SPEC
) -> ProviderError:
    """Turn a failed Facturama response into the error tree, keeping the vendor's words.

    ``Message`` goes verbatim to ``.message`` and ``ModelState`` verbatim to ``.details``. A
    rejected stamp (4xx on ``POST 3/cfdis``) becomes :class:`StampRejected` with ``sat_code``
    taken from a SAT code in the text (:func:`apunto_connect._wire.sat_code`) or from a known
    SAT sentence (``spec["value.sat_message_codes"]``). Bodies that are not JSON (HTML error
    pages, plain text) are handled: the page title or text becomes the message.
    """
    body: Any = json_or_none(response.content)
    message = _message(body, response)
    model_state = body.get("ModelState") if isinstance(body, Mapping) else None
    details = model_state if isinstance(model_state, Mapping) else None
    code = sat_code(
        message, _model_state_texts(model_state), known=spec["value.sat_message_codes"]
    )
    status = response.status_code
    if status in (400, 409, 422) and (code or _is_stamp_request(response, spec)):
        return stamp_rejected(
            provider, response, message, code,
            details=details, request_id=response.headers.get("X-Request-Id"),
        )
    return error_for_status(provider, response, message, vendor_code=code, details=details)
