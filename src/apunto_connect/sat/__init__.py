"""SAT helpers: RFC, legal names, product fields, CFDI 4.0 catalogs, pre-flight rules, containers.

Everything here is offline and light to import (no lxml, keyring or vendor code)::

    from apunto_connect import sat

    sat.validate_rfc("EKU9003173C9").valid        # True
    sat.normalize_legal_name("Acme, S.A. de C.V.")  # 'ACME'
    sat.preflight(invoice)                         # [Issue(...), ...]
    sat.check(invoice)                             # raises ValidationError listing every error
"""

from __future__ import annotations

from . import catalogs
from .containers import ContainerCheck, container_check_digit, validate_container_number
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
from .rules import PUBLIC_NAME, check, preflight, validate_cancellation

__all__ = [
    "COMMON_UNITS",
    "GENERIC_FOREIGN_RFC",
    "GENERIC_NATIONAL_RFC",
    "PUBLIC_NAME",
    "ContainerCheck",
    "RfcCheck",
    "RfcKind",
    "catalogs",
    "check",
    "check_digit",
    "container_check_digit",
    "is_valid_rfc",
    "legal_name_warnings",
    "normalize_legal_name",
    "normalize_rfc",
    "preflight",
    "split_capital_regime",
    "validate_cancellation",
    "validate_container_number",
    "validate_description",
    "validate_product_code",
    "validate_product_name",
    "validate_rfc",
    "validate_unit_code",
]
