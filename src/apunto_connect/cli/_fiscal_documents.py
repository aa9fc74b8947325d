"""``invoice pay`` and ``invoice credit-note``: documents built from invoices already stamped.

Both fetch the stamped invoices' XML from the vendor (``download(ref, "xml")``), build the
document from what the SAT has (UUID, receiver, totals, taxes) and stamp it with the same
vendor. ``--dry-run`` prints the document instead (JSON, or CFDI XML with ``--xml``), which
needs no stamping support at the vendor.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from ..models.convert import to_dict
from ._documents import DocumentKind, require_document_stamping
from ._providers import provider_from_args

__all__ = [
    "add_document_output_options",
    "emit_document",
    "parse_paid_at",
    "register_credit_note",
    "register_pay",
]


def add_document_output_options(parser: argparse.ArgumentParser) -> None:
    """``--idempotency-key``, ``--dry-run`` and ``--xml``, the same on every document command."""
    parser.add_argument("--idempotency-key", help="retry-safe key (reuse it when retrying)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the document instead of stamping it (nothing is sent)")
    parser.add_argument("--xml", action="store_true",
                        help="with --dry-run: print the CFDI XML instead of JSON")


def register_pay(parser: argparse.ArgumentParser) -> None:
    """The options of ``invoice pay``."""
    parser.add_argument("refs", nargs="+", metavar="REF",
                        help="the paid invoices (vendor ids), in the order the money is applied")
    parser.add_argument("--amount", required=True, help="the amount received (Monto)")
    parser.add_argument("--paid-at", required=True, metavar="DATE",
                        help="when it was received: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (FechaPago)")
    parser.add_argument("--form", required=True, metavar="FORM",
                        help="FormaDePagoP: 03 transfer, 02 cheque, 01 cash, 04 card...")
    parser.add_argument("--currency", default="MXN", help="MonedaP (default MXN)")
    parser.add_argument("--exchange-rate", help="TipoCambioP, MXN per unit (not MXN payments)")
    parser.add_argument("--previous", action="append", default=[], metavar="RECEIPT.xml",
                        help="an earlier receipt for these invoices (repeatable): gives the "
                             "instalment number and the balance left")
    parser.add_argument("--operation-number", help="NumOperacion (the bank's reference)")
    add_document_output_options(parser)
    parser.set_defaults(handler=_pay)


def register_credit_note(parser: argparse.ArgumentParser) -> None:
    """The options of ``invoice credit-note``."""
    parser.add_argument("ref", help="the invoice the note reduces (vendor id)")
    parser.add_argument("--amount", required=True, help="the amount credited, before taxes")
    parser.add_argument("--relation", choices=("01", "03", "07"), default="01",
                        help="TipoRelacion: 01 discount or rebate, 03 returned goods, "
                             "07 advance applied (default 01)")
    parser.add_argument("--description", default="Descuento sobre factura",
                        help="the concept's description")
    parser.add_argument("--iva-rate", default="0.16",
                        help="IVA on the amount credited (0.16, 0.08, 0; 'none' for no IVA)")
    add_document_output_options(parser)
    parser.set_defaults(handler=_credit_note)


def parse_paid_at(text: str) -> datetime:
    """A date (noon that day) or a date and time; a :class:`ValidationError` naming ``paid_at``."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12, 0))
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--paid-at {text!r} is not YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]", field="paid_at"
        ) from None


def _stamped_xml(provider: Any, ref: str) -> Any:
    from ..cfdi import parse
    from .invoice_cmd import with_details

    xml: bytes = with_details(lambda: provider.download(ref, "xml"))
    return parse(xml, source=ref)


def _previous_receipts(paths: list[str]) -> list[Any]:
    from ..cfdi import read_document
    from ..errors import ApuntoError
    from ..models import PaymentReceipt

    receipts = []
    for index, path in enumerate(paths):
        try:
            document = read_document(Path(path).read_bytes())
        except OSError as exc:
            raise ValidationError(f"cannot read {path}: {exc.strerror or exc}",
                                  field=f"previous[{index}]") from None
        except ApuntoError as exc:
            raise ValidationError(f"{path} is not a CFDI: {exc}",
                                  field=f"previous[{index}]") from None
        if not isinstance(document, PaymentReceipt):
            raise ValidationError(f"{path} is a {type(document).__name__}, not a payment receipt",
                                  field=f"previous[{index}]")
        receipts.append(document)
    return receipts


def emit_document(
    args: argparse.Namespace, provider: Any, document: Any, kind: DocumentKind,
    summary: dict[str, Any],
) -> int:
    """Print ``document`` (``--dry-run``) or stamp it and print the stamped CFDI."""
    from .invoice_cmd import print_model, with_details

    if args.dry_run:
        if args.xml:
            from ..cfdi import build

            sys.stdout.write(build(document).decode("utf-8"))
            sys.stdout.flush()
        else:
            print(json.dumps({**summary, "document": to_dict(document)}, indent=2,
                             ensure_ascii=False, default=str))
        return 0
    stamped = with_details(lambda: provider.stamp(document, idempotency_key=args.idempotency_key))
    print_model(stamped, args.raw)
    return 0


def _pay(args: argparse.Namespace) -> int:
    from ..models import PaymentReceipt

    paid_at = parse_paid_at(args.paid_at)
    previous = _previous_receipts(args.previous)
    with provider_from_args("invoicing", args) as provider:
        if not args.dry_run:  # refused before any request when the vendor cannot stamp it
            require_document_stamping(provider, "payment")
        invoices = [_stamped_xml(provider, ref) for ref in args.refs]
        receipt = PaymentReceipt.for_invoices(
            invoices, amount=args.amount, paid_at=paid_at, form=args.form,
            currency=args.currency, exchange_rate=args.exchange_rate, previous=previous,
            operation_number=args.operation_number,
        )
        summary = {"balances": {uuid: str(balance) for uuid, balance in receipt.balances().items()}}
        return emit_document(args, provider, receipt, "payment", summary)


def _iva_rate(text: str) -> Decimal | None:
    if text.lower() == "none":
        return None
    try:
        rate = Decimal(text)
    except ArithmeticError:
        rate = Decimal(-1)
    if not Decimal(0) <= rate < Decimal(1):
        raise ValidationError(f"--iva-rate {text!r} is not a rate such as 0.16 (or 'none')",
                              field="iva_rate")
    return rate


def _credit_note(args: argparse.Namespace) -> int:
    from ..models import CreditNote, Customer, Issuer
    from ..money import to_decimal

    rate = _iva_rate(args.iva_rate)
    amount = to_decimal(args.amount, field="amount")
    if amount <= 0:
        raise ValidationError("the amount credited must be positive", field="amount")
    with provider_from_args("invoicing", args) as provider:
        if not args.dry_run:
            require_document_stamping(provider, "credit_note")
        cfdi = _stamped_xml(provider, args.ref)
        if not cfdi.uuid:
            raise ValidationError(f"{args.ref} has no folio fiscal: it is not stamped",
                                  field="ref")
        receiver = cfdi.receiver
        customer = Customer(receiver.rfc, receiver.name or "", receiver.tax_regime or "",
                            receiver.zip_code or "", cfdi_use="G02",
                            tax_residence=receiver.tax_residence,
                            foreign_tax_id=receiver.foreign_tax_id)
        issuer = Issuer(cfdi.issuer.rfc, cfdi.issuer.name or "", cfdi.issuer.tax_regime or "",
                        cfdi.place_of_issue or "")
        note = CreditNote.discount(customer, [cfdi.uuid], amount, description=args.description,
                                   iva_rate=rate, issuer=issuer, reason=args.relation,
                                   currency=cfdi.currency or "MXN")
        if cfdi.total is not None and note.total > cfdi.total:
            raise ValidationError(
                f"the credit note's total {note.total} exceeds the invoice's {cfdi.total}",
                field="amount",
            )
        summary = {"related_uuid": cfdi.uuid, "invoice_total": str(cfdi.total),
                   "credit_total": str(note.total)}
        return emit_document(args, provider, note, "credit_note", summary)
