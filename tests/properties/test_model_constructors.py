"""Public constructors and functions of the model modules: a valid object or a typed error.

Every field of every model is given None or a value of another type, alone or several at once;
the constructor must either build an object that then works (repr, ``to_dict``, totals,
``from_dict`` round trip) or raise an :class:`~apunto_connect.errors.ApuntoError`.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apunto_connect.errors import ApuntoError
from apunto_connect.models import (
    Assignment,
    Cancellation,
    CancellationStatus,
    CancelMotive,
    ConnectionStatus,
    Container,
    Customer,
    Driver,
    GlobalInformation,
    Invoice,
    Issuer,
    LineItem,
    Port,
    RelatedDocuments,
    Shipment,
    StampedInvoice,
    StoredFile,
    Tax,
    Tracking,
    TrackingEvent,
    Vehicle,
    from_dict,
    to_dict,
)
from apunto_connect.models.invoices import line_total, quantize_rate

CUSTOMER = Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "65000")
ITEM = LineItem("78101802", "E48", "Flete", 1, "1500", taxes=[Tax.iva()])

VALID: dict[type[Any], Any] = {
    Customer: CUSTOMER,
    Issuer: Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "26015"),
    Tax: Tax.iva(),
    LineItem: ITEM,
    Invoice: Invoice(CUSTOMER, [ITEM], payment_form="03"),
    RelatedDocuments: RelatedDocuments("04", ("6F35D3B5-3651-4370-BC2C-14CDBE384CD7",)),
    GlobalInformation: GlobalInformation("01", "03", 2026),
    StampedInvoice: StampedInvoice(provider="facturama", id="abc", uuid="6F35D3B5-3651-4370-BC2C-14CDBE384CD7"),
    Cancellation: Cancellation(provider="facturama", ref="abc", motive=CancelMotive.WITHOUT_RELATION,
                               status=CancellationStatus.CANCELLED),
    ConnectionStatus: ConnectionStatus(provider="facturama", ok=True),
    StoredFile: StoredFile(provider="local", id="a/b.xml", name="b.xml"),
    Vehicle: Vehicle("JAL-12-345", "Propia"),
    Driver: Driver("GOMJ800101", "Juan", "Gómez Pérez", "+52 33 1234 5678"),
    Assignment: Assignment("TBA850101AB1", "Transportes del Bajío", Vehicle("JAL-12-345", "Propia"),
                           Driver("GOMJ800101", "Juan", "Gómez", "+52 33 1234 5678")),
    Shipment: Shipment("SRV-1", mode="land", origin="Manzanillo", destination="Querétaro"),
    TrackingEvent: TrackingEvent(code="GTOT", description="Gate out", timestamp=datetime(2026, 1, 1)),
    Port: Port(code="MXZLO", name="Manzanillo"),
    Container: Container(number="CSQU3054383"),
    Tracking: Tracking(provider="shipsgo", tracking_id="1", reference="APT-1", mode="ocean",
                       status="in_transit"),
}

WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=15),
    st.sampled_from(["", "  ", "NaN", "-1", "1e400", "x" * 2000, "\x00", "😀"]),
    st.just(Decimal("NaN")),
    st.just(date(2026, 2, 28)),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just(object()),
)


def exercise(obj: Any) -> None:
    """What users do with a model right after making it."""
    repr(obj)
    data = to_dict(obj)
    if isinstance(obj, (Invoice, LineItem, Customer, Shipment, Assignment)):
        from_dict(type(obj), data)
    if isinstance(obj, Invoice):
        obj.totals  # noqa: B018 - computing totals is the point
    if isinstance(obj, LineItem):
        obj.product_name  # noqa: B018
        line_total(obj)


def build_or_typed_error(cls: type[Any], changes: dict[str, Any]) -> None:
    with contextlib.suppress(ApuntoError):
        exercise(attrs.evolve(VALID[cls], **changes))


def field_names(cls: type[Any]) -> list[str]:
    return [f.name for f in attrs.fields(cls) if f.init]


@pytest.mark.parametrize("cls", list(VALID), ids=lambda cls: cls.__name__)
def test_the_valid_object_works(cls: type[Any]) -> None:
    exercise(VALID[cls])


@pytest.mark.parametrize("cls", list(VALID), ids=lambda cls: cls.__name__)
def test_each_field_alone_set_to_none_or_a_wrong_type(cls: type[Any]) -> None:
    for name in field_names(cls):
        for value in (None, 7, "", "x", [], {}, [None], 1.5, Decimal("NaN"), object()):
            try:
                build_or_typed_error(cls, {name: value})
            except Exception as exc:
                raise AssertionError(
                    f"{cls.__name__}({name}={value!r}): {type(exc).__name__}: {exc}"
                ) from exc


@pytest.mark.slow
@pytest.mark.parametrize("cls", list(VALID), ids=lambda cls: cls.__name__)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_several_fields_wrong_at_once(cls: type[Any], data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(field_names(cls)), min_size=1, max_size=4, unique=True))
    build_or_typed_error(cls, {name: data.draw(WRONG) for name in names})


@settings(max_examples=200, deadline=None)
@given(
    cls=st.sampled_from([Invoice, LineItem, Customer, Shipment, Assignment, Tax, Issuer]),
    data=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ),
)
def test_from_dict_gives_a_model_or_a_validation_error(cls: type[Any], data: Any) -> None:
    with contextlib.suppress(ApuntoError):
        exercise(from_dict(cls, data))


@given(st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
                 st.decimals(allow_nan=True)))
def test_quantize_rate_takes_numbers_or_gives_a_typed_error(value: Any) -> None:
    with contextlib.suppress(ApuntoError):
        quantize_rate(value)


def test_a_line_without_description_is_refused_naming_the_field() -> None:
    from apunto_connect.errors import ValidationError

    with pytest.raises(ValidationError) as raised:
        LineItem("78101802", "E48", None, 1, "100", taxes=[Tax.iva()])  # type: ignore[arg-type]
    assert raised.value.issues[0].field == "description"
    assert "LineItem.description must be str" in str(raised.value)


def test_from_dict_names_the_wrong_field() -> None:
    from apunto_connect.errors import ValidationError

    data = to_dict(VALID[Invoice])
    data["items"][0]["quantity"] = "many"
    with pytest.raises(ValidationError) as raised:
        from_dict(Invoice, data)
    assert any("items" in issue.field for issue in raised.value.issues)
