"""Actiun's error answers -> the SDK's error tree, the server's text verbatim.

The mapping itself lives with the client (:func:`apunto_connect.actiun.errors.actiun_error`),
which the provider's transport uses; this is the provider's name for it.
"""

from __future__ import annotations

import requests

from ...actiun.errors import actiun_error as _client_error
from ...errors import ProviderError
from ...vendor_spec import VendorSpec
from .spec import SPEC

__all__ = ["actiun_error"]


def actiun_error(
    provider: str, response: requests.Response, *, spec: VendorSpec = SPEC
) -> ProviderError:
    """Map a failed Actiun answer to the error tree (the server's message verbatim).

    ``spec`` says which body keys hold the message and the details (assumed) and gives the
    reference's meaning of each status when the server sends no text.
    """
    return _client_error(provider, response, spec=spec)
