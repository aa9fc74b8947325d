"""How a backend service embeds apunto-connect: one provider per process, plain results out.

A Django view, a FastAPI route or a Celery task already has the order in hand. It calls
:func:`issue_invoice` with it and gets a plain ``dict`` back, shaped like an HTTP answer, so the
web layer only copies ``http_status`` and the body::

    result = issue_invoice(order)          # validate, stamp once, archive, log events
    return JsonResponse(result, status=result["http_status"])

What the example shows:

* **One provider per process.** :func:`service` builds the invoice provider the first time it is
  needed, with credentials from the environment or the keyring (``APUNTO_FACTURAMA_USERNAME``
  and ``APUNTO_FACTURAMA_PASSWORD``, or ``apunto-connect credentials set facturama ...``), and
  reuses it: providers are thread-safe and keep their HTTP connections warm. Under a pre-fork
  server (gunicorn, Celery prefork) it is built lazily after the fork, never shared across one.
* **Validate before the network** with ``apunto_connect.sat.check``: a bad order becomes a
  422-style answer that lists every problem (field, SAT code, English and Spanish message).
* **Stamp exactly once.** The idempotency key and the folio come from the order id, so a retried
  request or a redelivered task returns the CFDI already stamped instead of a second one.
* **Archive** the XML and PDF with ``archive(stamped, provider, LocalStorage(...))``.
* **Events for logging** through ``provider.events.subscribe`` (and the storage's events).
* **Typed errors to plain results.** ``ValidationError`` → 422 with the issues;
  ``StampRejected``/``ProviderError`` → the vendor's message verbatim; ``TransportError`` →
  "retry later with the same key".

Settings (environment): ``BILLING_PROVIDER`` (default ``facturama``), ``BILLING_ARCHIVE_DIR``
(default ``cfdi-archive``), ``BILLING_SERIES`` (default ``W``).

Run it on the offline emulators (no account, no network)::

    python examples/backend_service.py --sandbox
    python examples/backend_service.py --sandbox --provider alegra --archive /tmp/cfdi

With a real account it only checks the connection (the sample orders are never stamped)::

    APUNTO_FACTURAMA_USERNAME=... APUNTO_FACTURAMA_PASSWORD=... python examples/backend_service.py
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import apunto_connect
from apunto_connect import (
    Conflict,
    Customer,
    Invoice,
    LineItem,
    LocalStorage,
    ProviderError,
    RateLimited,
    ServerError,
    StampRejected,
    Tax,
    TransportError,
    ValidationError,
    archive,
    sat,
)
from apunto_connect.errors import ApuntoError, Issue
from apunto_connect.models import to_dict

log = logging.getLogger("billing")


# -- the process-wide service ------------------------------------------------------------------


@dataclass
class BillingService:
    """The invoice provider, the archive and the event subscriptions of this process."""

    provider: Any
    storage: Any
    series: str = "W"
    subscriptions: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Events are delivered synchronously; a failing subscriber never undoes a stamp.
        self.subscriptions.append(self.provider.events.subscribe(_log_event))
        self.subscriptions.append(self.storage.events.subscribe(_log_event))

    def close(self) -> None:
        """Stop logging events and release the provider's connections."""
        for subscription in self.subscriptions:
            subscription.cancel()
        self.subscriptions.clear()
        self.provider.release()


def _log_event(event: Any) -> None:
    data = event.data
    if event.type == "invoice.stamped":
        log.info("stamped %s via %s, total %s", data.get("uuid"), event.provider, data.get("total"))
    elif event.type == "invoice.stamp_failed":
        log.warning("stamp failed at %s: %s", event.provider, data.get("message"))
    elif event.type == "storage.file_archived":
        log.info("archived %s (%s bytes)", data.get("id"), data.get("size"))
    else:
        log.info("%s from %s", event.type, event.provider)


_service: BillingService | None = None
_service_lock = threading.Lock()


def configure(provider: Any, storage: Any, *, series: str = "W") -> BillingService:
    """Install the provider and storage this process uses (tests and ``--sandbox`` call this)."""
    global _service
    with _service_lock:
        if _service is not None:
            _service.close()
        _service = BillingService(provider, storage, series)
        return _service


def service() -> BillingService:
    """The process-wide service, built on first use from the environment.

    Credentials are resolved by the SDK: keyword arguments, then ``APUNTO_<VENDOR>_<FIELD>``
    environment variables, then the system keyring.
    """
    global _service
    with _service_lock:
        if _service is None:
            name = os.environ.get("BILLING_PROVIDER", "facturama")
            provider = apunto_connect.invoice_provider(name)
            storage = LocalStorage(os.environ.get("BILLING_ARCHIVE_DIR", "cfdi-archive"))
            _service = BillingService(provider, storage, os.environ.get("BILLING_SERIES", "W"))
        return _service


def shutdown() -> None:
    """Release the process-wide service (at worker shutdown)."""
    global _service
    with _service_lock:
        if _service is not None:
            _service.close()
            _service = None


# -- order -> invoice --------------------------------------------------------------------------


def idempotency_key(order: Mapping[str, Any]) -> str:
    """One key per order: every retry of the same order reuses it."""
    return f"order-{order.get('id')}"


def _decimal(value: Any, path: str, issues: list[Issue], *, required: bool = True) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            issues.append(Issue(path, "ORDER-001", "is required", "es obligatorio"))
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        issues.append(Issue(path, "ORDER-002", f"{value!r} is not a number", f"{value!r} no es un número"))
        return None
    return number


def _text(data: Mapping[str, Any], key: str, path: str, issues: list[Issue]) -> str:
    value = str(data.get(key) or "").strip()
    if not value:
        issues.append(Issue(f"{path}.{key}", "ORDER-001", "is required", "es obligatorio"))
    return value


def _line_taxes(line: Mapping[str, Any], path: str, issues: list[Issue]) -> list[Tax]:
    taxes: list[Tax] = []
    iva = str(line.get("iva_rate", "0.16") or "").strip().lower()
    if iva in ("exento", "exempt"):
        taxes.append(Tax.iva_exempt())
    elif iva:
        rate = _decimal(iva, f"{path}.iva_rate", issues)
        if rate is not None:
            taxes.append(Tax.iva(rate))
    for key, build in (("iva_withholding_rate", Tax.iva_withholding),
                       ("isr_withholding_rate", Tax.isr_withholding)):
        rate = _decimal(line.get(key), f"{path}.{key}", issues, required=False)
        if rate:
            taxes.append(build(rate))
    return taxes


def order_to_invoice(order: Mapping[str, Any], series: str = "W") -> Invoice:
    """Map the backend's own order to an :class:`~apunto_connect.Invoice` and validate it.

    The order's shape is checked first (missing fields, numbers that are not numbers); then
    ``apunto_connect.sat.check`` runs every SAT rule that can be checked offline on what could
    be read. Field names in the issues follow the order (``lines[1].quantity``,
    ``customer.name``), so the caller can point at the right input.

    Raises:
        ValidationError: listing every problem found, of both kinds, at once.
    """
    issues: list[Issue] = []
    order_id = str(order.get("id") or "").strip()
    if not order_id:
        issues.append(Issue("id", "ORDER-001", "is required", "es obligatorio"))
    buyer = order.get("customer") or {}
    customer_fields = {
        key: _text(buyer, key, "customer", issues)
        for key in ("rfc", "name", "tax_regime", "zip_code")
    }
    lines = order.get("lines") or []
    if not lines:
        issues.append(Issue("lines", "ORDER-001", "an order needs at least one line",
                            "el pedido necesita al menos una partida"))
    items: list[LineItem] = []
    line_of_item: list[int] = []  # items[k] is lines[line_of_item[k]]
    for index, line in enumerate(lines):
        path = f"lines[{index}]"
        texts = {key: _text(line, key, path, issues)
                 for key in ("product_code", "unit_code", "description")}
        quantity = _decimal(line.get("quantity"), f"{path}.quantity", issues)
        price = _decimal(line.get("unit_price"), f"{path}.unit_price", issues)
        taxes = _line_taxes(line, path, issues)
        if quantity is not None and price is not None:
            items.append(LineItem(
                product_code=texts["product_code"], unit_code=texts["unit_code"],
                description=texts["description"], quantity=quantity, unit_price=price,
                taxes=taxes, sku=line.get("sku"), unit_name=line.get("unit_name"),
            ))
            line_of_item.append(index)
    exchange_rate = _decimal(order.get("exchange_rate"), "exchange_rate", issues, required=False)
    payment_method = str(order.get("payment_method") or "").strip().upper() or None
    if payment_method not in (None, "PUE", "PPD"):
        issues.append(Issue("payment_method", "ORDER-003", f"{payment_method!r} is not PUE or PPD",
                            f"{payment_method!r} no es PUE ni PPD"))
        payment_method = None
    invoice = Invoice(
        customer=Customer(
            rfc=customer_fields["rfc"],
            legal_name=customer_fields["name"],
            tax_regime=customer_fields["tax_regime"],
            zip_code=customer_fields["zip_code"],
            cfdi_use=buyer.get("cfdi_use") or "G03",
            email=buyer.get("email"),
        ),
        items=items,
        currency=str(order.get("currency") or "MXN").upper(),
        exchange_rate=exchange_rate,
        payment_form=order.get("payment_form"),
        payment_method=payment_method,
        series=series or None,
        folio=order_id,  # the vendor dedupes on serie + folio: the order id makes retries safe
    )
    # The SAT rules need a customer and at least one readable line to say anything useful.
    if all(customer_fields.values()) and items:
        try:
            sat.check(invoice)
        except ValidationError as exc:
            issues.extend(_in_order_terms(issue, line_of_item) for issue in exc.errors)
    if issues:
        raise ValidationError(issues)
    return invoice


def _in_order_terms(issue: Issue, line_of_item: list[int]) -> Issue:
    """Rename the SDK's field paths (``items[0]``, ``customer.legal_name``) to the order's."""
    name = issue.field
    if name.startswith("items["):
        index, _, rest = name[len("items["):].partition("]")
        if index.isdigit() and int(index) < len(line_of_item):
            name = f"lines[{line_of_item[int(index)]}]{rest}"
    else:
        name = {"customer.legal_name": "customer.name", "cfdi_use": "customer.cfdi_use"}.get(name, name)
    return Issue(name, issue.code, issue.message, issue.message_es, issue.severity)


# -- the call a view or task makes ---------------------------------------------------------------


def _issues(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": i.field, "code": i.code, "message": i.message, "message_es": i.message_es,
         "severity": i.severity.value}
        for i in exc.issues
    ]


def issue_invoice(order: Mapping[str, Any], billing: BillingService | None = None) -> dict[str, Any]:
    """Validate, stamp (once) and archive the invoice of ``order``; never raises an SDK error.

    Returns a JSON-safe ``dict`` with ``ok``, ``http_status`` and, on success, the UUID, the
    total and the archived files; on failure an ``error`` kind and what the caller should do.
    """
    billing = billing or service()
    key = idempotency_key(order)
    base: dict[str, Any] = {"order_id": str(order.get("id")), "idempotency_key": key,
                            "provider": billing.provider.name}
    try:
        invoice = order_to_invoice(order, billing.series)  # shape + sat.check, before any call
        stamped = billing.provider.stamp(invoice, idempotency_key=key)
    except ValidationError as exc:
        return {**base, "ok": False, "http_status": 422, "error": "invalid_invoice",
                "issues": _issues(exc)}
    except (RateLimited, ServerError) as exc:
        # The vendor is overloaded or failing; the key makes a later retry safe.
        return {**base, "ok": False, "http_status": 503, "error": "vendor_unavailable",
                "retry": True, "message": exc.message,
                "hint": "retry later with the same idempotency key"}
    except Conflict as exc:
        # This serie + folio is already stamped for another receiver or total at the vendor.
        return {**base, "ok": False, "http_status": 409, "error": "conflict", "retry": False,
                "message": exc.message}
    except StampRejected as exc:
        # The PAC or the SAT said no: show its own words, untouched.
        return {**base, "ok": False, "http_status": 422, "error": "rejected", "retry": False,
                "message": exc.message, "sat_code": exc.sat_code, "vendor_code": exc.vendor_code,
                "request_id": exc.request_id}
    except ProviderError as exc:  # authentication, permissions, credits...: verbatim as well
        return {**base, "ok": False, "http_status": 502, "error": "provider_error",
                "retry": False, "message": exc.message, "vendor_code": exc.vendor_code,
                "request_id": exc.request_id}
    except TransportError as exc:
        hint = ("the vendor may have stamped it; retry later with the same idempotency key, "
                "which returns that CFDI instead of stamping twice"
                if exc.request_sent else
                "the vendor was not reached; retry later with the same idempotency key")
        return {**base, "ok": False, "http_status": 503, "error": "retry_later", "retry": True,
                "request_sent": exc.request_sent, "message": str(exc), "hint": hint}
    except ApuntoError as exc:  # configuration, unsupported operation...
        return {**base, "ok": False, "http_status": 500, "error": type(exc).__name__,
                "retry": False, "message": str(exc)}

    result = {**base, "ok": True, "http_status": 201, "uuid": stamped.uuid,
              "provider_id": stamped.id, "total": str(invoice.total),
              "currency": invoice.currency, "files": []}
    try:
        archived = archive(stamped, billing.provider, billing.storage)
    except ApuntoError as exc:
        # The CFDI exists: report it as stamped and let a later job archive it again.
        log.warning("order %s stamped as %s but not archived: %s", base["order_id"], stamped.uuid, exc)
        result["archive_error"] = str(exc)
    else:
        result["files"] = [f.id for f in (archived.xml, archived.pdf) if f is not None]
    return result


# -- demo on the sandbox ------------------------------------------------------------------------

SAMPLE_ORDERS: list[dict[str, Any]] = [
    {   # a land-freight job for the SAT's main test taxpayer: stamped and archived
        "id": 5001,
        "customer": {"rfc": "EKU9003173C9", "name": "ESCUELA KEMPER URGATE", "tax_regime": "601",
                     "zip_code": "26015", "cfdi_use": "G03", "email": "cuentas@example.com"},
        "payment_form": "03",
        "lines": [
            {"sku": "FLETE-TERR", "product_code": "78101802", "unit_code": "E48",
             "description": "Flete terrestre Manzanillo - Querétaro", "quantity": "1",
             "unit_price": "28500.00", "iva_rate": "0.16", "iva_withholding_rate": "0.04"},
            {"sku": "MANIOBRAS", "product_code": "78141500", "unit_code": "E48",
             "description": "Maniobras de carga y descarga", "quantity": "2",
             "unit_price": "1180.40", "iva_rate": "0.16"},
        ],
    },
    {   # billed in dollars: needs the exchange rate
        "id": 5002,
        "customer": {"rfc": "URE180429TM6", "name": "UNIVERSIDAD ROBOTICA ESPAÑOLA",
                     "tax_regime": "601", "zip_code": "65000"},
        "payment_form": "03", "currency": "USD", "exchange_rate": "17.85",
        "lines": [
            {"product_code": "78101802", "unit_code": "E48", "description": "Flete Laredo - Monterrey",
             "quantity": "1", "unit_price": "1450", "iva_rate": "0.16",
             "iva_withholding_rate": "0.04"},
        ],
    },
    {   # registered the way people often get wrong: refused before any network call
        "id": 5003,
        "customer": {"rfc": "EKU9003173C9", "name": "Escuela Kemper Urgate, S.A. de C.V.",
                     "tax_regime": "612", "zip_code": "2601", "cfdi_use": "D01"},
        "payment_form": "03",
        "lines": [
            {"product_code": "78101802", "unit_code": "E48", "description": "Flete local",
             "quantity": "1", "unit_price": "3500", "iva_withholding_rate": "0.04"},
            {"product_code": "78141500", "unit_code": "E48", "description": "Maniobras",
             "quantity": "dos", "unit_price": "800"},
        ],
    },
    {   # looks fine locally, but the SAT knows this RFC under another name: the vendor says no
        "id": 5004,
        "customer": {"rfc": "KIJ0906199R1", "name": "KERNEL INDUSTRIA JUGUETERA",
                     "tax_regime": "601", "zip_code": "64000"},
        "payment_form": "03",
        "lines": [{"product_code": "78131600", "unit_code": "E48", "description": "Almacenaje",
                   "quantity": "10", "unit_price": "95", "iva_rate": "0.16"}],
    },
]


@contextmanager
def _sandbox_service(provider: str, archive_dir: str, series: str) -> Iterator[BillingService]:
    from apunto_connect import Sandbox

    with Sandbox(vendors=[provider]) as sb:
        billing = configure(sb.invoice_provider(provider), LocalStorage(archive_dir), series=series)
        try:
            yield billing
        finally:
            shutdown()


def main(argv: list[str] | None = None) -> int:
    """Issue the sample orders on the sandbox, or check a real account's connection only.

    On the sandbox the first order is issued twice, as a retried request would, and every
    result is printed as JSON. Without ``--sandbox`` the service is built from your credentials
    (environment or keyring) and only ``check_connection()`` runs: sample orders are never
    stamped on a real account.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", action="store_true", help="use the offline emulators")
    parser.add_argument("--provider", default=os.environ.get("BILLING_PROVIDER", "facturama"))
    parser.add_argument("--archive", default=os.environ.get("BILLING_ARCHIVE_DIR", "cfdi-archive"))
    parser.add_argument("--series", default=os.environ.get("BILLING_SERIES", "W"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if not args.sandbox:
        try:
            provider = apunto_connect.invoice_provider(args.provider)
            try:
                status = provider.check_connection()
            finally:
                provider.release()
        except ApuntoError as exc:  # e.g. CredentialsNotFound, naming every place it looked
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(to_dict(status), indent=2, ensure_ascii=False))
        return 0 if status.ok else 1

    with _sandbox_service(args.provider, args.archive, args.series) as billing:
        results = [issue_invoice(order, billing) for order in [*SAMPLE_ORDERS, SAMPLE_ORDERS[0]]]
    json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if results[0]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
