"""Archive stamped invoices: download their XML and PDF from the vendor and store both.

Archiving is idempotent: the storage provider recognises identical content (local storage by
its SHA-256 sidecar, Google Drive by the ``appProperties`` it searches first), so running it
twice stores nothing twice.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from .errors import ApuntoError, ValidationError
from .events import STORAGE_FILE_ARCHIVED
from .models.convert import to_dict
from .models.invoices import StampedInvoice
from .models.storage import StoredFile

if TYPE_CHECKING:
    from .invoicing.base import InvoiceProvider
    from .storage.base import StorageProvider

__all__ = ["DEFAULT_LAYOUT", "ArchiveFailure", "ArchivedInvoice", "archive", "archive_many"]

DEFAULT_LAYOUT = "CFDI/{issuer_rfc}/{year}/{month}/{uuid}"
_LAYOUT_FIELDS = {"issuer_rfc", "customer_rfc", "year", "month", "day", "uuid", "series", "folio",
                  "provider"}


@attrs.frozen(slots=True)
class ArchivedInvoice:
    """Where one invoice's files were stored."""

    uuid: str
    xml: StoredFile
    pdf: StoredFile | None


@attrs.frozen(slots=True)
class ArchiveFailure:
    """An invoice that could not be archived by :func:`archive_many`, with the reason."""

    ref: str
    error: ApuntoError


def _check_layout(layout: str) -> None:
    names = {field for _, field, _, _ in string.Formatter().parse(layout) if field}
    unknown = names - _LAYOUT_FIELDS
    if unknown:
        raise ValidationError(
            f"unknown placeholders {sorted(unknown)}; use {sorted(_LAYOUT_FIELDS)}",
            field="layout",
            code="APUNTO-ARCHIVE-001",
        )


def _layout_values(stamped: StampedInvoice, xml: bytes) -> dict[str, str]:
    # The vendor's answer may lack the issuer or date; the CFDI itself always has them.
    from .cfdi import parse

    cfdi = parse(xml)
    uuid = (stamped.uuid or (cfdi.stamp.uuid if cfdi.stamp else "") or stamped.id).upper()
    issued = stamped.issued_at or cfdi.issued_at
    return {
        "issuer_rfc": stamped.issuer_rfc or cfdi.issuer.rfc,
        "customer_rfc": stamped.customer_rfc or cfdi.receiver.rfc,
        "year": f"{issued.year:04d}",
        "month": f"{issued.month:02d}",
        "day": f"{issued.day:02d}",
        "uuid": uuid,
        "series": stamped.series or cfdi.series or "",
        "folio": stamped.folio or cfdi.folio or "",
        "provider": stamped.provider,
    }


def archive(
    stamped: StampedInvoice,
    invoice_provider: InvoiceProvider,
    storage: StorageProvider,
    layout: str = DEFAULT_LAYOUT,
    *,
    include_pdf: bool = True,
) -> ArchivedInvoice:
    """Download ``stamped``'s XML (and PDF) and store them under ``layout``.

    The last segment of the layout is the file stem: with the default layout the files are
    ``CFDI/<issuer RFC>/<year>/<month>/<UUID>.xml`` and ``.pdf``.
    """
    _check_layout(layout)
    xml = invoice_provider.download(stamped.id, "xml")
    values = _layout_values(stamped, xml)
    folder, _, stem = layout.format(**values).rpartition("/")
    metadata = {
        "uuid": values["uuid"],
        "issuer_rfc": values["issuer_rfc"],
        "customer_rfc": values["customer_rfc"],
        "provider": stamped.provider,
        "provider_id": stamped.id,
    }
    xml_file = storage.upload(
        xml, f"{stem}.xml", folder=folder, content_type="application/xml", metadata=metadata
    )
    pdf_file = None
    if include_pdf:
        pdf = invoice_provider.download(stamped.id, "pdf")
        pdf_file = storage.upload(
            pdf, f"{stem}.pdf", folder=folder, content_type="application/pdf", metadata=metadata
        )
    archived = ArchivedInvoice(uuid=values["uuid"], xml=xml_file, pdf=pdf_file)
    for stored in (xml_file, pdf_file):
        if stored is not None:
            data = {**to_dict(stored), "uuid": values["uuid"], "invoice_provider": stamped.provider}
            storage.events.emit(STORAGE_FILE_ARCHIVED, storage.name, data)
    return archived


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the progress bar is an optional extra
        return None
    return tqdm(total=total, unit="cfdi", desc="archiving")


def archive_many(
    invoices: Iterable[StampedInvoice],
    invoice_provider: InvoiceProvider,
    storage: StorageProvider,
    layout: str = DEFAULT_LAYOUT,
    *,
    max_workers: int = 4,
    progress: bool = True,
    on_result: Callable[[ArchivedInvoice | ArchiveFailure], None] | None = None,
) -> list[ArchivedInvoice | ArchiveFailure]:
    """Archive many invoices with bounded concurrency; failures are returned, not raised.

    Results keep the input order. ``progress`` shows a tqdm bar when tqdm is installed
    (``pip install apunto-connect[progress]``).
    """
    _check_layout(layout)
    items = list(invoices)
    bar = _progress(len(items), progress)

    def one(stamped: StampedInvoice) -> ArchivedInvoice | ArchiveFailure:
        try:
            result: ArchivedInvoice | ArchiveFailure = archive(
                stamped, invoice_provider, storage, layout
            )
        except ApuntoError as exc:
            result = ArchiveFailure(ref=stamped.id, error=exc)
        if bar is not None:
            bar.update(1)
        if on_result is not None:
            on_result(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            results: Iterator[ArchivedInvoice | ArchiveFailure] = pool.map(one, items)
            return list(results)
    finally:
        if bar is not None:
            bar.close()
