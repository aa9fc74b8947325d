"""``apunto-connect track create|get|list|assign|activate|close``: trackings from the shell.

JSON in (``--data '{...}'``, ``--data @file.json`` or standard input) and JSON out, so the
command composes with ``jq`` and scripts. Credentials come from the environment or the keyring
like everywhere else; ``--sandbox`` uses the in-process emulators instead (their state lives as
long as the process: for a lifecycle spread over several commands, pass ``--sandbox-state
FILE``, or serve the sandbox over loopback and pass ``--base-url``).

Examples::

    apunto-connect track create --provider controlt --sandbox --wait
        --data '{"reference": "SRV-1", "mode": "land", "origin": "Manzanillo",
                 "destination": "Querétaro", "service_status": "Activo"}'
    apunto-connect track activate --provider controlt SRV-1 --by ana@example.com
    apunto-connect track waybill SRV-1 --goods waybill.json
    apunto-connect track waybill SRV-1 --goods waybill.json --stamp --provider facturama

``track waybill TRIP_ID --goods FILE.json`` builds the Carta Porte 3.1 of a ControlT trip
(:func:`~apunto_connect.models.carta_porte_from_trip`): the trip gives the dates, plates and
driver; FILE.json gives what a tracking vendor does not know::

    {"goods": [{"product_code": "24112700", "description": "Tarimas", "quantity": 10,
                "unit_code": "H87", "weight_kg": "1200"}],
     "origin": {"kind": "Origen", "rfc": "EKU9003173C9", "at": null, "zip_code": "44100",
                "state": "JAL"},
     "destination": {"kind": "Destino", "rfc": "URE180429TM6", "at": null,
                     "zip_code": "64000", "state": "NLE", "distance": "850"},
     "truck": {"permit_type": "TPAF01", "permit_number": "...", "config": "T3S2",
               "gross_weight": "40", "plate": "", "model_year": 2022,
               "insurer": "...", "policy": "..."},
     "operator_rfc": "PEGJ800101AB1",
     "invoice": {...the freight invoice that carries it (needed with --stamp)...}}

It prints the Carta Porte as JSON (``--xml``: the CFDI, when the file has an invoice), or with
``--stamp --provider VENDOR`` stamps the invoice carrying it (exit 7 when the vendor cannot).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import cattrs

from ..errors import UnsupportedOperation, ValidationError
from ..models.convert import from_dict, to_dict
from ..models.tracking import Assignment, Shipment, Tracking
from ._options import add_base_url_option
from ._providers import add_sandbox_options, provider_from_args

__all__ = ["register"]



def register(sub: Any) -> None:
    """Add the ``track`` command group."""
    parser = sub.add_parser("track", help="create and follow land trips and ocean containers")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        p.add_argument("--provider", required=True, help="controlt or shipsgo")
        add_sandbox_options(p)
        add_base_url_option(p)
        return p

    create = action("create", "start tracking a shipment (JSON Shipment)")
    create.add_argument("--data", help="JSON, @file or - for standard input (default: stdin)")
    create.add_argument("--wait", action="store_true", help="wait until the vendor creates it")
    create.add_argument(
        "--allow-non-iso", action="store_true", help="send container numbers failing ISO 6346"
    )
    create.set_defaults(handler=_create)

    get = action("get", "show a tracking")
    get.add_argument("tracking_id")
    get.set_defaults(handler=_get)

    listing = action("list", "list trackings (JSON lines)")
    listing.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)

    assign = action("assign", "assign carrier, vehicle and driver (JSON Assignment)")
    assign.add_argument("tracking_id")
    assign.add_argument("--data", help="JSON, @file or - for standard input (default: stdin)")
    assign.set_defaults(handler=_assign)

    for name, text in (("activate", "start monitoring a trip"), ("close", "finish a trip")):
        step = action(name, text)
        step.add_argument("tracking_id")
        step.add_argument("--by", required=True, help="who does it (recorded by the vendor)")
        step.set_defaults(handler=_activate if name == "activate" else _close)

    from ._waybill import register_waybill

    register_waybill(actions.add_parser(
        "waybill", help="the Carta Porte 3.1 of a land trip (JSON, or stamped with --stamp)"
    ))


def _provider(args: argparse.Namespace) -> Any:
    return provider_from_args("tracking", args)


def _read_json(value: str | None) -> Any:
    try:
        if value is None or value == "-":
            text = sys.stdin.read()
        elif value.startswith("@"):
            with open(value[1:], encoding="utf-8") as handle:
                text = handle.read()
        else:
            text = value
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read --data: {exc}", field="data") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"--data is not valid JSON: {exc}", field="data") from None


def _structure(cls: type[Any], data: Any) -> Any:
    try:
        return from_dict(cls, data)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        details = (
            "; ".join(cattrs.transform_error(exc, path=cls.__name__))
            if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        )
        raise ValidationError(f"invalid {cls.__name__}: {details}", field="data") from None


def _print(tracking: Tracking) -> None:
    data = to_dict(tracking)
    data.pop("raw", None)
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _create(args: argparse.Namespace) -> int:
    shipment = _structure(Shipment, _read_json(args.data))
    with _provider(args) as provider:
        if args.allow_non_iso:
            tracking = provider.create_tracking(shipment, allow_non_iso_container=True)
        else:
            tracking = provider.create_tracking(shipment)
        if args.wait:
            if not hasattr(provider, "wait_until_created"):
                raise UnsupportedOperation(args.provider, "wait_until_created")
            tracking = provider.wait_until_created(tracking.tracking_id)
        _print(tracking)
    return 0


def _get(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        _print(provider.get_tracking(args.tracking_id))
    return 0


def _list(args: argparse.Namespace) -> int:
    filters: dict[str, Any] = {}
    for item in args.filter:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValidationError(f"--filter {item!r} must be FIELD=VALUE", field="filter")
        filters[name.strip()] = value
    with _provider(args) as provider:
        for tracking in provider.list_trackings(**filters, limit=args.limit):
            data = to_dict(tracking)
            data.pop("raw", None)
            print(json.dumps(data, ensure_ascii=False, default=str))
    return 0


def _assign(args: argparse.Namespace) -> int:
    assignment = _structure(Assignment, _read_json(args.data))
    with _provider(args) as provider:
        _print(provider.assign(args.tracking_id, assignment))
    return 0


def _activate(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        _print(provider.activate(args.tracking_id, by=args.by))
    return 0


def _close(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        _print(provider.close(args.tracking_id, by=args.by))
    return 0
