"""Bad values are refused with a typed error before anything is sent.

Each case is one that RabbitMQ punishes (a NaN header closes the whole
connection with 541) or that used to escape as a plain ``ValueError``,
``OverflowError``, ``LookupError`` or ``UnicodeEncodeError``; the same on
memory:// and RabbitMQ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from kombu_lite import Connection, Exchange, Producer, Queue
from kombu_lite.exceptions import EncodeError

from .conftest import RawMessage

Cleanup = Callable[[Exchange | Queue], None]
RawGet = Callable[[str], RawMessage | None]

NAN = math.nan
INF = math.inf


@pytest.fixture
def queue(connection: Connection, unique: str, cleanup: Cleanup) -> Queue:
    """A declared queue, published to through the default exchange."""
    q = Queue(f"{unique}-q")
    cleanup(q)
    q.declare(channel=connection.default_channel)
    return q


@pytest.fixture
def producer(connection: Connection, queue: Queue) -> Producer:
    return Producer(connection, routing_key=queue.name)


def _still_works(connection: Connection, queue: Queue, raw_get: RawGet) -> None:
    """Nothing reached the queue; the connection and a new channel still work."""
    assert raw_get(queue.name) is None
    with connection.channel() as other:
        Producer(other, routing_key=queue.name).publish({"after": True})
    raw = raw_get(queue.name)
    assert raw is not None
    assert raw.body == b'{"after": true}'


# -- item 14: non-finite floats in headers ----------------------------------------


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"f": NAN}, "'f'"),
        ({"f": INF}, "'f'"),
        ({"f": -INF}, "'f'"),
        ({"ok": 1.5, "nested": {"deeper": {"f": NAN}}}, "'f'"),
        ({"in-a-list": [1, 2.0, INF]}, "'in-a-list'"),
        ({"in-a-tuple": ({"f": NAN},)}, "'f'"),
    ],
    ids=["nan", "inf", "-inf", "nested table", "list", "table in a tuple"],
)
def test_a_non_finite_float_header_is_refused_and_the_connection_survives(
    connection: Connection,
    producer: Producer,
    queue: Queue,
    raw_get: RawGet,
    headers: dict[str, Any],
    named: str,
) -> None:
    with pytest.raises(EncodeError, match=rf"header {named}.*(nan|inf)") as info:
        producer.publish({"n": 1}, headers=headers)

    assert "finite" in str(info.value)
    _still_works(connection, queue, raw_get)


def test_a_non_finite_float_header_is_refused_by_publish_many(
    connection: Connection, producer: Producer, queue: Queue, raw_get: RawGet
) -> None:
    [outcome] = producer.publish_many([{"n": 1}], headers={"f": NAN})

    assert isinstance(outcome.error, EncodeError)
    assert outcome.delivery_tag == 0
    _still_works(connection, queue, raw_get)


def test_a_non_finite_float_header_is_refused_by_exchange_publish(
    connection: Connection, queue: Queue, raw_get: RawGet
) -> None:
    exchange = Exchange("", channel=connection)
    message = exchange.Message(b"x", headers={"f": INF})

    with pytest.raises(EncodeError, match="header 'f'"):
        exchange.publish(message, routing_key=queue.name)

    _still_works(connection, queue, raw_get)
