"""Alegra's API v1 for Mexico as this SDK understands it: one frozen :data:`SPEC`.

Every path, field name, header, limit and vendor value the provider and the emulator use is an
entry here, marked ``official`` (developer.alegra.com), ``public-integration`` (independent
public clients agree) or ``assumed`` (the evidence says what was searched). The evidence is
gathered in ``docs/vendors/evidence/alegra.md``. Override per provider with ``spec=``::

    AlegraProvider(spec={"path.void": "invoices/{id}/cancel"})

Dotted field values (``address.zipCode``) are nested objects.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ...vendor_spec import Fact, VendorSpec, assumed, official, public

__all__ = ["LEGACY_URL", "PRODUCTION_URL", "SPEC", "legacy_key", "with_legacy_keys"]

PRODUCTION_URL = "https://api.alegra.com/api/v1"
"""Alegra's API host (there is no test host for Mexico)."""
LEGACY_URL = "https://app.alegra.com/api/v1"
"""The host older clients used; it answers the same API."""

# -- evidence, written once ------------------------------------------------------------------

_REF = "https://developer.alegra.com/reference"
_STAMP_REF = f"{_REF}/post_invoices-stamp"
_OPEN_REF = f"{_REF}/post_invoices-id-open"
_RATE_REF = f"{_REF} (Límite de request)"
_CLI = "jjuanrivvera/alegra-cli"
_PHP = "loduis/alegra-php"
_BOTH = f"{_CLI}; {_PHP}"
_CLIENTS = f"{_CLI}; {_PHP}; platanus/alegra-integrations; apideck Alegra guide"
_CHEAT = f"one source: {_CLI} per-country cheat-sheet (Mexican bodies)"
# Two small Python clients published on PyPI: okchaty/alegra (package ``alegra``) and
# ``alegra-python``; a third-party client test drives the emulator with the first.
_PYPI = "okchaty/alegra (PyPI alegra 0.1.1)"
_NOT_FOUND = (
    f"searched {_CLI}, {_PHP}, {_PYPI}, PyPI alegra-python, apideck and public code search: "
    "not found"
)
_LIST = f"one source: {_CLI} commands/generic.go and list options"
# Alegra's own team publishes n8n workflows that call the API directly (official material).
_TEAM = "github.com/Alegra-Team/alegra-integrations automatizaciones/n8n"
_TEAM_ANOMALY = f"{_TEAM}/alegra-invoice-anomaly-guard/workflow.json"
_TEAM_BILLING = f"{_TEAM}/alegra-monthly-recurring-billing-run/workflow.json"
# A third-party connector catalog that lists each native Alegra call with its parameters
# (independent of alegra-cli and alegra-php).
_MC = "mindcloud-inc/universal-api-reference apis/a/alegra/native-api/actions"
# Integrations that public code search shows without naming their repository, told apart
# by their code (see docs/vendors/evidence/alegra.md, "Sources").
_ASPNET = "an ASP.NET Core point-of-sale controller (repository not named by public code search)"
_STREAMLIT = "a Streamlit invoicing module (repository not named by public code search)"
_WEBHOOK = "a Next.js webhook handler (repository not named by public code search)"
_FASTAPI = "a FastAPI AlegraService for a uniform shop (repository not named by public code search)"
# Two Mexican integrations (their repositories are not named by public code search either).
_MX_LIB = "a Next.js Alegra library for Mexico (SAT_TO_ALEGRA_TAX_REGIME)"
_MX_ROUTE = "a Next.js HubSpot/Stripe invoicing route for Mexico (mapSATRegimeToAlegra)"
_MX_POS = "an Express point-of-sale for Mexico (repository not named by public code search)"
_NEST = "a NestJS payments service for Colombia (repository not named by public code search)"


_PATHS: dict[str, Fact] = {
    "path.company": public("company", f"{_CLI} (reads the account's country from it); {_PHP}"),
    "path.contacts": public("contacts", _CLIENTS),
    "path.contact": public("contacts/{id}", _BOTH),
    "path.items": public("items", _BOTH),
    "path.taxes": public("taxes", f"{_CLI} internal/api/taxes.go (get_taxes); {_PHP} src/Tax.php"),
    "path.retentions": public(
        "retentions",
        f"{_CLI} internal/api/retentions.go (get_retentions); {_PHP} src/Retention.php",
    ),
    "path.invoices": official("invoices", f"{_REF}/get_invoices"),
    "path.invoice": public("invoices/{id}", _BOTH),
    "path.stamp": official("invoices/stamp", _STAMP_REF),
    "path.email": public(
        "invoices/{id}/email",
        f"{_PHP} src/Support/Mailable.php; {_CLI} commands/invoices.go (action email); "
        f"{_PYPI} Invoice.email posts invoices/{{id}}/email/",
    ),
    "path.void": public(
        "invoices/{id}/void",
        f"{_CLI} commands/invoices.go (POST void); {_ASPNET} posts invoices/{{id}}/void with no "
        f"body; {_PYPI} Invoice.void posts invoices/{{id}}/void/ with any JSON body; {_PHP} has "
        f"void/open on payments; {_OPEN_REF} reverts an annulment",
    ),
}

_QUERY: dict[str, Fact] = {
    "field.query.contact_rfc": public(
        "identification", f"platanus/alegra-integrations alegra_client.rb; {_CLI} contacts list"
    ),
    "field.query.item_search": public(
        "query",
        f"{_MC}/list-items.md (query); {_FASTAPI} (GET items?query=<reference>); {_CLI} "
        "-q/--query on every list",
    ),
    "field.query.fields": public("fields", f"{_REF}; a public webhook handler (fields=pdf)"),
    "field.query.start": public("start", f"{_CLI}; alegra-python (paging)"),
    "field.query.limit": public("limit", f"{_CLI}; alegra-python (paging)"),
    "field.query.metadata": public("metadata", f"{_CLI}; alegra-python (paging)"),
    "field.query.order_field": official(
        "order_field", f"{_TEAM_ANOMALY} (GET invoices order_field=date); {_MC}/list-invoices.md"
    ),
    "field.query.order_direction": official(
        "order_direction",
        f"{_TEAM_ANOMALY} (GET invoices order_direction=DESC); {_MC}/list-invoices.md",
    ),
    "field.query.date_after": official(
        "date_after", f"{_TEAM_BILLING} (GET invoices date_after=yyyy-MM-dd); {_MC}/list-invoices.md"
    ),
    "field.query.date_before": public(
        "date_before", f"{_MC}/list-invoices.md; {_CLI} commands/generic.go dateRangeFilters"
    ),
    "field.query.status": public("status", f"{_CLI} invoice list filter; pipedream (reference)"),
    "field.query.text": public(
        "query", f"{_MC}/list-items.md and list-contacts.md (query); {_CLI} -q/--query"
    ),
}

_CONTACT: dict[str, Fact] = {
    "field.contact.name": public("name", _BOTH),
    "field.contact.rfc": public(
        "identification",
        f"{_MC}/create-contact.md (identification, a string; identificationObject only for "
        f"countries such as Peru); {_CHEAT} sends the RFC as a string; {_PHP} src/Contact.php",
    ),
    "field.contact.email": public("email", _BOTH),
    "field.contact.type": public("type", _BOTH),
    # Corrected: the régimen travels as Alegra's own name (not the SAT code), in regime and in
    # the list regimeObject; value.contact.regime_names pairs SAT codes with those names.
    "field.contact.regime": public(
        "regime",
        f"{_MX_LIB} and {_MX_ROUTE} send regime and regimeObject: [regime] with Alegra's names; "
        f"{_CHEAT} names regimeObject",
    ),
    "field.contact.regime_list": public(
        "regimeObject", f"{_MX_LIB}; {_MX_ROUTE}; {_CHEAT}"
    ),
    "value.contact.regime_names": public(
        MappingProxyType({
            "601": "GENERAL_REGIME_OF_MORAL_PEOPLE_LAW",
            "603": "REGIME_OF_MORAL_PEOPLE_NOT_PROFIT",
            "605": "SALARIED_REGIME",
            "612": "BUSINESS_ACTIVITIES_REGIME",
            "616": "SIMPLIFIED_REGIME",
            "626": "REGIME_OF_TRUST",
        }),
        f"{_MX_LIB} and {_MX_ROUTE} pair these six SAT codes with the same names; {_CHEAT} "
        "names 601, 612 and 626 the same",
    ),
    "value.contact.regime_names_one_source": assumed(
        MappingProxyType({
            "606": "LEASEHOLD_REGIME",
            "611": "DIVIDEND_INCOME",
            "620": "REGIME_OF_COOPERATIVE_PRODUCTION_SOCIETIES",
            "621": "FISCAL_INCORPORATION_REGIME",
            "622": "PRIMARY_SECTOR_REGIME",
            "623": "SOCIETIES_OPTIONAL_REGIME",
            "624": "REGIME_OF_THE_COORDINATED",
            "625": "REGIME_OF_THE_TECHNOLOGICAL_PLATFORMS_INCOME_ACTIVITIES",
        }),
        f"one source: {_MX_LIB} (Mexican régimen pickers in public front-ends label the same "
        "names alike); SAT regimes 607, 608, 610, 614 and 615: no name found",
    ),
    "field.contact.zip": public(
        "address.zipCode", f"{_CLI} ContactAddress.ZipCode; {_PHP} src/Support/Address.php"
    ),
    "value.contact.client": public("client", _BOTH),
}

_ITEM: dict[str, Fact] = {
    "field.item.name": public("name", _BOTH),
    "field.item.description": public("description", _BOTH),
    "field.item.reference": public("reference", _BOTH),
    "field.item.price": public(
        "price",
        f"{_MC}/create-item.md (price: a number on create); {_BOTH} model the answer as a list "
        "of {idPriceList, name, price}",
    ),
    "field.item.product_key": public(
        "productKey",
        f"apideck Alegra gotchas (the Mexican SAT product key); {_FASTAPI} creates items with "
        f"productKey (a UNSPSC code, which SAT product keys are); against: {_CHEAT} names it "
        "claveProdServ",
    ),
    "field.item.unit_key": assumed(
        "unitKey", f"{_CHEAT} names it claveUnidad; nothing has unitKey"
    ),
    # Corrected (was a top-level "unit" carrying our unit name): both clients keep the unit in
    # the item's inventory object, as one of Alegra's unit words (value.item.unit_words).
    "field.item.unit_name": public(
        "inventory.unit",
        f"{_CLI} internal/api/items.go (ItemInventory.Unit); {_PHP} src/Item/Inventory.php; "
        f"{_MC}/create-item.md (inventory.unit)",
    ),
}

_UNIT_WORDS = (
    "unit", "centimeter", "meter", "inch", "centimeterSquared", "meterSquared", "inchSquared",
    "mililiter", "liter", "gallon", "gram", "kilogram", "ton", "pound", "piece", "service",
    "notApplicable",
)

_UNITS: dict[str, Fact] = {
    "value.item.unit_words": public(
        frozenset(_UNIT_WORDS),
        f"{_PHP} src/Item/Inventory.php (the list, spelling 'mililiter' included); {_CLI} "
        "internal/api/items.go (inventory.unit, a word)",
    ),
    # SAT ClaveUnidad -> Alegra's word; any other code is sent as "unit". The words are
    # public, the pairing with SAT codes is ours (each word names the SAT unit's meaning).
    "value.item.unit_by_sat_code": assumed(
        MappingProxyType({
            "H87": "piece", "E48": "service", "ACT": "service", "C62": "unit", "XUN": "unit",
            "KGM": "kilogram", "GRM": "gram", "TNE": "ton", "LBR": "pound", "LTR": "liter",
            "MLT": "mililiter", "GLL": "gallon", "MTR": "meter", "CMT": "centimeter",
            "INH": "inch", "MTK": "meterSquared", "CMK": "centimeterSquared", "INK": "inchSquared",
        }),
        f"the words: {_PHP} src/Item/Inventory.php; the SAT codes: SAT c_ClaveUnidad; the "
        f"pairing is ours: searched {_CLI} and {_PHP}, neither pairs SAT unit codes with words",
    ),
}

_TAX: dict[str, Fact] = {
    "field.tax.name": public("name", f"{_CLI} taxes.go; {_PHP} src/Tax.php"),
    "field.tax.percentage": public("percentage", f"{_CLI} taxes.go; {_PHP} src/Tax.php"),
    "field.tax.type": public(
        "type", f"{_CLI} Tax.Type; {_PHP} Support/Taxable.php (values ISR/IEPS: not found)"
    ),
    "field.tax.factor": assumed("factorType", _NOT_FOUND + " (retentions have calculatedBy)"),
}

_EMAIL: dict[str, Fact] = {
    "field.email.emails": public(
        "emails", f"{_PHP} src/Support/Mailable.php; {_CLI} commands/invoices.go (a list)"
    ),
}

_INVOICE: dict[str, Fact] = {
    "field.invoice.date": public("date", _BOTH),
    "field.invoice.due_date": public("dueDate", _BOTH),
    "field.invoice.client": public("client.id", _BOTH),
    "field.invoice.items": public("items", _BOTH),
    # Manual numbering carries prefix and number in the body; automatic numbering needs only
    # numberTemplate.id (developer.alegra.com/docs/crear-factura-de-venta tells the two apart).
    "field.invoice.series": public(
        "numberTemplate.prefix",
        f"{_MC}/create-invoice.md (body numberTemplate.prefix); {_CLI} global-invoices.go "
        "(answers numberTemplate{id, prefix, number})",
    ),
    "field.invoice.folio": public(
        "numberTemplate.number",
        f"{_MC}/create-invoice.md (body numberTemplate.number); {_CLI} global-invoices.go "
        "(answers numberTemplate{id, prefix, number})",
    ),
    "field.invoice.currency": public(
        "currency.code", f"{_CLI} InvoiceCurrency; {_PHP} Support/Currency.php"
    ),
    "field.invoice.exchange_rate": public(
        "currency.exchangeRate",
        f"{_CLI} InvoiceCurrency; a WordPress marketplace plugin's Alegra client for Colombia "
        "and Mexico (PHP, repository not named by public code search) sends "
        "currency{code, exchangeRate} for a foreign currency",
    ),
    # Contested for Mexico: the names exist (Alegra's own workflows send both, with Colombian
    # values), but two Mexican integrations send PUE/PPD as paymentType and the means of
    # payment as paymentMethod (Alegra's words such as credit-card), against the one source
    # that sends paymentMethod PUE/PPD and paymentForm "03". Kept until the pairing of SAT
    # codes with Alegra's words is public; see docs/vendors/evidence/alegra.md.
    "field.invoice.payment_form": assumed(
        "paymentForm",
        f"contested: {_CHEAT} sends the SAT code here; {_MX_ROUTE} and {_MX_POS} send no "
        f"paymentForm (the name exists: {_TEAM_BILLING})",
    ),
    "field.invoice.payment_method": assumed(
        "paymentMethod",
        f"contested: {_CHEAT} sends PUE/PPD here; {_MX_ROUTE} and {_MX_POS} send PUE as "
        "paymentType and the means of payment as paymentMethod",
    ),
    "field.invoice.cfdi_use": public(
        "cfdiUse",
        f"{_MX_ROUTE} and {_MX_POS} send cfdiUse in the POST invoices body; {_CHEAT} shows it "
        "on the contact (the route sends it on both)",
    ),
    "field.invoice.export_code": assumed("exportation", _NOT_FOUND),
    "field.invoice.notes": public("anotation", _BOTH),
    "field.invoice.payment_terms": public("termsConditions", _BOTH),
    "field.invoice.observations": public("observations", _BOTH),
    "field.invoice.status": public("status", f"{_CLI} invoice list filter; pipedream (reference)"),
    "field.invoice.stamp": official("stamp.generateStamp", f"{_STAMP_REF}; {_CLI}; apideck"),
    "field.line.id": public("id", _BOTH),
    "field.line.price": public("price", _BOTH),
    "field.line.quantity": public("quantity", _BOTH),
    "field.line.discount": public("discount", f"{_BOTH} (a percentage of the line amount)"),
    "field.line.description": public("description", _BOTH),
    "field.line.taxes": public("tax", f"{_CLI} InvoiceItem.tax; {_PHP}"),
    # Contradicted: two sources put retentions[] on the invoice. Kept per line until it is
    # known how Alegra spreads an invoice-level retention over the CFDI concepts (our lines
    # withhold independently); see docs/vendors/evidence/alegra.md.
    "field.line.retentions": assumed(
        "retentions",
        f"contradicted, not corrected: {_CLI} Invoice.Retentions and {_MC}/create-invoice.md "
        "(retentions[].id, retentions[].amount) both sit on the invoice, not on items[]",
    ),
}

_ANSWER: dict[str, Fact] = {
    "field.answer.id": public("id", _CLIENTS),
    "field.answer.status": public("status", f"{_CLI} invoice list filter; pipedream (reference)"),
    "field.answer.total": public("total", _BOTH),
    "field.answer.uuid": public(
        "stamp.uuid",
        f"{_CLI} global-invoices.go (stamp.uuid); {_MX_LIB} reads stamp.uuid of Mexican documents",
    ),
    # Corrected (was stamp.date): both sources name FechaTimbrado stamp.stampDate.
    "field.answer.stamped_at": public(
        "stamp.stampDate",
        f"{_CLI} global-invoices.go (stamp.stampDate); {_MX_LIB} reads stamp.stampDate (falling "
        "back to stamp.date)",
    ),
    "field.answer.cancel_status": assumed("stamp.cancellationStatus", _NOT_FOUND),
    "field.answer.stamp_message": assumed("stamp.message", _NOT_FOUND),
    "field.answer.pdf": public(
        "pdf",
        f"{_WEBHOOK}, {_ASPNET} and {_STREAMLIT} read the top-level pdf of GET invoices/{{id}} "
        "asked with fields=pdf",
    ),
    "field.answer.xml": public(
        "xml",
        f"{_STREAMLIT} and {_MX_LIB} read the top-level xml (a URL) after fields=pdf,xml",
    ),
    "field.ref.id": public("id", f"{_BOTH} (a catalog entry: contact, item, tax)"),
    "field.answer.client_rfc": public("client.identification", _BOTH),
    "field.answer.rows": public("data", f"{_CLI}; alegra-python (metadata=true answers)"),
    "field.answer.total_rows": public("metadata.total", f"{_CLI}; alegra-python"),
    "field.company.name": public("name", _BOTH),
    "field.company.rfc": public("identification", _BOTH),
    "field.stamp.ids": official("ids", _STAMP_REF),
    "field.stamp.success": official("success", _STAMP_REF),
    "field.stamp.message": official("message", _STAMP_REF),
    "field.stamp.status": assumed("emissionStatus", f"one source: {_CLI} commands/emit.go"),
    "field.error.message": public("message", f"{_CLI} internal/api/errors.go; {_PHP}"),
    "field.error.code": public(
        "code",
        f"{_CLI} internal/api/errors.go; {_STREAMLIT} (errors come as {{message, code}})",
    ),
    "field.error.wrapper": public(
        "error",
        f"{_CLI} internal/api/errors.go; {_MX_ROUTE} reads error.code and error.message",
    ),
    # Corrected (the emulator kept nothing): a stamp refused at creation leaves the invoice as
    # a draft, and the refusal carries it beside the error.
    "field.error.draft": public(
        "invoice",
        f"{_MX_POS} reads error.message and invoice.status == 'draft' from the refusal; {_NEST} "
        "notes that a failed stamp leaves a draft and the 400 carries the created invoice",
    ),
    "field.cancel.motive": assumed("motive", _NOT_FOUND),
    "field.cancel.replacement": assumed("replacementUuid", _NOT_FOUND),
}

_VALUES: dict[str, Fact] = {
    "value.status.draft": public("draft", f"{_CLI} invoice list filter; pipedream (reference)"),
    "value.status.open": public("open", f"{_CLI} invoice list filter; pipedream (reference)"),
    "value.status.closed": public("closed", f"{_CLI} invoice list filter; pipedream (reference)"),
    "value.status.void": public("void", f"{_CLI} invoice list filter; pipedream (reference)"),
    "value.order.descending": official(
        "DESC", f"{_TEAM_ANOMALY} (order_direction=DESC); {_MC}/list-invoices.md"
    ),
    "value.files": public("pdf,xml", f"{_REF}; a public webhook handler (fields=pdf)"),
    "header.rate_limit": official("X-Rate-Limit-Limit", _RATE_REF),
    "header.rate_remaining": official("X-Rate-Limit-Remaining", _RATE_REF),
    "header.rate_reset": official("X-Rate-Limit-Reset", _RATE_REF),
    "limit.page_size": public(30, f"{_CLI} (--limit max 30); alegra-python"),
    "limit.stamp_batch": official(10, f"{_STAMP_REF}; {_CLI} commands/emit.go maxStampBatch"),
    "limit.requests_per_minute": official(150, _RATE_REF),
}

SPEC = VendorSpec(
    "alegra",
    {
        **_PATHS, **_QUERY, **_CONTACT, **_ITEM, **_UNITS, **_TAX, **_EMAIL, **_INVOICE,
        **_ANSWER, **_VALUES,
    },
    record=False,  # shared by all: providers and emulators record into their own copies
)
"""Alegra's API for Mexico: every path, field, header, limit and value, with its evidence."""


def legacy_key(key: str) -> str:
    """The :data:`SPEC` key for a key of the old ``ALEGRA_API`` table (``cancel.motive``)."""
    return key if key.startswith("path.") else f"field.{key}"


def with_legacy_keys(
    spec: Mapping[str, Any] | VendorSpec | None, api: Mapping[str, str] | None
) -> Mapping[str, Any] | VendorSpec | None:
    """``spec=`` with the deprecated ``api=`` (old ``ALEGRA_API`` keys) folded in under it.

    Warns (``DeprecationWarning``) when ``api`` is given; ``spec`` wins where both name a key.
    """
    if api is None:
        return spec
    warnings.warn(
        "AlegraProvider(api=...) is deprecated; pass spec= with the SPEC keys "
        "(e.g. 'cancel.motive' is now 'field.cancel.motive')",
        DeprecationWarning,
        stacklevel=3,
    )
    merged: dict[str, Any] = {legacy_key(key): value for key, value in api.items()}
    if isinstance(spec, VendorSpec):
        merged.update({key: fact.value for key, fact in spec.facts.items()})
    elif spec is not None:
        merged.update(spec)
    return merged
