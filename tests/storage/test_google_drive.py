"""Google Drive storage through the real google-api-python-client, against the offline emulator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import attrs
import pytest

from apunto_connect.archiving import archive
from apunto_connect.demo import demo_invoice
from apunto_connect.errors import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    ProviderError,
    RateLimited,
    TransportError,
    ValidationError,
)
from apunto_connect.sandbox import Fault, FaultKind, Sandbox
from apunto_connect.storage.google_auth import RefreshTokenExpired
from apunto_connect.storage.google_drive import (
    CHUNK_QUANTUM,
    FOLDER_MIME_TYPE,
    GoogleDriveStorage,
    StorageQuotaExceeded,
)

FOLDER = "CFDI/EKU9003173C9/2026/11"
DAY = 86400.0


@pytest.fixture
def sb():
    with Sandbox(vendors=["google_drive"], seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def emu(sb):
    return sb.emulator("google_drive")


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def drive(sb, sleeps):
    return sb.storage_provider("google_drive", sleep=sleeps.append)


def media_requests(emu):
    return [(m, p) for m, p in emu.request_log if p.lower().startswith("/upload/")]


def test_upload_creates_the_folder_path_under_the_app_folder_and_round_trips(drive, emu):
    stored = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER, metadata={"uuid": "UUID-A"})

    assert stored.provider == "google_drive"
    assert stored.folder == FOLDER
    assert stored.size == 7
    assert stored.content_type == "application/xml"
    assert stored.metadata == {"uuid": "UUID-A"}
    assert stored.sha256 == "bc6508f82814c610b68d4e302126276f01193bef226eedd22306439ebdddb7ed"
    assert stored.url.startswith("https://drive.google.com/file/d/")
    assert emu.path_of(stored.id) == f"apunto-connect/{FOLDER}/A.xml"
    assert emu.files[stored.id].app_properties["apunto_uuid"] == "UUID-A"
    assert drive.download(stored.id) == b"<cfdi/>"
    assert [f.id for f in drive.list(FOLDER)] == [stored.id]


def test_second_upload_of_the_same_content_returns_the_existing_file_without_sending_it(drive, emu):
    first = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER, metadata={"uuid": "UUID-A"})
    sent_before = len(media_requests(emu))

    second = drive.upload(io.BytesIO(b"<cfdi/>"), "A.xml", folder=FOLDER, metadata={"uuid": "UUID-A"})

    assert second.id == first.id
    assert len(media_requests(emu)) == sent_before
    assert len(emu.live_files("A.xml")) == 1


def test_a_restarted_process_finds_its_folders_and_files_instead_of_duplicating_them(sb, emu, drive):
    first = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER)
    restarted = sb.storage_provider("google_drive")

    again = restarted.upload(b"<cfdi/>", "A.xml", folder=FOLDER)

    assert again.id == first.id
    assert len(emu.folders("apunto-connect")) == 1
    assert len(emu.folders("11")) == 1


def test_new_content_under_the_same_name_becomes_a_new_revision_of_that_file(drive, emu):
    first = drive.upload(b"v1", "doc.pdf", folder=FOLDER, metadata={"uuid": "U", "old": "x"})
    second = drive.upload(b"v2", "doc.pdf", folder=FOLDER, metadata={"uuid": "U"})

    assert second.id == first.id
    assert drive.download(first.id) == b"v2"
    assert second.metadata == {"uuid": "U"}  # like local storage: the new upload's metadata
    assert emu.files[first.id].version > 1
    assert len(emu.live_files("doc.pdf")) == 1


def test_keep_both_mode_stores_a_second_file_with_the_same_name(sb):
    drive = sb.storage_provider("google_drive", replace_existing=False)
    first = drive.upload(b"v1", "doc.pdf")
    second = drive.upload(b"v2", "doc.pdf")
    assert first.id != second.id


def test_metadata_given_later_is_merged_into_the_existing_file(drive, emu):
    first = drive.upload(b"same", "x.xml", metadata={"uuid": "U"})
    second = drive.upload(b"same", "x.xml", metadata={"issuer_rfc": "EKU9003173C9"})
    assert second.id == first.id
    assert second.metadata == {"uuid": "U", "issuer_rfc": "EKU9003173C9"}


def test_large_files_go_up_resumably_in_256_kib_chunks_with_progress(sb, emu):
    drive = sb.storage_provider(
        "google_drive", chunk_size=CHUNK_QUANTUM, multipart_threshold=CHUNK_QUANTUM
    )
    data = os.urandom(3 * CHUNK_QUANTUM + 1234)
    progress: list[tuple[int, int]] = []

    stored = drive.upload(data, "big.pdf", folder="big", progress=lambda a, b: progress.append((a, b)))

    puts = [p for m, p in media_requests(emu) if m == "PUT"]
    assert len(puts) == 4  # three full chunks and the short last one
    assert [sent for sent, _ in progress] == [CHUNK_QUANTUM, 2 * CHUNK_QUANTUM, 3 * CHUNK_QUANTUM, len(data)]
    assert all(total == len(data) for _, total in progress)
    assert stored.size == len(data)
    assert drive.download(stored.id) == data


def test_a_file_object_that_cannot_seek_is_spooled_and_uploaded(drive):
    class OneWay(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self._inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    stored = drive.upload(OneWay(b"streamed"), "s.bin")
    assert drive.download(stored.id) == b"streamed"


def test_uploads_from_a_path(drive, tmp_path):
    source = tmp_path / "factura.pdf"
    source.write_bytes(b"%PDF-1.4 fake")
    stored = drive.upload(source, "factura.pdf")
    assert stored.content_type == "application/pdf"
    assert drive.download(stored.id) == b"%PDF-1.4 fake"


@pytest.mark.parametrize("size", [0, 1000, CHUNK_QUANTUM + 1, 100 * 1024])
def test_chunk_sizes_that_are_not_positive_multiples_of_256_kib_are_refused(size):
    with pytest.raises(ValidationError) as info:
        GoogleDriveStorage(refresh_token="x", client_id="c", chunk_size=size)
    assert info.value.issues[0].field == "chunk_size"


def test_rate_limit_403_is_retried_by_the_library_without_real_sleep(drive, emu, sleeps):
    emu.fail_next(2, "rateLimitExceeded")
    stored = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER)
    assert drive.download(stored.id) == b"<cfdi/>"
    assert len(sleeps) == 2  # one back-off per refused call, handed to the injected sleep


def test_user_rate_limit_exhausting_the_retries_raises_rate_limited(sb, emu, sleeps):
    drive = sb.storage_provider("google_drive", sleep=sleeps.append, max_retries=2)
    emu.fail_next(3, "userRateLimitExceeded")
    with pytest.raises(RateLimited) as info:
        drive.status()
    assert info.value.vendor_code == "userRateLimitExceeded"
    assert info.value.message == "User Rate Limit Exceeded"
    assert len(sleeps) == 2


def test_service_account_quota_error_explains_shared_drives_and_delegation(drive, emu):
    drive.upload(b"folders are free", "first.xml")
    emu.use_service_account()
    with pytest.raises(StorageQuotaExceeded) as info:
        drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER)
    error = info.value
    assert error.status_code == 403
    assert error.vendor_code == "storageQuotaExceeded"
    assert error.message.startswith("Service Accounts do not have storage quota.")  # verbatim
    text = str(error)
    assert "Shared Drive" in text and "domain-wide delegation" in text and "OAuth" in text


def test_a_full_drive_is_a_quota_error_not_a_retry(drive, emu, sleeps):
    emu.set_storage_quota(10)
    with pytest.raises(StorageQuotaExceeded) as info:
        drive.upload(b"more than ten bytes", "A.xml")
    assert info.value.message == "The user's Drive storage quota has been exceeded."
    assert sleeps == []


def test_an_expired_access_token_is_refreshed_transparently(sb, drive, emu):
    drive.upload(b"one", "1.xml")
    sb.clock.advance(2 * 3600)
    drive.upload(b"two", "2.xml")
    assert {f.name for f in emu.live_files()} == {"1.xml", "2.xml"}


def test_refresh_tokens_of_a_testing_app_expire_after_seven_days(sb, emu):
    emu.publishing_status = "testing"
    drive = sb.storage_provider("google_drive")
    assert drive.status().connected
    sb.clock.advance(8 * DAY)

    status = drive.status()
    assert status.connected is False
    assert status.error_code == "invalid_grant"
    with pytest.raises(RefreshTokenExpired) as info:
        drive.upload(b"<cfdi/>", "A.xml")
    assert info.value.message == "Token has been expired or revoked."
    assert "Testing" in str(info.value) and "In production" in str(info.value)
    assert isinstance(info.value, AuthenticationError)


def test_published_apps_keep_their_refresh_tokens(sb, emu):
    drive = sb.storage_provider("google_drive")
    sb.clock.advance(30 * DAY)
    assert drive.status().connected


def test_uploads_from_several_threads_create_each_folder_and_file_once(sb, emu):
    drive = sb.storage_provider("google_drive")
    jobs = [(f"doc{i % 4}.xml", f"content {i % 4}".encode()) for i in range(16)]
    seen_threads: set[int] = set()

    def one(job):
        seen_threads.add(threading.get_ident())
        name, data = job
        return drive.upload(data, name, folder=FOLDER).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(one, jobs, timeout=60))

    assert len(set(ids)) == 4
    assert len(emu.live_files()) == 4
    for name in ("apunto-connect", "CFDI", "EKU9003173C9", "2026", "11"):
        assert len(emu.folders(name)) == 1, name
    assert len(seen_threads) > 1


def test_each_thread_gets_its_own_http_client_and_service(sb):
    drive = sb.storage_provider("google_drive")
    services = []

    def grab():
        services.append(drive._service())

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len({id(s) for s in services}) == 3
    assert drive._service() is drive._service()


def test_archive_twice_to_drive_stores_each_file_once():
    with Sandbox(vendors=["google_drive", "enlace_fiscal"], seed=3) as sb:
        invoicing = sb.invoice_provider("enlace_fiscal")
        stamped = invoicing.stamp(attrs.evolve(demo_invoice(), series="APUNTO"))
        drive = sb.storage_provider("google_drive")

        first = archive(stamped, invoicing, drive)
        second = archive(stamped, invoicing, drive)

        emu = sb.emulator("google_drive")
        assert (second.xml.id, second.pdf.id) == (first.xml.id, first.pdf.id)
        assert sorted(f.name for f in emu.live_files()) == [f"{first.uuid}.pdf", f"{first.uuid}.xml"]
        assert first.xml.folder == f"CFDI/EKU9003173C9/{stamped.issued_at:%Y/%m}"
        assert first.xml.metadata["uuid"] == first.uuid
        assert drive.find(uuid=first.uuid)[0].folder == first.xml.folder


def test_a_connection_dropped_after_the_create_is_looked_up_not_resent():
    fault = Fault(FaultKind.DROP_AFTER, vendor="google_drive", method="POST", path="/upload/*")
    with Sandbox(vendors=["google_drive"], faults=[fault], seed=5) as sb:
        drive = sb.storage_provider("google_drive")
        stored = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER)
        emu = sb.emulator("google_drive")
        assert [f.id for f in emu.live_files("A.xml")] == [stored.id]
        assert sb.faults.fired and sb.faults.fired[0].kind is FaultKind.DROP_AFTER


def test_a_connection_dropped_before_sending_is_retried_by_the_library():
    fault = Fault(FaultKind.DROP_BEFORE, vendor="google_drive", method="GET", path="/drive/v3/about")
    with Sandbox(vendors=["google_drive"], faults=[fault], seed=5) as sb:
        drive = sb.storage_provider("google_drive")
        assert drive.status().connected


def test_list_pages_through_results_and_walks_subfolders(sb):
    drive = sb.storage_provider("google_drive", page_size=2)
    for i in range(5):
        drive.upload(f"{i}".encode(), f"f{i}.xml", folder="a")
    drive.upload(b"deep", "deep.xml", folder="a/b")

    assert [f.name for f in drive.list("a")] == [f"f{i}.xml" for i in range(5)]
    everything = {(f.folder, f.name) for f in drive.list("a", recursive=True)}
    assert ("a/b", "deep.xml") in everything and len(everything) == 6
    assert list(drive.list("missing/folder")) == []


def test_delete_removes_the_file_and_missing_files_are_not_found(drive):
    stored = drive.upload(b"x", "x.xml")
    drive.delete(stored.id)
    with pytest.raises(NotFound) as info:
        drive.download(stored.id)
    assert info.value.message == f"File not found: {stored.id}."
    with pytest.raises(NotFound):
        drive.delete(stored.id)


def test_stat_finds_the_folder_path_of_a_file_it_did_not_upload(sb, drive):
    stored = drive.upload(b"x", "x.xml", folder=FOLDER)
    fresh = sb.storage_provider("google_drive")
    assert fresh.stat(stored.id).folder == FOLDER


def test_download_of_a_large_file_uses_range_requests(sb, emu):
    drive = sb.storage_provider("google_drive", chunk_size=CHUNK_QUANTUM)
    data = os.urandom(2 * CHUNK_QUANTUM + 5)
    stored = drive.upload(data, "big.bin")
    before = len(emu.request_log)
    assert drive.download(stored.id) == data
    assert len(emu.request_log) - before == 3


def test_names_with_quotes_are_escaped_in_queries(drive, emu):
    name = "O'Brien's factura.xml"
    first = drive.upload(b"x", name, folder="it's/here")
    second = drive.upload(b"x", name, folder="it's/here")
    assert first.id == second.id
    assert emu.path_of(first.id) == f"apunto-connect/it's/here/{name}"


def test_bad_names_and_folders_are_refused_before_any_call(drive, emu):
    for name in ("", "a/b.xml", ".."):
        with pytest.raises(ValidationError):
            drive.upload(b"x", name)
    with pytest.raises(ValidationError):
        drive.upload(b"x", "a.xml", folder="../up")
    with pytest.raises(ValidationError) as info:
        drive.upload(b"x", "a.xml", metadata={"note": "x" * 200})
    assert info.value.issues[0].code == "APUNTO-STORAGE-521"
    assert emu.request_log == []


def test_a_root_folder_id_in_a_shared_drive_is_used_as_is(sb, emu, drive):
    shared_root = drive.upload(b"x", "marker.xml", folder="shared").id
    parent = emu.files[shared_root].parents[0]
    scoped = sb.storage_provider("google_drive", root_folder_id=parent)
    stored = scoped.upload(b"y", "y.xml", folder="sub")
    assert emu.path_of(stored.id) == "apunto-connect/shared/sub/y.xml"


def test_status_check_connection_and_disconnect(sb, emu, drive):
    status = drive.status()
    assert status.connected and status.account == "archivo@example.com"
    assert status.scopes == ("https://www.googleapis.com/auth/drive.file",)
    assert status.token_expiry is not None
    check = drive.check_connection()
    assert check.ok and check.environment == "sandbox" and check.account == status.account

    assert drive.disconnect() is True
    assert emu.refresh_tokens[emu.demo_credentials["refresh_token"]].revoked
    assert drive.status().connected is False
    with pytest.raises(AuthenticationError) as info:
        drive.upload(b"x", "x.xml")
    assert info.value.vendor_code == "not_signed_in"


def test_a_token_revoked_elsewhere_shows_as_not_connected(sb, emu, drive):
    drive.status()
    emu.refresh_tokens[emu.demo_credentials["refresh_token"]].revoked = True
    status = drive.status()
    assert status.connected is False and status.error_code == "invalid_grant"
    assert drive.disconnect() is False  # already revoked: forgotten all the same


def test_importing_the_provider_module_loads_no_google_code():
    code = (
        "import json, sys, apunto_connect, apunto_connect.storage, "
        "apunto_connect.storage.google_drive, apunto_connect.sandbox.google_drive; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'google', 'googleapiclient', 'httplib2', 'google_auth_httplib2', 'google_auth_oauthlib', 'oauthlib'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_loopback_through_real_httplib2_with_client_options(sb, emu):
    server = sb.serve()
    options = emu.loopback_options(server.base_url("google_drive"))
    credentials = dict(emu.demo_credentials)
    drive = GoogleDriveStorage(**credentials, **options, sleep=lambda s: None, chunk_size=CHUNK_QUANTUM,
                               multipart_threshold=1024)
    small = drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER)
    data = os.urandom(CHUNK_QUANTUM + 10)
    big = drive.upload(data, "big.bin", folder=FOLDER)

    assert drive.download(small.id) == b"<cfdi/>"
    assert drive.download(big.id) == data
    assert drive.status().account == "archivo@example.com"
    assert drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER).id == small.id
    assert drive.disconnect() is True


def test_transport_failures_are_typed(sb):
    drive = GoogleDriveStorage(
        **sb.emulator("google_drive").demo_credentials,
        client_options={"api_endpoint": "http://127.0.0.1:9/drive/v3/"},
        oauth_endpoints={"token_uri": "http://127.0.0.1:9/token"},
        max_retries=0,
    )
    with pytest.raises(TransportError):
        drive.upload(b"x", "x.xml")


def test_folders_are_real_drive_folders(drive, emu):
    drive.upload(b"x", "x.xml", folder="a/b")
    assert {f.mime_type for f in emu.folders()} == {FOLDER_MIME_TYPE}


def test_a_forgotten_folder_is_found_again_not_duplicated(sb, emu, monkeypatch):
    from apunto_connect import _caches

    monkeypatch.setitem(_caches.CACHE_LIMITS, "drive.folders", _caches.CacheLimits(2))
    drive = sb.storage_provider("google_drive")
    months = [f"CFDI/EKU9003173C9/2026/{month:02d}" for month in range(1, 7)]
    stored = [drive.upload(f"<cfdi n='{n}'/>".encode(), "A.xml", folder=m) for n, m in enumerate(months)]
    # Only two folder paths are remembered; going back to January searches, finds, reuses.
    again = drive.upload(b"<cfdi n='0'/>", "A.xml", folder=months[0])
    assert again.id == stored[0].id
    assert len(emu.folders("01")) == 1 and len(emu.folders("apunto-connect")) == 1
    assert [drive.stat(s.id).folder for s in stored] == months


def test_a_property_over_drives_limit_is_refused_by_drive_the_way_drive_words_it(sb, emu, sleeps):
    # With the local check loosened, the oversized property reaches Drive, which answers 403
    # propertyLengthLimitExceeded with its own text (as two public projects quote it): a
    # refused value, not a permission problem, and not worth retrying.
    drive = sb.storage_provider(
        "google_drive", sleep=sleeps.append, spec={"limit.property_bytes": 500}
    )
    with pytest.raises(ProviderError) as refused:
        drive.upload(b"<cfdi/>", "A.xml", folder=FOLDER, metadata={"note": "n" * 200})
    error = refused.value
    assert not isinstance(error, (PermissionDenied, RateLimited))
    assert error.status_code == 403 and error.vendor_code == "propertyLengthLimitExceeded"
    assert error.message == (
        "Properties and app properties are limited to 124 bytes in UTF-8 encoding, counting "
        "both the key and the value."
    )
    assert sleeps == []
