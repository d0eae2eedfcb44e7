"""The JSON codec: kombu's type envelopes, byte-compatible with kombu.utils.json."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kombu.utils import json as kombu_json

from kombu_lite import Connection, Queue, _json
from kombu_lite._json import JSONCodec
from kombu_lite.exceptions import ConfigurationError, DecodeError, EncodeError
from kombu_lite.utils import json as lite_json

SAMPLES: list[Any] = [
    datetime(2024, 1, 2, 3, 4, 5, 6),
    datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    date(2024, 1, 2),
    time(1, 2, 3, 4),
    Decimal("1.10"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    b"plain text",
    b"\xff\x00binary",
    {"nested": [1, 2.5, None, True, "é", {"when": date(2020, 2, 29)}]},
]


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.cents == self.cents

    def __hash__(self) -> int:
        return hash(self.cents)


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_dumps_writes_the_same_bytes_as_kombu(value: Any) -> None:
    assert _json.dumps(value) == kombu_json.dumps(value).encode("utf-8")


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_kombu_reads_what_we_write(value: Any) -> None:
    assert kombu_json.loads(_json.dumps(value)) == value


@pytest.mark.parametrize("value", SAMPLES, ids=repr)
def test_we_read_what_kombu_writes(value: Any) -> None:
    assert _json.loads(kombu_json.dumps(value)) == value


def test_uuid_travels_as_a_hex_object_like_kombu() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")

    assert _json.dumps(value) == (
        b'{"__type__": "uuid", "__value__": '
        b'{"hex": "12345678123456781234567812345678"}}'
    )


def test_uuid_envelope_with_a_plain_string_decodes() -> None:
    text = '{"__type__": "uuid", "__value__": "12345678-1234-5678-1234-567812345678"}'

    assert _json.loads(text) == uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_non_utf8_bytes_travel_as_base64() -> None:
    assert _json.dumps(b"\xff") == b'{"__type__": "base64", "__value__": "/w=="}'


def test_datetime_subclass_uses_the_datetime_envelope() -> None:
    class Stamp(datetime):
        pass

    stamp = Stamp(2024, 5, 6, 7, 8, 9)

    assert _json.loads(_json.dumps(stamp)) == datetime(2024, 5, 6, 7, 8, 9)


def test_object_with_dunder_json_is_encoded_as_its_result() -> None:
    class Point:
        def __json__(self) -> dict[str, int]:
            return {"x": 1, "y": 2}

    assert _json.loads(_json.dumps(Point())) == {"x": 1, "y": 2}


def test_plain_dict_with_other_keys_is_not_an_envelope() -> None:
    data = {"__type__": "date", "__value__": "2024-01-02", "extra": 1}

    assert _json.loads(_json.dumps(data)) == data


def test_loads_accepts_str_bytes_bytearray_and_memoryview() -> None:
    payload = b'{"a": [1, 2]}'

    for data in (payload.decode(), payload, bytearray(payload), memoryview(payload)):
        assert _json.loads(data) == {"a": [1, 2]}


def test_unknown_type_raises_encode_error_naming_the_type() -> None:
    with pytest.raises(EncodeError, match="set is not JSON serializable"):
        _json.dumps({"ids": {1, 2}})


def test_circular_reference_raises_encode_error() -> None:
    loop: list[Any] = []
    loop.append(loop)

    with pytest.raises(EncodeError, match="Circular reference"):
        _json.dumps(loop)


def test_invalid_json_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match="invalid JSON body"):
        _json.loads(b'{"a": ')


def test_invalid_utf8_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        _json.loads(b'"\xff"')


def test_unknown_marker_raises_decode_error_naming_it() -> None:
    with pytest.raises(DecodeError, match="unknown JSON type marker 'money'"):
        _json.loads(b'{"__type__": "money", "__value__": 5}')


def test_non_string_marker_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown JSON type marker"):
        _json.loads(b'{"__type__": [1], "__value__": 5}')


def test_malformed_envelope_value_raises_decode_error() -> None:
    with pytest.raises(DecodeError, match="invalid JSON body"):
        _json.loads(b'{"__type__": "date", "__value__": "not a date"}')


def test_invalid_base64_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        _json.loads(b'{"__type__": "base64", "__value__": "@@@"}')


def test_registered_type_round_trips_in_an_envelope() -> None:
    codec = JSONCodec()
    codec.register_type(Money, "money", lambda m: m.cents, Money)

    assert codec.dumps(Money(250)) == b'{"__type__": "money", "__value__": 250}'
    assert codec.loads(codec.dumps(Money(250))) == Money(250)


def test_registered_type_without_marker_is_written_bare() -> None:
    codec = JSONCodec()
    codec.register_type(Money, None, lambda m: m.cents)

    assert codec.loads(codec.dumps({"price": Money(99)})) == {"price": 99}


def test_registered_type_without_decoder_decodes_to_the_encoded_value() -> None:
    codec = JSONCodec()
    codec.register_type(Money, "money", lambda m: m.cents)

    assert codec.loads(codec.dumps(Money(7))) == 7


def test_empty_marker_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="non-empty"):
        JSONCodec().register_type(Money, "", lambda m: m.cents)


def test_reset_forgets_registered_types() -> None:
    codec = JSONCodec()
    codec.register_type(Money, "money", lambda m: m.cents, Money)

    codec.reset()

    with pytest.raises(EncodeError):
        codec.dumps(Money(1))


def test_codecs_do_not_share_their_type_tables() -> None:
    JSONCodec().register_type(Money, "money", lambda m: m.cents, Money)

    with pytest.raises(EncodeError):
        _json.dumps(Money(1))


# -- properties -------------------------------------------------------------------

_naive_datetimes = st.datetimes()
_aware_datetimes = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(),
    st.integers(min_value=-23 * 60, max_value=23 * 60),
)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.binary(max_size=64)
    | _naive_datetimes
    | _aware_datetimes
    | st.dates()
    | st.times()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids()
)
_bodies = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text().filter(lambda key: key not in ("__type__", "__value__")),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@given(_bodies)
def test_round_trip_preserves_every_supported_value(body: Any) -> None:
    assert _json.loads(_json.dumps(body)) == body


@given(_bodies)
def test_kombu_and_kombu_lite_read_each_other(body: Any) -> None:
    assert kombu_json.loads(_json.dumps(body)) == body
    assert _json.loads(kombu_json.dumps(body)) == body


def test_kombus_import_path_registers_a_type_the_json_serializer_uses() -> None:
    lite_json.register_type(Money, "money", lambda m: m.cents, Money)
    try:
        with Connection("memory://") as conn:
            queue = Queue("money")
            conn.Producer(routing_key="money").publish(
                {"price": Money(250)}, declare=[queue]
            )
            message = queue.get(channel=conn.default_channel)

        assert message is not None
        assert message.body == b'{"price": {"__type__": "money", "__value__": 250}}'
        assert message.payload == {"price": Money(250)}
    finally:
        _json.codec.reset()


def test_kombus_import_path_dumps_str_as_kombu_does() -> None:
    value = {"when": datetime(2024, 5, 1, 12, 0), "raw": b"\xff"}

    assert lite_json.dumps(value) == kombu_json.dumps(value)
    assert lite_json.loads(lite_json.dumps(value)) == value
    assert lite_json.loads(memoryview(b"[1]")) == [1]


def test_an_unknown_type_names_the_public_way_to_register_it() -> None:
    with pytest.raises(EncodeError, match=r"kombu_lite\.utils\.json\.register_type"):
        _json.dumps(Money(1))
