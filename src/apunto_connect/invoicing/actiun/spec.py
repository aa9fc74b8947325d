"""Actiun's spec: the client's :data:`apunto_connect.actiun.spec.SPEC`, shared by the provider.

The invoicing provider speaks to Actiun through :class:`~apunto_connect.actiun.ActiunClient`,
so both read one ``SPEC`` (paths, envelopes, headers, code lists, the tax catalog, each official
or assumed with its evidence); ``ActiunInvoiceProvider(spec={...})`` overrides it.
"""

from __future__ import annotations

from ...actiun.spec import SPEC

__all__ = ["SPEC"]
