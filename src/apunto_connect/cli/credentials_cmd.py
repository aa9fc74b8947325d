"""``apunto-connect credentials set|show|delete VENDOR``: manage stored credentials."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from ..credentials import (
    CredentialField,
    Secret,
    delete_credentials,
    env_var_name,
    keyring_available,
    resolve_credentials,
    store_credentials,
)
from ..errors import CredentialsNotFound, ValidationError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``credentials`` command group."""
    parser = sub.add_parser("credentials", help="store, show (masked) or delete credentials")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    set_parser = actions.add_parser("set", help="save fields in the keyring")
    set_parser.add_argument("vendor")
    set_parser.add_argument(
        "fields", nargs="+", metavar="FIELD[=VALUE]",
        help="field names to prompt for (hidden), or FIELD=VALUE",
    )
    set_parser.set_defaults(handler=_set)

    show_parser = actions.add_parser("show", help="where each field comes from, masked")
    show_parser.add_argument("vendor")
    show_parser.add_argument("fields", nargs="+", metavar="FIELD")
    show_parser.set_defaults(handler=_show)

    delete_parser = actions.add_parser("delete", help="remove fields from the keyring")
    delete_parser.add_argument("vendor")
    delete_parser.add_argument("fields", nargs="+", metavar="FIELD")
    delete_parser.set_defaults(handler=_delete)


def _set(args: argparse.Namespace) -> int:
    values: dict[str, str] = {}
    for item in args.fields:
        name, sep, value = item.partition("=")
        if not sep:
            value = getpass.getpass(f"{args.vendor} {name}: ") if sys.stdin.isatty() else sys.stdin.readline()
        value = value.strip()
        if not value:
            raise ValidationError("empty value", field=name, code="APUNTO-002")
        values[name] = value
    store_credentials(args.vendor, values)
    print(f"saved {', '.join(values)} for {args.vendor} in the keyring")
    return 0


def _show(args: argparse.Namespace) -> int:
    for name in args.fields:
        field = CredentialField(name)
        try:
            value = resolve_credentials(args.vendor, [field])[name]
        except CredentialsNotFound as exc:
            print(f"{name}: not set (tried {', '.join(exc.sources)})")
            continue
        source = "environment" if os.environ.get(env_var_name(args.vendor, name)) else "keyring"
        shown = value.masked() if isinstance(value, Secret) else str(value)
        print(f"{name}: {shown} (from {source})")
    if not keyring_available():
        print("note: no usable keyring backend on this machine; only environment variables work")
    return 0


def _delete(args: argparse.Namespace) -> int:
    deleted = delete_credentials(args.vendor, args.fields)
    print(f"deleted {', '.join(deleted) if deleted else 'nothing'} for {args.vendor}")
    return 0
