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
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import apunto_connect
from apunto_connect import (
    Customer,
    Invoice,
    LineItem,
    LocalStorage,
    ProviderError,
    RateLimited,
    ServerError,
    StampedInvoice,
    StampRejected,
    Tax,
    TransportError,
    ValidationError,
    archive_many,
    sat,
)
from apunto_connect.archiving import ArchivedInvoice
from apunto_connect.errors import ApuntoError, Issue, Severity

REQUIRED_COLUMNS = (
    "invoice_id", "customer_rfc", "customer_name", "customer_regime", "customer_zip",
    "cfdi_use", "payment_form", "currency", "exchange_rate", "product_code", "unit_code",
    "description", "quantity", "unit_price", "iva_rate", "iva_withholding_rate",
)
# Columns that describe the invoice, not the line: every row of one invoice must agree on them.
INVOICE_COLUMNS = (
    "series", "customer_rfc", "customer_name", "customer_regime", "customer_zip", "cfdi_use",
    "payment_form", "payment_method", "currency", "exchange_rate",
)
SAMPLE_CSV = Path(__file__).parent / "data" / "invoices.csv"
RESULT_COLUMNS = ("invoice_id", "status", "uuid", "total", "error", "xml_file")


@dataclass
class CsvInvoice:
    """One invoice of the CSV: its rows, the invoice built from them and every problem found."""

    invoice_id: str
    rows: list[dict[str, str]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    invoice: Invoice | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """The problems that block stamping."""
        return [i for i in self.issues if i.severity is Severity.ERROR]

    @property
    def valid(self) -> bool:
        """``True`` when the invoice was built and has no blocking problem."""
        return self.invoice is not None and not self.errors

    @property
    def series(self) -> str:
        """The series of the invoice (empty when the CSV has none)."""
        return (self.rows[0].get("series") or "").strip() if self.rows else ""

    @property
    def idempotency_key(self) -> str:
        """Stable per invoice: a second run of the same file returns the CFDI already stamped."""
        return f"csv-{self.series}-{self.invoice_id}" if self.series else f"csv-{self.invoice_id}"


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
        return _read_groups(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvError(f"cannot read {path}: {exc}") from exc


def _read_groups(path: str | Path) -> list[CsvInvoice]:
    groups: dict[str, CsvInvoice] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise CsvError(f"{path} lacks the columns {', '.join(missing)}")
        for row in reader:
            values = {k: (v or "").strip() for k, v in row.items() if k is not None}
            if not any(values.values()):
                continue  # blank line
            invoice_id = values.get("invoice_id", "")
            group = groups.setdefault(invoice_id, CsvInvoice(invoice_id))
            group.rows.append(values)
            group.row_numbers.append(reader.line_num)
    return list(groups.values())


def _number(row: dict[str, str], column: str, where: str, issues: list[Issue],
            required: bool = True) -> Decimal | None:
    text = row.get(column, "")
    if not text:
        if required:
            issues.append(Issue(f"{where} {column}", "CSV-001", "is empty", "está vacío"))
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        issues.append(Issue(f"{where} {column}", "CSV-002", f"{text!r} is not a number",
                            f"{text!r} no es un número"))
        return None
    return value


def _taxes(row: dict[str, str], where: str, issues: list[Issue]) -> list[Tax]:
    taxes: list[Tax] = []
    iva = row.get("iva_rate", "").lower()
    if iva in ("exento", "exempt"):
        taxes.append(Tax.iva_exempt())
    elif iva:
        rate = _number(row, "iva_rate", where, issues)
        if rate is not None:
            taxes.append(Tax.iva(rate))
    for column, build in (("iva_withholding_rate", Tax.iva_withholding),
                          ("isr_withholding_rate", Tax.isr_withholding)):
        rate = _number(row, column, where, issues, required=False)
        if rate:
            taxes.append(build(rate))
    return taxes


# The SDK's field paths, in this CSV's column names.
_COLUMN_OF = {
    "customer.rfc": "customer_rfc", "customer.legal_name": "customer_name",
    "customer.tax_regime": "customer_regime", "customer.zip_code": "customer_zip",
    "customer.cfdi_use": "cfdi_use",
}


def _where(field_name: str, item: CsvInvoice, line_rows: list[int]) -> str:
    """``items[1].quantity`` (the SDK's path) -> ``row 7 quantity`` (where to fix it)."""
    if field_name.startswith("items["):
        index, _, rest = field_name[len("items["):].partition("]")
        if index.isdigit() and int(index) < len(line_rows):
            return f"row {line_rows[int(index)]} {rest.lstrip('.') or 'line'}"
    return f"invoice {item.invoice_id} {_COLUMN_OF.get(field_name, field_name)}"


def validate(item: CsvInvoice) -> CsvInvoice:
    """Build ``item.invoice`` from its rows and record every problem in ``item.issues``."""
    issues = item.issues
    first = item.rows[0]
    if not item.invoice_id:
        issues.append(Issue(f"row {item.row_numbers[0]} invoice_id", "CSV-001", "is empty",
                            "está vacío"))
    for column in INVOICE_COLUMNS:
        values = {row.get(column, "") for row in item.rows}
        if len(values) > 1:
            issues.append(Issue(
                f"invoice {item.invoice_id} {column}", "CSV-003",
                f"rows disagree: {sorted(values)}", f"las filas no coinciden: {sorted(values)}",
            ))
    items: list[LineItem] = []
    line_rows: list[int] = []  # items[k] comes from CSV row line_rows[k]
    for row, number in zip(item.rows, item.row_numbers, strict=True):
        where = f"row {number}"
        quantity = _number(row, "quantity", where, issues)
        price = _number(row, "unit_price", where, issues)
        taxes = _taxes(row, where, issues)
        # An unreadable number is already an error; a stand-in of 1 lets the SAT rules still
        # check the rest of the line (the invoice is invalid anyway and is never stamped).
        items.append(LineItem(
            product_code=row["product_code"], unit_code=row["unit_code"],
            description=row["description"], quantity=quantity if quantity is not None else Decimal(1),
            unit_price=price if price is not None else Decimal(1), taxes=taxes,
            sku=row.get("sku") or None, unit_name=row.get("unit_name") or None,
        ))
        line_rows.append(number)
    exchange_rate = _number(first, "exchange_rate", f"invoice {item.invoice_id}", issues,
                            required=False)
    method = first.get("payment_method", "").upper() or None
    if method not in (None, "PUE", "PPD"):
        issues.append(Issue(f"invoice {item.invoice_id} payment_method", "CSV-004",
                            f"{method!r} is not PUE or PPD", f"{method!r} no es PUE ni PPD"))
        method = None
    if items:
        item.invoice = Invoice(
            customer=Customer(
                rfc=first["customer_rfc"], legal_name=first["customer_name"],
                tax_regime=first["customer_regime"], zip_code=first["customer_zip"],
                cfdi_use=first["cfdi_use"] or "G03",
            ),
            items=items,
            currency=(first["currency"] or "MXN").upper(),
            exchange_rate=exchange_rate,
            payment_form=first["payment_form"] or None,
            payment_method=method,
            series=item.series or None,
            folio=item.invoice_id,
        )
        # Every SAT rule that can be checked offline, errors and warnings, all at once.
        for issue in sat.preflight(item.invoice):
            issues.append(Issue(_where(issue.field, item, line_rows), issue.code,
                                issue.message, issue.message_es, issue.severity))
    elif not issues:
        issues.append(Issue(f"invoice {item.invoice_id}", "CSV-001", "has no lines",
                            "no tiene partidas"))
    return item


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
        out.write(f"  {item.invoice_id} {label} ({len(shown)}):\n")
        for issue in shown:
            out.write(f"    {issue.severity.value:7} {issue.field}: [{issue.code}] {issue.message}\n")


# -- stamping and archiving ---------------------------------------------------------------------


def _progress(total: int, enabled: bool, desc: str) -> Any:
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the progress bar is optional: apunto-connect[progress]
        return None
    return tqdm(total=total, desc=desc, unit="cfdi")


def stamp_one(provider: Any, item: CsvInvoice) -> StampedInvoice | Outcome:
    """Stamp one valid invoice; typed errors become an :class:`Outcome` instead of raising."""
    assert item.invoice is not None
    fail = Outcome(item.invoice_id, "error", total=str(item.invoice.total))
    try:
        return provider.stamp(item.invoice, idempotency_key=item.idempotency_key)
    except ValidationError as exc:  # the provider knows more (its issuer): still local, no call
        fail.status, fail.error = "invalid", "; ".join(str(i) for i in exc.errors)
    except (RateLimited, ServerError) as exc:
        fail.status, fail.error = "retry", f"{exc.message} (run again: the same key is reused)"
    except StampRejected as exc:
        fail.status, fail.error = "rejected", exc.message  # the vendor's words, verbatim
    except ProviderError as exc:
        fail.error = exc.message
    except TransportError as exc:
        maybe = "may have been stamped" if exc.request_sent else "was not sent"
        fail.status = "retry"
        fail.error = f"{exc}; it {maybe}: run again, the same idempotency key never stamps twice"
    except ApuntoError as exc:
        fail.error = str(exc)
    return fail


def stamp_all(provider: Any, invoices: Sequence[CsvInvoice], *, workers: int = 4,
              progress: bool = True) -> dict[str, StampedInvoice | Outcome]:
    """Stamp every valid invoice with at most ``workers`` calls in flight."""
    todo = [i for i in invoices if i.valid]
    results: dict[str, StampedInvoice | Outcome] = {}
    bar = _progress(len(todo), progress, "stamping")
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(stamp_one, provider, item): item for item in todo}
            for future in as_completed(futures):  # collected here, in this thread only
                results[futures[future].invoice_id] = future.result()
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
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

    done = [(item.invoice_id, s) for item in invoices
            if isinstance(s := stamped.get(item.invoice_id), StampedInvoice)]
    archived = archive_many([s for _, s in done], provider, storage,
                            max_workers=workers, progress=progress)
    archive_of = {invoice_id: result for (invoice_id, _), result in zip(done, archived, strict=True)}

    outcomes: list[Outcome] = []
    for item in invoices:
        result = stamped.get(item.invoice_id)
        if not item.valid:
            errors = item.errors or [Issue("invoice", "CSV-001", "could not be read")]
            outcomes.append(Outcome(item.invoice_id, "invalid",
                                    error="; ".join(str(i) for i in errors)))
        elif isinstance(result, Outcome):
            outcomes.append(result)
        elif isinstance(result, StampedInvoice) and item.invoice is not None:
            total = result.total if result.total is not None else item.invoice.total
            outcome = Outcome(item.invoice_id, "stamped", str(result.uuid or ""), str(total))
            stored = archive_of[item.invoice_id]
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
