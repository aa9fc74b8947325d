"""stamp_many over documents: receipts go one by one through the same path, in input order."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from apunto_connect import Sandbox
from apunto_connect.cfdi import parse, read_document
from apunto_connect.errors import UnsupportedOperation
from apunto_connect.models import Customer, Invoice, LineItem, PaymentReceipt, Tax

CUSTOMER = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015", cfdi_use="G03")


def _ppd(folio: str, amount: str) -> Invoice:
    return Invoice(customer=CUSTOMER, folio=folio, payment_method="PPD", payment_form="99",
                   items=[LineItem("78101802", "E48", "Flete", 1, amount, taxes=[Tax.iva()],
                                   unit_name="Servicio", sku="FLETE", name="Flete terrestre")])


def test_a_batch_of_receipts_stamps_each_once_and_settles_every_invoice() -> None:
    with Sandbox(vendors=["facturama"], seed=21) as sb:
        provider = sb.invoice_provider("facturama")
        seen: list[Any] = []
        provider.events.subscribe(seen.append, ["payment.stamped", "invoice.paid"])
        invoices = [provider.stamp(_ppd(f"{7300 + n}", f"{1000 * (n + 1)}"),
                                   idempotency_key=f"inv-{n}") for n in range(3)]
        cfdis = [parse(provider.download(s.id, "xml")) for s in invoices]
        paid_at = datetime.fromtimestamp(sb.clock.now()).replace(microsecond=0) - timedelta(1)
        receipts = [PaymentReceipt.for_invoices([cfdi], amount=cfdi.total, form="03",
                                                paid_at=paid_at, folio=f"{7400 + n}")
                    for n, cfdi in enumerate(cfdis)]
        keys = [f"pay-{n}" for n in range(3)]
        batch = provider.stamp_many(receipts, idempotency_keys=keys)
        outcomes = batch.results()
        assert [o.ok for o in outcomes] == [True, True, True]
        for outcome, cfdi in zip(outcomes, cfdis, strict=True):
            assert outcome.stamped is not None
            back = read_document(provider.download(outcome.stamped.id, "xml"))
            assert isinstance(back, PaymentReceipt)
            assert back.documents[0].uuid.upper() == cfdi.uuid.upper()
            assert back.documents[0].remaining_balance == Decimal("0.00")
        assert sorted(e.type for e in seen) == ["invoice.paid"] * 3 + ["payment.stamped"] * 3
        again = provider.stamp_many(receipts, idempotency_keys=keys).results()
        assert all(o.already_done for o in again)  # the journal answers; nothing re-sent
        assert len(seen) == 6


def test_a_mixed_batch_refuses_only_what_the_vendor_cannot_issue() -> None:
    with Sandbox(vendors=["alegra"], seed=22) as sb:
        provider = sb.invoice_provider("alegra")
        receipt = PaymentReceipt.for_invoices(
            [parse(_fake_stamped_xml())], amount="116", form="03",
            paid_at=datetime.now().replace(microsecond=0) - timedelta(days=1))
        invoice = _ppd("", "100").with_changes(folio=None, payment_method="PUE",
                                               payment_form="03")
        outcomes = provider.stamp_many([receipt, invoice]).results()
        assert isinstance(outcomes[0].error, UnsupportedOperation)
        assert outcomes[1].ok


def _fake_stamped_xml() -> bytes:
    from apunto_connect.cfdi import build
    from apunto_connect.cfdi.models import Stamp
    from apunto_connect.models import Issuer

    issuer = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
    return build(_ppd("1", "100").with_changes(issuer=issuer),
                 Stamp("6F35D3B5-3651-5370-BC2C-14CDBE384CD7", datetime(2026, 11, 2, 10, 1),
                       "SAT970701NN3", "00001000000509846663"))
