"""Google Drive facts this SDK relies on beyond the client library: limits and refusal texts.

Drive's paths, query syntax and errors come from Google's client library and documentation, so
only the numbers the provider checks before sending and the texts the emulator answers with are
recorded here, each with its evidence (``docs/vendors/evidence/google_drive.md``). The provider
and the emulator read them from their own copy (``GoogleDriveStorage(spec={...})`` and the
emulator's ``spec=`` override them, unknown keys refused); the default numbers are
:data:`~.mapping.LIMITS`.
"""

from __future__ import annotations

from ...vendor_spec import VendorSpec, assumed, official, public
from .mapping import LIMITS

__all__ = ["SPEC"]

_GUIDE = "https://developers.google.com/drive/api/guides/properties (limits)"
_V2 = "Drive v2 Property resource in Google's discovery document (google-drive2 crate docs)"
_TEXTS_SEARCHED = (
    "searched the properties guide, the 'Handle errors' guide and the research notes: Google "
    "documents the limits but not the message of the error when one is exceeded"
)
# Two unrelated projects quote the answer Drive gave them for a property over 124 bytes.
_PROPERTY_REFUSAL_SEEN = (
    "RichardX366/Obsidian-Google-Drive issue #34 (403, reason propertyLengthLimitExceeded, "
    "this message); naturalcrit/homebrewery issue #1250 (the same message from the Node client)"
)

SPEC = VendorSpec(
    "google_drive",
    {
        "limit.property_bytes": official(
            LIMITS["property_bytes"], f"{_GUIDE}: 124 bytes for key + value (UTF-8); {_V2}"
        ),
        "limit.app_properties": official(
            LIMITS["app_properties"], f"{_GUIDE}: 30 private properties per app per file; {_V2}"
        ),
        "limit.max_page_size": official(
            LIMITS["max_page_size"],
            "Drive v3 discovery document (google-api-python-client drive.v3.json), files.list "
            "pageSize: maximum 1000",
        ),
        # Corrected: the emulator answered 400 invalidProperty with wording of its own.
        "value.property_refusal_text": public(
            "Properties and app properties are limited to 124 bytes in UTF-8 encoding, counting "
            "both the key and the value.",
            _PROPERTY_REFUSAL_SEEN,
        ),
        "value.property_refusal_status": public(403, _PROPERTY_REFUSAL_SEEN),
        "value.property_refusal_reason": public(
            "propertyLengthLimitExceeded", _PROPERTY_REFUSAL_SEEN
        ),
        "value.chunk_refusal_text": assumed(
            "Invalid request. The number of bytes uploaded is required to be a multiple of "
            "{quantum} bytes, except for the final request. The received request contained "
            "{size} bytes.",
            f"{_TEXTS_SEARCHED} (the emulator's wording; {{quantum}} and {{size}} are filled in)",
        ),
    },
    record=False,  # shared by the process; providers and emulators record on their copies
)
"""Google Drive's limits and the emulator's refusal texts, with their evidence."""
