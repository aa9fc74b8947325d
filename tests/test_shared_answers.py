"""What every vendor's mappers share: blank text, cancel answers, exact JSON, refused stamps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from apunto_connect._answers import cancellation_answer
from apunto_connect._wire import decode_answer, mexico_wall, text_or_none
from apunto_connect.errors import StampRejected, TransportError
from apunto_connect.http import Transport, stamp_rejected
from apunto_connect.models import CancellationStatus, CancelMotive
from tests.fakes import make_response


def _answer(status: int, body: bytes | str | dict[str, object] | None) -> requests.Response:
    request = requests.Request("POST", "https://vendor.test/cfdi").prepare()
    return make_response(request, status, body)


def test_blank_text_is_absent_and_text_is_stripped():
    assert [text_or_none(v) for v in (None, "", "   ", " F ", 17)] == [None, None, None, "F", "17"]


def test_an_aware_time_becomes_mexico_wall_time_and_a_naive_one_stays():
    aware = datetime(2024, 5, 1, 18, 0, tzinfo=timezone.utc)
    assert mexico_wall(aware) == datetime(2024, 5, 1, 12, 0)
    assert mexico_wall(aware.astimezone(timezone(timedelta(hours=-6)))) == datetime(2024, 5, 1, 12, 0)
    assert mexico_wall(datetime(2024, 5, 1, 9, 30)) == datetime(2024, 5, 1, 9, 30)


def test_a_cancel_answer_keeps_the_vendors_answer_and_upper_cases_the_uuid():
    answer = {"Status": "canceled", "Uuid": "9f1c2d3e-0000-4000-8000-00000000abcd"}
    cancellation = cancellation_answer(
        answer, CancellationStatus.CANCELLED, answer["Uuid"], "Cancelado",
        provider="facturama", ref="F-1", motive=CancelMotive.WITHOUT_RELATION,
        replacement_uuid=None,
    )
    assert cancellation.uuid == "9F1C2D3E-0000-4000-8000-00000000ABCD"
    assert cancellation.raw == answer and cancellation.raw is not answer
    assert (cancellation.provider, cancellation.ref, cancellation.message) == (
        "facturama", "F-1", "Cancelado"
    )
    no_uuid = cancellation_answer(
        {}, CancellationStatus.PENDING, None, "", provider="alegra", ref="7",
        motive=CancelMotive.WITHOUT_RELATION, replacement_uuid=None,
    )
    assert no_uuid.uuid is None


def test_an_answer_keeps_amounts_exact_and_an_empty_body_is_none():
    transport = Transport("vendor", "https://vendor.test")
    answer = decode_answer(_answer(200, b'{"Total": 1160.10, "Items": [0.1]}'), transport)
    assert answer == {"Total": Decimal("1160.10"), "Items": [Decimal("0.1")]}
    assert decode_answer(_answer(200, None), transport) is None


def test_an_answer_that_is_not_json_is_a_transport_error_after_sending():
    transport = Transport("vendor", "https://vendor.test")
    with pytest.raises(TransportError) as raised:
        decode_answer(_answer(200, "<html><title>Bad gateway</title></html>"), transport)
    assert raised.value.request_sent is True
    assert "expected JSON" in str(raised.value)


def test_a_refused_stamp_carries_the_vendor_words_status_code_and_body():
    response = _answer(400, {"Message": "CFDI40145 nombre no coincide"})
    error = stamp_rejected(
        "vendor", response, "CFDI40145 nombre no coincide", "CFDI40145",
        details={"Receiver": ["no coincide"]}, request_id="req-1",
    )
    assert isinstance(error, StampRejected)
    assert (error.message, error.sat_code, error.vendor_code) == (
        "CFDI40145 nombre no coincide", "CFDI40145", "CFDI40145"
    )
    assert (error.provider, error.status_code, error.request_id) == ("vendor", 400, "req-1")
    assert error.details == {"Receiver": ["no coincide"]}
    assert error.raw_body is not None and "CFDI40145" in error.raw_body
