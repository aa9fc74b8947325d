"""How vendor commands build their provider: real credentials, a base URL, or the sandbox."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..registry import Kind

__all__ = [
    "add_sandbox_options",
    "check_base_url",
    "provider_from_args",
    "sandbox_for",
    "save_sandbox_state",
    "shared_sandbox",
]

# One in-process sandbox per process, so several commands in one run (and tests calling
# main() repeatedly) share its state. A command given ``--sandbox-state FILE`` uses a sandbox
# of its own instead, loaded from FILE and saved back to it when the command ends.
_sandbox: Any = None


def add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """``--sandbox`` and ``--sandbox-state FILE``, the same on every vendor command."""
    parser.add_argument("--sandbox", action="store_true", help="use the offline emulator")
    parser.add_argument(
        "--sandbox-state", metavar="FILE",
        help="with --sandbox: load the emulators' state from FILE and save it back afterwards",
    )


def check_base_url(value: str) -> str:
    """``value`` when it is an http(s) URL with a host; else a :class:`ConfigurationError`."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"--base-url {value!r} is not an http:// or https:// URL with a host"
        )
    return value


def sandbox_for(args: argparse.Namespace) -> Any:
    """The sandbox a ``--sandbox`` command runs on (see the comment on ``_sandbox``)."""
    from ..sandbox import Sandbox
    from ..sandbox.state import load_sandbox

    global _sandbox
    state = getattr(args, "sandbox_state", None)
    if not state:
        if _sandbox is None:
            _sandbox = Sandbox()
        return _sandbox
    own = getattr(args, "state_sandbox", None)
    if own is None:
        own = Sandbox()
        load_sandbox(own, state)
        args.state_sandbox = own
    return own


def save_sandbox_state(args: argparse.Namespace) -> None:
    """Write the command's sandbox back to ``--sandbox-state`` (after the command ran)."""
    from ..sandbox.state import dump_sandbox

    own = getattr(args, "state_sandbox", None)
    if own is None:
        return
    try:
        dump_sandbox(own, args.sandbox_state)
    finally:
        own.close()
        args.state_sandbox = None


def provider_from_args(kind: Kind, args: argparse.Namespace) -> Any:
    """The ``args.provider`` provider of ``kind``, honouring ``--base-url`` and ``--sandbox``."""
    from ..registry import load_provider_class

    options: dict[str, Any] = {}
    base_url = getattr(args, "base_url", None)
    if base_url:
        options["base_url"] = check_base_url(base_url)
    if getattr(args, "sandbox_state", None) and not args.sandbox:
        raise ConfigurationError("--sandbox-state needs --sandbox")
    if not args.sandbox:
        return load_provider_class(kind, args.provider)(**options)
    sandbox = sandbox_for(args)
    builders = {"invoicing": sandbox.invoice_provider, "tracking": sandbox.tracking_provider}
    return builders[kind](args.provider, **options)


def shared_sandbox() -> Any:
    """The process's in-process sandbox (made on first use), shared by every command."""
    global _sandbox
    if _sandbox is None:
        from ..sandbox import Sandbox

        _sandbox = Sandbox()
    return _sandbox
