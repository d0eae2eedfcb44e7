"""memory:// refuses exactly the publishes the py-amqp transport cannot encode.

The py-amqp transport encodes each publish itself
(:class:`~kombu_lite.transport.pyamqp.framing.PublishFramer`) and raises
``EncodeError`` for what AMQP cannot carry.  The memory broker never encodes,
so :mod:`kombu_lite.transport.memory.encoding` applies the same rules.
These tests generate well-formed and badly typed names and properties and
check that both sides agree on every one: refused by one exactly when
refused by the other, with the same text except for header details.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from amqp.serialization import decode_properties_basic
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kombu_lite.exceptions import EncodeError
from kombu_lite.transport.base import BasicProperties
from kombu_lite.transport.memory.encoding import (
    FRAME_MAX,
    as_from_the_wire,
    check_names,
    check_properties,
)
from kombu_lite.transport.pyamqp.framing import PublishFramer, encode_properties

_settings = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_text = st.text(max_size=70) | st.text(alphabet="é", min_size=120, max_size=130)
_not_str = st.one_of(
    st.binary(max_size=4),
    st.integers(-3, 3),
    st.booleans(),
    st.floats(allow_nan=False),
    st.builds(object),
)
_short = st.one_of(_text, st.text(min_size=250, max_size=260), _not_str)
_octet = st.one_of(
    st.integers(-3, 260), st.booleans(), st.floats(0, 5), st.just("2"), st.none()
)
_timestamp = st.one_of(
    st.integers(-(2**64), 2**65),
    st.sampled_from([0, 2**64 - 1, 2**64, -1]),
    st.booleans(),
    st.datetimes(),
    st.just("now"),
    st.floats(0, 2e9),
    st.none(),
)
_scalars = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) + 1, 2**63, -(2**63)]),
    st.floats(),
    st.decimals(),
    st.sampled_from([Decimal("1E+3"), Decimal("1E-256"), Decimal(2147483648)]),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.dates(),
    st.builds(bytearray, st.binary(max_size=4)),
    st.frozensets(st.integers(), max_size=2),
    st.builds(object),
)
_keys = st.one_of(
    st.text(max_size=20),
    st.text(min_size=250, max_size=260),
    st.binary(max_size=8),
    st.integers(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(_keys, inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=2).map(MappingProxyType),
    ),
    max_leaves=8,
)
_headers = st.one_of(
    st.none(),
    st.dictionaries(_keys, _values, max_size=4),
    st.dictionaries(st.text(max_size=5), _values, max_size=3).map(MappingProxyType),
    st.sampled_from(["", "abc", 0, 5, [], [("a", 1)], b"", b"x", {}]),
)
#: Per property, values AMQP may or may not carry.
_ANY_VALUE = {
    "content_type": _short,
    "content_encoding": _short,
    "headers": _headers,
    "delivery_mode": _octet,
    "priority": _octet,
    "correlation_id": _short,
    "reply_to": _short,
    "expiration": _short,
    "message_id": _short,
    "timestamp": _timestamp,
    "type": _short,
    "user_id": _short,
    "app_id": _short,
    "cluster_id": _short,
}
_GOOD = BasicProperties(
    content_type="application/json",
    content_encoding="utf-8",
    headers={"id": "abc", "n": 1},
    delivery_mode=2,
    priority=1,
    correlation_id="c",
    reply_to="r",
    expiration="100",
    message_id="m",
    timestamp=1_700_000_000,
    type="t",
    user_id="guest",
    app_id="a",
    cluster_id="x",
)


@st.composite
def _properties(draw: st.DrawFn) -> BasicProperties:
    """Good properties with one to three of them replaced by any value."""
    names = draw(st.lists(st.sampled_from(sorted(_ANY_VALUE)), min_size=1, max_size=3))
    changes = {name: draw(_ANY_VALUE[name]) for name in names}
    return dataclasses.replace(_GOOD, **changes)


def _wire_error(
    properties: BasicProperties, exchange: object, key: object
) -> str | None:
    framer = PublishFramer(1, FRAME_MAX)
    try:
        framer.encode(b"body", properties, exchange, key, False)  # type: ignore[arg-type]
    except EncodeError as exc:
        return str(exc)
    return None


def _memory_error(
    properties: BasicProperties, exchange: object, key: object
) -> str | None:
    try:
        check_names(exchange, key)
        check_properties(properties)
    except EncodeError as exc:
        return str(exc)
    return None


def _assert_same_verdict(
    properties: BasicProperties, exchange: object, key: object
) -> None:
    wire = _wire_error(properties, exchange, key)
    memory = _memory_error(properties, exchange, key)
    if wire is None or memory is None:
        assert (wire, memory) == (None, None)
        return
    prefix = "cannot encode the message headers:"
    if wire.startswith(prefix):
        # py-amqp words the header details itself; the memory broker in its
        # own words.
        assert memory.startswith(prefix)
    else:
        assert memory == wire


@_settings
@given(properties=_properties())
@example(BasicProperties(headers={"big": "v" * FRAME_MAX}))
@example(BasicProperties(headers={"k" * 256: 1}))
@example(BasicProperties(headers={"a": Decimal("NaN")}))
@example(BasicProperties(headers={"a": dt.datetime(1969, 12, 31)}))
def test_memory_refuses_properties_exactly_when_py_amqp_cannot_encode_them(
    properties: BasicProperties,
) -> None:
    _assert_same_verdict(properties, "", "q")


_good_scalars = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.binary(max_size=6),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    # Not NaN or infinities: both transports refuse those (RabbitMQ would
    # close the connection).
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(
        lambda unscaled, places: Decimal(unscaled).scaleb(-places),
        st.integers(-(2**31) + 1, 2**31 - 1),
        st.integers(0, 12),
    ),
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1), timezones=st.none() | st.timezones()
    ),
)
_good_values = st.recursive(
    _good_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=5) | st.binary(max_size=5), inner, max_size=3),
    ),
    max_leaves=8,
)
_good_headers = st.dictionaries(
    st.text(max_size=10) | st.binary(max_size=6), _good_values, min_size=1, max_size=4
)


@settings(max_examples=200, deadline=None)
@given(headers=_good_headers)
@example({"when": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)})
@example({"d": Decimal("1.50"), b"k": [b"v", (1,)]})
def test_memory_stores_headers_as_py_amqp_reads_them_off_the_wire(
    headers: Any,
) -> None:
    properties = BasicProperties(headers=headers)
    assert _memory_error(properties, "", "q") is None
    decoded, _ = decode_properties_basic(encode_properties(properties), 0)

    # repr: the types must match too (1, 1.0 and True are equal).
    assert repr(as_from_the_wire(headers)) == repr(decoded["application_headers"])


@_settings
@given(exchange=_short, key=_short)
@example("x" * 256, "q")
@example("", "é" * 128)
def test_memory_refuses_names_exactly_when_py_amqp_cannot_encode_them(
    exchange: object, key: object
) -> None:
    _assert_same_verdict(BasicProperties(), exchange, key)


@pytest.mark.parametrize("size", [FRAME_MAX - 40, FRAME_MAX - 31, FRAME_MAX - 30])
def test_the_frame_limit_on_headers_is_the_same_byte_for_byte(size: int) -> None:
    # A one-entry table around the limit: flags 2, table 4, key 1 + 1,
    # type 1, length 4, then the value; 12 more bytes of header framing.
    properties = BasicProperties(headers={"k": "v" * size})

    _assert_same_verdict(properties, "", "q")


def test_headers_that_contain_themselves_are_refused() -> None:
    headers: dict[str, object] = {}
    headers["self"] = headers

    with pytest.raises(EncodeError, match="headers"):
        check_properties(BasicProperties(headers=headers))


class _Text(str):
    pass


class _Number(int):
    pass


class _Real(float):
    pass


def test_stored_headers_lose_their_subclasses_as_on_the_wire() -> None:
    stored = as_from_the_wire(
        {_Text("name"): _Text("v"), "n": _Number(3), "f": _Real(0.5)}
    )

    assert [type(key) for key in stored] == [str, str, str]
    assert [type(value) for value in stored.values()] == [str, int, float]


def test_stored_header_names_are_decoded_like_py_amqp_decodes_them() -> None:
    stored = as_from_the_wire({memoryview(b"ok"): 1, b"\xff": 2})

    assert stored == {"ok": 1, b"\xff": 2}


def test_a_negative_decimal_keeps_its_sign_and_places() -> None:
    stored = as_from_the_wire({"d": Decimal("-0.250"), "z": Decimal(0)})

    assert stored == {"d": Decimal("-0.25"), "z": Decimal(0)}
    assert str(stored["d"]) == "-0.25"
