"""``apunto-connect drive login|status|disconnect|reconnect``: the Google Drive connection.

The three actions of the integration's settings page — see the status, disconnect the linked
account, reconnect with another Google account — plus the first sign-in.

``--sandbox`` runs against the offline emulator instead of Google (sign-in completes by itself);
``--sandbox-state FILE`` keeps the emulator's files and tokens between commands.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import AuthenticationError, ConfigurationError

__all__ = ["add_drive_options", "open_drive", "register"]

SANDBOX_REDIRECT = "http://localhost:8080/oauth2callback"


def add_drive_options(parser: argparse.ArgumentParser) -> None:
    """Options every Drive-backed command shares."""
    group = parser.add_argument_group("Google Drive")
    group.add_argument("--client-config", metavar="PATH",
                       help="OAuth client JSON from the Google Cloud console "
                            "(default: APUNTO_GOOGLE_DRIVE_CLIENT_CONFIG)")
    group.add_argument("--token-file", metavar="PATH",
                       help="keep the sign-in in this file (mode 0600) instead of the keyring")
    group.add_argument("--root-folder", default="apunto-connect", help="app folder in My Drive")
    group.add_argument("--sandbox", action="store_true", help="use the offline emulator")
    group.add_argument("--sandbox-state", metavar="FILE",
                       help="with --sandbox: load and save the emulator's state here")


@contextlib.contextmanager
def open_drive(args: argparse.Namespace) -> Iterator[Any]:
    """The Drive provider the options describe (and, with ``--sandbox``, its emulator state)."""
    from ..storage.google_auth import FileTokenStore

    store = FileTokenStore(args.token_file) if args.token_file else None
    common: dict[str, Any] = {"root_folder": args.root_folder}
    if store is not None:
        common["token_store"] = store
    if not args.sandbox:
        if args.sandbox_state:
            raise ConfigurationError("--sandbox-state needs --sandbox")
        from ..storage.google_drive import GoogleDriveStorage

        drive = GoogleDriveStorage(client_config=args.client_config, **common)
        try:
            yield drive
        finally:
            drive.release()
        return

    from ..sandbox import Sandbox
    from ..sandbox.state import dump_sandbox, load_sandbox

    state = args.sandbox_state
    with Sandbox(vendors=["google_drive"]) as sb:
        emulator = sb.emulator("google_drive")
        if state:
            load_sandbox(sb, state)
        if store is not None:
            common["refresh_token"] = None  # the sign-in lives in the token file, not the demo token
        drive = sb.storage_provider("google_drive", **common)
        args.sandbox_emulator = emulator  # lets ``drive login --sandbox`` approve the consent
        try:
            yield drive
        finally:
            if state:
                dump_sandbox(sb, state)


def register(sub: Any) -> None:
    """Add the ``drive`` command group."""
    parser = sub.add_parser("drive", help="connect, check or disconnect Google Drive")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    login = actions.add_parser("login", help="sign in with a Google account (opens a browser)")
    add_drive_options(login)
    login.add_argument("--no-browser", action="store_true",
                       help="print the sign-in URL instead of opening a browser")
    login.add_argument("--port", type=int, default=0, help="local port for Google's answer (0: any free port)")
    login.add_argument("--timeout", type=int, default=300, help="seconds to wait for the browser")
    login.add_argument("--login-hint", metavar="EMAIL", help="pre-select this Google account")
    login.set_defaults(handler=_login, select_account=False)

    reconnect = actions.add_parser("reconnect", help="disconnect, then sign in with another account")
    add_drive_options(reconnect)
    reconnect.add_argument("--no-browser", action="store_true")
    reconnect.add_argument("--port", type=int, default=0)
    reconnect.add_argument("--timeout", type=int, default=300)
    reconnect.add_argument("--login-hint", metavar="EMAIL")
    reconnect.set_defaults(handler=_reconnect, select_account=True)

    status = actions.add_parser("status", help="the connected account, scopes and token expiry")
    add_drive_options(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)

    disconnect = actions.add_parser("disconnect", help="revoke the sign-in at Google and forget it")
    add_drive_options(disconnect)
    disconnect.set_defaults(handler=_disconnect)


def _human_bytes(value: int) -> str:
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def _print_status(status: Any) -> None:
    print(f"connected: {'yes' if status.connected else 'no'}")
    if status.account:
        name = f" ({status.display_name})" if status.display_name else ""
        print(f"account: {status.account}{name}")
    if status.scopes:
        print(f"scopes: {' '.join(status.scopes)}")
    if status.token_expiry:
        print(f"access token expires: {status.token_expiry.isoformat(timespec='seconds')}")
    if status.storage_usage is not None:
        limit = _human_bytes(status.storage_limit) if status.storage_limit is not None else "unlimited"
        print(f"storage: {_human_bytes(status.storage_usage)} used of {limit}")
    if not status.connected:
        print(f"detail: {status.detail}")


def _sign_in(drive: Any, args: argparse.Namespace) -> Any:
    emulator = getattr(args, "sandbox_emulator", None)
    if emulator is not None:
        # The emulator's consent screen approves at once: the same web flow, no browser.
        pending = drive.begin_web_login(
            SANDBOX_REDIRECT, login_hint=args.login_hint, select_account=args.select_account
        )
        return drive.finish_web_login(pending, emulator.approve(pending.authorization_url))
    print(
        "Signing in to Google Drive (scope drive.file: apunto-connect only sees the files it "
        "creates).\n"
        + ("Open the URL below in a browser on this machine." if args.no_browser
           else "A browser window will open; if it does not, open the URL below.")
        + f"\nWaiting up to {args.timeout} s for Google's answer on a local port...",
        file=sys.stderr,
    )
    return drive.login(
        open_browser=not args.no_browser, port=args.port, timeout_seconds=args.timeout,
        login_hint=args.login_hint, select_account=args.select_account,
    )


def _login(args: argparse.Namespace) -> int:
    with open_drive(args) as drive:
        if not args.sandbox:
            drive.client_config()  # a missing OAuth client is reported before any browser opens
        status = _sign_in(drive, args)
        _print_status(status)
        print(f"sign-in stored in {drive.token_store!r}")
        return 0 if status.connected else 4


def _reconnect(args: argparse.Namespace) -> int:
    with open_drive(args) as drive:
        if not args.sandbox:
            drive.client_config()
        drive.disconnect()
        status = _sign_in(drive, args)
        _print_status(status)
        return 0 if status.connected else 4


def _status(args: argparse.Namespace) -> int:
    with open_drive(args) as drive:
        status = drive.status()
        if args.json:
            data = {
                "connected": status.connected, "account": status.account,
                "display_name": status.display_name, "scopes": list(status.scopes),
                "token_expiry": status.token_expiry.isoformat() if status.token_expiry else None,
                "storage_limit": status.storage_limit, "storage_usage": status.storage_usage,
                "detail": status.detail, "error_code": status.error_code,
            }
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            _print_status(status)
        if status.connected:
            return 0
        return 6 if status.error_code == "not_signed_in" else 4


def _disconnect(args: argparse.Namespace) -> int:
    with open_drive(args) as drive:
        if not drive.signed_in():
            print("not signed in: nothing to disconnect")
            return 0
        try:
            revoked = drive.disconnect()
        except AuthenticationError as exc:
            print(f"forgot the local sign-in; Google did not confirm the revocation: {exc.message}")
            return 0
        print("disconnected: " + ("access revoked at Google and the sign-in forgotten" if revoked
                                  else "the sign-in was already invalid at Google; forgotten here"))
        return 0

