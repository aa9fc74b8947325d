"""Enlace Fiscal (API v6): CFDI 4.0 stamping through one POST endpoint per action.

Enlace Fiscal is a Mexican PAC/invoicing service. Its JSON API v6 lives at
``https://api.enlacefiscal.com/v6/{accion}``: **every call is a POST** and the action name is the
path (``probarConexion``, ``obtenerSaldo``, ``generarCfdi``, ``informacionCfdi``,
``listarComprobantes``, ``cancelarCfdi``, ``enviarCorreo``).

* **Auth**: HTTP Basic ``Usuario:Token`` (the Usuario is normally the issuer's RFC) **plus** an
  ``x-api-key`` header. All three come from the portal's *API → Clave de Autorización* screen and
  are whitespace-sensitive (surrounding spaces are stripped, with a warning).
* **Environment**: there is no test host. The body field ``modo`` is ``"debug"`` (tests) or
  ``"produccion"``; ``environment="sandbox"`` here means ``modo="debug"``. Debug and production
  use *different* Token/x-api-key pairs.
* **Serie**: documents are issued in a serie registered in the portal (*Mi Cuenta → Datos
  Fiscales → Series Comerciales*) with "uso mediante API"; its name must match exactly.
* **Documents are identified by serie + folio**, not by UUID. This module's ``ref`` is
  ``"SERIE-FOLIO"`` (split at the last ``-``, so a serie may contain dashes but a folio may
  not); :func:`make_ref` and :func:`parse_ref` convert.
* **Envelopes**: ``generarCfdi`` takes ``{"CFDi": {...}}``; every other action takes
  ``{"Solicitud": {"rfc", "modo", "accion", ...}}``. Answers come as ``{"AckEnlaceFiscal": {...}}``.
  **An HTTP 200 whose ``estatusDocumento`` is not ``"aceptado"`` is a failure**: its
  ``mensajeError.codigoError``/``descripcionError`` are raised verbatim (code ``800`` = bad
  user/token → :class:`~apunto_connect.errors.AuthenticationError`; a ``CFDI40xxx`` rule in the
  text → :class:`~apunto_connect.errors.StampRejected` with ``sat_code``).
* **Amounts** are sent as strings with the currency's decimals and the SDK computes every line
  and document total itself; ``fechaEmision`` is Mexico City local time (``YYYY-MM-DD HH:MM:SS``).
* **Files**: the XML comes inline (``xmlCFDi``) and as a URL; the PDF URL is handed out at once
  but the file is generated asynchronously, so :meth:`EnlaceFiscalProvider.download` polls it
  with a bounded wait (``file_wait``, ``file_poll_interval``, injectable ``sleep``). Download links are fetched without credentials.
* **Retries**: read-only actions are marked idempotent (retried on 5xx and dropped
  connections); ``generarCfdi``, ``cancelarCfdi`` and ``enviarCorreo`` never are. After an
  ambiguous ``generarCfdi`` failure the document is looked up by serie+folio before anything is
  sent again, so an invoice is never stamped twice.

What is public and what is assumed
----------------------------------
No official documentation was found. The base URL, auth, actions, request envelopes, the
``CFDi`` field names, the success ack fields, the ``mensajeError`` shape, code 800 and the async
PDF come from third-party integrations (2017–2026). **Assumed** (kept in :data:`SPEC`, which
you override per provider with ``spec=``, and followed by the sandbox emulator): the key of
the rows of ``listarComprobantes`` and their fields, the cancellation status/receipt keys of
``cancelarCfdi``, the ``estadoCFDi`` values, the field names of related CFDIs, global
information and foreign receivers, and every error code other than ``800``. A 403
``{"message": "Forbidden"}`` (the usual gateway answer to a wrong ``x-api-key``) is read as an
authentication failure.

Sources: the Apunto + Enlace Fiscal help page (credentials, serie), third-party v6 clients in
PHP and JavaScript, ``fernandez14/go-enlacefiscal`` (code 800) and
``bscheiman/EnlaceFiscal`` (SOAP era). See ``docs/vendors/enlace_fiscal.md``.

The package: ``spec.py`` (:data:`SPEC`), ``mapping.py`` (pure model <-> wire functions),
``errors.py`` (the error mapper), ``provider.py`` (:class:`EnlaceFiscalProvider`).
"""

from . import mapping
from .errors import ERROR_CODES, ERROR_KINDS, enlace_fiscal_error, error_codes
from .mapping import *  # noqa: F403  (the pure functions: mapping.__all__)
from .provider import CREDENTIALS, EnlaceFiscalProvider
from .spec import API, BASE_URL, LEGACY_API_KEYS, NAME, SPEC, resolve_spec

CANCEL_STATUSES = SPEC.fact("value.cancel_statuses").value
"""Read-only: cancellation status values (lower case) -> status (``value.cancel_statuses``)."""

DOCUMENT_STATUSES = SPEC.fact("value.document_statuses").value
"""Read-only: ``estadoCFDi`` values (lower case) -> status (``value.document_statuses``)."""

__all__ = [
    "API",
    "BASE_URL",
    "CANCEL_STATUSES",
    "CREDENTIALS",
    "DOCUMENT_STATUSES",
    "ERROR_CODES",
    "ERROR_KINDS",
    "LEGACY_API_KEYS",
    "NAME",
    "SPEC",
    "EnlaceFiscalProvider",
    "enlace_fiscal_error",
    "error_codes",
    "resolve_spec",
    *mapping.__all__,
]
