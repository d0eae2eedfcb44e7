"""Where Producer.publish sends a message: routing and declaring the topology.

Routing through the exchange types (direct, topic, fanout, headers) and
the entities a publish declares (``declare=[...]``, the producer's own
exchange) and when it declares them again.  The same on memory:// and
RabbitMQ.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue, binding

from .conftest import RawMessage, only_message

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]


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

    assert json.loads(only_message(raw_get, first.name).body) == {"n": 1}
    assert json.loads(only_message(raw_get, first.name).body) == {"n": 2}


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


@pytest.mark.parametrize(
    "forget",
    [
        pytest.param(lambda keys: keys.clear(), id="clear"),
        pytest.param(lambda keys: keys.difference_update(set(keys)), id="difference"),
        pytest.param(lambda keys: keys.discard(next(iter(keys))), id="discard"),
    ],
)
def test_a_key_removed_from_declared_entities_is_declared_again(
    connection: Connection,
    unique: str,
    cleanup: Cleanup,
    forget: Callable[[set[object]], None],
) -> None:
    # kombu's way to make a connection declare an entity again: take its
    # key out of declared_entities.  The producer's memo must notice.
    declared: list[str] = []
    queue = Queue(f"{unique}-q", on_declared=lambda name, *_: declared.append(name))
    cleanup(queue)
    producer = connection.Producer()
    producer.publish({"n": 1}, routing_key=queue.name, declare=[queue])
    producer.publish({"n": 2}, routing_key=queue.name, declare=[queue])

    forget(connection.declared_entities)
    producer.publish({"n": 3}, routing_key=queue.name, declare=[queue])

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

    assert json.loads(only_message(raw_get, queue.name).body) == {"n": 1}
    assert json.loads(only_message(raw_get, queue.name).body) == {"n": 2}


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

    assert json.loads(only_message(raw_get, queue.name).body) == {"n": 1}
    assert json.loads(only_message(raw_get, queue.name).body) == {"n": 2}


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
