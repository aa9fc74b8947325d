"""Invoices for :meth:`~apunto_connect.invoicing.base.InvoiceProvider.stamp_many` from files.

Two formats, chosen by the file's suffix:

* **CSV** (``.csv``): one row per invoice line; rows with the same ``invoice_id`` make one
  invoice (they need not be next to each other). Columns::

      invoice_id, customer_rfc, customer_name, customer_regime, customer_zip, cfdi_use,
      payment_form, currency, exchange_rate, product_code, unit_code, description, quantity,
      unit_price, iva_rate, iva_withholding_rate
      optional: series, payment_method, isr_withholding_rate, sku, unit_name

  The invoice id becomes the CFDI's folio. ``iva_rate`` is a fraction (``0.16``, ``0.08``,
  ``0``), ``exento``, or empty for a line not subject to taxes; withholding rates are fractions.
* **JSON Lines** (``.jsonl``, ``.ndjson``): one invoice per line, as
  :func:`apunto_connect.models.to_dict` writes it, optionally wrapped as
  ``{"idempotency_key": "...", "invoice": {...}}``.

Every problem of every invoice is collected (the file's own and the SAT pre-flight's), each
named by the row or line it comes from, without stopping at the first one. The idempotency key
of each invoice is stable (``csv-<series>-<invoice_id>``, or the line's own key), so running the
same file again never stamps an invoice twice.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .._wire import decode_json
from ..errors import ApuntoError, Issue, Severity, ValidationError
from ..models.invoices import Invoice, LineItem, Tax
from ..models.parties import Customer

if TYPE_CHECKING:
    from .bulk import StampOutcome

__all__ = [
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "BatchEntry",
    "build_entry",
    "read_batch",
    "read_csv_groups",
    "read_jsonl",
    "result_rows",
    "write_results",
]

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
RESULT_COLUMNS = ("row", "key", "uuid", "vendor_id", "status", "error")
"""The columns of the results CSV :func:`write_results` writes."""


@attrs.define
class BatchEntry:
    """One invoice of a batch file: where it comes from, the invoice, and every problem found.

    Attributes:
        row_id: the CSV's ``invoice_id``, or ``line N`` of a JSON Lines file.
        rows: the file's line numbers the invoice comes from.
        key: its idempotency key.
        invoice: the invoice built from the file (``None`` when it could not be built).
        issues: every problem (errors block stamping; warnings do not).
        values: the CSV rows (column → text), for readers that want more columns.
    """

    row_id: str
    rows: list[int] = attrs.field(factory=list)
    key: str | None = None
    invoice: Invoice | None = None
    issues: list[Issue] = attrs.field(factory=list)
    values: list[dict[str, str]] = attrs.field(factory=list)

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
        """The series of a CSV invoice (empty when the CSV has none)."""
        return (self.values[0].get("series") or "").strip() if self.values else ""


def read_batch(path: str | Path) -> list[BatchEntry]:
    """Every invoice of a CSV or JSON Lines file, built and pre-flighted, in file order.

    Raises:
        ValidationError: the file cannot be used at all (unreadable, not UTF-8, missing
            columns, unknown suffix); ``field`` is ``file``.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return [build_entry(entry) for entry in read_csv_groups(path)]
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    raise _file_error(path, f"unknown batch file type {suffix or '(none)'!r}: use .csv or .jsonl")


def _file_error(path: str | Path, why: str) -> ValidationError:
    return ValidationError(f"{path}: {why}", field="file", code="APUNTO-BULK-010")


# -- CSV ----------------------------------------------------------------------------------------


def read_csv_groups(path: str | Path) -> list[BatchEntry]:
    """Group a CSV's rows by ``invoice_id``, in order of first appearance (nothing built yet).

    Raises:
        ValidationError: the file cannot be read or lacks required columns.
    """
    groups: dict[str, BatchEntry] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise _file_error(path, f"lacks the columns {', '.join(missing)}")
            for row in reader:
                values = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
                if not any(values.values()):
                    continue  # a blank line
                invoice_id = values.get("invoice_id", "")
                group = groups.setdefault(invoice_id, BatchEntry(invoice_id))
                group.values.append(values)
                group.rows.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _file_error(path, f"cannot be read: {exc}") from exc
    return list(groups.values())


def _number(
    row: dict[str, str], column: str, where: str, issues: list[Issue], required: bool = True
) -> Decimal | None:
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


# The SDK's field paths, in the CSV's column names.
_COLUMN_OF = {
    "customer.rfc": "customer_rfc", "customer.legal_name": "customer_name",
    "customer.tax_regime": "customer_regime", "customer.zip_code": "customer_zip",
    "customer.cfdi_use": "cfdi_use",
}


def _where(field_name: str, entry: BatchEntry, line_rows: Sequence[int]) -> str:
    """``items[1].quantity`` (the SDK's path) -> ``row 7 quantity`` (where to fix it)."""
    if field_name.startswith("items["):
        index, _, rest = field_name[len("items["):].partition("]")
        if index.isdigit() and int(index) < len(line_rows):
            return f"row {line_rows[int(index)]} {rest.lstrip('.') or 'line'}"
    return f"invoice {entry.row_id} {_COLUMN_OF.get(field_name, field_name)}"


def build_entry(entry: BatchEntry) -> BatchEntry:
    """Build ``entry.invoice`` from its CSV rows and record every problem in ``entry.issues``."""
    from .. import sat

    issues = entry.issues
    first = entry.values[0]
    if not entry.row_id:
        issues.append(Issue(f"row {entry.rows[0]} invoice_id", "CSV-001", "is empty",
                            "está vacío"))
    for column in INVOICE_COLUMNS:
        found = {row.get(column, "") for row in entry.values}
        if len(found) > 1:
            issues.append(Issue(
                f"invoice {entry.row_id} {column}", "CSV-003",
                f"rows disagree: {sorted(found)}", f"las filas no coinciden: {sorted(found)}",
            ))
    items: list[LineItem] = []
    for row, number in zip(entry.values, entry.rows, strict=True):
        where = f"row {number}"
        quantity = _number(row, "quantity", where, issues)
        price = _number(row, "unit_price", where, issues)
        taxes = _taxes(row, where, issues)
        try:
            # An unreadable number is already an error; a stand-in of 1 lets the SAT rules
            # still check the rest of the line (the invoice is never stamped anyway).
            items.append(LineItem(
                product_code=row["product_code"], unit_code=row["unit_code"],
                description=row["description"],
                quantity=quantity if quantity is not None else Decimal(1),
                unit_price=price if price is not None else Decimal(1), taxes=taxes,
                sku=row.get("sku") or None, unit_name=row.get("unit_name") or None,
            ))
        except (ApuntoError, ValueError, TypeError) as exc:
            issues.append(Issue(f"{where} line", "CSV-005", str(exc), str(exc)))
    exchange_rate = _number(first, "exchange_rate", f"invoice {entry.row_id}", issues,
                            required=False)
    method = first.get("payment_method", "").upper() or None
    if method not in (None, "PUE", "PPD"):
        issues.append(Issue(f"invoice {entry.row_id} payment_method", "CSV-004",
                            f"{method!r} is not PUE or PPD", f"{method!r} no es PUE ni PPD"))
        method = None
    entry.key = f"csv-{entry.series}-{entry.row_id}" if entry.series else f"csv-{entry.row_id}"
    if not items:
        if not issues:
            issues.append(Issue(f"invoice {entry.row_id}", "CSV-001", "has no lines",
                                "no tiene partidas"))
        return entry
    try:
        entry.invoice = Invoice(
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
            series=entry.series or None,
            folio=entry.row_id,
        )
    except (ApuntoError, ValueError, TypeError) as exc:
        issues.append(Issue(f"invoice {entry.row_id}", "CSV-005", str(exc), str(exc)))
        return entry
    # Every SAT rule that can be checked offline, errors and warnings, all at once.
    for issue in sat.preflight(entry.invoice):
        issues.append(Issue(_where(issue.field, entry, entry.rows), issue.code,
                            issue.message, issue.message_es, issue.severity))
    return entry


# -- JSON Lines ---------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> list[BatchEntry]:
    """Every invoice of a JSON Lines file, built and pre-flighted.

    Raises:
        ValidationError: the file cannot be read.
    """
    from .. import sat
    from ..models.convert import from_dict

    entries: list[BatchEntry] = []
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = list(enumerate(handle, start=1))
    except (OSError, UnicodeDecodeError) as exc:
        raise _file_error(path, f"cannot be read: {exc}") from exc
    for number, line in lines:
        if not line.strip():
            continue
        entry = BatchEntry(f"line {number}", rows=[number])
        entries.append(entry)
        try:
            data = decode_json(line)
        except ValueError as exc:
            entry.issues.append(Issue(f"line {number}", "JSONL-001", f"not JSON: {exc}",
                                      f"no es JSON: {exc}"))
            continue
        if isinstance(data, dict) and "invoice" in data:
            key = data.get("idempotency_key")
            entry.key = str(key) if key else None
            data = data["invoice"]
        try:
            entry.invoice = from_dict(Invoice, data)
        except Exception as exc:  # cattrs raises many kinds; each becomes this line's issue
            entry.issues.append(Issue(f"line {number}", "JSONL-002",
                                      f"not an invoice: {_first_line(exc)}",
                                      f"no es una factura: {_first_line(exc)}"))
            continue
        if entry.key is None:
            folio = entry.invoice.folio or str(number)
            entry.key = f"jsonl-{entry.invoice.series or ''}-{folio}"
        for issue in sat.preflight(entry.invoice):
            entry.issues.append(attrs.evolve(issue, field=f"line {number} {issue.field}"))
    return entries


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


# -- results ------------------------------------------------------------------------------------


def result_rows(
    entries: Sequence[BatchEntry], outcomes: Iterable[StampOutcome]
) -> list[dict[str, str]]:
    """One row per entry (in file order): where it came from, its key, and what happened.

    ``outcomes`` are those of the entries that were sent (the valid ones, in order).
    """
    sent = iter(outcomes)
    rows: list[dict[str, str]] = []
    for entry in entries:
        row = {"row": entry.row_id, "key": entry.key or "", "uuid": "", "vendor_id": "",
               "status": "", "error": ""}
        if not entry.valid:
            errors = entry.errors or [Issue("invoice", "CSV-001", "could not be read")]
            row.update(status="invalid", error="; ".join(str(i) for i in errors))
        else:
            outcome = next(sent)
            if outcome.stamped is not None:
                row.update(
                    uuid=outcome.stamped.uuid or "", vendor_id=outcome.stamped.id,
                    status="already_done" if outcome.already_done else "stamped",
                )
            else:
                error = outcome.error
                row.update(status=type(error).__name__ if error else "error", error=str(error))
        rows.append(row)
    return rows


def write_results(path: str | Path, rows: Sequence[dict[str, str]]) -> None:
    """Write the results CSV (:data:`RESULT_COLUMNS`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
