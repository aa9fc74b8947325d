"""Vendor answers with None or wrong types in any field map or raise a typed error, nothing else.

Each vendor's real answer (from the sandbox) is broken at random places: a field set to None,
to a value of another JSON type, or removed. The vendor's response mapper must return a model
or raise an :class:`~apunto_connect.errors.ApuntoError`; an ``AttributeError``, ``TypeError``,
``KeyError`` or the like is a bug.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apunto_connect.errors import ApuntoError
from tests.properties.samples import answer

Path = tuple[Any, ...]
REMOVE = object()

WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", " ", "null", "0", "-1", "1e999", "2026-13-45T99:99:99", "NaN"]),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=4)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.none(), st.integers()), max_size=3),
    st.just(REMOVE),
)


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key and index path inside a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            yield (*prefix, index)
            yield from paths(inner, (*prefix, index))


def replace(document: Any, path: Path, value: Any) -> None:
    parent = document
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier change removed the way there
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        if value is REMOVE:
            del parent[last]
        else:
            parent[last] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = None if value is REMOVE else value


def _facturama(data: Any) -> Any:
    from apunto_connect.invoicing.facturama import facturama_stamp_answer, facturama_to_stamped

    facturama_to_stamped(data)
    return facturama_stamp_answer(data)


def _alegra(data: Any) -> Any:
    from apunto_connect.invoicing.alegra import alegra_to_stamped

    return alegra_to_stamped(data)


def _enlace_fiscal(data: Any) -> Any:
    from apunto_connect.invoicing.enlace_fiscal import (
        enlace_fiscal_row_to_stamped,
        enlace_fiscal_to_stamped,
    )

    enlace_fiscal_row_to_stamped(data)
    return enlace_fiscal_to_stamped(data)


def _contadigital(data: Any) -> Any:
    from apunto_connect.invoicing.contadigital import contadigital_to_stamped

    return contadigital_to_stamped(data)


def _actiun(data: Any) -> Any:
    from apunto_connect.actiun.models import Invoice, decode
    from apunto_connect.invoicing.actiun import actiun_to_stamped

    return actiun_to_stamped(decode(Invoice, data))


def _controlt(data: Any) -> Any:
    from apunto_connect.tracking.controlt import controlt_to_tracking

    registration = data.get("registration") if isinstance(data, dict) else data
    travel = data.get("travel") if isinstance(data, dict) else None
    return controlt_to_tracking("SRV-1", registration, travel)


def _shipsgo(data: Any) -> Any:
    from apunto_connect.tracking.shipsgo import shipsgo_to_tracking

    return shipsgo_to_tracking(data)


MAPPERS: dict[str, Callable[[Any], Any]] = {
    "facturama": _facturama,
    "alegra": _alegra,
    "enlace_fiscal": _enlace_fiscal,
    "contadigital": _contadigital,
    "actiun": _actiun,
    "controlt": _controlt,
    "shipsgo": _shipsgo,
}


def map_or_typed_error(vendor: str, data: Any) -> None:
    with contextlib.suppress(ApuntoError):  # a typed error is a right answer
        MAPPERS[vendor](data)


@pytest.mark.parametrize("vendor", sorted(MAPPERS))
def test_the_untouched_answer_maps(vendor: str) -> None:
    MAPPERS[vendor](answer(vendor))


@pytest.mark.parametrize("vendor", sorted(MAPPERS))
def test_every_single_field_set_to_none_or_removed(vendor: str) -> None:
    for path in list(paths(answer(vendor))):
        for value in (None, REMOVE, "", 7, [], {}, "x"):
            document = answer(vendor)
            replace(document, path, value)
            try:
                map_or_typed_error(vendor, document)
            except Exception as exc:
                raise AssertionError(f"{vendor}: {path} = {value!r}: {type(exc).__name__}: {exc}") from exc


@pytest.mark.parametrize("vendor", sorted(MAPPERS))
@pytest.mark.parametrize("document", [None, [], "", 0, "<html>", [{}]])
def test_an_answer_that_is_not_an_object(vendor: str, document: Any) -> None:
    map_or_typed_error(vendor, document)


@pytest.mark.slow
@pytest.mark.parametrize("vendor", sorted(MAPPERS))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_answers_broken_in_several_places(vendor: str, data: st.DataObject) -> None:
    document = answer(vendor)
    every = list(paths(document))
    for path in data.draw(st.lists(st.sampled_from(every), min_size=1, max_size=5)):
        replace(document, path, data.draw(WRONG_VALUES))
    map_or_typed_error(vendor, document)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("Issuer",), "EKU9003173C9", "Issuer"),
        (("Receiver",), ["URE180429TM6"], "Receiver"),
        (("Complement",), 7, "Complement"),
        (("Complement", "TaxStamp"), "6F35D3B5", "Complement.TaxStamp"),
        (("Complement", "TaxStamp", "Uuid"), REMOVE, "Complement.TaxStamp.Uuid"),
        (("Complement", "TaxStamp", "Uuid"), None, "Complement.TaxStamp.Uuid"),
        (("Id",), None, "Id"),
    ],
)
def test_a_facturama_stamp_answer_of_the_wrong_shape_names_the_field(
    path: Path, value: Any, field: str
) -> None:
    from apunto_connect.errors import UnexpectedResponse
    from apunto_connect.invoicing.facturama import facturama_stamp_answer

    document = answer("facturama")
    replace(document, path, value)
    with pytest.raises(UnexpectedResponse) as raised:
        facturama_stamp_answer(document)
    assert raised.value.field == field
    assert raised.value.request_sent is True
    if field != "Id":
        assert str(document["Id"]) in str(raised.value)  # the CFDI may exist: say which
