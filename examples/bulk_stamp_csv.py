"""Stamp a CSV of invoice lines in bulk: validate everything first, stamp, archive, report.

The CSV has one row per invoice line; rows with the same ``invoice_id`` make one invoice (they
need not be next to each other). Columns:

    invoice_id, customer_rfc, customer_name, customer_regime, customer_zip, cfdi_use,
    payment_form, currency, exchange_rate, product_code, unit_code, description, quantity,
    unit_price, iva_rate, iva_withholding_rate
    optional: series, payment_method, isr_withholding_rate, sku, unit_name

The invoice id becomes the CFDI's folio; a series, when given, must exist in the vendor account.
``iva_rate`` is a fraction (``0.16``, ``0.08``, ``0``), ``exento``, or empty for a line that is
not subject to taxes; withholding rates are fractions too (``0.04`` for land freight).

What it does, in order:

1. reads every invoice and validates it (the CSV itself, then ``apunto_connect.sat.preflight``)
   and prints **every** problem of every invalid invoice, with the CSV row it comes from, without
   stopping at the first one;
2. stamps the valid invoices with bounded concurrency (``--workers`` threads), each with an
   idempotency key made from its series and id, so running the same file again never stamps an
   invoice twice;
3. archives the XML and PDF of each stamped invoice with ``archive_many`` (identical files are
   not stored twice);
4. writes a results CSV: invoice_id, status, uuid, total, error, xml_file.

A progress bar is shown when tqdm is installed (``pip install "apunto-connect[progress]"``).
The exit status is 0 when every invoice was stamped and archived, 1 otherwise, 2 when the CSV
cannot be read.

Try it on the offline emulators::

    python examples/bulk_stamp_csv.py examples/data/invoices.csv --sandbox
    python examples/bulk_stamp_csv.py invoices.csv --provider facturama --workers 4 \\
        --output results.csv --archive ./cfdi      # real account: APUNTO_FACTURAMA_* or keyring
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import apunto_connect
from apunto_connect import (
    LocalStorage,
    ProviderError,
    RateLimited,
    ServerError,
    StampedInvoice,
    StampRejected,
    TransportError,
    ValidationError,
    archive_many,
)
from apunto_connect.archiving import ArchivedInvoice
from apunto_connect.errors import ApuntoError, Issue
from apunto_connect.invoicing import batch_files

SAMPLE_CSV = Path(__file__).parent / "data" / "invoices.csv"
RESULT_COLUMNS = ("invoice_id", "status", "uuid", "total", "error", "xml_file")

# Reading and validating the CSV is the library's (the CLI's ``invoice stamp-many`` uses the
# same code): one entry per invoice with every problem found, named by CSV row.
CsvInvoice = batch_files.BatchEntry


@dataclass
class Outcome:
    """One row of the results CSV."""

    invoice_id: str
    status: str  # stamped | invalid | rejected | retry | error | not_archived
    uuid: str = ""
    total: str = ""
    error: str = ""
    xml_file: str = ""


# -- reading and validating ---------------------------------------------------------------------


class CsvError(ValueError):
    """The file cannot be used at all: unreadable, not UTF-8, or missing required columns."""


def read_invoices(path: str | Path) -> list[CsvInvoice]:
    """Group the CSV's rows by ``invoice_id``, in order of first appearance.

    Raises:
        CsvError: the file cannot be read or lacks required columns.
    """
    try:
        return batch_files.read_csv_groups(path)
    except ValidationError as exc:
        raise CsvError(str(exc)) from exc


def validate(item: CsvInvoice) -> CsvInvoice:
    """Build ``item.invoice`` from its rows and record every problem in ``item.issues``."""
    return batch_files.build_entry(item)


def report(invoices: Sequence[CsvInvoice], out: TextIO) -> None:
    """Print every problem of every invalid invoice, and the warnings of the valid ones."""
    invalid = [i for i in invoices if not i.valid]
    out.write(f"Validated {len(invoices)} invoices: {len(invoices) - len(invalid)} valid, "
              f"{len(invalid)} invalid\n")
    for item in invoices:
        shown = item.issues if not item.valid else [i for i in item.issues if i not in item.errors]
        if not shown:
            continue
        label = "INVALID" if not item.valid else "warnings"
        out.write(f"  {item.row_id} {label} ({len(shown)}):\n")
        for issue in shown:
            out.write(f"    {issue.severity.value:7} {issue.field}: [{issue.code}] {issue.message}\n")


# -- stamping and archiving ---------------------------------------------------------------------


def classify(item: CsvInvoice, error: ApuntoError) -> Outcome:
    """The results row of an invoice that was not stamped, from its typed error."""
    assert item.invoice is not None
    fail = Outcome(item.row_id, "error", total=str(item.invoice.total))
    if isinstance(error, ValidationError):  # the provider knows more (its issuer): no call made
        fail.status, fail.error = "invalid", "; ".join(str(i) for i in error.errors)
    elif isinstance(error, (RateLimited, ServerError)):
        fail.status, fail.error = "retry", f"{error.message} (run again: the same key is reused)"
    elif isinstance(error, StampRejected):
        fail.status, fail.error = "rejected", error.message  # the vendor's words, verbatim
    elif isinstance(error, ProviderError):
        fail.error = error.message
    elif isinstance(error, TransportError):
        maybe = "may have been stamped" if error.request_sent else "was not sent"
        fail.status = "retry"
        fail.error = f"{error}; it {maybe}: run again, the same idempotency key never stamps twice"
    else:
        fail.error = str(error)
    return fail


def stamp_all(provider: Any, invoices: Sequence[CsvInvoice], *, workers: int = 4,
              progress: bool = True) -> dict[str, StampedInvoice | Outcome]:
    """Stamp every valid invoice with ``provider.stamp_many`` (at most ``workers`` at once)."""
    todo = [i for i in invoices if i.valid and i.invoice is not None]
    if not todo:
        return {}
    batch = provider.stamp_many(
        [i.invoice for i in todo], concurrency=max(1, workers),
        idempotency_keys=[i.key for i in todo], progress=progress,
    )
    results: dict[str, StampedInvoice | Outcome] = {}
    for item, outcome in zip(todo, batch, strict=True):
        results[item.row_id] = (
            outcome.stamped if outcome.stamped is not None else classify(item, outcome.error)
        )
    return results


def run(csv_path: str | Path, provider: Any, storage: Any, *, output: str | Path,
        workers: int = 4, progress: bool = True, out: TextIO | None = None) -> list[Outcome]:
    """Validate, stamp and archive every invoice of ``csv_path``; write and return the results.

    The report goes to ``out`` (standard output by default).
    """
    out = out or sys.stdout
    invoices = [validate(item) for item in read_invoices(csv_path)]
    report(invoices, out)
    stamped = stamp_all(provider, invoices, workers=workers, progress=progress)

    done = [(item.row_id, s) for item in invoices
            if isinstance(s := stamped.get(item.row_id), StampedInvoice)]
    archived = archive_many([s for _, s in done], provider, storage,
                            max_workers=workers, progress=progress)
    archive_of = {invoice_id: result for (invoice_id, _), result in zip(done, archived, strict=True)}

    outcomes: list[Outcome] = []
    for item in invoices:
        result = stamped.get(item.row_id)
        if not item.valid:
            errors = item.errors or [Issue("invoice", "CSV-001", "could not be read")]
            outcomes.append(Outcome(item.row_id, "invalid",
                                    error="; ".join(str(i) for i in errors)))
        elif isinstance(result, Outcome):
            outcomes.append(result)
        elif isinstance(result, StampedInvoice) and item.invoice is not None:
            total = result.total if result.total is not None else item.invoice.total
            outcome = Outcome(item.row_id, "stamped", str(result.uuid or ""), str(total))
            stored = archive_of[item.row_id]
            if isinstance(stored, ArchivedInvoice):
                outcome.xml_file = stored.xml.id
            else:
                outcome.status, outcome.error = "not_archived", str(stored.error)
            outcomes.append(outcome)
    write_results(outcomes, output)

    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.write(f"Results: {summary} -> {output}\n")
    for outcome in outcomes:
        if outcome.status not in ("stamped", "invalid"):
            out.write(f"  {outcome.invoice_id} {outcome.status}: {outcome.error}\n")
    return outcomes


def write_results(outcomes: Sequence[Outcome], output: str | Path) -> None:
    """Write the results CSV (one row per invoice, in the input's order)."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(RESULT_COLUMNS)
        for o in outcomes:
            writer.writerow([o.invoice_id, o.status, o.uuid, o.total, o.error, o.xml_file])


# -- command line ---------------------------------------------------------------------------------


@contextmanager
def _provider(name: str, sandbox: bool) -> Iterator[Any]:
    if sandbox:
        from apunto_connect import Sandbox

        with Sandbox(vendors=[name]) as sb:
            yield sb.invoice_provider(name)
        return
    # Real account: credentials from APUNTO_<VENDOR>_<FIELD> variables or the keyring.
    provider = apunto_connect.invoice_provider(name)
    try:
        yield provider
    finally:
        provider.release()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        description="Validate, stamp and archive the invoices of a CSV of invoice lines.")
    parser.add_argument("csv", nargs="?",
                        help="the CSV of invoice lines (with --sandbox: the sample by default)")
    parser.add_argument("--sandbox", action="store_true", help="stamp on the offline emulators")
    parser.add_argument("--provider", default="facturama", help="invoicing vendor (facturama)")
    parser.add_argument("--workers", type=int, default=4, help="stamps in flight at once (4)")
    parser.add_argument("--output", default="stamp-results.csv", help="results CSV to write")
    parser.add_argument("--archive", default="cfdi-archive", help="folder for the XML and PDF")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.csv is None:
        if not args.sandbox:  # never stamp the sample invoices on a real account
            parser.error("give the CSV to stamp (the sample file is used only with --sandbox)")
        args.csv = str(SAMPLE_CSV)

    try:
        with _provider(args.provider, args.sandbox) as provider:
            outcomes = run(args.csv, provider, LocalStorage(args.archive), output=args.output,
                           workers=args.workers, progress=not args.no_progress)
    except CsvError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0 if all(o.status == "stamped" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
