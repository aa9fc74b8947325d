"""Google Drive storage: archive CFDI XML and PDF files in the user's own Drive.

What it is: the Drive API v3 through Google's own google-api-python-client and google-auth
(``pip install apunto-connect[drive]``), imported only when a Drive call is made — importing
this module costs nothing.

* Base URLs: ``https://www.googleapis.com/drive/v3`` (metadata), ``…/upload/drive/v3``
  (content), ``https://oauth2.googleapis.com`` (``/token``, ``/revoke``).
* Auth: OAuth 2.0 for a user, scope ``drive.file`` only (the app sees the files and folders it
  created); sign-in, token stores and revocation live in :mod:`.google_auth`. A service
  account (``credentials=``) works too, but only inside a Shared Drive: service accounts have no
  Drive storage of their own (``403 storageQuotaExceeded``).
* Layout: everything lives under one app folder (``apunto-connect`` in My Drive, or
  ``root_folder_id=`` of a folder in a Shared Drive); ``folder="CFDI/RFC/2026/11"`` creates the
  path on demand. Folder ids are cached (thread-safely); a restarted process finds them again
  by name, parent and folder MIME type.
* Idempotency: every file carries ``appProperties`` with our SHA-256 of the content
  (``apunto_sha256``) and the caller's metadata (``apunto_uuid``, ``apunto_issuer_rfc``...). An
  upload first searches ``appProperties has { key='apunto_sha256' and value='…' }`` with the
  same name and parent; a hit is returned instead of uploading again. A file with the same name
  but other content gets the new content as a new revision (same file id), like
  :class:`~apunto_connect.storage.local.LocalStorage` replaces it. A connection dropped after a
  create was sent is followed by a search before anything is sent again.
* Uploads: multipart up to ``multipart_threshold`` bytes, resumable above it in chunks of
  ``chunk_size`` (a multiple of 256 KiB, as the upload protocol requires) with a progress
  callback; downloads are chunked with ``Range`` requests.
* Retries: the house :class:`~apunto_connect.http.RetryPolicy` (``max_retries=``), run by
  tenacity in :mod:`.retries` — the client library is asked for no retries of its own and none
  of its private attributes is touched; 429, 5xx and 403 ``rateLimitExceeded`` /
  ``userRateLimitExceeded`` are repeated with exponential back-off; ``sleep=`` replaces the wait.
* Threads: httplib2 is not thread-safe, so each thread gets its own authorized HTTP client and
  service object; the credentials are shared and refreshed under a lock.
* Transports: ``session=`` (a :class:`requests.Session`) sends everything through an
  httplib2-compatible shim over that session — that is how :class:`apunto_connect.Sandbox`
  wires the real Google client to the offline emulator; ``client_options={"api_endpoint": …}``
  points the client elsewhere over real HTTP (e.g. ``sb.serve()``). google-api-python-client
  builds upload URLs from the discovery document's ``rootUrl`` and only swaps the host when the
  endpoint is overridden (it keeps ``https`` and drops any path prefix), so this provider
  rewrites upload URLs onto the overridden endpoint — see :func:`media_upload_uri`.

Public vs assumed: paths, query syntax, error reasons, retry rules, the 256 KiB chunk rule and
scopes are from Google's documentation and the client library's source. The limits checked
before sending (124 bytes per key+value, 30 app properties per file, 1000 files per page: Google's
documented values, defaults in :data:`LIMITS`) are facts of the storage ``SPEC``, overridable like
every vendor's (``GoogleDriveStorage(spec={"limit.property_bytes": ...})``, unknown keys refused);
the emulator takes the same ``spec=``.

Sources: Drive API v3 reference and guides (files, search query terms, custom file
properties, manage uploads, handle errors, shared drives), google-api-python-client and
google-auth source, Google Cloud console help on OAuth consent screen publishing status.

Files: ``mapping.py`` (constants, limits, queries, properties, errors), ``retries.py`` (the
retry rule), ``client.py`` (credentials, service objects, executing a request), ``folders.py``
(searches and folder paths), ``provider.py`` (:class:`GoogleDriveStorage`).
"""

# Names the single module used to expose from google_auth, still importable from here.
from ..google_auth import DEFAULT_SCOPES as DEFAULT_SCOPES
from ..google_auth import GOOGLE_OAUTH_ENDPOINTS as GOOGLE_OAUTH_ENDPOINTS
from ..google_auth import ClientConfig as ClientConfig
from ..google_auth import MemoryTokenStore as MemoryTokenStore
from ..google_auth import PendingLogin as PendingLogin
from ..google_auth import StoredToken as StoredToken
from ..google_auth import TokenGrant as TokenGrant
from ..google_auth import TokenStore as TokenStore
from ..google_auth import default_token_store as default_token_store
from . import mapping
from .mapping import *  # noqa: F403  (the names of mapping.__all__)
from .mapping import QUOTA_HINT as QUOTA_HINT
from .mapping import SERVICE_PATH as SERVICE_PATH
from .provider import GoogleDriveStorage
from .retries import RATE_LIMIT_REASONS

# Importable from here, but not part of the package's own list: helpers and constants the
# provider's modules share among themselves.
_MAPPING_ONLY = frozenset({"LIST_FIELDS", "PROVIDER", "check_name", "folder_segments", "opened"})

__all__ = [
    *(name for name in mapping.__all__ if name not in _MAPPING_ONLY),
    "GoogleDriveStorage",
    "RATE_LIMIT_REASONS",
]
