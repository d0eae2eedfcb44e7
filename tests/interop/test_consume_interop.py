"""Consuming across libraries on RabbitMQ, with every property intact.

kombu_lite's :class:`~kombu_lite.Consumer` and :class:`~kombu_lite.SimpleQueue`
receive what kombu and pika publish; kombu's and pika's consumers receive
what kombu_lite publishes.  tests/interop/test_kombu_pika.py covers the
one-message ``get`` paths; here the messages go through consumers
(``basic.consume``), with all fourteen AMQP properties and headers of every
field-table type.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import kombu_lite
from kombu_lite import Message
from kombu_lite.exceptions import ContentDisallowed

pytestmark = [pytest.mark.broker, pytest.mark.interop]

PIKA_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

#: Header values of every field-table type both sides can write and read.
#: (pika can neither write nor read floats: it truncates them to ints.)
HEADERS: dict[str, Any] = {
    "text": "héllo wörld",
    "small": 7,
    "negative": -3,
    "large": 2**40,
    "flag": True,
    "nothing": None,
    "list": [1, "two", {"three": 3}],
    "nested": {"a": {"b": "c"}},
    "decimal": decimal.Decimal("12.50"),
    "when": datetime.datetime(2026, 11, 25, 12, 0, 0),
    "bytes": b"\x00\xff binary",
}

#: The properties other than content type and encoding, as sent.
PROPERTIES: dict[str, Any] = {
    "priority": 5,
    "correlation_id": "corr-7",
    "reply_to": "replies",
    "message_id": "mid-7",
    "timestamp": 1764072000,
    "type": "task.run",
    "user_id": "guest",  # RabbitMQ refuses any other user id for guest
    "app_id": "interop-app",
    "cluster_id": "cluster-a",
}

BODY: dict[str, Any] = {
    "text": "é ü 中",
    "numbers": [1, 2.5, -3],
    "nested": {"ok": True},
}


@pytest.fixture
def queue_name(rabbitmq: str, unique: str) -> Iterator[str]:
    """A declared priority queue, deleted after the test."""
    name = f"{unique}-consume"
    with kombu_lite.Connection(rabbitmq) as conn:
        kombu_lite.Queue(name, max_priority=10).declare(channel=conn.default_channel)
        yield name
        conn.default_channel.queue_delete(name)


@pytest.fixture
def consume_lite(
    rabbitmq: str, queue_name: str
) -> Iterator[Callable[..., list[Message]]]:
    """Consume ``count`` messages from the queue with a kombu_lite Consumer.

    The prefetch count keeps the broker from sending more than ``count``,
    so later messages wait in the queue for the next call.
    """
    conn = kombu_lite.Connection(rabbitmq)

    def consume(count: int = 1, **options: Any) -> list[Message]:
        received: list[Message] = []
        queue = kombu_lite.Queue(queue_name, max_priority=10)
        with conn.Consumer(
            queue, on_message=received.append, prefetch_count=count, **options
        ):
            while len(received) < count:
                conn.drain_events(timeout=5)
        for message in received:
            message.ack()
        return received

    yield consume
    conn.release()


def publish_with_pika(queue: str, body: bytes, **properties: Any) -> None:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(PIKA_URL))
    try:
        conn.channel().basic_publish(
            "", queue, body, pika.BasicProperties(**properties)
        )
    finally:
        conn.close()


def consume_with_pika(queue: str) -> tuple[Any, Any, bytes]:
    """Return ``(method, properties, body)`` of one message, via basic.consume."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(PIKA_URL))
    received: list[tuple[Any, Any, bytes]] = []
    try:
        channel = conn.channel()
        channel.basic_qos(prefetch_count=1)

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            received.append((method, props, body))
            ch.basic_ack(method.delivery_tag)
            ch.stop_consuming()

        channel.basic_consume(queue, on_message)
        channel.start_consuming()
    finally:
        conn.close()
    return received[0]


def consume_with_kombu(url: str, queue: str) -> tuple[Any, Any]:
    """Return ``(body, message)`` of one message, via a kombu Consumer."""
    import kombu

    received: list[tuple[Any, Any]] = []

    def on_message(body: Any, message: Any) -> None:
        received.append((body, message))
        message.ack()

    with (
        kombu.Connection(url) as conn,
        conn.Consumer(
            kombu.Queue(queue, max_priority=10),
            callbacks=[on_message],
            accept=["json"],
            prefetch_count=1,
        ),
    ):
        conn.drain_events(timeout=5)
    return received[0]


# -- kombu_lite consumes ------------------------------------------------------------


def test_kombu_lite_consumes_every_property_pika_sets(
    queue_name: str, consume_lite: Callable[..., list[Message]]
) -> None:
    publish_with_pika(
        queue_name,
        b'{"from": "pika", "text": "\xc3\xa9"}',
        content_type="application/json",
        content_encoding="utf-8",
        headers=HEADERS,
        delivery_mode=2,
        expiration="60000",
        **PROPERTIES,
    )

    (message,) = consume_lite(tag_prefix="interop-")

    assert message.payload == {"from": "pika", "text": "é"}
    assert message.headers == HEADERS
    assert message.properties == {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "headers": HEADERS,
        "delivery_mode": 2,
        "expiration": "60000",
        **PROPERTIES,
    }
    assert message.delivery_info["exchange"] == ""
    assert message.delivery_info["routing_key"] == queue_name
    assert message.delivery_info["consumer_tag"].startswith("interop-")
    assert not message.redelivered


def test_a_pika_message_without_content_type_arrives_as_bytes(
    queue_name: str, consume_lite: Callable[..., list[Message]]
) -> None:
    body = bytes(range(256))
    publish_with_pika(queue_name, body)

    (message,) = consume_lite()

    assert message.content_type is None
    assert message.body == body
    assert message.payload == body


#: The ``compression`` header kombu writes for each method.
COMPRESSION_TYPES = {"zlib": "application/x-gzip", "bzip2": "application/x-bz2"}


@pytest.mark.parametrize("compression", [None, "zlib", "bzip2"])
def test_kombu_lite_consumes_every_property_kombu_sets(
    rabbitmq: str,
    queue_name: str,
    consume_lite: Callable[..., list[Message]],
    compression: str | None,
) -> None:
    import kombu

    with kombu.Connection(rabbitmq) as conn:
        conn.Producer(routing_key=queue_name).publish(
            BODY,
            compression=compression,
            headers={**HEADERS, "ratio": 0.25},
            delivery_mode=2,
            expiration=60,
            **PROPERTIES,
        )

    (message,) = consume_lite()

    assert message.payload == BODY
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    if compression is not None:
        assert message.headers.pop("compression") == COMPRESSION_TYPES[compression]
    assert message.headers == {**HEADERS, "ratio": 0.25}
    assert message.delivery_mode == 2
    assert message.properties["expiration"] == "60000"
    for name, value in PROPERTIES.items():
        assert message.properties[name] == value, name


def test_a_pickled_kombu_message_is_refused_unless_accepted(
    rabbitmq: str,
    queue_name: str,
    consume_lite: Callable[..., list[Message]],
) -> None:
    import kombu

    with kombu.Connection(rabbitmq) as conn:
        producer = conn.Producer(routing_key=queue_name, serializer="pickle")
        producer.publish({"n": 1})
        producer.publish({"n": 2})

    refused, accepted = consume_lite(), consume_lite(accept=["pickle"])

    with pytest.raises(ContentDisallowed):
        refused[0].decode()
    assert accepted[0].payload == {"n": 2}


def test_the_consumer_loop_raises_on_a_kombu_message_it_may_not_decode(
    rabbitmq: str,
    queue_name: str,
    consume_lite: Callable[..., list[Message]],
) -> None:
    import kombu

    with kombu.Connection(rabbitmq) as conn:
        producer = conn.Producer(routing_key=queue_name)
        producer.publish({"n": 1}, serializer="pickle")
        producer.publish({"n": 2})
    bodies: list[Any] = []

    # As kombu's consumer does: the refusal is raised out of drain_events,
    # the message stays unacknowledged, and the loop may go on.
    with (
        kombu_lite.Connection(rabbitmq) as lite,
        lite.Consumer(
            kombu_lite.Queue(queue_name, max_priority=10),
            callbacks=[lambda body, message: (bodies.append(body), message.ack())],
        ),
    ):
        with pytest.raises(ContentDisallowed, match="x-python-serialize"):
            lite.drain_events(timeout=5)
        while not bodies:
            lite.drain_events(timeout=5)

    assert bodies == [{"n": 2}]
    assert consume_lite(accept=["pickle"])[0].payload == {"n": 1}


# -- kombu and pika consume ------------------------------------------------------------


def test_kombus_consumer_receives_every_property_kombu_lite_sets(
    rabbitmq: str, queue_name: str
) -> None:
    headers = {**HEADERS, "ratio": 0.25}
    with kombu_lite.Connection(rabbitmq) as conn:
        conn.Producer(routing_key=queue_name).publish(
            BODY, headers=headers, delivery_mode=2, expiration=60, **PROPERTIES
        )

    body, message = consume_with_kombu(rabbitmq, queue_name)

    assert body == BODY
    assert message.content_type == "application/json"
    assert message.content_encoding == "utf-8"
    assert message.headers == headers
    assert message.properties["delivery_mode"] == 2
    assert message.properties["expiration"] == "60000"
    for name, value in PROPERTIES.items():
        assert message.properties[name] == value, name
    assert message.delivery_info["routing_key"] == queue_name
    assert not message.delivery_info["redelivered"]


def test_pikas_consumer_receives_every_property_kombu_lite_sets(
    rabbitmq: str, queue_name: str
) -> None:
    with kombu_lite.Connection(rabbitmq) as conn:
        conn.Producer(routing_key=queue_name).publish(
            BODY, headers=HEADERS, delivery_mode=2, expiration=60, **PROPERTIES
        )

    method, props, body = consume_with_pika(queue_name)

    assert kombu_lite.serialization.loads(body, "application/json", "utf-8") == BODY
    assert method.routing_key == queue_name
    assert not method.redelivered
    assert props.content_type == "application/json"
    assert props.content_encoding == "utf-8"
    assert props.delivery_mode == 2
    assert props.expiration == "60000"
    for name, value in PROPERTIES.items():
        assert getattr(props, name) == value, name
    # pika reads timestamps in headers as aware UTC datetimes.
    expected = {**HEADERS, "when": HEADERS["when"].replace(tzinfo=datetime.UTC)}
    assert props.headers == expected


def test_pika_receives_a_text_body_from_kombu_lite_unchanged(
    rabbitmq: str, queue_name: str
) -> None:
    with kombu_lite.Connection(rabbitmq) as conn:
        conn.Producer(routing_key=queue_name).publish("line one\nline two ✓")

    _, props, body = consume_with_pika(queue_name)

    assert body.decode("utf-8") == "line one\nline two ✓"
    assert props.content_type == "text/plain"
    assert props.content_encoding == "utf-8"


# -- SimpleQueue ------------------------------------------------------------------


@pytest.fixture
def simple_name(rabbitmq: str, unique: str) -> Iterator[str]:
    """A name for SimpleQueues; the queue and its exchange are deleted after."""
    name = f"{unique}-simple-interop"
    yield name
    with kombu_lite.Connection(rabbitmq) as conn:
        conn.default_channel.queue_delete(name)
        conn.default_channel.exchange_delete(name)


def test_kombu_lite_simple_queue_gets_what_kombus_simple_queue_puts(
    rabbitmq: str, simple_name: str
) -> None:
    import kombu

    with kombu.Connection(rabbitmq) as conn, conn.SimpleQueue(simple_name) as queue:
        queue.put(BODY, headers={"h": "v"}, priority=3, correlation_id="sq-1")

    with (
        kombu_lite.Connection(rabbitmq) as lite,
        lite.SimpleQueue(simple_name) as simple,
    ):
        message = simple.get(timeout=5)
        message.ack()

    assert message.payload == BODY
    assert message.headers == {"h": "v"}
    assert message.priority == 3
    assert message.correlation_id == "sq-1"
    assert message.delivery_mode == 2


def test_kombus_simple_queue_gets_what_kombu_lite_puts(
    rabbitmq: str, simple_name: str
) -> None:
    import kombu

    with (
        kombu_lite.Connection(rabbitmq) as lite,
        lite.SimpleQueue(simple_name) as simple,
    ):
        simple.put(BODY, headers={"h": "v"}, priority=3, correlation_id="sq-2")

    with kombu.Connection(rabbitmq) as conn, conn.SimpleQueue(simple_name) as queue:
        message = queue.get(timeout=5)
        message.ack()

    assert message.payload == BODY
    assert message.headers == {"h": "v"}
    assert message.properties["priority"] == 3
    assert message.properties["correlation_id"] == "sq-2"
    assert message.properties["delivery_mode"] == 2
