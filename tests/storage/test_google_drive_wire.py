"""Exact wire sequences with googleapiclient's HttpMockSequence, and the pure mappers."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence

from apunto_connect.credentials import Secret
from apunto_connect.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    ServerError,
    ValidationError,
)
from apunto_connect.storage.google_auth import MemoryTokenStore, RefreshTokenExpired, StoredToken
from apunto_connect.storage.google_drive import (
    CHUNK_QUANTUM,
    GoogleDriveStorage,
    StorageQuotaExceeded,
    app_properties_to_metadata,
    drive_file_to_stored,
    file_query,
    google_drive_error,
    media_upload_uri,
    metadata_to_app_properties,
    quote_query_value,
)

ROOT = "ROOTFOLDERID"
XML = b"<cfdi/>"
SHA = hashlib.sha256(XML).hexdigest()


def ok(payload, **headers):
    return ({"status": "200", **headers}, json.dumps(payload))


def drive_error(status, reason, message):
    body = {"error": {"code": status, "message": message,
                      "errors": [{"domain": "global", "reason": reason, "message": message}]}}
    return ({"status": str(status)}, json.dumps(body))


def file_json(file_id="FILE1", name="A.xml", data=XML, **extra):
    return {
        "id": file_id, "name": name, "mimeType": "application/xml", "parents": [ROOT],
        "size": str(len(data)), "createdTime": "2026-11-20T10:30:00.000Z",
        "appProperties": {"apunto_sha256": hashlib.sha256(data).hexdigest(), "apunto_uuid": "U"},
        "webViewLink": f"https://drive.google.com/file/d/{file_id}/view", **extra,
    }


def valid_credentials():
    from google.oauth2.credentials import Credentials

    return Credentials(token="access-token-for-tests")


def provider(responses, **kwargs):
    http = HttpMockSequence(list(responses))
    kwargs.setdefault("credentials", valid_credentials())
    kwargs.setdefault("sleep", kwargs.pop("sleeps", []).append)
    return GoogleDriveStorage(http=http, root_folder_id=ROOT, **kwargs), http


def query_of(uri):
    return {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}


def test_first_upload_searches_by_hash_then_by_name_then_sends_multipart():
    drive, http = provider([ok({"files": []}), ok({"files": []}), ok(file_json())])

    stored = drive.upload(XML, "A.xml", metadata={"uuid": "U"})

    (search_uri, m1, _, _), (name_uri, m2, _, _), (upload_uri, m3, body, headers) = http.request_sequence
    assert (m1, m2, m3) == ("GET", "GET", "POST")
    q = query_of(search_uri)["q"]
    assert q == (
        f"name = 'A.xml' and '{ROOT}' in parents and mimeType != 'application/vnd.google-apps.folder' "
        f"and appProperties has {{ key='apunto_sha256' and value='{SHA}' }} and trashed = false"
    )
    assert "appProperties" not in query_of(name_uri)["q"]
    assert upload_uri.startswith("https://www.googleapis.com/upload/drive/v3/files?")
    assert query_of(upload_uri)["uploadType"] == "multipart"
    assert headers["content-type"].startswith("multipart/related")
    assert b'"apunto_uuid": "U"' in body and f'"apunto_sha256": "{SHA}"'.encode() in body
    assert f'"parents": ["{ROOT}"]'.encode() in body
    assert stored.id == "FILE1" and stored.metadata == {"uuid": "U"} and stored.sha256 == SHA


def test_an_upload_that_finds_its_hash_sends_nothing_else():
    drive, http = provider([ok({"files": [file_json()]})])
    stored = drive.upload(XML, "A.xml", metadata={"uuid": "U"})
    assert stored.id == "FILE1"
    assert len(http.request_sequence) == 1


def test_resumable_upload_wire_sequence_and_content_ranges():
    data = b"x" * (CHUNK_QUANTUM + 10)
    location = "https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&upload_id=UP1"
    responses = [
        ok({"files": []}),
        ok({"files": []}),
        ({"status": "200", "location": location}, ""),
        ({"status": "308", "range": f"bytes=0-{CHUNK_QUANTUM - 1}"}, ""),
        ok(file_json(name="big.bin", data=data)),
    ]
    drive, http = provider(responses, chunk_size=CHUNK_QUANTUM, multipart_threshold=1024)
    progress = []

    drive.upload(data, "big.bin", progress=lambda sent, total: progress.append(sent))

    start, first, last = http.request_sequence[2:]
    assert start[1] == "POST" and query_of(start[0])["uploadType"] == "resumable"
    assert start[3]["X-Upload-Content-Length"] == str(len(data))
    assert first[:2] == (location, "PUT")
    assert first[3]["Content-Range"] == f"bytes 0-{CHUNK_QUANTUM - 1}/{len(data)}"
    assert last[3]["Content-Range"] == f"bytes {CHUNK_QUANTUM}-{len(data) - 1}/{len(data)}"
    assert progress == [CHUNK_QUANTUM, len(data)]


def test_rate_limit_then_success_is_one_retry_with_an_injected_sleep():
    sleeps = []
    drive, http = provider(
        [drive_error(403, "rateLimitExceeded", "Rate Limit Exceeded"), ok({"files": [file_json()]})],
        sleeps=sleeps,
    )
    drive.upload(XML, "A.xml", metadata={"uuid": "U"})
    assert len(http.request_sequence) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 2


def test_storage_quota_is_not_retried_and_keeps_googles_message():
    message = "The user's Drive storage quota has been exceeded."
    drive, http = provider([ok({"files": []}), ok({"files": []}),
                            drive_error(403, "storageQuotaExceeded", message)])
    with pytest.raises(StorageQuotaExceeded) as info:
        drive.upload(XML, "A.xml")
    assert info.value.message == message
    assert len(http.request_sequence) == 3


def test_a_401_that_cannot_be_refreshed_is_an_authentication_error():
    unauthorized = drive_error(401, "authError", "Request had invalid authentication credentials.")
    drive, _ = provider([unauthorized])
    with pytest.raises(AuthenticationError):
        drive.stat("FILE1")


def test_a_404_is_not_found_with_the_message_verbatim():
    drive, _ = provider([drive_error(404, "notFound", "File not found: NOPE.")])
    with pytest.raises(NotFound) as info:
        drive.download("NOPE")
    assert info.value.message == "File not found: NOPE."
    assert info.value.vendor_code == "notFound"


def test_refresh_goes_to_the_token_endpoint_and_a_rotated_refresh_token_is_stored():
    store = MemoryTokenStore()
    token_answer = {"access_token": "new-access", "expires_in": 3599, "refresh_token": "rotated-refresh",
                    "scope": "https://www.googleapis.com/auth/drive.file", "token_type": "Bearer"}
    about = {"user": {"emailAddress": "a@example.com", "displayName": "A"}}
    drive, http = provider(
        [ok(token_answer), ok(about)], credentials=None, client_id="cid", client_secret="csecret",
        refresh_token="first-refresh", token_store=store,
    )
    store.save(StoredToken(refresh_token=Secret("first-refresh"), client_id="cid"))

    status = drive.status()

    token_uri, method, body, _ = http.request_sequence[0]
    assert (token_uri, method) == ("https://oauth2.googleapis.com/token", "POST")
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["first-refresh"]
    assert http.request_sequence[1][3]["authorization"] == "Bearer new-access"
    assert status.connected and status.account == "a@example.com"
    saved = store.load()
    assert saved.refresh_token.reveal() == "rotated-refresh"
    assert saved.account == "a@example.com"


def test_an_expired_testing_refresh_token_is_reported_with_the_publishing_hint():
    invalid = ({"status": "400"}, json.dumps(
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))
    drive, _ = provider([invalid, invalid], credentials=None, client_id="cid", client_secret="s",
                        refresh_token="old")
    status = drive.status()
    assert not status.connected and status.error_code == "invalid_grant"
    with pytest.raises(RefreshTokenExpired) as info:
        drive.stat("FILE1")
    assert info.value.message == "Token has been expired or revoked."
    assert "publish the app" in str(info.value)


# -- pure mappers -----------------------------------------------------------------------------


def test_query_values_escape_quotes_and_backslashes():
    assert quote_query_value("it's") == "'it\\'s'"
    assert quote_query_value("a\\b") == "'a\\\\b'"


def test_file_query_builds_folder_and_property_terms():
    assert file_query(name="x", parent="P", folder=True) == (
        "name = 'x' and 'P' in parents and mimeType = 'application/vnd.google-apps.folder' "
        "and trashed = false"
    )
    assert file_query(app_properties={"k": "v"}) == "appProperties has { key='k' and value='v' } and trashed = false"


def test_metadata_becomes_prefixed_app_properties_and_back():
    properties = metadata_to_app_properties({"uuid": "U", "issuer_rfc": "EKU9003173C9"}, SHA)
    assert properties == {"apunto_sha256": SHA, "apunto_uuid": "U", "apunto_issuer_rfc": "EKU9003173C9"}
    assert app_properties_to_metadata(properties) == {"uuid": "U", "issuer_rfc": "EKU9003173C9"}


def test_metadata_limits_are_checked_before_sending():
    with pytest.raises(ValidationError) as info:
        metadata_to_app_properties({"sha256": "x", "long": "y" * 200}, SHA)
    assert [i.code for i in info.value.issues] == ["APUNTO-STORAGE-520", "APUNTO-STORAGE-521"]
    with pytest.raises(ValidationError) as too_many:
        metadata_to_app_properties({f"k{i}": "v" for i in range(30)}, SHA)
    assert too_many.value.issues[0].code == "APUNTO-STORAGE-522"
    assert metadata_to_app_properties({"long": "y" * 200}, SHA, {"property_bytes": 500, "app_properties": 30})


def test_drive_file_maps_to_stored_file():
    stored = drive_file_to_stored(file_json(), "CFDI/X")
    assert stored.folder == "CFDI/X" and stored.size == len(XML) and stored.sha256 == SHA
    assert stored.created_at.year == 2026 and stored.url.endswith("/view")


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (401, "authError", AuthenticationError),
        (403, "storageQuotaExceeded", StorageQuotaExceeded),
        (403, "rateLimitExceeded", RateLimited),
        (403, "insufficientPermissions", PermissionDenied),
        (404, "notFound", NotFound),
        (409, "conflict", Conflict),
        (429, "rateLimitExceeded", RateLimited),
        (500, "backendError", ServerError),
        (400, "invalid", ProviderError),
    ],
)
def test_drive_errors_map_to_the_error_tree(status, reason, expected):
    error = google_drive_error(status, drive_error(status, reason, "Google says no")[1].encode())
    assert type(error) is expected
    assert error.message == "Google says no" and error.vendor_code == reason


def test_non_json_errors_keep_the_text():
    error = google_drive_error(502, b"<html>Bad Gateway</html>")
    assert isinstance(error, ServerError) and "Bad Gateway" in error.message


def test_upload_urls_follow_an_overridden_endpoint():
    built = "https://127.0.0.1:8080/upload/drive/v3/files?alt=json&uploadType=multipart"
    endpoint = "http://127.0.0.1:8080/google_drive/drive/v3/"
    assert media_upload_uri(built, endpoint) == (
        "http://127.0.0.1:8080/google_drive/upload/drive/v3/files?alt=json&uploadType=multipart"
    )
    assert media_upload_uri(built, None) == built
    other = "https://www.googleapis.com/upload/drive/v3/files?uploadType=media"
    assert media_upload_uri(other, endpoint) == other


def test_a_shared_drive_id_scopes_searches_to_that_drive():
    drive, http = provider([ok({"files": []})], drive_id="SHARED1")
    assert list(drive.list()) == []
    query = query_of(http.request_sequence[0][0])
    assert (query["corpora"], query["driveId"]) == ("drive", "SHARED1")
    assert query["supportsAllDrives"] == "true" and query["includeItemsFromAllDrives"] == "true"


# -- retries under the house policy -----------------------------------------------------------


def test_retries_follow_the_house_policy_backoff_and_stop_after_max_retries():
    sleeps = []
    busy = drive_error(503, "backendError", "Backend Error")
    drive, http = provider([busy, busy, busy], sleeps=sleeps, max_retries=2, rand=lambda: 0.0)
    with pytest.raises(ServerError) as info:
        drive.stat("FILE1")
    assert info.value.message == "Backend Error"
    assert len(http.request_sequence) == 3
    assert sleeps == [0.5, 1.0]  # RetryPolicy: initial_backoff doubling, no jitter drawn


def test_a_403_that_is_not_a_rate_limit_is_never_retried():
    sleeps = []
    drive, http = provider([drive_error(403, "insufficientFilePermissions", "No access.")],
                           sleeps=sleeps)
    with pytest.raises(PermissionDenied):
        drive.stat("FILE1")
    assert len(http.request_sequence) == 1 and sleeps == []


def test_the_old_num_retries_keyword_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="max_retries"):
        drive, _ = provider([], num_retries=1)
    assert drive.max_retries == 1


def test_unknown_spec_keys_are_refused():
    with pytest.raises(ConfigurationError, match=r"limit\.property_byte"):
        provider([], spec={"limit.property_byte": 10})


def test_spec_overrides_the_limits_checked_before_sending():
    drive, _ = provider([], spec={"limit.max_page_size": 500})
    assert drive.limits["max_page_size"] == 500
    assert drive.spec["limit.max_page_size"] == 500
    with pytest.raises(ValidationError) as refused:
        provider([], spec={"limit.max_page_size": 500}, page_size=800)
    assert refused.value.issues[0].field == "page_size"


def test_limits_is_the_former_spelling_of_spec():
    with pytest.warns(DeprecationWarning, match="spec="):
        drive, _ = provider([], limits={"property_bytes": 60})
    assert drive.limits["property_bytes"] == 60
    assert drive.spec["limit.property_bytes"] == 60
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigurationError, match="property_byte"):
        provider([], limits={"property_byte": 10})
