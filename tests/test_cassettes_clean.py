from __future__ import annotations

from pathlib import Path

from tests.cassette_scrub import find_leaks, scrub_response

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def test_no_cassette_holds_a_credential():
    assert find_leaks(CASSETTES) == []


def test_the_scanner_catches_a_planted_credential(tmp_path):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "c.yaml").write_text(
        "headers:\n  Authorization:\n  - Basic dXNlcjpwYXNzd29yZDEyMzQ=\n"
        'body: {"access_token": "ya29.a0AfH6SMBxxxxxxxxxxxxx"}\n'
    )
    assert len(find_leaks(tmp_path)) == 2


def test_scrubber_masks_tokens_in_response_bodies_and_drops_cookies():
    response = {
        "headers": {"Set-Cookie": ["session=abc"], "Content-Length": ["99"]},
        "body": {"string": b'{"access_token": "tok-123456789", "Id": "1"}'},
    }
    cleaned = scrub_response(response)
    assert "Set-Cookie" not in cleaned["headers"]
    assert b"tok-123456789" not in cleaned["body"]["string"]
    assert cleaned["headers"]["Content-Length"] == [str(len(cleaned["body"]["string"]))]
