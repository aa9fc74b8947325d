from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest

from apunto_connect import sat
from apunto_connect.errors import Severity, ValidationError
from apunto_connect.models import (
    Customer,
    Invoice,
    InvoiceKind,
    Issuer,
    LineItem,
    PaymentMethod,
    Tax,
)
from apunto_connect.models.invoices import GlobalInformation, RelatedDocuments, TaxFactor, TaxKind
from apunto_connect.sat import validate_cancellation

# The invoices below are dated 2025-03-01 10:00; "now" is two hours later at LugarExpedicion.
NOW = datetime(2025, 3, 1, 12, 0)


def preflight(invoice: Any, issuer: Any = None, **options: Any) -> list[Any]:
    options.setdefault("now", NOW)
    return sat.preflight(invoice, issuer, **options)


def check(invoice: Any, issuer: Any = None, **options: Any) -> None:
    options.setdefault("now", NOW)
    sat.check(invoice, issuer, **options)


ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000", cfdi_use="G03")
FREIGHT = LineItem(
    "78101802", "E48", "Flete terrestre Monterrey - CDMX", 1, "1000.00",
    taxes=(Tax.iva(), Tax.iva_withholding("0.04")),
)  # fmt: skip
BASE = Invoice(
    CUSTOMER, (FREIGHT,), issuer=ISSUER, payment_form="03", issued_at=datetime(2025, 3, 1, 10, 0)
)
PUBLIC = Customer("XAXX010101000", "PUBLICO EN GENERAL", "616", "26015", cfdi_use="S01")
PAYMENT_ITEM = LineItem("84111506", "ACT", "Pago", 1, 0)


def customer(**changes: object) -> Invoice:
    return BASE.with_changes(customer=attrs.evolve(CUSTOMER, **changes))


def issuer(**changes: object) -> Invoice:
    return BASE.with_changes(issuer=attrs.evolve(ISSUER, **changes))


def item(**changes: object) -> Invoice:
    return BASE.with_changes(items=(attrs.evolve(FREIGHT, **changes),))


def public(**changes: object) -> Invoice:
    info = GlobalInformation("01", "03", 2025)
    return BASE.with_changes(customer=attrs.evolve(PUBLIC, **changes), global_info=info)


def payment(**changes: object) -> Invoice:
    base = BASE.with_changes(
        kind=InvoiceKind.PAYMENT, currency="XXX", payment_form=None, cfdi_use="CP01",
        items=(PAYMENT_ITEM,),
    )  # fmt: skip
    return base.with_changes(**changes)


def transfer(**changes: object) -> Invoice:
    goods = LineItem("78101802", "H87", "Cajas", 3, 0)
    base = BASE.with_changes(
        kind=InvoiceKind.TRANSFER, currency="XXX", payment_form=None, cfdi_use="S01",
        items=(goods,),
        customer=attrs.evolve(CUSTOMER, rfc=ISSUER.rfc, legal_name=ISSUER.legal_name),
    )  # fmt: skip
    return base.with_changes(**changes)


def taxed(*taxes: Tax, **changes: object) -> Invoice:
    return item(taxes=taxes, **changes)


# (rule id, invoice, expected code, expected field)
CASES: list[tuple[str, Callable[[], Invoice], str, str]] = [
    ("issuer_rfc_format", lambda: issuer(rfc="EKU9003173"), "APUNTO-103", "issuer.rfc"),
    ("issuer_generic_rfc", lambda: issuer(rfc="XAXX010101000", tax_regime="616"), "APUNTO-501", "issuer.rfc"),
    ("issuer_regime_catalog", lambda: issuer(tax_regime="609"), "CFDI40140", "issuer.tax_regime"),
    ("issuer_regime_persona", lambda: issuer(tax_regime="612"), "CFDI40141", "issuer.tax_regime"),
    ("issuer_name_regime", lambda: issuer(legal_name="ESCUELA KEMPER URGATE SA DE CV"), "CFDI40139", "issuer.legal_name"),
    ("issuer_name_empty", lambda: issuer(legal_name=" "), "APUNTO-503", "issuer.legal_name"),
    ("issuer_zip", lambda: issuer(zip_code="2601"), "CFDI40126", "issuer.zip_code"),
    ("issuer_zip_catalog", lambda: issuer(zip_code="00001"), "CFDI40126", "issuer.zip_code"),
    ("customer_zip_catalog", lambda: customer(zip_code="00001"), "CFDI40147", "customer.zip_code"),
    ("foreign_tax_id_needs_residence", lambda: public(rfc="XEXX010101000", foreign_tax_id="123456789"), "CFDI40153", "customer.tax_residence"),
    ("customer_rfc_format", lambda: customer(rfc="URE180229TM6"), "APUNTO-106", "customer.rfc"),
    ("customer_name_regime", lambda: customer(legal_name="UNIVERSIDAD ROBOTICA ESPAÑOLA, S.A. DE C.V."), "CFDI40145", "customer.legal_name"),
    ("customer_zip", lambda: customer(zip_code="ABCDE"), "APUNTO-504", "customer.zip_code"),
    ("customer_regime_catalog", lambda: customer(tax_regime="999"), "CFDI40157", "customer.tax_regime"),
    ("customer_regime_persona", lambda: customer(tax_regime="605"), "CFDI40158", "customer.tax_regime"),
    ("use_catalog", lambda: customer(cfdi_use="P01"), "CFDI40160", "cfdi_use"),
    ("use_persona", lambda: customer(cfdi_use="D01"), "CFDI40161", "cfdi_use"),
    ("use_regime", lambda: BASE.with_changes(customer=attrs.evolve(CUSTOMER, rfc="XIQB891116QE4", tax_regime="605"), cfdi_use="G03"), "CFDI40161", "cfdi_use"),
    ("generic_regime_616", lambda: public(tax_regime="601"), "CFDI40159", "customer.tax_regime"),
    ("generic_zip_equals_issuer", lambda: public(zip_code="01000"), "CFDI40149", "customer.zip_code"),
    ("generic_use_s01", lambda: public(cfdi_use="G02"), "CFDI40161", "cfdi_use"),
    ("generic_name_accent", lambda: public(legal_name="PÚBLICO EN GENERAL"), "APUNTO-505", "customer.legal_name"),
    ("generic_name_other", lambda: public(legal_name="JUAN PEREZ"), "APUNTO-506", "customer.legal_name"),
    ("generic_needs_global_info", lambda: public().with_changes(global_info=None), "CFDI40130", "global_info"),
    ("public_name_needs_xaxx", lambda: customer(legal_name="PUBLICO EN GENERAL"), "CFDI40146", "customer.legal_name"),
    ("residence_only_foreign", lambda: customer(tax_residence="USA"), "CFDI40151", "customer.tax_residence"),
    ("residence_not_mex", lambda: public(rfc="XEXX010101000", tax_residence="MEX"), "CFDI40152", "customer.tax_residence"),
    ("residence_catalog", lambda: public(rfc="XEXX010101000", tax_residence="XYZ"), "CFDI40150", "customer.tax_residence"),
    ("foreign_tax_id_only_foreign", lambda: customer(foreign_tax_id="123456789"), "CFDI40154", "customer.foreign_tax_id"),
    ("currency_catalog", lambda: BASE.with_changes(currency="MXP"), "CFDI40113", "currency"),
    ("mxn_rate_one", lambda: BASE.with_changes(exchange_rate="17.5"), "CFDI40114", "exchange_rate"),
    ("foreign_currency_needs_rate", lambda: BASE.with_changes(currency="USD"), "CFDI40115", "exchange_rate"),
    ("xxx_no_rate", lambda: transfer(exchange_rate="1"), "CFDI40116", "exchange_rate"),
    ("rate_positive_6_decimals", lambda: BASE.with_changes(currency="USD", exchange_rate="17.1234567"), "CFDI40117", "exchange_rate"),
    ("income_no_xxx", lambda: BASE.with_changes(currency="XXX"), "APUNTO-511", "currency"),
    ("payment_method_catalog", lambda: customer(payment_method="PPX"), "CFDI40124", "payment_method"),
    ("payment_form_catalog", lambda: BASE.with_changes(payment_form="07"), "CFDI40104", "payment_form"),
    ("ppd_needs_99", lambda: BASE.with_changes(payment_method=PaymentMethod.PPD), "CFDI40105", "payment_form"),
    ("tpn_no_payment_form", lambda: transfer(payment_form="03"), "CFDI40103", "payment_form"),
    ("tp_no_payment_method", lambda: payment(payment_method=PaymentMethod.PUE), "CFDI40125", "payment_method"),
    ("tp_currency_xxx", lambda: payment(currency="MXN"), "APUNTO-513", "currency"),
    ("tp_subtotal_zero", lambda: transfer(items=(LineItem("78101802", "H87", "Cajas", 3, 5),)), "CFDI40109", "items"),
    ("tp_no_taxes", lambda: payment(items=(attrs.evolve(PAYMENT_ITEM, taxes=(Tax.iva(),)),)), "CFDI40201", "items"),
    ("payment_use_cp01", lambda: payment(cfdi_use="G03"), "APUNTO-514", "cfdi_use"),
    ("payment_concept", lambda: payment(items=(attrs.evolve(PAYMENT_ITEM, unit_code="E48"),)), "APUNTO-515", "items[0]"),
    ("export_catalog", lambda: BASE.with_changes(export_code="05"), "CFDI40123", "export_code"),
    ("export_02_needs_cce", lambda: BASE.with_changes(export_code="02"), "CFDI40122", "export_code"),
    ("relation_catalog", lambda: BASE.with_changes(related=(RelatedDocuments("08", ("5b64ada3-aa4c-40b4-a2f5-572ced52be31",)),)), "CFDI40137", "related[0].relation_type"),
    ("relation_needs_uuid", lambda: BASE.with_changes(related=(RelatedDocuments("04", ()),)), "APUNTO-520", "related[0].uuids"),
    ("relation_uuid_format", lambda: BASE.with_changes(related=(RelatedDocuments("04", ("not-a-uuid",)),)), "APUNTO-521", "related[0].uuids[0]"),
    ("global_only_xaxx", lambda: BASE.with_changes(global_info=GlobalInformation("01", "03", 2025)), "APUNTO-522", "global_info"),
    ("global_periodicity", lambda: public().with_changes(global_info=GlobalInformation("06", "03", 2025)), "CFDI40131", "global_info.periodicity"),
    ("global_months", lambda: public().with_changes(global_info=GlobalInformation("01", "19", 2025)), "CFDI40133", "global_info.months"),
    ("global_bimonthly_months", lambda: public().with_changes(global_info=GlobalInformation("05", "03", 2025)), "CFDI40134", "global_info.months"),
    ("global_monthly_months", lambda: public().with_changes(global_info=GlobalInformation("04", "13", 2025)), "CFDI40135", "global_info.months"),
    ("global_bimonthly_621", lambda: public().with_changes(global_info=GlobalInformation("05", "13", 2025)), "CFDI40132", "global_info.periodicity"),
    ("global_year", lambda: public().with_changes(global_info=GlobalInformation("01", "03", 2018)), "CFDI40136", "global_info.year"),
    ("needs_items", lambda: BASE.with_changes(items=()), "APUNTO-543", "items"),
    ("product_code", lambda: item(product_code="7810180"), "CFDI40162", "items[0].product_code"),
    ("product_code_catalog", lambda: item(product_code="99999999"), "CFDI40162", "items[0].product_code"),
    ("unit_code_case", lambda: item(unit_code="e48"), "CFDI40165", "items[0].unit_code"),
    ("unit_code_catalog", lambda: item(unit_code="ZZZ"), "CFDI40165", "items[0].unit_code"),
    ("description_length", lambda: item(description="x" * 1001), "APUNTO-302", "items[0].description"),
    ("description_pipe", lambda: item(description="a|b"), "APUNTO-303", "items[0].description"),
    ("product_name_2_50", lambda: item(name="X"), "APUNTO-301", "items[0].name"),
    ("long_description_without_name", lambda: item(description="x" * 60), "APUNTO-530", "items[0].name"),
    ("quantity_positive", lambda: item(quantity=0), "APUNTO-531", "items[0].quantity"),
    ("quantity_6_decimals", lambda: item(quantity="1.0000001"), "APUNTO-532", "items[0].quantity"),
    ("unit_price_positive", lambda: item(unit_price=0), "CFDI40166", "items[0].unit_price"),
    ("unit_price_zero_for_p", lambda: payment(items=(attrs.evolve(PAYMENT_ITEM, unit_price=1),)), "APUNTO-534", "items[0].unit_price"),
    ("unit_price_6_decimals", lambda: item(unit_price="10.1234567"), "APUNTO-535", "items[0].unit_price"),
    ("discount_negative", lambda: item(discount=-1), "APUNTO-533", "items[0].discount"),
    ("discount_decimals", lambda: item(discount="1.005"), "CFDI40168", "items[0].discount"),
    ("discount_le_amount", lambda: item(discount=1001), "CFDI40169", "items[0].discount"),
    ("tax_base_positive", lambda: item(discount=1000), "CFDI40174", "items[0].taxes"),
    ("withholding_base_positive", lambda: taxed(Tax.iva_withholding("0.04"), discount=1000), "CFDI40181", "items[0].taxes"),
    ("tax_object_catalog", lambda: item(tax_object="09"), "CFDI40170", "items[0].tax_object"),
    ("tax_object_vigencia", lambda: taxed(tax_object="06").with_changes(issued_at=datetime(2024, 1, 5)), "CFDI40170", "items[0].tax_object"),
    ("tax_object_02_needs_taxes", lambda: taxed(tax_object="02"), "CFDI40171", "items[0].tax_object"),
    ("tax_object_01_no_taxes", lambda: item(tax_object="01"), "CFDI40172", "items[0].tax_object"),
    ("tax_object_06_no_iva", lambda: item(tax_object="06"), "CFDI140226", "items[0].tax_object"),
    ("tax_object_07_ieps", lambda: taxed(Tax.iva(), tax_object="07"), "CFDI140227", "items[0].tax_object"),
    ("exempt_no_rate", lambda: taxed(Tax(TaxKind.IVA, "0.16", factor=TaxFactor.EXEMPT)), "CFDI40177", "items[0].taxes[0].rate"),
    ("rate_required", lambda: taxed(Tax(TaxKind.IVA, None)), "CFDI40178", "items[0].taxes[0].rate"),
    ("withholding_not_exempt", lambda: taxed(Tax(TaxKind.IVA, None, withholding=True, factor=TaxFactor.EXEMPT)), "CFDI40184", "items[0].taxes[0].factor"),
    ("isr_only_withheld", lambda: taxed(Tax(TaxKind.ISR, "0.10")), "APUNTO-540", "items[0].taxes[0].kind"),
    ("iva_fixed_rates", lambda: taxed(Tax.iva("0.15")), "CFDI40179", "items[0].taxes[0].rate"),
    ("iva_withholding_range", lambda: taxed(Tax.iva(), Tax.iva_withholding("0.17")), "CFDI40185", "items[0].taxes[1].rate"),
    ("isr_withholding_range", lambda: taxed(Tax.iva(), Tax.isr_withholding("0.40")), "CFDI40185", "items[0].taxes[1].rate"),
    ("ieps_rates", lambda: taxed(Tax.ieps("0.2")), "CFDI40179", "items[0].taxes[0].rate"),
    ("ieps_quota_range", lambda: taxed(Tax.ieps("80", factor=TaxFactor.QUOTA)), "CFDI40179", "items[0].taxes[0].rate"),
    ("iva_no_quota", lambda: taxed(Tax(TaxKind.IVA, "1", factor=TaxFactor.QUOTA)), "CFDI40179", "items[0].taxes[0].factor"),
    ("rate_6_decimals", lambda: taxed(Tax.iva_withholding("0.1066667")), "CFDI40185", "items[0].taxes[0].rate"),
    ("duplicate_transfer", lambda: taxed(Tax.iva(), Tax.iva()), "CFDI40218", "items[0].taxes[1]"),
    ("duplicate_withholding", lambda: taxed(Tax.iva(), Tax.iva_withholding("0.04"), Tax.iva_withholding("0.04")), "CFDI40208", "items[0].taxes[2]"),
    ("fixed_transfer_outside_tolerance", lambda: taxed(Tax.iva(amount=Decimal("160.02")), Tax.iva_withholding("0.04")), "CFDI40180", "items[0].taxes[0].amount"),
    ("fixed_withholding_outside_tolerance", lambda: taxed(Tax.iva(), Tax(TaxKind.IVA, "0.04", withholding=True, amount=Decimal("39.98"))), "CFDI40186", "items[0].taxes[1].amount"),
    ("date_older_than_72_hours", lambda: BASE.with_changes(issued_at=NOW - timedelta(hours=72, minutes=1)), "APUNTO-516", "issued_at"),
    ("date_in_the_future", lambda: BASE.with_changes(issued_at=NOW + timedelta(minutes=1)), "APUNTO-516", "issued_at"),
    ("total_not_negative", lambda: taxed(Tax.isr_withholding("0.35"), Tax.iva_withholding("0.16"), Tax(TaxKind.IEPS, "0.53", withholding=True)), "APUNTO-541", "items"),
    ("amounts_computable", lambda: item(quantity="1e30", unit_price="1e30"), "APUNTO-542", "items"),
]  # fmt: skip


def codes_at(invoice: Invoice) -> set[tuple[str, str]]:
    return {(issue.code, issue.field) for issue in preflight(invoice)}


def test_the_base_invoice_is_clean() -> None:
    assert preflight(BASE) == []
    check(BASE)


@pytest.mark.parametrize("make", [public, payment, transfer], ids=["global", "payment", "transfer"])
def test_well_formed_special_invoices_are_clean(make: Callable[[], Invoice]) -> None:
    assert [i for i in preflight(make()) if i.severity is Severity.ERROR] == []


@pytest.mark.parametrize(("rule", "make", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_reports_its_code_on_its_field(
    rule: str, make: Callable[[], Invoice], code: str, field: str
) -> None:
    found = codes_at(make())
    assert (code, field) in found, sorted(found)


def test_rules_are_many_and_distinct() -> None:
    assert len({(c[2], c[3]) for c in CASES}) >= 60


def test_check_raises_with_every_error_at_once() -> None:
    bad = BASE.with_changes(
        customer=attrs.evolve(CUSTOMER, tax_regime="605", cfdi_use="D01"),
        payment_method=PaymentMethod.PPD,
        items=(attrs.evolve(FREIGHT, quantity=0),),
    )
    with pytest.raises(ValidationError) as info:
        check(bad)
    codes = {i.code for i in info.value.errors}
    assert {"CFDI40158", "CFDI40161", "CFDI40105", "APUNTO-531"} <= codes
    assert all(i.message_es for i in info.value.issues)


def test_warnings_alone_do_not_raise_but_are_returned() -> None:
    invoice = public(legal_name="PÚBLICO EN GENERAL")
    check(invoice)
    assert [i.severity for i in preflight(invoice)] == [Severity.WARNING]


def test_errors_come_before_warnings() -> None:
    issues = preflight(public(legal_name="JUAN PEREZ", tax_regime="601"))
    severities = [i.severity for i in issues]
    assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)


def test_the_issuer_argument_overrides_the_invoice_issuer() -> None:
    other = attrs.evolve(ISSUER, tax_regime="612")
    assert ("CFDI40141", "issuer.tax_regime") in {(i.code, i.field) for i in preflight(BASE, other)}
    assert preflight(BASE.with_changes(issuer=None)) == []


def test_check_digit_warnings_reach_the_preflight_as_warnings() -> None:
    invoice = customer(
        rfc="MCI7306249Y1", legal_name="MUNICIPIO DE CUAUTITLAN IZCALLI", tax_regime="603"
    )
    issues = preflight(invoice)
    assert [(i.code, i.field, i.severity) for i in issues] == [
        ("APUNTO-109", "customer.rfc", Severity.WARNING)
    ]


def test_cfdi_use_of_the_invoice_overrides_the_customer_default() -> None:
    assert preflight(BASE.with_changes(cfdi_use="G01")) == []


def test_the_freight_withholding_case_from_the_domain_notes_is_clean() -> None:
    fees = LineItem("80101500", "E48", "Asesoría", 1, 5000,
                    taxes=(Tax.iva(), Tax.iva_withholding("0.106667"), Tax.isr_withholding("0.10")))  # fmt: skip
    invoice = BASE.with_changes(
        issuer=Issuer("XIQB891116QE4", "BERENICE XIMO QUEZADA", "612", "26015"), items=(fees,)
    )
    assert preflight(invoice) == []


@pytest.mark.parametrize(
    ("motive", "replacement", "codes"),
    [
        ("01", "5b64ada3-aa4c-40b4-a2f5-572ced52be31", []),
        ("01", None, ["APUNTO-602"]),
        ("01", "", ["APUNTO-602"]),
        ("01", "nope", ["APUNTO-603"]),
        ("02", None, []),
        ("03", None, []),
        ("04", None, []),
        ("02", "5B64ADA3-AA4C-40B4-A2F5-572CED52BE31", ["APUNTO-604"]),
        ("05", None, ["APUNTO-601"]),
        (None, None, ["APUNTO-601"]),
    ],
)
def test_cancellation_rules(motive: object, replacement: object, codes: list[str]) -> None:
    assert [i.code for i in validate_cancellation(motive, replacement)] == codes


def test_cancellation_accepts_the_motive_enum() -> None:
    from apunto_connect.models import CancelMotive

    assert validate_cancellation(CancelMotive.NOT_CARRIED_OUT) == []


def test_a_negative_price_is_reported_once_not_as_discount_or_total_noise() -> None:
    from apunto_connect.models import Customer, Invoice, LineItem, Tax
    from apunto_connect.sat import preflight

    customer = Customer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015")
    invoice = Invoice(customer, [LineItem("78101802", "E48", "Flete", 1, "-500", taxes=[Tax.iva()])],
                      payment_form="03")
    codes = [issue.code for issue in preflight(invoice)]
    assert codes == ["CFDI40166"]


# -- codes that changed: the former code stays in Issue.aliases for one release ----------------
@pytest.mark.parametrize(
    ("make", "code", "former"),
    [
        (lambda: BASE.with_changes(payment_form="07"), "CFDI40104", "APUNTO-512"),
        (lambda: BASE.with_changes(currency="USD", exchange_rate="17.1234567"), "CFDI40117", "APUNTO-510"),
        (lambda: item(product_code="7810180"), "CFDI40162", "APUNTO-304"),
        (lambda: item(unit_code="e48"), "CFDI40165", "APUNTO-306"),
        (lambda: public().with_changes(global_info=GlobalInformation("06", "03", 2025)), "CFDI40131", "APUNTO-523"),
        (lambda: item(discount="1.005"), "CFDI40168", "CFDI40112"),
    ],
)  # fmt: skip
def test_renamed_rules_keep_their_former_code_as_an_alias(
    make: Callable[[], Invoice], code: str, former: str
) -> None:
    issue = next(i for i in preflight(make()) if i.code == code)
    assert former in issue.aliases and issue.has_code(former) and issue.has_code(code)


def test_catalog_messages_name_the_unit_description() -> None:
    issue = next(i for i in preflight(item(unit_code="h87")) if i.code == "CFDI40165")
    assert "'H87' (Pieza)" in issue.message


def test_the_date_window_uses_the_time_zone_of_the_expedition_postal_code() -> None:
    # 13:00 UTC is 07:00 in Mexico City (UTC-6) and 06:00 in Tijuana (UTC-8, no DST in March 1).
    now = datetime(2025, 3, 1, 13, 0, tzinfo=timezone.utc)
    at_630 = BASE.with_changes(issued_at=datetime(2025, 3, 1, 6, 30))
    assert ("APUNTO-516", "issued_at") not in codes_with(at_630, now=now)  # CDMX-like 26015
    tijuana = at_630.with_changes(issuer=attrs.evolve(ISSUER, zip_code="22000"))
    assert ("APUNTO-516", "issued_at") in codes_with(tijuana, now=now)  # 06:30 is future there


def test_the_date_window_is_configurable_and_can_be_turned_off() -> None:
    old = BASE.with_changes(issued_at=NOW - timedelta(hours=100))
    assert ("APUNTO-516", "issued_at") in codes_with(old)
    assert ("APUNTO-516", "issued_at") not in codes_with(old, date_window=timedelta(hours=120))
    assert ("APUNTO-516", "issued_at") not in codes_with(old, date_window=None)


def test_a_fixed_amount_inside_the_tolerance_is_clean() -> None:
    # base 1000.00 at 16 %: the SAT accepts 159.99-160.01
    for amount in ("159.99", "160.00", "160.01"):
        assert preflight(taxed(Tax.iva(amount=Decimal(amount)), Tax.iva_withholding("0.04"))) == []


def test_the_fix_warning_compares_the_exchange_rate_with_banxico() -> None:
    usd = BASE.with_changes(currency="USD", exchange_rate="19.90")

    def fix(currency: str, day: object) -> Decimal:
        return Decimal("17.50")

    found = {(i.code, i.field, i.severity) for i in preflight(usd, fix=fix)}
    assert ("APUNTO-517", "exchange_rate", Severity.WARNING) in found
    assert not any(i.code == "APUNTO-517" for i in preflight(usd.with_changes(exchange_rate="17.60"), fix=fix))
    assert not any(i.code == "APUNTO-517" for i in preflight(usd))  # no source, no warning


def codes_with(invoice: Invoice, **options: Any) -> set[tuple[str, str]]:
    return {(issue.code, issue.field) for issue in preflight(invoice, **options)}
