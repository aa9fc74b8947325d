"""How vendor commands build their provider: real credentials, a base URL, or the sandbox."""

from __future__ import annotations

import argparse
from typing import Any

from ..registry import Kind

__all__ = ["provider_from_args", "shared_sandbox"]

# One in-process sandbox per process, so several commands in one run (and tests calling
# main() repeatedly) share its state.
_sandbox: Any = None


def provider_from_args(kind: Kind, args: argparse.Namespace) -> Any:
    """The ``args.provider`` provider of ``kind``, honouring ``--base-url`` and ``--sandbox``."""
    from ..registry import load_provider_class

    global _sandbox
    options: dict[str, Any] = {}
    if args.base_url:
        options["base_url"] = args.base_url
    if not args.sandbox:
        return load_provider_class(kind, args.provider)(**options)
    if _sandbox is None:
        from ..sandbox import Sandbox

        _sandbox = Sandbox()
    builders = {"invoicing": _sandbox.invoice_provider, "tracking": _sandbox.tracking_provider}
    return builders[kind](args.provider, **options)


def shared_sandbox() -> Any:
    """The process's in-process sandbox (made on first use), shared by every command."""
    global _sandbox
    if _sandbox is None:
        from ..sandbox import Sandbox

        _sandbox = Sandbox()
    return _sandbox
