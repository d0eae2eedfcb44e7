"""Producer.publish behaviour, the same on memory:// and RabbitMQ."""

from __future__ import annotations

import datetime
import json
import time
import zlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue, binding
from kombu_lite.exceptions import (
    ConfigurationError,
    EncodeError,
    NotFound,
    SerializerNotInstalled,
)
from kombu_lite.message import Message

from .conftest import RawMessage

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


def _only(raw_get: RawGet, name: str) -> RawMessage:
    raw = raw_get(name)
    assert raw is not None, f"no message in {name}"
    return raw


# -- properties on the wire ---------------------------------------------------------


def test_a_property_too_long_for_amqp_is_refused_and_nothing_is_sent(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    with pytest.raises(EncodeError, match="correlation_id is 300 bytes"):
        producer.publish({"n": 1}, correlation_id="c" * 300)
    producer.publish({"n": 2}, correlation_id="c" * 255)

    raw = _only(raw_get, queue.name)
    assert json.loads(raw.body) == {"n": 2}
    assert raw_get(queue.name) is None


def test_dict_body_goes_as_json_utf8(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"n": 1, "s": "é"})

    raw = _only(raw_get, queue.name)
    assert raw.properties["content_type"] == "application/json"
    assert raw.properties["content_encoding"] == "utf-8"
    assert json.loads(raw.body.decode("utf-8")) == {"n": 1, "s": "é"}


def test_str_body_goes_as_text_plain(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish("héllo")

    raw = _only(raw_get, queue.name)
    assert raw.properties["content_type"] == "text/plain"
    assert raw.body == "héllo".encode()


def test_bytes_body_goes_as_application_data_unchanged(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish(b"\x00\xff raw")

    raw = _only(raw_get, queue.name)
    assert raw.properties["content_type"] == "application/data"
    assert raw.properties["content_encoding"] == "binary"
    assert raw.body == b"\x00\xff raw"


def test_explicit_content_type_sends_the_body_as_is(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish("<a/>", content_type="application/xml")

    raw = _only(raw_get, queue.name)
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

    assert _only(raw_get, queue.name).properties["headers"] == {
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

    props = _only(raw_get, queue.name).properties
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

    raw = _only(raw_get, queue.name)
    assert json.loads(raw.body) == {"x": 1}
    assert "priority" not in raw.properties


def test_publish_many_takes_priority_none_as_no_priority(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    outcomes = producer.publish_many([{"n": 1}, {"n": 2}], priority=None)

    assert [outcome.ok for outcome in outcomes] == [True, True]
    first, second = _only(raw_get, queue.name), _only(raw_get, queue.name)
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

    assert _only(raw_get, queue.name).properties["delivery_mode"] == 1


def test_exchange_delivery_mode_is_the_default(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    assert queue.exchange is not None
    transient = Exchange(queue.exchange.name, delivery_mode="transient")
    Producer(connection, exchange=transient).publish({"x": 1}, routing_key="rk")

    assert _only(raw_get, queue.name).properties["delivery_mode"] == 1


def test_reply_to_queue_is_sent_as_its_name(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"x": 1}, reply_to=queue)

    assert _only(raw_get, queue.name).properties["reply_to"] == queue.name


def test_zlib_compression_sets_the_header_and_compresses(
    producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    producer.publish({"big": "x" * 1000}, compression="zlib")

    raw = _only(raw_get, queue.name)
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


# -- routing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exchange_type", "binding_key", "routing_key", "routed"),
    [
        ("direct", "a.b", "a.b", True),
        ("direct", "a.b", "a.c", False),
        ("topic", "a.*", "a.b", True),
        ("topic", "a.*", "a.b.c", False),
        ("topic", "a.#", "a.b.c", True),
        ("topic", "a.#", "a", True),
        ("topic", "#", "anything.at.all", True),
        ("fanout", "ignored", "whatever", True),
    ],
)
def test_routing_by_exchange_type(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    raw_get: RawGet,
    exchange_type: str,
    binding_key: str,
    routing_key: str,
    routed: bool,
) -> None:
    exchange = Exchange(f"{unique}-x", type=exchange_type)
    queue = Queue(f"{unique}-q", exchange, routing_key=binding_key)
    cleanup(queue)
    producer = Producer(connection, exchange=exchange)

    producer.publish({"k": routing_key}, routing_key=routing_key, declare=[queue])

    assert (raw_get(queue.name) is not None) is routed


@pytest.mark.parametrize(
    ("x_match", "headers", "routed"),
    [
        ("all", {"a": 1, "b": 2}, True),
        ("all", {"a": 1}, False),
        ("any", {"a": 1}, True),
        ("any", {"c": 3}, False),
    ],
)
def test_headers_exchange_matches_all_or_any(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    raw_get: RawGet,
    x_match: str,
    headers: dict[str, Any],
    routed: bool,
) -> None:
    exchange = Exchange(f"{unique}-x", type="headers")
    queue = Queue(
        f"{unique}-q",
        exchange,
        binding_arguments={"x-match": x_match, "a": 1, "b": 2},
    )
    cleanup(queue)

    Producer(connection, exchange=exchange).publish(
        {"x": 1}, headers=headers, declare=[queue]
    )

    assert (raw_get(queue.name) is not None) is routed


@pytest.mark.parametrize(
    ("bound", "sent", "routed"),
    [
        (Decimal("1.50"), Decimal("1.50"), True),  # same scale and digits
        (Decimal("1.50"), Decimal("1.5"), False),  # another scale on the wire
        (b"v", "v", True),  # both are AMQP long strings
        ((1, 2), [1, 2], True),  # both are arrays
        (1, 1.0, True),  # numbers compare by value
        (1, True, False),  # a boolean is not a number
        (
            datetime.datetime(2024, 1, 2, 3, 4, 5),
            datetime.datetime(2024, 1, 2, 3, 4, 5, 999999),  # seconds on the wire
            True,
        ),
        (
            datetime.datetime(2024, 1, 2, 3, 4, 5),  # naive: taken as UTC
            datetime.datetime(
                2024,
                1,
                2,
                5,
                4,
                5,
                tzinfo=datetime.timezone(datetime.timedelta(hours=2)),
            ),
            True,
        ),
    ],
    ids=[
        "decimal",
        "decimal-scale",
        "bytes-str",
        "tuple-list",
        "int-float",
        "bool",
        "time",
        "time-zone",
    ],
)
def test_headers_exchange_compares_values_as_sent_on_the_wire(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    raw_get: RawGet,
    bound: object,
    sent: object,
    routed: bool,
) -> None:
    exchange = Exchange(f"{unique}-x", type="headers")
    queue = Queue(f"{unique}-q", exchange, binding_arguments={"k": bound})
    cleanup(queue)

    Producer(connection, exchange=exchange).publish(
        {"x": 1}, headers={"k": sent}, declare=[queue]
    )

    assert (raw_get(queue.name) is not None) is routed


def test_headers_exchange_reads_a_bytes_header_name_as_text(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    exchange = Exchange(f"{unique}-x", type="headers")
    queue = Queue(f"{unique}-q", exchange, binding_arguments={"k": 1})
    cleanup(queue)

    Producer(connection, exchange=exchange).publish(
        {"x": 1}, headers={b"k": 1}, declare=[queue]
    )

    assert raw_get(queue.name) is not None


def test_queue_with_two_bindings_under_one_name_gets_both(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    exchange = Exchange(f"{unique}-x")
    first = Queue(f"{unique}-q", exchange, routing_key="k1")
    second = Queue(f"{unique}-q", exchange, routing_key="k2")
    cleanup(first)
    producer = Producer(connection, exchange=exchange)

    producer.publish({"n": 1}, routing_key="k1", declare=[first])
    producer.publish({"n": 2}, routing_key="k2", declare=[second])

    assert json.loads(_only(raw_get, first.name).body) == {"n": 1}
    assert json.loads(_only(raw_get, first.name).body) == {"n": 2}


# -- the declare cache ----------------------------------------------------------------


def test_entities_are_declared_once_per_connection(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    declared: list[str] = []
    queue = Queue(
        f"{unique}-q",
        Exchange(f"{unique}-x"),
        routing_key="rk",
        on_declared=lambda name, *_: declared.append(name),
    )
    cleanup(queue)
    producer = connection.Producer()

    for _ in range(3):
        producer.publish(
            {"x": 1}, exchange=queue.exchange, routing_key="rk", declare=[queue]
        )

    assert declared == [queue.name]


def test_entities_are_declared_again_after_a_reconnect(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    declared: list[str] = []
    queue = Queue(
        f"{unique}-q",
        on_declared=lambda name, *_: declared.append(name),
    )
    cleanup(queue)
    producer = connection.Producer()
    producer.publish({"x": 1}, routing_key=queue.name, declare=[queue])

    connection.release()
    producer.revive(connection)  # its old channel closed with the connection
    producer.publish({"x": 2}, routing_key=queue.name, declare=[queue])

    assert declared == [queue.name, queue.name]


def test_a_binding_whose_routing_key_is_edited_is_declared_again(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    exchange = Exchange(f"{unique}-x")
    bound = binding(exchange, routing_key="k1")
    queue = Queue(f"{unique}-q", bindings=[bound])
    cleanup(queue)
    cleanup(exchange)
    producer = Producer(connection, exchange=exchange)
    producer.publish({"n": 1}, routing_key="k1", declare=[queue])

    bound.routing_key = "k2"
    producer.publish({"n": 2}, routing_key="k2", declare=[queue])

    assert json.loads(_only(raw_get, queue.name).body) == {"n": 1}
    assert json.loads(_only(raw_get, queue.name).body) == {"n": 2}


def test_a_binding_whose_arguments_are_edited_in_place_is_declared_again(
    connection: Connection, unique: str, cleanup: Cleanup, raw_get: RawGet
) -> None:
    exchange = Exchange(f"{unique}-x", type="headers")
    bound = binding(exchange, arguments={"x-match": "all", "kind": "a"})
    queue = Queue(f"{unique}-q", bindings=[bound])
    cleanup(queue)
    cleanup(exchange)
    producer = Producer(connection, exchange=exchange)
    producer.publish({"n": 1}, headers={"kind": "a"}, declare=[queue])

    assert bound.arguments is not None
    bound.arguments["kind"] = "b"
    producer.publish({"n": 2}, headers={"kind": "b"}, declare=[queue])

    assert json.loads(_only(raw_get, queue.name).body) == {"n": 1}
    assert json.loads(_only(raw_get, queue.name).body) == {"n": 2}


def test_a_dead_letter_exchange_renamed_in_place_is_declared_again(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    dead_letters = Exchange(f"{unique}-dlx-a")
    queue = Queue(f"{unique}-q", dead_letter_exchange=dead_letters)
    cleanup(queue)
    cleanup(Exchange(f"{unique}-dlx-a"))
    cleanup(Exchange(f"{unique}-dlx-b"))
    producer = connection.Producer()
    producer.publish({"n": 1}, routing_key=queue.name, declare=[queue])

    dead_letters.name = f"{unique}-dlx-b"
    producer.publish({"n": 2}, routing_key=queue.name, declare=[queue])

    Exchange(f"{unique}-dlx-b", passive=True).declare(
        channel=connection.default_channel
    )


def test_producer_auto_declares_its_named_exchange(
    connection: Connection, unique: str, cleanup: Cleanup
) -> None:
    exchange = Exchange(f"{unique}-x", type="topic")
    cleanup(exchange)

    Producer(connection, exchange=exchange).publish({"x": 1}, routing_key="a")

    Exchange(exchange.name, type="topic", passive=True).declare(
        channel=connection.default_channel
    )


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

    assert json.loads(_only(raw_get, queue.name).body) == {"after": "error"}


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
