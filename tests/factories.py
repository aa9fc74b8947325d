"""The invoices vendor tests stamp, read from ``tests/invoicing/fixtures/`` (one factory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apunto_connect.models import Invoice, from_dict

FIXTURES = Path(__file__).parent / "invoicing" / "fixtures"


def fixture_invoice(name: str, **changes: Any) -> Invoice:
    """The invoice stored in ``tests/invoicing/fixtures/<name>``, with ``changes`` applied.

    ``name`` is ``"<vendor>/<file>.json"``; each call reads the file again, so a test may change
    what it gets without touching another test's invoice.
    """
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    invoice = from_dict(Invoice, data)
    return invoice.with_changes(**changes) if changes else invoice
