"""Lines ``mypy --strict`` must reject: each one ends with the error code expected on it.

tests/typecheck/test_user_script_types.py checks that mypy reports exactly these errors, on these lines.
"""

from __future__ import annotations

from apunto_connect import Invoice, Sandbox, invoice_provider


def misuse(invoice: Invoice) -> None:
    facturama = invoice_provider("facturama", username="u", password="p")
    facturama.stamp_typo(invoice)  # expect: attr-defined
    facturama.download("abc", "docx")  # expect: arg-type
    with Sandbox() as sb:
        alegra = sb.invoice_provider("alegra")
        alegra.stamp(invoice, idempotency=1)  # expect: call-arg
        alegra.download("abc", "docx")  # expect: arg-type
        sb.tracking_provider("shipsgo").stamp(invoice)  # expect: attr-defined
