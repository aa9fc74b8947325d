"""What every vendor's mappers share: blank text, cancel answers."""

from __future__ import annotations

from apunto_connect._answers import cancellation_answer
from apunto_connect._wire import text_or_none
from apunto_connect.models import CancellationStatus, CancelMotive


def test_blank_text_is_absent_and_text_is_stripped():
    assert [text_or_none(v) for v in (None, "", "   ", " F ", 17)] == [None, None, None, "F", "17"]


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
