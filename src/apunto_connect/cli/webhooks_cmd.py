"""``apunto-connect webhooks list|retry``: see and revive outgoing webhook deliveries."""

from __future__ import annotations

import argparse
import json
import sqlite3
from typing import Any

from ..errors import JournalUnavailable

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``webhooks`` command group."""
    parser = sub.add_parser("webhooks", help="list or retry outgoing webhook deliveries")
    _outbox_option(parser, default=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    list_parser = actions.add_parser("list", help="deliveries with their status")
    _outbox_option(list_parser, default=argparse.SUPPRESS)
    list_parser.add_argument("--status", choices=["pending", "delivered", "failed"])
    list_parser.add_argument("--json", action="store_true", help="machine-readable output")
    list_parser.set_defaults(handler=_list)
    retry_parser = actions.add_parser("retry", help="put parked (failed) deliveries back in line")
    retry_parser.add_argument("event_id", nargs="?", help="only this event (default: all failed)")
    _outbox_option(retry_parser, default=argparse.SUPPRESS)
    retry_parser.set_defaults(handler=_retry)


def _outbox_option(parser: argparse.ArgumentParser, default: Any) -> None:
    # Accepted before and after the action (`webhooks --outbox F list`, `webhooks list --outbox F`).
    parser.add_argument(
        "--outbox", metavar="FILE", default=default,
        help="outbox: a SQLite file or a postgresql:// URL "
        "(default: APUNTO_JOURNAL, else the journal file in the user's data folder)",
    )


def _outbox(args: argparse.Namespace) -> Any:
    from ..webhooks import Outbox

    return Outbox(args.outbox or None)


def _rows(call: Any) -> Any:
    """Run an outbox query; a file that is not an outbox is a clear error, not a traceback."""
    try:
        return call()
    except sqlite3.Error as exc:
        raise JournalUnavailable(f"the webhook outbox cannot be read: {exc}") from None


def _list(args: argparse.Namespace) -> int:
    from ..webhooks import utc_timestamp

    outbox = _outbox(args)
    rows = _rows(lambda: outbox.list(args.status))
    if args.json:
        print(json.dumps([
            {
                "event_id": d.event_id, "event_type": d.event_type, "endpoint": d.endpoint,
                "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
                "created_at": utc_timestamp(d.created_at),
            }
            for d in rows
        ], indent=2))
        return 0
    if not rows:
        print("no deliveries")
    for d in rows:
        error = f"  last error: {d.last_error}" if d.last_error else ""
        print(f"{d.status:<9} {d.attempts:>2}x {d.event_type:<24} {d.event_id} -> {d.endpoint}{error}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    outbox = _outbox(args)
    count = _rows(lambda: outbox.retry(args.event_id))
    print(f"{count} deliveries queued again; they go out on the next deliver_pending()")
    return 0
