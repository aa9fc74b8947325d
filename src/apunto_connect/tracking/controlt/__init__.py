"""ControlT: GPS route monitoring of land trips (Colombia-based, used by Mexican carriers).

A land service is registered at ControlT as a *travel*; the registration is asynchronous
(``PENDING`` until ControlT answers, then ``CREATED`` with a Travel ID). The trip is then
assigned a carrier, a vehicle (plate, optional trailer, fleet type: own / linked / third party)
and a driver, activated (monitoring starts; who and when are recorded) and finally closed.

Credentials (what ControlT hands out): API username, CompanyCode and API key (the key is the
account's access password). Resolved from arguments, ``APUNTO_CONTROLT_USERNAME`` /
``_COMPANY_CODE`` / ``_API_KEY`` or the keyring.

Auth: ``POST /login/oauth`` with form fields ``username`` and ``password`` returns an
``access_token`` with ``expires_in``; every other call sends ``Authorization: Bearer``. The
token is cached until shortly before it expires, refreshed once when the server answers 401
(or a body ``Message`` saying access was *denied*), and shared safely between threads.

**What is public and what is assumed.** ControlT publishes no documentation of its write API.
Third-party clients show only the read side of ``https://app.controlt.com.co/apipublic/api``
(login, ``GET /Travel/{id}``, ``GET /Resume``, ``GET /Travel/search`` and the travel fields).
Everything else — the create, registration status, assign, activate and close paths, their
field names, the CompanyCode field, the fleet-type values, the Bogotá (UTC-5) timestamps and
the 409 answers — is modelled on those read-side names and on the closest public analogue
(UNIGIS MAPI). Every such path and name is a fact of :data:`SPEC` (``spec.py``) with its
evidence; override entries with ``ControlTProvider(spec={"path.create": "POST /Viaje"})`` once
you have ControlT's integration PDF. The offline emulator reads the same spec.

Lifecycle (checked before any write is sent; the vendor's own 409 maps to the same error):

    PENDING → CREATED → ASSIGNED → ACTIVE (→ IN_TRANSIT → ARRIVED) → CLOSED
    assign: from CREATED or ASSIGNED (re-assigning before activation is allowed)
    activate: from ASSIGNED · close: from ACTIVE, IN_TRANSIT or ARRIVED

A wrong step raises :class:`~apunto_connect.tracking.base.InvalidTransition` (a
:class:`~apunto_connect.errors.Conflict`) naming the current status; bad vehicle, driver or
shipment data raises :class:`~apunto_connect.errors.ValidationError` naming field and rule.

The tracking id this provider hands out is your trip reference (``trip_number``): it is known
before the call (so an ambiguous create can be retried: ControlT refuses a duplicate trip number
with 409, treated as success) and stays valid while the registration is pending. The Travel ID
is in ``Tracking.travel_id`` once created.

Files: ``spec.py`` (the facts), ``mapping.py`` (validation and pure mappers), ``errors.py``
(the error mapper), ``provider.py`` (:class:`ControlTProvider`).
"""

from . import mapping
from .errors import controlt_error
from .mapping import *  # noqa: F403  (the names of mapping.__all__)
from .provider import TOKEN_SKEW as TOKEN_SKEW
from .provider import ControlTProvider
from .spec import BASE_URL, CREDENTIALS, DEFAULT_ENDPOINTS, SPEC, STATE_MAP
from .spec import PROVIDER as PROVIDER

MAX_REFERENCE: int = SPEC.fact("limit.reference_length").value
"""Deprecated: the longest trip reference; read ``SPEC[\"limit.reference_length\"]``."""

__all__ = [
    "BASE_URL",
    "CREDENTIALS",
    "DEFAULT_ENDPOINTS",
    "SPEC",
    "STATE_MAP",
    "ControlTProvider",
    "controlt_error",
    *mapping.__all__,
]
