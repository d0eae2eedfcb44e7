"""Producer.publish behaviour, the same on memory:// and RabbitMQ.

The message's properties, errors raised before sending, the broker's
refusals and expiration; routing and declaring are in
``test_publish_topology.py``.
"""

from __future__ import annotations

import datetime
import json
import time
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.exceptions import (
    ConfigurationError,
    EncodeError,
    NotFound,
    SerializerNotInstalled,
)
from kombu_lite.message import Message

from .conftest import RawMessage, only_message

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue bound to its own direct exchange with key 'rk'."""
    q = Queue(f"{unique}-q", Exchange(f"{unique}-x"), routing_key="rk")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    assert queue.exchange is not None
    return Producer(connection, exchange=queue.exchange, routing_key="rk")


# -- properties on the wire ---------------------------------------------------------


def test_a_property_too_long_for_amqp_is_refused_and_nothing_is_sent(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    with pytest.raises(EncodeError, match="correlation_id is 300 bytes"):
        producer.publish({"n": 1}, correlation_id="c" * 300)
    producer.publish({"n": 2}, correlation_id="c" * 255)

    raw = only_message(raw_get, queue.name)
    assert json.loads(raw.body) == {"n": 2}
    assert raw_get(queue.name) is None


def test_dict_body_goes_as_json_utf8(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1, "s": "é"})

    raw = only_message(raw_get, queue.name)
    assert raw.properties["content_type"] == "application/json"
    assert raw.properties["content_encoding"] == "utf-8"
    assert json.loads(raw.body.decode("utf-8")) == {"n": 1, "s": "é"}


def test_str_body_goes_as_text_plain(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish("héllo")

    raw = only_message(raw_get, queue.name)
    assert raw.properties["content_type"] == "text/plain"
    assert raw.body == "héllo".encode()


def test_bytes_body_goes_as_application_data_unchanged(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish(b"\x00\xff raw")

    raw = only_message(raw_get, queue.name)
    assert raw.properties["content_type"] == "application/data"
    assert raw.properties["content_encoding"] == "binary"
    assert raw.body == b"\x00\xff raw"


def test_explicit_content_type_sends_the_body_as_is(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish("<a/>", content_type="application/xml")

    raw = only_message(raw_get, queue.name)
    assert raw.properties["content_type"] == "application/xml"
    assert raw.properties["content_encoding"] == "utf-8"
    assert raw.body == b"<a/>"


def test_header_values_come_back_as_the_wire_carries_them(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    stamp = datetime.datetime(
        2024,
        1,
        2,
        3,
        4,
        5,
        678901,
        tzinfo=datetime.timezone(datetime.timedelta(hours=2)),
    )
    producer.publish(
        {"x": 1},
        headers={
            "text-bytes": b"abc",
            "raw-bytes": b"\xff\x00",
            b"bytes-name": 1,
            "when": stamp,
            "amount": Decimal("1.50"),
            "pair": (1, 2),
            "nested": {"list": [b"y", (True, None)]},
            "big": 2**40,
        },
    )

    assert only_message(raw_get, queue.name).properties["headers"] == {
        "text-bytes": "abc",
        "raw-bytes": b"\xff\x00",
        "bytes-name": 1,
        "when": datetime.datetime(2024, 1, 2, 1, 4, 5),  # UTC, whole seconds
        "amount": Decimal("1.5"),
        "pair": [1, 2],
        "nested": {"list": ["y", [True, None]]},
        "big": 2**40,
    }


def test_amqp_properties_reach_the_broker(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish(
        {"x": 1},
        headers={"h": "v", "n": 2},
        correlation_id="corr-1",
        reply_to="replies",
        message_id="mid-1",
        timestamp=1_700_000_000,
        type="task",
        app_id="tests",
        user_id="guest",
        expiration=30,
        priority=5,
    )

    props = only_message(raw_get, queue.name).properties
    assert props["headers"] == {"h": "v", "n": 2}
    assert props["correlation_id"] == "corr-1"
    assert props["reply_to"] == "replies"
    assert props["message_id"] == "mid-1"
    assert props["type"] == "task"
    assert props["app_id"] == "tests"
    assert props["user_id"] == "guest"
    assert props["expiration"] == "30000"
    assert props["priority"] == 5
    assert props["delivery_mode"] == 2


def test_priority_none_is_accepted_and_sends_no_priority(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"x": 1}, priority=None)

    raw = only_message(raw_get, queue.name)
    assert json.loads(raw.body) == {"x": 1}
    assert "priority" not in raw.properties


def test_publish_many_takes_priority_none_as_no_priority(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    outcomes = producer.publish_many([{"n": 1}, {"n": 2}], priority=None)

    assert [outcome.ok for outcome in outcomes] == [True, True]
    first, second = only_message(raw_get, queue.name), only_message(raw_get, queue.name)
    assert [json.loads(first.body), json.loads(second.body)] == [{"n": 1}, {"n": 2}]
    assert "priority" not in first.properties
    assert "priority" not in second.properties


def test_timestamp_property_round_trips(
    producer: Producer, queue: Queue, connection: Connection
) -> None:
    producer.publish({"x": 1}, timestamp=1_700_000_000)

    message = queue.get(channel=connection.default_channel)
    assert message is not None
    assert message.properties["timestamp"] == 1_700_000_000


def test_transient_delivery_mode_by_name(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"x": 1}, delivery_mode="transient")

    assert only_message(raw_get, queue.name).properties["delivery_mode"] == 1


def test_exchange_delivery_mode_is_the_default(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    assert queue.exchange is not None
    transient = Exchange(queue.exchange.name, delivery_mode="transient")
    Producer(connection, exchange=transient).publish({"x": 1}, routing_key="rk")

    assert only_message(raw_get, queue.name).properties["delivery_mode"] == 1


def test_reply_to_queue_is_sent_as_its_name(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"x": 1}, reply_to=queue)

    assert only_message(raw_get, queue.name).properties["reply_to"] == queue.name


def test_zlib_compression_sets_the_header_and_compresses(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"big": "x" * 1000}, compression="zlib")

    raw = only_message(raw_get, queue.name)
    assert raw.properties["headers"]["compression"] == "application/x-gzip"
    assert json.loads(zlib.decompress(raw.body)) == {"big": "x" * 1000}


def test_compressed_message_decodes_on_get(
    producer: Producer, queue: Queue, connection: Connection
) -> None:
    producer.publish({"big": "y" * 500}, compression="bzip2")

    message = queue.get(channel=connection.default_channel)
    assert message is not None
    assert message.decode() == {"big": "y" * 500}


def test_publish_never_mutates_the_callers_headers_or_declare(
    producer: Producer, queue: Queue
) -> None:
    headers = {"a": 1}
    declare = [queue]

    producer.publish({"x": 1}, headers=headers, compression="zlib", declare=declare)

    assert headers == {"a": 1}
    assert declare == [queue]


# -- errors before anything is sent --------------------------------------------


def test_unknown_serializer_raises_before_declaring(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    declared: list[str] = []
    queue = Queue(f"{unique}-q", on_declared=lambda name, *_: declared.append(name))
    cleanup(queue)

    with pytest.raises(SerializerNotInstalled, match="nope"):
        connection.Producer().publish(
            {"x": 1}, serializer="nope", routing_key=queue.name, declare=[queue]
        )

    assert declared == []


def test_unencodable_body_raises_encode_error_and_sends_nothing(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    with pytest.raises(EncodeError):
        producer.publish({"x": object()})

    assert raw_get(queue.name) is None


def test_immediate_is_refused_with_a_clear_error(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    with pytest.raises(ConfigurationError, match="immediate"):
        producer.publish({"x": 1}, immediate=True)

    assert raw_get(queue.name) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delivery_mode": 3},
        {"delivery_mode": "durable"},
        {"priority": 256},
        {"expiration": -1},
        {"compression": "snappy"},
        {"correlation": "typo"},
        {"retry": True, "retry_policy": {"max_retires": 3}},
    ],
    ids=lambda kw: ",".join(kw),
)
def test_bad_arguments_raise_before_sending(
    producer: Producer, queue: Queue, raw_get: RawGet, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        producer.publish({"x": 1}, **kwargs)

    assert raw_get(queue.name) is None


# -- broker refusals ----------------------------------------------------------------


def _publish_then_sync(producer: Producer, exchange: str) -> None:
    producer.publish({"x": 1}, exchange=exchange, routing_key="k")
    # RabbitMQ reports a missing exchange asynchronously: the next
    # synchronous call on the channel raises it (memory:// raises at once).
    producer.channel.queue_declare("", exclusive=True)


def test_publish_to_a_missing_exchange_raises_not_found(
    connection: Connection, unique: str
) -> None:
    producer = connection.Producer()

    with pytest.raises(NotFound, match=f"{unique}-missing"):
        _publish_then_sync(producer, f"{unique}-missing")


def test_producer_recovers_after_a_channel_error(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    unique: str,
    raw_get: RawGet,
) -> None:
    with pytest.raises(NotFound):
        _publish_then_sync(producer, f"{unique}-missing")

    producer.publish({"after": "error"})

    assert json.loads(only_message(raw_get, queue.name).body) == {"after": "error"}


def test_mandatory_unroutable_message_goes_to_on_return(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-x")
    cleanup(exchange)
    returned: list[tuple[BaseException, str, str, Message]] = []
    producer = Producer(
        connection,
        exchange=exchange,
        on_return=lambda *args: returned.append(args),
    )

    producer.publish({"x": 1}, routing_key="nowhere", mandatory=True)
    connection.drain_events(timeout=5)

    exc, exchange_name, routing_key, message = returned[0]
    assert "NO_ROUTE" in str(exc)
    assert (exchange_name, routing_key) == (exchange.name, "nowhere")
    assert message.decode() == {"x": 1}


# -- expiration ------------------------------------------------------------------------


def test_expired_message_is_dropped_by_the_broker(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"x": 1}, expiration=0.05)
    time.sleep(0.3)  # the TTL itself is what is tested: time has to pass

    assert raw_get(queue.name) is None
