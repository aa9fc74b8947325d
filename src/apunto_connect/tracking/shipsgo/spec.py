"""ShipsGo API v2 as this SDK understands it: one frozen :data:`SPEC`, each fact with its source.

Paths, headers, statuses and limits come from ShipsGo's v2 documentation and help pages (as
recorded in the research) and agree with independent public clients; the credit-balance path
and the 422 body shape are assumed. ``docs/vendors/evidence/shipsgo.md`` lists the sources.
Override entries per provider (``ShipsGoProvider(spec={"path.credits": "GET /balance"})``);
the emulator reads the same spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ...credentials import CredentialField
from ...models.tracking import TrackingStatus
from ...vendor_spec import VendorSpec, assumed, official, public

__all__ = [
    "BASE_URL",
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "LEGACY_KEYS",
    "MAX_FOLLOWERS",
    "MAX_PAGE_SIZE",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "NOT_ASSIGNED",
    "PROVIDER",
    "REFERENCE_LENGTH",
    "SIGNATURE_HEADER",
    "SPEC",
    "STATUS_MAP",
    "TOKEN_HEADER",
    "WEBHOOK_ID_HEADER",
    "WEBHOOK_NAME_HEADER",
]

PROVIDER = "shipsgo"
BASE_URL = "https://api.shipsgo.com/v2"
"""One host for production and testing (dazza maps "testing" to the same URL)."""

CREDENTIALS: tuple[CredentialField, ...] = (
    CredentialField("api_token", env_aliases=("SHIPSGO_API_TOKEN",)),
    CredentialField("webhook_secret", required=False),
)
"""``api_token`` (required) and ``webhook_secret`` (only to verify webhooks)."""

_DOCS = "https://docs.shipsgo.com (API v2), as recorded in research/logistics-storage.md §1"
_CLIENTS = "dazza-dev/shipsgo src/ShipsGo.php; bigl34 scripts/shipsgo-client.ts"
_HELP = "help.shipsgo.com 'Ocean Duplicate Shipments'"

STATUS_MAP: Mapping[str, TrackingStatus] = MappingProxyType(
    {
        "NEW": TrackingStatus.PENDING,
        "INPROGRESS": TrackingStatus.PENDING,
        "BOOKED": TrackingStatus.CREATED,
        "LOADED": TrackingStatus.ACTIVE,
        "SAILING": TrackingStatus.IN_TRANSIT,
        "ARRIVED": TrackingStatus.ARRIVED,
        "DISCHARGED": TrackingStatus.DISCHARGED,
        "UNTRACKED": TrackingStatus.UNTRACKED,
    }
)
"""ShipsGo shipment status → unified status (NEW/INPROGRESS: not yet matched with the line)."""

SPEC = VendorSpec(
    PROVIDER,
    {
        "path.create": official("POST /ocean/shipments", f"{_DOCS}; {_CLIENTS}"),
        "path.list": official("GET /ocean/shipments", f"{_DOCS}; dazza getShipments"),
        "path.get": official("GET /ocean/shipments/{shipment_id}", f"{_DOCS}; {_CLIENTS}"),
        "path.delete": official("DELETE /ocean/shipments/{shipment_id}", f"{_DOCS}; dazza"),
        "path.credits": assumed(
            "GET /credits",
            "no balance endpoint in dazza (every v2 method), bigl34 or the promantia README; "
            "the research found none; a 404 answers 'unknown'",
        ),
        "header.token": official("X-Shipsgo-User-Token", f"{_DOCS}; {_CLIENTS}"),
        "header.signature": public(
            "X-Shipsgo-Webhook-Signature", "third-party webhook receivers (hex HMAC-SHA256)"
        ),
        "header.webhook_id": public("X-Shipsgo-Webhook-Id", "third-party webhook receivers"),
        "header.webhook_name": public("X-Shipsgo-Webhook-Name", "third-party webhook receivers"),
        "limit.reference_length": official((5, 128), _DOCS),
        "limit.tags": official(10, _DOCS),
        "limit.tag_length": official(64, _DOCS),
        "limit.followers": official(10, _DOCS),
        "limit.page_size": public(100, f"{_DOCS}; dazza take/skip"),
        "value.not_assigned": official("NOT_ASSIGNED", _DOCS + ": container of a booking not yet known"),
        "value.statuses": official(STATUS_MAP, _DOCS + " (statuses); the mapping is ours"),
    },
    record=False,  # shared by all: providers and emulators record into their own copies
)
"""Every ShipsGo path (``"METHOD /path"``), header, limit and value the SDK uses."""

TOKEN_HEADER: str = SPEC.fact("header.token").value
SIGNATURE_HEADER: str = SPEC.fact("header.signature").value
WEBHOOK_ID_HEADER: str = SPEC.fact("header.webhook_id").value
WEBHOOK_NAME_HEADER: str = SPEC.fact("header.webhook_name").value
REFERENCE_LENGTH: tuple[int, int] = SPEC.fact("limit.reference_length").value
MAX_TAGS: int = SPEC.fact("limit.tags").value
MAX_TAG_LENGTH: int = SPEC.fact("limit.tag_length").value
MAX_FOLLOWERS: int = SPEC.fact("limit.followers").value
MAX_PAGE_SIZE: int = SPEC.fact("limit.page_size").value
NOT_ASSIGNED: str = SPEC.fact("value.not_assigned").value

LEGACY_KEYS: Mapping[str, str] = MappingProxyType(
    {name: f"path.{name}" for name in ("create", "list", "get", "delete", "credits")}
)
"""Keys of the old ``endpoints=`` table → keys of :data:`SPEC` (deprecated; one release)."""

DEFAULT_ENDPOINTS: Mapping[str, Any] = MappingProxyType(
    {old: SPEC.fact(new).value for old, new in LEGACY_KEYS.items()}
)
"""Deprecated: the paths of :data:`SPEC` under the old table's keys. Read ``SPEC``."""
