"""The Drive emulator on the wire: Google's shapes, the query language subset, uploads, OAuth."""

from __future__ import annotations

import base64
import hashlib
import json
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from apunto_connect.sandbox import Sandbox
from apunto_connect.sandbox.adapter import SandboxAdapter
from apunto_connect.sandbox.google_drive import GoogleDriveEmulator, apply_fields, parse_fields

API = "https://www.googleapis.com"
OAUTH = "https://oauth2.googleapis.com"
QUANTUM = 256 * 1024


@pytest.fixture
def sb():
    with Sandbox(vendors=["google_drive"], seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def emu(sb):
    return sb.emulator("google_drive")


def access_token(sb, emu, refresh=None, client=None):
    creds = client or emu.demo_credentials
    answer = sb.session.post(f"{OAUTH}/token", data={
        "grant_type": "refresh_token", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "refresh_token": refresh or emu.demo_credentials["refresh_token"],
    })
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def auth(sb, emu):
    return {"Authorization": f"Bearer {access_token(sb, emu)}"}


def create(sb, auth, **metadata):
    answer = sb.session.post(f"{API}/drive/v3/files", json=metadata, headers=auth,
                             params={"fields": "id,name,parents,appProperties"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def listing(sb, auth, q, **params):
    return sb.session.get(f"{API}/drive/v3/files", params={"q": q, **params}, headers=auth)


def test_drive_calls_without_or_with_a_bad_token_get_googles_401(sb):
    missing = sb.session.get(f"{API}/drive/v3/files")
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert error["status"] == "UNAUTHENTICATED" and error["errors"][0]["reason"] == "required"
    bad = sb.session.get(f"{API}/drive/v3/files", headers={"Authorization": "Bearer nope"})
    assert bad.json()["error"]["errors"][0]["reason"] == "authError"


def test_access_tokens_expire_on_the_sandbox_clock(sb, auth):
    assert sb.session.get(f"{API}/drive/v3/about", params={"fields": "user"}, headers=auth).ok
    sb.clock.advance(3600)
    assert sb.session.get(f"{API}/drive/v3/about", params={"fields": "user"}, headers=auth).status_code == 401


def test_about_requires_fields_and_reports_user_and_quota(sb, emu, auth):
    assert sb.session.get(f"{API}/drive/v3/about", headers=auth).status_code == 400
    about = sb.session.get(f"{API}/drive/v3/about", headers=auth,
                           params={"fields": "user(emailAddress),storageQuota"}).json()
    assert about["user"] == {"emailAddress": emu.demo_account}
    assert about["storageQuota"]["limit"] == str(15 * 1024**3)


def test_queries_filter_by_name_parent_type_trash_and_app_properties(sb, auth):
    folder = create(sb, auth, name="It's here", mimeType="application/vnd.google-apps.folder")
    a = create(sb, auth, name="a.xml", parents=[folder["id"]], appProperties={"apunto_sha256": "h1"})
    create(sb, auth, name="b.xml", parents=[folder["id"]], appProperties={"apunto_sha256": "h2"})

    def names(q):
        answer = listing(sb, auth, q, fields="files(name)")
        assert answer.status_code == 200, (q, answer.text)
        return sorted(f["name"] for f in answer.json()["files"])

    assert names("name = 'It\\'s here' and 'root' in parents") == ["It's here"]
    assert names(f"'{folder['id']}' in parents and trashed = false") == ["a.xml", "b.xml"]
    assert names("appProperties has { key='apunto_sha256' and value='h1' }") == [a["name"]]
    assert names("mimeType != 'application/vnd.google-apps.folder' and not name = 'a.xml'") == ["b.xml"]
    assert names("(name = 'a.xml' or name = 'b.xml') and name contains 'b'") == ["b.xml"]
    assert names("createdTime > '2000-01-01T00:00:00Z' and name = 'a.xml'") == ["a.xml"]


@pytest.mark.parametrize(
    "q",
    [
        "appProperties has { key='apunto_sha256' }",  # key without value: Drive refuses it
        "owner = 'me'",
        "name = 'unterminated",
        "name == 'x'",
    ],
)
def test_queries_outside_the_language_are_invalid_values(sb, auth, q):
    answer = listing(sb, auth, q)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "Invalid Value" and error["errors"][0]["location"] == "q"


def test_list_pages_with_tokens_and_default_fields(sb, auth):
    for i in range(5):
        create(sb, auth, name=f"f{i}")
    first = listing(sb, auth, "trashed = false", pageSize=2).json()
    assert first["kind"] == "drive#fileList" and len(first["files"]) == 2
    assert set(first["files"][0]) == {"kind", "id", "name", "mimeType"}
    seen = [f["name"] for f in first["files"]]
    token = first["nextPageToken"]
    for _ in range(5):
        page = listing(sb, auth, "trashed = false", pageSize=2, pageToken=token).json()
        seen += [f["name"] for f in page["files"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == [f"f{i}" for i in range(5)]


def test_multipart_upload_stores_metadata_and_content(sb, emu, auth):
    boundary = "===============1234=="
    body = (
        f"--{boundary}\nContent-Type: application/json\n\n"
        '{"name": "a.xml", "appProperties": {"k": "v"}}\n'
        f"--{boundary}\nContent-Type: application/xml\nContent-Transfer-Encoding: binary\n\n"
        "<cfdi>\r\n</cfdi>\n"
        f"--{boundary}--\n"
    ).encode()
    answer = sb.session.post(
        f"{API}/upload/drive/v3/files", params={"uploadType": "multipart", "fields": "*"}, data=body,
        headers={**auth, "Content-Type": f'multipart/related; boundary="{boundary}"'},
    )
    assert answer.status_code == 200, answer.text
    file = answer.json()
    assert file["appProperties"] == {"k": "v"} and file["mimeType"] == "application/xml"
    assert emu.files[file["id"]].content == b"<cfdi>\r\n</cfdi>"
    assert file["sha256Checksum"] == hashlib.sha256(b"<cfdi>\r\n</cfdi>").hexdigest()
    media = sb.session.get(f"{API}/drive/v3/files/{file['id']}", params={"alt": "media"}, headers=auth)
    assert media.content == b"<cfdi>\r\n</cfdi>"
    ranged = sb.session.get(f"{API}/drive/v3/files/{file['id']}", params={"alt": "media"},
                            headers={**auth, "Range": "bytes=1-4"})
    assert ranged.status_code == 206 and ranged.content == b"cfdi"
    assert ranged.headers["Content-Range"] == "bytes 1-4/15"


def test_resumable_upload_answers_308_with_range_and_refuses_odd_chunks(sb, emu, auth):
    data = bytes(range(256)) * (QUANTUM // 256) * 2 + b"tail"
    start = sb.session.post(
        f"{API}/upload/drive/v3/files", params={"uploadType": "resumable", "fields": "id,size"},
        json={"name": "big.bin"},
        headers={**auth, "X-Upload-Content-Length": str(len(data)), "X-Upload-Content-Type": "application/pdf"},
    )
    assert start.status_code == 200 and start.content == b""
    session_url = start.headers["Location"]
    assert session_url.startswith(f"{API}/upload/drive/v3/files?uploadType=resumable&upload_id=")

    odd = sb.session.put(session_url, data=data[:1000], headers={
        **auth, "Content-Range": f"bytes 0-999/{len(data)}"})
    assert odd.status_code == 400 and "multiple of 262144" in odd.json()["error"]["message"]

    first = sb.session.put(session_url, data=data[:QUANTUM], headers={
        **auth, "Content-Range": f"bytes 0-{QUANTUM - 1}/{len(data)}"})
    assert first.status_code == 308 and first.headers["Range"] == f"bytes=0-{QUANTUM - 1}"
    status = sb.session.put(session_url, headers={**auth, "Content-Range": f"bytes */{len(data)}"})
    assert status.status_code == 308 and status.headers["Range"] == f"bytes=0-{QUANTUM - 1}"

    rest = sb.session.put(session_url, data=data[QUANTUM:], headers={
        **auth, "Content-Range": f"bytes {QUANTUM}-{len(data) - 1}/{len(data)}"})
    assert rest.status_code == 200 and rest.json()["size"] == str(len(data))
    assert emu.files[rest.json()["id"]].content == data
    assert emu.files[rest.json()["id"]].mime_type == "application/pdf"


def test_drive_file_scope_hides_files_of_other_oauth_clients(sb, emu, auth):
    mine = create(sb, auth, name="mine.xml")
    emu.clients["other-client"] = type(emu.clients[emu.demo_credentials["client_id"]])("other-client", "s2")
    other_refresh = emu.issue_refresh_token(client_id="other-client")
    other = {"Authorization": "Bearer " + access_token(
        sb, emu, other_refresh, {"client_id": "other-client", "client_secret": "s2"})}
    assert sb.session.get(f"{API}/drive/v3/files/{mine['id']}", headers=other).status_code == 404
    assert listing(sb, other, "name = 'mine.xml'").json()["files"] == []


def test_token_endpoint_pkce_and_revocation(sb, emu):
    creds = emu.demo_credentials
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    consent = sb.session.get("https://accounts.google.com/o/oauth2/auth", allow_redirects=False, params={
        "client_id": creds["client_id"], "redirect_uri": "http://localhost:5000/cb", "response_type": "code",
        "scope": "https://www.googleapis.com/auth/drive.file", "state": "xyz",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    assert consent.status_code == 302
    location = consent.headers["Location"]
    assert location.startswith("http://localhost:5000/cb?state=xyz&code=")
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "redirect_uri": "http://localhost:5000/cb"}

    missing = sb.session.post(f"{OAUTH}/token", data=form)
    assert missing.json() == {"error": "invalid_grant", "error_description": "Missing code verifier."}
    granted = sb.session.post(f"{OAUTH}/token", data={**form, "code_verifier": verifier}).json()
    assert set(granted) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    reused = sb.session.post(f"{OAUTH}/token", data={**form, "code_verifier": verifier})
    assert reused.json()["error"] == "invalid_grant"

    assert sb.session.post(f"{OAUTH}/revoke", data={"token": granted["refresh_token"]}).status_code == 200
    again = sb.session.post(f"{OAUTH}/revoke", data={"token": granted["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    refused = sb.session.post(f"{OAUTH}/token", data={
        "grant_type": "refresh_token", "refresh_token": granted["refresh_token"],
        "client_id": creds["client_id"], "client_secret": creds["client_secret"]})
    assert refused.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    bad_client = sb.session.post(f"{OAUTH}/token", data={**form, "client_secret": "wrong"})
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"


def test_rate_limit_knob_answers_googles_403(sb, emu, auth):
    emu.fail_next(1)
    answer = sb.session.get(f"{API}/drive/v3/files", headers=auth)
    assert answer.status_code == 403
    assert answer.json()["error"]["errors"][0] == {
        "message": "Rate Limit Exceeded", "domain": "usageLimits", "reason": "rateLimitExceeded"}
    assert sb.session.get(f"{API}/drive/v3/files", headers=auth).status_code == 200


def test_deleting_a_folder_deletes_what_is_inside(sb, emu, auth):
    folder = create(sb, auth, name="f", mimeType="application/vnd.google-apps.folder")
    inner = create(sb, auth, name="x", parents=[folder["id"]])
    assert sb.session.delete(f"{API}/drive/v3/files/{folder['id']}", headers=auth).status_code == 204
    assert inner["id"] not in emu.files
    gone = sb.session.get(f"{API}/drive/v3/files/{inner['id']}", headers=auth)
    assert gone.json()["error"]["message"] == f"File not found: {inner['id']}."


def test_state_survives_a_dump_and_load(sb, emu, auth):
    made = create(sb, auth, name="kept.xml", appProperties={"k": "v"})
    state = json.loads(json.dumps(emu.dump_state()))
    fresh = GoogleDriveEmulator(seed=9)
    fresh.load_state(state)
    assert fresh.files[made["id"]].app_properties == {"k": "v"}
    assert fresh.files[made["id"]].content == b""


def test_fields_masks_select_nested_parts():
    mask = parse_fields("nextPageToken,files(id,appProperties),user/emailAddress")
    value = {"nextPageToken": "t", "kind": "k", "files": [{"id": "1", "name": "n", "appProperties": {"a": "b"}}],
             "user": {"emailAddress": "e", "displayName": "d"}}
    assert apply_fields(value, mask) == {
        "nextPageToken": "t", "files": [{"id": "1", "appProperties": {"a": "b"}}], "user": {"emailAddress": "e"}}
    assert apply_fields(value, parse_fields("*")) == value


def test_a_property_over_124_bytes_gets_drives_own_refusal(sb, auth):
    answer = sb.session.post(
        f"{API}/drive/v3/files", headers=auth,
        json={"name": "a.xml", "appProperties": {"apunto_note": "n" * 120}},
    )
    assert answer.status_code == 403
    message = (
        "Properties and app properties are limited to 124 bytes in UTF-8 encoding, counting both "
        "the key and the value."
    )
    assert answer.json()["error"]["message"] == message
    assert answer.json()["error"]["errors"][0]["reason"] == "propertyLengthLimitExceeded"
    # 124 bytes exactly (key + value, UTF-8) still fit.
    fits = {"apunto_note": "ñ" * 56 + "a"}
    assert len(b"apunto_note") + len(fits["apunto_note"].encode()) == 124
    assert sb.session.post(f"{API}/drive/v3/files", headers=auth,
                           json={"name": "b.xml", "appProperties": fits}).status_code == 200


def test_spec_overrides_the_limits_and_texts_the_emulator_answers_with():
    # The emulator follows the storage SPEC like the provider: the same spec= reaches both.
    emulator = GoogleDriveEmulator(
        seed=3,
        spec={"limit.app_properties": 2},
    )
    session = requests.Session()
    adapter = SandboxAdapter({"google_drive": emulator})
    for prefix in adapter.prefixes():
        session.mount(prefix, adapter)
    sb = SimpleNamespace(session=session)
    headers = {"Authorization": f"Bearer {access_token(sb, emulator)}"}
    crowded = sb.session.post(
        f"{API}/drive/v3/files", headers=headers,
        json={"name": "a.xml", "appProperties": {"a": "1", "b": "2", "c": "3"}},
    )
    assert crowded.status_code == 400
    assert crowded.json()["error"]["message"] == "A file may have at most 2 private properties per app."
    start = sb.session.post(
        f"{API}/upload/drive/v3/files", params={"uploadType": "resumable"}, json={"name": "b.bin"},
        headers={**headers, "X-Upload-Content-Length": str(2 * QUANTUM)},
    )
    odd = sb.session.put(start.headers["Location"], data=b"x" * 1000, headers={
        **headers, "Content-Range": f"bytes 0-999/{2 * QUANTUM}"})
    assert odd.status_code == 400
    assert odd.json()["error"]["message"].endswith("The received request contained 1000 bytes.")
    # The refusal's wording is an assumed fact, and the flow that met it says so.
    assert emulator.spec.assumptions_used() == ["value.chunk_refusal_text"]
