"""``track waybill TRIP_ID --goods FILE.json``: the Carta Porte 3.1 of a tracked land trip.

Two vendors take part: the tracking vendor that knows the trip (``--tracking-provider``,
ControlT by default) and, with ``--stamp``, the invoicing vendor that stamps the freight
invoice carrying the complement (``--provider``/``--vendor``). Both come from the same sandbox
under ``--sandbox``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cattrs

from ..errors import ValidationError
from ..models.convert import from_dict, to_dict
from ._documents import require_document_stamping
from ._options import add_base_url_option
from ._providers import add_sandbox_options, provider_from_args

__all__ = ["WaybillFile", "read_waybill_file", "register_waybill"]

_REQUIRED = ("goods", "origin", "destination", "truck", "operator_rfc")


def register_waybill(parser: argparse.ArgumentParser) -> None:
    """The options of ``track waybill``."""
    parser.add_argument("trip_id", metavar="TRIP_ID", help="the land trip (ControlT service)")
    parser.add_argument("--goods", required=True, metavar="FILE.json",
                        help="goods, origin, destination, truck, operator_rfc and (for "
                             "--stamp or --xml) the freight invoice")
    parser.add_argument("--tracking-provider", default="controlt",
                        help="the tracking vendor that has the trip (default controlt)")
    parser.add_argument("--provider", "--vendor", dest="provider",
                        help="with --stamp: the invoicing vendor that stamps it")
    parser.add_argument("--stamp", action="store_true",
                        help="stamp the invoice carrying the Carta Porte (needs --provider)")
    parser.add_argument("--idempotency-key", help="with --stamp: retry-safe key")
    parser.add_argument("--xml", action="store_true",
                        help="print the CFDI XML (the file must have an invoice)")
    parser.add_argument("--raw", action="store_true", help="with --stamp: the vendor's answer too")
    add_sandbox_options(parser)
    add_base_url_option(parser)
    parser.set_defaults(handler=_waybill)


class WaybillFile:
    """What ``--goods FILE.json`` holds, as models."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.goods: list[Any] = parts["goods"]
        self.origin: Any = parts["origin"]
        self.destination: Any = parts["destination"]
        self.truck: Any = parts["truck"]
        self.operator_rfc: str = parts["operator_rfc"]
        self.operator_license: str | None = parts.get("operator_license")
        self.invoice: Any = parts.get("invoice")


def _structure(cls: Any, data: Any, field: str) -> Any:
    try:
        return from_dict(cls, data)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        details = (
            "; ".join(cattrs.transform_error(exc, path=field))
            if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        )
        raise ValidationError(f"invalid {field}: {details}", field=field) from None


def read_waybill_file(path: str) -> WaybillFile:
    """Read and check ``--goods FILE.json`` (a :class:`ValidationError` names the part)."""
    from ..models import Invoice, WaybillGoods, WaybillLocation, WaybillTruck

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", field="goods") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{path} is not valid JSON: {exc}", field="goods") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{path} must hold a JSON object with {', '.join(_REQUIRED)}",
                              field="goods")
    missing = [name for name in _REQUIRED if data.get(name) in (None, "", [])]
    if missing:
        raise ValidationError(f"{path} lacks {', '.join(missing)}", field=f"goods.{missing[0]}")
    if not isinstance(data["goods"], list):
        raise ValidationError("goods must be a list of goods", field="goods.goods")
    if not isinstance(data["operator_rfc"], str):
        raise ValidationError("operator_rfc must be an RFC string", field="goods.operator_rfc")
    license_number = data.get("operator_license")
    if license_number is not None and not isinstance(license_number, str):
        raise ValidationError("operator_license must be a string", field="goods.operator_license")
    parts: dict[str, Any] = {
        "goods": [_structure(WaybillGoods, item, f"goods.goods[{index}]")
                  for index, item in enumerate(data["goods"])],
        "origin": _structure(WaybillLocation, data["origin"], "goods.origin"),
        "destination": _structure(WaybillLocation, data["destination"], "goods.destination"),
        "truck": _structure(WaybillTruck, data["truck"], "goods.truck"),
        "operator_rfc": data["operator_rfc"],
        "operator_license": license_number,
    }
    if data.get("invoice") is not None:
        parts["invoice"] = _structure(Invoice, data["invoice"], "goods.invoice")
    return WaybillFile(parts)


@contextlib.contextmanager
def _named(args: argparse.Namespace, vendor: str) -> Iterator[argparse.Namespace]:
    # provider_from_args reads args.provider and keeps the --sandbox-state sandbox on args
    # itself (so it is saved when the command ends): swap the name in place, not a copy.
    saved = args.provider
    args.provider = vendor
    try:
        yield args
    finally:
        args.provider = saved


def _waybill(args: argparse.Namespace) -> int:
    from ..models import CartaPorteInvoice, carta_porte_from_trip

    if args.stamp and not args.provider:
        raise ValidationError("--stamp needs --provider VENDOR (the invoicing vendor)",
                              field="provider")
    spec = read_waybill_file(args.goods)
    if (args.stamp or args.xml) and spec.invoice is None:
        raise ValidationError(
            f"{args.goods} has no \"invoice\": --stamp and --xml need the freight invoice "
            "that carries the Carta Porte", field="goods.invoice",
        )
    with contextlib.ExitStack() as stack:
        invoicing = None
        if args.stamp:
            invoicing = stack.enter_context(provider_from_args("invoicing", args))
            require_document_stamping(invoicing, "carta_porte")  # before any request
        with _named(args, args.tracking_provider):
            tracking = stack.enter_context(provider_from_args("tracking", args))
        trip = tracking.get_tracking(args.trip_id)
        carta_porte = carta_porte_from_trip(
            trip, goods=spec.goods, origin=spec.origin, destination=spec.destination,
            truck=spec.truck, operator_rfc=spec.operator_rfc,
            operator_license=spec.operator_license,
        )
        document = None if spec.invoice is None else CartaPorteInvoice(spec.invoice, carta_porte)
        if invoicing is not None:
            from .invoice_cmd import print_model, with_details

            stamped = with_details(
                lambda: invoicing.stamp(document, idempotency_key=args.idempotency_key)
            )
            print_model(stamped, args.raw)
            return 0
    if args.xml and document is not None:  # checked above: --xml needs the invoice
        from ..cfdi import build

        sys.stdout.write(build(document).decode("utf-8"))
        sys.stdout.flush()
        return 0
    print(json.dumps(to_dict(document if document is not None else carta_porte), indent=2,
                     ensure_ascii=False, default=str))
    return 0
