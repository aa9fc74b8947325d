"""SAT helpers: RFC, legal names, product fields, CFDI 4.0 catalogs, pre-flight rules, containers.

Everything here is offline and light to import (no lxml, keyring or vendor code)::

    from apunto_connect import sat

    sat.validate_rfc("EKU9003173C9").valid        # True
    sat.normalize_legal_name("Acme, S.A. de C.V.")  # 'ACME'
    sat.preflight(invoice)                         # [Issue(...), ...]
    sat.check(invoice)                             # raises ValidationError listing every error
    sat.catalogs.product("78101800").description   # 'Transporte de carga por carretera'
    sat.status(uuid, issuer_rfc, receiver_rfc, total).state   # 'Vigente' (asks the SAT)
    sat.exchange_rate("USD", date(2026, 11, 30))   # Banxico FIX (needs a Banxico token)
"""

from __future__ import annotations

from . import catalogs
from .cfdi_status import CfdiStatus, SatStatusClient, StatusQuery, status, status_many
from .containers import ContainerCheck, container_check_digit, validate_container_number
from .exchange import ExchangeRates, exchange_rate
from .names import legal_name_warnings, normalize_legal_name, split_capital_regime
from .products import (
    COMMON_UNITS,
    validate_description,
    validate_product_code,
    validate_product_name,
    validate_unit_code,
)
from .rfc import (
    GENERIC_FOREIGN_RFC,
    GENERIC_NATIONAL_RFC,
    RfcCheck,
    RfcKind,
    check_digit,
    is_valid_rfc,
    normalize_rfc,
    validate_rfc,
)
from .rules import DATE_WINDOW, PUBLIC_NAME, check, preflight, validate_cancellation

__all__ = [
    "COMMON_UNITS",
    "DATE_WINDOW",
    "GENERIC_FOREIGN_RFC",
    "GENERIC_NATIONAL_RFC",
    "PUBLIC_NAME",
    "CfdiStatus",
    "ContainerCheck",
    "ExchangeRates",
    "RfcCheck",
    "RfcKind",
    "SatStatusClient",
    "StatusQuery",
    "catalogs",
    "check",
    "check_digit",
    "container_check_digit",
    "exchange_rate",
    "is_valid_rfc",
    "legal_name_warnings",
    "normalize_legal_name",
    "normalize_rfc",
    "preflight",
    "split_capital_regime",
    "status",
    "status_many",
    "validate_cancellation",
    "validate_container_number",
    "validate_description",
    "validate_product_code",
    "validate_product_name",
    "validate_rfc",
    "validate_unit_code",
]
