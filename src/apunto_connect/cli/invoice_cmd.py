"""``apunto-connect invoice stamp|get|download|cancel``: CFDI 4.0 invoices from the shell.

The invoice is a JSON file (or ``-`` for standard input) shaped like
``apunto_connect.models.to_dict(Invoice(...))``; a ``.yaml``/``.yml`` file works too when
PyYAML is installed. Answers are JSON on standard output, so the command composes with ``jq``.
Credentials come from the environment (``APUNTO_<VENDOR>_<FIELD>``) or the keyring, as
everywhere else. ``--sandbox`` uses the in-process emulators instead; their state lives as long
as the process unless ``--sandbox-state FILE`` saves it for the next command (or serve the
sandbox over loopback and pass ``--base-url``). Vendor rejections print the vendor's structured details (Facturama's
``ModelState``, for example) on standard error before the usual one-line error.

``invoice stamp-many FILE`` stamps a batch (a CSV of invoice lines or JSON Lines, see
:mod:`apunto_connect.invoicing.batch_files`) with ``stamp_many``: every invoice is checked first
(problems named by row on standard error), the rest stamped on a bounded pool with a progress
bar on a terminal, and a results CSV written (row, key, uuid, vendor_id, status, error). Each
invoice's idempotency key is stable, so running the same file again stamps only what is
missing. Exit 0 when every invoice is stamped (now or before), 8 when some are not.

Examples::

    apunto-connect invoice stamp factura.json --provider facturama --idempotency-key ORD-77
    apunto-connect invoice get 0F8C2B7E-5A14-4D3B-9E61-2C7A9B0D4E15 --provider facturama
    apunto-connect invoice download kR3vQ8sLm2Pz7YwXc1Nd42 --provider facturama --format pdf
        --output f.pdf
    apunto-connect invoice cancel kR3vQ8sLm2Pz7YwXc1Nd42 --motive 02 --provider facturama
    apunto-connect invoice stamp-many month.csv --vendor facturama --concurrency 8
    apunto-connect invoice pay kR3vQ8sLm2Pz7YwXc1Nd42 --amount 5000 --paid-at 2026-11-20
        --form 03 --provider facturama
    apunto-connect invoice credit-note kR3vQ8sLm2Pz7YwXc1Nd42 --amount 500 --provider facturama

``invoice pay`` and ``invoice credit-note`` fetch the stamped invoices' XML from the vendor,
build the payment receipt (:meth:`PaymentReceipt.for_invoices`) or the credit note from it and
stamp that; ``--dry-run`` prints the document instead of stamping it (``--xml`` as CFDI XML).
A vendor that cannot stamp the document exits 7 before anything is sent.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import cattrs

from ..errors import ConfigurationError, ProviderError, ValidationError
from ..models.convert import from_dict, to_dict
from ..models.invoices import CancelMotive, Invoice
from ._options import add_base_url_option
from ._providers import add_sandbox_options, provider_from_args

__all__ = ["print_model", "read_invoice", "register", "with_details"]



def register(sub: Any) -> None:
    """Add the ``invoice`` command group."""
    parser = sub.add_parser("invoice", help="stamp, fetch, download and cancel CFDI 4.0")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        p.add_argument("--provider", "--vendor", dest="provider", required=True,
                       help="facturama, alegra, enlace_fiscal, contadigital or actiun")
        add_sandbox_options(p)
        add_base_url_option(p)
        p.add_argument("--raw", action="store_true", help="include the vendor's own answer")
        return p

    stamp = action("stamp", "validate and stamp an invoice (JSON or YAML file, - for stdin)")
    stamp.add_argument("invoice", help="the invoice file")
    stamp.add_argument("--idempotency-key", help="retry-safe key (reuse it when retrying)")
    stamp.set_defaults(handler=_stamp)

    many = action("stamp-many", "stamp a CSV or JSON Lines file of invoices on a bounded pool")
    many.add_argument("file", help="the batch: .csv (one row per line item) or .jsonl")
    many.add_argument("--concurrency", type=_positive, default=None,
                      help="invoices stamped at once (default: the vendor's)")
    many.add_argument("--output", default="stamp-results.csv",
                      help="results CSV: row, key, uuid, vendor_id, status, error")
    many.add_argument("--no-progress", action="store_true", help="no progress bar")
    many.set_defaults(handler=_stamp_many)

    get = action("get", "show a stamped invoice")
    get.add_argument("ref", help="the vendor's id (or the UUID where the vendor allows)")
    get.set_defaults(handler=_get)

    download = action("download", "save the XML or PDF")
    download.add_argument("ref")
    download.add_argument("--format", choices=("xml", "pdf"), default="xml", dest="fmt")
    download.add_argument("--output", required=True, help="file to write (- for stdout)")
    download.set_defaults(handler=_download)

    cancel = action("cancel", "cancel with a SAT motive (01 needs --replacement)")
    cancel.add_argument("ref")
    cancel.add_argument("--motive", required=True, choices=[m.value for m in CancelMotive])
    cancel.add_argument("--replacement", help="UUID of the CFDI that replaces this one (01)")
    cancel.set_defaults(handler=_cancel)

    from . import _fiscal_documents

    _fiscal_documents.register_pay(action("pay", "a payment receipt (REP) for stamped invoices"))
    _fiscal_documents.register_credit_note(
        action("credit-note", "a credit note (type E) related to a stamped invoice")
    )


def _provider(args: argparse.Namespace) -> Any:
    return provider_from_args("invoicing", args)


def read_invoice(source: str) -> Invoice:
    """Read an :class:`Invoice` from a JSON (or, with PyYAML, YAML) file; ``-`` is stdin.

    Raises:
        ValidationError: unreadable file, bad syntax, or data that is not an invoice.
        ConfigurationError: a YAML file without PyYAML installed.
    """
    if source == "-":
        try:
            text, suffix = sys.stdin.read(), ".json"
        except UnicodeDecodeError as exc:
            raise ValidationError(f"standard input is not UTF-8 text: {exc}", field="invoice") from None
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read {source}: {exc}", field="invoice") from None
        suffix = path.suffix.lower()
    data = _parse(text, suffix)
    try:
        return from_dict(Invoice, data)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        details = (
            "; ".join(cattrs.transform_error(exc, path="invoice"))
            if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        )
        raise ValidationError(f"not an invoice: {details}", field="invoice") from None


def _parse(text: str, suffix: str) -> Any:
    if suffix in (".yaml", ".yml"):
        try:
            # Imported by name: PyYAML is optional and ships no type information.
            yaml: Any = importlib.import_module("yaml")
        except ImportError:
            raise ConfigurationError(
                "reading YAML needs PyYAML (pip install pyyaml); or pass the invoice as JSON"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(f"invalid YAML: {exc}", field="invoice") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"invalid JSON: {exc}", field="invoice") from None


def print_model(model: Any, raw: bool) -> None:
    """Print a model as indented JSON; its vendor answer only when ``raw``."""
    _print(model, raw)


def with_details(call: Any) -> Any:
    """Run ``call``; on a vendor refusal show its structured details before re-raising."""
    return _with_details(call)


def _print(model: Any, raw: bool) -> None:
    data = to_dict(model)
    if raw:
        data["raw"] = dict(model.raw)
    else:
        data.pop("raw", None)
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _with_details(call: Any) -> Any:
    """Run ``call``; on a vendor refusal show its structured details before re-raising."""
    try:
        return call()
    except ProviderError as exc:
        if exc.details:
            print(
                "vendor details: " + json.dumps(exc.details, ensure_ascii=False, default=str),
                file=sys.stderr,
            )
        raise


def _stamp(args: argparse.Namespace) -> int:
    invoice = read_invoice(args.invoice)
    with _provider(args) as provider:
        stamped = _with_details(
            lambda: provider.stamp(invoice, idempotency_key=args.idempotency_key)
        )
        _print(stamped, args.raw)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _stamp_many(args: argparse.Namespace) -> int:
    """Exit 0 when every invoice is stamped (now or before), 8 when some are not."""
    from ..invoicing import batch_files

    entries = batch_files.read_batch(args.file)
    invalid = [e for e in entries if not e.valid]
    for entry in invalid:
        for issue in entry.errors:
            print(f"{entry.row_id}: {issue}", file=sys.stderr)
    valid = [e for e in entries if e.valid and e.invoice is not None]
    with _provider(args) as provider:
        batch = provider.stamp_many(
            [e.invoice for e in valid if e.invoice is not None],
            concurrency=args.concurrency,
            idempotency_keys=[e.key or "" for e in valid],
            progress=not args.no_progress and sys.stderr.isatty(),
        )
        rows = batch_files.result_rows(entries, batch)
        summary = batch.summary()
    batch_files.write_results(args.output, rows)
    not_stamped = len(invalid) + sum(summary.failed.values())
    print(f"{len(entries)} invoices: {summary.stamped} stamped, {summary.already_done} already "
          f"done, {not_stamped} not stamped ({len(invalid)} invalid); "
          f"{summary.elapsed:.1f}s -> {args.output}")
    return 0 if not_stamped == 0 else 8


def _get(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        _print(_with_details(lambda: provider.get(args.ref)), args.raw)
    return 0


def _download(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        content: bytes = _with_details(lambda: provider.download(args.ref, args.fmt))
    if args.output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
    else:
        Path(args.output).write_bytes(content)
        print(json.dumps({"ref": args.ref, "format": args.fmt, "output": args.output,
                          "bytes": len(content)}))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with _provider(args) as provider:
        cancellation = _with_details(
            lambda: provider.cancel(args.ref, CancelMotive(args.motive), args.replacement)
        )
        _print(cancellation, args.raw)
    return 0
