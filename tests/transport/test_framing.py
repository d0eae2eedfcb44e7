"""The publish frames are valid AMQP, checked by readers that are not ours.

:class:`~kombu_lite.transport.pyamqp.framing.PublishFramer` builds the
``basic.publish`` frames itself instead of going through py-amqp.  These
tests read its bytes back with pika's frame decoder and with py-amqp's
frame reader, and compare them with what py-amqp's own frame writer
produces for the same message, over generated properties and over body
sizes around ``frame_max``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import amqp
import pika.frame
import pika.spec
import pytest
from amqp import spec as amqp_spec
from amqp.method_framing import frame_handler, frame_writer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kombu_lite.exceptions import EncodeError
from kombu_lite.transport.base import BasicProperties, ConnectionParameters
from kombu_lite.transport.pyamqp import PyAmqpTransport
from kombu_lite.transport.pyamqp.framing import (
    FRAME_OVERHEAD,
    PublishFramer,
    encode_properties,
    writer_for,
)

#: A frame_max small enough that hypothesis crosses it often.
SMALL_FRAME_MAX = 4096
CHUNK = SMALL_FRAME_MAX - FRAME_OVERHEAD

_settings = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# py-amqp and pika both encode short strings as UTF-8: no lone surrogates.
_short = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=60
)
_octet = st.integers(0, 255)
_header_values = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.booleans(),
)
_headers = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12),
    _header_values,
    max_size=5,
)
_properties = st.builds(
    BasicProperties,
    content_type=st.none() | _short,
    content_encoding=st.none() | _short,
    headers=st.none() | _headers,
    delivery_mode=st.none() | st.sampled_from([1, 2]),
    priority=st.none() | _octet,
    correlation_id=st.none() | _short,
    reply_to=st.none() | _short,
    expiration=st.none() | st.integers(0, 10**9).map(str),
    message_id=st.none() | _short,
    timestamp=st.none() | st.integers(0, 2**63),
    type=st.none() | _short,
    user_id=st.none() | _short,
    app_id=st.none() | _short,
    cluster_id=st.none() | _short,
)
#: Body sizes around one and two frames' worth of payload.
_around_frame_max = st.sampled_from(
    [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]
)
_body_sizes = _around_frame_max | st.integers(0, 3 * CHUNK + 7)


def _body(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


@dataclass
class _Captured:
    """What pika's decoder read: one publish."""

    channel: int
    method: Any
    body_size: int
    properties: Any
    frame_sizes: list[int] = field(default_factory=list)
    body: bytes = b""


def _pika_read(data: bytes) -> list[_Captured]:
    """Decode ``data`` frame by frame with pika; return the publishes."""
    messages: list[_Captured] = []
    offset = 0
    while offset < len(data):
        used, frame = pika.frame.decode_frame(data[offset:])
        assert used > 0, "pika found an incomplete frame"
        frame_size = used - FRAME_OVERHEAD
        offset += used
        if isinstance(frame, pika.frame.Method):
            assert isinstance(frame.method, pika.spec.Basic.Publish)
            messages.append(_Captured(frame.channel_number, frame.method, -1, None))
        elif isinstance(frame, pika.frame.Header):
            current = messages[-1]
            assert current.body_size == -1, "a second content header"
            current.body_size = frame.body_size
            current.properties = frame.properties
        else:
            assert isinstance(frame, pika.frame.Body)
            current = messages[-1]
            current.body += frame.fragment
        messages[-1].frame_sizes.append(frame_size)
    return messages


class _Sink:
    """Collects what py-amqp's frame writer writes."""

    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.data = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self.data += data


def _pyamqp_frames(
    body: bytes,
    properties: BasicProperties,
    exchange: str,
    routing_key: str,
    mandatory: bool,
    channel: int,
    frame_max: int,
) -> bytes:
    """The bytes py-amqp's own writer sends for the same publish."""
    sink = _Sink(frame_max)
    fields_ = properties.as_dict()
    if "headers" in fields_:
        fields_["application_headers"] = fields_.pop("headers")
    message = amqp.Message(body, **fields_)
    args = amqp.serialization.dumps(
        "Bssbb", (0, exchange, routing_key, mandatory, False)
    )
    frame_writer(sink, sink)(1, channel, amqp_spec.Basic.Publish, args, message)
    return bytes(sink.data)


def _pyamqp_read(data: bytes) -> list[tuple[int, Any, Any]]:
    """Read ``data`` with py-amqp's frame reader, as a broker would."""
    sink = _Sink(0)
    received: list[tuple[int, Any, Any]] = []

    def on_method(channel: int, method: Any, args: Any, message: Any) -> None:
        received.append((channel, method, message))

    # py-amqp's reader only expects content after server methods; tell it
    # basic.publish carries some too.
    read = frame_handler(
        sink, on_method, content_methods=frozenset({amqp_spec.Basic.Publish})
    )
    offset = 0
    while offset < len(data):
        kind, channel, size = amqp.serialization.unpack_from(">BHI", data, offset)
        payload = data[offset + 7 : offset + 7 + size]
        assert data[offset + 7 + size] == 0xCE
        read((kind, channel, payload))
        offset += size + FRAME_OVERHEAD
    return received


def _pika_fields(properties: Any) -> dict[str, object]:
    names = {field.name for field in fields(BasicProperties)}
    found = {
        name: getattr(properties, name)
        for name in names - {"headers"}
        if getattr(properties, name) is not None
    }
    if properties.headers is not None:
        found["headers"] = properties.headers
    return found


# -- independent readers -------------------------------------------------------------


@_settings
@given(
    properties=_properties,
    size=_body_sizes,
    exchange=_short,
    routing_key=_short,
    mandatory=st.booleans(),
    channel=st.integers(1, 65535),
)
@example(
    properties=BasicProperties(),
    size=0,
    exchange="",
    routing_key="",
    mandatory=False,
    channel=1,
)
def test_pika_reads_back_the_publish_as_sent(
    properties: BasicProperties,
    size: int,
    exchange: str,
    routing_key: str,
    mandatory: bool,
    channel: int,
) -> None:
    body = _body(size)
    data = PublishFramer(channel, SMALL_FRAME_MAX).encode(
        body, properties, exchange, routing_key, mandatory
    )

    [message] = _pika_read(data)

    assert message.channel == channel
    assert message.method.exchange == exchange
    assert message.method.routing_key == routing_key
    assert message.method.mandatory is mandatory
    assert message.method.immediate is False
    assert message.body_size == size
    assert message.body == body
    assert _pika_fields(message.properties) == properties.as_dict()


@_settings
@given(properties=_properties, size=_body_sizes)
def test_no_frame_is_larger_than_frame_max(
    properties: BasicProperties, size: int
) -> None:
    data = PublishFramer(7, SMALL_FRAME_MAX).encode(
        _body(size), properties, "ex", "rk", False
    )

    [message] = _pika_read(data)

    assert max(message.frame_sizes) <= SMALL_FRAME_MAX - FRAME_OVERHEAD
    # Method, header, then as few body frames as frame_max allows.
    assert len(message.frame_sizes) == 2 + -(-size // CHUNK)


@_settings
@given(properties=_properties, size=_body_sizes, routing_key=_short)
def test_pyamqp_reader_assembles_the_same_message(
    properties: BasicProperties, size: int, routing_key: str
) -> None:
    body = _body(size)
    data = PublishFramer(3, SMALL_FRAME_MAX).encode(
        body, properties, "orders", routing_key, True
    )

    [(channel, method, message)] = _pyamqp_read(data)

    assert (channel, method) == (3, amqp_spec.Basic.Publish)
    assert bytes(message.body or b"") == body  # py-amqp leaves "" when bodyless
    expected = properties.as_dict()
    if "headers" in expected:
        expected["application_headers"] = expected.pop("headers")
    assert message.properties == expected


@_settings
@given(
    properties=_properties,
    size=_body_sizes,
    exchange=_short,
    routing_key=_short,
    mandatory=st.booleans(),
)
def test_bytes_equal_pyamqps_own_writer(
    properties: BasicProperties,
    size: int,
    exchange: str,
    routing_key: str,
    mandatory: bool,
) -> None:
    body = _body(size)

    ours = PublishFramer(5, SMALL_FRAME_MAX).encode(
        body, properties, exchange, routing_key, mandatory
    )

    assert ours == _pyamqp_frames(
        body, properties, exchange, routing_key, mandatory, 5, SMALL_FRAME_MAX
    )


@pytest.mark.parametrize("size", [0, 1, 131_064, 131_065, 1_000_000])
def test_without_frame_max_the_body_is_one_frame(size: int) -> None:
    data = PublishFramer(1, 0).encode(_body(size), BasicProperties(), "", "q", False)

    [message] = _pika_read(data)

    assert message.body_size == size
    assert len(message.frame_sizes) == (3 if size else 2)


def test_an_empty_body_sends_no_body_frame() -> None:
    data = PublishFramer(1, SMALL_FRAME_MAX).encode(
        b"", BasicProperties(content_type="text/plain"), "", "q", False
    )

    [message] = _pika_read(data)

    assert message.body_size == 0
    assert len(message.frame_sizes) == 2


# -- the caches never hand out stale bytes -------------------------------------------


def test_each_properties_object_gets_its_own_header() -> None:
    framer = PublishFramer(1, SMALL_FRAME_MAX)
    first = BasicProperties(content_type="application/json", delivery_mode=2)
    second = BasicProperties(content_type="text/plain", delivery_mode=1)

    data = b"".join(
        framer.encode(b"x", props, "", "q", False) for props in (first, second, first)
    )

    read = [message.properties for message in _pika_read(data)]
    assert [(p.content_type, p.delivery_mode) for p in read] == [
        ("application/json", 2),
        ("text/plain", 1),
        ("application/json", 2),
    ]


def test_more_routing_keys_than_the_cache_holds_stay_correct() -> None:
    framer = PublishFramer(1, SMALL_FRAME_MAX)
    properties = BasicProperties()
    keys = [f"key-{n}" for n in range(1200)]

    data = b"".join(framer.encode(b"b", properties, "x", key, False) for key in keys)

    assert [m.method.routing_key for m in _pika_read(data)] == keys


def test_more_properties_objects_than_the_cache_holds_stay_correct() -> None:
    framer = PublishFramer(1, SMALL_FRAME_MAX)
    ids = [f"id-{n}" for n in range(300)]

    data = b"".join(
        framer.encode(b"b", BasicProperties(message_id=mid), "", "q", False)
        for mid in ids
    )

    assert [m.properties.message_id for m in _pika_read(data)] == ids


# -- values that do not fit are refused before anything is written -------------------


@pytest.mark.parametrize(
    ("properties", "fragment"),
    [
        (BasicProperties(content_type="x" * 256), "content_type"),
        (BasicProperties(message_id="é" * 128), "message_id"),
        (BasicProperties(priority=256), "priority"),
        (BasicProperties(delivery_mode=-1), "delivery_mode"),
        (BasicProperties(timestamp=-5), "timestamp"),
        (BasicProperties(timestamp=True), "timestamp"),  # type: ignore[arg-type]
        (BasicProperties(reply_to=42), "reply_to"),  # type: ignore[arg-type]
        (BasicProperties(headers={"h": object()}), "headers"),
    ],
)
def test_a_property_that_does_not_fit_is_an_encode_error(
    properties: BasicProperties, fragment: str
) -> None:
    with pytest.raises(EncodeError, match=fragment):
        encode_properties(properties)


def test_a_routing_key_over_255_bytes_is_an_encode_error() -> None:
    with pytest.raises(EncodeError, match="routing_key"):
        PublishFramer(1, SMALL_FRAME_MAX).encode(
            b"", BasicProperties(), "", "k" * 256, False
        )


def test_headers_larger_than_a_frame_are_an_encode_error() -> None:
    properties = BasicProperties(headers={"big": "v" * SMALL_FRAME_MAX})

    with pytest.raises(EncodeError, match="frame_max"):
        PublishFramer(1, SMALL_FRAME_MAX).encode(b"", properties, "", "q", False)


# -- the connection writer -----------------------------------------------------------


@pytest.fixture
def raw_connection(rabbitmq: str) -> Iterator[Any]:
    conn = PyAmqpTransport().connect(
        ConnectionParameters(
            hostname="127.0.0.1",
            port=5672,
            userid="guest",
            password="guest",
            virtual_host="/",
            connect_timeout=4.0,
        )
    )
    yield conn
    conn.close()


@pytest.mark.broker
def test_one_writer_per_connection_even_when_asked_at_once(
    raw_connection: Any,
) -> None:
    amqp_connection = raw_connection._conn
    found: list[object] = []
    start = threading.Barrier(4)

    def ask() -> None:
        start.wait()
        found.append(writer_for(amqp_connection))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(found) == 4
    assert all(writer is found[0] for writer in found)
    assert found[0].frame_max == amqp_connection.frame_max  # type: ignore[attr-defined]


@pytest.mark.broker
def test_pyamqp_frames_and_ours_share_the_write_lock(raw_connection: Any) -> None:
    amqp_connection = raw_connection._conn
    writer = writer_for(amqp_connection)
    outcome: list[bool] = []

    with writer.lock:
        # py-amqp's own frames (here a heartbeat) wait for our lock.
        sender = threading.Thread(
            target=lambda: outcome.append(
                bool(amqp_connection.send_heartbeat()) or True
            )
        )
        sender.start()
        sender.join(timeout=0.2)
        blocked = sender.is_alive()
    sender.join(timeout=5)

    assert blocked
    assert outcome == [True]
    channel = raw_connection.channel()
    assert channel.queue_declare("", exclusive=True).queue


@pytest.mark.broker
def test_a_refused_write_sends_nothing_and_says_so(raw_connection: Any) -> None:
    amqp_connection = raw_connection._conn
    writer = writer_for(amqp_connection)
    before = amqp_connection.bytes_sent
    asked: list[bool] = []

    def refused() -> bool:
        asked.append(writer.lock.locked())  # asked under the lock
        return True

    # Not even a valid frame: had it gone out, the broker would close the
    # connection before answering the declare below.
    assert writer.write(b"not a frame", refused) is False
    assert asked == [True]
    assert amqp_connection.bytes_sent == before
    assert raw_connection.channel().queue_declare("", exclusive=True).queue
